"""The parity report's JSON schema is stable; the Markdown/HTML report and plots are written."""

from __future__ import annotations

import json
import os
from html import escape

import numpy as np
import pytest

from connttra_neuro.network import HiddenLayer, random_network
from connttra_neuro.verify import SCHEMA, SCHEMA_VERSION, verify, write_report
from connttra_neuro.verify.parity import _pct
from hardware_targets.reference import ReferenceTarget

# The documented schema (docs/user-guide.md, "Parity report JSON"). Changing a key is a breaking
# change: bump SCHEMA_VERSION and the docs together.
TOP_KEYS = {
    "schema", "schema_version", "created", "dataset", "n_samples", "all_exact", "network", "footprint",
    "float_mlp", "software", "labels", "targets",
}  # fmt: skip
TARGET_KEYS = {
    "target", "status", "error", "software_error", "n_samples", "agreeing", "disagreeing", "disagreeing_samples",
    "scores_equal", "score_samples_differing", "score_max_abs_difference", "layers", "first_differing_layer",
    "diagnosis", "spikes_per_layer", "operations", "energy", "latency_steps", "run_steps", "compile_seconds",
    "run_seconds", "resources", "confusion", "predictions", "failure", "info",
}  # fmt: skip
LAYER_KEYS = {
    "layer", "equal", "neurons_differing", "samples_differing", "neurons", "samples", "diagnosis", "cause",
}  # fmt: skip
OPS_KEYS = {
    "layers", "effective_acs", "effective_macs", "dense", "neuron_updates", "spikes_per_layer",
    "activation_sparsity", "connection_sparsity",
}  # fmt: skip
ENERGY_KEYS = {
    "joules_per_inference", "synaptic_joules", "neuron_joules", "joules_per_synop", "joules_per_neuron_update",
    "source",
}  # fmt: skip
NETWORK_KEYS = {
    "layer_sizes", "discrete_set", "n_weights", "connection_sparsity", "encoder_levels", "n_features", "class_names",
    "classes",
}  # fmt: skip
SOFTWARE_KEYS = {"error", "confusion", "spikes_per_layer", "operations", "energy", "latency_steps", "predictions"}
FOOTPRINT_KEYS = {"packed_weight_bits", "weights_packed_bytes", "bits_per_weight", "model_file_bytes", "n_weights"}


class OffThreshold(ReferenceTarget):
    name = "off-threshold"

    def compile(self, network):
        h = list(network.hidden)
        t = h[0].thresholds.copy()
        t[2] = 10_000  # never fires
        h[0] = HiddenLayer(h[0].weights, t)
        return super().compile(network.replace(hidden=tuple(h)))


def _report():
    net = random_network((4, 8, 3), seed=4)
    rng = np.random.default_rng(0)
    X, y = rng.random((80, 4)), rng.integers(0, 3, 80)
    # make sure neuron 2 fires sometimes, so the fault shows
    return verify(net, ["reference", OffThreshold()], X, y, dataset="random"), net


def test_json_keys_are_stable():
    report, net = _report()
    d = json.loads(json.dumps(report.to_dict(), allow_nan=False))  # strict JSON: no NaN/inf
    assert set(d) == TOP_KEYS
    assert d["schema"] == SCHEMA and d["schema_version"] == SCHEMA_VERSION == 1
    assert set(d["software"]) == SOFTWARE_KEYS
    assert set(d["network"]) == NETWORK_KEYS
    assert d["network"]["class_names"] is None and d["network"]["classes"] is None  # random_network records none
    assert FOOTPRINT_KEYS <= set(d["footprint"])
    assert set(d["float_mlp"]) == {"macs_per_inference", "weights_float32_bytes"}
    assert d["float_mlp"]["macs_per_inference"] == 4 * 8 + 8 * 3
    assert d["n_samples"] == len(d["labels"]) == 80
    for t in d["targets"]:
        assert set(t) == TARGET_KEYS
        assert set(t["operations"]) == OPS_KEYS
        assert set(t["energy"]) == ENERGY_KEYS
        for lp in t["layers"]:
            assert set(lp) == LAYER_KEYS
        assert [lp["layer"] for lp in t["layers"]] == ["hidden layer 0", "output layer"]
    assert [t["status"] for t in d["targets"]] == ["exact", "mismatch"]
    assert d["all_exact"] is False


