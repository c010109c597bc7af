"""The package's shape (issue 11): modules small enough to read, every public name documented."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import memora_cdn

PACKAGE = Path(memora_cdn.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 400
MAX_MODULE_DOCSTRING_LINES = 3


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{_name(path)} has {lines} lines"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_a_module_docstring_is_a_short_summary_and_design_notes_live_in_docs(path: Path) -> None:
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    lines = len(docstring.splitlines())
    assert lines <= MAX_MODULE_DOCSTRING_LINES, (
        f"{_name(path)}: a {lines}-line module docstring; move the notes to docs/decisions/"
    )


def _is_overload(node: ast.AST) -> bool:
    """A typing `@overload` signature: documented on the implementation that follows it."""
    decorators = getattr(node, "decorator_list", [])
    return any(ast.unparse(d) in ("overload", "typing.overload") for d in decorators)


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_every_public_class_and_function_has_a_docstring(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    missing = [
        f"{node.name} (line {node.lineno})"
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and not node.name.startswith("_")
        and not _is_overload(node)
        and ast.get_docstring(node) is None
    ]
    assert not missing, f"{_name(path)}: no docstring on {', '.join(missing)}"


def test_the_checks_read_the_whole_package() -> None:
    names = {_name(p) for p in MODULES}
    assert {"memora_cdn/app.py", "memora_cdn/cli.py", "memora_cdn/queue/base.py"} <= names
    assert len(names) > 60
