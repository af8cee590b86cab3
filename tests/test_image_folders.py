"""Image folders (one sub-folder of images per class) as a dataset: layouts, pixels, splits, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from connttra_neuro.cli import main
from connttra_neuro.datasets import DatasetError, load_dataset

CLASSES = ("cat", "dog", "emu")  # numbered 0, 1, 2 by sorted folder name


def _grey(i: int) -> np.ndarray:
    """A distinct 3x4 (height x width) grey image per index."""
    return ((np.arange(12).reshape(3, 4) * 7 + i * 13) % 256).astype(np.uint8)


def _write(folder, images: dict) -> None:
    """images: class -> list of (file name, pixel array) to write as PNG."""
    for cls, files in images.items():
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for name, pixels in files:
            Image.fromarray(pixels).save(folder / cls / name)


def _pool(n_per_class: int = 10, start: int = 0) -> dict:
    return {c: [(f"{k:03d}.png", _grey(start + 100 * j + k)) for k in range(n_per_class)]
            for j, c in enumerate(CLASSES)}


def test_train_and_val_folders_give_every_pixel_in_order(tmp_path):
    # classes in sorted folder order (emu, given first, is still class 2), files in name order
    _write(tmp_path / "train", dict(reversed(list(_pool(4).items()))))
    _write(tmp_path / "val", {"emu": [("b.png", _grey(900)), ("a.png", _grey(901))], "cat": [("x.png", _grey(902))]})
    (tmp_path / "train" / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / "train" / "cat" / ".DS_Store").write_bytes(b"\0")  # hidden: not even counted
    data = load_dataset(tmp_path)
    want = np.stack([_grey(100 * j + k).reshape(-1) for j in range(3) for k in range(4)])
    np.testing.assert_array_equal(data.X_train, want)
    np.testing.assert_array_equal(data.y_train, np.repeat([0, 1, 2], 4))
    np.testing.assert_array_equal(data.X_val, np.stack([_grey(i).reshape(-1) for i in (902, 901, 900)]))
    np.testing.assert_array_equal(data.y_val, [0, 2, 2])
    assert data.X_train.dtype == np.float32 and data.n_features == 12
    assert "0 cat, 1 dog, 2 emu" in data.description and "4x3 grey" in data.description
    assert "skipped 1 entry that is not a class's image" in data.description and "notes.txt" in data.description


@pytest.mark.parametrize("val_name", ["validation", "test"])
def test_other_names_of_the_validation_folder(tmp_path, val_name):
    _write(tmp_path / "train", _pool(3))
    _write(tmp_path / val_name, {"dog": [("a.png", _grey(7))]})
    data = load_dataset(tmp_path)
    assert len(data.y_train) == 9 and data.y_val.tolist() == [1]


def test_class_folders_alone_are_split_stratified_and_seeded(tmp_path):
    _write(tmp_path, _pool(10))
    a, b, other = (load_dataset(tmp_path, seed=s) for s in (0, 0, 1))
    assert len(a.y_train) == 24 and np.bincount(a.y_val).tolist() == [2, 2, 2]
    np.testing.assert_array_equal(a.X_val, b.X_val)
    assert not np.array_equal(a.X_val, other.X_val)
    # every image exactly once, each with its own class
    X, y = np.concatenate([a.X_train, a.X_val]), np.concatenate([a.y_train, a.y_val])
    rows = {tuple(x): int(c) for x, c in zip(X, y, strict=True)}
    assert len(a.y_train) + len(a.y_val) == len(rows) == 30
    assert rows == {tuple(_grey(100 * j + k).reshape(-1).astype(np.float32)): j for j in range(3) for k in range(10)}
    small = load_dataset(tmp_path, n_train=12, n_val=3)
    assert np.bincount(small.y_train).tolist() == [4, 4, 4] and "n_train=12" in small.description


def test_one_colour_image_makes_every_image_rgb(tmp_path):
    pool = _pool(3)
    colour = np.zeros((3, 4, 3), np.uint8)
    colour[..., 0] = 200  # red
    pool["dog"][0] = ("000.png", colour)
    _write(tmp_path, pool)
    Image.fromarray(_grey(5)).convert("P").save(tmp_path / "emu" / "palette.png")
    data = load_dataset(tmp_path, seed=0)
    X = np.concatenate([data.X_train, data.X_val]).reshape(-1, 3, 4, 3)
    assert data.n_features == 36 and "4x3 RGB" in data.description
    red = np.all(X[..., 0] == 200, axis=(1, 2)) & np.all(X[..., 1:] == 0, axis=(1, 2, 3))
    assert red.sum() == 1
    greys = X[~red]
    np.testing.assert_array_equal(greys[..., 0], greys[..., 1])  # grey images: three equal channels
    np.testing.assert_array_equal(greys[..., 0], greys[..., 2])


def test_sixteen_bit_grey_images_keep_their_values(tmp_path):
    for j, cls in enumerate(("a", "b")):
        (tmp_path / cls).mkdir()
        for k in range(5):
            pixels = np.full((2, 2), 1000 * (5 * j + k) + 50_000 * j, np.uint16)  # beyond 8 bits
            Image.fromarray(pixels).save(tmp_path / cls / f"{k}.png")
    data = load_dataset(tmp_path)
    values = sorted(np.concatenate([data.X_train, data.X_val])[:, 0].tolist())
    assert values == sorted(float(1000 * (5 * j + k) + 50_000 * j) for j in range(2) for k in range(5))


def _error(path, **kw) -> str:
    with pytest.raises(DatasetError) as err:
        load_dataset(path, **kw)
    return str(err.value)


def test_images_of_different_sizes_are_named_with_a_way_out(tmp_path):
    _write(tmp_path, _pool(3))
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "dog" / "001.png")
    msg = _error(tmp_path)
    assert "images differ in size" in msg and ".png is 4x3" in msg and "dog/001.png is 5x5" in msg
    # the example resizes to a size the data has (it said 32x32 whatever the images were)
    assert "e.g. to the first one's with Pillow: Image.open(f).resize((4, 3)).save(f)" in msg


@pytest.mark.parametrize("damage", ["not an image", "truncated"])
def test_an_image_that_does_not_decode_is_named(tmp_path, damage):
    _write(tmp_path, _pool(3))
    bad = tmp_path / "emu" / "001.png"
    if damage == "not an image":
        bad.write_text("hello")
        expected = "is not a readable image"
    else:
        big = np.random.default_rng(0).integers(0, 256, (3, 4), dtype=np.uint8)
        Image.fromarray(big).save(bad)
        bad.write_bytes(bad.read_bytes()[:-30])  # the pixel data and the end marker cut off
        expected = "is a damaged image"
    msg = _error(tmp_path)
    assert expected in msg and str(bad) in msg


def test_class_folders_that_cannot_make_a_dataset_are_errors(tmp_path):
    _write(tmp_path / "one", {"cat": _pool(3)["cat"]})
    assert "holds 1 class folder (cat); need at least 2 classes" in _error(tmp_path / "one")
    _write(tmp_path / "empty", _pool(3))
    (tmp_path / "empty" / "fox").mkdir()
    (tmp_path / "empty" / "fox" / "readme.txt").write_text("x")
    assert "class folder(s) without images" in _error(tmp_path / "empty") and "fox" in _error(tmp_path / "empty")
    _write(tmp_path / "extra" / "train", _pool(3))
    _write(tmp_path / "extra" / "val", {"cat": [("a.png", _grey(1))], "yak": [("b.png", _grey(2))]})
    msg = _error(tmp_path / "extra")
    assert "class folder(s) that" in msg and "yak" in msg
    _write(tmp_path / "noval" / "train", _pool(3))
    (tmp_path / "noval" / "val" / "cat").mkdir(parents=True)
    assert "holds no images" in _error(tmp_path / "noval")


def test_a_folder_with_neither_idx_files_nor_class_folders_names_both_layouts(tmp_path):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "a.txt").write_text("x")
    msg = _error(tmp_path)
    assert "train-images-idx3-ubyte" in msg and "one folder per class" in msg
    # torchvision's MNIST/raw/: the folder holding the IDX files is named (the error said only what it lacks)
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").write_bytes(b"")
    assert f"(they are in {tmp_path / 'MNIST' / 'raw'}: give that folder)" in _error(tmp_path / "MNIST")


def test_a_folder_of_images_without_class_folders_says_so_not_that_idx_files_are_missing(tmp_path, capsys):
    # a new user's first try: every image in one folder. It read "missing train-images-idx3-ubyte[.gz]"
    for k in range(3):
        Image.fromarray(_grey(k)).save(tmp_path / f"{k:03d}.png")
    (tmp_path / "notes.txt").write_text("x")
    msg = _error(tmp_path)
    assert "idx" not in msg and "holds 3 image file(s) but no class folders" in msg
    assert f"{tmp_path}/<class>/*.png" in msg and f"connttra-neuro predict MODEL {tmp_path}" in msg
    assert main(["train", "--data", str(tmp_path), "-o", str(tmp_path / "m.ctn")]) == 2
    assert "no class folders" in capsys.readouterr().err


def test_train_on_an_image_folder_from_the_command_line(tmp_path, capsys):
    _write(tmp_path / "data", _pool(10))
    out = tmp_path / "m.ctn"
    assert main(["train", "--data", str(tmp_path / "data"), "--hidden", "8", "--max-sweeps", "2", "--no-progress",
                 "-o", str(out)]) == 0
    assert "image folders: 30 images" in capsys.readouterr().out
    assert main(["evaluate", str(out), "--data", str(tmp_path / "data"), "--json"]) == 0


def test_many_images_show_a_progress_bar(tmp_path, capsys, monkeypatch):
    import connttra_neuro._image_folders as image_folders

    _write(tmp_path, _pool(3))
    assert "reading" not in capsys.readouterr().err
    load_dataset(tmp_path)
    assert "reading" not in capsys.readouterr().err  # 9 images: no bar flashing past
    monkeypatch.setattr(image_folders, "_PROGRESS_FROM", 5)
    quiet = load_dataset(tmp_path)
    err = capsys.readouterr().err
    assert "checking " in err and "reading " in err and "0/9" in err
    np.testing.assert_array_equal(quiet.X_train, load_dataset(tmp_path).X_train)


def test_images_in_sub_folders_of_a_class_belong_to_it(tmp_path):
    # as torchvision's ImageFolder reads them: a class folder's images in sorted path order
    _write(tmp_path, _pool(3))
    _write(tmp_path / "cat", {"batch2": [("a.png", _grey(500)), ("b.png", _grey(501))]})
    _write(tmp_path / "cat" / "batch2", {"deeper": [("c.png", _grey(502))]})
    (tmp_path / "dog" / "loop").symlink_to(tmp_path / "dog")  # a folder linked into itself: read once
    data = load_dataset(tmp_path, n_val=None)
    X, y = np.concatenate([data.X_train, data.X_val]), np.concatenate([data.y_train, data.y_val])
    assert len(y) == 12 and np.bincount(y).tolist() == [6, 3, 3]
    for i in (500, 501, 502):
        assert y[np.all(X == _grey(i).reshape(-1), axis=1)].tolist() == [0]
    assert "skipped 1 entry" in data.description and "loop" in data.description


def test_a_file_reached_twice_in_its_class_is_one_sample(tmp_path):
    # two links and a hard link to cat/000.png, and a linked folder holding it again: one sample, said so
    import os

    _write(tmp_path, _pool(5))
    cat = tmp_path / "cat"
    (cat / "x.png").symlink_to(cat / "000.png")
    (cat / "y.png").symlink_to(cat / "000.png")
    os.link(cat / "001.png", cat / "z.png")
    (cat / "again").mkdir()
    (cat / "again" / "more").symlink_to(cat)  # walked once: its files are cat's own
    data = load_dataset(tmp_path, n_val=None)
    X, y = np.concatenate([data.X_train, data.X_val]), np.concatenate([data.y_train, data.y_val])
    assert np.bincount(y).tolist() == [5, 5, 5]
    assert len(np.unique(X, axis=0)) == 15  # no image twice: none in both the training and validation part
    assert f"3 links to an image already read not counted again, e.g. {cat / 'x.png'} is {cat / '000.png'}" in (
        data.description)


@pytest.mark.parametrize("how", ["file link", "hard link", "folder link", "root linked into a class"])
def test_one_file_in_two_classes_is_an_error_naming_both_paths(tmp_path, how):
    import os

    _write(tmp_path, _pool(3))
    cat, dog, emu = (tmp_path / c for c in CLASSES)
    first, second = {  # (path, class) each, in the order they are read
        "file link": ((cat / "001.png", "cat"), (dog / "x.png", "dog")),
        "hard link": ((cat / "001.png", "cat"), (dog / "x.png", "dog")),
        "folder link": ((dog / "more" / "000.png", "dog"), (emu / "000.png", "emu")),  # dog/more before emu
        "root linked into a class": ((cat / "000.png", "cat"), (dog / "up" / "cat" / "000.png", "dog")),  # ends
    }[how]
    if how == "file link":
        second[0].symlink_to(first[0])
    elif how == "hard link":
        os.link(first[0], second[0])
    elif how == "folder link":
        (dog / "more").symlink_to(emu)
    else:
        (dog / "up").symlink_to(tmp_path)
    with pytest.raises(DatasetError) as err:
        load_dataset(tmp_path)
    assert (f"{first[0]} (class {first[1]}) and {second[0]} (class {second[1]}) are the same file"
            in str(err.value))
    assert "one image cannot have two classes" in str(err.value)


@pytest.mark.parametrize("how", ["file link", "hard link"])
def test_a_validation_image_that_is_a_training_image_is_an_error(tmp_path, how):
    import os

    _write(tmp_path / "train", _pool(3))
    _write(tmp_path / "val", {c: [("v.png", _grey(50 + j))] for j, c in enumerate(CLASSES)})
    trained, again = tmp_path / "train" / "cat" / "001.png", tmp_path / "val" / "cat" / "same.png"
    again.symlink_to(trained) if how == "file link" else os.link(trained, again)
    with pytest.raises(DatasetError, match=f"{again} \\(validation\\) and {trained} \\(training\\) are the same "
                                           f"file, reached through a link: a validation image must not be a "
                                           f"training image"):
        load_dataset(tmp_path)
    again.unlink()
    assert len(load_dataset(tmp_path).y_val) == 3  # without the link: the three validation images


def test_a_class_named_train_stays_a_class(tmp_path):
    # CIFAR-100 has a class "train": DIR/train/ is the training root only beside validation folders
    _write(tmp_path, {c: _pool(5)["cat"] for c in ("bus", "train", "tractor")})
    data = load_dataset(tmp_path)
    assert data.n_classes == 3 and "0 bus, 1 tractor, 2 train" in data.description


def test_valid_is_a_validation_folder_and_an_unused_one_is_named(tmp_path):
    _write(tmp_path / "train", _pool(3))
    _write(tmp_path / "valid", {"dog": [("a.png", _grey(7))]})
    _write(tmp_path / "test", {"cat": [("a.png", _grey(8))]})
    data = load_dataset(tmp_path)
    assert data.y_val.tolist() == [1] and "(test/ not used)" in data.description


def test_loose_files_and_macos_folders_beside_the_classes(tmp_path):
    _write(tmp_path, _pool(3))
    Image.fromarray(_grey(9)).save(tmp_path / "stray.png")  # in no class: skipped and counted
    (tmp_path / "__MACOSX" / "cat").mkdir(parents=True)  # a zip file's resource forks: ignored
    data = load_dataset(tmp_path)
    assert data.n_classes == 3 and "skipped 1 entry that is not a class's image, e.g." in data.description
    assert "stray.png" in data.description


@pytest.mark.parametrize("other", ["grey", "colour"])
def test_sixteen_bit_images_mixed_with_eight_bit_ones_are_refused(tmp_path, other):
    # 0..65535 beside 0..255 (or an RGB conversion clipping 16-bit values to white): no one scale is right
    pool = _pool(3)
    if other == "colour":
        pool = {c: [(f, np.stack([g] * 3, axis=-1)) for f, g in files] for c, files in pool.items()}
    _write(tmp_path, pool)
    Image.fromarray(np.full((3, 4), 60_000, np.uint16)).save(tmp_path / "cat" / "wide.png")
    msg = _error(tmp_path)
    assert "images mix 16-bit grey" in msg and "wide.png" in msg and f"8-bit {other}" in msg


def test_the_colour_image_that_makes_a_set_rgb_is_named(tmp_path):
    pool = _pool(3)
    pool["emu"][1] = ("001.png", np.zeros((3, 4, 3), np.uint8))
    _write(tmp_path, pool)
    assert "emu/001.png has colour" in load_dataset(tmp_path).description


def test_an_unreadable_class_folder_is_named(tmp_path, monkeypatch):
    from pathlib import Path

    _write(tmp_path, _pool(3))
    iterdir = Path.iterdir

    def denied(self):
        if self.name == "dog":
            raise PermissionError(13, "Permission denied")
        return iterdir(self)

    monkeypatch.setattr(Path, "iterdir", denied)  # root reads through chmod 000, so deny it here
    msg = _error(tmp_path)
    assert "cannot read folder" in msg and "dog (Permission denied)" in msg


def test_evaluate_knows_the_training_folder_however_it_is_spelled(tmp_path, capsys, monkeypatch):
    # the seed note (seed 3's split is not seed 0's) must not depend on typing the path as train did
    from connttra_neuro import load

    _write(tmp_path / "data", _pool(10))
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data", "data", "--hidden", "4", "--seed", "3", "--max-sweeps", "1", "--no-progress",
                 "-o", "m.ctn"]) == 0
    assert load("m.ctn").metadata["dataset"] == str(tmp_path / "data")  # recorded absolute
    for spelling in ("data/", str(tmp_path / "data"), "./data"):
        capsys.readouterr()
        assert main(["evaluate", "m.ctn", "--data", spelling]) == 0
        out, err = capsys.readouterr()
        assert "give --seed 3 to check it on its own split" in err, spelling
        assert "the model's metadata says it was trained on" not in out, spelling


def test_class_names_travel_from_the_folders_into_the_model_and_evaluate(tmp_path, capsys):
    import json

    from connttra_neuro import load
    from hardware_targets.reference import forward

    _write(tmp_path / "data", _pool(10))
    data = load_dataset(tmp_path / "data")
    assert data.class_names == CLASSES and load_dataset(tmp_path / "data", n_train=9).class_names == CLASSES
    model = tmp_path / "m.ctn"
    assert main(["train", "--data", str(tmp_path / "data"), "--hidden", "8", "--max-sweeps", "3", "--no-progress",
                 "-o", str(model)]) == 0
    network = load(model)
    assert tuple(network.metadata["class_names"]) == CLASSES
    capsys.readouterr()
    assert main(["evaluate", str(model), "--data", str(tmp_path / "data")]) == 0
    assert "per class  cat: " in capsys.readouterr().out
    # another folder whose classes are numbered otherwise (emu is its 1, fox its 2): matched by name
    pool = _pool(10)
    _write(tmp_path / "other", {"cat": pool["cat"], "emu": pool["emu"], "fox": pool["dog"]})
    assert main(["evaluate", str(model), "--data", str(tmp_path / "other"), "--split", "train", "--json"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert "matched to the model's outputs by name; 1 the model does not know (fox)" in err
    other = load_dataset(tmp_path / "other")
    predicted = np.argmax(forward(network, network.encode(other.X_train))[0], axis=1)
    truth = np.array([{"cat": 0, "emu": 2, "fox": 3}[other.class_names[c]] for c in other.y_train])
    assert report["n_errors"] == int(np.count_nonzero(predicted != truth)) >= np.count_nonzero(truth == 3)
    assert report["class_names"] == ["cat", "dog", "emu", "other"]
    # a folder named in another case is not matched (a guess could be wrong) but the note says so
    _write(tmp_path / "cased", {"Cat": pool["cat"], "dog": pool["dog"]})
    assert main(["evaluate", str(model), "--data", str(tmp_path / "cased"), "--split", "train"]) == 0
    assert "names differ only in case: Cat (the model has cat): rename" in capsys.readouterr().err


def test_class_names_are_checked():
    from connttra_neuro.datasets import Dataset
    from connttra_neuro.train import CoNNTrA

    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(DatasetError, match="class_names must be distinct strings"):
        Dataset("d", X, y, X, y, class_names=("a",))
    with pytest.raises(DatasetError, match="class_names must be distinct strings"):
        Dataset("d", X, y, X, y, class_names=("a", "a"))
    with pytest.raises(ValueError, match="class_names must be a sequence of strings"):
        CoNNTrA(hidden=(2,), max_sweeps=1).fit(X, y, class_names="ab")
    with pytest.raises(ValueError, match="labels must be integers 0..0"):
        CoNNTrA(hidden=(2,), max_sweeps=1).fit(X, y, class_names=["a"])
    # before the training, not at save (which refuses names that name nothing) after it
    with pytest.raises(ValueError, match="class_names must be distinct, one per label; 'a' is repeated"):
        CoNNTrA(hidden=(2,), max_sweeps=1).fit(X, y, class_names=["a", "a"])


def test_a_folder_beside_train_and_val_does_not_make_them_classes(tmp_path):
    _write(tmp_path / "train", _pool(3))
    _write(tmp_path / "val", {"cat": [("a.png", _grey(7))], "dog": [("b.png", _grey(8))]})
    (tmp_path / "unlabeled").mkdir()
    Image.fromarray(_grey(9)).save(tmp_path / "unlabeled" / "x.png")
    data = load_dataset(tmp_path)
    assert data.class_names == CLASSES and data.y_val.tolist() == [0, 1]
    assert "(unlabeled/ not used)" in data.description


def test_float_and_sixteen_bit_grey_are_not_mixed(tmp_path):
    for j, cls in enumerate(("a", "b")):
        (tmp_path / cls).mkdir()
        for k in range(3):
            Image.fromarray(np.full((2, 2), 1000 * (j + 1), np.uint16)).save(tmp_path / cls / f"{k}.png")
    Image.fromarray(np.full((2, 2), 0.5, np.float32)).save(tmp_path / "b" / "z.tif")
    msg = _error(tmp_path)
    assert "images mix 16-bit grey" in msg and "with float grey" in msg and "z.tif" in msg


def test_a_resumed_run_refuses_renamed_class_folders(tmp_path, capsys):
    _write(tmp_path / "data", _pool(10))
    model = tmp_path / "m.ctn"
    assert main(["train", "--data", str(tmp_path / "data"), "--hidden", "4", "--max-sweeps", "1", "--no-progress",
                 "-o", str(model)]) == 0
    before = model.read_bytes()
    (tmp_path / "data" / "cat").rename(tmp_path / "data" / "bat")  # same order, same pixels, another name
    assert main(["train", "--resume", str(model) + ".ckpt", "--max-sweeps", "2", "--no-progress"]) == 2
    assert ("its class folders are not the ones" in (err := capsys.readouterr().err)
            and "(gone: cat; new: bat)" in err and "put the class folders back" in err), err
    assert model.read_bytes() == before
    (tmp_path / "data" / "bat").rename(tmp_path / "data" / "cat")
    _write(tmp_path / "data", {"zebra": _pool(10)["cat"]})  # a class added: named as new, nothing is "gone"
    assert main(["train", "--resume", str(model) + ".ckpt", "--max-sweeps", "2", "--no-progress"]) == 2
    assert "(new: zebra)" in capsys.readouterr().err


def test_a_folder_with_some_of_the_classes_needs_no_matching_note_and_verify_matches_too(tmp_path, capsys):
    _write(tmp_path / "data", _pool(10))
    model = tmp_path / "m.ctn"
    assert main(["train", "--data", str(tmp_path / "data"), "--hidden", "4", "--max-sweeps", "1", "--no-progress",
                 "-o", str(model)]) == 0
    pool = _pool(10)
    _write(tmp_path / "some", {"cat": pool["cat"], "dog": pool["dog"]})  # the model's 0 and 1: nothing moves
    capsys.readouterr()
    assert main(["evaluate", str(model), "--data", str(tmp_path / "some")]) == 0
    assert "matched to the model's outputs by name" not in capsys.readouterr().err
    _write(tmp_path / "other", {"dog": pool["dog"], "emu": pool["emu"]})  # its 0 and 1 are the model's 1 and 2
    assert main(["verify", str(model), "--data", str(tmp_path / "other"), "--targets", "reference",
                 "--out", str(tmp_path / "report"), "--no-plots"]) == 0
    assert "matched to the model's outputs by name" in capsys.readouterr().err


def test_a_class_of_one_image_that_the_split_sends_to_validation_is_named(tmp_path):
    # one image per class: a 20% split sends some classes' only image to validation; training would
    # later fail with a hint about subsamples the user never asked for
    _write(tmp_path, {c: [("a.png", _grey(i))] for i, c in enumerate(("ant", "bee", "cow", "dog", "elk"))})
    msg = _error(tmp_path)
    assert "have too few samples for a 1-sample validation split" in msg and "ant" in msg


def test_only_the_images_kept_are_decoded_and_the_data_are_the_same(tmp_path, monkeypatch):
    # a subsample of a large folder (n_train=) decodes just its images; the split indexes file lists
    from PIL import Image as PILImage

    _write(tmp_path, _pool(20))
    full = load_dataset(tmp_path, seed=2)
    opened = []
    real_open = PILImage.open

    def counting_open(path, *args, **kwargs):
        opened.append(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(PILImage, "open", counting_open)
    small = load_dataset(tmp_path, seed=2, n_train=9, n_val=3)
    assert len(set(opened)) == 12  # 60 images in the folder
    rows = {tuple(x) for x in full.X_train}
    assert all(tuple(x) in rows for x in small.X_train)  # drawn from the same split
    np.testing.assert_array_equal(load_dataset(tmp_path, seed=2).X_val, full.X_val)


def test_subsamples_of_train_and_val_folders_are_those_of_the_same_arrays_in_an_npz(tmp_path):
    # an explicit split is subsampled as load_npz does (its own random stream for each part): the same
    # images in the same order give the same samples for every seed
    X = {"train": [], "val": []}
    y = {"train": [], "val": []}
    for part, n in (("train", 12), ("val", 6)):
        for c, cls in enumerate(("a", "b", "c")):
            (tmp_path / "img" / part / cls).mkdir(parents=True)
            for k in range(n):
                pixels = _grey(1000 * (part == "val") + 100 * c + k)
                Image.fromarray(pixels).save(tmp_path / "img" / part / cls / f"{k:03d}.png")
                X[part].append(pixels.reshape(-1))
                y[part].append(c)
    np.savez(tmp_path / "same.npz", X_train=np.array(X["train"]), y_train=np.array(y["train"]),
             X_val=np.array(X["val"]), y_val=np.array(y["val"]))
    for seed in (0, 1, 7):
        a = load_dataset(tmp_path / "img", seed=seed, n_train=9, n_val=6)
        b = load_dataset(tmp_path / "same.npz", seed=seed, n_train=9, n_val=6)
        for got, want in ((a.X_train, b.X_train), (a.y_train, b.y_train), (a.X_val, b.X_val), (a.y_val, b.y_val)):
            np.testing.assert_array_equal(got, want)


def test_grey_images_with_alpha_give_one_grey_value_per_pixel(tmp_path):
    for c, cls in enumerate(("a", "b")):
        (tmp_path / cls).mkdir()
        for k in range(5):
            grey = _grey(10 * c + k)
            Image.fromarray(np.stack([grey, np.full_like(grey, 255)], axis=-1), mode="LA").save(
                tmp_path / cls / f"{k}.png")
    data = load_dataset(tmp_path)
    assert data.n_features == 12 and "4x3 grey" in data.description
    rows = {tuple(x) for x in np.concatenate([data.X_train, data.X_val])}
    assert rows == {tuple(_grey(10 * c + k).reshape(-1).astype(np.float32)) for c in range(2) for k in range(5)}


def test_an_image_folder_with_its_own_validation_part_is_not_split_by_the_seed(tmp_path):
    _write(tmp_path / "split" / "train", _pool(4))
    _write(tmp_path / "split" / "val", _pool(2, start=50))
    _write(tmp_path / "flat", _pool(10))
    assert not load_dataset(tmp_path / "split").seeded_split and load_dataset(tmp_path / "flat").seeded_split


def test_a_grey_palette_image_stays_grey_and_a_colour_palette_makes_rgb(tmp_path):
    # a GIF saved from a grey image is a palette image of grey colours: one value per pixel, like the
    # grey PNGs beside it (it made the whole set three equal channels)
    pool = _pool(3)
    _write(tmp_path, pool)
    Image.fromarray(_grey(5)).convert("P").save(tmp_path / "emu" / "z.gif")
    data = load_dataset(tmp_path, n_val=None)
    assert data.n_features == 12 and "4x3 grey" in data.description
    X = np.concatenate([data.X_train, data.X_val])
    assert any(np.array_equal(row, _grey(5).reshape(-1)) for row in X)  # its grey values, exactly
    palette = Image.fromarray(_grey(6)).convert("P")
    palette.putpalette([255, 0, 0] + [0, 0, 0] * 255)  # index 0 is red
    palette.save(tmp_path / "emu" / "red.png")
    data = load_dataset(tmp_path)
    assert data.n_features == 36 and "since emu/red.png has colour" in data.description.replace(str(tmp_path) + "/", "")


def test_exif_orientation_is_applied_as_a_viewer_shows_the_photo(tmp_path):
    # a phone stores a portrait photo landscape with orientation 6 ("turn 90 degrees clockwise")
    _write(tmp_path, {c: [(f"{k}.png", np.full((4, 2), 40 * k + j, np.uint8)) for k in range(4)]
                      for j, c in enumerate(("a", "b"))})
    stored = np.zeros((2, 4), np.uint8)  # 4 wide, 2 tall as stored
    stored[0, 0] = 255  # the top left corner as stored ...
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "a" / "photo.png", exif=exif)
    data = load_dataset(tmp_path)
    assert data.n_features == 8  # 2 wide, 4 tall, like the others: no size error
    X = np.concatenate([data.X_train, data.X_val]).reshape(-1, 4, 2)
    turned = np.rot90(stored, -1)  # ... is the top right corner once turned clockwise
    assert turned[0, 1] == 255 and sum(np.array_equal(x, turned) for x in X) == 1
    # stored in the others' shape but turned: its size as shown differs, and the error says why
    Image.fromarray(np.zeros((4, 2), np.uint8)).save(tmp_path / "b" / "wide.png", exif=exif)
    msg = _error(tmp_path)
    assert "differ in size" in msg and "wide.png is 4x2" in msg and "as shown, turned by its EXIF orientation" in msg


@pytest.mark.parametrize("train, val", [("training", "testing"), ("Train", "Val"), ("TRAIN", "test")])
def test_split_folders_in_other_spellings_are_splits_not_classes(tmp_path, train, val):
    # mnist_png's training/ and testing/ were read as two classes, 0 testing and 1 training
    _write(tmp_path / train, _pool(3))
    _write(tmp_path / val, {"dog": [("a.png", _grey(7))]})
    data = load_dataset(tmp_path)
    assert data.class_names == CLASSES and len(data.y_train) == 9 and data.y_val.tolist() == [1]


def test_a_stray_image_in_train_beside_val_is_skipped_not_made_a_class(tmp_path):
    _write(tmp_path / "train", _pool(3))
    _write(tmp_path / "val", {"dog": [("a.png", _grey(7))]})
    Image.fromarray(_grey(8)).save(tmp_path / "train" / "preview.png")
    data = load_dataset(tmp_path)
    assert data.class_names == CLASSES and data.y_val.tolist() == [1]
    assert "skipped 1 entry that is not a class's image" in data.description and "preview.png" in data.description
    # Kaggle's test/ of unlabelled images beside it: still a split (test/, train/ were two classes)
    (tmp_path / "val").rename(tmp_path / "elsewhere")
    (tmp_path / "test").mkdir()
    Image.fromarray(_grey(9)).save(tmp_path / "test" / "0.png")
    data = load_dataset(tmp_path)
    assert data.class_names == CLASSES and "test/" in data.description and "preview.png" in data.description


def test_a_test_folder_of_unlabelled_images_is_not_the_validation_part(tmp_path):
    # Kaggle: train/<class>/ beside a test/ of loose, unlabelled images (and an empty val/): the
    # training images are split, the other folders named as not used
    _write(tmp_path / "train", _pool(5))
    (tmp_path / "test").mkdir()
    for k in range(3):
        Image.fromarray(_grey(k)).save(tmp_path / "test" / f"{k}.png")
    (tmp_path / "val").mkdir()
    data = load_dataset(tmp_path)
    assert data.class_names == CLASSES and len(data.y_train) + len(data.y_val) == 15 and data.seeded_split
    assert "test/" in data.description and "val/" in data.description and "not used" in data.description


def test_a_float_image_with_nan_is_named(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for k in range(3):
            Image.fromarray(np.full((2, 2), 0.25 * k, np.float32)).save(tmp_path / cls / f"{k}.tif")
    Image.fromarray(np.full((2, 2), np.nan, np.float32)).save(tmp_path / "b" / "nan.tif")
    assert "b/nan.tif has NaN or infinite pixel values" in _error(tmp_path)


def test_a_feature_count_error_says_what_decided_the_data_s_layout(tmp_path, capsys):
    # a grey model and a folder made RGB by one colour image: "expects 12 features but has 36" alone
    # does not say why; the data's description names the colour image
    _write(tmp_path / "grey", _pool(3))
    assert main(["train", "--data", str(tmp_path / "grey"), "--hidden", "4", "--max-sweeps", "1", "--no-progress",
                 "-o", str(tmp_path / "m.ctn")]) == 0
    _write(tmp_path / "mixed" / "train", _pool(3))
    _write(tmp_path / "mixed" / "val", _pool(1))
    Image.fromarray(np.full((3, 4, 3), (200, 0, 0), np.uint8)).save(tmp_path / "mixed" / "val" / "dog" / "red.png")
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "m.ctn"), "--data", str(tmp_path / "mixed")]) == 2
    err = capsys.readouterr().err
    assert "expects 12 features" in err and "has 36" in err and "red.png has colour" in err


def test_a_class_folder_named_in_another_encoding_trains_from_the_command_line(tmp_path, capsys):
    # an old Windows zip unpacked on Linux: "caf\xe9" is not UTF-8; the run's data digest failed on it
    import os

    _write(tmp_path, {"dog": _pool(3)["dog"]})
    latin = os.path.join(os.fsencode(tmp_path), b"caf\xe9")
    os.mkdir(latin)
    for k in range(3):
        Image.fromarray(_grey(k)).save(os.fsdecode(os.path.join(latin, b"%d.png" % k)))
    assert main(["train", "--data", str(tmp_path), "--hidden", "4", "--max-sweeps", "1", "--no-progress",
                 "-o", str(tmp_path.parent / "latin.ctn")]) == 0
    assert main(["evaluate", str(tmp_path.parent / "latin.ctn"), "--data", str(tmp_path)]) == 0
    assert "0 caf\\xe9, 1 dog" in capsys.readouterr().out  # its bytes, escaped: text any terminal shows


def test_evaluating_on_validation_decodes_only_the_validation_images(tmp_path, monkeypatch, capsys):
    # evaluate / verify / deploy --data read the training part too: for an ImageNet-size folder that is
    # minutes of decoding and more memory than the machine has; n_train=0 leaves it out
    from PIL import Image as PILImage

    _write(tmp_path / "data", _pool(20))
    full = load_dataset(tmp_path / "data", seed=1)
    assert main(["train", "--data", str(tmp_path / "data"), "--hidden", "4", "--max-sweeps", "1", "--no-progress",
                 "--seed", "1", "-o", str(tmp_path / "m.ctn")]) == 0
    opened = []
    real_open = PILImage.open
    monkeypatch.setattr(PILImage, "open", lambda path, *a, **k: opened.append(path) or real_open(path, *a, **k))
    val_only = load_dataset(tmp_path / "data", seed=1, n_train=0)
    assert len(set(opened)) == 12 and val_only.X_train.shape == (0, 12)  # 60 images, 12 for validation
    np.testing.assert_array_equal(val_only.X_val, full.X_val)
    np.testing.assert_array_equal(val_only.y_val, full.y_val)
    opened.clear()
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "m.ctn"), "--data", str(tmp_path / "data"), "--seed", "1"]) == 0
    assert len(set(opened)) == 12 and "12 samples" in capsys.readouterr().out
    opened.clear()
    assert main(["evaluate", str(tmp_path / "m.ctn"), "--data", str(tmp_path / "data"), "--seed", "1",
                 "--split", "train", "--n", "6"]) == 0
    assert len(set(opened)) == 6


def test_a_colour_model_evaluates_on_grey_validation_images_of_its_folder(tmp_path, capsys, monkeypatch):
    # one colour image among the training images made the folder (and the model) RGB; the validation
    # images alone are grey, so evaluating reads the folder as training did
    import json

    from connttra_neuro import _image_folders, load
    from hardware_targets.reference import forward

    _write(tmp_path / "data" / "train", _pool(3))
    _write(tmp_path / "data" / "val", _pool(2, start=50))
    Image.fromarray(np.full((3, 4, 3), (200, 0, 0), np.uint8)).save(tmp_path / "data" / "train" / "dog" / "red.png")
    assert main(["train", "--data", str(tmp_path / "data"), "--hidden", "4", "--max-sweeps", "2", "--no-progress",
                 "-o", str(tmp_path / "m.ctn")]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "m.ctn"), "--data", str(tmp_path / "data"), "--json"]) == 0
    full, net = load_dataset(tmp_path / "data"), load(tmp_path / "m.ctn")  # both parts: RGB, as in training
    predicted = np.argmax(forward(net, net.encode(full.X_val))[0], axis=1)
    assert json.loads(capsys.readouterr().out)["n_errors"] == int(np.count_nonzero(predicted != full.y_val))
    # a mismatch that reading more images cannot fix (another image size) reads only the part evaluated
    _write(tmp_path / "big", {c: [(f"{k}.png", np.zeros((6, 8), np.uint8)) for k in range(5)] for c in CLASSES})
    read = []
    real = _image_folders._read_all
    monkeypatch.setattr(_image_folders, "_read_all", lambda files, name: read.append(len(files)) or real(files, name))
    assert main(["evaluate", str(tmp_path / "m.ctn"), "--data", str(tmp_path / "big")]) == 2
    assert read == [3] and "expects 36 features" in capsys.readouterr().err  # 15 images, 3 for validation


def test_images_read_otherwise_than_before_are_noted_on_evaluation(tmp_path, capsys):
    # a model trained before EXIF orientation was applied would see turned images without any error
    _write(tmp_path, {c: [(f"{k}.png", np.full((4, 2), 40 * k + j, np.uint8)) for k in range(5)]
                      for j, c in enumerate(("a", "b"))})
    exif = Image.Exif()
    exif[0x0112] = 6
    for c in ("a", "b"):
        Image.fromarray(np.zeros((2, 4), np.uint8)).save(tmp_path / c / "photo.png", exif=exif)
    data = load_dataset(tmp_path)
    assert "2 turned by their EXIF orientation (such as" in data.description
    assert main(["train", "--data", str(tmp_path), "--hidden", "4", "--max-sweeps", "1", "--no-progress",
                 "-o", str(tmp_path.parent / "m.ctn")]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path.parent / "m.ctn"), "--data", str(tmp_path), "--split", "train"]) == 0
    assert "images turned by their EXIF orientation (not as stored), as read since 2026-12-06" in \
        capsys.readouterr().err


def test_an_image_folder_with_both_parts_left_out_is_named(tmp_path):
    _write(tmp_path, _pool(5))
    assert "no samples: X_train and X_val are both empty" in _error(tmp_path, n_train=0, n_val=0)


def test_train_refuses_a_subsample_of_no_samples(tmp_path, capsys):
    for flag in ("--n-train", "--n-val"):
        assert main(["train", "--data", "iris", flag, "0", "-o", str(tmp_path / "m.ctn")]) == 2
        assert f"{flag} must be a positive number of samples, got 0" in capsys.readouterr().err
    # more than the split holds: named by the flag typed, not the loader's parameter (n_train=500)
    for flag, part, size in (("--n-train", "train", 120), ("--n-val", "val", 30)):
        assert main(["train", "--data", "iris", flag, "500", "-o", str(tmp_path / "m.ctn")]) == 2
        assert f"iris: {flag} 500 but the split has only {size} samples" in capsys.readouterr().err, part
    assert main(["compare", "--data", "iris", "--n-val", "100", "-o", str(tmp_path / "c")]) == 2
    assert "iris: --n-val 100 but the split has only 30 samples" in capsys.readouterr().err


def test_sixteen_bit_colour_images_are_said_to_lose_their_low_byte(tmp_path):
    # Pillow reads a 16-bit RGB PNG as 8-bit RGB; the values below 256 all become 0: said, not silent
    import struct
    import zlib

    def png16(path, rgb):  # Pillow cannot write 16-bit RGB PNGs
        height, width = rgb.shape[:2]
        raw = b"".join(b"\0" + rgb[r].astype(">u2").tobytes() for r in range(height))

        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                         + chunk(b"IEND", b""))

    for j, cls in enumerate(("a", "b")):
        (tmp_path / cls).mkdir()
        for k in range(3):
            png16(tmp_path / cls / f"{k}.png", np.full((2, 2, 3), 1000 * (j + 1) + k, np.uint16))
    data = load_dataset(tmp_path)
    assert data.n_features == 12 and "16-bit colour images such as" in data.description
    assert "cut to 8 bits per channel" in data.description
    # a 5-6-5 BMP is 16 bits a pixel too, but fewer than 8 a channel: nothing lost, nothing said
    for j, cls in enumerate(("a", "b")):
        for k in range(3):
            Image.fromarray(np.full((2, 2, 3), 40 * k + j, np.uint8)).save(tmp_path / cls / f"{k}.png")
        # a 2x2 BI_BITFIELDS 5-6-5 BMP, written by hand: Pillow cannot write one
        pixels = b"".join(struct.pack("<HH", 0x1234 + j, 0x4321) for _ in range(2))
        header = struct.pack("<IiiHHIIiiII", 40, 2, 2, 1, 16, 3, len(pixels), 2835, 2835, 0, 0)
        body = header + struct.pack("<III", 0xF800, 0x07E0, 0x001F) + pixels
        (tmp_path / cls / "565.bmp").write_bytes(b"BM" + struct.pack("<IHHI", 14 + len(body), 0, 0, 66) + body)
    with Image.open(tmp_path / "a" / "565.bmp") as img:
        assert img.mode == "RGB" and ";16" in str(img.tile[0][3])
    assert "16-bit colour" not in load_dataset(tmp_path).description


def test_a_filesystem_without_inode_numbers_keeps_every_image(tmp_path, monkeypatch):
    # some FUSE and SMB mounts report st_ino 0 for every file: taken as one file, every image would be one
    # sample, or one image in two classes
    import os

    _write(tmp_path, _pool(3))
    real_stat = Path.stat

    def no_inodes(self, *args, **kwargs):
        info = real_stat(self, *args, **kwargs)
        return os.stat_result((info.st_mode, 0, *tuple(info)[2:]))

    monkeypatch.setattr(Path, "stat", no_inodes)
    data = load_dataset(tmp_path)
    assert len(data.y_train) + len(data.y_val) == 3 * len(CLASSES)


@pytest.mark.parametrize("test_folder", ["test1", "test", "Val"])
def test_train_and_test_folders_of_unsorted_images_are_not_two_classes(tmp_path, test_folder):
    # Kaggle's dogs-vs-cats: train/cat.0.jpg, train/dog.0.jpg beside an unlabelled test1/; read as classes
    # "test1" and "train", a model learnt which folder an image came from, without a word
    _write(tmp_path, {"train": [(f"{c}.{k}.png", _grey(k + 10 * j)) for j, c in enumerate(("cat", "dog"))
                                for k in range(5)],
                      test_folder: [(f"{k}.png", _grey(50 + k)) for k in range(4)]})
    with pytest.raises(DatasetError, match=f"train/ in .* holds images of its own, not in class folders, so "
                                           f"train/ and {test_folder}/ would be read as two classes"):
        load_dataset(tmp_path)


def test_a_split_folder_in_two_spellings_is_an_error(tmp_path):
    # Train/ and train/ (split folders are matched in any case): one of them was left unread, unsaid
    _write(tmp_path / "train", _pool(3))
    _write(tmp_path / "Train", {"emu": [("x.png", _grey(5))]})
    _write(tmp_path / "val", {"dog": [("a.png", _grey(7))]})
    with pytest.raises(DatasetError, match="Train/ and train/ .* one split folder in two spellings"):
        load_dataset(tmp_path)
