"""Classify new data with a trained model: :func:`predict`.

A model's output ``c`` stands for a label the model records in its metadata: ``classes[c]``, the
training labels (fit records them when they are not 0..C-1, and text labels as text), and, for a
model trained on an image folder or an npz with ``class_names``, ``class_names[c]``. ``predict``
maps the outputs a target computes through them, so a user gets the labels the model was trained
on back, not output indices. Features are given as the model was trained on them (raw, not
encoded); for image files, :func:`connttra_neuro.datasets.read_images` reads them exactly as
training did.
"""

from __future__ import annotations

import numpy as np

from .modelfile import as_network
from .network import (
    NetworkError,
    TernaryNetwork,
    check_class_names,
    feature_array,
    not_2d,
    real_features,
    thaw_metadata,
)

__all__ = ["predict", "predict_outputs", "output_labels", "output_names", "input_shape", "scale_note", "ScaleWarning"]


class ScaleWarning(UserWarning):
    """Data on another scale than the model's training data (:func:`scale_note`): predict and verify warn of it,
    and a caller that says it its own way (the command line) filters this class, not the message's words."""


def output_labels(network: TernaryNetwork) -> np.ndarray:
    """The label each output stands for: the model's metadata ``classes`` (int64, or text for labels
    fit recorded as text), or the output indices 0..C-1 when it records none. A malformed entry (not one
    distinct label per output) is a NetworkError naming it: it would mislabel every prediction."""
    from .verify.parity import model_classes

    classes = model_classes(network)  # checked: all integers, all text or all bool (fit's labels of a bool y)
    if classes is None:
        return np.arange(network.n_classes, dtype=np.int64)
    kind = str if isinstance(classes[0], str) else bool if isinstance(classes[0], bool) else np.int64
    return np.array(classes, dtype=kind)  # bool: False/True, as CoNNTrA.predict gives them


def output_names(network: TernaryNetwork) -> list[str] | None:
    """The class name of each output (metadata ``class_names``: an image folder's folder names, an
    npz's ``class_names``), or None when the model records none, or none valid: a hand-made or damaged entry
    already in a file names nothing and is not trusted to (``save`` writes none: ``network.check_class_names``)."""
    try:
        return check_class_names(network.metadata.get("class_names"), network.n_classes)
    except NetworkError:
        return None


def input_shape(network: TernaryNetwork) -> tuple | None:
    """The shape of one training sample before it was flattened (metadata ``input_shape``, which
    ``train`` writes for images, IDX files and npz arrays of more than 2 dimensions): ``(28, 28)``,
    ``(64, 48, 3)``. None when the model records none, or none that holds its feature count."""
    from .network import check_input_shape, thaw_metadata

    try:
        return check_input_shape(thaw_metadata(network.metadata).get("input_shape"), network.n_features) or None
    except ValueError:  # a hand-made entry that is no shape of these features: not trusted to check anything
        return None


def same_shape(a, b) -> bool:
    """Whether two sample shapes are one: ``(28, 28)``, ``(28, 28, 1)`` and ``(1, 28, 28)`` (one channel
    first) are the same grey image, its pixels in the same order (``image_dims``, as read_images compares);
    shapes that are no image compare as they are."""
    from ._image_folders import image_dims

    return (image_dims(a) or tuple(a)) == (image_dims(b) or tuple(b))


def predict(network, X, target="reference", *, names: bool = False, **target_options) -> np.ndarray:
    """Classify the rows of ``X`` with ``network`` run on ``target``.

    Parameters
    ----------
    network : TernaryNetwork or path
        A trained model (``connttra_neuro.load("model.ctn")``, a fitted ``CoNNTrA``'s ``network_``), or
        the path of a model file.
    X : array-like, shape (n_samples, n_features) or (n_samples, *input_shape)
        Raw features, as the model was trained on them (the model's encoder turns them into spikes).
        Images: ``connttra_neuro.datasets.read_images(paths, like=network)``. Samples given unflattened
        must have the shape the model records (``input_shape``), where it records one.
    target : str or hardware_targets.Target
        A registered target (``"reference"``, ``"loihi2"``, ``"brian2"``), ``"module:Class"``, or a
        Target instance. Every exact target gives the same labels.
    names : bool
        Return the class names (metadata ``class_names``) instead of the labels; a model that records
        none is an error.
    **target_options
        Passed to the target's constructor (``codegen="cython"`` for brian2, ``max_chips=2`` for loihi2).

    Returns
    -------
    ndarray, shape (n_samples,)
        The label of each row: the model's metadata ``classes`` (the training labels; text where fit
        recorded them as text), or the output index when the model records none. With ``names``, the
        class names (str). A malformed ``classes`` entry (not one distinct label per output) is an error
        naming it, before anything runs.
    """
    import warnings

    network = as_network(network, "predict")
    # what each output stands for, before the run: metadata that cannot say it costs no Lava start-up
    labels = _class_names(network) if names else output_labels(network)
    X = check_features(network, X)
    note = scale_note(network, X)
    if note:
        warnings.warn(note, ScaleWarning, stacklevel=2)
    return labels[_outputs(network, X, target, target_options)]


