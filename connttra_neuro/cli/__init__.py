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
COMMAND_MODULES = ("data", "train", "deploy", "verify", "demo")


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
# checkpoint: modelfile.MAGIC, read where it is needed: importing modelfile loads numpy).
_SIGNATURES = {
    "plot": (b"\x89PNG", b"<?xml", b"<svg", b"%PDF", b"\xff\xd8\xff"),
    "hdf5": (b"\x89HDF\r\n\x1a\n",),
    "json": (b"{", b"["),
}
_KIND_NAMES = {"model": "a connttra-neuro model file", "plot": "a picture (PNG, SVG, PDF or JPEG)",
               "hdf5": "an HDF5 file", "json": "a JSON file", "checkpoint": "a training checkpoint"}


def check_replaceable(path, flag: str, kind: str) -> None:
    """Refuse an output path that holds a file of another kind than the output writes (``kind``:
    ``model``, ``checkpoint``, ``plot``, ``hdf5`` or ``json``): ``--checkpoint digits.ctn`` would
    replace a trained model, ``--plot model.ctn`` a model by a picture, ``-o data.csv`` the data.
    A missing or empty file is fine. Run it before any long work."""
    import os

    if path is None or not os.path.isfile(path) or os.path.getsize(path) == 0:
        return
    with open(path, "rb") as f:
        head = f.read(16).lstrip()
    refuse = f"{flag} {path} exists and is not {_KIND_NAMES[kind]}; "
    fix = "writing it would replace that file: give another path, or delete the file first"
    if kind in ("model", "checkpoint"):
        from ..modelfile import MAGIC

        signatures = (MAGIC,)
    else:
        signatures = _SIGNATURES[kind]
    if not head.startswith(signatures):
        raise UserError(refuse + fix)
    if kind == "checkpoint":
        from ..modelfile import load
        from ..network import thaw_metadata

        try:
            metadata = thaw_metadata(load(path).metadata)
        except (OSError, ValueError) as err:
            raise UserError(f"{flag} {path} exists and is not a readable checkpoint ({err}); " + fix) from None
        if "checkpoint" not in metadata:
            raise UserError(f"{flag} {path} holds a trained model, not a checkpoint; " + fix)
    if kind == "model":  # a checkpoint starts like a model: its record of the run is what would be lost
        from ..modelfile import load
        from ..network import thaw_metadata

        try:
            is_checkpoint = "checkpoint" in thaw_metadata(load(path).metadata)
        except (OSError, ValueError):
            return  # a damaged model file: replacing it loses nothing readable
        if is_checkpoint:
            raise UserError(f"{flag} {path} holds a training checkpoint, not a trained model; " + fix)


def check_folder_outputs(folder, flag: str, files: dict, own: dict | None = None) -> None:
    """Before any long work: the files a command writes into ``folder`` (name -> kind, as
    ``check_replaceable`` takes, or ``"text"`` with ``own[name]`` the first line this command writes
    there) may replace only files of their own kind, and none of them may be a folder: ``demo --out
    .`` would replace a project's README.md, ``compare -o DIR`` holding a folder named compare.json
    would fail only after training."""
    import os

    folder = Path(folder)
    for name, kind in files.items():
        path = folder / name
        shown = f"{flag} {folder}: {name}"
        if os.path.isdir(path):
            raise UserError(f"{shown} is a folder; the command writes a file there: give another {flag}")
        if kind != "text":
            check_replaceable(path, shown, kind)
        elif os.path.isfile(path) and os.path.getsize(path):
            with open(path, encoding="utf-8", errors="replace") as fh:
                first = fh.readline().rstrip("\n")
            if not first.startswith(own[name]):
                raise UserError(f"{shown} exists and was not written by this command (it starts {first[:40]!r}); "
                                f"writing it would replace that file: give another {flag}, or move the file")


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="connttra-neuro",
        description="Train discrete-weight networks with CoNNTrA, deploy them to neuromorphic targets, verify parity.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("connttra-neuro: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `connttra-neuro info m.ctn | head`: the reader has all it wanted
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 141  # as if killed by SIGPIPE, like other command-line tools
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
