"""The training fast paths compute exactly what the plain paths compute."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import layernet
from layernet import Dense, Flatten, MSELoss, ReLU, Sequential, Sigmoid, _validation, training
from layernet.parameter import flat_span


def _grads(model: Sequential) -> list[np.ndarray]:
    return [p.grad.copy() for p in model.parameters()]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Sequential([Dense(4, 3, rng=0), ReLU(), Dense(3, 2, rng=1)]),
        lambda: Sequential([Flatten(), Dense(4, 3, rng=0), Sigmoid(), Dense(3, 2, rng=1)]),
        lambda: Sequential([Sequential([Flatten(), Dense(4, 2, rng=2)]), Sigmoid()]),
        lambda: Sequential(
            [layernet.Conv2d(1, 2, 3, padding=1, rng=0), ReLU(), Flatten(), Dense(8, 2, rng=1)]
        ),
        lambda: Sequential([layernet.Conv1d(2, 3, 2, rng=0), Flatten(), Dense(3, 2, rng=1)]),
    ],
    ids=["dense-first", "flatten-first", "nested", "conv2d-first", "conv1d-first"],
)
def test_backward_parameters_writes_the_same_gradients_as_backward(make: object) -> None:
    model = make()  # type: ignore[operator]
    assert isinstance(model, Sequential)
    rng = np.random.default_rng(0)
    x, g = rng.normal(size=(5, 2, 2)), rng.normal(size=(5, 2))
    if isinstance(model[0], Dense):
        x = x.reshape(5, 4)
    if isinstance(model[0], layernet.Conv2d):
        x = x.reshape(5, 1, 2, 2)
    model.forward(x, training=True)
    model.backward(g)
    expected = _grads(model)
    for p in model.parameters():
        p.grad[...] = np.nan
    model.forward(x, training=True)
    assert model.backward_parameters(g) is None  # type: ignore[func-returns-value]
    for got, want in zip(_grads(model), expected, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("rows", [1, 2, 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_bias_gradient_is_the_sum_of_the_rows_written_in_place(
    rows: int, dtype: type[np.floating]
) -> None:
    # one row takes a copy instead of the reduction (per-sample SGD): same numbers
    layer = Dense(3, 4, rng=0, dtype=dtype)
    grad_buffer = layer.bias.grad
    rng = np.random.default_rng(rows)
    x, g = rng.normal(size=(rows, 3)).astype(dtype), rng.normal(size=(rows, 4)).astype(dtype)
    layer.forward(x, training=True)
    layer.backward_parameters(g)
    assert layer.bias.grad is grad_buffer  # optimizers keep a view of it
    np.testing.assert_array_equal(layer.bias.grad, np.add.reduce(g, axis=0))
    layer.forward(x[:, None, :], training=True)  # (batch, 1, in): folded into rows
    layer.backward_parameters(g[:, None, :] * 2)
    np.testing.assert_array_equal(layer.bias.grad, np.add.reduce(g * 2, axis=0))


def test_backward_parameters_without_parameters_is_a_no_op() -> None:
    model = Sequential([Sigmoid(), ReLU()])
    model.forward(np.ones((2, 3)))
    model.backward_parameters(np.ones((2, 3)))


def test_backward_parameters_before_forward_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError, match=r"Dense\(2 -> 1\): backward\(\) called before forward"):
        Dense(2, 1).backward_parameters(np.ones((1, 1)))
    with pytest.raises(RuntimeError, match=r"Conv2d\(1 -> 2, .*\): backward\(\) called before"):
        layernet.Conv2d(1, 2, 3).backward_parameters(np.ones((1, 2, 1, 1)))


def test_large_data_gathers_per_batch_with_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(100, 3)), rng.normal(size=(100, 1))

    def train() -> list[np.ndarray]:
        model = Sequential([Dense(3, 4, rng=0), ReLU(), Dense(4, 1, rng=1)])
        model.fit(
            x,
            y,
            loss=MSELoss(),
            optimizer=layernet.SGD(model.parameters(), lr=0.05),
            epochs=3,
            batch_size=7,
            verbose=0,
            rng=5,
        )
        return [p.value.copy() for p in model.parameters()]

    whole_epoch = train()
    monkeypatch.setattr(training, "_GATHER_EPOCH_BYTES", 0)
    per_batch = train()
    for a, b in zip(whole_epoch, per_batch, strict=True):
        np.testing.assert_array_equal(a, b)


def test_finiteness_is_checked_in_chunks_to_the_last_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_validation, "_CHECK_BYTES", 64)
    x = np.ones((50, 4))
    _validation.check_finite(x, "x")
    x[-1, -1] = np.inf
    with pytest.raises(ValueError, match=r"x: contains 1 NaN or infinite value"):
        _validation.check_finite(x, "x")
    _validation.check_finite(np.array(1.0), "scalar")
    with pytest.raises(ValueError, match="scalar: contains 1"):
        _validation.check_finite(np.array(np.nan), "scalar")


OPTIMIZERS: dict[str, Callable[[list[layernet.Parameter]], layernet.Optimizer]] = {
    "SGD": lambda ps: layernet.SGD(ps, lr=0.1),
    "SGD-momentum-decay": lambda ps: layernet.SGD(
        ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01
    ),
    "SGD-nesterov": lambda ps: layernet.SGD(ps, lr=0.1, momentum=0.8, nesterov=True),
    "Adam": lambda ps: layernet.Adam(ps, lr=0.01, weight_decay=0.01),
    "AdamW": lambda ps: layernet.AdamW(ps, lr=0.01, max_grad_norm=0.5),
    "RMSprop": lambda ps: layernet.RMSprop(ps, momentum=0.5, centered=True, weight_decay=0.1),
    "Adagrad": lambda ps: layernet.Adagrad(ps, lr_decay=0.1, initial_accumulator_value=0.2),
}


def _params() -> list[layernet.Parameter]:
    rng = np.random.default_rng(0)
    return [
        layernet.Parameter(rng.normal(size=shape), name=str(i))
        for i, shape in enumerate([(4, 3), (3,), (3, 5), (5,)])
    ]


def _move(params: list[layernet.Parameter]) -> None:
    """Rebind every parameter's arrays (same numbers), so that they no longer tile a buffer."""
    for p in params:
        p.value, p.grad = p.value.copy(), p.grad.copy()


