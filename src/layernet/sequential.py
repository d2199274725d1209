"""Sequential: a stack of layers applied one after another, itself a Layer."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator
from typing import Any, overload

import numpy as np

from . import training
from ._typing import ArrayLike, FloatArray, Shape
from ._validation import RngLike, as_float_array, check_positive_int, format_shape
from .callbacks import Callback
from .layers.base import Layer, check_values, describe
from .layers.spec import InputSpec, as_spec
from .losses import Loss
from .metrics import Metric
from .optimizers import Optimizer
from .parameter import Parameter
from .training import History


class Sequential(Layer):
    """A linear stack of layers; ``Sequential([Dense(2, 2), Sigmoid(), Dense(2, 1), Sigmoid()])``.

    A Sequential is a :class:`Layer`: it nests, and gradient checks treat it
    like any other. Forward applies the layers in order; backward applies
    their backward passes in reverse (the chain rule,
    ``dL/dx = J_1^T ... J_n^T dL/dy``).

    Construction checks that every item is a Layer, that all layers with
    parameters share one dtype, and that consecutive sizes agree wherever
    they are known, looking through shape-preserving layers such as
    activations.
    """

    layers: list[Layer]

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
            self._append(layer)

    # -- building ------------------------------------------------------------------

    def add(self, layer: Layer) -> None:
        """Append ``layer``, checking its type, dtype and input size against the stack.

        The model's parameters are then packed into one contiguous buffer per
        dtype (their values kept), so optimizers can update the whole model at
        once; build the optimizer after the last ``add``.
        """
        self._append(layer)

    def _append(self, layer: Layer) -> None:
        position = len(self.layers)
        if not isinstance(layer, Layer):
            got = (
                f"the class {layer.__name__}; call it: {layer.__name__}()"
                if isinstance(layer, type) and issubclass(layer, Layer)
                else type(layer).__name__
            )
            raise TypeError(f"Sequential: item at position {position} must be a Layer, got {got}")
        candidate = [*self.layers, layer]
        _check_dtypes(candidate)
        _check_sizes(candidate)
        self.layers.append(layer)

    @property
    def dtype(self) -> np.dtype[Any]:  # type: ignore[override]
        """The dtype of the layers that hold parameters (float64 if there are none)."""
        for layer in self.layers:
            if _has_parameters(layer):
                return layer.dtype
        return np.dtype(np.float64)

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
        first = next((i for i, layer in enumerate(layers) if _has_parameters(layer)), None)
        self._first_cache = (layers, len(layers), first, None if first is None else layers[first])
        return first

    # -- structure -----------------------------------------------------------------

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for i, layer in enumerate(self.layers):
            yield from layer.named_parameters(f"{prefix}{i}.")

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, FloatArray]]:
        for i, layer in enumerate(self.layers):
            yield from layer.named_buffers(f"{prefix}{i}.")

    def get_config(self) -> dict[str, Any]:
        return {
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            ]
        }

    @property
    def input_spec(self) -> InputSpec | Shape | None:
        for layer in self.layers:
            if layer.input_spec is not None:
                return layer.input_spec
            if not layer.shape_preserving:
                return None
        return None

    def output_shape(self, input_shape: Shape | None) -> Shape | None:
        shape = input_shape
        for layer in self.layers:
            shape = layer.output_shape(shape if shape is not None else _template(layer))
        return shape

    # -- public entry points -------------------------------------------------------

    def convert_input(self, x: ArrayLike) -> FloatArray:
        return as_float_array(x, self.dtype, f"{self!r} input")

    def check_input(self, shape: tuple[int, ...], position: int | None = None) -> None:
        """Check a batch shape against every layer in turn, naming the one that rejects it."""
        if not self.layers:
            raise ValueError("Sequential: the model has no layers; add some first")
        current = shape
        for i, layer in enumerate(self.layers):
            layer.check_input(current, i)
            out = layer.output_shape(current[1:])
            if out is None or any(d is None for d in out):
                return
            current = (current[0], *(int(d) for d in out if d is not None))

    def predict(self, x: ArrayLike, *, batch_size: int | None = None) -> FloatArray:
        """Outputs for ``x`` in inference mode, ``batch_size`` rows at a time.

        Parameters
        ----------
        x : array-like of shape (n, *input_shape)
        batch_size : int, optional
            Rows per forward pass; all at once when omitted. Bounds the memory
            of the intermediate activations for large ``x``.

        Returns
        -------
        ndarray of shape (n, *output_shape), of the model's dtype
        """
        arr = self.convert_input(x)
        self.check_input(arr.shape)
        check_values(self, arr)
        n = arr.shape[0]
        step = n if batch_size is None else check_positive_int(batch_size, "batch_size", "predict")
        if step >= n:
            return self.forward(arr, training=False)
        first = self.forward(arr[:step], training=False)
        out = np.empty((n, *first.shape[1:]), dtype=first.dtype)
        out[:step] = first
        for start in range(step, n, step):
            out[start : start + step] = self.forward(arr[start : start + step], training=False)
        return out

    def fit(
        self,
        x: Any,
        y: ArrayLike | None = None,
        *,
        loss: Loss,
        optimizer: Optimizer,
        epochs: int,
        batch_size: int = 32,
        shuffle: bool = True,
        validation_data: Any = None,
        validation_split: float = 0.0,
        callbacks: Iterable[Callback] = (),
        metrics: Iterable[Metric | str] = (),
        verbose: int = 1,
        rng: RngLike = None,
    ) -> History:
        """Train the model, Keras-style; returns the per-epoch :class:`~layernet.History`.

        Each epoch draws one permutation of the rows from ``rng``, gathers
        ``x`` and ``y`` in that order once, and steps through contiguous
        slices of ``batch_size`` rows: forward, ``loss.forward``,
        ``loss.backward``, backward, ``optimizer.step()``. Everything is
        checked once before the first epoch, not per batch.

        Parameters
        ----------
        x : array-like of shape (n, *input_shape), or streamed batches
            With ``y=None``, an iterable of ``(x_batch, y_batch)`` pairs, or
            a callable returning a fresh such iterable each epoch (needed
            for a generator when ``epochs > 1``; a one-shot iterator with
            more than one epoch is a ValueError). Streams are read in their
            own order (no shuffling) and each batch is checked as it arrives;
            a ``numpy.memmap`` sliced by a generator streams from disk.
        y : array-like of shape (n, ...), or None when ``x`` streams
            Targets in the form the loss takes (``loss.check_target``).
        loss : Loss
            An instance, e.g. ``MSELoss()``.
        optimizer : Optimizer
            An instance built on this model's parameters, e.g.
            ``SGD(model.parameters(), lr=0.1)``. With :class:`~layernet.LBFGS`
            training is full-batch: each epoch is one L-BFGS iteration over
            the whole set, ``epochs`` caps the iterations, and training ends
            early when SciPy reports convergence.
        epochs : int
            Passes over the data, >= 1.
        batch_size : int
            Rows per step (the last batch may be smaller); >= 1.
        shuffle : bool
            Draw a fresh permutation each epoch (arrays only).
        validation_data : (x_val, y_val), or a callable returning batches
            Evaluated after every epoch, in inference mode; logged as
            ``"val_loss"`` and ``"val_<metric>"``.
        validation_split : float in [0, 1)
            Hold out this fraction of the rows for validation. Unlike Keras,
            which takes the *last* rows of ``x`` unshuffled (a trap with
            sorted data), layernet shuffles the rows with ``rng`` first and
            then holds out the last ``validation_split`` of them; the split is
            drawn once per call. Cannot be combined with ``validation_data``.
        callbacks : list of Callback
            E.g. ``EarlyStopping``, ``ModelCheckpoint``, ``CSVLogger``. A
            ``TerminateOnNaN()`` is added unless one is given: a NaN or
            infinite batch loss raises a RuntimeError naming the epoch and
            batch, before that batch's step is applied.
        metrics : list of Metric or str
            ``"accuracy"``, ``"mse"``, ``"mae"``, ``"r2"`` or Metric
            instances; computed on each batch's predictions as it trains.
        verbose : {0, 1, 2}
            0: silent. 1: a line per epoch (loss, metrics, time) and, on a
            terminal, a live progress bar within long epochs. 2: the lines only.
        rng : numpy.random.Generator, int or None
            The source of the shuffles and the validation split; the same
            seed gives bit-identical weights and History. No global random
            state is used.

        Returns
        -------
        History
            ``history.history["loss"]`` etc., one value per epoch.

        Raises
        ------
        ValueError
            Before any training, for x and y of different lengths, an empty
            data set, NaN or inf in x or y, y of the wrong shape or domain for
            the loss, ``batch_size < 1``, ``validation_split`` outside [0, 1).
        """
        return training.fit(
            self,
            x,
            y,
            loss=loss,
            optimizer=optimizer,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=shuffle,
            validation_data=validation_data,
            validation_split=validation_split,
            callbacks=callbacks,
            metrics=metrics,
            verbose=verbose,
            rng=rng,
        )

    def evaluate(
        self,
        x: Any,
        y: ArrayLike | None = None,
        *,
        loss: Loss,
        metrics: Iterable[Metric | str] = (),
        batch_size: int = 32,
    ) -> dict[str, float]:
        """The loss and metrics on ``(x, y)`` in inference mode, ``batch_size`` rows at a time.

        Parameters
        ----------
        x : array-like of shape (n, *input_shape), or streamed batches with ``y=None``
        y : array-like, or None when ``x`` streams ``(x_batch, y_batch)`` pairs
        loss : Loss
        metrics : list of Metric or str
        batch_size : int
            Bounds memory; metrics accumulate sums and counts, so the result
            does not depend on it (up to rounding).

        Returns
        -------
        dict
            ``{"loss": ..., "<metric>": ...}``.
        """
        return training.evaluate(self, x, y, loss=loss, metrics=metrics, batch_size=batch_size)

    def summary(self, *, print_summary: bool = False) -> str:
        """A table of each layer's output shape and parameter count, with totals.

        Works before the model has seen any data; sizes not yet known show
        as ``?``. Returns the table (and prints it when ``print_summary``).
        """
        rows = [("#", "Layer", "Output shape", "Params")]
        shape: Shape | None = None
        for i, layer in enumerate(self.layers):
            shape = layer.output_shape(shape if shape is not None else _template(layer))
            count = sum(p.size for p in layer.parameters())
            rows.append(
                (str(i), repr(layer), "?" if shape is None else format_shape(shape), f"{count:,}")
            )
        widths = [max(len(row[c]) for row in rows) for c in range(4)]
        rule = "-" * (sum(widths) + 6)

        def line(row: tuple[str, str, str, str]) -> str:
            return "  ".join(
                cell.rjust(w) if c in (0, 3) else cell.ljust(w)
                for c, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()

        total = sum(p.size for p in self.parameters())
        text = "\n".join(
            [
                rule,
                line(rows[0]),
                rule,
                *(line(r) for r in rows[1:]),
                rule,
                f"Total parameters: {total:,} ({self.dtype.name})",
                rule,
            ]
        )
        if print_summary:
            print(text)
        return text

    def __repr__(self) -> str:
        return f"Sequential({len(self.layers)} layers)"


def _has_parameters(layer: Layer) -> bool:
    return next(iter(layer.parameters()), None) is not None


def _check_dtypes(layers: list[Layer]) -> None:
    owners = [(i, layer) for i, layer in enumerate(layers) if _has_parameters(layer)]
    if owners:
        first_pos, first = owners[0]
        for pos, layer in owners[1:]:
            if layer.dtype != first.dtype:
                raise ValueError(
                    f"Sequential: {describe(layer, pos)} is {layer.dtype} but "
                    f"{describe(first, first_pos)} is {first.dtype}; build every layer with "
                    "the same dtype (nothing inside a model is silently cast)"
                )


def _check_sizes(layers: list[Layer]) -> None:
    """Propagate known shapes through the stack and reject a mismatch between neighbours."""
    shape: Shape | None = None
    producer = -1
    for i, layer in enumerate(layers):
        spec = as_spec(layer.input_spec)
        if spec is not None and shape is not None and not spec.fits(shape):
            source = (
                f"{describe(layers[producer], producer)} produces {format_shape(shape)}"
                if producer >= 0
                else f"its input is {format_shape(shape)}"
            )
            raise ValueError(
                f"Sequential: {describe(layer, i)} expects input of shape "
                f"{spec}, but {source}; make the sizes agree"
            )
        shape = layer.output_shape(shape if shape is not None else _template(layer))
        if not layer.shape_preserving:
            producer = i


def _template(layer: Layer) -> Shape | None:
    spec = as_spec(layer.input_spec)
    return None if spec is None else spec.template()