def test_the_json_says_what_each_output_stands_for():
    # a parity.json alone (no model file beside it) maps output indices to the classes it counts
    net = random_network((4, 6, 3), seed=1)
    named = net.replace(metadata={"classes": [2, 5, 7], "class_names": ["cat", "dog", "emu"]})
    X, y = np.random.default_rng(0).random((20, 4)), np.array([2, 5, 7, 5] * 5)
    d = verify(named, "reference", X, y).to_dict()
    assert d["network"]["class_names"] == ["cat", "dog", "emu"] and d["network"]["classes"] == [2, 5, 7]
    text = net.replace(metadata={"classes": ["a", "b", "c"]})
    assert verify(text, "reference", X, np.array(list("abca") * 5)).to_dict()["network"]["classes"] == ["a", "b", "c"]


def test_footprint_counts_true_packed_bits():
    report, net = _report()
    fp = report.footprint
    # ternary packs 5 weights per byte: ceil(32/5) + ceil(24/5) bytes
    assert fp["weights_packed_bytes"] == 7 + 5
    assert fp["packed_weight_bits"] == 8 * fp["weights_packed_bytes"]


def test_report_files_and_plots(tmp_path):
    report, _ = _report()
    paths = write_report(report, tmp_path / "r", title="Parity test")
    for key in ("json", "markdown", "html", "plot_confusion", "plot_spikes", "plot_agreement", "plot_operations"):
        assert paths[key].exists() and paths[key].stat().st_size > 0, key
    for key in ("plot_confusion", "plot_spikes", "plot_agreement", "plot_operations"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = paths["markdown"].read_text()
    html = paths["html"].read_text()
    assert "# Parity test" in md and "plots/confusion.png" in md
    assert "off-threshold" in md and "hidden layer 0" in md and "neuron 2" in md
    assert "<img src='plots/agreement.png'" in html and "<table>" in html
    assert json.loads(paths["json"].read_text())["targets"][1]["first_differing_layer"] == "hidden layer 0"


def test_a_plot_cut_off_half_way_leaves_the_earlier_one_whole(tmp_path, monkeypatch):
    # plots were drawn straight into their final names: an interrupted report left a half-written PNG
    from matplotlib.figure import Figure

    report, _ = _report()
    before = write_report(report, tmp_path)["plot_confusion"].read_bytes()

    def cut_off(self, fname, **kwargs):
        with open(fname, "wb") as f:
            f.write(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", cut_off)
    with pytest.raises(KeyboardInterrupt):
        write_report(report, tmp_path)
    assert (tmp_path / "plots" / "confusion.png").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "plots").iterdir() if p.name.startswith(".")) == []  # no temp left


def test_summary_table_names_the_fault():
    report, _ = _report()
    table = report.summary_table()
    assert "off-threshold" in table and "MISMATCH" in table and "hidden layer 0" in table
    assert "multiply-accumulates" in table


class Broken(ReferenceTarget):
    name = "broken"

    def run(self, compiled, spikes, *, record_hidden=False):
        raise RuntimeError("simulator crashed")


def test_report_with_a_failed_target_and_no_hidden_layer(tmp_path):
    # edge cases for every plot and table: a target that did not run, a network without hidden layers
    net = random_network((5, 4), seed=1)
    rng = np.random.default_rng(2)
    report = verify(net, ["reference", Broken()], rng.random((40, 5)), rng.integers(0, 4, 40))
    assert [t.status for t in report.targets] == ["exact", "failed"]
    assert "simulator crashed" in report.targets[1].failure
    assert report.software["operations"]["activation_sparsity"] is None  # no hidden neurons
    paths = write_report(report, tmp_path)
    d = json.loads(paths["json"].read_text())
    assert set(d["targets"][1]) == TARGET_KEYS and d["targets"][1]["layers"] == []
    assert "did not run" in paths["markdown"].read_text()
    assert all(paths[k].stat().st_size > 0 for k in paths if k.startswith("plot_"))


