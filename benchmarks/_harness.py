"""Timing, machine description and report formatting shared by every workload.

Each workload times every implementation in one process on the same data,
same initial weights and same batch order: a warm-up run, then several
interleaved rounds (:func:`race`). Reports show medians and ratios to a
reference row (a ratio within one run holds on a noisy machine; an absolute
time does not), each ratio the median over the rounds of the ratio within
one round, where the two implementations ran moments apart.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ._peers import torch_or_none


@dataclass
class Row:
    """One implementation's result in a workload."""

    name: str
    seconds: float  # median wall time of one timed unit (a step, an epoch...)
    extra: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    rounds: list[float] = field(default_factory=list)
    """The time of one unit in each round of :func:`race`, in the rounds' order."""


@dataclass
class Target:
    """A speed or memory target, judged on ratios measured in the same run.

    ``met`` is None when the run could not measure the target: a quick run
    (``--quick``) is too short and too small for the speed and accuracy
    targets, which are stated for the full workloads; only targets marked
    ``quick_ok`` (the memory ratio, say) are judged there.
    """

    description: str
    value: float
    limit: str  # e.g. "<= 1.30" or ">= 5.0"
    met: bool | None
    quick_ok: bool = False


@dataclass
class MemoryRow:
    """One peak-memory measurement, reported in its own table beside the times."""

    name: str
    peak_mib: float
    needed_mib: float

    @property
    def ratio(self) -> float:
        return self.peak_mib / self.needed_mib if self.needed_mib > 0 else float("nan")


@dataclass
class WorkloadResult:
    """Everything a workload measured."""

    name: str
    description: str
    unit: str  # "us/step" or "s/epoch"
    reference: str  # the row the ratios are taken against
    rows: list[Row]
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    memory: list[MemoryRow] = field(default_factory=list)

    def row(self, name: str) -> Row | None:
        return next((r for r in self.rows if r.name == name), None)

    def ratio(self, name: str, reference: str | None = None) -> float | None:
        """``name``'s time over the reference's: the median of the rounds' ratios where both
        were timed in the same rounds, else the ratio of the medians."""
        row, ref = self.row(name), self.row(reference or self.reference)
        if row is None or ref is None or ref.seconds <= 0:
            return None
        if row.rounds and len(row.rounds) == len(ref.rounds):
            return statistics.median(a / b for a, b in zip(row.rounds, ref.rounds, strict=True))
        return row.seconds / ref.seconds


