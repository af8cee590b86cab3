"""docs/file-format.md is the model file's specification: a reader and a writer built from that page alone
(plain struct, json, hashlib and numpy; nothing from connttra_neuro.modelfile) agree with save and load.

If a test here fails, the file format drifted from its documentation: fix the one that is wrong.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from connttra_neuro import (
    HiddenLayer,
    ModelFileError,
    OutputLayer,
    TernaryNetwork,
    ThermometerEncoder,
    load,
    random_network,
    save,
)
from connttra_neuro.network import thaw_metadata

MAGIC = b"CTNN\r\n\x1a\n"
VERSION = 1


def spec_digits_per_byte(m: int) -> int:
    d = 1
    while m ** (d + 1) <= 256:
        d += 1
    return d


def spec_unpack(data: bytes, n: int, dset: list[int]) -> np.ndarray:
    m, d = len(dset), spec_digits_per_byte(len(dset))
    codes = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    digits = ((codes[:, None] // m ** np.arange(d)) % m).reshape(-1)  # least significant digit first
    assert not digits[n:].any()  # the last byte's unused digits are 0
    return np.asarray(sorted(dset))[digits[:n]]


def spec_pack(values: np.ndarray, dset: list[int]) -> bytes:
    m, d = len(dset), spec_digits_per_byte(len(dset))
    index = np.searchsorted(sorted(dset), values.reshape(-1))
    index = np.concatenate([index, np.zeros(-len(index) % d, dtype=index.dtype)]).reshape(-1, d)
    return (index * m ** np.arange(d)).sum(axis=1).astype(np.uint8).tobytes()


def spec_read(blob: bytes) -> tuple[int, dict, dict[str, np.ndarray]]:
    """Every field of a model file, per docs/file-format.md."""
    assert blob[:8] == MAGIC
    version, h = struct.unpack_from("<HI", blob, 8)
    header = json.loads(blob[14 : 14 + h].decode("utf-8"))
    payload = blob[14 + h : -32]
    assert hashlib.sha256(blob[:-32]).digest() == blob[-32:]
    assert len(payload) == sum(a["nbytes"] for a in header["arrays"])  # back to back, nothing after
    arrays, at = {}, 0
    for a in header["arrays"]:
        assert a["offset"] == at
        data, at = payload[at : at + a["nbytes"]], at + a["nbytes"]
        n = int(np.prod(a["shape"]))
        if a["encoding"] == "raw":
            flat = np.frombuffer(data, dtype=np.dtype(a["dtype"]))
            assert flat.size == n
        else:
            assert a["encoding"] == f"base{len(header['discrete_set'])}"
            assert len(data) == -(-n // spec_digits_per_byte(len(header["discrete_set"])))
            flat = spec_unpack(data, n, header["discrete_set"]).astype(np.dtype(a["dtype"]))
        arrays[a["name"]] = flat.reshape(a["shape"])  # row-major
    return version, header, arrays


def spec_write(dset: list[int], metadata: dict | None, arrays: dict[str, np.ndarray]) -> bytes:
    """A model file assembled per docs/file-format.md (``metadata=None``: the key left out)."""
    entries, payload = [], b""
    for name, value in arrays.items():
        if name.endswith(".weights"):
            data, dtype, encoding = spec_pack(value, dset), "|i1", f"base{len(dset)}"
        else:
            value = value.astype("<f8" if name.startswith("encoder.") else "<i4")
            data, dtype, encoding = value.tobytes(order="C"), value.dtype.str, "raw"
        entries.append({"name": name, "dtype": dtype, "shape": list(value.shape), "encoding": encoding,
                        "offset": len(payload), "nbytes": len(data)})
        payload += data
    header = {"format": "connttra-neuro model", "discrete_set": dset, "metadata": metadata, "arrays": entries}
    if metadata is None:
        del header["metadata"]
    header = json.dumps(header).encode("utf-8")  # allow_nan: a NaN in metadata is written as NaN
    body = MAGIC + struct.pack("<HI", VERSION, len(header)) + header + payload
    return body + hashlib.sha256(body).digest()


def ir_arrays(net: TernaryNetwork) -> dict[str, np.ndarray]:
    """The arrays the spec names: encoder.<field>, hidden.<i>.<field>, output.<field>."""
    out = {"encoder.thresholds": net.encoder.thresholds}
    for i, layer in enumerate(net.hidden):
        out[f"hidden.{i}.weights"], out[f"hidden.{i}.thresholds"] = layer.weights, layer.thresholds
    out["output.weights"], out["output.biases"] = net.output.weights, net.output.biases
    return out


CASES = [  # sizes, levels, discrete set, extra metadata
    ((5, 3), 1, (-1, 0, 1), {}),
    ((7, 9, 4), 2, (-1, 1), {"classes": [3, 1, 4, 0]}),
    ((6, 4, 5, 3), 3, (-2, -1, 0, 1, 2), {"classes": ["a", "b", "c"], "class_names": ["x", "y", "z"]}),
    ((4, 11, 2), 1, (0, 1), {"classes": [False, True], "dataset": "moons", "metrics": {"acc": 0.5, "e": None}}),
    ((3, 6, 6, 6, 7), 2, (-3, -1, 0, 2), {"settings": {"epochs": 3, "layers": [6, 6, 6]}, "note": "é ∞"}),
    ((8, 13, 5), 1, tuple(range(-8, 8)), {"class_names": ["0", "1", "2", "3", "4"]}),
    ((2, 3, 2), 4, tuple(range(-20, 20)), {}),  # more than 16 values: one digit per byte
]


@pytest.mark.parametrize("sizes, levels, dset, meta", CASES)
def test_spec_reader_reads_what_save_writes(tmp_path, sizes, levels, dset, meta):
    net = random_network(sizes, levels=levels, discrete_set=dset, seed=len(sizes) * 7 + levels)
    net = net.replace(metadata={**net.metadata, **meta})
    if levels > 1:  # a level that never fires is +inf: a raw <f8 keeps it
        t = np.array(net.encoder.thresholds)
        t[0, -1] = np.inf
        net = net.replace(encoder=ThermometerEncoder(t))
    path = tmp_path / "m.ctn"
    save(net, path)
    loaded = load(path)
    version, header, arrays = spec_read(path.read_bytes())

    assert version == VERSION and header["format"] == "connttra-neuro model"
    assert tuple(header["discrete_set"]) == loaded.discrete_set == tuple(sorted(dset))
    assert header["metadata"] == thaw_metadata(loaded.metadata)
    for k, v in meta.items():
        assert header["metadata"][k] == v
    expected = ir_arrays(loaded)
    assert list(arrays) == list(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(arrays[name], value, err_msg=name)
        assert arrays[name].shape == value.shape
    assert [a["dtype"] for a in header["arrays"]] == [
        "<f8" if n.startswith("encoder.") else "|i1" if n.endswith(".weights") else "<i4" for n in expected]


@pytest.mark.parametrize("sizes, levels, dset, meta", CASES)
def test_load_accepts_a_file_written_to_the_spec(tmp_path, sizes, levels, dset, meta):
    net = random_network(sizes, levels=levels, discrete_set=dset, seed=len(sizes) * 3 + levels)
    net = net.replace(metadata={**net.metadata, **meta})
    path = tmp_path / "spec.ctn"
    path.write_bytes(spec_write(list(net.discrete_set), {**net.metadata, **meta}, ir_arrays(net)))
    assert load(path) == net


def test_doc_example_sizes():
    """The page's own figures: the example header's nbytes and the 784-256-10 packing."""
    assert [spec_digits_per_byte(m) for m in (2, 3, 4, 5, 6, 7, 16, 17)] == [8, 5, 4, 3, 3, 2, 2, 1]
    assert -(-64 * 128 // 5) == 1639 and -(-784 * 256 // 5) - (-256 * 10 // 5) == 40653
    net = TernaryNetwork(ThermometerEncoder(np.full((2, 1), 0.5)), (HiddenLayer(np.eye(2), [1, 1]),),
                         OutputLayer(np.eye(2), [0, 0]))
    assert spec_read(spec_write([-1, 0, 1], {}, ir_arrays(net)))[2]["hidden.0.weights"].tolist() == [[1, 0], [0, 1]]


def test_the_page_states_every_rule_this_reader_and_writer_use():
    # each fact used above is on docs/file-format.md; an unstated one would leave a reader in another
    # language guessing (the encoding's name for another set, the order of the set, sets above 16 values)
    page = (Path(__file__).resolve().parent.parent / "docs" / "file-format.md").read_text()
    for fact in ("little-endian", "row-major", "least significant digit first", "counts from the payload's first",
                 "(neurons, inputs)", "unused digits are 0", "SHA-256 of every byte before it", "`base<m>`",
                 "ascending order", "17 to 256 values", "no `NaN` or `Infinity`", "`<f8` for the", "`<i4` for",
                 "`metadata` may be absent", "above the largest code"):
        assert fact in page, f"docs/file-format.md no longer says {fact!r}"


def _valid_parts():
    net = random_network((3, 4, 2), seed=5)
    return list(net.discrete_set), dict(net.metadata), ir_arrays(net)


def _refused(tmp_path, blob: bytes, words: str):
    path = tmp_path / "bad.ctn"
    path.write_bytes(blob)
    with pytest.raises(ModelFileError, match=words):
        load(path)


def test_load_refuses_what_the_page_says_it_refuses(tmp_path):
    dset, meta, arrays = _valid_parts()
    _refused(tmp_path, spec_write(dset[::-1], meta, arrays), "ascending")  # codes index the set as written
    _refused(tmp_path, spec_write(dset, {"loss": float("nan")}, arrays), "NaN")
    body = bytearray(spec_write(dset, meta, arrays)[:-32])
    h = struct.unpack_from("<I", body, 10)[0]
    header = json.loads(body[14 : 14 + h])
    weights = next(a for a in header["arrays"] if a["name"] == "hidden.0.weights")
    body[14 + h + weights["offset"]] = 3**5  # one above the largest code of five ternary digits
    _refused(tmp_path, bytes(body) + hashlib.sha256(body).digest(), "largest code")
    path = tmp_path / "no_meta.ctn"
    path.write_bytes(spec_write(dset, None, arrays))
    assert dict(load(path).metadata) == {}
