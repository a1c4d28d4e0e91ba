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


# -- the layers of issue #11 (docs/architecture.md) -------------------------------------------------------------


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


ALL_MODULES = sorted(PACKAGE.rglob("*.py"))
_API_PACKAGES = ("delivery", "repository", "sync", "emulator", "decisioning", "models")
_CORE = ("_http", "_aiohttp", "_answer", "_exchange", "_settings", "_retry", "_client_base", "_ids", "_exceptions")


@pytest.mark.parametrize("path", ALL_MODULES, ids=_module_name)
def test_no_module_imports_another_packages_private_module(path: Path) -> None:
    # a package's private modules are its own business: others import what its __init__ exports
    # (the package root's own private modules, target_async._http etc., are the shared core)
    module = _module_name(path)
    for name in imports_of(path):
        parts = name.split(".")
        if parts[0] != "target_async":
            continue
        for i in range(2, len(parts)):
            if parts[i].startswith("_") and not parts[i].startswith("__"):
                owner = ".".join(parts[:i])
                assert module == owner or module.startswith(owner + "."), (module, name)
                break


@pytest.mark.parametrize("path", modules("delivery") + modules("repository"), ids=_module_name)
def test_delivery_and_repository_never_import_each_other(path: Path) -> None:
    other = "target_async.repository" if "delivery" in path.parts else "target_async.delivery"
    assert not [n for n in imports_of(path) if n.startswith(other)]


@pytest.mark.parametrize("path", [p for p in ALL_MODULES if p.parent == PACKAGE and p.stem in _CORE], ids=_module_name)
def test_the_core_and_transport_import_no_api_package(path: Path) -> None:
    api = tuple(f"target_async.{name}" for name in _API_PACKAGES)
    assert not [n for n in imports_of(path) if n.startswith(api)]


@pytest.mark.parametrize("path", sorted((PACKAGE / "_serde").glob("*.py")), ids=_module_name)
def test_the_converter_knows_no_model(path: Path) -> None:
    assert not [n for n in imports_of(path) if n.startswith("target_async.models")]


# httpx is imported only where a signature or a transport needs it: the exchange and core (they speak it), the
# option checks (httpx.Proxy), the client constructors (http_client=/transport=), the testing plugin
# (MockTransport helpers), the artifact CLI (fetching a URL) and the demo (driving the emulator's admin routes).
# Everything else goes through the core.
_HTTPX_USERS = {
    "target_async._aiohttp",
    "target_async._artifact_load",  # the artifact CLI fetching a URL
    "target_async._demo",
    "target_async._client_base",
    "target_async._env",  # trust_env: proxies as httpx.Proxy, a transport choosing one per request
    "target_async._exchange",
    "target_async._http",
    "target_async._settings",
    "target_async.delivery._client",
    "target_async.repository._base",
    "target_async.testing",
}


def test_httpx_is_imported_only_where_a_signature_needs_it() -> None:
    users = {_module_name(p) for p in ALL_MODULES if any(n.split(".")[0] == "httpx" for n in imports_of(p))}
    assert users <= _HTTPX_USERS, users - _HTTPX_USERS
