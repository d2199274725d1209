"""Conv1d and Conv2d: cross-correlation over channels-first batches, as im2col + one GEMM."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from .._threads import batch_chunks, parallel_for
from .._typing import DTypeLike, FloatArray, Shape, as_float_dtype
from .._validation import RngLike, as_generator, check_bool, check_positive_int
from ..initializers import InitializerLike, get_initializer, initialize
from ..parameter import Parameter
from ._windows import (
    Geometry,
    Index,
    Offset,
    SlidingWindow,
    as_tuple,
    offset_plan,
    plain,
    show,
)
from .registry import register
from .spec import InputSpec

IntOrTuple = int | Sequence[int]
"""A size given once for every spatial axis (``3``) or per axis (``(3, 5)``)."""

PaddingLike = int | Sequence[int] | str
"""Zero padding: an int, one int per axis, ``"same"`` (stride 1 only) or ``"valid"`` (none)."""


_CHUNK_BYTES = 1 << 21
"""The most bytes of im2col one chunk of the batch fills (see ``_ConvNd._workspace``).

Small enough that a chunk's im2col is still in cache when its GEMM reads it:
on a 2-core AMD EPYC the `cifar` step's convolutions ran about twice as fast
in chunks of 1-2 MiB as in one GEMM over the whole batch, whose im2col (75 MB
for a 32-channel layer on 64 CIFAR images) went out to memory and back.
"""


_CLAIM = threading.Lock()
"""Held while a forward takes a layer's workspace out of it (see ``_ConvNd._workspace``)."""


class _Run(NamedTuple):
    """One kernel offset of im2col as one run over each whole image (see ``_runs``)."""

    cols: Index
    """Into ``cols`` seen as ``(C, *kernel, chunk, prod(out))``."""
    x: Index
    """Into the source seen as ``(C, chunk, prod(spatial))``."""
    gaps: tuple[Index, ...]
    """Into ``cols`` (``(C, *kernel, chunk, *out)``): entries the run passes that are padding."""


class _Fill(NamedTuple):
    """im2col for one geometry and input size: ``(C, *kernel, n, *out)`` from ``(C, n, *in)``."""

    plan: list[tuple[Index, Index]]
    """Per kernel offset: the index into ``cols`` and the index into the source."""
    runs: list[_Run] | None
    """The same copies as one run per offset and image, where the geometry allows."""
    out: tuple[int, ...]
    """The spatial sizes of ``cols``."""

    def __call__(self, cols: FloatArray, source: FloatArray) -> None:
        """Fill ``cols`` from ``source``; entries that stand for padding must be zero already."""
        if self.runs is None:
            for at_cols, at_source in self.plan:
                np.copyto(cols[at_cols], source[at_source])
            return
        cols_f = cols.reshape(*cols.shape[: -len(self.out)], -1)
        source_f = source.reshape(*source.shape[:2], -1)
        for run in self.runs:
            np.copyto(cols_f[run.cols], source_f[run.x])
            for gap in run.gaps:
                cols[gap] = 0.0


def _make_fill(geometry: Geometry, spatial: tuple[int, ...]) -> _Fill:
    """The im2col of a source of ``spatial`` size under ``geometry``."""
    out = tuple(int(n) for n in geometry.output(spatial) if n is not None)
    every: Index = (slice(None),)
    offsets = offset_plan(spatial, geometry)
    plan = [(every + offset + every + dst, every + every + src) for offset, src, dst in offsets]
    return _Fill(plan, _runs(offsets, spatial, geometry, out), out)


