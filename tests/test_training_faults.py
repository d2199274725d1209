"""Faults during fit: NaN/inf losses, callbacks that raise, Ctrl-C.

"Consistent" means: every parameter, buffer and optimizer state array equals
what it was after the last *completed* optimizer step (never half a step), and
the History holds exactly the epochs that completed. Each test checks that
against a reference run that stops cleanly after the same number of steps.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import layernet as ln
from layernet import Callback, FloatArray
from reliability_cases import OPTIMIZER_VARIANTS

X = np.random.default_rng(0).normal(size=(40, 3))
Y = np.stack([X[:, 0] * X[:, 1], np.tanh(X[:, 2])], axis=1)
STEPS_PER_EPOCH = 5  # 40 rows, batches of 8


def make_model() -> ln.Sequential:
    return ln.Sequential(
        [ln.Dense(3, 8, rng=0), ln.BatchNorm1d(8), ln.Tanh(), ln.Dropout(0.2, rng=1),
         ln.Dense(8, 2, rng=2)]
    )  # fmt: skip


class StopError(Exception):
    """Raised by the reference run to stop at an exact step."""


class Faulty(ln.MSELoss):
    """MSE whose ``k``-th training call (from 1) runs ``fault`` first."""

    def __init__(self, k: int, fault: Callable[[], float | None]) -> None:
        super().__init__()
        self.k, self.fault, self.calls = k, fault, 0

    def forward(self, pred: FloatArray, target: Any) -> float:
        self.calls += 1
        value = super().forward(pred, target)
        if self.calls == self.k:
            replaced = self.fault()
            if replaced is not None:
                return replaced
        return value


def snapshot(model: ln.Sequential, opt: ln.Optimizer) -> dict[str, Any]:
    state = {"model." + k: v for k, v in model.state_dict().items()}
    for i, slots in opt.state_dict()["state"].items():
        state.update({f"opt.{i}.{k}": v for k, v in slots.items()})
    return state


def run(
    loss: ln.Loss,
    make_opt: Callable[[Any], ln.Optimizer] = OPTIMIZER_VARIANTS["Adam"],
    **kwargs: Any,
) -> tuple[ln.Sequential, ln.Optimizer, Any]:
    """Fit for up to 4 epochs; return model, optimizer and History or the exception raised."""
    model = make_model()
    opt = make_opt(model.parameters())
    settings: dict[str, Any] = {"epochs": 4, "batch_size": 8, "verbose": 0, "rng": 5}
    settings.update(kwargs)
    try:
        history: Any = model.fit(X, Y, loss=loss, optimizer=opt, **settings)
    except BaseException as exc:
        history = exc
    return model, opt, history


class StopAt(Callback):
    """Raise StopError before global step ``steps + 1``, i.e. after exactly ``steps`` steps."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps, self.seen = steps, 0

    def on_batch_begin(self, batch: int, logs: Any = None) -> None:
        if self.seen == self.steps:
            raise StopError
        self.seen += 1


def after_steps(steps: int, **kwargs: Any) -> dict[str, Any]:
    """The state (buffers included) after exactly ``steps`` completed steps."""
    model, opt, outcome = run(ln.MSELoss(), callbacks=[StopAt(steps)], **kwargs)
    assert isinstance(outcome, StopError)
    return snapshot(model, opt)


def assert_state(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got.keys() == want.keys()
    for key, value in want.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)


# -- NaN and inf losses ----------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("k", [1, 7, 20])
def test_a_non_finite_loss_names_epoch_and_batch_and_keeps_the_last_step(
    bad: float, k: int
) -> None:
    model, opt, outcome = run(Faulty(k, lambda: bad))
    assert isinstance(outcome, RuntimeError)
    epoch, batch = divmod(k - 1, STEPS_PER_EPOCH)
    assert f"loss is {bad} at epoch {epoch + 1}/4, batch {batch + 1}/{STEPS_PER_EPOCH}" in str(
        outcome
    )
    want = after_steps(k - 1)
    got = snapshot(model, opt)
    # The failing batch's forward already moved BatchNorm's running statistics (documented);
    # parameters and optimizer state are exactly those of the last completed step.
    assert_state({k: v for k, v in got.items() if "running" not in k},
                 {k: v for k, v in want.items() if "running" not in k})  # fmt: skip
    assert all(np.isfinite(v).all() for v in got.values())


