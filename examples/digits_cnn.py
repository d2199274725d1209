"""Classify scikit-learn's 8x8 digits with a small convolutional network.

Conv2d(1, 16, 3, padding=1) -> ReLU -> MaxPool2d(2) -> Conv2d(16, 32, 3, padding=1)
-> ReLU -> Flatten -> Dense(512, 10), cross-entropy, Adam. Needs scikit-learn
(``pip install -e ".[examples]"``) for the bundled data set and the split. Run
``python examples/digits_cnn.py``; it prints the test accuracy, at least 0.98.
"""

from __future__ import annotations

import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from layernet import (
    Adam,
    Conv2d,
    CrossEntropyLoss,
    Dense,
    Flatten,
    MaxPool2d,
    ReLU,
    Sequential,
)


def build(rng: np.random.Generator, dtype: type[np.floating] = np.float32) -> Sequential:  # type: ignore[type-arg]
    """The CNN: two 3x3 convolutions (16 and 32 channels), one 2x2 max-pool, a linear head."""
    return Sequential(
        [
            Conv2d(1, 16, 3, padding=1, rng=rng, dtype=dtype),
            ReLU(),
            MaxPool2d(2),
            Conv2d(16, 32, 3, padding=1, rng=rng, dtype=dtype),
            ReLU(),
            Flatten(),
            Dense(32 * 4 * 4, 10, rng=rng, dtype=dtype),
        ]
    )


def main(seed: int = 0, verbose: int = 1, epochs: int = 30) -> float:
    """Train on 75% of the digits (as 1x8x8 images) and return the accuracy on the rest."""
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, np.newaxis]  # (n, 1, 8, 8)
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=0.25, random_state=seed, stratify=digits.target
    )
    rng = np.random.default_rng(seed)
    model = build(rng)
    model.fit(
        x_train,
        y_train,
        loss=CrossEntropyLoss(),
        optimizer=Adam(model.parameters(), lr=2e-3),
        epochs=epochs,
        batch_size=64,
        metrics=["accuracy"],
        verbose=verbose,
        rng=rng,
    )
    scores = model.evaluate(x_test, y_test, loss=CrossEntropyLoss(), metrics=["accuracy"])
    print(f"test loss {scores['loss']:.4f}, test accuracy {scores['accuracy']:.4f}")
    return scores["accuracy"]


if __name__ == "__main__":
    sys.exit(0 if main() >= 0.98 else 1)
