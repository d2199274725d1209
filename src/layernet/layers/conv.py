"""Conv1d and Conv2d: cross-correlation over channels-first batches, as im2col + one GEMM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np

from .._typing import DTypeLike, FloatArray, Shape, as_float_dtype
from .._validation import RngLike, as_generator, check_bool, check_positive_int
from ..initializers import InitializerLike, get_initializer, initialize
from ..parameter import Parameter
from ._windows import Geometry, Index, SlidingWindow, as_tuple, offset_plan, plain, show
from .registry import register
from .spec import InputSpec

IntOrTuple = int | Sequence[int]
"""A size given once for every spatial axis (``3``) or per axis (``(3, 5)``)."""

PaddingLike = int | Sequence[int] | str
"""Zero padding: an int, one int per axis, ``"same"`` (stride 1 only) or ``"valid"`` (none)."""


class _Workspace(NamedTuple):
    """The buffers one batch shape needs, channels before batch (see ``_ConvNd._workspace``)."""

    shape: tuple[int, ...]
    """The input batch shape they were allocated for."""
    cols: FloatArray
    """``(C_in, *kernel, batch, *out)``: im2col of the input."""
    dcols: FloatArray
    """Like ``cols``: ``dL/dcols`` in backward."""
    y_t: FloatArray
    """``(C_out, batch, *out)``: the GEMM's output, before the bias and the swap of the axes."""
    grad_t: FloatArray
    """Like ``y_t``: ``dL/dy`` in backward."""


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
      padding are dropped).
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

    def _make_plan(self, spatial: tuple[int, ...]) -> list[tuple[Index, Index]]:
        """Per kernel offset: the index into ``cols``, and into the input as ``(C, batch, ...)``."""
        every: Index = (slice(None),)
        return [
            (every + offset + every + dst, every + every + src)
            for offset, src, dst in offset_plan(spatial, self.geometry)
        ]

    def _workspace(self, shape: tuple[int, ...]) -> _Workspace:
        """The buffers for a batch of ``shape``: last forward's if the shape is the same.

        Inside, channels come before the batch: ``cols`` is ``(C_in, *kernel,
        batch, *out)``, so the whole batch is one GEMM whose result
        ``(C_out, batch, *out)`` turns into ``(batch, C_out, *out)`` by moving
        blocks of ``prod(out)`` contiguous numbers (never element by element),
        and every copy in im2col and col2im moves rows of the image. ``cols``
        is zeroed only when allocated: forward writes the same entries every
        time, so those that stand for padding stay zero. The workspace is the
        cache that backward reads (``clear_cache`` drops it).
        """
        work = self._work
        if work is not None and work.shape == shape:
            return work
        out = tuple(int(n) for n in self.geometry.output(shape[2:]) if n is not None)
        batch, dtype = shape[0], self.dtype
        cols = np.zeros((self.in_channels, *self.kernel_size, batch, *out), dtype=dtype)
        y_t = np.empty((self.out_channels, batch, *out), dtype=dtype)
        return _Workspace(
            shape, cols=cols, dcols=np.empty_like(cols), y_t=y_t, grad_t=np.empty_like(y_t)
        )

    def _swap(self, a: FloatArray) -> FloatArray:
        """``a`` with first two axes swapped: ``(batch, C, ...) <-> (C, batch, ...)``."""
        swapped: FloatArray = a.transpose(1, 0, *range(2, self.n_spatial + 2))
        return swapped

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        nd = self.n_spatial
        work = self._work = self._workspace(x.shape)
        cols, y_t = work.cols, work.y_t
        x_c = self._swap(x)  # (C, batch, *spatial), a view
        for at_cols, at_x in self._plan(x.shape[2:]):  # im2col: cols[c, *offset, n, *out]
            np.copyto(cols[at_cols], x_c[at_x])
        c_out = self.out_channels
        weight = self.weight.value.reshape(c_out, -1)
        positions = int(np.prod(y_t.shape[1:]))  # batch * prod(out); explicit for batch 0
        np.matmul(
            weight, cols.reshape(weight.shape[1], positions), out=y_t.reshape(c_out, positions)
        )
        y = np.empty((x.shape[0], c_out, *y_t.shape[2:]), dtype=y_t.dtype)
        if self.use_bias:  # the bias rides along with the copy to (batch, C_out, *out)
            np.add(self._swap(y_t), self.bias.value.reshape(c_out, *(1,) * nd), out=y)
        else:
            np.copyto(y, self._swap(y_t))
        return y

    def _parameter_gradients(self, grad_out: FloatArray) -> tuple[_Workspace, FloatArray]:
        """Write ``dL/dW`` and ``dL/db``; return the workspace and ``G``, ``(C_out, positions)``."""
        work = self._work
        if work is None:
            raise self._not_run_yet()
        c_out = self.out_channels
        np.copyto(work.grad_t, self._swap(grad_out))  # (C_out, batch, *out)
        positions = int(np.prod(work.grad_t.shape[1:]))  # explicit for batch 0
        g = work.grad_t.reshape(c_out, positions)
        cols = work.cols.reshape(self.weight.value[0].size, positions)
        # dW = G @ cols.T = (cols @ G.T).T, a product over the long axis (batch *
        # positions). OpenBLAS runs it several times faster (up to 10x measured)
        # when the result's longer side is its rows: C_out x taps or taps x C_out.
        grad = self.weight.grad.reshape(c_out, -1)
        if cols.shape[0] > c_out:
            grad[...] = np.matmul(cols, g.T).T
        else:
            np.matmul(g, cols.T, out=grad)
        if self.use_bias:
            np.sum(g, axis=1, out=self.bias.grad)
        return work, g

    def backward(self, grad_out: FloatArray) -> FloatArray:
        work, g = self._parameter_gradients(grad_out)
        weight = self.weight.value.reshape(self.out_channels, -1)
        dcols = work.dcols
        np.matmul(weight.T, g, out=dcols.reshape(weight.shape[1], g.shape[1]))
        spatial = work.shape[2:]
        plan = self._plan(spatial)
        # col2im: add each dcols entry back where it came from. An offset that reads
        # every input position (the centre of a "same" kernel) is copied first, so
        # the buffer needs no zeroing and one pass fewer.
        first = next((i for i, (_, at_x) in enumerate(plan) if _reads_all(at_x, spatial)), None)
        if first is None:
            grad_in = np.zeros(work.shape, dtype=dcols.dtype)
        else:
            grad_in = np.empty(work.shape, dtype=dcols.dtype)
            plan = [plan[first], *plan[:first], *plan[first + 1 :]]
        dx_c = self._swap(grad_in)  # (C, batch, *spatial), a view
        for i, (at_cols, at_x) in enumerate(plan):
            view = dx_c[at_x]
            if i == 0 and first is not None:
                np.copyto(view, dcols[at_cols])
            else:
                np.add(view, dcols[at_cols], out=view)
        return grad_in

    def backward_parameters(self, grad_out: FloatArray) -> None:
        """``dL/dW`` and ``dL/db`` only: skips the ``dcols`` GEMM and col2im of :meth:`backward`."""
        self._parameter_gradients(grad_out)

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
