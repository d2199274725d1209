"""Adam and AdamW (torch.optim.Adam, torch.optim.AdamW)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from .._typing import FloatArray
from .._validation import check_real
from ..parameter import Parameter
from .base import Optimizer, Scratch, decayed_grad


def adam(
    params: Sequence[FloatArray],
    grads: Sequence[FloatArray],
    exp_avgs: Sequence[FloatArray],
    exp_avg_sqs: Sequence[FloatArray],
    steps: Sequence[float],
    scratch: Sequence[Scratch],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled: bool,
) -> None:
    """torch's Adam (or AdamW) update, in place, for each array ``p`` with gradient ``g``::

        p = p * (1 - lr * weight_decay)           (decoupled: AdamW)
        g = g + weight_decay * p                  (otherwise: L2 penalty)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    (``m`` and ``v`` start at zero; the bias corrections undo that start.)

    Parameters
    ----------
    params, grads : sequence of ndarray
        The arrays to update and their gradients.
    exp_avgs, exp_avg_sqs : sequence of ndarray
        ``m`` and ``v`` for each array.
    steps : sequence of float
        ``t`` for each array, this step included (1 on the first step).
    scratch : sequence of (ndarray, ndarray)
        Temporaries per array, shaped like it (the second only for the L2 penalty).
    lr, beta1, beta2, eps, weight_decay
        As :class:`Adam`.
    decoupled : bool
        Decay the weights directly (AdamW) instead of through the gradient.
    """
    arrays = zip(params, grads, exp_avgs, exp_avg_sqs, steps, scratch, strict=True)
    for p, g, m, v, t, tmp in arrays:
        s = tmp[0]
        if weight_decay and decoupled:
            p *= 1.0 - lr * weight_decay
        elif weight_decay:
            g = decayed_grad(p, g, weight_decay, tmp[1])
        m *= beta1
        np.multiply(g, 1.0 - beta1, s)
        m += s
        v *= beta2
        np.multiply(g, g, s)
        s *= 1.0 - beta2
        v += s
        np.sqrt(v, s)
        s /= math.sqrt(1.0 - beta2**t)
        s += eps
        np.divide(m, s, s)
        s *= lr / (1.0 - beta1**t)
        p -= s


def _check_betas(owner: str, betas: object) -> tuple[float, float]:
    if not isinstance(betas, Sequence) or isinstance(betas, str) or len(betas) != 2:
        raise TypeError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
    return (
        check_real(betas[0], "betas[0]", owner, low=0.0, high=1.0),
        check_real(betas[1], "betas[1]", owner, low=0.0, high=1.0),
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
    The rule itself is :func:`adam`.

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

    hyperparameters = ("lr", "betas", "eps", "weight_decay", "max_grad_norm")
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
        name = type(self).__name__
        self.betas = _check_betas(name, betas)
        self.eps = check_real(eps, "eps", name, low=0.0)
        self.weight_decay = check_real(weight_decay, "weight_decay", name, low=0.0)
        super().__init__(params, lr=lr, max_grad_norm=max_grad_norm)

    def step(self) -> None:
        layout = self._prepare()
        steps = self._steps(layout)
        exp_avgs = self._state(layout, "exp_avg")
        exp_avg_sqs = self._state(layout, "exp_avg_sq")
        penalised = bool(self.weight_decay) and not self._decoupled
        adam(
            layout.values,
            layout.grads,
            exp_avgs,
            exp_avg_sqs,
            steps,
            self._scratch(layout, 2 if penalised else 1),
            lr=self._lr,
            beta1=self.betas[0],
            beta2=self.betas[1],
            eps=self.eps,
            weight_decay=self.weight_decay,
            decoupled=self._decoupled,
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW.

    Each step first shrinks the parameter, ``p = p * (1 - lr * weight_decay)``,
    then takes the plain Adam step (the gradient itself is not penalised)::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Defaults as torch: ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=1e-2``. The rule itself is :func:`adam` with ``decoupled=True``.
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
