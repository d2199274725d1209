"""One rank of the data-parallel tests: run under ``mpiexec -n 2`` by test_distributed.py.

``python distributed_worker.py SCENARIO OUTDIR``; each rank writes what the
test checks into OUTDIR (never into the working directory):

- ``exact``: for SGD with momentum and for Adam, train on this rank's shard
  with per-rank batch ``B`` (validation, metrics, a ModelCheckpoint and a
  CSVLogger named after the rank), then save the final weights and History.
- ``stops``: an EarlyStopping run and a run whose loss overflows on rank 1
  only; record where each rank stopped.
- ``crash``: rank 1 raises in a callback mid-training while rank 0 keeps
  stepping; the job must end, not hang.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from layernet import (
    SGD,
    Adam,
    Callback,
    CSVLogger,
    Dense,
    EarlyStopping,
    FloatArray,
    ModelCheckpoint,
    MSELoss,
    Optimizer,
    ReLU,
    Sequential,
    Tanh,
)
from layernet.distributed import DistributedOptimizer, broadcast_parameters, shard

BATCH = 4
"""Rows per rank per step; the single-process reference uses 2 * BATCH."""

EPOCHS = 3


def make_model(seed: int) -> Sequential:
    layers = [Dense(5, 16, rng=seed), Tanh(), Dense(16, 8, rng=seed + 1), ReLU()]
    return Sequential([*layers, Dense(8, 2, rng=seed + 2)])


def make_data(n: int, seed: int = 0) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    y = np.stack([np.sin(x[:, 0]) + x[:, 1] * x[:, 2], x[:, 3] - 0.5 * x[:, 4] ** 2], axis=1)
    return x, y


def make_optimizer(name: str, model: Sequential) -> Optimizer:
    if name == "sgd":
        return SGD(model.parameters(), lr=0.05, momentum=0.9)
    return Adam(model.parameters(), lr=0.01)


TRAIN_ROWS = 2 * BATCH * 6 + 1
"""Six global steps of 2 * BATCH rows per epoch, and one row that shard leaves out."""

VAL_ROWS = 11


def exact(out: Path, rank: int) -> None:
    x, y = make_data(TRAIN_ROWS)
    xv, yv = make_data(VAL_ROWS, seed=1)
    x_mine, y_mine = shard(x, y)
    val_mine = shard(xv, yv)
    for name in ("sgd", "adam"):
        model = make_model(seed=10 * rank)  # different on each rank until broadcast
        broadcast_parameters(model, root=0)
        opt = DistributedOptimizer(make_optimizer(name, model))
        history = model.fit(
            x_mine, y_mine, loss=MSELoss(), optimizer=opt, epochs=EPOCHS, batch_size=BATCH,
            shuffle=False, validation_data=val_mine, metrics=["mae", "r2"], verbose=2,
            callbacks=[
                ModelCheckpoint(out / f"{name}-rank{rank}.npz", monitor="val_loss"),
                CSVLogger(out / f"{name}-rank{rank}.csv"),
            ],
        )  # fmt: skip
        np.savez(
            out / f"{name}-weights-{rank}.npz",
            *[p.value for p in model.parameters()],
        )
        (out / f"{name}-history-{rank}.json").write_text(json.dumps(history.history))
    (out / f"shard-{rank}.json").write_text(json.dumps({"rows": len(x_mine)}))


class StopOnRank(Callback):
    """Sets stop_training on one rank only, after a given epoch."""

    def __init__(self, rank: int, epoch: int) -> None:
        super().__init__()
        self.rank, self.epoch = rank, epoch

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if epoch == self.epoch and self.rank == 1:
            self.stop_training = True


def stops(out: Path, rank: int) -> None:
    x, y = make_data(TRAIN_ROWS)
    x_mine, y_mine = shard(x, y)
    result: dict[str, Any] = {}
    model = make_model(seed=0)
    opt = DistributedOptimizer(make_optimizer("sgd", model))
    history = model.fit(
        x_mine, y_mine, loss=MSELoss(), optimizer=opt, epochs=20, batch_size=BATCH, verbose=0,
        rng=0, callbacks=[EarlyStopping(monitor="loss", min_delta=1e9), StopOnRank(rank, 5)],
    )  # fmt: skip
    result["early_epochs"] = history.epoch
    model = make_model(seed=0)
    opt = DistributedOptimizer(make_optimizer("sgd", model))
    history = model.fit(
        x_mine, y_mine, loss=MSELoss(), optimizer=opt, epochs=20, batch_size=BATCH, verbose=0,
        rng=0, callbacks=[StopOnRank(rank, 2)],
    )  # fmt: skip
    result["vote_epochs"] = history.epoch
    if rank == 1:  # one target so large that this rank's loss overflows to inf in batch 3
        y_mine = y_mine.copy()
        y_mine[2 * BATCH + 1] = 1e200
    model = make_model(seed=0)
    opt = DistributedOptimizer(make_optimizer("sgd", model))
    try:
        model.fit(
            x_mine, y_mine, loss=MSELoss(), optimizer=opt, epochs=3, batch_size=BATCH,
            shuffle=False, verbose=0,
        )  # fmt: skip
        result["nan"] = "no error"
    except RuntimeError as exc:
        result["nan"] = str(exc)
    (out / f"stops-{rank}.json").write_text(json.dumps(result))


class FailOnRank(Callback):
    def __init__(self, rank: int) -> None:
        super().__init__()
        self.rank = rank

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if epoch == 1 and self.rank == 1:
            raise ValueError("rank 1 fails on purpose")


def crash(out: Path, rank: int) -> None:
    x, y = make_data(TRAIN_ROWS)
    x_mine, y_mine = shard(x, y)
    model = make_model(seed=0)
    opt = DistributedOptimizer(make_optimizer("adam", model))
    model.fit(
        x_mine, y_mine, loss=MSELoss(), optimizer=opt, epochs=10_000, batch_size=BATCH,
        verbose=0, callbacks=[FailOnRank(rank)],
    )  # fmt: skip
    (out / f"crash-finished-{rank}").write_text("the other rank was not stopped")


def main() -> None:
    from mpi4py import MPI  # type: ignore[import-not-found, unused-ignore]

    scenario, out = sys.argv[1], Path(sys.argv[2])
    rank = MPI.COMM_WORLD.Get_rank()
    {"exact": exact, "stops": stops, "crash": crash}[scenario](out, rank)


if __name__ == "__main__":
    main()
