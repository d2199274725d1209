"""Callbacks: code that ``fit`` runs at the start and end of training, each epoch and batch.

Keras's names and hooks. A callback sees the model (``self.model``), the
optimizer (``self.optimizer``) and the run's settings (``self.params``:
``epochs``, ``steps`` per epoch or None when streaming, ``samples``,
``metrics``, the log keys, and ``greater_is_better`` by key), and stops
training by setting ``self.stop_training = True``; the loop stops after the
current batch (when set in a batch hook) or epoch.

Epochs and batches are numbered from 0 in the hooks, as in Keras; messages
and the progress display count from 1.

``logs`` passed to ``on_epoch_end`` maps ``"loss"``, each metric name and
their ``"val_"`` twins to floats; a callback may add entries (the
LearningRateScheduler adds ``"lr"``) and ``History`` records them all.
Batch hooks get ``{"batch": index, "size": rows, "loss": batch loss}`` after
the batch (``{"batch", "size"}`` before it). The type of these dicts is
:data:`Logs`; annotate a callback's hooks with it to type-check them::

    from layernet.callbacks import Callback, Logs

    class PrintLoss(Callback):
        def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
            print(epoch, (logs or {})["loss"])

``fit(callbacks=[...])`` also takes a learning-rate schedule
(:class:`~layernet.StepLR`...) as it is: it is wrapped in a
:class:`ScheduleCallback` that steps it once per epoch.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, TextIO, TypeAlias

import numpy as np

from ._validation import check_bool, check_positive_int, check_real
from .layers.base import Layer
from .optimizers import Optimizer
from .schedules import LRSchedule
from .serialization import save

Logs: TypeAlias = dict[str, Any]
"""The ``logs`` dict every hook receives: log key (``"loss"``, ``"val_accuracy"``...) to value."""


class Callback:
    """Base class: override any of the hooks; each does nothing by default.

    Attributes
    ----------
    stop_training : bool
        Set it to True to end training (reset to False when training begins).
    params : dict
        The run's settings, set before ``on_train_begin``.
    primary_only : bool
        Class attribute: the callback writes output (prints, files), so when
        several processes train together (:mod:`layernet.distributed`) only
        the primary one runs it. False here; True for :class:`ProgressLogger`,
        :class:`ModelCheckpoint` and :class:`CSVLogger`.
    start_rng : numpy.random.Generator or None
        A copy of the run's generator (``fit``'s ``rng``) as it was when
        epoch 0 began, which :class:`ModelCheckpoint` stores so that a
        resumed run replays the same shuffles; None outside a run.
    """

    stop_training: bool = False
    primary_only: ClassVar[bool] = False

    def __init__(self) -> None:
        self._model: Layer | None = None
        self._optimizer: Optimizer | None = None
        self.params: dict[str, Any] = {}
        self.start_rng: np.random.Generator | None = None
        self.stop_training = False

    def set_context(
        self,
        model: Layer,
        optimizer: Optimizer,
        params: Mapping[str, Any],
        *,
        start_rng: np.random.Generator | None = None,
    ) -> None:
        """Attach the callback to a run (``fit`` calls this before ``on_train_begin``)."""
        self._model = model
        self._optimizer = optimizer
        self.params = dict(params)
        self.start_rng = start_rng
        self.stop_training = False

    @property
    def model(self) -> Layer:
        """The model being trained."""
        if self._model is None:
            raise RuntimeError(f"{type(self).__name__}: not attached to a fit() run yet")
        return self._model

    @property
    def optimizer(self) -> Optimizer:
        """The optimizer of the run."""
        if self._optimizer is None:
            raise RuntimeError(f"{type(self).__name__}: not attached to a fit() run yet")
        return self._optimizer

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Before the first epoch."""

    def on_train_end(self, logs: Logs | None = None) -> None:
        """After the last epoch, after a callback stopped training, or after Ctrl-C.

        When training ended before ``epochs``, ``logs["stop_reason"]`` says
        why (the line the progress display prints).
        """

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Before epoch ``epoch`` (0-based)."""

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """After epoch ``epoch`` with its logs (loss, metrics, val_ entries)."""

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Before batch ``batch`` (0-based within the epoch)."""

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """After batch ``batch``'s optimizer step; ``logs["loss"]`` is that batch's loss."""

    def on_nonfinite_loss(self, epoch: int, batch: int, value: float) -> None:
        """A batch's loss was NaN or infinite; its update was not applied and training stops.

        Every callback hears it, even if one raises (the first exception is
        re-raised after all have run): :class:`TerminateOnNaN` raises or
        stops quietly, :class:`EarlyStopping` restores the best weights.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _overrides(callback: Callback, hook: str) -> bool:
    """Whether ``callback`` does something in ``hook`` (its class overrides it, or it set one)."""
    return getattr(type(callback), hook) is not getattr(Callback, hook) or hook in vars(callback)


class CallbackList:
    """The callbacks of one run, called in order; batch hooks only where overridden."""

    def __init__(self, callbacks: Iterable[Callback]) -> None:
        self.callbacks = list(callbacks)
        self.batch_callbacks = [
            cb
            for cb in self.callbacks
            if _overrides(cb, "on_batch_begin") or _overrides(cb, "on_batch_end")
        ]

    def set_context(
        self,
        model: Layer,
        optimizer: Optimizer,
        params: Mapping[str, Any],
        *,
        start_rng: np.random.Generator | None = None,
    ) -> None:
        for cb in self.callbacks:
            cb.set_context(model, optimizer, params, start_rng=start_rng)

    @property
    def stop_training(self) -> bool:
        return any(cb.stop_training for cb in self.callbacks)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        for cb in self.batch_callbacks:
            cb.on_batch_begin(batch, logs)

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        for cb in self.batch_callbacks:
            cb.on_batch_end(batch, logs)

    def on_nonfinite_loss(self, epoch: int, batch: int, value: float) -> None:
        """Tell every callback, then re-raise the first exception any of them raised."""
        error: BaseException | None = None
        for cb in self.callbacks:
            try:
                cb.on_nonfinite_loss(epoch, batch, value)
            except Exception as exc:  # each callback must hear it, even after one raised
                error = error or exc
        if error is not None:
            raise error

    @classmethod
    def for_fit(
        cls, callbacks: Iterable[Callback], *, verbose: int, primary: bool = True
    ) -> CallbackList:
        """The user's callbacks plus ``fit``'s defaults, as Keras adds its own.

        A :class:`TerminateOnNaN` guard unless the user passed one, and a
        :class:`ProgressLogger` when ``verbose`` is 1 (live bar) or 2 (lines).
        Unless this process is the ``primary`` one of several training
        together, callbacks that are ``primary_only`` are left out.
        """
        result = list(callbacks)
        if not any(isinstance(cb, TerminateOnNaN) for cb in result):
            result.append(TerminateOnNaN())
        if verbose:
            result.append(ProgressLogger(live=verbose == 1))
        return cls(cb for cb in result if primary or not cb.primary_only)


# -- monitoring a logged quantity ------------------------------------------------------

_MODES = ("auto", "min", "max")


def _check_mode(owner: str, mode: str) -> str:
    if mode not in _MODES:
        raise ValueError(f"{owner}: mode must be one of {_MODES}, got {mode!r}")
    return mode


def _check_monitor(owner: str, monitor: object) -> str:
    if not isinstance(monitor, str):
        raise TypeError(
            f"{owner}: monitor must be a str such as 'val_loss', got {type(monitor).__name__}"
        )
    return monitor


def _check_path(owner: str, path: object) -> str | os.PathLike[str]:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{owner}: path must be a str or os.PathLike, got {type(path).__name__}")
    return path


def _check_verbose(owner: str, verbose: object) -> int:
    if isinstance(verbose, bool) or verbose not in (0, 1):
        raise ValueError(f"{owner}: verbose must be 0 (silent) or 1 (print), got {verbose!r}")
    return int(verbose)


def _check_count(owner: str, argument: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {argument} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{owner}: {argument} must be >= 0, got {value}")
    return int(value)


def _maximize(mode: str, monitor: str, params: Mapping[str, Any]) -> bool:
    """Whether larger is better: ``mode``, else what the metric says, else "min"."""
    if mode != "auto":
        return mode == "max"
    return bool(params.get("greater_is_better", {}).get(monitor, False))


def _monitored(owner: str, monitor: str, logs: Logs | None) -> float:
    logs = logs or {}
    if monitor not in logs:
        hint = " (pass validation_data or validation_split)" if monitor.startswith("val_") else ""
        raise ValueError(
            f"{owner}: monitor {monitor!r} is not among the logged values "
            f"{sorted(logs)}{hint}; choose one of those"
        )
    return float(logs[monitor])


class EarlyStopping(Callback):
    """Stop when a monitored quantity has stopped improving (Keras's rule).

    After each epoch, the value improves on the best so far if it beats it by
    more than ``min_delta`` (lower for ``mode="min"``, higher for ``"max"``;
    ``"auto"`` asks the metric, e.g. accuracy and R2 are maximised, losses
    minimised). After ``patience`` epochs in a row without improvement,
    training stops; with ``restore_best_weights`` the model's parameters and
    buffers are then set back to those of the best epoch (as in Keras, only
    when it stops training early: a run that uses all its epochs keeps the
    last weights).

    Parameters
    ----------
    monitor : str
        A key of the epoch logs: ``"val_loss"``, ``"loss"``, ``"val_accuracy"``...
    patience : int
        Epochs without improvement to tolerate, >= 0.
    min_delta : float
        Smallest change that counts as an improvement, >= 0.
    mode : {"auto", "min", "max"}
    restore_best_weights : bool
        Also applied when a NaN or infinite loss stops ``fit`` (see
        :meth:`restore_best`).
    verbose : {0, 1}
        1: print ``"Epoch 7: early stopping"`` when it stops training and
        ``"Restoring model weights from the end of the best epoch: 4."``
        when it restores them (Keras's lines; epochs counted from 1).
    baseline : float, optional
        A value to beat (Keras's ``baseline``): until an epoch improves on it,
        the patience counter is not reset, so training stops after
        ``patience`` epochs if the model never gets better than the baseline.
    start_from_epoch : int
        Epochs to ignore at the start (a warm-up), >= 0: before epoch
        ``start_from_epoch`` (0-based) nothing is compared or counted.

    Attributes
    ----------
    best : float
        The best value seen.
    best_epoch : int
        Its epoch (0-based), -1 before any.
    stopped_epoch : int
        The epoch after which training stopped, -1 if it did not stop early.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        verbose: int = 0,
        baseline: float | None = None,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__()
        self.monitor = _check_monitor("EarlyStopping", monitor)
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral):
            raise TypeError(f"EarlyStopping: patience must be an int, got {patience!r}")
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.patience: int = int(patience)
        self.min_delta: float = check_real(min_delta, "min_delta", "EarlyStopping", low=0)
        self.mode: str = _check_mode("EarlyStopping", mode)
        self.restore_best_weights: bool = check_bool(
            restore_best_weights, "restore_best_weights", "EarlyStopping"
        )
        self.verbose: int = _check_verbose("EarlyStopping", verbose)
        self.baseline: float | None = (
            None if baseline is None else check_real(baseline, "baseline", "EarlyStopping")
        )
        self.start_from_epoch: int = _check_count(
            "EarlyStopping", "start_from_epoch", start_from_epoch
        )
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf
        self.best_epoch = -1
        self.stopped_epoch = -1
        self.wait = 0
        self.best_weights: dict[str, Any] | None = None
        self._sign = 1.0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._reset()
        # Compare sign * value, so that lower is always better.
        self._sign = -1.0 if _maximize(self.mode, self.monitor, self.params) else 1.0

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        current = self._sign * _monitored("EarlyStopping", self.monitor, logs)
        if epoch < self.start_from_epoch:
            return
        self.wait += 1
        if current + self.min_delta < self.best:
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
            # Keras: the count restarts only once the baseline is beaten too
            if self.baseline is None or current + self.min_delta < self._sign * self.baseline:
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.stop_training = True
            self.restore_best()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.stopped_epoch >= 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping", flush=True)

    def on_nonfinite_loss(self, epoch: int, batch: int, value: float) -> None:
        """A NaN or infinite loss stopped training: end at the best epoch, not the last step."""
        self.restore_best()

    def restore_best(self) -> None:
        """Set the model back to the best epoch's weights, if ``restore_best_weights`` kept them."""
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}.",
                    flush=True,
                )
            self.model.load_state_dict(self.best_weights)

    @property
    def best_value(self) -> float:
        """The best monitored value in its own sign."""
        return self._sign * self.best

    def __repr__(self) -> str:
        return f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience})"


