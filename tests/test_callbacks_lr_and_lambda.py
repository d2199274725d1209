"""ReduceLROnPlateau, LambdaCallback, schedules in callbacks=[...], EarlyStopping's extras, Logs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from layernet import (
    SGD,
    Callback,
    CosineAnnealingLR,
    EarlyStopping,
    LambdaCallback,
    LinearWarmup,
    Logs,
    MSELoss,
    ReduceLROnPlateau,
    ScheduleCallback,
    StepLR,
)
from layernet.callbacks import CallbackList
from test_callbacks import data as data  # the fixture (pytest finds it by name)
from test_callbacks import make_model  # the same small model as there


def drive(cb: Callback, values: list[float], lr: float = 1.0, key: str = "val_loss") -> list[Any]:
    """Feed ``values`` as the monitored value; return each epoch's logs after the hook."""
    model = make_model()
    cb.set_context(model, SGD(model.parameters(), lr=lr), {"greater_is_better": {}})
    cb.on_train_begin()
    seen = []
    for epoch, value in enumerate(values):
        model[0].weight.value[...] = value  # type: ignore[attr-defined]
        logs: Logs = {key: value}
        cb.on_epoch_end(epoch, logs)
        seen.append((logs.get("lr"), cb.optimizer.lr))
        if cb.stop_training:
            break
    return seen


# -- ReduceLROnPlateau ---------------------------------------------------------------------------


def test_reduce_lr_after_patience_epochs_without_improvement() -> None:
    values = [5.0, 4.0, 4.0, 4.0, 3.0, 3.0, 3.0, 3.0, 3.0]
    seen = drive(ReduceLROnPlateau(factor=0.5, patience=2), values)
    # the logged lr is the one the epoch trained with; the reduction applies from the next
    assert [logged for logged, _ in seen] == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert [after for _, after in seen] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.125]


def test_reduce_lr_cooldown_min_lr_and_min_delta() -> None:
    flat = [1.0] * 9
    # Keras's cooldown: the reduction's epoch, then cooldown - 1 epochs are not counted
    cooled = drive(ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2), flat)
    assert [after for _, after in cooled] == [1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.0625,
                                              0.0625]  # fmt: skip
    floored = drive(ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.05), flat)
    assert [after for _, after in floored][:4] == [1.0, 0.1, 0.05, 0.05]
    small_steps = [1.0, 0.99995, 0.99993, 0.99991]  # better, but by less than min_delta=1e-4
    assert drive(ReduceLROnPlateau(factor=0.5, patience=3), small_steps)[-1][1] == 0.5
    maximised = drive(ReduceLROnPlateau("acc", factor=0.5, patience=1, mode="max"),
                      [0.5, 0.6, 0.7, 0.6], key="acc")  # fmt: skip
    assert [after for _, after in maximised] == [1.0, 1.0, 1.0, 0.5]


def test_reduce_lr_matches_torch_with_one_more_epoch_of_patience() -> None:
    """torch (threshold_mode="abs") reduces after patience + 1 bad epochs, Keras after patience."""
    torch = pytest.importorskip("torch")
    values = list(np.random.default_rng(0).choice([3.0, 2.0, 2.5, 1.9, 1.95], size=40))
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=1.0)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=0.5, patience=2, threshold=0.01, threshold_mode="abs", min_lr=0.01, eps=0
    )
    expected = []
    for value in values:
        theirs.step(value)
        expected.append(opt.param_groups[0]["lr"])
    ours = drive(ReduceLROnPlateau(factor=0.5, patience=3, min_delta=0.01, min_lr=0.01), values)
    assert [after for _, after in ours] == expected


def test_reduce_lr_in_fit_logs_the_rate(data: Any, capsys: pytest.CaptureFixture[str]) -> None:
    x, y = data
    model = make_model()
    cb = ReduceLROnPlateau("loss", factor=0.5, patience=1, min_delta=10.0, verbose=1)
    history = model.fit(x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1),
                        epochs=4, callbacks=[cb], verbose=0)  # fmt: skip
    # epoch 1 always improves on nothing; each later one misses min_delta=10
    assert history.history["lr"] == [0.1, 0.1, 0.05, 0.025]
    assert capsys.readouterr().out.splitlines()[0] == (
        "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.05."
    )


# -- schedules in callbacks=[...] ----------------------------------------------------------------


def test_a_schedule_in_callbacks_steps_once_per_epoch(data: Any) -> None:
    x, y = data
    model = make_model()
    opt = SGD(model.parameters(), lr=0.1)
    history = model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=5,
                        callbacks=[StepLR(opt, step_size=2, gamma=0.5)], verbose=0)  # fmt: skip
    np.testing.assert_allclose(history.history["lr"], [0.1, 0.1, 0.05, 0.05, 0.025], rtol=1e-15)
    assert opt.lr == pytest.approx(0.025)  # lr_at(5), for a sixth epoch


