"""The module graph keeps its shape: no import cycles, and each module imports only down.

Imports are read from the source with ``ast``, function-level (lazy) imports
included and ``if TYPE_CHECKING:`` blocks excluded, so a cycle cannot hide
inside a function body.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "layernet"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str) -> dict[str, set[str]]:
    """Modules of the package that ``name`` imports, each with the names it takes from it."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, set[str]] = {}

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                for alias in child.names:
                    submodule = f"{target}.{alias.name}"
                    if submodule in MODULES:
                        found.setdefault(submodule, set())
                    elif target in MODULES:
                        found.setdefault(target, set()).add(alias.name)
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name in MODULES:
                        found.setdefault(alias.name, set())
            visit(child)

    visit(ast.parse(path.read_text()))
    found.pop(name, None)
    return found


def _graph() -> dict[str, set[str]]:
    """Import edges between modules; package ``__init__`` files re-export and are left out."""
    return {
        name: {dep for dep in _imports(name) if MODULES[dep].name != "__init__.py"}
        for name, path in MODULES.items()
        if path.name != "__init__.py"
    }


def test_there_is_no_import_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                walk(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


CONTAINERS = {"layernet.sequential", "layernet.model", "layernet.layers.containers"}


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("layernet.training", CONTAINERS),
        ("layernet.serialization", CONTAINERS | {"layernet.training"}),
        ("layernet.callbacks", CONTAINERS | {"layernet.training"}),
        ("layernet.summarize", CONTAINERS | {"layernet.training"}),
    ],
)
def test_the_loop_and_persistence_import_no_container(module: str, forbidden: set[str]) -> None:
    assert set(_imports(module)) & forbidden == set()


def test_layers_import_neither_the_loop_nor_an_optimizer_nor_a_loss() -> None:
    for name in MODULES:
        if name.startswith("layernet.layers."):
            deps = set(_imports(name))
            assert not deps & {
                "layernet.training",
                "layernet.callbacks",
                "layernet.losses",
                "layernet.serialization",
                "layernet.sequential",
                "layernet.model",
            }, name
            assert not any(d.startswith("layernet.optimizers") for d in deps), name


def test_the_loop_names_no_concrete_optimizer_or_callback() -> None:
    """A capability class or a hook replaces ``isinstance(opt, LBFGS)``-style special cases."""
    names = _imports("layernet.training")
    concrete_callbacks = {"EarlyStopping", "TerminateOnNaN", "ProgressLogger", "ModelCheckpoint"}
    assert not names.get("layernet.callbacks", set()) & concrete_callbacks
    optimizer_names = set().union(
        *(taken for dep, taken in names.items() if dep.startswith("layernet.optimizers"))
    )
    assert optimizer_names <= {"Optimizer", "FullBatchOptimizer"}
