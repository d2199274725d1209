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
the batch (``{"batch", "size"}`` before it).
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
from typing import Any, TextIO

import numpy as np

from ._validation import check_bool, check_positive_int, check_real
from .layers.base import Layer
from .optimizers import Optimizer
from .serialization import save

Logs = dict[str, Any]


class Callback:
    """Base class: override any of the hooks; each does nothing by default.

    Attributes
    ----------
    stop_training : bool
        Set it to True to end training (reset to False when training begins).
    params : dict
        The run's settings, set before ``on_train_begin``.
    start_rng : numpy.random.Generator or None
        A copy of the run's generator (``fit``'s ``rng``) as it was when
        epoch 0 began, which :class:`ModelCheckpoint` stores so that a
        resumed run replays the same shuffles; None outside a run.
    """

    stop_training: bool = False

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
    return getattr(type(callback), hook) is not getattr(Callback, hook)


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
    def for_fit(cls, callbacks: Iterable[Callback], *, verbose: int) -> CallbackList:
        """The user's callbacks plus ``fit``'s defaults, as Keras adds its own.

        A :class:`TerminateOnNaN` guard unless the user passed one, and a
        :class:`ProgressLogger` when ``verbose`` is 1 (live bar) or 2 (lines).
        """
        result = list(callbacks)
        if not any(isinstance(cb, TerminateOnNaN) for cb in result):
            result.append(TerminateOnNaN())
        if verbose:
            result.append(ProgressLogger(live=verbose == 1))
        return cls(result)


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
        self.wait += 1
        if current + self.min_delta < self.best:
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.stop_training = True
            if self.best_weights is not None:
                self.model.load_state_dict(self.best_weights)

    def on_nonfinite_loss(self, epoch: int, batch: int, value: float) -> None:
        """A NaN or infinite loss stopped training: end at the best epoch, not the last step."""
        self.restore_best()

    def restore_best(self) -> None:
        """Set the model back to the best epoch's weights, if ``restore_best_weights`` kept them."""
        if self.restore_best_weights and self.best_weights is not None:
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
    ``Epoch 3/10 - 0.21s - loss: 0.1234 - accuracy: 0.95 - val_loss: 0.2``.
    With ``live=True`` (``verbose=1``) and a terminal on stdout, an epoch
    that runs longer than ``delay`` seconds also shows a progress bar
    (batches done, running loss) redrawn in place with a carriage return at
    most every ``interval`` seconds; nothing is redrawn when stdout is a
    file or pipe.
    """

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

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if not self._tty or logs is None:
            return
        size = int(logs.get("size", 0))
        self._seen += size
        self._loss_sum += float(logs.get("loss", 0.0)) * size
        now = time.perf_counter()
        if now < self._next_draw:
            return
        self._next_draw = now + self.interval
        self._drawn = True
        self._out.write("\r" + self._bar(batch + 1) + "\x1b[K")
        self._out.flush()

    def _bar(self, done: int) -> str:
        steps = self.params.get("steps")
        loss = self._loss_sum / self._seen if self._seen else math.nan
        head = f"{self._epoch_label()} "
        if steps:
            filled = min(self.width, int(self.width * done / steps))
            arrow = ">" if filled < self.width else ""
            bar = "=" * filled + arrow + "." * (self.width - filled - len(arrow))
            head += f"[{bar}] {done}/{steps}"
        else:
            head += f"{done} batches"
        return f"{head} - loss: {loss:.4g}"

    def _epoch_label(self) -> str:
        return f"Epoch {self._epoch + 1}/{self.params.get('epochs', '?')}"

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        elapsed = time.perf_counter() - self._start
        parts = [f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}", f"{elapsed:.2f}s"]
        parts += [f"{key}: {value:.4g}" for key, value in (logs or {}).items()]
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
