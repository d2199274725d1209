"""Conv1d and Conv2d: values against a loop-based reference, shapes, dtypes, errors, config."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import layernet
from conftest import FakeBlas
from layernet import Conv1d, Conv2d
from layernet.layers.spec import InputSpec


def reference_conv2d(
    x: np.ndarray[Any, Any],
    w: np.ndarray[Any, Any],
    b: np.ndarray[Any, Any],
    stride: Sequence[int],
    pad: Sequence[int],
    dilation: Sequence[int],
) -> np.ndarray[Any, Any]:
    """Direct definition, one output element at a time. pad = (top, bottom, left, right)."""
    n, c, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    xp = np.zeros((n, c, h + pad[0] + pad[1], wd + pad[2] + pad[3]))
    xp[:, :, pad[0] : pad[0] + h, pad[2] : pad[2] + wd] = x
    h_out = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    w_out = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, c_out, h_out, w_out))
    for s in range(n):
        for o in range(c_out):
            for i in range(h_out):
                for j in range(w_out):
                    total = b[o]
                    for ci in range(c):
                        for p in range(kh):
                            for q in range(kw):
                                total += (
                                    w[o, ci, p, q] * xp[s, ci, i * sh + p * dh, j * sw + q * dw]
                                )
                    y[s, o, i, j] = total
    return y


def torch_out(length: int, k: int, s: int, p: int, d: int) -> int:
    """torch's documented rule: floor((L + 2p - d(k-1) - 1) / s) + 1."""
    return (length + 2 * p - d * (k - 1) - 1) // s + 1


# -- forward values ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "pad"),
    [
        ({}, (0, 0, 0, 0)),
        ({"stride": 2, "padding": 1}, (1, 1, 1, 1)),
        ({"stride": (1, 2), "padding": (2, 0), "dilation": (2, 1)}, (2, 2, 0, 0)),
        ({"padding": "same"}, (1, 1, 1, 1)),
        ({"padding": "valid", "dilation": 2}, (0, 0, 0, 0)),
    ],
)
def test_conv2d_matches_the_loop_reference(kwargs: dict[str, Any], pad: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    layer = Conv2d(3, 4, 3, rng=1, **kwargs)
    x = rng.normal(size=(2, 3, 7, 8))
    w, b = layer.weight.value, layer.bias.value
    expected = reference_conv2d(x, w, b, layer.stride, pad, layer.dilation)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-12)


def test_same_padding_puts_the_odd_one_after_like_torch() -> None:
    # kernel (2, 4): total padding 1 and 3, split as (0, 1) and (1, 2).
    rng = np.random.default_rng(1)
    layer = Conv2d(2, 3, (2, 4), padding="same", rng=2)
    x = rng.normal(size=(2, 2, 5, 6))
    expected = reference_conv2d(
        x, layer.weight.value, layer.bias.value, (1, 1), (0, 1, 1, 2), (1, 1)
    )
    y = layer(x)
    assert y.shape == (2, 3, 5, 6)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


def test_conv1d_is_conv2d_on_a_height_one_image() -> None:
    rng = np.random.default_rng(2)
    layer = Conv1d(3, 2, 4, stride=2, padding=3, dilation=2, rng=3)
    x = rng.normal(size=(4, 3, 13))
    w = layer.weight.value[:, :, None, :]
    expected = reference_conv2d(x[:, :, None, :], w, layer.bias.value, (1, 2), (0, 0, 3, 3), (1, 2))
    expected = expected[:, :, 0, :]
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-12)


SIDES = st.integers(1, 7)
"""Image heights and widths for the random geometries."""
GEOMETRY = {
    "k": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "p": st.tuples(st.integers(0, 2), st.integers(0, 2)),
    "d": st.tuples(st.integers(1, 2), st.integers(1, 2)),
}
"""Kernel sizes, paddings and dilations per axis for the random geometries."""


