"""The IR: a trained discrete network as plain, frozen data.

This module is the contract between the trainer, every hardware target and the
verifier. It holds numbers and checks them; it does not simulate anything.

Dynamics (written once, here)
-----------------------------
Given a raw feature vector ``x`` of length ``F``:

* encoder:  ``s_0[f*K + k] = 1 if x[f] >= t[f, k] else 0``  (thermometer code)
* hidden l: ``s_l = 1 if W_l @ s_{l-1} >= T_l else 0``      (binary spikes)
* output:   ``z = W_L @ s_{L-1} + b_L``;  class = ``argmax(z)``, ties to the
  lowest index.

All weights come from the network's discrete set (default ``{-1, 0, +1}``),
thresholds and biases are integers, so every target reproduces the reference
exactly.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = [
    "TERNARY",
    "BINARY",
    "NetworkError",
    "ThermometerEncoder",
    "HiddenLayer",
    "OutputLayer",
    "TernaryNetwork",
    "random_network",
]

TERNARY: tuple[int, ...] = (-1, 0, 1)
BINARY: tuple[int, ...] = (-1, 1)

WEIGHT_DTYPE = np.int8  # every allowed discrete set must fit in int8
PARAM_DTYPE = np.int32  # thresholds and biases
_ENCODE_BLOCK = 2**22  # spikes encoded per block of rows (ThermometerEncoder.encode)


def real_features(X: np.ndarray, who: str) -> np.ndarray:
    """``X`` (2-D) with bool features as 0/1, as fit and every encoder take them; a dtype that is not
    real numbers, or NaN or an infinite value, is a NetworkError naming ``who``'s input and the first
    row. Infinite features are refused as fit refuses them: a bug upstream, and a NIR graph (whose
    encoder is a Linear node: inf * 0 is NaN) could not reproduce the spikes they would give."""
    if X.dtype == np.bool_:
        X = X.astype(np.uint8)
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise NetworkError(f"{who}: features must be real numbers, got dtype {X.dtype}")
    if np.issubdtype(X.dtype, np.floating) and not np.isfinite(X).all():
        rows = np.nonzero((~np.isfinite(X)).any(axis=1))[0]
        what = "NaN" if np.isnan(X[rows[0]]).any() else "an infinite value"
        raise NetworkError(f"{who}: {rows.size} sample(s) contain NaN or infinite values (first: row "
                           f"{rows[0]}, {what}); features must be finite numbers, as for fit")
    return X


def not_2d(name: str, shape, n_features: int | None = None) -> str:
    """The one message for ``name`` (features) of fewer than 2 dimensions where rows of samples go, said
    alike by predict, verify, fit, the encoder and the data loaders. A 1-D array is one sample or samples
    of one feature, and no call guesses which (a guess of one sample mislabels a column of one-feature
    samples): it says how to give either, and the features per sample the model takes where one is known."""
    said = f"{name} must be 2-D (n_samples, n_features), got shape {tuple(shape)}"
    if len(shape) == 1:
        said += (f": one sample is {name}.reshape(1, -1) (or {name}[None]), samples of one feature "
                 f"{name}.reshape(-1, 1)")
    if n_features is not None:
        said += f"; the model takes {n_features:,} feature{'s' if n_features != 1 else ''} per sample"
    return said


def _integer_cuts(thresholds: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Float thresholds as integer ones of ``dtype`` for integer features: ``x >= t`` iff ``x >= ceil(t)``.
    Returns the cuts (clamped into the dtype's range; ``-inf`` and anything below it pass every value) and
    where nothing of the dtype reaches the threshold (``ceil(t)`` above its largest value, ``+inf``)."""
    info = np.iinfo(dtype)
    c = np.ceil(thresholds)
    never = c >= float(info.max) + 1  # 2**63 / 2**64 / 256 ... are exact floats; every smaller ceil fits
    cuts = np.where(never, 0.0, np.maximum(c, float(info.min))).astype(dtype)
    return cuts, never


