"""layernet.sklearn: the estimator contract, scikit-learn's own checks, and where users put it."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from scipy.special import expit, softmax
from sklearn.base import clone  # type: ignore[import-untyped]
from sklearn.datasets import load_iris, make_regression  # type: ignore[import-untyped]
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # type: ignore[import-untyped]
from sklearn.model_selection import (  # type: ignore[import-untyped]
    GridSearchCV,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]
from sklearn.utils.estimator_checks import (  # type: ignore[import-untyped]
    parametrize_with_checks,
)

import layernet as ln
from layernet.sklearn import NeuralNetClassifier, NeuralNetRegressor

Array = np.ndarray[Any, Any]
# the fits here are short on purpose; tests about the warning catch it themselves
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def iris() -> tuple[Array, Array]:
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def regression(targets: int = 1) -> tuple[Array, Array]:
    X, y = make_regression(120, 5, n_targets=targets, noise=0.1, random_state=0)
    return X, y / np.std(y)


def small_classifier(**params: Any) -> NeuralNetClassifier:
    settings: dict[str, Any] = {
        "hidden_layer_sizes": (16,),
        "learning_rate_init": 0.01,
        "max_iter": 30,
        "random_state": 0,
    }
    return NeuralNetClassifier(**{**settings, **params})


def small_regressor(**params: Any) -> NeuralNetRegressor:
    settings: dict[str, Any] = {
        "hidden_layer_sizes": (16,),
        "learning_rate_init": 0.01,
        "max_iter": 30,
        "random_state": 0,
    }
    return NeuralNetRegressor(**{**settings, **params})


def weights(estimator: NeuralNetClassifier | NeuralNetRegressor) -> dict[str, Array]:
    return estimator.model_.state_dict()


def assert_same_weights(a: dict[str, Array], b: dict[str, Array]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


# -- scikit-learn's own checks ----------------------------------------------------------


@parametrize_with_checks(  # type: ignore[untyped-decorator]
    [
        NeuralNetClassifier((16,), learning_rate_init=0.01, max_iter=50, random_state=0),
        NeuralNetRegressor((16,), learning_rate_init=0.01, max_iter=50, random_state=0),
    ]
)
def test_scikit_learn_estimator_checks(estimator: Any, check: Callable[[Any], None]) -> None:
    check(estimator)


def test_import_layernet_does_not_import_sklearn() -> None:
    code = "import sys, layernet; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the problem sets the loss and the probabilities -----------------------------------


def test_multiclass_uses_softmax_over_one_logit_per_class() -> None:
    X, y = iris()
    clf = small_classifier(max_iter=60).fit(X, y)
    assert (clf.n_outputs_, clf.out_activation_) == (3, "softmax")
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    logits = ln.predict(clf.model_, X)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba, softmax(logits, axis=1), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-10)
    np.testing.assert_array_equal(clf.predict(X), np.argmax(proba, axis=1))
    assert clf.score(X, y) > 0.9


def test_binary_uses_one_sigmoid_logit_and_keeps_string_labels() -> None:
    X, y = iris()
    labels = np.where(y == 0, "setosa", "other")
    clf = small_classifier().fit(X, labels)
    assert (clf.n_outputs_, clf.out_activation_) == (1, "logistic")
    np.testing.assert_array_equal(clf.classes_, ["other", "setosa"])
    p = expit(ln.predict(clf.model_, X)[:, 0])
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], p, rtol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-9)
    np.testing.assert_array_equal(clf.predict(X), np.where(p > 0.5, "setosa", "other"))
    assert clf.score(X, labels) == 1.0


def test_multilabel_indicator_targets_get_one_sigmoid_per_label() -> None:
    X, y = iris()
    Y = np.column_stack([y == 0, y == 2, X[:, 0] > 0]).astype(int)
    clf = small_classifier(max_iter=80).fit(X, Y)
    assert (clf.n_outputs_, clf.out_activation_) == (3, "logistic")
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba, expit(ln.predict(clf.model_, X)), rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), (proba > 0.5).astype(int))
    assert clf.score(X, Y) > 0.8  # subset accuracy: every label right


def test_a_column_vector_of_labels_warns_and_fits_like_1d() -> None:
    from sklearn.exceptions import DataConversionWarning

    X, y = iris()
    flat = small_classifier(max_iter=5).fit(X, y)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        column = small_classifier(max_iter=5).fit(X, y[:, None])
    assert_same_weights(weights(flat), weights(column))


def test_a_continuous_target_is_refused_by_the_classifier() -> None:
    X, _ = iris()
    with pytest.raises(ValueError, match="Unknown label type"):
        small_classifier().fit(X, X[:, 0])


def test_regressor_predicts_the_shape_of_y() -> None:
    X, y = regression()
    reg = small_regressor(max_iter=100).fit(X, y)
    assert (reg.n_outputs_, reg.out_activation_) == (1, "identity")
    assert reg.predict(X).shape == (120,)
    assert reg.score(X, y) > 0.9
    X2, Y2 = regression(targets=3)
    multi = small_regressor(max_iter=100).fit(X2, Y2)
    assert multi.n_outputs_ == 3
    assert multi.predict(X2).shape == (120, 3)
    np.testing.assert_array_equal(multi.predict(X2), ln.predict(multi.model_, X2))
    column = small_regressor(max_iter=2).fit(X, y[:, None])
    assert column.predict(X).shape == (120, 1)


# -- reproducibility, clone, pickling ---------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: small_classifier(),
        lambda: small_classifier(early_stopping=True, validation_fraction=0.2),
        lambda: small_classifier(activation="tanh", solver="sgd", batch_size=8),
        lambda: small_classifier(solver="lbfgs", max_iter=15),
        lambda: small_regressor(),
        lambda: small_regressor(early_stopping=True),
    ],
    ids=["adam", "early-stopping", "sgd", "lbfgs", "regressor", "regressor-early-stopping"],
)
def test_random_state_gives_bit_identical_fits(make: Callable[[], Any]) -> None:
    X, y = regression() if isinstance(make(), NeuralNetRegressor) else iris()
    a, b = make().fit(X, y), make().fit(X, y)
    assert_same_weights(weights(a), weights(b))
    assert a.loss_curve_ == b.loss_curve_
    assert a.n_iter_ == b.n_iter_
    other = make().set_params(random_state=1).fit(X, y)
    assert not np.array_equal(weights(a)["0.weight"], weights(other)["0.weight"])


def test_refitting_starts_again_and_the_same_data_gives_the_same_model() -> None:
    X, y = iris()
    clf = small_classifier(max_iter=5)
    first = weights(clf.fit(X, y))
    assert clf.n_iter_ == 5
    second = weights(clf.fit(X, y))
    assert clf.n_iter_ == 5
    assert len(clf.loss_curve_) == 5
    assert_same_weights(first, second)


def test_clone_and_set_params_follow_the_contract() -> None:
    clf = small_classifier(solver_options={"momentum": 0.9}, solver="sgd")
    params = clf.get_params()
    assert params["hidden_layer_sizes"] == (16,)
    assert params["solver_options"] == {"momentum": 0.9}
    assert set(params) >= {
        "hidden_layer_sizes",
        "activation",
        "module",
        "solver",
        "learning_rate_init",
        "batch_size",
        "max_iter",
        "early_stopping",
        "validation_fraction",
        "random_state",
        "warm_start",
        "verbose",
    }
    copy = clone(clf.set_params(max_iter=3, activation="tanh"))
    assert copy.get_params() == clf.get_params()
    assert copy.get_params()["solver_options"] is not clf.solver_options
    with pytest.raises(NotFittedError):
        copy.predict(np.zeros((1, 4)))


def test_pickling_keeps_predictions_and_the_optimizer_state() -> None:
    X, y = iris()
    clf = small_classifier(max_iter=5).fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    # training goes on identically: Adam's moments and the shuffling rng came along
    clf.partial_fit(X, y)
    copy.partial_fit(X, y)
    assert_same_weights(weights(copy), weights(clf))


# -- partial_fit, warm_start, n_iter_, loss_curve_ --------------------------------------


def test_partial_fit_is_one_epoch_of_fit() -> None:
    X, y = iris()
    whole = small_classifier(max_iter=3).fit(X, y)
    steps = small_classifier()
    steps.partial_fit(X, y, classes=[0, 1, 2])
    steps.partial_fit(X, y)
    steps.partial_fit(X, y)
    assert steps.n_iter_ == 3
    assert len(steps.loss_curve_) == 3
    assert steps.loss_curve_ == whole.loss_curve_
    assert_same_weights(weights(steps), weights(whole))


def test_partial_fit_needs_classes_first_and_accepts_batches_lacking_a_class() -> None:
    X, y = iris()
    clf = small_classifier()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    first = y < 2
    clf.partial_fit(X[first], y[first], classes=np.array([0, 1, 2]))
    assert clf.predict_proba(X).shape == (150, 3)
    clf.partial_fit(X, y)
    with pytest.raises(ValueError, match=r"not in classes_ \[0, 1, 2\]: \[7\]"):
        clf.partial_fit(X[:3], np.array([0, 1, 7]))
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="X has 2 features"):
        clf.partial_fit(X[:, :2], y)


def test_regressor_partial_fit_continues_training() -> None:
    X, y = regression()
    reg = small_regressor()
    for _ in range(20):
        reg.partial_fit(X, y)
    assert reg.n_iter_ == 20
    assert reg.loss_curve_[-1] < 0.5 * reg.loss_curve_[0]


def test_warm_start_continues_from_the_last_weights() -> None:
    X, y = iris()
    clf = small_classifier(max_iter=10, warm_start=True).fit(X, y)
    after_one = weights(clf)
    clf.fit(X, y)
    assert clf.n_iter_ == 20
    assert len(clf.loss_curve_) == 20
    assert clf.loss_curve_[10] < clf.loss_curve_[0]
    cold = small_classifier(max_iter=10).fit(X, y)
    assert_same_weights(after_one, weights(cold))
    assert not np.array_equal(weights(clf)["0.weight"], weights(cold)["0.weight"])


def test_tol_and_n_iter_no_change_stop_training_like_mlp() -> None:
    X, y = iris()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = small_classifier(max_iter=500, tol=0.05, n_iter_no_change=2).fit(X, y)
    assert clf.n_iter_ < 500
    assert len(clf.loss_curve_) == clf.n_iter_
    assert clf.loss_ == clf.loss_curve_[-1]
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None


def test_running_out_of_max_iter_warns_like_mlp() -> None:
    X, y = iris()
    with pytest.warns(ConvergenceWarning, match="max_iter=3 epochs reached"):
        small_classifier(max_iter=3).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="LBFGS did not converge after 2 iterations"):
        small_classifier(solver="lbfgs", max_iter=2).fit(X, y)


def test_early_stopping_scores_a_held_out_split_and_keeps_the_best_epoch() -> None:
    X, y = iris()
    clf = small_classifier(early_stopping=True, max_iter=200, n_iter_no_change=5).fit(X, y)
    scores = clf.validation_scores_
    assert scores is not None
    assert len(scores) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.n_iter_ < 200
    assert clf.best_validation_score_ == max(scores)
    assert all(0.0 <= s <= 1.0 for s in scores)
    # the weights kept are the best epoch's (EarlyStopping's rule: better by more than tol),
    # i.e. those of a run that ends at that epoch
    best, best_epoch = -np.inf, -1
    for epoch, score in enumerate(scores):
        if score > best + clf.tol:
            best, best_epoch = score, epoch
    assert best_epoch < clf.n_iter_ - 1
    shorter = clone(clf).set_params(max_iter=best_epoch + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        shorter.fit(X, y)
    assert shorter.n_iter_ == best_epoch + 1
    assert_same_weights(weights(clf), weights(shorter))


def test_lbfgs_fits_full_batch() -> None:
    X, y = iris()
    clf = small_classifier(solver="lbfgs", max_iter=200, tol=1e-3).fit(X, y)
    assert isinstance(clf.optimizer_, ln.LBFGS)
    assert clf.optimizer_.gtol == 1e-3
    assert clf.n_iter_ == len(clf.loss_curve_) <= 200
    assert clf.score(X, y) > 0.97


def test_solver_and_solver_options_build_the_optimizer() -> None:
    X, y = iris()
    clf = small_classifier(solver="sgd", solver_options={"momentum": 0.9}, max_iter=2).fit(X, y)
    assert isinstance(clf.optimizer_, ln.SGD)
    assert (clf.optimizer_.lr, clf.optimizer_.momentum) == (0.01, 0.9)
    clf = small_classifier(solver=ln.AdamW, weight_decay=0.01, max_iter=2).fit(X, y)
    assert type(clf.optimizer_) is ln.AdamW
    assert clf.optimizer_.weight_decay == 0.01


# -- module: any architecture -----------------------------------------------------------


def mlp_with_rng(n_in: int, n_out: int, *, rng: np.random.Generator) -> ln.Layer:
    return ln.Sequential(
        [
            ln.Dense(n_in, 32, rng=rng),
            ln.BatchNorm1d(32),
            ln.ReLU(),
            ln.Dropout(0.1, rng=rng),
            ln.Dense(32, n_out, rng=rng),
        ]
    )


def mlp_without_rng(n_in: int, n_out: int) -> ln.Layer:
    return ln.Sequential([ln.Dense(n_in, 8), ln.Tanh(), ln.Dense(8, n_out)])


@pytest.mark.parametrize("module", [mlp_with_rng, mlp_without_rng])
def test_module_builds_any_architecture_reproducibly(module: Callable[..., ln.Layer]) -> None:
    X, y = iris()
    a = small_classifier(module=module, max_iter=80).fit(X, y)
    b = pickle.loads(pickle.dumps(small_classifier(module=module, max_iter=80))).fit(X, y)
    first = a.model_.layers[0] if isinstance(a.model_, ln.Sequential) else None
    assert isinstance(first, ln.Dense)
    assert first.out_features == (32 if module is mlp_with_rng else 8)
    assert_same_weights(weights(a), weights(b))
    assert a.score(X, y) > 0.9


def test_module_errors_name_what_went_wrong() -> None:
    X, y = iris()
    wrong_width = small_classifier(module=lambda n_in, n_out: ln.Dense(n_in, n_out + 1))
    with pytest.raises(ValueError, match=r"outputs of shape \(4,\) per sample; expected \(3,\)"):
        wrong_width.fit(X, y)
    with pytest.raises(TypeError, match="must return a Layer, got list"):
        small_classifier(module=lambda n_in, n_out: [ln.Dense(n_in, n_out)]).fit(X, y)
    with pytest.raises(TypeError, match="module must be None or a callable"):
        small_classifier(module="mlp").fit(X, y)


# -- bad parameters ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"learning_rate_init": -1.0}, ValueError, "learning_rate_init must be positive"),
        ({"activation": "swish"}, ValueError, "activation must be one of"),
        ({"solver": "newton"}, ValueError, "solver must be one of"),
        ({"hidden_layer_sizes": (8, 0)}, ValueError, r"hidden_layer_sizes\[1\] must be a pos"),
        ({"hidden_layer_sizes": "8"}, TypeError, "hidden_layer_sizes must be a tuple"),
        ({"max_iter": 0}, ValueError, "max_iter must be a positive integer"),
        ({"batch_size": "big"}, TypeError, "batch_size must be a positive integer"),
        ({"verbose": 3}, ValueError, "verbose must be 0"),
        ({"solver_options": {"momentum": 0.9}}, TypeError, "cannot build Adam"),
        ({"solver": "lbfgs", "weight_decay": 0.1}, ValueError, "weight_decay applies to"),
        ({"early_stopping": True, "validation_fraction": 1.0}, ValueError, "validation_frac"),
        ({"shuffle": "yes"}, TypeError, "shuffle must be True or False"),
    ],
)
def test_bad_parameters_fail_at_fit_with_a_clear_message(
    params: dict[str, Any], error: type[Exception], message: str
) -> None:
    X, y = iris()
    clf = small_classifier(**params)  # scikit-learn's rule: __init__ only stores
    with pytest.raises(error, match=f"NeuralNetClassifier: .*{message}"):
        clf.fit(X, y)


# -- where users put it ----------------------------------------------------------------


def test_in_a_pipeline_with_standard_scaler() -> None:
    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    pipe = make_pipeline(StandardScaler(), small_classifier(max_iter=100))
    pipe.fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.9
    assert pipe.predict_proba(X_test).shape == (len(X_test), 3)


def test_cross_val_score() -> None:
    X, y = iris()
    scores = cross_val_score(small_classifier(max_iter=60), X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.min() > 0.85
    r2 = cross_val_score(small_regressor(max_iter=60), *regression(), cv=3)
    assert r2.min() > 0.8


def test_grid_search_in_two_processes() -> None:
    X, y = iris()
    grid = {"learning_rate_init": [0.001, 0.01]}
    search = GridSearchCV(small_classifier(max_iter=20), grid, cv=3, n_jobs=2)
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all()
    assert scores.shape == (2,)
    # the larger step learns more in 20 epochs
    assert search.best_params_["learning_rate_init"] == 0.01
    assert search.best_estimator_.n_features_in_ == 4
    serial = GridSearchCV(small_classifier(max_iter=20), grid, cv=3, n_jobs=1).fit(X, y)
    np.testing.assert_allclose(serial.cv_results_["mean_test_score"], scores, atol=0.05)


def test_grid_search_with_joblib_threading_backend() -> None:
    from joblib import parallel_backend  # type: ignore[import-untyped]

    with parallel_backend("threading", n_jobs=2):
        search = GridSearchCV(small_regressor(max_iter=20), {"max_iter": [5, 20]}, cv=2)
        search.fit(*regression())
    assert search.best_params_ == {"max_iter": 20}


def test_dataframe_column_names_are_kept() -> None:
    pd = pytest.importorskip("pandas")
    X, y = iris()
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    clf = small_classifier(max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["sl", "sw", "pl", "pw"])
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame.rename(columns={"sl": "x"}))


def test_grid_search_with_joblib_dask_backend() -> None:
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_backend

    X, y = iris()
    grid = {"learning_rate_init": [0.001, 0.01]}
    client = distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    )
    with client, parallel_backend("dask"):
        search = GridSearchCV(small_classifier(max_iter=20), grid, cv=2).fit(X, y)
    assert search.best_params_ == {"learning_rate_init": 0.01}
    serial = GridSearchCV(small_classifier(max_iter=20), grid, cv=2).fit(X, y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"], atol=0.05
    )


def test_verbose_prints_a_line_per_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    X, y = iris()
    small_classifier(max_iter=3, verbose=2).fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if "loss" in line]
    assert len(lines) == 3
    small_classifier(max_iter=3, verbose=0).fit(X, y)
    assert capsys.readouterr().out == ""
