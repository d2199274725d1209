"""Optimizers: update parameters in place from their gradients.

An optimizer sees only :class:`~layernet.Parameter` objects. The training
loop is forward -> loss -> backward -> ``step()``; since ``backward``
overwrites each ``grad``, there is no ``zero_grad`` to forget. Updates are
in place and allocate nothing per step once their state exists.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ._typing import FloatArray
from .parameter import Parameter


def _check_hyper(
    owner: str,
    name: str,
    value: object,
    *,
    low: float = 0.0,
    positive: bool = False,
    high: float | None = None,
) -> float:
    """Validate a real hyperparameter: ``>= low`` (``> 0`` when ``positive``), ``< high``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {type(value).__name__}")
    result = float(value)
    if not np.isfinite(result):
        raise ValueError(f"{owner}: {name} must be finite, got {result}")
    if high is not None and not low <= result < high:
        raise ValueError(f"{owner}: {name} must be in [{low}, {high}), got {value}")
    if positive and not result > 0:
        raise ValueError(f"{owner}: {name} must be positive, got {value}")
    if result < low:
        raise ValueError(f"{owner}: {name} must be >= {low}, got {value}")
    return result


def _as_parameter_list(params: Iterable[Parameter], owner: str) -> list[Parameter]:
    """Check the items are Parameters and drop duplicates (by identity), keeping order."""
    if isinstance(params, Parameter):
        raise TypeError(
            f"{owner}: params must be an iterable of Parameter, got a single Parameter; "
            "wrap it in a list"
        )
    unique: dict[int, Parameter] = {}
    for i, param in enumerate(params):
        if not isinstance(param, Parameter):
            raise TypeError(f"{owner}: params[{i}] must be a Parameter, got {type(param).__name__}")
        unique.setdefault(id(param), param)
    return list(unique.values())


def _global_norm(params: Sequence[Parameter]) -> float:
    return math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in params))


def _scale_to_norm(params: Sequence[Parameter], max_norm: float) -> float:
    total = _global_norm(params)
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for p in params:
            p.grad *= coef
    return total


def clip_grad_norm(params: Iterable[Parameter], max_norm: float) -> float:
    """Rescale gradients in place so that their global L2 norm is at most ``max_norm``.

    torch's ``clip_grad_norm_``: with ``total = sqrt(sum_p ||p.grad||**2)``
    over all parameters together, every gradient is multiplied by
    ``max_norm / (total + 1e-6)`` when that factor is below one, and left
    alone otherwise.

    Parameters
    ----------
    params : iterable of Parameter
    max_norm : float
        Positive bound on the global norm.

    Returns
    -------
    float
        The global norm before clipping (useful to log).
    """
    bound = _check_hyper("clip_grad_norm", "max_norm", max_norm, positive=True)
    return _scale_to_norm(_as_parameter_list(params, "clip_grad_norm"), bound)


