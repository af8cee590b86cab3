"""``verify``: run a network on targets and compare every spike with the trained model.

The trained (software) model is :func:`hardware_targets.reference.forward`
with ``record_hidden=True``. Each target runs the same encoded samples with
``record_hidden=True``; the verifier then compares, per target:

* classes: error beside the software model's, agreeing / disagreeing samples;
* hidden spikes layer by layer: the first layer that differs, which neurons and
  how many samples, and a diagnosis of each faulty neuron;
* output scores: equal or not, and for a faulty output layer which classes;
* activity and cost: spikes per layer, synaptic operations (accumulates vs
  multiply-accumulates, NeuroBench names), activation sparsity, latency in
  steps, packed footprint and a Loihi energy estimate per inference, beside the
  multiply-accumulates of a float MLP of the same architecture.

The JSON form of a :class:`ParityReport` (``to_dict``) is a stable schema,
documented in ``docs/user-guide.md`` and tested in ``tests/test_verify_report.py``.
"""

from __future__ import annotations

import functools
import os
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from connttra_neuro.inference import ScaleWarning, check_features, output_names, scale_note
from connttra_neuro.modelfile import as_network, storage_report
from connttra_neuro.network import TernaryNetwork, check_classes
from hardware_targets.base import RunResult, Target, all_binary, is_positive_int
from hardware_targets.reference import forward
from hardware_targets.registry import get_target, target_class

from .diagnose import (
    MAX_LISTED,
    MAX_SAMPLES_LISTED,
    diagnose_hidden_layer,
    diagnose_hidden_neuron,
    diagnose_output_class,
    hidden_drive,
    weights_pinned,
)
from .ops import count_operations, device_synaptic_events, float_mlp_macs, loihi_energy, loihi_energy_constants

__all__ = ["verify", "ParityReport", "TargetParity", "LayerParity", "SCHEMA", "SCHEMA_VERSION"]

SCHEMA = "connttra-neuro parity report"
SCHEMA_VERSION = 1


@dataclass
class LayerParity:
    """Spike (or score) equality of one layer on one target."""

    layer: str
    equal: bool | None  # None: the target did not record this layer
    neurons_differing: int = 0
    samples_differing: int = 0
    neurons: list[int] = field(default_factory=list)  # first MAX_LISTED differing neuron indices
    samples: list[int] = field(default_factory=list)  # first MAX_SAMPLES_LISTED differing sample indices
    diagnosis: list[dict] = field(default_factory=list)  # one entry per listed neuron / class
    cause: str | None = None  # a cause the whole layer shares (diagnose_hidden_layer), when its pattern shows one


@dataclass
class TargetParity:
    """Everything the verifier found about one target."""

    target: str
    status: str  # "exact" | "mismatch" | "failed"
    error: float | None = None
    software_error: float | None = None
    n_samples: int = 0
    agreeing: int = 0
    disagreeing: int = 0
    disagreeing_samples: list[int] = field(default_factory=list)
    scores_equal: bool | None = None
    score_samples_differing: int = 0
    score_max_abs_difference: float = 0
    layers: list[LayerParity] = field(default_factory=list)
    first_differing_layer: str | None = None
    diagnosis: str = ""
    spikes_per_layer: list[float | None] = field(default_factory=list)
    operations: dict | None = None
    energy: dict | None = None
    latency_steps: int | None = None
    run_steps: int | None = None
    compile_seconds: float | None = None
    run_seconds: float | None = None
    resources: dict | None = None
    confusion: list[list[int]] | None = None
    predictions: list[int] | None = None
    failure: str | None = None
    info: dict = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return self.status == "exact"


@dataclass
class ParityReport:
    """The verifier's result: the software model and one :class:`TargetParity` per target."""

    network: dict
    dataset: str | None
    n_samples: int
    software: dict
    float_mlp: dict
    footprint: dict
    targets: list[TargetParity]
    labels: list[int]
    created: str = ""

    @property
    def labels_beyond_model(self) -> int:
        """Samples whose label the model has no class for: counted wrong, no row in the confusion matrices."""
        n_classes = self.network["layer_sizes"][-1]
        return sum(1 for label in self.labels if not 0 <= label < n_classes)

    @property
    def all_exact(self) -> bool:
        """True when every target reproduced every spike, score and class."""
        return all(t.exact for t in self.targets)

    def target(self, name: str) -> TargetParity:
        """The :class:`TargetParity` of the target named ``name``; ``KeyError`` naming the ones present."""
        for t in self.targets:
            if t.target == name:
                return t
        raise KeyError(f"no target {name!r} in this report; have {[t.target for t in self.targets]}")

    def to_dict(self) -> dict:
        """The stable JSON schema (see docs/user-guide.md, "Parity report JSON")."""
        return _jsonable(
            {
                "schema": SCHEMA,
                "schema_version": SCHEMA_VERSION,
                "created": self.created,
                "dataset": self.dataset,
                "n_samples": self.n_samples,
                "all_exact": self.all_exact,
                "network": self.network,
                "footprint": self.footprint,
                "float_mlp": self.float_mlp,
                "software": self.software,
                "labels": self.labels,
                "targets": [asdict(t) for t in self.targets],
            }
        )

    def summary_table(self) -> str:
        """A fixed-width table, one row per target, for the terminal."""
        head = [
            "target",
            "status",
            "error",
            "software",
            "agree",
            "first differing layer",
            "ACs/inf",
            "energy/inf",
            "steps",
        ]
        rows = []
        for t in self.targets:
            acs = t.operations.get("effective_acs") if t.operations else None
            rows.append(
                [
                    t.target,
                    t.status.upper() if t.status != "exact" else "exact",
                    _pct(t.error),
                    _pct(t.software_error),
                    f"{t.agreeing}/{t.n_samples}" if t.status != "failed" else "-",
                    first_differing_shown(t) or ("-" if t.status != "failed" else "(did not run)"),
                    f"{acs:,.0f}" if acs is not None else "-",
                    _joules(t.energy["joules_per_inference"]) if t.energy else "-",
                    str(t.run_steps) if t.run_steps is not None else "-",
                ]
            )
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
        line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()  # noqa: E731
        out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
        for t in self.targets:
            if not t.exact:
                out.append(f"{t.target}: {t.diagnosis}")
        beyond = self.labels_beyond_model
        if beyond:
            # a model fit on labels 3, 7, 9 has no class for 5: "(>= 3)" would name one of its classes
            known = self.network.get("class_names") or self.network.get("classes")
            which = (f"none of its classes {known[:10]}{' ...' if len(known) > 10 else ''}" if known
                     else f">= {self.network['layer_sizes'][-1]}")
            out.append(f"note: {beyond} of {self.n_samples} samples have a label the model has no class for "
                       f"({which}): always wrong, not in the confusion matrices")
        mlp = self.float_mlp["macs_per_inference"]
        out.append(f"float MLP of the same architecture: {mlp:,} multiply-accumulates per inference")
        return "\n".join(out)