def _build(name: str, packed: bool) -> tuple[list[layernet.Parameter], layernet.Optimizer]:
    """Parameters and an optimizer over them that steps flat (packed) or parameter by parameter."""
    params = _params()
    opt = OPTIMIZERS[name](params)  # packs them
    if not packed:
        _move(params)
    assert (flat_span([p.value for p in params]) is not None) == packed
    return params, opt


def _steps_flat(opt: layernet.Optimizer) -> bool:
    """Whether ``opt``'s last step went over slices of one buffer (else parameter by parameter)."""
    layout = opt._layout
    assert layout is not None, "the optimizer has not stepped yet"
    return layout.flat


def _set_grads(params: list[layernet.Parameter], seed: int) -> None:
    rng = np.random.default_rng(seed)
    for p in params:
        p.grad[...] = rng.normal(size=p.shape)


@pytest.mark.parametrize("chunk", [1 << 16, 7], ids=["one-slice", "slices-across-parameters"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_flat_updates_equal_per_parameter_updates(
    name: str, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layernet.optimizers.base, "_CHUNK", chunk)
    (loose, opt_loose), (packed, opt_packed) = _build(name, False), _build(name, True)
    for step in range(4):
        _set_grads(loose, step)
        _set_grads(packed, step)
        opt_loose.step()
        opt_packed.step()
    assert _steps_flat(opt_packed)
    assert not _steps_flat(opt_loose)
    for a, b in zip(loose, packed, strict=True):
        np.testing.assert_allclose(b.value, a.value, rtol=1e-13, atol=1e-15)
    state_loose, state_packed = opt_loose.state_dict(), opt_packed.state_dict()
    assert state_loose["state"].keys() == state_packed["state"].keys()
    for i, slots in state_loose["state"].items():
        assert list(slots) == list(state_packed["state"][i])
        for key, arr in slots.items():
            assert state_packed["state"][i][key].shape == arr.shape
            np.testing.assert_allclose(state_packed["state"][i][key], arr, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("packed", [True, False], ids=["packed", "parameter-by-parameter"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_loaded_state_resumes_exactly(name: str, packed: bool) -> None:
    (a, opt_a), (b, opt_b) = _build(name, packed), _build(name, packed)
    for step in range(3):
        _set_grads(a, step)
        opt_a.step()
    for pa, pb in zip(a, b, strict=True):
        pb.value[...] = pa.value
    saved = opt_a.state_dict()
    opt_b.load_state_dict(saved)
    again = opt_b.state_dict()
    assert again["config"] == saved["config"]
    for i, slots in saved["state"].items():
        assert list(again["state"][i]) == list(slots)
        for key, arr in slots.items():
            np.testing.assert_array_equal(again["state"][i][key], arr)
    for step in range(3, 5):
        _set_grads(a, step)
        _set_grads(b, step)
        opt_a.step()
        opt_b.step()
    assert _steps_flat(opt_b) == packed
    for pa, pb in zip(a, b, strict=True):
        np.testing.assert_array_equal(pa.value, pb.value)


def test_sequential_leaves_its_parameters_where_the_layers_made_them() -> None:
    layers = [Dense(3, 4, rng=0), ReLU(), Dense(4, 2, rng=1)]
    arrays = [(p.value, p.grad) for layer in layers for p in layer.parameters()]
    model = Sequential(layers)
    model.add(Dense(2, 2, rng=2))
    for p, (value, grad) in zip(model.parameters(), arrays, strict=False):
        assert p.value is value
        assert p.grad is grad
    assert flat_span([p.value for p in model.parameters()]) is None


def test_an_optimizer_follows_parameters_packed_again_after_it_was_built() -> None:
    model = Sequential([Dense(3, 4, rng=0)])
    opt = layernet.SGD(model.parameters(), lr=0.5, momentum=0.9)
    weight = model[0].weight  # type: ignore[attr-defined]
    weight.grad[...] = 1.0
    opt.step()
    model.add(Dense(4, 1, rng=1))
    layernet.SGD(model.parameters(), lr=0.1)  # packs all five: the first optimizer's two move
    expected = weight.value - 0.5 * (0.9 * 1.0 + 1.0)
    weight.grad[...] = 1.0
    opt.step()
    np.testing.assert_allclose(weight.value, expected, rtol=1e-15)
    assert _steps_flat(opt)  # they still tile, now a longer buffer


@pytest.mark.parametrize("chunk", [1 << 16, 7], ids=["whole-parameters", "parameters-in-slices"])
def test_unequal_loaded_step_counts_update_parameter_by_parameter(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layernet.optimizers.base, "_CHUNK", chunk)
    loose, packed = _params(), _params()
    opt_loose, opt_packed = layernet.Adam(loose, lr=0.01), layernet.Adam(packed, lr=0.01)
    _move(loose)
    for opt, params in ((opt_loose, loose), (opt_packed, packed)):
        for p in params:
            p.grad[...] = 0.5
        opt.step()
        state = opt.state_dict()
        state["state"][0]["step"] = np.array(7.0)  # hand-made: one parameter further along
        opt.load_state_dict(state)
        opt.step()
    assert not _steps_flat(opt_packed)
    assert flat_span([p.value for p in packed]) is not None
    for a, b in zip(loose, packed, strict=True):
        np.testing.assert_array_equal(a.value, b.value)
    assert float(opt_packed.state[packed[0]]["step"]) == 8.0
    assert float(opt_packed.state[packed[1]]["step"]) == 2.0
