"""The shape of the code: no import cycles, and each package keeps to its side.

Imports are read with `ast`, inside functions too (a lazy import still ties two modules
together), except under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("atri", "bot", "model", "dataprep")
ML_LIBRARIES = ("torch", "transformers", "peft", "accelerate", "safetensors", "gguf", "llama_cpp")
PLATFORM_LIBRARIES = ("discord", "nonebot", "bot")
# package -> top-level names it must never import. `atri` (the CLI) wires everything
# together, so it may import all of them.
BOUNDARIES: dict[str, tuple[str, ...]] = {
    "dataprep": (*ML_LIBRARIES, "model", "bot"),
    "model": PLATFORM_LIBRARIES,
    "bot": ML_LIBRARIES,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
    }


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(path: Path, module: str) -> Iterator[tuple[str, int]]:
    """Every module name `path` imports (absolute), with its line."""
    is_package = path.name == "__init__.py"

    def walk(node: ast.AST) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                yield from (name for n in child.orelse for name in walk_one(n))
                continue
            yield from walk_one(child)

    def walk_one(node: ast.AST) -> Iterator[tuple[str, int]]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            if prefix == "__future__":
                return
            yield prefix, node.lineno
            for alias in node.names:  # `from package import module`
                yield f"{prefix}.{alias.name}", node.lineno
        else:
            yield from walk(node)

    yield from walk(ast.parse(path.read_text(encoding="utf-8"), str(path)))


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target, _ in imported_names(path, name):
            if target in modules and target != name:
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
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
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_project_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


@pytest.mark.parametrize("package", sorted(BOUNDARIES))
def test_each_package_keeps_to_its_side(package: str) -> None:
    forbidden = BOUNDARIES[package]
    broken = [
        f"{name}:{line} imports {target}"
        for name, path in project_modules().items()
        if name.split(".")[0] == package
        for target, line in imported_names(path, name)
        if target.split(".")[0] in forbidden
    ]
    assert broken == []


def test_relative_and_nested_imports_are_read(tmp_path: Path) -> None:
    source = "import a.b\nfrom . import c\ndef f():\n    from x.y import z\n"
    path = tmp_path / "m.py"
    path.write_text(source, encoding="utf-8")
    names = {name for name, _ in imported_names(path, "pkg.m")}
    assert {"a.b", "pkg", "pkg.c", "x.y", "x.y.z"} <= names