class ModelCheckpoint(Callback):
    """Save the model (with the optimizer's state) after each epoch, or when it improves.

    Parameters
    ----------
    path : str or os.PathLike
        May hold ``str.format`` fields: ``{epoch}`` (counted from 1) and any
        log key, e.g. ``"ckpt-{epoch:03d}-{val_loss:.3f}.npz"``.
    monitor : str
        The log key compared when ``save_best_only``.
    save_best_only : bool
        Save only when ``monitor`` improves on the best so far.
    mode : {"auto", "min", "max"}
    save_optimizer : bool
        Also store the optimizer's state, so training resumes exactly
        (see :func:`layernet.load_optimizer_state`).
    initial_value_threshold : float, optional
        The best value so far when training begins (Keras's argument), for
        ``save_best_only``: a resumed run passes the best value of the first
        run, so that its first epoch does not overwrite a better file.

    Notes
    -----
    Files are written with :func:`layernet.save`, atomically: an
    interrupted save (a second Ctrl-C, a full disk) leaves the earlier
    file whole. Each file also carries what a resumed run needs besides
    the weights and the optimizer: the epochs completed and the run's
    generator as epoch 0 found it (:func:`layernet.load_training_state`),
    and the state of every generator in the model (Dropout's masks), which
    :func:`layernet.load` restores. A resumed run (``fit(...,
    initial_epoch=k)``) continues the numbering: its first file is epoch
    ``k + 1``.
    """

    primary_only = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        save_optimizer: bool = True,
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__()
        self.path = os.fspath(_check_path("ModelCheckpoint", path))
        self.monitor = _check_monitor("ModelCheckpoint", monitor)
        self.save_best_only = check_bool(save_best_only, "save_best_only", "ModelCheckpoint")
        self.mode = _check_mode("ModelCheckpoint", mode)
        self.save_optimizer = check_bool(save_optimizer, "save_optimizer", "ModelCheckpoint")
        self.initial_value_threshold = (
            None
            if initial_value_threshold is None
            else check_real(initial_value_threshold, "initial_value_threshold", "ModelCheckpoint")
        )
        self.best = math.inf
        self._sign = 1.0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._sign = -1.0 if _maximize(self.mode, self.monitor, self.params) else 1.0
        threshold = self.initial_value_threshold
        self.best = math.inf if threshold is None else self._sign * threshold

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self.save_best_only:
            current = self._sign * _monitored("ModelCheckpoint", self.monitor, logs)
            if not current < self.best:
                return
            self.best = current
        try:
            path = self.path.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"ModelCheckpoint: cannot fill in the path {self.path!r} "
                f"(fields: epoch, {', '.join(sorted(logs))}): {exc!r}"
            ) from None
        optimizer = self.optimizer if self.save_optimizer else None
        save(self.model, path, optimizer, epoch=epoch + 1, rng=self.start_rng)

    def __repr__(self) -> str:
        return f"ModelCheckpoint({self.path!r}, monitor={self.monitor!r})"


