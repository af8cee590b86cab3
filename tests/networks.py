"""A battery of small networks that stress the semantics' corners.

Shared by the reference tests and the conformance suite that every target runs.
"""

from __future__ import annotations

import numpy as np

from connttra_neuro.network import HiddenLayer, OutputLayer, TernaryNetwork, ThermometerEncoder, random_network
from hardware_targets.reference import ReferenceTarget


def _with_layers(net: TernaryNetwork, hidden=None, output=None, name=None) -> TernaryNetwork:
    meta = dict(net.metadata)
    if name:
        meta["case"] = name
    return net.replace(
        hidden=tuple(hidden if hidden is not None else net.hidden), output=output or net.output, metadata=meta
    )


def _zero_rows(seed: int) -> TernaryNetwork:
    net = random_network((6, 7, 5, 4), seed=seed)
    h0 = net.hidden[0].weights.copy()
    h0[[1, 4]] = 0  # neurons with no input: fire iff threshold <= 0
    t0 = net.hidden[0].thresholds.copy()
    t0[1], t0[4] = 0, 1
    out = net.output.weights.copy()
    out[2] = 0  # a class whose score is its bias alone
    return _with_layers(
        net,
        hidden=[HiddenLayer(h0, t0), net.hidden[1]],
        output=OutputLayer(out, net.output.biases),
        name="all-zero rows",
    )


def _saturated_thresholds(seed: int) -> TernaryNetwork:
    net = random_network((8, 6, 6, 3), seed=seed)
    layers = []
    for layer in net.hidden:
        fan_in = layer.weights.shape[1]
        t = layer.thresholds.copy()
        t[0] = -fan_in - 1  # always fires, whatever arrives
        t[1] = fan_in + 1  # never fires
        layers.append(HiddenLayer(layer.weights, t))
    return _with_layers(net, hidden=layers, name="always/never firing thresholds")


def _tied_scores() -> TernaryNetwork:
    # identical output rows and biases: every sample ties, argmax must pick class 0
    net = random_network((5, 4, 3), seed=7)
    w = np.tile(net.output.weights[:1], (3, 1))
    return _with_layers(net, output=OutputLayer(w, np.zeros(3, int)), name="tied scores")


def _common_factor(seed: int) -> TernaryNetwork:
    # weights in (-100, 0, 100) (hidden layer 1: (-3, 0, 3)), thresholds and biases not multiples of them: a
    # target that divides the factor out must round thresholds up (ceil(T / g)) and scale the scores back
    net = random_network((6, 6, 5, 4), seed=seed)
    rng = np.random.default_rng(seed)
    layers = []
    for layer, g in zip(net.hidden, (100, 3), strict=True):
        fan_in = layer.weights.shape[1]
        t = rng.integers(-fan_in * g, fan_in * g + 1, size=layer.thresholds.shape)
        t[:2] = (1, -g - 1)  # just above a multiple of g, just below one
        layers.append(HiddenLayer((g * layer.weights).astype(np.int16), t))
    out = OutputLayer((100 * net.output.weights).astype(np.int16), rng.integers(-250, 251, size=4))
    meta = {**net.metadata, "case": "common weight factor 100 / 3"}
    return net.replace(discrete_set=(-100, -3, 0, 3, 100), hidden=tuple(layers), output=out, metadata=meta)


def conformance_networks() -> dict[str, TernaryNetwork]:
    """Name -> network; each a corner every target must reproduce exactly."""
    nets = {
        "1 hidden": random_network((6, 5, 3), seed=1),
        "2 hidden, thermometer": random_network((5, 8, 6, 4), levels=3, seed=2),
        "3 hidden": random_network((7, 6, 5, 4, 3), seed=3),
        "no hidden layer": random_network((6, 4), seed=4),
        "width 1": random_network((4, 1, 1, 2), seed=5),
        "binary set": random_network((6, 5, 3), discrete_set=(-1, 1), seed=6),
        "wider set -2..2": random_network((6, 5, 4, 3), discrete_set=(-2, -1, 0, 1, 2), seed=8),
        "sparse, wide fan-in": random_network((40, 12, 5), levels=2, density=0.2, seed=9),
    }
    for net in (_zero_rows(10), _saturated_thresholds(11), _tied_scores(), _common_factor(12)):
        nets[net.metadata["case"]] = net
    return nets


# weight sets of edge_network: binary and ternary, wide ones with and without a common factor, sets of one
# sign (Loihi stores an all-positive or all-negative layer in another sign mode), int8's ends
EDGE_SETS = ((-1, 0, 1), (-1, 1), (-2, -1, 0, 1, 2), (0, 1), (-1, 0), (1, 2), (-3, -1), (-100, 0, 100),
             (-128, 0, 127), (-127, 127), (-5, 0, 3), (2, 4, 6), (-128, -64, 0, 64), (-7, -3, 0, 5, 9))


