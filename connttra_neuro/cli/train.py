"""Commands ``train`` (CoNNTrA, with checkpoints and resume) and ``compare`` (the paper's table)."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import textwrap
import time
from pathlib import Path

from . import check_distinct, check_folder_outputs, check_replaceable, check_writable, writing_report


def _int_list(expected: str):
    """An argparse type for comma-separated integers; ``expected`` is what the error says they should be."""
    def parse(text: str) -> tuple[int, ...]:
        try:
            return tuple(int(v) for v in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    return parse


def _seconds(text: str) -> float:
    """--max-seconds: a number, or none / inf for no limit (how a resume lifts the run's recorded one)."""
    if text.strip().lower() in ("none", "inf", "infinity"):
        return math.inf
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, or none for no limit, got {text!r}") from None


def _flatten_hidden(args) -> None:
    """--hidden 256 --hidden 128 and --hidden 256,128 (as --discrete-set is written) say the same."""
    if args.hidden is not None:
        args.hidden = [w for part in args.hidden for w in part]


def _common(p, resumable: bool = False) -> None:
    # metavars and wording as evaluate, deploy and verify give theirs (argparse's own were DATA_PATH, N_TRAIN, ...)
    p.add_argument("--data", required=not resumable, metavar="NAME",
                   help="dataset name (see `connttra-neuro datasets`) or a path: .npz file, IDX folder, "
                   "CIFAR binary folder, image folder (one folder per class)"
                   + (" (with --resume: the run's own, by default)" if resumable else ""))
    p.add_argument("--data-path", metavar="DIR", help="directory of the IDX files for fashion-mnist or mnist")
    p.add_argument("--n-train", type=int, metavar="N",
                   help="a seeded stratified subsample of N training samples (default: all)")
    p.add_argument("--n-val", type=int, metavar="N",
                   help="a seeded stratified subsample of N validation samples (default: all)")
    p.add_argument("--hidden", type=_int_list("a width or comma-separated widths like 256 or 256,128"),
                   action="append", metavar="WIDTHS",
                   help="hidden layer widths (default 64); one layer trains best (docs/training.md, Known limits), "
                        "more as --hidden 256,128 or --hidden 256 --hidden 128, best with --layerwise")
    # Settings default to None here and get their defaults in _fill_defaults, so that a resumed run can
    # tell a flag the user gave (an error if it contradicts the checkpoint) from one left out.
    p.add_argument("--levels", type=int, metavar="N", help="thermometer levels per feature, at least 1 (default 1)")
    p.add_argument("--discrete-set", type=_int_list("comma-separated integers like -1,0,1"), metavar="LIST",
                   help="allowed weights, comma-separated (default -1,0,1; a leading minus needs the = form: "
                   "--discrete-set=-2,0,2)")
    p.add_argument("--loss", choices=("hinge", "xent"), help="training loss (default hinge)")
    p.add_argument("--max-sweeps", type=int, metavar="N", help="sweep budget of the whole run (default 30"
                   + ("; with --resume: the run's own, and a larger one continues it)" if resumable else ")"))
    p.add_argument("--max-seconds", type=_seconds, metavar="SECONDS",
                   help="training-time budget of the whole run in seconds (scoring and checkpoints not counted; "
                   "none: no limit, the default"
                   + ("; with --resume: the run's own, by default)" if resumable else ")"))
    p.add_argument("--batch-size", type=int, metavar="N",
                   help="screen moves on a mini-batch of N samples (exact re-check; default: the whole training set)")
    p.add_argument("--jitter", type=float, metavar="STD",
                   help="std of the noise added to hidden drives while training, a regulariser "
                   "(default min(2, sqrt(inputs)/8); 0: exact mode)")
    p.add_argument("--coordinate-order", choices=("gradient", "random"),
                   help="visit a neuron's weights by surrogate-gradient magnitude or at random (default gradient)")
    p.add_argument("--init-density", type=float, metavar="FRACTION",
                   help="fraction of non-zero hidden weights at the start, above 0 and at most 1 (default 0.5; "
                   "lower, e.g. 0.1, when few of many features matter: docs/training.md, Known limits)")
    p.add_argument("--margin", type=int, metavar="N",
                   help="hinge margin (default 0.15 x the last hidden width, smaller on large training sets)")
    p.add_argument("--joint-moves", action="store_true", default=None,
                   help="let a hidden weight move shift its neuron's threshold by one at the same time")
    p.add_argument("--seed", type=int, metavar="SEED",
                   help="random seed of the data split and of training; same seed, same model (default 0)")


def add_parsers(sub) -> None:
    """Register ``train`` and ``compare``."""
    p = sub.add_parser(
        "train",
        # argparse's own usage shows --data and -o as optional: they are, but only with --resume
        usage="connttra-neuro train --data NAME -o FILE [options]\n"
              "       connttra-neuro train --resume CHECKPOINT [options]",
        help="train a discrete-weight network with CoNNTrA coordinate descent",
        description=textwrap.fill(  # filled as the other commands' are: one long line wrapped mid-word
            "Train with CoNNTrA. A checkpoint is written atomically after every sweep; Ctrl-C after the first "
            "sweep leaves the best network so far in -o (before it, nothing is written); --resume continues a run "
            "exactly, on the data it started with.", width=79),
        epilog="examples:\n  connttra-neuro train --data digits --hidden 256 --levels 3 -o digits.ctn\n"
        "  connttra-neuro train --resume digits.ctn.ckpt --max-sweeps 60",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(p, resumable=True)
    p.add_argument("-o", "--output", metavar="FILE", help="model file to write (best network by validation error; "
                   "with --resume: the model beside the checkpoint, by default)")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="checkpoint file (default: the -o FILE with .ckpt added; with --resume: the one resumed)")
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue the run saved in this checkpoint")
    p.add_argument("--layerwise", type=int, metavar="SWEEPS", help="with several hidden layers: first train each "
                   "alone, on the previous one's spikes, for SWEEPS sweeps, and start the run from them stacked (a "
                   "random start underfits; docs/training.md, Known limits); these sweeps are outside the run's "
                   "--max-sweeps and --max-seconds")
    p.add_argument("--plot", metavar="FILE", help="also draw the run's curves (errors, loss, parameters changed "
                   "per sweep): PNG, or SVG / PDF / JPEG by the name's suffix")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (one is drawn only when stderr is a terminal; otherwise a plain line "
                   "every 10 s, which this leaves out too)")
    p.set_defaults(func=_train_holding_outputs)

    p = sub.add_parser(
        "compare",
        help="CoNNTrA against float and ternary backprop: the paper's table, JSON and a plot",
        description=textwrap.fill(
            "Train CoNNTrA, a straight-through ternary network and a float64 MLP on the same data and architecture, "
            "each in its own subprocess; print train/val error, model bytes, peak RSS and train time.", width=79),
        epilog="example:\n  connttra-neuro compare --data digits --hidden 256 --levels 3 -o results/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(p)
    p.add_argument("--methods", default="connttra,ste,mlp", metavar="LIST",
                   help="comma-separated, from connttra, connttra-hinge, connttra-joint, connttra-xent, ste, mlp "
                   "(default connttra,ste,mlp)")
    p.add_argument("--epochs", type=int, metavar="N", help="epochs of the backprop baselines (default: 30, or more "
                   "on a small training set, so that they get at least 1,000 Adam steps of 128 samples)")
    p.add_argument("--ste-lr", type=float, metavar="RATE", help="Adam learning rate of the straight-through network "
                   "(default: 0.03; see docs/training.md, The comparison)")
    p.add_argument("--mlp-alpha", type=float, metavar="ALPHA",
                   help="L2 penalty of the float MLP (default 1e-4, scikit-learn's)")
    p.add_argument("--layerwise", type=int, metavar="SWEEPS", help="CoNNTrA with several hidden layers: first train "
                   "each alone for SWEEPS sweeps (on its clock), as train --layerwise does")
    # --out as well, the name verify and demo give their report folder
    p.add_argument("-o", "--output", "--out", dest="output", metavar="DIR", default=".",
                   help="directory for compare.md, compare.json and compare.png (default: the current one; "
                   "earlier ones there are replaced)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar per method (drawn only when stderr is a "
                   "terminal)")
    p.set_defaults(func=_compare)


# the flags that choose the training data; a checkpoint records them so --resume trains on the same data
DATA_FLAGS = {"data": "--data", "data_path": "--data-path", "n_train": "--n-train", "n_val": "--n-val",
              "seed": "--seed"}
# The estimator settings a flag sets: flag and default (None: the estimator's own).
SETTING_FLAGS = {"hidden": ("--hidden", None), "levels": ("--levels", 1),
                 "discrete_set": ("--discrete-set", (-1, 0, 1)), "loss": ("--loss", "hinge"),
                 "batch_size": ("--batch-size", None), "jitter": ("--jitter", None),
                 "coordinate_order": ("--coordinate-order", "gradient"), "joint_moves": ("--joint-moves", False),
                 "init_density": ("--init-density", None), "margin": ("--margin", None)}


def _check_settings(est) -> None:
    """``est.check_params()``, its message naming the flag beside the estimator's parameter."""
    from connttra_neuro.train.losses import SettingError

    from . import UserError

    flags = {**{k: f for k, (f, _) in SETTING_FLAGS.items()}, "random_state": "--seed",
             "max_sweeps": "--max-sweeps", "max_seconds": "--max-seconds"}
    try:
        est.check_params()
    except SettingError as err:
        msg, flag = str(err), flags.get(err.param)
        if flag is None:
            raise UserError(msg) from None
        if msg.startswith(err.param):  # "jitter must be ..." -> "jitter (--jitter) must be ..."
            raise UserError(f"{err.param} ({flag}){msg[len(err.param):]}") from None
        raise UserError(f"{flag}: {msg}") from None


def _fill_defaults(args) -> None:
    for key, (_, default) in SETTING_FLAGS.items():
        if getattr(args, key) is None:
            setattr(args, key, default)
    if args.max_sweeps is None:  # after --resume took the run's own budget, if any
        from connttra_neuro.train import CoNNTrA

        args.max_sweeps = CoNNTrA().max_sweeps
    if args.max_seconds == math.inf:  # --max-seconds none
        args.max_seconds = None


def _resume_settings(args, saved: dict, checkpoint: str, trained_with: dict) -> None:
    """A setting flag given with --resume must agree with the checkpointed run (which keeps its settings;
    only the budgets may change), so a run never silently trains with other settings than it says."""
    from . import UserError

    def plain(v):
        return list(v) if isinstance(v, (list, tuple)) else v

    for key, (flag, _) in SETTING_FLAGS.items():
        given = getattr(args, key)
        if given is not None and plain(given) != plain(saved["settings"].get(key)):
            if isinstance(given, bool):  # a switch (--joint-moves): it cannot be given "the same value" off
                raise UserError(f"{flag} differs from the run in {checkpoint}, which trains without it; a resumed run "
                                f"keeps its settings (only --max-sweeps and --max-seconds may change): drop {flag}")
            shown = ",".join(map(str, given)) if isinstance(given, (list, tuple)) else given
            theirs = saved["settings"].get(key)
            if theirs is None:  # the default, as the run resolved it (margin, jitter) where it records that
                theirs = "its default" + (f", {trained_with[key]}" if trained_with.get(key) is not None else "")
            raise UserError(f"{flag} {shown} differs from the run in {checkpoint} ({theirs}); a "
                            f"resumed run keeps its settings (only --max-sweeps and --max-seconds may change): drop "
                            f"{flag} or give the same value")


def _check_recorded_data(data: str | None, checkpoint: str) -> None:
    """The run's recorded data path, when it is gone, with the way out (a moved file is fine: its samples
    are checked against the run's digest) instead of a bare "no such file"."""
    from connttra_neuro.datasets import dataset_names

    from . import UserError

    if data is not None and data not in dataset_names() and not Path(data).exists():
        raise UserError(f"{data}, the data the run in {checkpoint} trains on, is gone: if it moved, give "
                        f"--data NEWPATH (the samples must be the run's, which their digest checks)")


def _output_from_checkpoint(out: Path, ckpt: Path) -> str:
    """Where -o sits seen from the checkpoint's folder, recorded so that a resume of a copied or moved
    checkpoint finds the model that came along with it."""
    return os.path.relpath(os.path.abspath(out), os.path.dirname(os.path.abspath(ckpt)))


def _class_change(was: list[str], now: list[str]) -> str:
    """What differs between a run's class names and its data's now: gone ones and new ones, by name (a
    rename is one of each; zipping the sorted lists would blame every class after it)."""
    def listed(names):
        return ", ".join(names[:5]) + (f" (+{len(names) - 5} more)" if len(names) > 5 else "")

    gone, new = [n for n in was if n not in now], [n for n in now if n not in was]
    parts = [f"{label}: {listed(names)}" for label, names in (("gone", gone), ("new", new)) if names]
    return "; ".join(parts) or "the same names in another order"


def _resumed_output(checkpoint: Path, saved: dict) -> tuple[str | None, str]:
    """Where a resumed run writes its model without -o, or ``(None, why)`` when there is no safe guess
    and -o is asked for. The checkpoint the run wrote goes on in the run's -o. A copied or moved one goes
    on where the run's -o sat relative to it (a copied run folder continues in the copy), unless that is
    another folder, which may or may not have come along, or the original run's own model (a copy kept
    beside the original): never in the original's model."""
    written, relative, best = saved.get("written_to"), saved.get("output"), saved.get("best")
    if written is None or relative is None:  # recorded since 2026-12-06: the model by the run's -o name
        if best is None:
            return (str(checkpoint.with_suffix("")) if checkpoint.suffix == ".ckpt" else None), ""
        beside = checkpoint.with_name(Path(best).name)
        return (str(beside) if checkpoint.name == beside.name + ".ckpt" or beside.is_file() else best), ""
    try:
        same = os.path.samefile(written, checkpoint)
    except OSError:  # the original is gone: moved
        same = False
    if same:  # the run's own checkpoint: its model as the user spells the checkpoint (m.ctn, not /home/.../m.ctn)
        spelled = checkpoint.parent / relative
        plain = best is not None and ".." not in Path(relative).parts and spelled.resolve() == Path(best).resolve()
        return (str(spelled) if plain else best), ""
    if Path(relative).parts[:1] == ("..",):
        return None, (f"the checkpoint was moved or copied, and the run's model sat in another folder: {relative} "
                      f"from it")
    candidate = checkpoint.parent / relative
    if best is not None and os.path.exists(written) and candidate.resolve() == Path(best).resolve():
        return None, f"it is a copy beside the original run, whose model {best} it would replace"
    return str(candidate), ""


def _resume_budget(args, saved: dict, checkpoint: str) -> None:
    """The budgets count the whole run, so a resume keeps the run's own unless a flag gives another (a
    Ctrl-C'd run of --max-sweeps 200 continues to 200, not to the default 30); a budget the run has
    already spent is an error that says what to give, not a run that trains nothing."""
    from . import UserError

    last = saved["history"][-1]
    for key, flag, used, done in (
            ("max_sweeps", "--max-sweeps", last["sweep"], f"{last['sweep']} sweeps"),
            ("max_seconds", "--max-seconds", last["seconds"], f"{last['seconds']:.2f} s of training")):
        given = getattr(args, key)
        budget = saved["settings"].get(key) if given is None else given
        setattr(args, key, budget)
        if budget is not None and budget != math.inf and used >= budget:
            whose = (f"{flag} {budget:g} counts the whole run" if given is not None
                     else f"its budget was {flag} {budget:g}")
            # the least value that continues, rounded up so that the value shown does
            enough = used if key == "max_sweeps" else f"{math.ceil(used * 100) / 100:.2f}"
            raise UserError(f"the run in {checkpoint} has done {done} ({whose}): give {flag} above {enough} to "
                            f"continue it")


def _checkpoint_hint(given: Path, metadata: dict) -> str:
    """What to resume instead of a trained model given to --resume: the checkpoint its run wrote beside it
    (the default OUTPUT.ckpt), when there is one."""
    beside = given.with_name(given.name + ".ckpt")
    if beside.is_file():
        return f"; {given} is a trained model: its run's checkpoint is --resume {beside}"
    if "train_error" in metadata or "settings" in metadata:
        return f"; {given} is a trained model, and no checkpoint {beside.name} is beside it"
    return ""


def _checked_checkpoint(saved, checkpoint: str) -> dict:
    """The checkpoint record, or a clear error for one this version cannot continue."""
    from connttra_neuro.train import CoNNTrA

    from . import UserError

    settings = saved.get("settings") if isinstance(saved, dict) else None
    extra = sorted(set(settings) - set(CoNNTrA().get_params())) if isinstance(settings, dict) else []
    history = saved.get("history") if isinstance(saved, dict) else None
    if extra or not isinstance(settings, dict) or not isinstance(history, list) or not history \
            or not all(isinstance(r, dict) for r in history):
        why = f"unknown settings {extra}" if extra else "its checkpoint record is incomplete"
        raise UserError(f"{checkpoint}: cannot resume this checkpoint ({why}; written by another version of "
                        f"connttra-neuro?); start a new run")
    bad = _bad_checkpoint_field(saved)
    if bad:
        raise UserError(f"{checkpoint}: cannot resume this checkpoint ({bad}; edited, or written by another "
                        "program?); start a new run")
    return saved


def _bad_checkpoint_field(saved: dict) -> str | None:
    """What in a checkpoint record's history, data or best-model path has a type no run writes
    (None: all fine), so a hand-edited record is named instead of failing deep inside the run."""
    def count(v):
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    for i, r in enumerate(saved["history"]):
        for key, ok in (("sweep", count), ("seconds", number), ("loss", number), ("train_error", number),
                        ("val_error", lambda v: v is None or number(v))):
            if key not in r:
                return f"history record {i} has no {key}"
            if not ok(r[key]):
                return f"history record {i}'s {key} is {r[key]!r}"
    data = saved.get("data")
    if data is not None:
        if not isinstance(data, dict):
            return f"its data record is {type(data).__name__}, not a mapping"
        for key, ok in (("data", lambda v: isinstance(v, str)),
                        ("data_path", lambda v: v is None or isinstance(v, str)),
                        ("n_train", lambda v: v is None or count(v)), ("n_val", lambda v: v is None or count(v)),
                        ("seed", count), ("fingerprint", lambda v: isinstance(v, str))):
            if key in data and not ok(data[key]):
                return f"its data record's {key} is {data[key]!r}"
    for key in ("best", "written_to", "output"):
        if saved.get(key) is not None and not isinstance(saved[key], str):
            return f"its {'best-model' if key == 'best' else key} path is {saved[key]!r}"
    budgets = (("max_sweeps", count), ("max_seconds", lambda v: v is None or (number(v) and v > 0)))
    for key, ok in budgets:
        if key in saved["settings"] and not ok(saved["settings"][key]):
            return f"its setting {key} is {saved['settings'][key]!r}"
    return None


def _resolve_seed(args) -> None:
    from . import UserError

    if args.seed is None:  # the default, resolved here: --resume needs to tell a given --seed from none
        args.seed = 0
    if args.seed < 0:
        raise UserError(f"--seed must be a non-negative integer, got {args.seed}")


def _default_inv_temperature(settings: dict) -> float | None:
    """1 / the temperature today's defaults give a run of these settings (None if they cannot say)."""
    from connttra_neuro.train import losses

    try:
        unit = losses.weight_unit(settings["discrete_set"])
        return 1.0 / (unit * losses.default_temperature(int(settings["hidden"][-1])))
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError):
        return None


def _temperature_for(inv_t: float) -> float:
    """A temperature ``t`` with ``1.0 / t == inv_t`` exactly, so a resumed run scores as it did."""
    import math

    t = 1.0 / inv_t
    for candidate in (t, math.nextafter(t, math.inf), math.nextafter(t, -math.inf)):
        if 1.0 / candidate == inv_t:
            return candidate
    return t


def _load(args):
    import re

    from connttra_neuro.datasets import DatasetError, load_dataset

    from . import UserError

    _resolve_seed(args)  # train resolved it before its checks; compare comes here directly
    for flag, n in (("--n-train", args.n_train), ("--n-val", args.n_val)):
        if n is not None and n < 1:  # load_dataset's 0 leaves a part out, which training needs
            raise UserError(f"{flag} must be a positive number of samples, got {n}")
    try:
        return load_dataset(args.data, path=args.data_path, n_train=args.n_train, n_val=args.n_val, seed=args.seed)
    except DatasetError as err:  # the loader names its parameter ("n_train=500 but ..."); a user typed the flag
        text = re.sub(r"\b(n_train|n_val)=(\d+) but the split has only",
                      lambda m: f"--{m[1].replace('_', '-')} {m[2]} but the split has only", str(err))
        raise DatasetError(text) from None


def _fingerprint(data, names: bool = True) -> str:
    """A digest of the samples, labels and class names a run trains and validates on: --resume refuses
    data that changed under the same name (a file rewritten since), which would continue on other samples.
    ``names=False``: without the class names, as a run recorded it whose data had names the loader did not
    read then (an npz's class_names array, read since 2026-12-06)."""
    import hashlib

    import numpy as np

    digest = hashlib.blake2b(digest_size=16)
    for array in (data.X_train, data.y_train, data.X_val, data.y_val):
        array = np.asarray(array)
        if array.dtype.kind == "O":  # labels as Python objects: their text, not their addresses
            array = array.astype(str)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).data)  # the buffer itself: no copy of 200 MB of images
    if data.class_names and names:  # a renamed class relabels the outputs (absent: digests unchanged)
        digest.update("\0".join(data.class_names).encode())
    return digest.hexdigest()


