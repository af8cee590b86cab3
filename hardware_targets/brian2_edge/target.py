"""The Brian2 edge target: a network as Brian2 groups and synapses, run pipelined.

Mapping (one Brian2 object per concept, all on one explicit clock of step ``dt``)::

    input spikes   SpikeGeneratorGroup  "input"      sample t fires at step t
    hidden layer l NeuronGroup          "hidden{l}"  v : 1, T : 1 (constant); threshold v >= T
    weight layer   Synapses             "synapses{l}_p1", "synapses{l}_m1", ...: one per weight value,
                                        on_pre: v_post += 1 (resp. -1, ...); with weight noise a single
                                        "synapses{l}" with w : 1 (constant), on_pre: v_post += w
    output layer   NeuronGroup          "output"     v : 1 (no threshold); scores = v + b
    forgetting     run_regularly("v = 0", when="before_synapses") on every layer

Within one step Brian2 runs the slots ``start -> thresholds -> before_synapses ->
synapses``: a layer compares the drive it received during the previous step with
its thresholds, forgets it, then receives this step's spikes. So each weight
layer adds exactly one step of delay, neurons are memoryless, and one sample
enters per step: sample ``t``'s hidden layer ``l`` (0-based) fires at step
``t + l + 1`` and its scores sit in the output's ``v`` at the start of step
``t + L``. N samples take ``N + L`` steps in ONE ``Network.run``.

State is float64 holding integers; every sum is an integer far below 2**53, so
with non-idealities off the run is bit-exact.
"""

from __future__ import annotations

import math
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from connttra_neuro._signals import ctrl_c_deferred
from connttra_neuro.network import TernaryNetwork, require_network

from ..base import RunResult, Target, TargetLimitError, check_spikes, is_positive_int, network_counts, tiles_within
from ._session import CODEGENS, brian2_session, default_cache_dir
from .noise import EdgeNoise, NoisyLayer, apply_noise

__all__ = ["Brian2Target", "Brian2Program"]

#: default simulation step in milliseconds (Brian2's own default ``defaultclock.dt`` is 0.1 ms)
DEFAULT_DT_MS = 0.1
#: the smallest step (ms) each code generation runs exactly. Brian2 keeps time in seconds (dt / 1000):
#: numpy's input table (a TimedArray) computes 8 / dt, which overflows below 8 / float64's largest
#: number; cython's clock needs dt a normal float64 (a subnormal one, 1e-318 ms, ran a step too many).
MIN_DT_MS = {"numpy": 8e3 / sys.float_info.max, "cython": 1e3 * sys.float_info.min}
#: the largest step (ms): the shortest run (1 sample, 1 weight layer) takes 2 steps, whose simulated
#: time must be a float64; a longer run is checked against its own length (Brian2Target.run)
MAX_DT_MS = sys.float_info.max / 2
#: float64 holds every integer below 2**53 exactly; a layer's largest |drive| must stay below it
FLOAT64_EXACT_INT = 2**53
#: automatic tiling: one copy of the network per this many samples, at most MAX_AUTO_TILES copies.
#: Brian2 spends ~100-300 us of Python per step whatever the size, so fewer, wider steps win, until the
#: tiled synapse arrays fall out of the CPU cache (measured best at 8 copies for 784-256-10, numpy).
SAMPLES_PER_TILE = 256
MAX_AUTO_TILES = 8
#: ... and no more copies than keep the synapses of all of them under this: Brian2 holds about 55 bytes per
#: synapse of every copy (8 copies of a random 4096-2048-10 network: 2.0 GB against 0.5 GB for one, and no
#: faster, since a large network's time is its synaptic events). 784-256-10 and 784-2048-10 keep their 8.
TILED_SYNAPSES = 2**24


