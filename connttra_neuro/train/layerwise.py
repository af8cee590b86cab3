"""A layer-by-layer start for networks with more than one hidden layer.

Coordinate descent on a deep step network from a random start underfits and is slow (docs/training.md,
"Known limits"): a move in an earlier layer is scored through every later layer, and a single weight
rarely flips a later neuron, so few of the earlier layers' moves pay. Greedy layer-wise training
(Bengio et al., "Greedy layer-wise training of deep networks", NIPS 2006) sidesteps both: layer k is
the hidden layer of a one-hidden-layer network trained on layer k-1's spikes, where every move is scored
directly against the scores. The layers are then stacked under the last stage's output layer, and that
network is the start of an ordinary joint fit (``fit(..., init_network=...)``).
"""

from __future__ import annotations

import copy

import numpy as np

from ..network import HiddenLayer, TernaryNetwork
from .driver import network_forward

__all__ = ["layerwise_init"]


def layerwise_init(estimator, X, y, validation=None, *, callback=None, progress=None) -> TernaryNetwork:
    """Train ``estimator.hidden``'s layers one at a time and return them stacked, as a start for ``fit``.

    Stage k fits a copy of ``estimator`` with ``hidden=(width_k,)`` (every other setting kept: budget,
    loss, jitter, seed) on the spikes layer k-1 gives for ``X`` (stage 0: on ``X`` itself, through the
    encoder fitted there with ``estimator.levels``), validated on those of ``validation``. The result
    computes exactly what the last stage computed from its inputs, on any data (with a discrete set
    without 0: on ``X``, see ``_as_raw_input``), and is untrained as a whole: pass it to
    ``fit(X, y, validation, init_network=...)`` for joint sweeps. ``callback(layer, record)`` after each
    stage's sweep (``record``: that sweep's ``history_`` entry); ``progress(layer, sweep, neurons_done,
    neurons)`` inside a stage's long sweeps (``fit``'s ``progress``).

    >>> start = layerwise_init(CoNNTrA(hidden=(256, 128), random_state=0), X, y, validation=(Xv, yv))
    >>> model = CoNNTrA(hidden=(256, 128), max_sweeps=10, random_state=0).fit(
    ...     X, y, validation=(Xv, yv), init_network=start)
    """
    layers, stages = [], list(_stages(estimator, X, y, validation, callback, progress))
    for k, (net, features) in enumerate(stages):
        layers.append(_as_raw_input(net.hidden[0], net.encoder.thresholds, features, net.discrete_set) if k
                      else net.hidden[0])
    first = stages[0][0]
    if len(stages) == 1:  # one hidden layer: the plain fit it is
        return first
    # what describes the data (labels, names, shape) stays; stage 0's settings and metrics would describe a
    # one-layer network, so they go, and the stack says what it is
    meta = {k: v for k, v in first.metadata.items() if k in ("classes", "class_names", "dataset", "input_shape")}
    meta["layerwise_init"] = {"hidden": [layer.weights.shape[0] for layer in layers]}
    return first.replace(hidden=tuple(layers), output=stages[-1][0].output, metadata=meta)


def _stages(estimator, X, y, validation, callback=None, progress=None):
    """``(one-hidden-layer network, its training features)`` for each of ``estimator.hidden``'s layers."""
    from .estimator import CoNNTrA

    if not isinstance(estimator, CoNNTrA):
        raise TypeError(f"layerwise_init takes a CoNNTrA estimator whose settings every stage uses, got "
                        f"{type(estimator).__name__}")
    widths, values, _ = estimator.check_params()  # every setting, before any stage trains
    if estimator.jitter is not None and len(widths) > 1:
        # a later stage's fan-in is the previous layer's width; its fit would refuse this jitter only after
        # the earlier stages had trained, so say it now (stage 0's own fit says it before any work)
        k = 1 + int(np.argmin(widths[:-1]))
        reach = widths[k - 1] * int(np.abs(np.asarray(values)).max())
        if estimator.jitter > reach:
            raise ValueError(f"jitter {estimator.jitter!r} is beyond the drive range of hidden layer {k + 1} of "
                             f"{len(widths)} (+-{reach}: its fan-in {widths[k - 1]} x max|w|), which layer-wise "
                             f"training fits on its own; every spike would be noise")
    features, features_val = X, (validation[0] if validation is not None else None)
    for k, width in enumerate(widths):
        stage = copy.copy(estimator)
        stage.hidden = (width,)
        if k:
            stage.levels = 1  # spikes are 0 or 1: one cut at 0.5 reproduces them
        stage.fit(features, y, validation=(features_val, validation[1]) if validation is not None else None,
                  callback=None if callback is None else lambda _, record, __, k=k: callback(k, record),
                  progress=None if progress is None else lambda sweep, _, done, h, k=k: progress(k, sweep, done, h))
        yield stage.network_, features
        if k + 1 < len(widths):
            features = _spikes(stage.network_, features)
            features_val = _spikes(stage.network_, features_val) if features_val is not None else None


def _spikes(net: TernaryNetwork, X) -> np.ndarray:
    """The hidden layer's spikes of a one-hidden-layer network, as the next stage's features."""
    return network_forward(net, net.encode(X))[1][0].astype(np.uint8)  # 0/1, read as 0.0/1.0


def _as_raw_input(layer: HiddenLayer, cuts: np.ndarray, spikes: np.ndarray, values) -> HiddenLayer:
    """The stage's layer, reading the previous layer's spikes directly instead of through its encoder.

    The encoder is the identity on 0/1 spikes (cut 0.5) except for a neuron that never changed on the
    stage's training data (``spikes``): its cut is +inf and the stage saw 0 where the spike may be 1. Its
    weights are set to 0, so the stacked network gives what the stage gave on any data. A set without 0
    keeps the weights and moves the thresholds by what such inputs add on the training data (an input
    always on there): exact on the training data, where the joint fit starts."""
    dead = ~(np.asarray(cuts)[:, 0] <= 1)  # +inf: a constant input in the stage's training data
    if not dead.any():
        return layer
    w = layer.weights.astype(np.int64)
    t = layer.thresholds.astype(np.int64)
    if 0 in values:
        w[:, dead] = 0
    else:
        on = dead & (np.asarray(spikes[0]) > 0)  # constant, so the first sample tells
        bound = w.shape[1] * int(np.abs(np.asarray(values)).max())
        t = np.clip(t + w[:, on].sum(axis=1), -bound, bound + 1)  # beyond: always / never fires, as before
    return HiddenLayer(w, t)
