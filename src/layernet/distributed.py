"""Data-parallel training over MPI: every rank trains the same model on its own rows.

Horovod's pattern, on mpi4py: start one process per rank
(``mpiexec -n 4 python train.py``); each builds the same model, takes its
shard of the data (:func:`shard`), makes the weights equal
(:func:`broadcast_parameters`) and calls ``fit`` with a
:class:`DistributedOptimizer`. Before every step the optimizer averages the
gradients over the ranks, so with ``p`` ranks of ``batch_size`` rows each a
step is the step of one process on a batch of ``p * batch_size`` rows::

    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    x_mine, y_mine = shard(x, y, comm)
    broadcast_parameters(model, comm=comm)
    opt = DistributedOptimizer(Adam(model.parameters(), lr=1e-3), comm)
    model.fit(x_mine, y_mine, loss=..., optimizer=opt, epochs=10, batch_size=32, rng=0)

The sum of the gradients is one ``Allreduce`` per dtype over the flat
buffer the optimizer packed the gradients into at construction (a few
calls, one per parameter, if something moved them since). ``fit`` runs
unchanged on every rank and asks its optimizer what it needs: the logged
loss, metrics and validation scores are those of all ranks' rows together,
so every rank's History is the same; each batch's loss is checked for NaN
over all ranks, so all stop at the same batch; and only rank 0 prints and
keeps the callbacks that write files (:class:`~layernet.ModelCheckpoint`,
:class:`~layernet.CSVLogger`).

BatchNorm normalises each rank's batch with that rank's own statistics, and
its running averages differ from rank to rank (rank 0's are the ones its
checkpoints hold): layers see per-rank batches, as in Horovod and in
PyTorch's DistributedDataParallel without SyncBatchNorm.

mpi4py is imported here only; ``pip install "layernet[mpi]"`` installs it
with an MPICH whose ``mpiexec`` lands in the environment's ``bin/``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TypeAlias

import numpy as np

from ._optional import import_optional
from ._typing import ArrayLike, FloatArray
from .layers.base import Layer
from .optimizers import FullBatchOptimizer, Optimizer
from .parameter import Parameter, flat_span

__all__ = ["DistributedOptimizer", "abort_on_error", "broadcast_parameters", "shard"]

Intracomm: TypeAlias = Any
"""An mpi4py intra-communicator (``MPI.COMM_WORLD`` or one split from it); typed loosely so
that type-checking layernet does not need mpi4py."""


def _mpi() -> Any:
    return import_optional("mpi4py.MPI", "layernet.distributed", "mpi", "mpi4py mpich")


def _comm(comm: Intracomm | None, owner: str) -> Intracomm:
    """``comm``, or ``MPI.COMM_WORLD`` when None; a TypeError for anything else."""
    MPI = _mpi()
    if comm is None:
        return MPI.COMM_WORLD
    if not isinstance(comm, MPI.Intracomm):
        raise TypeError(
            f"{owner}: comm must be an mpi4py communicator such as MPI.COMM_WORLD, "
            f"got {type(comm).__name__}"
        )
    return comm


def _root(root: int, comm: Intracomm, owner: str) -> int:
    size = comm.Get_size()
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or not 0 <= root < size:
        raise ValueError(f"{owner}: root must be a rank in [0, {size}), got {root!r}")
    return int(root)


def abort_on_error(comm: Intracomm | None = None) -> None:
    """Make an uncaught exception on any rank end the whole job, never hang it.

    Replaces ``sys.excepthook`` with one that prints the traceback (marked
    with the rank) to stderr, then calls ``comm.Abort(1)``: ``mpiexec`` ends
    every rank and exits non-zero. Without it, the other ranks would wait
    forever in their next collective for the rank that died.
    :class:`DistributedOptimizer` installs it unless told not to; calling it
    again changes nothing, and neither does calling it in a job of one
    process (nobody is left waiting there, and Python's own hook is kept).
    """
    world = _comm(comm, "abort_on_error")
    hook = sys.excepthook
    if getattr(hook, "_layernet_abort", False) or world.Get_size() == 1:
        return

    def excepthook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        lines = traceback.format_exception(kind, value, tb)
        sys.stderr.write(f"[rank {world.Get_rank()}] " + "".join(lines))
        sys.stderr.flush()
        world.Abort(1)

    excepthook._layernet_abort = True  # type: ignore[attr-defined]
    sys.excepthook = excepthook


_install_abort = abort_on_error


def broadcast_parameters(model: Layer, root: int = 0, comm: Intracomm | None = None) -> None:
    """Copy rank ``root``'s parameters and buffers into every rank's model, in place.

    Call it once before training so that every rank starts from the same
    weights (each rank's model was initialised from its own random state).
    Every rank must call it with the same architecture; the arrays keep
    their identity, so an optimizer built before still updates them.

    Parameters
    ----------
    model : Layer
    root : int
        The rank whose values everyone gets.
    comm : mpi4py communicator, optional
        ``MPI.COMM_WORLD`` by default.
    """
    if not isinstance(model, Layer):
        raise TypeError(f"broadcast_parameters: model must be a Layer, got {type(model).__name__}")
    world = _comm(comm, "broadcast_parameters")
    source = _root(root, world, "broadcast_parameters")
    arrays = [p.value for p in model.parameters()] + [b for _, b in model.named_buffers()]
    shapes = [(a.shape, a.dtype.str) for a in arrays]
    theirs = world.bcast(shapes, root=source)
    if theirs != shapes:
        raise ValueError(
            f"broadcast_parameters: rank {world.Get_rank()}'s model does not match rank "
            f"{source}'s: its arrays are {shapes}, rank {source}'s are {theirs}; build the "
            "same model on every rank"
        )
    for array in arrays:
        if array.flags.c_contiguous:
            world.Bcast(array, root=source)
        else:
            copy = np.ascontiguousarray(array)
            world.Bcast(copy, root=source)
            array[...] = copy


def shard(
    x: ArrayLike, y: ArrayLike, comm: Intracomm | None = None
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """This rank's equal share of ``(x, y)``: rows ``rank, rank + p, rank + 2p, ...``.

    With ``n`` rows and ``p`` ranks every rank gets ``n // p`` rows, taken
    with stride ``p`` (PyTorch's DistributedSampler without shuffling) and
    the last ``n % p`` rows are left out (at most ``p - 1``; its
    ``drop_last``), so that all ranks take the same number of steps. Shuffle
    the rows first if their order is not random. With ``p`` ranks of batch
    ``B``, unshuffled, step ``k`` covers rows ``k pB .. (k + 1) pB - 1``:
    those of one process's step ``k`` with batch ``pB``.

    Returns
    -------
    (x_shard, y_shard) : views of ``x`` and ``y`` (no copy for arrays)
    """
    world = _comm(comm, "shard")
    xa, ya = np.asarray(x), np.asarray(y)
    if xa.ndim == 0 or ya.ndim == 0:
        raise ValueError("shard: x and y must be arrays with a sample axis, got a scalar")
    n = xa.shape[0]
    if ya.shape[0] != n:
        raise ValueError(
            f"shard: x and y have different lengths: x has {n} samples, y has {ya.shape[0]}"
        )
    p, rank = world.Get_size(), world.Get_rank()
    if n < p:
        raise ValueError(f"shard: {n} samples cannot be split over {p} ranks; need at least {p}")
    used = n - n % p
    return xa[rank:used:p], ya[rank:used:p]


class DistributedOptimizer(Optimizer):
    """An optimizer whose every step uses the gradient averaged over all MPI ranks.

    ``step()`` sums each gradient over the ranks (``Allreduce``), divides by
    the number of ranks, then lets the wrapped optimizer step. Since every
    rank then applies the same update to the same weights, they stay equal.
    Everything else is the wrapped optimizer's: ``lr`` (schedules drive it
    through this object), ``state``, :meth:`get_config`, and
    :meth:`state_dict` / :meth:`load_state_dict`, so a checkpoint saved on
    one rank records the wrapped class (``"Adam"``) and loads into a plain
    ``Adam`` in a single process.

    Parameters
    ----------
    optimizer : Optimizer
        A step-by-step optimizer (SGD, Adam, ...) built on this rank's model.
        A full-batch one (LBFGS) is refused: its line search evaluates the
        loss at points of its own choosing.
    comm : mpi4py communicator, optional
        The ranks that train together; ``MPI.COMM_WORLD`` by default.
    abort_on_error : bool
        Install :func:`abort_on_error`, so that an exception on one rank ends
        the job instead of leaving the others waiting.

    Notes
    -----
    The wrapped optimizer packed its parameters into one contiguous buffer
    per dtype, so their gradients tile one buffer too
    (:func:`~layernet.parameter.flat_span`) and the exchange is one
    ``Allreduce`` per dtype; if the parameters have since moved, each
    gradient is reduced on its own. Gradient clipping (``max_grad_norm``)
    applies to the averaged gradient, as in one process. Every rank must take
    the same number of steps (:func:`shard` sees to it for arrays; streamed
    batches must come in the same number on every rank), since each step
    waits for all of them.
    """

    hyperparameters = ()

    def __init__(
        self,
        optimizer: Optimizer,
        comm: Intracomm | None = None,
        *,
        abort_on_error: bool = True,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                "DistributedOptimizer: optimizer must be an Optimizer instance such as "
                f"SGD(model.parameters(), lr=0.1), got {optimizer!r}"
            )
        if isinstance(optimizer, FullBatchOptimizer):
            raise TypeError(
                f"DistributedOptimizer: {type(optimizer).__name__} is a full-batch optimizer "
                "and cannot be distributed step by step; use SGD, Adam, RMSprop or Adagrad"
            )
        if isinstance(optimizer, DistributedOptimizer):
            raise TypeError("DistributedOptimizer: the optimizer is already distributed")
        self.optimizer = optimizer
        self.comm = _comm(comm, "DistributedOptimizer")
        self.size = self.comm.Get_size()
        self.rank = self.comm.Get_rank()
        self.params = optimizer.params
        self._buffers: list[FloatArray] = []
        self._seen: list[FloatArray] = []
        self.allreduce_seconds = 0.0
        """Wall time spent in the gradient ``Allreduce`` so far (for measurements)."""
        if abort_on_error:
            _install_abort(self.comm)

    # -- what the wrapped optimizer owns ----------------------------------------------------

    @property
    def lr(self) -> float:
        """The wrapped optimizer's learning rate."""
        return self.optimizer.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.optimizer.lr = value

    def _set_scheduled_lr(self, value: float) -> None:
        self.optimizer._set_scheduled_lr(value)

    @property
    def initial_lr(self) -> float | None:
        """The wrapped optimizer's ``initial_lr`` (set by the first schedule)."""
        return self.optimizer.initial_lr

    @initial_lr.setter
    def initial_lr(self, value: float | None) -> None:
        self.optimizer.initial_lr = value

    @property
    def state(self) -> dict[Parameter, dict[str, FloatArray]]:
        """The wrapped optimizer's per-parameter state."""
        return self.optimizer.state

    @state.setter
    def state(self, value: dict[Parameter, dict[str, FloatArray]]) -> None:
        self.optimizer.state = value

    @property
    def max_grad_norm(self) -> float | None:
        """The wrapped optimizer's clipping bound, applied to the averaged gradient."""
        return self.optimizer.max_grad_norm

    @max_grad_norm.setter
    def max_grad_norm(self, value: float | None) -> None:
        self.optimizer.max_grad_norm = value

    def get_config(self) -> dict[str, Any]:
        """The wrapped optimizer's hyperparameters."""
        return self.optimizer.get_config()

    def state_dict(self) -> dict[str, Any]:
        """The wrapped optimizer's :meth:`~Optimizer.state_dict` (its class name included)."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a state saved from the wrapped optimizer's class, distributed or not."""
        self.optimizer.load_state_dict(state_dict)

    # -- the exchange -----------------------------------------------------------------------

    def _gradient_buffers(self) -> list[FloatArray]:
        """The arrays to reduce: one flat buffer per dtype, or each gradient where they moved."""
        grads = [p.grad for p in self.params if p.size]
        if len(grads) == len(self._seen) and all(
            g is s for g, s in zip(grads, self._seen, strict=True)
        ):
            return self._buffers
        groups: dict[np.dtype[Any], list[FloatArray]] = {}
        for g in grads:
            groups.setdefault(g.dtype, []).append(g)
        buffers: list[FloatArray] = []
        for group in groups.values():
            flat = flat_span(group)
            buffers.extend([flat] if flat is not None else group)
        self._seen, self._buffers = grads, buffers
        return buffers

    def allreduce_gradients(self) -> None:
        """Replace every ``p.grad`` by its mean over the ranks (what :meth:`step` does first)."""
        MPI = _mpi()
        start = MPI.Wtime()
        scale = 1.0 / self.size
        for buf in self._gradient_buffers():
            if buf.flags.c_contiguous:
                self.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            else:  # a gradient someone rebound to a strided view
                total = np.ascontiguousarray(buf)
                self.comm.Allreduce(MPI.IN_PLACE, total, op=MPI.SUM)
                buf[...] = total
            buf *= scale
        self.allreduce_seconds += MPI.Wtime() - start

    def step(self) -> None:
        """Average the gradients over the ranks, then step the wrapped optimizer."""
        if self.size > 1:
            self.allreduce_gradients()
        self.optimizer.step()

    # -- what fit asks ----------------------------------------------------------------------

    @property
    def is_primary(self) -> bool:
        """Rank 0 prints and writes the files."""
        return bool(self.rank == 0)

    def gather(self, values: FloatArray) -> list[FloatArray]:
        """Every rank's ``values``, in rank order (one ``Allgather``)."""
        mine = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
        if self.size == 1:
            return [mine]
        every = np.empty((self.size, mine.size), dtype=np.float64)
        self.comm.Allgather(mine, every)
        return list(every)

    def global_loss(self, value: float, rows: int) -> float:
        """The mean loss over every rank's batch of this step (NaN if any rank's is)."""
        if self.size == 1:
            return value
        sums = np.array([value * rows, rows], dtype=np.float64)
        self.comm.Allreduce(_mpi().IN_PLACE, sums, op=_mpi().SUM)
        return float(sums[0] / sums[1])

    def __repr__(self) -> str:
        return f"DistributedOptimizer({self.optimizer!r}, ranks={self.size})"
