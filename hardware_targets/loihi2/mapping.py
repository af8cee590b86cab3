"""Fixed-point mapping of the IR onto Loihi 2 LIF neurons, and the limit checks.

Pure numpy: nothing here imports Lava, so every limit is testable without a runtime.

The mapping (fixed_pt, Lava ``Loihi2SimCfg(select_tag="fixed_pt")``)
------------------------------------------------------------------
Per step, a Loihi LIF compartment with ``du = dv = 4095`` and a reset every
step (``LIFReset(reset_interval=1)``, so it keeps no state) computes::

    u = a_in << 6                        a_in = W' @ s   (synaptic input)
    v = u + (bias_mant << bias_exp)
    spike  iff  v > vth << 6             (strict), then v = 0

The IR wants ``s = (W @ s_prev >= T)``. We store ``W' = 2 W`` (Loihi's
mixed-sign weight mode drops the weight's lowest bit, so odd weights would
lose 1; even weights are exact) and choose a per-neuron bias so that

    v - (vth << 6) = 128 (W @ s - T) + 64   >  0   <=>   W @ s >= T,

i.e. ``bias = (vth + 1 - 2 T) << 6`` with ``bias_exp = 6``. (With ``weight_bits = b < 8``
Loihi keeps only multiples of ``2**(9-b)`` of a mixed-sign weight, so the scale is
``S = 2**(9-b)`` and ``bias_mant = vth + S/2 - S T``; ``b = 8`` gives the formula above.) The 64 is the half-unit
margin: the decision boundary sits half-way between two integer drives. ``vth``
is one value per population (the hidden layer), so per-neuron thresholds live
in ``bias_mant = vth + 1 - 2 T``; ``vth`` only shifts the whole layer's range so
the 13-bit mantissa can hold it.

Thresholds that no input can reach (``T > max drive``) or that every input
passes (``T <= min drive``) are clamped to ``max drive + 1`` / ``min drive``
first: the spikes are unchanged and such thresholds do not waste bias range.

The output layer's scores are the synaptic input ``a = W' @ s`` of the output
compartments, streamed out every step; ``z = a / 2 + b`` is exact (``a`` is even).

A layer whose weights share a common factor ``g > 1`` (a set like ``(-100, 0, 100)``, or
``(-2, 0, 2)``) is mapped divided by it: weights ``W / g``, hidden thresholds ``ceil(T / g)``
(``W @ s >= T`` iff ``(W / g) @ s >= T / g`` iff ``(W / g) @ s >= ceil(T / g)``, the drive being an
integer), and an output layer's scores ``z = g a / 2 + b`` on the host, where its biases are added
anyway. The spikes and scores are the same; the weights then need no more bits than ternary ones.

floating_pt mode uses Lava's floating-point models: raw weights, ``vth = 0``,
``bias = 0.5 - T`` (``v = W @ s - T + 0.5 > 0``), exact for integer drives below 2**53.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from connttra_neuro.network import TernaryNetwork

from ..base import TargetLimitError
from . import chip

__all__ = [
    "WEIGHT_SCALE",
    "MIN_WEIGHT_BITS",
    "weight_scale",
    "network_resources",
    "BIAS_EXP",
    "LayerMap",
    "NetworkMap",
    "map_network",
    "check_limits",
    "layer_resources",
]

TARGET = "loihi2"

# Loihi mixed-sign weights lose their lowest bit (lava.utils.weightutils.truncate_weights:
# 8 - num_weight_bits + 1 low bits are dropped): doubling makes every weight even, so nothing
# is lost at 8 bits. targets-facts.md, measured.
WEIGHT_SCALE = 2  # at the default 8 weight bits; see weight_scale()
# Synaptic input and vth are shifted left by 6 before they meet v; the bias is not.
ACT_SHIFT = chip.STATE_FRAC_SHIFT  # bits
BIAS_EXP = ACT_SHIFT  # bias = bias_mant << 6 lines the bias up with the shifted input
BIAS_MANT_MIN = -(1 << (chip.BIAS_MANT_BITS - 1))  # -4096
BIAS_MANT_MAX = (1 << (chip.BIAS_MANT_BITS - 1)) - 1  # 4095
VTH_MAX = (1 << chip.VTH_BITS) - 1  # 131071
STATE_MAX = (1 << (chip.STATE_BITS - 1)) - 1  # 24-bit signed u, v: 8,388,607
# Dense/Sparse a_out and LIF a_in are 16-bit signed in the bit-accurate models
# (lava/proc/dense/models.py PyDenseModelBitAcc a_out precision=16).
ACTIVATION_BITS = 16
ACTIVATION_MAX = (1 << (ACTIVATION_BITS - 1)) - 1  # 32,767
# Scaled weights must lie in [-(256 - S), 256 - S] (S = weight scale): Lava clips mixed-sign
# weights to [-256, 255] and single-sign ones to [-255, 0] / [0, 255] before truncating.
WEIGHT_RANGE = 1 << chip.WEIGHT_BITS  # 256


def _scale(weight_bits: int) -> int:
    return 1 << (chip.WEIGHT_BITS + 1 - int(weight_bits))


# The fewest weight bits whose scaled range still holds a ternary weight: |w| <= (256 - S) // S must
# allow 1. At 1 bit S = 256 and only 0 fits, so every network with a non-zero weight was refused.
MIN_WEIGHT_BITS = min(b for b in range(1, chip.WEIGHT_BITS + 1) if (WEIGHT_RANGE - _scale(b)) // _scale(b) >= 1)


def weight_scale(weight_bits: int = chip.WEIGHT_BITS) -> int:
    """``2**(9 - b)``: the multiple every weight must be to survive Loihi's b-bit truncation."""
    from ..base import is_positive_int

    # 4.0 is 4; True, '8', nan are not
    if not (is_positive_int(weight_bits) and MIN_WEIGHT_BITS <= weight_bits <= chip.WEIGHT_BITS):
        why = ""
        if is_positive_int(weight_bits) and weight_bits < MIN_WEIGHT_BITS:
            scale = _scale(weight_bits)
            why = (f" (at {int(weight_bits)} bit Loihi keeps a weight only as a multiple of {scale} in "
                   f"[-{WEIGHT_RANGE}, {WEIGHT_RANGE - 1}], so a ternary weight of +1 ({scale}) cannot be stored; "
                   f"use weight_bits={MIN_WEIGHT_BITS} or more)")
        raise ValueError(f"loihi2: weight_bits must be an integer in [{MIN_WEIGHT_BITS}, {chip.WEIGHT_BITS}], "
                         f"got {weight_bits!r}{why}")
    return _scale(weight_bits)
