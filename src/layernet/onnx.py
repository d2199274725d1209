"""Export a model to ONNX, for onnxruntime and every other ONNX runtime.

``export(model, "model.onnx")`` writes the model's inference-mode forward pass
(Dropout is the identity, BatchNorm uses its running statistics) as one ONNX
graph with a dynamic batch axis: input ``"input"`` of shape ``(batch, ...)``,
output ``"output"``, in the model's dtype (float32 or float64). A model whose
first layer takes integer ids (an :class:`~layernet.Embedding`) reads them as
int64 ``(batch, time)``; the time axis of sequence models stays dynamic.

The file declares its opset (:data:`DEFAULT_OPSET`, 20, unless ``opset=`` asks
for another in ``[MIN_OPSET, onnx's newest]``) and the oldest IR version that
opset allows (IR 9 for opset 20), so current onnxruntime releases load it.

Each layer class has an *exporter*, found in a registry keyed by the class
(exactly; a subclass needs its own, since it may compute something else):

    @layernet.onnx.register_exporter(Scale)
    def export_scale(layer: Scale, x: str, ctx: layernet.onnx.ExportContext) -> str:
        return ctx.node("Mul", [x, ctx.constant(layer.factor.value)])

An exporter receives the layer, the name of its input tensor and the
:class:`ExportContext`, adds nodes through the context, and returns the name
of its output tensor. A container exports its children by calling
``ctx.export(child, x, name)``, which finds the child's exporter and keeps the
module path (``"2.block.0"``) that node names and error messages carry.

onnxruntime's CPU kernels for ``Conv``, ``AveragePool``, ``Erf`` (so ``Gelu``),
``Elu``, ``LeakyRelu`` and ``Softplus`` exist for float32 only. A float32
model uses those operators; a float64 model gets the same maths written with
operators onnxruntime runs in float64 (a convolution as one matrix product
per kernel offset, ``erf`` as Cephes' rational approximations, ``expm1`` and
``log1p`` with Kahan's correction), so float64 exports stay within 1e-10 of
``model.predict``. Likewise ``RNN``, ``LSTM`` and ``GRU``: ONNX's operators of
those names in float32 (gates reordered to ONNX's ``iofc`` and ``zrh``, GRU
with ``linear_before_reset=1``), a ``Scan`` over the cell in float64.

The ``onnx`` package is an optional dependency (``pip install layernet[onnx]``),
imported only when :func:`export` runs.
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ._optional import import_optional
from ._typing import FloatArray, Shape
from .layers.activations import (
    ELU,
    GELU,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from .layers.attention import MultiHeadAttention
from .layers.base import Layer
from .layers.containers import Parallel, Residual
from .layers.conv import Conv1d, Conv2d, _ConvNd
from .layers.dense import Dense
from .layers.embedding import Embedding, PositionalEmbedding
from .layers.normalization import BatchNorm, BatchNorm1d, BatchNorm2d, LayerNorm
from .layers.pooling import (
    AvgPool1d,
    AvgPool2d,
    GlobalAvgPool1d,
    GlobalAvgPool2d,
    MaxPool1d,
    MaxPool2d,
    _PoolNd,
)
from .layers.recurrent import GRU, LSTM, RNN, Recurrent
from .layers.regularization import Dropout
from .layers.reshape import Flatten, Permute, Reshape
from .layers.spec import as_spec
from .sequential import Sequential

__all__ = [
    "DEFAULT_OPSET",
    "MIN_OPSET",
    "ExportContext",
    "export",
    "exporter_for",
    "register_exporter",
]

DEFAULT_OPSET = 20
"""The opset written unless ``export(..., opset=...)`` asks for another (IR version 9)."""
MIN_OPSET = 17
"""The oldest opset :func:`export` writes (``LayerNormalization`` needs 17)."""

INPUT_NAME = "input"
OUTPUT_NAME = "output"
_INT64_MAX = np.iinfo(np.int64).max

L = TypeVar("L", bound=Layer)
Exporter = Callable[[Any, str, "ExportContext"], str]
"""``exporter(layer, x, ctx) -> y``: add the layer's nodes reading ``x``; return the output."""

_EXPORTERS: dict[type[Layer], Exporter] = {}


def register_exporter(
    cls: type[L],
) -> Callable[[Callable[[L, str, ExportContext], str]], Callable[[L, str, ExportContext], str]]:
    """Decorator: make ``function(layer, x, ctx) -> y`` the ONNX exporter of layer class ``cls``.

    Registering again for the same class replaces the earlier exporter (so a
    user can override a built-in one). ``function`` adds nodes with
    :meth:`ExportContext.node`, constants with :meth:`ExportContext.constant`,
    exports children with :meth:`ExportContext.export`, and returns the name
    of the tensor holding the layer's output.
    """
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register_exporter: expected a Layer subclass, got {cls!r}")

    def decorate(
        function: Callable[[L, str, ExportContext], str],
    ) -> Callable[[L, str, ExportContext], str]:
        if not callable(function):
            raise TypeError(
                f"register_exporter({cls.__name__}): expected a function "
                f"(layer, x, ctx) -> str, got {type(function).__name__}"
            )
        _EXPORTERS[cls] = function
        return function

    return decorate


def exporter_for(cls: type[Layer]) -> Exporter | None:
    """The exporter registered for exactly ``cls``, or None."""
    return _EXPORTERS.get(cls)


def _load_onnx() -> Any:
    return import_optional("onnx", "layernet.onnx.export", "onnx", "onnx onnxruntime")


