"""Backprop baselines on the same architecture and the same encoded input spikes.

* ``train_mlp``: float backprop (scikit-learn ``MLPClassifier``, float64 parameters,
  ReLU hidden units), the paper's float baseline.
* ``train_ste``: ternary weights and step activations trained by backprop with a
  straight-through estimator (numpy). Latent float weights are ternarised in the
  forward pass (``q(w) = sign(w) * (|w| > 0.7 mean|w|)``, TWN-style, no scale so the
  network stays integer); the step ``s = (a >= T)`` passes a sigmoid-derivative
  surrogate gradient backwards. The result is exported to a ``TernaryNetwork``
  (``T -> ceil(T)``, biases divided by the score scale and rounded) and every reported
  error is the exported integer network's.

Both record ``history`` (per epoch: ``epoch, train_error, val_error, seconds``).
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np

from connttra_neuro.network import HiddenLayer, OutputLayer, TernaryNetwork, ThermometerEncoder

from .driver import network_forward, validation_indices
from .estimator import _classes_metadata

__all__ = ["train_mlp", "train_ste"]


# Each epoch's scoring (off the clock) runs in blocks of this many samples. Scored at once, the full
# Fashion-MNIST training set made float and int64 copies of itself (the straight-through network's
# integer forward pass, the MLP's hidden activations) that were a fifth to a third of the baselines'
# measured training memory: bookkeeping counted as training.
SCORE_ROWS = 8192


def _in_blocks(score, rows: np.ndarray) -> np.ndarray:
    """``score(rows)`` block by block, concatenated: the same values (each row is scored on its own)."""
    return np.concatenate([score(rows[a:a + SCORE_ROWS]) for a in range(0, len(rows), SCORE_ROWS)])


def _err(Z, y) -> float:
    return float(np.mean(np.argmax(Z, axis=1) != y))


def train_mlp(X, y, Xv, yv, *, hidden=(64,), levels=1, epochs=50, max_seconds=None, seed=0, alpha=1e-4,
              callback=None):
    """Float64 MLP on the thermometer-encoded spikes (Adam, mini-batches of 128, L2 penalty
    ``alpha``: scikit-learn's default 1e-4). ``callback(record)`` after each epoch, off the clock.
    Returns ``(model, encoder, history)``."""
    from sklearn.exceptions import ConvergenceWarning as SkWarning
    from sklearn.neural_network import MLPClassifier

    enc = ThermometerEncoder.fit(X, levels)
    s, sv = enc.encode(X).astype(np.float64), enc.encode(Xv).astype(np.float64)
    classes = np.unique(y)
    validation_indices(classes, yv, len(y))  # refused as CoNNTrA and the straight-through network refuse it
    clf = MLPClassifier(hidden_layer_sizes=tuple(hidden), random_state=seed, batch_size=min(128, len(y)),
                        learning_rate_init=1e-3, alpha=alpha)
    history, t0, scoring = [], time.perf_counter(), 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkWarning)
        for epoch in range(1, epochs + 1):
            clf.partial_fit(s, y, classes=classes)
            e0 = time.perf_counter()  # scoring is bookkeeping, not training: kept off the clock (as CoNNTrA's)
            record = {"epoch": epoch, "train_error": float(np.mean(_in_blocks(clf.predict, s) != y)),
                      "val_error": float(np.mean(_in_blocks(clf.predict, sv) != yv))}
            scoring += time.perf_counter() - e0
            history.append({**record, "seconds": time.perf_counter() - t0 - scoring})
            scoring += _report(callback, history[-1])
            if max_seconds is not None and history[-1]["seconds"] >= max_seconds:
                break
    return clf, enc, history


def _report(callback, record: dict) -> float:
    """Call ``callback(record)`` (a progress bar) and return the seconds it took, to keep off the clock."""
    if callback is None:
        return 0.0
    c0 = time.perf_counter()
    callback(record)
    return time.perf_counter() - c0


def _ternary(w: np.ndarray) -> np.ndarray:
    delta = 0.7 * np.mean(np.abs(w))
    return (np.sign(w) * (np.abs(w) > delta)).astype(np.float32)


class _Adam:
    def __init__(self, params, lr):
        self.lr, self.t = lr, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, params, grads):
        self.t += 1
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=False):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            p -= self.lr * (m / (1 - 0.9**self.t)) / (np.sqrt(v / (1 - 0.999**self.t)) + 1e-8)


def train_ste(X, y, Xv, yv, *, hidden=(64,), levels=1, epochs=50, max_seconds=None, seed=0, lr=0.03,
              batch_size=128, callback=None):
    """Ternary-weight step network by backprop with a straight-through estimator.

    Returns ``(network, history)``; errors in ``history`` are those of the exported network.
    ``callback(record)`` after each epoch, off the clock.
    """
    rng = np.random.default_rng(seed)
    enc = ThermometerEncoder.fit(X, levels)
    s0 = enc.encode(X).astype(np.float32)
    sv = enc.encode(Xv)
    classes, yi = np.unique(y, return_inverse=True)
    yvi = validation_indices(classes, yv, len(y))
    C = classes.size
    labels = _classes_metadata(classes)
    sizes = [s0.shape[1], *hidden, C]
    Ws = [rng.uniform(-1, 1, size=(o, i)).astype(np.float32) for i, o in zip(sizes[:-1], sizes[1:], strict=False)]
    # thresholds start at the median drive so units fire about half the time
    Ts, a = [], s0
    for W in Ws[:-1]:
        pre = a @ _ternary(W).T
        Ts.append(np.median(pre, axis=0).astype(np.float32))
        a = (pre >= Ts[-1]).astype(np.float32)
    b = np.zeros(C, np.float32)
    gamma = 1.0 / max(1.0, math.sqrt(hidden[-1]) / 2)  # score scale, as CoNNTrA's xent temperature
    widths = [0.5 * math.sqrt(n) for n in sizes[:-2]]  # surrogate width ~ spread of a ternary drive
    params = [*Ws, *Ts, b]
    opt = _Adam(params, lr)
    onehot = np.eye(C, dtype=np.float32)

    def export() -> TernaryNetwork:
        hid = tuple(HiddenLayer(_ternary(W).astype(np.int8), np.ceil(T).astype(np.int64))
                    for W, T in zip(Ws[:-1], Ts, strict=False))
        out = OutputLayer(_ternary(Ws[-1]).astype(np.int8), np.rint(b / gamma).astype(np.int64))
        # the labels, so evaluate / verify map a dataset's labels to outputs as for a CoNNTrA model
        return TernaryNetwork(enc, hid, out, (-1, 0, 1), {"source": "ste", "seed": seed, "classes": labels})

    history, t0, scoring = [], time.perf_counter(), 0.0
    n = s0.shape[0]
    for epoch in range(1, epochs + 1):
        for start in range(0, n, batch_size):
            if start == 0:
                order = rng.permutation(n)
            batch = order[start:start + batch_size]
            acts, pres = [s0[batch]], []
            for W, T in zip(Ws[:-1], Ts, strict=False):
                pre = acts[-1] @ _ternary(W).T - T
                pres.append(pre)
                acts.append((pre >= 0).astype(np.float32))
            z = gamma * (acts[-1] @ _ternary(Ws[-1]).T) + b
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            g = (p - onehot[yi[batch]]) / len(batch)  # d loss / d z
            grads_W = [None] * len(Ws)
            grads_T = [None] * len(Ts)
            grad_b = g.sum(axis=0)
            gz = g * gamma
            grads_W[-1] = gz.T @ acts[-1]
            back = gz @ _ternary(Ws[-1])
            for l in range(len(Ts) - 1, -1, -1):
                u = pres[l] / widths[l]
                sig = 1 / (1 + np.exp(-u))
                ga = back * sig * (1 - sig) / widths[l]  # surrogate d step / d a
                grads_W[l] = ga.T @ acts[l]
                grads_T[l] = -ga.sum(axis=0)
                back = ga @ _ternary(Ws[l])
            opt.step(params, [*grads_W, *grads_T, grad_b])
            for W in Ws:
                np.clip(W, -1, 1, out=W)
        e0 = time.perf_counter()  # scoring the exported network is bookkeeping: kept off the clock
        net = export()
        def scores(rows, net=net):
            return network_forward(net, rows.astype(np.uint8, copy=False))[2]
        Zt, Zv = _in_blocks(scores, s0), _in_blocks(scores, sv)
        scoring += time.perf_counter() - e0
        history.append({"epoch": epoch, "train_error": _err(Zt, yi), "val_error": _err(Zv, yvi),
                        "seconds": time.perf_counter() - t0 - scoring})
        scoring += _report(callback, history[-1])
        if max_seconds is not None and history[-1]["seconds"] >= max_seconds:
            break
    return export(), history
