"""Sliding windows shared by convolution and pooling: sizes, arguments, offsets.

A window layer slides a (dilated) kernel over the spatial axes of a
channels-first batch ``(batch, channels, *spatial)``. Along one axis of
length ``L``, with kernel ``k``, stride ``s``, dilation ``d`` and padding
``p_lo`` before and ``p_hi`` after, the output length is torch's

    L_out = floor((L + p_lo + p_hi - d * (k - 1) - 1) / s) + 1,

and output position ``o`` reads the inputs ``i = o * s + j * d - p_lo`` for
``j = 0 .. k-1`` (positions outside ``[0, L)`` are padding).

Rather than materialising a padded copy, the layers loop over the kernel's
offsets ``j`` (``prod(kernel)`` iterations, each one vectorised over batch,
channels and every output position): for each offset, :func:`offset_plan`
gives the slice of the input it reads and the slice of the output positions
for which that input is real rather than padding.
"""

from __future__ import annotations

import itertools
import numbers
from dataclasses import dataclass
from typing import ClassVar

from .._typing import Shape
from .base import Layer, describe
from .spec import InputSpec, as_spec

Pair = tuple[int, ...]


def as_tuple(value: object, n: int, argument: str, owner: str, *, minimum: int) -> Pair:
    """Return ``value`` (an int or a sequence of ``n`` ints) as an ``n``-tuple of ints.

    Raises
    ------
    TypeError
        If ``value`` is not an int or a sequence of ints.
    ValueError
        If it has the wrong length or an entry below ``minimum``.
    """
    items: list[object]
    if isinstance(value, (list, tuple)):
        items = list(value)
        if len(items) != n:
            raise ValueError(
                f"{owner}: {argument} must be an int or a sequence of {n}, got {value!r}"
            )
    else:
        items = [value] * n
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise TypeError(
                f"{owner}: {argument} must be an int or a sequence of {n} ints, "
                f"got {type(item).__name__} {item!r}"
            )
        if int(item) < minimum:
            kind = "positive" if minimum == 1 else "non-negative"
            raise ValueError(f"{owner}: {argument} must be {kind}, got {value!r}")
        out.append(int(item))
    return tuple(out)


def plain(values: Pair) -> int | list[int]:
    """``(3,)`` -> ``3`` and ``(3, 2)`` -> ``[3, 2]``: JSON-friendly constructor arguments."""
    return values[0] if len(values) == 1 else list(values)


def show(values: Shape) -> str:
    """``(3,)`` -> ``"3"`` and ``(3, 2)`` -> ``"(3, 2)"`` for reprs and messages."""
    return str(values[0]) if len(values) == 1 else str(values)


def output_length(length: int, kernel: int, stride: int, dilation: int, pad: int) -> int:
    """torch's ``floor((L + pad - d * (k - 1) - 1) / s) + 1``; ``pad`` is the total padding."""
    return (length + pad - dilation * (kernel - 1) - 1) // stride + 1


@dataclass(frozen=True)
class Geometry:
    """Kernel, stride, dilation and padding (before, after) along each spatial axis."""

    kernel: Pair
    stride: Pair
    dilation: Pair
    pad_lo: Pair
    pad_hi: Pair

    @property
    def span(self) -> Pair:
        """The dilated kernel's extent ``d * (k - 1) + 1`` along each axis."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation, strict=True))

    def padded(self, spatial: Shape) -> Shape:
        """The padded input's spatial sizes (``None`` where unknown)."""
        return tuple(
            None if n is None else n + lo + hi
            for n, lo, hi in zip(spatial, self.pad_lo, self.pad_hi, strict=True)
        )

    def fits(self, spatial: Shape) -> bool:
        """Whether the dilated kernel fits inside the padded input along every known axis."""
        return all(
            n is None or n >= span for n, span in zip(self.padded(spatial), self.span, strict=True)
        )

    def output(self, spatial: Shape) -> Shape:
        """Spatial output sizes by torch's formula (``None`` where the input's is unknown)."""
        return tuple(
            None if n is None else output_length(n, k, s, d, lo + hi)
            for n, k, s, d, lo, hi in zip(
                spatial,
                self.kernel,
                self.stride,
                self.dilation,
                self.pad_lo,
                self.pad_hi,
                strict=True,
            )
        )


Index = tuple[int | slice, ...]
"""An index into an array: ints and slices."""

Offset = tuple[tuple[int, ...], tuple[slice, ...], tuple[slice, ...]]
"""A kernel offset ``j``, the input slices it reads, and the output slices it feeds."""


