"""Parameter and buffer names come from the generic walk in Layer, in a fixed order.

The names are the state-dict keys that saved files and torch state dicts use,
so they must not drift when a layer stops listing its own.
"""

from __future__ import annotations

import pytest

import layernet as ln
from layernet import Layer

NAMES: list[tuple[Layer, list[str], list[str]]] = [
    (ln.Dense(3, 4), ["weight", "bias"], []),
    (ln.Dense(3, 4, bias=False), ["weight"], []),
    (ln.Conv1d(2, 3, 3), ["weight", "bias"], []),
    (ln.Conv2d(2, 3, 3, bias=False), ["weight"], []),
    (ln.BatchNorm1d(4), ["gamma", "beta"], ["running_mean", "running_var"]),
    (ln.LayerNorm(4), ["gamma", "beta"], []),
    (ln.Sigmoid(), [], []),
    (ln.Dropout(0.3), [], []),
    (ln.MaxPool2d(2), [], []),
    (ln.Flatten(), [], []),
    (
        ln.Sequential([ln.Dense(2, 3), ln.BatchNorm1d(3), ln.ReLU(), ln.Dense(3, 1, bias=False)]),
        ["0.weight", "0.bias", "1.gamma", "1.beta", "3.weight"],
        ["1.running_mean", "1.running_var"],
    ),
]


@pytest.mark.parametrize(("layer", "params", "buffers"), NAMES, ids=lambda v: repr(v))
def test_parameter_and_buffer_names_and_order(
    layer: Layer, params: list[str], buffers: list[str]
) -> None:
    assert [name for name, _ in layer.named_parameters()] == params
    assert [name for name, _ in layer.named_buffers()] == buffers
    assert list(layer.state_dict()) == params + buffers
    assert [p for _, p in layer.named_parameters()] == list(layer.parameters())


def test_the_names_are_the_attributes() -> None:
    layer = ln.BatchNorm1d(3)
    params = dict(layer.named_parameters())
    assert params["gamma"] is layer.gamma
    assert params["beta"] is layer.beta
    buffers = dict(layer.named_buffers())
    assert buffers["running_mean"] is layer.running_mean
    assert buffers["running_var"] is layer.running_var


def test_a_prefix_is_prepended() -> None:
    layer = ln.Conv1d(1, 2, 3)
    assert [name for name, _ in layer.named_parameters("block.")] == ["block.weight", "block.bias"]
    bn = ln.BatchNorm1d(2)
    assert [name for name, _ in bn.named_buffers("2.")] == ["2.running_mean", "2.running_var"]
