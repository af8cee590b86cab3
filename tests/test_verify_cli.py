"""`connttra-neuro verify`: exit 0 when exact, 1 when a target differs (CI gate), 2 for usage errors."""

from __future__ import annotations

import json
import re
import sys
import warnings

import numpy as np
import pytest

from connttra_neuro.cli import main
from connttra_neuro.modelfile import save
from connttra_neuro.network import random_network
from hardware_targets import registry
from hardware_targets.reference import ReferenceTarget, forward


@pytest.fixture
def iris_model(tmp_path):
    # iris: 4 features, 3 classes; a random network is enough to compare targets with each other
    return str(save(random_network((4, 10, 3), levels=3, seed=0), tmp_path / "iris.ctn"))


@pytest.fixture
def faulty_registered(monkeypatch):
    monkeypatch.setitem(registry._TARGETS, "wrong-threshold", ("tests.networks", "SilentFirstLayer"))


def test_exact_targets_exit_0_and_write_reports(iris_model, tmp_path, capsys):
    out = tmp_path / "rep"
    code = main(["verify", iris_model, "--data", "iris", "--targets", "reference", "--out", str(out),
                 "--json", str(tmp_path / "p.json"), "--no-plots"])  # fmt: skip
    assert code == 0
    text, err = capsys.readouterr()
    assert "reference" in text and "exact" in text and "all targets exact" in text
    # stdout starts with the table, as the user guide shows it (`verify ... > out.txt` began with a blank line);
    # the blank line that parts it from the progress in a terminal is on stderr, beside that progress
    assert text.startswith("target ") and err.endswith("\n\n"), (text[:80], err[-80:])
    assert (out / "parity.json").exists() and (out / "parity.md").exists() and (out / "parity.html").exists()
    d = json.loads((tmp_path / "p.json").read_text())
    assert d["all_exact"] is True and d["dataset"] == "iris" and d["n_samples"] == 30


def test_a_model_and_its_nir_export_keep_their_own_default_reports(iris_model, tmp_path, monkeypatch, capsys):
    # both were reports/verify/iris/: verifying the export (as the README does next) replaced the model's report
    from connttra_neuro import load
    from hardware_targets.loihi2 import export_nir

    nir_path = export_nir(load(iris_model), tmp_path / "iris.nir")
    monkeypatch.chdir(tmp_path)
    for model in (iris_model, str(nir_path)):
        assert main(["verify", model, "--data", "iris", "--targets", "reference", "--no-plots"]) == 0
    reports = tmp_path / "reports" / "verify"
    assert sorted(p.name for p in reports.iterdir()) == ["iris", "iris.nir"]
    for name in ("iris", "iris.nir"):
        assert json.loads((reports / name / "parity.json").read_text())["all_exact"] is True


def test_mismatch_exits_1_and_names_the_layer(iris_model, tmp_path, capsys, faulty_registered):
    code = main(["verify", iris_model, "--data", "iris", "--targets", "reference,wrong-threshold",
                 "--out", str(tmp_path / "r"), "--no-plots"])  # fmt: skip
    assert code == 1
    text = capsys.readouterr().out
    assert "MISMATCH" in text and "wrong-threshold: hidden layer 0" in text


class TooSmall(ReferenceTarget):
    """Registered under a test name: refuses every network (a target limit), so it does not run."""

    name = "too-small"

    def check(self, network):
        from hardware_targets import TargetLimitError

        raise TargetLimitError(self.name, "neurons", "hidden layer 0", 10, 4, "use a smaller network")


def test_the_verdict_tells_a_target_that_differs_from_one_that_did_not_run(iris_model, tmp_path, capsys,
                                                                          faulty_registered, monkeypatch):
    monkeypatch.setitem(registry._TARGETS, "too-small", (__name__, "TooSmall"))
    code = main(["verify", iris_model, "--data", "iris", "--targets", "reference,wrong-threshold,too-small",
                 "--out", str(tmp_path / "r"), "--no-plots"])  # fmt: skip
    assert code == 1
    out, err = capsys.readouterr()
    assert "verify: MISMATCH: wrong-threshold; FAILED (did not run): too-small" in out  # the verdict: a result
    # said before any target runs, not only in the verdict after the others have run
    note = err.index("note: too-small cannot run this model (too-small: hidden layer 0: neurons is 10")
    assert note < err.index("verify: reference: compiling")
    assert "compiling" not in out  # progress on stderr, as deploy and evaluate print it: `verify > log` is the result


