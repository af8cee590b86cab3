"""The CoNNTrA driver: validates and prepares arrays, holds the cached state, runs sweeps.

The estimator (``estimator.py``) stores settings; this module turns data and a
network into the arrays the kernels (``_kernels.py``) update in place.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field

import numpy as np
from numba import typed

from connttra_neuro.network import (
    HiddenLayer,
    OutputLayer,
    TernaryNetwork,
    ThermometerEncoder,
    feature_array,
    not_2d,
)

from . import _kernels as K

__all__ = ["check_Xy", "initial_network", "TrainState", "network_forward", "noise_table", "output_gains",
           "sweep_rng"]


def check_Xy(X, y, where: str = "training data") -> tuple[np.ndarray, np.ndarray]:
    """Validate a feature matrix and its labels; returns ``(X 2-D, y 1-D)``: numbers as they are (no
    float64 copy of a large float32 image set; integers stay integers, which the encoder compares exactly,
    as the deployed network does, where float64 would round those beyond 2**53), bool as float32; a
    column of labels ``(n, 1)`` as ``(n,)``."""
    X = feature_array(X)
    y = label_array(y, where)
    if X.ndim < 2:
        raise ValueError(f"{where}: {not_2d('X', X.shape)}")
    if X.ndim != 2:
        raise ValueError(f"{where}: X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] < 1 or X.shape[1] < 1:
        what = "no samples" if X.shape[0] < 1 else "no features"
        raise ValueError(f"{where}: X has {what} (shape {X.shape}); need at least one sample with one feature")
    if X.dtype == bool:  # spikes or binary features: 0 / 1
        X = X.astype(np.float32)
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"{where}: X must be real numbers, got dtype {X.dtype}")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"{where}: y must be 1-D with {X.shape[0]} labels, got shape {y.shape}")
    if y.dtype == object:  # np.unique would raise a bare TypeError on labels that do not sort
        kinds = sorted({type(v).__name__ for v in y.tolist()})
        if len(kinds) > 1:
            raise ValueError(f"{where}: labels must be of one kind to be sorted, got a mix of {', '.join(kinds)}")
        try:
            np.unique(y[:2])
        except TypeError:
            raise ValueError(f"{where}: labels must be numbers or strings (they are sorted into classes), got "
                             f"{kinds[0]}") from None
    if y.dtype.kind == "c":  # the model would record them as text ('(1+0j)'), and predict return that
        raise ValueError(f"{where}: labels must be real numbers or strings, got complex values such as "
                         f"{y[:2].tolist()}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(f"{where}: y contains NaN or infinite labels")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{where}: X contains NaN or infinite values")
    return X, y


def validation_indices(classes: np.ndarray, yv: np.ndarray, n_train: int) -> np.ndarray:
    """Validation labels as indices into the training ``classes`` (sorted). A label the training data
    never holds is refused: ``searchsorted`` would quietly count it as a neighbouring class."""
    unknown = ~np.isin(yv, classes)
    if unknown.any():
        raise ValueError(f"validation labels {np.unique(yv[unknown]).tolist()[:5]} never occur in training "
                         f"({n_train} training samples of {classes.size} classes: a subsample too small to hold "
                         f"every class?)")
    return np.searchsorted(classes, yv)


def label_array(y, where: str = "y") -> np.ndarray:
    """``np.asarray(y)``, a one-column frame or array of labels (``df[["label"]]``) as ``(n,)``. A list
    mixing strings and numbers is refused: numpy would quietly make the numbers strings (1 -> '1')."""
    if isinstance(y, (list, tuple)) and any(isinstance(v, str) for v in y):
        numbers_too = [v for v in y if not isinstance(v, str)]
        if numbers_too:
            raise ValueError(f"{where}: labels mix strings and {type(numbers_too[0]).__name__} ({numbers_too[0]!r}); "
                             f"give labels of one kind")
    y = np.asarray(y)
    return y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y


def _exact_drive(s: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``s @ w.T`` of integer arrays through BLAS, exactly: every partial sum is an integer no
    larger than ``n * max|s| * max|w|``, which float32 holds exactly below 2**24 (float64: 2**53)."""
    def maxabs(x):
        return max(abs(int(x.max(initial=0))), abs(int(x.min(initial=0))))  # no |x| copy of a large array

    bound = s.shape[1] * maxabs(s) * maxabs(w)
    ftype = np.float32 if bound < 2**24 else np.float64
    return np.rint(s.astype(ftype, copy=False) @ w.T.astype(ftype)).astype(np.int64)


