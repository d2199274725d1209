"""Pooling layers: values against loop-based references, ties, shapes, dtypes, errors, config."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import layernet
from conftest import FakeBlas
from layernet import (
    AvgPool1d,
    AvgPool2d,
    GlobalAvgPool1d,
    GlobalAvgPool2d,
    MaxPool1d,
    MaxPool2d,
)

Pool2d = MaxPool2d | AvgPool2d


def reference_pool2d(
    x: np.ndarray[Any, Any], k: tuple[int, int], s: tuple[int, int], p: tuple[int, int], op: str
) -> np.ndarray[Any, Any]:
    """Max pads with -inf; average pads with zeros and divides by kh * kw (count_include_pad)."""
    n, c, h, w = x.shape
    fill = -np.inf if op == "max" else 0.0
    xp = np.full((n, c, h + 2 * p[0], w + 2 * p[1]), fill)
    xp[:, :, p[0] : p[0] + h, p[1] : p[1] + w] = x
    h_out = (h + 2 * p[0] - k[0]) // s[0] + 1
    w_out = (w + 2 * p[1] - k[1]) // s[1] + 1
    y = np.zeros((n, c, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, :, i * s[0] : i * s[0] + k[0], j * s[1] : j * s[1] + k[1]]
            y[:, :, i, j] = window.max(axis=(2, 3)) if op == "max" else window.mean(axis=(2, 3))
    return y


CONFIGS = [
    ((2, 2), None, (0, 0)),
    ((3, 3), (2, 2), (1, 1)),
    ((2, 3), (1, 2), (1, 1)),
    ((3, 2), (3, 1), (0, 1)),
]


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize(("k", "s", "p"), CONFIGS)
def test_pool2d_matches_the_loop_reference(
    op: str, k: tuple[int, int], s: tuple[int, int] | None, p: tuple[int, int]
) -> None:
    x = np.random.default_rng(0).normal(size=(2, 3, 7, 8))
    layer: Pool2d = MaxPool2d(k, s, p) if op == "max" else AvgPool2d(k, s, p)
    expected = reference_pool2d(x, k, s or k, p, op)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-12)
    assert layer.output_shape((3, 7, 8)) == expected.shape[1:]


@pytest.mark.parametrize("op", ["max", "avg"])
def test_pool1d_is_pool2d_on_a_height_one_image(op: str) -> None:
    x = np.random.default_rng(1).normal(size=(2, 3, 11))
    layer = MaxPool1d(3, 2, 1) if op == "max" else AvgPool1d(3, 2, 1)
    expected = reference_pool2d(x[:, :, None, :], (1, 3), (1, 2), (0, 1), op)[:, :, 0, :]
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-12)
    assert layer.output_shape((3, 11)) == (3, 6)


def test_global_average_pools_average_every_position() -> None:
    x = np.random.default_rng(2).normal(size=(2, 3, 4, 5))
    np.testing.assert_allclose(GlobalAvgPool2d()(x), x.mean(axis=(2, 3)), rtol=1e-12)
    np.testing.assert_allclose(GlobalAvgPool1d()(x[:, :, 0]), x[:, :, 0].mean(axis=2), rtol=1e-12)
    layer = GlobalAvgPool2d()
    layer(x)
    g = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(
        layer.backward(g), np.broadcast_to(g[:, :, None, None] / 20, x.shape)
    )
    assert layer.output_shape((3, 4, 5)) == (3,)
    assert layer.output_shape(None) == (None,)


def test_max_pool_routes_the_gradient_to_the_winner() -> None:
    x = np.array([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 7.0]]]])
    layer = MaxPool2d(2)
    np.testing.assert_array_equal(layer(x), [[[[5.0, 8.0]]]])
    dx = layer.backward(np.array([[[[10.0, 20.0]]]]))
    np.testing.assert_array_equal(dx, [[[[0.0, 10.0, 0.0, 0.0], [0.0, 0.0, 20.0, 0.0]]]])


def test_max_pool_ties_send_the_gradient_to_the_first_element_only() -> None:
    # torch scans each window row by row and keeps the first maximum.
    layer = MaxPool2d(2)
    layer(np.zeros((1, 1, 2, 4)))
    dx = layer.backward(np.ones((1, 1, 1, 2)))
    np.testing.assert_array_equal(dx, [[[[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]])
    # overlapping windows with padding: each output sends its gradient exactly once
    layer = MaxPool2d(3, 1, 1)
    layer(np.zeros((1, 1, 4, 4)))
    dx = layer.backward(np.ones((1, 1, 4, 4)))
    assert dx.sum() == 16.0
    np.testing.assert_array_equal(
        dx[0, 0], [[4.0, 2.0, 2.0, 0.0], [2.0, 1.0, 1.0, 0.0], [2.0, 1.0, 1.0, 0.0], [0.0] * 4]
    )


def test_max_pool_never_picks_padding() -> None:
    x = -np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # every value below the zero padding
    layer = MaxPool2d(3, 2, 1)
    y = layer(x)
    np.testing.assert_array_equal(y, [[[[-1.0, -2.0], [-4.0, -5.0]]]])
    np.testing.assert_array_equal(layer.backward(np.ones_like(y)).sum(), 4.0)


def test_max_pool_propagates_nan() -> None:
    """In forward, as in torch; the public call refuses NaN input before it gets there."""
    x = np.array([[[1.0, np.nan, 2.0, 3.0]]])
    np.testing.assert_array_equal(MaxPool1d(2).forward(x), [[[np.nan, 3.0]]])
    with pytest.raises(ValueError, match=r"MaxPool1d\(kernel_size=2\) input: contains 1 NaN"):
        MaxPool1d(2)(x)


def test_average_pool_counts_padding_in_the_average() -> None:
    x = np.ones((1, 1, 2, 2))
    y = AvgPool2d(2, 2, 1)(x)
    np.testing.assert_allclose(y, np.full((1, 1, 2, 2), 0.25))
    layer = AvgPool1d(2, 1)
    layer(np.ones((1, 1, 3)))
    np.testing.assert_allclose(layer.backward(np.ones((1, 1, 2))), [[[0.5, 1.0, 0.5]]])


@pytest.mark.parametrize(
    "layer",
    [MaxPool2d(2), MaxPool1d(3, 2, 1), AvgPool2d(3, 2, 1), AvgPool1d(2), GlobalAvgPool2d()],
    ids=repr,
)
def test_float32_end_to_end(layer: layernet.Layer) -> None:
    shape = (2, 3, 6) if "1d" in type(layer).__name__ else (2, 3, 6, 5)
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    y = layer(x)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    np.testing.assert_allclose(y, layer(x.astype(np.float64)), rtol=1e-6, atol=1e-6)
    assert layer(x.astype(np.float64)).dtype == np.float64


@pytest.mark.parametrize(
    "layer",
    [
        MaxPool2d(2),
        MaxPool2d((3, 2), stride=(1, 2), padding=(1, 0)),
        MaxPool1d(3, 2, 1),
        AvgPool2d(3, 2, 1),
        AvgPool1d(4),
        GlobalAvgPool1d(),
        GlobalAvgPool2d(),
    ],
    ids=repr,
)
def test_get_config_rebuilds_the_layer(layer: layernet.Layer) -> None:
    config = layer.get_config()
    clone = type(layer)(**config)
    assert clone.get_config() == config
    assert repr(clone) == repr(layer)


def test_repr_and_default_stride() -> None:
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2))"
    assert MaxPool2d(2).stride == (2, 2)
    assert repr(AvgPool1d(3, 1, 1)) == "AvgPool1d(kernel_size=3, stride=1, padding=1)"
    assert repr(GlobalAvgPool2d()) == "GlobalAvgPool2d()"


def test_backward_before_forward_is_a_runtime_error() -> None:
    for layer in (MaxPool2d(2), AvgPool1d(2), GlobalAvgPool2d()):
        with pytest.raises(RuntimeError, match=r"backward\(\) called before forward"):
            layer.backward(np.ones((1, 1, 1, 1)))


def test_pools_fit_in_a_sequential() -> None:
    model = layernet.Sequential(
        [
            layernet.Conv2d(1, 4, 3, padding=1, rng=0),
            MaxPool2d(2),
            layernet.Conv2d(4, 6, 3, padding="same", rng=1),
            AvgPool2d(2),
            GlobalAvgPool2d(),
            layernet.Dense(6, 2, rng=2),
        ]
    )
    assert model.predict(np.zeros((3, 1, 8, 8))).shape == (3, 2)
    assert "(batch, 6)" in model.summary()
    with pytest.raises(ValueError, match=r"Dense\(5 -> 2\) at position 2 expects .*\(batch, 4\)"):
        layernet.Sequential(
            [layernet.Conv2d(1, 4, 3, rng=0), GlobalAvgPool2d(), layernet.Dense(5, 2, rng=0)]
        )


# -- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kernel_size": 0}, ValueError, r"kernel_size must be positive, got 0"),
        ({"stride": 0}, ValueError, r"stride must be positive, got 0"),
        ({"padding": -1}, ValueError, r"padding must be non-negative, got -1"),
        (
            {"padding": 2},
            ValueError,
            r"padding must be at most half the kernel size .*got padding=2",
        ),
        ({"kernel_size": (2, 2, 2)}, ValueError, r"kernel_size must be an int or a sequence of 2"),
        ({"kernel_size": "2"}, TypeError, r"kernel_size must be an int .*got str '2'"),
    ],
)
@pytest.mark.parametrize("cls", [MaxPool2d, AvgPool2d])
def test_bad_arguments_fail_at_construction(
    cls: type[Pool2d], kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    args: dict[str, Any] = {"kernel_size": 3} | kwargs
    with pytest.raises(error, match=rf"{cls.__name__}\(kernel_size=.*\): " + match):
        cls(**args)


def test_a_window_larger_than_the_padded_input_is_rejected() -> None:
    with pytest.raises(
        ValueError,
        match=r"MaxPool2d\(kernel_size=\(3, 3\)\): the kernel spans \(3, 3\) but the padded input "
        r"is only \(2, 5\) \(input of shape \(1, 2, 2, 5\): spatial size \(2, 5\)",
    ):
        MaxPool2d(3)(np.zeros((1, 2, 2, 5)))
    with pytest.raises(ValueError, match=r"AvgPool1d\(kernel_size=4\) at position 0: .*spans 4"):
        layernet.Sequential([AvgPool1d(4)]).predict(np.zeros((1, 2, 3)))
    with pytest.raises(
        ValueError, match=r"MaxPool1d\(kernel_size=5, padding=1\): the kernel spans 5 .*only 4"
    ):
        MaxPool1d(5, padding=1).output_shape((2, 2))


def test_wrong_number_of_axes_is_rejected_with_a_hint() -> None:
    with pytest.raises(
        ValueError,
        match=r"MaxPool2d\(kernel_size=\(2, 2\)\): expected input of shape \(batch, \?, \?, \?\), "
        r"got \(3, 4, 4\); a single sample must still carry the batch axis",
    ):
        MaxPool2d(2)(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match=r"GlobalAvgPool1d\(\): expected input of shape"):
        GlobalAvgPool1d()(np.zeros((2, 3, 4, 5)))
    assert math.isnan(float(GlobalAvgPool1d().forward(np.array([[[np.nan]]]))[0, 0]))


@pytest.mark.parametrize(
    "layer", [MaxPool2d(2), AvgPool1d(2), GlobalAvgPool2d(), GlobalAvgPool1d()], ids=repr
)
def test_an_empty_batch_gives_empty_outputs(layer: layernet.Layer) -> None:
    """forward (the unchecked fast path) handles batch 0; the public call refuses it."""
    shape = (0, 3, 4) if "1d" in type(layer).__name__ else (0, 3, 4, 4)
    with pytest.raises(ValueError, match=r"got an empty batch"):
        layer(np.zeros(shape))
    y = layer.forward(np.zeros(shape))
    assert y.shape[:2] == (0, 3)
    assert layer.backward(y).shape == shape


@pytest.mark.parametrize(
    ("layer", "shape"),
    [(AvgPool1d(2), (2, 1, 2)), (AvgPool2d(2), (1, 1, 4, 4)), (MaxPool1d(2), (2, 3, 2))],
    ids=repr,
)
def test_backward_leaves_grad_out_alone_and_repeats(layer: layernet.Layer, shape: Any) -> None:
    """One output position (or one row) makes the pool-major transpose a no-op view.

    The property suite found AvgPool's backward then scaling the caller's
    ``grad_out`` in place, so a second backward returned half the gradient.
    """
    x = np.random.default_rng(0).normal(size=shape)
    y = layer(x)
    g = np.ones_like(y)
    first = layer.backward(g)
    np.testing.assert_array_equal(g, 1.0)
    np.testing.assert_array_equal(layer.backward(g), first)


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize(
    ("kernel", "shape"), [(2, (2, 3, 6, 16)), (2, (2, 3, 7, 19)), ((3, 2), (1, 2, 10, 33))]
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_windows_that_tile_long_rows_agree_with_the_general_path(
    op: str,
    kernel: int | tuple[int, int],
    shape: tuple[int, int, int, int],
    dtype: type[np.floating[Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stride = kernel, no padding, rows of 16 or more: the tiled fast path, same numbers."""
    from layernet.layers import pooling

    rng = np.random.default_rng(3)
    x = np.maximum(rng.normal(size=shape), 0.0).astype(dtype)  # ReLU-like: whole windows tie at 0
    x[0, 0, :2] = np.round(x[0, 0, :2])  # and ties between positive values
    layer: Pool2d = MaxPool2d(kernel) if op == "max" else AvgPool2d(kernel)
    assert layer._tiled(x.shape)
    y = layer(x)
    k = (layer.kernel_size[0], layer.kernel_size[1])
    np.testing.assert_allclose(
        y, reference_pool2d(x.astype(np.float64), k, k, (0, 0), op), rtol=1e-6
    )
    g = rng.normal(size=y.shape).astype(dtype)
    dx = layer.backward(g)
    assert y.dtype == dx.dtype == dtype
    monkeypatch.setattr(pooling, "_LONG_ROW", 10**9)  # every batch takes the general path now
    assert not layer._tiled(x.shape)
    np.testing.assert_allclose(layer(x), y, rtol=1e-12 if dtype == np.float64 else 1e-6)
    expected = layer.backward(g)
    if op == "max":  # a selection: exactly the same numbers, ties routed to the same input
        np.testing.assert_array_equal(dx, expected)
    else:
        np.testing.assert_allclose(dx, expected, rtol=1e-12 if dtype == np.float64 else 1e-6)


