"""Every relative link in the Markdown pages points at a file of the repository.

A link that works only on one machine (``../shared/DESIGN.md``, outside the
repository) or only after a build (a page that ``docs/gen_api.py`` generates)
is dead in a clone and on GitHub. So, for ``README.md``, ``benchmarks/**/*.md``
and ``docs/**/*.md``:

- every relative link or image, inline (``[text](target)``), as a reference
  definition (``[id]: target``) or in HTML (``href=``/``src=``), names a file
  that exists in the repository; a page under ``docs/`` links only inside
  ``docs/``, since MkDocs serves nothing else;
- a ``#fragment`` on a link to a Markdown page (or alone, for the page itself)
  names one of that page's headings, slugged as MkDocs does;
- a code span that is a path into the repository, a relative path with a file
  extension that starts at one of the repository's top-level folders
  (``tests/test_docs.py``) or climbs with ``../``, names a file of the repository,
  taken from its root or from the page's folder (``state/0.weight``, a key in a
  saved file, is not such a path).

Links with a scheme (``https:``, ``mailto:``) are not fetched. Fenced code
blocks and code spans are not links.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted([*ROOT.glob("*.md"), *(ROOT / "benchmarks").rglob("*.md"), *DOCS.rglob("*.md")])

FENCE = re.compile(r"^[ \t]*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?P<code>.+?)\1")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?(?P<target>[^)\s>]+)>?[^)]*\)")
REFERENCE = re.compile(r"^[ \t]{0,3}\[[^\]]+\]:[ \t]*<?(?P<target>\S+?)>?(?:[ \t].*)?$", re.M)
HTML_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["'](?P<target>[^"']+)["']""")
PATH_SPAN = re.compile(r"(?P<first>[\w.-]+)(?:/[\w.-]+)*/[\w.-]*\w\.[A-Za-z]\w*")
TOP_FOLDERS = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")}
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
HEADING = re.compile(r"^#{1,6}[ \t]+(?P<text>.+?)[ \t]*#*[ \t]*$")
EXPLICIT_ID = re.compile(r"\{[^}]*#(?P<id>[\w-]+)[^}]*\}\s*$")


def prose_lines(text: str) -> list[str]:
    """The page's lines outside fenced code blocks (a fence's lines become empty)."""
    lines, inside = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            inside = not inside
            lines.append("")
        else:
            lines.append("" if inside else line)
    return lines


def slug(heading: str) -> str:
    """A heading's anchor as MkDocs (Python-Markdown's toc) makes it."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: keep its text
    text = text.replace("`", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    """The fragments a link may name on a page: its headings' slugs and explicit ids."""
    found = set()
    for line in prose_lines(page.read_text(encoding="utf-8")):
        heading = HEADING.match(line)
        if heading is None:
            continue
        explicit = EXPLICIT_ID.search(heading["text"])
        found.add(explicit["id"] if explicit else slug(heading["text"]))
    return found


