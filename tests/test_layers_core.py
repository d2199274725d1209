"""Dense, Sigmoid and Parameter: shapes, dtypes, initialization, in-place gradients."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.special import expit

from layernet import Dense, Parameter, Sigmoid
from layernet.initializers import GlorotUniform, Normal


def test_dense_forward_is_x_at_w_plus_b() -> None:
    layer = Dense(3, 2, rng=0)
    x = np.arange(12.0).reshape(4, 3)
    np.testing.assert_allclose(layer(x), x @ layer.weight.value + layer.bias.value, rtol=1e-15)
    assert layer.weight.shape == (3, 2)
    assert layer.bias.shape == (2,)
    assert layer.weight.value.flags.c_contiguous


def test_dense_backward_writes_gradients_in_place_without_accumulating() -> None:
    layer = Dense(3, 2, rng=0)
    w_grad, b_grad = layer.weight.grad, layer.bias.grad
    x = np.ones((4, 3))
    for _ in range(2):
        layer.forward(x)
        dx = layer.backward(np.ones((4, 2)))
    assert layer.weight.grad is w_grad
    assert layer.bias.grad is b_grad
    np.testing.assert_array_equal(w_grad, np.full((3, 2), 4.0))
    np.testing.assert_array_equal(b_grad, [4.0, 4.0])
    np.testing.assert_allclose(dx, np.ones((4, 2)) @ layer.weight.value.T)


def test_dense_without_bias_trains_no_bias() -> None:
    layer = Dense(2, 3, bias=False, rng=0)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    np.testing.assert_array_equal(layer(np.ones((1, 2))), np.ones((1, 2)) @ layer.weight.value)
    assert layer.get_config()["bias"] is False


def test_dense_initializers_and_rng() -> None:
    a, b = Dense(4, 3, rng=7), Dense(4, 3, rng=7)
    np.testing.assert_array_equal(a.weight.value, b.weight.value)
    np.testing.assert_array_equal(a.bias.value, np.zeros(3))
    limit = np.sqrt(6.0 / 7.0)
    assert np.all(np.abs(a.weight.value) <= limit)
    expected = GlorotUniform()((4, 3), fan_in=4, fan_out=3, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.weight.value, expected)

    blog = Dense(2, 2, weight_init="normal", bias_init="normal", rng=np.random.default_rng(3))
    gen = np.random.default_rng(3)
    np.testing.assert_array_equal(blog.weight.value, gen.normal(size=(2, 2)))
    np.testing.assert_array_equal(blog.bias.value, gen.normal(size=2))

    custom = Dense(2, 2, weight_init=Normal(std=0.01), rng=0)
    assert np.abs(custom.weight.value).max() < 0.1
    with pytest.raises(
        ValueError, match=r"weight_init: unknown initializer 'gloriot'; choose one of"
    ):
        Dense(2, 2, weight_init="gloriot")


def test_reset_parameters_redraws_in_place() -> None:
    layer = Dense(3, 3, rng=0)
    weight = layer.weight.value
    before = weight.copy()
    layer.reset_parameters(rng=1)
    assert layer.weight.value is weight
    assert not np.array_equal(before, weight)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_and_float64_end_to_end(dtype: type[np.floating[Any]]) -> None:
    layer = Dense(3, 2, dtype=dtype, rng=0)
    x = np.ones((4, 3), dtype=np.int64)
    y = layer(x)
    assert y.dtype == dtype
    assert layer.weight.value.dtype == dtype
    layer.backward(np.ones((4, 2), dtype=dtype))
    assert layer.weight.grad.dtype == dtype
    assert Sigmoid()(y).dtype == dtype


def test_float32_dense_does_not_upcast_float64_input_silently() -> None:
    layer = Dense(2, 2, dtype=np.float32)
    assert layer(np.ones((1, 2), dtype=np.float64)).dtype == np.float32


def test_sigmoid_values_gradient_and_extremes() -> None:
    x = np.array([[-1000.0, -3.0, 0.0, 3.0, 1000.0]])
    sig = Sigmoid()
    y = sig(x)
    np.testing.assert_allclose(y, expit(x), rtol=1e-15)
    assert np.isfinite(y).all()
    grad = sig.backward(np.ones_like(x))
    np.testing.assert_allclose(grad, y * (1 - y), rtol=1e-15)
    assert Sigmoid()(np.array([[1, 2]])).dtype == np.float64


def test_layer_does_not_mutate_its_input() -> None:
    x = np.linspace(-2, 2, 6).reshape(2, 3)
    original = x.copy()
    model_parts = [Dense(3, 3, rng=0), Sigmoid()]
    for layer in model_parts:
        out = layer(x)
        layer.backward(np.ones_like(out))
    np.testing.assert_array_equal(x, original)


def test_parameter_defaults_and_repr() -> None:
    p = Parameter(np.ones((2, 3), dtype=np.float32), name="w")
    assert p.grad.shape == (2, 3)
    assert p.grad.dtype == np.float32
    assert p.size == 6
    assert repr(p) == "Parameter(name='w', shape=(2, 3), dtype=float32)"
    assert p != Parameter(np.ones((2, 3), dtype=np.float32), name="w")
    assert len({p, p}) == 1
