"""``connttra-neuro train`` / ``compare`` and the comparison API on tiny settings."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from connttra_neuro import modelfile
from connttra_neuro.cli import main
from connttra_neuro.datasets import load_dataset
from connttra_neuro.network import thaw_metadata
from connttra_neuro.train import compare_methods, format_table
from hardware_targets.reference import forward

from .networks import stacked_then_fit


@pytest.mark.parametrize("joint", [False, True])
def test_train_checkpoint_and_resume(tmp_path, capsys, joint):
    out = tmp_path / "m.ctn"
    base = ["train", "--data", "iris", "--hidden", "8", "--levels", "3", "--seed", "2", "--no-progress"]
    args = [*base, "--joint-moves"] if joint else base
    assert main([*args, "--max-sweeps", "2", "-o", str(out)]) in (0,)
    ckpt = tmp_path / "m.ctn.ckpt"
    assert out.exists() and ckpt.exists()
    saved = thaw_metadata(modelfile.load(ckpt).metadata)["checkpoint"]
    assert len(saved["history"]) == 3  # sweep 0 (initial) + 2
    assert saved["settings"]["joint_moves"] is joint
    # resumed without the flag: the run's settings come from the checkpoint
    assert main([*base, "--max-sweeps", "4", "-o", str(tmp_path / "r.ctn"), "--resume", str(ckpt)]) == 0
    assert main([*args, "--max-sweeps", "4", "-o", str(tmp_path / "f.ctn")]) == 0
    assert not (tmp_path / "r.ctn.ckpt").exists()  # the resumed run continues in the checkpoint it resumed
    resumed, full = modelfile.load(ckpt), modelfile.load(tmp_path / "f.ctn.ckpt")
    assert resumed.layers[0].weights.tolist() == full.layers[0].weights.tolist()
    assert thaw_metadata(resumed.metadata)["checkpoint"]["history"][-1]["loss"] == \
        thaw_metadata(full.metadata)["checkpoint"]["history"][-1]["loss"]
    data = load_dataset("iris", seed=2)
    net = modelfile.load(out)
    scores, _ = forward(net, net.encode(data.X_val))
    err = float(np.mean(np.argmax(scores, axis=1) != data.y_val))
    assert err == thaw_metadata(net.metadata)["metrics"]["val_error"]
    assert "saved" in capsys.readouterr().out


def test_plot_shows_the_run_and_its_resumed_sweeps(tmp_path, capsys, monkeypatch):
    from matplotlib.image import imread

    args = ["train", "--data", "iris", "--hidden", "8", "--levels", "3", "--seed", "2", "--no-progress"]
    assert main([*args, "--max-sweeps", "3", "-o", str(tmp_path / "m.ctn"), "--plot", str(tmp_path / "a.png")]) == 0
    assert f"plot: {tmp_path / 'a.png'}" in capsys.readouterr().out
    picture = imread(tmp_path / "a.png")
    assert picture.shape[0] > 300 and picture.shape[1] > 800 and picture.std() > 0.05  # drawn, not blank
    import connttra_neuro.train.plots as plots

    drawn = []
    real = plots.plot_history
    monkeypatch.setattr(plots, "plot_history", lambda history, *a, **k: drawn.append(history) or real(history, *a, **k))
    assert main([*args, "--max-sweeps", "5", "-o", str(tmp_path / "m.ctn"), "--resume", str(tmp_path / "m.ctn.ckpt"),
                 "--plot", str(tmp_path / "b.png")]) == 0  # fmt: skip
    assert [r["sweep"] for r in drawn[0]] == [0, 1, 2, 3, 4, 5]  # the earlier sweeps too
    assert imread(tmp_path / "b.png").shape == picture.shape
    with pytest.raises(ValueError, match="at least one history record"):
        plots.plot_history([], tmp_path / "c.png")
    # the plot may not overwrite the checkpoint being resumed
    assert main([*args, "--max-sweeps", "6", "-o", str(tmp_path / "n.ctn"), "--resume", str(tmp_path / "m.ctn.ckpt"),
                 "--plot", str(tmp_path / "m.ctn.ckpt")]) == 2  # fmt: skip
    assert "--plot" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "m.ctn", "m.ctn.ckpt"]
    assert modelfile.load(tmp_path / "m.ctn.ckpt")


def test_plot_history_draws_losses_of_zero_and_runs_without_validation(tmp_path):
    import warnings

    from connttra_neuro.train.plots import plot_history

    history = [{"sweep": i, "loss": max(0, 3 - i), "train_error": 0.1 / (i + 1), "val_error": None,
                "changed": 5 * i, "seconds": 0.1 * i} for i in range(6)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns when a log axis gets no positive value
        assert plot_history(history, tmp_path / "z.png", best=5).stat().st_size > 0


def _history(losses, start_loss=45.0):
    """A run's history_ shaped like digits': sweep 0 at chance, then falling errors and losses."""
    return [{"sweep": 0, "loss": start_loss, "train_error": 0.9, "val_error": 0.899, "changed": 0, "seconds": 0.0}] + [
        {"sweep": i, "loss": loss, "train_error": 0.18 / i ** 0.5, "val_error": 0.21 / i ** 0.4,
         "changed": 600 // i, "seconds": 0.06 * i} for i, loss in enumerate(losses, 1)]


@pytest.fixture
def history_figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from connttra_neuro.train.plots import _history_figure

    figures = []
    yield lambda history, **k: figures.append(_history_figure(plt, history, k.get("title"), k.get("best"),
                                                              k.get("jittered", True))) or figures[-1]
    for fig in figures:
        plt.close(fig)


def test_plot_history_panels_cover_the_same_sweeps_and_say_what_they_show(history_figure):
    fig = history_figure(_history(np.geomspace(5.35, 1.74, 15)), title="CoNNTrA on digits", best=13)
    fig.canvas.draw()
    left, right, changed = fig.axes
    assert left.get_xlim() == right.get_xlim()  # the start is left out of both, not only the errors
    assert min(x for line in (*left.get_lines()[:2], *right.get_lines()) for x in line.get_xdata()) == 1
    assert "45" in right.get_xlabel() and "90%" in left.get_xlabel()  # the start's values, in words
    assert left.get_title() and right.get_title()
    assert "drive jitter" in right.get_ylabel()
    assert "drive jitter" not in history_figure(_history([3, 2, 1]), jittered=False).axes[1].get_ylabel()
    assert fig.get_suptitle() == "CoNNTrA on digits: 15 sweeps in 0.9 s of training time"
    assert right.get_zorder() > changed.get_zorder()  # the loss line over the bars, not under them
    # 5.35 to 1.74 is under a decade: a log axis would label one tick (10^1) or none
    assert right.get_yscale() == "linear"
    renderer = fig.canvas.get_renderer()
    for text in (fig._suptitle, left.title, right.title, left.xaxis.label, right.xaxis.label, right.yaxis.label,
                 changed.yaxis.label):
        box = text.get_window_extent(renderer)
        assert fig.bbox.x0 - 1 <= box.x0 and box.x1 <= fig.bbox.x1 + 1 and box.y1 <= fig.bbox.y1 + 1, text


def test_plot_history_labels_a_log_loss_axis_with_several_ticks(history_figure):
    fig = history_figure(_history(np.geomspace(60, 1.5, 15), start_loss=90.0))
    fig.canvas.draw()
    right = fig.axes[1]
    assert right.get_yscale() == "log"
    low, high = right.get_ylim()
    labelled = [t.get_text() for t in right.get_yticklabels() if t.get_text() and low <= t.get_position()[1] <= high]
    assert len(labelled) >= 4 and "2" in labelled and "10" in labelled  # 2, 5, 10, 20, 50: plain numbers


@pytest.mark.parametrize("order", ["gradient", "random"])
def test_resume_keeps_the_defaults_the_run_resolved(tmp_path, capsys, monkeypatch, order):
    # a checkpoint written before a default changed continues with what it trained with
    import connttra_neuro.train.estimator as estimator
    import connttra_neuro.train.losses as losses

    args = ["train", "--data", "iris", "--hidden", "8", "--levels", "3", "--seed", "2", "--no-progress",
            "--coordinate-order", order]
    assert main([*args, "--max-sweeps", "2", "-o", str(tmp_path / "m.ctn")]) == 0
    before = thaw_metadata(modelfile.load(tmp_path / "m.ctn.ckpt").metadata)["settings"]
    monkeypatch.setattr(estimator, "default_jitter", lambda n: 99.0)  # beyond this network's drive range
    monkeypatch.setattr(losses, "default_margin", lambda h, n=None: 7)
    monkeypatch.setattr(losses, "default_temperature", lambda h: 3.0)  # as for sets with a common factor
    assert main([*args, "--max-sweeps", "3", "-o", str(tmp_path / "r.ctn"),
                 "--resume", str(tmp_path / "m.ctn.ckpt")]) == 0  # fmt: skip
    after = thaw_metadata(modelfile.load(tmp_path / "m.ctn.ckpt").metadata)["settings"]
    assert (after["jitter"], after["margin"]) == (before["jitter"], before["margin"]) == (12 ** 0.5 / 8, 1)
    assert after["inv_temperature"] == before["inv_temperature"] == 1 / (8 ** 0.5 / 2)  # not 1 / 3
    assert after["surrogate_width"] == before["surrogate_width"] == (0 if order == "random" else 1)
    # and it ends where the uninterrupted run ends
    monkeypatch.undo()
    assert main([*args, "--max-sweeps", "3", "-o", str(tmp_path / "f.ctn")]) == 0
    full = modelfile.load(tmp_path / "f.ctn.ckpt")
    assert modelfile.load(tmp_path / "m.ctn.ckpt").layers[0].weights.tolist() == full.layers[0].weights.tolist()


def test_resume_keeps_the_best_network_of_the_earlier_sweeps(tmp_path, capsys):
    # iris seed 2: the best sweep of 8 is sweep 6, sweeps 7 and 8 are worse
    args = ["train", "--data", "iris", "--hidden", "8", "--levels", "3", "--seed", "2", "--no-progress"]
    assert main([*args, "--max-sweeps", "8", "-o", str(tmp_path / "full.ctn")]) == 0
    full = modelfile.load(tmp_path / "full.ctn")
    assert thaw_metadata(full.metadata)["metrics"]["sweep"] == 6
    out = tmp_path / "m.ctn"
    assert main([*args, "--max-sweeps", "6", "-o", str(out)]) == 0
    assert main([*args, "--max-sweeps", "8", "-o", str(out), "--resume", str(tmp_path / "m.ctn.ckpt")]) == 0
    resumed = modelfile.load(out)
    assert thaw_metadata(resumed.metadata)["metrics"] == thaw_metadata(full.metadata)["metrics"]
    assert resumed.replace(metadata=full.metadata) == full
    assert "not available" not in capsys.readouterr().err

    # the best network's file gone, the best (6) not the checkpoint's own sweep (7): said so, and the
    # resumed run keeps the best of its own sweeps
    assert main([*args, "--max-sweeps", "7", "-o", str(tmp_path / "g.ctn")]) == 0
    (tmp_path / "g.ctn").unlink()
    assert main([*args, "--max-sweeps", "8", "-o", str(tmp_path / "h.ctn"), "--resume",
                 str(tmp_path / "g.ctn.ckpt")]) == 0
    assert "best network of the earlier sweeps is not available" in capsys.readouterr().err
    assert thaw_metadata(modelfile.load(tmp_path / "h.ctn").metadata)["metrics"]["sweep"] == 8

    # gone, but the best is the checkpoint's own sweep: read from the checkpoint, the uninterrupted run's model
    assert main([*args, "--max-sweeps", "6", "-o", str(tmp_path / "k.ctn")]) == 0
    (tmp_path / "k.ctn").unlink()
    assert main([*args, "--max-sweeps", "8", "-o", str(tmp_path / "k.ctn"), "--resume",
                 str(tmp_path / "k.ctn.ckpt")]) == 0
    assert "not available" not in capsys.readouterr().err
    kept = modelfile.load(tmp_path / "k.ctn")  # its settings say the invocation that trained it: --max-sweeps 6
    assert thaw_metadata(kept.metadata)["metrics"] == thaw_metadata(full.metadata)["metrics"]
    assert kept.replace(metadata=full.metadata) == full


def test_ctrl_c_in_the_first_sweep_writes_nothing(tmp_path, capsys, monkeypatch):
    from connttra_neuro.train.driver import TrainState

    out = tmp_path / "m.ctn"
    out.write_bytes(b"CTNN\r\n\x1a\n an earlier model")  # an untrained network must not replace it
    args = ["train", "--data", "iris", "--hidden", "8", "--no-progress", "-o", str(out)]

    monkeypatch.setattr(TrainState, "sweep", _ctrl_c_in_sweep(1))  # the initial network exists by then
    assert main(args) == 130
    assert out.read_bytes() == b"CTNN\r\n\x1a\n an earlier model" and not (tmp_path / "m.ctn.ckpt").exists()
    assert "interrupted before a sweep finished; nothing saved" in capsys.readouterr().err


def test_train_bad_arguments_are_one_line_errors(tmp_path, capsys):
    assert main(["train", "--data", "no-such-set", "-o", str(tmp_path / "m")]) == 2
    assert main(["train", "--data", "iris", "--loss", "hinge", "--discrete-set", "1,1", "-o", str(tmp_path / "m"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "repeated" in err


def test_compare_methods_in_process_and_table():
    rows = compare_methods("iris", ("connttra", "ste", "mlp"), isolate=False, hidden=(8,), levels=3, max_sweeps=3,
                           epochs=3, seed=0)
    assert [r["method"] for r in rows] == ["connttra", "ste", "mlp"]
    for r in rows:
        for key in ("train_error", "val_error", "model_bytes", "peak_rss_bytes", "train_seconds", "history"):
            assert key in r
        assert 0 <= r["val_error"] <= 1 and r["history"]
        # the table's train time is the training steps' own clock (what the time plot draws), never the
        # wall time of the whole fit with its setup and per-step scoring
        assert r["train_seconds"] == r["history"][-1]["seconds"] != r["wall_seconds"], r["method"]
    assert rows[0]["weights_ratio_float64"] > 32  # packed ternary: 1.6 bits per weight
    table = format_table(rows)
    assert table.count("\n") == 4 and "| CoNNTrA |" in table
    json.dumps(rows, default=float)


def test_compare_joint_variant_is_the_hinge_with_joint_moves(monkeypatch):
    import connttra_neuro.train.estimator as estimator

    made = []
    real = estimator.CoNNTrA.fit

    def spy(self, *args, **kw):
        made.append((self.loss, self.joint_moves))
        return real(self, *args, **kw)
    monkeypatch.setattr(estimator.CoNNTrA, "fit", spy)
    rows = compare_methods("iris", ("connttra-hinge", "connttra-joint"), isolate=False, hidden=(8,), levels=3,
                           max_sweeps=2, seed=0)
    assert [r["label"] for r in rows] == ["CoNNTrA (hinge)", "CoNNTrA (hinge, joint moves)"]
    assert [r["loss"] for r in rows] == ["hinge", "hinge"]
    assert made[1] == ("hinge", False) and made[3] == ("hinge", True)  # each: warm-up fit, then the timed one


def test_compare_methods_gives_each_method_its_own_settings(monkeypatch):
    import connttra_neuro.train.baselines as baselines

    seen = {}
    for name in ("train_ste", "train_mlp"):
        real = getattr(baselines, name)

        def spy(*args, _real=real, _name=name, **kw):
            seen[_name] = kw
            return _real(*args, **kw)
        monkeypatch.setattr(baselines, name, spy)
    rows = compare_methods("iris", ("connttra", "ste", "mlp"), isolate=False, hidden=(8,), levels=3, seed=0,
                           max_sweeps=5, epochs=5, connttra={"max_sweeps": 2, "jitter": 0.0},
                           ste={"epochs": 3, "lr": 0.1}, mlp={"epochs": 4, "alpha": 1e-2})
    assert [len(r["history"]) for r in rows] == [2, 3, 4]
    assert seen["train_ste"]["lr"] == 0.1 and seen["train_mlp"]["alpha"] == 1e-2
    assert "alpha" not in seen["train_ste"] and "lr" not in seen["train_mlp"]


def test_compare_cli_passes_the_baselines_hyperparameters(tmp_path, monkeypatch, capsys):
    import connttra_neuro.train.compare as compare

    got = {}
    monkeypatch.setattr(compare, "compare_methods", lambda dataset, methods, **kw: got.update(kw) or [])
    monkeypatch.setattr(compare, "plot_curves", lambda *a, **k: tmp_path / "c.png")
    assert main(["compare", "--data", "iris", "--ste-lr", "0.03", "--mlp-alpha", "0.001", "-o", str(tmp_path)]) == 0
    assert got["ste"] == {"lr": 0.03} and got["mlp"] == {"alpha": 0.001}
    # iris: 30 epochs would be 30 Adam steps; the default gives the baselines 1,000, and says so
    assert got["epochs"] == 1000 and "backprop baselines: 1000 epochs" in capsys.readouterr().err
    assert main(["compare", "--data", "iris", "--epochs", "40", "-o", str(tmp_path)]) == 0
    assert got["epochs"] == 40 and "backprop baselines" not in capsys.readouterr().err
    # flags some methods do not take are named, not silently dropped
    assert main(["compare", "--data", "iris", "--loss", "xent", "--methods", "connttra,connttra-hinge,ste",
                 "--discrete-set=-2,-1,0,1,2", "-o", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "connttra-hinge trains with its own (hinge)" in err and "ste) is ternary" in err
    assert got["loss"] == "xent" and got["discrete_set"] == (-2, -1, 0, 1, 2)
    assert main(["compare", "--data", "iris", "--loss", "xent", "--methods", "connttra,ste", "-o", str(tmp_path)]) == 0
    assert "note" not in capsys.readouterr().err


def test_compare_takes_out_like_verify_and_demo(tmp_path):
    from connttra_neuro.cli import build_parser

    for flag in ("-o", "--output", "--out"):
        assert build_parser().parse_args(["compare", "--data", "iris", flag, str(tmp_path)]).output == str(tmp_path)


def test_resume_trains_on_the_run_s_own_data(tmp_path, capsys):
    # --seed also chooses the train/validation split: a resume without it must not train on seed 0's
    args = ["train", "--data", "iris", "--hidden", "8", "--levels", "3", "--no-progress"]
    assert main([*args, "--seed", "3", "--max-sweeps", "6", "-o", str(tmp_path / "full.ctn")]) == 0
    assert main([*args, "--seed", "3", "--max-sweeps", "3", "-o", str(tmp_path / "m.ctn")]) == 0
    ckpt = str(tmp_path / "m.ctn.ckpt")
    assert main([*args, "--max-sweeps", "6", "-o", str(tmp_path / "m.ctn"), "--resume", ckpt]) == 0
    assert (tmp_path / "m.ctn").read_bytes() == (tmp_path / "full.ctn").read_bytes()
    capsys.readouterr()
    for flag, value in (("--seed", "1"), ("--n-val", "20")):
        assert main([*args, flag, value, "--max-sweeps", "7", "-o", str(tmp_path / "m.ctn"), "--resume", ckpt]) == 2
        assert f"{flag} {value} differs from the run in" in capsys.readouterr().err
    assert main(["train", "--data", "digits", "--no-progress", "--max-sweeps", "7", "-o", str(tmp_path / "m.ctn"),
                 "--resume", ckpt]) == 2
    assert "--data digits differs" in capsys.readouterr().err
    # a resume whose budget is already spent is an error that says the budget counts the whole run
    assert main([*args, "--max-sweeps", "6", "-o", str(tmp_path / "n.ctn"), "--resume", ckpt]) == 2
    assert (f"the run in {ckpt} has done 6 sweeps (--max-sweeps 6 counts the whole run): give --max-sweeps above 6 "
            "to continue it") in capsys.readouterr().err
    assert not (tmp_path / "n.ctn").exists()


@pytest.mark.parametrize("flags, message", [
    (["--max-seconds", "-1"], "max_seconds (--max-seconds) must be a positive number"),
    (["--jitter", "-1"], "jitter (--jitter) must be a non-negative number"),
    (["--margin", "-1"], "margin (--margin) must be a positive integer"),
    (["--init-density", "2"], "init_density (--init-density) must be a fraction"),
    (["--batch-size", "0"], "batch_size (--batch-size) must be a positive integer"),
    (["--levels", "0"], "levels (--levels) must be a positive integer"),
    (["--discrete-set", "1"], "--discrete-set: discrete set needs at least two values")])
def test_a_bad_setting_names_its_flag_before_the_data_load(tmp_path, capsys, monkeypatch, flags, message):
    import connttra_neuro.cli.train as train_cli

    def must_not_load(args):
        raise AssertionError("loaded the data before checking the settings")

    monkeypatch.setattr(train_cli, "_load", must_not_load)
    assert main(["train", "--data", "iris", "--no-progress", "-o", str(tmp_path / "m.ctn"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_unwritable_outputs_are_refused_before_training(tmp_path, capsys, monkeypatch):
    import connttra_neuro.train.compare as compare
    from connttra_neuro.train.driver import TrainState

    def must_not_train(*a, **k):
        raise AssertionError("trained before checking the output path")

    monkeypatch.setattr(TrainState, "sweep", must_not_train)
    monkeypatch.setattr(compare, "compare_methods", must_not_train)
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    cases = [(["train", "--data", "iris", "--no-progress", "-o", str(tmp_path / "dir")], "is a directory"),
             (["train", "--data", "iris", "--no-progress", "-o", str(tmp_path / "m.ctn"), "--max-sweeps", "0"],
              "--max-sweeps must be at least 1 (0 with --layerwise: the stacked layers, no joint sweep), got 0"),
             (["train", "--data", "iris", "--no-progress", "-o", str(tmp_path / "file" / "m.ctn")], "is a file"),
             (["compare", "--data", "iris", "-o", str(tmp_path / "file")], "is a file"),
             (["train", "--data", "iris", "--no-progress", "-o", str(tmp_path / "m.ctn"), "--plot",
               str(tmp_path / "dir")], "--plot"),
             (["train", "--data", "iris", "--no-progress", "-o", str(tmp_path / "file"), "--plot",
               str(tmp_path / "file")], "--plot")]
    for argv, message in cases:
        assert main(argv) == 2
        assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file"] and not any((tmp_path / "dir").iterdir())


def test_compare_checks_every_setting_before_anything_trains(monkeypatch):
    import connttra_neuro.train.baselines as baselines

    def must_not_train(*a, **k):
        raise AssertionError("a method trained before the settings were checked")

    monkeypatch.setattr(baselines, "train_ste", must_not_train)
    monkeypatch.setattr(baselines, "train_mlp", must_not_train)
    bad = [(("ste", "connttra"), {"jitter": -1.0}, "jitter"), (("connttra",), {"max_sweeps": 0}, "max_sweeps"),
           (("ste",), {"epochs": 0}, "epochs"), (("ste",), {"ste": {"lr": -1.0}}, r"lr \(--ste-lr\) of ste"),
           (("connttra", "mlp"), {"mlp": {"alpha": -1.0}}, r"alpha \(--mlp-alpha\) of mlp"),
           (("mlp",), {"max_seconds": 0}, "max_seconds"), (("connttra",), {"margin": 0}, "margin"),
           (("ste",), {"hidden": (0,)}, "hidden"), ((), {}, "no method")]
    for methods, settings, match in bad:
        with pytest.raises(ValueError, match=match):
            compare_methods("iris", methods, isolate=False, **settings)


def test_compare_warms_up_on_every_class_of_sorted_data():
    # the numba warm-up used the first 20 rows: one class when the data are sorted by label
    from connttra_neuro.datasets import Dataset

    data = load_dataset("iris", seed=0)
    order = np.argsort(data.y_train, kind="stable")
    ordered = Dataset("iris-sorted", data.X_train[order], data.y_train[order], data.X_val, data.y_val)
    (row,) = compare_methods(ordered, ("connttra",), isolate=False, hidden=(8,), levels=3, max_sweeps=2)
    assert len(row["history"]) == 2 and 0 <= row["val_error"] <= 1


def test_resume_refuses_settings_that_contradict_the_checkpoint(tmp_path, capsys):
    args = ["train", "--data", "iris", "--hidden", "8", "--levels", "3", "--no-progress"]
    assert main([*args, "--max-sweeps", "2", "-o", str(tmp_path / "m.ctn")]) == 0
    ckpt = str(tmp_path / "m.ctn.ckpt")
    before = (tmp_path / "m.ctn").read_bytes()
    capsys.readouterr()
    for flags in (["--hidden", "16"], ["--levels", "4"], ["--loss", "xent"], ["--discrete-set=-2,0,2"],
                  ["--jitter", "0"], ["--coordinate-order", "random"], ["--joint-moves"], ["--batch-size", "5"]):
        argv = ["train", "--data", "iris", "--no-progress", *flags, "--max-sweeps", "4", "-o", str(tmp_path / "m.ctn")]
        assert main([*argv, "--resume", ckpt]) == 2, flags
        err = capsys.readouterr().err
        assert f"{flags[0].split('=')[0]} " in err and "differs from the run in" in err and "Traceback" not in err
        if flags == ["--joint-moves"]:  # a switch has no "same value" to give
            assert "which trains without it" in err and err.rstrip().endswith("drop --joint-moves"), err
    assert (tmp_path / "m.ctn").read_bytes() == before  # nothing trained, nothing written
    # repeating the run's own flags is fine
    assert main([*args, "--loss", "hinge", "--max-sweeps", "3", "-o", str(tmp_path / "m.ctn"), "--resume", ckpt]) == 0


@pytest.mark.parametrize("damage", ["extra setting", "no history", "not a record"])
def test_a_checkpoint_this_version_cannot_continue_is_a_clear_error(tmp_path, capsys, damage):
    assert main(["train", "--data", "iris", "--hidden", "4", "--no-progress", "--max-sweeps", "1",
                 "-o", str(tmp_path / "m.ctn")]) == 0  # fmt: skip
    net = modelfile.load(tmp_path / "m.ctn.ckpt")
    meta = thaw_metadata(net.metadata)
    if damage == "extra setting":
        meta["checkpoint"]["settings"]["new_option"] = 1
    elif damage == "no history":
        del meta["checkpoint"]["history"]
    else:
        meta["checkpoint"] = "sweep 1"
    modelfile.save(net.replace(metadata=meta), tmp_path / "old.ckpt")
    capsys.readouterr()
    assert main(["train", "--data", "iris", "--no-progress", "-o", str(tmp_path / "r.ctn"),
                 "--resume", str(tmp_path / "old.ckpt")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "cannot resume this checkpoint" in err and "Traceback" not in err
    assert ("new_option" in err) == (damage == "extra setting")


@pytest.mark.parametrize("edit, named", [
    (lambda c: c.update(best=5), "its best-model path is 5"),
    (lambda c: c.update(data=["iris"]), "its data record is list, not a mapping"),
    (lambda c: c["data"].update(seed="x"), "its data record's seed is 'x'"),
    (lambda c: c["data"].update(n_train="x"), "its data record's n_train is 'x'"),
    (lambda c: c["history"][0].update(sweep="x"), "history record 0's sweep is 'x'"),
    (lambda c: c["history"][-1].pop("seconds"), "history record 1 has no seconds"),
    (lambda c: c["history"][0].update(val_error="x"), "history record 0's val_error is 'x'"),
    (lambda c: c["settings"].update(max_sweeps="30"), "its setting max_sweeps is '30'"),
    (lambda c: c["settings"].update(max_seconds=-1), "its setting max_seconds is -1"),
    (lambda c: c.update(output=["m.ctn"]), "its output path is ['m.ctn']"),
])
def test_a_hand_edited_checkpoint_field_is_named_not_a_traceback(tmp_path, capsys, edit, named):
    assert main(["train", "--data", "iris", "--hidden", "4", "--no-progress", "--max-sweeps", "1",
                 "-o", str(tmp_path / "m.ctn")]) == 0  # fmt: skip
    net = modelfile.load(tmp_path / "m.ctn.ckpt")
    meta = thaw_metadata(net.metadata)
    edit(meta["checkpoint"])
    modelfile.save(net.replace(metadata=meta), tmp_path / "old.ckpt")
    capsys.readouterr()
    assert main(["train", "--no-progress", "-o", str(tmp_path / "r.ctn"), "--resume", str(tmp_path / "old.ckpt")]) == 2
    err = capsys.readouterr().err
    assert f"cannot resume this checkpoint ({named};" in err and "Traceback" not in err
    assert not (tmp_path / "r.ctn").exists()


def test_out_of_memory_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    import connttra_neuro.train.estimator as estimator

    def huge(*args, **kwargs):
        raise MemoryError("Unable to allocate 29.1 TiB for an array")

    monkeypatch.setattr(estimator, "initial_network", huge)  # what --hidden 1000000000000 meets
    assert main(["train", "--data", "iris", "--hidden", "4", "--no-progress", "-o", str(tmp_path / "m.ctn")]) == 2
    err = capsys.readouterr().err
    assert "train: error: out of memory (Unable to allocate 29.1 TiB" in err and "--hidden" in err
    assert not (tmp_path / "m.ctn").exists()


def test_resume_alone_continues_the_run_on_its_own_data_and_output(tmp_path, capsys):
    data = tmp_path / "toy.npz"
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    np.savez(data, X=X, y=(X[:, 0] > 0).astype(int))
    out, ckpt = tmp_path / "m.ctn", tmp_path / "m.ctn.ckpt"
    assert main(["train", "--data", str(data), "--hidden", "4", "--max-sweeps", "2", "-o", str(out),
                 "--no-progress"]) == 0
    assert main(["train", "--resume", str(ckpt), "--max-sweeps", "4", "--no-progress"]) == 0  # --data, -o: the run's
    history = thaw_metadata(modelfile.load(ckpt).metadata)["checkpoint"]["history"]
    assert len(history) > 3 and f"saved {out}" in capsys.readouterr().out  # it continued (and may converge)
    # the file rewritten with other samples under the same name: refused, nothing written
    before = ckpt.read_bytes(), out.read_bytes()
    np.savez(data, X=X[::-1].copy(), y=(X[::-1, 0] > 0).astype(int))
    assert main(["train", "--resume", str(ckpt), "--max-sweeps", "6", "--no-progress"]) == 2
    assert "holds other samples than when" in capsys.readouterr().err
    assert (ckpt.read_bytes(), out.read_bytes()) == before
    assert main(["train", "--hidden", "4", "-o", str(tmp_path / "x.ctn")]) == 2
    assert "train needs --data (or --resume CHECKPOINT to continue a run)" in capsys.readouterr().err


def test_train_usage_shows_what_is_required():
    # argparse's usage showed [--data DATA] and [-o OUTPUT] as optional; they are only with --resume
    import contextlib
    import io

    text = io.StringIO()
    with contextlib.redirect_stdout(text), pytest.raises(SystemExit):
        main(["train", "--help"])
    assert text.getvalue().startswith("usage: connttra-neuro train --data NAME -o FILE [options]\n"
                                      "       connttra-neuro train --resume CHECKPOINT [options]\n")


def test_an_option_several_commands_take_shows_the_same_placeholder():
    # train and compare showed argparse's own (--data DATA, --data-path DATA_PATH, --n-train N_TRAIN) where
    # evaluate, deploy and verify show --data NAME, --data-path DIR, --n N; evaluate and predict --target TARGET
    # where deploy shows --target NAME
    from collections import defaultdict

    from connttra_neuro.cli import _build

    shown = defaultdict(set)
    for parser in _build()[1].values():
        for action in parser._actions:
            if action.nargs != 0 and action.choices is None:  # a switch or a choice list has no placeholder
                for flag in action.option_strings:
                    shown[flag].add(action.metavar or action.dest.upper())
    differing = {flag: sorted(names) for flag, names in shown.items() if len(names) > 1}
    assert differing == {"-o": ["DIR", "FILE"], "--output": ["DIR", "FILE"]}  # compare writes a folder
    assert not any("_" in name for names in shown.values() for name in names)  # none of argparse's DATA_PATH


def test_outputs_replace_only_files_of_their_own_kind(tmp_path, capsys):
    model = tmp_path / "model.ctn"
    base = ["train", "--data", "iris", "--hidden", "4", "--max-sweeps", "1", "--no-progress"]
    assert main([*base, "-o", str(model)]) == 0
    kept = model.read_bytes()
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    for extra, message in ((["--checkpoint", str(model)], "holds a trained model, not a checkpoint"),
                           (["--plot", str(tmp_path / "model")], "is not a picture"),
                           (["--plot", str(tmp_path / "curves.gif")], "--plot: cannot draw a plot as 'curves.gif'")):
        if extra[1].endswith("model"):
            (tmp_path / "model").write_bytes(kept)
        assert main([*base, "-o", str(tmp_path / "other.ctn"), *extra]) == 2
        assert message in capsys.readouterr().err
    assert main([*base, "-o", str(notes)]) == 2
    assert "is not a connttra-neuro model file" in capsys.readouterr().err
    assert model.read_bytes() == kept and notes.read_text() == "my notes"
    ckpt = tmp_path / "model.ctn.ckpt"  # starts like a model file; -o must not replace a run's record
    record = ckpt.read_bytes()
    assert main([*base, "-o", str(ckpt)]) == 2
    assert "holds a training checkpoint, not a trained model" in capsys.readouterr().err
    assert ckpt.read_bytes() == record
    # a plot in the format its name asks for, replacing an earlier picture
    for name, magic in (("c.svg", b"<?xml"), ("c.pdf", b"%PDF"), ("c.png", b"\x89PNG"), ("c.png", b"\x89PNG")):
        assert main([*base, "-o", str(tmp_path / "p.ctn"), "--plot", str(tmp_path / name)]) == 0
        assert (tmp_path / name).read_bytes().startswith(magic)


def test_init_density_and_margin_flags_reach_the_trainer(tmp_path, capsys):
    out = tmp_path / "m.ctn"
    base = ["train", "--data", "iris", "--hidden", "8", "--max-sweeps", "1", "--no-progress"]
    assert main([*base, "--init-density", "0.2", "--margin", "3", "-o", str(out)]) == 0
    settings = thaw_metadata(modelfile.load(out).metadata)["settings"]
    assert settings["init_density"] == 0.2 and settings["margin"] == 3
    assert main([*base, "--init-density", "0.2", "-o", str(tmp_path / "s.ctn")]) == 0
    assert main([*base, "-o", str(tmp_path / "d.ctn")]) == 0
    sparse, dense = (modelfile.load(tmp_path / name).hidden[0].weights for name in ("s.ctn", "d.ctn"))
    assert np.count_nonzero(dense) > np.count_nonzero(sparse)
    assert main(["train", "--resume", str(tmp_path / "d.ctn.ckpt"), "--margin", "3", "--max-sweeps", "2"]) == 2
    assert "--margin 3 differs from the run in" in capsys.readouterr().err


def test_margin_with_cross_entropy_is_refused(tmp_path, capsys):
    assert main(["train", "--data", "iris", "--loss", "xent", "--margin", "3", "-o", str(tmp_path / "m.ctn")]) == 2
    assert "--margin applies to the hinge loss" in capsys.readouterr().err


def test_resume_of_a_copied_or_moved_run_stays_in_its_folder(tmp_path, capsys, monkeypatch):
    import shutil

    run1, run2 = tmp_path / "run1", tmp_path / "run2"
    run1.mkdir()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    np.savez(run1 / "s.npz", X=X, y=(X[:, 0] > 0).astype(int))
    (tmp_path / "digits").mkdir()  # a folder named like a built-in set: the run's data is still the built-in one
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data", "digits", "--hidden", "4", "--max-sweeps", "1", "--no-progress",
                 "-o", str(run1 / "d.ctn")]) == 0
    assert main(["train", "--data", str(run1 / "s.npz"), "--hidden", "4", "--max-sweeps", "2", "--no-progress",
                 "-o", str(run1 / "m.ctn"), "--checkpoint", str(run1 / "m.ckpt")]) == 0
    shutil.copytree(run1, run2)
    before = {p.name: p.read_bytes() for p in run1.iterdir()}
    # --data and -o from the copy's checkpoint: the output beside it, the data by its digest
    assert main(["train", "--resume", str(run2 / "d.ctn.ckpt"), "--max-sweeps", "2", "--no-progress"]) == 0
    assert main(["train", "--resume", str(run2 / "m.ckpt"), "--data", str(run2 / "s.npz"), "-o",
                 str(run2 / "m.ctn"), "--max-sweeps", "4", "--no-progress"]) == 0
    assert {p.name: p.read_bytes() for p in run1.iterdir()} == before  # the original run is untouched
    history = thaw_metadata(modelfile.load(run2 / "m.ckpt").metadata)["checkpoint"]["history"]
    assert len(history) > 3 and not (run2 / "m.ctn.ckpt").exists()  # continued in the checkpoint resumed
    assert thaw_metadata(modelfile.load(run2 / "d.ctn").metadata)["dataset"] == "digits"
    capsys.readouterr()
    assert main(["train", "--resume", str(run2 / "m.ckpt"), "--data", "iris", "--max-sweeps", "5"]) == 2
    assert "--data iris differs from the run in" in capsys.readouterr().err


def test_resume_names_a_moved_data_file_and_takes_its_new_path(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    np.savez(tmp_path / "s.npz", X=X, y=(X[:, 0] > 0).astype(int))
    ckpt = str(tmp_path / "m.ctn.ckpt")
    assert main(["train", "--data", str(tmp_path / "s.npz"), "--hidden", "4", "--max-sweeps", "1", "--no-progress",
                 "-o", str(tmp_path / "m.ctn")]) == 0
    (tmp_path / "moved").mkdir()
    (tmp_path / "s.npz").rename(tmp_path / "moved" / "s.npz")
    capsys.readouterr()
    assert main(["train", "--resume", ckpt, "--max-sweeps", "2", "--no-progress"]) == 2
    assert (f"{tmp_path / 's.npz'}, the data the run in {ckpt} trains on, is gone: if it moved, give --data NEWPATH"
            in capsys.readouterr().err)
    assert main(["train", "--resume", ckpt, "--data", str(tmp_path / "moved" / "s.npz"), "--max-sweeps", "2",
                 "--no-progress"]) == 0


def test_compare_names_a_margin_the_cross_entropy_ignores(tmp_path, monkeypatch, capsys):
    import connttra_neuro.train.compare as compare

    monkeypatch.setattr(compare, "compare_methods", lambda dataset, methods, **kw: [])
    monkeypatch.setattr(compare, "plot_curves", lambda *a, **k: tmp_path / "c.png")
    assert main(["compare", "--data", "iris", "--margin", "3", "--methods", "connttra-hinge,connttra-xent",
                 "-o", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "connttra-xent trains with cross-entropy" in err and "connttra-hinge" not in err


def test_resume_refuses_data_whose_labels_changed_under_the_same_name(tmp_path, capsys):
    # the same features with other labels (say, a label fix) in an explicit split: the run would
    # continue on other targets
    data = tmp_path / "toy.npz"
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    np.savez(data, X_train=X[:150], y_train=y[:150], X_val=X[150:], y_val=y[150:])
    out, ckpt = tmp_path / "m.ctn", tmp_path / "m.ctn.ckpt"
    assert main(["train", "--data", str(data), "--hidden", "4", "--max-sweeps", "1", "-o", str(out),
                 "--no-progress"]) == 0
    before = ckpt.read_bytes(), out.read_bytes()
    y = (X[:, 1] > 0).astype(int)
    np.savez(data, X_train=X[:150], y_train=y[:150], X_val=X[150:], y_val=y[150:])
    assert main(["train", "--resume", str(ckpt), "--max-sweeps", "3", "--no-progress"]) == 2
    assert "holds other samples than when" in capsys.readouterr().err
    assert (ckpt.read_bytes(), out.read_bytes()) == before


RESUME_BASE = ["train", "--data", "iris", "--hidden", "4", "--levels", "3", "--seed", "2", "--no-progress"]


def test_a_checkpoint_with_an_empty_history_cannot_be_resumed(tmp_path, capsys):
    assert main([*RESUME_BASE, "--max-sweeps", "1", "-o", str(tmp_path / "m.ctn")]) == 0
    net = modelfile.load(tmp_path / "m.ctn.ckpt")
    meta = thaw_metadata(net.metadata)
    meta["checkpoint"]["history"] = []
    modelfile.save(net.replace(metadata=meta), tmp_path / "old.ckpt")
    capsys.readouterr()
    assert main(["train", "--no-progress", "-o", str(tmp_path / "r.ctn"), "--resume", str(tmp_path / "old.ckpt")]) == 2
    err = capsys.readouterr().err
    assert "cannot resume this checkpoint (its checkpoint record is incomplete" in err and "Traceback" not in err
    assert not (tmp_path / "r.ctn").exists()


def test_resume_of_a_trained_model_names_its_run_s_checkpoint(tmp_path, capsys):
    # --resume model.ctn said only "not a training checkpoint": the checkpoint beside it went unmentioned
    model = tmp_path / "m.ctn"
    assert main([*RESUME_BASE, "--max-sweeps", "1", "-o", str(model)]) == 0
    capsys.readouterr()
    assert main(["train", "--no-progress", "--resume", str(model)]) == 2
    assert f"{model} is a trained model: its run's checkpoint is --resume {model}.ckpt" in capsys.readouterr().err
    shutil.copy(model, tmp_path / "copy.ctn")
    assert main(["train", "--no-progress", "--resume", str(tmp_path / "copy.ctn")]) == 2
    assert "copy.ctn is a trained model, and no checkpoint copy.ctn.ckpt is beside it" in capsys.readouterr().err


def test_resume_does_not_take_a_model_of_the_best_sweep_s_number_with_other_errors(tmp_path, capsys):
    # -o was since overwritten by a network that claims the best sweep's number but not its errors
    out = tmp_path / "m.ctn"
    assert main([*RESUME_BASE, "--max-sweeps", "3", "-o", str(out)]) == 0
    net = modelfile.load(out)
    meta = thaw_metadata(net.metadata)
    meta["metrics"]["train_error"] += 0.25  # same sweep number, another error
    modelfile.save(net.replace(metadata=meta), out)
    capsys.readouterr()
    assert main([*RESUME_BASE, "--max-sweeps", "4", "-o", str(out), "--resume", str(tmp_path / "m.ctn.ckpt")]) == 0
    # not taken: the best sweep (3) is the checkpoint's own, whose network is read from it instead
    assert "not available" not in capsys.readouterr().err
    assert main([*RESUME_BASE, "--max-sweeps", "4", "-o", str(tmp_path / "whole.ctn")]) == 0
    whole, resumed = modelfile.load(tmp_path / "whole.ctn"), modelfile.load(out)
    assert thaw_metadata(resumed.metadata)["metrics"] == thaw_metadata(whole.metadata)["metrics"]
    assert resumed.replace(metadata=whole.metadata) == whole


def _ctrl_c_in_sweep(n: int, error=KeyboardInterrupt):
    """A TrainState.sweep (to patch in) that runs the real one but is interrupted, as by Ctrl-C, in its n-th call."""
    from connttra_neuro.train.driver import TrainState, warm_up_kernels

    # the first fit in a process warms the kernels up by a sweep of its own: done now, so that one is not
    # counted (alone in a process, test_ctrl_c_after_a_sweep_... was interrupted in its first sweep, not its second)
    warm_up_kernels()
    real, calls = TrainState.sweep, []

    def sweep(self, rng, batch_size, progress=None):
        calls.append(1)
        if len(calls) == n:
            raise error
        return real(self, rng, batch_size, progress)

    return sweep


def test_ctrl_c_after_a_sweep_keeps_the_best_network_and_exits_130(tmp_path, capsys, monkeypatch):
    from connttra_neuro.train.driver import TrainState

    monkeypatch.setattr(TrainState, "sweep", _ctrl_c_in_sweep(2))
    out, ckpt = tmp_path / "m.ctn", tmp_path / "m.ctn.ckpt"
    assert main([*RESUME_BASE, "--max-sweeps", "5", "-o", str(out)]) == 130
    err = capsys.readouterr().err
    assert f"best network so far saved in {out}; continue with: connttra-neuro train --resume {ckpt}" in err
    assert thaw_metadata(modelfile.load(out).metadata)["metrics"]["sweep"] == 1
    assert len(thaw_metadata(modelfile.load(ckpt).metadata)["checkpoint"]["history"]) == 2


def test_ctrl_c_while_the_first_sweep_is_saved_keeps_its_checkpoint_and_writes_the_model(tmp_path, capsys,
                                                                                          monkeypatch):
    # Ctrl-C between the first sweep's checkpoint and its model: the checkpoint holds a trained sweep, yet
    # train said "before a sweep finished; nothing saved" and left no model in -o
    out, ckpt = tmp_path / "m.ctn", tmp_path / "m.ctn.ckpt"
    real, interrupted = modelfile.save, []

    def save(network, path):
        if Path(path) == out and not interrupted:
            interrupted.append(path)
            raise KeyboardInterrupt
        return real(network, path)

    monkeypatch.setattr(modelfile, "save", save)
    assert main([*RESUME_BASE, "--max-sweeps", "5", "-o", str(out)]) == 130
    err = capsys.readouterr().err
    assert "nothing saved" not in err
    assert f"best network so far saved in {out}; continue with: connttra-neuro train --resume {ckpt}" in err
    assert thaw_metadata(modelfile.load(out).metadata)["metrics"]["sweep"] == 1
    assert [r["sweep"] for r in thaw_metadata(modelfile.load(ckpt).metadata)["checkpoint"]["history"]] == [0, 1]


def test_ctrl_c_after_the_last_sweep_was_checkpointed_says_how_to_train_on(tmp_path, capsys, monkeypatch):
    # Ctrl-C while the model of the budget's last sweep was written: the hint 'continue with: --resume CKPT'
    # then only met "the run has done 2 sweeps (its budget was --max-sweeps 2)"
    out, ckpt = tmp_path / "m.ctn", tmp_path / "m.ctn.ckpt"
    real, models = modelfile.save, []

    def save(network, path):
        if Path(path) == out:
            models.append(path)
            if len(models) == 2:  # the second sweep's best-so-far: its checkpoint is written
                raise KeyboardInterrupt
        return real(network, path)

    monkeypatch.setattr(modelfile, "save", save)
    assert main([*RESUME_BASE, "--max-sweeps", "2", "-o", str(out)]) == 130
    err = capsys.readouterr().err
    assert (f"interrupted after the run's last sweep (--max-sweeps 2 is spent): best network saved in {out}; to "
            f"train on: connttra-neuro train --resume {ckpt} --max-sweeps 4") in err
    monkeypatch.setattr(modelfile, "save", real)
    assert main(["train", "--resume", str(ckpt), "--max-sweeps", "4", "--no-progress"]) == 0  # the command works
    history = thaw_metadata(modelfile.load(ckpt).metadata)["checkpoint"]["history"]
    assert [r["sweep"] for r in history] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_as_the_first_checkpoint_is_renamed_into_place_still_counts_its_sweep(tmp_path, capsys,
                                                                                      monkeypatch, sig):
    # a signal that arrived right after the checkpoint's rename, before train noted the sweep as done: the
    # checkpoint held sweep 1, yet train said "nothing saved" and wrote no model
    import signal

    out, ckpt = tmp_path / "m.ctn", tmp_path / "m.ctn.ckpt"
    real = modelfile.save

    def save(network, path):
        written = real(network, path)
        if Path(path) == ckpt:
            signal.raise_signal(getattr(signal, sig))
        return written

    monkeypatch.setattr(modelfile, "save", save)
    assert main([*RESUME_BASE, "--max-sweeps", "5", "-o", str(out)]) == (130 if sig == "SIGINT" else 143)
    err = capsys.readouterr().err
    assert "nothing saved" not in err and f"best network so far saved in {out}" in err
    assert thaw_metadata(modelfile.load(out).metadata)["metrics"]["sweep"] == 1


def test_sigterm_saves_like_ctrl_c_and_exits_143(tmp_path, capsys, monkeypatch):
    # SIGTERM (kill PID) is Terminated, a KeyboardInterrupt: train saved as on Ctrl-C but said "interrupted"
    # and exited 130, where a shell reports SIGTERM as 143
    from connttra_neuro._signals import Terminated
    from connttra_neuro.train.driver import TrainState

    monkeypatch.setattr(TrainState, "sweep", _ctrl_c_in_sweep(2, Terminated("terminated by signal 15")))
    out = tmp_path / "m.ctn"
    assert main([*RESUME_BASE, "--max-sweeps", "5", "-o", str(out)]) == 143
    err = capsys.readouterr().err
    assert f"terminated (SIGTERM): best network so far saved in {out}; continue with" in err
    assert thaw_metadata(modelfile.load(out).metadata)["metrics"]["sweep"] == 1


def test_the_ctrl_c_hint_continues_the_run_to_its_own_budget(tmp_path, capsys, monkeypatch):
    # `continue with: connttra-neuro train --resume CKPT` has no --max-sweeps: the run's own budget (5) holds,
    # not the flag's default (30), and the result is the uninterrupted run's
    from connttra_neuro.train.driver import TrainState

    budget = ["--max-sweeps", "5", "--max-seconds", "1000"]
    assert main([*RESUME_BASE, *budget, "-o", str(tmp_path / "full.ctn")]) == 0
    with monkeypatch.context() as m:
        m.setattr(TrainState, "sweep", _ctrl_c_in_sweep(3))
        assert main([*RESUME_BASE, *budget, "-o", str(tmp_path / "m.ctn")]) == 130
    ckpt = tmp_path / "m.ctn.ckpt"
    assert main(["train", "--resume", str(ckpt), "--no-progress"]) == 0
    saved = thaw_metadata(modelfile.load(ckpt).metadata)["checkpoint"]
    assert [r["sweep"] for r in saved["history"]] == [0, 1, 2, 3, 4, 5]
    assert (saved["settings"]["max_sweeps"], saved["settings"]["max_seconds"]) == (5, 1000)  # both kept
    assert (tmp_path / "m.ctn").read_bytes() == (tmp_path / "full.ctn").read_bytes()
    capsys.readouterr()
    # now spent: an error naming the run's own budget; a time budget likewise
    assert main(["train", "--resume", str(ckpt), "--no-progress"]) == 2
    assert (f"the run in {ckpt} has done 5 sweeps (its budget was --max-sweeps 5): give --max-sweeps above 5"
            in capsys.readouterr().err)
    assert main(["train", "--resume", str(ckpt), "--max-sweeps", "9", "--max-seconds", "1e-9"]) == 2
    err = capsys.readouterr().err
    done, above = re.search(r"has done (\d+\.\d\d) s of training \(--max-seconds 1e-09 counts the whole run\): "
                            r"give --max-seconds above (\d+\.\d\d) to continue it", err).groups()
    recorded = saved["history"][-1]["seconds"]
    assert float(done) == round(recorded, 2) and recorded <= float(above) < recorded + 0.01  # rounded up
    # a time limit given at the start is lifted with none (the CLI's word for the estimator's None)
    assert main(["train", "--resume", str(ckpt), "--max-sweeps", "6", "--max-seconds", "none", "--no-progress"]) == 0
    assert thaw_metadata(modelfile.load(ckpt).metadata)["checkpoint"]["settings"]["max_seconds"] is None


def test_resume_names_the_model_as_the_user_spelled_the_checkpoint(tmp_path, capsys, monkeypatch):
    # the run recorded its model's absolute path; a resume from the folder says "saved m.ctn" as the run did,
    # and from a subfolder "../m.ctn", not /tmp/.../m.ctn
    monkeypatch.chdir(tmp_path)
    assert main([*RESUME_BASE, "--max-sweeps", "2", "-o", "m.ctn"]) == 0
    assert "saved m.ctn (" in capsys.readouterr().out
    assert main(["train", "--resume", "m.ctn.ckpt", "--max-sweeps", "3", "--no-progress"]) == 0
    assert "saved m.ctn (" in capsys.readouterr().out
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert main(["train", "--resume", "../m.ctn.ckpt", "--max-sweeps", "4", "--no-progress"]) == 0
    assert "saved ../m.ctn (" in capsys.readouterr().out
    assert thaw_metadata(modelfile.load(tmp_path / "m.ctn.ckpt").metadata)["checkpoint"]["history"][-1]["sweep"] == 4


def test_resume_writes_the_model_of_a_custom_named_checkpoint_where_the_run_did(tmp_path):
    # -o model.ctn --checkpoint run.ckpt: a resume goes on writing model.ctn (not "run", the checkpoint's name
    # without .ckpt); a copy of the run folder goes on in the copy, leaving the original alone
    run, copy = tmp_path / "run", tmp_path / "copy"
    run.mkdir()
    assert main([*RESUME_BASE, "--max-sweeps", "2", "-o", str(run / "model.ctn"), "--checkpoint",
                 str(run / "run.ckpt")]) == 0
    shutil.copytree(run, copy)
    assert main(["train", "--resume", str(run / "run.ckpt"), "--max-sweeps", "3", "--no-progress"]) == 0
    assert sorted(p.name for p in run.iterdir()) == ["model.ctn", "run.ckpt"]
    assert len(thaw_metadata(modelfile.load(run / "run.ckpt").metadata)["checkpoint"]["history"]) == 4
    original = (run / "model.ctn").read_bytes()
    assert main(["train", "--resume", str(copy / "run.ckpt"), "--max-sweeps", "4", "--no-progress"]) == 0
    assert sorted(p.name for p in copy.iterdir()) == ["model.ctn", "run.ckpt"]
    assert thaw_metadata(modelfile.load(copy / "run.ckpt").metadata)["checkpoint"]["best"] == str(
        (copy / "model.ctn").resolve())
    assert (run / "model.ctn").read_bytes() == original


def test_resume_finds_the_model_from_where_the_checkpoint_is_now(tmp_path, capsys):
    # a checkpoint in a folder of its own, named like the model, resumes into the run's model; copied alone
    # elsewhere it cannot know whether the model's folder came along: -o is asked for, and the original
    # run's model is never written by the copy
    run, ck, elsewhere = tmp_path / "run", tmp_path / "ck", tmp_path / "elsewhere"
    for folder in (run, ck, elsewhere):
        folder.mkdir()
    assert main([*RESUME_BASE, "--max-sweeps", "2", "-o", str(run / "model.ctn"), "--checkpoint",
                 str(ck / "model.ctn")]) == 0
    assert main(["train", "--resume", str(ck / "model.ctn"), "--max-sweeps", "3", "--no-progress"]) == 0
    assert len(thaw_metadata(modelfile.load(ck / "model.ctn").metadata)["checkpoint"]["history"]) == 4
    assert [p.relative_to(tmp_path).as_posix() for p in sorted(tmp_path.rglob("*.ctn"))] == [
        "ck/model.ctn", "run/model.ctn"]
    original = (run / "model.ctn").read_bytes()
    shutil.copy(ck / "model.ctn", elsewhere / "try.ckpt")
    capsys.readouterr()
    assert main(["train", "--resume", str(elsewhere / "try.ckpt"), "--max-sweeps", "4", "--no-progress"]) == 2
    assert "the run's model sat in another folder: ../run/model.ctn from it; give -o" in capsys.readouterr().err
    assert main(["train", "--resume", str(elsewhere / "try.ckpt"), "--max-sweeps", "4", "--no-progress",
                 "-o", str(elsewhere / "try.ctn")]) == 0
    assert (run / "model.ctn").read_bytes() == original and (elsewhere / "try.ctn").is_file()
    # a checkpoint copied alone from a run folder goes on beside the copy, under the run's model name
    assert main([*RESUME_BASE, "--max-sweeps", "2", "-o", str(run / "m.ctn")]) == 0
    before = (run / "m.ctn").read_bytes()
    shutil.copy(run / "m.ctn.ckpt", elsewhere / "other-name.ckpt")
    assert main(["train", "--resume", str(elsewhere / "other-name.ckpt"), "--max-sweeps", "3", "--no-progress"]) == 0
    assert (elsewhere / "m.ctn").is_file() and (run / "m.ctn").read_bytes() == before


def test_resume_never_writes_the_original_run_s_model_from_a_copy(tmp_path, capsys):
    # a checkpoint copied beside the original (a backup) would resolve to the original's model: -o is asked
    # for; a model name starting with two dots is no parent folder
    run = tmp_path / "run"
    run.mkdir()
    assert main([*RESUME_BASE, "--max-sweeps", "2", "-o", str(run / "model.ctn")]) == 0
    original = (run / "model.ctn").read_bytes()
    shutil.copy(run / "model.ctn.ckpt", run / "backup.ckpt")
    capsys.readouterr()
    assert main(["train", "--resume", str(run / "backup.ckpt"), "--max-sweeps", "3", "--no-progress"]) == 2
    assert "it is a copy beside the original run, whose model" in capsys.readouterr().err
    assert (run / "model.ctn").read_bytes() == original
    dots, dots2 = tmp_path / "dots", tmp_path / "dots2"
    dots.mkdir()
    assert main([*RESUME_BASE, "--max-sweeps", "2", "-o", str(dots / "..m.ctn")]) == 0
    shutil.copytree(dots, dots2)
    before = (dots / "..m.ctn").read_bytes()
    assert main(["train", "--resume", str(dots2 / "..m.ctn.ckpt"), "--max-sweeps", "3", "--no-progress"]) == 0
    assert len(thaw_metadata(modelfile.load(dots2 / "..m.ctn.ckpt").metadata)["checkpoint"]["history"]) == 4
    assert (dots / "..m.ctn").read_bytes() == before  # the copy went on in the copy


def test_a_checkpoint_from_before_the_output_was_recorded_resumes_beside_itself(tmp_path):
    # checkpoints written before 2026-12-06 hold the run's -o (best) only: the model of that name beside the
    # checkpoint (a copied folder goes on in the copy), not a file named after the checkpoint
    run = tmp_path / "run"
    run.mkdir()
    assert main([*RESUME_BASE, "--max-sweeps", "2", "-o", str(run / "model.ctn"), "--checkpoint",
                 str(run / "state.ckpt")]) == 0
    net = modelfile.load(run / "state.ckpt")
    meta = thaw_metadata(net.metadata)
    for key in ("written_to", "output"):
        del meta["checkpoint"][key]
    modelfile.save(net.replace(metadata=meta), run / "state.ckpt")
    shutil.copytree(run, tmp_path / "copy")
    original = (run / "model.ctn").read_bytes()
    assert main(["train", "--resume", str(tmp_path / "copy" / "state.ckpt"), "--max-sweeps", "3",
                 "--no-progress"]) == 0
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == ["model.ctn", "state.ckpt"]
    assert thaw_metadata(modelfile.load(tmp_path / "copy" / "model.ctn").metadata)["metrics"]["sweep"] >= 1
    assert (run / "model.ctn").read_bytes() == original


def test_a_budget_warning_gives_the_command_that_continues_the_run(tmp_path, capsys):
    # it said "raise max_sweeps or max_seconds" (the estimator's parameters), and a newcomer retrained
    # from scratch; the command names its flag and the resume command (budgets count the whole run), quoted
    # for the shell (a run folder with a space in its name)
    out = tmp_path / "my runs" / "m.ctn"
    assert main(["train", "--data", "digits", "--hidden", "16", "--max-sweeps", "2", "--no-progress",
                 "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"continue this run with: connttra-neuro train --resume '{out}.ckpt' --max-sweeps 4" in err, err
    assert "raise max_sweeps" not in err
    assert main(["train", "--resume", f"{out}.ckpt", "--max-sweeps", "4", "--no-progress"]) == 0  # and it does


def test_a_run_that_converges_says_so(tmp_path, capsys):
    # it stops before its budget, and no warning says why: the command does
    assert main(["train", "--data", "iris", "--hidden", "8", "--max-sweeps", "4", "--no-progress",
                 "-o", str(tmp_path / "m.ctn")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^converged after sweep [123] of 4: it changed no parameter$", out, re.M), out


def test_a_run_stopped_by_tol_says_so(tmp_path, capsys, monkeypatch):
    # the command has no --tol; a large tol (every sweep lowers the loss by less than it) stops the
    # run after its first sweep, which changed parameters
    import functools

    from connttra_neuro.train import CoNNTrA

    @functools.wraps(CoNNTrA.__init__)  # keeps the signature get_params() reads
    def loose(self, *args, __init__=CoNNTrA.__init__, **kwargs):
        __init__(self, *args, **kwargs)
        self.tol = 0.99

    monkeypatch.setattr(CoNNTrA, "__init__", loose)
    assert main(["train", "--data", "iris", "--hidden", "8", "--max-sweeps", "4", "--no-progress",
                 "-o", str(tmp_path / "m.ctn")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^converged after sweep 1 of 4: it lowered the loss by at most tol = 0.99 of itself$",
                     out, re.M), out


def test_resume_accepts_the_run_s_own_list_settings_given_again(tmp_path):
    # --discrete-set parses to a tuple, the checkpoint holds a list: the same values are no contradiction
    assert main([*RESUME_BASE, "--discrete-set=-1,0,1", "--max-sweeps", "1", "-o", str(tmp_path / "m.ctn")]) == 0
    assert main([*RESUME_BASE, "--discrete-set=-1,0,1", "--max-sweeps", "2", "-o", str(tmp_path / "m.ctn"),
                 "--resume", str(tmp_path / "m.ctn.ckpt")]) == 0


def test_compare_says_nothing_of_a_loss_that_was_not_given(tmp_path, monkeypatch, capsys):
    # the default loss (hinge) is no --loss: connttra-xent needs no note that it trains with its own
    import connttra_neuro.train.compare as compare

    monkeypatch.setattr(compare, "compare_methods", lambda dataset, methods, **kw: [])
    monkeypatch.setattr(compare, "plot_curves", lambda *a, **k: tmp_path / "c.png")
    assert main(["compare", "--data", "iris", "--methods", "connttra-xent", "-o", str(tmp_path)]) == 0
    assert "note" not in capsys.readouterr().err
    assert main(["compare", "--data", "iris", "--methods", "connttra-xent", "--loss", "hinge",
                 "-o", str(tmp_path)]) == 0
    assert "note: --loss hinge applies to method connttra; connttra-xent trains with its own" in capsys.readouterr().err


def test_hidden_widths_comma_separated_or_repeated_are_the_same_network(tmp_path, capsys):
    args = ["train", "--data", "iris", "--levels", "2", "--max-sweeps", "1", "--no-progress"]
    assert main([*args, "--hidden", "6,5", "-o", str(tmp_path / "a.ctn")]) == 0
    assert main([*args, "--hidden", "6", "--hidden", "5", "-o", str(tmp_path / "b.ctn")]) == 0
    assert (tmp_path / "a.ctn").read_bytes() == (tmp_path / "b.ctn").read_bytes()
    assert modelfile.load(tmp_path / "a.ctn").layer_sizes == (8, 6, 5, 3)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main([*args, "--hidden", "6;5", "-o", str(tmp_path / "c.ctn")])
    assert "expected a width or comma-separated widths like 256 or 256,128, got '6;5'" in capsys.readouterr().err


def test_resume_takes_a_moved_data_path_folder_when_its_samples_are_the_run_s(tmp_path, capsys):
    # --data-path was compared by name ("differs from the run"), while a moved --data file was accepted by
    # its digest: a moved IDX folder is now accepted the same way, and other samples are still refused
    from .test_datasets import make_idx_dir

    make_idx_dir(tmp_path / "idx")
    args = ["train", "--data", "mnist", "--hidden", "4", "--no-progress"]
    assert main([*args, "--data-path", str(tmp_path / "idx"), "--max-sweeps", "1", "-o", str(tmp_path / "m.ctn")]) == 0
    (tmp_path / "idx").rename(tmp_path / "moved")
    ckpt = str(tmp_path / "m.ctn.ckpt")
    assert main(["train", "--resume", ckpt, "--data-path", str(tmp_path / "moved"), "--max-sweeps", "2",
                 "--no-progress"]) == 0
    make_idx_dir(tmp_path / "other", seed=1)
    capsys.readouterr()
    assert main(["train", "--resume", ckpt, "--data-path", str(tmp_path / "other"), "--max-sweeps", "3",
                 "--no-progress"]) == 2
    assert "holds other samples than when" in capsys.readouterr().err


def test_compare_explains_its_columns_and_saves_the_table(tmp_path, capsys, compare_in_process):
    # "model bytes", "peak RSS" and a float MLP that sees the thermometer code, not the raw features, were
    # not explained anywhere the table is shown; the table was only printed
    args = ["compare", "--data", "iris", "--methods", "connttra,mlp", "--hidden", "4", "--max-sweeps", "2",
            "--epochs", "2", "-o", str(tmp_path)]
    assert main(args) == 0
    captured = capsys.readouterr()
    out = " ".join(captured.out.split())  # the notes are wrapped for the terminal
    assert "random start" not in captured.err  # one hidden layer: no note about several
    assert "so the float64 MLP is backprop on those spikes, not on the raw features" in out
    assert "peak RSS: the whole process's high-water mark" in out and "(n/m): training / validation samples" in out
    md = (tmp_path / "compare.md").read_text()
    assert md.startswith("# Training methods compared: iris\n\n| dataset | method |") and "* model bytes:" in md
    assert md.count("| iris (120/30) |") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compare.json", "compare.md", "compare.png"]
    assert main(args) == 0  # its own files are replaced
    (tmp_path / "compare.md").write_text("# my notes on the comparison\n")  # a user's file of that name is kept
    assert main(args) == 2
    assert "compare.md exists and is not a file this command writes" in capsys.readouterr().err
    (tmp_path / "compare.md").unlink()
    (tmp_path / "compare.json").write_text('{"my": "settings"}')  # JSON too, but not a comparison
    assert main(args) == 2
    assert "compare.json exists and is not a comparison (compare's JSON)" in capsys.readouterr().err
    assert (tmp_path / "compare.json").read_text() == '{"my": "settings"}'


def test_train_says_when_the_saved_sweep_was_chosen_on_the_validation_data(tmp_path, capsys, monkeypatch):
    # keep_best saves the sweep with the lowest validation error; that error, printed bare, read as an
    # unbiased one beside compare's last-sweep figures
    import connttra_neuro.train.estimator as estimator

    real = estimator._key
    monkeypatch.setattr(estimator, "_key", lambda r: -1.0 if r["sweep"] == 1 else real(r))  # sweep 1 the best
    assert main(["train", "--data", "iris", "--hidden", "8", "--max-sweeps", "3", "--no-progress",
                 "-o", str(tmp_path / "m.ctn")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"saved \S+ \(sweep 1 of [23], kept for the run's lowest validation error, an optimistic "
                     r"figure: train error", out), out


@pytest.mark.parametrize("jitter, jittered", [("0", False), ("1.5", True)])
def test_the_plot_names_the_jitter_only_when_the_run_had_one(tmp_path, monkeypatch, jitter, jittered):
    import connttra_neuro.train.plots as plots

    got = {}
    monkeypatch.setattr(plots, "plot_history", lambda *a, **kw: got.update(kw) or tmp_path / "p.png")
    assert main(["train", "--data", "iris", "--hidden", "4", "--max-sweeps", "2", "--jitter", jitter, "--no-progress",
                 "--plot", str(tmp_path / "p.png"), "-o", str(tmp_path / "m.ctn")]) == 0
    assert got["jittered"] is jittered


def test_an_npz_run_from_before_class_names_were_read_resumes(tmp_path, capsys):
    # an npz's class_names array was ignored until 2026-12-06; a checkpoint written then digested the
    # data without it, and a resume was refused as "holds other samples" for an unchanged file
    from connttra_neuro.cli.train import _fingerprint
    from connttra_neuro.datasets import load_dataset

    X, y = np.arange(300.0).reshape(100, 3) % 17, np.arange(100) % 3
    np.savez(tmp_path / "d.npz", X=X, y=y, class_names=np.array(["a", "b", "c"]))
    args = ["train", "--data", str(tmp_path / "d.npz"), "--hidden", "4", "--no-progress"]
    assert main([*args, "--max-sweeps", "2", "-o", str(tmp_path / "m.ctn")]) == 0
    ckpt = tmp_path / "m.ctn.ckpt"
    net = modelfile.load(ckpt)
    meta = thaw_metadata(net.metadata)
    del meta["class_names"]  # as the older version wrote it
    meta["checkpoint"]["data"]["fingerprint"] = _fingerprint(load_dataset(tmp_path / "d.npz"), names=False)
    modelfile.save(net.replace(metadata=meta), ckpt)
    assert main([*args, "--max-sweeps", "3", "-o", str(tmp_path / "m.ctn"), "--resume", str(ckpt)]) == 0
    assert main([*args, "--max-sweeps", "4", "-o", str(tmp_path / "m.ctn"), "--resume", str(ckpt)]) == 0  # again
    # renamed classes in an npz are said as such, not as class folders
    np.savez(tmp_path / "d.npz", X=X, y=y, class_names=np.array(["a", "b", "z"]))
    capsys.readouterr()
    assert main([*args, "--max-sweeps", "5", "-o", str(tmp_path / "m.ctn"), "--resume", str(ckpt)]) == 2
    assert "its class names (its class_names array) are not the ones" in capsys.readouterr().err


def test_the_progress_bar_says_what_happens_before_the_first_sweep_ends(tmp_path, capsys, monkeypatch):
    # it stood at 0% with nothing said for 18 s on the full Fashion-MNIST (27 s with kernels to compile)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)  # bars are drawn on a terminal
    assert main(["train", "--data", "iris", "--hidden", "4", "--max-sweeps", "1", "-o", str(tmp_path / "m.ctn")]) == 0
    err = capsys.readouterr().err
    assert "encoding 120 samples, building caches, running sweep 1 (a first run also compiles the kernels)" in err


def test_a_log_gets_no_progress_bar(tmp_path, capsys, monkeypatch):
    # `train ... 2> train.log` held every redraw of the bar, joined by carriage returns, before the messages
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert main(["train", "--data", "iris", "--hidden", "4", "--max-sweeps", "2", "-o", str(tmp_path / "m.ctn")]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "sweep/s" not in err and "CoNNTrA iris" not in err
    assert "warning: CoNNTrA stopped by max_sweeps" in err  # the messages stay


def test_a_log_gets_a_plain_line_now_and_then_instead_and_none_with_no_progress(tmp_path, capsys, monkeypatch):
    # without the bar a batch job's log showed nothing until the run ended (minutes at full size, or hours)
    import connttra_neuro.cli.train as train_cli

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    argv = ["train", "--data", "iris", "--hidden", "4", "--max-sweeps", "3", "-o", str(tmp_path / "m.ctn")]
    assert main(argv) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sweep ")]
    assert len(lines) == 1 and re.fullmatch(r"sweep 1 of 3: loss \S+, train error \d+\.\d\d%, val error "
                                            r"\d+\.\d\d%, \d+\.\d s elapsed", lines[0]), lines  # then 10 s apart
    monkeypatch.setattr(train_cli, "LOG_EVERY_S", 0.0)
    assert main(argv) == 0
    assert [line.split(":")[0] for line in capsys.readouterr().err.splitlines() if line.startswith("sweep ")] == \
        ["sweep 1 of 3", "sweep 2 of 3", "sweep 3 of 3"]
    assert main([*argv, "--no-progress"]) == 0  # asked for quiet: no lines either
    assert "sweep 1 of 3" not in capsys.readouterr().err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)  # a terminal has the bar instead
    assert main(argv) == 0
    assert "sweep 1 of 3:" not in capsys.readouterr().err


def test_layerwise_start_is_layerwise_init_then_the_run(tmp_path, capsys):
    argv = ["train", "--data", "iris", "--hidden", "8,6", "--levels", "3", "--seed", "2", "--no-progress"]
    assert main([*argv, "--layerwise", "3", "--max-sweeps", "2", "-o", str(tmp_path / "m.ctn")]) == 0
    out = capsys.readouterr().out
    data = load_dataset("iris", seed=2)
    start, model, _ = stacked_then_fit(data, 3, 2, hidden=(8, 6), levels=3, random_state=2)
    saved = modelfile.load(tmp_path / "m.ctn")
    for got, want in zip(saved.layers, model.network_.layers, strict=True):
        np.testing.assert_array_equal(got.weights, want.weights)
    scores, _ = forward(start, start.encode(data.X_val))
    error = float(np.mean(np.argmax(scores, axis=1) != data.y_val))  # iris labels are 0, 1, 2
    assert f"layer by layer: 2 hidden layers trained alone, 3 sweeps each; stacked: val error {100 * error:.2f}%" in out
    assert thaw_metadata(saved.metadata)["start"] == {"layerwise_sweeps": 3}  # the settings alone would not redo it
    # the checkpoint continues the joint sweeps as any run's does, and keeps saying how the run started
    assert main(["train", "--no-progress", "--resume", str(tmp_path / "m.ctn.ckpt"), "--max-sweeps", "3"]) == 0
    for path in ("m.ctn", "m.ctn.ckpt"):
        assert thaw_metadata(modelfile.load(tmp_path / path).metadata)["start"] == {"layerwise_sweeps": 3}
    assert main([*argv, "--max-sweeps", "1", "-o", str(tmp_path / "plain.ctn")]) == 0
    assert "start" not in thaw_metadata(modelfile.load(tmp_path / "plain.ctn").metadata)


def test_layerwise_with_no_joint_sweeps_saves_the_stack(tmp_path, capsys):
    # --max-sweeps 0 (refused without --layerwise: it would save a random network) keeps the stacked layers,
    # which on their own do about as well as after joint sweeps (docs/training.md)
    argv = ["train", "--data", "iris", "--hidden", "8,6", "--levels", "3", "--seed", "2", "--no-progress"]
    assert main([*argv, "--layerwise", "3", "--max-sweeps", "0", "-o", str(tmp_path / "m.ctn")]) == 0
    captured = capsys.readouterr()
    start = stacked_then_fit(load_dataset("iris", seed=2), 3, 0, hidden=(8, 6), levels=3, random_state=2)[0]
    saved = modelfile.load(tmp_path / "m.ctn")
    for got, want in zip(saved.layers, start.layers, strict=True):
        assert vars(got).keys() == vars(want).keys()
        for name in vars(got):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
    assert "no joint sweeps (--max-sweeps 0)" in captured.out and "no sweep ran, no checkpoint" in captured.out
    assert "warning" not in captured.err  # not "nothing was trained": the stages were
    assert thaw_metadata(saved.metadata)["start"] == {"layerwise_sweeps": 3}


def test_layerwise_stages_that_converge_early_fill_the_bar_and_say_their_sweeps(tmp_path, capsys, monkeypatch):
    import functools

    import tqdm

    monkeypatch.setattr(tqdm, "tqdm", functools.partial(tqdm.tqdm, mininterval=0, miniters=1))  # draw every update
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)  # bars are drawn on a terminal
    # exact mode (no jitter): a stage stops once a sweep no longer lowers its loss, short of its 50 sweeps
    argv = ["train", "--data", "iris", "--hidden", "16,8", "--jitter", "0", "--seed", "0", "--layerwise", "50",
            "--max-sweeps", "1", "-o", str(tmp_path / "m.ctn")]
    assert main(argv) == 0
    captured = capsys.readouterr()
    stages = re.search(r"2 hidden layers trained alone, (\d+), (\d+) sweeps;", captured.out)
    assert stages and all(0 < int(n) < 50 for n in stages.groups())
    bar = [line for line in captured.err.replace("\r", "\n").splitlines() if line.startswith("layer by layer")]
    assert "100/100" in bar[-1] and "100/100" not in bar[0]  # filled when the stages end, not before
    assert "51/100" in next(line for line in bar if "layer=2/2" in line)  # layer 2's sweep 1, after layer 1's 50


@pytest.mark.parametrize("flags, message", [
    (["--hidden", "8"], "--layerwise trains several hidden layers one at a time; --hidden 8 is one"),
    (["--hidden", "8,6", "--layerwise", "0"], "--layerwise takes each layer's sweeps, at least 1, got 0"),
])
def test_layerwise_refuses_what_it_cannot_do(tmp_path, capsys, flags, message):
    argv = ["train", "--data", "iris", "--no-progress", "--layerwise", "2", *flags, "-o", str(tmp_path / "m.ctn")]
    assert main(argv) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "m.ctn").exists()


def test_layerwise_is_refused_on_resume_and_a_ctrl_c_during_it_saves_nothing(tmp_path, capsys, monkeypatch):
    argv = ["train", "--data", "iris", "--hidden", "8,6", "--no-progress", "-o", str(tmp_path / "m.ctn")]
    assert main([*argv, "--max-sweeps", "1"]) == 0
    before = (tmp_path / "m.ctn").read_bytes()
    capsys.readouterr()
    assert main([*argv, "--layerwise", "2", "--resume", str(tmp_path / "m.ctn.ckpt")]) == 2
    assert "--layerwise starts a new run" in capsys.readouterr().err
    import connttra_neuro.train as train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "layerwise_init", interrupted)
    argv[-1] = str(tmp_path / "new.ctn")
    assert main([*argv, "--layerwise", "2"]) == 130
    assert "interrupted during the layer-by-layer start; nothing saved" in capsys.readouterr().err
    assert not (tmp_path / "new.ctn").exists() and (tmp_path / "m.ctn").read_bytes() == before


def test_compare_says_that_it_trains_several_hidden_layers_from_a_random_start(tmp_path, capsys, compare_in_process):
    base = ["compare", "--data", "iris", "--methods", "connttra", "--max-sweeps", "1", "--no-progress"]
    assert main([*base, "--hidden", "4,3", "-o", str(tmp_path / "two")]) == 0
    note = "note: CoNNTrA trains these 2 hidden layers jointly from a random start, where it underfits; " \
           "--layerwise SWEEPS starts them layer by layer"
    assert note in capsys.readouterr().err  # with one layer, not (test_compare_explains_its_columns_...)


def test_compare_layerwise_trains_the_stages_on_connttra_s_clock(capsys):
    from connttra_neuro.train.driver import network_forward

    data = load_dataset("iris", seed=1)
    (row,) = compare_methods(data, ("connttra",), isolate=False, hidden=(8, 6), levels=2, max_sweeps=2, seed=1,
                             connttra={"layerwise": 3})
    # compare reports the last sweep: keep_best=False
    net = stacked_then_fit(data, 3, 2, hidden=(8, 6), levels=2, random_state=1, keep_best=False)[1].network_
    scores = network_forward(net, net.encode(data.X_val))[2]
    assert row["val_error"] == float(np.mean(np.argmax(scores, axis=1) != data.y_val))
    assert row["label"] == "CoNNTrA, layer by layer" and row["layerwise"] == 3
    assert 0 < row["layerwise_seconds"] < row["history"][0]["seconds"] <= row["train_seconds"]
    first, second = (r["seconds"] for r in row["history"])  # per joint sweep: the stages are not a sweep
    assert row["time_per_step_seconds"] == pytest.approx(np.median([first - row["layerwise_seconds"], second - first]))
    with pytest.raises(ValueError, match=r"budgets its stages in sweeps, so max_seconds \(--max-seconds\) would not"):
        compare_methods(data, ("connttra",), isolate=False, hidden=(8, 6), max_seconds=5, connttra={"layerwise": 2})
    for bad, hidden in ((0, (8, 6)), (2, (8,))):
        with pytest.raises(ValueError, match=r"layerwise \(--layerwise\) of connttra: each layer's sweeps, a "
                                             r"positive integer, for several hidden layers"):
            compare_methods(data, ("connttra",), isolate=False, hidden=hidden, connttra={"layerwise": bad})


def _disk_full_at(monkeypatch, call: int):
    """``modelfile.save`` fails as a full disk does at its ``call``-th call (1-based: each sweep writes its
    checkpoint, then its model); returns the real one, to put back."""
    import errno

    real, calls = modelfile.save, []

    def fills_up(network, path):
        calls.append(path)
        if len(calls) == call:
            raise OSError(errno.ENOSPC, f"cannot write {path}: No space left on device")
        return real(network, path)

    monkeypatch.setattr(modelfile, "save", fills_up)
    return real


def test_a_full_disk_mid_run_says_how_to_continue_and_the_checkpoint_resumes(tmp_path, capsys, monkeypatch):
    # it said only "[Errno 28] No space left on device" (then, naming the checkpoint), not that the run so far
    # is kept nor how to continue it, which Ctrl-C at the same point says
    out, ckpt = tmp_path / "m.ctn", tmp_path / "m.ctn.ckpt"
    real = _disk_full_at(monkeypatch, 3)  # sweep 2's checkpoint
    args = ["train", "--data", "iris", "--hidden", "8", "--max-sweeps", "4", "--no-progress", "-o", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"cannot write {ckpt}: No space left on device" in err
    assert f"continue it, once that can be written, with: connttra-neuro train --resume {ckpt}" in err
    record = thaw_metadata(modelfile.load(ckpt).metadata)["checkpoint"]
    assert [r["sweep"] for r in record["history"]][-1] == 1
    monkeypatch.setattr(modelfile, "save", real)
    assert main(["train", "--resume", str(ckpt), "--no-progress"]) == 0
    assert len(thaw_metadata(modelfile.load(ckpt).metadata)["checkpoint"]["history"]) > 2  # sweep 0 and 1, and on


def test_a_run_stopped_between_its_checkpoint_and_its_model_resumes_with_the_best_network(tmp_path, monkeypatch):
    # a full disk (or a crash) after sweep b's checkpoint, before its model: -o held sweep b-1, so the resumed
    # run said "not available" and ended on a worse later sweep, though the checkpoint holds sweep b's network
    base = ["train", "--data", "digits", "--hidden", "16", "--max-sweeps", "15", "--seed", "3", "--no-progress"]
    assert main([*base, "-o", str(tmp_path / "whole.ctn")]) == 0
    b = thaw_metadata(modelfile.load(tmp_path / "whole.ctn").metadata)["metrics"]["sweep"]
    assert 1 < b < 15  # a best before the last sweep: what the resumed run must not lose
    real = _disk_full_at(monkeypatch, 2 * b)  # sweep b's model, written right after its checkpoint
    assert main([*base, "-o", str(tmp_path / "cut.ctn")]) == 2
    monkeypatch.setattr(modelfile, "save", real)
    assert main(["train", "--resume", str(tmp_path / "cut.ctn.ckpt"), "--no-progress"]) == 0
    assert (tmp_path / "cut.ctn").read_bytes() == (tmp_path / "whole.ctn").read_bytes()


def test_a_full_disk_on_the_first_sweep_s_model_still_names_its_checkpoint(tmp_path, capsys, monkeypatch):
    # sweep 1's checkpoint written, its model not (a full 8k tmpfs): the checkpoint resumes, and is named
    out, ckpt = tmp_path / "m.ctn", tmp_path / "m.ctn.ckpt"
    _disk_full_at(monkeypatch, 2)  # sweep 1's model
    assert main(["train", "--data", "iris", "--hidden", "8", "--max-sweeps", "3", "--no-progress", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert f"continue it, once that can be written, with: connttra-neuro train --resume {ckpt}" in err
    assert not out.exists() and [r["sweep"] for r in
                                 thaw_metadata(modelfile.load(ckpt).metadata)["checkpoint"]["history"]] == [0, 1]


def test_the_bar_moves_inside_a_long_sweep(tmp_path, capsys, monkeypatch):
    # a wide layer on a large set runs for minutes per sweep: the bar says how far the sweep is
    from connttra_neuro.train import driver

    monkeypatch.setattr(driver, "PROGRESS_SECONDS", 0.0)  # every pass "long": a report after every neuron
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)  # bars are drawn on a terminal
    args = ["train", "--data", "iris", "--levels", "3", "--seed", "2", "--max-sweeps", "1"]
    assert main([*args, "--hidden", "8", "-o", str(tmp_path / "one.ctn")]) == 0
    err = capsys.readouterr().err
    assert [f"sweep 1: {k} of 8 neurons" in err for k in range(1, 8)] == [True] * 7
    assert main([*args, "--hidden", "6,4", "-o", str(tmp_path / "two.ctn")]) == 0
    assert "sweep 1: hidden layer 2, 3 of 4 neurons" in capsys.readouterr().err


def test_the_layer_by_layer_bar_moves_inside_a_long_sweep(tmp_path, capsys, monkeypatch):
    from connttra_neuro.train import driver

    monkeypatch.setattr(driver, "PROGRESS_SECONDS", 0.0)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)  # bars are drawn on a terminal
    assert main(["train", "--data", "iris", "--levels", "3", "--hidden", "6,4", "--layerwise", "1", "--max-sweeps", "1",
                 "-o", str(tmp_path / "m.ctn")]) == 0
    err = capsys.readouterr().err
    assert "layer 1/2, sweep 1: 5 of 6 neurons" in err and "layer 2/2, sweep 1: 3 of 4 neurons" in err


def test_a_second_run_writing_the_same_model_or_checkpoint_is_refused(tmp_path, capsys):
    # two runs given one -o (a shell loop with &, two terminals): both said "saved", each file was whole but
    # the last writer's, and the other run's model was lost with no word. The second run is refused up front
    from connttra_neuro._atomic import writing

    out, ckpt = tmp_path / "m.ctn", tmp_path / "m.ctn.ckpt"
    base = ["train", "--data", "iris", "--hidden", "4", "--max-sweeps", "1", "--no-progress"]
    for held, flag in ((out, "-o"), (ckpt, "--checkpoint (default: -o + .ckpt)")):
        with writing(held, "the first run"):  # what a running train holds (this process's pid in the lock)
            assert main([*base, "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"{flag} {held}: process {os.getpid()} is writing it now (a run with the same output)" in err
        assert "give this one another path, or wait until that one ends" in err
        assert not out.exists() and not ckpt.exists()  # refused before training: nothing written
    assert main([*base, "-o", str(out)]) == 0  # the first one ended: its lock is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ctn", "m.ctn.ckpt"]  # no lock file left behind
    with writing(ckpt, "the first run"):  # a resume continues in the checkpoint: held too
        assert main(["train", "--resume", str(ckpt), "--max-sweeps", "2", "--no-progress"]) == 2
    assert "is writing it now" in capsys.readouterr().err


def test_the_output_lock_is_taken_again_after_its_holder_ends(tmp_path):
    import fcntl

    from connttra_neuro._atomic import InUseError, writing

    path = tmp_path / "m.ctn"
    with writing(path, "-o m.ctn"):
        lock = tmp_path / ".m.ctn.lock"
        assert lock.read_text() == str(os.getpid())
        with pytest.raises(InUseError, match=f"-o m.ctn: process {os.getpid()} is writing it now"):
            with writing(path, "-o m.ctn"):
                pass
    assert not lock.exists()
    lock.write_text("12345")  # left by a run killed outright (kill -9): its flock went with it
    with writing(path, "-o m.ctn"):
        assert lock.read_text() == str(os.getpid())
        fd = os.open(lock, os.O_RDONLY)  # the lock is flock's, not the file's presence
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    assert not lock.exists()


def test_two_compares_into_one_folder_write_it_one_after_the_other(tmp_path, capsys, compare_in_process):
    # two `compare -o results/ &` at once each wrote compare.md, compare.json and compare.png into it, and the
    # folder could hold one run's JSON beside the other's table and plot. The second waits for the first one's
    # files, then writes its own whole set (as verify does with its report folder)
    import threading

    from connttra_neuro._atomic import writing

    out = tmp_path / "cmp"
    args = ["compare", "--data", "iris", "--methods", "connttra", "--hidden", "4", "--max-sweeps", "1",
            "--no-progress", "-o", str(out)]
    with writing(out / "compare.json", "the first compare"):  # what a compare writing its files holds
        done = []
        second = threading.Thread(target=lambda: done.append(main(args)))
        second.start()
        said = ""
        while "waiting for it to finish" not in said:
            assert second.is_alive(), said  # it waits, it does not give up
            second.join(0.05)
            said += capsys.readouterr().err
        assert f"-o {out}: process {os.getpid()} is writing it now; waiting for it to finish" in said
        assert not (out / "compare.md").exists()  # nothing of the second run written meanwhile
    second.join()
    assert done == [0]
    assert sorted(p.name for p in out.iterdir()) == ["compare.json", "compare.md", "compare.png"]  # no lock left


def test_a_run_that_fails_on_its_data_leaves_no_new_output_folder_behind(tmp_path, capsys):
    # train creates a missing -o folder when it locks its outputs, before the data are loaded: a run that then
    # failed on its data left an empty folder (two of them for new/deeper/) where the user had asked for a model
    out = tmp_path / "new" / "deeper" / "m.ctn"
    missing = str(tmp_path / "no" / "such.npz")
    assert main(["train", "--data", missing, "-o", str(out), "--plot", str(out) + ".png"]) == 2
    err = capsys.readouterr().err
    assert "such.npz" in err
    assert err.count("does not exist; creating it") == 1  # -o's note; the checkpoint and plot beside it: not again
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "notes.txt").write_text("mine")  # a folder that was there stays, with what it holds
    assert main(["train", "--data", str(tmp_path / "no" / "such.npz"), "-o", str(out)]) == 2
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["notes.txt"]
    assert main(["train", "--data", "iris", "--hidden", "4", "--max-sweeps", "1", "--no-progress", "-o", str(out)]) == 0
    assert out.exists()  # the folders a run writes in stay
