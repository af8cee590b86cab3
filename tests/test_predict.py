"""Classifying new data: ``connttra_neuro.predict``, ``datasets.read_images`` and ``connttra-neuro predict``.

The labels must be the reference target's classes mapped through the model's metadata, and an image
read for prediction must be bit for bit the row the image-folder loader gave the same file in training
(EXIF orientation, grey palettes, grey beside colour), or a deployed model sees other inputs than it
was trained on without any error.
"""

from __future__ import annotations

import csv
import io
import warnings

import numpy as np
import pytest
from PIL import Image

from connttra_neuro import load, predict, random_network, save
from connttra_neuro.cli import main
from connttra_neuro.datasets import DatasetError, load_dataset, read_images
from connttra_neuro.inference import output_names
from connttra_neuro.network import thaw_metadata
from hardware_targets.reference import ReferenceTarget, forward

CLASSES = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]  # labels that are not output indices: the mapping matters


def _train(X, y, validation, levels=2, **fit):
    from connttra_neuro.train import CoNNTrA

    model = CoNNTrA(hidden=(16,), levels=levels, max_sweeps=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two sweeps do not converge, and say so
        model.fit(X, y, validation=validation, **fit)
    return model


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A model trained on digits whose labels are 0, 10, ..., 90, saved; and the data."""
    data = load_dataset("digits")
    model = _train(data.X_train, 10 * data.y_train, (data.X_val, 10 * data.y_val))
    path = tmp_path_factory.mktemp("digits") / "digits.ctn"
    save(model.network_, path)
    return load(path), path, data, model


def _digit_images(digit: int, n: int, start: int = 0) -> list[np.ndarray]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return [(x.reshape(8, 8) * 15).astype(np.uint8) for x in X[y == digit][start:start + n]]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """An image folder (train/ and val/, classes one and zero) whose val/ holds an EXIF-rotated JPEG and a
    grey palette GIF, the model trained on it, and the loaded dataset."""
    root = tmp_path_factory.mktemp("images")
    for digit, name in ((0, "zero"), (1, "one")):
        pixels = _digit_images(digit, 18)
        for part, chunk in (("train", pixels[:12]), ("val", pixels[12:])):
            (root / part / name).mkdir(parents=True)
            for i, image in enumerate(chunk):
                Image.fromarray(image).save(root / part / name / f"{i:02d}.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # turn 90 degrees clockwise to view: a phone's photo
    Image.fromarray(_digit_images(0, 1, 30)[0]).save(root / "val" / "zero" / "photo.jpg", exif=exif)
    Image.fromarray(_digit_images(1, 1, 30)[0]).save(root / "val" / "one" / "grey.gif")  # mode P, grey colours
    (root / "val" / "one" / "notes.txt").write_text("not an image")  # skipped, as the loader skips it
    data = load_dataset(root)
    model = _train(data.X_train, data.y_train, (data.X_val, data.y_val), class_names=data.class_names)
    path = root / "model.ctn"
    save(model.network_, path)
    return root, data, load(path), path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


# -- the Python API ---------------------------------------------------------------------------
def test_predict_gives_the_reference_classes_mapped_through_the_model_s_labels(digits):
    network, path, data, model = digits
    assert list(network.metadata["classes"]) == CLASSES
    scores, _ = forward(network, network.encode(data.X_val))
    expected = [CLASSES[c] for c in np.argmax(scores, axis=1)]
    labels = predict(network, data.X_val)
    assert labels.dtype == np.int64 and labels.tolist() == expected
    assert predict(path, data.X_val).tolist() == expected  # a model file's path does too
    assert (labels == model.predict(data.X_val)).all()  # the estimator's own predict agrees
    pipelined = predict(network, data.X_val[:40], ReferenceTarget(mode="pipelined"))  # a Target instance
    assert pipelined.tolist() == expected[:40]


def test_a_model_without_classes_gives_output_indices_and_text_classes_come_back_as_text(digits):
    network, _, data, _ = digits
    scores, _ = forward(network, network.encode(data.X_val))
    outputs = np.argmax(scores, axis=1)
    bare = network.replace(metadata={})
    assert predict(bare, data.X_val).tolist() == outputs.tolist()
    words = [f"w{c}" for c in range(10)]
    texts = network.replace(metadata={"classes": words})
    assert predict(texts, data.X_val).tolist() == [words[c] for c in outputs]


def test_a_model_fit_on_bool_labels_predicts_bools_as_its_estimator_does(tmp_path, capsys):
    # predict gave 0/1 where CoNNTrA.predict gave False/True for the same model
    from connttra_neuro.train import CoNNTrA

    rng = np.random.default_rng(0)
    X = rng.random((100, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = CoNNTrA(hidden=(4,), max_sweeps=2, random_state=0).fit(X, X[:, 0] > 0.5)
    got = predict(model.network_, X)
    assert got.dtype == bool and got.tolist() == model.predict(X).tolist()
    save(model.network_, tmp_path / "b.ctn")
    np.save(tmp_path / "x.npy", X[:3])
    assert main(["predict", str(tmp_path / "b.ctn"), str(tmp_path / "x.npy"), "-o", "-"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["label"] for row in rows] == [str(v) for v in model.predict(X[:3]).tolist()]


def test_names_gives_class_names_and_says_when_the_model_has_none(digits):
    network, _, data, _ = digits
    names = [f"digit {c}" for c in range(10)]
    named = network.replace(metadata={**network.metadata, "class_names": names})
    outputs = np.argmax(forward(network, network.encode(data.X_val[:20]))[0], axis=1)
    assert predict(named, data.X_val[:20], names=True).tolist() == [names[c] for c in outputs]
    with pytest.raises(ValueError, match="the model records no class names"):
        predict(network, data.X_val[:5], names=True)
    # names of a hand-built network, one short: they were said not to exist
    short = network.replace(metadata={**network.metadata, "class_names": names[:9]})
    said = (r"^predict\(\.\.\., names=True\): the model's metadata class_names \['digit 0', .*'digit 8'\] is not "
            r"one distinct name \(str\) per output \(10 outputs\), so it names nothing$")
    with pytest.raises(ValueError, match=said):
        predict(short, data.X_val[:5], names=True)


def test_predict_names_what_is_wrong_with_X(digits):
    network, _, data, _ = digits
    with pytest.raises(ValueError, match="X has 10 features per sample but the model takes 64"):
        predict(network, np.zeros((3, 10)))
    bad = data.X_val[:5].copy()
    bad[3, 7] = np.nan
    with pytest.raises(ValueError, match=r"X: 1 sample\(s\) contain NaN or infinite values \(first: row 3, NaN\)"):
        predict(network, bad)
    with pytest.raises(ValueError, match=r"^X must be 2-D .*, got shape \(64,\): one sample is X.reshape\(1, -1\)"):
        predict(network, data.X_val[0])
    with pytest.raises(ValueError, match=r"X has shape \(8, 8\): 8 samples of 8 features.*give X\[None\]"):
        predict(network, data.X_val[0].reshape(8, 8))  # one digits image as scikit-learn's images hold it
    with pytest.raises(ValueError, match="X has no samples"):
        predict(network, np.zeros((0, 64)))
    with pytest.raises(TypeError, match=r"^predict needs a TernaryNetwork \(a fitted CoNNTrA's network_\) or a "
                                        r"model file's path, got CoNNTrA$"):
        predict(digits[3], data.X_val)


def test_verify_takes_x_as_predict_takes_it_and_says_what_is_wrong_in_its_words(digits):
    # verify refused samples given unflattened, which predict takes, and said a wrong feature count or a NaN in
    # the encoder's words ("encoder: expected samples of shape (n, 64), got (3, 10)"); now predict's
    from connttra_neuro.verify import verify

    network, _, data, _ = digits
    bad = data.X_val[:5].copy()
    bad[3, 7] = np.nan
    for X, said in ((np.zeros((3, 10)), r"^X has 10 features per sample but the model takes 64; give the features"),
                    (bad, r"^X: 1 sample\(s\) contain NaN or infinite values \(first: row 3, NaN\)"),
                    (data.X_val[0].reshape(8, 8), r"^X has shape \(8, 8\): 8 samples of 8 features.*give X\[None\]"),
                    (np.zeros((0, 64)), r"^X has no samples")):
        for call in (lambda X: predict(network, X), lambda X: verify(network, "reference", X, np.zeros(len(X), int))):
            with pytest.raises(ValueError, match=said):
                call(X)
    y = 10 * data.y_val[:30]
    flat, images = (verify(network, "reference", X, y).to_dict() for X in (data.X_val[:30],
                                                                          data.X_val[:30].reshape(-1, 8, 8)))
    assert images["software"] == flat["software"] and images["targets"][0]["status"] == "exact"


def test_a_1d_x_is_refused_alike_by_every_call_that_takes_features(digits, tmp_path, capsys):
    # a 1-D X is one sample or samples of one feature: predict refused it with a hint, fit and the loaders
    # without one, network.encode took it as one sample; now each refuses it with the same words
    from connttra_neuro.datasets import load_npz
    from connttra_neuro.inference import predict_outputs
    from connttra_neuro.network import ThermometerEncoder
    from connttra_neuro.train import CoNNTrA
    from connttra_neuro.verify import verify

    network, path, data, model = digits
    row = data.X_val[0]
    said = (r"X must be 2-D \(n_samples, n_features\), got shape \(64,\): one sample is X.reshape\(1, -1\) \(or "
            r"X\[None\]\), samples of one feature X.reshape\(-1, 1\)")
    takes = said + "; the model takes 64 features per sample"
    calls = {takes: [lambda: predict(network, row), lambda: predict_outputs(path, row),
                     lambda: verify(network, "reference", row, [0]), lambda: network.encode(row),
                     lambda: model.predict(row), lambda: model.score(row, [0])],
             said: [lambda: CoNNTrA(hidden=(2,)).fit(row, np.zeros(64)), lambda: ThermometerEncoder.fit(row)]}
    for message, those in calls.items():
        for call in those:
            with pytest.raises(ValueError, match=message + "$"):
                call()
    np.savez(tmp_path / "one.npz", X=row, y=np.zeros(64))
    with pytest.raises(DatasetError, match=said + "$"):
        load_npz(tmp_path / "one.npz")
    np.save(tmp_path / "one.npy", row)
    assert main(["predict", str(path), str(tmp_path / "one.npy")]) == 2
    assert f"{tmp_path / 'one.npy'}: " + "X must be 2-D" in capsys.readouterr().err
    assert predict(network, row[None]).shape == (1,) and network.encode(row[None]).shape == (1, network.n_inputs)


# -- reading images ----------------------------------------------------------------------------
def test_read_images_gives_the_rows_the_image_folder_loader_gave(images):
    root, data, network, path = images
    assert "1 turned by their EXIF orientation" in data.description  # the photo's EXIF orientation applied
    assert "palette images of grey colours read as grey" in data.description  # the GIF read as grey
    X, files = read_images(root / "val", like=network)  # sorted, as the loader: one/ before zero/
    assert X.dtype == data.X_val.dtype == np.float32
    assert X.tobytes() == np.ascontiguousarray(data.X_val).tobytes()  # bit for bit
    assert [f.name for f in files[:7]] == [*(f"{i:02d}.png" for i in range(6)), "grey.gif"]
    assert files[-1].name == "photo.jpg" and not any(f.name == "notes.txt" for f in files)
    one, _ = read_images([files[-1], files[6]])  # files given one by one read as in the folder
    assert one.tobytes() == np.ascontiguousarray(data.X_val[[-1, 6]]).tobytes()
    by_path, _ = read_images(root / "val", like=path)  # the model file's path, as predict takes it
    assert by_path.tobytes() == X.tobytes()
    with pytest.raises(TypeError, match=r"^read_images\(like=...\) needs a TernaryNetwork .* or a model file's path, "
                                        r"got dict$"):
        read_images(root / "val", like={"n_features": 64})


def test_a_grey_image_goes_to_a_colour_model_as_training_read_it_beside_colour_ones(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i, image in enumerate(_digit_images(0 if name == "a" else 1, 3)):
            Image.fromarray(image).save(tmp_path / name / f"{i}.png")
    Image.new("RGB", (8, 8), (200, 30, 10)).save(tmp_path / "b" / "red.png")  # one colour image: all read RGB
    data = load_dataset(tmp_path)
    loaded = np.concatenate([data.X_train, data.X_val])  # 0.png is in one part or the other
    colour = random_network((192, 4, 2), seed=1)
    X, _ = read_images(tmp_path / "a" / "0.png", like=colour)
    (row,) = [i for i in range(len(loaded)) if np.array_equal(loaded[i][::3], X[0][::3])]
    assert X.shape == (1, 192) and X.tobytes() == loaded[row].tobytes()
    grey_only, _ = read_images(tmp_path / "a" / "0.png")  # without like: the image as it is, grey
    assert grey_only.shape == (1, 64)


def test_read_images_says_what_differs_from_the_model(tmp_path, images):
    _, _, network, _ = images
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(tmp_path / "big.png")
    with pytest.raises(DatasetError, match=r"the model takes 64 features per image \(8x8 grey\), but these images "
                                           r"are 9x9 grey, 81 features; resize them .*open\(f\).resize\(\(8, 8\)\)"):
        read_images(tmp_path / "big.png", like=network)
    colour = random_network((192, 4, 2), seed=1)  # 8x8 RGB; a grey image of that size would be read as RGB
    with pytest.raises(DatasetError, match=r"takes 192 features per image \(8x8 RGB\), but these images are 9x9 "
                                           r"grey, 81 features; .*open\(f\).resize\(\(8, 8\)\)"):
        read_images(tmp_path / "big.png", like=colour)
    Image.new("RGB", (8, 8), (0, 90, 200)).save(tmp_path / "blue.png")
    with pytest.raises(DatasetError, match=r"the model takes grey images, .* but these images are 8x8 RGB, 192 "
                                           r"features .*convert\('L'\)"):
        read_images(tmp_path / "blue.png", like=network)


# -- the command line ---------------------------------------------------------------------------
def test_predict_on_an_image_folder_writes_the_class_names(images, tmp_path, capsys):
    root, data, network, path = images
    out = tmp_path / "predictions.csv"
    code, stdout, err = run(capsys, "predict", path, root / "val", "-o", out)
    assert code == 0, err
    assert "skipped 1 file(s) that are not images" in err and "1 turned by their EXIF orientation" in err
    written = rows(out.read_text())
    outputs = np.argmax(forward(network, network.encode(data.X_val))[0], axis=1)
    names = output_names(network)
    assert names == ["one", "zero"]
    _, files = read_images(root / "val")
    assert [r["input"] for r in written] == [str(f) for f in files]
    assert [r["class_name"] for r in written] == [names[c] for c in outputs]
    assert [int(r["output"]) for r in written] == outputs.tolist() == [int(r["label"]) for r in written]
    assert f"{len(files)} prediction(s) written to {out}" in stdout
    # run again: the command replaces its own CSV
    assert run(capsys, "predict", path, root / "val" / "one" / "grey.gif", "-o", out)[0] == 0
    assert [r["input"] for r in rows(out.read_text())] == [str(root / "val" / "one" / "grey.gif")]


def test_an_interrupted_predict_says_its_csv_is_as_it_was(digits, tmp_path, capsys, monkeypatch):
    # a Ctrl-C while a long folder is read or run said only "interrupted": was -o replaced, cut short?
    import connttra_neuro.inference as inference

    network, path, data, _ = digits
    np.savez(tmp_path / "x.npz", X=data.X_val[:20])
    out = tmp_path / "p.csv"
    assert run(capsys, "predict", path, tmp_path / "x.npz", "-o", out)[0] == 0
    before = out.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(inference, "predict_outputs", interrupted)
    code, _, err = run(capsys, "predict", path, tmp_path / "x.npz", "-o", out)
    assert code == 130 and f"predict: stopped before its predictions were written: -o {out} is as it was" in err
    assert out.read_bytes() == before
    code, _, err = run(capsys, "predict", path, tmp_path / "x.npz")  # no -o: nothing to say
    assert code == 130 and "predict: stopped" not in err


def test_predict_reads_npz_and_npy_feature_rows(digits, tmp_path, capsys):
    network, path, data, _ = digits
    expected = predict(network, data.X_val[:60]).tolist()
    np.savez(tmp_path / "x.npz", X=data.X_val[:60])
    code, out, err = run(capsys, "predict", path, tmp_path / "x.npz")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["input", "output", "label"]
    assert [int(line.split()[2]) for line in lines[1:51]] == expected[:50]  # 50 rows shown, then a count
    assert lines[51].startswith("... 10 more row(s), 60 in all: -o FILE writes every row")
    np.savez(tmp_path / "test.npz", X_test=data.X_val[:5], y_test=data.y_val[:5])
    np.save(tmp_path / "x.npy", data.X_val[:5])
    np.savez(tmp_path / "keras.npz", x_test=data.X_val[:5], y_test=data.y_val[:5])  # Keras's mnist.npz spelling
    for given in ("test.npz", "x.npy", "keras.npz"):
        code, out, err = run(capsys, "predict", path, tmp_path / given, "-o", "-")
        assert code == 0, err
        assert [(r["input"], int(r["label"])) for r in rows(out)] == [(str(i), v) for i, v in enumerate(expected[:5])]
        assert "class_name" not in rows(out)[0]  # the digits model records no names


def test_predict_errors_name_the_problem(digits, images, tmp_path, capsys):
    network, path, data, _ = digits
    root, _, _, image_model = images
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    (tmp_path / "export.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "small.png")
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(tmp_path / "big.png")
    np.savez(tmp_path / "narrow.npz", X=np.zeros((3, 10)))
    np.savez(tmp_path / "labels.npz", y=np.zeros(3))
    np.save(tmp_path / "nan.npy", np.where(np.arange(64) == 5, np.nan, 1.0)[None, :].repeat(3, axis=0))
    (tmp_path / "empty").mkdir()
    (tmp_path / "mine.csv").write_text("id,price\n1,2\n")
    cases = [
        ((path,), "no inputs: give image files, folders of images"),
        ((image_model, tmp_path / "broken.png"), "broken.png is not a readable image"),
        # Pillow names an HDF5 file (a netx export) as a 1x1 float image: the error said to resize it
        ((image_model, tmp_path / "export.h5"), "export.h5 is not a readable image (its format, HDF5, holds no pixels"),
        ((image_model, tmp_path / "small.png", tmp_path / "big.png"),
         "images differ in size: " + f"{tmp_path / 'small.png'} is 8x8 but {tmp_path / 'big.png'} is 9x9"),
        ((image_model, tmp_path / "big.png"), "the model takes 64 features per image"),
        ((path, tmp_path / "narrow.npz"), "narrow.npz: rows of 10 features, but model"),
        ((path, tmp_path / "labels.npz"), "expected an array X (or X_test, x, x_test) of feature rows; "
                                           "arrays found: y"),
        ((path, tmp_path / "nan.npy"), "nan.npy: X: 3 sample(s) contain NaN or infinite values (first: row 0, NaN)"),
        ((path, tmp_path / "empty"), "no image files in folder"),
        ((path, tmp_path / "nowhere.png"), "nowhere.png: no such file or folder"),
        ((tmp_path / "small.png", path), "not a connttra-neuro model file"),
        ((tmp_path / "small.png", path), "MODEL comes first"),
        ((tmp_path / "small.png", tmp_path / "model.NIR"), "MODEL comes first"),  # a NIR export is a model too
        ((path, tmp_path / "narrow.npz", tmp_path / "small.png"), "not both"),
        ((path, tmp_path / "narrow.npz", "-o", tmp_path / "mine.csv"), "mine.csv exists and is not a file this "
                                                                         "command writes"),
        ((path, tmp_path / "narrow.npz", "--codegen", "cython"), "--codegen applies only to target brian2"),
    ]
    for argv, message in cases:
        code, _, err = run(capsys, "predict", *argv)
        assert code == 2 and message in err, (argv, err)
    assert (tmp_path / "mine.csv").read_text() == "id,price\n1,2\n"  # refused, not replaced


def test_data_on_another_scale_than_training_are_named(digits, tmp_path, capsys):
    # only the feature count was checked: an 8x8 PNG (0..255) fitted a model trained on scikit-learn's digits
    # (0..16), nearly every encoder level fired, and a label came back with no word of it
    import warnings

    from PIL import Image

    network, path, data, _ = digits
    image = tmp_path / "nine.png"
    Image.fromarray((data.X_val[0].reshape(8, 8) * 15).astype(np.uint8)).save(image)
    code, _, err = run(capsys, "predict", path, image)
    assert code == 0 and "warning: the data have values up to 240, while the model's encoder cuts end at" in err
    with pytest.warns(UserWarning, match="values no larger than 0.0625, while the model's encoder cuts reach"):
        predict(network, data.X_val[:5] / 256)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the training scale: nothing said
        predict(network, data.X_val)


def test_inputs_may_come_on_both_sides_of_an_option(images, tmp_path, capsys):
    # argparse ended the inputs at -o: `predict m.ctn a.png -o x.csv b.png` refused b.png as unrecognised
    root, _, _, path = images
    a, b = root / "val" / "zero" / "00.png", root / "val" / "one" / "01.png"
    code, _, err = run(capsys, "predict", path, a, "-o", tmp_path / "p.csv", b)
    assert code == 0, err
    assert [r["input"] for r in rows((tmp_path / "p.csv").read_text())] == [str(a), str(b)]


# -- the shape of one sample: recorded at training, checked on new data ----------------------------
def _wide_folder(root, size=(6, 4)) -> None:
    """Two classes of grey images of ``size`` (width x height, not square): bright left or right half."""
    width, height = size
    rng = np.random.default_rng(3)
    for name, half in (("left", slice(0, width // 2)), ("right", slice(width // 2, width))):
        (root / name).mkdir(parents=True)
        for i in range(10):
            pixels = rng.integers(0, 60, (height, width)).astype(np.uint8)
            pixels[:, half] += 150
            Image.fromarray(pixels).save(root / name / f"{i}.png")


def test_loaders_give_the_shape_of_one_sample(tmp_path):
    from tests.test_datasets import write_idx

    assert load_dataset("digits").input_shape == (8, 8)
    assert load_dataset("mnist-sample", n_train=20, n_val=10).input_shape == (28, 28)
    assert load_dataset("iris").input_shape == ()  # rows of measurements: no shape to keep
    _wide_folder(tmp_path / "grey")
    assert load_dataset(tmp_path / "grey").input_shape == (4, 6)  # (height, width): a row's order
    _wide_folder(tmp_path / "colour")
    Image.new("RGB", (6, 4), (200, 30, 10)).save(tmp_path / "colour" / "left" / "red.png")
    assert load_dataset(tmp_path / "colour").input_shape == (4, 6, 3)
    idx = tmp_path / "idx"
    idx.mkdir()
    rng = np.random.default_rng(0)
    write_idx(idx / "train-images-idx3-ubyte", rng.integers(0, 255, (20, 4, 6), dtype=np.uint8))
    write_idx(idx / "train-labels-idx1-ubyte", np.arange(20, dtype=np.uint8) % 2)
    assert load_dataset(idx).input_shape == (4, 6)
    np.savez(tmp_path / "cube.npz", X=rng.random((20, 3, 2, 2)), y=np.arange(20) % 2)
    np.savez(tmp_path / "rows.npz", X=rng.random((20, 12)), y=np.arange(20) % 2)
    assert load_dataset(tmp_path / "cube.npz").input_shape == (3, 2, 2)
    assert load_dataset(tmp_path / "rows.npz").input_shape == ()
    assert load_dataset(tmp_path / "cube.npz", n_train=10).input_shape == (3, 2, 2)  # kept by a subsample
    from connttra_neuro.datasets import Dataset

    X, y = rng.random((4, 64)), np.array([0, 1, 0, 1])
    with pytest.raises(DatasetError, match=r"input_shape \(3, 3\) does not hold 64 features"):
        Dataset("d", X, y, X, y, input_shape=(3, 3))


def test_train_records_the_shape_and_fit_checks_it(tmp_path, capsys):
    from connttra_neuro.inference import input_shape
    from connttra_neuro.train import CoNNTrA

    _wide_folder(tmp_path / "data")
    code, _, err = run(capsys, "train", "--data", tmp_path / "data", "--hidden", "4", "--max-sweeps", "1",
                       "-o", tmp_path / "m.ctn", "--no-progress")
    assert code == 0, err
    assert input_shape(load(tmp_path / "m.ctn")) == (4, 6)
    assert input_shape(random_network((24, 4, 2), seed=0)) is None  # none recorded: none assumed
    with pytest.raises(ValueError, match=r"input_shape \(5, 5\) does not hold 24 features per sample"):
        CoNNTrA(hidden=(4,), max_sweeps=1).fit(np.zeros((4, 24)), [0, 1, 0, 1], input_shape=(5, 5))
    with pytest.raises(ValueError, match="input_shape must be a tuple of integers"):
        CoNNTrA(hidden=(4,), max_sweeps=1).fit(np.zeros((4, 24)), [0, 1, 0, 1], input_shape=(4.0, 6.0))


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """A model trained on 6x4 grey images (width x height), which records their shape."""
    root = tmp_path_factory.mktemp("wide")
    _wide_folder(root / "data")
    data = load_dataset(root / "data")
    model = _train(data.X_train, data.y_train, (data.X_val, data.y_val), class_names=data.class_names,
                   input_shape=data.input_shape)
    save(model.network_, root / "m.ctn")
    return root, data, load(root / "m.ctn")


def test_images_of_the_same_pixel_count_but_another_shape_are_refused(wide, tmp_path, capsys):
    root, data, network = wide
    assert thaw_metadata(network.metadata)["input_shape"] == [4, 6]  # as the messages below quote it
    files = sorted((root / "data" / "left").glob("*.png"))
    X, _ = read_images(files, like=network)  # the right shape reads as training read it
    assert X.tobytes() == np.stack([np.asarray(Image.open(f), np.float32).reshape(-1) for f in files]).tobytes()
    pixels = np.asarray(Image.open(files[0]))
    Image.fromarray(np.ascontiguousarray(pixels.T)).save(tmp_path / "turned.png")  # 4x6: the same 24 pixels
    Image.fromarray(pixels.reshape(2, 12)).save(tmp_path / "long.png")  # 12x2
    Image.fromarray(np.repeat(pixels[..., None], 3, axis=2)).save(tmp_path / "rgb.png")  # 6x4 RGB: 72 features
    cases = [
        ("turned.png", r"trained on 6x4 grey images \(width x height; its metadata input_shape \[4, 6\]\), but "
                       r"these images are 4x6 grey: turned a quarter against them.*ROTATE_90"),
        ("long.png", r"trained on 6x4 grey images .*, but these images are 12x2 grey; resize them to the model's "
                     r"size first, e.g. with Pillow: Image.open\(f\).resize\(\(6, 4\)\)"),
        ("rgb.png", r"trained on 6x4 grey images .*, but these images are 6x4 RGB; convert them first, e.g. with "
                    r"Pillow: Image.open\(f\).convert\('L'\).save\(f\)"),
    ]
    for name, message in cases:
        with pytest.raises(DatasetError, match=message):
            read_images(tmp_path / name, like=network)
        code, _, err = run(capsys, "predict", root / "m.ctn", tmp_path / name)
        assert code == 2 and ("turned a quarter" if name == "turned.png" else "trained on 6x4 grey") in err, err
    # arrays of samples: their shape is checked too, then flattened
    rows = data.X_val.reshape(-1, 4, 6)
    assert predict(network, rows).tolist() == predict(network, data.X_val).tolist()
    assert predict(network, rows[..., None]).tolist() == predict(network, data.X_val).tolist()  # (4, 6, 1)
    with pytest.raises(ValueError, match=r"X holds samples of shape \(6, 4\) but the model was trained on samples "
                                         r"of shape \(4, 6\)"):
        predict(network, data.X_val.reshape(-1, 6, 4))
    np.save(tmp_path / "turned.npy", data.X_val.reshape(-1, 6, 4))
    code, _, err = run(capsys, "predict", root / "m.ctn", tmp_path / "turned.npy")
    assert code == 2 and "turned.npy: X holds samples of shape (6, 4)" in err


def test_evaluating_on_data_of_another_shape_is_refused(wide, tmp_path, capsys):
    root, _, _ = wide
    _wide_folder(tmp_path / "tall", size=(4, 6))  # 4x6: the model's 24 pixels, turned
    code, _, err = run(capsys, "evaluate", root / "m.ctn", "--data", tmp_path / "tall")
    assert code == 2
    assert "was trained on samples of shape (4, 6) (height, width[, channels]; its metadata input_shape) but " \
           "dataset" in err and "holds samples of shape (6, 4): the same 24 features in other places" in err
    assert run(capsys, "evaluate", root / "m.ctn", "--data", root / "data")[0] == 0


def test_one_channel_first_is_the_grey_image_in_the_same_order(tmp_path):
    # torchvision holds MNIST as (n, 1, 28, 28): the same pixel order as (n, 28, 28) and a grey PNG's rows
    from connttra_neuro.inference import check_features
    from connttra_neuro.train import CoNNTrA

    rng = np.random.default_rng(2)
    X = rng.integers(0, 255, (40, 1, 4, 6)).astype(np.float32)
    model = CoNNTrA(hidden=(4,), max_sweeps=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X.reshape(40, -1), np.arange(40) % 2, input_shape=(1, 4, 6))
    Image.fromarray(X[0, 0].astype(np.uint8)).save(tmp_path / "a.png")  # 6x4 grey
    X_png, _ = read_images(tmp_path / "a.png", like=model.network_)
    assert X_png.tobytes() == X[:1].reshape(1, -1).tobytes()
    assert check_features(model.network_, X[:, 0]).tobytes() == X.reshape(40, -1).tobytes()  # (n, 4, 6)
    with pytest.raises(ValueError, match=r"samples of shape \(6, 4\) but the model was trained on samples of "
                                         r"shape \(1, 4, 6\)"):
        check_features(model.network_, X[:, 0].transpose(0, 2, 1))
    Image.fromarray(X[0, 0].T.astype(np.uint8)).save(tmp_path / "turned.png")
    with pytest.raises(DatasetError, match="turned a quarter"):
        read_images(tmp_path / "turned.png", like=model.network_)


def test_a_model_trained_on_channels_first_arrays_refuses_image_files(tmp_path):
    from connttra_neuro.train import CoNNTrA

    rng = np.random.default_rng(1)
    X = rng.integers(0, 255, (40, 3, 4, 6)).astype(np.float32)  # channels first, as torchvision holds images
    y = np.arange(40) % 2
    model = CoNNTrA(hidden=(4,), max_sweeps=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X.reshape(40, -1), y, input_shape=(3, 4, 6))
    Image.new("RGB", (6, 4), (10, 20, 30)).save(tmp_path / "a.png")  # 6x4 RGB: the same 72 features
    with pytest.raises(DatasetError, match=r"trained on samples of shape 3x4x6 \(its metadata input_shape\), not on "
                                           r"images read row by row.*channels first.*X.reshape\(len\(X\), 4, 6, 3\)"
                                           r".transpose\(0, 3, 1, 2\)"):
        read_images(tmp_path / "a.png", like=model.network_)
    X_png, _ = read_images(tmp_path / "a.png")  # without the model: the image as it is, then reordered as said
    first = X_png.reshape(len(X_png), 4, 6, 3).transpose(0, 3, 1, 2).reshape(len(X_png), -1)
    assert first[0, :24].tolist() == [10.0] * 24 and first[0, 48:].tolist() == [30.0] * 24


def test_standardised_training_data_are_not_called_another_scale():
    # a StandardScaler before CoNNTrA (the scikit-learn habit): the medians are near 0, so the cuts ended at
    # 0.34 and predict warned "trained on data of another scale" on the very training data (values up to 3.1)
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    model = _train(X, y, None, levels=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(predict(model.network_, X), model.predict(X))
