"""Training belongs to every model: a user's container trains, evaluates, predicts,
summarises, saves and pickles like a Sequential, through one implementation."""

from __future__ import annotations

import gc
import pickle
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import layernet as ln
from layernet import FloatArray
from layernet.layers.base import check_unique
from layernet.layers.registry import to_spec


@ln.register
class TwoTowers(ln.Model):
    """``y = left(x) + right(x)``: the smallest container that is not a Sequential."""

    def __init__(self, left: ln.Layer, right: ln.Layer) -> None:
        self.left = left
        self.right = right
        check_unique(self.named_children(), "TwoTowers")

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        return self.left.forward(x, training=training) + self.right.forward(x, training=training)

    def backward(self, grad_out: FloatArray) -> FloatArray:
        return self.left.backward(grad_out) + self.right.backward(grad_out)

    def get_config(self) -> dict[str, Any]:
        return {"left": to_spec(self.left), "right": to_spec(self.right)}

    @property
    def input_spec(self) -> ln.InputSpec | tuple[int | None, ...] | None:
        return self.left.input_spec


def towers(seed: int = 0) -> TwoTowers:
    return TwoTowers(
        ln.Sequential([ln.Dense(3, 8, rng=seed), ln.Tanh(), ln.Dense(8, 2, rng=seed + 1)]),
        ln.Dense(3, 2, rng=seed + 2),
    )


DATA = np.random.default_rng(0).normal(size=(64, 3))
TARGET = np.stack([DATA[:, 0] * DATA[:, 1], np.sin(DATA[:, 2])], axis=1)


def test_a_user_container_exposes_its_children_with_torch_style_names() -> None:
    model = towers()
    assert [name for name, _ in model.named_children()] == ["left", "right"]
    assert [name for name, _ in model.named_parameters()] == [
        "left.0.weight",
        "left.0.bias",
        "left.2.weight",
        "left.2.bias",
        "right.weight",
        "right.bias",
    ]
    assert [path for path, _ in model.named_modules()] == [
        "",
        "left",
        "left.0",
        "left.1",
        "left.2",
        "right",
    ]


def test_a_user_container_trains_evaluates_and_predicts() -> None:
    model = towers()
    before = ln.MSELoss().forward(model.predict(DATA), TARGET)
    history = model.fit(
        DATA,
        TARGET,
        loss=ln.MSELoss(),
        optimizer=ln.Adam(model.parameters(), lr=0.05),
        epochs=30,
        batch_size=16,
        metrics=["mae"],
        verbose=0,
        rng=0,
    )
    scores = model.evaluate(DATA, TARGET, loss=ln.MSELoss(), metrics=["mae"])
    assert scores["loss"] < before / 3
    np.testing.assert_allclose(history.history["loss"][-1], scores["loss"], rtol=0.5)
    assert set(scores) == {"loss", "mae"}


def test_the_functions_take_any_layer_and_match_the_methods() -> None:
    a, b = towers(), towers()
    kwargs: dict[str, Any] = {"loss": ln.MSELoss(), "epochs": 3, "verbose": 0, "rng": 1}
    a.fit(DATA, TARGET, optimizer=ln.SGD(a.parameters(), lr=0.1), **kwargs)
    ln.fit(b, DATA, TARGET, optimizer=ln.SGD(b.parameters(), lr=0.1), **kwargs)
    np.testing.assert_array_equal(a.predict(DATA), ln.predict(b, DATA))
    dense = ln.Dense(3, 2, rng=0)  # a plain layer used as a model
    ln.fit(dense, DATA, TARGET, optimizer=ln.SGD(dense.parameters(), lr=0.1), **kwargs)
    np.testing.assert_array_equal(ln.predict(dense, DATA), dense(DATA))
    assert ln.evaluate(dense, DATA, TARGET, loss=ln.MSELoss())["loss"] > 0


