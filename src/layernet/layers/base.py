"""Layer: the abstract building block every model is made of."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np

from .._typing import ArrayLike, DTypeLike, FloatArray, Shape, as_float_dtype
from .._validation import as_float_array, as_index_array, check_finite, input_dtype
from ..parameter import Parameter
from .spec import InputSpec, as_spec

_L = TypeVar("_L", bound="Layer")


class Layer(ABC):
    """A differentiable map from a batch of inputs to a batch of outputs.

    Subclasses implement :meth:`forward` and :meth:`backward`; those are the
    fast path and do no checking. :meth:`__call__` is the public entry point:
    it converts the input to the layer's dtype once, checks its shape against
    :attr:`input_spec`, then runs :meth:`forward`.

    Attributes
    ----------
    dtype : numpy.dtype
        float64 (default) or float32; parameters and outputs keep it.
    shape_preserving : bool
        True for layers whose output has the input's shape (activations,
        dropout, normalization); containers look through them when they
        check that consecutive sizes agree.
    follows_input_dtype : bool
        True for parameter-free layers, which have no dtype of their own:
        float32 input stays float32 and anything else computes in float64.
    integer_input : bool
        True for layers whose input is integer ids (Embedding): the entry
        points keep such input as integers (never cast to float), refuse
        non-integers, and ask :meth:`check_input_values` for the range.
        Containers answer through :meth:`takes_integers`.
    """

    dtype: np.dtype[Any] = np.dtype(np.float64)
    shape_preserving: ClassVar[bool] = False
    follows_input_dtype: ClassVar[bool] = False
    integer_input: ClassVar[bool] = False
    _trainable: bool = True  # set per layer by the trainable setter

    # -- the maths -----------------------------------------------------------------

    @abstractmethod
    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        """Compute the output for a batch and cache what :meth:`backward` needs.

        Parameters
        ----------
        x : ndarray of shape (batch, *input_shape)
            Already of the layer's dtype; no checking happens here.
        training : bool
            True while fitting; only Dropout and BatchNorm read it.
        """

    @abstractmethod
    def backward(self, grad_out: FloatArray) -> FloatArray:
        """Given dL/d(output) of the last forward, return dL/dx.

        Overwrites (never accumulates) each parameter's ``grad`` with the
        gradient of the last batch. Raises RuntimeError before any forward.
        """

    def backward_parameters(self, grad_out: FloatArray) -> None:
        """Write every parameter's ``grad`` for ``dL/d(output)``, skipping ``dL/dx`` if possible.

        A training loop calls this on the model: nobody needs the gradient
        with respect to the data, and for a first Dense layer it is a whole
        matrix product. The default simply runs :meth:`backward`.
        """
        self.backward(grad_out)

    # -- structure -----------------------------------------------------------------

    tree_attributes: ClassVar[tuple[str, ...] | None] = None
    """The attributes that may hold this layer's Parameters and children, in order.

    ``None`` (the default) finds them by scanning every attribute of the
    instance. A class may declare them instead: on CPython 3.11 and 3.12,
    reading an instance's ``__dict__`` once makes every later attribute
    access on it slower (a few per cent of a small model's step), and the
    tree is walked whenever an optimizer is built or a cache cleared.
    layernet's own classes declare them and pass them on to their
    subclasses (a test compares each with a scan); a subclass defined
    anywhere else scans unless it declares its own.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "tree_attributes" not in vars(cls) and not cls.__module__.startswith("layernet."):
            cls.tree_attributes = None  # it may set attributes its parent did not declare

    def _tree_items(self) -> Iterable[tuple[str, Any]]:
        """``(name, value)`` for every attribute that may hold a Parameter or a child."""
        names = type(self).tree_attributes
        if names is None:
            return vars(self).items()
        return [(name, getattr(self, name)) for name in names]

    def named_children(self) -> Iterator[tuple[str, Layer]]:
        """Yield ``(name, layer)`` for the layers this one is built from (none by default).

        Found in the order the attributes were set: an attribute holding a
        Layer is a child under the attribute's name, and a list or tuple of
        Layers gives ``name.0``, ``name.1``... (torch's module paths). A
        container whose children are not attributes overrides this
        (Sequential names them ``0``, ``1``...). Everything generic
        (parameters, buffers, state dicts, caches, summaries) walks this tree.
        """
        for name, value in self._tree_items():
            if isinstance(value, Layer):
                yield name, value
            elif (
                isinstance(value, (list, tuple))
                and value
                and all(isinstance(v, Layer) for v in value)
            ):
                for i, child in enumerate(value):
                    yield f"{name}.{i}", child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Layer]]:
        """Yield ``(path, layer)`` for this layer (path ``prefix``) and every descendant."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    @property
    def trainable(self) -> bool:
        """Whether this layer trains (Keras's flag); set it to freeze or unfreeze.

        Setting it sets the same flag on every layer below this one and on
        all their parameters (:attr:`Parameter.trainable`): optimizers then
        leave those parameters as they are, ``summary`` counts them as
        non-trainable, and ``save``/``load`` and pickling keep the flags.
        As in torch (``requires_grad``), and unlike Keras, freezing changes
        no behaviour: a frozen BatchNorm still normalises with batch
        statistics and updates its running statistics while fitting.
        """
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(
                f"{self!r}: trainable must be a bool, got {type(value).__name__} {value!r}"
            )
        for _, layer in self.named_modules():
            layer._trainable = bool(value)
        for param in self.parameters():
            param.trainable = bool(value)

    def parameters(self) -> Iterator[Parameter]:
        """Yield the parameters, this layer's and its children's, frozen ones included."""
        for _, param in self.named_parameters():
            yield param

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted_name, parameter)`` pairs, e.g. ``("0.weight", p)``.

        A layer's own parameters are its :class:`Parameter` attributes, in
        the order they were set, except one whose ``use_<name>`` attribute is
        False (``Dense(..., bias=False)`` keeps an untrained ``bias``); then
        each child's, under the child's name.
        """
        for name, value in self._tree_items():
            if isinstance(value, Parameter) and getattr(self, "use_" + name, True):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child.named_parameters(f"{prefix}{name}.")

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, FloatArray]]:
        """Yield ``(dotted_name, array)`` for non-trainable state (running statistics).

        A layer with buffers yields them from :meth:`own_buffers`; children's
        follow under their names.
        """
        for name, buf in self.own_buffers():
            yield prefix + name, buf
        for name, child in self.named_children():
            yield from child.named_buffers(f"{prefix}{name}.")

    def own_buffers(self) -> Iterator[tuple[str, FloatArray]]:
        """This layer's own buffers, children excluded (none by default).

        Each is yielded under the name of the attribute that holds it:
        :meth:`astype` replaces it there.
        """
        return iter(())

    def state_dict(self) -> dict[str, FloatArray]:
        """Copies of every parameter and buffer, keyed by dotted name (``"0.weight"``)."""
        state = {name: param.value.copy() for name, param in self.named_parameters()}
        state.update((name, buf.copy()) for name, buf in self.named_buffers())
        return state

    def load_state_dict(self, state: Mapping[str, ArrayLike]) -> None:
        """Copy arrays into the parameters and buffers, in place.

        Every name must be present, none extra, and each array must have the
        target's shape and a float dtype that converts to the target's
        without rounding (float32 into a float64 model is exact; float64
        into a float32 model is refused: cast one side explicitly, e.g.
        ``model.astype(np.float64)``); nothing is copied unless all fit.

        Raises
        ------
        ValueError
            Naming the missing, unexpected or mis-shaped entries.
        """
        targets = {name: param.value for name, param in self.named_parameters()}
        targets.update(self.named_buffers())
        missing = sorted(set(targets) - set(state))
        extra = sorted(set(state) - set(targets))
        if missing or extra:
            raise ValueError(
                f"{self!r}: state dict does not match the model: "
                f"missing {missing or 'nothing'}, unexpected {extra or 'nothing'}"
            )
        arrays: dict[str, FloatArray] = {}
        for name, target in targets.items():
            array = np.asarray(state[name])
            if array.shape != target.shape:
                raise ValueError(
                    f"{self!r}: state dict entry {name!r} has shape {array.shape}, "
                    f"expected {target.shape}"
                )
            if array.dtype.kind != "f":
                raise ValueError(
                    f"{self!r}: state dict entry {name!r} has dtype {array.dtype}, "
                    f"expected {target.dtype}"
                )
            if not np.can_cast(array.dtype, target.dtype, "safe"):
                raise ValueError(
                    f"{self!r}: state dict entry {name!r} is {array.dtype} but the model is "
                    f"{target.dtype}; loading would round every value (tiny ones to 0). "
                    f"Cast the model first (model.astype(np.{array.dtype})), or cast the "
                    f"state yourself if rounding is meant: "
                    f"{{k: v.astype(np.{target.dtype}) for k, v in state.items()}}"
                )
            arrays[name] = array
        for name, target in targets.items():
            target[...] = arrays[name]

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this layer (for save/load)."""
        return {}

    def astype(self: _L, dtype: DTypeLike) -> _L:
        """Cast the whole model to ``dtype`` in place and return it: ``model.astype(np.float32)``.

        Walks the tree: every layer's parameters (values, and gradients as
        zeros), its buffers (BatchNorm's running statistics) and its
        ``dtype``, so that saving, ``summary`` and new layers' checks see the
        new dtype; what ``forward`` cached is dropped. Parameters keep their
        identity (only their arrays are replaced), but an optimizer built
        before the cast holds state in the old dtype: build the optimizer
        after casting. Parameter-free layers follow their input's dtype and
        need no cast. Casting to the dtype the model has changes nothing.

        Parameters
        ----------
        dtype : np.float64 or np.float32

        Returns
        -------
        Layer
            ``self``, so that ``model = Sequential([...]).astype(np.float32)`` reads.
        """
        target = as_float_dtype(dtype)
        self.clear_cache()
        for _, layer in self.named_modules():
            for _, value in layer._tree_items():  # switched-off ones (bias=False) too
                if isinstance(value, Parameter) and value.value.dtype != target:
                    value.value = value.value.astype(target)
                    value.grad = np.zeros_like(value.value)
            for name, buf in list(layer.own_buffers()):
                if buf.dtype != target:
                    setattr(layer, name, buf.astype(target))
            cls = type(layer)
            if not cls.follows_input_dtype and not isinstance(cls.dtype, property):
                layer.dtype = target
        return self

    # -- caches: what forward keeps for backward -------------------------------------

    cache_attributes: ClassVar[tuple[str, ...]] = ()
    """Attributes that ``forward`` fills for ``backward`` (None when empty)."""

    def clear_cache(self) -> None:
        """Drop what the last ``forward`` kept for ``backward``, here and in every child.

        ``predict`` calls it when it is done, so a model keeps nothing of a
        large batch but its parameters and buffers; ``backward`` then raises
        until the next ``forward``.
        """
        for _, layer in self.named_modules():
            for name in type(layer).cache_attributes:
                setattr(layer, name, None)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the caches: a model pickles to about its parameters' size."""
        state = dict(vars(self))
        for name in type(self).cache_attributes:
            state[name] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle attribute by attribute, never through ``__dict__`` (:attr:`tree_attributes`)."""
        for name, value in state.items():
            object.__setattr__(self, name, value)

    # -- shapes ----------------------------------------------------------------------

    @property
    def input_spec(self) -> InputSpec | Shape | None:
        """What per-sample input shapes this layer accepts; ``None`` if any shape goes.

        The one declaration that both :meth:`__call__` and containers (at
        construction) check sizes against: an :class:`InputSpec`, or a plain
        per-sample shape such as ``(3,)`` for exactly that (``None`` entries
        take any size).
        """
        return None

    def output_shape(self, input_shape: Shape | None) -> Shape | None:
        """The per-sample output shape for a per-sample input shape (``None``: unknown)."""
        return input_shape if self.shape_preserving else None

    def min_training_batch(self, input_shape: Shape | None) -> int:
        """The fewest rows a training-mode forward of this layer accepts (1 by default).

        ``input_shape`` is the per-sample input shape (``None`` or ``None``
        entries where unknown). A layer that computes batch statistics
        (BatchNorm) needs more than one value per channel; ``fit`` walks the
        model with :func:`min_training_batch` and refuses, before the first
        epoch, a batch size that would leave a smaller batch.
        """
        return 1

    def child_shapes(
        self, input_shape: Shape | None
    ) -> Iterator[tuple[str, Layer, Shape | None, Shape | None]]:
        """Each child with its per-sample input and output shapes, given this layer's input.

        What ``summary`` shows for a container's rows. A container that
        knows how shapes flow through it (Sequential chains them) overrides
        this; by default every child's shapes are unknown.
        """
        for name, child in self.named_children():
            yield name, child, None, None

    # -- the public entry point ----------------------------------------------------

    def __call__(self, x: ArrayLike, *, training: bool = False) -> FloatArray:
        """Convert ``x`` to the layer's dtype, check its shape, run :meth:`forward`."""
        arr = self.convert_input(x)
        self.check_input(arr.shape)
        check_values(self, arr)
        return self.forward(arr, training=training)

    def convert_input(self, x: ArrayLike) -> FloatArray:
        """Convert user input to this layer's dtype (TypeError/ValueError if not real numbers).

        A layer that :meth:`takes_integers` gets integer ids instead.
        """
        if self.takes_integers():
            return as_index_array(x, f"{self!r} input")
        return as_float_array(x, self.compute_dtype(x), f"{self!r} input")

    def compute_dtype(self, x: ArrayLike) -> np.dtype[Any]:
        """The dtype this layer computes in for the input ``x``.

        Its own :attr:`dtype`, or for a layer that :attr:`follows_input_dtype`
        the input's (float32 stays float32, anything else is float64).
        """
        return input_dtype(x) if self.follows_input_dtype else self.dtype

    def takes_integers(self) -> bool:
        """Whether this layer's input is integer ids (its class's :attr:`integer_input`).

        A container answers for the child that sees its input first; every
        entry point (``__call__``, ``fit``, ``evaluate``, ``predict``) reads
        this to decide how to convert the input.
        """
        return type(self).integer_input

    def check_input_values(self, x: FloatArray, position: int | None = None) -> None:
        """Raise a ValueError for input values this layer cannot take (ids out of range).

        Called once per public call after the shape check, like the
        finiteness check; nothing by default. A container passes the call to
        the children that see its input.
        """
        return

    def check_input(self, shape: tuple[int, ...], position: int | None = None) -> None:
        """Raise a ValueError if a batch of ``shape`` does not fit :attr:`input_spec`."""
        check_spec(self, shape, position)

    def _not_run_yet(self) -> RuntimeError:
        return RuntimeError(f"{self!r}: backward() called before forward(); run forward first")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def describe(layer: Layer, position: int | None) -> str:
    """``Dense(3 -> 4) at position 2``: how error messages name a layer."""
    return repr(layer) if position is None else f"{layer!r} at position {position}"


def check_values(layer: Layer, x: FloatArray, position: int | None = None) -> None:
    """Reject an empty batch and NaN or inf in a batch that a public entry point received.

    Called once per public call, after the shape check; ``forward`` never checks.
    """
    if x.ndim and x.shape[0] == 0:
        raise ValueError(
            f"{describe(layer, position)}: got an empty batch (input of shape {x.shape}); "
            "pass at least one sample"
        )
    check_finite(x, f"{describe(layer, position)} input")
    layer.check_input_values(x, position)


def check_spec(layer: Layer, shape: tuple[int, ...], position: int | None = None) -> None:
    """Check a whole batch shape (batch axis first) against ``layer.input_spec``."""
    if len(shape) == 0:
        raise ValueError(
            f"{describe(layer, position)}: expected a batch of inputs, got a scalar; "
            "wrap it as np.array([[value]])"
        )
    spec = as_spec(layer.input_spec)
    if spec is None or spec.fits(shape[1:]):
        return
    message = f"{describe(layer, position)}: expected input of shape {spec}, got {shape}"
    channels = dict(spec.axes).get(0)
    if (
        channels == 1
        and spec.min_rank >= 2
        and len(shape) == spec.min_rank
        and spec.fits((1, *shape[1:]))
    ):
        # (n, length) for a one-channel conv: the channel axis is missing, not the batch axis
        message += (
            "; the channel axis is missing (channels come first, after the batch axis): "
            f"use x[:, None] to make it {(shape[0], 1, *shape[1:])}"
            + (", i.e. x[:, None, :] for (n, length) data" if len(shape) == 2 else "")
        )
    elif spec.fits(shape) or len(shape) == spec.min_rank:  # one axis short: a lone sample?
        message += "; a single sample must still carry the batch axis: " + (
            "reshape it with x.reshape(1, -1) (or x.reshape(-1, 1) if it holds one feature "
            "per sample)"
            if len(shape) == 1
            else "use x[np.newaxis] (or x.reshape(1, *x.shape))"
        )
    raise ValueError(message)


def min_training_batch(layer: Layer, input_shape: Shape | None) -> tuple[int, Layer]:
    """The most rows any layer of ``layer``'s tree needs per training batch, and that layer.

    Walks the tree through :meth:`Layer.child_shapes`, so each child is asked
    with the input shape it gets where the container knows it (``None``
    otherwise, and the layer then answers for the worst case).
    """
    need, who = layer.min_training_batch(input_shape), layer
    for _, child, child_in, _ in layer.child_shapes(input_shape):
        child_need, child_who = min_training_batch(child, child_in)
        if child_need > need:
            need, who = child_need, child_who
    return need, who


def check_unique(children: Iterable[tuple[str, Layer]], owner: str) -> None:
    """Refuse a layer instance that appears twice among ``children`` and their descendants.

    A layer keeps the cache of one forward pass for its backward, and its
    gradients are overwritten, not accumulated, so a second use would train
    with silently wrong gradients.
    """
    seen: dict[int, str] = {}
    for name, child in children:
        for path, layer in child.named_modules(name):
            first = seen.setdefault(id(layer), path)
            if first != path:
                raise ValueError(
                    f"{owner}: the same {layer!r} instance is used twice in the model, at "
                    f"{first!r} and at {path!r}; a layer instance can appear once in a model "
                    "(it keeps one forward pass for backward, so sharing would train with "
                    "wrong gradients). Build a second layer for the second place, e.g. "
                    "type(layer)(**layer.get_config())"
                )


def parameter_dtype(layer: Layer) -> np.dtype[Any] | None:
    """The dtype of ``layer``'s first parameter (a container's: its first child's), or None."""
    for param in layer.parameters():
        return param.dtype
    return None
