"""Stochastic gradient descent, with momentum, Nesterov and weight decay (torch.optim.SGD)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .._typing import FloatArray
from .._validation import check_bool, check_real
from ..parameter import Parameter
from .base import Optimizer, Scratch


def sgd(
    params: Sequence[FloatArray],
    grads: Sequence[FloatArray],
    momentum_buffers: Sequence[FloatArray],
    scratch: Sequence[Scratch],
    *,
    first: Sequence[bool],
    lr: float,
    momentum: float,
    dampening: float,
    nesterov: bool,
    weight_decay: float,
) -> None:
    """torch.optim.SGD's update, in place, for each array ``p`` with gradient ``g``::

        d = g + weight_decay * p
        if momentum:
            b = d                                   (first step)
            b = momentum * b + (1 - dampening) * d  (later steps)
            d = d + momentum * b  if nesterov  else  b
        p = p - lr * d

    Parameters
    ----------
    params, grads : sequence of ndarray
        The arrays to update and their gradients.
    momentum_buffers : sequence of ndarray
        ``b`` for each array (empty without momentum).
    scratch : sequence of (ndarray,)
        One temporary per array, shaped like it.
    first : sequence of bool
        Whether each ``b`` is new, so this is its first step (empty without momentum).
    lr, momentum, dampening, nesterov, weight_decay
        As :class:`SGD`.
    """
    if not momentum and not weight_decay:  # the common case, kept to two calls per array
        for p, g, (d,) in zip(params, grads, scratch, strict=True):
            np.multiply(g, lr, d)
            p -= d
        return
    if not momentum:
        for p, g, (d,) in zip(params, grads, scratch, strict=True):
            np.multiply(p, weight_decay, d)
            d += g
            d *= lr
            p -= d
        return
    for p, g, b, new, (d,) in zip(params, grads, momentum_buffers, first, scratch, strict=True):
        grad = g
        if weight_decay:
            np.multiply(p, weight_decay, d)
            d += g
            grad = d
        if new:
            b[...] = grad
        else:
            b *= momentum
            if dampening:
                np.multiply(grad, 1.0 - dampening, d)  # grad is not needed again:
                b += d  # nesterov forbids dampening
            else:
                b += grad
        if nesterov:  # p -= lr * (d + momentum * b), in two in-place halves
            np.multiply(grad, lr, d)
            p -= d
            np.multiply(b, lr * momentum, d)
        else:
            np.multiply(b, lr, d)
        p -= d


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and weight decay.

    torch.optim.SGD's rule, written out (with its maths) in :func:`sgd`. With the
    defaults it is the blog's ``w -= lr * dL/dw``.

    Notes
    -----
    State per parameter: ``momentum_buffer`` (b, momentum only).
    """

    hyperparameters = ("lr", "momentum", "dampening", "nesterov", "weight_decay", "max_grad_norm")

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
        # own hyperparameters first: the base class packs the parameters last, so a
        # constructor that raises leaves them where they were
        self.nesterov = check_bool(nesterov, "nesterov", "SGD")
        self.momentum = check_real(momentum, "momentum", "SGD", low=0.0)
        self.dampening = check_real(dampening, "dampening", "SGD", low=0.0)
        self.weight_decay = check_real(weight_decay, "weight_decay", "SGD", low=0.0)
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("SGD: nesterov=True needs momentum > 0 and dampening = 0")
        super().__init__(params, lr=lr, max_grad_norm=max_grad_norm)

    def step(self) -> None:
        layout = self._prepare()
        first: Sequence[bool] = ()
        buffers: Sequence[FloatArray] = ()
        if self.momentum:
            first = self._missing(layout, "momentum_buffer")
            buffers = self._state(layout, "momentum_buffer")
        sgd(
            layout.values,
            layout.grads,
            buffers,
            self._scratch(layout, 1),
            first=first,
            lr=self._lr,
            momentum=self.momentum,
            dampening=self.dampening,
            nesterov=self.nesterov,
            weight_decay=self.weight_decay,
        )
