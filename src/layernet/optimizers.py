"""Optimizers: update parameters in place from their gradients.

An optimizer sees only :class:`~layernet.Parameter` objects. The training
loop is forward -> loss -> backward -> ``step()``; since ``backward``
overwrites each ``grad``, there is no ``zero_grad`` to forget. Updates are
in place and allocate nothing per step once their state exists.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._typing import FloatArray
from .parameter import Parameter


def _check_hyper(
    owner: str, name: str, value: object, *, low: float = 0.0, positive: bool = False
) -> float:
    """Validate a real hyperparameter: ``>= low``, or ``> 0`` when ``positive``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {type(value).__name__}")
    result = float(value)
    if not np.isfinite(result):
        raise ValueError(f"{owner}: {name} must be finite, got {result}")
    if positive and not result > 0:
        raise ValueError(f"{owner}: {name} must be positive, got {value}")
    if result < low:
        raise ValueError(f"{owner}: {name} must be >= {low}, got {value}")
    return result


class Optimizer(ABC):
    """Base optimizer: holds the parameters, the learning rate and per-parameter state.

    Parameters
    ----------
    params : iterable of Parameter
        Typically ``model.parameters()``; duplicates are updated once.
    lr : float
        The learning rate, positive; readable and settable as ``opt.lr``
        (schedules drive it).
    """

    params: list[Parameter]
    state: dict[Parameter, dict[str, FloatArray]]

    def __init__(self, params: Iterable[Parameter], *, lr: float) -> None:
        name = type(self).__name__
        if isinstance(params, Parameter):
            raise TypeError(
                f"{name}: params must be an iterable of Parameter, got a single Parameter; "
                "wrap it in a list"
            )
        unique: dict[int, Parameter] = {}
        for i, param in enumerate(params):
            if not isinstance(param, Parameter):
                raise TypeError(
                    f"{name}: params[{i}] must be a Parameter, got {type(param).__name__}"
                )
            unique.setdefault(id(param), param)
        if not unique:
            raise ValueError(f"{name}: got an empty parameter list; pass model.parameters()")
        self.params = list(unique.values())
        self.lr = lr
        self.state = {}

    @property
    def lr(self) -> float:
        """The learning rate used by the next :meth:`step`."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _check_hyper(type(self).__name__, "lr", value, positive=True)

    @abstractmethod
    def step(self) -> None:
        """Update every parameter in place from its ``.grad``."""

    def _buffer(self, param: Parameter, key: str) -> FloatArray:
        """Per-parameter state array ``key``, created as zeros on first use."""
        slots = self.state.setdefault(param, {})
        buf = slots.get(key)
        if buf is None:
            buf = slots[key] = np.zeros_like(param.value)
        return buf

    def get_config(self) -> dict[str, Any]:
        """Hyperparameters that rebuild this optimizer (for save/load)."""
        return {"lr": self.lr}


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
    ) -> None:
        super().__init__(params, lr=lr)
        self.momentum = _check_hyper("SGD", "momentum", momentum)
        self.dampening = _check_hyper("SGD", "dampening", dampening)
        self.weight_decay = _check_hyper("SGD", "weight_decay", weight_decay)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("SGD: nesterov=True needs momentum > 0 and dampening = 0")

    def step(self) -> None:
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
        }
