"""Loihi 2 target through the Lava runtime: exactness at trained size, float mode, tiling, cleanup.

Every test starts Lava, so every test has a timeout; sample counts stay small (the 10k run is
bench/deploy_loihi2.py).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from connttra_neuro.network import random_network
from hardware_targets.loihi2 import Loihi2Target
from hardware_targets.reference import forward

from .processes import children, group_alive


@pytest.fixture(autouse=True)
def _lava_importable():
    """Several tests import Lava themselves; Lava's first import fails with "context has already been set" if
    anything fixed multiprocessing's start method before (numba's parallel launch in an earlier test does), so
    clear it as the runtime's entry points do (a no-op once Lava is imported)."""
    from hardware_targets.loihi2.runtime import _clear_start_method_for_lava

    _clear_start_method_for_lava()

pytestmark = pytest.mark.lava


def _children() -> set[int]:
    """pids of this process's live children (Lava forks one per Process)."""
    return children(os.getpid())


def _describe(pids) -> list[str]:
    out = []
    for pid in sorted(pids):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80]
        except OSError:
            state, cmd = "gone", ""
        out.append(f"{pid} [{state}] {cmd}")
    return out


def _shm() -> set[str]:
    """Python shared-memory segments (``psm_*``: what Lava's SharedMemoryManager creates), so that
    other programs' segments in /dev/shm do not count."""
    return {n for n in os.listdir("/dev/shm") if n.startswith("psm_")} if os.path.isdir("/dev/shm") else set()


LEAK_GRACE = 10.0  # seconds a new segment nobody maps may take to go before it counts as left behind


def _assert_nothing_left(before_children: set[int], before_shm: set[str] | None = None,
                         grace: float = LEAK_GRACE) -> None:
    """No Lava process of the run still alive (given a moment: stop() has returned, exiting children may
    take one) and, with ``before_shm``, no shared-memory segment left behind (one nobody maps gets ``grace``
    seconds to go, see ``_leaked_shm``)."""
    leftover = _children() - before_children
    deadline = time.monotonic() + 10
    while leftover and time.monotonic() < deadline:
        time.sleep(0.1)
        leftover = _children() - before_children
    assert not leftover, f"Lava processes left running: {_describe(leftover)}"
    if before_shm is not None:
        assert _leaked_shm(before_shm, grace) == set(), "shared memory left behind"


def _leaked_shm(before: set[str], grace: float = LEAK_GRACE) -> set[str]:
    """The segments new since ``before`` that no other live program maps, and that are still there, unmapped,
    after ``grace`` seconds. Another program's Lava run (a second test session) closes its segments, then stops
    its manager, which unlinks them: in between they are nobody's and new, and counted as ours they failed
    this file's leak checks (3 of 185 tests of a session run beside another). Ours stay: a run that did not
    stop leaves its segments for good. Returns at once when there are none."""
    deadline = time.monotonic() + grace
    new = _shm() - before
    suspects = new - _mapped_by_other_programs(new)
    while suspects and time.monotonic() < deadline:
        time.sleep(0.2)
        now = _shm() & suspects
        suspects = now - _mapped_by_other_programs(now)
    return suspects