class _OffThreshold(ReferenceTarget):
    name = "off-threshold"

    def compile(self, network):
        t = network.hidden[0].thresholds.copy()
        t[2] = 10_000  # never fires
        return super().compile(network.replace(hidden=(HiddenLayer(network.hidden[0].weights, t),)))


def test_markdown_layer_table_shows_neurons_and_samples_differing(tmp_path):
    net = random_network((4, 8, 3), seed=4)
    rng = np.random.default_rng(0)
    report = verify(net, [_OffThreshold()], rng.random((80, 4)), rng.integers(0, 3, 80))
    lp = report.targets[0].layers[0]
    assert lp.neurons_differing == 1 and lp.samples_differing > 1  # the two counts differ, so a swap shows
    md = write_report(report, tmp_path, plots=False)["markdown"].read_text()
    assert f"| hidden layer 0 | DIFFERS | 1 | {lp.samples_differing} | 2 |" in md


def test_the_samples_that_differ_are_named_per_layer_neuron_and_class(tmp_path):
    # counts alone left a user no sample to replay when every class agreed
    from hardware_targets.reference import forward

    net = random_network((4, 8, 3), seed=4)
    rng = np.random.default_rng(0)
    X, y = rng.random((80, 4)), rng.integers(0, 3, 80)
    report = verify(net, [_OffThreshold()], X, y)
    _, (hidden,) = forward(net, net.encode(X), record_hidden=True)
    rows = np.flatnonzero(hidden[:, 2])  # the model's neuron 2 fires here; the deployed one never does
    assert rows.size > 10  # more than are listed, so "first 10 of" shows
    lp, out = report.targets[0].layers
    assert lp.samples == rows[:10].tolist() and lp.diagnosis[0]["samples"] == rows[:10].tolist()
    assert out.samples and all(d["samples"] and set(d["samples"]) <= set(rows.tolist()) for d in out.diagnosis)
    paths = write_report(report, tmp_path, plots=False)
    d = json.loads(paths["json"].read_text())["targets"][0]["layers"][0]
    assert d["samples"] == d["diagnosis"][0]["samples"] == rows[:10].tolist()
    listed = f"{', '.join(map(str, rows[:10]))} (first 10 of {rows.size})"
    md = paths["markdown"].read_text()
    assert f"| hidden layer 0 | DIFFERS | 1 | {rows.size} | 2 | {listed} |" in md
    assert f"- hidden layer 0, neuron 2: {lp.diagnosis[0]['explanation']}; differs on samples {listed}" in md
    assert f"differs on samples {listed}</li>" in paths["html"].read_text()


class AllSilent(ReferenceTarget):
    name = "all-silent"

    def compile(self, network):
        t = network.hidden[0].thresholds.copy()
        t[:] = 10_000  # no hidden neuron fires
        return super().compile(network.replace(hidden=(HiddenLayer(network.hidden[0].weights, t),)))


def _silent_report():
    net = random_network((4, 8, 3), seed=4)
    rng = np.random.default_rng(0)
    return verify(net, ["reference", AllSilent()], rng.random((80, 4)), rng.integers(0, 3, 80))


def test_targets_table_shows_the_target_s_error_then_the_trained_model_s(tmp_path):
    report = _silent_report()
    t = report.target("all-silent")
    assert t.error != t.software_error  # else a swap would not show
    md = write_report(report, tmp_path, plots=False)["markdown"].read_text()
    assert f"| all-silent | mismatch | {_pct(t.error)} | {_pct(t.software_error)} |" in md


def test_a_layer_wide_cause_is_in_the_json_markdown_and_html(tmp_path):
    report = _silent_report()  # every threshold raised out of reach: the whole layer falls silent
    cause = report.target("all-silent").layers[0].cause
    assert cause and "never fire where the model's do: that points to a cause shared by the layer" in cause
    paths = write_report(report, tmp_path, plots=False)
    assert json.loads(paths["json"].read_text())["targets"][1]["layers"][0]["cause"] == cause
    assert f"- hidden layer 0, the whole layer: {cause}" in paths["markdown"].read_text()
    assert f"<li>hidden layer 0, the whole layer: {escape(cause)}</li>" in paths["html"].read_text()
    assert report.target("reference").layers[0].cause is None


