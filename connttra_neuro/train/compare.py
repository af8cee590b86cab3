"""The paper's comparison: CoNNTrA against float backprop and a straight-through ternary net.

Each method runs in its own *spawned* subprocess (Lava forces ``fork`` globally
elsewhere; ``spawn`` gives each method a clean interpreter), so its peak resident
memory (``VmHWM`` on Linux, ``resource.getrusage`` elsewhere: a spawned child's ``ru_maxrss``
starts at its parent's RSS) is its own. Reported per method: training error,
validation error, model storage bytes, peak training RSS, training time (the paper's
four metrics), plus the per-epoch/sweep history for the time plot.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from .._atomic import write_text

__all__ = ["compare_methods", "format_table", "plot_curves", "write_json", "METHODS"]

METHODS = ("connttra", "connttra-hinge", "connttra-joint", "connttra-xent", "ste", "mlp")
LABELS = {"connttra": "CoNNTrA", "connttra-hinge": "CoNNTrA (hinge)", "connttra-joint": "CoNNTrA (hinge, joint moves)",
          "connttra-xent": "CoNNTrA (xent)",
          "ste": "ternary STE backprop", "mlp": "float64 backprop (MLP)"}


def _status_bytes(field: str) -> int | None:
    """``VmHWM`` (peak resident memory) or ``VmRSS`` (resident now) of this process, from
    ``/proc/self/status`` (Linux); None elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return None


def _peak_rss_bytes() -> int:
    """This process's own peak resident memory. On Linux ``VmHWM``: a spawned child's
    ``ru_maxrss`` starts at its parent's RSS, so it cannot tell a method's memory from the
    benchmark driver's."""
    peak = _status_bytes("VmHWM")
    if peak is not None:
        return peak
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)  # Linux reports KiB


class _TrainingMemory:
    """The memory training itself takes: its peak RSS minus the RSS when it starts, so the
    interpreter, the libraries a method imports and the loaded data (which differ between methods
    and dwarf the training on small sets) are not counted. Linux resets the peak mark on writing
    5 to ``/proc/self/clear_refs``; the process peak before the reset is kept for ``process_peak``."""

    def __init__(self):
        self._before_peak = _peak_rss_bytes()
        self.rss_at_start = _status_bytes("VmRSS")
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            self._reset = self.rss_at_start is not None
        except OSError:
            self._reset = False
        self.training_bytes = None

    def stop(self) -> None:
        """At the end of training (before any scoring after it)."""
        if self._reset:
            self.training_bytes = max(0, _peak_rss_bytes() - self.rss_at_start)

    def process_peak(self) -> int:
        return max(self._before_peak, _peak_rss_bytes())


def _load(dataset, n_train, n_val, seed):
    if isinstance(dataset, str):
        from connttra_neuro.datasets import load_dataset

        return load_dataset(dataset, n_train=n_train, n_val=n_val, seed=seed)
    return dataset


def _time_to_final(history, tolerance: float = 0.0) -> float:
    """Seconds until the validation error first reached its final value (plus ``tolerance``)."""
    final = history[-1]["val_error"] + tolerance
    return next(r["seconds"] for r in history if r["val_error"] is not None and r["val_error"] <= final)


MIN_BASELINE_STEPS = 1000  # the backprop baselines' default budget gives them at least this many Adam steps


def default_epochs(n_train: int, batch_size: int = 128) -> int:
    """Epochs of the backprop baselines when none are given: 30, or enough for ``MIN_BASELINE_STEPS``
    mini-batch steps on a small training set (30 epochs of iris are 30 steps, which leave a float MLP
    near chance: 23-37% validation error against 3-7% with 1,000 steps, seeds 0-2)."""
    return max(30, math.ceil(MIN_BASELINE_STEPS / math.ceil(max(1, n_train) / batch_size)))


