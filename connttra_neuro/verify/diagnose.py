"""Say *where* and *how* a deployment departs from the trained model.

The verifier finds the first layer whose spikes (or scores) differ. Because
every earlier layer matched, that layer received exactly the inputs the
trained model gave it, so the fault is inside it. For hidden layers we then ask
whether each faulty neuron behaves like the model's neuron with another
threshold (an integer interval of thresholds fits its firing exactly) or not at
all (its weights must differ), and whether most of the layer departs alike
(silent, or every threshold moved one way: a cause the layer shares, such as its
weights' scale, rather than many thresholds); for the output layer we ask whether a class's
score is off by a constant (its bias) or by an amount that depends on the input
(its weights), and, when the samples pin them down, which weights.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hardware_targets.reference import _drive

__all__ = [
    "diagnose_hidden_neuron", "diagnose_hidden_layer", "diagnose_output_class", "MAX_LISTED", "MAX_SAMPLES_LISTED",
]

MAX_LISTED = 20  # neurons / samples listed by index in a report; counts are always complete
MAX_SAMPLES_LISTED = 10  # differing samples named per layer and per neuron: enough to find and replay one


def diagnose_hidden_neuron(drive: np.ndarray, fired: np.ndarray, expected: np.ndarray, threshold: int) -> dict:
    """Explain one neuron whose spikes differ from the model's.

    Parameters
    ----------
    drive : int64 (n_samples,)
        ``W[j] @ s_prev`` with the model's weights and the (matching) inputs.
    fired : uint8 (n_samples,)
        What the target's neuron did.
    expected : uint8 (n_samples,)
        What the model's neuron did.
    threshold : int
        The model's threshold ``T[j]``.
    """
    fired = fired.astype(bool)
    expected = expected.astype(bool)
    extra = int(np.count_nonzero(fired & ~expected))
    missing = int(np.count_nonzero(~fired & expected))
    # a threshold t explains the target iff every firing drive >= t and every silent drive < t
    lo = int(drive[~fired].max()) + 1 if (~fired).any() else None
    hi = int(drive[fired].min()) if fired.any() else None
    consistent = lo is None or hi is None or lo <= hi
    # a neuron that never (or always) fires where the model's does not is "explained" by any threshold
    # beyond every drive: true but weak, since lost weights or a wrong scale silence it just the same
    stuck = "silent" if hi is None else "firing" if lo is None else None
    if consistent:
        if lo is not None and hi is not None:
            interval = f"[{lo}, {hi}]" if lo != hi else f"{lo}"
        elif lo is not None:
            interval = f">= {lo}"  # never fired: any threshold above every drive
        else:
            interval = f"<= {hi}"
        n, n_model = fired.size, int(np.count_nonzero(expected))
        if stuck == "silent":
            text = (f"never fires (the model's fires on {n_model} of {n} samples), as if its threshold were "
                    f"{interval} (model: {threshold})")
        elif stuck == "firing":
            text = (f"fires on every sample (the model's on {n_model} of {n}), as if its threshold were "
                    f"{interval} (model: {threshold})")
        else:
            text = f"fires as if its threshold were {interval} (model: {threshold})"
    else:
        silent_at = lo - 1  # the largest drive at which it stayed silent, >= the smallest at which it fired
        seen = (
            f"fires and stays silent at drive {hi}"
            if hi == silent_at
            else f"fires at drive {hi}, silent at {silent_at}"
        )
        # its inputs matched the model's (the layer before agreed), so the rest is inside the neuron
        text = f"no threshold explains its spikes ({seen}): its weights or connections differ"
    return {
        "fires_extra": extra,
        "misses": missing,
        "threshold": int(threshold),
        "implied_threshold_min": lo,
        "implied_threshold_max": hi,
        "threshold_explains": bool(consistent),
        "stuck": stuck,
        "explanation": text,
    }


# Neurons that must share a pattern before a layer-wide cause is named: independent faults (Brian2's
# per-neuron threshold jitter) move all of k neurons' thresholds one way with chance 2**(1-k), so 3 of 4
# did on small layers; 8 is 1 in 128.
MIN_LAYER_WIDE = 8


def diagnose_hidden_layer(drive: np.ndarray, fired: np.ndarray, expected: np.ndarray, thresholds: np.ndarray):
    """A cause shared by the layer, when its faulty neurons' pattern points to one; else None.

    One neuron with a wrong threshold is an ordinary fault; most of a layer falling silent (or
    firing on every sample), or every faulty neuron needing a threshold moved the same way, is not
    many thresholds gone wrong independently but one cause they share: weights lost or mis-scaled
    (e.g. fewer weight bits than the mapping assumed) or an offset applied to every threshold. Said
    only when more than half the layer's neurons (and at least ``MIN_LAYER_WIDE``) show it.

    Same arrays as :func:`diagnose_hidden_neuron`, one column per neuron: ``drive`` int64
    (n_samples, n_neurons), ``fired`` / ``expected`` (n_samples, n_neurons), ``thresholds`` (n_neurons,).
    """
    fired, expected = fired.astype(bool), expected.astype(bool)
    n = fired.shape[1]
    differs = (fired != expected).any(axis=0)
    majority = max(MIN_LAYER_WIDE, n // 2 + 1)
    if np.count_nonzero(differs) < majority:
        return None
    has_fired, has_silent = fired.any(axis=0), (~fired).any(axis=0)
    info = np.iinfo(np.int64)
    lo = np.where(fired, info.min, drive).max(axis=0) + 1  # lowest threshold keeping its silent samples silent
    hi = np.where(fired, drive, info.max).min(axis=0)  # highest threshold still firing where it fired
    explained = ~has_fired | ~has_silent | (lo <= hi)
    # a differing neuron's [lo, hi] misses the model's threshold: it lies above it (higher) or below (lower)
    higher = int(np.count_nonzero(differs & explained & has_silent & (lo > thresholds)))
    lower = int(np.count_nonzero(differs & explained & has_fired & (hi < thresholds)))
    silent = int(np.count_nonzero(differs & ~has_fired))
    always = int(np.count_nonzero(differs & ~has_silent))
    if silent + always >= majority:
        if not always:
            what = f"{silent} of the layer's {n} neurons never fire where the model's do"
        elif not silent:
            what = f"{always} of the layer's {n} neurons fire on every sample where the model's do not"
        else:
            what = (f"{silent + always} of the layer's {n} neurons are stuck where the model's are not "
                    f"({silent} never fire, {always} fire on every sample)")
        count = silent + always
    elif higher >= majority and not lower:
        what, count = f"{higher} of the layer's {n} neurons fire as if their thresholds were higher, none lower", higher
    elif lower >= majority and not higher:
        what, count = f"{lower} of the layer's {n} neurons fire as if their thresholds were lower, none higher", lower
    else:
        return None
    return (f"{what}: that points to a cause shared by the layer (its weights or their scale, e.g. weight "
            f"bits lost on the target, or an offset added to every threshold), not {count} separate wrong thresholds")


def weights_pinned(s_prev: np.ndarray) -> bool:
    """Whether the inputs pin every weight and the bias down: ``[s_prev, 1]`` of full column rank (never with
    fewer samples than unknowns, which is said without a rank computation)."""
    n, unknowns = s_prev.shape[0], s_prev.shape[1] + 1
    if n < unknowns:
        return False
    return bool(np.linalg.matrix_rank(np.hstack([s_prev.astype(np.float64), np.ones((n, 1))])) == unknowns)


def diagnose_output_class(
    s_prev: np.ndarray, ref_scores: np.ndarray, got_scores: np.ndarray, weights_row: np.ndarray,
    pinned: Callable[[], bool] | None = None,
) -> dict:
    """Explain one class whose scores differ although the last hidden layer matched.

    ``diff = got - ref`` is ``s_prev @ dW + db``. A constant ``diff`` is a bias
    error. Otherwise, when the inputs pin the weights down (full column rank),
    solve for ``dW`` and list the weights that differ. ``pinned``: :func:`weights_pinned` of these
    ``s_prev``, computed once for all classes by the caller (a rank of 10,000 x 4,097 takes seconds).
    """
    diff = got_scores.astype(np.float64) - ref_scores.astype(np.float64)
    changed = diff != 0
    integer = bool(np.all(diff == np.round(diff)))
    num = (lambda v: int(v)) if integer else (lambda v: float(v))  # noqa: E731
    out = {
        "samples_differing": int(np.count_nonzero(changed)),
        "min_difference": num(diff.min()),
        "max_difference": num(diff.max()),
        "bias_offset": None,
        "weights_differing": None,
    }
    if not integer:
        # an integer network gives integer scores on an exact target; fractions mean analog behaviour (noise)
        out["explanation"] = (
            f"non-integer scores (differ by {diff.min():.3g}..{diff.max():.3g}): the target is not computing "
            "integer sums (device noise or analog weights)"
        )
        return out
    diff = diff.astype(np.int64)
    if diff.min() == diff.max():
        out["bias_offset"] = int(diff[0])
        # an input active on every sample adds a constant too: its weight is as likely as the bias
        always = np.nonzero(s_prev.all(axis=0))[0] if s_prev.shape[0] else np.zeros(0, np.int64)
        out["always_active_inputs"] = always[:MAX_LISTED].tolist()
        where = "on the one sample" if diff.size == 1 else "on every sample"
        # the bias is pinned down only if no weights can add a constant: the ones column must lie
        # outside the span of the inputs (an input active on every sample, or inputs whose spikes
        # always add up to the same number, e.g. complementary ones, break that)
        identifiable = not always.size and _ones_outside_span(s_prev)
        out["bias_identifiable"] = bool(identifiable)
        if always.size:
            listed = ", ".join(str(i) for i in always[:5]) + (f" (+{always.size - 5} more)" if always.size > 5 else "")
            out["explanation"] = (f"score off by {int(diff[0])} {where}: its bias differs, or its weight(s) from "
                                  f"input(s) {listed}, active on every sample (the samples cannot tell these apart)")
        elif not identifiable:
            out["explanation"] = (f"score off by {int(diff[0])} {where}: its bias differs, or weights of inputs "
                                  f"whose spikes add up to a constant on these samples (they cannot tell these apart)")
        else:
            out["explanation"] = f"score off by {int(diff[0])} {where}: its bias differs"
        return out
    # the rank first: the inputs must pin the weights down for a solution to name them, and when they do not
    # (fewer samples than inputs, a neuron that never fires) the least-squares solve was work for nothing
    exact = False
    if pinned() if pinned is not None else weights_pinned(s_prev):
        A = np.hstack([s_prev.astype(np.float64), np.ones((s_prev.shape[0], 1))])
        solution, *_ = np.linalg.lstsq(A, diff.astype(np.float64), rcond=None)
        rounded = np.rint(solution)
        exact = np.array_equal(np.rint(A @ rounded).astype(np.int64), diff)
    if exact:
        idx = np.nonzero(rounded[:-1])[0]
        out["weights_differing"] = [
            {"input": int(i), "model": int(weights_row[i]), "deployed": int(weights_row[i] + rounded[i])}
            for i in idx[:MAX_LISTED]
        ]
        out["bias_offset"] = int(rounded[-1]) or None
        listed = ", ".join(f"w[{d['input']}] {d['model']}->{d['deployed']}" for d in out["weights_differing"][:5])
        more = f" (+{idx.size - 5} more)" if idx.size > 5 else ""
        bias = f"; its bias is off by {out['bias_offset']}" if out["bias_offset"] else ""
        out["explanation"] = f"{idx.size} weight(s) differ: {listed}{more}{bias}"
    else:
        out["explanation"] = (
            f"score differs by {out['min_difference']}..{out['max_difference']} depending on the input: "
            "its weights differ"
        )
    return out


def _ones_outside_span(s_prev: np.ndarray) -> bool:
    """Whether a constant column is not a combination of the inputs' columns (then a constant score
    offset can only be the bias). Two rank computations: only on the constant-offset path."""
    S = s_prev.astype(np.float64)
    if not S.size:
        return True
    return bool(np.linalg.matrix_rank(np.hstack([S, np.ones((S.shape[0], 1))])) > np.linalg.matrix_rank(S))


def hidden_drive(s_prev: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``s_prev @ weights.T`` exactly (int64)."""
    return _drive(s_prev, weights)
