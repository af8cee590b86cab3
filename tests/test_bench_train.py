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
            "sweeps": 3, "converged": False, "loss": "hinge"}


def test_goal_lines_give_means_paired_standard_errors_and_verdicts(bench):
    rows = []
    for seed, (c, s, m) in enumerate([(0.10, 0.12, 0.09), (0.12, 0.12, 0.10), (0.11, 0.15, 0.10)]):
        rows += [_row("connttra-hinge", c, 1.0 + seed), _row("ste", s, 2.0 + 2 * seed),
                 _row("mlp", m, 5.0, bytes=3300)]
    agg = bench._aggregate(rows)
    by = {r["method"]: r for r in agg}
    assert by["connttra-hinge"]["times_to_final"] == [1.0, 2.0, 3.0]
    # paired differences of the val errors vs STE: -2, 0, -4 points: mean -2, SE 2/sqrt(3)
    assert bench._paired_se(by["connttra-hinge"], by["ste"]) == " ± 1.15"
    lines = bench._goals(agg)
    text = "; ".join(lines)
    assert "vs STE -2.00 pts ± 1.15 (met)" in text
    assert "vs float64 MLP +1.33 pts ± 0.33 (met: goal within 2)" in text
    assert "model 33.0x below the float64 MLP, 20.0x below the same network in float32 (met" in text
    # times vs STE: -1, -2, -3 s: mean -2, SE 1/sqrt(3)
    assert "time to final val error: connttra-hinge 2.00 s vs STE 4.00 s, -2.00 s ± 0.58 (met)" in text
    slow = [dict(r, time_to_final_seconds=9.0) if r["method"] == "connttra-hinge" else r for r in rows]
    assert "(not met)" in "; ".join(bench._goals(bench._aggregate(slow)))