@pytest.mark.parametrize("name", sorted(set(OPTIMIZER_VARIANTS) - {"LBFGS"}))
def test_every_optimizer_stops_on_a_nan_loss_before_its_step(name: str) -> None:
    make_opt = OPTIMIZER_VARIANTS[name]
    model, opt, outcome = run(Faulty(8, lambda: np.nan), make_opt)
    assert isinstance(outcome, RuntimeError)
    assert "loss is nan at epoch" in str(outcome)
    want = after_steps(7, make_opt=make_opt)
    got = snapshot(model, opt)
    assert all(np.isfinite(v).all() for v in got.values())
    assert_state({k: v for k, v in got.items() if "running" not in k},
                 {k: v for k, v in want.items() if "running" not in k})  # fmt: skip
    # (LBFGS is left out: a NaN at a line-search trial point is SciPy's to reject, and
    # fit stops only when an accepted iterate's loss is not finite.)


def test_with_early_stopping_a_nan_loss_restores_the_best_weights() -> None:
    best: dict[str, Any] = {}

    class Watch(Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            assert logs is not None
            if logs["loss"] < best.get("loss", np.inf):
                best.update(loss=logs["loss"], state=self.model.state_dict())

    stopper = ln.EarlyStopping("loss", patience=10, restore_best_weights=True)
    model, _, outcome = run(Faulty(17, lambda: np.nan), callbacks=[Watch(), stopper])
    assert isinstance(outcome, RuntimeError)
    assert stopper.best_epoch == 2
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, best["state"][key], err_msg=key)


def test_a_quiet_terminate_on_nan_returns_the_completed_epochs() -> None:
    model, opt, history = run(Faulty(12, lambda: np.inf), callbacks=[ln.TerminateOnNaN(False)])
    assert isinstance(history, ln.History)
    assert history.epoch == [0, 1]
    want = after_steps(11)
    got = snapshot(model, opt)
    assert_state({k: v for k, v in got.items() if "running" not in k},
                 {k: v for k, v in want.items() if "running" not in k})  # fmt: skip


# -- callbacks that raise --------------------------------------------------------------


class BoomError(Exception):
    pass


@pytest.mark.parametrize(
    ("hook", "at", "steps"),
    [
        ("on_train_begin", 0, 0),
        ("on_epoch_begin", 1, 5),
        ("on_batch_begin", 7, 7),
        ("on_batch_end", 7, 8),
        ("on_epoch_end", 1, 10),
    ],
)
def test_a_callback_that_raises_leaves_the_last_completed_step(
    hook: str, at: int, steps: int
) -> None:
    """The exception comes out unchanged; the model is as after ``steps`` whole steps.

    ``at`` counts epochs for epoch hooks and batches over the whole run (from 0)
    for batch hooks.
    """
    calls = {"n": 0}

    class Raises(Callback):
        pass

    def raise_at(self: Callback, *args: Any) -> None:
        index = calls["n"]
        calls["n"] += 1
        if index == at:
            raise BoomError(hook)

    setattr(Raises, hook, raise_at)
    model, opt, outcome = run(ln.MSELoss(), callbacks=[Raises()])
    assert isinstance(outcome, BoomError)
    assert_state(snapshot(model, opt), after_steps(steps))


