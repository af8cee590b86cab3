"""The ``connttra-neuro`` command line.

Each command lives in its own module of this package with a function
``add_parsers(subparsers)`` that registers its sub-command(s) and sets
``func`` (``args -> exit status``). Command modules must import heavy
runtimes (Lava, Brian2, numba kernels) inside ``func``, never at the top,
so ``connttra-neuro --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from .. import __version__

# Command modules, in the order their commands appear in --help.
COMMAND_MODULES = ("data", "train", "predict", "deploy", "verify", "demo")


# MODEL's help, one text for every command that takes it: each reads a NIR export as well as a .ctn file
# (connttra_neuro.load), which the help never said
MODEL_HELP = "model file: a .ctn written by connttra-neuro (e.g. model.ctn), or a NIR export of one (model.nir)"


class UserError(Exception):
    """A problem with what the user asked for; printed without a traceback."""


def check_writable(path, flag: str, *, directory: bool = False, quiet: bool = False) -> None:
    """``_atomic.check_writable`` as a one-line usage error naming the flag; run it before any long work.
    A note names a missing parent folder it will create, unless ``quiet`` (a default path)."""
    from .._atomic import check_writable as check

    if not str(path).strip():
        raise UserError(f"{flag} needs a path, got an empty one")
    try:
        check(path, directory=directory)
    except OSError as err:
        raise UserError(f"{flag} {err}") from None
    if not quiet:
        _note_new_folders(path, flag)


def _note_new_folders(path, flag: str) -> None:
    """Say on stderr when an output's parent folder does not exist and will be created: a typo
    in ``-o runs/x.ctn`` would otherwise put the result where the user does not look. (A report
    folder itself is expected to be new; only its parent is checked.)"""
    import os

    parent = os.path.dirname(os.path.realpath(path))
    if os.path.exists(parent):
        return
    shown = os.path.relpath(parent)
    print(f"note: {flag} {path}: folder {parent if shown.startswith('..') else shown} does not exist; "
          "creating it", file=sys.stderr)


# What an existing file must start with for an output of each kind to replace it (a model or
# checkpoint: modelfile.MAGIC, and an HDF5 export: _atomic.EXPORT_SIGNATURES, read where they are
# needed: this module is imported before main() can catch a Ctrl-C, so it imports little).
_SIGNATURES = {
    "plot": (b"\x89PNG", b"<?xml", b"<svg", b"%PDF", b"\xff\xd8\xff"),
    "json": (b"{", b"["),
}
_KIND_NAMES = {"model": "a connttra-neuro model file", "plot": "a picture (PNG, SVG, PDF or JPEG)",
               "hdf5": "an HDF5 file (a NIR or netx export)", "checkpoint": "a training checkpoint"}
# JSON outputs: any JSON file starts alike, so what it holds tells (a user's config.json is not replaced)
_JSON_KINDS = {
    "parity-json": ("a parity report (verify's JSON)", lambda d: isinstance(d, dict) and d.get("schema") == _parity()),
    "compare-json": ("a comparison (compare's JSON)",
                     lambda d: isinstance(d, list) and all(isinstance(r, dict) and "method" in r for r in d)),
}


def _parity() -> str:
    from ..verify.parity import SCHEMA  # imported when a file is there to check: it loads numpy

    return SCHEMA


def check_replaceable(path, flag: str, kind) -> None:
    """Refuse an output path that holds a file of another kind than the output writes (``kind``:
    ``model``, ``checkpoint``, ``plot``, ``hdf5``, ``parity-json`` or ``compare-json``, or the bytes the
    command's own file starts with, such as a report's heading): ``--checkpoint digits.ctn`` would replace a
    trained model, ``--plot model.ctn`` a model by a picture, ``-o data.csv`` the data. A missing or empty
    file is fine. Run it before any long work."""
    from .._atomic import EXPORT_SIGNATURES, refuse_other_kind
    from .._atomic import REPLACE_FIX as fix

    if isinstance(kind, bytes):
        signatures, name = (kind,), "a file this command writes"
    elif kind in ("model", "checkpoint"):
        from ..modelfile import MAGIC

        signatures, name = (MAGIC,), _KIND_NAMES[kind]
    elif kind in _JSON_KINDS:
        signatures, name = _SIGNATURES["json"], _JSON_KINDS[kind][0]
    elif kind == "hdf5":
        signatures, name = EXPORT_SIGNATURES, _KIND_NAMES[kind]
    else:
        signatures, name = _SIGNATURES[kind], _KIND_NAMES[kind]
    if not refuse_other_kind(path, signatures, name, error=UserError, shown=f"{flag} {path}"):
        return  # nothing there to lose
    if kind in _JSON_KINDS:
        import json

        try:
            ours = _JSON_KINDS[kind][1](json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, RecursionError):  # unreadable or not JSON (writes are atomic: never one of
            ours = False  # ours cut short); "[[[[..." nested past Python's limit raised from json itself
        if not ours:
            raise UserError(f"{flag} {path} exists and is not {name}; " + fix)
    if kind == "hdf5":  # the outputs written as HDF5 are NIR and netx exports: not a user's other HDF5 file
        from hardware_targets.loihi2.export import check_replaceable as check_export

        try:
            check_export(path)
        except FileExistsError as err:
            raise UserError(f"{flag} {err}") from None
    if kind in ("model", "checkpoint"):  # the two share a signature: their metadata tells them apart
        from ..modelfile import load
        from ..network import thaw_metadata

        try:
            is_checkpoint = "checkpoint" in thaw_metadata(load(path).metadata)
        except (OSError, ValueError) as err:
            if kind == "model":
                return  # a damaged model file: replacing it loses nothing readable
            raise UserError(f"{flag} {path} exists and is not a readable checkpoint ({err}); " + fix) from None
        if is_checkpoint != (kind == "checkpoint"):
            held = ("a training checkpoint, not a trained model" if is_checkpoint
                    else "a trained model, not a checkpoint")
            raise UserError(f"{flag} {path} holds {held}; " + fix)


def check_folder_outputs(folder, flag: str, files: dict) -> None:
    """Before any long work: the files a command writes into ``folder`` (name -> kind, as
    ``check_replaceable`` takes) may replace only files of their own kind, and none may be a folder:
    ``demo --out .`` would replace a project's README.md, ``compare -o DIR`` holding a folder named
    compare.json would fail only after training."""
    for name in files:
        check_writable(Path(folder) / name, flag, quiet=True)  # the folder's own check gave any note
        check_replaceable(Path(folder) / name, flag, files[name])


def writing_report(folder, flag: str, first: str):
    """The lock (``_atomic.writing``, on ``folder/first``) a command holds while it writes its files into a
    report folder: a second run into the same folder waits for it (one line on stderr says so), then writes
    its own whole set, so the folder never holds one run's JSON beside the other's table and plots."""
    from .._atomic import writing

    def waiting(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    return writing(Path(folder) / first, f"{flag} {folder}", wait=waiting)


def check_distinct(outputs: dict, inputs: dict | None = None) -> None:
    """Refuse an output (what -> path) that is the same file as one of the run's inputs or as
    another output, links resolved: ``-o data.npz`` would overwrite the data, ``--export-nir x
    --export-netx x`` would keep only the second. Inputs that do not exist (built-in dataset
    names) and ``None`` paths are skipped. Run it before any long work."""
    import os

    seen: dict[str, str] = {}
    for what, given in (inputs or {}).items():
        if given is not None and os.path.exists(given):
            seen.setdefault(os.path.realpath(os.fspath(given)), what)
    for what, given in outputs.items():
        if given is None:
            continue
        key = os.path.realpath(os.fspath(given))
        if key in seen:
            raise UserError(f"{what} {given} is the same file as {seen[key]}; writing it would overwrite that, "
                            "give another path")
        seen[key] = what


# What a script needs to know, said once for every command (only deploy's and verify's own help said
# their exit status, and nothing said which commands print JSON).
SCRIPTING = """\
exit status (every command):
  0    done; for verify, deploy and demo: every target classified exactly as the trained model
  1    verify, deploy, demo: a target differed from the trained model, or failed to run
  2    usage error: a bad option or value, a missing or unreadable file, an unknown dataset or
       target, data the model cannot take, an output that cannot be written
  130  Ctrl-C; 143 SIGTERM; 141 stdout closed before the output ended (| head)