def test_operations_table_columns_hold_macs_then_dense_then_updates(tmp_path):
    report = _silent_report()
    ops = report.software["operations"]
    assert (ops["effective_macs"], ops["dense"], ops["neuron_updates"]) == (0, 4 * 8 + 8 * 3, 8 + 3)
    md = write_report(report, tmp_path, plots=False)["markdown"].read_text()
    assert "| trained model (reference forward) |" in md
    row = next(line for line in md.splitlines() if line.startswith("| trained model (reference forward) |"))
    assert row.split(" | ")[3:6] == ["0", "56", "11"]


def test_every_report_file_is_renamed_into_place(tmp_path, monkeypatch):
    # written to a temporary file and renamed: a crash mid-write keeps the previous report whole
    import connttra_neuro._atomic as atomic

    renamed = []
    real = atomic.os.replace
    monkeypatch.setattr(atomic.os, "replace", lambda src, dst: renamed.append(os.path.basename(dst)) or real(src, dst))
    write_report(_silent_report(), tmp_path, plots=False)
    assert sorted(renamed) == ["parity.html", "parity.json", "parity.md"]


def test_a_file_in_the_report_folder_s_place_is_named_and_kept(tmp_path):
    report, _ = _report()
    (tmp_path / "r").write_text("notes")
    with pytest.raises(FileExistsError, match="r exists and is a file, not a folder for the report"):
        write_report(report, tmp_path / "r", plots=False)
    assert (tmp_path / "r").read_text() == "notes"


# -- the plots say what differs -----------------------------------------------------------
class SwapsScores(ReferenceTarget):
    """Right spikes, but scores off: reversed on samples 0-4 (another class on some), one higher on
    5-14 (the same class)."""

    name = "swaps-scores"

    def run(self, compiled, spikes, *, record_hidden=False):
        result = super().run(compiled, spikes, record_hidden=record_hidden)
        result.scores[:5] = result.scores[:5, ::-1].copy()
        result.scores[5:15] += 1
        return result


@pytest.fixture
def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def _inside(fig, artists):
    renderer = fig.canvas.get_renderer()
    for a in artists:
        box = a.get_window_extent(renderer)
        assert fig.bbox.x0 - 1 <= box.x0 and box.x1 <= fig.bbox.x1 + 1, a
        assert fig.bbox.y0 - 1 <= box.y0 and box.y1 <= fig.bbox.y1 + 1, a


def test_the_agreement_plot_says_what_differs_and_scales_its_colours_to_the_samples(tmp_path, pyplot):
    from connttra_neuro.verify.report import _plot_agreement

    net = random_network((4, 8, 3), seed=4)
    rng = np.random.default_rng(0)
    report = verify(net, ["reference", OffThreshold(), SwapsScores()], rng.random((80, 4)), rng.integers(0, 3, 80))
    reference, off, swaps = report.targets
    assert off.agreeing == 80 and off.score_samples_differing > 0 and 0 < swaps.disagreeing <= 5
    assert swaps.score_samples_differing == 15
    _plot_agreement(pyplot, report, tmp_path / "a.png")
    fig = pyplot.gcf()
    fig.canvas.draw()
    bars, grid, colourbar = fig.axes
    texts = [t.get_text() for t in bars.texts]
    # the classes all agree on off-threshold, its scores do not: the label says both
    assert texts == ["80/80 classes; every spike and score equal",
                     f"80/80 classes; scores differ on {off.score_samples_differing}",
                     f"{swaps.agreeing}/80 classes; scores differ on {swaps.score_samples_differing}"]
    # three parts per bar: same scores, same class from other scores, another class
    widths = np.array([p.get_width() for p in bars.patches]).reshape(3, 3).T  # patches go part by part
    assert widths.sum(axis=1).tolist() == [80, 80, 80]
    assert widths[1].tolist() == [80 - off.score_samples_differing, off.score_samples_differing, 0]
    assert widths[2].tolist() == [65, 15 - swaps.disagreeing, swaps.disagreeing]
    assert colourbar.get_ylim() == (0, 80) and "of 80" in colourbar.get_ylabel()
    assert f"{off.layers[0].samples_differing} of 80" in [t.get_text() for t in grid.texts]
    renderer = fig.canvas.get_renderer()
    legend = bars.get_legend()
    assert not legend.get_window_extent(renderer).overlaps(bars.get_window_extent(renderer))  # not over a bar
    _inside(fig, [legend, *bars.texts, colourbar.yaxis.label])


