"""Plugging a target in: register_target, module:Class specs, option names, and what verify does with
a target that breaks the RunResult contract."""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest

from connttra_neuro.network import random_network
from connttra_neuro.verify import verify
from hardware_targets import RunResult, Target, TargetLimitError, get_target, register_target, registry
from hardware_targets.reference import ReferenceTarget, forward


@pytest.fixture
def clean_registry(monkeypatch):
    monkeypatch.setattr(registry, "_TARGETS", dict(registry._TARGETS))


def _data(net, n=40):
    X = np.random.default_rng(0).random((n, net.n_features))
    return X, np.argmax(forward(net, net.encode(X))[0], axis=1)


class Mine(ReferenceTarget):
    name = "mine"


def test_register_target_makes_a_name_and_refuses_a_clash_or_a_bad_name(clean_registry):
    register_target("mine", Mine)
    assert isinstance(get_target("mine"), Mine) and "mine" in registry.target_names()
    with pytest.raises(ValueError, match="registered already; pass replace=True"):
        register_target("loihi2", Mine)  # a typo must not shadow a built-in target
    register_target("mine", Mine, replace=True)
    for bad in ("", "a,b", "pkg:Cls", "two words"):
        with pytest.raises(ValueError, match="a target name is a non-empty word"):
            register_target(bad, Mine)
    with pytest.raises(TypeError, match="needs a subclass of hardware_targets.Target"):
        register_target("duck", object)


def test_a_module_class_spec_is_imported_from_the_current_folder(tmp_path, monkeypatch):
    (tmp_path / "my_target.py").write_text("from hardware_targets.reference import ReferenceTarget\n"
                                           "class Fast(ReferenceTarget):\n    name = 'fast'\n"
                                           "NotATarget = int\n")
    monkeypatch.chdir(tmp_path)
    assert type(get_target("my_target:Fast")).__name__ == "Fast"
    for spec, message in [("my_target:Slow", "my_target has no Slow"),
                          ("my_target:NotATarget", "NotATarget is not a subclass of hardware_targets.Target"),
                          ("no_such_module:X", "cannot import no_such_module"), (":X", "give module:Class"),
                          ("loihi", "unknown target 'loihi'")]:
        with pytest.raises(registry.UnknownTargetError, match=message):
            get_target(spec)
    net = random_network((5, 6, 3), seed=1)
    assert verify(net, ["my_target:Fast"], *_data(net)).all_exact


def test_a_target_module_that_fails_to_import_is_one_line_that_says_where(tmp_path, monkeypatch, capsys):
    # a syntax error or a module that raises (no device attached) gave a 25-line traceback and exit 1
    from connttra_neuro import save
    from connttra_neuro.cli import main

    (tmp_path / "broken_t.py").write_text("x = 1\nsyntax error(\n")
    (tmp_path / "nodev_t.py").write_text("x = 1\nraise RuntimeError('no device attached')\n")
    monkeypatch.chdir(tmp_path)
    for spec, message in [("broken_t:X", "importing broken_t failed: SyntaxError: .* \\(.*broken_t.py:2; "),
                          ("nodev_t:X", "importing nodev_t failed: RuntimeError: no device attached "
                                        "\\(.*nodev_t.py:2; python -c 'import nodev_t' shows the traceback\\)")]:
        with pytest.raises(registry.UnknownTargetError, match=message):
            get_target(spec)
    net = random_network((5, 6, 3), seed=1)
    save(net, tmp_path / "m.ctn")
    np.save(tmp_path / "x.npy", _data(net)[0])
    assert main(["verify", "m.ctn", "--data", "x.npy", "--targets", "nodev_t:X"]) == 2
    err = capsys.readouterr().err
    assert "importing nodev_t failed: RuntimeError: no device attached" in err and "Traceback" not in err


def test_an_option_a_target_does_not_take_is_named_with_the_ones_it_does():
    with pytest.raises(TypeError, match="target 'loihi2' has no option 'weightbits'; it takes mode, tiles, "):
        get_target("loihi2", weightbits=4)
    net = random_network((5, 6, 3), seed=1)
    with pytest.raises(ValueError, match="target_options for 'loihi', which is not among the targets named"):
        verify(net, ["loihi2"], *_data(net), target_options={"loihi": {"tiles": 2}})


class Tuple(ReferenceTarget):
    name = "tuple"

    def run(self, compiled, spikes, *, record_hidden=False):
        return forward(compiled.network, spikes, record_hidden=record_hidden)  # not a RunResult


class NoSteps(ReferenceTarget):
    name = "no-steps"

    def run(self, compiled, spikes, *, record_hidden=False):
        return RunResult(*forward(compiled.network, spikes, record_hidden=True), steps=None)


