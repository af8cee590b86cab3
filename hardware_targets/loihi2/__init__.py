"""Loihi 2 target: the IR compiled to Lava processes (Loihi2SimCfg, fixed_pt by default).

Importing this package does not import Lava; :mod:`.runtime` (the only module
that does) is imported when a network runs. See docs/targets/loihi2.md.

    target = get_target("loihi2")                 # fixed_pt, bit-exact
    target.resources(network)                     # cores, synapses, memory (no Lava)
    result = target.deploy(network, spikes, record_hidden=True)

Options: ``mode`` ("fixed_pt" | "floating_pt"), ``tiles`` (copies of the
network run side by side; default: automatic, ``default_tiles``), ``run_cfg`` (a Lava RunConfig,
e.g. lava-loihi's ``Loihi2HwCfg()`` on a machine with Intel's hardware
runtime), ``chip`` ("loihi2" | "loihi") and ``max_chips`` for the capacity check,
``weight_bits`` (2..8, stored synaptic weight precision; fewer bits need a larger
weight scale, see mapping.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from connttra_neuro.modelfile import as_network
from connttra_neuro.network import TernaryNetwork, require_network

from ..base import RunResult, Target, check_spikes, is_positive_int, tiles_within
from . import chip as chip_constants
from .mapping import NetworkMap, check_limits, network_resources, weight_scale

__all__ = ["Loihi2Target", "Compiled", "check_netx", "default_tiles", "export_nir", "export_netx"]

MODES = ("fixed_pt", "floating_pt")
# Copies of the net per Lava run: one sample per tile per step. For 10k samples of 784-256-10, 50 and
# 100 tiles are the fastest and 200 and 400 a little slower (the tiles sweep of bench/deploy_loihi2.py,
# figures in docs/benchmarks.md, deploy-loihi2; building larger block-diagonal weights costs).
DEFAULT_TILES = 100
# ... and no more copies than keep the synapses of all of them under this: every copy's weights are
# stored (the block-diagonal CSR, Lava's own copies of it), about 16 bytes per synapse per copy in the
# host process. 100 copies of a random 4096-2048-10 network (4.2M synapses) took 7.1 GB and 17 s for
# 100 samples, 10 copies 0.8 GB and 4.5 s; a 2-chip 4096-4096-4096-10 network would have needed ~27 GB.
# 784-256-10 (at most 203k synapses) keeps its 100 copies.
TILED_SYNAPSES = 2**25


def default_tiles(network: TernaryNetwork, n: int) -> int:
    """Copies of ``network`` a run of ``n`` samples uses when ``tiles`` is not given: ``min(n, 100)``,
    fewer for a large network (at most ``TILED_SYNAPSES`` synapses in all copies together), at least 1."""
    return tiles_within(network, min(int(n), DEFAULT_TILES), TILED_SYNAPSES)


@dataclass(frozen=True)
class Compiled:
    """A network mapped to Loihi fixed point (Lava processes are built per run)."""

    network: TernaryNetwork
    mapping: NetworkMap


class Loihi2Target(Target):
    """Loihi 2 through Lava's bit-accurate CPU simulation (or a user-supplied run config)."""

    name = "loihi2"
    description = "Intel Loihi 2 via Lava (Loihi2SimCfg fixed_pt, bit-exact)"

    def __init__(self, mode: str = "fixed_pt", tiles: int | None = None, run_cfg=None, chip: str = "loihi2",
                 max_chips: int = 1, weight_bits: int = chip_constants.WEIGHT_BITS):
        if mode not in MODES:
            raise ValueError(f"loihi2 target mode must be one of {MODES}, got {mode!r}")
        if tiles is not None and not is_positive_int(tiles):
            raise ValueError(f"loihi2 target tiles must be a positive integer, got {tiles!r}")
        if chip not in chip_constants.CHIPS:
            raise ValueError(f"loihi2 target chip must be one of {list(chip_constants.CHIPS)}, got {chip!r}")
        if not is_positive_int(max_chips):
            raise ValueError(f"loihi2 target max_chips must be a positive integer, got {max_chips!r}")
        self.mode = mode
        self.tiles = None if tiles is None else int(tiles)
        self.run_cfg = run_cfg
        self.chip, self.spec = chip, chip_constants.CHIPS[chip]
        self.max_chips = int(max_chips)
        weight_scale(weight_bits)  # validates the range
        self.weight_bits = int(weight_bits)

    def __repr__(self) -> str:
        # the settings that change what fits and how it runs: two targets that differ show it
        chip = "" if self.chip == "loihi2" else f" chip={self.chip!r}"
        tiles = "" if self.tiles is None else f" tiles={self.tiles}"
        cfg = "" if self.run_cfg is None else f" run_cfg={type(self.run_cfg).__name__}"
        return (f"<Loihi2Target mode={self.mode!r}{chip} weight_bits={self.weight_bits} max_chips={self.max_chips}"
                f"{tiles}{cfg}>")

    def check(self, network: TernaryNetwork) -> None:
        """Raise TargetLimitError naming the limit, layer and value the network breaks."""
        require_network(network, "loihi2: check")
        check_limits(network, self.spec, max_chips=self.max_chips, weight_bits=self.weight_bits)

    def compile(self, network: TernaryNetwork) -> Compiled:
        # check_limits maps the network to check it: that mapping is the compiled one
        require_network(network, "loihi2: compile")
        mapping = check_limits(network, self.spec, max_chips=self.max_chips, weight_bits=self.weight_bits)
        return Compiled(network=network, mapping=mapping)

    def run(self, compiled: Compiled, spikes: np.ndarray, *, record_hidden: bool = False) -> RunResult:
        from .runtime import run_lava  # Lava is imported here, not at package import

        if not isinstance(compiled, Compiled):
            raise TypeError(f"loihi2: run() needs what compile() returned, got {type(compiled).__name__}")
        network = compiled.network
        spikes = check_spikes(network, spikes)
        n = spikes.shape[0]
        if n == 0:
            hidden = [np.zeros((0, h.weights.shape[0]), np.uint8) for h in network.hidden] if record_hidden else None
            # L steps, as every target counts an empty run (n + L on the pipelined reference)
            return RunResult(np.zeros((0, network.n_classes), np.int64), hidden, network.n_weight_layers,
                             {"mode": self.mode})
        tiles = self.tiles or default_tiles(network, n)
        scores, hidden, info = run_lava(
            compiled.mapping, spikes, mode=self.mode, tiles=tiles, record_hidden=record_hidden, run_cfg=self.run_cfg
        )
        return RunResult(scores=scores, hidden_spikes=hidden, steps=info["steps"], info=info)

    def resources(self, network: TernaryNetwork) -> dict:
        """Cores, neurons, synapses and synaptic memory per layer and in total (no Lava needed)."""
        return network_resources(require_network(network, "loihi2: resources"), self.spec, self.weight_bits)


def export_nir(network: TernaryNetwork | str | os.PathLike, path) -> Path:
    """Write the network (or the model file at a path) as a NIR graph (HDF5). See :mod:`.export`."""
    from .export import export_nir as _export

    return _export(as_network(network, "export_nir"), path)


def check_netx(network: TernaryNetwork | str | os.PathLike) -> None:
    """Raise TargetLimitError if :func:`export_netx` would refuse ``network`` (a network or a model file's
    path; writes nothing)."""
    from .export import check_netx as _check

    _check(as_network(network, "check_netx"))


def export_netx(network: TernaryNetwork | str | os.PathLike, path) -> Path:
    """Write the network (or the model file at a path) as a lava-dl netx HDF5 file. See :mod:`.export`."""
    from .export import export_netx as _export

    return _export(as_network(network, "export_netx"), path)
