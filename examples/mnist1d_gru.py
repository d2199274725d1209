"""Classify MNIST-1D with a GRU reading the signal one sample at a time.

MNIST-1D (Greydanus, 2020; see ``mnist1d_resnet.py``) signals have 40 points;
here each is a sequence of 40 steps of one feature, read by a GRU whose last
hidden state a Dense layer classifies::

    Reshape((40, 1)) -> GRU(1, hidden) -> Dense(hidden, 10)

trained with cross-entropy and AdamW with a cosine learning rate, float32.
The paper's GRU reaches 91 % test accuracy. Needs the ``mnist1d`` package
(``pip install -e ".[examples]"``). Run ``python examples/mnist1d_gru.py``;
it prints the test accuracy.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
from mnist1d.data import get_dataset_args, make_dataset

from layernet import GRU, AdamW, CrossEntropyLoss, Dense, LearningRateScheduler, Reshape, Sequential

LR = 3e-3
DTYPE = np.float32


def build(rng: np.random.Generator, hidden: int = 128, length: int = 40) -> Sequential:
    """The GRU classifier on ``(batch, length)`` signals."""
    return Sequential(
        [
            Reshape((length, 1)),
            GRU(1, hidden, rng=rng, dtype=DTYPE),
            Dense(hidden, 10, rng=rng, dtype=DTYPE),
        ]
    )


def load(num_samples: int = 5000) -> dict[str, Any]:
    """MNIST-1D generated offline (no download), with the package's default arguments."""
    args = get_dataset_args()
    args.num_samples = num_samples
    return make_dataset(args)  # type: ignore[no-any-return]


def main(
    seed: int = 0, verbose: int = 2, epochs: int = 40, num_samples: int = 5000, hidden: int = 128
) -> float:
    """Train on MNIST-1D's training split and return the accuracy on its test split."""
    data = load(num_samples)
    x_train, x_test = data["x"].astype(DTYPE), data["x_test"].astype(DTYPE)
    rng = np.random.default_rng(seed)
    model = build(rng, hidden, length=x_train.shape[1])
    schedule = LearningRateScheduler(
        lambda epoch, lr: LR * 0.5 * (1.0 + float(np.cos(np.pi * epoch / epochs))) + 1e-5
    )
    start = time.perf_counter()
    model.fit(
        x_train,
        data["y"],
        loss=CrossEntropyLoss(),
        optimizer=AdamW(model.parameters(), lr=LR, weight_decay=1e-2),
        epochs=epochs,
        batch_size=64,
        metrics=["accuracy"],
        callbacks=[schedule],
        verbose=verbose,
        rng=rng,
    )
    seconds = time.perf_counter() - start
    scores = model.evaluate(x_test, data["y_test"], loss=CrossEntropyLoss(), metrics=["accuracy"])
    print(
        f"{epochs} epochs in {seconds:.0f} s: test loss {scores['loss']:.4f}, "
        f"test accuracy {scores['accuracy']:.4f}"
    )
    return scores["accuracy"]


if __name__ == "__main__":
    sys.exit(0 if main() >= 0.91 else 1)
