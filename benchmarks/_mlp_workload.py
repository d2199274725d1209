"""Time one MLP recipe across every implementation and fill in a WorkloadResult."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import _mlp
from ._harness import Row, race
from ._peers import no_convergence_warnings, sklearn_neural_network_or_none, torch_or_none


def time_implementations(
    recipe: _mlp.Recipe,
    x: np.ndarray,
    y: np.ndarray,
    *,
    repeats: int,
    score: Callable[[np.ndarray], dict[str, float]],
    sklearn_ok: bool = True,
) -> tuple[list[Row], list[str]]:
    """Rows of seconds per training step (median over repeats) for each implementation."""
    init = _mlp.initial_weights(recipe)
    order = _mlp.batches(len(x), recipe.batch_size, recipe.epochs)
    steps = sum(len(epoch) for epoch in order)
    rows: list[Row] = []
    notes: list[str] = []

    entries: dict[str, Callable[[], Any]] = {
        "layernet": lambda: _mlp.run_layernet(recipe, init, x, y, order),
        "layernet fit()": lambda: _mlp.run_layernet_fit(recipe, init, x, y, order),
        "numpy by hand": lambda: _mlp.run_numpy(recipe, init, x, y, order),
        "pure GEMM": lambda: [_mlp.gemm_bound(recipe, init, len(x)) for _ in order],
    }
    nn = sklearn_neural_network_or_none()
    if nn is None:
        notes.append("scikit-learn: skipped, not installed")
    elif sklearn_ok:

        def sk_train() -> Callable[[np.ndarray], np.ndarray]:
            model = _mlp.sklearn_model(nn, recipe, init, recipe.epochs)
            with no_convergence_warnings():
                model.fit(x, y if recipe.loss == "ce" else y.ravel())
            if recipe.loss == "ce":
                return lambda q: model.predict_proba(q)
            return lambda q: model.predict(q).reshape(-1, 1)

        entries["scikit-learn"] = sk_train
    torch = torch_or_none()
    if torch is None:
        notes.append("PyTorch: skipped, not installed (pip install -e '.[bench]')")
    else:
        entries["PyTorch"] = lambda: _mlp.run_torch(torch, recipe, init, x, y, order)
    timed = race(entries, repeats=repeats)
    for name in timed.rounds:
        if name == "pure GEMM":
            rows.append(timed.row(name, steps))
            continue
        note = "own init and shuffling" if name == "scikit-learn" else ""
        rows.append(timed.row(name, steps, score(timed.last[name]), note))
    return rows, notes


def accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(pred, axis=1) == labels))


def mse(pred: np.ndarray, target: np.ndarray) -> float:
    return float(np.mean((pred.reshape(target.shape) - target) ** 2))
