"""Reading NIR graphs back as networks (``connttra_neuro.load`` of a ``.nir``): the export's exact inverse,
graphs of the same form from another tool evaluated by NIR's own semantics, and every other file named."""

from __future__ import annotations

import warnings

import h5py
import nir
import numpy as np
import pytest

from connttra_neuro import load, random_network, save
from connttra_neuro.cli import main
from connttra_neuro.modelfile import ModelFileError, to_bytes
from connttra_neuro.network import TernaryNetwork, ThermometerEncoder, thaw_metadata
from connttra_neuro.nirfile import read_nir
from hardware_targets.loihi2 import export_netx, export_nir
from hardware_targets.reference import forward

from .networks import run_nir_graph


@pytest.mark.parametrize("sizes, levels, discrete_set", [
    ((12, 7, 5, 4), 3, (-1, 0, 1)),
    ((9, 3), 2, (-1, 0, 1)),  # no hidden layer
    ((10, 8, 4), 1, (-2, -1, 0, 1, 2)),
    ((10, 8, 4), 2, (-100, 0, 100)),
])
def test_a_nir_export_reads_back_as_the_same_network(tmp_path, sizes, levels, discrete_set):
    net = random_network(sizes, levels=levels, discrete_set=discrete_set, seed=5)
    cuts = net.encoder.thresholds.copy()
    cuts[0, -1] = np.inf  # a level that never fires (fit makes them for features of few values)
    net = net.replace(encoder=ThermometerEncoder(cuts),
                      metadata={"dataset": "x", "classes": list(range(sizes[-1])), "data_path": "/home/me/data"})
    back = load(export_nir(net, tmp_path / "m.nir"))
    assert isinstance(back, TernaryNetwork)
    assert thaw_metadata(back.metadata) == {"dataset": "x", "classes": list(range(sizes[-1]))}  # data_path left out
    assert to_bytes(back) == to_bytes(net.replace(metadata=back.metadata))  # every parameter bit for bit


@pytest.mark.parametrize("zero", [0.0, -0.0])
def test_an_encoder_cut_at_zero_reads_back(tmp_path, zero):
    # a cut at 0.0 (fit makes one for a feature of values -1 and 1) is exported as theta -5e-324, whose successor
    # is -0.0: the network read back differed from its digest in the sign of that zero, and load refused the
    # export as damaged. Both zeros give the same spikes; 0.0 reads back bit for bit
    net = random_network((4, 3, 2), levels=2, seed=1)
    cuts = net.encoder.thresholds.copy()
    cuts[:, 0] = [zero, -1.0, zero, 0.5]
    net = net.replace(encoder=ThermometerEncoder(cuts))
    back = load(export_nir(net, tmp_path / "m.nir"))
    assert back == net.replace(metadata=back.metadata)
    if not np.signbit(zero):
        assert to_bytes(back) == to_bytes(net.replace(metadata=back.metadata))
    X = np.array([[-1e-300, -1.0, 0.0, 0.5], [0.0, -2.0, -0.0, 0.4]])
    np.testing.assert_array_equal(back.encode(X), net.encode(X))


