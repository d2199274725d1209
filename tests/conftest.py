"""Fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from layernet import _threads


class FakeBlas:
    """Stands in for numpy's OpenBLAS thread controls: a count that parallel_for reads and sets."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.history: list[int] = []

    def get(self) -> int:
        return self.threads

    def set(self, threads: int) -> None:
        self.threads = threads
        self.history.append(threads)


@pytest.fixture
def blas(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBlas]:
    """parallel_for with two threads, whatever the real BLAS is set to (the tests run with one)."""
    fake = FakeBlas(2)
    monkeypatch.setattr(_threads, "_controls", _threads._BlasThreads(fake.get, fake.set))
    monkeypatch.setattr(_threads, "_looked_up", True)
    yield fake
    assert _threads._running == 0
