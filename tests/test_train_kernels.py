"""The numba kernels against their naive twins (tests/naive.py) on small random problems."""

from __future__ import annotations

import math

import numpy as np
import pytest

from connttra_neuro.network import ThermometerEncoder
from connttra_neuro.train import _kernels as K
from connttra_neuro.train.driver import (
    TrainState,
    _bits,
    _csc,
    _csr,
    _stable_argsort_desc,
    initial_network,
    network_forward,
    noise_table,
    output_gains,
)
from connttra_neuro.train.losses import MIN_TEMPERATURE, resolve_loss, sample_losses_numpy
from tests import naive


def _problem(seed, n=36, features=5, levels=2, hidden=(5,), classes=3, values=(-1, 0, 1), loss="hinge"):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    y = rng.integers(0, classes, size=n)
    X[np.arange(n), y % features] += 1.5  # some signal, so moves are accepted
    enc = ThermometerEncoder.fit(X, levels)
    spikes = enc.encode(X)
    net = initial_network(enc, spikes, hidden, classes, values, 0.6, rng)
    # random non-zero output weights and biases, so hidden moves matter from the start
    net = net.replace(output=type(net.output)(rng.choice(values, size=net.output.weights.shape),
                                              rng.integers(-2, 3, size=classes)))
    params = resolve_loss(loss, None, None, hidden[-1])
    return net, spikes, y, params, rng


def _packed(inputs):
    return _bits(np.asarray(inputs).T)


def _assert_same(state, twin, spikes, y, params):
    for l in range(len(twin.W)):
        np.testing.assert_array_equal(np.asarray(state.WT[l]).T, twin.W[l])
        np.testing.assert_array_equal(np.asarray(state.T[l]), twin.T[l])
    np.testing.assert_array_equal(state.WoutT.T, twin.Wout)
    np.testing.assert_array_equal(state.b, twin.b)
    z, hidden = twin.forward(spikes)
    np.testing.assert_array_equal(state.Z, z)  # cached scores stay exact
    for l, s in enumerate(hidden):
        np.testing.assert_array_equal(np.asarray(state.S[l]).T, s)  # the state is neuron-major
        drive = spikes.astype(np.int64) @ twin.W[0].T if l == 0 else hidden[l - 1] @ twin.W[l].T
        np.testing.assert_array_equal(np.asarray(state.A[l]).T, drive + (0 if twin.noise is None else twin.noise[l]))
    np.testing.assert_array_equal(state.sl, sample_losses_numpy(z, y, *params))


def _frozen_noise(state, spikes):
    """The integer offsets ``TrainState._jitter`` folded into the cached drives."""
    noise, s = [], spikes.astype(np.int64)
    for l in range(len(state.WT)):
        noise.append(np.asarray(state.A[l], np.int64).T - s @ np.asarray(state.WT[l], np.int64))
        s = np.asarray(state.S[l], np.int64).T
    return noise


@pytest.mark.parametrize("loss", ["hinge", "xent"])
@pytest.mark.parametrize("hidden", [(5,), (4, 3)])
@pytest.mark.parametrize("batch", [None, 20])
@pytest.mark.parametrize("width,jitter", [(0, 0.0), (2, 0.0), (3, 1.5)])
@pytest.mark.parametrize("joint", [False, True])
def test_sweeps_match_naive_twin(loss, hidden, batch, width, jitter, joint):
    net, spikes, y, params, rng = _problem(1 + len(hidden), hidden=hidden, loss=loss)
    state = TrainState.build(net, spikes, y, *params, width=width, jitter=jitter)
    noise = None
    if jitter:
        state._jitter(np.random.default_rng(5))
        noise = _frozen_noise(state, spikes)
        assert any(np.any(nz != 0) for nz in noise)
    twin = naive.NaiveNet(net, noise)
    values = np.array(net.discrete_set)
    n = y.size
    screen = np.arange(n) if batch is None else np.sort(rng.choice(n, size=batch, replace=False))
    h_last = hidden[-1]
    bias_bound = h_last
    order_j = rng.permutation(h_last)
    in_screen = np.zeros(n, np.uint8)
    in_screen[screen] = 1
    G = output_gains(state.S[-1], state.WoutT, state.Z, state.y, state.sl, values, in_screen, *params, chunk=7)
    got = K.output_sweep(*_csc(np.asarray(state.S[-1]).T), state.WoutT, state.b, state.Z, state.y, state.sl, values,
                         order_j, G, *params, bias_bound)
    want = naive.output_sweep(twin, spikes, y, params, list(values), order_j, screen, bias_bound)
    assert got == want and got > 0
    _assert_same(state, twin, spikes, y, params)
    for l in range(len(hidden) - 1, -1, -1):
        inputs = spikes if l == 0 else np.asarray(state.S[l - 1]).T
        csc, csr = _csc(inputs), _csr(inputs)
        in_screen = np.zeros(n, np.uint8)
        in_screen[screen] = 1
        n_in, h = state.WT[l].shape
        oj, ok = rng.permutation(h), rng.permutation(n_in)
        before = int(state.sl.sum())
        got = K.hidden_sweep(l, csr[0], csr[1], in_screen, csc[0], csc[1], _packed(inputs), state.WT, state.T,
                             state.A, state.S, state.WoutT, state.Z, state.y, state.sl, values, oj,
                             state.visit_orders(l, inputs, ok), *params, joint)
        want = naive.hidden_sweep(twin, l, spikes, y, params, list(values), oj, ok, screen, width, joint)
        assert got == want
        assert int(state.sl.sum()) <= before
        _assert_same(state, twin, spikes, y, params)
    assert (twin.joint_moves > 0) == joint  # the joint candidates were taken, and only when allowed


