"""One harness runs gradcheck over every public Layer and Loss.

The case tables are checked against the package's exports: a new Layer or
Loss cannot be exported without a gradient check here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import layernet
from layernet import Layer, Loss, gradcheck


@dataclass(frozen=True)
class LayerCase:
    """A layer factory, the input shape to check it on, and forward's mode."""

    make: Callable[[], Layer]
    input_shape: tuple[int, ...]
    training: bool = False
    id: str = ""
    input_low: float = -2.0
    input_high: float = 2.0
    ids: int = 0
    """If positive, the input is integer ids in ``[0, ids)`` (parameter gradients only)."""


@dataclass(frozen=True)
class LossCase:
    """A loss factory and a way to draw a (pred, target) pair."""

    make: Callable[[], Loss]
    data: Callable[[np.random.Generator], tuple[Any, Any]]
    id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _dropout_with_a_fixed_mask() -> Layer:
    """Dropout whose generator is rewound before every forward, so each draws the same mask.

    It is Dropout's own forward and backward; only the randomness is frozen,
    which is what makes finite differences meaningful.
    """
    layer = layernet.Dropout(0.4, rng=0)
    state = layer.rng.bit_generator.state
    forward = layer.forward

    def rewound(x: layernet.FloatArray, *, training: bool = False) -> layernet.FloatArray:
        layer.rng.bit_generator.state = state
        return forward(x, training=training)

    layer.forward = rewound  # type: ignore[method-assign]
    return layer


def _batchnorm(per_sample: tuple[int, ...]) -> Layer:
    """BatchNorm1d (BatchNorm2d for images) with non-trivial gamma, beta and running statistics."""
    rng = np.random.default_rng(5)
    cls = layernet.BatchNorm2d if len(per_sample) == 3 else layernet.BatchNorm1d
    layer = cls(per_sample[0])
    layer.gamma.value[...] = rng.uniform(0.5, 1.5, size=per_sample[0])
    layer.beta.value[...] = rng.normal(size=per_sample[0])
    layer.forward(rng.normal(1.0, 2.0, size=(8, *per_sample)), training=True)
    return layer


def _layernorm(features: int) -> Layer:
    rng = np.random.default_rng(6)
    layer = layernet.LayerNorm(features)
    layer.gamma.value[...] = rng.uniform(0.5, 1.5, size=features)
    layer.beta.value[...] = rng.normal(size=features)
    return layer


