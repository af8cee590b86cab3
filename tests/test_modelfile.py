"""The model file: exact round trip, dense packing, refusal of damaged files, atomic writes."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connttra_neuro import ModelFileError, TernaryNetwork, load, modelfile, random_network, save, storage_report
from connttra_neuro._atomic import atomic_write
from connttra_neuro.modelfile import (
    FORMAT_VERSION,
    MAGIC,
    digits_per_byte,
    from_bytes,
    pack_weights,
    to_bytes,
    unpack_weights,
)

DISCRETE_SETS = [(-1, 0, 1), (-1, 1), (-2, -1, 0, 1, 2), (0, 1), (-3, -1, 0, 2, 7), tuple(range(-8, 8))]


@st.composite
def networks(draw):
    dset = draw(st.sampled_from(DISCRETE_SETS))
    n_hidden = draw(st.integers(0, 3))
    sizes = [draw(st.integers(1, 9)) for _ in range(n_hidden + 2)]
    net = random_network(
        sizes,
        levels=draw(st.integers(1, 3)),
        discrete_set=dset,
        seed=draw(st.integers(0, 2**16)),
    )
    meta = {"dataset": draw(st.text(max_size=8)), "seed": draw(st.integers(-5, 5)), "errors": [0.25, None]}
    return net.replace(metadata=meta)


@settings(max_examples=60, deadline=None)
@given(networks())
def test_round_trip_is_exact(net):
    back = from_bytes(to_bytes(net))
    assert back == net
    for a, b in zip(net.layers, back.layers, strict=True):
        assert b.weights.dtype == np.int8 and a.weights.shape == b.weights.shape


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(DISCRETE_SETS), st.integers(0, 200), st.integers(0, 2**16))
def test_pack_unpack(dset, n, seed):
    w = np.random.default_rng(seed).choice(dset, size=n).astype(np.int8)
    data = pack_weights(w, dset)
    assert len(data) == -(-n // digits_per_byte(len(dset)))
    np.testing.assert_array_equal(unpack_weights(data, (n,), dset), w)


def test_ternary_packs_five_weights_per_byte():
    assert digits_per_byte(3) == 5 and digits_per_byte(2) == 8 and digits_per_byte(5) == 3
    net = random_network((784, 256, 10), seed=0)
    report = storage_report(net)
    assert report["weights_packed_bytes"] == -(-784 * 256 // 5) + -(-256 * 10 // 5)
    assert report["bits_per_weight"] == pytest.approx(1.6, abs=0.01)
    assert report["weights_ratio_float32"] > 16 and report["weights_ratio_float64"] > 32
    assert report["model_file_bytes"] < report["model_float32_bytes"] / 10
    # parameter bytes: exactly the array payloads the file's own array table lists
    raw = to_bytes(net)
    (hlen,) = struct.unpack("<I", raw[10:14])
    table = json.loads(raw[14:14 + hlen])["arrays"]
    assert report["model_parameter_bytes"] == sum(e["nbytes"] for e in table)
    assert report["model_parameter_bytes"] < report["model_file_bytes"]


def test_save_load_file(tmp_path):
    net = random_network((10, 6, 3), levels=2, seed=3)
    path = save(net, tmp_path / "sub" / "model.ctn")
    assert load(path) == net
    assert [p.name for p in path.parent.iterdir()] == ["model.ctn"]  # no temp files left


@pytest.fixture
def blob():
    return to_bytes(random_network((8, 5, 3), seed=1))


def test_truncated_file_is_refused(blob, tmp_path):
    for cut in (0, 5, 20, len(blob) // 2, len(blob) - 1):
        with pytest.raises(ModelFileError, match="truncated|not a connttra-neuro model"):
            from_bytes(blob[:cut])
    path = tmp_path / "m.ctn"
    path.write_bytes(blob[:-10])
    with pytest.raises(ModelFileError, match=f"{path}: .*(truncated|checksum)"):
        load(path)


def test_corrupted_byte_is_refused(blob):
    for pos in (20, len(blob) // 2, len(blob) - 40):
        bad = bytearray(blob)
        bad[pos] ^= 0x10
        with pytest.raises(ModelFileError, match="checksum mismatch|truncated"):
            from_bytes(bytes(bad))


def test_trailing_garbage_is_refused(blob):
    with pytest.raises(ModelFileError):
        from_bytes(blob + b"extra")


def test_wrong_magic_and_version(blob):
    with pytest.raises(ModelFileError, match="not a connttra-neuro model file"):
        from_bytes(b"PK\x03\x04" + blob[4:])
    newer = bytearray(blob)
    struct.pack_into("<H", newer, len(MAGIC), FORMAT_VERSION + 1)
    with pytest.raises(ModelFileError, match=f"format version {FORMAT_VERSION + 1}; this connttra-neuro reads version "
                                             f"{FORMAT_VERSION}: a newer connttra-neuro wrote it: update"):
        from_bytes(bytes(newer))
    struct.pack_into("<H", newer, len(MAGIC), FORMAT_VERSION - 1)
    with pytest.raises(ModelFileError, match=f"format version {FORMAT_VERSION - 1}; .*an older connttra-neuro wrote "
                                             f"it: read it with that release"):
        from_bytes(bytes(newer))


def test_valid_checksum_but_invalid_network_is_refused():
    # a file whose checksum is right but whose content breaks the IR (someone edited it and re-hashed)
    import hashlib

    net = random_network((4, 3, 2), seed=0)
    blob = to_bytes(net)
    _, _, hlen = struct.unpack_from("<8sHI", blob)
    header = json.loads(blob[14 : 14 + hlen])
    header["discrete_set"] = [0, 1]  # weights now decode outside... the new set
    new_header = json.dumps(header, sort_keys=True).encode()
    body = struct.pack("<8sHI", MAGIC, FORMAT_VERSION, len(new_header)) + new_header + blob[14 + hlen : -32]
    forged = body + hashlib.sha256(body).digest()
    with pytest.raises(ModelFileError, match=r"hidden.0.weights has encoding 'base3'; with the header's discrete set "
                       r"\[0, 1\] this version reads 'raw' or 'base2'"):
        from_bytes(forged)


def _forge(net, edit):
    """``net``'s file with its header changed by ``edit`` and re-checksummed (another tool's output)."""
    import hashlib

    blob = to_bytes(net)
    _, _, hlen = struct.unpack_from("<8sHI", blob)
    header = json.loads(blob[14 : 14 + hlen])
    edit(header)
    new_header = json.dumps(header, sort_keys=True).encode()
    body = struct.pack("<8sHI", MAGIC, FORMAT_VERSION, len(new_header)) + new_header + blob[14 + hlen : -32]
    return body + hashlib.sha256(body).digest()


def test_a_header_with_nan_is_refused_like_save_would():
    # save writes strict JSON (allow_nan=False); a header with NaN loaded but could not be saved or described
    forged = _forge(random_network((4, 3, 2), seed=0), lambda h: h["metadata"].update(acc=float("nan")))
    with pytest.raises(ModelFileError, match=r"header is not valid JSON despite a good checksum \(non-standard JSON "
                       r"constant NaN\)"):
        from_bytes(forged)


def test_an_encoding_this_version_does_not_know_is_named():
    def edit(header):
        for entry in header["arrays"]:
            if entry["name"] == "hidden.0.weights":
                entry["encoding"] = "base64"  # not base-N packing of the discrete set

    with pytest.raises(ModelFileError, match="array hidden.0.weights has encoding 'base64'; .* reads 'raw' or 'base3'"):
        from_bytes(_forge(random_network((4, 3, 2), seed=0), edit))


@pytest.mark.parametrize("edit", [
    lambda h: h["arrays"][0].update(dtype="<U8"),  # a dtype the bytes do not fill
    lambda h: h["arrays"][0].update(shape=[65, 1]),  # more elements than stored
    lambda h: h.update(metadata=["dataset", "digits"]),  # metadata not a mapping
])
def test_header_that_does_not_match_its_arrays_is_refused_by_name(edit):
    net = random_network((4, 3, 2), seed=0)
    with pytest.raises(ModelFileError, match="^forged.ctn: "):
        from_bytes(_forge(net, edit), source="forged.ctn")


def test_saved_files_get_the_usual_mode(tmp_path):
    # mkstemp makes 0600; a model is an ordinary file (umask), and re-saving keeps a file's mode
    old = os.umask(0o022)
    try:
        save(random_network((4, 3, 2), seed=0), tmp_path / "a.ctn")
        assert (tmp_path / "a.ctn").stat().st_mode & 0o777 == 0o644
        (tmp_path / "a.ctn").chmod(0o640)
        save(random_network((4, 3, 2), seed=1), tmp_path / "a.ctn")
        assert (tmp_path / "a.ctn").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        save(random_network((4, 3, 2), seed=0), tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        save(random_network((4, 3, 2), seed=0), tmp_path / "file" / "m.ctn")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ctn", "file"]


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load(tmp_path / "nope.ctn")
    with pytest.raises(ModelFileError, match="is a directory"):
        load(tmp_path)


def test_an_unreadable_model_file_is_named(tmp_path, monkeypatch):
    # a loop of links or no read permission raised a bare OSError ("[Errno 13] Permission denied: 'm.ctn'"),
    # though a missing file was a ModelFileError
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(ModelFileError, match=f"{tmp_path / 'a'}: cannot read the model file .*symbolic links"):
        load(tmp_path / "a")
    path = tmp_path / "m.ctn"
    save(random_network((4, 3, 2), seed=0), path)

    def denied(*args, **kwargs):  # root reads through chmod 000, so deny it here
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(modelfile, "open", denied, raising=False)
    with pytest.raises(ModelFileError, match=f"^{path}: cannot read the model file \\(Permission denied\\)$"):
        load(path)


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.ctn"
    old = random_network((5, 4, 2), seed=1)
    save(old, path)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        save(random_network((5, 4, 2), seed=2), path)
    assert load(path) == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ctn"]


def test_metadata_survives(tmp_path):
    net = random_network((4, 3, 2)).replace(
        metadata={"dataset": "iris", "training": {"sweeps": 3, "loss": "margin"}, "val_error": 0.03}
    )
    back = load(save(net, tmp_path / "m.ctn"))
    assert isinstance(back, TernaryNetwork)
    assert back.metadata["training"]["loss"] == "margin" and back.metadata["val_error"] == 0.03


def test_special_files_are_refused_and_symlinks_written_through(tmp_path):
    net = random_network((4, 3, 2), seed=0)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="fifo is not a regular file"):
        save(net, fifo)  # a rename would have replaced the pipe (as root: -o /dev/null, the device)
    assert fifo.is_fifo()
    with pytest.raises(OSError, match="null is not a regular file"):
        save(net, "/dev/null")
    target = tmp_path / "real.ctn"
    save(random_network((4, 3, 2), seed=1), target)  # an older model (a file of another kind is refused)
    (tmp_path / "link.ctn").symlink_to("real.ctn")
    assert save(net, tmp_path / "link.ctn") == tmp_path / "link.ctn"
    assert (tmp_path / "link.ctn").is_symlink() and load(target) == net
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "link.ctn", "real.ctn"]


def test_an_unwritable_folder_is_named_before_anything_is_written(tmp_path, monkeypatch):
    # root ignores permission bits, so the check (which also sees read-only file systems) is simulated
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(tmp_path) else real_access(p, mode))
    with pytest.raises(PermissionError, match=f"cannot write {tmp_path}/sub/m.ctn: {tmp_path} is not writable"):
        save(random_network((4, 3, 2), seed=0), tmp_path / "sub" / "m.ctn")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_names_the_destination_not_the_temporary(tmp_path, monkeypatch):
    import errno
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / ".m.ctn.x.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(OSError, match=f"cannot write {tmp_path / 'm.ctn'}: Read-only file system"):
        save(random_network((4, 3, 2), seed=0), tmp_path / "m.ctn")


def test_a_file_that_is_not_a_model_is_refused_before_it_is_read_whole():
    with pytest.raises(ModelFileError, match="/dev/zero: not a connttra-neuro model file"):
        load("/dev/zero")  # endless: reading it whole would never finish


def test_save_names_what_it_was_given(tmp_path):
    with pytest.raises(TypeError, match="save needs a TernaryNetwork.*got dict"):
        save({"weights": []}, tmp_path / "m.ctn")
    assert not any(tmp_path.iterdir())


def test_a_file_object_or_bytes_for_a_path_is_named(tmp_path):
    # os.stat / Path said "stat: path should be string, bytes, os.PathLike or integer, not BufferedWriter"
    import io

    net = random_network((3, 4, 2), seed=0)
    with open(tmp_path / "m.ctn", "wb") as fh:
        with pytest.raises(TypeError, match=r"save takes a file path \(str or pathlib.Path\), got BufferedWriter; "
                                            r"a model in memory is connttra_neuro.modelfile.to_bytes\(network\)"):
            save(net, fh)
    for source in (io.BytesIO(to_bytes(net)), to_bytes(net)):
        with pytest.raises(TypeError, match=rf"load takes a file path .*got {type(source).__name__}; .*from_bytes"):
            load(source)
    assert from_bytes(to_bytes(net)) == net


def test_a_packed_byte_above_the_largest_code_is_refused():
    # five ternary digits fill 0..242; 243..255 never come from save (a modulo would read them as others)
    assert unpack_weights(bytes([242]), (5,), (-1, 0, 1)).tolist() == [1, 1, 1, 1, 1]
    with pytest.raises(ModelFileError, match="byte 243, above the largest code of 5 base-3 digits"):
        unpack_weights(bytes([0, 243]), (10,), (-1, 0, 1))


def _recoded(header, n_values):
    for entry in header["arrays"]:
        if entry["encoding"].startswith("base"):
            entry["encoding"] = f"base{n_values}"


@pytest.mark.timeout(30)  # a set of 0 or 1 values once looped forever in the unpacking
@pytest.mark.parametrize("dset, why", [([0], "at least two values"), ([], "at least two values"),
                                       ([1, 0, -1], "not in ascending order"), ([0.5, 1, 2], "must be integers"),
                                       (None, "must be integers"), ([100, 200, 300], "fit in int8")])
def test_a_header_with_a_bad_discrete_set_is_refused_before_unpacking(dset, why):
    def edit(h):
        h["discrete_set"] = dset
        _recoded(h, len(dset) if isinstance(dset, list) else 3)

    with pytest.raises(ModelFileError, match=f"<bytes>: header's discrete set is not valid: .*{why}"):
        from_bytes(_forge(random_network((4, 3, 2), seed=0), edit))
    with pytest.raises(ValueError, match="needs 2 to 256 values, got 1"):
        digits_per_byte(1)


def test_headers_nested_too_deeply_or_of_the_wrong_structure_are_named():
    net = random_network((4, 3, 2), seed=0)
    deep = _forge(net, lambda h: h["metadata"].update(deep=json.loads("[" * 900 + "]" * 900)))
    with pytest.raises(ModelFileError, match="metadata is nested too deeply"):
        from_bytes(deep)
    not_a_table = _forge(net, lambda h: h.update(arrays="x"))
    with pytest.raises(ModelFileError, match="header has no valid array table despite a good checksum"):
        from_bytes(not_a_table)


def test_a_bad_packed_byte_names_the_file_and_array(tmp_path):
    blob = bytearray(to_bytes(random_network((4, 3, 2), seed=0)))
    _, _, hlen = struct.unpack_from("<8sHI", blob)
    header = json.loads(blob[14 : 14 + hlen])
    entry = next(e for e in header["arrays"] if e["name"] == "hidden.0.weights")
    blob[14 + hlen + entry["offset"]] = 250  # base-3, five digits a byte: codes stop at 242
    body = bytes(blob[:-32])
    import hashlib

    path = tmp_path / "m.ctn"
    path.write_bytes(body + hashlib.sha256(body).digest())
    with pytest.raises(ModelFileError, match=r"m\.ctn: array hidden\.0\.weights: packed weights hold byte 250"):
        load(path)


def test_an_empty_path_is_named_not_read_as_the_current_folder():
    with pytest.raises(ModelFileError, match=r"no model file given \(the path is empty\)"):
        load("")


def test_packed_weights_match_the_documented_bytes():
    # docs/file-format.md: index into the sorted set, base m, least significant digit first, row-major;
    # reversing the digit order in both pack and unpack would still round-trip and misread old files
    w = np.array([[-1, 0, 1], [1, 1, -1]], np.int8)  # indices 0 1 2 2 2 | 0
    assert pack_weights(w, (-1, 0, 1)) == bytes([0 + 1 * 3 + 2 * 9 + 2 * 27 + 2 * 81, 0])  # 237, 0
    assert pack_weights(np.array([1, -1, -1, -1, -1, -1, -1, -1, 1], np.int8), (-1, 1)) == bytes([1, 1])
    np.testing.assert_array_equal(unpack_weights(bytes([75, 1]), (6,), (-1, 0, 1)), [-1, 0, 1, 1, -1, 0])
    np.testing.assert_array_equal(unpack_weights(bytes([237, 0]), (2, 3), (-1, 0, 1)), w)


def test_extra_bytes_under_a_valid_checksum_are_refused():
    import hashlib

    blob = to_bytes(random_network((8, 5, 3), seed=1))
    body = blob[:-32] + b"\0" * 5  # written by another tool and re-hashed: the checksum alone cannot catch it
    with pytest.raises(ModelFileError, match="5 unexpected trailing bytes"):
        from_bytes(body + hashlib.sha256(body).digest())


@pytest.mark.parametrize("umask, mode", [(0o027, 0o640), (0o002, 0o664), (0o077, 0o600)])
def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        assert save(random_network((4, 3, 2), seed=0), tmp_path / "a.ctn").stat().st_mode & 0o777 == mode
    finally:
        os.umask(old)


def test_ctrl_c_mid_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "model.ctn"
    old = random_network((5, 4, 2), seed=1)
    save(old, path)

    def interrupted(tmp):
        with open(tmp, "wb") as fh:
            fh.write(b"half a model")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, interrupted)
    assert load(path) == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ctn"]  # no .model.ctn.*.tmp left behind


# A save that stops for good half-way, with its temporary written: the parent kills it there.
_KILLED_MID_SAVE = """
import sys
from connttra_neuro import random_network
from connttra_neuro._atomic import atomic_write

