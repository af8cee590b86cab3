"""Build, run and stop the Lava process graph of a mapped network.

Imported lazily by :class:`Loihi2Target` when a network runs; with ``lava_models``
the only modules that import Lava.

Process graph for ``T`` tiles (copies of the network, block-diagonal Sparse)::

    RingBuffer --Sparse(W'_1)--> LIFReset_1 --Sparse(W'_2)--> ... --Sparse(W'_L)--> Extractor (scores)
                                    |                                                 (hidden: Extractor
                                    +--> Extractor (hidden spikes, when recorded)      per hidden layer)

Timing (Lava's LoihiProtocol, measured and asserted by the tests): the source
sends column ``c`` of its buffer at step ``c + 1``; every Sparse adds one step,
a LIF adds none, an Extractor reads in the step it is sent to. So hidden layer
``l`` (1-based) emits column ``c`` at step ``c + 1 + l`` and the scores of
column ``c`` arrive at step ``c + 1 + L``. A column holds ``T`` samples, one
per tile; ``ceil(n / T) + L`` steps run ``n`` samples.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import warnings
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp

from connttra_neuro._signals import raise_noted, signals_held, sigterm_raises

from .mapping import DECAY_FULL, NetworkMap

__all__ = ["run_lava", "build_process_graph", "default_run_cfg", "MODES"]

MODES = ("fixed_pt", "floating_pt")
_POLL_S = 0.0005  # s between checks while waiting for the next output step (a step takes ~1 ms or more)


def _clear_start_method_for_lava() -> None:
    """Let Lava's import set the multiprocessing start method.

    lava-nc 0.10.0 calls ``multiprocessing.set_start_method("fork")`` without
    ``force`` when it is first imported, which raises "context has already
    been set" if anything fixed the default context before: numba's parallel
    launch does (its OpenMP layer asks ``get_start_method()``), so training
    with CoNNTrA and then deploying in the same process would fail. Lava runs
    only with fork, so we clear the setting and let Lava set fork; if the
    user had chosen another method we say so rather than change it silently.
    Called by each entry point before its first Lava import, not at this
    module's import: the module can be imported (``import
    hardware_targets.loihi2.runtime``) before a training run fixes the method,
    and Lava itself only when the first network runs.
    """
    if "lava.magma.runtime.message_infrastructure.multiprocessing" in __import__("sys").modules:
        return  # Lava already imported: it set fork itself
    current = multiprocessing.get_start_method(allow_none=True)
    if current is None:
        return
    if current != "fork":
        warnings.warn(
            f"Lava needs the 'fork' multiprocessing start method; changing it from {current!r}",
            RuntimeWarning,
            stacklevel=3,
        )
    multiprocessing.set_start_method(None, force=True)


def default_run_cfg(mode: str):
    """Lava's CPU simulation of Loihi 2: bit-accurate (``fixed_pt``) or float models."""
    _clear_start_method_for_lava()  # the module may be imported long before Lava (see the function)
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.extractor import Extractor, PyLoihiExtractorModel

    # Extractor's models carry no fixed_pt/floating_pt tag: name the synchronous one explicitly
    models = {Extractor: PyLoihiExtractorModel}
    if mode == "fixed_pt":
        from lava.proc.sparse.process import Sparse

        from .lava_models import PySparseModelBitAccMatVec

        models[Sparse] = PySparseModelBitAccMatVec  # same integers as Lava's model, without a CSR copy per step
    return Loihi2SimCfg(select_tag=mode, exception_proc_model_map=models)


def _block_diag(weights: np.ndarray, tiles: int, dtype) -> sp.csr_matrix:
    """``tiles`` copies of ``weights`` on the diagonal (each tile is an independent copy of the layer).

    Built straight from the CSR arrays (scipy's block_diag takes ~0.5 s for 100 copies of 784x256).
    """
    block = sp.csr_matrix(weights.astype(dtype))
    if tiles == 1:
        return block
    r, c = block.shape
    k = np.arange(tiles)[:, None]
    indptr = np.append((block.indptr[:-1][None, :] + k * block.nnz).ravel(), tiles * block.nnz)
    indices = (block.indices[None, :] + k * c).ravel()
    data = np.tile(block.data, tiles)
    return sp.csr_matrix((data, indices, indptr), shape=(tiles * r, tiles * c))


