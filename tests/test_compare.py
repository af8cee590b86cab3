"""The comparison's timing metrics (connttra_neuro/train/compare.py)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from connttra_neuro.train.compare import _time_per_step, _time_to_final, standard_error

from .processes import group_alive

# a noisy curve that ends at 0.20 after touching 0.21 and 0.20 earlier
CURVE = [{"seconds": s, "val_error": e} for s, e in
         [(1.0, 0.30), (2.0, 0.21), (3.0, 0.25), (4.0, 0.20), (5.0, 0.22), (6.0, 0.20)]]


def test_time_to_final_is_when_the_final_value_is_first_reached():
    assert _time_to_final(CURVE) == 4.0
    assert _time_to_final(CURVE, tolerance=0.011) == 2.0  # 0.21 <= 0.20 + 0.011
    assert _time_to_final(CURVE[:1]) == 1.0


def test_standard_error_of_an_error_rate():
    assert standard_error(0.2, 1000) == pytest.approx(math.sqrt(0.2 * 0.8 / 1000))
    assert standard_error(0.0, 50) == 0.0


def test_time_per_step_is_the_median_interval():
    assert _time_per_step(CURVE) == 1.0
    assert _time_per_step([{"seconds": 0.5, "val_error": 0.1}, {"seconds": 3.5, "val_error": 0.1},
                           {"seconds": 4.0, "val_error": 0.1}]) == 0.5


def test_peak_rss_is_the_method_s_own_not_the_parent_s():
    # a spawned child's ru_maxrss starts at its parent's RSS: with 400 MB held here, the old figure
    # could not fall below ~400 MB whatever the method used
    from connttra_neuro.train import compare_methods

    ballast = np.ones(50_000_000)  # 400 MB, touched
    (row,) = compare_methods("iris", ("ste",), hidden=(8,), levels=2, epochs=2)
    assert row["peak_rss_bytes"] < 300 * 2**20 < ballast.nbytes
    assert 0 < row["train_seconds"] <= row["wall_seconds"]
    assert 0 <= row["training_memory_bytes"] < row["peak_rss_bytes"]


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux's peak-RSS reset")
def test_training_memory_counts_what_training_takes_not_what_was_loaded_before():
    from connttra_neuro.train.compare import _TrainingMemory

    loaded = np.ones(30_000_000)  # 240 MB held before training (data, libraries): not training's
    memory = _TrainingMemory()
    during = np.ones(12_500_000)  # 100 MB taken and given back during training
    del during
    memory.stop()
    assert 95 * 10**6 < memory.training_bytes < 140 * 10**6
    assert memory.process_peak() > loaded.nbytes + memory.training_bytes  # the process peak still has both


def test_default_epochs_give_the_baselines_enough_steps_on_small_sets():
    from connttra_neuro.train.compare import default_epochs

    assert [default_epochs(n) for n in (120, 1438, 4000, 60000)] == [1000, 84, 32, 30]
    assert default_epochs(0) == 1000


def test_the_baselines_learn_and_report_their_own_errors():
    # the comparison is only as honest as its baselines: both must learn digits well within 10
    # epochs (chance is 90% error), and the errors they report must be those of what they return
    from sklearn.datasets import load_digits

    from connttra_neuro.train.baselines import train_mlp, train_ste
    from hardware_targets.reference import forward

    X, y = load_digits(return_X_y=True)
    X, y, Xv, yv = X[:1000], y[:1000], X[1000:1400], y[1000:1400]
    network, history = train_ste(X, y, Xv, yv, hidden=(32,), levels=2, epochs=10, lr=0.03, seed=0)
    assert history[-1]["val_error"] < 0.2 and history[-1]["val_error"] < history[0]["val_error"] - 0.3
    for data, labels, key in ((X, y, "train_error"), (Xv, yv, "val_error")):
        scores, _ = forward(network, network.encode(data))  # the exported integer network, on the reference
        assert history[-1][key] == np.mean(np.argmax(scores, axis=1) != labels)
    clf, encoder, history = train_mlp(X, y, Xv, yv, hidden=(32,), levels=2, epochs=10, seed=0)
    assert history[-1]["val_error"] < 0.25 and history[-1]["val_error"] < history[0]["val_error"] - 0.3
    assert history[-1]["val_error"] == np.mean(clf.predict(encoder.encode(Xv).astype(np.float64)) != yv)
    assert [r["epoch"] for r in history] == list(range(1, 11))


def test_the_ste_network_maps_labels_to_outputs_and_the_baselines_refuse_unknown_settings():
    # labels that are not 0..C-1: the exported network must say which output is which (metadata classes),
    # or evaluate / verify read output 1 as label 1 (verify gave 100% error for 36% in the history)
    from sklearn.datasets import load_iris

    from connttra_neuro.train.baselines import train_mlp, train_ste
    from connttra_neuro.verify import verify

    X, y = load_iris(return_X_y=True)
    labels = np.array([3, 10, 42])[y]
    network, history = train_ste(X[::2], labels[::2], X[1::2], labels[1::2], hidden=(8,), epochs=5, seed=0)
    assert list(network.metadata["classes"]) == [3, 10, 42]
    assert verify(network, "reference", X[1::2], labels[1::2]).software["error"] == history[-1]["val_error"]
    for train, kw in ((train_ste, {"lr": 0.1}), (train_mlp, {"alpha": 1e-3})):
        with pytest.raises(TypeError, match="hiden"):  # a misspelt setting was dropped silently
            train(X, y, X, y, hiden=(4,), epochs=1, **kw)
        # a validation label training never saw: refused, as CoNNTrA refuses it (searchsorted counted
        # label 1 between training classes 0 and 2 as class 2)
        seen = y != 1
        with pytest.raises(ValueError, match=r"validation labels \[1\] never occur in training"):
            train(X[seen], y[seen], X, y, epochs=1, **kw)


def test_the_baselines_score_in_blocks_with_the_same_figures(monkeypatch):
    """Each epoch's scoring runs in blocks (no float copy of the whole training set, which the training
    memory counted); blocks of 7 samples give the same errors as one block of all of them."""
    from sklearn.datasets import load_digits

    from connttra_neuro.train import baselines

    X, y = load_digits(return_X_y=True)
    runs = {}
    for rows in (7, 10**6):
        monkeypatch.setattr(baselines, "SCORE_ROWS", rows)
        _, ste = baselines.train_ste(X[:500], y[:500], X[500:600], y[500:600], hidden=(16,), levels=2, epochs=3,
                                     seed=0, lr=0.1)
        _, _, mlp = baselines.train_mlp(X[:500], y[:500], X[500:600], y[500:600], hidden=(16,), levels=2, epochs=3,
                                        seed=0)
        runs[rows] = [(r["train_error"], r["val_error"]) for r in ste + mlp]
    assert runs[7] == runs[10**6]
    assert len({e for e, _ in runs[7]}) > 1  # the errors move from epoch to epoch: something was scored


def test_the_ste_export_is_the_network_it_trained(monkeypatch):
    # train_ste reports the exported integer network's errors, so an export that is not the trained
    # model (wrong threshold rounding, biases in the wrong score units) would go unnoticed there:
    # compare the export with the trained float parameters themselves
    from sklearn.datasets import load_digits

    from connttra_neuro.train import baselines
    from hardware_targets.reference import forward

    seen = {}

    class Spy(baselines._Adam):
        def __init__(self, params, lr):
            super().__init__(params, lr)
            seen["params"] = params  # updated in place by every step: the final parameters

    monkeypatch.setattr(baselines, "_Adam", Spy)
    X, y = load_digits(return_X_y=True)
    hidden = (16, 64)
    net, _ = baselines.train_ste(X[:600], y[:600], X[600:700], y[600:700], hidden=hidden, levels=2, epochs=8,
                                 seed=0, lr=0.1)
    params, L = seen["params"], len(hidden)
    Ws, Ts, b = params[:L + 1], params[L + 1:2 * L + 1], params[-1]
    spikes = net.encode(X[:600])
    scores, exported = forward(net, spikes, record_hidden=True)
    s = spikes.astype(np.float32)
    for layer in range(L):
        s = ((s @ baselines._ternary(Ws[layer]).T - Ts[layer]) >= 0).astype(np.float32)  # the training step
        np.testing.assert_array_equal(exported[layer], s, err_msg=f"hidden layer {layer}")
    assert any(np.any(T != np.round(T)) for T in Ts)  # thresholds between integers: the rounding matters
    np.testing.assert_array_equal(net.output.weights, baselines._ternary(Ws[-1]))
    gamma = 1.0 / max(1.0, math.sqrt(hidden[-1]) / 2)
    want = s @ baselines._ternary(Ws[-1]).T + b / gamma  # the float scores in integer score units
    assert np.abs(b / gamma).max() > 0.5  # biases that do not all round to 0: their units matter
    np.testing.assert_allclose(scores, want, rtol=0, atol=0.5 + 1e-4)  # the biases rounded, nothing else


@pytest.mark.timeout(180)
def test_a_script_without_a_main_guard_gets_an_error_not_a_hang(tmp_path):
    # spawn re-imports the calling script; a Pool restarted the dying worker forever
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text('from connttra_neuro.train import compare_methods\n'
                      'compare_methods("iris", ("ste",), hidden=(4,), levels=2, epochs=1)\n')
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=150, cwd=tmp_path)
    assert proc.returncode != 0
    assert 'ste: its subprocess died before returning a result' in proc.stderr
    assert 'if __name__ == "__main__":' in proc.stderr


@pytest.mark.filterwarnings("ignore:CoNNTrA stopped by max_sweeps")
def test_every_trainer_fits_its_encoder_on_the_training_data_only():
    # validation data shifted far from the training data: an encoder fitted on it (or on both) has
    # other thresholds than the one fitted on the training features alone
    from connttra_neuro.network import ThermometerEncoder
    from connttra_neuro.train import CoNNTrA
    from connttra_neuro.train.baselines import train_mlp, train_ste

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    Xv, yv = X[:20] + 5.0, y[:20]
    want = ThermometerEncoder.fit(X, 2).thresholds
    est = CoNNTrA(hidden=(4,), levels=2, max_sweeps=1, random_state=0).fit(X, y, validation=(Xv, yv))
    np.testing.assert_array_equal(est.network_.encoder.thresholds, want)
    network, _ = train_ste(X, y, Xv, yv, hidden=(4,), levels=2, epochs=1, seed=0)
    np.testing.assert_array_equal(network.encoder.thresholds, want)
    _, encoder, _ = train_mlp(X, y, Xv, yv, hidden=(4,), levels=2, epochs=1, seed=0)
    np.testing.assert_array_equal(encoder.thresholds, want)


# -- the comparison's plot (plots.plot_curves) ------------------------------------------
LONG = "/tmp/x/projects/edge_deployment_2025/customer_datasets/handwritten_digit_samples_v2/images_16x16_grey"


def _curve(method, label, errors, start, step):
    return {"method": method, "label": label, "dataset": LONG,
            "history": [{"seconds": start + step * i, "val_error": e} for i, e in enumerate(errors)]}


# shaped like digits: the MLP starts near chance, every method ends between 6% and 11%
RESULTS = [_curve("connttra", "CoNNTrA", np.linspace(0.21, 0.109, 15), 0.14, 0.07),
           _curve("ste", "ternary STE backprop", np.r_[0.5, 0.27, np.linspace(0.2, 0.103, 38)], 0.011, 0.0035),
           _curve("mlp", "float64 backprop (MLP)", np.r_[0.82, 0.69, 0.6, np.linspace(0.49, 0.067, 37)], 0.007, 0.0055)]


def _inside_figure(fig, artists):
    """Each artist's drawn box lies within the figure's (a pixel of rounding allowed)."""
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    for a in artists:
        b = a.get_window_extent(renderer)
        assert box.x0 - 1 <= b.x0 and b.x1 <= box.x1 + 1 and box.y0 - 1 <= b.y0 and b.y1 <= box.y1 + 1, a


@pytest.fixture
def curves_figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from connttra_neuro.train.plots import _curves_figure

    figures = []
    yield lambda *a, **k: figures.append(_curves_figure(plt, *a, **k)) or figures[-1]
    for fig in figures:
        plt.close(fig)


def test_a_data_path_is_shortened_and_the_legend_stays_out_of_the_curves(curves_figure, tmp_path):
    from connttra_neuro.train.compare import plot_curves

    assert plot_curves(RESULTS, tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = curves_figure(RESULTS, f"{LONG}: validation error against time")
    fig.canvas.draw()
    (ax,) = fig.axes
    legend = ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["CoNNTrA", "ternary STE backprop", "float64 backprop (MLP)"]  # the title names the data
    assert ax.get_title() == "images_16x16_grey: validation error against time"
    _inside_figure(fig, [ax.title, legend, ax.xaxis.label, ax.yaxis.label])
    renderer = fig.canvas.get_renderer()
    assert not legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))


def test_several_datasets_are_named_short_in_the_legend(curves_figure):
    from connttra_neuro.train.plots import short_name

    assert short_name(LONG) == "images_16x16_grey"  # the last two components would not fit
    assert short_name("/data/fashion/train") == "fashion/train"
    assert short_name("digits") == "digits"
    assert len(short_name("/d/" + "x" * 90)) == 40
    other = {**RESULTS[0], "dataset": "digits"}
    fig = curves_figure([RESULTS[0], other], "x" * 200)
    fig.canvas.draw()
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["images_16x16_grey: CoNNTrA", "digits: CoNNTrA"]
    assert ax.get_title().count("\n") == 2  # wrapped, not cut off at the figure's sides
    _inside_figure(fig, [ax.title, ax.get_legend()])


def test_the_error_axis_shows_where_the_methods_end_with_conntra_on_top(curves_figure):
    fig = curves_figure(RESULTS, "digits")
    fig.canvas.draw()
    (ax,) = fig.axes
    bottom, top = ax.get_ylim()
    # the MLP's first epochs (82%) do not set the scale: the band where the methods end (6.7-10.9%) does
    assert bottom == 0 and 2 * 10.9 < top < 40
    assert "early points above" in ax.get_ylabel() and "not shown" in ax.get_ylabel()
    ours, *baselines = ax.get_lines()
    assert all(ours.get_zorder() > line.get_zorder() for line in baselines)
    ends = {t.get_text(): t for t in ax.texts}
    assert set(ends) == {"10.9%", "10.3%", "6.7%"}
    assert ends["10.9%"].get_color() == ours.get_color()
    _inside_figure(fig, ax.texts)
    # no curve above the scale: nothing to say
    low = [{**r, "history": [h for h in r["history"] if h["val_error"] < 0.2]} for r in RESULTS]
    assert "not shown" not in curves_figure(low, "digits").axes[0].get_ylabel()


def test_final_labels_of_methods_ending_together_do_not_overlap(curves_figure):
    twins = [RESULTS[0], {**RESULTS[0], "method": "connttra-xent", "label": "CoNNTrA (xent)"}]
    twins[1]["history"] = [{**h, "val_error": h["val_error"] + 0.002} for h in twins[1]["history"]]
    fig = curves_figure(twins, "digits")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    a, b = (t.get_window_extent(renderer) for t in fig.axes[0].texts)
    assert not a.overlaps(b)


def _ending(label, start, end, error):
    """A curve from 50% at ``start`` seconds down to ``error`` at ``end``."""
    return {"method": label, "label": label, "dataset": "d",
            "history": [{"seconds": float(t), "val_error": float(e)}
                        for t, e in zip(np.geomspace(start, end, 8), np.linspace(0.5, error, 8), strict=True)]}


@pytest.mark.parametrize("layout", ["ends 0.61 decades apart", "nine ends together near the top"])
def test_end_labels_keep_a_minimum_gap_and_stay_in_the_axes(curves_figure, layout):
    # the old rule (ends within a tenth of the time axis, a gap in data units) let the first overlap: its
    # ends were just far enough apart in time, but the long legend narrowed the axes; the second went
    # up past the top of the axes into the title
    if layout == "ends 0.61 decades apart":  # a tenth of the 6-decade span is 0.6
        runs = [_ending("short", 1e-3, 10, 0.10),
                _ending("a rather long method label for the legend (MLP)", 1e-2, 10 * 10**0.61, 0.101),
                _ending("x", 1e-1, 1e3, 0.3)]
    else:
        runs = [_ending(f"method {i}", 1e-2, 10, 0.45 + 0.001 * i) for i in range(9)]
    fig = curves_figure(runs, "t")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (ax,) = fig.axes
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert len(boxes) == len(runs)
    gap = 1 * fig.dpi / 72  # at least a point apart (the plot keeps 1.5)
    for i, a in enumerate(boxes):
        for b in boxes[:i]:
            if a.x0 < b.x1 and b.x0 < a.x1:  # in the same columns: one above the other, the gap apart
                assert max(a.y0 - b.y1, b.y0 - a.y1) >= gap, (a, b)
    frame = ax.get_window_extent(renderer)
    assert all(frame.y0 <= b.y0 and b.y1 <= frame.y1 for b in boxes)


def test_a_nan_final_error_does_not_stop_the_plot(tmp_path):
    # a method without a validation sample ends on NaN; the axis limits were computed from it
    from connttra_neuro.train.plots import plot_curves

    runs = [{"method": "connttra", "label": "CoNNTrA", "dataset": "x",
             "history": [{"seconds": 0.1, "val_error": 0.5}, {"seconds": 0.2, "val_error": float("nan")}]},
            {"method": "mlp", "label": "MLP", "dataset": "x",
             "history": [{"seconds": 0.1, "val_error": 0.4}, {"seconds": 0.2, "val_error": 0.3}]}]
    assert plot_curves(runs, tmp_path / "c.png").stat().st_size > 0


def test_a_method_without_a_validation_curve_is_named_not_dropped(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from connttra_neuro.train.plots import _curves_figure

    runs = [{"method": "connttra", "label": "CoNNTrA", "history": [{"seconds": 0.1, "val_error": 0.2}]},
            {"method": "mlp", "label": "float64 backprop (MLP)", "history": [{"seconds": 0.1, "val_error": None}]}]
    fig = _curves_figure(plt, runs, "t")
    texts = [t.get_text() for t in fig.axes[0].texts]
    plt.close(fig)
    assert "no validation curve:\nfloat64 backprop (MLP)" in texts


def test_the_table_and_json_are_written_atomically(tmp_path, monkeypatch):
    # through _atomic.write_text: an interrupted write leaves the earlier file, not half of a new one
    import connttra_neuro.train.compare as compare

    written = []
    real = compare.write_text
    monkeypatch.setattr(compare, "write_text", lambda path, text: written.append(path) or real(path, text))
    compare.write_json([], tmp_path / "c.json")
    compare.write_markdown([], tmp_path / "c.md", "t")
    assert written == [tmp_path / "c.json", tmp_path / "c.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "c.md"]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("sig, code", [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_to_compare_alone_ends_its_training_worker(tmp_path, sig, code):
    # SIGTERM to compare's own process left the spawned worker training, then sleeping, forever; SIGINT
    # to it alone waited silently for the method to finish (minutes at full size)
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [sys.executable, "-m", "connttra_neuro", "compare", "--data", "digits", "--hidden", "32", "--methods",
         "connttra", "--max-sweeps", "100000", "--max-seconds", "120", "-o", str(tmp_path / "c")],
        cwd=root, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while len(group_alive(proc.pid)) < 3 and time.monotonic() < deadline:  # compare + worker (+ tracker)
            time.sleep(0.2)
        time.sleep(3.0)  # the worker is training by now
        os.kill(proc.pid, getattr(signal, sig))
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    deadline = time.monotonic() + 10
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = group_alive(proc.pid)
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == code, err[-2000:]
    assert not left, "left running after compare was stopped"
    assert f"compare: stopped with 0 of 1 methods trained; nothing was written to {tmp_path / 'c'}" in err


def test_progress_bars_show_each_method_and_change_no_result(capsys):
    # compare printed one line per method, then nothing for minutes at full size; the bars are updated
    # after each sweep or epoch, off the clock, and must not change what is trained
    from connttra_neuro.train import compare_methods

    settings = dict(hidden=(8,), levels=2, max_sweeps=3, epochs=3, isolate=False)
    quiet = compare_methods("iris", **settings)
    shown = compare_methods("iris", bars=True, **settings)
    err = capsys.readouterr().err
    for method, unit in (("connttra", "sweep"), ("ste", "epoch"), ("mlp", "epoch")):
        assert f"  {method}: " in err and "/3 [" in err and unit in err
    for a, b in zip(quiet, shown, strict=True):
        assert (a["train_error"], a["val_error"]) == (b["train_error"], b["val_error"])
        assert [r["val_error"] for r in a["history"]] == [r["val_error"] for r in b["history"]]
