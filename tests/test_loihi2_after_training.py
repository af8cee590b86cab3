"""Training (numba parallel) and then deploying on Lava in one process works.

numba's parallel launch fixes multiprocessing's default start method; Lava's
import then calls set_start_method("fork") without force and used to raise
"context has already been set". Runs in a fresh interpreter, since in the test
session Lava may already be imported.
"""

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import multiprocessing, numpy as np
    from connttra_neuro.datasets import load_dataset
    from connttra_neuro.train import CoNNTrA
    from hardware_targets import get_target
    from hardware_targets.reference import forward

    data = load_dataset("iris")
    net = CoNNTrA(hidden=(6,), max_sweeps=1, random_state=0).fit(data.X_train, data.y_train).network_
    assert multiprocessing.get_start_method(allow_none=True) is not None  # what used to break Lava
    spikes = net.encode(data.X_val)
    got = get_target("loihi2").deploy(net, spikes)
    np.testing.assert_array_equal(got.scores, forward(net, spikes)[0])
    print("exact")
    """
)


@pytest.mark.lava
@pytest.mark.timeout(180)
def test_train_then_deploy_on_lava_in_one_process():
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", SCRIPT], capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("exact")


@pytest.mark.lava
@pytest.mark.timeout(180)
def test_train_then_deploy_after_importing_the_runtime_first():
    # the runtime module cleared the start method at its import only; imported before a training run fixed the
    # method again (numba's parallel launch), Lava's own import then raised "context has already been set"
    script = "import hardware_targets.loihi2.runtime\n" + SCRIPT
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("exact")
