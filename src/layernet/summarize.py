"""``summary``: a table of a model's layers, output shapes and parameter counts.

Written once for every model: it walks the layer tree (``named_children``),
so a container's children appear as indented rows under it, named by their
paths (``"2.block.0"``), and shapes come from each container's
``child_shapes``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._typing import Shape
from ._validation import format_shape
from .layers.base import Layer, parameter_dtype
from .layers.spec import as_spec


def summary(model: Layer, *, input_shape: Shape | None = None, print_summary: bool = False) -> str:
    """A table of each layer's output shape and parameter count, with totals.

    Works before the model has seen any data: shapes start from the
    model's ``input_spec``, and sizes not known yet show as ``?``.
    Containers inside the model show their children as indented rows.
    When any parameter is frozen (``trainable = False``), the totals
    split into trainable and non-trainable parameters (buffers such as
    BatchNorm's running statistics are not parameters and are not
    counted). Returns the table (and prints it when ``print_summary``).

    Parameters
    ----------
    model : Layer
    input_shape : tuple of int, optional
        The per-sample input shape (no batch axis), e.g. ``(1, 40)`` for
        a Conv1d model on 40-step signals: fills in the sizes that the
        model's ``input_spec`` leaves open, such as a length.
    print_summary : bool
    """
    if not isinstance(model, Layer):
        raise TypeError(f"summary: model must be a Layer, got {type(model).__name__}")
    spec = as_spec(model.input_spec)
    start = None if spec is None else spec.template()
    if input_shape is not None:
        start = _check_input_shape(model, input_shape)
    rows = [("#", "Layer", "Output shape", "Params")]
    for path, depth, layer, shape in _rows(model, start):
        count = sum(p.size for p in layer.parameters())
        rows.append(
            (
                path,
                "  " * depth + repr(layer),
                "?" if shape is None else format_shape(shape),
                f"{count:,}",
            )
        )
    if len(rows) == 1:  # a single layer, not a container: one row for itself
        shape = model.output_shape(start)
        count = sum(p.size for p in model.parameters())
        rows.append(("0", repr(model), "?" if shape is None else format_shape(shape), f"{count:,}"))
    widths = [max(len(row[c]) for row in rows) for c in range(4)]
    rule = "-" * (sum(widths) + 6)

    def line(row: tuple[str, str, str, str]) -> str:
        return "  ".join(
            cell.rjust(w) if c == 3 else cell.ljust(w)
            for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    total = sum(p.size for p in model.parameters())
    frozen = sum(p.size for p in model.parameters() if not p.trainable)
    dtype = parameter_dtype(model) or np.dtype(np.float64)
    split = (
        [f"Trainable parameters: {total - frozen:,}", f"Non-trainable parameters: {frozen:,}"]
        if frozen
        else []
    )
    text = "\n".join(
        [
            rule,
            line(rows[0]),
            rule,
            *(line(r) for r in rows[1:]),
            rule,
            f"Total parameters: {total:,} ({dtype.name})",
            *split,
            rule,
        ]
    )
    if print_summary:
        print(text)
    return text


def _check_input_shape(model: Layer, input_shape: object) -> Shape:
    """A per-sample shape of positive ints that the model accepts."""
    if not isinstance(input_shape, tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in input_shape
    ):
        raise TypeError(
            "summary: input_shape must be a tuple of positive ints, the shape of one sample "
            f"without the batch axis, e.g. (1, 40); got {input_shape!r}"
        )
    shape: Shape = input_shape
    try:
        model.check_input((1, *input_shape))
    except ValueError as exc:
        raise ValueError(
            f"summary: input_shape {input_shape} (one sample, without the batch axis) does "
            f"not fit the model: {exc}"
        ) from None
    return shape


def _rows(
    layer: Layer, input_shape: Shape | None, prefix: str = "", depth: int = 0
) -> Iterator[tuple[str, int, Layer, Shape | None]]:
    """Depth-first: each child's path, depth, layer and output shape, then its own children."""
    for name, child, shape_in, shape_out in layer.child_shapes(input_shape):
        path = f"{prefix}.{name}" if prefix else name
        yield path, depth, child, shape_out
        yield from _rows(child, shape_in, path, depth + 1)
