"""CIFAR-10 and CIFAR-100 in their binary version (``cifar-10-binary.tar.gz``, ``cifar-100-binary.tar.gz``
from the CIFAR page, extracted): the format those datasets are exchanged in besides Python pickles,
which we never load (unpickling runs code).

CIFAR-10 (``cifar-10-batches-bin/``): ``data_batch_1.bin`` .. ``data_batch_5.bin`` (training) and
``test_batch.bin`` (validation), records of 1 label byte and 3,072 pixel bytes; ``batches.meta.txt``
names the classes. CIFAR-100 (``cifar-100-binary/``): ``train.bin`` and ``test.bin``, records of a
coarse and a fine label byte and the pixels; the fine labels (100 classes, ``fine_label_names.txt``)
are the classes. A record's pixels are channels first (1,024 red, then green, then blue, each row by
row); rows here are (row, column, channel), as the image-folder loader reads a 32x32 PNG of the same
image, so a model trained here classifies new images read by ``read_images`` correctly.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .datasets import VAL_FRACTION, Dataset, DatasetError, _split, _subsample, _subsample_note

SIDE, CHANNELS = 32, 3
PIXELS = SIDE * SIDE * CHANNELS
#: The folders the CIFAR archives extract to; a folder holding one of them is read through it.
FOLDERS = ("cifar-10-batches-bin", "cifar-100-binary")
# kind -> (training files (a pattern for CIFAR-10's numbered batches), validation file, label bytes, classes,
#          class names file)
_KINDS = {
    "CIFAR-10": (r"data_batch_\d+\.bin", "test_batch.bin", 1, 10, "batches.meta.txt"),
    "CIFAR-100": (r"train\.bin", "test.bin", 2, 100, "fine_label_names.txt"),
}


def _kind(directory: Path) -> str | None:
    """Which CIFAR ``directory`` holds, by its file names. CIFAR-100's ``train.bin`` / ``test.bin`` are
    names other data use too, so they count beside its label names file or at its record size only: a
    loose ``test.bin`` beside the class folders of an image dataset keeps that an image folder."""
    names = {p.name for p in directory.iterdir() if p.is_file()}
    for kind, (train, val, label_bytes, _, names_file) in _KINDS.items():
        found = [n for n in names if n == val or re.fullmatch(train, n)]
        if not found:
            continue
        if kind == "CIFAR-10" or names_file in names or any(
                (directory / n).stat().st_size % (label_bytes + PIXELS) == 0 for n in found):
            return kind
    return None


def cifar_folder(directory: Path) -> Path | None:
    """The folder holding CIFAR binary files: ``directory`` itself, or the one archive folder inside it
    (``~/data/`` holding ``cifar-10-batches-bin/``); None when it holds none. The Python version (pickles)
    is an error saying to bring the binary one."""
    if _kind(directory):
        return directory
    inside = [directory / f for f in FOLDERS if (directory / f).is_dir()]
    if len(inside) > 1:
        raise DatasetError(f"{directory}: holds both {inside[0].name}/ and {inside[1].name}/; give the one to read")
    if inside and _kind(inside[0]):
        return inside[0]
    pickled = _pickled(directory)
    if pickled:
        kind, what = pickled
        binary = "cifar-10-binary.tar.gz" if kind == "CIFAR-10" else "cifar-100-binary.tar.gz"
        raise DatasetError(f"{directory}: holds {kind}'s Python version ({what}): pickles, which are never loaded "
                           f"(unpickling runs code); download the binary version, {binary} from "
                           f"https://www.cs.toronto.edu/~kriz/cifar.html, extract it and give the folder it makes")
    return None


def _pickled(directory: Path) -> tuple[str, str] | None:
    """``(kind, what was found)`` when ``directory`` holds CIFAR's Python version (``cifar-10-batches-py/``:
    ``data_batch_1`` .., ``batches.meta``; ``cifar-100-python/``: ``train``, ``test``, ``meta``) or the
    folder it extracts to; else None. Without this, it was said to lack IDX files or class folders."""
    names = {p.name for p in directory.iterdir() if p.is_file()}
    batches = sorted(n for n in names if re.fullmatch(r"data_batch_\d+|test_batch|batches\.meta", n))
    if batches:
        return "CIFAR-10", ", ".join(batches[:3]) + (" .." if len(batches) > 3 else "")
    if {"train", "meta"} <= names:
        return "CIFAR-100", "train, meta"
    for folder, kind in (("cifar-10-batches-py", "CIFAR-10"), ("cifar-100-python", "CIFAR-100")):
        if (directory / folder).is_dir():
            return kind, f"{folder}/"
    return None


def _records(path: Path, label_bytes: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(pixels (n, 3072) uint8, labels)`` of one binary batch, checked: whole records, labels in range."""
    size = label_bytes + PIXELS
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as err:  # a folder or a broken link named like a batch, a file without read permission
        raise DatasetError(f"{path}: cannot read this CIFAR batch ({err.strerror or err})") from None
    if raw.size == 0 or raw.size % size:
        whole = raw.size // size
        raise DatasetError(f"{path}: {raw.size:,} bytes is not a whole number of {size:,}-byte records "
                           f"({label_bytes} label byte(s) and {PIXELS:,} pixels each): "
                           + (f"truncated after record {whole:,}, or not a CIFAR binary file" if raw.size else
                              "the file is empty"))
    records = raw.reshape(-1, size)
    labels = records[:, label_bytes - 1].astype(np.int64)  # CIFAR-100: the fine label, after the coarse one
    bad = np.nonzero(labels >= n_classes)[0]
    if bad.size:
        raise DatasetError(f"{path}: record {bad[0]:,} (counting from 0) has label {labels[bad[0]]}, but this "
                           f"format has {n_classes} classes (0..{n_classes - 1}): a damaged file, or one of the other "
                           f"CIFAR's")
    return records[:, label_bytes:], labels


