"""Shapes from one source: each layer's ``input_spec`` is what both its call and containers check.

The same declaration rejects a bad batch when the layer is called and a bad
neighbour when a model is built, before any data is seen.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import layernet as ln
from layernet import Layer
from layernet.layers.spec import InputSpec, as_spec
from reliability_cases import LAYERS

SIZE_ERROR = re.compile(
    r"the kernel spans|axis -?\d+ is (out of range|the batch axis)|no spatial positions"
    r"|cannot reshape a sample|positions but max_len is"
)
"""The checks a spec cannot express: a window larger than the input, Softmax's axis, a
global pool over nothing, a Reshape to another size."""


# -- what each layer declares --------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer", "spec"),
    [
        (ln.Dense(3, 4), InputSpec(min_rank=1, axes={-1: 3})),
        (ln.BatchNorm1d(5), InputSpec(min_rank=1, max_rank=2, axes={0: 5})),
        (ln.LayerNorm(6), InputSpec(min_rank=1, axes={-1: 6})),
        (ln.Flatten(), InputSpec(min_rank=1)),
        (ln.Conv1d(2, 4, 3), InputSpec.of_shape((2, None))),
        (ln.Conv2d(3, 4, 3), InputSpec.of_shape((3, None, None))),
        (ln.MaxPool1d(2), InputSpec(2)),
        (ln.AvgPool2d(2), InputSpec(3)),
        (ln.GlobalAvgPool1d(), InputSpec(2)),
        (ln.GlobalAvgPool2d(), InputSpec(3)),
        (ln.Sigmoid(), None),
        (ln.Dropout(0.2), None),
        (ln.Softmax(), None),
    ],
    ids=repr,
)
def test_each_layer_declares_its_input_shapes(layer: Layer, spec: InputSpec | None) -> None:
    assert as_spec(layer.input_spec) == spec


def test_dense_takes_any_rank_with_its_features_last() -> None:
    spec = as_spec(ln.Dense(3, 4).input_spec)
    assert spec is not None
    assert all(spec.fits(shape) for shape in [(3,), (7, 3), (2, 5, 3)])
    assert not any(spec.fits(shape) for shape in [(), (3, 4)])
    assert ln.Dense(3, 4).output_shape((7, 3)) == (7, 4)


@pytest.mark.parametrize(
    ("layer", "text"),
    [
        (ln.BatchNorm1d(5), "(batch, 5) or (batch, 5, ?)"),
        (ln.LayerNorm(6), "(batch, ..., 6)"),
        (ln.Flatten(), "(batch, ?, ...)"),
        (ln.Conv2d(3, 4, 3), "(batch, 3, ?, ?)"),
        (ln.MaxPool1d(2), "(batch, ?, ?)"),
    ],
    ids=repr,
)
def test_specs_read_as_shapes(layer: Layer, text: str) -> None:
    assert str(as_spec(layer.input_spec)) == text


# -- the call checks against the spec ------------------------------------------------------


CONTAINERS = {"Sequential", "Residual", "Parallel"}  # a container's children name the rejection


@pytest.mark.parametrize("name", sorted(set(LAYERS) - CONTAINERS))
def test_the_call_rejects_exactly_what_the_spec_rejects_plus_declared_extras(name: str) -> None:
    """Every wrong shape in the catalogue is refused by the spec (quoted) or by an extra check."""
    layer, good = LAYERS[name].example()
    spec = as_spec(layer.input_spec)
    if spec is not None:
        assert spec.fits(good[1:])
    layer(np.ones(good))
    for shape in LAYERS[name].wrong_shapes:
        with pytest.raises(ValueError, match=rf"^{re.escape(repr(layer))}: .*") as caught:
            layer(np.ones(shape))
        message = str(caught.value)
        assert str(shape) in message
        if spec is not None and not spec.fits(shape[1:]):
            assert f"expected input of shape {spec}, got {shape}" in message
        else:
            assert SIZE_ERROR.search(message), message


@pytest.mark.parametrize(
    ("layer", "shape", "message"),
    [
        (
            ln.LayerNorm(4),
            (3, 5),
            r"LayerNorm\(4\) at position 2: expected input of shape \(batch, \.\.\., 4\), "
            r"got \(3, 5\)$",
        ),
        (
            ln.BatchNorm1d(3),
            (2, 3, 4, 5),
            r"BatchNorm1d\(3\) at position 2: expected input of shape \(batch, 3\) or "
            r"\(batch, 3, \?\), got \(2, 3, 4, 5\)$",
        ),
        (
            ln.Flatten(),
            (4,),
            r"Flatten\(\) at position 2: expected input of shape \(batch, \?, \.\.\.\), got "
            r"\(4,\); a single sample must still carry the batch axis: reshape it with "
            r"x\.reshape\(1, -1\)",
        ),
        (
            ln.LayerNorm(4),
            (4,),
            r"got \(4,\); a single sample must still carry the batch axis: reshape it with "
            r"x\.reshape\(1, -1\)",
        ),
        (
            ln.Dense(1, 2),
            (5,),
            r"Dense\(1 -> 2\) at position 2: expected input of shape \(batch, \.\.\., 1\), "
            r"got \(5,\); "
            r".*x\.reshape\(-1, 1\) if it holds one feature per sample",
        ),
        (
            ln.BatchNorm1d(3),
            (3, 7),
            r"got \(3, 7\); a single sample must still carry the batch axis: use x\[np\.newaxis\]",
        ),
        (
            ln.Conv1d(3, 4, 3),
            (2, 5, 7),
            r"Conv1d\(3 -> 4, kernel_size=3\) at position 2: expected input of shape "
            r"\(batch, 3, \?\), got \(2, 5, 7\); the input has 5 channels where 3 are expected "
            r"\(channels first\): build the layer with in_channels=5, or transpose channels-last "
            r"input with x\.transpose\(0, 2, 1\)$",
        ),
        (
            ln.MaxPool2d(2),
            (3, 4, 4),
            r"MaxPool2d\(kernel_size=\(2, 2\)\) at position 2: expected input of shape "
            r"\(batch, \?, \?, \?\), got \(3, 4, 4\); a single sample must still carry the batch "
            r"axis: use x\[np\.newaxis\]",
        ),
        (
            ln.GlobalAvgPool2d(),
            (4, 4),
            r"GlobalAvgPool2d\(\) at position 2: expected input of shape \(batch, \?, \?, \?\), "
            r"got \(4, 4\); channels come first, then 2 spatial axis/axes$",
        ),
        (
            ln.AvgPool1d(3),
            (2, 4, 2),
            r"AvgPool1d\(kernel_size=3\) at position 2: the kernel spans 3 but the padded input "
            r"is only 2",
        ),
        (
            ln.GlobalAvgPool1d(),
            (2, 3, 0),
            r"GlobalAvgPool1d\(\) at position 2: got input of shape \(2, 3, 0\), with no spatial "
            r"positions to average over",
        ),
        (
            ln.MaxPool1d(2),
            (2, 3, 0),
            r"MaxPool1d\(kernel_size=2\) at position 2: the kernel spans 2 but the padded input "
            r"is only 0",
        ),
        (
            ln.Softmax(axis=2),
            (4, 3),
            r"Softmax\(axis=2\) at position 2: axis 2 is out of range for input of shape \(4, 3\)",
        ),
    ],
    ids=lambda v: repr(v) if isinstance(v, Layer) else None,
)
def test_messages_name_the_layer_position_expected_and_received(
    layer: Layer, shape: tuple[int, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        layer.check_input(shape, 2)


# -- containers check neighbours from the same declarations ----------------------------------


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (
            [ln.Dense(3, 4), ln.BatchNorm1d(5)],
            r"BatchNorm1d\(5\) at position 1 expects input of shape \(batch, 5\) or "
            r"\(batch, 5, \?\), but Dense\(3 -> 4\) at position 0 produces \(batch, 4\)",
        ),
        (
            [ln.Dense(3, 4), ln.LayerNorm(5)],
            r"LayerNorm\(5\) at position 1 expects input of shape \(batch, \.\.\., 5\), but "
            r"Dense\(3 -> 4\) at position 0 produces \(batch, 4\)",
        ),
        (
            [ln.Conv1d(2, 8, 3), ln.ReLU(), ln.BatchNorm1d(4)],
            r"BatchNorm1d\(4\) at position 2 .* but Conv1d\(2 -> 8, kernel_size=3\) at "
            r"position 0 produces \(batch, 8, \?\)",
        ),
        (
            [ln.Conv2d(2, 8, 3), ln.BatchNorm1d(8)],
            r"BatchNorm1d\(8\) at position 1 .* but Conv2d\(2 -> 8, kernel_size=\(3, 3\)\) at "
            r"position 0 produces \(batch, 8, \?, \?\)",
        ),
        (
            [ln.Conv1d(2, 8, 3), ln.Conv1d(4, 2, 3)],
            r"Conv1d\(4 -> 2, kernel_size=3\) at position 1 expects input of shape "
            r"\(batch, 4, \?\), but Conv1d\(2 -> 8, kernel_size=3\) at position 0",
        ),
        (
            [ln.Dense(3, 4), ln.Conv1d(4, 2, 3)],
            r"Conv1d\(4 -> 2, kernel_size=3\) at position 1 .* but Dense\(3 -> 4\) at position 0",
        ),
        (
            [ln.Dense(3, 4), ln.Flatten(), ln.Conv2d(4, 2, 3)],
            r"Conv2d\(4 -> 2, kernel_size=\(3, 3\)\) at position 2 .* but Flatten\(\) at "
            r"position 1 produces \(batch, \?\)",
        ),
    ],
    ids=lambda v: " ".join(map(repr, v)) if isinstance(v, list) else None,
)
def test_a_model_with_mismatched_neighbours_is_refused_when_built(
    layers: list[Layer], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ln.Sequential(layers)


@pytest.mark.parametrize(
    ("layers", "x_shape", "y_shape"),
    [
        ([ln.Dense(3, 4), ln.Permute((2, 1)), ln.Conv1d(4, 2, 3)], (2, 6, 3), (2, 2, 4)),
        ([ln.Dense(3, 4), ln.Flatten(), ln.Dense(20, 2)], (2, 5, 3), (2, 2)),
        ([ln.LayerNorm(3), ln.Reshape((-1,)), ln.Dense(6, 1)], (2, 2, 3), (2, 1)),
        ([ln.Dense(3, 4), ln.MaxPool1d(2)], (2, 5, 3), (2, 5, 2)),
    ],
    ids=lambda v: " ".join(map(repr, v)) if isinstance(v, list) else None,
)
def test_dense_on_sequences_builds_models_that_need_the_leading_axes(
    layers: list[Layer], x_shape: tuple[int, ...], y_shape: tuple[int, ...]
) -> None:
    """Dense's input may have more axes than its features: neighbours that need them build."""
    assert ln.Sequential(layers)(np.ones(x_shape)).shape == y_shape