# A decay constant of 4095 plus Lava's 1-bit ds_offset clears u fully every step.
DECAY_FULL = chip.DECAY_UNITY - 1  # 4095


@dataclass(frozen=True)
class LayerMap:
    """One weight layer mapped to Loihi fixed point.

    weights : int32 (n_out, n_in), the scaled weights ``WEIGHT_SCALE * W``
    bias_mant : int32 (n_out,) per-neuron bias mantissa (hidden) or zeros (output)
    vth : int, the population threshold (hidden) or 0 (output)
    offset : int64 (n_out,), host-side addend applied to the output's scores (``b``)
    unit : int, the layer's common weight factor ``g`` divided out of ``weights`` (1: none); the
        output's scores are ``g a / S + b``, a hidden layer's thresholds are ``ceil(T / g)``
    """

    name: str
    kind: str  # "hidden" or "output"
    weights: np.ndarray
    bias_mant: np.ndarray
    vth: int
    bias_exp: int
    thresholds: np.ndarray  # the IR's thresholds after clamping (hidden), for reports
    offset: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    drive_min: int = 0
    drive_max: int = 0
    unit: int = 1


@dataclass(frozen=True)
class NetworkMap:
    """The whole network mapped: ``layers[:-1]`` hidden, ``layers[-1]`` the output."""

    network: TernaryNetwork
    layers: tuple[LayerMap, ...]
    weight_scale: int = WEIGHT_SCALE
    weight_bits: int = chip.WEIGHT_BITS

    @property
    def n_inputs(self) -> int:
        return self.network.n_inputs