@pytest.mark.parametrize("values, jitter, index", [
    *((v, j, "uint16") for v in [(-2, -1, 0, 1, 2), (-1, 1), (0, 1), (1, 2), (-3, 0, 5)] for j in (0.0, 1.5)),
    ((-1, 0, 1), 1.5, "int32"),  # the input lists of data with more than 65,536 inputs, forced here
])
@pytest.mark.parametrize("joint", [False, True])
def test_other_discrete_sets_match_naive_twin(values, jitter, joint, index, monkeypatch):
    # sets without 0, asymmetric and gapped ones (a move by d = v' - v of any size), with jitter too
    from connttra_neuro.train import driver

    if index == "int32":
        monkeypatch.setattr(driver, "UINT16_INPUTS", 0)
    net, spikes, y, params, rng = _problem(7, hidden=(4,), values=values)
    state = TrainState.build(net, spikes, y, *params, width=2, jitter=jitter)
    noise = None
    if jitter:
        state._jitter(np.random.default_rng(5))
        noise = _frozen_noise(state, spikes)
    twin = naive.NaiveNet(net, noise)
    vals = np.array(net.discrete_set)
    csc, csr = _csc(spikes), _csr(spikes)
    assert csr[1].dtype == (np.int32 if index == "int32" else np.uint16)
    oj, ok = rng.permutation(4), rng.permutation(spikes.shape[1])
    before = int(state.sl.sum())
    got = K.hidden_sweep(0, csr[0], csr[1], np.ones(y.size, np.uint8), csc[0], csc[1], _packed(spikes), state.WT,
                         state.T, state.A, state.S, state.WoutT, state.Z, state.y, state.sl, vals, oj,
                         state.visit_orders(0, spikes, ok), *params, joint)
    want = naive.hidden_sweep(twin, 0, spikes, y, params, list(vals), oj, ok, np.arange(y.size), 2, joint)
    assert got == want and got > 0
    assert int(state.sl.sum()) <= before
    _assert_same(state, twin, spikes, y, params)
    assert (twin.joint_moves > 0) == joint


def test_sample_losses_match_numpy():
    rng = np.random.default_rng(0)
    Z = rng.integers(-20, 20, size=(50, 4)).astype(np.int32)
    y = rng.integers(0, 4, size=50)
    # 1 / 0.01: the smallest temperature resolve_loss allows, where exp(z / T) overflows float64 unless the
    # largest score is taken out first (as the kernel does)
    for kind, margin, inv_t in [(K.HINGE, 3, 1.0), (K.XENT, 0, 0.37), (K.XENT, 0, 1 / MIN_TEMPERATURE)]:
        np.testing.assert_array_equal(K.sample_losses(Z, y, kind, margin, inv_t),
                                      sample_losses_numpy(Z, y, kind, margin, inv_t))


def test_gradient_order_differs_from_the_random_order():
    # the surrogate gradient really reorders the visits (else the width tests above prove nothing)
    net, spikes, y, params, rng = _problem(3, hidden=(5,))
    twin = naive.NaiveNet(net)
    order_k = list(rng.permutation(spikes.shape[1]))
    orders = [naive.gradient_order(twin, 0, j, spikes, y, params, order_k, 2) for j in range(5)]
    assert sorted(orders[0]) == sorted(order_k)
    assert any(o != order_k for o in orders)


