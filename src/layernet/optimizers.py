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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ._typing import FloatArray
from ._validation import check_bool, check_positive_int
from .parameter import Parameter, flat_span


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
    if not isinstance(params, Iterable):
        hint = "; pass model.parameters()" if hasattr(params, "parameters") else ""
        got = repr(params) if hint else type(params).__name__
        raise TypeError(f"{owner}: params must be an iterable of Parameter, got {got}{hint}")
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


_CHUNK = 1 << 16
"""Largest slice of a flat parameter buffer updated at once: big enough that a small
model is one slice, small enough that a large one's scratch stays in cache."""


class _Layout:
    """How a step walks the parameters: one by one, or as slices of their shared buffer."""

    def __init__(self, params: list[Parameter], *, flat: bool = True) -> None:
        self.params = params
        self.checks = [(p, p.value, p.grad) for p in params]
        values = flat_span([p.value for p in params]) if flat else None
        grads = flat_span([p.grad for p in params]) if flat else None
        self.bounds: dict[Parameter, tuple[int, int]] = {}
        self.states: dict[str, FloatArray] = {}
        self.counters: dict[str, FloatArray] = {}
        self.slices: dict[tuple[Parameter, str], FloatArray] = {}
        self.fresh: set[str] = set()  # state keys created during the current step
        self.offsets: list[tuple[int, int]] = []
        self.units: Sequence[Parameter] = params
        if values is None or grads is None or values.size != grads.size or values.size == 0:
            return
        self.size, self.dtype = int(values.size), values.dtype
        start = 0
        for p in params:
            self.offsets.append((start, start + p.size))
            start += p.size
        units = []
        for lo in range(0, self.size, _CHUNK):
            hi = min(lo + _CHUNK, self.size)
            unit = Parameter(values[lo:hi], grads[lo:hi], name=f"flat[{lo}:{hi}]")
            self.bounds[unit] = (lo, hi)
            units.append(unit)
        self.units = units

    def valid(self) -> bool:
        """Whether every parameter still holds the arrays this layout was made from."""
        for p, value, grad in self.checks:
            if p.value is not value or p.grad is not grad:
                return False
        return True


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
        self._scratch_buffers: dict[tuple[np.dtype[Any], int], FloatArray] = {}
        self._scratch_views: dict[tuple[Parameter, int], FloatArray] = {}
        self._layout: _Layout | None = None

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

    # -- what a step updates: parameters, or slices of the buffer they share ----------

    def _units(self) -> Sequence[Parameter]:
        """The arrays one :meth:`step` updates, each with its ``value`` and ``grad``.

        When the parameters tile one contiguous buffer, in order (``Sequential``
        packs them so: :func:`~layernet.parameter.pack_parameters`), these are
        slices of that buffer of at most ``_CHUNK`` elements, so a small model
        is updated with one ufunc call per operation instead of one per
        parameter, and the scratch stays cache-sized for a large one. Otherwise
        they are the parameters themselves. Per-parameter state stays
        readable (and saved) per parameter either way: it is a view of the
        flat state.
        """
        layout = self._layout
        if layout is None or not layout.valid():
            # Steps advance every parameter's count together, and loading state rebuilds the
            # layout, so unequal counts (hand-made state) are only possible, and checked, here.
            counts = [self.state.get(p, {}).get("step") for p in self.params]
            known = {float(c) for c in counts if c is not None}
            even = len(known) <= 1 and (not known or all(c is not None for c in counts))
            layout = self._layout = _Layout(self.params, flat=even)
            self._scratch_views.clear()
        layout.fresh.clear()
        return layout.units

    def _has_state(self, unit: Parameter, key: str) -> bool:
        """Whether ``unit`` already holds state ``key`` (False before its first step)."""
        layout = self._layout
        if layout is not None and unit in layout.bounds:
            if key in layout.states:
                return key not in layout.fresh  # made by an earlier unit of this very step
            return all(key in self.state.get(p, {}) for p in layout.params)
        return key in self.state.get(unit, {})

    def _buffer(self, param: Parameter, key: str) -> FloatArray:
        """State array ``key`` of a unit from :meth:`_units`, created as zeros on first use."""
        layout = self._layout
        if layout is not None and param in layout.bounds:
            view = layout.slices.get((param, key))
            if view is None:
                full = layout.states.get(key)
                if full is None:
                    if not self._has_state(param, key):
                        layout.fresh.add(key)
                    full = layout.states[key] = self._flat_state(layout, key)
                lo, hi = layout.bounds[param]
                view = layout.slices[(param, key)] = full[lo:hi]
            return view
        slots = self.state.setdefault(param, {})
        buf = slots.get(key)
        if buf is None:
            buf = slots[key] = np.zeros_like(param.value)
        return buf

    def _flat_state(self, layout: _Layout, key: str) -> FloatArray:
        """A flat state array for ``key``: any per-parameter state moves in, views go out."""
        full = np.zeros(layout.size, dtype=layout.dtype)
        for p, (lo, hi) in zip(layout.params, layout.offsets, strict=True):
            slots = self.state.setdefault(p, {})
            old = slots.get(key)
            if old is not None:
                full[lo:hi] = old.reshape(-1)
            slots[key] = full[lo:hi].reshape(p.shape)
        return full

    def _scratch(self, param: Parameter, slot: int) -> FloatArray:
        """A temporary shaped like ``param``: a view into a buffer shared by all units.

        Scratch holds nothing between units, so one buffer per dtype and slot,
        as large as the largest unit, serves them all: an update allocates
        nothing, and the optimizer's memory is its real state plus one unit's
        worth per slot, not a second copy of the model.
        """
        view = self._scratch_views.get((param, slot))
        if view is None:
            key = (param.value.dtype, slot)
            flat = self._scratch_buffers.get(key)
            if flat is None or flat.size < param.size:
                units = [*self.params, *(self._layout.units if self._layout else ())]
                largest = max(u.size for u in units if u.value.dtype == param.value.dtype)
                flat = self._scratch_buffers[key] = np.empty(largest, dtype=param.value.dtype)
                self._scratch_views.clear()
            view = self._scratch_views[(param, slot)] = flat[: param.size].reshape(param.shape)
        return view

    def _decayed_grad(self, param: Parameter, weight_decay: float) -> FloatArray:
        """``grad + weight_decay * value`` (the L2 penalty's gradient added), in scratch slot 1."""
        g = self._scratch(param, 1)
        np.multiply(param.value, weight_decay, out=g)
        g += param.grad
        return g

    def _count(self, param: Parameter, key: str = "step") -> float:
        """Count a step of ``param`` (a unit from :meth:`_units`) and return the new count.

        Counts are kept per parameter as 0-d arrays (torch's ``step``); for
        flat units they are views of one vector, advanced once per step.
        """
        layout = self._layout
        if layout is not None and param in layout.bounds:
            counts = layout.counters.get(key)
            if counts is None:
                counts = layout.counters[key] = np.zeros(len(layout.params), dtype=layout.dtype)
                for i, p in enumerate(layout.params):
                    slots = self.state.setdefault(p, {})
                    old = slots.get(key)
                    if old is not None:
                        counts[i] = old
                    slots[key] = counts[i : i + 1].reshape(())
            if param is layout.units[0]:
                counts += 1
            return float(counts[0])
        slots = self.state.setdefault(param, {})
        counter = slots.get(key)
        if counter is None:
            counter = slots[key] = np.zeros((), dtype=param.dtype)
        counter += 1
        return float(counter)

    def get_config(self) -> dict[str, Any]:
        """Hyperparameters that rebuild this optimizer (for save/load)."""
        return {"lr": self.lr, "max_grad_norm": self.max_grad_norm}

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
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"{name}: state_dict must be a mapping from state_dict(), "
                f"got {type(state_dict).__name__}"
            )
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
            param = self.params[i]
            for key, value in arrays[i].items():
                if value.dtype != param.dtype:
                    raise ValueError(
                        f"{name}: state entry {i}/{key!r} has dtype {value.dtype}, "
                        f"expected {param.dtype}"
                    )
                if value.shape not in ((), param.shape):
                    raise ValueError(
                        f"{name}: state entry {i}/{key!r} has shape {value.shape}, "
                        f"expected {param.shape} (or () for a counter)"
                    )
        config = dict(state_dict.get("config", {}))
        # >= 0 rather than > 0: a schedule may have annealed it to zero
        lr = _check_hyper(name, "lr", config.pop("lr")) if "lr" in config else None
        missing = object()
        hyper = {
            key: value
            for key, value in config.items()
            if getattr(self, key, missing) is not missing and not callable(getattr(self, key))
        }
        try:  # the constructor validates every hyperparameter; build a throwaway to use it
            probe = type(self)(self.params, **({} if lr is None else {"lr": 1.0}), **hyper)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: the saved hyperparameters do not fit: {exc}") from None
        if lr is not None:
            self._lr = lr
        for key in hyper:
            setattr(self, key, getattr(probe, key))
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
        self._layout = None  # flat state is rebuilt from the loaded arrays on the next step


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
        self.nesterov = check_bool(nesterov, "nesterov", "SGD")
        self.momentum = _check_hyper("SGD", "momentum", momentum)
        self.dampening = _check_hyper("SGD", "dampening", dampening)
        self.weight_decay = _check_hyper("SGD", "weight_decay", weight_decay)
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("SGD: nesterov=True needs momentum > 0 and dampening = 0")

    def step(self) -> None:
        self._clip()
        lr, mu, wd, damp = self.lr, self.momentum, self.weight_decay, self.dampening
        for p in self._units():
            d = self._scratch(p, 0)
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
                first = not self._has_state(p, "momentum_buffer")
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
        for p in self._units():
            t = self._count(p)
            m = self._buffer(p, "exp_avg")
            v = self._buffer(p, "exp_avg_sq")
            s = self._scratch(p, 0)
            g = p.grad
            if wd and self._decoupled:
                p.value *= 1.0 - lr * wd
            elif wd:
                g = self._decayed_grad(p, wd)
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
        self.centered = check_bool(centered, "centered", "RMSprop")

    def step(self) -> None:
        self._clip()
        lr, alpha, eps, wd, mu = self.lr, self.alpha, self.eps, self.weight_decay, self.momentum
        for p in self._units():
            self._count(p)
            sq = self._buffer(p, "square_avg")
            s = self._scratch(p, 0)
            g = self._decayed_grad(p, wd) if wd else p.grad
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
        for p in self._units():
            t = self._count(p)
            fresh = not self._has_state(p, "sum")
            acc = self._buffer(p, "sum")
            if fresh and self.initial_accumulator_value:
                acc.fill(self.initial_accumulator_value)
            s = self._scratch(p, 0)
            g = self._decayed_grad(p, wd) if wd else p.grad
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
        self.max_iter = check_positive_int(max_iter, "max_iter", "LBFGS")
        self.max_eval = (
            None if max_eval is None else check_positive_int(max_eval, "max_eval", "LBFGS")
        )
        self.history_size = check_positive_int(history_size, "history_size", "LBFGS")
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
