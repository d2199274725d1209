"""Sequence layers (issue 13): torch parity in float64, ids kept as integers, float32 end to
end, save/load of a model nesting every new layer, and clear errors.

The torch tests load the same weights into ``nn.Embedding``, ``nn.RNN``, ``nn.LSTM``,
``nn.GRU`` and ``nn.MultiheadAttention`` and compare outputs and every gradient to 1e-10.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import layernet as ln

RTOL, ATOL = 1e-10, 1e-12


def _torch() -> Any:
    return pytest.importorskip("torch")


def _close(ours: Any, theirs: Any) -> None:
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_matches_torch(padding_idx: int | None) -> None:
    torch = _torch()
    rng = np.random.default_rng(0)
    ours = ln.Embedding(7, 3, padding_idx, rng=1)
    theirs = torch.nn.Embedding(7, 3, padding_idx=padding_idx).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.value))
    ids = rng.integers(0, 7, size=(4, 6))
    ids[0, :3] = 2  # the padding id appears, and repeats
    y = ours(ids)
    g = rng.normal(size=y.shape)
    ours.backward(g)
    y_t = theirs(torch.tensor(ids))
    y_t.backward(torch.tensor(g))
    _close(y, y_t)
    _close(ours.weight.grad, theirs.weight.grad)
    if padding_idx is not None:
        assert not ours.weight.grad[padding_idx].any()


def test_positional_embedding_matches_a_torch_table_added() -> None:
    torch = _torch()
    rng = np.random.default_rng(0)
    ours = ln.PositionalEmbedding(7, 3, rng=1)
    table = torch.nn.Parameter(torch.tensor(ours.weight.value))
    x = rng.normal(size=(2, 5, 3))
    y = ours(x)
    g = rng.normal(size=y.shape)
    dx = ours.backward(g)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = x_t + table[:5]
    y_t.backward(torch.tensor(g))
    _close(y, y_t)
    _close(dx, x_t.grad)
    _close(ours.weight.grad, table.grad)


RECURRENT = [
    (ln.RNN, "RNN", {}),
    (ln.RNN, "RNN", {"nonlinearity": "relu"}),
    (ln.LSTM, "LSTM", {}),
    (ln.GRU, "GRU", {}),
]


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize(("cls", "torch_cls", "kwargs"), RECURRENT)
def test_recurrent_layers_match_torch(
    cls: Any, torch_cls: str, kwargs: dict[str, Any], return_sequences: bool
) -> None:
    torch = _torch()
    rng = np.random.default_rng(0)
    ours = cls(4, 5, return_sequences=return_sequences, rng=1, **kwargs)
    theirs = getattr(torch.nn, torch_cls)(4, 5, batch_first=True, **kwargs).double()
    with torch.no_grad():  # torch's matrices are ours transposed, gate blocks in the same order
        theirs.weight_ih_l0.copy_(torch.tensor(ours.weight_ih.value.T))
        theirs.weight_hh_l0.copy_(torch.tensor(ours.weight_hh.value.T))
        theirs.bias_ih_l0.copy_(torch.tensor(ours.bias_ih.value))
        theirs.bias_hh_l0.copy_(torch.tensor(ours.bias_hh.value))
    x = rng.normal(size=(3, 6, 4))
    y = ours(x)
    g = rng.normal(size=y.shape)
    dx = ours.backward(g)
    x_t = torch.tensor(x, requires_grad=True)
    out, _ = theirs(x_t)
    y_t = out if return_sequences else out[:, -1]
    y_t.backward(torch.tensor(g))
    _close(y, y_t)
    _close(dx, x_t.grad)
    for name in ("weight_ih", "weight_hh"):
        _close(getattr(ours, name).grad, getattr(theirs, name + "_l0").grad.T)
    for name in ("bias_ih", "bias_hh"):
        _close(getattr(ours, name).grad, getattr(theirs, name + "_l0").grad)


@pytest.mark.parametrize("cls", [ln.LSTM, ln.GRU])
def test_gates_saturate_without_overflow_warnings(cls: Any) -> None:
    """Gate pre-activations near +-250: exp(-a) overflows in float32, not in float64.

    The float32 layer must give the float64 layer's numbers (a sigmoid of 0 or 1)
    without a warning (the suite turns warnings into errors), forward and back.
    """
    x = np.array([[[500.0, -500.0, 3.0], [-500.0, 500.0, -3.0], [500.0, 500.0, 0.0]]])
    g = np.ones((1, 3, 4))
    results = []
    for dtype in (np.float64, np.float32):
        layer = cls(3, 4, return_sequences=True, rng=0, dtype=dtype)
        y = layer.forward(x.astype(dtype), training=True)
        results.append((y, layer.backward(g.astype(dtype)), layer.weight_hh.grad.copy()))
    for want, got in zip(*results, strict=True):
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_matches_torch(causal: bool) -> None:
    torch = _torch()
    rng = np.random.default_rng(0)
    e, heads, time = 8, 2, 5
    ours = ln.MultiHeadAttention(e, heads, causal=causal, rng=1)
    ours.q.bias.value[...] = rng.normal(size=e)  # non-zero biases, so their gradients matter
    ours.k.bias.value[...] = rng.normal(size=e)
    theirs = torch.nn.MultiheadAttention(e, heads, batch_first=True).double()
    with torch.no_grad():  # in_proj_weight is [W_q; W_k; W_v], each ours transposed
        theirs.in_proj_weight.copy_(
            torch.tensor(np.concatenate([d.weight.value.T for d in (ours.q, ours.k, ours.v)]))
        )
        theirs.in_proj_bias.copy_(
            torch.tensor(np.concatenate([d.bias.value for d in (ours.q, ours.k, ours.v)]))
        )
        theirs.out_proj.weight.copy_(torch.tensor(ours.out.weight.value.T))
        theirs.out_proj.bias.copy_(torch.tensor(ours.out.bias.value))
    x = rng.normal(size=(3, time, e))
    y = ours(x)
    g = rng.normal(size=y.shape)
    dx = ours.backward(g)
    x_t = torch.tensor(x, requires_grad=True)
    mask = torch.triu(torch.ones(time, time, dtype=torch.bool), 1) if causal else None
    y_t, _ = theirs(x_t, x_t, x_t, attn_mask=mask, need_weights=False)
    y_t.backward(torch.tensor(g))
    _close(y, y_t)
    _close(dx, x_t.grad)
    w_grad = theirs.in_proj_weight.grad
    b_grad = theirs.in_proj_bias.grad
    for i, dense in enumerate((ours.q, ours.k, ours.v)):
        _close(dense.weight.grad, w_grad[i * e : (i + 1) * e].T)
        _close(dense.bias.grad, b_grad[i * e : (i + 1) * e])
    _close(ours.out.weight.grad, theirs.out_proj.weight.grad.T)
    _close(ours.out.bias.grad, theirs.out_proj.bias.grad)


def test_causal_attention_does_not_look_ahead() -> None:
    layer = ln.MultiHeadAttention(4, 2, causal=True, rng=0)
    x = np.random.default_rng(1).normal(size=(2, 6, 4))
    changed = x.copy()
    changed[:, 4:] += 10.0
    np.testing.assert_array_equal(layer(x)[:, :4], layer(changed)[:, :4])
    assert not np.allclose(layer(x)[:, 4:], layer(changed)[:, 4:])


def test_cross_entropy_on_sequences_matches_torch_with_classes_last() -> None:
    torch = _torch()
    rng = np.random.default_rng(0)
    z, labels = rng.normal(size=(3, 4, 5)), rng.integers(0, 5, size=(3, 4))
    loss = ln.CrossEntropyLoss(label_smoothing=0.1, weight=[1.0, 2.0, 0.5, 1.0, 3.0])
    value = loss(z, labels)
    grad = loss.backward()
    z_t = torch.tensor(z, requires_grad=True)
    weight = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0], dtype=torch.float64)
    expected = torch.nn.functional.cross_entropy(  # torch wants the classes on axis 1
        z_t.permute(0, 2, 1), torch.tensor(labels), weight=weight, label_smoothing=0.1
    )
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    _close(grad, z_t.grad)
    assert loss.sample_losses().shape == (3,)
    assert loss.sample_losses().sum() == pytest.approx(value, rel=1e-12)


# -- ids stay integers -----------------------------------------------------------------


def _tagger(dtype: Any = np.float64) -> ln.Sequential:
    return ln.Sequential(
        [
            ln.Embedding(6, 8, rng=0, dtype=dtype),
            ln.GRU(8, 16, return_sequences=True, rng=1, dtype=dtype),
            ln.Dense(16, 6, rng=2, dtype=dtype),
        ]
    )


def test_fit_evaluate_and_predict_keep_ids_as_integers() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 6, size=(48, 7))
    y = (x + 1) % 6  # each token's successor: learnable position by position
    model = _tagger()
    seen: list[np.dtype[Any]] = []
    forward = model.layers[0].forward

    def spy(ids: Any, *, training: bool = False) -> Any:
        seen.append(ids.dtype)
        return forward(ids, training=training)

    model.layers[0].forward = spy  # type: ignore[method-assign,assignment]
    opt = ln.Adam(model.parameters(), lr=0.02)
    model.fit(
        x, y, loss=ln.CrossEntropyLoss(), optimizer=opt, epochs=40, batch_size=16, verbose=0, rng=0
    )
    scores = model.evaluate(x, y, loss=ln.CrossEntropyLoss(), metrics=["accuracy"])
    assert scores["accuracy"] == 1.0
    assert model.predict(x.astype(float)).argmax(axis=-1).tolist() == y.tolist()
    assert seen
    assert all(dtype.kind == "i" for dtype in seen)


@pytest.mark.parametrize(
    ("ids", "error", "match"),
    [
        (
            [[1, 2, 6]],
            ValueError,
            r"Embedding\(6, 8\) at position 0: ids must be in \[0, 6\), "
            r"got 6 at index \(0, 2\)",
        ),
        ([[1, -1, 0]], ValueError, r"ids must be in \[0, 6\), got -1 at index \(0, 1\)"),
        ([[1.5, 2, 0]], ValueError, r"expected integer ids, got non-integer value 1.5"),
        ([[True, False]], TypeError, r"expected an array of integer ids, got booleans"),
        ([["a", "b"]], TypeError, r"expected an array of integer ids, got strings"),
    ],
)
def test_bad_ids_are_refused_by_every_entry_point(ids: Any, error: type, match: str) -> None:
    model = _tagger()
    with pytest.raises(error, match=match):
        model(ids)
    with pytest.raises(error, match=match):
        model.predict(ids)
    with pytest.raises(error, match=match):
        model.fit(
            ids,
            np.zeros(np.shape(ids), dtype=int),
            loss=ln.CrossEntropyLoss(),
            optimizer=ln.SGD(model.parameters(), lr=0.1),
            epochs=1,
            verbose=0,
        )


def test_containers_refuse_to_mix_ids_and_real_inputs() -> None:
    with pytest.raises(ValueError, match=r"branches.0 take\(s\) integer ids but its branches.1"):
        ln.Parallel([ln.Embedding(4, 2), ln.Dense(2, 2)])


# -- shapes and errors ------------------------------------------------------------------


def test_sequence_layers_name_themselves_and_their_position() -> None:
    model = ln.Sequential([ln.Dense(3, 4), ln.LSTM(4, 5)])
    with pytest.raises(
        ValueError,
        match=r"LSTM\(4 -> 5\) at position 1: expected input of shape "
        r"\(batch, \?, 4\), got \(2, 4\)",
    ):
        model(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"max_len is 4"):
        ln.Sequential([ln.Embedding(5, 2), ln.PositionalEmbedding(4, 2)])(np.zeros((1, 5), int))
    with pytest.raises(ValueError, match=r"embed_dim must be divisible by num_heads"):
        ln.MultiHeadAttention(10, 3)


def _transformer_block(e: int, dtype: Any) -> ln.Sequential:
    return ln.Sequential(
        [
            ln.Residual(
                ln.Sequential(
                    [ln.LayerNorm(e, dtype=dtype), ln.MultiHeadAttention(e, 2, rng=3, dtype=dtype)]
                )
            ),
            ln.Residual(
                ln.Sequential(
                    [
                        ln.LayerNorm(e, dtype=dtype),
                        ln.Dense(e, 2 * e, rng=4, dtype=dtype),
                        ln.GELU(),
                        ln.Dense(2 * e, e, rng=5, dtype=dtype),
                    ]
                )
            ),
        ]
    )


def _everything(dtype: Any) -> ln.Sequential:
    """A model that nests every new layer inside containers."""
    return ln.Sequential(
        [
            ln.Embedding(7, 4, padding_idx=0, rng=0, dtype=dtype),
            ln.PositionalEmbedding(9, 4, rng=1, dtype=dtype),
            _transformer_block(4, dtype),
            ln.Residual(
                ln.Sequential([ln.RNN(4, 4, "relu", return_sequences=True, rng=6, dtype=dtype)])
            ),
            ln.Parallel(
                [
                    ln.LSTM(4, 3, return_sequences=True, rng=7, dtype=dtype),
                    ln.GRU(4, 2, return_sequences=True, rng=8, dtype=dtype),
                ],
                axis=-1,
            ),
            ln.MultiHeadAttention(5, 5, causal=True, rng=9, dtype=dtype),
            ln.GRU(5, 3, rng=10, dtype=dtype),
        ]
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_model_nesting_every_sequence_layer_saves_and_loads_bit_identical(
    tmp_path: Path, dtype: Any
) -> None:
    model = _everything(dtype)
    ids = np.random.default_rng(0).integers(0, 7, size=(3, 8))
    before = model.predict(ids)
    ln.save(model, tmp_path / "m.npz")
    rebuilt = ln.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(ln.predict(rebuilt, ids), before)
    assert before.dtype == dtype
    assert [n for n, _ in rebuilt.named_parameters()] == [n for n, _ in model.named_parameters()]


def test_float32_end_to_end() -> None:
    model = _everything(np.float32)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 7, size=(16, 8))
    y = rng.integers(0, 3, size=16)
    opt = ln.Adam(model.parameters(), lr=1e-2)
    history = model.fit(
        ids,
        y,
        loss=ln.CrossEntropyLoss(),
        optimizer=opt,
        epochs=3,
        batch_size=8,
        verbose=0,
        rng=0,
    )
    assert np.isfinite(history.history["loss"]).all()
    for _, p in model.named_parameters():
        assert p.value.dtype == np.float32
        assert p.grad.dtype == np.float32
    assert model.predict(ids).dtype == np.float32
    for layer in (
        ln.LSTM(3, 4, rng=0, dtype=np.float32),
        ln.MultiHeadAttention(4, 2, rng=0, dtype=np.float32),
    ):
        x = rng.normal(size=(2, 5, layer.input_spec.axes[0][1])).astype(np.float32)
        y32 = layer(x)
        assert y32.dtype == np.float32
        assert layer.backward(np.ones_like(y32)).dtype == np.float32


def test_attention_dropout_drops_weights_in_training_only_and_its_gradient_checks() -> None:
    layer = ln.MultiHeadAttention(4, 2, dropout=0.5, rng=0)
    x = np.random.default_rng(1).normal(size=(2, 5, 4))
    np.testing.assert_array_equal(layer(x), layer(x))  # inference: no dropout
    assert not np.allclose(layer(x, training=True), layer(x, training=True))
    state = layer.rng.bit_generator.state
    forward = layer.forward

    def rewound(inp: ln.FloatArray, *, training: bool = False) -> ln.FloatArray:
        layer.rng.bit_generator.state = state  # the same mask every time
        return forward(inp, training=training)

    layer.forward = rewound  # type: ignore[method-assign,assignment]
    result = ln.gradcheck(layer, x, training=True)
    assert result.passed, str(result)