def stuck(tmp):
    with open(tmp, "wb") as fh:
        fh.write(b"half a model")
    print("writing", flush=True)
    sys.stdin.read()  # until killed

atomic_write(sys.argv[1], stuck)
"""


# the subprocesses import the connttra_neuro under test, wherever pytest runs from
_THIS_PACKAGE = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(modelfile.__file__))}


def _saving(path):
    """A process stopped half-way through an atomic write of ``path``, once its temporary is there."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", _KILLED_MID_SAVE, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=_THIS_PACKAGE)
    assert proc.stdout.readline() == "writing\n"
    return proc


def _save_elsewhere(network, path):
    """``save`` in a new process: one started after the temporaries there were written."""
    import subprocess
    import sys

    blob = path.with_name("blob.ctn")
    save(network, blob)
    code = "import sys; from connttra_neuro import load, save; save(load(sys.argv[1]), sys.argv[2])"
    subprocess.run([sys.executable, "-c", code, str(blob), str(path)], check=True,
                   env=_THIS_PACKAGE)
    blob.unlink()


def test_a_save_killed_outright_leaves_the_old_file_and_the_next_save_removes_its_temporary(tmp_path):
    # kill -9 mid-save left .model.ctn.XXXXXXXX.tmp, a full copy of the model, beside it for good
    path = tmp_path / "model.ctn"
    old, new = random_network((5, 4, 2), seed=1), random_network((5, 4, 2), seed=2)
    save(old, path)

    def temporaries():
        return [p.name.split(".")[3] for p in tmp_path.iterdir() if p.name != "model.ctn"]

    killed = _saving(path)
    killed.kill()
    killed.wait()
    assert load(path) == old and temporaries() == [str(killed.pid)]
    running = _saving(path)  # the next save removes the killed one's temporary
    try:
        assert temporaries() == [str(running.pid)]
        _save_elsewhere(new, path)  # and keeps the one of a save still under way
        assert load(path) == new and temporaries() == [str(running.pid)]
    finally:
        for proc in (killed, running):
            proc.kill()
            proc.wait()
            proc.stdin.close()
            proc.stdout.close()


