"""Draw the documentation's figures into docs/figures/ (PNG, committed to git).

Run ``python docs/make_figures.py`` after installing the docs extra
(``pip install -e ".[docs]"``); ``--outdir`` writes elsewhere. Each figure is one
function that takes the output directory and returns the path it wrote; add new
figures (the benchmark chart) as functions and list them in FIGURES. The digits
figure needs scikit-learn (in the docs extra) for its data set and split.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display needed

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from layernet import Adam, CrossEntropyLoss, Dense, ReLU, Sequential
from layernet.__main__ import build_gender_model, train_per_sample
from layernet.datasets import HEIGHT_SHIFT_IN, WEIGHT_SHIFT_LB, load_gender, load_gender_test

HERE = Path(__file__).resolve().parent
FEMALE, MALE = "#c2185b", "#1565c0"


def _trained_gender_model() -> tuple[Sequential, list[int], list[float]]:
    """The tutorial's model (seed 0, per-sample SGD, lr 0.1, 1000 epochs) and its loss curve."""
    data = load_gender()
    model = build_gender_model(0)
    epochs: list[int] = []
    losses: list[float] = []

    def record(epoch: int, value: float) -> None:
        epochs.append(epoch)
        losses.append(value)

    record(0, float(np.mean((model.predict(data.x) - data.y) ** 2)))
    train_per_sample(model, data.x, data.y, epochs=1000, lr=0.1, report=record, report_every=1)
    return model, epochs, losses


def gender_loss(outdir: Path) -> Path:
    """The MSE over the four training people after each epoch."""
    _, epochs, losses = _trained_gender_model()
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    ax.semilogy(epochs, losses, color="#37474f", linewidth=2)
    ax.set_xlabel("epoch (one SGD step per person)")
    ax.set_ylabel("MSE over the four people (log scale)")
    ax.set_title("Training the 2-2-1 gender model (SGD, lr 0.1, seed 0)")
    ax.set_xlim(0, epochs[-1])
    ax.grid(alpha=0.3, which="both")
    ax.annotate(
        f"after {epochs[-1]} epochs: {losses[-1]:.4f}",
        xy=(epochs[-1], losses[-1]),
        xytext=(-20, 30),
        textcoords="offset points",
        ha="right",
        arrowprops={"arrowstyle": "->", "color": "#37474f"},
    )
    return _save(fig, outdir / "gender_loss.png")


def gender_boundary(outdir: Path) -> Path:
    """P(female) over (weight, height), the 0.5 boundary, the people trained on and asked about."""
    model, _, _ = _trained_gender_model()
    train, test = load_gender(), load_gender_test()
    weights = np.linspace(105, 175, 281)
    heights = np.linspace(56, 76, 201)
    ww, hh = np.meshgrid(weights, heights)
    grid = np.column_stack([ww.ravel() - WEIGHT_SHIFT_LB, hh.ravel() - HEIGHT_SHIFT_IN])
    prob = model.predict(grid)[:, 0].reshape(ww.shape)

    fig, ax = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
    mesh = ax.contourf(ww, hh, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.45)
    ax.contour(ww, hh, prob, levels=[0.5], colors="black", linewidths=1.5)
    fig.colorbar(mesh, ax=ax, label="network output: P(female)")
    for data, marker in ((train, "o"), (test, "*")):
        outputs = model.predict(data.x)[:, 0]
        for name, (w, h), (y,), p in zip(data.names, data.raw, data.y, outputs, strict=True):
            ax.scatter(
                w,
                h,
                marker=marker,
                s=220 if marker == "*" else 90,
                color=FEMALE if y == 1 else MALE,
                edgecolors="black",
                linewidths=1.5,
                zorder=3,
            )
            ax.annotate(
                f"{name}: {p:.2f}",
                (w, h),
                xytext=(8, -4),
                textcoords="offset points",
                fontsize=9,
                fontweight="bold",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "alpha": 0.8, "lw": 0},
            )
    ax.set_xlabel("weight (lb)")
    ax.set_ylabel("height (in)")
    ax.set_title("What the gender model learned (black line: output 0.5)")
    ax.scatter([], [], marker="o", color="grey", edgecolors="black", label="trained on")
    ax.scatter([], [], marker="*", s=160, color="grey", edgecolors="black", label="asked about")
    ax.scatter([], [], marker="s", color=FEMALE, label="female")
    ax.scatter([], [], marker="s", color=MALE, label="male")
    ax.legend(loc="lower right", fontsize=9, framealpha=0.9)
    return _save(fig, outdir / "gender_boundary.png")


