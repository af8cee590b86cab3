"""Image folders: one sub-folder of image files per class, the layout ImageNet's ILSVRC training
set, torchvision's ``ImageFolder`` and most image datasets on disk use.

Two layouts (the class of an image is the name of its folder; classes are numbered in sorted
order of those names, so ``cat/ dog/`` are 0 and 1):

* ``DIR/train/<class>/`` for training and ``DIR/val/<class>/`` (or ``valid/``, ``validation/``,
  ``test/``, ``testing/``; ``training/`` for ``train/``; any case) for validation; without one of
  those holding class folders, the training images are split 80/20 (stratified, seeded). Used when
  ``train/`` holds folders and no images of its own or a validation folder is beside it;
* ``DIR/<class>/``: every image, split 80/20 the same way.

Images in sub-folders of a class folder belong to that class (as in torchvision's ``ImageFolder``).
A file reached twice (two links to one image, a hard link, a linked folder) is one sample, said in the
description; reached from two class folders it is an error naming both paths (an image has one class).

Every image must have the same size (downsampled ImageNet, CIFAR-style exports do); the loader
never resizes behind a user's back, and the error says how to resize. EXIF orientation is applied
(a photo reads as a viewer shows it). Grayscale images (and palette images of grey colours) give one
feature per pixel (16-bit and float grey keep their values, and may not be mixed with 8-bit
images); if any image has colour, every image is read as RGB (three per pixel). Files that are not
images by their extension (``README``, ``Thumbs.db``) are skipped and counted in the description,
hidden ones (``.DS_Store``, ``__MACOSX/``) ignored; an image file that does not decode is an error
naming it. Pillow is imported only
here, when an image folder is loaded.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .datasets import Dataset, DatasetError, _split, _subsample, _subsample_note

#: File name endings read as images (compared in lower case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm")
#: Folder names (compared in lower case) that hold the training images, and the validation images
#: beside them, in the order looked for.
TRAIN_FOLDERS = ("train", "training")
VAL_FOLDERS = ("val", "valid", "validation", "test", "testing")
# Pillow modes read as one grey value per pixel (the wide ones keep 16-bit or float values); every
# other mode is read as RGB.
_WIDE_GREY_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_GREY_MODES = {"1", "L", "LA"} | _WIDE_GREY_MODES
#: Said in a dataset's description when some images read otherwise than before 2026-12-06 (as stored,
#: and grey palettes as RGB): ``evaluate`` notes it, since a model trained earlier saw them otherwise.
TURNED_NOTE = "turned by their EXIF orientation"
GREY_PALETTE_NOTE = "palette images of grey colours read as grey"
_ORIENTATION = 0x0112  # the EXIF tag
_SWAPPED = {5, 6, 7, 8}  # orientations that turn the image by 90 degrees: width and height swap
# A progress bar for folders larger than this (28x28 PNGs read at about 15,000 a second here: a bar
# for fewer would flash past; ImageNet's 1.28 million take minutes).
_PROGRESS_FROM = 50_000


def _hidden(path: Path) -> bool:
    return path.name.startswith(".") or path.name == "__MACOSX"  # macOS metadata, also in zip files


def _entries(folder: Path, name: str) -> list[Path]:
    """A folder's visible entries, sorted by name; an unreadable folder is a named error."""
    try:
        return sorted((p for p in folder.iterdir() if not _hidden(p)), key=lambda p: p.name)
    except OSError as err:
        raise DatasetError(f"{name}: cannot read folder {folder} ({err.strerror or err})") from None


