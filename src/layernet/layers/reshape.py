"""Reshaping layers: Flatten."""

from __future__ import annotations

import math
from typing import ClassVar

from .._typing import FloatArray, Shape
from .base import Layer, describe
from .registry import register


@register
class Flatten(Layer):
    """Flatten every axis after the batch axis: ``(batch, d1, d2, ...) -> (batch, d1*d2*...)``.

    torch's ``nn.Flatten()`` with its defaults (``start_dim=1``); C order, so
    a ``(batch, channels, length)`` input becomes channel-major rows.
    Parameter-free; keeps float32 input float32.

    Backward: a reshape moves no values, so ``dL/dx`` is ``g`` reshaped back
    to the input's shape.
    """

    follows_input_dtype: ClassVar[bool] = True

    def __init__(self) -> None:
        self._shape: tuple[int, ...] | None = None

    def check_input(self, shape: tuple[int, ...], position: int | None = None) -> None:
        if len(shape) < 2:
            raise ValueError(
                f"{describe(self, position)}: expected input of shape (batch, d1, ...), got "
                f"{shape}; there is nothing to flatten without a batch axis and a feature axis"
            )

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out: FloatArray) -> FloatArray:
        shape = self._shape
        if shape is None:
            raise self._not_run_yet()
        return grad_out.reshape(shape)

    def output_shape(self, input_shape: Shape | None) -> Shape | None:
        if input_shape is None:
            return None
        if any(d is None for d in input_shape):
            return (None,)
        return (math.prod(d for d in input_shape if d is not None),)