class LearningRateScheduler(Callback):
    """Set ``optimizer.lr = schedule(epoch, lr)`` before each epoch (Keras's signature).

    Parameters
    ----------
    schedule : callable (epoch: int, lr: float) -> float
        Gets the 0-based epoch and the current learning rate.

    Notes
    -----
    The learning rate of each epoch is logged as ``"lr"``.
    """

    def __init__(self, schedule: Callable[[int, float], float]) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                f"LearningRateScheduler: schedule must be callable (epoch, lr) -> lr, "
                f"got {type(schedule).__name__}"
            )
        self.schedule = schedule

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        lr = self.schedule(epoch, self.optimizer.lr)
        try:
            self.optimizer.lr = lr
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"LearningRateScheduler: the schedule returned {lr!r} for epoch {epoch}: {exc}"
            ) from None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if logs is not None:
            logs["lr"] = self.optimizer.lr


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when a monitored value stops improving.

    Keras's rule: after each epoch, the value improves if it beats the best
    so far by more than ``min_delta``; after ``patience`` epochs in a row
    without improvement, ``lr`` becomes ``max(lr * factor, min_lr)`` (nothing
    happens once it is at ``min_lr``), the count restarts, and the
    reduction's epoch plus the next ``cooldown - 1`` are not counted. The
    rate each epoch trained with is logged as ``"lr"``. torch's
    ``ReduceLROnPlateau(threshold_mode="abs")`` counts differently: its
    ``patience=p`` reduces after ``p + 1`` bad epochs, as ``patience=p + 1``
    does here (without cooldown).

    Parameters
    ----------
    monitor : str
        A key of the epoch logs, ``"val_loss"`` by default.
    factor : float
        In (0, 1): the new rate is ``lr * factor``.
    patience : int
        Epochs without improvement before reducing, >= 0 (10 by default).
    min_delta : float
        Smallest change that counts as an improvement, >= 0 (1e-4).
    cooldown : int
        Epochs to wait after a reduction before counting again, >= 0.
    min_lr : float
        The rate never goes below this, >= 0.
    mode : {"auto", "min", "max"}
        ``"auto"`` asks the metric (accuracy is maximised, losses minimised).
    verbose : {0, 1}
        1: print ``"Epoch 12: ReduceLROnPlateau reducing learning rate to 0.001."``.

    Attributes
    ----------
    best : float
        The best value seen, in its own sign.
    wait : int
        Epochs since the last improvement.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        mode: str = "auto",
        verbose: int = 0,
    ) -> None:
        super().__init__()
        owner = "ReduceLROnPlateau"
        self.monitor = _check_monitor(owner, monitor)
        self.factor: float = check_real(factor, "factor", owner, positive=True)
        if not self.factor < 1.0:
            raise ValueError(f"{owner}: factor must be in (0, 1) to reduce the rate, got {factor}")
        self.patience: int = _check_count(owner, "patience", patience)
        self.min_delta: float = check_real(min_delta, "min_delta", owner, low=0)
        self.cooldown: int = _check_count(owner, "cooldown", cooldown)
        self.min_lr: float = check_real(min_lr, "min_lr", owner, low=0)
        self.mode: str = _check_mode(owner, mode)
        self.verbose: int = _check_verbose(owner, verbose)
        self._sign = 1.0
        self._best = math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._sign = -1.0 if _maximize(self.mode, self.monitor, self.params) else 1.0
        self._best = math.inf
        self.wait = 0
        self.cooldown_counter = 0

    @property
    def best(self) -> float:
        return self._sign * self._best

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        current = self._sign * _monitored("ReduceLROnPlateau", self.monitor, logs)
        if logs is not None:
            logs["lr"] = self.optimizer.lr
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if current + self.min_delta < self._best:
            self._best, self.wait = current, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        lr = self.optimizer.lr
        if lr > self.min_lr:
            new_lr = max(lr * self.factor, self.min_lr)
            self.optimizer._set_scheduled_lr(new_lr)
            if self.verbose:
                print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr:g}.")
            self.cooldown_counter = self.cooldown
            self.wait = 0

    def __repr__(self) -> str:
        return (
            f"ReduceLROnPlateau(monitor={self.monitor!r}, factor={self.factor}, "
            f"patience={self.patience})"
        )


