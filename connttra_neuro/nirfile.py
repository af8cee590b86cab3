"""Read a NIR graph back into a :class:`TernaryNetwork`, so a ``.nir`` file is a model like a ``.ctn``.

``connttra_neuro.load`` (and with it every command that takes a MODEL: ``info``, ``evaluate``,
``verify``, ``deploy``, ``predict``) reads a NIR file through :func:`read_nir`. It reads the graphs
``export_nir`` writes, and any graph of the same form from another tool::

    Input (F) -> Linear (encoder: each feature repeated K times) -> Threshold (theta)
      -> [Linear or Affine -> Threshold] per hidden layer -> Affine or Linear (scores) -> Output

NIR's Threshold is strict (``v > theta``), so the exact inverse of the export is taken: an encoder
level fires at ``x >= nextafter(theta, +inf)`` (for float64 ``x`` the same as ``x > theta``), and a
hidden neuron, whose drive is an integer, at ``drive >= floor(theta) + 1`` (``theta - b`` for an
Affine with bias ``b``). Weights must be integers in the discrete set (the graph's metadata
``discrete_set``; without it, the values used together with {-1, 0, 1}); the network's own checks
name what is not. A lava-dl netx file holds the mapped fixed-point network without its encoder: it
is named and refused, as is any graph of another shape (a branch, a LIF neuron, a convolution).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .modelfile import ModelFileError
from .network import (
    PARAM_DTYPE,
    TERNARY,
    HiddenLayer,
    NetworkError,
    OutputLayer,
    TernaryNetwork,
    ThermometerEncoder,
    check_discrete_set,
)

__all__ = ["parameter_digest", "read_nir", "with_file_digest"]

# An export starts with a user block: bytes before the HDF5 data, which the HDF5 format allows (the library
# looks for its superblock at 0, 512, 1024, ... and reads every address relative to where it is found), so
# h5py, nir.read and other tools read the file as they read any NIR file. The block holds a SHA-256 of the
# HDF5 data, checked before anything parses it: HDF5 checks none of its data, and on one of 120 single-bit
# flips of a digits export libhdf5 looped without end inside nir.read, where nothing above it can stop it.
USER_BLOCK = 512
_DIGEST = b"sha256 "

FORM = ("Input -> Linear (encoder) -> Threshold -> [Linear -> Threshold] per hidden layer -> Affine -> Output, "
        "the form export_nir writes")


def read_nir(path) -> TernaryNetwork:
    """The network a NIR file holds (module docstring); ModelFileError naming the file and the problem."""
    import nir

    path = Path(path)
    _check_file_digest(path)
    try:
        graph = nir.read(path)
    except Exception as err:  # nir.read raises whatever h5py or a node's constructor raises on a damaged file
        _check_top_level(path)  # a netx file or another HDF5 file (nir.read's KeyError would not say so)
        raise ModelFileError(f"{path}: not a readable NIR file ({type(err).__name__}: {err})") from None
    try:
        network = _network(graph, nir)
    except NetworkError as err:
        raise ModelFileError(f"{path}: the NIR graph is no network of this toolkit: {err}") from None
    except _FormError as err:
        raise ModelFileError(f"{path}: {err}") from None
    recorded = (graph.metadata or {}).get("parameter_digest")
    if recorded is not None and str(recorded) != parameter_digest(network):
        # HDF5 checks no data: one flipped bit read back as another network (all output weights 0), which
        # every target then ran "exactly"
        raise ModelFileError(f"{path}: the parameters read back differ from the ones its export recorded "
                             f"(parameter_digest): the file is damaged or was changed since; export it again from "
                             f"the model (deploy --export-nir), or delete parameter_digest from the graph's metadata "
                             f"to read an edited graph as it is (with h5py: "
                             f"del f[\"node/metadata/parameter_digest\"])")
    return network


def parameter_digest(network: TernaryNetwork) -> str:
    """SHA-256 of everything that decides the network's spikes and scores (encoder cuts, weights, thresholds,
    biases, discrete set; not the metadata), which a NIR export records and :func:`read_nir` checks."""
    import hashlib

    h = hashlib.sha256(repr(network.discrete_set).encode())
    # + 0.0: a cut at -0.0 as one at 0.0 (the same spikes; a NIR export writes both alike, so one of them
    # could not read back to the digest its export recorded)
    arrays = [(network.encoder.thresholds + 0.0).astype("<f8")]
    for layer in network.hidden:
        arrays += [layer.weights.astype("i1"), layer.thresholds.astype("<i8")]
    arrays += [network.output.weights.astype("i1"), network.output.biases.astype("<i8")]
    for a in arrays:
        h.update(repr(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def with_file_digest(hdf5: bytes) -> bytes:
    """An HDF5 file's bytes behind a user block holding their SHA-256 (what ``read_nir`` checks first)."""
    import hashlib

    from ._atomic import NIR_SIGNATURE

    block = (NIR_SIGNATURE + _DIGEST + hashlib.sha256(hdf5).hexdigest().encode() + b" %d\n" % len(hdf5)
             + b"connttra-neuro NIR export: HDF5 data from byte 512, their SHA-256 and length above (checked on "
             b"reading).\n")
    return block.ljust(USER_BLOCK, b"\0") + hdf5


