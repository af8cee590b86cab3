"""Atomic file writes: a temporary file in the target's directory, fsynced, then one rename.

A crash, a power cut or Ctrl-C mid-write leaves any previous file untouched; Ctrl-C and errors leave no
temporary behind, and one left by a process killed outright (kill -9) is removed by the next write of
that file; the new file gets the mode an ordinary ``open(path, "w")`` would give it (``mkstemp``
alone makes 0600), or keeps the mode of the file it replaces. A symbolic link is written
through (its target is replaced, the link stays); a device, pipe or socket is refused, since
a rename would replace it with a regular file (``-o /dev/null`` run as root would replace the
device node).
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path


def file_mode(path: Path) -> int:
    """The mode ``path`` keeps (if it exists) or a new file gets under the process umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)  # reading the umask means setting it; put it straight back
        os.umask(umask)
        return 0o666 & ~umask


def check_writable(path: str | os.PathLike, *, directory: bool = False) -> Path:
    """``path`` as a Path if a file (or with ``directory``, a folder) can be made there: a folder
    where a file goes (or the reverse) is an ``IsADirectoryError`` / ``NotADirectoryError``, and so
    is a file where a parent folder should be, each naming the path. Callers check before long
    work (training, target runs), so a bad output path loses no results."""
    raw = os.fspath(path)
    # Path("notes.txt/") and Path("notes.txt/.") are Path("notes.txt"): the file would be written (and an existing
    # one replaced, as no check of its kind sees a file through "notes.txt/"), where the name asks for a folder
    if not directory and isinstance(raw, str) and (raw.endswith(("/", os.sep)) or os.path.basename(raw) in (".", "..")):
        raise IsADirectoryError(f"{raw} names a folder (it ends in {raw[-1]!r}); it needs a file name")
    path = Path(path)
    try:
        mode = os.stat(path).st_mode  # one look at what is there (through links), None when nothing is
    except OSError as err:  # pathlib's exists() says False for a loop of links; the write would fail after the work
        if err.errno == errno.ELOOP:
            raise OSError(f"cannot write {path}: {err.strerror} (a loop of symbolic links)") from None
        mode = None
    if mode is not None and stat.S_ISDIR(mode) != directory:
        if directory:
            raise NotADirectoryError(f"{path} is a file; it needs a folder")
        raise IsADirectoryError(f"{path} is a directory; it needs a file name")
    if not directory and mode is not None and not stat.S_ISREG(mode):
        raise OSError(f"{path} is not a regular file (a device, pipe or socket); give a file name")
    if not directory and mode is not None:
        _check_replaceable_file(path)
    real = Path(os.path.realpath(path))
    # an existing folder (directory=True) is where the files go: it is the one checked, not the folder above
    for parent in ([real] if directory and real.is_dir() else real.parents):
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(f"cannot write {path}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):  # also a read-only file system, even as root
                raise PermissionError(f"cannot write {path}: {parent} is not writable")
            _probe(parent, path)
            break
    return path


def _check_replaceable_file(path: Path) -> None:
    """An immutable or append-only file (``chattr +i`` / ``+a``) cannot be renamed over, even by root, and
    the folder check does not see it: opening it for writing (it writes nothing) fails with EPERM exactly
    then. A file that is only read-only by its mode (EACCES) is replaced by the rename: not refused."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError as err:
        if err.errno == errno.EPERM:
            raise PermissionError(f"cannot write {path}: the file may not be replaced ({err.strerror}; "
                                  "immutable or append-only, see lsattr)") from None


def _probe(folder: Path, path) -> None:
    """Make and remove an empty folder in ``folder``: the one way to know a file can be made there. Root
    passes ``os.access`` where the file system still refuses (/proc, /sys, a full or odd mount), and the
    work before the write would be lost."""
    try:
        os.rmdir(tempfile.mkdtemp(dir=folder, prefix=".connttra-write-check-"))
    except OSError as err:
        raise PermissionError(f"cannot write {path}: {folder} refuses new files ({err.strerror or err})") from None


# The first bytes of every HDF5 file (the NIR and netx exports), for refuse_other_kind.
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# The first bytes of a NIR export since 2026-12-07: an HDF5 user block holding a digest of the file
# (connttra_neuro.nirfile.with_file_digest), the HDF5 data after it.
NIR_SIGNATURE = b"\x89CTNIR\n\x1a"
EXPORT_SIGNATURES = (HDF5_SIGNATURE, NIR_SIGNATURE)

REPLACE_FIX = "writing it would replace that file: give another path, or delete the file first"


def refuse_other_kind(path, signatures: tuple[bytes, ...], name: str, *, error: type[Exception] = FileExistsError,
                      shown: str | None = None, cut_short_ok: bool = False) -> bool:
    """Refuse, as ``error``, an existing file at ``path`` that starts with none of ``signatures``: a
    writer replaces only a file of its own kind (``name``), so a mistyped path loses no data (a dataset
    under a model's name, a model under an export's). Leading whitespace is skipped (JSON, SVG); with
    ``cut_short_ok`` a file shorter than a signature and the start of one counts as that kind (a model
    cut short). Nothing there, an empty file or no regular file (a FIFO: opening it would block) is
    fine. Returns whether a file of the kind is there. ``shown`` names the path in the message."""
    shown = str(path) if shown is None else shown
    if path is None or not os.path.isfile(path) or os.path.getsize(path) == 0:
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except PermissionError:
        raise error(f"{shown} exists and cannot be read to check what it holds; {REPLACE_FIX}") from None
    if head.lstrip().startswith(signatures) or (cut_short_ok and any(s.startswith(head) for s in signatures)):
        return True
    raise error(f"{shown} exists and is not {name}; {REPLACE_FIX}")


# A process id has at most 7 digits (Linux's pid_max is at most 2**22): the width the name budget keeps for it,
# so NAME is cut alike in every process and a later save finds the temporaries of its name.
_PID_DIGITS = 7
_MKSTEMP_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"  # the 8 characters mkstemp adds are drawn from these
# When this process started writing (the module's import): a temporary last written before that is no
# write of a save that is running now.
_STARTED = time.time()


def _temp_prefix(name: str, pid: int | None = None) -> str:
    """``.NAME.PID.``, NAME cut short so the temporary's name (``mkstemp`` adds 8 characters and the suffix
    ``.tmp``) stays within the 255 bytes a file name may have: a name the check accepted (up to 255 bytes)
    would otherwise fail only at the write, after the work. The process id says whose temporary it is, so
    a later save can tell one left by a killed process (``_remove_stale_temporaries``). ``pid`` None:
    the part before it."""
    while len(os.fsencode(name)) > 255 - len("...") - _PID_DIGITS - 8 - len(".tmp"):
        name = name[:-1]
    return f".{name}." if pid is None else f".{name}.{pid}."


def _remove_stale_temporaries(folder: Path, name: str) -> None:
    """Remove the temporaries earlier saves of ``name`` in ``folder`` left when they were killed outright
    (kill -9, the OOM killer, a crash of the interpreter: no cleanup runs), each a full hidden copy of the
    file (``.NAME.PID.XXXXXXXX.tmp``) that would otherwise stay for good. Only one whose process is gone and
    that was last written before this process started is removed: a save running in another process is
    left alone, also one whose process id this one cannot see (another container on a shared folder) while
    it writes. Best effort: a temporary that cannot be removed stays, and the save goes on."""
    prefix = _temp_prefix(name)
    try:
        with os.scandir(folder) as entries:
            candidates = [e for e in entries if e.name.startswith(prefix) and e.name.endswith(".tmp")]
        for entry in candidates:
            pid, _, rest = entry.name[len(prefix):-len(".tmp")].partition(".")
            if not (pid.isdigit() and len(rest) == 8 and set(rest) <= set(_MKSTEMP_CHARS)):
                continue  # not a temporary of this name (another file whose name starts alike)
            if _running(int(pid)) or not entry.is_file(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_mtime < _STARTED:
                os.unlink(entry.path)
    except OSError:
        pass


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists (this one included; another user's too: it cannot be signalled)."""
    if pid == os.getpid():
        return True
    if not 0 < pid < 2**31:  # 0 would signal this process group; a larger number is no process id
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp)`` to fill a temporary file, then rename it to ``path``. Returns ``path``.

    A path that cannot hold a file (``check_writable``) is an error before anything is written.
    """
    given = check_writable(path)
    path = Path(os.path.realpath(given))  # through a symbolic link: replace its target, keep the link
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(path.parent, path.name)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path.name, os.getpid()), suffix=".tmp")
    except OSError as err:  # name the user's path, not a temporary file's
        raise OSError(err.errno, f"cannot write {given}: {err.strerror}") from None
    os.close(fd)
    try:
        write(tmp)
        _fsync(tmp)  # the data on disk before the rename: a power cut must not leave an empty file in its place
        os.chmod(tmp, file_mode(path))
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        # a full disk (ENOSPC from write or close) or a quota names no file at all: name the user's path
        if isinstance(err, OSError) and err.strerror and (err.filename is None or tmp in str(err)):
            raise OSError(err.errno, f"cannot write {given}: {err.strerror}") from None
        raise
    return given


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(path: str | os.PathLike, blob: bytes) -> Path:
    """``blob`` to ``path`` atomically, flushed to disk before the rename (as every ``atomic_write``)."""
    def write(tmp):
        with open(tmp, "wb") as fh:
            fh.write(blob)
    return atomic_write(path, write)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """``text`` (UTF-8) to ``path`` atomically."""
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
    return atomic_write(path, write)


class InUseError(OSError):
    """Another process holds the ``writing`` lock of the same output."""


@contextmanager
def writing(path: str | os.PathLike, what: str, wait: Callable[[str], None] | None = None):
    """Hold, for the ``with`` block, the lock of a process that writes ``path`` again and again (a training
    run's model and checkpoint, after every sweep). A second process asking for it meanwhile gets an
    ``InUseError`` naming the first one's process id: two runs given the same ``-o`` (a shell loop with ``&``,
    two terminals) otherwise both said they saved it, each file was whole (atomic) but the last writer's,
    and the other run's model was lost with no word. The lock is ``flock`` on ``.NAME.lock`` beside
    ``path``, removed on the way out; the kernel releases it when the process dies, so one left by
    ``kill -9`` locks nothing; folders made for it are removed on the way out if nothing was written in them.
    ``what`` names the path in the message (``-o model.ctn``). With ``wait``, a
    second process waits for the first instead (``wait`` is called with a line saying so, once). Where the
    file system has no locks (some network mounts), the block runs without one."""
    try:
        import fcntl
    except ImportError:  # no flock on this platform
        fcntl = None
    real = Path(os.path.realpath(path))
    lock = real.parent / _lock_name(real.name)
    made = _missing_folders(real.parent)
    real.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = None if fcntl is None else _lock(lock, fcntl, what, wait)
        if fd is None:  # no flock, no lock file can be made there, or no locks on this file system: run without
            yield
            return
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            yield
        finally:
            try:
                os.unlink(lock)  # while still held: a process waiting on this file sees it gone and opens anew
            except OSError:
                pass
            os.close(fd)
    finally:
        _remove_if_empty(made)


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those above it that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_if_empty(folders: list[Path]) -> None:
    """Remove the folders ``writing`` made for its lock (deepest first) if nothing was written in them: a run
    that failed on its data (``train --data no/such.npz -o new/m.ctn``) left an empty ``new/`` behind. A
    folder holding anything (the run's own output, another process's file or lock) stays."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty: nor are the folders above it
            return


def _lock(lock: Path, fcntl, what: str, wait) -> int | None:
    """An open descriptor of ``lock`` holding its flock (see ``writing``), or None where none can be had."""
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, file_mode(lock))
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            who = f"process {holder}" if holder.isdigit() else "another process"
            if wait is None:
                os.close(fd)
                raise InUseError(errno.EBUSY, f"{what}: {who} is writing it now (a run with the same output); give "
                                              "this one another path, or wait until that one ends") from None
            wait(f"{what}: {who} is writing it now; waiting for it to finish")
            wait = _said
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:  # Ctrl-C while waiting: nothing written, the file is the holder's
                os.close(fd)
                raise
        except OSError:  # no locks on this file system
            os.close(fd)
            return None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed the file between our open and our lock: lock the one there now


def _said(line: str) -> None:
    """What ``writing`` calls instead of its ``wait`` after the first time: the wait is said once."""


def _lock_name(name: str) -> str:
    """``.NAME.lock``, NAME cut short so the name stays within the 255 bytes a file name may have."""
    while len(os.fsencode(name)) > 255 - len("..lock"):
        name = name[:-1]
    return f".{name}.lock"
