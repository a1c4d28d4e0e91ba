"""The enforced public surface (issue #11 item 5): every public module declares ``__all__``, lists exactly the public
names it defines or re-exports from its own private modules, and nothing private."""

from __future__ import annotations

import importlib
import pkgutil
import types
import typing

import pytest

import target_async


def public_modules() -> list[str]:
    walked = pkgutil.walk_packages(target_async.__path__, "target_async.")
    return ["target_async"] + [i.name for i in walked if not any(p.startswith("_") for p in i.name.split(".")[1:])]


def _is_fixture(value: object) -> bool:
    return type(value).__name__ in {"FixtureFunctionDefinition", "FixtureFunctionMarker"} or hasattr(
        value, "_pytestfixturefunction"
    )


def _owned_public_names(module: types.ModuleType) -> set[str]:
    """Public names this module defines, or re-exports from its own private modules."""
    own = module.__name__
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, types.ModuleType | typing.TypeVar) or _is_fixture(value):
            continue
        origin = getattr(value, "__module__", None)
        if isinstance(origin, str) and (origin == own or origin.startswith(own + "._")):
            names.add(name)
    return names


@pytest.mark.parametrize("name", public_modules())
def test_all_lists_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert [n for n in exported if not hasattr(module, n)] == []
    assert [n for n in exported if n.startswith("_") and n != "__version__"] == []
    assert len(set(exported)) == len(exported)
    assert _owned_public_names(module) <= set(exported), _owned_public_names(module) - set(exported)


def test_every_public_package_is_walked() -> None:
    assert {"target_async.errors", "target_async.decisioning", "target_async.delivery", "target_async.testing"} <= set(
        public_modules()
    )
