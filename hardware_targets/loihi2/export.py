"""Exports for Loihi users: a NIR graph and a lava-dl netx HDF5 file.

Both are built in memory, then written atomically (temporary file in the same folder, fsync, then
``os.replace``), so a crash never leaves half a file under the final name, and a full disk is one
plain write error (HDF5 writing to the disk itself failed in its destructors: tracebacks, a crash).

NIR (``nir.read`` loads it)
---------------------------
Stateless nodes whose step semantics are exact for our integer network::

    input (F raw features)
    -> encoder: Linear (F*K x F, ones: repeats feature f K times)
    -> encoder_threshold: Threshold(theta = nextafter(t, -inf))   # x >= t  <=>  x > theta
    -> hidden_i: Linear(W_i) -> hidden_i_threshold: Threshold(T_i - 0.5)   # W s >= T  <=>  W s > T - 1/2
    -> output: Affine(W_L, b_L) -> scores (Output)

NIR's Threshold is strict (``z = 1 if v > theta``), hence the half-unit and
``nextafter`` offsets. NIR nodes here are memoryless and instantaneous; the
spiking pipeline's timing is recorded in the graph metadata, not as nir.Delay
nodes (it changes when a sample's result appears, never what it is):
``latency_steps`` = L, the number of weight layers (a sample's scores appear L
steps after its features, as on every target), and ``delayed_nodes`` names the
L nodes that each add one step (``hidden_i`` and ``output``). The encoder is a
nir.Linear too but adds no step: a simulator delaying every Linear/Affine node
would come out one step late.

netx (lava-dl ``netx.hdf5.Network``)
------------------------------------
netx's layer schema: ``layer/<i>/{type, shape, neuron/{type, iDecay, vDecay,
vThMant, refDelay, gradedSpike}, weight, bias}``: one ``dense`` layer per weight
layer, ``layer/0`` first (no ``input`` layer: netx's Input block is a layer of
neurons of its own, which would add a step and change the input; a flat first
``dense`` layer makes the network's in-port the ``n_inputs`` spikes, as in
lava-dl's MLP examples). Each layer's CUBA neurons hold *our fixed-point mapping*:
``weight = 2 W`` (a hidden layer whose weights share a factor ``g``: ``2 W / g``, thresholds
``ceil(T / g)``, as the loihi2 target maps it; the output layer always holds ``2 W``, since netx has
no host step to multiply its scores back), ``bias = bias_mant`` (netx applies bias_exp 6),
``vThMant = vth``, ``iDecay = 4096`` (current cleared each step), ``vDecay = 4095``.
The output layer gets ``bias = 2 b``, ``vThMant = 131071`` (never fires): its
voltage is ``128 z``. What netx cannot hold: the thermometer encoder (stored
as attributes, not as a layer), a per-step voltage reset (netx builds plain LIF
unless newer lava-dl is given ``reset_interval=1``; its ``dv = 4095`` keeps ``v/4096``
of a non-firing neuron's voltage, harmless while ``|W s - T| < 2048``, checked), and
reading scores (netx outputs spikes only). The file's ``semantics`` attribute
says all this in netx's terms: load with ``reset_interval=1``, the rule
``v > vThMant << 6``, plain LIF's carry, ``scores = round(v / score_scale)``.
netx re-optimises each layer's weights
when it loads them and gets a layer without a positive weight wrong: refused.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from connttra_neuro._atomic import EXPORT_SIGNATURES, REPLACE_FIX, refuse_other_kind, write_bytes
from connttra_neuro.network import TernaryNetwork, thaw_metadata
from connttra_neuro.nirfile import parameter_digest, with_file_digest

from ..base import TargetLimitError
from .mapping import (
    ACTIVATION_MAX,
    BIAS_MANT_MAX,
    BIAS_MANT_MIN,
    DECAY_FULL,
    VTH_MAX,
    WEIGHT_RANGE,
    _drive_bounds,
    check_limits,
)

__all__ = ["check_netx", "export_nir", "export_netx", "nir_graph"]

NIR_SEMANTICS = (
    "connttra-neuro integer network: each step every neuron sums the spikes that arrived, "
    "fires iff the sum > its Threshold node's value, and forgets (no state); scores = the Affine output, "
    "class = argmax (ties to the lowest index). Timing in a spiking pipeline: each weight layer (the "
    "nodes in delayed_nodes: hidden_i Linear, output Affine) adds one step, so a sample's scores appear "
    "latency_steps steps after its features; the encoder nodes (encoder Linear, encoder_threshold) and "
    "the Threshold nodes add none."
)


def nir_graph(network: TernaryNetwork):
    """The network as a ``nir.NIRGraph`` (raw features in, integer scores out)."""
    import nir

    F, K = network.encoder.thresholds.shape
    repeat = np.repeat(np.eye(F, dtype=np.float64), K, axis=0)  # row f*K+k reads feature f
    theta = np.nextafter(network.encoder.thresholds.reshape(-1), -np.inf)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([F])}),
        "encoder": nir.Linear(weight=repeat, metadata={"semantics": "repeat each raw feature K times"}),
        "encoder_threshold": nir.Threshold(
            threshold=theta, metadata={"semantics": "thermometer code: spike f*K+k = x_f >= t[f,k]"}
        ),
    }
    edges = [("input", "encoder"), ("encoder", "encoder_threshold")]
    prev = "encoder_threshold"
    for i, layer in enumerate(network.hidden):
        lin, thr = f"hidden_{i}", f"hidden_{i}_threshold"
        nodes[lin] = nir.Linear(weight=layer.weights.astype(np.float64))
        nodes[thr] = nir.Threshold(
            threshold=layer.thresholds.astype(np.float64) - 0.5,
            metadata={"semantics": "spike = W @ s >= T (integer T = threshold + 0.5)"},
        )
        edges += [(prev, lin), (lin, thr)]
        prev = thr
    nodes["output"] = nir.Affine(
        weight=network.output.weights.astype(np.float64), bias=network.output.biases.astype(np.float64)
    )
    nodes["scores"] = nir.Output(output_type={"output": np.array([network.n_classes])})
    edges += [(prev, "output"), ("output", "scores")]
    meta = {
        "producer": "connttra-neuro",
        "semantics": NIR_SEMANTICS,
        # the total, not a per-layer figure: "1 per Linear" would count the encoder's Linear too
        "latency_steps": network.n_weight_layers,
        "delayed_nodes": ", ".join([f"hidden_{i}" for i in range(len(network.hidden))] + ["output"]),
        "discrete_set": list(network.discrete_set),
        "parameter_digest": parameter_digest(network),  # HDF5 checks no data: read_nir checks this
        # a training machine's own folder (data_path) says nothing to whoever loads the graph elsewhere
        "model_metadata": json.dumps({k: v for k, v in thaw_metadata(network.metadata).items()
                                      if k not in LOCAL_METADATA}),
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


# What an export may replace besides nothing: an HDF5 file that is an export, told by its top level
# (nir.write: groups "node" and "version"; netx: a "layer" group). A user's other HDF5 file (Keras
# weights, a dataset) under an export's name was replaced: the signature alone says only "HDF5".
_EXPORT_LAYOUTS = (("node", "version"), ("layer",))


# Model metadata that describes the machine a model was trained on, left out of exports.
LOCAL_METADATA = ("data_path",)


def check_replaceable(path) -> None:
    """Refuse to replace a file at ``path`` that is not a NIR or netx export: a trained model, or an
    HDF5 file of another format. Raises FileExistsError naming what is there."""
    import h5py

    said = "a NIR or netx export (top-level 'node' and 'version', or 'layer')"
    if not refuse_other_kind(path, EXPORT_SIGNATURES, f"an HDF5 file ({said})"):
        return
    try:
        with h5py.File(path, "r") as f:
            found = sorted(f.keys())
    except OSError:  # an HDF5 signature, then nothing h5py can read: not ours (exports are written whole)
        found = None
    if found is None or not any(all(k in found for k in keys) for keys in _EXPORT_LAYOUTS):
        holds = "cannot be read as HDF5" if found is None else f"holds {', '.join(found[:6]) or 'nothing'}"
        raise FileExistsError(f"{path} exists and is not {said}: it {holds}; {REPLACE_FIX}")


def export_nir(network: TernaryNetwork, path) -> Path:
    """Write ``network`` as a NIR file at ``path`` (atomic), behind a user block holding the file's digest
    (``connttra_neuro.nirfile.with_file_digest``). Returns the path."""
    import io

    import nir

    check_replaceable(path)
    hdf5 = io.BytesIO()
    nir.write(hdf5, nir_graph(network))
    return write_bytes(path, with_file_digest(hdf5.getvalue()))


def _netx_semantics(nmap) -> str:
    """The netx file's ``semantics`` attribute: how to load it and read it, in netx's own terms (the
    NIR text speaks of Threshold nodes and an Affine output, which a netx file has none of)."""
    S = nmap.weight_scale
    return (
        "connttra-neuro integer network as lava-dl netx dense CUBA layers (layer/0 first). Load with "
        "lava.lib.dl.netx.hdf5.Network(net_config=path, reset_interval=1) where your lava-dl has it: LIFReset "
        "then forgets every step, as the loihi2 target does. Without it netx builds plain LIF, which keeps "
        "v/4096 (truncated) of a neuron that did not fire into the next step; the export checked that this "
        "carry stays inside the half-unit margin for every input, so either load is exact. "
        "Input: n_inputs spikes, the thermometer code of the raw features (spike f*K+k = x_f >= "
        "encoder_thresholds[f, k]; the encoder is that attribute, not a layer). "
        "Each step, per layer: v = (weight @ s << 6) + (bias << 6) (netx's bias_exp 6; iDecay 4096 clears "
        "the current every step) plus plain LIF's carry; a neuron fires iff v > vThMant << 6 (strict). "
        f"Hidden layers: weight = {S} W (weight_scale), bias = vThMant + {S // 2} - {S} T (T clamped to the "
        "drives the neuron can reach: same spikes), so a neuron fires iff W @ s >= T (a layer whose weights are "
        "all multiples of some g > 1 holds W / g and ceil(T / g) instead: the same spikes). "
        "Last layer: never fires (vThMant 131071); its voltage is score_scale x (W @ s + b), "
        f"score_scale = {64 * S}: scores = round(v / score_scale), class = argmax (ties to the lowest index). "
        "Each dense layer adds one step of delay."
    )


def _type_field(name: str) -> np.ndarray:
    """A ``type`` entry as slayer writes it (one-element ``S10`` array): netx's own reader takes a
    scalar too, but its NIR converter reads ``layer['type'][0]``."""
    return np.array([name.encode("ascii")], dtype="S10")


def _neuron(group, vth: int) -> None:
    # netx.hdf5.Network.get_neuron_params: du = iDecay - 1, dv = vDecay, bias_exp = 6
    group.create_dataset("type", data=_type_field("CUBA"))
    group.create_dataset("iDecay", data=np.int32(DECAY_FULL + 1))  # du = 4095 (+1 ds_offset) clears u
    group.create_dataset("vDecay", data=np.int32(DECAY_FULL))
    group.create_dataset("vThMant", data=np.int32(vth))
    group.create_dataset("refDelay", data=np.int32(1))
    group.create_dataset("gradedSpike", data=np.bool_(False))


def _trunc_carry(v: np.ndarray) -> np.ndarray:
    """What plain LIF keeps of a non-firing voltage into the next step: ``v * (4096 - 4095) / 4096``,
    truncated towards zero (Lava's bit-accurate LIF)."""
    return np.sign(v) * (np.abs(v) >> 12)


def _check_plain_lif_carry(nmap) -> None:
    """netx builds plain LIF, which keeps ``v / 4096`` of a neuron that did not fire into the next
    sample's step; the loihi2 target's LIFReset forgets it. The carry must stay inside the half-unit
    margin ``64 * S / 2`` around every decision. Checked for every possible input (data-independent):
    a silent hidden neuron's voltage lies between ``64 (S * lowest drive + bias_mant)`` and ``64 vth``;
    an output voltage is ``64 S z`` and its carry must not move the rounded score. In practice
    (8 weight bits) hidden thresholds up to 2,048 pass: above, ``vth > 0`` puts the largest
    threshold's bias mantissa at its 13-bit floor, and a blank sample then leaves a carry of -64."""
    margin = 64 * (nmap.weight_scale // 2)  # v units between the decision boundary and the nearest drive
    for lm in nmap.layers:
        if lm.kind == "hidden":
            lowest = np.minimum(lm.weights.astype(np.int64), 0).sum(axis=1)  # most negative scaled drive
            v_low = 64 * (lowest + lm.bias_mant.astype(np.int64)) - margin + 1  # with the worst earlier carry
            carry_high = int(_trunc_carry(np.array([64 * lm.vth]))[0])
            carry_low = int(_trunc_carry(v_low).min()) if v_low.size else 0
            if carry_high > margin or carry_low <= -margin:
                worst = carry_high if carry_high > margin else carry_low
                raise TargetLimitError(
                    "loihi2", "carry-over of plain LIF in netx (v/4096 of a neuron that did not fire)", lm.name,
                    worst, f"({-margin}, {margin}]",
                    f"netx runs plain LIF, not the loihi2 target's LIFReset: hidden thresholds up to about "
                    f"{4096 // nmap.weight_scale} (this layer's vth {lm.vth}, largest threshold "
                    f"{int(lm.thresholds.max())}) and W @ s - T above about -{4096 // nmap.weight_scale} for every "
                    f"input keep it exact; the loihi2 target runs this network exactly",
                )
        else:
            z_max = np.abs(lm.weights.astype(np.int64)).sum(axis=1) + nmap.weight_scale * np.abs(lm.offset)
            carry = int(_trunc_carry(64 * z_max + margin).max()) if z_max.size else 0
            if carry >= margin:
                raise TargetLimitError(
                    "loihi2", "carry-over of plain LIF in netx (v/4096 of the output voltage)", lm.name, carry,
                    f"({-margin}, {margin})", "the scores read from the output voltage would be off; the loihi2 "
                    "target runs this network exactly",
                )


def _check_netx_weight_signs(nmap) -> None:
    """netx re-optimises each layer's weights when it loads them (``optimize_weight_bits``) and
    infers a sign mode from them; for a layer without a positive weight that goes wrong: weights in
    ``{-S, 0}`` count as mixed while Lava's synapse then treats them as inhibitory and the drive
    comes out halved, all-negative weights get zero bits (drive zeroed), and an all-zero layer makes
    the optimisation divide by zero. The loihi2 target (8-bit weights as mapped) has none of this."""
    for lm in nmap.layers:
        if lm.weights.size and lm.weights.max() <= 0:
            what = "all its weights are 0" if lm.weights.min() == 0 else "it has no positive weight"
            raise TargetLimitError(
                "loihi2", "largest weight of a layer in a netx file", lm.name,
                int(lm.weights.max()) // nmap.weight_scale, "> 0 there (netx's loader)",
                f"netx re-scales each layer's weights when it loads them and gets a layer wrong when {what} "
                "(drive halved or zeroed, or a division by zero); the loihi2 target itself runs this network exactly",
            )


def _undivided_output(nmap):
    """The mapping with its output layer holding ``S W`` itself: the loihi2 target divides a common
    weight factor ``g`` out and multiplies the scores back on the host, a netx file has no such step,
    so ``S W`` must fit the weights' 8 bits (-128 does not: ``2 * -128``) and its sums the 16-bit input."""
    out = nmap.layers[-1]
    if out.unit == 1:
        return nmap
    S = nmap.weight_scale
    w = out.weights.astype(np.int64) * out.unit
    lo, hi = _drive_bounds(w)
    peak = int(max(-lo.min(), hi.max()))
    why = (f"every output weight is a multiple of {out.unit}: the loihi2 target divides it out and multiplies the "
           f"scores back when it reads them, which netx cannot, so its output layer holds {S} W itself; the loihi2 "
           "target itself runs this network exactly")
    if np.abs(w).max() > WEIGHT_RANGE - S:
        bad = int(w.flat[np.abs(w).argmax()]) // S
        raise TargetLimitError("loihi2", f"output weight precision in netx (8-bit weights, scaled x{S})", out.name,
                               f"{bad} (scaled {S * bad})", f"|w| <= {(WEIGHT_RANGE - S) // S}", why)
    if peak > ACTIVATION_MAX:
        raise TargetLimitError("loihi2", "output activation width in netx (16-bit synaptic input)", out.name, peak,
                               ACTIVATION_MAX, f"the largest possible {S}*|W @ s|; {why}")
    out = dataclasses.replace(out, weights=w.astype(np.int32), unit=1,
                              drive_min=int(lo.min()) // S, drive_max=int(hi.max()) // S)
    return dataclasses.replace(nmap, layers=nmap.layers[:-1] + (out,))


def check_netx(network: TernaryNetwork):
    """Everything :func:`export_netx` refuses, without writing: the loihi2 target's limits, output
    biases the neurons cannot hold, layers netx loads wrongly, plain LIF's carry-over. Returns the
    mapping; raises TargetLimitError naming the layer and the value."""
    nmap = _undivided_output(check_limits(network))  # the whole network's limits (cores) as well as each layer's
    out_bias = nmap.weight_scale * nmap.layers[-1].offset
    if out_bias.size and (out_bias.min() < BIAS_MANT_MIN or out_bias.max() > BIAS_MANT_MAX):
        outside = (out_bias < BIAS_MANT_MIN) | (out_bias > BIAS_MANT_MAX)  # -2048 fits, +2048 does not
        bad = int(network.output.biases[np.flatnonzero(outside)[np.abs(out_bias[outside]).argmax()]])
        raise TargetLimitError(
            "loihi2", f"output bias in netx ({nmap.weight_scale} b must fit the 13-bit bias mantissa)", "output layer",
            bad, f"[{BIAS_MANT_MIN // nmap.weight_scale}, {BIAS_MANT_MAX // nmap.weight_scale}]",
            "the loihi2 target itself adds output biases when it reads the scores; netx stores them in the neurons",
        )

    _check_netx_weight_signs(nmap)
    _check_plain_lif_carry(nmap)
    return nmap


def export_netx(network: TernaryNetwork, path) -> Path:
    """Write ``network`` as a lava-dl netx HDF5 file at ``path`` (atomic). Returns the path.

    Raises TargetLimitError when the network does not fit Loihi (same checks as
    the loihi2 target) or netx would not load it exactly (:func:`check_netx`).
    """
    import io

    import h5py

    check_replaceable(path)
    nmap = check_netx(network)
    hdf5 = io.BytesIO()  # in memory: h5py writing to a full disk fails in its destructors (tracebacks, a crash)
    with h5py.File(hdf5, "w") as f:
        f.attrs["producer"] = "connttra-neuro"
        f.attrs["semantics"] = _netx_semantics(nmap)
        f.attrs["encoder_thresholds"] = network.encoder.thresholds
        f.attrs["weight_scale"] = nmap.weight_scale
        f.attrs["score_scale"] = 64 * nmap.weight_scale  # output voltage = 128 * score at 8 weight bits
        layers = f.create_group("layer")
        f.attrs["n_inputs"] = network.n_inputs
        for i, lm in enumerate(nmap.layers):
            g = layers.create_group(str(i))
            g.create_dataset("type", data=_type_field("dense"))
            g.create_dataset("shape", data=np.array([lm.weights.shape[0]], dtype=np.int64))
            g.create_dataset("weight", data=lm.weights.astype(np.float32))
            if lm.kind == "output":
                g.create_dataset("bias", data=(nmap.weight_scale * lm.offset).astype(np.float32))
                _neuron(g.create_group("neuron"), VTH_MAX)
            else:
                g.create_dataset("bias", data=lm.bias_mant.astype(np.float32))
                _neuron(g.create_group("neuron"), lm.vth)
            g.attrs["name"] = lm.name
    return write_bytes(path, hdf5.getvalue())