def digits_training(outdir: Path) -> Path:
    """examples/digits.py's run: loss and accuracy per epoch, and the test confusion matrix."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data / 16.0, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    rng = np.random.default_rng(0)
    model = Sequential([Dense(64, 128, rng=rng), ReLU(), Dense(128, 10, rng=rng)])
    history = model.fit(
        x_train,
        y_train,
        loss=CrossEntropyLoss(),
        optimizer=Adam(model.parameters(), lr=1e-3),
        epochs=50,
        batch_size=32,
        validation_split=0.1,
        metrics=["accuracy"],
        verbose=0,
        rng=rng,
    )
    predicted = model.predict(x_test).argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=int)
    np.add.at(confusion, (y_test, predicted), 1)
    accuracy = float(np.mean(predicted == y_test))

    h = history.history
    epochs = np.arange(1, len(h["loss"]) + 1)
    fig, (ax_loss, ax_acc, ax_cm) = plt.subplots(
        1, 3, figsize=(13.5, 4.2), layout="constrained", width_ratios=[1, 1, 1.05]
    )
    for ax, key, label in ((ax_loss, "loss", "cross-entropy"), (ax_acc, "accuracy", "accuracy")):
        ax.plot(epochs, h[key], color="#37474f", linewidth=2, label="training (during epoch)")
        ax.plot(epochs, h["val_" + key], color="#e65100", linewidth=2, label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_xlim(1, epochs[-1])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    ax_loss.set_yscale("log")
    ax_loss.set_title("Loss per epoch (log scale)")
    ax_acc.set_ylim(0.8, 1.0)
    ax_acc.set_title("Accuracy per epoch")
    image = ax_cm.imshow(confusion, cmap="Blues")
    for (i, j), count in np.ndenumerate(confusion):
        if count:
            color = "white" if count > confusion.max() / 2 else "black"
            ax_cm.text(j, i, str(count), ha="center", va="center", fontsize=8, color=color)
    ax_cm.set_xticks(range(10))
    ax_cm.set_yticks(range(10))
    ax_cm.set_xlabel("predicted digit")
    ax_cm.set_ylabel("true digit")
    ax_cm.set_title(f"Test set: {accuracy:.3f} accuracy ({len(y_test)} digits)")
    fig.colorbar(image, ax=ax_cm, shrink=0.85)
    fig.suptitle("Digits (8x8): 64-128-10 ReLU network, Adam, 50 epochs (examples/digits.py)")
    return _save(fig, outdir / "digits_training.png")


def _ratio(row: dict[str, Any], base: dict[str, Any]) -> float:
    """``row``'s time over ``base``'s as the report takes it: rounds paired where both have them."""
    ours, theirs = row.get("rounds") or [], base.get("rounds") or []
    if ours and len(ours) == len(theirs):
        return float(np.median([a / b for a, b in zip(ours, theirs, strict=True)]))
    return float(row["seconds"] / base["seconds"])


def benchmark_chart(outdir: Path) -> Path:
    """Each workload's times relative to layernet, from the committed benchmark run."""
    import json

    results = HERE.parent / "benchmarks" / "results" / "results.json"
    report = json.loads(results.read_text())
    workloads = [w for w in report["workloads"] if any(r["name"] == "layernet" for r in w["rows"])]
    fig, axes = plt.subplots(len(workloads), 1, figsize=(7.5, 1.5 + 1.2 * len(workloads)))
    for ax, workload in zip(np.atleast_1d(axes), workloads, strict=True):
        rows = [r for r in workload["rows"] if r["seconds"] > 0]
        base = next(r for r in rows if r["name"] == "layernet")
        names = [r["name"] for r in rows][::-1]
        ratios = [_ratio(r, base) for r in rows][::-1]
        colors = ["#2e7d32" if n.startswith("layernet") else "#9e9e9e" for n in names]
        ax.barh(names, ratios, color=colors)
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xlim(0, max(ratios) * 1.18)
        for i, ratio in enumerate(ratios):
            ax.text(ratio, i, f" {ratio:.2f}x", va="center", fontsize=8)
        ax.set_title(f"{workload['name']} ({workload['unit']})", fontsize=9, loc="left")
        ax.tick_params(labelsize=8)
    fig.suptitle("Time relative to layernet (lower is faster), one run of python -m benchmarks")
    fig.tight_layout()
    return _save(fig, outdir / "benchmarks.png")


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)
    return path


FIGURES: list[Callable[[Path], Path]] = [
    gender_loss,
    gender_boundary,
    digits_training,
    benchmark_chart,
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", type=Path, default=HERE / "figures")
    args = parser.parse_args()
    for make in FIGURES:
        print(make(args.outdir))


if __name__ == "__main__":
    main()