class NetworkError(ValueError):
    """A network (or a part of one) breaks the IR's rules; the message says where."""


def feature_array(X: Any) -> np.ndarray:
    """``np.asarray(X)``, except for a pandas frame of nullable columns (``Float64``, ``Int64``,
    ``boolean``), which numpy would turn into objects: those become float64 with NaN for a missing
    value, so the checks for NaN name it. Other frames (numpy columns) convert as numpy does; an object
    array of plain numbers (a frame mixing bool and float columns) as numpy reads them from lists. A
    sparse matrix is refused by name."""
    dtypes = getattr(X, "dtypes", None)
    if (getattr(X, "ndim", None) == 2 and hasattr(X, "to_numpy") and not isinstance(X, np.ndarray)  # a frame
            and not all(isinstance(dt, np.dtype) for dt in dtypes)  # some pandas extension column
            and all(getattr(dt, "kind", "O") in "biuf" for dt in dtypes)):  # and every one a number
        return X.to_numpy(dtype=np.float64, na_value=np.nan)
    if hasattr(X, "tocsr") and hasattr(X, "nnz"):  # scipy.sparse: np.asarray would wrap it as a 0-D object
        raise NetworkError(f"X is a sparse {type(X).__name__} of shape {X.shape}; the encoder needs a dense array "
                           f"(X.toarray())")
    array = np.asarray(X)
    if array.dtype == object and array.size:  # numbers of mixed kinds (a frame with bool and float columns)
        try:
            inferred = np.array(array.tolist())  # as numpy reads the same numbers from lists: bool+float -> float
        except (TypeError, ValueError):  # ragged
            return array
        if inferred.dtype.kind in "biuf" and inferred.shape == array.shape:
            return inferred
    return array


def require_network(network: Any, who: str, *, path_ok: bool = False) -> TernaryNetwork:
    """``network`` if it is a :class:`TernaryNetwork`, else a TypeError naming ``who`` and what to pass: a
    path or a fitted estimator given in its place would fail deep inside (``'str' object has no attribute
    'n_inputs'``). ``path_ok``: ``who`` takes a model file's path too (``modelfile.as_network``), and says so."""
    if isinstance(network, TernaryNetwork):
        return network
    if path_ok:
        raise TypeError(f"{who} needs a TernaryNetwork (a fitted CoNNTrA's network_) or a model file's path, "
                        f"got {type(network).__name__}")
    raise TypeError(f"{who} needs a TernaryNetwork (a fitted CoNNTrA's network_, or connttra_neuro.load(path)), "
                    f"got {type(network).__name__}")


def _arrays_equal(self, other) -> bool:
    """``==`` for the IR's parts: every array field equal (the generated ``__eq__`` compares arrays with
    ``==``, whose element-wise result has no truth value)."""
    if type(other) is not type(self):
        return NotImplemented
    pairs = [(getattr(self, f.name), getattr(other, f.name)) for f in dataclasses.fields(self)]
    return all(a.shape == b.shape and np.array_equal(a, b) for a, b in pairs)


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True, order="C")
    array.setflags(write=False)
    return array


def _as_int_array(value: Any, dtype, where: str, what: str, ndim: int) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim != ndim:
        raise NetworkError(f"{where}: {what} must be {ndim}-D, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if (
            not np.issubdtype(array.dtype, np.floating)
            or not np.all(np.isfinite(array))
            or np.any(array != np.round(array))
        ):
            raise NetworkError(f"{where}: {what} must be integers, got dtype {array.dtype}")
    info = np.iinfo(dtype)
    if array.size and (array.min() < info.min or array.max() > info.max):
        raise NetworkError(
            f"{where}: {what} out of {np.dtype(dtype).name} range "
            f"[{info.min}, {info.max}]: min {array.min()}, max {array.max()}"
        )
    return _frozen(array.astype(dtype))


