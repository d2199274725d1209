"""The training loop: ``fit``, ``evaluate``, ``predict`` and batching.

Written once for every model: each function takes any :class:`Layer` as the
model (``layernet.fit(model, ...)``), and :class:`~layernet.Model` (hence
Sequential) has them as methods. The loop imports no container, no concrete
optimizer and no concrete callback: a full-batch optimizer announces itself
by its capability class, and callbacks are reached through their hooks.
Everything is
checked once, up front: the arrays are converted to the model's dtype and
their shapes, lengths and values checked, the target is converted by the
loss's ``check_target`` for the whole set, and the metrics check it too. The
inner loop then does no checking::

    for each epoch:
        perm = rng.permutation(n); xe, ye = x[perm], y[perm]   # one gather per epoch
        for each contiguous slice xb, yb of batch_size rows:
            pred = model.forward(xb, training=True)
            value = loss.forward(pred, yb)                       # NaN/inf: stop, no step
            model.backward(loss.backward())                      # writes every .grad
            optimizer.step()

Streamed data (an iterable, or a callable returning a fresh iterable each
epoch, of ``(x_batch, y_batch)`` pairs) cannot be checked up front, so each
streamed batch is checked as it arrives.
"""

from __future__ import annotations

import copy
import math
import numbers
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeAlias

import numpy as np

from ._typing import ArrayLike, FloatArray
from ._validation import (
    RngLike,
    as_float_array,
    as_generator,
    check_bool,
    check_finite,
    check_positive_int,
    check_real,
)
from .callbacks import Callback, CallbackList, as_callback
from .history import History
from .layers.base import Layer, check_unique, check_values, min_training_batch
from .layers.spec import as_spec
from .losses import Loss
from .metrics import Metric, accumulate, get_metrics
from .optimizers import FullBatchOptimizer, Optimizer
from .schedules import LRSchedule

Pair: TypeAlias = tuple[Any, Any]
BatchStream: TypeAlias = "Iterable[Pair] | Callable[[], Iterable[Pair]]"
"""Streamed data: an iterable of ``(x_batch, y_batch)``, or a callable returning a fresh one."""

MetricLike: TypeAlias = "Metric | str"


# -- checking what fit and evaluate receive --------------------------------------------


def _check_components(model: Layer, loss: Loss, optimizer: Optimizer | None, where: str) -> None:
    if not isinstance(model, Layer):
        raise TypeError(f"{where}: model must be a Layer, got {type(model).__name__}")
    if not isinstance(loss, Loss):
        raise TypeError(
            f"{where}: loss must be a Loss instance such as MSELoss(), got {loss!r}"
            + ("; call the class" if isinstance(loss, type) else "")
        )
    if optimizer is None:
        return
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{where}: optimizer must be an Optimizer instance such as "
            f"SGD(model.parameters(), lr=0.1), got {optimizer!r}"
        )
    check_unique(model.named_children(), where)
    mine = {id(p) for p in model.parameters()}
    if not any(id(p) in mine for p in optimizer.params):
        raise ValueError(
            f"{where}: the optimizer updates none of this model's parameters; "
            f"build it on them: {type(optimizer).__name__}(model.parameters(), ...)"
        )


def _check_verbose(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in (0, 1, 2):
        raise ValueError(
            f"fit: verbose must be 0 (silent), 1 (progress) or 2 (one line per epoch), "
            f"got {value!r}"
        )
    return value


def _check_callbacks(callbacks: Iterable[Callback | LRSchedule]) -> list[Callback]:
    if isinstance(callbacks, (Callback, LRSchedule)):
        raise TypeError(f"fit: callbacks must be a list, got {callbacks!r}; wrap it in [ ]")
    return [as_callback(cb, i) for i, cb in enumerate(callbacks)]


def _length(y: object, where: str, what: str) -> int:
    try:
        return len(y)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"{where}: {what} must be an array with one row per sample, got {type(y).__name__}"
        ) from None


def _is_stream(x: object) -> bool:
    """Streamed batches rather than an array: a callable, or an iterable that is not array-like."""
    if callable(x):
        return True
    if isinstance(x, np.ndarray):
        return False
    if isinstance(x, (list, tuple)):
        return len(x) > 0 and all(isinstance(item, tuple) and len(item) == 2 for item in x)
    return isinstance(x, Iterable)


def _prepare_arrays(
    model: Layer,
    loss: Loss,
    metrics: Sequence[Metric],
    x: ArrayLike,
    y: ArrayLike | None,
    where: str,
    names: tuple[str, str] = ("x", "y"),
) -> tuple[FloatArray, np.ndarray[Any, Any]]:
    """Convert and check a whole data set once; return ``(x, target)`` ready for the loop."""
    x_name, y_name = names
    if y is None:
        raise ValueError(
            f"{where}: {y_name} is missing; pass targets, or pass {x_name} as an iterable of "
            f"(x_batch, y_batch) pairs (or a callable returning one) with {y_name}=None"
        )
    xa = model.convert_input(x)
    if xa.ndim == 0:
        raise ValueError(
            f"{where}: {x_name} must be an array with a batch axis, got a scalar; "
            f"pass an array of shape (samples, ...)"
        )
    if xa.shape[0] == 0:
        raise ValueError(f"{where}: {x_name} is empty (shape {xa.shape}); need at least one sample")
    n = xa.shape[0]
    n_y = _length(y, where, y_name)
    if n_y != n:
        raise ValueError(
            f"{where}: {x_name} and {y_name} have different lengths: {x_name} has {n} samples, "
            f"{y_name} has {n_y}; pass one target per sample"
        )
    try:
        model.check_input(xa.shape)
    except ValueError as exc:
        if xa.ndim == 1:  # inside fit, almost always one feature per sample
            spec = as_spec(model.input_spec)
            column = f"with one feature per sample use {x_name}.reshape(-1, 1)"
            row = f"if the whole array is a single sample, {x_name}.reshape(1, -1)"
            one_sample = spec is not None and spec.fits(xa.shape) and xa.shape != (1,)
            raise ValueError(
                f"{where}: {x_name} is 1-D (shape {xa.shape}) but the model expects input of "
                f"shape {spec or '(batch, features)'}: "
                + (f"{row}; {column}" if one_sample else f"{column}; {row}")
            ) from None
        raise ValueError(f"{where}: {x_name} does not fit the model: {exc}") from None
    check_finite(xa, f"{where}: {x_name}")
    model.check_input_values(xa)
    template = model.forward(xa[:1], training=False)
    pred_like = np.broadcast_to(template, (n, *template.shape[1:]))
    try:
        ya = np.asarray(loss.check_target(pred_like, y))
    except ValueError as exc:
        raise ValueError(
            f"{where}: {y_name} does not fit {loss!r} for the model's output of shape "
            f"{pred_like.shape}: {exc}"
        ) from None
    if ya.dtype.kind in "fc":
        check_finite(ya, f"{where}: {y_name}")
    for metric in metrics:
        try:
            metric.check_target(pred_like, ya)
        except ValueError as exc:
            raise ValueError(f"{where}: {y_name} cannot be scored: {exc}") from None
    return xa, ya


