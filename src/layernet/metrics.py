"""Metrics: numbers to watch while training, computed over a whole data set batch by batch.

A metric reduces each batch to a small array of *statistics* (sums and
counts), merges the statistics of successive batches, and turns the merged
statistics into one number. So the value over a data set evaluated in
batches equals the value computed on the whole set at once (up to rounding):
accuracy is ``sum(correct) / sum(count)``, never a mean of batch accuracies.

``fit(..., metrics=["accuracy", "mse"])`` and ``evaluate`` accept instances
or the names in :data:`METRICS`: ``"accuracy"`` (alias ``"acc"``), ``"mse"``,
``"mae"``, ``"r2"``, ``"precision"``, ``"recall"``, ``"f1"``, ``"auc"`` (alias
``"roc_auc"``) and ``"top_k_accuracy"``.

A classification metric needs a decision rule, and the rule depends on what
the model outputs: a logit is positive above 0, a probability above 0.5. So
``fit`` and ``evaluate`` tell every metric what the loss's predictions hold
(:attr:`layernet.Loss.pred_kind`) through :meth:`Metric.configure`, as Keras
resolves ``"accuracy"`` against the loss: with ``BCEWithLogitsLoss`` a
one-column output is thresholded at 0, with ``BCELoss`` (or any loss on plain
values, such as ``MSELoss`` on 0/1 targets) at 0.5, and with several columns
the class is the ``argmax`` either way. An explicit ``threshold=`` is kept.
The classification metrics equal scikit-learn's on the same predictions.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, TypeAlias

import numpy as np
from scipy.special import softmax
from scipy.stats import rankdata

from ._typing import ArrayLike, FloatArray
from ._validation import as_float_array, check_finite, check_positive_int, check_real

Target: TypeAlias = "np.ndarray[Any, Any]"
"""A target as the loss's check_target returns it: floats, or integer class labels."""