def test_only_temporaries_of_gone_processes_written_before_this_one_started_are_removed(tmp_path):
    import subprocess
    import sys

    from connttra_neuro import _atomic

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    names = {
        f".model.ctn.{gone}.a1b2c3_d.tmp": "old, its process gone: removed",
        f".model.ctn.{gone}.x9y8z7w6.tmp": "its process gone, but written since this process started",
        f".model.ctn.{os.getppid()}.a1b2c3d4.tmp": "its process running",
        ".model.ctn.notes.tmp": "a user's file",
        f".model.ctn.{gone}.short.tmp": "no mkstemp name",
        f".other.ctn.{gone}.a1b2c3d4.tmp": "another file's",
    }
    for name in names:
        (tmp_path / name).write_bytes(b"x")
        if "x9y8" not in name:
            os.utime(tmp_path / name, (_atomic._STARTED - 60, _atomic._STARTED - 60))
    save(random_network((4, 3, 2), seed=0), tmp_path / "model.ctn")
    kept = {p.name for p in tmp_path.iterdir()} - {"model.ctn"}
    assert kept == set(names) - {f".model.ctn.{gone}.a1b2c3_d.tmp"}


def test_a_folder_that_refuses_new_files_is_named_before_anything_is_written(tmp_path, monkeypatch):
    # root passes os.access where the file system refuses (/proc): train -o /proc/x.ctn trained, then failed
    import tempfile

    from connttra_neuro import _atomic

    real = tempfile.mkdtemp

    def refusing(*args, dir=None, **kw):
        if str(dir) == str(tmp_path):
            raise OSError(30, "Read-only file system")
        return real(*args, dir=dir, **kw)

    monkeypatch.setattr(_atomic.tempfile, "mkdtemp", refusing)
    with pytest.raises(PermissionError, match=f"cannot write {tmp_path}/sub/m.ctn: {tmp_path} refuses new files "
                                              r"\(Read-only file system\)"):
        _atomic.check_writable(tmp_path / "sub" / "m.ctn")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    _atomic.check_writable(tmp_path / "m.ctn")
    assert list(tmp_path.iterdir()) == []  # the check leaves nothing behind
    if os.path.isdir("/proc/self"):
        with pytest.raises(PermissionError, match="cannot write /proc/connttra-x.ctn: /proc refuses new files"):
            save(random_network((4, 3, 2), seed=0), "/proc/connttra-x.ctn")


