"""Optimizers against reference steps computed by hand (torch.optim's rules), and clipping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from layernet import SGD, Adagrad, Adam, AdamW, Optimizer, Parameter, RMSprop, clip_grad_norm
from layernet.optimizers import base


def make_param(seed: int = 0, dtype: type[np.floating[Any]] = np.float64) -> Parameter:
    rng = np.random.default_rng(seed)
    return Parameter(rng.normal(size=(3, 2)).astype(dtype), rng.normal(size=(3, 2)).astype(dtype))


def test_plain_sgd_is_w_minus_lr_grad() -> None:
    p = make_param()
    expected = p.value - 0.1 * p.grad
    value = p.value
    SGD([p], lr=0.1).step()
    assert p.value is value
    np.testing.assert_allclose(p.value, expected, rtol=1e-15)


def test_momentum_dampening_and_weight_decay_by_hand() -> None:
    p = make_param()
    lr, mu, damp, wd = 0.05, 0.9, 0.2, 0.01
    opt = SGD([p], lr=lr, momentum=mu, dampening=damp, weight_decay=wd)
    w = p.value.copy()
    buf = np.zeros_like(w)
    grads = [np.random.default_rng(i).normal(size=w.shape) for i in range(4)]
    for i, g in enumerate(grads):
        p.grad[...] = g
        opt.step()
        d = g + wd * w
        buf = d.copy() if i == 0 else mu * buf + (1 - damp) * d
        w = w - lr * buf
        np.testing.assert_allclose(p.value, w, rtol=1e-13)


def test_nesterov_by_hand() -> None:
    p = make_param()
    lr, mu = 0.1, 0.8
    opt = SGD([p], lr=lr, momentum=mu, nesterov=True)
    w = p.value.copy()
    buf = np.zeros_like(w)
    for i in range(4):
        g = np.random.default_rng(10 + i).normal(size=w.shape)
        p.grad[...] = g
        opt.step()
        buf = g.copy() if i == 0 else mu * buf + g
        w = w - lr * (g + mu * buf)
        np.testing.assert_allclose(p.value, w, rtol=1e-13)


def test_lr_can_be_read_and_set() -> None:
    p = make_param()
    opt = SGD([p], lr=0.1)
    opt.lr = 0.5
    expected = p.value - 0.5 * p.grad
    opt.step()
    np.testing.assert_allclose(p.value, expected, rtol=1e-15)
    assert opt.get_config()["lr"] == 0.5


def test_duplicate_parameters_are_updated_once() -> None:
    p = make_param()
    expected = p.value - 0.1 * p.grad
    SGD([p, p], lr=0.1).step()
    np.testing.assert_allclose(p.value, expected, rtol=1e-15)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_float32_stays_float32_and_no_state_is_reallocated(momentum: float) -> None:
    p = make_param(dtype=np.float32)
    opt = SGD([p], lr=0.1, momentum=momentum, weight_decay=0.1)
    opt.step()

    def owned() -> dict[str, int]:
        arrays = {key: buf for key, buf in opt.state.get(p, {}).items()}
        arrays.update((str(key), buf) for key, buf in opt._scratch_buffers.items())
        assert all(buf.dtype == np.float32 for buf in arrays.values())
        return {key: id(buf) for key, buf in arrays.items()}

    buffers = owned()
    opt.step()
    assert owned() == buffers
    assert p.value.dtype == np.float32
    assert ("momentum_buffer" in opt.state.get(p, {})) == bool(momentum)


@pytest.mark.parametrize("packed", [True, False], ids=["packed", "parameter-by-parameter"])
def test_scratch_is_shared_not_a_second_copy_of_the_model(
    packed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "_CHUNK", 500)
    params = [Parameter(np.ones(shape)) for shape in [(50, 40), (40,), (40, 3), (3,)]]
    for p in params:
        p.grad[...] = 0.5
    opt = SGD(params, lr=0.1)
    if not packed:  # moved after the optimizer was built: it updates them one by one
        for p in params:
            p.value, p.grad = p.value.copy(), p.grad.copy()
    opt.step()
    assert opt.state == {}
    # one slice's worth, of the packed buffer or of the largest parameter
    assert sum(buf.size for buf in opt._scratch_buffers.values()) == 500
    for p in params:
        np.testing.assert_allclose(p.value, 0.95)


# -- Adam, AdamW, RMSprop, Adagrad: reference steps written out by hand ----------------------

GRADS = [np.random.default_rng(100 + i).normal(size=(3, 2)) for i in range(5)]


def run(opt: Optimizer, p: Parameter) -> list[np.ndarray[Any, Any]]:
    values = []
    for g in GRADS:
        p.grad[...] = g
        opt.step()
        values.append(p.value.copy())
    return values


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_by_hand_with_bias_correction_and_l2(weight_decay: float) -> None:
    p = make_param()
    lr, b1, b2, eps = 0.01, 0.8, 0.95, 1e-6
    got = run(Adam([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay), p)
    w = make_param().value
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, (g, value) in enumerate(zip(GRADS, got, strict=True), start=1):
        g = g + weight_decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(value, w, rtol=1e-13)


def test_adam_first_step_moves_each_weight_by_about_lr() -> None:
    p = make_param()
    before = p.value.copy()
    Adam([p], lr=0.001).step()
    np.testing.assert_allclose(before - p.value, 0.001 * np.sign(p.grad), rtol=1e-6)


def test_adamw_decays_the_weights_before_the_adam_step() -> None:
    p = make_param()
    lr, wd, b1, b2, eps = 0.05, 0.2, 0.9, 0.999, 1e-8
    got = run(AdamW([p], lr=lr, weight_decay=wd), p)
    w = make_param().value
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, (g, value) in enumerate(zip(GRADS, got, strict=True), start=1):
        w = w * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr / (1 - b1**t) * m / (np.sqrt(v) / np.sqrt(1 - b2**t) + eps)
        np.testing.assert_allclose(value, w, rtol=1e-13)
    assert AdamW([p]).weight_decay == 0.01


@pytest.mark.parametrize(
    ("momentum", "centered", "weight_decay"),
    [(0.0, False, 0.0), (0.9, False, 0.0), (0.0, True, 0.0), (0.5, True, 0.05)],
)
def test_rmsprop_by_hand(momentum: float, centered: bool, weight_decay: float) -> None:
    p = make_param()
    lr, alpha, eps = 0.01, 0.9, 1e-8
    opt = RMSprop(
        [p], lr=lr, alpha=alpha, momentum=momentum, centered=centered, weight_decay=weight_decay
    )
    got = run(opt, p)
    w = make_param().value
    v = np.zeros_like(w)
    gbar = np.zeros_like(w)
    b = np.zeros_like(w)
    for g, value in zip(GRADS, got, strict=True):
        g = g + weight_decay * w
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            gbar = alpha * gbar + (1 - alpha) * g
            denom = np.sqrt(v - gbar * gbar) + eps
        else:
            denom = np.sqrt(v) + eps
        if momentum:
            b = momentum * b + g / denom
            w = w - lr * b
        else:
            w = w - lr * g / denom
        np.testing.assert_allclose(value, w, rtol=1e-12)


@pytest.mark.parametrize(
    ("lr_decay", "weight_decay", "initial"), [(0.0, 0.0, 0.0), (0.1, 0.02, 0.5)]
)
def test_adagrad_by_hand(lr_decay: float, weight_decay: float, initial: float) -> None:
    p = make_param()
    lr, eps = 0.1, 1e-10
    opt = Adagrad(
        [p],
        lr=lr,
        lr_decay=lr_decay,
        weight_decay=weight_decay,
        initial_accumulator_value=initial,
    )
    got = run(opt, p)
    w = make_param().value
    acc = np.full_like(w, initial)
    for t, (g, value) in enumerate(zip(GRADS, got, strict=True), start=1):
        g = g + weight_decay * w
        acc = acc + g * g
        w = w - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(acc) + eps)
        np.testing.assert_allclose(value, w, rtol=1e-13)


def test_defaults_match_torch() -> None:
    p = make_param()
    assert Adam([p]).get_config() == {
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "max_grad_norm": None,
    }
    assert AdamW([p]).get_config()["weight_decay"] == 1e-2
    rms = RMSprop([p]).get_config()
    assert (rms["lr"], rms["alpha"], rms["eps"], rms["momentum"], rms["centered"]) == (
        1e-2,
        0.99,
        1e-8,
        0.0,
        False,
    )
    ada = Adagrad([p]).get_config()
    assert (ada["lr"], ada["eps"], ada["lr_decay"], ada["initial_accumulator_value"]) == (
        1e-2,
        1e-10,
        0.0,
        0.0,
    )


def test_step_counts_live_in_the_state_as_arrays() -> None:
    p = make_param()
    opt = Adam([p])
    run(opt, p)
    step = opt.state[p]["step"]
    assert isinstance(step, np.ndarray)
    assert step.shape == ()
    assert float(step) == len(GRADS)


def test_restoring_the_state_reproduces_the_trajectory() -> None:
    a, b = make_param(), make_param()
    opt_a, opt_b = Adam([a], lr=0.01), Adam([b], lr=0.01)
    a.grad[...] = b.grad[...] = GRADS[0]
    opt_a.step()
    opt_b.step()
    saved = {key: buf.copy() for key, buf in opt_a.state[a].items()}
    value = a.value.copy()
    a.grad[...] = GRADS[1]
    opt_a.step()
    for key, buf in opt_a.state[a].items():
        buf[...] = saved[key]
    a.value[...] = value
    for opt, p in ((opt_a, a), (opt_b, b)):
        p.grad[...] = GRADS[1]
        opt.step()
    np.testing.assert_array_equal(a.value, b.value)


ALL_OPTIMIZERS: list[Callable[[list[Parameter]], Optimizer]] = [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    lambda ps: Adam(ps, weight_decay=0.1),
    lambda ps: AdamW(ps),
    lambda ps: RMSprop(ps, momentum=0.9, centered=True, weight_decay=0.1),
    lambda ps: Adagrad(ps, weight_decay=0.1, initial_accumulator_value=0.1),
]


@pytest.mark.parametrize("make", ALL_OPTIMIZERS)
def test_every_optimizer_keeps_float32_and_allocates_no_state_after_the_first_step(
    make: Callable[[list[Parameter]], Optimizer],
) -> None:
    p = make_param(dtype=np.float32)
    value = p.value
    opt = make([p])
    opt.step()
    buffers = {key: id(buf) for key, buf in opt.state[p].items()}
    opt.step()
    assert {key: id(buf) for key, buf in opt.state[p].items()} == buffers
    assert p.value is value
    assert p.value.dtype == np.float32
    assert all(buf.dtype == np.float32 for buf in opt.state[p].values())
    assert np.isfinite(p.value).all()


# -- gradient clipping ----------------------------------------------------------------------


def test_clip_grad_norm_rescales_to_the_global_norm_and_returns_it() -> None:
    a, b = make_param(1), make_param(2)
    ga, gb = a.grad.copy(), b.grad.copy()
    total = np.sqrt((ga**2).sum() + (gb**2).sum())
    returned = clip_grad_norm([a, b], max_norm=1.0)
    assert returned == pytest.approx(total, rel=1e-14)
    scale = 1.0 / (total + 1e-6)
    np.testing.assert_allclose(a.grad, ga * scale, rtol=1e-14)
    np.testing.assert_allclose(b.grad, gb * scale, rtol=1e-14)
    assert np.sqrt((a.grad**2).sum() + (b.grad**2).sum()) <= 1.0


def test_clip_grad_norm_leaves_small_gradients_alone() -> None:
    p = make_param()
    g = p.grad.copy()
    grad = p.grad
    assert clip_grad_norm([p], max_norm=100.0) == pytest.approx(np.linalg.norm(g))
    np.testing.assert_array_equal(p.grad, g)
    assert p.grad is grad


@pytest.mark.parametrize("make", ALL_OPTIMIZERS)
def test_max_grad_norm_clips_before_the_step(
    make: Callable[[list[Parameter]], Optimizer],
) -> None:
    clipped, reference = make_param(), make_param()
    opt = make([clipped])
    opt.max_grad_norm = 0.5
    clip_grad_norm([reference], 0.5)
    make([reference]).step()
    opt.step()
    np.testing.assert_allclose(clipped.value, reference.value, rtol=1e-14)
    rebuilt = type(opt)([make_param()], **opt.get_config())
    assert rebuilt.max_grad_norm == 0.5
    assert rebuilt.get_config() == opt.get_config()


# -- bad hyperparameters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda ps: Adam(ps, lr=-0.1), r"Adam: lr must be positive, got -0.1"),
        (
            lambda ps: Adam(ps, betas=(1.0, 0.999)),
            r"Adam: betas\[0\] must be in \[0, 1\), got 1.0",
        ),
        (
            lambda ps: AdamW(ps, betas=(0.9, -0.1)),
            r"AdamW: betas\[1\] must be in \[0, 1\), got -0.1",
        ),
        (lambda ps: Adam(ps, eps=-1.0), r"Adam: eps must be >= 0, got -1.0"),
        (
            lambda ps: AdamW(ps, weight_decay=-0.01),
            r"AdamW: weight_decay must be >= 0, got -0.01",
        ),
        (lambda ps: RMSprop(ps, alpha=1.5), r"RMSprop: alpha must be in \[0, 1\), got 1.5"),
        (lambda ps: RMSprop(ps, momentum=-0.5), r"RMSprop: momentum must be >= 0, got -0.5"),
        (lambda ps: Adagrad(ps, lr_decay=-1), r"Adagrad: lr_decay must be >= 0, got -1"),
        (lambda ps: Adagrad(ps, lr=0), r"Adagrad: lr must be positive, got 0"),
        (
            lambda ps: SGD(ps, lr=0.1, max_grad_norm=0),
            r"SGD: max_grad_norm must be positive, got 0",
        ),
        (
            lambda ps: clip_grad_norm(ps, -1.0),
            r"clip_grad_norm: max_norm must be positive, got -1.0",
        ),
    ],
)
def test_bad_hyperparameters_name_argument_and_value(
    build: Callable[[list[Parameter]], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build([make_param()])


def test_betas_must_be_a_pair() -> None:
    with pytest.raises(TypeError, match=r"Adam: betas must be a pair \(beta1, beta2\), got 0.9"):
        Adam([make_param()], betas=0.9)  # type: ignore[arg-type]