class Optimizer(ABC):
    """Base optimizer: holds the parameters, the learning rate and per-parameter state.

    Parameters
    ----------
    params : iterable of Parameter
        Typically ``model.parameters()``; duplicates are updated once.
    lr : float
        The learning rate, positive; readable and settable as ``opt.lr``
        (schedules drive it).
    max_grad_norm : float, optional
        When given, each :meth:`step` first rescales all gradients together
        so their global L2 norm is at most this (:func:`clip_grad_norm`).

    Attributes
    ----------
    state : dict of Parameter to dict of str to ndarray
        All mutable per-parameter state (moments, step counts as 0-d arrays,
        scratch), in the parameter's dtype, so it can be saved and restored.
    initial_lr : float or None
        The learning rate a schedule started from (torch's ``initial_lr``),
        set by the first schedule attached.
    """

    params: list[Parameter]
    state: dict[Parameter, dict[str, FloatArray]]
    max_grad_norm: float | None
    initial_lr: float | None = None

    def __init__(
        self, params: Iterable[Parameter], *, lr: float, max_grad_norm: float | None = None
    ) -> None:
        name = type(self).__name__
        self.params = _as_parameter_list(params, name)
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list; pass model.parameters()")
        self.lr = lr
        self.max_grad_norm = (
            None
            if max_grad_norm is None
            else _check_hyper(name, "max_grad_norm", max_grad_norm, positive=True)
        )
        self.state = {}

    @property
    def lr(self) -> float:
        """The learning rate used by the next :meth:`step`."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _check_hyper(type(self).__name__, "lr", value, positive=True)

    def _set_scheduled_lr(self, value: float) -> None:
        """Set the learning rate from a schedule: like ``lr``, but 0 is allowed.

        A cosine schedule reaches ``eta_min = 0`` by design; a user who sets
        ``lr = 0`` by hand has most likely made a mistake.
        """
        self._lr = _check_hyper(type(self).__name__, "lr", value)

    @abstractmethod
    def step(self) -> None:
        """Update every parameter in place from its ``.grad``."""

    def _clip(self) -> None:
        """Apply ``max_grad_norm`` (if set) to all gradients; call first in :meth:`step`."""
        if self.max_grad_norm is not None:
            _scale_to_norm(self.params, self.max_grad_norm)

    def _buffer(self, param: Parameter, key: str) -> FloatArray:
        """Per-parameter state array ``key``, created as zeros on first use."""
        slots = self.state.setdefault(param, {})
        buf = slots.get(key)
        if buf is None:
            buf = slots[key] = np.zeros_like(param.value)
        return buf

    def _count(self, param: Parameter, key: str = "step") -> float:
        """Increment the per-parameter counter ``key`` (a 0-d array) and return its new value."""
        slots = self.state.setdefault(param, {})
        counter = slots.get(key)
        if counter is None:
            counter = slots[key] = np.zeros((), dtype=param.dtype)
        counter += 1
        return float(counter)

    def get_config(self) -> dict[str, Any]:
        """Hyperparameters that rebuild this optimizer (for save/load)."""
        return {"lr": self.lr, "max_grad_norm": self.max_grad_norm}


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and weight decay.

    torch.optim.SGD's rule, for each parameter ``p`` with gradient ``g``::

        d = g + weight_decay * p
        if momentum:
            b = d                                   (first step)
            b = momentum * b + (1 - dampening) * d  (later steps)
            d = d + momentum * b  if nesterov  else  b
        p = p - lr * d

    With the defaults this is the blog's ``w -= lr * dL/dw``.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        *,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        max_grad_norm: float | None = None,
    ) -> None:
        super().__init__(params, lr=lr, max_grad_norm=max_grad_norm)
        self.momentum = _check_hyper("SGD", "momentum", momentum)
        self.dampening = _check_hyper("SGD", "dampening", dampening)
        self.weight_decay = _check_hyper("SGD", "weight_decay", weight_decay)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("SGD: nesterov=True needs momentum > 0 and dampening = 0")

    def step(self) -> None:
        self._clip()
        lr, mu, wd, damp = self.lr, self.momentum, self.weight_decay, self.dampening
        for p in self.params:
            d = self._buffer(p, "scratch")
            if not (wd or mu):
                np.multiply(p.grad, lr, out=d)
                p.value -= d
                continue
            if wd:
                np.multiply(p.value, wd, out=d)
                d += p.grad
            else:
                d[...] = p.grad
            if mu:
                first = "momentum_buffer" not in self.state[p]
                buf = self._buffer(p, "momentum_buffer")
                if first:
                    buf[...] = d
                else:
                    buf *= mu
                    if damp:
                        d *= 1.0 - damp  # d is not needed again: nesterov forbids dampening
                    buf += d
                if self.nesterov:  # p -= lr * (d + mu * buf), in two in-place halves
                    d *= lr
                    p.value -= d
                    np.multiply(buf, lr * mu, out=d)
                else:
                    np.multiply(buf, lr, out=d)
            else:
                d *= lr
            p.value -= d

    def get_config(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "dampening": self.dampening,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
            "max_grad_norm": self.max_grad_norm,
        }


def _check_betas(owner: str, betas: object) -> tuple[float, float]:
    if not isinstance(betas, Sequence) or isinstance(betas, str) or len(betas) != 2:
        raise TypeError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
    return (
        _check_hyper(owner, "betas[0]", betas[0], high=1.0),
        _check_hyper(owner, "betas[1]", betas[1], high=1.0),
    )


class Adam(Optimizer):
    """Adam (Kingma & Ba), with torch.optim.Adam's update rule and defaults.

    For each parameter ``p`` with gradient ``g`` at step ``t = 1, 2, ...``::

        g = g + weight_decay * p                  (L2 penalty, if weight_decay)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat_scale = lr / (1 - beta1**t)
        denom = sqrt(v) / sqrt(1 - beta2**t) + eps
        p = p - m_hat_scale * m / denom

    (``m`` and ``v`` start at zero; the bias corrections undo that start.)

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
        1e-3 by default.
    betas : (float, float)
        Decay rates of the two moments, each in [0, 1); (0.9, 0.999).
    eps : float
        Added to the denominator, 1e-8.
    weight_decay : float
        L2 penalty folded into the gradient, 0 by default. For decoupled
        weight decay use :class:`AdamW`.
    max_grad_norm : float, optional
        Clip the global gradient norm first (see :func:`clip_grad_norm`).

    Notes
    -----
    State per parameter: ``step`` (0-d), ``exp_avg`` (m), ``exp_avg_sq`` (v).
    """

    _decoupled = False

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        max_grad_norm: float | None = None,
    ) -> None:
        super().__init__(params, lr=lr, max_grad_norm=max_grad_norm)
        name = type(self).__name__
        self.betas = _check_betas(name, betas)
        self.eps = _check_hyper(name, "eps", eps)
        self.weight_decay = _check_hyper(name, "weight_decay", weight_decay)

    def step(self) -> None:
        self._clip()
        lr, (beta1, beta2), eps, wd = self.lr, self.betas, self.eps, self.weight_decay
        for p in self.params:
            t = self._count(p)
            m = self._buffer(p, "exp_avg")
            v = self._buffer(p, "exp_avg_sq")
            s = self._buffer(p, "scratch")
            g = p.grad
            if wd and self._decoupled:
                p.value *= 1.0 - lr * wd
            elif wd:
                g = self._buffer(p, "grad_scratch")
                np.multiply(p.value, wd, out=g)
                g += p.grad
            m *= beta1
            np.multiply(g, 1.0 - beta1, out=s)
            m += s
            v *= beta2
            np.multiply(g, g, out=s)
            s *= 1.0 - beta2
            v += s
            step_size = lr / (1.0 - beta1**t)
            np.sqrt(v, out=s)
            s /= math.sqrt(1.0 - beta2**t)
            s += eps
            np.divide(m, s, out=s)
            s *= step_size
            p.value -= s

    def get_config(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "max_grad_norm": self.max_grad_norm,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW.

    Each step first shrinks the parameter, ``p = p * (1 - lr * weight_decay)``,
    then takes the plain Adam step (the gradient itself is not penalised)::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Defaults as torch: ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=1e-2``.
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        max_grad_norm: float | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            max_grad_norm=max_grad_norm,
        )


class RMSprop(Optimizer):
    """RMSprop, with torch.optim.RMSprop's update rule and defaults.

    For each parameter ``p`` with gradient ``g``::

        g = g + weight_decay * p                       (if weight_decay)
        v = alpha * v + (1 - alpha) * g**2
        if centered:
            gbar = alpha * gbar + (1 - alpha) * g
            denom = sqrt(v - gbar**2) + eps
        else:
            denom = sqrt(v) + eps
        if momentum:
            b = momentum * b + g / denom
            p = p - lr * b
        else:
            p = p - lr * g / denom

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
        1e-2 by default.
    alpha : float
        Smoothing constant in [0, 1), 0.99.
    eps : float
        1e-8.
    weight_decay, momentum : float
        0 by default.
    centered : bool
        Normalise by an estimate of the gradient's variance rather than its
        raw second moment (``v - gbar**2``, floored at 0 against rounding).
    max_grad_norm : float, optional
        Clip the global gradient norm first.

    Notes
    -----
    State per parameter: ``step``, ``square_avg`` (v), ``grad_avg`` (gbar,
    centered only), ``momentum_buffer`` (b, momentum only).
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-2,
        *,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        max_grad_norm: float | None = None,
    ) -> None:
        super().__init__(params, lr=lr, max_grad_norm=max_grad_norm)
        self.alpha = _check_hyper("RMSprop", "alpha", alpha, high=1.0)
        self.eps = _check_hyper("RMSprop", "eps", eps)
        self.weight_decay = _check_hyper("RMSprop", "weight_decay", weight_decay)
        self.momentum = _check_hyper("RMSprop", "momentum", momentum)
        self.centered = bool(centered)

    def step(self) -> None:
        self._clip()
        lr, alpha, eps, wd, mu = self.lr, self.alpha, self.eps, self.weight_decay, self.momentum
        for p in self.params:
            self._count(p)
            sq = self._buffer(p, "square_avg")
            s = self._buffer(p, "scratch")
            g = p.grad
            if wd:
                g = self._buffer(p, "grad_scratch")
                np.multiply(p.value, wd, out=g)
                g += p.grad
            sq *= alpha
            np.multiply(g, g, out=s)
            s *= 1.0 - alpha
            sq += s
            if self.centered:
                gbar = self._buffer(p, "grad_avg")
                gbar *= alpha
                np.multiply(g, 1.0 - alpha, out=s)
                gbar += s
                np.multiply(gbar, gbar, out=s)
                np.subtract(sq, s, out=s)
                np.maximum(s, 0.0, out=s)
                np.sqrt(s, out=s)
            else:
                np.sqrt(sq, out=s)
            s += eps
            np.divide(g, s, out=s)
            if mu:
                buf = self._buffer(p, "momentum_buffer")
                buf *= mu
                buf += s
                np.multiply(buf, lr, out=s)
            else:
                s *= lr
            p.value -= s

    def get_config(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "alpha": self.alpha,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "centered": self.centered,
            "max_grad_norm": self.max_grad_norm,
        }