def check_input_shape(shape, n_features: int) -> tuple[int, ...]:
    """One sample's shape before it was flattened (``(28, 28)``, ``(32, 32, 3)``) as a tuple of positive
    ints whose product is ``n_features``; ``()`` (or None) for none. ValueError naming what is wrong."""
    if shape is None:
        return ()
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise ValueError(f"input_shape must be a tuple of integers (one sample's shape, e.g. (28, 28)), got "
                         f"{shape!r}") from None
    if dims and (min(dims) < 1 or math.prod(dims) != n_features):
        raise ValueError(f"input_shape {dims} does not hold {n_features} features per sample (its product must be "
                         f"the feature count)")
    return dims


def _all_of_kind(values, kind: type) -> bool:
    """Every value a ``kind`` (bool is no int here: a list mixing True and 2 is no list of labels)."""
    return all(isinstance(v, kind) and (kind is bool or not isinstance(v, bool)) for v in values)


def _per_output_problem(values, n_classes: int, noun: str, kind_problem) -> str | None:
    """What is wrong with a per-output metadata entry (``classes``, ``class_names``), or None: it must be a
    list of one distinct value per output; ``kind_problem(values)`` says what is wrong with their kinds
    (checked before distinctness: set() needs hashable values)."""
    if not isinstance(values, (list, tuple)):
        return f"is not a list (it is {type(values).__name__})"
    if len(values) != n_classes:
        return f"has {len(values)} {noun}s for the model's {n_classes} outputs"
    why = kind_problem(values)
    if why is None and len(set(values)) != len(values):
        why = f"repeats {noun} {next(v for v in values if values.count(v) > 1)!r}"
    return why


def _per_output_error(key: str, values, why: str, what: str) -> NetworkError:
    listed = isinstance(values, (list, tuple))
    shown = (f"{list(values[:10])!r}"[:-1] + ", ...]") if listed and len(values) > 10 else repr(
        list(values) if listed else values)
    return NetworkError(f"the model's metadata {key} {shown} {why}; it must be one distinct {what} per output, in "
                        f"output order{'' if key == 'class_names' else ' (integers or text, as fit records them)'}: "
                        f"correct it or remove it (network.replace(metadata=...), then save)")


def _label_kind_problem(classes) -> str | None:
    if not any(_all_of_kind(classes, kind) for kind in (int, str, bool)):
        return "is not all integers or all text"
    if _all_of_kind(classes, int) and not all(-(2**63) <= c < 2**63 for c in classes):
        return "holds an integer beyond int64"
    return None


def check_classes(classes, n_classes: int) -> list | None:
    """Metadata ``classes`` (the label each output stands for, in output order: what fit records) as a list,
    or None when the model records none. It must be one distinct label per output, all integers (int64),
    all text, or all bool (fit's labels of a bool ``y``); else a NetworkError naming the entry. A model
    file that misstates its labels would mislabel every prediction and miscount every error, unsaid."""
    if classes is None:
        return None
    why = _per_output_problem(classes, n_classes, "label", _label_kind_problem)
    if why is not None:
        raise _per_output_error("classes", classes, why, "label")
    return list(classes)


def check_class_names(names, n_classes: int) -> list[str] | None:
    """Metadata ``class_names`` (the name of each output, what train records for an image folder) as a list,
    or None when the model records none. It must be one distinct string per output; else a NetworkError
    naming the entry. ``save`` refuses to write a malformed one, as it refuses a malformed ``classes``;
    readers ignore one already in a file (:func:`connttra_neuro.inference.output_names`)."""
    if names is None:
        return None
    why = _per_output_problem(names, n_classes, "name",
                              lambda v: None if _all_of_kind(v, str) else "is not all text")
    if why is not None:
        raise _per_output_error("class_names", names, why, "name")
    return list(names)