def network_forward(network: TernaryNetwork, spikes: np.ndarray):
    """``(pre-activations per hidden layer, spikes per hidden layer, scores)`` for encoded inputs."""
    return _forward([(layer.weights, layer.thresholds) for layer in network.hidden], network.output.weights,
                    network.output.biases, spikes)


def _forward(hidden, w_out, b, spikes):
    """``network_forward`` on plain arrays: ``hidden`` is ``[(weights (n_out, n_in), thresholds)]``."""
    A, S = [], []
    s = spikes
    for w, t in hidden:
        a = _exact_drive(s, w)
        s = (a >= t[None, :]).astype(np.uint8)
        A.append(a)
        S.append(s)
    return A, S, _exact_drive(s, w_out) + b[None, :]


def initial_network(encoder: ThermometerEncoder, spikes: np.ndarray, hidden, n_classes: int, values,
                    density: float, rng: np.random.Generator) -> TernaryNetwork:
    """Random sparse weights; thresholds at the median pre-activation (neurons fire about half
    the time on the training data); zero output weights and biases (the first output pass fits
    a linear read-out of the random features before any hidden weight moves)."""
    values = np.asarray(values)
    nonzero = values[values != 0]
    layers = []
    s = spikes
    for h in hidden:
        n_in = s.shape[1]
        w = rng.choice(nonzero, size=(h, n_in))
        if 0 in values:
            w = np.where(rng.random((h, n_in)) < density, w, 0)
        a = _exact_drive(s, w)
        bound = n_in * int(np.abs(values).max())
        t = np.clip(np.ceil(np.median(a, axis=0)), -bound, bound + 1).astype(np.int64)
        layers.append(HiddenLayer(w, t))
        s = (a >= t[None, :]).astype(np.uint8)
    out = OutputLayer(np.zeros((n_classes, s.shape[1]), np.int8) + (0 if 0 in values else int(nonzero[0])),
                      np.zeros(n_classes, np.int32))
    return TernaryNetwork(encoder, tuple(layers), out, tuple(int(v) for v in values))


def _stable_argsort_desc(g: np.ndarray) -> np.ndarray:
    """Per row of non-negative integers ``g``, the stable order of falling ``g`` (ties by column).

    Sorting the unique keys ``-g * n_cols + column`` with the default (vectorised) sort gives
    exactly the stable order and is 3x faster than ``kind="stable"`` (measured on 256 x 784)."""
    n_cols = g.shape[1]
    if int(g.max(initial=0)) < (2**62) // max(n_cols, 1):
        return np.argsort(g.astype(np.int64) * -n_cols + np.arange(n_cols), axis=1)
    return np.argsort(-g, axis=1, kind="stable")  # never with the built-in losses


