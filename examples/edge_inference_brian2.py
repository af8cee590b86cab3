"""Edge inference with Brian2: run a trained model as spiking neurons, with and without device noise.

Run from the repository root::

    .venv/bin/python examples/edge_inference_brian2.py --quick

Trains a small network on iris (or loads --model), runs it on the Brian2 edge
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
    parser.add_argument("--data", default="iris", help="built-in dataset (default: iris)")
    parser.add_argument("--model", help="a saved model (default: train one)")
    parser.add_argument("--codegen", default="numpy", choices=("numpy", "cython"))
    parser.add_argument("--noise", default="weight_sigma=0.3,seed=1", help="EdgeNoise spec for the noisy run")
    parser.add_argument("--quick", action="store_true", help="small settings")
    args = parser.parse_args(argv)

    data = load_dataset(args.data, seed=0)
    if args.model:
        network = load(args.model)
    else:
        model = CoNNTrA(
            hidden=(8,) if args.quick else (16,), levels=3, max_sweeps=5 if args.quick else 30, random_state=0
        )
        network = model.fit(data.X_train, data.y_train, validation=(data.X_val, data.y_val)).network_

    clean = get_target("brian2", codegen=args.codegen)
    result = clean.deploy(network, network.encode(data.X_val))
    info = result.info
    print(
        f"Brian2 ({args.codegen}): {len(data.y_val)} samples in {result.steps} steps, "
        f"error {(result.predictions != data.y_val).mean():.2%}"
    )
    for key in ("latency_ms", "total_synaptic_events_per_inference", "samples_per_s"):
        if key in info:
            print(f"  {key}: {info[key]:.4g}")

    noisy = get_target("brian2", codegen=args.codegen, noise=EdgeNoise.parse(args.noise))
    report = verify(network, [clean, noisy], data.X_val, data.y_val, dataset=data.name)
    report.targets[1].target = f"brian2 + noise ({args.noise})"
    print(report.summary_table())
    return 0 if report.targets[0].exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
