"""Progress bars on stderr for long runs (a target's run, reading a large image folder), and the switch that
hides them all (``--no-progress``): the bars sit inside targets and loaders, where no flag reaches."""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager

__all__ = ["bar", "bars_hidden", "waiting"]

_hidden = [False]


@contextmanager
def bars_hidden(hidden: bool = True):
    """Within the block (a command run with ``--no-progress``), :func:`bar` makes bars that print nothing."""
    before = _hidden[0]
    _hidden[0] = hidden
    try:
        yield
    finally:
        _hidden[0] = before


def bar(iterable=None, *, total=None, desc: str, unit: str, delay: float = 0.0, file=None):
    """A tqdm bar on stderr (or ``file``), gone when done (``leave=False``), shown only after ``delay``
    seconds; within :func:`bars_hidden`, one that prints nothing."""
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False, delay=delay,
                file=sys.stderr if file is None else file, disable=_hidden[0])


@contextmanager
def waiting(desc: str, *, delay: float = 2.0, every: float = 0.5):
    """A line with the time spent so far, for one long call that reports nothing itself (cython compiling a
    network's code: a minute or two with nothing moving); shown after ``delay`` seconds, gone when done."""
    # Brian2 points file descriptor 2 at a temporary file while it compiles (brian2.utils.logger.std_silent,
    # to hide the compiler's output): the line writes to a copy of the descriptor taken before
    try:
        sys.stderr.flush()
        own = os.fdopen(os.dup(sys.stderr.fileno()), "w")
    except (AttributeError, OSError, ValueError):  # not a file descriptor (a captured stream): as it is
        own = None
    ticker = bar(total=None, desc=desc, unit="s", delay=delay, file=own)
    ticker.bar_format = "{desc} ({elapsed})"
    done = threading.Event()

    def tick():  # tqdm redraws only when told to; the call it waits on cannot tell it
        while not done.wait(every):
            if ticker.format_dict["elapsed"] >= delay:  # refresh() itself ignores the delay
                ticker.refresh()

    thread = threading.Thread(target=tick, daemon=True)
    if not ticker.disable:  # --no-progress: no line, no thread
        thread.start()
    try:
        yield
    finally:
        done.set()
        if thread.is_alive():
            thread.join()
        ticker.close()
        if own is not None:
            own.close()