def test_summary_walks_the_tree() -> None:
    text = towers().summary()
    lines = text.splitlines()
    assert any(line.startswith("left ") and "Sequential(3 layers)" in line for line in lines)
    assert any(line.startswith("left.0") and "Dense(3 -> 8)" in line for line in lines)
    assert any(line.startswith("right ") and "Dense(3 -> 2)" in line for line in lines)
    assert "Total parameters: 58 (float64)" in text
    nested = ln.Sequential([ln.Sequential([ln.Dense(2, 3, rng=0), ln.Tanh()]), ln.Dense(3, 1)])
    rows = [line.split() for line in nested.summary().splitlines() if line[:1].isdigit()]
    assert [(r[0], r[-1]) for r in rows] == [("0", "9"), ("0.0", "9"), ("0.1", "0"), ("1", "4")]
    assert rows[1][-3:-1] == ["(batch,", "3)"]


def test_save_and_load_return_the_saved_class_nested(tmp_path: Path) -> None:
    model = towers()
    model.fit(DATA, TARGET, loss=ln.MSELoss(), optimizer=ln.SGD(model.parameters(), lr=0.1),
              epochs=2, verbose=0, rng=0)  # fmt: skip
    ln.save(model, tmp_path / "towers.npz")
    loaded = ln.load(tmp_path / "towers.npz", expect=TwoTowers)
    assert isinstance(loaded.left, ln.Sequential)
    assert isinstance(loaded.right, ln.Dense)
    np.testing.assert_array_equal(loaded.predict(DATA), model.predict(DATA))
    dense = ln.Dense(3, 2, rng=0)
    ln.save(dense, tmp_path / "dense.npz")
    assert type(ln.load(tmp_path / "dense.npz")) is ln.Dense  # no wrapping in a Sequential
    with pytest.raises(TypeError, match=r"dense\.npz holds a Dense, expected a Sequential"):
        ln.load(tmp_path / "dense.npz", expect=ln.Sequential)


# -- one instance, one place -------------------------------------------------------------


def test_a_layer_used_twice_is_refused_at_construction() -> None:
    d = ln.Dense(3, 3, rng=0)
    with pytest.raises(
        ValueError,
        match=r"Sequential: the same Dense\(3 -> 3\) instance is used twice in the model, "
        r"at '0' and at '2'.*Build a second layer",
    ):
        ln.Sequential([d, ln.Tanh(), d])
    inner = ln.Sequential([d, ln.Tanh()])
    with pytest.raises(ValueError, match=r"at '0.0' and at '1'"):
        ln.Sequential([inner, d])
    t = ln.Tanh()  # a parameter-free layer caches too
    with pytest.raises(ValueError, match="used twice"):
        ln.Sequential([ln.Dense(3, 3), t, ln.Dense(3, 3), t])
    model = ln.Sequential([ln.Dense(3, 3)])
    with pytest.raises(ValueError, match="used twice"):
        model.add(model[0])
    assert len(model) == 1  # a refused add changes nothing


def test_fit_refuses_a_user_container_that_shares_a_layer() -> None:
    model = towers()
    left = model.left
    assert isinstance(left, ln.Sequential)
    model.right = left[0]  # sharing smuggled in after construction
    with pytest.raises(ValueError, match=r"fit: the same Dense\(3 -> 8\) instance is used twice"):
        model.fit(DATA, TARGET, loss=ln.MSELoss(), optimizer=ln.SGD(model.parameters(), lr=0.1),
                  epochs=1, verbose=0)  # fmt: skip


# -- caches do not outlive their use -------------------------------------------------------


def mlp(seed: int = 0) -> ln.Sequential:
    return ln.Sequential(
        [
            ln.Dense(32, 64, rng=seed),
            ln.BatchNorm1d(64),
            ln.GELU(),
            ln.Dropout(0.1, rng=seed),
            ln.Dense(64, 64, rng=seed + 1),
            ln.Tanh(),
            ln.Dense(64, 3, rng=seed + 2),
            ln.Softmax(),
        ]
    )


