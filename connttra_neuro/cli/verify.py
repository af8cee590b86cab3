"""``connttra-neuro verify``: does every target classify exactly like the trained model?

Exit status: 0 when every target reproduces every spike, score and class;
1 when any target differs or fails to run (so CI can gate on it); 2 for a
usage error (bad file, unknown dataset or target, option that does not apply).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import textwrap
from pathlib import Path

from . import MODEL_HELP, check_distinct, check_folder_outputs, check_replaceable, check_writable, writing_report

EXIT_EXACT = 0
EXIT_MISMATCH = 1

# Options that only some targets take: option -> (targets, constructor keyword)
TARGET_ONLY_OPTIONS = {"codegen": ("brian2",), "noise": ("brian2",), "max_chips": ("loihi2",),
                       "weight_bits": ("loihi2",)}


def add_parsers(sub) -> None:
    """Register ``verify``."""
    p = sub.add_parser(
        "verify",
        help="check that targets classify exactly like the trained model (spikes, scores, classes)",
        description=textwrap.fill(
            "Run MODEL on each target and compare it, layer by layer, with the trained model (the reference "
            "forward pass): classification error side by side, samples that disagree, the first layer whose "
            "spikes differ and which neurons, output scores; plus spikes per layer, synaptic operations, "
            "latency, packed footprint and a Loihi energy estimate. Prints a table, writes JSON and a "
            "Markdown + HTML report with plots. Exit status 1 when any target differs (gate CI on it)."
        ),
        epilog=(
            "examples:\n"
            "  connttra-neuro verify model.ctn --data digits --targets reference,loihi2,brian2\n"
            "  connttra-neuro verify model.ctn --data fashion-mnist --n 1000 --out reports/fmnist\n"
            "  connttra-neuro verify model.ctn --data iris --targets brian2 --noise weight_sigma=0.2,seed=1\n"
            "exit status: 0 all targets exact, 1 some target differs or failed, 2 usage error"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    add_data_arguments(p, default_from_model=True)
    p.add_argument(
        "--targets",
        default=None,
        metavar="LIST",
        help="comma-separated registered targets, or module:Class for your own (docs/targets/writing.md; "
             "default: every registered target)",
    )
    add_target_option_arguments(p)
    # -o and --output as well: where train, predict and compare take their output (compare takes --out too)
    p.add_argument("-o", "--output", "--out", dest="out", metavar="DIR", help="report folder (default: "
                   "reports/verify/<model name>/: "
                   "digits.ctn's in reports/verify/digits/, digits.nir's in reports/verify/digits.nir/)")
    p.add_argument(
        "--json", metavar="FILE", help="also write the JSON report to FILE ('-' prints it instead of the table)"
    )
    p.add_argument(
        "--no-plots", action="store_true", help="skip the PNG plots (faster; JSON, Markdown and HTML still written)"
    )
    p.set_defaults(func=_verify)


# -- shared with deploy --------------------------------------------------------------------
DATA_HELP = ("built-in dataset (see `connttra-neuro datasets`) or a path: a .npz file, a folder of IDX files or "
             "CIFAR binary files, or an image folder (one folder per class)")
DATA_DEFAULT = "; default: the data the model was trained on, with its seed (its metadata dataset and seed)"


def add_data_arguments(p, *, default_from_model: bool) -> None:
    """The data options of evaluate, verify and deploy. ``default_from_model``: no --data means the model's own
    data (evaluate, verify); without it no --data means no data run (deploy)."""
    p.add_argument("--data", metavar="NAME", help=DATA_HELP + (DATA_DEFAULT if default_from_model else ""))
    p.add_argument("--data-path", metavar="DIR", help="directory of the IDX files for fashion-mnist or mnist")
    p.add_argument("--split", choices=("val", "train"), help="which part to run (default: val)")
    p.add_argument("--n", type=int, metavar="N", help="a seeded stratified subsample of N samples (default: all)")
    p.add_argument("--seed", type=int, help="seed of the dataset's split and subsample; use the one the model was "
                   "trained with (default: 0" + ("; without --data, the model's own)" if default_from_model else ")"))


def add_target_option_arguments(p) -> None:
    p.add_argument("--codegen", choices=("numpy", "cython"), help="brian2 only: code generation target")
    p.add_argument(
        "--noise",
        metavar="SPEC",
        help="brian2 only: seeded device non-idealities, e.g. weight_sigma=0.1,seed=3 (see docs/targets/brian2.md)",
    )
    # the loihi2 settings its limit messages name (a network too large for one chip, weights too wide)
    p.add_argument("--max-chips", type=int, metavar="N", help="loihi2 only: chips the network may span (default 1)")
    p.add_argument("--weight-bits", type=int, metavar="N", help="loihi2 only: synaptic weight bits (default 8)")
    # every command that runs a target takes it: train's and compare's bars have their own --no-progress
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bars (a target's run, reading a large image folder); messages still go to stderr "
                        "(bars are drawn only when stderr is a terminal)")


def data_from_model(args, network) -> None:
    """No --data given to evaluate or verify: the data the model was trained on (its metadata ``dataset``, a
    name or the absolute path train recorded), and, without --seed, the seed it was trained with, which for
    train is also the split's (seed 0's split may hold the model's training samples). Said in a note."""
    from . import UserError

    if args.data is not None:
        return
    recorded, seed = network.metadata.get("dataset"), network.metadata.get("seed")
    if not isinstance(recorded, str) or not recorded.strip():
        raise UserError(f"--data is needed: model {args.model} does not record the data it was trained on (its "
                        "metadata dataset); give --data NAME or the data's path")
    args.data = recorded
    with_seed = ""
    if args.seed is None and isinstance(seed, int) and not isinstance(seed, bool):
        args.seed, with_seed = seed, f" with seed {seed}"
    print(f"note: no --data: {recorded}{with_seed}, the data the model was trained on (its metadata)",
          file=sys.stderr)


