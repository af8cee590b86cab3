"""`connttra-neuro deploy`: resources, a run with agreement, exports, and clean errors."""

from __future__ import annotations

import json
import os

import pytest

from connttra_neuro.cli import main
from connttra_neuro.modelfile import save
from connttra_neuro.network import random_network
from hardware_targets import registry
from hardware_targets.reference import ReferenceTarget
from hardware_targets.registry import target_names


@pytest.fixture
def iris_model(tmp_path):
    return str(save(random_network((4, 10, 3), levels=3, seed=0), tmp_path / "iris.ctn"))


def test_resources_without_data(iris_model, capsys):
    assert main(["deploy", iris_model, "--target", "reference"]) == 0
    text = capsys.readouterr().out
    assert "reference: fits" in text and "synapses" in text and "hidden layer 0" in text


def test_run_with_data_reports_agreement_json(iris_model, capsys):
    assert main(["deploy", iris_model, "--target", "reference", "--data", "iris", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["target"] == "reference" and d["run"]["status"] == "exact"
    assert d["run"]["agreeing"] == d["run"]["n_samples"] == 30
    assert d["run"]["accuracy"] == pytest.approx(1 - d["run"]["trained_model_error"])
    assert d["resources"]["neurons"] == 13


def test_exports_write_files(iris_model, tmp_path, capsys):
    nir_path, netx_path = tmp_path / "m.nir", tmp_path / "m.net"
    code = main(["deploy", iris_model, "--target", "reference", "--export-nir", str(nir_path),
                 "--export-netx", str(netx_path)])  # fmt: skip
    assert code == 0
    assert nir_path.stat().st_size > 0 and netx_path.stat().st_size > 0
    import nir

    graph = nir.read(str(nir_path))
    assert len(graph.nodes) >= 3  # input, layers, output


def test_export_paths_are_checked_before_anything_runs(iris_model, tmp_path, capsys):
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    for flag, path, message in (("--export-nir", tmp_path / "adir", "is a directory"),
                                ("--export-netx", tmp_path / "afile" / "x.net", "is a file")):
        assert main(["deploy", iris_model, "--target", "loihi2", flag, str(path)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert not any((tmp_path / "adir").iterdir())


def test_a_refused_netx_export_writes_no_nir_file_either(tmp_path, capsys):
    from connttra_neuro.network import OutputLayer

    net = random_network((4, 10, 3), levels=3, seed=0)
    model = save(net.replace(output=OutputLayer(net.output.weights, net.output.biases + 5000)), tmp_path / "m.ctn")
    nir_path, netx_path = tmp_path / "m.nir", tmp_path / "m.net"
    assert main(["deploy", str(model), "--target", "reference", "--export-nir", str(nir_path),
                 "--export-netx", str(netx_path)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "output bias in netx" in err
    # the refusal is the file's, not the target's (it read "error: loihi2: ..." on a loihi2 deploy): say so
    assert f"--export-netx {netx_path}: a netx file cannot hold this model exactly, so nothing was written" in err
    assert "Drop --export-netx to deploy and run it on reference" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ctn"]
    assert main(["deploy", str(model), "--target", "loihi2", "--export-netx", str(netx_path)]) == 2
    assert "Drop --export-netx to deploy and run it on loihi2 (the loihi2 target runs it exactly)" in (
        capsys.readouterr().err)
    # before the data too: digits has 64 features, the model 4; the netx refusal is the one to fix first
    assert main(["deploy", str(model), "--target", "reference", "--data", "digits",
                 "--export-netx", str(netx_path)]) == 2  # fmt: skip
    assert "output bias in netx" in capsys.readouterr().err


def test_exports_get_the_usual_file_mode(iris_model, tmp_path):
    import os

    from connttra_neuro.modelfile import load
    from hardware_targets.loihi2 import export_netx, export_nir

    old = os.umask(0o022)
    try:
        for export, name in ((export_nir, "m.nir"), (export_netx, "m.net")):
            assert export(load(iris_model), tmp_path / name).stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(old)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--target", "reference", "--codegen", "cython"], "--codegen applies only to target brian2"),
        (["--target", "reference", "--noise", "weight_sigma=0.1"], "--noise applies only to target brian2"),
        (["--target", "reference,brian2"], "--target takes one target name"),
        (["--target", "nope"], "unknown target(s) nope"),
        (["--target", "reference", "--n", "5"], "--n needs --data"),
        (["--target", "reference", "--split", "train"], "--split needs --data"),
    ],
)
def test_clean_errors(iris_model, capsys, argv, message):
    assert main(["deploy", iris_model, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_network_too_big_for_target_names_the_limit(tmp_path, capsys):
    if "loihi2" not in target_names():
        pytest.skip("loihi2 target not registered")
    # 5,000 input spikes into one neuron: more input axons than a Loihi core has
    net = random_network((5000, 3, 2), seed=0)
    path = str(save(net, tmp_path / "wide.ctn"))
    assert main(["deploy", path, "--target", "loihi2"]) == 2
    err = capsys.readouterr().err
    assert "loihi2: hidden layer 0: fan-in" in err and "Traceback" not in err


@pytest.mark.brian2
@pytest.mark.timeout(120)
def test_brian2_noise_is_reported_as_an_expected_difference(iris_model, capsys):
    if "brian2" not in target_names():
        pytest.skip("brian2 target not registered")
    code = main(["deploy", iris_model, "--target", "brian2", "--noise", "weight_sigma=0.5,seed=1", "--data", "iris",
                 "--json"])  # fmt: skip
    d = json.loads(capsys.readouterr().out)
    # a robustness study: the difference is reported, but it is not a failed deployment
    assert code == 0 and d["run"]["status"] == "mismatch"
    assert d["run"]["device_noise"].startswith("weight_sigma=0.5")
    main(["deploy", iris_model, "--target", "brian2", "--noise", "weight_sigma=0.5,seed=1", "--data", "iris"])
    assert "differs under device noise (weight_sigma=0.5" in capsys.readouterr().out
    # the same run without noise is exact, with no noise recorded
    assert main(["deploy", iris_model, "--target", "brian2", "--data", "iris", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["run"]["status"] == "exact" and d["run"]["device_noise"] is None


@pytest.mark.parametrize("command", ["deploy", "verify", "evaluate"])
def test_n_beyond_the_split_names_the_flag(iris_model, tmp_path, capsys, command):
    extra = {"deploy": ["--target", "reference", "--export-nir", str(tmp_path / "m.nir")],
             "verify": ["--targets", "reference", "--out", str(tmp_path / "report")],
             "evaluate": []}[command]  # fmt: skip
    assert main([command, iris_model, "--data", "iris", "--n", "500", *extra]) == 2
    err = capsys.readouterr().err
    assert "--n 500: the val split of iris has only 30 samples" in err and "Traceback" not in err
    assert not any(tmp_path.glob("m.nir*"))  # deploy loads the data before it writes an export
    assert main([command, iris_model, "--data", "iris", "--split", "train", "--n", "121", *extra]) == 2
    assert "--n 121: the train split of iris has only 120 samples" in capsys.readouterr().err


def test_an_output_that_is_an_input_or_another_output_is_refused(iris_model, tmp_path, capsys):
    nir = str(tmp_path / "x.nir")
    cases = [(["deploy", iris_model, "--target", "reference", "--export-nir", iris_model], "the model file"),
             (["deploy", iris_model, "--target", "reference", "--export-nir", nir, "--export-netx", nir],
              "--export-netx"),
             (["verify", iris_model, "--data", "iris", "--targets", "reference", "--json", iris_model,
               "--out", str(tmp_path / "r")], "--json"),
             (["train", "--data", iris_model, "--hidden", "4", "-o", iris_model], "-o")]  # fmt: skip
    before = (tmp_path / "iris.ctn").read_bytes()
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "same file as" in err and "Traceback" not in err
    assert (tmp_path / "iris.ctn").read_bytes() == before and not (tmp_path / "x.nir").exists()


@pytest.mark.brian2
@pytest.mark.timeout(300)
def test_a_noise_spec_without_faults_is_named_and_needs_data(iris_model, capsys):
    run = ["deploy", iris_model, "--target", "brian2", "--data", "iris", "--n", "5", "--noise"]
    for spec in ("seed=3", ","):
        assert main([*run, spec]) == 0
        assert f"--noise {spec!r} sets no fault" in capsys.readouterr().err
    assert main([*run, "none"]) == 0
    assert "sets no fault" not in capsys.readouterr().err
    # without --data deploy only compiles and exports: the noise would do nothing
    assert main(["deploy", iris_model, "--target", "brian2", "--noise", "weight_sigma=0.1"]) == 2
    assert "--noise needs --data" in capsys.readouterr().err


def test_exports_do_not_replace_files_of_another_kind(iris_model, tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    for flag in ("--export-nir", "--export-netx"):
        assert main(["deploy", iris_model, "--target", "reference", flag, str(notes)]) == 2
        assert f"{flag} {notes} exists and is not an HDF5 file" in capsys.readouterr().err
    import h5py

    with h5py.File(tmp_path / "weights.h5", "w") as f:  # a user's HDF5 file of another format: not an export
        f.create_dataset("kernel", data=[1.0])
    for flag in ("--export-nir", "--export-netx"):
        assert main(["deploy", iris_model, "--target", "reference", "--data", "iris", flag,
                     str(tmp_path / "weights.h5")]) == 2
        err = capsys.readouterr().err
        assert f"{flag} {tmp_path / 'weights.h5'} exists and is not a NIR or netx export" in err
        assert "running" not in err and "deploy: reference" not in err  # refused before the data and the run
    assert main(["verify", iris_model, "--data", "iris", "--targets", "reference", "--no-plots",
                 "--out", str(tmp_path / "r"), "--json", str(notes)]) == 2
    assert "is not a parity report (verify's JSON)" in capsys.readouterr().err
    assert notes.read_text() == "keep me"
    config = tmp_path / "config.json"  # JSON, but not a report: replaced before, since every JSON starts alike
    config.write_text('{"important": "config"}')
    assert main(["verify", iris_model, "--data", "iris", "--targets", "reference", "--no-plots",
                 "--out", str(tmp_path / "r"), "--json", str(config)]) == 2
    assert f"--json {config} exists and is not a parity report" in capsys.readouterr().err
    assert config.read_text() == '{"important": "config"}' and not (tmp_path / "r").exists()
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "parity.json").write_text("[1, 2]")
    assert main(["verify", iris_model, "--data", "iris", "--targets", "reference", "--no-plots",
                 "--out", str(tmp_path / "r")]) == 2
    assert "parity.json exists and is not a parity report" in capsys.readouterr().err
    for _ in range(2):  # its own report is replaced
        assert main(["verify", iris_model, "--data", "iris", "--targets", "reference", "--no-plots",
                     "--out", str(tmp_path / "r2"), "--json", str(tmp_path / "p.json")]) == 0
    nir_path = tmp_path / "m.nir"
    for _ in range(2):  # an earlier export of its own kind is replaced
        assert main(["deploy", iris_model, "--target", "reference", "--export-nir", str(nir_path)]) == 0


class _Noise:
    active = True

    def __str__(self):
        return "weight_sigma=0.5,seed=1"


class NoisyCrash(ReferenceTarget):
    """Registered under a test name: a target with device noise on whose run fails."""

    name = "noisy-crash"
    noise = _Noise()

    def run(self, compiled, spikes, *, record_hidden=False):
        raise RuntimeError("simulator crashed")


def test_a_noisy_target_that_failed_to_run_is_no_expected_difference(iris_model, capsys, monkeypatch):
    # under --noise a *difference* is the point of the run (exit 0); a run that never happened is not
    monkeypatch.setitem(registry._TARGETS, "noisy-crash", (__name__, "NoisyCrash"))
    assert main(["deploy", iris_model, "--target", "noisy-crash", "--data", "iris", "--json"]) == 1
    run = json.loads(capsys.readouterr().out)["run"]
    assert run["status"] == "failed" and "simulator crashed" in run["failure"]
    assert main(["deploy", iris_model, "--target", "noisy-crash", "--data", "iris"]) == 1
    assert "run        FAILED: RuntimeError: simulator crashed" in capsys.readouterr().out


def test_outputs_that_are_one_file_through_a_link_are_refused(iris_model, tmp_path, capsys):
    # a link to where the other export goes (its target need not exist yet): the second would replace the first
    nir = tmp_path / "m.nir"
    os.symlink(nir, tmp_path / "link.net")
    assert main(["deploy", iris_model, "--target", "reference", "--export-nir", str(nir),
                 "--export-netx", str(tmp_path / "link.net")]) == 2
    err = capsys.readouterr().err
    assert "--export-netx" in err and "same file as --export-nir" in err
    assert not nir.exists()
    # the model given through a link and an export aimed at the file itself: named as the model file
    # (check_replaceable would also refuse it, as "not an HDF5 file", which hides why)
    os.symlink(iris_model, tmp_path / "link.ctn")
    assert main(["deploy", str(tmp_path / "link.ctn"), "--target", "reference", "--export-nir", iris_model]) == 2
    assert "same file as the model file" in capsys.readouterr().err


def test_accuracy_is_the_target_s_and_the_trained_model_s_is_beside_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(registry._TARGETS, "silent-hidden", ("tests.networks", "SilentFirstLayer"))
    model = str(save(random_network((4, 10, 3), levels=3, seed=2), tmp_path / "iris.ctn"))
    assert main(["deploy", model, "--target", "silent-hidden", "--data", "iris", "--json"]) == 1
    run = json.loads(capsys.readouterr().out)["run"]
    assert run["error"] != run["trained_model_error"]  # seed 2: 67% against 90%, so a swap shows
    assert run["accuracy"] == 1 - run["error"]
    assert main(["deploy", model, "--target", "silent-hidden", "--data", "iris"]) == 1
    assert (f"accuracy {1 - run['error']:.2%} (trained model {1 - run['trained_model_error']:.2%})"
            in capsys.readouterr().out)


def test_an_empty_file_at_an_output_path_is_replaced(tmp_path, capsys):
    # `touch out.nir` (or a write that crashed before this version wrote atomically): nothing to lose
    model = str(save(random_network((4, 10, 3), levels=3, seed=0), tmp_path / "iris.ctn"))
    for name in ("m.nir", "p.json"):
        (tmp_path / name).write_bytes(b"")
    assert main(["deploy", model, "--target", "reference", "--export-nir", str(tmp_path / "m.nir")]) == 0
    assert main(["verify", model, "--data", "iris", "--targets", "reference", "--no-plots",
                 "--out", str(tmp_path / "r"), "--json", str(tmp_path / "p.json")]) == 0
    assert (tmp_path / "m.nir").read_bytes().startswith(b"\x89CTNIR") and json.loads((tmp_path / "p.json").read_text())


def test_loihi2_settings_its_limits_name_are_flags(iris_model, monkeypatch, capsys):
    # "allow more chips (max_chips=)" was a constructor keyword the command line could not pass
    from hardware_targets import registry

    made = []
    real = registry.get_target
    monkeypatch.setattr(registry, "get_target", lambda name, **kw: made.append((name, kw)) or real(name, **kw))
    assert main(["deploy", iris_model, "--target", "loihi2", "--max-chips", "2", "--weight-bits", "6"]) == 0
    assert made[-1] == ("loihi2", {"max_chips": 2, "weight_bits": 6})
    assert main(["deploy", iris_model, "--target", "brian2", "--max-chips", "2"]) == 2
    assert "--max-chips applies only to target loihi2, not to the chosen target(s): brian2" in capsys.readouterr().err
    assert main(["deploy", iris_model, "--target", "loihi2", "--max-chips", "0"]) == 2
    assert "max_chips" in capsys.readouterr().err  # the target's own named error


def test_the_energy_estimate_is_in_a_readable_unit(tmp_path, capsys):
    # a wide network's estimate read "Loihi energy estimate 8.11e+03 nJ" (verify's table: "8.11 uJ")
    model = str(save(random_network((4, 10000, 3), levels=3, seed=0, density=0.5), tmp_path / "wide.ctn"))
    assert main(["deploy", model, "--target", "reference", "--data", "iris", "--json"]) == 0
    energy = json.loads(capsys.readouterr().out)["run"]["loihi_energy_joules_per_inference"]
    assert 1e-6 <= energy < 1e-3
    assert main(["deploy", model, "--target", "reference", "--data", "iris"]) == 0
    assert f"Loihi energy estimate {energy * 1e6:.3g} uJ" in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--export-netx", "--export-nir"])
def test_an_export_on_a_full_disk_is_one_line_and_leaves_nothing(iris_model, tmp_path, flag):
    # a file-size limit makes every write past 4 KiB fail (EFBIG), as a full disk would, also for
    # HDF5's own C writes: writing the netx file to disk from h5py failed in its destructors
    # (tracebacks, then a segmentation fault that left the temporary file behind)
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "exports" / "m.h5"
    out.parent.mkdir()
    script = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
              "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096)); from connttra_neuro.cli import main; "
              "sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", script, "deploy", iris_model, "--target", "reference", flag,
                           str(out)], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == f"connttra-neuro deploy: error: [Errno 27] cannot write {out}: File too large"
    assert list(out.parent.iterdir()) == []


def test_an_interrupted_deploy_says_which_exports_it_wrote(iris_model, tmp_path, capsys, monkeypatch):
    # a Ctrl-C during the run said only "connttra-neuro: interrupted": were the exports (written before the
    # run) replaced, half-written, or left as they were?
    import connttra_neuro.verify as verify_module
    import hardware_targets.loihi2 as loihi2

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    nir_path, netx_path = tmp_path / "m.nir", tmp_path / "m.net"
    argv = ["deploy", iris_model, "--target", "reference", "--export-nir", str(nir_path),
            "--export-netx", str(netx_path)]
    monkeypatch.setattr(verify_module, "verify", interrupted)  # mid-run: both exports are written
    assert main([*argv, "--data", "iris"]) == 130
    err = capsys.readouterr().err
    assert (f"deploy: stopped; written (whole) before the stop: --export-nir {nir_path}, --export-netx "
            f"{netx_path}") in err
    nir_path.unlink()
    netx_path.unlink()
    monkeypatch.setattr(loihi2, "export_netx", interrupted)  # between the two exports
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert (f"written (whole) before the stop: --export-nir {nir_path}; not written, as it was: --export-netx "
            f"{netx_path}") in err
    assert nir_path.exists() and not netx_path.exists()
    monkeypatch.setattr(loihi2, "export_nir", interrupted)  # no exports asked for: nothing to say
    assert main(["deploy", iris_model, "--target", "reference", "--data", "iris"]) == 130
    assert "deploy: stopped" not in capsys.readouterr().err
