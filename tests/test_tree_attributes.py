"""Declared ``tree_attributes`` walk the tree a scan finds, and training never reads ``__dict__``.

Runs over every case of the gradient-check catalogue (tests/test_gradcheck_all.py,
itself checked against the package's exports), so a layernet class that adds a
Parameter or a child without declaring it fails here.
"""

from __future__ import annotations

import gc
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import layernet as ln
from layernet import Layer, Parameter
from test_gradcheck_all import LAYER_CASES, LayerCase
from test_layer_caches import _inputs

CASES = [pytest.param(case, id=case.id) for case in LAYER_CASES]


def _walk(layer: Layer) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Names and identities of every parameter and every module, in the walk's order."""
    params = [(name, id(p)) for name, p in layer.named_parameters()]
    modules = [(path, id(m)) for path, m in layer.named_modules()]
    return params, modules


@pytest.mark.parametrize("case", CASES)
def test_declared_tree_is_the_scanned_tree(
    case: LayerCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    layer = case.make()
    layer.forward(_inputs(case), training=case.training)  # attributes a forward may add
    classes = {type(module) for _, module in layer.named_modules()}
    for cls in classes:
        if cls.__module__.startswith("layernet."):
            assert cls.tree_attributes is not None, f"{cls.__name__} declares no tree_attributes"
    declared = _walk(layer)
    for cls in classes:
        monkeypatch.setattr(cls, "tree_attributes", None)
    assert _walk(layer) == declared


def test_a_subclass_defined_elsewhere_scans_its_attributes() -> None:
    class Scaled(ln.Dense):
        def __init__(self) -> None:
            super().__init__(2, 3, rng=0)
            self.scale = Parameter(np.ones(3), name="scale")

    assert Scaled.tree_attributes is None
    assert [name for name, _ in Scaled().named_parameters()] == ["weight", "bias", "scale"]


def test_a_user_layer_may_declare_its_attributes() -> None:
    class Gain(ln.Layer):
        tree_attributes = ("gain",)

        def __init__(self) -> None:
            self.gain = Parameter(np.full(2, 3.0), name="gain")

        def forward(self, x: Any, *, training: bool = False) -> Any:
            return x * self.gain.value

        def backward(self, grad_out: Any) -> Any:
            return grad_out * self.gain.value

    model = ln.Sequential([ln.Dense(2, 2, rng=0), Gain()])
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.gain"]


def _dict_was_read(obj: object) -> bool:
    """Whether ``obj``'s attributes moved into a dict (then its only referents: that and its type).

    While they are inline, gc.get_referents lists the attribute values themselves.
    """
    held = gc.get_referents(obj)
    return (
        len(held) == 2
        and isinstance(held[0], dict)
        and held[1] is type(obj)
        and all(isinstance(key, str) for key in held[0])
    )


def _inline_attributes_exist() -> bool:
    """Whether this interpreter keeps attributes outside a dict until ``__dict__`` is read."""

    class Probe:
        pass

    probe = Probe()
    probe.value = 1.0  # type: ignore[attr-defined]
    return not _dict_was_read(probe)


@pytest.mark.skipif(
    not _inline_attributes_exist(), reason="attributes always live in a dict on this Python"
)
def test_training_saving_and_pickling_never_read_a_layers_dict(tmp_path: Path) -> None:
    """On CPython 3.11+ a read of ``__dict__`` makes every later attribute access slower.

    gc.get_referents shows a layer's attribute values while they are inline, and
    its ``__dict__`` once something has read it.
    """
    model = ln.Sequential(
        [ln.Dense(2, 3, rng=0), ln.Sigmoid(), ln.Dropout(0.1, rng=1), ln.Dense(3, 1, rng=2)]
    )
    x = np.random.default_rng(0).normal(size=(16, 2))
    y = x[:, :1] * 2.0
    checkpoint = ln.ModelCheckpoint(str(tmp_path / "best.npz"))
    model.fit(
        x,
        y,
        loss=ln.MSELoss(),
        optimizer=ln.Adam(model.parameters()),
        epochs=2,
        batch_size=4,
        validation_data=(x, y),
        callbacks=[checkpoint],
        verbose=0,
    )
    model.predict(x)
    model.summary()
    model.astype(np.float32).astype(np.float64)
    ln.save(model, tmp_path / "model.npz")
    copy = pickle.loads(pickle.dumps(ln.load(tmp_path / "model.npz")))
    for owner in (model, copy):
        for path, layer in owner.named_modules():
            if isinstance(layer, ln.Dropout) and owner is model:
                continue  # holds a Generator: saving reads its attributes to find it
            assert not _dict_was_read(layer), f"{path or 'model'}: {gc.get_referents(layer)}"


@pytest.mark.skipif(
    not _inline_attributes_exist(), reason="attributes always live in a dict on this Python"
)
@pytest.mark.parametrize("case", CASES)
def test_no_layer_reads_its_own_dict(case: LayerCase) -> None:
    """Forward, backward, the walks and clear_cache, over every layer; and an unpickled copy.

    (Pickling reads the pickled layer's ``__dict__``: there is no other way to
    list its attributes. The copy it makes is built without one.)
    """
    layer = case.make()
    x = _inputs(case)
    for _ in range(2):
        y = layer.forward(x, training=case.training)
        layer.backward(np.ones_like(y))
    layer.backward_parameters(np.ones_like(y))
    layer.state_dict()
    layer.clear_cache()
    _assert_no_dict_read(layer, case.id)
    if "fixed-mask" in case.id:
        return  # its generator is rewound by a closure, which cannot pickle
    copy = pickle.loads(pickle.dumps(layer))
    copy.forward(x, training=case.training)
    _assert_no_dict_read(copy, case.id)


def _assert_no_dict_read(model: Layer, name: str) -> None:
    for path, module in model.named_modules():
        assert not _dict_was_read(module), f"{path or name}: {gc.get_referents(module)}"
