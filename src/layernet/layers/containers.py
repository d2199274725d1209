"""Containers beyond a straight stack: Residual (a skip connection) and Parallel (branches).

Both are Layers built from Layers: they nest in each other and in
Sequential, and everything generic (parameters, state dicts, save/load,
``summary``, the one-instance check) walks their children, named as torch's
module paths: ``block`` and ``shortcut``, ``branches.0``, ``branches.1``...
"""

from __future__ import annotations

import numbers
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from .._typing import ArrayLike, FloatArray, Shape
from .._validation import format_shape, input_dtype
from .base import Layer, check_unique, describe, parameter_dtype
from .registry import register, to_spec
from .spec import InputSpec, as_spec


class Container(Layer):
    """What Residual and Parallel share: dtype, input conversion and per-child checks.

    Each child sees the container's own input; the subclasses say how
    their outputs combine.
    """

    @property
    def dtype(self) -> np.dtype[Any]:  # type: ignore[override]
        """The dtype of the children that hold parameters (float64 if there are none)."""
        return parameter_dtype(self) or np.dtype(np.float64)

    def compute_dtype(self, x: ArrayLike) -> np.dtype[Any]:
        """The children's parameters' dtype, or the input's if none hold parameters."""
        return parameter_dtype(self) or input_dtype(x)

    def takes_integers(self) -> bool:
        """Whether the children take integer ids (construction makes them all agree)."""
        return any(child.takes_integers() for _, child in self.named_children())

    def check_input_values(self, x: FloatArray, position: int | None = None) -> None:
        """Every child sees the input, so every child checks its values."""
        for name, child in self.named_children():
            try:
                child.check_input_values(x)
            except ValueError as error:
                raise ValueError(f"{describe(self, position)}, in its {name}: {error}") from None

    @property
    def input_spec(self) -> InputSpec | Shape | None:
        """The first child's declaration (the others are checked against it at construction)."""
        for _, child in self.named_children():
            if child.input_spec is not None:
                return child.input_spec
        return None

    def _template(self) -> Shape | None:
        spec = as_spec(self.input_spec)
        return None if spec is None else spec.template()

    def _check_children(self, owner: str) -> None:
        """At construction: one instance each, one dtype, and inputs every child accepts."""
        children = list(self.named_children())
        check_unique(children, owner)
        ids = [name for name, c in children if c.takes_integers()]
        if ids and len(ids) != len(children):
            floats = [name for name, c in children if not c.takes_integers()]
            raise ValueError(
                f"{owner}: its {', '.join(ids)} take(s) integer ids but its "
                f"{', '.join(floats)} take(s) real numbers; every child sees the same input, "
                "so either all take ids or none (put the Embedding before the container)"
            )
        owners = [(name, c) for name, c in children if parameter_dtype(c) is not None]
        for name, child in owners[1:]:
            if child.dtype != owners[0][1].dtype:
                raise ValueError(
                    f"{owner}: its {name} {child!r} is {child.dtype} but its {owners[0][0]} "
                    f"{owners[0][1]!r} is {owners[0][1].dtype}; build every layer with the "
                    "same dtype (nothing inside a model is silently cast)"
                )
        template = self._template()
        if template is None:
            return
        for name, child in children:
            spec = as_spec(child.input_spec)
            if spec is not None and not spec.fits(template):
                raise ValueError(
                    f"{owner}: every child sees the same input, but its {name} {child!r} "
                    f"expects {spec} where another expects {format_shape(template)}; make the "
                    "sizes agree"
                )

    def check_input(self, shape: tuple[int, ...], position: int | None = None) -> None:
        """Check a batch shape against every child, naming this container and the child."""
        if len(shape) == 0:
            super().check_input(shape, position)
        for name, child in self.named_children():
            try:
                child.check_input(shape)
            except ValueError as error:
                raise ValueError(f"{describe(self, position)}, in its {name}: {error}") from None
        problem = self._mismatch(self._merged_shapes(shape[1:]))
        if problem is not None:
            raise ValueError(f"{describe(self, position)}: for input {shape}, {problem}")

    def _check_merge(self) -> None:
        """At construction: the merged outputs agree for the input shape the spec implies."""
        template = self._template()
        if template is not None:
            problem = self._mismatch(self._merged_shapes(template))
            if problem is not None:
                raise ValueError(f"{self!r}: for input {format_shape(template)}, {problem}")

    @abstractmethod
    def _merged_shapes(self, input_shape: Shape | None) -> list[tuple[str, Shape | None]]:
        """Each merged path's name and per-sample output shape for a per-sample input shape."""

    @abstractmethod
    def _mismatch(self, outputs: list[tuple[str, Shape | None]]) -> str | None:
        """Why these per-sample output shapes cannot be merged (None: they can, or unknown)."""

    def child_shapes(
        self, input_shape: Shape | None
    ) -> Iterator[tuple[str, Layer, Shape | None, Shape | None]]:
        shape = self._template() if input_shape is None else input_shape
        for name, child in self.named_children():
            yield name, child, shape, child.output_shape(shape)