def _time_per_step(history, start: float = 0.0) -> float:
    """Median seconds per sweep (CoNNTrA) or epoch (backprop) on the training clock (scoring excluded);
    ``start``: where the steps' clock began (after a layer-wise start's stages)."""
    t = np.array([start] + [r["seconds"] for r in history])
    return float(np.median(np.diff(t))) if t.size > 1 else 0.0


def standard_error(error: float, n: int) -> float:
    """Sampling standard error of an error rate measured on ``n`` samples, ``sqrt(p (1 - p) / n)``:
    how far two equally good networks' validation errors lie apart by chance."""
    return float(np.sqrt(error * (1 - error) / n))


FAMILY_OF = {"connttra": "connttra", "connttra-hinge": "connttra", "connttra-joint": "connttra",
             "connttra-xent": "connttra", "ste": "ste", "mlp": "mlp"}
# what a CoNNTrA method's name fixes, over any shared or family setting
FIXED = {"connttra-hinge": {"loss": "hinge"}, "connttra-joint": {"loss": "hinge", "joint_moves": True},
         "connttra-xent": {"loss": "xent"}}
SETTINGS = frozenset({"hidden", "levels", "discrete_set", "loss", "max_sweeps", "max_seconds", "batch_size", "tol",
                      "epochs", "seed", "n_train", "n_val", "jitter", "coordinate_order", "joint_moves", "margin",
                      "temperature", "init_density", "lr", "alpha", "layerwise"})


def method_settings(method: str, settings: dict) -> dict:
    """The settings one method trains with: the shared ones, overridden by those under its
    family's name (``connttra``, ``ste`` or ``mlp``), e.g. ``ste={"lr": 0.1, "epochs": 40}``:
    each method's own tuned hyperparameter and budget (bench/tune.py); then what the method's
    name fixes (``FIXED``). An unknown name is an error (a misspelt override would silently
    leave a method untuned)."""
    own = settings.get(FAMILY_OF.get(method, method)) or {}
    if not isinstance(own, dict):
        raise ValueError(f"settings for {method!r} must be a dict of overrides, got {own!r}")
    merged = {**{k: v for k, v in settings.items() if k not in FAMILY_OF.values()}, **own}
    unknown = sorted(set(merged) - SETTINGS)
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown} for {method}; known: {sorted(SETTINGS)}")
    return {**merged, **FIXED.get(method, {})}


def check_settings(method: str, settings: dict) -> None:
    """Every value ``method`` would train with, checked before anything trains (a bad value found
    inside a method's subprocess would lose the methods that trained before it)."""
    from .estimator import CoNNTrA
    from .losses import resolve_loss

    merged = method_settings(method, settings)
    family = FAMILY_OF[method]
    est = CoNNTrA(hidden=merged.get("hidden", (64,)), discrete_set=merged.get("discrete_set", (-1, 0, 1)),
                  random_state=merged.get("seed", 0), **_given(merged, "max_sweeps", "batch_size", "jitter",
                                                               "coordinate_order", "joint_moves",
                                                               "init_density"))
    hidden, _, _ = est.check_params()  # also the shared hidden widths and seed of the backprop baselines
    levels = merged.get("levels", 1)
    if isinstance(levels, bool) or int(levels) != levels or levels < 1:
        raise ValueError(f"levels must be a positive integer, got {levels!r}")
    budget = "max_sweeps" if family == "connttra" else "epochs"
    value = merged.get(budget, 30)
    if isinstance(value, bool) or int(value) != value or value < 1:
        flag = "--max-sweeps" if budget == "max_sweeps" else "--epochs"
        raise ValueError(f"{budget} ({flag}) of {method} must be a positive integer (the comparison needs at least "
                         f"one sweep or epoch), got {value!r}")
    limit = merged.get("max_seconds")
    if limit is not None and not (np.isfinite(limit) and limit > 0):
        raise ValueError(f"max_seconds (--max-seconds) must be a positive number, got {limit!r}")
    if family == "connttra":
        resolve_loss(merged.get("loss", "hinge"), merged.get("margin"), merged.get("temperature"), hidden[-1])
        stage = merged.get("layerwise")
        if stage is not None and (isinstance(stage, bool) or int(stage) != stage or stage < 1 or len(hidden) < 2):
            raise ValueError(f"layerwise (--layerwise) of {method}: each layer's sweeps, a positive integer, for "
                             f"several hidden layers; got {stage!r} with hidden {list(hidden)}")
        if stage is not None and limit is not None:  # the stages' budget is in sweeps: the time limit would not
            raise ValueError(f"layerwise (--layerwise) of {method} budgets its stages in sweeps, so max_seconds "
                             f"(--max-seconds) would not hold CoNNTrA to the other methods' time; give one of them")
    lr, alpha = merged.get("lr"), merged.get("alpha")
    if family == "ste" and lr is not None and (isinstance(lr, bool) or not (np.isfinite(lr) and lr > 0)):
        raise ValueError(f"lr (--ste-lr) of {method} must be a positive number, got {lr!r}")
    if family == "mlp" and alpha is not None and (isinstance(alpha, bool) or not (np.isfinite(alpha) and alpha >= 0)):
        raise ValueError(f"alpha (--mlp-alpha) of {method} must be a non-negative number, got {alpha!r}")