def _walk(folder: Path, name: str, images: list, skipped: list, seen: set, files: list | None = None) -> None:
    """Image files under ``folder`` in sorted path order, sub-folders included (the files torchvision's
    ``ImageFolder`` takes, in its own order); anything else goes to ``skipped``. A folder linked into itself is
    read once. ``files``, if given, gets each image's ``(device, inode)``: which file a path reaches, links
    followed (one stat per entry, as ``is_dir`` and ``is_file`` took two)."""
    real = folder.resolve()
    if real in seen:
        skipped.append(folder)
        return
    seen.add(real)
    for path in _entries(folder, name):
        try:
            info = path.stat()
        except OSError as err:
            if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EBADF):  # a broken link, a link loop
                skipped.append(path)
                continue
            raise DatasetError(f"{name}: cannot read {path} ({err.strerror or err})") from None
        if stat.S_ISDIR(info.st_mode):
            _walk(path, name, images, skipped, seen, files)
        elif path.suffix.lower() in IMAGE_SUFFIXES and stat.S_ISREG(info.st_mode):
            images.append(path)
            if files is not None:
                files.append((info.st_dev, info.st_ino))
        else:  # README, labels.csv, Thumbs.db
            skipped.append(path)


def _class_name(folder: Path) -> str:
    """A class folder's name as text that prints and saves anywhere: a name that is not UTF-8 (an
    old Windows zip's ``caf\xe9``) keeps its bytes as ``\xe9`` escapes instead of the lone surrogates
    Python reads them as, which a UTF-8 terminal or file refuses."""
    return os.fsencode(folder.name).decode("utf-8", "backslashreplace")


def _class_files(folder: Path, name: str, first: dict | None = None
                 ) -> tuple[dict[str, list[Path]], list[Path], list[tuple[Path, Path]]]:
    """Image files per class folder, the entries skipped as not images (loose files beside the class
    folders included), and the images reached a second time, ``(path, first path)``, read once.

    A file reached twice (two links to one image, a hard link, a linked folder) is one sample: counted twice
    it would also land on both sides of the split. Reached from two class folders it would be one image
    with two classes: that is an error naming both paths. ``first`` (``(device, inode) -> (class, first
    path)``), shared by the training and the validation folder, also refuses a validation image that is a
    training image."""
    per_class, skipped, repeats = {}, [], []
    first = {} if first is None else first
    for entry in _entries(folder, name):
        if not entry.is_dir():
            skipped.append(entry)
            continue
        label, found, files = _class_name(entry), [], []
        _walk(entry, name, found, skipped, set(), files)
        images = per_class[label] = []
        for path, file in zip(found, files, strict=True):
            if not file[1]:  # no inode numbers (some FUSE and SMB mounts say 0 for every file): links go untold
                images.append(path)
                continue
            label_before, path_before = first.setdefault(file, (label, path))
            if path_before is path:
                images.append(path)
            elif folder not in path_before.parents:  # a training image reached again from the validation folder
                raise DatasetError(
                    f"{name}: {path} (validation) and {path_before} (training) are the same file, reached through "
                    f"a link: a validation image must not be a training image, or the validation error is "
                    f"measured on data the model was trained on; remove it from {folder}")
            elif label_before == label:
                repeats.append((path, path_before))
            else:
                raise DatasetError(
                    f"{name}: {path_before} (class {label_before}) and {path} (class {label}) are the same file, "
                    f"reached through a link: one image cannot have two classes; remove the link, or the file, "
                    f"from the folder of the class it does not belong to")
    return per_class, skipped, repeats


def _layout(directory: Path, name: str) -> tuple[Path, Path | None, list[str]]:
    """``(training root, validation root or None, folders beside them not used)``. A folder named like
    ``TRAIN_FOLDERS`` (any case: mnist_png's ``training/`` and ``testing/``, ``Train/``) is the training
    root when it holds folders and either no images of its own or a folder named for validation beside it: a
    class named ``train`` (CIFAR-100 has one) holds only images and stays a class of ``DIR/<class>/``, a
    stray image in a split's ``train/`` is skipped, and a folder beside a split (``unlabeled/``,
    ``devkit/``) must not turn ``train/`` and ``val/`` into two classes."""
    folders = {}
    for path in (p for p in _entries(directory, name) if p.is_dir()):
        first = folders.setdefault(path.name.lower(), path)
        if first is not path and path.name.lower() in TRAIN_FOLDERS + VAL_FOLDERS:  # one would go unread, unsaid
            raise DatasetError(f"{name}: {first.name}/ and {path.name}/ in {directory} are one split folder in two "
                               f"spellings; merge them into one")
    # a validation folder holds class folders; Kaggle's test/ of unlabelled images is not one
    labelled = [folders[v] for v in VAL_FOLDERS if v in folders and _holds_folders(folders[v], name)]
    for train in (folders[t] for t in TRAIN_FOLDERS if t in folders):
        inside = _entries(train, name)
        loose = any(p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir() for p in inside)
        # a stray image beside the class folders: still a split if a folder named for validation is beside it
        if any(p.is_dir() for p in inside) and (not loose or any(v in folders for v in VAL_FOLDERS)):
            val = labelled[0] if labelled else None
            return train, val, [f.name for f in folders.values() if f not in (train, val)]
    return directory, None, []


