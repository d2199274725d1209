"""fit's sample_weight, class_weight and drop_last, and the batch-size check before epoch 1."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from layernet import (
    LBFGS,
    SGD,
    BatchNorm1d,
    BCEWithLogitsLoss,
    Callback,
    Conv1d,
    CrossEntropyLoss,
    Dense,
    Flatten,
    FloatArray,
    Layer,
    Loss,
    MSELoss,
    ReLU,
    Sequential,
    fit,
)


def make_model(seed: int = 0, outputs: int = 1) -> Sequential:
    return Sequential([Dense(3, 6, rng=seed), ReLU(), Dense(6, outputs, rng=seed + 1)])


def make_data(n: int = 40, seed: int = 0) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return x, x @ np.array([[1.0], [-2.0], [0.5]]) + 0.1 * rng.normal(size=(n, 1))


def values(model: Layer) -> list[FloatArray]:
    return [p.value.copy() for p in model.parameters()]


# -- sample_weight and class_weight ------------------------------------------------------------


def test_weights_divide_by_the_sample_count_not_their_sum() -> None:
    """Keras's meaning: weights 0/1 on n rows step like the kept m rows with lr * m / n."""
    x, y = make_data(40)
    keep = np.arange(40) % 4 != 0  # 30 of 40 rows
    weighted, plain = make_model(), make_model()
    weighted.fit(
        x, y, loss=MSELoss(), optimizer=SGD(weighted.parameters(), lr=0.1), epochs=3,
        batch_size=40, sample_weight=keep.astype(float), shuffle=False, verbose=0,
    )  # fmt: skip
    plain.fit(
        x[keep], y[keep], loss=MSELoss(), optimizer=SGD(plain.parameters(), lr=0.1 * 30 / 40),
        epochs=3, batch_size=30, shuffle=False, verbose=0,
    )  # fmt: skip
    for a, b in zip(values(weighted), values(plain), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_the_logged_loss_is_the_weighted_mean_over_samples() -> None:
    x, y = make_data(24)
    w = np.random.default_rng(1).uniform(0, 2, size=24)
    model = make_model()
    pred = model.predict(x)
    history = model.fit(
        x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
        batch_size=24, sample_weight=w, verbose=0, rng=0,
    )  # fmt: skip
    expected = float(np.sum(w * (pred - y)[:, 0] ** 2) / 24)
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-12)


def test_unit_weights_train_like_no_weights() -> None:
    x, y = make_data()
    a, b = make_model(), make_model()
    ha = a.fit(x, y, loss=MSELoss(), optimizer=SGD(a.parameters(), lr=0.05), epochs=4,
               batch_size=7, sample_weight=np.ones(40), verbose=0, rng=3)  # fmt: skip
    hb = b.fit(x, y, loss=MSELoss(), optimizer=SGD(b.parameters(), lr=0.05), epochs=4,
               batch_size=7, verbose=0, rng=3)  # fmt: skip
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-12)
    for p, q in zip(values(a), values(b), strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-11, atol=1e-14)


def _classes(n: int = 60, seed: int = 0) -> tuple[FloatArray, Any]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return x, rng.integers(0, 3, size=n)


@pytest.mark.parametrize("form", ["labels", "one-hot"])
def test_class_weight_is_the_per_sample_weight_of_each_class(form: str) -> None:
    x, labels = _classes()
    y = labels if form == "labels" else np.eye(3)[labels]
    table = {0: 1.0, 1: 3.0, 2: 0.5}
    by_class, by_sample = make_model(outputs=3), make_model(outputs=3)
    common: dict[str, Any] = {"epochs": 3, "batch_size": 8, "verbose": 0, "rng": 2}
    h1 = by_class.fit(x, y, loss=CrossEntropyLoss(), optimizer=SGD(by_class.parameters(), lr=0.1),
                      class_weight=table, **common)  # fmt: skip
    h2 = by_sample.fit(x, y, loss=CrossEntropyLoss(), optimizer=SGD(by_sample.parameters(), lr=0.1),
                       sample_weight=np.array([table[c] for c in labels]), **common)  # fmt: skip
    assert h1.history == h2.history
    for p, q in zip(values(by_class), values(by_sample), strict=True):
        np.testing.assert_array_equal(p, q)


