"""Randomised cross-checks of the CoNNTrA kernels and estimator against their naive twins, on fixed seeds.

A compact, deterministic port of a randomised fuzzer. Every case draws a small problem and a
training configuration from ``np.random.default_rng(seed)``, so a failure names its seed and
reproduces exactly:

* data: 1-40 samples (2-40 for the estimator), 1-5 features, 2-7 classes (some of them with a
  single sample, some absent), duplicated samples (same or other label), constant features;
* network: 1-3 hidden layers of width 1-12, thermometer levels 1-4, the discrete sets in
  ``SETS`` (ternary, binary, without 0, wide, gapped, asymmetric, all positive), sometimes a random
  output layer and random thresholds (a few beyond the drive's range, which ``TrainState.build``
  clamps);
* training: hinge or cross-entropy with default or drawn margin / temperature, jitter 0 (exact)
  or > 0, screening on all samples / 1 sample / a batch larger than the data / a random batch,
  random coordinate order or the gradient order with surrogate width 1-10 (or the default), 1-3
  sweeps (the estimator: up to 4, with a tolerance, keep_best, validation data, string labels).

Two modes:

``kernel``  ``TrainState.sweep`` (the numba kernels) against ``naive_sweep`` (``tests/naive.py``,
            a whole forward pass per candidate move) drawing the same random numbers: changed
            counts and the loss after every pass, all parameters, the cached pre-activations,
            spikes, scores and per-sample losses (also against ``hardware_targets.reference``);
            the loss never rises within a sweep, and in exact mode never from sweep to sweep.
``estimator``  ``CoNNTrA.fit`` (history, every sweep's network, stopping, ``network_``) against a
            naive replica of ``fit``; ``predict`` against the reference forward's argmax; every
            recorded training / validation error recomputed from the reference forward.

The default case counts keep this file at about half a minute on two cores. Longer runs (the
original fuzzer ran thousands of cases) raise them with an environment variable:
``CONNTTRA_FUZZ_CASES=N`` runs N cases of each mode, ``CONNTTRA_FUZZ_CASES=K,E`` K kernel and E
estimator cases (seeds 0..K-1 and 0..E-1, so a longer run includes the default one), e.g.
``CONNTTRA_FUZZ_CASES=2000,500 python -m pytest -q tests/test_train_fuzz.py``.
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections import Counter

import numpy as np
import pytest

from connttra_neuro.network import ThermometerEncoder, check_discrete_set
from connttra_neuro.train import _kernels as K
from connttra_neuro.train import driver
from connttra_neuro.train.driver import TrainState, initial_network, noise_table, sweep_rng
from connttra_neuro.train.estimator import CoNNTrA, default_jitter
from connttra_neuro.train.losses import resolve_loss, sample_losses_numpy
from hardware_targets.reference import forward as reference_forward
from tests import naive
from tests.test_train_kernels import _assert_same

# about 0.2 s per case either way on two cores (the Python loop of the naive cross-entropy loss dominates)
KERNEL_CASES, ESTIMATOR_CASES = 100, 50


def _case_counts() -> tuple[int, int]:
    raw = os.environ.get("CONNTTRA_FUZZ_CASES", "").strip()
    if not raw:
        return KERNEL_CASES, ESTIMATOR_CASES
    counts = [int(part) for part in raw.split(",")]
    return counts[0], counts[-1]


N_KERNEL, N_ESTIMATOR = _case_counts()

SETS = [(-1, 0, 1), (-1, 1), (0, 1), (-2, -1, 0, 1, 2), (-3, 0, 5), (1, 2)]
BATCHES = [None, 1, "larger", "random"]  # screen on: all samples, one, more than n (= all), 1..n
# The naive twin costs a forward pass per candidate move; cases are redrawn until this rough
# count of them is small, so no single case dominates the run time.
MAX_NAIVE_COST = 8_000


# ---------------------------------------------------------------------------- drawing a case
def _draw_data(rng, n_min, n_max=40, f_max=5):
    """``(X, y, n_classes)``: small data with the awkward cases the kernels must survive."""
    n = int(rng.integers(n_min, n_max + 1))
    f = int(rng.integers(1, f_max + 1))
    classes = int(rng.integers(2, 8))
    kind = rng.choice(["normal", "int", "mixed"])  # integers and rounding: many tied feature values
    if kind == "normal":
        X = rng.normal(size=(n, f))
    elif kind == "int":
        X = rng.integers(0, 4, size=(n, f)).astype(float)
    else:
        X = np.round(rng.normal(size=(n, f)), 1)
    y = rng.integers(0, classes, size=n)
    if n >= 3 and rng.random() < 0.5:  # one or two classes with exactly one sample
        for c in rng.choice(classes, size=min(classes, int(rng.integers(1, 3))), replace=False):
            idx = np.nonzero(y == c)[0]
            if idx.size > 1:
                y[idx[1:]] = rng.choice([k for k in range(classes) if k != c], size=idx.size - 1)
            elif idx.size == 0:
                y[int(rng.integers(0, n))] = c
    if rng.random() < 0.7:  # some signal, so that moves are accepted
        X[np.arange(n), y % f] += 1.5
    if rng.random() < 0.3:  # constant features: levels whose spikes never (or always) fire
        for k in rng.choice(f, size=int(rng.integers(1, f + 1)), replace=False):
            X[:, k] = float(rng.integers(-2, 3))
    if rng.random() < 0.3 and n >= 2:  # duplicated samples, with the same or another label
        for _ in range(int(rng.integers(1, max(2, n // 3)))):
            a, b = rng.integers(0, n, size=2)
            X[b] = X[a]
            if rng.random() < 0.5:
                y[b] = y[a]
    return X, y, classes


def _draw_config(rng):
    return {
        "values": SETS[int(rng.integers(len(SETS)))],
        "levels": int(rng.integers(1, 5)),
        "hidden": tuple(int(rng.integers(1, 13)) for _ in range(int(rng.integers(1, 4)))),
        "loss": str(rng.choice(["hinge", "xent"])),
        "margin": None if rng.random() < 0.4 else int(rng.integers(1, 8)),  # None: the default
        "temperature": None if rng.random() < 0.4 else float(rng.choice([0.3, 0.5, 1.0, 1.7, 2.5, 7.0])),
        "jitter": 0.0 if rng.random() < 0.5 else float(rng.choice([0.2, 0.5, 1.0, 1.5, 2.5, 4.0])),
        "batch": BATCHES[int(rng.integers(len(BATCHES)))],
        "width": 0 if rng.random() < 0.35 else int(rng.integers(1, 11)),  # 0: random order
        "density": float(rng.choice([0.1, 0.5, 0.9, 1.0])),
        "sweeps": int(rng.integers(1, 4)),
    }


def _batch_size(kind, n, rng):
    if kind == "larger":
        return n + int(rng.integers(0, 5))  # >= n: no screening subset at all
    if kind == "random":
        return int(rng.integers(1, n + 1))
    return kind


def _naive_cost(cfg, n, n_features):
    """Rough number of naive forward passes of a case (candidate moves x sweeps x sample chunks)."""
    vmax = max(abs(v) for v in cfg["values"])
    total, fan_in = 0, n_features * cfg["levels"]
    for h in cfg["hidden"]:
        total += h * (fan_in * len(cfg["values"]) * 2 + 2 * fan_in * vmax + 4)
        fan_in = h
    # the numpy twin of the cross-entropy loops over samples in Python: about 3x the hinge's time
    return total * cfg["sweeps"] * max(1, n // 10) * (3 if cfg["loss"] == "xent" else 1)


def _draw_until_cheap(rng, n_min):
    while True:
        cfg = _draw_config(rng)
        X, y, classes = _draw_data(rng, n_min)
        if _naive_cost(cfg, y.size, X.shape[1]) < MAX_NAIVE_COST:
            return cfg, X, y, classes


def _kernel_case(seed):
    """Everything a kernel-mode case needs, drawn from ``seed`` (cheap: no training)."""
    rng = np.random.default_rng(seed)
    cfg, X, y, classes = _draw_until_cheap(rng, n_min=1)
    enc = ThermometerEncoder.fit(X, cfg["levels"])
    spikes = enc.encode(X)
    values = np.array(check_discrete_set(cfg["values"]))
    net = initial_network(enc, spikes, cfg["hidden"], classes, values, cfg["density"], rng)
    if rng.random() < 0.7:  # a random output layer, so that hidden moves matter from the first sweep
        out = type(net.output)(rng.choice(values, size=net.output.weights.shape), rng.integers(-2, 3, size=classes))
        net = net.replace(output=out)
    twin_net = net
    r = rng.random()
    if r < 0.35:  # random thresholds anywhere in the search range [-bound, bound + 1] ...
        beyond = 6 if r < 0.1 else 0  # ... or up to 6 beyond it (an init_network's)
        layers, clamped = [], []
        for layer in net.hidden:
            bound = layer.weights.shape[1] * int(np.abs(values).max())
            t = rng.integers(-bound - beyond, bound + 2 + beyond, size=layer.thresholds.shape)
            layers.append(type(layer)(layer.weights, t))
            # TrainState.build clamps to the range's edge (the same spikes); the twin starts there too
            clamped.append(type(layer)(layer.weights, np.clip(t, -bound, bound + 1)))
        net, twin_net = net.replace(hidden=tuple(layers)), net.replace(hidden=tuple(clamped))
    params = resolve_loss(cfg["loss"], cfg["margin"], cfg["temperature"], cfg["hidden"][-1])
    batch = _batch_size(cfg["batch"], y.size, rng)
    return cfg, X, y, spikes, values, net, twin_net, params, batch, int(rng.integers(0, 2**31))


def _estimator_case(seed):
    """The estimator's settings and data, drawn from ``seed`` (cheap: no training)."""
    rng = np.random.default_rng(seed)
    cfg, X, y, _ = _draw_until_cheap(rng, n_min=2)
    if np.unique(y).size < 2:  # fit needs two classes
        y[0], y[1] = 0, 1
    n = y.size
    cfg["sweeps"] = int(rng.integers(1, 5))
    label_kind = int(rng.integers(3))  # labels are any sortable values: fit works on their ranks
    if label_kind == 1:
        y = y * 7 - 3
    elif label_kind == 2:
        y = np.array([f"c{v}" for v in y])
    settings = dict(
        hidden=cfg["hidden"], levels=cfg["levels"], discrete_set=cfg["values"], loss=cfg["loss"],
        margin=cfg["margin"], temperature=cfg["temperature"], max_sweeps=cfg["sweeps"],
        batch_size=_batch_size(cfg["batch"], n, rng),
        coordinate_order="random" if cfg["width"] == 0 else "gradient",
        # gradient order with the default width sometimes
        surrogate_width=None if (cfg["width"] != 0 and rng.random() < 0.3) else (cfg["width"] or None),
        jitter=None if rng.random() < 0.2 else cfg["jitter"],  # None: the default (> 0)
        tol=float(rng.choice([0.0, 1e-4, 0.05])), init_density=cfg["density"], keep_best=bool(rng.random() < 0.5),
        random_state=int(rng.integers(0, 1000)))
    validation = None
    if rng.random() < 0.4:  # training samples, some with noise added
        idx = rng.integers(0, n, size=int(rng.integers(1, 10)))
        Xv = X[idx] + (rng.normal(size=(idx.size, X.shape[1])) * 0.3 if rng.random() < 0.5 else 0)
        validation = (Xv, y[idx])
    settings["joint_moves"] = bool(rng.random() < 0.5)  # drawn last: the earlier draws stay as they were
    return cfg, X, y, settings, validation


