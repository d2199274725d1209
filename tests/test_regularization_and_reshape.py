"""Dropout, Flatten, Permute, Reshape and Dense on any rank: values, shapes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from layernet import Dense, Dropout, Flatten, Permute, Reshape, Sequential, gradcheck


def test_dropout_is_the_identity_in_inference() -> None:
    layer = Dropout(0.5, rng=0)
    x = np.arange(6.0).reshape(2, 3)
    assert layer(x) is x
    g = np.ones((2, 3))
    assert layer.backward(g) is g
    assert Dropout(0.0, rng=0)(x, training=True) is x


def test_dropout_zeroes_a_fraction_p_and_rescales_the_rest() -> None:
    p = 0.3
    layer = Dropout(p, rng=1)
    x = np.full((400, 500), 2.0)
    y = layer(x, training=True)
    kept = y != 0
    np.testing.assert_allclose(y[kept], 2.0 / (1 - p), rtol=1e-15)
    assert abs(1.0 - kept.mean() - p) < 0.005  # 200k Bernoulli draws: sd ~0.001
    assert abs(y.mean() - 2.0) < 0.02
    grad = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(grad, np.where(kept, 1 / (1 - p), 0.0))


def test_dropout_masks_are_reproducible_from_the_seed_and_fresh_each_call() -> None:
    x = np.ones((4, 50))
    a, b = Dropout(0.5, rng=7), Dropout(0.5, rng=7)
    first = a(x, training=True)
    np.testing.assert_array_equal(first, b(x, training=True))
    assert not np.array_equal(first, a(x, training=True))


def test_dropout_keeps_float32() -> None:
    layer = Dropout(0.2, rng=0)
    x = np.ones((3, 4), dtype=np.float32)
    assert layer(x, training=True).dtype == np.float32
    assert layer.backward(x).dtype == np.float32


def test_dropout_with_a_fresh_mask_per_forward_fails_gradcheck() -> None:
    # Why the harness rewinds the generator: finite differences need the same mask.
    result = gradcheck(Dropout(0.5, rng=0), np.ones((4, 5)), training=True)
    assert not result.passed


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5])
def test_dropout_rejects_p_outside_0_1(p: float) -> None:
    with pytest.raises(ValueError, match=rf"Dropout: p must be in \[0, 1\) .*, got {p}"):
        Dropout(p)


def test_dropout_config_and_backward_before_forward() -> None:
    layer = Dropout(0.25, rng=0)
    assert repr(Dropout(**layer.get_config())) == "Dropout(p=0.25)"
    with pytest.raises(RuntimeError, match=r"Dropout\(p=0.25\): backward\(\) called before"):
        layer.backward(np.ones((1, 1)))


def test_flatten_reshapes_and_restores() -> None:
    layer = Flatten()
    x = np.arange(24.0).reshape(2, 3, 4)
    y = layer(x)
    np.testing.assert_array_equal(y, x.reshape(2, 12))
    np.testing.assert_array_equal(layer.backward(y), x)
    assert layer.output_shape((3, 4)) == (12,)
    assert layer.output_shape((3, None)) == (None,)
    assert layer.output_shape(None) is None
    assert layer(x.astype(np.float32)).dtype == np.float32
    with pytest.raises(RuntimeError, match=r"Flatten\(\): backward\(\) called before"):
        Flatten().backward(y)


def test_flatten_feeds_a_dense_layer() -> None:
    model = Sequential([Flatten(), Dense(12, 2, rng=0)])
    assert model.predict(np.ones((5, 3, 4))).shape == (5, 2)


def test_permute_follows_keras_numbering_and_inverts_in_backward() -> None:
    x = np.arange(24.0).reshape(2, 3, 4)
    layer = Permute((2, 1))
    y = layer(x)
    np.testing.assert_array_equal(y, x.transpose(0, 2, 1))
    assert layer.output_shape((3, 4)) == (4, 3)
    g = np.arange(24.0).reshape(2, 4, 3)
    np.testing.assert_array_equal(layer.backward(g), g.transpose(0, 2, 1))
    three = Permute((3, 1, 2))
    x4 = np.zeros((2, 3, 4, 5))
    assert three(x4).shape == (2, 5, 3, 4)
    assert three.backward(three(x4)).shape == (2, 3, 4, 5)
    assert Permute(np.array([2, 1])).dims == (2, 1)
    assert three.get_config() == {"dims": [3, 1, 2]}


@pytest.mark.parametrize("dims", [(1, 1), (0, 1), (1, 3), (2,)])
def test_permute_refuses_what_is_not_a_permutation_of_the_sample_axes(dims: tuple[int]) -> None:
    with pytest.raises(ValueError, match=r"Permute: dims must be a permutation of"):
        Permute(dims)


def test_reshape_per_sample_with_one_free_size() -> None:
    x = np.arange(24.0).reshape(2, 3, 4)
    layer = Reshape((2, -1))
    np.testing.assert_array_equal(layer(x), x.reshape(2, 2, 6))
    assert layer.output_shape((3, 4)) == (2, 6)
    assert layer.output_shape((3, None)) == (2, None)
    np.testing.assert_array_equal(layer.backward(np.ones((2, 2, 6))), np.ones((2, 3, 4)))
    assert Reshape([12]).get_config() == {"shape": [12]}
    with pytest.raises(
        ValueError,
        match=r"Reshape\(\(5, -1\)\): got input of shape \(2, 3, 4\): cannot reshape a sample "
        r"of shape \(3, 4\) \(12 values\) into \(5, -1\) \(a multiple of 5 values\)",
    ):
        Reshape((5, -1))(x)
    with pytest.raises(ValueError, match=r"into \(5, 2\) \(10 values\)"):
        Reshape((5, 2))(x)
    with pytest.raises(ValueError, match=r"Reshape\(\(5, 2\)\) at position 1: got input of shape"):
        Sequential([Dense(3, 12), Reshape((5, 2))])(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"Reshape\(\(5, 2\)\): cannot reshape a sample"):
        Sequential([Reshape((3, 4)), Reshape((5, 2))])  # 12 values per sample, known
    # Dense's input may be a sequence: (batch, 2, 3) -> (batch, 2, 5) -> (batch, 10)
    assert Sequential([Dense(3, 5), Reshape((10,))])(np.ones((4, 2, 3))).shape == (4, 10)


def test_dropout_on_any_shape() -> None:
    layer = Dropout(0.5, rng=0)
    x = np.ones((2, 3, 4, 5))
    y = layer(x, training=True)
    assert set(np.unique(y)) <= {0.0, 2.0}
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), y)


def test_dense_maps_the_last_axis_of_any_rank_as_torch_linear() -> None:
    layer = Dense(4, 3, rng=0)
    layer.bias.value[...] = [1.0, 2.0, 3.0]
    x = np.random.default_rng(0).normal(size=(2, 5, 4))
    y = layer(x)
    assert y.shape == (2, 5, 3)
    for t in range(5):
        np.testing.assert_allclose(y[:, t], layer(x[:, t]), rtol=1e-14)
    g = np.random.default_rng(1).normal(size=(2, 5, 3))
    layer(x)
    dx = layer.backward(g)
    np.testing.assert_allclose(dx, g @ layer.weight.value.T, rtol=1e-14)
    np.testing.assert_allclose(layer.weight.grad, np.einsum("bti,btj->ij", x, g), rtol=1e-13)
    np.testing.assert_allclose(layer.bias.grad, g.sum(axis=(0, 1)), rtol=1e-14)
