"""The optimizer base classes and the state machinery every update rule shares.

An optimizer packs the parameters it is given (:func:`pack_parameters`), then
each :meth:`Optimizer.step` gathers the arrays to update into lists (values,
gradients, state, scratch) and hands them to a plain function that is only
the update rule (torch.optim's split, e.g. ``_single_tensor_sgd``). The lists
hold slices of the one buffer the parameters tile, or, once they have moved,
the parameters themselves (large ones in slices); the rule cannot tell the
difference.

The rules write with ufuncs into their last positional argument
(``np.multiply(g, lr, d)`` is ``d = g * lr``): for the small arrays of a small
model, passing ``out=`` by keyword costs more than the arithmetic.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from .._typing import FloatArray
from .._validation import check_real
from ..parameter import Parameter, flat_span, moves, pack_parameters

Scratch = Sequence[FloatArray]
"""A unit's temporaries: arrays shaped like it whose contents do not outlive one step."""


def as_parameter_list(params: Iterable[Parameter], owner: str) -> list[Parameter]:
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


def _scale_to_norm(grads: Sequence[FloatArray], max_norm: float) -> float:
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= coef
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
    bound = check_real(max_norm, "max_norm", "clip_grad_norm", positive=True)
    params = as_parameter_list(params, "clip_grad_norm")
    return _scale_to_norm([p.grad for p in params], bound)


def decayed_grad(
    value: FloatArray, grad: FloatArray, weight_decay: float, out: FloatArray
) -> FloatArray:
    """``grad + weight_decay * value``, the gradient with the L2 penalty's, written to ``out``."""
    np.multiply(value, weight_decay, out)
    out += grad
    return out


_STEP = "step"
"""The state key of the step count, the one counter (a 0-d array per parameter)."""

_CHUNK = 1 << 16
"""Largest slice of a flat parameter buffer updated at once: big enough that a small
model is one slice, small enough that a large one's scratch stays in cache."""


def _part(array: FloatArray, lo: int, hi: int) -> FloatArray:
    """``array``'s numbers ``lo:hi`` in C order: the array itself when that is all of it."""
    return array if lo == 0 and hi == array.size else array.reshape(-1)[lo:hi]


def _chunks(size: int, splittable: bool = True) -> list[tuple[int, int]]:
    """``[lo, hi)`` ranges of at most ``_CHUNK`` numbers covering ``size`` (one if unsplittable)."""
    if not splittable or size <= _CHUNK:
        return [(0, size)]
    return [(lo, min(lo + _CHUNK, size)) for lo in range(0, size, _CHUNK)]