def _warm_up_rows(y: np.ndarray, n: int = 20) -> np.ndarray:
    """A few training rows holding every class (the first ``n`` may hold one class: sorted data)."""
    return np.union1d(np.unique(y, return_index=True)[1], np.arange(min(n, len(y))))


def _given(settings: dict, *names) -> dict:
    """The ``names`` that ``settings`` sets (not None): passed on, so the trainer's defaults apply otherwise."""
    return {k: settings[k] for k in names if settings.get(k) is not None}


def _run_one(method: str, dataset, settings: dict, bar: bool = False) -> dict:
    """Train one method in this process and measure it (runs inside the spawned child). ``bar``: a
    progress bar on stderr (the child's is the parent's), updated off the clock after each sweep or epoch."""
    from connttra_neuro import modelfile

    settings = method_settings(method, settings)

    data = _load(dataset, settings.get("n_train"), settings.get("n_val"), settings.get("seed", 0))
    X, y, Xv, yv = data.X_train, data.y_train, data.X_val, data.y_val
    hidden = tuple(settings.get("hidden", (64,)))
    levels = int(settings.get("levels", 1))
    seed = int(settings.get("seed", 0))
    result = {"method": method, "label": LABELS.get(method, method), "dataset": getattr(data, "name", str(dataset)),
              "n_train": int(len(y)), "n_val": int(len(yv)), "n_features": int(X.shape[1]),
              "hidden": list(hidden), "levels": levels}
    if method.startswith("connttra"):
        from .estimator import CoNNTrA

        loss = settings.get("loss", "hinge")
        extra = _given(settings, "jitter", "coordinate_order", "joint_moves", "margin", "temperature",
                       "init_density")

        def make(**kw):
            return CoNNTrA(hidden=hidden, levels=levels, discrete_set=settings.get("discrete_set", (-1, 0, 1)),
                           loss=loss, random_state=seed, keep_best=False, **extra, **kw)
        with warnings.catch_warnings():  # load the numba kernels (from the on-disk cache) before timing
            warnings.simplefilter("ignore")
            rows = _warm_up_rows(y)
            make(max_sweeps=1).fit(X[rows], y[rows])
        stages = settings.get("layerwise")
        progress = _bar(method, settings.get("max_sweeps", 30), "sweep") if bar else None  # before the clock
        memory = _TrainingMemory()
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start, stage_seconds = None, {}
            if stages is not None:  # each layer alone first (layerwise_init); its sweeps count on the clock
                from .layerwise import layerwise_init

                def stage_done(layer, record):
                    stage_seconds[layer] = record["seconds"]  # each stage's own clock, from 0
                start = layerwise_init(make(max_sweeps=int(stages), batch_size=settings.get("batch_size"),
                                            tol=settings.get("tol", 1e-4)),
                                       X, y, validation=(Xv, yv), callback=stage_done)
            est = make(max_sweeps=settings.get("max_sweeps", 30), max_seconds=settings.get("max_seconds"),
                       batch_size=settings.get("batch_size"), tol=settings.get("tol", 1e-4))
            est.fit(X, y, validation=(Xv, yv), init_network=start,  # the callback runs off the clock
                    callback=None if progress is None else lambda _est, record, _net: progress(record))
        seconds = time.perf_counter() - t0
        if progress is not None:
            progress.close()
        memory.stop()
        net = est.network_
        offset = sum(stage_seconds.values())  # the joint sweeps' clock starts where the stages' ended
        history = [{**r, "seconds": r["seconds"] + offset} for r in est.history_[1:]]
        if stages is not None:
            result.update(layerwise=int(stages), layerwise_seconds=offset, label=f"{result['label']}, layer by layer")
        result.update(loss=loss, sweeps=est.n_sweeps_, converged=bool(est.converged_),
                      warnings=[str(w.message) for w in caught])
    elif method == "ste":
        from .baselines import train_ste

        progress = _bar(method, _epochs(settings, len(y)), "epoch") if bar else None
        memory = _TrainingMemory()
        t0 = time.perf_counter()
        net, history = train_ste(X, y, Xv, yv, hidden=hidden, levels=levels, epochs=_epochs(settings, len(y)),
                                 max_seconds=settings.get("max_seconds"), seed=seed, callback=progress,
                                 **_given(settings, "lr"))
        seconds = time.perf_counter() - t0
        if progress is not None:
            progress.close()
        memory.stop()
    elif method == "mlp":
        import sklearn.neural_network  # noqa: F401  imported before the clock, as the other methods' code

        from .baselines import train_mlp

        progress = _bar(method, _epochs(settings, len(y)), "epoch") if bar else None
        memory = _TrainingMemory()
        t0 = time.perf_counter()
        clf, enc, history = train_mlp(X, y, Xv, yv, hidden=hidden, levels=levels, epochs=_epochs(settings, len(y)),
                                      max_seconds=settings.get("max_seconds"), seed=seed, callback=progress,
                                      **_given(settings, "alpha"))
        seconds = time.perf_counter() - t0
        if progress is not None:
            progress.close()
        memory.stop()
        n_params = sum(a.size for a in clf.coefs_) + sum(a.size for a in clf.intercepts_) + enc.thresholds.size
        result.update(train_error=history[-1]["train_error"], val_error=history[-1]["val_error"],
                      model_bytes=8 * int(n_params), n_parameters=int(n_params), model_dtype="float64")
        net = None
    else:
        raise ValueError(f"unknown method {method!r}; choose from {list(METHODS)}")
    if not history:
        raise ValueError(f"{method}: no sweep or epoch finished within max_seconds={settings.get('max_seconds')}; "
                         f"raise it")
    if net is not None:
        from .driver import network_forward

        rep = modelfile.storage_report(net)
        classes = np.unique(y)
        def err(A, b):
            return float(np.mean(classes[np.argmax(network_forward(net, net.encode(A))[2], axis=1)] != b))
        result.update(train_error=err(X, y), val_error=err(Xv, yv), model_bytes=rep["model_parameter_bytes"],
                      model_file_bytes=rep["model_file_bytes"],
                      n_parameters=rep["n_parameters"], model_dtype=f"packed {rep['bits_per_weight']:.2f} bits/weight",
                      model_float32_bytes=rep["model_float32_bytes"], model_float64_bytes=rep["model_float64_bytes"],
                      weights_ratio_float64=rep["weights_ratio_float64"], sparsity=net.sparsity)
    # train time: the training steps' own clock (every method keeps setup and per-step scoring off
    # it); the whole fit's wall time, setup and scoring included, is kept beside it
    result.update(train_seconds=history[-1]["seconds"], wall_seconds=seconds, peak_rss_bytes=memory.process_peak(),
                  rss_before_training_bytes=memory.rss_at_start, training_memory_bytes=memory.training_bytes,
                  history=history, time_to_final_seconds=_time_to_final(history),
                  time_to_final_within_se_seconds=_time_to_final(
                      history, standard_error(history[-1]["val_error"], len(yv))),
                  time_per_step_seconds=_time_per_step(history, result.get("layerwise_seconds", 0.0)))
    return result


