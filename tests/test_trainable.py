"""Freezing: ``trainable`` on layers and parameters (torch's requires_grad, Keras's flag)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

import layernet as ln


def make_model() -> ln.Sequential:
    return ln.Sequential(
        [ln.Dense(3, 8, rng=0), ln.BatchNorm1d(8), ln.ReLU(),
         ln.Sequential([ln.Dense(8, 8, rng=1), ln.Tanh()]), ln.Dense(8, 1, rng=2)]
    )  # fmt: skip


def dense(model: ln.Sequential, i: int) -> ln.Dense:
    layer = model[i]
    assert isinstance(layer, ln.Dense)
    return layer


def inner(model: ln.Sequential) -> ln.Sequential:
    block = model[3]
    assert isinstance(block, ln.Sequential)
    return block


def flags(model: ln.Layer) -> dict[str, bool]:
    return {name: p.trainable for name, p in model.named_parameters()}


def test_a_layers_flag_sets_its_parameters_and_its_childrens() -> None:
    model = make_model()
    assert model.trainable
    assert all(flags(model).values())
    model[3].trainable = False
    assert not model[3].trainable
    assert not inner(model)[0].trainable  # the child follows
    assert not inner(model)[1].trainable
    assert {n for n, t in flags(model).items() if not t} == {"3.0.weight", "3.0.bias"}
    model.trainable = True  # unfreezing the whole model unfreezes everything below
    assert all(flags(model).values())
    assert inner(model)[0].trainable
    dense(model, 0).weight.trainable = False  # one parameter alone
    assert model[0].trainable
    assert {n for n, t in flags(model).items() if not t} == {"0.weight"}


def test_trainable_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match=r"Dense\(3 -> 8\): trainable must be a bool, got str"):
        make_model()[0].trainable = "no"  # type: ignore[assignment]
    with pytest.raises(TypeError, match=r"Parameter 'w': trainable must be a bool, got int"):
        ln.Parameter(np.zeros(2), name="w", trainable=0)  # type: ignore[arg-type]


def test_summary_counts_trainable_and_non_trainable_parameters() -> None:
    model = make_model()
    assert "Trainable parameters" not in model.summary()  # nothing frozen: one total
    model[0].trainable = False  # 3 * 8 + 8 = 32 parameters
    text = model.summary()
    assert "Total parameters: 129 (float64)" in text
    assert "Trainable parameters: 97" in text
    assert "Non-trainable parameters: 32" in text


def test_save_load_and_pickle_keep_the_flags(tmp_path: Path) -> None:
    model = make_model()
    model[3].trainable = False
    inner(model)[1].trainable = True  # a child unfrozen under a frozen parent stays so
    dense(model, 4).bias.trainable = False
    ln.save(model, tmp_path / "m.npz")
    copies = [ln.load(tmp_path / "m.npz", expect=ln.Sequential), pickle.loads(pickle.dumps(model))]
    for copy in copies:
        assert flags(copy) == flags(model)
        assert [layer.trainable for _, layer in copy.named_modules()] == [
            layer.trainable for _, layer in model.named_modules()
        ]
    assert not ln.load(tmp_path / "m.npz", expect=ln.Sequential)[3].trainable
    assert "trainable=False" in repr(dense(model, 4).bias)
