"""Adagrad (torch.optim.Adagrad)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .._typing import FloatArray
from .._validation import check_real
from ..parameter import Parameter
from .base import Optimizer, Scratch, decayed_grad


def adagrad(
    params: Sequence[FloatArray],
    grads: Sequence[FloatArray],
    state_sums: Sequence[FloatArray],
    steps: Sequence[float],
    scratch: Sequence[Scratch],
    *,
    lr: float,
    lr_decay: float,
    weight_decay: float,
    eps: float,
) -> None:
    """torch's Adagrad update, in place, for each array ``p`` with gradient ``g``::

        g = g + weight_decay * p                        (if weight_decay)
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g**2
        p = p - clr * g / (sqrt(s) + eps)

    Parameters
    ----------
    params, grads : sequence of ndarray
        The arrays to update and their gradients.
    state_sums : sequence of ndarray
        ``s`` for each array (it starts at ``initial_accumulator_value``).
    steps : sequence of float
        ``t`` for each array, this step included (1 on the first step).
    scratch : sequence of (ndarray, ndarray)
        Temporaries per array, shaped like it (the second only for weight decay).
    lr, lr_decay, weight_decay, eps
        As :class:`Adagrad`.
    """
    for p, g, acc, t, tmp in zip(params, grads, state_sums, steps, scratch, strict=True):
        s = tmp[0]
        if weight_decay:
            g = decayed_grad(p, g, weight_decay, tmp[1])
        clr = lr / (1.0 + (t - 1.0) * lr_decay)
        np.multiply(g, g, s)
        acc += s
        np.sqrt(acc, s)
        s += eps
        np.divide(g, s, s)
        s *= clr
        p -= s


class Adagrad(Optimizer):
    """Adagrad, with torch.optim.Adagrad's update rule and defaults.

    For each parameter ``p`` with gradient ``g`` at step ``t = 1, 2, ...``::

        g = g + weight_decay * p                        (if weight_decay)
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g**2                                    (s starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(s) + eps)

    The rule itself is :func:`adagrad`.

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

    hyperparameters = (
        "lr",
        "lr_decay",
        "weight_decay",
        "initial_accumulator_value",
        "eps",
        "max_grad_norm",
    )

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
        self.lr_decay = check_real(lr_decay, "lr_decay", "Adagrad", low=0.0)
        self.weight_decay = check_real(weight_decay, "weight_decay", "Adagrad", low=0.0)
        self.initial_accumulator_value = check_real(
            initial_accumulator_value, "initial_accumulator_value", "Adagrad", low=0.0
        )
        self.eps = check_real(eps, "eps", "Adagrad", low=0.0)
        super().__init__(params, lr=lr, max_grad_norm=max_grad_norm)

    def step(self) -> None:
        layout = self._prepare()
        steps = self._steps(layout)
        sums = self._state(layout, "sum", fill=self.initial_accumulator_value)
        adagrad(
            layout.values,
            layout.grads,
            sums,
            steps,
            self._scratch(layout, 2 if self.weight_decay else 1),
            lr=self._lr,
            lr_decay=self.lr_decay,
            weight_decay=self.weight_decay,
            eps=self.eps,
        )
