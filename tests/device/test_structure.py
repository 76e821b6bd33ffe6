"""The package's shape: no import cycles (imports inside functions and ``if TYPE_CHECKING:`` ones count too), a
short daemon, no long module, a small top level with every stage, front end and tool in its subpackage."""

from __future__ import annotations

import ast
from pathlib import Path

import moodbox

PACKAGE = Path(moodbox.__file__).parent
SUBPACKAGES = ("perception", "music", "frontends", "devkit")
MAX_DAEMON_LINES = 300
MAX_MODULE_LINES = 350
MAX_TOP_LEVEL_MODULES = 15


def module_names() -> dict[str, Path]:
    """Dotted names below ``moodbox`` ("daemon", "perception.faces") of every module, packages as their folder."""
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "moodbox":
                package = node.module.removeprefix("moodbox").lstrip(".")
                for alias in node.names:  # `from moodbox.devkit import demo` imports the module devkit.demo
                    submodule = f"{package}.{alias.name}".lstrip(".")
                    names.add(submodule if submodule in modules else package)
            elif isinstance(node, ast.Import):
                names |= {alias.name.removeprefix("moodbox.") for alias in node.names
                          if alias.name.startswith("moodbox.")}
        graph[name] = names - {name, ""}
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
    assert {"daemon", "perception.pipeline", "frontends.actions", "perception.camera", "perception.frames",
            "devkit.demo"} <= set(graph)
    assert "perception.pipeline" in graph["daemon"] and "errors" in graph["config_checks"]  # the check sees real edges
    assert "perception.camera" in graph["frontends.actions"]  # ... type-only ones included
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_daemon_is_short_and_no_module_is_long():
    tree = ast.parse((PACKAGE / "daemon.py").read_text())
    daemon = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Daemon")
    assert daemon.end_lineno - daemon.lineno + 1 <= MAX_DAEMON_LINES
    lines = {name: len(path.read_text().splitlines()) for name, path in module_names().items()}
    too_long = {name for name, count in lines.items() if count > MAX_MODULE_LINES}
    assert not too_long, {name: lines[name] for name in too_long}


def test_the_top_level_holds_the_daemon_and_what_every_layer_shares():
    top = [path.stem for path in PACKAGE.glob("*.py")]
    assert len(top) <= MAX_TOP_LEVEL_MODULES, sorted(top)
    assert {"daemon", "cli", "config", "errors", "notify", "paths"} <= set(top)
    for package in SUBPACKAGES:  # training imports the audio front end and the tagger without the device's deps
        assert (PACKAGE / package / "__init__.py").read_text() == ""
