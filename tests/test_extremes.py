"""Numerical extremes: 1e4 in float32 and 1e300 in float64 through every activation and loss.

Each gives finite values (and finite gradients), or a clear error; no
RuntimeWarning escapes (pyproject turns warnings into errors, so an overflow
inside numpy fails these tests). The activations are every exported
Activation (from reliability_cases.LAYERS), each with the options that change
its numerics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import layernet as ln
from reliability_cases import LAYERS, LOSSES, classes_of

EXTREMES = [(np.float32, 1e4), (np.float64, 1e300)]
EXTREME_IDS = ["float32-1e4", "float64-1e300"]

ACTIVATIONS: list[Callable[[], ln.Layer]] = [
    ln.Identity,
    ln.Sigmoid,
    ln.Tanh,
    ln.ReLU,
    ln.LeakyReLU,
    lambda: ln.ELU(2.0),
    ln.GELU,
    lambda: ln.GELU("tanh"),
    ln.Softplus,
    lambda: ln.Softplus(beta=0.5, threshold=5.0),
    ln.Softmax,
]


def test_every_exported_activation_is_covered() -> None:
    covered = {type(make()) for make in ACTIVATIONS}
    exported = set(classes_of(ln.Activation).values())
    assert exported <= covered, (
        f"add {sorted(c.__name__ for c in exported - covered)} to ACTIVATIONS"
    )
    assert {c.__name__ for c in exported} <= set(LAYERS)


def extreme_input(dtype: Any, magnitude: float) -> Any:
    """Both signs at full magnitude, a mixed row, and moderate values."""
    big = magnitude
    return np.array(
        [[big, -big, 0.0, 1.0], [-big, -big, -big, -big], [big, big, 0.5 * big, -0.5 * big]],
        dtype=dtype,
    )


@pytest.mark.parametrize(("dtype", "magnitude"), EXTREMES, ids=EXTREME_IDS)
@pytest.mark.parametrize("make", ACTIVATIONS, ids=lambda m: repr(m()))
def test_activations_stay_finite(
    make: Callable[[], ln.Layer], dtype: Any, magnitude: float
) -> None:
    layer = make()
    x = extreme_input(dtype, magnitude)
    y = layer(x)
    assert y.dtype == dtype
    assert np.isfinite(y).all(), y
    grad = layer.backward(np.ones_like(y))
    assert grad.dtype == dtype
    assert np.isfinite(grad).all(), grad


def test_saturated_values_are_the_limits() -> None:
    x = np.array([[1e300, -1e300, 12.0, -50.0]])
    for layer in (ln.GELU(), ln.GELU("tanh")):
        np.testing.assert_array_equal(layer(x), [[1e300, -0.0, 12.0, -0.0]])
        np.testing.assert_array_equal(layer.backward(np.ones((1, 4))), [[1.0, 0.0, 1.0, 0.0]])


@pytest.mark.parametrize(("dtype", "magnitude"), EXTREMES, ids=EXTREME_IDS)
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_give_a_finite_value_or_a_clear_error(
    name: str, dtype: Any, magnitude: float
) -> None:
    spec = LOSSES[name]
    loss = spec.make()
    pred = extreme_input(dtype, magnitude)
    if name == "BCELoss":
        with pytest.raises(ValueError, match=r"BCELoss\(\): pred must lie in \[0, 1\]"):
            loss(pred, spec.extreme_target(pred))
        pred = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=dtype)  # saturated probabilities
    target = spec.extreme_target(pred)
    if name == "MSELoss" and magnitude > 1e200:  # (1e300)**2 is not a float64
        with pytest.raises(OverflowError, match=r"MSELoss\(\): the loss overflows float64"):
            loss(pred, target)
        return
    value = loss(pred, target)
    assert np.isfinite(value)
    grad = loss.backward()
    assert grad.dtype == dtype
    assert np.isfinite(grad).all()


def test_an_overflowing_loss_in_fit_stops_with_the_epoch_and_batch() -> None:
    model = ln.Sequential([ln.Dense(1, 1, rng=0, bias=False)])
    model[0].weight.value[...] = 1.0  # type: ignore[attr-defined]
    x = np.array([[1e300], [1.0]])
    opt = ln.SGD(model.parameters(), lr=0.1)
    with pytest.raises(RuntimeError, match=r"loss is inf at epoch 1/1, batch 1/1"):
        model.fit(x, np.zeros((2, 1)), loss=ln.MSELoss(), optimizer=opt, epochs=1, batch_size=2,
                  verbose=0)  # fmt: skip
    np.testing.assert_array_equal(model[0].weight.value, [[1.0]])  # type: ignore[attr-defined]