class Metric(ABC):
    """A metric accumulable over batches: ``statistics`` -> ``merge`` -> ``result``.

    Subclasses set :attr:`name` (the key in ``History.history`` and in the
    dict ``evaluate`` returns) and implement :meth:`statistics` and
    :meth:`result`; :meth:`merge` adds by default, which is right whenever the
    statistics are sums.

    Attributes
    ----------
    name : str
    greater_is_better : bool
        Which way is an improvement (``EarlyStopping(mode="auto")`` reads it).
    pred_kind : str
        What the predictions hold, as :meth:`configure` set it (``"values"``
        until then).
    """

    name: str = "metric"
    greater_is_better: bool = False
    pred_kind: str = "values"

    @abstractmethod
    def statistics(self, pred: FloatArray, target: Target) -> FloatArray:
        """Reduce one batch to float64 statistics that :meth:`merge` can combine.

        Parameters
        ----------
        pred : ndarray of shape (batch, *output_shape)
            The model's output.
        target : ndarray
            The target as the loss's ``check_target`` returned it.
        """

    @abstractmethod
    def result(self, stats: FloatArray) -> float:
        """The metric's value from merged statistics."""

    def merge(self, a: FloatArray, b: FloatArray) -> FloatArray:
        """Combine the statistics of two disjoint sets of rows (a sum by default)."""
        return a + b

    def configure(self, pred_kind: str) -> None:
        """Adapt to what the predictions hold: ``"logits"``, ``"probabilities"`` or ``"values"``.

        ``fit`` and ``evaluate`` call it with the loss's
        :attr:`~layernet.Loss.pred_kind` before checking the targets, and
        it is kept as :attr:`pred_kind` (regression metrics ignore it).
        """
        self.pred_kind = pred_kind

    def check_target(self, pred: FloatArray, target: Target) -> None:
        """Raise a ValueError if ``target`` cannot be scored against ``pred``.

        Called once per ``fit``/``evaluate`` on the whole set, so
        :meth:`statistics` does no checking. The default wants the target of
        ``pred``'s shape (what regression losses pass on).
        """
        if target.shape != pred.shape:
            raise ValueError(
                f"metric {self.name!r}: prediction and target shapes differ: pred {pred.shape}, "
                f"target {target.shape}; this metric compares them element by element"
            )

    def compute(self, pred: ArrayLike, target: ArrayLike) -> float:
        """The metric over one set of predictions: ``result(statistics(pred, target))``."""
        who = f"metric {self.name!r}"
        pred_arr = as_float_array(pred, np.dtype(np.float64), f"{who}: pred")
        target_arr = as_float_array(target, np.dtype(np.float64), f"{who}: target")
        if pred_arr.ndim == 0:
            raise ValueError(f"{who}: pred must have a batch axis, got a scalar")
        if pred_arr.shape[0] == 0:
            raise ValueError(f"{who}: got an empty batch (pred of shape {pred_arr.shape})")
        check_finite(pred_arr, f"{who}: pred")
        check_finite(target_arr, f"{who}: target")
        self.check_target(pred_arr, target_arr)
        return self.result(self.statistics(pred_arr, target_arr))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Accuracy(Metric):
    """Fraction of samples classified correctly.

    - Binary, when the output has one column (shape ``(batch, 1)``): the
      predicted class is ``pred > threshold`` and the target (0 or 1) is
      ``target > 0.5``. Without a ``threshold``, it follows the loss (see
      :meth:`Metric.configure`): 0 for logits (``BCEWithLogitsLoss``), 0.5
      for probabilities and plain values (and when used on its own).
    - Multiclass, when the output has ``C > 1`` columns: the predicted class
      is ``argmax`` over axis 1, the same for logits and probabilities. The
      target holds integer class labels of shape ``(batch,)`` or one-hot
      rows of shape ``(batch, C)``. A sequence model's ``(batch, time, C)``
      scored against labels ``(batch, time)`` has its classes last, as
      :class:`~layernet.CrossEntropyLoss` reads them; every position counts.

    Statistics: ``[correct, count]``.

    Parameters
    ----------
    threshold : float, optional
        The binary decision threshold; None (default) follows the loss.
    """

    name = "accuracy"
    greater_is_better = True

    def __init__(self, threshold: float | None = None) -> None:
        self.threshold: float | None = (
            None if threshold is None else check_real(threshold, "threshold", "Accuracy")
        )

    def check_target(self, pred: FloatArray, target: Target) -> None:
        if pred.ndim < 2:
            raise ValueError(
                f"Accuracy: expected predictions of shape (batch, classes), got {pred.shape}"
            )
        if pred.shape[1] == 1:
            if target.shape not in (pred.shape, pred.shape[:1]):
                raise ValueError(
                    f"Accuracy: a one-column output is scored as binary and wants targets of "
                    f"shape {pred.shape} or {pred.shape[:1]} holding 0 or 1, got {target.shape}"
                )
            return
        labels_shape = pred.shape[:1] + pred.shape[2:]
        if target.shape == pred.shape:
            return
        axis = _class_axis(pred, target)
        classes = pred.shape[axis]
        if axis == 1 and target.shape != labels_shape:
            raise ValueError(
                f"Accuracy: for {pred.shape[1]} classes the target must hold integer labels of "
                f"shape {labels_shape} or one-hot rows of shape {pred.shape}, got {target.shape}"
                + (
                    f" (or, with the classes last, labels of shape {pred.shape[:-1]})"
                    if pred.ndim > 2
                    else ""
                )
            )
        if target.size and (
            not np.array_equal(target, np.round(target))
            or target.min() < 0
            or target.max() >= classes
        ):
            raise ValueError(
                f"Accuracy: class labels must be integers in [0, {classes}), "
                f"got values from {target.min()} to {target.max()}"
            )

    def statistics(self, pred: FloatArray, target: Target) -> FloatArray:
        if pred.shape[1] == 1:
            guess = pred.reshape(len(pred), -1) > _threshold(self.threshold, self.pred_kind)
            truth = target.reshape(guess.shape) > 0.5
            correct = np.count_nonzero(guess == truth)
            return np.array([correct, guess.size], dtype=np.float64)
        if target.shape == pred.shape:
            guess_cls, truth_cls = np.argmax(pred, axis=1), np.argmax(target, axis=1)
        else:
            guess_cls, truth_cls = np.argmax(pred, axis=_class_axis(pred, target)), target
        correct = np.count_nonzero(guess_cls == truth_cls)
        return np.array([correct, guess_cls.size], dtype=np.float64)

    def result(self, stats: FloatArray) -> float:
        return float(stats[0] / stats[1])

    def __repr__(self) -> str:
        return f"Accuracy(threshold={self.threshold})"