def _check_file_digest(path: Path) -> None:
    """Refuse an export whose bytes differ from the ones it was written with (its user block's digest); a
    file without one (another tool's NIR file, an export written before 2026-12-07) is read as it is."""
    import hashlib

    from ._atomic import NIR_SIGNATURE

    try:
        with open(path, "rb") as fh:
            block = fh.read(USER_BLOCK)
            if not block.startswith(NIR_SIGNATURE + _DIGEST):
                return
            recorded, _, size = block[len(NIR_SIGNATURE + _DIGEST):].partition(b"\n")[0].partition(b" ")
            h, n = hashlib.sha256(), 0
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
                n += len(chunk)
    except OSError as err:
        raise ModelFileError(f"{path}: cannot be read ({err.strerror or err})") from None
    if h.hexdigest().encode() == recorded:
        return
    if size.isdigit() and n < int(size):
        raise ModelFileError(f"{path}: cut short: {n:,} of the {int(size):,} bytes of HDF5 data its export wrote "
                             f"(an interrupted copy or download?); copy or export it again")
    # a file edited on purpose is then refused again for its parameter_digest if a weight, threshold or bias
    # changed: the first refusal names both steps
    raise ModelFileError(
        f"{path}: its bytes differ from the ones its export wrote (the SHA-256 its first {USER_BLOCK} bytes "
        f"record): the file is damaged or was changed since; export it again from the model (deploy "
        f"--export-nir). To read a file edited on purpose, drop those bytes: tail -c +{USER_BLOCK + 1} FILE > "
        f"EDITED.nir, and if the edit changed a weight, threshold or bias, delete the digest of the parameters "
        f"as well (with h5py: del f[\"node/metadata/parameter_digest\"])")


class _FormError(ValueError):
    pass


def _check_top_level(path: Path) -> None:
    """Name what an HDF5 file nir.read could not read is: a netx file, another HDF5 file, a damaged one."""
    import h5py

    # read_nir called directly (load routes only HDF5 here): a model file or an empty one was "an HDF5 file
    # h5py cannot read"; is_hdf5 looks for the signature where HDF5 may put it (after a user block, too)
    if not h5py.is_hdf5(path):
        raise ModelFileError(f"{path}: not a NIR file (a NIR file is HDF5, and no HDF5 signature is in this "
                             f"{path.stat().st_size:,}-byte file); a connttra-neuro model file is read by load")
    try:
        with h5py.File(path, "r") as f:
            keys = set(f.keys())
    except OSError as err:
        raise ModelFileError(f"{path}: an HDF5 file h5py cannot read ({err})") from None
    if "layer" in keys and "node" not in keys:
        raise ModelFileError(f"{path}: is a lava-dl netx file, which holds the mapped fixed-point network without "
                             f"its encoder and cannot be read back as a model; give the model file or its NIR export "
                             f"(deploy --export-nir)")
    if not {"node", "version"} <= keys:
        raise ModelFileError(f"{path}: an HDF5 file that is not a NIR graph (top level: "
                             f"{', '.join(sorted(keys)[:6]) or 'nothing'}); give a model file (.ctn) or a NIR file")


def _chain(graph, nir) -> list[str]:
    """The node names from the one Input to the end, refusing branches, cycles and stray nodes."""
    inputs = [k for k, node in graph.nodes.items() if isinstance(node, nir.Input)]
    if len(inputs) != 1:
        raise _FormError(f"the graph has {len(inputs)} Input nodes; a network has one ({FORM})")
    after: dict[str, list[str]] = {}
    for a, b in graph.edges:
        after.setdefault(a, []).append(b)
    chain = [inputs[0]]
    while chain[-1] in after:
        nexts = after[chain[-1]]
        if len(nexts) != 1:
            raise _FormError(f"node {chain[-1]} feeds {len(nexts)} nodes ({', '.join(nexts[:4])}); a network is a "
                             f"chain of layers ({FORM})")
        if nexts[0] in chain:
            raise _FormError(f"the graph loops back to node {nexts[0]}; a network is a chain of layers ({FORM})")
        chain.append(nexts[0])
    stray = [k for k in graph.nodes if k not in chain]
    if stray:
        raise _FormError(f"node(s) {', '.join(stray[:4])} are not on the path from {inputs[0]} to {chain[-1]}; a "
                         f"network is a chain of layers ({FORM})")
    return chain