def _runs(
    offsets: list[Offset], spatial: tuple[int, ...], geometry: Geometry, out: tuple[int, ...]
) -> list[_Run] | None:
    """The plan as one run of each image per kernel offset, where the geometry allows.

    With stride 1 and rows as long in the output as in the input (``W_out
    = W``, as with ``padding="same"``), input ``(i + a, j + b)`` lands on
    output ``(i, j)`` for every position of an offset, a constant shift of
    ``a W + b`` in the flattened image: one contiguous run per image and
    channel instead of one short row each. Where the run crosses from one
    row to the next it passes ``|b|`` entries that stand for padding
    (``gaps``): im2col zeroes them after the copy. ``None`` for any other
    geometry (and for 1-d, whose rows are already whole).
    """
    if len(spatial) != 2 or any(s != 1 for s in geometry.stride) or out[1] != spatial[1]:
        return None
    width = spatial[1]
    every: Index = (slice(None),)
    runs = []
    for offset, src, dst in offsets:
        (rows, columns), (src_rows, src_columns) = dst, src
        top, bottom, left, right = rows.start, rows.stop, columns.start, columns.stop
        shift = (src_rows.start - top) * width + src_columns.start - left
        first, last = top * width + left, (bottom - 1) * width + right
        at_cols = every + offset + every
        gaps = []
        if bottom - top > 1 and right < width:  # the ends of every row but the last
            gaps.append((*at_cols, slice(top, bottom - 1), slice(right, width)))
        if bottom - top > 1 and left > 0:  # the starts of every row but the first
            gaps.append((*at_cols, slice(top + 1, bottom), slice(0, left)))
        runs.append(
            _Run(
                (*at_cols, slice(first, last)),
                (*every, *every, slice(first + shift, last + shift)),
                tuple(gaps),
            )
        )
    return runs


def _transposed(geometry: Geometry) -> Geometry | None:
    """The geometry whose convolution of ``dL/dy`` with the flipped kernel gives ``dL/dx``.

    With stride 1, ``y[i] = sum_p W[p] x[i + p d - lo]``, so
    ``dL/dx[j] = sum_p W[p] G[j - p d + lo] = sum_q W[k-1-q] G[j + q d - lo']``
    with ``q = k - 1 - p`` and ``lo' = d (k - 1) - lo`` (and ``hi'`` alike):
    a stride-1 convolution again, which needs ``lo, hi <= d (k - 1)``.
    ``None`` where that does not hold (any stride above 1, padding wider than
    the kernel's span): col2im instead.
    """
    spans = [d * (k - 1) for k, d in zip(geometry.kernel, geometry.dilation, strict=True)]
    wide = any(
        p > span
        for pads in (geometry.pad_lo, geometry.pad_hi)
        for p, span in zip(pads, spans, strict=True)
    )
    if wide or any(s != 1 for s in geometry.stride):
        return None
    return Geometry(
        geometry.kernel,
        geometry.stride,
        geometry.dilation,
        tuple(span - p for span, p in zip(spans, geometry.pad_lo, strict=True)),
        tuple(span - p for span, p in zip(spans, geometry.pad_hi, strict=True)),
    )


class _Forward(NamedTuple):
    """One thread's forward buffers for chunks of one length, channels before batch."""

    cols: FloatArray
    """``(C_in, *kernel, chunk, *out)``: im2col of the chunk's input."""
    y_t: FloatArray
    """``(C_out, chunk, *out)``: the GEMM's output, before the bias and the swap of the axes."""


class _Backward(NamedTuple):
    """One thread's backward buffers for chunks of one length."""

    grad_t: FloatArray
    """``(C_out, chunk, *out)``: ``dL/dy``, channels first."""
    back: FloatArray
    """im2col of ``grad_t`` ``(C_out, *kernel, chunk, *in)``, or for col2im ``dL/dcols``."""
    dx_t: FloatArray | None
    """``(C_in, chunk, *in)``: ``dL/dx`` channels first (``None`` for col2im)."""


@dataclass(eq=False)
class _Workspace:
    """What a batch of one shape needs: its chunks, their fills and buffers, and the input."""

    shape: tuple[int, ...]
    """The input batch shape it was made for."""
    chunks: list[slice]
    """The batch cut into runs of equally many images (the last one may be shorter)."""
    fill_x: _Fill
    """im2col of the input."""
    fill_g: _Fill | None
    """im2col of ``dL/dy`` for ``dL/dx`` as a convolution (stride 1), else ``None``: col2im."""
    forward: dict[tuple[int, int], _Forward]
    """Per (thread, chunk length): forward buffers."""
    backward: dict[tuple[int, int], _Backward]
    """Per (thread, chunk length): backward buffers, made at the first backward."""
    held: dict[tuple[int, int], int]
    """Per (thread, chunk length): the first image of the chunk whose im2col ``cols`` holds."""
    x: FloatArray | None = None
    """The input of the forward that used it last, which backward reads."""


