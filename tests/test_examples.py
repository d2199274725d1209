"""The examples run and reach their stated results (skipped without scikit-learn)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_digits_example_reaches_96_percent_test_accuracy() -> None:
    pytest.importorskip("sklearn")
    example = runpy.run_path(str(EXAMPLES / "digits.py"))
    assert example["main"](seed=0, verbose=0) >= 0.96


def test_digits_cnn_example_reaches_98_percent_test_accuracy() -> None:
    pytest.importorskip("sklearn")
    example = runpy.run_path(str(EXAMPLES / "digits_cnn.py"))
    assert example["main"](seed=0, verbose=0) >= 0.98


def test_distributed_digits_example_reaches_96_percent_on_one_process() -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("mpi4py")  # one process: MPI's singleton mode, no mpiexec needed
    example = runpy.run_path(str(EXAMPLES / "distributed_digits.py"))
    assert example["main"](seed=0, verbose=0) >= 0.96
