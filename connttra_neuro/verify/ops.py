"""Operation, activity and energy counting for one inference.

Names follow NeuroBench (Yik et al., "NeuroBench: a framework for benchmarking
neuromorphic computing algorithms and systems", Nature Communications 2025):

* ``effective_acs``  -- synaptic operations that are accumulates: a binary input
  spike arriving over a non-zero weight adds the weight to a neuron's sum.
  Every layer of a CoNNTrA network takes binary spikes, so all its synaptic
  operations are accumulates.
* ``effective_macs`` -- multiply-accumulates with a non-binary input; zero
  here (kept so the record reads like NeuroBench's).
* ``dense``          -- the operations a dense implementation does whatever the
  activity: ``sum(n_in * n_out)`` over weight layers. For the same architecture
  in floating point this is the float MLP's multiply-accumulate count.
* ``activation_sparsity`` -- fraction of hidden-neuron outputs that are zero
  (no spike), averaged over samples and neurons.
* ``connection_sparsity`` -- fraction of weights that are exactly zero.

A target whose device holds other synapses than the model's weights (brian2 with
``stuck_at_zero``) reports its own synaptic events (``RunResult.info``); its
``effective_acs`` are those (:func:`device_synaptic_events`).

Energy (Loihi model): ``E = sum_l (ACs_l * E_synop + updates_l * E_update)``
with the per-operation energies cited in :mod:`hardware_targets.loihi2.chip`.
"""

from __future__ import annotations

import importlib
import math
import os

import numpy as np

from connttra_neuro.modelfile import as_network
from connttra_neuro.network import TernaryNetwork

__all__ = ["count_operations", "device_synaptic_events", "float_mlp_macs", "loihi_energy", "loihi_energy_constants"]


def float_mlp_macs(network: TernaryNetwork | str | os.PathLike) -> int:
    """Multiply-accumulates per inference of a float MLP of the same architecture: ``sum(n_in * n_out)``.
    ``network``: a TernaryNetwork or a model file's path."""
    network = as_network(network, "float_mlp_macs")  # a path is read; an estimator: say what to pass
    return int(sum(layer.weights.size for layer in network.layers))


def device_synaptic_events(network: TernaryNetwork, info) -> list[float] | None:
    """The synaptic events per inference a target counted on its own device, one per weight layer, from its
    ``RunResult.info["synaptic_events_per_inference"]`` (``{layer name: events}``, as brian2 reports them
    from its device's synapses); ``None`` when it reports none, or not one finite number >= 0 per layer
    (the counts then come from the model's weights)."""
    events = info.get("synaptic_events_per_inference") if isinstance(info, dict) else None
    names = [name for name, _ in network.named_layers()]
    if not isinstance(events, dict) or sorted(map(str, events)) != sorted(names):
        return None
    values = [events[name] for name in names]
    if not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
               and math.isfinite(v) and v >= 0 for v in values):
        return None
    return [float(v) for v in values]