LAYER_CASES: list[LayerCase] = [
    LayerCase(lambda: layernet.Dense(3, 4, rng=0), (5, 3), id="Dense"),
    LayerCase(lambda: layernet.Dense(1, 1, rng=1), (1, 1), id="Dense-1x1"),
    LayerCase(lambda: layernet.Dense(4, 2, bias=False, rng=2), (3, 4), id="Dense-nobias"),
    LayerCase(layernet.Sigmoid, (4, 3), id="Sigmoid"),
    LayerCase(layernet.Sigmoid, (2, 3, 4), id="Sigmoid-3d"),
    LayerCase(
        lambda: layernet.Sequential(
            [layernet.Dense(2, 3, rng=3), layernet.Sigmoid(), layernet.Dense(3, 1, rng=4)]
        ),
        (6, 2),
        id="Sequential",
    ),
    # Activations: inputs drawn away from kinks (ReLU's and LeakyReLU's 0, ELU's 0).
    LayerCase(layernet.Identity, (4, 3), id="Identity"),
    LayerCase(layernet.Tanh, (4, 3), id="Tanh"),
    LayerCase(layernet.ReLU, (4, 3), id="ReLU-positive", input_low=0.1, input_high=2.0),
    LayerCase(layernet.ReLU, (4, 3), id="ReLU-negative", input_low=-2.0, input_high=-0.1),
    LayerCase(lambda: layernet.LeakyReLU(0.2), (4, 3), id="LeakyReLU-negative", input_high=-0.1),
    LayerCase(layernet.LeakyReLU, (4, 3), id="LeakyReLU-positive", input_low=0.1),
    LayerCase(lambda: layernet.ELU(1.5), (4, 3), id="ELU-negative", input_high=-0.1),
    LayerCase(layernet.ELU, (4, 3), id="ELU-positive", input_low=0.1),
    LayerCase(layernet.GELU, (4, 3), id="GELU", input_low=-3.0, input_high=3.0),
    LayerCase(
        lambda: layernet.GELU("tanh"), (4, 3), id="GELU-tanh", input_low=-3.0, input_high=3.0
    ),
    LayerCase(layernet.Softplus, (4, 3), id="Softplus", input_low=-5.0, input_high=5.0),
    LayerCase(lambda: layernet.Softplus(beta=2.0, threshold=5.0), (4, 3), id="Softplus-beta2"),
    LayerCase(layernet.Softmax, (4, 5), id="Softmax"),
    LayerCase(lambda: layernet.Softmax(axis=1), (2, 3, 4), id="Softmax-axis1"),
    LayerCase(_dropout_with_a_fixed_mask, (4, 5), training=True, id="Dropout-training-fixed-mask"),
    LayerCase(lambda: layernet.Dropout(0.5, rng=0), (4, 5), id="Dropout-inference"),
    LayerCase(lambda: _batchnorm((4,)), (6, 4), training=True, id="BatchNorm1d-training"),
    LayerCase(lambda: _batchnorm((3, 5)), (4, 3, 5), training=True, id="BatchNorm1d-training-3d"),
    LayerCase(lambda: _batchnorm((4,)), (6, 4), id="BatchNorm1d-inference"),
    LayerCase(lambda: _batchnorm((3, 5)), (4, 3, 5), id="BatchNorm1d-inference-3d"),
    LayerCase(lambda: _layernorm(5), (4, 5), id="LayerNorm"),
    LayerCase(lambda: _layernorm(4), (2, 3, 4), id="LayerNorm-3d"),
    LayerCase(layernet.Flatten, (2, 3, 4), id="Flatten"),
    # Composition (issue 12): any-rank Dense, BatchNorm2d, Permute, Reshape, containers.
    LayerCase(lambda: layernet.Dense(4, 3, rng=18), (2, 5, 4), id="Dense-sequence"),
    LayerCase(lambda: layernet.Dense(3, 2, bias=False, rng=19), (2, 2, 3, 3), id="Dense-4d-nobias"),
    LayerCase(lambda: _layernorm(3), (2, 2, 4, 3), id="LayerNorm-4d"),
    LayerCase(
        _dropout_with_a_fixed_mask, (2, 3, 4, 5), training=True, id="Dropout-training-fixed-mask-4d"
    ),
    LayerCase(
        lambda: _batchnorm((3, 4, 5)), (2, 3, 4, 5), training=True, id="BatchNorm2d-training"
    ),
    LayerCase(lambda: _batchnorm((3, 4, 5)), (2, 3, 4, 5), id="BatchNorm2d-inference"),
    LayerCase(lambda: layernet.Permute((2, 1)), (2, 3, 4), id="Permute"),
    LayerCase(lambda: layernet.Permute((3, 1, 2)), (2, 3, 4, 5), id="Permute-3"),
    LayerCase(lambda: layernet.Reshape((4, -1)), (2, 3, 4), id="Reshape"),
    LayerCase(lambda: layernet.Reshape((6,)), (2, 2, 3), id="Reshape-flat"),
    # Sequences (issue 13): recurrent layers over several steps both ways, attention with and
    # without the causal mask, embeddings (ids have no gradient: parameters only).
    LayerCase(lambda: layernet.Embedding(7, 3, rng=40), (3, 5), id="Embedding", ids=7),
    LayerCase(
        # ids below the padding id: its row, never trained, is checked by the torch parity test
        lambda: layernet.Embedding(5, 4, padding_idx=-1, rng=41),
        (2, 6),
        id="Embedding-pad",
        ids=4,
    ),
    LayerCase(lambda: layernet.PositionalEmbedding(8, 3, rng=42), (2, 5, 3), id="PositionalEmb"),
    LayerCase(
        lambda: layernet.RNN(3, 4, return_sequences=True, rng=43), (2, 5, 3), id="RNN-sequences"
    ),
    LayerCase(lambda: layernet.RNN(3, 4, rng=44), (2, 5, 3), id="RNN-last"),
    LayerCase(
        lambda: layernet.RNN(3, 4, "relu", return_sequences=True, rng=45),
        (2, 4, 3),
        id="RNN-relu-sequences",
    ),
    LayerCase(
        lambda: layernet.LSTM(3, 4, return_sequences=True, rng=46), (2, 5, 3), id="LSTM-sequences"
    ),
    LayerCase(lambda: layernet.LSTM(3, 4, rng=47), (2, 5, 3), id="LSTM-last"),
    LayerCase(
        lambda: layernet.GRU(3, 4, return_sequences=True, rng=48), (2, 5, 3), id="GRU-sequences"
    ),
    LayerCase(lambda: layernet.GRU(3, 4, rng=49), (2, 5, 3), id="GRU-last"),
    LayerCase(lambda: layernet.MultiHeadAttention(6, 2, rng=50), (2, 4, 6), id="MHA"),
    LayerCase(
        lambda: layernet.MultiHeadAttention(6, 3, causal=True, rng=51), (2, 5, 6), id="MHA-causal"
    ),
    LayerCase(
        lambda: layernet.Sequential(
            [
                layernet.Embedding(6, 4, rng=52),
                layernet.PositionalEmbedding(5, 4, rng=53),
                layernet.Residual(
                    layernet.Sequential(
                        [_layernorm(4), layernet.MultiHeadAttention(4, 2, causal=True, rng=54)]
                    )
                ),
                layernet.GRU(4, 3, return_sequences=True, rng=55),
                layernet.LSTM(3, 2, rng=56),
            ]
        ),
        (2, 5),
        id="Sequential-embedding-attention-recurrent",
        ids=6,
    ),
    LayerCase(
        lambda: layernet.Residual(
            layernet.Sequential([layernet.Dense(4, 4, rng=20), layernet.Tanh()])
        ),
        (3, 4),
        id="Residual-identity",
    ),
    LayerCase(
        lambda: layernet.Residual(
            layernet.Sequential(
                [
                    layernet.Conv1d(2, 3, 3, padding=1, rng=21),
                    _batchnorm((3, 5)),
                    layernet.Tanh(),
                    layernet.Conv1d(3, 3, 3, padding=1, rng=22),
                ]
            ),
            shortcut=layernet.Conv1d(2, 3, 1, rng=23),
        ),
        (4, 2, 5),
        training=True,
        id="Residual-conv-shortcut-training",
    ),
    LayerCase(
        lambda: layernet.Parallel([layernet.Dense(3, 2, rng=24), layernet.Dense(3, 4, rng=25)]),
        (4, 3),
        id="Parallel-concat",
    ),
    LayerCase(
        lambda: layernet.Parallel(
            [layernet.Conv1d(2, 3, 3, padding=1, rng=26), layernet.Identity(), layernet.Tanh()],
            axis=-2,
        ),
        (2, 2, 5),
        id="Parallel-concat-channels",
    ),
    LayerCase(
        lambda: layernet.Parallel(
            [
                layernet.Dense(3, 4, rng=27),
                layernet.Sequential([layernet.Dense(3, 4, rng=28)]),
                layernet.Dense(3, 4, bias=False, rng=29),
            ],
            merge="add",
        ),
        (4, 3),
        id="Parallel-add",
    ),
    LayerCase(
        lambda: layernet.Sequential(
            [
                layernet.Dense(3, 4, rng=30),
                layernet.Residual(
                    layernet.Parallel(
                        [
                            layernet.Residual(layernet.Dense(4, 4, rng=31)),
                            layernet.Sequential([layernet.Dense(4, 4, rng=32), layernet.Sigmoid()]),
                        ],
                        merge="add",
                    )
                ),
                layernet.Permute((2, 1)),
                layernet.Reshape((-1,)),
            ]
        ),
        (2, 5, 3),
        id="Sequential-nested-containers-on-sequences",
    ),
    # Convolution and pooling (issue 7): odd sizes, strides, paddings incl. "same", dilations.
    LayerCase(lambda: layernet.Conv2d(2, 3, 3, rng=5), (2, 2, 5, 5), id="Conv2d"),
    LayerCase(
        lambda: layernet.Conv2d(2, 3, 3, stride=2, padding=1, rng=6), (2, 2, 6, 7), id="Conv2d-s2p1"
    ),
    LayerCase(
        lambda: layernet.Conv2d(2, 2, (2, 4), padding="same", rng=7),
        (2, 2, 5, 6),
        id="Conv2d-same-asymmetric",
    ),
    LayerCase(
        lambda: layernet.Conv2d(
            3, 2, 3, stride=(2, 1), padding=(2, 1), dilation=2, bias=False, rng=8
        ),
        (2, 3, 7, 6),
        id="Conv2d-dilated-nobias",
    ),
    LayerCase(
        lambda: layernet.Conv2d(2, 2, 3, padding="same", dilation=(2, 1), rng=9),
        (1, 2, 6, 5),
        id="Conv2d-same-dilated",
    ),
    LayerCase(lambda: layernet.Conv2d(3, 2, 1, rng=10), (2, 3, 3, 4), id="Conv2d-1x1"),
    LayerCase(
        lambda: layernet.Conv2d(1, 2, 3, padding=3, stride=3, rng=11),
        (2, 1, 4, 5),
        id="Conv2d-padding-only-offsets",
    ),
    LayerCase(lambda: layernet.Conv1d(2, 3, 3, rng=12), (3, 2, 7), id="Conv1d"),
    LayerCase(
        lambda: layernet.Conv1d(2, 3, 4, stride=3, padding=2, dilation=2, bias=False, rng=13),
        (2, 2, 11),
        id="Conv1d-strided-dilated-nobias",
    ),
    LayerCase(
        lambda: layernet.Conv1d(3, 2, 4, padding="same", rng=14), (2, 3, 6), id="Conv1d-same"
    ),
    LayerCase(lambda: layernet.MaxPool2d(2), (2, 3, 6, 6), id="MaxPool2d"),
    LayerCase(lambda: layernet.MaxPool2d(3, 2, 1), (2, 2, 7, 6), id="MaxPool2d-overlap-pad"),
    LayerCase(
        lambda: layernet.MaxPool2d((2, 3), stride=(1, 2), padding=(1, 1)),
        (2, 2, 5, 7),
        id="MaxPool2d-rect",
    ),
    LayerCase(lambda: layernet.MaxPool1d(2), (2, 3, 9), id="MaxPool1d"),
    LayerCase(lambda: layernet.MaxPool1d(3, 2, 1), (2, 2, 9), id="MaxPool1d-overlap-pad"),
    LayerCase(lambda: layernet.AvgPool2d(2), (2, 3, 6, 5), id="AvgPool2d"),
    LayerCase(lambda: layernet.AvgPool2d(3, 2, 1), (2, 2, 7, 6), id="AvgPool2d-overlap-pad"),
    LayerCase(lambda: layernet.AvgPool1d(2), (2, 3, 9), id="AvgPool1d"),
    LayerCase(lambda: layernet.AvgPool1d(4, 3, 2), (2, 2, 11), id="AvgPool1d-overlap-pad"),
    LayerCase(layernet.GlobalAvgPool2d, (2, 3, 4, 5), id="GlobalAvgPool2d"),
    LayerCase(layernet.GlobalAvgPool1d, (2, 3, 7), id="GlobalAvgPool1d"),
    LayerCase(
        lambda: layernet.Sequential(
            [
                layernet.Conv2d(1, 4, 3, padding=1, rng=15),
                layernet.Sigmoid(),
                layernet.MaxPool2d(2),
                layernet.Conv2d(4, 3, 3, padding="same", rng=16),
                layernet.GlobalAvgPool2d(),
                layernet.Dense(3, 2, rng=17),
            ]
        ),
        (2, 1, 6, 6),
        id="Sequential-CNN",
    ),
]

