"""A downstream user's module: build, train, predict and read parameters, typed.

``tests/test_typing.py`` runs ``mypy --strict`` over this file, the way a
typed project that depends on layernet would see the API.
"""

from __future__ import annotations

import tempfile

import numpy as np

import layernet
from layernet import (
    SGD,
    Callback,
    Dense,
    FloatArray,
    Layer,
    Logs,
    MSELoss,
    Parameter,
    Sequential,
    Sigmoid,
)


class EpochLosses(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.losses: list[float] = []

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.losses.append(float((logs or {})["loss"]))


def build(seed: int) -> Sequential:
    return Sequential([Dense(2, 8, rng=seed), Sigmoid(), Dense(8, 1, rng=seed + 1), Sigmoid()])


def train(model: Sequential, x: FloatArray, y: FloatArray, epochs: int) -> float:
    loss = MSELoss()
    optimizer = SGD(model.parameters(), lr=0.5, momentum=0.9)
    value = float("nan")
    for _ in range(epochs):
        value = loss.forward(model.forward(x, training=True), y)
        model.backward(loss.backward())
        optimizer.step()
    return value


def first_weight(model: Sequential) -> FloatArray:
    layer: Layer = model[0]
    assert isinstance(layer, Dense)
    weight: Parameter = layer.weight
    return weight.value


def fit_and_keep(model: Sequential, x: FloatArray, y: FloatArray, path: str) -> float:
    stopper = layernet.EarlyStopping("val_loss", patience=3, restore_best_weights=True)
    history: layernet.History = model.fit(
        x,
        y,
        loss=MSELoss(),
        optimizer=SGD(model.parameters(), lr=0.5),
        epochs=5,
        batch_size=2,
        validation_data=(x, y),
        metrics=["accuracy", layernet.R2Score()],
        callbacks=[stopper, EpochLosses(), layernet.ReduceLROnPlateau(patience=2)],
        verbose=0,
        rng=0,
    )
    losses: list[float] = history.history["loss"]
    layernet.save(model, path)
    again: Sequential = layernet.load(path, expect=Sequential)
    scores: dict[str, float] = again.evaluate(x, y, loss=MSELoss(), metrics=["mse"])
    return losses[-1] + scores["mse"]


def resume(path: str, x: FloatArray, y: FloatArray) -> layernet.History:
    model = build(2).astype(np.float32)  # astype returns the model, typed as a Sequential
    model[0].trainable = False
    optimizer = SGD(model.parameters(), lr=0.5)
    model.fit(x, y, loss=MSELoss(), optimizer=optimizer, epochs=2, verbose=0, rng=0,
              callbacks=[layernet.ModelCheckpoint(path, monitor="loss")])  # fmt: skip
    again = layernet.load(path, expect=Sequential)
    opt = SGD(again.parameters(), lr=0.5)
    layernet.load_optimizer_state(path, opt)
    state: layernet.TrainingState = layernet.load_training_state(path)
    rng: np.random.Generator = state.rng
    history = again.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=4, verbose=0, rng=rng,
                        initial_epoch=state.epoch)  # fmt: skip
    interrupted: bool = history.interrupted
    reason: str | None = history.stop_reason
    print(interrupted, reason, again.summary(input_shape=(2,)))
    return history


def main() -> None:
    data = layernet.datasets.load_gender()
    model = build(0)
    final: float = train(model, data.x, data.y, 100)
    predictions: FloatArray = model.predict(data.x, batch_size=2)
    shapes: dict[str, tuple[int, ...]] = {k: v.shape for k, v in model.state_dict().items()}
    check: layernet.GradcheckResult = layernet.gradcheck(model, data.x)
    print(final, predictions.shape, first_weight(model).shape, shapes, check.passed)
    print(np.round(predictions, 3), model.summary())
    with tempfile.TemporaryDirectory() as tmp:
        print(fit_and_keep(build(1), data.x, data.y, f"{tmp}/model.npz"))
        print(resume(f"{tmp}/ckpt.npz", data.x, data.y).epoch)


if __name__ == "__main__":
    main()