def _holds_folders(folder: Path, name: str) -> bool:
    return any(p.is_dir() for p in _entries(folder, name))


def is_image_folder(directory: Path) -> bool:
    """Whether ``directory`` holds folders (class folders, or ``train/`` beside validation folders):
    it is then read as an image folder, whose errors say what it lacks."""
    try:
        return any(p.is_dir() for p in directory.iterdir() if not _hidden(p))
    except OSError:
        return True  # unreadable: the image-folder loader names it


def loose_images(directory: Path) -> int:
    """How many image files (by extension) sit in ``directory`` itself, outside any folder: a folder of
    unlabelled images, which is no dataset, since its images have no class folders to be labelled by."""
    try:
        return sum(p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() for p in directory.iterdir() if not _hidden(p))
    except OSError:
        return 0  # unreadable: the IDX loader's message names the folder


def _progress(files: list[Path], desc: str):
    """``files``, with a progress bar on stderr when there are many (ImageNet's training set is 1.28
    million files: reading it takes minutes)."""
    if len(files) < _PROGRESS_FROM:
        return files
    from ._progress import bar

    return bar(files, unit="image", desc=desc)


def _read_all(files: list[Path], name: str) -> tuple[np.ndarray, str, tuple]:
    """Decode every file into one uint8 (or float32 for 16-bit and float images) array of
    ``(n, pixels * channels)``; all images must share one size. Also what they are in words and the
    shape of one image (``_shape``)."""
    header = _headers(files, name)
    grey = "colour" not in header.kinds
    return (*_decode(files, name, header, grey), _shape(header, grey))


def _shape(header: _Header, grey: bool) -> tuple:
    """One image's shape as its row holds it: ``(height, width)`` grey, ``(height, width, 3)`` RGB."""
    return (header.height, header.width) if grey else (header.height, header.width, 3)


class _Header(NamedTuple):
    """What the header pass found: the one size (as shown), the kinds of image read ("wide", "float",
    "grey", "colour", and notes: "grey palette", "32-bit", "16-bit colour"; each -> the first such
    file) and the indices of the files turned by their EXIF orientation."""

    width: int
    height: int
    kinds: dict
    turned: set


def _opened(path: Path, name: str):
    from PIL import Image, ImageFile, UnidentifiedImageError

    try:
        img = Image.open(path)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as err:
        raise DatasetError(f"{name}: {path} is not a readable image ({err})") from None
    # Pillow names HDF5, GRIB and BUFR files (a netx export given to predict) but reads no pixels: a "1x1
    # float grey" image whose size error sent the user to resize it
    if isinstance(img, ImageFile.StubImageFile):
        img.close()
        raise DatasetError(f"{name}: {path} is not a readable image (its format, {img.format}, holds no "
                           "pixels Pillow can read)")
    return img


