"""Ray Tune: report each epoch of ``fit`` to Tune, with checkpoints it can restore.

Tune runs a *trainable* (a function of the trial's config) once per trial, on
as many processes as the cluster offers; its schedulers stop poor trials
early (ASHA, HyperBand) or copy good ones and change their settings (PBT).
A layernet trainable builds its model from the config, restores the trial's
checkpoint if Tune hands it one, and trains with
:class:`TuneReportCheckpointCallback`::

    def trainable(config):
        model = build(config["width"])
        opt = Adam(model.parameters(), lr=config["lr"])
        done = restore_checkpoint(model, opt)        # 0 unless Tune resumes the trial
        if done >= 20:                               # resumed at its last checkpoint
            return
        opt.lr = config["lr"]                        # PBT may have changed it
        model.fit(x, y, loss=..., optimizer=opt, epochs=20 - done, verbose=0,
                  validation_data=(xv, yv), metrics=["accuracy"],
                  callbacks=[TuneReportCheckpointCallback(initial_epoch=done)])

Ray is imported here only (``pip install "layernet[ray]"``).
"""

from __future__ import annotations

import json
import numbers
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._optional import import_optional
from ..callbacks import Callback, Logs
from ..layers.base import Layer
from ..optimizers import Optimizer
from ..serialization import load, load_optimizer_state, save

__all__ = ["TuneReportCheckpointCallback", "restore_checkpoint"]

MODEL_FILE = "model.npz"
"""The layernet file (model and optimizer, :func:`layernet.save`) in each checkpoint."""

EPOCHS_FILE = "layernet.json"
"""``{"epochs": n}``: how many epochs the trial had trained when the checkpoint was taken."""


def _tune() -> Any:
    return import_optional("ray.tune", "layernet.integrations.ray", "ray", '"ray[tune]"')


class TuneReportCheckpointCallback(Callback):
    """After each epoch, report the logs to Ray Tune, with a checkpoint every ``frequency``.

    Ray's own Keras and LightGBM integrations use this name. Each report
    holds the chosen log entries (all of them by default: ``loss``, metrics,
    ``val_`` entries) and ``epoch``, the epochs trained so far counted from
    1 (from ``initial_epoch + 1`` in a resumed trial); Tune adds its own
    ``training_iteration``. A checkpoint is a directory holding
    ``model.npz`` (the model and the optimizer's state, as written by
    :func:`layernet.save`) and ``layernet.json`` (the epoch count), which
    :func:`restore_checkpoint` reads back.

    Parameters
    ----------
    metrics : sequence of str, optional
        The log keys to report; all by default. A key missing from the logs
        is a ValueError naming the ones there are.
    checkpoint : bool
        Attach a checkpoint to the reports (needed for PBT, and for Tune to
        resume a failed trial).
    frequency : int
        Attach one every ``frequency`` epochs, >= 1.
    initial_epoch : int
        Epochs trained before this ``fit`` (what :func:`restore_checkpoint`
        returned), so ``epoch`` counts on from the checkpoint.

    Notes
    -----
    Call ``fit`` inside a Tune trial: ``ray.tune.report`` raises outside one.
    """

    def __init__(
        self,
        metrics: Sequence[str] | None = None,
        *,
        checkpoint: bool = True,
        frequency: int = 1,
        initial_epoch: int = 0,
    ) -> None:
        super().__init__()
        if isinstance(metrics, str):
            raise TypeError(
                f"TuneReportCheckpointCallback: metrics must be a list of log keys, got "
                f"{metrics!r}; write metrics=[{metrics!r}]"
            )
        if metrics is not None and not all(isinstance(m, str) for m in metrics):
            raise TypeError(
                f"TuneReportCheckpointCallback: metrics must be log keys (str), got {metrics!r}"
            )
        self.metrics = None if metrics is None else list(metrics)
        if not isinstance(checkpoint, bool):
            raise TypeError(
                f"TuneReportCheckpointCallback: checkpoint must be a bool, got {checkpoint!r}"
            )
        self.checkpoint = checkpoint
        for name, value, low in (("frequency", frequency, 1), ("initial_epoch", initial_epoch, 0)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(
                    f"TuneReportCheckpointCallback: {name} must be an int >= {low}, got {value!r}"
                )
        self.frequency = int(frequency)
        self.initial_epoch = int(initial_epoch)

    def report(self, epoch: int, logs: Logs) -> dict[str, float]:
        """The values reported for 0-based ``epoch`` of this fit: chosen logs and ``epoch``."""
        keys = list(logs) if self.metrics is None else self.metrics
        missing = [k for k in keys if k not in logs]
        if missing:
            raise ValueError(
                f"TuneReportCheckpointCallback: {missing} are not among the logged values "
                f"{sorted(logs)}; choose from those (val_ entries need validation data)"
            )
        return {**{k: float(logs[k]) for k in keys}, "epoch": self.initial_epoch + epoch + 1}

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        tune = _tune()
        metrics = self.report(epoch, logs or {})
        if not self.checkpoint or (epoch + 1) % self.frequency:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory() as folder:
            save(self.model, Path(folder) / MODEL_FILE, self.optimizer)
            (Path(folder) / EPOCHS_FILE).write_text(json.dumps({"epochs": metrics["epoch"]}))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    def __repr__(self) -> str:
        return f"TuneReportCheckpointCallback(metrics={self.metrics!r})"


def restore_checkpoint(
    model: Layer, optimizer: Optimizer | None = None, checkpoint: Any = None
) -> int:
    """Load a Tune checkpoint into ``model`` (and ``optimizer``) in place; return its epochs.

    Parameters
    ----------
    model : Layer
        Built as the trial built the one it saved (same architecture).
    optimizer : Optimizer, optional
        Built on ``model.parameters()``; gets the saved state and learning
        rate (set the rate again afterwards when the config may have
        changed it, as PBT does).
    checkpoint : ray.tune.Checkpoint, optional
        By default, the one Tune hands this trial (``ray.tune.get_checkpoint()``),
        if any.

    Returns
    -------
    int
        The epochs trained when the checkpoint was taken; 0 when there is
        none (a fresh trial), and then nothing is changed.
    """
    if not isinstance(model, Layer):
        raise TypeError(f"restore_checkpoint: model must be a Layer, got {type(model).__name__}")
    if checkpoint is None:
        checkpoint = _tune().get_checkpoint()
        if checkpoint is None:
            return 0
    with checkpoint.as_directory() as folder:
        path = Path(folder) / MODEL_FILE
        if not path.exists():
            raise ValueError(
                f"restore_checkpoint: {folder} holds no {MODEL_FILE}; it was not written by "
                "TuneReportCheckpointCallback"
            )
        model.load_state_dict(load(path).state_dict())
        if optimizer is not None:
            load_optimizer_state(path, optimizer)
        return int(json.loads((Path(folder) / EPOCHS_FILE).read_text())["epochs"])
