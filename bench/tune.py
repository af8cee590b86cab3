"""Benchmark step 1: choose every method's hyperparameter and budget on inner splits.

For each run (a dataset at one size) and seed of the training benchmark
(``bench/_protocol.py``), the seed's *training* set is split 75/25 stratified, twice (the
full-size Fashion-MNIST run: once). Each method trains on the 75% with each of the four
values of its one tuned hyperparameter (CoNNTrA: drive jitter; straight-through network:
learning rate; float MLP: L2 penalty) up to its largest budget, and its error on the 25% is
recorded after every sweep or epoch. Per (run, seed, method) the value and budget with the
lowest score win: the mean over the splits of the mean inner-validation error over the last
five sweeps/epochs up to the budget (ties: the smaller budget, then the smaller value). The
validation data the benchmark reports are never seen here, and every
method gets the same number of candidates.

Writes ``bench/results/tune.json`` (every curve, and the choices ``bench/train.py`` reads)
and the ``tune`` section of docs/benchmarks.md.

Run: ``.venv/bin/python bench/tune.py [--datasets a,b] [--quick]``. Two single-threaded
workers (only errors are recorded here, no timings); about an hour on 2 cores for the
subsampled runs, about as long again for the full-size Fashion-MNIST run.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy/numba load, here and in the spawned workers

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._protocol import (  # noqa: E402
    BUDGET_KEY,
    FAMILIES,
    PARAM,
    RUN,
    RUNS,
    SMOOTH,
    budgets,
    grid,
    n_inputs,
    per_run_text,
    select,
)
from bench._report import machine, write_section  # noqa: E402
from connttra_neuro.train.compare import LABELS  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "tune.json"


def score(curves: list[list[float]], budget: int, window: int = SMOOTH) -> float:
    """Mean over ``curves`` (one per inner split) of the mean error over the last ``window``
    steps up to ``budget``; a curve that stopped early keeps its last value (its network
    does not change any more)."""
    vals = []
    for c in curves:
        c = list(c) + [c[-1]] * max(0, budget - len(c))
        vals.append(float(np.mean(c[max(0, budget - window):budget])))
    return float(np.mean(vals))


def choose(curves_by_value: dict, budget_list) -> dict:
    """The (value, budget) with the lowest ``score``; ties to the smaller budget, then the
    earlier value (dict order). Returns ``{"value", "budget", "score", "scores"}``, ``scores``
    every candidate's ``[value, budget, score]``."""
    table = [[v, b, score(curves, b)] for b in sorted(budget_list) for v, curves in curves_by_value.items()]
    best = min(range(len(table)), key=lambda i: (round(table[i][2], 12), i))
    v, b, s = table[best]
    return {"value": v, "budget": int(b), "score": s, "scores": table}


@functools.lru_cache(maxsize=2)
def _training_set(run: str, seed: int):
    from connttra_neuro.datasets import load_dataset

    kw = {k: v for k, v in RUN[run].shared.items() if k in ("n_train", "n_val")}
    data = load_dataset(RUN[run].loads, seed=seed, **kw)
    return data.X_train, data.y_train


