"""connttra_neuro._signals: SIGTERM as an exception, Ctrl-C held until a block ends."""

from __future__ import annotations

import os
import signal

import pytest

from connttra_neuro._signals import Terminated, ctrl_c_deferred, sigterm_raises


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
