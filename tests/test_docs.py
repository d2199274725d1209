"""Run every Python code block of the docs, so the docs can never drift from the code.

Each Markdown page under ``docs/`` (and ``README.md``) is read in order:

- every fenced block whose info string starts with ``python`` runs; the blocks of
  one page share one namespace, in page order, like cells of a notebook;
- a block fenced ``text title="Output"`` right after a Python block is what that
  block prints: the captured stdout must match it, words exactly (runs of spaces
  count as one space), integers exactly and decimals to the precision the page
  shows: within one and a half units of the last digit shown, so a value that
  rounds the other way on another machine still passes and a wrong one does not,
  or within ``RELATIVE`` (1e-14, some 45 float64 ulps) of the value, so that a
  number shown to full float64 precision (``0.22686628719087137``) survives the
  last-bit differences between CPUs' BLAS kernels and maths libraries;
- a Python block titled like a file (``python title="my_model.py"``) must also
  pass ``mypy --strict`` on its own, as in a downstream typed project;
- blocks fenced ``text``, ``bash`` or anything else are prose and do not run, and
  so are the Python blocks of the design contract (``docs/design.md``), which are
  interface sketches (signatures with ``...`` for bodies and elided arguments).

The pages must print the same on any x86-64 CPU, yet what a CPU has (AVX2, FMA,
AVX-512) changes the last bits of matrix products (OpenBLAS picks its kernels
by CPU), of NumPy's SIMD loops (``np.tanh``...) and of glibc's ``exp`` and
``log``. So every page runs a second time, in a subprocess set up like an old
x86-64 CPU (``OTHER_CPU``: OpenBLAS's SSE3 kernels on one thread, NumPy's
baseline loops, glibc's functions without AVX or FMA), and must still print
what it says. An example whose printed numbers amplify last-bit differences (a
chaotic trajectory, a symmetry that only rounding breaks) fails here, on the
developer's machine, instead of on someone else's: make it well-conditioned
rather than loosening the comparison.

Blocks run in a temporary working directory. Nothing here needs mkdocs or
matplotlib: only layernet's own dependencies and pytest (and threadpoolctl,
which scikit-learn brings, if present, to name the BLAS kernels in a failure).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import platform
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

import layernet

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
SKETCHES = {ROOT / "docs" / "design.md"}  # python blocks there are signatures, not programs
# The second run's environment: what an x86-64 CPU without AVX, AVX2 or FMA would run
OTHER_CPU = {
    "OPENBLAS_CORETYPE": "Prescott",  # OpenBLAS's SSE3 kernels
    "OPENBLAS_NUM_THREADS": "1",
    "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-AVX512F",  # libm's SSE2 exp, log...
}  # plus NPY_DISABLE_CPU_FEATURES naming every SIMD extension NumPy dispatches to

FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[ \t]*(?P<info>.*)$")
TITLE = re.compile(r'title="(?P<title>[^"]*)"')
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
RELATIVE = 1e-14  # the rounding noise a full-precision decimal may carry between CPUs


@dataclass(frozen=True)
class Block:
    """One fenced code block: its language, title, text and first line in the page."""

    lang: str
    title: str
    code: str
    line: int

    @property
    def is_python(self) -> bool:
        return self.lang == "python"

    @property
    def is_output(self) -> bool:
        return self.lang == "text" and self.title == "Output"


@dataclass(frozen=True)
class Cell:
    """A Python block and the output the page says it prints (None: not stated)."""

    code: Block
    output: Block | None


def parse_blocks(text: str) -> list[Block]:
    """Every fenced block of a Markdown text, dedented to its fence's indentation."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        start = FENCE.match(lines[i])
        if start is None:
            i += 1
            continue
        indent, fence_line = start["indent"], i + 1
        title = TITLE.search(start["info"])
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"line {fence_line}: unclosed code fence {start.group(0)!r}")
        code = textwrap.dedent("\n".join(line.removeprefix(indent) for line in body))
        blocks.append(
            Block(start["lang"], title["title"] if title else "", code + "\n", fence_line)
        )
        i += 1
    return blocks