def test_only_the_nearest_existing_folder_must_be_writable(tmp_path, monkeypatch):
    # a user writes into their own folder under folders they cannot write (/, /home): only the
    # folder the file (or its first missing parent) goes into is checked
    (tmp_path / "mine").mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(tmp_path) else real_access(p, mode))
    net = random_network((4, 3, 2), seed=0)
    assert load(save(net, tmp_path / "mine" / "m.ctn")) == net
    assert load(save(net, tmp_path / "mine" / "new" / "m.ctn")) == net
    # an existing output folder (verify --out, compare -o) is itself the one checked: a writable mount under a
    # read-only one (a container run with --read-only and -v /out) was refused for its parent
    from connttra_neuro._atomic import check_writable

    assert check_writable(tmp_path / "mine", directory=True) == tmp_path / "mine"
    with pytest.raises(PermissionError, match=f"{tmp_path} is not writable"):
        check_writable(tmp_path / "other", directory=True)  # a new folder goes into the read-only one


def test_save_refuses_to_replace_a_file_that_is_not_a_model(tmp_path):
    # np.savez then save(..., "data.npz") by mistake must not lose the data; a model, an empty file and a
    # new path are written as before
    data = tmp_path / "data.npz"
    np.savez(data, X=np.zeros((2, 2)))
    before = data.read_bytes()
    with pytest.raises(ModelFileError, match="data.npz exists and is not a connttra-neuro model file"):
        save(random_network((4, 8, 3)), data)
    assert data.read_bytes() == before
    (tmp_path / "empty.ctn").touch()
    (tmp_path / "cut.ctn").write_bytes(b"CTNN")  # a model cut short within its signature is still a model
    for path in (tmp_path / "m.ctn", tmp_path / "m.ctn", tmp_path / "empty.ctn", tmp_path / "cut.ctn"):
        save(random_network((4, 8, 3), seed=len(str(path))), path)
        assert load(path).layer_sizes == (4, 8, 3)


