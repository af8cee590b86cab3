"""verify(): agreeing targets are exact; faulty deployments are pinned to the right layer and neurons."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from connttra_neuro.inference import ScaleWarning
from connttra_neuro.network import HiddenLayer, OutputLayer, random_network
from connttra_neuro.verify import count_operations, float_mlp_macs, loihi_energy, loihi_energy_constants, verify
from hardware_targets.base import RunResult, TargetLimitError
from hardware_targets.reference import ReferenceTarget, forward
from hardware_targets.registry import target_names

from .networks import conformance_networks


# -- deliberately faulty deployments: the reference target with a corrupted copy of the network ------
class FaultyTarget(ReferenceTarget):
    """Compiles ``corrupt(network)`` instead of ``network``: a deployment bug we can aim."""

    name = "faulty"

    def __init__(self, corrupt):
        super().__init__("direct")
        self.corrupt = corrupt

    def compile(self, network):
        return super().compile(self.corrupt(network))


def set_threshold(layer_index, neuron, value):
    def corrupt(net):
        hidden = list(net.hidden)
        t = hidden[layer_index].thresholds.copy()
        t[neuron] = value
        hidden[layer_index] = HiddenLayer(hidden[layer_index].weights, t)
        return net.replace(hidden=tuple(hidden))

    return corrupt


def truncate_hidden_weights(layer_index, keep_inputs):
    """Weights of inputs >= keep_inputs lost (a truncated weight table)."""

    def corrupt(net):
        hidden = list(net.hidden)
        w = hidden[layer_index].weights.copy()
        w[:, keep_inputs:] = 0
        hidden[layer_index] = HiddenLayer(w, hidden[layer_index].thresholds)
        return net.replace(hidden=tuple(hidden))

    return corrupt


def data_for(net, n=150, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, net.n_features))
    y = rng.integers(0, net.n_classes, n)
    return X, y


# -- agreeing targets ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(conformance_networks()))
def test_agreeing_targets_report_exact(case):
    net = conformance_networks()[case]
    X, y = data_for(net)
    report = verify(net, ["reference", ReferenceTarget("pipelined")], X, y)
    assert report.all_exact
    scores, _ = forward(net, net.encode(X))
    expected_error = float(np.mean(scores.argmax(axis=1) != y))
    for t in report.targets:
        assert t.status == "exact"
        assert t.agreeing == len(y) and t.disagreeing == 0 and t.disagreeing_samples == []
        assert t.scores_equal is True
        assert t.first_differing_layer is None
        assert [lp.equal for lp in t.layers] == [True] * net.n_weight_layers
        assert t.error == pytest.approx(expected_error) == t.software_error
        assert t.latency_steps == net.n_weight_layers
    # the pipelined reference really ran step by step: N + L steps
    assert report.targets[1].run_steps == len(y) + net.n_weight_layers
    assert report.targets[1].target == "reference#2"  # duplicate names stay distinct keys


# -- faulty thresholds are pinned to their layer and neuron ----------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_wrong_threshold_is_pinned_to_layer_and_neuron(seed):
    rng = np.random.default_rng(seed)
    net = random_network((6, 9, 7, 5, 3), levels=2, seed=seed)
    X, y = data_for(net, seed=seed)
    spikes = net.encode(X)
    _, hidden = forward(net, spikes, record_hidden=True)
    # choose a layer and a neuron whose spikes vary, then move its threshold so some of them flip
    choices = [(l, j) for l, h in enumerate(hidden) for j in range(h.shape[1]) if 0 < h[:, j].sum() < len(h)]
    l, j = choices[rng.integers(len(choices))]
    prev = spikes if l == 0 else hidden[l - 1]
    drive = prev.astype(np.int64) @ net.hidden[l].weights[j].astype(np.int64)
    new_t = int(np.median(drive)) + (1 if net.hidden[l].thresholds[j] <= np.median(drive) else 0)
    if new_t == net.hidden[l].thresholds[j]:
        new_t += 1
    flipped = ((drive >= new_t) != (drive >= net.hidden[l].thresholds[j])).sum()
    assert flipped > 0  # the fault is visible on these samples

    report = verify(net, [FaultyTarget(set_threshold(l, j, new_t))], X, y)
    t = report.targets[0]
    assert t.status == "mismatch" and not report.all_exact
    assert t.first_differing_layer == f"hidden layer {l}"
    assert all(lp.equal for lp in t.layers[:l])
    bad = t.layers[l]
    assert bad.equal is False
    assert bad.neurons == [j] and bad.neurons_differing == 1
    assert bad.samples_differing == flipped
    (diag,) = bad.diagnosis
    assert diag["neuron"] == j and diag["threshold_explains"]
    lo, hi = diag["implied_threshold_min"], diag["implied_threshold_max"]
    assert (lo is None or lo <= new_t) and (hi is None or new_t <= hi)
    assert diag["threshold"] == int(net.hidden[l].thresholds[j])
    assert f"neuron {j}" in t.diagnosis and f"hidden layer {l}" in t.diagnosis


@pytest.mark.parametrize("seed", range(4))
def test_truncated_hidden_weights_pinned_to_neurons_whose_spikes_change(seed):
    net = random_network((8, 10, 6, 3), seed=seed)
    X, y = data_for(net, n=200, seed=seed)
    corrupt = truncate_hidden_weights(0, keep_inputs=4)
    _, ref_hidden = forward(net, net.encode(X), record_hidden=True)
    _, bad_hidden = forward(corrupt(net), net.encode(X), record_hidden=True)
    expected_neurons = np.nonzero((ref_hidden[0] != bad_hidden[0]).any(axis=0))[0].tolist()
    assert expected_neurons  # the truncation matters for these samples

    report = verify(net, [FaultyTarget(corrupt)], X, y)
    t = report.targets[0]
    assert t.first_differing_layer == "hidden layer 0"
    assert t.layers[0].neurons == expected_neurons
    assert t.layers[0].samples_differing == int((ref_hidden[0] != bad_hidden[0]).any(axis=1).sum())
    assert [d["neuron"] for d in t.layers[0].diagnosis] == expected_neurons


def test_truncated_output_weights_named_weight_by_weight():
    # no hidden layer and varied inputs: the samples pin every output weight down
    net = random_network((6, 4), seed=5)
    rng = np.random.default_rng(1)
    X = rng.random((300, 6))
    y = rng.integers(0, 4, 300)
    w = net.output.weights.copy()
    c, i = 2, int(np.nonzero(w[2])[0][0])

    def corrupt(n):
        ww = n.output.weights.copy()
        ww[c, i] = 0  # one weight lost
        return n.replace(output=OutputLayer(ww, n.output.biases))

    t = verify(net, [FaultyTarget(corrupt)], X, y).targets[0]
    assert t.first_differing_layer == "output layer"
    out = t.layers[-1]
    assert out.neurons == [c]
    (diag,) = out.diagnosis
    assert diag["weights_differing"] == [{"input": i, "model": int(w[c, i]), "deployed": 0}]
    assert f"w[{i}]" in t.diagnosis


def test_output_bias_error_reported_as_bias():
    net = random_network((5, 6, 3), seed=2)
    X, y = data_for(net)

    def corrupt(n):
        b = n.output.biases.copy()
        b[1] += 3
        return n.replace(output=OutputLayer(n.output.weights, b))

    t = verify(net, [FaultyTarget(corrupt)], X, y).targets[0]
    assert t.first_differing_layer == "output layer"
    assert [lp.equal for lp in t.layers] == [True, False]
    assert t.layers[-1].diagnosis[0]["bias_offset"] == 3
    assert t.score_samples_differing == len(y) and t.score_max_abs_difference == 3


# -- targets that fail or cannot record ----------------------------------------------------------
class TooSmall(ReferenceTarget):
    name = "too-small"

    def check(self, network):
        raise TargetLimitError(self.name, "neurons", "hidden layer 0", 9, 4, "use a smaller network")


class NoRecording(ReferenceTarget):
    name = "no-recording"

    def run(self, compiled, spikes, *, record_hidden=False):
        r = super().run(compiled, spikes, record_hidden=False)
        return RunResult(r.scores, None, r.steps, r.info)


def test_failing_and_non_recording_targets_are_not_exact():
    net = random_network((4, 9, 3), seed=0)
    X, y = data_for(net)
    report = verify(net, ["reference", TooSmall(), NoRecording()], X, y)
    ok, failed, blind = report.targets
    assert ok.exact and not report.all_exact
    assert failed.status == "failed" and "neurons" in failed.failure and failed.error is None
    assert blind.status == "mismatch" and blind.scores_equal
    assert blind.layers[0].equal is None and "did not record" in blind.diagnosis


def test_bad_inputs_raise_clear_errors():
    net = random_network((4, 5, 3), seed=0)
    with pytest.raises(ValueError, match="X of shape"):
        verify(net, ["reference"], np.zeros((5, 4)), np.zeros(4))
    with pytest.raises(ValueError, match="^X has 3 features per sample but the model takes 4; give the features"):
        verify(net, ["reference"], np.zeros((5, 3)), np.zeros(5))  # predict's words (was the encoder's)
    X = np.zeros((5, 4))
    with pytest.raises(ValueError, match="at least one target"):
        verify(net, [], X, np.zeros(5, int))  # would be a vacuous pass
    with pytest.raises(ValueError, match="needs the true classes"):
        verify(net, ["reference"], X, None)
    with pytest.raises(ValueError, match="integer class indices"):
        verify(net, ["reference"], X, np.full(5, 0.5))  # not truncated to class 0
    with pytest.raises(ValueError, match="integer class indices"):
        verify(net, ["reference"], X, np.array(["a"] * 5))
    one = verify(net, "reference", X, np.zeros(5, int))  # one name, not the targets "r", "e", "f", ...
    assert [t.target for t in one.targets] == ["reference"] and one.all_exact


def test_data_on_another_scale_than_training_are_warned_of_once():
    # predict and the verify command warned of data on another scale than the model's encoder cuts (0..16
    # against 0..255); verify in Python ran them silently, its error figures then saying little of the model
    net = random_network((4, 6, 3), levels=3, seed=2)
    X, y = data_for(net, n=30)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        verify(net, ["reference", "reference"], X * 255, y)
    said = [str(w.message) for w in caught if "the model was trained on data of another scale" in str(w.message)]
    assert len(said) == 1 and said[0].startswith("the data have values up to"), said
    # a UserWarning of its own class (the command line filters it, saying it its own way), at the caller
    assert caught[0].category is ScaleWarning and issubclass(ScaleWarning, UserWarning)
    assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the model's own scale: nothing said
        verify(net, "reference", X, y)


# -- operation and energy counting ----------------------------------------------------------------
def test_operation_counts_match_a_naive_count():
    net = random_network((5, 7, 6, 4), levels=2, seed=3, density=0.6)
    X, _ = data_for(net, n=40)
    spikes = net.encode(X)
    _, hidden = forward(net, spikes, record_hidden=True)
    ops = count_operations(net, spikes, hidden)
    acts = [spikes] + hidden
    naive_acs = 0
    for s, layer in zip(acts, net.layers, strict=True):
        for sample in s:
            for i in np.nonzero(sample)[0]:  # each input spike reaches every non-zero weight in its column
                naive_acs += int(np.count_nonzero(layer.weights[:, i]))
    assert ops["effective_acs"] == pytest.approx(naive_acs / len(X))
    assert ops["effective_macs"] == 0
    assert ops["dense"] == float_mlp_macs(net) == 10 * 7 + 7 * 6 + 6 * 4
    assert ops["neuron_updates"] == 7 + 6 + 4
    fired = sum(h.sum() for h in hidden)
    assert ops["activation_sparsity"] == pytest.approx(1 - fired / (len(X) * (7 + 6)))
    assert ops["spikes_per_layer"] == pytest.approx([a.sum() / len(X) for a in acts])
    constants = loihi_energy_constants()
    assert constants is not None  # hardware_targets.loihi2.chip provides the cited figures
    e = loihi_energy(ops, constants)
    expected = ops["effective_acs"] * constants["synop_joules"] + ops["neuron_updates"] * constants["update_joules"]
    assert e["joules_per_inference"] == pytest.approx(expected)
    assert "Davies" in e["source"]


def test_operation_counts_take_a_model_file_and_refuse_what_is_not_a_network(tmp_path):
    # float_mlp_macs and count_operations took the network unchecked: a path failed with "'str' object has
    # no attribute 'layers'"; they take what verify and predict take (modelfile.as_network)
    from connttra_neuro import save
    from connttra_neuro.train import CoNNTrA

    net = random_network((5, 7, 4), seed=3)
    path = tmp_path / "m.ctn"
    save(net, path)
    spikes = net.encode(data_for(net, n=10)[0])
    _, hidden = forward(net, spikes, record_hidden=True)
    assert float_mlp_macs(str(path)) == float_mlp_macs(net) == 5 * 7 + 7 * 4
    assert count_operations(path, spikes, hidden) == count_operations(net, spikes, hidden)
    with pytest.raises(TypeError, match="float_mlp_macs needs a TernaryNetwork .* got CoNNTrA"):
        float_mlp_macs(CoNNTrA())
    with pytest.raises(TypeError, match="count_operations needs a TernaryNetwork .* got CoNNTrA"):
        count_operations(CoNNTrA(), spikes, hidden)


def test_operation_counts_and_verify_hold_no_float64_copy_of_the_spikes():
    """count_operations multiplied a float64 copy of every layer's spikes by the fan-outs, and verify checked
    each target's hidden spikes with np.isin over the whole layer and copied them to uint8 again: 8, 4 and 1
    bytes per spike on top of the run's own. 60,000 Fashion-MNIST images through 784-4096-10 peaked at
    3.2 GB on the reference alone (1.1 GB now). Same counts, exactly."""
    import tracemalloc

    net = random_network((784, 64, 10), seed=5, density=0.3)
    spikes = (np.random.default_rng(6).random((20_000, 784)) < 0.4).astype(np.uint8)
    _, hidden = forward(net, spikes, record_hidden=True)
    tracemalloc.start()
    try:
        ops = count_operations(net, spikes, hidden)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < spikes.nbytes / 4  # a float64 copy is 8 x the uint8 spikes
    for s, weights, counted in zip([spikes, *hidden], [layer.weights for layer in net.layers], ops["layers"],
                                   strict=True):
        per_sample = s.astype(np.int64) @ np.count_nonzero(weights, axis=0)
        assert counted["effective_acs"] == int(per_sample.sum()) / len(s)
        assert counted["input_spikes"] == int(s.sum()) / len(s)

    X = np.random.default_rng(7).random((20_000, 784))
    y = np.zeros(len(X), dtype=np.int64)
    encoded = net.encode(X)
    tracemalloc.start()
    try:
        report = verify(net, ["reference"], X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.all_exact
    # the spikes (1 byte each), the hidden spikes, blocks of the encoder and the reference's float64 pass: about
    # 2.5 bytes per input spike. np.isin over every run's whole input took 4 more (5 in all, measured)
    assert peak < 3.5 * encoded.nbytes


class Reporting(ReferenceTarget):
    """The reference, reporting ``events`` as the synaptic events its device made (RunResult.info)."""

    name = "reporting"

    def __init__(self, events):
        super().__init__("direct")
        self.events = events

    def run(self, compiled, spikes, *, record_hidden=False):
        r = super().run(compiled, spikes, record_hidden=record_hidden)
        return RunResult(r.scores, r.hidden_spikes, r.steps, {**r.info, "synaptic_events_per_inference": self.events})


def test_operations_count_the_synaptic_events_a_target_reports_for_its_device():
    # a device with stuck synapses makes fewer events than the model's weights: its own count is used
    net = random_network((5, 7, 4), seed=2)
    X, y = data_for(net, n=30)
    good = {"hidden layer 0": 3.5, "output layer": 1.25}
    # a malformed count was ignored unsaid, so a plugin's misnamed layer put the model's figures in its place
    with pytest.warns(UserWarning, match=r"reporting#2: its info\['synaptic_events_per_inference'\] is not one "
                                         r"finite count >= 0 for each weight layer \(hidden layer 0, output layer\)"
                      ) as warned:
        report = verify(net, ["reference", Reporting(good), Reporting({"hidden layer 0": 3.5}),
                              Reporting({"hidden layer 0": float("nan"), "output layer": 1}), Reporting("many")], X, y)
    said = [str(w.message).split(":")[0] for w in warned if "synaptic_events" in str(w.message)]
    assert said == ["reporting#2", "reporting#3", "reporting#4"]  # the malformed ones, by their names in the report
    model, device, *malformed = report.targets
    assert [layer["effective_acs"] for layer in device.operations["layers"]] == [3.5, 1.25]
    assert device.operations["effective_acs"] == 4.75
    constants = loihi_energy_constants()
    assert device.energy["synaptic_joules"] == pytest.approx(4.75 * constants["synop_joules"])
    for t in malformed:  # not one finite count >= 0 per weight layer: counted from the model's weights
        assert t.operations["effective_acs"] == model.operations["effective_acs"] > 4.75


@pytest.mark.brian2
def test_stuck_synapses_on_brian2_make_no_accumulates():
    # every synapse stuck at zero: the device delivered nothing, which the counts and the energy say
    if "brian2" not in target_names():
        pytest.skip("brian2 is not registered")
    from hardware_targets.brian2_edge import EdgeNoise

    net = random_network((6, 8, 3), seed=5)
    X, y = data_for(net, n=20)
    report = verify(net, ["reference", "brian2"], X, y,
                    target_options={"brian2": {"noise": EdgeNoise(stuck_at_zero=1.0, seed=1)}})
    model, device = report.targets
    assert model.operations["effective_acs"] > 0
    assert device.operations["effective_acs"] == 0
    assert [layer["effective_acs"] for layer in device.operations["layers"]] == [0, 0]
    assert device.energy["synaptic_joules"] == 0


# -- real targets --------------------------------------------------------------------------------
@pytest.mark.lava
@pytest.mark.brian2
@pytest.mark.timeout(240)
def test_verify_on_loihi2_and_brian2():
    wanted = [t for t in ("loihi2", "brian2") if t in target_names()]
    if not wanted:
        pytest.skip("neither loihi2 nor brian2 is registered")
    net = random_network((5, 8, 6, 3), levels=2, seed=11)
    X, y = data_for(net, n=60)
    report = verify(net, ["reference", *wanted], X, y)
    for t in report.targets:
        assert t.status == "exact", t.diagnosis
        assert t.operations["effective_acs"] == pytest.approx(report.software["operations"]["effective_acs"])
    assert report.all_exact


# -- faults that are not a wrong parameter -----------------------------------------------------------
class Doctored(ReferenceTarget):
    """The reference's result, then ``edit(scores, hidden)`` -> (scores, hidden): a target bug we can aim."""

    name = "doctored"

    def __init__(self, edit):
        super().__init__("direct")
        self.edit = edit

    def run(self, compiled, spikes, *, record_hidden=False):
        r = super().run(compiled, spikes, record_hidden=True)
        scores, hidden = self.edit(r.scores.copy(), [h.copy() for h in r.hidden_spikes])
        return RunResult(scores, hidden, r.steps, r.info)


