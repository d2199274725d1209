"""Dropout and Flatten: masks, scaling, modes, shapes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from layernet import Dense, Dropout, Flatten, Sequential, gradcheck


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
