"""Test-wide settings.

Hypothesis draws the same examples on every run (``derandomize``) and keeps no example database
in the working tree: a CI failure then reproduces from a clean clone. To hunt for new
counterexamples, run with ``HYPOTHESIS_PROFILE=explore`` (fresh random draws each run).

A session that runs a test marked ``compiles_cython`` starts ``tests/warm_caches.py`` in the background
and runs those tests last: on a clean clone the compilers then work on the second core while the other
tests run (the suite took 540 s cold on 2 cores without it, 397 s with it).

A session still running after ``CONNTTRA_TEST_SESSION_LIMIT`` seconds (default 1,800; the suite takes
5-10 minutes) prints the stack of every thread, and of every forked child (Lava's processes), and exits 1:
a hang the per-test timeouts cannot break ends the run with its cause instead of running into CI's limit.
"""

import faulthandler
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from hypothesis import settings

from .processes import descendants, process_table

settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


# -- a hung session ends, with its stacks ---------------------------------------------------------------
try:
    SESSION_LIMIT = float(os.environ.get("CONNTTRA_TEST_SESSION_LIMIT", 1800))
except ValueError:
    raise pytest.UsageError(f"CONNTTRA_TEST_SESSION_LIMIT must be a number of seconds, got "
                            f"{os.environ['CONNTTRA_TEST_SESSION_LIMIT']!r}") from None
_WATCHDOG = pytest.StashKey[threading.Timer]()


def pytest_configure(config):
    """Start the session's watchdog. Its output goes to a copy of the terminal's stderr taken now: during a
    test pytest points file descriptor 2 at the test's captured output, which a process that exits never
    shows. SIGUSR2 makes this process, and every child forked from it, write the stack of each of its
    threads there (faulthandler's handler is inherited by fork)."""
    err = os.dup(2)
    faulthandler.register(signal.SIGUSR2, file=err, all_threads=True)
    watchdog = threading.Timer(SESSION_LIMIT, _session_hung, args=(err, config))
    watchdog.daemon = True
    watchdog.start()
    config.stash[_WATCHDOG] = watchdog
    # the same from C, a minute later, in case the hang holds the interpreter's lock (the timer is a thread)
    faulthandler.dump_traceback_later(SESSION_LIMIT + 60, exit=True, file=err)


def pytest_unconfigure(config):
    if _WATCHDOG in config.stash:
        config.stash[_WATCHDOG].cancel()
        faulthandler.cancel_dump_traceback_later()
        faulthandler.unregister(signal.SIGUSR2)


def _session_hung(err: int, config) -> None:
    children = descendants(os.getpid())
    os.write(err, f"\n*** the test session is still running after {SESSION_LIMIT:.0f} s "
                  f"(CONNTTRA_TEST_SESSION_LIMIT): the tests failed so far, the stacks of its threads, then "
                  f"of its children {sorted(children)}, then exit 1 ***\n".encode())
    os.write(err, _machine_state(children).encode(errors="replace"))
    # the summary pytest would print at the end, which an exit now skips (a timeout's report holds its stack)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for report in list(getattr(reporter, "stats", {}).get("failed", [])):
        os.write(err, f"\n--- FAILED {report.nodeid} ---\n{str(report.longrepr)[-4000:]}\n".encode(errors="replace"))
    faulthandler.dump_traceback(file=err, all_threads=True)
    for pid in children:  # a forked child writes its stacks; an exec'd one (a CLI run, a compiler) just ends
        _signal(pid, signal.SIGUSR2)
    time.sleep(3)
    for pid in children:
        _signal(pid, signal.SIGKILL)
    os._exit(1)


def _machine_state(children: set[int]) -> str:
    """Free space, memory, load and processes: a machine that ran out of one hangs every test alike."""
    lines = []
    for folder in ("/", tempfile.gettempdir(), "/dev/shm"):
        try:
            st = os.statvfs(folder)
            lines.append(f"{folder}: {st.f_bavail * st.f_frsize / 2**20:,.0f} MiB free")
        except OSError as e:
            lines.append(f"{folder}: {e}")
    try:
        lines += [line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemAvailable")]
        lines.append(f"load average {Path('/proc/loadavg').read_text().strip()}")
    except OSError:  # no /proc
        pass
    lines.append(f"{len(process_table())} processes on the machine")
    for pid in sorted(children):
        try:
            lines.append(f"child {pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")[:200])
        except OSError:
            pass
    return "\n".join(lines) + "\n"


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


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