@contextmanager
def _children_ignore_ctrl_c(caught: list):
    """Fork Lava's processes with a SIGINT handler that only takes note.

    A terminal's Ctrl-C goes to the whole foreground process group. Lava's
    children would die of KeyboardInterrupt mid-protocol and the parent's
    ``stop()`` would then wait for them forever (measured: a hang). Children
    forked inside this block inherit a handler that merely records the signal,
    so only the parent reacts: the caller raises KeyboardInterrupt once the
    run has started (``caught`` is not empty), and its ``finally`` stops it.
    """
    global _forking
    # SIGTERM (one that would raise, see connttra_neuro._signals): the parent notes it too, raised once the
    # run has started so its finally stops what was forked (with the default action a kill in this window
    # left 8 processes and 21 segments), while every child goes back to the default action at its fork
    # (_default_sigterm_in_child): a process group's kill stays clean, and stop()'s terminate() is not
    # turned into an exception in a child
    with signals_held(caught, sigterm=True):
        _forking = threading.current_thread() is threading.main_thread()  # (no handlers set elsewhere)
        try:
            yield
        finally:
            _forking = False


_forking = False  # inside _children_ignore_ctrl_c: a child forked now takes SIGTERM's default action
_mask_at_fork: set | None = None  # the forking thread's signal mask before _block_sigterm_for_fork


# SIGTERM is blocked across each fork: a child that got one before its after-fork hook had reset the action (a
# stop's terminate() sent the moment after the fork, on a loaded machine) ran the parent's noting handler, lived
# on waiting for Lava's commands, and Lava's stop joined it forever (measured: 4 hangs in 14 runs under load).
# Blocked, the signal waits in the child until the default action is back, and then ends it.
def _block_sigterm_for_fork() -> None:
    global _mask_at_fork
    if _forking:
        _mask_at_fork = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


def _unblock_sigterm_in_parent() -> None:
    if _forking and _mask_at_fork is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, _mask_at_fork)


def _default_sigterm_in_child() -> None:
    if _forking:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if _mask_at_fork is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, _mask_at_fork)


os.register_at_fork(before=_block_sigterm_for_fork, after_in_parent=_unblock_sigterm_in_parent,
                    after_in_child=_default_sigterm_in_child)


def _actors(runtime) -> list:
    """Lava's OS processes (ProcessModels and runtime services) of a runtime."""
    return list(getattr(getattr(runtime, "_messaging_infrastructure", None), "actors", []) or [])


def _dead_actor_error(runtime) -> RuntimeError | None:
    """An error naming the first Lava process that exited while the run should be going on, if any."""
    for actor in _actors(runtime):
        if not actor.is_alive():
            failure = actor.exception
            detail = f": {failure[0]!r}" if failure else ""
            return RuntimeError(f"loihi2: a Lava process ({actor.name}) exited during the run{detail}")
    return None


def _stop(source, finished: bool = True) -> None:
    """Stop the runtime, whatever state it is in, without hanging.

    Lava's ``stop()`` asks each runtime service to stop and joins every process.
    That hangs when the runtime was created but never started (the processes
    wait for a start command), when a process died mid-run (the service waits
    for its answer forever), and when a run that did not finish (``finished``
    False: an exception, a test's timeout) is stuck in a model that never
    answers. In those cases the processes are terminated first and Lava only
    shuts its shared memory down.
    """
    runtime = source.runtime
    if runtime is None:
        return
    actors = _actors(runtime)
    if (not finished or not getattr(runtime, "_is_started", True)
            or any(not a.is_alive() for a in actors)):
        for actor in actors:
            if actor.is_alive():
                actor.terminate()
        _reap(actors)
        runtime._is_started = False  # skip the stop handshake nobody can answer any more
        runtime.join()  # what stop() would do after the handshake: frees the port threads (does not block)
    source.stop()


_TERMINATE_WAIT_S = 5.0  # s a terminated Lava process gets to end before it is killed


def _reap(actors) -> None:
    """Wait for the terminated processes to end, and kill any that has not within ``_TERMINATE_WAIT_S``:
    Lava's stop joins every one of them, without a timeout, so one that outlived its SIGTERM (see
    ``_block_sigterm_for_fork``; or a model that ignores the signal) hung the stop, and the command, forever.
    Joined through ``BaseProcess.join``: Lava's own ``join`` takes no timeout."""
    from multiprocessing.process import BaseProcess

    deadline = time.monotonic() + _TERMINATE_WAIT_S
    for actor in actors:
        BaseProcess.join(actor, max(0.0, deadline - time.monotonic()))
    for actor in actors:
        if actor.is_alive():
            actor.kill()
            BaseProcess.join(actor, _TERMINATE_WAIT_S)


