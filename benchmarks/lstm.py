"""`lstm`: see benchmarks/sequence.py (one training step of the layer, side by side)."""

from __future__ import annotations

from ._harness import WorkloadResult
from .sequence import run_workload


def run(quick: bool = False) -> WorkloadResult:
    return run_workload("lstm", quick)
