"""MkDocs hook: one API reference page per public module of layernet, generated at build time.

Every module under ``src/layernet`` whose name does not start with an underscore
gets a page ``api/<dotted.name>.md`` holding ``::: <dotted.name>`` (mkdocstrings
renders it from the numpydoc docstrings), listed in the nav under "API reference"
in dotted-name order (a package's page shows its docstring only: its exports are
documented on their modules' pages). ``layernet/_typing.py`` is rendered too, as "types", because
its aliases (``FloatArray``...) are exported. The reference index, ``api/index.md``,
is a file in the repository, so links to it work when browsing the sources too; at
build time everything from its ``MARKER`` line on is replaced with a table of every
name in ``layernet.__all__``, linked to its documentation. A new module or a new
export needs no edit here.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

PACKAGE = "layernet"
SRC = Path(__file__).resolve().parent.parent / "src" / PACKAGE
NAV_SECTION = "API reference"
INDEX = "api/index.md"
MARKER = "<!-- docs/gen_api.py replaces this line and everything after it"
EXTRA = {f"{PACKAGE}._typing": "types", f"{PACKAGE}.__main__": "__main__ (the demo)"}


def public_modules() -> list[str]:
    """Dotted names of the modules to document, sorted (packages before their modules)."""
    names = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        dotted = ".".join(parts)
        if dotted in EXTRA or not any(part.startswith("_") for part in parts):
            names.append(dotted)
    return sorted(names, key=lambda name: (name != PACKAGE, name.split(".")))


def page_of(module: str) -> str:
    return f"api/{module}.md"


def title_of(module: str) -> str:
    if module == PACKAGE:
        return PACKAGE
    return EXTRA.get(module, module.removeprefix(PACKAGE + "."))


def summary_of(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ")


def index_table() -> str:
    """The reference index's table: every exported name, linked to its documentation."""
    package = importlib.import_module(PACKAGE)
    lines = [
        "| Name | What it is |",
        "| --- | --- |",
    ]
    for name in sorted(package.__all__, key=str.lower):
        obj = getattr(package, name)
        if inspect.ismodule(obj):
            target, summary = obj.__name__, summary_of(obj)
        elif inspect.isclass(obj) or inspect.isfunction(obj):
            target, summary = f"{obj.__module__}.{obj.__qualname__}", summary_of(obj)
        elif hasattr(importlib.import_module(f"{PACKAGE}._typing"), name):
            target, summary = f"{PACKAGE}._typing.{name}", "Type alias (see the types page)."
        else:  # some other object: listed without a link, which mkdocs could not resolve
            lines.append(f"| `{name}` | {summary_of(obj).replace('|', '/')} |")
            continue
        cell = summary.replace("|", "\\|")
        lines.append(f"| [`{name}`][{target}] | {cell} |")
    lines.append("")
    return "\n".join(lines)


def is_package(module: str) -> bool:
    return (SRC.parent / module.replace(".", "/") / "__init__.py").exists()


def module_page(module: str) -> str:
    """``::: module``; a package shows only its docstring (its exports have their own pages)."""
    if is_package(module):
        return f"::: {module}\n    options:\n      members: false\n"
    return f"::: {module}\n"


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    nav = config.nav or []
    entries: list[Any] = [{"Overview": INDEX}]
    entries += [{title_of(m): page_of(m)} for m in public_modules()]
    for item in nav:
        if isinstance(item, dict) and NAV_SECTION in item:
            item[NAV_SECTION] = entries
            break
    else:
        nav.append({NAV_SECTION: entries})
    config.nav = nav
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for module in public_modules():
        files.append(File.generated(config, page_of(module), content=module_page(module)))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Replace the reference index's note for repository readers with the table."""
    if page.file.src_uri != INDEX:
        return markdown
    head, marker, _ = markdown.partition(MARKER)
    if not marker:
        raise ValueError(f"docs/{INDEX} lost its line {MARKER!r}: gen_api.py needs it")
    return head + index_table()