class ExportContext:
    """The graph an export is building: what exporters add nodes and constants to.

    Attributes
    ----------
    dtype : numpy.dtype
        The model's dtype (float32 or float64); constants are stored in it.
    opset : int
        The ONNX opset being written.
    native : bool
        True for float32, where onnxruntime has a kernel for every standard
        operator the exporters use; False for float64, where ``Conv``,
        ``AveragePool``, ``Erf``, ``Elu``, ``LeakyRelu`` and ``Softplus``
        are written with other operators.
    path : str
        The module path of the layer being exported (``""`` for the model).
    """

    def __init__(self, onnx: Any, dtype: np.dtype[Any], opset: int) -> None:
        self._onnx = onnx
        self.dtype = dtype
        self.opset = opset
        self.native = dtype == np.float32
        self.path = ""
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._counter = itertools.count()

    # -- building blocks -------------------------------------------------------------

    def fresh(self, hint: str) -> str:
        """A tensor name not used before, readable: ``"2.block/MatMul_7"``."""
        return f"{self.path or 'model'}/{hint}_{next(self._counter)}"

    def node(self, op_type: str, inputs: Sequence[str], **attributes: Any) -> str:
        """Add one node of the default ONNX domain; return the name of its (single) output."""
        output = self.fresh(op_type)
        self.nodes.append(
            self._onnx.helper.make_node(op_type, list(inputs), [output], name=output, **attributes)
        )
        return output

    def multi_node(
        self, op_type: str, inputs: Sequence[str], outputs: int, **attributes: Any
    ) -> list[str]:
        """Add one node with ``outputs`` outputs (``Split``, ``LSTM``...); return their names."""
        names = [self.fresh(f"{op_type}_out{i}") for i in range(outputs)]
        self.nodes.append(
            self._onnx.helper.make_node(op_type, list(inputs), names, name=names[0], **attributes)
        )
        return names

    def constant(self, value: FloatArray | float, hint: str = "const") -> str:
        """Store ``value`` (converted to the model's dtype) as an initializer; return its name."""
        array = np.array(value, dtype=self.dtype, order="C")  # 0-d stays 0-d
        name = self.fresh(hint)
        self.initializers.append(self._onnx.numpy_helper.from_array(array, name))
        return name

    def ints(self, values: Sequence[int], hint: str = "ints") -> str:
        """Store a 1-D int64 initializer (axes, pads, slice bounds); return its name."""
        name = self.fresh(hint)
        array = np.asarray(list(values), dtype=np.int64)
        self.initializers.append(self._onnx.numpy_helper.from_array(array, name))
        return name

    def int_scalar(self, value: int, hint: str = "int") -> str:
        """Store a 0-d int64 initializer (``Range``'s bounds); return its name."""
        name = self.fresh(hint)
        array = np.asarray(value, dtype=np.int64)
        self.initializers.append(self._onnx.numpy_helper.from_array(array, name))
        return name

    def reduce_mean(self, x: str, axes: Sequence[int], *, keepdims: bool) -> str:
        """``ReduceMean`` over ``axes`` (an attribute before opset 18, an input since)."""
        if self.opset >= 18:
            return self.node("ReduceMean", [x, self.ints(axes, "axes")], keepdims=int(keepdims))
        return self.node("ReduceMean", [x], axes=list(axes), keepdims=int(keepdims))

    # -- the tree --------------------------------------------------------------------

    def export(self, layer: Layer, x: str, name: str) -> str:
        """Export ``layer`` (the child called ``name`` of the layer being exported) on ``x``.

        Containers call this for each child; it finds the child's exporter,
        and names the child by its module path in node names and errors.

        Raises
        ------
        TypeError
            If no exporter is registered for the child's class.
        """
        parent = self.path
        self.path = f"{parent}.{name}" if parent and name else parent or name
        try:
            exporter = _EXPORTERS.get(type(layer))
            if exporter is None:
                where = f"at {self.path!r}" if self.path else "(the model itself)"
                raise TypeError(
                    f"layernet.onnx.export: {layer!r} {where} has no ONNX exporter; "
                    f"register one with @layernet.onnx.register_exporter({type(layer).__name__})"
                    " (see the saving guide)"
                )
            y = exporter(layer, x, self)
            if not isinstance(y, str):
                raise TypeError(
                    f"layernet.onnx.export: the exporter of {type(layer).__name__} returned "
                    f"{type(y).__name__}; it must return the name of its output tensor"
                )
            return y
        finally:
            self.path = parent


# -- the entry point -------------------------------------------------------------------