class Refuses(ReferenceTarget):
    name = "refuses"

    def check(self, network):
        raise TargetLimitError(self.name, "neurons", "hidden layer 0", 6, 4, "use a smaller network")

    def compile(self, network):  # does not call check itself: verify and deploy do
        return super().compile(network)


class Nameless(Target):
    def compile(self, network):
        return network

    def run(self, compiled, spikes, *, record_hidden=False):
        scores, hidden = forward(compiled, spikes, record_hidden=True)
        return RunResult(scores, hidden, len(scores) + compiled.n_weight_layers)


def test_a_target_that_breaks_the_contract_is_reported_not_run_and_the_others_run():
    net = random_network((5, 6, 3), seed=1)
    X, y = _data(net)
    report = verify(net, [Tuple(), "reference", NoSteps(), Refuses(), Nameless()], X, y)
    status = {t.target: (t.status, t.failure) for t in report.targets}
    assert status["reference"] == ("exact", None)
    assert status["tuple"][0] == "failed" and "run() returned tuple; it must return hardware_targets.RunResult(" \
        in status["tuple"][1]
    assert "RunResult.steps must be the number of time steps run (an int), got None" in status["no-steps"][1]
    assert "TargetLimitError: refuses: hidden layer 0: neurons is 6" in status["refuses"][1]
    assert status["Nameless"] == ("exact", None)  # no name: its class name
    with pytest.raises(TargetLimitError):
        Refuses().deploy(net, net.encode(X))  # deploy checks before it compiles
    with pytest.raises(TypeError, match="got object \\(subclass Target\\)"):
        verify(net, [object()], X, y)


PLUGINS = '''
from hardware_targets import TargetLimitError
from hardware_targets.reference import ReferenceTarget, forward


class Boom(ReferenceTarget):
    name = "boom"

    def __init__(self):
        raise RuntimeError("no device attached")


class CheckBoom(ReferenceTarget):
    name = "check-boom"

    def check(self, network):
        raise RuntimeError("driver crashed")


class Refuse(ReferenceTarget):
    name = "refuse"

    def check(self, network):
        raise TargetLimitError(self.name, "neurons", "hidden layer 0", 99, 4, "use a smaller network")


class Tup(ReferenceTarget):
    name = "tup"

    def run(self, compiled, spikes, *, record_hidden=False):
        return forward(compiled.network, spikes)


class Lazy(ReferenceTarget):
    name = "lazy"

    def compile(self, network):
        import lazy_helper  # a module beside this one, imported when the target is used

        return super().compile(lazy_helper.same(network))
'''