@pytest.mark.parametrize("k", [1, 2, -1])
def test_results_read_a_sample_off_are_called_a_timing_fault(k):
    net = random_network((6, 9, 7, 3), levels=2, seed=3)
    X, y = data_for(net, n=60)

    def late_scores(scores, hidden):
        return np.roll(scores, k, axis=0), hidden

    t = verify(net, [Doctored(late_scores)], X, y).targets[0]
    assert t.status == "mismatch" and t.first_differing_layer == "output layer"
    when = f"{k} sample(s) late" if k > 0 else f"{-k} sample(s) early"
    assert f"output layer: the target's scores are the model's {when}" in t.diagnosis
    assert t.layers[-1].diagnosis == [{"shift_samples": k, "explanation": t.diagnosis.split(": ", 1)[1]}]

    def late_spikes(scores, hidden):
        hidden[1] = np.roll(hidden[1], 1, axis=0)
        return scores, hidden

    t = verify(net, [Doctored(late_spikes)], X, y).targets[0]
    assert t.first_differing_layer == "hidden layer 1"
    assert "hidden layer 1: the target's spikes are the model's 1 sample(s) late" in t.diagnosis
    assert "timing fault" in t.diagnosis and "neuron" not in t.diagnosis


@pytest.mark.parametrize("where", ["first", "last"])
def test_one_score_off_in_any_class_or_neuron_is_a_mismatch(where):
    # one sample, one class (or one hidden neuron), a difference that leaves every class as it was: still
    # not exact, and named down to the class, neuron and sample; the first and the last column alike
    net = random_network((6, 9, 7, 3), levels=2, seed=3)
    X, y = data_for(net, n=60)
    ref = forward(net, net.encode(X))[0]
    col = 0 if where == "first" else net.n_classes - 1
    s = int(np.nonzero(ref.argmax(axis=1) != col)[0][-1])  # a sample whose class is not that column's

    def one_score(scores, hidden):
        scores[s, col] -= 1
        return scores, hidden

    t = verify(net, [Doctored(one_score)], X, y).targets[0]
    assert t.status == "mismatch" and t.disagreeing == 0 and not t.scores_equal
    assert t.score_samples_differing == 1 and t.score_max_abs_difference == 1
    assert t.first_differing_layer == "output layer"
    assert (t.layers[-1].neurons, t.layers[-1].samples) == ([col], [s])
    neuron = 0 if where == "first" else net.hidden[1].weights.shape[0] - 1

    def one_spike(scores, hidden):
        hidden[1][s, neuron] ^= 1
        return scores, hidden

    t = verify(net, [Doctored(one_spike)], X, y).targets[0]
    assert t.status == "mismatch" and t.scores_equal and t.first_differing_layer == "hidden layer 1"
    assert (t.layers[1].neurons, t.layers[1].samples) == ([neuron], [s])