# ---------------------------------------------------------------------------- the naive side
def naive_sweep(twin, spikes, y, params, values, rng, batch_size, width, jitter, joint=False):
    """``TrainState.sweep`` with the naive twin, consuming ``rng`` exactly as the driver does.

    Returns ``(changed, loss at the start, [(pass, changed, loss after)])``, the passes being
    the output layer, then the hidden layers last to first.
    """
    n = y.size
    if jitter > 0:  # one 16-bit draw per (neuron, sample), layer by layer: the driver's _jitter
        table = noise_table(jitter)
        twin.noise = [table[rng.integers(0, 65536, size=(w.shape[0], n), dtype=np.uint16)].T.astype(np.int64)
                      for w in twin.W]
    start = int(twin.losses(spikes, y, params).sum())
    screen = np.arange(n)
    if batch_size is not None and batch_size < n:
        screen = np.sort(rng.choice(n, size=batch_size, replace=False))
    vals = [int(v) for v in values]
    h_last = twin.Wout.shape[1]
    bias_bound = h_last * max(abs(v) for v in vals)
    changed = naive.output_sweep(twin, spikes, y, params, vals, rng.permutation(h_last).astype(np.int64), screen,
                                 bias_bound)
    passes = [("out", changed, int(twin.losses(spikes, y, params).sum()))]
    for l in range(len(twin.W) - 1, -1, -1):
        h, n_in = twin.W[l].shape
        order_j = rng.permutation(h).astype(np.int64)
        order_k = rng.permutation(n_in).astype(np.int64)
        c = naive.hidden_sweep(twin, l, spikes, y, params, vals, order_j, list(order_k), screen, width, joint)
        changed += c
        passes.append((f"hidden{l}", c, int(twin.losses(spikes, y, params).sum())))
    return changed, start, passes