def load_split(args, network):
    """``(X, y, dataset name)`` for the chosen split, checked against the model's feature count."""
    from connttra_neuro.verify.parity import model_classes

    from ..datasets import DatasetError, load_dataset
    from . import UserError

    if args.n is not None and args.n < 1:
        raise UserError(f"--n must be a positive number of samples, got {args.n}")
    model_classes(network)  # a malformed metadata classes is an error naming it, before the data is read
    if args.split is None:  # left as None by the parser, so deploy can tell --split given without --data
        args.split = "val"
    seed_given = args.seed is not None
    if not seed_given:
        args.seed = 0
    _reuse_data_path(args, network)
    # the other part left out (0): an image folder's training images are not decoded to evaluate on
    # validation (an ImageNet-size folder would not fit in memory)
    sub = {"n_train": args.n, "n_val": 0} if args.split == "train" else {"n_val": args.n, "n_train": 0}
    try:
        data = load_dataset(args.data, path=args.data_path, seed=args.seed, **sub)
    except DatasetError:
        if args.n is None:
            raise
        # Say it in the flag the user typed, not the library's n_train / n_val.
        full = load_dataset(args.data, path=args.data_path, seed=args.seed,
                            **{("n_val" if args.split == "train" else "n_train"): 0})
        size = len(full.y_train if args.split == "train" else full.y_val)
        if args.n <= size:
            raise
        raise UserError(f"--n {args.n}: the {args.split} split of {full.name} has only {size} samples") from None
    if not seed_given and data.seeded_split:  # data that come split hold no training samples in validation
        _note_training_seed(network, args.data)
    if data.class_names and network.n_features == 3 * data.n_features:
        # a colour model, and the image folder's part read alone is grey: the images read decide grey or
        # colour, so read both parts, as training did (no other mismatch can be fixed by reading more)
        data = load_dataset(args.data, path=args.data_path, seed=args.seed, **{k: v for k, v in sub.items() if v})
    _note_reading_changed(data)
    X, y = (data.X_train, data.y_train) if args.split == "train" else (data.X_val, data.y_val)
    if data.n_features != network.n_features:
        raise UserError(
            f"model {args.model} expects {network.n_features} features per sample but dataset {data.name} has "
            f"{data.n_features}; give --data of the kind the model was trained on"
            # the description says why: an image folder's size and colour (and the file that decided them)
            + (f" (the data: {data.description})" if data.description else "")
        )
    from ..inference import input_shape, same_shape

    shape = input_shape(network)
    if shape and data.input_shape and not same_shape(shape, data.input_shape):  # same count, other places
        raise UserError(
            f"model {args.model} was trained on samples of shape {shape} (height, width[, channels]; its metadata "
            f"input_shape) but dataset {data.name} holds samples of shape {data.input_shape}: the same "
            f"{network.n_features} features in other places; give --data of the kind the model was trained on"
            + (f" (the data: {data.description})" if data.description else ""))
    from ..inference import output_names, scale_note

    note = scale_note(network, X)
    if note:  # as predict warns: the parity holds on such data, but the accuracy says little of the model
        print(f"warning: --data {args.data}: {note}", file=sys.stderr)
    names = output_names(network)
    if names is not None and data.class_names:
        return X, _by_name(y, data.class_names, names), data.name
    if data.class_names and list(data.class_names) != [str(i) for i in range(len(data.class_names))]:
        # a model that records no class names (built-in digits, or fit in Python without class_names) cannot
        # be matched by name: the data's label i is taken as output i, which holds only if it was trained so
        shown = ", ".join(f"{i} {c}" for i, c in enumerate(data.class_names[:6]))
        print(f"note: the model records no class names, so {data.name}'s classes are read as its outputs by "
              f"position ({shown}{', ...' if len(data.class_names) > 6 else ''}): the error figures hold only if "
              f"it was trained on them in that order", file=sys.stderr)
    return X, as_output_indices(network, y), data.name