LOSS_CASES: list[LossCase] = [
    LossCase(
        layernet.CrossEntropyLoss,
        lambda rng: (rng.normal(0, 2, size=(3, 4, 5)), rng.integers(0, 5, size=(3, 4))),
        id="CrossEntropyLoss-sequence-labels-classes-last",
    ),
    LossCase(
        lambda: layernet.CrossEntropyLoss(label_smoothing=0.1, weight=[1.0, 2.0, 0.5]),
        lambda rng: (rng.normal(0, 2, size=(2, 3, 3)), rng.integers(0, 3, size=(2, 3))),
        id="CrossEntropyLoss-sequence-weighted-smoothed",
    ),
    LossCase(
        layernet.MSELoss,
        lambda rng: (rng.normal(size=(5, 3)), rng.normal(size=(5, 3))),
        id="MSELoss",
    ),
    LossCase(
        layernet.MSELoss,
        lambda rng: (rng.normal(size=(4, 1)), rng.normal(size=4)),
        id="MSELoss-1d-target",
    ),
    LossCase(
        layernet.L1Loss,
        lambda rng: (rng.normal(size=(5, 3)), rng.normal(size=(5, 3))),
        id="L1Loss",
    ),
    LossCase(
        layernet.HuberLoss,
        lambda rng: (rng.normal(size=(6, 3)), 2.0 * rng.normal(size=(6, 3))),
        id="HuberLoss-both-regimes",
    ),
    LossCase(
        lambda: layernet.HuberLoss(delta=0.3),
        lambda rng: (rng.normal(size=(4, 1)), rng.normal(size=4)),
        id="HuberLoss-delta",
    ),
    LossCase(
        layernet.BCELoss,
        lambda rng: (rng.uniform(0.05, 0.95, size=(6, 2)), rng.uniform(0, 1, size=(6, 2))),
        id="BCELoss",
    ),
    LossCase(
        layernet.BCEWithLogitsLoss,
        lambda rng: (rng.normal(0, 3, size=(6, 2)), rng.integers(0, 2, size=(6, 2))),
        id="BCEWithLogitsLoss",
    ),
    LossCase(
        layernet.CrossEntropyLoss,
        lambda rng: (rng.normal(0, 2, size=(6, 4)), rng.integers(0, 4, size=6)),
        id="CrossEntropyLoss-labels",
    ),
    LossCase(
        lambda: layernet.CrossEntropyLoss(label_smoothing=0.2),
        lambda rng: (rng.normal(0, 2, size=(6, 4)), rng.integers(0, 4, size=6)),
        id="CrossEntropyLoss-labels-smoothed",
    ),
    LossCase(
        lambda: layernet.CrossEntropyLoss(label_smoothing=0.1),
        lambda rng: (rng.normal(0, 2, size=(5, 3)), rng.dirichlet(np.ones(3), size=5)),
        id="CrossEntropyLoss-probabilities",
    ),
    LossCase(
        lambda: layernet.BCEWithLogitsLoss(pos_weight=[3.0, 0.5]),
        lambda rng: (rng.normal(0, 3, size=(6, 2)), rng.uniform(0, 1, size=(6, 2))),
        id="BCEWithLogitsLoss-pos_weight",
    ),
    LossCase(
        lambda: layernet.CrossEntropyLoss(label_smoothing=0.2, weight=[0.5, 2.0, 1.0, 3.0]),
        lambda rng: (rng.normal(0, 2, size=(6, 4)), rng.integers(0, 4, size=6)),
        id="CrossEntropyLoss-labels-weight-smoothed",
    ),
    LossCase(
        lambda: layernet.CrossEntropyLoss(weight=[0.5, 2.0, 1.0]),
        lambda rng: (rng.normal(0, 2, size=(5, 3)), rng.dirichlet(np.ones(3), size=5)),
        id="CrossEntropyLoss-probabilities-weight",
    ),
]


