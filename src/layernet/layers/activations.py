"""Element-wise activation functions.

Each keeps the shape of its input and holds no parameters; called on its
own, it keeps float32 input float32 and converts anything else to float64.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import expit

from .._typing import ArrayLike, FloatArray
from .._validation import as_float_array
from .base import Layer


class Activation(Layer):
    """Base for parameter-free, shape-preserving, element-wise layers."""

    shape_preserving: ClassVar[bool] = True

    def convert_input(self, x: ArrayLike) -> FloatArray:
        dtype = x.dtype if isinstance(x, np.ndarray) and x.dtype == np.float32 else np.float64
        return as_float_array(x, np.dtype(dtype), repr(self))


class Sigmoid(Activation):
    """Logistic sigmoid: ``y = 1 / (1 + exp(-x))``.

    Computed with ``scipy.special.expit``, finite for any input magnitude.

    Backward: ``dy/dx = y * (1 - y)``, so ``dL/dx = g * y * (1 - y)``;
    the layer caches its output ``y`` rather than its input.
    """

    def __init__(self) -> None:
        self._y: FloatArray | None = None

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        y: FloatArray = expit(x)
        self._y = y
        return y

    def backward(self, grad_out: FloatArray) -> FloatArray:
        y = self._y
        if y is None:
            raise self._not_run_yet()
        grad = 1.0 - y
        grad *= y
        grad *= grad_out
        return grad