def test_class_weight_and_sample_weight_multiply_with_binary_targets() -> None:
    x, labels = _classes()
    y = (labels == 1).astype(float)
    sw = np.random.default_rng(5).uniform(0.5, 2, size=60)
    a, b = make_model(), make_model()
    common: dict[str, Any] = {"epochs": 2, "batch_size": 16, "verbose": 0, "rng": 0}
    ha = a.fit(x, y, loss=BCEWithLogitsLoss(), optimizer=SGD(a.parameters(), lr=0.1),
               class_weight={0: 1.0, 1: 4.0}, sample_weight=sw, **common)  # fmt: skip
    hb = b.fit(x, y, loss=BCEWithLogitsLoss(), optimizer=SGD(b.parameters(), lr=0.1),
               sample_weight=sw * np.where(y == 1, 4.0, 1.0), **common)  # fmt: skip
    assert ha.history == hb.history


def test_full_batch_weighted_loss_does_not_depend_on_the_chunking() -> None:
    x, y = make_data(30)
    w = np.random.default_rng(0).uniform(0, 2, size=30)
    runs = []
    for batch_size in (30, 7):
        model = make_model()
        runs.append(
            model.fit(x, y, loss=MSELoss(), optimizer=LBFGS(model.parameters()), epochs=3,
                      batch_size=batch_size, sample_weight=w, verbose=0).history["loss"]
        )  # fmt: skip
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-10)


@pytest.fixture
def setup() -> tuple[Sequential, SGD, FloatArray, FloatArray]:
    x, y = make_data(10)
    model = make_model()
    return model, SGD(model.parameters(), lr=0.1), x, y


def _fit(setup: Any, **kwargs: Any) -> Any:
    model, opt, x, y = setup
    data = (kwargs.pop("x", x), kwargs.pop("y", y))
    args: dict[str, Any] = {"loss": MSELoss(), "optimizer": opt, "epochs": 1, "verbose": 0}
    args.update(kwargs)
    return model.fit(*data, **args)


def test_bad_weights_are_refused_before_training(setup: Any) -> None:
    model = setup[0]
    before = values(model)
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"sample_weight": np.ones(9)}, ValueError, r"sample_weight must hold one weight per "
         r"sample, shape \(10,\), got shape \(9,\)"),
        ({"sample_weight": -np.ones(10)}, ValueError, r"sample_weight must be >= 0, got -1.0"),
        ({"sample_weight": np.full(10, np.nan)}, ValueError, r"sample_weight: contains 10 NaN"),
        ({"sample_weight": ["a"] * 10}, TypeError, r"sample_weight: expected an array of real"),
        ({"class_weight": [1.0, 2.0]}, TypeError, r"class_weight must be a dict mapping class"),
        ({"class_weight": {"a": 1.0}}, ValueError, r"class_weight keys must be class indices"),
        ({"class_weight": {0: -1.0}}, ValueError, r"class_weight\[0\] must be >= 0"),
        ({"class_weight": {0: 1.0}}, ValueError, r"class_weight needs class labels in y, got"),
    ]  # fmt: skip
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            _fit(setup, **kwargs)
    x = setup[2]
    with pytest.raises(ValueError, match=r"no weight for class\(es\) \[2\] found in y"):
        _fit(setup, y=np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]) * 1.0, class_weight={0: 1, 1: 2})
    with pytest.raises(ValueError, match=r"sample_weight needs x and y as arrays"):
        _fit(setup, x=[(x, setup[3])], y=None, sample_weight=np.ones(10))
    for a, b in zip(values(model), before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_loss_that_cannot_split_by_rows_is_refused_for_weights(setup: Any) -> None:
    class Opaque(Loss):
        def __init__(self) -> None:
            self.inner = MSELoss()

        def forward(self, pred: FloatArray, target: Any) -> float:
            return self.inner.forward(pred, target)

        def backward(self) -> FloatArray:
            return self.inner.backward()

    with pytest.raises(ValueError, match=r"sample_weight needs a loss that splits its value by "
                       r"rows; Opaque\(\) does not implement Loss.sample_losses"):  # fmt: skip
        _fit(setup, loss=Opaque(), sample_weight=np.ones(10))


# -- drop_last and batches too small for a layer -----------------------------------------------


class BatchSizes(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def on_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.sizes.append(int((logs or {})["size"]))


def test_drop_last_leaves_out_the_short_batch_every_epoch() -> None:
    x, y = make_data(23)
    model = make_model()
    sizes = BatchSizes()
    history = model.fit(x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.01),
                        epochs=3, batch_size=5, drop_last=True, callbacks=[sizes], verbose=0,
                        rng=0)  # fmt: skip
    assert sizes.sizes == [5] * 12
    assert history.params["steps"] == 4
    assert history.params["samples"] == 23


def test_drop_last_with_a_batch_larger_than_the_data_is_refused(setup: Any) -> None:
    with pytest.raises(ValueError, match=r"drop_last=True with batch_size=32 leaves no batch of "
                       r"the 10 training samples; use a batch_size <= 10"):  # fmt: skip
        _fit(setup, drop_last=True)
    with pytest.raises(ValueError, match=r"drop_last applies to mini-batches of x and y as arrays"):
        _fit(setup, x=[(setup[2], setup[3])], y=None, drop_last=True)


def _bn_model() -> Sequential:
    return Sequential([Dense(3, 8, rng=0), BatchNorm1d(8), ReLU(), Dense(8, 1, rng=1)])


def test_a_one_row_batch_for_batchnorm_fails_before_the_first_epoch() -> None:
    x, y = make_data(33)
    model = _bn_model()
    before = values(model)
    with pytest.raises(ValueError, match=r"fit: the last batch of each epoch would hold 1 "
                       r"sample\(s\) \(33 samples, batch_size=8\), but BatchNorm1d\(8\) needs at "
                       r"least 2 rows per batch in training; pass drop_last=True"):  # fmt: skip
        model.fit(x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1), epochs=2,
                  batch_size=8, verbose=0)  # fmt: skip
    for a, b in zip(values(model), before, strict=True):
        np.testing.assert_array_equal(a, b)
    history = model.fit(x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1),
                        epochs=2, batch_size=8, drop_last=True, verbose=0)  # fmt: skip
    assert history.params["steps"] == 4


