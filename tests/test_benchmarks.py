"""The benchmark suite's smoke run: ``python -m benchmarks --quick`` runs and reports well.

No timing is asserted here (machines are shared and noisy): speed lives in
the benchmarks' own report, as ratios measured in one run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._harness import (  # noqa: E402  (the benchmarks live beside the tests)
    MemoryRow,
    Row,
    Target,
    WorkloadResult,
    as_quick_run,
    judge,
    markdown,
    race,
    to_json,
)


def test_quick_run_writes_a_table_and_json_for_every_workload(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ConvergenceWarning" not in result.stderr
    report = json.loads((tmp_path / "results.json").read_text())
    names = [w["name"] for w in report["workloads"]]
    assert names == ["seed", "tiny", "digits", "wide", "conv", "cifar", "lstm", "gru", "attention"]
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
        assert all(row["seconds"] > 0 for row in workload["rows"])  # memory has its own table
        for target in workload["targets"]:
            line = next(
                line
                for line in markdown.splitlines()
                if line.startswith(f"- target: {target['description']} {target['limit']}:")
            )
            if not target["quick_ok"]:  # a quick run cannot judge it: neither met nor NOT MET
                assert target["met"] is None
                assert "not measured" in line
                assert "MET" not in line
                assert "met" not in line
                continue
            op, bound = target["limit"].split()
            value = target["value"]
            assert target["met"] == (value <= float(bound) if op == "<=" else value >= float(bound))
            assert line.endswith(f"-> **{'met' if target['met'] else 'NOT MET'}**")
    seed = next(w for w in report["workloads"] if w["name"] == "seed")
    for row in seed["rows"]:
        if "max |diff| vs layernet" in row["extra"]:
            assert row["extra"]["max |diff| vs layernet"] <= 1e-9
    wide = next(w for w in report["workloads"] if w["name"] == "wide")
    [memory] = wide["memory"]
    assert memory["peak_mib"] > 0
    assert memory["needed_mib"] > 0
    assert "| memory | peak RSS growth MiB | needed MiB | ratio to needed |" in markdown
    assert any(t["quick_ok"] and t["met"] is not None for t in wide["targets"])
    cifar = next(w for w in report["workloads"] if w["name"] == "cifar")
    losses = [row["extra"]["loss after 2 steps"] for row in cifar["rows"]]
    assert len(losses) >= 2  # layernet and numpy by hand at least: same weights, same batches
    assert max(losses) - min(losses) <= 1e-4
    assert 2.0 < losses[0] < 2.6  # ten classes: about ln(10) after two small steps


def _result(targets: list[Target], memory: list[MemoryRow]) -> WorkloadResult:
    rows = [Row("layernet", 2.0), Row("numpy by hand", 1.0)]
    return WorkloadResult("w", "a workload", "s/epoch", "numpy by hand", rows, targets, [], memory)


def test_a_quick_run_marks_the_targets_it_cannot_measure_as_not_measured() -> None:
    speed = judge("layernet / numpy by hand", 2.0, "<= 1.3")
    memory = judge("peak RSS / bytes needed", 1.7, "<= 1.5", quick_ok=True)
    assert speed is not None
    assert memory is not None
    assert speed.met is False
    assert memory.met is False
    result = as_quick_run(_result([speed, memory], []))
    assert [t.met for t in result.targets] == [None, False]
    text = markdown([result], {"cpu": "x", "cpus": 1, "python": "3", "numpy": "2", "scipy": "1"})
    assert (
        "- target: layernet / numpy by hand <= 1.3: not measured (a quick run is too short to "
        "judge it; this run gave 2.00)" in text
    )
    assert "- target: peak RSS / bytes needed <= 1.5: measured 1.70 -> **NOT MET**" in text
    assert text.count("NOT MET") == 1
    assert json.loads(to_json([result], {}))["workloads"][0]["targets"][0]["met"] is None


def test_memory_rows_get_their_own_table_not_a_zero_time_row() -> None:
    result = _result([], [MemoryRow("layernet fit(), one epoch", 30.0, 20.0)])
    text = markdown([result], {"cpu": "x", "cpus": 1, "python": "3", "numpy": "2", "scipy": "1"})
    lines = text.splitlines()
    times = lines.index("| implementation | s/epoch | ratio to numpy by hand |")
    memory = lines.index("| memory | peak RSS growth MiB | needed MiB | ratio to needed |")
    assert memory > times + 4  # after the two time rows and a blank line
    assert "| layernet fit(), one epoch | 30.0 | 20.0 | 1.50x |" in lines
    assert "0.000" not in text
    assert "0.00x" not in text
    assert json.loads(to_json([result], {}))["workloads"][0]["memory"] == [
        {"name": "layernet fit(), one epoch", "peak_mib": 30.0, "needed_mib": 20.0}
    ]


def test_the_cifar_workload_trains_the_same_network_everywhere() -> None:
    """Two steps of each implementation from the same weights over the same batches agree."""
    cifar = pytest.importorskip("benchmarks.cifar")
    x, y = cifar.make_data(2)
    init = cifar.build().state_dict()
    reference = cifar.run_numpy(init, x, y, 2)
    assert cifar.run_layernet(init, x, y, 2) == pytest.approx(reference, abs=1e-5)
    assert cifar.flops_per_step() == pytest.approx(9.30e9, rel=1e-3)


def test_ratios_pair_the_rounds_that_ran_together() -> None:
    # within each round layernet takes 1.2x the hand-written loop, but the machine runs at
    # half speed from the fifth round on, and in the fourth it slowed layernet alone: the
    # medians (2.4 and 1.0) would say 2.4x
    hand = [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    ours = [1.2 * t for t in hand]
    ours[3] *= 2.0
    rows = [Row("layernet", 2.4, rounds=ours), Row("numpy by hand", 1.0, rounds=hand)]
    result = WorkloadResult("w", "a workload", "us/step", "numpy by hand", rows)
    assert result.ratio("layernet") == pytest.approx(1.2)
    unpaired = [Row("layernet", 2.4), Row("numpy by hand", 1.0, rounds=hand)]
    assert WorkloadResult("w", "", "us/step", "numpy by hand", unpaired).ratio("layernet") == 2.4
    assert json.loads(to_json([result], {}))["workloads"][0]["ratios"]["layernet"] == (
        pytest.approx(1.2)
    )


def test_race_times_every_entry_once_a_round_and_keeps_the_order_of_the_entries() -> None:
    calls: list[str] = []

    def entry(name: str) -> Callable[[], str]:
        def run() -> str:
            calls.append(name)
            return name

        return run

    timed = race({"a": entry("a"), "b": entry("b"), "c": entry("c")}, repeats=4, warmup=1)
    assert calls[:3] == ["a", "b", "c"]  # the warm-up
    rounds = [calls[3 + 3 * r : 6 + 3 * r] for r in range(4)]
    assert rounds == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]]
    assert list(timed.rounds) == ["a", "b", "c"]
    assert all(len(times) == 4 and min(times) > 0 for times in timed.rounds.values())
    assert timed.last == {"a": "a", "b": "b", "c": "c"}
    row = timed.row("b", units=4, extra={"k": 1.0}, note="n")
    assert row.rounds == [t / 4 for t in timed.rounds["b"]]
    assert row.seconds == pytest.approx(timed.median("b") / 4)
    assert (row.extra, row.note) == ({"k": 1.0}, "n")
