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

from ._typing import ArrayLike, FloatArray
from ._validation import as_float_array


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
        pred_arr = as_float_array(pred, _float_dtype_of(pred), f"{self!r}: pred")
        target_arr = self.check_target(pred_arr, target)
        return self.forward(pred_arr, target_arr)

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


def _float_dtype_of(x: ArrayLike) -> np.dtype[Any]:
    if isinstance(x, np.ndarray) and x.dtype == np.float32:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


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
        diff = pred - match_shapes(self, pred, np.asarray(target, dtype=pred.dtype))
        self._diff = diff
        flat = diff.reshape(-1)
        return float(np.dot(flat, flat)) / flat.size

    def backward(self) -> FloatArray:
        diff = self._diff
        if diff is None:
            raise self._not_run_yet()
        return diff * (2.0 / diff.size)
