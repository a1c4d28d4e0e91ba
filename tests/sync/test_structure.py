"""The sync facade's files import one another in one direction (the order of docs/architecture/sync-facade.md) and stay
small, so that the blocking-call and callback-call paths read top to bottom."""

from __future__ import annotations

import ast
from pathlib import Path

import target_async.sync

SYNC = Path(target_async.sync.__file__).parent
ORDER = [
    "_guards",
    "_callback_thread",
    "_loop_thread",
    "_shared_threads",
    "_lanes",
    "_strategy",
    "_async_result",
    "_base",
    "_proxy",
    "_events",
    "_client",
    "_repository",
]


def _sibling_imports(path: Path) -> set[str]:
    """The ``from ._x import ...`` of a module, type-checking-only imports left out."""
    tree = ast.parse(path.read_text())
    skipped = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for node in ast.walk(block)
    }
    return {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module and id(node) not in skipped
    }


def test_every_module_is_placed() -> None:
    assert sorted(p.stem for p in SYNC.glob("_*.py") if p.stem != "__init__") == sorted(ORDER)


def test_modules_import_only_the_modules_before_them() -> None:
    for position, name in enumerate(ORDER):
        later = _sibling_imports(SYNC / f"{name}.py") - set(ORDER[:position])
        assert not later, f"{name} imports {sorted(later)}, which come after it"


def test_every_file_is_under_400_lines() -> None:
    for path in SYNC.glob("*.py"):
        assert len(path.read_text().splitlines()) < 400, path.name
