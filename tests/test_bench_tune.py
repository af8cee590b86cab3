"""bench/tune.py's choice of each method's setting, on made-up curves (no training), and the
per-method settings it hands to compare_methods."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from connttra_neuro.train.compare import compare_methods, method_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tune():
    sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location("bench_tune", ROOT / "bench" / "tune.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_score_is_the_mean_of_the_last_steps_over_splits(tune):
    assert tune.score([[0.5, 0.4, 0.3, 0.2]], 4, window=2) == pytest.approx(0.25)
    assert tune.score([[0.5, 0.4, 0.3, 0.2], [0.1, 0.1, 0.1, 0.3]], 4, window=2) == pytest.approx(0.225)
    # a run that stopped early keeps its last error for the budgets beyond it
    assert tune.score([[0.5, 0.2]], 4, window=3) == pytest.approx(0.2)
    assert tune.score([[0.9, 0.6, 0.3]], 2, window=5) == pytest.approx(0.75)


def test_choose_takes_the_lowest_score_and_breaks_ties_by_budget_then_value(tune):
    slow = [[0.30, 0.20, 0.10, 0.05, 0.05, 0.05]]  # keeps improving
    fast = [[0.12, 0.11, 0.11, 0.11, 0.11, 0.11]]  # plateaus early
    got = tune.choose({"a": slow, "b": fast}, [2, 4, 6])  # scores: mean of the last five steps up to the budget
    assert (got["value"], got["budget"]) == ("a", 6) and got["score"] == pytest.approx(0.09)
    assert len(got["scores"]) == 6  # every (value, budget)
    got = tune.choose({"a": slow, "b": fast}, [2, 4])
    assert (got["value"], got["budget"]) == ("b", 4) and got["score"] == pytest.approx(0.1125)
    flat = [[0.1] * 6]
    got = tune.choose({"a": flat, "b": flat}, [6, 2, 4])
    assert (got["value"], got["budget"]) == ("a", 2)  # equal everywhere: smallest budget, first value


def test_choices_are_per_dataset_seed_and_method(tune):
    runs = [{"dataset": "iris", "seed": s, "split": sp, "method": "ste", "value": v, "curve": c}
            for s in (0, 1) for sp in (0, 1)
            for v, c in ((0.01, [0.5] * 300), (0.1, [0.4] * 300 if s == 0 else [0.6] * 300))]
    choices = tune.choices_from(runs)
    assert choices["iris"]["0"]["ste"]["value"] == 0.1
    assert choices["iris"]["1"]["ste"]["value"] == 0.01
    assert choices["iris"]["0"]["ste"]["budget"] == 50  # flat curves: the smallest iris budget


def test_a_tie_goes_to_the_smaller_value_whatever_order_the_curves_finished_in(tune):
    # tune.py's workers finish in any order (imap_unordered) and tune.json keeps that order: the
    # choice must not depend on it
    def run(v, sp):
        return {"dataset": "iris", "seed": 0, "split": sp, "method": "mlp", "value": v, "curve": [0.1] * 300}
    runs = [run(v, sp) for v in (1e-4, 1e-3, 1e-2, 1e-1) for sp in (0, 1)]
    for order in (runs, runs[::-1]):
        pick = tune.choices_from(order)["iris"]["0"]["mlp"]
        assert (pick["value"], pick["budget"]) == (1e-4, 50)


def test_settings_for_hands_each_method_its_own_choice(tune):
    from bench._protocol import settings_for

    pick = {f: {"value": v, "budget": b} for f, v, b in (("connttra", 3.0, 40), ("ste", 0.1, 30), ("mlp", 1e-3, 80))}
    settings = settings_for("digits", 2, {"digits": {"2": pick}})
    assert settings["seed"] == 2 and settings["hidden"] == (256,)
    assert method_settings("connttra-xent", settings)["jitter"] == 3.0
    assert method_settings("connttra-hinge", settings)["max_sweeps"] == 40
    assert method_settings("ste", settings)["lr"] == 0.1 and method_settings("ste", settings)["epochs"] == 30
    assert method_settings("mlp", settings)["alpha"] == 1e-3 and "lr" not in method_settings("mlp", settings)
    # what a method's name fixes wins over shared and family settings
    clash = {**settings, "loss": "xent", "connttra": {"joint_moves": False}}
    assert method_settings("connttra-joint", clash)["loss"] == "hinge"
    assert method_settings("connttra-joint", clash)["joint_moves"] is True
    assert method_settings("connttra-xent", {"loss": "hinge"})["loss"] == "xent"
    assert method_settings("connttra", clash)["loss"] == "xent"
    with pytest.raises(KeyError, match="run bench/tune.py first"):
        settings_for("digits", 3, {"digits": {"2": pick}})


def test_method_settings_rejects_a_non_dict_override():
    with pytest.raises(ValueError, match="dict of overrides"):
        method_settings("ste", {"ste": 0.1})


def test_method_settings_and_compare_methods_reject_unknown_names():
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['lrr'\] for ste"):
        method_settings("ste", {"hidden": (8,), "ste": {"lrr": 0.1}})
    with pytest.raises(ValueError, match=r"\['hiden'\]"):
        method_settings("mlp", {"hiden": (8,)})
    # checked for every method before the first one trains (nothing spawned, nothing written)
    with pytest.raises(ValueError, match=r"\['alhpa'\] for mlp"):
        compare_methods("iris", ("connttra", "ste", "mlp"), progress=lambda m: pytest.fail(f"{m} started"),
                        mlp={"alhpa": 1e-3})


def test_each_run_is_tuned_on_its_own_seeds_and_splits(tune):
    from dataclasses import replace

    from bench._protocol import RUN, select

    iris = RUN["iris"]
    per_curve = 3 * 4  # three method families, four values each
    assert len(tune.tasks_for([iris])) == len(iris.seeds) * len(iris.splits) * per_curve
    few = replace(iris, seeds=(0, 1, 2), splits=(0,))
    tasks = tune.tasks_for([few])
    assert len(tasks) == 3 * 1 * per_curve
    assert {t[1] for t in tasks} == {0, 1, 2} and {t[2] for t in tasks} == {0}
    assert len(tune.tasks_for([iris], quick=True)) == per_curve  # first seed, first split
    # the full-size Fashion-MNIST run loads the dataset of another name, with fewer seeds and splits
    full = RUN["fashion-mnist-60k"]
    assert full.loads == "fashion-mnist" and "n_train" not in full.shared
    assert len(full.seeds) < len(iris.seeds) and len(full.splits) < len(iris.splits)
    assert [r.name for r in select("digits,iris")] == ["iris", "digits"]  # the benchmark's order
    assert [r.name for r in select(None, quick=True)] == ["iris", "digits"]
    assert [r.name for r in select("digits,fashion-mnist-60k", quick=True)] == ["digits"]
    with pytest.raises(ValueError, match=r"unknown datasets \['digit'\]"):
        select("digit")


def test_splits_are_stated_per_run(tune):
    assert tune._splits_text() == "twice (fashion-mnist-60k: once)"


def test_inner_splits_differ_by_split_and_by_seed(tune):
    y = np.arange(80) % 4
    fits = {(seed, split): tuple(sorted(tune.inner_split(y, seed, split)[0])) for seed in (0, 1) for split in (0, 1)}
    assert len(set(fits.values())) == 4  # tuned "twice" means on two different splits, per seed
    fit, check = tune.inner_split(y, 0, 0)
    assert len(check) == 20 and not set(fit) & set(check)
    assert np.bincount(y[check]).tolist() == [5, 5, 5, 5]


def test_tune_table_shows_each_value_s_best_score_and_the_choice(tune):
    # every curve 0.1 worse for its first 20 steps: the smallest budget (20) scores worst, 30 and up best;
    # a value's "best inner-val error" is its lowest score over the budgets, not its highest
    runs = [{"dataset": "digits", "seed": seed, "split": 0, "method": family, "value": value, "measured": "here",
             "curve": [err - 0.01 * seed + 0.1] * 20 + [err - 0.01 * seed] * 180}
            for seed in (0, 1) for family, values in (("connttra", (1.0, 2.0)), ("ste", (0.01, 0.1)),
                                                      ("mlp", (1e-4, 1e-3)))
            for value, err in zip(values, (0.30, 0.20), strict=True)]
    md = tune.markdown(tune.choices_from(runs), runs)
    line = next(line for line in md.splitlines() if line.startswith("| digits | ternary STE"))
    assert line.endswith("| lr, epochs | 0.1 @ 30, 0.1 @ 30 | 19.50% | 0.01: 29.50%, 0.1: 19.50% |")