def export(
    model: Layer,
    path: str | os.PathLike[str],
    *,
    opset: int | None = None,
    input_shape: Shape | None = None,
) -> None:
    """Write ``model``'s inference-mode forward pass to ``path`` as an ONNX model.

    Parameters
    ----------
    model : Layer
        Any model whose layers all have exporters (every built-in layer does).
    path : str or os.PathLike
        Written atomically (a temporary file renamed into place).
    opset : int, optional
        The ONNX opset, :data:`DEFAULT_OPSET` (20) by default, at least
        :data:`MIN_OPSET` (17). The IR version is the oldest the opset allows.
    input_shape : tuple, optional
        The per-sample input shape (batch axis excluded), ``None`` for a size
        that may vary (a sequence length). By default it comes from the
        model's ``input_spec``, at the smallest rank the model accepts (so
        ``(C,)`` for a BatchNorm1d first, which also takes ``(C, L)``: pass
        ``input_shape=(C, None)`` for that); a model that declares no
        ``input_spec`` needs it.

    Raises
    ------
    TypeError
        Naming the layer and its module path when a layer has no exporter.
    ImportError
        If the onnx package is not installed.
    """
    if not isinstance(model, Layer):
        raise TypeError(f"layernet.onnx.export: model must be a Layer, got {type(model).__name__}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"layernet.onnx.export: path must be a str or os.PathLike, got {type(path).__name__}"
        )
    onnx = _load_onnx()
    newest = int(onnx.defs.onnx_opset_version())
    if opset is None:
        opset = DEFAULT_OPSET
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"layernet.onnx.export: opset must be an int in [{MIN_OPSET}, {newest}] "
            f"(this onnx's newest), got {opset!r}"
        )
    dtype = np.dtype(model.dtype)
    ctx = ExportContext(onnx, dtype, opset)
    y = ctx.export(model, INPUT_NAME, "")  # first: a layer without exporter is the news
    shape = _input_shape(model, input_shape)
    ctx.nodes.append(onnx.helper.make_node("Identity", [y], [OUTPUT_NAME], name="output"))
    elem = onnx.helper.np_dtype_to_tensor_dtype(dtype)
    # a model that takes integer ids first (an Embedding) reads them as int64
    in_elem = onnx.TensorProto.INT64 if model.takes_integers() else elem
    opsets = [onnx.helper.make_opsetid("", opset)]
    graph_input = onnx.helper.make_tensor_value_info(INPUT_NAME, in_elem, ["batch", *shape])
    out_shape = model.output_shape(shape)
    if out_shape is not None:
        out_dims: list[int | str | None] = ["batch", *out_shape]
    else:  # a layer that does not say: ask ONNX's shape inference
        out_dims = _inferred_dims(onnx, ctx, graph_input, opsets, OUTPUT_NAME)
    graph = onnx.helper.make_graph(
        ctx.nodes,
        type(model).__name__,
        [graph_input],
        [onnx.helper.make_tensor_value_info(OUTPUT_NAME, elem, out_dims)],
        ctx.initializers,
    )
    proto = onnx.helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="layernet",
        producer_version=_version(),
        doc_string=repr(model),
    )
    proto.ir_version = onnx.helper.find_min_ir_version_for(opsets)
    onnx.checker.check_model(proto, full_check=True)
    _write(Path(path), proto.SerializeToString())


def _version() -> str:
    from . import __version__

    return __version__


def _input_shape(model: Layer, given: Shape | None) -> Shape:
    """The per-sample input shape of the graph's input (``None`` entries: any size)."""
    spec = as_spec(model.input_spec)
    if given is None:
        if spec is None:
            raise ValueError(
                f"layernet.onnx.export: {model!r} does not declare its input shape "
                "(input_spec); pass input_shape=, the per-sample shape, e.g. (3,) for "
                "(batch, 3) or (2, None) for (batch, 2, any length)"
            )
        return spec.template()  # the smallest rank the model takes
    if not isinstance(given, (tuple, list)) or not all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in given
    ):
        raise ValueError(
            "layernet.onnx.export: input_shape must be a tuple of positive ints or None "
            f"(per sample, batch axis excluded), got {given!r}"
        )
    shape = tuple(given)
    if spec is not None and not spec.fits(shape):
        raise ValueError(
            f"layernet.onnx.export: {model!r} expects input of shape {spec}, "
            f"got input_shape={shape}"
        )
    return shape


def _inferred_dims(
    onnx: Any, ctx: ExportContext, graph_input: Any, opsets: list[Any], output: str
) -> list[int | str | None]:
    """The output's dims as ONNX's shape inference finds them (for layers that do not say)."""
    probe = onnx.helper.make_graph(ctx.nodes, "probe", [graph_input], [], ctx.initializers)
    inferred = onnx.shape_inference.infer_shapes(
        onnx.helper.make_model(probe, opset_imports=opsets)
    )
    for info in inferred.graph.value_info:
        if info.name == output and info.type.tensor_type.HasField("shape"):
            return [
                d.dim_param or (d.dim_value if d.HasField("dim_value") else None)
                for d in info.type.tensor_type.shape.dim
            ]
    raise ValueError(
        "layernet.onnx.export: cannot tell the rank of the model's output (its layers do not "
        "implement output_shape, and ONNX's shape inference could not work it out); "
        "implement output_shape on your layer"
    )


