"""The CoNNTrA estimator: monotone loss, determinism, resume, the IR it produces, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

from connttra_neuro import modelfile
from connttra_neuro.network import thaw_metadata
from connttra_neuro.train import CoNNTrA, ConvergenceWarning
from connttra_neuro.train.estimator import best_sweep
from hardware_targets.reference import forward


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(y))
    return X[idx[:300]], y[idx[:300]], X[idx[300:450]], y[idx[300:450]]


def _fit(data, **kw):
    X, y, Xv, yv = data
    settings = dict(hidden=(16,), levels=2, max_sweeps=4, random_state=3, tol=0.0)
    settings.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return CoNNTrA(**settings).fit(X, y, validation=(Xv, yv), dataset="digits-test")


@pytest.fixture(scope="module")
def fitted(data):
    return _fit(data)


def test_loss_never_rises_and_learns_in_exact_mode(data):
    exact = _fit(data, jitter=0.0)
    losses = [r["loss"] for r in exact.history_]
    assert all(b <= a for a, b in zip(losses, losses[1:], strict=False))
    assert losses[-1] < losses[0]
    assert exact.history_[-1]["train_error"] < 0.5  # 10 classes: chance is 0.9
    assert [r["sweep"] for r in exact.history_] == list(range(len(exact.history_)))


def test_minibatch_screening_keeps_loss_monotone(data):
    est = _fit(data, batch_size=64, max_sweeps=3, jitter=0.0)
    losses = [r["loss"] for r in est.history_]
    assert all(b <= a for a, b in zip(losses, losses[1:], strict=False))


def test_deterministic_for_a_seed(data, fitted):
    again = _fit(data)
    assert again.network_ == fitted.network_
    assert [r["loss"] for r in again.history_] == [r["loss"] for r in fitted.history_]
    other = _fit(data, random_state=4)
    assert other.network_ != fitted.network_


@pytest.mark.timeout(300)
def test_same_network_on_any_number_of_threads(data, tmp_path):
    """A seed gives the same network on a 1-core laptop and a many-core server: the parallel kernels (output
    screening, losses, the layer gradient) sum integers, so their thread count cannot change a move. Fits in
    fresh processes with NUMBA_NUM_THREADS (and BLAS threads) 1 and 3, against this process's (the machine's
    cores); hinge, fixed-point cross-entropy and joint moves, with drive jitter."""
    import os
    import subprocess
    import sys

    cases = {"hinge": {}, "xent": {"loss": "xent"}, "joint": {"joint_moves": True}}
    np.savez(tmp_path / "data.npz", *data)
    script = (
        "import sys, warnings, numpy as np\n"
        "from connttra_neuro import modelfile\n"
        "from connttra_neuro.train import CoNNTrA\n"
        "X, y, Xv, yv = (np.load(sys.argv[1])[f'arr_{i}'] for i in range(4))\n"
        "warnings.simplefilter('ignore')\n"
        f"for name, kw in {cases!r}.items():\n"
        "    est = CoNNTrA(hidden=(16,), levels=2, max_sweeps=4, random_state=3, tol=0.0, **kw)\n"
        "    est.fit(X, y, validation=(Xv, yv), dataset='digits-test')\n"
        "    modelfile.save(est.network_, f'{sys.argv[2]}/{name}.ctn')\n"
    )
    runs = {}
    for threads in (1, 3):  # both at once: each is mostly its imports and kernel loading, on one core
        out = tmp_path / f"t{threads}"
        out.mkdir()
        env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                   OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        runs[threads] = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "data.npz"), str(out)],
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        here = {name: _fit(data, **kw).network_ for name, kw in cases.items()}  # this process's threads
        for threads, run in runs.items():
            _, err = run.communicate(timeout=240)
            assert run.returncode == 0, err[-2000:]
            for name in cases:
                assert modelfile.load(tmp_path / f"t{threads}" / f"{name}.ctn") == here[name], (threads, name)
    finally:  # a failure or timeout leaves no fit running
        for run in runs.values():
            if run.poll() is None:
                run.kill()
                run.communicate()


def test_float32_data_trains_the_same_network(data, fitted):
    # float32 input (the image sets) is used as it is, never copied to float64, and gives the
    # same encoder, moves and network as float64 input of the same values
    X, y, Xv, yv = data
    f32 = _fit((X.astype(np.float32), y, Xv.astype(np.float32), yv))
    assert f32.network_ == fitted.network_
    assert f32.history_[-1]["val_error"] == fitted.history_[-1]["val_error"]


def test_predict_is_reference_forward_argmax(data, fitted):
    X, y, Xv, yv = data
    net = fitted.network_
    scores, _ = forward(net, net.encode(Xv))
    np.testing.assert_array_equal(fitted.decision_function(Xv), scores)
    np.testing.assert_array_equal(fitted.predict(Xv), fitted.classes_[np.argmax(scores, axis=1)])
    assert fitted.score(Xv, yv) == pytest.approx(1 - fitted.history_[best_sweep(fitted.history_)]["val_error"])


def test_model_file_round_trip_scores_equal(tmp_path, data, fitted):
    X, y, Xv, yv = data
    path = modelfile.save(fitted.network_, tmp_path / "m.ctn")
    loaded = modelfile.load(path)
    assert loaded == fitted.network_
    np.testing.assert_array_equal(forward(loaded, loaded.encode(Xv))[0], fitted.decision_function(Xv))
    meta = loaded.metadata
    assert meta["dataset"] == "digits-test" and meta["seed"] == 3
    assert meta["settings"]["hidden"] == (16,) and "val_error" in meta["metrics"]


def test_resume_repeats_uninterrupted_run(data):
    X, y, Xv, yv = data
    full = _fit(data, keep_best=False)
    first = _fit(data, keep_best=False, max_sweeps=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        resumed = CoNNTrA(hidden=(16,), levels=2, max_sweeps=4, random_state=3, tol=0.0, keep_best=False).fit(
            X, y, validation=(Xv, yv), dataset="digits-test", init_network=first.last_network(),
            history=first.history_)
    assert resumed.last_network() == full.last_network()
    assert [r["loss"] for r in resumed.history_] == [r["loss"] for r in full.history_]


def test_resume_with_other_settings_is_refused_and_with_other_budgets_or_from_a_file_goes_on(data, tmp_path):
    # fit(init_network=..., history=...) under another loss or margin trained the sweeps after the resume as
    # another run under the same numbers, and recorded settings the earlier sweeps were not trained with
    from connttra_neuro import load, save

    X, y, Xv, yv = data
    first = _fit(data, keep_best=False, max_sweeps=2)

    def resume(net, **settings):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return CoNNTrA(**{**dict(hidden=(16,), levels=2, max_sweeps=4, random_state=3, tol=0.0, keep_best=False),
                              **settings}).fit(X, y, validation=(Xv, yv), init_network=net, history=first.history_)

    for settings, named in ((dict(loss="xent"), "loss 'hinge' in the run, 'xent' here"),
                            (dict(margin=5), r"margin \d+ in the run, 5 here"),
                            (dict(jitter=0), r"jitter \d+\.\d+ in the run, 0\.0 here"),
                            (dict(random_state=4), "random_state 3 in the run, 4 here")):
        with pytest.raises(ValueError, match=rf"^history continues a run whose settings differ from this "
                                             rf"estimator's: {named}\. A continued run keeps its settings"):
            resume(first.last_network(), **settings)
    # the budgets may change; a model file's record (tuples where the run had lists) is the same run
    full = _fit(data, keep_best=False)
    save(first.last_network(), tmp_path / "last.ctn")
    resumed = resume(load(tmp_path / "last.ctn"), max_seconds=1e6, tol=1e-9).last_network()  # tol: a stopping rule
    assert resumed.replace(metadata=full.last_network().metadata) == full.last_network()


def test_resume_from_keep_best_s_network_instead_of_the_last_is_refused(data):
    # fit(init_network=est.network_, history=est.history_) went on from keep_best's earlier sweep under the
    # next sweep numbers: a run the uninterrupted one never was, without a word
    X, y, Xv, yv = data
    first = _fit(data, max_sweeps=6, random_state=2)
    assert first.network_.metadata["metrics"]["sweep"] == 5  # keep_best's, not the last
    with pytest.raises(ValueError, match=r"init_network is sweep 5 of its run, but the history ends at sweep 6: "
                                         r"resume from the last sweep's network \(last_network\(\)"):
        CoNNTrA(hidden=(16,), levels=2, max_sweeps=8, random_state=2).fit(
            X, y, validation=(Xv, yv), init_network=first.network_, history=first.history_)


def test_resume_with_the_best_network_ends_like_the_uninterrupted_run(data):
    X, y, Xv, yv = data
    full = _fit(data, max_sweeps=8, random_state=2)
    assert best_sweep(full.history_) == 5 == full.network_.metadata["metrics"]["sweep"]  # before the resume point
    first = _fit(data, max_sweeps=6, random_state=2)

    def resume(**kw):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return CoNNTrA(hidden=(16,), levels=2, max_sweeps=8, random_state=2, tol=0.0).fit(
                X, y, validation=(Xv, yv), dataset="digits-test", init_network=first.last_network(),
                history=first.history_, **kw)

    kept = resume(best_network=first.network_)
    assert kept.network_.metadata["metrics"] == full.network_.metadata["metrics"]
    assert kept.network_.replace(metadata=full.network_.metadata) == full.network_  # metadata: max_sweeps differs
    # without it, keep_best only sees the sweeps from the resume on
    assert resume().network_.metadata["metrics"]["sweep"] == best_sweep([first.history_[0], *full.history_[7:]])


def test_best_sweep_is_the_last_of_equally_good_ones():
    h = [{"sweep": 0, "val_error": 0.9, "train_error": 0.9}, {"sweep": 1, "val_error": 0.2, "train_error": 0.3},
         {"sweep": 2, "val_error": 0.2, "train_error": 0.1}, {"sweep": 3, "val_error": 0.3, "train_error": 0.0}]
    assert best_sweep(h) == 2
    assert best_sweep(h[:1]) == 0 and best_sweep([]) is None
    assert best_sweep([{**r, "val_error": None} for r in h]) == 3  # no validation data: training error


def test_budget_end_warns(data):
    X, y, Xv, yv = data
    with pytest.warns(ConvergenceWarning, match="max_sweeps"):
        CoNNTrA(hidden=(8,), max_sweeps=1, tol=0.0).fit(X, y)


def test_the_budget_warning_says_when_more_sweeps_may_help():
    # with drive jitter parameters keep moving after the errors level off: "not converged" warned on
    # every run (the README's example too), so a jittered run warns only while its error still falls
    from connttra_neuro.train.estimator import _budget_warning

    def history(errors, val=True):
        return [{"sweep": i, "val_error": e if val else None, "train_error": e, "changed": 7}
                for i, e in enumerate(errors)]

    levelled = [0.9] + [0.5, 0.3, 0.2] + [0.2, 0.21, 0.2, 0.22, 0.2, 0.21]
    assert _budget_warning(history(levelled), "max_sweeps", jittered=True) is None
    falling = levelled[:-1] + [0.19]
    assert _budget_warning(history(falling), "max_sweeps", jittered=True) == (
        "CoNNTrA stopped by max_sweeps after 9 sweeps with its validation error still falling (its best in the "
        "last 3 sweeps); more sweeps may lower it: raise max_sweeps or max_seconds")
    assert "training error still falling" in _budget_warning(history(falling, val=False), "max_seconds", True)
    # at 0% the error cannot fall further: "more sweeps may lower it" was said of a run at 0.00%
    assert _budget_warning(history(levelled[:-1] + [0.0]), "max_sweeps", jittered=True) is None
    assert _budget_warning(history([0.9, 0.5, 0.4]), "max_sweeps", jittered=True)  # too short to tell: said
    window = [0.9] + [0.5] * 40 + [0.4] + [0.5] * 3  # the window grows with the run: 44 sweeps, last 4
    assert _budget_warning(history(window), "max_sweeps", jittered=True)
    assert _budget_warning(history(window + [0.5]), "max_sweeps", jittered=True) is None
    # a given start (init_network, e.g. a layer-wise stack) is a reading: a short run that never beat it was
    # not "still falling" (train --layerwise --max-sweeps 1 said so of a sweep 1 at 33% over a start at 27%)
    given = history([0.27, 0.33])
    given[0]["given"] = True
    assert _budget_warning(given, "max_sweeps", jittered=True) is None
    given[1]["val_error"] = 0.2
    assert _budget_warning(given, "max_sweeps", jittered=True) == (
        "CoNNTrA stopped by max_sweeps after 1 sweep with its validation error still falling (its best in the "
        "last 1 sweep); more sweeps may lower it: raise max_sweeps or max_seconds")
    # nothing trained: said as such, not as an error "still falling"
    assert _budget_warning(history([0.9]), "max_seconds", True) == \
        "CoNNTrA stopped by max_seconds before its first sweep: nothing was trained"
    # max_sweeps=0 on a given, trained start (layerwise_init's stack): the start is the result, as asked
    start = [{**history([0.3])[0], "given": True}]
    assert _budget_warning(start, "max_sweeps", True) is None
    assert _budget_warning(start, "max_seconds", True) is not None  # a time budget spent before sweep 1
    # a resumed run validated in one part only: training errors throughout, not a mix of both kinds
    mixed = history([0.9] + [0.3] * 20) + [{"sweep": 21 + i, "val_error": None, "train_error": 0.08, "changed": 7}
                                           for i in range(3)]
    for r in mixed[1:21]:
        r["train_error"] = 0.05
    assert _budget_warning(mixed, "max_sweeps", jittered=True) is None  # 0.08 is no better than 0.05
    # exact mode: a sweep that still changed parameters is a run that has not converged
    assert _budget_warning(history(levelled), "max_sweeps", jittered=False) == (
        "CoNNTrA stopped by max_sweeps after 9 sweeps before converging (last sweep changed 7 parameters); "
        "raise max_sweeps or max_seconds")


def test_random_order_is_a_different_valid_run(data, fitted):
    est = _fit(data, coordinate_order="random", jitter=0.0)
    losses = [r["loss"] for r in est.history_]
    assert all(b <= a for a, b in zip(losses, losses[1:], strict=False))
    assert est.network_ != _fit(data, jitter=0.0).network_


def test_jitter_trains_a_noise_free_network_reproducibly(data):
    X, y, _, _ = data
    est = _fit(data, jitter=2.0, keep_best=False)
    again = _fit(data, jitter=2.0, keep_best=False)
    assert again.network_ == est.network_
    # the reported training error is the exported network's own (no noise)
    net = est.network_
    want = float(np.mean(est.classes_[np.argmax(forward(net, net.encode(X))[0], axis=1)] != y))
    assert est.history_[-1]["train_error"] == pytest.approx(want)
    assert est.history_[-1]["train_error"] < 0.5
    assert est.network_ != _fit(data, jitter=0.0, keep_best=False).network_


def test_two_hidden_layers_and_xent(data):
    est = _fit(data, hidden=(12, 8), loss="xent", max_sweeps=2)
    assert est.network_.layer_sizes == (128, 12, 8, 10)
    losses = [r["loss"] for r in est.history_]
    assert losses[-1] < losses[0]


@pytest.mark.parametrize(
    "kw, match",
    [({"hidden": ()}, "hidden"), ({"loss": "mse"}, "unknown loss"), ({"discrete_set": (1, 1)}, "repeated"),
     ({"random_state": -1}, "random_state"), ({"max_sweeps": 1.5}, "max_sweeps"),
     ({"coordinate_order": "sorted"}, "coordinate_order"), ({"surrogate_width": 0}, "surrogate_width"),
     ({"jitter": -1.0}, "jitter"), ({"jitter": float("nan")}, "jitter"), ({"jitter": "2"}, "jitter"),
     ({"batch_size": 0}, "batch_size"), ({"batch_size": -3}, "batch_size"), ({"margin": 0}, "margin"),
     ({"init_density": 2}, "init_density"), ({"init_density": float("nan")}, "init_density"),
     ({"hidden": (2.7,)}, "hidden"), ({"random_state": None}, "random_state"), ({"joint_moves": "yes"}, "joint_moves"),
     ({"joint_moves": 1}, "joint_moves"), ({"max_seconds": 0}, "max_seconds"),
     ({"max_seconds": float("inf")}, "max_seconds"), ({"max_seconds": "5"}, "max_seconds"),
     ({"tol": float("nan")}, "tol"), ({"tol": -1}, "tol"),
     ({"levels": 0}, "levels"), ({"levels": True}, "levels"), ({"levels": 2.5}, "levels"),
     ({"loss": "xent", "temperature": -1.0}, "temperature"),
     # beyond these the int64 loss sums overflowed: negative hinge losses, a hung cross-entropy sweep
     ({"margin": 2**62}, "margin must be a positive integer up to 2,147,483,647"), ({"margin": float("nan")}, "margin"),
     ({"margin": True}, "margin"), ({"loss": "xent", "temperature": 1e-20}, "temperature must be a finite number"),
     ({"temperature": float("inf")}, "temperature"), ({"temperature": "1"}, "temperature"),
     ({"max_sweeps": float("nan")}, "max_sweeps"), ({"max_sweeps": None}, "max_sweeps"),
     ({"surrogate_width": float("nan")}, "surrogate_width"), ({"keep_best": "no"}, "keep_best must be True or False"),
     ({"jitter": 2e6}, "jitter 2000000.0 is beyond the drive range")],
)
def test_bad_settings_raise_clear_errors(data, kw, match):
    X, y, _, _ = data
    with pytest.raises(ValueError, match=match):
        CoNNTrA(**kw).fit(X, y)
    if "beyond the drive range" not in match:  # needs the data; every other setting is checked without
        from connttra_neuro.train.losses import SettingError

        with pytest.raises(SettingError, match=match) as err:
            CoNNTrA(**kw).check_params()
        assert err.value.param in kw  # the parameter named for the CLI, which names its flag from it


def test_bad_data_raises_clear_errors(data):
    X, y, _, _ = data
    with pytest.raises(ValueError, match="2-D"):
        CoNNTrA().fit(X[0], y)
    with pytest.raises(ValueError, match=r"X has no samples \(shape \(0, 64\)\)"):
        CoNNTrA().fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="X has no features"):
        CoNNTrA().fit(X[:, :0], y)
    with pytest.raises(ValueError, match="labels"):
        CoNNTrA().fit(X, y[:-1])
    with pytest.raises(ValueError, match="features"):
        CoNNTrA().fit(X, y, validation=(X[:, :3], y))
    with pytest.raises(ValueError, match=r"got \(4, 0\) \(0 is not\)"):
        CoNNTrA(hidden=(4, 0)).fit(X, y)
    for bad in ((X,), X, (X, y, y)):
        with pytest.raises(ValueError, match=r"validation must be a pair \(X_val, y_val\)"):
            CoNNTrA().fit(X, y, validation=bad)
    with pytest.raises(ValueError, match="not fitted"):
        CoNNTrA().predict(X)
    with pytest.raises(ValueError, match="X must be real numbers"):
        CoNNTrA().fit(X + 1j, y)
    mixed = np.array([1, "a"] * (len(y) // 2) + [1] * (len(y) % 2), dtype=object)
    with pytest.raises(ValueError, match="labels must be of one kind.*int, str"):
        CoNNTrA().fit(X, mixed)
    # a list mixing them: numpy would make 1 the class '1' (predict then returns strings)
    with pytest.raises(ValueError, match="training data: labels mix strings and int \\(1\\)"):
        CoNNTrA().fit(X, mixed.tolist())
    # labels that do not sort: numpy's bare "'<' not supported" before
    for odd, kind in (([None] * len(y), "NoneType"), ([object() for _ in y], "object")):
        with pytest.raises(ValueError, match=f"training data: labels must be numbers or strings .*got {kind}"):
            CoNNTrA().fit(X, odd)


def test_every_constructor_parameter_is_recorded_in_the_model(fitted):
    import inspect

    names = [n for n in inspect.signature(CoNNTrA.__init__).parameters if n != "self"]
    assert list(fitted.get_params()) == names
    settings = fitted.network_.metadata["settings"]
    assert set(names) <= set(settings)
    assert settings["random_state"] == fitted.random_state and settings["loss"] == fitted.loss


def test_scikit_learn_protocol(data):
    # clone, set_params, GridSearchCV, and stratified folds in cross_val_score (it is a classifier)
    from sklearn.base import clone, is_classifier
    from sklearn.model_selection import GridSearchCV

    X, y, _, _ = data
    est = CoNNTrA(hidden=(8,), max_sweeps=2)
    assert is_classifier(est)
    assert clone(est).get_params() == est.get_params()
    assert est.set_params(levels=2, jitter=0.0) is est and (est.levels, est.jitter) == (2, 0.0)
    with pytest.raises(ValueError, match="no parameter 'level'"):
        est.set_params(level=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(est, {"levels": [1, 2]}, cv=2).fit(X, y)
    assert search.best_params_["levels"] in (1, 2) and 0 < search.best_score_ <= 1


def test_score_checks_its_labels(data, fitted):
    X, y, Xv, yv = data
    assert fitted.score(Xv, yv) == pytest.approx(1 - fitted.history_[best_sweep(fitted.history_)]["val_error"])
    assert fitted.score(Xv, yv[:, None]) == fitted.score(Xv, yv)  # a label column, as fit takes it
    for bad in (np.stack([yv, yv], axis=1), yv[:1]):
        with pytest.raises(ValueError, match="one label per sample"):
            fitted.score(Xv, bad)


def test_nan_labels_and_boolean_features(data):
    X, y, _, _ = data
    with pytest.raises(ValueError, match="NaN"):
        CoNNTrA(hidden=(4,), max_sweeps=1).fit(X, np.where(np.arange(len(y)) == 3, np.nan, y))
    with pytest.raises(ValueError, match=r"labels must be real numbers or strings, got complex values such as "
                                         r"\[0j, 0j\]"):  # trained before, its classes recorded as text
        CoNNTrA(hidden=(4,), max_sweeps=1).fit(X, (y % 2) * 1j)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = CoNNTrA(hidden=(4,), max_sweeps=1).fit(X > 8, y)
        as_float = CoNNTrA(hidden=(4,), max_sweeps=1).fit((X > 8).astype(float), y)
    assert est.network_ == as_float.network_  # booleans are the numbers 0 and 1
    np.testing.assert_array_equal(est.predict(X > 8), as_float.predict((X > 8).astype(float)))


def test_a_scaled_weight_set_trains_like_the_set_it_scales():
    # (-100, 0, 100) is the ternary set scaled: with the ternary defaults (a margin of 2 against weight
    # steps of 100) the output layer stayed at zero and digits sat at 90% error; the defaults now scale
    X, y = load_digits(return_X_y=True)
    errors, settings = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for unit in (1, 100):
            est = CoNNTrA(hidden=(16,), discrete_set=(-unit, 0, unit), max_sweeps=8, random_state=0)
            est.fit(X[:1200], y[:1200])
            errors[unit] = 1 - est.score(X[1200:], y[1200:])
            settings[unit] = est.network_.metadata["settings"]
    assert errors[100] < errors[1] + 0.05 and errors[100] < 0.3
    for key in ("margin", "jitter", "surrogate_width"):
        assert settings[100][key] == 100 * settings[1][key]
    assert settings[100]["inv_temperature"] == pytest.approx(settings[1]["inv_temperature"] / 100)


def test_constant_features_are_warned_about():
    # e.g. drawings in an image's alpha channel, which the loader drops: every pixel 0, chance error
    X, y = np.zeros((20, 6)), (np.arange(20) < 10).astype(int)
    with pytest.warns(UserWarning, match="every one of the 6 features is constant"):
        CoNNTrA(hidden=(4,), max_sweeps=1).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one varying feature is enough to learn from: no warning
        warnings.simplefilter("ignore", ConvergenceWarning)
        X[:10, 3] = 1
        assert CoNNTrA(hidden=(4,), max_sweeps=5).fit(X, y).score(X, y) == 1


def test_pandas_nullable_columns_are_numbers(data):
    # numpy turns a frame of pandas' nullable dtypes (read_csv(dtype_backend="numpy_nullable"))
    # into objects, which were refused as not numbers; a missing value is named as NaN
    pd = pytest.importorskip("pandas")
    from connttra_neuro.verify import verify

    X, y, Xv, yv = data
    frame = pd.DataFrame(X).astype("Int64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = CoNNTrA(hidden=(4,), max_sweeps=1).fit(frame, y)
        plain = CoNNTrA(hidden=(4,), max_sweeps=1).fit(X, y)
    assert est.network_ == plain.network_
    val = pd.DataFrame(Xv).astype("Float64")
    np.testing.assert_array_equal(est.predict(val), plain.predict(Xv))
    assert verify(est.network_, "reference", val, yv).all_exact
    val.iloc[2, 5] = pd.NA
    with pytest.raises(ValueError, match="NaN"):
        est.predict(val)
    with pytest.raises(ValueError, match="NaN"):
        CoNNTrA(hidden=(4,), max_sweeps=1).fit(val, yv)
    with pytest.raises(ValueError, match="real numbers, got dtype object"):  # text stays refused
        CoNNTrA(hidden=(4,), max_sweeps=1).fit(pd.DataFrame(X).astype(str), y)
    # a Series (one row of a frame) is 1-D: refused by the encoder as by predict, with the reshape to use
    row = pd.DataFrame(Xv).iloc[0]
    np.testing.assert_array_equal(est.network_.encode(row.to_numpy()[None]), est.network_.encode(Xv[:1]))
    for call in (est.network_.encode, est.predict):
        with pytest.raises(ValueError, match=r"must be 2-D .*one sample is X.reshape\(1, -1\)"):
            call(row)


@pytest.mark.parametrize("threshold", [5, 100_000, -7, -100_000])
def test_init_thresholds_outside_the_drive_range_are_clamped_not_read_out_of_bounds(threshold):
    # the kernels' threshold histogram spans [-bound, bound + 1] (bound = fan-in * max|w| = 1 here);
    # an init_network threshold beyond it was read out of bounds (wrong moves, or a crash). Clamped
    # to the edge, it gives the same spikes, so the fit equals the naive twin's
    from connttra_neuro.network import HiddenLayer, OutputLayer, TernaryNetwork, ThermometerEncoder
    from connttra_neuro.train.losses import resolve_loss
    from tests import naive

    X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    enc = ThermometerEncoder.fit(X, 1)
    net = TernaryNetwork(enc, (HiddenLayer(np.array([[1]]), np.array([threshold])),),
                         OutputLayer(np.array([[-1], [1]]), np.array([0, 0])), (-1, 0, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = CoNNTrA(hidden=(1,), margin=1, jitter=0, coordinate_order="random", max_sweeps=1, keep_best=False,
                      random_state=0).fit(X, y, init_network=net)
    clamped = min(max(threshold, -1), 2)
    twin = naive.NaiveNet(net.replace(hidden=(HiddenLayer(np.array([[1]]), np.array([clamped])),)))
    spikes, params = enc.encode(X), resolve_loss("hinge", 1, None, 1)
    naive.output_sweep(twin, spikes, y, params, [-1, 0, 1], np.array([0]), np.arange(4), 1)
    naive.hidden_sweep(twin, 0, spikes, y, params, [-1, 0, 1], [0], [0], np.arange(4), 0)
    last = est.last_network()
    assert int(last.hidden[0].thresholds[0]) == int(twin.T[0][0])
    assert est.history_[-1]["loss"] == twin.losses(spikes, y, params).sum() / 4
    assert est.history_[-1]["loss"] <= est.history_[0]["loss"]


def test_default_margin_shrinks_only_on_large_training_sets():
    from connttra_neuro.train.losses import default_margin, resolve_loss

    # up to 6,000 samples the margin is 0.15 h (what every small-set result was trained with)
    assert [default_margin(256, n) for n in (None, 100, 1438, 6000)] == [38] * 4
    assert [default_margin(256, n) for n in (15000, 45000, 60000)] == [24, 14, 12]  # 38 * sqrt(6000 / n)
    assert default_margin(1, 10**7) == 1
    assert [default_margin(h) for h in (10, 64, 100)] == [2, 10, 15]  # rounded, not cut: 1.5, 9.6, 15.0
    assert resolve_loss("hinge", 20, None, 256, 60000)[1] == 20  # a given margin wins


def test_fit_uses_and_records_the_margin_for_its_sample_count():
    rng = np.random.default_rng(0)
    X, y = rng.random((24000, 3)), rng.integers(0, 3, 24000)
    X[np.arange(y.size), y] += 0.5
    est = CoNNTrA(hidden=(40,), max_sweeps=1, random_state=0).fit(X, y)
    assert est.network_.metadata["settings"]["margin"] == 3  # 0.15 * 40 = 6, halved at 4 x 6,000 samples
    est = CoNNTrA(hidden=(40,), max_sweeps=1, random_state=0).fit(X[:6000], y[:6000])
    assert est.network_.metadata["settings"]["margin"] == 6


def test_levels_beyond_the_data_s_distinct_values_warn():
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 3, (60, 4)).astype(float), rng.integers(0, 2, 60)  # 3 values: 2 levels at most
    with pytest.warns(UserWarning, match="levels=20: .* input spikes never fire"):
        CoNNTrA(hidden=(4,), levels=20, max_sweeps=1).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)  # a UserWarning too: the budget of 1 sweep
        CoNNTrA(hidden=(4,), levels=2, max_sweeps=1).fit(X, y)


def _fake_clock(monkeypatch):
    """Replace the estimator's clock by one that advances 1 ms per reading: training time that is
    the same on every machine and in every test order (no timed assertions)."""
    from connttra_neuro.train import estimator

    now = [0.0]

    def perf_counter():
        now[0] += 0.001
        return now[0]

    monkeypatch.setattr(estimator.time, "perf_counter", perf_counter)
    return now


def test_the_clock_leaves_out_scoring_exports_and_the_callback(monkeypatch):
    # history_'s seconds are training time, comparable with the baselines' clocks: a slow callback
    # (a checkpoint on a slow disk) must not count
    now = _fake_clock(monkeypatch)
    X, y = load_digits(return_X_y=True)

    def slow_callback(*args):
        now[0] += 1000.0

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = CoNNTrA(hidden=(8,), levels=1, max_sweeps=3, random_state=0).fit(
            X[:200], y[:200], validation=(X[200:300], y[200:300]), callback=slow_callback)
    seconds = [r["seconds"] for r in est.history_]
    assert len(seconds) == 4 and seconds == sorted(seconds)
    assert seconds[-1] < 0.1  # 3,000 s spent in the callbacks, a few clock readings of training


def _ten_second_sweeps(monkeypatch) -> list:
    """The fake clock, with every sweep taking 10 s of it; returns the clock to advance by hand."""
    from connttra_neuro.train import driver

    now = _fake_clock(monkeypatch)
    sweep = driver.TrainState.sweep

    def ten_second_sweep(self, *args, **kwargs):
        now[0] += 10.0
        return sweep(self, *args, **kwargs)

    monkeypatch.setattr(driver.TrainState, "sweep", ten_second_sweep)
    return now


def test_max_seconds_stops_between_sweeps_with_a_warning(monkeypatch):
    _ten_second_sweeps(monkeypatch)
    X, y = load_digits(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match="stopped by max_seconds after 3 sweeps"):
        est = CoNNTrA(hidden=(8,), max_sweeps=30, max_seconds=25, tol=0.0, random_state=0).fit(X[:200], y[:200])
    assert est.n_sweeps_ == 3 and not est.converged_
    assert 30 < est.history_[-1]["seconds"] < 30.1


def test_a_resumed_run_continues_the_training_clock_and_its_budget(monkeypatch):
    # history_'s seconds are cumulative training time: a resumed run goes on from the checkpoint's
    # last reading (not from 0), and max_seconds bounds the whole run, not each invocation
    now = _ten_second_sweeps(monkeypatch)
    X, y = load_digits(return_X_y=True)
    settings = dict(hidden=(8,), max_sweeps=30, tol=0.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = CoNNTrA(max_seconds=25, **settings).fit(X[:200], y[:200])
        assert first.n_sweeps_ == 3 and 30 < first.history_[-1]["seconds"] < 30.1
        now[0] += 1000.0  # between the two invocations: not training
        resumed = CoNNTrA(max_seconds=45, **settings).fit(X[:200], y[:200], init_network=first.last_network(),
                                                           history=first.history_)
    seconds = [r["seconds"] for r in resumed.history_]
    assert seconds[:4] == [r["seconds"] for r in first.history_]
    assert seconds == sorted(seconds)
    assert resumed.n_sweeps_ == 5 and 50 < seconds[-1] < 50.1  # 2 more 10 s sweeps: 45 s in all, not 25 + 45


@pytest.mark.parametrize("h, temperature", [(1, 1.0), (3, 1.0), (4, 1.0), (16, 2.0), (256, 8.0)])
def test_default_temperature_is_half_the_root_of_the_last_width_but_at_least_one(h, temperature):
    from connttra_neuro.train.losses import resolve_loss

    assert resolve_loss("xent", None, None, h)[2] == pytest.approx(1 / temperature)
    assert resolve_loss("xent", None, 0.5, h)[2] == 2.0  # a given temperature wins


def test_resume_with_the_best_network_never_keeps_the_initial_network_s_score(data):
    # keep_best picks among the sweeps (best_sweep: sweep 0 only if none ran), also on resume: an
    # initial network that scored best on validation must not stop later sweeps from replacing
    # best_network
    X, y, Xv, yv = data
    first = _fit(data, max_sweeps=2)
    history = [dict(first.history_[0], val_error=0.0), *first.history_[1:]]  # sweep 0 beats every sweep
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        resumed = CoNNTrA(hidden=(16,), levels=2, max_sweeps=6, random_state=3, tol=0.0).fit(
            X, y, validation=(Xv, yv), init_network=first.last_network(), history=history,
            best_network=first.network_)
    best = best_sweep(resumed.history_)
    assert best > 2  # a sweep after the resume is the best: it must replace best_network
    assert resumed.network_.metadata["metrics"]["sweep"] == best


@pytest.mark.parametrize("settings, digest", [({}, "b774721fbdcebc70"),
                                              ({"coordinate_order": "random"}, "9c96397353283066"),
                                              ({"batch_size": 100}, "766f71a2e33aa6dc"),
                                              ({"joint_moves": True}, "089b58caebcc10c5")])
def test_a_seeded_run_trains_the_same_network_as_before(settings, digest):
    # Pinned fingerprints of seeded runs (integer arithmetic throughout; the same with 1 or 2 numba
    # threads): a change that silently alters what a seed trains (say the initial thresholds' rounding:
    # 250 samples give one neuron a median drive between two integers; or the order of random draws)
    # fails here, although every twin test still agrees with itself.
    # A change meant to alter training updates the digests and says so in its commit.
    import hashlib

    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net = CoNNTrA(hidden=(16,), levels=2, max_sweeps=3, random_state=3, **settings).fit(X[:250], y[:250]).network_
    h = hashlib.sha256(np.ascontiguousarray(net.encoder.thresholds, dtype=np.float64).tobytes())
    for layer in net.layers:
        for name in sorted(vars(layer)):
            h.update(np.ascontiguousarray(getattr(layer, name), dtype=np.int64).tobytes())
    assert h.hexdigest()[:16] == digest


def test_fit_checks_its_resume_arguments_before_any_work(data, tmp_path):
    # before: a 4-8-3 init_network trained under hidden=(16, 16) settings its metadata then claimed, a string
    # came back as network_, and a bad history or callback failed after a sweep had run
    from connttra_neuro.network import random_network

    X, y, _, _ = data
    est = _fit(data, hidden=(8,), max_sweeps=2)
    history, net = est.history_, est.network_
    cases = [
        (dict(init_network=random_network((X.shape[1], 8, 10))), ValueError,  # levels 1, the estimator's 2
         r"init_network is 64-8-10, levels 1, discrete set \[-1, 0, 1\]; the settings say hidden \(8,\), levels 2"),
        (dict(init_network=5), TypeError,
         r"^fit\(init_network=...\) needs a TernaryNetwork .* or a model file's path, got int"),
        (dict(init_network="no-such.ctn"), modelfile.ModelFileError, "no-such.ctn: no such model file"),
        (dict(history=history, best_network=est), TypeError, r"^fit\(best_network=...\) needs a TernaryNetwork"),
        (dict(history=history, best_network=random_network((X.shape[1], 5, 10))), ValueError, "best_network is"),
        (dict(best_network=net), ValueError, "give their history too"),
        (dict(history=5), TypeError, "history must be a list of per-sweep records"),
        (dict(history=[{"a": 1}]), ValueError, "history record 0 has no sweep, loss"),
        (dict(history=history[1:]), ValueError, "history record 0 is sweep 1, not 0"),
        # sweeps 3 on would start from a new random network, under the run's sweep numbers
        (dict(history=history), ValueError, r"history continues a run \(sweeps 0-2\): give that run's last network"),
        (dict(callback=5), TypeError, "callback must be callable, got int"),
    ]
    for kw, kind, match in cases:
        with pytest.raises(kind, match=match):
            CoNNTrA(hidden=(8,), levels=est.levels, max_sweeps=3).fit(X, y, **kw)
    resumed = CoNNTrA(**est.get_params()).set_params(max_sweeps=3).fit(X, y, init_network=est.last_network(),
                                                                       history=history, best_network=net)
    assert len(resumed.history_) == 4  # the arguments of a real resume pass
    # model files' paths in their place, as predict and verify take them: the same run
    modelfile.save(est.last_network(), tmp_path / "last.ctn")
    modelfile.save(net, tmp_path / "best.ctn")
    again = CoNNTrA(**est.get_params()).set_params(max_sweeps=3).fit(
        X, y, init_network=str(tmp_path / "last.ctn"), history=history, best_network=tmp_path / "best.ctn")
    assert again.network_ == resumed.network_ and len(again.history_) == 4


def test_score_refuses_labels_of_another_kind_than_fit_took(fitted, data):
    # str labels against int classes, or NaN, matched nothing: a silent accuracy of 0
    _, _, Xv, yv = data
    assert fitted.score(Xv, yv.astype(float)) == fitted.score(Xv, yv)  # whole floats are the same labels
    for bad in (yv.astype(str), np.full(len(yv), np.nan)):
        with pytest.raises(ValueError, match="score needs labels like the ones fit took"):
            fitted.score(Xv, bad)


def test_continuous_targets_are_warned_about(data):
    # regression targets silently built a network with one output per sample
    X, _, _, _ = data
    y = np.random.default_rng(0).random(len(X))
    with pytest.warns(UserWarning, match=r"y has 300 distinct values among 300 samples; CoNNTrA is a classifier"):
        CoNNTrA(hidden=(4,), max_sweeps=1).fit(X, y)


def test_a_misspelt_name_in_the_train_package_is_named_as_python_names_it():
    # the lazy __getattr__ said only "AttributeError: CoNNTra"
    import connttra_neuro.train as train

    with pytest.raises(AttributeError, match=r"module 'connttra_neuro.train' has no attribute 'CoNNTra'"):
        train.CoNNTra  # noqa: B018
    assert not hasattr(train, "CoNNTra") and callable(train.plot_history)


def _slice_every_neuron(monkeypatch) -> list:
    """Every hidden pass in slices of one neuron, each reported: returns the list of progress calls."""
    from connttra_neuro.train import driver

    monkeypatch.setattr(driver, "PROGRESS_SECONDS", 0.0)
    return []


@pytest.mark.parametrize("kw", [{}, {"hidden": (12, 8), "joint_moves": True, "loss": "xent"}])
def test_a_hidden_pass_in_slices_moves_exactly_as_in_one_call(data, monkeypatch, kw):
    # A pass longer than PROGRESS_SECONDS runs in slices of neurons, for progress and Ctrl-C: one
    # neuron per slice must make the same moves as the whole layer in one kernel call.
    whole = _fit(data, **kw)
    calls = _slice_every_neuron(monkeypatch)
    X, y, Xv, yv = data
    settings = {**dict(hidden=(16,), levels=2, max_sweeps=4, random_state=3, tol=0.0), **kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sliced = CoNNTrA(**settings).fit(X, y, validation=(Xv, yv), dataset="digits-test",
                                         progress=lambda *a: calls.append(a))
    assert sliced.last_network() == whole.last_network() and sliced.network_ == whole.network_
    assert [(r["loss"], r["changed"]) for r in sliced.history_] == [(r["loss"], r["changed"]) for r in whole.history_]
    widths = settings["hidden"]
    # (sweep, layer, neurons done, neurons): after every neuron but a layer's last, last layer first
    assert calls == [(s, layer, k, widths[layer]) for s in range(1, 5) for layer in reversed(range(len(widths)))
                     for k in range(1, widths[layer])]


def test_ctrl_c_inside_a_long_sweep_keeps_the_moves_made_so_far(data, monkeypatch):
    # Ctrl-C lands between slices (a numba kernel does not see it): fit stops, network_ is the last
    # whole sweep's, last_network() the interrupted sweep's network, whose exact loss is no higher.
    from connttra_neuro.train.driver import TrainState, label_array

    _slice_every_neuron(monkeypatch)
    X, y, Xv, yv = data

    def interrupt(sweep, layer, done, neurons):
        if (sweep, done) == (2, 5):
            raise KeyboardInterrupt

    est = CoNNTrA(hidden=(16,), levels=2, max_sweeps=4, random_state=3, jitter=0.0)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y, progress=interrupt)
    assert [r["sweep"] for r in est.history_] == [0, 1]
    kept, now = est.network_, est.last_network()
    assert now != kept

    def loss(net):
        settings = thaw_metadata(kept.metadata)["settings"]
        y_idx = np.searchsorted(est.classes_, label_array(y))
        return TrainState.build(net, net.encode(X), y_idx, 0, settings["margin"], settings["inv_temperature"]).loss

    assert loss(kept) == est.history_[1]["loss"] and loss(now) < loss(kept)


def test_progress_must_be_callable(data):
    X, y, _, _ = data
    with pytest.raises(TypeError, match="progress must be callable, got int"):
        CoNNTrA(hidden=(4,), max_sweeps=1).fit(X, y, progress=3)


def test_loading_the_kernels_is_off_the_clock(monkeypatch):
    # numba compiles the kernels on a machine's first run (about 40 s) and loads them in every new
    # process (about 0.4 s): neither is training, so neither counts in history_'s seconds or max_seconds
    from connttra_neuro.train import estimator

    now = _fake_clock(monkeypatch)
    monkeypatch.setattr(estimator, "warm_up_kernels", lambda: now.__setitem__(0, now[0] + 100.0))
    X, y = load_digits(return_X_y=True)
    est = CoNNTrA(hidden=(8,), max_sweeps=2, max_seconds=50, random_state=0).fit(X[:200], y[:200])
    assert est.n_sweeps_ == 2 and est.history_[-1]["seconds"] < 1


@pytest.mark.timeout(300)
def test_the_warm_up_loads_every_kernel_a_fit_calls():
    # the tiny network of warm_up_kernels must have the argument types of a real fit (hinge and xent,
    # two hidden layers, joint moves, jitter, a mini-batch, validation), or the fit compiles on the clock
    import subprocess
    import sys

    script = (
        "import warnings, numpy as np\n"
        "from numba.core.registry import CPUDispatcher\n"
        "from sklearn.datasets import load_digits\n"
        "from connttra_neuro.train import CoNNTrA, driver, _kernels as K\n"
        "kernels = {n: f for n, f in vars(K).items() if isinstance(f, CPUDispatcher)}\n"
        "driver.warm_up_kernels()\n"
        "loaded = {n: len(f.signatures) for n, f in kernels.items()}\n"
        "X, y = load_digits(return_X_y=True)\n"
        "warnings.simplefilter('ignore')\n"
        "for kw in ({}, {'loss': 'xent', 'hidden': (8, 6)}, {'joint_moves': True, 'batch_size': 50},\n"
        "           {'coordinate_order': 'random', 'jitter': 0}):\n"
        "    est = CoNNTrA(**{'hidden': (8,), 'max_sweeps': 2, **kw})\n"
        "    est.fit(X[:200], y[:200], validation=(X[200:260], y[200:260]))\n"
        "print(sorted(n for n, f in kernels.items() if len(f.signatures) != loaded[n]))\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=280)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "[]"  # no kernel compiled anew during the fits
