"""The examples run from the repository root with small settings; the demo's broken deployment is caught."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from connttra_neuro.cli import build_parser, main
from connttra_neuro.cli.demo import OffByOneThreshold
from connttra_neuro.network import HiddenLayer, random_network
from connttra_neuro.verify import verify
from hardware_targets import registry
from hardware_targets.reference import ReferenceTarget
from hardware_targets.registry import target_names

ROOT = Path(__file__).resolve().parent.parent


def _run(script: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.lava
@pytest.mark.timeout(240)
def test_train_and_export_loihi_example(tmp_path):
    if "loihi2" not in target_names():
        pytest.skip("loihi2 target not registered")
    r = _run("train_and_export_loihi.py", "--quick", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "scores identical to the trained model: True" in r.stdout
    for name in ("model.ctn", "model.nir", "model.net"):
        assert (tmp_path / name).stat().st_size > 0
    # the printed validation error is the saved network's (keep_best), not the last sweep's
    from connttra_neuro.modelfile import load

    kept = load(tmp_path / "model.ctn").metadata["metrics"]
    assert f"validation error {kept['val_error']:.2%} (sweep {kept['sweep']} of " in r.stdout


@pytest.mark.timeout(180)
def test_image_folder_example(tmp_path):
    r = _run("image_folder.py", "--quick", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(list((tmp_path / "digits" / "seven").glob("*.png"))) == 179  # 1,797 digits, 179 sevens
    assert "10 classes by sorted folder name (0 eight, 1 five" in r.stdout
    assert "     seven: " in r.stdout  # per-class accuracy by name, from the model's metadata
    # the model records what `connttra-neuro train` records, so predict refuses images of another shape
    from connttra_neuro.modelfile import load

    metadata = load(tmp_path / "model.ctn").metadata
    assert list(metadata["input_shape"]) == [8, 8] and metadata["class_names"][0] == "eight"


@pytest.mark.slow
@pytest.mark.brian2
@pytest.mark.timeout(240)
def test_edge_inference_brian2_example():
    if "brian2" not in target_names():
        pytest.skip("brian2 target not registered")
    r = _run("edge_inference_brian2.py", "--quick")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "brian2 + noise" in r.stdout and "MISMATCH" in r.stdout  # the noisy run is caught


@pytest.mark.slow
@pytest.mark.brian2
@pytest.mark.timeout(240)
def test_edge_inference_brian2_example_runs_a_model_on_its_own_data(tmp_path):
    """--model without --data runs the model on the data it was trained on (it ran every model on iris)."""
    if "brian2" not in target_names():
        pytest.skip("brian2 target not registered")
    model = tmp_path / "digits.ctn"
    assert main(["train", "--data", "digits", "--hidden", "4", "--max-sweeps", "1", "-o", str(model)]) == 0
    r = _run("edge_inference_brian2.py", "--model", str(model), "--n", "20")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Brian2 (numpy) on digits: 20 samples" in r.stdout
    r = _run("edge_inference_brian2.py", "--model", str(model), "--data", "iris")
    assert r.returncode == 2 and "iris has 4 features per sample, the model takes 64" in r.stderr
    r = _run("edge_inference_brian2.py", "--model", str(model), "--n", "-5")
    assert r.returncode == 2 and "--n takes the number of samples to run, at least 1, got -5" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["--noise", "foo=1"], "noise: unknown key 'foo'"),
    (["--model", "missing.ctn"], "missing.ctn: no such model file"),
])
def test_edge_inference_brian2_example_refuses_a_bad_noise_or_model_before_training(args, message):
    # a bad --noise was a traceback after training and the clean Brian2 run; a missing --model a traceback
    r = _run("edge_inference_brian2.py", "--quick", *args)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert "Brian2 (numpy)" not in r.stdout


@pytest.mark.slow
@pytest.mark.lava
@pytest.mark.brian2
@pytest.mark.timeout(300)
def test_software_vs_neuromorphic_example(tmp_path):
    r = _run("software_vs_neuromorphic.py", "--quick", "--data", "iris", "--n", "30", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "multiply-accumulates" in r.stdout
    assert (tmp_path / "parity.html").exists() and (tmp_path / "plots" / "operations.png").exists()


@pytest.mark.parametrize("n", ["-5", "0"])
def test_software_vs_neuromorphic_example_refuses_n_below_one_before_training(tmp_path, n):
    # --n -5 ran all but the last 5 validation samples (a slice from the end), --n 0 none
    r = _run("software_vs_neuromorphic.py", "--quick", "--n", n, "--out", str(tmp_path))
    assert r.returncode == 2 and f"--n takes the number of samples to run, at least 1, got {n}" in r.stderr
    assert "verify:" not in r.stdout and not any(tmp_path.iterdir())


def test_demo_refuses_n_verify_below_one_before_training(tmp_path, capsys):
    from connttra_neuro.cli import main

    for n in ("0", "-5"):
        assert main(["demo", "--quick", "--data", "iris", "--n-verify", n, "--out", str(tmp_path)]) == 2
        assert "--n-verify must be a positive number of samples" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
    (tmp_path / "afile").write_text("x")
    assert main(["demo", "--quick", "--out", str(tmp_path / "afile")]) == 2
    assert "afile is a file; it needs a folder" in capsys.readouterr().err
    assert main(["demo", "--quick", "--data", "mnist", "--out", str(tmp_path / "d")]) == 2  # needs a path
    assert "--data mnist is not here" in capsys.readouterr().err and not (tmp_path / "d").exists()


def test_demo_is_a_command_and_its_broken_deployment_is_diagnosed():
    args = build_parser().parse_args(["demo", "--out", "x", "--quick"])
    assert args.command == "demo" and args.quick
    net = random_network((6, 10, 7, 3), seed=3)
    X = np.random.default_rng(0).random((120, 6))
    y = np.zeros(120, int)
    faulty = OffByOneThreshold.for_network(net, net.encode(X))
    assert faulty is not None
    t = verify(net, [faulty], X, y).targets[0]
    assert t.status == "mismatch"
    assert t.first_differing_layer == f"hidden layer {faulty.layer}"
    assert t.layers[faulty.layer].neurons == [faulty.neuron]


class SilentNeuron(ReferenceTarget):
    """A deployment whose hidden neuron 0 never fires."""

    def compile(self, network):
        h = list(network.hidden)
        t = h[0].thresholds.copy()
        t[0] = 10_000
        h[0] = HiddenLayer(h[0].weights, t)
        return super().compile(network.replace(hidden=tuple(h)))

    def resources(self, network):  # a chip-sized count: the demo prints it as deploy does (33,951)
        return {**super().resources(network), "synaptic_memory_bits": 33_951}


def test_demo_says_and_exits_1_when_a_target_differs(tmp_path, capsys, monkeypatch):
    # the demo's own verdict, not only verify's: a target that departs from the trained model must not
    # end in "every target matches" and exit 0. Tiny run: reference and a broken "brian2", no comparison.
    import connttra_neuro.train as train

    def no_comparison(*args, **kwargs):
        raise RuntimeError("skipped in this test")

    monkeypatch.setattr(train, "compare_methods", no_comparison)
    monkeypatch.setattr(registry, "_TARGETS", {"reference": registry._TARGETS["reference"],
                                               "brian2": (__name__, "SilentNeuron")})
    assert main(["demo", "--quick", "--data", "iris", "--n-verify", "30", "--out", str(tmp_path / "d")]) == 1
    out = capsys.readouterr().out
    assert "SOME TARGET DIFFERS" in out and "every target matches" not in out
    summary = (tmp_path / "d" / "README.md").read_text()
    assert re.search(r"^brian2\s+MISMATCH", summary, re.M)
    assert "A deliberately faulty target that moves the threshold of neuron 0 in hidden layer 0 by +1" in summary
    assert re.search(r"^- \*\*brian2\*\*: .*synaptic_memory_bits 33,951", summary, re.M)


def test_demo_refuses_a_user_file_in_its_faulty_report_folder(tmp_path, capsys):
    out = tmp_path / "d"
    (out / "faulty-parity").mkdir(parents=True)
    (out / "faulty-parity" / "parity.md").write_text("# my notes\n")
    assert main(["demo", "--quick", "--data", "iris", "--out", str(out)]) == 2
    assert "parity.md exists and is not a file this command writes" in capsys.readouterr().err
    assert (out / "faulty-parity" / "parity.md").read_text() == "# my notes\n"
    assert sorted(p.name for p in out.iterdir()) == ["faulty-parity"]


def test_quick_verifies_at_most_60_samples(tmp_path, capsys, monkeypatch):
    import connttra_neuro.cli.demo as demo

    seen = []
    monkeypatch.setattr(demo, "run_demo", lambda out, **settings: seen.append(settings["n_verify"]) or 0)
    for extra, n in (([], 60), (["--n-verify", "100"], 60), (["--n-verify", "30"], 30)):
        assert main(["demo", "--quick", "--data", "iris", "--out", str(tmp_path / "d"), *extra]) == 0
        assert seen[-1] == n, extra
    assert "--quick verifies at most 60 samples (asked for 100)" in capsys.readouterr().out


def test_an_interrupted_demo_says_what_its_folder_holds(tmp_path, capsys, monkeypatch):
    # Ctrl-C mid-demo left this run's model and reports beside an earlier run's README, unsaid
    import connttra_neuro.train as train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "compare_methods", interrupted)  # step 2, after step 1 saved the model
    assert main(["demo", "--quick", "--data", "iris", "--out", str(tmp_path / "d")]) == 130
    err = capsys.readouterr().err
    assert f"demo: stopped before its end: {tmp_path / 'd'} may hold this run's files" in err
    assert (tmp_path / "d" / "model.ctn").exists() and not (tmp_path / "d" / "README.md").exists()


def test_demo_refuses_an_hdf5_file_that_is_not_an_export_before_training(tmp_path, capsys):
    # the export replaced any HDF5 file, and its own check came only at step 3, after training
    import h5py

    (tmp_path / "d").mkdir()
    with h5py.File(tmp_path / "d" / "model.nir", "w") as f:
        f.create_dataset("kernel", data=[1.0])
    assert main(["demo", "--quick", "--data", "iris", "--out", str(tmp_path / "d")]) == 2
    out, err = capsys.readouterr()
    assert "model.nir exists and is not a NIR or netx export" in err and "[1/6]" not in out
