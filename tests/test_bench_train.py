"""The verdict lines of bench/train.py on made-up per-seed results (no training)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_train", ROOT / "bench" / "train.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _row(method, val, ttf, **kw):
    return {"dataset": "toy", "method": method, "label": method, "n_train": 10, "n_val": 5, "train_error": 0.0,
            "val_error": val, "model_bytes": kw.get("bytes", 100), "model_float32_bytes": 2000,
            "weights_ratio_float64": 40.0, "peak_rss_bytes": 2**20, "train_seconds": 1.0,
            "time_to_final_seconds": ttf, "time_to_final_within_se_seconds": ttf / 2, "time_per_step_seconds": 0.1,
            "sweeps": 3, "converged": False, "loss": "hinge", "seed": kw.get("seed", 0)}


def test_goal_lines_give_means_paired_standard_errors_and_verdicts(bench):
    rows = []
    for seed, (c, s, m) in enumerate([(0.10, 0.12, 0.09), (0.12, 0.12, 0.10), (0.11, 0.15, 0.10)]):
        rows += [_row("connttra-hinge", c, 1.0 + seed, seed=seed), _row("ste", s, 2.0 + 2 * seed, seed=seed),
                 _row("mlp", m, 5.0, bytes=3300, seed=seed)]
    agg = bench._aggregate(rows)
    by = {r["method"]: r for r in agg}
    assert by["connttra-hinge"]["times_to_final"] == [1.0, 2.0, 3.0]
    # paired differences of the val errors vs STE: -2, 0, -4 points: mean -2, SE 2/sqrt(3)
    assert bench._paired_se(by["connttra-hinge"], by["ste"]) == " ± 1.15"
    # pairs by seed, not by the order the rows were saved in; runs of other seeds are not paired
    shuffled = {r["method"]: r for r in bench._aggregate([r for r in rows if r["method"] != "ste"]
                                                          + [r for r in reversed(rows) if r["method"] == "ste"])}
    assert bench._paired_se(shuffled["connttra-hinge"], shuffled["ste"]) == " ± 1.15"
    with pytest.raises(ValueError, match=r"ran on seeds \[0, 1, 2\] and \[0, 1\]"):
        bench._paired_se(by["connttra-hinge"], bench._aggregate([r for r in rows if r["seed"] < 2])[1])
    lines = bench._goals(agg)
    text = "; ".join(lines)
    assert "vs STE -2.00 pts ± 1.15 (met)" in text
    assert "vs float64 MLP +1.33 pts ± 0.33 (met: goal within 2)" in text
    assert "model 33.0x below the float64 MLP, 20.0x below the same network in float32 (met" in text
    # times vs STE: -1, -2, -3 s: mean -2, SE 1/sqrt(3)
    assert "time to final val error: connttra-hinge 2.00 s vs STE 4.00 s, -2.00 s ± 0.58, 0.50x (met)" in text
    slow = [dict(r, time_to_final_seconds=9.0) if r["method"] == "connttra-hinge" else r for r in rows]
    assert "(not met)" in "; ".join(bench._goals(bench._aggregate(slow)))


def _hist(*vals):
    return [{"val_error": v, "seconds": float(i + 1)} for i, v in enumerate(vals)]


def test_time_to_the_other_methods_final_error(bench):
    c = _row("connttra-hinge", 0.10, 3.0)
    s = _row("ste", 0.12, 1.0)
    agg_c = dict(c, label="CoNNTrA", histories=[_hist(0.3, 0.12, 0.11, 0.10), _hist(0.2, 0.2, 0.2, 0.2)])
    agg_s = dict(s, histories=[_hist(0.2, 0.12, 0.12), _hist(0.1, 0.1, 0.1)])
    line = bench._common_target_line(agg_c, agg_s)
    # seed 0: CoNNTrA reaches STE's final 0.12 at 2 s, STE never reaches CoNNTrA's 0.10;
    # seed 1: CoNNTrA never reaches STE's 0.10, STE reaches CoNNTrA's 0.20 at 1 s
    assert line == ("time to the other's final val error: CoNNTrA to STE's 2.00 s (reached on 1 of 2 seeds), "
                    "STE to CoNNTrA's 1.00 s (reached on 1 of 2 seeds)")
    assert bench._common_target_line(dict(agg_c, histories=[None, None]), agg_s) is None


def test_report_renders_a_saved_run(bench):
    rows = []
    for seed in (0, 1):
        settings = {"connttra": {"jitter": 2.0, "max_sweeps": 20}, "ste": {"lr": 0.1, "epochs": 30},
                    "mlp": {"alpha": 1e-3, "epochs": 40}}
        for method, val in (("connttra-hinge", 0.05), ("connttra-joint", 0.045), ("connttra-xent", 0.06), ("ste", 0.04),
                            ("mlp", 0.03)):
            rows.append(dict(_row(method, val + 0.01 * seed, 1.0), dataset="digits", seed=seed, settings=settings,
                             history=_hist(0.2, val + 0.01 * seed)))
    md = bench.report({"machine": "Measured here.", "seconds": 12.0, "seeds": [0, 1], "rows": rows})
    assert md.startswith("## Training: CoNNTrA vs backprop")
    assert "Measured here." in md and "Whole run: 12 s." in md
    assert "mean val error vs STE +1.00 pts ± 0.00 (not met)" in md
    assert "connttra 2 @ 20 sweeps, 2 @ 20 sweeps; ste 0.1 @ 30 epochs" in md
    # the joint-moves variant: beside the goals, never judged
    assert "connttra-joint (not judged): val error 5.00%, -0.50 pts ± 0.00 vs the default; +0.50 ± 0.00 vs STE" in md
    assert "| digits | connttra-joint |" in md  # in the variants table too


def test_report_states_the_measuring_machine_s_cores_not_this_one_s(bench):
    rows = [dict(_row(m, 0.1, 1.0), dataset="digits", seed=0, history=_hist(0.2, 0.1),
                 settings={"connttra": {"jitter": 2.0, "max_sweeps": 20}, "ste": {"lr": 0.1, "epochs": 30},
                           "mlp": {"alpha": 1e-3, "epochs": 40}}) for m in ("connttra-hinge", "ste", "mlp")]
    machine = "Measured 2026-12-06 12:17 UTC at commit `abc` on 97 cores (some CPU), Python 3.10."
    md = bench.report({"machine": machine, "seconds": 1.0, "rows": rows, "load": [1.2, 1.9]})
    assert "1-minute load average 1.2 at the start, 1.9 at the end (on 97 cores;" in md


def test_seeds_are_stated_per_run(bench):
    seeds = {"a": [0, 1, 2, 3, 4], "b": [0, 1, 2, 3, 4], "c": [0, 1, 2]}
    assert bench._seeds_text(seeds) == "0, 1, 2, 3, 4 (c: 0, 1, 2)"
    assert bench._seeds_text({"a": [0, 1]}) == "0, 1"


def test_report_keeps_two_sizes_of_one_dataset_apart(bench):
    rows = []
    for name, seeds, val in (("fashion-mnist", (0, 1), 0.18), ("fashion-mnist-60k", (0,), 0.15)):
        settings = {"connttra": {"jitter": 2.0, "max_sweeps": 20}, "ste": {"lr": 0.1, "epochs": 30},
                    "mlp": {"alpha": 1e-3, "epochs": 40}}
        for seed in seeds:
            for method in ("connttra-hinge", "ste", "mlp"):
                rows.append(dict(_row(method, val, 1.0), dataset=name, seed=seed, settings=settings,
                                 history=_hist(0.3, val)))
    md = bench.report({"machine": "Measured here.", "seconds": 1.0, "rows": rows})
    assert "| fashion-mnist (10/5) | connttra-hinge |" in md and "| fashion-mnist-60k (10/5) | connttra-hinge |" in md
    assert "mean over seeds 0, 1 (fashion-mnist-60k: 0)" in md
    assert "* fashion-mnist-60k: hidden=(256,), levels=1; connttra 2 @ 20 sweeps; ste" in md


def _seed_row(seed, train, val, rss):
    return {"dataset": "toy", "method": "ste", "label": "STE", "n_train": 10, "n_val": 5, "train_error": train,
            "val_error": val, "model_bytes": 100, "model_float32_bytes": 2000, "weights_ratio_float64": 40.0,
            "peak_rss_bytes": rss, "train_seconds": 1.0, "time_to_final_seconds": 1.0,
            "time_to_final_within_se_seconds": 0.5, "time_per_step_seconds": 0.1, "seed": seed}


def test_table_row_is_the_mean_over_seeds_in_the_right_columns(bench):
    # train and val errors apart, unequal per seed; peak RSS the largest over the seeds (not the first's)
    rows = [_seed_row(0, 0.01, 0.10, 100 * 2**20), _seed_row(1, 0.03, 0.20, 300 * 2**20),
            _seed_row(2, 0.05, 0.30, 200 * 2**20)]
    (agg,) = bench._aggregate(rows)
    assert agg["train_error"] == pytest.approx(0.03) and agg["val_error"] == pytest.approx(0.20)
    assert agg["val_error_sd"] == pytest.approx(0.10)  # sample sd (ddof=1) of 0.10, 0.20, 0.30
    assert agg["peak_rss_bytes"] == 300 * 2**20
    line = bench._table([agg]).splitlines()[2]
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[:5] == ["toy (10/5)", "STE", "3.00%", "**20.00%** ± 10.00", "10.00, 20.00, 30.00"]
    assert cells[7] == "300 MiB"


@pytest.mark.parametrize("script", ["deploy_loihi2.py", "deploy_brian2.py"])
def test_a_deployment_benchmark_can_run_without_rewriting_the_docs(script):
    # a user trying one on their machine must be able to keep docs/benchmarks.md as measured
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--help"], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "--no-write" in done.stdout
    assert "--no-write" in (ROOT / "bench" / script).read_text().split('"""')[1]  # the documented Run: line