def _data_selection(args) -> dict:
    """What chose this run's data, for the checkpoint (paths absolute: --resume may run elsewhere)."""
    from connttra_neuro.datasets import dataset_names

    def where(value):
        return str(Path(value).resolve()) if value is not None and Path(value).exists() else value
    # a built-in name stays a name (load_dataset prefers it to a file or folder of that name)
    data = args.data if args.data in dataset_names() else where(args.data)
    return {"data": data, "data_path": where(args.data_path), "n_train": args.n_train,
            "n_val": args.n_val, "seed": args.seed}


def _resume_data(args, saved: dict, checkpoint: str) -> None:
    """Make ``args`` choose the data the checkpointed run trained on; a flag that contradicts it is
    an error (a resumed run on another split would validate on samples it trained on)."""
    from . import UserError

    # checkpoints from before the data was recorded: at least the seed is known
    run = saved.get("data") or {"seed": saved["settings"]["random_state"]}
    given = _data_selection(args)
    for key, flag in DATA_FLAGS.items():
        if key not in run:
            continue
        explicit = getattr(args, key) is not None
        if key in ("data", "data_path") and "fingerprint" in run and (key == "data" or explicit):
            continue  # another path to the same samples (a moved file or folder) is fine: the digest decides
        if explicit and given[key] != run[key]:
            raise UserError(f"{flag} {getattr(args, key)} differs from the run in {checkpoint} ({run[key]}); "
                            f"a resumed run trains on the data it started with: drop {flag} or give the same value")
        if key != "data":
            setattr(args, key, run[key])