def _headers(files: list[Path], name: str) -> _Header:
    """Read every file's header (Pillow decodes lazily): one size for all, and depths that share a scale."""
    sizes, kinds = {}, {}  # kinds: "wide" (16-bit or float grey), "grey" (8-bit), "colour" -> first file
    turned = set()  # files with an EXIF orientation: read the way a viewer shows them (a phone's photos)
    for i, path in enumerate(_progress(files, f"checking {name}")):  # headers only: Pillow decodes lazily
        with _opened(path, name) as img:
            orientation = _orientation(img)
            if orientation > 1:
                turned.add(i)
            width, height = img.size
            sizes.setdefault((height, width) if orientation in _SWAPPED else (width, height), path)
            grey_palette = _grey_palette(img)
            kind = ("float" if img.mode == "F" else "wide" if img.mode in _WIDE_GREY_MODES
                    else "grey" if img.mode in _GREY_MODES or grey_palette else "colour")
            kinds.setdefault(kind, path)
            if grey_palette:
                kinds.setdefault("grey palette", path)
            if kind == "wide" and img.mode == "I":
                kinds.setdefault("32-bit", path)
            # a 16-bit PNG's raw mode (RGB;16B); a 5-6-5 BMP's BGR;16 holds fewer bits than 8, losing none
            if (kind == "colour" and img.format == "PNG"
                    and any(";16" in str(tile[3]) for tile in getattr(img, "tile", ()) or ())):
                kinds.setdefault("16-bit colour", path)  # Pillow's RGB holds 8 bits: the low byte is lost
        if len(sizes) > 1:
            (size_a, file_a), (size_b, file_b) = list(sizes.items())[:2]
            shown = [f for f in (file_a, file_b) if files.index(f) in turned]
            turn = (f" ({' and '.join(map(str, shown))} as shown, turned by {'their' if len(shown) > 1 else 'its'} "
                    f"EXIF orientation)" if shown else "")
            raise DatasetError(
                f"{name}: images differ in size: {file_a} is {size_a[0]}x{size_a[1]} but {file_b} is "
                f"{size_b[0]}x{size_b[1]} (width x height){turn}; every image must have the same size: resize "
                f"them to one first, e.g. to the first one's with Pillow: "
                f"Image.open(f).resize(({size_a[0]}, {size_a[1]})).save(f)")
        deep = [k for k in ("wide", "float") if k in kinds]
        if deep and len(kinds) > 1:  # 0..65535 beside 0..255 or 0..1: no one scale is right
            other = next(k for k in ("float", "colour", "grey") if k in kinds and k != deep[0])
            said = {"wide": "16-bit grey", "float": "float grey", "grey": "8-bit grey", "colour": "8-bit colour"}
            raise DatasetError(
                f"{name}: images mix {said[deep[0]]} ({kinds[deep[0]]}) with {said[other]} ({kinds[other]}); "
                f"their values are on different scales: convert them to one depth first")
    (width, height), = sizes
    return _Header(width, height, kinds, turned)


def _decode(files: list[Path], name: str, header: _Header, grey: bool) -> tuple[np.ndarray, str]:
    """The pixels of the files ``header`` describes, one row each, and what they are in words. ``grey``
    False reads every image as RGB: the loader's choice when one has colour, ``read_image_files``'s for
    grey images given to a colour model (a grey image beside colour ones trained as RGB)."""
    from PIL import ImageOps

    width, height, kinds, turned = header
    deep = "wide" in kinds or "float" in kinds
    X = np.empty((len(files), height * width * (1 if grey else 3)), np.float32 if deep else np.uint8)
    for i, path in enumerate(_progress(files, f"reading {name}")):
        with _opened(path, name) as img:
            try:
                if i in turned:
                    img = ImageOps.exif_transpose(img)
                if grey:
                    pixels = np.asarray(img.convert("L") if img.mode in ("1", "LA", "P", "PA") else img)
                else:
                    pixels = np.asarray(img.convert("RGB"))
            except (OSError, ValueError, SyntaxError) as err:  # truncated or damaged pixel data
                raise DatasetError(f"{name}: {path} is a damaged image ({err})") from None
        if deep and not np.isfinite(pixels).all():  # a float image; named here, not as a row after the split
            raise DatasetError(f"{name}: {path} has NaN or infinite pixel values")
        X[i] = pixels.reshape(-1)
    if grey:
        depth = ("32-bit " if "32-bit" in kinds else "16-bit " if "wide" in kinds
                 else "float " if "float" in kinds else "")
        what = f"{width}x{height} {depth}grey"
    elif "colour" not in kinds:  # grey images read for a colour model
        what = f"{width}x{height} RGB (grey images on three equal channels, as a colour model reads them)"
    elif "grey" in kinds:
        what = (f"{width}x{height} RGB (grey images such as {kinds['grey']} on three equal channels, since "
                f"{kinds['colour']} has colour)")
    else:
        what = f"{width}x{height} RGB"
    # said, since both changed on 2026-12-06: a model trained earlier read such images otherwise
    if turned:
        what += f", {len(turned)} {TURNED_NOTE} (such as {files[min(turned)]})"
    if "grey palette" in kinds and grey:
        what += f", {GREY_PALETTE_NOTE} (such as {kinds['grey palette']})"
    if "16-bit colour" in kinds:
        what += f", 16-bit colour images such as {kinds['16-bit colour']} cut to 8 bits per channel (Pillow's RGB)"
    return X, what