def _class_axis(pred: FloatArray, target: Target) -> int:
    """Where the classes are for labels ``target``: the last axis for sequences, else axis 1.

    Labels of shape ``pred.shape[:-1]`` (a sequence model's (batch, time, C)
    scored against (batch, time)) put the classes last, as CrossEntropyLoss
    reads them, even where they would also fit axis 1 (time equal to C);
    other labels of shape ``pred.shape[:1] + pred.shape[2:]`` keep axis 1.
    """
    return -1 if pred.ndim > 2 and target.shape == pred.shape[:-1] else 1


def _threshold(threshold: float | None, pred_kind: str) -> float:
    """An explicit threshold, else 0 for logits and 0.5 for probabilities or values."""
    if threshold is not None:
        return threshold
    return 0.0 if pred_kind == "logits" else 0.5


def _check_classes(who: str, pred: FloatArray, target: Target) -> None:
    """Targets for a classification output: 0/1 for one column, labels or one-hot rows for C."""
    if pred.ndim != 2:
        raise ValueError(f"{who}: expected predictions of shape (batch, classes), got {pred.shape}")
    batch, classes = pred.shape
    if classes == 1:
        if target.shape not in (pred.shape, (batch,)):
            raise ValueError(
                f"{who}: a one-column output is scored as binary and wants targets of shape "
                f"{pred.shape} or ({batch},) holding 0 or 1, got {target.shape}"
            )
        return
    if target.shape == pred.shape:
        return
    if target.shape != (batch,):
        raise ValueError(
            f"{who}: for {classes} classes the target must hold integer labels of shape "
            f"({batch},) or one-hot rows of shape {pred.shape}, got {target.shape}"
        )
    if target.size and (
        not np.array_equal(target, np.round(target)) or target.min() < 0 or target.max() >= classes
    ):
        raise ValueError(
            f"{who}: class labels must be integers in [0, {classes}), "
            f"got values from {target.min()} to {target.max()}"
        )


def _true_classes(pred: FloatArray, target: Target) -> np.ndarray[Any, Any]:
    """Each row's true class: the 0/1 target, the label, or the argmax of a one-hot row."""
    if pred.shape[1] == 1:
        classes = (target.reshape(len(pred)) > 0.5).astype(np.intp)
    elif target.shape == pred.shape:
        classes = np.argmax(target, axis=1)
    else:
        classes = target.reshape(len(pred)).astype(np.intp)
    return classes


_AVERAGES = ("auto", "binary", "micro", "macro", "weighted")


