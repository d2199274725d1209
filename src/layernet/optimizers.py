"""Optimizers: update parameters in place from their gradients.

An optimizer sees only :class:`~layernet.Parameter` objects. The training
loop is forward -> loss -> backward -> ``step()``; since ``backward``
overwrites each ``grad``, there is no ``zero_grad`` to forget. Updates are
in place and allocate nothing per step once their state exists.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
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

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: hyperparameters and copies of every state array.

        Returns
        -------
        dict
            ``"class_name"``; ``"config"`` (:meth:`get_config`);
            ``"param_shapes"``, the shape of each parameter in order; and
            ``"state"``, mapping a parameter's index in :attr:`params` to
            ``{key: array}`` (torch's layout), copied.
        """
        index = {id(p): i for i, p in enumerate(self.params)}
        return {
            "class_name": type(self).__name__,
            "config": self.get_config(),
            "param_shapes": [list(p.shape) for p in self.params],
            "state": {
                index[id(p)]: {key: np.array(arr, copy=True) for key, arr in slots.items()}
                for p, slots in self.state.items()
                if id(p) in index
            },
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned, so training resumes exactly.

        The optimizer must be of the same class over parameters of the same
        shapes, in the same order. The learning rate and every other entry of
        :meth:`get_config` that names an attribute are restored; per-parameter
        state arrays replace the current ones (copied in place where a buffer
        of the same shape and dtype exists, so views stay valid). Nothing
        changes unless everything fits.

        Raises
        ------
        ValueError
            Naming the class, parameter count, shape or entry that does not fit.
        """
        name = type(self).__name__
        saved_class = state_dict.get("class_name")
        if saved_class != name:
            raise ValueError(f"{name}: cannot load the state of a {saved_class} optimizer")
        shapes = [tuple(s) for s in state_dict.get("param_shapes", ())]
        mine = [p.shape for p in self.params]
        if shapes != mine:
            raise ValueError(
                f"{name}: the saved state is for parameters of shapes {shapes}, but this "
                f"optimizer holds {mine}; build it on the same model's parameters()"
            )
        arrays: dict[int, dict[str, FloatArray]] = {}
        for raw_index, slots in dict(state_dict.get("state", {})).items():
            i = int(raw_index)
            if not 0 <= i < len(self.params):
                raise ValueError(f"{name}: state for parameter index {i}, which does not exist")
            arrays[i] = {key: np.asarray(value) for key, value in slots.items()}
        config = dict(state_dict.get("config", {}))
        if "lr" in config:  # >= 0 rather than > 0: a schedule may have annealed it to zero
            self._lr = _check_hyper(name, "lr", config.pop("lr"))
        missing = object()
        for key, value in config.items():
            current = getattr(self, key, missing)
            if current is missing or callable(current):
                continue
            setattr(self, key, tuple(value) if isinstance(current, tuple) else value)
        new_state: dict[Parameter, dict[str, FloatArray]] = {}
        for i, slots in arrays.items():
            param = self.params[i]
            old = self.state.get(param, {})
            new_slots: dict[str, FloatArray] = {}
            for key, value in slots.items():
                buf = old.get(key)
                if buf is not None and buf.shape == value.shape and buf.dtype == value.dtype:
                    buf[...] = value
                    new_slots[key] = buf
                else:
                    new_slots[key] = np.array(value, copy=True)
            new_state[param] = new_slots
        self.state = new_state


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


class LBFGS(Optimizer):
    """Full-batch L-BFGS through ``scipy.optimize.minimize(method="L-BFGS-B", jac=True)``.

    Every parameter is packed into one float64 vector ``w`` (scikit-learn's
    MLP ``_pack``/``_unpack``); SciPy minimises ``L(w)`` from the loss and its
    gradient, which a *closure* computes: it sets the parameters from ``w``,
    runs forward, loss and backward over the whole data set and returns the
    loss (each ``param.grad`` then holds ``dL/dparam``).

    With ``fit`` (the usual way) the loop builds that closure: one epoch is
    one L-BFGS iteration over the whole training set (``batch_size`` only
    bounds how many rows one forward pass holds), so ``epochs`` caps the
    iterations; training also ends when SciPy reports convergence
    (``ftol``/``gtol``), and ``result`` says why. Batch hooks of callbacks do
    not fire. Standalone, ``step(closure)`` runs up to ``max_iter``
    iterations, like ``torch.optim.LBFGS``.

    Parameters
    ----------
    params : iterable of Parameter
    max_iter : int
        Iterations per :meth:`step` (not used by ``fit``, where epochs count).
    max_eval : int, optional
        Cap on loss-and-gradient evaluations per minimisation; SciPy's
        default (15000) when omitted.
    history_size : int
        Correction pairs kept (SciPy's ``maxcor``).
    ftol, gtol : float
        SciPy's stopping tolerances on the relative loss decrease and the
        largest projected-gradient component.

    Attributes
    ----------
    evaluations : int
        Loss-and-gradient evaluations so far (each is one pass over the data).
    result : scipy.optimize.OptimizeResult or None
        The last minimisation's result (``message``, ``nit``, ``nfev``...).

    Notes
    -----
    ``lr`` exists for the Optimizer interface and is not used: the step
    length comes from L-BFGS-B's line search. SciPy keeps the curvature
    pairs internally, so ``state`` is empty and a saved LBFGS resumes from
    its parameters only, with a fresh history.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        *,
        max_iter: int = 20,
        max_eval: int | None = None,
        history_size: int = 10,
        ftol: float = 2.220446049250313e-09,
        gtol: float = 1e-05,
    ) -> None:
        super().__init__(params, lr=1.0)
        self.max_iter = int(_check_hyper("LBFGS", "max_iter", max_iter, low=1))
        self.max_eval = (
            None if max_eval is None else int(_check_hyper("LBFGS", "max_eval", max_eval, low=1))
        )
        self.history_size = int(_check_hyper("LBFGS", "history_size", history_size, low=1))
        self.ftol = _check_hyper("LBFGS", "ftol", ftol)
        self.gtol = _check_hyper("LBFGS", "gtol", gtol)
        self.evaluations = 0
        self.result: Any = None

    def pack(self) -> FloatArray:
        """All parameter values as one float64 vector, in :attr:`params` order."""
        return np.concatenate([p.value.reshape(-1) for p in self.params]).astype(np.float64)

    def pack_grads(self) -> FloatArray:
        """All gradients as one float64 vector, in :attr:`params` order."""
        return np.concatenate([p.grad.reshape(-1) for p in self.params]).astype(np.float64)

    def unpack(self, w: FloatArray) -> None:
        """Write the vector ``w`` into the parameters, in place (cast to their dtype)."""
        start = 0
        for p in self.params:
            stop = start + p.size
            p.value[...] = w[start:stop].reshape(p.shape)
            start = stop

    def minimize(
        self,
        closure: Callable[[], float],
        *,
        max_iter: int,
        callback: Callable[[Any], None] | None = None,
    ) -> Any:
        """Run L-BFGS-B from the current parameters; leave them at SciPy's answer.

        Parameters
        ----------
        closure : callable () -> float
            Computes the loss over the whole data set at the current
            parameters and writes every ``param.grad``.
        max_iter : int
            Iteration cap.
        callback : callable (OptimizeResult) -> None, optional
            Called after each iteration with ``x`` (the iterate) and ``fun``
            (its loss), with the parameters already set to ``x``; raise
            ``StopIteration`` to stop.

        Returns
        -------
        scipy.optimize.OptimizeResult
        """
        from scipy.optimize import minimize as scipy_minimize

        minimize: Any = scipy_minimize  # its overloads cannot see the jac=True pairing

        def fun(w: FloatArray) -> tuple[float, FloatArray]:
            self.unpack(w)
            self.evaluations += 1
            return float(closure()), self.pack_grads()

        stopped = False

        def on_iteration(intermediate_result: Any) -> None:
            nonlocal stopped
            self.unpack(intermediate_result.x)
            if callback is not None:
                try:
                    callback(intermediate_result)
                except StopIteration:
                    stopped = True  # the callback may have set the parameters: keep them
                    raise

        options: dict[str, Any] = {
            "maxiter": int(max_iter),
            "maxcor": self.history_size,
            "ftol": self.ftol,
            "gtol": self.gtol,
        }
        if self.max_eval is not None:
            options["maxfun"] = self.max_eval
        result = minimize(
            fun, self.pack(), method="L-BFGS-B", jac=True, callback=on_iteration, options=options
        )
        if not stopped:
            self.unpack(result.x)
        self.result = result
        return result

    def step(self, closure: Callable[[], float] | None = None) -> None:
        """Run up to ``max_iter`` iterations with ``closure`` (torch.optim.LBFGS's interface)."""
        if closure is None:
            raise RuntimeError(
                "LBFGS: step() needs a closure that computes the full-batch loss and gradients; "
                "train with model.fit(x, y, loss=..., optimizer=LBFGS(...), epochs=...) instead"
            )
        self.minimize(closure, max_iter=self.max_iter)

    def get_config(self) -> dict[str, Any]:
        return {
            "max_iter": self.max_iter,
            "max_eval": self.max_eval,
            "history_size": self.history_size,
            "ftol": self.ftol,
            "gtol": self.gtol,
        }