def _mapped_by_other_programs(names: set[str]) -> set[str]:
    """The segments among ``names`` that a live process other than this one maps: another program's Lava
    run (a second test session, a benchmark) made them while this test ran. Ours are unmapped once the
    run has stopped (its processes are gone, checked first), so a leak of ours is never among these."""
    if not names:
        return set()
    mapped = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/maps") as maps:
                mapped.update(line.rsplit("/", 1)[-1].strip() for line in maps if "/dev/shm/psm_" in line)
        except OSError:  # ended meanwhile, or not ours to read
            continue
    return names & mapped


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm")
def test_the_leak_check_counts_a_segment_nobody_maps_and_not_another_program_s(tmp_path):
    # another program's Lava run (a second test session) failed the leak checks of this file
    import subprocess
    import sys
    from multiprocessing import shared_memory

    before = _shm()
    other = subprocess.Popen([sys.executable, "-c", "from multiprocessing import shared_memory; import sys; "
                              "m = shared_memory.SharedMemory(create=True, size=4096); print(m.name, flush=True); "
                              "sys.stdin.read(); m.close(); m.unlink()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip().lstrip("/") in _shm() - before
        _assert_nothing_left(_children(), before)  # mapped by the other program: not ours
        leaked = shared_memory.SharedMemory(create=True, size=4096)
        leaked.close()  # unmapped and never unlinked: what a run that did not stop leaves
        try:
            with pytest.raises(AssertionError, match="shared memory left behind"):
                _assert_nothing_left(_children(), before, grace=0.5)  # it stays: no need to wait the full grace
        finally:
            leaked.unlink()
    finally:
        other.communicate("", timeout=30)



@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm")
def test_the_leak_check_waits_for_another_program_s_segments_that_are_going(monkeypatch):
    # a second test session's Lava run closes its segments, then its manager unlinks them: in between they are
    # nobody's, and this file's leak checks counted them (3 of 185 tests failed, the two sessions side by side)
    from multiprocessing import shared_memory

    before = _shm()
    stopping = shared_memory.SharedMemory(create=True, size=4096)
    stopping.close()  # unmapped, still there: the other run between its close and its manager's unlink
    unlinked = []

    def the_manager_unlinks(seconds):  # what the other program does while the check waits
        if not unlinked:
            stopping.unlink()
            unlinked.append(stopping.name)

    monkeypatch.setattr(time, "sleep", the_manager_unlinks)
    try:
        _assert_nothing_left(_children(), before)
    finally:
        if not unlinked:
            stopping.unlink()
    assert unlinked  # it was seen, waited for, and then gone

def _assert_exact(result, network, spikes):
    scores, hidden = forward(network, spikes, record_hidden=True)
    np.testing.assert_array_equal(result.scores, scores)
    np.testing.assert_array_equal(result.predictions, np.argmax(scores, axis=1))
    assert result.hidden_spikes is not None
    for got, want in zip(result.hidden_spikes, hidden, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.fixture(scope="module")
def trained_size():
    """64 features x 3 thermometer levels -> 32 -> 10, realistic sparsity, plus encoded samples."""
    net = random_network((64, 32, 10), levels=3, density=0.4, seed=11)
    X = np.random.default_rng(3).random((120, 64))
    return net, net.encode(X)


@pytest.mark.timeout(60)
def test_trained_size_fixed_pt_is_exact_with_uneven_tiles(trained_size):
    net, spikes = trained_size
    # 120 samples on 7 tiles: the last column is padded; hidden spikes, scores and classes must match
    result = Loihi2Target(tiles=7).deploy(net, spikes, record_hidden=True)
    _assert_exact(result, net, spikes)
    assert result.info["tiles"] == 7 and result.steps == -(-120 // 7) + 2


@pytest.mark.timeout(60)
def test_floating_pt_mode_agrees(trained_size):
    net, spikes = trained_size
    result = Loihi2Target(mode="floating_pt").deploy(net, spikes[:40], record_hidden=True)
    _assert_exact(result, net, spikes[:40])
    assert result.info["mode"] == "floating_pt"


@pytest.mark.timeout(60)
def test_large_fan_in_and_reduced_weight_bits_are_exact():
    # fan-in 2,000 (near the 16-bit activation limit at 4 bits: 32 * 600 = 19,200), two hidden layers
    net = random_network((1000, 24, 12, 5), levels=2, density=0.3, seed=5)
    rng = np.random.default_rng(0)
    spikes = (rng.random((50, 2000)) < rng.uniform(0.1, 0.9, (50, 1))).astype(np.uint8)
    for target in (Loihi2Target(), Loihi2Target(weight_bits=4, tiles=1)):
        _assert_exact(target.deploy(net, spikes[:25] if target.tiles == 1 else spikes, record_hidden=True), net,
                      spikes[:25] if target.tiles == 1 else spikes)


@pytest.mark.timeout(60)
def test_thresholds_carried_by_vth_and_by_the_bias_alone_are_exact_on_lava():
    # thresholds 2,500-2,900 need vth > 0 (the 13-bit bias cannot hold them); thresholds down to
    # -2,047 sit at the bias's other end with vth = 0 (the mapping's hand model covers both; this is Lava)
    from connttra_neuro.network import HiddenLayer
    from hardware_targets.loihi2.mapping import BIAS_MANT_MAX, map_network

    rng = np.random.default_rng(0)
    base = random_network((3000, 5, 2), seed=0)
    for sign, t, density in ((1, [2500, 2600, 2700, 2800, 2900], (0.8, 1.0)),
                             (-1, [-2047, -2000, -1950, -1900, -2047], (0.6, 0.72))):  # fmt: skip
        spikes = (rng.random((40, 3000)) < rng.uniform(*density, (40, 1))).astype(np.uint8)
        net = base.replace(hidden=(HiddenLayer(sign * np.ones((5, 3000), np.int8), np.array(t)),))
        mapped = map_network(net).layers[0]
        assert mapped.vth > 0 if sign > 0 else (mapped.vth == 0 and mapped.bias_mant.max() == BIAS_MANT_MAX)
        _, want = forward(net, spikes, record_hidden=True)
        assert want[0].any(axis=0).all() and not want[0].all(axis=0).any()  # every boundary exercised
        _assert_exact(Loihi2Target().deploy(net, spikes, record_hidden=True), net, spikes)


@pytest.mark.timeout(60)
def test_run_without_hidden_recording_and_empty_input(trained_size):
    net, spikes = trained_size
    target = Loihi2Target()
    compiled = target.compile(net)
    result = target.run(compiled, spikes[:9])
    assert result.hidden_spikes is None
    np.testing.assert_array_equal(result.scores, forward(net, spikes[:9])[0])
    empty = target.run(compiled, spikes[:0], record_hidden=True)
    assert empty.scores.shape == (0, 10) and empty.hidden_spikes[0].shape == (0, 32)
    with pytest.raises(ValueError, match="shape"):
        target.run(compiled, spikes[:, :10])


@pytest.mark.timeout(90)
@pytest.mark.parametrize("error", [RuntimeError("boom while streaming"), KeyboardInterrupt()])
def test_runtime_is_stopped_when_run_raises(monkeypatch, trained_size, error):
    from multiprocessing import resource_tracker

    import hardware_targets.loihi2.runtime as runtime

    net, spikes = trained_size
    # Python's shared-memory resource tracker is one helper per interpreter, started on first use and
    # kept until exit by design; start it now so only processes of this run count.
    resource_tracker.ensure_running()
    before_children, before_shm = _children(), _shm()
    started = []

    def failing_collect(extractor, n_messages, width, runtime=None, **options):
        started.append(_children() - before_children)  # Lava's processes are alive at this point
        raise error

    monkeypatch.setattr(runtime, "_collect", failing_collect)
    with pytest.raises(type(error)):
        Loihi2Target().deploy(net, spikes[:20], record_hidden=True)
    assert started and started[0], "the failure must happen while Lava runs"
    _assert_nothing_left(before_children, before_shm)


def test_diagonal_block_detects_exact_tiling_only():
    import scipy.sparse as sp

    from hardware_targets.loihi2.lava_models import diagonal_block
    from hardware_targets.loihi2.runtime import _block_diag

    rng = np.random.default_rng(0)
    w = ((rng.random((7, 5)) < 0.4) * rng.choice([-2, 2], (7, 5))).astype(np.int32)
    tiled = _block_diag(w, 4, np.int32)
    assert (tiled != sp.block_diag([sp.csr_matrix(w)] * 4, format="csr")).nnz == 0
    np.testing.assert_array_equal(diagonal_block(tiled, 4), w)
    for r, c in ((8, 1), (0, 6)):  # a changed copy, an entry off the diagonal blocks
        bad = tiled.tolil()
        bad[r, c] = 2
        assert diagonal_block(bad.tocsr(), 4) is None
    changed = tiled.copy()  # the third copy's first weight negated: the same sparsity pattern, other data
    changed.data[2 * changed.nnz // 4] *= -1
    assert diagonal_block(changed, 4) is None
    assert diagonal_block(tiled, 1) is None and diagonal_block(w, 4) is None


_CTRL_C_SCRIPT = """
import numpy as np
from connttra_neuro.network import random_network
from hardware_targets.loihi2 import Loihi2Target
net = random_network((64, 32, 10), seed=0)
spikes = (np.random.default_rng(0).random((20000, 64)) < 0.5).astype(np.uint8)
try:
    Loihi2Target(tiles=1).deploy(net, spikes)  # 20,000 steps: far longer than the test waits
except KeyboardInterrupt:
    raise SystemExit(130)
raise SystemExit(0)
"""


@pytest.mark.timeout(90)
def test_sigterm_while_lava_starts_up_stops_what_was_forked(monkeypatch, trained_size):
    # the fork window had SIGTERM at its default action in the parent: kill PID there killed it with
    # 8 Lava processes and 21 segments left; it is noted and raised once the run has started
    import signal
    from multiprocessing import resource_tracker

    from lava.magma.core.process.process import AbstractProcess

    from connttra_neuro._signals import Terminated

    net, spikes = trained_size
    resource_tracker.ensure_running()
    before_children, before_shm = _children(), _shm()
    create = AbstractProcess.create_runtime

    def create_then_terminated(self, *args, **kwargs):
        create(self, *args, **kwargs)  # Lava's processes are forked by now
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(AbstractProcess, "create_runtime", create_then_terminated)
    with pytest.raises(Terminated):
        Loihi2Target().deploy(net, spikes[:20])
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the run's handlers are gone with it
    _assert_nothing_left(before_children, before_shm)


@pytest.mark.timeout(90)
def test_sigterm_while_a_ctrl_c_stops_the_run_is_reported_as_terminated(monkeypatch, trained_size):
    # the stop after a Ctrl-C holds signals; a SIGTERM noted then was lost with the KeyboardInterrupt in
    # flight, so the command exited 130 (Ctrl-C) instead of 143 (terminated)
    import signal
    from multiprocessing import resource_tracker

    import hardware_targets.loihi2.runtime as runtime
    from connttra_neuro._signals import Terminated

    net, spikes = trained_size
    resource_tracker.ensure_running()
    before_children, before_shm = _children(), _shm()
    stop = runtime._stop

    def ctrl_c(extractor, n_messages, width, runtime=None, **options):
        raise KeyboardInterrupt  # as Python raises a Ctrl-C while Lava runs

    def terminated_while_stopping(source, finished=True):
        os.kill(os.getpid(), signal.SIGTERM)  # held: noted, the stop goes on
        stop(source, finished)

    monkeypatch.setattr(runtime, "_collect", ctrl_c)
    monkeypatch.setattr(runtime, "_stop", terminated_while_stopping)
    with pytest.raises(KeyboardInterrupt) as err:  # not pytest.raises(Terminated): a bare Ctrl-C would end pytest
        Loihi2Target().deploy(net, spikes[:20])
    assert isinstance(err.value, Terminated), f"got {err.value!r}, the Ctrl-C, not the SIGTERM after it"
    assert isinstance(err.value.__context__, KeyboardInterrupt)  # the Ctrl-C it replaced, kept as its context
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    _assert_nothing_left(before_children, before_shm)


@pytest.mark.timeout(120)
def test_ctrl_c_on_the_whole_process_group_stops_everything():
    # a terminal's Ctrl-C sends SIGINT to every process of the foreground group, Lava's children included
    import signal
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [sys.executable, "-c", _CTRL_C_SCRIPT], cwd=root, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(group_alive(proc.pid)) < 4 and time.monotonic() < deadline:  # parent + Lava's processes
            time.sleep(0.2)
        assert len(group_alive(proc.pid)) >= 4, "Lava did not start"
        time.sleep(1.0)  # let it run a while
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, err[-2000:]
    deadline = time.monotonic() + 10
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not group_alive(proc.pid), f"left running after Ctrl-C: {_describe(group_alive(proc.pid))}"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signals, to_group", [(["SIGTERM"], False), (["SIGINT"] * 3, True)],
                         ids=["sigterm to the parent alone", "ctrl-c three times quickly"])
def test_a_terminated_or_repeatedly_interrupted_run_stops_everything(signals, to_group):
    # kill PID (SIGTERM to the parent alone) killed it with no finally: 8-12 Lava processes adopted by init and
    # 30 /dev/shm segments stayed; a second Ctrl-C within ms cut the stop short (2 leaks in 60 tries)
    import signal
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    shm_before = _shm()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CTRL_C_SCRIPT], cwd=root, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(group_alive(proc.pid)) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(group_alive(proc.pid)) >= 4, "Lava did not start"
        time.sleep(1.0)
        for name in signals:
            (os.killpg if to_group else os.kill)(proc.pid, getattr(signal, name))
            time.sleep(0.03)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    # the script exits 130 on a KeyboardInterrupt (Terminated is one); a Ctrl-C that lands after the stop, in
    # the script's own exit, ends it by SIGINT (-2), as Python does: either way the run was stopped first
    assert proc.returncode in ((130, -signal.SIGINT) if len(signals) > 1 else (130,)), err[-2000:]
    deadline = time.monotonic() + 10
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _describe(group_alive(proc.pid))
    if left:  # a failing run must not leave them running on the machine either
        os.killpg(proc.pid, signal.SIGKILL)
    leaked = _leaked_shm(shm_before)  # another program's (a second test session's) is no leak, nor ours to remove
    for name in leaked:
        Path("/dev/shm", name).unlink(missing_ok=True)
    assert not left, f"left running: {left}"
    assert not leaked, f"left in /dev/shm: {sorted(leaked)}"


@pytest.mark.timeout(60)
def test_runtime_created_but_never_started_is_stopped(monkeypatch, trained_size):
    # Lava's own stop() would join processes that wait for a start command forever
    from multiprocessing import resource_tracker

    from lava.magma.core.process.process import AbstractProcess

    net, spikes = trained_size
    resource_tracker.ensure_running()
    before = _children()
    seen = []

    def run_fails(self, *args, **kwargs):
        seen.append(_children() - before)  # the processes exist, nothing has started them
        raise RuntimeError("start failed")

    monkeypatch.setattr(AbstractProcess, "run", run_fails)
    with pytest.raises(RuntimeError, match="start failed"):
        Loihi2Target().deploy(net, spikes[:10])
    assert seen and seen[0]
    _assert_nothing_left(before)


@pytest.mark.timeout(120)
def test_floating_pt_mode_on_the_conformance_battery():
    from .networks import conformance_networks, input_spikes

    target = Loihi2Target(mode="floating_pt")
    for case, network in conformance_networks().items():
        spikes = input_spikes(network, n=12, seed=7)
        result = target.deploy(network, spikes, record_hidden=True)
        scores, hidden = forward(network, spikes, record_hidden=True)
        np.testing.assert_array_equal(result.scores, scores, err_msg=case)
        for got, want in zip(result.hidden_spikes, hidden, strict=True):
            np.testing.assert_array_equal(got, want, err_msg=case)


@pytest.mark.timeout(60)
def test_a_process_model_failing_mid_run_raises_instead_of_hanging(monkeypatch, trained_size):
    # Lava itself would wait forever for the dead process's answer
    from multiprocessing import resource_tracker

    from hardware_targets.loihi2.lava_models import PySparseModelBitAccMatVec

    net, spikes = trained_size
    original = PySparseModelBitAccMatVec.run_spk

    def fails_at_step_5(self):
        if self.time_step == 5:
            raise ValueError("synapse model failed at step 5")
        original(self)

    monkeypatch.setattr(PySparseModelBitAccMatVec, "run_spk", fails_at_step_5)  # forked children inherit it
    resource_tracker.ensure_running()
    before, before_shm = _children(), _shm()
    with pytest.raises(RuntimeError, match="synapse model failed at step 5"):
        Loihi2Target(tiles=1).deploy(net, spikes[:50])
    _assert_nothing_left(before, before_shm)


@pytest.mark.timeout(60)
def test_a_run_stuck_in_a_model_is_stopped_after_an_error(monkeypatch, trained_size):
    # a ProcessModel that never sends leaves every process alive and waiting: Lava's stop handshake
    # would wait for them forever, so an error (or a test's timeout) while such a run streams must
    # terminate the processes, not hang in finally
    from multiprocessing import resource_tracker

    import hardware_targets.loihi2.runtime as runtime
    from hardware_targets.loihi2.lava_models import PySparseModelBitAccMatVec

    net, spikes = trained_size

    def never_sends(self):
        time.sleep(3600)

    def collect_then_give_up(extractor, n_messages, width, runtime=None, **options):
        time.sleep(1)  # the processes are stuck in never_sends by now
        raise RuntimeError("gave up waiting")

    monkeypatch.setattr(PySparseModelBitAccMatVec, "run_spk", never_sends)  # forked children inherit it
    monkeypatch.setattr(runtime, "_collect", collect_then_give_up)
    resource_tracker.ensure_running()
    before, before_shm, threads = _children(), _shm(), set(threading.enumerate())
    with pytest.raises(RuntimeError, match="gave up waiting"):
        Loihi2Target(tiles=1).deploy(net, spikes[:20])
    assert _new_threads(threads) == []  # the runtime's port threads are joined as after a finished run (3 were not)
    _assert_nothing_left(before, before_shm)


@pytest.mark.timeout(60)
def test_a_lava_process_that_outlives_its_sigterm_is_killed_not_joined_forever(monkeypatch, trained_size):
    # a process that did not end on stop()'s SIGTERM (one forked a moment before, which still had its parent's
    # noting handler; here a model that ignores the signal) was joined by Lava's stop forever
    import signal
    from multiprocessing import resource_tracker

    import hardware_targets.loihi2.runtime as runtime
    from hardware_targets.loihi2.lava_models import PySparseModelBitAccMatVec

    net, spikes = trained_size

    def deaf_and_stuck(self):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(3600)

    def collect_then_give_up(extractor, n_messages, width, runtime=None, **options):
        time.sleep(1)  # the synapse process is deaf to SIGTERM by now
        raise RuntimeError("gave up waiting")

    monkeypatch.setattr(PySparseModelBitAccMatVec, "run_spk", deaf_and_stuck)  # forked children inherit it
    monkeypatch.setattr(runtime, "_collect", collect_then_give_up)
    monkeypatch.setattr(runtime, "_TERMINATE_WAIT_S", 1.0, raising=False)
    resource_tracker.ensure_running()
    before, before_shm = _children(), _shm()
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="gave up waiting"):
        Loihi2Target(tiles=1).deploy(net, spikes[:20])
    assert time.monotonic() - t0 < 30
    _assert_nothing_left(before, before_shm)


_EARLY_SIGTERM_SCRIPT = """
import os, signal, sys
# registered before the runtime's own hooks, so it runs first in the child: a SIGTERM that arrives before the
# child has reset the action (stop()'s terminate() the moment after the fork, on a loaded machine)
os.register_at_fork(after_in_child=lambda: os.kill(os.getpid(), signal.SIGTERM))
from connttra_neuro._signals import sigterm_raises
from hardware_targets.loihi2.runtime import _children_ignore_ctrl_c

with sigterm_raises():
    noted = []
    with _children_ignore_ctrl_c(noted):
        pid = os.fork()
        if pid == 0:
            os._exit(0)  # lived on: the noting handler took the signal
        parent_blocked = signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, [])
_, status = os.waitpid(pid, 0)
print(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, parent_blocked, noted)
"""


def test_a_sigterm_that_reaches_a_lava_process_before_its_fork_hook_still_ends_it():
    # it ran the parent's noting handler: the child lived on, and Lava's stop joined it forever (4 hangs in 14
    # runs on a loaded machine). Blocked across the fork, it waits in the child for the default action
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", _EARLY_SIGTERM_SCRIPT], cwd=root, capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stderr[-2000:]
    # the child ended by SIGTERM; the parent's mask is as before the fork, and it noted nothing
    assert out.stdout.split() == ["True", "False", "[]"], out.stdout + out.stderr[-2000:]


def _plain_lif_spikes(weight, bias, vth, spikes):
    """Hidden spikes of Lava's stock Dense + plain LIF (no per-step reset) driven by ``spikes``,
    one sample per step: how netx wires a layer (netx.hdf5.Network.get_neuron_params for CUBA)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.proc.dense.process import Dense
    from lava.proc.io.extractor import Extractor
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF

    from hardware_targets.loihi2.mapping import DECAY_FULL
    from hardware_targets.loihi2.runtime import _collect, _stop, default_run_cfg

    source = RingBuffer(data=spikes.T.astype(np.int32).copy())
    dense = Dense(weights=weight)
    lif = LIF(shape=(weight.shape[0],), du=DECAY_FULL, dv=DECAY_FULL, vth=vth, bias_mant=bias, bias_exp=6)
    tap = Extractor(shape=(weight.shape[0],), buffer_size=len(spikes) + 3)
    source.s_out.connect(dense.s_in)
    dense.a_out.connect(lif.a_in)
    lif.s_out.connect(tap.in_port)
    try:
        source.create_runtime(run_cfg=default_run_cfg("fixed_pt"))
        source.run(condition=RunSteps(num_steps=len(spikes) + 1, blocking=False))
        got = _collect(tap, len(spikes) + 1, weight.shape[0], source.runtime)[1:]  # Dense adds one step
        source.wait()
    finally:
        _stop(source)
    return (got != 0).astype(np.uint8)


@pytest.mark.timeout(60)
def test_netx_numbers_drive_plain_lava_lif_exactly(tmp_path, trained_size):
    # netx builds Dense + plain LIF from the file: run that with the stored numbers
    import h5py

    from hardware_targets.loihi2 import export_netx
    from hardware_targets.loihi2.mapping import DECAY_FULL

    net, spikes = trained_size
    spikes = spikes[:40]
    with h5py.File(export_netx(net, tmp_path / "net.h5"), "r") as f:
        layer = f["layer/0"]
        weight, bias = layer["weight"][()].astype(int), layer["bias"][()].astype(int)
        neuron = {k: int(layer["neuron"][k][()]) for k in ("iDecay", "vDecay", "vThMant")}
    assert (neuron["iDecay"] - 1, neuron["vDecay"]) == (DECAY_FULL, DECAY_FULL)  # du = iDecay - 1, dv = vDecay
    _, hidden = forward(net, spikes, record_hidden=True)
    np.testing.assert_array_equal(_plain_lif_spikes(weight, bias, neuron["vThMant"], spikes), hidden[0])


def _high_threshold_network(threshold):
    """1,076 inputs (weights 2 on 1,040 of them, 1 on 36), 4 hidden neurons at ``threshold``, and samples
    whose drives sit at, just below and far below it, each after another such sample."""
    from connttra_neuro.network import HiddenLayer, OutputLayer, TernaryNetwork, ThermometerEncoder

    w = np.r_[np.full(1040, 2), np.ones(36, int)]
    rng = np.random.default_rng(5)
    net = TernaryNetwork(ThermometerEncoder(np.full((w.size, 1), 0.5)),
                         (HiddenLayer(np.tile(w, (4, 1)).astype(np.int8), np.full(4, threshold)),),
                         OutputLayer(rng.integers(-1, 2, (3, 4)).astype(np.int8), np.zeros(3, np.int64)),
                         (-1, 0, 1, 2))
    spikes = []
    for drive in (threshold - 1, threshold - 1, threshold, 0, threshold, threshold - 1, threshold - 1, 0,
                  threshold - 1, threshold + 1, 0, threshold):
        k = min(drive // 2, 1040)
        s = np.zeros(w.size, np.uint8)
        s[:k] = 1
        s[1040:1040 + drive - 2 * k] = 1
        assert int(s @ w) == drive
        spikes.append(s)
    return net, np.array(spikes)


@pytest.mark.timeout(60)
def test_netx_export_refuses_thresholds_where_plain_lif_carries_over(tmp_path):
    # plain LIF keeps v/4096 of a silent neuron. At threshold 2,048 a blank sample leaves v = 64 * -4,095
    # and a carry of -63, inside the half-unit margin of 64; at 2,049 (vth 1, bias mantissa at its
    # 13-bit floor) it leaves -64 and the next sample's drive of exactly T does not fire. The export
    # must take the first and refuse the second.
    from hardware_targets.base import TargetLimitError
    from hardware_targets.loihi2 import export_netx
    from hardware_targets.loihi2.mapping import map_network

    for threshold, exact in ((2048, True), (2049, False)):
        net, spikes = _high_threshold_network(threshold)
        layer = map_network(net).layers[0]
        got = _plain_lif_spikes(layer.weights, layer.bias_mant, layer.vth, spikes)
        _, hidden = forward(net, spikes, record_hidden=True)
        assert np.array_equal(got, hidden[0]) == exact, (threshold, got[:, 0], hidden[0][:, 0])
        if exact:
            assert export_netx(net, tmp_path / "ok.net").exists()
        else:
            with pytest.raises(TargetLimitError, match="carry-over of plain LIF"):
                export_netx(net, tmp_path / "refused.net")
            assert not (tmp_path / "refused.net").exists()


@pytest.mark.timeout(60)
def test_layers_netx_refuses_run_exactly_on_the_loihi2_target(tmp_path):
    # no positive weight in a layer: netx's loader gets it wrong, so export_netx refuses it; the target runs it
    from connttra_neuro.network import HiddenLayer, OutputLayer
    from hardware_targets.base import TargetLimitError
    from hardware_targets.loihi2 import export_netx

    net = random_network((6, 5, 4, 3), levels=2, seed=3)
    rng = np.random.default_rng(1)
    negative = -(rng.random((4, 5)) < 0.6).astype(np.int8)  # weights in {-1, 0}
    net = net.replace(hidden=(net.hidden[0], HiddenLayer(negative, np.array([-2, -1, -3, -1], np.int32))),
                      output=OutputLayer(np.zeros((3, 4), np.int8), np.array([1, 0, 2])))  # all-zero layer
    with pytest.raises(TargetLimitError, match="largest weight of a layer in a netx file"):
        export_netx(net, tmp_path / "refused.net")
    from .networks import input_spikes

    spikes = input_spikes(net, n=40, seed=2)
    _assert_exact(Loihi2Target().deploy(net, spikes, record_hidden=True), net, spikes)


@pytest.mark.timeout(120)
def test_faster_sparse_model_equals_lavas_own_bit_accurate_model(trained_size):
    """Our Sparse ProcessModel is a speed-up, not new semantics: Lava's stock
    PySparseModelBitAcc must give the same hidden spikes and scores."""
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.extractor import Extractor, PyLoihiExtractorModel
    from lava.proc.sparse.models import PySparseModelBitAcc
    from lava.proc.sparse.process import Sparse

    net, spikes = trained_size
    stock_cfg = Loihi2SimCfg(
        select_tag="fixed_pt",
        exception_proc_model_map={Extractor: PyLoihiExtractorModel, Sparse: PySparseModelBitAcc},
    )
    for tiles in (1, 7):
        stock = Loihi2Target(run_cfg=stock_cfg, tiles=tiles).deploy(net, spikes[:40], record_hidden=True)
        ours = Loihi2Target(tiles=tiles).deploy(net, spikes[:40], record_hidden=True)
        _assert_exact(stock, net, spikes[:40])
        np.testing.assert_array_equal(ours.scores, stock.scores)
        for a, b in zip(ours.hidden_spikes, stock.hidden_spikes, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.timeout(60)
def test_hidden_spikes_are_collected_as_bool(trained_size, monkeypatch):
    """The hidden Extractors' rows were stacked as float64, 8 bytes per neuron and sample (1 GB for
    60,000 samples through 2,048 neurons) for values that are spikes; now 1 byte, same spikes."""
    from hardware_targets.loihi2 import runtime

    collected = []
    collect = runtime._collect

    def recording_collect(*args, **kwargs):
        out = collect(*args, **kwargs)
        collected.append(out.dtype)
        return out

    monkeypatch.setattr(runtime, "_collect", recording_collect)
    net, spikes = trained_size
    result = Loihi2Target(tiles=7).deploy(net, spikes[:40], record_hidden=True)
    _assert_exact(result, net, spikes[:40])
    assert collected == [np.float64, np.bool_]  # the scores, then the hidden layer's spikes
    assert all(h.dtype == np.uint8 for h in result.hidden_spikes)


@pytest.mark.timeout(60)
def test_a_run_reports_its_progress_to_a_bar(trained_size, monkeypatch):
    # 60,000 samples through 784-2048-10 ran 20-40 s with nothing shown; the scores arriving step by step
    # feed a bar (shown after 2 s, as brian2's)
    import contextlib

    from hardware_targets.loihi2 import runtime

    seen = []
    real = runtime._run_bar

    @contextlib.contextmanager
    def recording(steps):
        with real(steps) as bar:
            yield bar
            seen.append((steps, bar.n))

    monkeypatch.setattr(runtime, "_run_bar", recording)
    net, spikes = trained_size
    result = Loihi2Target(tiles=7).deploy(net, spikes, record_hidden=True)
    _assert_exact(result, net, spikes)
    assert seen == [(result.steps, result.steps)]


@pytest.mark.timeout(60)
def test_a_run_leaves_no_thread_behind(trained_size):
    # Lava's stop left the thread receiving on each Extractor's channel waiting for good: one per Extractor
    # and run, about 100 in a test session
    net, spikes = trained_size
    before = set(threading.enumerate())
    for _ in range(2):
        _assert_exact(Loihi2Target(tiles=7).deploy(net, spikes[:40], record_hidden=True), net, spikes[:40])
    assert _new_threads(before) == []


def _new_threads(before: set, wait: float = 5.0) -> list[str]:
    """The names of the threads not in ``before`` still running after up to ``wait`` seconds (a joined thread
    ends a moment after its join), except tqdm's monitor of progress bars, which tqdm keeps while bars live."""
    deadline = time.monotonic() + wait
    while True:
        left = [t.name for t in set(threading.enumerate()) - before if t.name != "tqdm_monitor"]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)
