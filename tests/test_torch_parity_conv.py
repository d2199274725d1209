"""Convolution and pooling against torch.nn.functional in float64 (skipped without torch).

Forward values and the input, weight and bias gradients must agree to rounding.
Max-pool inputs are distinct values, except in the dedicated tie test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import layernet
from layernet import Layer

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12


def _compare(
    layer: Layer,
    torch_fn: Callable[..., Any],
    shape: tuple[int, ...],
    *,
    seed: int = 0,
    distinct: bool = False,
) -> None:
    rng = np.random.default_rng(seed)
    if distinct:  # no ties, so finite changes never move a max-pool's argmax
        x = rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0
    else:
        x = rng.normal(size=shape)
    params = dict(layer.named_parameters())
    x_t = torch.tensor(x, requires_grad=True)
    p_t = {name: torch.tensor(p.value, requires_grad=True) for name, p in params.items()}
    y_t = torch_fn(x_t, **p_t)
    y = layer(x)
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=RTOL, atol=ATOL)
    g = rng.normal(size=y.shape)
    y_t.backward(torch.tensor(g))
    dx = layer.backward(g)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=RTOL, atol=ATOL)
    for name, p in params.items():
        np.testing.assert_allclose(
            p.grad, p_t[name].grad.numpy(), err_msg=name, rtol=RTOL, atol=ATOL
        )


CONV2D = [
    ((3, 4, 3), {}, (2, 3, 7, 6)),
    ((3, 4, 3), {"stride": 2, "padding": 1}, (2, 3, 8, 9)),
    ((2, 5, (3, 2)), {"stride": (2, 1), "padding": (0, 1), "dilation": (1, 2)}, (3, 2, 9, 8)),
    ((2, 3, (2, 4)), {"padding": "same"}, (2, 2, 5, 6)),
    ((2, 3, 3), {"padding": "same", "dilation": 2}, (2, 2, 7, 7)),
    ((4, 2, 1), {"stride": 2}, (2, 4, 5, 5)),
    ((2, 3, 5), {"stride": 3, "padding": 4, "bias": False}, (2, 2, 3, 4)),
    ((1, 6, 3), {"padding": 1}, (2, 1, 6, 5)),  # C_out > 4 C_in: dW from the input's im2col
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize(("args", "kwargs", "shape"), CONV2D)
def test_conv2d_matches_torch(
    args: tuple[Any, ...], kwargs: dict[str, Any], shape: tuple[int, ...]
) -> None:
    layer = layernet.Conv2d(*args, **kwargs, rng=0)
    opts = {k: v for k, v in kwargs.items() if k != "bias"}
    _compare(layer, lambda x, weight, bias=None: F.conv2d(x, weight, bias, **opts), shape)


CONV1D = [
    ((3, 4, 3), {}, (2, 3, 9)),
    ((3, 4, 4), {"stride": 2, "padding": 2, "dilation": 2}, (2, 3, 13)),
    ((2, 3, 4), {"padding": "same"}, (3, 2, 7)),
    ((2, 3, 2), {"padding": "same", "dilation": 3, "bias": False}, (3, 2, 8)),
    ((1, 5, 3), {"padding": 2, "dilation": 2}, (2, 1, 7)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize(("args", "kwargs", "shape"), CONV1D)
def test_conv1d_matches_torch(
    args: tuple[Any, ...], kwargs: dict[str, Any], shape: tuple[int, ...]
) -> None:
    layer = layernet.Conv1d(*args, **kwargs, rng=0)
    opts = {k: v for k, v in kwargs.items() if k != "bias"}
    _compare(layer, lambda x, weight, bias=None: F.conv1d(x, weight, bias, **opts), shape)


POOL2D = [
    (2, None, 0, (2, 3, 8, 8)),
    (3, 2, 1, (2, 3, 7, 8)),
    ((2, 3), (1, 2), (1, 1), (2, 2, 5, 7)),
    # Rows of 16 or more: windows that tile the input take the tiled fast path,
    # with and without rows and columns past the last whole window.
    (2, None, 0, (2, 3, 6, 16)),
    ((2, 3), None, 0, (2, 2, 7, 20)),
    ((3, 1), None, 0, (1, 2, 9, 17)),
]
POOL1D = [
    (2, None, 0, (2, 3, 9)),
    (3, 2, 1, (2, 3, 10)),
    (4, 3, 2, (2, 2, 11)),
    (2, None, 0, (2, 3, 16)),
    (3, None, 0, (2, 2, 20)),
]


@pytest.mark.parametrize(("k", "s", "p", "shape"), POOL2D)
def test_pool2d_matches_torch(k: Any, s: Any, p: Any, shape: tuple[int, ...]) -> None:
    _compare(layernet.MaxPool2d(k, s, p), lambda x: F.max_pool2d(x, k, s, p), shape, distinct=True)
    _compare(layernet.AvgPool2d(k, s, p), lambda x: F.avg_pool2d(x, k, s, p), shape)


@pytest.mark.parametrize(("k", "s", "p", "shape"), POOL1D)
def test_pool1d_matches_torch(k: Any, s: Any, p: Any, shape: tuple[int, ...]) -> None:
    _compare(layernet.MaxPool1d(k, s, p), lambda x: F.max_pool1d(x, k, s, p), shape, distinct=True)
    _compare(layernet.AvgPool1d(k, s, p), lambda x: F.avg_pool1d(x, k, s, p), shape)


def test_global_average_pools_match_torch() -> None:
    _compare(
        layernet.GlobalAvgPool2d(),
        lambda x: F.adaptive_avg_pool2d(x, 1).flatten(1),
        (3, 4, 5, 6),
    )
    _compare(
        layernet.GlobalAvgPool1d(), lambda x: F.adaptive_avg_pool1d(x, 1).flatten(1), (3, 4, 7)
    )


@pytest.mark.parametrize("width", [7, 17, 32])  # 17 and 32: the tiled fast path for k = s
def test_max_pool_ties_match_torch(width: int) -> None:
    x = np.round(np.random.default_rng(0).normal(size=(2, 3, 7, width)))  # many ties
    x[0, 0] = 0.0  # whole windows of one value, as after a ReLU
    windows: list[tuple[Any, Any, Any]] = [(3, 2, 1), (2, 1, 0), (2, 2, 0), ((3, 2), None, 0)]
    for k, s, p in windows:
        layer = layernet.MaxPool2d(k, s, p)
        x_t = torch.tensor(x, requires_grad=True)
        y_t = F.max_pool2d(x_t, k, s, p)
        y_t.sum().backward()
        y = layer(x)
        np.testing.assert_array_equal(y, y_t.detach().numpy())
        np.testing.assert_array_equal(layer.backward(np.ones_like(y)), x_t.grad.numpy())


def test_a_torch_state_dict_loads_directly() -> None:
    torch.manual_seed(0)
    t_conv = torch.nn.Conv2d(3, 5, (3, 2), stride=2, padding=1).double()
    conv = layernet.Conv2d(3, 5, (3, 2), stride=2, padding=1, rng=0)
    conv.load_state_dict({k: v.detach().numpy() for k, v in t_conv.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(2, 3, 8, 7))
    np.testing.assert_allclose(
        conv(x), t_conv(torch.tensor(x)).detach().numpy(), rtol=RTOL, atol=ATOL
    )


def test_default_initialization_has_torch_bounds() -> None:
    torch.manual_seed(0)
    t_conv = torch.nn.Conv2d(4, 64, 3)
    conv = layernet.Conv2d(4, 64, 3, rng=0)
    t_bound = max(
        float(t_conv.weight.detach().abs().max()), float(t_conv.bias.detach().abs().max())
    )
    bound = 1.0 / np.sqrt(4 * 9)
    assert t_bound <= bound
    assert np.abs(conv.weight.value).max() <= bound
    assert np.abs(conv.bias.value).max() <= bound
    # same spread: both are uniform on the same interval
    np.testing.assert_allclose(
        conv.weight.value.std(), float(t_conv.weight.detach().double().std()), rtol=0.1
    )
