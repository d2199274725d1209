"""Regularization layers: Dropout."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._typing import FloatArray
from .._validation import RngLike, as_generator, check_real
from .base import Layer
from .registry import register


@register
class Dropout(Layer):
    """Inverted dropout: in training, zero each input with probability ``p``, scale the rest.

    ``y = x * mask / (1 - p)`` with ``mask ~ Bernoulli(1 - p)`` drawn afresh
    on every training forward, so the expected output equals ``x`` and
    inference needs no rescaling: with ``training=False`` (or ``p = 0``) the
    layer returns its input unchanged. Parameter-free; like an activation it
    keeps float32 input float32.

    Parameters
    ----------
    p : float
        Probability of zeroing an element, in [0, 1); 0.5 by default (torch).
    rng : numpy.random.Generator, int or None
        Source of the masks; an int seeds a fresh Generator.

    Notes
    -----
    Backward: ``y`` is linear in ``x`` for a fixed mask, so
    ``dL/dx = g * mask / (1 - p)`` with the mask of the last forward
    (``dL/dx = g`` after an inference forward).
    """

    shape_preserving: ClassVar[bool] = True
    follows_input_dtype: ClassVar[bool] = True
    cache_attributes: ClassVar[tuple[str, ...]] = ("_scaled_mask",)
    tree_attributes: ClassVar[tuple[str, ...] | None] = ()
    p: float
    rng: np.random.Generator

    def __init__(self, p: float = 0.5, *, rng: RngLike = None) -> None:
        self.p = check_real(p, "p", "Dropout")
        if not 0.0 <= self.p < 1.0:
            raise ValueError(
                f"Dropout: p must be in [0, 1) (the probability of dropping an element), got {p}"
            )
        self.rng = as_generator(rng)
        # mask / (1 - p) of the last forward; 1.0 if it dropped nothing; None before any
        self._scaled_mask: FloatArray | float | None = None

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        if not training or self.p == 0.0:
            self._scaled_mask = 1.0
            return x
        mask: FloatArray = self.rng.random(x.shape, dtype=x.dtype)
        np.multiply(mask >= self.p, 1.0 / (1.0 - self.p), out=mask)
        self._scaled_mask = mask
        y: FloatArray = x * mask
        return y

    def backward(self, grad_out: FloatArray) -> FloatArray:
        mask = self._scaled_mask
        if mask is None:
            raise self._not_run_yet()
        if isinstance(mask, float):
            return grad_out
        grad: FloatArray = grad_out * mask
        return grad

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"
