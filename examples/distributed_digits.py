"""Train the digits classifier data-parallel over MPI ranks.

Needs mpi4py with an MPI library and scikit-learn
(``pip install -e ".[mpi,examples]"``). Run it on two processes with

    mpiexec -n 2 python examples/distributed_digits.py

(or on one, plainly with ``python``). Every rank loads the same digits and
takes its shard of the training rows; rank 0's initial weights are
broadcast; each step averages the gradients of the ranks' batches of 16
rows, so two ranks train as one process with batch 32. Rank 0 alone prints
the epochs and the test accuracy (at least 0.96) and writes the checkpoint.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from mpi4py import MPI
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from layernet import Adam, CrossEntropyLoss, Dense, ModelCheckpoint, ReLU, Sequential, load
from layernet.distributed import DistributedOptimizer, broadcast_parameters, shard


def main(seed: int = 0, verbose: int = 2, checkpoint: Path | None = None) -> float:
    """Train on this rank's shard of 75% of the digits; return the accuracy on the other 25%."""
    comm = MPI.COMM_WORLD
    digits = load_digits()
    x = digits.data / 16.0
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.25, random_state=seed, stratify=digits.target
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_train, y_train, test_size=0.1, random_state=seed, stratify=y_train
    )
    x_mine, y_mine = shard(x_train, y_train, comm)  # every size(comm)-th row, from rank
    val_mine = shard(x_val, y_val, comm)
    rng = np.random.default_rng(seed + comm.Get_rank())  # a different stream on every rank
    model = Sequential([Dense(64, 128, rng=rng), ReLU(), Dense(128, 10, rng=rng)])
    broadcast_parameters(model, root=0, comm=comm)  # ... but rank 0's weights everywhere
    opt = DistributedOptimizer(Adam(model.parameters(), lr=1e-3), comm)
    with tempfile.TemporaryDirectory() as scratch:
        path = checkpoint or Path(scratch) / "digits.npz"
        model.fit(
            x_mine,
            y_mine,
            loss=CrossEntropyLoss(),
            optimizer=opt,
            epochs=50,
            batch_size=32 // comm.Get_size(),  # rows per rank: 32 per step in all
            validation_data=val_mine,
            metrics=["accuracy"],
            callbacks=[ModelCheckpoint(path, monitor="val_loss", save_best_only=True)],
            verbose=verbose,
            rng=rng,
        )
        comm.Barrier()  # rank 0 has written the checkpoint
        if comm.Get_rank() != 0:
            return float("nan")
        best = load(path)
    scores = best.evaluate(x_test, y_test, loss=CrossEntropyLoss(), metrics=["accuracy"])
    print(
        f"{comm.Get_size()} ranks: best checkpoint's test loss {scores['loss']:.4f}, "
        f"test accuracy {scores['accuracy']:.4f}"
    )
    return scores["accuracy"]


if __name__ == "__main__":
    accuracy = main()
    sys.exit(0 if MPI.COMM_WORLD.Get_rank() != 0 or accuracy >= 0.96 else 1)
