"""The development packages under local/: the test kit apart from the runner, no cycles.

`round0_testkit` (template builder, sample events, faults, stand-ins, sender,
scenario) is what the tests import; `round0_local` is the runner (`round0-local`).
Every import counts, those under `TYPE_CHECKING` and inside functions too: a cycle
hidden from the interpreter is still a two-way design dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

from round0_testkit.template import REPO_ROOT

LOCAL = REPO_ROOT / "local"
TESTS = REPO_ROOT / "tests"
# the runner's own tests: the only ones that import it
RUNNER_TESTS = TESTS / "unit" / "runner"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def local_modules() -> dict[str, Path]:
    return {module_name(path, LOCAL): path for path in sorted(LOCAL.rglob("*.py"))}


def imported_names(path: Path, module: str) -> Iterable[str]:
    """Every module name `path` imports, anywhere in the file (relative ones resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def dependency_graph() -> dict[str, set[str]]:
    modules = local_modules()
    return {
        module: {
            name
            for name in imported_names(path, module)
            if name in modules and name != module and not module.startswith(name + ".")
        }
        for module, path in modules.items()
    }


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` (as a path that ends where it starts), or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_through_several_modules() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_local_packages_have_no_import_cycle() -> None:
    graph = dependency_graph()
    assert "round0_local.integrations" in graph["round0_local.pipeline"]  # the graph is real
    assert find_cycle(graph) is None


def test_observers_know_nothing_of_the_integrations() -> None:
    assert "round0_local.integrations" not in dependency_graph()["round0_local.observers"]


def test_the_test_kit_never_imports_the_runner() -> None:
    offenders = {
        module: sorted(name for name in targets if name.startswith("round0_local"))
        for module, targets in dependency_graph().items()
        if module.startswith("round0_testkit")
    }
    assert {module: names for module, names in offenders.items() if names} == {}


def test_the_tests_import_the_kit_not_the_runner() -> None:
    importing_the_runner = sorted(
        str(path.relative_to(REPO_ROOT))
        for path in TESTS.rglob("*.py")
        if not path.is_relative_to(RUNNER_TESTS)
        and any(
            name == "round0_local" or name.startswith("round0_local.")
            for name in imported_names(path, module_name(path, REPO_ROOT))
        )
    )
    assert importing_the_runner == []
