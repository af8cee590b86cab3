"""The IR validates on construction; errors name the layer and the problem."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from connttra_neuro import (
    HiddenLayer,
    NetworkError,
    OutputLayer,
    TernaryNetwork,
    ThermometerEncoder,
    random_network,
)


def _parts(n_features=3, levels=1, hidden=(4,), classes=2):
    enc = ThermometerEncoder(np.zeros((n_features, levels)))
    n_in, layers = n_features * levels, []
    for h in hidden:
        layers.append(HiddenLayer(np.ones((h, n_in), np.int8), np.zeros(h, np.int32)))
        n_in = h
    return enc, layers, OutputLayer(np.zeros((classes, n_in), np.int8), np.zeros(classes, np.int32))


def test_valid_network_properties():
    enc, hidden, out = _parts(n_features=3, levels=2, hidden=(4, 5), classes=2)
    net = TernaryNetwork(enc, hidden, out)
    assert net.layer_sizes == (6, 4, 5, 2)
    assert net.n_weight_layers == 3
    assert net.discrete_set == (-1, 0, 1)
    assert net.n_weights == 6 * 4 + 4 * 5 + 5 * 2
    assert [name for name, _ in net.named_layers()] == ["hidden layer 0", "hidden layer 1", "output layer"]


def test_shapes_must_chain():
    enc, hidden, out = _parts(hidden=(4,))
    bad = HiddenLayer(np.ones((5, 3), np.int8), np.zeros(5, np.int32))
    with pytest.raises(NetworkError, match=r"output layer: weights have 5 inputs but the previous layer has 4"):
        TernaryNetwork(enc, hidden, OutputLayer(np.zeros((2, 5), np.int8), np.zeros(2)))
    with pytest.raises(NetworkError, match=r"hidden layer 1: weights have 3 inputs but the previous layer has 4"):
        TernaryNetwork(enc, [hidden[0], bad], out)
    # hidden given as one layer, or as None: tuple() said "'HiddenLayer' object is not iterable"
    with pytest.raises(NetworkError, match=r"hidden must be a sequence of HiddenLayer, got one HiddenLayer: give "
                                           r"\(layer,\)"):
        TernaryNetwork(enc, hidden[0], out)
    with pytest.raises(NetworkError, match=r"hidden must be a sequence of HiddenLayer \(empty: no hidden layer\), "
                                           r"got NoneType"):
        TernaryNetwork(enc, None, out)


def test_weights_outside_the_discrete_set_are_named():
    enc, hidden, out = _parts()
    w = hidden[0].weights.copy()
    w[2, 1] = 2
    with pytest.raises(
        NetworkError,
        match=r"hidden layer 0: 1 weight\(s\) outside the discrete set \[-1, 0, 1\]: values \[2\], first at \[2, 1\]",
    ):
        TernaryNetwork(enc, [HiddenLayer(w, hidden[0].thresholds)], out)
    # binary set has no zero
    with pytest.raises(NetworkError, match="output layer: .* outside the discrete set \\[-1, 1\\]"):
        TernaryNetwork(enc, hidden, out, discrete_set=(-1, 1))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: HiddenLayer(np.ones((2, 3)) * 0.5, np.zeros(2)), "hidden layer: weights must be integers"),
        (lambda: HiddenLayer(np.ones(3, np.int8), np.zeros(2)), "weights must be 2-D"),
        (lambda: HiddenLayer(np.ones((2, 3), np.int8), np.zeros(3)), "2 neurons but 3 thresholds"),
        (lambda: HiddenLayer(np.full((2, 3), 300), np.zeros(2)), "out of int8 range"),
        (lambda: OutputLayer(np.ones((2, 3), np.int8), np.zeros(4)), "2 classes but 4 biases"),
        (lambda: OutputLayer(np.ones((2, 3), np.int8), np.array([0.0, np.nan])), "biases must be integers"),
        (lambda: ThermometerEncoder(np.array([[0.5, 0.2]])), "thresholds of feature 0 are not increasing"),
        (lambda: ThermometerEncoder(np.array([[np.nan]])), "NaN"),
        (lambda: ThermometerEncoder(np.zeros(3)), "shape \\(n_features, K>=1\\)"),
    ],
)
def test_part_validation(make, message):
    with pytest.raises(NetworkError, match=message):
        make()


@pytest.mark.parametrize(
    "dset, message",
    [((1,), "at least two"), ((0, 0, 1), "repeated"), ((0, 200), "fit in int8"), ((0, 0.5), "integers"),
     ("012", "a sequence of integers such as .* got '012'")],  # a string read as (0, 1, 2)
)
def test_discrete_set_validation(dset, message):
    enc, hidden, out = _parts()
    with pytest.raises(NetworkError, match=message):
        TernaryNetwork(enc, hidden, out, discrete_set=dset)


def test_network_is_frozen():
    net = random_network((4, 3, 2))
    with pytest.raises(ValueError):
        net.hidden[0].weights[0, 0] = 1  # read-only array
    with pytest.raises(AttributeError):
        net.discrete_set = (-1, 1)
    with pytest.raises(TypeError):
        net.metadata["x"] = 1
    # construction copies: mutating the caller's array does not change the network
    w = np.zeros((2, 4), np.int8)
    layer = HiddenLayer(w, np.zeros(2))
    w[0, 0] = 1
    assert layer.weights[0, 0] == 0


def test_metadata_must_be_json_like():
    enc, hidden, out = _parts()
    with pytest.raises(NetworkError, match="metadata values must be JSON-like"):
        TernaryNetwork(enc, hidden, out, metadata={"x": object()})
    # NaN and infinity have no JSON: such a network could be built but never saved (json's error, deep down)
    for bad, where in (({"a": float("nan")}, "metadata['a'] is nan"),
                       ({"m": {"s": [1.0, np.float32(np.inf)]}}, "metadata['m']['s'][1] is inf")):
        with pytest.raises(NetworkError, match=re.escape(where)):
            TernaryNetwork(enc, hidden, out, metadata=bad)
    with pytest.raises(NetworkError, match="metadata must be a mapping .* got list"):
        TernaryNetwork(enc, hidden, out, metadata=[("a", 1)])
    assert dict(TernaryNetwork(enc, hidden, out, metadata=None).metadata) == {}  # none: no facts


def test_equality_compares_values():
    a = random_network((5, 4, 3), seed=1)
    assert a == random_network((5, 4, 3), seed=1)
    assert a != random_network((5, 4, 3), seed=2)
    b = random_network((5, 4, 3), seed=2)
    # the parts too (the generated == compared arrays element-wise: "truth value ... is ambiguous")
    for x in (a.encoder, *a.layers):
        assert x == type(x)(*[getattr(x, f) for f in x.__dataclass_fields__]) and x in [x]
    assert a.hidden[0] != b.hidden[0] and a.output != b.output and a.output != a.hidden[0]
    assert a.encoder == b.encoder  # random_network spreads the same thresholds
    assert a.encoder != ThermometerEncoder(np.zeros((5, 2)))  # another shape: unequal, not an error


def test_networks_pickle_and_deep_copy_as_checked_read_only_values():
    import copy
    import pickle

    net = random_network((5, 4, 3), levels=2, seed=1).replace(metadata={"nested": {"a": [1, 2]}, "s": "x"})
    for twin in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):  # the frozen metadata did not pickle
        assert twin == net and twin.metadata["nested"]["a"] == (1, 2)
        assert not any(a.flags.writeable for a in (twin.encoder.thresholds, twin.hidden[0].weights,
                                                   twin.output.biases))
        with pytest.raises(TypeError):
            twin.metadata["x"] = 1


class TestEncoder:
    def test_thermometer_code(self):
        enc = ThermometerEncoder(np.array([[0.0, 1.0, 2.0], [10.0, np.inf, np.inf]]))
        s = enc.encode(np.array([[1.5, 10.0], [-1.0, 9.0], [2.0, 1e9]]))
        # feature f's K spikes sit side by side: index f*K + k
        np.testing.assert_array_equal(s, [[1, 1, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0]])
        assert s.dtype == np.uint8

    def test_fit_binarise_at_the_median(self):
        X = np.array([[0.0, 5.0], [1.0, 5.0], [3.0, 5.0], [10.0, 5.0]])
        enc = ThermometerEncoder.fit(X, levels=1)
        assert enc.thresholds[0, 0] == 2.0  # midpoint between the two middle values
        assert np.isinf(enc.thresholds[1, 0])  # constant feature never fires

    def test_fit_levels_are_increasing_quantiles(self):
        rng = np.random.default_rng(0)
        X = rng.normal(size=(500, 3))
        enc = ThermometerEncoder.fit(X, levels=4)
        assert enc.thresholds.shape == (3, 4)
        assert np.all(np.diff(enc.thresholds, axis=1) > 0)
        # each level fires for about (1 - k/5) of the samples
        rate = enc.encode(X).reshape(500, 3, 4).mean(axis=0)
        np.testing.assert_allclose(rate, np.tile([0.8, 0.6, 0.4, 0.2], (3, 1)), atol=0.02)

    def test_fit_few_distinct_values_pads_with_never(self):
        X = np.array([[0.0], [1.0], [1.0], [0.0], [2.0]])
        enc = ThermometerEncoder.fit(X, levels=4)
        finite = enc.thresholds[0][np.isfinite(enc.thresholds[0])]
        np.testing.assert_array_equal(finite, [0.5, 1.5])  # only two places to cut three values
        s = enc.encode(X)
        live = s[:, s.any(axis=0)]
        assert len({tuple(col) for col in live.T}) == live.shape[1]  # no level copies another

    def test_float32_input_and_row_blocks_give_the_float64_code(self, monkeypatch):
        # fit and encode never copy a whole float32 input to float64; thresholds and spikes are
        # those of the same values in float64 (ties included), whatever the row blocks
        import connttra_neuro.network as network_module

        rng = np.random.default_rng(3)
        X = np.round(rng.normal(size=(301, 7)), 1).astype(np.float32)
        enc = ThermometerEncoder.fit(X, levels=3)
        np.testing.assert_array_equal(enc.thresholds, ThermometerEncoder.fit(X.astype(np.float64), 3).thresholds)
        want = enc.encode(X.astype(np.float64))
        monkeypatch.setattr(network_module, "_ENCODE_BLOCK", 50)  # two rows (21 spikes each) per block
        np.testing.assert_array_equal(enc.encode(X), want)
        Xi = np.round(10 * X).astype(np.int16)
        np.testing.assert_array_equal(ThermometerEncoder.fit(Xi, 2).encode(Xi),
                                      ThermometerEncoder.fit(Xi.astype(np.float64), 2).encode(Xi.astype(np.float64)))
        with pytest.raises(NetworkError, match=r"1 sample\(s\) contain NaN or infinite values \(first: row 300, NaN\)"):
            X[300, 2] = np.nan
            enc.encode(X)

    @pytest.mark.parametrize("integer", [False, True])
    def test_every_row_block_is_encoded_the_last_short_one_too(self, monkeypatch, integer):
        # rows in blocks of 3 (n not a multiple of 3: a short last block) against the definition
        # x_f >= t[f, k] computed row by row; the output array starts uninitialised (np.empty), so a
        # block left out would hold whatever memory was there, not necessarily zeros
        import connttra_neuro.network as network_module

        rng = np.random.default_rng(8)
        enc = ThermometerEncoder(np.sort(rng.normal(size=(5, 2)), axis=1))
        monkeypatch.setattr(network_module, "_ENCODE_BLOCK", 3 * enc.n_outputs)
        for n in (1, 2, 3, 4, 7, 11):
            X = rng.normal(size=(n, 5)) * 3
            X = np.round(X).astype(np.int32) if integer else X
            want = np.array([[int(x[f] >= enc.thresholds[f, k]) for f in range(5) for k in range(2)] for x in X])
            for _ in range(3):  # fresh memory each time: a row left out shows as soon as it holds anything
                got = enc.encode(X)
                np.testing.assert_array_equal(got, want)
                got[:] = 1  # freed with ones: a later encode reusing it must not show them

    def test_infinite_features_are_refused_as_fit_refuses_them(self):
        # encode took them (inf >= t fires), but a NIR graph's encoder Linear makes inf * 0 = NaN of the other
        # features, so the export could not reproduce the spikes; fit refuses them, and now encode does too
        enc = ThermometerEncoder(np.array([[0.0], [1.0]]))
        for bad in (np.inf, -np.inf):
            with pytest.raises(NetworkError, match=r"2 sample\(s\) contain NaN or infinite values \(first: row 1, "
                                                   r"an infinite value\); features must be finite"):
                enc.encode(np.array([[0.0, 1.0], [bad, 0.0], [1.0, bad]], np.float32))

    def test_integer_features_compare_exactly_beyond_float64(self):
        # float64 holds integers exactly only up to 2**53: 2**53 + 3 >= 2**53 + 4 came out true
        enc = ThermometerEncoder(np.array([[float(2**53 + 4)], [-float(2**60)]]))
        x = np.array([[2**53 + 3, -2**60 - 1], [2**53 + 4, -2**60], [2**63 - 1, -2**63]], np.int64)
        np.testing.assert_array_equal(enc.encode(x), [[0, 0], [1, 1], [1, 0]])
        big = ThermometerEncoder(np.array([[float(2**63)], [2.0**64], [np.inf]]))  # above int64: never fire
        u = np.array([[2**63, 2**64 - 1, 2**64 - 1]], np.uint64)
        np.testing.assert_array_equal(big.encode(u), [[1, 0, 0]])
        np.testing.assert_array_equal(big.encode(np.array([[2**63 - 1, 0, 5]], np.int64)), [[0, 0, 0]])

    @pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.int64, np.uint64])
    def test_integer_features_encode_as_their_float64_values(self, dtype):
        # where float64 is exact (every value here), the integer comparison gives the float comparison's spikes
        info = np.iinfo(dtype)
        rng = np.random.default_rng(int(info.bits))
        lo, hi = max(int(info.min), -1000), min(int(info.max), 1000)
        X = rng.integers(lo, hi + 1, size=(200, 6)).astype(dtype)
        X[0], X[1] = lo, hi
        t = np.sort(np.concatenate([rng.uniform(lo - 5, hi + 5, size=(6, 3)), np.round(rng.uniform(lo, hi, (6, 2))),
                                    np.full((6, 1), float(info.max) + 0.5)], axis=1), axis=1)
        t[0, 0], t[1, -1] = -np.inf, np.inf
        enc = ThermometerEncoder(t)
        np.testing.assert_array_equal(enc.encode(X), enc.encode(X.astype(np.float64)))

    @pytest.mark.parametrize(
        "X, message",
        [
            (np.zeros((2, 3)), r"expected samples of shape \(n, 2\)"),
            (np.array([[np.nan, 0]]), "contain NaN"),
            (np.array([["a", "b"]]), "real numbers"),
        ],
    )
    def test_encode_errors(self, X, message):
        enc = ThermometerEncoder(np.zeros((2, 1)))
        with pytest.raises(NetworkError, match=message):
            enc.encode(X)

    def test_encoded_spikes_given_as_features_are_named(self):
        # verify(net, targets, net.encode(X), y) or est.predict(spikes) said only "expected samples of shape
        # (n, 64), got (60, 128)"; the spikes have the encoder's output count, which the message now says
        from connttra_neuro import predict
        from connttra_neuro.verify import verify

        net = random_network((4, 5, 3), levels=2)
        spikes = net.encode(np.random.default_rng(0).random((6, 4)))
        hint = r"\(8 columns: the input spikes network.encode\(X\) makes; give the raw features, which the network"
        for call in (lambda: net.encode(spikes), lambda: verify(net, "reference", spikes, np.zeros(6, int)),
                     lambda: predict(net, spikes)):
            with pytest.raises(ValueError, match=hint):
                call()
        with pytest.raises(NetworkError, match=r"got \(6, 7\)$"):  # another count: no such guess
            net.encode(np.zeros((6, 7)))

    def test_fit_errors(self):
        with pytest.raises(NetworkError, match="levels must be a positive integer"):
            ThermometerEncoder.fit(np.zeros((3, 2)), levels=0)
        with pytest.raises(NetworkError, match="2-D"):
            ThermometerEncoder.fit(np.zeros(3))
        with pytest.raises(NetworkError, match="NaN or infinite"):
            ThermometerEncoder.fit(np.array([[0.0], [np.inf]]))


@pytest.mark.parametrize("kw, match", [({"layer_sizes": (2, -1, 2)}, "positive integers"),
                                       ({"layer_sizes": (2, 2.5, 2)}, "positive integers"),
                                       ({"layer_sizes": (2, 3), "levels": 0}, "levels"),
                                       ({"layer_sizes": (2, 3), "density": 2}, "density"),
                                       ({"layer_sizes": ("a", 3, 2)}, "positive integers"),  # was int()'s error
                                       ({"layer_sizes": (2, 3), "levels": "2"}, "levels"),
                                       ({"layer_sizes": (2, 3), "density": "0.5"}, "density")])
def test_random_network_names_a_bad_argument(kw, match):
    with pytest.raises(NetworkError, match=match):
        random_network(**kw)


def test_the_encoder_cuts_between_values_near_float64_s_maximum():
    # (a + b) / 2 overflowed to inf there, and the feature never fired (a silent loss of a feature)
    from connttra_neuro.network import ThermometerEncoder

    X = np.array([[1e308, -1e308], [1.7e308, -1.7e308]] * 5)
    t = ThermometerEncoder.fit(X, 1).thresholds
    assert np.all(np.isfinite(t)) and 1e308 < t[0, 0] < 1.7e308 and -1.7e308 < t[1, 0] < -1e308
    assert ThermometerEncoder(t).encode(X)[:2].tolist() == [[0, 1], [1, 0]]


def test_the_ir_is_unhashable_by_its_own_name_not_its_arrays():
    # __hash__ = None was overridden by the dataclass (frozen with eq=True generates a hash of the fields), so
    # hash(network) or a network in a set failed deep inside with "unhashable type: 'numpy.ndarray'"
    net = random_network((4, 8, 3), seed=1)
    for part in (net, net.encoder, net.hidden[0], net.output):
        with pytest.raises(TypeError, match=f"unhashable type: '{type(part).__name__}'"):
            hash(part)
    assert net == random_network((4, 8, 3), seed=1) and net.hidden[0] == net.hidden[0]  # equality as before
    with pytest.raises(dataclasses.FrozenInstanceError):
        net.metadata = {}


def test_the_network_s_docstring_example_builds_one_from_arrays_and_runs():
    # help(TernaryNetwork) is where someone bringing weights from another trainer looks; no page shows it
    import doctest

    from connttra_neuro import TernaryNetwork

    (test,) = doctest.DocTestFinder(recurse=False).find(TernaryNetwork, "TernaryNetwork")
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.summarize(verbose=False) == (0, len(test.examples)) and len(test.examples) >= 5


def test_the_package_s_public_names_all_load_on_first_use():
    # they load lazily (connttra_neuro.__getattr__, from _EXPORTS); __all__ stays literal for linters
    import connttra_neuro

    assert sorted(connttra_neuro.__all__) == sorted(connttra_neuro._EXPORTS)
    for name in connttra_neuro.__all__:
        assert getattr(connttra_neuro, name) is getattr(getattr(connttra_neuro, connttra_neuro._EXPORTS[name]), name)
