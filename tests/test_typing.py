"""Run ``mypy --strict`` over a user-style module, as a downstream typed project would."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

USER_MODULE = Path(__file__).parent / "typing" / "user_model.py"


def test_user_module_type_checks_under_mypy_strict() -> None:
    api = pytest.importorskip("mypy.api")
    stdout, stderr, status = api.run(
        ["--strict", "--no-incremental", "--config-file", "/dev/null", str(USER_MODULE)]
    )
    assert status == 0, stdout + stderr


def test_user_module_runs(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(USER_MODULE), run_name="__main__")
    assert "Total parameters" in capsys.readouterr().out
