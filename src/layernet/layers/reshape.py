"""Reshaping layers: Flatten."""

from __future__ import annotations

import math
from typing import ClassVar

from .._typing import FloatArray, Shape
from .base import Layer
from .registry import register
from .spec import InputSpec


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
    cache_attributes: ClassVar[tuple[str, ...]] = ("_in_shape",)

    def __init__(self) -> None:
        self._in_shape: tuple[int, ...] | None = None

    @property
    def input_spec(self) -> InputSpec:
        """``(batch, d1, ...)``: at least one axis after the batch axis."""
        return InputSpec(min_rank=1)

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        self._in_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out: FloatArray) -> FloatArray:
        shape = self._in_shape
        if shape is None:
            raise self._not_run_yet()
        return grad_out.reshape(shape)

    def output_shape(self, input_shape: Shape | None) -> Shape | None:
        if input_shape is None:
            return None
        if any(d is None for d in input_shape):
            return (None,)
        return (math.prod(d for d in input_shape if d is not None),)