def test_disagreements_and_confusion_count_every_sample_against_a_naive_count():
    # a target that answers another class on ten samples, five of them the label (the model wrong there):
    # every one disagrees with the model, right or not; the confusion matrix has rows = label, columns =
    # the target's class, counted one sample at a time
    net = random_network((6, 9, 4), levels=2, seed=4)
    X, y = data_for(net, n=80, seed=2)
    model = forward(net, net.encode(X))[0].argmax(axis=1)
    moved = np.arange(3, 13)
    other = (model[moved] + 1) % net.n_classes
    y[moved[:5]] = other[:5]

    def other_class(scores, hidden):
        scores[moved, other] = scores[moved].max(axis=1) + 1
        return scores, hidden

    t = verify(net, [Doctored(other_class)], X, y).targets[0]
    pred = model.copy()
    pred[moved] = other
    assert t.predictions == pred.tolist()
    assert (t.disagreeing, t.agreeing, t.disagreeing_samples) == (10, 70, moved.tolist())
    assert t.error == np.mean(pred != y)
    want = [[0] * net.n_classes for _ in range(net.n_classes)]
    for label, got in zip(y, pred, strict=True):
        want[label][got] += 1
    assert t.confusion == want


class Tiled(Doctored):
    """Doctored, and says it ran ``tiles`` copies side by side (``info["tiles"]``, as loihi2 and brian2 do)."""

    def __init__(self, edit, tiles):
        super().__init__(edit)
        self.tiles = tiles

    def run(self, compiled, spikes, *, record_hidden=False):
        r = super().run(compiled, spikes, record_hidden=record_hidden)
        return RunResult(r.scores, r.hidden_spikes, r.steps, {**r.info, "tiles": self.tiles})