def link_targets(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every link, image and reference definition in prose."""
    lines = prose_lines(text)
    without_code = [CODE_SPAN.sub("", line) for line in lines]
    found = []
    for number, line in enumerate(without_code, start=1):
        for pattern in (INLINE_LINK, HTML_LINK):
            found += [(number, m["target"]) for m in pattern.finditer(line)]
    joined = "\n".join(without_code)
    for m in REFERENCE.finditer(joined):
        found.append((joined.count("\n", 0, m.start()) + 1, m["target"]))
    return found


def path_spans(text: str) -> list[tuple[int, str]]:
    """(line number, path) of every code span in prose that is a bare relative file path."""
    found = []
    for number, line in enumerate(prose_lines(text), start=1):
        for span in CODE_SPAN.finditer(line):
            path = PATH_SPAN.fullmatch(span["code"].strip())
            if path is not None and path["first"] in {"..", *TOP_FOLDERS}:
                found.append((number, path.group(0)))
    return found


def inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def link_problem(page: Path, target: str) -> str | None:
    """Why a link from ``page`` to ``target`` is dead (None when it is not)."""
    if SCHEME.match(target) or target.startswith("//"):
        return None
    path_part, _, fragment = target.partition("#")
    path_part = unquote(path_part.partition("?")[0])
    dest = (page.parent / path_part).resolve() if path_part else page
    if not inside(dest, ROOT):
        return "points outside the repository"
    if inside(page, DOCS) and not inside(dest, DOCS):
        return "points outside docs/, which MkDocs cannot serve"
    if not dest.is_file():
        return "names no file in the repository"
    if fragment and dest.suffix == ".md" and fragment not in anchors(dest):
        return f"names no heading of {dest.relative_to(ROOT)} (#{fragment})"
    return None


def path_problem(page: Path, path: str) -> str | None:
    """Why a path in a code span names no file of the repository (None when it does)."""
    for base in (ROOT, page.parent):
        dest = (base / path).resolve()
        if inside(dest, ROOT) and dest.is_file():
            return None
    return "names no file in the repository"


def page_problems(page: Path, text: str) -> list[str]:
    problems = []
    for number, target in link_targets(text):
        problem = link_problem(page, target)
        if problem is not None:
            problems.append(f"line {number}: link {target!r} {problem}")
    for number, path in path_spans(text):
        problem = path_problem(page, path)
        if problem is not None:
            problems.append(f"line {number}: `{path}` {problem}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    problems = page_problems(page, page.read_text(encoding="utf-8"))
    assert not problems, f"{page.relative_to(ROOT)}:\n" + "\n".join(problems)


def test_the_pages_are_found() -> None:
    names = {str(p.relative_to(ROOT)) for p in PAGES}
    assert {"README.md", "docs/index.md", "docs/design.md", "docs/api/index.md"} <= names


# -- the checker itself ----------------------------------------------------------------


def test_a_link_outside_the_repository_is_caught() -> None:
    text = "The design contract lives in [DESIGN](../shared/DESIGN.md).\n"
    assert page_problems(ROOT / "README.md", text) == [
        "line 1: link '../shared/DESIGN.md' points outside the repository"
    ]


def test_a_path_in_a_code_span_outside_the_repository_is_caught() -> None:
    text = "The design contract lives in `../shared/DESIGN.md` for the team.\n"
    assert page_problems(ROOT / "README.md", text) == [
        "line 1: `../shared/DESIGN.md` names no file in the repository"
    ]


def test_a_page_that_exists_only_after_a_build_is_caught() -> None:
    page = DOCS / "guides" / "custom-layers.md"
    text = "the [reference](../api/layernet.layers.dense.md) shows how\n"
    assert page_problems(page, text) == [
        "line 1: link '../api/layernet.layers.dense.md' names no file in the repository"
    ]


def test_links_leaving_docs_and_unknown_headings_are_caught() -> None:
    page = DOCS / "index.md"
    text = "[readme](../README.md), [x](guides/training.md#no-such-heading)\n"
    assert page_problems(page, text) == [
        "line 1: link '../README.md' points outside docs/, which MkDocs cannot serve",
        "line 1: link 'guides/training.md#no-such-heading' names no heading of "
        "docs/guides/training.md (#no-such-heading)",
    ]


def test_good_links_code_and_urls_pass() -> None:
    page = DOCS / "guides" / "layers.md"
    text = (
        "[losses](losses-optimizers-schedules.md#cross-entropy-for-classes), "
        "![fig](../figures/gender_loss.png), [web](https://example.org/x.md), "
        "`model[:2](x)`, `tests/test_docs.py`, `state/0.weight`, `api/<name>.md`, "
        '<a href="training.md">fit</a>\n'
        "```python\nprint('[not](a/link.md)')\n```\n"
        "[ref]: saving.md#saving-and-loading\n"
    )
    assert page_problems(page, text) == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("What `fit` does for you", "what-fit-does-for-you"),
        ("Losses, optimizers and schedules", "losses-optimizers-and-schedules"),
        ("SGD and Adam on a tiny problem", "sgd-and-adam-on-a-tiny-problem"),
        ("The next shape (2026-12): composition", "the-next-shape-2026-12-composition"),
    ],
)
def test_slugs_match_mkdocs(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor
