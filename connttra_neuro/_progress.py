"""Progress bars on stderr for long runs (a target's run, reading a large image folder), and the switch that
hides them all (``--no-progress``): the bars sit inside targets and loaders, where no flag reaches."""

from __future__ import annotations

import sys
from contextlib import contextmanager

__all__ = ["bar", "bars_hidden"]

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


def bar(iterable=None, *, total=None, desc: str, unit: str, delay: float = 0.0):
    """A tqdm bar on stderr, gone when done (``leave=False``), shown only after ``delay`` seconds; within
    :func:`bars_hidden`, one that prints nothing."""
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False, delay=delay, file=sys.stderr,
                disable=_hidden[0])
