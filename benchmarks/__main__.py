"""Run the benchmark workloads and print a markdown table plus JSON.

python -m benchmarks                 # every workload, full size
python -m benchmarks --quick         # a short smoke run (the test suite runs this)
python -m benchmarks seed tiny       # chosen workloads
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from ._harness import as_quick_run, machine_info, markdown, to_json

WORKLOADS = ["seed", "tiny", "digits", "wide", "conv", "cifar", "lstm", "gru", "attention"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "workloads",
        nargs="*",
        choices=[*WORKLOADS, []],
        default=[],
        help="workloads to run (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for results.md and results.json"
    )
    args = parser.parse_args(argv)
    names = args.workloads or WORKLOADS
    info = machine_info()
    results = []
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"running {name}...", file=sys.stderr, flush=True)
        result = module.run(quick=args.quick)
        results.append(as_quick_run(result) if args.quick else result)
    report = markdown(results, info)
    print(report)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.md").write_text(report)
        (args.out / "results.json").write_text(to_json(results, info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