def check_discrete_set(values: Sequence[int]) -> tuple[int, ...]:
    """Validate a discrete weight set and return it as a sorted tuple of ints."""
    if isinstance(values, (str, bytes)):  # "012" would read as (0, 1, 2)
        raise NetworkError(f"discrete set must be a sequence of integers such as (-1, 0, 1), got {values!r}")
    try:
        items = [int(v) for v in values]
    except (TypeError, ValueError) as err:
        raise NetworkError(f"discrete set must be integers, got {values!r}") from err
    if any(float(v) != float(o) for v, o in zip(items, values, strict=True)):
        raise NetworkError(f"discrete set must be integers, got {values!r}")
    if len(items) < 2:
        raise NetworkError(f"discrete set needs at least two values, got {items}")
    if len(set(items)) != len(items):
        raise NetworkError(f"discrete set has repeated values: {items}")
    info = np.iinfo(WEIGHT_DTYPE)
    if min(items) < info.min or max(items) > info.max:
        raise NetworkError(f"discrete set must fit in int8 [{info.min}, {info.max}], got {items}")
    return tuple(sorted(items))


@dataclass(frozen=True, eq=False)  # __eq__ below; eq=True would replace __hash__ = None by a hash of arrays
class ThermometerEncoder:
    """Thermometer code: feature ``f`` gives ``K`` input spikes ``x_f >= t[f, k]``.

    Parameters
    ----------
    thresholds : ndarray of float64, shape (n_features, K)
        Non-decreasing along ``K`` for each feature. ``+inf`` is a level that
        never fires (used when a feature has fewer distinct values than ``K``).
    """

    thresholds: np.ndarray

    def __post_init__(self):
        t = np.asarray(self.thresholds, dtype=np.float64)
        if t.ndim != 2 or t.shape[0] < 1 or t.shape[1] < 1:
            raise NetworkError(f"encoder: thresholds must have shape (n_features, K>=1), got {t.shape}")
        if np.isnan(t).any():
            raise NetworkError("encoder: thresholds contain NaN")
        falling = np.any(t[:, 1:] < t[:, :-1], axis=1)  # not np.diff: inf - inf is NaN
        if falling.any():
            bad = int(np.nonzero(falling)[0][0])
            raise NetworkError(f"encoder: thresholds of feature {bad} are not increasing: {t[bad].tolist()}")
        object.__setattr__(self, "thresholds", _frozen(t))

    __eq__ = _arrays_equal
    __hash__ = None

    def __reduce__(self):  # through the constructor: the copy is checked and read-only like the original
        return type(self), (self.thresholds,)

    @property
    def n_features(self) -> int:
        return int(self.thresholds.shape[0])

    @property
    def levels(self) -> int:
        return int(self.thresholds.shape[1])

    @property
    def n_outputs(self) -> int:
        """Number of input spikes (``n_features * levels``)."""
        return self.n_features * self.levels

    def encode(self, X: np.ndarray) -> np.ndarray:
        """Encode raw features ``X`` (n_samples, n_features) as uint8 spikes (n_samples, F*K): spike
        ``f*K + k`` is ``x_f >= thresholds[f, k]``, exactly (integer features are compared as integers,
        float ones in float64). Features must be finite, as for :meth:`fit`; one sample is ``X[None]``."""
        X = feature_array(X)
        if X.ndim < 2:  # one sample or samples of one feature: refused as predict and fit refuse it
            raise NetworkError(f"encoder: {not_2d('X', X.shape, self.n_features)}")
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise NetworkError(f"encoder: expected samples of shape (n, {self.n_features}), got {np.shape(X)}"
                               + self.spikes_given(X))
        X = real_features(X, "encoder")
        n = X.shape[0]
        out = np.empty((n, self.n_outputs), np.uint8)
        if np.issubdtype(X.dtype, np.integer):
            # compared as integers: x >= t iff x >= ceil(t). Exact for every int64 and uint64, which float64
            # is not above 2**53 (2**53 + 3 >= 2**53 + 4 came out true), and no float copy of the data
            cuts, never = _integer_cuts(self.thresholds, X.dtype)
        else:
            # float16/32/64 convert to float64 exactly
            cuts, never = self.thresholds, None
        # row blocks: no float64 copy of the whole input (376 MB for 60,000 MNIST images in
        # float32) and no (n, F, K) boolean temporary
        step = max(1, _ENCODE_BLOCK // max(1, self.n_outputs))
        for a in range(0, n, step):
            block = X[a:a + step]
            if never is None:
                block = block.astype(np.float64, copy=False)
            fires = block[:, :, None] >= cuts[None, :, :]
            if never is not None:
                fires &= ~never[None, :, :]
            out[a:a + step] = fires.reshape(block.shape[0], -1)
        return out

    def spikes_given(self, X: np.ndarray) -> str:
        """A hint for the error when ``X`` has as many columns as the encoder has outputs (and not as many as it
        has features): the input spikes ``encode`` made, given again where raw features go; else ``""``."""
        if np.ndim(X) == 2 and np.shape(X)[1] == self.n_outputs != self.n_features:
            return (f" ({self.n_outputs} columns: the input spikes network.encode(X) makes; give the raw features, "
                    f"which the network encodes itself)")
        return ""

    @classmethod
    def fit(cls, X: np.ndarray, levels: int = 1) -> ThermometerEncoder:
        """Fit ``levels`` thresholds per feature from the training data.

        Threshold ``k`` sits near the ``k/(levels+1)`` quantile of the feature
        (``levels=1``: the median), snapped to the midpoint between two
        neighbouring distinct training values. Snapping keeps every level
        meaningful: two distinct thresholds always split the training data
        differently. Levels left over (a feature with few distinct values) are
        ``+inf``: they never fire. A constant feature gets only ``+inf``.
        """
        X = feature_array(X)
        if not np.issubdtype(X.dtype, np.floating):
            X = X.astype(np.float64)
        if X.ndim < 2:
            raise NetworkError(f"encoder: fit: {not_2d('X', X.shape)}")
        if X.ndim != 2 or X.shape[0] < 1:
            raise NetworkError(f"encoder: fit needs a 2-D array of samples, got shape {X.shape}")
        if isinstance(levels, bool) or int(levels) != levels or levels < 1:
            raise NetworkError(f"encoder: levels must be a positive integer, got {levels!r}")
        if not np.all(np.isfinite(X)):
            raise NetworkError("encoder: fit data contain NaN or infinite values")
        levels = int(levels)
        qs = np.arange(1, levels + 1) / (levels + 1)
        t = np.full((X.shape[1], levels), np.inf)
        for f in range(X.shape[1]):  # one float64 column at a time (exact), not a copy of X
            column = X[:, f].astype(np.float64)
            values = np.unique(column)
            if values.size < 2:
                continue
            with np.errstate(over="ignore"):
                cuts = (values[:-1] + values[1:]) / 2.0
            big = ~np.isfinite(cuts)  # the sum overflowed (values near float64's maximum): halve first there;
            cuts[big] = values[:-1][big] / 2.0 + values[1:][big] / 2.0  # elsewhere unchanged, to the last bit
            at = np.clip(np.searchsorted(cuts, np.quantile(column, qs)), 0, cuts.size - 1)
            chosen = np.unique(cuts[at])
            t[f, : chosen.size] = chosen
        return cls(t)


@dataclass(frozen=True, eq=False)  # __eq__ below; eq=True would replace __hash__ = None by a hash of arrays
class HiddenLayer:
    """``s_out = 1 if weights @ s_in >= thresholds else 0``.

    ``weights``: int8 (n_out, n_in), values in the discrete set;
    ``thresholds``: int32 (n_out,).
    """

    weights: np.ndarray = field(metadata={"packed": True})
    thresholds: np.ndarray = field(metadata={})

    def __post_init__(self):
        object.__setattr__(self, "weights", _as_int_array(self.weights, WEIGHT_DTYPE, "hidden layer", "weights", 2))
        object.__setattr__(
            self, "thresholds", _as_int_array(self.thresholds, PARAM_DTYPE, "hidden layer", "thresholds", 1)
        )
        if self.thresholds.shape[0] != self.weights.shape[0]:
            raise NetworkError(
                f"hidden layer: {self.weights.shape[0]} neurons but {self.thresholds.shape[0]} thresholds"
            )

    __eq__ = _arrays_equal
    __hash__ = None

    def __reduce__(self):
        return type(self), (self.weights, self.thresholds)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.weights.shape)