def count_operations(network: TernaryNetwork | str | os.PathLike, input_spikes: np.ndarray,
                     hidden_spikes: list[np.ndarray] | None, synaptic_events: list[float] | None = None) -> dict:
    """Per-layer and total operation counts per inference (means over the samples).

    Parameters
    ----------
    network : TernaryNetwork or a model file's path
    input_spikes : uint8 (n_samples, n_inputs)
        Encoded inputs.
    hidden_spikes : list of uint8 (n_samples, n_neurons) or None
        The spikes the run produced in each hidden layer. ``None`` (a target
        that could not record them) gives ``None`` for the activity counts.
    synaptic_events : list of float, optional
        The synaptic events per inference the target counted itself, one per
        weight layer (:func:`device_synaptic_events`): where its device had
        other synapses than the model's non-zero weights (brian2 with
        ``stuck_at_zero``, whose stuck synapses deliver nothing), ``effective_acs``
        is what it did, not what the model's weights would have cost.

    Returns
    -------
    dict
        ``layers``: one record per weight layer with ``input_spikes``,
        ``effective_acs``, ``dense``, ``neuron_updates``, ``output_spikes``;
        and the totals ``effective_acs``, ``effective_macs``, ``dense``,
        ``neuron_updates``, ``spikes_per_layer`` (input layer first),
        ``activation_sparsity``, ``connection_sparsity``.
    """
    network = as_network(network, "count_operations")  # as verify takes it, not an AttributeError deep inside
    n = max(int(input_spikes.shape[0]), 1)
    sources = [input_spikes] + (list(hidden_spikes) if hidden_spikes is not None else [None] * len(network.hidden))
    layers = []
    for (name, layer), s_in, s_out in zip(network.named_layers(), sources, sources[1:] + [None], strict=False):
        fan_out = np.count_nonzero(layer.weights, axis=0)  # synapses leaving each input
        # spikes of each input over all samples, times its fan-out: the same integer as summing every sample's
        # s @ fan_out, without a float64 copy of the spikes (2 GB for 60,000 samples through 4,096 neurons)
        fired = None if s_in is None else s_in.sum(axis=0, dtype=np.int64)
        acs = None if s_in is None else float(int(fired @ fan_out) / n)
        if synaptic_events is not None:
            acs = float(synaptic_events[len(layers)])
        layers.append(
            {
                "layer": name,
                "input_spikes": None if s_in is None else float(int(fired.sum()) / n),
                "effective_acs": acs,
                "dense": int(layer.weights.size),
                "neuron_updates": int(layer.weights.shape[0]),
                "output_spikes": None if s_out is None else float(s_out.sum() / n),
            }
        )
    known = all(layer["effective_acs"] is not None for layer in layers)
    if hidden_spikes is not None and len(hidden_spikes):
        fired = sum(float(s.sum()) for s in hidden_spikes)
        total = sum(s.size for s in hidden_spikes)
        activation_sparsity = 1.0 - fired / total if total else None
    else:
        activation_sparsity = None
    return {
        "layers": layers,
        "effective_acs": float(sum(layer["effective_acs"] for layer in layers)) if known else None,
        "effective_macs": 0.0,
        "dense": float_mlp_macs(network),
        "neuron_updates": int(sum(layer["neuron_updates"] for layer in layers)),
        "spikes_per_layer": [layers[0]["input_spikes"]] + [layer["output_spikes"] for layer in layers[:-1]],
        "activation_sparsity": activation_sparsity,
        "connection_sparsity": float(network.sparsity),
    }


# Energy figures live with the Loihi target (hardware_targets.loihi2.chip); we import, never copy them.
_CHIP_MODULE = "hardware_targets.loihi2.chip"
ENERGY_SOURCE = "Davies et al., IEEE Micro 38(1) 2018, Table 2 (Loihi silicon), via hardware_targets.loihi2.chip"


def loihi_energy_constants() -> dict | None:
    """The cited per-operation energies from :mod:`hardware_targets.loihi2.chip`, or ``None`` if absent.

    Returns ``{"synop_joules", "update_joules", "source"}``.
    """
    try:
        chip = importlib.import_module(_CHIP_MODULE)
        return {
            "synop_joules": float(chip.ENERGY_PER_SYNAPTIC_OP_J),
            "update_joules": float(chip.ENERGY_PER_NEURON_UPDATE_J),
            "source": ENERGY_SOURCE,
        }
    except (ImportError, AttributeError):
        return None


def loihi_energy(operations: dict, constants: dict | None = None) -> dict | None:
    """Energy per inference on Loihi from operation counts and cited per-operation energies.

    ``E = effective_acs * E_synop + neuron_updates * E_update``. Returns ``None``
    when the counts or the constants are unknown.
    """
    constants = constants if constants is not None else loihi_energy_constants()
    if constants is None or operations.get("effective_acs") is None:
        return None
    synaptic = operations["effective_acs"] * constants["synop_joules"]
    neuron = operations["neuron_updates"] * constants["update_joules"]
    return {
        "joules_per_inference": synaptic + neuron,
        "synaptic_joules": synaptic,
        "neuron_joules": neuron,
        "joules_per_synop": constants["synop_joules"],
        "joules_per_neuron_update": constants["update_joules"],
        "source": constants["source"],
    }
