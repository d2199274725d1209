"""ONNX export, checked by running every exported model in onnxruntime against ``predict``.

Skipped unless onnx and onnxruntime are installed (``pip install 'layernet[onnx]'``;
``.ci/run`` installs them).

Outputs agree elementwise within ``rtol`` (1e-5 for float32, 1e-10 for float64)
plus an absolute floor of ``rtol`` times the output's largest magnitude, so
that entries near zero are held to the precision the output carries as a
whole (a tanh-approximate GELU at x = -6 is ``x (1 + tanh(u)) / 2`` with
``1 + tanh(u)`` ~ 1e-11: one rounding of ``tanh`` changes it by 1e-5
relative, in layernet's own float64 forward as much as in onnxruntime).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

import layernet as ln
import layernet.onnx as lnx
from layernet.layers.normalization import BatchNorm
from layernet.layers.registry import registered_layers

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

Array = np.ndarray[Any, Any]
TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


def run_onnx(path: Path, x: Array) -> Array:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"input": x})
    out: Array = y
    return out


def assert_matches(model: ln.Layer, x: Array, path: Path, **export_args: Any) -> None:
    """Export ``model``, run it in onnxruntime on ``x`` and on a one-sample batch, compare."""
    lnx.export(model, path, **export_args)
    dtype = np.dtype(model.dtype)
    tol = TOLERANCE[dtype]
    fed = np.int64 if model.takes_integers() else dtype  # ids stay int64
    for batch in (x.astype(fed), x[:1].astype(fed)):  # the batch size stays dynamic
        want = ln.predict(model, batch)
        got = run_onnx(path, batch)
        assert got.dtype == dtype
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


B = TypeVar("B", bound=BatchNorm)


def _with_stats(bn: B, seed: int = 5) -> B:
    rng = np.random.default_rng(seed)
    bn.gamma.value[...] = rng.uniform(0.5, 1.5, bn.num_features)
    bn.beta.value[...] = rng.normal(size=bn.num_features)
    bn.running_mean[...] = rng.normal(size=bn.num_features)
    bn.running_var[...] = rng.uniform(0.5, 2.0, bn.num_features)
    return bn


def _with_affine(norm: ln.LayerNorm) -> ln.LayerNorm:
    rng = np.random.default_rng(6)
    norm.gamma.value[...] = rng.uniform(0.5, 1.5, norm.num_features)
    norm.beta.value[...] = rng.normal(size=norm.num_features)
    return norm


def _all_with_stats(model: ln.Layer) -> ln.Layer:
    """Every batch norm inside ``model`` with its own non-trivial affine and running stats."""
    for i, (_, layer) in enumerate(model.named_modules()):
        if isinstance(layer, BatchNorm):
            _with_stats(layer, seed=100 + i)
    return model


def _basic_block_1d(channels: int, rng: int, dt: Any) -> ln.Residual:
    """conv-bn-relu-conv-bn plus the identity, as examples/mnist1d_resnet.py."""
    return ln.Residual(
        ln.Sequential(
            [
                ln.Conv1d(channels, channels, 3, padding="same", bias=False, rng=rng, dtype=dt),
                ln.BatchNorm1d(channels, dtype=dt),
                ln.ReLU(),
                ln.Conv1d(channels, channels, 3, padding="same", bias=False, rng=rng + 1, dtype=dt),
                ln.BatchNorm1d(channels, dtype=dt),
            ]
        )
    )


def _resnet_1d(dt: Any) -> ln.Layer:
    """A small examples/mnist1d_resnet.py: a stem, two residual stages, pooling, a head."""
    layers: list[ln.Layer] = [
        ln.Reshape((1, 16)),
        ln.Conv1d(1, 4, 5, padding="same", bias=False, rng=0, dtype=dt),
        ln.BatchNorm1d(4, dtype=dt),
        ln.ReLU(),
    ]
    for stage in range(2):
        layers += [_basic_block_1d(4, 10 * stage + 1, dt), ln.ReLU(), ln.MaxPool1d(2)]
    layers += [ln.GlobalAvgPool1d(), ln.Dense(4, 3, rng=9, dtype=dt)]
    return _all_with_stats(ln.Sequential(layers))


def _resnet_2d(dt: Any) -> ln.Layer:
    """A ResNet basic block with a 1x1 projection shortcut (BatchNorm2d on both paths)."""
    return _all_with_stats(
        ln.Sequential(
            [
                ln.Residual(
                    ln.Sequential(
                        [
                            ln.Conv2d(2, 4, 3, stride=2, padding=1, bias=False, rng=0, dtype=dt),
                            ln.BatchNorm2d(4, dtype=dt),
                            ln.ReLU(),
                            ln.Conv2d(4, 4, 3, padding=1, bias=False, rng=1, dtype=dt),
                            ln.BatchNorm2d(4, dtype=dt),
                        ]
                    ),
                    shortcut=ln.Sequential(
                        [
                            ln.Conv2d(2, 4, 1, stride=2, bias=False, rng=2, dtype=dt),
                            ln.BatchNorm2d(4, dtype=dt),
                        ]
                    ),
                ),
                ln.ReLU(),
                ln.GlobalAvgPool2d(),
                ln.Dense(4, 3, rng=3, dtype=dt),
            ]
        )
    )


def _nested(dt: Any) -> ln.Layer:
    """Containers inside containers: Residuals in Sequentials in Parallels, and back."""
    return ln.Sequential(
        [
            ln.Parallel(
                [
                    ln.Sequential(
                        [
                            ln.Residual(
                                ln.Sequential(
                                    [
                                        ln.Dense(4, 4, rng=0, dtype=dt),
                                        ln.ReLU(),
                                        ln.Dense(4, 4, rng=1, dtype=dt),
                                    ]
                                )
                            ),
                            ln.Tanh(),
                        ]
                    ),
                    ln.Residual(
                        ln.Parallel(
                            [ln.Dense(4, 1, rng=2, dtype=dt), ln.Dense(4, 3, rng=3, dtype=dt)]
                        ),
                        shortcut=ln.Dense(4, 4, rng=4, dtype=dt),
                    ),
                    ln.Dense(4, 3, rng=5, dtype=dt),
                ]
            ),
            ln.Residual(
                ln.Sequential(
                    [
                        ln.Parallel(
                            [
                                ln.Dense(11, 11, rng=6, dtype=dt),
                                ln.Sequential([ln.Dense(11, 11, rng=7, dtype=dt), ln.Sigmoid()]),
                            ],
                            merge="add",
                        ),
                        _with_stats(ln.BatchNorm1d(11, dtype=dt)),
                    ]
                )
            ),
            ln.Dense(11, 2, rng=8, dtype=dt),
        ]
    )


Build = Callable[[Any], ln.Layer]
VOCAB = 11  # the sequence cases' ids run over [0, VOCAB)


def _recurrent(cls: type[ln.RNN | ln.LSTM | ln.GRU], sequences: bool) -> Build:
    return lambda dt: cls(4, 5, return_sequences=sequences, rng=0, dtype=dt)


# name -> (build(dtype), per-sample input shape); every layer class appears in one
CASES: dict[str, tuple[Build, tuple[int, ...]]] = {
    "Dense": (lambda dt: ln.Dense(4, 5, rng=0, dtype=dt), (4,)),
    "Dense-no-bias": (lambda dt: ln.Dense(4, 5, bias=False, rng=0, dtype=dt), (4,)),
    "ReLU": (lambda dt: ln.Sequential([ln.Dense(4, 6, rng=0, dtype=dt), ln.ReLU()]), (4,)),
    "Sigmoid": (lambda dt: ln.Sequential([ln.Dense(4, 6, rng=0, dtype=dt), ln.Sigmoid()]), (4,)),
    "Tanh": (lambda dt: ln.Sequential([ln.Dense(4, 6, rng=0, dtype=dt), ln.Tanh()]), (4,)),
    "Identity": (lambda dt: ln.Sequential([ln.Dense(4, 6, rng=0, dtype=dt), ln.Identity()]), (4,)),
    "LeakyReLU": (
        lambda dt: ln.Sequential([ln.Dense(4, 6, rng=0, dtype=dt), ln.LeakyReLU(0.2)]),
        (4,),
    ),
    "ELU": (lambda dt: ln.Sequential([ln.Dense(4, 6, rng=0, dtype=dt), ln.ELU(0.7)]), (4,)),
    "GELU": (lambda dt: ln.Sequential([ln.Dense(4, 6, rng=0, dtype=dt), ln.GELU()]), (4,)),
    "GELU-tanh": (
        lambda dt: ln.Sequential([ln.Dense(4, 6, rng=0, dtype=dt), ln.GELU("tanh")]),
        (4,),
    ),
    "Softplus": (
        lambda dt: ln.Sequential([ln.Dense(4, 6, rng=0, dtype=dt), ln.Softplus()]),
        (4,),
    ),
    "Softplus-beta": (
        lambda dt: ln.Sequential([ln.Dense(4, 6, rng=0, dtype=dt), ln.Softplus(2.0, 3.0)]),
        (4,),
    ),
    "Softmax": (lambda dt: ln.Sequential([ln.Dense(4, 6, rng=0, dtype=dt), ln.Softmax()]), (4,)),
    "Softmax-axis1": (
        lambda dt: ln.Sequential([ln.Conv1d(2, 3, 3, rng=0, dtype=dt), ln.Softmax(axis=1)]),
        (2, 9),
    ),
    "Dropout": (
        lambda dt: ln.Sequential([ln.Dense(4, 6, rng=0, dtype=dt), ln.Dropout(0.5, rng=0)]),
        (4,),
    ),
    "BatchNorm1d": (
        lambda dt: ln.Sequential(
            [ln.Dense(4, 6, rng=0, dtype=dt), _with_stats(ln.BatchNorm1d(6, dtype=dt))]
        ),
        (4,),
    ),
    "BatchNorm1d-3d": (
        lambda dt: ln.Sequential(
            [ln.Conv1d(2, 3, 3, rng=0, dtype=dt), _with_stats(ln.BatchNorm1d(3, dtype=dt))]
        ),
        (2, 9),
    ),
    "LayerNorm": (
        lambda dt: ln.Sequential(
            [ln.Dense(4, 6, rng=0, dtype=dt), _with_affine(ln.LayerNorm(6, dtype=dt))]
        ),
        (4,),
    ),
    "Flatten": (
        lambda dt: ln.Sequential([ln.Conv2d(2, 3, 2, rng=0, dtype=dt), ln.Flatten()]),
        (2, 5, 4),
    ),
    "Conv1d": (lambda dt: ln.Conv1d(2, 3, 3, rng=0, dtype=dt), (2, 11)),
    "Conv1d-strided": (
        lambda dt: ln.Conv1d(2, 3, 3, stride=2, padding=1, dilation=2, rng=0, dtype=dt),
        (2, 12),
    ),
    "Conv1d-same": (
        lambda dt: ln.Conv1d(2, 3, 4, padding="same", dilation=2, bias=False, rng=0, dtype=dt),
        (2, 10),
    ),
    "Conv2d": (lambda dt: ln.Conv2d(2, 3, 3, rng=0, dtype=dt), (2, 7, 6)),
    "Conv2d-strided": (
        lambda dt: ln.Conv2d(
            2, 3, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), rng=0, dtype=dt
        ),
        (2, 9, 8),
    ),
    "Conv2d-same": (
        lambda dt: ln.Conv2d(2, 3, 4, padding="same", rng=0, dtype=dt),
        (2, 6, 7),
    ),
    "MaxPool1d": (
        lambda dt: ln.Sequential([ln.Conv1d(2, 3, 1, rng=0, dtype=dt), ln.MaxPool1d(3, 2, 1)]),
        (2, 10),
    ),
    "MaxPool2d": (
        lambda dt: ln.Sequential(
            [ln.Conv2d(2, 3, 1, rng=0, dtype=dt), ln.MaxPool2d((2, 3), 1, (1, 1))]
        ),
        (2, 6, 7),
    ),
    "AvgPool1d": (
        lambda dt: ln.Sequential([ln.Conv1d(2, 3, 1, rng=0, dtype=dt), ln.AvgPool1d(3, 2, 1)]),
        (2, 10),
    ),
    "AvgPool2d": (
        lambda dt: ln.Sequential(
            [ln.Conv2d(2, 3, 1, rng=0, dtype=dt), ln.AvgPool2d((2, 3), 1, (1, 1))]
        ),
        (2, 6, 7),
    ),
    "GlobalAvgPool1d": (
        lambda dt: ln.Sequential([ln.Conv1d(2, 3, 2, rng=0, dtype=dt), ln.GlobalAvgPool1d()]),
        (2, 10),
    ),
    "GlobalAvgPool2d": (
        lambda dt: ln.Sequential([ln.Conv2d(2, 3, 2, rng=0, dtype=dt), ln.GlobalAvgPool2d()]),
        (2, 6, 7),
    ),
    "Sequential-nested": (
        lambda dt: ln.Sequential(
            [
                ln.Sequential([ln.Dense(4, 6, rng=0, dtype=dt), ln.ReLU()]),
                ln.Sequential([ln.Sequential([ln.Dense(6, 3, rng=1, dtype=dt)]), ln.Tanh()]),
            ]
        ),
        (4,),
    ),
    "Embedding": (lambda dt: ln.Embedding(VOCAB, 4, rng=0, dtype=dt), (7,)),
    "Embedding-padding": (lambda dt: ln.Embedding(VOCAB, 3, padding_idx=0, rng=0, dtype=dt), ()),
    "PositionalEmbedding": (
        lambda dt: ln.Sequential(
            [ln.Embedding(VOCAB, 4, rng=0, dtype=dt), ln.PositionalEmbedding(9, 4, rng=1, dtype=dt)]
        ),
        (7,),
    ),
    **{
        f"{cls.__name__}{'-sequences' if seq else ''}": (
            _recurrent(cls, seq),
            (7, 4),
        )
        for cls in (ln.RNN, ln.LSTM, ln.GRU)
        for seq in (False, True)
    },
    "RNN-relu": (
        lambda dt: ln.RNN(4, 5, "relu", return_sequences=True, rng=0, dtype=dt),
        (7, 4),
    ),
    "MultiHeadAttention": (
        lambda dt: ln.MultiHeadAttention(6, 3, dropout=0.3, rng=0, dtype=dt),
        (5, 6),
    ),
    "MultiHeadAttention-causal": (
        lambda dt: ln.MultiHeadAttention(4, 2, causal=True, rng=0, dtype=dt),
        (5, 4),
    ),
    "Transformer-GRU": (
        lambda dt: ln.Sequential(
            [
                ln.Embedding(VOCAB, 8, rng=0, dtype=dt),
                ln.PositionalEmbedding(12, 8, rng=1, dtype=dt),
                ln.Residual(
                    ln.Sequential(
                        [
                            _with_affine(ln.LayerNorm(8, dtype=dt)),
                            ln.MultiHeadAttention(8, 2, causal=True, rng=2, dtype=dt),
                        ]
                    )
                ),
                ln.GRU(8, 6, rng=3, dtype=dt),
                ln.Dense(6, 3, rng=4, dtype=dt),
            ]
        ),
        (7,),
    ),
    "CNN": (
        lambda dt: ln.Sequential(
            [
                ln.Conv2d(1, 4, 3, padding="same", rng=0, dtype=dt),
                ln.ReLU(),
                ln.MaxPool2d(2),
                ln.Conv2d(4, 6, 3, stride=2, padding=1, rng=1, dtype=dt),
                ln.GELU(),
                ln.Flatten(),
                ln.Dense(24, 8, rng=2, dtype=dt),
                _with_stats(ln.BatchNorm1d(8, dtype=dt)),
                ln.ELU(),
                ln.Dropout(0.2),
                ln.Dense(8, 3, rng=3, dtype=dt),
                ln.Softmax(),
            ]
        ),
        (1, 8, 8),
    ),
    "BatchNorm2d": (
        lambda dt: ln.Sequential(
            [ln.Conv2d(2, 3, 2, rng=0, dtype=dt), _with_stats(ln.BatchNorm2d(3, dtype=dt))]
        ),
        (2, 6, 7),
    ),
    "Reshape": (
        lambda dt: ln.Sequential(
            [
                ln.Dense(6, 12, rng=0, dtype=dt),
                ln.Reshape((3, -1)),
                ln.Conv1d(3, 2, 2, rng=1, dtype=dt),
            ]
        ),
        (6,),
    ),
    "Reshape-first": (
        lambda dt: ln.Sequential([ln.Reshape((2, 5)), ln.Conv1d(2, 3, 3, rng=0, dtype=dt)]),
        (10,),
    ),
    "Reshape-images": (
        lambda dt: ln.Sequential(
            [
                ln.Conv2d(2, 3, 1, rng=0, dtype=dt),
                ln.Reshape((-1, 6)),
                ln.Dense(6, 2, rng=1, dtype=dt),
            ]
        ),
        (2, 5, 4),
    ),
    "Permute": (
        lambda dt: ln.Sequential(
            [
                ln.Conv1d(2, 3, 3, rng=0, dtype=dt),
                ln.Permute((2, 1)),
                ln.Dense(3, 4, rng=1, dtype=dt),
            ]
        ),
        (2, 9),
    ),
    "Permute-3": (
        lambda dt: ln.Sequential([ln.Conv2d(2, 3, 1, rng=0, dtype=dt), ln.Permute((3, 1, 2))]),
        (2, 5, 4),
    ),
    "Dense-sequence": (
        lambda dt: ln.Sequential([ln.Dense(4, 5, rng=0, dtype=dt), ln.Tanh()]),
        (7, 4),
    ),
    "Dense-4d-no-bias": (lambda dt: ln.Dense(4, 3, bias=False, rng=0, dtype=dt), (3, 2, 4)),
    "Residual": (
        lambda dt: ln.Sequential(
            [
                ln.Dense(4, 6, rng=0, dtype=dt),
                ln.Residual(ln.Sequential([ln.Dense(6, 6, rng=1, dtype=dt), ln.Tanh()])),
            ]
        ),
        (4,),
    ),
    "Residual-shortcut": (
        lambda dt: ln.Residual(
            ln.Sequential([ln.Conv1d(2, 4, 3, padding="same", rng=0, dtype=dt), ln.ReLU()]),
            shortcut=ln.Conv1d(2, 4, 1, rng=1, dtype=dt),
        ),
        (2, 9),
    ),
    "Parallel-concat": (
        lambda dt: ln.Parallel(
            [
                ln.Dense(4, 3, rng=0, dtype=dt),
                ln.Sequential([ln.Dense(4, 2, rng=1, dtype=dt), ln.ReLU()]),
                ln.Identity(),
            ]
        ),
        (4,),
    ),
    "Parallel-concat-channels": (
        lambda dt: ln.Parallel(
            [
                ln.Conv2d(2, 3, 1, rng=0, dtype=dt),
                ln.Sequential([ln.Conv2d(2, 2, 3, padding=1, rng=1, dtype=dt), ln.ReLU()]),
                ln.MaxPool2d(3, stride=1, padding=1),
            ]
        ),
        (2, 5, 6),
    ),
    "Parallel-concat-axis2": (
        lambda dt: ln.Parallel(
            [ln.Conv2d(2, 3, 3, rng=0, dtype=dt), ln.Conv2d(2, 3, (1, 3), rng=1, dtype=dt)],
            axis=2,
        ),
        (2, 5, 6),
    ),
    "Parallel-concat-last": (
        lambda dt: ln.Parallel(
            [ln.Conv1d(2, 3, 3, rng=0, dtype=dt), ln.Conv1d(2, 3, 1, rng=1, dtype=dt)],
            axis=-1,
        ),
        (2, 9),
    ),
    "Parallel-add": (
        lambda dt: ln.Parallel(
            [ln.Dense(4, 3, rng=i, dtype=dt) for i in range(3)],
            merge="add",
        ),
        (4,),
    ),
    "Parallel-add-one": (
        lambda dt: ln.Parallel([ln.Dense(4, 3, rng=0, dtype=dt)], merge="add"),
        (4,),
    ),
    "containers-nested": (_nested, (4,)),
    "ResNet-1d": (_resnet_1d, (16,)),
    "ResNet-2d": (_resnet_2d, (2, 8, 7)),
}

# cases whose input has more axes than the model's input_spec implies (the export's default)
INPUT_SHAPES: dict[str, tuple[int | None, ...]] = {
    "Dense-sequence": (None, 4),
    "Dense-4d-no-bias": (3, None, 4),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_onnxruntime_matches_predict(case: str, dtype: Any, tmp_path: Path) -> None:
    build, shape = CASES[case]
    model = build(dtype)
    rng = np.random.default_rng(1)
    x: Array
    if model.takes_integers():
        x = rng.integers(0, VOCAB, size=(6, *shape))
        assert_matches(model, x, tmp_path / "model.onnx", input_shape=shape)
        return
    x = rng.normal(scale=2.0, size=(6, *shape))
    args = {"input_shape": INPUT_SHAPES[case]} if case in INPUT_SHAPES else {}
    assert_matches(model, x, tmp_path / "model.onnx", **args)


def test_every_registered_layer_has_an_exporter_and_a_case() -> None:
    """A new layer cannot join the catalogue without an ONNX exporter checked here."""
    covered: set[type[ln.Layer]] = set()
    for build, _ in CASES.values():
        for dtype in (np.float32,):
            for _, layer in build(dtype).named_modules():
                covered.add(type(layer))
    for name, cls in registered_layers().items():
        if getattr(ln, name, None) is not cls:
            continue  # a test's own layer, not the catalogue's
        assert lnx.exporter_for(cls) is not None, f"{name} has no ONNX exporter"
        assert cls in covered, f"{name} has no case in test_onnx.CASES"


@pytest.mark.parametrize("opset", [17, 18, 21])
def test_other_opsets_compute_the_same(opset: int, tmp_path: Path) -> None:
    """Opset 17 writes ReduceMean's axes as an attribute and GELU with Erf."""
    build, shape = CASES["CNN"]
    x = np.random.default_rng(2).normal(size=(5, *shape))
    for dtype in (np.float32, np.float64):
        model = ln.Sequential([build(dtype), ln.Sequential([ln.Dense(3, 2, rng=4, dtype=dtype)])])
        assert_matches(model, x, tmp_path / "m.onnx", opset=opset)
        proto = onnx.load(tmp_path / "m.onnx")
        assert [(o.domain, o.version) for o in proto.opset_import] == [("", opset)]


