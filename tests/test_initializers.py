"""Initializers: distributions (moments with a seeded rng), shapes, names, errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from layernet import Dense
from layernet.initializers import (
    INITIALIZERS,
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    Initializer,
    LecunNormal,
    Normal,
    Ones,
    Uniform,
    Zeros,
    get_initializer,
    initialize,
)

SHAPE = (300, 400)  # 120k draws: sample moments within ~1% of the truth
FAN_IN, FAN_OUT = 30, 50


def draw(init: Initializer, shape: tuple[int, ...] = SHAPE, seed: int = 0) -> Any:
    return init(shape, fan_in=FAN_IN, fan_out=FAN_OUT, rng=np.random.default_rng(seed))


@pytest.mark.parametrize(
    ("init", "std"),
    [
        (Normal(), 1.0),
        (Normal(mean=0.0, std=0.05), 0.05),
        (GlorotNormal(), math.sqrt(2 / (FAN_IN + FAN_OUT))),
        (HeNormal(), math.sqrt(2 / FAN_IN)),
        (LecunNormal(), math.sqrt(1 / FAN_IN)),
    ],
    ids=repr,
)
def test_normal_initializers_have_zero_mean_and_the_right_std(
    init: Initializer, std: float
) -> None:
    w = draw(init)
    assert w.shape == SHAPE
    assert abs(w.mean()) < 0.01 * std
    assert w.std() == pytest.approx(std, rel=0.01)


@pytest.mark.parametrize(
    ("init", "low", "high"),
    [
        (Uniform(), 0.0, 1.0),
        (Uniform(-2.0, 3.0), -2.0, 3.0),
        (GlorotUniform(), -math.sqrt(6 / (FAN_IN + FAN_OUT)), math.sqrt(6 / (FAN_IN + FAN_OUT))),
        (HeUniform(), -math.sqrt(6 / FAN_IN), math.sqrt(6 / FAN_IN)),
    ],
    ids=repr,
)
def test_uniform_initializers_cover_their_interval(
    init: Initializer, low: float, high: float
) -> None:
    w = draw(init)
    width = high - low
    assert w.min() >= low
    assert w.max() < high
    assert w.min() < low + 0.001 * width
    assert w.max() > high - 0.001 * width
    assert w.mean() == pytest.approx((low + high) / 2, abs=0.01 * width)
    assert w.std() == pytest.approx(width / math.sqrt(12), rel=0.01)


def test_constant_initializers() -> None:
    np.testing.assert_array_equal(draw(Zeros(), (2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(draw(Ones(), (4,)), np.ones(4))
    np.testing.assert_array_equal(draw(Constant(0.5), (2, 2)), np.full((2, 2), 0.5))


def test_same_seed_same_weights_and_the_rng_is_the_only_source() -> None:
    np.testing.assert_array_equal(draw(HeNormal(), (5, 5), 3), draw(HeNormal(), (5, 5), 3))
    assert not np.array_equal(draw(HeNormal(), (5, 5), 3), draw(HeNormal(), (5, 5), 4))


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("zeros", Zeros),
        ("ones", Ones),
        ("constant", Constant),
        ("normal", Normal),
        ("uniform", Uniform),
        ("glorot_uniform", GlorotUniform),
        ("xavier_uniform", GlorotUniform),
        ("glorot_normal", GlorotNormal),
        ("xavier_normal", GlorotNormal),
        ("he_uniform", HeUniform),
        ("kaiming_uniform", HeUniform),
        ("he_normal", HeNormal),
        ("kaiming_normal", HeNormal),
        ("lecun_normal", LecunNormal),
    ],
)
def test_every_name_resolves_to_its_initializer(name: str, cls: type) -> None:
    assert isinstance(get_initializer(name), cls)
    assert name in INITIALIZERS


def test_callables_and_classes_are_accepted() -> None:
    custom = Normal(std=0.01)
    assert get_initializer(custom) is custom
    assert isinstance(get_initializer(GlorotUniform), GlorotUniform)
    layer = Dense(3, 2, weight_init=HeNormal, rng=0)  # type: ignore[arg-type]
    np.testing.assert_array_equal(
        layer.weight.value, HeNormal()((3, 2), fan_in=3, fan_out=2, rng=np.random.default_rng(0))
    )


def test_unknown_name_is_a_value_error_listing_the_choices() -> None:
    with pytest.raises(
        ValueError, match=r"init: unknown initializer 'glorot'; choose one of constant, .*zeros"
    ):
        get_initializer("glorot")
    with pytest.raises(ValueError, match=r"Dense\(2 -> 2\): weight_init: unknown initializer 'he'"):
        Dense(2, 2, weight_init="he")


def test_non_initializers_are_type_errors() -> None:
    with pytest.raises(TypeError, match=r"expected an initializer name or callable, got int"):
        get_initializer(3)

    class NeedsArgs(Zeros):
        def __init__(self, value: float) -> None:
            pass

    with pytest.raises(TypeError, match=r"got the class NeedsArgs, which cannot be built"):
        get_initializer(NeedsArgs)


def test_bad_distribution_arguments() -> None:
    with pytest.raises(ValueError, match=r"Normal: std must be positive, got -1"):
        Normal(std=-1)
    with pytest.raises(ValueError, match=r"Uniform: low must be below high, got low=1, high=0"):
        Uniform(1, 0)


def test_initialize_casts_and_checks_the_shape() -> None:
    rng = np.random.default_rng(0)
    w = initialize(
        GlorotUniform(), (3, 4), fan_in=3, fan_out=4, rng=rng, dtype=np.dtype(np.float32)
    )
    assert w.dtype == np.float32
    assert w.flags.c_contiguous

    def wrong(
        shape: tuple[int, ...], *, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> Any:
        return np.zeros(7)

    with pytest.raises(ValueError, match=r"initializer returned shape \(7,\), expected \(3, 4\)"):
        initialize(wrong, (3, 4), fan_in=3, fan_out=4, rng=rng, dtype=np.dtype(np.float64))