def test_no_data_is_read_when_no_chosen_target_can_run_the_model(iris_model, tmp_path, capsys, monkeypatch):
    """Every chosen target refused the model up front, yet verify loaded the data, ran the trained model on it
    and wrote a report of targets that did not run: 37 s and 600 MB for 60,000 Fashion-MNIST images on a
    loihi2 whose fan-in the model exceeds (0.8 s now), minutes for a wide model. Same verdict and exit status."""
    from connttra_neuro.cli import verify as verify_cli

    monkeypatch.setitem(registry._TARGETS, "too-small", (__name__, "TooSmall"))
    monkeypatch.setattr(verify_cli, "load_split", lambda *a, **k: pytest.fail("the data were read"))
    out_dir = tmp_path / "r"
    code = main(["verify", iris_model, "--data", "iris", "--targets", "too-small", "--out", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 1 and "verify: FAILED (did not run): too-small" in out
    assert "note: too-small cannot run this model (too-small: hidden layer 0: neurons is 10" in err
    assert "the others run" not in err and "nothing was run" in err and not out_dir.exists()


def test_json_to_stdout(iris_model, tmp_path, capsys, faulty_registered):
    code = main(["verify", iris_model, "--data", "iris", "--targets", "wrong-threshold", "--json", "-",
                 "--out", str(tmp_path / "r"), "--no-plots"])  # fmt: skip
    assert code == 1
    d = json.loads(capsys.readouterr().out)
    assert d["targets"][0]["first_differing_layer"] == "hidden layer 0"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--targets", "nonsense"], "unknown target(s) nonsense"),
        (["--targets", "reference", "--codegen", "cython"], "--codegen applies only to target brian2"),
        (["--targets", "reference", "--n", "0"], "--n must be a positive"),
    ],
)
def test_usage_errors_exit_2(iris_model, tmp_path, capsys, extra, message):
    code = main(["verify", iris_model, "--data", "iris", "--out", str(tmp_path / "r"), *extra])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_wrong_dataset_and_missing_model_exit_2(iris_model, tmp_path, capsys):
    assert main(["verify", iris_model, "--data", "digits", "--targets", "reference"]) == 2
    assert "expects 4 features" in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "none.ctn"), "--data", "iris"]) == 2
    assert "no such model file" in capsys.readouterr().err