LOG_EVERY_S = 10.0  # seconds between train's plain progress lines when stderr is a log, not a terminal


def _train_holding_outputs(args) -> int:
    """``_train``, with the outputs it locks (``_hold_outputs``) released on every way out."""
    from contextlib import ExitStack

    with ExitStack() as held:
        return _train(args, held)


def _hold_outputs(held, outputs: dict) -> None:
    """Lock the model and the checkpoint (``_atomic.writing``) for the run, before any long work: a second
    run given the same -o or checkpoint while this one trains is refused, naming this one's process id.
    Both would otherwise say they saved the file, and the one that wrote first would be lost."""
    from .._atomic import InUseError, writing
    from . import UserError

    for flag, path in outputs.items():
        try:
            held.enter_context(writing(path, f"{flag} {path}"))
        except InUseError as err:
            raise UserError(err.strerror) from None


def _train(args, held) -> int:
    import warnings

    from tqdm import tqdm

    from connttra_neuro import modelfile
    from connttra_neuro._signals import Terminated, raise_noted, signals_held
    from connttra_neuro.network import thaw_metadata
    from connttra_neuro.train import CoNNTrA, ConvergenceWarning
    from connttra_neuro.train.estimator import best_sweep

    from . import UserError

    _flatten_hidden(args)
    if args.layerwise is not None and args.resume:
        raise UserError("--layerwise starts a new run; a resumed run continues from its checkpoint: drop --layerwise")
    lowest = 0 if args.layerwise is not None else 1  # --layerwise with 0 joint sweeps: the stack is the model
    if args.max_sweeps is not None and args.max_sweeps < lowest and not args.resume:
        # 0 would save the random initial network over -o (Ctrl-C before a sweep writes nothing, for that reason)
        also = " (0 with --layerwise: the stacked layers, no joint sweep)" if lowest else ""
        raise UserError(f"--max-sweeps must be at least {lowest}{also}, got {args.max_sweeps}")
    init, history, best, saved, init_meta, no_output = None, None, None, None, {}, ""
    if args.resume:
        init = modelfile.load(args.resume)
        init_meta = thaw_metadata(init.metadata)
        saved = init_meta.get("checkpoint")
        if not saved:
            raise UserError(f"{args.resume}: not a training checkpoint (no checkpoint metadata)"
                            + _checkpoint_hint(Path(args.resume), init_meta))
        saved = _checked_checkpoint(saved, args.resume)
        # --data and -o default to the run's own: -o to the model beside the checkpoint (the run's
        # folder may have been copied or moved since), else the one the run recorded
        if args.output is None:
            args.output, no_output = _resumed_output(Path(args.resume), saved)
        if args.data is None:
            args.data = (saved.get("data") or {}).get("data")
            _check_recorded_data(args.data, args.resume)
    missing = [flag for flag, value in (("--data", args.data), ("-o", args.output)) if value is None]
    if missing:
        why = ""
        if args.resume and "-o" in missing and no_output:
            why = f" ({args.resume}: {no_output}; give -o for this run's model)"
        elif args.resume:
            why = f" ({args.resume} does not record the run's)"
        else:
            why = " (or --resume CHECKPOINT to continue a run)"
        raise UserError(f"train needs {' and '.join(missing)}{why}")
    check_writable(args.output, "-o")
    out = Path(args.output)
    # the checkpoint: --checkpoint, else the one resumed (continued in place), else OUTPUT.ckpt
    ckpt = Path(args.checkpoint or args.resume or out.with_name(out.name + ".ckpt"))
    ckpt_flag = ("--checkpoint" if args.checkpoint else "--resume" if args.resume
                 else "--checkpoint (default: -o + .ckpt)")
    # a missing folder is named once: the default checkpoint (and often the plot) goes beside the model
    folders = [os.path.dirname(os.path.realpath(p)) for p in (out, ckpt)]
    check_writable(ckpt, ckpt_flag, quiet=folders[1] == folders[0])
    if args.plot is not None:
        from connttra_neuro.train.plots import plot_format

        check_writable(args.plot, "--plot", quiet=os.path.dirname(os.path.realpath(args.plot)) in folders)
        try:
            plot_format(args.plot)  # a suffix it cannot draw is an error now, not after training
        except ValueError as err:
            raise UserError(f"--plot: {err}") from None
    check_distinct({"-o": out, "--checkpoint": ckpt, "--plot": args.plot}, {"--data": args.data})
    # the checkpoint may be the one resumed (that is the point); -o and --plot may not
    check_distinct({"-o": out, "--plot": args.plot}, {"--resume": args.resume})
    # an output replaces only a file of its own kind (a trained model is no checkpoint to overwrite)
    check_replaceable(out, "-o", "model")
    if not (args.resume and ckpt.resolve() == Path(args.resume).resolve()):  # the one resumed: loaded above
        check_replaceable(ckpt, ckpt_flag, "checkpoint")
    check_replaceable(args.plot, "--plot", "plot")
    if args.resume:
        _resume_data(args, saved, args.resume)  # before loading: the run's own split
        _resume_settings(args, saved, args.resume, init_meta.get("settings") or {})
        _resume_budget(args, saved, args.resume)
    _fill_defaults(args)
    _resolve_seed(args)
    if args.margin is not None and args.loss != "hinge":
        raise UserError(f"--margin applies to the hinge loss; --loss {args.loss} has none")
    settings = dict(hidden=tuple(args.hidden or (64,)), levels=args.levels, discrete_set=args.discrete_set,
                    loss=args.loss, max_sweeps=args.max_sweeps, max_seconds=args.max_seconds,
                    batch_size=args.batch_size, jitter=args.jitter, coordinate_order=args.coordinate_order,
                    joint_moves=args.joint_moves, margin=args.margin, random_state=args.seed,
                    **({} if args.init_density is None else {"init_density": args.init_density}))
    if saved:
        history = saved["history"]
        # the run's settings come from the checkpoint; only the budgets may change
        settings.update({k: (tuple(v) if isinstance(v, list) else v) for k, v in saved["settings"].items()
                         if k not in ("max_sweeps", "max_seconds")})
        # a default the run resolved (jitter, margin, surrogate width) stays what it trained with, even
        # where another version's default differs (the margin's did for large sets on 2026-12-06)
        trained_with = init_meta.get("settings") or {}
        for key in ("jitter", "margin", "surrogate_width"):
            value = trained_with.get(key)
            if key == "surrogate_width" and settings.get("coordinate_order") == "random":
                continue  # recorded as 0 (unused); not a width the estimator takes
            if settings.get(key) is None and value is not None:
                settings[key] = value
        inv_t = trained_with.get("inv_temperature")
        if settings.get("temperature") is None and inv_t and inv_t != _default_inv_temperature(settings):
            # the default changed since (for sets with a common factor, on 2026-12-06): recorded as
            # 1 / temperature, so give a temperature whose inverse is exactly it. Only then: a given
            # temperature is recorded in the model's settings, which would differ from the
            # uninterrupted run's
            settings["temperature"] = _temperature_for(inv_t)
        best = _best_so_far([out, Path(saved.get("best", out))], history, best_sweep(history), checkpoint=init)
    est = CoNNTrA(**settings)
    _check_settings(est)  # a bad setting stops here, before the data are loaded
    _check_layerwise(args, est)
    _hold_outputs(held, {"-o": out, ckpt_flag: ckpt})  # every usage error is said; the long work starts here
    data = _load(args)
    if data.description:
        print(f"data: {data.description}")  # which arrays / split / subsample this run trains on
    fingerprint = _fingerprint(data)
    run_data = (saved or {}).get("data") or {}
    same = run_data.get("fingerprint", fingerprint) == fingerprint or (
        # the same samples, digested without the names the run did not read (the checkpoint records the new
        # digest from here on, with the names this run now records in the model)
        not init_meta.get("class_names") and data.class_names
        and run_data["fingerprint"] == _fingerprint(data, names=False))
    if not same:
        if _data_selection(args)["data"] != run_data.get("data"):
            raise UserError(f"--data {args.data} differs from the run in {args.resume} ({run_data.get('data')}); a "
                            f"resumed run trains on the data it started with: drop --data or give that data")
        was, now = init_meta.get("class_names"), data.class_names
        if was and now and list(was) != list(now):  # an image folder's class folders renamed, added or removed
            what = "class folders" if Path(args.data).is_dir() else "class names (its class_names array)"
            raise UserError(f"{args.data}: its {what} are not the ones {args.resume} was trained on "
                            f"({_class_change(was, now)}); "
                            f"a resumed run would give its outputs other classes: put the {what.split(' (')[0]} "
                            f"back as they were, or start a new run")
        raise UserError(f"{args.data} holds other samples than when {args.resume} was written (the data changed "
                        f"since, under the same name and split); a resumed run must continue on the same data: "
                        f"restore it, or start a new run")
    selection = {**_data_selection(args), "fingerprint": fingerprint}
    if args.layerwise is not None:
        try:
            init = _layerwise_start(est, data, args.layerwise, args.no_progress)
        except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: no network of the run's shape exists yet
            how = "terminated (SIGTERM)" if isinstance(err, Terminated) else "interrupted"
            print(f"connttra-neuro train: {how} during the layer-by-layer start; nothing saved", file=sys.stderr)
            return _interrupted_status(how)
    bar = tqdm(total=est.max_sweeps, initial=len(history) - 1 if history else 0, unit="sweep",
               disable=args.no_progress, desc=f"CoNNTrA {data.name}")
    # until sweep 1's hidden pass starts reporting (inside_sweep) the bar stands still (several seconds on the
    # full Fashion-MNIST, 20 s more with kernels to compile): say what it is doing
    bar.set_postfix_str(f"encoding {len(data.y_train):,} samples, building caches, running sweep {bar.n + 1} "
                        "(a first run also compiles the kernels)")

    # sweeps finished by this invocation: each counts once its checkpoint is written (its model is written
    # after it; a Ctrl-C in between still leaves a sweep to resume, and the model is written on the way out)
    done = []
    # "best": where the best network so far lives, for --resume (the checkpoint is the last one); where
    # the checkpoint was written and -o seen from it, for a resume of a copied or moved one
    paths = {"best": str(out.resolve()), "written_to": os.path.abspath(ckpt),
             "output": _output_from_checkpoint(out, ckpt)}

    # how the run started, when not from a random network: recorded in the model and the checkpoint (a
    # resumed run keeps it), since the settings alone would not reproduce the model
    start = {"layerwise_sweeps": args.layerwise} if args.layerwise is not None else init_meta.get("start")

    def as_saved(net):
        """The model as saved: with the --data-path it trained on (absolute), which evaluate, verify and
        deploy reuse for the same named dataset (full MNIST has no default place to be read from), and
        how the run started."""
        extra = {"data_path": selection["data_path"]} if selection["data_path"] is not None else {}
        if start:
            extra["start"] = start
        return net.replace(metadata={**thaw_metadata(net.metadata), **extra}) if extra else net

    def callback(estimator, record, network):
        net = network()
        meta = thaw_metadata(net.metadata)
        if start:
            meta["start"] = start
        meta["checkpoint"] = {"history": estimator.history_, "settings": estimator.get_params(), **paths,
                              "data": selection}
        noted = []
        # the checkpoint and the count of done sweeps in step: a Ctrl-C landing just after the file was renamed
        # into place (measured, with a signal sent as the file appeared) left a written checkpoint uncounted
        with signals_held(noted, sigterm=True):
            modelfile.save(net.replace(metadata=meta), ckpt)  # atomic: a crash keeps the previous checkpoint
            done.append(record["sweep"])
        raise_noted(noted)
        modelfile.save(as_saved(estimator.network_), out)  # best so far
        val = record["val_error"]
        bar.set_postfix(loss=f"{record['loss']:.4g}", train=f"{100 * record['train_error']:.2f}%",
                        val="-" if val is None else f"{100 * val:.2f}%", elapsed=f"{record['seconds']:.1f}s")
        bar.update(1)
        log_line(record)

    last_line = -math.inf  # when log_line last wrote

    def log_line(record):
        """Without a bar because stderr is a log (a batch job, ``2> train.log``): a plain line for the first
        sweep, then at most one every LOG_EVERY_S seconds, so a run of hours shows it is moving without a line
        per millisecond sweep of a small one. The saved line at the end gives the last sweep."""
        nonlocal last_line
        now = time.monotonic()
        if not getattr(args, "log_lines", False) or now - last_line < LOG_EVERY_S:
            return
        last_line = now
        val = record["val_error"]
        print(f"sweep {record['sweep']} of {est.max_sweeps}: loss {record['loss']:.4g}, train error "
              f"{100 * record['train_error']:.2f}%, val error {'-' if val is None else f'{100 * val:.2f}%'}, "
              f"{record['seconds']:.1f} s elapsed", file=sys.stderr, flush=True)

    several = len(est.hidden) > 1  # name the layer only when there is more than one

    def inside_sweep(sweep, layer, neurons_done, neurons):  # a long sweep (wide layer, large set) moves the bar
        deep = f"hidden layer {layer + 1}, " if several else ""
        bar.set_postfix_str(f"sweep {sweep}: {deep}{neurons_done:,} of {neurons:,} neurons")

    interrupted = ""  # what stopped the run early, said in the messages: "interrupted" (Ctrl-C) or "terminated ..."
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            # a resumed run keeps the name its data was first given by (--data may now be the recorded path);
            # a path is recorded absolute, so evaluate can tell it is the same data from any folder
            name = init_meta.get("dataset") or selection["data"]
            est.fit(data.X_train, data.y_train, validation=(data.X_val, data.y_val), dataset=name,
                    class_names=data.class_names or None, input_shape=data.input_shape or None, init_network=init,
                    history=history, best_network=best, callback=callback, progress=inside_sweep)
        except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM (connttra_neuro._signals.Terminated): both save
            interrupted = "terminated (SIGTERM)" if isinstance(err, Terminated) else "interrupted"
        except OSError as err:  # a full disk mid-run: the checkpoints written before are whole, and say so
            if not (done or args.resume):
                raise
            kept = ckpt if done else args.resume
            raise UserError(f"{err}; the run up to its last saved sweep is in {kept} (its best network so far in "
                            f"{out}): continue it, once that can be written, with: connttra-neuro train --resume "
                            f"{_quoted(kept)}") from None
        finally:
            bar.close()
    if interrupted and not done:  # nothing trained here: keep whatever -o and the checkpoint hold
        where = f"nothing written; continue with --resume {_quoted(args.resume)}" if args.resume else "nothing saved"
        print(f"connttra-neuro train: {interrupted} before a sweep finished; {where}", file=sys.stderr)
        return _interrupted_status(interrupted)
    modelfile.save(as_saved(est.network_), out)
    metrics = thaw_metadata(est.network_.metadata)["metrics"]
    last = est.history_[-1]["sweep"]
    # a sweep before the last is the one keep_best chose by its validation error: that error is then
    # the best of many readings of the same data, lower than a fresh set would give (compare reports the last)
    kept = (f"sweep {metrics['sweep']} of {last}, kept for the run's lowest validation error, an optimistic "
            f"figure" if metrics["sweep"] != last else f"sweep {metrics['sweep']}")
    print(f"saved {out} ({kept}: train error {100 * metrics['train_error']:.2f}%, "
          f"val error {100 * metrics['val_error']:.2f}%); " + (f"checkpoint {ckpt}" if done else
                                                                f"no sweep ran, checkpoint unchanged: {args.resume}"
                                                                if args.resume else "no sweep ran, no checkpoint"))
    if est.converged_ and done:  # said, since it ends the run before its budget (no warning says so)
        last = est.history_[-1]
        why = ("it changed no parameter" if last["changed"] == 0 else
               f"it lowered the loss by at most tol = {est.tol:g} of itself")
        print(f"converged after sweep {last['sweep']} of {est.max_sweeps}: {why}")
    if args.plot is not None:
        from connttra_neuro.train.plots import plot_history

        jittered = thaw_metadata(est.network_.metadata)["settings"]["jitter"] > 0  # exact mode: no noise to name
        drawn = plot_history(est.history_, args.plot, f"CoNNTrA on {data.name}", best=metrics["sweep"],
                             jittered=jittered)
        print(f"plot: {drawn}")
    for w in caught:
        print(f"warning: {_cli_advice(str(w.message), est, ckpt if done else None)}", file=sys.stderr)
    if interrupted:
        spent = _spent_budget(est)
        if spent:  # the signal came after the last sweep was checkpointed: --resume alone would train nothing
            print(f"{interrupted} after the run's last sweep ({spent[0]} is spent): best network saved in {out}; "
                  f"to train on: connttra-neuro train --resume {_quoted(ckpt)} {spent[1]}", file=sys.stderr)
        else:
            print(f"{interrupted}: best network so far saved in {out}; continue with: connttra-neuro train --resume "
                  f"{_quoted(ckpt)}", file=sys.stderr)
        return _interrupted_status(interrupted)
    return 0