@pytest.mark.parametrize("cls", [layernet.MaxPool1d, layernet.MaxPool2d])
def test_a_tiled_max_pool_in_chunks_over_threads_is_what_one_pass_gives(
    cls: type[layernet.MaxPool1d] | type[layernet.MaxPool2d],
    blas: FakeBlas,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bit for bit, ties (the first offset wins) and NaN included, on 1 and 2 threads."""
    nd = 1 if cls is layernet.MaxPool1d else 2
    rng = np.random.default_rng(0)
    shape = (7, 3, *(32,) * nd)
    x = rng.integers(-3, 3, size=shape).astype(np.float64)  # many ties
    x.reshape(-1)[::97] = np.nan
    g = rng.normal(size=(7, 3, *(16,) * nd))
    whole = cls(2)
    y, dx = whole.forward(x, training=True), whole.backward(g)
    per_image = x[0].nbytes
    monkeypatch.setattr("layernet.layers.pooling._CHUNK_BYTES", 2 * per_image)
    for threads in (1, 2):
        blas.threads = threads
        chunked = cls(2)
        np.testing.assert_array_equal(chunked.forward(x, training=True), y)
        np.testing.assert_array_equal(chunked.backward(g), dx)
    assert blas.history == [1, 2, 1, 2]  # forward and backward went over threads
