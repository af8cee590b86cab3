"""The documentation's examples, run as a user copies them.

Users copy from the README and the guides first, so those lines are tested like code: every command
line in a code block parses under today's CLI, the sample sessions (`$ connttra-neuro ...` and the
lines after it) print what the docs show, and the Python examples run as written. A change that
alters a documented default or output fails here and names the doc to update.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
import shlex
from pathlib import Path

import pytest

from connttra_neuro.cli import main, parse_args

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
# a usage synopsis (`deploy MODEL --target NAME [--n N] ...`) is not one command line; placeholders
# such as MODEL in an example line are just strings to the parser
SYNOPSIS = re.compile(r"\[|\.\.\.")


def _blocks(lang: str):
    """(doc, line number, text) of every fenced block of the language ('' = no language given)."""
    for doc in DOCS:
        text = doc.read_text()
        for m in FENCE.finditer(text):
            if m.group(1) == lang:
                yield doc.relative_to(ROOT), text[: m.start()].count("\n") + 2, m.group(2)


def _command_lines():
    shells = ("", "yaml", "sh", "bash", "shell", "console", "text")  # every block a command line may sit in
    for doc, first, block in [b for lang in shells for b in _blocks(lang)]:
        for i, line in enumerate(block.splitlines()):
            line = re.sub(r"^(\$ |- run: )", "", line.strip())
            if line.startswith("connttra-neuro ") and not SYNOPSIS.search(line.split("#")[0]):
                yield pytest.param(line.split("  #")[0].strip(), id=f"{doc}:{first + i}")


COMMANDS = list(_command_lines())


def test_the_docs_have_commands_to_check():
    # the README's command-line section alone has ten; an empty list would pass every test below
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("line", COMMANDS)
def test_every_documented_command_line_parses(line, capsys):
    try:
        args = parse_args(shlex.split(line)[1:])
    except SystemExit:
        pytest.fail(f"{line!r} no longer parses: {capsys.readouterr().err.strip()}")
    assert callable(args.func)


def _synopsis(doc: str, command: str) -> str:
    """The usage synopsis of `command` in `doc`: its `connttra-neuro COMMAND MODEL ... [` line and the
    indented lines that go on with it."""
    for d, _, block in _blocks(""):
        lines = block.splitlines()
        for i, line in enumerate(lines):
            if str(d) == doc and line.startswith(f"connttra-neuro {command} ") and SYNOPSIS.search(line):
                return " ".join([line, *itertools.takewhile(lambda more: more.startswith(" "), lines[i + 1 :])])
    raise AssertionError(f"{doc} shows no synopsis of {command}")


@pytest.mark.parametrize("command", ["predict", "deploy", "verify"])
def test_the_user_guide_s_synopses_list_every_option(command):
    # the guide gives these three as their usage; an option left out is one a reader never learns of
    # (deploy's and verify's lacked --seed, which must match the training run's split)
    from connttra_neuro.cli import _build

    shown = set(re.findall(r"(?<![\w-])--?[a-z][a-z0-9-]*", _synopsis("docs/user-guide.md", command)))
    for action in _build()[1][command]._actions:
        if action.option_strings and "--help" not in action.option_strings:
            assert shown & set(action.option_strings), f"the guide's {command} synopsis lacks {action.option_strings}"


def _sessions():
    """Each `$ connttra-neuro ...` block: the command and the output lines the doc shows."""
    for doc, first, block in _blocks(""):
        lines = block.splitlines()
        if lines and lines[0].startswith("$ connttra-neuro "):
            yield pytest.param(lines[0][2:], lines[1:], id=f"{doc}:{first}")


SESSIONS = list(_sessions())


def _normal(line: str) -> str:
    # a run's wall time differs from the doc's; everything else is an integer network's exact output
    return " ".join(re.sub(r"\d+\.\d+ s\b", "T s", line).split())


@pytest.fixture(scope="module")
def guide_model(tmp_path_factory):
    """The user guide's model: `connttra-neuro train --data digits --hidden 64 --levels 2 --seed 0`."""
    folder = tmp_path_factory.mktemp("guide")
    trains = [c.values[0] for c in COMMANDS if "docs/user-guide.md" in c.id and " train " in c.values[0]]
    assert trains, "the user guide no longer shows how its model is trained"
    argv = shlex.split(trains[0])[1:]
    argv[argv.index("-o") + 1] = str(folder / "digits.ctn")
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0
    return folder


def test_the_user_guide_shows_sample_sessions():
    assert len(SESSIONS) >= 2


