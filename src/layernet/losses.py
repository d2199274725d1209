"""Losses: a scalar measure of error and its gradient with respect to the prediction.

A loss sees only arrays. Like a layer it is stateful: :meth:`Loss.forward`
caches what :meth:`Loss.backward` needs, so the loop is
``loss.forward(pred, target)`` then ``loss.backward()``. The value is the
mean over every element (torch's ``reduction="mean"``), so a batch of one
reproduces per-sample SGD exactly.

Every loss here is a sum of per-row shares (the row's terms divided by the
loss's normaliser), so per-sample weights need no loss of their own:
:meth:`Loss.weighted_forward` returns ``sum_i w_i * share_i`` and
:meth:`Loss.weighted_backward` scales row ``i`` of the gradient by ``w_i``.
With unit weights that is the plain loss; in general it is Keras's
``"sum_over_batch_size"`` reduction: the weighted terms divided by the same
count as the unweighted mean (not by the sum of the weights).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

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

    Attributes
    ----------
    pred_kind : {"values", "probabilities", "logits"}
        What the predictions this loss takes hold: plain values (regression),
        probabilities in [0, 1] (:class:`BCELoss`) or logits
        (:class:`BCEWithLogitsLoss`, :class:`CrossEntropyLoss`). Metrics
        named by a string read it to pick their decision rule (a logit is
        positive above 0, a probability above 0.5).
    """

    pred_kind: ClassVar[str] = "values"

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

    def sample_losses(self) -> FloatArray:
        """Each row's share of the last :meth:`forward`'s value: shape (batch,), summing to it.

        Row ``i``'s share is its terms divided by the loss's normaliser (the
        element count for the element-wise losses), so that
        ``sum_i w_i * share_i`` is the sample-weighted loss. A loss that
        cannot split its value by rows keeps this default, which raises
        NotImplementedError, and cannot take sample weights.
        """
        raise NotImplementedError(
            f"{self!r} does not split its value by rows (Loss.sample_losses), so it cannot "
            "weight samples; implement sample_losses() or train without sample_weight/class_weight"
        )

    def weighted_forward(
        self, pred: FloatArray, target: ArrayLike, sample_weight: FloatArray
    ) -> float:
        """The loss with row ``i`` weighted by ``sample_weight[i]``: ``sum_i w_i * share_i``.

        Keras's ``fit(sample_weight=...)`` meaning: each sample's loss is
        multiplied by its weight and the result divided by the same count as
        the unweighted mean (Keras's ``"sum_over_batch_size"``), not by the
        sum of the weights; unit weights give :meth:`forward`'s value. Like
        :meth:`forward`, no checking: ``sample_weight`` is a float array of
        shape (batch,).
        """
        self.forward(pred, target)
        return float(np.dot(self.sample_losses(), sample_weight))

    def weighted_backward(self, sample_weight: FloatArray) -> FloatArray:
        """dL/dpred of :meth:`weighted_forward`: :meth:`backward` with row ``i`` times ``w_i``.

        Each share depends on its own row of ``pred`` only, so
        ``d(sum_i w_i share_i)/dpred_i = w_i * d(share_i)/dpred_i``.
        """
        grad = self.backward()
        view = sample_weight.reshape((-1,) + (1,) * (grad.ndim - 1)).astype(grad.dtype, copy=False)
        result: FloatArray = grad * view
        return result

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


class _DifferenceLoss(Loss):
    """``L = mean(l(d))`` over every element of ``d = pred - target``; ``dL/dpred = l'(d) / N``.

    A subclass gives the element-wise loss :meth:`_terms` and the gradient
    :meth:`_gradient`; forward keeps ``d`` as its cache.
    """

    def __init__(self) -> None:
        self._diff: FloatArray | None = None

    @abstractmethod
    def _terms(self, diff: FloatArray) -> FloatArray:
        """``l(d)`` element-wise."""

    @abstractmethod
    def _gradient(self, diff: FloatArray) -> FloatArray:
        """``dL/dpred = l'(d) / N`` element-wise, ``N = d.size``, as a fresh array."""

    def forward(self, pred: FloatArray, target: ArrayLike) -> float:
        diff = pred - _as_target(self, pred, target)
        self._diff = diff
        return self._mean(diff)

    def _mean(self, diff: FloatArray) -> float:
        """``mean(l(d))``."""
        return float(self._terms(diff).sum()) / diff.size

    def backward(self) -> FloatArray:
        return self._gradient(self._last_diff())

    def sample_losses(self) -> FloatArray:
        diff = self._last_diff()
        return _row_shares(self._terms(diff), diff.size)

    def _last_diff(self) -> FloatArray:
        diff = self._diff
        if diff is None:
            raise self._not_run_yet()
        return diff