def test_the_spikes_plot_does_not_claim_equal_bars_mean_equal_spikes(tmp_path, pyplot):
    from connttra_neuro.verify.report import _plot_spikes

    report, _ = _report()
    _plot_spikes(pyplot, report, report.targets, tmp_path / "s.png")
    fig = pyplot.gcf()
    fig.canvas.draw()
    (ax,) = fig.axes
    assert "mean spikes per inference" in fig.get_suptitle().lower()
    assert "do not mean equal spikes" in ax.get_title() and "identical activity" not in ax.get_title()
    off = report.targets[1].layers[0].samples_differing
    legend = [t.get_text().replace("\n", " ") for t in ax.get_legend().get_texts()]
    assert legend[:2] == ["trained model", "reference"]
    assert legend[2] == f"off-threshold (spikes differ on {off} samples (hidden layer 0))"
    _inside(fig, [fig._suptitle, ax.title, ax.get_legend()])


def test_the_confusion_plot_names_what_each_row_and_column_stands_for(tmp_path, pyplot):
    # output 0 of a model trained on the folders one/two/zero is "one", of a model fit on labels 3, 7, 9
    # it is 3: ticks 0, 1, 2 read as the digits 0, 1, 2
    from connttra_neuro.verify.report import _plot_confusion

    net = random_network((4, 6, 3), seed=1)
    X = np.random.default_rng(0).random((30, 4))
    for metadata, y, ticks in (({"classes": [0, 1, 2], "class_names": ["one", "two", "zero"]}, [0, 1, 2] * 10,
                                ["one", "two", "zero"]),
                               ({"classes": [3, 7, 9]}, [3, 7, 9] * 10, ["3", "7", "9"]),
                               ({}, [0, 1, 2] * 10, ["0", "1", "2"])):
        report = verify(net.replace(metadata=metadata), "reference", X, np.array(y))
        _plot_confusion(pyplot, report, report.targets, tmp_path / "c.png")
        fig = pyplot.gcf()
        for ax in fig.axes[:2]:  # the trained model's and the target's matrix
            assert [t.get_text() for t in ax.get_xticklabels()] == ticks
            assert [t.get_text() for t in ax.get_yticklabels()] == ticks
        pyplot.close("all")


def test_labels_beyond_a_model_fit_on_other_labels_are_named_by_its_classes():
    # a model fit on labels 3, 7, 9 has no class for 5; "(>= 3)" named one of its classes as unknown
    net = random_network((4, 6, 3), seed=1).replace(metadata={"classes": [3, 7, 9]})
    X = np.random.default_rng(0).random((12, 4))
    with pytest.warns(UserWarning, match="none of the model's classes"):
        report = verify(net, "reference", X, np.array([3, 7, 9, 5] * 3))
    table = report.summary_table()
    assert "3 of 12 samples have a label the model has no class for (none of its classes [3, 7, 9])" in table
    assert ">= 3" not in table
    with pytest.warns(UserWarning, match=r"y holds labels \[5\] beyond the model's outputs 0..2"):
        plain = verify(random_network((4, 6, 3), seed=1), "reference", X, np.array([0, 1, 2, 5] * 3))
    assert "(>= 3)" in plain.summary_table()


class OffBias(ReferenceTarget):
    name = "off-bias"

    def compile(self, network):
        from connttra_neuro.network import OutputLayer

        b = network.output.biases.copy()
        b[2] += 1
        return super().compile(network.replace(output=OutputLayer(network.output.weights, b)))


