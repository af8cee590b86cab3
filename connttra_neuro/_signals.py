"""SIGTERM as an exception, so ``finally`` blocks run when a job is terminated.

Python's default SIGTERM disposition kills the process on the spot: no ``finally``, no
``atexit``. A Lava run then leaves its forked processes and shared-memory segments behind
(measured: 8-12 processes adopted by init, 30 /dev/shm segments), a spawned training worker
keeps training, and an atomic write leaves its temporary file. :class:`Terminated` is a
KeyboardInterrupt, so every path that already stops cleanly on Ctrl-C does the same on SIGTERM.

Neither is raised inside numba's or llvmlite's own Python code (loading or compiling a kernel: LLVM
calls back into Python through ctypes, and an exception raised there is printed as "Exception
ignored" and lost, so a Ctrl-C 3 s into ``train`` let it train and save with exit status 0; raised in
the dispatcher it became a SystemError): the signal is sent again 50 ms later, until it lands in code
that can raise it (:func:`interruptible`).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager

__all__ = ["Terminated", "ctrl_c_deferred", "interruptible", "raise_noted", "raise_on_sigterm", "signals_held",
           "sigterm_raises"]


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process gets SIGTERM (``kill PID``, a job scheduler's stop)."""


# libraries whose Python code must not be interrupted by an exception (see the module's docstring)
_UNINTERRUPTIBLE = ("numba", "llvmlite")
_resend_pending: set = set()


def _in_uninterruptible_code(frame) -> bool:
    """Whether ``frame`` (where a signal interrupted the main thread) or a caller is numba's or llvmlite's."""
    dirs = tuple(os.path.dirname(module.__file__) + os.sep for name in _UNINTERRUPTIBLE
                 if (module := sys.modules.get(name)) is not None and getattr(module, "__file__", None))
    while dirs and frame is not None:
        if frame.f_code.co_filename.startswith(dirs):
            return True
        frame = frame.f_back
    return False


def _send_again_later(signum) -> None:
    """Send ``signum`` again in 50 ms (once). Whatever handles it then decides: these handlers raise, a
    holding block (``signals_held``) notes it, the default action ends the process; only an ignored signal
    stays ignored."""
    if signum in _resend_pending:
        return

    def resend():
        _resend_pending.discard(signum)
        if signal.getsignal(signum) is not signal.SIG_IGN:
            os.kill(os.getpid(), signum)

    _resend_pending.add(signum)
    timer = threading.Timer(0.05, resend)
    timer.daemon = True
    timer.start()


def _raising(exception):
    """A signal handler that raises ``exception(signum)``, or sends the signal again later when it
    interrupted numba's or llvmlite's code."""
    def handler(signum, frame):
        if _in_uninterruptible_code(frame):
            _send_again_later(signum)
            return
        raise exception(signum)
    return handler


_raise = _raising(lambda signum: Terminated(f"terminated by signal {signum}"))  # SIGTERM
_interrupt = _raising(lambda signum: KeyboardInterrupt())  # SIGINT


@contextmanager
def interruptible():
    """Within the block (the command line's), Ctrl-C raises KeyboardInterrupt as Python's default handler
    does, except in numba's or llvmlite's code, where it is delivered again once that code has returned.
    A handler other than Python's default is left alone."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    signal.signal(signal.SIGINT, _interrupt)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGINT) is _interrupt:  # not one installed meanwhile (Brian2 has its own)
            signal.signal(signal.SIGINT, signal.default_int_handler)


def raise_on_sigterm():
    """Make SIGTERM raise :class:`Terminated` in this process (the command line's choice). Returns the
    handler it replaced, to put back, or None when it installed nothing (not the main thread, where
    Python allows no handler; or a handler Python did not install, which it cannot put back)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGTERM)
    if previous is None:
        return None
    signal.signal(signal.SIGTERM, _raise)
    return previous


@contextmanager
def sigterm_raises():
    """Within the block, SIGTERM raises :class:`Terminated` if nobody handles it already (a library
    call such as a Lava run cleans up after itself; a caller's own handler is left alone)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) not in (
            signal.SIG_DFL, None):
        yield
        return
    signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def signals_held(noted: list, *, sigterm: bool = False):
    """Within the block Ctrl-C (and, with ``sigterm``, a SIGTERM that would raise) is only noted in
    ``noted``; the caller decides when to raise it (:func:`raise_noted`). For code that must not be cut
    short (stopping a Lava run) or that swallows KeyboardInterrupt (Brian2's weakref callbacks print it
    as "Exception ignored" and lose it). A SIGTERM left at its default action (or ignored) stays so."""
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return
    held = [signal.SIGINT] + ([signal.SIGTERM] if sigterm and callable(signal.getsignal(signal.SIGTERM)) else [])
    previous = {sig: signal.signal(sig, lambda signum, frame: noted.append(signum)) for sig in held}
    try:
        yield noted
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def raise_noted(noted: list) -> None:
    """Raise what :func:`signals_held` noted, if anything: Terminated for a SIGTERM, else KeyboardInterrupt."""
    if signal.SIGTERM in noted:
        raise Terminated("terminated while signals were held")
    if noted:
        raise KeyboardInterrupt


@contextmanager
def ctrl_c_deferred():
    """Within the block Ctrl-C is only noted, and raised as KeyboardInterrupt when the block ends."""
    noted: list = []
    with signals_held(noted):
        yield
    raise_noted(noted)