@pytest.mark.lava
@pytest.mark.brian2
@pytest.mark.timeout(300)
@pytest.mark.parametrize("command, shown", SESSIONS)
def test_a_sample_session_prints_what_the_doc_shows(command, shown, guide_model, monkeypatch, capsys):
    assert "digits.ctn" in command, "the sessions run the user guide's model"
    monkeypatch.chdir(guide_model)
    code = main(shlex.split(command)[1:])
    out = capsys.readouterr().out
    printed = {_normal(p) for p in out.splitlines()}
    for line in shown:
        assert _normal(line) in printed, f"the doc shows {line.strip()!r}; `{command}` printed:\n{out}"
    assert code == 0


def _python_blocks(doc: str):
    return [text for d, _, text in _blocks("python") if str(d) == doc]


@pytest.mark.lava
@pytest.mark.brian2
@pytest.mark.timeout(300)
def test_the_readme_example_runs_and_prints_true(tmp_path, monkeypatch, capsys):
    (example,) = _python_blocks("README.md")
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "<README.md example>", "exec"), {})
    assert capsys.readouterr().out == "True\n"
    assert (tmp_path / "digits.ctn").is_file()


@pytest.mark.lava
@pytest.mark.brian2
@pytest.mark.compiles_cython  # run last, after tests/warm_caches.py compiled the same code in the background
@pytest.mark.timeout(600)  # the cython example compiles Brian2's code once if the cache is cold
def test_the_user_guide_examples_run_in_order(tmp_path, monkeypatch, capsys, warm_caches):
    # the guide's examples are one session: train, classify new data, deploy on a target, verify, export
    # (the first defines X and y, the samples the others run)
    blocks = _python_blocks("docs/user-guide.md")
    assert len(blocks) == 5
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "<docs/user-guide.md example>", "exec"), namespace)
    assert namespace["report"].all_exact and namespace["t"].status == "exact"
    assert (namespace["result"].predictions == namespace["model"].predict(namespace["X"])).all()
    assert (namespace["labels"] == namespace["model"].predict(namespace["X"])).all()
    assert "reference" in capsys.readouterr().out  # the summary table
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert {"model.nir", "model.net", "reports/parity/parity.json"} <= written


def _target_page_example(doc: str, tmp_path, monkeypatch) -> dict:
    """Run the first example of a target's page, which uses a trained `network` and raw samples `X`: here
    the cython test's network (tests/networks.py), whose Brian2 code the background warm-up compiles."""
    import numpy as np

    from .networks import cython_case

    network = cython_case()[0]
    namespace = {"network": network, "X": np.random.default_rng(0).random((30, network.n_features))}
    monkeypatch.chdir(tmp_path)
    exec(compile(_python_blocks(doc)[0], f"<{doc} example>", "exec"), namespace)
    return namespace


def _assert_exact(network, X, result) -> None:
    from hardware_targets.reference import forward

    scores, hidden = forward(network, network.encode(X), record_hidden=True)
    assert (result.scores == scores).all()
    assert all((a == b).all() for a, b in zip(result.hidden_spikes, hidden, strict=True))


@pytest.mark.lava
@pytest.mark.timeout(300)
def test_the_loihi2_page_s_example_runs_exactly_and_exports(tmp_path, monkeypatch, capsys):
    # the page's other example needs Intel's hardware runtime (lava-loihi), not installed here
    ns = _target_page_example("docs/targets/loihi2.md", tmp_path, monkeypatch)
    _assert_exact(ns["network"], ns["X"], ns["result"])
    assert "'cores'" in capsys.readouterr().out  # the resource report, printed
    assert {p.name for p in tmp_path.iterdir()} == {"model.nir", "model.net"}


@pytest.mark.brian2
@pytest.mark.compiles_cython  # the example compiles with cython: run last, after tests/warm_caches.py
@pytest.mark.timeout(600)
def test_the_brian2_page_s_example_runs_exactly_and_its_noise_spellings_agree(tmp_path, monkeypatch, warm_caches):
    from hardware_targets.brian2_edge import EdgeNoise

    ns = _target_page_example("docs/targets/brian2.md", tmp_path, monkeypatch)
    result = ns["result"]
    _assert_exact(ns["network"], ns["X"], result)
    assert (result.info["latency_steps"], result.info["latency_ms"]) == (2, 2.0)  # L steps of dt=1.0 ms
    # "same, CLI text": the two spellings of the noise make one device
    assert ns["noisy"].noise == EdgeNoise(weight_sigma=0.1, stuck_at_zero=0.05, seed=3)


