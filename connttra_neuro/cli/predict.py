"""``connttra-neuro predict``: classify new, unlabelled data with a saved model.

Inputs are image files and folders of images, read exactly as training read an image folder, or one
``.npz`` / ``.npy`` file of feature rows. Each row's output index is mapped to the label the model
records for it (metadata ``classes``) and, where the model has them, to its class name.
"""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
from pathlib import Path

from . import MODEL_HELP, UserError, check_distinct, check_replaceable, check_writable

# The CSV's first bytes: -o replaces only a file that starts so (one this command wrote).
CSV_HEADER = ("input", "output", "label")
CSV_SIGNATURE = ",".join(CSV_HEADER).encode()
# Rows printed without -o; the rest are counted (a folder of 50,000 images would scroll for minutes).
MAX_ROWS_SHOWN = 50
ARRAY_SUFFIXES = (".npz", ".npy")


def add_parsers(sub) -> None:
    """Register ``predict``."""
    p = sub.add_parser(
        "predict",
        help="classify new data (image files, folders of images, or .npz/.npy feature rows) with a model",
        description=textwrap.fill(
            "Classify new, unlabelled data with MODEL on a target (default: the reference simulator) and "
            "print or write one row per sample: the input (file, or row index of an array), the output index, "
            "the label it stands for (the model's training labels) and, when the model records them (trained "
            "on an image folder), the class name. Images are read exactly as training read the image folder "
            "(EXIF orientation, grey palettes, RGB order); they must have the size the model was trained on.",
            width=79,
        ),
        epilog=(
            "examples:\n"
            "  connttra-neuro predict model.ctn new_photos/ -o predictions.csv\n"
            "  connttra-neuro predict model.ctn cat1.png cat2.png\n"
            "  connttra-neuro predict model.ctn features.npz --target loihi2\n"
            "  connttra-neuro predict model.ctn new_photos/ -o -        # the whole CSV on stdout\n"
            "INPUT: image files and folders of images (every image file under a folder, sorted), or one .npz\n"
            "(array X, or X_test) or .npy file of feature rows (n_samples, n_features); no labels needed"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("inputs", metavar="INPUT", nargs="*",
                   help="image files or folders of images, or one .npz / .npy file of feature rows")
    p.add_argument("-o", "--output", metavar="FILE",
                   help=f"write the predictions as CSV ({', '.join(CSV_HEADER)}[, class_name]); '-' prints the "
                        f"CSV (default: a table of the first {MAX_ROWS_SHOWN} rows)")
    p.add_argument("--target", default="reference", metavar="NAME",
                   help="registered target to run on, or module:Class for your own (default: reference)")
    from .verify import add_target_option_arguments

    add_target_option_arguments(p)  # --codegen, --noise, --max-chips, --weight-bits, as evaluate takes them
    p.set_defaults(func=_predict)


def _predict(args) -> int:
    from hardware_targets.registry import get_target

    from ..inference import output_labels, output_names, predict_outputs, scale_note
    from .data import _plugin_errors
    from .verify import parse_targets, target_options

    network = _load_model(args)
    labels_of = output_labels(network)  # a malformed metadata classes: said before any input is read or run
    if not args.inputs:
        raise UserError("no inputs: give image files, folders of images, or one .npz / .npy file of feature rows "
                        "after MODEL")
    if "," in args.target:
        raise UserError("--target takes one target name")
    (name,) = parse_targets(args.target)
    options = target_options(args, [name]).get(name, {})
    with _plugin_errors(args.target):
        target = get_target(name, **options)  # a wrong name or limit fails before the inputs are read
        target.check(network)
    to_file = args.output not in (None, "-")
    if to_file:  # before any long work: reading a folder of images, a Lava run
        check_distinct({"-o": args.output}, {"the model file": args.model,
                                             **{f"input {p}": p for p in args.inputs}})
        check_writable(args.output, "-o")
        check_replaceable(args.output, "-o", CSV_SIGNATURE)
    try:
        X, inputs = _read_inputs(args.inputs, network, args.model)
        note = scale_note(network, X)
        if note:
            print(f"warning: {note}", file=sys.stderr)
        print(f"predict: running {len(X):,} sample(s) on {args.target} ...", file=sys.stderr, flush=True)
        with _plugin_errors(args.target):
            outputs = predict_outputs(network, X, target)
    except KeyboardInterrupt:  # before main's "interrupted": the CSV is written only at the end, whole
        if to_file:
            print(f"predict: stopped before its predictions were written: -o {args.output} is as it was",
                  file=sys.stderr)
        raise
    labels, names = labels_of[outputs], output_names(network)
    header = [*CSV_HEADER, *(["class_name"] if names is not None else [])]
    rows = [[str(i), str(o), str(label), *([names[o]] if names is not None else [])]
            for i, o, label in zip(inputs, outputs.tolist(), labels.tolist(), strict=True)]
    if args.output is None:
        _print_table(header, rows)
    elif args.output == "-":
        sys.stdout.write(_csv(header, rows))
    else:
        from .._atomic import write_text

        write_text(args.output, _csv(header, rows))
        print(f"predict: {len(rows):,} prediction(s) written to {args.output} ({_tally(rows, header)})")
    return 0


def _load_model(args):
    """The model file, with a hint when MODEL and an INPUT look swapped (``predict photo.png model.ctn``)."""
    from ..modelfile import ModelFileError, load

    try:
        return load(args.model)
    except ModelFileError as err:
        if any(str(p).lower().endswith((".ctn", ".nir")) for p in args.inputs):  # a model file among the inputs
            raise UserError(f"{err}; MODEL comes first: connttra-neuro predict MODEL INPUT ...") from None
        raise


def _read_inputs(inputs: list[str], network, model: str):
    """``(X, what names each row)``: the image files read as training read them, or one array file's rows."""
    arrays = [p for p in inputs if Path(p).suffix.lower() in ARRAY_SUFFIXES]
    if arrays and len(inputs) > 1:
        raise UserError(f"give one .npz or .npy file of feature rows, or image files and folders, not "
                        f"{'several array files' if len(arrays) > 1 else 'both'} ({', '.join(inputs[:4])}"
                        f"{', ...' if len(inputs) > 4 else ''})")
    if arrays:
        X = _read_rows(Path(arrays[0]), network.n_features)
        n = math.prod(X.shape[1:])
        if n != network.n_features:
            raise UserError(f"{arrays[0]}: rows of {n:,} features, but model {model} takes "
                            f"{network.n_features:,}; give features of the kind it was trained on")
        from ..inference import check_features

        try:
            X = check_features(network, X)  # NaN, text, a shape unlike training's: said of the file, not of "X"
        except ValueError as err:
            raise UserError(f"{arrays[0]}: {err}") from None
        return X, range(len(X))
    from .._image_folders import images_name, read_image_files
    from ..inference import input_shape

    X, files, skipped, what = read_image_files(inputs, images_name(inputs), n_features=network.n_features,
                                               input_shape=input_shape(network))
    note = (f"; skipped {len(skipped)} file(s) that are not images by their extension, e.g. {skipped[0]}"
            if skipped else "")
    print(f"predict: {len(files):,} image(s), {what}{note}", file=sys.stderr)
    return X, files


def _read_rows(path: Path, n_features: int):
    """The feature rows of an ``.npz`` (array ``X``, else ``X_test``) or ``.npy`` file: numbers, one sample
    per row of the first axis (2-D rows, or samples of more dimensions such as ``(n, 28, 28)``); the model
    takes ``n_features`` per sample."""
    import zipfile
    import zlib

    import numpy as np

    from ..datasets import DatasetError, _check_npz_signature
    from ..network import not_2d

    try:
        _check_npz_signature(path)  # names a CSV, a gzip or an IDX file given by mistake
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: is a folder; a folder of images needs a name without .npz / .npy") from None
    except (OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile) as err:
        raise DatasetError(f"{path}: not a readable .npz or .npy file ({err})") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            # x, x_test: Keras's mnist.npz spelling, as load_npz reads it
            key = next((k for k in ("X", "X_test", "x", "x_test") if k in loaded.files), None)
            if key is None:
                shown = sorted(loaded.files)
                raise DatasetError(f"{path}: expected an array X (or X_test, x, x_test) of feature rows; arrays found: "
                                   f"{', '.join(shown[:10]) or 'none'}{', ...' if len(shown) > 10 else ''}")
            try:
                X, where, name = loaded[key], f"{path}: array {key}", key
            except (ValueError, OSError, EOFError, zlib.error, zipfile.BadZipFile) as err:
                raise DatasetError(f"{path}: array {key} cannot be read ({err})") from None
    else:
        X, where, name = loaded, str(path), "X"
    if X.dtype.kind not in "biuf":
        raise DatasetError(f"{where} must hold numbers, got dtype {X.dtype}")
    if X.ndim < 2:  # saved so again (np.save(path, X[None])), as predict takes X in Python
        raise DatasetError(f"{path}: {not_2d(name, X.shape, n_features)}")
    if X.shape[0] == 0:
        raise DatasetError(f"{where} has no rows (shape {X.shape})")
    return X  # images (n, 28, 28) stay so: check_features compares their shape with the model's, then flattens


def _csv(header: list[str], rows: list[list[str]]) -> str:
    import csv
    import io

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue()


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    from .data import _format_table

    shown = rows[:MAX_ROWS_SHOWN]
    print(_format_table([header, *shown], right=(1,)))
    if len(rows) > len(shown):
        print(f"... {len(rows) - len(shown):,} more row(s), {len(rows):,} in all: -o FILE writes every row as CSV "
              f"(-o - prints it)")
    print(f"predict: {len(rows):,} prediction(s) ({_tally(rows, header)})", file=sys.stderr)


def _tally(rows: list[list[str]], header: list[str]) -> str:
    """How many rows each predicted class got, most first (the first few): a quick look at the run."""
    from collections import Counter

    column = len(header) - 1  # the class name where there is one, else the label
    counts = Counter(row[column] for row in rows).most_common()
    shown = ", ".join(f"{label}: {n:,}" for label, n in counts[:8])
    return shown + (f", {len(counts) - 8} more class(es)" if len(counts) > 8 else "")