def test_the_file_declares_opset_20_ir_9_and_a_dynamic_batch(tmp_path: Path) -> None:
    model = ln.Sequential([ln.Dense(3, 4, rng=0), ln.ReLU(), ln.Dense(4, 2, rng=1)])
    lnx.export(model, tmp_path / "m.onnx")
    proto = onnx.load(tmp_path / "m.onnx")
    onnx.checker.check_model(proto, full_check=True)
    assert lnx.DEFAULT_OPSET == 20
    assert proto.ir_version == 9
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 20)]
    assert proto.producer_name == "layernet"
    (graph_in,) = proto.graph.input
    (graph_out,) = proto.graph.output
    dims_in = [d.dim_param or d.dim_value for d in graph_in.type.tensor_type.shape.dim]
    dims_out = [d.dim_param or d.dim_value for d in graph_out.type.tensor_type.shape.dim]
    assert dims_in == ["batch", 3]
    assert dims_out == ["batch", 2]
    assert graph_in.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    x = np.random.default_rng(0).normal(size=(257, 3))
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", x), model.predict(x), rtol=1e-12)


def test_input_shape_pins_a_free_length(tmp_path: Path) -> None:
    model = ln.Sequential([ln.Conv1d(2, 3, 3, rng=0), ln.GlobalAvgPool1d()])
    x = np.random.default_rng(0).normal(size=(4, 2, 9))
    assert_matches(model, x, tmp_path / "free.onnx")  # any length by default
    longer = np.random.default_rng(1).normal(size=(4, 2, 30))
    np.testing.assert_allclose(
        run_onnx(tmp_path / "free.onnx", longer), model.predict(longer), rtol=1e-10
    )
    lnx.export(model, tmp_path / "pinned.onnx", input_shape=(2, 9))
    (graph_in,) = onnx.load(tmp_path / "pinned.onnx").graph.input
    assert [d.dim_param or d.dim_value for d in graph_in.type.tensor_type.shape.dim] == [
        "batch",
        2,
        9,
    ]
    with pytest.raises(ValueError, match=r"expects input of shape .*got input_shape=\(3, 9\)"):
        lnx.export(model, tmp_path / "bad.onnx", input_shape=(3, 9))


