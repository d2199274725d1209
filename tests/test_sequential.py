"""Sequential: composition, nesting, container protocol, predict, summary, state."""

from __future__ import annotations

import numpy as np
import pytest

from layernet import Dense, FloatArray, Layer, Sequential, Sigmoid


def make_model(seed: int = 0) -> Sequential:
    return Sequential([Dense(2, 3, rng=seed), Sigmoid(), Dense(3, 1, rng=seed + 1), Sigmoid()])


def test_forward_composes_layers_in_order() -> None:
    model = make_model()
    x = np.array([[0.5, -1.0], [2.0, 3.0]])
    expected = x
    for layer in model:
        expected = layer(expected)
    np.testing.assert_allclose(model(x), expected, rtol=1e-15)


def test_backward_chains_in_reverse() -> None:
    model = make_model()
    x = np.array([[0.5, -1.0]])
    model.forward(x)
    dx = model.backward(np.ones((1, 1)))
    g: FloatArray = np.ones((1, 1))
    outs: list[FloatArray] = [x]
    for layer in model.layers:
        outs.append(layer.forward(outs[-1]))
    for layer in reversed(model.layers):
        g = layer.backward(g)
    np.testing.assert_allclose(dx, g, rtol=1e-15)


def test_container_protocol() -> None:
    model = make_model()
    assert len(model) == 4
    assert isinstance(model[0], Dense)
    assert isinstance(model[-1], Sigmoid)
    head = model[:2]
    assert isinstance(head, Sequential)
    assert len(head) == 2
    assert head[0] is model[0]
    assert [type(layer).__name__ for layer in model] == ["Dense", "Sigmoid", "Dense", "Sigmoid"]
    model.add(Dense(1, 2))
    assert len(model) == 5


def test_parameters_are_collected_recursively_with_dotted_names() -> None:
    inner = Sequential([Dense(3, 3, rng=0), Sigmoid()])
    model = Sequential([Dense(2, 3, rng=1), inner, Dense(3, 1, rng=2)])
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.0.weight", "1.0.bias", "2.weight", "2.bias"]
    assert sum(p.size for p in model.parameters()) == 9 + 12 + 4
    layer: Layer = model
    assert layer.output_shape(None) == (1,)


def test_nested_sequential_checks_sizes() -> None:
    with pytest.raises(
        ValueError,
        match=r"Sequential\(2 layers\) at position 1 expects input of shape \(batch, \.\.\., 3\)",
    ):
        Sequential([Dense(2, 4), Sequential([Dense(3, 3), Sigmoid()])])


def test_predict_in_batches_equals_one_pass() -> None:
    model = make_model()
    x = np.random.default_rng(0).normal(size=(103, 2))
    full = model.predict(x)
    for batch_size in (1, 10, 103, 500):
        # GEMM blocking may differ with the batch size: equal up to rounding.
        np.testing.assert_allclose(model.predict(x, batch_size=batch_size), full, rtol=1e-13)
    assert full.shape == (103, 1)


def test_summary_before_any_data() -> None:
    text = make_model().summary()
    lines = text.splitlines()
    assert any(
        "Dense(2 -> 3)" in line and "(batch, 3)" in line and line.endswith("9") for line in lines
    )
    assert any(
        "Dense(3 -> 1)" in line and "(batch, 1)" in line and line.endswith("4") for line in lines
    )
    assert "Total parameters: 13 (float64)" in text


def test_summary_prints_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    text = make_model().summary(print_summary=True)
    assert capsys.readouterr().out.strip() == text.strip()


def test_state_dict_round_trip() -> None:
    a, b = make_model(0), make_model(10)
    state = a.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    b.load_state_dict(state)
    x = np.ones((2, 2))
    np.testing.assert_array_equal(a(x), b(x))
    state["0.weight"][...] = 99.0  # a copy: the model is untouched
    assert not np.any(a[0].state_dict()["weight"] == 99.0)


def test_load_state_dict_names_what_is_wrong() -> None:
    model = make_model()
    state = model.state_dict()
    missing = {k: v for k, v in state.items() if k != "2.bias"}
    with pytest.raises(ValueError, match=r"missing \['2.bias'\], unexpected nothing"):
        model.load_state_dict(missing)
    with pytest.raises(ValueError, match=r"unexpected \['9.weight'\]"):
        model.load_state_dict({**state, "9.weight": np.zeros(1)})
    with pytest.raises(ValueError, match=r"entry '0.weight' has shape \(3, 2\), expected \(2, 3\)"):
        model.load_state_dict({**state, "0.weight": np.zeros((3, 2))})
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"entry '2.weight' has dtype int64"):
        model.load_state_dict(
            {**state, "0.weight": state["0.weight"] + 1, "2.weight": np.zeros((3, 1), int)}
        )
    np.testing.assert_array_equal(model.state_dict()["0.weight"], before["0.weight"])


def test_get_config_describes_the_architecture() -> None:
    config = make_model().get_config()
    assert config["layers"][0] == {
        "class_name": "Dense",
        "config": {"in_features": 2, "out_features": 3, "bias": True, "dtype": "float64"},
    }
    assert config["layers"][1] == {"class_name": "Sigmoid", "config": {}}


def test_float32_model() -> None:
    model = Sequential([Dense(2, 3, dtype=np.float32), Sigmoid(), Dense(3, 1, dtype=np.float32)])
    assert model.dtype == np.float32
    out = model(np.ones((4, 2)))
    assert out.dtype == np.float32
    assert model.backward(np.ones((4, 1), dtype=np.float32)).dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