def common_factor(weights: np.ndarray) -> int:
    """The largest integer every weight of a layer is a multiple of (1 for an all-zero layer)."""
    g = int(np.gcd.reduce(np.abs(weights.astype(np.int64)), axis=None)) if weights.size else 0
    return max(g, 1)


def _divided(unit: int) -> str:
    """Said in a message about a layer mapped divided by its common weight factor."""
    if unit == 1:
        return ""
    return (f" (every weight of this layer is a multiple of {unit}, so it is mapped divided by {unit}: weights "
            f"W / {unit}, thresholds ceil(T / {unit}); figures here are in those units)")


def _drive_bounds(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest possible ``W @ s`` per neuron over binary ``s``."""
    w = weights.astype(np.int64)
    return np.minimum(w, 0).sum(axis=1), np.maximum(w, 0).sum(axis=1)


def _limit(limit: str, layer: str, value, allowed, hint: str = "") -> TargetLimitError:
    return TargetLimitError(TARGET, limit, layer, value, allowed, hint)


def _vth_and_room(t: np.ndarray, scale: int) -> tuple[int, int]:
    """The smallest vth >= 0 that keeps the largest threshold's ``bias_mant = vth + S/2 - S T`` at or above
    the 13-bit floor, and the largest vth that keeps the lowest one's at or below the ceiling."""
    half = scale // 2
    return max(0, int(scale * t.max()) - half + BIAS_MANT_MIN), int(scale * t.min()) - half + BIAS_MANT_MAX


def _lowest_threshold(scale: int) -> int:
    """With vth = 0 (unsigned) the bias alone holds a threshold: ``S/2 - S T <= 4095``."""
    return -((BIAS_MANT_MAX - scale // 2) // scale)


def _spread_allowed(scale: int) -> int:
    """Thresholds sharing one vth: ``S (T_max - T_min)`` must fit the mantissa's range of 8,191."""
    return (BIAS_MANT_MAX - BIAS_MANT_MIN) // scale


def _held(model_t: np.ndarray, t: np.ndarray, i: int) -> str:
    """`` (the model holds X)`` when the mapping's threshold of neuron ``i`` is not the model's (clamped)."""
    return "" if model_t[i] == t[i] else f" (the model holds {int(model_t[i])})"


def _why_clamped(model_t: np.ndarray, t: np.ndarray, *quoted: int) -> str:
    """Why a quoted threshold (of the neurons ``quoted``) differs from the model's, said once per message."""
    if all(model_t[i] == t[i] for i in quoted):
        return ""
    return ("; thresholds are quoted as mapped: one at or below a neuron's lowest possible drive always fires and "
            "one above its largest never fires, so the mapping clamps them to the lowest drive / the largest drive "
            "+ 1 (same spikes), and the clamped value is what must fit")


def _more_bits(t: np.ndarray, weight_bits: int) -> str:
    """A fix through weight_bits, where one exists: fewer bits mean a larger weight scale S, and every
    threshold limit scales with 1/S. Names the fewest bits that hold this layer's (clamped) thresholds."""
    if weight_bits >= chip.WEIGHT_BITS:
        return ""
    for bits in range(int(weight_bits) + 1, chip.WEIGHT_BITS + 1):
        vth, room = _vth_and_room(t, _scale(bits))
        if vth <= room and vth <= VTH_MAX:
            scale = _scale(bits)
            return (f"; or more weight_bits (a smaller weight scale): weight_bits={bits} (--weight-bits {bits}) holds "
                    f"these thresholds (spread up to {_spread_allowed(scale)}, lowest {_lowest_threshold(scale)})")
    return (f"; more weight_bits would not be enough: even {chip.WEIGHT_BITS} bits allow a spread of only "
            f"{_spread_allowed(_scale(chip.WEIGHT_BITS))} and thresholds down to "
            f"{_lowest_threshold(_scale(chip.WEIGHT_BITS))}")


def check_limits(
    network: TernaryNetwork,
    spec: chip.ChipSpec = chip.LOIHI2,
    *,
    max_chips: int = 1,
    weight_bits: int = chip.WEIGHT_BITS,
) -> NetworkMap:
    """Raise :class:`TargetLimitError` naming the first limit a layer breaks; return the mapping.

    Checked, in order, per layer: weight precision after the x2 scaling, fan-in
    (input axons per core), activation width (16-bit synaptic input), 24-bit
    state (u and v), threshold range (vth 17-bit unsigned) and bias mantissa
    (13-bit signed) / exponent; then neurons per core and cores per chip for the
    whole network.
    """
    nmap = map_network(network, spec, weight_bits=weight_bits)  # per-layer checks live where the numbers are made
    res = network_resources(network, spec, weight_bits)
    allowed_cores = spec.cores_per_chip * max_chips
    if res["cores"] > allowed_cores:
        # say which layers take the cores and why (neurons or synaptic memory), from the resources report
        per_layer = []
        for l in res["layers"]:
            for_memory = -(-l["synaptic_memory_bits"] // spec.synaptic_memory_bits_per_core)
            if -(-l["neurons"] // spec.neurons_per_core) >= for_memory:
                why = f"{l['neurons']:,} neurons, {spec.neurons_per_core:,} per core"
            else:
                why = (f"synaptic memory {l['synaptic_memory_bits']:,} bits, "
                       f"{spec.synaptic_memory_bits_per_core:,} per core")
            per_layer.append(f"{l['layer']} {l['cores']} ({why})")
        raise _limit(
            "cores", "network", res["cores"], allowed_cores,
            f"cores per layer: {', '.join(per_layer)}. {spec.name} has {spec.cores_per_chip} cores per chip; "
            f"allow more chips (max_chips={res['chips']}; --max-chips {res['chips']} on the command line), or "
            "fewer neurons or synapses in the layers that need the most cores",
        )
    return nmap


def map_network(
    network: TernaryNetwork, spec: chip.ChipSpec = chip.LOIHI2, *, weight_bits: int = chip.WEIGHT_BITS
) -> NetworkMap:
    """Map every layer to Loihi fixed point, checking its limits as it goes."""
    scale = weight_scale(weight_bits)
    w_max = WEIGHT_RANGE - scale
    layers = []
    named = list(network.named_layers())
    for i, (name, layer) in enumerate(named):
        is_output = i == len(named) - 1
        # a common factor is divided out (exact, see the module docstring): (-100, 0, 100) maps like ternary
        unit = common_factor(layer.weights)
        w = layer.weights.astype(np.int64) // unit
        n_out, n_in = w.shape
        scaled = scale * w
        if np.abs(scaled).max() > w_max:
            bad = int(w.flat[np.abs(w).argmax()])
            raise _limit(
                f"weight precision ({weight_bits}-bit weights, scaled x{scale})", name,
                f"{bad} (scaled {scale * bad})", f"|w| <= {w_max // scale} (scaled [-{w_max}, {w_max}])",
                f"weights are multiplied by {scale} to survive Loihi's weight truncation{_divided(unit)}; "
                + ("use more weight_bits (Loihi2Target(weight_bits=...) or --weight-bits, up to 8) or "
                   if weight_bits < 8 else "8 bits is the most Loihi 2 has: use ")
                + "a discrete set of smaller weights",
            )
        if n_in > spec.fan_in_axons_per_core:
            # only the first layer is fed by the encoder; a later one by the previous hidden layer
            if i == 0:
                enc = network.encoder
                levels = f"{enc.levels} thermometer level{'s' if enc.levels != 1 else ''}"
                source = (f"its inputs are the encoded features ({enc.n_features} features x {levels}); "
                          "use fewer thermometer levels or fewer input features")
            else:
                prev = named[i - 1][0]
                source = f"its inputs are the {n_in} neurons of {prev}; use fewer neurons in {prev}"
            raise _limit("fan-in (input axons per core)", name, n_in, spec.fan_in_axons_per_core, source)
        lo, hi = _drive_bounds(w)
        peak = int(max(-lo.min(), hi.max())) * scale
        if peak > ACTIVATION_MAX:
            raise _limit(
                f"activation width ({ACTIVATION_BITS}-bit synaptic input)", name, peak, ACTIVATION_MAX,
                f"the largest possible {scale}*|W @ s| of a neuron{_divided(unit)}; reduce fan-in or weight magnitude",
            )
        if peak << ACT_SHIFT > STATE_MAX:
            raise _limit(f"{chip.STATE_BITS}-bit state (u)", name, peak << ACT_SHIFT, STATE_MAX)
        if is_output:
            layers.append(
                LayerMap(
                    name=name, kind="output", weights=scaled.astype(np.int32),
                    bias_mant=np.zeros(n_out, np.int32), vth=0, bias_exp=0,
                    thresholds=np.zeros(n_out, np.int64), offset=layer.biases.astype(np.int64),
                    drive_min=int(lo.min()), drive_max=int(hi.max()), unit=unit,
                )
            )
            continue
        # Clamp thresholds nothing can reach / everything passes: same spikes, smaller range.
        held_t = layer.thresholds.astype(np.int64)
        model_t = -(-held_t // unit)  # ceil(T / g): the same spikes
        t = np.clip(model_t, lo, hi + 1)
        # bias_mant = vth + S/2 - S T must fit 13 bits for every neuron: pick the smallest vth >= 0.
        half = scale // 2
        vth, vth_room = _vth_and_room(t, scale)
        # vth, u and v checks below are implied by the 16-bit activation check above
        # (vth <= S*T_max <= 32767 + S; |v| < 2**21 + 2**18): kept so a change to the mapping cannot slip past.
        if vth > VTH_MAX:
            top = int(t.argmax())
            raise _limit(
                f"threshold range (vth {chip.VTH_BITS}-bit)", name, vth, f"[0, {VTH_MAX}]",
                f"vth = {scale} T - {half} - {-BIAS_MANT_MIN} for the largest threshold T = {int(t[top])} (neuron "
                f"{top}{_held(held_t, t, top)}){_why_clamped(model_t, t, top)}{_divided(unit)}. "
                "Fix: fewer inputs or a smaller "
                f"discrete set (each threshold is clamped to at most its neuron's largest drive + 1, here "
                f"{int(hi[top]) + 1})"
                + _more_bits(t, weight_bits),
            )
        if vth > vth_room and vth == 0:
            # vth is unsigned, so with every threshold low the bias alone must carry the lowest one
            low = int(t.argmin())
            raise _limit(
                f"lowest threshold ({chip.BIAS_MANT_BITS}-bit signed bias mantissa, unsigned vth)", name,
                int(t.min()), f">= {_lowest_threshold(scale)}",
                f"that is neuron {low}'s threshold{_held(held_t, t, low)}{_why_clamped(model_t, t, low)}"
                f"{_divided(unit)}. vth "
                "is unsigned and this layer's thresholds are low enough for vth 0, so the bias alone must hold each; "
                "only a neuron whose negative weights sum below the limit can have its threshold there (this one's "
                f"sum to {int(lo[low])}). Fix: fewer or smaller negative weights into that neuron (fewer inputs or a "
                "smaller discrete set)"
                + _more_bits(t, weight_bits),
            )
        if vth > vth_room:
            spread = int(t.max() - t.min())
            low, top = int(t.argmin()), int(t.argmax())
            raise _limit(
                f"threshold range ({chip.BIAS_MANT_BITS}-bit signed bias mantissa)", name,
                f"threshold spread {spread} (thresholds {int(t.min())}..{int(t.max())}, neurons {low}"
                f"{_held(held_t, t, low)} and {top}{_held(held_t, t, top)})",
                _spread_allowed(scale),
                f"a layer's thresholds share one vth, so their spread must fit the bias mantissa"
                f"{_why_clamped(model_t, t, low, top)}{_divided(unit)}. "
                "Fix: thresholds closer together, or fewer inputs or a "
                f"smaller discrete set (each threshold is clamped into its neuron's drive range, "
                f"{int(lo.min())}..{int(hi.max()) + 1} across this layer, so a narrower range bounds the spread)"
                + _more_bits(t, weight_bits),
            )
        bias_mant = vth + half - scale * t
        assert BIAS_MANT_MIN <= bias_mant.min() and bias_mant.max() <= BIAS_MANT_MAX
        if not 0 <= BIAS_EXP <= chip.BIAS_EXP_MAX:  # a constant, but keep the limit visible
            raise _limit("bias exponent", name, BIAS_EXP, f"[0, {chip.BIAS_EXP_MAX}]")
        v_extreme = int(max(abs((scale * lo + bias_mant).min()), abs((scale * hi + bias_mant).max())))
        v_extreme <<= ACT_SHIFT
        if v_extreme > STATE_MAX:
            raise _limit(f"{chip.STATE_BITS}-bit state (v)", name, v_extreme, STATE_MAX)
        layers.append(
            LayerMap(
                name=name, kind="hidden", weights=scaled.astype(np.int32),
                bias_mant=bias_mant.astype(np.int32), vth=vth, bias_exp=BIAS_EXP, thresholds=t,
                drive_min=int(lo.min()), drive_max=int(hi.max()), unit=unit,
            )
        )
    return NetworkMap(network=network, layers=tuple(layers), weight_scale=scale, weight_bits=weight_bits)


def _index_bits(n: int) -> int:
    return max(1, int(np.ceil(np.log2(max(n, 2)))))


def layer_resources(
    name: str, weights: np.ndarray, spec: chip.ChipSpec = chip.LOIHI2, weight_bits: int = chip.WEIGHT_BITS
) -> dict:
    """Cores, neurons, synapses and synaptic memory for one weight layer.

    Synaptic memory model (ours, documented in docs/targets/loihi2.md): each
    non-zero synapse stores its scaled weight (``WEIGHT_BITS``) plus the index of
    its source axon (``ceil(log2 n_in)`` bits), or a dense row of weights when
    that is smaller (``weight_bits`` is the stored weight precision). A layer
    needs enough cores for its neurons and for its
    synaptic memory, whichever is more.
    """
    n_out, n_in = weights.shape
    synapses = int(np.count_nonzero(weights))
    sparse_bits = synapses * (weight_bits + _index_bits(n_in))
    dense_bits = n_out * n_in * weight_bits
    memory_bits = min(sparse_bits, dense_bits)
    cores_for_neurons = -(-n_out // spec.neurons_per_core)
    cores_for_memory = -(-memory_bits // spec.synaptic_memory_bits_per_core)
    return {
        "layer": name,
        "neurons": int(n_out),
        "inputs": int(n_in),
        "synapses": synapses,
        "max_fan_in": int(np.count_nonzero(weights, axis=1).max()),
        "synaptic_memory_bits": int(memory_bits),
        "synapse_format": "sparse" if sparse_bits <= dense_bits else "dense",
        "cores": int(max(1, cores_for_neurons, cores_for_memory)),
    }


def network_resources(
    network: TernaryNetwork, spec: chip.ChipSpec = chip.LOIHI2, weight_bits: int = chip.WEIGHT_BITS
) -> dict:
    """Per-layer and total neurons, synapses, synaptic memory bits and cores."""
    layers = [layer_resources(name, layer.weights, spec, weight_bits) for name, layer in network.named_layers()]
    total = {key: int(sum(l[key] for l in layers)) for key in ("neurons", "synapses", "synaptic_memory_bits", "cores")}
    # what the chip does not do: the scores are read from the output compartments' synaptic input
    unit = common_factor(network.output.weights)
    on_host = "output biases (added where the scores are read)" + (
        f", and the output weights' common factor {unit} (the scores multiplied by it)" if unit > 1 else "")
    return {
        "chip": spec.name,
        "input_neurons": network.n_inputs,
        **total,
        "chips": -(-total["cores"] // spec.cores_per_chip),
        "on_host": on_host,
        "layers": layers,
        "constants": {
            **spec.as_dict(),
            "weight_bits": weight_bits,
            "weight_scale": weight_scale(weight_bits),
            "bias_mant_bits": chip.BIAS_MANT_BITS,
            "bias_exp_max": chip.BIAS_EXP_MAX,
            "vth_bits": chip.VTH_BITS,
            "activation_bits": ACTIVATION_BITS,
            "energy_per_synaptic_op_pJ": chip.ENERGY_PER_SYNAPTIC_OP_PJ,
            "energy_per_neuron_update_pJ": chip.ENERGY_PER_NEURON_UPDATE_PJ,
            "energy_source": "Davies et al., IEEE Micro 2018, Table 2 (Loihi 1 silicon)",
        },
    }
