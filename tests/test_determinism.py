"""Determinism: the same seeds give bit-identical weights and History, for every optimizer.

Dropout (seeded through its ``rng``), shuffling and a validation split are on;
History.times (wall-clock) is the only thing allowed to differ.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import layernet as ln
from reliability_cases import OPTIMIZER_VARIANTS

X = np.random.default_rng(0).normal(size=(60, 4))
LABELS = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 1)


def train(name: str, seed: int) -> tuple[ln.Sequential, ln.History]:
    model = ln.Sequential(
        [ln.Dense(4, 16, rng=seed), ln.BatchNorm1d(16), ln.ReLU(), ln.Dropout(0.3, rng=seed + 1),
         ln.Dense(16, 3, rng=seed + 2)]
    )  # fmt: skip
    opt = OPTIMIZER_VARIANTS[name](model.parameters())
    history = model.fit(X, LABELS, loss=ln.CrossEntropyLoss(label_smoothing=0.1), optimizer=opt,
                        epochs=4, batch_size=8, shuffle=True, validation_split=0.25,
                        metrics=["accuracy"], verbose=0, rng=seed + 3)  # fmt: skip
    return model, history


@pytest.mark.parametrize("name", sorted(OPTIMIZER_VARIANTS))
def test_same_seed_same_run(name: str) -> None:
    (a, hist_a), (b, hist_b) = train(name, 7), train(name, 7)
    state_a, state_b = a.state_dict(), b.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        np.testing.assert_array_equal(state_a[key], state_b[key], err_msg=key)
    assert hist_a.history == hist_b.history
    assert hist_a.epoch == hist_b.epoch
    assert hist_a.params == hist_b.params
    assert all(np.isfinite(v).all() for v in hist_a.history["loss"])


@pytest.mark.parametrize("name", sorted(set(OPTIMIZER_VARIANTS) - {"LBFGS"}))
def test_another_seed_another_run(name: str) -> None:
    """The control: the seeds matter, so the equality above is not vacuous."""
    (_, hist_a), (_, hist_b) = train(name, 7), train(name, 8)
    assert hist_a.history["loss"] != hist_b.history["loss"]


def test_history_times_are_the_only_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter(np.arange(0.0, 1e6, 0.5))
    monkeypatch.setattr("layernet.training.time.perf_counter", lambda: float(next(ticks)))
    _, hist_a = train("SGD", 3)
    _, hist_b = train("SGD", 3)
    assert hist_a.history == hist_b.history
    settings: Any = hist_a.params
    assert "times" not in settings
