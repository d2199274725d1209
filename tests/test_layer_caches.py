"""What forward keeps for backward is declared, cleared, never pickled, never read back.

Runs over every case of the gradient-check catalogue (tests/test_gradcheck_all.py,
itself checked against the package's exports), so a new layer that forgets to
declare a cache in ``cache_attributes`` fails here.
"""

from __future__ import annotations

import math
import pickle
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import layernet as ln
from layernet import FloatArray, Layer, Parameter
from test_gradcheck_all import LAYER_CASES, LayerCase

CASES = [pytest.param(case, id=case.id) for case in LAYER_CASES]

PICKLABLE = [
    *(
        pytest.param(case, id=case.id)
        for case in LAYER_CASES
        # the catalogue rewinds this Dropout's generator with a closure, which cannot pickle
        if "fixed-mask" not in case.id
    ),
    pytest.param(
        LayerCase(lambda: ln.Dropout(0.5, rng=0), (4, 5), training=True), id="Dropout-training"
    ),
]


def _inputs(case: LayerCase, rows: int | None = None) -> FloatArray:
    shape = case.input_shape if rows is None else (rows, *case.input_shape[1:])
    rng = np.random.default_rng(0)
    if case.ids:  # integer ids for an Embedding
        ids: Any = rng.integers(0, case.ids, size=shape)
        return ids  # type: ignore[no-any-return]
    x: FloatArray = rng.uniform(case.input_low, case.input_high, size=shape)
    return x


def _run(layer: Layer, x: FloatArray, training: bool) -> tuple[FloatArray, FloatArray]:
    """One forward and backward with a fixed ``dL/dy``: (output, dL/dx)."""
    y = layer.forward(x, training=training)
    grad_out = np.random.default_rng(1).normal(size=y.shape)
    return y, layer.backward(grad_out)