@settings(max_examples=25, deadline=None)
@given(
    h=SIDES,
    w=SIDES,
    s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    bias=st.booleans(),
    **GEOMETRY,
)
def test_conv2d_matches_the_reference_on_random_geometries(
    h: int,
    w: int,
    k: tuple[int, int],
    s: tuple[int, int],
    p: tuple[int, int],
    d: tuple[int, int],
    bias: bool,
) -> None:
    if h + 2 * p[0] < d[0] * (k[0] - 1) + 1 or w + 2 * p[1] < d[1] * (k[1] - 1) + 1:
        return  # the kernel does not fit; tested among the errors
    layer = Conv2d(2, 3, k, s, p, d, bias=bias, rng=0)
    x = np.random.default_rng(h * 10 + w).normal(size=(2, 2, h, w))
    y = layer(x)
    assert y.shape == (
        2,
        3,
        torch_out(h, k[0], s[0], p[0], d[0]),
        torch_out(w, k[1], s[1], p[1], d[1]),
    )
    expected = reference_conv2d(
        x, layer.weight.value, layer.bias.value, s, (p[0], p[0], p[1], p[1]), d
    )
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    if not bias:
        np.testing.assert_array_equal(layer.bias.value, 0.0)


def test_conv2d_backward_of_a_one_hot_gradient_is_the_flipped_weight() -> None:
    # dL/dx for a single output (0, o, i, j) is W[o] placed at that window.
    layer = Conv2d(2, 3, 3, padding=1, rng=4)
    layer(np.zeros((1, 2, 5, 5)))
    g = np.zeros((1, 3, 5, 5))
    g[0, 1, 2, 2] = 1.0
    dx = layer.backward(g)
    expected = np.zeros((1, 2, 5, 5))
    expected[0, :, 1:4, 1:4] = layer.weight.value[1]
    np.testing.assert_allclose(dx, expected, rtol=0, atol=1e-15)


@settings(max_examples=25, deadline=None)
@given(h=SIDES, w=SIDES, **GEOMETRY)
def test_weight_gradients_from_either_im2col_agree(
    h: int, w: int, k: tuple[int, int], p: tuple[int, int], d: tuple[int, int]
) -> None:
    """Stride 1: dL/dW from the im2col of dL/dy (offsets flipped) is dL/dW from the input's."""
    spans = [di * (ki - 1) for ki, di in zip(k, d, strict=True)]
    if any(pi > span for pi, span in zip(p, spans, strict=True)):
        return  # no im2col of dL/dy: col2im, tested with the strides
    if h + 2 * p[0] <= spans[0] or w + 2 * p[1] <= spans[1]:
        return  # the kernel does not fit; tested among the errors
    layer = Conv2d(2, 3, k, 1, p, d, rng=0)
    rng = np.random.default_rng(h * 10 + w)
    x = rng.normal(size=(3, 2, h, w))
    g = rng.normal(size=layer.forward(x).shape)
    results = []
    for from_grad in (False, True):
        with mock.patch.object(Conv2d, "_weights_from_grad", return_value=from_grad):
            layer.forward(x, training=True)
            dx = layer.backward(g)
        results.append((dx, layer.weight.grad.copy(), layer.bias.grad.copy()))
    for got, want in zip(*results, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("c_in", "c_out", "kwargs", "chunks", "expected"),
    [
        (8, 8, {"padding": 1}, 4, True),  # the cifar case
        (8, 32, {"padding": 1}, 4, True),  # widening 4 times
        (3, 32, {"padding": 1}, 4, False),  # a first RGB layer: its own im2col is smaller
        (8, 8, {}, 4, False),  # valid: more input positions than output ones
        (8, 8, {"padding": 1, "stride": 2}, 4, False),  # no flipped-kernel convolution
        (8, 8, {"padding": 1}, 1, False),  # one chunk: its im2col is still in the buffer
    ],
)
def test_which_im2col_gives_the_weight_gradient(
    c_in: int,
    c_out: int,
    kwargs: dict[str, Any],
    chunks: int,
    expected: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layer = Conv2d(c_in, c_out, 3, rng=0, **kwargs)
    x = np.zeros((4, c_in, 6, 6))
    monkeypatch.setattr("layernet.layers.conv._CHUNK_BYTES", 1 if chunks > 1 else 1 << 30)
    layer.forward(x, training=True)
    assert layer._work is not None
    assert len(layer._work.chunks) == chunks
    assert layer._weights_from_grad(layer._work) is expected


# -- shapes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("h", "k", "s", "p", "d"),
    [(8, 3, 1, 1, 1), (9, 3, 2, 0, 1), (10, 4, 3, 2, 1), (11, 3, 2, 2, 2), (5, 5, 1, 0, 1)],
)
def test_output_shapes_follow_torch_formula(h: int, k: int, s: int, p: int, d: int) -> None:
    expected = torch_out(h, k, s, p, d)
    conv2 = Conv2d(1, 2, k, s, p, d, rng=0)
    assert conv2.output_shape((1, h, h + 1)) == (2, expected, torch_out(h + 1, k, s, p, d))
    assert conv2(np.zeros((1, 1, h, h + 1))).shape == (1, 2, expected, torch_out(h + 1, k, s, p, d))
    conv1 = Conv1d(1, 2, k, s, p, d, rng=0)
    assert conv1.output_shape((1, h)) == (2, expected)
    assert conv1(np.zeros((3, 1, h))).shape == (3, 2, expected)


