"""fit / evaluate: batching, determinism, validation, streaming, bad input, the display."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from layernet import (
    SGD,
    Dense,
    FloatArray,
    History,
    MSELoss,
    ProgressLogger,
    Sequential,
    Sigmoid,
)
from layernet.__main__ import build_gender_model, train_per_sample
from layernet.datasets import load_gender
from layernet.training import _Arrays, _split


def make_model(seed: int = 0, dtype: Any = np.float64) -> Sequential:
    return Sequential(
        [Dense(3, 8, rng=seed, dtype=dtype), Sigmoid(), Dense(8, 1, rng=seed + 1, dtype=dtype)]
    )


def make_data(n: int = 40, seed: int = 0) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (x @ np.array([[1.0], [-2.0], [0.5]])) + 0.1 * rng.normal(size=(n, 1))
    return x, y


def weights(model: Sequential) -> list[FloatArray]:
    return [p.value.copy() for p in model.parameters()]


def test_fit_trains_and_returns_history() -> None:
    x, y = make_data()
    model = make_model()
    history = model.fit(
        x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.05), epochs=30,
        batch_size=8, metrics=["mae"], verbose=0, rng=0,
    )  # fmt: skip
    assert isinstance(history, History)
    assert set(history.history) == {"loss", "mae"}
    assert history.epoch == list(range(30))
    assert len(history.times) == 30
    assert all(t >= 0 for t in history.times)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    assert history.params["steps"] == 5
    assert "30 epochs" in repr(history)


def test_batch_size_one_without_shuffle_is_the_seed_loop_bit_for_bit() -> None:
    data = load_gender()
    expected = build_gender_model(0)
    train_per_sample(expected, data.x, data.y, epochs=200, lr=0.1)
    model = build_gender_model(0)
    model.fit(
        data.x, data.y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1), epochs=200,
        batch_size=1, shuffle=False, verbose=0,
    )  # fmt: skip
    for got, want in zip(weights(model), weights(expected), strict=True):
        np.testing.assert_array_equal(got, want)


def test_each_epoch_uses_one_permutation_then_contiguous_slices() -> None:
    x, y = make_data(23)
    model, manual = make_model(), make_model()
    model.fit(
        x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.05), epochs=3,
        batch_size=5, verbose=0, rng=np.random.default_rng(7),
    )  # fmt: skip
    gen, loss, opt = np.random.default_rng(7), MSELoss(), SGD(manual.parameters(), lr=0.05)
    for _ in range(3):
        perm = gen.permutation(23)
        xe, ye = x[perm], y[perm]
        for start in range(0, 23, 5):
            loss.forward(
                manual.forward(xe[start : start + 5], training=True), ye[start : start + 5]
            )
            manual.backward(loss.backward())
            opt.step()
    for got, want in zip(weights(model), weights(manual), strict=True):
        np.testing.assert_array_equal(got, want)


def test_same_seed_gives_bit_identical_weights_and_history() -> None:
    x, y = make_data()
    runs = []
    for seed in (3, 3, 4):
        model = make_model()
        history = model.fit(
            x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.05, momentum=0.9),
            epochs=5, batch_size=7, validation_split=0.2, metrics=["r2"], verbose=0, rng=seed,
        )  # fmt: skip
        runs.append((weights(model), history.history))
    (w1, h1), (w2, h2), (w3, h3) = runs
    for a, b in zip(w1, w2, strict=True):
        np.testing.assert_array_equal(a, b)
    assert h1 == h2
    assert h1 != h3
    assert not all(np.array_equal(a, c) for a, c in zip(w1, w3, strict=True))


def test_fit_leaves_global_random_state_alone() -> None:
    x, y = make_data()
    before = np.random.get_state()[1].copy()  # type: ignore[index]  # noqa: NPY002
    model = make_model()
    model.fit(
        x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.01), epochs=2,
        validation_split=0.25, verbose=0, rng=None,
    )  # fmt: skip
    after = np.random.get_state()[1]  # type: ignore[index]  # noqa: NPY002
    np.testing.assert_array_equal(after, before)


def test_validation_split_shuffles_before_holding_out() -> None:
    x = np.arange(20.0).reshape(20, 1)
    train, val = _split(_Arrays(x, x.copy(), 4), 0.25, np.random.default_rng(0))
    perm = np.random.default_rng(0).permutation(20)
    np.testing.assert_array_equal(val.x[:, 0], perm[15:])
    np.testing.assert_array_equal(train.x[:, 0], perm[:15])
    assert not np.array_equal(np.sort(val.x[:, 0]), np.arange(15.0, 20.0))  # not Keras's tail


def test_validation_logs_val_twins() -> None:
    x, y = make_data()
    xv, yv = make_data(10, seed=1)
    model = make_model()
    history = model.fit(
        x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.05), epochs=2,
        validation_data=(xv, yv), metrics=["mse"], verbose=0, rng=0,
    )  # fmt: skip
    assert list(history.history) == ["loss", "mse", "val_loss", "val_mse"]
    final = model.evaluate(xv, yv, loss=MSELoss(), metrics=["mse"])
    assert history.history["val_loss"][-1] == final["loss"]
    assert history.history["val_mse"][-1] == pytest.approx(final["mse"], rel=1e-12)


def test_float32_stays_float32() -> None:
    x, y = make_data()
    model = make_model(dtype=np.float32)
    model.fit(
        x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.05), epochs=2, verbose=0,
        rng=0, validation_split=0.2,
    )  # fmt: skip
    assert all(p.value.dtype == np.float32 for p in model.parameters())
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
    assert model.predict(x).dtype == np.float32


# -- evaluate --------------------------------------------------------------------------


def test_evaluate_matches_the_full_set_whatever_the_batch_size() -> None:
    x, y = make_data(37)
    model = make_model()
    pred = model.predict(x)
    expected_loss = float(np.mean((pred - y) ** 2))
    for batch_size in (1, 5, 37, 100):
        result = model.evaluate(x, y, loss=MSELoss(), metrics=["mae", "r2"], batch_size=batch_size)
        assert set(result) == {"loss", "mae", "r2"}
        np.testing.assert_allclose(result["loss"], expected_loss, rtol=1e-12)
        np.testing.assert_allclose(result["mae"], np.mean(np.abs(pred - y)), rtol=1e-12)


# -- streaming -------------------------------------------------------------------------


def test_streaming_equals_unshuffled_arrays() -> None:
    x, y = make_data(30)

    def batches() -> Iterator[tuple[FloatArray, FloatArray]]:
        for start in range(0, 30, 8):
            yield x[start : start + 8], y[start : start + 8]

    a, b, c = make_model(), make_model(), make_model()
    kwargs: dict[str, Any] = {"loss": MSELoss(), "epochs": 3, "verbose": 0, "metrics": ["mae"]}
    ha = a.fit(x, y, optimizer=SGD(a.parameters(), lr=0.05), batch_size=8, shuffle=False, **kwargs)
    hb = b.fit(batches, None, optimizer=SGD(b.parameters(), lr=0.05), **kwargs)
    hc = c.fit(list(batches()), optimizer=SGD(c.parameters(), lr=0.05), **kwargs)
    assert ha.history == hb.history == hc.history
    for wa, wb, wc in zip(weights(a), weights(b), weights(c), strict=True):
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_array_equal(wa, wc)
    assert hc.params["steps"] == 4


def test_streams_from_a_memmap_file(tmp_path: Path) -> None:
    n = 200
    x, y = make_data(n)
    path = tmp_path / "data.f64"
    disk = np.memmap(path, dtype=np.float64, mode="w+", shape=(n, 4))
    disk[:, :3], disk[:, 3:] = x, y
    disk.flush()
    del disk

    def from_disk() -> Iterator[tuple[FloatArray, FloatArray]]:
        mm = np.memmap(path, dtype=np.float64, mode="r", shape=(n, 4))
        for start in range(0, n, 32):
            block = mm[start : start + 32]
            yield block[:, :3], block[:, 3:]

    model = make_model()
    history = model.fit(
        from_disk, None, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.05), epochs=20,
        validation_data=from_disk, verbose=0,
    )  # fmt: skip
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    streamed = model.evaluate(from_disk, None, loss=MSELoss())
    np.testing.assert_allclose(streamed["loss"], history.history["val_loss"][-1], rtol=1e-12)
    np.testing.assert_allclose(
        streamed["loss"], model.evaluate(x, y, loss=MSELoss())["loss"], rtol=1e-12
    )


def test_a_generator_is_refused_for_more_than_one_epoch() -> None:
    x, y = make_data(16)
    model = make_model()
    gen = ((x[i : i + 4], y[i : i + 4]) for i in range(0, 16, 4))
    with pytest.raises(ValueError, match=r"one-shot iterator.*other 2 epochs.*callable"):
        model.fit(gen, None, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1), epochs=3)
    history = model.fit(
        gen, None, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1), epochs=1, verbose=0
    )
    assert len(history.epoch) == 1


def test_a_stream_that_runs_dry_is_an_error() -> None:
    x, y = make_data(8)
    model = make_model()
    used: list[int] = []

    def once() -> list[tuple[FloatArray, FloatArray]]:
        used.append(1)
        return [(x, y)] if len(used) == 1 else []

    with pytest.raises(ValueError, match="epoch 2 got no batches"):
        model.fit(
            once, None, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1), epochs=2,
            verbose=0,
        )  # fmt: skip


def test_streamed_batches_are_checked_as_they_arrive() -> None:
    x, y = make_data(8)
    model = make_model()
    opt = SGD(model.parameters(), lr=0.1)
    bad_shape = [(x, y), (x[:, :2], y)]
    with pytest.raises(
        ValueError,
        match=r"fit: batch 2 of epoch 1: x_batch of shape \(8, 2\) does not fit: .*at position 0: "
        r"expected input of shape \(batch, \.\.\., 3\)",
    ):
        model.fit(bad_shape, None, loss=MSELoss(), optimizer=opt, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="batch 1 of epoch 1: x_batch has 8 samples but y_batch"):
        model.fit([(x, y[:3])], None, loss=MSELoss(), optimizer=opt, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"batch 1 of epoch 1 is ndarray, expected an \(x_batch"):
        model.fit(iter([x]), None, loss=MSELoss(), optimizer=opt, epochs=1, verbose=0)
    nan_y = y.copy()
    nan_y[0] = np.nan
    with pytest.raises(ValueError, match=r"batch 1 of epoch 1: y_batch: contains 1 NaN"):
        model.fit([(x, nan_y)], None, loss=MSELoss(), optimizer=opt, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="y_batch does not fit MSELoss"):
        model.fit([(x, y[:, [0, 0]])], None, loss=MSELoss(), optimizer=opt, epochs=1, verbose=0)


# -- bad input: each a ValueError saying what was wrong -------------------------------


@pytest.fixture
def setup() -> tuple[Sequential, SGD, FloatArray, FloatArray]:
    model = make_model()
    x, y = make_data(10)
    return model, SGD(model.parameters(), lr=0.1), x, y


def test_x_and_y_of_different_lengths(setup: Any) -> None:
    model, opt, x, y = setup
    with pytest.raises(ValueError, match="x has 10 samples, y has 9"):
        model.fit(x, y[:9], loss=MSELoss(), optimizer=opt, epochs=1)


def test_an_empty_data_set(setup: Any) -> None:
    model, opt, _, _ = setup
    with pytest.raises(ValueError, match=r"x is empty \(shape \(0, 3\)\)"):
        model.fit(np.zeros((0, 3)), np.zeros((0, 1)), loss=MSELoss(), optimizer=opt, epochs=1)
    with pytest.raises(ValueError, match=r"x is empty"):
        model.evaluate(np.zeros((0, 3)), np.zeros((0, 1)), loss=MSELoss())


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_x_or_y(setup: Any, bad: float) -> None:
    model, opt, x, y = setup
    x, y = x.copy(), y.copy()
    x[3, 1] = bad
    with pytest.raises(ValueError, match=r"fit: x: contains 1 NaN or infinite value"):
        model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=1)
    x[3, 1] = 0.0
    y[[2, 5]] = bad
    with pytest.raises(ValueError, match=r"fit: y: contains 2 NaN or infinite value"):
        model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=1)
    with pytest.raises(ValueError, match=r"fit: y_val: contains 2 NaN"):
        model.fit(
            x, np.zeros_like(y), loss=MSELoss(), optimizer=opt, epochs=1, validation_data=(x, y)
        )


def test_y_of_the_wrong_shape_for_the_loss(setup: Any) -> None:
    model, opt, x, _ = setup
    with pytest.raises(
        ValueError,
        match=r"y does not fit MSELoss\(\) for the model's output of shape \(10, 1\).*"
        r"target \(10, 2\)",
    ):
        model.fit(x, np.zeros((10, 2)), loss=MSELoss(), optimizer=opt, epochs=1)


def test_x_of_the_wrong_shape_for_the_model(setup: Any) -> None:
    model, opt, _, y = setup
    with pytest.raises(
        ValueError, match=r"expected input of shape \(batch, \.\.\., 3\), got \(10, 4\)"
    ):
        model.fit(np.zeros((10, 4)), y, loss=MSELoss(), optimizer=opt, epochs=1)


@pytest.mark.parametrize("batch_size", [0, -3])
def test_batch_size_below_one(setup: Any, batch_size: int) -> None:
    model, opt, x, y = setup
    with pytest.raises(
        ValueError, match=f"batch_size must be a positive integer, got {batch_size}"
    ):
        model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=1, batch_size=batch_size)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        model.evaluate(x, y, loss=MSELoss(), batch_size=batch_size)


@pytest.mark.parametrize("split", [1.0, -0.1, 1.5])
def test_validation_split_outside_zero_one(setup: Any, split: float) -> None:
    model, opt, x, y = setup
    with pytest.raises(ValueError, match=rf"validation_split must be in \[0, 1\), got {split}"):
        model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=1, validation_split=split)


def test_other_bad_arguments(setup: Any) -> None:
    model, opt, x, y = setup
    with pytest.raises(
        ValueError, match=r"validation_split=0\.95 of 10 samples leaves no training"
    ):
        model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=1, validation_split=0.95)
    with pytest.raises(ValueError, match="validation_data or validation_split, not both"):
        model.fit(
            x, y, loss=MSELoss(), optimizer=opt, epochs=1, validation_split=0.5,
            validation_data=(x, y),
        )  # fmt: skip
    with pytest.raises(ValueError, match="y is missing"):
        model.fit(x, None, loss=MSELoss(), optimizer=opt, epochs=1)
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 0"):
        model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=0)
    with pytest.raises(ValueError, match="verbose must be 0"):
        model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=1, verbose=3)
    with pytest.raises(TypeError, match=r"loss must be a Loss instance.*call the class"):
        model.fit(x, y, loss=MSELoss, optimizer=opt, epochs=1)
    other = SGD(make_model(5).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="optimizer updates none of this model's parameters"):
        model.fit(x, y, loss=MSELoss(), optimizer=other, epochs=1)
    with pytest.raises(TypeError, match=r"callbacks must be a list.*wrap it"):
        model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=1, callbacks=ProgressLogger())
    with pytest.raises(ValueError, match=r"validation_data must be a pair \(x_val, y_val\), got 3"):
        model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=1, validation_data=(x, y, y))
    with pytest.raises(ValueError, match="x_val and y_val have different lengths"):
        model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=1, validation_data=(x, y[:4]))
    with pytest.raises(TypeError, match="real numbers"):
        model.fit([["a", "b", "c"]], [[1.0]], loss=MSELoss(), optimizer=opt, epochs=1)


def test_bad_input_changes_nothing(setup: Any) -> None:
    model, opt, x, y = setup
    before = weights(model)
    with pytest.raises(ValueError, match="different lengths"):
        model.fit(x, y[:4], loss=MSELoss(), optimizer=opt, epochs=1)
    for got, want in zip(weights(model), before, strict=True):
        np.testing.assert_array_equal(got, want)


# -- the display -----------------------------------------------------------------------


def test_verbose_prints_one_line_per_epoch(capsys: pytest.CaptureFixture[str], setup: Any) -> None:
    model, opt, x, y = setup
    model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=3, metrics=["mae"], rng=0)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("Epoch 1/3 - ")
    assert " - loss: " in lines[2]
    assert " - mae: " in lines[2]
    assert "\r" not in "".join(lines)  # not a terminal: no live bar


def test_verbose_zero_is_silent(capsys: pytest.CaptureFixture[str], setup: Any) -> None:
    model, opt, x, y = setup
    model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=3, verbose=0)
    assert capsys.readouterr().out == ""


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_live_progress_bar_on_a_terminal(setup: Any) -> None:
    model, opt, x, y = setup
    screen = FakeTerminal()
    bar = ProgressLogger(stream=screen, delay=0.0, interval=0.0)
    model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=2, batch_size=2, callbacks=[bar],
              verbose=0)  # fmt: skip
    text = screen.getvalue()
    assert "\rEpoch 1/2 [" in text
    assert "] 5/5 - ETA: 0s - " in text
    assert text.count("\n") == 2
    assert text.rstrip("\n").split("\r\x1b[K")[-1].startswith("Epoch 2/2 - ")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 16}, r"fit: batch_size=16 has no effect when x streams "
                             r"\(x_batch, y_batch\) pairs: each pair is one step"),
        ({"shuffle": True}, r"fit: shuffle=True has no effect when x streams .*shuffle inside the "
                            r"stream"),
        ({"rng": 0}, r"fit: rng has no effect when x streams .*seed the stream itself"),
    ],
)  # fmt: skip
def test_a_stream_refuses_what_it_would_ignore(kwargs: dict[str, Any], match: str) -> None:
    x, y = make_data(8)
    model = make_model()
    before = weights(model)
    with pytest.raises(ValueError, match=match):
        model.fit([(x, y)], None, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1),
                  epochs=1, verbose=0, **kwargs)  # fmt: skip
    for a, b in zip(before, weights(model), strict=True):
        np.testing.assert_array_equal(a, b)  # refused before any step


def test_a_stream_records_no_batch_size_it_did_not_use() -> None:
    x, y = make_data(12)
    model = make_model()
    history = model.fit([(x[:5], y[:5]), (x[5:], y[5:])], None, loss=MSELoss(),
                        optimizer=SGD(model.parameters(), lr=0.1), epochs=2, shuffle=False,
                        verbose=0)  # fmt: skip
    assert history.params["batch_size"] is None
    assert history.params["steps"] == 2
    arrays = model.fit(x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
                       verbose=0)  # fmt: skip
    assert arrays.params["batch_size"] == 32


def test_a_mid_stream_error_names_the_epoch_and_the_batch() -> None:
    x, y = make_data(8)
    model = make_model()
    calls = {"n": 0}

    def batches() -> list[tuple[Any, Any]]:
        calls["n"] += 1
        if calls["n"] < 3:
            return [(x, y), (x, y)]
        return [(x, y), (x[:, :2], y)]  # the third epoch's second batch is wrongly shaped

    with pytest.raises(
        ValueError,
        match=r"fit: batch 2 of epoch 3: x_batch of shape \(8, 2\) "
        r"does not fit: .*expected input of shape "
        r"\(batch, \.\.\., 3\)",
    ):
        model.fit(batches, None, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1),
                  epochs=3, verbose=0)  # fmt: skip
    with pytest.raises(TypeError, match=r"fit: batch 1 of epoch 1: x_batch: .*"):
        model.fit([(np.array([["a", "b", "c"]]), y[:1])], None, loss=MSELoss(),
                  optimizer=SGD(model.parameters(), lr=0.1), epochs=1, verbose=0)  # fmt: skip
