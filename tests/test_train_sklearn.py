"""CoNNTrA as a scikit-learn estimator: pickling, refits that fail, binary scores, feature names, inputs."""

from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_val_score

import connttra_neuro
from connttra_neuro.train import CoNNTrA, ConvergenceWarning


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def _fit(X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return CoNNTrA(**{"hidden": (8,), "max_sweeps": 3, "random_state": 0, **kw}).fit(X, y)


@pytest.fixture(scope="module")
def fitted(iris):
    return _fit(*iris)


def test_a_refit_that_fails_leaves_the_fitted_estimator_as_it_was(iris):
    X, y = iris
    est = _fit(X, y)
    before, classes = est.predict(X), est.classes_
    with pytest.raises(ValueError, match="need at least 2"):
        est.fit(X, np.zeros_like(y))  # one class: predict then indexed classes_ [0] with 1 and 2
    with pytest.raises(ValueError, match=r"validation labels \['z'\] never occur"):
        est.fit(X, np.array(list("abc"))[y], validation=(X, np.full(len(y), "z")))  # relabelled the old model
    np.testing.assert_array_equal(est.predict(X), before)
    assert est.classes_ is classes


def test_a_fitted_estimator_pickles_and_copies_without_its_training_state(iris, fitted):
    X, _ = iris
    for twin in (pickle.loads(pickle.dumps(fitted)), copy.deepcopy(fitted)):  # the numba state did not pickle
        np.testing.assert_array_equal(twin.predict(X), fitted.predict(X))
        assert twin.network_ == fitted.network_ and twin.last_network() == fitted.last_network()
        assert not twin.network_.hidden[0].weights.flags.writeable  # rebuilt through the checks, read-only
    assert not any(callable(v) for v in vars(fitted).values())  # no closure over the caches of the fit
    X, y = iris

    def stop(est, record, network):
        raise KeyboardInterrupt  # a notebook's stop button, after sweep 1

    stopped = CoNNTrA(hidden=(8,), max_sweeps=5, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        stopped.fit(X, y, callback=stop)
    twin = pickle.loads(pickle.dumps(stopped))  # the interrupted fit's network is built, not its state pickled
    assert twin.last_network() == stopped.last_network() and twin.n_sweeps_ == 1


def test_binary_decision_function_is_one_score_per_sample(iris):
    X, y = iris
    keep = y > 0
    Xb, yb = X[keep], np.where(y[keep] == 2, "virginica", "versicolor")
    est = _fit(Xb, yb)
    d = est.decision_function(Xb)
    assert d.shape == (len(yb),)
    np.testing.assert_array_equal(est.predict(Xb), est.classes_[(d > 0).astype(int)])  # a tie (0): classes_[0]
    auc = cross_val_score(CoNNTrA(hidden=(8,), max_sweeps=2, random_state=0), Xb, yb, cv=3, scoring="roc_auc",
                          error_score="raise")
    assert np.all((auc > 0.5) & (auc <= 1))  # nan with (n, 2) scores
    assert _fit(X, y).decision_function(X).shape == (len(y), 3)


def test_not_fitted_is_scikit_learn_s_error(iris):
    X, _ = iris
    for call in (lambda e: e.predict(X), lambda e: e.decision_function(X), lambda e: e.last_network()):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call(CoNNTrA())


def test_feature_names_of_a_frame_are_kept_and_checked(iris, fitted):
    pd = pytest.importorskip("pandas")
    X, y = iris
    names = ["sepal length", "sepal width", "petal length", "petal width"]
    frame = pd.DataFrame(X, columns=names)
    est = _fit(frame, y)
    assert est.n_features_in_ == 4 and list(est.feature_names_in_) == names
    np.testing.assert_array_equal(est.predict(frame), fitted.predict(X))  # same numbers, same network
    np.testing.assert_array_equal(est.predict(X), fitted.predict(X))  # a plain array: read in the fitted order
    with pytest.raises(ValueError, match="columns are not the ones fit saw.*'petal width' \\(fit: 'sepal length'\\)"):
        est.predict(frame[names[::-1]])  # accepted silently before: 33% against 78% accuracy
    assert not hasattr(_fit(X, y), "feature_names_in_")
    with pytest.raises(ValueError, match="validation data's columns are not the training data's, in the same order"):
        _fit(frame, y).fit(frame, y, validation=(frame[names[::-1]], y))  # keep_best chose by a wrong error


def test_mixed_frames_label_columns_and_sparse_input(iris, fitted):
    pd = pytest.importorskip("pandas")
    sparse = pytest.importorskip("scipy.sparse")
    X, y = iris
    frame = pd.DataFrame(X, columns=list("abcd")).assign(big=X[:, 2] > 4)  # float and bool columns: objects
    est = _fit(frame, y[:, None])  # a one-column label array, as df[["label"]] gives
    assert est.n_features_in_ == 5 and est.predict(frame).shape == (150,)
    assert est.score(frame, y[:, None]) == est.score(frame, y)  # score too (cross_val_score's default scoring)
    np.testing.assert_array_equal(_fit(X.astype(object), y).predict(X), fitted.predict(X))
    with pytest.raises(ValueError, match=r"sparse csr_matrix of shape \(150, 4\).*X.toarray\(\)"):
        fitted.predict(sparse.csr_matrix(X))


def test_numeric_labels_in_an_object_array_are_recorded_as_numbers(iris):
    # y from a mixed frame's .values (dtype object) holding 5 / 7 / 9: the model recorded the classes as text
    # ['5', '7', '9'], so the loaded model predicted strings where the same labels as int64 gave ints
    X, y = iris
    labels = np.array([5, 7, 9])[y]
    for given, recorded in ((labels.astype(object), [5, 7, 9]), ((labels + 0.0).astype(object), [5, 7, 9]),
                            (np.array([5.5, 7.0, 9.0], dtype=object)[y], ["5.5", "7.0", "9.0"])):
        est = _fit(X, given, hidden=(4,), max_sweeps=2)
        assert list(est.network_.metadata["classes"]) == recorded
        predicted = connttra_neuro.predict(est.network_, X)
        assert predicted.dtype.kind == ("i" if isinstance(recorded[0], int) else "U")
        assert (predicted == np.asarray(est.predict(X)).astype(predicted.dtype)).all()


def test_integer_features_beyond_float64_s_precision_train_what_is_deployed():
    # float64 rounds integers above 2**53 (2**53 + 1 -> 2**53); the encoder compares integers exactly, so the
    # estimator must train and predict on the same integers the deployed network reads
    rng = np.random.default_rng(0)
    offset = rng.integers(0, 8, size=(400, 1))
    X, y = (2**53 + offset).astype(np.int64), (offset[:, 0] % 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # levels that never fire: float64 cuts merge neighbours
        est = _fit(X, y, hidden=(4,), levels=7)
    np.testing.assert_array_equal(est.predict(X), connttra_neuro.predict(est.network_, X))
    deployed = np.mean(connttra_neuro.predict(est.last_network(), X) != y)
    assert est.history_[-1]["train_error"] == deployed  # what training saw is what the network does


def test_repr_shows_the_parameters_set_as_scikit_learn_s_estimators_do():
    # a notebook cell, a Pipeline or a GridSearchCV showed <connttra_neuro.train.estimator.CoNNTrA object at 0x...>
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    assert repr(CoNNTrA()) == "CoNNTrA()"
    assert repr(CoNNTrA(hidden=(8,), levels=2, loss="xent")) == "CoNNTrA(hidden=(8,), levels=2, loss='xent')"
    assert repr(CoNNTrA(hidden=np.array([8]), max_sweeps=30)) == "CoNNTrA(hidden=array([8]))"
    assert "('conntra', CoNNTrA(max_sweeps=3))" in repr(make_pipeline(StandardScaler(), CoNNTrA(max_sweeps=3)))


def test_score_takes_sample_weight_as_scikit_learn_s_classifiers_do(iris, fitted):
    from sklearn.metrics import accuracy_score

    X, y = iris
    w = np.arange(len(y)) % 3  # est.score(X, y, sample_weight=w) was a TypeError
    assert fitted.score(X, y, sample_weight=w) == pytest.approx(accuracy_score(y, fitted.predict(X), sample_weight=w))
    assert fitted.score(X, y, sample_weight=None) == fitted.score(X, y)
    for bad in (w[:10], -w, np.zeros(len(y))):
        with pytest.raises(ValueError, match=r"score needs sample_weight of shape \(150,\)"):
            fitted.score(X, y, sample_weight=bad)


def test_predict_says_what_is_wrong_with_x_in_predict_s_words(iris):
    # another feature count got the encoder's "encoder: expected samples of shape (n, 4), got (150, 3)", and a
    # 1-D X "X: X must be 2-D ..."; connttra_neuro.predict says both plainly
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = CoNNTrA(hidden=(4,), max_sweeps=1, random_state=0).fit(X, y)
    for call in (est.predict, est.decision_function, lambda X: est.score(X, y)):
        with pytest.raises(ValueError, match=r"^X has 3 features per sample but the model takes 4; give the features"):
            call(X[:, :3])
        with pytest.raises(ValueError, match=r"^X must be 2-D \(n_samples, n_features\), got shape \(4,\): one sample"):
            call(X[0])
    assert est.predict(X[:5].tolist()).tolist() == est.predict(X[:5]).tolist()  # lists still taken