def _csc(spikes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per input column of ``(n, n_in)`` spikes, the sample indices whose spike is 1."""
    return K.nonzero_rows(np.ascontiguousarray(np.asarray(spikes, dtype=np.uint8).T))


# Below these bounds the cheaper representation is exact (module constants so tests can force the
# other branch on small problems).
UINT16_INPUTS = 65536  # input indices fit uint16
FLOAT64_EXACT = 2**53  # integer sums that float64 holds exactly


def _csr(spikes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sample of ``(n, n_in)`` spikes, the indices of its inputs that are 1 (uint16 below
    65,536 inputs: the screening streams these lists for every near sample of every neuron,
    megabytes per neuron on MNIST-sized data, and is bound by memory; 22% faster hidden
    pass on Fashion-MNIST 6k with the int32 drive and sample lists, measured)."""
    ptr, ind = K.nonzero_rows(np.ascontiguousarray(spikes, dtype=np.uint8))
    return ptr, (ind.astype(np.uint16) if np.shape(spikes)[1] <= UINT16_INPUTS else ind)


def _bits(spikes_t: np.ndarray) -> np.ndarray:
    """``(n_inputs, n)`` spikes as bits, little-endian in each byte: ``x[k, i]`` is
    ``bits[k, i >> 3] >> (i & 7) & 1``."""
    # C order whatever the input's layout (packing a transposed view gives Fortran order): one
    # layout means one compiled hidden_sweep, and each input's row of bits is contiguous
    return np.ascontiguousarray(np.packbits(np.asarray(spikes_t, dtype=np.uint8), axis=1, bitorder="little"))


def output_gains(S, WoutT, Z, y, sl, values, in_screen, kind, margin, inv_t, chunk: int = 8192) -> np.ndarray:
    """Screening of every output weight: ``G[j, c, v]``, the loss change (summed over the
    samples with ``in_screen = 1``) of setting ``w[c, j]`` to ``values[v]`` (0 for its own value).

    A move of ``w[c, j]`` by ``d`` moves score ``c`` by ``d`` on the samples with ``s_j = 1``,
    so ``G[j, c, d] = sum_i S[j, i] * F[i, d, c]`` with ``F`` the per-sample cost of a score
    move (``_kernels.score_move_costs``): one matrix product, through BLAS in float64, exact
    because every partial sum is an integer below 2**53 (checked).
    """
    values = np.asarray(values, np.int64)
    deltas = np.unique(values[:, None] - values[None, :])
    deltas = deltas[deltas != 0]
    F = K.score_move_costs(Z, y, sl, deltas, in_screen, kind, margin, inv_t)
    h, n = S.shape
    if n * int(np.abs(F).max(initial=0)) < FLOAT64_EXACT:
        Gd = np.zeros((h, F.shape[1]))
        for a in range(0, n, chunk):  # chunks bound the float copy of S
            Gd += S[:, a:a + chunk].astype(np.float64) @ F[a:a + chunk].astype(np.float64)
        Gd = np.rint(Gd).astype(np.int64)
    else:  # never with the built-in losses; exact regardless
        Gd = S.astype(np.int64) @ F
    Gd = Gd.reshape(h, deltas.size, Z.shape[1]).transpose(0, 2, 1)  # (h, C, deltas)
    d = values[None, None, :] - np.asarray(WoutT, np.int64)[:, :, None]  # (h, C, V): the move to each value
    G = np.take_along_axis(Gd, np.searchsorted(deltas, np.where(d != 0, d, deltas[0])), axis=2)
    return np.where(d != 0, G, 0)


@dataclass
class TrainState:
    """Everything the kernels update in place, built from a network and encoded data."""

    spikes: np.ndarray
    y: np.ndarray
    values: np.ndarray
    kind: int
    margin: int
    inv_t: float
    WT: typed.List = field(repr=False)
    T: typed.List = field(repr=False)
    A: typed.List = field(repr=False)
    S: typed.List = field(repr=False)
    WoutT: np.ndarray = field(repr=False)
    b: np.ndarray = field(repr=False)
    Z: np.ndarray = field(repr=False)
    sl: np.ndarray = field(repr=False)
    full_csc0: tuple = field(repr=False)
    full_csr0: tuple = field(repr=False)
    full_bits0: np.ndarray = field(repr=False)  # the input spikes transposed and bit-packed (see _bits)
    noise0: np.ndarray | None = field(default=None, repr=False)  # the jitter inside A[0] (None: none)
    width: int = 0  # surrogate-gradient width of the coordinate order (0: random order)
    jitter: float = 0.0  # std of the integer noise added to hidden pre-activations each sweep (0: exact)
    joint: bool = False  # weight moves may shift the neuron's threshold by one (see _kernels.hidden_sweep)
    start_loss: float = float("nan")  # loss at the start of the last sweep's moves (after any jitter)

    @classmethod
    def build(cls, network: TernaryNetwork, spikes, y, kind, margin, inv_t, width: int = 0,
              jitter: float = 0.0, joint: bool = False) -> TrainState:
        if not network.hidden:
            raise ValueError("CoNNTrA needs at least one hidden layer (hidden=(h, ...))")
        A, S, Z = network_forward(network, spikes)
        WT, T, AL, SL = typed.List(), typed.List(), typed.List(), typed.List()
        maxabs = int(np.abs(np.asarray(network.discrete_set)).max())
        for layer, a, s in zip(network.hidden, A, S, strict=False):
            WT.append(np.ascontiguousarray(layer.weights.T, dtype=np.int32))
            # The kernels' threshold search (and its histogram) spans [-bound, bound + 1], bound =
            # fan-in * max|w|, the drive's range; a threshold outside it (a network passed to
            # fit(init_network=...)) is clamped to its edge, which gives exactly the same spikes.
            bound = layer.weights.shape[1] * maxabs
            T.append(np.clip(np.array(layer.thresholds, dtype=np.int64), -bound, bound + 1))
            AL.append(np.ascontiguousarray(a.T, dtype=np.int32))  # neuron-major, see _kernels
            SL.append(np.ascontiguousarray(s.T, dtype=np.uint8))
        Z = np.ascontiguousarray(Z, dtype=np.int32)
        y = np.ascontiguousarray(y, dtype=np.int64)
        sl = K.sample_losses(Z, y, kind, margin, inv_t)
        return cls(np.ascontiguousarray(spikes, dtype=np.uint8), y, np.asarray(network.discrete_set, np.int64),
                   kind, margin, float(inv_t), WT, T, AL, SL,
                   np.ascontiguousarray(network.output.weights.T, dtype=np.int32),
                   np.array(network.output.biases, dtype=np.int64), Z, sl, _csc(spikes), _csr(spikes),
                   _bits(np.asarray(spikes).T),
                   width=int(width), jitter=float(jitter), joint=bool(joint))

    @property
    def loss(self) -> float:
        """Mean loss per sample (nats for ``xent``)."""
        scale = K.XENT_SCALE if self.kind == K.XENT else 1.0
        return float(self.sl.sum()) / self.sl.shape[0] / scale

    @property
    def train_error(self) -> float:
        """Training error of the network itself (without the jitter noise)."""
        Z = self.Z if self.noise0 is None else self._clean_scores()  # the cached scores carry the noise
        return float(np.mean(np.argmax(Z, axis=1) != self.y))  # argmax ties to lowest index

    def scores(self, spikes: np.ndarray) -> np.ndarray:
        """Integer scores of the network being trained, without jitter, on encoded ``spikes``
        (n, n_in): what ``network_forward`` of the exported network gives, without building
        it (per-sweep validation; pass float32 spikes to skip their conversion)."""
        return _forward([(w.T, t) for w, t in zip(self.WT, self.T, strict=True)], self.WoutT.T, self.b, spikes)[2]

    def network(self, template: TernaryNetwork, metadata=None) -> TernaryNetwork:
        hidden = tuple(HiddenLayer(w.T.astype(np.int8), t) for w, t in zip(self.WT, self.T, strict=False))
        out = OutputLayer(self.WoutT.T.astype(np.int8), self.b)
        return template.replace(hidden=hidden, output=out,
                                metadata=dict(template.metadata) if metadata is None else metadata)

    def sweep(self, rng: np.random.Generator, batch_size: int | None, progress=None) -> int:
        """One coordinate-descent sweep: output layer, then hidden layers last to first.

        ``progress(layer, neurons_done, neurons)``, if given, is called during a hidden pass that
        takes longer than ``PROGRESS_SECONDS`` (see ``_hidden_pass``). Returns the number of
        parameters changed.
        """
        n = self.y.shape[0]
        if self.jitter > 0:
            self._jitter(rng)
        self.start_loss = self.loss
        in_screen = np.ones(n, np.uint8)
        if batch_size is not None and batch_size < n:
            in_screen[:] = 0
            in_screen[rng.choice(n, size=batch_size, replace=False)] = 1
        H = len(self.WT)
        h_last = self.WoutT.shape[0]
        bias_bound = h_last * int(np.abs(self.values).max())
        G = output_gains(self.S[H - 1], self.WoutT, self.Z, self.y, self.sl, self.values, in_screen, self.kind,
                         self.margin, self.inv_t)
        active = K.nonzero_rows(self.S[H - 1])  # per last-layer neuron, the samples where it fires
        changed = K.output_sweep(*active, self.WoutT, self.b, self.Z, self.y, self.sl, self.values,
                                 rng.permutation(h_last).astype(np.int64), G,
                                 self.kind, self.margin, self.inv_t, bias_bound)
        for l in range(H - 1, -1, -1):
            inputs = self.spikes if l == 0 else self.S[l - 1].T  # (n, n_in)
            csc = self.full_csc0 if l == 0 else _csc(inputs)
            csr = self.full_csr0 if l == 0 else _csr(inputs)
            bits = self.full_bits0 if l == 0 else _bits(self.S[l - 1])
            n_in, h = self.WT[l].shape
            order_j = rng.permutation(h).astype(np.int64)
            korder = self.visit_orders(l, inputs, rng.permutation(n_in).astype(np.int64))
            changed += self._hidden_pass(l, csr, in_screen, csc, bits, order_j, korder, progress)
        return int(changed)

    def _hidden_pass(self, l, csr, in_screen, csc, bits, order_j, korder, progress) -> int:
        """Layer ``l``'s neurons in ``order_j``'s order, in slices of about ``PROGRESS_SECONDS``.

        The kernel keeps nothing from one neuron to the next except the network and its caches
        (each neuron builds its near set and screening from scratch), so slices give exactly the
        moves of one call. Between slices a long pass reports its progress and Ctrl-C can land: a
        numba kernel does not see signals, and one call on a wide layer or a large set (a first
        sweep of 2,048 neurons on 60,000 samples) runs for minutes. The first slice is one neuron;
        each next one is sized from the time per neuron so far, so a fast pass is two calls.
        """
        h = order_j.shape[0]
        done = changed = 0
        size = 1
        t0 = now()
        while done < h:
            changed += K.hidden_sweep(l, csr[0], csr[1], in_screen, csc[0], csc[1], bits, self.WT, self.T, self.A,
                                      self.S, self.WoutT, self.Z, self.y, self.sl, self.values,
                                      order_j[done:done + size], korder, self.kind, self.margin, self.inv_t,
                                      self.joint)
            done += min(size, h - done)
            elapsed = now() - t0
            if progress is not None and done < h and elapsed >= PROGRESS_SECONDS:
                progress(l, done, h)
            size = max(1, int(PROGRESS_SECONDS * done / elapsed)) if elapsed > 0 else h
        return changed

    def visit_orders(self, l: int, inputs: np.ndarray, order_k: np.ndarray) -> np.ndarray:
        """``korder[j]``: the order in which neuron ``j`` of layer ``l`` visits its incoming weights.

        Random order (``width = 0``): ``order_k`` for every neuron. Gradient order: by falling
        |integer surrogate gradient| (ties in ``order_k``'s order), the gradient of the whole
        layer taken at the layer's start, exactly (``_kernels.surrogate_gradient``). A
        neuron's order is thus a little stale by the time it is visited (the neurons before
        it have moved); per-neuron gradients cost 40% of the sweep on MNIST-sized data
        (measured) and the order only decides what is tried first: every accepted move is
        exact either way.
        """
        h = self.WT[l].shape[1]
        if self.width == 0:
            return np.repeat(order_k[None, :], h, axis=0)  # a writable copy: a read-only view compiles anew
        grad = K.surrogate_gradient(l, np.ascontiguousarray(inputs, dtype=np.uint8), self.WT, self.T, self.A, self.S,
                                    self.WoutT, self.Z, self.y, self.sl, self.kind, self.margin, self.inv_t,
                                    self.width)
        return order_k[_stable_argsort_desc(np.abs(grad[:, order_k]))]

    def _jitter(self, rng: np.random.Generator) -> None:
        """Redraw the noise on every hidden pre-activation and rebuild the caches from it.

        Each sweep then trains against a fresh integer perturbation of every sample's drive
        (as if thresholds jittered per sample), so no move can rely on a sample sitting
        exactly at a threshold. The exported network has no noise.
        """
        table = noise_table(self.jitter)
        if self.noise0 is None:
            self.noise0 = np.zeros(self.A[0].shape, np.int32)
        # one 16-bit draw per drive, layer by layer (the draws of every earlier version)
        K.rejitter(self.A[0], self.noise0, rng.integers(0, 65536, size=self.A[0].shape, dtype=np.uint16), table,
                   self.T[0], self.S[0])
        for l in range(1, len(self.WT)):
            a = _exact_drive(self.S[l - 1].T, self.WT[l].T).T
            a = a + table[rng.integers(0, 65536, size=a.shape, dtype=np.uint16)]
            self.A[l][:] = a
            self.S[l][:] = a >= self.T[l][:, None]
        self.Z[:] = K.output_scores(self.S[-1], self.WoutT, self.b)
        self.sl[:] = K.sample_losses(self.Z, self.y, self.kind, self.margin, self.inv_t)

    def _clean_scores(self) -> np.ndarray:
        """Scores of the network itself, without the jitter the caches carry.

        The noise-free first-layer drive is the cached one minus the noise it carries (the
        kernels keep it exact), so no pass over the input spikes is needed; deeper layers are
        recomputed from the spikes below them.
        """
        s = K.spikes_without(self.A[0], self.noise0, self.T[0])
        for l in range(1, len(self.WT)):
            a = _exact_drive(s.T, self.WT[l].T).T
            s = np.ascontiguousarray(a >= self.T[l][:, None], dtype=np.uint8)
        return K.output_scores(s, self.WoutT, self.b)


_kernels_ready = False


def warm_up_kernels() -> None:
    """Load the kernels (numba compiles them on a machine's first run, about 40 s, then loads them from
    its cache, about 0.4 s in each new process) by one sweep of a tiny network, once per process:
    ``fit`` calls it before its clock starts, so a run's seconds (and ``max_seconds``) count training,
    not loading. The tiny network's arrays have the dtypes of every real run's (a network with more
    than 65,536 inputs also compiles its input lists' int32 version on first use)."""
    global _kernels_ready
    if _kernels_ready:
        return
    rng = np.random.default_rng(0)
    X = rng.random((16, 6))
    y = np.arange(16) % 2
    encoder = ThermometerEncoder.fit(X, 1)
    spikes = encoder.encode(X)
    values = np.array([-1, 0, 1])
    net = initial_network(encoder, spikes, (3, 2), 2, values, 0.5, rng)
    state = TrainState.build(net, spikes, y, K.HINGE, 2, 1.0, width=2, jitter=1.0)
    state.sweep(rng, 8)
    state.train_error  # noqa: B018 (the jitter-free scores' kernels)
    _kernels_ready = True


PROGRESS_SECONDS = 0.5  # a long hidden pass reports (and can be interrupted) about this often


@functools.lru_cache(maxsize=8)
def noise_table(sigma: float) -> np.ndarray:
    """65,536 equally likely values of the jitter noise ``round(N(0, sigma**2))``: one draw is
    ``table[a uniform 16-bit integer]``, 4x faster than rounding Gaussian draws (measured: 4.5
    vs 17 ms for 256 x 6,000). Entry ``u`` is the noise value whose probability interval holds
    ``(u + 0.5) / 65536``, so every value has its rounded-Gaussian probability to within
    2**-16 and tails rarer than that (beyond about 4.3 sigma) never occur."""
    if not sigma > 0:
        raise ValueError(f"noise_table needs a positive sigma, got {sigma!r}")
    half = int(math.ceil(8 * sigma)) + 1
    values = np.arange(-half, half + 1)
    upper = np.array([0.5 * (1 + math.erf((v + 0.5) / (sigma * math.sqrt(2)))) for v in values])  # P(noise <= v)
    u = (np.arange(65536) + 0.5) / 65536
    return values[np.minimum(np.searchsorted(upper, u, side="right"), values.size - 1)].astype(np.int32)


def sweep_rng(seed: int, sweep: int) -> np.random.Generator:
    """The random stream of one sweep: depends only on (seed, sweep index), so a resumed run
    repeats the uninterrupted one."""
    if sweep < 0:  # the initial network
        return np.random.default_rng([int(seed), 0])
    return np.random.default_rng([int(seed), 1, int(sweep)])


def now() -> float:
    return time.perf_counter()