def _check_layerwise(args, est) -> None:
    """--layerwise: several hidden layers and a positive stage budget (a resumed run was refused before)."""
    from . import UserError

    if args.layerwise is None:
        return
    if args.layerwise < 1:
        raise UserError(f"--layerwise takes each layer's sweeps, at least 1, got {args.layerwise}")
    if len(est.hidden) < 2:
        raise UserError(f"--layerwise trains several hidden layers one at a time; --hidden {est.hidden[0]} is one "
                        f"(a plain run trains it): drop --layerwise, or give more layers")


def _layerwise_start(est, data, sweeps: int, quiet: bool):
    """Each hidden layer trained alone for ``sweeps`` sweeps (the run's other settings), stacked: the run's
    start (connttra_neuro.train.layerwise_init), with a progress bar over the stages' sweeps."""
    import copy
    import warnings

    from tqdm import tqdm

    from connttra_neuro.train import ConvergenceWarning, layerwise_init

    stage = copy.copy(est)
    stage.max_sweeps, stage.max_seconds = sweeps, None  # the run's budgets are the joint sweeps'
    n = len(est.hidden)
    bar = tqdm(total=sweeps * n, unit="sweep", disable=quiet, desc=f"layer by layer {data.name}")
    done = [0] * n  # each stage's sweeps: fewer than asked when one converges (tol)

    def progress(layer, record):
        done[layer] = record["sweep"]
        val = record["val_error"]
        bar.set_postfix(layer=f"{layer + 1}/{n}", train=f"{100 * record['train_error']:.2f}%",
                        val="-" if val is None else f"{100 * val:.2f}%", refresh=False)
        bar.update(layer * sweeps + record["sweep"] - bar.n)  # a stage that converges early skips its rest

    def inside_sweep(layer, sweep, neurons_done, neurons):  # a wide layer's long sweeps move the bar too
        bar.set_postfix_str(f"layer {layer + 1}/{n}, sweep {sweep}: {neurons_done:,} of {neurons:,} neurons")

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # each stage's budget is spent on purpose
            start = layerwise_init(stage, data.X_train, data.y_train, validation=(data.X_val, data.y_val),
                                   callback=progress, progress=inside_sweep)
        bar.update(bar.total - bar.n)
    finally:
        bar.close()
    from connttra_neuro import predict

    error = float((predict(start, data.X_val) != data.y_val).mean())
    each = f"{sweeps} sweeps each" if set(done) == {sweeps} else f"{', '.join(map(str, done))} sweeps"
    print(f"layer by layer: {n} hidden layers trained alone, {each}; stacked: val error "
          f"{100 * error:.2f}%; " + ("now the joint sweeps" if est.max_sweeps else "no joint sweeps (--max-sweeps 0)"))
    return start


