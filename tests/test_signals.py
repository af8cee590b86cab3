"""connttra_neuro._signals: SIGTERM as an exception, Ctrl-C held until a block ends."""

from __future__ import annotations

import os
import signal
import time

import pytest

from connttra_neuro._signals import (
    Terminated,
    ctrl_c_deferred,
    interruptible,
    raise_noted,
    signals_held,
    sigterm_raises,
)


def test_ctrl_c_in_a_deferred_block_is_raised_when_the_block_ends():
    # Brian2 builds its network with weakref callbacks: a KeyboardInterrupt raised in one was printed and lost
    done, before = [], signal.getsignal(signal.SIGINT)  # Python's, or Brian2's once Brian2 is imported
    with pytest.raises(KeyboardInterrupt):
        with ctrl_c_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("the block ran on")
    assert done == ["the block ran on"]
    assert signal.getsignal(signal.SIGINT) is before
    with ctrl_c_deferred():  # no Ctrl-C, nothing raised
        pass


def test_sigterm_raises_terminated_inside_the_block_only():
    with pytest.raises(Terminated), sigterm_raises():
        os.kill(os.getpid(), signal.SIGTERM)  # Python runs the handler at the next bytecode: raised here
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    assert issubclass(Terminated, KeyboardInterrupt)  # every path that stops cleanly on Ctrl-C does so on it


def _call_from_numba_s_code(handler, signum):
    """Run ``handler`` as if the signal had interrupted numba's own Python code (loading a cached kernel,
    where LLVM calls back through ctypes and an exception raised there is printed and lost)."""
    import sys

    import numba

    where = os.path.join(os.path.dirname(numba.__file__), "core", "a_callback.py")
    code = compile("def callback(handler, signum, frame):\n    handler(signum, frame())\n    return 'returned'\n",
                   where, "exec")
    scope: dict = {}
    exec(code, scope)
    try:
        return scope["callback"](handler, signum, sys._getframe)
    except KeyboardInterrupt:  # (Terminated too) not let out: it would end the pytest session
        pytest.fail("the signal was raised inside numba's code, where it is lost")


def _a_library_s_handler(signum, frame):
    pass


def test_a_signal_in_numba_s_code_is_raised_once_that_code_has_returned():
    # train exited 0 after a Ctrl-C 3.3 s in ("Exception ignored on calling ctypes callback function:
    # ExecutionEngine._raw_object_cache_notify ... KeyboardInterrupt"), having trained and saved
    other = signal.signal(signal.SIGINT, signal.default_int_handler)  # Brian2's, once imported, is left alone
    try:
        with interruptible():
            handler = signal.getsignal(signal.SIGINT)
            assert _call_from_numba_s_code(handler, signal.SIGINT) == "returned"  # nothing raised in there
            with pytest.raises(KeyboardInterrupt):
                time.sleep(5)  # sent again 50 ms later, and raised here
            with pytest.raises(KeyboardInterrupt):
                handler(signal.SIGINT, None)  # anywhere else: at once
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        # a block that holds Ctrl-C (a Lava stop, a Brian2 build) starting within the 50 ms gets it, not loses it
        with interruptible():
            assert _call_from_numba_s_code(signal.getsignal(signal.SIGINT), signal.SIGINT) == "returned"
            with pytest.raises(KeyboardInterrupt):
                with ctrl_c_deferred():
                    time.sleep(1)
            # a handler installed inside the block (Brian2's, when imported) stays when the block ends
            signal.signal(signal.SIGINT, _a_library_s_handler)
        assert signal.getsignal(signal.SIGINT) is _a_library_s_handler
        with interruptible():
            assert signal.getsignal(signal.SIGINT) is _a_library_s_handler  # and is not replaced on entry
    finally:
        signal.signal(signal.SIGINT, other)
    with pytest.raises(Terminated), sigterm_raises():
        assert _call_from_numba_s_code(signal.getsignal(signal.SIGTERM), signal.SIGTERM) == "returned"
        time.sleep(5)
    # held by a block of its own when sent again: noted there and raised when it ends, not dropped
    with pytest.raises(Terminated), sigterm_raises():
        assert _call_from_numba_s_code(signal.getsignal(signal.SIGTERM), signal.SIGTERM) == "returned"
        noted: list = []
        with signals_held(noted, sigterm=True):
            time.sleep(1)
        assert noted == [signal.SIGTERM]
        raise_noted(noted)