def _class_names(network: TernaryNetwork) -> np.ndarray:
    """The class name of each output, for ``predict(..., names=True)``; a ValueError when there are none."""
    named = output_names(network)
    if named is None:
        given = thaw_metadata(network.metadata.get("class_names"))
        if given is not None:  # a hand-made entry: say why it is not used, not that there is none
            raise ValueError(f"predict(..., names=True): the model's metadata class_names {given!r} is not "
                             f"one distinct name (str) per output ({network.n_classes} outputs), so it names nothing")
        raise ValueError("predict(..., names=True): the model records no class names (metadata class_names, which "
                         "train writes for an image folder or an npz holding class_names); use the labels "
                         "predict returns without names=True")
    return np.array(named, dtype=str)


def predict_outputs(network, X, target="reference", **target_options) -> np.ndarray:
    """The output index (int64) each row of ``X`` gets on ``target``: argmax of the integer scores,
    ties to the lowest index. :func:`predict` maps them to labels. ``network``: as for :func:`predict`."""
    network = as_network(network, "predict_outputs")
    return _outputs(network, check_features(network, X), target, target_options)


def _outputs(network: TernaryNetwork, X: np.ndarray, target, target_options: dict) -> np.ndarray:
    """The outputs of checked features (``check_features``: before the target is built, so a wrong X costs
    no Lava start-up)."""
    from hardware_targets.base import Target
    from hardware_targets.registry import get_target

    from .verify.parity import broken_result

    if isinstance(target, Target):
        if target_options:
            raise TypeError(f"target options ({', '.join(target_options)}) go with a target name; the Target "
                            f"instance given is built already")
        runner, shown = target, getattr(target, "name", type(target).__name__)
    else:
        runner, shown = get_target(target, **target_options), target
    runner.check(network)  # TargetLimitError: names the limit, the layer, the value and what is allowed
    result = runner.run(runner.compile(network), network.encode(X))
    broken = broken_result(result)
    if broken is None and np.shape(result.scores) != (len(X), network.n_classes):
        broken = (f"RunResult.scores must have shape (n_samples, n_classes) = {(len(X), network.n_classes)}, "
                  f"got {np.shape(result.scores)}")
    if broken:  # a target of the user's own that breaks the contract: say what to return
        raise ValueError(f"target {shown}: {broken}")
    return np.asarray(result.predictions, dtype=np.int64)


def check_features(network: TernaryNetwork, X) -> np.ndarray:
    """``X`` as a 2-D array of real numbers with the model's feature count and no NaN or infinity
    (``network.real_features``, the encoder's own check); the errors name what is wrong and how to fix it."""
    X = feature_array(X)
    n = network.n_features
    if X.ndim < 2:
        raise ValueError(not_2d("X", X.shape, n))
    if X.ndim > 2:  # images (n, 28, 28) -> (n, 784), as the dataset loaders flatten them
        shape = input_shape(network)
        if shape is not None and not same_shape(X.shape[1:], shape):  # same pixels, other places: misread
            raise ValueError(f"X holds samples of shape {X.shape[1:]} but the model was trained on samples of "
                             f"shape {shape} (its metadata input_shape); give them in that shape")
        X = X.reshape(X.shape[0], -1)
    if X.shape[0] == 0:
        raise ValueError(f"X has no samples (shape {X.shape})")
    if X.shape[1] != n:
        if X.size == n and X.shape[0] > 1:  # one (8, 8) image read as 8 samples of 8 features
            raise ValueError(f"X has shape {X.shape}: {X.shape[0]:,} samples of {X.shape[1]:,} features, but the model "
                             f"takes {n:,}; if X is one sample, give X[None] (or X.reshape(1, -1))")
        hint = network.encoder.spikes_given(X)
        if hint:
            raise ValueError(f"X has {X.shape[1]:,} features per sample but the model takes {n:,}{hint}")
        raise ValueError(f"X has {X.shape[1]:,} features per sample but the model takes {n:,}; give the features it "
                         f"was trained on (image files: connttra_neuro.datasets.read_images(paths, like=network))")
    return real_features(X, "X")


def scale_note(network: TernaryNetwork, X) -> str | None:
    """A note when ``X``'s values are on another scale than the model's training data, else None. Only
    the feature count is checked otherwise, and an 8x8 PNG (0..255) fits a model trained on scikit-learn's
    digits (0..16), where nearly every encoder level then fires. The encoder's cuts are the training
    data's trace: values far beyond the largest cut, or all far below it, come from elsewhere. Only for
    data on a scale from 0: a cut below 0 means the training data were centred (standardised), whose cuts
    (medians near 0) say nothing of how far their values reach."""
    cuts = network.encoder.thresholds[np.isfinite(network.encoder.thresholds)]
    X = np.asarray(X)
    if cuts.size == 0 or X.size == 0 or cuts.max() <= 0 or cuts.min() < 0:
        return None
    top, largest = float(cuts.max()), float(X.max())
    if largest > 4 * top + 1:
        what = f"values up to {largest:g}, while the model's encoder cuts end at {top:g}"
    elif largest < top / 8:
        what = f"values no larger than {largest:g}, while the model's encoder cuts reach {top:g}"
    else:
        return None
    return (f"the data have {what}: the model was trained on data of another scale (e.g. 0..16 against 0..255, or "
            "0..1 against 0..255), so its predictions here mean little; give the features as training read them")
