"""InputSpec: the one declaration of what per-sample shapes a layer accepts.

A layer's :attr:`~layernet.Layer.input_spec` is read by ``Layer.__call__``
(to check a batch before ``forward``) and by containers at construction (to
check that neighbouring sizes agree before any data is seen). It is
Keras's ``InputSpec``, counted per sample (the batch axis excluded)::

    InputSpec.of_shape((3,))                     # exactly (batch, 3): Dense(3, 4)
    InputSpec(min_rank=1, axes={-1: 5})          # (batch, ..., 5): LayerNorm(5)
    InputSpec(min_rank=1, max_rank=2, axes={0: 8})  # (batch, 8) or (batch, 8, length)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._typing import Shape


@dataclass(frozen=True, init=False)
class InputSpec:
    """The per-sample ranks and axis sizes a layer accepts.

    Parameters
    ----------
    rank : int, optional
        The exact per-sample rank (``x.ndim - 1``); sets ``min_rank`` and
        ``max_rank`` both.
    min_rank, max_rank : int, optional
        Bounds on the per-sample rank; ``max_rank=None`` means unbounded.
    axes : mapping of int to int
        Required sizes by per-sample axis: ``{0: 3}`` is the first axis
        after the batch axis, ``{-1: 5}`` the last.
    """

    min_rank: int
    max_rank: int | None
    axes: tuple[tuple[int, int], ...] = field(default=())

    def __init__(
        self,
        rank: int | None = None,
        *,
        min_rank: int = 0,
        max_rank: int | None = None,
        axes: Mapping[int, int] | None = None,
    ) -> None:
        if rank is not None:
            min_rank = max_rank = _count(rank, "rank")
        min_rank = _count(min_rank, "min_rank")
        if max_rank is not None and _count(max_rank, "max_rank") < min_rank:
            raise ValueError(f"InputSpec: max_rank {max_rank} is below min_rank {min_rank}")
        if axes is not None and not isinstance(axes, Mapping):
            raise TypeError(
                f"InputSpec: axes must be a mapping of axis to size, got {type(axes).__name__}"
            )
        for axis, size in (axes or {}).items():
            if isinstance(axis, bool) or not isinstance(axis, int):
                raise TypeError(f"InputSpec: axes keys must be int axes, got {axis!r}")
            _count(size, f"axes[{axis}]", positive=True)
        object.__setattr__(self, "min_rank", min_rank)
        object.__setattr__(self, "max_rank", max_rank)
        object.__setattr__(self, "axes", tuple(sorted((axes or {}).items())))

    @classmethod
    def of_shape(cls, shape: Shape) -> InputSpec:
        """Exactly this per-sample shape; ``None`` entries take any size."""
        return cls(len(shape), axes={i: d for i, d in enumerate(shape) if d is not None})

    def fits(self, shape: Shape) -> bool:
        """Whether a per-sample shape agrees (a ``None`` size in ``shape`` agrees with anything)."""
        rank = len(shape)
        if rank < self.min_rank or (self.max_rank is not None and rank > self.max_rank):
            return False
        for axis, size in self.axes:
            if not -rank <= axis < rank:
                return False
            got = shape[axis]
            if got is not None and got != size:
                return False
        return True

    def template(self) -> Shape:
        """The smallest per-sample shape this spec accepts, unknown sizes as ``None``."""
        needed = max((a + 1 if a >= 0 else -a for a, _ in self.axes), default=0)
        rank = max(self.min_rank, needed)
        dims: list[int | None] = [None] * rank
        for axis, size in self.axes:
            dims[axis] = size
        return tuple(dims)

    def __str__(self) -> str:
        """``(batch, 3)``, ``(batch, ..., 5)`` or ``(batch, 8) or (batch, 8, ?)``."""
        if self.max_rank is not None:
            shapes = [self._render(rank) for rank in range(self.min_rank, self.max_rank + 1)]
            return " or ".join(s for s in shapes if s)
        trailing = any(a < 0 for a, _ in self.axes)
        base = self._render(len(self.template()))
        return base.replace("(batch", "(batch, ...", 1) if trailing else base[:-1] + ", ...)"

    def _render(self, rank: int) -> str:
        if not self.fits((None,) * rank):
            return ""
        dims: list[Any] = ["?"] * rank
        for axis, size in self.axes:
            dims[axis] = size
        return "(" + ", ".join(["batch", *map(str, dims)]) + ")"


def _count(value: object, argument: str, *, positive: bool = False) -> int:
    low = 1 if positive else 0
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise TypeError(
            f"InputSpec: {argument} must be an int >= {low}, got {type(value).__name__} {value!r}"
        )
    return value


def as_spec(spec: InputSpec | Shape | None) -> InputSpec | None:
    """An :class:`InputSpec` from a layer's ``input_spec`` (a plain shape tuple is shorthand)."""
    if spec is None or isinstance(spec, InputSpec):
        return spec
    return InputSpec.of_shape(spec)
