"""The package imports without cycles: every import of every `memora_cdn` module (at module
level, under TYPE_CHECKING and inside functions) is an edge, and no edge path comes back."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Mapping
from pathlib import Path

import memora_cdn

PACKAGE = "memora_cdn"


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package in `root`, by dotted name (packages by `__init__.py`)."""
    found = {package: root / "__init__.py"}
    for info in pkgutil.walk_packages([str(root)], prefix=f"{package}."):
        relative = Path(*info.name.split(".")[1:])
        found[info.name] = (
            root / relative / "__init__.py" if info.ispkg else root / relative.with_suffix(".py")
        )
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that `name` imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(name, is_package, node.module, node.level)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in known else base)
    package = name.split(".")[0]
    inside = {_known_prefix(t, known) for t in targets if t.split(".")[0] == package}
    return {t for t in inside if t is not None and t != name}


def _absolute(name: str, is_package: bool, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    parts = name.split(".")
    anchor = parts if is_package else parts[:-1]
    anchor = anchor[: len(anchor) - (level - 1)]
    return ".".join([*anchor, *([module] if module else [])])


def _known_prefix(target: str, known: set[str]) -> str | None:
    """The longest module name that `target` (maybe `module.attribute`) starts with."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module → the package's modules it imports."""
    found = modules(root, package)
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One import cycle (its modules in order, the first repeated at the end), or None."""
    done: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> list[str] | None:
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in on_stack:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in done and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        on_stack.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph(Path(memora_cdn.__file__).parent, PACKAGE)
    assert "memora_cdn.queue.base" in graph["memora_cdn.app"]  # the graph was read at all
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_names_a_cycle_through_a_function_level_import(tmp_path: Path) -> None:
    # The shape main had before issue 11: app imports PlanLock from rq_jobs (under
    # TYPE_CHECKING) and rq_jobs imports app inside a function.
    app = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from p.rq_jobs import PlanLock\n"
    )
    rq_jobs = "def context():\n    from p.app import process_app\n    return process_app()\n"
    (tmp_path / "app.py").write_text(app)
    (tmp_path / "rq_jobs.py").write_text(rq_jobs)
    known = {"p", "p.app", "p.rq_jobs", "p.other"}
    graph = {
        name: imports_of(name, tmp_path / f"{name[2:]}.py", known) if name != "p.other" else set()
        for name in ("p.app", "p.rq_jobs", "p.other")
    }
    assert graph["p.app"] == {"p.rq_jobs"}
    assert graph["p.rq_jobs"] == {"p.app"}
    assert find_cycle(graph) == ["p.app", "p.rq_jobs", "p.app"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_relative_imports_resolve_to_modules_of_the_package() -> None:
    known = {"memora_cdn", "memora_cdn.queue", "memora_cdn.queue.base", "memora_cdn.queue.sql"}
    assert _absolute("memora_cdn.queue.sql", False, "base", 1) == "memora_cdn.queue.base"
    assert _absolute("memora_cdn.queue", True, "base", 1) == "memora_cdn.queue.base"
    assert _absolute("memora_cdn.queue.sql", False, None, 2) == "memora_cdn"
    assert _known_prefix("memora_cdn.queue.base.Claim", known) == "memora_cdn.queue.base"


def test_the_rq_job_the_dispatcher_enqueues_by_name_is_build_plan() -> None:
    from memora_cdn.sync import rq_jobs
    from memora_cdn.sync.rq_dispatch import BUILD_JOB

    module, _, function = BUILD_JOB.rpartition(".")
    assert getattr(importlib.import_module(module), function) is rq_jobs.build_plan