class _Layout:
    """The arrays a step walks, gathered once and reused until a parameter moves.

    A step updates *units*: ranges of at most ``_CHUNK`` numbers, so that the
    scratch of a large model stays in cache. When the parameters tile one
    buffer in order (:func:`flat_span`) the units are slices of that buffer
    (``flat``), and a small model is one unit; otherwise they are the
    parameters, a large one cut into slices. ``states``, ``scratch`` and
    ``counter`` cache the per-unit lists handed to the update rule, so a step
    past the first does a few lookups, not a few per parameter.
    """

    def __init__(self, params: list[Parameter], *, flat: bool) -> None:
        # frozen parameters are left out; checks notices when one is frozen or unfrozen
        self.checks = [(p, p.value, p.grad, p.trainable) for p in params]
        params = [p for p in params if p.trainable]
        self.params = params
        dtypes = {p.dtype for p in params}
        self.dtype: np.dtype[Any] | None = dtypes.pop() if len(dtypes) == 1 else None
        self.size = sum(p.size for p in params)
        self.offsets: list[tuple[int, int]] = []  # flat: each parameter's slice of the buffer
        self.owner: list[int] = []  # otherwise: each unit's parameter (its index)
        self.spans: list[tuple[int, int]] = []  # each unit's range of its buffer or parameter
        self.values: list[FloatArray] = []
        self.grads: list[FloatArray] = []
        self.flat = flat and self.dtype is not None and self._flatten()
        if not self.flat:
            for i, p in enumerate(params):
                contiguous = p.value.flags.c_contiguous and p.grad.flags.c_contiguous
                for lo, hi in _chunks(p.size, contiguous):
                    self.owner.append(i)
                    self.spans.append((lo, hi))
                    self.values.append(_part(p.value, lo, hi))
                    self.grads.append(_part(p.grad, lo, hi))
        self.whole = self.owner == list(range(len(params)))  # one unit per parameter
        self.states: dict[str, list[FloatArray]] = {}
        self.counter: tuple[FloatArray | None, list[FloatArray]] | None = None
        self.scratch: dict[int, list[Scratch]] = {}
        self.settled = [False] * len(self.values)  # no state of this layout is new any more
        self.moves = moves()  # the parameters' move count when they were last seen in place

    def _flatten(self) -> bool:
        sized = [p for p in self.params if p.size]
        values = flat_span([p.value for p in sized])
        grads = flat_span([p.grad for p in sized])
        if values is None or grads is None or values.size != grads.size:
            return False
        start = 0
        for p in self.params:
            self.offsets.append((start, start + p.size))
            start += p.size
        self.spans = _chunks(self.size)
        self.values = [values[lo:hi] for lo, hi in self.spans]
        self.grads = [grads[lo:hi] for lo, hi in self.spans]
        return True

    def current(self) -> bool:
        """Whether every parameter still holds the arrays this layout was made from.

        Asked only after some Parameter somewhere was rebound (:func:`moves`
        changed): if none of these was, the layout is current again as of now.
        """
        for p, value, grad, trainable in self.checks:
            if p.value is not value or p.grad is not grad or p.trainable is not trainable:
                return False
        self.moves = moves()
        return True


