"""Sequential: a stack of layers applied one after another, itself a Model."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, overload

import numpy as np

from ._typing import ArrayLike, FloatArray, Shape
from ._validation import format_shape, input_dtype
from .layers.base import Layer, check_unique, describe, parameter_dtype
from .layers.registry import register, to_spec
from .layers.spec import InputSpec, as_spec
from .model import Model


@register
class Sequential(Model):
    """A linear stack of layers; ``Sequential([Dense(2, 2), Sigmoid(), Dense(2, 1), Sigmoid()])``.

    A Sequential is a :class:`~layernet.Model` (so it has ``fit``,
    ``evaluate``, ``predict`` and ``summary``) and a :class:`Layer`: it
    nests, and gradient checks treat it like any other. Forward applies the
    layers in order; backward applies their backward passes in reverse (the
    chain rule, ``dL/dx = J_1^T ... J_n^T dL/dy``).

    Construction checks that every item is a Layer used nowhere else in the
    model, that all layers with parameters share one dtype, and that
    consecutive sizes agree wherever they are known (each layer's
    ``input_spec``), looking through shape-preserving layers such as
    activations. Its children are named ``"0"``, ``"1"``..., so parameters
    are ``"0.weight"``, as in torch.
    """

    layers: list[Layer]
    tree_attributes: ClassVar[tuple[str, ...] | None] = ()  # its children are named by position

    def __init__(self, layers: Iterable[Layer] = ()) -> None:
        if isinstance(layers, Layer):
            raise TypeError(
                "Sequential: expected a list of layers, got a single Layer; wrap it in [ ]"
            )
        if not isinstance(layers, Iterable) or isinstance(layers, str):
            raise TypeError(f"Sequential: expected a list of layers, got {type(layers).__name__}")
        self.layers = []
        self._first_cache: tuple[list[Layer], int, int | None, Layer | None] | None = None
        for layer in layers:
            self.add(layer)

    # -- building ------------------------------------------------------------------

    def add(self, layer: Layer) -> None:
        """Append ``layer``, checking its type, dtype, input size and that it is new here."""
        position = len(self.layers)
        if not isinstance(layer, Layer):
            got = (
                f"the class {layer.__name__}; call it: {layer.__name__}()"
                if isinstance(layer, type) and issubclass(layer, Layer)
                else type(layer).__name__
            )
            raise TypeError(f"Sequential: item at position {position} must be a Layer, got {got}")
        candidate = [*self.layers, layer]
        check_unique(((str(i), child) for i, child in enumerate(candidate)), "Sequential")
        _check_dtypes(candidate)
        for _ in _trace(candidate, None, check=True):
            pass
        self.layers.append(layer)

    @property
    def dtype(self) -> np.dtype[Any]:  # type: ignore[override]
        """The dtype of the layers that hold parameters (float64 if there are none)."""
        return parameter_dtype(self) or np.dtype(np.float64)

    # -- container protocol --------------------------------------------------------

    @overload
    def __getitem__(self, index: int) -> Layer: ...
    @overload
    def __getitem__(self, index: slice) -> Sequential: ...
    def __getitem__(self, index: int | slice) -> Layer | Sequential:
        if isinstance(index, slice):
            return Sequential(self.layers[index])
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(
                f"{self!r}: index must be an int or a slice, got {type(index).__name__}"
            )
        if not -len(self.layers) <= index < len(self.layers):
            raise IndexError(
                f"{self!r}: index {index} is out of range for {len(self.layers)} layers"
            )
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def named_children(self) -> Iterator[tuple[str, Layer]]:
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    # -- the maths -----------------------------------------------------------------

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def backward(self, grad_out: FloatArray) -> FloatArray:
        for layer in reversed(self.layers):
            grad_out = layer.backward(grad_out)
        return grad_out

    def backward_parameters(self, grad_out: FloatArray) -> None:
        """Backward through the layers that lead to a parameter, without ``dL/dx``.

        Layers before the first one with parameters are skipped, and that
        layer writes its parameters' gradients without its input gradient.
        """
        layers = self.layers
        first = self._first_with_parameters()
        if first is None:
            return
        for layer in layers[:first:-1]:
            grad_out = layer.backward(grad_out)
        layers[first].backward_parameters(grad_out)

    def _first_with_parameters(self) -> int | None:
        """Index of the first layer that holds parameters (cached while the stack is unchanged)."""
        cached = self._first_cache
        layers = self.layers
        if cached is not None and cached[0] is layers and cached[1] == len(layers):
            first = cached[2]
            if first is None or layers[first] is cached[3]:
                return first
        owners = (i for i, layer in enumerate(layers) if parameter_dtype(layer) is not None)
        first = next(owners, None)
        self._first_cache = (layers, len(layers), first, None if first is None else layers[first])
        return first

    # -- structure -----------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        return {"layers": [to_spec(layer) for layer in self.layers]}

    @property
    def input_spec(self) -> InputSpec | Shape | None:
        """The first declared spec, with the leading axes later layers need added.

        ``[LayerNorm(8), MultiHeadAttention(8, 2)]`` takes ``(batch, time, 8)``:
        LayerNorm alone would take ``(batch, ..., 8)``, but the attention
        needs the time axis, so the stack asks for at least that rank (what
        a Residual around it checks its shortcut against).
        """
        for layer in self.layers:
            if layer.input_spec is not None:
                return _widened_spec(self.layers, as_spec(layer.input_spec))
            if not layer.shape_preserving:
                return None
        return None

    def output_shape(self, input_shape: Shape | None) -> Shape | None:
        shape = input_shape
        for *_, shape_out in _trace(self.layers, input_shape):
            shape = shape_out
        return shape

    def child_shapes(
        self, input_shape: Shape | None
    ) -> Iterator[tuple[str, Layer, Shape | None, Shape | None]]:
        for i, layer, shape_in, shape_out in _trace(self.layers, input_shape):
            yield str(i), layer, shape_in, shape_out

    # -- public entry points -------------------------------------------------------

    def compute_dtype(self, x: ArrayLike) -> np.dtype[Any]:
        """The layers' parameters' dtype, or the input's if none hold parameters."""
        return parameter_dtype(self) or input_dtype(x)

    def takes_integers(self) -> bool:
        """Whether the first layer takes integer ids (an Embedding first)."""
        return bool(self.layers) and self.layers[0].takes_integers()

    def check_input_values(self, x: FloatArray, position: int | None = None) -> None:
        """The first layer checks the values it receives (the others see computed values)."""
        if self.layers:
            self.layers[0].check_input_values(x, 0)

    def check_input(self, shape: tuple[int, ...], position: int | None = None) -> None:
        """Check a batch shape against every layer in turn, naming the one that rejects it."""
        if not self.layers:
            raise ValueError("Sequential: the model has no layers; add some first")
        current = shape
        for i, layer in enumerate(self.layers):
            try:
                layer.check_input(current, i)
            except ValueError as exc:
                spec = as_spec(layer.input_spec)
                hint = None if i == 0 or spec is None else _flatten_hint(spec, current[1:])
                if hint is None:
                    raise
                raise ValueError(f"{exc}; {hint}") from None
            out = layer.output_shape(current[1:])
            if out is None or any(d is None for d in out):
                return
            current = (current[0], *(int(d) for d in out if d is not None))

    def __repr__(self) -> str:
        return f"Sequential({len(self.layers)} layers)"


