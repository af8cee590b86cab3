"""Commands about data and models at rest: ``datasets``, ``info``, ``evaluate``.

``evaluate`` runs a model on a registered target; the target module (and any
heavy runtime behind it) is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import textwrap
from typing import TYPE_CHECKING, Any

from . import MODEL_HELP

if TYPE_CHECKING:  # for the annotations only: numpy is imported inside the commands (see cli/__init__.py)
    import numpy as np

# Above this many classes the confusion matrix and per-class line get too wide to read;
# they are summarised instead (--json has them in full).
MAX_CLASSES_SHOWN = 20
# Above this many classes not even --json gets a confusion matrix (C*C counts).
MAX_CONFUSION_CLASSES = 1000


def _wrap(text: str) -> str:
    # RawDescriptionHelpFormatter keeps the examples' line breaks but does not wrap the description
    return textwrap.fill(text, width=79)


def add_parsers(sub) -> None:
    """Register ``datasets``, ``info`` and ``evaluate``."""
    p = sub.add_parser(
        "datasets",
        help="list the built-in datasets and how to bring your own",
        description=_wrap(
            "List the built-in datasets with their sizes (training / validation samples, features, classes) "
            "and whether each is available on this machine. Any other name given to --data is a path: "
            "a .npz file, a directory of IDX files, CIFAR-10/100 binary files, or an image folder (one folder of "
            "images per class)."
        ),
        epilog=(
            "examples:\n"
            "  connttra-neuro datasets\n"
            "  connttra-neuro datasets --json\n"
            "  connttra-neuro evaluate model.ctn --data features.npz"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of a table")
    p.set_defaults(func=_datasets)

    p = sub.add_parser(
        "info",
        help="describe a model file: layers, sparsity, storage, metadata",
        description=_wrap(
            "Describe a model file: layer sizes, the discrete weight set, encoder levels, sparsity per layer "
            "and overall, threshold and bias ranges, storage (packed bits per weight, bytes, and how much "
            "smaller than float32/float64), and the metadata saved with it (dataset, training settings, "
            "seed, metrics)."
        ),
        epilog="example:\n  connttra-neuro info model.ctn --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of text")
    p.set_defaults(func=_info)

    p = sub.add_parser(
        "evaluate",
        help="classification error of a model on a dataset, run on a target",
        description=_wrap(
            "Encode a dataset split with the model's own encoder, run it on a hardware target from the "
            "registry (default: the reference simulator), and print the classification error and accuracy, "
            "per-class accuracy and the confusion matrix."
        ),
        epilog=(
            "examples:\n"
            "  connttra-neuro evaluate model.ctn --data digits\n"
            "  connttra-neuro evaluate model.ctn --data fashion-mnist --n 2000\n"
            "  connttra-neuro evaluate model.ctn --data mnist --data-path ~/mnist --split train\n"
            "  connttra-neuro evaluate model.ctn --data features.npz --json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    from .verify import add_data_arguments, add_target_option_arguments

    add_data_arguments(p, default_from_model=True)  # --data, --data-path, --split, --n, --seed: as verify's
    p.add_argument("--target", default="reference", metavar="NAME",
                   help="registered target to run on, or module:Class for your own (default: reference)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of text")
    add_target_option_arguments(p)  # --max-chips, --weight-bits, --codegen, --noise, as deploy and verify take
    p.set_defaults(func=_evaluate)


# -- datasets -----------------------------------------------------------------------------
def _datasets(args) -> int:
    from ..datasets import builtin_datasets

    rows = []
    for info in builtin_datasets():
        ok, note = info.available()
        rows.append(
            {
                "name": info.name,
                "train": info.n_train,
                "val": info.n_val,
                "features": info.n_features,
                "classes": info.n_classes,
                "available": ok,
                "note": note,
                "source": info.source,
            }
        )
    if args.json:
        print(json.dumps({"datasets": rows}, indent=2))
        return 0
    header = ("name", "train", "val", "features", "classes", "available", "source")
    table = [header] + [
        (
            r["name"],
            f"{r['train']:,}",
            f"{r['val']:,}",
            str(r["features"]),
            str(r["classes"]),
            "yes" if r["available"] else f"no: {r['note']}",
            r["source"],
        )
        for r in rows
    ]
    print(_format_table(table, right=(1, 2, 3, 4)))
    print(
        "\nBring your own data: give a path instead of a name (--data PATH, load_dataset(PATH)).\n"
        "  FILE.npz  arrays X_train, y_train, X_val, y_val (or X_test, y_test as validation),\n"
        "            or X, y (split 80/20, stratified, by --seed); X numeric (n, features), y class indices 0..C-1\n"
        "  DIR/      IDX files train-images-idx3-ubyte + train-labels-idx1-ubyte, and t10k-images-idx3-ubyte +\n"
        "            t10k-labels-idx1-ubyte as validation (else an 80/20 split); each may be .gz\n"
        "  DIR/      CIFAR-10 or CIFAR-100 binary version, extracted: data_batch_*.bin + test_batch.bin, or\n"
        "            train.bin + test.bin (fine labels); DIR or the folder holding cifar-10-batches-bin/\n"
        "  DIR/      image files (PNG, JPEG, ...) in one folder per class: DIR/train/<class>/ and DIR/val/<class>/\n"
        "            (ImageNet's training-set layout), or DIR/<class>/ (split 80/20); one image size; classes\n"
        "            numbered by sorted folder name\n"
        "  fashion-mnist: apt-get install dataset-fashion-mnist, or --data-path DIR\n"
        "  mnist: --data-path DIR holding the four MNIST IDX files\n"
        "See docs/datasets.md."
    )
    return 0


def _format_table(rows, right=()) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [
            str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# -- info ------------------------------------------------------------------------------------
def _range(values: np.ndarray) -> list[int] | None:
    return [int(values.min()), int(values.max())] if values.size else None


def describe_model(network, path: str | None = None) -> dict:
    """Everything ``info`` prints, as a JSON-ready dict."""
    import numpy as np  # here, not at the top: --help and the parser load no numpy (see cli/__init__.py)

    from ..modelfile import storage_report
    from ..network import thaw_metadata

    t = network.encoder.thresholds
    finite = t[np.isfinite(t)]
    layers = []
    for name, layer in network.named_layers():
        w = layer.weights
        zeros = int(np.count_nonzero(w == 0))
        entry = {
            "name": name,
            "neurons": int(w.shape[0]),
            "inputs": int(w.shape[1]),
            "weights": int(w.size),
            "zeros": zeros,
            "sparsity": zeros / w.size,
        }
        if hasattr(layer, "thresholds"):
            entry["threshold_range"] = _range(layer.thresholds)
        else:
            entry["bias_range"] = _range(layer.biases)
        layers.append(entry)
    return {
        "file": path,
        "layer_sizes": list(network.layer_sizes),
        "n_features": network.n_features,
        "n_inputs": network.n_inputs,
        "n_classes": network.n_classes,
        "n_weight_layers": network.n_weight_layers,
        "discrete_set": list(network.discrete_set),
        "encoder": {
            "features": network.encoder.n_features,
            "levels": network.encoder.levels,
            "threshold_range": [float(finite.min()), float(finite.max())] if finite.size else None,
            "never_firing_levels": int(np.count_nonzero(t == np.inf)),
            "always_firing_levels": int(np.count_nonzero(t == -np.inf)),
        },
        "layers": layers,
        "sparsity": network.sparsity,
        # the file's own size when there is one (storage_report re-serialises the network)
        "storage": {**storage_report(network), **({"model_file_bytes": os.path.getsize(path)} if path else {})},
        "metadata": thaw_metadata(network.metadata),
    }


def _set_name(dset: list[int]) -> str:
    names = {(-1, 0, 1): "ternary", (-1, 1): "binary"}
    label = names.get(tuple(dset))
    return "{" + ", ".join(map(str, dset)) + "}" + (f" ({label})" if label else "")


def _pretty(value: Any, indent: int = 2) -> list[str]:
    """Nested metadata as indented ``key: value`` lines; short lists of scalars inline."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict) and v:
                lines.append(f"{pad}{k}:")
                lines += _pretty(v, indent + 2)
            elif isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v):
                lines.append(f"{pad}{k}:")
                # a long list (a checkpoint's per-sweep history) by its ends: hundreds of lines help nobody
                shown = range(len(v)) if len(v) <= 6 else [0, 1, None, len(v) - 2, len(v) - 1]
                for i in shown:
                    if i is None:
                        lines.append(f"{pad}  ... {len(v) - 4} more (info --json shows all)")
                        continue
                    lines.append(f"{pad}  [{i}]")
                    lines += _pretty(v[i], indent + 4)
            else:
                lines.append(f"{pad}{k}: {_scalar(v)}")
    else:
        lines.append(f"{pad}{_scalar(value)}")
    return lines