def first_differing_shown(t: TargetParity) -> str | None:
    """``t.first_differing_layer`` as the tables show it: ``output layer (hidden spikes not recorded)`` when
    the hidden layers before it were not compared, since alone it reads as "the hidden layers matched"."""
    unseen = any(lp.equal is None for lp in t.layers if lp.layer != t.first_differing_layer)
    return f"{t.first_differing_layer} (hidden spikes not recorded)" if t.first_differing_layer and unseen else \
        t.first_differing_layer


def _pct(x):
    return "-" if x is None else f"{100 * x:.2f}%"


def _joules(j: float) -> str:
    for unit, scale in (("J", 1.0), ("mJ", 1e-3), ("uJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12)):
        if abs(j) >= scale:
            return f"{j / scale:.3g} {unit}"
    return f"{j:.3g} J"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def confusion_matrix(y: np.ndarray, predictions: np.ndarray, n_classes: int) -> list[list[int]]:
    """Rows: true class, columns: predicted class."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    ok = (y >= 0) & (y < n_classes)
    np.add.at(m, (y[ok], predictions[ok]), 1)
    return m.tolist()


def _resolve(target: str | Target, options: dict) -> Target:
    if isinstance(target, Target):
        return target
    return get_target(str(target), **options.get(str(target), {}))


def model_classes(network) -> list | None:
    """The model's metadata ``classes`` (the label each output stands for), or None when it records none;
    a malformed entry (not one distinct integer or text label per output) is a NetworkError naming it
    (``network.check_classes``): predict, verify and evaluate would mislabel every output by it, unsaid."""
    return check_classes(network.metadata.get("classes"), network.n_classes)


def label_classes(network) -> list[int] | None:
    """The integer labels the model's outputs stand for (metadata ``classes``) when they are not 0..C-1,
    else None (outputs are the labels, or the labels are text). A malformed entry: :func:`model_classes`."""
    classes = model_classes(network)
    if classes is None or _all_text(classes) or classes == list(range(network.n_classes)):
        return None
    return classes


def text_classes(network) -> list[str] | None:
    """The labels the outputs stand for when fit recorded them as text (labels that were neither
    integers nor whole numbers: 'cat', 0.5), one distinct string per output; else None."""
    classes = model_classes(network)
    return classes if classes is not None and _all_text(classes) else None


def _all_text(classes: list) -> bool:
    return all(isinstance(c, str) for c in classes)


def labels_to_outputs(network, y: np.ndarray) -> np.ndarray:
    """Labels as the model's output indices: a model fit on labels other than 0..C-1 (say {1, 2, 3}, or
    'cat' / 'dog', or 0.5 / 1.5) records them as metadata ``classes``, its output ``c`` standing for
    ``classes[c]``. A label the model never learnt becomes ``n_classes`` (always wrong). Labels of a
    model without such a mapping are already output indices and come back unchanged, as do labels of
    another kind than the mapping's (text for integer classes), which the caller then names."""
    y = np.asarray(y)
    texts = text_classes(network)
    if texts is not None:
        index = {c: i for i, c in enumerate(texts)}  # fit recorded str(label): compare as text
        return np.array([index.get(str(v), len(texts)) for v in y.ravel().tolist()],
                        dtype=np.int64).reshape(y.shape)
    classes = label_classes(network)
    if classes is None or y.dtype.kind not in "iuf":
        return y
    classes = np.asarray(classes, dtype=np.int64)
    order = np.argsort(classes, kind="stable")  # fit writes them sorted; a hand-made list need not be
    ordered = classes[order]
    pos = np.minimum(np.searchsorted(ordered, y), classes.size - 1)
    return np.where(ordered[pos] == y, order[pos], network.n_classes)


def verify(
    network: TernaryNetwork | str | os.PathLike,
    targets: Sequence[str | Target],
    X: np.ndarray,
    y: np.ndarray,
    *,
    reference: Callable = forward,
    target_options: dict[str, dict] | None = None,
    dataset: str | None = None,
    progress: Callable[[str], None] | None = None,
    y_are_outputs: bool = False,
) -> ParityReport:
    """Run ``network`` on every target and compare it, spike by spike, with the trained model.

    Parameters
    ----------
    network : TernaryNetwork or path
        A trained model (``connttra_neuro.load("model.ctn")``, a fitted ``CoNNTrA``'s ``network_``), or
        the path of a model file.
    targets : sequence of str or Target
        Registry names (``"reference"``, ``"loihi2"``, ``"brian2"``) or
        :class:`~hardware_targets.base.Target` instances (e.g. a deliberately
        faulty one in a test).
    X : array (n_samples, n_features) or (n_samples, *input_shape)
        Raw features, as :func:`connttra_neuro.predict` takes them; the network's own encoder turns
        them into spikes.
    y : array of int (n_samples,)
        True classes, as ``fit`` took them: a model fit on labels other than 0..C-1 maps them to its
        outputs through its metadata ``classes`` (a label it never learnt counts as an error).
    reference : callable, optional
        The software model, ``reference(network, spikes, record_hidden=True) ->
        (scores, hidden_spikes)``; default :func:`hardware_targets.reference.forward`.
    target_options : dict, optional
        Constructor options per target name, e.g. ``{"brian2": {"codegen": "cython"}}``.
    dataset : str, optional
        A name recorded in the report.
    progress : callable, optional
        Called with a one-line message as each target starts and ends.
    y_are_outputs : bool, optional
        ``y`` already holds output indices 0..C-1 (mapped by the caller), not labels.

    Returns
    -------
    ParityReport
        ``report.all_exact`` is True when every target matched every spike,
        score and class. A target that raises (limits, runtime errors) is
        recorded with ``status="failed"`` and the error, not re-raised; a name that is no target
        (``"loihi"``) raises :class:`~hardware_targets.UnknownTargetError` before any target runs.
    """
    network = as_network(network, "verify")  # a path is read; an estimator: say what to pass
    classes = model_classes(network)  # malformed: said before any target runs, whatever y holds
    if isinstance(targets, (str, Target)):  # "reference" would otherwise be the targets "r", "e", "f", ...
        targets = [targets]
    targets = list(targets)
    if not targets:
        raise ValueError("verify needs at least one target (a registry name like 'loihi2', or a Target)")
    odd = [t for t in targets if not isinstance(t, (str, Target))]
    if odd:  # a duck-typed object would only fail later as "unknown target '<object at 0x...>'"
        raise TypeError(f"verify's targets are registry names ('loihi2'), 'module:Class' specs or instances of a "
                        f"hardware_targets.Target subclass; got {type(odd[0]).__name__} (subclass Target)")
    for name in targets:  # a misspelt name ("loihi") is UnknownTargetError now, not a "failed" row after the others ran
        if isinstance(name, str):
            target_class(name)
    if y is None:
        raise ValueError("verify needs the true classes y (n_samples,) beside X")
    y_given = np.asarray(y)
    if y_given.ndim == 2 and y_given.shape[1] == 1:  # a column of labels; a one-hot matrix is not one
        y_given = y_given.ravel()
    mapped = False  # y went through the model's classes, whose own warning names labels it has no output for
    if not y_are_outputs and y_given.ndim == 1:
        labels, y_given = y_given, labels_to_outputs(network, y_given)
        mapped = y_given is not labels
        unknown = labels[y_given == network.n_classes] if mapped else labels[:0]
        if unknown.size:
            shown = np.unique(unknown.astype(str) if unknown.dtype.kind in "OUS" else unknown).tolist()
            warnings.warn(f"y holds labels {shown[:5]} that are none of the model's classes "
                          f"{list(network.metadata['classes'])[:10]}: they count as errors (pass "
                          f"y_are_outputs=True if y holds output indices 0..{network.n_classes - 1})",
                          UserWarning, stacklevel=2)
    if y_given.dtype.kind not in "iub" and not (
            y_given.dtype.kind == "f" and np.all(np.isfinite(y_given)) and np.all(y_given == np.round(y_given))):
        raise ValueError(f"verify needs integer class indices in y, got {y_given.dtype} values such as "
                         f"{y_given.ravel()[:3].tolist()}")
    y = y_given.astype(np.int64)
    shape = np.shape(X)
    # X as predict takes it (rows, or samples in the shape the model records), its errors predict's own
    X = check_features(network, X)
    if y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise ValueError(
            f"verify needs X of shape (n, {network.n_features}) and y of shape (n,), got {shape} and {y.shape}"
        )
    note = scale_note(network, X)
    if note:  # as predict warns (and the verify command): the parity holds, but the error figures say little
        warnings.warn(note, ScaleWarning, stacklevel=2)
    # labels 1..C (1-based) for outputs 0..C-1 inflated every error figure unsaid; a caller that mapped y itself
    # (y_are_outputs: the command line, which notes such labels its own way) is not told again
    beyond = np.unique(y[(y < 0) | (y >= network.n_classes)]) if not (mapped or y_are_outputs) else y[:0]
    if beyond.size:
        warnings.warn(f"y holds labels {beyond[:5].tolist()} beyond the model's outputs 0..{network.n_classes - 1}, "
                      f"which the model records no other labels for: they count as errors", UserWarning, stacklevel=2)
    options = dict(target_options or {})
    named = [t for t in targets if isinstance(t, str)]
    stray = [k for k in options if k not in named]
    if stray:  # a misspelt key ("loihi") would otherwise be ignored, and the run made without its options
        raise ValueError(f"target_options for {', '.join(map(repr, stray))}, which is not among the targets named "
                         f"({', '.join(map(repr, named)) or 'none: options go with a name, not a Target instance'})")
    say = progress or (lambda msg: None)
    spikes = network.encode(X)
    ref_scores, ref_hidden = reference(network, spikes, record_hidden=True)
    ref_pred = np.argmax(ref_scores, axis=1)
    n_classes = network.n_classes
    ref_error = float(np.mean(ref_pred != y))
    constants = loihi_energy_constants()
    ref_ops = count_operations(network, spikes, ref_hidden)

    software = {
        "error": ref_error,
        "confusion": confusion_matrix(y, ref_pred, n_classes),
        "spikes_per_layer": ref_ops["spikes_per_layer"],
        "operations": ref_ops,
        "energy": loihi_energy(ref_ops, constants),
        "latency_steps": network.n_weight_layers,
        "predictions": ref_pred.tolist(),
    }
    results = []
    seen: dict[str, int] = {}
    for item in targets:
        name = target_label(item)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:  # the same target twice (e.g. two modes): keep report keys unique
            name = f"{name}#{seen[name]}"
        say(f"verify: {name}: compiling and running {len(y)} samples ...")
        tp = _verify_one(network, item, name, options, spikes, y, ref_scores, ref_hidden, ref_error, constants)
        say(f"verify: {name}: {tp.status}" + (f" ({tp.diagnosis})" if not tp.exact else ""))
        results.append(tp)

    footprint = dict(storage_report(network))
    footprint["packed_weight_bits"] = int(
        sum(_packed_bits(layer.weights.size, len(network.discrete_set)) for layer in network.layers)
    )
    footprint["parameter_bits"] = 32 * int(sum(layer.weights.shape[0] for layer in network.layers))
    return ParityReport(
        network={
            "layer_sizes": list(network.layer_sizes),
            "discrete_set": list(network.discrete_set),
            "n_weights": network.n_weights,
            "connection_sparsity": float(network.sparsity),
            "encoder_levels": network.encoder.levels,
            "n_features": network.n_features,
            # what each output (row and column of the confusion matrices) stands for, where the model says
            "class_names": output_names(network),
            "classes": classes,
        },
        dataset=dataset,
        n_samples=int(len(y)),
        software=software,
        float_mlp={
            "macs_per_inference": float_mlp_macs(network),
            "weights_float32_bytes": 4 * network.n_weights,
        },
        footprint=footprint,
        targets=results,
        labels=y.tolist(),
        created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def _packed_bits(n_weights: int, set_size: int) -> int:
    from connttra_neuro.modelfile import packed_nbytes

    return 8 * packed_nbytes(n_weights, set_size)


def target_label(item) -> str:
    """A target's name in the report: its registry name or spec, else its class's ``name`` (a subclass
    that forgot to set one: its class name)."""
    return str(getattr(item, "name", None) or type(item).__name__) if isinstance(item, Target) else str(item)


def _verify_one(network, item, name, options, spikes, y, ref_scores, ref_hidden, ref_error,
                constants) -> TargetParity:
    """One target's parity; ``name`` is its name in the report (``reporting#2`` for a second one)."""
    tp = TargetParity(target=name, status="failed", software_error=ref_error, n_samples=int(len(y)))
    try:
        target = _resolve(item, options)
        try:
            tp.resources = _safe_dict(target.resources(network))
        except Exception as err:  # resources are informative; a failure here must not hide parity
            tp.resources = {"error": str(err)}
        target.check(network)  # a network the target cannot hold is a failure, whether compile checks or not
        t0 = time.perf_counter()
        compiled = target.compile(network)
        t1 = time.perf_counter()
        result: RunResult = target.run(compiled, spikes, record_hidden=True)
        t2 = time.perf_counter()
        broken = broken_result(result)
        if broken:
            raise TypeError(broken)
    except Exception as err:
        tp.failure = f"{type(err).__name__}: {err}"
        tp.diagnosis = f"did not run: {tp.failure}"
        tp.info = {"traceback": traceback.format_exc(limit=3)}
        return tp
    tp.compile_seconds, tp.run_seconds = t1 - t0, t2 - t1
    tp.run_steps = int(result.steps)
    tp.latency_steps = network.n_weight_layers
    tp.info = _safe_dict(result.info)

    scores = np.asarray(result.scores)
    if scores.shape != ref_scores.shape:
        tp.failure = f"scores have shape {scores.shape}, expected {ref_scores.shape}"
        tp.diagnosis = f"wrong output: {tp.failure}"
        return tp
    pred = np.argmax(scores, axis=1)
    tp.predictions = pred.tolist()
    tp.error = float(np.mean(pred != y))
    differ = np.nonzero(pred != np.argmax(ref_scores, axis=1))[0]
    tp.disagreeing = int(differ.size)
    tp.agreeing = int(len(y) - differ.size)
    tp.disagreeing_samples = differ.tolist()
    tp.confusion = confusion_matrix(y, pred, network.n_classes)
    score_rows = np.nonzero((scores != ref_scores).any(axis=1))[0]
    tp.scores_equal = bool(score_rows.size == 0)
    tp.score_samples_differing = int(score_rows.size)
    tp.score_max_abs_difference = _num(np.abs(scores.astype(np.float64) - ref_scores).max()) if score_rows.size else 0

    hidden = result.hidden_spikes
    if hidden is not None and (
        len(hidden) != len(ref_hidden) or any(np.shape(h) != r.shape for h, r in zip(hidden, ref_hidden, strict=False))
    ):
        tp.failure = (
            f"hidden spikes have shapes {[np.shape(h) for h in hidden]}, expected {[r.shape for r in ref_hidden]}"
        )
        tp.diagnosis = f"wrong recording: {tp.failure}"
        tp.status = "mismatch"
        return tp
    for i, h in enumerate([] if hidden is None else hidden):
        # spikes are 0 or 1; casting anything else to uint8 (2 -> 2, 0.7 -> 0, -1 -> 255) would blame the neuron
        h = np.asarray(h)
        if h.size and not all_binary(h):
            odd = ~np.isin(h, (0, 1))
            s, j = np.argwhere(odd)[0]
            tp.failure = (f"hidden layer {i} holds {np.count_nonzero(odd)} value(s) other than 0 and 1 "
                          f"(e.g. {h[s, j]!r} at sample {s}, neuron {j})")
            tp.diagnosis = f"wrong recording: {tp.failure}"
            tp.status = "mismatch"
            return tp
    hidden = None if hidden is None else [np.asarray(h).astype(np.uint8, copy=False) for h in hidden]
    tiles = result.info.get("tiles") if isinstance(result.info, dict) else None
    tp.layers, tp.first_differing_layer, tp.diagnosis = _compare_layers(
        network, spikes, ref_hidden, hidden, ref_scores, scores, int(tiles) if is_positive_int(tiles) else None
    )
    if _read_as_changed_parameters(tp.layers) and (ties := _tied_text(ref_scores, pred, differ)):
        tp.diagnosis += f"; {ties}"
    # a device with stuck synapses made fewer events than the model's weights would: count what it did
    events = device_synaptic_events(network, result.info)
    if events is None and isinstance(result.info, dict) and "synaptic_events_per_inference" in result.info:
        # a layer misnamed in a plugin's count put the model's figures in the report in its place, unsaid
        layers = ", ".join(layer for layer, _ in network.named_layers())
        warnings.warn(f"{name}: its info['synaptic_events_per_inference'] is not one finite count >= 0 for each "
                      f"weight layer ({layers}); the report counts the model's non-zero weights instead",
                      UserWarning, stacklevel=2)
    ops = count_operations(network, spikes, hidden, events)
    tp.operations = ops
    tp.spikes_per_layer = ops["spikes_per_layer"]
    tp.energy = loihi_energy(ops, constants)
    recorded = hidden is not None or not network.hidden
    exact = tp.scores_equal and tp.disagreeing == 0 and recorded and all(layer.equal for layer in tp.layers)
    tp.status = "exact" if exact else "mismatch"
    if exact:
        tp.diagnosis = "every spike, score and class matches the trained model"
    elif not recorded and tp.scores_equal:
        tp.diagnosis = "scores match, but the target did not record hidden spikes to compare"
    return tp


def _compare_layers(network, spikes, ref_hidden, hidden, ref_scores, scores, tiles=None):
    """Per-layer equality and a diagnosis of the first layer that differs. ``tiles``: samples the
    target ran side by side per step (its ``RunResult.info["tiles"]``), for the timing check."""
    layers: list[LayerParity] = []
    first, text = None, ""
    prev = spikes  # inputs to the current layer, as the target produced them
    for i, ref in enumerate(ref_hidden):
        name = f"hidden layer {i}"
        if hidden is None:
            layers.append(LayerParity(layer=name, equal=None))
            continue
        got = hidden[i]
        diff = got != ref
        neurons = np.nonzero(diff.any(axis=0))[0]
        samples = np.nonzero(diff.any(axis=1))[0]
        lp = LayerParity(
            layer=name,
            equal=bool(neurons.size == 0),
            neurons_differing=int(neurons.size),
            samples_differing=int(samples.size),
            neurons=neurons[:MAX_LISTED].tolist(),
            samples=samples[:MAX_SAMPLES_LISTED].tolist(),
        )
        if neurons.size and first is None:
            # inputs matched up to here, so the fault is inside this layer
            layer = network.hidden[i]
            drive = hidden_drive(prev, layer.weights)
            for j in neurons[:MAX_LISTED]:
                d = diagnose_hidden_neuron(drive[:, j], got[:, j], ref[:, j], int(layer.thresholds[j]))
                lp.diagnosis.append({"neuron": int(j), **d, "samples": _first_rows(diff[:, j])})
            first = name
            lp.cause = diagnose_hidden_layer(drive, got, ref, layer.thresholds)
            shown = "; ".join(f"neuron {d['neuron']}: {d['explanation']}" for d in lp.diagnosis[:3])
            more = f"; +{neurons.size - 3} more neuron(s)" if neurons.size > 3 else ""
            cause = f"{lp.cause}; " if lp.cause else ""  # first: it is the likelier story than any one neuron's
            text = f"{name}: {neurons.size} neuron(s) differ on {samples.size} sample(s): {cause}{shown}{more}"
            if missing := _missing_last_rows(got, ref):
                # a run two or more steps short leaves the last samples' deepest spikes unwritten too: every neuron
                # then looks like a threshold fault on exactly those samples
                not_ = "not a wrong threshold or weight"
                if neurons.size == 1 and lp.diagnosis[0]["threshold_explains"]:
                    # one neuron silent on the last samples is that neuron's threshold just as exactly: say both
                    not_ = (f"or neuron {neurons[0]} {lp.diagnosis[0]['explanation']}, which fits these samples "
                            "as exactly")
                why = _missing_text(missing, len(got), "spikes", not_, int(samples.size))
                lp.diagnosis = [{"missing_samples": len(missing), "explanation": why}]
                lp.cause = None
                text = f"{name}: {why}"
            elif swap := _swapped(got, ref, neurons):
                # neurons placed or read in another order: every one of them looks wrong, none is
                for d in lp.diagnosis:
                    d["same_as_neuron"] = swap[d["neuron"]]
                    d["explanation"] = f"fires exactly as the model's neuron {swap[d['neuron']]} does"
                lp.cause = None
                text = f"{name}: {neurons.size} neuron(s) differ on {samples.size} sample(s): " + _swap_text(
                    swap, "neuron", "spikes", str, "neurons placed or read out in another order, not a wrong "
                    "threshold or weight")
            # a layer read some samples off looks like a wrong weight in every neuron; say so only when
            # some neuron is explained by no threshold (else a threshold fault is the simpler story)
            elif not all(d["threshold_explains"] for d in lp.diagnosis) and (order := _order_fault(got, ref, tiles)):
                lp.diagnosis = [order("spikes")]
                lp.cause = None
                text = f"{name}: {lp.diagnosis[0]['explanation']}"
        layers.append(lp)
        prev = got
    # output layer: scores
    diff = scores != ref_scores
    classes = np.nonzero(diff.any(axis=0))[0]
    samples = np.nonzero(diff.any(axis=1))[0]
    out = LayerParity(
        layer="output layer",
        equal=bool(classes.size == 0),
        neurons_differing=int(classes.size),
        samples_differing=int(samples.size),
        neurons=classes[:MAX_LISTED].tolist(),
        samples=samples[:MAX_SAMPLES_LISTED].tolist(),
    )
    if classes.size and first is None:
        if hidden is None and network.hidden:
            first = "output layer"
            text = (
                f"output scores differ for {classes.size} class(es) on {samples.size} sample(s); "
                "the target did not record hidden spikes, so the fault may be in any layer"
            )
            if swap := _swapped(scores, ref_scores, classes):
                # no fault in a hidden layer gives a class another class's very scores: that much is certain
                text = (f"output layer: {classes.size} class(es) differ on {samples.size} sample(s): "
                        + _swap_text(swap, "class", "scores", functools.partial(class_label, network),
                                     "outputs read out in another order (hidden spikes were not recorded, but no "
                                     "fault in them gives a class another's very scores)"))
        else:
            s_prev = prev
            pinned = functools.cache(lambda: weights_pinned(s_prev))  # one rank for every class, if any asks
            for c in classes[:MAX_LISTED]:
                d = diagnose_output_class(s_prev, ref_scores[:, c], scores[:, c], network.output.weights[c], pinned)
                out.diagnosis.append({"class": int(c), **d, "samples": _first_rows(diff[:, c])})
            first = "output layer"
            shown = "; ".join(f"class {class_label(network, d['class'])}: {d['explanation']}"
                              for d in out.diagnosis[:3])
            more = f"; +{classes.size - 3} more class(es)" if classes.size > 3 else ""
            text = f"output layer: scores of {classes.size} class(es) differ on {samples.size} sample(s): {shown}{more}"
            # as for hidden layers: a shift only where no bias or weight change explains a class exactly
            explained = [d["min_difference"] == d["max_difference"] or d["weights_differing"] is not None
                         for d in out.diagnosis]
            # two outputs swapped, or one class's scores written to two outputs, read as every weight of the
            # classes involved changed: say what it is
            own = []  # classes a copy explains as exactly as one weight or bias of their own
            if same := _swapped(scores, ref_scores, classes):
                cause = "outputs read out (or their rows placed) in another order, not a wrong weight or bias"
            elif same := _copied(scores, ref_scores, classes):
                copied = "another class's scores written to its output (or that class's row placed in its place)"
                cause = f"{copied}, not a wrong weight or bias"
                # a class whose scores are off by a constant, or by one input's spikes, lands on another class's
                # scores just as exactly when its bias or that one weight changed (two classes with the same weights
                # a bias of 1 apart): the samples cannot tell the two apart, so neither is ruled out
                if own := [d for d in out.diagnosis if _one_parameter(s_prev, scores[:, d["class"]] -
                                                                      ref_scores[:, d["class"]])]:
                    named = "; ".join(f"class {class_label(network, d['class'])}: {d['explanation']}" for d in own[:3])
                    cause = (f"{copied}, or one weight or the bias of the class changed, which fits these samples "
                             f"as exactly ({named})")
            if same:
                for d in out.diagnosis:
                    d["same_as_class"] = other = same[d["class"]]
                    also = f"; as exactly: {d['explanation']}" if any(d is o for o in own) else ""
                    d["explanation"] = (f"its scores are exactly the model's of class {class_label(network, other)}"
                                        f"{also}")
                text = f"output layer: {classes.size} class(es) differ on {samples.size} sample(s): " + _swap_text(
                    same, "class", "scores", functools.partial(class_label, network), cause)
            elif missing := _missing_rows(scores, ref_scores):
                # a run a step short leaves its last sample's scores as they started: read as changed weights
                not_ = "not a wrong weight or bias"
                c = int(classes[0])
                if classes.size == 1 and _one_parameter(s_prev, scores[:, c] - ref_scores[:, c]):
                    # one class differing by its bias (or one weight) to all 0 is that parameter just as exactly
                    not_ = (f"or class {class_label(network, c)}: {out.diagnosis[0]['explanation']}, which fits "
                            "these samples as exactly")
                out.diagnosis = [{"missing_samples": len(missing),
                                  "explanation": _missing_text(missing, len(scores), not_=not_)}]
                text = f"output layer: {out.diagnosis[0]['explanation']}"
            elif not all(explained) and (order := _order_fault(scores, ref_scores, tiles)):
                out.diagnosis = [order("scores")]
                text = f"output layer: {out.diagnosis[0]['explanation']}"
    layers.append(out)
    return layers, first, text


def output_labels(class_names, classes, n: int) -> list[str] | None:
    """What each of the ``n`` outputs stands for, in words: the class names, else the training labels when
    they are not 0..n-1; None when the outputs are the labels. Output indices alone misread: output 0 of a
    model trained on the folders one/two/zero is "one", of a model fit on labels 3, 7, 9 it is 3."""
    for given in (class_names, classes):
        if isinstance(given, list) and len(given) == n and given != list(range(n)):
            return [str(v) for v in given]
    return None


def class_label(network, c: int) -> str:
    """Output ``c`` as a report names it: ``2``, or ``2 (zero)`` where the model records what its outputs
    stand for (:func:`output_labels`)."""
    named = output_labels(output_names(network), model_classes(network), network.n_classes)
    return f"{c} ({named[c]})" if named is not None else str(c)


def broken_result(result) -> str | None:
    """What is wrong with a target's ``run()`` result, or None: the contract (hardware_targets.base.RunResult)
    checked here so a target written against it gets a message saying what to return, not a crash deep in
    the comparison, and the other targets still run."""
    if not isinstance(result, RunResult):
        return (f"run() returned {type(result).__name__}; it must return hardware_targets.RunResult(scores, "
                f"hidden_spikes, steps, info)")
    zero = isinstance(result.steps, (int, np.integer)) and not isinstance(result.steps, bool) and result.steps == 0
    if not (is_positive_int(result.steps) or zero):  # (not `!= 0`: an array's truth value is an error)
        return f"RunResult.steps must be the number of time steps run (an int), got {result.steps!r}"
    scores = np.asarray(result.scores)
    if scores.dtype.kind not in "iuf":
        return f"RunResult.scores must be numbers (int64 scores), got dtype {scores.dtype}"
    return None  # hidden spikes' shapes and values are the comparison's: a wrong recording is a mismatch it names


def _first_rows(mask: np.ndarray) -> list[int]:
    """Indices of the first MAX_SAMPLES_LISTED true entries (samples where one neuron or class differs)."""
    return np.flatnonzero(mask)[:MAX_SAMPLES_LISTED].tolist()


MAX_SHIFT = 3  # offsets tried when a whole layer differs: 1..3 samples, and 1..3 steps of a tiled run
MIN_SHIFT_EVIDENCE = 3  # differing samples a shift must explain before it is called one


def _shift(got: np.ndarray, ref: np.ndarray, tiles: int | None = None) -> int:
    """``k`` if the target's rows are the model's ``k`` samples late (``-k``: early), else 0.

    A pipelined target that reads its results a step off returns every sample's result beside
    another sample: each neuron would then look wrong, though no parameter is. A target running
    ``tiles`` copies side by side takes ``tiles`` samples per step (sample ``i`` at step
    ``i // tiles``, as loihi2 and brian2 lay them out), so there one step off is ``tiles`` samples
    off: offsets of 1..MAX_SHIFT samples and of 1..MAX_SHIFT times ``tiles`` are tried (a handful
    of array comparisons). Said only when the shift explains at least ``MIN_SHIFT_EVIDENCE``
    samples that differ among the rows it lines up: on few samples, or on rows that rarely change
    from one sample to the next (sorted data), an ordinary fault can match a shift by chance."""
    n = len(ref)
    row_differs = (got != ref).reshape(n, -1).any(axis=1)
    if np.count_nonzero(row_differs) < MIN_SHIFT_EVIDENCE:
        return 0
    steps = range(1, MAX_SHIFT + 1)
    offsets = sorted({*steps, *(m * tiles for m in steps if tiles and tiles > 1)})
    for k in offsets:
        if n - k < MIN_SHIFT_EVIDENCE:
            break
        # late: row i holds row i-k's result (rows k.. are the evidence); early: row i holds i+k's
        if np.count_nonzero(row_differs[k:]) >= MIN_SHIFT_EVIDENCE and np.array_equal(got[k:], ref[:-k]):
            return k
        if np.count_nonzero(row_differs[:-k]) >= MIN_SHIFT_EVIDENCE and np.array_equal(got[:-k], ref[k:]):
            return -k
    return 0


def _order_fault(got: np.ndarray, ref: np.ndarray, tiles: int | None):
    """The diagnosis of a layer whose rows are the model's in another order, as a function of what the rows
    are (``"spikes"`` / ``"scores"``), or None: read a fixed number of samples off (:func:`_shift`), or
    otherwise out of order (:func:`_reordered`), each a timing or read-out fault rather than a parameter."""
    if k := _shift(got, ref, tiles):
        return lambda what: {"shift_samples": k, "explanation": _shift_text(what, k, tiles)}
    if m := _reordered(got, ref):
        return lambda what: {"reordered_samples": m, "explanation": (
            f"the target's {what} of {m} sample(s) are the model's of other samples of the run (every result is "
            "there, in another order): a timing or read-out fault (results returned out of order), not a wrong "
            "parameter")}
    return None


def _missing_rows(got: np.ndarray, ref: np.ndarray) -> list[int]:
    """The samples whose scores differ when every one of them is all 0 on the target (the model's are not),
    else []. With the last hidden layer matched, a fault in the output layer's weights or biases gives all
    classes a score of exactly 0 on a sample only by a coincidence in every class at once; a result never
    written (a run ended a step early) or never read does so every time."""
    rows = np.flatnonzero((got != ref).any(axis=1))
    if got.shape[1] < 2 or not rows.size or np.any(got[rows] != 0):
        return []
    return rows.tolist()


def _missing_last_rows(got: np.ndarray, ref: np.ndarray) -> list[int]:
    """The run's last samples, from the first whose hidden spikes differ on, when the target's spikes on all of
    them are all 0, else []. Only the last: a sample on which no neuron of a layer fires is nothing unusual,
    as an all-0 score row is; silence on the run's last samples and a match everywhere before is what a run
    ended early gives (the deepest layers' last results are never written)."""
    rows = np.flatnonzero((got != ref).any(axis=1))
    # every sample from the first that differs on: where the model's spikes are all 0 too, a missing result
    # differs from nothing, so a run ended early can leave gaps among the differing rows (narrow layers, tiles)
    if got.shape[1] < 2 or not rows.size or got[rows[0]:].any():
        return []
    if not got[:rows[0]].any():  # nothing fired before them either (a layer silent throughout): no run that worked
        return []
    return list(range(int(rows[0]), len(got)))


def _missing_text(rows: list[int], n: int, what: str = "scores", not_: str = "not a wrong weight or bias",
                  differing: int | None = None) -> str:
    """``the target's scores on the last sample of the run (199) are all 0 ...`` (``what``: scores or spikes).
    ``differing``: how many of ``rows`` differ from the model's, when not all do (the model's are all 0 on the rest)."""
    shown = ", ".join(map(str, rows[:MAX_SAMPLES_LISTED])) + (" ..." if len(rows) > MAX_SAMPLES_LISTED else "")
    last = rows == list(range(n - len(rows), n))
    where = (("on the last sample of the run" if len(rows) == 1 else f"on the last {len(rows)} samples of the run")
             if last else f"on {len(rows)} sample(s)")
    one = len(rows) == 1
    why = ("the run ended early (a time step or more short)" if last
           else "its result was not read out" if one else "their results were not read out")
    not_there = ("where the model's are not" if differing is None or differing == len(rows) else
                 f"where the model's are not on {differing} of them (all 0 on the others too)")
    return (f"the target's {what} {where} ({shown}) are all 0 {not_there}, and every other sample's "
            f"equal the model's: no result for {'it' if one else 'them'}, as when {why}; {not_}")


def _swapped(got: np.ndarray, ref: np.ndarray, columns: np.ndarray) -> dict[int, int] | None:
    """``{c: d}`` when the target's differing columns (neurons, classes) are the model's same columns in another
    order: column ``c`` of the target equals column ``d`` of the model, ``d`` another differing column, each
    ``d`` once. Else None. Said only on ``MIN_SHIFT_EVIDENCE`` differing samples or more, as a shift is: on
    fewer, two independent faults could match by chance (a silent neuron is any silent neuron's copy, which
    is why ``d`` must be one that differs too)."""
    if columns.size < 2 or np.count_nonzero((got[:, columns] != ref[:, columns]).any(axis=1)) < MIN_SHIFT_EVIDENCE:
        return None
    free = [int(d) for d in columns]
    swap = {}
    for c in map(int, columns):
        d = next((d for d in free if d != c and np.array_equal(got[:, c], ref[:, d])), None)
        if d is None:
            return None
        swap[c] = d
        free.remove(d)
    return swap


# what a first differing layer's diagnosis holds when it is a fault of order or timing, not of a parameter
_NOT_A_PARAMETER = ("shift_samples", "reordered_samples", "missing_samples", "same_as_neuron", "same_as_class")


def _read_as_changed_parameters(layers: list[LayerParity]) -> bool:
    """Whether the first differing layer is explained unit by unit (thresholds, weights, biases): only then do
    ties matter, as a sample shifted or swapped in has another sample's scores, tied or not."""
    first = next((lp for lp in layers if lp.diagnosis), None)
    return first is not None and not any(key in d for d in first.diagnosis for key in _NOT_A_PARAMETER)


def _tied_text(ref_scores: np.ndarray, pred: np.ndarray, changed: np.ndarray) -> str | None:
    """How many of the samples that changed class went to a class the model's top score was tied on, when
    any did: the model's class there is only the lowest index of the tie, so a score change of any size (a
    float target's noise, a bias one off) moves it, a smaller story than the class change alone suggests."""
    top = ref_scores[changed]
    tied = int(np.count_nonzero(top[np.arange(changed.size), pred[changed]] == top.max(axis=1, initial=0)))
    if not tied:
        return None
    return (f"{tied} of the {changed.size} sample(s) that changed class went to a class tied for the model's top "
            "score (the model takes the lowest-index class of a tie), so a score change of any size moves them")


def _copied(got: np.ndarray, ref: np.ndarray, columns: np.ndarray) -> dict[int, int] | None:
    """``{c: d}`` when every differing score column ``c`` of the target is the model's column ``d`` of another
    class (one that may match, unlike :func:`_swapped`'s): one class's scores written to two outputs. Else None.
    ``d``'s scores must take two values or more, as a constant one (a class with no weights) is matched by any
    class whose weights were all lost and whose bias happens to equal it; and, as for a swap, the columns must
    differ on ``MIN_SHIFT_EVIDENCE`` samples or more."""
    if np.count_nonzero((got[:, columns] != ref[:, columns]).any(axis=1)) < MIN_SHIFT_EVIDENCE:
        return None
    varied = [int(d) for d in range(ref.shape[1]) if np.ptp(ref[:, d]) > 0]
    copy = {}
    for c in map(int, columns):
        d = next((d for d in varied if d != c and np.array_equal(got[:, c], ref[:, d])), None)
        if d is None:
            return None
        copy[c] = d
    return copy


def _one_parameter(s_prev: np.ndarray, diff: np.ndarray) -> bool:
    """Whether one parameter of an output class explains its score change ``diff`` (target - model) exactly: its
    bias (``diff`` constant) or one weight (``diff`` a constant on exactly the samples one input fired on)."""
    if diff.min() == diff.max():
        return True
    changed = diff != 0
    if np.any(diff[changed] != diff[changed][0]):
        return False
    return bool(np.any((s_prev.astype(bool) == changed[:, None]).all(axis=0)))


def _swap_text(swap: dict[int, int], unit: str, what: str, name, cause: str) -> str:
    """``class 0 shows the model's scores of class 1, class 1 those of class 0: <cause>`` (the first five)."""
    pairs = [f"{unit} {name(c)} shows the model's {what} of {unit} {name(d)}" for c, d in list(swap.items())[:5]]
    more = f" (+{len(swap) - 5} more)" if len(swap) > 5 else ""
    return f"{', '.join(pairs)}{more}: {cause}"


def _reordered(got: np.ndarray, ref: np.ndarray) -> int:
    """How many rows differ when the target's rows are the model's rows in another order (the same rows,
    each as often), else 0: samples swapped in pairs or shuffled by a read-out fault made every neuron look
    wrong. Said only on ``MIN_SHIFT_EVIDENCE`` differing rows or more, as a shift is."""
    n = len(ref)
    g, r = got.reshape(n, -1), ref.reshape(n, -1)
    differs = int(np.count_nonzero((g != r).any(axis=1)))
    if differs < MIN_SHIFT_EVIDENCE:
        return 0
    def in_order(a):  # the rows sorted (lexicographically), so that equal multisets of rows compare equal
        return a[np.lexsort(a.T[::-1])]

    return differs if np.array_equal(in_order(g), in_order(r)) else 0


def _shift_text(what: str, k: int, tiles: int | None = None) -> str:
    late = f"{k} sample(s) late (sample i shows sample i-{k}'s)" if k > 0 else \
        f"{-k} sample(s) early (sample i shows sample i+{-k}'s)"
    # on a tiled run the offset is whole steps: say so, since "100 samples late" reads like data order
    whole_steps = tiles is not None and tiles > 1 and k % tiles == 0
    steps = f", {abs(k) // tiles} step(s) of a run with {tiles} copies side by side" if whole_steps else ""
    return (f"the target's {what} are the model's {late}{steps}: a timing fault (pipeline latency or "
            "where the results are read), not a wrong parameter")


def _num(x) -> int | float:
    """An int when the value is integral (exact targets), else a float (noisy ones)."""
    x = float(x)
    return int(x) if x.is_integer() else x


def _safe_dict(value: Any) -> dict:
    if not isinstance(value, dict):
        return {"value": _jsonable(value)}
    return _jsonable(value)