def test_output_shape_with_unknown_sizes() -> None:
    layer = Conv2d(3, 8, 3, padding=1, rng=0)
    assert layer.input_spec == InputSpec.of_shape((3, None, None))
    assert layer.output_shape(None) == (8, None, None)
    assert layer.output_shape((3, None, 10)) == (8, None, 10)
    assert Conv1d(3, 8, 3, rng=0).output_shape((3, None)) == (8, None)


def test_weights_use_torch_layout_and_default_initialization() -> None:
    layer = Conv2d(4, 6, (3, 2), rng=0)
    assert layer.weight.shape == (6, 4, 3, 2)
    assert layer.bias.shape == (6,)
    bound = 1.0 / np.sqrt(4 * 3 * 2)
    assert np.abs(layer.weight.value).max() <= bound
    assert np.abs(layer.bias.value).max() <= bound
    assert np.abs(layer.weight.value).max() > 0.8 * bound  # drawn over the whole interval
    np.testing.assert_array_equal(layer.weight.value, Conv2d(4, 6, (3, 2), rng=0).weight.value)
    assert Conv1d(4, 6, 5, rng=0).weight.shape == (6, 4, 5)


def test_initializers_are_selectable_and_get_conv_fans() -> None:
    seen: dict[str, int] = {}

    def spy(
        shape: tuple[int, ...], *, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> np.ndarray[Any, np.dtype[np.float64]]:
        seen.update(fan_in=fan_in, fan_out=fan_out)
        return np.full(shape, 0.5)

    layer = Conv2d(3, 5, (2, 4), weight_init=spy, bias_init="zeros", rng=0)
    assert seen == {"fan_in": 3 * 2 * 4, "fan_out": 5 * 2 * 4}
    np.testing.assert_array_equal(layer.weight.value, 0.5)
    np.testing.assert_array_equal(layer.bias.value, 0.0)
    he = Conv1d(2, 3, 3, weight_init="he_normal", rng=0)
    assert he.weight.value.std() > 0


@pytest.mark.parametrize("bias", ["no", 0, None])
def test_bias_must_be_a_bool_not_something_truthy(bias: object) -> None:
    with pytest.raises(TypeError, match=r"Conv2d\(2 -> 3\): bias must be True or False, got "):
        Conv2d(2, 3, 3, bias=bias)  # type: ignore[arg-type]


def test_bias_false_keeps_a_zero_bias_that_is_never_trained() -> None:
    layer = Conv2d(2, 3, 3, bias=False, rng=0)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert set(layer.state_dict()) == {"weight"}
    x = np.random.default_rng(0).normal(size=(2, 2, 4, 4))
    y = layer(x)
    layer.backward(np.ones_like(y))
    np.testing.assert_array_equal(layer.bias.value, 0.0)
    np.testing.assert_array_equal(layer.bias.grad, 0.0)


# -- dtypes and buffers --------------------------------------------------------------


@pytest.mark.parametrize("cls", [Conv1d, Conv2d])
def test_float32_end_to_end(cls: type[Conv1d] | type[Conv2d]) -> None:
    layer = cls(3, 4, 3, padding="same", dtype=np.float32, rng=0)
    shape = (2, 3, 6) if cls is Conv1d else (2, 3, 6, 5)
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    y = layer(x)
    assert y.dtype == np.float32
    dx = layer.backward(np.ones_like(y))
    assert dx.dtype == np.float32
    assert layer.weight.grad.dtype == np.float32
    assert layer.bias.grad.dtype == np.float32
    ref = cls(3, 4, 3, padding="same", rng=0)
    np.testing.assert_allclose(y, ref(x.astype(np.float64)), rtol=1e-5, atol=1e-5)
    assert layer(x.astype(np.float64)).dtype == np.float32  # __call__ converts once


def test_backward_overwrites_gradients_and_outputs_are_fresh() -> None:
    rng = np.random.default_rng(0)
    layer = Conv2d(2, 3, 3, stride=2, padding=1, rng=0)
    x = rng.normal(size=(3, 2, 6, 6))
    y1 = layer(x)
    g = rng.normal(size=y1.shape)
    dx1 = layer.backward(g)
    w_grad = layer.weight.grad.copy()
    y2 = layer(x)
    dx2 = layer.backward(g)
    np.testing.assert_array_equal(layer.weight.grad, w_grad)
    np.testing.assert_array_equal(dx1, dx2)
    assert not np.shares_memory(y1, y2)
    assert not np.shares_memory(dx1, dx2)
    # a new batch size re-plans the buffers
    y3 = layer(x[:1])
    np.testing.assert_allclose(y3, y1[:1], rtol=1e-12)
    assert layer.backward(g[:1]).shape == (1, 2, 6, 6)


def test_backward_before_forward_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError, match=r"Conv2d\(2 -> 3.*backward\(\) called before forward"):
        Conv2d(2, 3, 3, rng=0).backward(np.ones((1, 3, 2, 2)))