def cells(blocks: list[Block]) -> list[Cell]:
    """Pair each Python block with the Output block that follows it, if any."""
    result: list[Cell] = []
    for prev, block in zip([None, *blocks], blocks, strict=False):
        if block.is_python:
            result.append(Cell(block, None))
        elif block.is_output:
            if prev is None or not prev.is_python:
                raise ValueError(
                    f"line {block.line}: an Output block must follow a python block directly"
                )
            result[-1] = Cell(prev, block)
    return result


def _tolerance(expected: str) -> float:
    """One unit of the last digit shown: ``0.7216`` is 1e-4, ``4`` is 1, ``2.5e-3`` is 1e-4."""
    mantissa, _, exponent = expected.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (-decimals + (int(exponent) if exponent else 0))


def output_mismatch(actual: str, expected: str) -> str | None:
    """Why ``actual`` does not match ``expected`` (None when it does)."""

    def split(text: str) -> tuple[list[str], list[str]]:
        normal = "\n".join(" ".join(line.split()) for line in text.strip().splitlines())
        return NUMBER.split(normal), NUMBER.findall(normal)

    got_words, got_numbers = split(actual)
    want_words, want_numbers = split(expected)
    if got_words != want_words or len(got_numbers) != len(want_numbers):
        return f"printed\n{actual.rstrip()}\nbut the page shows\n{expected.rstrip()}"
    for got, want in zip(got_numbers, want_numbers, strict=True):
        # integers exactly; decimals within one and a half units of the last digit
        # shown (rounding on another machine may differ by one unit), or within
        # RELATIVE of the value (a full-precision decimal's last bits vary by CPU)
        if re.fullmatch(r"[-+]?\d+", want):
            allowed = 0.0
        else:
            allowed = max(1.5 * _tolerance(want), RELATIVE * abs(float(want)))
        if abs(float(got) - float(want)) > allowed:
            return f"printed {got} where the page shows {want}:\n{actual.rstrip()}"
    return None


def run_page(page: Path) -> None:
    """Run a page's Python blocks in one namespace, checking each stated output."""
    namespace: dict[str, object] = {"__name__": "__docs__"}
    name = page.relative_to(ROOT)
    for cell in cells(parse_blocks(page.read_text(encoding="utf-8"))):
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            exec(compile(cell.code.code, f"{name}:{cell.code.line}", "exec"), namespace)
        if cell.output is not None:
            problem = output_mismatch(stdout.getvalue(), cell.output.code)
            if problem is not None:
                pytest.fail(f"{name}, block at line {cell.code.line}: {problem}")


def _pages_with_code() -> list[Path]:
    return [
        p
        for p in PAGES
        if p not in SKETCHES and any(b.is_python for b in parse_blocks(p.read_text("utf-8")))
    ]


@pytest.mark.parametrize("page", _pages_with_code(), ids=lambda p: str(p.relative_to(ROOT)))
def test_page_runs_and_prints_what_it_says(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run_page(page)


_CHILD = """
import json, os, sys, tempfile
import layernet  # loads NumPy's and SciPy's OpenBLAS before asking which kernels run
import test_docs

problems = {}
for page in sys.argv[1:]:
    with tempfile.TemporaryDirectory() as workdir:
        os.chdir(workdir)
        try:
            test_docs.run_page(test_docs.ROOT / page)
            problems[page] = None
        except BaseException as error:  # pytest.fail raises a BaseException
            problems[page] = f"{type(error).__name__}: {error}"
print(json.dumps({"blas": test_docs.blas_kernels(), "problems": problems}))
"""


def blas_kernels() -> str:
    """The OpenBLAS kernels this process runs, as threadpoolctl names them."""
    try:
        threadpoolctl = importlib.import_module("threadpoolctl")
    except ImportError:
        return "unknown (no threadpoolctl)"
    info = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    return ", ".join(sorted({str(i.get("architecture", "?")) for i in info})) or "none"


def numpy_dispatch() -> list[str]:
    """The SIMD extensions NumPy may dispatch to beyond its baseline (NumPy 1.x and 2.x)."""
    for name in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        with contextlib.suppress(ImportError):
            return list(getattr(importlib.import_module(name), "__cpu_dispatch__", []))
    return []


@pytest.fixture(scope="module")
def other_cpu_run() -> tuple[str, dict[str, str | None]]:
    """Every page run once in a subprocess set up by OTHER_CPU: its BLAS, each page's problem."""
    if platform.machine().lower() not in {"x86_64", "amd64"}:
        pytest.skip("OTHER_CPU describes an x86-64 CPU")
    paths = [str(Path(layernet.__file__).parent.parent), str(Path(__file__).parent)]
    env = {**os.environ, **OTHER_CPU}
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")])
    env["NPY_DISABLE_CPU_FEATURES"] = " ".join(numpy_dispatch())
    if os.environ.get("GLIBC_TUNABLES"):
        env["GLIBC_TUNABLES"] = os.environ["GLIBC_TUNABLES"] + ":" + OTHER_CPU["GLIBC_TUNABLES"]
    pages = [str(p.relative_to(ROOT)) for p in _pages_with_code()]
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, *pages],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout.splitlines()[-1])
    setup = f"OpenBLAS kernels {report['blas']} (here {blas_kernels()}), no AVX/FMA in NumPy, libm"
    return setup, report["problems"]