_GATHER_EPOCH_BYTES = 16 << 20
"""Data sets up to this size are permuted with one gather per epoch, then sliced (cheapest
per batch); larger ones gather each batch, so training never holds a second copy of them."""


Batch: TypeAlias = "tuple[FloatArray, Any, FloatArray | None]"
"""One batch as the loop sees it: inputs, raw targets, per-sample weights (None: unweighted)."""


def _gathered_batches(
    x: FloatArray,
    y: np.ndarray[Any, Any],
    w: FloatArray | None,
    perm: np.ndarray[Any, Any],
    batch_size: int,
    stop: int,
) -> Iterator[Batch]:
    for start in range(0, stop, batch_size):
        rows = perm[start : start + batch_size]
        wb = None if w is None else np.take(w, rows)
        yield np.take(x, rows, axis=0), np.take(y, rows, axis=0), wb


def _array_batches(
    x: FloatArray, y: np.ndarray[Any, Any], w: FloatArray | None, batch_size: int, stop: int
) -> Iterator[Batch]:
    for start in range(0, stop, batch_size):
        end = start + batch_size
        yield x[start:end], y[start:end], None if w is None else w[start:end]


class _Stream:
    """Streamed batches: fresh each epoch, each converted and checked as it arrives."""

    checked = False

    def __init__(
        self, source: Any, model: Layer, loss: Loss, metrics: Sequence[Metric], where: str
    ) -> None:
        self.source = source
        self.model, self.loss, self.metrics, self.where = model, loss, metrics, where
        self.samples: int | None = None
        self.steps: int | None = len(source) if hasattr(source, "__len__") else None

    def one_shot(self) -> bool:
        """Whether the source is an iterator that a second pass would find empty."""
        return not callable(self.source) and iter(self.source) is self.source

    def batches(self, epoch: int, gen: np.random.Generator | None = None) -> Iterator[Batch]:
        """The epoch's batches in the source's order (``gen`` is ignored: no shuffling)."""
        source = self.source() if callable(self.source) else self.source
        count = 0
        for item in source:
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise ValueError(
                    f"{self.where}: batch {count + 1} of epoch {epoch + 1} is "
                    f"{type(item).__name__}, expected an (x_batch, y_batch) pair"
                )
            what = f"{self.where}: batch {count + 1} of epoch {epoch + 1}"
            try:
                xb = self.model.convert_input(item[0])
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{what}: x_batch: {exc}") from None
            if xb.ndim == 0 or xb.shape[0] == 0:
                raise ValueError(f"{what}: x_batch is empty (shape {xb.shape})")
            n_y = _length(item[1], what, "y_batch")
            if n_y != xb.shape[0]:
                raise ValueError(f"{what}: x_batch has {xb.shape[0]} samples but y_batch has {n_y}")
            try:
                self.model.check_input(xb.shape)
            except ValueError as exc:
                raise ValueError(
                    f"{what}: x_batch of shape {xb.shape} does not fit: {exc}"
                ) from None
            check_finite(xb, f"{what}: x_batch")
            self.model.check_input_values(xb)
            count += 1
            yield xb, item[1], None
        if count == 0:
            raise ValueError(
                f"{self.where}: epoch {epoch + 1} got no batches. A generator is used up after "
                "one pass: pass a callable that returns a fresh iterable each epoch, "
                "e.g. fit(lambda: make_batches(), None, ...)"
            )

    def target(self, pred: FloatArray, y: Any, what: str) -> np.ndarray[Any, Any]:
        """Check one streamed target against its batch's prediction."""
        try:
            ya = np.asarray(self.loss.check_target(pred, y))
        except ValueError as exc:
            raise ValueError(
                f"{self.where}: {what}: y_batch does not fit {self.loss!r}: {exc}"
            ) from None
        if ya.dtype.kind in "fc":
            check_finite(ya, f"{self.where}: {what}: y_batch")
        for metric in self.metrics:
            try:
                metric.check_target(pred, ya)
            except ValueError as exc:
                raise ValueError(f"{self.where}: {what}: y_batch cannot be scored: {exc}") from None
        return ya