class LambdaCallback(Callback):
    """A callback from plain functions (Keras's ``LambdaCallback``).

    Each function gets what the hook gets: ``on_epoch_begin(epoch, logs)``,
    ``on_epoch_end(epoch, logs)``, ``on_batch_begin(batch, logs)``,
    ``on_batch_end(batch, logs)``, ``on_train_begin(logs)``,
    ``on_train_end(logs)``. Hooks left as None do nothing (and a callback
    with no batch function costs the loop nothing per batch).

    Examples
    --------
    >>> losses = []
    >>> record = LambdaCallback(on_epoch_end=lambda epoch, logs: losses.append(logs["loss"]))
    """

    def __init__(
        self,
        on_epoch_begin: Callable[[int, Logs | None], object] | None = None,
        on_epoch_end: Callable[[int, Logs | None], object] | None = None,
        on_batch_begin: Callable[[int, Logs | None], object] | None = None,
        on_batch_end: Callable[[int, Logs | None], object] | None = None,
        on_train_begin: Callable[[Logs | None], object] | None = None,
        on_train_end: Callable[[Logs | None], object] | None = None,
    ) -> None:
        super().__init__()
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_batch_begin": on_batch_begin,
            "on_batch_end": on_batch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
        }
        for hook, function in hooks.items():
            if function is None:
                continue
            if not callable(function):
                raise TypeError(
                    f"LambdaCallback: {hook} must be a function or None, "
                    f"got {type(function).__name__}"
                )
            setattr(self, hook, function)  # an instance attribute: CallbackList sees it

    def __repr__(self) -> str:
        given = [name for name in vars(self) if name.startswith("on_")]
        return f"LambdaCallback({', '.join(given)})"