def _clean_forward(twin, spikes):
    """The twin's scores without the sweep's jitter (what the exported network computes)."""
    saved, twin.noise = twin.noise, None
    try:
        return twin.forward(spikes)[0]
    finally:
        twin.noise = saved


def _error(scores, y):
    return float(np.mean(np.argmax(scores, axis=1) != y))  # argmax: ties to the lowest class


# ---------------------------------------------------------------------------- the fast side
@pytest.fixture
def kernel_passes(monkeypatch):
    """Log ``(pass, loss before, loss after, changed)`` of every pass ``TrainState.sweep`` runs.

    The driver calls the output kernel through the module and each hidden layer's kernel through
    ``TrainState._hidden_pass`` (in slices of neurons when the pass is long), so wrapping those sees
    every pass (also those of ``CoNNTrA.fit``): the loss within a sweep is only visible from here.
    """
    # the first fit in a process warms the kernels up by a sweep of a tiny network: done now, so that its
    # passes are not logged (alone in a process, test_fit_matches_naive_fit[0] saw them as its first sweep's)
    driver.warm_up_kernels()
    log = []
    kernel = K.output_sweep
    at = list(inspect.signature(kernel.py_func).parameters).index("sl")  # per-sample losses, in place

    def output_pass(*args):
        before = int(args[at].sum())
        changed = kernel(*args)
        log.append(("out", before, int(args[at].sum()), int(changed)))
        return changed

    hidden = TrainState._hidden_pass

    def hidden_pass(self, l, *args):
        before = int(self.sl.sum())
        changed = hidden(self, l, *args)
        log.append((f"hidden{l}", before, int(self.sl.sum()), int(changed)))
        return changed

    monkeypatch.setattr(K, "output_sweep", output_pass)
    monkeypatch.setattr(TrainState, "_hidden_pass", hidden_pass)
    return log