@pytest.mark.parametrize(
    ("layers", "x_shape"),
    [
        ([ln.Dense(3, 4), ln.BatchNorm1d(4)], (5, 3)),
        ([ln.Dense(3, 4), ln.LayerNorm(4)], (5, 3)),
        ([ln.Conv1d(2, 8, 3), ln.BatchNorm1d(8), ln.ReLU()], (5, 2, 9)),
        ([ln.Conv1d(2, 8, 3), ln.LayerNorm(7)], (5, 2, 9)),
        ([ln.Conv2d(1, 3, 3), ln.MaxPool2d(2), ln.Flatten(), ln.Dense(12, 2)], (5, 1, 6, 6)),
        ([ln.Conv1d(2, 4, 3), ln.GlobalAvgPool1d(), ln.LayerNorm(4), ln.Dense(4, 1)], (5, 2, 6)),
    ],
    ids=lambda v: " ".join(map(repr, v)) if isinstance(v, list) else None,
)
def test_agreeing_neighbours_are_accepted_and_run(
    layers: list[Layer], x_shape: tuple[int, ...]
) -> None:
    model = ln.Sequential(layers)
    y = model(np.random.default_rng(0).normal(size=x_shape), training=True)
    assert y.shape[0] == x_shape[0]


@pytest.mark.parametrize(
    ("layers", "spec"),
    [
        ([ln.Dense(3, 4), ln.ReLU()], InputSpec(min_rank=1, axes={-1: 3})),
        ([ln.Sigmoid(), ln.Dropout(0.1), ln.Dense(3, 4)], InputSpec(min_rank=1, axes={-1: 3})),
        ([ln.Conv2d(3, 8, 3), ln.ReLU()], InputSpec.of_shape((3, None, None))),
        ([ln.BatchNorm1d(4), ln.Dense(4, 2)], InputSpec(min_rank=1, max_rank=2, axes={0: 4})),
        ([ln.Flatten(), ln.Dense(12, 2)], InputSpec(min_rank=1)),
    ],
    ids=lambda v: " ".join(map(repr, v)) if isinstance(v, list) else None,
)
def test_a_models_input_shape_is_known_without_data(layers: list[Layer], spec: InputSpec) -> None:
    assert as_spec(ln.Sequential(layers).input_spec) == spec
