"""Image folders: one sub-folder of image files per class, the layout ImageNet's ILSVRC training
set, torchvision's ``ImageFolder`` and most image datasets on disk use.

Two layouts (the class of an image is the name of its folder; classes are numbered in sorted
order of those names, so ``cat/ dog/`` are 0 and 1):

* ``DIR/train/<class>/*`` for training and ``DIR/val/<class>/*`` (or ``validation/``, ``test/``)
  for validation; without one of those, the training images are split 80/20 (stratified, seeded);
* ``DIR/<class>/*``: every image, split 80/20 the same way.

Every image must have the same size (downsampled ImageNet, CIFAR-style exports do); the loader
never resizes behind a user's back, and the error says how to resize. Grayscale images give one
feature per pixel; if any image has colour, every image is read as RGB (three per pixel). Files
that are not images by their extension (``.DS_Store``, ``README``) are skipped and counted in the
description; an image file that does not decode is an error naming it. Pillow is imported only
here, when an image folder is loaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .datasets import Dataset, DatasetError, _split, _subsample, _subsample_note

#: File name endings read as images (compared in lower case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm")
#: Folder names that hold the validation images beside ``train/``, in the order looked for.
VAL_FOLDERS = ("val", "validation", "test")
# Pillow modes read as one grey value per pixel; every other mode is read as RGB.
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
# A progress bar for folders larger than this (28x28 PNGs read at about 15,000 a second here: a bar
# for fewer would flash past; ImageNet's 1.28 million take minutes).
_PROGRESS_FROM = 50_000


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


def _class_files(folder: Path) -> tuple[dict[str, list[Path]], list[Path]]:
    """Image files per class folder (sorted by name) and the files skipped as not images."""
    per_class, skipped = {}, []
    for class_dir in _visible_dirs(folder):
        files = sorted((p for p in class_dir.iterdir() if p.is_file() and not p.name.startswith(".")),
                       key=lambda p: p.name)
        per_class[class_dir.name] = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        skipped += [p for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
    return per_class, skipped


def is_image_folder(directory: Path) -> bool:
    """Whether ``directory`` has one of the two layouts: class folders holding image files,
    directly or under ``train/``."""
    root = directory / "train" if (directory / "train").is_dir() else directory
    try:
        return any(p.suffix.lower() in IMAGE_SUFFIXES for d in _visible_dirs(root) for p in d.iterdir())
    except OSError:
        return False


def _progress(files: list[Path], desc: str):
    """``files``, with a progress bar on stderr when there are many (ImageNet's training set is 1.28
    million files: reading it takes minutes)."""
    if len(files) < _PROGRESS_FROM:
        return files
    from tqdm import tqdm

    return tqdm(files, unit="image", desc=desc, leave=False)


def _read_all(files: list[Path], name: str) -> tuple[np.ndarray, str]:
    """Decode every file into one uint8 (or float32 for 16-bit and float images) array of
    ``(n, pixels * channels)``; all images must share one size."""
    from PIL import Image, UnidentifiedImageError

    def opened(path: Path):
        try:
            return Image.open(path)
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as err:
            raise DatasetError(f"{name}: {path} is not a readable image ({err})") from None

    sizes, grey, wide = {}, True, False
    for path in _progress(files, f"checking {name}"):  # headers only: Pillow decodes lazily
        with opened(path) as img:
            sizes.setdefault(img.size, path)
            grey &= img.mode in _GREY_MODES
            wide |= img.mode in ("I", "F") or img.mode.startswith("I;16")
        if len(sizes) > 1:
            (size_a, file_a), (size_b, file_b) = list(sizes.items())[:2]
            raise DatasetError(
                f"{name}: images differ in size: {file_a} is {size_a[0]}x{size_a[1]} but {file_b} is "
                f"{size_b[0]}x{size_b[1]} (width x height); every image must have the same size: resize them "
                f"first, e.g. with Pillow: Image.open(f).resize((32, 32)).save(f)")
    (width, height), = sizes
    channels = 1 if grey else 3
    X = np.empty((len(files), height * width * channels), np.float32 if wide and grey else np.uint8)
    for i, path in enumerate(_progress(files, f"reading {name}")):
        with opened(path) as img:
            try:
                if grey:
                    pixels = np.asarray(img.convert("L") if img.mode in ("1", "LA") else img)
                else:
                    pixels = np.asarray(img.convert("RGB"))
            except (OSError, ValueError, SyntaxError) as err:  # truncated or damaged pixel data
                raise DatasetError(f"{name}: {path} is a damaged image ({err})") from None
        X[i] = pixels.reshape(-1)
    what = f"{width}x{height} {'grey' if grey else 'RGB'}"
    return X, what


def _describe_classes(names: list[str]) -> str:
    shown = ", ".join(f"{i} {n}" for i, n in enumerate(names[:6]))
    return shown + (f", ... {len(names) - 1} {names[-1]}" if len(names) > 6 else "")


def load_image_folder(directory: Path, name: str, seed: int, n_train: int | None, n_val: int | None) -> Dataset:
    """A :class:`Dataset` from an image folder (layouts in the module docstring)."""
    train_root = directory / "train" if (directory / "train").is_dir() else directory
    val_root = next((directory / v for v in VAL_FOLDERS if train_root != directory and (directory / v).is_dir()), None)
    train_files, skipped = _class_files(train_root)
    classes = [c for c in train_files if train_files[c]]
    empty = [c for c in train_files if not train_files[c]]
    if empty:
        raise DatasetError(f"{name}: class folder(s) without images in {train_root}: {', '.join(empty[:5])}; "
                           f"every class needs training images (image files end in {', '.join(IMAGE_SUFFIXES)})")
    if len(classes) < 2:
        raise DatasetError(f"{name}: {train_root} holds {len(classes)} class folder with images; need at least 2")
    files = [p for c in classes for p in train_files[c]]
    y = np.repeat(np.arange(len(classes)), [len(train_files[c]) for c in classes])
    val_files = None
    if val_root is not None:
        by_class, skipped_val = _class_files(val_root)
        skipped += skipped_val
        unknown = [c for c in by_class if by_class[c] and c not in classes]
        if unknown:
            raise DatasetError(f"{name}: {val_root} has class folder(s) that {train_root} lacks: "
                               f"{', '.join(unknown[:5])}; validation classes must be training classes")
        val_files = [p for c in classes for p in by_class.get(c, [])]
        if not val_files:
            raise DatasetError(f"{name}: {val_root} holds no images in class folders named like {train_root}'s")
        y_val = np.repeat(np.arange(len(classes)), [len(by_class.get(c, [])) for c in classes])
    X_all, what = _read_all(files + (val_files or []), name)
    X = X_all[:len(files)]
    if val_files is None:
        X, y, X_val, y_val = _split(X, y, seed, name)
        how = f"{len(files)} images in {train_root} split 80%/20% (stratified, seed {seed})"
    else:
        X_val = X_all[len(files):]
        how = f"{len(files)} images in {train_root} for training, {len(val_files)} in {val_root} for validation"
    X, y = _subsample(X, y, n_train, seed, 1, "n_train", name)
    X_val, y_val = _subsample(X_val, y_val, n_val, seed, 2, "n_val", name)
    note = f"; skipped {len(skipped)} file(s) that are not images, e.g. {skipped[0]}" if skipped else ""
    return Dataset(name, X, y, X_val, y_val,
                   f"image folders: {how}, {what}; {len(classes)} classes by sorted folder name "
                   f"({_describe_classes(classes)}){_subsample_note(n_train, n_val, seed)}{note}")


__all__ = ["IMAGE_SUFFIXES", "VAL_FOLDERS", "is_image_folder", "load_image_folder"]
