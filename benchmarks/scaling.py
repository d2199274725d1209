"""Data-parallel scaling over MPI, measured on this machine and modelled for clusters.

python -m benchmarks.scaling                       # measure, model, print markdown
python -m benchmarks.scaling --out benchmarks/results   # ... and write scaling.md / .json
python -m benchmarks.scaling --quick               # a short smoke run

Two workloads, each run three ways on the same cores: one process with two
BLAS threads, one process with one thread, and two MPI ranks with one thread
each (``mpiexec -n 2``, :class:`layernet.distributed.DistributedOptimizer`).
Every rank keeps the workload's batch size, so two ranks do half the steps
of one process per epoch (weak scaling per step, the usual data-parallel
setting; the global batch doubles). Reported: the median seconds per epoch
(the first epoch is a warm-up), the part of it spent in the gradient
``Allreduce``, and the efficiency ``T(1 rank) / (p T(p ranks))``.

The cost model predicts the time of a step on ``p`` ranks as the measured
single-rank compute time plus a ring allreduce of the parameter bytes:
``2 (p-1)/p * bytes / bandwidth + 2 (p-1) * latency``. It is checked here
against the two-rank measurement, with the latency and bandwidth of this
machine's shared-memory MPI measured by timing ``Allreduce`` of 8 bytes and
of 64 MiB, then tabulated for 2, 8 and 64 ranks on 10 and 100 Gb/s networks.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

WORKLOADS = ("digits", "wide")
RANKS = (2, 8, 64)
NETWORKS = {"10 Gb/s": (10e9 / 8, 20e-6), "100 Gb/s": (100e9 / 8, 5e-6)}
"""Bandwidth in bytes/s and per-message latency in s: 10 Gb/s Ethernet with TCP (about
20 us), 100 Gb/s with RDMA (InfiniBand or RoCE, about 5 us)."""


# -- one run (one process, or one rank of an mpiexec job) ----------------------------------


def _workload(name: str, quick: bool) -> tuple[Any, Any, Any, Any, int]:
    """(model, loss, optimizer, (x, y), batch) for a workload, built from seed 0."""
    from layernet import SGD, Adam, CrossEntropyLoss, Dense, ReLU, Sequential

    rng = np.random.default_rng(0)
    if name == "digits":
        from sklearn.datasets import load_digits

        data = load_digits()
        x, y = data.data / 16.0, data.target
        model = Sequential([Dense(64, 128, rng=rng), ReLU(), Dense(128, 10, rng=rng)])
        return model, CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3), (x, y), 32
    sizes = (784, 1024, 1024, 10)
    n = 2048 if quick else 12288
    x = rng.standard_normal((n, sizes[0]), dtype=np.float32)
    teacher = rng.standard_normal((sizes[0], sizes[-1]), dtype=np.float32)
    y = np.argmax(x @ teacher, axis=1)
    layers: list[Any] = []
    for a, b in itertools.pairwise(sizes):
        layers += [Dense(a, b, rng=rng, dtype=np.float32), ReLU()]
    model = Sequential(layers[:-1])
    return model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.01), (x, y), 256


def _allreduce_probe(comm: Any) -> dict[str, float]:
    """Seconds per ``Allreduce`` of 8 bytes and of 64 MiB (float64), medians."""
    from mpi4py import MPI

    out = {}
    for label, count, reps in (("small", 1, 2000), ("large", 8 << 20, 5)):
        buf = np.ones(count)
        times = []
        for _ in range(reps):
            comm.Barrier()
            start = MPI.Wtime()
            comm.Allreduce(MPI.IN_PLACE, buf)
            times.append(MPI.Wtime() - start)
        out[label] = statistics.median(times)
    out["large_bytes"] = float(8 * (8 << 20))
    return out


def worker(name: str, epochs: int, quick: bool, distributed: bool) -> dict[str, Any]:
    """Train ``epochs`` epochs; epoch seconds, allreduce seconds per epoch, sizes."""
    from layernet import Callback

    model, loss, opt, (x, y), batch = _workload(name, quick)
    comm = None
    if distributed:
        from mpi4py import MPI

        from layernet.distributed import DistributedOptimizer, shard

        comm = MPI.COMM_WORLD
        x, y = shard(x, y, comm)
        opt = DistributedOptimizer(opt, comm)
    marks: list[float] = []

    class Mark(Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            marks.append(getattr(opt, "allreduce_seconds", 0.0))

    history = model.fit(
        x, y, loss=loss, optimizer=opt, epochs=epochs, batch_size=batch, verbose=0, rng=0,
        callbacks=[Mark()],
    )  # fmt: skip
    in_allreduce = np.diff([0.0, *marks]).tolist()
    result = {
        "epoch_seconds": history.times,
        "allreduce_seconds": in_allreduce,
        "steps": history.params["steps"],
        "batch": batch,
        "param_bytes": sum(p.value.nbytes for p in model.parameters()),
    }
    if comm is not None:
        result["probe"] = _allreduce_probe(comm)
        if comm.Get_rank() != 0:
            return {}
    return result


# -- the driver ------------------------------------------------------------------------------


@dataclass
class Measured:
    label: str
    ranks: int
    threads: int
    epoch: float  # median seconds per epoch, warm-up excluded
    allreduce: float  # median seconds per epoch in Allreduce
    steps: int
    raw: dict[str, Any]


def _launch(name: str, ranks: int, threads: int, epochs: int, quick: bool) -> dict[str, Any]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join([str(root / "src"), str(root), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "benchmarks.scaling", "--worker", name]
    command += ["--epochs", str(epochs)] + (["--quick"] if quick else [])
    if ranks > 1:
        mpiexec = Path(sys.executable).parent / "mpiexec"
        command = [str(mpiexec), "-n", str(ranks), *command, "--distributed"]
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def measure(name: str, epochs: int, quick: bool) -> list[Measured]:
    runs = []
    for label, ranks, threads in (
        ("1 process x 2 threads", 1, 2),
        ("1 process x 1 thread", 1, 1),
        ("2 MPI ranks x 1 thread", 2, 1),
    ):
        raw = _launch(name, ranks, threads, epochs, quick)
        times = raw["epoch_seconds"][1:] or raw["epoch_seconds"]
        reduce = raw["allreduce_seconds"][1:] or raw["allreduce_seconds"]
        runs.append(
            Measured(
                label,
                ranks,
                threads,
                statistics.median(times),
                statistics.median(reduce),
                raw["steps"],
                raw,
            )
        )
    return runs


def ring_allreduce(p: int, nbytes: float, bandwidth: float, latency: float) -> float:
    """Seconds for a ring allreduce of ``nbytes`` over ``p`` ranks."""
    return 2 * (p - 1) / p * nbytes / bandwidth + 2 * (p - 1) * latency


def step_communication(p: int, nbytes: float, bandwidth: float, latency: float) -> float:
    """Seconds of communication per step: the gradients' ring allreduce, plus the batch
    loss's 16-byte allreduce that fit does so that all ranks stop at the same batch
    (recursive doubling for a small message: ceil(log2 p) latencies)."""
    return ring_allreduce(p, nbytes, bandwidth, latency) + math.ceil(math.log2(p)) * latency


def model_efficiency(compute: float, p: int, nbytes: float, bandwidth: float, lat: float) -> float:
    """Predicted efficiency of a step: compute / (compute + communication)."""
    return compute / (compute + step_communication(p, nbytes, bandwidth, lat))


def report(results: dict[str, list[Measured]], quick: bool) -> tuple[str, dict[str, Any]]:
    lines = ["## Measured on this machine", ""]
    lines += [
        "| workload | run | s/epoch | in Allreduce (s/epoch) | steps/epoch per rank "
        "| speedup | efficiency |",
        "|---|---|---|---|---|---|---|",
    ]
    data: dict[str, Any] = {"quick": quick, "workloads": {}}
    for name, runs in results.items():
        base = runs[1].epoch
        for run in runs:
            speedup = base / run.epoch
            eff = speedup / (run.ranks * run.threads)
            lines.append(
                f"| {name} | {run.label} | {run.epoch:.3f} | {run.allreduce:.4f} | {run.steps} "
                f"| {speedup:.2f} | {eff:.2f} |"
            )
    lines += ["", "## The model against the 2-rank measurement", ""]
    lines += [
        "| workload | param bytes | compute per step (1 thread) | gradient Allreduce per "
        "step: model | measured | s/epoch on 2 ranks: model | measured |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        one, two = runs[1], runs[2]
        probe = two.raw["probe"]
        latency = probe["small"] / 2  # p = 2: 2 (p-1) latency terms, no bandwidth term to speak of
        bandwidth = probe["large_bytes"] / (probe["large"] - 2 * latency)  # 2 (p-1)/p = 1
        nbytes = one.raw["param_bytes"]
        compute = one.epoch / one.steps
        model_ar = ring_allreduce(2, nbytes, bandwidth, latency)
        measured_ar = two.allreduce / two.steps
        model_epoch = two.steps * (compute + step_communication(2, nbytes, bandwidth, latency))
        lines.append(
            f"| {name} | {nbytes:,} | {compute * 1e3:.3f} ms | {model_ar * 1e3:.3f} ms "
            f"| {measured_ar * 1e3:.3f} ms | {model_epoch:.3f} | {two.epoch:.3f} |"
        )
        data["workloads"][name] = {
            "runs": [
                {k: getattr(r, k) for k in ("label", "ranks", "threads", "epoch", "allreduce")}
                | {"steps": r.steps}
                for r in runs
            ],
            "param_bytes": nbytes,
            "compute_per_step": compute,
            "shared_memory_latency": latency,
            "shared_memory_bandwidth": bandwidth,
            "model_allreduce_per_step": model_ar,
            "measured_allreduce_per_step": measured_ar,
            "model_epoch_2_ranks": model_epoch,
        }
    first = next(iter(results.values()))[2].raw["probe"]
    lines += [
        "",
        f"Shared-memory MPI on this machine: latency {first['small'] / 2 * 1e6:.1f} us per "
        f"message (from an 8-byte Allreduce), bandwidth "
        f"{first['large_bytes'] / (first['large'] - first['small']) / 1e9:.2f} GB/s "
        "(from a 64 MiB Allreduce).",
        "",
        "## Predicted efficiency on a cluster",
        "",
        "Efficiency per step: compute / (compute + communication), with the single-rank "
        "compute time measured above (1 thread, the workload's batch per rank) and the "
        "communication of the model (the gradients' ring allreduce and the batch loss's "
        "small allreduce). Latency: "
        + ", ".join(f"{k}: {v[1] * 1e6:.0f} us" for k, v in NETWORKS.items())
        + ".",
        "",
        "| workload | network | " + " | ".join(f"p = {p}" for p in RANKS) + " |",
        "|---|---|" + "---|" * len(RANKS),
    ]
    for name, runs in results.items():
        compute = runs[1].epoch / runs[1].steps
        nbytes = runs[1].raw["param_bytes"]
        for net, (bw, lat) in NETWORKS.items():
            cells = [f"{model_efficiency(compute, p, nbytes, bw, lat):.2f}" for p in RANKS]
            lines.append(f"| {name} | {net} | " + " | ".join(cells) + " |")
            predicted = dict(zip(RANKS, map(float, cells), strict=True))
            data["workloads"][name][f"predicted {net}"] = predicted
    return "\n".join(lines) + "\n", data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--worker", choices=WORKLOADS, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--distributed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    epochs = args.epochs or (2 if args.quick else 5)
    if args.worker:
        result = worker(args.worker, epochs, args.quick, args.distributed)
        if result:
            print(json.dumps(result))
        return 0
    start = time.perf_counter()
    results = {name: measure(name, epochs, args.quick) for name in WORKLOADS}
    text, data = report(results, args.quick)
    data["seconds"] = time.perf_counter() - start
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "scaling.md").write_text(text)
        (args.out / "scaling.json").write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
