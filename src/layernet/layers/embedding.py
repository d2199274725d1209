"""Embedding: a lookup table from integer ids to learned vectors, ``y = W[ids]``."""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np

from .._typing import DTypeLike, FloatArray, Shape, as_float_dtype
from .._validation import RngLike, as_generator, check_positive_int
from ..parameter import Parameter
from .base import Layer, describe
from .registry import register
from .spec import InputSpec


@register
class Embedding(Layer):
    """A table of ``num_embeddings`` learned vectors looked up by integer id (torch's Embedding).

    Parameters
    ----------
    num_embeddings : int
        How many ids there are; ids run from 0 to ``num_embeddings - 1``.
    embedding_dim : int
        The size of each vector.
    padding_idx : int or None
        An id whose vector starts at zero and is never trained (its row of
        the gradient is zero), as in torch; a negative value counts from the
        end. None: every row trains.
    rng : numpy.random.Generator, int or None
        Source of the initial table, drawn from N(0, 1) as torch does.
    dtype : np.float64 or np.float32
        The table's (hence the output's) dtype; the input stays integer.

    Attributes
    ----------
    weight : Parameter of shape (num_embeddings, embedding_dim)
        Row ``i`` is the vector of id ``i`` (torch's layout).

    Notes
    -----
    The input is integer ids of shape (batch, ...), usually (batch, time);
    every entry point keeps them as integers (:attr:`integer_input`) and
    refuses non-integers and ids outside ``[0, num_embeddings)``. The output
    has shape (batch, ..., embedding_dim).

    Forward: ``y[n, :] = W[ids[n], :]`` for each position ``n``.

    Backward, given ``g = dL/dy``: ``y[n, j]`` depends on ``W[i, j]`` only
    when ``ids[n] = i``, so ``dL/dW[i, :] = sum over n with ids[n] = i of
    g[n, :]`` (a scatter-add; a row that no id picks gets zero, and so does
    the padding row). The ids are not differentiable: :meth:`backward`
    returns zeros of their shape.
    """

    cache_attributes: ClassVar[tuple[str, ...]] = ("_ids",)
    tree_attributes: ClassVar[tuple[str, ...] | None] = ("weight",)
    integer_input: ClassVar[bool] = True

    num_embeddings: int
    embedding_dim: int
    padding_idx: int | None
    weight: Parameter

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        *,
        rng: RngLike = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        name = f"Embedding({num_embeddings!r}, {embedding_dim!r})"
        self.num_embeddings = check_positive_int(num_embeddings, "num_embeddings", name)
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim", name)
        self.padding_idx = _check_padding(padding_idx, self.num_embeddings, name)
        self.dtype = as_float_dtype(dtype)
        shape = (self.num_embeddings, self.embedding_dim)
        self.weight = Parameter(np.zeros(shape, dtype=self.dtype), name="weight")
        self._ids: np.ndarray[Any, Any] | None = None
        self.reset_parameters(rng)

    def reset_parameters(self, rng: RngLike = None) -> None:
        """Redraw the table from N(0, 1), the padding row zero (torch's ``reset_parameters``)."""
        gen = as_generator(rng)
        self.weight.value[...] = gen.standard_normal(self.weight.shape)
        if self.padding_idx is not None:
            self.weight.value[self.padding_idx] = 0.0

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        self._ids = x
        out: FloatArray = self.weight.value[x]
        return out

    def backward(self, grad_out: FloatArray) -> FloatArray:
        ids = self._ids
        if ids is None:
            raise self._not_run_yet()
        self.backward_parameters(grad_out)
        return np.zeros(ids.shape, dtype=self.dtype)

    def backward_parameters(self, grad_out: FloatArray) -> None:
        ids = self._ids
        if ids is None:
            raise self._not_run_yet()
        grad = self.weight.grad
        grad[...] = 0.0
        np.add.at(grad, ids.reshape(-1), grad_out.reshape(-1, self.embedding_dim))
        if self.padding_idx is not None:
            grad[self.padding_idx] = 0.0

    def check_input_values(self, x: FloatArray, position: int | None = None) -> None:
        """Refuse ids outside ``[0, num_embeddings)``, naming the first one and where it is."""
        bad = (x < 0) | (x >= self.num_embeddings)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{describe(self, position)}: ids must be in [0, {self.num_embeddings}), got "
                f"{int(x[where])} at index {where}; make num_embeddings larger than the "
                "largest id"
            )

    def get_config(self) -> dict[str, Any]:
        return {
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
            "padding_idx": self.padding_idx,
            "dtype": self.dtype.name,
        }

    @property
    def input_spec(self) -> InputSpec:
        """``(batch, ...)`` of ids: any number of axes after the batch axis."""
        return InputSpec(min_rank=0)

    def output_shape(self, input_shape: Shape | None) -> Shape:
        """The ids' shape with an axis of ``embedding_dim`` appended."""
        leading = () if input_shape is None else tuple(input_shape)
        return (*leading, self.embedding_dim)

    def __repr__(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.embedding_dim})"


