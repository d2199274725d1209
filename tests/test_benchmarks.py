"""The benchmark suite's smoke run: ``python -m benchmarks --quick`` runs and reports well.

No timing is asserted here (machines are shared and noisy): speed lives in
the benchmarks' own report, as ratios measured in one run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_run_writes_a_table_and_json_for_every_workload(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "results.json").read_text())
    names = [w["name"] for w in report["workloads"]]
    assert names == ["seed", "tiny", "digits", "wide", "conv", "lstm", "gru", "attention"]
    assert report["machine"]["numpy"]
    markdown = (tmp_path / "results.md").read_text()
    assert markdown.strip() == result.stdout.strip()
    for workload in report["workloads"]:
        rows = {row["name"]: row for row in workload["rows"]}
        if "skipped" in rows:
            continue
        assert f"### `{workload['name']}`" in markdown
        assert rows["layernet"]["seconds"] > 0
        assert workload["ratios"]["layernet"] > 0
        for target in workload["targets"]:
            op, bound = target["limit"].split()
            value = target["value"]
            assert target["met"] == (value <= float(bound) if op == "<=" else value >= float(bound))
            verdict = "met" if target["met"] else "NOT MET"
            assert f"target: {target['description']} {target['limit']}" in markdown
            assert f"-> **{verdict}**" in markdown
    seed = next(w for w in report["workloads"] if w["name"] == "seed")
    for row in seed["rows"]:
        if "max |diff| vs layernet" in row["extra"]:
            assert row["extra"]["max |diff| vs layernet"] <= 1e-9