def _class_names(path: Path, n_classes: int) -> tuple:
    """The class names file's non-empty lines, when it names every class (else none: labels only)."""
    try:
        names = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        return ()
    names = [n for n in names if n]
    return tuple(names) if len(names) == n_classes and len(set(names)) == n_classes else ()


def _as_rows(pixels: np.ndarray) -> np.ndarray:
    """Channels-first records as (row, column, channel) rows: a PNG of the image reads the same."""
    return pixels.reshape(-1, CHANNELS, SIDE, SIDE).transpose(0, 2, 3, 1).reshape(len(pixels), PIXELS)


def load_cifar(directory: Path, name: str, seed: int, n_train: int | None, n_val: int | None) -> Dataset:
    """A :class:`Dataset` from a folder of CIFAR-10 or CIFAR-100 binary files (module docstring)."""
    kind = _kind(directory)
    train_pattern, val_name, label_bytes, n_classes, names_file = _KINDS[kind]
    train_files = sorted((p for p in directory.iterdir() if re.fullmatch(train_pattern, p.name)),
                         key=lambda p: [int(d) for d in re.findall(r"\d+", p.name)])
    if not train_files:
        raise DatasetError(f"{name}: {directory} holds {val_name} but no training batches "
                           f"({'data_batch_1.bin ..' if kind == 'CIFAR-10' else 'train.bin'}); the {kind} "
                           f"binary archive extracts both")
    parts = [_records(p, label_bytes, n_classes) for p in train_files]
    X, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    shown = train_files[0].name if len(train_files) == 1 else f"{train_files[0].name} .. {train_files[-1].name}"
    if (directory / val_name).is_file():
        X_val, y_val = _records(directory / val_name, label_bytes, n_classes)
        how = f"{shown} ({len(y):,}) for training, {val_name} ({len(y_val):,}) for validation"
        seeded = False
    else:
        X, y, X_val, y_val = _split(X, y, seed, name)
        how = f"{shown} split {1 - VAL_FRACTION:.0%}/{VAL_FRACTION:.0%} (stratified, seed {seed}; no {val_name})"
        seeded = True
    # subsample the bytes: 50,000 images are 150 MB as uint8, 600 MB as float32
    X, y = _subsample(X, y, n_train, seed, 1, "n_train", name)
    X_val, y_val = _subsample(X_val, y_val, n_val, seed, 2, "n_val", name)
    class_names = _class_names(directory / names_file, n_classes)
    labels = "fine labels, " if kind == "CIFAR-100" else ""
    return Dataset(name, _as_rows(X), y, _as_rows(X_val), y_val,
                   f"{kind} binary files in {directory}: {how}; {labels}32x32 RGB as (row, column, channel)"
                   f"{_subsample_note(n_train, n_val, seed)}", class_names, seeded_split=seeded,
                   input_shape=(SIDE, SIDE, CHANNELS))