@pytest.fixture
def plugin_folder(tmp_path, monkeypatch):
    import sys

    from connttra_neuro import save

    (tmp_path / "plug.py").write_text(PLUGINS)
    (tmp_path / "lazy_helper.py").write_text("def same(network):\n    return network\n")
    (tmp_path / "needs_dep.py").write_text("import not_installed_anywhere\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the spec import adds the folder; undone after the test
    for module in ("plug", "lazy_helper", "needs_dep"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    save(random_network((64, 8, 10), seed=3), tmp_path / "m.ctn")
    return tmp_path


def test_the_command_line_runs_the_others_when_a_plugin_target_breaks(plugin_folder, capsys):
    from connttra_neuro.cli import main

    code = main(["verify", "m.ctn", "--data", "digits", "--n", "30", "--no-plots", "--out", "r",
                 "--targets", "reference,plug:Boom,plug:CheckBoom,plug:Lazy"])
    out, err = capsys.readouterr()
    assert code == 1 and "FAILED (did not run): plug:Boom, plug:CheckBoom" in out
    # said before the targets run, with the progress (stderr)
    assert "note: plug:Boom cannot be set up (RuntimeError: no device attached)" in err
    assert "note: plug:CheckBoom cannot run this model (driver crashed)" in err
    assert re.search(r"^plug:Lazy +exact ", out, re.M)  # it imported lazy_helper from its folder when it compiled
    # a bad value of a flag is a usage error, not a model the target cannot run
    assert main(["verify", "m.ctn", "--data", "digits", "--targets", "loihi2", "--max-chips", "0"]) == 2
    assert "loihi2: " in capsys.readouterr().err
    with pytest.raises(registry.UnknownTargetError, match="needs_dep imports not_installed_anywhere, which is not "):
        get_target("needs_dep:X")


def test_evaluate_checks_the_target_and_its_result_like_verify(plugin_folder, capsys):
    from connttra_neuro.cli import main

    assert main(["evaluate", "m.ctn", "--data", "digits", "--target", "plug:Refuse"]) == 2
    assert "refuse: hidden layer 0: neurons is 99, the target allows 4" in capsys.readouterr().err
    assert main(["evaluate", "m.ctn", "--data", "digits", "--target", "plug:Tup"]) == 2
    assert "run() returned tuple; it must return hardware_targets.RunResult(" in capsys.readouterr().err
    assert main(["evaluate", "m.ctn", "--data", "digits", "--target", "loihi2", "--max-chips", "2"]) == 0
    for spec, message in [("plug:Boom", "RuntimeError: no device attached"),
                          ("plug:CheckBoom", "RuntimeError: driver crashed")]:  # one line, no traceback
        assert main(["evaluate", "m.ctn", "--data", "digits", "--target", spec]) == 2
        err = capsys.readouterr().err
        assert f"--target {spec}: {message}" in err and "Traceback" not in err


def test_deploy_s_progress_names_a_plugin_target_by_its_spec_as_its_output_does(plugin_folder, capsys):
    # stdout said "target     plug:Lazy: fits" while the progress said "deploy: lazy: exact", the class's name
    # attribute: verify and evaluate name it by the spec the user typed
    from connttra_neuro.cli import main

    assert main(["deploy", "m.ctn", "--target", "plug:Lazy", "--data", "digits", "--n", "30"]) == 0
    out, err = capsys.readouterr()
    assert "target     plug:Lazy: fits" in out
    assert "deploy: plug:Lazy: compiling and running 30 samples ..." in err and "deploy: plug:Lazy: exact" in err


@pytest.mark.parametrize("steps, ok", [(0, True), (7, True), (np.int64(3), True), (None, False), (2.5, False),
                                       (True, False), (np.array([1, 2]), False)])
def test_the_steps_of_a_result_must_be_a_count(steps, ok):
    from connttra_neuro.verify.parity import broken_result

    said = broken_result(RunResult(np.zeros((2, 3), np.int64), None, steps))
    assert (said is None) is ok and (ok or "RunResult.steps must be the number of time steps run" in said)


@pytest.mark.parametrize("given", ["model.ctn", "CoNNTrA"])
def test_a_path_or_an_estimator_for_the_network_is_named_by_every_target(given, tmp_path):
    # a researcher passes the model's path, or the estimator, where the network goes: each said
    # "'str' object has no attribute 'n_inputs'" (or 'named_layers', 'encoder'), deep inside; reference's
    # compile took it and failed only in run. Targets take the network only (the exports take a path too)
    from connttra_neuro.train import CoNNTrA

    wrong = CoNNTrA() if given == "CoNNTrA" else given
    calls = {}
    for name in ("reference", "loihi2", "brian2"):
        target = get_target(name)
        calls[f"{name}: deploy"] = functools.partial(target.deploy, wrong, np.zeros((2, 4), np.uint8))
        for what in ("compile", "resources") + (("check",) if name != "reference" else ()):  # reference's holds all
            calls[f"{name}: {what}"] = functools.partial(getattr(target, what), wrong)
    for who, call in calls.items():
        with pytest.raises(TypeError, match=rf"^{re.escape(who)} needs a TernaryNetwork \(a fitted CoNNTrA's network_, "
                                            rf"or connttra_neuro.load\(path\)\), got {type(wrong).__name__}$"):
            call()
    assert not list(tmp_path.iterdir())


def test_the_exports_and_storage_report_take_a_model_file_s_path_as_predict_does(tmp_path):
    # they refused a path with a TypeError while predict read it; now every user-level call that takes a
    # trained model reads one (modelfile.as_network), and names anything else it is given
    from connttra_neuro import ModelFileError, load, save, storage_report
    from connttra_neuro.train import CoNNTrA
    from hardware_targets.loihi2 import check_netx, export_netx, export_nir

    network = random_network((4, 6, 3), seed=0)
    model = save(network, tmp_path / "m.ctn")
    for given in (model, str(model)):
        assert storage_report(given) == storage_report(network)
        check_netx(given)
        assert load(export_nir(given, tmp_path / "m.nir")) == network  # the graph of the file's network
        assert export_netx(given, tmp_path / "m.net").stat().st_size > 0
    calls = {"export_nir": lambda w: export_nir(w, tmp_path / "x.nir"),
             "export_netx": lambda w: export_netx(w, tmp_path / "x.net"),
             "check_netx": check_netx, "storage_report": storage_report}
    for who, call in calls.items():
        with pytest.raises(TypeError, match=rf"^{who} needs a TernaryNetwork \(a fitted CoNNTrA's network_\) or a "
                                            rf"model file's path, got CoNNTrA$"):
            call(CoNNTrA())
        with pytest.raises(ModelFileError, match="no such model file"):
            call(tmp_path / "missing.ctn")
    assert not (tmp_path / "x.nir").exists() and not (tmp_path / "x.net").exists()