def _spent_budget(est) -> tuple[str, str] | None:
    """The budget the run's history has used up (``--max-sweeps 5``) and the flag that doubles it, or None."""
    last = est.history_[-1]
    if last["sweep"] >= est.max_sweeps:
        return f"--max-sweeps {est.max_sweeps}", f"--max-sweeps {2 * est.max_sweeps}"
    if est.max_seconds is not None and last["seconds"] >= est.max_seconds:
        return f"--max-seconds {est.max_seconds:g}", f"--max-seconds {2 * est.max_seconds:g}"
    return None


def _interrupted_status(how: str) -> int:
    return 143 if how.startswith("terminated") else 130  # as a shell reports SIGTERM / SIGINT


def _cli_advice(message: str, est, ckpt) -> str:
    """A budget warning's advice in the command's terms: the flag that ended the run and the command that
    continues it from its checkpoint (budgets count the whole run, so twice the spent one doubles it)."""
    from connttra_neuro.train.estimator import BUDGET_ADVICE

    if not message.endswith(BUDGET_ADVICE) or ckpt is None:
        return message
    if "stopped by max_seconds" in message:
        flag = f"--max-seconds {2 * est.max_seconds:g}"
    else:
        flag = f"--max-sweeps {2 * est.max_sweeps}"
    command = f"connttra-neuro train --resume {_quoted(ckpt)} {flag}"
    return message[: -len(BUDGET_ADVICE)] + f"continue this run with: {command}"


