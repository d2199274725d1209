"""RMSprop (torch.optim.RMSprop), plain or centered, with optional momentum."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .._typing import FloatArray
from .._validation import check_bool, check_real
from ..parameter import Parameter
from .base import Optimizer, Scratch, decayed_grad


def rmsprop(
    params: Sequence[FloatArray],
    grads: Sequence[FloatArray],
    square_avgs: Sequence[FloatArray],
    grad_avgs: Sequence[FloatArray],
    momentum_buffers: Sequence[FloatArray],
    scratch: Sequence[Scratch],
    *,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
) -> None:
    """torch's RMSprop update, in place, for each array ``p`` with gradient ``g``::

        g = g + weight_decay * p                       (if weight_decay)
        v = alpha * v + (1 - alpha) * g**2
        if centered:
            gbar = alpha * gbar + (1 - alpha) * g
            denom = sqrt(max(v - gbar**2, 0)) + eps
        else:
            denom = sqrt(v) + eps
        if momentum:
            b = momentum * b + g / denom
            p = p - lr * b
        else:
            p = p - lr * g / denom

    Parameters
    ----------
    params, grads : sequence of ndarray
        The arrays to update and their gradients.
    square_avgs : sequence of ndarray
        ``v`` for each array.
    grad_avgs : sequence of ndarray
        ``gbar`` for each array (read only when ``centered``).
    momentum_buffers : sequence of ndarray
        ``b`` for each array (read only with momentum).
    scratch : sequence of (ndarray, ndarray)
        Temporaries per array, shaped like it (the second only for weight decay).
    lr, alpha, eps, weight_decay, momentum, centered
        As :class:`RMSprop`.
    """
    for i, (p, g, v, tmp) in enumerate(zip(params, grads, square_avgs, scratch, strict=True)):
        s = tmp[0]
        if weight_decay:
            g = decayed_grad(p, g, weight_decay, tmp[1])
        v *= alpha
        np.multiply(g, g, s)
        s *= 1.0 - alpha
        v += s
        if centered:
            gbar = grad_avgs[i]
            gbar *= alpha
            np.multiply(g, 1.0 - alpha, s)
            gbar += s
            np.multiply(gbar, gbar, s)
            np.subtract(v, s, s)
            np.maximum(s, 0.0, out=s)  # against rounding
            np.sqrt(s, s)
        else:
            np.sqrt(v, s)
        s += eps
        np.divide(g, s, s)
        if momentum:
            b = momentum_buffers[i]
            b *= momentum
            b += s
            np.multiply(b, lr, s)
        else:
            s *= lr
        p -= s


class RMSprop(Optimizer):
    """RMSprop, with torch.optim.RMSprop's update rule and defaults.

    The rule, with its maths, is :func:`rmsprop`.

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

    hyperparameters = (
        "lr",
        "alpha",
        "eps",
        "weight_decay",
        "momentum",
        "centered",
        "max_grad_norm",
    )

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
        self.alpha = check_real(alpha, "alpha", "RMSprop", low=0.0, high=1.0)
        self.eps = check_real(eps, "eps", "RMSprop", low=0.0)
        self.weight_decay = check_real(weight_decay, "weight_decay", "RMSprop", low=0.0)
        self.momentum = check_real(momentum, "momentum", "RMSprop", low=0.0)
        self.centered = check_bool(centered, "centered", "RMSprop")
        super().__init__(params, lr=lr, max_grad_norm=max_grad_norm)

    def step(self) -> None:
        layout = self._prepare()
        self._steps(layout)  # counted, as torch does, though the rule does not use it
        square_avgs = self._state(layout, "square_avg")
        grad_avgs = self._state(layout, "grad_avg") if self.centered else []
        buffers = self._state(layout, "momentum_buffer") if self.momentum else []
        rmsprop(
            layout.values,
            layout.grads,
            square_avgs,
            grad_avgs,
            buffers,
            self._scratch(layout, 2 if self.weight_decay else 1),
            lr=self._lr,
            alpha=self.alpha,
            eps=self.eps,
            weight_decay=self.weight_decay,
            momentum=self.momentum,
            centered=self.centered,
        )
