"""One versioned file per model: densely packed weights, JSON metadata, a checksum.

Layout (all integers little-endian)::

    0   8 bytes   magic  b"CTNN\\r\\n\\x1a\\n"  (PNG-style: catches text-mode mangling)
    8   uint16    format version
    10  uint32    header length H
    14  H bytes   header, UTF-8 JSON: discrete set, metadata, and one entry per
                  array (name, dtype, shape, encoding, offset, nbytes)
    ..  payload   the arrays, back to back
    -32 32 bytes  SHA-256 of every byte before it

Weights are stored as indices into the discrete set, packed base ``m``
(``m`` = size of the set): as many digits per byte as fit (``m**d <= 256``).
Ternary packs 5 weights per byte (1.6 bits/weight), binary 8 (1 bit).

The list of arrays is derived from the IR's dataclass fields, so a field added
to the IR is saved without touching this module.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np

from ._atomic import EXPORT_SIGNATURES, refuse_other_kind, write_bytes
from .network import (
    HiddenLayer,
    NetworkError,
    OutputLayer,
    TernaryNetwork,
    ThermometerEncoder,
    check_class_names,
    check_classes,
    check_discrete_set,
    require_network,
    thaw_metadata,
)

__all__ = ["ModelFileError", "save", "load", "as_network", "to_bytes", "from_bytes", "storage_report", "FORMAT_VERSION"]

MAGIC = b"CTNN\r\n\x1a\n"
FORMAT_VERSION = 1
_PREAMBLE = struct.Struct("<8sHI")
_DIGEST_BYTES = 32


class ModelFileError(ValueError):
    """A model file could not be read; the message says why and names the file."""


# -- packing ------------------------------------------------------------------
def digits_per_byte(m: int) -> int:
    """Largest ``d`` with ``m**d <= 256``: how many base-``m`` digits share a byte."""
    if not 2 <= m <= 256:  # 0 or 1 values would loop forever below; more than 256 fit no byte
        raise ValueError(f"a packed discrete set needs 2 to 256 values, got {m}")
    d = 1
    while m ** (d + 1) <= 256:
        d += 1
    return d


def pack_weights(weights: np.ndarray, discrete_set: tuple[int, ...]) -> bytes:
    """Pack int weights as base-``len(discrete_set)`` digits, several per byte."""
    m = len(discrete_set)
    d = digits_per_byte(m)
    idx = np.searchsorted(np.asarray(discrete_set), weights.ravel()).astype(np.uint16)
    pad = (-idx.size) % d
    idx = np.concatenate([idx, np.zeros(pad, np.uint16)]).reshape(-1, d)
    place = (m ** np.arange(d)).astype(np.uint16)
    return (idx * place).sum(axis=1).astype(np.uint8).tobytes()


def unpack_weights(data: bytes, shape: tuple[int, ...], discrete_set: tuple[int, ...]) -> np.ndarray:
    m = len(discrete_set)
    d = digits_per_byte(m)
    n = int(np.prod(shape))
    packed = np.frombuffer(data, dtype=np.uint8).astype(np.uint16)
    if packed.size and int(packed.max()) >= m**d:  # save never writes one; a modulo would hide it
        raise ModelFileError(f"packed weights hold byte {int(packed.max())}, above the largest code of {d} "
                             f"base-{m} digits ({m**d - 1})")
    digits = (packed[:, None] // (m ** np.arange(d))[None, :]) % m
    idx = digits.ravel()[:n]
    if idx.size != n:
        raise ModelFileError(f"packed weights hold {idx.size} values, expected {n}")
    return np.asarray(discrete_set, dtype=np.int8)[idx].reshape(shape)


def packed_nbytes(n_weights: int, discrete_set_size: int) -> int:
    d = digits_per_byte(discrete_set_size)
    return -(-n_weights // d)


# -- walking the IR by its fields ------------------------------------------------
def _named_arrays(network: TernaryNetwork):
    """``(name, array, packed)`` for every array in the network, derived from its fields."""
    for f in dataclasses.fields(network.encoder):
        yield f"encoder.{f.name}", getattr(network.encoder, f.name), False
    parts = [(f"hidden.{i}", layer) for i, layer in enumerate(network.hidden)] + [("output", network.output)]
    for prefix, layer in parts:
        for f in dataclasses.fields(layer):
            yield f"{prefix}.{f.name}", getattr(layer, f.name), bool(f.metadata.get("packed"))


def _build(arrays: dict[str, np.ndarray], discrete_set, metadata) -> TernaryNetwork:
    def part(cls, prefix):
        return cls(**{f.name: arrays[f"{prefix}.{f.name}"] for f in dataclasses.fields(cls)})

    n_hidden = len({k.split(".")[1] for k in arrays if k.startswith("hidden.")})
    return TernaryNetwork(
        encoder=part(ThermometerEncoder, "encoder"),
        hidden=tuple(part(HiddenLayer, f"hidden.{i}") for i in range(n_hidden)),
        output=part(OutputLayer, "output"),
        discrete_set=tuple(discrete_set),
        metadata=metadata,
    )


# -- bytes ------------------------------------------------------------------------
def to_bytes(network: TernaryNetwork) -> bytes:
    """Serialise a network to the model file format."""
    entries, chunks, offset = [], [], 0
    for name, array, packed in _named_arrays(network):
        if packed:
            data, encoding, dtype = pack_weights(array, network.discrete_set), f"base{len(network.discrete_set)}", "|i1"
        else:
            arr = np.ascontiguousarray(array)
            data, encoding, dtype = (
                arr.astype(arr.dtype.newbyteorder("<")).tobytes(),
                "raw",
                arr.dtype.newbyteorder("<").str,
            )
        entries.append(
            {
                "name": name,
                "dtype": dtype,
                "shape": list(array.shape),
                "encoding": encoding,
                "offset": offset,
                "nbytes": len(data),
            }
        )
        chunks.append(data)
        offset += len(data)
    header = json.dumps(
        {
            "format": "connttra-neuro model",
            "discrete_set": list(network.discrete_set),
            "metadata": thaw_metadata(network.metadata),
            "arrays": entries,
        },
        sort_keys=True,
        allow_nan=False,
    ).encode("utf-8")
    body = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(header)) + header + b"".join(chunks)
    return body + hashlib.sha256(body).digest()


def _no_constant(name: str):
    """JSON's NaN / Infinity: ``save`` never writes them (``allow_nan=False``), so a header holding one
    came from another writer; refused, so a file that loads also saves and describes."""
    raise _NotJSON(f"non-standard JSON constant {name}")


class _NotJSON(ValueError):
    """What ``_no_constant`` raises: JSON's syntax, not the header's structure, is at fault."""


def from_bytes(blob: bytes, source: str = "<bytes>") -> TernaryNetwork:
    """Parse the model file format; raises :class:`ModelFileError` naming ``source``."""
    if len(blob) < _PREAMBLE.size + _DIGEST_BYTES:
        if not blob.startswith(MAGIC[: len(blob)]) or not blob:
            raise ModelFileError(f"{source}: not a connttra-neuro model file ({len(blob)} bytes)")
        raise ModelFileError(f"{source}: truncated ({len(blob)} bytes, shorter than the fixed header)")
    magic, version, header_len = _PREAMBLE.unpack_from(blob)
    if magic != MAGIC:
        raise ModelFileError(f"{source}: not a connttra-neuro model file (bad magic {magic!r})")
    if version != FORMAT_VERSION:
        # a newer file needs a newer reader; an older one (none exists yet) the release that wrote it
        what = ("a newer connttra-neuro wrote it: update connttra-neuro to read it" if version > FORMAT_VERSION else
                "an older connttra-neuro wrote it: read it with that release (this one has no converter)")
        raise ModelFileError(f"{source}: model file format version {version}; this connttra-neuro reads version "
                             f"{FORMAT_VERSION}: {what}")
    start = _PREAMBLE.size + header_len
    if len(blob) < start + _DIGEST_BYTES:
        raise ModelFileError(f"{source}: truncated ({len(blob)} bytes; the header alone needs {start + _DIGEST_BYTES})")
    try:
        header = json.loads(blob[_PREAMBLE.size : start].decode("utf-8"), parse_constant=_no_constant)
        entries = header["arrays"]
        payload_len = sum(int(e["nbytes"]) for e in entries)
    except (UnicodeDecodeError, KeyError, TypeError, ValueError, RecursionError) as err:  # JSONDecodeError too
        header, header_error = None, err
    expected = start + (payload_len if header is not None else 0) + _DIGEST_BYTES
    if header is not None and len(blob) < expected:
        raise ModelFileError(f"{source}: truncated ({len(blob)} bytes, expected {expected})")
    body, digest = blob[:-_DIGEST_BYTES], blob[-_DIGEST_BYTES:]
    if hashlib.sha256(body).digest() != digest:
        raise ModelFileError(f"{source}: checksum mismatch; the file is corrupted (or was cut short or extended)")
    if header is None:
        if isinstance(header_error, RecursionError):
            why = "is not valid JSON despite a good checksum (nested too deeply)"
        elif isinstance(header_error, (UnicodeDecodeError, json.JSONDecodeError, _NotJSON)):
            why = f"is not valid JSON despite a good checksum ({header_error})"
        else:  # JSON, but not a table of arrays
            why = f"has no valid array table despite a good checksum ({type(header_error).__name__}: {header_error})"
        raise ModelFileError(f"{source}: header {why}")
    if len(blob) != expected:
        raise ModelFileError(f"{source}: {len(blob) - expected} unexpected trailing bytes")

    # A good checksum only says the bytes are as written; a header from another tool (or edited and
    # re-checksummed) can still hold a dtype, shape or metadata no network has: refuse it by name.
    try:
        # the set first: unpacking weights depends on it (a set of 0 or 1 values has no packing)
        discrete_set = check_discrete_set(header["discrete_set"])
        if list(discrete_set) != list(header["discrete_set"]):  # the packed codes index the set as written
            raise NetworkError(f"{header['discrete_set']} is not in ascending order, as save writes it")
    except (KeyError, TypeError, NetworkError) as err:
        raise ModelFileError(f"{source}: header's discrete set is not valid: {err}") from None
    try:
        payload = memoryview(blob)[start : start + payload_len]
        arrays = {}
        for e in entries:
            data = bytes(payload[e["offset"] : e["offset"] + e["nbytes"]])
            shape = tuple(e["shape"])
            if e["encoding"] == "raw":
                arr = np.frombuffer(data, dtype=np.dtype(e["dtype"])).reshape(shape)
            elif e["encoding"] == f"base{len(discrete_set)}":
                try:
                    arr = unpack_weights(data, shape, discrete_set)
                except ModelFileError as err:
                    raise ModelFileError(f"{source}: array {e['name']}: {err}") from None
            else:  # e.g. packed for a discrete set of another size than the header's
                raise ModelFileError(f"{source}: array {e['name']} has encoding {e['encoding']!r}; with the header's "
                                     f"discrete set {list(discrete_set)} this version reads 'raw' or "
                                     f"'base{len(discrete_set)}'")
            arrays[e["name"]] = arr.astype(arr.dtype.newbyteorder("="))
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError) as err:
        raise ModelFileError(f"{source}: header describes arrays the data does not hold: {err}") from err
    try:
        return _build(arrays, discrete_set, header.get("metadata", {}))
    except RecursionError:
        raise ModelFileError(f"{source}: model metadata is nested too deeply") from None
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ModelFileError(f"{source}: model does not form a valid network: {err}") from err


# -- files ------------------------------------------------------------------------
def save(network: TernaryNetwork, path: str | os.PathLike) -> Path:
    """Write ``network`` to ``path`` atomically (temporary file, fsync, rename).

    A crash or Ctrl-C mid-write leaves any previous file at ``path`` untouched. An existing file that
    is not a model file (a dataset, a picture) is refused, not replaced: its data would be lost. Metadata
    ``classes`` that is not one distinct label per output is refused (``network.check_classes``), and so is
    ``class_names`` that is not one distinct name per output (``network.check_class_names``).
    """
    require_network(network, "save")
    try:  # a file whose classes misstate its labels would mislabel every prediction: none is written
        check_classes(network.metadata.get("classes"), network.n_classes)
        check_class_names(network.metadata.get("class_names"), network.n_classes)
    except NetworkError as err:
        raise NetworkError(f"save: {err}") from None
    _check_path(path, "save")
    blob = to_bytes(network)
    # a model cut short is still a model (load says truncated), replaceable like any other
    refuse_other_kind(path, (MAGIC,), "a connttra-neuro model file", error=ModelFileError, cut_short_ok=True)
    return write_bytes(path, blob)


def _check_path(path, who: str) -> None:
    """A file object or bytes given for a path: say what to pass (os.stat and Path said neither what nor who)."""
    if not isinstance(path, (str, os.PathLike)):
        call = "to_bytes(network)" if who == "save" else "from_bytes(data)"
        raise TypeError(f"{who} takes a file path (str or pathlib.Path), got {type(path).__name__}; a model in "
                        f"memory is connttra_neuro.modelfile.{call}")


def load(path: str | os.PathLike) -> TernaryNetwork:
    """Read a model file; a missing, truncated, corrupted or wrong-version file raises a clear error.
    A NIR file (``deploy --export-nir``, or a graph of the same form from another tool) is read as the
    network it holds (``connttra_neuro.nirfile.read_nir``)."""
    _check_path(path, "load")
    if not str(path).strip():
        raise ModelFileError("no model file given (the path is empty)")
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(MAGIC))
            # Look before reading it all: a large file that is not a model (/dev/zero, a dataset
            # given by mistake) would otherwise be read whole into memory first.
            if not head:
                return from_bytes(head, source=str(path))  # raises: empty
            if head in EXPORT_SIGNATURES:  # a NIR graph (or another HDF5 file, which read_nir names)
                from .nirfile import read_nir

                return read_nir(path)
            if not MAGIC.startswith(head):
                raise ModelFileError(f"{path}: not a connttra-neuro model file (it does not start with the "
                                     f"model file signature {MAGIC!r})")
            blob = head + fh.read()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, not a model file") from None
    except OSError as err:  # no read permission, a loop of links, an I/O error: printed as "[Errno 13] ..."
        raise ModelFileError(f"{path}: cannot read the model file ({err.strerror or err})") from None
    return from_bytes(blob, source=str(path))


def as_network(network, who: str) -> TernaryNetwork:
    """``network``, or the model file at ``network`` when it is a path (str or os.PathLike), read with
    :func:`load` (whose ModelFileError names a missing or damaged file). Every user-level call that takes a
    trained model (predict, verify, storage_report, the exports, read_images' ``like``) takes either, through
    this one door; targets take the network only (a target's compile is no place to read files). Anything
    else is a TypeError naming ``who``."""
    if isinstance(network, (str, os.PathLike)):
        return load(network)
    return require_network(network, who, path_ok=True)


def storage_report(network: TernaryNetwork | str | os.PathLike) -> dict:
    """Bytes to store the model here, beside the same numbers as float32 and float64. ``network``: a
    TernaryNetwork or a model file's path.

    ``weights_*`` counts weights only; ``model_*`` counts every parameter
    (weights, thresholds, biases, encoder thresholds); ``model_file_bytes`` also the
    header (metadata, array table) and checksum.
    """
    network = as_network(network, "storage_report")
    n_w = network.n_weights
    n_params = n_w + sum(layer.weights.shape[0] for layer in network.layers) + network.encoder.thresholds.size
    packed = sum(packed_nbytes(layer.weights.size, len(network.discrete_set)) for layer in network.layers)
    file_bytes = len(to_bytes(network))
    # every parameter as the file stores it (packed weights, raw thresholds/biases/encoder),
    # without the header's metadata: the figure to set beside a float model's parameter bytes
    payload = sum(packed_nbytes(a.size, len(network.discrete_set)) if is_packed else np.asarray(a).nbytes
                  for _, a, is_packed in _named_arrays(network))
    return {
        "n_weights": n_w,
        "n_parameters": int(n_params),
        "bits_per_weight": 8 * packed / n_w,
        "weights_packed_bytes": int(packed),
        "weights_float32_bytes": 4 * n_w,
        "weights_float64_bytes": 8 * n_w,
        "weights_ratio_float32": 4 * n_w / packed,
        "weights_ratio_float64": 8 * n_w / packed,
        "model_file_bytes": file_bytes,
        "model_parameter_bytes": int(payload),
        "model_float32_bytes": int(4 * n_params),
        "model_float64_bytes": int(8 * n_params),
    }