# -- config, repr, Sequential --------------------------------------------------------


@pytest.mark.parametrize(
    "layer",
    [
        Conv2d(2, 3, (3, 1), stride=(2, 1), padding=(1, 0), dilation=(1, 2), bias=False, rng=0),
        Conv2d(2, 3, 3, padding="same", dtype=np.float32, rng=0),
        Conv1d(2, 3, 5, stride=2, padding=2, dilation=3, rng=0),
        Conv1d(2, 3, 4, padding="valid", rng=0),
    ],
    ids=repr,
)
def test_get_config_rebuilds_the_layer(layer: Conv1d | Conv2d) -> None:
    config = layer.get_config()
    clone = type(layer)(**config)
    assert clone.get_config() == config
    assert repr(clone) == repr(layer)
    assert clone.dtype == layer.dtype
    assert clone.weight.shape == layer.weight.shape
    # JSON turns tuples into lists; tuples work as well
    as_tuples: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in config.items()
    }
    assert type(layer)(**as_tuples).get_config() == config


def test_repr_names_what_is_not_default() -> None:
    assert repr(Conv2d(1, 16, 3, rng=0)) == "Conv2d(1 -> 16, kernel_size=(3, 3))"
    assert (
        repr(Conv2d(1, 16, 3, stride=2, padding=1, dilation=2, bias=False, rng=0))
        == "Conv2d(1 -> 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
        "dilation=(2, 2), bias=False)"
    )
    assert repr(Conv1d(4, 8, 5, padding="same", rng=0)) == (
        "Conv1d(4 -> 8, kernel_size=5, padding='same')"
    )


def test_sequential_checks_channels_and_summarises() -> None:
    model = layernet.Sequential(
        [Conv2d(1, 4, 3, padding=1, rng=0), layernet.Sigmoid(), Conv2d(4, 2, 3, rng=1)]
    )
    text = model.summary()
    assert "(batch, 4, ?, ?)" in text
    assert "(batch, 2, ?, ?)" in text
    assert f"{4 * 9 + 4 + 2 * 4 * 9 + 2:,}" in text
    assert model.predict(np.zeros((2, 1, 6, 6))).shape == (2, 2, 4, 4)
    with pytest.raises(ValueError, match=r"Conv2d\(3 -> 2.*at position 2 expects input of shape"):
        layernet.Sequential([Conv2d(1, 4, 3, rng=0), layernet.Sigmoid(), Conv2d(3, 2, 3, rng=1)])