@contextlib.contextmanager
def scale_noted():
    """Run verify() without its warning of data on another scale than the model's: load_split has said it
    already, as a note naming --data, and Python's 'file:line: UserWarning: ...' would say it again."""
    import warnings

    from ..inference import ScaleWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScaleWarning)
        yield


def _reuse_data_path(args, network) -> None:
    """``--data mnist`` without ``--data-path`` for a model trained with one: the recorded folder (its
    metadata ``data_path``), said in a note. Only for a dataset that cannot be read without a path;
    one with a default place (fashion-mnist's Debian package) is read from there, as asked."""
    from ..datasets import builtin_datasets
    from ..network import thaw_metadata

    if getattr(args, "data_path", None) is not None:
        return
    meta = thaw_metadata(network.metadata)
    recorded, trained_on = meta.get("data_path"), meta.get("dataset")
    info = {d.name: d for d in builtin_datasets()}.get(args.data)
    if not isinstance(recorded, str) or trained_on != args.data or info is None or info.available()[0]:
        return
    if Path(recorded).is_dir():
        args.data_path = recorded
        print(f"note: reading {args.data} from {recorded}, the --data-path the model was trained with",
              file=sys.stderr)  # stdout may be --json


def _note_reading_changed(data) -> None:
    """An image folder holding photos with an EXIF orientation, or grey palette images, reads otherwise
    since 2026-12-06 (turned as a viewer shows them; one grey value per pixel). A model trained on them
    before then would be evaluated on images unlike its training images without any error (same pixel
    count), so say it; the model file records no loader version to tell."""
    import sys

    from .._image_folders import GREY_PALETTE_NOTE, TURNED_NOTE

    found = [what for note, what in ((TURNED_NOTE, f"images {TURNED_NOTE} (not as stored)"),
                                     (GREY_PALETTE_NOTE, f"{GREY_PALETTE_NOTE} (not as RGB)"))
             if note in data.description]
    if data.class_names and found:
        print(f"note: {data.name}: {' and '.join(found)}, as read since 2026-12-06; a model trained on them "
              f"before then saw them otherwise: retrain it", file=sys.stderr)


def _by_name(y, data_names, model_names):
    """Labels of a dataset whose classes are named otherwise than the model's outputs (another image
    folder: its classes are numbered by its own sorted folder names) as output indices, matched by
    name; a class the model does not know becomes ``n_classes`` (always wrong)."""
    import sys

    import numpy as np

    index = {n: i for i, n in enumerate(model_names)}
    lookup = np.array([index.get(n, len(model_names)) for n in data_names], dtype=np.int64)
    unknown = [n for n in data_names if n not in index]
    if unknown or not np.array_equal(lookup, np.arange(lookup.size)):  # same names, same order: nothing to say
        # names that differ only in case (Cat/ and cat/) are not matched: a guess could be wrong, a hint is not
        folded = {n.casefold(): n for n in model_names}
        hints = [f"{n} (the model has {folded[n.casefold()]})" for n in unknown if n.casefold() in folded]
        print("note: the data's classes are matched to the model's outputs by name"
              + (f"; {len(unknown)} the model does not know ({', '.join(unknown[:5])}) count as errors"
                 if unknown else "")
              + (f"; names differ only in case: {', '.join(hints[:5])}: rename the folders to match" if hints else ""),
              file=sys.stderr)
    return lookup[y]


def same_dataset(trained_on, data) -> bool:
    """Whether a model's metadata ``dataset`` names the data given now: the same name, or the same
    file or folder however spelled (``imgs``, ``imgs/``, an absolute path; train records paths
    absolute)."""
    import os

    if not isinstance(trained_on, str) or not isinstance(data, str):
        return False
    if trained_on == data:
        return True
    try:
        return os.path.exists(trained_on) and os.path.exists(data) and os.path.samefile(trained_on, data)
    except OSError:
        return False


