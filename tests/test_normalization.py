"""BatchNorm1d, BatchNorm2d and LayerNorm: statistics by hand, modes, buffers, shapes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from layernet import BatchNorm1d, BatchNorm2d, Dense, LayerNorm, ReLU, Sequential

RNG = np.random.default_rng(0)


def test_batchnorm_training_normalizes_each_channel_and_updates_running_stats() -> None:
    layer = BatchNorm1d(3, momentum=0.2)
    x = RNG.normal(2.0, 3.0, size=(10, 3))
    y = layer(x, training=True)
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-14)
    np.testing.assert_allclose(y.var(axis=0), x.var(axis=0) / (x.var(axis=0) + 1e-5), rtol=1e-12)
    np.testing.assert_allclose(layer.running_mean, 0.2 * x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(layer.running_var, 0.8 + 0.2 * x.var(axis=0, ddof=1), rtol=1e-14)


def test_batchnorm_inference_uses_running_stats_and_changes_nothing() -> None:
    layer = BatchNorm1d(2)
    layer.running_mean[...] = [1.0, -1.0]
    layer.running_var[...] = [4.0, 0.25]
    layer.gamma.value[...] = [2.0, 3.0]
    layer.beta.value[...] = [0.5, 0.0]
    x = RNG.normal(size=(5, 2))
    expected = (x - [1.0, -1.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5) * [2.0, 3.0] + [0.5, 0]
    np.testing.assert_allclose(layer(x), expected, rtol=1e-14)
    np.testing.assert_array_equal(layer.running_mean, [1.0, -1.0])
    grad = layer.backward(np.ones((5, 2)))
    slope = np.array([2.0, 3.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)
    np.testing.assert_allclose(grad, np.broadcast_to(slope, (5, 2)), rtol=1e-14)


def test_batchnorm_on_sequences_pools_batch_and_length() -> None:
    layer = BatchNorm1d(3)
    x = RNG.normal(1.0, 2.0, size=(4, 3, 7))
    y = layer(x, training=True)
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0.0, atol=1e-14)
    n = 4 * 7
    var = x.var(axis=(0, 2))
    np.testing.assert_allclose(layer.running_var, 0.9 + 0.1 * var * n / (n - 1), rtol=1e-14)


def test_batchnorm_buffers_travel_with_the_state_dict() -> None:
    model = Sequential([Dense(2, 3, rng=0), BatchNorm1d(3), ReLU()])
    model(RNG.normal(size=(8, 2)), training=True)
    state = model.state_dict()
    assert set(state) == {
        "0.weight",
        "0.bias",
        "1.gamma",
        "1.beta",
        "1.running_mean",
        "1.running_var",
    }
    fresh = Sequential([Dense(2, 3, rng=1), BatchNorm1d(3), ReLU()])
    fresh.load_state_dict(state)
    x = RNG.normal(size=(4, 2))
    np.testing.assert_array_equal(fresh.predict(x), model.predict(x))


def test_batchnorm_errors() -> None:
    layer = BatchNorm1d(3)
    with pytest.raises(
        ValueError,
        match=r"BatchNorm1d\(3\): expected input of shape \(batch, 3\) or \(batch, 3, \?\), "
        r"got \(5, 4\)",
    ):
        layer(np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"more than one value per channel, got input of shape"):
        layer(np.ones((1, 3)), training=True)
    with pytest.raises(
        ValueError, match=r"BatchNorm1d\(3\): momentum must be in \[0, 1\], got 1.5"
    ):
        BatchNorm1d(3, momentum=1.5)
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): eps must be positive, got 0"):
        BatchNorm1d(3, eps=0)
    with pytest.raises(ValueError, match=r"num_features must be a positive integer, got 0"):
        BatchNorm1d(0)
    with pytest.raises(RuntimeError, match=r"backward\(\) called before forward"):
        layer.backward(np.ones((2, 3)))
    with pytest.raises(  # caught when the model is built, from the layers' input specs
        ValueError,
        match=r"BatchNorm1d\(3\) at position 1 expects input of shape \(batch, 3\) or "
        r"\(batch, 3, \?\), but Dense\(2 -> 4\) at position 0 produces \(batch, 4\)",
    ):
        Sequential([Dense(2, 4), BatchNorm1d(3)])


def test_layernorm_normalizes_each_row_over_the_last_axis() -> None:
    layer = LayerNorm(4)
    layer.gamma.value[...] = [1.0, 2.0, 3.0, 4.0]
    layer.beta.value[...] = 0.5
    x = RNG.normal(3.0, 2.0, size=(2, 5, 4))
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-5) * [1.0, 2.0, 3.0, 4.0] + 0.5
    np.testing.assert_allclose(layer(x), expected, rtol=1e-13)
    np.testing.assert_allclose(layer(x, training=True), expected, rtol=1e-13)


def test_layernorm_errors() -> None:
    with pytest.raises(
        ValueError, match=r"LayerNorm\(4\): expected input of shape \(batch, \.\.\., 4\)"
    ):
        LayerNorm(4)(np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"LayerNorm\(4\): eps must be positive, got -1"):
        LayerNorm(4, eps=-1)
    with pytest.raises(RuntimeError, match=r"backward\(\) called before forward"):
        LayerNorm(2).backward(np.ones((2, 2)))


@pytest.mark.parametrize(
    "layer", [BatchNorm1d(3, momentum=0.3, eps=1e-3, dtype=np.float32), LayerNorm(3, eps=1e-4)]
)
def test_config_rebuilds_the_layer(layer: BatchNorm1d | LayerNorm) -> None:
    rebuilt = type(layer)(**layer.get_config())
    assert rebuilt.get_config() == layer.get_config()
    assert repr(rebuilt) == repr(layer)
    assert layer.shape_preserving
    assert layer.output_shape((3,)) == (3,)


@pytest.mark.parametrize("training", [True, False])
def test_float32_stays_float32(training: bool) -> None:
    for layer in (BatchNorm1d(3, dtype=np.float32), LayerNorm(3, dtype=np.float32)):
        x = RNG.normal(size=(4, 3)).astype(np.float32)
        y = layer(x, training=training)
        assert y.dtype == np.float32
        assert layer.backward(y).dtype == np.float32
        assert all(p.grad.dtype == np.float32 for p in layer.parameters())
        assert all(b.dtype == np.float32 for _, b in layer.named_buffers())


def test_batchnorm2d_pools_batch_height_and_width_per_channel() -> None:
    layer = BatchNorm2d(3, momentum=0.3)
    x = RNG.normal(1.0, 2.0, size=(4, 3, 5, 6))
    y = layer(x, training=True)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-14)
    var = x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), var / (var + 1e-5), rtol=1e-12)
    n = 4 * 5 * 6
    np.testing.assert_allclose(layer.running_mean, 0.3 * x.mean(axis=(0, 2, 3)), rtol=1e-14)
    np.testing.assert_allclose(layer.running_var, 0.7 + 0.3 * var * n / (n - 1), rtol=1e-14)
    inference = layer(x)  # running statistics now, and they stay put
    mean, std = layer.running_mean[:, None, None], np.sqrt(layer.running_var[:, None, None] + 1e-5)
    np.testing.assert_allclose(inference, (x - mean) / std, rtol=1e-13)
    np.testing.assert_allclose(layer.running_mean, 0.3 * x.mean(axis=(0, 2, 3)), rtol=1e-14)


def test_batchnorm2d_takes_images_only_and_shares_batchnorm1d_code() -> None:
    layer = BatchNorm2d(3)
    with pytest.raises(
        ValueError,
        match=r"BatchNorm2d\(3\): expected input of shape \(batch, 3, \?, \?\), got \(4, 3, 5\)",
    ):
        layer(np.ones((4, 3, 5)))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): training needs more than one value"):
        layer(np.ones((1, 3, 1, 1)), training=True)
    assert type(layer).forward is BatchNorm1d.forward
    assert type(layer).backward is BatchNorm1d.backward
    config = {"num_features": 3, "momentum": 0.1, "eps": 1e-5, "dtype": "float64"}
    assert layer.get_config() == config
    assert [name for name, _ in layer.named_buffers()] == ["running_mean", "running_var"]


def test_layernorm_normalizes_the_last_axis_of_any_rank() -> None:
    layer = LayerNorm(4)
    x = RNG.normal(2.0, 3.0, size=(2, 3, 5, 4))
    y = layer(x)
    np.testing.assert_allclose(y.mean(axis=-1), 0.0, atol=1e-14)
    for index in np.ndindex(2, 3, 5):
        np.testing.assert_allclose(y[index], layer(x[index][np.newaxis])[0], rtol=1e-14)