def default_tiles(network: TernaryNetwork, n: int) -> int:
    """Copies of ``network`` a run of ``n`` samples uses when ``tiles`` is not given: one per
    ``SAMPLES_PER_TILE`` samples, at most ``MAX_AUTO_TILES``, at most ``TILED_SYNAPSES`` synapses in all."""
    return tiles_within(network, min(MAX_AUTO_TILES, n // SAMPLES_PER_TILE), TILED_SYNAPSES)


@dataclass(frozen=True)
class Brian2Program:
    """A network prepared for Brian2: synapse lists (with device faults applied) and run options."""

    network: TernaryNetwork
    layers: tuple[NoisyLayer, ...]
    codegen: str
    dt_ms: float
    noise: EdgeNoise
    cache_dir: Path
    info: dict = field(default_factory=dict)


def _layer_name(l: int, n_hidden: int) -> str:
    return "output" if l == n_hidden else f"hidden{l}"


@contextmanager
def _run_bar(steps: int):
    """A progress bar on stderr for a run that takes more than 2 s (none for the short ones), fed by
    Brian2's ``report`` callback (called at the start, every ``report_period`` and at the end)."""
    from connttra_neuro._progress import bar as progress_bar

    bar = progress_bar(total=steps, desc="brian2", unit="step", delay=2.0)

    def report(elapsed, completed, start, duration):
        bar.update(max(0, round(float(completed) * steps) - bar.n))

    try:
        yield report
    finally:
        bar.close()


class Brian2Target(Target):
    """Brian2 (runtime device) simulation of the spiking network, as an edge chip would run it.

    Parameters
    ----------
    codegen : {"numpy", "cython"}
        Brian2 code generation. ``"numpy"`` (default) needs no compiler and starts
        at once; ``"cython"`` compiles every code object once (about 2 minutes
        on a cold cache on a 2-core machine, see docs/benchmarks.md), then runs
        about 2x faster.
    dt : float
        Simulation step in milliseconds; sets the simulated-time figures
        (latency = L steps = L * dt ms). Default 0.1 ms. From 4.46e-305 ms (numpy;
        cython: 2.23e-305 ms) up to what keeps a run's simulated time, steps * dt,
        within float64 (1.8e308 ms); a step outside is refused with the range.
    noise : EdgeNoise, optional
        Seeded device non-idealities; ``None`` or all-zero keeps the run exact.
    cache_dir : str or Path, optional
        Where cython keeps compiled code; default ``.cache/brian2`` under the repository root in a
        checkout, else ``$XDG_CACHE_HOME/connttra-neuro/brian2`` (``~/.cache/connttra-neuro/brian2``).
        A folder that cannot be written is an OSError naming it, before anything compiles.
    tiles : int, optional
        Identical copies of the network simulated side by side, each fed one
        sample per step, so ``tiles`` samples enter per step (block-diagonal
        synapses; every copy carries the same device faults). Latency per
        inference stays ``L`` steps. Default: one copy per 256 samples, at most 8.
        Never more copies than samples in a run (a larger value is lowered to it).
    """

    name = "brian2"
    description = "Brian2 edge simulation (numpy or cython code generation), pipelined one sample per step"

    def __init__(
        self,
        codegen: str = "numpy",
        dt: float = DEFAULT_DT_MS,
        noise: EdgeNoise | None = None,
        cache_dir=None,
        tiles: int | None = None,
    ):
        if codegen not in CODEGENS:
            raise ValueError(f"brian2: codegen must be one of {', '.join(CODEGENS)}, got {codegen!r}")
        try:
            if isinstance(dt, bool):
                raise TypeError
            dt = float(dt)
        except (TypeError, ValueError):
            raise ValueError(f"brian2: dt is the step in milliseconds and must be a number, got {dt!r}") from None
        if not math.isfinite(dt) or dt <= 0:
            raise ValueError(f"brian2: dt must be a positive number of milliseconds, got {dt}")
        low, high = MIN_DT_MS[codegen], MAX_DT_MS
        if not low <= dt <= high:  # else Brian2 fails deep inside the first run (an OverflowError in a TimedArray)
            raise ValueError(f"brian2: dt={dt!r} ms is outside the steps Brian2 runs with codegen={codegen!r}: give "
                             f"one from {_three_digits(low, up=True)} to {_three_digits(high, up=False)} ms (beyond "
                             f"them Brian2's clock under- or overflows float64; default {DEFAULT_DT_MS} ms)")
        if isinstance(noise, str):
            noise = EdgeNoise.parse(noise)
        if noise is not None and not isinstance(noise, EdgeNoise):
            raise ValueError(f"brian2: noise must be an EdgeNoise (or its CLI string), got {type(noise).__name__}")
        if tiles is not None and not is_positive_int(tiles):
            raise ValueError(f"brian2: tiles must be a positive integer (or None for automatic), got {tiles!r}")
        self.codegen = codegen
        self.tiles = None if tiles is None else int(tiles)
        self.dt = dt
        self.noise = noise or EdgeNoise()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()

    # -- interface ------------------------------------------------------------
    def check(self, network: TernaryNetwork) -> None:
        """Every integer network fits, unless a drive could exceed float64's exact integers."""
        require_network(network, "brian2: check")
        for name, layer in network.named_layers():
            bound = int(np.abs(layer.weights.astype(np.int64)).sum(axis=1).max())
            extra = layer.biases if hasattr(layer, "biases") else layer.thresholds
            bound += int(np.abs(extra.astype(np.int64)).max())
            if bound >= FLOAT64_EXACT_INT:
                raise TargetLimitError(
                    self.name, "largest possible |drive|", name, bound, f"< 2**53 ({FLOAT64_EXACT_INT})",
                    "Brian2 state is float64, exact only for integers below 2**53",
                )

    def compile(self, network: TernaryNetwork) -> Brian2Program:
        """Check the network, apply the device faults, and (cython) build the code once.

        With ``codegen="cython"`` a one-sample warm-up run compiles every code
        object into the cache here, so :meth:`run` measures simulation only;
        ``info["compile_s"]`` says how long that took (seconds on a warm cache).
        """
        require_network(network, "brian2: compile")
        self.check(network)
        start = time.perf_counter()
        program = Brian2Program(network, tuple(apply_noise(network, self.noise)), self.codegen, self.dt,
                                self.noise, self.cache_dir)
        if self.codegen == "cython":
            from connttra_neuro._progress import bars_hidden, waiting

            # the warm-up run's own step bar would show up only when the compile is over, for a 1-sample run
            with waiting("brian2: cython compiling (the first time for this network's shape takes a minute or two; "
                         "cached afterwards)"), bars_hidden():
                self.run(program, np.zeros((1, network.n_inputs), dtype=np.uint8))
        program.info["compile_s"] = time.perf_counter() - start
        return program

    def run(self, compiled: Brian2Program, spikes: np.ndarray, *, record_hidden: bool = False) -> RunResult:
        """Run all samples through the network in ONE pipelined Brian2 run (``ceil(N / tiles) + L`` steps).

        ``info`` holds the edge figures: latency per inference in steps and ms,
        spikes per inference per layer, synaptic events per inference per weight
        layer, simulated time, and build/run wall times.
        """
        if not isinstance(compiled, Brian2Program):
            raise TypeError(f"brian2: run() needs what compile() returned, got {type(compiled).__name__}")
        network = compiled.network
        s_in = check_spikes(network, spikes)
        n, L = s_in.shape[0], network.n_weight_layers
        tiles = self.tiles or default_tiles(network, n)
        # more copies than samples only adds idle ones: tiles=10**6 for 5 samples tried to allocate GiBs
        tiles = max(1, min(tiles, n))
        per_tile = -(-n // tiles)  # samples each copy handles = steps with input
        steps = per_tile + L
        if not math.isfinite(steps * compiled.dt_ms):  # Brian2 would set its end time to inf and fail in its loop
            raise ValueError(f"brian2: {steps:,} steps of dt={compiled.dt_ms!r} ms last longer than float64 holds "
                             f"({sys.float_info.max:.3g} ms); for this run give dt <= "
                             f"{_three_digits(sys.float_info.max / steps, up=False)} ms, or run fewer samples at once")
        with brian2_session(compiled.codegen, compiled.cache_dir) as b2:
            t0 = time.perf_counter()
            with ctrl_c_deferred():  # a Ctrl-C in Brian2's weakref callbacks was printed and lost
                net, monitors = _build(b2, compiled, s_in, tiles)
            t1 = time.perf_counter()
            with _run_bar(steps) as report:  # 40 s for 60,000 samples with nothing shown, before
                net.run(steps * compiled.dt_ms * b2.ms, namespace={}, report=report, report_period=1 * b2.second)
            t2 = time.perf_counter()
            recorded_v = np.asarray(monitors["output"].v_)  # (classes, steps)
            hidden_events = [(np.asarray(m.i[:]), np.asarray(m.t_[:])) for m in monitors["hidden"]]
            del net, monitors
        if recorded_v.shape[1] != steps:
            raise RuntimeError(f"brian2: simulated {recorded_v.shape[1]} steps, expected {steps}")
        scores = _read_scores(recorded_v, network, n, tiles, compiled.noise)
        hidden = _hidden_spikes(hidden_events, network, n, tiles, compiled.dt_ms)
        info = {
            "codegen": compiled.codegen,
            "dt_ms": compiled.dt_ms,
            "noise": compiled.noise.as_dict(),
            "exact": not compiled.noise.active,
            "tiles": tiles,
            **_edge_figures(s_in, hidden, compiled, steps),
            "build_s": t1 - t0,
            "run_s": t2 - t1,
            "samples_per_s": n / (t2 - t0) if t2 > t0 else float("inf"),
        }
        return RunResult(scores=scores, hidden_spikes=hidden if record_hidden else None, steps=steps, info=info)

    def resources(self, network: TernaryNetwork) -> dict:
        """Neurons, synapses, and the edge latency model (steps and ms per inference)."""
        counts = network_counts(require_network(network, "brian2: resources"))
        L = network.n_weight_layers
        counts.update(
            {
                "target": self.name,
                "codegen": self.codegen,
                "dt_ms": self.dt,
                "latency_steps": L,
                "latency_ms": _ms(L * self.dt),
                "tiles": self.tiles or "auto",
                "samples_per_step_per_tile": 1,
                "max_synaptic_events_per_inference": counts["synapses"],
                "noise": self.noise.as_dict(),
            }
        )
        return counts

    def __repr__(self) -> str:
        noise = f", noise={self.noise}" if self.noise.active else ""
        return f"<Brian2Target codegen={self.codegen!r} dt={self.dt:g} ms{noise}>"


def _ms(value: float) -> float:
    """A time in ms to 12 significant digits: 3 * 0.1 is 0.30000000000000004 (12 decimals instead
    made every latency below 5e-13 ms 0.0)."""
    return float(f"{value:.12g}")


def _three_digits(x: float, up: bool) -> str:
    """``x`` to 3 significant digits, rounded up (a lower bound) or down (an upper one): a value inside the
    range a message states then works (4.45e-305 is just below the smallest numpy step, 4.4501...e-305)."""
    shown = float(f"{x:.3g}")
    if (shown < x) if up else (shown >= x):  # >=: steps * (max / steps) can round up to inf
        unit = 10.0 ** (math.floor(math.log10(x)) - 2)
        shown = float(f"{shown + unit if up else shown - unit:.3g}")
    return f"{shown:.3g}"


# -- building and reading the Brian2 network -----------------------------------------
def _tile_layer(layer: NoisyLayer, tiles: int, n_pre: int, n_post: int):
    """Block-diagonal copies of one layer's synapses (copy j: neurons j*n .. j*n + n-1)."""
    offsets = np.arange(tiles, dtype=np.int64)[:, None]
    pre = (layer.pre[None, :] + offsets * n_pre).ravel()  # stays grouped by presynaptic neuron
    post = (layer.post[None, :] + offsets * n_post).ravel()
    thresholds = None if layer.thresholds is None else np.tile(layer.thresholds, tiles)
    return pre, post, np.tile(layer.weights, tiles), thresholds


def _build(b2, program: Brian2Program, s_in: np.ndarray, tiles: int):
    """The Brian2 objects for one run. Names are fixed so cython finds its cached code again.

    Sample ``t`` goes to copy ``t % tiles`` at step ``t // tiles``.
    """
    network = program.network
    dt_s = program.dt_ms * 1e-3
    clock = b2.Clock(dt=program.dt_ms * b2.ms, name="connttra_clock")
    n, F = s_in.shape
    per_tile = -(-n // tiles)
    padded = np.zeros((per_tile * tiles, F), dtype=np.uint8)
    padded[:n] = s_in
    s_in = padded.reshape(per_tile, tiles * F)  # row = step, column = copy * F + input
    if program.codegen == "numpy":
        # numpy's SpikeGeneratorGroup slows down with the total spike count (1.7 ms/step at 10k samples);
        # a TimedArray lookup per step costs the same whatever the run length
        table = np.zeros((s_in.shape[0] + network.n_weight_layers, s_in.shape[1]), dtype=np.float64)
        table[: s_in.shape[0]] = s_in  # rows past the last sample stay silent (TimedArray repeats its last row)
        stimulus = b2.TimedArray(table, dt=program.dt_ms * b2.ms, name="input_table")
        source = b2.NeuronGroup(s_in.shape[1], "", threshold="input_table(t, i) > 0.5", clock=clock,
                                name="input", namespace={"input_table": stimulus})
    else:
        sample, neuron = np.nonzero(s_in)  # row-major: already sorted by time
        source = b2.SpikeGeneratorGroup(s_in.shape[1], neuron.astype(np.int32), sample * dt_s * b2.second,
                                        clock=clock, sorted=True, name="input")
    objects = [source]
    monitors = {"hidden": []}
    pre_group = source
    n_hidden = len(network.hidden)
    for l, layer in enumerate(program.layers):
        n_pre, n_post = network.layer_sizes[l], network.layer_sizes[l + 1]
        pre, post, weights, thresholds = _tile_layer(layer, tiles, n_pre, n_post)
        size = n_post * tiles
        name = _layer_name(l, n_hidden)
        if thresholds is not None:
            # no reset: forgetting is the run_regularly below (a reset="" would still compile an empty Resetter)
            group = b2.NeuronGroup(size, "v : 1\nT : 1 (constant)", threshold="v >= T", clock=clock, name=name)
            group.T = thresholds
            spikes = b2.SpikeMonitor(group, variables=[], record=True, name=f"{name}_spikes")
            monitors["hidden"].append(spikes)
            objects.append(spikes)
        else:
            group = b2.NeuronGroup(size, "v : 1", clock=clock, name=name)
            scores = b2.StateMonitor(group, "v", record=True, when="start", clock=clock, name="output_scores")
            monitors["output"] = scores
            objects.append(scores)
        # memoryless: forget after the threshold test, before this step's spikes arrive
        group.run_regularly("v = 0", when="before_synapses", name=f"{name}_forget")
        objects.append(group)
        # Brian2 cannot connect an empty synapse list: a layer with no conducting synapse just gets no Synapses
        objects.extend(_synapses(b2, pre_group, group, pre, post, weights, clock, f"synapses{l}",
                                 integer_weights=program.noise.weight_sigma == 0))
        pre_group = group
    return b2.Network(*objects, name="connttra_network"), monitors


def _synapses(b2, source, target, pre, post, weights, clock, name: str, integer_weights: bool) -> list:
    """Synapses delivering ``v_post += w``.

    Integer weights get one Synapses object per distinct value with the value
    written into ``on_pre`` (``v_post += -1.0``; a float literal, because numpy's
    ``add.at`` takes its fast path only when the dtypes match): no per-synapse
    weight to read, and ``add.at`` with a scalar is ~3x faster than with an array.
    Varied (noisy) weights need the per-synapse variable ``w``.
    """
    if integer_weights:
        out = []
        for value in np.unique(weights):
            chosen = weights == value
            label = f"{'p' if value > 0 else 'm'}{abs(int(value))}"
            synapses = b2.Synapses(
                source, target, on_pre=f"v_post += {float(value)!r}", clock=clock, name=f"{name}_{label}"
            )
            synapses.connect(i=pre[chosen], j=post[chosen])
            out.append(synapses)
        return out
    if not pre.size:
        return []
    synapses = b2.Synapses(source, target, "w : 1 (constant)", on_pre="v_post += w", clock=clock, name=name)
    synapses.connect(i=pre, j=post)
    synapses.w = weights
    return [synapses]


def _read_scores(recorded_v: np.ndarray, network: TernaryNetwork, n: int, tiles: int, noise: EdgeNoise) -> np.ndarray:
    """Sample t's scores are its copy's output drive at the start of step t // tiles + L, plus the biases."""
    L, C = network.n_weight_layers, network.n_classes
    per_tile = -(-n // tiles)
    # rows: copy * C + class; columns: steps -> (step, copy, class) -> sample = step * tiles + copy
    drive = recorded_v[:, L : L + per_tile].reshape(tiles, C, per_tile).transpose(2, 0, 1).reshape(-1, C)[:n]
    if noise.integer_scores:
        rounded = np.rint(drive)
        if not np.array_equal(rounded, drive):
            raise RuntimeError("brian2: integer drive came back non-integral; exactness is broken")
        return rounded.astype(np.int64) + network.output.biases.astype(np.int64)[None, :]
    return drive + network.output.biases.astype(np.float64)[None, :]


_EVENT_BLOCK = 2**18  # spike events turned into sample rows per block (about 40 bytes of temporaries each)


def _hidden_spikes(events, network: TernaryNetwork, n: int, tiles: int, dt_ms: float) -> list[np.ndarray]:
    """Per-sample spikes of each hidden layer; drops what the empty pipeline emitted before and after.

    The events are read in blocks: all at once, their int64 and float64 temporaries took about 43 bytes
    per event (2.7 GB at peak for the 63 million spikes of 60,000 samples through 2,048 neurons)."""
    dt_s = dt_ms * 1e-3
    per_tile = -(-n // tiles)
    out = []
    for l, (index, t) in enumerate(events):
        size = network.layer_sizes[l + 1]
        spikes = np.zeros((n, size), dtype=np.uint8)
        for a in range(0, len(index), _EVENT_BLOCK):
            # hidden layer l holds what entered l+1 steps ago
            step = np.rint(t[a : a + _EVENT_BLOCK] / dt_s).astype(np.int64) - (l + 1)
            copy, neuron = np.divmod(index[a : a + _EVENT_BLOCK].astype(np.int64), size)
            sample = step * tiles + copy
            keep = (step >= 0) & (step < per_tile) & (sample < n)
            spikes[sample[keep], neuron[keep]] = 1
        out.append(spikes)
    return out


def _edge_figures(s_in: np.ndarray, hidden: list[np.ndarray], program: Brian2Program, steps: int) -> dict:
    """Latency, spikes and synaptic events per inference, from the spikes the run produced."""
    network = program.network
    n, L = s_in.shape[0], network.n_weight_layers
    per = max(n, 1)
    names = ["input"] + [f"hidden layer {l}" for l in range(len(network.hidden))]
    spike_counts = [s.sum(axis=0, dtype=np.int64) for s in (s_in, *hidden)]  # per presynaptic neuron
    spikes = {name: float(c.sum() / per) for name, c in zip(names, spike_counts, strict=True)}
    # one spike of neuron j costs one event per conducting synapse leaving j
    events = {
        layer_name: float(int(counts @ layer.fan_out) / per)
        for (layer_name, _), counts, layer in zip(network.named_layers(), spike_counts, program.layers, strict=True)
    }
    return {
        "latency_steps": L,
        "latency_ms": _ms(L * program.dt_ms),
        "simulated_ms": steps * program.dt_ms,
        "spikes_per_inference": spikes,
        "hidden_spikes_per_inference": float(sum(v for k, v in spikes.items() if k != "input")),
        "synaptic_events_per_inference": events,
        "total_synaptic_events_per_inference": float(sum(events.values())),
    }