def _check_dtypes(layers: list[Layer]) -> None:
    owners = [(i, layer) for i, layer in enumerate(layers) if parameter_dtype(layer) is not None]
    if owners:
        first_pos, first = owners[0]
        for pos, layer in owners[1:]:
            if layer.dtype != first.dtype:
                raise ValueError(
                    f"Sequential: {describe(layer, pos)} is {layer.dtype} but "
                    f"{describe(first, first_pos)} is {first.dtype}; build every layer with "
                    "the same dtype (nothing inside a model is silently cast)"
                )


def _fix_for(spec: InputSpec, shape: Shape) -> str:
    """How to make ``shape`` fit ``spec``: Flatten when it has axes to spare, else sizes."""
    return _flatten_hint(spec, shape) or "make the sizes agree"


def _flatten_hint(spec: InputSpec, shape: Shape) -> str | None:
    """Suggest Flatten for per-sample ``shape`` of rank >= 2 fed to a layer wanting features.

    Either the layer takes one axis only (``max_rank == 1``), or it reads the
    last axis (Dense on any rank) and the sample's sizes multiply to exactly
    its feature count: the features a convolution produced, not yet flattened.
    """
    if len(shape) < 2:
        return None
    known = [d for d in shape if d is not None]
    size = (
        str(int(np.prod(known)))
        if len(known) == len(shape)
        else " * ".join("?" if d is None else str(d) for d in shape)
    )
    features = dict(spec.axes).get(-1)
    one_axis = spec.max_rank is not None and len(shape) > spec.max_rank == 1
    flat_fits = features is not None and len(known) == len(shape) and int(size) == features
    flatten = f"insert Flatten() before it, which turns {format_shape(shape)} into (batch, {size})"
    if flat_fits:
        return flatten
    if one_axis:
        return f"{flatten}, and give the layer that many input features"
    if features is not None:  # it reads the last axis only: maybe Flatten was forgotten
        return (
            f"if it should see all of each sample's features (after a convolution, say), "
            f"{flatten} and give it that many input features"
        )
    return None


