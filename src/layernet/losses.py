"""Losses: a scalar measure of error and its gradient with respect to the prediction.

A loss sees only arrays. Like a layer it is stateful: :meth:`Loss.forward`
caches what :meth:`Loss.backward` needs, so the loop is
``loss.forward(pred, target)`` then ``loss.backward()``. The value is the
mean over every element (torch's ``reduction="mean"``), so a batch of one
reproduces per-sample SGD exactly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from ._typing import ArrayLike, FloatArray
from ._validation import as_float_array, check_finite, check_real, input_dtype


class Loss(ABC):
    """Abstract loss: ``forward(pred, target) -> float``, ``backward() -> dL/dpred``.

    ``__call__`` is the checked entry point: it converts both arguments,
    checks that their shapes agree and that the target is in the loss's
    domain, then runs :meth:`forward`.
    """

    @abstractmethod
    def forward(self, pred: FloatArray, target: ArrayLike) -> float:
        """Return the loss of ``pred`` against ``target`` (mean over the batch).

        Caches what :meth:`backward` needs.
        """

    @abstractmethod
    def backward(self) -> FloatArray:
        """Return dL/dpred for the last :meth:`forward`, same shape and dtype as ``pred``."""

    def __call__(self, pred: ArrayLike, target: ArrayLike) -> float:
        pred_arr = as_float_array(pred, input_dtype(pred), f"{self!r}: pred")
        if pred_arr.ndim == 0:
            raise ValueError(
                f"{self!r}: pred must have a batch axis, got a scalar; pass an array of shape "
                "(batch, ...), e.g. np.array([[value]])"
            )
        target_arr = self.check_target(pred_arr, target)
        check_finite(pred_arr, f"{self!r}: pred")
        if target_arr.dtype.kind == "f":
            check_finite(target_arr, f"{self!r}: target")
        value = self.forward(pred_arr, target_arr)
        if not np.isfinite(value):
            raise OverflowError(
                f"{self!r}: the loss overflows {pred_arr.dtype} for these finite inputs "
                f"(largest |pred| {np.abs(pred_arr).max():g}); rescale the data or the targets"
            )
        return value

    def check_target(self, pred: FloatArray, target: ArrayLike) -> FloatArray:
        """Convert ``target`` for ``pred`` and check shape and domain; raise ValueError if off.

        The default accepts a float target of ``pred``'s shape, or of shape
        ``(batch,)`` when ``pred`` is ``(batch, 1)``.
        """
        target_arr = as_float_array(target, pred.dtype, f"{self!r}: target")
        return match_shapes(self, pred, target_arr)

    def _not_run_yet(self) -> RuntimeError:
        return RuntimeError(f"{self!r}: backward() called before forward(); run forward first")

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this loss."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def match_shapes(loss: Loss, pred: FloatArray, target: FloatArray) -> FloatArray:
    """Return ``target`` shaped like ``pred``, or raise a ValueError naming both shapes."""
    if pred.size == 0:
        raise ValueError(f"{loss!r}: got an empty batch (pred of shape {pred.shape})")
    if target.shape == pred.shape:
        return target
    if pred.ndim == 2 and pred.shape[1] == 1 and target.shape == pred.shape[:1]:
        return target.reshape(pred.shape)
    raise ValueError(
        f"{loss!r}: prediction and target shapes differ: pred {pred.shape}, target "
        f"{target.shape}; pass a target of shape {pred.shape}"
    )


class MSELoss(Loss):
    """Mean squared error: ``L = mean((pred - target) ** 2)`` over every element.

    The mean of squares, not half of it and not the sum (torch's ``MSELoss``).

    Backward: ``dL/dpred = 2 * (pred - target) / N`` with ``N = pred.size``.
    """

    def __init__(self) -> None:
        self._diff: FloatArray | None = None

    def forward(self, pred: FloatArray, target: ArrayLike) -> float:
        t = np.asarray(target, dtype=pred.dtype)
        diff = pred - (t if t.shape == pred.shape and t.size else match_shapes(self, pred, t))
        self._diff = diff
        flat = diff.reshape(-1)
        with np.errstate(over="ignore"):  # an overflow is inf, which the callers report
            return float(np.dot(flat, flat)) / flat.size

    def backward(self) -> FloatArray:
        diff = self._diff
        if diff is None:
            raise self._not_run_yet()
        return diff * (2.0 / diff.size)


def _check_unit_interval(loss: Loss, name: str, values: FloatArray, fix: str) -> None:
    """Raise a ValueError naming the first entry of ``values`` outside [0, 1] (NaN included)."""
    inside = (values >= 0) & (values <= 1)
    if not inside.all():
        bad = values[~inside].flat[0]
        raise ValueError(f"{loss!r}: {name} must lie in [0, 1], got {bad}; {fix}")


def _as_target(loss: Loss, pred: FloatArray, target: ArrayLike) -> FloatArray:
    """The fast-path conversion: ``target`` as ``pred``'s dtype and shape."""
    return match_shapes(loss, pred, np.asarray(target, dtype=pred.dtype))


class L1Loss(Loss):
    """Mean absolute error: ``L = mean(|pred - target|)`` over every element.

    Backward: ``dL/dpred = sign(pred - target) / N`` with ``N = pred.size``
    (0 where they are equal, as torch does).
    """

    def __init__(self) -> None:
        self._diff: FloatArray | None = None

    def forward(self, pred: FloatArray, target: ArrayLike) -> float:
        diff = pred - _as_target(self, pred, target)
        self._diff = diff
        return float(np.abs(diff).sum()) / diff.size

    def backward(self) -> FloatArray:
        diff = self._diff
        if diff is None:
            raise self._not_run_yet()
        grad: FloatArray = np.sign(diff)
        grad *= 1.0 / diff.size
        return grad


class HuberLoss(Loss):
    """Huber loss: quadratic near zero, linear beyond ``delta`` (torch's ``HuberLoss``).

    With ``d = pred - target``, element-wise
    ``l = d**2 / 2`` where ``|d| < delta`` and ``l = delta * (|d| - delta / 2)``
    elsewhere; ``L = mean(l)`` over every element.

    Parameters
    ----------
    delta : float
        Positive threshold between the two regimes, 1.0 by default.

    Notes
    -----
    Backward: ``dl/dd = d`` inside and ``delta * sign(d)`` outside, i.e.
    ``clip(d, -delta, delta)``; ``dL/dpred = clip(d, -delta, delta) / N``.
    """

    def __init__(self, delta: float = 1.0) -> None:
        self.delta: float = check_real(delta, "delta", "HuberLoss")
        if not self.delta > 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self._diff: FloatArray | None = None

    def forward(self, pred: FloatArray, target: ArrayLike) -> float:
        diff = pred - _as_target(self, pred, target)
        self._diff = diff
        a = np.abs(diff)
        # c = min(|d|, delta): c * (|d| - c / 2) is |d|**2 / 2 inside and
        # delta * (|d| - delta / 2) outside, bit for bit, without squaring a large |d|
        c = np.minimum(a, self.delta)
        c *= a - 0.5 * c
        return float(c.sum()) / diff.size

    def backward(self) -> FloatArray:
        diff = self._diff
        if diff is None:
            raise self._not_run_yet()
        grad: FloatArray = np.clip(diff, -self.delta, self.delta)
        grad *= 1.0 / diff.size
        return grad

    def get_config(self) -> dict[str, Any]:
        return {"delta": self.delta}

    def __repr__(self) -> str:
        return f"HuberLoss(delta={self.delta})"


class BCELoss(Loss):
    """Binary cross-entropy on probabilities.

    ``L = -mean(t * log(p) + (1 - t) * log(1 - p))`` over every element,
    where ``p`` is clipped to ``[eps, 1 - eps]`` with ``eps`` the machine
    epsilon of ``pred``'s dtype, so a saturated sigmoid gives a large but
    finite loss. ``pred`` and ``target`` must lie in [0, 1]: anything else is
    a ValueError, never clipped silently. On logits, use
    :class:`BCEWithLogitsLoss`: it is exact where this one clips.

    Backward: ``dL/dp = (p - t) / (p (1 - p)) / N`` with the clipped ``p``.
    """

    def __init__(self) -> None:
        self._p: FloatArray | None = None
        self._t: FloatArray | None = None

    def check_target(self, pred: FloatArray, target: ArrayLike) -> FloatArray:
        target_arr = super().check_target(pred, target)
        _check_unit_interval(
            self,
            "pred",
            pred,
            "pass probabilities (apply Sigmoid first) or use BCEWithLogitsLoss on logits",
        )
        _check_unit_interval(self, "target", target_arr, "pass labels 0/1 or probabilities")
        return target_arr

    def forward(self, pred: FloatArray, target: ArrayLike) -> float:
        t = _as_target(self, pred, target)
        eps = float(np.finfo(pred.dtype).eps)
        p = np.clip(pred, eps, 1.0 - eps)
        self._p, self._t = p, t
        log_q = np.log1p(-p)
        log_p = np.log(p)
        log_p -= log_q
        log_p *= t
        log_p += log_q
        return -float(log_p.sum()) / p.size

    def backward(self) -> FloatArray:
        p, t = self._p, self._t
        if p is None or t is None:
            raise self._not_run_yet()
        denom = 1.0 - p
        denom *= p
        grad = p - t
        grad /= denom
        grad *= 1.0 / p.size
        return grad


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits, numerically stable (torch's ``BCEWithLogitsLoss``).

    With ``p = sigmoid(x)``, ``-(t log p + (1 - t) log(1 - p))`` simplifies to
    ``max(x, 0) - x t + log(1 + exp(-|x|))``, which never overflows;
    ``L`` is its mean over every element. ``target`` must lie in [0, 1].

    Backward: ``dL/dx = (sigmoid(x) - t) / N``.
    """

    def __init__(self) -> None:
        self._x: FloatArray | None = None
        self._t: FloatArray | None = None

    def check_target(self, pred: FloatArray, target: ArrayLike) -> FloatArray:
        target_arr = super().check_target(pred, target)
        _check_unit_interval(self, "target", target_arr, "pass labels 0/1 or probabilities")
        return target_arr

    def forward(self, pred: FloatArray, target: ArrayLike) -> float:
        t = _as_target(self, pred, target)
        self._x, self._t = pred, t
        per = np.abs(pred)
        np.negative(per, out=per)
        np.exp(per, out=per)
        np.log1p(per, out=per)
        per += np.maximum(pred, 0.0)
        per -= pred * t
        return float(per.sum()) / pred.size

    def backward(self) -> FloatArray:
        x, t = self._x, self._t
        if x is None or t is None:
            raise self._not_run_yet()
        grad: FloatArray = expit(x)
        grad -= t
        grad *= 1.0 / x.size
        return grad


class CrossEntropyLoss(Loss):
    """Cross-entropy on logits with a fused log-softmax (torch's ``CrossEntropyLoss``).

    For logits ``z`` of shape (batch, C), ``log p = z - logsumexp(z)`` per
    row (computed after subtracting the row maximum, so any magnitude is
    finite). With a target distribution ``q`` per row,
    ``L = -mean_over_batch(sum_c q_c log p_c)``.

    Targets come in two forms:

    - class labels of shape (batch,) (or (batch, 1)), integers in ``[0, C)``:
      ``q`` is their one-hot row;
    - probability rows of shape (batch, C) with entries in [0, 1].

    With ``label_smoothing = e``, ``q`` becomes ``(1 - e) q + e / C``, as in
    torch.

    Parameters
    ----------
    label_smoothing : float
        In [0, 1]; 0 by default.

    Notes
    -----
    Backward: ``dL/dz = (softmax(z) * sum_c q_c - q) / batch``, i.e.
    ``(softmax(z) - q) / batch`` when each row of ``q`` sums to one; with
    labels no one-hot array is built: subtract ``1 - e`` at the label and
    ``e / C`` everywhere.
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        smoothing = check_real(label_smoothing, "label_smoothing", "CrossEntropyLoss")
        if not 0.0 <= smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}"
            )
        self.label_smoothing: float = smoothing
        self._softmax: FloatArray | None = None
        self._labels: npt.NDArray[np.intp] | None = None
        self._q: FloatArray | None = None

    def check_target(self, pred: FloatArray, target: ArrayLike) -> FloatArray:
        """Check logits (batch, C) and labels in ``[0, C)`` or probability rows in [0, 1]."""
        if pred.ndim != 2:
            raise ValueError(
                f"{self!r}: expected logits of shape (batch, classes), got {pred.shape}"
            )
        if pred.size == 0:
            raise ValueError(f"{self!r}: got an empty batch (pred of shape {pred.shape})")
        batch, classes = pred.shape
        target_arr = as_float_array(target, pred.dtype, f"{self!r}: target")
        if target_arr.shape == pred.shape:
            _check_unit_interval(
                self,
                "target",
                target_arr,
                f"pass probability rows, or class labels of shape ({batch},)",
            )
            return target_arr
        if target_arr.shape == (batch, 1):
            target_arr = target_arr.reshape(batch)
        if target_arr.shape != (batch,):
            raise ValueError(
                f"{self!r}: target must be class labels of shape ({batch},) or probability "
                f"rows of shape {pred.shape}, got {target_arr.shape}"
            )
        whole = np.floor(target_arr) == target_arr
        if not whole.all():
            bad = target_arr[~whole].flat[0]
            raise ValueError(
                f"{self!r}: class labels must be integers, got {bad}; pass integer labels "
                f"in [0, {classes}) or probability rows of shape {pred.shape}"
            )
        in_range = (target_arr >= 0) & (target_arr < classes)
        if not in_range.all():
            bad = target_arr[~in_range].flat[0]
            raise ValueError(
                f"{self!r}: class label {bad:g} is out of range; labels must be integers "
                f"in [0, {classes}) for {classes} classes"
            )
        return target_arr

    def forward(self, pred: FloatArray, target: ArrayLike) -> float:
        batch, classes = int(pred.shape[0]), int(pred.shape[1])
        log_p = pred - pred.max(axis=1, keepdims=True)
        softmax = np.exp(log_p)
        sums = softmax.sum(axis=1, keepdims=True)
        softmax /= sums
        log_p -= np.log(sums)
        self._softmax = softmax
        e = self.label_smoothing
        target_arr = np.asarray(target)
        if target_arr.shape == pred.shape:
            q = target_arr.astype(pred.dtype, copy=False)
            if e:
                q = q * (1.0 - e)
                q += e / classes
            self._q, self._labels = q, None
            return -float(np.vdot(q, log_p)) / batch
        labels = target_arr.reshape(batch).astype(np.intp, copy=False)
        self._labels, self._q = labels, None
        nll = -float(log_p[np.arange(batch), labels].sum())
        if e:
            uniform = -float(log_p.sum()) / classes
            return ((1.0 - e) * nll + e * uniform) / batch
        return nll / batch

    def backward(self) -> FloatArray:
        softmax = self._softmax
        if softmax is None:
            raise self._not_run_yet()
        batch, classes = int(softmax.shape[0]), int(softmax.shape[1])
        e = self.label_smoothing
        grad: FloatArray = softmax.copy()
        labels, q = self._labels, self._q
        if labels is not None:
            grad[np.arange(batch), labels] -= 1.0 - e
            if e:
                grad -= e / classes
        elif q is not None:
            grad *= q.sum(axis=1, keepdims=True)
            grad -= q
        grad *= 1.0 / batch
        return grad

    def get_config(self) -> dict[str, Any]:
        return {"label_smoothing": self.label_smoothing}

    def __repr__(self) -> str:
        return f"CrossEntropyLoss(label_smoothing={self.label_smoothing})"
