"""The reference target: the spiking semantics in plain integer numpy.

Two ways to compute the same thing, kept side by side so each checks the other:

* :func:`forward`  -- one vectorised pass per layer over all samples.
* :func:`simulate` -- a step-by-step simulation of memoryless neurons with one
  step of delay per weight layer and samples pipelined one per step, exactly
  as a neuromorphic chip would run them.

Every other target is compared with these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from connttra_neuro.network import TernaryNetwork, require_network

from .base import RunResult, Target, check_spikes

__all__ = ["forward", "simulate", "ReferenceTarget"]


_FORWARD_BLOCK = 2**21  # forward: samples per block x the widest layer (16 MB of float64 drive per block)


def _drive(spikes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``spikes @ weights.T`` exactly, as int64.

    BLAS in float64 is exact here: every partial sum is an integer bounded by
    fan-in * max|w| (< 2**31), far below 2**53.
    """
    return _drive_t(spikes, weights.T.astype(np.float64))


def _drive_t(spikes: np.ndarray, weights_t: np.ndarray) -> np.ndarray:
    """:func:`_drive` with the weights already transposed to float64 (``weights.T``)."""
    return np.rint(spikes.astype(np.float64) @ weights_t).astype(np.int64)


def forward(network: TernaryNetwork, spikes: np.ndarray, *, record_hidden: bool = False):
    """Vectorised pass: returns ``(scores int64 (n, C), hidden spikes list or None)``.

    Runs the samples in blocks of rows: the float64 and int64 drives of a whole layer at once were
    three (n, width) arrays (2.3 GB at peak for 60,000 samples through 2,048 hidden neurons).
    """
    s_in = check_spikes(network, spikes)
    n = s_in.shape[0]
    weights_t = [layer.weights.T.astype(np.float64) for layer in network.layers]  # once, not per block
    hidden = [np.empty((n, layer.weights.shape[0]), np.uint8) for layer in network.hidden] if record_hidden else None
    scores = np.empty((n, network.n_classes), np.int64)
    step = max(1, _FORWARD_BLOCK // max(network.layer_sizes))
    with _forward_bar(n) as bar:
        for a in range(0, n, step):
            s = s_in[a : a + step]
            for l, layer in enumerate(network.hidden):
                s = (_drive_t(s, weights_t[l]) >= layer.thresholds[None, :]).astype(np.uint8)  # s = W @ s >= T
                if hidden is not None:
                    hidden[l][a : a + step] = s
            scores[a : a + step] = _drive_t(s, weights_t[-1]) + network.output.biases[None, :]  # z = W @ s + b
            bar.update(len(s))
    return scores, hidden


def _forward_bar(n: int):
    """A progress bar on stderr for a pass that takes more than 2 s, as loihi2 and brian2 show theirs: 10,000
    samples through 784-4096-4096-10 take 20 s (60,000: 2 minutes), twice in a verify that also runs the
    reference target, with nothing shown before."""
    from connttra_neuro._progress import bar

    return bar(total=n, desc="reference", unit="sample", delay=2.0)


def simulate(network: TernaryNetwork, spikes: np.ndarray, *, record_hidden: bool = False) -> RunResult:
    """Step-by-step pipelined simulation.

    At step ``t`` the input layer emits sample ``t``; weight layer ``l``
    (1-based) computes from what layer ``l-1`` emitted at step ``t-1``, so
    layer ``l`` holds sample ``t-l`` and the output holds sample ``t-L``.
    Neurons keep no state between steps.
    """
    s_in = check_spikes(network, spikes)
    n = s_in.shape[0]
    layers = network.layers
    L = len(layers)
    sizes = network.layer_sizes
    state = [np.zeros(size, dtype=np.int64) for size in sizes]  # what each layer emitted last step
    scores = np.zeros((n, network.n_classes), dtype=np.int64)
    hidden = [np.zeros((n, size), dtype=np.uint8) for size in sizes[1:-1]] if record_hidden else None
    steps = n + L
    for t in range(steps):
        new = [s_in[t].astype(np.int64) if t < n else np.zeros(sizes[0], dtype=np.int64)]
        for l, layer in enumerate(layers, start=1):
            v = layer.weights.astype(np.int64) @ state[l - 1]  # sum of spikes that arrived
            if l < L:
                out = (v >= layer.thresholds).astype(np.int64)  # fire, then forget
                sample = t - l
                if hidden is not None and 0 <= sample < n:
                    hidden[l - 1][sample] = out
            else:
                out = v + layer.biases
                sample = t - L
                if 0 <= sample < n:
                    scores[sample] = out
            new.append(out)
        state = new
    return RunResult(scores=scores, hidden_spikes=hidden, steps=steps, info={"mode": "pipelined"})


@dataclass(frozen=True)
class _Compiled:
    network: TernaryNetwork


class ReferenceTarget(Target):
    """Integer numpy reference. ``mode="direct"`` (fast) or ``"pipelined"`` (step by step)."""

    name = "reference"
    description = "integer numpy simulator of the spiking semantics (the ground truth)"

    def __init__(self, mode: str = "direct"):
        if mode not in ("direct", "pipelined"):
            raise ValueError(f"reference target mode must be 'direct' or 'pipelined', got {mode!r}")
        self.mode = mode

    def compile(self, network: TernaryNetwork) -> _Compiled:
        require_network(network, "reference: compile")  # else a path is "compiled" and fails only in run
        self.check(network)
        return _Compiled(network)

    def run(self, compiled: _Compiled, spikes: np.ndarray, *, record_hidden: bool = False) -> RunResult:
        if not isinstance(compiled, _Compiled):  # as loihi2 and brian2 say it (a network passed directly)
            raise TypeError(f"reference: run() needs what compile() returned, got {type(compiled).__name__}")
        network = compiled.network
        if self.mode == "pipelined":
            return simulate(network, spikes, record_hidden=record_hidden)
        scores, hidden = forward(network, spikes, record_hidden=record_hidden)
        return RunResult(
            scores=scores, hidden_spikes=hidden, steps=len(scores) + network.n_weight_layers, info={"mode": "direct"}
        )