class Adagrad(Optimizer):
    """Adagrad, with torch.optim.Adagrad's update rule and defaults.

    For each parameter ``p`` with gradient ``g`` at step ``t = 1, 2, ...``::

        g = g + weight_decay * p                        (if weight_decay)
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g**2                                    (s starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(s) + eps)

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
        1e-2 by default.
    lr_decay, weight_decay, initial_accumulator_value : float
        0 by default.
    eps : float
        1e-10.
    max_grad_norm : float, optional
        Clip the global gradient norm first.

    Notes
    -----
    State per parameter: ``step``, ``sum`` (s).
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-2,
        *,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        max_grad_norm: float | None = None,
    ) -> None:
        super().__init__(params, lr=lr, max_grad_norm=max_grad_norm)
        self.lr_decay = _check_hyper("Adagrad", "lr_decay", lr_decay)
        self.weight_decay = _check_hyper("Adagrad", "weight_decay", weight_decay)
        self.initial_accumulator_value = _check_hyper(
            "Adagrad", "initial_accumulator_value", initial_accumulator_value
        )
        self.eps = _check_hyper("Adagrad", "eps", eps)

    def step(self) -> None:
        self._clip()
        wd = self.weight_decay
        for p in self.params:
            t = self._count(p)
            fresh = "sum" not in self.state[p]
            acc = self._buffer(p, "sum")
            if fresh and self.initial_accumulator_value:
                acc.fill(self.initial_accumulator_value)
            s = self._buffer(p, "scratch")
            g = p.grad
            if wd:
                g = self._buffer(p, "grad_scratch")
                np.multiply(p.value, wd, out=g)
                g += p.grad
            clr = self.lr / (1.0 + (t - 1.0) * self.lr_decay)
            np.multiply(g, g, out=s)
            acc += s
            np.sqrt(acc, out=s)
            s += self.eps
            np.divide(g, s, out=s)
            s *= clr
            p.value -= s

    def get_config(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "lr_decay": self.lr_decay,
            "weight_decay": self.weight_decay,
            "initial_accumulator_value": self.initial_accumulator_value,
            "eps": self.eps,
            "max_grad_norm": self.max_grad_norm,
        }