def test_a_faulty_class_is_named_by_what_the_output_stands_for(tmp_path):
    # output 2 of a model trained on the folders cat/dog/emu is "emu": "class 2" alone sent the reader to the JSON
    net = random_network((4, 6, 3), seed=1)
    X = np.random.default_rng(0).random((30, 4))
    for metadata, y, shown in (({"classes": [0, 1, 2], "class_names": ["cat", "dog", "emu"]}, [0, 1, 2] * 10,
                                "class 2 (emu): score off by 1"),
                               ({"classes": [3, 7, 9]}, [3, 7, 9] * 10, "class 2 (9): score off by 1"),
                               ({}, [0, 1, 2] * 10, "class 2: score off by 1")):
        report = verify(net.replace(metadata=metadata), OffBias(), X, np.array(y))
        assert shown in report.targets[0].diagnosis and shown in report.summary_table()
        md = write_report(report, tmp_path, plots=False)["markdown"].read_text()
        assert f"output layer, {shown}" in md


def test_the_report_says_how_many_faulty_neurons_it_does_not_list(tmp_path):
    # the report lists ten diagnosed neurons a layer; the rest went unsaid (parity.json has twenty)
    net = random_network((6, 40, 3), seed=2)

    class Shifted(ReferenceTarget):
        name = "shifted"

        def compile(self, network):
            layer = network.hidden[0]
            return super().compile(network.replace(hidden=(HiddenLayer(layer.weights, layer.thresholds + 1),)))

    X = np.random.default_rng(0).random((200, 6))
    report = verify(net, [Shifted()], X, np.zeros(200, int))
    lp = report.targets[0].layers[0]
    assert lp.neurons_differing > 20 and len(lp.diagnosis) == 20
    md = write_report(report, tmp_path, plots=False)["markdown"].read_text()
    assert f"hidden layer 0: +{lp.neurons_differing - 10} more neuron(s) differ, not listed here" in md
    assert "parity.json diagnoses the first 20" in md


def test_missing_results_read_the_same_in_the_json_markdown_html_and_table(tmp_path):
    # one entry for the whole output layer: not followed by "+3 more class(es) differ, not listed here"
    net = random_network((8, 12, 4), levels=3, seed=1)
    rng = np.random.default_rng(0)
    X, y = rng.random((100, 8)), rng.integers(0, 4, 100)

    class StepShort(ReferenceTarget):
        name = "step-short"

        def run(self, compiled, spikes, *, record_hidden=False):
            r = super().run(compiled, spikes, record_hidden=record_hidden)
            r.scores[-1] = 0  # the last sample's scores never written
            return r

    report = verify(net, [StepShort()], X, y)
    t = report.targets[0]
    assert t.layers[-1].neurons_differing > 1  # several classes, one entry
    said = t.diagnosis.split(": ", 1)[1]
    assert said.startswith("the target's scores on the last sample of the run (99) are all 0")
    paths = write_report(report, tmp_path, plots=False)
    md, page = paths["markdown"].read_text(), paths["html"].read_text()
    assert json.loads(paths["json"].read_text())["targets"][0]["layers"][-1]["diagnosis"][0]["explanation"] == said
    assert f"- output layer, every class: {said}" in md and escape(said) in page
    assert "more class(es) differ" not in md and "more class(es) differ" not in page
    assert f"step-short: {t.diagnosis}" in report.summary_table()


def test_a_target_without_hidden_spikes_is_not_shown_as_matching_its_hidden_layers(tmp_path):
    # "first differing layer: output layer" and "0 neurons differ" in the hidden rows read as "the hidden
    # layers matched"; they were not compared
    net = random_network((4, 8, 3), seed=4)
    X, y = np.random.default_rng(0).random((80, 4)), np.zeros(80, int)

    class Blind(ReferenceTarget):
        name = "blind"

        def compile(self, network):
            b = network.output.biases.copy()
            b[1] += 1
            return super().compile(network.replace(output=type(network.output)(network.output.weights, b)))

        def run(self, compiled, spikes, *, record_hidden=False):
            r = super().run(compiled, spikes)
            return type(r)(r.scores, None, r.steps, r.info)

    report = verify(net, [Blind()], X, y)
    t = report.targets[0]
    assert t.first_differing_layer == "output layer"  # the JSON: the first layer compared that differs
    assert "output layer (hidden spikes not recorded)" in report.summary_table()
    md = write_report(report, tmp_path, plots=False)["markdown"].read_text()
    assert "| output layer (hidden spikes not recorded) |" in md
    assert "| hidden layer 0 | not recorded | - | - | - | - |" in md
    assert "no (80 sample(s))" in md
