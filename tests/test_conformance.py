"""One battery of networks, run on every registered target, compared with the reference.

Brian2-feature-test style: a target joins this suite by being registered in
hardware_targets/registry.py. Equality is exact: hidden spikes of every layer,
output scores and the predicted class. "Close" is a bug.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from hardware_targets import get_target, target_names
from hardware_targets.reference import forward

from .networks import conformance_networks, input_spikes

NETWORKS = conformance_networks()
# Lava and Brian2 start runtimes: give every case a hard limit so a hang fails instead of blocking CI.
CASE_TIMEOUT_S = 120


# targets whose runtime has a marker of its own, so `-m "not lava"` / `-m "not brian2"` skip them here too
MARKS = {"loihi2": pytest.mark.lava, "brian2": pytest.mark.brian2}


@pytest.fixture(scope="module", params=[pytest.param(name, marks=MARKS[name]) if name in MARKS else name
                                        for name in target_names()])
def target(request):
    return get_target(request.param)


@pytest.mark.timeout(CASE_TIMEOUT_S)
@pytest.mark.parametrize("case", list(NETWORKS))
def test_target_matches_reference(target, case):
    network = NETWORKS[case]
    # crc32, not hash(): str hashes change from run to run
    spikes = input_spikes(network, n=30, seed=zlib.crc32(case.encode()))
    want_scores, want_hidden = forward(network, spikes, record_hidden=True)

    result = target.run(target.compile(network), spikes, record_hidden=True)

    assert result.hidden_spikes is not None and len(result.hidden_spikes) == len(network.hidden)
    for l, (got, want) in enumerate(zip(result.hidden_spikes, want_hidden, strict=True)):
        diff = np.argwhere(np.asarray(got) != want)
        assert diff.size == 0, f"{target.name}: hidden layer {l} differs at (sample, neuron) {diff[:5].tolist()}"
    np.testing.assert_array_equal(result.scores, want_scores, err_msg=f"{target.name}: output scores differ")
    np.testing.assert_array_equal(result.predictions, np.argmax(want_scores, axis=1))


@pytest.mark.timeout(CASE_TIMEOUT_S)
def test_an_empty_run_is_alike_on_every_target(target):
    # loihi2 said steps=0 for no samples where the others say L (a sample's latency, as n + L counts)
    network = NETWORKS["2 hidden, thermometer"]
    result = target.run(target.compile(network), input_spikes(network)[:0], record_hidden=True)
    assert result.scores.shape == (0, network.n_classes) and result.steps == network.n_weight_layers
    assert [h.shape for h in result.hidden_spikes] == [(0, layer.weights.shape[0]) for layer in network.hidden]


def test_reference_pipelined_target_matches_direct():
    # the registry's reference runs "direct"; its step-by-step twin must agree on every case
    pipelined = get_target("reference", mode="pipelined")
    for case, network in NETWORKS.items():
        spikes = input_spikes(network, n=25, seed=1)
        got = pipelined.deploy(network, spikes, record_hidden=True)
        scores, hidden = forward(network, spikes, record_hidden=True)
        np.testing.assert_array_equal(got.scores, scores, err_msg=case)
        for a, b in zip(got.hidden_spikes, hidden, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=case)
        assert got.steps == len(spikes) + network.n_weight_layers


def test_tied_scores_go_to_lowest_class():
    network = NETWORKS["tied scores"]
    result = get_target("reference").deploy(network, input_spikes(network))
    assert (result.predictions == 0).all()


@pytest.mark.parametrize("target", target_names())
def test_run_without_compile_is_named_on_every_target(target):
    # the reference target failed with an AttributeError deep inside; every target now says it alike
    net = conformance_networks()["1 hidden"]
    with pytest.raises(TypeError, match=r"run\(\) needs what compile\(\) returned, got TernaryNetwork"):
        get_target(target).run(net, input_spikes(net, 3))
