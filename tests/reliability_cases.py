# mypy: disable-error-code="arg-type,assignment,call-overload,dict-item,list-item,misc,unused-ignore"
# ruff: noqa: E501
"""The reliability suites' catalogue of the public API, checked against ``layernet.__all__``.

Every name that ``layernet`` exports has exactly one entry here: a
:class:`LayerSpec` (how to build the layer, which inputs it takes, the shape
it returns), a loss, optimizer, metric, schedule or callback factory, a
checked function, or an exemption with its reason. ``test_every_export_has_an_entry``
(in test_bad_input.py) fails for an export without one, naming the table to
extend, so a new layer cannot skip the property, bad-input and extremes suites.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

import layernet as ln
from layernet import Layer

Draw = Callable[[st.SearchStrategy[Any]], Any]
Shape = tuple[int, ...]


def sizes(low: int = 1, high: int = 6) -> st.SearchStrategy[int]:
    return st.integers(low, high)


@dataclass(frozen=True)
class LayerSpec:
    """How the suites build and feed one exported Layer class.

    Attributes
    ----------
    build : callable (draw, dtype) -> (layer, sample_shape, output_sample_shape)
        Draws constructor sizes with ``draw`` (hypothesis), builds the layer in
        ``dtype`` (ignored by parameter-free layers, which follow their input:
        float32 stays float32) and returns a valid per-sample input shape and
        the per-sample output shape the documentation promises for it.
    example : callable () -> (layer, batch_shape)
        A fixed float64 layer and a valid batch shape, for the bad-input suite.
    wrong_shapes : list of batch shapes
        Inputs ``example``'s layer must reject: wrong rank, wrong feature count.
    bad_args : list of (kwargs, exception, regex)
        Constructor calls that must fail, with what the message must say.
    batch_coupled_in_training : bool
        True where ``training=True`` mixes rows (BatchNorm) or draws per call
        (Dropout), so batch independence is only checked in inference.
    ids : int
        Positive for a layer that takes integer ids (Embedding): the suites
        feed it ids in ``[0, ids)`` instead of real numbers.
    """

    build: Callable[[Draw, Any], tuple[Layer, Shape, Shape]]
    example: Callable[[], tuple[Layer, Shape]]
    wrong_shapes: list[Shape] = field(default_factory=list)
    bad_args: list[tuple[dict[str, Any], type[Exception], str]] = field(default_factory=list)
    batch_coupled_in_training: bool = False
    ids: int = 0


def draw_input(spec: LayerSpec, rng: np.random.Generator, shape: Shape, dtype: Any) -> Any:
    """A valid input batch for ``spec``'s layer: ids where it takes ids, else normal floats."""
    if spec.ids:
        return rng.integers(0, spec.ids, size=shape)
    return rng.normal(size=shape).astype(dtype)


