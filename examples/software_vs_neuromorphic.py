"""Software vs neuromorphic: train, then verify the same model on every target and write a report.

Run from the repository root::

    .venv/bin/python examples/software_vs_neuromorphic.py --quick

Compares the trained model (integer numpy forward pass) with Loihi 2 (Lava) and
Brian2 sample by sample and spike by spike, counts synaptic operations beside a
float MLP of the same shape, estimates Loihi energy per inference, and writes a
Markdown/HTML report with plots. Exit status 1 if any target departs.
"""

from __future__ import annotations

import argparse

from connttra_neuro.datasets import load_dataset
from connttra_neuro.train import CoNNTrA
from connttra_neuro.verify import verify, write_report
from hardware_targets import target_names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--n", type=int, default=300, help="validation samples run on every target")
    parser.add_argument("--out", default="output/software-vs-neuromorphic")
    parser.add_argument("--quick", action="store_true", help="small settings")
    args = parser.parse_args(argv)
    if args.n < 1:  # a negative --n would slice samples off the end instead
        parser.error(f"--n takes the number of samples to run, at least 1, got {args.n}")

    data = load_dataset(args.data, seed=0)
    X_train, y_train = data.X_train, data.y_train
    if args.quick:  # a few hundred training samples are enough to show the comparison
        X_train, y_train = X_train[:300], y_train[:300]
    model = CoNNTrA(hidden=(16,) if args.quick else (64,), levels=2, max_sweeps=3 if args.quick else 30, random_state=0)
    network = model.fit(X_train, y_train, validation=(data.X_val, data.y_val)).network_

    n = min(args.n, len(data.y_val))
    targets = [t for t in ("reference", "loihi2", "brian2") if t in target_names()]
    report = verify(network, targets, data.X_val[:n], data.y_val[:n], dataset=data.name, progress=print)
    print(report.summary_table())
    ops = report.software["operations"]
    print(
        f"spiking: {ops['effective_acs']:,.0f} accumulates per inference; "
        f"float MLP: {report.float_mlp['macs_per_inference']:,} multiply-accumulates; "
        f"activation sparsity {ops['activation_sparsity']:.2f}"
    )
    paths = write_report(report, args.out, title=f"Software vs neuromorphic on {data.name}")
    print(f"report: {paths['html']}")
    return 0 if report.all_exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
