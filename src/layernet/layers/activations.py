"""Element-wise activation functions.

Each keeps the shape of its input and holds no parameters; called on its
own, it keeps float32 input float32 and converts anything else to float64.
"""

from __future__ import annotations

import math
import numbers
from abc import abstractmethod
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
from scipy.special import expit, ndtr

from .._threads import SPLIT, elementwise, splits
from .._typing import FloatArray
from .._validation import check_real
from .base import Layer, describe
from .registry import register


class Activation(Layer):
    """Base for parameter-free, shape-preserving, element-wise layers.

    A subclass names its constructor arguments in ``hyperparameters``: they
    are its config and its repr (``LeakyReLU(negative_slope=0.01)``).
    """

    shape_preserving: ClassVar[bool] = True
    follows_input_dtype: ClassVar[bool] = True
    hyperparameters: ClassVar[tuple[str, ...]] = ()
    tree_attributes: ClassVar[tuple[str, ...] | None] = ()

    def get_config(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.hyperparameters}

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={value!r}" for name, value in self.get_config().items())
        return f"{type(self).__name__}({args})"


Saved = TypeVar("Saved")


class _Rule(Activation, Generic[Saved]):
    """An activation written as its maths alone: :meth:`_forward` and :meth:`_backward`.

    ``_forward(x)`` returns the output and what the gradient needs (the input,
    the output, or both); ``forward`` keeps the latter as the layer's one
    cache, ``_saved``, and ``backward`` hands it to ``_backward(saved, g)``,
    which returns ``dL/dx`` for ``g = dL/dy``. The output never goes through
    the cache, so concurrent forwards on one layer each get their own.
    """

    cache_attributes: ClassVar[tuple[str, ...]] = ("_saved",)

    def __init__(self) -> None:
        self._saved: Saved | None = None

    @abstractmethod
    def _forward(self, x: FloatArray) -> tuple[FloatArray, Saved]:
        """The output for ``x``, and what :meth:`_backward` needs."""

    @abstractmethod
    def _backward(self, saved: Saved, grad_out: FloatArray) -> FloatArray:
        """``dL/dx`` from what :meth:`_forward` saved and ``dL/dy``."""

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        y, self._saved = self._forward(x)
        return y

    def backward(self, grad_out: FloatArray) -> FloatArray:
        saved = self._saved
        if saved is None:
            raise self._not_run_yet()
        return self._backward(saved, grad_out)


