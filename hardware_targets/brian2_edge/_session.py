"""Brian2 behind one thin adapter: import it quietly, and scope its global state to one run.

Brian2 keeps process-wide state: a preferences object (code generation target,
cython cache, float type, logging), an active device, a debug log file and a
copy of the main script in the temp directory (created at import), a
``sys.excepthook`` that asks users to file bug reports, and warnings routed
into its logger. :func:`import_brian2` undoes the import-time side effects once;
:func:`brian2_session` sets the preferences and device a run needs and puts the
previous values back afterwards, so nothing leaks between runs or into the
caller's own Brian2 code.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["import_brian2", "brian2_session", "default_cache_dir", "CODEGENS"]

#: code generation targets offered: numpy needs no compiler; cython compiles once, then runs about 2x faster
CODEGENS = ("numpy", "cython")

_brian2 = None


def _drop_debug_files(logger_cls) -> None:
    """Close and delete the debug log and the script copy Brian2 writes to the temp dir at import."""
    root = logging.getLogger("brian2")
    if logger_cls.file_handler is not None:
        logger_cls.file_handler.close()
        root.removeHandler(logger_cls.file_handler)
        logger_cls.file_handler = None
    for attr in ("tmp_log", "tmp_script"):
        path = getattr(logger_cls, attr)
        if path is not None:
            for p in (path, f"{path}.1"):
                try:
                    os.remove(p)
                except OSError:
                    pass
            setattr(logger_cls, attr, None)


def import_brian2():
    """Import Brian2 once, without the side effects it leaves on the process."""
    global _brian2
    if _brian2 is not None:
        return _brian2
    if "brian2" in sys.modules:  # the user imported it: its logger and hooks are theirs, leave them be
        _brian2 = sys.modules["brian2"]
        return _brian2
    hook = sys.excepthook
    warnings_were_captured = logging._warnings_showwarning is not None  # noqa: SLF001 (stdlib has no getter)
    import brian2
    from brian2.utils.logger import BrianLogger

    # Brian2 replaces the excepthook (it asks users to report every uncaught error as a Brian2 bug)
    sys.excepthook = hook
    if not warnings_were_captured:
        logging.captureWarnings(False)
    # no debug log and no copy of the running script left in the temp dir (ours: we made the import)
    _drop_debug_files(BrianLogger)
    _brian2 = brian2
    return brian2


def default_cache_dir() -> Path:
    """``.cache/brian2`` under the repository root when running from a checkout, else the user cache."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "hardware_targets").is_dir():
            return parent / ".cache" / "brian2"
    return _user_cache_dir()


def _user_cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "connttra-neuro" / "brian2"


def _writable_cache(cache_dir: Path) -> None:
    """Make cython's cache folder and check it takes files. Otherwise Brian2 fails on its first lock file
    with a bare OSError ("Read-only file system: '.../_cython_magic_....lock'"; an installed copy's user
    without a writable home), which says neither what the folder is for nor what to do."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=cache_dir).close()
    except OSError as err:
        xdg = ("set XDG_CACHE_HOME to a writable folder (the cache then goes to $XDG_CACHE_HOME/connttra-neuro/"
               "brian2), " if cache_dir == _user_cache_dir() else "")
        raise type(err)(f"brian2: cython keeps its compiled code in {cache_dir}, which cannot be written ({err}): "
                        f"{xdg}give the target a writable cache_dir, or use codegen numpy, which compiles "
                        "nothing") from err


@contextmanager
def brian2_session(codegen: str, cache_dir: Path):
    """Brian2 with this run's preferences and the runtime device; restores both on exit."""
    b2 = import_brian2()
    from brian2.devices.device import get_device, reset_device, runtime_device, set_device

    wanted = {
        "codegen.target": codegen,
        # integers are exact in float64 up to 2**53; float32 would silently round big sums
        "core.default_float_dtype": np.float64,
        "logging.file_log": False,
        "logging.save_script": False,
        # Brian2's own Ctrl-C handler ends the run early and returns: a verify then reported brian2 as
        # failed ("simulated 553 steps") and carried on. An ordinary KeyboardInterrupt stops the command
        "core.stop_on_keyboard_interrupt": False,
    }
    if codegen == "cython":
        wanted["codegen.runtime.cython.cache_dir"] = str(cache_dir)
        wanted["codegen.runtime.cython.multiprocess_safe"] = True
    saved = {key: b2.prefs[key] for key in wanted}
    # our threshold-without-reset is deliberate (run_regularly forgets); silence that one warning, for this run only
    no_reset_warning = logging.getLogger("brian2.groups.neurongroup.only_threshold")
    was_disabled = no_reset_warning.disabled
    switched = get_device() is not runtime_device
    try:
        if codegen == "cython":
            _writable_cache(Path(cache_dir))
        for key, value in wanted.items():
            b2.prefs[key] = value
        no_reset_warning.disabled = True
        if switched:
            set_device(runtime_device)
        yield b2
    finally:
        no_reset_warning.disabled = was_disabled
        if switched:
            reset_device()
        for key, value in saved.items():
            b2.prefs[key] = value
