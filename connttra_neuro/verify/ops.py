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

Energy (Loihi model): ``E = sum_l (ACs_l * E_synop + updates_l * E_update)``
with the per-operation energies cited in :mod:`hardware_targets.loihi2.chip`.
"""

from __future__ import annotations

import importlib

import numpy as np

from connttra_neuro.network import TernaryNetwork

__all__ = ["count_operations", "float_mlp_macs", "loihi_energy", "loihi_energy_constants"]


def float_mlp_macs(network: TernaryNetwork) -> int:
    """Multiply-accumulates per inference of a float MLP of the same architecture: ``sum(n_in * n_out)``."""
    return int(sum(layer.weights.size for layer in network.layers))


def count_operations(network: TernaryNetwork, input_spikes: np.ndarray, hidden_spikes: list[np.ndarray] | None) -> dict:
    """Per-layer and total operation counts per inference (means over the samples).

    Parameters
    ----------
    network : TernaryNetwork
    input_spikes : uint8 (n_samples, n_inputs)
        Encoded inputs.
    hidden_spikes : list of uint8 (n_samples, n_neurons) or None
        The spikes the run produced in each hidden layer. ``None`` (a target
        that could not record them) gives ``None`` for the activity counts.

    Returns
    -------
    dict
        ``layers``: one record per weight layer with ``input_spikes``,
        ``effective_acs``, ``dense``, ``neuron_updates``, ``output_spikes``;
        and the totals ``effective_acs``, ``effective_macs``, ``dense``,
        ``neuron_updates``, ``spikes_per_layer`` (input layer first),
        ``activation_sparsity``, ``connection_sparsity``.
    """
    n = max(int(input_spikes.shape[0]), 1)
    sources = [input_spikes] + (list(hidden_spikes) if hidden_spikes is not None else [None] * len(network.hidden))
    layers = []
    for (name, layer), s_in, s_out in zip(network.named_layers(), sources, sources[1:] + [None], strict=False):
        fan_out = np.count_nonzero(layer.weights, axis=0).astype(np.float64)  # synapses leaving each input
        acs = None if s_in is None else float((s_in.astype(np.float64) @ fan_out).sum() / n)
        layers.append(
            {
                "layer": name,
                "input_spikes": None if s_in is None else float(s_in.sum() / n),
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