class Optimizer(ABC):
    """Base optimizer: holds the parameters, the learning rate and per-parameter state.

    The optimizer owns the layout of its parameters: at construction it packs
    them into one contiguous buffer per dtype (their values kept; see
    :func:`~layernet.parameter.pack_parameters`), so that a step over a whole
    model is a handful of ufunc calls. If the parameters later move (another
    optimizer packed them differently, or someone rebound ``p.value``), the
    next step notices, re-derives its layout from where they now are, and
    falls back to updating them one by one when they no longer tile a buffer.
    A subclass checks its own hyperparameters before calling
    ``super().__init__``, which packs last: a constructor that raises moves
    nothing.

    Frozen parameters (``param.trainable`` False, e.g. after
    ``layer.trainable = False``) are skipped, as torch skips parameters
    without gradients: a step leaves their values and their state (moments,
    step count) as they are, and gradient clipping ignores them. The flags
    are read at every step, so freezing or unfreezing after the optimizer
    was built takes effect at the next step; an unfrozen parameter
    continues from its own state.

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
        All mutable per-parameter state (moments, step counts as 0-d arrays),
        in the parameter's dtype, so it can be saved and restored.
    initial_lr : float or None
        The learning rate a schedule started from (torch's ``initial_lr``),
        set by the first schedule attached.
    hyperparameters : tuple of str
        The constructor arguments, also attributes, that :meth:`get_config`
        reports and :meth:`load_state_dict` restores; each subclass declares
        its own.
    """

    hyperparameters: ClassVar[tuple[str, ...]] = ("lr", "max_grad_norm")
    packs_parameters: ClassVar[bool] = True
    """Whether the constructor packs the parameters (a full-batch optimizer need not)."""

    params: list[Parameter]
    state: dict[Parameter, dict[str, FloatArray]]
    max_grad_norm: float | None
    initial_lr: float | None = None

    def __init__(
        self, params: Iterable[Parameter], *, lr: float, max_grad_norm: float | None = None
    ) -> None:
        name = type(self).__name__
        self.params = as_parameter_list(params, name)
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list; pass model.parameters()")
        self.lr = lr
        self.max_grad_norm = (
            None
            if max_grad_norm is None
            else check_real(max_grad_norm, "max_grad_norm", name, positive=True)
        )
        self.state = {}
        self._scratch_buffers: dict[tuple[np.dtype[Any], int], FloatArray] = {}
        self._layout: _Layout | None = None
        if self.packs_parameters:
            pack_parameters(self.params)

    @property
    def lr(self) -> float:
        """The learning rate used by the next :meth:`step`."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = check_real(value, "lr", type(self).__name__, positive=True)

    def _set_scheduled_lr(self, value: float) -> None:
        """Set the learning rate from a schedule: like ``lr``, but 0 is allowed.

        A cosine schedule reaches ``eta_min = 0`` by design; a user who sets
        ``lr = 0`` by hand has most likely made a mistake.
        """
        self._lr = check_real(value, "lr", type(self).__name__, low=0.0)

    @abstractmethod
    def step(self) -> None:
        """Update every trainable parameter in place from its ``.grad``."""

    def get_config(self) -> dict[str, Any]:
        """Hyperparameters that rebuild this optimizer (for save/load): :attr:`hyperparameters`."""
        return {name: getattr(self, name) for name in self.hyperparameters}

    # -- training together with other processes ---------------------------------------------
    #
    # ``fit`` asks its optimizer these three things, so that the loop itself knows
    # nothing of distribution; alone (the defaults) they cost one call each.
    # layernet.distributed.DistributedOptimizer answers them over its MPI ranks.

    @property
    def is_primary(self) -> bool:
        """Whether this process writes the run's output: True unless it trains with others.

        When several processes train one model together, each runs ``fit``;
        only the primary one keeps the callbacks that print or write files
        (those with ``primary_only``, see :class:`~layernet.callbacks.Callback`).
        """
        return True

    def gather(self, values: FloatArray) -> list[FloatArray]:
        """``values`` from every process that trains with this optimizer, in rank order.

        ``fit`` calls it once per epoch (and once per validation) with each
        process's loss sum, row count and metric statistics, so that every
        process logs the global values, and once more to stop every process
        when any callback stops one. Alone, ``[values]``.
        """
        return [values]

    def global_loss(self, value: float, rows: int) -> float:
        """The mean loss of this step's batches over every process; ``value`` when alone.

        ``fit`` checks it for NaN and infinity before the step, so that every
        process stops at the same batch and none is left waiting for the others.
        """
        return value

    # -- gathering what a step updates --------------------------------------------------

    def _prepare(self) -> _Layout:
        """The layout for this step, re-derived if a parameter moved; gradients clipped.

        Call first in :meth:`step`. The units are slices of the parameters'
        shared buffer when they tile one in order and every parameter's state
        is alike (same keys, same step counts); otherwise the parameters
        (large ones in slices).
        """
        layout = self._layout
        if layout is None or (layout.moves != moves() and not layout.current()):
            layout = self._layout = _Layout(self.params, flat=self._state_is_uniform())
        if self.max_grad_norm is not None:
            _scale_to_norm(layout.grads, self.max_grad_norm)
        return layout

    def _state_is_uniform(self) -> bool:
        """Whether every parameter holds the same state keys, and the same step count.

        Steps advance all parameters together and create their state together, so
        only hand-made or partially loaded state differs; it is updated parameter
        by parameter.
        """
        slots = [self.state.get(p, {}) for p in self.params if p.trainable]
        if not slots:
            return True
        keys = set(slots[0])
        if any(set(s) != keys for s in slots):
            return False
        return _STEP not in keys or len({float(s[_STEP]) for s in slots}) == 1

    def _missing(self, layout: _Layout, key: str) -> list[bool]:
        """Per unit, whether state ``key`` does not exist yet; call before :meth:`_state`."""
        if key in layout.states:
            return layout.settled
        if layout.flat:
            return [key not in self.state.get(layout.params[0], {})] * len(layout.values)
        missing = [key not in self.state.get(p, {}) for p in layout.params]
        return missing if layout.whole else [missing[i] for i in layout.owner]

    def _state(self, layout: _Layout, key: str, *, fill: float = 0.0) -> list[FloatArray]:
        """Per unit, state array ``key``; created filled with ``fill`` where missing.

        For flat units the state is one flat array too: any per-parameter state
        moves in, and :attr:`state` holds views of it shaped like the parameters.
        """
        arrays = layout.states.get(key)
        if arrays is not None:
            return arrays
        if layout.flat:
            full = np.full(layout.size, fill, dtype=layout.values[0].dtype)
            for p, (lo, hi) in zip(layout.params, layout.offsets, strict=True):
                slots = self.state.setdefault(p, {})
                old = slots.get(key)
                if old is not None:
                    full[lo:hi] = old.reshape(-1)
                slots[key] = full[lo:hi].reshape(p.shape)
            arrays = [full[lo:hi] for lo, hi in layout.spans]
        else:
            per_param = []
            for p in layout.params:
                slots = self.state.setdefault(p, {})
                buf = slots.get(key)
                if buf is None:
                    buf = slots[key] = np.full(p.shape, fill, dtype=p.dtype)
                elif not buf.flags.c_contiguous:  # hand-made: slices of it must be views
                    buf = slots[key] = np.ascontiguousarray(buf)
                per_param.append(buf)
            arrays = [
                _part(per_param[i], lo, hi)
                for i, (lo, hi) in zip(layout.owner, layout.spans, strict=True)
            ]
        layout.states[key] = arrays
        return arrays

    def _steps(self, layout: _Layout) -> list[float]:
        """Count one more step of every parameter; per unit, the new count.

        Counts are kept per parameter as 0-d arrays (torch's ``step``); where
        the parameters share a dtype they are views of one vector, advanced by
        one call.
        """
        counter = layout.counter
        if counter is None:
            counter = layout.counter = self._counter(layout)
        vector, cells = counter
        if vector is not None:
            vector += 1
            if layout.flat:
                return [float(vector[0])] * len(layout.values)
            counts: list[float] = vector.tolist()
        else:
            for cell in cells:
                cell += 1
            counts = [float(cell) for cell in cells]
        return counts if layout.whole else [counts[i] for i in layout.owner]

    def _counter(self, layout: _Layout) -> tuple[FloatArray | None, list[FloatArray]]:
        old = [self.state.setdefault(p, {}).get(_STEP) for p in layout.params]
        if layout.dtype is None:
            cells = []
            for p, count in zip(layout.params, old, strict=True):
                cell = np.zeros((), dtype=p.dtype) if count is None else count
                cells.append(cell)
                self.state[p][_STEP] = cell
            return None, cells
        vector = np.zeros(len(layout.params), dtype=layout.dtype)
        for i, (p, count) in enumerate(zip(layout.params, old, strict=True)):
            if count is not None:
                vector[i] = count
            self.state[p][_STEP] = vector[i : i + 1].reshape(())
        return vector, []

    def _scratch(self, layout: _Layout, slots: int) -> list[Scratch]:
        """Per unit, ``slots`` temporaries shaped like it: views of buffers shared by all units.

        Scratch holds nothing between units, so one buffer per dtype and slot,
        as large as the largest unit, serves them all: an update allocates
        nothing, and the optimizer's memory is its real state plus one unit's
        worth per slot (at most ``_CHUNK`` numbers), not a second copy of the
        model.
        """
        scratch = layout.scratch.get(slots)
        if scratch is not None:
            return scratch
        largest: dict[np.dtype[Any], int] = {}
        for v in layout.values:
            largest[v.dtype] = max(largest.get(v.dtype, 0), v.size)
        buffers: dict[tuple[np.dtype[Any], int], FloatArray] = {}
        for dtype, size in largest.items():
            for slot in range(slots):
                buf = self._scratch_buffers.get((dtype, slot))
                if buf is None or buf.size < size:
                    buf = self._scratch_buffers[(dtype, slot)] = np.empty(size, dtype=dtype)
                buffers[(dtype, slot)] = buf
        scratch = layout.scratch[slots] = [
            tuple(buffers[(v.dtype, slot)][: v.size].reshape(v.shape) for slot in range(slots))
            for v in layout.values
        ]
        return scratch

    # -- saving and restoring ---------------------------------------------------------------

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
        :attr:`hyperparameters` are restored; per-parameter state arrays
        replace the current ones (copied in place where a buffer of the same
        shape and dtype exists, so views stay valid). Nothing changes unless
        everything fits.

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
        lr = check_real(config.pop("lr"), "lr", name, low=0.0) if "lr" in config else None
        hyper = {key: value for key, value in config.items() if key in self.hyperparameters}
        try:  # the constructor validates every hyperparameter: build a throwaway to use it
            probe = type(self)(
                [Parameter(np.zeros(1))], **({} if lr is None else {"lr": 1.0}), **hyper
            )
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
        self._layout = None  # gathered again from the loaded arrays on the next step


class FullBatchOptimizer(Optimizer):
    """An optimizer that needs the loss and gradient over the whole data set at each step.

    This is what the training loop needs from one (L-BFGS, say): it builds a
    *closure* that runs forward, loss and backward over all the data at the
    current parameters and returns the loss (each ``param.grad`` then holds
    the full-batch gradient), and calls :meth:`minimize` with it; one
    iteration is one epoch. It keeps the last good iterate with :meth:`pack`
    and puts it back with :meth:`unpack` when training stops mid-line-search.
    A subclass implements :meth:`minimize` (and ``step``).

    The trainable parameters are seen as one float64 vector ``w`` in :attr:`params`
    order (scikit-learn's MLP ``_pack``/``_unpack``); :meth:`pack` copies, so
    the parameters are not packed in place and stay wherever their model
    keeps them.
    """

    packs_parameters = False

    @abstractmethod
    def minimize(
        self,
        closure: Callable[[], float],
        *,
        max_iter: int,
        callback: Callable[[Any], None] | None = None,
    ) -> Any:
        """Minimise the closure's loss from the current parameters; leave them at the answer.

        Parameters
        ----------
        closure : callable () -> float
            Computes the loss over the whole data set at the current
            parameters and writes every ``param.grad``.
        max_iter : int
            Iteration cap.
        callback : callable (result) -> None, optional
            Called after each iteration with an object holding ``x`` (the
            iterate, as from :meth:`pack`) and ``fun`` (its loss), with the
            parameters already set to ``x``; it may raise ``StopIteration``
            to stop.

        Returns
        -------
        object
            What the minimiser reports (``scipy.optimize.OptimizeResult`` for LBFGS).
        """

    def trained(self) -> list[Parameter]:
        """The parameters it optimises: those of :attr:`params` that are trainable."""
        return [p for p in self.params if p.trainable]

    def pack(self) -> FloatArray:
        """The trainable parameters' values as one float64 vector, in order (a copy)."""
        return _concatenate([p.value for p in self.trained()])

    def pack_grads(self) -> FloatArray:
        """The trainable parameters' gradients as one float64 vector, in order (a copy)."""
        return _concatenate([p.grad for p in self.trained()])

    def unpack(self, w: FloatArray) -> None:
        """Write ``w`` into the trainable parameters, in place (cast to their dtype)."""
        start = 0
        for p in self.trained():
            stop = start + p.size
            p.value[...] = w[start:stop].reshape(p.shape)
            start = stop


def _concatenate(arrays: list[FloatArray]) -> FloatArray:
    """The arrays flattened end to end, as float64 (empty when there are none)."""
    if not arrays:
        return np.zeros(0)
    return np.concatenate([a.reshape(-1) for a in arrays]).astype(np.float64)