def _check_passes(log, naive_passes, where):
    fast = [(name, changed, after) for name, _, after, changed in log]
    assert fast == naive_passes, f"{where}\n(pass, changed, loss after): kernels {fast}\n{' ' * 27}naive {naive_passes}"
    for name, before, after, _ in log:
        assert after <= before, f"{where}: the loss rose in pass {name}: {before} -> {after}"


def _check_against_reference(state, template, spikes, y, params):
    """The cached state against a fresh reference forward of the state's network (another
    implementation than the twin's); under jitter, the noise-free parts of the caches."""
    net = state.network(template)
    scores, hidden = reference_forward(net, spikes, record_hidden=True)
    assert state.train_error == _error(scores, y)
    if state.noise0 is None:
        np.testing.assert_array_equal(state.Z, scores)
        s = spikes.astype(np.int64)
        for l, layer in enumerate(net.hidden):
            np.testing.assert_array_equal(np.asarray(state.A[l]).T, s @ layer.weights.astype(np.int64).T)
            np.testing.assert_array_equal(np.asarray(state.S[l]).T, hidden[l])
            s = hidden[l].astype(np.int64)
        np.testing.assert_array_equal(state.sl, sample_losses_numpy(scores, y, *params))
    else:
        drive0 = spikes.astype(np.int64) @ net.hidden[0].weights.astype(np.int64).T
        np.testing.assert_array_equal(np.asarray(state.A[0], np.int64).T - np.asarray(state.noise0).T, drive0)
        np.testing.assert_array_equal(state._clean_scores(), scores)