def _scalar(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list) and len(v) > 12:  # 1,000 ImageNet class names on one line help nobody
        return ("[" + ", ".join(_scalar(x) for x in v[:5]) + f", ... {len(v) - 10} more ..., "
                + ", ".join(_scalar(x) for x in v[-5:]) + "] (info --json shows all)")
    if isinstance(v, list):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{}"
    return str(v)


def _info(args) -> int:
    from ..modelfile import load

    network = load(args.model)
    d = describe_model(network, str(args.model))
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    enc, st = d["encoder"], d["storage"]
    sizes = " -> ".join(str(s) for s in d["layer_sizes"][1:-1])
    print(f"model      {args.model}")
    print(
        f"network    {d['n_features']} features -> {d['n_inputs']} input spikes -> "
        + (f"{sizes} -> " if sizes else "")
        + f"{d['n_classes']} class{'es' if d['n_classes'] != 1 else ''} "
        + f"({d['n_weight_layers']} weight layer{'s' if d['n_weight_layers'] > 1 else ''})"
    )
    print(f"weights    {_set_name(d['discrete_set'])}")
    trange = enc["threshold_range"]
    print(
        f"encoder    thermometer, {enc['features']} features x {enc['levels']} level(s); thresholds "
        + (f"{trange[0]:.6g} .. {trange[1]:.6g}" if trange else "none finite")
        + (f"; {enc['never_firing_levels']} level(s) never fire (+inf)" if enc["never_firing_levels"] else "")
        + (f"; {enc['always_firing_levels']} level(s) always fire (-inf)" if enc["always_firing_levels"] else "")
    )
    print()
    table = [("layer", "shape", "weights", "zeros", "sparsity", "thresholds / biases")]
    for layer in d["layers"]:
        if "threshold_range" in layer:
            lo, hi = layer["threshold_range"]
            params = f"thresholds {lo} .. {hi}"
        else:
            lo, hi = layer["bias_range"]
            params = f"biases {lo} .. {hi}"
        table.append(
            (
                layer["name"],
                f"{layer['neurons']} x {layer['inputs']}",
                f"{layer['weights']:,}",
                f"{layer['zeros']:,}",
                f"{layer['sparsity']:.1%}",
                params,
            )
        )
    total_zeros = sum(layer["zeros"] for layer in d["layers"])
    table.append(("overall", "", f"{st['n_weights']:,}", f"{total_zeros:,}", f"{d['sparsity']:.1%}", ""))
    print(_format_table(table, right=(2, 3, 4)))
    print()
    print(
        f"storage    weights: {st['bits_per_weight']:.2f} bits/weight, {st['weights_packed_bytes']:,} bytes packed\n"
        f"           {st['weights_ratio_float32']:.1f}x smaller than float32 ({st['weights_float32_bytes']:,} bytes), "
        f"{st['weights_ratio_float64']:.1f}x smaller than float64 ({st['weights_float64_bytes']:,} bytes)"
    )
    print(
        f"           model file: {st['model_file_bytes']:,} bytes for {st['n_parameters']:,} parameters "
        f"(float32: {st['model_float32_bytes']:,} bytes, float64: {st['model_float64_bytes']:,} bytes)"
    )
    print("metadata" + ("" if d["metadata"] else "   (none)"))
    for line in _pretty(d["metadata"]):
        print(line)
    return 0


