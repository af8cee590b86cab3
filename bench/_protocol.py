"""What the training benchmark compares, shared by ``bench/tune.py`` and ``bench/train.py``.

Every method gets the same tuning effort: one hyperparameter, four values, and a budget
from six, all chosen on inner splits of each seed's *training* data (``bench/tune.py``),
never on the validation data the benchmark reports. The values in the grids are the
obvious ones around each method's default; the budgets are a base times 1-6.
"""

from __future__ import annotations

import math

from connttra_neuro.train.compare import FAMILY_OF

# (dataset, settings shared by every method). Fashion-MNIST's 60k training set is
# subsampled to 6,000 and its 10k test set to 2,000 for validation (stated in the table).
RUNS = [
    ("iris", dict(hidden=(32,), levels=4)),
    ("digits", dict(hidden=(256,), levels=3)),
    ("mnist-sample", dict(hidden=(256,), levels=1)),
    ("fashion-mnist", dict(hidden=(256,), levels=1, n_train=6000, n_val=2000)),
]
SEEDS = (0, 1, 2, 3, 4)  # every seed: its own initialisation and (for subsampled sets) its own data subsample

FAMILIES = tuple(dict.fromkeys(FAMILY_OF.values()))  # connttra, ste, mlp: the methods a dict of overrides can name
BUDGET_KEY = {"connttra": "max_sweeps", "ste": "epochs", "mlp": "epochs"}
PARAM = {"connttra": "jitter", "ste": "lr", "mlp": "alpha"}
BUDGET_STEPS = (1, 1.5, 2, 3, 4, 6)  # candidate budgets: base times these
# the same budgets for every method, in sweeps (CoNNTrA) or epochs (backprop): a sweep costs
# about one epoch of the straight-through network (docs/benchmarks.md). Iris has one
# mini-batch per epoch, so it gets more.
BUDGET_BASE = 20
BUDGET_BASE_IRIS = 50
SMOOTH = 5  # a budget's score: the mean inner-validation error over the last five sweeps / epochs up to it


def default_jitter(n_inputs: int) -> float:
    """CoNNTrA's default jitter (``min(2, sqrt(input spikes) / 8)``, as the estimator computes it)."""
    return min(2.0, math.sqrt(n_inputs) / 8)


def grid(family: str, n_inputs: int) -> tuple[float, ...]:
    """The four values of ``family``'s tuned hyperparameter.

    CoNNTrA: drive jitter 1, 1.5, 2 and 3 times its default; STE: Adam learning rate 0.01 (its old
    default), 0.03 (its default), 0.1, 0.3; MLP: L2 penalty 1e-4 (scikit-learn's default), 1e-3, 1e-2, 1e-1.
    (Three values each at first; the best of all three methods sat at the top of its grid on
    mnist-sample, so every grid got one more value upwards.)"""
    if family == "connttra":
        j = default_jitter(n_inputs)
        return (j, 1.5 * j, 2 * j, 3 * j)
    if family == "ste":
        return (0.01, 0.03, 0.1, 0.3)
    if family == "mlp":
        return (1e-4, 1e-3, 1e-2, 1e-1)
    raise ValueError(f"unknown method family {family!r}")


def budgets(family: str, dataset: str) -> tuple[int, ...]:
    """Candidate budgets (sweeps or epochs) of ``family`` on ``dataset``."""
    base = BUDGET_BASE_IRIS if dataset == "iris" else BUDGET_BASE
    return tuple(int(round(base * s)) for s in BUDGET_STEPS)


def n_inputs(dataset: str, n_features: int) -> int:
    """Input spikes of ``dataset``'s encoder: features times thermometer levels."""
    return n_features * dict(RUNS)[dataset]["levels"]


def settings_for(dataset: str, seed: int, choices: dict) -> dict:
    """``compare_methods`` settings of one seed: the shared ones plus each method's choice
    (``choices[dataset][str(seed)][family] = {"value": v, "budget": b}``)."""
    try:
        picked = choices[dataset][str(seed)]
        own = {f: {PARAM[f]: picked[f]["value"], BUDGET_KEY[f]: int(picked[f]["budget"])} for f in FAMILIES}
    except KeyError as err:
        raise KeyError(f"no tuned settings for {dataset} seed {seed} ({err}); run bench/tune.py first") from None
    return {**dict(RUNS)[dataset], "seed": seed, **own}