@dataclass(frozen=True, eq=False)  # __eq__ below; eq=True would replace __hash__ = None by a hash of arrays
class OutputLayer:
    """``scores = weights @ s_in + biases``; predicted class = argmax, ties to lowest index."""

    weights: np.ndarray = field(metadata={"packed": True})
    biases: np.ndarray = field(metadata={})

    def __post_init__(self):
        object.__setattr__(self, "weights", _as_int_array(self.weights, WEIGHT_DTYPE, "output layer", "weights", 2))
        object.__setattr__(self, "biases", _as_int_array(self.biases, PARAM_DTYPE, "output layer", "biases", 1))
        if self.biases.shape[0] != self.weights.shape[0]:
            raise NetworkError(f"output layer: {self.weights.shape[0]} classes but {self.biases.shape[0]} biases")

    __eq__ = _arrays_equal
    __hash__ = None

    def __reduce__(self):
        return type(self), (self.weights, self.biases)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.weights.shape)


def _freeze_metadata(value: Any, where: str = "metadata") -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _freeze_metadata(v, f"{where}[{str(k)!r}]") for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze_metadata(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, np.generic):
        return _freeze_metadata(value.item(), where)
    if isinstance(value, np.ndarray):
        return tuple(_freeze_metadata(v, f"{where}[{i}]") for i, v in enumerate(value.tolist()))
    if isinstance(value, float) and not math.isfinite(value):  # JSON has none: the model could not be saved
        raise NetworkError(f"{where} is {value}; metadata numbers must be finite (JSON has no NaN or infinity)")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise NetworkError(
        f"metadata values must be JSON-like (dict, list, str, number, bool, None), got {type(value).__name__} "
        f"at {where}"
    )