class _Arrays:
    """An in-memory data set, checked once: a fresh permutation per epoch, then slices.

    ``w`` holds the per-sample weights (None: unweighted); with ``drop_last``
    the rows after the last full batch are left out of each epoch.
    """

    checked = True

    def __init__(
        self,
        x: FloatArray,
        y: np.ndarray[Any, Any],
        batch_size: int,
        w: FloatArray | None = None,
        drop_last: bool = False,
    ) -> None:
        self.x, self.y, self.batch_size, self.w = x, y, batch_size, w
        self.drop_last = drop_last
        n = int(x.shape[0])
        self.samples: int | None = n
        self.steps: int | None = n // batch_size if drop_last else -(-n // batch_size)
        self.stop = n - n % batch_size if drop_last else n

    def batch_sizes(self) -> set[int]:
        """The sizes of the batches of an epoch."""
        n, size = int(self.x.shape[0]), self.batch_size
        sizes = {min(n, size)} if self.stop else set()
        if self.stop % size:
            sizes.add(self.stop % size)
        return sizes

    def batches(self, epoch: int, gen: np.random.Generator | None) -> Iterator[Batch]:
        """The epoch's batches; with ``gen``, in a fresh permutation gathered once."""
        x, y, w, size, stop = self.x, self.y, self.w, self.batch_size, self.stop
        if gen is None:
            return _array_batches(x, y, w, size, stop)
        perm = gen.permutation(x.shape[0])
        if x.nbytes + y.nbytes > _GATHER_EPOCH_BYTES:
            return _gathered_batches(x, y, w, perm, size, stop)
        wp = None if w is None else np.take(w, perm)
        return _array_batches(np.take(x, perm, axis=0), np.take(y, perm, axis=0), wp, size, stop)

    def target(self, pred: FloatArray, y: Any, what: str) -> np.ndarray[Any, Any]:
        """The target, already checked for the whole set."""
        return np.asarray(y)

    def skip(self, epochs: int, gen: np.random.Generator) -> None:
        """Draw the permutations of ``epochs`` epochs that a resumed run does not train."""
        for _ in range(epochs):
            gen.permutation(self.x.shape[0])


_Data: TypeAlias = "_Arrays | _Stream"


def _sample_weights(
    train: _Data,
    loss: Loss,
    sample_weight: ArrayLike | None,
    class_weight: Mapping[int, float] | None,
    where: str = "fit",
) -> FloatArray | None:
    """The per-sample weights of the training rows, ``sample_weight * class_weight[y]``.

    None when neither is given. Checked once: lengths, values, the classes of
    ``y`` against ``class_weight``'s keys, and that the loss can weight rows.
    """
    if sample_weight is None and class_weight is None:
        return None
    given = "sample_weight" if class_weight is None else "class_weight"
    if not isinstance(train, _Arrays):
        raise ValueError(
            f"{where}: {given} needs x and y as arrays; with streamed batches, weight the "
            "samples inside the loss instead"
        )
    if type(loss).sample_losses is Loss.sample_losses:
        raise ValueError(
            f"{where}: {given} needs a loss that splits its value by rows; {loss!r} does not "
            "implement Loss.sample_losses()"
        )
    n = int(train.x.shape[0])
    weights = np.ones(n)
    if sample_weight is not None:
        sw = as_float_array(sample_weight, np.dtype(np.float64), f"{where}: sample_weight")
        if sw.shape not in ((n,), (n, 1)):
            raise ValueError(
                f"{where}: sample_weight must hold one weight per sample, shape ({n},), "
                f"got shape {sw.shape}"
            )
        sw = sw.reshape(n)
        check_finite(sw, f"{where}: sample_weight")
        if (sw < 0).any():
            raise ValueError(
                f"{where}: sample_weight must be >= 0, got {sw[sw < 0][0]} "
                f"(sample {int(np.argmax(sw < 0))})"
            )
        weights *= sw
    if class_weight is not None:
        weights *= _class_weight_per_sample(class_weight, train.y, where)
    dtype = train.x.dtype if train.x.dtype.kind == "f" else np.dtype(np.float64)  # ids: float64
    return weights.astype(dtype, copy=False)


def _class_weight_per_sample(
    class_weight: Mapping[int, float], y: np.ndarray[Any, Any], where: str
) -> FloatArray:
    """``class_weight[c_i]`` for each sample's class ``c_i`` (Keras: one-hot rows by argmax)."""
    if not isinstance(class_weight, Mapping):
        raise TypeError(
            f"{where}: class_weight must be a dict mapping class index to weight, e.g. "
            f"{{0: 1.0, 1: 5.0}}, got {type(class_weight).__name__}"
        )
    table: dict[int, float] = {}
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Integral) or key < 0:
            raise ValueError(
                f"{where}: class_weight keys must be class indices (ints >= 0), got {key!r}"
            )
        table[int(key)] = check_real(value, f"class_weight[{key}]", where, low=0)
    labels = y.reshape(len(y), -1)
    if labels.shape[1] > 1:
        classes = np.argmax(labels, axis=1)
    else:
        values = labels[:, 0]
        if not np.array_equal(values, np.round(values)):
            bad = values[values != np.round(values)][0]
            raise ValueError(
                f"{where}: class_weight needs class labels in y, got the value {bad}; "
                "pass integer labels, 0/1 targets or one-hot rows"
            )
        classes = values.astype(np.intp)
    present = np.unique(classes)
    missing = [int(c) for c in present if int(c) not in table]
    if missing:
        raise ValueError(
            f"{where}: class_weight has no weight for class(es) {missing} found in y "
            f"(it has {sorted(table)}); give every class a weight"
        )
    lookup = np.zeros(int(present.max()) + 1)
    for c in present:
        lookup[c] = table[int(c)]
    result: FloatArray = lookup[classes]
    return result


def _check_batch_sizes(model: Layer, train: _Data, size: int) -> None:
    """Refuse, before the first epoch, a batch smaller than some layer accepts in training."""
    if not isinstance(train, _Arrays):
        return
    n = int(train.x.shape[0])
    if not train.stop:
        raise ValueError(
            f"fit: drop_last=True with batch_size={size} leaves no batch of the {n} training "
            f"samples; use a batch_size <= {n}"
        )
    need, layer = min_training_batch(model, tuple(train.x.shape[1:]))
    smallest = min(train.batch_sizes())
    if smallest < need:
        raise ValueError(
            f"fit: the last batch of each epoch would hold {smallest} sample(s) "
            f"({n} samples, batch_size={size}), but {layer!r} needs at least {need} rows per "
            "batch in training; pass drop_last=True, or a batch_size that leaves a larger "
            "last batch"
        )


