"""The package's import graph has no cycles (imports inside functions count; ``if TYPE_CHECKING:`` ones do not)."""

from __future__ import annotations

import ast
from pathlib import Path

import moodbox

PACKAGE = Path(moodbox.__file__).parent


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):  # drop the imports made for type annotations only
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                node.body = []
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("moodbox."):
                names.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                names |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("moodbox.")}
        graph[path.stem] = names - {path.stem}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done, path = set(), []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        path.append(module)
        for imported in sorted(graph.get(module, ())):
            if cycle := visit(imported):
                return cycle
        path.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        if cycle := visit(module):
            return cycle
    return None


def test_the_import_graph_has_no_cycles():
    graph = import_graph()
    assert {"daemon", "perception", "actions", "camera", "frames"} <= set(graph)
    assert "perception" in graph["daemon"] and "errors" in graph["config"]  # the check sees real edges
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