def _orientation(img) -> int:
    """The EXIF orientation tag (1: as stored; 6: turn 90 degrees clockwise to view; ...), 1 if none."""
    if img.format not in ("JPEG", "MPO", "TIFF", "WEBP") and "exif" not in img.info:
        return 1  # PNG's getexif() would decode the whole image to look for an eXIf chunk after the pixels
    try:
        value = img.getexif().get(_ORIENTATION, 1)
    except Exception:  # a damaged EXIF block: Pillow raises several kinds; the pixels may still be fine
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _grey_palette(img) -> bool:
    """A palette image whose colours are all grey (r = g = b): a GIF saved from a grey image. Read as
    grey, one feature per pixel, like the grey images beside it, not as three equal channels."""
    if img.mode not in ("P", "PA"):
        return False
    palette = img.getpalette("RGB")
    if not palette:
        return False
    rgb = np.asarray(palette, np.int16).reshape(-1, 3)
    return bool((rgb == rgb[:, :1]).all())


def read_image_files(paths: list, name: str, *, n_features: int | None = None, input_shape: tuple | None = None
                     ) -> tuple[np.ndarray, list[Path], list[Path], str]:
    """Image files and folders given one by one (``datasets.read_images``, ``connttra-neuro predict``):
    ``(X, files, skipped, what)``. A folder gives the image files under it, sub-folders included, in
    sorted path order, hidden entries ignored and other files skipped, as a class folder is walked; a
    file named is read whatever its extension (a file that is no image is an error naming it). The
    files are decoded by the loader's own passes, so a row is bit for bit the row training read.

    With ``n_features`` (a model's), grey images go to a colour model of their size as RGB on three
    equal channels, as the loader reads a grey image beside colour ones; any other difference from
    the model's feature count is an error saying what differs (size, colour or grey). With
    ``input_shape`` too (the shape of one training sample, which models trained since 2026-12-07
    record), the images' shape must be that one: 48x64 images have the pixels of 64x48 ones but
    would be read into the wrong places."""
    files, skipped = [], []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            found = len(files)
            _walk(path, name, files, skipped, set())
            if len(files) == found:
                inside = [p for p in skipped if path in p.parents]
                why = (f"{len(inside)} entries, none an image file by its extension ({', '.join(IMAGE_SUFFIXES)}), "
                       f"e.g. {inside[0]}" if inside else "it is empty (hidden entries aside)")
                raise DatasetError(f"{name}: no image files in folder {path}: {why}")
        elif path.is_file():
            files.append(path)
        elif path.exists():  # a device, pipe or socket
            raise DatasetError(f"{path}: is not a regular file or a folder; give image files or folders of images")
        else:
            raise DatasetError(f"{path}: no such file or folder")
    if not files:
        raise DatasetError(f"{name}: no images given: give image files or folders of images")
    header = _headers(files, name)
    grey = "colour" not in header.kinds
    if n_features is not None:
        pixels = header.width * header.height
        deep = "wide" in header.kinds or "float" in header.kinds  # never RGB: the loader refuses them beside colour
        dims = image_dims(input_shape) if input_shape else None
        if input_shape and dims is None:  # trained on arrays of another layout (channels first, say)
            raise DatasetError(f"{name}: {_not_image_rows(input_shape, header, grey)}")
        if grey and not deep and (dims == (header.height, header.width, 3) if dims else n_features == 3 * pixels):
            grey = False
        if dims and image_dims(_shape(header, grey)) != dims:
            raise DatasetError(f"{name}: {_unlike_recorded(header, grey, dims, input_shape)}")
        if n_features != pixels * (1 if grey else 3):
            raise DatasetError(f"{name}: {_unlike(header, grey, n_features)}")
    X, what = _decode(files, name, header, grey)
    return X, files, skipped, what