def test_a_model_taking_several_ranks_gets_the_smallest_unless_told(tmp_path: Path) -> None:
    bn = _with_stats(ln.BatchNorm1d(3))
    model = ln.Sequential([bn, ln.Tanh()])
    x2 = np.random.default_rng(0).normal(size=(4, 3))
    assert_matches(model, x2, tmp_path / "flat.onnx")  # (batch, 3)
    x3 = np.random.default_rng(1).normal(size=(4, 3, 5))
    assert_matches(model, x3, tmp_path / "seq.onnx", input_shape=(3, None))
    (graph_out,) = onnx.load(tmp_path / "seq.onnx").graph.output
    dims = [d.dim_param or (d.dim_value or None) for d in graph_out.type.tensor_type.shape.dim]
    assert dims == ["batch", 3, None]
    with pytest.raises(ValueError, match=r"does not declare its input shape .*pass input_shape="):
        lnx.export(ln.Sequential([ln.ReLU()]), tmp_path / "relu.onnx")
    assert_matches(ln.Sequential([ln.ReLU()]), x3, tmp_path / "relu.onnx", input_shape=(3, 5))


def test_sequences_keep_the_batch_and_time_axes_dynamic(tmp_path: Path) -> None:
    """Dense per step, Permute to channels-first and back: one graph for every length."""
    model = ln.Sequential(
        [
            ln.Dense(4, 6, rng=0),
            ln.Permute((2, 1)),
            ln.Conv1d(6, 3, 3, padding="same", rng=1),
            ln.Permute((2, 1)),
            _with_affine(ln.LayerNorm(3)),
            ln.Dense(3, 2, rng=2),
        ]
    )
    path = tmp_path / "seq.onnx"
    lnx.export(model, path, input_shape=(None, 4))
    (graph_in,) = onnx.load(path).graph.input
    (graph_out,) = onnx.load(path).graph.output
    dims_in = [d.dim_param or (d.dim_value or None) for d in graph_in.type.tensor_type.shape.dim]
    dims_out = [d.dim_param or (d.dim_value or None) for d in graph_out.type.tensor_type.shape.dim]
    assert dims_in == ["batch", None, 4]
    assert dims_out == ["batch", None, 2]
    for batch, length in ((3, 5), (1, 11)):
        x = np.random.default_rng(length).normal(size=(batch, length, 4))
        want = model.predict(x)
        np.testing.assert_allclose(
            run_onnx(path, x), want, rtol=1e-10, atol=1e-10 * abs(want).max()
        )