@pytest.mark.parametrize("tiles, steps", [(4, 1), (8, 2), (25, -1)])
def test_a_tiled_run_read_a_step_off_is_called_a_timing_fault(tiles, steps):
    # a target running T copies side by side puts samples T per step: read one step off, every row is
    # T samples off, beyond the 1-3 samples tried on their own; that read as a wrong weight in every neuron
    net = random_network((6, 9, 7, 3), levels=2, seed=3)
    X, y = data_for(net, n=120)
    k = steps * tiles

    def late(scores, hidden):
        return np.roll(scores, k, axis=0), [np.roll(h, k, axis=0) for h in hidden]

    t = verify(net, [Tiled(late, tiles)], X, y).targets[0]
    when = f"{k} sample(s) late" if k > 0 else f"{-k} sample(s) early"
    assert t.first_differing_layer == "hidden layer 0"
    assert t.diagnosis.startswith(f"hidden layer 0: the target's spikes are the model's {when}")
    assert f"{abs(steps)} step(s) of a run with {tiles} copies side by side: a timing fault" in t.diagnosis
    assert t.layers[0].diagnosis[0]["shift_samples"] == k
    # the same rows from a target that says nothing of tiles: only 1-3 samples are tried as a shift, no wider
    # guess; the rows are still all there, in another order
    t = verify(net, [Doctored(late)], X, y).targets[0]
    assert "sample(s) late" not in t.diagnosis and "no threshold explains" not in t.diagnosis
    assert "in another order): a timing or read-out fault" in t.diagnosis
    assert "shift_samples" not in t.layers[0].diagnosis[0]


def test_results_returned_out_of_order_are_called_a_read_out_fault():
    # samples swapped in pairs (no fixed shift): every neuron looked wrong, "no threshold explains its spikes"
    net = random_network((6, 9, 7, 3), levels=2, seed=3)
    X, y = data_for(net, n=60)
    swap = np.arange(60).reshape(-1, 2)[:, ::-1].ravel()

    def swapped(scores, hidden):
        return scores[swap], [h[swap] for h in hidden]

    t = verify(net, [Doctored(swapped)], X, y).targets[0]
    assert t.status == "mismatch" and t.first_differing_layer == "hidden layer 0"
    entry = t.layers[0].diagnosis[0]
    assert entry["reordered_samples"] == t.layers[0].samples_differing and len(t.layers[0].diagnosis) == 1
    assert t.diagnosis.startswith(f"hidden layer 0: the target's spikes of {entry['reordered_samples']} sample(s) "
                                  f"are the model's of other samples of the run")
    # only the scores swapped (the hidden layers recorded in order): named in the output layer
    t = verify(net, [Doctored(lambda scores, hidden: (scores[swap], hidden))], X, y).targets[0]
    assert t.diagnosis.startswith("output layer: the target's scores of ")
    assert "read-out fault" in t.diagnosis


@pytest.mark.parametrize("hidden_sizes", [(12,), (12, 10), (12, 10, 9)])
def test_two_outputs_swapped_are_called_a_read_out_fault_not_changed_weights(hidden_sizes):
    # the output layer's rows 0 and 1 swapped at compile time: each class's scores are the other's, which
    # read as every weight and the bias of both classes changed ("10 weight(s) differ: ..."), none is
    net = random_network((8, *hidden_sizes, 4), levels=3, seed=1)
    X, y = data_for(net, n=200)

    def swap_rows(n):
        order = [1, 0, 2, 3]
        return n.replace(output=OutputLayer(n.output.weights[order], n.output.biases[order]))

    t = verify(net, [FaultyTarget(swap_rows)], X, y).targets[0]
    assert t.first_differing_layer == "output layer"
    assert t.diagnosis.startswith("output layer: 2 class(es) differ on ")
    assert ("class 0 shows the model's scores of class 1, class 1 shows the model's scores of class 0: outputs "
            "read out (or their rows placed) in another order, not a wrong weight or bias") in t.diagnosis
    assert "weight(s) differ" not in t.diagnosis
    assert [(d["class"], d["same_as_class"]) for d in t.layers[-1].diagnosis] == [(0, 1), (1, 0)]
    # a target that records no hidden spikes: the swap is still certain, and said
    blind = verify(net, [Doctored(lambda scores, hidden: (scores[:, [1, 0, 2, 3]], None))], X, y).targets[0]
    assert "class 0 shows the model's scores of class 1" in blind.diagnosis
    assert "hidden spikes were not recorded" in blind.diagnosis


@pytest.mark.parametrize("hidden_sizes", [(12,), (12, 10), (12, 10, 9)])
def test_a_run_a_step_short_is_called_missing_results_not_changed_weights(hidden_sizes):
    # a pipelined run one step short never writes its last sample's scores (they stay 0, as simulate starts
    # them): that read as "class 0: score differs by 0..2 depending on the input: its weights differ", per class
    net = random_network((8, *hidden_sizes, 4), levels=3, seed=1)
    X, y = data_for(net, n=200)

    def last_unwritten(scores, hidden):
        scores[-1] = 0
        return scores, hidden

    t = verify(net, [Doctored(last_unwritten)], X, y).targets[0]
    assert t.first_differing_layer == "output layer" and t.score_samples_differing == 1
    assert t.diagnosis == ("output layer: the target's scores on the last sample of the run (199) are all 0 where the "
                           "model's are not, and every other sample's equal the model's: no result for it, as when the "
                           "run ended early (a time step or more short); not a wrong weight or bias")
    assert t.layers[-1].diagnosis == [{"missing_samples": 1, "explanation": t.diagnosis.split(": ", 1)[1]}]

    def some_unread(scores, hidden):
        scores[[3, 50]] = 0
        return scores, hidden

    t = verify(net, [Doctored(some_unread)], X, y).targets[0]
    assert "scores on 2 sample(s) (3, 50) are all 0" in t.diagnosis and "not read out" in t.diagnosis


@pytest.mark.parametrize("hidden_sizes", [(12,), (12, 10)])
def test_a_run_two_steps_short_is_called_missing_results_in_the_hidden_layer_it_reaches(hidden_sizes):
    # two steps short, the deepest hidden layer's last sample is never written either: every neuron of that
    # layer read as a threshold fault on sample 199
    net = random_network((8, *hidden_sizes, 4), levels=3, seed=1)
    X, y = data_for(net, n=200)

    def two_steps_short(scores, hidden):
        scores[-2:] = 0
        hidden[-1][-1] = 0
        return scores, hidden

    t = verify(net, [Doctored(two_steps_short)], X, y).targets[0]
    layer = f"hidden layer {len(hidden_sizes) - 1}"
    assert t.first_differing_layer == layer
    assert t.diagnosis == (f"{layer}: the target's spikes on the last sample of the run (199) are all 0 where the "
                           "model's are not, and every other sample's equal the model's: no result for it, as when the "
                           "run ended early (a time step or more short); not a wrong threshold or weight")
    assert t.layers[len(hidden_sizes) - 1].diagnosis[0]["missing_samples"] == 1

    def silent_in_the_middle(scores, hidden):  # not the last samples: neuron faults, as before
        hidden[-1][[3, 50]] = 0
        return scores, hidden

    t = verify(net, [Doctored(silent_in_the_middle)], X, y).targets[0]
    assert "no result" not in t.diagnosis and "neuron(s) differ" in t.diagnosis


def test_two_hidden_neurons_swapped_are_called_a_placement_fault():
    net = random_network((8, 12, 10, 4), levels=3, seed=1)
    X, y = data_for(net, n=200)

    def swap_neurons(scores, hidden):
        hidden[1][:, [2, 5]] = hidden[1][:, [5, 2]]
        return scores, hidden

    t = verify(net, [Doctored(swap_neurons)], X, y).targets[0]
    assert t.first_differing_layer == "hidden layer 1"
    assert ("neuron 2 shows the model's spikes of neuron 5, neuron 5 shows the model's spikes of neuron 2: neurons "
            "placed or read out in another order") in t.diagnosis
    assert [d["same_as_neuron"] for d in t.layers[1].diagnosis] == [5, 2]
    assert "threshold were" not in t.diagnosis and t.layers[1].cause is None


