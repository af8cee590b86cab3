"""Test-wide settings.

Hypothesis draws the same examples on every run (``derandomize``) and keeps no example database
in the working tree: a CI failure then reproduces from a clean clone. To hunt for new
counterexamples, run with ``HYPOTHESIS_PROFILE=explore`` (fresh random draws each run).

A session that runs a test marked ``compiles_cython`` starts ``tests/warm_caches.py`` in the background
and runs those tests last: on a clean clone the compilers then work on the second core while the other
tests run (the suite took 540 s cold on 2 cores without it, 397 s with it).
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest
from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


# -- compile caches warmed in the background (tests/warm_caches.py) ----------------------------------
_WARMUP = pytest.StashKey[subprocess.Popen]()
_WARMUP_TMP = pytest.StashKey[str]()


# Modules that never train (checked: none of their tests calls a training kernel). They run first, about
# three minutes on 2 cores, while tests/warm_caches.py compiles the kernels on the other core; on a cold
# clone the first test that trained otherwise compiled them itself, a second time (47 s of the suite).
# Only an order: a module listed here that starts training still passes, it just compiles for itself.
RUN_WHILE_KERNELS_COMPILE = (
    "test_datasets.py", "test_network.py", "test_modelfile.py", "test_reference.py", "test_loihi2_mapping.py",
    "test_conformance.py", "test_loihi2_lava.py", "test_brian2_target.py", "test_verify_report.py",
    "test_signals.py", "test_cli_deploy.py", "test_targets_registry.py", "test_bench_train.py",
    "test_bench_tune.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Move the tests marked ``compiles_cython`` to the end and the modules that never train to the front:
    tests/warm_caches.py (started below) compiles the cython code and the numba training kernels on the
    second core meanwhile. On a cold clone the two compiles took about 3 of the suite's 9 minutes on 2
    cores, one core waiting for the compiler. Stable: the order within each group is pytest's."""
    def group(item) -> int:
        if item.get_closest_marker("compiles_cython"):
            return 2
        return 0 if item.path.name in RUN_WHILE_KERNELS_COMPILE else 1

    items.sort(key=group)


def pytest_collection_finish(session):
    """Start the warm-up if a ``compiles_cython`` test will run: here every plugin has deselected what it
    deselects (-k, -m, --lf). In a session of its own, so that its compilers stop with it (os.killpg)."""
    config = session.config
    if config.option.collectonly or not any(item.get_closest_marker("compiles_cython") for item in session.items):
        return
    # a temp dir of its own: Brian2's debug log and cython's build files must not appear in the one the
    # tests check for leftovers (test_no_files_and_no_global_state_leak)
    tmp = tempfile.mkdtemp(prefix="connttra-warm-caches-")
    config.stash[_WARMUP_TMP] = tmp
    config.stash[_WARMUP] = subprocess.Popen(
        [sys.executable, "-m", "tests.warm_caches"], cwd=config.rootpath, env={**os.environ, "TMPDIR": tmp},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


WARMUP_WAIT = 240  # seconds; it starts with the session and needs ~3 min: the tests before these take longer


@pytest.fixture
def warm_caches(request):
    """Wait for the background warm-up (if this session started one); its outcome does not matter. One
    that is still running after ``WARMUP_WAIT`` is stopped, so the test (600 s timeout, setup included)
    keeps the time to compile what is missing itself (~2 min cold) and no stalled compiler holds a lock."""
    process = request.config.stash.get(_WARMUP, None)
    if process is not None:
        try:
            process.wait(timeout=WARMUP_WAIT)
        except subprocess.TimeoutExpired:
            _stop(process)


def pytest_sessionfinish(session):
    """Stop the warm-up and its compilers if they still run (a run cut short, or a session ending early)."""
    process = session.config.stash.get(_WARMUP, None)
    if process is not None:
        _stop(process)
    if _WARMUP_TMP in session.config.stash:
        shutil.rmtree(session.config.stash[_WARMUP_TMP], ignore_errors=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:  # ended and reaped: its pid may be someone else's now
        return
    _signal_group(process.pid, signal.SIGTERM)  # the whole group: gcc and cc1plus too, not just python
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()
    # a compiler may outlive python by a moment; while it lives the group (and its id) exists
    _signal_group(process.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:  # the group has ended
        pass


# -- compare without its spawned workers ---------------------------------------------------------------
@pytest.fixture
def compare_in_process(monkeypatch):
    """``compare`` trains each method in this process instead of a spawned worker of its own. For tests of
    what the command prints and writes: each worker costs 3-4 s of imports and kernel loading on 2 cores.
    The workers themselves (their own peak RSS, a signal ending them, a script without a main guard) are
    tested in tests/test_compare.py, with real workers."""
    from connttra_neuro.train import compare

    monkeypatch.setattr(compare, "_run_isolated", compare._run_one)
