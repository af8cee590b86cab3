"""Loihi 2 mapping, limits, resources and exports: pure numpy / h5py / nir, no Lava runtime."""

from __future__ import annotations

import h5py
import nir
import numpy as np
import pytest

from connttra_neuro.network import HiddenLayer, OutputLayer, random_network
from hardware_targets import TargetLimitError, get_target
from hardware_targets.loihi2 import Loihi2Target, chip, export_netx, export_nir
from hardware_targets.loihi2.mapping import (
    ACT_SHIFT,
    DECAY_FULL,
    VTH_MAX,
    common_factor,
    map_network,
    network_resources,
)
from hardware_targets.reference import ReferenceTarget, forward

from .networks import conformance_networks, input_spikes, run_nir_graph


# -- an independent model of Lava's bit-accurate LIF/Sparse, written from targets-facts.md --------
def _lava_fixed_point(nmap, spikes, drop=None):
    """Loihi fixed point per targets-facts.md: truncate weights, u = a<<6, v = u + bias, spike v > vth<<6.
    ``drop``: the low weight bits the chip drops (default: Loihi's, for a mixed-sign weight)."""
    if drop is None:
        drop = chip.WEIGHT_BITS - nmap.weight_bits + 1
    s = spikes.astype(np.int64)
    hidden = []
    for lm in nmap.layers:
        w = (lm.weights.astype(np.int64) >> drop) << drop
        a = s @ w.T
        if lm.kind == "output":
            return lm.unit * (a // nmap.weight_scale) + lm.offset, hidden
        u = a << ACT_SHIFT
        v = u + (lm.bias_mant.astype(np.int64) << lm.bias_exp)
        s = (v > (lm.vth << ACT_SHIFT)).astype(np.int64)
        hidden.append(s.astype(np.uint8))


@pytest.mark.parametrize("weight_bits", [8, 5, 3, 2])  # 2: the fewest that hold a ternary weight
@pytest.mark.parametrize("case", list(conformance_networks()))
def test_fixed_point_mapping_matches_reference(case, weight_bits):
    network = conformance_networks()[case]
    widest = max(np.abs(l.weights).max() // common_factor(l.weights) for l in network.layers)
    if widest * (1 << (9 - weight_bits)) > 256 - (1 << (9 - weight_bits)):
        pytest.skip("weights too wide for this many bits (the limit test covers the error)")
    spikes = input_spikes(network, n=60, seed=5)
    scores, hidden = _lava_fixed_point(map_network(network, weight_bits=weight_bits), spikes)
    want_scores, want_hidden = forward(network, spikes, record_hidden=True)
    np.testing.assert_array_equal(scores, want_scores)
    for got, want in zip(hidden, want_hidden, strict=True):
        np.testing.assert_array_equal(got, want)


def test_mapping_doubles_weights_because_loihi_drops_their_lsb():
    # Loihi drops bit 0 of a mixed-sign weight (+1 -> 0, -1 -> -2), so the mapping stores 2w and
    # divides the output by 2. A map at scale 1 (weights w, bias vth + 1 - T so that a >= T fires)
    # is right on a chip that keeps every weight bit, and wrong on one that drops bit 0: the
    # truncation alone is what the doubling is for.
    import dataclasses

    network = random_network((30, 12, 4), seed=2)
    nmap = map_network(network)
    assert nmap.weight_scale == 2
    for layer, mapped in zip(network.layers, nmap.layers, strict=True):
        np.testing.assert_array_equal(mapped.weights, 2 * layer.weights.astype(np.int64))
    spikes = input_spikes(network, n=60, seed=1)
    want_scores, want_hidden = forward(network, spikes, record_hidden=True)

    def at_scale_1(m):
        if m.kind == "output":
            return dataclasses.replace(m, weights=m.weights // 2)
        vth = max(0, int(m.thresholds.max()) + 1 - 4096)
        return dataclasses.replace(m, weights=m.weights // 2, vth=vth,
                                   bias_mant=(vth + 1 - m.thresholds).astype(np.int32))

    halved = dataclasses.replace(nmap, weight_scale=1, layers=tuple(at_scale_1(m) for m in nmap.layers))
    scores, hidden = _lava_fixed_point(halved, spikes, drop=0)  # a chip that keeps bit 0
    np.testing.assert_array_equal(scores, want_scores)
    np.testing.assert_array_equal(hidden[0], want_hidden[0])
    scores, hidden = _lava_fixed_point(halved, spikes)  # Loihi: bit 0 dropped
    assert not np.array_equal(hidden[0], want_hidden[0])
    scores, hidden = _lava_fixed_point(nmap, spikes)  # the doubled map survives the truncation
    np.testing.assert_array_equal(scores, want_scores)
    np.testing.assert_array_equal(hidden[0], want_hidden[0])


def test_extreme_thresholds_are_clamped_without_changing_spikes():
    net = random_network((30, 4, 3), seed=3)
    t = np.array([10**6, -(10**6), 0, 5], dtype=np.int32)
    net = net.replace(hidden=(HiddenLayer(net.hidden[0].weights, t),))
    nmap = map_network(net)
    assert nmap.layers[0].vth <= VTH_MAX
    spikes = input_spikes(net, n=50)
    scores, hidden = _lava_fixed_point(nmap, spikes)
    want_scores, want_hidden = forward(net, spikes, record_hidden=True)
    np.testing.assert_array_equal(hidden[0], want_hidden[0])
    np.testing.assert_array_equal(scores, want_scores)
    assert hidden[0][:, 0].sum() == 0 and hidden[0][:, 1].all()


def test_large_threshold_uses_vth_and_stays_exact():
    # thresholds far above what the 13-bit bias alone can hold: vth takes the common part
    rng = np.random.default_rng(0)
    w = np.ones((5, 3000), dtype=np.int8)
    t = np.array([2500, 2600, 2700, 2800, 2900])
    net = random_network((3000, 5, 2), seed=0)
    net = net.replace(hidden=(HiddenLayer(w, t),))
    nmap = map_network(net)
    assert nmap.layers[0].vth > 0
    spikes = (rng.random((80, 3000)) < rng.uniform(0.8, 1.0, (80, 1))).astype(np.uint8)
    scores, hidden = _lava_fixed_point(nmap, spikes)
    _, want_hidden = forward(net, spikes, record_hidden=True)
    np.testing.assert_array_equal(hidden[0], want_hidden[0])
    assert 0 < want_hidden[0].sum() < want_hidden[0].size  # the boundary is actually exercised


# -- limits: each names limit, layer and value ----------------------------------------------------
def _raises(network, limit_part, layer, **target_options):
    with pytest.raises(TargetLimitError) as info:
        Loihi2Target(**target_options).check(network)
    err = info.value
    assert limit_part in err.limit and err.layer == layer, str(err)
    assert err.target == "loihi2" and str(err.value) in str(err) and layer in str(err)
    return err


def _pm2(neurons: int, inputs: int = 4000) -> np.ndarray:
    """Weights 2, -2, 2, -2, ... with one -1 (no common factor, which the mapping would divide out): drives
    -3999..4000."""
    w = np.tile(np.array([2, -2], np.int8), (neurons, inputs // 2))
    w[:, 1] = -1
    return w


def test_limit_weight_precision():
    net = random_network((6, 4, 3), discrete_set=(-128, 0, 127), seed=1)
    err = _raises(net, "weight precision", "hidden layer 0")
    assert "-128" in str(err.value)
    assert "8 bits is the most Loihi 2 has" in str(err) and "more weight_bits" not in str(err)  # at 8 already
    wide = random_network((6, 4, 3), discrete_set=(-2, -1, 0, 1, 2), seed=1)
    err = _raises(wide, "weight precision", "hidden layer 0", weight_bits=2)
    assert "use more weight_bits (Loihi2Target(weight_bits=...) or --weight-bits, up to 8)" in str(err)
    assert "multiple of" not in str(err)  # no common factor here


def test_common_weight_factor_is_divided_out_exactly():
    # a layer's common factor g is divided out (thresholds ceil(T / g)) and the scores multiplied back on the
    # host: (-100, 0, 100) maps like ternary (a random 784-256-10 one was refused for its 16-bit drives)
    net = conformance_networks()["common weight factor 100 / 3"]
    nmap = map_network(net)
    assert [lm.unit for lm in nmap.layers] == [100, 3, 100]
    np.testing.assert_array_equal(nmap.layers[0].thresholds[:2], [1, -1])  # ceil(1 / 100), ceil(-101 / 100)
    spikes = input_spikes(net, n=200, seed=3)
    want_scores, want_hidden = forward(net, spikes, record_hidden=True)
    assert 0 < want_hidden[0].sum() < want_hidden[0].size
    for bits in (8, 2):  # at 2 bits too: the divided weights are ternary
        scores, hidden = _lava_fixed_point(map_network(net, weight_bits=bits), spikes)
        np.testing.assert_array_equal(scores, want_scores)
        for got, want in zip(hidden, want_hidden, strict=True):
            np.testing.assert_array_equal(got, want)
    # (-2, 0, 2) at 2 weight bits: refused before, a ternary layer now; so is a 784-256-10 (-100, 0, 100)
    Loihi2Target(weight_bits=2).check(random_network((6, 4, 3), discrete_set=(-2, 0, 2), seed=1))
    Loihi2Target().check(random_network((784, 256, 10), discrete_set=(-100, 0, 100), seed=1))


def test_limit_messages_say_a_layer_was_divided_by_its_common_factor():
    w = np.full((2, 4000), 5, dtype=np.int8)
    w[:, 0] = 10  # factor 5: the divided drive, 16 * (1 * 3999 + 2), still overflows 16 bits at 5 weight bits
    net = random_network((4000, 2, 2), discrete_set=(-10, -5, 0, 5, 10), seed=1).replace(
        hidden=(HiddenLayer(w, np.zeros(2, np.int32)),)
    )
    err = _raises(net, "activation width", "hidden layer 0", weight_bits=5)
    assert "every weight of this layer is a multiple of 5, so it is mapped divided by 5" in str(err)


def test_limit_fan_in():
    net = random_network((4097, 3, 2), density=0.001, seed=1)
    err = _raises(net, "fan-in", "hidden layer 0")
    assert err.value == 4097 and err.allowed == chip.LOIHI2.fan_in_axons_per_core
    assert "(4097 features x 1 thermometer level); use fewer thermometer levels or fewer input features" in str(err)


def test_limit_fan_in_hint_names_the_layer_that_feeds_it():
    # a layer fed by hidden neurons was told to "use fewer thermometer levels or fewer input features"
    for sizes, layer, feeder in (((10, 5000, 3, 2), "hidden layer 1", "hidden layer 0"),
                                 ((10, 5000, 2), "output layer", "hidden layer 0")):
        err = _raises(random_network(sizes, density=0.001, seed=1), "fan-in", layer)
        assert err.value == 5000  # what is counted is unchanged: the layer's inputs
        assert str(err).endswith(f"its inputs are the 5000 neurons of {feeder}; use fewer neurons in {feeder}")
        assert "thermometer" not in str(err)
    err = _raises(random_network((1000, 5), levels=5, density=0.001, seed=1), "fan-in", "output layer")
    assert "(1000 features x 5 thermometer levels)" in str(err)  # no hidden layer: the encoder feeds the output


def test_limit_activation_width():
    w = np.full((2, 4000), 5, dtype=np.int8)  # 2 * (5 * 3999 + 4) = 39,998 > 32,767
    w[:, 0] = 4  # no common factor, else the mapping divides it out
    net = random_network((4000, 2, 2), discrete_set=(-5, 0, 4, 5), seed=1).replace(
        hidden=(HiddenLayer(w, np.zeros(2, np.int32)),)
    )
    err = _raises(net, "activation width", "hidden layer 0")
    assert err.value == 39_998


def test_limit_activation_width_output_layer():
    w = np.full((2, 4000), -5, dtype=np.int8)
    w[:, 0] = -4  # no common factor
    net = random_network((4000, 2), discrete_set=(-5, -4, 0, 5), seed=1)
    net = net.replace(output=OutputLayer(w, np.zeros(2, np.int32)))
    _raises(net, "activation width", "output layer")


def test_limit_threshold_range_bias_mantissa():
    # thresholds -3000 and 3000 share one vth; 2 * 6000 does not fit the 13-bit bias mantissa
    w = _pm2(2)
    net = random_network((4000, 2, 2), discrete_set=(-2, -1, 0, 1, 2), seed=1)
    net = net.replace(hidden=(HiddenLayer(w, np.array([-3000, 3000])),))
    err = _raises(net, "threshold range", "hidden layer 0")
    assert "-3000..3000" in str(err.value) and "bias mantissa" in err.limit
    # the same spread at half the size fits
    Loihi2Target().check(net.replace(hidden=(HiddenLayer(w, np.array([-1000, 1000])),)))


def test_limit_activation_width_at_its_boundary():
    # the 16-bit synaptic input: a largest possible drive of 2 * 16383 = 32,766 fits, 2 * 16384 = 32,768 does
    # not (it would wrap or saturate in Lava); weights 4 with a 5 and a 7 have no common factor to divide out
    w = np.full((2, 4095), 4, np.int8)
    w[:, 0], w[:, 1] = 5, 7  # 4093 * 4 + 12 = 16384
    net = random_network((4095, 2, 2), discrete_set=(0, 3, 4, 5, 7), seed=1)
    err = _raises(net.replace(hidden=(HiddenLayer(w, np.zeros(2, np.int32)),)), "activation width", "hidden layer 0")
    assert err.value == 32_768 and err.allowed == 32_767
    w[:, 2] = 3  # 16383
    Loihi2Target().check(net.replace(hidden=(HiddenLayer(w, np.zeros(2, np.int32)),)))


def test_limit_lowest_threshold_names_the_threshold_not_the_spread():
    # vth is unsigned: with every threshold low the bias alone carries them, down to -2047 at scale 2
    w = -np.ones((2, 3000), np.int8)
    net = random_network((3000, 2, 2), seed=0)
    err = _raises(net.replace(hidden=(HiddenLayer(w, np.array([-2500, -2400])),)), "lowest threshold",
                  "hidden layer 0")
    assert err.value == -2500 and err.allowed == ">= -2047" and "spread" not in str(err)
    Loihi2Target().check(net.replace(hidden=(HiddenLayer(w, np.array([-2047, -2047])),)))
    with pytest.raises(TargetLimitError, match="is -2048, the target allows >= -2047"):
        Loihi2Target().check(net.replace(hidden=(HiddenLayer(w, np.array([-2048, -2048])),)))


def _one_hidden(weights, thresholds):
    w = np.asarray(weights, np.int8)
    net = random_network((w.shape[1], w.shape[0], 2), discrete_set=(-2, -1, 0, 1, 2), seed=0)
    return net.replace(hidden=(HiddenLayer(w, np.array(thresholds)),))


def test_limit_threshold_spread_at_its_boundary():
    # the 13-bit bias mantissa shared through one vth: a spread of 4095 spans [-4096, 4094] (2 T is even), 4096 is
    # refused by name (not left to the mapping's internal assertion)
    fits = _one_hidden(_pm2(2), [-2000, 2095])
    lm = map_network(fits).layers[0]
    assert (int(lm.bias_mant.min()), int(lm.bias_mant.max())) == (-4096, 4094)
    err = _raises(_one_hidden(_pm2(2), [-2000, 2096]), "threshold range", "hidden layer 0")
    assert "spread 4096" in str(err.value) and err.allowed == 4095


def test_threshold_spread_error_offers_the_fewest_weight_bits_that_hold_it():
    # with weight_bits=2 the spread limit is 63; the message gave no fix and did not say more bits raise it
    net = _one_hidden(np.tile([1, -1], (2, 100)), [-50, 50])
    err = _raises(net, "threshold range", "hidden layer 0", weight_bits=2)
    assert err.allowed == 63 and "spread 100 (thresholds -50..50, neurons 0 and 1)" in str(err)
    assert "Fix: thresholds closer together, or fewer inputs or a smaller discrete set" in str(err)
    assert "weight_bits=3 (--weight-bits 3) holds these thresholds (spread up to 127, lowest -63)" in str(err)
    Loihi2Target(weight_bits=3).check(net)  # and it does
    # when no weight_bits can hold them, the message says so instead of offering bits
    wide = _one_hidden(_pm2(2), [-3000, 3000])
    err = _raises(wide, "threshold range", "hidden layer 0", weight_bits=7)
    assert "more weight_bits would not be enough: even 8 bits allow a spread of only 4095" in str(err)
    assert "weight_bits" not in str(_raises(wide, "threshold range", "hidden layer 0"))  # at 8 bits already


def test_threshold_errors_say_the_quoted_threshold_is_the_clamped_one():
    # the model's 67,625 never fires (drives reach 4,000) and was quoted as 4001 with no word of clamping
    net = _one_hidden(_pm2(3), [-3000, 67625, 0])
    err = _raises(net, "threshold range", "hidden layer 0")
    assert err.value == "threshold spread 7001 (thresholds -3000..4001, neurons 0 and 1 (the model holds 67625))"
    assert "thresholds are quoted as mapped" in str(err) and "same spikes" in str(err)
    # the same spikes indeed: the clamped threshold maps, and fires exactly as the model's
    fits = _one_hidden(_pm2(3), [100, 67625, 0])
    spikes = input_spikes(fits, n=30, seed=2)
    _, hidden = _lava_fixed_point(map_network(fits), spikes)
    np.testing.assert_array_equal(hidden[0], forward(fits, spikes, record_hidden=True)[1][0])
    # nothing clamped: nothing said about clamping
    assert "quoted as mapped" not in str(_raises(_one_hidden(_pm2(2), [-3000, 3000]),
                                                 "threshold range", "hidden layer 0"))


def test_lowest_threshold_error_gives_a_fix_and_the_model_value():
    err = _raises(_one_hidden(-np.ones((2, 3000)), [-67625, -2400]), "lowest threshold", "hidden layer 0")
    assert err.value == -3000 and "neuron 0's threshold (the model holds -67625)" in str(err)
    assert "(this one's sum to -3000). Fix: fewer or smaller negative weights into that neuron" in str(err)
    # at fewer weight bits the limit is higher (-127 at 4 bits) and more bits lower it
    net = _one_hidden(-np.ones((2, 300)), [-200, -150])
    err = _raises(net, "lowest threshold", "hidden layer 0", weight_bits=4)
    assert err.allowed == ">= -127"
    assert "weight_bits=5 (--weight-bits 5) holds these thresholds (spread up to 511, lowest -255)" in str(err)
    Loihi2Target(weight_bits=5).check(net)


def test_vth_limit_error_gives_a_fix(monkeypatch):
    # implied by the activation limit; lower the limit to see the message
    import hardware_targets.loihi2.mapping as mapping

    monkeypatch.setattr(mapping, "VTH_MAX", 100)
    err = _raises(_one_hidden(np.ones((2, 3000)), [2500, 2900]), "vth", "hidden layer 0")
    assert err.value == 2 * 2900 - 1 - 4096
    assert "largest threshold T = 2900 (neuron 1). Fix: fewer inputs or a smaller discrete set" in str(err)


@pytest.mark.parametrize("bad", [0, 1, 9, True, "8", float("nan"), 2.5, [8]])
def test_weight_bits_must_be_an_integer_in_range(bad):
    with pytest.raises(ValueError, match=r"weight_bits must be an integer in \[2, 8\], got"):
        Loihi2Target(weight_bits=bad)
    assert Loihi2Target(weight_bits=4.0).weight_bits == 4


def test_one_weight_bit_is_refused_at_construction_naming_the_minimum():
    # weight_bits=1 was accepted, then every network with a non-zero weight was refused at check()
    # ("|w| <= 0 (scaled [-0, 0])"): at 1 bit the scale is 256 and +1 (256) does not fit [-256, 255]
    with pytest.raises(ValueError, match=r"\[2, 8\], got 1 \(.*\+1 \(256\) cannot be stored; use weight_bits=2 or"):
        Loihi2Target(weight_bits=1)
    Loihi2Target(weight_bits=2).check(random_network((6, 5, 3), seed=1))  # the minimum holds a ternary net


def test_limit_cores_per_chip_and_neurons_per_core():
    net = random_network((10, 20, 2), seed=1)
    res = Loihi2Target().resources(net)
    assert res["cores"] == 2 and res["layers"][0]["cores"] == 1
    # a chip holds 128 cores; 1,100,000 neurons need more than 128 cores of 8,192
    big = network_resources(random_network((2, 3, 2), seed=0))
    assert big["constants"]["neurons_per_core"] == 8192
    wide = random_network((2, 9000), seed=0)
    assert Loihi2Target().resources(wide)["layers"][0]["cores"] == 2  # 9,000 neurons > 8,192 per core
    assert Loihi2Target(chip="loihi").resources(wide)["layers"][0]["cores"] == 9  # 1,024 per core


def test_limit_cores_error_names_cores():
    wide = random_network((2, 9000), seed=0)
    with pytest.raises(TargetLimitError) as info:
        Loihi2Target(chip="loihi", max_chips=1).check(random_network((2, 140_000), seed=0))
    assert info.value.limit == "cores" and info.value.value > 128
    assert "cores per layer: output layer 137 (140,000 neurons, 1,024 per core)" in str(info.value)
    Loihi2Target(chip="loihi").check(wide)  # 9 cores fit


def test_limit_cores_error_names_each_layers_cores_and_what_takes_them():
    # "cores is 131, the target allows 128 ... allow more chips (max_chips=)" did not say which layers
    # need the cores; the figures are the resources() report's
    dense = HiddenLayer(np.ones((2900, 2900), np.int8), np.zeros(2900, np.int32))  # 2900 * 2900 * 8 bits
    net = random_network((2900, 2, 2, 3), seed=0).replace(
        hidden=(dense, dense), output=OutputLayer(np.ones((3, 2900), np.int8), np.zeros(3, np.int32))
    )
    target = Loihi2Target(chip="loihi")
    per_layer = [(l["layer"], l["cores"]) for l in target.resources(net)["layers"]]
    assert per_layer == [("hidden layer 0", 65), ("hidden layer 1", 65), ("output layer", 1)]
    with pytest.raises(TargetLimitError, match="cores is 131, the target allows 128") as info:
        target.check(net)
    memory = "synaptic memory 67,280,000 bits, 1,048,576 per core"
    assert (f"cores per layer: hidden layer 0 65 ({memory}), hidden layer 1 65 ({memory}), "
            "output layer 1 (3 neurons, 1,024 per core). Loihi has 128 cores per chip; allow more chips "
            "(max_chips=2; --max-chips 2 on the command line)") in str(info.value)
    Loihi2Target(chip="loihi", max_chips=2).check(net)  # and that is enough


def test_bad_options_are_clear():
    for kwargs, match in (({"mode": "bit"}, "mode must be one of .*got 'bit'"),
                          ({"tiles": 0}, "tiles must be a positive integer, got 0"),
                          ({"chip": "truenorth"}, "chip must be one of .*got 'truenorth'"),
                          ({"weight_bits": 9}, r"weight_bits must be an integer in \[2, 8\], got 9"),
                          ({"max_chips": 0}, "max_chips must be a positive integer, got 0")):
        with pytest.raises(ValueError, match=match):
            Loihi2Target(**kwargs)


def test_registry_builds_loihi2_without_importing_lava():
    import subprocess
    import sys

    target = get_target("loihi2", mode="floating_pt", tiles=3)
    assert target.name == "loihi2" and target.mode == "floating_pt" and target.tiles == 3
    # a fresh interpreter: importing the target, checking and sizing a network never imports Lava
    code = (
        "import sys; from hardware_targets import get_target; from connttra_neuro.network import random_network;"
        "t = get_target('loihi2'); n = random_network((5, 3, 2)); t.check(n); t.resources(n); t.compile(n);"
        "print(any(m == 'lava' or m.startswith('lava.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_resources_report_784_256_10():
    net = random_network((784, 256, 10), density=0.5, seed=0)
    res = Loihi2Target().resources(net)
    assert res["neurons"] == 266 and res["input_neurons"] == 784
    assert res["synapses"] == sum(int(np.count_nonzero(l.weights)) for l in net.layers)
    assert res["synaptic_memory_bits"] == sum(l["synaptic_memory_bits"] for l in res["layers"])
    assert res["cores"] == sum(l["cores"] for l in res["layers"]) and res["chips"] == 1
    for key in ("cores_per_chip", "neurons_per_core", "synaptic_memory_bits_per_core", "energy_per_synaptic_op_pJ"):
        assert key in res["constants"]
    assert res["constants"]["energy_per_synaptic_op_pJ"] == 23.6
    assert res["constants"]["energy_per_neuron_update_pJ"] == 52.0
    # the chip does not add the output biases: the report says what the host does
    assert res["on_host"] == "output biases (added where the scores are read)"
    factor = network_resources(conformance_networks()["common weight factor 100 / 3"])
    assert factor["on_host"].endswith("and the output weights' common factor 100 (the scores multiplied by it)")


# -- exports -------------------------------------------------------------------------------------
def test_nir_round_trip_reproduces_the_network(tmp_path):
    net = random_network((12, 7, 5, 4), levels=3, seed=4)
    path = export_nir(net, tmp_path / "net.nir")
    assert list(tmp_path.iterdir()) == [path]  # atomic: no temporary file left behind
    graph = nir.read(path)
    np.testing.assert_array_equal(graph.nodes["hidden_0"].weight, net.hidden[0].weights)
    np.testing.assert_array_equal(graph.nodes["hidden_1_threshold"].threshold, net.hidden[1].thresholds - 0.5)
    np.testing.assert_array_equal(graph.nodes["output"].bias, net.output.biases)
    X = np.random.default_rng(1).random((200, 12))
    X[:5] = net.encoder.thresholds[:, 1]  # values exactly on an encoder threshold: x >= t must fire
    want, _ = forward(net, net.encode(X))
    np.testing.assert_array_equal(run_nir_graph(graph, X), want)


def test_nir_keeps_the_model_metadata_but_not_the_training_machine_s_data_folder(tmp_path):
    # a model trained with --data-path records that folder for evaluate; an export carried it to wherever
    # the graph goes (and one run in two folders gave two different exports)
    import json

    net = random_network((6, 4, 3), seed=1)
    net = net.replace(metadata={"dataset": "mnist", "data_path": "/home/me/data/mnist", "seed": 0})
    meta = json.loads(nir.read(export_nir(net, tmp_path / "net.nir")).metadata["model_metadata"])
    assert meta == {"dataset": "mnist", "seed": 0}


def test_nir_metadata_states_the_total_latency_and_which_nodes_add_a_step(tmp_path):
    # "delay_steps_per_weight_layer: 1" left it open whether the encoder's Linear counts: a simulator
    # delaying every Linear/Affine node got L + 1 steps
    net = random_network((12, 7, 5, 4), levels=3, seed=4)
    graph = nir.read(export_nir(net, tmp_path / "net.nir"))
    meta = graph.metadata
    assert "delay_steps_per_weight_layer" not in meta
    assert meta["latency_steps"] == net.n_weight_layers == 3
    # the toolkit's own latency: the pipelined reference takes N + L steps for N samples
    assert ReferenceTarget("pipelined").deploy(net, input_spikes(net, n=9)).steps == 9 + meta["latency_steps"]
    delayed = meta["delayed_nodes"].split(", ")
    assert delayed == ["hidden_0", "hidden_1", "output"] and len(delayed) == meta["latency_steps"]
    weight_nodes = {name for name, node in graph.nodes.items() if isinstance(node, (nir.Linear, nir.Affine))}
    assert weight_nodes - set(delayed) == {"encoder"}  # the one weight node without a step
    assert "encoder nodes (encoder Linear, encoder_threshold) and the Threshold nodes add none" in meta["semantics"]


@pytest.mark.parametrize("common_factor_net", [False, True])
def test_netx_file_follows_the_schema_and_holds_the_mapping(tmp_path, common_factor_net):
    # a hidden layer with a common weight factor g is stored divided by it, as the loihi2 target maps it; the
    # output layer holds 2 W itself, since netx has no host step to multiply the scores back
    net = conformance_networks()["common weight factor 100 / 3"] if common_factor_net else random_network(
        (10, 6, 5, 3), levels=2, seed=2)
    path = export_netx(net, tmp_path / "net.h5")
    nmap = map_network(net)
    units = [common_factor(l.weights) if common_factor_net else 1 for l in net.hidden] + [1]
    with h5py.File(path, "r") as f:
        layers = f["layer"]
        assert sorted(layers, key=int) == ["0", "1", "2"]  # one dense layer per weight layer
        assert layers["0/weight"].shape == (6, net.n_inputs) and f.attrs["n_inputs"] == net.n_inputs
        for i, lm in enumerate(nmap.layers):
            g = layers[str(i)]
            # type fields as slayer writes them: a one-element S10 array (netx's NIR converter reads type[0])
            assert g["type"][()].tolist() == [b"dense"] and g["shape"][()].tolist() == [lm.weights.shape[0]]
            neuron = g["neuron"]
            assert neuron["type"][()].tolist() == [b"CUBA"]
            assert neuron["iDecay"][()] - 1 == DECAY_FULL and neuron["vDecay"][()] == DECAY_FULL
            np.testing.assert_array_equal(g["weight"][()], 2 * (net.layers[i].weights.astype(int) // units[i]))
            if lm.kind == "hidden":
                assert neuron["vThMant"][()] == lm.vth
                np.testing.assert_array_equal(g["bias"][()], lm.bias_mant)
            else:
                assert neuron["vThMant"][()] == VTH_MAX
                np.testing.assert_array_equal(g["bias"][()], 2 * net.output.biases)
        np.testing.assert_array_equal(f.attrs["encoder_thresholds"], net.encoder.thresholds)
    # the stored numbers alone reproduce the network's spikes (netx semantics: bias_exp 6, v > vth << 6)
    spikes = input_spikes(net, n=50)
    with h5py.File(path, "r") as f:
        s = spikes.astype(np.int64)
        for i in range(len(nmap.layers) - 1):
            g = f["layer"][str(i)]
            v = (s @ g["weight"][()].astype(np.int64).T << 6) + (g["bias"][()].astype(np.int64) << 6)
            s = (v > (int(g["neuron/vThMant"][()]) << 6)).astype(np.int64)
        g = f["layer"][str(len(nmap.layers) - 1)]
        v = (s @ g["weight"][()].astype(np.int64).T << 6) + (g["bias"][()].astype(np.int64) << 6)
        score_scale = int(f.attrs["score_scale"])
    want, _ = forward(net, spikes)
    assert score_scale == 128
    np.testing.assert_array_equal(v // score_scale, want)  # the output voltage is 128 * score


def test_netx_semantics_attribute_describes_netx_not_the_nir_graph(tmp_path):
    # it described NIR's Threshold/Affine nodes and memoryless neurons; a netx user needs the netx rule,
    # how to load the file (reset_interval=1, as docs/targets/loihi2.md says) and how to read scores
    net = random_network((10, 6, 5, 3), levels=2, seed=2)
    with h5py.File(export_netx(net, tmp_path / "net.h5"), "r") as f:
        text = f.attrs["semantics"]
        score_scale = int(f.attrs["score_scale"])
    assert "Threshold node" not in text and "Affine" not in text and "no state" not in text
    for said in ("lava.lib.dl.netx.hdf5.Network(net_config=path, reset_interval=1)", "plain LIF",
                 "v/4096", "v = (weight @ s << 6) + (bias << 6)", "fires iff v > vThMant << 6",
                 "bias = vThMant + 1 - 2 T", "W @ s >= T", f"score_scale = {score_scale}",
                 "scores = round(v / score_scale)", "encoder_thresholds[f, k]"):
        assert said in text, said


def test_exports_refuse_networks_loihi_cannot_hold(tmp_path):
    net = random_network((6, 4, 3), discrete_set=(-128, 0, 127), seed=1)
    with pytest.raises(TargetLimitError):
        export_netx(net, tmp_path / "bad.h5")
    big_bias = random_network((6, 4, 3), seed=1)
    big_bias = big_bias.replace(output=OutputLayer(big_bias.output.weights, np.array([0, 5000, 0])))
    with pytest.raises(TargetLimitError, match="output bias") as info:
        export_netx(big_bias, tmp_path / "bias.h5")
    assert info.value.value == 5000
    assert not list(tmp_path.iterdir())  # nothing half-written
    # -2048 fits (2 b = -4096), +2048 does not: the error names the one outside, not the first largest
    edge = big_bias.replace(output=OutputLayer(big_bias.output.weights, np.array([-2048, 2048, 0])))
    with pytest.raises(TargetLimitError, match="output bias") as info:
        export_netx(edge, tmp_path / "edge.h5")
    assert info.value.value == 2048


def test_netx_refuses_a_network_too_big_for_the_chip(tmp_path):
    # check_netx ran each layer's limits but not the whole network's cores, so a network the loihi2 target
    # refuses was exported (docs: "the same checks as the loihi2 target")
    from connttra_neuro.network import TernaryNetwork, ThermometerEncoder

    C = chip.LOIHI2.cores_per_chip * chip.LOIHI2.neurons_per_core + 1
    w = np.zeros((C, 2), np.int8)
    w[:, 0] = 1
    net = TernaryNetwork(ThermometerEncoder(np.array([[0.5], [0.5]])), (), OutputLayer(w, np.zeros(C, np.int32)))
    for refuse in (Loihi2Target().check, lambda n: export_netx(n, tmp_path / "x.net")):
        with pytest.raises(TargetLimitError, match="cores is 129, the target allows 128"):
            refuse(net)
    assert not list(tmp_path.iterdir())


def test_netx_refuses_an_output_layer_only_the_target_can_divide_by_its_common_factor(tmp_path):
    # the loihi2 target maps a (-100, 0, 100) read-out of 256 neurons as ternary (drives up to 2 * 256) and
    # multiplies the scores by 100 on the host; a netx file's output layer must hold 2 * 100 W itself, whose
    # sums reach 2 * 100 * 256 = 51,200: more than the 16-bit synaptic input
    net = random_network((6, 256, 3), discrete_set=(-100, 0, 100), seed=1)
    net = net.replace(output=OutputLayer(np.full((3, 256), 100, np.int8), np.zeros(3, np.int32)))
    Loihi2Target().check(net)
    with pytest.raises(TargetLimitError, match="output activation width in netx") as info:
        export_netx(net, tmp_path / "bad.h5")
    assert info.value.value == 51_200 and "every output weight is a multiple of 100" in str(info.value)
    assert "the loihi2 target itself runs this network exactly" in str(info.value)
    assert not list(tmp_path.iterdir())
    # -128 in a set with factor 64: the target holds -2, a netx output layer would need 2 * -128 = -256
    w = np.zeros((3, 256), np.int8)
    w[:, :2] = [-128, 64]
    net = net.replace(discrete_set=(-128, -100, 0, 64, 100), output=OutputLayer(w, np.zeros(3, np.int32)))
    Loihi2Target().check(net)
    with pytest.raises(TargetLimitError, match=r"output weight precision in netx .* is -128 \(scaled -256\)"):
        export_netx(net, tmp_path / "bad.h5")


@pytest.mark.parametrize("weights, largest, what", [([[-1, 0, -1], [0, -1, 0]], 0, "has no positive weight"),
                                                    ([[-1, -1, -1], [-1, -1, -1]], -1, "has no positive weight"),
                                                    ([[0, 0, 0], [0, 0, 0]], 0, "weights are 0")])
def test_netx_export_refuses_layers_without_a_positive_weight(tmp_path, weights, largest, what):
    # netx re-optimises each layer's weights on loading and gets these wrong (drive halved or zeroed)
    # or fails (all zero); the loihi2 target itself runs them, so only the export refuses
    from hardware_targets.loihi2 import check_netx

    net = random_network((3, 2, 2), seed=0)
    net = net.replace(hidden=(HiddenLayer(np.array(weights, np.int8), np.zeros(2, np.int32)),))
    Loihi2Target().check(net)
    with pytest.raises(TargetLimitError, match=f"hidden layer 0: largest weight of a layer in a netx file is "
                       f"{largest}, the target allows > 0 there \\(netx's loader\\). .*when (it|all its) {what}"):
        check_netx(net)
    with pytest.raises(TargetLimitError, match="largest weight of a layer in a netx file"):
        export_netx(net, tmp_path / "refused.net")
    assert not list(tmp_path.iterdir())
    export_nir(net, tmp_path / "fine.nir")  # NIR keeps the weights as they are


def test_limit_24_bit_state_guard(monkeypatch):
    # The 16-bit activation limit implies the 24-bit u/v limit; lift it to prove the state guard still fires.
    import hardware_targets.loihi2.mapping as mapping

    monkeypatch.setattr(mapping, "ACTIVATION_MAX", 10**9)
    w = np.full((2, 4000), 127, dtype=np.int8)  # u = (2 * (127 * 3999 + 126)) << 6 > 2**23 - 1
    w[:, 0] = 126  # no common factor
    net = random_network((4000, 2, 2), discrete_set=(-127, 0, 126, 127), seed=1)
    net = net.replace(hidden=(HiddenLayer(w, np.zeros(2, np.int32)),))
    err = _raises(net, "24-bit state", "hidden layer 0")
    assert err.value == (2 * (127 * 3999 + 126)) << 6 and err.allowed == 2**23 - 1


@pytest.mark.parametrize("options, match", [
    ({"tiles": 0}, "tiles must be a positive integer"), ({"tiles": float("nan")}, "tiles must be a positive integer"),
    ({"tiles": [2]}, "tiles must be a positive integer"), ({"tiles": True}, "tiles must be a positive integer"),
    ({"max_chips": float("inf")}, "max_chips must be a positive integer"),
])
def test_bad_target_options_are_named(options, match):
    with pytest.raises(ValueError, match=match):
        Loihi2Target(**options)
    assert Loihi2Target(tiles=4.0).tiles == 4


def test_nir_graph_reproduces_encoder_and_hidden_spikes():
    # node by node, not only the final scores: a wrong encoder threshold can leave the scores intact
    from hardware_targets.loihi2.export import nir_graph

    net = random_network((12, 7, 5, 4), levels=3, seed=4)
    graph = nir_graph(net)
    X = np.random.default_rng(1).random((200, 12))
    X[:5] = net.encoder.thresholds[:, 1]  # exactly on a threshold: x >= t must spike
    X[5:10] = np.nextafter(net.encoder.thresholds[:, 1], -np.inf)  # just below: must not
    spikes = {}
    x = run_nir_graph(graph, X, spikes)
    want_scores, want_hidden = forward(net, net.encode(X), record_hidden=True)
    np.testing.assert_array_equal(spikes["encoder_threshold"], net.encode(X))
    for i, want in enumerate(want_hidden):
        np.testing.assert_array_equal(spikes[f"hidden_{i}_threshold"], want, err_msg=f"hidden layer {i}")
    np.testing.assert_array_equal(x, want_scores)


def test_a_network_filling_every_core_fits_and_one_more_neuron_does_not():
    full = random_network((2, 128 * 1024), seed=0)  # Loihi: 1,024 neurons per core, 128 cores per chip
    assert Loihi2Target(chip="loihi").resources(full)["cores"] == 128
    Loihi2Target(chip="loihi").check(full)
    with pytest.raises(TargetLimitError, match="cores is 129"):
        Loihi2Target(chip="loihi").check(random_network((2, 128 * 1024 + 1), seed=0))


def test_exports_refuse_to_replace_a_file_that_is_not_hdf5(tmp_path):
    # export_nir(net, "model.ctn") by mistake replaced the trained model; an earlier export is replaced
    from connttra_neuro import save

    net = random_network((6, 4, 3), seed=1)
    save(net, tmp_path / "model.ctn")
    before = (tmp_path / "model.ctn").read_bytes()
    for export in (export_nir, export_netx):
        with pytest.raises(FileExistsError, match="model.ctn exists and is not an HDF5 file"):
            export(net, tmp_path / "model.ctn")
        assert (tmp_path / "model.ctn").read_bytes() == before
        export(net, tmp_path / "again.h5")
        export(net, tmp_path / "again.h5")  # its own kind: replaced (and NIR by netx, then: exports both)
    # an HDF5 file that is not an export (a user's Keras weights) was replaced: the signature says only HDF5
    import h5py

    with h5py.File(tmp_path / "weights.h5", "w") as f:
        f.create_dataset("dense_1/kernel", data=np.ones((3, 2)))
    before = (tmp_path / "weights.h5").read_bytes()
    for export in (export_nir, export_netx):
        with pytest.raises(FileExistsError, match=r"weights.h5 exists and is not a NIR or netx export .*: it holds "
                                                  r"dense_1; writing it would replace that file"):
            export(net, tmp_path / "weights.h5")
    assert (tmp_path / "weights.h5").read_bytes() == before


def test_default_tiles_keep_a_large_network_in_memory(monkeypatch):
    """100 copies of every weight by default filled the memory with a large network (a 4096-2048-10 network
    took 7.1 GB for 100 samples; 10 copies 0.8 GB); MNIST-sized networks keep their 100 copies."""
    import sys
    import types

    from hardware_targets.loihi2 import DEFAULT_TILES, TILED_SYNAPSES, default_tiles

    small = random_network((784, 256, 10), seed=0, density=1.0)  # every weight non-zero: the most synapses
    assert default_tiles(small, 10_000) == DEFAULT_TILES and default_tiles(small, 7) == 7
    big = random_network((2048, 1024, 10), seed=0, density=0.5)
    synapses = sum(int(np.count_nonzero(layer.weights)) for layer in big.layers)
    assert default_tiles(big, 10_000) == TILED_SYNAPSES // synapses < DEFAULT_TILES
    seen = {}

    def run_lava(nmap, spikes, *, tiles, **options):
        seen["tiles"] = tiles
        raise RuntimeError("not run")

    # a stand-in for the runtime module (the real one must not be imported before Lava is: it clears the
    # multiprocessing start method once, for Lava's import)
    monkeypatch.setitem(sys.modules, "hardware_targets.loihi2.runtime", types.SimpleNamespace(run_lava=run_lava))
    target = Loihi2Target()
    with pytest.raises(RuntimeError, match="not run"):
        target.run(target.compile(big), np.zeros((1000, big.n_inputs), np.uint8))
    assert seen["tiles"] == TILED_SYNAPSES // synapses and seen["tiles"] * synapses <= TILED_SYNAPSES
    with pytest.raises(RuntimeError, match="not run"):  # an explicit tiles= is kept
        Loihi2Target(tiles=100).run(target.compile(big), np.zeros((1000, big.n_inputs), np.uint8))
    assert seen["tiles"] == 100


def test_a_target_s_repr_shows_the_settings_that_change_what_fits():
    # it was <Loihi2Target 'loihi2'> whatever the settings: a 6-bit, two-chip target looked like the default one
    assert repr(Loihi2Target()) == "<Loihi2Target mode='fixed_pt' weight_bits=8 max_chips=1>"
    assert repr(Loihi2Target(mode="floating_pt", chip="loihi", weight_bits=6, max_chips=2, tiles=4)) == (
        "<Loihi2Target mode='floating_pt' chip='loihi' weight_bits=6 max_chips=2 tiles=4>")


# -- a seeded random battery at the IR's edges (tests/networks.py edge_network) ------------------------
def _netx_plain_lif(path, spikes):
    """Scores and hidden spikes of a netx file's numbers as netx builds them (its semantics attribute): plain
    LIF, which carries ``v/4096`` of a neuron that did not fire into the next step, one sample per step
    after a few idle ones, so every sample meets the carry its predecessor (or the idle pipeline) leaves."""
    with h5py.File(path, "r") as f:
        layers = [(f["layer"][i]["weight"][()].astype(np.int64), f["layer"][i]["bias"][()].astype(np.int64),
                   int(f["layer"][i]["neuron/vThMant"][()])) for i in sorted(f["layer"], key=int)]
        score_scale = int(f.attrs["score_scale"])
    L, n, idle = len(layers), len(spikes), 2
    x = np.zeros((idle + n + L, spikes.shape[1]), np.int64)
    x[idle:idle + n] = spikes
    for i, (w, bias, vth) in enumerate(layers):
        v, out = np.zeros(w.shape[0], np.int64), np.zeros((len(x), w.shape[0]), np.int64)
        for k in range(1, len(x)):  # one step of delay per layer: step k reads what the layer below sent at k-1
            v = np.sign(v) * (np.abs(v) >> 12) + (w @ x[k - 1] << ACT_SHIFT) + (bias << ACT_SHIFT)
            if i < L - 1:
                fired = v > vth << ACT_SHIFT
                v[fired], out[k] = 0, fired
            else:
                out[k] = v
        x = out
        if i < L - 1:
            yield x[idle + 1 + i:idle + 1 + i + n].astype(np.uint8)
    yield np.floor(x[idle + L:idle + L + n] / score_scale + 0.5).astype(np.int64)


def test_random_edge_networks_map_and_export_exactly(tmp_path):
    # what the fixed battery leaves out, drawn at random: sets of one sign, int8's ends, drives past 256,
    # thresholds at int32's ends and at the drives' ends, encoder cuts at 0.0, -0.0 and infinity. Whatever
    # the loihi2 mapping accepts (8 bits and a random fewer) must compute the reference's spikes and scores
    # in Loihi's fixed point; the NIR export must read back as the network and its graph run as it does; a
    # netx file must give them under plain LIF's carry. A refusal is fine, as long as it names its limit
    from connttra_neuro import load
    from hardware_targets.loihi2.export import nir_graph

    from .networks import edge_network

    counts = {"mapped": 0, "netx": 0}
    for seed in range(30):
        net = edge_network(seed)
        rng = np.random.default_rng(seed)
        spikes = input_spikes(net, n=30, seed=seed)
        want_scores, want_hidden = forward(net, spikes, record_hidden=True)
        for bits in (8, int(rng.integers(2, 8))):
            try:
                nmap = map_network(net, weight_bits=bits)
            except TargetLimitError:
                continue
            counts["mapped"] += 1
            scores, hidden = _lava_fixed_point(nmap, spikes)
            np.testing.assert_array_equal(scores, want_scores, err_msg=f"{net.metadata['case']}, {bits} bits")
            for got, want in zip(hidden, want_hidden, strict=True):
                np.testing.assert_array_equal(got, want, err_msg=f"{net.metadata['case']}, {bits} bits")
        back = load(export_nir(net, tmp_path / f"{seed}.nir"))
        assert back == net.replace(metadata=back.metadata), net.metadata["case"]
        cut = net.encoder.thresholds[:, 0]
        X = np.where(rng.random((30, net.n_features)) < 0.5, rng.normal(0, 1, (30, net.n_features)),
                     np.where(np.isfinite(cut), cut, 0.0))  # on a cut, half the time
        nir_spikes = {}
        nir_scores = run_nir_graph(nir_graph(net), X, nir_spikes)  # what export_nir wrote, read back above
        enc_scores, enc_hidden = forward(net, net.encode(X), record_hidden=True)
        np.testing.assert_array_equal(nir_scores, enc_scores, err_msg=net.metadata["case"])
        for i, want in enumerate(enc_hidden):
            np.testing.assert_array_equal(nir_spikes[f"hidden_{i}_threshold"], want, err_msg=net.metadata["case"])
        try:
            path = export_netx(net, tmp_path / f"{seed}.net")
        except TargetLimitError:
            continue
        counts["netx"] += 1
        *hidden, scores = _netx_plain_lif(path, spikes)
        np.testing.assert_array_equal(scores, want_scores, err_msg=f"{net.metadata['case']}: netx")
        for got, want in zip(hidden, want_hidden, strict=True):
            np.testing.assert_array_equal(got, want, err_msg=f"{net.metadata['case']}: netx")
    assert counts["mapped"] >= 30 and counts["netx"] >= 5, counts  # the battery reaches what it checks