class _SampleWeighted(Loss):
    """``inner`` with fixed per-sample weights, so gradcheck checks weighted_backward."""

    def __init__(self, inner: Loss, weights: layernet.FloatArray) -> None:
        self.inner, self.weights = inner, weights

    def check_target(self, pred: layernet.FloatArray, target: Any) -> layernet.FloatArray:
        return self.inner.check_target(pred, target)

    def forward(self, pred: layernet.FloatArray, target: Any) -> float:
        return self.inner.weighted_forward(pred, target, self.weights)

    def backward(self) -> layernet.FloatArray:
        return self.inner.weighted_backward(self.weights)


def _exported(base: type) -> set[type]:
    return {
        obj
        for name in layernet.__all__
        if inspect.isclass(obj := getattr(layernet, name))
        and issubclass(obj, base)
        and not inspect.isabstract(obj)
    }


def _case_class(make: Callable[[], object]) -> type:
    return type(make())


def test_every_exported_layer_has_a_case() -> None:
    covered = {_case_class(case.make) for case in LAYER_CASES}
    missing = sorted(cls.__name__ for cls in _exported(Layer) - covered)
    assert not missing, f"add gradcheck cases for {missing} to LAYER_CASES"


def test_every_exported_loss_has_a_case() -> None:
    covered = {_case_class(case.make) for case in LOSS_CASES}
    missing = sorted(cls.__name__ for cls in _exported(Loss) - covered)
    assert not missing, f"add gradcheck cases for {missing} to LOSS_CASES"


