"""Pooling over channels-first batches: max, average and global average, in 1-D and 2-D."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from .._threads import batch_chunks, parallel_for
from .._typing import FloatArray, Shape
from ._windows import (
    ChannelsFirst,
    Geometry,
    Index,
    SlidingWindow,
    as_tuple,
    offset_plan,
    plain,
    show,
)
from .base import describe
from .registry import register

IntOrTuple = int | Sequence[int]
"""A size given once for every spatial axis (``2``) or per axis (``(2, 3)``)."""


def _to_pool_major(x: FloatArray) -> FloatArray:
    """``(batch, C, *spatial) -> (*spatial, batch * C)``, contiguous (always a fresh copy).

    One transposing copy buys contiguous runs of ``batch * C`` numbers for
    every per-offset operation, which strided views of small images lack.
    The copy is unconditional (``np.array``, not ``np.ascontiguousarray``):
    with one spatial position or one row the transpose is already contiguous,
    and a view would let an in-place update reach the caller's array.
    """
    rows = x.shape[0] * x.shape[1]
    positions = int(np.prod(x.shape[2:]))
    out: FloatArray = np.array(x.reshape(rows, positions).T, order="C")
    return out.reshape(*x.shape[2:], rows)


def _from_pool_major(a: FloatArray, batch: int, channels: int) -> FloatArray:
    """``(*spatial, batch * C) -> (batch, C, *spatial)``, contiguous (always a fresh copy)."""
    spatial = a.shape[:-1]
    out: FloatArray = np.array(a.reshape(int(np.prod(spatial)), batch * channels).T, order="C")
    return out.reshape(batch, channels, *spatial)


def _blocks(a: FloatArray, kernel: tuple[int, ...], out: tuple[int, ...]) -> FloatArray:
    """``(batch, C, *spatial)`` seen as ``(batch, C, out_1, k_1, out_2, k_2, ...)``, a view.

    For windows that tile the input (stride = kernel, no padding): entry
    ``[n, c, i, p, j, q]`` is ``a[n, c, i k_1 + p, j k_2 + q]``. Rows and
    columns past the last whole window (the floor in the output size) are
    simply not part of the view. Writing through it writes into ``a``.
    """
    shape, strides = list(a.shape[:2]), list(a.strides[:2])
    for o, k, step in zip(out, kernel, a.strides[2:], strict=True):
        shape += [o, k]
        strides += [step * k, step]
    return np.lib.stride_tricks.as_strided(a, tuple(shape), tuple(strides))


def _kernel_axes(nd: int) -> tuple[int, ...]:
    """The kernel axes of a :func:`_blocks` view: 3, 5, ... (after batch, C and each output)."""
    return tuple(3 + 2 * i for i in range(nd))


def _offsets(view: FloatArray, nd: int) -> list[FloatArray]:
    """Each kernel offset's slice of a :func:`_blocks` view, in row-major order of the offsets.

    Offset ``(p, q)`` gives ``view[:, :, :, p, :, q]``, shape ``(batch, C, *out)``.
    """
    axes = _kernel_axes(nd)
    sizes = [view.shape[axis] for axis in axes]
    slices = []
    for offset in np.ndindex(*sizes):
        index: list[int | slice] = [slice(None)] * view.ndim
        for axis, j in zip(axes, offset, strict=True):
            index[axis] = j
        slices.append(view[tuple(index)])
    return slices


def _reduce_kernel(
    view: FloatArray, nd: int, ufunc: np.ufunc, out: FloatArray | None = None
) -> FloatArray:
    """``ufunc`` folded over every kernel axis of a :func:`_blocks` view, outermost axis first.

    Folding the outermost kernel axis first combines whole rows of the input
    (contiguous runs), which shrinks the data before the short inner axes are
    touched; one reduction over several strided axes at once is many times slower.
    Returns ``out`` (``(batch, C, *out)``), filled, or a fresh array.
    """
    acc: FloatArray = view
    axes = _kernel_axes(nd)
    for i, axis in enumerate(axes):
        at = axis - i  # each fold removes one axis before this one
        every: list[int | slice] = [slice(None)] * at
        into = out if i == len(axes) - 1 else None
        first = acc[tuple([*every, 0])]
        if acc.shape[at] == 1:
            if into is None:
                acc = np.array(first)
            else:
                np.copyto(into, first)
                acc = into
            continue
        folded: FloatArray = ufunc(first, acc[tuple([*every, 1])], out=into)
        for j in range(2, acc.shape[at]):
            ufunc(folded, acc[tuple([*every, j])], out=folded)
        acc = folded
    return acc


_CHUNK_BYTES = 1 << 20
"""The most input bytes one chunk of a tiled max-pool pass covers (see ``_MaxPoolNd``)."""

_LONG_ROW = 16
"""Rows at least this long take the tiled fast path of the pools (see ``_PoolNd._tiled``)."""


class _PoolNd(SlidingWindow):
    """Window pooling shared by the max and average pools.

    Along each spatial axis of length ``L``, with kernel ``k``, stride ``s``
    (the kernel by default) and padding ``p`` (at most ``k // 2``, torch's
    rule, so every window holds at least one real input), the output length
    is torch's ``L_out = floor((L + 2 p - k) / s) + 1``.

    Both pools loop over the kernel's offsets (``prod(kernel_size)``
    iterations, each vectorised over batch, channels and output positions)
    in a pool-major layout ``(*spatial, batch * channels)``; windows' parts
    that fall on padding are skipped rather than materialised.
    """

    follows_input_dtype: ClassVar[bool] = True
    cache_attributes: ClassVar[tuple[str, ...]] = ("_in_shape",)

    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]

    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: IntOrTuple = 0,
    ) -> None:
        nd = self.n_spatial
        name = f"{type(self).__name__}(kernel_size={kernel_size!r})"
        self.kernel_size = as_tuple(kernel_size, nd, "kernel_size", name, minimum=1)
        self.stride = (
            self.kernel_size if stride is None else as_tuple(stride, nd, "stride", name, minimum=1)
        )
        self.padding = as_tuple(padding, nd, "padding", name, minimum=0)
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise ValueError(
                f"{name}: padding must be at most half the kernel size (torch's rule, so "
                f"every window holds a real input), got padding={padding!r}; "
                "use a smaller padding or a larger kernel"
            )
        ones = (1,) * nd
        super().__init__(Geometry(self.kernel_size, self.stride, ones, self.padding, self.padding))
        self._plans: dict[tuple[int, ...], list[tuple[Index, Index]]] = {}
        self._in_shape: tuple[int, ...] | None = None

    def _plan(self, spatial: tuple[int, ...]) -> list[tuple[Index, Index]]:
        """The plan for inputs of ``spatial`` size, made once per size (it ignores the batch)."""
        plan = self._plans.get(spatial)
        if plan is None:
            plan = self._plans[spatial] = self._make_plan(spatial)
        return plan

    def _make_plan(self, spatial: tuple[int, ...]) -> list[tuple[Index, Index]]:
        """Per kernel offset, in row-major order: (index into the output, into the input).

        The indices address the spatial axes of the pool-major layout
        ``(*spatial, batch * channels)`` that :func:`_to_pool_major` makes.
        """
        return [(dst, src) for _, src, dst in offset_plan(spatial, self.geometry)]

    def _out_spatial(self, spatial: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(int(n) for n in self.geometry.output(spatial) if n is not None)

    def _tiled(self, shape: tuple[int, ...]) -> bool:
        """Whether a batch of ``shape`` takes the fast path for windows that tile the input.

        When stride = kernel and there is no padding, each window is a block
        of a :func:`_blocks` view, and forward and backward are a few
        whole-array operations on it, with no transposing copies and no
        per-offset accumulation (each input is in one window at most). Those
        operations run along the input's rows, so they pay off for rows of
        at least ``_LONG_ROW`` numbers; shorter rows (small images) go through
        the pool-major loop, whose runs are ``batch * channels`` long.
        """
        return (
            self.stride == self.kernel_size
            and not any(self.padding)
            and len(shape) > 2
            and shape[-1] >= _LONG_ROW
        )

    def _expand(self, a: FloatArray) -> FloatArray:
        """``(batch, C, *out) -> (batch, C, out_1, 1, out_2, 1, ...)``: broadcasts over blocks."""
        shape = list(a.shape[:2])
        for o in a.shape[2:]:
            shape += [o, 1]
        return a.reshape(shape)

    def _tiled_grad(
        self, shape: tuple[int, ...], dtype: np.dtype[Any]
    ) -> tuple[FloatArray, FloatArray]:
        """A ``dL/dx`` buffer of ``shape`` and its :func:`_blocks` view, for backward to fill.

        Inputs past the last whole window (the floor in the output size) are
        in no block: the buffer starts at zero then, uninitialised otherwise.
        """
        out = self._out_spatial(shape[2:])
        covered = all(o * k == n for o, k, n in zip(out, self.kernel_size, shape[2:], strict=True))
        grad_in = np.empty(shape, dtype) if covered else np.zeros(shape, dtype)
        return grad_in, _blocks(grad_in, self.kernel_size, out)

    def _chunks(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> list[slice]:
        """The batch of a tiled pass cut into runs of images of at most ``_CHUNK_BYTES``."""
        per_image = int(np.prod(shape[1:])) * dtype.itemsize
        return batch_chunks(shape[0], per_image, _CHUNK_BYTES)

    def get_config(self) -> dict[str, Any]:
        return {
            "kernel_size": plain(self.kernel_size),
            "stride": plain(self.stride),
            "padding": plain(self.padding),
        }

    def output_shape(self, input_shape: Shape | None) -> Shape:
        spatial = self._output_spatial(input_shape)
        if input_shape is None or len(input_shape) != 1 + self.n_spatial:
            return (None, *spatial)
        return (input_shape[0], *spatial)

    def __repr__(self) -> str:
        parts = [f"kernel_size={show(self.kernel_size)}"]
        if self.stride != self.kernel_size:
            parts.append(f"stride={show(self.stride)}")
        if any(self.padding):
            parts.append(f"padding={show(self.padding)}")
        return f"{type(self).__name__}({', '.join(parts)})"


class _MaxPoolNd(_PoolNd):
    """Max pooling; see :class:`MaxPool2d` for the maths."""

    cache_attributes: ClassVar[tuple[str, ...]] = ("_in_shape", "_winners")

    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: IntOrTuple = 0,
    ) -> None:
        super().__init__(kernel_size, stride, padding)
        self._winners: list[npt.NDArray[np.bool_]] | None = None

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        self._in_shape = x.shape
        if self._tiled(x.shape):
            return self._tiled_forward(x)
        batch, channels, *spatial = x.shape
        plan = self._plan(tuple(spatial))
        x_t = _to_pool_major(x)
        y_t = np.full((*self._out_spatial(tuple(spatial)), batch * channels), -np.inf, x.dtype)
        for at_y, at_x in plan:  # padding is never visited: it counts as -inf
            best = y_t[at_y]
            np.maximum(best, x_t[at_x], out=best)  # NaN propagates, as in torch
        # The argmax, as one mask per offset: the first offset (row-major, torch's
        # rule for ties) whose input equals the window's maximum.
        taken = np.zeros(y_t.shape, dtype=np.bool_)
        winners = []
        for at_y, at_x in plan:
            won = x_t[at_x] == y_t[at_y]
            seen = taken[at_y]
            np.greater(won, seen, out=won)  # won and not seen before
            np.logical_or(seen, won, out=seen)
            winners.append(won)
        self._winners = winners
        return _from_pool_major(y_t, batch, channels)

    def _tiled_forward(self, x: FloatArray) -> FloatArray:
        """Max over each block; the winners as one mask per offset (see ``_PoolNd._tiled``).

        A few images at a time, so that the passes over a chunk (the max, then
        a compare per offset) find it in cache; the chunks go to threads.
        """
        nd = self.n_spatial
        out = self._out_spatial(x.shape[2:])
        y = np.empty((*x.shape[:2], *out), dtype=x.dtype)
        winners = [np.empty(y.shape, dtype=np.bool_) for _ in range(int(np.prod(self.kernel_size)))]
        chunks = self._chunks(x.shape, x.dtype)

        def chunk(worker: int, i: int) -> None:
            at = chunks[i]
            blocks = _blocks(x[at], self.kernel_size, out)
            best = _reduce_kernel(blocks, nd, np.maximum, out=y[at])  # NaN propagates, as torch
            # One mask per offset, each compared through a strided view of the input (a
            # compare over the blocks would broadcast over 2 + 2 * nd axes, several times
            # slower); keep the first winner of each block only (row-major, torch's rule).
            won = [mask[at] for mask in winners]
            views = _offsets(blocks, nd)
            np.equal(views[0], best, out=won[0])
            seen = won[0].copy()
            for view, mask in zip(views[1:], won[1:], strict=True):
                np.equal(view, best, out=mask)
                np.greater(mask, seen, out=mask)  # won and not seen before
                np.logical_or(seen, mask, out=seen)

        parallel_for(len(chunks), chunk)
        self._winners = winners
        return y

    def backward(self, grad_out: FloatArray) -> FloatArray:
        shape, winners = self._in_shape, self._winners
        if shape is None or winners is None:
            raise self._not_run_yet()
        if self._tiled(shape):
            return self._tiled_backward(grad_out, shape, winners)
        batch, channels, *spatial = shape
        g_t = _to_pool_major(grad_out)
        dx_t = np.zeros((*spatial, batch * channels), dtype=grad_out.dtype)
        for (at_y, at_x), won in zip(self._plan(tuple(spatial)), winners, strict=True):
            view = dx_t[at_x]
            np.add(view, g_t[at_y] * won, out=view)
        return _from_pool_major(dx_t, batch, channels)

    def _tiled_backward(
        self,
        grad_out: FloatArray,
        shape: tuple[int, ...],
        winners: list[npt.NDArray[np.bool_]],
    ) -> FloatArray:
        """Per offset: ``dL/dx`` = ``g`` at the winners, 0 elsewhere; in chunks, over threads."""
        grad_in, blocks = self._tiled_grad(shape, grad_out.dtype)
        chunks = self._chunks(shape, grad_out.dtype)

        def chunk(worker: int, i: int) -> None:
            at = chunks[i]
            views = _offsets(blocks[at], self.n_spatial)
            for view, won in zip(views, winners, strict=True):
                np.multiply(grad_out[at], won[at], out=view)

        parallel_for(len(chunks), chunk)
        return grad_in


class _AvgPoolNd(_PoolNd):
    """Average pooling; see :class:`AvgPool2d` for the maths."""

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        self._in_shape = x.shape
        batch, channels, *spatial = x.shape
        if self._tiled(x.shape):  # sum each block, then scale
            blocks = _blocks(x, self.kernel_size, self._out_spatial(tuple(spatial)))
            y = _reduce_kernel(blocks, self.n_spatial, np.add)
            y *= 1.0 / int(np.prod(self.kernel_size))
            return y
        x_t = _to_pool_major(x)
        y_t = np.zeros((*self._out_spatial(tuple(spatial)), batch * channels), dtype=x.dtype)
        for at_y, at_x in self._plan(tuple(spatial)):  # padding counts as zeros
            view = y_t[at_y]
            np.add(view, x_t[at_x], out=view)
        y_t *= 1.0 / int(np.prod(self.kernel_size))
        return _from_pool_major(y_t, batch, channels)

    def backward(self, grad_out: FloatArray) -> FloatArray:
        shape = self._in_shape
        if shape is None:
            raise self._not_run_yet()
        if self._tiled(shape):  # every input of a block gets g / (k_1 k_2)
            grad_in, blocks = self._tiled_grad(shape, grad_out.dtype)
            share = grad_out * (1.0 / int(np.prod(self.kernel_size)))
            np.copyto(blocks, self._expand(share))
            return grad_in
        batch, channels, *spatial = shape
        g_t = _to_pool_major(grad_out)
        g_t *= 1.0 / int(np.prod(self.kernel_size))
        dx_t = np.zeros((*spatial, batch * channels), dtype=grad_out.dtype)
        for at_y, at_x in self._plan(tuple(spatial)):
            view = dx_t[at_x]
            np.add(view, g_t[at_y], out=view)
        return _from_pool_major(dx_t, batch, channels)


@register
class MaxPool1d(_MaxPoolNd):
    """1-D max pooling over ``(batch, channels, length)`` (torch's ``MaxPool1d``).

    ``y[n, c, i] = max_{p < k} x_pad[n, c, i * s + p]`` with ``x_pad`` padded
    with ``-inf``; output length ``L_out = floor((L + 2 * padding - k) / s) + 1``.

    Parameters
    ----------
    kernel_size : int
    stride : int, optional
        The kernel size by default.
    padding : int
        At most ``kernel_size // 2``.

    Notes
    -----
    Input ``(batch, C, L)``, output ``(batch, C, L_out)``. Backward routes
    each output's gradient to the one input that won its window (the first
    in the window on ties, as torch does); overlapping windows add up.
    """

    n_spatial: ClassVar[int] = 1


@register
class MaxPool2d(_MaxPoolNd):
    """2-D max pooling over ``(batch, channels, height, width)`` (torch's ``MaxPool2d``).

    ``y[n, c, i, j] = max_{p, q} x_pad[n, c, i * s_h + p, j * s_w + q]``, ``x_pad``
    padded with ``-inf``, and along each axis ``H_out = floor((H + 2 * padding - k) / s) + 1``.

    Parameters
    ----------
    kernel_size : int or pair of ints
    stride : int or pair of ints, optional
        The kernel size by default (non-overlapping windows).
    padding : int or pair of ints
        At most half the kernel size along each axis.

    Notes
    -----
    Input ``(batch, C, H, W)``, output ``(batch, C, H_out, W_out)``.

    Forward remembers, for each output, which kernel offset won (the first
    in row-major order on ties, as torch does). Backward: ``y = x[argmax]``
    is a selection, so ``dy/dx`` is 1 at the winner and 0 elsewhere, and
    ``dL/dx`` gathers each output's gradient at its winner (summing where
    windows overlap).
    """

    n_spatial: ClassVar[int] = 2


@register
class AvgPool1d(_AvgPoolNd):
    """1-D average pooling over ``(batch, channels, length)`` (torch's ``AvgPool1d``).

    ``y[n, c, i] = (1 / k) sum_{p < k} x_pad[n, c, i * s + p]``, zero padding
    counted in the average (torch's ``count_include_pad=True``); output length
    ``L_out = floor((L + 2 * padding - k) / s) + 1``.

    Parameters
    ----------
    kernel_size : int
    stride : int, optional
        The kernel size by default.
    padding : int
        At most ``kernel_size // 2``.

    Notes
    -----
    Backward: each input in a window gets ``1 / k`` of that window's output
    gradient, summed over the windows that contain it.
    """

    n_spatial: ClassVar[int] = 1


@register
class AvgPool2d(_AvgPoolNd):
    """2-D average pooling over ``(batch, channels, height, width)`` (torch's ``AvgPool2d``).

    ``y[n, c, i, j] = (1 / (k_h k_w)) sum_{p, q} x_pad[n, c, i s_h + p, j s_w + q]``,
    zero padding counted in the average (torch's ``count_include_pad=True``);
    along each axis ``H_out = floor((H + 2 * padding - k) / s) + 1``.

    Parameters
    ----------
    kernel_size : int or pair of ints
    stride : int or pair of ints, optional
        The kernel size by default.
    padding : int or pair of ints
        At most half the kernel size along each axis.

    Notes
    -----
    Backward: ``y`` is linear in ``x``, so each input receives
    ``g / (k_h k_w)`` from every window that contains it.
    """

    n_spatial: ClassVar[int] = 2


class _GlobalAvgPoolNd(ChannelsFirst):
    """Mean over every spatial position: ``(batch, C, *spatial) -> (batch, C)``."""

    follows_input_dtype: ClassVar[bool] = True
    cache_attributes: ClassVar[tuple[str, ...]] = ("_in_shape",)

    def __init__(self) -> None:
        self._in_shape: tuple[int, ...] | None = None

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        self._in_shape = x.shape
        y: FloatArray = x.mean(axis=tuple(range(2, x.ndim)))
        return y

    def backward(self, grad_out: FloatArray) -> FloatArray:
        shape = self._in_shape
        if shape is None:
            raise self._not_run_yet()
        share = grad_out * (1.0 / int(np.prod(shape[2:])))
        grad_in = np.empty(shape, dtype=share.dtype)
        grad_in[...] = share.reshape(*share.shape, *(1,) * self.n_spatial)
        return grad_in

    def check_input(self, shape: tuple[int, ...], position: int | None = None) -> None:
        super().check_input(shape, position)
        if 0 in shape[2:]:
            raise ValueError(
                f"{describe(self, position)}: got input of shape {shape}, with no spatial "
                "positions to average over; give every spatial axis at least one position"
            )

    def output_shape(self, input_shape: Shape | None) -> Shape:
        if input_shape is None or len(input_shape) != 1 + self.n_spatial:
            return (None,)
        return (input_shape[0],)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@register
class GlobalAvgPool1d(_GlobalAvgPoolNd):
    """Mean over the length: ``y[n, c] = (1 / L) sum_i x[n, c, i]``.

    Maps ``(batch, C, L)`` to ``(batch, C)``. Backward: every position receives ``g[n, c] / L``.
    """

    n_spatial: ClassVar[int] = 1


@register
class GlobalAvgPool2d(_GlobalAvgPoolNd):
    """Mean over the image: ``y[n, c] = (1 / (H W)) sum_{i, j} x[n, c, i, j]``.

    Maps ``(batch, C, H, W)`` to ``(batch, C)`` (Keras's ``GlobalAveragePooling2D``,
    torch's ``AdaptiveAvgPool2d(1)`` followed by a flatten). Backward: every
    position receives ``g[n, c] / (H W)``.
    """

    n_spatial: ClassVar[int] = 2
