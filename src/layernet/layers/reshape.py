"""Reshaping layers: Flatten, Reshape and Permute (per-sample: the batch axis stays first)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .._typing import FloatArray, IntArray, Shape
from .base import Layer, describe
from .registry import register
from .spec import InputSpec


class _Relayout(Layer):
    """Flatten's and Reshape's common part: each sample's values laid out anew, none moved.

    Backward: a reshape moves no values, so ``dL/dx`` is ``g`` reshaped back
    to the input's shape.
    """

    follows_input_dtype: ClassVar[bool] = True
    cache_attributes: ClassVar[tuple[str, ...]] = ("_in_shape",)
    tree_attributes: ClassVar[tuple[str, ...] | None] = ()
    shape: tuple[int, ...]
    """The per-sample output shape, as ``ndarray.reshape`` takes it (one ``-1`` allowed)."""

    def __init__(self) -> None:
        self._in_shape: tuple[int, ...] | None = None

    @property
    def input_spec(self) -> InputSpec:
        """``(batch, d1, ...)``: at least one axis after the batch axis."""
        return InputSpec(min_rank=1)

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        self._in_shape = x.shape
        return x.reshape(x.shape[0], *self.shape)

    def backward(self, grad_out: FloatArray) -> FloatArray:
        shape = self._in_shape
        if shape is None:
            raise self._not_run_yet()
        return grad_out.reshape(shape)


@register
class Flatten(_Relayout):
    """Flatten every axis after the batch axis: ``(batch, d1, d2, ...) -> (batch, d1*d2*...)``.

    torch's ``nn.Flatten()`` with its defaults (``start_dim=1``); C order, so
    a ``(batch, channels, length)`` input becomes channel-major rows.
    Parameter-free; keeps float32 input float32.

    Backward: a reshape moves no values, so ``dL/dx`` is ``g`` reshaped back
    to the input's shape.
    """

    shape = (-1,)

    def output_shape(self, input_shape: Shape | None) -> Shape | None:
        if input_shape is None:
            return None
        if any(d is None for d in input_shape):
            return (None,)
        return (math.prod(d for d in input_shape if d is not None),)


@register
class Reshape(_Relayout):
    """Reshape each sample: ``(batch, *input_shape) -> (batch, *shape)``, as Keras's ``Reshape``.

    The batch axis is left alone; ``shape`` is the per-sample target, in C
    order, and one of its entries may be ``-1`` (its size then follows from
    the others). The sample's size must not change. Parameter-free; keeps
    float32 input float32.

    Parameters
    ----------
    shape : sequence of int (or 1-D int array)
        Positive sizes, at most one ``-1``.

    Notes
    -----
    Backward: a reshape moves no values, so ``dL/dx`` is ``g`` reshaped back
    to the input's shape.
    """

    def __init__(self, shape: Sequence[int] | IntArray) -> None:
        super().__init__()
        self.shape = _int_tuple(shape, "Reshape", "shape", "a sequence of ints such as (4, -1)")
        name = f"Reshape({self.shape})"
        if not self.shape:
            raise ValueError(f"{name}: shape must have at least one axis")
        if any(d == 0 or d < -1 for d in self.shape) or self.shape.count(-1) > 1:
            raise ValueError(
                f"{name}: shape must hold positive sizes and at most one -1, got {self.shape}"
            )

    def check_input(self, shape: tuple[int, ...], position: int | None = None) -> None:
        """Besides the spec, a sample's size must be the target's (or a multiple, with a -1)."""
        super().check_input(shape, position)
        self._target(shape[1:], position, shape)

    def _target(
        self, sample: Shape, position: int | None, batch_shape: tuple[int, ...] | None = None
    ) -> Shape:
        """The per-sample output shape for a per-sample input (``None`` sizes stay unknown)."""
        known = math.prod(d for d in self.shape if d != -1)
        if any(d is None for d in sample):
            return tuple(None if d == -1 else d for d in self.shape)
        size = math.prod(d for d in sample if d is not None)
        free = -1 in self.shape
        if (size % known if free else size - known) != 0:
            wanted = f"a multiple of {known}" if free else str(known)
            received = "" if batch_shape is None else f"got input of shape {batch_shape}: "
            raise ValueError(
                f"{describe(self, position)}: {received}cannot reshape a sample of shape "
                f"{tuple(sample)} "
                f"({size} values) into {self.shape} ({wanted} values); a reshape keeps every "
                "value, so the sizes must agree"
            )
        return tuple(size // known if d == -1 else d for d in self.shape)

    def output_shape(self, input_shape: Shape | None) -> Shape | None:
        if input_shape is None:
            return tuple(None if d == -1 else d for d in self.shape)
        return self._target(input_shape, None)

    def get_config(self) -> dict[str, Any]:
        return {"shape": list(self.shape)}

    def __repr__(self) -> str:
        return f"Reshape({self.shape})"


@register
class Permute(Layer):
    """Permute the axes of each sample, as Keras's ``Permute(dims)``.

    ``dims`` numbers the per-sample axes from 1 (the batch axis, 0, stays
    first): ``Permute((2, 1))`` turns ``(batch, time, features)`` into
    ``(batch, features, time)``, the channels-first layout Conv1d takes, and
    back. The output is ``x.transpose(0, *dims)``, a view.
    Parameter-free; keeps float32 input float32.

    Parameters
    ----------
    dims : sequence of int (or 1-D int array)
        A permutation of ``1, ..., k`` for inputs of shape ``(batch, d1, ..., dk)``.

    Notes
    -----
    Backward: output axis ``i`` is input axis ``dims[i]``, so the gradient
    goes back through the inverse permutation,
    ``dL/dx = g.transpose(0, *argsort(dims))``.
    """

    follows_input_dtype: ClassVar[bool] = True
    cache_attributes: ClassVar[tuple[str, ...]] = ("_ran",)
    tree_attributes: ClassVar[tuple[str, ...] | None] = ()
    dims: tuple[int, ...]

    def __init__(self, dims: Sequence[int] | IntArray) -> None:
        self.dims = _int_tuple(dims, "Permute", "dims", "a sequence of ints such as (2, 1)")
        k = len(self.dims)
        if sorted(self.dims) != list(range(1, k + 1)):
            raise ValueError(
                f"Permute: dims must be a permutation of {tuple(range(1, k + 1))} (the "
                f"per-sample axes, numbered from 1; the batch axis 0 stays first), got {self.dims}"
            )
        self._inverse = (0, *(1 + self.dims.index(axis) for axis in range(1, k + 1)))
        self._ran: bool | None = None

    @property
    def input_spec(self) -> InputSpec:
        """``(batch, d1, ..., dk)`` with ``k = len(dims)``."""
        return InputSpec(len(self.dims))

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        self._ran = True
        y: FloatArray = x.transpose(0, *self.dims)
        return y

    def backward(self, grad_out: FloatArray) -> FloatArray:
        if self._ran is None:
            raise self._not_run_yet()
        grad: FloatArray = grad_out.transpose(self._inverse)
        return grad

    def output_shape(self, input_shape: Shape | None) -> Shape | None:
        if input_shape is None or len(input_shape) != len(self.dims):
            return None
        return tuple(input_shape[d - 1] for d in self.dims)

    def get_config(self) -> dict[str, Any]:
        return {"dims": list(self.dims)}

    def __repr__(self) -> str:
        return f"Permute({self.dims})"


def _int_tuple(value: object, owner: str, argument: str, expected: str) -> tuple[int, ...]:
    """``value`` as a tuple of ints, or a TypeError naming the owner and argument."""
    if isinstance(value, np.ndarray) and value.ndim == 1:
        value = value.tolist()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{owner}: {argument} must be {expected}, got {type(value).__name__}")
    if not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in value):
        raise TypeError(f"{owner}: {argument} must be {expected}, got {tuple(value)!r}")
    return tuple(int(d) for d in value)