def test_a_threshold_fault_on_sorted_or_few_samples_is_not_called_a_timing_fault():
    # one neuron, samples sorted by its drive: the model's spikes are 0,0,0,1,1,1,...; a threshold one
    # higher drops the first 1, which is also what "one sample late" would do on that sample
    net = random_network((1, 1, 2), levels=8, seed=0)
    X = np.sort(np.random.default_rng(0).random((12, 1)), axis=0)
    _, hidden = forward(net, net.encode(X), record_hidden=True)
    drive = net.encode(X).astype(np.int64) @ net.hidden[0].weights[0].astype(np.int64)
    t = int(np.median(drive))
    net = net.replace(hidden=(HiddenLayer(net.hidden[0].weights, np.array([t], np.int32)),))
    report = verify(net, [FaultyTarget(set_threshold(0, 0, t + 1))], X, np.zeros(12, int))
    assert report.targets[0].status == "mismatch"
    assert "timing" not in report.targets[0].diagnosis
    assert "fires as if its threshold were" in report.targets[0].diagnosis


def test_hidden_spikes_as_one_array_are_compared_like_a_list():
    net = random_network((5, 6, 6, 3), seed=1)
    X, y = data_for(net, n=30)

    def stacked(scores, hidden):
        return scores, np.stack(hidden)  # a target that returns one (layers, samples, neurons) array

    assert verify(net, [Doctored(stacked)], X, y).targets[0].status == "exact"


def test_spike_recordings_other_than_0_and_1_are_a_recording_fault():
    net = random_network((5, 6, 3), seed=2)
    X, y = data_for(net, n=40)
    for value in (2, 0.7, -1):
        def odd(scores, hidden, value=value):
            hidden = [h.astype(np.float64) for h in hidden]
            hidden[0][4, 3] = value
            return scores, hidden

        t = verify(net, [Doctored(odd)], X, y).targets[0]
        assert t.status == "mismatch"
        assert t.diagnosis == (f"wrong recording: hidden layer 0 holds 1 value(s) other than 0 and 1 "
                               f"(e.g. {float(value)!r} at sample 4, neuron 3)")


def test_scores_of_another_shape_are_a_named_failure_not_a_crash_or_a_comparison():
    # scores missing a class, or one score per sample: each must be named by its shape, the other targets still
    # run; compared as they are, the first made verify raise and the second broadcast against every class
    net = random_network((5, 6, 3), seed=2)
    X, y = data_for(net, n=40)
    for shape_of in (lambda s: s[:, :-1], lambda s: s[:, :1]):
        report = verify(net, [Doctored(lambda scores, hidden, f=shape_of: (f(scores), hidden)), "reference"], X, y)
        bad, good = report.targets
        assert bad.status == "failed" and not report.all_exact and good.exact
        assert bad.diagnosis == f"wrong output: scores have shape {shape_of(np.zeros((40, 3))).shape}, expected (40, 3)"


def test_a_constant_score_offset_names_inputs_active_on_every_sample_too():
    # a weight from an input that fires on every sample shifts every score alike: bias or weight
    net = random_network((5, 6, 3), seed=2)
    X, y = data_for(net, n=80)
    _, hidden = forward(net, net.encode(X), record_hidden=True)
    j = int(np.nonzero(hidden[0].any(axis=0) & ~hidden[0].all(axis=0))[0][0])  # a neuron whose spikes vary
    on = net.replace(hidden=(HiddenLayer(net.hidden[0].weights, np.where(np.arange(6) == j, -10**6,
                                                                          net.hidden[0].thresholds)),))
    _, hidden_on = forward(on, on.encode(X), record_hidden=True)
    assert hidden_on[0][:, j].all()  # neuron j now fires on every sample

    def corrupt(n):
        ww = n.output.weights.copy()
        ww[1, j] = 1 - ww[1, j] if ww[1, j] != 1 else 0  # a weight from the always-on neuron changed
        return n.replace(output=OutputLayer(ww, n.output.biases))

    t = verify(on, [FaultyTarget(corrupt)], X, y).targets[0]
    (diag,) = t.layers[-1].diagnosis
    assert diag["class"] == 1 and j in diag["always_active_inputs"]
    assert "its bias differs, or its weight(s) from input(s)" in diag["explanation"] and str(j) in diag["explanation"]


def test_a_constant_offset_says_when_the_samples_cannot_pin_the_bias_down():
    from connttra_neuro.verify.diagnose import diagnose_output_class

    complementary = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], np.uint8)  # each sample: exactly one input on
    d = diagnose_output_class(complementary, np.zeros(4), np.ones(4), np.array([0, 0]))
    assert d["bias_offset"] == 1 and d["bias_identifiable"] is False and d["always_active_inputs"] == []
    assert "or weights of inputs whose spikes add up to a constant" in d["explanation"]
    varied = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], np.uint8)
    d = diagnose_output_class(varied, np.zeros(4), np.ones(4), np.array([0, 0]))
    assert d["bias_identifiable"] is True and d["explanation"] == "score off by 1 on every sample: its bias differs"


def test_a_weight_and_the_bias_both_wrong_are_both_named():
    from connttra_neuro.verify.diagnose import diagnose_output_class

    rng = np.random.default_rng(0)
    s = (rng.random((40, 6)) < 0.5).astype(np.uint8)
    w = np.array([1, -1, 0, 1, 0, -1], np.int8)
    ref = s.astype(np.int64) @ w + 2
    d = diagnose_output_class(s, ref, ref + 3 * s[:, 0] + 5, w)  # w[0] off by +3 and the bias by +5
    assert d["weights_differing"] == [{"input": 0, "model": 1, "deployed": 4}] and d["bias_offset"] == 5
    assert d["explanation"] == "1 weight(s) differ: w[0] 1->4; its bias is off by 5"
    d = diagnose_output_class(s, ref, ref + 3 * s[:, 0], w)  # the weight alone: no word on the bias
    assert d["bias_offset"] is None and d["explanation"] == "1 weight(s) differ: w[0] 1->4"


def test_weights_the_samples_cannot_pin_down_are_not_named():
    # inputs 0 and 1 complementary (x1 = 1 - x0): "w[0] +1" and "w[1] -1 with the bias +1" give the same scores,
    # so the diagnosis must not pick one of them (least squares does, and it rounds to an exact fit here)
    from connttra_neuro.verify.diagnose import diagnose_output_class

    rng = np.random.default_rng(0)
    x0 = (rng.random(40) < 0.5).astype(np.uint8)
    s = np.column_stack([x0, 1 - x0, rng.random(40) < 0.5]).astype(np.uint8)
    w = np.array([1, 0, -1], np.int8)
    ref = s.astype(np.int64) @ w
    d = diagnose_output_class(s, ref, ref + s[:, 0], w)
    assert d["weights_differing"] is None and d["bias_offset"] is None
    assert d["explanation"] == "score differs by 0..1 depending on the input: its weights differ"