def thaw_metadata(value: Any) -> Any:
    """Metadata as plain ``dict``/``list`` (for JSON)."""
    if isinstance(value, Mapping):
        return {k: thaw_metadata(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw_metadata(v) for v in value]
    return value


@dataclass(frozen=True, eq=False)  # __eq__ below; eq=True would replace __hash__ = None by a hash of arrays
class TernaryNetwork:
    """A trained discrete feed-forward network (the IR).

    Parameters
    ----------
    encoder : ThermometerEncoder
    hidden : sequence of HiddenLayer
        May be empty (a single weight layer straight from the encoder to the output).
    output : OutputLayer
    discrete_set : sequence of int
        Allowed weight values, default ternary ``(-1, 0, 1)``.
    metadata : mapping
        JSON-like facts: dataset, training settings, seed, metrics. ``classes``: the label each output
        stands for (``predict`` returns them, ``verify`` maps ``y`` through them); ``class_names``: names.

    Examples
    --------
    Weights trained elsewhere: every layer's ``weights`` is ``(n_out, n_in)``, as a PyTorch
    ``Linear.weight``, integers in the discrete set (float arrays of whole numbers are taken). A hidden
    neuron fires at ``W @ s >= T``: a strict ``W @ s > theta`` is ``T = floor(theta) + 1``. Inputs that
    are spikes already take one encoder level at 0.5 per input.

    >>> import numpy as np
    >>> from connttra_neuro import HiddenLayer, OutputLayer, TernaryNetwork, ThermometerEncoder
    >>> W1 = np.array([[1, -1, 0], [0, 1, 1]])          # 2 hidden neurons, 3 inputs
    >>> W2 = np.array([[1, -1], [-1, 1]])               # 2 classes
    >>> net = TernaryNetwork(ThermometerEncoder(np.full((3, 1), 0.5)), [HiddenLayer(W1, [1, 2])],
    ...                      OutputLayer(W2, [0, 0]), metadata={"classes": [3, 7]})
    >>> net
    TernaryNetwork(3-2-2, discrete_set=[-1, 0, 1], levels=1)
    >>> from connttra_neuro import predict
    >>> predict(net, np.array([[1, 0, 0], [0, 1, 1]])).tolist()
    [3, 7]
    """

    encoder: ThermometerEncoder
    hidden: tuple[HiddenLayer, ...]
    output: OutputLayer
    discrete_set: tuple[int, ...] = TERNARY
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.encoder, ThermometerEncoder):
            raise NetworkError(f"encoder must be a ThermometerEncoder, got {type(self.encoder).__name__}")
        if isinstance(self.hidden, HiddenLayer):  # tuple() would say "'HiddenLayer' object is not iterable"
            raise NetworkError("hidden must be a sequence of HiddenLayer, got one HiddenLayer: give (layer,)")
        if not isinstance(self.hidden, Iterable):
            raise NetworkError(f"hidden must be a sequence of HiddenLayer (empty: no hidden layer), got "
                               f"{type(self.hidden).__name__}")
        hidden = tuple(self.hidden)
        for i, layer in enumerate(hidden):
            if not isinstance(layer, HiddenLayer):
                raise NetworkError(f"hidden layer {i}: expected HiddenLayer, got {type(layer).__name__}")
        if not isinstance(self.output, OutputLayer):
            raise NetworkError(f"output layer: expected OutputLayer, got {type(self.output).__name__}")
        object.__setattr__(self, "hidden", hidden)
        dset = check_discrete_set(self.discrete_set)
        object.__setattr__(self, "discrete_set", dset)
        if self.metadata is None:
            object.__setattr__(self, "metadata", {})
        if not isinstance(self.metadata, Mapping):
            raise NetworkError(f"metadata must be a mapping (a dict of JSON-like facts), got "
                               f"{type(self.metadata).__name__}")
        object.__setattr__(self, "metadata", _freeze_metadata(dict(self.metadata)))

        n_in = self.encoder.n_outputs
        for name, layer in self.named_layers():
            rows, cols = layer.weights.shape
            if cols != n_in:
                raise NetworkError(f"{name}: weights have {cols} inputs but the previous layer has {n_in} outputs")
            if rows < 1:
                raise NetworkError(f"{name}: has no neurons")
            outside = ~np.isin(layer.weights, dset)
            if outside.any():
                r, c = np.argwhere(outside)[0]
                bad = np.unique(layer.weights[outside]).tolist()
                raise NetworkError(
                    f"{name}: {int(outside.sum())} weight(s) outside the discrete set {list(dset)}: "
                    f"values {bad}, first at [{r}, {c}]"
                )
            n_in = rows

    # -- views ---------------------------------------------------------------
    def named_layers(self):
        """``(name, layer)`` for every weight layer, input to output."""
        for i, layer in enumerate(self.hidden):
            yield f"hidden layer {i}", layer
        yield "output layer", self.output

    @property
    def layers(self) -> tuple:
        return (*self.hidden, self.output)

    @property
    def n_inputs(self) -> int:
        """Input spikes per sample (after encoding)."""
        return self.encoder.n_outputs

    @property
    def n_features(self) -> int:
        return self.encoder.n_features

    @property
    def n_classes(self) -> int:
        return int(self.output.weights.shape[0])

    @property
    def n_weight_layers(self) -> int:
        """``L``: a sample injected at step ``t`` gives its scores at step ``t + L``."""
        return len(self.hidden) + 1

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Neurons per layer, input spikes first, classes last."""
        return (self.n_inputs, *(h.weights.shape[0] for h in self.hidden), self.n_classes)

    @property
    def n_weights(self) -> int:
        return int(sum(layer.weights.size for layer in self.layers))

    @property
    def sparsity(self) -> float:
        """Fraction of weights that are exactly zero."""
        zeros = sum(int(np.count_nonzero(layer.weights == 0)) for layer in self.layers)
        return zeros / self.n_weights

    def replace(self, **changes) -> TernaryNetwork:
        """A copy with some fields replaced (validated again)."""
        return dataclasses.replace(self, **changes)

    def encode(self, X: np.ndarray) -> np.ndarray:
        """The input spikes of raw features ``X`` (n_samples, n_features): uint8 (n_samples, n_inputs),
        what a target's ``run`` / ``deploy`` takes; see :meth:`ThermometerEncoder.encode`."""
        return self.encoder.encode(X)

    def __eq__(self, other) -> bool:  # arrays make the generated __eq__ ambiguous
        if not isinstance(other, TernaryNetwork):
            return NotImplemented
        if self.discrete_set != other.discrete_set or len(self.hidden) != len(other.hidden):
            return False
        if thaw_metadata(self.metadata) != thaw_metadata(other.metadata):
            return False
        return self.encoder == other.encoder and all(a == b for a, b in zip(self.layers, other.layers, strict=True))

    __hash__ = None

    def __reduce__(self):  # pickle / deepcopy: the frozen metadata (read-only mappings) as plain data
        return type(self), (self.encoder, self.hidden, self.output, self.discrete_set, thaw_metadata(self.metadata))

    def __repr__(self) -> str:
        sizes = "-".join(str(s) for s in self.layer_sizes)
        return f"TernaryNetwork({sizes}, discrete_set={list(self.discrete_set)}, levels={self.encoder.levels})"