# -- evaluate -------------------------------------------------------------------------------
@contextlib.contextmanager
def _plugin_errors(target: str):
    """Whatever a target of the user's own raises (module:Class) as the command's one-line error, as
    verify reports it; the toolkit's own errors (ValueError, OSError, ...) pass on unchanged."""
    from . import UserError

    try:
        yield
    except (UserError, ValueError, OSError, KeyError, MemoryError):
        raise
    except Exception as err:  # KeyboardInterrupt is no Exception: Ctrl-C still stops the command
        raise UserError(f"--target {target}: {type(err).__name__}: {err}") from err


def _evaluate(args) -> int:
    import numpy as np

    from connttra_neuro.verify.parity import broken_result, label_classes
    from hardware_targets.registry import get_target

    from ..inference import output_names
    from ..modelfile import load
    from . import UserError
    from .verify import data_from_model, load_split, parse_targets, same_dataset, target_options

    network = load(args.model)
    data_from_model(args, network)
    if "," in args.target:
        raise UserError("--target takes one target name; use `connttra-neuro verify --targets a,b` for several")
    (name,) = parse_targets(args.target)
    options = target_options(args, [name]).get(name, {})
    with _plugin_errors(args.target):
        target = get_target(name, **options)  # a wrong name fails before the data load
        target.check(network)  # TargetLimitError: one line, exit 2, as deploy says it
    X, y, data_name = load_split(args, network)
    spikes = network.encode(X)
    print(f"evaluate: running {len(y):,} samples on {args.target} ...", file=sys.stderr, flush=True)  # stdout: --json
    with _plugin_errors(args.target):
        result = target.run(target.compile(network), spikes)
    broken = broken_result(result)
    if broken:  # a target of the user's own that breaks the contract: say what to return, no traceback
        raise UserError(f"--target {args.target}: {broken}")
    predictions = np.asarray(result.predictions, dtype=np.int64)
    report = classification_report(y, predictions, network.n_classes)
    # a model trained on labels that are not 0..C-1 (metadata "classes"): load_split mapped the labels
    # to output indices, the model's unknown ones to n_classes; name rows by the labels again
    classes = label_classes(network)
    mapped = classes is not None
    names = [str(c) for c in classes] if mapped else [str(c) for c in range(len(report["per_class_accuracy"]))]
    if mapped:
        names += ["other"] * (len(report["per_class_accuracy"]) - len(names))  # labels the model never learnt
        report["class_labels"] = names
    named = output_names(network)  # an image folder's class names, one per output
    if named is not None:
        names = named + ["other"] * (len(report["per_class_accuracy"]) - len(named))
        report["class_names"] = names
    report.update(
        model=str(args.model),
        data=data_name,
        split=args.split,
        seed=args.seed,
        target=args.target,
        n_features=network.n_features,  # load_split checked the data's
    )
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"model      {args.model} ({'-'.join(map(str, network.layer_sizes))})")
    print(f"data       {data_name}, {args.split} split, {report['n_samples']:,} samples (seed {args.seed})")
    print(f"target     {args.target}")
    trained_on = network.metadata.get("dataset")
    if isinstance(trained_on, str) and not same_dataset(trained_on, data_name):
        print(f"note       the model's metadata says it was trained on {trained_on!r}")
    unseen = report["labels_beyond_model"]
    if unseen and named is not None:
        print(f"note       {unseen} sample(s) are of a class the model does not know: always wrong (row 'other')")
    elif unseen and mapped:
        print(f"note       {unseen} sample(s) have a label that is none of the model's classes "
              f"{classes[:10]}: always wrong (row 'other')")
    elif unseen:
        print(f"note       {unseen} sample(s) have a label >= the model's {network.n_classes} classes: always wrong")
    print(f"error      {report['error']:.2%}  ({report['n_errors']:,} of {report['n_samples']:,} misclassified)")
    print(f"accuracy   {report['accuracy']:.2%}")
    per_class = report["per_class_accuracy"]
    n_classes = len(per_class)
    if n_classes <= MAX_CLASSES_SHOWN:
        cells = [f"{names[c]}: {'-' if a is None else f'{a:.1%}'}" for c, a in enumerate(per_class)]
        print("per class  " + "  ".join(cells))
        print("\nconfusion matrix (rows: true class, columns: predicted class)")
        print(_confusion_text(np.array(report["confusion"]), names))
    else:
        known = [a for a in per_class if a is not None]
        print(
            f"per class  {n_classes} classes: min {min(known):.1%}, median {float(np.median(known)):.1%}, "
            f"max {max(known):.1%} (every class with --json)"
        )
    return 0


