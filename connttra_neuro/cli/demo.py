"""``connttra-neuro demo``: the whole story on built-in data, in 20-35 s on 2 cores (plus compiling the
numba kernels on a first run).

1. train a ternary network with CoNNTrA (gradient-free coordinate descent);
2. compare it with backpropagation (a straight-through-estimator ternary net and a float MLP);
3. deploy it on Loihi 2 (Lava, bit-accurate) and Brian2, export NIR and netx;
4. verify every spike, score and class against the trained model;
5. show what the verifier says about a deliberately broken deployment;
6. write the report and print where it is.

A target that is not registered (or cannot run here) is reported and skipped.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

DEFAULT_OUT = Path("reports") / "demo"
SUMMARY_HEADING = "# connttra-neuro demo"  # README.md's first line: how a later demo knows the file for its own

# The benchmark's digits network, so the demo shows representative figures; 20-35 s on 2 cores.
DEMO = {
    "dataset": "digits",  # 8x8 handwritten digits shipped with scikit-learn: 64 features, 10 classes
    "hidden": (256,),  # the benchmark's digits architecture (docs/benchmarks.md)
    "levels": 3,  # thermometer levels per pixel
    "seed": 0,
    "n_verify": 300,  # validation samples run on every target
}


def add_parsers(sub) -> None:
    """Register ``demo``."""
    p = sub.add_parser(
        "demo",
        help="train, compare with backprop, deploy on Lava and Brian2, verify, write a report (20-35 s)",
        description=__doc__.split("\n\n", 1)[1],
        epilog=(
            "examples:\n"
            "  connttra-neuro demo\n"
            "  connttra-neuro demo --data mnist-sample --out reports/mnist\n"
            "  connttra-neuro demo --quick --n-verify 30"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # -o and --output as well: where train, predict and compare take their output (compare takes --out too)
    p.add_argument("-o", "--output", "--out", dest="out", metavar="DIR", default=str(DEFAULT_OUT),
                   help=f"output folder (default: {DEFAULT_OUT}/)")
    p.add_argument(
        "--data", metavar="NAME", default=DEMO["dataset"], help=f"built-in dataset (default: {DEMO['dataset']})"
    )
    p.add_argument("--n-verify", type=int, metavar="N",
                   help=f"validation samples run on every target (default {DEMO['n_verify']}; at most 60 with "
                   f"--quick; all of them if the dataset has fewer)")
    p.add_argument("--quick", action="store_true",
                   help="tiny settings for smoke tests (a smaller network, at most 60 samples verified)")
    p.set_defaults(func=_demo)


def _demo(args) -> int:
    from ..datasets import builtin_datasets
    from . import UserError, check_writable

    asked = args.n_verify  # None: the default, which --quick lowers without a remark
    n_verify = DEMO["n_verify"] if asked is None else asked
    if n_verify < 1:  # before anything trains
        raise UserError(f"--n-verify must be a positive number of samples, got {n_verify}")
    check_writable(args.out, "--out", directory=True, quiet=args.out == str(DEFAULT_OUT))
    _check_demo_folder(Path(args.out))
    info = {d.name: d for d in builtin_datasets()}.get(args.data)
    if info is None and not Path(args.data).expanduser().exists():
        from ..datasets import load_dataset

        load_dataset(args.data)  # raises the named error (did you mean ...?) before step 1 is announced
    if info is not None and not info.available()[0]:
        raise UserError(f"--data {args.data} is not here ({info.available()[1]}); the demo runs on data that is "
                        f"already installed, for your own copy use `connttra-neuro train --data {args.data} "
                        f"--data-path DIR`")
    settings = dict(DEMO, dataset=args.data, n_verify=n_verify)
    if args.quick:
        settings.update(hidden=(16,), n_verify=min(n_verify, 60), quick=True)
        if asked is not None and asked > 60:
            print(f"demo: --quick verifies at most 60 samples (asked for {asked})")
    try:
        return run_demo(Path(args.out), **settings)
    except KeyboardInterrupt:  # said before main's "interrupted": what the folder holds now
        print(f"demo: stopped before its end: {args.out} may hold this run's files (model, exports, reports) beside "
              "an earlier run's, and README.md is written last; run the demo again to replace them all",
              file=sys.stderr)
        raise
    except OSError as err:  # a full disk part way: the same, in the error's one line
        raise UserError(f"{err}; {args.out} may hold this run's files (model, exports, reports) beside an earlier "
                        "run's, and README.md is written last: run the demo again once the folder can be written, "
                        "to replace them all") from None


def _check_demo_folder(out: Path) -> None:
    """The demo writes a fixed set of files into ``--out``; before step 1, each may replace only a
    file of its own kind (``--out .`` in a project would replace its README.md and model files)."""
    from ..verify.report import REPORT_FILES
    from . import check_folder_outputs, check_writable

    check_folder_outputs(out, "--out", {"README.md": SUMMARY_HEADING.encode(), "model.ctn": "model",
                                        "model.nir": "hdf5", "model.net": "hdf5"})
    for report in ("parity", "faulty-parity"):
        check_writable(out / report, "--out", directory=True, quiet=True)  # inside --out: its note is enough
        check_folder_outputs(out / report, "--out", REPORT_FILES)


class _Steps:
    """Numbered progress lines with elapsed time."""

    def __init__(self, total: int):
        self.total, self.n, self.t0 = total, 0, time.perf_counter()

    def start(self, text: str) -> None:
        self.n += 1
        print(f"[{self.n}/{self.total}] {text}", flush=True)

    def say(self, text: str) -> None:
        print(f"      {text}  ({time.perf_counter() - self.t0:.0f} s)", flush=True)


def run_demo(out: Path, *, dataset: str, hidden, levels: int, seed: int, n_verify: int, quick: bool = False) -> int:
    """Run the demo into ``out``; returns the exit status (1 if a target departs from the trained model)."""
    import numpy as np  # here, not at the top: --help and the parser load no numpy (see cli/__init__.py)

    from hardware_targets.registry import target_names

    from .._atomic import write_text
    from ..datasets import load_dataset
    from ..modelfile import save, storage_report
    from ..verify import verify, write_report

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    steps = _Steps(6)
    summary: list[str] = [SUMMARY_HEADING, ""]

    # 1. train -------------------------------------------------------------------------------
    steps.start(f"train a ternary network with CoNNTrA on {dataset} (hidden {list(hidden)}, {levels} levels/feature)")
    data = load_dataset(dataset, seed=seed)
    steps.say(
        f"{dataset}: {len(data.y_train):,} training / {len(data.y_val):,} validation samples, "
        f"{data.n_features} features, {data.n_classes} classes"
    )
    try:
        from ..train import CoNNTrA, ConvergenceWarning, compare_methods, format_table
    except ImportError as err:
        print(f"      the CoNNTrA trainer is not available here ({err}); cannot run the demo")
        return 2
    train_settings = _train_settings(quick)
    # keep_best=False: the demo's model is the last sweep's, the network the comparison below
    # reports for CoNNTrA (same seed and settings, so the same network), and nothing is
    # selected on the validation samples the verifier runs
    model = CoNNTrA(hidden=tuple(hidden), levels=levels, random_state=seed, keep_best=False, **train_settings)
    t0 = time.perf_counter()

    def sweep_done(_estimator, record, _network):
        val = record.get("val_error")
        steps.say(
            f"sweep {record['sweep']}: training error {record['train_error']:.2%}"
            + (f", validation error {val:.2%}" if val is not None else "")
            + f", {record['changed']} weights/thresholds changed"
        )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(data.X_train, data.y_train, validation=(data.X_val, data.y_val),
                  input_shape=data.input_shape or None, callback=sweep_done)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):  # the demo's budget, said plainly
        steps.say(f"stopped at the demo's budget of {model.max_sweeps} sweeps with the validation error still "
                  "falling: `connttra-neuro train --max-sweeps` gives a run more")
    network = model.network_
    model_path = save(network, out / "model.ctn")
    train_err = float(np.mean(network_predict(network, data.X_train) != data.y_train))
    val_err = float(np.mean(network_predict(network, data.X_val) != data.y_val))
    st = storage_report(network)
    steps.say(
        # a wall clock with setup and per-sweep scoring: step 2's table times the training steps alone
        f"trained in {time.perf_counter() - t0:.1f} s wall clock (setup and scoring included; the comparison below "
        f"times the training steps alone): training error {train_err:.2%}, validation error {val_err:.2%}; "
        f"{100 * network.sparsity:.0f}% zero weights, {st['weights_packed_bytes']:,} bytes packed "
        f"({st['weights_ratio_float32']:.0f}x smaller than float32); saved {model_path}"
    )
    summary += [
        "## 1. Training with CoNNTrA",
        "",
        f"Dataset `{dataset}`: {len(data.y_train):,} training and {len(data.y_val):,} validation samples. "
        f"Network {'-'.join(map(str, network.layer_sizes))}, weights in {list(network.discrete_set)}.",
        "",
        f"Training error {train_err:.2%}, validation error {val_err:.2%}; "
        f"{100 * network.sparsity:.0f}% of the weights are zero; "
        f"{st['bits_per_weight']:.2f} bits per weight, {st['weights_packed_bytes']:,} bytes "
        f"({st['weights_ratio_float32']:.0f}x smaller than float32). Model file: `{model_path.name}` "
        f"({st['model_file_bytes']:,} bytes).",
        "",
    ]

    # 2. compare with backprop ------------------------------------------------------------------
    steps.start("compare with backpropagation (ternary straight-through estimator, float MLP) on the same data")
    try:
        results = compare_methods(
            data,
            methods=("connttra", "ste", "mlp"),
            progress=lambda method: steps.say(f"training {method} ..."),
            hidden=tuple(hidden),
            levels=levels,
            seed=seed,
            **train_settings,
            **({"epochs": 3} if quick else {}),
        )
        table = format_table(results)
        if quick:  # 2 sweeps and 3 epochs: a smoke test of the pipeline, no verdict on the methods
            table += "\n\n--quick: 2 sweeps / 3 epochs, far from trained; the errors say nothing about the methods"
        print("\n".join("      " + line for line in table.splitlines()))
        summary += ["## 2. CoNNTrA vs backpropagation", "", table, "", _comparison_sentence(results), ""]
    except Exception as err:  # the comparison is context; a failure must not hide deployment and parity
        steps.say(f"comparison failed: {type(err).__name__}: {err}")
        summary += ["## 2. CoNNTrA vs backpropagation", "", f"Comparison failed: {err}", ""]

    # 3. deploy -----------------------------------------------------------------------------------
    wanted = ["reference", "loihi2", "brian2"]
    registered = target_names()
    targets = [t for t in wanted if t in registered]
    for t in wanted:
        if t not in registered:
            print(f"      target {t!r} is not registered in this build; continuing without it")
    steps.start("deploy: resources on each target, export NIR and lava-dl netx")
    summary += ["## 3. Deployment", ""]
    from hardware_targets.registry import get_target

    for name in targets:
        try:
            res = get_target(name).resources(network)
            brief = {k: v for k, v in res.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
            shown = {k: f"{v:,}" if isinstance(v, int) else v for k, v in brief.items()}  # 33,951 as deploy shows it
            steps.say(f"{name}: " + ", ".join(f"{k} {v}" for k, v in list(shown.items())[:6]))
            summary.append(f"- **{name}**: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
        except Exception as err:
            steps.say(f"{name}: cannot hold this network: {err}")
            summary.append(f"- **{name}**: cannot hold this network: {err}")
    try:
        from hardware_targets.loihi2 import export_netx, export_nir

        nir_path = export_nir(network, out / "model.nir")
        netx_path = export_netx(network, out / "model.net")
        steps.say(f"exported {nir_path} and {netx_path}")
        summary += [
            "",
            f"Exported `{Path(nir_path).name}` (NIR graph) and `{Path(netx_path).name}` (lava-dl netx).",
            "",
        ]
    except Exception as err:
        steps.say(f"export failed: {type(err).__name__}: {err}")
        summary += ["", f"Export failed: {err}", ""]

    # 4. verify -------------------------------------------------------------------------------------
    n = min(n_verify, len(data.y_val))
    steps.start(f"verify {', '.join(targets)} against the trained model on {n} validation samples")
    X, y = data.X_val[:n], data.y_val[:n]
    report = verify(network, targets, X, y, dataset=dataset, progress=steps.say)
    paths = write_report(report, out / "parity", title=f"Parity report: CoNNTrA on {dataset}")
    print("\n".join("      " + line for line in report.summary_table().splitlines()))
    summary += [
        "## 4. Verification",
        "",
        "```",
        report.summary_table(),
        "```",
        "",
        "Full parity report with plots: [parity/parity.html](parity/parity.html) "
        "([Markdown](parity/parity.md), [JSON](parity/parity.json)).",
        "",
        "![Agreement per target and layer](parity/plots/agreement.png)",
        "",
        "![Operations and energy per inference](parity/plots/operations.png)",
        "",
    ]

    # 5. a broken deployment ------------------------------------------------------------------------
    steps.start("what the verifier says about a broken deployment (one threshold off by one)")
    faulty = OffByOneThreshold.for_network(network, network.encode(X))
    if faulty is None:
        steps.say("no neuron's threshold is on an edge for these samples; skipped")
    else:
        bad = verify(network, ["reference", faulty], X, y, dataset=dataset)
        bad_paths = write_report(bad, out / "faulty-parity", title="Parity report: a deliberately broken deployment")
        t = bad.target(faulty.name)
        steps.say(f"{t.status}: {t.diagnosis}")
        summary += [
            "## 5. A broken deployment, diagnosed",
            "",
            f"A deliberately faulty target that moves the threshold of neuron {faulty.neuron} in hidden layer "
            f"{faulty.layer} by +1. The verifier reports:",
            "",
            f"> {t.diagnosis}",
            "",
            f"Its report: [faulty-parity/parity.html](faulty-parity/parity.html) "
            f"({bad_paths['markdown'].relative_to(out).as_posix()}).",
            "",
        ]

    # 6. report ---------------------------------------------------------------------------------------
    steps.start("write the report")
    summary_path = out / "README.md"
    write_text(summary_path, "\n".join(summary) + "\n")  # atomic, as every other report file
    verdict = (
        "every target matches the trained model exactly" if report.all_exact else "SOME TARGET DIFFERS (see report)"
    )
    print(f"\ndemo done in {time.perf_counter() - steps.t0:.0f} s: {verdict}")
    print(f"report:  {paths['html'].resolve()}")
    print(f"summary: {summary_path.resolve()}")
    return 0 if report.all_exact else 1


def _comparison_sentence(results: list[dict]) -> str:
    """One plain sentence reading the comparison table (whichever way it came out)."""
    by = {r["method"]: r for r in results}
    parts = [
        f"{by[m].get('label', m)}: validation error {by[m]['val_error']:.2%}, {by[m]['model_bytes']:,} bytes"
        for m in ("connttra", "ste", "mlp")
        if m in by
    ]
    return "Same data and architecture. " + "; ".join(parts) + "."




def network_predict(network, X):
    from hardware_targets.reference import forward

    scores, _ = forward(network, network.encode(X))
    return scores.argmax(axis=1)


def _train_settings(quick: bool) -> dict:
    """Extra CoNNTrA settings for the demo's time budget (the estimator's defaults otherwise)."""
    return {"max_sweeps": 2} if quick else {"max_sweeps": 15}


class OffByOneThreshold:
    """A faulty deployment for the demo: the reference target with one hidden threshold raised by 1."""

    @staticmethod
    def for_network(network, spikes):
        """Pick a neuron whose drive equals its threshold on some sample (so +1 changes its spikes)."""
        import numpy as np

        from hardware_targets.reference import ReferenceTarget, forward

        _, hidden = forward(network, spikes, record_hidden=True)
        prev = spikes
        for l, layer in enumerate(network.hidden):
            drive = np.rint(prev.astype(float) @ layer.weights.T.astype(float))
            on_edge = (drive == layer.thresholds[None, :]).any(axis=0)
            if on_edge.any():
                j = int(np.argmax(on_edge))
                return _make_faulty(ReferenceTarget, l, j)
            prev = hidden[l]
        return None


def _make_faulty(base, layer_index: int, neuron: int):
    from connttra_neuro.network import HiddenLayer

    class Faulty(base):
        name = "faulty-deployment"

        def compile(self, network):
            hidden = list(network.hidden)
            t = hidden[layer_index].thresholds.copy()
            t[neuron] += 1
            hidden[layer_index] = HiddenLayer(hidden[layer_index].weights, t)
            return super().compile(network.replace(hidden=tuple(hidden)))

    target = Faulty()
    target.layer, target.neuron = layer_index, neuron
    return target