def test_model_trained_on_labels_that_are_not_indices_is_scored_by_its_classes(tmp_path, capsys):
    # trained in Python on labels {0, 5, 9}: output c stands for classes[c] (metadata), and verify /
    # evaluate compare against the dataset's labels through that mapping
    import warnings

    import numpy as np
    from sklearn.datasets import load_iris

    from connttra_neuro.train import CoNNTrA

    X, y = load_iris(return_X_y=True)
    labels = np.array([0, 5, 9])[y]
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(y))
    tr, va = idx[:120], idx[120:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = CoNNTrA(hidden=(16,), levels=3, max_sweeps=5, random_state=0).fit(X[tr], labels[tr])
    save(est.network_, tmp_path / "gap.ctn")
    np.savez(tmp_path / "gap.npz", X_train=X[tr], y_train=labels[tr], X_val=X[va], y_val=labels[va])
    error = 1 - est.score(X[va], labels[va])
    assert main(["verify", str(tmp_path / "gap.ctn"), "--data", str(tmp_path / "gap.npz"), "--targets",
                 "reference", "--out", str(tmp_path / "rep"), "--json", str(tmp_path / "p.json"),
                 "--no-plots"]) == 0
    assert "stand for labels [0, 5, 9]" in capsys.readouterr().err
    report = json.loads((tmp_path / "p.json").read_text())
    assert report["software"]["error"] == pytest.approx(error)
    assert main(["evaluate", str(tmp_path / "gap.ctn"), "--data", str(tmp_path / "gap.npz"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["error"] == pytest.approx(error)
    # deploy maps the labels once too (verify would map them again without y_are_outputs: 26.67% for 90%)
    assert main(["deploy", str(tmp_path / "gap.ctn"), "--target", "reference", "--data",
                 str(tmp_path / "gap.npz")]) == 0
    accuracy = f"{100 * (1 - error):.2f}%"
    assert f"accuracy {accuracy} (trained model {accuracy})" in capsys.readouterr().out


def test_labels_beyond_the_model_are_counted_and_said(iris_model, tmp_path, capsys):
    import numpy as np
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    y_val = np.where(np.arange(20) % 2 == 0, 7, y[:20])
    np.savez(tmp_path / "big.npz", X_train=X[20:], y_train=y[20:], X_val=X[:20], y_val=y_val)
    assert main(["verify", iris_model, "--data", str(tmp_path / "big.npz"), "--targets", "reference", "--out",
                 str(tmp_path / "rep"), "--json", str(tmp_path / "p.json")]) == 0
    assert "10 of 20 samples have a label the model has no class for" in capsys.readouterr().out
    d = json.loads((tmp_path / "p.json").read_text())
    assert d["software"]["error"] >= 0.5 and sum(map(sum, d["software"]["confusion"])) == 10
    assert (tmp_path / "rep" / "plots" / "confusion.png").exists()


def test_unwritable_report_paths_exit_2_before_any_target_runs(iris_model, tmp_path, capsys, monkeypatch):
    import connttra_neuro.verify as verify_module

    monkeypatch.setattr(verify_module, "verify", lambda *a, **k: pytest.fail("ran before checking the paths"))
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    for extra, message in ((["--out", str(tmp_path / "afile" / "sub")], "is a file"),
                           (["--out", str(tmp_path / "afile")], "is a file"),
                           (["--json", str(tmp_path / "adir")], "is a directory")):
        assert main(["verify", iris_model, "--data", "iris", "--targets", "reference", *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "afile", "iris.ctn"]
    assert not any((tmp_path / "adir").iterdir())


def test_no_plots_names_plots_left_from_an_earlier_report(iris_model, tmp_path, capsys):
    out = tmp_path / "rep"
    args = ["verify", iris_model, "--data", "iris", "--targets", "reference", "--out", str(out)]
    assert main(args) == 0
    assert (out / "plots" / "confusion.png").exists()
    capsys.readouterr()
    assert main(args + ["--no-plots"]) == 0
    err = capsys.readouterr()
    assert "holds plots of an earlier report" in err.out + err.err and "confusion.png" in err.out + err.err
    assert (out / "plots" / "confusion.png").exists()  # the user's files are named, never deleted
    assert main(["verify", iris_model, "--data", "iris", "--targets", "reference", "--out",
                 str(tmp_path / "fresh"), "--no-plots"]) == 0  # fmt: skip
    err = capsys.readouterr()
    assert "earlier report" not in err.out + err.err


def test_an_output_in_a_missing_folder_says_it_creates_the_folder(iris_model, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["verify", iris_model, "--data", "iris", "--targets", "reference", "--out", "new/rep",
                 "--json", "typo/p.json", "--no-plots"]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "note: --json typo/p.json: folder typo does not exist; creating it" in err
    assert "note: --out new/rep: folder new does not exist; creating it" in err
    assert (tmp_path / "typo" / "p.json").exists() and (tmp_path / "new" / "rep" / "parity.json").exists()
    assert main(["verify", iris_model, "--data", "iris", "--targets", "reference", "--out", "new/rep",
                 "--no-plots"]) == 0  # fmt: skip
    assert "does not exist" not in capsys.readouterr().err  # the folders exist now


def test_whole_float_labels_are_recorded_as_integers_and_mapped(tmp_path, capsys):
    # labels read by pandas or from a float array (0.0, 5.0, 9.0) are the same classes as 0, 5, 9
    import warnings

    import numpy as np
    from sklearn.datasets import load_iris

    from connttra_neuro.train import CoNNTrA

    X, y = load_iris(return_X_y=True)
    labels = np.array([0.0, 5.0, 9.0])[y]
    idx = np.random.default_rng(0).permutation(len(y))
    tr, va = idx[:120], idx[120:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = CoNNTrA(hidden=(16,), levels=3, max_sweeps=5, random_state=0).fit(X[tr], labels[tr])
    assert est.network_.metadata["classes"] == (0, 5, 9)
    save(est.network_, tmp_path / "f.ctn")
    np.savez(tmp_path / "f.npz", X_train=X[tr], y_train=labels[tr].astype(int), X_val=X[va],
             y_val=labels[va].astype(int))  # fmt: skip
    assert main(["evaluate", str(tmp_path / "f.ctn"), "--data", str(tmp_path / "f.npz"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["error"] == pytest.approx(1 - est.score(X[va], labels[va]))


@pytest.mark.parametrize("classes, mapped", [([0, 1, 2], None), ([9, 0, 5], [9, 0, 5]), (["a", "b", "c"], None)])
def test_label_classes_reads_one_distinct_integer_per_output(classes, mapped):
    import numpy as np

    from connttra_neuro.cli.verify import as_output_indices
    from connttra_neuro.verify.parity import label_classes

    net = random_network((4, 5, 3), seed=0)
    net = net.replace(metadata={"classes": classes})
    assert label_classes(net) == mapped
    got = as_output_indices(net, np.array([0, 5, 9, 7]))  # never a traceback
    if mapped == [9, 0, 5]:  # unsorted: output c stands for classes[c]; 7 is none of them
        assert got.tolist() == [1, 2, 0, 3]


@pytest.mark.parametrize("classes, why", [(5, r"5 is not a list \(it is int\)"), ("abc", "'abc' is not a list"),
                                          ([2**70, 1, 2], "holds an integer beyond int64"),
                                          ([1, 1, 2], "repeats label 1"), ([0, 1], "has 2 labels for the model's 3"),
                                          ([True, False, 2], "is not all integers or all text"),
                                          ([0.5, 1.5, 2.5], "is not all integers or all text")])
def test_a_malformed_classes_entry_is_an_error_everywhere_it_would_map_labels(classes, why, tmp_path, capsys):
    # a hand-edited model whose classes misstate its labels: predict fell back to output indices without a word,
    # verify and evaluate took the data's labels as outputs (evaluate with a note), so every label was wrong
    # unsaid; now predict, verify and evaluate refuse it by name before anything runs, and save writes none
    import numpy as np

    from connttra_neuro import load, predict
    from connttra_neuro.modelfile import to_bytes
    from connttra_neuro.network import NetworkError
    from connttra_neuro.verify import verify

    net = random_network((4, 5, 3), seed=0).replace(metadata={"dataset": "iris", "classes": classes})
    said = rf"the model's metadata classes .*{why}.*one distinct label per output"
    X = np.random.default_rng(0).random((6, 4))
    with pytest.raises(NetworkError, match=said):
        predict(net, X)
    with pytest.raises(NetworkError, match=said):
        verify(net, "reference", X, np.zeros(6, int), y_are_outputs=True)
    with pytest.raises(NetworkError, match="^save: " + said):
        save(net, tmp_path / "m.ctn")
    assert not (tmp_path / "m.ctn").exists()
    model = tmp_path / "hand-edited.ctn"  # as another tool (or a hand edit) would write it: load still reads it
    model.write_bytes(to_bytes(net))
    assert load(model).metadata["classes"] == net.metadata["classes"]  # readable, so it can be mended
    for command in (["evaluate", model, "--data", "iris"], ["verify", model, "--data", "iris", "--no-plots",
                                                             "--out", tmp_path / "rep"],
                    ["predict", model, tmp_path / "x.npy"]):
        np.save(tmp_path / "x.npy", X)
        assert main([str(a) for a in command]) == 2
        err = capsys.readouterr().err
        assert re.search(said, err) and "running" not in err, err
    assert not (tmp_path / "rep").exists()


def test_bool_classes_as_fit_records_them_for_a_bool_y_are_labels_not_an_error(tmp_path):
    # fit on a bool y records classes [False, True]: one distinct label per output, not a malformed entry
    import numpy as np

    from connttra_neuro import load, predict
    from connttra_neuro.verify import verify

    net = random_network((4, 5, 2), seed=0).replace(metadata={"classes": [False, True]})
    X = np.random.default_rng(0).random((6, 4))
    outputs = np.argmax(forward(net, net.encode(X))[0], axis=1)
    model = save(net, tmp_path / "b.ctn")
    assert predict(model, X).tolist() == outputs.tolist()
    report = verify(load(model), "reference", X, outputs.astype(bool))
    assert report.all_exact and report.software["error"] == 0 and report.network["classes"] == [False, True]


def test_report_folders_replace_only_files_their_command_wrote(iris_model, tmp_path, capsys):
    # verify --out, compare -o and demo --out write fixed file names into a folder: a user's file of the
    # same name is refused before anything runs, a folder in its place too, an earlier report is fine
    out = tmp_path / "rep"
    out.mkdir()
    (out / "parity.md").write_text("# My notes\n")
    base = ["verify", iris_model, "--data", "iris", "--targets", "reference", "--no-plots"]
    assert main([*base, "--out", str(out)]) == 2
    assert "parity.md exists and is not a file this command writes" in capsys.readouterr().err
    assert (out / "parity.md").read_text() == "# My notes\n"
    (out / "parity.md").unlink()
    assert main([*base, "--out", str(out)]) == 0 and main([*base, "--out", str(out)]) == 0  # its own report
    capsys.readouterr()
    assert main([*base, "--out", str(out), "--json", str(out / "parity.html")]) == 2  # one file, two writers
    assert "parity.html" in capsys.readouterr().err

    cmp = tmp_path / "cmp"
    (cmp / "compare.json").mkdir(parents=True)
    assert main(["compare", "--data", "iris", "--hidden", "4", "--max-sweeps", "1", "--epochs", "1",
                 "-o", str(cmp)]) == 2  # fmt: skip
    assert "compare.json is a directory; it needs a file name" in capsys.readouterr().err

    demo = tmp_path / "project"
    demo.mkdir()
    (demo / "README.md").write_text("# My project\n")
    assert main(["demo", "--quick", "--out", str(demo)]) == 2
    assert "README.md exists and is not a file this command writes" in capsys.readouterr().err
    assert (demo / "README.md").read_text() == "# My project\n" and sorted(p.name for p in demo.iterdir()) == [
        "README.md"]


def test_a_json_output_nested_past_pythons_limit_is_refused_by_name(iris_model, tmp_path, capsys):
    # reading it to see whose it is raised RecursionError out of json.loads: a traceback, exit status 1
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    argv = ["verify", iris_model, "--data", "iris", "--targets", "reference", "--no-plots", "--json", str(deep)]
    assert main([*argv, "--out", str(tmp_path / "rep")]) == 2
    assert f"--json {deep} exists and is not a parity report (verify's JSON)" in capsys.readouterr().err
    assert deep.read_text() == "[" * 100_000


@pytest.mark.parametrize("argv, flag", [
    (["deploy", "{m}", "--target", "reference", "--export-nir", ""], "--export-nir"),
    (["verify", "{m}", "--data", "iris", "--targets", "reference", "--out", ""], "--out"),
    (["verify", "{m}", "--data", "iris", "--targets", "reference", "--json", ""], "--json"),
    (["compare", "--data", "iris", "-o", ""], "-o"),
])
def test_an_empty_output_path_is_an_error_not_a_default(iris_model, capsys, argv, flag):
    assert main([a.replace("{m}", iris_model) for a in argv]) == 2
    assert f"{flag} needs a path, got an empty one" in capsys.readouterr().err


def test_compare_refuses_repeated_methods_and_names_flags_no_method_takes(capsys, tmp_path, compare_in_process):
    assert main(["compare", "--data", "iris", "--methods", "mlp,mlp", "-o", str(tmp_path)]) == 2
    assert "--methods names mlp more than once" in capsys.readouterr().err
    assert main(["compare", "--data", "iris", "--methods", "connttra", "--hidden", "4", "--max-sweeps", "1",
                 "--ste-lr", "0.1", "--epochs", "3", "-o", str(tmp_path)]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "note: --ste-lr applies to ste, which --methods does not run" in err
    assert "note: --epochs applies to ste and mlp" in err and "backprop baselines:" not in err
    assert main(["compare", "--data", "iris", "--methods", "mlp", "--hidden", "4", "--epochs", "2", "--jitter", "1",
                 "--joint-moves", "--layerwise", "2", "-o", str(tmp_path)]) == 0  # fmt: skip
    assert "note: --jitter, --joint-moves, --layerwise apply to CoNNTrA, which --methods does not run" in \
        capsys.readouterr().err


def test_a_label_above_every_class_of_the_model_counts_as_wrong_not_a_traceback():
    # classes {0, 5, 9}: 12 is beyond the last one (searchsorted gives 3, one past the end), -1 before the first
    from connttra_neuro.cli.verify import as_output_indices

    net = random_network((4, 5, 3), seed=0).replace(metadata={"classes": [9, 0, 5]})
    assert as_output_indices(net, np.array([12, -1, 0, 9, 7])).tolist() == [3, 3, 1, 0, 3]


def test_class_names_with_a_repeated_name_are_not_used():
    # two outputs of one name cannot be matched by name (a dict would keep only the last)
    from connttra_neuro.inference import output_names as class_names

    net = random_network((4, 5, 3), seed=0)
    assert class_names(net.replace(metadata={"class_names": ["a", "b", "c"]})) == ["a", "b", "c"]
    assert class_names(net.replace(metadata={"class_names": ["a", "a", "b"]})) is None
    assert class_names(net.replace(metadata={"class_names": ["a", "b"]})) is None  # not one per output


def test_no_seed_note_for_a_model_trained_with_seed_0(tmp_path, capsys):
    net = random_network((4, 10, 3), levels=3, seed=0)
    for seed, noted in ((0, False), (3, True)):
        path = str(save(net.replace(metadata={"seed": seed, "dataset": "iris"}), tmp_path / f"s{seed}.ctn"))
        assert main(["verify", path, "--data", "iris", "--targets", "reference", "--out", str(tmp_path / "r"),
                     "--no-plots"]) == 0
        assert ("trained with seed" in capsys.readouterr().err) is noted, seed


def test_json_into_a_new_report_folder_under_a_report_file_s_name_is_refused(iris_model, tmp_path, capsys):
    # the folder is new, so no file is there to be "of another kind": only check_distinct sees that the
    # report's parity.md and --json would be one file (the JSON would replace the Markdown report)
    out = tmp_path / "new"
    assert main(["verify", iris_model, "--data", "iris", "--targets", "reference", "--no-plots",
                 "--out", str(out), "--json", str(out / "parity.md")]) == 2
    err = capsys.readouterr().err
    assert "the report's parity.md" in err and "is the same file as --json" in err
    assert "creating it" not in err  # no note that the folder will be made, then a refusal
    assert not out.exists()


def test_a_run_with_plots_says_nothing_about_plots_of_an_earlier_report(iris_model, tmp_path, capsys):
    args = ["verify", iris_model, "--data", "iris", "--targets", "reference", "--out", str(tmp_path / "rep")]
    for _ in range(2):  # the second run replaces the first run's plots: they are this run's
        assert main(args) == 0
        out, err = capsys.readouterr()
        assert "earlier report" not in out + err


def test_a_user_file_in_the_report_folder_is_refused_before_any_target_runs(iris_model, tmp_path, capsys,
                                                                           monkeypatch):
    import connttra_neuro.verify as verify_module

    monkeypatch.setattr(verify_module, "verify", lambda *a, **k: pytest.fail("ran before checking the folder"))
    (tmp_path / "rep").mkdir()
    (tmp_path / "rep" / "parity.md").write_text("# My notes\n")
    assert main(["verify", iris_model, "--data", "iris", "--targets", "reference", "--out", str(tmp_path / "rep")]) == 2
    assert "parity.md exists and is not a file this command writes" in capsys.readouterr().err


def test_an_interrupted_verify_says_its_report_folder_is_unchanged(iris_model, tmp_path, capsys, monkeypatch):
    # it said only "connttra-neuro: interrupted": was the report half-written? (it is written after the runs)
    import connttra_neuro.verify as verify_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(verify_module, "verify", interrupted)
    assert main(["verify", iris_model, "--data", "iris", "--out", str(tmp_path / "r")]) == 130
    err = capsys.readouterr().err
    assert f"verify: stopped before its report was written: {tmp_path / 'r'} is as it was" in err
    assert not (tmp_path / "r" / "parity.json").exists()


def test_a_verify_interrupted_while_writing_its_report_says_the_folder_may_mix_runs(iris_model, tmp_path, capsys,
                                                                                   monkeypatch):
    import connttra_neuro.verify as verify_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(verify_module, "write_report", interrupted)
    assert main(["verify", iris_model, "--data", "iris", "--targets", "reference", "--out", str(tmp_path / "r")]) == 130
    assert (f"verify: stopped while writing its report: {tmp_path / 'r'} may hold this run's files beside an earlier "
            "report's") in capsys.readouterr().err


def test_a_model_trained_with_data_path_is_evaluated_from_it(tmp_path, capsys):
    # `evaluate t.ctn --data mnist` failed asking for --data-path again: mnist has no default place
    from .test_datasets import make_idx_dir

    make_idx_dir(tmp_path / "mnist")
    model = tmp_path / "t.ctn"
    assert main(["train", "--data", "mnist", "--data-path", str(tmp_path / "mnist"), "--hidden", "4",
                 "--max-sweeps", "1", "--no-progress", "-o", str(model)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(model), "--data", "mnist", "--json"]) == 0
    out, err = capsys.readouterr()
    assert f"note: reading mnist from {tmp_path / 'mnist'}, the --data-path the model was trained with" in err
    json.loads(out)  # the note is not in the JSON
    # a path given is the one read, with no note
    assert main(["evaluate", str(model), "--data", "mnist", "--data-path", str(tmp_path / "mnist")]) == 0
    assert "the --data-path the model was trained with" not in capsys.readouterr().err


@pytest.mark.parametrize("command", ["verify", "deploy"])
def test_data_on_another_scale_than_the_model_s_is_warned_of(iris_model, tmp_path, capsys, command):
    # as predict warns: the model's encoder cuts end at 0.75, and the first 20 iris samples reach 5.8 (nearly every
    # encoder level fires), so the accuracy printed says little of the model; on its own scale nothing is said
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    where = ["--out", str(tmp_path / "rep"), "--no-plots"] if command == "verify" else []
    for scale, warned in ((1.0, True), (0.1, False)):
        np.savez(tmp_path / "d.npz", X_train=X[20:] * scale, y_train=y[20:], X_val=X[:20] * scale, y_val=y[:20])
        target = ["--targets", "reference"] if command == "verify" else ["--target", "reference"]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert main([command, iris_model, "--data", str(tmp_path / "d.npz"), *target, *where]) == 0
        err = capsys.readouterr().err
        assert ("values up to 5.8, while the model's encoder cuts end at 0.75" in err) is warned, err
        # said once, as the command's note: verify() in Python warns of it too, which here would say it again
        assert err.count("another scale") == int(warned), err
        assert not [w for w in caught if "another scale" in str(w.message)]


def test_a_model_without_class_names_on_named_data_says_labels_are_read_by_position(tmp_path, capsys):
    # a model that records no class names cannot be matched by name: the data's label i is its output i, said
    X = np.random.default_rng(0).random((30, 4))
    data = tmp_path / "pets.npz"
    np.savez(data, X=X, y=np.arange(30) % 3, class_names=np.array(["cat", "dog", "emu"]))
    plain = save(random_network((4, 6, 3), seed=1), tmp_path / "plain.ctn")
    assert main(["verify", str(plain), "--data", str(data), "--targets", "reference", "--no-plots",
                 "--out", str(tmp_path / "r1")]) == 0
    assert "classes are read as its outputs by position (0 cat, 1 dog, 2 emu)" in capsys.readouterr().err
    named = save(random_network((4, 6, 3), seed=1).replace(metadata={"class_names": ["cat", "dog", "emu"]}),
                 tmp_path / "named.ctn")
    assert main(["verify", str(named), "--data", str(data), "--targets", "reference", "--no-plots",
                 "--out", str(tmp_path / "r2")]) == 0
    assert "by position" not in capsys.readouterr().err


def test_a_target_option_it_cannot_hold_is_named_once(tmp_path, capsys):
    model = save(random_network((4, 6, 3), seed=1), tmp_path / "m.ctn")
    assert main(["verify", str(model), "--data", "iris", "--targets", "loihi2", "--weight-bits", "1",
                 "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "loihi2: weight_bits" in err and "loihi2: loihi2:" not in err


def test_a_full_disk_while_writing_the_report_says_the_folder_may_mix_runs(iris_model, tmp_path, capsys, monkeypatch):
    # parity.json was this run's, parity.md/html and the plots an earlier report's, and the error did not say
    import errno
    import os

    import connttra_neuro.verify.report as report_module

    out = tmp_path / "r"
    assert main(["verify", iris_model, "--data", "iris", "--targets", "reference", "--out", str(out)]) == 0
    earlier = (out / "parity.md").read_text()
    real = report_module.write_text

    def full(path, text):
        if str(path).endswith("parity.md"):
            raise OSError(errno.ENOSPC, f"cannot write {path}: {os.strerror(errno.ENOSPC)}")  # as atomic_write says it
        return real(path, text)

    monkeypatch.setattr(report_module, "write_text", full)
    capsys.readouterr()
    assert main(["verify", iris_model, "--data", "iris", "--targets", "reference", "--n", "10", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"connttra-neuro verify: error: [Errno 28] cannot write {out / 'parity.md'}: No space left")
    assert f"{out} may hold this run's files beside an earlier report's" in err
    assert (out / "parity.md").read_text() == earlier  # whole, and the earlier run's
    assert not [p for p in out.rglob("*.tmp")]


def test_a_full_disk_in_demo_or_compare_says_the_folder_may_mix_runs(tmp_path, capsys, monkeypatch):
    import errno

    import connttra_neuro.cli.demo as demo
    import connttra_neuro.train.compare as compare

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, f"cannot write {tmp_path / 'x'}: No space left on device")

    monkeypatch.setattr(demo, "run_demo", full)
    assert main(["demo", "--quick", "--data", "iris", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "No space left on device" in err
    assert f"{tmp_path / 'd'} may hold this run's files (model, exports, reports) beside an earlier run's" in err

    monkeypatch.setattr(compare, "compare_methods", lambda dataset, methods, **kw: [])
    monkeypatch.setattr(compare, "plot_curves", full)
    assert main(["compare", "--data", "iris", "--epochs", "3", "-o", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "No space left on device" in err
    assert f"{tmp_path / 'c'} may hold this comparison's files beside an earlier one's" in err


@pytest.mark.parametrize("command", ["verify", "evaluate", "deploy", "predict"])
def test_no_progress_hides_the_bars_inside_targets(iris_model, tmp_path, monkeypatch, capsys, command):
    # train and compare took --no-progress; the commands that run a target had no way to keep its bar (a
    # 60,000-sample verify wrote 31 bar updates to a log) out of stderr but 2>/dev/null, which hides the notes too
    import numpy as np

    from hardware_targets import reference

    shown, real = [], reference._forward_bar

    def recording(n):
        bar = real(n)
        shown.append(not bar.disable)
        return bar

    monkeypatch.setattr(reference, "_forward_bar", recording)
    rows = tmp_path / "rows.npy"
    np.save(rows, np.ones((5, 4)))
    argv = {"verify": ["verify", iris_model, "--data", "iris", "--targets", "reference", "--no-plots", "--out",
                       str(tmp_path / "r")],
            "evaluate": ["evaluate", iris_model, "--data", "iris"],
            "deploy": ["deploy", iris_model, "--target", "reference", "--data", "iris"],
            "predict": ["predict", iris_model, str(rows)]}[command]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    main(argv)
    assert shown and all(shown)  # shown (after 2 s) on a terminal without the flag
    shown.clear()
    main([*argv, "--no-progress"])
    assert shown and not any(shown)
    # a log (2> log, a CI job's) got every redraw of a bar, joined by carriage returns: none off a terminal
    shown.clear()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    main(argv)
    assert shown and not any(shown)
    capsys.readouterr()


def test_no_progress_reaches_every_target_s_bar_and_the_image_reader_s():
    from connttra_neuro._image_folders import _PROGRESS_FROM, _progress
    from connttra_neuro._progress import bars_hidden
    from hardware_targets.brian2_edge import target as brian2
    from hardware_targets.loihi2 import runtime as loihi2

    many = [None] * _PROGRESS_FROM
    with bars_hidden():
        with loihi2._run_bar(10) as bar:
            assert bar.disable
        with brian2._run_bar(10) as report:
            report(0.0, 0.5, 0.0, 1.0)  # Brian2's callback still works, printing nothing
        assert _progress(many, "reading").disable
    bar = _progress(many, "reading")
    assert not bar.disable
    bar.close()


@pytest.mark.parametrize("names, why", [("abc", "is not a list"), (["a", "b"], "has 2 names for the model's 3"),
                                        (["a", "a", "b"], "repeats name 'a'"), (["a", 1, "b"], "is not all text")])
def test_save_refuses_malformed_class_names_as_it_refuses_malformed_classes(names, why, tmp_path):
    # a model saved with names that name nothing: predict(names=True) refused it, the reports dropped it unsaid
    from connttra_neuro import load
    from connttra_neuro.network import NetworkError

    good = random_network((4, 5, 3), seed=0).replace(metadata={"class_names": ["a", "b", "c"]})
    save(good, tmp_path / "m.ctn")
    bad = good.replace(metadata={"class_names": names})
    with pytest.raises(NetworkError, match=rf"^save: the model's metadata class_names .*{re.escape(why)}.*one distinct "
                                           r"name per output"):
        save(bad, tmp_path / "m.ctn")
    assert load(tmp_path / "m.ctn") == good  # the file that was there is as it was


def test_two_verifies_into_one_report_folder_write_it_one_after_the_other(iris_model, tmp_path, capsys):
    # `verify --targets loihi2 &` and `verify --targets brian2 &` with the default folder: each wrote its files
    # into it at once, and the folder held one run's parity.json beside the other's parity.md and plots. The
    # second waits for the first one's report, then writes its own whole
    import os
    import threading

    from connttra_neuro._atomic import writing

    out = tmp_path / "rep"
    args = ["verify", iris_model, "--data", "iris", "--targets", "reference", "--out", str(out), "--no-plots"]
    with writing(out / "parity.json", "the first verify"):  # what a verify writing its report holds
        done = []
        second = threading.Thread(target=lambda: done.append(main(args)))
        second.start()
        while "waiting for it to finish" not in (said := capsys.readouterr().err):
            assert second.is_alive(), said  # it waits, it does not give up
            second.join(0.05)
        assert f"--out {out}: process {os.getpid()} is writing it now; waiting for it to finish" in said
        assert not (out / "parity.md").exists()  # nothing of the second run written meanwhile
    second.join()
    assert done == [0]
    assert sorted(p.name for p in out.iterdir()) == ["parity.html", "parity.json", "parity.md"]  # no lock left
