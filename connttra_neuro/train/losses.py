"""Training losses on integer scores, and their numpy twins.

Scores of a ternary network are small integers, so a 0/1 error gives no signal
for most single-weight moves. Two losses that do:

``hinge`` (default)
    Weston-Watkins multiclass hinge ``sum_{c != y} max(0, margin - z_y + z_c)``.
    Integer-valued on integer scores, so exact; every wrong class inside the
    margin contributes, which gives coordinate moves more signal than the
    Crammer-Singer max. ``margin`` defaults to ``max(1, round(0.15 * h * min(1, sqrt(6000 / n))))``
    where ``h`` is the last hidden width (scores grow with ``h``) and ``n`` the number of training
    samples: a wide margin regularises (every sample is pushed towards a confident score), which
    pays on a few thousand samples and holds a large training set back (docs/training.md, "Loss
    choice": on 45,000 Fashion-MNIST images margin 14 beats 38 by 0.6-0.9 points).
``xent``
    Softmax cross-entropy of ``z / temperature`` (default temperature
    ``max(1, sqrt(h) / 2)``), rounded to fixed point (``XENT_SCALE`` units per nat)
    so sums stay exact integers.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._kernels import HINGE, XENT, XENT_SCALE

LOSSES = {"hinge": HINGE, "xent": XENT}


class SettingError(ValueError):
    """A training setting with a value it cannot take; ``param`` is the estimator parameter's name
    (the command line names its flag from it)."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param

__all__ = ["LOSSES", "default_margin", "resolve_loss", "sample_losses_numpy"]

# Losses are summed exactly in int64. Bounds far beyond any useful value (the defaults are 1-40 and
# about 1-8) keep the sums from overflowing (n samples x C classes x margin below 2**63 up to a billion
# sample-classes): on iris a margin of 2**62 had wrapped to negative losses, and a temperature of 1e-20
# had hung the cross-entropy's sweep in its overflowing fixed point.
MAX_MARGIN = 2**31 - 1
MIN_TEMPERATURE = 0.01

# Up to this many training samples the default hinge margin is 0.15 h; beyond, it shrinks as
# 1/sqrt(n): 14 instead of 38 at 45,000 (h = 256), the best of 8 / 14 / 20 / 38 measured there.
MARGIN_FULL_UP_TO = 6000


def default_margin(last_hidden: int, n_samples: int | None = None) -> int:
    """The hinge margin used when none is given (``n_samples=None``: as for a small set)."""
    shrink = 1.0 if n_samples is None else min(1.0, math.sqrt(MARGIN_FULL_UP_TO / max(1, n_samples)))
    return max(1, round(0.15 * last_hidden * shrink))


def weight_unit(discrete_set) -> int:
    """The common factor of a weight set (1 for ternary, -2..2; 100 for (-100, 0, 100)): the defaults of
    margin, temperature, surrogate width and jitter are in its steps, so a scaled set trains like the set
    it scales."""
    return math.gcd(*(abs(int(v)) for v in discrete_set))


def default_temperature(last_hidden: int) -> float:
    """The cross-entropy temperature used when none is given."""
    return max(1.0, math.sqrt(last_hidden) / 2)


def resolve_loss(loss: str, margin, temperature, last_hidden: int, n_samples: int | None = None
                 ) -> tuple[int, int, float]:
    """``(kind, margin, 1/temperature)`` for the kernels, with defaults filled in (the margin's
    depends on the number of training samples, see :func:`default_margin`)."""
    if loss not in LOSSES:
        raise SettingError("loss", f"unknown loss {loss!r}; choose one of {sorted(LOSSES)}")
    if margin is None:
        margin = default_margin(last_hidden, n_samples)
    if temperature is None:
        temperature = default_temperature(last_hidden)
    if (isinstance(margin, bool) or not isinstance(margin, numbers.Real) or not math.isfinite(margin)
            or int(margin) != margin or not 1 <= margin <= MAX_MARGIN):  # 0: zero scores cost nothing, nothing moves
        raise SettingError("margin", f"margin must be a positive integer up to {MAX_MARGIN:,}, got {margin!r}")
    if (isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not math.isfinite(temperature)
            or temperature < MIN_TEMPERATURE):
        raise SettingError("temperature", f"temperature must be a finite number of at least {MIN_TEMPERATURE}, "
                                          f"got {temperature!r}")
    return LOSSES[loss], int(margin), 1.0 / float(temperature)


def sample_losses_numpy(Z: np.ndarray, y: np.ndarray, kind: int, margin: int, inv_t: float) -> np.ndarray:
    """Per-sample loss (int64 loss units), computed the obvious way."""
    Z = np.asarray(Z, dtype=np.int64)
    n = Z.shape[0]
    zy = Z[np.arange(n), y]
    if kind == HINGE:
        v = np.maximum(0, margin - zy[:, None] + Z)
        v[np.arange(n), y] = 0
        return v.sum(axis=1).astype(np.int64)
    out = np.empty(n, np.int64)
    for i in range(n):  # same operation order as the kernel, so the rounding agrees
        zs = Z[i] * inv_t
        m = -np.inf
        for k in range(Z.shape[1]):
            m = max(m, zs[k])
        s = 0.0
        for k in range(Z.shape[1]):
            s += math.exp(zs[k] - m)
        out[i] = int(math.floor((m + math.log(s) - zy[i] * inv_t) * XENT_SCALE + 0.5))
    return out
