"""Train a ternary network with CoNNTrA and export it for Loihi 2 (Lava simulation).

Run from the repository root::

    .venv/bin/python examples/train_and_export_loihi.py            # digits, about 10 seconds
    .venv/bin/python examples/train_and_export_loihi.py --quick    # seconds, smaller settings

The first run of a fresh checkout also compiles the training kernels (numba, cached afterwards): a
minute or more on top.

Steps: load a built-in dataset, train with CoNNTrA, save the packed model file,
check it fits Loihi 2 and print the resource estimate, run it in Lava's
bit-accurate fixed-point simulation, confirm every sample is classified exactly
as the trained model does, and export NIR and lava-dl netx files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from connttra_neuro import save, storage_report
from connttra_neuro.datasets import load_dataset
from connttra_neuro.train import CoNNTrA
from hardware_targets import get_target
from hardware_targets.loihi2 import export_netx, export_nir
from hardware_targets.reference import forward


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="digits", help="built-in dataset (default: digits)")
    parser.add_argument("--out", default="output/loihi", help="folder for the model and exports")
    parser.add_argument("--quick", action="store_true", help="small settings: a few seconds (the full run: about 10 s)")
    args = parser.parse_args(argv)
    out = Path(args.out)

    data = load_dataset(args.data, seed=0)
    X_train, y_train, X_val, y_val = data.X_train, data.y_train, data.X_val, data.y_val
    if args.quick:  # a few hundred samples are enough to show every step
        X_train, y_train, X_val, y_val = X_train[:300], y_train[:300], X_val[:100], y_val[:100]
    model = CoNNTrA(hidden=(16,) if args.quick else (64,), levels=2, max_sweeps=3 if args.quick else 30, random_state=0)
    model.fit(X_train, y_train, validation=(X_val, y_val))
    network = model.network_
    path = save(network, out / "model.ctn")
    sizes = storage_report(network)
    kept = network.metadata["metrics"]  # network_ is the sweep with the lowest validation error (keep_best)
    print(f"trained {network}: validation error {kept['val_error']:.2%} (sweep {kept['sweep']} of {model.n_sweeps_})")
    print(f"saved {path}: {sizes['bits_per_weight']:.2f} bits/weight, {sizes['model_file_bytes']:,} bytes")

    loihi = get_target("loihi2")
    loihi.check(network)  # raises TargetLimitError naming the limit if the network does not fit
    res = loihi.resources(network)
    print(f"Loihi 2: {res['cores']} cores, {res['neurons']} neurons, {res['synapses']:,} synapses")

    spikes = network.encode(X_val)
    result = loihi.deploy(network, spikes)  # Lava, Loihi2SimCfg fixed_pt
    expected, _ = forward(network, spikes)  # the trained model
    same = np.array_equal(result.scores, expected)
    error = np.mean(result.predictions != y_val)
    print(f"Lava simulation: error {error:.2%}, scores identical to the trained model: {same}")

    print(f"exported {export_nir(network, out / 'model.nir')} and {export_netx(network, out / 'model.net')}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