def test_an_output_fault_on_a_wide_layer_computes_one_rank_and_no_needless_solve(monkeypatch):
    """Each differing class built [s_prev, 1], solved it by least squares and took its rank again, the rank
    last: 10 classes over 2,000 samples of a 1,024-wide last hidden layer took 45 s to diagnose (10,000:
    32 s; the run itself under 1 s), even though 2,000 samples cannot pin 1,025 unknowns down. Now the rank
    first, once for every class, and none when there are fewer samples than unknowns: 0.6 s and 2 s, the
    same diagnosis."""
    calls = {"lstsq": 0, "matrix_rank": 0}
    for name in calls:
        real = getattr(np.linalg, name)

        def counting(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(np.linalg, name, counting)

    def flip_column(j):
        def corrupt(net):
            w = net.output.weights.copy()
            w[:, j] = np.where(w[:, j] == 1, 0, 1)  # one input's weight to every class
            return net.replace(output=OutputLayer(w, net.output.biases))
        return corrupt

    net = random_network((6, 12, 5), seed=2, density=0.6, levels=3)
    rng = np.random.default_rng(3)
    for n, pinned in ((10, False), (400, True)):  # fewer samples than the 13 unknowns; enough to pin them
        X, y = rng.random((n, 6)), np.zeros(n, np.int64)
        _, (hidden,) = forward(net, net.encode(X), record_hidden=True)
        j = int(np.argmin(np.abs(hidden.mean(axis=0) - 0.5)))  # a neuron that fires on about half the samples
        full = np.linalg.matrix_rank(np.column_stack([hidden, np.ones(n)]).astype(float)) == 13
        assert full == pinned
        calls.update(lstsq=0, matrix_rank=0)
        t = verify(net, [FaultyTarget(flip_column(j))], X, y).targets[0]
        diagnosis = t.layers[-1].diagnosis
        assert len(diagnosis) == net.n_classes and t.first_differing_layer == "output layer"
        if not pinned:
            assert calls == {"lstsq": 0, "matrix_rank": 0}
            assert all("its weights differ" in d["explanation"] and d["weights_differing"] is None for d in diagnosis)
            continue
        assert calls == {"lstsq": net.n_classes, "matrix_rank": 1}
        assert all([w["input"] for w in d["weights_differing"]] == [j] for d in diagnosis)  # the flipped weight


def test_diagnosis_implies_the_exact_threshold_interval():
    from connttra_neuro.verify.diagnose import diagnose_hidden_neuron

    drive = np.arange(6)
    d = diagnose_hidden_neuron(drive, (drive >= 4).astype(np.uint8), (drive >= 2).astype(np.uint8), 2)
    assert (d["implied_threshold_min"], d["implied_threshold_max"]) == (4, 4)
    assert d["explanation"] == "fires as if its threshold were 4 (model: 2)"
    d = diagnose_hidden_neuron(drive[:3], np.zeros(3, np.uint8), np.array([0, 0, 1], np.uint8), 2)
    assert d["implied_threshold_min"] == 3 and d["stuck"] == "silent"
    assert d["explanation"] == ("never fires (the model's fires on 1 of 3 samples), as if its threshold were >= 3 "
                                "(model: 2)")
    d = diagnose_hidden_neuron(drive[:3], np.ones(3, np.uint8), np.array([0, 0, 1], np.uint8), 2)
    assert d["implied_threshold_max"] == 0 and d["stuck"] == "firing"
    assert d["explanation"] == "fires on every sample (the model's on 1 of 3), as if its threshold were <= 0 (model: 2)"
    # fires at drive 2 on one sample and stays silent at drive 2 on another: no threshold explains it
    d = diagnose_hidden_neuron(np.array([2, 2, 0]), np.array([1, 0, 0], np.uint8), np.array([1, 1, 0], np.uint8), 2)
    assert d["threshold_explains"] is False and "no threshold explains" in d["explanation"]


class ShortWeightBits(ReferenceTarget):
    """Every weight as ``2 * floor(w / 2)``: +1 -> 0, -1 -> -2, what Loihi's mixed-sign truncation does
    to weights doubled for 8 bits when Lava is told 7 (the weights, not any threshold, are wrong)."""

    name = "short-weight-bits"

    def run(self, compiled, spikes, *, record_hidden=False):
        network, s, hidden = compiled.network, spikes.astype(np.int64), []
        for layer in network.hidden:
            s = (s @ (2 * (layer.weights.astype(np.int64) // 2)).T >= layer.thresholds).astype(np.uint8)
            hidden.append(s)
        scores = s.astype(np.int64) @ (2 * (network.output.weights.astype(np.int64) // 2)).T + network.output.biases
        return RunResult(scores, hidden, len(s) + network.n_weight_layers, {})


def test_a_layer_gone_silent_is_blamed_on_a_shared_cause_not_on_each_threshold():
    # every neuron "explained" by a threshold above its every drive read as 12 threshold faults
    net = random_network((6, 12, 4), levels=2, seed=0)
    X, y = data_for(net, n=100)
    t = verify(net, [ShortWeightBits()], X, y).targets[0]
    lp = t.layers[0]
    assert lp.cause.startswith("11 of the layer's 12 neurons never fire where the model's do: that points to a "
                               "cause shared by the layer (its weights or their scale")
    assert t.diagnosis.startswith(f"hidden layer 0: 12 neuron(s) differ on 100 sample(s): {lp.cause}; neuron 0: "
                                  "never fires (the model's fires on ")
    assert sum(d["stuck"] == "silent" for d in lp.diagnosis) == 11


def test_a_few_threshold_faults_are_not_called_a_layer_wide_cause():
    from connttra_neuro.verify.diagnose import diagnose_hidden_layer

    net = random_network((6, 12, 4), levels=2, seed=0)
    X, y = data_for(net, n=100)
    t = verify(net, [FaultyTarget(set_threshold(0, 3, 10_000))], X, y).targets[0]
    assert t.layers[0].cause is None and "shared" not in t.diagnosis and "never fires" in t.diagnosis
    # every threshold moved, half up and half down: no one direction, no shared cause
    rng = np.random.default_rng(0)
    drive = rng.integers(-5, 6, (200, 8))
    model = np.zeros(8, np.int64)
    moved = np.array([1, -1] * 4)
    assert diagnose_hidden_layer(drive, drive >= moved, drive >= model, model) is None
    # in a small layer, all moving one way happens by chance (independent jitter): not named
    assert diagnose_hidden_layer(drive[:, :4], drive[:, :4] >= 1, drive[:, :4] >= 0, model[:4]) is None
    # every threshold up by one: one direction on every neuron
    assert diagnose_hidden_layer(drive, drive >= 1, drive >= model, model).startswith(
        "8 of the layer's 8 neurons fire as if their thresholds were higher, none lower: that points to a cause "
        "shared by the layer")
    # "more than half the layer": 8 of 16 neurons moved one way is half, not more; 9 of 16 is
    wide = rng.integers(-5, 6, (200, 16))
    model = np.zeros(16, np.int64)
    for moved, named in ((8, False), (9, True)):
        shifted = np.where(np.arange(16) < moved, 1, 0)
        cause = diagnose_hidden_layer(wide, wide >= shifted, wide >= model, model)
        assert (cause is not None) == named, (moved, cause)


def test_verify_maps_the_labels_a_model_was_fit_on_to_its_outputs():
    # a model fit in Python on labels {1, 2, 3} records them as metadata classes: verify takes y as fit took
    # it (the error is 1 - score), or output indices with y_are_outputs=True; before, the labels were taken
    # as output indices and the software error came out wrong (70% for a model scoring 70%)
    from connttra_neuro.datasets import load_dataset
    from connttra_neuro.train import CoNNTrA

    d = load_dataset("iris")
    est = CoNNTrA(hidden=(8,), levels=2, max_sweeps=5, random_state=0).fit(d.X_train, d.y_train + 1)
    expected = 1 - est.score(d.X_val, d.y_val + 1)
    by_labels = verify(est.network_, ["reference"], d.X_val, d.y_val + 1)
    by_outputs = verify(est.network_, ["reference"], d.X_val, d.y_val, y_are_outputs=True)
    for report in (by_labels, by_outputs):
        assert report.all_exact and report.software["error"] == pytest.approx(expected)
    assert report.software["confusion"] == by_labels.software["confusion"]
    with pytest.raises(ValueError, match=r"y of shape \(n,\), got \(30, 4\) and \(30, 3\)"):
        verify(est.network_, ["reference"], d.X_val, np.eye(3, dtype=int)[d.y_val])  # one-hot is no label column
    # output indices passed as labels: label 0 is none of the classes, and the warning says what to do
    with pytest.warns(UserWarning, match=r"y holds labels \[0\] that are none of the model's classes \[1, 2, 3\].*"
                                         r"y_are_outputs=True"):
        verify(est.network_, ["reference"], d.X_val, d.y_val)
    # labels fit recorded as text (names, fractions) are mapped too; before, 0.5-step labels were read as
    # output indices (58% for an 8% model) and names were refused
    for relabel in (lambda y: np.array(["setosa", "versicolor", "virginica"])[y], lambda y: 0.5 * y):
        est = CoNNTrA(hidden=(8,), levels=2, max_sweeps=5, random_state=1).fit(d.X_train, relabel(d.y_train))
        report = verify(est.network_, ["reference"], d.X_val, relabel(d.y_val))
        assert report.software["error"] == pytest.approx(1 - est.score(d.X_val, relabel(d.y_val)))


def test_labels_map_through_a_hand_made_unsorted_class_list():
    # metadata classes written by hand need not be sorted: output c stands for classes[c], whatever the order
    from connttra_neuro.verify.parity import labels_to_outputs

    classes = [7, 3, 9, 5]
    net = random_network((6, 9, 4), levels=2, seed=4)
    net = net.replace(metadata={**net.metadata, "classes": classes})
    X, _ = data_for(net, n=60, seed=3)
    model = forward(net, net.encode(X))[0].argmax(axis=1)
    y = np.array(classes)[model]
    y[:7] = np.array(classes)[(model[:7] + 1) % 4]  # seven wrong
    y[7] = 4  # a label the model has no output for
    assert labels_to_outputs(net, y).tolist() == [classes.index(v) if v in classes else 4 for v in y.tolist()]
    with pytest.warns(UserWarning, match="none of the model's classes"):
        report = verify(net, ["reference"], X, y)
    assert report.software["error"] == pytest.approx(8 / 60)


def test_verify_names_a_wrong_network_argument_and_takes_bool_features(tmp_path):
    from connttra_neuro import ModelFileError, save
    from connttra_neuro.train import CoNNTrA

    net = random_network((4, 6, 3), levels=1, seed=0)
    X = np.random.default_rng(0).random((20, 4)) > 0.5
    for wrong, name in ((CoNNTrA(), "CoNNTrA"), (None, "NoneType")):
        with pytest.raises(TypeError, match=rf"verify needs a TernaryNetwork .* or a model file's path, got {name}$"):
            verify(wrong, ["reference"], X, np.zeros(20, int))
    # a model file's path is read, as predict reads it (it was a TypeError here); a missing one is named
    path = save(net, tmp_path / "m.ctn")
    for given in (path, str(path)):
        assert verify(given, ["reference"], X, np.zeros(20, int)).to_dict()["network"] == \
            verify(net, ["reference"], X, np.zeros(20, int)).to_dict()["network"]
    with pytest.raises(ModelFileError, match="no such model file"):
        verify(str(tmp_path / "missing.ctn"), ["reference"], X, np.zeros(20, int))
    # bool features are 0/1, as fit takes them (they were refused as "not numeric" here)
    report = verify(net, ["reference"], X, np.zeros(20, int))
    assert report.all_exact and np.array_equal(net.encode(X), net.encode(X.astype(float)))


def test_labels_beyond_the_outputs_of_a_model_without_a_class_list_are_warned_of():
    # 1-based labels (1..3) for a model whose outputs are 0..2 and which records no other labels: label 3 has
    # no output and counts wrong; only a model with a class list warned, this one inflated the error unsaid
    net = random_network((4, 6, 3), levels=2, seed=0)
    X, y = data_for(net, n=30)
    with pytest.warns(UserWarning, match=r"^y holds labels \[3\] beyond the model's outputs 0..2, which the model "
                                         r"records no other labels for: they count as errors$"):
        report = verify(net, ["reference"], X, y + 1)
    assert report.labels_beyond_model == np.count_nonzero(y == 2) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        verify(net, ["reference"], X, y)  # labels in range: no warning
        verify(net, ["reference"], X, y + 1, y_are_outputs=True)  # mapped by the caller, who says so itself


def test_a_target_name_that_is_no_target_is_refused_before_any_target_runs():
    # verify(net, ["reference", "loihi"], ...) ran the others, then reported "loihi" as a failed target
    from hardware_targets import UnknownTargetError

    net = random_network((4, 6, 3), levels=2, seed=0)
    X, y = data_for(net, n=20)
    ran = []

    class Counting(ReferenceTarget):
        def run(self, compiled, spikes, *, record_hidden=False):
            ran.append(1)
            return super().run(compiled, spikes, record_hidden=record_hidden)

    with pytest.raises(UnknownTargetError, match="^unknown target 'loihi'; known targets: reference, loihi2, brian2"):
        verify(net, [Counting(), "loihi"], X, y)
    assert not ran


def test_class_changes_on_tied_model_scores_are_counted_in_the_diagnosis():
    # the model's class on a tie is only the lowest index of it: a bias one too high flips such a sample,
    # which read as "the class changed" with nothing to tell it from a sample the fault moved by a margin
    net = random_network((8, 12, 4), seed=1)  # 55 of its 300 samples tie for the top score
    X, y = data_for(net, n=300)

    def corrupt(n):
        b = n.output.biases.copy()
        b[1] += 1
        return n.replace(output=OutputLayer(n.output.weights, b))

    t = verify(net, [FaultyTarget(corrupt)], X, y).targets[0]
    ref, _ = forward(net, net.encode(X))
    # naively: the target's class is one the model's top score was tied on
    tied = sum(ref[s, t.predictions[s]] == ref[s].max() for s in t.disagreeing_samples)
    assert 0 < tied < t.disagreeing  # some samples flipped on a tie, others moved by a margin of one
    assert t.diagnosis.endswith(f"; {tied} of the {t.disagreeing} sample(s) that changed class went to a class tied "
                                "for the model's top score (the model takes the lowest-index class of a tie), so a "
                                "score change of any size moves them")
    # a fault that changes no class on a tie says nothing of ties
    assert "tied" not in verify(net, [FaultyTarget(set_threshold(0, 0, 99))], X, y).targets[0].diagnosis


def test_one_class_s_scores_written_to_two_outputs_are_called_a_copy_not_changed_weights():
    # output 2 given class 1's row: it read as every weight and the bias of class 2 changed, none is
    net = random_network((8, 12, 4), levels=3, seed=1)
    X, y = data_for(net, n=200)

    def copy_row(n):
        order = [0, 1, 1, 3]
        return n.replace(output=OutputLayer(n.output.weights[order], n.output.biases[order]))

    t = verify(net, [FaultyTarget(copy_row)], X, y).targets[0]
    assert t.diagnosis.startswith("output layer: 1 class(es) differ on ")
    assert ("class 2 shows the model's scores of class 1: another class's scores written to its output (or that "
            "class's row placed in its place), not a wrong weight or bias") in t.diagnosis
    assert "weight(s) differ" not in t.diagnosis
    assert [(d["class"], d["same_as_class"]) for d in t.layers[-1].diagnosis] == [(2, 1)]
    # a class whose weights were lost is no copy of a model's class without weights, though both score a constant
    w, b = net.output.weights.copy(), net.output.biases.copy()
    w[3], b[3] = 0, 5
    model = net.replace(output=OutputLayer(w, b))

    def lose_class_2(n):
        w, b = n.output.weights.copy(), n.output.biases.copy()
        w[2], b[2] = 0, 5
        return n.replace(output=OutputLayer(w, b))

    t = verify(model, [FaultyTarget(lose_class_2)], X, y).targets[0]
    assert t.first_differing_layer == "output layer" and t.layers[-1].neurons == [2]
    assert "shows the model's scores" not in t.diagnosis


def test_a_bias_or_weight_fault_that_lands_on_another_class_s_scores_is_not_said_to_be_no_bias_or_weight_fault():
    # two classes with the same weights a bias of 1 apart: class 2's bias one higher gives it exactly class 1's
    # scores, which read as a copy, "not a wrong weight or bias", though a wrong bias is all it was
    base = random_network((8, 12, 4), levels=3, seed=1)
    w, b = base.output.weights.copy(), base.output.biases.copy()
    w[2], b[2] = w[1], b[1] - 1
    net = base.replace(output=OutputLayer(w, b))
    X, y = data_for(net, n=200)

    def bias_up(n):
        b = n.output.biases.copy()
        b[2] += 1
        return n.replace(output=OutputLayer(n.output.weights, b))

    t = verify(net, [FaultyTarget(bias_up)], X, y).targets[0]
    assert t.first_differing_layer == "output layer" and t.layers[-1].neurons == [2]
    assert "not a wrong weight or bias" not in t.diagnosis
    assert ("class 2 shows the model's scores of class 1: another class's scores written to its output (or that "
            "class's row placed in its place), or one weight or the bias of the class changed, which fits these "
            "samples as exactly (class 2: score off by 1 on every sample: its bias differs)") in t.diagnosis
    assert t.layers[-1].diagnosis[0]["same_as_class"] == 1 and t.layers[-1].diagnosis[0]["bias_offset"] == 1
    # the same with one weight: class 2 is class 1 but for its weight from hidden neuron 4, which the fault gives it
    w, b = base.output.weights.copy(), base.output.biases.copy()
    w[2], b[2] = w[1], b[1]
    w[2, 4] = 1 if w[1, 4] != 1 else 0
    net = base.replace(output=OutputLayer(w, b))

    def weight_fault(n):
        w = n.output.weights.copy()
        w[2, 4] = w[1, 4]
        return n.replace(output=OutputLayer(w, n.output.biases))

    t = verify(net, [FaultyTarget(weight_fault)], X, y).targets[0]
    assert t.first_differing_layer == "output layer" and t.layers[-1].neurons == [2]
    assert "not a wrong weight or bias" not in t.diagnosis
    assert "or one weight or the bias of the class changed, which fits these samples as exactly" in t.diagnosis
    # a copy no one weight or bias explains stays a copy (test_one_class_s_scores_written_to_two_outputs_...)


def _quiet_deepest_layer():
    """A network whose deepest hidden layer is all 0 on some samples and one neuron on others, data, and its
    deepest layer's spikes (thresholds raised by 2: rows with no spike and rows with one are both common)."""
    net = random_network((8, 12, 6, 4), levels=3, seed=1)
    deep = net.hidden[1]
    net = net.replace(hidden=(net.hidden[0], HiddenLayer(deep.weights, deep.thresholds + 2)))
    X, y = data_for(net, n=200)
    _, hidden = forward(net, net.encode(X), record_hidden=True)
    return net, X, y, hidden[1]


def test_a_run_short_is_missing_results_though_the_model_s_spikes_are_all_0_on_one_of_its_last_samples():
    # three samples short in the deepest layer, and on the middle one of them the model's neurons are all silent
    # too: the differing samples (197, 199) were not the trailing block, and every neuron read as a threshold or
    # weight fault
    net, X, y, deep = _quiet_deepest_layer()
    spikes = deep.sum(axis=1)
    busy, silent = np.flatnonzero(spikes >= 2), np.flatnonzero(spikes == 0)
    tail = [busy[0], silent[0], busy[1]]
    order = np.r_[np.setdiff1d(np.arange(len(X)), tail), tail]
    X, y = X[order], y[order]

    def three_short(scores, hidden):
        scores[-4:] = 0
        hidden[-1][-3:] = 0
        return scores, hidden

    t = verify(net, [Doctored(three_short)], X, y).targets[0]
    assert t.first_differing_layer == "hidden layer 1" and t.layers[1].samples == [197, 199]
    assert t.diagnosis == ("hidden layer 1: the target's spikes on the last 3 samples of the run (197, 198, 199) are "
                           "all 0 where the model's are not on 2 of them (all 0 on the others too), and every other "
                           "sample's equal the model's: no result for them, as when the run ended early (a time step "
                           "or more short); not a wrong threshold or weight")
    assert t.layers[1].diagnosis[0]["missing_samples"] == 3


def _sparse_deep_layer():
    """8-12-6-4 with the deeper layer's thresholds raised by 2 (few spikes, some samples with one), its 200
    samples and the model's hidden spikes on them."""
    net = random_network((8, 12, 6, 4), levels=3, seed=3)
    deep = net.hidden[1]
    net = net.replace(hidden=(net.hidden[0], HiddenLayer(deep.weights, deep.thresholds + 2)))
    X, y = data_for(net, n=200)
    _, hidden = forward(net, net.encode(X), record_hidden=True)
    return net, X, y, hidden


def _moved_last(X, y, sample: int):
    """The samples with ``sample`` moved to the end of the run (the one a run ended early misses)."""
    order = np.r_[np.setdiff1d(np.arange(len(X)), [sample]), sample]
    return X[order], y[order]


def test_one_neuron_silent_on_the_last_sample_is_named_beside_missing_results():
    # on the last sample only one neuron of the deepest layer fires, at its lowest drive of all: all 0 there is a
    # run ended early, or that neuron's threshold one higher, as exactly; it was said to be "not a wrong threshold
    # or weight"
    net, X, y, hidden = _sparse_deep_layer()
    drive = hidden[0].astype(np.int64) @ net.hidden[1].weights.T.astype(np.int64)
    lone = [(j, s) for s in np.flatnonzero(hidden[1].sum(axis=1) == 1) for j in np.flatnonzero(hidden[1][s])
            if np.count_nonzero(drive[hidden[1][:, j] == 1, j] <= drive[s, j]) == 1]  # its unique lowest firing drive
    j, last = lone[0]
    X, y = _moved_last(X, y, last)

    def one_short(scores, hidden):
        scores[-2:] = 0
        hidden[-1][-1] = 0
        return scores, hidden

    t = verify(net, [Doctored(one_short)], X, y).targets[0]
    assert t.first_differing_layer == "hidden layer 1" and t.layers[1].neurons == [j]
    assert t.diagnosis.startswith("hidden layer 1: the target's spikes on the last sample of the run (199) are all 0 "
                                  "where the model's are not")
    assert "not a wrong threshold or weight" not in t.diagnosis
    assert t.diagnosis.endswith(f"; or neuron {j} never fires (the model's fires on 1 of 200 samples), as if its "
                                "threshold were >= 4 (model: 3), which fits these samples as exactly")


def test_one_class_s_weight_fault_that_zeroes_a_sample_s_scores_is_named_beside_missing_results():
    # every class scores 0 but class 0, whose one weight from a neuron that fires on the last sample alone makes it
    # 1 there: that weight lost leaves the last sample's scores all 0, which was "no result ...; not a wrong weight
    # or bias", though the lost weight fits as exactly
    net, X, y, hidden = _sparse_deep_layer()
    j = int(np.flatnonzero(hidden[1].sum(axis=0) == 1)[0])  # a neuron firing on one sample only
    X, y = _moved_last(X, y, int(np.flatnonzero(hidden[1][:, j])[0]))
    w = np.zeros_like(net.output.weights)
    w[0, j] = 1
    net = net.replace(output=OutputLayer(w, np.zeros_like(net.output.biases)))

    def lose_the_weight(n):
        return n.replace(output=OutputLayer(np.zeros_like(n.output.weights), n.output.biases))

    t = verify(net, [FaultyTarget(lose_the_weight)], X, y).targets[0]
    assert t.first_differing_layer == "output layer" and t.layers[-1].neurons == [0] and t.layers[-1].samples == [199]
    assert t.diagnosis.startswith("output layer: the target's scores on the last sample of the run (199) are all 0 "
                                  "where the model's are not")
    assert "not a wrong weight or bias" not in t.diagnosis
    assert t.diagnosis.endswith("; or class 0: score differs by -1..0 depending on the input: its weights differ, "
                                "which fits these samples as exactly")
