"""The test session's watchdog (tests/conftest.py): a session that hangs ends with its cause, not at CI's limit."""

import os
import subprocess
import sys
from pathlib import Path

HANGING = '''
import os, time

def test_fails():
    assert 1 == 2, "the failure before the hang"

def test_hangs():
    if os.fork() == 0:  # a forked child stuck too, as Lava's processes would be
        time.sleep(60)
        os._exit(0)
    time.sleep(60)
'''


def test_a_hung_session_prints_its_failures_and_every_stack_then_exits_1(tmp_path):
    (tmp_path / "test_hang.py").write_text(HANGING)
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "CONNTTRA_TEST_SESSION_LIMIT": "3", "PYTHONPATH": str(root)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider", "-p", "no:timeout",
         "--rootdir", str(tmp_path), str(tmp_path / "test_hang.py")],
        capture_output=True, text=True, timeout=40, cwd=tmp_path, env=env)
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "still running after 3 s" in out
    assert "MiB free" in out and "processes on the machine" in out  # what a machine out of room hangs on
    assert "FAILED" in out and "the failure before the hang" in out  # the summary the exit would skip
    # the main thread's stack, and the forked child's own (two stacks inside test_hangs)
    assert out.count("in test_hangs") == 2, out