class _ConfusionMetric(Metric):
    """Precision, recall and F1 from a confusion matrix, scikit-learn's definitions.

    The predicted class is ``pred > threshold`` for one output column (the
    threshold follows the loss as :class:`Accuracy`'s does) and the
    ``argmax`` for several. Statistics: the ``C x C`` confusion matrix
    (rows: true class, columns: predicted), flattened; C = 2 for one column.
    """

    greater_is_better = True

    def __init__(self, average: str = "auto", threshold: float | None = None) -> None:
        owner = type(self).__name__
        if average not in _AVERAGES:
            raise ValueError(f"{owner}: average must be one of {_AVERAGES}, got {average!r}")
        self.average = average
        self._average = "binary" if average == "auto" else average
        self.threshold: float | None = (
            None if threshold is None else check_real(threshold, "threshold", owner)
        )

    def check_target(self, pred: FloatArray, target: Target) -> None:
        _check_classes(type(self).__name__, pred, target)
        if self.average == "binary" and pred.shape[1] != 1:
            raise ValueError(
                f"{type(self).__name__}: average='binary' scores one positive class and needs a "
                f"one-column output, got {pred.shape[1]} columns; choose 'macro', 'micro' or "
                "'weighted'"
            )
        if self.average == "auto":
            self._average = "binary" if pred.shape[1] == 1 else "macro"

    def statistics(self, pred: FloatArray, target: Target) -> FloatArray:
        classes = max(2, pred.shape[1])
        if pred.shape[1] == 1:
            threshold = _threshold(self.threshold, self.pred_kind)
            guess = (pred[:, 0] > threshold).astype(np.intp)
        else:
            guess = np.argmax(pred, axis=1)
        truth = _true_classes(pred, target)
        counts = np.bincount(truth * classes + guess, minlength=classes * classes)
        return counts.astype(np.float64)

    @abstractmethod
    def _scores(self, tp: FloatArray, predicted: FloatArray, actual: FloatArray) -> FloatArray:
        """Per-class scores from true positives and predicted and actual counts per class."""

    def result(self, stats: FloatArray) -> float:
        classes = math.isqrt(stats.size)
        cm = stats.reshape(classes, classes)
        tp, predicted, actual = np.diag(cm), cm.sum(axis=0), cm.sum(axis=1)
        average = self._average
        if average == "binary":
            return float(self._scores(tp[1:], predicted[1:], actual[1:])[0])
        if average == "micro":
            pooled = self._scores(tp.sum(keepdims=True), predicted.sum(keepdims=True),
                                  actual.sum(keepdims=True))  # fmt: skip
            return float(pooled[0])
        scores = self._scores(tp, predicted, actual)
        present = (predicted + actual) > 0  # scikit-learn averages over the labels seen
        if average == "macro":
            return float(scores[present].mean()) if present.any() else 0.0
        total = actual.sum()
        return float((scores * actual).sum() / total) if total else 0.0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(average={self.average!r}, threshold={self.threshold})"


def _divide(num: FloatArray, den: FloatArray) -> FloatArray:
    """``num / den``, 0 where ``den`` is 0 (scikit-learn's ``zero_division`` default)."""
    out: FloatArray = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return out


class Precision(_ConfusionMetric):
    """Precision ``tp / (tp + fp)``: of the samples predicted in a class, the fraction in it.

    scikit-learn's ``precision_score(y_true, y_pred, average=...)`` on the
    predicted classes: ``average="auto"`` is ``"binary"`` (class 1) for a
    one-column output and ``"macro"`` (the plain mean over the classes that
    occur in the targets or the predictions) for several columns; also
    ``"micro"`` (pooled counts) and ``"weighted"`` (mean weighted by each
    class's true count). 0 / 0 counts as 0, as scikit-learn's default.

    Parameters
    ----------
    average : {"auto", "binary", "macro", "micro", "weighted"}
    threshold : float, optional
        The binary decision threshold; None follows the loss, as :class:`Accuracy`.
    """

    name = "precision"

    def _scores(self, tp: FloatArray, predicted: FloatArray, actual: FloatArray) -> FloatArray:
        return _divide(tp, predicted)


class Recall(_ConfusionMetric):
    """Recall ``tp / (tp + fn)``: of the samples in a class, the fraction predicted in it.

    scikit-learn's ``recall_score``; ``average`` and ``threshold`` as for
    :class:`Precision`.
    """

    name = "recall"

    def _scores(self, tp: FloatArray, predicted: FloatArray, actual: FloatArray) -> FloatArray:
        return _divide(tp, actual)


class F1Score(_ConfusionMetric):
    """F1 ``2 tp / (2 tp + fp + fn)``, the harmonic mean of precision and recall.

    scikit-learn's ``f1_score``: per class, then averaged (so macro F1 is the
    mean of per-class F1, not the F1 of the mean precision and recall);
    ``average`` and ``threshold`` as for :class:`Precision`.
    """

    name = "f1"

    def _scores(self, tp: FloatArray, predicted: FloatArray, actual: FloatArray) -> FloatArray:
        return _divide(2.0 * tp, predicted + actual)


def _binary_auc(scores: FloatArray, positive: np.ndarray[Any, Any]) -> float:
    """ROC AUC by the Mann-Whitney statistic with average ranks for ties (NaN with one class)."""
    n_pos = int(np.count_nonzero(positive))
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


