"""layernet.interop: torch state dicts in (from_torch) and out (to_torch).

The round trips against torch itself skip unless torch is installed (it is in
the development venv, not in CI's: see .ci/run); the name and layout checks
use NumPy state dicts shaped as torch writes them and always run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import layernet as ln
from layernet.interop import TorchLayout, from_torch, register_torch_layout, to_torch

Array = np.ndarray[Any, Any]


def mlp() -> ln.Sequential:
    return ln.Sequential(
        [
            ln.Dense(4, 6, rng=0),
            ln.ReLU(),
            ln.BatchNorm1d(6),
            ln.Sequential([ln.Dense(6, 5, rng=1), ln.LayerNorm(5), ln.Tanh()]),
            ln.Dense(5, 3, bias=False, rng=2),
        ]
    )


def torch_style_state(model: ln.Layer) -> dict[str, Array]:
    """What torch's state_dict of ``model``'s twin holds, built by hand (float32, as torch's)."""
    rng = np.random.default_rng(7)
    state: dict[str, Array] = {}
    for name, value in to_torch(model).items():
        state[name] = rng.normal(size=value.shape).astype(np.float32)
    for name in list(state):
        if name.endswith("running_var"):
            state[name] = np.abs(state[name]) + 0.5
            state[name.replace("running_var", "num_batches_tracked")] = np.array(3)
    return state


def test_names_and_layouts_of_to_torch() -> None:
    shapes = {k: v.shape for k, v in to_torch(mlp()).items()}
    assert shapes == {
        "0.weight": (6, 4),
        "0.bias": (6,),
        "2.weight": (6,),
        "2.bias": (6,),
        "2.running_mean": (6,),
        "2.running_var": (6,),
        "3.0.weight": (5, 6),
        "3.0.bias": (5,),
        "3.1.weight": (5,),
        "3.1.bias": (5,),
        "4.weight": (3, 5),
    }
    conv = ln.Conv2d(2, 3, (3, 2), rng=0)
    out = to_torch(ln.Sequential([conv]))
    assert out["0.weight"].shape == (3, 2, 3, 2)
    np.testing.assert_array_equal(out["0.weight"], conv.weight.value)
    assert all(v.flags.c_contiguous for v in to_torch(mlp()).values())


def test_containers_and_batchnorm2d_keep_torch_paths() -> None:
    """Residual's block/shortcut and Parallel's branches.i are torch's module paths."""
    model = _resnet_2d()
    shapes = {k: v.shape for k, v in to_torch(model).items()}
    assert shapes["1.weight"] == (4,)  # BatchNorm2d's gamma under torch's name
    assert shapes["1.running_var"] == (4,)
    assert shapes["3.block.0.weight"] == (8, 4, 3, 3)
    assert shapes["3.block.4.running_mean"] == (8,)
    assert shapes["3.shortcut.1.bias"] == (8,)
    assert shapes["5.branches.0.weight"] == (3, 8, 1, 1)
    assert shapes["5.branches.1.1.running_var"] == (2,)
    assert shapes["6.block.branches.1.1.weight"] == (13,)
    assert shapes["8.weight"] == (3, 13)  # Dense, transposed
    assert not any("gamma" in k or "beta" in k for k in shapes)
    assert len(shapes) == len(model.state_dict())

    state = torch_style_state(model)  # with torch's num_batches_tracked for each batch norm
    assert "3.shortcut.1.num_batches_tracked" in state
    assert from_torch(model, state) == ([], [])
    bn = model[3].shortcut[1]  # type: ignore[attr-defined]
    assert isinstance(bn, ln.BatchNorm2d)
    np.testing.assert_array_equal(bn.gamma.value, state["3.shortcut.1.weight"])
    np.testing.assert_array_equal(bn.running_var, state["3.shortcut.1.running_var"])
    head = model[8]
    assert isinstance(head, ln.Dense)
    np.testing.assert_array_equal(head.weight.value, state["8.weight"].T)
    back = to_torch(model)
    assert set(back) == {k for k in state if not k.endswith("num_batches_tracked")}
    for name, value in back.items():
        np.testing.assert_array_equal(value, state[name])


def test_from_torch_maps_names_transposes_and_casts() -> None:
    model = mlp()
    state = torch_style_state(model)
    assert from_torch(model, state) == ([], [])
    first = model[0]
    assert isinstance(first, ln.Dense)
    np.testing.assert_array_equal(first.weight.value, state["0.weight"].T)
    assert first.weight.value.dtype == np.float64
    bn = model[2]
    assert isinstance(bn, ln.BatchNorm1d)
    np.testing.assert_array_equal(bn.gamma.value, state["2.weight"])
    np.testing.assert_array_equal(bn.running_var, state["2.running_var"])
    back = to_torch(model)
    assert set(back) == set(state) - {"2.num_batches_tracked"}
    for name, value in back.items():
        np.testing.assert_array_equal(value, state[name])


def test_problems_are_listed_together_with_hints() -> None:
    model = mlp()
    state = torch_style_state(model)
    state["0.weight"] = state["0.weight"].T.copy()  # already transposed by the user
    del state["3.1.bias"]
    state["4.bias"] = np.zeros(3, dtype=np.float32)
    before = model.state_dict()
    with pytest.raises(ValueError, match="does not fit Sequential") as info:
        from_torch(model, state)
    message = str(info.value)
    assert (
        "'0.weight' of Dense(4 -> 6): got shape (4, 6), expected (6, 4) (torch's layout of "
        "layernet's (4, 6)); torch Linear weights are (out, in); layernet's Dense is (in, out)"
    ) in message
    assert "missing (the model has them, the state dict does not): '3.1.bias'" in message
    assert "unexpected (in the state dict, not in the model): '4.bias'" in message
    for name, value in model.state_dict().items():  # nothing was copied
        np.testing.assert_array_equal(value, before[name])


def test_not_strict_loads_what_fits_and_returns_the_rest() -> None:
    model = mlp()
    state = torch_style_state(model)
    del state["3.1.bias"]
    state["head.weight"] = np.zeros((2, 3), dtype=np.float32)
    kept = model.state_dict()["3.1.beta"]
    assert from_torch(model, state, strict=False) == (["3.1.bias"], ["head.weight"])
    np.testing.assert_array_equal(model.state_dict()["3.1.beta"], kept)
    np.testing.assert_array_equal(model.state_dict()["3.1.gamma"], state["3.1.weight"])


def test_wrapper_prefix_hint_and_bad_values() -> None:
    model = mlp()
    wrapped = {"module." + k: v for k, v in torch_style_state(model).items()}
    with pytest.raises(
        ValueError, match=r"every key starts with 'module\.', added by DataParallel"
    ):
        from_torch(model, wrapped)
    state = torch_style_state(model)
    state["0.bias"] = np.array(["a"] * 6)
    with pytest.raises(TypeError, match=r"entry '0\.bias' holds <U1 values, not numbers"):
        from_torch(model, state)
    with pytest.raises(TypeError, match="state_dict must be a mapping"):
        from_torch(model, [1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="model must be a Layer, got dict"):
        to_torch({})  # type: ignore[arg-type]


def test_a_user_layer_registers_its_layout() -> None:
    class Gain(ln.Layer):
        def __init__(self) -> None:
            self.g = ln.Parameter(np.ones((2, 3)))

        def forward(self, x: Array, *, training: bool = False) -> Array:
            return x

        def backward(self, grad_out: Array) -> Array:
            return grad_out

    model = ln.Sequential([Gain()])
    assert set(to_torch(model)) == {"0.g"}  # no layout: the same names and shapes
    register_torch_layout(Gain, TorchLayout("Gain", {"g": "scale"}, frozenset({"g"})))
    state = {"0.scale": np.arange(6.0).reshape(3, 2)}
    from_torch(model, state)
    np.testing.assert_array_equal(model[0].g.value, state["0.scale"].T)  # type: ignore[attr-defined]
    assert to_torch(model)["0.scale"].shape == (3, 2)


def test_sequence_layers_take_torch_names_and_layouts() -> None:
    model = ln.Sequential(
        [ln.Embedding(5, 4, rng=0), ln.MultiHeadAttention(4, 2, rng=1), ln.GRU(4, 3, rng=2)]
    )
    state = to_torch(model)
    assert {k: v.shape for k, v in state.items()} == {
        "0.weight": (5, 4),
        "1.in_proj_weight": (12, 4),
        "1.in_proj_bias": (12,),
        "1.out_proj.weight": (4, 4),
        "1.out_proj.bias": (4,),
        "2.weight_ih_l0": (9, 4),
        "2.weight_hh_l0": (9, 3),
        "2.bias_ih_l0": (9,),
        "2.bias_hh_l0": (9,),
    }
    attention = model[1]
    assert isinstance(attention, ln.MultiHeadAttention)
    np.testing.assert_array_equal(state["1.in_proj_weight"][4:8], attention.k.weight.value.T)
    np.testing.assert_array_equal(state["1.in_proj_bias"][8:], attention.v.bias.value)
    np.testing.assert_array_equal(state["2.weight_hh_l0"], model[2].weight_hh.value.T)  # type: ignore[attr-defined]
    fresh = torch_style_state(model)
    from_torch(model, fresh)
    np.testing.assert_array_equal(attention.q.weight.value, fresh["1.in_proj_weight"][:4].T)
    np.testing.assert_array_equal(attention.out.weight.value, fresh["1.out_proj.weight"].T)
    assert all(np.array_equal(v, fresh[k]) for k, v in to_torch(model).items())
    nested = ln.Parallel([ln.Identity(), ln.Sequential([ln.MultiHeadAttention(4, 2, rng=3)])])
    assert sorted(to_torch(ln.Sequential([nested]))) == [
        "0.branches.1.0.in_proj_bias",
        "0.branches.1.0.in_proj_weight",
        "0.branches.1.0.out_proj.bias",
        "0.branches.1.0.out_proj.weight",
    ]
    fresh["1.in_proj_weight"] = fresh["1.in_proj_weight"][:8]
    with pytest.raises(
        ValueError,
        match=r"'1\.in_proj_weight' of MultiHeadAttention\(4, heads=2\): got shape \(8, 4\), "
        r"expected \(12, 4\); torch's in_proj_weight is \(3 \* embed_dim, embed_dim\)",
    ):
        from_torch(model, fresh)


# -- against torch itself ---------------------------------------------------------------


def _torch_mlp(nn: Any) -> Any:
    return nn.Sequential(
        nn.Linear(4, 6),
        nn.ReLU(),
        nn.BatchNorm1d(6),
        nn.Sequential(nn.Linear(6, 5), nn.LayerNorm(5), nn.Tanh()),
        nn.Linear(5, 3, bias=False),
    )


def _cnn() -> ln.Sequential:
    return ln.Sequential(
        [
            ln.Conv1d(2, 4, 3, padding=1, rng=0),
            ln.BatchNorm1d(4),
            ln.ReLU(),
            ln.MaxPool1d(2),
            ln.Conv1d(4, 3, 3, stride=2, dilation=2, rng=1),
            ln.Flatten(),
            ln.Dense(3, 2, rng=2),
        ]
    )


def _torch_cnn(nn: Any) -> Any:
    return nn.Sequential(
        nn.Conv1d(2, 4, 3, padding=1),
        nn.BatchNorm1d(4),
        nn.ReLU(),
        nn.MaxPool1d(2),
        nn.Conv1d(4, 3, 3, stride=2, dilation=2),
        nn.Flatten(),
        nn.Linear(3, 2),
    )


def _image_model() -> ln.Sequential:
    return ln.Sequential(
        [ln.Conv2d(1, 3, (3, 5), padding="same", rng=0), ln.GELU(), ln.GlobalAvgPool2d()]
    )


def _torch_image_model(nn: Any) -> Any:
    return nn.Sequential(
        nn.Conv2d(1, 3, (3, 5), padding="same"),
        nn.GELU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


def _torch_containers(nn: Any) -> tuple[Any, Any, Any]:
    """torch twins of Residual, Parallel and GlobalAvgPool1d/2d, with the same attribute names."""
    torch = pytest.importorskip("torch")

    class TorchResidual(nn.Module):  # type: ignore[misc]
        def __init__(self, block: Any, shortcut: Any = None) -> None:
            super().__init__()
            self.block = block
            self.shortcut = shortcut

        def forward(self, x: Any) -> Any:
            return self.block(x) + (x if self.shortcut is None else self.shortcut(x))

    class TorchParallel(nn.Module):  # type: ignore[misc]
        def __init__(self, branches: list[Any], merge: str = "concat") -> None:
            super().__init__()
            self.branches = nn.ModuleList(branches)
            self.merge = merge

        def forward(self, x: Any) -> Any:
            outs = [branch(x) for branch in self.branches]
            return sum(outs[1:], outs[0]) if self.merge == "add" else torch.cat(outs, dim=1)

    class GlobalAvg(nn.Module):  # type: ignore[misc]
        """``AdaptiveAvgPool(1)`` then ``Flatten`` as one module, so positions line up."""

        def forward(self, x: Any) -> Any:
            return x.flatten(2).mean(dim=2)

    return TorchResidual, TorchParallel, GlobalAvg


def _resnet_1d() -> ln.Sequential:
    """examples/mnist1d_resnet.py in small: a stem, an identity block, a projection block."""
    return ln.Sequential(
        [
            ln.Conv1d(1, 4, 5, padding="same", bias=False, rng=0),
            ln.BatchNorm1d(4),
            ln.ReLU(),
            ln.Residual(
                ln.Sequential(
                    [
                        ln.Conv1d(4, 4, 3, padding="same", bias=False, rng=1),
                        ln.BatchNorm1d(4),
                        ln.ReLU(),
                        ln.Conv1d(4, 4, 3, padding="same", bias=False, rng=2),
                        ln.BatchNorm1d(4),
                    ]
                )
            ),
            ln.ReLU(),
            ln.MaxPool1d(2),
            ln.Residual(
                ln.Sequential(
                    [
                        ln.Conv1d(4, 6, 3, padding="same", bias=False, rng=3),
                        ln.BatchNorm1d(6),
                        ln.ReLU(),
                        ln.Conv1d(6, 6, 3, padding="same", bias=False, rng=4),
                        ln.BatchNorm1d(6),
                    ]
                ),
                shortcut=ln.Sequential([ln.Conv1d(4, 6, 1, bias=False, rng=5), ln.BatchNorm1d(6)]),
            ),
            ln.ReLU(),
            ln.GlobalAvgPool1d(),
            ln.Dense(6, 3, rng=6),
        ]
    )


VOCAB = 13


def _recurrent_model() -> ln.Sequential:
    return ln.Sequential(
        [
            ln.Embedding(VOCAB, 8, rng=0),
            ln.LSTM(8, 6, return_sequences=True, rng=1),
            ln.RNN(6, 5, "relu", return_sequences=True, rng=2),
            ln.GRU(5, 4, rng=3),
            ln.Dense(4, 3, rng=4),
        ]
    )


def _torch_resnet_1d(nn: Any) -> Any:
    residual, _, global_avg = _torch_containers(nn)
    return nn.Sequential(
        nn.Conv1d(1, 4, 5, padding="same", bias=False),
        nn.BatchNorm1d(4),
        nn.ReLU(),
        residual(
            nn.Sequential(
                nn.Conv1d(4, 4, 3, padding="same", bias=False),
                nn.BatchNorm1d(4),
                nn.ReLU(),
                nn.Conv1d(4, 4, 3, padding="same", bias=False),
                nn.BatchNorm1d(4),
            )
        ),
        nn.ReLU(),
        nn.MaxPool1d(2),
        residual(
            nn.Sequential(
                nn.Conv1d(4, 6, 3, padding="same", bias=False),
                nn.BatchNorm1d(6),
                nn.ReLU(),
                nn.Conv1d(6, 6, 3, padding="same", bias=False),
                nn.BatchNorm1d(6),
            ),
            nn.Sequential(nn.Conv1d(4, 6, 1, bias=False), nn.BatchNorm1d(6)),
        ),
        nn.ReLU(),
        global_avg(),
        nn.Linear(6, 3),
    )


def _resnet_2d() -> ln.Sequential:
    """BatchNorm2d, a strided projection block, an Inception-style Parallel, a Residual of a sum."""
    return ln.Sequential(
        [
            ln.Conv2d(1, 4, 3, padding=1, bias=False, rng=0),
            ln.BatchNorm2d(4),
            ln.ReLU(),
            ln.Residual(
                ln.Sequential(
                    [
                        ln.Conv2d(4, 8, 3, stride=2, padding=1, bias=False, rng=1),
                        ln.BatchNorm2d(8),
                        ln.ReLU(),
                        ln.Conv2d(8, 8, 3, padding=1, bias=False, rng=2),
                        ln.BatchNorm2d(8),
                    ]
                ),
                shortcut=ln.Sequential(
                    [ln.Conv2d(4, 8, 1, stride=2, bias=False, rng=3), ln.BatchNorm2d(8)]
                ),
            ),
            ln.ReLU(),
            ln.Parallel(
                [
                    ln.Conv2d(8, 3, 1, rng=4),
                    ln.Sequential(
                        [ln.Conv2d(8, 2, 3, padding=1, rng=5), ln.BatchNorm2d(2), ln.ReLU()]
                    ),
                    ln.MaxPool2d(3, stride=1, padding=1),
                ]
            ),
            ln.Residual(
                ln.Parallel(
                    [
                        ln.Conv2d(13, 13, 1, rng=6),
                        ln.Sequential([ln.Conv2d(13, 13, 3, padding=1, rng=7), ln.BatchNorm2d(13)]),
                    ],
                    merge="add",
                )
            ),
            ln.GlobalAvgPool2d(),
            ln.Dense(13, 3, rng=8),
        ]
    )


def _torch_resnet_2d(nn: Any) -> Any:
    residual, parallel, global_avg = _torch_containers(nn)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        residual(
            nn.Sequential(
                nn.Conv2d(4, 8, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(8),
                nn.ReLU(),
                nn.Conv2d(8, 8, 3, padding=1, bias=False),
                nn.BatchNorm2d(8),
            ),
            nn.Sequential(nn.Conv2d(4, 8, 1, stride=2, bias=False), nn.BatchNorm2d(8)),
        ),
        nn.ReLU(),
        parallel(
            [
                nn.Conv2d(8, 3, 1),
                nn.Sequential(nn.Conv2d(8, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU()),
                nn.MaxPool2d(3, stride=1, padding=1),
            ]
        ),
        residual(
            parallel(
                [
                    nn.Conv2d(13, 13, 1),
                    nn.Sequential(nn.Conv2d(13, 13, 3, padding=1), nn.BatchNorm2d(13)),
                ],
                merge="add",
            )
        ),
        global_avg(),
        nn.Linear(13, 3),
    )


def _torch_recurrent_model(nn: Any) -> Any:
    class Twin(nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            for name, module in enumerate(
                [
                    nn.Embedding(VOCAB, 8),
                    nn.LSTM(8, 6, batch_first=True),
                    nn.RNN(6, 5, nonlinearity="relu", batch_first=True),
                    nn.GRU(5, 4, batch_first=True),
                    nn.Linear(4, 3),
                ]
            ):
                self.add_module(str(name), module)

        def forward(self, ids: Any) -> Any:
            embed, lstm, rnn, gru, linear = self.children()
            h, _ = lstm(embed(ids))
            h, _ = rnn(h)
            h, _ = gru(h)
            return linear(h[:, -1])  # the last step, as return_sequences=False

    return Twin()


def _attention_model(causal: bool) -> Any:
    def build() -> ln.Sequential:
        return ln.Sequential(
            [
                ln.Embedding(VOCAB, 8, rng=0),
                ln.MultiHeadAttention(8, 2, causal=causal, rng=1),
                ln.LayerNorm(8),
                ln.Dense(8, 3, rng=2),
            ]
        )

    return build


def _torch_attention_model(causal: bool) -> Any:
    def build(nn: Any) -> Any:
        class Twin(nn.Module):  # type: ignore[misc]
            def __init__(self) -> None:
                super().__init__()
                for name, module in enumerate(
                    [
                        nn.Embedding(VOCAB, 8),
                        nn.MultiheadAttention(8, 2, batch_first=True),
                        nn.LayerNorm(8),
                        nn.Linear(8, 3),
                    ]
                ):
                    self.add_module(str(name), module)

            def forward(self, ids: Any) -> Any:
                embed, attention, norm, linear = self.children()
                x = embed(ids)
                time = ids.shape[1]
                mask = nn.Transformer.generate_square_subsequent_mask(time) if causal else None
                a, _ = attention(x, x, x, need_weights=False, attn_mask=mask)
                return linear(norm(a))

        return Twin()

    return build


TWINS = {
    "recurrent": (_recurrent_model, _torch_recurrent_model, (7,)),
    "attention": (_attention_model(False), _torch_attention_model(False), (6,)),
    "attention-causal": (_attention_model(True), _torch_attention_model(True), (6,)),
    "mlp": (mlp, _torch_mlp, (4,)),
    "cnn1d": (_cnn, _torch_cnn, (2, 12)),
    "cnn2d": (_image_model, _torch_image_model, (1, 6, 5)),
    "resnet1d": (_resnet_1d, _torch_resnet_1d, (1, 16)),
    "resnet2d": (_resnet_2d, _torch_resnet_2d, (1, 8, 8)),
}


@pytest.mark.parametrize("name", sorted(TWINS))
def test_torch_round_trip_matches_to_1e_12(name: str) -> None:
    torch = pytest.importorskip("torch")
    ours_build, theirs_build, shape = TWINS[name]
    torch.manual_seed(0)
    theirs = theirs_build(torch.nn).double()
    ours = ours_build()
    x: Array = (
        np.random.default_rng(3).integers(0, VOCAB, size=(8, *shape))
        if ours.takes_integers()
        else np.random.default_rng(3).normal(size=(8, *shape))
    )
    theirs.train()
    theirs(torch.from_numpy(x))  # running statistics away from their initial values
    theirs.eval()

    from_torch(ours, theirs.state_dict())
    with torch.no_grad():
        want = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours.predict(x), want, rtol=1e-12, atol=1e-12)

    # and back: new layernet weights into the torch model
    fresh = ours_build()
    fresh.load_state_dict(
        {
            k: v + np.random.default_rng(4).normal(0, 0.1, v.shape)
            for k, v in ours.state_dict().items()
        }
    )
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in to_torch(fresh).items()})
    with torch.no_grad():
        got = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, fresh.predict(x), rtol=1e-12, atol=1e-12)
    assert not np.allclose(got, want)