def _make_data(
    model: Layer,
    loss: Loss,
    metrics: Sequence[Metric],
    x: Any,
    y: Any,
    batch_size: int,
    where: str,
    names: tuple[str, str] = ("x", "y"),
) -> _Data:
    if y is None and _is_stream(x):
        return _Stream(x, model, loss, metrics, where)
    xa, ya = _prepare_arrays(model, loss, metrics, x, y, where, names)
    return _Arrays(xa, ya, batch_size)


# -- the loop --------------------------------------------------------------------------


def _metric_logs(
    metrics: Sequence[Metric], stats: Sequence[FloatArray | None], prefix: str = ""
) -> dict[str, float]:
    return {
        prefix + m.name: (math.nan if s is None else m.result(s))
        for m, s in zip(metrics, stats, strict=True)
    }


def _logs(
    metrics: Sequence[Metric],
    total: float,
    rows: int,
    stats: list[FloatArray | None],
    prefix: str = "",
    peers: Optimizer | None = None,
) -> dict[str, float]:
    """The loss (``total / rows``) and metrics, over every process training with ``peers``.

    Each process's loss sum, rows and metric statistics travel in one
    :meth:`Optimizer.gather` and are merged in rank order.
    """
    mine = [s for s in stats if s is not None]
    if peers is not None and len(mine) == len(stats):
        shapes = [s.shape for s in mine]
        parts = peers.gather(np.concatenate([[total, rows], *(s.ravel() for s in mine)]))
        if len(parts) > 1:
            total, rows = sum(float(p[0]) for p in parts), sum(int(p[1]) for p in parts)
            stats = [None] * len(metrics)
            for part in parts:
                start = 2
                for i, (metric, shape) in enumerate(zip(metrics, shapes, strict=True)):
                    stop = start + math.prod(shape)
                    stats[i] = accumulate(metric, stats[i], part[start:stop].reshape(shape))
                    start = stop
    return {prefix + "loss": total / rows, **_metric_logs(metrics, stats, prefix)}


def _evaluate_data(
    model: Layer,
    loss: Loss,
    metrics: Sequence[Metric],
    data: _Data,
    prefix: str = "",
    peers: Optimizer | None = None,
) -> dict[str, float]:
    """Loss (the mean over rows) and metrics over a data set, in inference mode."""
    total, rows = 0.0, 0
    stats: list[FloatArray | None] = [None] * len(metrics)
    for b, (xb, yb_raw, wb) in enumerate(data.batches(0, None)):
        pred = model.forward(xb, training=False)
        yb = data.target(pred, yb_raw, f"batch {b + 1}")
        n = xb.shape[0]
        total += (loss.forward(pred, yb) if wb is None else loss.weighted_forward(pred, yb, wb)) * n
        rows += n
        for i, metric in enumerate(metrics):
            stats[i] = accumulate(metric, stats[i], metric.statistics(pred, yb))
    return _logs(metrics, total, rows, stats, prefix, peers)


def evaluate(
    model: Layer,
    x: Any,
    y: ArrayLike | None = None,
    *,
    loss: Loss,
    metrics: Iterable[MetricLike] = (),
    batch_size: int = 32,
    sample_weight: ArrayLike | None = None,
) -> dict[str, float]:
    """The loss and metrics of ``model`` on ``(x, y)``, in inference mode, in batches.

    Parameters
    ----------
    model : Layer
    x : array-like of shape (n, *input_shape), or streamed batches with ``y=None``
    y : array-like, the targets, or None when ``x`` streams ``(x_batch, y_batch)``
    loss : Loss
    metrics : list of Metric or str
    batch_size : int
        Rows per forward pass; the results do not depend on it (up to rounding).
    sample_weight : array-like of shape (n,), optional
        Weights the loss as ``fit``'s ``sample_weight`` does (Keras's
        meaning: ``sum_i w_i l_i`` over the sample count); the metrics stay
        unweighted. Arrays only.

    Returns
    -------
    dict
        ``"loss"`` (the mean over every sample) and each metric's name.
    """
    _check_components(model, loss, None, "evaluate")
    metric_list = get_metrics(metrics, loss.pred_kind)
    size = check_positive_int(batch_size, "batch_size", "evaluate")
    try:
        data = _make_data(model, loss, metric_list, x, y, size, "evaluate")
        weights = _sample_weights(data, loss, sample_weight, None, "evaluate")
        if isinstance(data, _Arrays) and weights is not None:
            data = _Arrays(data.x, data.y, size, weights)
        return _evaluate_data(model, loss, metric_list, data)
    finally:
        model.clear_cache()


def predict(model: Layer, x: ArrayLike, *, batch_size: int | None = None) -> FloatArray:
    """Outputs of ``model`` for ``x`` in inference mode, ``batch_size`` rows at a time.

    Parameters
    ----------
    model : Layer
    x : array-like of shape (n, *input_shape)
    batch_size : int, optional
        Rows per forward pass; all at once when omitted. Bounds the memory
        of the intermediate activations for large ``x``.

    Returns
    -------
    ndarray of shape (n, *output_shape), of the model's dtype

    Notes
    -----
    The model keeps nothing of ``x`` afterwards: the caches its layers fill
    for ``backward`` are cleared (:meth:`Layer.clear_cache`), so predicting
    on a large batch does not leave that batch's activations alive.
    """
    if _is_stream(x) and not isinstance(x, (list, tuple)):
        raise TypeError(
            f"predict: x must be an array of inputs, got {type(x).__name__}; predict takes "
            "arrays (for streamed batches, call predict on each batch)"
        )
    if not isinstance(model, Layer):
        raise TypeError(f"predict: model must be a Layer, got {type(model).__name__}")
    try:
        arr = model.convert_input(x)
    except (TypeError, ValueError):
        if not _is_stream(x):
            raise
        raise TypeError(  # a list of (x_batch, y_batch) pairs, as fit streams them
            f"predict: x must be an array of inputs, got a {type(x).__name__} of "
            "(x_batch, y_batch) pairs; predict takes arrays, not streamed batches: "
            "predict on each x_batch, or stack them with np.concatenate"
        ) from None
    model.check_input(arr.shape)
    check_values(model, arr)
    n = arr.shape[0]
    step = n if batch_size is None else check_positive_int(batch_size, "batch_size", "predict")
    try:
        if step >= n:
            return model.forward(arr, training=False)
        first = model.forward(arr[:step], training=False)
        out = np.empty((n, *first.shape[1:]), dtype=first.dtype)
        out[:step] = first
        for start in range(step, n, step):
            out[start : start + step] = model.forward(arr[start : start + step], training=False)
        return out
    finally:
        model.clear_cache()