# ---------------------------------------------------------------------------- kernel mode
@pytest.mark.parametrize("seed", range(N_KERNEL))
def test_sweeps_match_naive_twin(seed, kernel_passes, monkeypatch):
    cfg, X, y, spikes, values, net, twin_net, params, batch, base_seed = _kernel_case(seed)
    if seed % 3 == 2:  # every neuron its own kernel call, as a long pass runs in slices (_hidden_pass)
        monkeypatch.setattr(driver, "PROGRESS_SECONDS", 0.0)
    width, jitter = cfg["width"], cfg["jitter"]
    joint = seed % 2 == 1  # joint weight-threshold moves on every other case
    state = TrainState.build(net, spikes, y, *params, width=width, jitter=jitter, joint=joint)
    twin = naive.NaiveNet(twin_net)
    _assert_same(state, twin, spikes, y, params)
    _check_against_reference(state, net, spikes, y, params)
    scale = K.XENT_SCALE if params[0] == K.XENT else 1.0
    previous = int(state.sl.sum())
    for sweep in range(1, cfg["sweeps"] + 1):
        where = f"seed {seed} sweep {sweep} {cfg}"
        kernel_passes.clear()
        got = state.sweep(sweep_rng(base_seed, sweep), batch)
        want, start, passes = naive_sweep(twin, spikes, y, params, values, sweep_rng(base_seed, sweep), batch,
                                          width, jitter, joint)
        _check_passes(kernel_passes, passes, where)
        assert got == want, f"{where}: changed {got} (kernels) != {want} (naive)"
        # the loss after the sweep's jitter, before any move
        assert round(state.start_loss * y.size * scale) == start, f"{where}: start {state.start_loss} != {start}"
        _assert_same(state, twin, spikes, y, params)  # parameters and every cache, exactly
        _check_against_reference(state, net, spikes, y, params)
        if jitter == 0:  # exact mode: never rises from sweep to sweep either
            assert int(state.sl.sum()) <= previous, f"{where}: the loss rose {previous} -> {int(state.sl.sum())}"
        previous = int(state.sl.sum())


@pytest.mark.parametrize("n, hidden, loss, width, jitter, joint, batch", [
    (100, (8,), "hinge", 2, 1.0, True, 64),  # gradient order, jitter, joint moves, mini-batch screening
    (60, (6, 4), "xent", 0, 0.0, False, None),  # two hidden layers, random order, exact mode
])
def test_sweeps_match_naive_twin_on_digits(n, hidden, loss, width, jitter, joint, batch, kernel_passes):
    # the random cases above are tiny (at most 20 inputs); real images exercise what only size
    # reaches: bit-packed rows of many bytes, 128 inputs per neuron, many samples near a threshold
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = X[:n], y[:n]
    encoder = ThermometerEncoder.fit(X, 2)
    spikes = encoder.encode(X)
    values = np.array((-1, 0, 1))
    net = initial_network(encoder, spikes, hidden, 10, values, 0.5, sweep_rng(0, -1))
    params = resolve_loss(loss, None, None, hidden[-1])
    state = TrainState.build(net, spikes, y, *params, width=width, jitter=jitter, joint=joint)
    twin = naive.NaiveNet(net)
    for sweep in (1, 2):
        kernel_passes.clear()
        got = state.sweep(sweep_rng(0, sweep), batch)
        want, start, passes = naive_sweep(twin, spikes, y, params, values, sweep_rng(0, sweep), batch,
                                          width, jitter, joint)
        _check_passes(kernel_passes, passes, f"digits sweep {sweep}")
        assert got == want > 0
        _assert_same(state, twin, spikes, y, params)
        _check_against_reference(state, net, spikes, y, params)


