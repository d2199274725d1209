"""Checks shared by the public entry points.

Validation happens once per public call (constructors, ``__call__``,
``predict``/``fit``/``evaluate``, ``Loss.__call__``); the inner
forward/backward/step of a training loop do no repeated checking.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ._typing import ArrayLike, FloatArray, Shape

RngLike = np.random.Generator | int | None


def as_generator(rng: object, *, argument: str = "rng") -> np.random.Generator:
    """Return a Generator: an int seeds a fresh one, None draws an unseeded one."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if int(rng) < 0:
            raise ValueError(f"{argument} must be a non-negative seed, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{argument} must be a numpy.random.Generator, an int seed or None, "
        f"got {type(rng).__name__}"
    )


def check_positive_int(value: object, argument: str, owner: str) -> int:
    """Return ``value`` as an int, or raise if it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{owner}: {argument} must be a positive integer, got {type(value).__name__} {value!r}"
        )
    if int(value) < 1:
        raise ValueError(f"{owner}: {argument} must be a positive integer, got {value}")
    return int(value)


def check_bool(value: object, argument: str, owner: str) -> bool:
    """Return ``value`` as a bool, or raise: a string such as ``"no"`` is not silently True."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"{owner}: {argument} must be True or False, got {type(value).__name__} {value!r}"
        )
    return bool(value)


def check_real(
    value: object,
    argument: str,
    owner: str,
    *,
    low: float = -np.inf,
    high: float | None = None,
    positive: bool = False,
) -> float:
    """Return ``value`` as a finite float, or raise naming the owner, argument and bound.

    ``low`` is an inclusive lower bound, ``high`` an exclusive upper one (the
    range is then reported as ``[low, high)``), and ``positive`` asks for
    ``> 0``. The one rule every hyperparameter check in layernet goes through.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{owner}: {argument} must be a real number, got {type(value).__name__} {value!r}"
        )
    result = float(value)
    if not np.isfinite(result):
        raise ValueError(f"{owner}: {argument} must be finite, got {result}")
    if high is not None and not low <= result < high:
        raise ValueError(f"{owner}: {argument} must be in [{low:g}, {high:g}), got {value}")
    if positive and not result > 0:
        raise ValueError(f"{owner}: {argument} must be positive, got {value}")
    if result < low:
        raise ValueError(f"{owner}: {argument} must be >= {low:g}, got {value}")
    return result


def input_dtype(x: object) -> np.dtype[Any]:
    """The dtype a parameter-free layer computes in: float32 input stays float32, else float64.

    Layers without parameters have no dtype of their own; they follow their
    input, and anything that is not already float32 (integers, lists,
    float16) computes in float64.
    """
    if isinstance(x, np.ndarray) and x.dtype == np.float32:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def format_shape(shape: Shape, batch: str = "batch") -> str:
    """Render a per-sample shape with its batch axis: ``(batch, 3)``."""
    dims = [batch] + ["?" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + ")"


def as_float_array(x: ArrayLike, dtype: np.dtype[Any], what: str) -> FloatArray:
    """Convert ``x`` to a real float array of ``dtype`` with a clear error.

    Integer and boolean input converts; strings, objects, complex numbers,
    ragged lists and None do not (numpy would either fail with its own
    message or, for complex, silently drop the imaginary part).
    """
    arr = _to_array(x, what, "an array of real numbers")
    kind = arr.dtype.kind
    if kind not in "biuf":
        described = {"c": "complex numbers", "O": "Python objects", "U": "strings", "S": "bytes"}
        raise TypeError(
            f"{what}: expected an array of real numbers, got {described.get(kind, str(arr.dtype))} "
            f"(dtype {arr.dtype})"
        )
    return arr.astype(dtype, copy=False)


def _to_array(x: object, what: str, expected: str) -> np.ndarray[Any, Any]:
    """``np.asarray(x)``, or an error naming ``what`` and what was ``expected``."""
    if x is None:
        raise TypeError(f"{what}: expected {expected}, got None")
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{what}: expected {expected}, could not convert the input ({type(x).__name__}): {exc}"
        ) from None


def as_index_array(x: ArrayLike, what: str) -> np.ndarray[Any, Any]:
    """Convert ``x`` to an integer array of ids (``numpy.intp``) with a clear error.

    For the layers that take integer input (Embedding): integer arrays
    convert as they are, and float arrays whose values are all whole
    numbers (ids that went through a float array on the way) convert to
    integers; fractional values, NaN, booleans, strings and anything else
    are refused, never rounded or cast to float.
    """
    arr = _to_array(x, what, "an array of integer ids")
    kind = arr.dtype.kind
    if kind in "iu":
        return arr.astype(np.intp, copy=False)
    if kind == "f":
        check_finite(arr, what)
        whole = arr == np.round(arr)
        if not whole.all():
            bad = arr[~whole].flat[0].item()
            raise ValueError(
                f"{what}: expected integer ids, got non-integer value {bad!r} "
                f"(dtype {arr.dtype}); pass token ids as integers, e.g. x.astype(np.int64)"
            )
        return arr.astype(np.intp)
    described = {"b": "booleans", "c": "complex numbers", "O": "Python objects", "U": "strings"}
    raise TypeError(
        f"{what}: expected an array of integer ids, got {described.get(kind, str(arr.dtype))} "
        f"(dtype {arr.dtype})"
    )


_CHECK_BYTES = 1 << 20  # rows per finiteness check: about 1 MiB of input at a time


def check_finite(x: FloatArray, what: str) -> None:
    """Raise a ValueError if ``x`` holds NaN or inf.

    Checks about 1 MiB of rows at a time, so checking a large data set needs
    no boolean temporary the size of the data.
    """
    if x.ndim == 0:
        finite = bool(np.isfinite(x))
    else:
        step = max(1, _CHECK_BYTES // max(1, x[:1].nbytes))
        finite = all(np.isfinite(x[i : i + step]).all() for i in range(0, x.shape[0], step))
    if finite:
        return
    bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
    raise ValueError(f"{what}: contains {bad} NaN or infinite value(s); clean the data first")
