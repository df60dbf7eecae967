"""The floors of the house (docs/architecture.md), kept by import-linter and its graph library.

``lint-imports`` checks the contracts written in pyproject.toml; these tests make sure that no
module escapes them (every module of the apps stands on a floor) and that no import circle
spans two apps (the layers contract allows circles within one floor).
"""

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
APPS = CONFIG["root_packages"]


def _graph():
    sys.path.insert(0, str(ROOT))
    try:
        return grimp.build_graph(*APPS, cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))


def _app_modules(graph) -> set[str]:
    """The modules with code of their own: migrations, tests and bare packages aside."""
    modules = set()
    for module in graph.modules:
        if ".migrations" in module or module in APPS or module.endswith(".apps"):
            continue
        if graph.find_children(module) and not graph.find_modules_directly_imported_by(module):
            continue  # a package's empty __init__
        modules.add(module)
    return modules


def _floors() -> list[list[str]]:
    floors_contract = next(c for c in CONFIG["contracts"] if c["id"] == "floors")
    return [
        [name.strip().strip("()") for name in layer.replace("|", ":").split(":")]
        for layer in floors_contract["layers"]
    ]


def test_the_import_contracts_are_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_every_module_stands_on_one_floor():
    graph = _graph()
    placed = [name for floor in _floors() for name in floor]
    assert len(placed) == len(set(placed)), "a module is named on two floors"
    homeless = sorted(
        module
        for module in _app_modules(graph)
        if not any(module == name or module.startswith(name + ".") for name in placed)
    )
    assert homeless == [], f"put these modules on a floor in pyproject.toml: {homeless}"


def _strongly_connected(graph, modules: set[str]) -> list[set[str]]:
    """Tarjan's algorithm, iterative: the sets of modules that import each other in a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    counter = 0
    edges = {
        m: sorted(graph.find_modules_directly_imported_by(m) & modules) for m in sorted(modules)
    }
    for start in sorted(modules):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, child_index = work.pop()
            if child_index == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = edges[node]
            if child_index < len(children):
                work.append((node, child_index + 1))
                child = children[child_index]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return components


def test_no_import_circle_spans_two_apps():
    graph = _graph()
    modules = {m for m in graph.modules if ".migrations" not in m}
    across = [
        sorted(component)
        for component in _strongly_connected(graph, modules)
        if len({m.split(".")[0] for m in component}) > 1
    ]
    assert across == []


def test_the_circle_finder_finds_a_circle_across_two_apps():
    class Graph:  # the two-app circle the selectors once made
        imports = {"a.x": {"b.y"}, "b.y": {"a.x"}, "a.z": {"a.x"}}

        def find_modules_directly_imported_by(self, module):
            return self.imports[module]

    assert _strongly_connected(Graph(), set(Graph.imports)) == [{"a.x", "b.y"}]