def images_name(paths: list) -> str:
    """What ``read_image_files``'s errors call the images: a folder given alone by its path, anything
    else "input images" (a file's own error names it: "a.png: a.png is not ..." would say it twice)."""
    return str(paths[0]) if len(paths) == 1 and Path(paths[0]).expanduser().is_dir() else "input images"


def image_dims(shape) -> tuple | None:
    """``(height, width, channels)`` of a sample shape that is an image read row by row (``(h, w)``,
    ``(h, w, 1)`` or ``(h, w, 3)``; ``(1, h, w)``, one channel first, holds its pixels in that order too),
    else None (``(3, 32, 32)``, channels first; ``(64,)``)."""
    shape = tuple(shape)
    if len(shape) == 2:
        return (*shape, 1)
    if len(shape) == 3 and shape[2] not in (1, 3) and shape[0] == 1:  # torchvision's (1, 28, 28) of MNIST
        return (*shape[1:], 1)
    return shape if len(shape) == 3 and shape[2] in (1, 3) else None


def _depth(header: _Header, grey: bool) -> str:
    kinds = header.kinds
    return "16-bit grey" if "wide" in kinds else "float grey" if "float" in kinds else "grey" if grey else "RGB"


def _unlike_recorded(header: _Header, grey: bool, dims: tuple, recorded: tuple) -> str:
    """Why images of ``header`` do not fit a model trained on images of ``dims`` (its metadata
    ``input_shape``, ``recorded``), with the fix: turn, resize, convert."""
    width, height, kinds = header.width, header.height, header.kinds
    H, W, C = dims
    said = "grey" if C == 1 else "RGB"
    these = f"these images are {width}x{height} {_depth(header, grey)}"
    deep = "wide" in kinds or "float" in kinds
    convert = ".convert('L')" if not grey and C == 1 else ".convert('RGB')" if deep and C == 3 else ""
    model = (f"the model was trained on {W}x{H} {said} images (width x height; its metadata input_shape "
             f"{list(recorded)})")
    if (width, height) != (W, H) and (height, width) == (W, H):
        return (f"{model}, but {these}: turned a quarter against them. Turn them back first, e.g. with Pillow: "
                f"Image.open(f){convert}.transpose(Image.Transpose.ROTATE_90).save(f) (or ROTATE_270)")
    if (width, height) == (W, H):
        return f"{model}, but {these}; convert them first, e.g. with Pillow: Image.open(f){convert}.save(f)"
    return (f"{model}, but {these}; resize them to the model's size first, e.g. with Pillow: "
            f"Image.open(f){convert}.resize(({W}, {H})).save(f)")


def _not_image_rows(shape: tuple, header: _Header, grey: bool) -> str:
    """Why images cannot be read for a model trained on samples of ``shape`` that are not images read
    row by row (``(height, width[, channels])``), and how to give them anyway."""
    shown = "x".join(map(str, shape))
    these = f"these images are {header.width}x{header.height} {_depth(header, grey)}"
    first = (f" Its samples look channels first ({shape[0]} channel(s) of {shape[1]}x{shape[2]}): read the images "
             f"without a model (read_images(paths)) and reorder each row, e.g. "
             f"X.reshape(len(X), {shape[1]}, {shape[2]}, {shape[0]}).transpose(0, 3, 1, 2).reshape(len(X), -1)"
             if len(shape) == 3 and shape[0] in (1, 3) else "")
    return (f"the model was trained on samples of shape {shown} (its metadata input_shape), not on images read "
            f"row by row as height x width[ x channels], so image files cannot be read for it as they are; "
            f"{these}.{first}")