_INTERVALS = ("epoch", "batch")


class ScheduleCallback(Callback):
    """Step a learning-rate schedule during ``fit``: once per epoch, or once per batch.

    ``fit(callbacks=[schedule])`` wraps a bare schedule in one of these (per
    epoch, as torch's examples step it). The schedule set the rate of step 0
    when it was built; after each epoch (or batch) it is stepped, so epoch
    ``e`` trains with ``schedule.lr_at(e)``. The rate each epoch trained
    with is logged as ``"lr"``.

    Parameters
    ----------
    schedule : LRSchedule
        Built on the optimizer ``fit`` trains with.
    interval : {"epoch", "batch"}
        Step after every epoch, or after every batch (for a warm-up counted
        in optimizer steps).
    """

    def __init__(self, schedule: LRSchedule, interval: str = "epoch") -> None:
        super().__init__()
        if not isinstance(schedule, LRSchedule):
            raise TypeError(
                f"ScheduleCallback: schedule must be an LRSchedule such as "
                f"StepLR(optimizer, step_size=10), got {type(schedule).__name__}"
            )
        if interval not in _INTERVALS:
            raise ValueError(
                f"ScheduleCallback: interval must be one of {_INTERVALS}, got {interval!r}"
            )
        self.schedule = schedule
        self.interval = interval
        self._epoch_lr = schedule.optimizer.lr
        if interval == "batch":
            self.on_batch_end = self._step_batch  # type: ignore[method-assign]

    def on_train_begin(self, logs: Logs | None = None) -> None:
        if self.schedule.optimizer is not self.optimizer:
            raise ValueError(
                f"ScheduleCallback: {self.schedule!r} drives another optimizer than the one "
                "fit trains with; build the schedule on fit's optimizer"
            )

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._epoch_lr = self.optimizer.lr

    def _step_batch(self, batch: int, logs: Logs | None = None) -> None:
        self.schedule.step()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if logs is not None:
            logs["lr"] = self._epoch_lr
        if self.interval == "epoch":
            self.schedule.step()

    def __repr__(self) -> str:
        return f"ScheduleCallback({self.schedule!r}, interval={self.interval!r})"


