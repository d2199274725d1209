"""Property-based checks over every exported layer (hypothesis draws sizes, shapes and data).

For random valid shapes in float32 and float64, every layer in
reliability_cases.LAYERS must:

- return the documented output shape (``output_shape``) and keep its dtype
  (layers with a ``dtype`` argument return it; parameter-free layers keep
  float32 input float32);
- treat samples independently in inference (and in training, except BatchNorm's
  batch statistics and Dropout's per-call masks): the output of a batch equals
  the outputs of its rows stacked. The comparison has a tolerance, not
  equality, because a matrix product over one row and over many may take
  different BLAS kernels (gemv and gemm, different blocking and FMA use), which
  round differently in the last bits: rtol 1e-12 in float64 and 1e-5 in float32
  (about 4500x and 80x their machine epsilons) allow for that and nothing more;
- give finite outputs and finite input and parameter gradients for finite
  inputs over a wide range of magnitudes (1e-150 to 1e150 in float64, 1e-15 to
  1e15 in float32: large enough that squares and cubes would overflow if a layer
  formed them carelessly, small enough that a batch's sum of squares fits);
- never mutate its input in forward, nor ``grad_out`` or the returned output in
  backward; and backward run twice gives the same gradients (it overwrites, it
  never accumulates).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layernet as ln
from reliability_cases import LAYERS, takes

DTYPES = [np.float32, np.float64]
SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
CASES = [(name, dtype) for name in sorted(LAYERS) for dtype in DTYPES]
IDS = [f"{name}-{np.dtype(dtype).name}" for name, dtype in CASES]
RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}
MAGNITUDE = {np.dtype(np.float64): 150, np.dtype(np.float32): 15}


def _build(
    data: st.DataObject, name: str, dtype: Any
) -> tuple[ln.Layer, tuple[int, ...], tuple[int, ...]]:
    return LAYERS[name].build(data.draw, dtype)


def _input(
    data: st.DataObject, shape: tuple[int, ...], dtype: Any, magnitude: int = 1, ids: int = 0
) -> Any:
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if ids:  # a layer that takes integer ids (Embedding)
        return rng.integers(0, ids, size=shape)
    x = rng.normal(size=shape)
    if magnitude > 1:
        exponent = rng.uniform(-magnitude, magnitude, size=shape)
        x = np.sign(x) * 10.0**exponent
    return x.astype(dtype)


def _expected_dtype(layer: ln.Layer, dtype: Any) -> np.dtype[Any]:
    return (
        layer.dtype
        if takes(type(layer), "dtype") or isinstance(layer, ln.Sequential)
        else np.dtype(dtype)
    )


@pytest.mark.parametrize(("name", "dtype"), CASES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_output_shape_and_dtype_follow_the_documented_rule(
    name: str, dtype: Any, data: st.DataObject
) -> None:
    layer, sample, out = _build(data, name, dtype)
    batch = data.draw(st.integers(2, 5))
    training = data.draw(st.booleans())
    y = layer(_input(data, (batch, *sample), dtype, ids=LAYERS[name].ids), training=training)
    assert y.shape == (batch, *out)
    assert y.dtype == _expected_dtype(layer, dtype)
    assert layer.output_shape(sample) in (out, None)


@pytest.mark.parametrize(("name", "dtype"), CASES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_a_batch_is_its_rows_stacked(name: str, dtype: Any, data: st.DataObject) -> None:
    layer, sample, _ = _build(data, name, dtype)
    training = not LAYERS[name].batch_coupled_in_training and data.draw(st.booleans())
    x = _input(data, (data.draw(st.integers(2, 6)), *sample), dtype, ids=LAYERS[name].ids)
    whole = layer(x, training=training)
    rows = np.concatenate([layer(x[i : i + 1], training=training) for i in range(len(x))])
    rtol = RTOL[np.dtype(dtype)]
    scale = max(1.0, float(np.abs(whole).max()), float(np.abs(x).max()))
    np.testing.assert_allclose(rows, whole, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize(("name", "dtype"), CASES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_finite_in_finite_out_over_a_wide_range_of_magnitudes(
    name: str, dtype: Any, data: st.DataObject
) -> None:
    layer, sample, _ = _build(data, name, dtype)
    training = data.draw(st.booleans())
    magnitude = MAGNITUDE[np.dtype(dtype)]
    x = _input(data, (data.draw(st.integers(2, 5)), *sample), dtype, magnitude, LAYERS[name].ids)
    y = layer(x, training=training)
    assert np.isfinite(y).all()
    grad = layer.backward(np.ones_like(y))
    assert grad.shape == x.shape
    assert np.isfinite(grad).all()
    for _, param in layer.named_parameters():
        assert np.isfinite(param.grad).all()


@pytest.mark.parametrize(("name", "dtype"), CASES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_forward_and_backward_leave_their_arguments_alone(
    name: str, dtype: Any, data: st.DataObject
) -> None:
    layer, sample, _ = _build(data, name, dtype)
    training = data.draw(st.booleans())
    x = _input(data, (data.draw(st.integers(2, 5)), *sample), dtype, ids=LAYERS[name].ids)
    x_before = x.copy()
    y = layer.forward(x, training=training)
    np.testing.assert_array_equal(x, x_before)
    y_before = y.copy()
    g = _input(data, y.shape, y.dtype)
    g_before = g.copy()
    first = layer.backward(g).copy()
    grads = {n: p.grad.copy() for n, p in layer.named_parameters()}
    np.testing.assert_array_equal(g, g_before)
    np.testing.assert_array_equal(y, y_before)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(layer.backward(g), first)  # overwrites, never accumulates
    for n, p in layer.named_parameters():
        np.testing.assert_array_equal(p.grad, grads[n])
