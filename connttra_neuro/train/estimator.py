"""The CoNNTrA estimator (scikit-learn style: ``__init__`` stores, ``fit`` returns self)."""

from __future__ import annotations

import functools
import inspect
import numbers
import time
import warnings
from collections.abc import Mapping

import numpy as np

from connttra_neuro.modelfile import as_network
from connttra_neuro.network import TernaryNetwork, ThermometerEncoder, check_discrete_set, check_input_shape  # noqa: F401

from . import losses
from .driver import (
    TrainState,
    check_Xy,
    initial_network,
    label_array,
    network_forward,
    sweep_rng,
    validation_indices,
    warm_up_kernels,
)
from .losses import SettingError, resolve_loss

__all__ = ["CoNNTrA", "ConvergenceWarning", "default_jitter"]


class ConvergenceWarning(UserWarning):
    """The sweep or time budget ended before a sweep left every parameter unchanged."""


def default_jitter(n_input_spikes: int) -> float:
    """The drive jitter used when none is given: ``min(2, sqrt(n) / 8)`` for ``n`` input spikes."""
    return min(2.0, float(np.sqrt(n_input_spikes)) / 8)


class CoNNTrA:
    """Coordinate-descent training of a discrete-weight, step-activation network.

    Each sweep visits every parameter once (output weights, output biases, then
    each hidden layer from the last to the first: a neuron's incoming weights,
    then its threshold) and sets it to the allowed value that lowers the training
    loss most, leaving it when none does. Training stops when a sweep changes
    nothing (converged), when the relative loss drop of a sweep is at most ``tol``,
    or when ``max_sweeps`` / ``max_seconds`` run out (with a ``ConvergenceWarning`` if the errors were
    still falling then, or in exact mode if the last sweep still changed parameters).

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer widths (at least one layer). One layer trains best: each further layer makes a
        sweep about ten times dearer and the network underfits from a random start; start several
        layers with :func:`connttra_neuro.train.layerwise_init` (docs/training.md, "Known limits").
    levels : int
        Thermometer levels per feature of the encoder fitted on the training data.
    discrete_set : sequence of int
        Allowed weight values, default ternary ``(-1, 0, 1)``.
    loss : {"hinge", "xent"}
        Training loss on integer scores (see ``connttra_neuro.train.losses``).
    margin : int, optional
        Hinge margin (default ``0.15 * last hidden width``, rounded, shrinking as
        ``sqrt(6000 / n_samples)`` above 6,000 training samples: see ``losses.default_margin``).
    temperature : float, optional
        Cross-entropy temperature (default ``max(1, sqrt(last hidden width) / 2)``).
    max_sweeps : int
        Sweep budget.
    max_seconds : float, optional
        Training-time budget on the history's clock (scoring, exporting the kept network and the
        callback are off it; checked between sweeps; makes the number of sweeps machine-dependent).
    tol : float
        Stop when a sweep lowers the training loss by at most ``tol`` (relative; 0: only when
        a sweep no longer lowers it).
    batch_size : int, optional
        Screen candidate moves on a random mini-batch of this many samples per
        sweep; every screened-in move is re-scored on all samples before it is
        accepted, so the loss still never rises. ``None``: screen on all samples.
    coordinate_order : {"gradient", "random"}
        Order in which a hidden neuron's incoming weights are visited. ``"gradient"``
        (coordinate gradient descent): by falling magnitude of an integer surrogate
        gradient computed from the exact per-sample toggle costs at the start of each
        layer's pass, so the weights the whole training set argues for move first;
        ``"random"``: a random permutation.
        Either way every accepted move is exact.
    surrogate_width : int, optional
        Half-width (in drive units) of the triangular surrogate derivative used by the
        gradient order; default ``max(1, round(sqrt(number of input spikes) / 4))``.
    joint_moves : bool
        Let a hidden weight move shift its neuron's threshold by one at the same time
        (``w += d`` with ``t += 1`` or ``t -= 1``), scored exactly like every move. Such a pair
        changes the drive relative to the threshold on the samples without that input too,
        which no single coordinate does. Sweeps cost 10-20% more and lower the training loss
        faster; in the benchmark the validation error reached its plateau sooner, not lower
        (docs/training.md), so it is off by default.
    jitter : float, optional
        Standard deviation of the integer noise (rounded Gaussian, ``driver.noise_table``)
        redrawn every sweep and added to every hidden pre-activation during training (a
        regulariser: moves cannot rely on samples sitting exactly at a threshold). Default
        ``min(2, sqrt(number of input spikes) / 8)`` (2 on MNIST-sized inputs; on iris 0.25 with
        one level, 0.5 with four; see docs/training.md). The reported training error is always the noise-free
        network's. ``0``: exact mode, the loss never rises from sweep to sweep.
    init_density : float
        Fraction of non-zero hidden weights at initialisation.
    keep_best : bool
        ``network_`` is the sweep with the lowest validation error (training
        error without validation data) rather than the last one; a network given as
        ``fit(init_network=...)`` (a trained start) counts as sweep 0 and is kept if no sweep beats it.
    random_state : int
        Seed of every random choice (initial weights, visiting orders, mini-batches).

    Attributes
    ----------
    network_ : TernaryNetwork
    history_ : list of dict
        Per sweep: ``sweep, loss, train_error, val_error, changed, seconds`` (cumulative training
        time; scoring the training and validation error, exporting the kept network and the callback
        are not counted, so the clock is comparable with the baselines', which keep theirs off too).
    n_sweeps_ : int
    converged_ : bool
    classes_ : ndarray
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When ``X`` was a frame whose column names are all strings; ``predict`` then refuses a frame with
        other columns or another order.
    """

    def __init__(self, hidden=(64,), levels=1, discrete_set=(-1, 0, 1), loss="hinge", margin=None,
                 temperature=None, max_sweeps=30, max_seconds=None, tol=1e-4, batch_size=None,
                 coordinate_order="gradient", surrogate_width=None, joint_moves=False, jitter=None,
                 init_density=0.5, keep_best=True, random_state=0):
        self.hidden = hidden
        self.levels = levels
        self.discrete_set = discrete_set
        self.loss = loss
        self.margin = margin
        self.temperature = temperature
        self.max_sweeps = max_sweeps
        self.max_seconds = max_seconds
        self.tol = tol
        self.batch_size = batch_size
        self.coordinate_order = coordinate_order
        self.surrogate_width = surrogate_width
        self.joint_moves = joint_moves
        self.jitter = jitter
        self.init_density = init_density
        self.keep_best = keep_best
        self.random_state = random_state

    # scikit-learn's protocol without importing scikit-learn (1.5 s) at every CLI start: clone,
    # GridSearchCV and cross_val_score (stratified folds: it is a classifier) work on it.
    _estimator_type = "classifier"

    def get_params(self, deep=True) -> dict:
        """The constructor's parameters, read from its signature (never a second list of names)."""
        names = [n for n in inspect.signature(type(self).__init__).parameters if n != "self"]
        return {k: getattr(self, k) for k in names}

    def set_params(self, **params) -> CoNNTrA:
        """Set constructor parameters (scikit-learn convention); an unknown name is an error."""
        known = self.get_params()
        for name, value in params.items():
            if name not in known:
                raise ValueError(f"CoNNTrA has no parameter {name!r}; parameters: {sorted(known)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        """``CoNNTrA(hidden=(8,), max_sweeps=3)``: the parameters set away from their defaults, as scikit-learn
        shows an estimator (in a notebook, a Pipeline or a GridSearchCV)."""
        defaults = {n: p.default for n, p in inspect.signature(type(self).__init__).parameters.items() if n != "self"}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if repr(v) != repr(defaults[k])]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, Tags, TargetTags  # only scikit-learn itself calls this

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags())

    def check_params(self) -> tuple[tuple[int, ...], np.ndarray, int]:
        """Check the settings that need no data; returns ``(hidden, discrete set, seed)``.

        ``fit`` calls it first; callers may call it earlier (the CLI does, before its progress bar).
        """
        widths = np.atleast_1d(np.asarray(self.hidden, dtype=object))
        bad = [h for h in widths.tolist() if isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1]
        if not widths.size or bad:
            which = f" ({bad[0]!r} is not)" if bad and widths.size > 1 else ""
            raise SettingError("hidden", f"hidden must list at least one positive integer layer width, got "
                                         f"{self.hidden!r}{which}")
        hidden = tuple(int(h) for h in widths.tolist())
        try:
            values = check_discrete_set(self.discrete_set)
        except ValueError as err:
            raise SettingError("discrete_set", str(err)) from None
        levels = self.levels
        if isinstance(levels, bool) or not isinstance(levels, numbers.Integral) or levels < 1:
            raise SettingError("levels", f"levels must be a positive integer (thermometer levels per feature), "
                                         f"got {levels!r}")
        resolve_loss(self.loss, self.margin, self.temperature, hidden[-1])  # the default margin needs no data
        sweeps = self.max_sweeps
        if (isinstance(sweeps, bool) or not isinstance(sweeps, numbers.Real) or not np.isfinite(sweeps)
                or int(sweeps) != sweeps or sweeps < 0):
            raise SettingError("max_sweeps", f"max_sweeps must be a non-negative integer, got {sweeps!r}")
        limit = self.max_seconds
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, numbers.Real)
                                  or not np.isfinite(limit) or limit <= 0):
            raise SettingError("max_seconds", f"max_seconds must be a positive number of seconds (or None: no time "
                                              f"limit), got {limit!r}")
        tol = self.tol
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not np.isfinite(tol) or tol < 0:
            raise SettingError("tol", f"tol must be a non-negative number (0: stop only when a sweep no longer "
                                      f"lowers the loss), got {tol!r}")
        if self.coordinate_order not in ("gradient", "random"):
            raise SettingError("coordinate_order", f"coordinate_order must be 'gradient' or 'random', got "
                                                   f"{self.coordinate_order!r}")
        width = self.surrogate_width
        if width is not None and (isinstance(width, bool) or not isinstance(width, numbers.Real)
                                  or not np.isfinite(width) or int(width) != width or width < 1):
            raise SettingError("surrogate_width", f"surrogate_width must be a positive integer, got {width!r}")
        for name in ("joint_moves", "keep_best"):  # a string such as "no" would count as True
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise SettingError(name, f"{name} must be True or False, got {getattr(self, name)!r}")
        jitter = self.jitter
        if jitter is not None and (isinstance(jitter, bool) or not isinstance(jitter, numbers.Real)
                                   or not np.isfinite(jitter) or jitter < 0):
            raise SettingError("jitter", f"jitter must be a non-negative number, got {jitter!r}")
        batch = self.batch_size
        if batch is not None and (isinstance(batch, bool) or not isinstance(batch, numbers.Integral) or batch < 1):
            raise SettingError("batch_size", f"batch_size must be a positive integer (or None: screen on all "
                                             f"samples), got {batch!r}")
        density = self.init_density
        if (isinstance(density, bool) or not isinstance(density, numbers.Real) or not np.isfinite(density)
                or not 0 < density <= 1):
            raise SettingError("init_density", f"init_density must be a fraction in (0, 1], got {density!r}")
        seed = self.random_state
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise SettingError("random_state", f"random_state must be a non-negative integer (every CoNNTrA run is "
                                               f"reproducible), got {seed!r}")
        return hidden, values, int(seed)

    # ------------------------------------------------------------------
    def fit(self, X, y, validation=None, *, dataset=None, class_names=None, input_shape=None, init_network=None,
            history=None, best_network=None, callback=None, progress=None):
        """Train on ``(X, y)``.

        Parameters
        ----------
        X : array (n_samples, n_features); y : array (n_samples,)
        validation : (X_val, y_val), optional
            Scored after every sweep (``history_``, ``keep_best``).
        dataset : str, optional
            Name recorded in the model metadata.
        class_names : sequence of str, optional
            The name of each class, indexed by label (``Dataset.class_names``; labels must then be
            integers 0..len-1). Recorded in the model metadata as ``class_names``, one per output,
            so ``evaluate`` can name the classes.
        input_shape : tuple of int, optional
            The shape of one sample before it was flattened (``Dataset.input_shape``: ``(28, 28)``,
            ``(64, 48, 3)``); its product must be the feature count. Recorded in the model metadata as
            ``input_shape``, so ``predict`` and ``read_images(like=model)`` refuse images of the same pixel
            count but another shape (48x64 against 64x48) instead of misreading them.
        init_network : TernaryNetwork or path, optional
            Resume from this network (or the model file at this path) (its encoder and parameters); ``history``
            (the earlier ``history_``) continues the sweep count, so a resumed run
            repeats the uninterrupted one. With ``history`` it must be that run's last sweep
            (``last_network()`` or the checkpoint, not ``network_``, an earlier sweep under ``keep_best``),
            and the estimator's settings that run's (only ``max_sweeps``, ``max_seconds``, ``tol`` and
            ``keep_best`` may change; its record in the network's metadata is compared); a history without
            it is refused. A hidden threshold beyond the drive's range ``[-fan_in * max|w|, fan_in * max|w| + 1]``
            starts at that range's edge (the same spikes; the threshold search spans exactly that range).
        best_network : TernaryNetwork or path, optional
            With ``history`` and ``keep_best``: the best network of the earlier sweeps
            (``network_`` when that run stopped). It stays ``network_`` unless a later sweep
            does at least as well, so the resumed run ends with the uninterrupted run's
            ``network_``. Without it, ``network_`` is the best of the sweeps from the resume on.
        callback : callable, optional
            ``callback(estimator, record, state_network)`` after every sweep; for
            progress bars and checkpoints. ``state_network()`` builds the current network.
        progress : callable, optional
            ``progress(sweep, layer, neurons_done, neurons)`` during a sweep's pass over a
            hidden layer that runs longer than half a second (a wide layer or a large training
            set), about every half second: for a progress bar inside long sweeps. Ctrl-C lands
            at those moments too (a numba kernel does not see it), leaving the network as the
            interrupted sweep's moves so far made it (``last_network()``).

        Returns
        -------
        self
        """
        # every check first: a refit that fails leaves the fitted estimator as it was (classes_ of the new
        # labels over the old network_ would relabel its predictions)
        names = _feature_names(X)  # before check_Xy makes the frame an array
        X, y = check_Xy(X, y)
        hidden, values, seed = self.check_params()
        # a model file's path is read, as predict and verify read one; anything else not a network: a TypeError
        init_network, best_network = (None if net is None else as_network(net, f"fit({name}=...)")
                                      for name, net in (("init_network", init_network), ("best_network", best_network)))
        _check_resume_arguments(init_network, history, best_network, callback, progress, hidden, values, self.levels)
        classes, y_idx = np.unique(y, return_inverse=True)
        C = classes.size
        if C < 2:
            raise ValueError(f"training data has {C} class; need at least 2")
        if C > 20 and C > y.size / 2:  # regression targets, say: every distinct value becomes an output
            warnings.warn(f"y has {C:,} distinct values among {y.size:,} samples; CoNNTrA is a classifier and "
                          f"makes each value a class (an output): were these meant as classes?", UserWarning,
                          stacklevel=2)
        output_names = _output_names(class_names, classes)
        shape = check_input_shape(input_shape, X.shape[1])
        Xv = yv_idx = None
        if validation is not None:
            if not isinstance(validation, (tuple, list)) or len(validation) != 2:
                raise ValueError("validation must be a pair (X_val, y_val)")
            _check_columns(_feature_names(validation[0]), names, "validation data", "the training data's")
            Xv, yv = check_Xy(*validation, where="validation data")
            if Xv.shape[1] != X.shape[1]:
                raise ValueError(f"validation data has {Xv.shape[1]} features, training data {X.shape[1]}")
            yv_idx = validation_indices(classes, yv, y.size)
        width, jitter = self.surrogate_width, self.jitter
        if init_network is not None:
            net0 = init_network
            if net0.n_features != X.shape[1] or net0.n_classes != C:
                raise ValueError(f"init_network has {net0.n_features} features / {net0.n_classes} classes, "
                                 f"data has {X.shape[1]} / {C}")
            spikes = net0.encode(X)
        else:
            encoder = ThermometerEncoder.fit(X, self.levels)
            dead = np.isinf(encoder.thresholds)  # levels with no cut point of their own: they never fire
            if dead.all():  # every feature constant: no input ever spikes, every sample looks the same
                warnings.warn(f"every one of the {X.shape[1]:,} features is constant over the training samples, "
                              f"so no input spike ever fires and the network can only learn the commonest class "
                              f"(images drawn in their alpha channel lose the drawing: alpha is dropped)",
                              UserWarning, stacklevel=2)
            elif self.levels > 1 and dead.mean() > 0.5:
                warnings.warn(f"levels={self.levels}: {int(dead.sum()):,} of {dead.size:,} input spikes never fire "
                              f"(the features have too few distinct values for so many levels); fewer levels "
                              f"waste less memory and time", UserWarning, stacklevel=2)
            spikes = encoder.encode(X)
            net0 = initial_network(encoder, spikes, hidden, C, values, float(self.init_density),
                                   sweep_rng(seed, -1))
        h_last = net0.hidden[-1].weights.shape[0] if net0.hidden else 0
        # The defaults below are in units of one weight step of the ternary set. A set with a common
        # factor ((-100, 0, 100)) is that set scaled: every drive and score scales with it, and so must
        # the margin, temperature, jitter and gradient window, or a margin of 2 against steps of 100
        # leaves the output layer at zero (90% error on digits). Sets without one (-2..2) are unchanged.
        unit = losses.weight_unit(values)
        margin_default = None if self.margin is not None else unit * losses.default_margin(h_last, y_idx.size)
        temperature_default = None if self.temperature is not None else unit * losses.default_temperature(h_last)
        kind, margin, inv_t = resolve_loss(self.loss, self.margin if self.margin is not None else margin_default,
                                           self.temperature if self.temperature is not None else temperature_default,
                                           h_last, y_idx.size)
        spikes_val = net0.encode(Xv).astype(np.float32) if Xv is not None else None  # scored every sweep
        if self.coordinate_order == "random":
            width = 0
        elif width is None:
            width = unit * max(1, round(np.sqrt(spikes.shape[1]) / 4))
        if jitter is None:
            jitter = unit * default_jitter(spikes.shape[1])
        fan_in = max((layer.weights.shape[1] for layer in net0.hidden), default=spikes.shape[1])
        reach = fan_in * int(np.abs(values).max())  # the widest drive range of any hidden neuron
        if jitter > reach:
            raise ValueError(f"jitter {jitter!r} is beyond the drive range of this network (+-{reach}: fan-in x "
                             f"max|w|); every spike would be noise")
        settings = {**{k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()},
                    "hidden": list(hidden), "margin": margin, "inv_temperature": inv_t,
                    "surrogate_width": int(width), "jitter": float(jitter)}
        if history and init_network is not None:
            _check_same_run(init_network.metadata.get("settings"), settings)
        state = TrainState.build(net0, spikes, y_idx, kind, margin, inv_t, int(width), float(jitter),
                                 bool(self.joint_moves))
        self.classes_, self.n_features_in_ = classes, X.shape[1]
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):  # from an earlier fit on a frame
            del self.feature_names_in_
        batch = None if self.batch_size is None else int(self.batch_size)

        def metadata(record):
            return {"source": "connttra", "dataset": dataset, "seed": seed,
                    "classes": _classes_metadata(self.classes_),
                    **({"class_names": output_names} if output_names is not None else {}),
                    **({"input_shape": list(shape)} if shape else {}),
                    "settings": dict(settings),
                    "metrics": {k: record[k] for k in ("sweep", "loss", "train_error", "val_error") if k in record}}

        def val_error():
            if spikes_val is None:
                return None
            return float(np.mean(np.argmax(state.scores(spikes_val), axis=1) != yv_idx))

        warm_up_kernels()  # numba's compile or cache load, off the clock
        self.history_ = list(history or [])
        start_sweep = len(self.history_)
        # The clock counts training only: scoring the errors, exporting the kept network and the
        # callback (checkpoints) are bookkeeping, kept off it, as the baselines keep theirs off.
        t0 = time.perf_counter() - (self.history_[-1]["seconds"] if self.history_ else 0.0)
        e0 = time.perf_counter()
        if not self.history_:
            self.history_.append({"sweep": 0, "loss": state.loss, "train_error": state.train_error,
                                  "val_error": val_error(), "changed": 0, "seconds": 0.0})
            if init_network is not None:  # a trained start (layerwise_init): keep_best may keep it
                self.history_[0]["given"] = True
            start_sweep = 1
        best_key = None
        self.network_ = state.network(net0, metadata(self.history_[-1]))
        if self.keep_best and start_sweep == 1 and self.history_[0].get("given"):
            best_key = _key(self.history_[0])
        if best_network is not None and self.keep_best and start_sweep > 1:
            best_key = min(_key(r) for r in _candidates(self.history_))
            self.network_ = best_network
        self.converged_ = False
        stop_reason = "max_sweeps"
        bookkeeping = time.perf_counter() - e0
        try:
            for sweep in range(start_sweep, int(self.max_sweeps) + 1):
                if self.max_seconds is not None and time.perf_counter() - t0 - bookkeeping >= self.max_seconds:
                    stop_reason = "max_seconds"
                    break
                inside = None if progress is None else functools.partial(progress, sweep)
                changed = state.sweep(sweep_rng(seed, sweep), batch, inside)
                before = state.start_loss  # after the sweep's jitter, before its moves
                e0 = time.perf_counter()
                record = {"sweep": sweep, "loss": state.loss, "train_error": state.train_error,
                          "val_error": val_error(), "changed": changed}
                record["seconds"] = e0 - t0 - bookkeeping
                self.history_.append(record)
                key = _key(record)
                if not self.keep_best or best_key is None or key <= best_key:
                    best_key = key
                    self.network_ = state.network(net0, metadata(record))
                if callback is not None:
                    callback(self, record, lambda r=record: state.network(net0, metadata(r)))
                bookkeeping += time.perf_counter() - e0
                if changed == 0 or before - state.loss <= self.tol * abs(before):
                    self.converged_ = True
                    break
        finally:  # also after Ctrl-C: built now, so the estimator holds no training state (caches of 10+ bytes
            # per sample and neuron, numba arrays that do not pickle)
            self.n_sweeps_ = len(self.history_) - 1
            self._last_network = state.network(net0, metadata(self.history_[-1]))
        if not self.converged_:
            message = _budget_warning(self.history_, stop_reason, state.jitter > 0)
            if message:
                warnings.warn(message, ConvergenceWarning, stacklevel=2)
        return self

    def last_network(self) -> TernaryNetwork:
        """The network after the last sweep (``network_`` may be an earlier, better one)."""
        self._check_fitted()
        return self._last_network

    # ------------------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "network_"):
            from sklearn.exceptions import NotFittedError  # a ValueError and an AttributeError too

            raise NotFittedError("this CoNNTrA is not fitted yet; call fit(X, y) first")

    def _scores(self, X) -> np.ndarray:
        self._check_fitted()
        _check_columns(_feature_names(X), getattr(self, "feature_names_in_", None), "X")
        from ..inference import check_features

        # predict's checks and words (a 1-D X, another feature count, encoded spikes given, NaN), not the
        # encoder's "expected samples of shape (n, 4), got (100, 3)"
        X = check_features(self.network_, X)
        return network_forward(self.network_, self.network_.encode(X))[2]

    def decision_function(self, X) -> np.ndarray:
        """Integer output scores ``z = W @ s + b``, (n_samples, n_classes); with two classes, as scikit-learn
        has it, one score per sample, ``z[:, 1] - z[:, 0]``: positive for ``classes_[1]`` (a tie, 0, is
        ``classes_[0]``, as ``predict`` breaks ties)."""
        z = self._scores(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict(self, X) -> np.ndarray:
        """Class labels: argmax of the scores, ties to the lowest index."""
        scores = self._scores(X)  # first: it says when the estimator is not fitted
        return self.classes_[np.argmax(scores, axis=1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy; with ``sample_weight`` (one non-negative weight per sample), weighted, as scikit-learn's
        ``score`` takes it."""
        predicted = self.predict(X)
        y = label_array(y)  # a label column too, as fit takes it
        if y.ndim != 1 or y.shape[0] != predicted.shape[0]:
            raise ValueError(f"score needs y of shape ({predicted.shape[0]},), one label per sample, got {y.shape}")
        kinds = {y.dtype.kind, self.classes_.dtype.kind}  # object arrays (mixed, pandas) are not judged
        if (kinds & set("iufb") and kinds & set("US")) or (y.dtype.kind == "f" and np.isnan(y).any()):
            # str labels against int classes (or NaN) match nothing: an accuracy of 0 that says nothing
            raise ValueError(f"score needs labels like the ones fit took ({self.classes_.dtype} classes such as "
                             f"{self.classes_[:3].tolist()}), got {y.dtype} values such as {y[:3].tolist()}")
        if sample_weight is None:
            return float(np.mean(predicted == y))
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.shape != y.shape or not np.all(np.isfinite(weights)) or np.any(weights < 0) or not weights.sum():
            raise ValueError(f"score needs sample_weight of shape {y.shape}, one finite non-negative weight per sample "
                             f"and not all 0, got shape {weights.shape}")
        return float(np.average(predicted == y, weights=weights))


def _feature_names(X) -> np.ndarray | None:
    """A frame's column names if every one is a string (scikit-learn's ``feature_names_in_`` rule), else None."""
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, np.ndarray):
        return None
    names = np.asarray(list(columns), dtype=object)
    return names if names.size and all(isinstance(n, str) for n in names) else None


def _check_columns(names, fitted, what: str, against: str = "the ones fit saw") -> None:
    """Refuse a frame whose string column names are not ``fitted``'s, in order (either without names: fine):
    the same count of columns in another order would be read silently as the fitted ones."""
    if names is None or fitted is None or np.array_equal(names, fitted):
        return
    differ = [f"{a!r} (fit: {b!r})" for a, b in zip(names, fitted, strict=False) if a != b][:3]
    raise ValueError(f"{what}'s columns are not {against}, in the same order: {len(names)} columns against "
                     f"{len(fitted)}" + (f"; first differences {', '.join(differ)}" if differ else ""))


def _key(record: dict) -> float:
    """What ``keep_best`` minimises: the validation error if there is one, else the training error."""
    return record["val_error"] if record["val_error"] is not None else record["train_error"]


def _candidates(history: list[dict]) -> list[dict]:
    """The sweeps ``keep_best`` chooses from: every sweep after 0, and sweep 0 itself when it was a
    network given to ``fit`` (``init_network`` without a history: a trained start, not a random one)."""
    return history if history[0].get("given") else history[1:]


BUDGET_ADVICE = "raise max_sweeps or max_seconds"


def _budget_warning(history: list[dict], stop_reason: str, jittered: bool) -> str | None:
    """What to say when the budget ended a run, or None. In exact mode a run that still changes
    parameters has not converged. With drive jitter (the default) parameters keep moving after the
    errors level off (each sweep's moves chase its noise draw), so a run rarely stands still and
    "not converged" says nothing: warn only when the errors were still falling, i.e. the best sweep's
    error (validation, else training) among the last ``max(3, n // 10)`` sweeps is below every
    earlier one's (or the run is too short to tell), and above 0. The advice names the estimator's
    parameters; the CLI rewrites it into its flags and the resume command (``BUDGET_ADVICE``)."""
    n = len(history) - 1
    sweeps = f"{n} sweep{'s' * (n != 1)}"
    if n == 0:  # max_sweeps=0, or max_seconds spent before sweep 1 (a resumed run's budget)
        if stop_reason == "max_sweeps" and history[0].get("given"):
            return None  # none asked for, on a trained start (layerwise_init's stack): it is the result
        return f"CoNNTrA stopped by {stop_reason} before its first sweep: nothing was trained"
    if not jittered:
        changed = history[-1]["changed"]
        return (f"CoNNTrA stopped by {stop_reason} after {sweeps} before converging (last sweep changed {changed} "
                f"parameter{'s' * (changed != 1)}); {BUDGET_ADVICE}")
    window = min(max(3, n // 10), n)  # a run shorter than 3 sweeps: too short to tell, unless its start is a reading
    # one error throughout: a resumed run may have been validated in one part and not the other
    what = "validation" if all(r["val_error"] is not None for r in history[1:]) else "training"
    # a given start (sweep 0 of a fit from init_network) is a reading to beat, as keep_best counts it
    keys = [r["val_error" if what == "validation" else "train_error"] for r in _candidates(history)]
    if len(keys) > window and min(keys[-window:]) >= min(keys[:-window]):
        return None  # levelled off before the budget ended (or never beat its given start): the budget did its job
    if min(keys[-window:]) == 0:
        return None  # at 0% it cannot fall further, whatever the trend before
    return (f"CoNNTrA stopped by {stop_reason} after {sweeps} with its {what} error still falling (its best in the "
            f"last {window} sweep{'s' * (window != 1)}); more sweeps may lower it: {BUDGET_ADVICE}")


HISTORY_KEYS = ("sweep", "loss", "train_error", "val_error", "changed", "seconds")


def _check_resume_arguments(init_network, history, best_network, callback, progress, hidden, values,
                            levels) -> None:
    """fit's resume arguments, checked before any work: a network of another shape, set or encoding
    would otherwise train under settings its metadata does not match, or come back as ``network_``."""
    def describe(net):
        return (f"{'-'.join(map(str, net.layer_sizes))}, levels {net.encoder.levels}, "
                f"discrete set {list(net.discrete_set)}")

    wanted = f"hidden {hidden}, levels {levels}, discrete set {list(values)}"
    for name, net in (("init_network", init_network), ("best_network", best_network)):
        if net is None:
            continue
        if (tuple(layer.weights.shape[0] for layer in net.hidden) != hidden or net.encoder.levels != levels
                or list(net.discrete_set) != list(values)):
            raise ValueError(f"{name} is {describe(net)}; the settings say {wanted}")
    if history is not None:
        if not isinstance(history, (list, tuple)) or not all(isinstance(r, dict) for r in history):
            raise TypeError(f"history must be a list of per-sweep records (an earlier fit's history_), got "
                            f"{type(history).__name__}")
        for i, record in enumerate(history):
            missing = [k for k in HISTORY_KEYS if k not in record]
            if missing or record["sweep"] != i:
                why = f"has no {', '.join(missing)}" if missing else f"is sweep {record['sweep']!r}, not {i}"
                raise ValueError(f"history record {i} {why} (an earlier fit's history_, from sweep 0 on)")
    if best_network is not None and not history:
        raise ValueError("best_network is the best of the earlier sweeps: give their history too")
    if history and len(history) > 1 and init_network is None:
        # its later sweeps would start from a new random network under the next sweep numbers
        raise ValueError(f"history continues a run (sweeps 0-{history[-1]['sweep']}): give that run's last "
                         f"network as init_network too (last_network(), or the checkpoint)")
    if history and init_network is not None:
        # the run goes on from its last sweep: network_ (keep_best's earlier sweep) would start it from
        # another network under the same sweep numbers, a run the uninterrupted one never was
        sweep = (init_network.metadata.get("metrics") or {}).get("sweep")
        if sweep is not None and sweep != history[-1]["sweep"]:
            raise ValueError(f"init_network is sweep {sweep} of its run, but the history ends at sweep "
                             f"{history[-1]['sweep']}: resume from the last sweep's network (last_network(), or "
                             f"the checkpoint) and give keep_best's network_ as best_network")
    for name, f in (("callback", callback), ("progress", progress)):
        if f is not None and not callable(f):
            raise TypeError(f"{name} must be callable, got {type(f).__name__}")


# What a continued run (fit with history) may change: what stops it or picks its result, which leave the sweeps
# it runs as they were (its budgets, tol, keep_best), and the temperature as given, whose effect is the recorded
# inv_temperature (the command line continues a run from before a change of the default with the temperature
# that run had).
RESUME_MAY_CHANGE = ("max_sweeps", "max_seconds", "tol", "keep_best", "temperature")


def _check_same_run(saved, now: dict) -> None:
    """A run continued with its ``history`` trains on under the settings it was started with, as resolved
    (the margin, jitter and gradient window the defaults gave): with other ones the sweeps after the resume
    are another run's under the same numbers, and the model's record would name settings it was not trained
    with. ``saved`` is the last network's record of them (none for a network made elsewhere: not checked)."""
    if not isinstance(saved, Mapping):  # a network's metadata is read-only: mapping proxies, not dicts
        return

    def plain(v):  # a model file gives back tuples where the record was made of lists
        return list(v) if isinstance(v, (list, tuple)) else v

    differ = [k for k in now if k in saved and k not in RESUME_MAY_CHANGE and plain(saved[k]) != plain(now[k])]
    if differ:
        raise ValueError(
            "history continues a run whose settings differ from this estimator's: "
            + "; ".join(f"{k} {saved[k]!r} in the run, {now[k]!r} here" for k in differ)
            + ". A continued run keeps its settings (only max_sweeps, max_seconds, tol and keep_best may change): "
              "set_params() to the run's, or leave out history to start a new run from init_network")


def best_sweep(history: list[dict]) -> int | None:
    """The sweep ``keep_best`` keeps from ``history`` (the last of equally good ones; the
    initial network, sweep 0, only if no sweep ran or it was a given start, see ``_candidates``)."""
    if len(history) < 2:
        return history[0]["sweep"] if history else None
    best = min(_key(r) for r in _candidates(history))
    return [r["sweep"] for r in _candidates(history) if _key(r) == best][-1]


def _classes_metadata(classes: np.ndarray) -> list:
    """The training labels as the model file records them (metadata ``classes``), so evaluate and
    verify map a dataset's labels to outputs: integers as ints, whole-valued floats too (labels
    read by pandas or from a float array are 0.0, 5.0, 9.0), anything else as strings."""
    if classes.dtype == object and all(isinstance(c, numbers.Real) for c in classes.tolist()):
        # numbers in an object array (a column of a mixed frame's .values, labels read from JSON): as the
        # numbers they are, not their text ('3', '7'), which predict would return and evaluate misread
        numeric = np.array(classes.tolist())
        if numeric.dtype.kind in "iubf":
            classes = numeric
    if classes.dtype.kind in "iub":
        return classes.tolist()
    if classes.dtype.kind == "f" and np.all(np.isfinite(classes)) and np.all(classes == np.rint(classes)) \
            and np.all(np.abs(classes) < 2**53):  # whole and exactly representable
        return [int(c) for c in classes]
    return [str(c) for c in classes]


def _output_names(class_names, classes: np.ndarray) -> list[str] | None:
    """``class_names`` (indexed by label) as one name per output (per entry of ``classes``)."""
    if class_names is None:
        return None
    if isinstance(class_names, str) or not all(isinstance(n, str) for n in class_names):
        raise ValueError("class_names must be a sequence of strings, one per label")
    names = list(class_names)
    if len(set(names)) != len(names):  # names that name nothing; save would refuse them after the training
        repeated = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"class_names must be distinct, one per label; {repeated!r} is repeated")
    if not (np.issubdtype(classes.dtype, np.integer) and classes.min() >= 0 and classes.max() < len(names)):
        raise ValueError(f"class_names has {len(names)} names; the labels must be integers 0..{len(names) - 1} to "
                         f"index them, got {classes.tolist()[:5]}")
    return [names[int(c)] for c in classes]