@pytest.mark.parametrize("loss", ["hinge", "xent"])
@pytest.mark.parametrize("values", [(-1, 0, 1), (-1, 1), (-2, -1, 0, 1, 2)])
@pytest.mark.parametrize("through", ["float64", "int64"])
def test_output_screening_matrix_product_equals_per_move_forward_passes(loss, values, through, monkeypatch):
    # G = S @ F (BLAS, chunked) against the definition: a whole forward pass per candidate move;
    # "int64": the integer product used when float64 could not hold the sums exactly
    from connttra_neuro.train import driver

    if through == "int64":
        monkeypatch.setattr(driver, "FLOAT64_EXACT", 0)
    net, spikes, y, params, rng = _problem(11, hidden=(6,), values=values, loss=loss)
    state = TrainState.build(net, spikes, y, *params)
    twin = naive.NaiveNet(net)
    screen = np.sort(rng.choice(y.size, size=25, replace=False))
    in_screen = np.zeros(y.size, np.uint8)
    in_screen[screen] = 1
    G = output_gains(state.S[-1], state.WoutT, state.Z, state.y, state.sl, np.array(values), in_screen, *params,
                     chunk=10)
    base = twin.losses(spikes, y, params)
    C, h = twin.Wout.shape
    for j in range(h):
        for c in range(C):
            for v, value in enumerate(values):
                want = 0 if value == twin.Wout[c, j] else naive._gain(
                    twin, spikes, y, params, base, screen, naive._setter(twin.Wout, (c, j), value))
                assert G[j, c, v] == want, (j, c, value)


@pytest.mark.parametrize("loss", ["hinge", "xent"])
@pytest.mark.parametrize("hidden", [(5,), (4, 3)])
def test_layer_gradient_orders_equal_per_neuron_forward_passes(loss, hidden):
    # the whole layer's surrogate gradient as one matrix product against the definition
    # (a forward pass per sample and forced spike), neuron by neuron, deep layers included
    net, spikes, y, params, rng = _problem(13, hidden=hidden, loss=loss)
    state = TrainState.build(net, spikes, y, *params, width=3)
    twin = naive.NaiveNet(net)
    for l in range(len(hidden)):
        inputs = spikes if l == 0 else np.asarray(state.S[l - 1]).T
        order_k = rng.permutation(inputs.shape[1])
        got = state.visit_orders(l, inputs, order_k)
        args = (l, np.ascontiguousarray(inputs, dtype=np.uint8), state.WT, state.T, state.A, state.S, state.WoutT,
                state.Z, state.y, state.sl, state.kind, state.margin, state.inv_t, 3)
        np.testing.assert_array_equal(K.surrogate_gradient(*args, 0), K.surrogate_gradient(*args))  # int64 sums
        for j in range(hidden[l]):
            assert got[j].tolist() == naive.gradient_order(twin, l, j, spikes, y, params, list(order_k), 3)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0, 3.7])
def test_noise_table_is_the_rounded_gaussian(sigma):
    # every jitter value has its rounded-Gaussian probability to within one table entry (2**-16)
    table = noise_table(sigma)
    assert table.shape == (65536,) and table.dtype == np.int32
    values, counts = np.unique(table, return_counts=True)
    phi = np.vectorize(lambda x: 0.5 * (1 + math.erf(x / (sigma * math.sqrt(2)))))
    want = phi(values + 0.5) - phi(values - 0.5)
    np.testing.assert_allclose(counts / 65536, want, atol=2.0**-16 + 1e-12)
    assert abs(table.mean()) < 1e-3 and abs(table.var() / np.sum(want * values**2) - 1) < 0.01
    with pytest.raises(ValueError, match="positive sigma"):
        noise_table(0.0)


@pytest.mark.parametrize("hidden", [(5,), (4, 3)])
def test_jitter_redraws_the_noise_in_place(hidden):
    # the in-place redraw against numpy: table noise drawn layer by layer, caches consistent
    # with it after earlier sweeps' moves, and the training error that of the noise-free network
    net, spikes, y, params, _ = _problem(21, hidden=hidden)
    state = TrainState.build(net, spikes, y, *params, width=2, jitter=1.5)
    table = noise_table(1.5)
    for sweep in range(3):
        state._jitter(np.random.default_rng(40 + sweep))
        draws = np.random.default_rng(40 + sweep)
        s = spikes.astype(np.int64)
        for l, (w, t) in enumerate(zip(state.WT, state.T, strict=True)):
            noise = table[draws.integers(0, 65536, size=(w.shape[1], y.size), dtype=np.uint16)]
            a = s @ np.asarray(w, np.int64) + noise.T
            np.testing.assert_array_equal(np.asarray(state.A[l]).T, a)
            if l == 0:
                np.testing.assert_array_equal(state.noise0, noise)
            s = (a >= np.asarray(t)[None, :]).astype(np.int64)
            np.testing.assert_array_equal(np.asarray(state.S[l]).T, s)
        np.testing.assert_array_equal(state.Z, s @ state.WoutT + state.b)
        np.testing.assert_array_equal(state.sl, sample_losses_numpy(state.Z, y, *params))
        clean = network_forward(state.network(net), spikes)[2]
        np.testing.assert_array_equal(state._clean_scores(), clean)
        np.testing.assert_array_equal(state.scores(spikes), clean)  # the per-sweep validation path
        np.testing.assert_array_equal(state.scores(spikes.astype(np.float32)), clean)
        assert state.train_error == np.mean(np.argmax(clean, axis=1) != y)
        state.sweep(np.random.default_rng(90 + sweep), None)  # moves, then the next redraw


