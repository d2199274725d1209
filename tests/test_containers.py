"""Residual and Parallel: maths by hand, names, nesting, training, save/load, summary, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import layernet as ln
from layernet import Layer


def _block(n: int, seed: int, dtype: Any = np.float64) -> ln.Sequential:
    return ln.Sequential(
        [
            ln.Dense(n, n, rng=seed, dtype=dtype),
            ln.Tanh(),
            ln.Dense(n, n, rng=seed + 1, dtype=dtype),
        ]
    )


def nested(dtype: Any = np.float64) -> ln.Sequential:
    """Containers in containers: a Residual around a Parallel of a Residual and a stack."""
    return ln.Sequential(
        [
            ln.Dense(3, 4, rng=0, dtype=dtype),
            ln.Residual(
                ln.Parallel(
                    [
                        ln.Residual(_block(4, 1, dtype)),
                        ln.Sequential(
                            [ln.Dense(4, 4, rng=3, dtype=dtype), ln.LayerNorm(4, dtype=dtype)]
                        ),
                    ],
                    merge="add",
                ),
            ),
            ln.Parallel([ln.Dense(4, 2, rng=4, dtype=dtype), ln.Dense(4, 3, rng=5, dtype=dtype)]),
            ln.ReLU(),
            ln.Dense(5, 1, rng=6, dtype=dtype),
        ]
    )


NESTED_NAMES = [
    f"{path}.{name}"
    for path, names in [
        ("0", ("weight", "bias")),
        ("1.block.branches.0.block.0", ("weight", "bias")),
        ("1.block.branches.0.block.2", ("weight", "bias")),
        ("1.block.branches.1.0", ("weight", "bias")),
        ("1.block.branches.1.1", ("gamma", "beta")),
        ("2.branches.0", ("weight", "bias")),
        ("2.branches.1", ("weight", "bias")),
        ("4", ("weight", "bias")),
    ]
    for name in names
]


def test_residual_is_block_plus_shortcut_by_hand() -> None:
    block, shortcut = ln.Dense(3, 2, rng=0), ln.Dense(3, 2, rng=1)
    layer = ln.Residual(block, shortcut)
    x = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_array_equal(layer(x), block(x) + shortcut(x))
    identity = ln.Residual(ln.Tanh())
    np.testing.assert_array_equal(identity(x), np.tanh(x) + x)
    g = np.random.default_rng(1).normal(size=(5, 3))
    np.testing.assert_allclose(identity.backward(g), g * (1 - np.tanh(x) ** 2) + g, rtol=1e-15)


def test_parallel_concatenates_or_adds_and_splits_the_gradient() -> None:
    a, b = ln.Dense(3, 2, rng=0), ln.Dense(3, 4, rng=1)
    layer = ln.Parallel([a, b])
    x = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_array_equal(layer(x), np.concatenate([a(x), b(x)], axis=1))
    g = np.random.default_rng(1).normal(size=(5, 6))
    dx = layer.backward(g)
    np.testing.assert_allclose(a.weight.grad, x.T @ g[:, :2], rtol=1e-14)
    np.testing.assert_allclose(b.weight.grad, x.T @ g[:, 2:], rtol=1e-14)
    np.testing.assert_allclose(dx, g[:, :2] @ a.weight.value.T + g[:, 2:] @ b.weight.value.T)
    c, d = ln.Dense(3, 2, rng=2), ln.Dense(3, 2, rng=3)
    added = ln.Parallel([c, d], merge="add")
    np.testing.assert_array_equal(added(x), c(x) + d(x))
    assert added.output_shape((3,)) == (2,)
    assert layer.output_shape((3,)) == (6,)


def test_concat_along_channels_of_conv_data() -> None:
    layer = ln.Parallel([ln.Conv1d(2, 3, 3, padding=1, rng=0), ln.Conv1d(2, 5, 1, rng=1)])
    assert layer(np.ones((4, 2, 7))).shape == (4, 8, 7)
    assert layer.output_shape((2, 7)) == (8, 7)
    assert layer.output_shape((2, None)) == (8, None)


def test_state_dict_names_are_torch_module_paths() -> None:
    model = nested()
    assert [name for name, _ in model.named_parameters()] == NESTED_NAMES
    assert list(model.state_dict()) == NESTED_NAMES
    shortcut = ln.Residual(ln.Conv1d(2, 4, 3, padding=1), ln.Conv1d(2, 4, 1))
    assert list(shortcut.state_dict()) == [
        "block.weight",
        "block.bias",
        "shortcut.weight",
        "shortcut.bias",
    ]
    bn = ln.Residual(ln.Sequential([ln.Conv2d(2, 2, 3, padding=1), ln.BatchNorm2d(2)]))
    buffers = [name for name, _ in bn.named_buffers()]
    assert buffers == ["block.1.running_mean", "block.1.running_var"]


def _train(model: ln.Sequential, x: Any, y: Any, epochs: int) -> list[float]:
    opt = ln.Adam(model.parameters(), lr=0.01)
    history = model.fit(
        x, y, loss=ln.MSELoss(), optimizer=opt, epochs=epochs, batch_size=8, verbose=0, rng=0
    )
    losses: list[float] = history.history["loss"]
    return losses


def test_nested_containers_round_trip_bit_identical_and_the_loaded_model_trains(
    tmp_path: Path,
) -> None:
    model = nested()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 3)), rng.normal(size=(32, 1))
    _train(model, x, y, epochs=2)
    path = tmp_path / "nested.npz"
    ln.save(model, path)
    loaded = ln.load(path, expect=ln.Sequential)
    assert loaded.get_config() == model.get_config()
    assert isinstance(loaded[1], ln.Residual)
    assert isinstance(loaded[1].block, ln.Parallel)
    for (name, a), (name_b, b) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert name == name_b
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    before = loaded.evaluate(x, y, loss=ln.MSELoss())["loss"]
    assert _train(loaded, x, y, epochs=20)[-1] < before
    # the same steps on the original give the same weights: nothing was lost in the file
    _train(model, x, y, epochs=20)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], value, err_msg=name)


def test_a_bare_container_saves_loads_and_trains_with_the_functions(tmp_path: Path) -> None:
    layer = ln.Residual(_block(3, 0), shortcut=None)
    ln.save(layer, tmp_path / "r.npz")
    loaded = ln.load(tmp_path / "r.npz", expect=ln.Residual)
    x = np.random.default_rng(0).normal(size=(16, 3))
    np.testing.assert_array_equal(loaded(x), layer(x))
    opt = ln.SGD(loaded.parameters(), lr=0.1)
    history = ln.fit(loaded, x, np.zeros((16, 3)), loss=ln.MSELoss(), optimizer=opt, epochs=5)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert ln.predict(loaded, x).shape == (16, 3)


def test_summary_shows_the_nested_rows() -> None:
    text = ln.summary(nested())
    lines = text.splitlines()
    rows = {line.split()[0]: line for line in lines[3:-3]}
    assert "Tanh()" in rows["1.block.branches.0.block.1"]
    assert "Parallel(2 branches, merge='concat', axis=1)" in rows["2"]
    assert rows["2"].split()[-1] == "25"  # 4*2+2 + 4*3+3
    assert "(batch, 5)" in rows["2"]
    assert "(batch, 3)" in rows["2.branches.1"]
    n = sum(p.size for p in nested().parameters())
    assert f"Total parameters: {n:,} (float64)" in text


def test_a_layer_used_twice_is_refused() -> None:
    dense = ln.Dense(3, 3)
    with pytest.raises(
        ValueError,
        match=r"the same Dense\(3 -> 3\) instance is used twice .*'branches.0' and at 'branches.1'",
    ):
        ln.Parallel([dense, dense], merge="add")
    with pytest.raises(ValueError, match=r"used twice in the model, at 'block' and at 'shortcut'"):
        ln.Residual(dense, dense)
    inner = ln.Residual(dense)
    with pytest.raises(ValueError, match=r"at '0.block' and at '1'"):
        ln.Sequential([inner, dense])


def test_mismatched_shapes_at_the_call_name_the_layer_and_position() -> None:
    # lengths are unknown at construction; the call knows them
    parallel = ln.Parallel([ln.Conv1d(2, 3, 3), ln.Conv1d(2, 3, 5)], merge="add")
    model = ln.Sequential([ln.Identity(), parallel])
    with pytest.raises(
        ValueError,
        match=r"^Parallel\(2 branches, merge='add'\) at position 1: for input \(4, 2, 9\), "
        r"merge='add' sums the branches, but branches.0 produces \(batch, 3, 7\) and "
        r"branches.1 produces \(batch, 3, 5\)",
    ):
        model(np.ones((4, 2, 9)))
    residual = ln.Residual(ln.Conv1d(2, 2, 3))
    with pytest.raises(
        ValueError,
        match=r"Residual\(Conv1d\(2 -> 2, kernel_size=3\)\) at position 0: for input \(4, 2, 9\), "
        r"the block produces \(batch, 2, 7\) but the identity shortcut gives \(batch, 2, 9\)",
    ):
        ln.Sequential([residual])(np.ones((4, 2, 9)))
    with pytest.raises(ValueError, match=r"Residual.*, in its block: Conv1d.*got \(4, 3, 9\)"):
        residual(np.ones((4, 3, 9)))


def test_a_shape_no_layer_declares_is_still_caught_in_forward() -> None:
    class Halve(ln.Layer):  # declares no shapes at all
        def forward(self, x: ln.FloatArray, *, training: bool = False) -> ln.FloatArray:
            return x[:, : x.shape[1] // 2]

        def backward(self, grad_out: ln.FloatArray) -> ln.FloatArray:
            return np.concatenate([grad_out, np.zeros_like(grad_out)], axis=1)

    with pytest.raises(
        ValueError,
        match=r"Residual\(Halve\(\)\): for input \(2, 4\), the block produces \(batch, 2\) but "
        r"the identity shortcut gives \(batch, 4\)",
    ):
        ln.Residual(Halve())(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"branches.0 produces \(batch, 2\) and branches.1"):
        ln.Parallel([Halve(), ln.Identity()], merge="add")(np.ones((2, 4)))


@pytest.mark.parametrize("make", [lambda dt: nested(dt), lambda dt: ln.Residual(_block(3, 0, dt))])
def test_float32_end_to_end(make: Any) -> None:
    model: Layer = make(np.float32)
    n_in = 3
    rng = np.random.default_rng(0)
    x, y = (
        rng.normal(size=(16, n_in)),
        rng.normal(size=(16, 1 if isinstance(model, ln.Sequential) else 3)),
    )
    assert model(x).dtype == np.float32
    opt = ln.Adam(model.parameters(), lr=0.01)
    ln.fit(model, x, y, loss=ln.MSELoss(), optimizer=opt, epochs=2, verbose=0)
    for p in model.parameters():
        assert p.value.dtype == np.float32
        assert p.grad.dtype == np.float32
    model.forward(x.astype(np.float32), training=True)
    assert model.backward(np.ones((16, y.shape[1]), np.float32)).dtype == np.float32


def test_children_of_two_dtypes_are_refused() -> None:
    with pytest.raises(
        ValueError,
        match=r"its branches.1 Dense\(3 -> 2\) is float32 but its branches.0 Dense\(3 -> 2\) is "
        r"float64",
    ):
        ln.Parallel([ln.Dense(3, 2), ln.Dense(3, 2, dtype=np.float32)])


def test_backward_parameters_writes_the_same_gradients_as_backward() -> None:
    model = nested()
    x = np.random.default_rng(0).normal(size=(6, 3))
    g = np.random.default_rng(1).normal(size=(6, 1))
    model.forward(x)
    model.backward(g)
    full = {name: p.grad.copy() for name, p in model.named_parameters()}
    for layer in (model[1], model[2]):
        layer.clear_cache()
    model.forward(x)
    for p in model.parameters():
        p.grad[...] = np.nan
    model[2].forward(model[1].forward(model[0].forward(x)))  # the same caches again
    model.backward_parameters(g)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, full[name], rtol=1e-14, err_msg=name)


def test_sequences_through_dense_permute_and_conv() -> None:
    """(batch, time, features): Dense per step, Permute to channels first for Conv1d, back."""
    model = ln.Sequential(
        [
            ln.Dense(3, 4, rng=0),
            ln.Permute((2, 1)),
            ln.Residual(ln.Conv1d(4, 4, 3, padding="same", rng=1)),
            ln.Permute((2, 1)),
            ln.LayerNorm(4),
            ln.Dense(4, 2, rng=2),
        ]
    )
    x = np.random.default_rng(0).normal(size=(5, 7, 3))
    assert model(x).shape == (5, 7, 2)
    assert ln.gradcheck(model, x).passed