def median_time(fn: Callable[[], object], *, repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass
class Race:
    """What :func:`race` measured: each implementation's time in every round, its last result."""

    rounds: dict[str, list[float]]
    last: dict[str, object]

    def median(self, name: str) -> float:
        return statistics.median(self.rounds[name])

    def row(
        self, name: str, units: float = 1, extra: dict[str, Any] | None = None, note: str = ""
    ) -> Row:
        """``name``'s report row, per timed unit (a run of one round covers ``units`` of them)."""
        times = [t / units for t in self.rounds[name]]
        return Row(name, statistics.median(times), extra or {}, note, times)


def race(entries: dict[str, Callable[[], object]], *, repeats: int, warmup: int = 1) -> Race:
    """Wall times of each entry in interleaved rounds, and each one's last result.

    Every round runs every implementation once, starting from a different one
    each round, so a load that drifts during the run slows all of them alike.
    Ratios pair the rounds (:meth:`WorkloadResult.ratio`): on a machine whose
    speed moves by a factor of two from one second to the next, the ratio of
    two medians depends on which rounds each one caught; the median of the
    rounds' ratios compares runs made moments apart.
    """
    names = list(entries)
    last: dict[str, object] = {}
    for _ in range(warmup):
        for name in names:
            last[name] = entries[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            start = time.perf_counter()
            last[name] = entries[name]()
            times[name].append(time.perf_counter() - start)
    return Race(times, last)


def judge(
    description: str, value: float | None, limit: str, *, quick_ok: bool = False
) -> Target | None:
    """A Target from a measured ratio and a limit such as ``"<= 1.3"``.

    ``quick_ok``: a quick run measures this target as a full run does (see :class:`Target`).
    """
    if value is None:
        return None
    op, bound = limit.split()
    met = value <= float(bound) if op == "<=" else value >= float(bound)
    return Target(description, value, limit, met, quick_ok)


def against_peers(
    name: str,
    description: str,
    unit: str,
    rows: list[Row],
    notes: list[str],
    *,
    has_torch: bool,
    torch_limit: str,
    by_hand_limit: str,
) -> WorkloadResult:
    """A workload's result with its two targets: layernet against PyTorch and against NumPy by hand.

    The baseline is PyTorch when it ran, else the hand-written NumPy step; a
    target whose peer did not run is left out.
    """
    result = WorkloadResult(
        name, description, unit, "PyTorch" if has_torch else "numpy by hand", rows, notes=notes
    )
    targets = [
        judge("layernet / PyTorch", result.ratio("layernet", "PyTorch"), torch_limit),
        judge(
            "layernet / numpy by hand", result.ratio("layernet", "numpy by hand"), by_hand_limit
        ),
    ]
    result.targets = [t for t in targets if t is not None]
    return result


def as_quick_run(result: WorkloadResult) -> WorkloadResult:
    """Mark the targets that a quick run cannot measure as not measured (``met = None``)."""
    for target in result.targets:
        if not target.quick_ok:
            target.met = None
    return result


def machine_info() -> dict[str, Any]:
    """Machine, library versions, BLAS and thread counts, as recorded in every report."""
    import numpy as np
    import scipy

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }
    try:
        from threadpoolctl import threadpool_info  # type: ignore[import-untyped]

        info["blas"] = [
            {
                k: pool.get(k)
                for k in (
                    "user_api",
                    "internal_api",
                    "version",
                    "num_threads",
                    "architecture",
                    "filepath",
                )
            }
            for pool in threadpool_info()
        ]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    torch = torch_or_none()
    info["torch"] = None if torch is None else torch.__version__
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
    try:
        import sklearn  # type: ignore[import-untyped]

        info["sklearn"] = sklearn.__version__
    except ImportError:
        info["sklearn"] = None
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def format_time(seconds: float, unit: str) -> str:
    if unit == "us/step":
        return f"{seconds * 1e6:,.1f}"
    if unit == "ms/step":
        return f"{seconds * 1e3:,.2f}"
    return f"{seconds:,.3f}"


def markdown(results: list[WorkloadResult], info: dict[str, Any]) -> str:
    """The report: one table per workload, its targets, and the machine."""
    out: list[str] = []
    for res in results:
        out.append(f"### `{res.name}`: {res.description}\n")
        extra_keys: list[str] = []
        for row in res.rows:
            extra_keys += [k for k in row.extra if k not in extra_keys]
        header = ["implementation", res.unit, f"ratio to {res.reference}", *extra_keys]
        out.append("| " + " | ".join(h.replace("|", "\\|") for h in header) + " |")
        out.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
        for row in res.rows:
            ratio = res.ratio(row.name)
            cells = [
                row.name + (f" ({row.note})" if row.note else ""),
                format_time(row.seconds, res.unit),
                "-" if ratio is None else f"{ratio:.2f}x",
                *(_cell(row.extra.get(k)) for k in extra_keys),
            ]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        if res.memory:
            out.append("| memory | peak RSS growth MiB | needed MiB | ratio to needed |")
            out.append("|---|---:|---:|---:|")
            for mem in res.memory:
                cells = [mem.name, f"{mem.peak_mib:,.1f}", f"{mem.needed_mib:,.1f}"]
                out.append("| " + " | ".join(cells) + f" | {mem.ratio:.2f}x |")
            out.append("")
        for t in res.targets:
            if t.met is None:
                out.append(
                    f"- target: {t.description} {t.limit}: not measured (a quick run is too short "
                    f"to judge it; this run gave {t.value:.2f})"
                )
                continue
            mark = "met" if t.met else "NOT MET"
            out.append(f"- target: {t.description} {t.limit}: measured {t.value:.2f} -> **{mark}**")
        for note in res.notes:
            out.append(f"- note: {note}")
        out.append("")
    blas = info.get("blas")
    blas_text = (
        "; ".join(
            f"{b['internal_api']} {b['version']} ({b['num_threads']} threads, {b['architecture']})"
            for b in blas
        )
        if isinstance(blas, list)
        else str(blas)
    )
    out.append(
        f"Machine: {info['cpu']}, {info['cpus']} CPUs; Python {info['python']}, "
        f"numpy {info['numpy']}, scipy {info['scipy']}, torch {info.get('torch') or 'absent'} "
        f"({info.get('torch_threads', '-')} threads), "
        f"scikit-learn {info.get('sklearn') or 'absent'}; "
        f"BLAS: {blas_text}."
    )
    return "\n".join(out) + "\n"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def to_json(results: list[WorkloadResult], info: dict[str, Any]) -> str:
    payload = {
        "machine": info,
        "workloads": [
            {**asdict(r), "ratios": {row.name: r.ratio(row.name) for row in r.rows}}
            for r in results
        ],
    }
    return json.dumps(payload, indent=2, default=str)
