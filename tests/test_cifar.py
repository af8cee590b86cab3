"""CIFAR-10 / CIFAR-100 binary files: rows in the order a PNG of the same image reads, labels, class names,
and damaged files named."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from connttra_neuro.cli import main
from connttra_neuro.datasets import DatasetError, load_dataset, read_images

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _images(n: int, seed: int) -> np.ndarray:
    """n random 32x32 RGB images, (n, 32, 32, 3) uint8."""
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def _record_bytes(images: np.ndarray, *labels: np.ndarray) -> bytes:
    """CIFAR binary records: the label byte(s), then the pixels channels first (R plane, G, B)."""
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    return np.concatenate([*(lab.astype(np.uint8)[:, None] for lab in labels), planes], axis=1).tobytes()


def _cifar10(folder, batches=(20, 20), n_test=10, names=True):
    folder.mkdir(parents=True)
    written = []
    for k, n in enumerate(batches, start=1):
        images, labels = _images(n, k), np.arange(n) % 10
        (folder / f"data_batch_{k}.bin").write_bytes(_record_bytes(images, labels))
        written.append((images, labels))
    if n_test:
        images, labels = _images(n_test, 99), (np.arange(n_test) * 3) % 10
        (folder / "test_batch.bin").write_bytes(_record_bytes(images, labels))
        written.append((images, labels))
    if names:
        (folder / "batches.meta.txt").write_text("\n".join(CIFAR10_NAMES) + "\n\n")
    return written


def test_cifar10_rows_read_like_png_files_of_the_same_images(tmp_path):
    written = _cifar10(tmp_path / "cifar-10-batches-bin")
    data = load_dataset(tmp_path)  # the folder the archive was extracted in: read through its one CIFAR folder
    assert data.input_shape == (32, 32, 3) and data.class_names == tuple(CIFAR10_NAMES)
    assert not data.seeded_split and len(data.y_train) == 40 and len(data.y_val) == 10
    train_images = np.concatenate([written[0][0], written[1][0]])
    assert data.X_train.tobytes() == train_images.reshape(40, -1).astype(np.float32).tobytes()
    assert data.y_train.tolist() == np.concatenate([written[0][1], written[1][1]]).tolist()
    assert data.y_val.tolist() == written[2][1].tolist()
    assert "data_batch_1.bin .. data_batch_2.bin (40) for training, test_batch.bin (10) for validation" in \
        data.description
    Image.fromarray(written[2][0][3]).save(tmp_path / "x.png")  # a PNG of a validation image reads as its row
    X, _ = read_images(tmp_path / "x.png")
    assert X.tobytes() == data.X_val[3].tobytes()


def test_cifar100_takes_the_fine_labels_and_a_missing_test_file_is_a_seeded_split(tmp_path):
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    images, fine = _images(60, 5), np.arange(60) % 30
    (folder / "train.bin").write_bytes(_record_bytes(images, fine // 5, fine))  # coarse, then fine
    (folder / "fine_label_names.txt").write_text("\n".join(f"class{i}" for i in range(100)))
    data = load_dataset(folder, seed=3)
    assert data.seeded_split and len(data.y_train) + len(data.y_val) == 60
    assert set(data.y_train.tolist()) <= set(range(30)) and data.class_names[29] == "class29"
    assert "CIFAR-100 binary files" in data.description and "fine labels" in data.description
    both = np.concatenate([data.y_train, data.y_val])
    assert sorted(both.tolist()) == sorted(fine.tolist())
    small = load_dataset(folder, seed=3, n_train=30)
    assert len(small.y_train) == 30 and small.input_shape == (32, 32, 3)


def test_damaged_cifar_files_are_named(tmp_path):
    folder = tmp_path / "c"
    _cifar10(folder, batches=(5,), n_test=0, names=False)
    batch = folder / "data_batch_1.bin"
    batch.write_bytes(batch.read_bytes()[:-100])  # truncated in its last record
    with pytest.raises(DatasetError, match=r"data_batch_1.bin: 15,265 bytes is not a whole number of 3,073-byte "
                                           r"records .*truncated after record 4"):
        load_dataset(folder)
    records = bytearray(_record_bytes(_images(3, 0), np.array([1, 2, 3])))
    records[3073] = 42  # the second record's label
    batch.write_bytes(bytes(records))
    with pytest.raises(DatasetError, match=r"record 1 \(counting from 0\) has label 42, but this format has 10 "
                                           r"classes"):
        load_dataset(folder)
    batch.unlink()
    (folder / "test_batch.bin").write_bytes(_record_bytes(_images(3, 0), np.array([1, 2, 3])))
    with pytest.raises(DatasetError, match="holds test_batch.bin but no training batches"):
        load_dataset(folder)
    (folder / "data_batch_1.bin").write_bytes(_record_bytes(_images(3, 0), np.array([1, 2, 3])))
    (folder / "data_batch_2.bin").mkdir()  # named like a batch: said, not an IsADirectoryError
    with pytest.raises(DatasetError, match=r"data_batch_2.bin: cannot read this CIFAR batch \(Is a directory\)"):
        load_dataset(folder)
    (folder / "data_batch_2.bin").rmdir()
    (folder / "data_batch_2.bin").symlink_to(tmp_path / "gone.bin")  # a broken link: not a FileNotFoundError
    with pytest.raises(DatasetError, match=r"data_batch_2.bin: cannot read this CIFAR batch \(No such file"):
        load_dataset(folder)
    archive = tmp_path / "cifar-10-binary.tar.gz"
    archive.write_bytes(b"\x1f\x8b\x08\x00" + bytes(20))
    with pytest.raises(DatasetError, match=r"is a tar archive .*extract it first \(tar xzf cifar-10-binary.tar.gz\)"):
        load_dataset(archive)


def test_train_and_predict_on_cifar(tmp_path, capsys):
    written = _cifar10(tmp_path / "cifar-10-batches-bin", batches=(30,), n_test=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["train", "--data", str(tmp_path), "--hidden", "4", "--max-sweeps", "1", "--no-progress",
                     "-o", str(tmp_path / "m.ctn")]) == 0
    Image.fromarray(written[1][0][0]).save(tmp_path / "new.png")
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "m.ctn"), str(tmp_path / "new.png"), "-o", "-"]) == 0
    out = capsys.readouterr().out.splitlines()
    from connttra_neuro import load, predict

    expected = predict(load(tmp_path / "m.ctn"), load_dataset(tmp_path).X_val[:1], names=True)[0]
    assert out[0] == "input,output,label,class_name" and out[1].split(",")[3] == expected


def test_a_loose_bin_file_beside_class_folders_keeps_an_image_folder(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(5):
            Image.fromarray(_images(1, i)[0]).save(tmp_path / name / f"{i}.png")
    (tmp_path / "test.bin").write_bytes(b"some other tool's file")  # not CIFAR-100's size, no label names
    data = load_dataset(tmp_path)
    assert data.class_names == ("a", "b") and "image folders" in data.description
    (tmp_path / "test.bin").write_bytes(_record_bytes(_images(2, 0), np.array([0, 1]), np.array([3, 4])))
    with pytest.raises(DatasetError, match="holds test.bin but no training batches"):  # CIFAR-100's records
        load_dataset(tmp_path)


@pytest.mark.parametrize("layout", ["cifar-10-batches-py", "cifar-100-python", "inside"])
def test_the_python_version_is_named_with_the_binary_one_to_bring(tmp_path, layout):
    # the pickled batches, CIFAR's most downloaded version, were said to lack IDX files or class folders
    folder = tmp_path / ("cifar-10-batches-py" if layout == "inside" else layout)
    folder.mkdir()
    cifar100 = layout == "cifar-100-python"
    for name in ("train", "test", "meta") if cifar100 else ("data_batch_1", "test_batch", "batches.meta"):
        (folder / name).write_bytes(b"\x80\x04not loaded")
    kind = "CIFAR-100" if cifar100 else "CIFAR-10"
    with pytest.raises(DatasetError, match=f"holds {kind}'s Python version .* download the binary version"):
        load_dataset(tmp_path if layout == "inside" else folder)