def as_callback(item: object, position: int) -> Callback:
    """``item`` as a callback for ``fit``: a Callback itself, a schedule wrapped per epoch.

    Anything else is a TypeError naming ``callbacks[position]`` and what to pass.
    """
    if isinstance(item, Callback):
        return item
    if isinstance(item, LRSchedule):
        return ScheduleCallback(item)
    hint = ""
    if callable(item):
        hint = (
            "; for a function (epoch, lr) -> lr, pass LearningRateScheduler(function), and "
            "for functions run at each epoch, LambdaCallback(on_epoch_end=...)"
        )
    elif isinstance(item, type):
        hint = "; pass an instance: call the class"
    raise TypeError(
        f"fit: callbacks[{position}] must be a Callback or a learning-rate schedule, "
        f"got {type(item).__name__}{hint}"
    )


class TerminateOnNaN(Callback):
    """Stop at the first batch whose loss is NaN or infinite, before its step is applied.

    ``fit`` includes one by default; the loop checks each batch's loss (one
    float comparison) before ``backward`` and ``step``, so the parameters keep
    the values of the last finite step. (Buffers updated by that batch's
    forward pass, such as BatchNorm's running statistics, are not rolled
    back.) Pass your own instance to choose the behaviour.

    Parameters
    ----------
    raise_error : bool
        True (default): raise a RuntimeError naming the epoch and batch.
        False: stop training quietly, as Keras does.
    """

    def __init__(self, raise_error: bool = True) -> None:
        super().__init__()
        self.raise_error = check_bool(raise_error, "raise_error", "TerminateOnNaN")
        self.tripped: tuple[int, int, float] | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.tripped = None

    def on_nonfinite_loss(self, epoch: int, batch: int, value: float) -> None:
        """Raise (or stop quietly) with 0-based ``epoch`` and ``batch`` named from 1."""
        self.tripped = (epoch, batch, value)
        steps = self.params.get("steps")
        epochs = self.params.get("epochs")
        where = f"epoch {epoch + 1}" + (f"/{epochs}" if epochs else "")
        where += f", batch {batch + 1}" + (f"/{steps}" if steps else "")
        if self.raise_error:
            raise RuntimeError(
                f"fit: the loss is {value} at {where}; training stopped and that batch's update "
                "was not applied, so the parameters hold the last finite step. Lower the "
                "learning rate or check the data for extreme values"
            )
        self.stop_training = True


