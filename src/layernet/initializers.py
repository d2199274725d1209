"""Weight initializers: how a layer's parameters are first drawn.

An initializer is any callable ``init(shape, *, fan_in, fan_out, rng)``
returning a float64 array of ``shape``; the layer casts it to its dtype, so
float32 and float64 models built from the same seed start from the same
(rounded) numbers. Layers accept an initializer object or one of the names
in :data:`INITIALIZERS`. Fans follow torch: for ``Dense`` they are
``in_features`` and ``out_features``; for a convolution they are the
channels times the kernel's size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt

Float64Array = npt.NDArray[np.float64]


class Initializer(Protocol):
    """The initializer protocol: ``init(shape, *, fan_in, fan_out, rng) -> ndarray``."""

    def __call__(
        self, shape: tuple[int, ...], *, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> Float64Array: ...


@dataclass(frozen=True)
class Zeros:
    """All zeros (the default for biases)."""

    def __call__(
        self, shape: tuple[int, ...], *, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> Float64Array:
        return np.zeros(shape)


@dataclass(frozen=True)
class Ones:
    """All ones."""

    def __call__(
        self, shape: tuple[int, ...], *, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> Float64Array:
        return np.ones(shape)


@dataclass(frozen=True)
class Constant:
    """Every entry equal to ``value``."""

    value: float = 0.0

    def __call__(
        self, shape: tuple[int, ...], *, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> Float64Array:
        return np.full(shape, float(self.value))


@dataclass(frozen=True)
class Normal:
    """Draws from N(mean, std**2); ``Normal()`` is the blog's N(0, 1)."""

    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self) -> None:
        if not self.std > 0:
            raise ValueError(f"Normal: std must be positive, got {self.std}")

    def __call__(
        self, shape: tuple[int, ...], *, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> Float64Array:
        return rng.normal(self.mean, self.std, size=shape)


@dataclass(frozen=True)
class Uniform:
    """Draws from U(low, high); torch's default interval [0, 1)."""

    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(
                f"Uniform: low must be below high, got low={self.low}, high={self.high}"
            )

    def __call__(
        self, shape: tuple[int, ...], *, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> Float64Array:
        return rng.uniform(self.low, self.high, size=shape)


@dataclass(frozen=True)
class GlorotUniform:
    """Glorot/Xavier uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) (Keras's default)."""

    def __call__(
        self, shape: tuple[int, ...], *, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> Float64Array:
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)


@dataclass(frozen=True)
class GlorotNormal:
    """Glorot/Xavier normal: N(0, s**2) with s = sqrt(2 / (fan_in + fan_out))."""

    def __call__(
        self, shape: tuple[int, ...], *, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> Float64Array:
        return rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), size=shape)


@dataclass(frozen=True)
class HeUniform:
    """He/Kaiming uniform for ReLU: U(-a, a) with a = sqrt(6 / fan_in)."""

    def __call__(
        self, shape: tuple[int, ...], *, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> Float64Array:
        limit = math.sqrt(6.0 / fan_in)
        return rng.uniform(-limit, limit, size=shape)


@dataclass(frozen=True)
class HeNormal:
    """He/Kaiming normal for ReLU: N(0, s**2) with s = sqrt(2 / fan_in)."""

    def __call__(
        self, shape: tuple[int, ...], *, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> Float64Array:
        return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)


@dataclass(frozen=True)
class LecunNormal:
    """LeCun normal (for SELU-style nets): N(0, s**2) with s = sqrt(1 / fan_in)."""

    def __call__(
        self, shape: tuple[int, ...], *, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> Float64Array:
        return rng.normal(0.0, math.sqrt(1.0 / fan_in), size=shape)


INITIALIZERS: dict[str, Callable[[], Initializer]] = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "normal": Normal,
    "uniform": Uniform,
    "glorot_uniform": GlorotUniform,
    "xavier_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "xavier_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "kaiming_uniform": HeUniform,
    "he_normal": HeNormal,
    "kaiming_normal": HeNormal,
    "lecun_normal": LecunNormal,
}
"""Initializers selectable by name, each with its default arguments."""

InitializerLike = str | Initializer


def get_initializer(init: object, *, argument: str = "init") -> Initializer:
    """Resolve a name from :data:`INITIALIZERS`, build a class, or pass a callable through.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    TypeError
        For anything that is neither a name nor callable.
    """
    if isinstance(init, str):
        try:
            return INITIALIZERS[init]()
        except KeyError:
            names = ", ".join(sorted(INITIALIZERS))
            raise ValueError(
                f"{argument}: unknown initializer {init!r}; choose one of {names}, "
                "or pass a callable"
            ) from None
    if isinstance(init, type):
        # ``GlorotUniform`` where ``GlorotUniform()`` was meant: build it with its defaults.
        cls: type = init
        try:
            init = cls()
        except TypeError as exc:
            raise TypeError(
                f"{argument}: got the class {cls.__name__}, which cannot be built without "
                f"arguments ({exc}); pass an instance"
            ) from None
    if callable(init):
        return cast(Initializer, init)
    raise TypeError(
        f"{argument}: expected an initializer name or callable, got {type(init).__name__}"
    )


def initialize(
    init: Initializer,
    shape: tuple[int, ...],
    *,
    fan_in: int,
    fan_out: int,
    rng: np.random.Generator,
    dtype: np.dtype[Any],
    argument: str = "init",
) -> npt.NDArray[Any]:
    """Draw ``shape`` from ``init`` and return it as a C-contiguous array of ``dtype``."""
    values = np.asarray(init(shape, fan_in=fan_in, fan_out=fan_out, rng=rng))
    if values.shape != shape:
        raise ValueError(f"{argument}: initializer returned shape {values.shape}, expected {shape}")
    return np.ascontiguousarray(values, dtype=dtype)


@dataclass(frozen=True)
class FanInUniform:
    """U(-a, a) with a = 1 / sqrt(fan_in): torch's default for Linear and Conv weights and biases.

    (torch writes it as kaiming_uniform with ``a = sqrt(5)``, whose bound
    ``sqrt(6 / ((1 + a**2) fan_in))`` is ``1 / sqrt(fan_in)``.)
    """

    def __call__(
        self, shape: tuple[int, ...], *, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> Float64Array:
        limit = 1.0 / math.sqrt(fan_in)
        return rng.uniform(-limit, limit, size=shape)


INITIALIZERS["fan_in_uniform"] = FanInUniform
