"""SGD against reference steps computed by hand (torch.optim.SGD's rule)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from layernet import SGD, Parameter


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
    buffers = {key: id(buf) for key, buf in opt.state[p].items()}
    opt.step()
    assert {key: id(buf) for key, buf in opt.state[p].items()} == buffers
    assert p.value.dtype == np.float32
    assert all(buf.dtype == np.float32 for buf in opt.state[p].values())