def _note_training_seed(network, data: str) -> None:
    """`train --seed S` also draws the train/validation split, so a model trained with seed S checked
    on seed 0's validation split (the default) is partly checked on its training samples: say so. A
    --seed given is the user's choice and says nothing: the metadata's seed is the training seed, which a
    Python user may have chosen apart from the split's, and some data's split does not depend on it."""
    import sys

    seed, trained_on = network.metadata.get("seed"), network.metadata.get("dataset")
    if isinstance(seed, int) and not isinstance(seed, bool) and seed != 0 and same_dataset(trained_on, data):
        print(f"note: the model was trained with seed {seed} (its metadata); `train --seed {seed}` also draws the "
              f"train/validation split, and the split of seed 0 (the default) may hold its training samples: give "
              f"--seed {seed} to check it on its own split", file=sys.stderr)


def as_output_indices(network, y):
    """Dataset labels as the model's output indices.

    A model trained (in Python) on labels that are not 0..C-1, e.g. {0, 5, 9}, records them in its
    metadata (``classes``): its output ``c`` stands for ``classes[c]``. A label the model never
    learnt becomes ``n_classes`` (always wrong)."""
    import sys

    from connttra_neuro.verify.parity import label_classes, labels_to_outputs

    classes = label_classes(network)  # a malformed entry is an error naming it (it was a note, and the run went on)
    if classes is None:
        return y
    print(f"note: the model's outputs stand for labels {classes[:10]}{' ...' if len(classes) > 10 else ''}"
          f" (its metadata); labels mapped to output indices", file=sys.stderr)
    return labels_to_outputs(network, y)


def target_options(args, targets: list[str]) -> dict[str, dict]:
    """Constructor options per target from --codegen / --noise / --max-chips / --weight-bits; a clean
    error if one does not apply (a bad value is the target's own named error)."""
    from . import UserError

    chosen = {option: getattr(args, option) for option in TARGET_ONLY_OPTIONS}
    options: dict[str, dict] = {}
    for option, value in chosen.items():
        if value is None:
            continue
        takers = [t for t in TARGET_ONLY_OPTIONS[option] if t in targets]
        if not takers:
            raise UserError(
                f"--{option.replace('_', '-')} applies only to target {' or '.join(TARGET_ONLY_OPTIONS[option])}, "
                f"not to the chosen target(s): {', '.join(targets)}"
            )
        if option == "noise":
            from hardware_targets.brian2_edge import EdgeNoise

            text = value
            value = EdgeNoise.parse(value)
            if not value.active and text.strip().lower() not in ("", "none", "off"):  # said something, no fault
                print(f"note: --noise {text!r} sets no fault (weight_sigma, stuck_at_zero and threshold_jitter are "
                      f"all 0): the device is exact", file=sys.stderr)
        for t in takers:
            options.setdefault(t, {})[option] = value
    return options


def _say_refusals(network, names: list[str], options: dict, say) -> list[str]:
    """Say at once which chosen targets cannot hold the model (their limits, or their options), not
    after the others have run: the report still lists them as not run, as verify does. Returns them."""
    from hardware_targets.registry import get_target

    from . import UserError

    refused = {}
    for name in names:
        try:
            target = get_target(name, **options.get(name, {}))
        except Exception as err:  # a flag's bad value is the user's to fix now; anything else: not run
            if options.get(name):  # a target's own message may name it already ("loihi2: weight_bits ...")
                raise UserError(str(err) if str(err).startswith(f"{name}:") else f"{name}: {err}") from None
            refused[name] = f"note: {name} cannot be set up ({type(err).__name__}: {err})"
            continue
        try:
            target.check(network)
        except Exception as err:  # TargetLimitError, or whatever a target of the user's own raises
            refused[name] = f"note: {name} cannot run this model ({err})"
    for note in refused.values():
        say(note + ("; the others run, and the report lists it as not run" if len(refused) < len(names) else ""))
    return list(refused)


def parse_targets(text: str | None) -> list[str]:
    from hardware_targets.registry import target_class, target_names

    from . import UserError

    known = target_names()
    if text is None:
        return known
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise UserError("--targets needs at least one target name")
    unknown = [t for t in names if t not in known and ":" not in t]
    if unknown:
        raise UserError(f"unknown target(s) {', '.join(unknown)}; registered targets: {', '.join(known)}; your own "
                        f"target: module:Class (docs/targets/writing.md)")
    for spec in (t for t in names if ":" in t):  # imported now: a wrong one fails before the data load
        target_class(spec)  # UnknownTargetError (a KeyError): the command's one-line error
    return names


def _default_out(model: str) -> Path:
    """``reports/verify/NAME/``: a model file's name without ``.ctn``, any other file's whole name, so
    ``verify digits.ctn`` and then ``verify digits.nir`` (its export) keep both reports."""
    path = Path(model)
    name = path.stem if path.suffix.lower() in (".ctn", "") else path.name
    return Path("reports") / "verify" / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "model")