def test_the_loihi2_page_s_default_tile_counts_hold():
    from connttra_neuro import random_network
    from hardware_targets.loihi2 import default_tiles

    page = " ".join((ROOT / "docs" / "targets" / "loihi2.md").read_text().split())
    assert ("a 784-256-10 network keeps 100, a 784-2048-10 one 30, a 4096-4096-4096-10 one 1, with random ternary "
            "weights, two thirds non-zero") in page
    for sizes, tiles in [((784, 256, 10), 100), ((784, 2048, 10), 30), ((4096, 4096, 4096, 10), 1)]:
        assert default_tiles(random_network(sizes, seed=0), 10_000) == tiles, sizes


def test_the_datasets_example_loads_a_saved_npz(tmp_path, monkeypatch):
    blocks = _python_blocks("docs/datasets.md")
    (npz,) = [b for b in blocks if "np.savez" in b]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(npz, "<docs/datasets.md example>", "exec"), namespace)
    data = namespace["data"]
    assert (len(data.y_train), len(data.y_val)) == (800, 200)  # as the comment says


def test_the_datasets_page_opens_with_what_its_first_example_shows(capsys):
    # the page's first lines: what a Dataset holds, each comment a value a reader relies on
    import numpy as np

    from connttra_neuro.datasets import FASHION_MNIST_DIR

    if not (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"Fashion-MNIST not installed in {FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)")
    first = _python_blocks("docs/datasets.md")[0]
    assert 'load_dataset("fashion-mnist"' in first
    namespace: dict = {}
    exec(compile(first, "<docs/datasets.md example>", "exec"), namespace)
    data = namespace["data"]
    assert data.X_train.shape == (5000, 784) and data.X_train.dtype == np.float32
    assert data.X_train.min() == 0 and data.X_train.max() == 255  # raw pixels 0..255
    assert data.y_train.dtype == np.int64 and set(data.y_train.tolist()) == set(range(10))
    assert (data.n_features, data.n_classes) == (784, 10)
    assert data.seeded_split is False
    assert capsys.readouterr().out == data.description + "\n"


def test_the_training_page_s_first_example_runs_and_its_comments_hold():
    import numpy as np

    from connttra_neuro import TernaryNetwork
    from hardware_targets.reference import forward

    first = _python_blocks("docs/training.md")[0]
    namespace: dict = {}
    exec(compile(first, "<docs/training.md example>", "exec"), namespace)
    est, X_val = namespace["est"], namespace["X_val"]
    assert isinstance(est.network_, TernaryNetwork)
    # "a record per sweep (sweep 0: the initial network): sweep, loss, train_error, val_error, changed, seconds"
    assert [h["sweep"] for h in est.history_] == list(range(len(est.history_)))
    assert set(est.history_[0]) == {"sweep", "loss", "train_error", "val_error", "changed", "seconds"}
    network = est.network_
    scores = forward(network, network.encode(X_val))[0]
    assert (est.predict(X_val) == est.classes_[np.argmax(scores, axis=1)]).all()


def _parameter_rows():
    text = (ROOT / "docs" / "training.md").read_text()
    table = text[text.index("| parameter | default | `train` flag | meaning |"):].split("\n\n")[0]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in table.splitlines()[2:]]


def test_the_parameters_table_gives_the_estimator_s_defaults_and_the_train_flags():
    import ast

    from connttra_neuro.cli import _build
    from connttra_neuro.train import CoNNTrA

    defaults = CoNNTrA().get_params()
    rows = _parameter_rows()
    assert sorted(row[0].strip("`") for row in rows) == sorted(defaults)  # every parameter, once
    train_flags = {flag for action in _build()[1]["train"]._actions for flag in action.option_strings}
    for name, default, flag, _ in rows:
        shown = ast.literal_eval(re.match(r"`([^`]*)`", default).group(1))
        assert shown == defaults[name.strip("`")], f"docs/training.md gives {name} the default {shown!r}"
        if flag != "Python only":
            assert re.match(r"`(--[a-z-]+)`", flag).group(1) in train_flags, f"{name}: no train flag {flag}"


def _doc_text() -> str:
    return "\n".join(doc.read_text() for doc in DOCS)


def test_every_python_name_the_docs_mention_exists():
    import importlib

    names = sorted(set(re.findall(r"\b(?:connttra_neuro|hardware_targets)(?:\.[A-Za-z_]\w*)+", _doc_text())))
    assert len(names) >= 10
    for name in names:
        parts, obj = name.split("."), None
        for cut in range(len(parts), 0, -1):  # the longest importable module, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
                break
            except ModuleNotFoundError:
                continue
        assert obj is not None, f"the docs mention {name}, and no part of it imports"
        for attr in parts[cut:]:
            assert hasattr(obj, attr), f"the docs mention {name}, which does not exist"
            obj = getattr(obj, attr)


