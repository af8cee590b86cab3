"""Published Loihi / Loihi 2 chip constants, each with its unit and source.

Pure data (no Lava import): the resource report and the verifier's energy
estimate import these. Where a figure is a *declared* range of Lava's
bit-accurate CPU models rather than a published silicon figure, the source
line says so.

Sources
-------
[Davies2018]  M. Davies et al., "Loihi: A Neuromorphic Manycore Processor with
              On-Chip Learning", IEEE Micro 38(1):82-99, 2018.
              doi:10.1109/MM.2018.112130359 (core description and Table 2).
[Loihi2Brief] Intel Labs, "Taking Neuromorphic Computing to the Next Level with
              Loihi 2", technology brief, September 2021 (feature table
              comparing Loihi and Loihi 2).
[LavaFixedPt] lava-nc 0.10.0 bit-accurate ProcessModels
              (lava/proc/lif/models.py ``PyLifModelBitAcc``,
              lava/proc/dense/models.py ``PyDenseModelBitAcc``): declared
              variable widths of the Loihi 2 fixed-point neuron/synapse model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = [
    "ChipSpec",
    "LOIHI",
    "LOIHI2",
    "CHIPS",
    "ENERGY_PER_SYNAPTIC_OP_J",
    "ENERGY_PER_NEURON_UPDATE_J",
    "ENERGY_PER_SYNAPTIC_OP_PJ",
    "ENERGY_PER_NEURON_UPDATE_PJ",
    "WEIGHT_BITS",
    "BIAS_MANT_BITS",
    "BIAS_EXP_MAX",
    "VTH_BITS",
    "STATE_BITS",
    "STATE_FRAC_SHIFT",
    "DECAY_UNITY",
    "DECAY_BITS",
    "SPIKE_PAYLOAD_BITS_LOIHI2",
]

# -- energy (Loihi 1 silicon; no per-op figures have been published for Loihi 2) --
# [Davies2018] Table 2: "Synaptic spike op (min)" 23.6 pJ; "Neuron update (active)" 52 pJ.
ENERGY_PER_SYNAPTIC_OP_PJ = 23.6  # pJ per synaptic spike operation
ENERGY_PER_NEURON_UPDATE_PJ = 52.0  # pJ per active neuron (compartment) update
ENERGY_PER_SYNAPTIC_OP_J = ENERGY_PER_SYNAPTIC_OP_PJ * 1e-12  # J
ENERGY_PER_NEURON_UPDATE_J = ENERGY_PER_NEURON_UPDATE_PJ * 1e-12  # J

# -- fixed-point widths of the Loihi (2) LIF neuron and synapse --------------
# [Davies2018] synaptic weights of 1..8 bits plus sign; [LavaFixedPt] Dense num_weight_bits=8,
# weights in [-256, 255] before the mixed-sign LSB drop (see mapping.py).
WEIGHT_BITS = 8  # bits, signed weight magnitude the synapse stores (mantissa)
# [LavaFixedPt] LIF bias_mant is 13-bit signed, bias_exp 3-bit (0..7): bias = bias_mant << bias_exp.
BIAS_MANT_BITS = 13  # bits, signed: [-4096, 4095]
BIAS_EXP_MAX = 7  # shift, bias_exp in [0, 7]
# [LavaFixedPt] LIF vth is 17-bit unsigned, applied as vth << 6.
VTH_BITS = 17  # bits, unsigned: [0, 131071]
# [Davies2018] compartment current u and voltage v are 24-bit; [LavaFixedPt] u wraps, v saturates.
STATE_BITS = 24  # bits, signed two's complement
# [LavaFixedPt] synaptic input and vth are left-shifted by 6 before they meet u/v.
STATE_FRAC_SHIFT = 6  # bits
# [LavaFixedPt] du/dv are 12-bit decay constants; 4096 - d multiplies, so d = 4095 ~ full decay.
DECAY_BITS = 12  # bits
DECAY_UNITY = 1 << DECAY_BITS  # 4096: decay denominator
# [Loihi2Brief] graded spikes carry up to a 32-bit integer payload on Loihi 2.
SPIKE_PAYLOAD_BITS_LOIHI2 = 32  # bits


@dataclass(frozen=True)
class ChipSpec:
    """Capacity of one chip generation (all counts per chip or per core, as named)."""

    name: str
    cores_per_chip: int  # neuromorphic cores per chip
    neurons_per_core: int  # compartments (LIF neurons) per core, max
    neurons_per_chip: int  # max
    synapses_per_chip: int  # max
    synaptic_memory_bits_per_core: int  # bits of SRAM available to synapses per core
    fan_in_axons_per_core: int  # distinct input axons a core can receive, max
    weight_bits: int  # signed weight mantissa bits
    state_bits: int  # u, v width
    source: str

    def as_dict(self) -> dict:
        return asdict(self)


# [Davies2018]: 128 neuromorphic cores; 1,024 compartments per core (131,072 per chip);
# 16 MB synaptic memory in total = 128 KB per core; ~130M synapses per chip; each core
# has 4,096 input axon routes (fan-in) and 4,096 output axon routes.
LOIHI = ChipSpec(
    name="Loihi",
    cores_per_chip=128,
    neurons_per_core=1024,
    neurons_per_chip=131_072,
    synapses_per_chip=130_000_000,
    synaptic_memory_bits_per_core=128 * 1024 * 8,  # 128 KB
    fan_in_axons_per_core=4096,
    weight_bits=WEIGHT_BITS,
    state_bits=STATE_BITS,
    source="Davies et al., IEEE Micro 2018",
)

# [Loihi2Brief]: up to 128 neuromorphic cores; up to 8,192 neurons per core (1M per chip);
# up to 120M synapses per chip; 192 KB of memory per core, flexibly partitioned between
# neuron state and synapses (we budget all of it to synapses: an upper bound, documented).
# Loihi 2's fan-in per core is not published; we keep Loihi's 4,096 input axons per core
# as the conservative limit.
LOIHI2 = ChipSpec(
    name="Loihi 2",
    cores_per_chip=128,
    neurons_per_core=8192,
    neurons_per_chip=1_048_576,
    synapses_per_chip=120_000_000,
    synaptic_memory_bits_per_core=192 * 1024 * 8,  # 192 KB
    fan_in_axons_per_core=4096,
    weight_bits=WEIGHT_BITS,
    state_bits=STATE_BITS,
    source="Intel Labs Loihi 2 technology brief, 2021 (fan-in: Davies et al. 2018, Loihi 1)",
)

CHIPS = {"loihi": LOIHI, "loihi2": LOIHI2}
