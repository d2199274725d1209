"""Packing has one owner, the optimizer: who packs what, and what stays correct when it moves."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import layernet
from layernet import SGD, Adam, Dense, Parameter, ReLU, Sequential, Sigmoid
from layernet.parameter import flat_span, pack_parameters


def make_model(seed: int = 0) -> Sequential:
    return Sequential([Dense(3, 4, rng=seed), ReLU(), Dense(4, 2, rng=seed + 1)])


def arrays_of(params: list[Parameter]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(p.value, p.grad) for p in params]


def same_arrays(params: list[Parameter], arrays: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    return all(
        p.value is value and p.grad is grad for p, (value, grad) in zip(params, arrays, strict=True)
    )


def tiles(params: list[Parameter]) -> bool:
    return (
        flat_span([p.value for p in params]) is not None
        and flat_span([p.grad for p in params]) is not None
    )


def steps_flat(opt: layernet.Optimizer) -> bool:
    """Whether ``opt``'s last step went over slices of one buffer (else parameter by parameter)."""
    layout = opt._layout
    assert layout is not None, "the optimizer has not stepped yet"
    return layout.flat


def set_grads(params: list[Parameter], seed: int) -> None:
    rng = np.random.default_rng(seed)
    for p in params:
        p.grad[...] = rng.normal(size=p.shape)


def unpacked_copy(params: list[Parameter]) -> list[Parameter]:
    """The same numbers in separately allocated arrays, as no optimizer would lay them out."""
    return [Parameter(p.value.copy(), p.grad.copy(), name=p.name) for p in params]


def move(params: list[Parameter]) -> None:
    for p in params:
        p.value, p.grad = p.value.copy(), p.grad.copy()


def test_an_optimizer_packs_its_parameters_into_one_buffer_and_keeps_their_values() -> None:
    model = make_model()
    params = list(model.parameters())
    before = [p.value.copy() for p in params]
    assert not tiles(params)
    SGD(model.parameters(), lr=0.1)
    assert tiles(params)
    owner = flat_span([p.value for p in params])
    assert owner is not None
    assert owner.size == sum(p.size for p in params)
    for p, value in zip(params, before, strict=True):
        np.testing.assert_array_equal(p.value, value)


def test_packing_again_moves_nothing_that_already_tiles() -> None:
    params = list(make_model().parameters())
    pack_parameters(params)
    arrays = arrays_of(params)
    pack_parameters(params)
    pack_parameters(params[2:])  # a run of a packed buffer tiles too
    Adam(params, lr=0.1)
    assert same_arrays(params, arrays)


def test_a_single_parameter_is_updated_where_it_is() -> None:
    p = Parameter(np.ones((3, 2)))
    value, grad = p.value, p.grad
    opt = Adam([p], lr=0.1)
    p.grad[...] = 1.0
    opt.step()
    assert p.value is value
    assert p.grad is grad
    assert steps_flat(opt)


def test_an_optimizer_over_a_subset_packs_only_those() -> None:
    model = make_model()
    first, last = list(model[0].parameters()), list(model[2].parameters())
    untouched = arrays_of(first)
    SGD(model[2].parameters(), lr=0.1)
    assert tiles(last)
    assert same_arrays(first, untouched)


def test_lbfgs_leaves_the_parameters_where_they_are() -> None:
    model = make_model()
    params = list(model.parameters())
    arrays = arrays_of(params)
    opt = layernet.LBFGS(model.parameters())
    assert isinstance(opt, layernet.optimizers.FullBatchOptimizer)
    assert same_arrays(params, arrays)
    w = opt.pack()
    opt.unpack(w + 1.0)
    assert same_arrays(params, arrays)


def test_slicing_or_nesting_a_model_keeps_an_optimizers_fast_path() -> None:
    model = make_model()
    opt = Adam(model.parameters(), lr=0.01)
    params = list(model.parameters())
    reference = unpacked_copy(params)
    opt_ref = Adam(reference, lr=0.01)
    move(reference)
    set_grads(params, 0)
    set_grads(reference, 0)
    opt.step()
    opt_ref.step()
    layout, arrays = opt._layout, arrays_of(params)
    tail = model[1:]
    outer = Sequential([model, Sigmoid()])
    assert len(list(tail.parameters())) == 2
    assert len(list(outer.parameters())) == 4
    assert same_arrays(params, arrays)
    for step in range(1, 3):
        set_grads(params, step)
        set_grads(reference, step)
        opt.step()
        opt_ref.step()
    assert opt._layout is layout  # not gathered again: nothing moved
    assert steps_flat(opt)
    for p, q in zip(params, reference, strict=True):
        np.testing.assert_allclose(p.value, q.value, rtol=1e-13, atol=1e-15)