def fit(
    model: Layer,
    x: Any,
    y: ArrayLike | None = None,
    *,
    loss: Loss,
    optimizer: Optimizer,
    epochs: int,
    batch_size: int | None = None,
    shuffle: bool | None = None,
    drop_last: bool = False,
    sample_weight: ArrayLike | None = None,
    class_weight: Mapping[int, float] | None = None,
    validation_data: Any = None,
    validation_split: float = 0.0,
    callbacks: Iterable[Callback | LRSchedule] = (),
    metrics: Iterable[MetricLike] = (),
    verbose: int = 1,
    rng: RngLike = None,
    initial_epoch: int = 0,
) -> History:
    """Train the model, Keras-style; returns the per-epoch :class:`~layernet.History`.

    Each epoch draws one permutation of the rows from ``rng``, gathers
    ``x`` and ``y`` in that order once, and steps through contiguous
    slices of ``batch_size`` rows: forward, ``loss.forward``,
    ``loss.backward``, backward, ``optimizer.step()``. Everything is
    checked once before the first epoch, not per batch.

    Parameters
    ----------
    model : Layer
        Any layer used as a model (``model.fit(...)`` on a
        :class:`~layernet.Model` such as Sequential calls this).
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
        ``SGD(model.parameters(), lr=0.1)``. With a full-batch optimizer
        (:class:`~layernet.LBFGS`) training is full-batch: each epoch is
        one iteration over the whole set, ``epochs`` caps the iterations,
        and training ends early when SciPy reports convergence.
    epochs : int
        The index of the last epoch plus one, >= 1 (Keras's meaning): the
        run trains epochs ``initial_epoch`` to ``epochs - 1``.
    batch_size : int, default 32
        Rows per step (the last batch may be smaller); >= 1. Arrays only:
        with streamed batches each ``(x_batch, y_batch)`` is one step, and
        passing ``batch_size`` is a ValueError.
    shuffle : bool, default True
        Draw a fresh permutation each epoch. Arrays only: a stream is read
        in its own order, and ``shuffle=True`` with one is a ValueError
        (shuffle inside the stream).
    drop_last : bool
        Leave out the rows after the last full batch of each epoch (which
        rows, with ``shuffle``, changes from epoch to epoch), as torch's
        ``DataLoader(drop_last=True)``; arrays only.
    sample_weight : array-like of shape (n,), optional
        A weight >= 0 per sample (Keras's meaning): each sample's loss is
        multiplied by its weight and the batch loss divided by the same
        count as the unweighted mean (Keras's ``"sum_over_batch_size"``,
        not the sum of the weights), so weights of 1 change nothing.
        Applies to the training loss only; validation loss and metrics are
        unweighted. Arrays only; the loss must implement
        :meth:`~layernet.Loss.sample_losses` (all of layernet's do).
    class_weight : dict of int to float, optional
        A weight >= 0 per class index, applied as a per-sample weight to
        each sample of that class (the class is the label, the 0/1 target,
        or the argmax of a one-hot row); every class in ``y`` needs a
        weight. With ``sample_weight`` too, the two multiply.
    validation_data : (x_val, y_val), or a callable returning batches
        Evaluated after every epoch, in inference mode; logged as
        ``"val_loss"`` and ``"val_<metric>"``.
    validation_split : float in [0, 1)
        Hold out this fraction of the rows for validation. Unlike Keras,
        which takes the *last* rows of ``x`` unshuffled (a trap with
        sorted data), layernet shuffles the rows with ``rng`` first and
        then holds out the last ``validation_split`` of them; the split is
        drawn once per call. Cannot be combined with ``validation_data``.
    callbacks : list of Callback or LRSchedule
        E.g. ``EarlyStopping``, ``ModelCheckpoint``, ``CSVLogger``; a
        learning-rate schedule (``StepLR(optimizer, 10)``...) is stepped
        once per epoch (:class:`~layernet.callbacks.ScheduleCallback`). A
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
        state is used. Arrays only: with a stream it is a ValueError.
    initial_epoch : int
        The epoch to start at (0-based), to resume a run: epochs are
        numbered from it in the History, the logs, ModelCheckpoint's
        ``{epoch}`` and CSVLogger's rows. ``rng`` is the run's generator
        as it was when epoch 0 began (the same int seed, or
        :attr:`TrainingState.rng <layernet.TrainingState>` from a
        checkpoint): fit first draws the validation split and the
        ``initial_epoch`` permutations the skipped epochs used, so epoch
        ``k`` sees the same order of rows whichever call runs it.
        Together with the optimizer state and the model's generators
        (Dropout's), which a ModelCheckpoint file carries, a run stopped
        after epoch ``k`` and resumed with ``initial_epoch=k`` ends with
        the same weights, bit for bit, as one that never stopped (see
        the saving guide).

    Returns
    -------
    History
        ``history.history["loss"]`` etc., one value per epoch.

    Notes
    -----
    Ctrl-C: the first press lets the current optimizer step finish, then
    fit stops, prints what happened, runs ``on_train_end`` and returns
    the History with ``interrupted=True``. The model holds the weights
    after that last completed step (part of an epoch may have been
    applied); the History holds only the epochs that completed, so a
    checkpoint written at the last epoch end is the place to resume from.
    A second press stops at once with KeyboardInterrupt; files that
    callbacks wrote (checkpoints, CSV rows) are never left half-written.
    When a callback stops training early, a line says which (verbose 1
    or 2) and ``history.stop_reason`` keeps it.

    Raises
    ------
    ValueError
        Before any training, for x and y of different lengths, an empty
        data set, NaN or inf in x or y, y of the wrong shape or domain for
        the loss, ``batch_size < 1``, ``validation_split`` outside [0, 1),
        or a layer instance used twice in the model.
    """
    _check_components(model, loss, optimizer, "fit")
    if optimizer is None:
        raise TypeError(
            "fit: optimizer must be an Optimizer instance such as "
            "SGD(model.parameters(), lr=0.1), got None"
        )
    shuffled = True if shuffle is None else check_bool(shuffle, "shuffle", "fit")
    drop_last = check_bool(drop_last, "drop_last", "fit")
    n_epochs = check_positive_int(epochs, "epochs", "fit")
    first = _check_initial_epoch(initial_epoch, n_epochs)
    size = 32 if batch_size is None else check_positive_int(batch_size, "batch_size", "fit")
    split = check_real(validation_split, "validation_split", "fit", low=0, high=1)
    level = _check_verbose(verbose)
    metric_list = get_metrics(metrics, loss.pred_kind)
    user_callbacks = _check_callbacks(callbacks)
    gen = as_generator(rng)
    start_rng = copy.deepcopy(gen)  # as epoch 0 found it: what a checkpoint keeps
    full_batch = isinstance(optimizer, FullBatchOptimizer)

    train = _make_data(model, loss, metric_list, x, y, size, "fit")
    if isinstance(train, _Stream):
        _refuse_for_streams(batch_size=batch_size, shuffle=shuffle, rng=rng)
    weights = _sample_weights(train, loss, sample_weight, class_weight)
    if drop_last and (full_batch or not isinstance(train, _Arrays)):
        raise ValueError(
            "fit: drop_last applies to mini-batches of x and y as arrays; "
            + (
                f"{type(optimizer).__name__} trains on every row at once"
                if full_batch
                else "a stream's batches are used as they come (leave out the short one there)"
            )
        )
    if isinstance(train, _Arrays):
        train = _Arrays(train.x, train.y, size, weights, drop_last)
    val: _Data | None = None
    if split:
        if validation_data is not None:
            raise ValueError("fit: pass validation_data or validation_split, not both")
        if not isinstance(train, _Arrays):
            raise ValueError(
                "fit: validation_split needs x and y as arrays; with streamed batches, pass "
                "validation_data instead"
            )
        train, val = _split(train, split, gen)
    elif validation_data is not None:
        val = _validation(model, loss, metric_list, validation_data, size)
    if isinstance(train, _Stream) and n_epochs > 1 and train.one_shot():
        raise ValueError(
            f"fit: x is a one-shot iterator (a generator, say): it would be used up after "
            f"epoch 1 and the other {n_epochs - 1} epochs would train on nothing. Pass a "
            "callable that returns a fresh iterable each epoch, e.g. "
            "fit(lambda: make_batches(), None, ...), or a list of batches"
        )
    if full_batch and not isinstance(train, _Arrays):
        raise ValueError(
            f"fit: {type(optimizer).__name__} is full-batch and needs x and y as arrays, "
            "not a stream"
        )
    _check_batch_sizes(model, train, size)

    keys = ["loss", *(m.name for m in metric_list)]
    if val is not None:
        keys += ["val_" + k for k in keys]
    better = {"loss": False, **{m.name: m.greater_is_better for m in metric_list}}
    better.update({"val_" + k: v for k, v in better.items()})
    params = {
        "epochs": n_epochs,
        "initial_epoch": first,
        "steps": 1 if full_batch else train.steps,
        "samples": train.samples,
        "batch_size": size if isinstance(train, _Arrays) else None,
        "metrics": keys,
        "greater_is_better": better,
    }
    cbs = CallbackList.for_fit(user_callbacks, verbose=level, primary=optimizer.is_primary)
    cbs.set_context(model, optimizer, params, start_rng=start_rng)
    run = _Run(model, loss, metric_list, cbs, History(params), optimizer)
    cbs.on_train_begin()
    with _deferred_interrupt(enabled=not full_batch) as interrupt:
        try:
            if isinstance(optimizer, FullBatchOptimizer) and isinstance(train, _Arrays):
                run.full_batch(optimizer, train, val, n_epochs, first)
            else:
                _stop_between_batches(train, interrupt)
                if shuffled and isinstance(train, _Arrays):
                    train.skip(first, gen)
                run.mini_batch(optimizer, train, val, n_epochs, gen if shuffled else None, first)
        except KeyboardInterrupt:
            if interrupt.requested > 1:  # pressed twice: stop at once
                raise
            run.interrupted(n_epochs)
        finally:
            model.clear_cache()
    history = run.history
    if not history.interrupted and cbs.stop_training:
        history.stop_reason = _stopped_by(cbs, history, n_epochs)
    if history.interrupted and not level:  # nothing else would say why fit returned
        print(history.stop_reason, file=sys.stderr)
    cbs.on_train_end({"stop_reason": history.stop_reason} if history.stop_reason else None)
    return history