def test_output_scores_and_spikes_without_match_numpy():
    rng = np.random.default_rng(3)
    h, n, C = 37, 601, 4  # several sample blocks, the last one partial
    A = rng.integers(-9, 10, size=(h, n)).astype(np.int32)
    noise = rng.integers(-3, 4, size=(h, n)).astype(np.int32)
    t = rng.integers(-2, 3, size=h).astype(np.int64)
    S = K.spikes_without(A, noise, t)
    np.testing.assert_array_equal(S, (A - noise >= t[:, None]).astype(np.uint8))
    WoutT = rng.integers(-1, 2, size=(h, C)).astype(np.int32)
    b = rng.integers(-5, 6, size=C).astype(np.int64)
    np.testing.assert_array_equal(K.output_scores(S, WoutT, b, 64), S.T.astype(np.int64) @ WoutT + b)


def test_descending_order_is_the_stable_one():
    rng = np.random.default_rng(4)
    g = rng.integers(0, 4, size=(5, 30))  # many ties: the stable order, ties by column
    np.testing.assert_array_equal(_stable_argsort_desc(g), np.argsort(-g, axis=1, kind="stable"))
    g[0, 0] = 2**61  # keys would overflow: the fallback
    np.testing.assert_array_equal(_stable_argsort_desc(g), np.argsort(-g, axis=1, kind="stable"))


def test_exact_drive_is_the_integer_product_through_float32_and_float64():
    # BLAS in float32 while every partial sum stays below 2**24, float64 beyond: both exact
    from connttra_neuro.train.driver import _exact_drive

    rng = np.random.default_rng(3)
    spikes = rng.integers(0, 2, size=(40, 300)).astype(np.uint8)
    weights = rng.integers(-1, 2, size=(7, 300)).astype(np.int8)
    np.testing.assert_array_equal(_exact_drive(spikes, weights), spikes.astype(np.int64) @ weights.T.astype(np.int64))
    big = rng.integers(-(2**20), 2**20, size=(7, 300)).astype(np.int64)  # sums far beyond float32's 2**24
    want = spikes.astype(np.int64) @ big.T
    assert np.abs(want).max() > 2**24
    np.testing.assert_array_equal(_exact_drive(spikes, big), want)
    # just past float32's exact range (a bound of 3 * 2**24): 2**24 + 1 has no float32, so the switch to
    # float64 must come at 2**24, not some power later
    just = np.array([[2**24, 1, 0], [2**24 - 1, 1, 1]], np.int64)
    np.testing.assert_array_equal(_exact_drive(np.ones((2, 3), np.uint8), just), [[2**24 + 1, 2**24 + 1]] * 2)


def test_a_bias_move_tied_both_ways_goes_down_as_in_the_naive_twin():
    # the cross-entropy at a high temperature is almost flat in a bias, and its fixed-point rounding can make
    # b - 1 and b + 1 lower the loss by the same amount: the documented rule (and the twin) then takes b - 1
    from connttra_neuro.network import HiddenLayer, OutputLayer

    net, spikes, _, _, _ = _problem(0, n=2, hidden=(1,), classes=2)
    silent = HiddenLayer(np.zeros((1, spikes.shape[1]), np.int8), np.ones(1, np.int32))  # never fires: z = b
    net = net.replace(hidden=(silent,), output=OutputLayer(np.zeros((2, 1), np.int8), np.array([-1, 1])))
    y = np.array([0, 1])
    params = resolve_loss("xent", None, 1000.0, 1)
    state = TrainState.build(net, spikes, y, *params)
    twin = naive.NaiveNet(net)
    z = state.Z.astype(np.int64)
    gm, gp = (int((sample_losses_numpy(z + [d, 0], y, *params) - state.sl).sum()) for d in (-1, 1))
    assert gm == gp < 0  # the tie this test is about
    values = np.array(net.discrete_set)
    everyone = np.ones(2, np.uint8)
    G = output_gains(state.S[-1], state.WoutT, state.Z, state.y, state.sl, values, everyone, *params)
    got = K.output_sweep(*_csc(np.asarray(state.S[-1]).T), state.WoutT, state.b, state.Z, state.y, state.sl, values,
                         np.arange(1), G, *params, 5)
    want = naive.output_sweep(twin, spikes, y, params, list(values), np.arange(1), np.arange(2), 5)
    assert got == want and got > 0
    _assert_same(state, twin, spikes, y, params)