class AUC(Metric):
    """Area under the ROC curve, scikit-learn's ``roc_auc_score``.

    - One output column: the scores are the outputs (logits and
      probabilities rank the same) and the true class is ``target > 0.5``.
    - ``C > 1`` columns of logits (``CrossEntropyLoss``): the scores are
      ``softmax(logits)`` and the result is the one-vs-rest macro average,
      ``roc_auc_score(y, probabilities, multi_class="ovr")``. Several
      columns of plain values are refused: they are not class scores.

    The AUC is not a sum over rows: the statistics are the rows themselves
    (scores and true class), concatenated batch after batch, so memory grows
    with the data set. Where a class is missing from the targets the AUC is
    undefined and the result is NaN (scikit-learn raises).
    """

    name = "auc"
    greater_is_better = True

    def check_target(self, pred: FloatArray, target: Target) -> None:
        _check_classes("AUC", pred, target)
        if pred.shape[1] > 1 and self.pred_kind != "logits":
            raise ValueError(
                f"AUC: {pred.shape[1]} output columns of {self.pred_kind} are not class scores; "
                "train with CrossEntropyLoss (logits), or score one column"
            )

    def statistics(self, pred: FloatArray, target: Target) -> FloatArray:
        truth = _true_classes(pred, target).astype(np.float64)
        scores = pred if pred.shape[1] == 1 else softmax(pred, axis=1)
        return np.column_stack([scores.astype(np.float64), truth])

    def merge(self, a: FloatArray, b: FloatArray) -> FloatArray:
        return np.concatenate([a, b])

    def result(self, stats: FloatArray) -> float:
        scores, truth = stats[:, :-1], stats[:, -1].astype(np.intp)
        if scores.shape[1] == 1:
            return _binary_auc(scores[:, 0], truth == 1)
        per_class = [_binary_auc(scores[:, c], truth == c) for c in range(scores.shape[1])]
        return float(np.mean(per_class))


class TopKAccuracy(Metric):
    """Fraction of samples whose true class is among the ``k`` highest outputs.

    scikit-learn's ``top_k_accuracy_score(y, outputs, k=k)`` for three or
    more classes, ties broken as it does (a stable sort, later classes
    first). The same for logits and probabilities. Named ``"top_{k}_accuracy"``.

    Parameters
    ----------
    k : int
        How many of the highest-scoring classes count, >= 1 (5 by default, as
        Keras's ``TopKCategoricalAccuracy``).
    """

    greater_is_better = True

    def __init__(self, k: int = 5) -> None:
        self.k = check_positive_int(k, "k", "TopKAccuracy")
        self.name = f"top_{self.k}_accuracy"

    def check_target(self, pred: FloatArray, target: Target) -> None:
        _check_classes(repr(self), pred, target)
        if pred.shape[1] < 2:
            raise ValueError(
                f"{self!r}: needs one output column per class, got {pred.shape[1]}; for a "
                "one-column binary output use 'accuracy'"
            )

    def statistics(self, pred: FloatArray, target: Target) -> FloatArray:
        ranked = np.argsort(pred, axis=1, kind="mergesort")[:, ::-1][:, : self.k]
        truth = _true_classes(pred, target)
        hits = np.count_nonzero((ranked == truth[:, None]).any(axis=1))
        return np.array([hits, len(pred)], dtype=np.float64)

    def result(self, stats: FloatArray) -> float:
        return float(stats[0] / stats[1])

    def __repr__(self) -> str:
        return f"TopKAccuracy(k={self.k})"


class MeanSquaredError(Metric):
    """``mean((pred - target) ** 2)`` over every element.

    Statistics: ``[sum of squares, count]``.
    """

    name = "mse"

    def statistics(self, pred: FloatArray, target: Target) -> FloatArray:
        diff = (pred - target).reshape(-1)
        return np.array([np.dot(diff, diff), diff.size], dtype=np.float64)

    def result(self, stats: FloatArray) -> float:
        return float(stats[0] / stats[1])


class MeanAbsoluteError(Metric):
    """``mean(|pred - target|)`` over every element.

    Statistics: ``[sum of |errors|, count]``.
    """

    name = "mae"

    def statistics(self, pred: FloatArray, target: Target) -> FloatArray:
        diff = np.abs(pred - target)
        return np.array([diff.sum(dtype=np.float64), diff.size], dtype=np.float64)

    def result(self, stats: FloatArray) -> float:
        return float(stats[0] / stats[1])