def _unlike(header: _Header, grey: bool, n_features: int) -> str:
    """Why images of ``header`` do not fit a model of ``n_features`` features, in words a user acts on.
    For a model file that records no image shape (trained before 2026-12-07, or on rows), the sizes it
    could take are worked out from its feature count: the images' aspect ratio kept, grey (one feature
    per pixel) or RGB (three)."""
    width, height, kinds = header.width, header.height, header.kinds
    features = width * height * (1 if grey else 3)
    these = f"these images are {width}x{height} {_depth(header, grey)}, {features:,} features"
    if not grey and n_features == width * height:
        return (f"the model takes grey images, one feature per pixel ({n_features:,} features: {width}x{height} "
                f"grey), but {these} ({kinds['colour']} has colour); convert them to grey first, e.g. with "
                f"Pillow: Image.open(f).convert('L').save(f)")
    if grey and n_features == 3 * width * height:  # wide grey for a colour model
        return (f"the model takes colour images ({n_features:,} features: {width}x{height} RGB), but {these}, "
                f"which are never read as colour; convert them to 8-bit RGB first, e.g. with Pillow: "
                f"Image.open(f).convert('RGB').save(f)")
    fits = []
    for channels, said in ((1, "grey"), (3, "RGB")):
        if n_features % channels:
            continue
        pixels = n_features // channels
        w = int(round((pixels * width / height) ** 0.5))
        if w and pixels % w == 0 and w * height == (pixels // w) * width:  # the same aspect ratio
            fits.append((w, pixels // w, said))
    if not fits:
        return (f"the model takes {n_features:,} features per image, which no {width}:{height} image gives; "
                f"{these}: give images of the size and colour the model was trained on")
    size = " or ".join(f"{w}x{h} {said}" for w, h, said in fits)
    w, h, said = next((f for f in fits if f[2] == ("grey" if grey else "RGB")), fits[0])
    # 8-bit grey images go to a colour model as RGB by themselves; colour ones to a grey model do not
    deep = "wide" in kinds or "float" in kinds
    convert = (".convert('L')" if not grey and said == "grey" else ".convert('RGB')" if deep and said == "RGB"
               else "")
    return (f"the model takes {n_features:,} features per image ({size}), but {these}; resize them to the size "
            f"the model was trained on first, e.g. with Pillow: Image.open(f){convert}.resize(({w}, {h})).save(f)")


def _describe_classes(names: list[str]) -> str:
    shown = ", ".join(f"{i} {n}" for i, n in enumerate(names[:6]))
    return shown + (f", ... {len(names) - 1} {names[-1]}" if len(names) > 6 else "")


def load_image_folder(directory: Path, name: str, seed: int, n_train: int | None, n_val: int | None) -> Dataset:
    """A :class:`Dataset` from an image folder (layouts in the module docstring)."""
    train_root, val_root, unused = _layout(directory, name)
    seen: dict = {}  # every image file read, so validation cannot hold a training image through a link
    train_files, skipped, repeats = _class_files(train_root, name, seen)
    classes = [c for c in train_files if train_files[c]]
    if not classes:
        # torchvision keeps MNIST's IDX files in MNIST/raw/: give the folder that holds them
        idx = next((p.parent for p in skipped if p.name.startswith(("train-images-idx3", "train-images.idx3"))), None)
        raise DatasetError(
            f"{name}: no image files in the folders of {train_root}; expected one folder per class holding "
            f"images ({', '.join(IMAGE_SUFFIXES)}): DIR/<class>/, or DIR/train/<class>/ and DIR/val/<class>/; "
            f"or the IDX files train-images-idx3-ubyte and train-labels-idx1-ubyte"
            + (f" (they are in {idx}: give that folder)" if idx else ""))
    empty = [c for c in train_files if not train_files[c]]
    if empty:
        raise DatasetError(f"{name}: class folder(s) without images in {train_root}: {', '.join(empty[:5])}; "
                           f"every class needs training images (image files end in {', '.join(IMAGE_SUFFIXES)})")
    if len(classes) < 2:
        raise DatasetError(f"{name}: {train_root} holds 1 class folder ({classes[0]}); need at least 2 classes")
    if val_root is None and train_root == directory:
        # Kaggle's dogs-vs-cats: train/ of images named cat.0.jpg, dog.0.jpg beside an unlabelled test1/; read as
        # class folders, a model would learn which folder an image came from (CIFAR-100's class train stays one)
        trains = [c for c in classes if c.lower() in TRAIN_FOLDERS]
        tests = [c for c in classes if c.lower().rstrip("0123456789_- ") in VAL_FOLDERS]
        if trains and tests:
            raise DatasetError(
                f"{name}: {trains[0]}/ in {directory} holds images of its own, not in class folders, so {trains[0]}/ "
                f"and {tests[0]}/ would be read as two classes named {trains[0]} and {tests[0]}; sort the training "
                f"images into one folder per class ({trains[0]}/<class>/; a {tests[0]}/ of unlabelled images is then "
                f"not used), or rename the folders if they really are classes")
    files = [p for c in classes for p in train_files[c]]
    y = np.repeat(np.arange(len(classes)), [len(train_files[c]) for c in classes])
    val_files = None
    if val_root is not None:
        by_class, skipped_val, repeats_val = _class_files(val_root, name, seen)
        skipped += skipped_val
        repeats += repeats_val
        unknown = [c for c in by_class if by_class[c] and c not in classes]
        if unknown:
            raise DatasetError(f"{name}: {val_root} has class folder(s) that {train_root} lacks: "
                               f"{', '.join(unknown[:5])}; validation classes must be training classes")
        val_files = [p for c in classes for p in by_class.get(c, [])]
        if not val_files:
            raise DatasetError(f"{name}: {val_root} holds no images in class folders named like {train_root}'s")
        y_val = np.repeat(np.arange(len(classes)), [len(by_class.get(c, [])) for c in classes])
    # split and subsample the file lists, then decode only the files kept: the same arrays as decoding
    # everything first (the split only indexes), without a copy of the whole folder in memory
    paths = np.array(files, dtype=object)
    if val_files is None:
        paths, y, val_paths, y_val = _split(paths, y, seed, name, class_names=tuple(classes))
        how = f"{len(files)} images in {train_root} split 80%/20% (stratified, seed {seed})"
    else:
        val_paths = np.array(val_files, dtype=object)
        how = f"{len(files)} images in {train_root} for training, {len(val_files)} in {val_root} for validation"
    how += f" ({', '.join(f'{v}/' for v in unused)} not used)" if unused else ""
    paths, y = _subsample(paths, y, n_train, seed, 1, "n_train", name)
    val_paths, y_val = _subsample(val_paths, y_val, n_val, seed, 2, "n_val", name)
    if not len(paths) and not len(val_paths):  # n_train=0 and n_val=0
        raise DatasetError(f"{name}: no samples: X_train and X_val are both empty")
    X_all, what, shape = _read_all([*paths, *val_paths], name)
    X, X_val = X_all[:len(paths)], X_all[len(paths):]
    n = len(skipped)
    what_skipped = "1 entry that is not a class's image" if n == 1 else f"{n} entries that are not class images"
    note = f"; skipped {what_skipped}, e.g. {skipped[0]}" if n else ""
    if repeats:  # links to an image already read: one sample, said so the count of images is explained
        path, before = repeats[0]
        note += (f"; {len(repeats)} link{'s' if len(repeats) > 1 else ''} to an image already read not counted "
                 f"again, e.g. {path} is {before}")
    return Dataset(name, X, y, X_val, y_val,
                   f"image folders: {how}, {what}; {len(classes)} classes by sorted folder name "
                   f"({_describe_classes(classes)}){_subsample_note(n_train, n_val, seed)}{note}", tuple(classes),
                   seeded_split=val_files is None, input_shape=shape)


__all__ = ["IMAGE_SUFFIXES", "TRAIN_FOLDERS", "VAL_FOLDERS", "is_image_folder", "load_image_folder", "loose_images",
           "read_image_files", "images_name", "image_dims"]
