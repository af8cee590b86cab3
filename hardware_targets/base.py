"""The one small interface every hardware target implements.

A target is looked up by name in :mod:`hardware_targets.registry` and passed
explicitly; there is no global "current device". Heavy runtimes (Lava, Brian2)
are imported only inside their own target module.

Life of a deployment::

    target = get_target("loihi2")
    target.check(network)              # TargetLimitError names limit, layer, value
    compiled = target.compile(network)
    result = target.run(compiled, spikes, record_hidden=True)
    result.scores, result.hidden_spikes, result.predictions
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from connttra_neuro.network import TernaryNetwork, not_2d, require_network

__all__ = ["Target", "RunResult", "TargetLimitError", "all_binary", "check_spikes", "is_positive_int",
           "network_counts"]


class TargetLimitError(ValueError):
    """The network does not fit the target. Carries which limit, where, and by how much."""

    def __init__(self, target: str, limit: str, layer: str, value: Any, allowed: Any, hint: str = ""):
        self.target, self.limit, self.layer, self.value, self.allowed = target, limit, layer, value, allowed
        message = f"{target}: {layer}: {limit} is {value}, the target allows {allowed}"
        super().__init__(message + (f". {hint}" if hint else ""))


@dataclass
class RunResult:
    """What a target's run returns, in sample order.

    scores : int64 (n_samples, n_classes); float64 from a target with analog device noise
        (brian2 with ``weight_sigma > 0``).
    hidden_spikes : list of uint8 (n_samples, n_neurons), one per hidden layer,
        or None when not recorded.
    steps : time steps simulated (pipelined, ``tiles`` samples side by side per step:
        ``ceil(n_samples / tiles) + L``).
    info : target-specific facts (wall time, codegen, tiles, ...).
    """

    scores: np.ndarray
    hidden_spikes: list[np.ndarray] | None = None
    steps: int = 0
    info: dict = field(default_factory=dict)

    @property
    def predictions(self) -> np.ndarray:
        """argmax of the scores; ties go to the lowest class index (numpy's argmax does)."""
        return np.argmax(self.scores, axis=1)


def tiles_within(network: TernaryNetwork, wanted: int, synapse_budget: int) -> int:
    """Copies of ``network`` to run side by side: ``wanted``, fewer where all copies together would hold
    more than ``synapse_budget`` synapses (every copy's weights are held in memory), at least 1."""
    synapses = sum(int(np.count_nonzero(layer.weights)) for layer in network.layers)
    return max(1, min(int(wanted), synapse_budget // max(1, synapses)))


def is_positive_int(value) -> bool:
    """An integer >= 1 (also a whole float such as 4.0); not a bool, nan, inf or a list. For target
    options such as ``tiles``, so a bad value gets the option's named error, not a conversion error."""
    try:
        return not isinstance(value, bool) and int(value) == value and value >= 1
    except (TypeError, ValueError, OverflowError):
        return False


_BINARY_BLOCK = 2**20  # elements all_binary checks at once (about 4 bytes of temporaries each: 4 MB)


def all_binary(values: np.ndarray) -> bool:
    """Whether every value is 0 or 1 (as ``np.isin(values, (0, 1)).all()``), checked a block of rows at a time:
    ``np.isin`` over a whole array holds about 4 bytes per element (180 MB for 60,000 x 784 spikes, 1 GB for
    60,000 samples through 4,096 neurons), on every target's run."""
    values = np.asarray(values)
    if values.dtype == np.bool_ or values.size == 0:
        return True
    if values.dtype.kind == "u":  # uint8 spikes, the usual case: no temporaries at all
        return bool(values.max() <= 1)
    if values.ndim < 2:
        values = values.reshape(-1, 1) if values.ndim else values.reshape(1, 1)
    rows = max(1, _BINARY_BLOCK // max(1, values[0].size))
    return all(np.isin(values[a : a + rows], (0, 1)).all() for a in range(0, values.shape[0], rows))


def check_spikes(network: TernaryNetwork, spikes: np.ndarray) -> np.ndarray:
    """Validate encoded input spikes and return them as uint8 (n_samples, n_inputs)."""
    spikes = np.asarray(spikes)
    if spikes.ndim < 2:
        # refused as a 1-D X is everywhere else (network.not_2d): read as one sample, a column of
        # samples for a one-input network ran as one wide sample and failed on its width instead
        raise ValueError(f"{not_2d('spikes', spikes.shape)}; this network takes {network.n_inputs:,} input "
                         f"spike{'s' if network.n_inputs != 1 else ''} per sample")
    if spikes.ndim != 2 or spikes.shape[1] != network.n_inputs:
        raise ValueError(
            f"input spikes must have shape (n_samples, {network.n_inputs}) for this network, got {np.shape(spikes)}"
            + (
                " (did you pass raw features? encode them with network.encode(X))"
                if spikes.ndim == 2 and spikes.shape[1] == network.n_features
                else ""
            )
        )
    if spikes.size and not all_binary(spikes):
        row, col = (int(i[0]) for i in np.nonzero(~np.isin(spikes, (0, 1))))
        raise ValueError(f"input spikes must be 0 or 1, got {spikes[row, col]!r} at sample {row}, input {col} "
                         f"(encode raw features with network.encode(X))")
    return spikes.astype(np.uint8, copy=False)


def network_counts(network: TernaryNetwork) -> dict:
    """Target-independent sizes: neurons, synapses (non-zero weights), fan-in/out."""
    require_network(network, "network_counts")
    layers = []
    for name, layer in network.named_layers():
        nz = layer.weights != 0
        layers.append(
            {
                "layer": name,
                "neurons": int(layer.weights.shape[0]),
                "inputs": int(layer.weights.shape[1]),
                "synapses": int(nz.sum()),
                "max_fan_in": int(nz.sum(axis=1).max()),
                "max_fan_out": int(nz.sum(axis=0).max()),
            }
        )
    return {
        "input_neurons": network.n_inputs,
        "neurons": int(sum(l["neurons"] for l in layers)),
        "synapses": int(sum(l["synapses"] for l in layers)),
        "layers": layers,
    }


class Target(ABC):
    """A place a network can run. Subclasses set ``name`` and implement compile/run."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def check(self, network: TernaryNetwork) -> None:  # noqa: B027 (optional hook: most targets add limits)
        """Raise :class:`TargetLimitError` if the network cannot be held. Default: anything fits."""

    @abstractmethod
    def compile(self, network: TernaryNetwork) -> Any:
        """Turn the IR into whatever this target runs (``deploy`` and ``verify`` call :meth:`check`
        before it; the built-in targets' compile checks too, for callers that skip check)."""

    @abstractmethod
    def run(self, compiled: Any, spikes: np.ndarray, *, record_hidden: bool = False) -> RunResult:
        """Run encoded input spikes (n_samples, n_inputs) through a compiled network."""

    def resources(self, network: TernaryNetwork) -> dict:
        """Resource (and, where known, energy) estimate for holding the network."""
        return network_counts(require_network(network, f"{self.name}: resources"))

    def deploy(self, network: TernaryNetwork, spikes: np.ndarray, *, record_hidden: bool = False) -> RunResult:
        """check + compile + run in one call."""
        require_network(network, f"{self.name}: deploy")  # a path or an estimator would fail deep inside check
        self.check(network)
        return self.run(self.compile(network), spikes, record_hidden=record_hidden)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