class CSVLogger(Callback):
    """Append each epoch's logs to a CSV file: an ``epoch`` column (0-based), then sorted keys.

    Parameters
    ----------
    path : str or os.PathLike
    separator : str
    append : bool or None
        True: keep an existing file's rows and header. False: start
        afresh. None (default): append when the run resumes
        (``fit(..., initial_epoch=k)`` with ``k > 0``), start afresh
        otherwise. When appending to a resumed run, rows of epochs ``k``
        and later (written by a first run that went on past the
        checkpoint it resumes from) are dropped, so the file reads as one
        uninterrupted run.

    Notes
    -----
    Each epoch's row is written with one system call on a file opened for
    appending, so a Ctrl-C (even a second one) never leaves half a row;
    dropping rows replaces the file atomically (a temporary file renamed
    over it).
    """

    primary_only = True

    def __init__(
        self, path: str | os.PathLike[str], separator: str = ",", append: bool | None = None
    ) -> None:
        super().__init__()
        self.path = Path(_check_path("CSVLogger", path))
        if not isinstance(separator, str) or len(separator) != 1:
            got = repr(separator) if isinstance(separator, str) else type(separator).__name__
            error = ValueError if isinstance(separator, str) else TypeError
            raise error(f"CSVLogger: separator must be one character, got {got}")
        self.separator = separator
        self.append = None if append is None else check_bool(append, "append", "CSVLogger")
        self._keys: list[str] | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._keys = None
        first = int(self.params.get("initial_epoch", 0))
        append = first > 0 if self.append is None else self.append
        if not append:
            _replace_text(self.path, "")
            return
        if not self.path.exists():
            return
        with self.path.open(newline="") as handle:
            rows = list(csv.reader(handle, delimiter=self.separator))
        if not rows:
            return
        self._keys = rows[0]
        if first > 0 and rows[0][:1] == ["epoch"]:
            kept = [rows[0], *(r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) < first)]
            if len(kept) < len(rows):
                _replace_text(self.path, self._format(kept))

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        rows = []
        if self._keys is None:
            self._keys = ["epoch", *sorted(logs)]
            rows.append(self._keys)
        values = {"epoch": epoch, **logs}
        rows.append([str(values.get(key, "")) for key in self._keys])
        data = self._format(rows).encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, data)  # one call: an interrupt lands before or after it
        finally:
            os.close(fd)

    def _format(self, rows: Iterable[list[str]]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=self.separator).writerows(rows)
        return buffer.getvalue()

    def __repr__(self) -> str:
        return f"CSVLogger({str(self.path)!r})"