# -- command ----------------------------------------------------------------------------------
def _verify(args) -> int:
    import json
    import sys

    from ..modelfile import load
    from ..verify import verify, write_report
    from ..verify.report import REPORT_FILES, write_json

    network = load(args.model)
    data_from_model(args, network)
    names = parse_targets(args.targets)
    options = target_options(args, names)
    given = args.out if args.out is not None else str(_default_out(args.model))  # "" stays "": an error
    out = Path(given)
    if args.json is not None and args.json != "-" and str(args.json).strip() and given.strip():
        # first: a refusal must not follow a note that the report folder will be created
        check_distinct({"--json": args.json, **{f"the report's {name}": out / name for name in REPORT_FILES}},
                       {"the model file": args.model, "--data": args.data})
    check_writable(given, "--out", directory=True, quiet=args.out is None)  # before the targets run
    check_folder_outputs(out, "--out", REPORT_FILES)  # a user's parity.md is not ours
    if args.json is not None and args.json != "-":
        check_writable(args.json, "--json")
        check_replaceable(args.json, "--json", "parity-json")
    to_stdout = args.json == "-"
    say = (lambda m: print(m, file=sys.stderr)) if to_stdout else print  # the verdict: a result

    def progress(message: str) -> None:  # on stderr, as deploy and evaluate do: `verify > log` keeps the results
        print(message, file=sys.stderr, flush=True)

    refused = _say_refusals(network, names, options, progress)
    if len(refused) == len(names):  # nothing would run: loading the data and the trained model's pass were for nothing
        progress(f"verify: none of the chosen targets can run this model, so nothing was run (no data read, {out} is "
                 f"as it was)")
        say(f"verify: FAILED (did not run): {', '.join(names)}")
        return EXIT_MISMATCH
    X, y, data_name = load_split(args, network)
    progress(
        f"verify: {args.model} ({'-'.join(map(str, network.layer_sizes))}) "
        f"on {len(y):,} samples of {data_name} ({args.split})"
    )
    try:
        with scale_noted():
            report = verify(network, names, X, y, target_options=options, dataset=data_name, progress=progress,
                            y_are_outputs=True)  # load_split mapped the data's labels (by name or through classes)
    except KeyboardInterrupt:  # before main's "interrupted": nothing of this run was written
        progress(f"verify: stopped before its report was written: {out} is as it was")
        raise
    try:
        # one report at a time in a folder: two verifies into it at once (`--targets loihi2 &` and `--targets
        # brian2 &`, the default folder) left one run's parity.json beside the other's parity.md and plots
        with writing_report(out, "--out", "parity.json"):
            paths = write_report(
                report, out, title=f"Parity report: {Path(args.model).name} on {data_name}", plots=not args.no_plots
            )
    except KeyboardInterrupt:  # each file is whole (written atomically), but not all of them are this run's
        progress(f"verify: stopped while writing its report: {out} may hold this run's files beside an earlier "
                 "report's; run verify again to replace them all")
        raise
    except OSError as err:  # a full disk part way: the same mix, which the error alone did not say
        from . import UserError

        raise UserError(f"{err}; {out} may hold this run's files beside an earlier report's: run verify again "
                        "once the folder can be written, to replace them all") from None
    if args.json and not to_stdout:
        write_json(report, args.json)
    if to_stdout:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        # the blank line parts the table from the progress above it, which is on stderr: there too, so that
        # `verify ... > out.txt` starts with the table (nothing is printed to stdout before it)
        print(file=sys.stderr, flush=True)
        print(report.summary_table())
        print()
        print(f"report: {paths['html']}  (also {paths['markdown'].name}, {paths['json'].name})")
        if args.json:
            print(f"json:   {args.json}")
    stale = sorted(p.name for p in (Path(out) / "plots").glob("*.png")) if args.no_plots else []
    if stale:  # the report no longer shows them, but they sit beside it looking current
        progress(f"note: {Path(out) / 'plots'} holds plots of an earlier report ({', '.join(stale)}), "
            "not of this run (--no-plots); delete them or run without --no-plots")
    verdict = "all targets exact" if report.all_exact else "; ".join(
        f"{label}: {', '.join(names)}"
        for label, status in (("MISMATCH", "mismatch"), ("FAILED (did not run)", "failed"))
        if (names := [t.target for t in report.targets if t.status == status]))
    say(f"verify: {verdict}")
    return EXIT_EXACT if report.all_exact else EXIT_MISMATCH
