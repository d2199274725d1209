"""Time one MLP recipe across every implementation and fill in a WorkloadResult."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

import numpy as np

import layernet

from . import _mlp
from ._harness import Row, median_time
from ._peers import sklearn_neural_network_or_none, torch_or_none


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

    def timed(
        name: str, train: Callable[[], Callable[[np.ndarray], np.ndarray]], note: str = ""
    ) -> None:
        holder: list[Callable[[np.ndarray], np.ndarray]] = []
        seconds = median_time(lambda: holder.append(train()), repeats=repeats)
        rows.append(Row(name, seconds / steps, score(holder[-1]), note))

    timed("layernet", lambda: _mlp.run_layernet(recipe, init, x, y, order))
    if hasattr(layernet.Sequential, "fit"):
        timed("layernet fit()", lambda: _mlp.run_layernet_fit(recipe, init, x, y, order))
    timed("numpy by hand", lambda: _mlp.run_numpy(recipe, init, x, y, order))
    gemm = statistics.median(
        _mlp.gemm_bound(recipe, init, len(x)) for _ in range(repeats)
    ) / math.ceil(len(x) / recipe.batch_size)
    rows.append(Row("pure GEMM", gemm))
    nn = sklearn_neural_network_or_none()
    if nn is None:
        notes.append("scikit-learn: skipped, not installed")
    elif sklearn_ok:

        def sk_train() -> Callable[[np.ndarray], np.ndarray]:
            model = _mlp.sklearn_model(nn, recipe, init, recipe.epochs)
            model.fit(x, y if recipe.loss == "ce" else y.ravel())
            if recipe.loss == "ce":
                return lambda q: model.predict_proba(q)
            return lambda q: model.predict(q).reshape(-1, 1)

        timed("scikit-learn", sk_train, note="own init and shuffling")
    torch = torch_or_none()
    if torch is None:
        notes.append("PyTorch: skipped, not installed (pip install -e '.[bench]')")
    else:
        timed("PyTorch", lambda: _mlp.run_torch(torch, recipe, init, x, y, order))
    return rows, notes


def accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(pred, axis=1) == labels))


def mse(pred: np.ndarray, target: np.ndarray) -> float:
    return float(np.mean((pred.reshape(target.shape) - target) ** 2))
