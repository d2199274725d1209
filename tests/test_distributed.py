"""layernet.distributed: 2 MPI ranks of batch B train exactly as 1 process of batch 2B.

The multi-rank tests start ``mpiexec -n 2`` on ``distributed_worker.py`` and
compare what the ranks wrote with a single-process run computed here. They
skip when mpi4py or mpiexec is missing (``pip install -e ".[mpi]"``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from layernet import (
    LBFGS,
    SGD,
    Adam,
    CSVLogger,
    FloatArray,
    ModelCheckpoint,
    MSELoss,
    Optimizer,
    ProgressLogger,
    Sequential,
    StepLR,
    TerminateOnNaN,
    load,
    load_optimizer_state,
    save,
)
from layernet.callbacks import CallbackList

pytest.importorskip("mpi4py")

import distributed_worker as worker  # tests/ is on sys.path under pytest
from layernet.distributed import (
    DistributedOptimizer,
    broadcast_parameters,
    shard,
)

HERE = Path(__file__).parent
SRC = HERE.parent / "src"


def mpiexec() -> str | None:
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def run_ranks(scenario: str, out: Path, ranks: int = 2) -> subprocess.CompletedProcess[str]:
    launcher = mpiexec()
    if launcher is None:
        pytest.skip("mpiexec not found; pip install mpich (the mpi extra)")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(SRC), str(HERE), *filter(None, [env.get("PYTHONPATH")])]
    )
    env.setdefault("OMP_NUM_THREADS", "1")
    command = [launcher, "-n", str(ranks), sys.executable, str(HERE / "distributed_worker.py")]
    return subprocess.run(
        [*command, scenario, str(out)], capture_output=True, text=True, timeout=120, env=env
    )


def single_process(name: str) -> tuple[Sequential, Optimizer, dict[str, list[float]]]:
    """The reference: one process, batch 2B, the rows all ranks used, in the same order."""
    x, y = worker.make_data(worker.TRAIN_ROWS)
    xv, yv = worker.make_data(worker.VAL_ROWS, seed=1)
    used, val_used = worker.TRAIN_ROWS // 2 * 2, worker.VAL_ROWS // 2 * 2
    model = worker.make_model(seed=0)
    opt = worker.make_optimizer(name, model)
    history = model.fit(
        x[:used], y[:used], loss=MSELoss(), optimizer=opt, epochs=worker.EPOCHS,
        batch_size=2 * worker.BATCH, shuffle=False, metrics=["mae", "r2"], verbose=0,
        validation_data=(xv[:val_used], yv[:val_used]),
    )  # fmt: skip
    return model, opt, history.history


@pytest.fixture(scope="module")
def exact_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("exact")
    proc = run_ranks("exact", out)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_two_ranks_of_batch_b_end_where_one_process_of_batch_2b_does(
    exact_run: tuple[Path, str], name: str
) -> None:
    out, _ = exact_run
    model, _, _ = single_process(name)
    for rank in (0, 1):
        with np.load(out / f"{name}-weights-{rank}.npz") as saved:
            ranks = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        for got, want in zip(ranks, model.parameters(), strict=True):
            np.testing.assert_allclose(got, want.value, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_every_rank_logs_the_global_history(exact_run: tuple[Path, str], name: str) -> None:
    out, _ = exact_run
    _, _, reference = single_process(name)
    histories = [json.loads((out / f"{name}-history-{r}.json").read_text()) for r in (0, 1)]
    assert histories[0] == histories[1]
    assert set(histories[0]) == set(reference) == {
        "loss", "mae", "r2", "val_loss", "val_mae", "val_r2"
    }  # fmt: skip
    for key in ("val_loss", "val_mae", "val_r2"):  # the same rows, evaluated alike
        np.testing.assert_allclose(histories[0][key], reference[key], rtol=1e-12)
    # training loss and metrics: each batch at the weights of its own step, as in one process
    for key in ("loss", "mae", "r2"):
        np.testing.assert_allclose(histories[0][key], reference[key], rtol=1e-12)


def test_only_rank_zero_prints_and_writes_files(exact_run: tuple[Path, str]) -> None:
    out, stdout = exact_run
    for name in ("sgd", "adam"):
        assert (out / f"{name}-rank0.npz").exists()
        assert (out / f"{name}-rank0.csv").read_text().count("\n") == 1 + worker.EPOCHS
        assert not (out / f"{name}-rank1.npz").exists()
        assert not (out / f"{name}-rank1.csv").exists()
    assert stdout.count("Epoch 1/3") == 2  # verbose=2 on both ranks; printed by rank 0 alone
    assert stdout.count("Epoch 3/3") == 2


def test_shard_leaves_out_the_remainder(exact_run: tuple[Path, str]) -> None:
    out, _ = exact_run
    rows = [json.loads((out / f"shard-{r}.json").read_text())["rows"] for r in (0, 1)]
    assert rows == [worker.TRAIN_ROWS // 2] * 2


def test_the_rank_zero_checkpoint_loads_in_one_process(exact_run: tuple[Path, str]) -> None:
    out, _ = exact_run
    model, opt, _ = single_process("adam")
    loaded = load(out / "adam-rank0.npz", expect=Sequential)
    for got, want in zip(loaded.parameters(), model.parameters(), strict=True):
        np.testing.assert_allclose(got.value, want.value, rtol=0, atol=1e-12)
    resumed = Adam(loaded.parameters(), lr=0.5)
    load_optimizer_state(out / "adam-rank0.npz", resumed)
    assert resumed.lr == opt.lr
    for p, q in zip(resumed.params, opt.params, strict=True):
        assert set(resumed.state[p]) == set(opt.state[q])
        for key in opt.state[q]:
            np.testing.assert_allclose(resumed.state[p][key], opt.state[q][key], atol=1e-12)


def test_stopping_is_decided_the_same_on_every_rank(tmp_path: Path) -> None:
    proc = run_ranks("stops", tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = [json.loads((tmp_path / f"stops-{r}.json").read_text()) for r in (0, 1)]
    assert results[0]["early_epochs"] == results[1]["early_epochs"] == [0, 1]
    # a callback that stops rank 1 alone after epoch 3 stops both there
    assert results[0]["vote_epochs"] == results[1]["vote_epochs"] == [0, 1, 2]
    # rank 1's loss is inf in batch 3: both ranks stop there, before the step
    for result in results:
        assert "the loss is inf at epoch 1/3, batch 3/" in result["nan"]


def test_an_exception_on_one_rank_ends_the_job(tmp_path: Path) -> None:
    proc = run_ranks("crash", tmp_path)  # 120 s timeout: a hang fails the test
    assert proc.returncode != 0
    assert "[rank 1]" in proc.stderr
    assert "ValueError: rank 1 fails on purpose" in proc.stderr
    assert not list(tmp_path.glob("crash-finished-*"))


# -- one process (MPI's singleton mode): what the wrapper delegates ---------------------------


def make_model() -> Sequential:
    return worker.make_model(seed=0)


def test_the_wrapper_is_the_wrapped_optimizer_for_everything_but_the_gradients() -> None:
    model = make_model()
    inner = Adam(model.parameters(), lr=0.01, max_grad_norm=1.0)
    opt = DistributedOptimizer(inner, abort_on_error=False)
    assert opt.params is inner.params
    assert opt.get_config() == inner.get_config()
    assert opt.max_grad_norm == 1.0
    opt.lr = 0.02
    assert inner.lr == 0.02
    schedule = StepLR(opt, step_size=1, gamma=0.5)
    schedule.step()
    assert inner.lr == opt.lr == 0.01
    assert inner.initial_lr == 0.02
    x, y = worker.make_data(16)
    model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=1, batch_size=8, verbose=0)
    assert opt.state is inner.state
    assert len(opt.state) == len(inner.params)
    saved = opt.state_dict()
    assert saved["class_name"] == "Adam"
    fresh = DistributedOptimizer(Adam(make_model().parameters(), lr=1.0), abort_on_error=False)
    fresh.load_state_dict(saved)
    assert fresh.lr == 0.01
    assert opt.is_primary
    assert "Adam" in repr(opt)


def test_one_rank_trains_exactly_as_the_plain_optimizer() -> None:
    x, y = worker.make_data(24)
    results = []
    for wrap in (False, True):
        model = make_model()
        inner: Optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
        opt = DistributedOptimizer(inner, abort_on_error=False) if wrap else inner
        model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=2, batch_size=8, verbose=0, rng=0)
        results.append([p.value.copy() for p in model.parameters()])
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_gradient_exchange_is_one_buffer_per_dtype_until_parameters_move() -> None:
    model = make_model()
    opt = DistributedOptimizer(SGD(model.parameters(), lr=0.1), abort_on_error=False)
    buffers = opt._gradient_buffers()
    assert len(buffers) == 1
    assert buffers[0].size == sum(p.size for p in model.parameters())
    first = next(iter(model.parameters()))
    first.grad = first.grad.copy()  # moved: no longer tiles the buffer
    assert len(opt._gradient_buffers()) == len(list(model.parameters()))
    opt.allreduce_gradients()  # one rank: the mean is the gradient itself
    assert opt.allreduce_seconds >= 0.0


def test_a_checkpoint_of_the_wrapper_loads_into_the_plain_class(tmp_path: Path) -> None:
    model = make_model()
    opt = DistributedOptimizer(Adam(model.parameters(), lr=0.01), abort_on_error=False)
    x, y = worker.make_data(16)
    model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=1, batch_size=8, verbose=0)
    save(model, tmp_path / "m.npz", opt)
    plain = Adam(load(tmp_path / "m.npz").parameters(), lr=1.0)
    load_optimizer_state(tmp_path / "m.npz", plain)
    assert plain.lr == 0.01


def test_bad_arguments_are_named() -> None:
    model = make_model()
    with pytest.raises(TypeError, match="must be an Optimizer instance"):
        DistributedOptimizer(model.parameters(), abort_on_error=False)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="LBFGS is a full-batch optimizer"):
        DistributedOptimizer(LBFGS(model.parameters()), abort_on_error=False)
    opt = DistributedOptimizer(SGD(model.parameters(), lr=0.1), abort_on_error=False)
    with pytest.raises(TypeError, match="already distributed"):
        DistributedOptimizer(opt, abort_on_error=False)
    with pytest.raises(TypeError, match="comm must be an mpi4py communicator"):
        DistributedOptimizer(SGD(model.parameters(), lr=0.1), comm=0, abort_on_error=False)
    with pytest.raises(ValueError, match=r"root must be a rank in \[0, 1\), got 1"):
        broadcast_parameters(model, root=1)
    with pytest.raises(TypeError, match="model must be a Layer"):
        broadcast_parameters([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="x has 3 samples, y has 2"):
        shard(np.zeros((3, 2)), np.zeros(2))


def test_shard_on_one_rank_is_everything() -> None:
    x, y = np.arange(10.0).reshape(5, 2), np.arange(5.0)
    xs, ys = shard(x, y)
    np.testing.assert_array_equal(xs, x)
    np.testing.assert_array_equal(ys, y)


def test_broadcast_on_one_rank_keeps_the_arrays() -> None:
    model = make_model()
    before = [(p.value, p.value.copy()) for p in model.parameters()]
    broadcast_parameters(model)
    for array, copy in before:
        np.testing.assert_array_equal(array, copy)
    assert [p.value for p in model.parameters()] == [a for a, _ in before]


@pytest.mark.parametrize("primary", [True, False])
def test_callbacks_that_write_run_only_on_the_primary_process(
    tmp_path: Path, primary: bool
) -> None:
    user: list[Any] = [ModelCheckpoint(tmp_path / "c.npz"), CSVLogger(tmp_path / "c.csv")]
    kept = CallbackList.for_fit(user, verbose=2, primary=primary).callbacks
    kinds = {type(cb) for cb in kept}
    assert TerminateOnNaN in kinds
    assert (ProgressLogger in kinds) is primary
    assert (ModelCheckpoint in kinds) is primary
    assert (CSVLogger in kinds) is primary


def test_the_default_optimizer_trains_alone() -> None:
    model = make_model()
    opt = SGD(model.parameters(), lr=0.1)
    values: FloatArray = np.arange(3.0)
    assert opt.is_primary
    assert opt.global_loss(2.5, 4) == 2.5
    (only,) = opt.gather(values)
    assert only is values
