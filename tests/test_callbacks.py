"""Callbacks: hooks and the stop flag, EarlyStopping, ModelCheckpoint, schedules, NaN, CSV."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import layernet
from layernet import (
    SGD,
    Callback,
    CSVLogger,
    Dense,
    EarlyStopping,
    FloatArray,
    LearningRateScheduler,
    Loss,
    ModelCheckpoint,
    MSELoss,
    Sequential,
    Sigmoid,
    TerminateOnNaN,
)


def make_model(seed: int = 0) -> Sequential:
    return Sequential([Dense(2, 6, rng=seed), Sigmoid(), Dense(6, 1, rng=seed + 1)])


@pytest.fixture
def data() -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 2))
    return x, x[:, :1] - 0.5 * x[:, 1:]


class Recorder(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.calls.append(("train_begin", self.params["epochs"]))

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.calls.append(("train_end", None))

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.calls.append(("epoch_end", sorted(logs or {})))

    def on_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.calls.append(("batch_begin", batch))

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        assert logs is not None
        self.calls.append(("batch_end", (batch, logs["size"], np.isfinite(logs["loss"]))))


def test_hooks_run_in_order_with_model_and_optimizer(data: Any) -> None:
    x, y = data
    model = make_model()
    opt = SGD(model.parameters(), lr=0.1)
    rec = Recorder()
    model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=2, batch_size=10, callbacks=[rec],
              verbose=0, validation_split=0.25, rng=0)  # fmt: skip
    batches = [
        ("batch_begin", 0), ("batch_end", (0, 10, True)),
        ("batch_begin", 1), ("batch_end", (1, 8, True)),
    ]  # fmt: skip
    epoch_end = ("epoch_end", ["loss", "val_loss"])
    assert rec.calls == [
        ("train_begin", 2),
        ("epoch_begin", 0), *batches, epoch_end,
        ("epoch_begin", 1), *batches, epoch_end,
        ("train_end", None),
    ]  # fmt: skip
    assert rec.model is model
    assert rec.optimizer is opt


def test_a_callback_stops_training_with_the_flag(data: Any) -> None:
    x, y = data

    class StopAfterThreeBatches(Callback):
        def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            if batch == 2:
                self.stop_training = True

    class StopAfterEpochTwo(Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.stop_training = epoch == 1

    model = make_model()
    history = model.fit(x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1),
                        epochs=10, callbacks=[StopAfterEpochTwo()], verbose=0)  # fmt: skip
    assert history.epoch == [0, 1]
    before = [p.value.copy() for p in model.parameters()]
    opt = SGD(model.parameters(), lr=0.1)
    history = model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=10, batch_size=2,
                        callbacks=[StopAfterThreeBatches()], verbose=0, shuffle=False)  # fmt: skip
    assert history.epoch == []  # stopped inside the first epoch, which is not recorded
    manual = make_model()
    manual.load_state_dict(dict(zip(manual.state_dict(), before, strict=True)))
    manual_opt, loss = SGD(manual.parameters(), lr=0.1), MSELoss()
    for start in (0, 2, 4):
        loss.forward(manual.forward(x[start : start + 2], training=True), y[start : start + 2])
        manual.backward(loss.backward())
        manual_opt.step()
    for got, want in zip(model.parameters(), manual.parameters(), strict=True):
        np.testing.assert_array_equal(got.value, want.value)


def test_callback_before_fit_has_no_model() -> None:
    with pytest.raises(RuntimeError, match="Callback: not attached to a fit"):
        _ = Callback().model


# -- EarlyStopping ---------------------------------------------------------------------


def run_monitored(cb: Callback, values: list[float], key: str = "val_loss") -> list[int]:
    """Feed ``values`` as the monitored quantity; return the epochs that ran."""
    model = make_model()
    cb.set_context(model, SGD(model.parameters(), lr=0.1), {"greater_is_better": {}})
    cb.on_train_begin()
    ran = []
    for epoch, value in enumerate(values):
        model[0].weight.value[...] = value  # type: ignore[attr-defined]
        cb.on_epoch_end(epoch, {key: value})
        ran.append(epoch)
        if cb.stop_training:
            break
    return ran


def test_early_stopping_patience_and_min_delta() -> None:
    assert run_monitored(EarlyStopping(patience=0), [3.0, 2.0, 2.5, 1.0]) == [0, 1, 2]
    assert run_monitored(EarlyStopping(patience=2), [3.0, 2.0, 2.5, 2.1, 1.0]) == [0, 1, 2, 3]
    assert run_monitored(EarlyStopping(patience=2), [3.0, 2.0, 2.5, 1.0, 1.5]) == [0, 1, 2, 3, 4]
    stopper = EarlyStopping(patience=1, min_delta=0.5)
    assert run_monitored(stopper, [3.0, 2.8, 2.6, 1.0]) == [0, 1]
    assert stopper.best_epoch == 0
    assert stopper.stopped_epoch == 1


def test_early_stopping_modes() -> None:
    assert run_monitored(EarlyStopping("acc", mode="max"), [0.5, 0.7, 0.6], "acc") == [0, 1, 2]
    assert run_monitored(EarlyStopping("acc", mode="min"), [0.5, 0.7, 0.6], "acc") == [0, 1]


def test_early_stopping_restores_the_best_weights() -> None:
    stopper = EarlyStopping(patience=1, restore_best_weights=True)
    run_monitored(stopper, [3.0, 1.0, 2.0, 4.0])
    model = stopper.model
    assert isinstance(model, Sequential)
    np.testing.assert_array_equal(model[0].weight.value, 1.0)  # type: ignore[attr-defined]
    assert stopper.best_value == 1.0


def test_early_stopping_in_fit_maximises_accuracy_automatically(data: Any) -> None:
    x, y = data
    labels = (y > 0).astype(np.float64)
    model = Sequential([Dense(2, 1, rng=0), Sigmoid()])
    stopper = EarlyStopping("val_accuracy", patience=2)
    history = model.fit(x, labels, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.5),
                        epochs=200, metrics=["accuracy"], validation_data=(x, labels),
                        callbacks=[stopper], verbose=0, rng=0)  # fmt: skip
    accuracy = history.history["val_accuracy"]
    assert stopper.best_value == max(accuracy)  # maximised: accuracy says greater is better
    assert history.epoch[-1] == stopper.stopped_epoch == stopper.best_epoch + 2
    assert len(accuracy) < 200


def test_early_stopping_names_a_missing_monitor(data: Any) -> None:
    x, y = data
    model = make_model()
    with pytest.raises(ValueError, match=r"monitor 'val_loss' is not among the logged values "
                                         r"\['loss'\] \(pass validation_data"):  # fmt: skip
        model.fit(x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1), epochs=2,
                  callbacks=[EarlyStopping()], verbose=0)  # fmt: skip


def test_early_stopping_validates_its_arguments() -> None:
    with pytest.raises(ValueError, match="patience must be >= 0, got -1"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match=r"min_delta must be >= 0, got -0\.1"):
        EarlyStopping(min_delta=-0.1)
    with pytest.raises(ValueError, match=r"mode must be one of \('auto', 'min', 'max'\)"):
        EarlyStopping(mode="up")


# -- ModelCheckpoint -------------------------------------------------------------------


def test_model_checkpoint_every_epoch_with_a_path_template(tmp_path: Path, data: Any) -> None:
    x, y = data
    model = make_model()
    template = str(tmp_path / "ckpt-{epoch:02d}-{loss:.3f}.npz")
    history = model.fit(x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1),
                        epochs=3, callbacks=[ModelCheckpoint(template)], verbose=0)  # fmt: skip
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"ckpt-{e + 1:02d}-{history.history['loss'][e]:.3f}.npz" for e in range(3)]
    last = layernet.load(tmp_path / names[-1], expect=Sequential)
    np.testing.assert_array_equal(last.predict(x), model.predict(x))


def test_model_checkpoint_saves_only_improvements(tmp_path: Path) -> None:
    path = tmp_path / "best.npz"
    cb = ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    saved = []
    model = make_model()
    cb.set_context(model, SGD(model.parameters(), lr=0.1), {})
    cb.on_train_begin()
    for epoch, value in enumerate([3.0, 2.0, 2.5, 1.0]):
        model[0].weight.value[...] = value  # type: ignore[attr-defined]
        cb.on_epoch_end(epoch, {"val_loss": value})
        saved.append(float(layernet.load(path, expect=Sequential)[0].weight.value[0, 0]))  # type: ignore[attr-defined]
    assert saved == [3.0, 2.0, 2.0, 1.0]
    bad = ModelCheckpoint(tmp_path / "{nope}.npz")
    bad.set_context(model, SGD(model.parameters(), lr=0.1), {})
    with pytest.raises(ValueError, match="cannot fill in the path"):
        bad.on_epoch_end(0, {"loss": 1.0})


# -- LearningRateScheduler -------------------------------------------------------------


def test_learning_rate_scheduler_sets_lr_before_each_epoch(data: Any) -> None:
    x, y = data
    model = make_model()
    opt = SGD(model.parameters(), lr=0.4)
    seen: list[float] = []

    class Watch(Callback):
        def on_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            seen.append(self.optimizer.lr)

    sched = LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)
    history = model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=3, batch_size=24,
                        callbacks=[sched, Watch()], verbose=0)  # fmt: skip
    assert seen == [0.4, 0.2, 0.1]
    assert history.history["lr"] == [0.4, 0.2, 0.1]
    bad = LearningRateScheduler(lambda epoch, lr: -1.0)
    with pytest.raises(ValueError, match=r"schedule returned -1\.0 for epoch 0: .*lr must be pos"):
        model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=1, callbacks=[bad], verbose=0)


# -- TerminateOnNaN --------------------------------------------------------------------


class NaNAt(MSELoss):
    """MSE that reports NaN on its ``k``-th training call."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k, self.calls = k, 0

    def forward(self, pred: FloatArray, target: Any) -> float:
        self.calls += 1
        value = super().forward(pred, target)
        return float("nan") if self.calls == self.k else value


