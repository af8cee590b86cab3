"""What the training benchmark compares, shared by ``bench/tune.py`` and ``bench/train.py``.

Every method gets the same tuning effort: one hyperparameter, four values, and a budget
from six, all chosen on inner splits of each seed's *training* data (``bench/tune.py``),
never on the validation data the benchmark reports. The values in the grids are the
obvious ones around each method's default; the budgets are a base times 1-6.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from connttra_neuro.train.compare import FAMILY_OF

SEEDS = (0, 1, 2, 3, 4)  # every seed: its own initialisation and its own seeded data split or subsample (not 60k)
# what bench/train.py trains on each run; connttra-joint (joint weight-threshold moves) trains with
# connttra's tuned settings: bench/tune.py tunes one CoNNTrA, the default (docs/training.md)
METHODS = ("connttra-hinge", "connttra-joint", "connttra-xent", "ste", "mlp")


@dataclass(frozen=True)
class Run:
    """One row group of the comparison: a dataset at one size, and what is spent on it.

    ``name`` labels the rows and keys the saved results (``tune.json``, ``train.json``);
    ``dataset`` is what ``load_dataset`` gets (the name unless set); ``shared`` are the
    settings every method trains with (``n_train`` / ``n_val`` subsample the dataset)."""

    name: str
    shared: dict = field(default_factory=dict)
    dataset: str | None = None
    seeds: tuple[int, ...] = SEEDS
    splits: tuple[int, ...] = (0, 1)  # inner 75/25 splits of each seed's training set that bench/tune.py tunes on
    methods: tuple[str, ...] = METHODS

    @property
    def loads(self) -> str:
        return self.dataset or self.name


# Fashion-MNIST twice: subsampled to 6,000 training / 2,000 validation images (five seeds, like
# the other sets), and at full size, 60,000 / the 10,000 test images. A step costs ten times as
# much at full size, so that run has three seeds, one inner split (15,000 inner-validation images,
# more than the subsampled runs' two splits together) and no cross-entropy variant (about four
# times slower per sweep than the hinge; the loss comparison is made on the other runs). Its
# grids and budgets are everyone's.
RUNS = (
    Run("iris", dict(hidden=(32,), levels=4)),
    Run("digits", dict(hidden=(256,), levels=3)),
    Run("mnist-sample", dict(hidden=(256,), levels=1)),
    Run("fashion-mnist", dict(hidden=(256,), levels=1, n_train=6000, n_val=2000)),
    Run("fashion-mnist-60k", dict(hidden=(256,), levels=1), dataset="fashion-mnist", seeds=(0, 1, 2), splits=(0,),
        methods=("connttra-hinge", "connttra-joint", "ste", "mlp")),
)
RUN = {r.name: r for r in RUNS}


QUICK = ("iris", "digits")  # the runs of a --quick smoke run (first seed, first split)


def select(names: str | None, parser=None, quick: bool = False) -> list[Run]:
    """The runs named in a comma-separated list (every run for ``None``), in the benchmark's
    order; ``quick`` keeps only those in ``QUICK``. An unknown name is an error
    (``parser.error`` when given)."""
    wanted = names.split(",") if names else list(RUN)
    unknown = sorted(set(wanted) - set(RUN))
    if unknown:
        message = f"unknown datasets {unknown}; choose from {list(RUN)}"
        if parser is not None:
            parser.error(message)
        raise ValueError(message)
    return [r for r in RUNS if r.name in wanted and (not quick or r.name in QUICK)]


def per_run_text(by_run: dict, say) -> str:
    """``by_run`` (run -> value) in words: the most common value (``say(value)``), then the
    runs with another, e.g. ``"0, 1, 2, 3, 4 (fashion-mnist-60k: 0, 1, 2)"``."""
    values = [tuple(v) for v in by_run.values()]
    usual = max(values, key=values.count)
    others = [f"{name}: {say(v)}" for name, v in by_run.items() if tuple(v) != usual]
    return say(usual) + (f" ({'; '.join(others)})" if others else "")


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


def budgets(family: str, run: str) -> tuple[int, ...]:
    """Candidate budgets (sweeps or epochs) of ``family`` on ``run``."""
    base = BUDGET_BASE_IRIS if run == "iris" else BUDGET_BASE
    return tuple(int(round(base * s)) for s in BUDGET_STEPS)


def n_inputs(run: str, n_features: int) -> int:
    """Input spikes of ``run``'s encoder: features times thermometer levels."""
    return n_features * RUN[run].shared["levels"]


def settings_for(run: str, seed: int, choices: dict) -> dict:
    """``compare_methods`` settings of one seed: the shared ones plus each method's choice
    (``choices[run][str(seed)][family] = {"value": v, "budget": b}``)."""
    try:
        picked = choices[run][str(seed)]
        own = {f: {PARAM[f]: picked[f]["value"], BUDGET_KEY[f]: int(picked[f]["budget"])} for f in FAMILIES}
    except KeyError as err:
        raise KeyError(f"no tuned settings for {run} seed {seed} ({err}); run bench/tune.py first") from None
    return {**RUN[run].shared, "seed": seed, **own}