def _elementwise(make: Callable[[], Layer]) -> LayerSpec:
    """A parameter-free, shape-preserving layer: any per-sample shape goes."""

    def build(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
        shape = tuple(draw(st.lists(sizes(), min_size=1, max_size=3)))
        return make(), shape, shape

    return LayerSpec(build, lambda: (make(), (4, 3)))


def _dense(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
    n_in, n_out = draw(sizes(1, 8)), draw(sizes(1, 8))
    lead = tuple(draw(st.lists(sizes(1, 3), max_size=2)))  # (batch, *, in): sequences too
    layer = ln.Dense(n_in, n_out, bias=draw(st.booleans()), rng=draw(sizes(0, 99)), dtype=dtype)
    return layer, (*lead, n_in), (*lead, n_out)


def _sequential(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
    n_in, hidden, n_out = draw(sizes(1, 6)), draw(sizes(1, 6)), draw(sizes(1, 6))
    model = ln.Sequential(
        [
            ln.Dense(n_in, hidden, rng=0, dtype=dtype),
            ln.Tanh(),
            ln.Dense(hidden, n_out, rng=1, dtype=dtype),
        ]
    )
    return model, (n_in,), (n_out,)


def _batchnorm(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
    c = draw(sizes(1, 5))
    shape: Shape = (c,) if draw(st.booleans()) else (c, draw(sizes(1, 4)))
    layer = ln.BatchNorm1d(c, dtype=dtype)
    rng = np.random.default_rng(draw(sizes(0, 99)))
    layer.running_mean[...] = rng.normal(size=c)
    layer.running_var[...] = rng.uniform(0.5, 2.0, size=c)
    layer.gamma.value[...] = rng.uniform(0.5, 1.5, size=c)
    return layer, shape, shape


def _batchnorm2d(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
    c = draw(sizes(1, 4))
    shape: Shape = (c, draw(sizes(1, 3)), draw(sizes(1, 3)))
    layer = ln.BatchNorm2d(c, dtype=dtype)
    rng = np.random.default_rng(draw(sizes(0, 99)))
    layer.running_mean[...] = rng.normal(size=c)
    layer.running_var[...] = rng.uniform(0.5, 2.0, size=c)
    layer.gamma.value[...] = rng.uniform(0.5, 1.5, size=c)
    return layer, shape, shape


def _permute(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
    shape = tuple(draw(st.lists(sizes(), min_size=1, max_size=3)))
    dims = tuple(draw(st.permutations(range(1, len(shape) + 1))))
    return ln.Permute(dims), shape, tuple(shape[d - 1] for d in dims)


def _reshape(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
    shape = tuple(draw(st.lists(sizes(), min_size=1, max_size=3)))
    size = int(np.prod(shape))
    target = draw(st.sampled_from([(size,), (-1,), (1, -1), tuple(reversed(shape))]))
    out = tuple(size if d == -1 else d for d in target)
    return ln.Reshape(target), shape, out


def _residual(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
    n, hidden = draw(sizes(1, 6)), draw(sizes(1, 6))
    lead = tuple(draw(st.lists(sizes(1, 3), max_size=1)))
    out = n if draw(st.booleans()) else draw(sizes(1, 6))
    block = ln.Sequential(
        [
            ln.Dense(n, hidden, rng=draw(sizes(0, 99)), dtype=dtype),
            ln.Tanh(),
            ln.Dense(hidden, out, rng=draw(sizes(0, 99)), dtype=dtype),
        ]
    )
    shortcut = None if out == n else ln.Dense(n, out, rng=draw(sizes(0, 99)), dtype=dtype)
    return ln.Residual(block, shortcut), (*lead, n), (*lead, out)


def _parallel(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
    n = draw(sizes(1, 6))
    lead = tuple(draw(st.lists(sizes(1, 3), max_size=1)))
    merge = draw(st.sampled_from(["concat", "add"]))
    widths = draw(st.lists(sizes(1, 5), min_size=1, max_size=3))
    if merge == "add":
        widths = [widths[0]] * len(widths)
    branches: list[Layer] = [ln.Dense(n, w, rng=draw(sizes(0, 99)), dtype=dtype) for w in widths]
    if merge == "add" and widths[0] == n and draw(st.booleans()):
        branches.append(ln.Tanh())  # a parameter-free branch
    out = sum(widths) if merge == "concat" else widths[0]
    return ln.Parallel(branches, merge=merge, axis=-1), (*lead, n), (*lead, out)


def _embedding(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
    n, dim = draw(sizes(EMBEDDING_IDS, 9)), draw(sizes(1, 5))
    pad = draw(st.sampled_from([None, 0, -1]))
    lead = tuple(draw(st.lists(sizes(1, 4), max_size=2)))
    layer = ln.Embedding(n, dim, pad, rng=draw(sizes(0, 99)), dtype=dtype)
    return layer, lead, (*lead, dim)


EMBEDDING_IDS = 4
"""Embeddings in the catalogue have at least this many rows; the suites draw ids below it."""


def _positional(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
    time, dim = draw(sizes(1, 5)), draw(sizes(1, 5))
    layer = ln.PositionalEmbedding(time + draw(sizes(0, 3)), dim, rng=0, dtype=dtype)
    return layer, (time, dim), (time, dim)


def _recurrent(cls: Any) -> Callable[[Draw, Any], tuple[Layer, Shape, Shape]]:
    def build(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
        time, n_in, hidden = draw(sizes(1, 5)), draw(sizes(1, 4)), draw(sizes(1, 5))
        sequences = draw(st.booleans())
        kwargs: dict[str, Any] = {"return_sequences": sequences, "rng": draw(sizes(0, 99))}
        if cls is ln.RNN:
            kwargs["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
        layer = cls(n_in, hidden, dtype=dtype, **kwargs)
        return layer, (time, n_in), (time, hidden) if sequences else (hidden,)

    return build


def _recurrent_spec(cls: Any) -> LayerSpec:
    name = cls.__name__
    return LayerSpec(
        _recurrent(cls),
        lambda: (cls(3, 2, rng=0), (4, 5, 3)),
        wrong_shapes=[(4,), (4, 3), (4, 5, 2), (4, 5, 3, 1)],
        bad_args=[
            (
                {"input_size": 0, "hidden_size": 2},
                ValueError,
                rf"{name}\(0 -> 2\): input_size must be a positive integer, got 0",
            ),
            (
                {"input_size": 3, "hidden_size": 2.0},
                TypeError,
                r"hidden_size must be a positive integer, got float 2.0",
            ),
            (
                {"input_size": 3, "hidden_size": 2, "return_sequences": "yes"},
                TypeError,
                r"return_sequences must be True or False, got str 'yes'",
            ),
        ],
    )


def _attention(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
    heads, per_head, time = draw(sizes(1, 3)), draw(sizes(1, 3)), draw(sizes(1, 5))
    layer = ln.MultiHeadAttention(
        heads * per_head, heads, causal=draw(st.booleans()), rng=draw(sizes(0, 99)), dtype=dtype
    )
    return layer, (time, heads * per_head), (time, heads * per_head)


def _layernorm(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
    c = draw(sizes(1, 8))
    lead = tuple(draw(st.lists(sizes(1, 3), max_size=1)))
    return ln.LayerNorm(c, dtype=dtype), (*lead, c), (*lead, c)


def _flatten(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
    shape = tuple(draw(st.lists(sizes(), min_size=1, max_size=3)))
    return ln.Flatten(), shape, (int(np.prod(shape)),)


def _softmax(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
    shape = tuple(draw(st.lists(sizes(), min_size=1, max_size=3)))
    axis = draw(st.integers(1, len(shape)))
    axis = axis if draw(st.booleans()) else axis - len(shape) - 1  # the same axis, negative
    return ln.Softmax(axis), shape, shape


def _dropout(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
    shape = tuple(draw(st.lists(sizes(), min_size=1, max_size=3)))
    return ln.Dropout(draw(st.sampled_from([0.0, 0.3, 0.5])), rng=draw(sizes(0, 99))), shape, shape


def _conv_length(n: int, k: int, s: int, d: int, total_pad: int) -> int:
    """torch's Conv/Pool output length: floor((L + padding - d (k - 1) - 1) / s) + 1."""
    return (n + total_pad - d * (k - 1) - 1) // s + 1


def _as_arg(values: Shape, draw: Draw) -> Any:
    """One int for every axis (when they agree, sometimes) or one per axis, as a tuple or list."""
    if len(set(values)) == 1 and draw(st.booleans()):
        return values[0]
    return draw(st.sampled_from([tuple, list]))(values)


def _conv(nd: int) -> Callable[[Draw, Any], tuple[Layer, Shape, Shape]]:
    """Conv1d/Conv2d with drawn channels, kernel, dilation, stride and padding (int/same/valid)."""
    cls = ln.Conv1d if nd == 1 else ln.Conv2d

    def build(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
        c_in, c_out = draw(sizes(1, 3)), draw(sizes(1, 3))
        kernel = tuple(draw(sizes(1, 3)) for _ in range(nd))
        dilation = tuple(draw(sizes(1, 2)) for _ in range(nd))
        mode = draw(st.sampled_from(["numbers", "same", "valid"]))
        if mode == "numbers":
            stride = tuple(draw(sizes(1, 3)) for _ in range(nd))
            pad = tuple(draw(st.integers(0, 2)) for _ in range(nd))
            padding: Any = _as_arg(pad, draw)
            totals = tuple(2 * p for p in pad)
        else:  # "same" needs stride 1; it pads d (k - 1) in all, "valid" pads nothing
            stride = (1,) * nd if mode == "same" else tuple(draw(sizes(1, 3)) for _ in range(nd))
            padding = mode
            totals = tuple(
                d * (k - 1) if mode == "same" else 0 for k, d in zip(kernel, dilation, strict=True)
            )
        spatial = tuple(
            draw(sizes(max(1, d * (k - 1) + 1 - t), max(1, d * (k - 1) + 1 - t) + 4))
            for k, d, t in zip(kernel, dilation, totals, strict=True)
        )
        if mode == "same":  # the documented promise: the size is kept
            out = spatial
        else:
            out = tuple(
                _conv_length(n, k, st_, d, t)
                for n, k, st_, d, t in zip(spatial, kernel, stride, dilation, totals, strict=True)
            )
        layer = cls(
            c_in,
            c_out,
            _as_arg(kernel, draw),
            stride=_as_arg(stride, draw),
            padding=padding,
            dilation=_as_arg(dilation, draw),
            bias=draw(st.booleans()),
            rng=draw(sizes(0, 99)),
            dtype=dtype,
        )
        return layer, (c_in, *spatial), (c_out, *out)

    return build


def _pool(cls: Callable[..., Layer], nd: int) -> Callable[[Draw, Any], tuple[Layer, Shape, Shape]]:
    """Max/Avg pooling with drawn kernel, stride (or the kernel's default) and padding <= k // 2."""

    def build(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
        c = draw(sizes(1, 3))
        kernel = tuple(draw(sizes(1, 3)) for _ in range(nd))
        stride = None if draw(st.booleans()) else tuple(draw(sizes(1, 3)) for _ in range(nd))
        pad = tuple(draw(st.integers(0, k // 2)) for k in kernel)
        spatial = tuple(
            draw(sizes(max(1, k - 2 * p), max(1, k - 2 * p) + 4))
            for k, p in zip(kernel, pad, strict=True)
        )
        steps = kernel if stride is None else stride
        out = tuple(
            _conv_length(n, k, s, 1, 2 * p)
            for n, k, s, p in zip(spatial, kernel, steps, pad, strict=True)
        )
        layer = cls(
            _as_arg(kernel, draw),
            stride=None if stride is None else _as_arg(stride, draw),
            padding=_as_arg(pad, draw),
        )
        return layer, (c, *spatial), (c, *out)

    return build


def _global_pool(
    cls: Callable[[], Layer], nd: int
) -> Callable[[Draw, Any], tuple[Layer, Shape, Shape]]:
    def build(draw: Draw, dtype: Any) -> tuple[Layer, Shape, Shape]:
        c = draw(sizes(1, 4))
        spatial = tuple(draw(sizes(1, 5)) for _ in range(nd))
        return cls(), (c, *spatial), (c,)

    return build


def _conv_bad_args(name: str, nd: int) -> list[tuple[dict[str, Any], type[Exception], str]]:
    """Bad constructor calls for Conv1d/Conv2d: sizes, types, padding modes, flags, initializers."""
    base: dict[str, Any] = {"in_channels": 2, "out_channels": 4, "kernel_size": 3}
    who = rf"{name}\(2 -> 4\)"
    seq = rf"an int or a sequence of {nd}"
    wrong_length = (3,) * (nd + 1)
    return [
        (
            {**base, "in_channels": 0},
            ValueError,
            rf"{name}\(0 -> 4\): in_channels must be a positive integer, got 0",
        ),
        (
            {**base, "out_channels": -2},
            ValueError,
            r"out_channels must be a positive integer, got -2",
        ),
        (
            {**base, "in_channels": 2.0},
            TypeError,
            r"in_channels must be a positive integer, got float 2.0",
        ),
        (
            {**base, "out_channels": True},
            TypeError,
            r"out_channels must be a positive integer, got bool True",
        ),
        (
            {**base, "in_channels": "2"},
            TypeError,
            r"in_channels must be a positive integer, got str '2'",
        ),
        ({**base, "kernel_size": 0}, ValueError, rf"{who}: kernel_size must be positive, got 0"),
        ({**base, "kernel_size": -3}, ValueError, rf"{who}: kernel_size must be positive, got -3"),
        (
            {**base, "kernel_size": 2.5},
            TypeError,
            rf"{who}: kernel_size must be {seq} ints, got float 2.5",
        ),
        (
            {**base, "kernel_size": True},
            TypeError,
            rf"{who}: kernel_size must be {seq} ints, got bool True",
        ),
        (
            {**base, "kernel_size": None},
            TypeError,
            rf"{who}: kernel_size must be {seq} ints, got NoneType None",
        ),
        (
            {**base, "kernel_size": wrong_length},
            ValueError,
            rf"{who}: kernel_size must be {seq}, got {re.escape(str(wrong_length))}",
        ),
        ({**base, "stride": 0}, ValueError, rf"{who}: stride must be positive, got 0"),
        ({**base, "stride": 1.5}, TypeError, rf"{who}: stride must be {seq} ints, got float 1.5"),
        ({**base, "dilation": 0}, ValueError, rf"{who}: dilation must be positive, got 0"),
        (
            {**base, "dilation": False},
            TypeError,
            rf"{who}: dilation must be {seq} ints, got bool False",
        ),
        ({**base, "padding": -1}, ValueError, rf"{who}: padding must be non-negative, got -1"),
        ({**base, "padding": 1.0}, TypeError, rf"{who}: padding must be {seq} ints, got float 1.0"),
        (
            {**base, "padding": "same", "stride": 2},
            ValueError,
            rf"{who}: padding='same' needs stride 1 \(as in torch\), got stride=2",
        ),
        (
            {**base, "padding": "full"},
            ValueError,
            rf"{who}: padding must be an int, a sequence of {nd} ints, 'same' or 'valid', got 'full'",
        ),
        ({**base, "bias": "no"}, TypeError, rf"{who}: bias must be True or False, got str 'no'"),
        ({**base, "weight_init": "nope"}, ValueError, r"weight_init: unknown initializer 'nope'"),
        (
            {**base, "bias_init": 5},
            TypeError,
            r"bias_init: expected an initializer name or callable, got int",
        ),
    ]


def _pool_bad_args(name: str, nd: int) -> list[tuple[dict[str, Any], type[Exception], str]]:
    """Bad constructor calls for the max and average pools."""
    seq = rf"an int or a sequence of {nd}"
    wrong_length = (2,) * (nd + 1)
    big = 2 if nd == 1 else (0, 2)
    return [
        (
            {"kernel_size": 0},
            ValueError,
            rf"{name}\(kernel_size=0\): kernel_size must be positive, got 0",
        ),
        ({"kernel_size": -2}, ValueError, r"kernel_size must be positive, got -2"),
        ({"kernel_size": 2.5}, TypeError, rf"kernel_size must be {seq} ints, got float 2.5"),
        ({"kernel_size": True}, TypeError, rf"kernel_size must be {seq} ints, got bool True"),
        ({"kernel_size": "2"}, TypeError, rf"kernel_size must be {seq} ints, got str '2'"),
        (
            {"kernel_size": wrong_length},
            ValueError,
            rf"kernel_size must be {seq}, got {re.escape(str(wrong_length))}",
        ),
        ({"kernel_size": 2, "stride": 0}, ValueError, r"stride must be positive, got 0"),
        ({"kernel_size": 2, "stride": "1"}, TypeError, rf"stride must be {seq} ints, got str '1'"),
        ({"kernel_size": 2, "padding": -1}, ValueError, r"padding must be non-negative, got -1"),
        (
            {"kernel_size": 2, "padding": 0.5},
            TypeError,
            rf"padding must be {seq} ints, got float 0.5",
        ),
        (
            {"kernel_size": 3, "padding": big},
            ValueError,
            rf"{name}\(kernel_size=3\): padding must be at most half the kernel size .*"
            rf"got padding={re.escape(str(big))}",
        ),
    ]


LAYERS: dict[str, LayerSpec] = {
    "Dense": LayerSpec(
        _dense,
        lambda: (ln.Dense(3, 2, rng=0), (4, 3)),
        wrong_shapes=[(4,), (4, 5), (4, 3, 1), (3,)],
        bad_args=[
            (
                {"in_features": 0, "out_features": 2},
                ValueError,
                r"Dense\(0 -> 2\): in_features must be a positive integer, got 0",
            ),
            (
                {"in_features": 3, "out_features": -1},
                ValueError,
                r"out_features must be a positive integer, got -1",
            ),
            (
                {"in_features": 2.5, "out_features": 2},
                TypeError,
                r"in_features must be a positive integer, got float 2.5",
            ),
            (
                {"in_features": "3", "out_features": 2},
                TypeError,
                r"in_features must be a positive integer, got str '3'",
            ),
            (
                {"in_features": None, "out_features": 2},
                TypeError,
                r"in_features must be a positive integer, got NoneType",
            ),
            (
                {"in_features": 3, "out_features": 2, "weight_init": "nope"},
                ValueError,
                r"weight_init: unknown initializer 'nope'",
            ),
            (
                {"in_features": 3, "out_features": 2, "weight_init": 5},
                TypeError,
                r"weight_init: expected an initializer name or callable, got int",
            ),
            (
                {"in_features": 3, "out_features": 2, "bias": "no"},
                TypeError,
                r"Dense\(3 -> 2\): bias must be True or False, got str 'no'",
            ),
        ],
    ),
    "Sequential": LayerSpec(
        _sequential,
        lambda: (ln.Sequential([ln.Dense(3, 2, rng=0), ln.Sigmoid()]), (4, 3)),
        wrong_shapes=[(4,), (4, 5), (4, 3, 1)],
    ),
    "Identity": _elementwise(ln.Identity),
    "Sigmoid": _elementwise(ln.Sigmoid),
    "Tanh": _elementwise(ln.Tanh),
    "ReLU": _elementwise(ln.ReLU),
    "LeakyReLU": LayerSpec(
        _elementwise(ln.LeakyReLU).build,
        lambda: (ln.LeakyReLU(), (4, 3)),
        bad_args=[
            (
                {"negative_slope": "0.1"},
                TypeError,
                r"LeakyReLU: negative_slope must be a real number, got str",
            ),
            (
                {"negative_slope": float("nan")},
                ValueError,
                r"LeakyReLU: negative_slope must be finite, got nan",
            ),
        ],
    ),
    "ELU": LayerSpec(
        _elementwise(ln.ELU).build,
        lambda: (ln.ELU(), (4, 3)),
        bad_args=[
            ({"alpha": None}, TypeError, r"ELU: alpha must be a real number, got NoneType"),
            ({"alpha": float("inf")}, ValueError, r"ELU: alpha must be finite, got inf"),
        ],
    ),
    "GELU": LayerSpec(
        lambda draw, dtype: _elementwise(
            lambda: ln.GELU(draw(st.sampled_from(["none", "tanh"])))
        ).build(draw, dtype),
        lambda: (ln.GELU(), (4, 3)),
        bad_args=[
            (
                {"approximate": "fast"},
                ValueError,
                r"GELU: approximate must be 'none' or 'tanh', got 'fast'",
            )
        ],
    ),
    "Softplus": LayerSpec(
        _elementwise(ln.Softplus).build,
        lambda: (ln.Softplus(), (4, 3)),
        bad_args=[
            ({"beta": 0.0}, ValueError, r"Softplus: beta must be positive, got 0.0"),
            ({"beta": "1"}, TypeError, r"Softplus: beta must be a real number, got str"),
            (
                {"threshold": float("nan")},
                ValueError,
                r"Softplus: threshold must be finite, got nan",
            ),
        ],
    ),
    "Softmax": LayerSpec(
        _softmax,
        lambda: (ln.Softmax(), (4, 3)),
        wrong_shapes=[(4,)],
        bad_args=[
            ({"axis": 1.5}, TypeError, r"Softmax: axis must be an integer, got float"),
            ({"axis": 0}, ValueError, r"Softmax: axis 0 is the batch axis"),
        ],
    ),
    "Dropout": LayerSpec(
        _dropout,
        lambda: (ln.Dropout(0.5, rng=0), (4, 3)),
        bad_args=[
            ({"p": 1.0}, ValueError, r"Dropout: p must be in \[0, 1\) .*got 1.0"),
            ({"p": -0.1}, ValueError, r"Dropout: p must be in \[0, 1\) .*got -0.1"),
            ({"p": "half"}, TypeError, r"Dropout: p must be a real number, got str"),
            (
                {"p": 0.5, "rng": "seed"},
                TypeError,
                r"rng must be a numpy.random.Generator, an int seed or None, got str",
            ),
            ({"p": 0.5, "rng": -1}, ValueError, r"rng must be a non-negative seed, got -1"),
        ],
        batch_coupled_in_training=True,
    ),
    "BatchNorm1d": LayerSpec(
        _batchnorm,
        lambda: (ln.BatchNorm1d(3), (4, 3)),
        wrong_shapes=[(4,), (4, 5), (4, 2, 3), (4, 3, 2, 2)],
        bad_args=[
            (
                {"num_features": 0},
                ValueError,
                r"BatchNorm1d\(0\): num_features must be a positive integer, got 0",
            ),
            (
                {"num_features": 3.0},
                TypeError,
                r"num_features must be a positive integer, got float 3.0",
            ),
            (
                {"num_features": 3, "momentum": 1.5},
                ValueError,
                r"BatchNorm1d\(3\): momentum must be in \[0, 1\], got 1.5",
            ),
            (
                {"num_features": 3, "eps": 0.0},
                ValueError,
                r"BatchNorm1d\(3\): eps must be positive, got 0.0",
            ),
            (
                {"num_features": 3, "eps": "small"},
                TypeError,
                r"BatchNorm1d\(3\): eps must be a real number, got str",
            ),
        ],
        batch_coupled_in_training=True,
    ),
    "LayerNorm": LayerSpec(
        _layernorm,
        lambda: (ln.LayerNorm(3), (4, 3)),
        wrong_shapes=[(4,), (4, 5), (4, 3, 2)],
        bad_args=[
            (
                {"num_features": -3},
                ValueError,
                r"LayerNorm\(-3\): num_features must be a positive integer, got -3",
            ),
            (
                {"num_features": 3, "eps": -1.0},
                ValueError,
                r"LayerNorm\(3\): eps must be positive, got -1.0",
            ),
        ],
    ),
    "Embedding": LayerSpec(
        _embedding,
        lambda: (ln.Embedding(5, 3, rng=0), (4, 6)),
        bad_args=[
            (
                {"num_embeddings": 0, "embedding_dim": 3},
                ValueError,
                r"Embedding\(0, 3\): num_embeddings must be a positive integer, got 0",
            ),
            (
                {"num_embeddings": 5, "embedding_dim": 3, "padding_idx": 5},
                ValueError,
                r"Embedding\(5, 3\): padding_idx must be in \[-5, 5\), got 5",
            ),
            (
                {"num_embeddings": 5, "embedding_dim": 3, "padding_idx": 1.0},
                TypeError,
                r"padding_idx must be an int or None, got float 1.0",
            ),
        ],
        ids=EMBEDDING_IDS,
    ),
    "PositionalEmbedding": LayerSpec(
        _positional,
        lambda: (ln.PositionalEmbedding(6, 3, rng=0), (4, 5, 3)),
        wrong_shapes=[(4, 3), (4, 5, 2), (4, 7, 3), (4, 5, 3, 1)],
        bad_args=[
            (
                {"max_len": 0, "embed_dim": 3},
                ValueError,
                r"PositionalEmbedding\(0, 3\): max_len must be a positive integer, got 0",
            ),
        ],
    ),
    "RNN": LayerSpec(
        _recurrent(ln.RNN),
        lambda: (ln.RNN(3, 2, rng=0), (4, 5, 3)),
        wrong_shapes=[(4,), (4, 3), (4, 5, 2), (4, 5, 3, 1)],
        bad_args=[
            *_recurrent_spec(ln.RNN).bad_args,
            (
                {"input_size": 3, "hidden_size": 2, "nonlinearity": "sigmoid"},
                ValueError,
                r"RNN\(3 -> 2\): nonlinearity must be 'tanh' or 'relu', got 'sigmoid'",
            ),
        ],
    ),
    "LSTM": _recurrent_spec(ln.LSTM),
    "GRU": _recurrent_spec(ln.GRU),
    "MultiHeadAttention": LayerSpec(
        _attention,
        lambda: (ln.MultiHeadAttention(4, 2, rng=0), (3, 5, 4)),
        wrong_shapes=[(3, 4), (3, 5, 3), (3, 5, 4, 1)],
        bad_args=[
            (
                {"embed_dim": 6, "num_heads": 4},
                ValueError,
                r"MultiHeadAttention\(6, 4\): embed_dim must be divisible by num_heads, "
                r"got embed_dim=6 and num_heads=4",
            ),
            (
                {"embed_dim": 4, "num_heads": 2, "dropout": 1.0},
                ValueError,
                r"dropout must be in \[0, 1\), got 1.0",
            ),
            (
                {"embed_dim": 4, "num_heads": 2, "causal": 1},
                TypeError,
                r"causal must be True or False, got int 1",
            ),
        ],
    ),
    "Flatten": LayerSpec(_flatten, lambda: (ln.Flatten(), (4, 3, 2)), wrong_shapes=[(4,)]),
    "BatchNorm2d": LayerSpec(
        _batchnorm2d,
        lambda: (ln.BatchNorm2d(3), (4, 3, 2, 2)),
        wrong_shapes=[(4,), (4, 3), (4, 3, 2), (4, 2, 2, 2), (4, 3, 2, 2, 1)],
        bad_args=[
            (
                {"num_features": 0},
                ValueError,
                r"BatchNorm2d\(0\): num_features must be a positive integer, got 0",
            ),
            (
                {"num_features": 3, "momentum": -0.5},
                ValueError,
                r"BatchNorm2d\(3\): momentum must be in \[0, 1\], got -0.5",
            ),
        ],
        batch_coupled_in_training=True,
    ),
    "Permute": LayerSpec(
        _permute,
        lambda: (ln.Permute((2, 1)), (4, 3, 2)),
        wrong_shapes=[(4,), (4, 3), (4, 3, 2, 1)],
        bad_args=[
            (
                {"dims": (1, 1)},
                ValueError,
                r"Permute: dims must be a permutation of \(1, 2\) \(the per-sample axes, "
                r"numbered from 1; the batch axis 0 stays first\), got \(1, 1\)",
            ),
            ({"dims": (0, 1)}, ValueError, r"dims must be a permutation of \(1, 2\).*got \(0, 1\)"),
            ({"dims": "21"}, TypeError, r"Permute: dims must be a sequence of ints .*got str"),
            (
                {"dims": (2.0, 1.0)},
                TypeError,
                r"Permute: dims must be a sequence of ints .*got \(2.0, 1.0\)",
            ),
        ],
    ),
    "Reshape": LayerSpec(
        _reshape,
        lambda: (ln.Reshape((3, -1)), (4, 3, 2)),
        wrong_shapes=[(4,), (4, 5), (4, 2, 2)],
        bad_args=[
            (
                {"shape": (-1, -1)},
                ValueError,
                r"Reshape\(\(-1, -1\)\): shape must hold positive sizes and at most one -1",
            ),
            ({"shape": (0, 2)}, ValueError, r"Reshape\(\(0, 2\)\): shape must hold positive sizes"),
            ({"shape": ()}, ValueError, r"Reshape\(\(\)\): shape must have at least one axis"),
            (
                {"shape": 6},
                TypeError,
                r"Reshape: shape must be a sequence of ints such as \(4, -1\), got int",
            ),
        ],
    ),
    "Residual": LayerSpec(
        _residual,
        lambda: (ln.Residual(ln.Sequential([ln.Dense(3, 3, rng=0), ln.Tanh()])), (4, 3)),
        wrong_shapes=[(4,), (4, 5), (4, 3, 1)],
        bad_args=[
            (
                {"block": ln.Dense(3, 4)},
                ValueError,
                r"Residual\(Dense\(3 -> 4\)\): for input \(batch, 3\), the block produces "
                r"\(batch, 4\) but the identity shortcut gives \(batch, 3\); they are added",
            ),
            (
                {"block": ln.Dense(3, 4), "shortcut": ln.Dense(3, 5)},
                ValueError,
                r"the block produces \(batch, 4\) but the shortcut gives \(batch, 5\)",
            ),
            (
                {"block": ln.Dense(3, 4), "shortcut": ln.Dense(2, 4)},
                ValueError,
                r"every child sees the same input, but its shortcut Dense\(2 -> 4\) expects",
            ),
            ({"block": "dense"}, TypeError, r"Residual: block must be a Layer, got str"),
            ({"block": ln.Dense}, TypeError, r"got the class Dense; call it: Dense\(\)"),
            ({"block": None}, TypeError, r"Residual: block must be a Layer, got None"),
        ],
    ),
    "Parallel": LayerSpec(
        _parallel,
        lambda: (ln.Parallel([ln.Dense(3, 2, rng=0), ln.Dense(3, 4, rng=1)]), (4, 3)),
        wrong_shapes=[(4,), (4, 5), (4, 3, 1)],
        bad_args=[
            (
                {"branches": [ln.Dense(3, 4), ln.Dense(3, 5)], "merge": "add"},
                ValueError,
                r"Parallel\(2 branches, merge='add'\): for input \(batch, 3\), merge='add' sums "
                r"the branches, but branches.0 produces \(batch, 4\) and branches.1 produces "
                r"\(batch, 5\)",
            ),
            (
                {"branches": [ln.Reshape((3, 1)), ln.Reshape((1, 3))], "axis": 1},
                ValueError,
                r"merge='concat' joins the branches along axis 1, but branches.0 produces "
                r"\(batch, 3, 1\) and branches.1 produces \(batch, 1, 3\); every other axis",
            ),
            ({"branches": []}, ValueError, r"Parallel: branches is empty"),
            ({"branches": ln.Dense(3, 4)}, TypeError, r"got a single Layer; wrap it in \[ \]"),
            (
                {"branches": [ln.Dense(3, 4), "x"]},
                TypeError,
                r"Parallel: branch at position 1 must be a Layer, got str",
            ),
            (
                {"branches": [ln.Dense(3, 4)], "merge": "mul"},
                ValueError,
                r"Parallel: merge must be 'concat' or 'add', got 'mul'",
            ),
            ({"branches": [ln.Dense(3, 4)], "axis": 0}, ValueError, r"axis 0 is the batch axis"),
            (
                {"branches": [ln.Dense(3, 4)], "axis": 1.5},
                TypeError,
                r"axis must be an int, got float",
            ),
        ],
    ),
    "Conv1d": LayerSpec(
        _conv(1),
        lambda: (ln.Conv1d(2, 3, 3, rng=0), (4, 2, 6)),
        # wrong channels, no batch axis, kernel 3 > length 2, one axis too many, no channels
        wrong_shapes=[(4, 3, 6), (2, 6), (4, 2, 2), (4, 2, 6, 1), (4,)],
        bad_args=_conv_bad_args("Conv1d", 1),
    ),
    "Conv2d": LayerSpec(
        _conv(2),
        lambda: (ln.Conv2d(2, 3, 3, dilation=(1, 2), rng=0), (4, 2, 5, 6)),
        # wrong channels, channels last, no batch axis, dilated kernel 5 > width 4,
        # kernel 3 > height 2, too few and too many axes
        wrong_shapes=[
            (4, 3, 5, 6),
            (4, 5, 6, 2),
            (2, 5, 6),
            (4, 2, 5, 4),
            (4, 2, 2, 6),
            (4, 2, 5),
            (4, 2, 5, 6, 1),
        ],
        bad_args=_conv_bad_args("Conv2d", 2),
    ),
    "MaxPool1d": LayerSpec(
        _pool(ln.MaxPool1d, 1),
        lambda: (ln.MaxPool1d(3, stride=2), (4, 3, 7)),
        wrong_shapes=[(3, 7), (4, 3, 2), (4, 3, 7, 1), (4,)],
        bad_args=_pool_bad_args("MaxPool1d", 1),
    ),
    "MaxPool2d": LayerSpec(
        _pool(ln.MaxPool2d, 2),
        lambda: (ln.MaxPool2d((2, 3), stride=1), (4, 3, 5, 6)),
        wrong_shapes=[(3, 5, 6), (4, 3, 5, 2), (4, 3, 1, 6), (4, 3, 5), (4, 3, 5, 6, 1)],
        bad_args=_pool_bad_args("MaxPool2d", 2),
    ),
    "AvgPool1d": LayerSpec(
        _pool(ln.AvgPool1d, 1),
        lambda: (ln.AvgPool1d(4, padding=1), (4, 3, 7)),
        wrong_shapes=[(3, 7), (4, 3, 1), (4, 3, 7, 1), (4,)],  # 1 + 2 padding < kernel 4
        bad_args=_pool_bad_args("AvgPool1d", 1),
    ),
    "AvgPool2d": LayerSpec(
        _pool(ln.AvgPool2d, 2),
        lambda: (ln.AvgPool2d(3, stride=2, padding=(1, 0)), (4, 3, 5, 6)),
        wrong_shapes=[(3, 5, 6), (4, 3, 5, 2), (4, 3, 5), (4, 3, 5, 6, 1)],
        bad_args=_pool_bad_args("AvgPool2d", 2),
    ),
    "GlobalAvgPool1d": LayerSpec(
        _global_pool(ln.GlobalAvgPool1d, 1),
        lambda: (ln.GlobalAvgPool1d(), (4, 3, 5)),
        wrong_shapes=[(3, 5), (4, 3, 5, 5), (4,)],
    ),
    "GlobalAvgPool2d": LayerSpec(
        _global_pool(ln.GlobalAvgPool2d, 2),
        lambda: (ln.GlobalAvgPool2d(), (4, 3, 5, 6)),
        wrong_shapes=[(3, 5, 6), (4, 3, 5), (4, 3, 5, 6, 1)],
    ),
}
"""Every exported Layer class. Layers with a ``dtype`` or ``rng`` argument also get the
generic bad ``dtype``/``rng`` cases in test_bad_input.py."""


# -- losses ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LossSpec:
    """A loss, a valid (pred, target) pair, and the inputs it must reject.

    ``domain_errors`` are (pred, target, regex) triples outside the loss's
    domain; ``extreme_target`` builds a valid target for a prediction of any
    magnitude (test_extremes.py).
    """

    make: Callable[[], ln.Loss]
    valid: Callable[[], tuple[Any, Any]]
    extreme_target: Callable[[Any], Any]
    domain_errors: list[tuple[Any, Any, str]] = field(default_factory=list)
    bad_args: list[tuple[dict[str, Any], type[Exception], str]] = field(default_factory=list)


def _regression() -> tuple[Any, Any]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(4, 2)), rng.normal(size=(4, 2))


def _like(pred: Any) -> Any:
    return np.zeros_like(pred)


def _labels(pred: Any) -> Any:
    return np.arange(len(pred)) % pred.shape[1]


def _probs(pred: Any) -> Any:
    return np.full(pred.shape, 0.5, dtype=pred.dtype)


LOSSES: dict[str, LossSpec] = {
    "MSELoss": LossSpec(ln.MSELoss, _regression, _like),
    "L1Loss": LossSpec(ln.L1Loss, _regression, _like),
    "HuberLoss": LossSpec(
        ln.HuberLoss,
        _regression,
        _like,
        bad_args=[
            ({"delta": 0.0}, ValueError, r"HuberLoss: delta must be positive, got 0.0"),
            ({"delta": "1"}, TypeError, r"HuberLoss: delta must be a real number, got str"),
        ],
    ),
    "BCELoss": LossSpec(
        ln.BCELoss,
        lambda: (np.full((4, 1), 0.3), np.array([[0.0], [1.0], [1.0], [0.0]])),
        _probs,
        domain_errors=[
            (np.full((2, 1), 1.5), np.zeros((2, 1)), r"pred must lie in \[0, 1\], got 1.5"),
            (np.full((2, 1), 0.5), np.full((2, 1), -1.0), r"target must lie in \[0, 1\], got -1.0"),
        ],
    ),
    "BCEWithLogitsLoss": LossSpec(
        ln.BCEWithLogitsLoss,
        lambda: (np.linspace(-2, 2, 4).reshape(4, 1), np.array([0.0, 1.0, 1.0, 0.0])),
        _probs,
        domain_errors=[
            (np.zeros((2, 1)), np.full((2, 1), 2.0), r"target must lie in \[0, 1\], got 2.0"),
        ],
        bad_args=[
            (
                {"pos_weight": [1.0, -2.0]},
                ValueError,
                r"BCEWithLogitsLoss: pos_weight must hold finite values >= 0, got -2.0",
            ),
            (
                {"pos_weight": [[1.0]]},
                ValueError,
                r"BCEWithLogitsLoss: pos_weight must be a 1-D array with one weight per class",
            ),
        ],
    ),
    "CrossEntropyLoss": LossSpec(
        ln.CrossEntropyLoss,
        lambda: (np.random.default_rng(0).normal(size=(4, 3)), np.array([0, 2, 1, 2])),
        _labels,
        domain_errors=[
            (
                np.zeros((2, 3)),
                np.array([0, 3]),
                r"class label 3 is out of range; labels must be integers in \[0, 3\)",
            ),
            (np.zeros((2, 3)), np.array([0, -1]), r"class label -1 is out of range"),
            (np.zeros((2, 3)), np.array([0.5, 1.0]), r"class labels must be integers, got 0.5"),
            (np.zeros((2, 3)), np.full((2, 3), 1.5), r"target must lie in \[0, 1\], got 1.5"),
            (
                np.zeros((2, 3)),
                np.zeros((2, 2)),
                r"target must be class labels of shape \(2,\) or probability rows of shape \(2, 3\), got \(2, 2\)",
            ),
            (
                np.zeros(3),
                np.array([0]),
                r"expected logits of shape \(batch, classes\), got \(3,\)",
            ),
        ],
        bad_args=[
            (
                {"label_smoothing": 1.5},
                ValueError,
                r"CrossEntropyLoss: label_smoothing must be in \[0, 1\], got 1.5",
            ),
            (
                {"label_smoothing": None},
                TypeError,
                r"CrossEntropyLoss: label_smoothing must be a real number, got NoneType",
            ),
            (
                {"weight": [1.0, np.nan]},
                ValueError,
                r"CrossEntropyLoss: weight must hold finite values >= 0, got nan",
            ),
            (
                {"weight": "ab"},
                TypeError,
                r"CrossEntropyLoss: weight: expected an array of real numbers, got strings",
            ),
        ],
    ),
}


# -- optimizers ------------------------------------------------------------------------


OPTIMIZERS: dict[str, Callable[[Any], ln.Optimizer]] = {
    "SGD": lambda params: ln.SGD(params, lr=0.05),
    "Adam": lambda params: ln.Adam(params, lr=0.01),
    "AdamW": lambda params: ln.AdamW(params, lr=0.01),
    "RMSprop": lambda params: ln.RMSprop(params, lr=0.01),
    "Adagrad": lambda params: ln.Adagrad(params, lr=0.05),
    "LBFGS": lambda params: ln.LBFGS(params),
}
"""Every exported Optimizer class, built on ``params`` with working settings."""

OPTIMIZER_VARIANTS: dict[str, Callable[[Any], ln.Optimizer]] = {
    "SGD": OPTIMIZERS["SGD"],
    "SGD-momentum-nesterov-wd": lambda p: ln.SGD(
        p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3
    ),
    "SGD-momentum-dampening": lambda p: ln.SGD(p, lr=0.05, momentum=0.5, dampening=0.1),
    "Adam": OPTIMIZERS["Adam"],
    "Adam-wd-clipped": lambda p: ln.Adam(p, lr=0.01, weight_decay=1e-2, max_grad_norm=1.0),
    "AdamW": OPTIMIZERS["AdamW"],
    "RMSprop": OPTIMIZERS["RMSprop"],
    "RMSprop-centered-momentum-wd": lambda p: ln.RMSprop(
        p, lr=0.01, centered=True, momentum=0.5, weight_decay=1e-3
    ),
    "Adagrad": OPTIMIZERS["Adagrad"],
    "Adagrad-decay-accumulator": lambda p: ln.Adagrad(
        p, lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=1e-3
    ),
    "LBFGS": OPTIMIZERS["LBFGS"],
}
"""Each optimizer with its state-carrying options switched on (determinism, resumption)."""

OPTIMIZER_BAD_ARGS: dict[str, list[tuple[dict[str, Any], type[Exception], str]]] = {
    "SGD": [
        ({"lr": -0.1}, ValueError, r"SGD: lr must be positive, got -0.1"),
        ({"lr": "0.1"}, TypeError, r"SGD: lr must be a real number, got str"),
        ({"lr": float("inf")}, ValueError, r"SGD: lr must be finite, got inf"),
        ({"lr": 0.1, "momentum": -1}, ValueError, r"SGD: momentum must be >= 0, got -1"),
        ({"lr": 0.1, "nesterov": True}, ValueError, r"SGD: nesterov=True needs momentum > 0"),
        (
            {"lr": 0.1, "nesterov": "yes"},
            TypeError,
            r"SGD: nesterov must be True or False, got str 'yes'",
        ),
        (
            {"lr": 0.1, "max_grad_norm": 0},
            ValueError,
            r"SGD: max_grad_norm must be positive, got 0",
        ),
    ],
    "Adam": [
        ({"betas": (0.9, 1.0)}, ValueError, r"Adam: betas\[1\] must be in \[0, 1\), got 1.0"),
        ({"betas": 0.9}, TypeError, r"Adam: betas must be a pair \(beta1, beta2\), got 0.9"),
        ({"betas": (0.9, "x")}, TypeError, r"Adam: betas\[1\] must be a real number, got str"),
        ({"eps": -1e-8}, ValueError, r"Adam: eps must be >= 0, got -1e-08"),
        (
            {"weight_decay": None},
            TypeError,
            r"Adam: weight_decay must be a real number, got NoneType",
        ),
    ],
    "AdamW": [({"lr": 0}, ValueError, r"AdamW: lr must be positive, got 0")],
    "RMSprop": [
        ({"alpha": 1.0}, ValueError, r"RMSprop: alpha must be in \[0, 1\), got 1.0"),
        ({"momentum": -0.5}, ValueError, r"RMSprop: momentum must be >= 0, got -0.5"),
        ({"centered": "no"}, TypeError, r"RMSprop: centered must be True or False, got str 'no'"),
    ],
    "Adagrad": [
        ({"lr_decay": -1}, ValueError, r"Adagrad: lr_decay must be >= 0, got -1"),
        (
            {"initial_accumulator_value": "0"},
            TypeError,
            r"Adagrad: initial_accumulator_value must be a real number",
        ),
    ],
    "LBFGS": [
        ({"max_iter": 0}, ValueError, r"LBFGS: max_iter must be a positive integer, got 0"),
        (
            {"history_size": 2.5},
            TypeError,
            r"LBFGS: history_size must be a positive integer, got float 2.5",
        ),
        (
            {"max_iter": "20"},
            TypeError,
            r"LBFGS: max_iter must be a positive integer, got str '20'",
        ),
        ({"max_eval": -1}, ValueError, r"LBFGS: max_eval must be a positive integer, got -1"),
        ({"gtol": -1.0}, ValueError, r"LBFGS: gtol must be >= 0, got -1.0"),
    ],
}


# -- metrics ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricSpec:
    """A metric and a valid (pred, target) pair for ``compute``."""

    make: Callable[[], ln.Metric]
    valid: Callable[[], tuple[Any, Any]]
    domain_errors: list[tuple[Any, Any, str]] = field(default_factory=list)
    bad_args: list[tuple[dict[str, Any], type[Exception], str]] = field(default_factory=list)


METRICS: dict[str, MetricSpec] = {
    "Accuracy": MetricSpec(
        ln.Accuracy,
        lambda: (np.eye(3)[[0, 1, 2, 1]], np.array([0, 1, 2, 2])),
        domain_errors=[
            (
                np.eye(3),
                np.array([0, 1, 5]),
                r"Accuracy: class labels must be integers in \[0, 3\), got values from 0(\.0)? to 5(\.0)?",
            ),
            (
                np.eye(3),
                np.zeros(2),
                r"Accuracy: for 3 classes the target must hold integer labels of shape \(3,\)",
            ),
        ],
        bad_args=[
            ({"threshold": "0.5"}, TypeError, r"Accuracy: threshold must be a real number, got str")
        ],
    ),
    **{
        name: MetricSpec(
            cls,
            lambda: (np.eye(3)[[0, 1, 2, 1]], np.array([0, 1, 2, 2])),
            domain_errors=[
                (
                    np.eye(3),
                    np.array([0, 1, 5]),
                    rf"{name}: class labels must be integers in \[0, 3\), got values from 0(\.0)? "
                    r"to 5(\.0)?",
                ),
                (
                    np.eye(3),
                    np.zeros((3, 2)),
                    rf"{name}: for 3 classes the target must hold integer labels of shape \(3,\)",
                ),
            ],
            bad_args=[
                ({"average": "samples"}, ValueError, rf"{name}: average must be one of"),
                ({"threshold": "0"}, TypeError, rf"{name}: threshold must be a real number"),
            ],
        )
        for name, cls in (
            ("Precision", ln.Precision),
            ("Recall", ln.Recall),
            ("F1Score", ln.F1Score),
        )
    },
    "AUC": MetricSpec(
        ln.AUC,
        lambda: (np.array([[0.1], [0.8], [0.4], [0.3]]), np.array([0.0, 1.0, 1.0, 0.0])),
        domain_errors=[
            (
                np.zeros((3, 1)),
                np.zeros((3, 2)),
                r"AUC: a one-column output is scored as binary and wants targets of shape",
            ),
            (np.eye(3), np.array([0, 1, 2]), r"AUC: 3 output columns of values are not class"),
        ],
    ),
    "TopKAccuracy": MetricSpec(
        lambda: ln.TopKAccuracy(k=2),
        lambda: (np.eye(3)[[0, 1, 2, 1]], np.array([0, 1, 2, 2])),
        domain_errors=[
            (np.zeros((3, 1)), np.zeros(3), r"TopKAccuracy\(k=2\): needs one output column"),
        ],
        bad_args=[({"k": 0}, ValueError, r"TopKAccuracy: k must be a positive integer, got 0")],
    ),
    "MeanSquaredError": MetricSpec(ln.MeanSquaredError, _regression),
    "MeanAbsoluteError": MetricSpec(ln.MeanAbsoluteError, _regression),
    "R2Score": MetricSpec(ln.R2Score, _regression),
}


# -- schedules and callbacks -----------------------------------------------------------


def optimizer() -> ln.Optimizer:
    return ln.SGD(ln.Dense(2, 1, rng=0).parameters(), lr=0.1)


def _sequential_lr(milestones: list[int]) -> object:
    opt = optimizer()
    return ln.SequentialLR(opt, [ln.LinearWarmup(opt, 2), ln.ExponentialLR(opt, 0.9)], milestones)


SCHEDULES: dict[str, list[tuple[Callable[[], object], type[Exception], str]]] = {
    "StepLR": [
        (
            lambda: ln.StepLR(optimizer(), step_size=0),
            ValueError,
            r"StepLR: step_size must be a positive integer, got 0",
        ),
        (
            lambda: ln.StepLR(optimizer(), step_size=1.5),
            TypeError,
            r"StepLR: step_size must be a positive integer, got float 1.5",
        ),
        (
            lambda: ln.StepLR(optimizer(), step_size=2, gamma=-0.1),
            ValueError,
            r"StepLR: gamma must be positive, got -0.1",
        ),
        (
            lambda: ln.StepLR("sgd", step_size=2),
            TypeError,
            r"StepLR: optimizer must be an Optimizer, got str",
        ),  # type: ignore[arg-type]
    ],
    "ExponentialLR": [
        (
            lambda: ln.ExponentialLR(optimizer(), gamma=0.0),
            ValueError,
            r"ExponentialLR: gamma must be positive, got 0.0",
        ),
        (
            lambda: ln.ExponentialLR(optimizer(), gamma="0.9"),
            TypeError,
            r"ExponentialLR: gamma must be a real number, got str",
        ),  # type: ignore[arg-type]
    ],
    "CosineAnnealingLR": [
        (
            lambda: ln.CosineAnnealingLR(optimizer(), T_max=-5),
            ValueError,
            r"CosineAnnealingLR: T_max must be a positive integer, got -5",
        ),
        (
            lambda: ln.CosineAnnealingLR(optimizer(), T_max=5, eta_min=-1.0),
            ValueError,
            r"CosineAnnealingLR: eta_min must be >= 0, got -1.0",
        ),
    ],
    "LinearWarmup": [
        (
            lambda: ln.LinearWarmup(optimizer(), warmup_steps=0),
            ValueError,
            r"LinearWarmup: warmup_steps must be a positive integer, got 0",
        ),
        (
            lambda: ln.LinearWarmup(optimizer(), warmup_steps=5, start_factor=0.0),
            ValueError,
            r"LinearWarmup: start_factor must be in \(0, 1\], got 0.0",
        ),
    ],
    "SequentialLR": [
        (
            lambda: ln.SequentialLR(optimizer(), [], milestones=[]),
            ValueError,
            r"SequentialLR: schedules is empty",
        ),
        (
            lambda: ln.SequentialLR(optimizer(), [5], milestones=[]),
            TypeError,
            r"SequentialLR: schedules\[0\] must be an LRSchedule, got int",
        ),  # type: ignore[list-item]
        (
            lambda: _sequential_lr([0]),
            ValueError,
            r"SequentialLR: milestones\[0\] must be a positive integer, got 0",
        ),
        (
            lambda: _sequential_lr([2, 3]),
            ValueError,
            r"SequentialLR: expected 1 milestone\(s\) for 2 schedules, got 2",
        ),
    ],
}

CALLBACKS: dict[str, list[tuple[Callable[[], object], type[Exception], str]]] = {
    "Callback": [],  # the base class takes no arguments
    "EarlyStopping": [
        (
            lambda: ln.EarlyStopping(patience=-1),
            ValueError,
            r"EarlyStopping: patience must be >= 0, got -1",
        ),
        (
            lambda: ln.EarlyStopping(patience=1.5),
            TypeError,
            r"EarlyStopping: patience must be an int, got 1.5",
        ),  # type: ignore[arg-type]
        (
            lambda: ln.EarlyStopping(min_delta=-0.1),
            ValueError,
            r"EarlyStopping: min_delta must be >= 0, got -0.1",
        ),
        (
            lambda: ln.EarlyStopping(mode="best"),
            ValueError,
            r"EarlyStopping: mode must be one of \('auto', 'min', 'max'\), got 'best'",
        ),
        (
            lambda: ln.EarlyStopping(monitor=3),
            TypeError,
            r"EarlyStopping: monitor must be a str such as 'val_loss', got int",
        ),  # type: ignore[arg-type]
        (
            lambda: ln.EarlyStopping(restore_best_weights="yes"),
            TypeError,
            r"EarlyStopping: restore_best_weights must be True or False, got str 'yes'",
        ),  # type: ignore[arg-type]
        (
            lambda: ln.EarlyStopping(verbose=True),
            ValueError,
            r"EarlyStopping: verbose must be 0 \(silent\) or 1 \(print\), got True",
        ),
        (
            lambda: ln.EarlyStopping(baseline="0.5"),
            TypeError,
            r"EarlyStopping: baseline must be a real number, got str",
        ),  # type: ignore[arg-type]
        (
            lambda: ln.EarlyStopping(start_from_epoch=-2),
            ValueError,
            r"EarlyStopping: start_from_epoch must be >= 0, got -2",
        ),
    ],
    "ReduceLROnPlateau": [
        (
            lambda: ln.ReduceLROnPlateau(factor=1.0),
            ValueError,
            r"ReduceLROnPlateau: factor must be in \(0, 1\) to reduce the rate, got 1.0",
        ),
        (
            lambda: ln.ReduceLROnPlateau(factor=0.0),
            ValueError,
            r"ReduceLROnPlateau: factor must be positive, got 0.0",
        ),
        (
            lambda: ln.ReduceLROnPlateau(patience=-1),
            ValueError,
            r"ReduceLROnPlateau: patience must be >= 0, got -1",
        ),
        (
            lambda: ln.ReduceLROnPlateau(cooldown=0.5),
            TypeError,
            r"ReduceLROnPlateau: cooldown must be an int, got 0.5",
        ),  # type: ignore[arg-type]
        (
            lambda: ln.ReduceLROnPlateau(min_lr=-1.0),
            ValueError,
            r"ReduceLROnPlateau: min_lr must be >= 0, got -1.0",
        ),
        (
            lambda: ln.ReduceLROnPlateau(mode="up"),
            ValueError,
            r"ReduceLROnPlateau: mode must be one of",
        ),
        (
            lambda: ln.ReduceLROnPlateau(verbose=2),
            ValueError,
            r"ReduceLROnPlateau: verbose must be 0 \(silent\) or 1 \(print\), got 2",
        ),
    ],
    "LambdaCallback": [
        (
            lambda: ln.LambdaCallback(on_epoch_end="print"),
            TypeError,
            r"LambdaCallback: on_epoch_end must be a function or None, got str",
        ),  # type: ignore[arg-type]
    ],
    "ScheduleCallback": [
        (
            lambda: ln.ScheduleCallback(0.1),
            TypeError,
            r"ScheduleCallback: schedule must be an LRSchedule such as StepLR",
        ),  # type: ignore[arg-type]
        (
            lambda: ln.ScheduleCallback(ln.StepLR(optimizer(), 2), interval="step"),
            ValueError,
            r"ScheduleCallback: interval must be one of \('epoch', 'batch'\), got 'step'",
        ),
    ],
    "ModelCheckpoint": [
        (
            lambda: ln.ModelCheckpoint(3),
            TypeError,
            r"ModelCheckpoint: path must be a str or os.PathLike, got int",
        ),  # type: ignore[arg-type]
        (
            lambda: ln.ModelCheckpoint("m.npz", mode="up"),
            ValueError,
            r"ModelCheckpoint: mode must be one of",
        ),
        (
            lambda: ln.ModelCheckpoint("m.npz", save_best_only=1),
            TypeError,
            r"ModelCheckpoint: save_best_only must be True or False, got int 1",
        ),  # type: ignore[arg-type]
        (
            lambda: ln.ModelCheckpoint("m.npz", initial_value_threshold="0.5"),
            TypeError,
            r"ModelCheckpoint: initial_value_threshold must be a real number, got str '0.5'",
        ),  # type: ignore[arg-type]
    ],
    "CSVLogger": [
        (
            lambda: ln.CSVLogger(None),
            TypeError,
            r"CSVLogger: path must be a str or os.PathLike, got NoneType",
        ),  # type: ignore[arg-type]
        (
            lambda: ln.CSVLogger("log.csv", append="yes"),
            TypeError,
            r"CSVLogger: append must be True or False, got str 'yes'",
        ),  # type: ignore[arg-type]
        (
            lambda: ln.CSVLogger("log.csv", separator=";;"),
            ValueError,
            r"CSVLogger: separator must be one character, got ';;'",
        ),
        (
            lambda: ln.CSVLogger("log.csv", separator=1),
            TypeError,
            r"CSVLogger: separator must be one character, got int",
        ),  # type: ignore[arg-type]
    ],
    "LearningRateScheduler": [
        (
            lambda: ln.LearningRateScheduler(0.1),
            TypeError,
            r"LearningRateScheduler: schedule must be callable .*got float",
        ),  # type: ignore[arg-type]
    ],
    "TerminateOnNaN": [
        (
            lambda: ln.TerminateOnNaN(raise_error="no"),
            TypeError,
            r"TerminateOnNaN: raise_error must be True or False, got str 'no'",
        ),  # type: ignore[arg-type]
    ],
    "ProgressLogger": [
        (
            lambda: ln.ProgressLogger(delay="soon"),
            TypeError,
            r"ProgressLogger: delay must be a real number, got str",
        ),  # type: ignore[arg-type]
        (
            lambda: ln.ProgressLogger(interval=-1.0),
            ValueError,
            r"ProgressLogger: interval must be >= 0, got -1.0",
        ),
        (
            lambda: ln.ProgressLogger(width=0),
            ValueError,
            r"ProgressLogger: width must be a positive integer, got 0",
        ),
    ],
}

FUNCTIONS = {
    "fit",
    "evaluate",
    "predict",
    "gradcheck",
    "save",
    "load",
    "load_optimizer_state",
    "load_training_state",
    "clip_grad_norm",
    "Parameter",
    "initializers",
    "summary",
    "register",
    "InputSpec",
}
"""Entry points whose bad-input cases test_bad_input.py builds by hand (by these names)."""

EXEMPT: dict[str, str] = {
    "Layer": "abstract base class; every concrete layer is in LAYERS",
    "Activation": "abstract base class; every activation is in LAYERS",
    "Model": "abstract base class; Sequential, its concrete model, is in LAYERS",
    "Loss": "abstract base class; every loss is in LOSSES",
    "Optimizer": "abstract base class; every optimizer is in OPTIMIZERS",
    "FullBatchOptimizer": "abstract capability class; LBFGS, its optimizer, is in OPTIMIZERS",
    "Metric": "abstract base class; every metric is in METRICS",
    "LRSchedule": "abstract base class; every schedule is in SCHEDULES",
    "ArrayLike": "a type alias",
    "FloatArray": "a type alias",
    "IntArray": "a type alias",
    "Logs": "a type alias (the dict a callback's hooks receive)",
    "History": "a result: fit builds and returns it, users only read it",
    "GradcheckResult": "a result: gradcheck builds and returns it",
    "TrainingState": "a result: load_training_state builds and returns it",
    "datasets": "a module of argument-free loaders (load_gender, load_gender_test)",
}


def classes_of(base: type) -> dict[str, type]:
    """Exported concrete subclasses of ``base``, by exported name."""
    found: dict[str, type] = {}
    for name in ln.__all__:
        obj = getattr(ln, name)
        if inspect.isclass(obj) and issubclass(obj, base) and not inspect.isabstract(obj):
            found[name] = obj
    return found


def takes(cls: type, argument: str) -> bool:
    """Whether ``cls``'s constructor has a parameter called ``argument``."""
    return argument in inspect.signature(cls).parameters


def table_for(name: str) -> str | None:
    """Which table lists an exported name, or None if none does."""
    tables: dict[str, object] = {
        "LAYERS": LAYERS,
        "LOSSES": LOSSES,
        "OPTIMIZERS": OPTIMIZERS,
        "METRICS": METRICS,
        "SCHEDULES": SCHEDULES,
        "CALLBACKS": CALLBACKS,
        "FUNCTIONS": FUNCTIONS,
        "EXEMPT": EXEMPT,
    }
    for table, entries in tables.items():
        if name in entries:  # type: ignore[operator]
            return table
    return None


def where_to_add(name: str) -> str:
    """What the discovery test tells a contributor to add for an export without an entry."""
    obj = getattr(ln, name)
    if inspect.isclass(obj) and issubclass(obj, Layer):
        return (
            f"LAYERS[{name!r}] = LayerSpec(build, example, wrong_shapes=..., bad_args=...): "
            "the constructor arguments to draw, a valid per-sample input shape and the "
            "output-shape rule, a fixed example layer with a valid batch shape, the batch "
            "shapes it must reject and its bad constructor arguments"
        )
    for base, table in (
        (ln.Loss, "LOSSES"),
        (ln.Optimizer, "OPTIMIZERS (and OPTIMIZER_VARIANTS, OPTIMIZER_BAD_ARGS)"),
        (ln.Metric, "METRICS"),
        (ln.LRSchedule, "SCHEDULES"),
        (ln.Callback, "CALLBACKS"),
    ):
        if inspect.isclass(obj) and issubclass(obj, base):
            return f"an entry for {name!r} in {table}"
    return f"bad-input cases for {name!r} in test_bad_input.py and its name in FUNCTIONS, or a reason in EXEMPT"