class MSELoss(_DifferenceLoss):
    """Mean squared error: ``L = mean((pred - target) ** 2)`` over every element.

    The mean of squares, not half of it and not the sum (torch's ``MSELoss``).

    Backward: ``dL/dpred = 2 * (pred - target) / N`` with ``N = pred.size``.
    """

    def _mean(self, diff: FloatArray) -> float:
        # vdot: the flattened arrays' dot, bit for bit np.dot's, but without dot's overflow
        # warning (an overflow is inf, which the callers report), so without np.errstate,
        # which costs more than the rest of a one-sample step's loss
        return float(np.vdot(diff, diff)) / diff.size

    def _terms(self, diff: FloatArray) -> FloatArray:
        return diff * diff

    def _gradient(self, diff: FloatArray) -> FloatArray:
        return diff * (2.0 / diff.size)


def _row_shares(terms: FloatArray, normaliser: float) -> FloatArray:
    """Per-row sums of element-wise ``terms`` divided by ``normaliser``: shape (batch,)."""
    shares: FloatArray = terms.reshape(len(terms), -1).sum(axis=1)
    shares /= normaliser
    return shares


def _check_unit_interval(loss: Loss, name: str, values: FloatArray, fix: str) -> None:
    """Raise a ValueError naming the first entry of ``values`` outside [0, 1] (NaN included)."""
    inside = (values >= 0) & (values <= 1)
    if not inside.all():
        bad = values[~inside].flat[0]
        raise ValueError(f"{loss!r}: {name} must lie in [0, 1], got {bad}; {fix}")


def _as_target(loss: Loss, pred: FloatArray, target: ArrayLike) -> FloatArray:
    """The fast-path conversion: ``target`` as ``pred``'s dtype and shape."""
    t = np.asarray(target, dtype=pred.dtype)
    return t if t.shape == pred.shape and t.size else match_shapes(loss, pred, t)


class L1Loss(_DifferenceLoss):
    """Mean absolute error: ``L = mean(|pred - target|)`` over every element.

    Backward: ``dL/dpred = sign(pred - target) / N`` with ``N = pred.size``
    (0 where they are equal, as torch does).
    """

    def _terms(self, diff: FloatArray) -> FloatArray:
        return np.abs(diff)

    def _gradient(self, diff: FloatArray) -> FloatArray:
        grad: FloatArray = np.sign(diff)
        grad *= 1.0 / diff.size
        return grad


class HuberLoss(_DifferenceLoss):
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
        super().__init__()
        self.delta: float = check_real(delta, "delta", "HuberLoss")
        if not self.delta > 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")

    def _terms(self, diff: FloatArray) -> FloatArray:
        a = np.abs(diff)
        # c = min(|d|, delta): c * (|d| - c / 2) is |d|**2 / 2 inside and
        # delta * (|d| - delta / 2) outside, bit for bit, without squaring a large |d|
        c: FloatArray = np.minimum(a, self.delta)
        c *= a - 0.5 * c
        return c

    def _gradient(self, diff: FloatArray) -> FloatArray:
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
        return float(self._terms(p, t).sum()) / p.size

    @staticmethod
    def _terms(p: FloatArray, t: FloatArray) -> FloatArray:
        """Element-wise ``-(t log p + (1 - t) log(1 - p))``."""
        log_q = np.log1p(-p)
        log_p = np.log(p)
        log_p -= log_q
        log_p *= t
        log_p += log_q
        np.negative(log_p, out=log_p)
        return log_p

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

    def sample_losses(self) -> FloatArray:
        p, t = self._p, self._t
        if p is None or t is None:
            raise self._not_run_yet()
        return _row_shares(self._terms(p, t), p.size)


