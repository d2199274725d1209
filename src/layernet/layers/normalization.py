"""Normalization layers: BatchNorm1d, BatchNorm2d (one BatchNorm underneath) and LayerNorm."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from .._typing import DTypeLike, FloatArray, Shape, as_float_dtype
from .._validation import check_positive_int, check_real
from ..parameter import Parameter
from .base import Layer
from .registry import register
from .spec import InputSpec


class BatchNorm(Layer):
    """Batch normalization per channel (axis 1), as torch's ``BatchNorm1d``/``BatchNorm2d``.

    For input of shape (batch, C, *spatial), per channel ``c``::

        y = gamma_c * (x - mean_c) / sqrt(var_c + eps) + beta_c

    In training, ``mean_c`` and ``var_c`` (biased) are the statistics of the
    batch over its ``n = batch * prod(spatial)`` values of channel ``c``
    (every axis but the channel axis), and the running statistics move
    towards them::

        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var  = (1 - momentum) * running_var  + momentum * var * n / (n - 1)

    (the unbiased variance, as torch). In inference the running statistics
    are used instead and nothing is updated. Abstract: the subclasses
    :class:`BatchNorm1d` and :class:`BatchNorm2d` only say which input ranks
    they take.

    Parameters
    ----------
    num_features : int
        The channel count ``C``.
    momentum : float
        In [0, 1]; 0.1 by default (torch's meaning: the weight of the new batch).
    eps : float
        Positive, added to the variance; 1e-5 by default.
    dtype : np.float64 or np.float32

    Attributes
    ----------
    gamma, beta : Parameter of shape (num_features,)
        Scale (ones) and shift (zeros).
    running_mean, running_var : ndarray of shape (num_features,)
        Buffers (zeros and ones at first), saved with the state dict.

    Notes
    -----
    Backward, with ``x_hat = (x - mean) * inv_std``, ``inv_std = 1/sqrt(var + eps)``
    and ``g = dL/dy``: ``dL/dbeta = sum(g)``, ``dL/dgamma = sum(g * x_hat)``
    (sums over every axis but the channel). In inference ``mean`` and ``var``
    are constants, so ``dL/dx = g * gamma * inv_std``. In training they depend
    on ``x``; differentiating through them gives
    ``dL/dx = gamma * inv_std / n * (n g - sum(g) - x_hat * sum(g * x_hat))``.
    """

    shape_preserving: ClassVar[bool] = True
    cache_attributes: ClassVar[tuple[str, ...]] = ("_cache",)
    tree_attributes: ClassVar[tuple[str, ...] | None] = ("gamma", "beta")
    num_features: int
    momentum: float
    eps: float
    gamma: Parameter
    beta: Parameter
    running_mean: FloatArray
    running_var: FloatArray

    def __init__(
        self,
        num_features: int,
        momentum: float = 0.1,
        eps: float = 1e-5,
        *,
        dtype: DTypeLike = np.float64,
    ) -> None:
        name = f"{type(self).__name__}({num_features!r})"
        self.num_features = check_positive_int(num_features, "num_features", name)
        self.momentum = check_real(momentum, "momentum", name)
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1], got {momentum}")
        self.eps = check_real(eps, "eps", name, positive=True)
        self.dtype = as_float_dtype(dtype)
        c = self.num_features
        self.gamma = Parameter(np.ones(c, dtype=self.dtype), name="gamma")
        self.beta = Parameter(np.zeros(c, dtype=self.dtype), name="beta")
        self.running_mean = np.zeros(c, dtype=self.dtype)
        self.running_var = np.ones(c, dtype=self.dtype)
        self._cache: tuple[FloatArray, FloatArray, bool] | None = None

    def min_training_batch(self, input_shape: Shape | None) -> int:
        """2 rows for input (batch, C); 1 for (batch, C, L) with a known L >= 2.

        Training normalises each channel over ``batch * L`` values and needs
        at least two; with L unknown, the worst case (L = 1) is assumed.
        """
        per_row = input_shape[1] if input_shape is not None and len(input_shape) == 2 else 1
        return 1 if per_row is not None and per_row >= 2 else 2

    def reset_running_stats(self) -> None:
        """Running mean back to zeros, running variance back to ones (in place)."""
        self.running_mean[...] = 0.0
        self.running_var[...] = 1.0

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        axes, view = _channel_axes(x.ndim)
        if training:
            n = x.size // self.num_features
            if n < 2:
                raise ValueError(
                    f"{self!r}: training needs more than one value per channel, got input of "
                    f"shape {x.shape}; use a batch of at least 2 or training=False"
                )
            mean = x.mean(axis=axes)
            xc = x - mean.reshape(view)
            var = np.mean(xc * xc, axis=axes)
            m = self.momentum
            self.running_mean *= 1.0 - m
            self.running_mean += m * mean
            self.running_var *= 1.0 - m
            self.running_var += (m * n / (n - 1)) * var
        else:
            xc = x - self.running_mean.reshape(view)
            var = self.running_var
        inv_std = var + self.eps
        np.sqrt(inv_std, out=inv_std)
        np.divide(1.0, inv_std, out=inv_std)
        x_hat = xc
        x_hat *= inv_std.reshape(view)
        self._cache = (x_hat, inv_std, training)
        y: FloatArray = x_hat * self.gamma.value.reshape(view)
        y += self.beta.value.reshape(view)
        return y

    def backward(self, grad_out: FloatArray) -> FloatArray:
        cache = self._cache
        if cache is None:
            raise self._not_run_yet()
        x_hat, inv_std, training = cache
        axes, view = _channel_axes(grad_out.ndim)
        np.sum(grad_out, axis=axes, out=self.beta.grad)
        np.sum(grad_out * x_hat, axis=axes, out=self.gamma.grad)
        scale = self.gamma.value * inv_std
        if not training:
            grad: FloatArray = grad_out * scale.reshape(view)
            return grad
        n = grad_out.size // self.num_features
        grad = x_hat * self.gamma.grad.reshape(view)
        np.subtract(grad_out * float(n), grad, out=grad)
        grad -= self.beta.grad.reshape(view)
        grad *= (scale / n).reshape(view)
        return grad

    def own_buffers(self) -> Iterator[tuple[str, FloatArray]]:
        yield "running_mean", self.running_mean
        yield "running_var", self.running_var

    def get_config(self) -> dict[str, Any]:
        return {
            "num_features": self.num_features,
            "momentum": self.momentum,
            "eps": self.eps,
            "dtype": self.dtype.name,
        }

    @property
    @abstractmethod
    def input_spec(self) -> InputSpec:
        """The ranks this batch norm takes, channel axis first (each subclass says)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_features})"


