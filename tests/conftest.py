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


@pytest.hookimpl(trylast=True)  # after -k / -m deselection: only a session that runs the cython test
def pytest_collection_modifyitems(config, items):
    """Move the tests marked ``compiles_cython`` to the end and start tests/warm_caches.py, which compiles
    their code (and the numba training kernels) on the second core meanwhile. On a cold clone the two
    compiles took about 3 of the suite's 9 minutes on 2 cores, one core waiting for the compiler."""
    last = [item for item in items if item.get_closest_marker("compiles_cython")]
    if not last or config.option.collectonly:
        return
    items[:] = [item for item in items if item not in last] + last
    # a temp dir of its own: Brian2's debug log and cython's build files must not appear in the one the
    # tests check for leftovers (test_no_files_and_no_global_state_leak)
    tmp = tempfile.mkdtemp(prefix="connttra-warm-caches-")
    config.stash[_WARMUP_TMP] = tmp
    config.stash[_WARMUP] = subprocess.Popen(
        [sys.executable, "-m", "tests.warm_caches"], cwd=config.rootpath, env={**os.environ, "TMPDIR": tmp},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def warm_caches(request):
    """Wait for the background warm-up (if this session started one); its outcome does not matter."""
    process = request.config.stash.get(_WARMUP, None)
    if process is not None:
        try:
            process.wait(timeout=540)
        except subprocess.TimeoutExpired:  # the test compiles what is missing itself
            pass


def pytest_sessionfinish(session):
    """Stop the warm-up if it still runs (a run cut short, or a session ending early)."""
    process = session.config.stash.get(_WARMUP, None)
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if _WARMUP_TMP in session.config.stash:
        shutil.rmtree(session.config.stash[_WARMUP_TMP], ignore_errors=True)
