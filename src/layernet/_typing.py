"""Array type aliases and the dtype rule shared by every module.

Layers are not generic over dtype (mypy cannot follow numpy's promotion
rules); every array that carries numbers through a model is a
:data:`FloatArray`, and each layer keeps one dtype, float64 or float32.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.floating[Any]]
"""A float array: float64 by default, float32 fully supported."""

IntArray: TypeAlias = npt.NDArray[np.integer[Any]]
"""An integer array, e.g. class labels."""

ArrayLike: TypeAlias = npt.ArrayLike
"""Anything ``numpy.asarray`` accepts: arrays, nested lists, scalars."""

DTypeLike: TypeAlias = "type[np.floating[Any]] | np.dtype[np.floating[Any]] | str"
"""What a ``dtype=`` argument accepts: ``np.float32``, ``np.dtype("float64")``, ``"float32"``."""

Shape: TypeAlias = tuple[int | None, ...]
"""A per-sample shape (batch axis excluded); ``None`` marks a size not known yet."""

SUPPORTED_DTYPES: tuple[np.dtype[np.floating[Any]], ...] = (
    np.dtype(np.float64),
    np.dtype(np.float32),
)


def as_float_dtype(dtype: object, *, argument: str = "dtype") -> np.dtype[np.floating[Any]]:
    """Return ``dtype`` as a numpy dtype, accepting only float64 and float32.

    Raises
    ------
    TypeError
        If ``dtype`` does not name a dtype, or names one other than float32/float64.
    """
    try:
        resolved = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError as exc:
        raise TypeError(f"{argument} must be np.float64 or np.float32, got {dtype!r}") from exc
    for supported in SUPPORTED_DTYPES:
        if resolved == supported:
            return supported
    raise TypeError(f"{argument} must be np.float64 or np.float32, got {resolved}")
