"""Edge inference with Brian2: run a trained model as spiking neurons, with and without device noise.

Run from the repository root::

    .venv/bin/python examples/edge_inference_brian2.py --quick

Trains a small network on iris (or loads --model, checked on the data it was
trained on unless --data says otherwise), runs it on the Brian2 edge
target (numpy code generation; ``--codegen cython`` is faster once compiled),
then again with seeded device non-idealities (weight noise) to show how the
verifier reports the departure, layer by layer.
"""

from __future__ import annotations

import argparse

from connttra_neuro import load
from connttra_neuro.datasets import load_dataset
from connttra_neuro.train import CoNNTrA
from connttra_neuro.verify import verify
from hardware_targets import get_target
from hardware_targets.brian2_edge import EdgeNoise


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="dataset name or path (default: iris, or the --model's own)")
    parser.add_argument("--model", help="a saved model (default: train one)")
    parser.add_argument("--n", type=int, default=500, help="validation samples to run (default: 500)")
    parser.add_argument("--codegen", default="numpy", choices=("numpy", "cython"))
    parser.add_argument("--noise", default="weight_sigma=0.3,seed=1", help="EdgeNoise spec for the noisy run")
    parser.add_argument("--quick", action="store_true", help="small settings")
    args = parser.parse_args(argv)
    if args.n < 1:  # a negative --n would slice samples off the end instead
        parser.error(f"--n takes the number of samples to run, at least 1, got {args.n}")

    try:  # both before any training or run: a typo in --noise was a traceback after the clean run
        noise = EdgeNoise.parse(args.noise)
        network = load(args.model) if args.model else None
    except ValueError as err:  # NoiseSpecError, ModelFileError: their messages say what is wrong
        parser.error(str(err))
    data = _data(args, network)
    if network is None:
        model = CoNNTrA(
            hidden=(8,) if args.quick else (16,), levels=3, max_sweeps=5 if args.quick else 30, random_state=0
        )
        network = model.fit(data.X_train, data.y_train, validation=(data.X_val, data.y_val)).network_

    X, y = data.X_val[: args.n], data.y_val[: args.n]
    if X.shape[1] != network.encoder.n_features:
        parser.error(f"{data.name} has {X.shape[1]} features per sample, the model takes {network.encoder.n_features}")
    clean = get_target("brian2", codegen=args.codegen)
    result = clean.deploy(network, network.encode(X))
    info = result.info
    print(
        f"Brian2 ({args.codegen}) on {data.name}: {len(y)} samples in {result.steps} steps, "
        f"error {(result.predictions != y).mean():.2%}"
    )
    for key in ("latency_ms", "total_synaptic_events_per_inference", "samples_per_s"):
        if key in info:
            print(f"  {key}: {info[key]:.4g}")

    noisy = get_target("brian2", codegen=args.codegen, noise=noise)
    report = verify(network, [clean, noisy], X, y, dataset=data.name)
    report.targets[1].target = f"brian2 + noise ({args.noise})"
    print(report.summary_table())
    return 0 if report.targets[0].exact else 1


def _data(args, network):
    """The data to run on: --data, else the model's own (its metadata: the dataset, the folder of its
    files and the seed that drew its validation split, as `connttra-neuro train` records them), else iris."""
    meta = network.metadata if network is not None else {}
    trained_on = meta.get("dataset")
    name = args.data or trained_on or "iris"
    own = name == trained_on
    if network is not None and not own:
        print(f"note: the model was trained on {trained_on or 'data it does not record'}; running it on {name}")
    seed = meta.get("seed", 0) if own else 0
    path = meta.get("data_path") if own and name in ("mnist", "fashion-mnist") else None
    return load_dataset(name, path=path, seed=seed if isinstance(seed, int) else 0)


if __name__ == "__main__":
    raise SystemExit(main())
