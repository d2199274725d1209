"""Classify scikit-learn's 8x8 handwritten digits with a 64-128-10 ReLU network.

Needs scikit-learn (``pip install -e ".[examples]"``) for the bundled data set
and the train/test split. Run ``python examples/digits.py``; it prints the
test accuracy, at least 0.96.
"""

from __future__ import annotations

import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from layernet import Adam, CrossEntropyLoss, Dense, ReLU, Sequential


def main(seed: int = 0, verbose: int = 1) -> float:
    """Train on 75% of the digits and return the accuracy on the other 25%."""
    digits = load_digits()
    x = digits.data / 16.0  # pixel intensities 0..16 -> [0, 1]
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.25, random_state=seed, stratify=digits.target
    )
    rng = np.random.default_rng(seed)
    model = Sequential([Dense(64, 128, rng=rng), ReLU(), Dense(128, 10, rng=rng)])
    model.fit(
        x_train,
        y_train,
        loss=CrossEntropyLoss(),
        optimizer=Adam(model.parameters(), lr=1e-3),
        epochs=50,
        batch_size=32,
        validation_split=0.1,
        metrics=["accuracy"],
        verbose=verbose,
        rng=rng,
    )
    scores = model.evaluate(x_test, y_test, loss=CrossEntropyLoss(), metrics=["accuracy"])
    print(f"test loss {scores['loss']:.4f}, test accuracy {scores['accuracy']:.4f}")
    return scores["accuracy"]


if __name__ == "__main__":
    sys.exit(0 if main() >= 0.96 else 1)