def _trace(
    layers: list[Layer], shape: Shape | None, *, check: bool = False
) -> Iterator[tuple[int, Layer, Shape | None, Shape | None]]:
    """Propagate a per-sample shape through the stack: each layer with its input and output.

    An unknown shape starts from the next layer's ``input_spec``. With
    ``check``, a layer whose spec rejects the shape it would receive is a
    ValueError naming it and the layer that produces that shape.

    A shape started from a spec of open rank (Dense, LayerNorm: ``(batch,
    ..., F)``) may be missing leading axes: the data may be sequences. While
    that holds, a layer that needs more axes gets them (of unknown size), and
    a layer whose output depends on them (Flatten) makes those sizes unknown.
    """
    producer = -1
    open_rank = False  # the shape came from an open-rank template: leading axes may be missing
    for i, layer in enumerate(layers):
        spec = as_spec(layer.input_spec)
        if open_rank and spec is not None and shape is not None and not spec.fits(shape):
            shape, open_rank = _widen(spec, shape), spec.max_rank is None
        if check and spec is not None and shape is not None and not spec.fits(shape):
            source = (
                f"{describe(layers[producer], producer)} produces {format_shape(shape)}"
                if producer >= 0
                else f"its input is {format_shape(shape)}"
            )
            raise ValueError(
                f"Sequential: {describe(layer, i)} expects input of shape "
                f"{spec}, but {source}; {_fix_for(spec, shape)}"
            )
        if shape is None and spec is not None:
            shape, open_rank = spec.template(), spec.max_rank is None
        shape_in = shape
        try:
            shape = layer.output_shape(shape_in)
        except ValueError:  # Reshape to another size: unless leading axes may make it fit
            if not (open_rank and shape_in is not None):
                raise
            shape = None
        if open_rank and shape_in is not None:
            wider = layer.output_shape((None, *shape_in))
            if wider is None:  # the layer cannot take a leading axis: there is none
                open_rank = False
            elif shape is None or wider != (None, *shape):  # the output depends on those axes
                shape, open_rank = wider, False
        if not layer.shape_preserving:
            producer = i
        yield i, layer, shape_in, shape


def _widened_spec(layers: list[Layer], spec: InputSpec | None) -> InputSpec | None:
    """``spec`` (of open rank) with the leading axes that later layers of the stack need."""
    if spec is None or spec.max_rank is not None or any(axis >= 0 for axis, _ in spec.axes):
        return spec
    extra = 0
    previous: Shape | None = spec.template()
    for *_, shape_in, shape_out in _trace(layers, None):
        if shape_in is not None and previous is not None and len(shape_in) > len(previous):
            extra += len(shape_in) - len(previous)
        previous = shape_out
    if not extra:
        return spec
    return InputSpec(min_rank=spec.min_rank + extra, axes=dict(spec.axes))


def _widen(spec: InputSpec, shape: Shape) -> Shape:
    """``shape`` with the fewest leading axes of unknown size that ``spec`` accepts (or as is).

    Only where ``spec`` asks no size of the added axes: ``Dense(3, 4)`` then
    ``Permute((2, 1))`` is a sequence model, but ``Dense(3, 4)`` then
    ``Conv1d(4, ...)`` reads 4 features as 4 channels, a mistake refused here.
    """
    for extra in range(1, 8):
        wider = (None,) * extra + tuple(shape)
        added = {axis for axis, _ in spec.axes if -len(wider) <= axis < len(wider)}
        added = {axis % len(wider) for axis in added}
        if spec.fits(wider) and not added & set(range(extra)):
            return wider
    return shape
