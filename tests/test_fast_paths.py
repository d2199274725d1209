"""The training fast paths compute exactly what the plain paths compute."""

from __future__ import annotations

import numpy as np
import pytest

import layernet
from layernet import Dense, Flatten, MSELoss, ReLU, Sequential, Sigmoid, _validation, training


def _grads(model: Sequential) -> list[np.ndarray]:
    return [p.grad.copy() for p in model.parameters()]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Sequential([Dense(4, 3, rng=0), ReLU(), Dense(3, 2, rng=1)]),
        lambda: Sequential([Flatten(), Dense(4, 3, rng=0), Sigmoid(), Dense(3, 2, rng=1)]),
        lambda: Sequential([Sequential([Flatten(), Dense(4, 2, rng=2)]), Sigmoid()]),
    ],
    ids=["dense-first", "flatten-first", "nested"],
)
def test_backward_parameters_writes_the_same_gradients_as_backward(make: object) -> None:
    model = make()  # type: ignore[operator]
    assert isinstance(model, Sequential)
    rng = np.random.default_rng(0)
    x, g = rng.normal(size=(5, 2, 2)), rng.normal(size=(5, 2))
    if isinstance(model[0], Dense):
        x = x.reshape(5, 4)
    model.forward(x, training=True)
    model.backward(g)
    expected = _grads(model)
    for p in model.parameters():
        p.grad[...] = np.nan
    model.forward(x, training=True)
    assert model.backward_parameters(g) is None  # type: ignore[func-returns-value]
    for got, want in zip(_grads(model), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_backward_parameters_without_parameters_is_a_no_op() -> None:
    model = Sequential([Sigmoid(), ReLU()])
    model.forward(np.ones((2, 3)))
    model.backward_parameters(np.ones((2, 3)))


def test_backward_parameters_before_forward_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError, match=r"Dense\(2 -> 1\): backward\(\) called before forward"):
        Dense(2, 1).backward_parameters(np.ones((1, 1)))


def test_large_data_gathers_per_batch_with_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(100, 3)), rng.normal(size=(100, 1))

    def train() -> list[np.ndarray]:
        model = Sequential([Dense(3, 4, rng=0), ReLU(), Dense(4, 1, rng=1)])
        model.fit(
            x,
            y,
            loss=MSELoss(),
            optimizer=layernet.SGD(model.parameters(), lr=0.05),
            epochs=3,
            batch_size=7,
            verbose=0,
            rng=5,
        )
        return [p.value.copy() for p in model.parameters()]

    whole_epoch = train()
    monkeypatch.setattr(training, "_GATHER_EPOCH_BYTES", 0)
    per_batch = train()
    for a, b in zip(whole_epoch, per_batch, strict=True):
        np.testing.assert_array_equal(a, b)


def test_finiteness_is_checked_in_chunks_to_the_last_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_validation, "_CHECK_BYTES", 64)
    x = np.ones((50, 4))
    _validation.check_finite(x, "x")
    x[-1, -1] = np.inf
    with pytest.raises(ValueError, match=r"x: contains 1 NaN or infinite value"):
        _validation.check_finite(x, "x")
    _validation.check_finite(np.array(1.0), "scalar")
    with pytest.raises(ValueError, match="scalar: contains 1"):
        _validation.check_finite(np.array(np.nan), "scalar")
