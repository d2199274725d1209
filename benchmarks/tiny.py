"""`tiny`: 10-32-1 ReLU regression, MSE, SGD lr 0.01, batch 16: pure framework overhead."""

from __future__ import annotations

import numpy as np

from . import _mlp
from ._harness import WorkloadResult, judge
from ._mlp_workload import mse, time_implementations


def run(quick: bool = False) -> WorkloadResult:
    rng = np.random.default_rng(0)
    n = 256 if quick else 2048
    x = rng.standard_normal((n, 10))
    y = np.sin(x[:, :3]).sum(axis=1, keepdims=True) + 0.1 * x[:, 3:4] ** 2
    recipe = _mlp.Recipe((10, 32, 1), "mse", "sgd", 0.01, 16, 1 if quick else 3)
    rows, notes = time_implementations(
        recipe, x, y, repeats=2 if quick else 7, score=lambda p: {"train MSE": mse(p(x), y)}
    )
    notes.append("scikit-learn's MLPRegressor minimises half the squared error: its MSE differs")
    result = WorkloadResult(
        "tiny",
        f"10-32-1 ReLU, MSE, SGD lr 0.01, batch 16, {n} rows x {recipe.epochs} epochs, float64",
        "us/step",
        "numpy by hand",
        rows,
        notes=notes,
    )
    targets = [
        judge("layernet / numpy by hand", result.ratio("layernet"), "<= 1.3"),
        judge("layernet fit() / numpy by hand", result.ratio("layernet fit()"), "<= 1.3"),
        judge("PyTorch / layernet (speed-up)", result.ratio("PyTorch", "layernet"), ">= 5"),
    ]
    result.targets = [t for t in targets if t is not None]
    return result