def _check_padding(padding_idx: object, num_embeddings: int, name: str) -> int | None:
    """``padding_idx`` as an id in ``[0, num_embeddings)`` (a negative one counts from the end)."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral):
        raise TypeError(
            f"{name}: padding_idx must be an int or None, got {type(padding_idx).__name__} "
            f"{padding_idx!r}"
        )
    index = int(padding_idx)
    if not -num_embeddings <= index < num_embeddings:
        raise ValueError(
            f"{name}: padding_idx must be in [-{num_embeddings}, {num_embeddings}), got {index}"
        )
    return index % num_embeddings


@register
class PositionalEmbedding(Layer):
    """A learned table of position vectors added to a sequence: ``y[:, t] = x[:, t] + W[t]``.

    Parameters
    ----------
    max_len : int
        The longest sequence it takes; a longer one is refused.
    embed_dim : int
        Size of each position's vector (the input's last axis).
    rng : numpy.random.Generator, int or None
        Source of the initial table, drawn from N(0, 0.02**2) (GPT-2's choice).
    dtype : np.float64 or np.float32

    Attributes
    ----------
    weight : Parameter of shape (max_len, embed_dim)
        Row ``t`` is the vector added at position ``t``.

    Notes
    -----
    Input and output (batch, T, embed_dim) with ``T <= max_len``; usually
    right after an :class:`Embedding` of the tokens.

    Backward, given ``g = dL/dy``: ``dL/dx = g`` (an addition), and row
    ``t < T`` of the table feeds position ``t`` of every sample, so
    ``dL/dW[t] = sum over the batch of g[:, t]``; rows ``t >= T`` get zero.
    """

    shape_preserving: ClassVar[bool] = True
    cache_attributes: ClassVar[tuple[str, ...]] = ("_time",)
    tree_attributes: ClassVar[tuple[str, ...] | None] = ("weight",)

    max_len: int
    embed_dim: int
    weight: Parameter

    def __init__(
        self,
        max_len: int,
        embed_dim: int,
        *,
        rng: RngLike = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        name = f"PositionalEmbedding({max_len!r}, {embed_dim!r})"
        self.max_len = check_positive_int(max_len, "max_len", name)
        self.embed_dim = check_positive_int(embed_dim, "embed_dim", name)
        self.dtype = as_float_dtype(dtype)
        shape = (self.max_len, self.embed_dim)
        self.weight = Parameter(np.zeros(shape, dtype=self.dtype), name="weight")
        self._time: int | None = None
        self.reset_parameters(rng)

    def reset_parameters(self, rng: RngLike = None) -> None:
        """Redraw the table from N(0, 0.02**2)."""
        self.weight.value[...] = 0.02 * as_generator(rng).standard_normal(self.weight.shape)

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        self._time = x.shape[1]
        out: FloatArray = x + self.weight.value[: x.shape[1]]
        return out

    def backward(self, grad_out: FloatArray) -> FloatArray:
        self.backward_parameters(grad_out)
        return grad_out

    def backward_parameters(self, grad_out: FloatArray) -> None:
        time = self._time
        if time is None:
            raise self._not_run_yet()
        grad = self.weight.grad
        np.add.reduce(grad_out, axis=0, out=grad[:time])
        grad[time:] = 0.0

    def check_input(self, shape: tuple[int, ...], position: int | None = None) -> None:
        """The spec's check, then refuse a sequence longer than ``max_len``."""
        super().check_input(shape, position)
        if shape[1] > self.max_len:
            raise ValueError(
                f"{describe(self, position)}: input of shape {shape} has {shape[1]} positions "
                f"but max_len is {self.max_len}; build it with max_len >= {shape[1]} or cut "
                "the sequences"
            )

    def get_config(self) -> dict[str, Any]:
        return {"max_len": self.max_len, "embed_dim": self.embed_dim, "dtype": self.dtype.name}

    @property
    def input_spec(self) -> InputSpec:
        """``(batch, time, embed_dim)``."""
        return InputSpec(2, axes={1: self.embed_dim})

    def __repr__(self) -> str:
        return f"PositionalEmbedding({self.max_len}, {self.embed_dim})"
