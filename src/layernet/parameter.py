"""Parameter: a trainable array and its gradient, travelling together."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._typing import FloatArray

_MOVES = [0]
"""How many times any Parameter's ``value``, ``grad`` or ``trainable`` was set (:func:`moves`)."""


def moves() -> int:
    """A counter that changes whenever any Parameter's ``value`` or ``grad`` is rebound.

    Optimizers cache where their parameters' arrays live, and which of them
    are trainable; while this number is what it was when they looked,
    nothing can have moved or been frozen, so the check before each step is
    one comparison instead of one per parameter. Setting ``trainable``
    changes it too.
    """
    return _MOVES[0]


@dataclass(eq=False, repr=False)
class Parameter:
    """A named array and the gradient of the loss with respect to it.

    Layers create their parameters and ``backward`` overwrites ``grad`` in
    place with the gradient of the last batch (it never accumulates);
    optimizers update ``value`` in place from ``grad``. Identity is the hash,
    so optimizers key their state by the Parameter itself.

    Parameters
    ----------
    value : ndarray of float
        The array, of any shape; float64 or float32.
    grad : ndarray of float, optional
        Its gradient, same shape and dtype; zeros when omitted.
    name : str
        A short name such as ``"weight"``; containers add dotted prefixes.
    trainable : bool
        False freezes it (torch's ``requires_grad=False``): optimizers leave
        it as it is, even one built before it was frozen, and keep its state
        (moments, step count) untouched until it is unfrozen. ``backward``
        still writes its ``grad``. ``layer.trainable = False`` sets it for
        all of a layer's parameters.

    Notes
    -----
    Readers and writers must use ``value`` and ``grad`` in place
    (``out=``, ``[...] =``), never rebind them, so that views held elsewhere
    (an optimizer's flat buffers, say) stay in step.
    """

    value: FloatArray
    grad: FloatArray = field(default_factory=lambda: np.empty(0))
    name: str = ""
    trainable: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.value, np.ndarray) or self.value.dtype not in (
            np.float32,
            np.float64,
        ):
            raise TypeError(
                f"Parameter {self.name!r}: value must be a float32 or float64 ndarray, "
                f"got {type(self.value).__name__}"
                + (f" of dtype {self.value.dtype}" if isinstance(self.value, np.ndarray) else "")
            )
        if not isinstance(self.grad, np.ndarray):
            raise TypeError(
                f"Parameter {self.name!r}: grad must be an ndarray like value, "
                f"got {type(self.grad).__name__}"
            )
        if not isinstance(self.trainable, (bool, np.bool_)):
            raise TypeError(
                f"Parameter {self.name!r}: trainable must be a bool, "
                f"got {type(self.trainable).__name__}"
            )
        self.trainable = bool(self.trainable)
        if self.grad.size == 0 and self.value.size != 0:
            self.grad = np.zeros_like(self.value)
        if self.grad.shape != self.value.shape or self.grad.dtype != self.value.dtype:
            raise ValueError(
                f"Parameter {self.name!r}: grad must match value's shape and dtype "
                f"{self.value.shape} {self.value.dtype}, got {self.grad.shape} {self.grad.dtype}"
            )

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``value``."""
        return self.value.shape

    @property
    def size(self) -> int:
        """The number of scalars in ``value``."""
        return int(self.value.size)

    @property
    def dtype(self) -> np.dtype[Any]:
        """The dtype of ``value`` (and ``grad``)."""
        return self.value.dtype

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "value" or name == "grad" or name == "trainable":
            _MOVES[0] += 1
        object.__setattr__(self, name, value)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle ``value``, ``name`` and ``trainable``; not ``grad`` (backward rewrites it)."""
        return {"value": self.value, "name": self.name, "trainable": self.trainable}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore ``value``, ``name`` and ``trainable``; ``grad`` comes back as zeros."""
        self.value = state["value"]
        self.name = state["name"]
        self.trainable = bool(state.get("trainable", True))
        self.grad = np.zeros_like(self.value)

    def __repr__(self) -> str:
        frozen = "" if self.trainable else ", trainable=False"
        return f"Parameter(name={self.name!r}, shape={self.shape}, dtype={self.dtype}{frozen})"


def pack_parameters(params: Iterable[Parameter]) -> None:
    """Make the parameters' values (and grads) views into one contiguous buffer per dtype.

    The numbers are kept; only where they live changes. Every optimizer
    calls this on the parameters it is given, at construction: over packed
    parameters a step updates the whole model with a handful of ufunc calls
    instead of a handful per parameter (see :func:`flat_span`). Parameters
    that already tile a buffer in order (packed earlier, by another
    optimizer over the same or more parameters) are left where they are, so
    a second optimizer moves nothing the first relies on. Parameters of size
    zero are left alone.
    """
    groups: dict[np.dtype[Any], list[Parameter]] = {}
    for param in params:
        if param.size:
            groups.setdefault(param.value.dtype, []).append(param)
    for dtype, group in groups.items():
        if (
            flat_span([p.value for p in group]) is not None
            and flat_span([p.grad for p in group]) is not None
        ):
            continue
        total = sum(p.size for p in group)
        values, grads = np.empty(total, dtype=dtype), np.empty(total, dtype=dtype)
        start = 0
        for p in group:
            stop = start + p.size
            value, grad = values[start:stop].reshape(p.shape), grads[start:stop].reshape(p.shape)
            value[...], grad[...] = p.value, p.grad
            p.value, p.grad = value, grad
            start = stop


def flat_span(arrays: Sequence[FloatArray]) -> FloatArray | None:
    """The 1-D array that ``arrays`` tile contiguously, in order, or None if they do not.

    True when :func:`pack_parameters` laid them out (or the caller did the
    same by hand): each is a C-contiguous view of one 1-D buffer, starting
    where the previous one ends. A single C-contiguous array tiles itself.
    """
    if not arrays:
        return None
    if len(arrays) == 1 and arrays[0].flags.c_contiguous:
        return arrays[0].reshape(-1)
    owner = arrays[0].base
    if not isinstance(owner, np.ndarray) or owner.ndim != 1 or not owner.flags.c_contiguous:
        return None
    itemsize = owner.itemsize
    origin = owner.ctypes.data
    start = (arrays[0].ctypes.data - origin) // itemsize
    position = start
    for a in arrays:
        if a.base is not owner or not a.flags.c_contiguous or a.dtype != owner.dtype:
            return None
        if a.ctypes.data != origin + position * itemsize:
            return None
        position += a.size
    return owner[start:position]