def compare_methods(dataset, methods=("connttra", "ste", "mlp"), *, isolate: bool = True, progress=None,
                    bars: bool = False, **settings) -> list[dict]:
    """Train every method on the same data and architecture and measure the four metrics.

    Parameters
    ----------
    dataset : str or Dataset
        A dataset name for ``load_dataset`` (loaded inside each subprocess) or a
        loaded ``Dataset`` (sent to it).
    methods : sequence of str
        From ``METHODS``; ``connttra`` uses ``loss=``, ``connttra-hinge`` / ``connttra-xent`` fix it;
        ``connttra-joint`` is the hinge with ``joint_moves=True``.
    isolate : bool
        Run each method in its own spawned subprocess (needed for a fair peak RSS).
    progress : callable, optional
        ``progress(method)`` before each method starts.
    bars : bool
        A progress bar on stderr per method, updated after each sweep or epoch (off the clock).
    **settings
        ``hidden, levels, discrete_set, loss, max_sweeps, max_seconds, batch_size, tol, epochs,
        seed, n_train, n_val`` (``epochs`` default: ``default_epochs(training samples)``); CoNNTrA
        also ``jitter, coordinate_order, joint_moves, margin, temperature, init_density``, the STE
        network ``lr``, the MLP ``alpha``. A dict under a method's family name overrides the
        shared settings for that method only: ``connttra={...}``, ``ste={...}``, ``mlp={...}``
        (see ``method_settings``).

    Returns
    -------
    list of dict
        Keys ``method, train_error, val_error, model_bytes, peak_rss_bytes, train_seconds,
        history`` and more (``training_memory_bytes``: peak RSS during training minus the RSS at
        its start, None where the peak mark cannot be reset (not Linux); ``time_to_final_seconds``:
        until the validation error first reached its final value;
        ``time_to_final_within_se_seconds``: until it came within one sampling standard error of
        it; ``time_per_step_seconds``: median per sweep or epoch; ``n_train``, ...).
    """
    for method in methods:  # every bad name or setting before anything trains
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose from {list(METHODS)}")
        check_settings(method, settings)
    if not methods:
        raise ValueError(f"no method to compare; choose from {list(METHODS)}")
    results = []
    for method in methods:
        if progress is not None:
            progress(method)
        if isolate:
            results.append(_run_isolated(method, dataset, settings, bars))
        else:
            results.append(_run_one(method, dataset, settings, bars))
    return results