def _release(taps) -> None:
    """Join this process's end of each Extractor's channel. Lava's stop leaves it, and the thread that
    receives on it waits on the channel's semaphore for good: one thread per Extractor and run, so a
    process that deploys again and again (a test session: about 100 runs) gathered them by the hundred."""
    for tap in taps:
        port = getattr(tap.out_port, "external_pipe_csp_recv_port", None)  # none if the runtime was never made
        if port is not None:
            port.join()


@contextmanager
def _run_bar(steps: int):
    """A progress bar on stderr, by steps whose scores have arrived, for a run that takes more than 2 s
    (60,000 Fashion-MNIST samples through 784-2048-10 ran 20-40 s with nothing shown)."""
    from connttra_neuro._progress import bar as progress_bar

    bar = progress_bar(total=steps, desc="loihi2", unit="step", delay=2.0)
    try:
        yield bar
    finally:
        bar.close()


def _collect(extractor, n_messages: int, width: int, runtime=None, dtype=np.float64, bar=None) -> np.ndarray:
    """Every message an Extractor got, one row per step (stacked on the host, in order), as ``dtype``
    (``bool`` for spikes: a message's non-zero values are True, in 1 byte each instead of float64's 8).

    Waits only while the run is alive: if one of Lava's processes died, or the
    runtime answered (done, or a ProcessModel raised) before all messages came,
    this raises instead of blocking forever on an empty channel.
    """
    out = np.empty((n_messages, width), dtype=dtype)
    port = extractor.out_port.external_pipe_csp_recv_port
    for i in range(n_messages):
        while runtime is not None and not port.probe():
            failure = _dead_actor_error(runtime)  # a crashed model leaves Lava waiting for it forever
            if failure is not None:
                raise failure
            if any(service.probe() for service in runtime.service_to_runtime):
                # The run finished (or failed: wait() raises). Finished means every step's message
                # was sent; this process's channel thread may still be delivering them, so block.
                runtime.wait()
                runtime = None
                break
            time.sleep(_POLL_S)
        out[i] = extractor.receive()
        if bar is not None:
            bar.update(1)
    return out


def build_process_graph(nmap: NetworkMap, data: np.ndarray, *, mode: str, tiles: int, record_hidden: bool,
                        buffer_size: int):
    """Lava processes for ``tiles`` copies of the mapped network, fed by a RingBuffer holding ``data``.

    ``data``: (tiles * n_inputs, columns), time on the last axis. Returns ``(source, score_extractor,
    hidden_extractors)``; each Extractor buffers ``buffer_size`` steps. Nothing runs yet.
    """
    _clear_start_method_for_lava()
    from lava.proc.io.extractor import Extractor
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIFReset
    from lava.proc.sparse.process import Sparse

    fixed = mode == "fixed_pt"
    source = RingBuffer(data=data if fixed else data.astype(np.float64))
    prev = source.s_out
    hidden_taps = []
    for layer in nmap.layers:
        if fixed:
            w = layer.weights
        else:  # float models: the mapped weights without the doubling (W, or W / g with its thresholds)
            w = layer.weights // nmap.weight_scale
        # tiles= reaches the ProcessModel's proc_params (lava_models.py uses it to multiply per tile)
        syn = Sparse(
            weights=_block_diag(w, tiles, np.int32 if fixed else np.float64), tiles=tiles,
            num_weight_bits=nmap.weight_bits,
        )
        prev.connect(syn.s_in)
        n_out = layer.weights.shape[0]
        if layer.kind == "output":
            ex = Extractor(shape=(tiles * n_out,), buffer_size=buffer_size)
            syn.a_out.connect(ex.in_port)
            out_tap = ex
            break
        if fixed:
            bias_mant, bias_exp, vth = np.tile(layer.bias_mant, tiles), layer.bias_exp, layer.vth
            du = dv = DECAY_FULL
        else:  # v = W @ s - T + 0.5 > 0
            bias_mant, bias_exp, vth = np.tile(0.5 - layer.thresholds.astype(np.float64), tiles), 0, 0.0
            du = dv = 1.0
        lif = LIFReset(
            shape=(tiles * n_out,), du=du, dv=dv, vth=vth, bias_mant=bias_mant, bias_exp=bias_exp,
            reset_interval=1, reset_offset=0,
        )
        syn.a_out.connect(lif.a_in)
        if record_hidden:
            tap = Extractor(shape=(tiles * n_out,), buffer_size=buffer_size)
            lif.s_out.connect(tap.in_port)
            hidden_taps.append(tap)
        prev = lif.s_out

    return source, out_tap, hidden_taps


