"""Learning-rate schedules: torch's closed forms, step counting, chaining, state, errors."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from layernet import (
    SGD,
    Adam,
    CosineAnnealingLR,
    ExponentialLR,
    LinearWarmup,
    LRSchedule,
    Parameter,
    SequentialLR,
    StepLR,
)


def make_opt(lr: float = 0.1) -> SGD:
    return SGD([Parameter(np.ones(3))], lr=lr)


def trace(schedule: LRSchedule, steps: int) -> list[float]:
    lrs = [schedule.optimizer.lr]
    for _ in range(steps):
        schedule.step()
        lrs.append(schedule.optimizer.lr)
    return lrs


def test_step_lr() -> None:
    lrs = trace(StepLR(make_opt(1.0), step_size=3, gamma=0.5), 7)
    np.testing.assert_allclose(lrs, [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25], rtol=1e-15)


def test_exponential_lr() -> None:
    lrs = trace(ExponentialLR(make_opt(0.2), gamma=0.9), 5)
    np.testing.assert_allclose(lrs, [0.2 * 0.9**t for t in range(6)], rtol=1e-14)


def test_cosine_annealing_reaches_eta_min_at_t_max_and_rises_after() -> None:
    base, eta_min, t_max = 0.1, 0.001, 10
    lrs = trace(CosineAnnealingLR(make_opt(base), T_max=t_max, eta_min=eta_min), 15)
    expected = [
        eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / t_max)) / 2 for t in range(16)
    ]
    np.testing.assert_allclose(lrs, expected, rtol=1e-14)
    assert lrs[10] == pytest.approx(eta_min)
    assert lrs[15] > lrs[10]


def test_cosine_to_zero_sets_lr_zero_through_the_schedule() -> None:
    opt = make_opt(0.5)
    schedule = CosineAnnealingLR(opt, T_max=2)
    trace(schedule, 2)
    assert opt.lr == 0.0
    with pytest.raises(ValueError, match=r"SGD: lr must be positive, got 0"):
        opt.lr = 0.0


def test_linear_warmup_like_torch_linear_lr() -> None:
    lrs = trace(LinearWarmup(make_opt(0.3), warmup_steps=4, start_factor=0.25), 6)
    factors = [0.25 + 0.75 * min(t, 4) / 4 for t in range(7)]
    np.testing.assert_allclose(lrs, [0.3 * f for f in factors], rtol=1e-14)
    assert LinearWarmup(make_opt(), 5).start_factor == pytest.approx(1 / 3)


def test_warmup_then_cosine() -> None:
    opt = Adam([Parameter(np.ones(2))], lr=0.01)
    warmup = LinearWarmup(opt, warmup_steps=3, start_factor=0.1)
    cosine = CosineAnnealingLR(opt, T_max=4, eta_min=0.001)
    assert cosine.base_lr == 0.01  # the optimizer's initial rate, not warm-up's first one
    schedule = SequentialLR(opt, [warmup, cosine], milestones=[3])
    lrs = trace(schedule, 8)
    warm = [0.01 * (0.1 + 0.9 * t / 3) for t in range(3)]
    cos = [0.001 + 0.009 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(6)]
    np.testing.assert_allclose(lrs, warm + cos, rtol=1e-14)
    assert schedule.get_last_lr() == opt.lr


def test_state_dict_resumes_the_schedule() -> None:
    first = StepLR(make_opt(1.0), step_size=2)
    trace(first, 5)
    opt = make_opt(1.0)
    resumed = StepLR(opt, step_size=2)
    resumed.load_state_dict(first.state_dict())
    assert resumed.last_epoch == 5
    assert opt.lr == pytest.approx(0.01)
    resumed.step()
    first.step()
    assert opt.lr == first.optimizer.lr
    assert repr(resumed) == "StepLR(last_epoch=6, lr=0.001)"


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda o: StepLR(o, step_size=0), ValueError, r"StepLR: step_size must be a positive"),
        (
            lambda o: StepLR(o, 2, gamma=-0.1),
            ValueError,
            r"StepLR: gamma must be positive, got -0.1",
        ),
        (lambda o: ExponentialLR(o, gamma=0), ValueError, r"ExponentialLR: gamma must be positive"),
        (lambda o: CosineAnnealingLR(o, T_max=5, eta_min=-1), ValueError, r"eta_min must be >= 0"),
        (
            lambda o: LinearWarmup(o, 3, start_factor=0),
            ValueError,
            r"LinearWarmup: start_factor must be in \(0, 1\], got 0",
        ),
        (
            lambda o: LinearWarmup(o, 2.5),  # type: ignore[arg-type]
            TypeError,
            r"warmup_steps must be a positive integer",
        ),
        (
            lambda o: SequentialLR(o, [StepLR(o, 1), StepLR(o, 1)], milestones=[]),
            ValueError,
            r"expected 1 milestone\(s\) for 2 schedules, got 0",
        ),
        (
            lambda o: SequentialLR(o, [StepLR(o, 1), StepLR(make_opt(), 1)], milestones=[2]),
            ValueError,
            r"schedules\[1\] drives a different optimizer",
        ),
        (
            lambda o: StepLR("sgd", 1),  # type: ignore[arg-type]
            TypeError,
            r"optimizer must be an Optimizer, got str",
        ),
    ],
)
def test_bad_arguments(
    build: Callable[[SGD], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        build(make_opt())
