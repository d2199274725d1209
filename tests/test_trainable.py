"""Freezing: ``trainable`` on layers and parameters (torch's requires_grad, Keras's flag)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

import layernet as ln
from reliability_cases import OPTIMIZER_VARIANTS


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


# -- optimizers skip frozen parameters --------------------------------------------------

X = np.random.default_rng(0).normal(size=(32, 3))
Y = np.tanh(X @ np.array([[1.0], [-0.5], [0.25]]))


def train(model: ln.Sequential, opt: ln.Optimizer, epochs: int = 3) -> None:
    model.fit(X, Y, loss=ln.MSELoss(), optimizer=opt, epochs=epochs, batch_size=8, verbose=0,
              rng=0)  # fmt: skip


@pytest.mark.parametrize("name", sorted(OPTIMIZER_VARIANTS))
def test_an_optimizer_leaves_frozen_parameters_alone(name: str) -> None:
    """Frozen before the optimizer is built: as if it had been built on the others alone."""
    make_opt = OPTIMIZER_VARIANTS[name]
    model, reference = make_model(), make_model()
    for m in (model, reference):
        m[3].trainable = False
    frozen_before = {n: p.value.copy() for n, p in model.named_parameters() if not p.trainable}
    train(model, make_opt(model.parameters()))
    train(reference, make_opt([p for p in reference.parameters() if p.trainable]))
    for n, p in model.named_parameters():
        if n in frozen_before:
            np.testing.assert_array_equal(p.value, frozen_before[n], err_msg=n)
        else:
            assert not np.array_equal(p.value, make_model().state_dict()[n]), n
    want = reference.state_dict()
    for n, value in model.state_dict().items():
        # the same arithmetic; only a clipped norm may sum its squares in another order
        np.testing.assert_allclose(value, want[n], rtol=1e-12, atol=1e-15, err_msg=n)


@pytest.mark.parametrize("name", sorted(set(OPTIMIZER_VARIANTS) - {"LBFGS"}))
def test_freezing_after_the_optimizer_was_built_stops_updates_and_keeps_state(name: str) -> None:
    """torch's rule: a parameter frozen mid-run gets no update and its state stays put;
    unfrozen, it continues from that state (its own step count included)."""
    model = make_model()
    opt = OPTIMIZER_VARIANTS[name](model.parameters())
    train(model, opt, epochs=1)
    head = dense(model, 4)
    head.trainable = False
    value = head.weight.value.copy()
    state = {k: np.array(v, copy=True) for k, v in opt.state.get(head.weight, {}).items()}
    train(model, opt, epochs=2)
    np.testing.assert_array_equal(head.weight.value, value)
    for key, array in state.items():
        np.testing.assert_array_equal(opt.state[head.weight][key], array, err_msg=key)
    head.trainable = True
    train(model, opt, epochs=1)
    assert not np.array_equal(head.weight.value, value)
    if "step" in state:
        assert float(opt.state[head.weight]["step"]) == float(state["step"]) + 4
        assert float(opt.state[dense(model, 0).weight]["step"]) == float(state["step"]) + 12


def test_a_fully_frozen_model_trains_nothing() -> None:
    model = make_model()
    before = {n: p.value.copy() for n, p in model.named_parameters()}
    model.trainable = False
    train(model, ln.Adam(model.parameters(), lr=0.1))
    for n, p in model.named_parameters():
        np.testing.assert_array_equal(p.value, before[n], err_msg=n)