def _arrays(value: object, path: str) -> Iterator[tuple[str, np.ndarray[Any, Any]]]:
    """Every ndarray reachable from an attribute value through tuples, lists and dicts."""
    if isinstance(value, np.ndarray):
        yield path, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _arrays(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _arrays(item, f"{path}[{key!r}]")


def _held_arrays(layer: Layer) -> list[str]:
    """Attributes of every layer in the tree that hold an array other than a buffer.

    Parameters hold their arrays inside :class:`Parameter`; buffers are the
    arrays :meth:`Layer.named_buffers` yields. Anything else is a cache.
    """
    buffers = {id(buf) for _, buf in layer.named_buffers()}
    held = []
    for path, module in layer.named_modules():
        for name, value in vars(module).items():
            for where, array in _arrays(value, f"{path or type(module).__name__}.{name}"):
                if id(array) not in buffers:
                    held.append(f"{where} {array.shape}")
    return held


def _nbytes(layer: Layer) -> int:
    params = sum(p.value.nbytes for p in layer.parameters())
    return params + sum(buf.nbytes for _, buf in layer.named_buffers())


@pytest.mark.parametrize("case", CASES)
def test_clear_cache_leaves_only_parameters_and_buffers(case: LayerCase) -> None:
    layer = case.make()
    _run(layer, _inputs(case), case.training)
    layer.clear_cache()
    held = _held_arrays(layer)
    assert not held, f"add these attributes to cache_attributes (or make them buffers): {held}"


@pytest.mark.parametrize("case", CASES)
def test_backward_after_clear_cache_raises_and_forward_starts_afresh(case: LayerCase) -> None:
    layer = case.make()
    x = _inputs(case)
    y, dx = _run(layer, x, case.training)
    grads = {name: p.grad.copy() for name, p in layer.named_parameters()}
    layer.clear_cache()
    with pytest.raises(RuntimeError, match=r"backward\(\) called before forward\(\)"):
        layer.backward(np.ones_like(y))
    y_again, dx_again = _run(layer, x, case.training)
    np.testing.assert_array_equal(y_again, y)
    np.testing.assert_array_equal(dx_again, dx)
    for name, p in layer.named_parameters():
        np.testing.assert_array_equal(p.grad, grads[name], err_msg=name)


@pytest.mark.parametrize("case", PICKLABLE)
def test_a_pickle_holds_the_parameters_not_the_last_batch(case: LayerCase) -> None:
    layer = case.make()
    rows = max(case.input_shape[0], math.ceil(2**20 / (8 * math.prod(case.input_shape[1:]))))
    big = _inputs(case, rows)  # at least 1 MiB
    _run(layer, big, case.training)
    size = len(pickle.dumps(layer))
    assert size < _nbytes(layer) + 16_384 < big.nbytes // 16, (size, _nbytes(layer))


@pytest.mark.parametrize("case", PICKLABLE)
def test_a_pickled_layer_computes_and_trains_like_the_original(case: LayerCase) -> None:
    layer = case.make()
    x = _inputs(case)
    _run(layer, x, case.training)
    clone = pickle.loads(pickle.dumps(layer))
    with pytest.raises(RuntimeError, match=r"backward\(\) called before forward\(\)"):
        clone.backward(np.ones_like(layer.forward(x)))
    assert [n for n, _ in clone.named_parameters()] == [n for n, _ in layer.named_parameters()]
    for name, p in clone.named_parameters():
        np.testing.assert_array_equal(p.grad, np.zeros_like(p.value), err_msg=name)
    y, dx = _run(layer, x, case.training)
    y_clone, dx_clone = _run(clone, x, case.training)
    np.testing.assert_array_equal(y_clone, y)
    np.testing.assert_array_equal(dx_clone, dx)
    params = dict(layer.named_parameters())
    for name, p in clone.named_parameters():
        np.testing.assert_array_equal(p.grad, params[name].grad, err_msg=name)
    for (name, buf), (_, buf_clone) in zip(
        layer.named_buffers(), clone.named_buffers(), strict=True
    ):
        np.testing.assert_array_equal(buf_clone, buf, err_msg=name)


def _interfering(layer: Layer) -> Layer:
    """Make every cache write in the tree be undone at once, as by another thread's clear_cache.

    A forward that reads back what it has just cached (instead of using its
    local variables) then breaks or computes something else.
    """
    for _, module in layer.named_modules():
        cls = type(module)
        caches = cls.cache_attributes

        def setattr_then_clear(self: Layer, name: str, value: object, caches: Any = caches) -> None:
            object.__setattr__(self, name, value)
            if name in caches:
                object.__setattr__(self, name, None)

        module.__class__ = type(
            f"Interfered{cls.__name__}", (cls,), {"__setattr__": setattr_then_clear}
        )
    return layer


@pytest.mark.parametrize("case", CASES)
def test_forward_computes_from_local_variables_not_from_its_cache(case: LayerCase) -> None:
    x = _inputs(case)
    expected = case.make().forward(x, training=case.training)
    layer = _interfering(case.make())
    for _ in range(2):  # the second forward finds its workspace cleared too
        np.testing.assert_array_equal(layer.forward(x, training=case.training), expected)


def test_concurrent_predictions_on_one_model_are_correct() -> None:
    model = ln.Sequential(
        [ln.Dense(4, 16, rng=0), ln.Tanh(), ln.Dense(16, 8, rng=1), ln.ReLU(), ln.Dense(8, 2)]
    )
    inputs = [np.random.default_rng(seed).normal(size=(64, 4)) for seed in range(8)]
    expected = [model.predict(x) for x in inputs]
    failures: list[int] = []

    def predict_many(i: int) -> None:
        for _ in range(50):
            if not np.array_equal(model.predict(inputs[i]), expected[i]):
                failures.append(i)

    threads = [threading.Thread(target=predict_many, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


def test_a_parameter_pickles_without_its_grad() -> None:
    value = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    param = Parameter(value.copy(), name="weight")
    param.grad[...] = 7.0
    clone = pickle.loads(pickle.dumps(param))
    np.testing.assert_array_equal(clone.value, value)
    assert clone.value.dtype == np.float32
    assert clone.name == "weight"
    np.testing.assert_array_equal(clone.grad, np.zeros((3, 4), dtype=np.float32))
    assert clone.grad.dtype == np.float32
    assert clone.grad is not clone.value
    big = Parameter(np.ones(100_000))
    assert len(pickle.dumps(big)) < big.value.nbytes + 1_000  # the value once, no grad


def test_a_packed_parameter_pickles_its_own_numbers_only() -> None:
    model = ln.Sequential([ln.Dense(3, 4, rng=0), ln.Dense(4, 2, rng=1)])  # packed: views
    clone = pickle.loads(pickle.dumps(model))
    for (name, p), (_, q) in zip(model.named_parameters(), clone.named_parameters(), strict=True):
        np.testing.assert_array_equal(q.value, p.value, err_msg=name)
        assert q.grad.shape == p.value.shape
