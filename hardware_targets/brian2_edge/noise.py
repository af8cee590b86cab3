"""Seeded device non-idealities for robustness studies on the Brian2 edge target.

An edge chip built from analog or memristive synapses does not hold the trained
integers exactly. :class:`EdgeNoise` describes three common faults, each drawn
once per *device instance* (at compile time, from ``seed``) and then frozen, the
way fabrication variability is frozen into one chip:

* ``weight_sigma``: multiplicative weight variability. Every programmed
  (non-zero) synapse ``w`` becomes ``w * (1 + weight_sigma * N(0, 1))``.
* ``stuck_at_zero``: the probability that a programmed synapse is stuck at 0
  (an open device); it then delivers nothing.
* ``threshold_jitter``: a per-neuron threshold offset ``T + threshold_jitter * N(0, 1)``
  for every hidden neuron, in drive units (one unit = one spike through a weight of 1).

Zero weights stay zero (no device is programmed there). With every field 0 the
network is untouched and the target stays bit-exact.

This module is plain numpy; it never imports Brian2.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["EdgeNoise", "NoiseSpecError", "NoisyLayer", "apply_noise"]


class NoiseSpecError(ValueError):
    """A noise specification is malformed or out of range; the message says which key."""


# Upper bounds of the noise fields: beyond them a device is all noise (and float64 sums head for inf)
MAX_NOISE = {"weight_sigma": 10.0, "threshold_jitter": 1e6}  # stuck_at_zero: a probability, checked below


@dataclass(frozen=True)
class EdgeNoise:
    """Device non-idealities, frozen and seeded.

    Parameters
    ----------
    weight_sigma : float, >= 0
        Relative standard deviation of each programmed weight.
    stuck_at_zero : float, in [0, 1]
        Probability that a programmed synapse is stuck at zero.
    threshold_jitter : float, >= 0
        Standard deviation of each hidden neuron's threshold offset, in drive units.
    seed : int, >= 0
        Seed of the device instance: same seed, same faults.

    Examples
    --------
    >>> EdgeNoise.parse("weight_sigma=0.1,stuck_at_zero=0.05,seed=3")
    EdgeNoise(weight_sigma=0.1, stuck_at_zero=0.05, threshold_jitter=0.0, seed=3)
    """

    weight_sigma: float = 0.0
    stuck_at_zero: float = 0.0
    threshold_jitter: float = 0.0
    seed: int = 0

    def __post_init__(self):
        for key in ("weight_sigma", "stuck_at_zero", "threshold_jitter"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise NoiseSpecError(f"noise: {key} must be a number, got {value!r}")
            value = float(value)
            if not math.isfinite(value) or value < 0:
                raise NoiseSpecError(f"noise: {key} must be a finite number >= 0, got {value}")
            if value > MAX_NOISE.get(key, math.inf):
                raise NoiseSpecError(f"noise: {key} above {MAX_NOISE[key]:g} describes no device, got {value:g}")
            object.__setattr__(self, key, value + 0.0)  # -0.0 -> 0.0
        if self.stuck_at_zero > 1:
            raise NoiseSpecError(f"noise: stuck_at_zero is a probability in [0, 1], got {self.stuck_at_zero}")
        seed = self.seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise NoiseSpecError(f"noise: seed must be an integer >= 0, got {seed!r}")
        object.__setattr__(self, "seed", int(seed))

    @property
    def active(self) -> bool:
        """True when any non-ideality is switched on (the run is then not exact by design)."""
        return bool(self.weight_sigma or self.stuck_at_zero or self.threshold_jitter)

    @property
    def integer_scores(self) -> bool:
        """Scores stay integers unless weights vary (stuck synapses and thresholds keep sums integral)."""
        return self.weight_sigma == 0

    def as_dict(self) -> dict:
        """The settings as a plain dict (as `resources()` and a run's `info` record them)."""
        return dataclasses.asdict(self)

    @classmethod
    def parse(cls, text: str | None) -> EdgeNoise:
        """Parse a CLI string such as ``"weight_sigma=0.1,stuck_at_zero=0.05,seed=3"``.

        Keys not given keep their default (0). An empty string or ``"none"`` means no noise.

        Raises
        ------
        NoiseSpecError
            For an unknown or repeated key, a missing ``=``, a value that is not a
            number, or a value out of range.
        """
        if text is None or not text.strip() or text.strip().lower() in ("none", "off"):
            return cls()
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict = {}
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            key, sep, raw = item.partition("=")
            key, raw = key.strip(), raw.strip()
            if not sep or not key or not raw:
                raise NoiseSpecError(f"noise: expected key=value, got {item!r} (keys: {', '.join(fields)})")
            if key not in fields:
                raise NoiseSpecError(f"noise: unknown key {key!r}; known keys: {', '.join(fields)}")
            if key in values:
                raise NoiseSpecError(f"noise: {key} given twice")
            try:
                values[key] = int(raw) if key == "seed" else float(raw)
            except ValueError:
                kind = "an integer" if key == "seed" else "a number"
                raise NoiseSpecError(f"noise: {key} must be {kind}, got {raw!r}") from None
        return cls(**values)

    def __str__(self) -> str:
        """The spec as ``parse`` reads it: ``parse(str(noise)) == noise`` (short where that is exact)."""
        return ",".join(f"{k}={_spec_number(v) if isinstance(v, float) else v}" for k, v in self.as_dict().items())


def _spec_number(v: float) -> str:
    short = f"{v:g}"
    return short if float(short) == v else repr(v)  # 0.123456789 must not come back as 0.123457


@dataclass(frozen=True)
class NoisyLayer:
    """One weight layer as synapse lists, after the device faults are applied.

    ``pre``, ``post``: int32 synapse endpoints (only synapses that still conduct);
    ``weights``: float64 synaptic weights; ``thresholds``: float64 per neuron
    (``None`` for the output layer); ``fan_out``: int64 conducting synapses per
    presynaptic neuron (what one spike of that neuron costs in synaptic events).
    """

    pre: np.ndarray
    post: np.ndarray
    weights: np.ndarray
    thresholds: np.ndarray | None
    fan_out: np.ndarray


def apply_noise(network, noise: EdgeNoise | None) -> list[NoisyLayer]:
    """The network's weight layers as synapse lists with ``noise`` applied (exact copies if off).

    The draws are made layer by layer in a fixed order from one generator seeded
    with ``noise.seed``, so a device instance is reproducible.
    """
    noise = noise or EdgeNoise()
    rng = np.random.default_rng(noise.seed)
    layers = []
    for layer in network.layers:
        w = np.asarray(layer.weights)
        # synapses grouped by presynaptic neuron: a spike then reads one contiguous block (2-3x faster in Brian2)
        pre, post = np.nonzero(w.T)
        values = w[post, pre].astype(np.float64)
        # draw every kind of noise for every layer even when its level is 0, so
        # switching one fault on does not reshuffle the others' draws
        gain = rng.standard_normal(values.size)
        stuck = rng.random(values.size) < noise.stuck_at_zero
        jitter = rng.standard_normal(w.shape[0])
        values = values * (1.0 + noise.weight_sigma * gain) if noise.weight_sigma else values
        keep = ~stuck
        pre, post, values = pre[keep], post[keep], values[keep]
        thresholds = None
        if hasattr(layer, "thresholds"):
            thresholds = layer.thresholds.astype(np.float64)
            if noise.threshold_jitter:
                thresholds = thresholds + noise.threshold_jitter * jitter
        fan_out = np.bincount(pre, minlength=w.shape[1]).astype(np.int64)
        layers.append(
            NoisyLayer(pre.astype(np.int32), post.astype(np.int32), values, thresholds, fan_out)
        )
    return layers
