"""Import rules that keep the design honest (STYLE.md §2): checked on the source, so a violation fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "target_async"


def imports_of(path: Path) -> list[str]:
    """Absolute module names imported by ``path`` (relative imports resolved against its package)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.append(module)
    return names


def modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).glob("*.py"))


@pytest.mark.parametrize("path", modules("emulator"), ids=lambda p: p.name)
def test_the_emulator_imports_no_client_code(path: Path) -> None:
    # so that a key-naming mistake on one side cannot hide behind the other side's same mistake; the one
    # exception: _rules decides with the pure decision engine (issue #13), and the models it decides
    engine = ("target_async.decisioning", "target_async.models", "target_async._serde")
    for name in imports_of(path):
        if path.name == "_rules.py" and name.startswith(engine):
            continue
        assert not name.startswith("target_async") or name.startswith("target_async.emulator"), name


@pytest.mark.parametrize("path", modules("models"), ids=lambda p: p.name)
def test_models_do_no_io(path: Path) -> None:
    for name in imports_of(path):
        assert name.split(".")[0] not in {"httpx", "anyio", "aiohttp", "asyncio"}, name


def test_only_the_transport_module_imports_aiohttp() -> None:
    users = [p.name for p in PACKAGE.rglob("*.py") if any(n.split(".")[0] == "aiohttp" for n in imports_of(p))]
    assert users == ["_aiohttp.py"]


def test_the_async_clients_do_not_import_the_sync_facade() -> None:
    for folder in ("delivery", "repository", "models", "_serde"):
        for path in modules(folder):
            for name in imports_of(path):
                assert not name.startswith("target_async.sync"), (path.name, name)


_ENGINE_MAY_IMPORT = (
    "target_async.models",
    "target_async._exceptions",
    "target_async._serde",
    "target_async.decisioning",
)
_IO_MODULES = {"httpx", "anyio", "aiohttp", "asyncio", "socket", "ssl", "http", "requests", "subprocess"}


@pytest.mark.parametrize("path", modules("decisioning"), ids=lambda p: p.name)
def test_the_decision_engine_is_pure(path: Path) -> None:
    # no I/O and no client code: of target_async, only the models, the errors and the converter
    for name in imports_of(path):
        if name == "target_async" or name.startswith("target_async."):
            assert name.startswith(_ENGINE_MAY_IMPORT), name
        assert name.split(".")[0] not in _IO_MODULES and name != "urllib.request", name
