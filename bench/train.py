"""Benchmark: CoNNTrA against float64 backprop and ternary straight-through backprop.

Writes the ``train`` section of docs/benchmarks.md (the paper's four metrics per
method and dataset, plus the hinge vs cross-entropy loss comparison), and
``docs/figures/train_<dataset>.png`` / ``bench/results/train.json``.

Run ``bench/tune.py`` first: every method trains with its own hyperparameter and budget,
chosen per dataset and seed on inner splits of that seed's training data
(``bench/results/tune.json``). Run: ``.venv/bin/python bench/train.py [--quick]``. Every
method runs in its own spawned subprocess (fair peak RSS). Five seeds per method (three
left standard deviations of 0.3-1.5 points, larger than the differences the goals judge),
three on the full-size Fashion-MNIST run (``bench/_protocol.RUNS``); the whole run takes
about 70-75 minutes on 2 cores (4,519 s on 2026-12-07), most of it the full-size run (`--quick`: iris and
digits, one seed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._protocol import BUDGET_KEY, FAMILIES, PARAM, RUN, per_run_text, select, settings_for  # noqa: E402
from bench._report import machine, write_section  # noqa: E402
from connttra_neuro.train.compare import compare_methods, plot_curves, standard_error  # noqa: E402

TUNED = ROOT / "bench" / "results" / "tune.json"  # each method's setting per dataset and seed (bench/tune.py)
FIGURES = ROOT / "docs" / "figures"
RESULTS = ROOT / "bench" / "results" / "train.json"  # every run, with its history: report() renders it
DEFAULT_METHOD = "connttra-hinge"  # CoNNTrA with its default loss: the one the goals are judged on


def _warm_numba_cache():
    """Compile the kernels once here (numba's on-disk cache) so no child compiles them; each child then
    only loads them, off its clock (``fit`` warms up first)."""
    from connttra_neuro.train.driver import warm_up_kernels

    warm_up_kernels()


def _mean(rows, key):
    return float(np.mean([r[key] for r in rows]))


def _aggregate(rows: list[dict]) -> list[dict]:
    """One row per (dataset, method): mean (and spread) over the seeds."""
    out = {}
    for r in rows:
        out.setdefault((r["dataset"], r["method"]), []).append(r)
    agg = []
    for (dataset, method), rs in out.items():
        rs = sorted(rs, key=lambda r: r["seed"])  # per-seed lists in seed order: _paired_se pairs them by seed
        val = np.array([r["val_error"] for r in rs])
        agg.append({"dataset": dataset, "method": method, "label": rs[0]["label"], "seeds": len(rs),
                    "seed_list": [r["seed"] for r in rs],
                    "n_train": rs[0]["n_train"], "n_val": rs[0]["n_val"], "train_error": _mean(rs, "train_error"),
                    "val_error": float(val.mean()), "val_error_sd": float(val.std(ddof=1)) if len(rs) > 1 else 0.0,
                    "val_errors": val.tolist(), "model_bytes": rs[0]["model_bytes"],
                    "model_float32_bytes": rs[0].get("model_float32_bytes"),
                    "weights_ratio_float64": rs[0].get("weights_ratio_float64"),
                    "peak_rss_bytes": max(r["peak_rss_bytes"] for r in rs),
                    "training_memory_bytes": max(r["training_memory_bytes"] for r in rs)
                    if all(r.get("training_memory_bytes") is not None for r in rs) else None,
                    "train_seconds": _mean(rs, "train_seconds"),
                    "time_to_final_seconds": _mean(rs, "time_to_final_seconds"),
                    "times_to_final": [r["time_to_final_seconds"] for r in rs],
                    "times_to_final_within_se": [r["time_to_final_within_se_seconds"] for r in rs],
                    "time_to_final_within_se_seconds": _mean(rs, "time_to_final_within_se_seconds"),
                    "time_per_step_seconds": _mean(rs, "time_per_step_seconds"),
                    "sweeps": [r.get("sweeps") for r in rs], "converged": [r.get("converged") for r in rs],
                    "histories": [r.get("history") for r in rs], "loss": rs[0].get("loss")})
    return agg


def _time_to_reach(history, target: float) -> float | None:
    """Seconds until the validation error first reached ``target`` (None: never)."""
    return next((h["seconds"] for h in history if h.get("val_error") is not None and h["val_error"] <= target), None)


def _common_target_line(a: dict, b: dict) -> str | None:
    """How long each of two methods took to reach the other's final validation error, seed by seed
    (context for the time-to-final goal, which penalises a method still improving when the other
    has stopped): ``None`` without per-seed histories."""
    ha, hb = a.get("histories") or [], b.get("histories") or []
    if len(ha) != len(hb) or not ha or any(h is None for h in ha + hb):
        return None

    def reach(hs_from, hs_to):
        got = [_time_to_reach(h, g[-1]["val_error"]) for h, g in zip(hs_from, hs_to, strict=True)]
        done = [t for t in got if t is not None]
        mean = f"{np.mean(done):.2f} s" if done else "-"
        return f"{mean} (reached on {len(done)} of {len(got)} seeds)"

    return (f"time to the other's final val error: {a['label']} to STE's {reach(ha, hb)}, "
            f"STE to {a['label']}'s {reach(hb, ha)}")


def _table(agg: list[dict]) -> str:
    lines = ["| dataset | method | train error | val error (mean ± sd) | val error per seed | model bytes "
             "| training memory | peak RSS | train time | time to final val error | ... within 1 SE of it "
             "| time per sweep / epoch |",
             "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in agg:
        grown = r.get("training_memory_bytes")
        lines.append(f"| {r['dataset']} ({r['n_train']}/{r['n_val']}) | {r['label']} | {100 * r['train_error']:.2f}% | "
                     f"**{100 * r['val_error']:.2f}%** ± {100 * r['val_error_sd']:.2f} | "
                     f"{', '.join(f'{100 * v:.2f}' for v in r['val_errors'])} | {r['model_bytes']:,} | "
                     f"{'-' if grown is None else f'{grown / 2**20:.{1 if grown < 10 * 2**20 else 0}f} MiB'} | "
                     f"{r['peak_rss_bytes'] / 2**20:.0f} MiB | {r['train_seconds']:.1f} s | "
                     f"{r['time_to_final_seconds']:.1f} s | {r['time_to_final_within_se_seconds']:.1f} s | "
                     f"{r['time_per_step_seconds']:.2f} s |")
    return "\n".join(lines)


def _paired_se(a: dict, b: dict, key: str = "val_errors", scale: float = 100.0) -> str:
    """`` ± SE`` of the mean per-seed difference of two methods' ``key`` (validation errors in
    points by default; times in seconds with ``scale=1``).

    Each seed gives both methods the same data, so the paired difference is the comparison's
    own noise; the verdicts still compare the means, this only says how far they can be
    trusted (with five seeds a difference within about 2.8 SE is not evidence either way)."""
    if a.get("seed_list") != b.get("seed_list"):  # a difference of different seeds' runs is not paired
        raise ValueError(f"{a['method']} and {b['method']} ran on seeds {a.get('seed_list')} and {b.get('seed_list')}")
    diff = scale * (np.array(a[key]) - np.array(b[key]))
    if diff.size < 2:
        return ""
    return f" ± {diff.std(ddof=1) / np.sqrt(diff.size):.2f}"


def _goals(agg) -> list[str]:
    by = {r["method"]: r for r in agg}
    # the goals are judged on CoNNTrA as a user gets it (its default loss, hinge), never on the
    # better of the two losses: picking the loss by validation error would be selection on the
    # validation set. The other loss is in the tables for the loss comparison.
    best = by[DEFAULT_METHOD]
    out = []
    if "ste" in by:
        d = 100 * (best["val_error"] - by["ste"]["val_error"])
        out.append(f"mean val error vs STE {d:+.2f} pts{_paired_se(best, by['ste'])} "
                   f"({'met' if d <= 0 else 'not met'})")
    if "mlp" in by:
        d = 100 * (best["val_error"] - by["mlp"]["val_error"])
        out.append(f"vs float64 MLP {d:+.2f} pts{_paired_se(best, by['mlp'])} "
                   f"({'met' if d <= 2 else 'not met'}: goal within 2)")
        ratio64 = by["mlp"]["model_bytes"] / best["model_bytes"]
        ratio32 = best["model_float32_bytes"] / best["model_bytes"]
        out.append(f"model {ratio64:.1f}x below the float64 MLP, {ratio32:.1f}x below the same network in "
                   f"float32 ({'met' if ratio64 >= 32 and ratio32 >= 16 else 'not met'}: goal 32x / 16x; weights "
                   f"alone {best['weights_ratio_float64']:.0f}x below float64)")
    if "ste" in by:
        t, ts = best["time_to_final_seconds"], by["ste"]["time_to_final_seconds"]
        # the ratio of the unrounded means: prose quoting "N x the straight-through network's" takes it
        # from here, not from the rounded seconds
        ratio = f", {t / ts:.2f}x" if ts > 0 else ""
        out.append(f"time to final val error: {best['label']} {t:.2f} s vs STE {ts:.2f} s, "
                   f"{t - ts:+.2f} s{_paired_se(best, by['ste'], 'times_to_final', 1.0)}{ratio} "
                   f"({'met' if t <= ts else 'not met'})")
        t, ts = best["time_to_final_within_se_seconds"], by["ste"]["time_to_final_within_se_seconds"]
        out.append(f"to within one standard error of it: {t:.2f} s vs {ts:.2f} s, "
                   f"{t - ts:+.2f} s{_paired_se(best, by['ste'], 'times_to_final_within_se', 1.0)} "
                   f"({'met' if t <= ts else 'not met'})")
        common = _common_target_line(best, by["ste"])
        if common:
            out.append(common)
    return [f"CoNNTrA = {best['label']}, its default loss"] + out


def _variant_line(agg, method: str) -> str | None:
    """Beside the goals: how a CoNNTrA variant did against the default and STE (not judged)."""
    by = {r["method"]: r for r in agg}
    if method not in by or DEFAULT_METHOD not in by:
        return None
    v, base = by[method], by[DEFAULT_METHOD]
    parts = [f"{v['label']} (not judged): val error {100 * v['val_error']:.2f}%, "
             f"{100 * (v['val_error'] - base['val_error']):+.2f} pts{_paired_se(v, base)} vs the default"]
    if "ste" in by:
        parts.append(f"{100 * (v['val_error'] - by['ste']['val_error']):+.2f}{_paired_se(v, by['ste'])} vs STE")
        parts.append(f"time to final {v['time_to_final_seconds']:.2f} s (default {base['time_to_final_seconds']:.2f} "
                     f"s, STE {by['ste']['time_to_final_seconds']:.2f} s)")
    return "; ".join(parts) + "."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="iris and digits only, one seed (writes nothing)")
    parser.add_argument("--datasets", help="comma-separated subset of the datasets (prints its report, writes "
                        "nothing: the saved results and docs keep every dataset)")
    parser.add_argument("--report", action="store_true", help="rewrite the docs section from bench/results/train.json "
                        "without training")
    args = parser.parse_args()
    if args.report:
        if not RESULTS.exists():
            sys.exit(f"{RESULTS} is missing: run bench/train.py without --report first")
        saved = json.loads(RESULTS.read_text())
        write_section("train", report(saved))
        draw_figures(saved)  # the curves too: everything the docs show is derived from the saved runs
        return
    runs = select(args.datasets, parser, quick=args.quick)
    write = not (args.quick or args.datasets)
    seeds_of = {r.name: r.seeds[:1] if args.quick else r.seeds for r in runs}
    if not TUNED.exists():
        sys.exit(f"{TUNED} is missing: run bench/tune.py first (it chooses every method's settings)")
    choices = json.loads(TUNED.read_text())["choices"]
    per_seed = {r.name: {seed: settings_for(r.name, seed, choices) for seed in seeds_of[r.name]} for r in runs}
    _warm_numba_cache()
    load_start = os.getloadavg()[0]  # wall times rise with other work on the machine: recorded beside them
    t0 = time.perf_counter()
    rows = []
    for run in runs:
        name = run.name
        for seed in seeds_of[name]:
            settings = per_seed[name][seed]
            print(f"== {name} seed {seed} {settings}", flush=True)
            got = compare_methods(run.loads, run.methods, progress=lambda m: print(f"   {m}", flush=True), **settings)
            for r in got:
                r["dataset"] = name  # the run's name: Fashion-MNIST is compared at two sizes
                r["seed"] = seed
                r["settings"] = json.loads(json.dumps(settings))  # tuples as lists
                print(f"   {r['method']}: val {100 * r['val_error']:.2f}% in {r['train_seconds']:.1f} s", flush=True)
            rows += got
    saved = {"machine": machine(), "seconds": time.perf_counter() - t0, "seeds": seeds_of, "rows": rows,
             "load": [load_start, os.getloadavg()[0]], "threads": _threads()}
    md = report(saved)
    print(md)
    if write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(saved, indent=1, default=float))
        write_section("train", md)
        draw_figures(saved)


def _threads() -> dict:
    """The thread pools the spawned methods start with (they inherit this process's environment):
    numba's (CoNNTrA's parallel kernels) and the BLAS library's (the baselines' matrix products)."""
    import numba
    import threadpoolctl

    return {"numba": int(numba.config.NUMBA_NUM_THREADS),
            **{info["internal_api"]: int(info["num_threads"]) for info in threadpoolctl.threadpool_info()}}


def _seeds_text(seeds_of: dict) -> str:
    """``seeds_of`` (run -> seeds) in words: the most common list, then the runs with another."""
    return per_run_text(seeds_of, lambda seeds: ", ".join(map(str, seeds)))


def draw_figures(saved: dict) -> None:
    """docs/figures/train_<dataset>.png: every method's validation curve on the dataset's first seed."""
    for name, seeds in saved["seeds"].items():
        seed = seeds[0]
        got = [r for r in saved["rows"] if r["dataset"] == name and r["seed"] == seed]
        plot_curves(got, FIGURES / f"train_{name}.png",
                    title=f"{name} (seed {seed}): validation error against training time")


def report(saved: dict) -> str:
    """The ``train`` section of docs/benchmarks.md from the saved results of a run."""
    rows = saved["rows"]
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    seeds_of = {name: list(dict.fromkeys(r["seed"] for r in rows if r["dataset"] == name)) for name in names}
    per_seed = {name: {r["seed"]: r["settings"] for r in rows if r["dataset"] == name} for name in names}
    agg_rows, notes = [], []
    for name in names:
        agg = _aggregate([r for r in rows if r["dataset"] == name])
        agg_rows += agg
        notes.append(f"* **{name}**: " + "; ".join(_goals(agg)) + ".")
        line = _variant_line(agg, "connttra-joint")
        if line:
            notes.append(f"  {line}")

    loss_rows = ["| dataset | variant | train error | val error (mean ± sd) | sweeps per seed | converged "
                 "| train time |",
                 "|---|---|---:|---:|---|---|---:|"]
    for r in agg_rows:
        if r["method"].startswith("connttra"):
            loss_rows.append(f"| {r['dataset']} | {r['label']} | {100 * r['train_error']:.2f}% | "
                             f"{100 * r['val_error']:.2f}% ± {100 * r['val_error_sd']:.2f} | "
                             f"{', '.join(str(v) for v in r['sweeps'])} | "
                             f"{', '.join(str(v) for v in r['converged'])} | "
                             f"{r['train_seconds']:.1f} s |")
    def picked(name, f):
        unit = "sweeps" if f == "connttra" else "epochs"
        own = [per_seed[name][s][f] for s in seeds_of[name]]
        return f"{f} " + ", ".join(f"{o[PARAM[f]]:.3g} @ {o[BUDGET_KEY[f]]} {unit}" for o in own)

    settings_lines = [f"* {name}: " + ", ".join(f"{k}={v}" for k, v in RUN[name].shared.items()) + "; "
                      + "; ".join(picked(name, f) for f in FAMILIES) for name in names]
    ses = [100 * standard_error(r["val_error"], r["n_val"]) for r in rows if r["dataset"] != "iris"]
    se_range = f"{min(ses):.1f}-{max(ses):.1f} points on the sets other than iris" if ses else "see the table"
    threads = saved.get("threads")
    threads_line = ("Thread pools each method starts with: " + ", ".join(f"{k} {v}" for k, v in threads.items())
                    + " (CoNNTrA's hidden pass is serial, its gradient and scoring use numba's threads; the "
                    "baselines' matrix products use BLAS's: on a shared 2-core machine the time ratios depend on "
                    "what else runs, see the load line)." if threads else "")
    load = saved.get("load")
    # the measuring machine's cores (its machine line), not those of the machine rendering the report
    cores = re.search(r" on (\d+) cores", saved["machine"])
    cores = cores.group(1) if cores else "?"
    load_line = (f"1-minute load average {load[0]:.1f} at the start, {load[1]:.1f} at the end (on {cores} "
                 f"cores; other work on the machine slows every method's wall time)." if load else "")
    md = "\n".join([
        "## Training: CoNNTrA vs backprop (`bench/train.py`)",
        "",
        saved["machine"],
        load_line,
        *([threads_line] if threads_line else []),
        "",
        f"Every figure is the mean over seeds {_seeds_text(seeds_of)} (each seed: its own initialisation, and "
        "on every set but fashion-mnist-60k (the official 60k/10k split) its own training/validation data, a "
        "seeded split of iris, digits and mnist-sample and a seeded subsample of Fashion-MNIST, shared by all "
        "methods of that seed). "
        "Same encoded input spikes (thermometer code fitted on the training data) and the same hidden widths for "
        "every method. CoNNTrA and the straight-through (STE) network are ternary with step activations and "
        "their errors are those of the exported integer `TernaryNetwork` (what every target runs); the MLP is "
        "float64 with ReLU (scikit-learn). Every method trains with its own setting of its one tuned "
        "hyperparameter (CoNNTrA: drive jitter; STE: learning rate; MLP: L2 penalty) and its own budget, "
        "chosen for each seed on inner splits of that seed's training data (step 1 above, `bench/tune.py`), "
        "never on the validation data reported here (CoNNTrA's fixed defaults, e.g. its hinge margin and "
        "gradient order, were settled earlier partly on validation error of these datasets, see "
        "docs/training.md; the baselines' fixed internals are their libraries' or textbook defaults). "
        "CoNNTrA otherwise runs with its defaults: "
        "gradient-ordered coordinates and per-sweep drive jitter (docs/training.md), and its cross-entropy "
        "variant and its variant with joint weight-threshold moves (`joint_moves=True`, off by default) "
        "with the hinge's tuned settings, not tuned for themselves; the goals below are judged on its "
        "default (hinge, no joint moves), not on the best variant, which would be selection on the "
        "validation set. Model bytes: "
        "every parameter as stored (packed ternary "
        "weights, integer thresholds and biases, float64 encoder thresholds; the model file adds a metadata "
        "header of 0.7-1.3 KiB) for the ternary networks, 8 bytes per parameter for the MLP. Training memory: "
        "what training itself takes, its peak resident memory minus the resident memory when it starts (the "
        "peak mark reset there through `/proc/self/clear_refs`; the scoring after each sweep or epoch included, "
        "for every method: CoNNTrA scores from its caches, the backprop baselines in blocks of 8,192 samples; "
        "until December 7, 2026 they scored the whole training set at once, through float copies of it that "
        "were a fifth to a third of their figure; docs/training.md, \"The comparison\"), "
        "largest over the seeds. Peak RSS: the high-water mark (`VmHWM`) of each method's own spawned "
        "subprocess, which also counts the interpreter, the libraries each method imports (numba's kernels, "
        "scikit-learn) and the loaded data, so on the small sets it mostly measures those; largest over the "
        "seeds. Train time: the training steps' own clock, the same "
        "for every method: setup (encoding, caches) and scoring the training and validation error after each "
        "sweep or epoch are off it (numba kernels loaded from cache and scikit-learn imported beforehand); "
        "time to final val error: when the validation error first reached its final value; "
        "... within 1 SE of it: when it first came within one sampling standard error (sqrt(p(1-p)/n_val), "
        f"{se_range}) of its final value: one lucky or unlucky last epoch or sweep moves the first reading "
        "by seconds and this one much less; time per sweep / epoch: median, scoring excluded. "
        "Dataset column: name (training/validation samples); Fashion-MNIST runs twice: `fashion-mnist` with "
        "its 60k training set **subsampled to 6,000** (and its 10k test set to 2,000 for validation), and "
        "`fashion-mnist-60k` at full size (60,000 / the 10,000 test images; three seeds, tuned on one inner "
        "split, no cross-entropy variant: a step costs ten times as much). The final network of each method "
        "is reported (no early stopping, no selection on the validation set).",
        "",
        _table(agg_rows),
        "",
        "Goals (issue: CoNNTrA val error no worse than STE and within 2 points of float backprop on digits, "
        "mnist-sample and fashion-mnist; wall time to final accuracy no longer than STE's; storage >= 16x below "
        "float32 and 32x below float64; ± after a difference: standard error of the mean of the paired "
        "per-seed differences, each seed giving every method the same data; with five seeds a difference "
        "needs about 2.8 SE to be significant at 5% (two-sided t, 4 degrees of freedom; three seeds: 4.3 SE), "
        "so one within that is not evidence either way; the verdicts compare the means):",
        "",
        *notes,
        "",
        "### CoNNTrA variants: the two losses, and joint moves (same runs as above)",
        "",
        *loss_rows,
        "",
        "Settings (shared; then each method's tuned value (jitter / learning rate / L2 penalty) @ budget, "
        "seeds in order):",
        "",
        *settings_lines,
        "",
        f"Curves (first seed): `docs/figures/train_<dataset>.png`; raw results per seed with per-sweep/epoch "
        f"history: `bench/results/train.json`. Whole run: {saved['seconds']:.0f} s.",
    ])
    return md


if __name__ == "__main__":
    main()
