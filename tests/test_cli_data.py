"""The ``datasets``, ``info`` and ``evaluate`` commands, run in-process."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from connttra_neuro import random_network, save, storage_report
from connttra_neuro.cli import main
from connttra_neuro.cli.data import classification_report
from connttra_neuro.datasets import FASHION_MNIST_DIR, dataset_names, load_dataset
from hardware_targets.reference import forward

METADATA = {
    "dataset": "digits",
    "training": {"levels": 2, "hidden": [16], "max_epochs": 3},
    "seed": 7,
    "metrics": {"val_error": 0.125},
}


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    network = random_network((64, 16, 10), levels=2, seed=4, density=0.5).replace(metadata=METADATA)
    path = tmp_path_factory.mktemp("model") / "digits.ctn"
    save(network, path)
    return network, path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def reference_errors(network, X, y):
    scores, _ = forward(network, network.encode(X))
    return int(np.count_nonzero(np.argmax(scores, axis=1) != y))


# -- datasets -------------------------------------------------------------------------------
def test_datasets_table(capsys):
    code, out, _ = run(capsys, "datasets")
    assert code == 0
    for name in dataset_names():
        assert re.search(rf"^{re.escape(name)}\s", out, re.M), name
    assert re.search(r"^digits\s+1,438\s+359\s+64\s+10\s+yes", out, re.M)
    assert "X_train, y_train, X_val, y_val" in out and "train-images-idx3-ubyte" in out


def test_datasets_json_reports_availability(capsys):
    code, out, _ = run(capsys, "datasets", "--json")
    rows = {r["name"]: r for r in json.loads(out)["datasets"]}
    assert code == 0 and list(rows) == dataset_names()
    assert rows["iris"]["available"] is True and rows["iris"]["train"] == 120
    present = all(
        (FASHION_MNIST_DIR / f"{s}.gz").is_file()
        for s in (
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        )
    )
    assert rows["fashion-mnist"]["available"] is present


# -- info --------------------------------------------------------------------------------------
def test_info_text(capsys, digits_model):
    network, path = digits_model
    code, out, _ = run(capsys, "info", path)
    assert code == 0
    assert "64 features -> 128 input spikes -> 16 -> 10 classes (2 weight layers)" in out
    assert "{-1, 0, 1} (ternary)" in out and "64 features x 2 level(s)" in out
    assert re.search(r"^hidden layer 0\s+16 x 128", out, re.M) and re.search(r"^output layer\s+10 x 16", out, re.M)
    assert f"{network.sparsity:.1%}" in out
    report = storage_report(network)
    assert f"{report['bits_per_weight']:.2f} bits/weight" in out
    assert f"{report['weights_ratio_float32']:.1f}x smaller than float32" in out
    assert "max_epochs: 3" in out and "val_error: 0.125" in out and "seed: 7" in out


def test_info_json(capsys, digits_model):
    network, path = digits_model
    code, out, _ = run(capsys, "info", path, "--json")
    d = json.loads(out)
    assert code == 0
    assert set(d) >= {"layer_sizes", "discrete_set", "encoder", "layers", "sparsity", "storage", "metadata"}
    assert d["layer_sizes"] == list(network.layer_sizes) and d["discrete_set"] == [-1, 0, 1]
    assert d["encoder"]["levels"] == 2 and d["storage"] == storage_report(network)
    assert d["storage"]["model_file_bytes"] == os.path.getsize(path)  # the file's own size
    assert d["metadata"] == METADATA
    assert d["sparsity"] == pytest.approx(network.sparsity)
    hidden = d["layers"][0]
    assert hidden["zeros"] == int(np.count_nonzero(network.hidden[0].weights == 0))
    t = network.hidden[0].thresholds
    assert hidden["threshold_range"] == [int(t.min()), int(t.max())]
    b = network.output.biases
    assert d["layers"][1]["bias_range"] == [int(b.min()), int(b.max())]


# -- evaluate ------------------------------------------------------------------------------------
def test_evaluate_matches_reference(capsys, digits_model):
    network, path = digits_model
    data = load_dataset("digits")
    n_errors = reference_errors(network, data.X_val, data.y_val)
    code, out, _ = run(capsys, "evaluate", path, "--data", "digits")
    assert code == 0
    m = re.search(r"error\s+([\d.]+)%\s+\((\d+) of (\d+) misclassified\)", out)
    assert m and (int(m.group(2)), int(m.group(3))) == (n_errors, len(data.y_val))
    assert float(m.group(1)) == pytest.approx(100 * n_errors / len(data.y_val), abs=0.005)
    assert "per class  0:" in out and "confusion matrix (rows: true class, columns: predicted class)" in out
    # confusion matrix rows sum to the class counts
    rows = re.findall(r"^\s+(\d)\s+((?:\d+\s*){10})$", out, re.M)
    counts = [sum(map(int, r[1].split())) for r in rows]
    assert counts == np.bincount(data.y_val, minlength=10).tolist()


def test_evaluate_json_on_train_subsample(capsys, digits_model):
    network, path = digits_model
    data = load_dataset("digits", seed=2, n_train=200)
    code, out, _ = run(
        capsys, "evaluate", path, "--data", "digits", "--split", "train", "--n", 200, "--seed", 2, "--json"
    )
    report = json.loads(out)
    assert code == 0 and report["n_samples"] == 200 and report["split"] == "train"
    assert report["n_errors"] == reference_errors(network, data.X_train, data.y_train)
    assert np.array(report["confusion"]).sum() == 200


def test_evaluate_names_classes_by_the_model_s_labels(capsys, tmp_path):
    # a model trained on labels {0, 2, 5}: its outputs 0, 1, 2 stand for those; iris's label 1 is none of them
    model = tmp_path / "classes.ctn"
    save(random_network((4, 6, 3), seed=1).replace(metadata={"dataset": "iris", "classes": [0, 2, 5]}), model)
    assert main(["evaluate", str(model), "--data", "iris"]) == 0
    out = capsys.readouterr().out
    assert "have a label that is none of the model's classes [0, 2, 5]: always wrong (row 'other')" in out
    assert re.search(r"per class  0: \S+  2: \S+  5: -  other: 0\.0%", out)
    assert re.search(r"true\\pred\s+0\s+2\s+5\s+other", out)
    assert main(["evaluate", str(model), "--data", "iris", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["class_labels"] == ["0", "2", "5", "other"] and len(report["confusion"]) == 4
    assert report["accuracy"] == (report["n_samples"] - report["n_errors"]) / report["n_samples"]


def test_evaluate_npz_path(capsys, tmp_path):
    network = random_network((5, 3), seed=1)
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 5)), np.arange(40) % 3
    np.savez(tmp_path / "d.npz", X_train=X[:30], y_train=y[:30], X_val=X[30:], y_val=y[30:])
    save(network, tmp_path / "m.ctn")
    code, out, _ = run(capsys, "evaluate", tmp_path / "m.ctn", "--data", tmp_path / "d.npz", "--json")
    assert code == 0 and json.loads(out)["n_errors"] == reference_errors(network, X[30:], y[30:])


def test_classification_report_against_loops():
    rng = np.random.default_rng(3)
    y, p = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    y[y == 3] = 2  # class 3 has no samples
    r = classification_report(y, p, 4)
    for i in range(4):
        for j in range(4):
            assert r["confusion"][i][j] == sum(1 for a, b in zip(y, p, strict=True) if a == i and b == j)
    assert r["per_class_accuracy"][3] is None
    assert r["per_class_accuracy"][0] == pytest.approx(np.mean(p[y == 0] == 0))
    assert r["n_errors"] == sum(a != b for a, b in zip(y, p, strict=True))


# -- errors: exit code 2 and one line --------------------------------------------------------------
def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("connttra-neuro "), err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def test_missing_model_file(capsys, tmp_path):
    for command in (["info"], ["evaluate", "--data", "iris"]):
        code, _, err = run(capsys, command[0], tmp_path / "absent.ctn", *command[1:])
        assert_one_line_error(code, err, "absent.ctn: no such model file")


def test_corrupt_model_file(capsys, tmp_path, digits_model):
    _, path = digits_model
    blob = path.read_bytes()
    (tmp_path / "cut.ctn").write_bytes(blob[: len(blob) // 2])
    code, _, err = run(capsys, "info", tmp_path / "cut.ctn")
    assert_one_line_error(code, err, "cut.ctn", "truncated")
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 0xFF
    (tmp_path / "flip.ctn").write_bytes(bytes(flipped))
    code, _, err = run(capsys, "evaluate", tmp_path / "flip.ctn", "--data", "digits")
    assert_one_line_error(code, err, "flip.ctn", "checksum")


def test_feature_count_mismatch(capsys, digits_model):
    _, path = digits_model
    code, _, err = run(capsys, "evaluate", path, "--data", "iris")
    assert_one_line_error(code, err, "expects 64 features", "iris has 4")


def test_unknown_dataset_and_target(capsys, digits_model):
    _, path = digits_model
    code, _, err = run(capsys, "evaluate", path, "--data", "digitz")
    assert_one_line_error(code, err, "unknown dataset 'digitz'", "did you mean 'digits'")
    code, _, err = run(capsys, "evaluate", path, "--data", "digits", "--target", "abacus")
    assert_one_line_error(code, err, "unknown target(s) abacus", "your own target: module:Class")
    code, _, err = run(capsys, "evaluate", path, "--data", "digits", "--target", "reference,loihi2")
    assert_one_line_error(code, err, "--target takes one target name")


@pytest.mark.parametrize("argv, unknown", [(["train", "--hiden", "3"], "--hiden 3"),
                                           (["evaluate", "m.ctn", "--data", "digits", "--jsn"], "--jsn")])
def test_an_unknown_option_shows_its_command_s_usage(capsys, argv, unknown):
    # argparse's top-level parser would print only "connttra-neuro [-h] [--version] COMMAND ..."
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: connttra-neuro {argv[0]} ")
    assert f"connttra-neuro {argv[0]}: error: unrecognized arguments: {unknown}" in err


@pytest.mark.parametrize("command", ["datasets", "info", "evaluate"])
def test_help(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert f"connttra-neuro {command}" in capsys.readouterr().out


def test_evaluate_notes_other_training_dataset(capsys, tmp_path):
    network = random_network((4, 3), seed=2).replace(metadata={"dataset": "digits"})
    save(network, tmp_path / "m.ctn")
    code, out, _ = run(capsys, "evaluate", tmp_path / "m.ctn", "--data", "iris")
    assert code == 0 and "trained on 'digits'" in out


def test_many_classes_are_summarised(capsys, tmp_path):
    network = random_network((3, 25), seed=0)
    rng = np.random.default_rng(1)
    X, y = rng.random((100, 3)), np.arange(100) % 25
    np.savez(tmp_path / "d.npz", X_train=X, y_train=y, X_val=X, y_val=y)
    save(network, tmp_path / "m.ctn")
    code, out, _ = run(capsys, "evaluate", tmp_path / "m.ctn", "--data", tmp_path / "d.npz")
    assert code == 0 and "per class  25 classes: min" in out and "confusion matrix" not in out
    big = classification_report(np.array([0, 1500]), np.array([0, 3]), 1501)
    assert big["confusion"] is None and big["n_errors"] == 1 and big["per_class_accuracy"][1500] == 0.0


def test_info_tells_never_and_always_firing_levels_apart(capsys, tmp_path):
    # +inf: the level never fires; -inf: it always fires
    from connttra_neuro.network import ThermometerEncoder

    network = random_network((4, 3, 2), levels=2, seed=0)
    thresholds = np.array([[-np.inf, 1.0], [0.5, np.inf], [0.2, 0.4], [-np.inf, np.inf]])
    save(network.replace(encoder=ThermometerEncoder(thresholds)), tmp_path / "m.ctn")
    code, out, _ = run(capsys, "info", tmp_path / "m.ctn")
    assert code == 0 and "2 level(s) never fire (+inf); 2 level(s) always fire (-inf)" in out


def test_evaluate_notes_a_model_trained_on_another_seed_s_split(tmp_path, capsys):
    from connttra_neuro.cli import main

    path = str(tmp_path / "s3.ctn")
    assert main(["train", "--data", "iris", "--hidden", "4", "--seed", "3", "--max-sweeps", "1", "--no-progress",
                 "-o", path]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["evaluate", path, "--data", "iris"]) == 0
    assert "the split of seed 0 (the default) may hold its training samples: give --seed 3 to check it on its " \
           "own split" in capsys.readouterr().err
    assert main(["evaluate", path, "--data", "iris", "--seed", "3"]) == 0
    assert "note: the model was trained with seed" not in capsys.readouterr().err
    # a --seed given is the user's choice (a Python user may draw the split apart from the training seed)
    assert main(["evaluate", path, "--data", "iris", "--seed", "1"]) == 0
    assert "note: the model was trained with seed" not in capsys.readouterr().err
    assert main(["deploy", path, "--target", "reference", "--seed", "3"]) == 2
    assert "--seed needs --data" in capsys.readouterr().err


def test_evaluate_and_verify_without_data_run_on_the_model_s_own_data_and_split(tmp_path, capsys):
    # --data was required although train records the data and the seed (which also draws the split)
    path = str(tmp_path / "s3.ctn")
    assert main(["train", "--data", "iris", "--hidden", "4", "--seed", "3", "--max-sweeps", "1", "--no-progress",
                 "-o", path]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["evaluate", path, "--json"]) == 0
    implicit = capsys.readouterr()
    assert "note: no --data: iris with seed 3, the data the model was trained on (its metadata)" in implicit.err
    assert main(["evaluate", path, "--data", "iris", "--seed", "3", "--json"]) == 0
    assert json.loads(implicit.out) == json.loads(capsys.readouterr().out)  # the same samples, the same figures
    assert main(["evaluate", path, "--seed", "1"]) == 0  # a --seed given is kept
    assert "note: no --data: iris, the data" in capsys.readouterr().err
    assert main(["verify", path, "--targets", "reference", "--no-plots", "-o", str(tmp_path / "r")]) == 0
    captured = capsys.readouterr()
    assert "iris with seed 3" in captured.err and "on 30 samples of iris (val)" in captured.err
    # a model that records no data (built in Python) needs --data, and says so before anything runs
    bare = tmp_path / "bare.ctn"
    save(random_network((4, 3, 3), seed=0), bare)
    for command in (["evaluate", str(bare)], ["verify", str(bare), "-o", str(tmp_path / "r2")]):
        assert main(command) == 2
        assert (f"--data is needed: model {bare} does not record the data it was trained on (its metadata "
                "dataset); give --data NAME or the data's path") in capsys.readouterr().err
    assert not (tmp_path / "r2").exists()
    assert main(["deploy", path, "--target", "reference"]) == 0  # deploy without --data still runs no data
    assert "note: no --data" not in capsys.readouterr().err


def test_a_reader_that_stops_early_is_no_error_and_an_empty_path_is_named():
    import os
    import subprocess
    import sys

    from connttra_neuro.cli import main

    read_end, write_end = os.pipe()
    os.close(read_end)  # a reader that is already gone, like `| head` after its lines: no race
    code = "import sys; from connttra_neuro.cli import main; sys.exit(main(['datasets', '--json']))"
    try:
        run = subprocess.run([sys.executable, "-c", code], stdout=write_end, stderr=subprocess.PIPE, timeout=120)
    finally:
        os.close(write_end)
    assert run.returncode == 141 and run.stderr.decode() == ""
    assert main(["train", "--data", "iris", "-o", ""]) == 2


def test_help_and_version_to_a_reader_that_stopped_are_no_error():
    # argparse prints them while parsing, which ran before main() caught a closed pipe: a traceback
    import os
    import subprocess
    import sys

    for argv in (["--help"], ["verify", "--help"], ["--version"]):
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            run = subprocess.run([sys.executable, "-m", "connttra_neuro", *argv], stdout=write_end,
                                 stderr=subprocess.PIPE, timeout=120)
        finally:
            os.close(write_end)
        assert run.returncode == 141 and run.stderr.decode() == "", (argv, run.stderr.decode()[-500:])


def test_the_parser_and_help_load_no_numpy():
    # cli/__init__.py says command modules import heavy libraries inside the command, but data.py and demo.py
    # imported numpy at the top: `connttra-neuro --help` (and every parse) loaded it, about 0.2 s
    import subprocess
    import sys

    code = ("import contextlib, io, sys\n"
            "from connttra_neuro.cli import build_parser, main\n"
            "build_parser()\n"
            "for argv in (['--help'], ['demo', '--help'], ['info', '--help'], ['evaluate', '--help']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "        main(argv)\n"
            "print('numpy' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.stdout.strip() == "False", (run.stdout, run.stderr[-500:])


def test_ctrl_c_as_the_command_line_starts_is_exit_130_without_a_traceback(monkeypatch, capsys):
    import subprocess
    import sys

    import connttra_neuro.cli as cli

    # the package and the command line import without numpy, so a Ctrl-C in the first fifth of a second lands
    # in main(), not in an import before it (there it printed a traceback)
    code = "import sys, connttra_neuro.cli; print(sorted(m for m in ('numpy', 'connttra_neuro.network') " \
           "if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.stdout.strip() == "[]", run.stderr
    # main() builds the parser, importing each command's module (and numpy): a Ctrl-C there, or numpy's
    # ImportError raised from one, ends as a Ctrl-C anywhere else does
    def interrupted_import():
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as err:
            raise ImportError("Error importing numpy: you should not try to import numpy from its source "
                              "directory") from err

    for fault in (KeyboardInterrupt, interrupted_import):
        def build(fault=fault):
            raise fault()

        monkeypatch.setattr(cli, "_build", build)
        assert main(["info", "m.ctn"]) == 130
        assert capsys.readouterr().err == "connttra-neuro: interrupted\n"
    monkeypatch.setattr(cli, "_build", lambda: (_ for _ in ()).throw(ImportError("no module named x")))
    with pytest.raises(ImportError, match="no module named x"):  # a real import error is not hidden
        main(["info", "m.ctn"])


def test_every_command_that_writes_a_result_takes_o():
    # train, predict and compare took -o; verify and demo only --out (compare took that too), so a script
    # writing `-o` for every command failed on those two with "unrecognized arguments"
    from connttra_neuro.cli import parse_args

    given = {"train": (["--data", "iris"], "output"), "predict": (["m.ctn", "x.npy"], "output"),
             "compare": (["--data", "iris"], "output"), "verify": (["m.ctn", "--data", "iris"], "out"),
             "demo": ([], "out")}
    for command, (argv, dest) in given.items():
        for flag in ("-o", "--output"):
            assert getattr(parse_args([command, *argv, flag, "there"]), dest) == "there", (command, flag)
    for command in ("compare", "verify", "demo"):  # the report folders' --out stays
        assert getattr(parse_args([command, *given[command][0], "--out", "there"]), given[command][1]) == "there"


def test_the_help_says_the_exit_statuses_and_where_json_comes_from(capsys):
    # only deploy's and verify's help gave their exit status; a script had to guess the others' (and 141, 130)
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for line in ("  1    verify, deploy, demo: a target differed", "  2    usage error:",
                 "  130  Ctrl-C; 143 SIGTERM; 141",
                 "datasets, info, evaluate and deploy --json; verify --json FILE (- for stdout)"):
        assert line in text, line


def test_model_s_help_says_a_nir_export_is_a_model_too():
    # every command that takes MODEL reads a NIR export (connttra_neuro.load); its help said "model file
    # written by connttra-neuro", so a colleague's model.nir looked unusable
    from connttra_neuro.cli import _build

    helps = {command: action.help for command, parser in _build()[1].items() for action in parser._actions
             if action.metavar == "MODEL"}
    assert sorted(helps) == ["deploy", "evaluate", "info", "predict", "verify"]
    assert len(set(helps.values())) == 1 and "NIR export" in helps["info"]


def test_info_shows_a_long_history_by_its_ends():
    from connttra_neuro.cli.data import _pretty

    lines = _pretty({"history": [{"sweep": i} for i in range(40)]})
    assert len(lines) == 1 + 4 * 2 + 1 and "... 36 more (info --json shows all)" in lines[5]
    assert [line.strip() for line in lines if "sweep" in line] == ["sweep: 0", "sweep: 1", "sweep: 38", "sweep: 39"]


def test_info_gives_each_layer_s_own_sparsity(capsys, tmp_path):
    # density 0.2: a sparsity of 80% zeros, far from its complement (at 0.5 an inverted figure looks right)
    network = random_network((8, 12, 3), levels=2, seed=1, density=0.2)
    path = save(network, tmp_path / "sparse.ctn")
    assert main(["info", str(path), "--json"]) == 0
    layers = json.loads(capsys.readouterr().out)["layers"]
    for entry, layer in zip(layers, network.named_layers(), strict=True):
        assert entry["sparsity"] == pytest.approx(np.mean(layer[1].weights == 0))
    assert layers[0]["sparsity"] > 0.6
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    hidden_row = next(line for line in out.splitlines() if line.startswith("hidden layer 0"))
    assert f"{layers[0]['sparsity']:.1%}" in hidden_row


def test_info_shortens_a_long_list_in_the_metadata(capsys, tmp_path):
    names = [f"n{i:05d}" for i in range(1000)]  # ImageNet-size class names
    network = random_network((4, 6, 1000), seed=0)
    path = save(network.replace(metadata={"class_names": names}), tmp_path / "wide.ctn")
    assert main(["info", str(path)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "class_names" in x)
    assert "n00000, n00001, n00002, n00003, n00004, ... 990 more ..., n00995" in line and len(line) < 200
    assert main(["info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metadata"]["class_names"] == names


def test_the_seed_note_is_only_for_data_the_seed_splits(tmp_path, capsys):
    # an npz that comes split (X_train / X_val) has the same validation samples for every seed: no note;
    # the same samples as X / y are split by the seed: the note
    from connttra_neuro.cli import main

    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    np.savez(tmp_path / "split.npz", X_train=X[:80], y_train=y[:80], X_val=X[80:], y_val=y[80:])
    np.savez(tmp_path / "whole.npz", X=X, y=y)
    for name, noted in (("split.npz", False), ("whole.npz", True)):
        model = str(tmp_path / f"{name}.ctn")
        assert main(["train", "--data", str(tmp_path / name), "--hidden", "4", "--seed", "3", "--max-sweeps", "1",
                     "--no-progress", "-o", model]) == 0
        capsys.readouterr()
        assert main(["evaluate", model, "--data", str(tmp_path / name)]) == 0
        assert ("note: the model was trained with seed 3" in capsys.readouterr().err) == noted, name


def test_main_leaves_sigterm_as_found_and_runs_in_a_thread(capsys):
    # main() turns SIGTERM into an exception while it runs; called from a thread (where Python sets no
    # handler) it crashed putting one back, and its exit status was lost
    import signal
    import threading

    assert main(["datasets"]) == 0
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    codes = []
    thread = threading.Thread(target=lambda: codes.append(main(["datasets"])))
    thread.start()
    thread.join()
    assert codes == [0]
    capsys.readouterr()


def test_a_data_path_that_is_not_utf8_prints_on_a_strict_stdout(tmp_path, digits_model, monkeypatch):
    # an old zip's caf\xe9: stdout of a desktop's en_US.UTF-8 locale is strict, and evaluate failed with
    # "'utf-8' codec can't encode character '\udce9'" after its work
    import io
    import sys

    _, model = digits_model
    data = load_dataset("digits")
    path = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"caf\xe9.npz"))
    np.savez(path, X_train=data.X_train, y_train=data.y_train, X_val=data.X_val, y_val=data.y_val)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["evaluate", str(model), "--data", path]) == 0
    out.flush()
    assert b"caf\\udce9.npz, val split" in out.buffer.getvalue() and out.errors == "strict"