results go to stdout, messages and progress to stderr; machine-readable results:
  datasets, info, evaluate and deploy --json; verify --json FILE (- for stdout);
  predict -o - (CSV); compare writes compare.json into its -o folder"""


def build_parser() -> argparse.ArgumentParser:
    return _build()[0]


def _build():
    """The parser and its sub-command parsers (name -> parser)."""
    parser = argparse.ArgumentParser(
        prog="connttra-neuro",
        description="Train discrete-weight networks with CoNNTrA, deploy them to neuromorphic targets, verify parity.",
        epilog=SCRIPTING,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").add_parsers(sub)
    return parser, sub.choices


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; an unknown option is reported with its sub-command's usage (argparse's
    top-level parser would print only ``connttra-neuro [-h] [--version] COMMAND ...``)."""
    parser, commands = _build()
    args, unknown = parser.parse_known_args(argv)
    if args.command == "predict" and unknown and not any(u.startswith("-") for u in unknown):
        # `predict m.ctn a.png -o out.csv b.png`: argparse ends the inputs at the first option
        args.inputs, unknown = [*args.inputs, *unknown], []
    if unknown:
        commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def _reader_gone() -> int:
    """The exit status when stdout's reader has closed the pipe (``connttra-neuro info m.ctn | head``): it has
    all it wanted, so no error, and stdout points at /dev/null so exit's flush raises no second one."""
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141  # as if killed by SIGPIPE, like other command-line tools