def random_network(
    layer_sizes: Sequence[int],
    *,
    levels: int = 1,
    discrete_set: Sequence[int] = TERNARY,
    seed: int | None = 0,
    density: float | None = None,
) -> TernaryNetwork:
    """A random valid network, for tests, demos and benchmarks.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_features, hidden..., n_classes)``; the encoder turns the
        ``n_features`` raw features into ``n_features * levels`` input spikes.
    levels : int
        Thermometer levels per feature; thresholds are spread over [0, 1].
    discrete_set : sequence of int
    seed : int or None
    density : float, optional
        Probability that a weight is non-zero (if 0 is in the set); default:
        uniform over the set.
    """
    rng = np.random.default_rng(seed)
    dset = np.array(check_discrete_set(discrete_set))
    if len(layer_sizes) < 2:
        raise NetworkError("layer_sizes needs at least (n_features, n_classes)")
    if any(isinstance(n, bool) or not isinstance(n, numbers.Real) or int(n) != n or n < 1 for n in layer_sizes):
        raise NetworkError(f"layer_sizes must be positive integers, got {tuple(layer_sizes)}")
    if isinstance(levels, bool) or not isinstance(levels, numbers.Real) or int(levels) != levels or levels < 1:
        raise NetworkError(f"levels must be a positive integer, got {levels!r}")
    if density is not None and (not isinstance(density, numbers.Real) or not 0 <= density <= 1):
        raise NetworkError(f"density is a probability in [0, 1], got {density!r}")
    n_features = int(layer_sizes[0])
    thresholds = np.tile((np.arange(1, levels + 1) / (levels + 1))[None, :], (n_features, 1))
    encoder = ThermometerEncoder(thresholds)

    def weights(rows, cols):
        if density is not None and 0 in dset:
            nonzero = dset[dset != 0]
            w = rng.choice(nonzero, size=(rows, cols))
            return np.where(rng.random((rows, cols)) < density, w, 0)
        return rng.choice(dset, size=(rows, cols))

    n_in = n_features * levels
    hidden = []
    for n_out in layer_sizes[1:-1]:
        w = weights(int(n_out), n_in)
        # thresholds around the expected drive so spikes are neither all on nor all off
        drive = np.abs(w).sum(axis=1) * dset.max() / 2
        t = np.round(rng.uniform(-0.25, 0.5, size=int(n_out)) * np.maximum(drive, 1)).astype(int)
        hidden.append(HiddenLayer(w, t))
        n_in = int(n_out)
    n_classes = int(layer_sizes[-1])
    output = OutputLayer(weights(n_classes, n_in), rng.integers(-2, 3, size=n_classes))
    return TernaryNetwork(
        encoder, tuple(hidden), output, tuple(dset.tolist()), {"source": "random_network", "seed": seed}
    )
