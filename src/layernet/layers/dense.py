"""Dense: the fully connected layer ``y = x @ W + b``, on the last axis of any input."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._threads import WAKES, one_blas_thread, one_thread_pays
from .._typing import DTypeLike, FloatArray, Shape, as_float_dtype
from .._validation import RngLike, as_generator, check_bool, check_positive_int
from ..initializers import InitializerLike, get_initializer, initialize
from ..parameter import Parameter
from .base import Layer
from .registry import register
from .spec import InputSpec


@register
class Dense(Layer):
    """Fully connected layer: ``y = x @ W + b``.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of each input and output sample.
    bias : bool
        Whether to learn and add the bias ``b``. Without it ``bias`` stays a
        zero Parameter that is never trained, saved or returned by
        :meth:`parameters`, so ``layer.bias`` needs no None check.
    weight_init, bias_init : str or callable
        Initializers (see :mod:`layernet.initializers`): Glorot uniform and
        zeros by default, as in Keras; ``"normal"`` is the blog's N(0, 1).
    rng : numpy.random.Generator, int or None
        Source of the initial weights; an int seeds a fresh Generator.
    dtype : np.float64 or np.float32

    Attributes
    ----------
    weight : Parameter of shape (in_features, out_features)
        Stored so that the forward pass is one GEMM on C-contiguous memory.
    bias : Parameter of shape (out_features,)
    use_bias : bool

    Notes
    -----
    Forward, for ``x`` of shape (batch, in): ``y = x @ W + b``. An input of
    shape (batch, *, in), such as a sequence (batch, time, in), is mapped
    along its last axis, as torch's ``Linear``: the leading axes are folded
    into the rows of one matrix (a reshape, no copy for contiguous input),
    ``y = x.reshape(-1, in) @ W + b``, and unfolded again.

    Backward, given ``g = dL/dy`` of shape (batch, out): since
    ``y[n, j] = sum_i x[n, i] W[i, j] + b[j]``,

    - ``dL/dW = x.T @ g``  (each weight sees its input times the output's gradient),
    - ``dL/db = g.sum(axis=0)``  (the bias feeds every sample),
    - ``dL/dx = g @ W.T``.

    For more axes the rows ``n`` run over every leading position, so the
    same formulas hold on the folded ``x`` and ``g``: every position's
    gradient adds into ``dL/dW`` and ``dL/db``.
    """

    cache_attributes: ClassVar[tuple[str, ...]] = ("_x",)
    tree_attributes: ClassVar[tuple[str, ...] | None] = ("weight", "bias")
    _few_rows: int = 0
    """Batches of at most this many rows never reach ``WAKES`` multiply-adds (set per layer)."""

    in_features: int
    out_features: int
    weight: Parameter
    bias: Parameter
    use_bias: bool

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        weight_init: InitializerLike = "glorot_uniform",
        bias_init: InitializerLike = "zeros",
        rng: RngLike = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        name = f"Dense({in_features!r} -> {out_features!r})"
        self.in_features = check_positive_int(in_features, "in_features", name)
        self.out_features = check_positive_int(out_features, "out_features", name)
        self.dtype = as_float_dtype(dtype)
        self.weight_init = get_initializer(weight_init, argument=f"{name}: weight_init")
        self.bias_init = get_initializer(bias_init, argument=f"{name}: bias_init")
        shape = (self.in_features, self.out_features)
        self.weight = Parameter(np.zeros(shape, dtype=self.dtype), name="weight")
        self.use_bias = check_bool(bias, "bias", name)
        self.bias = Parameter(np.zeros(self.out_features, dtype=self.dtype), name="bias")
        self._x: FloatArray | None = None
        self._few_rows = WAKES // (self.in_features * self.out_features)
        self.reset_parameters(rng)

    def reset_parameters(self, rng: RngLike = None) -> None:
        """Redraw the weight (and bias) from the initializers, in place."""
        gen = as_generator(rng)
        fan_in, fan_out = self.in_features, self.out_features
        self.weight.value[...] = initialize(
            self.weight_init,
            self.weight.shape,
            fan_in=fan_in,
            fan_out=fan_out,
            rng=gen,
            dtype=self.dtype,
        )
        if self.use_bias:
            self.bias.value[...] = initialize(
                self.bias_init,
                self.bias.shape,
                fan_in=fan_in,
                fan_out=fan_out,
                rng=gen,
                dtype=self.dtype,
            )

    # Products that OpenBLAS would split over its threads but that gain little
    # from it run with the BLAS on one thread where layernet's own threads ran
    # lately (layernet._threads.one_thread_pays): each method calls itself again
    # inside one_blas_thread(), where one_thread_pays is false. The first test,
    # on the rows alone, is the cheap one that small batches stop at.

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        if len(x) > self._few_rows and one_thread_pays(x.size * self.out_features):
            with one_blas_thread():
                return self.forward(x, training=training)
        self._x = x
        if x.ndim != 2:  # (batch, *, in): fold the leading axes into rows
            y = x.reshape(-1, self.in_features) @ self.weight.value
            if self.use_bias:
                y += self.bias.value
            return y.reshape(*x.shape[:-1], self.out_features)
        y = x @ self.weight.value
        if self.use_bias:
            y += self.bias.value
        return y

    def backward(self, grad_out: FloatArray) -> FloatArray:
        if len(grad_out) > self._few_rows and one_thread_pays(grad_out.size * self.in_features):
            with one_blas_thread():
                return self.backward(grad_out)
        self.backward_parameters(grad_out)
        if grad_out.ndim != 2:
            folded: FloatArray = grad_out.reshape(-1, self.out_features) @ self.weight.value.T
            return folded.reshape(*grad_out.shape[:-1], self.in_features)
        grad_in: FloatArray = grad_out @ self.weight.value.T
        return grad_in

    def backward_parameters(self, grad_out: FloatArray) -> None:
        if len(grad_out) > self._few_rows and one_thread_pays(grad_out.size * self.in_features):
            with one_blas_thread():
                self.backward_parameters(grad_out)
            return
        x = self._x
        if x is None:
            raise self._not_run_yet()
        if x.ndim != 2:
            x = x.reshape(-1, self.in_features)
            grad_out = grad_out.reshape(-1, self.out_features)
        np.matmul(x.T, grad_out, out=self.weight.grad)
        if not self.use_bias:
            return
        if len(grad_out) == 1:  # one row (per-sample SGD): its sum is itself, at half the cost
            self.bias.grad[...] = grad_out[0]
        else:
            np.add.reduce(grad_out, axis=0, out=self.bias.grad)

    def get_config(self) -> dict[str, Any]:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.use_bias,
            "dtype": self.dtype.name,
        }

    @property
    def input_spec(self) -> InputSpec:
        """``(batch, ..., in_features)``: mapped along the last axis."""
        return InputSpec(min_rank=1, axes={-1: self.in_features})

    def output_shape(self, input_shape: Shape | None) -> Shape:
        """The input's shape with its last axis ``out_features``."""
        leading = () if input_shape is None else tuple(input_shape[:-1])
        return (*leading, self.out_features)

    def __repr__(self) -> str:
        return f"Dense({self.in_features} -> {self.out_features})"
