"""scikit-learn estimators: :class:`NeuralNetClassifier` and :class:`NeuralNetRegressor`.

A layernet network behind scikit-learn's estimator contract, so it goes where
scikit-learn models go: a ``Pipeline`` after a ``StandardScaler``,
``GridSearchCV``, ``cross_val_score``, ``clone``, pickling. Training runs
:func:`layernet.fit` with layernet's losses and optimizers; the parameters
follow scikit-learn's conventions and ``MLPClassifier``'s names where they
overlap::

    from layernet.sklearn import NeuralNetClassifier

    clf = NeuralNetClassifier(hidden_layer_sizes=(64,), max_iter=50, random_state=0)
    clf.fit(X_train, y_train).score(X_test, y_test)

scikit-learn (>= 1.6) is an optional extra (``pip install "layernet[sklearn]"``):
this module is the only one that imports it, and ``import layernet`` does not
import this module.

The problem sets the output layer and the loss, as in ``MLPClassifier``:

| target ``y`` | outputs | loss | ``predict_proba`` |
| --- | --- | --- | --- |
| two classes (binary) | 1 | ``BCEWithLogitsLoss`` | sigmoid |
| one, or three or more classes | one per class | ``CrossEntropyLoss`` | softmax |
| label-indicator matrix (multilabel) | one per label | ``BCEWithLogitsLoss`` | sigmoid per label |
| real numbers, ``(n,)`` or ``(n, k)`` | 1 or k | ``MSELoss`` | (a regressor) |

The network ends in a linear layer (the logits); the sigmoid or softmax is
applied by ``predict_proba``, and the loss works on the logits (exact where a
separate sigmoid would saturate).
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, cast

import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax

try:
    import scipy.sparse as _sparse
    from sklearn.base import (  # type: ignore[import-untyped]
        BaseEstimator,
        ClassifierMixin,
        RegressorMixin,
    )
    from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]
    from sklearn.metrics import accuracy_score, r2_score  # type: ignore[import-untyped]
    from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]
    from sklearn.utils import check_random_state  # type: ignore[import-untyped]
    from sklearn.utils.multiclass import (  # type: ignore[import-untyped]
        check_classification_targets,
        type_of_target,
        unique_labels,
    )
    from sklearn.utils.validation import (  # type: ignore[import-untyped]
        check_is_fitted,
        column_or_1d,
        validate_data,
    )
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        "layernet.sklearn needs scikit-learn >= 1.6; install it with "
        "pip install 'layernet[sklearn]' (or pip install scikit-learn)"
    ) from exc

from ._typing import FloatArray
from ._validation import check_bool, check_positive_int, check_real
from .callbacks import Callback, EarlyStopping, Logs
from .layers.activations import ELU, GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh
from .layers.base import Layer
from .layers.dense import Dense
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss
from .optimizers import LBFGS, SGD, Adagrad, Adam, AdamW, FullBatchOptimizer, Optimizer, RMSprop
from .sequential import Sequential
from .training import fit as _train
from .training import predict as _forward

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor"]

ACTIVATIONS: dict[str, Callable[[], Layer]] = {
    "identity": Identity,
    "logistic": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "gelu": GELU,
    "softplus": Softplus,
}
"""The names ``activation`` takes: MLPClassifier's four (``"logistic"``: sigmoid), and more."""

SOLVERS: dict[str, type[Optimizer]] = {
    "adam": Adam,
    "adamw": AdamW,
    "sgd": SGD,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
    "lbfgs": LBFGS,
}
"""The names ``solver`` takes, and the layernet optimizer each builds."""

ModuleFactory = Callable[..., Layer]
"""``module(n_features_in, n_outputs[, rng=Generator]) -> Layer``."""


class _ValidationScore(Callback):
    """Log the estimator's score on the held-out set as ``"val_score"`` after each epoch."""

    def __init__(self, score: Callable[[FloatArray], float], x: FloatArray) -> None:
        super().__init__()
        self.score, self.x = score, x

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if logs is not None:
            logs["val_score"] = self.score(_forward(self.model, self.x))


