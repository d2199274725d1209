"""LBFGS: full-batch L-BFGS-B through SciPy, standalone and through fit."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from layernet import LBFGS, Callback, Dense, EarlyStopping, MSELoss, Sequential, Sigmoid
from layernet.__main__ import build_gender_model, train_per_sample
from layernet.datasets import load_gender


def test_beats_1000_epochs_of_per_sample_sgd_on_the_gender_data_with_far_fewer_gradients() -> None:
    data = load_gender()
    sgd_model = build_gender_model(0)
    train_per_sample(sgd_model, data.x, data.y, epochs=1000, lr=0.1)
    sgd_loss = MSELoss()(sgd_model.predict(data.x), data.y)
    sgd_sample_gradients = 1000 * len(data.x)  # one per person per epoch

    model = build_gender_model(0)
    opt = LBFGS(model.parameters())
    history = model.fit(data.x, data.y, loss=MSELoss(), optimizer=opt, epochs=1000, verbose=0)
    lbfgs_loss = MSELoss()(model.predict(data.x), data.y)
    lbfgs_sample_gradients = opt.evaluations * len(data.x)  # each evaluation sees all four

    assert lbfgs_loss < sgd_loss
    assert sgd_sample_gradients >= 20 * lbfgs_sample_gradients
    assert 50 * opt.evaluations <= 1000 * len(data.x)  # and 50x fewer gradient evaluations
    assert history.history["loss"][-1] == pytest.approx(lbfgs_loss, rel=1e-12)
    assert len(history.epoch) == opt.result.nit  # one epoch per iteration
    assert opt.result.success


def test_each_epoch_is_one_iteration_and_the_loss_never_rises() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2))
    y = np.sin(x[:, :1]) + x[:, 1:] ** 2
    model = Sequential([Dense(2, 8, rng=1), Sigmoid(), Dense(8, 1, rng=2)])
    opt = LBFGS(model.parameters())
    history = model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=25, metrics=["r2"],
                        validation_data=(x, y), verbose=0)  # fmt: skip
    losses = history.history["loss"]
    assert history.epoch == list(range(25))
    assert all(b <= a for a, b in itertools.pairwise(losses))
    np.testing.assert_allclose(history.history["val_loss"], losses, rtol=1e-12)
    assert history.history["r2"][-1] > 0.9
    assert opt.evaluations >= 25


def test_chunked_evaluation_matches_one_pass() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, 2))
    y = x[:, :1] * x[:, 1:]
    runs = []
    for batch_size in (10, 3):
        model = Sequential([Dense(2, 4, rng=1), Sigmoid(), Dense(4, 1, rng=2)])
        model.fit(x, y, loss=MSELoss(), optimizer=LBFGS(model.parameters()), epochs=5,
                  batch_size=batch_size, verbose=0)  # fmt: skip
        runs.append([p.value.copy() for p in model.parameters()])
    for whole, chunked in zip(*runs, strict=True):
        np.testing.assert_allclose(chunked, whole, rtol=1e-7)


def test_callbacks_stop_lbfgs_and_keep_their_weights() -> None:
    data = load_gender()

    class BestAtEpochOne(Callback):
        """Reports a monitored value that is best at epoch 1."""

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            assert logs is not None
            logs["score"] = abs(epoch - 1)

    model = build_gender_model(0)
    stopper = EarlyStopping("score", patience=2, restore_best_weights=True)
    weights: list[list[np.ndarray[Any, Any]]] = []

    class Keep(Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            weights.append([p.value.copy() for p in self.model.parameters()])

    history = model.fit(
        data.x,
        data.y,
        loss=MSELoss(),
        optimizer=LBFGS(model.parameters()),
        epochs=100,
        callbacks=[Keep(), BestAtEpochOne(), stopper],
        verbose=0,
    )
    assert history.epoch == [0, 1, 2, 3]
    for got, want in zip(model.parameters(), weights[1], strict=True):
        np.testing.assert_array_equal(got.value, want)


def test_float32_model() -> None:
    data = load_gender()
    model = Sequential(
        [Dense(2, 2, rng=0, dtype=np.float32), Sigmoid(), Dense(2, 1, rng=1, dtype=np.float32)]
    )
    model.fit(data.x, data.y, loss=MSELoss(), optimizer=LBFGS(model.parameters()), epochs=10,
              verbose=0)  # fmt: skip
    assert all(p.value.dtype == np.float32 for p in model.parameters())


def test_standalone_step_with_a_closure_like_torch() -> None:
    data = load_gender()
    model = build_gender_model(0)
    opt = LBFGS(model.parameters(), max_iter=5)
    loss = MSELoss()

    def closure() -> float:
        value = loss.forward(model.forward(data.x, training=True), data.y)
        model.backward(loss.backward())
        return value

    before = closure()
    opt.step(closure)
    assert opt.result.nit <= 5
    assert closure() < before
    w = opt.pack()
    opt.unpack(w * 0.0)
    assert all(not p.value.any() for p in model.parameters())


def test_misuse_is_explained() -> None:
    model = build_gender_model(0)
    opt = LBFGS(model.parameters())
    with pytest.raises(RuntimeError, match=r"step\(\) needs a closure.*model\.fit"):
        opt.step()
    data = load_gender()
    with pytest.raises(ValueError, match="LBFGS is full-batch and needs x and y as arrays"):
        model.fit([(data.x, data.y)], None, loss=MSELoss(), optimizer=opt, epochs=1)
    with pytest.raises(ValueError, match="history_size must be a positive integer, got 0"):
        LBFGS(model.parameters(), history_size=0)
