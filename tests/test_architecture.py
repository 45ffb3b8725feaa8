"""The tree shows the pipeline: layers import only downwards, no import cycle, small rooms.

Read from the package's own source with ``ast`` (every import, including those inside
functions, counts), so a change that ties two steps together in a loop, or reaches up from a
lower layer into a higher one, fails here instead of surfacing as a load-order bug.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ql1706kg"

# Lower layers first; a module may import its own layer and those before it. The README's
# "How it works" draws the same map.
LAYERS = (
    ("errors", "version", "leftovers"),
    ("protocol",),
    ("inputs",),
    ("pipeline",),
    ("outputs",),
    ("api",),
    ("semweb",),
    ("cli",),
)
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 200


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The package's modules that ``name`` imports (``from .x import y`` counts ``x.y`` when
    ``y`` is a module, else ``x``)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(name: str) -> int | None:
    parts = name.split(".")
    if len(parts) < 2:
        return None  # the package itself: the public API re-exports, on top of everything
    for index, members in enumerate(LAYERS):
        if parts[1] in members:
            return index
    return None


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in GRAPH[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_inside_the_package():
    assert _cycles() == []


def test_the_cycle_finder_finds_a_cycle():
    GRAPH["ql1706kg.errors"].add("ql1706kg.version")
    GRAPH["ql1706kg.version"].add("ql1706kg.errors")
    try:
        assert ["ql1706kg.errors", "ql1706kg.version"] in _cycles()
    finally:
        GRAPH["ql1706kg.errors"].discard("ql1706kg.version")
        GRAPH["ql1706kg.version"].discard("ql1706kg.errors")


def test_every_module_belongs_to_a_layer():
    assert [name for name in MODULES if name != "ql1706kg" and _layer(name) is None] == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_go_down_the_layers_only(name):
    mine = _layer(name)
    if mine is None:
        return
    upward = sorted(other for other in GRAPH[name]
                    if (theirs := _layer(other)) is not None and theirs > mine)
    assert upward == [], f"{name} imports from a higher layer"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_the_size_limit(name):
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{name} has {lines} lines"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_class_is_over_the_size_limit(name):
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    long = [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
            and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES]
    assert long == []


def test_the_readme_map_names_every_subpackage():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    subpackages = sorted(name.rsplit(".", 1)[1] + "/"
                         for name, path in MODULES.items()
                         if path.name == "__init__.py" and name != "ql1706kg")
    assert [sub for sub in subpackages if sub not in readme] == []