def _bar(method: str, total: int, unit: str):
    """``progress(record)`` for one method's run: a bar on stderr with its validation error (compare
    showed one line per method, then minutes of nothing at full size)."""
    import sys

    from tqdm import tqdm

    bar = tqdm(total=total, desc=f"  {method}", unit=unit, leave=False, file=sys.stderr)

    def progress(record: dict) -> None:
        val = record.get("val_error")
        bar.set_postfix_str(f"val {100 * val:.2f}%" if val is not None else "", refresh=False)
        bar.update(1)

    progress.close = bar.close  # when training ends, at its budget or before (time, convergence)
    return progress


def _run_isolated(method: str, dataset, settings: dict, bar: bool = False) -> dict:
    """``_run_one`` in a fresh spawned process (its own peak RSS). A process that dies is an error,
    never a wait: a ``multiprocessing.Pool`` restarts a worker that dies while starting, forever,
    which is what a script calling this without an ``if __name__ == "__main__":`` guard does
    (spawn re-imports the script, whose top level calls this again)."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            return pool.submit(_run_one, method, dataset, settings, bar).result()
        except BrokenProcessPool:
            raise RuntimeError(
                f"{method}: its subprocess died before returning a result. A script that calls "
                "compare_methods needs its call under `if __name__ == \"__main__\":` (each method runs in a "
                "spawned process, which imports the script again); or pass isolate=False (no separate peak "
                "RSS). Out of memory kills it too."
            ) from None
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM (connttra_neuro._signals) sent to this process alone
            # the worker would train on to the end of its method (minutes at full size) while the pool's exit
            # waited for it, and after a SIGTERM it was left running: end it first
            for worker in list((getattr(pool, "_processes", None) or {}).values()):
                worker.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _epochs(settings: dict, n_train: int) -> int:
    return settings["epochs"] if settings.get("epochs") is not None else default_epochs(n_train)


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def _bytes(n: float) -> str:
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{int(n)} B"


def format_table(results: list[dict]) -> str:
    """Markdown table: method, train error, val error, model bytes, training memory, peak RSS, train time."""
    lines = ["| dataset | method | train error | val error | model bytes | training memory | peak RSS | train time |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        data = f"{r.get('dataset', '')} ({r.get('n_train', '?')}/{r.get('n_val', '?')})"
        grown = r.get("training_memory_bytes")
        lines.append(f"| {data} | {r.get('label', r['method'])} | {100 * r['train_error']:.2f}% | "
                     f"{100 * r['val_error']:.2f}% | {r['model_bytes']:,} ({_bytes(r['model_bytes'])}) | "
                     f"{'-' if grown is None else _mib(grown)} | {_mib(r['peak_rss_bytes'])} | "
                     f"{r['train_seconds']:.1f} s |")
    return "\n".join(lines)


def table_notes(results: list[dict]) -> list[str]:
    """What the table's columns are, printed under it: "model bytes" or "peak RSS" alone would be read
    as something else (the float MLP on raw features, the memory training needs)."""
    levels = sorted({r.get("levels", 1) for r in results})
    mlp = any(r.get("method") == "mlp" for r in results)
    notes = [
        f"Every method trains on the same input: the features' thermometer code ({'/'.join(map(str, levels))} "
        f"level(s) per feature, fitted on the training data)"
        + (", so the float64 MLP is backprop on those spikes, not on the raw features (a raw-feature MLP is "
           "another baseline, often better on small sets)." if mlp else "."),
        "(n/m): training / validation samples. val error: the final network's (nothing chosen on the "
        "validation data). train time: the training steps' own clock (scoring each epoch or sweep off it).",
        "model bytes: every parameter as stored: packed discrete weights, integer thresholds and biases and "
        "the encoder's float64 cut points for the discrete networks"
        + ("; 8 bytes per parameter (the encoder's cut points too) for the MLP." if mlp else "."),
        "training memory: peak resident memory while training minus that at its start; peak RSS: the whole "
        "process's high-water mark (Python, the libraries, numba's first compile, the data), which on small "
        "sets measures mostly those.",
    ]
    return notes


def write_markdown(results: list[dict], path, title: str) -> Path:
    """compare.md: the table and its notes, as printed (written atomically, as every output is)."""
    text = f"{MARKDOWN_HEADING} {title}\n\n{format_table(results)}\n\n" + "\n".join(
        f"* {n}" for n in table_notes(results)) + "\n"
    return write_text(path, text)


MARKDOWN_HEADING = "# Training methods compared:"


def write_json(results: list[dict], path) -> Path:
    """compare.json, atomically: an interrupted write leaves the earlier file, not half of a new one."""
    return write_text(path, json.dumps(results, indent=1, default=float))


def plot_curves(results: list[dict], path, title: str | None = None) -> Path:
    """PNG of validation error against training time, one line per method (and dataset): drawn by
    ``plots.plot_curves``, with ``train --plot``'s picture, so the two plots share their code."""
    from .plots import plot_curves as draw  # matplotlib loads only when a plot is drawn

    return draw(results, path, title)