def run_lava(
    nmap: NetworkMap,
    spikes: np.ndarray,
    *,
    mode: str = "fixed_pt",
    tiles: int = 1,
    record_hidden: bool = False,
    run_cfg=None,
) -> tuple[np.ndarray, list[np.ndarray] | None, dict]:
    """Run encoded spikes (n, n_inputs) through Lava; return scores, hidden spikes, info.

    The runtime is stopped in ``finally``: on success, on an exception and on
    KeyboardInterrupt, so no Lava process or shared memory outlives the call.
    """
    _clear_start_method_for_lava()
    from lava.magma.core.run_conditions import RunSteps

    if mode not in MODES:
        raise ValueError(f"loihi2: mode must be one of {MODES}, got {mode!r}")
    fixed = mode == "fixed_pt"
    t0 = time.perf_counter()
    n = spikes.shape[0]
    n_in = nmap.n_inputs
    L = len(nmap.layers)
    tiles = max(1, min(int(tiles), n))
    cols = -(-n // tiles)
    steps = cols + L
    # column c holds samples c*T .. c*T+T-1, tile j reads sample c*T + j
    # written straight into the (T*n_in, cols) int32 array the source holds (time is the last axis): a padded
    # int32 copy of the input on the way doubled its memory (2 x 188 MB for 60,000 x 784 samples)
    data = np.zeros((tiles * n_in, cols), dtype=np.int32)
    by_tile = data.reshape(tiles, n_in, cols)  # by_tile[j, :, c] = sample c*T + j
    full = n // tiles  # columns every tile has a sample for
    by_tile[:, :, :full] = np.asarray(spikes[:full * tiles]).reshape(full, tiles, n_in).transpose(1, 2, 0)
    if n > full * tiles:  # the last column: the first n - full*T tiles have a sample, the rest stay silent
        by_tile[:n - full * tiles, :, full] = spikes[full * tiles:]

    source, out_tap, hidden_taps = build_process_graph(
        nmap, data, mode=mode, tiles=tiles, record_hidden=record_hidden, buffer_size=steps + 1
    )

    run_cfg = run_cfg if run_cfg is not None else default_run_cfg(mode)
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    interrupted: list = []
    late: list = []  # signals while stopping: deferred until the stop is done
    finished = False
    with sigterm_raises():
        try:
            with _children_ignore_ctrl_c(interrupted):
                source.create_runtime(run_cfg=run_cfg)  # compiles and forks one OS process per Lava Process
            source.run(condition=RunSteps(num_steps=steps, blocking=False))
            raise_noted(interrupted)  # Ctrl-C or SIGTERM while the processes were forked: stop now that stop() can
            # stream while Lava runs: each Extractor's buffer holds every step, so nothing blocks
            with _run_bar(steps) as bar:  # the scores arrive step by step while Lava runs
                raw_scores = _collect(out_tap, steps, out_tap.in_port.shape[0], source.runtime, bar=bar)
            # spikes as bool: float64 rows were 8 bytes per neuron and sample (1 GB for 60,000 samples x 2,048)
            raw_hidden = [_collect(tap, steps, tap.in_port.shape[0], source.runtime, dtype=bool) for tap in hidden_taps]
            source.wait()
            finished = True
        finally:
            # a second Ctrl-C must not cut the stop short (it left Lava's manager and segments behind)
            with signals_held(late, sigterm=True):
                _stop(source, finished)  # a run that did not finish may be stuck: its processes are terminated
                _release([out_tap, *hidden_taps])
            # a signal that came while stopping is the user's, raised here, in the finally: after a Ctrl-C (or
            # an error) it replaces the exception in flight, so a SIGTERM then still exits 143, not 130
            raise_noted(late)
    run_s = time.perf_counter() - t1

    C = nmap.layers[-1].weights.shape[0]
    a = raw_scores[L : L + cols]  # scores of column c arrive at step c + 1 + L (message index c + L)
    a = np.rint(a).astype(np.int64).reshape(cols * tiles, C)[:n]
    if fixed:
        a //= nmap.weight_scale  # undo the weight scaling (exact: every scaled weight is a multiple)
    out = nmap.layers[-1]
    scores = out.unit * a + out.offset[None, :]  # the common weight factor divided out by the mapping
    hidden = None
    if record_hidden:
        hidden = []
        for l, (got, layer) in enumerate(zip(raw_hidden, nmap.layers[:-1], strict=True), start=1):
            s = got[l : l + cols].reshape(cols * tiles, layer.weights.shape[0])[:n]
            hidden.append(s.astype(np.uint8))  # bool: a non-zero spike value is True
    info = {"mode": mode, "tiles": tiles, "build_s": build_s, "run_s": run_s, "processes": 2 * L + len(hidden_taps) + 1}
    return scores, hidden, {**info, "steps": steps}