def test_a_full_disk_names_the_file_it_could_not_write(tmp_path, monkeypatch):
    import errno

    path = tmp_path / "model.ctn"
    old = random_network((5, 4, 2), seed=1)
    save(old, path)

    def full(*args, **kwargs):  # what fsync (or write, or close) raises on a full disk: no file name
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=f"cannot write {path}: No space left on device"):
        save(random_network((5, 4, 2), seed=2), path)
    assert load(path) == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ctn"]


def test_a_loop_of_symbolic_links_is_refused_before_any_work(tmp_path):
    from connttra_neuro._atomic import check_writable

    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    for path in (tmp_path / "a", tmp_path / "a" / "m.ctn"):
        with pytest.raises(OSError, match=f"cannot write {path}: Too many levels of symbolic links"):
            check_writable(path)
        with pytest.raises(OSError, match="Too many levels"):
            check_writable(path, directory=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_train_refuses_a_loop_of_symbolic_links_as_output_in_one_line(tmp_path, capsys):
    from connttra_neuro.cli import main

    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    # pathlib's resolve() raised RuntimeError after the training: a traceback, the run lost
    assert main(["train", "--data", "iris", "--hidden", "4", "--max-sweeps", "1", "-o", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"connttra-neuro train: error: -o cannot write {tmp_path / 'a'}: Too many levels of " \
                          "symbolic links (a loop of symbolic links)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


@pytest.mark.parametrize("name", ["m" * 251 + ".ctn", "é" * 125 + "x.ctn"])  # 255 bytes, the longest name allowed
def test_the_longest_file_name_is_written(tmp_path, name):
    # the temporary beside it is named .NAME.XXXXXXXX.tmp: 14 bytes more than a name that long may have
    net = random_network((4, 3, 2), seed=0)
    assert load(save(net, tmp_path / name)) == net
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_every_atomic_write_reaches_the_disk_before_its_rename(tmp_path, monkeypatch):
    # write_text (CSV, JSON, reports) and the plots renamed an unsynced file: after a power cut the rename
    # can reach the disk before the data, leaving an empty file where the earlier one was
    from connttra_neuro import _atomic

    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
                        or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append(("replace", str(a))) or real_replace(a, b))
    for write in (lambda p: _atomic.write_text(p, "x\n"), lambda p: _atomic.write_bytes(p, b"x"),
                  lambda p: _atomic.atomic_write(p, lambda t: open(t, "w").close())):
        events.clear()
        write(tmp_path / "out.txt")
        tmp = next(name for kind, name in events if kind == "replace")
        assert ("fsync", tmp) in events and events.index(("fsync", tmp)) < events.index(("replace", tmp)), events


def test_an_immutable_file_is_refused_before_any_work(tmp_path, monkeypatch):
    # chattr +i (or +a): the rename over it fails with EPERM even as root, which the folder check did not
    # see, so compare -o lost all its training at the end; opening it for writing fails the same way
    import errno

    from connttra_neuro._atomic import check_writable

    path = tmp_path / "compare.json"
    path.write_text("[]")
    real_open = os.open

    def immutable(p, flags, *args, **kwargs):
        if str(p) == str(path) and flags & (os.O_WRONLY | os.O_RDWR):
            raise PermissionError(errno.EPERM, "Operation not permitted", str(p))
        return real_open(p, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", immutable)
    with pytest.raises(PermissionError, match=f"cannot write {path}: the file may not be replaced"):
        check_writable(path)
    assert path.read_text() == "[]"
    monkeypatch.setattr(os, "open", real_open)
    path.chmod(0o444)  # read-only by its mode only: a rename replaces it, so it is not refused
    assert check_writable(path) == path


def test_a_file_name_ending_in_a_slash_is_refused_not_written_over_the_file(tmp_path, capsys):
    # Path("notes.txt/") is Path("notes.txt"), while os.path.isfile("notes.txt/") is False: predict -o notes.txt/
    # (and --plot essay/) replaced the user's file of that name, unchecked
    from connttra_neuro._atomic import check_writable
    from connttra_neuro.cli import main

    notes = tmp_path / "notes.txt"
    notes.write_text("precious\n")
    for name in (f"{notes}/", f"{notes}/.", f"{notes}/..", f"{tmp_path / 'new'}/"):
        with pytest.raises(IsADirectoryError, match="names a folder"):
            check_writable(name)
    assert check_writable(f"{tmp_path / 'new'}/", directory=True) == tmp_path / "new"
    model = save(random_network((4, 3, 2), seed=0), tmp_path / "m.ctn")
    np.save(tmp_path / "x.npy", np.zeros((2, 4)))
    assert main(["predict", str(model), str(tmp_path / "x.npy"), "-o", f"{notes}/"]) == 2
    assert "names a folder" in capsys.readouterr().err
    assert notes.read_text() == "precious\n"