@register
class Sigmoid(_Rule[FloatArray]):
    """Logistic sigmoid: ``y = 1 / (1 + exp(-x))``.

    Computed with ``scipy.special.expit``, finite for any input magnitude.

    Backward: ``dy/dx = y * (1 - y)``, so ``dL/dx = g * y * (1 - y)``;
    the layer caches its output ``y`` rather than its input.
    """

    def _forward(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        y: FloatArray = expit(x)
        return y, y

    def _backward(self, y: FloatArray, grad_out: FloatArray) -> FloatArray:
        grad = 1.0 - y
        grad *= y
        grad *= grad_out
        return grad


@register
class Identity(_Rule[tuple[int, ...]]):
    """Identity: ``y = x``.

    A placeholder layer (torch's ``nn.Identity``); forward returns its input
    unchanged (no copy).

    Backward: ``dy/dx = 1``, so ``dL/dx = g``; the layer keeps only the
    input's shape, to know that forward ran.
    """

    def _forward(self, x: FloatArray) -> tuple[FloatArray, tuple[int, ...]]:
        return x, x.shape

    def _backward(self, shape: tuple[int, ...], grad_out: FloatArray) -> FloatArray:
        return grad_out


@register
class Tanh(_Rule[FloatArray]):
    """Hyperbolic tangent: ``y = tanh(x) = (e^x - e^-x) / (e^x + e^-x)``.

    ``np.tanh`` saturates to +-1 without overflow for any input magnitude.

    Backward: ``dy/dx = 1 - y**2``, so ``dL/dx = g * (1 - y**2)``; the layer
    caches its output ``y``.
    """

    def _forward(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        y: FloatArray = np.tanh(x)
        return y, y

    def _backward(self, y: FloatArray, grad_out: FloatArray) -> FloatArray:
        grad = y * y
        np.subtract(1.0, grad, out=grad)
        grad *= grad_out
        return grad


_SMALL = 1 << 13
"""Numbers below which ReLU takes ``maximum`` against the scalar 0: fewer calls."""

_BLOCK = 1 << 16
"""Numbers per call of :func:`_relu_into`: its block of zeros stays in cache."""

_ZEROS: dict[np.dtype[Any], FloatArray] = {}
"""Per dtype, ``_BLOCK`` read-only zeros for :func:`_relu_into`."""


def _relu_into(x: FloatArray, y: FloatArray) -> None:
    """``y = max(x, 0)`` for 1-d contiguous ``x`` and ``y``, against a block of zeros at a time.

    numpy's vectorised ``maximum`` loop takes two contiguous operands; against
    the scalar 0 it runs 3-4 times slower (2**18 float32 numbers: 221 against
    67 us, numpy 2.4 on AMD EPYC), for the same result bit for bit.
    """
    zeros = _ZEROS.get(x.dtype)
    if zeros is None:  # two threads may both make it: equal arrays, either one kept
        zeros = np.zeros(_BLOCK, dtype=x.dtype)
        zeros.flags.writeable = False
        _ZEROS[x.dtype] = zeros
    for lo in range(0, x.size, _BLOCK):
        hi = min(lo + _BLOCK, x.size)
        np.maximum(x[lo:hi], zeros[: hi - lo], out=y[lo:hi])


def _relu(x: FloatArray) -> FloatArray:
    """``max(x, 0)`` of a contiguous ``x`` of ``_SMALL`` numbers or more (see :func:`_relu_into`).

    Large ones in pieces over threads. Apart from ``ReLU``'s methods, so that
    the closure does not turn the methods' locals into cells on every call.
    """
    y = np.empty_like(x)
    x_f, y_f = x.reshape(-1), y.reshape(-1)
    if splits(x.size):
        elementwise(x.size, lambda s: _relu_into(x_f[s], y_f[s]))
    else:
        _relu_into(x_f, y_f)
    return y


def _relu_grad_in_pieces(x: FloatArray, grad_out: FloatArray) -> FloatArray:
    """``grad_out * (x > 0)`` for large contiguous arrays of one shape, in pieces over threads."""
    grad = np.empty(x.shape, dtype=np.result_type(grad_out, np.bool_))
    x_f, g_f, out_f = x.reshape(-1), grad_out.reshape(-1), grad.reshape(-1)
    elementwise(x.size, lambda s: np.multiply(g_f[s], x_f[s] > 0, out=out_f[s]))
    return grad


@register
class ReLU(_Rule[FloatArray]):
    """Rectified linear unit: ``y = max(x, 0)``.

    Backward: ``dy/dx = 1`` where ``x > 0`` and ``0`` elsewhere (torch's
    choice at the kink ``x = 0``), so ``dL/dx = g * (x > 0)``.
    """

    def _forward(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        if x.size < _SMALL or not x.flags.c_contiguous:
            y: FloatArray = np.maximum(x, 0.0, dtype=x.dtype)
            return y, x
        return _relu(x), x

    def _backward(self, x: FloatArray, grad_out: FloatArray) -> FloatArray:
        if x.size < SPLIT or not (
            x.flags.c_contiguous
            and grad_out.flags.c_contiguous
            and x.shape == grad_out.shape
            and splits(x.size)
        ):
            grad: FloatArray = grad_out * (x > 0)
            return grad
        return _relu_grad_in_pieces(x, grad_out)


@register
class LeakyReLU(_Rule[FloatArray]):
    """Leaky ReLU: ``y = x`` for ``x > 0``, ``y = negative_slope * x`` otherwise.

    Parameters
    ----------
    negative_slope : float
        The slope for negative inputs, 0.01 by default (torch's default).

    Notes
    -----
    Backward: ``dy/dx = 1`` for ``x > 0``, ``negative_slope`` otherwise, so
    ``dL/dx = g * where(x > 0, 1, negative_slope)``.
    """

    hyperparameters: ClassVar[tuple[str, ...]] = ("negative_slope",)

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope: float = check_real(negative_slope, "negative_slope", "LeakyReLU")

    def _forward(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        y: FloatArray = np.where(x > 0, x, x * self.negative_slope)
        return y, x

    def _backward(self, x: FloatArray, grad_out: FloatArray) -> FloatArray:
        grad: FloatArray = np.where(x > 0, grad_out, grad_out * self.negative_slope)
        return grad


@register
class ELU(_Rule[tuple[FloatArray, FloatArray]]):
    """Exponential linear unit: ``y = x`` for ``x > 0``, ``y = alpha * (exp(x) - 1)`` otherwise.

    Computed with ``expm1`` on ``min(x, 0)``, so large positive inputs never
    reach ``exp``.

    Parameters
    ----------
    alpha : float
        The negative saturation value ``-alpha``, 1.0 by default.

    Notes
    -----
    Backward: ``dy/dx = 1`` for ``x > 0`` and ``alpha * exp(x) = y + alpha``
    otherwise, so ``dL/dx = g * where(x > 0, 1, y + alpha)``.
    """

    hyperparameters: ClassVar[tuple[str, ...]] = ("alpha",)

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha: float = check_real(alpha, "alpha", "ELU")

    def _forward(self, x: FloatArray) -> tuple[FloatArray, tuple[FloatArray, FloatArray]]:
        neg = np.minimum(x, 0.0, dtype=x.dtype)
        np.expm1(neg, out=neg)
        neg *= self.alpha
        y: FloatArray = np.where(x > 0, x, neg)
        return y, (x, y)

    def _backward(self, saved: tuple[FloatArray, FloatArray], grad_out: FloatArray) -> FloatArray:
        x, y = saved
        slope = y + self.alpha
        grad: FloatArray = np.where(x > 0, grad_out, grad_out * slope)
        return grad


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_CUBIC = 0.044715
# Beyond these magnitudes the terms are exact constants, so inputs are clipped to them
# before squaring or cubing (which would overflow for |x| ~ 1e13 in float32, 1e102 in
# float64): tanh(k (x + 0.044715 x**3)) is exactly +-1 for |x| >= 10, and the normal
# density exp(-x**2 / 2) is exactly 0 for |x| >= 40, in float32 and float64 alike.
_GELU_TANH_SATURATED = 10.0
_GELU_DENSITY_ZERO = 40.0


@register
class GELU(_Rule[FloatArray]):
    """Gaussian error linear unit: ``y = x * Phi(x)``, ``Phi`` the standard normal CDF.

    Parameters
    ----------
    approximate : {"none", "tanh"}
        ``"none"`` (default, torch's default) is exact:
        ``Phi(x) = (1 + erf(x / sqrt(2))) / 2``. ``"tanh"`` uses
        ``Phi(x) ~ (1 + tanh(k * (x + 0.044715 * x**3))) / 2`` with
        ``k = sqrt(2 / pi)``.

    Notes
    -----
    Backward, exact: ``dy/dx = Phi(x) + x * phi(x)`` with the normal density
    ``phi(x) = exp(-x**2 / 2) / sqrt(2 pi)``. Tanh form, with
    ``t = tanh(u)``, ``u = k (x + 0.044715 x**3)``:
    ``dy/dx = (1 + t) / 2 + x (1 - t**2) k (1 + 3 * 0.044715 x**2) / 2``.
    """

    hyperparameters: ClassVar[tuple[str, ...]] = ("approximate",)

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate: str = approximate

    def _forward(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        if self.approximate == "none":
            y: FloatArray = ndtr(x)
            y *= x
            return y, x
        t = self._tanh_term(x)
        t += 1.0
        t *= x
        t *= 0.5
        return t, x

    @staticmethod
    def _tanh_term(x: FloatArray) -> FloatArray:
        x = np.clip(x, -_GELU_TANH_SATURATED, _GELU_TANH_SATURATED)
        u = x * x
        u *= _GELU_CUBIC
        u += 1.0
        u *= x
        u *= _SQRT_2_OVER_PI
        t: FloatArray = np.tanh(u, out=u)
        return t

    def _backward(self, x: FloatArray, grad_out: FloatArray) -> FloatArray:
        if self.approximate == "none":
            xc = np.clip(x, -_GELU_DENSITY_ZERO, _GELU_DENSITY_ZERO)
            density = xc * xc
            density *= -0.5
            np.exp(density, out=density)
            density *= _INV_SQRT_2PI
            density *= xc
            density += ndtr(x)
            density *= grad_out
            return density
        t = self._tanh_term(x)
        x = np.clip(x, -_GELU_TANH_SATURATED, _GELU_TANH_SATURATED)  # 1 - t**2 is 0 beyond
        inner = x * x
        inner *= 3.0 * _GELU_CUBIC
        inner += 1.0
        inner *= _SQRT_2_OVER_PI
        inner *= x
        inner *= 1.0 - t * t
        t += 1.0
        t += inner
        t *= 0.5
        t *= grad_out
        return t


@register
class Softplus(_Rule[FloatArray]):
    """Softplus: ``y = log(1 + exp(beta * x)) / beta``, linear above a threshold.

    torch's semantics: where ``beta * x > threshold`` the layer returns ``x``
    itself. Below it the value comes from ``logaddexp(0, beta * x)``, which is
    finite for any input magnitude (no ``exp`` overflow).

    Parameters
    ----------
    beta : float
        Positive sharpness, 1.0 by default.
    threshold : float
        Where the layer turns linear, 20.0 by default.

    Notes
    -----
    Backward: ``dy/dx = exp(beta x) / (1 + exp(beta x)) = sigmoid(beta * x)``
    (1 in the linear region), so ``dL/dx = g * expit(beta * x)``.
    """

    hyperparameters: ClassVar[tuple[str, ...]] = ("beta", "threshold")

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = check_real(beta, "beta", "Softplus")
        if not self.beta > 0:
            raise ValueError(f"Softplus: beta must be positive, got {beta}")
        self.threshold = check_real(threshold, "threshold", "Softplus")

    def _forward(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        bx = x * self.beta if self.beta != 1.0 else x
        soft = np.logaddexp(0.0, bx, dtype=x.dtype)
        if self.beta != 1.0:
            soft /= self.beta
        y: FloatArray = np.where(bx > self.threshold, x, soft)
        return y, bx

    def _backward(self, bx: FloatArray, grad_out: FloatArray) -> FloatArray:
        slope: FloatArray = expit(bx)
        slope[bx > self.threshold] = 1.0
        slope *= grad_out
        return slope


@register
class Softmax(_Rule[FloatArray]):
    """Softmax along ``axis``: ``y_i = exp(x_i) / sum_j exp(x_j)``.

    Computed as ``exp(x - max(x))`` over the axis, so no input magnitude
    overflows. Not element-wise, but parameter-free and shape-preserving.
    For classification, feed logits to :class:`~layernet.CrossEntropyLoss`
    instead: it fuses the softmax with the log for stability.

    Parameters
    ----------
    axis : int
        The axis that sums to one, -1 (the features) by default.

    Notes
    -----
    Backward: the Jacobian is ``dy_i/dx_j = y_i (delta_ij - y_j)``, so
    ``dL/dx = y * (g - sum(g * y, axis))``.
    """

    hyperparameters: ClassVar[tuple[str, ...]] = ("axis",)

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"Softmax: axis must be an integer, got {type(axis).__name__}")
        if axis == 0:
            raise ValueError(
                "Softmax: axis 0 is the batch axis; pick a feature axis such as -1 (the default)"
            )
        self.axis: int = int(axis)

    def _forward(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        y: FloatArray = x - x.max(axis=self.axis, keepdims=True)
        np.exp(y, out=y)
        y /= y.sum(axis=self.axis, keepdims=True)
        return y, y

    def _backward(self, y: FloatArray, grad_out: FloatArray) -> FloatArray:
        grad = grad_out * y
        dot = grad.sum(axis=self.axis, keepdims=True)
        grad -= y * dot
        return grad

    def check_input(self, shape: tuple[int, ...], position: int | None = None) -> None:
        super().check_input(shape, position)
        ndim, axis = len(shape), self.axis
        if not -ndim <= axis < ndim:
            raise ValueError(
                f"{describe(self, position)}: axis {axis} is out of range for input of shape "
                f"{shape}"
            )
        if axis % ndim == 0:
            raise ValueError(
                f"{describe(self, position)}: axis {axis} is the batch axis of input of shape "
                f"{shape}; the softmax must run over a feature axis (input needs 2+ dimensions)"
            )