def _write(target: Path, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


# -- the built-in exporters ------------------------------------------------------------


@register_exporter(Sequential)
def _sequential(layer: Sequential, x: str, ctx: ExportContext) -> str:
    for name, child in layer.named_children():
        x = ctx.export(child, x, name)
    return x


@register_exporter(Residual)
def _residual(layer: Residual, x: str, ctx: ExportContext) -> str:
    # block(x) + shortcut(x), the shortcut being the identity when there is none
    y = ctx.export(layer.block, x, "block")
    s = x if layer.shortcut is None else ctx.export(layer.shortcut, x, "shortcut")
    return ctx.node("Add", [y, s])


@register_exporter(Parallel)
def _parallel(layer: Parallel, x: str, ctx: ExportContext) -> str:
    outs = [ctx.export(child, x, name) for name, child in layer.named_children()]
    if layer.merge == "add":
        return outs[0] if len(outs) == 1 else ctx.node("Sum", outs)
    # the layer's axis counts the batch axis as 0, as ONNX's (negative from the end, too)
    return ctx.node("Concat", outs, axis=layer.axis)


@register_exporter(Dense)
def _dense(layer: Dense, x: str, ctx: ExportContext) -> str:
    # MatMul rather than Gemm: it broadcasts over any leading axes, (batch, *, in)
    y = ctx.node("MatMul", [x, ctx.constant(layer.weight.value, "weight")])
    if layer.use_bias:
        y = ctx.node("Add", [y, ctx.constant(layer.bias.value, "bias")])
    return y


@register_exporter(Identity)
def _identity(layer: Identity, x: str, ctx: ExportContext) -> str:
    return ctx.node("Identity", [x])


@register_exporter(Dropout)
def _dropout(layer: Dropout, x: str, ctx: ExportContext) -> str:
    return ctx.node("Identity", [x])  # inference mode: dropout passes its input through


@register_exporter(Sigmoid)
def _sigmoid(layer: Sigmoid, x: str, ctx: ExportContext) -> str:
    return ctx.node("Sigmoid", [x])


@register_exporter(Tanh)
def _tanh(layer: Tanh, x: str, ctx: ExportContext) -> str:
    return ctx.node("Tanh", [x])


@register_exporter(ReLU)
def _relu(layer: ReLU, x: str, ctx: ExportContext) -> str:
    return ctx.node("Relu", [x])


@register_exporter(LeakyReLU)
def _leaky_relu(layer: LeakyReLU, x: str, ctx: ExportContext) -> str:
    if ctx.native:
        return ctx.node("LeakyRelu", [x], alpha=float(layer.negative_slope))
    # max(x, 0) + slope * min(x, 0): exactly x or slope * x
    zero = ctx.constant(0.0, "zero")
    negative = ctx.node("Mul", [ctx.node("Min", [x, zero]), ctx.constant(layer.negative_slope)])
    return ctx.node("Add", [ctx.node("Max", [x, zero]), negative])


@register_exporter(ELU)
def _elu(layer: ELU, x: str, ctx: ExportContext) -> str:
    if ctx.native:
        return ctx.node("Elu", [x], alpha=float(layer.alpha))
    # max(x, 0) + alpha * expm1(min(x, 0)); below -40 expm1 is -1 to the last bit
    zero = ctx.constant(0.0, "zero")
    m = ctx.node("Max", [ctx.node("Min", [x, zero]), ctx.constant(-40.0)])
    negative = ctx.node("Mul", [_expm1(ctx, m), ctx.constant(layer.alpha, "alpha")])
    return ctx.node("Add", [ctx.node("Max", [x, zero]), negative])


def _expm1(ctx: ExportContext, x: str) -> str:
    """``exp(x) - 1`` to full precision (Kahan): ``(u - 1) * x / log(u)`` with ``u = exp(x)``.

    Where ``u`` rounds to 1 the result is ``x`` itself. ``x`` must stay above
    about -700, where ``u`` would underflow to 0.
    """
    one = ctx.constant(1.0, "one")
    u = ctx.node("Exp", [x])
    u_minus_1 = ctx.node("Sub", [u, one])
    corrected = ctx.node("Div", [ctx.node("Mul", [u_minus_1, x]), ctx.node("Log", [u])])
    return ctx.node("Where", [ctx.node("Equal", [u, one]), x, corrected])


def _log1p(ctx: ExportContext, t: str) -> str:
    """``log(1 + t)`` to full precision (Kahan): ``log(u) * t / (u - 1)`` with ``u = 1 + t``."""
    one = ctx.constant(1.0, "one")
    u = ctx.node("Add", [t, one])
    corrected = ctx.node(
        "Mul", [ctx.node("Log", [u]), ctx.node("Div", [t, ctx.node("Sub", [u, one])])]
    )
    return ctx.node("Where", [ctx.node("Equal", [u, one]), t, corrected])


@register_exporter(Softplus)
def _softplus(layer: Softplus, x: str, ctx: ExportContext) -> str:
    bx = x if layer.beta == 1.0 else ctx.node("Mul", [x, ctx.constant(layer.beta, "beta")])
    if ctx.native:
        soft = ctx.node("Softplus", [bx])
    else:  # log(1 + exp(bx)) = max(bx, 0) + log1p(exp(-|bx|))
        tail = ctx.node("Exp", [ctx.node("Neg", [ctx.node("Abs", [bx])])])
        soft = ctx.node(
            "Add", [ctx.node("Max", [bx, ctx.constant(0.0, "zero")]), _log1p(ctx, tail)]
        )
    if layer.beta != 1.0:
        soft = ctx.node("Div", [soft, ctx.constant(layer.beta, "beta")])
    linear = ctx.node("Greater", [bx, ctx.constant(layer.threshold, "threshold")])
    return ctx.node("Where", [linear, x, soft])


@register_exporter(GELU)
def _gelu(layer: GELU, x: str, ctx: ExportContext) -> str:
    if ctx.native and ctx.opset >= 20:
        return ctx.node("Gelu", [x], approximate=layer.approximate)
    half_x = ctx.node("Mul", [x, ctx.constant(0.5, "half")])
    if layer.approximate == "tanh":  # x (1 + tanh(k (x + 0.044715 x^3))) / 2
        cube = ctx.node("Mul", [ctx.node("Mul", [x, x]), x])
        inner = ctx.node("Add", [x, ctx.node("Mul", [cube, ctx.constant(0.044715)])])
        t = ctx.node("Tanh", [ctx.node("Mul", [inner, ctx.constant(math.sqrt(2.0 / math.pi))])])
        return ctx.node("Mul", [half_x, ctx.node("Add", [t, ctx.constant(1.0, "one")])])
    if ctx.native:  # x (1 + erf(x / sqrt 2)) / 2
        scaled = ctx.node("Mul", [x, ctx.constant(math.sqrt(0.5), "sqrt_half")])
        erf = ctx.node("Erf", [scaled])
        return ctx.node("Mul", [half_x, ctx.node("Add", [erf, ctx.constant(1.0, "one")])])
    return ctx.node("Mul", [x, _ndtr(ctx, x)])


@register_exporter(Softmax)
def _softmax(layer: Softmax, x: str, ctx: ExportContext) -> str:
    return ctx.node("Softmax", [x], axis=layer.axis)


def _batch_norm(layer: BatchNorm, x: str, ctx: ExportContext) -> str:
    # inference: the running statistics; channels at axis 1 for every rank, as ONNX's
    inputs = [
        x,
        ctx.constant(layer.gamma.value, "gamma"),
        ctx.constant(layer.beta.value, "beta"),
        ctx.constant(layer.running_mean, "running_mean"),
        ctx.constant(layer.running_var, "running_var"),
    ]
    return ctx.node("BatchNormalization", inputs, epsilon=float(layer.eps))


register_exporter(BatchNorm1d)(_batch_norm)
register_exporter(BatchNorm2d)(_batch_norm)


@register_exporter(LayerNorm)
def _layer_norm(layer: LayerNorm, x: str, ctx: ExportContext) -> str:
    gamma = ctx.constant(layer.gamma.value, "gamma")
    beta = ctx.constant(layer.beta.value, "beta")
    return ctx.node("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=float(layer.eps))


@register_exporter(Flatten)
def _flatten(layer: Flatten, x: str, ctx: ExportContext) -> str:
    return ctx.node("Flatten", [x], axis=1)


@register_exporter(Reshape)
def _reshape(layer: Reshape, x: str, ctx: ExportContext) -> str:
    # a 0 in ONNX's target copies the input's size there: the batch axis stays dynamic
    return ctx.node("Reshape", [x, ctx.ints([0, *layer.shape], "shape")])


@register_exporter(Permute)
def _permute(layer: Permute, x: str, ctx: ExportContext) -> str:
    return ctx.node("Transpose", [x], perm=[0, *layer.dims])


def _conv(layer: _ConvNd, x: str, ctx: ExportContext) -> str:
    g = layer.geometry
    if ctx.native:
        inputs = [x, ctx.constant(layer.weight.value, "weight")]
        if layer.use_bias:
            inputs.append(ctx.constant(layer.bias.value, "bias"))
        return ctx.node(
            "Conv",
            inputs,
            kernel_shape=list(g.kernel),
            strides=list(g.stride),
            dilations=list(g.dilation),
            pads=[*g.pad_lo, *g.pad_hi],
        )
    # one matrix product per kernel offset j, on channels-last windows:
    # y[n, *i, o] = b[o] + sum_j x_pad[n, *(i s + j d), :] @ W[:, :, *j].T
    nd = len(g.kernel)
    channels_last = ctx.node(
        "Transpose", [_pad(ctx, x, g.pad_lo, g.pad_hi)], perm=[0, *range(2, nd + 2), 1]
    )
    kernel = layer.weight.value.reshape(layer.out_channels, layer.in_channels, -1)
    terms = []
    for index, offset in enumerate(itertools.product(*(range(k) for k in g.kernel))):
        window = _window(ctx, channels_last, offset, g.dilation, g.stride, g.span, first_axis=1)
        w = kernel[:, :, index].T  # (C_in, C_out); offsets in row-major order, as reshape
        terms.append(ctx.node("MatMul", [window, ctx.constant(w, "weight")]))
    y = ctx.node("Sum", terms)
    if layer.use_bias:
        y = ctx.node("Add", [y, ctx.constant(layer.bias.value, "bias")])
    return ctx.node("Transpose", [y], perm=[0, nd + 1, *range(1, nd + 1)])


def _pad(ctx: ExportContext, x: str, lo: Sequence[int], hi: Sequence[int]) -> str:
    """Zero-pad the spatial axes of ``(batch, C, *spatial)``."""
    if not any(lo) and not any(hi):
        return x
    return ctx.node("Pad", [x, ctx.ints([0, 0, *lo, 0, 0, *hi], "pads")], mode="constant")


def _window(
    ctx: ExportContext,
    x: str,
    offset: Sequence[int],
    dilation: Sequence[int],
    stride: Sequence[int],
    span: Sequence[int],
    *,
    first_axis: int,
) -> str:
    """``x[..., j d :: s]`` along each spatial axis, for as many outputs as the windows give.

    Along an axis of padded length ``P`` the output length is
    ``floor((P - span) / s) + 1``: the slice starts at ``j d`` and stops
    ``span - 1 - j d`` before the end (so the batch and sizes stay dynamic).
    """
    starts = [j * d for j, d in zip(offset, dilation, strict=True)]
    ends = [
        -(extent - 1 - start) if extent - 1 - start else _INT64_MAX
        for start, extent in zip(starts, span, strict=True)
    ]
    axes = list(range(first_axis, first_axis + len(offset)))
    return ctx.node(
        "Slice",
        [
            x,
            ctx.ints(starts, "starts"),
            ctx.ints(ends, "ends"),
            ctx.ints(axes, "axes"),
            ctx.ints(list(stride), "steps"),
        ],
    )


register_exporter(Conv1d)(_conv)
register_exporter(Conv2d)(_conv)


def _max_pool(layer: _PoolNd, x: str, ctx: ExportContext) -> str:
    g = layer.geometry  # ONNX's MaxPool ignores padding, as torch's pads with -inf
    return ctx.node(
        "MaxPool",
        [x],
        kernel_shape=list(g.kernel),
        strides=list(g.stride),
        pads=[*g.pad_lo, *g.pad_hi],
    )


def _avg_pool(layer: _PoolNd, x: str, ctx: ExportContext) -> str:
    g = layer.geometry
    if ctx.native:
        return ctx.node(
            "AveragePool",
            [x],
            kernel_shape=list(g.kernel),
            strides=list(g.stride),
            pads=[*g.pad_lo, *g.pad_hi],
            count_include_pad=1,
        )
    padded = _pad(ctx, x, g.pad_lo, g.pad_hi)  # padding counts as zeros, as in torch
    windows = [
        _window(ctx, padded, offset, g.dilation, g.stride, g.span, first_axis=2)
        for offset in itertools.product(*(range(k) for k in g.kernel))
    ]
    total = ctx.node("Sum", windows)
    return ctx.node("Mul", [total, ctx.constant(1.0 / math.prod(g.kernel), "inv_count")])


def _global_avg_pool(layer: GlobalAvgPool1d | GlobalAvgPool2d, x: str, ctx: ExportContext) -> str:
    return ctx.reduce_mean(x, list(range(2, 2 + layer.n_spatial)), keepdims=False)


register_exporter(MaxPool1d)(_max_pool)
register_exporter(MaxPool2d)(_max_pool)
register_exporter(AvgPool1d)(_avg_pool)
register_exporter(AvgPool2d)(_avg_pool)
register_exporter(GlobalAvgPool1d)(_global_avg_pool)
register_exporter(GlobalAvgPool2d)(_global_avg_pool)


# -- the normal CDF without Erf (float64) ----------------------------------------------


# Cephes' ndtr (S. L. Moshier, public domain), the rational approximations scipy's
# ndtr is built on: erf(x) = x T(x^2) / U(x^2) for |x| < 1, and
# erfc(z) = exp(-z^2) P(z) / Q(z) for 1 <= z < 8, exp(-z^2) R(z) / S(z) beyond;
# coefficients from the highest power down, each to about 1e-16 relative.
_ERF_T = (
    9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
    7.00332514112805075473e3, 5.55923013010394962768e4,
)  # fmt: skip
_ERF_U = (
    1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
    2.26290000613890934246e4, 4.92673942608635921086e4,
)  # fmt: skip
_ERFC_P = (
    2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
    4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
    9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2,
)  # fmt: skip
_ERFC_Q = (
    1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
    9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
    1.65666309194161350182e3, 5.57535340817727675546e2,
)  # fmt: skip
_ERFC_R = (
    5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
    6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0,
)  # fmt: skip
_ERFC_S = (
    1.0, 2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
    1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0,
)  # fmt: skip


def _polynomial(ctx: ExportContext, x: str, coefficients: Sequence[float]) -> str:
    """Horner's rule, coefficients from the highest power down."""
    y = ctx.constant(coefficients[0], "coef")
    for c in coefficients[1:]:
        y = ctx.node("Add", [ctx.node("Mul", [y, x]), ctx.constant(c, "coef")])
    return y


def _rational(ctx: ExportContext, x: str, top: Sequence[float], bottom: Sequence[float]) -> str:
    return ctx.node("Div", [_polynomial(ctx, x, top), _polynomial(ctx, x, bottom)])


def _ndtr(ctx: ExportContext, a: str) -> str:
    """The standard normal CDF ``Phi(a)`` without ``Erf``, as Cephes' ``ndtr`` computes it.

    With ``x = a / sqrt 2`` and ``z = |x|``: ``(1 + erf(x)) / 2`` for
    ``z < 1 / sqrt 2``; otherwise ``h = erfc(z) / 2`` (as ``1 - erf(z)`` for
    ``z < 1``, from the tail approximations beyond) and ``Phi = 1 - h`` for
    ``x > 0``, ``h`` for ``x < 0``. Every branch is computed on inputs clamped
    to its range and ``Where`` picks one, so no branch makes an inf or NaN.
    """
    sqrt_half = math.sqrt(0.5)
    half = ctx.constant(0.5, "half")
    one = ctx.constant(1.0, "one")
    x = ctx.node("Mul", [a, ctx.constant(sqrt_half, "sqrt_half")])
    z = ctx.node("Abs", [x])
    # erf on |x| <= 1 (x clamped there, so the unused values stay finite)
    x_in = ctx.node("Clip", [x, ctx.constant(-1.0), one])
    erf = ctx.node("Mul", [x_in, _rational(ctx, ctx.node("Mul", [x_in, x_in]), _ERF_T, _ERF_U)])
    middle = ctx.node("Add", [half, ctx.node("Mul", [half, erf])])
    # erfc(z) for z >= 1 (z clamped to [1, 40]: erfc(40) underflows to 0 like erfc(inf))
    z_out = ctx.node("Clip", [z, one, ctx.constant(40.0)])
    gauss = ctx.node("Exp", [ctx.node("Neg", [ctx.node("Mul", [z_out, z_out])])])
    near = _rational(ctx, z_out, _ERFC_P, _ERFC_Q)
    far = _rational(ctx, z_out, _ERFC_R, _ERFC_S)
    below_8 = ctx.node("Less", [z_out, ctx.constant(8.0)])
    erfc_tail = ctx.node("Mul", [gauss, ctx.node("Where", [below_8, near, far])])
    erf_abs = ctx.node("Abs", [erf])  # erf(|x|) for |x| < 1
    below_1 = ctx.node("Less", [z, one])
    erfc = ctx.node("Where", [below_1, ctx.node("Sub", [one, erf_abs]), erfc_tail])
    h = ctx.node("Mul", [half, erfc])
    tail = ctx.node(
        "Where", [ctx.node("Greater", [x, ctx.constant(0.0)]), ctx.node("Sub", [one, h]), h]
    )
    inner = ctx.node("Less", [z, ctx.constant(sqrt_half, "sqrt_half")])
    return ctx.node("Where", [inner, middle, tail])


# -- sequence layers -------------------------------------------------------------------


@register_exporter(Embedding)
def _embedding(layer: Embedding, x: str, ctx: ExportContext) -> str:
    # the graph's input is int64 ids when the model starts with this layer
    return ctx.node("Gather", [ctx.constant(layer.weight.value, "weight"), x], axis=0)


def _time_length(ctx: ExportContext, x: str) -> str:
    """The sequence length of ``(batch, T, ...)`` as a 1-D int64 tensor ``[T]``."""
    return ctx.node("Shape", [x], start=1, end=2)


@register_exporter(PositionalEmbedding)
def _positional_embedding(layer: PositionalEmbedding, x: str, ctx: ExportContext) -> str:
    # the first T rows of the table, T read from the input: any length up to max_len
    table = ctx.constant(layer.weight.value, "weight")
    rows = ctx.node("Slice", [table, ctx.ints([0], "starts"), _time_length(ctx, x), ctx.ints([0])])
    return ctx.node("Add", [x, rows])


@register_exporter(MultiHeadAttention)
def _multi_head_attention(layer: MultiHeadAttention, x: str, ctx: ExportContext) -> str:
    heads, e = layer.num_heads, layer.embed_dim
    split = ctx.ints([0, 0, heads, e // heads], "heads")  # 0: keep the batch and time sizes
    q = ctx.node("Reshape", [ctx.export(layer.q, x, "q"), split])
    k = ctx.node("Reshape", [ctx.export(layer.k, x, "k"), split])
    v = ctx.node("Reshape", [ctx.export(layer.v, x, "v"), split])
    q = ctx.node("Transpose", [q], perm=[0, 2, 1, 3])  # (batch, h, T, d)
    k_t = ctx.node("Transpose", [k], perm=[0, 2, 3, 1])  # (batch, h, d, T)
    v = ctx.node("Transpose", [v], perm=[0, 2, 1, 3])
    scale = ctx.constant(1.0 / math.sqrt(e // heads), "scale")
    s = ctx.node("Mul", [ctx.node("MatMul", [q, k_t]), scale])
    if layer.causal:  # -inf where key j > query i, for the input's own length T
        time = ctx.node("Squeeze", [_time_length(ctx, x), ctx.ints([0], "axes")])
        positions = ctx.node("Range", [ctx.int_scalar(0), time, ctx.int_scalar(1)])
        later = ctx.node(
            "Greater",
            [
                ctx.node("Unsqueeze", [positions, ctx.ints([0], "axes")]),
                ctx.node("Unsqueeze", [positions, ctx.ints([1], "axes")]),
            ],
        )
        s = ctx.node("Where", [later, ctx.constant(-np.inf, "minus_inf"), s])
    a = ctx.node("Softmax", [s], axis=-1)  # dropout is the identity at inference
    o = ctx.node("Transpose", [ctx.node("MatMul", [a, v])], perm=[0, 2, 1, 3])
    merged = ctx.node("Reshape", [o, ctx.ints([0, 0, e], "merge")])
    return ctx.export(layer.out, merged, "out")


# ONNX's gate blocks, as indices of layernet's (torch's): LSTM i, o, f, c from i, f, g, o;
# GRU z, r, h from r, z, n (with linear_before_reset=1, torch's b_hn inside r * (...))
_ONNX_GATES: dict[type[Recurrent], tuple[int, ...]] = {
    RNN: (0,),
    LSTM: (0, 3, 1, 2),
    GRU: (1, 0, 2),
}


def _gate_rows(layer: Recurrent, matrix: FloatArray) -> FloatArray:
    """``matrix`` (…, G*hidden) transposed to ONNX's (1, G*hidden, …) with its gates reordered."""
    n = layer.hidden_size
    blocks = [matrix[..., g * n : (g + 1) * n] for g in _ONNX_GATES[type(layer)]]
    rows: FloatArray = np.concatenate(blocks, axis=-1).T[np.newaxis]
    return rows


def _recurrent(layer: Recurrent, x: str, ctx: ExportContext) -> str:
    """RNN, LSTM and GRU: ONNX's own operators in float32, a ``Scan`` of the cell in float64.

    onnxruntime's ``RNN``, ``LSTM`` and ``GRU`` kernels run float32 only; the
    float64 graph projects every step's input with one ``MatMul`` (as
    :class:`~layernet.layers.recurrent.Recurrent` does) and scans the cell
    over the time axis. Either way the time axis stays dynamic.
    """
    if ctx.native:
        return _recurrent_native(layer, x, ctx)
    return _recurrent_scan(layer, x, ctx)


def _recurrent_native(layer: Recurrent, x: str, ctx: ExportContext) -> str:
    w = ctx.constant(_gate_rows(layer, layer.weight_ih.value), "W")  # (1, G*hidden, input)
    r = ctx.constant(_gate_rows(layer, layer.weight_hh.value), "R")
    bias = np.concatenate(
        [_gate_rows(layer, layer.bias_ih.value)[0], _gate_rows(layer, layer.bias_hh.value)[0]]
    )
    b = ctx.constant(bias[np.newaxis], "B")
    attributes: dict[str, Any] = {"hidden_size": layer.hidden_size}
    if isinstance(layer, RNN):
        attributes["activations"] = ["Tanh" if layer.nonlinearity == "tanh" else "Relu"]
    if isinstance(layer, GRU):
        attributes["linear_before_reset"] = 1
    time_major = ctx.node("Transpose", [x], perm=[1, 0, 2])
    y, y_h = ctx.multi_node(type(layer).__name__, [time_major, w, r, b], 2, **attributes)[:2]
    if not layer.return_sequences:  # (1, batch, hidden)
        return ctx.node("Squeeze", [y_h, ctx.ints([0], "axes")])
    y = ctx.node("Squeeze", [y, ctx.ints([1], "axes")])  # (T, 1, batch, hidden)
    return ctx.node("Transpose", [y], perm=[1, 0, 2])


def _recurrent_scan(layer: Recurrent, x: str, ctx: ExportContext) -> str:
    onnx = ctx._onnx
    hidden, width = layer.hidden_size, layer.gates * layer.hidden_size
    p = ctx.node("MatMul", [x, ctx.constant(layer.weight_ih.value, "weight_ih")])
    p = ctx.node("Add", [p, ctx.constant(layer.bias_ih.value, "bias_ih")])  # (batch, T, G*h)
    # zero initial state (batch, hidden), the batch size read from the input
    size = ctx.node("Concat", [ctx.node("Shape", [x], start=0, end=1), ctx.ints([hidden])], axis=0)
    zero = onnx.helper.make_tensor(
        "zero", onnx.helper.np_dtype_to_tensor_dtype(ctx.dtype), [1], [0.0]
    )
    h0 = ctx.node("ConstantOfShape", [size], value=zero)
    states = 2 if isinstance(layer, LSTM) else 1
    # the body: its nodes go to their own list; its constants are the outer graph's
    outer_nodes, ctx.nodes = ctx.nodes, []
    try:
        elem = onnx.helper.np_dtype_to_tensor_dtype(ctx.dtype)
        h_prev, p_t = ctx.fresh("h_prev"), ctx.fresh("p_t")
        c_prev = ctx.fresh("c_prev")
        q = ctx.node("MatMul", [h_prev, ctx.constant(layer.weight_hh.value, "weight_hh")])
        q = ctx.node("Add", [q, ctx.constant(layer.bias_hh.value, "bias_hh")])

        def block(t: str, g: int, count: int = 1) -> str:
            return ctx.node(
                "Slice",
                [t, ctx.ints([g * hidden]), ctx.ints([(g + count) * hidden]), ctx.ints([-1])],
            )

        new_states: list[str]
        if isinstance(layer, RNN):
            a = ctx.node("Add", [p_t, q])
            new_states = [ctx.node("Tanh" if layer.nonlinearity == "tanh" else "Relu", [a])]
        elif isinstance(layer, LSTM):
            a = ctx.node("Add", [p_t, q])
            i, f, o = (_exp_sigmoid(ctx, block(a, g)) for g in (0, 1, 3))
            g_ = ctx.node("Tanh", [block(a, 2)])
            c = ctx.node("Add", [ctx.node("Mul", [f, c_prev]), ctx.node("Mul", [i, g_])])
            new_states = [ctx.node("Mul", [o, ctx.node("Tanh", [c])]), c]
        else:  # GRU
            rz = _exp_sigmoid(ctx, ctx.node("Add", [block(p_t, 0, 2), block(q, 0, 2)]))
            r, z = block(rz, 0), block(rz, 1)
            n = ctx.node(
                "Tanh", [ctx.node("Add", [block(p_t, 2), ctx.node("Mul", [r, block(q, 2)])])]
            )
            h = ctx.node("Add", [n, ctx.node("Mul", [z, ctx.node("Sub", [h_prev, n])])])
            new_states = [h]
        out = ctx.node("Identity", [new_states[0]])
        body_nodes = ctx.nodes
    finally:
        ctx.nodes = outer_nodes

    def info(name: str, dims: list[int | str | None]) -> Any:
        return onnx.helper.make_tensor_value_info(name, elem, dims)

    state_names = [h_prev, c_prev][:states]
    body = onnx.helper.make_graph(
        body_nodes,
        ctx.fresh("cell"),
        [*(info(s, ["batch", hidden]) for s in state_names), info(p_t, ["batch", width])],
        [*(info(s, ["batch", hidden]) for s in new_states), info(out, ["batch", hidden])],
    )
    outputs = ctx.multi_node(
        "Scan",
        [*([h0] * states), p],
        states + 1,
        body=body,
        num_scan_inputs=1,
        scan_input_axes=[1],
        scan_output_axes=[1],
    )
    return outputs[-1] if layer.return_sequences else outputs[0]


def _exp_sigmoid(ctx: ExportContext, a: str) -> str:
    """The logistic function as layernet's recurrent layers compute it, ``1 / (1 + exp(-a))``."""
    e = ctx.node("Exp", [ctx.node("Neg", [a])])
    return ctx.node("Reciprocal", [ctx.node("Add", [e, ctx.constant(1.0, "one")])])


register_exporter(RNN)(_recurrent)
register_exporter(LSTM)(_recurrent)
register_exporter(GRU)(_recurrent)
