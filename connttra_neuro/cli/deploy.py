"""``connttra-neuro deploy``: fit a model onto a target, report resources, run it, export it.

Exit status: 0 on success (and, with --data, the target matched the trained
model exactly); 1 when the target ran but differed; 2 for a usage error or a
network the target cannot hold (the message names the limit).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

from . import MODEL_HELP
from .verify import (
    EXIT_EXACT,
    EXIT_MISMATCH,
    add_data_arguments,
    add_target_option_arguments,
    load_split,
    scale_noted,
    target_options,
)


def add_parsers(sub) -> None:
    """Register ``deploy``."""
    p = sub.add_parser(
        "deploy",
        help="check a model fits a target, print its resources, run data on it, export NIR / netx",
        description=textwrap.fill(
            "Check that MODEL fits the target (a clear error names any limit it breaks), print the target's "
            "resource report (cores, neurons, synapses, memory). With --data, run the "
            "samples on the target and print accuracy, agreement with the trained model, and the synaptic "
            "operations per inference with the Loihi energy estimate. --export-nir and "
            "--export-netx write the network as a NIR graph or a lava-dl netx file (for any target)."
        ),
        epilog=(
            "examples:\n"
            "  connttra-neuro deploy model.ctn --target loihi2\n"
            "  connttra-neuro deploy model.ctn --target loihi2 --data digits --n 300 --export-nir model.nir\n"
            "  connttra-neuro deploy model.ctn --target brian2 --codegen cython --data iris\n"
            "  connttra-neuro deploy model.ctn --target brian2 --noise weight_sigma=0.1,seed=3 --data iris\n"
            "exit status: 0 ok (also a difference under --noise, which is expected), 1 the target's run\n"
            "differed from the trained model, 2 usage error or limit"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--target", required=True, metavar="NAME",
                   help="registered target (reference, loihi2, brian2), or module:Class for your own")
    add_data_arguments(p, default_from_model=False)
    add_target_option_arguments(p)
    p.add_argument("--export-nir", metavar="FILE", help="write the network as a NIR graph (HDF5)")
    p.add_argument("--export-netx", metavar="FILE", help="write the network as a lava-dl netx HDF5 file")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of text")
    p.set_defaults(func=_deploy)


def _deploy(args) -> int:
    from hardware_targets.registry import get_target

    from ..modelfile import load
    from . import UserError, check_distinct, check_replaceable, check_writable
    from .verify import parse_targets

    if not args.target.strip():
        raise UserError("--target needs a target name")
    if "," in args.target:
        raise UserError("--target takes one target name; use `connttra-neuro verify --targets a,b` for several")
    (name,) = parse_targets(args.target)
    if args.data is None:
        for flag in ("n", "data_path", "seed", "split"):
            if getattr(args, flag) is not None:
                raise UserError(f"--{flag.replace('_', '-')} needs --data")
    for flag in ("export_nir", "export_netx"):
        if getattr(args, flag) is not None:  # "" is the named error, not no export
            check_writable(getattr(args, flag), "--" + flag.replace("_", "-"))
    check_distinct({"--export-nir": args.export_nir, "--export-netx": args.export_netx},
                   {"the model file": args.model, "--data": args.data})
    for flag in ("export_nir", "export_netx"):  # only an earlier NIR or netx export is replaced
        check_replaceable(getattr(args, flag), "--" + flag.replace("_", "-"), "hdf5")
    options = target_options(args, [name]).get(name, {})
    if args.data is None and args.noise is not None:  # it changes a run on data; without one it did nothing
        raise UserError("--noise needs --data (without it deploy only compiles and exports)")
    network = load(args.model)
    target = get_target(name, **options)
    target.check(network)  # TargetLimitError (a ValueError) -> one clean line, exit 2
    if args.export_netx is not None:
        from hardware_targets import TargetLimitError
        from hardware_targets.loihi2 import check_netx

        try:
            check_netx(network)  # a model netx cannot hold is refused before the data load and any file
        except TargetLimitError as err:  # the file's limit, not the target's: say so, and how to go on
            raise UserError(
                f"--export-netx {args.export_netx}: a netx file cannot hold this model exactly, so nothing was "
                f"written or run. {err}. Drop --export-netx to deploy and run it on {name}"
                + (" (the loihi2 target runs it exactly)" if name == "loihi2" else "")
            ) from None
    # The data before any export: a bad --data / --n must fail before files are written.
    split = load_split(args, network) if args.data is not None else None
    out: dict = {"model": str(args.model), "target": name, "layer_sizes": list(network.layer_sizes)}
    out["resources"] = target.resources(network)
    exports: dict = {}
    try:
        status = _export_and_run(args, network, target, split, exports, out)
    except KeyboardInterrupt:  # before main's "interrupted": which exports this run replaced, which it did not
        _say_stopped(args, exports)
        raise
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return status
    _print(out, network)
    return status


def _say_stopped(args, exports: dict) -> None:
    """On Ctrl-C: each export asked for is either written whole (before the run, which it outlasts) or as it
    was (each is written atomically); "interrupted" alone left the user to guess whether they were replaced."""
    asked = {kind: path for kind, path in (("nir", args.export_nir), ("netx", args.export_netx)) if path is not None}
    if not asked:
        return
    written = [f"--export-{kind} {asked[kind]}" for kind in asked if kind in exports]
    as_was = [f"--export-{kind} {asked[kind]}" for kind in asked if kind not in exports]
    print("deploy: stopped; " + "; ".join(
        ([f"written (whole) before the stop: {', '.join(written)}"] if written else [])
        + ([f"not written, as it was: {', '.join(as_was)}"] if as_was else [])), file=sys.stderr)


def _export_and_run(args, network, target, split, exports: dict, out: dict) -> int:
    """Write the exports asked for (``exports`` gets each as it is written), then run the data if given;
    fills ``out``, returns the exit status."""
    if args.export_nir is not None or args.export_netx is not None:
        from hardware_targets.loihi2 import export_netx, export_nir

        if args.export_nir is not None:
            exports["nir"] = str(export_nir(network, args.export_nir))
        if args.export_netx is not None:
            exports["netx"] = str(export_netx(network, args.export_netx))
    out["exports"] = exports
    status = EXIT_EXACT
    if args.data is not None:
        from ..verify import verify
        from ..verify.parity import target_label

        X, y, data_name = split
        # progress on stderr (stdout may be --json): a cold cython compile takes minutes. verify names the
        # instance by its class's name; the lines name it as the user did (a module:Class spec), as stdout does
        said, name = f"verify: {target_label(target)}: ", out["target"]
        with scale_noted():  # load_split said it
            report = verify(network, [target], X, y, dataset=data_name, y_are_outputs=True,  # mapped by load_split
                            progress=lambda m: print(m.replace(said, f"deploy: {name}: ", 1), file=sys.stderr,
                                                     flush=True))
        tp = report.targets[0]
        out["run"] = {
            "data": data_name,
            "split": args.split,
            "n_samples": tp.n_samples,
            "status": tp.status,
            "accuracy": None if tp.error is None else 1 - tp.error,
            "error": tp.error,
            "trained_model_error": tp.software_error,
            "agreeing": tp.agreeing,
            "disagreeing": tp.disagreeing,
            "first_differing_layer": tp.first_differing_layer,
            "diagnosis": tp.diagnosis,
            "run_steps": tp.run_steps,
            "run_seconds": tp.run_seconds,
            "failure": tp.failure,
            "effective_acs_per_inference": (tp.operations or {}).get("effective_acs"),
            "float_mlp_macs_per_inference": report.float_mlp["macs_per_inference"],
            "loihi_energy_joules_per_inference": tp.energy["joules_per_inference"] if tp.energy else None,
        }
        # With device noise on, differing from the trained model is the point of the run
        # (a robustness study), not a failed deployment: report it, exit 0.
        noise = getattr(target, "noise", None)
        out["run"]["device_noise"] = str(noise) if noise is not None and noise.active else None
        expected_difference = out["run"]["device_noise"] is not None and tp.failure is None
        status = EXIT_EXACT if tp.exact or expected_difference else EXIT_MISMATCH
    return status


def _print(out: dict, network) -> None:
    print(f"model      {out['model']} ({'-'.join(map(str, out['layer_sizes']))})")
    print(f"target     {out['target']}: fits")
    res = out["resources"]
    scalars = {k: v for k, v in res.items() if isinstance(v, (int, float, str)) and k not in ("layers", "on_host")}
    if scalars:
        print("resources  " + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in scalars.items()))
    for layer in res.get("layers", []) if isinstance(res.get("layers"), list) else []:
        cells = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in layer.items() if k != "layer")
        print(f"  {layer.get('layer', '?'):<16} {cells}")
    if isinstance(res.get("on_host"), str):  # what the target leaves to the host reading the scores
        print(f"on host    {res['on_host']}")
    for kind, path in out["exports"].items():
        print(f"exported   {kind}: {path}")
    run = out.get("run")
    if run:
        if run["failure"]:
            print(f"run        FAILED: {run['failure']}")
            return
        print(
            f"run        {run['n_samples']:,} samples of {run['data']} ({run['split']}): "
            f"accuracy {run['accuracy']:.2%} (trained model {1 - run['trained_model_error']:.2%}), "
            f"{run['run_steps']} steps, {run['run_seconds']:.2f} s"
        )
        if run["status"] == "exact":
            verdict = "exact: every spike, score and class matches"
        elif run["device_noise"]:
            verdict = f"differs under device noise ({run['device_noise']}), as expected: {run['diagnosis']}"
        else:
            verdict = f"MISMATCH: {run['diagnosis']}"
        print(f"agreement  {run['agreeing']:,}/{run['n_samples']:,} samples; {verdict}")
        acs, energy = run["effective_acs_per_inference"], run["loihi_energy_joules_per_inference"]
        if acs is not None:
            from connttra_neuro.verify.parity import _joules  # the unit verify's table uses

            print(
                f"per inference  {acs:,.0f} synaptic accumulates (a float MLP of this shape: "
                f"{run['float_mlp_macs_per_inference']:,} multiply-accumulates)"
                + (f"; Loihi energy estimate {_joules(energy)}" if energy is not None else "")  # 8.11 uJ
            )
