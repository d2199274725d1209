"""The shipped gender data and the ``python -m layernet`` demo."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from layernet.__main__ import main
from layernet.datasets import HEIGHT_SHIFT_IN, WEIGHT_SHIFT_LB, load_gender, load_gender_test


def test_gender_data_matches_the_blog() -> None:
    data = load_gender()
    assert data.names == ("Alice", "Bob", "Charlie", "Diana")
    np.testing.assert_array_equal(data.x, [[-2, -1], [25, 6], [17, 4], [-15, -6]])
    np.testing.assert_array_equal(data.y, [[1], [0], [0], [1]])
    np.testing.assert_array_equal(data.raw - [WEIGHT_SHIFT_LB, HEIGHT_SHIFT_IN], data.x)
    test = load_gender_test()
    assert test.names == ("Emily", "Frank")
    np.testing.assert_array_equal(test.x, [[-7, -3], [20, 2]])
    np.testing.assert_array_equal(test.raw, [[128, 63], [155, 68]])
    with pytest.raises(ValueError, match="read-only"):
        data.x[0, 0] = 1.0


def test_demo_trains_and_predicts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seed", "0"]) == 0
    out = capsys.readouterr().out
    losses = [float(line.split()[-1]) for line in out.splitlines() if line.startswith("epoch")]
    assert len(losses) == 10
    assert losses[-1] < losses[0] < 0.25
    emily = next(line for line in out.splitlines() if line.startswith("Emily"))
    frank = next(line for line in out.splitlines() if line.startswith("Frank"))
    assert emily.endswith("female")
    assert frank.endswith("-> male")
    assert float(emily.split(":")[1].split()[0]) > 0.9
    assert float(frank.split(":")[1].split()[0]) < 0.1


def test_demo_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--epochs", "0"])
    assert "--epochs must be a positive integer, got 0" in capsys.readouterr().err


def test_demo_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "layernet", "--epochs", "200", "--seed", "3"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "epoch  200" in result.stdout
    assert "Emily" in result.stdout