def _agree(a: Shape | None, b: Shape | None) -> bool:
    """Whether two per-sample shapes can be the same (``None`` sizes or shapes are unknown)."""
    if a is None or b is None:
        return True
    return len(a) == len(b) and all(
        x is None or y is None or x == y for x, y in zip(a, b, strict=True)
    )


def _show(shape: Shape | None) -> str:
    return "an unknown shape" if shape is None else format_shape(shape)


def _sum_shape(outputs: Sequence[Shape | None]) -> Shape | None:
    """The shape of a sum of outputs that agree: each axis's size where any output knows it."""
    known = [s for s in outputs if s is not None]
    if not known:
        return None
    return tuple(
        next((d for d in dims if d is not None), None) for dims in zip(*known, strict=False)
    )


@register
class Residual(Container):
    """A skip connection: ``y = block(x) + shortcut(x)``, with ``shortcut`` the identity by default.

    The building block of ResNets (He et al., 2016). ``block`` and
    ``shortcut`` both see the input; their outputs must have one shape,
    which is checked at construction where the sizes are known and at the
    call otherwise. A shortcut that changes the shape (a 1x1 convolution,
    say) makes the sizes agree when the block changes them.

    Parameters
    ----------
    block : Layer
        Usually a Sequential such as conv, batch norm, ReLU, conv, batch norm.
    shortcut : Layer or None
        None (the identity) or a layer mapping the input to the block's
        output shape.

    Notes
    -----
    Forward: ``y = f(x) + s(x)`` with ``f = block`` and ``s = shortcut``
    (``s(x) = x`` by default).

    Backward, given ``g = dL/dy``: both terms get ``g`` as their output
    gradient, and the input feeds both, so its gradient is the sum,
    ``dL/dx = J_f^T g + J_s^T g`` (``J_s^T g = g`` for the identity): the
    skip path carries ``g`` back unchanged, which is what lets deep residual
    stacks train.
    """

    block: Layer
    shortcut: Layer | None
    tree_attributes: ClassVar[tuple[str, ...] | None] = ("block", "shortcut")

    def __init__(self, block: Layer, shortcut: Layer | None = None) -> None:
        for name, value in (("block", block), ("shortcut", shortcut)):
            if value is not None and not isinstance(value, Layer):
                raise TypeError(f"Residual: {name} must be a Layer, got {_type_name(value)}")
        if block is None:
            raise TypeError("Residual: block must be a Layer, got None")
        self.block = block
        self.shortcut = shortcut
        self._check_children(repr(self))
        self._check_merge()

    def _merged_shapes(self, input_shape: Shape | None) -> list[tuple[str, Shape | None]]:
        skip = input_shape if self.shortcut is None else self.shortcut.output_shape(input_shape)
        return [("block", self.block.output_shape(input_shape)), ("shortcut", skip)]

    def _mismatch(self, outputs: list[tuple[str, Shape | None]]) -> str | None:
        (_, block_out), (_, shortcut_out) = outputs
        if _agree(block_out, shortcut_out):
            return None
        what = "shortcut" if self.shortcut is not None else "identity shortcut"
        return (
            f"the block produces {_show(block_out)} but the {what} gives {_show(shortcut_out)}; "
            "they are added, so their shapes must agree (give the Residual a shortcut layer "
            "that maps the input to the block's output shape, e.g. a 1x1 convolution)"
        )

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        y = self.block.forward(x, training=training)
        s = x if self.shortcut is None else self.shortcut.forward(x, training=training)
        if y.shape != s.shape:
            problem = self._mismatch([("block", y.shape[1:]), ("shortcut", s.shape[1:])])
            raise ValueError(f"{self!r}: for input {x.shape}, {problem}")
        out: FloatArray = y + s  # a new array: y may be the block's cache (Sigmoid keeps it)
        return out

    def backward(self, grad_out: FloatArray) -> FloatArray:
        grad_block = self.block.backward(grad_out)
        grad_skip = grad_out if self.shortcut is None else self.shortcut.backward(grad_out)
        grad: FloatArray = grad_block + grad_skip
        return grad

    def backward_parameters(self, grad_out: FloatArray) -> None:
        """Each path writes its parameters' gradients; nobody needs ``dL/dx``."""
        self.block.backward_parameters(grad_out)
        if self.shortcut is not None:
            self.shortcut.backward_parameters(grad_out)

    def output_shape(self, input_shape: Shape | None) -> Shape | None:
        """The block's output shape (None where the paths disagree: the call will refuse)."""
        outputs = self._merged_shapes(input_shape)
        return None if self._mismatch(outputs) else _sum_shape([s for _, s in outputs])

    def get_config(self) -> dict[str, Any]:
        return {
            "block": to_spec(self.block),
            "shortcut": None if self.shortcut is None else to_spec(self.shortcut),
        }

    def __repr__(self) -> str:
        if self.shortcut is None:
            return f"Residual({self.block!r})"
        return f"Residual({self.block!r}, shortcut={self.shortcut!r})"