# ---------------------------------------------------------------------------- estimator mode
@pytest.mark.parametrize("seed", range(N_ESTIMATOR))
def test_fit_matches_naive_fit(seed, kernel_passes):
    cfg, X, y, settings, validation = _estimator_case(seed)
    records, pass_logs = [], []

    def callback(_est, record, state_network):  # every sweep's record, network and kernel passes
        records.append((dict(record), state_network()))
        pass_logs.append(list(kernel_passes))
        kernel_passes.clear()

    est = CoNNTrA(**settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: most cases stop at max_sweeps
        est.fit(X, y, validation=validation, callback=callback)

    # the naive replica of fit: the same encoder, initial network, settings and random streams
    classes, y_idx = np.unique(y, return_inverse=True)
    n = y.size
    enc = ThermometerEncoder.fit(np.asarray(X, float), settings["levels"])
    spikes = enc.encode(X)
    values = np.array(check_discrete_set(settings["discrete_set"]))
    random_state = settings["random_state"]
    net0 = initial_network(enc, spikes, settings["hidden"], classes.size, values, settings["init_density"],
                           sweep_rng(random_state, -1))
    params = resolve_loss(settings["loss"], settings["margin"], settings["temperature"], settings["hidden"][-1])
    scale = K.XENT_SCALE if params[0] == K.XENT else 1.0
    if settings["coordinate_order"] == "random":
        width = 0
    else:
        width = settings["surrogate_width"] or max(1, round(np.sqrt(spikes.shape[1]) / 4))
    jitter = settings["jitter"] if settings["jitter"] is not None else default_jitter(spikes.shape[1])
    twin = naive.NaiveNet(net0)
    spikes_val = y_val = None
    if validation is not None:
        spikes_val, y_val = enc.encode(validation[0]), np.searchsorted(classes, validation[1])

    def loss_of(total):
        return float(total) / n / scale

    def errors():
        train = _error(_clean_forward(twin, spikes), y_idx)
        return train, (None if spikes_val is None else _error(_clean_forward(twin, spikes_val), y_val))

    h0 = est.history_[0]
    assert (h0["loss"], h0["train_error"], h0["val_error"]) == (
        loss_of(twin.losses(spikes, y_idx, params).sum()), *errors())
    swept, converged = 0, False
    for sweep in range(1, settings["max_sweeps"] + 1):
        where = f"seed {seed} sweep {sweep} {settings}"
        changed, start, passes = naive_sweep(twin, spikes, y_idx, params, values, sweep_rng(random_state, sweep),
                                             settings["batch_size"], width, jitter, settings["joint_moves"])
        loss = loss_of(twin.losses(spikes, y_idx, params).sum())
        train_error, val_error = errors()
        assert sweep <= len(records), f"{where}: fit stopped after {len(records)} sweeps, the replica goes on"
        record, network = records[sweep - 1]
        _check_passes(pass_logs[sweep - 1], passes, where)
        got = (record["changed"], record["loss"], record["train_error"], record["val_error"])
        want = (changed, loss, train_error, val_error)
        assert got == want, f"{where}\n(changed, loss, train_error, val_error): fit {got}, naive {want}"
        for layer, w, t in zip(network.hidden, twin.W, twin.T, strict=True):
            np.testing.assert_array_equal(layer.weights, w)
            np.testing.assert_array_equal(layer.thresholds, t)
        np.testing.assert_array_equal(network.output.weights, twin.Wout)
        np.testing.assert_array_equal(network.output.biases, twin.b)
        # the record against a fresh reference forward of that sweep's network
        scores, _ = reference_forward(network, network.encode(X))
        assert record["train_error"] == _error(scores, y_idx), where
        if validation is not None:
            assert record["val_error"] == _error(reference_forward(network, network.encode(validation[0]))[0],
                                                 y_val), where
        if jitter == 0:  # exact mode: the recorded loss is the network's own and never rises
            own = loss_of(K.sample_losses(np.asarray(scores, np.int32), y_idx, *params).sum())
            assert record["loss"] == own, f"{where}: recorded loss {record['loss']} != {own}"
            assert record["loss"] <= est.history_[sweep - 1]["loss"], where
        swept = sweep
        before = loss_of(start)  # the loss after the sweep's jitter, before its moves
        if changed == 0 or before - loss <= settings["tol"] * abs(before):
            converged = True
            break
    assert (len(records), est.n_sweeps_, est.converged_) == (swept, swept, converged)

    # predict: the reference forward's argmax of network_, mapped back to the labels
    scores, _ = reference_forward(est.network_, est.network_.encode(X))
    np.testing.assert_array_equal(est.predict(X), classes[np.argmax(scores, axis=1)])
    # network_: with keep_best the last of the best sweeps (validation error, else training error)
    keys = [r["val_error"] if r["val_error"] is not None else r["train_error"] for r, _ in records]
    pick = max(i for i, k in enumerate(keys) if k == min(keys)) if settings["keep_best"] else len(records) - 1
    for got, want in zip(est.network_.layers, records[pick][1].layers, strict=True):
        np.testing.assert_array_equal(got.weights, want.weights)
    for got, want in zip(est.network_.hidden, records[pick][1].hidden, strict=True):
        np.testing.assert_array_equal(got.thresholds, want.thresholds)
    np.testing.assert_array_equal(est.network_.output.biases, records[pick][1].output.biases)


# ---------------------------------------------------------------------------- coverage of the seeds
def test_the_fixed_seeds_cover_every_option():
    # a fixed list of seeds is only as good as what it draws: every option listed in the module
    # docstring must occur among the default cases (drawing a case trains nothing: milliseconds)
    seen = Counter()
    for seed in range(KERNEL_CASES):
        cfg, X, y, spikes, values, net, twin_net, params, batch, _ = _kernel_case(seed)
        n = y.size
        seen.update([("set", cfg["values"]), ("layers", len(cfg["hidden"])), ("levels", cfg["levels"]),
                     ("loss", cfg["loss"]), ("margin", cfg["margin"] is not None),
                     ("temperature", cfg["temperature"] is not None), ("jitter", cfg["jitter"] > 0),
                     ("batch", cfg["batch"]), ("gradient order", cfg["width"] > 0), ("sweeps", cfg["sweeps"])])
        seen["single-sample class"] += bool(np.any(np.bincount(y) == 1)) and n > 1
        seen["duplicates"] += np.unique(X, axis=0).shape[0] < n
        seen["constant feature"] += n > 1 and bool(np.any(np.ptp(X, axis=0) == 0))
        seen["thresholds beyond range"] += any(np.any(a.thresholds != b.thresholds)
                                               for a, b in zip(net.hidden, twin_net.hidden, strict=True))
        seen["n = 1"] += n == 1
        seen["width 12"] += max(cfg["hidden"]) == 12
    want = ([("set", s) for s in SETS] + [("layers", k) for k in (1, 2, 3)] + [("levels", k) for k in (1, 2, 3, 4)]
            + [("loss", k) for k in ("hinge", "xent")] + [("batch", b) for b in BATCHES]
            + [("sweeps", k) for k in (1, 2, 3)]
            + [(k, v) for k in ("margin", "temperature", "jitter", "gradient order") for v in (False, True)]
            + ["single-sample class", "duplicates", "constant feature", "thresholds beyond range", "n = 1",
               "width 12"])
    assert [k for k in want if not seen[k]] == []
    estimator = Counter()
    for seed in range(ESTIMATOR_CASES):
        cfg, X, y, settings, validation = _estimator_case(seed)
        estimator.update([("labels", y.dtype.kind), ("validation", validation is not None),
                          ("keep_best", settings["keep_best"]), ("jitter", settings["jitter"]),
                          ("order", settings["coordinate_order"]), ("loss", settings["loss"])])
    assert {("labels", "i"), ("labels", "U"), ("validation", True), ("validation", False), ("keep_best", True),
            ("keep_best", False), ("jitter", None), ("jitter", 0.0), ("order", "random"), ("order", "gradient"),
            ("loss", "hinge"), ("loss", "xent")} <= set(estimator)
