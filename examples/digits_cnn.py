"""Classify scikit-learn's 8x8 digits with a small convolutional network.

Conv2d(1, 32, 3, padding=1) -> ReLU -> MaxPool2d(2) -> Conv2d(32, 64, 3, padding=1)
-> ReLU -> Flatten -> Dense(1024, 10), cross-entropy, AdamW with a cosine learning
rate over 40 epochs (0.982 to 0.989 test accuracy over split seeds 0-3). Needs scikit-learn
(``pip install -e ".[examples]"``) for the bundled data set and the split. Run
``python examples/digits_cnn.py``; it prints the test accuracy, at least 0.98.
"""

from __future__ import annotations

import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from layernet import (
    AdamW,
    Conv2d,
    CrossEntropyLoss,
    Dense,
    Flatten,
    LearningRateScheduler,
    MaxPool2d,
    ReLU,
    Sequential,
)

LR = 3e-3


def build(rng: np.random.Generator) -> Sequential:
    """The CNN: two 3x3 convolutions (32 and 64 channels), one 2x2 max-pool, a linear head."""
    return Sequential(
        [
            Conv2d(1, 32, 3, padding=1, rng=rng, dtype=np.float32),
            ReLU(),
            MaxPool2d(2),  # 8x8 -> 4x4
            Conv2d(32, 64, 3, padding=1, rng=rng, dtype=np.float32),
            ReLU(),
            Flatten(),
            Dense(64 * 4 * 4, 10, rng=rng, dtype=np.float32),
        ]
    )


def cosine(epochs: int) -> LearningRateScheduler:
    """Anneal the learning rate from LR to about 0 over ``epochs``, once per epoch."""
    return LearningRateScheduler(
        lambda epoch, lr: LR * 0.5 * (1.0 + float(np.cos(np.pi * epoch / epochs))) + 1e-5
    )


def main(seed: int = 0, verbose: int = 1, epochs: int = 40) -> float:
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
        optimizer=AdamW(model.parameters(), lr=LR, weight_decay=1e-2),
        epochs=epochs,
        batch_size=64,
        metrics=["accuracy"],
        callbacks=[cosine(epochs)],
        verbose=verbose,
        rng=rng,
    )
    scores = model.evaluate(x_test, y_test, loss=CrossEntropyLoss(), metrics=["accuracy"])
    print(f"test loss {scores['loss']:.4f}, test accuracy {scores['accuracy']:.4f}")
    return scores["accuracy"]


if __name__ == "__main__":
    sys.exit(0 if main() >= 0.98 else 1)