def offset_plan(spatial: tuple[int, ...], geometry: Geometry) -> list[Offset]:
    """For each kernel offset, the input positions it reads and the outputs they feed.

    Offset ``j`` (a tuple, one index per spatial axis) contributes
    ``x[..., in_slices]`` to ``out[..., out_slices]``; output positions whose
    input would be padding are left out of ``out_slices``, so padding never
    has to exist in memory. Offsets that touch only padding are dropped.
    """
    per_axis: list[list[tuple[int, slice, slice] | None]] = []
    for n, k, s, d, lo, hi in zip(
        spatial,
        geometry.kernel,
        geometry.stride,
        geometry.dilation,
        geometry.pad_lo,
        geometry.pad_hi,
        strict=True,
    ):
        n_out = output_length(n, k, s, d, lo + hi)
        axis: list[tuple[int, slice, slice] | None] = []
        for j in range(k):
            shift = j * d - lo  # input index of output 0 at this offset
            first = max(0, -(shift // s))  # smallest o with o * s + shift >= 0
            last = min(n_out - 1, (n - 1 - shift) // s)  # largest o with o * s + shift < n
            if last < first:
                axis.append(None)
                continue
            start = first * s + shift
            axis.append(
                (j, slice(start, start + (last - first) * s + 1, s), slice(first, last + 1))
            )
        per_axis.append(axis)
    plan: list[Offset] = []
    for combo in itertools.product(*per_axis):
        if any(entry is None for entry in combo):
            continue
        entries = [entry for entry in combo if entry is not None]
        plan.append(
            (
                tuple(e[0] for e in entries),
                tuple(e[1] for e in entries),
                tuple(e[2] for e in entries),
            )
        )
    return plan


def too_small_message(
    layer: Layer,
    spatial: Shape,
    position: int | None,
    geometry: Geometry,
    batch_shape: tuple[int, ...] | None = None,
) -> str:
    """Say that the (dilated) kernel does not fit inside the padded input, and what to do.

    ``batch_shape``, the whole input's shape where there is one, is quoted as received.
    """
    padded = geometry.padded(spatial)
    smaller = "kernel or dilation" if any(d != 1 for d in geometry.dilation) else "kernel"
    size = (
        f"input size {show(spatial)}"
        if batch_shape is None
        else f"input of shape {batch_shape}: spatial size {show(spatial)}"
    )
    return (
        f"{describe(layer, position)}: the kernel spans {show(geometry.span)} but the padded "
        f"input is only {show(padded)} ({size}, padding "
        f"{show(geometry.pad_lo)} before and {show(geometry.pad_hi)} after); use a smaller "
        f"{smaller}, more padding, or a larger input"
    )


class ChannelsFirst(Layer):
    """A layer over channels-first batches ``(batch, channels, *spatial)``.

    ``n_spatial`` (1 or 2) is the number of spatial axes. The accepted shapes
    are declared once, by :attr:`input_spec` (any channel count here; a
    convolution pins it); a batch that does not fit gets the spec's message
    plus a hint on the channels-first layout.
    """

    n_spatial: ClassVar[int]
    tree_attributes: ClassVar[tuple[str, ...] | None] = ()

    @property
    def input_spec(self) -> InputSpec:
        return InputSpec(1 + self.n_spatial)

    def check_input(self, shape: tuple[int, ...], position: int | None = None) -> None:
        try:
            super().check_input(shape, position)
        except ValueError as error:
            raise ValueError(f"{error}{self._layout_hint(shape)}") from None

    def _layout_hint(self, shape: tuple[int, ...]) -> str:
        """What to change in an input of ``shape`` that the spec rejected ("" if nothing to add)."""
        nd = self.n_spatial
        if len(shape) < nd + 1:
            return f"; channels come first, then {nd} spatial axis/axes"
        spec = as_spec(self.input_spec)
        channels = None if spec is None else dict(spec.axes).get(0)
        if len(shape) != nd + 2 or channels is None or shape[1] == channels:
            return ""
        return (
            f"; the input has {shape[1]} channels where {channels} are expected (channels "
            f"first): build the layer with in_channels={shape[1]}, or transpose channels-last "
            f"input with x.transpose(0, {nd + 1}, {', '.join(str(i) for i in range(1, nd + 1))})"
        )


class SlidingWindow(ChannelsFirst):
    """A channels-first layer that slides a window of :class:`Geometry` over the spatial axes.

    Besides the spec, a batch is rejected when the (dilated) kernel does not
    fit inside the padded input. Each subclass turns :func:`offset_plan` into
    the indices its forward and backward loop over.
    """

    geometry: Geometry

    def __init__(self, geometry: Geometry) -> None:
        self.geometry = geometry

    def check_input(self, shape: tuple[int, ...], position: int | None = None) -> None:
        super().check_input(shape, position)
        if not self.geometry.fits(shape[2:]):
            raise ValueError(too_small_message(self, shape[2:], position, self.geometry, shape))

    def _output_spatial(self, input_shape: Shape | None) -> Shape:
        """Spatial output sizes for a per-sample input shape (``None`` where unknown).

        Raises
        ------
        ValueError
            If the kernel is larger than the padded input along a known axis.
        """
        spatial: Shape = (None,) * self.n_spatial
        if input_shape is not None and len(input_shape) == 1 + self.n_spatial:
            spatial = input_shape[1:]
        if not self.geometry.fits(spatial):
            raise ValueError(too_small_message(self, spatial, None, self.geometry))
        return self.geometry.output(spatial)