def _check_initial_epoch(value: object, epochs: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
        raise ValueError(f"fit: initial_epoch must be an int >= 0, got {value!r}")
    if int(value) >= epochs:
        raise ValueError(
            f"fit: initial_epoch={value} leaves nothing to train with epochs={epochs}: as in "
            f"Keras, epochs is where training ends, not how many to add; to train 10 more "
            f"epochs after {value}, pass epochs={value + 10}, initial_epoch={value}"
        )
    return int(value)


def _refuse_for_streams(*, batch_size: object, shuffle: object, rng: object) -> None:
    """A stream sets its own batches and order: refuse arguments that would be ignored."""
    if batch_size is not None:
        raise ValueError(
            f"fit: batch_size={batch_size!r} has no effect when x streams (x_batch, y_batch) "
            "pairs: each pair is one step, of the size the stream gives; drop batch_size "
            "(or pass arrays to let fit batch them)"
        )
    if shuffle is True:
        raise ValueError(
            "fit: shuffle=True has no effect when x streams (x_batch, y_batch) pairs: they are "
            "read in the order the stream yields them; shuffle inside the stream"
        )
    if rng is not None:
        raise ValueError(
            "fit: rng has no effect when x streams (x_batch, y_batch) pairs: fit draws nothing "
            "for a stream (no shuffle, no validation split); seed the stream itself"
        )


def _stopped_by(cbs: CallbackList, history: History, epochs: int) -> str:
    """The printed line for a run a callback stopped before ``epochs``."""
    names = ", ".join(repr(cb) for cb in cbs.callbacks if cb.stop_training)
    last = history.epoch[-1] + 1 if history.epoch else history.params.get("initial_epoch", 0)
    return f"fit: stopped early by {names} after epoch {last}/{epochs}"


class _Interrupt:
    """Ctrl-C during fit: the first press asks the loop to stop between batches."""

    requested = 0

    def handler(self, signum: int, frame: object) -> None:
        self.requested += 1
        if self.requested > 1:
            raise KeyboardInterrupt


@contextmanager
def _deferred_interrupt(enabled: bool) -> Iterator[_Interrupt]:
    """While fit runs in the main thread, defer SIGINT to the next batch boundary.

    A KeyboardInterrupt raised by Python's default handler can land anywhere, in
    the middle of an optimizer step among others, leaving some parameters
    updated and others not. Instead, the first Ctrl-C only sets a flag; the loop
    raises KeyboardInterrupt when it fetches the next batch, after the current
    step is complete, and fit returns the History of the completed epochs. A
    second Ctrl-C raises at once. A handler the user installed is left alone.
    """
    interrupt = _Interrupt()
    install = (
        enabled
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    previous = signal.signal(signal.SIGINT, interrupt.handler) if install else None
    try:
        yield interrupt
    finally:
        if install:
            signal.signal(signal.SIGINT, previous)


def _stop_between_batches(data: _Data, interrupt: _Interrupt) -> None:
    """Make ``data.batches`` raise KeyboardInterrupt before a batch once Ctrl-C was pressed."""
    batches = data.batches

    def checked(epoch: int, gen: np.random.Generator | None) -> Iterator[Batch]:
        for item in batches(epoch, gen):
            if interrupt.requested:
                raise KeyboardInterrupt
            yield item

    data.batches = checked  # type: ignore[method-assign]


def _split(train: _Arrays, split: float, gen: np.random.Generator) -> tuple[_Arrays, _Arrays]:
    """Shuffle, then hold out the last ``split`` fraction of the shuffled rows."""
    x, y, n = train.x, train.y, train.x.shape[0]
    split_at = int(n * (1.0 - split))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"fit: validation_split={split} of {n} samples leaves "
            f"{'no training' if split_at == 0 else 'no validation'} samples; "
            "use more data or another split"
        )
    perm = gen.permutation(n)
    head, tail = perm[:split_at], perm[split_at:]
    w = None if train.w is None else train.w[head]  # validation is unweighted
    return (
        _Arrays(x[head], y[head], train.batch_size, w, train.drop_last),
        _Arrays(x[tail], y[tail], train.batch_size),
    )


def _validation(
    model: Layer, loss: Loss, metrics: Sequence[Metric], data: Any, batch_size: int
) -> _Data:
    if isinstance(data, tuple | list) and not _is_stream(data):
        if len(data) != 2:
            raise ValueError(
                f"fit: validation_data must be a pair (x_val, y_val), got {len(data)} items"
            )
        return _make_data(
            model, loss, metrics, data[0], data[1], batch_size, "fit", ("x_val", "y_val")
        )
    if callable(data) or _is_stream(data):
        stream = _Stream(data, model, loss, metrics, "fit: validation_data")
        if stream.one_shot():
            raise ValueError(
                "fit: validation_data is a one-shot iterator; validation runs every epoch, so "
                "pass a callable that returns a fresh iterable each time, or a list"
            )
        return stream
    raise TypeError(
        "fit: validation_data must be a pair (x_val, y_val), or a callable returning an "
        f"iterable of (x_batch, y_batch) pairs, got {type(data).__name__}"
    )


def _step(
    model: Layer, loss: Loss, x: FloatArray, y: np.ndarray[Any, Any], w: FloatArray | None
) -> float:
    """Forward, loss (sample-weighted when ``w`` is given) and backward; return the loss."""
    pred = model.forward(x, training=True)
    if w is None:
        value = loss.forward(pred, y)
        model.backward_parameters(loss.backward())
    else:
        value = loss.weighted_forward(pred, y, w)
        model.backward_parameters(loss.weighted_backward(w))
    return value


class _Run:
    """The state of one call of fit: what it trains, with what, and what it records."""

    def __init__(
        self,
        model: Layer,
        loss: Loss,
        metrics: Sequence[Metric],
        callbacks: CallbackList,
        history: History,
        optimizer: Optimizer,
    ) -> None:
        self.model, self.loss, self.metrics = model, loss, metrics
        self.callbacks, self.history, self.optimizer = callbacks, history, optimizer
        self.epoch = 0  # the epoch running, and the optimizer steps it has completed
        self.steps = 0

    def interrupted(self, epochs: int) -> None:
        """Ctrl-C stopped the run: mark the History and say what state the model is in."""
        history = self.history
        history.interrupted = True
        done = len(history.epoch)
        partial = (
            f"; {self.steps} step{'s' * (self.steps != 1)} of epoch {self.epoch + 1} were "
            "applied after it"
            if self.steps
            else ""
        )
        history.stop_reason = (
            f"fit: interrupted (Ctrl-C) during epoch {self.epoch + 1}/{epochs}. The History "
            f"holds the {done} completed epoch{'s' * (done != 1)}; the model holds the weights "
            f"after the last completed optimizer step{partial}"
        )

    def end_epoch(
        self, epoch: int, logs: dict[str, float], val: _Data | None, start: float
    ) -> bool:
        """Validate, run the epoch-end hooks, record; return whether any process stops."""
        if val is not None:
            logs.update(
                _evaluate_data(self.model, self.loss, self.metrics, val, "val_", self.optimizer)
            )
        seconds = time.perf_counter() - start
        self.callbacks.on_epoch_end(epoch, logs)
        self.history.record(epoch, logs, seconds)
        votes = self.optimizer.gather(np.array([self.callbacks.stop_training], dtype=np.float64))
        return any(vote[0] for vote in votes)

    # -- step-by-step optimizers: epochs of mini-batches ------------------------------

    def mini_batch(
        self,
        optimizer: Optimizer,
        train: _Data,
        val: _Data | None,
        epochs: int,
        gen: np.random.Generator | None,
        first: int = 0,
    ) -> None:
        for epoch in range(first, epochs):
            self.epoch, self.steps = epoch, 0
            start = time.perf_counter()
            self.callbacks.on_epoch_begin(epoch, {})
            logs = self._epoch(optimizer, train, epoch, gen)
            if logs is None or self.end_epoch(epoch, logs, val, start):
                break

    def _epoch(
        self, optimizer: Optimizer, data: _Data, epoch: int, gen: np.random.Generator | None
    ) -> dict[str, float] | None:
        """One pass over the data; None if training stopped inside it."""
        model, loss, metrics, callbacks = self.model, self.loss, self.metrics, self.callbacks
        hooks = bool(callbacks.batch_callbacks)
        checked = data.checked
        total, rows = 0.0, 0
        stats: list[FloatArray | None] = [None] * len(metrics)
        for b, (xb, yb_raw, wb) in enumerate(data.batches(epoch, gen)):
            n = xb.shape[0]
            if hooks:
                callbacks.on_batch_begin(b, {"batch": b, "size": n})
            pred = model.forward(xb, training=True)
            yb = (
                yb_raw
                if checked
                else data.target(pred, yb_raw, f"batch {b + 1} of epoch {epoch + 1}")
            )
            value = loss.forward(pred, yb) if wb is None else loss.weighted_forward(pred, yb, wb)
            shared = optimizer.global_loss(value, n)  # every process stops at the same batch
            if not math.isfinite(shared):
                callbacks.on_nonfinite_loss(epoch, b, shared)  # TerminateOnNaN raises or stops
                return None
            for i, metric in enumerate(metrics):
                stats[i] = accumulate(metric, stats[i], metric.statistics(pred, yb))
            model.backward_parameters(loss.backward() if wb is None else loss.weighted_backward(wb))
            optimizer.step()
            self.steps = b + 1
            total += value * n
            rows += n
            if hooks:
                callbacks.on_batch_end(b, {"batch": b, "size": n, "loss": value})
                if callbacks.stop_training:
                    return None
        return _logs(metrics, total, rows, stats, peers=optimizer)

    # -- LBFGS: each epoch is one iteration over the full set -------------------------

    def full_batch(
        self,
        optimizer: FullBatchOptimizer,
        train: _Arrays,
        val: _Data | None,
        epochs: int,
        first: int = 0,
    ) -> None:
        model, loss, callbacks = self.model, self.loss, self.callbacks
        x, y, w, size = train.x, train.y, train.w, train.batch_size
        n = x.shape[0]
        params = optimizer.params
        sums = [np.zeros_like(p.grad) for p in params] if n > size else []
        epoch, begun, start = first, False, time.perf_counter()
        last = optimizer.pack()

        def closure() -> float:
            nonlocal begun
            if not begun:
                begun = True
                self.epoch = epoch
                callbacks.on_epoch_begin(epoch, {})
            if not sums:  # the whole set in one pass
                return _step(model, loss, x, y, w)
            # L = sum_b (n_b / n) L_b, so dL/dp = sum_b (n_b / n) dL_b/dp
            total = 0.0
            for s in sums:
                s[...] = 0.0
            for first in range(0, n, size):
                rows = slice(first, first + size)
                wb = None if w is None else w[rows]
                weight = (min(n, first + size) - first) / n
                total += _step(model, loss, x[rows], y[rows], wb) * weight
                for s, p in zip(sums, params, strict=True):
                    s += weight * p.grad
            for s, p in zip(sums, params, strict=True):
                p.grad[...] = s
            return total

        def on_iteration(result: Any) -> None:
            nonlocal epoch, begun, start, last
            value = float(result.fun)
            if not math.isfinite(value):
                optimizer.unpack(last)
                callbacks.on_nonfinite_loss(epoch, 0, value)
                raise StopIteration
            last = np.array(result.x, copy=True)
            logs = {"loss": value}
            if self.metrics:
                scores = _evaluate_data(model, loss, self.metrics, train)
                logs.update((m.name, scores[m.name]) for m in self.metrics)
            stop = self.end_epoch(epoch, logs, val, start)
            epoch, begun, start = epoch + 1, False, time.perf_counter()
            if stop:
                raise StopIteration

        try:
            optimizer.minimize(closure, max_iter=epochs - first, callback=on_iteration)
        except KeyboardInterrupt:
            optimizer.unpack(last)  # the last completed iteration, not a line-search trial point
            raise