def test_a_schedule_trains_like_stepping_it_by_hand(data: Any) -> None:
    x, y = data
    a, b = make_model(), make_model()
    opt_a, opt_b = SGD(a.parameters(), lr=0.1), SGD(b.parameters(), lr=0.1)
    a.fit(x, y, loss=MSELoss(), optimizer=opt_a, epochs=6, shuffle=False,
          callbacks=[CosineAnnealingLR(opt_a, T_max=6)], verbose=0)  # fmt: skip
    cosine = CosineAnnealingLR(opt_b, T_max=6)
    for _ in range(6):
        b.fit(x, y, loss=MSELoss(), optimizer=opt_b, epochs=1, shuffle=False, verbose=0)
        cosine.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.value, q.value)


def test_a_schedule_per_batch(data: Any) -> None:
    x, y = data
    model = make_model()
    opt = SGD(model.parameters(), lr=0.1)
    warmup = LinearWarmup(opt, warmup_steps=10, start_factor=0.1)
    model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=2, batch_size=8,
              callbacks=[ScheduleCallback(warmup, interval="batch")], verbose=0)  # fmt: skip
    assert warmup.last_epoch == 6


def test_a_schedule_on_another_optimizer_is_refused(data: Any) -> None:
    x, y = data
    model = make_model()
    other = SGD(make_model().parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"drives another optimizer than the one fit trains with"):
        model.fit(x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
                  callbacks=[StepLR(other, 2)], verbose=0)  # fmt: skip


# -- LambdaCallback ------------------------------------------------------------------------------


def test_lambda_callback_calls_the_functions_it_was_given(data: Any) -> None:
    x, y = data
    events: list[Any] = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: events.append("begin"),
        on_epoch_end=lambda epoch, logs: events.append((epoch, round((logs or {})["loss"], 12))),
        on_batch_end=lambda batch, logs: events.append(("batch", batch)),
        on_train_end=lambda logs: events.append("end"),
    )
    model = make_model()
    history = model.fit(x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1),
                        epochs=2, batch_size=12, callbacks=[cb], verbose=0)  # fmt: skip
    losses = [round(v, 12) for v in history.history["loss"]]
    assert events == ["begin", ("batch", 0), ("batch", 1), (0, losses[0]), ("batch", 0),
                      ("batch", 1), (1, losses[1]), "end"]  # fmt: skip
    epoch_only = LambdaCallback(on_epoch_end=lambda epoch, logs: None)
    assert CallbackList([epoch_only]).batch_callbacks == []
    assert CallbackList([cb]).batch_callbacks == [cb]


# -- EarlyStopping: verbose, baseline, start_from_epoch -----------------------------------------


def test_early_stopping_baseline_must_be_beaten_to_reset_the_count() -> None:
    values = [3.0, 2.0, 2.5, 2.2, 2.1]
    assert len(drive(EarlyStopping(patience=2), values)) == 4
    # epochs 1 and 2 improve but not below the baseline, so they count towards patience
    assert len(drive(EarlyStopping(patience=2, baseline=1.0), values)) == 3
    assert len(drive(EarlyStopping(patience=2, baseline=2.5), values)) == 4


def test_early_stopping_start_from_epoch_ignores_the_warm_up() -> None:
    stopper = EarlyStopping(patience=1, start_from_epoch=3)
    assert len(drive(stopper, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])) == 5
    assert stopper.best_epoch == 3
    assert stopper.stopped_epoch == 4


def test_early_stopping_prints_when_it_stops_and_restores(
    data: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    stopper = EarlyStopping(patience=1, restore_best_weights=True, verbose=1)
    drive(stopper, [3.0, 1.0, 2.0, 4.0])
    stopper.on_train_end()
    assert capsys.readouterr().out.splitlines() == [
        "Restoring model weights from the end of the best epoch: 2.",
        "Epoch 3: early stopping",
    ]
    quiet = EarlyStopping(patience=1, restore_best_weights=True)
    drive(quiet, [3.0, 1.0, 2.0, 4.0])
    quiet.on_train_end()
    assert capsys.readouterr().out == ""


# -- Logs types a callback -----------------------------------------------------------------------


class LossRecorder(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.losses: list[float] = []

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.losses.append(float((logs or {})["loss"]))


def test_a_callback_typed_with_logs(data: Any) -> None:
    x, y = data
    model = make_model()
    recorder = LossRecorder()
    history = model.fit(x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1),
                        epochs=3, callbacks=[recorder], verbose=0)  # fmt: skip
    assert recorder.losses == history.history["loss"]
    assert Logs == dict[str, Any]