def test_the_check_sees_the_split_training_rows() -> None:
    x, y = make_data(41)  # 41 * 0.8 -> 32 training rows: batches of 31 and 1
    model = _bn_model()
    with pytest.raises(ValueError, match=r"would hold 1 sample\(s\) \(32 samples, batch_size=31"):
        model.fit(x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
                  batch_size=31, validation_split=0.2, verbose=0)  # fmt: skip


def test_batchnorm_over_a_length_axis_accepts_one_row() -> None:
    """(batch, C, L) with L >= 2 has L values per channel in a single row."""
    model = Sequential([Conv1d(1, 2, 3, rng=0), BatchNorm1d(2), Flatten(), Dense(8, 1, rng=1)])
    x = np.random.default_rng(0).normal(size=(5, 1, 6))
    history = model.fit(x, np.zeros((5, 1)), loss=MSELoss(),
                        optimizer=SGD(model.parameters(), lr=0.01), epochs=1, batch_size=4,
                        verbose=0)  # fmt: skip
    assert history.params["steps"] == 2


def test_a_container_that_hides_shapes_is_checked_for_the_worst_case() -> None:
    class Block(Layer):
        def __init__(self) -> None:
            self.dense = Dense(3, 4, rng=0)
            self.norm = BatchNorm1d(4)

        def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
            return self.norm.forward(self.dense.forward(x, training=training), training=training)

        def backward(self, grad_out: FloatArray) -> FloatArray:
            return self.dense.backward(self.norm.backward(grad_out))

    x = np.random.default_rng(0).normal(size=(5, 3))
    model = Block()
    with pytest.raises(ValueError, match=r"BatchNorm1d\(4\) needs at least 2 rows"):
        fit(model, x, np.zeros((5, 4)), loss=MSELoss(),
                  optimizer=SGD(model.parameters(), lr=0.1), epochs=1, batch_size=2,
                  verbose=0)  # fmt: skip


def test_drop_last_arguments_are_checked(setup: Any) -> None:
    with pytest.raises(TypeError, match=r"fit: drop_last must be True or False, got str 'yes'"):
        _fit(setup, drop_last="yes")
    model, _, x, y = setup
    with pytest.raises(ValueError, match=r"drop_last applies to mini-batches.*LBFGS trains on"):
        model.fit(x, y, loss=MSELoss(), optimizer=LBFGS(model.parameters()), epochs=1,
                  batch_size=4, drop_last=True, verbose=0)  # fmt: skip


def test_evaluate_weights_the_loss_not_the_metrics() -> None:
    x, y = make_data(30)
    w = np.random.default_rng(2).uniform(0, 2, size=30)
    model = make_model()
    pred = model.predict(x)
    for batch_size in (7, 30):
        scores = model.evaluate(x, y, loss=MSELoss(), metrics=["mse"], batch_size=batch_size,
                                sample_weight=w)  # fmt: skip
        assert scores["loss"] == pytest.approx(float(np.sum(w * (pred - y)[:, 0] ** 2) / 30))
        assert scores["mse"] == pytest.approx(float(np.mean((pred - y) ** 2)))
    with pytest.raises(ValueError, match=r"evaluate: sample_weight must hold one weight per"):
        model.evaluate(x, y, loss=MSELoss(), sample_weight=np.ones(3))