def _network(graph, nir) -> TernaryNetwork:
    chain = _chain(graph, nir)
    nodes = [graph.nodes[k] for k in chain]
    kinds = [type(n).__name__ for n in nodes]
    shape_ok = (len(nodes) >= 5 and kinds[:3] == ["Input", "Linear", "Threshold"] and kinds[-1] == "Output"
                and kinds[-2] in ("Affine", "Linear") and (len(nodes) - 5) % 2 == 0
                and all(kinds[i] in ("Linear", "Affine") and kinds[i + 1] == "Threshold"
                        for i in range(3, len(nodes) - 2, 2)))
    if not shape_ok:
        raise _FormError(f"the graph is {' -> '.join(f'{k} ({t})' for k, t in zip(chain, kinds, strict=True))}; "
                         f"a network of this toolkit is {FORM}")
    encoder = _encoder(chain[1], nodes[0], nodes[1], nodes[2])
    hidden = [_hidden(chain[i], nodes[i], nodes[i + 1]) for i in range(3, len(nodes) - 2, 2)]
    out = nodes[-2]
    output = OutputLayer(_integers(out.weight, chain[-2], "weights"),
                         _integers(getattr(out, "bias", np.zeros(out.weight.shape[0])), chain[-2], "biases"))
    meta = dict(graph.metadata or {})
    weights = np.concatenate([np.unique(layer.weights) for layer in (*hidden, output)])
    discrete = meta.get("discrete_set")
    discrete_set = (check_discrete_set(np.asarray(discrete).tolist()) if discrete is not None
                    else tuple(sorted(set(TERNARY) | set(weights.tolist()))))
    return TernaryNetwork(encoder, tuple(hidden), output, discrete_set, _metadata(meta))


def _encoder(name: str, input_node, linear, threshold) -> ThermometerEncoder:
    n_features = int(np.asarray(next(iter(input_node.input_type.values()))).reshape(-1).prod())
    weight = np.asarray(linear.weight)
    rows = weight.shape[0] if weight.ndim == 2 else 0
    if weight.ndim != 2 or weight.shape[1] != n_features or rows % n_features or rows == 0:
        raise _FormError(f"node {name}: the encoder Linear must have shape (features x levels, features) = "
                         f"(K*{n_features}, {n_features}), got {weight.shape}")
    levels = rows // n_features
    if not np.array_equal(weight, np.repeat(np.eye(n_features), levels, axis=0)):
        raise _FormError(f"node {name}: the encoder Linear must repeat each of the {n_features} features "
                         f"{levels} times in order (row f*{levels}+k reads feature f), as a thermometer code does")
    theta = np.asarray(threshold.threshold, dtype=np.float64).reshape(-1)
    if theta.size != rows:
        raise _FormError(f"the encoder's Threshold has {theta.size} values for {rows} levels")
    # x >= nextafter(theta, +inf)  <=>  x > theta: the exact inverse of the export's nextafter(t, -inf)
    with np.errstate(over="ignore"):  # the largest float's successor is +inf: a level that never fires
        cuts = np.where(theta == -np.inf, -np.inf, np.nextafter(theta, np.inf))
    # a cut at 0.0 is exported as theta -5e-324, whose successor is -0.0: read it as the 0.0 that fit makes
    # (x >= -0.0 and x >= 0.0 are the same spikes; the export writes both alike)
    cuts = cuts + 0.0
    return ThermometerEncoder(cuts.reshape(n_features, levels))


def _hidden(name: str, layer, threshold) -> HiddenLayer:
    theta = np.asarray(threshold.threshold, dtype=np.float64).reshape(-1)
    bias = np.asarray(getattr(layer, "bias", 0.0), dtype=np.float64)
    weights = _integers(layer.weight, name, "weights")
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, named below
        cut = theta - bias
    if np.isnan(cut).any():
        raise _FormError(f"node {name}: its threshold (less its bias) is NaN for neuron {np.isnan(cut).argmax()}, "
                         f"which NIR's v > theta leaves undefined")
    # the drive W s (+ b) against a strict threshold: W s > theta - b  <=>  W s >= floor(theta - b) + 1
    thresholds = np.floor(cut) + 1
    # a neuron that never fires (theta = +inf, or far above any drive) or always fires (-inf) has a threshold
    # beyond the int32 the network stores: the end of the drives it can reach gives it the same spikes
    lowest, highest = np.minimum(weights, 0).sum(axis=1), np.maximum(weights, 0).sum(axis=1)
    limit = np.iinfo(PARAM_DTYPE)
    thresholds = np.where(thresholds > limit.max, highest + 1, np.where(thresholds < limit.min, lowest, thresholds))
    return HiddenLayer(weights, thresholds)


def _integers(values, name: str, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
        bad = array[~np.isfinite(array) | (array != np.round(array))]
        raise _FormError(f"node {name}: {what} must be integers (a discrete network's), found {bad[0]!r}; a graph "
                         f"of real-valued weights is not a network of this toolkit")
    return array


def _metadata(graph_meta: dict) -> dict:
    """The model's own metadata as the export recorded it (``model_metadata``), else the graph's producer."""
    try:
        recorded = json.loads(graph_meta.get("model_metadata", ""))
    except (TypeError, ValueError, RecursionError):  # nested past Python's limit: as unreadable, not a traceback
        recorded = None
    if isinstance(recorded, dict):
        return recorded
    producer = graph_meta.get("producer")
    return {"source": "nir", **({"producer": str(producer)} if producer is not None else {})}