def test_every_file_and_test_the_docs_mention_exists():
    text = _doc_text()
    files = set(re.findall(r"\b(?:connttra_neuro|hardware_targets|tests|bench|examples)/[\w/.]+\.py", text))
    assert len(files) >= 10
    for path in sorted(files):
        assert (ROOT / path).is_file(), f"the docs mention {path}, which does not exist"
    for path, test in sorted(set(re.findall(r"\b(tests/\w+\.py)::(\w+)", text))):
        assert re.search(rf"^def {test}\(", (ROOT / path).read_text(), re.M), f"the docs cite {path}::{test}"


def test_python_m_runs_the_command_line():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "connttra_neuro", "--version"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("connttra-neuro "), done.stderr


def test_the_writing_a_target_example_is_exact_and_plugs_into_the_command_line(tmp_path, monkeypatch, capsys):
    from connttra_neuro import save
    from hardware_targets import registry

    (example,) = _python_blocks("docs/targets/writing.md")
    monkeypatch.setattr(registry, "_TARGETS", dict(registry._TARGETS))  # the example registers a name
    namespace: dict = {}
    exec(compile(example, "<docs/targets/writing.md example>", "exec"), namespace)
    assert capsys.readouterr().out == "exact\n"
    assert "numpy-accel" in registry.target_names()
    module = example.split("\n\ndata = ")[0] + "\n"  # the class, as my_accel.py
    (tmp_path / "my_accel.py").write_text(module)
    # the page's claim about a wrong comparison: '>' for '>=' reads as thresholds set higher
    (tmp_path / "wrong_accel.py").write_text(module.replace(">= layer.thresholds", "> layer.thresholds"))
    model = namespace["model"]
    save(model.network_, tmp_path / "digits.ctn")
    monkeypatch.chdir(tmp_path)  # module:Class is imported from the current folder
    assert main(["verify", "digits.ctn", "--data", "digits", "--targets", "reference,my_accel:NumpyAccel",
                 "--no-plots", "--out", "r"]) == 0
    assert "my_accel:NumpyAccel  exact" in capsys.readouterr().out
    assert main(["verify", "digits.ctn", "--data", "digits", "--targets", "wrong_accel:NumpyAccel",
                 "--no-plots", "--out", "r2"]) == 1
    assert "as if their thresholds were higher" in capsys.readouterr().out
    assert main(["deploy", "digits.ctn", "--target", "my_accel:NumpyAccel", "--data", "digits", "--n", "50"]) == 0
    # "Target options belong to the built-in targets ... and are refused with a target of yours"
    for option in (["--codegen", "cython"], ["--noise", "seed=1"], ["--max-chips", "2"], ["--weight-bits", "4"]):
        assert main(["deploy", "digits.ctn", "--target", "my_accel:NumpyAccel", "--data", "digits", *option]) == 2
        assert f"{option[0]} applies only to target" in capsys.readouterr().err
    assert main(["evaluate", "digits.ctn", "--target", "my_accel:NumpyAccel", "--data", "digits"]) == 0


PUBLIC_MODULES = ("connttra_neuro", "connttra_neuro.datasets", "connttra_neuro.train", "connttra_neuro.verify",
                  "hardware_targets", "hardware_targets.loihi2", "hardware_targets.brian2_edge",
                  "hardware_targets.reference")


def test_every_public_class_and_function_has_its_own_docstring():
    # help() on a class without one shows its base's (UnknownTargetError read "Mapping key not found.")
    import importlib
    import inspect

    missing = []
    for module in PUBLIC_MODULES:
        mod = importlib.import_module(module)
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if inspect.isclass(obj):
                if not obj.__dict__.get("__doc__"):
                    missing.append(f"{module}.{name}")
                for attr, member in vars(obj).items():
                    inherited = any(getattr(getattr(base, attr, None), "__doc__", None) for base in obj.__mro__[1:])
                    if not attr.startswith("_") and inspect.isfunction(member) and not member.__doc__ and not inherited:
                        missing.append(f"{module}.{name}.{attr}")
            elif inspect.isfunction(obj) and not obj.__doc__:
                missing.append(f"{module}.{name}")
    assert not missing, f"no docstring: {missing}"


def test_the_demo_s_help_gives_the_run_time_the_user_guide_gives(capsys):
    # the demo's help said "about 20 s" while the user guide says 20-35 s on 2 cores
    guide = (ROOT / "docs" / "user-guide.md").read_text()
    said = re.search(r"in (\d+-\d+ s) on 2 cores", guide)
    assert said, "the user guide no longer gives the demo's run time as 'in N-M s on 2 cores'"
    with contextlib.suppress(SystemExit):
        main(["--help"])
    listing = " ".join(capsys.readouterr().out.split())
    assert f"write a report ({said.group(1)})" in listing, listing[listing.find("demo"):][:300]