def classification_report(y: np.ndarray, predictions: np.ndarray, n_classes: int) -> dict:
    """Error, accuracy, per-class accuracy (None for a class with no samples) and confusion matrix.

    ``confusion[i][j]`` counts samples of true class ``i`` predicted as ``j``; it is None above
    :data:`MAX_CONFUSION_CLASSES` classes (it would not fit in memory or on screen).
    """
    import numpy as np

    y = np.asarray(y, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    size = int(max(n_classes, y.max() + 1 if y.size else 0))
    support = np.bincount(y, minlength=size)
    correct = np.bincount(y[predictions == y], minlength=size)
    confusion = None
    if size <= MAX_CONFUSION_CLASSES:
        confusion = np.zeros((size, size), dtype=np.int64)
        np.add.at(confusion, (y, predictions), 1)
        confusion = confusion.tolist()
    n_errors = int(np.count_nonzero(predictions != y))
    return {
        "n_samples": int(y.size),
        "n_errors": n_errors,
        "error": n_errors / y.size,
        "accuracy": (y.size - n_errors) / y.size,
        "per_class_accuracy": [float(c / s) if s else None for c, s in zip(correct, support, strict=True)],
        "confusion": confusion,
        "labels_beyond_model": int(np.count_nonzero(y >= n_classes)),
    }


def _confusion_text(confusion: np.ndarray, names: list[str] | None = None) -> str:
    n = confusion.shape[0]
    names = names or [str(i) for i in range(n)]
    rows = [("true\\pred", *names)]
    rows += [(names[i], *map(str, confusion[i])) for i in range(n)]
    return _format_table(rows, right=tuple(range(n + 1)))
