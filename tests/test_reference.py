"""The reference target's two computations agree: step-by-step pipelined == vectorised."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connttra_neuro import HiddenLayer, random_network
from hardware_targets import RunResult, get_target, target_names
from hardware_targets.reference import forward, simulate

from .networks import input_spikes


@st.composite
def corner_networks(draw):
    n_hidden = draw(st.integers(1, 3))
    sizes = (
        [draw(st.integers(1, 6))]
        + [draw(st.sampled_from([1, 2, 5, 9])) for _ in range(n_hidden)]
        + [draw(st.integers(1, 4))]
    )
    dset = draw(st.sampled_from([(-1, 0, 1), (-1, 1), (-2, -1, 0, 1, 2)]))
    net = random_network(sizes, levels=draw(st.integers(1, 2)), discrete_set=dset, seed=draw(st.integers(0, 9999)))
    rng = np.random.default_rng(draw(st.integers(0, 9999)))
    hidden = []
    for layer in net.hidden:
        w, t = layer.weights.copy(), layer.thresholds.copy()
        fan = w.shape[1] * max(dset)
        if 0 in dset and draw(st.booleans()):
            w[rng.integers(w.shape[0])] = 0  # an all-zero row
        pick = rng.integers(w.shape[0])
        t[pick] = draw(st.sampled_from([-fan - 1, fan + 1, 0, t[pick]]))  # always / never / at zero
        hidden.append(HiddenLayer(w, t))
    return net.replace(hidden=tuple(hidden))


@settings(max_examples=80, deadline=None)
@given(corner_networks(), st.integers(1, 25), st.integers(0, 9999))
def test_pipelined_equals_direct(net, n, seed):
    spikes = input_spikes(net, n=max(n, 2), seed=seed)[:n]
    scores, hidden = forward(net, spikes, record_hidden=True)
    sim = simulate(net, spikes, record_hidden=True)
    np.testing.assert_array_equal(sim.scores, scores)
    for a, b in zip(sim.hidden_spikes, hidden, strict=True):
        np.testing.assert_array_equal(a, b)
    assert sim.steps == n + net.n_weight_layers


def test_forward_against_hand_computation():
    net = random_network((3, 2, 2), seed=0)
    s = np.array([[1, 0, 1]], np.uint8)
    h = (net.hidden[0].weights.astype(int) @ s[0] >= net.hidden[0].thresholds).astype(int)
    z = net.output.weights.astype(int) @ h + net.output.biases
    scores, hidden = forward(net, s, record_hidden=True)
    np.testing.assert_array_equal(hidden[0][0], h)
    np.testing.assert_array_equal(scores[0], z)


def test_no_samples():
    net = random_network((3, 2, 2))
    scores, hidden = forward(net, np.zeros((0, 3), np.uint8), record_hidden=True)
    assert scores.shape == (0, 2) and hidden[0].shape == (0, 2)
    assert simulate(net, np.zeros((0, 3), np.uint8)).scores.shape == (0, 2)


@pytest.mark.parametrize(
    "spikes, message",
    [
        (np.zeros((2, 5)), r"shape \(n_samples, 6\)"),
        (np.full((2, 6), 2), "must be 0 or 1, got 2 at sample 0, input 0"),
        (np.eye(2, 6) * 0.5 + np.eye(2, 6, 1), "must be 0 or 1, got 0.5 at sample 0, input 0"),
        (np.zeros((2, 3)), "did you pass raw features"),
    ],
)
def test_bad_spikes(spikes, message):
    net = random_network((3, 2, 2), levels=2)
    with pytest.raises(ValueError, match=message):
        forward(net, spikes)


def test_1d_spikes_are_refused_as_a_1d_x_is():
    # check_spikes took a 1-D array as one sample, where predict, verify, fit and the encoder refuse a
    # 1-D X (network.not_2d); for a one-input network that ran a column of samples as one wide sample
    one_input = random_network((1, 2, 2), seed=0)
    target = get_target("reference")
    for run in (forward, simulate, lambda net, s: target.run(target.compile(net), s)):
        with pytest.raises(ValueError, match=r"spikes must be 2-D \(n_samples, n_features\), got shape \(5,\): "
                                             r"one sample is spikes.reshape\(1, -1\).*takes 1 input spike per"):
            run(one_input, np.ones(5, np.uint8))
    with pytest.raises(ValueError, match=r"got shape \(\)"):
        forward(random_network((3, 2, 2), seed=0), np.uint8(1))


def test_forward_feeds_a_progress_bar(monkeypatch, capsys):
    """forward showed nothing while it ran: 10,000 samples through 784-4096-4096-10 took 20 s (60,000: two
    minutes), twice in a verify that also runs the reference target. Now a bar on stderr, shown after 2 s as
    loihi2's and brian2's, fed block by block to the sample count."""
    import hardware_targets.reference as reference

    seen = []
    real = reference._forward_bar

    def recording(n):
        bar = real(n)
        seen.append(bar)
        return bar

    monkeypatch.setattr(reference, "_forward_bar", recording)
    monkeypatch.setattr(reference, "_FORWARD_BLOCK", 7 * 9)  # blocks of 7 rows of the widest layer, 9
    net = random_network((5, 9, 3), seed=1)
    spikes = input_spikes(net, 50)
    scores, _ = forward(net, spikes)
    assert np.array_equal(scores, simulate(net, spikes).scores)
    assert [(bar.total, bar.n, bar.delay) for bar in seen] == [(50, 50, 2.0)]
    assert capsys.readouterr().err == ""  # a short pass shows none


def test_spike_check_runs_in_blocks_of_rows(monkeypatch):
    """check_spikes ran np.isin over the whole input, about 4 bytes per spike (180 MB for 60,000 Fashion-MNIST
    images, 1.1 GB at 6 thermometer levels) on every target's run; verify did the same with every hidden layer.
    In blocks of rows: the same answers, and the same first bad value named."""
    import tracemalloc

    import hardware_targets.base as base

    spikes = (np.random.default_rng(0).random((20_000, 784)) < 0.5).astype(np.uint8)
    tracemalloc.start()
    try:
        assert base.check_spikes(random_network((784, 4, 2)), spikes) is spikes  # uint8 already: no copy
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < spikes.nbytes / 2
    for block in (6 * 7, 1, 10**9):  # several rows, less than one row, all rows
        monkeypatch.setattr(base, "_BINARY_BLOCK", block)
        assert base.all_binary(np.eye(5, 6)) and base.all_binary(np.zeros((0, 6))) and base.all_binary(np.ones(3))
        assert base.all_binary(np.full((2, 6), True)) and base.all_binary(np.float64(1.0))
        for bad in (2, 0.5, -1, np.nan):
            x = np.eye(30, 6)
            x[-1, -1] = bad  # in the last block
            assert not base.all_binary(x) and not base.all_binary(x.T) and not base.all_binary(x.ravel())
            assert bad not in (2, -1) or not base.all_binary(x.astype(np.int8 if bad < 0 else np.uint8))
            with pytest.raises(ValueError, match=r"must be 0 or 1, got \S+ at sample 29, input 5"):
                forward(random_network((6, 2, 2)), x)


def test_registry():
    assert "reference" in target_names()
    with pytest.raises(KeyError, match="unknown target 'tpu'; known targets: reference"):
        get_target("tpu")
    with pytest.raises(ValueError, match="mode must be"):
        get_target("reference", mode="fast")
    result = get_target("reference").deploy(random_network((3, 2, 2)), np.ones((4, 3)))
    assert isinstance(result, RunResult) and result.predictions.shape == (4,)


def test_forward_runs_in_blocks_of_rows_exactly_and_without_whole_layer_drives(monkeypatch):
    """forward held the float64 and int64 drives of a whole layer at once: three (n, width) arrays,
    2.3 GB at peak for 60,000 samples through 2,048 hidden neurons. In blocks, the same numbers."""
    import tracemalloc

    import hardware_targets.reference as reference

    net = random_network((64, 512, 32, 10), seed=3, density=0.5)
    spikes = input_spikes(net, 30_000, seed=4)
    tracemalloc.start()
    try:
        scores, hidden = forward(net, spikes, record_hidden=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    whole_layer_drive = 30_000 * 512 * 8  # one float64 (n, 512) array: 123 MB
    assert peak < whole_layer_drive / 2
    # block edges: the last block short, blocks of one row, and a block larger than the data
    for block in (512 * 7, 1, 10**9):
        monkeypatch.setattr(reference, "_FORWARD_BLOCK", block)
        got_scores, got_hidden = forward(net, spikes[:50], record_hidden=True)
        want = simulate(net, spikes[:50], record_hidden=True)
        assert np.array_equal(got_scores, want.scores) and got_scores.dtype == np.int64
        for got, wanted in zip(got_hidden, want.hidden_spikes, strict=True):
            assert np.array_equal(got, wanted) and got.dtype == np.uint8
    assert np.array_equal(forward(net, spikes[:50])[0], scores[:50])