def _quoted(path) -> str:
    """A path as the shell reads it back in a printed command (a space or a quote in a run folder's name)."""
    import shlex

    return shlex.quote(str(path))


def _best_so_far(paths: list[Path], history: list[dict], sweep: int | None, checkpoint=None):
    """The best network of a checkpointed run, from the first of ``paths`` that still holds it (the
    output beside the checkpoint, then the run's recorded ``-o``), else from the ``checkpoint``'s own
    network when the best is its sweep (the run stopped, a full disk or a crash, between writing the
    checkpoint and the model): its metadata must name the sweep ``keep_best`` picks from ``history``,
    with the same errors. Otherwise a note on stderr, and the resumed run keeps the best of its own sweeps."""
    from connttra_neuro import modelfile
    from connttra_neuro.network import thaw_metadata

    def holds_best(net) -> bool:
        metrics = thaw_metadata(net.metadata).get("metrics", {})
        rec = history[sweep] if sweep is not None and sweep < len(history) else {}
        return metrics.get("sweep") == sweep and all(metrics.get(k) == rec.get(k) for k in ("train_error", "val_error"))

    whys = []
    for path in dict.fromkeys(Path(p).resolve() for p in paths):  # each file once
        try:
            net = modelfile.load(path)
        except (OSError, ValueError) as err:
            whys.append(f"cannot read {path} ({err})")
            continue
        if not holds_best(net):
            whys.append(f"{path} holds sweep {thaw_metadata(net.metadata).get('metrics', {}).get('sweep')}, not "
                        f"the run's best (sweep {sweep})")
            continue
        return net
    if checkpoint is not None and holds_best(checkpoint):  # the model as written beside it: no checkpoint record
        return checkpoint.replace(metadata={k: v for k, v in thaw_metadata(checkpoint.metadata).items()
                                            if k != "checkpoint"})
    print(f"note: the best network of the earlier sweeps is not available ({'; '.join(whys)}); the resumed run "
          f"keeps the best of the sweeps from here on", file=sys.stderr)
    return None


