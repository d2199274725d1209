"""A model-wide cast (``model.astype``) and ``summary(input_shape=...)``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import layernet as ln


def cnn() -> ln.Sequential:
    return ln.Sequential(
        [ln.Conv1d(1, 4, 3, rng=0), ln.BatchNorm1d(4), ln.ReLU(), ln.MaxPool1d(2), ln.Flatten(),
         ln.Dense(4 * 9, 8, rng=1), ln.LayerNorm(8), ln.Dropout(0.1, rng=2), ln.Dense(8, 2, rng=3)]
    )  # fmt: skip


def test_astype_casts_every_parameter_buffer_and_layer_and_returns_the_model(
    tmp_path: Path,
) -> None:
    model = cnn()
    x = np.random.default_rng(0).normal(size=(6, 1, 20))
    model.fit(
        x,
        np.ones((6, 2)),
        loss=ln.MSELoss(),
        optimizer=ln.SGD(model.parameters(), lr=0.1),
        epochs=1,
        verbose=0,
    )  # moves BatchNorm's running statistics
    before = model.state_dict()
    assert model.astype(np.float32) is model
    for name, value in model.state_dict().items():
        assert value.dtype == np.float32, name
        np.testing.assert_array_equal(value, before[name].astype(np.float32), err_msg=name)
    for _, param in model.named_parameters():
        assert param.grad.dtype == np.float32
    assert all(layer.dtype == np.float32 for layer in model if any(layer.parameters()))
    assert model.dtype == np.float32
    assert model.predict(x).dtype == np.float32
    opt = ln.Adam(model.parameters(), lr=0.01)  # built after the cast
    history = model.fit(x, np.ones((6, 2)), loss=ln.MSELoss(), optimizer=opt, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    ln.save(model, tmp_path / "m.npz")
    loaded = ln.load(tmp_path / "m.npz", expect=ln.Sequential)
    assert loaded.dtype == np.float32
    assert loaded[0].get_config()["dtype"] == "float32"
    # and back: float32 values are exact in float64
    wide = model.state_dict()
    model.astype("float64")
    for name, value in model.state_dict().items():
        assert value.dtype == np.float64
        np.testing.assert_array_equal(value, wide[name].astype(np.float64), err_msg=name)


def test_astype_to_the_same_dtype_moves_nothing() -> None:
    model = cnn()
    opt = ln.SGD(model.parameters(), lr=0.1)  # packs the parameters into one buffer
    arrays = [p.value for p in opt.params]
    model.astype(np.float64)
    assert all(p.value is a for p, a in zip(opt.params, arrays, strict=True))


def test_astype_refuses_a_dtype_that_is_not_float32_or_float64() -> None:
    with pytest.raises(TypeError, match=r"dtype must be np.float64 or np.float32, got float16"):
        cnn().astype(np.float16)


def test_a_float64_state_loads_into_a_float32_model_after_astype() -> None:
    source = cnn()
    target = cnn().astype(np.float32)
    with pytest.raises(ValueError, match=r"model.astype\(np.float64\)"):
        target.load_state_dict(source.state_dict())
    target.astype(np.float64).load_state_dict(source.state_dict())
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[name], value)


def test_summary_with_an_input_shape_fills_in_the_open_sizes() -> None:
    model = ln.Sequential([ln.Conv1d(1, 4, 3, rng=0), ln.ReLU(), ln.MaxPool1d(2), ln.Flatten(),
                           ln.Dense(4 * 19, 2, rng=1)])  # fmt: skip
    open_sizes = model.summary()
    assert "(batch, 4, ?)" in open_sizes
    table = model.summary(input_shape=(1, 40))
    rows = table.splitlines()
    assert any("(batch, 4, 38)" in r and "Conv1d" in r for r in rows)
    assert any("(batch, 4, 19)" in r and "MaxPool1d" in r for r in rows)
    assert any("(batch, 76)" in r and "Flatten" in r for r in rows)
    assert "?" not in table
    assert ln.summary(ln.Conv1d(1, 4, 3), input_shape=(1, 10)).count("(batch, 4, 8)") == 1


@pytest.mark.parametrize(
    ("input_shape", "error", "match"),
    [
        ((40,), ValueError, r"summary: input_shape \(40,\) \(one sample, without the batch "
                            r"axis\) does not fit the model: .*expected input of shape "
                            r"\(batch, 1, \?\)"),
        ((1, 30), ValueError, r"summary: input_shape \(1, 30\) .*Dense\(76 -> 2\) at position 4"),
        ([1, 40], TypeError, r"summary: input_shape must be a tuple of positive ints"),
        ((1, 0), TypeError, r"summary: input_shape must be a tuple of positive ints"),
    ],
)  # fmt: skip
def test_summary_refuses_an_input_shape_the_model_does_not_take(
    input_shape: object, error: type[Exception], match: str
) -> None:
    model = ln.Sequential([ln.Conv1d(1, 4, 3, rng=0), ln.ReLU(), ln.MaxPool1d(2), ln.Flatten(),
                           ln.Dense(4 * 19, 2, rng=1)])  # fmt: skip
    with pytest.raises(error, match=match):
        model.summary(input_shape=input_shape)  # type: ignore[arg-type]