def test_commands_take_a_nir_file_as_the_model(tmp_path, capsys):
    from connttra_neuro.datasets import load_dataset
    from connttra_neuro.train import CoNNTrA

    data = load_dataset("digits")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = CoNNTrA(hidden=(16,), levels=2, max_sweeps=2, random_state=0).fit(
            data.X_train, data.y_train, dataset="digits", input_shape=data.input_shape)
    save(model.network_, tmp_path / "m.ctn")
    export_nir(model.network_, tmp_path / "m.nir")
    capsys.readouterr()
    assert main(["info", str(tmp_path / "m.nir")]) == 0
    assert "64 features -> 128 input spikes -> 16 -> 10" in capsys.readouterr().out
    assert main(["verify", str(tmp_path / "m.nir"), "--data", "digits", "--targets", "reference",
                 "--out", str(tmp_path / "report"), "--no-plots"]) == 0
    assert main(["evaluate", str(tmp_path / "m.nir"), "--data", "digits", "--json"]) == 0
    from_nir = capsys.readouterr().out.splitlines()[-1]
    assert main(["evaluate", str(tmp_path / "m.ctn"), "--data", "digits", "--json"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == from_nir  # the same errors, the same figures


def test_a_graph_of_the_same_form_from_another_tool_reads_by_nir_semantics():
    # thresholds not of the export's form (not t - 1/2, not nextafter), an Affine hidden layer with a bias,
    # a Linear read-out, no discrete_set in the metadata
    rng = np.random.default_rng(2)
    F, K, H, C = 6, 2, 5, 3
    graph = nir.NIRGraph(nodes={
        "in": nir.Input(input_type={"input": np.array([F])}),
        "enc": nir.Linear(weight=np.repeat(np.eye(F), K, axis=0)),
        "enc_thr": nir.Threshold(threshold=np.sort(rng.random((F, K)), axis=1).reshape(-1)),
        "h": nir.Affine(weight=rng.integers(-1, 2, (H, F * K)).astype(float), bias=np.array([0, 1, -2, 0.5, 3])),
        "h_thr": nir.Threshold(threshold=np.array([0.0, 1.3, -0.7, 2.0, 0.25])),
        "out": nir.Linear(weight=rng.integers(-1, 2, (C, H)).astype(float)),
        "o": nir.Output(output_type={"output": np.array([C])}),
    }, edges=[("in", "enc"), ("enc", "enc_thr"), ("enc_thr", "h"), ("h", "h_thr"), ("h_thr", "out"), ("out", "o")])
    from connttra_neuro.nirfile import _network

    net = _network(graph, nir)
    assert net.discrete_set == (-1, 0, 1) and thaw_metadata(net.metadata) == {"source": "nir"}
    X = rng.random((500, F))
    X[:20] = graph.nodes["enc_thr"].threshold.reshape(F, K)[:, 0]  # exactly on a threshold: v > theta is 0
    scores, _ = forward(net, net.encode(X))
    np.testing.assert_array_equal(scores, run_nir_graph(graph, X))


def test_hidden_thresholds_of_neurons_that_never_or_always_fire_read_as_the_same_spikes():
    # +inf and 1e300 never fire, -inf and -1e300 always: beyond int32, they read as the reachable drives' ends
    rng = np.random.default_rng(4)
    F, K, H, C = 5, 2, 6, 3
    weights = rng.integers(-1, 2, (H, F * K)).astype(float)
    graph = nir.NIRGraph(nodes={
        "in": nir.Input(input_type={"input": np.array([F])}),
        "enc": nir.Linear(weight=np.repeat(np.eye(F), K, axis=0)),
        "enc_thr": nir.Threshold(threshold=np.sort(rng.random((F, K)), axis=1).reshape(-1)),
        "h": nir.Linear(weight=weights),
        "h_thr": nir.Threshold(threshold=np.array([np.inf, -np.inf, 1e300, -1e300, 0.5, -0.5])),
        "out": nir.Affine(weight=rng.integers(-1, 2, (C, H)).astype(float), bias=np.zeros(C)),
        "o": nir.Output(output_type={"output": np.array([C])}),
    }, edges=[("in", "enc"), ("enc", "enc_thr"), ("enc_thr", "h"), ("h", "h_thr"), ("h_thr", "out"), ("out", "o")])
    from connttra_neuro.nirfile import _network

    net = _network(graph, nir)
    X = rng.random((300, F))
    _, hidden = forward(net, net.encode(X), record_hidden=True)
    drive = (X[:, :, None] >= net.encoder.thresholds[None]).reshape(len(X), -1) @ weights.T
    np.testing.assert_array_equal(hidden[0], drive > graph.nodes["h_thr"].threshold)  # NIR's v > theta
    assert hidden[0][:, [0, 2]].sum() == 0 and hidden[0][:, [1, 3]].all()
    # every binary input vector, the drives' ends included (each neuron's largest drive: all its positive
    # weights on, the negative ones off), which encoded random features seldom reach
    every = ((np.arange(2 ** (F * K))[:, None] >> np.arange(F * K)) & 1).astype(np.uint8)
    _, hidden = forward(net, every, record_hidden=True)
    np.testing.assert_array_equal(hidden[0], every @ weights.T > graph.nodes["h_thr"].threshold)
    scores, _ = forward(net, net.encode(X))
    np.testing.assert_array_equal(scores, run_nir_graph(graph, X))
    graph.nodes["h_thr"] = nir.Threshold(threshold=np.array([0.5, np.nan, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="node h: its threshold .* is NaN for neuron 1"):
        _network(graph, nir)


def _graph_file(tmp_path, name, nodes, edges):
    path = tmp_path / name
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=edges))
    return path


def test_files_that_are_no_network_are_named(tmp_path):
    net = random_network((6, 4, 3), seed=1)
    with pytest.raises(ModelFileError, match="is a lava-dl netx file, which holds the mapped fixed-point network"):
        load(export_netx(net, tmp_path / "m.net"))
    with h5py.File(tmp_path / "weights.h5", "w") as f:
        f["dense/kernel"] = np.zeros((3, 3))
    with pytest.raises(ModelFileError, match=r"weights.h5: an HDF5 file that is not a NIR graph \(top level: dense\)"):
        load(tmp_path / "weights.h5")
    # read_nir itself called these "an HDF5 file h5py cannot read"
    save(net, tmp_path / "m.ctn")
    (tmp_path / "empty.nir").write_bytes(b"")
    for name in ("m.ctn", "empty.nir"):
        with pytest.raises(ModelFileError, match=f"{name}: not a NIR file \\(a NIR file is HDF5, and no HDF5 "
                                                 "signature is in this [0-9,]+-byte file\\)"):
            read_nir(tmp_path / name)
    whole = export_nir(net, tmp_path / "m.nir").read_bytes()
    (tmp_path / "cut.nir").write_bytes(whole[:len(whole) // 2])
    with pytest.raises(ModelFileError, match="cut.nir: cut short: [0-9,]+ of the [0-9,]+ bytes of HDF5 data its "
                                             "export wrote"):
        load(tmp_path / "cut.nir")
    (tmp_path / "cut_plain.nir").write_bytes(whole[512:][:len(whole) // 2])  # an HDF5 file without the digest
    with pytest.raises(ModelFileError, match="cut_plain.nir: an HDF5 file h5py cannot read|cut_plain.nir: not a "
                                             "readable NIR"):
        load(tmp_path / "cut_plain.nir")
    lif = dict(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3))
    spiking = _graph_file(tmp_path, "lif.nir", {
        "input": nir.Input(input_type={"input": np.array([3])}),
        "fc": nir.Linear(weight=np.eye(3)),
        "lif": nir.LIF(**lif),
        "output": nir.Output(output_type={"output": np.array([3])}),
    }, [("input", "fc"), ("fc", "lif"), ("lif", "output")])
    with pytest.raises(ModelFileError, match=r"the graph is input \(Input\) -> fc \(Linear\) -> lif \(LIF\) -> "
                                             r"output \(Output\); a network of this toolkit is Input -> Linear"):
        load(spiking)
    graph = nir.read(export_nir(net, tmp_path / "real.nir"))
    graph.nodes["output"] = nir.Affine(weight=graph.nodes["output"].weight * 0.5, bias=graph.nodes["output"].bias)
    nir.write(tmp_path / "real.nir", graph)
    with pytest.raises(ModelFileError, match="node output: weights must be integers .* found 0.5"):
        load(tmp_path / "real.nir")
    graph.nodes["spikes"] = nir.Output(output_type={"output": np.array([6])})  # the input spikes read out too
    graph.edges.append(("encoder_threshold", "spikes"))
    nir.write(tmp_path / "branch.nir", graph)
    with pytest.raises(ModelFileError, match=r"node encoder_threshold feeds 2 nodes \(hidden_0, spikes\)"):
        load(tmp_path / "branch.nir")


def test_an_export_whose_parameters_changed_since_is_refused_not_read_as_another_network(tmp_path):
    # HDF5 checks no data: one flipped bit in a digits export read back with every output weight 0, and verify
    # then called every target exact. The export records a digest of the parameters; reading checks it.
    net = random_network((6, 4, 3), seed=1)
    graph = nir.read(export_nir(net, tmp_path / "m.nir"))
    weights = np.array(graph.nodes["output"].weight)
    weights[0, 0] = -weights[0, 0] if weights[0, 0] else 1  # still an integer network, but not the exported one
    graph.nodes["output"] = nir.Affine(weight=weights, bias=graph.nodes["output"].bias)
    nir.write(tmp_path / "changed.nir", graph)
    with pytest.raises(ModelFileError, match="changed.nir: the parameters read back differ from the ones its export "
                                             "recorded"):
        load(tmp_path / "changed.nir")
    del graph.metadata["parameter_digest"]  # what the message offers for a graph edited on purpose
    nir.write(tmp_path / "edited.nir", graph)
    assert load(tmp_path / "edited.nir").output.weights[0, 0] == weights[0, 0]


def test_an_export_edited_in_place_reads_after_the_steps_its_first_refusal_names(tmp_path):
    # h5py keeps the user block, so a weight edited in place is refused for the block's digest. That message
    # said only to drop the block, which the user guide repeated ("reads once the block is dropped"); the
    # file was then refused again, for its parameter_digest. The first refusal names both steps.
    net = random_network((6, 4, 3), seed=1)
    path = export_nir(net, tmp_path / "m.nir")
    with h5py.File(path, "r+") as f:
        weights = f["node/nodes/output/weight"][...]
        weights[0, 0] = -weights[0, 0] if weights[0, 0] else 1
        f["node/nodes/output/weight"][...] = weights
    with pytest.raises(ModelFileError) as refused:
        load(path)
    message = str(refused.value)
    assert "tail -c +513 FILE > EDITED.nir" in message
    assert 'del f["node/metadata/parameter_digest"]' in message
    edited = tmp_path / "EDITED.nir"
    edited.write_bytes(path.read_bytes()[512:])  # tail -c +513
    with h5py.File(edited, "r+") as f:
        del f["node/metadata/parameter_digest"]
    assert load(edited).output.weights[0, 0] == weights[0, 0]


def test_model_metadata_nested_past_pythons_limit_reads_as_none_recorded(tmp_path):
    # json.loads raised RecursionError out of load: a traceback at the CLI
    net = random_network((6, 4, 3), seed=1)
    graph = nir.read(export_nir(net, tmp_path / "m.nir"))
    graph.metadata["model_metadata"] = "[" * 100_000
    nir.write(tmp_path / "deep.nir", graph)
    back = load(tmp_path / "deep.nir")
    assert back == TernaryNetwork(net.encoder, net.hidden, net.output, net.discrete_set, back.metadata)
    assert thaw_metadata(back.metadata)["source"] == "nir"


@pytest.mark.parametrize("node, edit", [
    ("output", "bias"), ("hidden_1", "weight"), ("hidden_0_threshold", "threshold"),
    ("encoder_threshold", "threshold"),
])
def test_a_change_to_any_parameter_of_an_export_is_refused(tmp_path, node, edit):
    # the digest covers every array that decides spikes and scores, not only the weights: a bias, a threshold
    # or an encoder cut changed since the export reads back as another network, refused as above
    net = random_network((6, 5, 4, 3), levels=2, seed=2)
    graph = nir.read(export_nir(net, tmp_path / "m.nir"))
    old = graph.nodes[node]
    value = np.array(getattr(old, edit), dtype=np.float64)
    value.flat[-1] += 1 if edit != "weight" else (-1 if value.flat[-1] > 0 else 1)  # the last: still ordered
    if edit == "bias":
        graph.nodes[node] = nir.Affine(weight=old.weight, bias=value)
    elif edit == "weight":
        graph.nodes[node] = nir.Linear(weight=value)
    else:
        graph.nodes[node] = nir.Threshold(threshold=value)
    nir.write(tmp_path / "changed.nir", graph)
    with pytest.raises(ModelFileError, match="changed.nir: the parameters read back differ"):
        load(tmp_path / "changed.nir")
    del graph.metadata["parameter_digest"]
    nir.write(tmp_path / "edited.nir", graph)
    assert load(tmp_path / "edited.nir") != net  # the edit is one the network shows


def test_a_damaged_export_is_refused_before_hdf5_reads_it(tmp_path, monkeypatch):
    # libhdf5 looped without end inside nir.read on one of 120 single-bit flips of an export: the user block's
    # digest of the HDF5 data is checked first, so a damaged file never reaches it
    from connttra_neuro._atomic import NIR_SIGNATURE
    from connttra_neuro.nirfile import USER_BLOCK

    net = random_network((6, 4, 3), seed=1)
    path = export_nir(net, tmp_path / "m.nir")
    data = path.read_bytes()
    assert data.startswith(NIR_SIGNATURE) and load(path) == net
    with h5py.File(path, "r") as f:  # any HDF5 reader finds the data behind the block
        assert f.userblock_size == USER_BLOCK and {"node", "version"} <= set(f)
    assert {"encoder", "hidden_0", "output"} <= set(nir.read(path).nodes)
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 4
    (tmp_path / "damaged.nir").write_bytes(damaged)
    monkeypatch.setattr(nir, "read", lambda *a, **k: pytest.fail("nir.read ran on a damaged export"))
    with pytest.raises(ModelFileError, match="damaged.nir: its bytes differ from the ones its export wrote"):
        load(tmp_path / "damaged.nir")
    monkeypatch.undo()
    (tmp_path / "plain.nir").write_bytes(data[USER_BLOCK:])  # the message's way to read a file edited on purpose
    assert load(tmp_path / "plain.nir") == net
    flipped = bytearray(data)
    flipped[USER_BLOCK - 8] ^= 1  # in the block's padding: the HDF5 data are whole, and read
    (tmp_path / "padding.nir").write_bytes(flipped)
    assert load(tmp_path / "padding.nir") == net
    (tmp_path / "m2.nir").write_bytes(data)
    assert export_nir(net, tmp_path / "m2.nir") == tmp_path / "m2.nir"  # an export replaces an export
