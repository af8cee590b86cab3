"""layerwise_init: stages trained one hidden layer at a time, stacked exactly, as a start for fit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

from connttra_neuro.network import HiddenLayer, ThermometerEncoder
from connttra_neuro.train import CoNNTrA, ConvergenceWarning, layerwise_init
from connttra_neuro.train.driver import network_forward
from connttra_neuro.train.layerwise import _as_raw_input, _stages
from hardware_targets.reference import forward

from .networks import stacked_then_fit


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(1).permutation(len(y))
    return X[idx[:300]], y[idx[:300]], X[idx[300:450]], y[idx[300:450]]


def _estimator(**kw):
    return CoNNTrA(**{"hidden": (14, 9, 7), "levels": 2, "max_sweeps": 3, "random_state": 2, **kw})


@pytest.fixture(scope="module")
def stacked(data):
    X, y, Xv, yv = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        stages = list(_stages(_estimator(), X, y, (Xv, yv)))
        return layerwise_init(_estimator(), X, y, validation=(Xv, yv)), stages


def test_the_stack_computes_every_stage_s_spikes_and_the_last_stage_s_scores(data, stacked):
    X, y, Xv, yv = data
    network, stages = stacked
    assert [layer.weights.shape[0] for layer in network.hidden] == [14, 9, 7]
    for inputs in (X, Xv):  # the training data and data the stages never trained on
        _, spikes, scores = network_forward(network, network.encode(inputs))
        features = inputs
        for k, (stage, _) in enumerate(stages):
            _, (s,), z = network_forward(stage, stage.encode(features))
            np.testing.assert_array_equal(spikes[k], s)
            features = s
        np.testing.assert_array_equal(scores, z)
    np.testing.assert_array_equal(stages[0][0].encoder.thresholds, network.encoder.thresholds)
    # stage 0's settings and metrics describe a one-layer network: not carried over
    assert "settings" not in network.metadata and "metrics" not in network.metadata
    assert list(network.metadata["layerwise_init"]["hidden"]) == [14, 9, 7]
    assert list(network.metadata["classes"]) == list(range(10))


def test_a_joint_fit_starts_from_the_stack_and_is_deterministic(data, stacked):
    X, y, Xv, yv = data
    network, _ = stacked
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert layerwise_init(_estimator(), X, y, validation=(Xv, yv)) == network
        model = _estimator(max_sweeps=2).fit(X, y, validation=(Xv, yv), init_network=network)
    scores, _ = forward(network, network.encode(Xv))
    assert model.history_[0]["val_error"] == pytest.approx(np.mean(np.argmax(scores, axis=1) != yv))
    assert model.network_.hidden[0].weights.shape == network.hidden[0].weights.shape


def test_one_hidden_layer_is_a_plain_fit(data):
    X, y, Xv, yv = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = _estimator(hidden=(12,)).fit(X, y, validation=(Xv, yv)).network_
        start = layerwise_init(_estimator(hidden=(12,)), X, y, validation=(Xv, yv))
    assert start == plain


@pytest.mark.parametrize("values", [(-1, 0, 1), (-1, 1)])
def test_inputs_constant_in_a_stage_s_training_data_are_read_as_the_stage_read_them(values):
    # the encoder gives a constant column no cut (+inf), so the stage saw 0 there: with 0 in the set the
    # weights go to 0 (exact on any data); without it the thresholds absorb an always-on input (exact on
    # the training data, where the joint fit starts)
    rng = np.random.default_rng(4)
    train = (rng.random((60, 8)) < 0.5).astype(np.uint8)
    train[:, 2], train[:, 5] = 1, 0  # one input always on, one always off in training
    other = (rng.random((40, 8)) < 0.5).astype(np.uint8)  # where they do change
    cuts = ThermometerEncoder.fit(train, 1).thresholds
    assert np.isinf(cuts[[2, 5], 0]).all() and (cuts[[0, 1, 3, 4, 6, 7], 0] == 0.5).all()
    layer = HiddenLayer(rng.choice(values, size=(6, 8)), rng.integers(-3, 4, 6))
    raw = _as_raw_input(layer, cuts, train, values)
    assert set(np.unique(raw.weights)) <= set(values)

    def fires(lay, s):
        return s.astype(np.int64) @ lay.weights.T.astype(np.int64) >= lay.thresholds

    encoded = ThermometerEncoder(cuts)
    np.testing.assert_array_equal(fires(raw, train), fires(layer, encoded.encode(train)))
    if 0 in values:
        np.testing.assert_array_equal(fires(raw, other), fires(layer, encoded.encode(other)))
    else:
        assert not np.array_equal(raw.thresholds, layer.thresholds)


def test_layerwise_init_wants_an_estimator(data):
    X, y, _, _ = data
    with pytest.raises(TypeError, match="takes a CoNNTrA estimator .* got dict"):
        layerwise_init({"hidden": (8, 4)}, X, y)


def test_a_jitter_beyond_a_later_layer_s_reach_is_refused_before_any_stage_trains(data):
    X, y, _, _ = data
    trained = []
    with pytest.raises(ValueError, match=r"jitter 10.0 is beyond the drive range of hidden layer 3 of 3 "
                                         r"\(\+-7: its fan-in 7 x max\|w\|\)"):
        layerwise_init(_estimator(hidden=(14, 7, 9), jitter=10.0), X, y,
                       callback=lambda layer, record: trained.append(layer))
    assert trained == []
    # the same jitter is within the widest fan-in, which the joint fit checks: it trains without layerwise
    CoNNTrA(hidden=(14, 7, 9), levels=2, max_sweeps=1, jitter=10.0, random_state=2).fit(X, y)


def test_keep_best_keeps_the_given_start_when_no_sweep_beats_it():
    # sweep 0 of a fit from a random network is never kept; a given start is a trained network (here a
    # stack at 8.36% whose joint sweeps all end above it: 10.6% before, which train --layerwise then saved)
    from connttra_neuro.datasets import load_dataset
    from connttra_neuro.network import thaw_metadata
    from connttra_neuro.train.estimator import best_sweep

    data = load_dataset("digits", seed=7)
    settings = dict(hidden=(32, 16), levels=2, random_state=7)
    start, model, caught = stacked_then_fit(data, 20, 3, **settings)
    errors = [r["val_error"] for r in model.history_]
    assert errors[0] < min(errors[1:]) and model.history_[0]["given"] is True
    assert best_sweep(model.history_) == 0 and thaw_metadata(model.network_.metadata)["metrics"]["sweep"] == 0
    assert all(np.array_equal(a.weights, b.weights) and np.array_equal(a.thresholds, b.thresholds)
               for a, b in zip(model.network_.hidden, start.hidden, strict=True))
    np.testing.assert_array_equal(model.network_.output.weights, start.output.weights)
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]  # nothing was still falling
    last = CoNNTrA(max_sweeps=3, keep_best=False, **settings).fit(data.X_train, data.y_train,
                                                                  validation=(data.X_val, data.y_val),
                                                                  init_network=start)
    assert thaw_metadata(last.network_.metadata)["metrics"]["sweep"] == 3
