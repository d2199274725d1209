"""Sweep the learning rate and width of a digits classifier with Ray Tune and ASHA.

Needs Ray Tune and scikit-learn (``pip install -e ".[ray,examples]"``). Run
``python examples/ray_sweep.py``: Ray starts locally on two CPUs, Tune samples
configurations (Adam's learning rate, log-uniform in [1e-4, 3e-2]; the
hidden width, 16 to 128), trains each one, and ASHA stops the trials whose
validation accuracy trails the others' at the same epoch. The best trial's
checkpoint is then loaded with layernet alone and scored on the test set.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.basic_variant import BasicVariantGenerator
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from layernet import Adam, CrossEntropyLoss, Dense, ReLU, Sequential, load
from layernet.integrations.ray import TuneReportCheckpointCallback, restore_checkpoint


def digits(seed: int = 0) -> tuple[np.ndarray, ...]:
    """Train, validation and test splits of the 8x8 digits, pixels scaled to [0, 1]."""
    data = load_digits()
    x, y = data.data / 16.0, data.target
    x_fit, x_test, y_fit, y_test = train_test_split(
        x, y, test_size=0.25, random_state=seed, stratify=y
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_fit, y_fit, test_size=0.2, random_state=seed, stratify=y_fit
    )
    return x_train, x_val, x_test, y_train, y_val, y_test


def trainable(config: dict[str, Any], data: tuple[np.ndarray, ...]) -> None:
    """One trial: build the model its config asks for, resume if Tune says so, train."""
    x_train, x_val, _, y_train, y_val, _ = data
    rng = np.random.default_rng(config["seed"])
    width = int(config["width"])
    model = Sequential([Dense(64, width, rng=rng), ReLU(), Dense(width, 10, rng=rng)])
    opt = Adam(model.parameters(), lr=config["lr"])
    done = restore_checkpoint(model, opt)  # 0 for a fresh trial
    if done >= config["epochs"]:  # PBT may resume a trial at its last checkpoint
        return
    opt.lr = config["lr"]  # a scheduler such as PBT may have changed it
    model.fit(
        x_train,
        y_train,
        loss=CrossEntropyLoss(),
        optimizer=opt,
        epochs=config["epochs"] - done,
        batch_size=32,
        validation_data=(x_val, y_val),
        metrics=["accuracy"],
        verbose=0,
        rng=rng,
        callbacks=[TuneReportCheckpointCallback(initial_epoch=done)],
    )


def main(
    num_samples: int = 12, epochs: int = 20, storage: str | None = None, seed: int = 0
) -> tuple[dict[str, Any], float]:
    """Run the sweep; return the best trial's config and its test accuracy."""
    splits = digits(seed)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            tuner = tune.Tuner(
                tune.with_parameters(trainable, data=splits),  # the arrays travel once
                param_space={
                    "lr": tune.loguniform(1e-4, 3e-2),
                    "width": tune.choice([16, 32, 64, 128]),
                    "epochs": epochs,
                    "seed": seed,
                },
                tune_config=tune.TuneConfig(
                    metric="val_accuracy",
                    mode="max",
                    num_samples=num_samples,
                    scheduler=ASHAScheduler(max_t=epochs, grace_period=2, reduction_factor=2),
                    search_alg=BasicVariantGenerator(random_state=seed),
                    reuse_actors=True,  # a new trial reuses a finished one's process
                ),
                run_config=tune.RunConfig(
                    name="digits_asha", storage_path=storage or scratch, verbose=0
                ),
            )
            results = tuner.fit()
            best = results.get_best_result()
            if best.checkpoint is None:
                raise RuntimeError(f"trial {best.path} reported no checkpoint")
            with best.checkpoint.as_directory() as folder:
                model = load(Path(folder) / "model.npz")
    finally:
        ray.shutdown()
    _, _, x_test, _, _, y_test = splits
    scores = model.evaluate(x_test, y_test, loss=CrossEntropyLoss(), metrics=["accuracy"])
    config = {k: best.config[k] for k in ("lr", "width")}
    epochs_run = int(best.metrics["epoch"])
    print(
        f"best of {len(results)} trials: lr {config['lr']:.2e}, width {config['width']}, "
        f"{epochs_run} epochs, val accuracy {best.metrics['val_accuracy']:.4f}, "
        f"test accuracy {scores['accuracy']:.4f}"
    )
    return config, scores["accuracy"]


if __name__ == "__main__":
    sys.exit(0 if main()[1] >= 0.95 else 1)
