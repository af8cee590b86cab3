"""The network every deploy benchmark runs, so Lava and Brian2 figures are for the same net."""

from __future__ import annotations

import numpy as np

from connttra_neuro.network import HiddenLayer, OutputLayer, TernaryNetwork, ThermometerEncoder


def fashion_mnist_bench_network(X_train: np.ndarray, seed: int = 0, density: float = 0.3) -> TernaryNetwork:
    """784-256-10 ternary net with data-driven hidden thresholds.

    Encoder fitted on the training images (one level), random ternary weights with
    ``density`` non-zero, each hidden threshold at its neuron's median drive over 2,000
    training images so about half the hidden spikes fire (a realistic spike load).
    Untrained: accuracy is chance-level by design; the benchmarks measure speed and exactness.
    """
    rng = np.random.default_rng(seed)
    encoder = ThermometerEncoder.fit(X_train, levels=1)

    def ternary(shape):
        return (rng.random(shape) < density) * rng.choice(np.array([-1, 1], dtype=np.int8), size=shape)

    w1, w2 = ternary((256, 784)).astype(np.int8), ternary((10, 256)).astype(np.int8)
    sample = encoder.encode(X_train[rng.choice(len(X_train), 2000, replace=False)]).astype(np.int64)
    thresholds = np.median(sample @ w1.T.astype(np.int64), axis=0).astype(np.int32)
    return TernaryNetwork(
        encoder,
        (HiddenLayer(w1, thresholds),),
        OutputLayer(w2, np.zeros(10, np.int32)),
        metadata={"bench": "fashion-mnist deploy", "density": density, "note": "random weights, not trained"},
    )
