"""``python -m layernet``: train the seed notebook's gender model and ask it about two people.

A 2-2-1 sigmoid network, MSE loss, per-sample SGD (lr 0.1) in fixed order
for 1000 epochs, weights and biases drawn from N(0, 1) -- Victor Zhou's
"An Introduction to Neural Networks", rebuilt from layernet's pieces.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import numpy as np

from .datasets import load_gender, load_gender_test
from .layers.activations import Sigmoid
from .layers.dense import Dense
from .losses import MSELoss
from .optimizers import SGD
from .sequential import Sequential


def build_gender_model(seed: int | np.random.Generator | None = 0) -> Sequential:
    """The blog's 2-2-1 network with all nine weights and biases drawn from N(0, 1)."""
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    return Sequential(
        [
            Dense(2, 2, weight_init="normal", bias_init="normal", rng=rng),
            Sigmoid(),
            Dense(2, 1, weight_init="normal", bias_init="normal", rng=rng),
            Sigmoid(),
        ]
    )


def train_per_sample(
    model: Sequential,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 1000,
    lr: float = 0.1,
    report: Callable[[int, float], None] | None = None,
    report_every: int = 100,
) -> None:
    """The blog's loop: for each epoch, for each person in order, one SGD step.

    ``report(epoch, loss)`` receives the MSE over the whole data set every
    ``report_every`` epochs (and after the last one).
    """
    loss = MSELoss()
    optimizer = SGD(model.parameters(), lr=lr)
    batches = [(x[i : i + 1], y[i : i + 1]) for i in range(len(x))]
    for epoch in range(1, epochs + 1):
        for xb, yb in batches:
            loss.forward(model.forward(xb, training=True), yb)
            model.backward_parameters(loss.backward())
            optimizer.step()
        if report is not None and (epoch % report_every == 0 or epoch == epochs):
            report(epoch, loss.forward(model.forward(x), y))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m layernet",
        description="Train the 2-2-1 gender model of the seed notebook and predict two people.",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the N(0, 1) initial weights")
    parser.add_argument("--epochs", type=int, default=1000, help="passes over the four people")
    parser.add_argument("--lr", type=float, default=0.1, help="SGD learning rate")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be a positive integer, got {args.epochs}")
    if not args.lr > 0:
        parser.error(f"--lr must be positive, got {args.lr}")

    train, test = load_gender(), load_gender_test()
    model = build_gender_model(args.seed)
    print(model.summary())
    print(f"Training on {', '.join(train.names)}: per-sample SGD, lr {args.lr}, seed {args.seed}")
    train_per_sample(
        model,
        train.x,
        train.y,
        epochs=args.epochs,
        lr=args.lr,
        report=lambda epoch, value: print(f"epoch {epoch:4d}  loss {value:.6f}"),
    )
    predictions = model.predict(test.x)
    for name, raw, p in zip(test.names, test.raw, predictions[:, 0], strict=True):
        guess = "female" if p > 0.5 else "male"
        print(f"{name} ({raw[0]:.0f} lb, {raw[1]:.0f} in): {p:.3f} -> {guess}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