@pytest.mark.parametrize("case", LAYER_CASES, ids=[c.id for c in LAYER_CASES])
def test_layer_gradients(case: LayerCase) -> None:
    rng = np.random.default_rng(0)
    x: np.ndarray[Any, Any]
    if case.ids:
        x = rng.integers(0, case.ids, size=case.input_shape)
    else:
        x = rng.uniform(case.input_low, case.input_high, size=case.input_shape)
    layer = case.make()
    before = {name: p.value.copy() for name, p in layer.named_parameters()}
    result = gradcheck(layer, x, training=case.training)
    assert result.passed, str(result)
    assert set(result.errors) == ({"input"} if not case.ids else set()) | set(before)
    for name, p in layer.named_parameters():
        np.testing.assert_array_equal(p.value, before[name])


@pytest.mark.parametrize("case", LOSS_CASES, ids=[c.id for c in LOSS_CASES])
def test_loss_gradients(case: LossCase) -> None:
    pred, target = case.data(np.random.default_rng(0))
    result = gradcheck(case.make(), pred, target)
    assert result.passed, str(result)


@pytest.mark.parametrize("case", LOSS_CASES, ids=[c.id for c in LOSS_CASES])
def test_sample_weighted_loss_gradients(case: LossCase) -> None:
    rng = np.random.default_rng(0)
    pred, target = case.data(rng)
    weights = rng.uniform(0, 3, size=len(pred))
    result = gradcheck(_SampleWeighted(case.make(), weights), pred, target)
    assert result.passed, str(result)


