"""Activations: values against closed forms, stability at the extremes, dtypes, configs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy.special import erf

import layernet
from layernet import (
    ELU,
    GELU,
    Activation,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)

X = np.array([[-3.0, -0.5, 0.0, 0.25, 2.0, 30.0]])


def test_identity_passes_input_and_gradient_through() -> None:
    layer = Identity()
    x = np.arange(6.0).reshape(2, 3)
    assert layer(x) is x
    g = np.ones((2, 3))
    assert layer.backward(g) is g


@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        (Tanh(), np.tanh(X)),
        (ReLU(), np.maximum(X, 0)),
        (LeakyReLU(), np.where(X > 0, X, 0.01 * X)),
        (LeakyReLU(0.3), np.where(X > 0, X, 0.3 * X)),
        (ELU(), np.where(X > 0, X, np.exp(X) - 1)),
        (ELU(alpha=2.0), np.where(X > 0, X, 2.0 * (np.exp(X) - 1))),
        (GELU(), X * 0.5 * (1 + erf(X / math.sqrt(2)))),
        (
            GELU("tanh"),
            0.5 * X * (1 + np.tanh(math.sqrt(2 / math.pi) * (X + 0.044715 * X**3))),
        ),
        (Softplus(), np.where(X > 20, X, np.log1p(np.exp(np.minimum(X, 20))))),
        (
            Softplus(beta=2.0, threshold=5.0),
            np.where(2 * X > 5, X, np.log1p(np.exp(np.minimum(2 * X, 5))) / 2),
        ),
    ],
    ids=repr,
)
def test_values_match_the_formula(layer: Activation, expected: np.ndarray[Any, Any]) -> None:
    np.testing.assert_allclose(layer(X), expected, rtol=1e-12, atol=1e-15)


def test_relu_gradient_is_zero_at_the_kink_like_torch() -> None:
    layer = ReLU()
    layer(np.array([[-1.0, 0.0, 1.0]]))
    np.testing.assert_array_equal(layer.backward(np.ones((1, 3))), [[0.0, 0.0, 1.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [100, 8191, 8192, 65536 * 2 + 37])
def test_relu_is_maximum_with_zero_bit_for_bit(size: int, dtype: type[np.floating[Any]]) -> None:
    """Small, one block of zeros and a few (the last one partial): the same bits, NaN and -0.0."""
    rng = np.random.default_rng(size)
    x = rng.normal(size=size).astype(dtype)
    special = np.array([np.nan, -np.nan, 0.0, -0.0, np.inf, -np.inf], dtype=dtype)
    x[rng.integers(0, size, 60)] = np.resize(special, 60)
    expected = np.maximum(x, 0.0).view(np.uint8)
    relu = ReLU().forward  # (calling the layer would refuse NaN input)
    for got in (relu(x), relu(x.reshape(1, -1)), relu(np.repeat(x, 2)[::2])):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got.reshape(-1).view(np.uint8), expected)


def test_softmax_rows_sum_to_one_along_the_axis() -> None:
    x = np.random.default_rng(0).normal(size=(3, 4, 5))
    for axis in (-1, 1, 2, -2):
        y = Softmax(axis=axis)(x)
        np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=1e-14)
        e = np.exp(x)
        np.testing.assert_allclose(y, e / e.sum(axis=axis, keepdims=True), rtol=1e-13)


EXTREME_LAYERS = [Sigmoid, Tanh, Softplus, Softmax, ReLU, LeakyReLU, ELU, GELU, Identity]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", EXTREME_LAYERS, ids=lambda c: c.__name__)
def test_finite_values_and_gradients_at_magnitude_1000(make: type[Activation], dtype: Any) -> None:
    x = np.array([[-1000.0, -50.0, 0.5, 50.0, 1000.0], [1000.0, 999.0, -1000.0, 0.0, 3.0]], dtype)
    layer = make()
    y = layer(x)
    grad = layer.backward(np.ones_like(x))
    assert y.dtype == dtype
    assert grad.dtype == dtype
    assert np.isfinite(y).all()
    assert np.isfinite(grad).all()


def test_extremes_saturate_to_the_right_limits() -> None:
    x = np.array([[-1000.0, 1000.0]])
    np.testing.assert_array_equal(Sigmoid()(x), [[0.0, 1.0]])
    np.testing.assert_array_equal(Tanh()(x), [[-1.0, 1.0]])
    np.testing.assert_array_equal(Softplus()(x), [[0.0, 1000.0]])
    np.testing.assert_array_equal(Softmax()(x), [[0.0, 1.0]])
    np.testing.assert_array_equal(GELU()(x), [[-0.0, 1000.0]])


@pytest.mark.parametrize(
    "layer",
    [
        Identity(),
        Tanh(),
        ReLU(),
        LeakyReLU(0.2),
        ELU(0.5),
        GELU("tanh"),
        Softplus(2.0, 10.0),
        Softmax(axis=1),
        Sigmoid(),
    ],
    ids=repr,
)
def test_config_rebuilds_an_equal_layer_and_float32_stays_float32(layer: Activation) -> None:
    rebuilt = type(layer)(**layer.get_config())
    assert repr(rebuilt) == repr(layer)
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(rebuilt(x), layer(x))
    assert layer(x).dtype == np.float32
    assert layer.backward(np.ones_like(x)).dtype == np.float32
    assert layer(x.astype(np.int64)).dtype == np.float64
    assert layer.shape_preserving


@pytest.mark.parametrize("make", EXTREME_LAYERS, ids=lambda c: c.__name__)
def test_backward_before_forward_is_a_runtime_error(make: type[Activation]) -> None:
    with pytest.raises(RuntimeError, match=r"backward\(\) called before forward\(\)"):
        make().backward(np.ones((1, 2)))


def test_bad_hyperparameters_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"GELU: approximate must be 'none' or 'tanh', got 'erf'"):
        GELU("erf")
    with pytest.raises(ValueError, match=r"Softplus: beta must be positive, got -1"):
        Softplus(beta=-1)
    with pytest.raises(TypeError, match=r"LeakyReLU: negative_slope must be a real number"):
        LeakyReLU("0.1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"ELU: alpha must be finite, got nan"):
        ELU(float("nan"))
    with pytest.raises(TypeError, match=r"Softmax: axis must be an integer, got float"):
        Softmax(1.0)  # type: ignore[arg-type]


def test_activations_work_inside_a_sequential() -> None:
    model = layernet.Sequential(
        [layernet.Dense(3, 4, rng=0), GELU(), layernet.Dense(4, 2, rng=1), Softmax()]
    )
    y = model.predict(np.ones((5, 3)))
    np.testing.assert_allclose(y.sum(axis=1), 1.0)
