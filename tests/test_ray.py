"""layernet.integrations.ray: reports and checkpoints for Ray Tune; a 4-trial ASHA sweep.

Skipped without Ray Tune (``pip install -e ".[ray]"``); the sweep also needs
scikit-learn for the digits.
"""

from __future__ import annotations

import itertools
import json
import runpy
import shutil
import signal
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from layernet import SGD, Adam, CrossEntropyLoss, Dense, ReLU, Sequential

tune = pytest.importorskip("ray.tune")

from layernet.integrations.ray import (  # noqa: E402
    TuneReportCheckpointCallback,
    restore_checkpoint,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def make_model(seed: int = 0) -> Sequential:
    rng = np.random.default_rng(seed)
    return Sequential([Dense(4, 8, rng=rng), ReLU(), Dense(8, 3, rng=rng)])


def make_data(n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4))
    return x, np.argmax(x[:, :3], axis=1)


def test_each_epoch_is_reported_with_a_checkpoint_that_restores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports: list[tuple[dict[str, float], Path | None]] = []

    def report(metrics: dict[str, float], *, checkpoint: Any = None) -> None:
        kept = None
        if checkpoint is not None:  # the callback deletes its folder after reporting: keep it
            kept = tmp_path / f"ckpt{len(reports)}"
            shutil.copytree(checkpoint.path, kept)
        reports.append((metrics, kept))

    monkeypatch.setattr(tune, "report", report)
    x, y = make_data()
    model = make_model()
    opt = Adam(model.parameters(), lr=0.01)
    model.fit(
        x, y, loss=CrossEntropyLoss(), optimizer=opt, epochs=4, batch_size=8, verbose=0,
        metrics=["accuracy"], validation_data=(x, y), rng=0,
        callbacks=[TuneReportCheckpointCallback(frequency=2, initial_epoch=3)],
    )  # fmt: skip
    assert [m["epoch"] for m, _ in reports] == [4, 5, 6, 7]
    assert set(reports[0][0]) == {"loss", "accuracy", "val_loss", "val_accuracy", "epoch"}
    assert [c is not None for _, c in reports] == [False, True, False, True]
    last = reports[-1][1]
    assert last is not None

    fresh = make_model(seed=5)
    fresh_opt = Adam(fresh.parameters(), lr=1.0)
    done = restore_checkpoint(fresh, fresh_opt, tune.Checkpoint.from_directory(str(last)))
    assert done == 7
    assert fresh_opt.lr == 0.01
    for a, b in zip(fresh.parameters(), model.parameters(), strict=True):
        np.testing.assert_array_equal(a.value, b.value)
    for p, q in zip(fresh_opt.params, opt.params, strict=True):
        for key, value in opt.state[q].items():
            np.testing.assert_array_equal(fresh_opt.state[p][key], value)


def test_only_the_chosen_metrics_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    reports: list[dict[str, float]] = []
    monkeypatch.setattr(tune, "report", lambda metrics, **_: reports.append(metrics))
    x, y = make_data()
    model = make_model()
    cb = TuneReportCheckpointCallback(["loss"], checkpoint=False)
    model.fit(
        x, y, loss=CrossEntropyLoss(), optimizer=SGD(model.parameters(), lr=0.1), epochs=2,
        verbose=0, callbacks=[cb],
    )  # fmt: skip
    assert [set(r) for r in reports] == [{"loss", "epoch"}] * 2
    bad = TuneReportCheckpointCallback(["val_loss"], checkpoint=False)
    with pytest.raises(ValueError, match=r"\['val_loss'\] are not among the logged values"):
        model.fit(
            x, y, loss=CrossEntropyLoss(), optimizer=SGD(model.parameters(), lr=0.1),
            epochs=1, verbose=0, callbacks=[bad],
        )  # fmt: skip


def test_bad_arguments_are_named() -> None:
    with pytest.raises(TypeError, match="write metrics=\\['loss'\\]"):
        TuneReportCheckpointCallback("loss")
    with pytest.raises(ValueError, match="frequency must be an int >= 1, got 0"):
        TuneReportCheckpointCallback(frequency=0)
    with pytest.raises(ValueError, match="initial_epoch must be an int >= 0, got -1"):
        TuneReportCheckpointCallback(initial_epoch=-1)
    with pytest.raises(TypeError, match="model must be a Layer"):
        restore_checkpoint("model")  # type: ignore[arg-type]


def test_outside_a_trial_there_is_nothing_to_restore() -> None:
    model = make_model()
    before = [p.value.copy() for p in model.parameters()]
    with warnings.catch_warnings():  # Ray warns once that get_checkpoint is used outside Tune
        warnings.simplefilter("ignore", UserWarning)
        assert restore_checkpoint(model) == 0
    for a, b in zip(before, model.parameters(), strict=True):
        np.testing.assert_array_equal(a, b.value)


def test_a_four_trial_asha_sweep_on_the_digits_runs_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    example = runpy.run_path(str(EXAMPLES / "ray_sweep.py"))
    handler = signal.getsignal(signal.SIGINT)
    try:
        config, accuracy = example["main"](num_samples=4, epochs=6, storage=str(tmp_path))
    finally:  # Tune leaves its own Ctrl-C handler installed; later tests expect Python's
        signal.signal(signal.SIGINT, handler)
    assert set(config) == {"lr", "width"}
    assert accuracy >= 0.9
    trials = [d for d in (tmp_path / "digits_asha").iterdir() if d.name.startswith("trainable")]
    assert len(trials) == 4


def test_the_example_trial_resumes_where_its_checkpoint_left_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What PBT does to a trial, without Ray running: pause, restore, go on with a new lr."""
    pytest.importorskip("sklearn")
    example = runpy.run_path(str(EXAMPLES / "ray_sweep.py"))
    data = example["digits"](0)
    reports: list[tuple[dict[str, float], Path | None]] = []
    folders = itertools.count()

    def report(metrics: dict[str, float], *, checkpoint: Any = None) -> None:
        kept = None
        if checkpoint is not None:
            kept = tmp_path / f"ckpt{next(folders)}"
            shutil.copytree(checkpoint.path, kept)
        reports.append((metrics, kept))

    monkeypatch.setattr(tune, "report", report)
    monkeypatch.setattr(tune, "get_checkpoint", lambda: None)
    config = {"lr": 1e-3, "width": 16, "epochs": 2, "seed": 0}
    example["trainable"](config, data)
    assert [m["epoch"] for m, _ in reports] == [1, 2]
    last = reports[-1][1]
    assert last is not None
    saved = tune.Checkpoint.from_directory(str(last))
    monkeypatch.setattr(tune, "get_checkpoint", lambda: saved)

    reports.clear()  # resumed after 2 epochs with a new learning rate and 2 more to go
    example["trainable"]({**config, "epochs": 4, "lr": 5e-4}, data)
    assert [m["epoch"] for m, _ in reports] == [3, 4]
    end = reports[-1][1]
    assert end is not None
    with np.load(last / "model.npz") as before, np.load(end / "model.npz") as after:
        assert json.loads(bytes(after["__layernet__"]))["optimizer"]["config"]["lr"] == 5e-4
        assert not np.array_equal(before["state/0.weight"], after["state/0.weight"])

    reports.clear()  # resumed at its last checkpoint: nothing left to train
    example["trainable"](config, data)
    assert reports == []