def test_gradcheck_catches_a_wrong_gradient() -> None:
    class Doubled(layernet.Sigmoid):
        def backward(self, grad_out: layernet.FloatArray) -> layernet.FloatArray:
            return 2.0 * super().backward(grad_out)

    result = gradcheck(Doubled(), np.linspace(-1, 1, 6).reshape(2, 3))
    assert not result.passed
    np.testing.assert_allclose(result.errors["input"], 0.5, rtol=1e-4)


def test_gradcheck_catches_a_wrong_parameter_gradient() -> None:
    class NoBiasGrad(layernet.Dense):
        def backward(self, grad_out: layernet.FloatArray) -> layernet.FloatArray:
            dx = super().backward(grad_out)
            self.bias.grad[...] = 0.0
            return dx

    result = gradcheck(NoBiasGrad(2, 2, rng=0), np.ones((3, 2)))
    assert result.errors["weight"] < 1e-6
    assert result.errors["bias"] > 0.1  # the true gradient, reported absolutely
    assert not result.passed
    assert "FAILED" in str(result)


def test_gradcheck_rejects_float32_layers() -> None:
    with pytest.raises(TypeError, match=r"float64.*dtype=np.float64"):
        gradcheck(layernet.Dense(2, 2, dtype=np.float32), np.ones((1, 2)))


def test_gradcheck_needs_a_target_for_a_loss_and_none_for_a_layer() -> None:
    with pytest.raises(TypeError, match=r"MSELoss.*target"):
        gradcheck(layernet.MSELoss(), np.ones((2, 1)))
    with pytest.raises(TypeError, match="takes no target"):
        gradcheck(layernet.Sigmoid(), np.ones((2, 1)), np.ones((2, 1)))
    with pytest.raises(TypeError, match="expected a Layer or a Loss, got str"):
        gradcheck("dense", np.ones((2, 1)))  # type: ignore[arg-type]
