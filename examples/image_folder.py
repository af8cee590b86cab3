"""Train on your own images: one folder of images per class, as ImageNet's training set is laid out.

Run from the repository root::

    .venv/bin/python examples/image_folder.py                 # writes scikit-learn's digits as PNGs, trains
    .venv/bin/python examples/image_folder.py --images DIR    # your folder: DIR/<class>/*.png, or
                                                              # DIR/train/<class>/ + DIR/val/<class>/
    .venv/bin/python examples/image_folder.py --quick         # seconds, smaller settings

Steps: (without --images) write the 8x8 digits as PNG files into one folder per class, named after
the digit; load the folder (classes numbered by sorted folder name, an 80/20 stratified split); train
with CoNNTrA, recording the class names and the image shape in the model (so ``predict`` refuses
images of another shape); save it; run it on the reference target and
print the per-class accuracy by name. The same folder works on the command line:
``connttra-neuro train --data DIR -o model.ctn`` and ``connttra-neuro evaluate model.ctn --data DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from connttra_neuro import load, save
from connttra_neuro.datasets import load_dataset
from connttra_neuro.train import CoNNTrA
from hardware_targets.reference import forward

NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def write_digits(folder: Path) -> Path:
    """scikit-learn's 1,797 digits as 8x8 grey PNGs in ``folder/<name>/``."""
    from PIL import Image
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    for i, (pixels, label) in enumerate(zip(X, y, strict=True)):
        (folder / NAMES[label]).mkdir(parents=True, exist_ok=True)
        image = (pixels.reshape(8, 8) * 255 / 16).round().astype(np.uint8)  # 0..16 -> 0..255
        Image.fromarray(image).save(folder / NAMES[label] / f"{i:04d}.png")
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", help="your image folder (default: write the digits as PNGs under --out)")
    parser.add_argument("--out", default="output/image_folder", help="folder for the model (and the PNGs)")
    parser.add_argument("--quick", action="store_true", help="small settings: seconds")
    args = parser.parse_args(argv)
    out = Path(args.out)
    images = Path(args.images) if args.images else write_digits(out / "digits")

    data = load_dataset(images, seed=0)
    print(f"{data}\n  {data.description}")
    model = CoNNTrA(hidden=(16,) if args.quick else (64,), levels=2, max_sweeps=3 if args.quick else 30,
                    random_state=0)
    model.fit(data.X_train, data.y_train, validation=(data.X_val, data.y_val), dataset=str(images.resolve()),
              class_names=data.class_names, input_shape=data.input_shape)  # as `connttra-neuro train` records them
    path = save(model.network_, out / "model.ctn")

    network = load(path)
    names = network.metadata["class_names"]  # one per output, recorded by fit
    scores, _ = forward(network, network.encode(data.X_val))
    predicted = np.argmax(scores, axis=1)
    print(f"saved {path}; validation error {np.mean(predicted != data.y_val):.2%}")
    for c, name in enumerate(names):
        of_class = data.y_val == c
        print(f"  {name:>8}: {np.mean(predicted[of_class] == c):.0%} of {of_class.sum()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