def _replace_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temporary file renamed over it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ProgressLogger(Callback):
    """The display of ``verbose=1`` (and ``2``): one line per epoch, a live bar on a terminal.

    Each epoch ends with a line such as
    ``Epoch 3/10 - 0.21s - 26ms/step - loss: 0.1234 - accuracy: 0.9500 - val_loss: 0.2000``:
    the epoch's time (validation included), the time per training step, and
    the logs. With ``live=True`` (``verbose=1``) and a terminal on stdout, an
    epoch that runs longer than ``delay`` seconds also shows a progress bar
    (batches done, the estimated time left, the time per step, the running
    loss) redrawn in place with a carriage return at most every ``interval``
    seconds; nothing is redrawn when stdout is a file or pipe.

    Numbers have a fixed width, so successive lines align (Keras's rule):
    four decimals, or four significant digits in exponent form below 1e-3
    (``1.2346e-05``); durations in whole ``s``, ``ms`` or ``us`` per step,
    and the time left as ``42s``, ``3:07`` or ``1:02:03``.
    """

    primary_only = True

    def __init__(
        self,
        live: bool = True,
        *,
        stream: TextIO | None = None,
        delay: float = 0.5,
        interval: float = 0.1,
        width: int = 30,
    ) -> None:
        super().__init__()
        self.live = check_bool(live, "live", "ProgressLogger")
        self._stream = stream
        self.delay = check_real(delay, "delay", "ProgressLogger")
        self.interval = check_real(interval, "interval", "ProgressLogger")
        for name, value in (("delay", self.delay), ("interval", self.interval)):
            if value < 0:
                raise ValueError(f"ProgressLogger: {name} must be >= 0, got {value}")
        self.width = check_positive_int(width, "width", "ProgressLogger")
        self._out: TextIO = sys.stdout
        self._tty = False
        self._start = 0.0
        self._next_draw = 0.0
        self._drawn = False
        self._seen = 0
        self._loss_sum = 0.0
        self._epoch = 0
        self._steps = 0
        self._train_seconds = 0.0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._out = self._stream if self._stream is not None else sys.stdout
        isatty = getattr(self._out, "isatty", None)
        self._tty = self.live and callable(isatty) and bool(isatty())

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._epoch = epoch
        self._start = time.perf_counter()
        self._next_draw = self._start + self.delay
        self._drawn = False
        self._seen = 0
        self._loss_sum = 0.0
        self._steps = 0
        self._train_seconds = 0.0

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._steps = batch + 1
        now = time.perf_counter()
        self._train_seconds = now - self._start
        if not self._tty or logs is None:
            return
        size = int(logs.get("size", 0))
        self._seen += size
        self._loss_sum += float(logs.get("loss", 0.0)) * size
        if now < self._next_draw:
            return
        self._next_draw = now + self.interval
        self._drawn = True
        self._out.write("\r" + self._bar(batch + 1) + "\x1b[K")
        self._out.flush()

    def _bar(self, done: int) -> str:
        steps = self.params.get("steps")
        loss = self._loss_sum / self._seen if self._seen else math.nan
        per_step = self._train_seconds / done
        head = f"{self._epoch_label()} "
        if steps:
            filled = min(self.width, int(self.width * done / steps))
            arrow = ">" if filled < self.width else ""
            bar = "=" * filled + arrow + "." * (self.width - filled - len(arrow))
            head += f"[{bar}] {done:>{len(str(steps))}}/{steps}"
            head += f" - ETA: {_format_eta(per_step * max(steps - done, 0))}"
        else:
            head += f"{done} batches"
        return f"{head} - {_format_per_step(per_step)} - loss: {_format_value(loss)}"

    def _epoch_label(self) -> str:
        return f"Epoch {self._epoch + 1}/{self.params.get('epochs', '?')}"

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        elapsed = time.perf_counter() - self._start
        parts = [f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}", f"{elapsed:.2f}s"]
        if self._steps:
            parts.append(_format_per_step(self._train_seconds / self._steps))
        parts += [f"{key}: {_format_value(value)}" for key, value in (logs or {}).items()]
        prefix = "\r\x1b[K" if self._drawn else ""
        self._out.write(prefix + " - ".join(parts) + "\n")
        self._out.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        """Say why training ended early (a callback stopped it, or Ctrl-C), if it did."""
        reason = (logs or {}).get("stop_reason")
        if reason:
            prefix = "\r\x1b[K" if self._drawn else ""
            self._out.write(f"{prefix}{reason}\n")
            self._out.flush()


def _format_value(value: float) -> str:
    """Keras's fixed-width rule: ``0.1234``, or ``1.2346e-05`` below 1e-3 in magnitude."""
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def _format_per_step(seconds: float) -> str:
    """``2s/step``, ``26ms/step`` or ``310us/step``."""
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def _format_eta(seconds: float) -> str:
    """``42s``, ``3:07`` or ``1:02:03``, as Keras shows the time left."""
    whole = round(seconds)
    if whole >= 3600:
        return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    if whole >= 60:
        return f"{whole // 60}:{whole % 60:02d}"
    return f"{whole}s"
