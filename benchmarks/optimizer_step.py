"""One optimizer step, three ways: packed parameters, the per-parameter fallback, a plain loop.

python -m benchmarks.optimizer_step            # both models, SGD, SGD + momentum and Adam
python -m benchmarks.optimizer_step --quick    # fewer repeats

For each model and optimizer the rows are:

- **packed**: the parameters tile one contiguous buffer (the optimizer packs
  them), so a step is a few ufunc calls over slices of that buffer;
- **fallback**: every parameter's arrays were rebound after the optimizer was
  built, so they no longer tile a buffer and the step walks them one by one;
- **plain loop**: the obvious hand-written NumPy loop over the parameters
  (``p.value -= lr * p.grad`` for SGD), the floor the fallback must meet.

Times are medians of interleaved rounds (see ``_harness.race``), each round
timing a burst of steps; ratios are to the plain loop.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

import layernet
from layernet.parameter import Parameter, flat_span, pack_parameters

from ._harness import WorkloadResult, machine_info, markdown, race

MODELS: dict[str, tuple[tuple[int, ...], type[np.floating[Any]]]] = {
    "small 64-128-10 float64": ((64, 128, 10), np.float64),
    "wide 784-1024-1024-10 float32": ((784, 1024, 1024, 10), np.float32),
}

OPTIMIZERS: dict[str, Callable[[list[Parameter]], layernet.Optimizer]] = {
    "SGD": lambda ps: layernet.SGD(ps, lr=1e-3),
    "SGD momentum 0.9": lambda ps: layernet.SGD(ps, lr=1e-3, momentum=0.9),
    "Adam": lambda ps: layernet.Adam(ps, lr=1e-3),
}


def make_parameters(sizes: tuple[int, ...], dtype: type[np.floating[Any]]) -> list[Parameter]:
    """A Dense stack's weights and biases, with a fixed random gradient each."""
    rng = np.random.default_rng(0)
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        for shape in ((fan_in, fan_out), (fan_out,)):
            value = (0.1 * rng.standard_normal(shape)).astype(dtype)
            grad = (0.01 * rng.standard_normal(shape)).astype(dtype)
            params.append(Parameter(value, grad))
    return params


def rebind(params: list[Parameter]) -> None:
    """Give every parameter fresh arrays (same numbers), so none tiles a shared buffer."""
    for p in params:
        p.value, p.grad = p.value.copy(), p.grad.copy()


def plain_loop(name: str, params: list[Parameter]) -> Callable[[], None]:
    """The obvious per-parameter NumPy loop for optimizer ``name``."""
    lr = 1e-3
    if name == "SGD":

        def sgd() -> None:
            for p in params:
                p.value -= lr * p.grad

        return sgd
    if name == "SGD momentum 0.9":
        bufs = [np.zeros_like(p.value) for p in params]

        def momentum() -> None:
            for p, b in zip(params, bufs, strict=True):
                b *= 0.9
                b += p.grad
                p.value -= lr * b

        return momentum
    b1, b2, eps = 0.9, 0.999, 1e-8
    ms = [np.zeros_like(p.value) for p in params]
    vs = [np.zeros_like(p.value) for p in params]
    t = 0

    def adam() -> None:
        nonlocal t
        t += 1
        c1, c2 = 1 - b1**t, 1 - b2**t
        for p, m, v in zip(params, ms, vs, strict=True):
            g = p.grad
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p.value -= (lr / c1) * m / (np.sqrt(v / c2) + eps)

    return adam


def burst(step: Callable[[], object], n: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(n):
            step()

    return run


def measure(
    model: str, optimizer: str, *, repeats: int, budget: float
) -> tuple[WorkloadResult, dict[str, bool]]:
    sizes, dtype = MODELS[model]
    packed, loose, naive = (make_parameters(sizes, dtype) for _ in range(3))
    pack_parameters(packed)  # what the optimizer does itself; explicit so any version agrees
    opt_packed = OPTIMIZERS[optimizer](packed)
    opt_loose = OPTIMIZERS[optimizer](loose)
    rebind(loose)  # built, then moved: the optimizer must fall back to parameter by parameter
    rebind(naive)
    paths = {
        "packed tiles": flat_span([p.value for p in packed]) is not None,
        "fallback tiles": flat_span([p.value for p in loose]) is not None,
    }
    # about how long one step takes, to size the bursts
    single = race({"probe": opt_packed.step}, repeats=3, warmup=1).median("probe")
    n = max(1, int(budget / max(single, 1e-7)))
    entries = {
        "layernet, packed": burst(opt_packed.step, n),
        "layernet, fallback": burst(opt_loose.step, n),
        "plain loop": burst(plain_loop(optimizer, naive), n),
    }
    timed = race(entries, repeats=repeats, warmup=1)
    total = sum(p.size for p in packed)
    result = WorkloadResult(
        f"{optimizer}, {model}",
        f"one step over {len(packed)} parameters, {total:,} numbers, median of {repeats} "
        f"rounds of {n} steps",
        "us/step",
        "plain loop",
        [timed.row(name, n) for name in timed.rounds],
    )
    return result, paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.optimizer_step", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    args = parser.parse_args(argv)
    repeats, budget = (5, 0.01) if args.quick else (15, 0.05)
    results = []
    for model in MODELS:
        for optimizer in OPTIMIZERS:
            print(f"timing {optimizer} on {model}...", file=sys.stderr, flush=True)
            result, paths = measure(model, optimizer, repeats=repeats, budget=budget)
            if not paths["packed tiles"] or paths["fallback tiles"]:
                result.notes.append(f"the paths are not the ones named: {paths}")
            results.append(result)
    print(markdown(results, machine_info()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