def test_a_checkpoint_that_fails_to_save_keeps_the_earlier_file(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ckpt.npz"
    calls = {"n": 0}
    real = ln.serialization._write_npz

    def full_disk_on_the_second_save(handle: Any, arrays: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            handle.write(b"PK\x03\x04 half")
            raise OSError("disk full")
        real(handle, arrays)

    monkeypatch.setattr(ln.serialization, "_write_npz", full_disk_on_the_second_save)
    model, opt, outcome = run(ln.MSELoss(), callbacks=[ln.ModelCheckpoint(path, monitor="loss")])
    assert isinstance(outcome, OSError)
    assert_state(snapshot(model, opt), after_steps(10))  # two whole epochs ran
    monkeypatch.undo()
    one_epoch = after_steps(5)
    loaded = ln.load(path)
    for key, value in loaded.state_dict().items():
        np.testing.assert_array_equal(value, one_epoch["model." + key])
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]


# -- Ctrl-C ----------------------------------------------------------------------------


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("k", [3, 5, 13])
def test_ctrl_c_stops_after_the_current_step_and_returns_the_history(k: int) -> None:
    """SIGINT in the middle of batch ``k``: that step completes, then fit returns."""
    model, opt, history = run(Faulty(k, ctrl_c))
    assert isinstance(history, ln.History)
    assert history.epoch == list(range(k // STEPS_PER_EPOCH))
    assert len(history.history.get("loss", [])) == len(history.epoch)
    assert_state(snapshot(model, opt), after_steps(k))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_a_keyboard_interrupt_raised_in_a_callback_returns_the_history() -> None:
    class Interrupts(Callback):
        def on_batch_end(self, batch: int, logs: Any = None) -> None:
            if self.params and batch == 3:
                raise KeyboardInterrupt

    model, opt, history = run(ln.MSELoss(), callbacks=[Interrupts()])
    assert isinstance(history, ln.History)
    assert history.epoch == []
    assert_state(snapshot(model, opt), after_steps(4))


def test_ctrl_c_twice_stops_at_once() -> None:
    def twice() -> None:
        ctrl_c()
        ctrl_c()

    _, _, outcome = run(Faulty(3, twice))
    assert isinstance(outcome, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("k", [6, 40])
def test_ctrl_c_during_lbfgs_keeps_the_last_completed_iteration(k: int) -> None:
    iterates: list[FloatArray] = [
        np.concatenate([p.value.ravel() for p in make_model().parameters()])
    ]

    class Record(Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            iterates.append(np.concatenate([p.value.ravel() for p in self.model.parameters()]))

    def interrupt() -> None:
        raise KeyboardInterrupt  # no handler for LBFGS: the interrupt lands mid-evaluation

    model, _, history = run(Faulty(k, interrupt), OPTIMIZER_VARIANTS["LBFGS"], callbacks=[Record()],
                            epochs=50)  # fmt: skip
    assert isinstance(history, ln.History)
    assert len(history.epoch) == len(iterates) - 1
    np.testing.assert_array_equal(
        np.concatenate([p.value.ravel() for p in model.parameters()]), iterates[-1]
    )


def test_ctrl_c_marks_the_history_and_says_what_state_the_model_is_in(
    capsys: pytest.CaptureFixture[str],
) -> None:
    model, opt, history = run(Faulty(7, ctrl_c), verbose=2)
    assert isinstance(history, ln.History)
    assert history.interrupted
    assert history.epoch == [0]
    out = capsys.readouterr().out
    line = (
        "fit: interrupted (Ctrl-C) during epoch 2/4. The History holds the 1 completed epoch; "
        "the model holds the weights after the last completed optimizer step; 2 steps of "
        "epoch 2 were applied after it"
    )
    assert history.stop_reason == line
    assert out.splitlines()[-1] == line
    assert_state(snapshot(model, opt), after_steps(7))


def test_ctrl_c_is_reported_on_stderr_when_fit_is_silent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, _, history = run(Faulty(3, ctrl_c))  # verbose=0: nothing else would say why fit returned
    assert isinstance(history, ln.History)
    assert history.interrupted
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == history.stop_reason
    assert "during epoch 1/4. The History holds the 0 completed epochs" in captured.err


def test_an_early_stop_prints_a_line_and_keeps_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stopper = ln.EarlyStopping("loss", patience=0, min_delta=1e9)  # no epoch improves enough
    _, _, history = run(ln.MSELoss(), callbacks=[stopper], verbose=2)
    assert isinstance(history, ln.History)
    assert history.epoch == [0, 1]
    assert not history.interrupted
    line = f"fit: stopped early by {stopper!r} after epoch 2/4"
    assert history.stop_reason == line
    assert capsys.readouterr().out.splitlines()[-1] == line
    _, _, quiet = run(Faulty(7, lambda: np.nan), callbacks=[ln.TerminateOnNaN(False)], verbose=2)
    assert isinstance(quiet, ln.History)
    assert quiet.stop_reason == "fit: stopped early by TerminateOnNaN() after epoch 1/4"
    assert capsys.readouterr().out.splitlines()[-1] == quiet.stop_reason
    _, _, full = run(ln.MSELoss(), verbose=2)
    assert isinstance(full, ln.History)
    assert full.stop_reason is None


def test_two_quick_ctrl_c_keep_the_files_already_written(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second press lands inside the third checkpoint's write: files 1 and 2 stay whole."""
    calls = {"n": 0}
    real = ln.serialization._write_npz

    def interrupted_third_save(handle: Any, arrays: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            handle.write(b"PK\x03\x04 half")
            ctrl_c()
            ctrl_c()  # the second press raises KeyboardInterrupt here, mid-write
        real(handle, arrays)

    monkeypatch.setattr(ln.serialization, "_write_npz", interrupted_third_save)
    checkpoint = ln.ModelCheckpoint(tmp_path / "ckpt-{epoch}.npz", monitor="loss")
    logger = ln.CSVLogger(tmp_path / "log.csv")
    _, _, outcome = run(ln.MSELoss(), callbacks=[logger, checkpoint])
    assert isinstance(outcome, KeyboardInterrupt)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-1.npz", "ckpt-2.npz", "log.csv"]
    for epoch in (1, 2):
        loaded = ln.load(tmp_path / f"ckpt-{epoch}.npz")
        want = after_steps(5 * epoch)
        for key, value in loaded.state_dict().items():
            np.testing.assert_array_equal(value, want["model." + key], err_msg=key)
    lines = (tmp_path / "log.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ["epoch", "0", "1", "2"]
    assert all(len(line.split(",")) == 2 for line in lines)  # every row whole
