"""Learning-rate schedules: each one drives an optimizer's ``lr``.

A schedule reads the optimizer's learning rate once, as its base rate
(torch's ``initial_lr``: the first schedule attached records it on the
optimizer, later ones reuse it), sets ``optimizer.lr`` for step 0 at
construction, and sets it again on each :meth:`LRSchedule.step`. Call
``step()`` once per optimizer step or once per epoch: the schedule only
counts calls (``last_epoch``, torch's name for that count).

Every schedule here has a closed form ``lr_at(t)``, so its rate depends on
``t`` alone (torch's chainable and closed forms agree on these schedules).
Chain schedules with :class:`SequentialLR`, e.g. warm-up then cosine::

    warmup = LinearWarmup(opt, warmup_steps=100, start_factor=0.01)
    cosine = CosineAnnealingLR(opt, T_max=900)
    schedule = SequentialLR(opt, [warmup, cosine], milestones=[100])
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from itertools import pairwise

from ._validation import check_positive_int, check_real
from .optimizers import Optimizer


class LRSchedule(ABC):
    """Base schedule: ``lr = lr_at(last_epoch)``, pushed into the optimizer.

    Attributes
    ----------
    optimizer : Optimizer
    base_lr : float
        The rate the schedule scales (the optimizer's ``initial_lr``).
    last_epoch : int
        How many times :meth:`step` has been called.
    """

    optimizer: Optimizer
    base_lr: float
    last_epoch: int

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: optimizer must be an Optimizer, "
                f"got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        if optimizer.initial_lr is None:
            optimizer.initial_lr = optimizer.lr
        self.base_lr = optimizer.initial_lr
        self.last_epoch = 0

    def _start(self) -> None:
        """Apply step 0; subclasses call this at the end of ``__init__``."""
        self._apply()

    @abstractmethod
    def lr_at(self, epoch: int) -> float:
        """The learning rate after ``epoch`` calls of :meth:`step`."""

    def step(self) -> None:
        """Advance one step (or epoch) and set the optimizer's ``lr``."""
        self.last_epoch += 1
        self._apply()

    def _apply(self) -> None:
        self.optimizer._set_scheduled_lr(self.lr_at(self.last_epoch))

    def get_last_lr(self) -> float:
        """The learning rate this schedule set last."""
        return self.lr_at(self.last_epoch)

    def state_dict(self) -> dict[str, float]:
        """``last_epoch`` and ``base_lr``: enough to resume the schedule exactly."""
        return {"last_epoch": self.last_epoch, "base_lr": self.base_lr}

    def load_state_dict(self, state: Mapping[str, float]) -> None:
        """Restore :meth:`state_dict`'s output and set the optimizer's ``lr`` to match."""
        self.last_epoch = int(state["last_epoch"])
        self.base_lr = float(state["base_lr"])
        self._apply()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self.get_last_lr():g})"


class StepLR(LRSchedule):
    """Decay by ``gamma`` every ``step_size`` steps: ``lr = base_lr * gamma ** (t // step_size)``.

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        Steps between decays, positive.
    gamma : float
        Positive factor, 0.1 by default.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        self.step_size = check_positive_int(step_size, "step_size", "StepLR")
        self.gamma = check_real(gamma, "gamma", "StepLR", positive=True)
        self._start()

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRSchedule):
    """Decay by ``gamma`` every step: ``lr = base_lr * gamma ** t``.

    Parameters
    ----------
    optimizer : Optimizer
    gamma : float
        Positive factor.
    """

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        super().__init__(optimizer)
        self.gamma = check_real(gamma, "gamma", "ExponentialLR", positive=True)
        self._start()

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma**epoch


class CosineAnnealingLR(LRSchedule):
    """Cosine annealing (SGDR without restarts), as torch's ``CosineAnnealingLR``.

    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``:
    ``base_lr`` at ``t = 0``, ``eta_min`` at ``t = T_max``, and (as in torch)
    rising again along the same cosine past ``T_max``.

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int
        Steps from the base rate down to ``eta_min``, positive.
    eta_min : float
        The floor, 0 by default (the optimizer accepts 0 from a schedule).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        super().__init__(optimizer)
        self.T_max = check_positive_int(T_max, "T_max", "CosineAnnealingLR")
        self.eta_min = check_real(eta_min, "eta_min", "CosineAnnealingLR")
        if self.eta_min < 0:
            raise ValueError(f"CosineAnnealingLR: eta_min must be >= 0, got {eta_min}")
        self._start()

    def lr_at(self, epoch: int) -> float:
        cosine = (1.0 + math.cos(math.pi * epoch / self.T_max)) / 2.0
        return self.eta_min + (self.base_lr - self.eta_min) * cosine