class _NeuralNet(BaseEstimator):  # type: ignore[misc]
    """What the classifier and the regressor share: parameters, building, the training call.

    Subclasses say how targets become the loss's arrays (``_encode_targets``),
    which loss trains them (``_loss``) and how the held-out set is scored for
    early stopping (``_validation_score``).
    """

    _stratify: ClassVar[bool] = False
    out_activation_: str
    model_: Layer
    optimizer_: Optimizer

    def __init__(
        self,
        hidden_layer_sizes: int | tuple[int, ...] = (100,),
        activation: str = "relu",
        *,
        module: ModuleFactory | None = None,
        solver: str | type[Optimizer] = "adam",
        solver_options: Mapping[str, Any] | None = None,
        learning_rate_init: float = 0.001,
        weight_decay: float = 0.0,
        batch_size: int | str = "auto",
        max_iter: int = 200,
        shuffle: bool = True,
        tol: float = 1e-4,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        random_state: int | np.random.RandomState | None = None,
        warm_start: bool = False,
        verbose: int = 0,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.module = module
        self.solver = solver
        self.solver_options = solver_options
        self.learning_rate_init = learning_rate_init
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    # -- what subclasses provide ---------------------------------------------------

    def _encode_targets(
        self, y: Any, first: bool, classes: Any, incremental: bool
    ) -> tuple[np.ndarray[Any, Any], int]:
        """Check ``y``; return it in the loss's form and the number of network outputs."""
        raise NotImplementedError

    def _loss(self) -> Loss:
        raise NotImplementedError

    def _validation_score(self, outputs: FloatArray, y: np.ndarray[Any, Any]) -> float:
        raise NotImplementedError

    # -- checking the parameters -----------------------------------------------------

    @property
    def _owner(self) -> str:
        return type(self).__name__

    def _hidden_sizes(self) -> list[int]:
        sizes: Any = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (int(sizes),)
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
            raise TypeError(
                f"{self._owner}: hidden_layer_sizes must be a tuple of positive ints such as "
                f"(100,) or (64, 32), got {sizes!r}"
            )
        return [
            check_positive_int(h, f"hidden_layer_sizes[{i}]", self._owner)
            for i, h in enumerate(sizes)
        ]

    def _activation(self) -> Callable[[], Layer]:
        if not isinstance(self.activation, str) or self.activation not in ACTIVATIONS:
            raise ValueError(
                f"{self._owner}: activation must be one of {sorted(ACTIVATIONS)}, "
                f"got {self.activation!r}"
            )
        return ACTIVATIONS[self.activation]

    def _solver_class(self) -> type[Optimizer]:
        solver = self.solver
        if isinstance(solver, type) and issubclass(solver, Optimizer):
            return solver
        if isinstance(solver, str) and solver in SOLVERS:
            return SOLVERS[solver]
        raise ValueError(
            f"{self._owner}: solver must be one of {sorted(SOLVERS)} or an Optimizer class "
            f"such as layernet.SGD, got {solver!r}"
        )

    def _batch_size(self, n: int) -> int:
        if isinstance(self.batch_size, str) and self.batch_size == "auto":
            return min(200, n)
        return check_positive_int(self.batch_size, "batch_size", self._owner)

    def _verbosity(self) -> int:
        verbose = self.verbose
        if not isinstance(verbose, (numbers.Integral, np.bool_)) or int(verbose) not in (0, 1, 2):
            raise ValueError(
                f"{self._owner}: verbose must be 0 (silent), 1 or True (progress) or 2 (a line "
                f"per epoch), got {verbose!r}"
            )
        return int(verbose)

    def _check_params(self) -> dict[str, Any]:
        """Every parameter checked once per fit, with the estimator's name in the message."""
        owner = self._owner
        if self.module is not None and not callable(self.module):
            raise TypeError(
                f"{owner}: module must be None or a callable (n_features_in, n_outputs) -> "
                f"Layer, got {type(self.module).__name__}"
            )
        options = self.solver_options
        if options is not None and not (
            isinstance(options, Mapping) and all(isinstance(k, str) for k in options)
        ):
            raise TypeError(
                f"{owner}: solver_options must be None or a dict of keyword arguments for the "
                f"optimizer, such as {{'momentum': 0.9}}, got {options!r}"
            )
        return {
            "solver": self._solver_class(),
            "options": dict(options or {}),
            "lr": check_real(self.learning_rate_init, "learning_rate_init", owner, positive=True),
            "weight_decay": check_real(self.weight_decay, "weight_decay", owner, low=0.0),
            "max_iter": check_positive_int(self.max_iter, "max_iter", owner),
            "shuffle": check_bool(self.shuffle, "shuffle", owner),
            "tol": check_real(self.tol, "tol", owner, low=0.0),
            "patience": check_positive_int(self.n_iter_no_change, "n_iter_no_change", owner),
            "early_stopping": check_bool(self.early_stopping, "early_stopping", owner),
            "warm_start": check_bool(self.warm_start, "warm_start", owner),
            "verbose": self._verbosity(),
        }

    # -- building --------------------------------------------------------------------

    def _build_model(self, n_features: int, n_outputs: int, gen: np.random.Generator) -> Layer:
        """The network: ``module(n_features, n_outputs)``, or the MLP of the sizes given."""
        if self.module is None:
            activation = self._activation()
            layers: list[Layer] = []
            width = n_features
            for size in self._hidden_sizes():
                layers += [Dense(width, size, rng=gen), activation()]
                width = size
            layers.append(Dense(width, n_outputs, rng=gen))
            return Sequential(layers)
        factory = self.module
        if _accepts_rng(factory):
            model = factory(n_features, n_outputs, rng=gen)
        else:
            model = factory(n_features, n_outputs)
        name = getattr(factory, "__name__", type(factory).__name__)
        if not isinstance(model, Layer):
            raise TypeError(
                f"{self._owner}: module({n_features}, {n_outputs}) must return a Layer, got "
                f"{type(model).__name__} from {name}"
            )
        if not _accepts_rng(factory):
            # redraw every initial weight from random_state, so that fits are reproducible
            for _, layer in model.named_modules():
                reset = getattr(layer, "reset_parameters", None)
                if callable(reset):
                    reset(gen)
        return model

    def _check_outputs(self, model: Layer, x: FloatArray, n_outputs: int) -> None:
        out = _forward(model, x[:1])
        if out.shape != (1, n_outputs):
            raise ValueError(
                f"{self._owner}: the model built by module({x.shape[1]}, {n_outputs}) gives "
                f"outputs of shape {out.shape[1:]} per sample; expected ({n_outputs},): one "
                "column per output (class, label or target)"
            )

    def _make_optimizer(self, model: Layer, params: dict[str, Any]) -> Optimizer:
        cls: type[Optimizer] = params["solver"]
        options: dict[str, Any] = dict(params["options"])
        if params["weight_decay"]:
            if issubclass(cls, FullBatchOptimizer):
                raise ValueError(
                    f"{self._owner}: weight_decay applies to the step optimizers; "
                    f"solver={self.solver!r} has none. Use solver='adam' or 'sgd', or "
                    "weight_decay=0"
                )
            options.setdefault("weight_decay", params["weight_decay"])
        if issubclass(cls, FullBatchOptimizer):
            if cls is LBFGS:
                options.setdefault("gtol", params["tol"])
        else:
            options.setdefault("lr", params["lr"])
        try:
            return cls(model.parameters(), **options)
        except TypeError as exc:
            raise TypeError(
                f"{self._owner}: cannot build {cls.__name__} with solver_options={options!r}: {exc}"
            ) from None

    # -- training --------------------------------------------------------------------

    def _fit(self, X: Any, y: Any, *, incremental: bool, classes: Any = None) -> Any:
        params = self._check_params()
        first = not hasattr(self, "model_") or (not incremental and not params["warm_start"])
        X, y = validate_data(
            self,
            X,
            y,
            reset=first,
            dtype=(np.float64, np.float32),
            multi_output=True,
            y_numeric=not self._stratify,
        )
        if _sparse.issparse(y):
            y = np.asarray(cast(Any, y).todense())
        target, n_outputs = self._encode_targets(y, first, classes, incremental)
        if first:
            seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
            self._rng = np.random.default_rng(seed)
            model = self._build_model(X.shape[1], n_outputs, self._rng)
            self._check_outputs(model, X, n_outputs)
            self.model_ = model
            self.n_outputs_ = n_outputs
            self.n_iter_ = 0
            self.loss_curve_: list[float] = []
            self.validation_scores_: list[float] | None = [] if params["early_stopping"] else None
            self.best_validation_score_: float | None = None
            self.best_loss_: float | None = None
        model = self.model_
        if incremental and hasattr(self, "optimizer_"):
            optimizer = self.optimizer_
        else:
            optimizer = self._make_optimizer(model, params)
        full_batch = isinstance(optimizer, FullBatchOptimizer)
        validating = params["early_stopping"] and not incremental and not full_batch

        callbacks: list[Callback] = []
        stopper: EarlyStopping | None = None
        x_train, y_train = X, target
        if validating:
            x_train, x_val, y_train, y_val = self._split(X, target)
            callbacks.append(
                _ValidationScore(lambda out: self._validation_score(out, y_val), x_val)
            )
            stopper = EarlyStopping(
                "val_score",
                patience=params["patience"],
                min_delta=params["tol"],
                mode="max",
                restore_best_weights=True,
            )
        elif not incremental and not full_batch:
            stopper = EarlyStopping("loss", patience=params["patience"], min_delta=params["tol"])
        if stopper is not None:
            callbacks.append(stopper)

        epochs = 1 if incremental else params["max_iter"]
        history = _train(
            model,
            x_train,
            y_train,
            loss=self._loss(),
            optimizer=optimizer,
            epochs=epochs,
            batch_size=self._batch_size(x_train.shape[0]),
            shuffle=params["shuffle"],
            callbacks=callbacks,
            verbose=params["verbose"],
            rng=self._rng,
        )
        self.optimizer_ = optimizer
        if validating and stopper is not None and stopper.best_weights is not None:
            model.load_state_dict(stopper.best_weights)  # as MLPClassifier: the best epoch's
        losses = history.history.get("loss", [])
        self.loss_curve_ += losses
        self.n_iter_ += len(losses)
        if losses:
            self.loss_ = losses[-1]
        else:  # L-BFGS found the start optimal (a zero gradient): no iteration ran
            self.loss_ = float(optimizer.result.fun)  # type: ignore[attr-defined]
        if validating:
            scores = history.history["val_score"]
            self.validation_scores_ = [*(self.validation_scores_ or []), *scores]
            self.best_validation_score_ = max(self.validation_scores_)
        else:
            self.best_loss_ = min(self.loss_curve_, default=self.loss_)
        if not incremental:
            self._warn_if_not_converged(optimizer, stopper, len(losses), epochs)
        return self

    def _split(
        self, X: FloatArray, target: np.ndarray[Any, Any]
    ) -> tuple[FloatArray, FloatArray, np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        fraction = check_real(
            self.validation_fraction, "validation_fraction", self._owner, low=0.0, high=1.0
        )
        if fraction == 0.0:
            raise ValueError(
                f"{self._owner}: early_stopping=True needs validation_fraction in (0, 1), got 0"
            )
        stratify = None
        if self._stratify and target.ndim == 1:
            # stratified where every class can be on both sides, as MLPClassifier does
            counts = np.unique(target, return_counts=True)[1]
            held_out = int(np.ceil(fraction * len(target)))
            if counts.min() >= 2 and min(held_out, len(target) - held_out) >= len(counts):
                stratify = target
        seed = int(self._rng.integers(np.iinfo(np.int32).max))
        try:
            parts = train_test_split(
                X, target, test_size=fraction, random_state=seed, stratify=stratify
            )
        except ValueError as exc:
            raise ValueError(
                f"{self._owner}: early_stopping holds out validation_fraction={fraction} of "
                f"{X.shape[0]} samples: {exc}"
            ) from None
        x_train, x_val, y_train, y_val = parts
        return x_train, x_val, y_train, y_val

    def _warn_if_not_converged(
        self, optimizer: Optimizer, stopper: EarlyStopping | None, ran: int, epochs: int
    ) -> None:
        result = getattr(optimizer, "result", None)
        if isinstance(optimizer, FullBatchOptimizer) and result is not None:
            if not getattr(result, "success", True):
                message = getattr(result, "message", "")
                warnings.warn(
                    f"{self._owner}: {type(optimizer).__name__} did not converge after {ran} "
                    f"iterations ({message}); raise max_iter or scale the data",
                    ConvergenceWarning,
                    stacklevel=4,
                )
            return
        if ran == epochs and (stopper is None or stopper.stopped_epoch < 0):
            warnings.warn(
                f"{self._owner}: max_iter={epochs} epochs reached and the optimization has "
                "not converged yet (the loss kept improving by more than tol); raise "
                "max_iter, or stop earlier with a larger tol",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _outputs(self, X: Any) -> FloatArray:
        """The network's outputs (logits for a classifier) for checked ``X``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return _forward(self.model_, X)


class NeuralNetClassifier(ClassifierMixin, _NeuralNet):  # type: ignore[misc]
    """A layernet network as a scikit-learn classifier (binary, multiclass or multilabel).

    With the defaults it is ``MLPClassifier``'s network, trained by
    :func:`layernet.fit`: ``Dense`` layers of ``hidden_layer_sizes`` with
    ``activation`` between them and a linear output layer, the logits; the
    loss is ``CrossEntropyLoss`` (softmax) for one or more than two classes
    and ``BCEWithLogitsLoss`` (sigmoid) for two classes or a label-indicator
    matrix. Pass ``module`` for any other architecture.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Widths of the hidden layers; ``()`` gives a linear model (logistic
        regression). Ignored when ``module`` is given.
    activation : str, default="relu"
        Between hidden layers: ``"identity"``, ``"logistic"`` (sigmoid),
        ``"tanh"``, ``"relu"`` (MLPClassifier's), or ``"leaky_relu"``,
        ``"elu"``, ``"gelu"``, ``"softplus"``. Ignored when ``module`` is given.
    module : callable, optional
        ``module(n_features_in, n_outputs) -> Layer``, called at each fresh
        fit, for any architecture (a CNN that reshapes its input, say). The
        model takes ``(batch, n_features_in)`` and must return logits of
        shape ``(batch, n_outputs)``. If the callable has a keyword ``rng``,
        it gets a ``numpy.random.Generator`` drawn from ``random_state`` to
        pass to its layers; otherwise the estimator redraws the initial
        weights of every layer with a ``reset_parameters`` method (Dense,
        Conv) from ``random_state``, keeping their initializers.
    solver : str or Optimizer class, default="adam"
        ``"adam"``, ``"sgd"``, ``"lbfgs"`` (MLPClassifier's), ``"adamw"``,
        ``"rmsprop"``, ``"adagrad"``, or a layernet Optimizer subclass. The
        layernet optimizers keep their own defaults (``"sgd"`` is plain SGD:
        pass ``solver_options={"momentum": 0.9, "nesterov": True}`` for
        MLPClassifier's). With ``"lbfgs"`` each iteration is a full-batch
        L-BFGS step, ``max_iter`` caps the iterations and ``tol`` is the
        gradient tolerance (as MLPClassifier does).
    solver_options : dict, optional
        More keyword arguments for the optimizer, e.g. ``{"betas": (0.9,
        0.99)}``, ``{"max_grad_norm": 1.0}``.
    learning_rate_init : float, default=0.001
        The optimizer's ``lr`` (ignored by ``"lbfgs"``).
    weight_decay : float, default=0.0
        L2 penalty as the optimizer's ``weight_decay`` (``grad += weight_decay
        * w`` on every parameter, biases included). MLPClassifier's ``alpha``
        penalises the weights only and scales by the batch: ``alpha ≈
        weight_decay * batch_size``.
    batch_size : int or "auto", default="auto"
        Rows per step; ``"auto"`` is ``min(200, n_samples)``.
    max_iter : int, default=200
        Epochs (iterations for ``"lbfgs"``) per call of ``fit``.
    shuffle : bool, default=True
        Draw a fresh order of the rows every epoch.
    tol : float, default=1e-4
        An epoch improves when the training loss falls by more than ``tol``
        (with ``early_stopping``: the validation score rises by more than it).
    n_iter_no_change : int, default=10
        Training stops after this many epochs without improvement (Keras's
        ``patience``); stopping before ``max_iter`` counts as converged.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training set (stratified
        when every class can be on both sides),
        score it (accuracy) after each epoch, stop when it stops improving and
        keep the best epoch's weights. Not used by ``"lbfgs"`` or
        ``partial_fit``.
    validation_fraction : float, default=0.1
        Share of the training rows held out when ``early_stopping``.
    random_state : int, RandomState instance or None, default=None
        Draws the initial weights, the shuffles and the validation split; an
        int gives bit-identical fits.
    warm_start : bool, default=False
        ``fit`` continues from the current weights (with a fresh optimizer)
        instead of starting again.
    verbose : int or bool, default=0
        0: silent; 1 (True): one line per epoch and a progress bar on a
        terminal; 2: the lines only.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels (``arange(n_labels)`` for multilabel targets).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` had string column names (a DataFrame).
    model_ : Layer
        The trained network (a :class:`~layernet.Sequential` by default).
    optimizer_ : Optimizer
        The optimizer of the last call, whose state ``partial_fit`` continues.
    n_outputs_ : int
        Columns of the network's output.
    out_activation_ : {"softmax", "logistic"}
        What ``predict_proba`` applies to the logits.
    n_iter_ : int
        Epochs run in total (iterations for ``"lbfgs"``).
    loss_ : float
        The training loss of the last epoch.
    loss_curve_ : list of float
        The training loss of every epoch.
    best_loss_ : float or None
        The smallest training loss (None with ``early_stopping``).
    validation_scores_ : list of float or None
        The held-out accuracy of every epoch with ``early_stopping``.
    best_validation_score_ : float or None
        Their best, the epoch whose weights are kept.

    Notes
    -----
    Name mapping: ``solver`` is layernet's ``optimizer``,
    ``learning_rate_init`` its ``lr``, ``max_iter`` its ``epochs``.
    MLPClassifier's ``alpha`` is replaced by ``weight_decay``, and its
    ``momentum``, ``nesterovs_momentum``, ``beta_1``, ``beta_2`` and
    ``epsilon`` by ``solver_options``; its ``learning_rate`` and ``power_t``
    have no counterpart (for a schedule, train the network with
    :func:`layernet.fit` and a ``LearningRateScheduler``), and ``max_fun`` is
    LBFGS's ``max_eval`` in ``solver_options``.
    """

    _stratify = True
    classes_: np.ndarray[Any, Any]

    def fit(self, X: Any, y: Any) -> NeuralNetClassifier:
        """Train on ``(X, y)`` for up to ``max_iter`` epochs; returns self.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (any type ``numpy.unique`` sorts), or a 0/1
            indicator matrix for multilabel classification.
        """
        result: NeuralNetClassifier = self._fit(X, y, incremental=False)
        return result

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> NeuralNetClassifier:
        """Train one epoch on ``(X, y)``, continuing from the current weights and optimizer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        classes : array-like of shape (n_classes,)
            Every class label, needed on the first call (a batch may lack
            some); ``arange(n_labels)`` for multilabel targets.
        """
        result: NeuralNetClassifier = self._fit(X, y, incremental=True, classes=classes)
        return result

    def _encode_targets(
        self, y: Any, first: bool, classes: Any, incremental: bool
    ) -> tuple[np.ndarray[Any, Any], int]:
        owner = self._owner
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(
                f"{owner}: cannot learn a {kind} target; pass class labels of shape "
                "(n_samples,) or a 0/1 label-indicator matrix of shape (n_samples, n_labels)"
            )
        multilabel = kind == "multilabel-indicator"
        if incremental:  # scikit-learn's rule: classes= on the first call, the same later
            if first and classes is None:
                raise ValueError(
                    f"{owner}: classes must be passed on the first call to partial_fit: "
                    "every class label, since a batch may lack some"
                )
            if first:
                self.classes_ = np.asarray(unique_labels(classes))
            elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
                raise ValueError(
                    f"{owner}: classes={list(classes)!r} differs from the classes of the "
                    f"first call, {self.classes_.tolist()}; pass the same labels or none"
                )
        elif first:
            self.classes_ = np.arange(y.shape[1]) if multilabel else np.asarray(unique_labels(y))
        if first:
            self._multilabel = multilabel
            if multilabel:
                self.out_activation_, outputs = "logistic", y.shape[1]
            elif len(self.classes_) == 2:
                self.out_activation_, outputs = "logistic", 1
            else:
                self.out_activation_, outputs = "softmax", len(self.classes_)
        else:
            outputs = self.n_outputs_
        if multilabel != self._multilabel:
            what = ("class labels", "a label-indicator matrix")
            raise ValueError(
                f"{owner}: y is {what[multilabel]} but this classifier was fitted on "
                f"{what[self._multilabel]}"
            )
        if multilabel:
            if y.shape[1] != len(self.classes_):
                raise ValueError(
                    f"{owner}: y has {y.shape[1]} labels, but the classifier has "
                    f"{len(self.classes_)}: classes_ = {self.classes_.tolist()}"
                )
            return np.asarray(y, dtype=np.float64), outputs
        unseen = ~np.isin(y, self.classes_)
        if unseen.any():
            raise ValueError(
                f"{owner}: y holds labels that are not in classes_ {self.classes_.tolist()}: "
                f"{np.unique(y[unseen]).tolist()}; pass every label in classes= on the first "
                "call of partial_fit, or fit without warm_start"
            )
        index = np.searchsorted(self.classes_, y)
        if self.out_activation_ == "logistic":
            return index.astype(np.float64).reshape(-1, 1), outputs
        return index, outputs

    def _loss(self) -> Loss:
        return BCEWithLogitsLoss() if self.out_activation_ == "logistic" else CrossEntropyLoss()

    def _indices(self, logits: FloatArray) -> np.ndarray[Any, Any]:
        """Class indices: argmax of the probabilities (the 0/1 matrix for multilabel)."""
        proba = self._proba(logits)
        if self._multilabel:
            return (proba > 0.5).astype(np.int64)
        best: np.ndarray[Any, Any] = np.argmax(proba, axis=1)
        return best

    def _validation_score(self, outputs: FloatArray, y: np.ndarray[Any, Any]) -> float:
        truth = y if y.ndim == 1 or self._multilabel else y[:, 0].astype(np.intp)
        return float(accuracy_score(truth, self._indices(outputs)))

    def _proba(self, logits: FloatArray) -> FloatArray:
        if self._multilabel:
            multi: FloatArray = expit(logits)
            return multi
        if self.out_activation_ == "logistic":
            p = expit(logits[:, 0])
            return np.column_stack([1.0 - p, p])
        result: FloatArray = softmax(logits, axis=1)
        return result

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        """Class labels: the most probable class (labels above 0.5 for multilabel).

        Returns
        -------
        ndarray of shape (n_samples,), or (n_samples, n_labels) for multilabel
        """
        indices = self._indices(self._outputs(X))
        labels: np.ndarray[Any, Any] = indices if self._multilabel else self.classes_[indices]
        return labels

    def predict_proba(self, X: Any) -> FloatArray:
        """Class probabilities: softmax of the logits, or the sigmoid for two classes.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Rows sum to 1, columns in the order of ``classes_``. For
            multilabel targets, each label's own probability (rows need not
            sum to 1).
        """
        return self._proba(self._outputs(X))

    def predict_log_proba(self, X: Any) -> FloatArray:
        """The log of :meth:`predict_proba`, computed from the logits (log-softmax).

        Accurate where ``log(predict_proba(X))`` loses digits (a probability
        near 1), and ``-inf`` exactly where :meth:`predict_proba` is 0.
        """
        logits = self._outputs(X)
        if self._multilabel:
            log_p: FloatArray = log_expit(logits)
        elif self.out_activation_ == "logistic":
            log_p = np.column_stack([log_expit(-logits[:, 0]), log_expit(logits[:, 0])])
        else:
            log_p = log_softmax(logits, axis=1)
        log_p[self._proba(logits) == 0.0] = -np.inf
        return log_p

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class NeuralNetRegressor(RegressorMixin, _NeuralNet):  # type: ignore[misc]
    """A layernet network as a scikit-learn regressor, one target or several.

    With the defaults it is ``MLPRegressor``'s network, trained by
    :func:`layernet.fit` with ``MSELoss``: ``Dense`` layers of
    ``hidden_layer_sizes`` with ``activation`` between them and a linear
    output layer with one unit per target. The parameters are
    :class:`NeuralNetClassifier`'s (see there); ``early_stopping`` scores
    the held-out rows with R² (not stratified).

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
    activation : str, default="relu"
    module : callable, optional
        ``module(n_features_in, n_outputs) -> Layer`` returning
        ``(batch, n_outputs)``; see :class:`NeuralNetClassifier`.
    solver : str or Optimizer class, default="adam"
    solver_options : dict, optional
    learning_rate_init : float, default=0.001
    weight_decay : float, default=0.0
    batch_size : int or "auto", default="auto"
    max_iter : int, default=200
    shuffle : bool, default=True
    tol : float, default=1e-4
    n_iter_no_change : int, default=10
    early_stopping : bool, default=False
    validation_fraction : float, default=0.1
    random_state : int, RandomState instance or None, default=None
    warm_start : bool, default=False
    verbose : int or bool, default=0

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` had string column names (a DataFrame).
    model_ : Layer
        The trained network (a :class:`~layernet.Sequential` by default).
    optimizer_ : Optimizer
        The optimizer of the last call, whose state ``partial_fit`` continues.
    n_outputs_ : int
        Number of targets: columns of the network's output.
    out_activation_ : str
        ``"identity"``: the output layer is linear.
    n_iter_ : int
        Epochs run in total (iterations for ``"lbfgs"``).
    loss_ : float
        The training loss (mean squared error) of the last epoch.
    loss_curve_ : list of float
        The training loss of every epoch.
    best_loss_ : float or None
        The smallest training loss (None with ``early_stopping``).
    validation_scores_ : list of float or None
        The held-out R² of every epoch with ``early_stopping``.
    best_validation_score_ : float or None
        Their best, the epoch whose weights are kept.
    """

    def fit(self, X: Any, y: Any) -> NeuralNetRegressor:
        """Train on ``(X, y)`` for up to ``max_iter`` epochs; returns self.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        """
        result: NeuralNetRegressor = self._fit(X, y, incremental=False)
        return result

    def partial_fit(self, X: Any, y: Any) -> NeuralNetRegressor:
        """Train one epoch on ``(X, y)``, continuing from the current weights and optimizer."""
        result: NeuralNetRegressor = self._fit(X, y, incremental=True)
        return result

    def _encode_targets(
        self, y: Any, first: bool, classes: Any, incremental: bool
    ) -> tuple[np.ndarray[Any, Any], int]:
        target = np.asarray(y, dtype=np.float64)
        if first:
            self.out_activation_ = "identity"
            self._single_target = target.ndim == 1
        target = target.reshape(len(target), -1)
        if not first and target.shape[1] != self.n_outputs_:
            raise ValueError(
                f"{self._owner}: y has {target.shape[1]} targets, but the regressor was "
                f"fitted with {self.n_outputs_}"
            )
        return target, target.shape[1]

    def _loss(self) -> Loss:
        return MSELoss()

    def _validation_score(self, outputs: FloatArray, y: np.ndarray[Any, Any]) -> float:
        return float(r2_score(y, outputs))

    def predict(self, X: Any) -> FloatArray:
        """Predicted targets.

        Returns
        -------
        ndarray of shape (n_samples,), or (n_samples, n_targets) when ``y`` was 2-D
        """
        out = self._outputs(X)
        return out.reshape(-1) if self._single_target else out

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _accepts_rng(factory: Callable[..., Any]) -> bool:
    """Whether ``factory`` takes a keyword argument ``rng`` (or ``**kwargs``)."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return False
    return any(
        p.kind is inspect.Parameter.VAR_KEYWORD
        or (p.name == "rng" and p.kind is not inspect.Parameter.POSITIONAL_ONLY)
        for p in signature.parameters.values()
    )