MERGES = ("concat", "add")


@register
class Parallel(Container):
    """Branches side by side: every branch sees the input; outputs concatenated or summed.

    ``Parallel([a, b], merge="concat", axis=1)`` computes
    ``concatenate([a(x), b(x)], axis=1)``: axis 1 (counting the batch axis
    as 0, as ``torch.cat``) is the features of ``(batch, features)`` data and
    the channels of channels-first conv data, as in an Inception block.
    ``merge="add"`` computes ``a(x) + b(x)``. The outputs must agree in
    every axis but ``axis`` (concat) or in all (add): checked at construction
    where the sizes are known, and at the call otherwise.

    Parameters
    ----------
    branches : sequence of Layer
        At least one; named ``branches.0``, ``branches.1``... as in a torch
        ``ModuleList``.
    merge : {"concat", "add"}
    axis : int
        The concatenation axis, counting the batch axis as 0; negative
        counts from the end; never 0 (the batch axis). Used by ``"concat"``.

    Notes
    -----
    Forward: ``y = [f_1(x), ..., f_k(x)]`` joined along ``axis``, or
    ``y = f_1(x) + ... + f_k(x)``.

    Backward, given ``g = dL/dy``: with concat, branch ``i`` produced the
    slice ``y_i`` of ``y``, so its output gradient is the matching slice
    ``g_i`` of ``g``; with add, each branch's output gradient is ``g``
    itself. The input feeds every branch, so
    ``dL/dx = sum_i J_i^T g_i``.
    """

    cache_attributes: ClassVar[tuple[str, ...]] = ("_splits",)
    tree_attributes: ClassVar[tuple[str, ...] | None] = ("branches",)
    branches: list[Layer]
    merge: str
    axis: int

    def __init__(self, branches: Iterable[Layer], merge: str = "concat", axis: int = 1) -> None:
        if isinstance(branches, Layer):
            raise TypeError(
                "Parallel: expected a list of branches, got a single Layer; wrap it in [ ]"
            )
        if not isinstance(branches, Iterable) or isinstance(branches, str):
            raise TypeError(
                f"Parallel: branches must be a list of layers, got {_type_name(branches)}"
            )
        self.branches = list(branches)
        if not self.branches:
            raise ValueError("Parallel: branches is empty; pass at least one layer")
        for i, branch in enumerate(self.branches):
            if not isinstance(branch, Layer):
                raise TypeError(
                    f"Parallel: branch at position {i} must be a Layer, got {_type_name(branch)}"
                )
        if merge not in MERGES:
            raise ValueError(f"Parallel: merge must be 'concat' or 'add', got {merge!r}")
        self.merge = merge
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"Parallel: axis must be an int, got {_type_name(axis)}")
        if axis == 0:
            raise ValueError(
                "Parallel: axis 0 is the batch axis; concatenate along 1 (features, or "
                "channels of channels-first data) or another per-sample axis"
            )
        self.axis = int(axis)
        self._splits: list[int] | None = None
        self._check_children(repr(self))
        self._check_merge()

    def _merged_shapes(self, input_shape: Shape | None) -> list[tuple[str, Shape | None]]:
        return [(name, child.output_shape(input_shape)) for name, child in self.named_children()]

    def _sample_axis(self, rank: int) -> int | None:
        """The concatenation axis within a per-sample shape of ``rank`` (None: out of range)."""
        axis = self.axis - 1 if self.axis > 0 else self.axis + rank
        return axis if 0 <= axis < rank else None

    def _mismatch(self, outputs: list[tuple[str, Shape | None]]) -> str | None:
        known = [(name, s) for name, s in outputs if s is not None]
        if not known:
            return None
        first_name, first = known[0]
        if self.merge == "add":
            for name, shape in known[1:]:
                if not _agree(first, shape):
                    return (
                        f"merge='add' sums the branches, but {first_name} produces "
                        f"{_show(first)} and {name} produces {_show(shape)}; make their "
                        "shapes agree"
                    )
            return None
        for name, shape in known:
            if self._sample_axis(len(shape)) is None:
                return (
                    f"{name} produces {_show(shape)}, which has no axis {self.axis} to "
                    "concatenate along"
                )
        axis = self._sample_axis(len(first))
        for name, shape in known[1:]:
            rest_a = [d for i, d in enumerate(first) if i != axis]
            rest_b = [d for i, d in enumerate(shape) if i != self._sample_axis(len(shape))]
            if len(first) != len(shape) or not _agree(tuple(rest_a), tuple(rest_b)):
                return (
                    f"merge='concat' joins the branches along axis {self.axis}, but "
                    f"{first_name} produces {_show(first)} and {name} produces {_show(shape)}; "
                    f"every other axis must agree"
                )
        return None

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        outs = [branch.forward(x, training=training) for branch in self.branches]
        first = outs[0].shape
        if any(o.shape != first for o in outs[1:]):  # rare for add, usual for concat
            problem = self._mismatch([(f"branches.{i}", o.shape[1:]) for i, o in enumerate(outs)])
            if problem is not None:
                raise ValueError(f"{self!r}: for input {x.shape}, {problem}")
        if self.merge == "add":
            self._splits = []
            if len(outs) == 1:
                return outs[0]
            total: FloatArray = outs[0] + outs[1]  # a new array: never add into a branch's cache
            for out in outs[2:]:
                total += out
            return total
        axis = self.axis if self.axis > 0 else self.axis + x.ndim
        self._splits = [int(i) for i in np.cumsum([o.shape[axis] for o in outs[:-1]])]
        return np.concatenate(outs, axis=axis)

    def _branch_grads(self, grad_out: FloatArray) -> list[FloatArray]:
        splits = self._splits
        if splits is None:
            raise self._not_run_yet()
        if self.merge == "add":
            return [grad_out] * len(self.branches)
        return np.split(grad_out, splits, axis=self.axis)

    def backward(self, grad_out: FloatArray) -> FloatArray:
        grads = [
            branch.backward(g)
            for branch, g in zip(self.branches, self._branch_grads(grad_out), strict=True)
        ]
        if len(grads) == 1:
            return grads[0]
        total: FloatArray = grads[0] + grads[1]
        for grad in grads[2:]:
            total += grad
        return total

    def backward_parameters(self, grad_out: FloatArray) -> None:
        """Each branch writes its parameters' gradients; nobody needs ``dL/dx``."""
        for branch, g in zip(self.branches, self._branch_grads(grad_out), strict=True):
            branch.backward_parameters(g)

    def output_shape(self, input_shape: Shape | None) -> Shape | None:
        """The merged shape (None where the branches disagree: the call will refuse)."""
        named = self._merged_shapes(input_shape)
        if self._mismatch(named):
            return None
        outputs = [shape for _, shape in named]
        if self.merge == "add":
            return _sum_shape(outputs)
        if any(s is None for s in outputs):
            return None
        shapes = [s for s in outputs if s is not None]
        axis = self._sample_axis(len(shapes[0]))
        if axis is None:
            return None
        merged = list(_sum_shape(shapes) or ())
        sizes = [s[axis] if len(s) > axis else None for s in shapes]
        merged[axis] = None if any(d is None for d in sizes) else sum(d or 0 for d in sizes)
        return tuple(merged)

    def get_config(self) -> dict[str, Any]:
        return {
            "branches": [to_spec(branch) for branch in self.branches],
            "merge": self.merge,
            "axis": self.axis,
        }

    def __repr__(self) -> str:
        n = len(self.branches)
        tail = f", axis={self.axis}" if self.merge == "concat" else ""
        return f"Parallel({n} branch{'es' if n != 1 else ''}, merge={self.merge!r}{tail})"


def _type_name(value: object) -> str:
    if isinstance(value, type) and issubclass(value, Layer):
        return f"the class {value.__name__}; call it: {value.__name__}()"
    return type(value).__name__