class LinearWarmup(LRSchedule):
    """Linear warm-up from ``start_factor * base_lr`` to ``base_lr`` (torch's ``LinearLR``).

    ``lr = base_lr * (s + (1 - s) * min(t, warmup_steps) / warmup_steps)``
    with ``s = start_factor``; constant at ``base_lr`` afterwards.

    Parameters
    ----------
    optimizer : Optimizer
    warmup_steps : int
        Steps to reach ``base_lr``, positive (torch's ``total_iters``).
    start_factor : float
        In (0, 1]; torch's default 1/3.
    """

    def __init__(
        self, optimizer: Optimizer, warmup_steps: int, start_factor: float = 1.0 / 3.0
    ) -> None:
        super().__init__(optimizer)
        self.warmup_steps = check_positive_int(warmup_steps, "warmup_steps", "LinearWarmup")
        self.start_factor = check_real(start_factor, "start_factor", "LinearWarmup")
        if not 0.0 < self.start_factor <= 1.0:
            raise ValueError(f"LinearWarmup: start_factor must be in (0, 1], got {start_factor}")
        self._start()

    def lr_at(self, epoch: int) -> float:
        s = self.start_factor
        return self.base_lr * (s + (1.0 - s) * min(epoch, self.warmup_steps) / self.warmup_steps)


class SequentialLR(LRSchedule):
    """Run schedules one after another, switching at the milestones (torch's ``SequentialLR``).

    Schedule ``i`` runs from milestone ``i - 1`` (or 0) on, counting its own
    steps from 0 there: at step ``t`` the rate is ``schedules[i].lr_at(t - m)``
    with ``m`` the last milestone ``<= t``.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer every schedule drives.
    schedules : sequence of LRSchedule
    milestones : sequence of int
        Strictly increasing positive steps, one fewer than the schedules.
    """

    def __init__(
        self, optimizer: Optimizer, schedules: Sequence[LRSchedule], milestones: Sequence[int]
    ) -> None:
        super().__init__(optimizer)
        schedules = list(schedules)
        if not schedules:
            raise ValueError("SequentialLR: schedules is empty; pass at least one schedule")
        for i, schedule in enumerate(schedules):
            if not isinstance(schedule, LRSchedule):
                raise TypeError(
                    f"SequentialLR: schedules[{i}] must be an LRSchedule, "
                    f"got {type(schedule).__name__}"
                )
            if schedule.optimizer is not optimizer:
                raise ValueError(
                    f"SequentialLR: schedules[{i}] drives a different optimizer; build every "
                    "schedule on the optimizer passed to SequentialLR"
                )
        stones = [
            check_positive_int(m, f"milestones[{i}]", "SequentialLR")
            for i, m in enumerate(milestones)
        ]
        if len(stones) != len(schedules) - 1:
            raise ValueError(
                f"SequentialLR: expected {len(schedules) - 1} milestone(s) for "
                f"{len(schedules)} schedules, got {len(stones)}"
            )
        if any(b <= a for a, b in pairwise(stones)):
            raise ValueError(f"SequentialLR: milestones must increase strictly, got {stones}")
        self.schedules = schedules
        self.milestones = stones
        self._start()

    def _locate(self, epoch: int) -> tuple[LRSchedule, int]:
        index = bisect_right(self.milestones, epoch)
        start = self.milestones[index - 1] if index else 0
        return self.schedules[index], epoch - start

    def lr_at(self, epoch: int) -> float:
        schedule, local = self._locate(epoch)
        return schedule.lr_at(local)

    def _apply(self) -> None:
        schedule, local = self._locate(self.last_epoch)
        schedule.last_epoch = local
        super()._apply()
