"""`wide`: 784-1024-1024-10 ReLU on 60000x784 float32, cross-entropy, SGD lr 0.01, batch 256.

Here the work is all matrix products, so the yardstick is the pure-GEMM time
of exactly the products one epoch needs; the memory check runs one epoch of
``fit`` in a fresh process and compares its peak RSS growth with the bytes
the parameters, gradients, optimizer state and one batch's activations need.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np

from . import _mlp
from ._harness import MemoryRow, WorkloadResult, judge
from ._mlp_workload import accuracy, time_implementations

SIZES = (784, 1024, 1024, 10)


def make_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic, learnable data: labels from a fixed random linear teacher."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, SIZES[0]), dtype=np.float32)
    teacher = rng.standard_normal((SIZES[0], SIZES[-1]), dtype=np.float32)
    y = np.argmax(x @ teacher, axis=1)
    return x, y


def run(quick: bool = False) -> WorkloadResult:
    n = 2048 if quick else 60000
    x, y = make_data(n)
    recipe = _mlp.Recipe(SIZES, "ce", "sgd", 0.01, 256, 1, np.float32)
    rows, notes = time_implementations(
        recipe,
        x,
        y,
        repeats=1 if quick else 3,
        score=lambda p: {"train accuracy": accuracy(p(x[:5000]), y[:5000])},
    )
    steps = math.ceil(n / recipe.batch_size)
    flops = _mlp.flops_per_step(recipe, recipe.batch_size) * steps
    for row in rows:
        row.seconds *= steps  # seconds per epoch
        row.rounds = [t * steps for t in row.rounds]
        row.extra["GFLOP/s"] = flops / row.seconds / 1e9
    result = WorkloadResult(
        "wide",
        f"784-1024-1024-10 ReLU, cross-entropy, SGD lr 0.01, batch 256, one epoch of "
        f"{n}x784 float32",
        "s/epoch",
        "pure GEMM",
        rows,
        notes=notes,
    )
    targets = [
        judge("layernet / pure GEMM", result.ratio("layernet"), "<= 1.05"),
        judge("layernet fit() / pure GEMM", result.ratio("layernet fit()"), "<= 1.05"),
        judge("layernet / PyTorch", result.ratio("layernet", "PyTorch"), "<= 1.0"),
    ]
    mem = measure_memory(n)
    if mem is not None:
        peak = MemoryRow("layernet fit(), one epoch", mem["peak_mib"], mem["needed_mib"])
        result.memory.append(peak)
        targets.append(judge("peak RSS / bytes needed", peak.ratio, "<= 1.5", quick_ok=True))
        result.notes.append(
            f"memory: peak RSS growth {mem['peak_mib']:.1f} MiB during one epoch of fit() against "
            f"{mem['needed_mib']:.1f} MiB needed (parameters, gradients, optimizer state, one "
            f"batch's activations and gradients; the {mem['data_mib']:.0f} MiB data set excluded)"
        )
    result.targets = [t for t in targets if t is not None]
    return result


def measure_memory(n: int) -> dict[str, float] | None:
    """Run ``benchmarks._memory_probe`` in a fresh process and read its JSON."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks._memory_probe", str(n)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])
