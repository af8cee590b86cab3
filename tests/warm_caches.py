"""Fill the suite's two compile caches in a background process while the first tests run.

On a clean clone (CI) the numba training kernels compile on first use (about a minute on 2 cores, in
whichever test trains first, and again for the few argument types only some tests pass) and the cython
test compiles about 20 Brian2 modules (about two minutes). Both are single-threaded waits
the rest of the suite does not need, so ``tests/conftest.py`` starts this script when the session
begins and runs the cython test last. Each cache is written atomically by its own library (numba
replaces whole files; Brian2 locks each module), so a test compiling the same code meanwhile only
wastes the work. Nothing here asserts anything: a failure leaves the tests to compile for themselves,
and they report any error. Run by hand: ``python -m tests.warm_caches``.
"""

from __future__ import annotations

import warnings

import numpy as np


def warm_numba() -> None:
    """Tiny fits through the kernels' code paths (1-3 hidden layers, both losses, joint moves, random
    order, mini-batches, exact mode), two sweeps each, and the argument types only some tests pass."""
    from connttra_neuro.train import CoNNTrA, driver
    from connttra_neuro.train import _kernels as K

    rng = np.random.default_rng(0)
    X, y = rng.random((120, 12)), rng.integers(0, 3, 120)
    runs = [dict(hidden=h, loss=loss) for h in ((6,), (6, 5), (6, 5, 4)) for loss in ("hinge", "xent")]
    runs += [dict(hidden=(6,), joint_moves=True), dict(hidden=(6,), coordinate_order="random"),
             dict(hidden=(6,), batch_size=40), dict(hidden=(6,), jitter=0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for settings in runs:
            CoNNTrA(max_sweeps=2, **settings).fit(X, y, validation=(X[:30], y[:30]))
        driver.UINT16_INPUTS = 0  # the int32 input lists of data with more than 65,536 inputs (test_train_kernels)
        CoNNTrA(hidden=(6,), max_sweeps=2).fit(X, y)
    S, W = np.ones((4, 3), np.uint8), np.ones((3, 2), np.int32)
    K.output_scores(S, W, np.zeros(2, np.int64), 64)  # an explicit block size (test_train_kernels)


def warm_cython() -> None:
    """Compile and run the cython test's network: the same code as that test and the user guide's cython
    example (test_docs), so the same cache entries (Brian2 keys them by the code, not the sizes)."""
    from hardware_targets import get_target

    from .networks import cython_case

    network, spikes, settings = cython_case()
    target = get_target("brian2", **settings)
    target.run(target.compile(network), spikes, record_hidden=True)


if __name__ == "__main__":
    warm_numba()  # first: training tests start within a minute; the cython test runs last
    warm_cython()