class R2Score(Metric):
    """Coefficient of determination ``R2 = 1 - SS_res / SS_tot``, averaged over outputs.

    Per output column ``k``: ``SS_res = sum_n (y_nk - p_nk)^2`` and
    ``SS_tot = sum_n (y_nk - mean_k(y))^2``; the result is the plain mean of
    the per-column scores (scikit-learn's ``r2_score`` with
    ``multioutput="uniform_average"``). A constant target column scores 1.0
    if predicted exactly and 0.0 otherwise, as scikit-learn's
    ``force_finite`` does.

    Statistics, per column: count, mean and centred sum of squares of the
    target, and ``SS_res``. Batches merge with Chan et al.'s pairwise update
    (``M2 = M2_a + M2_b + delta^2 n_a n_b / n``), which does not lose
    precision when the target's mean is large next to its spread.
    """

    name = "r2"
    greater_is_better = True

    def statistics(self, pred: FloatArray, target: Target) -> FloatArray:
        y = target.reshape(len(target), -1).astype(np.float64, copy=False)
        p = pred.reshape(len(pred), -1).astype(np.float64, copy=False)
        mean = y.mean(axis=0)
        centred = y - mean
        resid = y - p
        return np.stack(
            [
                np.full_like(mean, len(y)),
                mean,
                np.einsum("ij,ij->j", centred, centred),
                np.einsum("ij,ij->j", resid, resid),
            ]
        )

    def merge(self, a: FloatArray, b: FloatArray) -> FloatArray:
        n_a, mean_a, m2_a, res_a = a
        n_b, mean_b, m2_b, res_b = b
        n = n_a + n_b
        delta = mean_b - mean_a
        return np.stack(
            [n, mean_a + delta * (n_b / n), m2_a + m2_b + delta**2 * (n_a * n_b / n), res_a + res_b]
        )

    def result(self, stats: FloatArray) -> float:
        ss_tot, ss_res = stats[2], stats[3]
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.where(ss_res == 0, 1.0, 0.0))
        return float(scores.mean())


METRICS: dict[str, type[Metric]] = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "mse": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "r2": R2Score,
    "precision": Precision,
    "recall": Recall,
    "f1": F1Score,
    "auc": AUC,
    "roc_auc": AUC,
    "top_k_accuracy": TopKAccuracy,
}
"""Names ``get_metric`` accepts."""


def get_metric(metric: Metric | str) -> Metric:
    """Return ``metric`` itself, or a fresh instance for one of the names in :data:`METRICS`."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        cls = METRICS.get(metric.lower())
        if cls is None:
            raise ValueError(
                f"unknown metric {metric!r}; choose one of {sorted(METRICS)} or pass a Metric"
            )
        return cls()
    raise TypeError(f"a metric must be a Metric or a name such as 'accuracy', got {metric!r}")


def get_metrics(metrics: Iterable[Metric | str], pred_kind: str = "values") -> list[Metric]:
    """Resolve a sequence of metrics, rejecting a bare string and duplicate names.

    Each is configured for predictions of ``pred_kind`` (the loss's
    :attr:`~layernet.Loss.pred_kind`; see :meth:`Metric.configure`).
    """
    if isinstance(metrics, (str, Metric)):
        raise TypeError(f"metrics must be a list, got {metrics!r}; write metrics=[{metrics!r}]")
    resolved = [get_metric(m) for m in metrics]
    for metric in resolved:
        metric.configure(pred_kind)
    names = [m.name for m in resolved]
    reserved = {"loss", *(n for n in names if n.startswith("val_"))}
    clash = sorted({n for n in names if names.count(n) > 1 or n in reserved})
    if clash:
        raise ValueError(f"metric names must be unique and not 'loss' or 'val_*', got {clash}")
    return resolved


def accumulate(metric: Metric, stats: FloatArray | None, batch: FloatArray) -> FloatArray:
    """Merge one batch's statistics into a running total (``None`` before the first batch)."""
    return batch if stats is None else metric.merge(stats, batch)