def array_bytes(model: ln.Layer) -> int:
    """Bytes of every ndarray reachable from the layers' attributes (parameters included)."""
    seen: set[int] = set()
    total = 0

    def visit(value: object) -> Iterator[np.ndarray[Any, Any]]:
        if isinstance(value, np.ndarray):
            yield value
        elif isinstance(value, ln.Parameter):
            yield value.value
            yield value.grad
        elif isinstance(value, (list, tuple)):
            for item in value:
                yield from visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                yield from visit(item)

    for _, layer in model.named_modules():
        for value in vars(layer).values():
            for array in visit(value):
                owner = array if array.base is None else array.base
                if isinstance(owner, np.ndarray) and id(owner) not in seen:
                    seen.add(id(owner))
                    total += owner.nbytes
    return total


def parameter_bytes(model: ln.Layer) -> int:
    params = sum(p.value.nbytes for p in model.parameters())
    buffers = sum(b.nbytes for _, b in model.named_buffers())
    return params + buffers


def test_predict_leaves_nothing_behind_but_parameters_and_buffers() -> None:
    model = mlp()
    held = array_bytes(model)  # parameters, their gradients, buffers
    x = np.random.default_rng(0).normal(size=(20_000, 32))
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out = model.predict(x)
        assert out.shape == (20_000, 3)
        del out
        gc.collect()
        left = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert array_bytes(model) == held
    assert left < x.nbytes / 20, f"predict left {left} bytes allocated for a {x.nbytes}-byte batch"
    with pytest.raises(RuntimeError, match="backward\\(\\) called before forward\\(\\)"):
        model.backward(np.ones((4, 3)))


def test_evaluate_and_fit_clear_their_caches_too() -> None:
    model = mlp()
    held = array_bytes(model)
    labels = np.arange(2_000) % 3
    x = np.random.default_rng(1).normal(size=(2_000, 32))
    model.evaluate(x, labels, loss=ln.CrossEntropyLoss(), batch_size=500)
    assert array_bytes(model) == held
    model2 = ln.Sequential([ln.Dense(32, 16, rng=0), ln.ReLU(), ln.Dense(16, 3, rng=1)])
    held2 = array_bytes(model2)
    model2.fit(x, labels, loss=ln.CrossEntropyLoss(), optimizer=ln.SGD(model2.parameters(), lr=0.1),
               epochs=1, batch_size=500, verbose=0, rng=0)  # fmt: skip
    assert array_bytes(model2) == held2


def test_a_model_pickles_compactly_and_trains_after_unpickling() -> None:
    model = ln.Sequential([ln.Dense(64, 128, rng=0), ln.ReLU(), ln.Dense(128, 10, rng=1)])
    x = np.random.default_rng(2).normal(size=(256, 64))
    labels = np.arange(256) % 10
    model.predict(x)
    model.forward(x, training=True)  # a forward outside predict fills the caches
    blob = pickle.dumps(model)
    weights = sum(p.value.nbytes for p in model.parameters())
    assert len(blob) < 1.1 * weights + 20_000, (len(blob), weights)
    clone = pickle.loads(blob)
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))
    fits = []
    for m in (model, clone):
        opt = ln.Adam(m.parameters(), lr=1e-3)
        m.fit(x, labels, loss=ln.CrossEntropyLoss(), optimizer=opt, epochs=2, verbose=0, rng=3)
        fits.append(m.predict(x))
    np.testing.assert_array_equal(fits[0], fits[1])


def test_concurrent_predict_calls_on_one_model_are_correct() -> None:
    model = mlp()
    inputs = [np.random.default_rng(i).normal(size=(100 + i, 32)) for i in range(8)]
    expected = [model.predict(x) for x in inputs]
    errors: list[str] = []

    def worker(k: int) -> None:
        for rep in range(50):
            i = (k + rep) % len(inputs)
            got = model.predict(inputs[i])
            if not np.array_equal(got, expected[i]):
                errors.append(f"thread {k}, call {rep}: wrong result for input {i}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
