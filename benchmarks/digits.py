"""`digits`: scikit-learn's 8x8 digits, 64-128-10 ReLU, softmax cross-entropy, Adam, batch 32."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import _mlp
from ._harness import Row, WorkloadResult, judge
from ._mlp_workload import accuracy, time_implementations
from ._peers import no_convergence_warnings


def run(quick: bool = False) -> WorkloadResult:
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        return WorkloadResult(
            "digits",
            "skipped: scikit-learn is not installed (it ships the data)",
            "us/step",
            "numpy by hand",
            [Row("skipped", 0.0)],
        )
    data = load_digits()
    x = data.data / 16.0
    x_train, x_test, y_train, y_test = train_test_split(
        x, data.target, test_size=0.25, random_state=0, stratify=data.target
    )
    epochs = 2 if quick else 30
    recipe = _mlp.Recipe((64, 128, 10), "ce", "adam", 1e-3, 32, epochs)
    rows, notes = time_implementations(
        recipe,
        x_train,
        y_train,
        repeats=2 if quick else 5,
        score=lambda p: {"test accuracy": accuracy(p(x_test), y_test)},
    )
    result = WorkloadResult(
        "digits",
        f"64-128-10 ReLU, cross-entropy, Adam lr 1e-3, batch 32, {epochs} epochs on "
        f"{len(x_train)} train / {len(x_test)} test digits, float64",
        "us/step",
        "numpy by hand",
        rows,
        notes=notes,
    )
    sk, ln = result.row("scikit-learn"), result.row("layernet")
    if sk is not None and ln is not None:
        seeds = range(2 if quick else 5)
        ln.extra["mean test accuracy, 5 seeds"] = _mean_accuracy(
            lambda s: _layernet_accuracy(recipe, s, x_train, y_train, x_test, y_test), seeds
        )
        sk.extra["mean test accuracy, 5 seeds"] = _mean_accuracy(
            lambda s: _sklearn_accuracy(recipe, s, x_train, y_train, x_test, y_test), seeds
        )
        result.notes.append(
            "one run's accuracy moves by several digits with the initial weights and the "
            "shuffling, so the accuracy target compares the means over seeds 0-4, each "
            "implementation with its own initialization"
        )
    targets = [
        judge(
            "scikit-learn / layernet (speed-up)", result.ratio("scikit-learn", "layernet"), ">= 2"
        ),
        judge(
            "scikit-learn / layernet fit() (speed-up)",
            result.ratio("scikit-learn", "layernet fit()"),
            ">= 2",
        ),
    ]
    if sk is not None and ln is not None:
        key = "mean test accuracy, 5 seeds"
        targets.append(
            judge(
                "layernet - scikit-learn mean test accuracy", ln.extra[key] - sk.extra[key], ">= 0"
            )
        )
    result.targets = [t for t in targets if t is not None]
    return result


def _mean_accuracy(score: Callable[[int], float], seeds: range) -> float:
    return float(np.mean([score(s) for s in seeds]))


def _layernet_accuracy(recipe, seed, x_train, y_train, x_test, y_test) -> float:  # type: ignore[no-untyped-def]
    import layernet

    model = _mlp.build_layernet(recipe, seed)
    model.fit(
        x_train,
        y_train,
        loss=layernet.CrossEntropyLoss(),
        optimizer=layernet.Adam(model.parameters(), lr=recipe.lr),
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        verbose=0,
        rng=seed,
    )
    return accuracy(model.predict(x_test), y_test)


def _sklearn_accuracy(recipe, seed, x_train, y_train, x_test, y_test) -> float:  # type: ignore[no-untyped-def]
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(
        hidden_layer_sizes=recipe.sizes[1:-1],
        activation="relu",
        solver="adam",
        alpha=0.0,
        batch_size=recipe.batch_size,
        learning_rate_init=recipe.lr,
        max_iter=recipe.epochs,
        shuffle=True,
        random_state=seed,
        tol=0.0,
        n_iter_no_change=recipe.epochs + 1,
    )
    with no_convergence_warnings():
        model.fit(x_train, y_train)
    return float(np.mean(model.predict(x_test) == y_test))