def test_a_nan_loss_stops_with_an_error_naming_epoch_and_batch(data: Any) -> None:
    x, y = data
    model = make_model()
    loss: Loss = NaNAt(k=7)  # epoch 2 (5 batches each), batch 2
    snapshots: list[list[FloatArray]] = []

    class Snapshot(Callback):
        def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            snapshots.append([p.value.copy() for p in self.model.parameters()])

    with pytest.raises(RuntimeError, match=r"loss is nan at epoch 2/4, batch 2/5.*not applied"):
        model.fit(x, y, loss=loss, optimizer=SGD(model.parameters(), lr=0.1), epochs=4,
                  batch_size=5, callbacks=[Snapshot()], verbose=0)  # fmt: skip
    assert len(snapshots) == 6
    for got, want in zip(model.parameters(), snapshots[-1], strict=True):
        np.testing.assert_array_equal(got.value, want)


def test_terminate_on_nan_can_stop_quietly(data: Any) -> None:
    x, y = data
    model = make_model()
    history = model.fit(x, y, loss=NaNAt(k=7), optimizer=SGD(model.parameters(), lr=0.1),
                        epochs=4, batch_size=5, callbacks=[TerminateOnNaN(raise_error=False)],
                        verbose=0)  # fmt: skip
    assert history.epoch == [0]
    assert all(np.isfinite(p.value).all() for p in model.parameters())


def test_a_diverging_model_is_caught(data: Any) -> None:
    x, y = data
    model = Sequential([Dense(2, 1, rng=0)])
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.raises(RuntimeError, match=r"loss is (inf|nan) at epoch \d+/50, batch \d+/1"),
    ):
        model.fit(x * 1e3, y * 1e3, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=10.0),
                  epochs=50, batch_size=24, verbose=0)  # fmt: skip
    assert all(np.isfinite(p.value).all() for p in model.parameters())


# -- CSVLogger -------------------------------------------------------------------------


def test_csv_logger_writes_one_row_per_epoch(tmp_path: Path, data: Any) -> None:
    x, y = data
    path = tmp_path / "log.csv"
    model = make_model()
    history = model.fit(x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1),
                        epochs=3, metrics=["mae"], callbacks=[CSVLogger(path)],
                        validation_split=0.25, verbose=0, rng=0)  # fmt: skip
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [float(r["val_mae"]) for r in rows] == history.history["val_mae"]
    model.fit(x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1), epochs=2,
              metrics=["mae"], callbacks=[CSVLogger(path, append=True)], verbose=0,
              validation_split=0.25)  # fmt: skip
    with path.open() as handle:
        assert len(list(csv.DictReader(handle))) == 5