def _from_ctrl_c(err: BaseException) -> bool:
    """Whether ``err`` is a Ctrl-C, or an error raised because of one: numpy turns a KeyboardInterrupt in its
    own import into an ImportError saying numpy was imported from its source tree."""
    while err is not None:
        if isinstance(err, KeyboardInterrupt):
            return True
        err = err.__cause__ or err.__context__
    return False


def _parse(argv):
    """``parse_args``, with what argparse prints (``--help``, ``--version``) flushed here, where a closed pipe
    is caught, rather than at exit (a traceback, or "Exception ignored" and status 120)."""
    try:
        return parse_args(argv)
    finally:
        sys.stdout.flush()


def _bars_hidden(args) -> bool:
    """Whether this run hides its progress bars: with --no-progress, and whenever stderr is not a terminal.
    A bar redraws its line with carriage returns; in a file or a pipe (``2> train.log``, a CI job's log) every
    redraw stays, hundreds of them a run, between the messages that matter."""
    if getattr(args, "no_progress", False):
        return True
    try:
        return not sys.stderr.isatty()
    except (AttributeError, ValueError):  # no stderr (pythonw), or a closed one
        return True


def main(argv: list[str] | None = None) -> int:
    import signal

    from .._progress import bars_hidden
    from .._signals import Terminated, interruptible, raise_on_sigterm

    try:  # building the parser imports every command's module (numpy with them): a Ctrl-C can land there
        args = _parse(argv)
    except (KeyboardInterrupt, ImportError) as err:
        if not _from_ctrl_c(err):
            raise
        print("connttra-neuro: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `connttra-neuro --help | head`
        return _reader_gone()
    # a path that is not UTF-8 (an old zip's caf\xe9, in --data or a description) prints as escapes, as stderr
    # prints it; on a strict UTF-8 stdout (a desktop's en_US.UTF-8) it failed the command after its work
    errors = getattr(sys.stdout, "errors", None)
    if errors == "strict" and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    # SIGTERM (kill PID, a scheduler's stop) unwinds like Ctrl-C: Lava runs are stopped, a training worker
    # is ended, temporary files removed (by default it killed the process with none of that done)
    previous = raise_on_sigterm()
    hidden = _bars_hidden(args)
    if hasattr(args, "no_progress"):
        # a log (stderr not a terminal, no --no-progress) gets plain lines instead where a command writes
        # them (train: one every LOG_EVERY_S), so a batch job's log still shows a long run moving
        args.log_lines = hidden and not args.no_progress
        args.no_progress = hidden  # train's and compare's own bars read the flag
    try:
        # a Ctrl-C while numba loads a kernel is delivered after it, not lost in it; bars_hidden reaches the
        # bars inside targets and loaders
        with interruptible(), bars_hidden(hidden):
            return int(args.func(args) or 0)
    except Terminated:
        print("connttra-neuro: terminated (SIGTERM)", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("connttra-neuro: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `connttra-neuro info m.ctn | head`
        return _reader_gone()
    except MemoryError as err:  # e.g. --hidden 1000000000000, or an .npz header claiming 10^11 rows
        print(f"connttra-neuro {args.command}: error: out of memory ({err or 'no detail'}); the data or network "
              "is larger than this machine holds: check sizes such as --hidden, --levels, --n-train or the data "
              "file's shape", file=sys.stderr)
        return 2
    except (UserError, ValueError, OSError, KeyError) as err:
        # Our errors (ModelFileError, NetworkError, DatasetError, TargetLimitError, ...)
        # are ValueErrors whose message names the problem, and an OSError names its file
        # (permission denied, disk full, a directory where a file goes); a traceback adds nothing.
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"connttra-neuro {args.command}: error: {msg}", file=sys.stderr)
        return 2
    finally:
        if previous is not None:  # main() is a function too (tests, scripts, threads): leave it as found
            signal.signal(signal.SIGTERM, previous)
        if errors == "strict" and hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(errors=errors)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