def edge_network(seed: int) -> TernaryNetwork:
    """A seeded random network at the IR's edges: 0-4 hidden layers of 1-300 neurons, a set of ``EDGE_SETS``,
    all-zero rows, columns and layers, thresholds at 0, -1, the lowest and highest drive (and one past
    them), at int32's ends, output biases large and negative or at int32's ends, tied output rows, and
    encoder cuts that repeat, sit at 0.0 or -0.0 or are infinite. Every target must reproduce it exactly
    or refuse it at compile (the search that found the NIR round trip of a cut at 0.0)."""
    rng = np.random.default_rng([seed, 2026])
    i32 = np.iinfo(np.int32)

    def width():
        return int(rng.choice([1, rng.integers(1, 12), rng.integers(12, 60), rng.integers(60, 301)],
                              p=[0.15, 0.6, 0.18, 0.07]))

    dset = EDGE_SETS[int(rng.integers(len(EDGE_SETS)))]

    def weights(rows, cols):
        w = rng.choice(dset, size=(rows, cols))
        if 0 in dset:
            w[rng.random((rows, cols)) > rng.random()] = 0
            w[rng.random(rows) < 0.2] = 0  # neurons with no input
            w[:, rng.random(cols) < 0.2] = 0  # inputs that reach nothing
            if rng.random() < 0.05:
                w[:] = 0
        return w

    levels = int(rng.choice([1, 1, 2, 3, 4]))
    cuts = np.sort(rng.normal(0, 1, (max(1, width() // levels), levels)).round(int(rng.integers(3))), axis=1)
    edit = rng.integers(5)
    if edit == 0:
        cuts[:, -1] = np.inf  # a level that never fires
    elif edit == 1:
        cuts[:, 0] = -np.inf
    elif edit == 2:
        cuts[::2, 0] = rng.choice([0.0, -0.0])
    if levels > 1 and rng.random() < 0.3:
        cuts[:, 1] = cuts[:, 0]  # a repeated cut
    encoder = ThermometerEncoder(np.sort(cuts, axis=1))
    hidden, n_in = [], encoder.n_outputs
    for _ in range(int(rng.choice([0, 1, 1, 2, 2, 3, 4]))):
        w = weights(width(), n_in)
        lo, hi = np.minimum(w, 0).sum(axis=1), np.maximum(w, 0).sum(axis=1)
        t = np.array([rng.choice([rng.integers(l, h + 2), rng.integers(l, h + 2), 0, -1, l, l - 1, h, h + 1,
                                  rng.integers(-3000, 3000), rng.choice([i32.min, i32.max])])
                      for l, h in zip(lo, hi, strict=True)])
        hidden.append(HiddenLayer(w, t))
        n_in = w.shape[0]
    n_classes = int(rng.choice([1, 2, 3, 10]))
    w = weights(n_classes, n_in)
    b = [rng.integers(-3, 4, n_classes), rng.integers(-10**6, 0, n_classes),
         rng.choice([i32.min, i32.max, -2048, 2047, 2048], n_classes)][rng.choice(3, p=[0.6, 0.2, 0.2])]
    if n_classes > 1 and rng.random() < 0.2:  # every sample ties
        w[1:], b[1:] = w[0], b[0]
    return TernaryNetwork(encoder, tuple(hidden), OutputLayer(w, b), dset, {"case": f"edge network {seed}"})


def input_spikes(network: TernaryNetwork, n: int = 40, seed: int = 0) -> np.ndarray:
    """Random input spikes plus the all-silent and all-firing samples."""
    rng = np.random.default_rng(seed)
    s = (rng.random((n, network.n_inputs)) < rng.uniform(0.2, 0.8, size=(n, 1))).astype(np.uint8)
    s[0] = 0
    s[1] = 1
    return s


class SilentFirstLayer(ReferenceTarget):
    """A broken deployment for CLI tests (registered under a test name): no neuron of the first hidden
    layer ever fires, so its spikes, scores and classes depart from the trained model's."""

    name = "silent-first-layer"

    def compile(self, network):
        h = list(network.hidden)
        h[0] = HiddenLayer(h[0].weights, np.full_like(h[0].thresholds, 10_000))
        return super().compile(network.replace(hidden=tuple(h)))


def run_nir_graph(graph, X, spikes=None):
    """Evaluate a chain NIR graph with numpy, following each node's stated semantics (Threshold: 1 if
    v > theta); each Threshold node's output goes into ``spikes`` (node name -> uint8 array) when given."""
    import nir

    edges = dict(graph.edges)
    node = next(k for k, n in graph.nodes.items() if isinstance(n, nir.Input))
    x = X.astype(np.float64)
    while node in edges:
        node = edges[node]
        n = graph.nodes[node]
        if isinstance(n, nir.Affine):
            x = x @ n.weight.T + n.bias
        elif isinstance(n, nir.Linear):
            x = x @ n.weight.T
        elif isinstance(n, nir.Threshold):
            x = (x > n.threshold).astype(np.float64)  # NIR Threshold: z = 1 if v > theta
            if spikes is not None:
                spikes[node] = x.astype(np.uint8)
    return x


def cython_case():
    """The cython test's network, spikes and target settings (tests/test_brian2_target.py), shared with
    tests/warm_caches.py, which compiles the same code into the cache while the rest of the suite runs."""
    network = random_network((8, 6, 4), levels=2, seed=13)
    return network, input_spikes(network, n=40, seed=5), {"codegen": "cython", "tiles": 3}


def stacked_then_fit(data, stage_sweeps: int, joint_sweeps: int, **settings):
    """The Python path that ``train --layerwise`` and ``compare --layerwise`` must equal: ``layerwise_init``
    (each stage for ``stage_sweeps``), then a joint fit of ``joint_sweeps`` from the stack, on ``data``'s
    split. Returns ``(stack, fitted estimator, the joint fit's warnings)``; the stages' budget warnings are
    dropped (each stage spends its budget on purpose)."""
    import warnings

    from connttra_neuro.train import CoNNTrA, ConvergenceWarning, layerwise_init

    validation = (data.X_val, data.y_val)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = layerwise_init(CoNNTrA(max_sweeps=stage_sweeps, **settings), data.X_train, data.y_train,
                               validation=validation)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = CoNNTrA(max_sweeps=joint_sweeps, **settings).fit(data.X_train, data.y_train, validation=validation,
                                                                 init_network=start)
    return start, model, caught