def inner_split(y: np.ndarray, seed: int, split: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(fit, check)`` of a stratified 75/25 split of a seed's training set."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    fit, check = train_test_split(idx, test_size=0.25, stratify=y, random_state=1000 * seed + split)
    return fit, check


def run_task(task: tuple) -> dict:
    """One curve: ``(run, seed, split, family, value, steps)`` -> inner-validation errors per step
    (``dataset`` in the result and in tune.json is the run's name)."""
    dataset, seed, split, family, value, steps = task
    X, y = _training_set(dataset, seed)
    fit, check = inner_split(y, seed, split)
    Xf, yf, Xc, yc = X[fit], y[fit], X[check], y[check]
    shared = RUN[dataset].shared
    hidden, levels = tuple(shared["hidden"]), shared["levels"]
    t0 = time.perf_counter()
    if family == "connttra":
        from connttra_neuro.train import CoNNTrA

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the budget ends every run (ConvergenceWarning)
            est = CoNNTrA(hidden=hidden, levels=levels, jitter=value, max_sweeps=steps, keep_best=False,
                          random_state=seed).fit(Xf, yf, validation=(Xc, yc))
        history = est.history_[1:]
    elif family == "ste":
        from connttra_neuro.train.baselines import train_ste

        _, history = train_ste(Xf, yf, Xc, yc, hidden=hidden, levels=levels, epochs=steps, lr=value, seed=seed)
    else:
        from connttra_neuro.train.baselines import train_mlp

        _, _, history = train_mlp(Xf, yf, Xc, yc, hidden=hidden, levels=levels, epochs=steps, alpha=value, seed=seed)
    return {"dataset": dataset, "seed": seed, "split": split, "method": family, "param": PARAM[family],
            "value": value, "curve": [round(h["val_error"], 6) for h in history],
            "train_error": history[-1]["train_error"], "seconds": round(time.perf_counter() - t0, 2)}


def _key(run) -> tuple:
    """What identifies a curve: dataset, seed, split, method and value (a task tuple or a run dict)."""
    if isinstance(run, dict):
        return run["dataset"], run["seed"], run["split"], run["method"], round(float(run["value"]), 9)
    return run[0], run[1], run[2], run[3], round(float(run[4]), 9)


def tasks_for(runs, quick: bool = False) -> list[tuple]:
    """Every curve of ``runs`` (each its own seeds and splits; ``quick``: the first of each)."""
    tasks = []
    for run in runs:
        seeds, splits = (run.seeds[:1], run.splits[:1]) if quick else (run.seeds, run.splits)
        n_in = n_inputs(run.name, _training_set(run.name, seeds[0])[0].shape[1])
        for seed in seeds:
            for split in splits:
                for family in FAMILIES:
                    steps = max(budgets(family, run.name))
                    tasks += [(run.name, seed, split, family, float(v), steps) for v in grid(family, n_in)]
    return tasks


def choices_from(runs: list[dict]) -> dict:
    """``choices[dataset][str(seed)][family]`` from every recorded curve."""
    by = {}
    for r in runs:
        by.setdefault((r["dataset"], r["seed"], r["method"]), {}).setdefault(r["value"], []).append(r["curve"])
    out = {}
    for (dataset, seed, family), curves in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        # values in grid order (ascending), not in the order the workers finished: a tie goes to the smaller value
        curves = dict(sorted(curves.items()))
        out.setdefault(dataset, {}).setdefault(str(seed), {})[family] = choose(curves, budgets(family, dataset))
    return out


def _fmt(family: str, v: float) -> str:
    return f"{v:.2f}" if family == "connttra" else f"{v:g}"


def _measured(runs: list[dict]) -> str:
    """Where and when the curves were measured: each run's machine line, grouped by method."""
    lines = {}
    for family in FAMILIES:
        for line in sorted({r["measured"] for r in runs if r["method"] == family}):
            lines.setdefault(line, []).append(family)
    if len(lines) == 1:
        return next(iter(lines))
    return "\n".join(f"* {', '.join(fams)}: {line}" for line, fams in lines.items())


def _splits_text() -> str:
    """How many inner splits each run is tuned on, in words."""
    return per_run_text({r.name: r.splits for r in RUNS},
                        lambda splits: {1: "once", 2: "twice"}.get(len(splits), f"{len(splits)} times"))


def markdown(choices: dict, runs: list[dict]) -> str:
    """The ``tune`` section of docs/benchmarks.md; runs in the benchmark's order."""
    choices = {r.name: choices[r.name] for r in RUNS if r.name in choices}
    labels = {f: LABELS["connttra-hinge" if f == "connttra" else f] for f in FAMILIES}  # tuned with its default loss
    unit = {"connttra": "sweeps", "ste": "epochs", "mlp": "epochs"}
    lines = ["| dataset | method | tuned | chosen per seed (value @ budget) | inner-val error of the choice "
             "(mean over seeds) | best inner-val error per value (mean over seeds) |",
             "|---|---|---|---|---:|---|"]
    for dataset, per_seed in choices.items():
        seeds = sorted(per_seed, key=int)
        for family in FAMILIES:
            if any(family not in per_seed[s] for s in seeds):
                continue  # not tuned yet
            picks = [per_seed[s][family] for s in seeds]
            values = sorted(dict.fromkeys(row[0] for row in picks[0]["scores"]))  # not the order runs finished in
            best_per_value = [np.mean([min(r[2] for r in p["scores"] if r[0] == v) for p in picks]) for v in values]
            lines.append(
                f"| {dataset} | {labels[family]} | {PARAM[family]}, {unit[family]} | "
                + ", ".join(f"{_fmt(family, p['value'])} @ {p['budget']}" for p in picks)
                + f" | {100 * np.mean([p['score'] for p in picks]):.2f}% | "
                + ", ".join(f"{_fmt(family, v)}: {100 * e:.2f}%" for v, e in zip(values, best_per_value, strict=True))
                + " |")
    return "\n".join([
        "## Training, step 1: each method's setting, chosen on inner splits (`bench/tune.py`)",
        "",
        _measured(runs),
        "",
        f"Every method gets the same tuning effort: one hyperparameter with four values and a budget from six "
        f"(the same for every method: 20, 30, 40, 60, 80 or 120 sweeps or epochs, on iris 50-300; what a CoNNTrA "
        f"sweep and an epoch cost is measured below, column time per sweep / epoch). For each seed "
        f"of the comparison below, that seed's **training** set is split 75/25 (stratified) {_splits_text()}; each "
        f"candidate trains on the 75% and is scored on the 25% after every sweep or epoch. A candidate's score at a "
        f"budget is the mean inner-validation error over the last {SMOOTH} sweeps/epochs up to it, averaged over the "
        f"splits; the lowest score wins (ties: smaller budget). The benchmark's validation data are never seen "
        f"here. Grids: CoNNTrA drive jitter 1, 1.5, 2, 3 x its default `min(2, sqrt(inputs)/8)`; STE Adam learning "
        f"rate 0.01 (the previous fixed setting), 0.03, 0.1, 0.3; MLP L2 penalty `alpha` 1e-4 (scikit-learn's "
        f"default), 1e-3, 1e-2, 1e-1 (a fourth, larger value for every method after all three had their best at "
        f"the top of a three-value grid on mnist-sample). `bench/train.py` trains each method with its seed's choice.",
        "",
        *lines,
        "",
        "Every curve: `bench/results/tune.json`.",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", help="comma-separated subset (keeps the other datasets' earlier choices)")
    parser.add_argument("--methods", help="comma-separated subset of connttra,ste,mlp (keeps the others' earlier "
                        "curves)")
    parser.add_argument("--quick", action="store_true", help="iris and digits, seed 0, one split (a smoke run; "
                        "writes nothing)")
    parser.add_argument("--reuse", action="store_true", help="keep the earlier curves of runs that are still in the "
                        "grids and run only the missing ones (e.g. after a grid got a new value; the code must "
                        "not have changed since)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--report", action="store_true", help="rewrite the docs section from bench/results/tune.json "
                        "without training")
    args = parser.parse_args()
    if args.report:
        if not RESULTS.exists():
            sys.exit(f"{RESULTS} is missing: run bench/tune.py without --report first")
        saved = json.loads(RESULTS.read_text())
        write_section("tune", markdown(saved["choices"], saved["runs"]))
        return
    selected = select(args.datasets, parser, quick=args.quick)
    families = args.methods.split(",") if args.methods else list(FAMILIES)
    if set(families) - set(FAMILIES):
        parser.error(f"unknown methods {sorted(set(families) - set(FAMILIES))}; choose from {list(FAMILIES)}")
    datasets = [r.name for r in selected]
    tasks = [t for t in tasks_for(selected, quick=args.quick) if t[3] in families]
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() and not args.quick else {"runs": []}
    wanted = {_key(t) for t in tasks}
    kept = [r for r in old["runs"] if (r["dataset"] not in datasets or r["method"] not in families)
            or (args.reuse and _key(r) in wanted)]
    done = {_key(r) for r in kept}
    tasks = [t for t in tasks if _key(t) not in done]
    weight = {"mnist-sample": 3, "fashion-mnist": 3, "fashion-mnist-60k": 30}  # about how long a step takes
    tasks.sort(key=lambda t: -(t[5] * weight.get(t[0], 1)))  # long ones first
    from tqdm import tqdm

    t0 = time.perf_counter()
    runs = []
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(args.workers, maxtasksperchild=40) as pool:
        for r in tqdm(pool.imap_unordered(run_task, tasks), total=len(tasks), desc="tuning", unit="run"):
            runs.append(r)
    print(f"{len(tasks)} runs in {time.perf_counter() - t0:.0f} s", flush=True)
    if args.quick:
        for dataset, per_seed in choices_from(runs).items():
            for seed, picks in per_seed.items():
                print(dataset, seed, {f: (p["value"], p["budget"], round(100 * p["score"], 2))
                                      for f, p in picks.items()})
        return
    measured = machine()
    runs = kept + [dict(r, measured=measured) for r in runs]
    choices = choices_from(runs)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    protocol = {"param": PARAM, "budget_key": BUDGET_KEY, "smooth": SMOOTH,
                "splits": {r.name: list(r.splits) for r in RUNS}}
    RESULTS.write_text(json.dumps({"protocol": protocol, "choices": choices, "runs": runs}, separators=(",", ":")))
    md = markdown(choices, runs)
    print(md)
    write_section("tune", md)


if __name__ == "__main__":
    main()