SECOND: dict[str, Callable[[list[Parameter]], list[Parameter]]] = {
    "same-parameters": lambda ps: ps,
    "a-superset": lambda ps: [*ps, Parameter(np.ones(5))],
    "reversed": lambda ps: ps[::-1],
    "a-subset": lambda ps: ps[1:3],
}


@pytest.mark.parametrize("second", list(SECOND))
def test_two_optimizers_over_the_same_parameters_both_update_correctly(second: str) -> None:
    def build(params: list[Parameter]) -> tuple[layernet.Optimizer, layernet.Optimizer]:
        first = SGD(params[:3], lr=0.1, momentum=0.9, weight_decay=0.01)
        return first, Adam(SECOND[second](params), lr=0.01)

    params = list(make_model().parameters())
    first, other = build(params)
    reference = unpacked_copy(params)
    ref_first, ref_other = build(reference)
    move(reference)  # nothing tiles: both reference optimizers update parameter by parameter
    for step in range(4):
        for ps, opts in ((params, (first, other)), (reference, (ref_first, ref_other))):
            set_grads(ps, step)
            for opt in opts:
                opt.step()
    for p, q in zip(params, reference, strict=True):
        np.testing.assert_allclose(p.value, q.value, rtol=1e-13, atol=1e-15)
    for opt, ref in ((first, ref_first), (other, ref_other)):
        mine, theirs = opt.state_dict()["state"], ref.state_dict()["state"]
        assert mine.keys() == theirs.keys()
        for i, slots in theirs.items():
            for key, arr in slots.items():
                np.testing.assert_allclose(mine[i][key], arr, rtol=1e-13, atol=1e-15)
    # the second packs only what does not tile already; the first re-derives its layout
    assert steps_flat(other)
    assert steps_flat(first) == (second != "reversed")


def test_parameters_of_two_dtypes_get_a_buffer_each_and_update_correctly() -> None:
    rng = np.random.default_rng(0)
    params = [
        Parameter(rng.normal(size=(3, 2)).astype(dtype), name=str(i))
        for i, dtype in enumerate([np.float32, np.float64, np.float32, np.float64])
    ]
    reference = unpacked_copy(params)
    opt, opt_ref = Adam(params, lr=0.01), Adam(reference, lr=0.01)
    move(reference)
    assert tiles(params[0::2])
    assert tiles(params[1::2])
    for step in range(3):
        set_grads(params, step)
        set_grads(reference, step)
        opt.step()
        opt_ref.step()
    for p, q in zip(params, reference, strict=True):
        assert p.value.dtype == q.value.dtype
        np.testing.assert_array_equal(p.value, q.value)
        assert float(opt.state[p]["step"]) == 3.0


def test_an_empty_parameter_does_not_spoil_the_flat_path() -> None:
    rng = np.random.default_rng(0)
    params = [Parameter(rng.normal(size=(3, 2))), Parameter(np.zeros(0)), Parameter(np.ones(4))]
    reference = unpacked_copy(params)
    opt, opt_ref = SGD(params, lr=0.1, momentum=0.5), SGD(reference, lr=0.1, momentum=0.5)
    move(reference)
    for step in range(3):
        set_grads(params, step)
        set_grads(reference, step)
        opt.step()
        opt_ref.step()
    assert steps_flat(opt)
    for p, q in zip(params, reference, strict=True):
        np.testing.assert_array_equal(p.value, q.value)
    assert opt.state[params[1]]["momentum_buffer"].shape == (0,)


@pytest.mark.parametrize(
    "build",
    [
        lambda ps: SGD(ps, lr=0.1, momentum=-1.0),
        lambda ps: SGD(ps, lr=-0.1),
        lambda ps: Adam(ps, betas=(0.9, 1.0)),
        lambda ps: layernet.AdamW(ps, eps=-1.0),
        lambda ps: layernet.RMSprop(ps, alpha=2.0),
        lambda ps: layernet.Adagrad(ps, lr_decay=-1.0),
    ],
)
def test_a_constructor_that_raises_moves_no_parameter(
    build: Callable[[list[Parameter]], object],
) -> None:
    params = list(make_model().parameters())
    arrays = arrays_of(params)
    with pytest.raises(ValueError, match="must be"):
        build(params)
    assert same_arrays(params, arrays)