def _class_weights(owner: str, argument: str, weights: ArrayLike) -> FloatArray:
    """``weights`` as a 1-D float64 array of finite values >= 0, or a clear error."""
    arr = as_float_array(weights, np.dtype(np.float64), f"{owner}: {argument}")
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"{owner}: {argument} must be a 1-D array with one weight per class, "
            f"got shape {arr.shape}"
        )
    if not (np.isfinite(arr).all() and (arr >= 0).all()):
        bad = arr[~(np.isfinite(arr) & (arr >= 0))][0]
        raise ValueError(f"{owner}: {argument} must hold finite values >= 0, got {bad}")
    arr.flags.writeable = False
    return arr


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits, numerically stable (torch's ``BCEWithLogitsLoss``).

    With ``p = sigmoid(x)`` and ``sp(x) = log(1 + exp(-x)) = -log p``, each
    element's loss is ``l = pw * t * sp(x) + (1 - t) * (x + sp(x))`` with
    ``pw = pos_weight`` (1 without it), computed as
    ``(1 - t) x + (1 + (pw - 1) t) (max(-x, 0) + log(1 + exp(-|x|)))``,
    which never overflows. ``L`` is the mean of ``l`` over every element
    (torch's normalisation: ``pos_weight`` scales the positive terms, the
    divisor stays the element count). ``target`` must lie in [0, 1].

    Parameters
    ----------
    pos_weight : array-like of shape (outputs,) or scalar, optional
        Weight of the positive examples of each output column, finite and
        >= 0; ``n_negative / n_positive`` balances a column (torch's
        ``pos_weight``).

    Notes
    -----
    Backward: with ``w = 1 + (pw - 1) t``,
    ``dl/dx = pw t (p - 1) + (1 - t) p = w p - pw t``, so
    ``dL/dx = (w sigmoid(x) - pw t) / N``; without ``pos_weight`` that is
    ``(sigmoid(x) - t) / N``.
    """

    pred_kind = "logits"

    def __init__(self, pos_weight: ArrayLike | None = None) -> None:
        self.pos_weight: FloatArray | None = (
            None
            if pos_weight is None
            else _class_weights("BCEWithLogitsLoss", "pos_weight", pos_weight)
        )
        self._x: FloatArray | None = None
        self._t: FloatArray | None = None

    def check_target(self, pred: FloatArray, target: ArrayLike) -> FloatArray:
        target_arr = super().check_target(pred, target)
        _check_unit_interval(self, "target", target_arr, "pass labels 0/1 or probabilities")
        pw = self.pos_weight
        if pw is not None and pw.size != 1 and (pred.ndim < 2 or pred.shape[-1] != pw.size):
            raise ValueError(
                f"{self!r}: pos_weight holds {pw.size} weights but the prediction of shape "
                f"{pred.shape} has {pred.shape[-1] if pred.ndim else 1} output column(s); "
                "pass one weight per column"
            )
        return target_arr

    def forward(self, pred: FloatArray, target: ArrayLike) -> float:
        t = _as_target(self, pred, target)
        self._x, self._t = pred, t
        return float(self._terms(pred, t).sum()) / pred.size

    def _terms(self, x: FloatArray, t: FloatArray) -> FloatArray:
        """Element-wise loss ``l``."""
        per = np.abs(x)
        np.negative(per, out=per)
        np.exp(per, out=per)
        np.log1p(per, out=per)
        if self.pos_weight is None:
            per += np.maximum(x, 0.0)
            per -= x * t
            return per
        pw = self.pos_weight.astype(x.dtype, copy=False)
        per += np.maximum(-x, 0.0)  # sp(x) = -log sigmoid(x)
        per *= 1.0 + (pw - 1.0) * t
        per += (1.0 - t) * x
        return per

    def backward(self) -> FloatArray:
        x, t = self._x, self._t
        if x is None or t is None:
            raise self._not_run_yet()
        grad: FloatArray = expit(x)
        if self.pos_weight is None:
            grad -= t
        else:
            pw = self.pos_weight.astype(x.dtype, copy=False)
            grad *= 1.0 + (pw - 1.0) * t
            grad -= pw * t
        grad *= 1.0 / x.size
        return grad

    def sample_losses(self) -> FloatArray:
        x, t = self._x, self._t
        if x is None or t is None:
            raise self._not_run_yet()
        return _row_shares(self._terms(x, t), x.size)

    def get_config(self) -> dict[str, Any]:
        pw = self.pos_weight
        return {"pos_weight": None if pw is None else pw.tolist()}

    def __repr__(self) -> str:
        if self.pos_weight is None:
            return "BCEWithLogitsLoss()"
        return f"BCEWithLogitsLoss(pos_weight={self.pos_weight.tolist()})"


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

    Logits with more axes, (batch, ..., C) with the classes last (Keras's
    convention for batch-first sequences: a sequence model's (batch, time,
    C)), take labels of shape (batch, ...) or probabilities of the logits'
    shape; every position counts as a row, so the mean (and torch's
    weighted normaliser) runs over all positions of all samples, as torch's
    ``cross_entropy`` on ``(N, C, d)`` does. A sample's
    :meth:`sample_losses` share is the sum of its positions' shares.

    With ``label_smoothing = e``, ``q`` becomes ``(1 - e) q + e / C``, as in
    torch.

    With class weights ``w`` (torch's ``weight``), each row's terms become
    ``-sum_c w_c q_c log p_c`` and the normalisation follows torch's:

    - class labels: the sum is divided by the total weight of the targets,
      ``sum_i w_{y_i}``, not by the batch size, so the loss is a weighted
      *mean* (``label_smoothing``'s part too, as in torch). A batch whose
      targets all weigh 0 has loss 0 and gradient 0 (torch returns NaN);
    - probability rows: the sum is divided by the batch size.

    Parameters
    ----------
    label_smoothing : float
        In [0, 1]; 0 by default.
    weight : array-like of shape (C,), optional
        A weight per class, finite and >= 0 (e.g. inversely proportional to
        the class frequencies).

    Notes
    -----
    Backward: with ``a = w * q`` per row (``w = 1`` without weights) and
    ``D`` the normaliser above, ``dL/dz = (softmax(z) * sum_c a_c - a) / D``,
    i.e. ``(softmax(z) - q) / batch`` when each row of ``q`` sums to one and
    there are no weights; with labels and no weights no one-hot array is
    built: subtract ``1 - e`` at the label and ``e / C`` everywhere.
    """

    pred_kind = "logits"

    def __init__(self, label_smoothing: float = 0.0, weight: ArrayLike | None = None) -> None:
        smoothing = check_real(label_smoothing, "label_smoothing", "CrossEntropyLoss")
        if not 0.0 <= smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}"
            )
        self.label_smoothing: float = smoothing
        self.weight: FloatArray | None = (
            None if weight is None else _class_weights("CrossEntropyLoss", "weight", weight)
        )
        self._softmax: FloatArray | None = None
        self._log_p: FloatArray | None = None
        self._labels: npt.NDArray[np.intp] | None = None
        self._q: FloatArray | None = None
        self._norm = 1.0
        self._shape: tuple[int, ...] = (0, 0)

    def check_target(self, pred: FloatArray, target: ArrayLike) -> FloatArray:
        """Check logits (batch, ..., C) and labels in ``[0, C)`` or probability rows in [0, 1].

        For logits with more axes, such as a sequence's (batch, time, C),
        the labels have the logits' shape without the class axis (Keras's
        class-last convention) and every position is checked like a row.
        """
        if pred.ndim < 2:
            raise ValueError(
                f"{self!r}: expected logits of shape (batch, classes), got {pred.shape} "
                "(a sequence model's are (batch, ..., classes))"
            )
        if pred.size == 0:
            raise ValueError(f"{self!r}: got an empty batch (pred of shape {pred.shape})")
        if pred.ndim == 2:
            return self._check_rows(pred, target)
        classes = pred.shape[-1]
        target_arr = as_float_array(target, pred.dtype, f"{self!r}: target")
        folded: FloatArray
        if target_arr.shape == pred.shape:
            folded = target_arr.reshape(-1, classes)
        elif target_arr.shape in (pred.shape[:-1], (*pred.shape[:-1], 1)):
            folded = target_arr.reshape(-1)
        else:
            raise ValueError(
                f"{self!r}: for logits of shape {pred.shape} (classes on the last axis), "
                f"target must be class labels of shape {pred.shape[:-1]} or probability rows "
                f"of shape {pred.shape}, got {target_arr.shape}"
            )
        checked = self._check_rows(pred.reshape(-1, classes), folded)
        return checked.reshape(pred.shape if folded.ndim == 2 else pred.shape[:-1])

    def _check_rows(self, pred: FloatArray, target: ArrayLike) -> FloatArray:
        """``check_target`` for logits of shape (batch, C)."""
        batch, classes = pred.shape
        if self.weight is not None and self.weight.size != classes:
            raise ValueError(
                f"{self!r}: weight holds {self.weight.size} class weights but the logits of "
                f"shape {pred.shape} have {classes} classes; pass one weight per class"
            )
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
        self._shape = pred.shape
        if pred.ndim > 2:  # (batch, ..., C): every position is a row
            target = np.asarray(target)
            rows = (-1, pred.shape[-1]) if target.shape == pred.shape else (-1,)
            target = target.reshape(rows)
            pred = pred.reshape(-1, pred.shape[-1])
        batch, classes = int(pred.shape[0]), int(pred.shape[1])
        log_p = pred - pred.max(axis=1, keepdims=True)
        softmax = np.exp(log_p)
        sums = softmax.sum(axis=1, keepdims=True)
        softmax /= sums
        log_p -= np.log(sums)
        self._softmax, self._log_p = softmax, log_p
        e = self.label_smoothing
        target_arr = np.asarray(target)
        if self.weight is not None:
            return self._weighted(log_p, target_arr)
        self._norm = float(batch)
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

    def _weighted(self, log_p: FloatArray, target: np.ndarray[Any, Any]) -> float:
        """Forward with class weights: ``a = w * q`` per row, divided by torch's normaliser."""
        assert self.weight is not None
        batch, classes = log_p.shape
        w = self.weight.astype(log_p.dtype, copy=False)
        e = self.label_smoothing
        if target.shape == log_p.shape:
            q = target.astype(log_p.dtype)
            norm = float(batch)
        else:
            labels = target.reshape(batch).astype(np.intp, copy=False)
            q = np.zeros_like(log_p)
            q[np.arange(batch), labels] = 1.0
            norm = float(w[labels].sum())
        if e:
            q *= 1.0 - e
            q += e / classes
        q *= w
        self._q, self._labels = q, None
        self._norm = norm if norm > 0 else math.inf  # no weight at all: loss and gradient 0
        return -float(np.vdot(q, log_p)) / self._norm

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
        grad *= 1.0 / self._norm
        return grad.reshape(self._shape)

    def sample_losses(self) -> FloatArray:
        log_p = self._log_p
        if log_p is None:
            raise self._not_run_yet()
        batch, classes = int(log_p.shape[0]), int(log_p.shape[1])
        labels, q = self._labels, self._q
        if q is not None:
            terms = np.einsum("ij,ij->i", q, log_p)
        elif labels is not None:
            e = self.label_smoothing
            terms = (1.0 - e) * log_p[np.arange(batch), labels]
            if e:
                terms += (e / classes) * log_p.sum(axis=1)
        else:
            raise self._not_run_yet()
        shares: FloatArray = (terms / -self._norm).reshape(self._shape[0], -1)
        per_sample: FloatArray = shares.sum(axis=1)  # a sample's positions add up
        return per_sample

    def get_config(self) -> dict[str, Any]:
        weight = None if self.weight is None else self.weight.tolist()
        return {"label_smoothing": self.label_smoothing, "weight": weight}

    def __repr__(self) -> str:
        if self.weight is None:
            return f"CrossEntropyLoss(label_smoothing={self.label_smoothing})"
        return (
            f"CrossEntropyLoss(label_smoothing={self.label_smoothing}, "
            f"weight={self.weight.tolist()})"
        )