def _channel_axes(ndim: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The axes a channel's statistics run over, and the shape that broadcasts them back."""
    return (0, *range(2, ndim)), (1, -1, *(1,) * (ndim - 2))


@register
class BatchNorm1d(BatchNorm):
    """:class:`BatchNorm` on ``(batch, C)`` or ``(batch, C, L)``, as torch's ``BatchNorm1d``.

    Statistics run over the batch (and length) axes; see :class:`BatchNorm`
    for the maths and its backward derivation.
    """

    @property
    def input_spec(self) -> InputSpec:
        """``(batch, C)`` or ``(batch, C, length)``."""
        return InputSpec(min_rank=1, max_rank=2, axes={0: self.num_features})


@register
class BatchNorm2d(BatchNorm):
    """:class:`BatchNorm` on images ``(batch, C, H, W)``, as torch's ``BatchNorm2d``.

    Each channel's statistics run over the ``n = batch * H * W`` values of
    the batch, height and width axes; see :class:`BatchNorm` for the maths
    and its backward derivation.
    """

    @property
    def input_spec(self) -> InputSpec:
        """``(batch, C, height, width)``."""
        return InputSpec(3, axes={0: self.num_features})


@register
class LayerNorm(Layer):
    """Layer normalization over the last axis, as torch's ``LayerNorm(num_features)``.

    For each sample (each position, for inputs with more axes) with ``C``
    features along the last axis::

        y = gamma * (x - mean) / sqrt(var + eps) + beta

    ``mean`` and ``var`` (biased) taken over that axis; the same in training
    and inference.

    Parameters
    ----------
    num_features : int
        The size ``C`` of the last axis.
    eps : float
        Positive, 1e-5 by default.
    dtype : np.float64 or np.float32

    Attributes
    ----------
    gamma, beta : Parameter of shape (num_features,)

    Notes
    -----
    Backward, with ``x_hat = (x - mean) * inv_std`` and ``h = g * gamma``
    (``g = dL/dy``): ``dL/dbeta = sum(g)``, ``dL/dgamma = sum(g * x_hat)``
    over every axis but the last, and, differentiating through ``mean`` and
    ``var`` of each row,
    ``dL/dx = inv_std * (h - mean(h) - x_hat * mean(h * x_hat))`` (means over
    the last axis).
    """

    shape_preserving: ClassVar[bool] = True
    cache_attributes: ClassVar[tuple[str, ...]] = ("_cache",)
    tree_attributes: ClassVar[tuple[str, ...] | None] = ("gamma", "beta")
    num_features: int
    eps: float
    gamma: Parameter
    beta: Parameter

    def __init__(
        self, num_features: int, eps: float = 1e-5, *, dtype: DTypeLike = np.float64
    ) -> None:
        name = f"LayerNorm({num_features!r})"
        self.num_features = check_positive_int(num_features, "num_features", name)
        self.eps = check_real(eps, "eps", name, positive=True)
        self.dtype = as_float_dtype(dtype)
        self.gamma = Parameter(np.ones(self.num_features, dtype=self.dtype), name="gamma")
        self.beta = Parameter(np.zeros(self.num_features, dtype=self.dtype), name="beta")
        self._cache: tuple[FloatArray, FloatArray] | None = None

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        x_hat = x - x.mean(axis=-1, keepdims=True)
        inv_std = np.mean(x_hat * x_hat, axis=-1, keepdims=True)
        inv_std += self.eps
        np.sqrt(inv_std, out=inv_std)
        np.divide(1.0, inv_std, out=inv_std)
        x_hat *= inv_std
        self._cache = (x_hat, inv_std)
        y: FloatArray = x_hat * self.gamma.value
        y += self.beta.value
        return y

    def backward(self, grad_out: FloatArray) -> FloatArray:
        cache = self._cache
        if cache is None:
            raise self._not_run_yet()
        x_hat, inv_std = cache
        c = self.num_features
        np.sum(grad_out.reshape(-1, c), axis=0, out=self.beta.grad)
        np.sum((grad_out * x_hat).reshape(-1, c), axis=0, out=self.gamma.grad)
        h = grad_out * self.gamma.value
        proj = np.mean(h * x_hat, axis=-1, keepdims=True)
        h -= h.mean(axis=-1, keepdims=True)
        h -= x_hat * proj
        h *= inv_std
        return h

    def get_config(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "eps": self.eps, "dtype": self.dtype.name}

    @property
    def input_spec(self) -> InputSpec:
        """``(batch, ..., C)``: normalized over the last axis."""
        return InputSpec(min_rank=1, axes={-1: self.num_features})

    def __repr__(self) -> str:
        return f"LayerNorm({self.num_features})"
