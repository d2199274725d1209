"""Metrics: numbers to watch while training, computed over a whole data set batch by batch.

A metric reduces each batch to a small array of *statistics* (sums and
counts), merges the statistics of successive batches, and turns the merged
statistics into one number. So the value over a data set evaluated in
batches equals the value computed on the whole set at once (up to rounding):
accuracy is ``sum(correct) / sum(count)``, never a mean of batch accuracies.

``fit(..., metrics=["accuracy", "mse"])`` and ``evaluate`` accept instances
or the names ``"accuracy"`` (alias ``"acc"``), ``"mse"``, ``"mae"`` and ``"r2"``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, TypeAlias

import numpy as np

from ._typing import ArrayLike, FloatArray
from ._validation import as_float_array, check_finite, check_real

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
    """

    name: str = "metric"
    greater_is_better: bool = False

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
      ``target > 0.5``. The default threshold 0.5 suits probabilities (a
      sigmoid output); use ``threshold=0.0`` for logits.
    - Multiclass, when the output has ``C > 1`` columns: the predicted class
      is ``argmax`` over axis 1, the same for logits and probabilities. The
      target holds integer class labels of shape ``(batch,)`` or one-hot
      rows of shape ``(batch, C)``.

    Statistics: ``[correct, count]``.
    """

    name = "accuracy"
    greater_is_better = True

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = check_real(threshold, "threshold", "Accuracy")

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
        if target.shape != labels_shape:
            raise ValueError(
                f"Accuracy: for {pred.shape[1]} classes the target must hold integer labels of "
                f"shape {labels_shape} or one-hot rows of shape {pred.shape}, got {target.shape}"
            )
        if target.size and (
            not np.array_equal(target, np.round(target))
            or target.min() < 0
            or target.max() >= pred.shape[1]
        ):
            raise ValueError(
                f"Accuracy: class labels must be integers in [0, {pred.shape[1]}), "
                f"got values from {target.min()} to {target.max()}"
            )

    def statistics(self, pred: FloatArray, target: Target) -> FloatArray:
        if pred.shape[1] == 1:
            guess = pred.reshape(len(pred), -1) > self.threshold
            truth = target.reshape(guess.shape) > 0.5
            correct = np.count_nonzero(guess == truth)
            return np.array([correct, guess.size], dtype=np.float64)
        guess_cls = np.argmax(pred, axis=1)
        truth_cls = np.argmax(target, axis=1) if target.shape == pred.shape else target
        correct = np.count_nonzero(guess_cls == truth_cls)
        return np.array([correct, guess_cls.size], dtype=np.float64)

    def result(self, stats: FloatArray) -> float:
        return float(stats[0] / stats[1])

    def __repr__(self) -> str:
        return f"Accuracy(threshold={self.threshold})"


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


def get_metrics(metrics: Iterable[Metric | str]) -> list[Metric]:
    """Resolve a sequence of metrics, rejecting a bare string and duplicate names."""
    if isinstance(metrics, (str, Metric)):
        raise TypeError(f"metrics must be a list, got {metrics!r}; write metrics=[{metrics!r}]")
    resolved = [get_metric(m) for m in metrics]
    names = [m.name for m in resolved]
    reserved = {"loss", *(n for n in names if n.startswith("val_"))}
    clash = sorted({n for n in names if names.count(n) > 1 or n in reserved})
    if clash:
        raise ValueError(f"metric names must be unique and not 'loss' or 'val_*', got {clash}")
    return resolved


def accumulate(metric: Metric, stats: FloatArray | None, batch: FloatArray) -> FloatArray:
    """Merge one batch's statistics into a running total (``None`` before the first batch)."""
    return batch if stats is None else metric.merge(stats, batch)