# -- user layers and errors -----------------------------------------------------------


class Scale(ln.Layer):
    """``y = x * s``: a user layer with one parameter."""

    def __init__(self, n: int) -> None:
        self.s = ln.Parameter(np.linspace(0.5, 2.0, n))

    def forward(self, x: Array, *, training: bool = False) -> Array:
        out: Array = x * self.s.value
        return out

    def backward(self, grad_out: Array) -> Array:
        raise NotImplementedError  # not needed to export


class Twice(ln.Model):
    """A user container: ``y = inner(inner2(x))`` with its children as attributes."""

    def __init__(self, first: ln.Layer, second: ln.Layer) -> None:
        self.first = first
        self.second = second

    def forward(self, x: Array, *, training: bool = False) -> Array:
        return self.second.forward(self.first.forward(x, training=training), training=training)

    def backward(self, grad_out: Array) -> Array:
        raise NotImplementedError


def test_a_layer_without_exporter_is_named_with_its_position(tmp_path: Path) -> None:
    model = ln.Sequential(
        [ln.Dense(3, 4, rng=0), ln.Sequential([ln.ReLU(), Scale(4)]), ln.Dense(4, 1)]
    )
    with pytest.raises(
        TypeError,
        match=r"Scale\(\) at '1\.1' has no ONNX exporter; register one with "
        r"@layernet\.onnx\.register_exporter\(Scale\)",
    ):
        lnx.export(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    with pytest.raises(TypeError, match=r"Scale\(\) \(the model itself\) has no ONNX exporter"):
        lnx.export(Scale(3), tmp_path / "m.onnx")


def test_user_layers_and_containers_register_exporters(tmp_path: Path) -> None:
    @lnx.register_exporter(Scale)
    def export_scale(layer: Scale, x: str, ctx: lnx.ExportContext) -> str:
        return ctx.node("Mul", [x, ctx.constant(layer.s.value, "s")])

    @lnx.register_exporter(Twice)
    def export_twice(layer: Twice, x: str, ctx: lnx.ExportContext) -> str:
        for name, child in layer.named_children():
            x = ctx.export(child, x, name)
        return x

    try:
        model = ln.Sequential(
            [
                ln.Dense(3, 4, rng=0),
                Twice(Scale(4), ln.Sequential([ln.Tanh(), Scale(4)])),
                ln.Dense(4, 2, rng=1),
            ]
        )
        x = np.random.default_rng(0).normal(size=(5, 3))
        assert_matches(model, x, tmp_path / "m.onnx")
        names = {node.name for node in onnx.load(tmp_path / "m.onnx").graph.node}
        assert any(name.startswith("1.second.1/Mul") for name in names), sorted(names)
        # Scale does not implement output_shape: ONNX's shape inference finds the output's
        last = ln.Sequential([ln.Dense(3, 4, rng=0), Scale(4)])
        assert_matches(last, x, tmp_path / "last.onnx")
        (graph_out,) = onnx.load(tmp_path / "last.onnx").graph.output
        assert [d.dim_param or d.dim_value for d in graph_out.type.tensor_type.shape.dim] == [
            "batch",
            4,
        ]
    finally:
        lnx._EXPORTERS.pop(Scale)
        lnx._EXPORTERS.pop(Twice)


class FoldHalves(ln.Layer):
    """``y = x[:, :k] + x[:, k:]`` for ``2k`` features: an exporter with a two-output node."""

    def forward(self, x: Array, *, training: bool = False) -> Array:
        k = x.shape[1] // 2
        out: Array = x[:, :k] + x[:, k:]
        return out

    def backward(self, grad_out: Array) -> Array:
        raise NotImplementedError

    def output_shape(self, input_shape: Any) -> Any:
        if input_shape is None or len(input_shape) != 1:
            return None  # (batch, features) only: no leading axes
        return (input_shape[0] // 2,)


def test_an_exporter_may_add_a_node_with_several_outputs(tmp_path: Path) -> None:
    @lnx.register_exporter(FoldHalves)
    def export_fold(layer: FoldHalves, x: str, ctx: lnx.ExportContext) -> str:
        halves = ctx.multi_node("Split", [x], 2, axis=1, num_outputs=2)
        return ctx.node("Add", halves)

    try:
        model = ln.Sequential([ln.Dense(3, 6, rng=0), FoldHalves()])
        assert_matches(model, np.random.default_rng(0).normal(size=(5, 3)), tmp_path / "m.onnx")
    finally:
        lnx._EXPORTERS.pop(FoldHalves)


def test_bad_arguments(tmp_path: Path) -> None:
    model = ln.Dense(2, 1)
    with pytest.raises(TypeError, match="model must be a Layer, got str"):
        lnx.export("model", tmp_path / "m.onnx")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike, got int"):
        lnx.export(model, 3)  # type: ignore[arg-type]
    for opset in (16, 10_000, "20", True):
        bad: Any = opset
        with pytest.raises(ValueError, match=r"opset must be an int in \[17, \d+\]"):
            lnx.export(model, tmp_path / "m.onnx", opset=bad)
    with pytest.raises(ValueError, match="input_shape must be a tuple of positive ints"):
        lnx.export(model, tmp_path / "m.onnx", input_shape=(0,))
    with pytest.raises(TypeError, match="expected a Layer subclass, got <class 'int'>"):
        lnx.register_exporter(int)  # type: ignore[type-var]


def test_without_onnx_the_error_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "layernet\[onnx\]"'):
        lnx.export(ln.Dense(2, 1), tmp_path / "m.onnx")


def test_sequence_models_take_int64_ids_of_any_length(tmp_path: Path) -> None:
    """The graph input of an Embedding-first model is int64 (batch, time), time dynamic."""
    build, _ = CASES["Transformer-GRU"]
    for dtype in (np.float32, np.float64):
        model = build(dtype)
        lnx.export(model, tmp_path / "m.onnx")
        (graph_in,) = onnx.load(tmp_path / "m.onnx").graph.input
        assert graph_in.type.tensor_type.elem_type == onnx.TensorProto.INT64
        dims = [d.dim_param or (d.dim_value or None) for d in graph_in.type.tensor_type.shape.dim]
        assert dims == ["batch", None]
        for time in (1, 3, 12):  # 12 is the PositionalEmbedding's max_len
            ids = np.random.default_rng(time).integers(0, VOCAB, size=(4, time))
            assert_matches(model, ids, tmp_path / "m.onnx")
        for opset in (17, 21):  # Squeeze, Shape(start, end), Range and Scan read alike
            assert_matches(model, ids, tmp_path / "m.onnx", opset=opset)
    sequences = ln.LSTM(3, 4, return_sequences=True, rng=0)
    lnx.export(sequences, tmp_path / "lstm.onnx")
    for time in (1, 9):
        x = np.random.default_rng(time).normal(size=(2, time, 3))
        got = run_onnx(tmp_path / "lstm.onnx", x)
        np.testing.assert_allclose(got, ln.predict(sequences, x), rtol=1e-10, atol=1e-10)