@pytest.mark.parametrize("page", _pages_with_code(), ids=lambda p: str(p.relative_to(ROOT)))
def test_page_prints_the_same_on_an_older_cpu(
    page: Path, other_cpu_run: tuple[str, dict[str, str | None]]
) -> None:
    setup, problems = other_cpu_run
    problem = problems[str(page.relative_to(ROOT))]
    assert problem is None, f"with {setup}: {problem}"


def test_tutorial_and_guides_are_executed() -> None:
    executed = {str(p.relative_to(ROOT)) for p in _pages_with_code()}
    expected = {"README.md", "docs/tutorial.md"} | {
        str(p.relative_to(ROOT)) for p in (ROOT / "docs" / "guides").glob("*.md")
    }
    assert expected <= executed, f"pages without a python block: {sorted(expected - executed)}"
    outputs = [b for b in parse_blocks((ROOT / "docs/tutorial.md").read_text()) if b.is_output]
    assert len(outputs) >= 8, "the tutorial should state what its steps print"


def test_typed_blocks_pass_mypy_strict(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    files = []
    for page in PAGES:
        for block in parse_blocks(page.read_text(encoding="utf-8")):
            if block.is_python and block.title.endswith(".py"):
                path = tmp_path / block.title
                path.write_text(block.code, encoding="utf-8")
                files.append(str(path))
    assert files, "the typing guide should hold at least one file-titled python block"
    stdout, stderr, status = api.run(
        ["--strict", "--no-incremental", "--config-file", "/dev/null", *files]
    )
    assert status == 0, stdout + stderr


# -- the checker itself ----------------------------------------------------------------


def test_parser_pairs_outputs_and_skips_other_languages() -> None:
    page = (
        "```python\nprint(1)\n```\n\n"
        '```text title="Output"\n1\n```\n'
        "```bash\nrm -rf /\n```\n"
        "!!! note\n    ```python\n    x = 2\n    ```\n"
    )
    found = cells(parse_blocks(page))
    assert [c.code.code for c in found] == ["print(1)\n", "x = 2\n"]
    assert found[0].output is not None
    assert found[0].output.code == "1\n"
    assert found[1].output is None


def test_output_block_without_python_block_is_rejected() -> None:
    with pytest.raises(ValueError, match="must follow a python block"):
        cells(parse_blocks('```text\nhello\n```\n```text title="Output"\nhi\n```\n'))


@pytest.mark.parametrize(
    ("actual", "expected", "ok"),
    [
        ("0.9990889488055994\n", "0.9990889488055994", True),
        ("[[0.72163256  0.5]]\n", "[[0.72163256 0.5]]", True),
        ("loss 0.0214695\n", "loss 0.0214696", True),  # within one printed digit
        ("loss 0.0214695\n", "loss 0.0214705", False),
        ("0.999\n", "0.9990889488055994", False),
        ("0.22686628719087104\n", "0.22686628719087137", True),  # 12 ulps: rounding
        ("0.22686628719081137\n", "0.22686628719087137", False),  # 14th digit: wrong
        ("0.9990889488055996\n", "0.9990889488055994", True),
        ("Emily 0.969 female\n", "Emily 0.969 male", False),
        ("4\n", "4.0e0", True),
        ("5\n", "4", False),
        ("4.0001\n", "4.000", True),
        ("6\n", "4", False),
        ("1 2\n", "1 2 3", False),
    ],
)
def test_output_comparison(actual: str, expected: str, ok: bool) -> None:
    assert (output_mismatch(actual, expected) is None) is ok