def _compare(args) -> int:
    from connttra_neuro.train.compare import (
        MARKDOWN_HEADING,
        MIN_BASELINE_STEPS,
        compare_methods,
        default_epochs,
        format_table,
        method_settings,
        plot_curves,
        table_notes,
        write_json,
        write_markdown,
    )

    from . import UserError

    _flatten_hidden(args)
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    repeated = sorted({m for m in methods if methods.count(m) > 1})
    if repeated:  # it would train twice and print identical rows
        raise UserError(f"--methods names {', '.join(repeated)} more than once")
    backprop = [m for m in methods if m in ("ste", "mlp")]
    for flag, value, takers in (("--epochs", args.epochs, ("ste", "mlp")), ("--ste-lr", args.ste_lr, ("ste",)),
                                ("--mlp-alpha", args.mlp_alpha, ("mlp",))):
        if value is not None and not any(m in takers for m in methods):
            print(f"note: {flag} applies to {' and '.join(takers)}, which --methods does not run", file=sys.stderr)
    if not any(m.startswith("connttra") for m in methods):
        only = {**{k: f for k, (f, _) in SETTING_FLAGS.items() if k not in ("hidden", "levels")},
                "max_sweeps": "--max-sweeps", "layerwise": "--layerwise"}
        given = [flag for key, flag in only.items() if getattr(args, key, None) is not None]
        if given:
            print(f"note: {', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to CoNNTrA, which --methods does "
                  f"not run", file=sys.stderr)
    # flags that some of the methods do not take: say so rather than let the table look as if they did
    for method in (m for m in methods if m.startswith("connttra")):
        loss = method_settings(method, {"loss": args.loss or "hinge"})["loss"]  # what its name fixes, if anything
        if args.loss is not None and loss != args.loss:
            print(f"note: --loss {args.loss} applies to method connttra; {method} trains with its own ({loss})",
                  file=sys.stderr)
        if args.margin is not None and loss != "hinge":
            print(f"note: --margin applies to the hinge loss; {method} trains with cross-entropy", file=sys.stderr)
    if args.discrete_set is not None and tuple(args.discrete_set) != (-1, 0, 1) and "ste" in methods:
        print(f"note: --discrete-set {','.join(map(str, args.discrete_set))} applies to CoNNTrA; the "
              f"straight-through baseline (ste) is ternary (-1,0,1)", file=sys.stderr)
    _fill_defaults(args)
    if len(args.hidden or ()) > 1 and any(m.startswith("connttra") for m in methods) and args.layerwise is None:
        print(f"note: CoNNTrA trains these {len(args.hidden)} hidden layers jointly from a random start, where it "
              f"underfits; --layerwise SWEEPS starts them layer by layer (docs/training.md, Known limits)",
              file=sys.stderr)
    out = Path(args.output)
    check_writable(args.output, "-o", directory=True)  # the string: Path("") would be "."
    check_folder_outputs(out, "-o", {"compare.json": "compare-json", "compare.png": "plot",  # before anything trains
                                     "compare.md": MARKDOWN_HEADING.encode()})
    if args.data_path is not None:
        dataset = data = _load(args)
    else:
        dataset = args.data
        data = _load(args)  # fail fast on a bad name, before any subprocess starts
    if args.epochs is None:
        # 30 epochs of iris are 30 Adam steps (one mini-batch each), which leaves the baselines untrained
        args.epochs = default_epochs(len(data.y_train))
        if args.epochs > 30 and backprop:
            print(f"backprop baselines: {args.epochs} epochs ({len(data.y_train)} training samples; at least "
                  f"{MIN_BASELINE_STEPS:,} Adam steps; --epochs to change)", file=sys.stderr)
    t0 = time.perf_counter()
    started = []  # methods whose training began: all but the last of them have ended

    def progress(method: str) -> None:
        started.append(method)
        print(f"training {method} ...", file=sys.stderr, flush=True)

    try:
        results = compare_methods(
            dataset, methods, hidden=tuple(args.hidden or (64,)), levels=args.levels,
            discrete_set=args.discrete_set, loss=args.loss, max_sweeps=args.max_sweeps,
            max_seconds=args.max_seconds, batch_size=args.batch_size, epochs=args.epochs,
            jitter=args.jitter, coordinate_order=args.coordinate_order,
            joint_moves=args.joint_moves, init_density=args.init_density, margin=args.margin,
            seed=args.seed, n_train=args.n_train, n_val=args.n_val,
            connttra={"layerwise": args.layerwise}, ste={"lr": args.ste_lr}, mlp={"alpha": args.mlp_alpha},
            progress=progress, bars=not args.no_progress)
    except KeyboardInterrupt:  # nothing is written until every method has trained
        if sys.stderr.isatty():  # the stopped worker's bar is still on the line: clear it first
            print("\r\033[K", end="", file=sys.stderr)
        print(f"compare: stopped with {max(0, len(started) - 1)} of {len(methods)} methods trained; nothing was "
              f"written to {out} (the table needs every method)", file=sys.stderr)
        raise
    print(format_table(results))
    print()
    for note in table_notes(results):
        print(textwrap.fill(note, width=110))
    try:
        # one comparison at a time in a folder: two compares into it at once left one run's compare.json beside
        # the other's compare.md and plot
        with writing_report(out, "-o", "compare.json"):
            md = write_markdown(results, out / "compare.md", data.name)
            js = write_json(results, out / "compare.json")
            png = plot_curves(results, out / "compare.png", title=f"{args.data}: validation error against time")
    except OSError as err:  # a full disk part way: each file is whole, but not all of them are this run's
        raise UserError(f"{err}; {out} may hold this comparison's files beside an earlier one's (compare.md, "
                        "compare.json and compare.png are written in that order): run compare again once the "
                        "folder can be written") from None
    print(f"\nwrote {md}, {js} and {png} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps({"usage": "connttra-neuro train|compare"}))