# -- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kernel_size": 0}, ValueError, r"kernel_size must be positive, got 0"),
        ({"kernel_size": (3, 0)}, ValueError, r"kernel_size must be positive, got \(3, 0\)"),
        ({"kernel_size": (3, 3, 3)}, ValueError, r"kernel_size must be an int or a sequence of 2"),
        ({"kernel_size": 2.5}, TypeError, r"kernel_size must be an int .* got float 2.5"),
        ({"stride": 0}, ValueError, r"stride must be positive, got 0"),
        ({"stride": -1}, ValueError, r"stride must be positive, got -1"),
        ({"dilation": 0}, ValueError, r"dilation must be positive, got 0"),
        ({"padding": -1}, ValueError, r"padding must be non-negative, got -1"),
        ({"padding": "full"}, ValueError, r"padding must be .*'same' or 'valid', got 'full'"),
        (
            {"padding": "same", "stride": 2},
            ValueError,
            r"padding='same' needs stride 1 .*got stride=2",
        ),
        ({"in_channels": 0}, ValueError, r"in_channels must be a positive integer, got 0"),
        ({"out_channels": -2}, ValueError, r"out_channels must be a positive integer, got -2"),
    ],
)
def test_bad_arguments_fail_at_construction(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    args: dict[str, Any] = {"in_channels": 2, "out_channels": 3, "kernel_size": 3} | kwargs
    with pytest.raises(error, match=r"Conv2d\(.*\): " + match):
        Conv2d(**args)


def test_conv1d_rejects_a_pair() -> None:
    with pytest.raises(ValueError, match=r"Conv1d\(2 -> 3\): kernel_size must be an int or a"):
        Conv1d(2, 3, (3, 3))


def test_channels_that_do_not_match_name_the_layer_and_the_fix() -> None:
    layer = Conv2d(3, 8, 3, rng=0)
    with pytest.raises(
        ValueError,
        match=r"Conv2d\(3 -> 8, kernel_size=\(3, 3\)\): expected input of shape "
        r"\(batch, 3, \?, \?\), got \(2, 5, 8, 8\); the input has 5 channels where 3 are "
        r"expected \(channels first\).*in_channels=5",
    ):
        layer(np.zeros((2, 5, 8, 8)))
    with pytest.raises(ValueError, match=r"x.transpose\(0, 3, 1, 2\)"):
        layer(np.zeros((2, 8, 8, 5)))  # channels last


def test_a_kernel_larger_than_the_padded_input_is_rejected() -> None:
    layer = Conv2d(1, 2, 5, padding=1, rng=0)
    with pytest.raises(
        ValueError,
        match=r"Conv2d\(1 -> 2, .*\): the kernel spans \(5, 5\) but the padded input is only "
        r"\(4, 8\) \(input of shape \(1, 1, 2, 6\): spatial size \(2, 6\), padding",
    ):
        layer(np.zeros((1, 1, 2, 6)))
    model = layernet.Sequential([layernet.Sigmoid(), Conv1d(1, 1, 4, dilation=2, rng=0)])
    with pytest.raises(ValueError, match=r"Conv1d.* at position 1: the kernel spans 7 .* only 6"):
        model.predict(np.zeros((3, 1, 6)))
    with pytest.raises(ValueError, match="the kernel spans 7"):
        Conv1d(1, 1, 4, dilation=2, rng=0).output_shape((1, 6))


def test_a_missing_batch_axis_says_how_to_add_it() -> None:
    with pytest.raises(
        ValueError,
        match=r"expected input of shape \(batch, 3, \?, \?\), got \(3, 8, 8\); a single sample "
        r"must still carry the batch axis: use x\[np.newaxis\]",
    ):
        Conv2d(3, 4, 3, rng=0)(np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match=r"got \(8,\); channels come first"):
        Conv1d(3, 4, 3, rng=0)(np.zeros(8))


@pytest.mark.parametrize(("cls", "shape"), [(Conv1d, (0, 2, 5)), (Conv2d, (0, 2, 5, 4))])
def test_an_empty_batch_gives_empty_outputs_and_zero_weight_gradients(
    cls: type[Conv1d] | type[Conv2d], shape: tuple[int, ...]
) -> None:
    """forward (the unchecked fast path) handles batch 0; the public call refuses it."""
    layer = cls(2, 3, 3, padding=1, rng=0)
    with pytest.raises(ValueError, match=r"got an empty batch \(input of shape \(0, 2, 5"):
        layer(np.zeros(shape))
    y = layer.forward(np.zeros(shape))
    assert y.shape == (0, 3, *shape[2:])
    assert layer.backward(y).shape == shape
    np.testing.assert_array_equal(layer.weight.grad, 0.0)


@pytest.mark.parametrize(("cls", "shape"), [(Conv1d, (1, 2, 5)), (Conv2d, (1, 2, 5, 4))])
def test_the_returned_input_gradient_survives_the_next_call(
    cls: type[Conv1d] | type[Conv2d], shape: tuple[int, ...]
) -> None:
    """With batch 1 the gradient was a view of the workspace that the next forward reuses."""
    layer = cls(2, 3, 3, padding=1, rng=0)
    x = np.random.default_rng(0).normal(size=shape)
    y = layer(x)
    dx = layer.backward(np.ones_like(y))
    kept = dx.copy()
    layer.backward(2.0 * np.ones_like(y))
    layer(x + 1.0)
    np.testing.assert_array_equal(dx, kept)


# -- the batch in chunks ----------------------------------------------------------------

CHUNKED = [
    pytest.param(Conv2d, {"padding": 1}, (5, 3, 6, 7), id="same-3x3"),  # one run per offset
    pytest.param(Conv2d, {"padding": "same", "dilation": (2, 1)}, (5, 3, 7, 6), id="same-dilated"),
    pytest.param(Conv2d, {"padding": (2, 1), "kernel_size": (2, 3)}, (5, 3, 5, 6), id="wider-pad"),
    pytest.param(Conv2d, {"stride": 2, "padding": 1}, (5, 3, 7, 6), id="strided"),
    pytest.param(Conv2d, {}, (5, 3, 6, 6), id="valid"),
    pytest.param(Conv1d, {"padding": 1, "bias": False}, (5, 3, 9), id="conv1d"),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(("cls", "kwargs", "shape"), CHUNKED)
def test_a_batch_in_chunks_computes_what_one_chunk_does(
    cls: type[Conv1d] | type[Conv2d],
    kwargs: dict[str, Any],
    shape: tuple[int, ...],
    threads: int,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """Large images go through im2col a few at a time; 2, 2 and 1 images here.

    With two threads the chunks are shared out between them (the BLAS
    thread count is a stand-in, see conftest.py).
    """
    if threads == 2:
        request.getfixturevalue("blas")
    options = {"kernel_size": 3, **kwargs}
    whole, chunked = cls(3, 4, rng=0, **options), cls(3, 4, rng=0, **options)
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape)
    y = whole.forward(x, training=True)
    g = rng.normal(size=y.shape)
    dx = whole.backward(g)
    per_image = 3 * int(np.prod(chunked.kernel_size)) * int(np.prod(y.shape[2:])) * 8
    monkeypatch.setattr("layernet.layers.conv._CHUNK_BYTES", 2 * per_image + 1)
    np.testing.assert_allclose(chunked.forward(x, training=True), y, rtol=1e-13, atol=1e-13)
    for _ in range(2):  # the second time no chunk's im2col is still in its buffer
        np.testing.assert_allclose(chunked.backward(g), dx, rtol=1e-13, atol=1e-13)
        for name, p in whole.named_parameters():
            grad = dict(chunked.named_parameters())[name].grad
            np.testing.assert_allclose(grad, p.grad, rtol=1e-13, atol=1e-13, err_msg=name)
    chunked.weight.grad[...] = 0.0
    chunked.forward(x, training=True)
    chunked.backward_parameters(g)
    np.testing.assert_allclose(chunked.weight.grad, whole.weight.grad, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize(("cls", "kwargs", "shape"), CHUNKED)
def test_the_result_does_not_depend_on_the_threads(
    cls: type[Conv1d] | type[Conv2d],
    kwargs: dict[str, Any],
    shape: tuple[int, ...],
    blas: FakeBlas,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bit for bit: each chunk's share of dL/dW is summed in chunk order, whoever ran it."""
    monkeypatch.setattr("layernet.layers.conv._CHUNK_BYTES", 1)  # one image per chunk
    rng = np.random.default_rng(2)
    x = rng.normal(size=shape)
    results = []
    for threads in (1, 2, 2):
        blas.threads = threads
        layer = cls(3, 4, rng=0, **{"kernel_size": 3, **kwargs})
        y = layer.forward(x, training=True)
        dx = layer.backward(np.cos(y))
        results.append((y, dx, layer.weight.grad.copy(), layer.bias.grad.copy()))
    for other in results[1:]:
        for got, want in zip(other, results[0], strict=True):
            np.testing.assert_array_equal(got, want)


def test_threads_forwarding_through_one_layer_never_share_its_buffers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each forward claims the reusable workspace (or makes one) for itself."""
    monkeypatch.setattr("layernet.layers.conv._CHUNK_BYTES", 1)  # one image per chunk
    layer = Conv2d(3, 8, 3, padding=1, rng=0)
    inputs = [np.random.default_rng(seed).normal(size=(6, 3, 10, 10)) for seed in range(6)]
    expected = [Conv2d(3, 8, 3, padding=1, rng=0).forward(x) for x in inputs]
    failures: list[int] = []

    def forward_many(i: int) -> None:
        for _ in range(30):
            if not np.array_equal(layer.forward(inputs[i]), expected[i]):
                failures.append(i)

    threads = [threading.Thread(target=forward_many, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
