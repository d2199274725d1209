"""MultiHeadAttention: scaled dot-product self-attention over batch-first sequences."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from .._typing import DTypeLike, FloatArray, Shape, as_float_dtype
from .._validation import RngLike, as_generator, check_bool, check_positive_int, check_real
from .base import Layer
from .dense import Dense
from .registry import register
from .spec import InputSpec


@register
class MultiHeadAttention(Layer):
    """Multi-head self-attention (torch's ``nn.MultiheadAttention`` with ``batch_first=True``).

    Parameters
    ----------
    embed_dim : int
        Size of each position's vector; split into ``num_heads`` heads of
        ``embed_dim // num_heads`` each.
    num_heads : int
        Must divide ``embed_dim``.
    causal : bool
        If True, position ``i`` attends only to positions ``j <= i`` (a
        decoder, a model that generates); torch's ``is_causal`` mask.
    dropout : float
        Probability of dropping each attention weight while training (torch's
        ``dropout``); the kept ones are scaled by ``1 / (1 - p)``.
    rng : numpy.random.Generator, int or None
        Draws the projections' initial weights and the dropout masks.
    dtype : np.float64 or np.float32

    Attributes
    ----------
    q, k, v, out : Dense(embed_dim, embed_dim)
        The query, key, value and output projections. torch's
        ``in_proj_weight`` of shape (3E, E) is ``[W_q; W_k; W_v]``, so
        ``q.weight = in_proj_weight[:E].T`` (and likewise ``k``, ``v``,
        with ``in_proj_bias`` split the same way); ``out`` is ``out_proj``
        transposed.

    Notes
    -----
    Forward, for ``x`` of shape (batch, T, E) and ``h`` heads of size
    ``d = E / h``: ``Q = x W_q + b_q``, ``K``, ``V`` likewise, each split
    into heads (batch, h, T, d); per head

        S = Q K^T / sqrt(d)               (T, T), ``-inf`` above the diagonal if causal
        A = softmax(S) along the last axis (each row sums to 1)
        O = A V                           (T, d)

    then the heads are concatenated back to (batch, T, E) and
    ``y = O W_out + b_out``.

    Backward, given ``G = dL/dy``: ``dO`` comes from ``out``'s backward and
    is split into heads; then ``dV = A^T dO`` and ``dA = dO V^T``. The
    softmax Jacobian of a row ``a = softmax(s)`` is
    ``da_i/ds_j = a_i (delta_ij - a_j)``, so
    ``dS = A * (dA - sum_j(dA * A))``, row by row (masked entries have
    ``A = 0`` and get no gradient). From ``S = Q K^T / sqrt(d)``:
    ``dQ = dS K / sqrt(d)`` and ``dK = dS^T Q / sqrt(d)``. The heads are
    merged again and go back through ``q``, ``k`` and ``v``; the input
    feeds all three, so ``dL/dx`` is the sum of their input gradients.
    With dropout, ``O = (A * M / (1 - p)) V`` for a 0/1 mask ``M``, and
    ``dA`` is multiplied by the same ``M / (1 - p)``.
    """

    cache_attributes: ClassVar[tuple[str, ...]] = ("_cache",)
    tree_attributes: ClassVar[tuple[str, ...] | None] = ("q", "k", "v", "out")

    embed_dim: int
    num_heads: int
    causal: bool
    dropout: float
    q: Dense
    k: Dense
    v: Dense
    out: Dense

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        causal: bool = False,
        dropout: float = 0.0,
        *,
        rng: RngLike = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        name = f"MultiHeadAttention({embed_dim!r}, {num_heads!r})"
        self.embed_dim = check_positive_int(embed_dim, "embed_dim", name)
        self.num_heads = check_positive_int(num_heads, "num_heads", name)
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"{name}: embed_dim must be divisible by num_heads, got embed_dim="
                f"{self.embed_dim} and num_heads={self.num_heads}; each head takes "
                "embed_dim // num_heads features"
            )
        self.causal = check_bool(causal, "causal", name)
        self.dropout = check_real(dropout, "dropout", name, low=0.0, high=1.0)
        self.dtype = as_float_dtype(dtype)
        self.rng = as_generator(rng)
        e = self.embed_dim
        self.q = Dense(e, e, rng=self.rng, dtype=self.dtype)
        self.k = Dense(e, e, rng=self.rng, dtype=self.dtype)
        self.v = Dense(e, e, rng=self.rng, dtype=self.dtype)
        self.out = Dense(e, e, rng=self.rng, dtype=self.dtype)
        self._cache: tuple[FloatArray, ...] | None = None

    def _heads(self, x: FloatArray) -> FloatArray:
        """(batch, T, E) -> (batch, h, T, d)."""
        b, t, _ = x.shape
        heads: FloatArray = x.reshape(b, t, self.num_heads, -1).transpose(0, 2, 1, 3)
        return heads

    def _merge(self, x: FloatArray) -> FloatArray:
        """(batch, h, T, d) -> (batch, T, E)."""
        b, _, t, _ = x.shape
        merged: FloatArray = x.transpose(0, 2, 1, 3).reshape(b, t, self.embed_dim)
        return merged

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        q = self._heads(self.q.forward(x, training=training))
        k = self._heads(self.k.forward(x, training=training))
        v = self._heads(self.v.forward(x, training=training))
        scale = 1.0 / math.sqrt(self.embed_dim // self.num_heads)
        s = (q @ k.transpose(0, 1, 3, 2)) * scale
        t = x.shape[1]
        if self.causal:
            s[..., np.triu(np.ones((t, t), dtype=bool), 1)] = -np.inf
        s -= s.max(axis=-1, keepdims=True)
        a = np.exp(s)
        a /= a.sum(axis=-1, keepdims=True)
        kept = a
        keep = np.ones((), dtype=x.dtype)
        if training and self.dropout > 0.0:
            keep = (self.rng.random(a.shape) >= self.dropout) / (1.0 - self.dropout)
            keep = keep.astype(x.dtype)
            kept = a * keep
        o = kept @ v
        self._cache = (q, k, v, a, kept, keep)
        return self.out.forward(self._merge(o), training=training)

    def _backward_heads(self, grad_out: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``dL/dQ``, ``dL/dK``, ``dL/dV`` merged to (batch, T, E); writes ``out``'s grads."""
        if self._cache is None:
            raise self._not_run_yet()
        q, k, v, a, kept, keep = self._cache
        d_o = self._heads(self.out.backward(grad_out))
        d_v = kept.transpose(0, 1, 3, 2) @ d_o
        d_a = (d_o @ v.transpose(0, 1, 3, 2)) * keep
        d_s = a * (d_a - (d_a * a).sum(axis=-1, keepdims=True))
        scale = 1.0 / math.sqrt(self.embed_dim // self.num_heads)
        d_q = (d_s @ k) * scale
        d_k = (d_s.transpose(0, 1, 3, 2) @ q) * scale
        return self._merge(d_q), self._merge(d_k), self._merge(d_v)

    def backward(self, grad_out: FloatArray) -> FloatArray:
        d_q, d_k, d_v = self._backward_heads(grad_out)
        grad_in = self.q.backward(d_q)
        grad_in += self.k.backward(d_k)
        grad_in += self.v.backward(d_v)
        return grad_in

    def backward_parameters(self, grad_out: FloatArray) -> None:
        d_q, d_k, d_v = self._backward_heads(grad_out)
        self.q.backward_parameters(d_q)
        self.k.backward_parameters(d_k)
        self.v.backward_parameters(d_v)

    def get_config(self) -> dict[str, Any]:
        return {
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "causal": self.causal,
            "dropout": self.dropout,
            "dtype": self.dtype.name,
        }

    @property
    def input_spec(self) -> InputSpec:
        """``(batch, time, embed_dim)``."""
        return InputSpec(2, axes={1: self.embed_dim})

    def output_shape(self, input_shape: Shape | None) -> Shape:
        """The input's shape: ``(time, embed_dim)``."""
        time = None if input_shape is None or len(input_shape) != 2 else input_shape[0]
        return (time, self.embed_dim)

    def __repr__(self) -> str:
        return f"MultiHeadAttention({self.embed_dim}, heads={self.num_heads})"
