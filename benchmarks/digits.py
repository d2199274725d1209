"""`digits`: scikit-learn's 8x8 digits, 64-128-10 ReLU, softmax cross-entropy, Adam, batch 32."""

from __future__ import annotations

from . import _mlp
from ._harness import Row, WorkloadResult, judge
from ._mlp_workload import accuracy, time_implementations


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
    sk = result.row("scikit-learn")
    ln = result.row("layernet")
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
        targets.append(
            judge(
                "layernet accuracy - scikit-learn accuracy",
                ln.extra["test accuracy"] - sk.extra["test accuracy"],
                ">= 0",
            )
        )
    result.targets = [t for t in targets if t is not None]
    return result