def _reads_all(at_x: Index, spatial: tuple[int, ...]) -> bool:
    """Whether an im2col source index (two full slices, then one per axis) covers every position."""
    axes = at_x[2:]
    return all(
        isinstance(s, slice) and s.indices(n) == (0, n, 1)
        for s, n in zip(axes, spatial, strict=True)
    )


class _ConvNd(SlidingWindow):
    """The N-d convolution shared by :class:`Conv1d` and :class:`Conv2d`.

    Notation for one spatial axis (``Conv2d`` has two, ``Conv1d`` one): input
    length ``L``, kernel ``k``, stride ``s``, dilation ``d``, zero padding
    ``p`` on each side. torch's output-size rule is

        L_out = floor((L + 2 p - d (k - 1) - 1) / s) + 1,

    and ``padding="same"`` pads ``d (k - 1)`` in total, ``floor`` of half
    before and the rest after (torch's split), so ``L_out = L``.

    Forward (cross-correlation, as in torch), for ``Conv2d``::

        y[n, o, i, j] = b[o] + sum_{c, p, q} W[o, c, p, q] * x_pad[n, c, i s + p d, j s + q d]

    computed as im2col plus one GEMM: ``cols[(c, p, q), (n, i, j)]`` holds
    ``x_pad[n, c, i s + p d, j s + q d]`` (channels before batch, see
    ``_workspace``), so with ``W2 = W.reshape(C_out, -1)``, ``Y = W2 @ cols + b``
    of shape ``(C_out, batch * H_out * W_out)``, whose first two axes are
    swapped to give ``(batch, C_out, H_out, W_out)``.

    Backward, given ``G = dL/dY`` in that layout: ``Y`` is linear in ``W2``,
    ``b`` and ``cols``, so

    - ``dL/dW2 = G @ cols.T`` (one GEMM, computed as ``(cols @ G.T).T`` when that
      runs faster), ``dL/db = G.sum(axis=1)``,
    - ``dL/dcols = W2.T @ G`` (one GEMM), and ``dL/dx`` is col2im of it: every
      input element receives the sum of the ``dcols`` entries it was copied
      into (one vectorised add per kernel offset; entries that came from
      padding are dropped). With stride 1 the same sum is a convolution of
      ``G`` with the flipped kernel (:func:`_transposed`), computed like the
      forward: im2col of ``G``, one GEMM. That im2col holds every product
      ``dL/dW2`` needs too, with the input itself in place of ``cols``
      (:meth:`_weight_gradient`), so where it pays (:meth:`_weights_from_grad`)
      the input's im2col is not redone.

    All of it runs over chunks of whole images, spread over threads (see
    :meth:`_workspace`).
    """

    cache_attributes: ClassVar[tuple[str, ...]] = ("_work",)
    tree_attributes: ClassVar[tuple[str, ...] | None] = ("weight", "bias")

    in_channels: int
    out_channels: int
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: tuple[int, ...] | str
    weight: Parameter
    bias: Parameter
    use_bias: bool

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: PaddingLike = 0,
        dilation: IntOrTuple = 1,
        *,
        bias: bool = True,
        weight_init: InitializerLike = "fan_in_uniform",
        bias_init: InitializerLike = "fan_in_uniform",
        rng: RngLike = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        nd = self.n_spatial
        name = f"{type(self).__name__}({in_channels!r} -> {out_channels!r})"
        self.in_channels = check_positive_int(in_channels, "in_channels", name)
        self.out_channels = check_positive_int(out_channels, "out_channels", name)
        self.kernel_size = as_tuple(kernel_size, nd, "kernel_size", name, minimum=1)
        self.stride = as_tuple(stride, nd, "stride", name, minimum=1)
        self.dilation = as_tuple(dilation, nd, "dilation", name, minimum=1)
        span = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation, strict=True)]
        if isinstance(padding, str):
            if padding == "valid":
                lo = hi = (0,) * nd
            elif padding == "same":
                if any(s != 1 for s in self.stride):
                    raise ValueError(
                        f"{name}: padding='same' needs stride 1 (as in torch), got "
                        f"stride={stride!r}; give the padding as numbers instead"
                    )
                lo = tuple(t // 2 for t in span)
                hi = tuple(t - t // 2 for t in span)
            else:
                raise ValueError(
                    f"{name}: padding must be an int, a sequence of {nd} ints, 'same' or "
                    f"'valid', got {padding!r}"
                )
            self.padding = padding
        else:
            lo = hi = as_tuple(padding, nd, "padding", name, minimum=0)
            self.padding = lo
        super().__init__(Geometry(self.kernel_size, self.stride, self.dilation, lo, hi))
        self.dtype = as_float_dtype(dtype)
        self.weight_init = get_initializer(weight_init, argument=f"{name}: weight_init")
        self.bias_init = get_initializer(bias_init, argument=f"{name}: bias_init")
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = Parameter(np.zeros(shape, dtype=self.dtype), name="weight")
        self.use_bias = check_bool(bias, "bias", name)
        self.bias = Parameter(np.zeros(self.out_channels, dtype=self.dtype), name="bias")
        self._work: _Workspace | None = None
        self.reset_parameters(rng)

    def reset_parameters(self, rng: RngLike = None) -> None:
        """Redraw the weight (and bias) from the initializers, in place.

        The default, ``"fan_in_uniform"``, is torch's: U(-1/sqrt(fan_in),
        1/sqrt(fan_in)) for both, with ``fan_in = in_channels * prod(kernel_size)``.
        """
        gen = as_generator(rng)
        taps = int(np.prod(self.kernel_size))
        fan_in, fan_out = self.in_channels * taps, self.out_channels * taps
        for init, param, used in (
            (self.weight_init, self.weight, True),
            (self.bias_init, self.bias, self.use_bias),
        ):
            if used:
                param.value[...] = initialize(
                    init, param.shape, fan_in=fan_in, fan_out=fan_out, rng=gen, dtype=self.dtype
                )

    # -- the maths -----------------------------------------------------------------

    def _workspace(self, shape: tuple[int, ...]) -> _Workspace:
        """Claim the workspace for a batch of ``shape``: last forward's if the shape is the same.

        The batch is cut into equal chunks of whole images, as few as keep
        each chunk's im2col within ``_CHUNK_BYTES`` (one image at least; the
        im2col of ``dL/dy`` in backward is ``C_out / C_in`` times as large).
        Forward and backward run im2col, the GEMMs and the copies back one
        chunk at a time, the chunks spread over threads by
        :func:`~layernet._threads.parallel_for`, each thread with buffers of
        its own; where backward takes ``dL/dW`` from the input's im2col
        (:meth:`_weights_from_grad`) it redoes each chunk's (from cache:
        cheaper than keeping a whole batch's, 9 times the input for a 3x3
        kernel), but for a chunk still in its thread's buffer. How the
        batch is cut depends on the shapes alone, never on the threads, so
        results are the same from run to run.

        Inside, channels come before the batch: ``cols`` is ``(C_in, *kernel,
        chunk, *out)``, so a chunk is one GEMM whose result ``(C_out, chunk,
        *out)`` turns into ``(chunk, C_out, *out)`` by moving blocks of
        ``prod(out)`` contiguous numbers (never element by element), and every
        copy in im2col and col2im moves rows of the image (whole images, see
        :func:`_runs`). ``cols`` is zeroed only when allocated: im2col writes
        the same entries every time, so those that stand for padding stay zero.

        The claim takes the workspace out of the layer (under a lock), so two
        threads running forward on one layer never share buffers; forward puts
        it back as the cache that backward reads (``clear_cache`` drops it).
        """
        with _CLAIM:
            work, self._work = self._work, None
        if work is not None and work.shape == shape:
            return work
        spatial = shape[2:]
        fill_x = _make_fill(self.geometry, spatial)
        transposed = _transposed(self.geometry)
        fill_g = None if transposed is None else _make_fill(transposed, fill_x.out)
        per_image = self.weight.value[0].size * int(np.prod(fill_x.out)) * self.dtype.itemsize
        chunks = batch_chunks(shape[0], per_image, _CHUNK_BYTES)
        return _Workspace(shape, chunks, fill_x, fill_g, {}, {}, {})

    def _im2col(self, work: _Workspace, worker: int, x: FloatArray, at: slice) -> _Forward:
        """Thread ``worker``'s buffers for images ``at`` of ``x``, their ``cols`` filled."""
        n = at.stop - at.start
        key = (worker, n)
        bufs = work.forward.get(key)
        if bufs is None:
            out = work.fill_x.out
            cols = np.zeros((self.in_channels, *self.kernel_size, n, *out), dtype=self.dtype)
            y_t = np.empty((self.out_channels, n, *out), dtype=self.dtype)
            bufs = work.forward[key] = _Forward(cols, y_t)
        if work.held.get(key) != at.start:
            work.fill_x(bufs.cols, self._swap(x[at]))
            work.held[key] = at.start
        return bufs

    def _swap(self, a: FloatArray) -> FloatArray:
        """``a`` with first two axes swapped: ``(batch, C, ...) <-> (C, batch, ...)``."""
        swapped: FloatArray = a.transpose(1, 0, *range(2, self.n_spatial + 2))
        return swapped

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        work = self._workspace(x.shape)
        work.held.clear()  # a new input: no chunk's im2col is current
        work.x = x
        c_out = self.out_channels
        weight = self.weight.value.reshape(c_out, -1)
        bias = self.bias.value.reshape(c_out, *(1,) * self.n_spatial)
        y = np.empty((x.shape[0], c_out, *work.fill_x.out), dtype=self.dtype)

        def chunk(worker: int, i: int) -> None:
            at = work.chunks[i]
            bufs = self._im2col(work, worker, x, at)
            y_t = bufs.y_t
            positions = y_t[0].size
            np.matmul(
                weight,
                bufs.cols.reshape(weight.shape[1], positions),
                out=y_t.reshape(c_out, positions),
            )
            if self.use_bias:  # the bias rides along with the copy to (chunk, C_out, *out)
                np.add(self._swap(y_t), bias, out=y[at])
            else:
                np.copyto(y[at], self._swap(y_t))

        parallel_for(len(work.chunks), chunk)
        self._work = work
        return y

    def _backward_buffers(self, work: _Workspace, worker: int, n: int) -> _Backward:
        key = (worker, n)
        bufs = work.backward.get(key)
        if bufs is None:
            c_in, c_out, kernel = self.in_channels, self.out_channels, self.kernel_size
            grad_t = np.empty((c_out, n, *work.fill_x.out), dtype=self.dtype)
            if work.fill_g is None:
                back = np.empty((c_in, *kernel, n, *work.fill_x.out), dtype=self.dtype)
                bufs = _Backward(grad_t, back, None)
            else:
                spatial = work.shape[2:]
                back = np.zeros((c_out, *kernel, n, *spatial), dtype=self.dtype)
                bufs = _Backward(grad_t, back, np.empty((c_in, n, *spatial), dtype=self.dtype))
            work.backward[key] = bufs
        return bufs

    def _backward(self, grad_out: FloatArray, *, input_gradient: bool) -> FloatArray | None:
        """Write ``dL/dW`` and ``dL/db``, chunk by chunk; return ``dL/dx`` if asked.

        Each chunk's share of ``dL/dW`` and ``dL/db`` goes to a slot of its
        own, summed in chunk order at the end, so the result does not depend
        on which thread ran which chunk. With stride 1, ``dL/dx`` is the
        convolution of ``dL/dy`` with the flipped kernel (see
        :func:`_transposed`): im2col of ``dL/dy`` and one GEMM; where that
        convolution does not exist it is col2im of ``W2.T @ G``. ``dL/dW``
        comes from the im2col of ``dL/dy`` where :meth:`_weights_from_grad`
        says so (the input's im2col is then not redone), else from the
        input's.
        """
        work = self._work
        if work is None or work.x is None:
            raise self._not_run_yet()
        x = work.x
        c_in, c_out = self.in_channels, self.out_channels
        weight = self.weight.value.reshape(c_out, -1)
        taps = weight.shape[1]
        chunks = work.chunks
        from_grad = self._weights_from_grad(work)
        grad_in = flipped = None
        col2im: tuple[list[tuple[Index, Index]], bool] = ([], False)
        if input_gradient:
            grad_in = np.empty(work.shape, dtype=self.dtype)
            if work.fill_g is not None:  # W'[c, o, *q] = W[o, c, *(k - 1 - q)]: (C_in, C_out * K)
                axes = tuple(range(2, 2 + self.n_spatial))
                flipped = np.flip(self.weight.value, axes).swapaxes(0, 1).reshape(c_in, -1)
            else:
                col2im = self._col2im_order(work)
        # dW = G @ cols.T = (cols @ G.T).T, a product over the long axis (chunk *
        # positions). OpenBLAS runs it several times faster (up to 10x measured)
        # when the result's longer side is its rows: C_out x taps or taps x C_out
        # (from the im2col of G: C_out * K x C_in).
        tall = taps > c_out
        rows = c_out * (taps // c_in)  # of the im2col of G
        part_shape = (rows, c_in) if from_grad else (taps, c_out) if tall else (c_out, taps)
        part_w = np.empty((len(chunks), *part_shape), self.dtype)
        part_b = np.empty((len(chunks), c_out), self.dtype)

        def chunk(worker: int, i: int) -> None:
            at = chunks[i]
            bufs = self._backward_buffers(work, worker, at.stop - at.start)
            np.copyto(bufs.grad_t, self._swap(grad_out[at]))  # (C_out, n, *out)
            positions = bufs.grad_t[0].size
            g = bufs.grad_t.reshape(c_out, positions)
            if self.use_bias:
                np.sum(g, axis=1, out=part_b[i])
            if from_grad:
                assert work.fill_g is not None
                assert bufs.dx_t is not None
                work.fill_g(bufs.back, bufs.grad_t)
                x_t = bufs.dx_t.reshape(c_in, -1)  # the chunk's input, channels first
                np.copyto(bufs.dx_t, self._swap(x[at]))
                np.matmul(bufs.back.reshape(rows, -1), x_t.T, out=part_w[i])
            else:
                cols_2d = self._im2col(work, worker, x, at).cols.reshape(taps, positions)
                if tall:
                    np.matmul(cols_2d, g.T, out=part_w[i])
                else:
                    np.matmul(g, cols_2d.T, out=part_w[i])
            if grad_in is None:
                return
            if flipped is not None:  # dL/dx as a convolution of dL/dy (stride 1)
                assert work.fill_g is not None
                assert bufs.dx_t is not None
                if not from_grad:
                    work.fill_g(bufs.back, bufs.grad_t)
                np.matmul(flipped, bufs.back.reshape(rows, -1), out=bufs.dx_t.reshape(c_in, -1))
                np.copyto(grad_in[at], self._swap(bufs.dx_t))
            else:
                np.matmul(weight.T, g, out=bufs.back.reshape(taps, positions))
                self._col2im(col2im, bufs.back, grad_in[at])

        parallel_for(len(chunks), chunk)
        self._weight_gradient(part_w.sum(axis=0), from_grad=from_grad, tall=tall)
        if self.use_bias:
            np.sum(part_b, axis=0, out=self.bias.grad)
        return grad_in

    def _weights_from_grad(self, work: _Workspace) -> bool:
        """Whether ``dL/dW`` comes from the im2col of ``dL/dy`` rather than the input's.

        That im2col exists where :func:`_transposed` does, and is ``C_out /
        C_in`` times the input's: :meth:`backward` makes it anyway (for
        ``dL/dx``), and taking ``dL/dW`` from it spares redoing the input's;
        :meth:`backward_parameters` makes it for ``dL/dW`` alone, so the rule
        leaves layers that widen the channels more than 4 times (a first
        layer on RGB images) on the input's. Its product runs over the input's
        positions, so the rule wants an output as large as the input
        (``padding="same"``), and more than one chunk: a batch in one chunk
        still has the input's im2col in its buffer, with nothing to redo. It
        looks at the shapes alone, so both methods write the same ``dL/dW``.
        """
        return (
            work.fill_g is not None
            and len(work.chunks) > 1
            and work.fill_x.out == work.shape[2:]
            and self.out_channels <= 4 * self.in_channels
        )

    def _weight_gradient(self, total: FloatArray, *, from_grad: bool, tall: bool) -> None:
        """Write ``dL/dW`` from the chunks' summed product, whichever way it was taken.

        From the input's im2col the product is ``dL/dW2`` (``tall``: its
        transpose). From the im2col of ``dL/dy``, whose kernel offsets are
        flipped (``back[o, q, j] = G[o, j - (k-1-q) d + lo]``, see
        :func:`_transposed`), it is ``B[(o, q), c] = sum_j back[o, q, j] x[c, j]
        = dL/dW[o, c, k-1-q]``: unflip the offsets, move the channels in.
        """
        grad = self.weight.grad
        if from_grad:
            kernel_axes = tuple(range(1, 1 + self.n_spatial))
            blocks = np.flip(total.reshape(self.out_channels, *self.kernel_size, -1), kernel_axes)
            np.copyto(grad, np.moveaxis(blocks, -1, 1))
        elif tall:
            np.copyto(grad.reshape(self.out_channels, -1), total.T)
        else:
            np.copyto(grad.reshape(self.out_channels, -1), total)

    def _col2im_order(self, work: _Workspace) -> tuple[list[tuple[Index, Index]], bool]:
        """The im2col plan in the order col2im adds it back; whether its first offset copies.

        An offset that reads every input position (the centre of a "same"
        kernel) goes first and is copied rather than added, so ``dL/dx``
        needs no zeroing.
        """
        spatial = work.shape[2:]
        plan = work.fill_x.plan
        first = next((i for i, (_, at_x) in enumerate(plan) if _reads_all(at_x, spatial)), None)
        if first is None:
            return plan, False
        return [plan[first], *plan[:first], *plan[first + 1 :]], True

    def _col2im(
        self, order: tuple[list[tuple[Index, Index]], bool], dcols: FloatArray, dx: FloatArray
    ) -> None:
        """``dx`` (a chunk of ``dL/dx``): each ``dcols`` entry added back where it came from.

        One vectorised add per kernel offset, in the order of
        :meth:`_col2im_order`; entries that came from padding are dropped.
        """
        plan, copies_first = order
        if not copies_first:
            dx[...] = 0.0
        dx_c = self._swap(dx)  # (C, n, *spatial), a view
        for i, (at_cols, at_x) in enumerate(plan):
            view = dx_c[at_x]
            if i == 0 and copies_first:
                np.copyto(view, dcols[at_cols])
            else:
                np.add(view, dcols[at_cols], out=view)

    def backward(self, grad_out: FloatArray) -> FloatArray:
        grad_in = self._backward(grad_out, input_gradient=True)
        assert grad_in is not None
        return grad_in

    def backward_parameters(self, grad_out: FloatArray) -> None:
        """``dL/dW`` and ``dL/db`` only: skips the ``dcols`` GEMM and col2im of :meth:`backward`."""
        self._backward(grad_out, input_gradient=False)

    # -- structure -----------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": plain(self.kernel_size),
            "stride": plain(self.stride),
            "padding": self.padding if isinstance(self.padding, str) else plain(self.padding),
            "dilation": plain(self.dilation),
            "bias": self.use_bias,
            "dtype": self.dtype.name,
        }

    @property
    def input_spec(self) -> InputSpec:
        return InputSpec(1 + self.n_spatial, axes={0: self.in_channels})

    def output_shape(self, input_shape: Shape | None) -> Shape:
        return (self.out_channels, *self._output_spatial(input_shape))

    def __repr__(self) -> str:
        parts = [f"kernel_size={show(self.kernel_size)}"]
        if any(s != 1 for s in self.stride):
            parts.append(f"stride={show(self.stride)}")
        if isinstance(self.padding, str):
            parts.append(f"padding={self.padding!r}")
        elif any(self.padding):
            parts.append(f"padding={show(self.padding)}")
        if any(d != 1 for d in self.dilation):
            parts.append(f"dilation={show(self.dilation)}")
        if not self.use_bias:
            parts.append("bias=False")
        return (
            f"{type(self).__name__}({self.in_channels} -> {self.out_channels}, "
            + ", ".join(parts)
            + ")"
        )


@register
class Conv1d(_ConvNd):
    """1-D convolution over ``(batch, in_channels, length)`` (torch's ``Conv1d``).

    ``y[n, o, i] = b[o] + sum_{c, p} W[o, c, p] * x_pad[n, c, i * s + p * d]``, with output
    length ``L_out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int
    padding : int, "same" or "valid"
        Zeros added at both ends; ``"same"`` (stride 1 only) keeps the length,
        putting the odd one out at the end, as torch does.
    bias : bool
        Without it ``bias`` stays a zero Parameter that is never trained,
        saved or returned by :meth:`parameters`.
    weight_init, bias_init : str or callable
        Initializers from :mod:`layernet.initializers`; torch's default
        U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with ``fan_in = in_channels * kernel_size``.
    rng : numpy.random.Generator, int or None
    dtype : np.float64 or np.float32

    Attributes
    ----------
    weight : Parameter of shape (out_channels, in_channels, kernel_size)
        torch's layout, so a torch state dict loads as it is.
    bias : Parameter of shape (out_channels,)

    Notes
    -----
    Input ``(batch, in_channels, L)``, output ``(batch, out_channels, L_out)``.
    The im2col forward and the derivation of the backward pass are in the
    docstring of the shared base class, ``layernet.layers.conv._ConvNd``.
    """

    n_spatial: ClassVar[int] = 1


@register
class Conv2d(_ConvNd):
    """2-D convolution over ``(batch, in_channels, height, width)`` (torch's ``Conv2d``).

    ``y[n, o, i, j] = b[o] + sum_{c, p, q} W[o, c, p, q] * x_pad[n, c, i s + p d, j s + q d]``,
    with, along each spatial axis,
    ``H_out = floor((H + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int or pair of ints
        One value for both axes, or ``(height, width)``.
    padding : int, pair of ints, "same" or "valid"
        Zeros added on both sides of each axis; ``"same"`` (stride 1 only)
        keeps the size, putting the odd one out after, as torch does.
    bias : bool
        Without it ``bias`` stays a zero Parameter that is never trained,
        saved or returned by :meth:`parameters`.
    weight_init, bias_init : str or callable
        Initializers from :mod:`layernet.initializers`; torch's default
        U(-1/sqrt(fan_in), 1/sqrt(fan_in)), ``fan_in = in_channels * kh * kw``.
    rng : numpy.random.Generator, int or None
    dtype : np.float64 or np.float32

    Attributes
    ----------
    weight : Parameter of shape (out_channels, in_channels, kh, kw)
        torch's layout, so a torch state dict loads as it is.
    bias : Parameter of shape (out_channels,)

    Notes
    -----
    Input ``(batch, in_channels, H, W)``, output ``(batch, out_channels, H_out, W_out)``.

    Forward is im2col plus one GEMM: ``Y = W.reshape(C_out, -1) @ cols + b``
    where ``cols[(c, p, q), (i, j, n)] = x_pad[n, c, i s + p d, j s + q d]``.
    Backward with ``G = dL/dY``: ``dW = G @ cols.T``, ``db = G.sum(axis=1)``,
    ``dcols = W.reshape(C_out, -1).T @ G``, and ``dL/dx`` adds each ``dcols``
    entry back onto the input element it was copied from (col2im).
    """

    n_spatial: ClassVar[int] = 2
