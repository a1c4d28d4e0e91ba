"""Packaging facts users rely on (issue #14 item 7): one version, typed, the extras and the CLI declared."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import target_async
from target_async import _version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_version_has_one_home() -> None:
    assert "version" not in PROJECT["project"]
    assert PROJECT["project"]["dynamic"] == ["version"]
    assert PROJECT["tool"]["hatch"]["version"]["path"] == "target_async/_version.py"
    assert target_async.__version__ == _version.__version__ == importlib.metadata.version("target-async")


def test_typed_and_classified_for_every_supported_python() -> None:
    assert (ROOT / "target_async" / "py.typed").is_file()
    classifiers = PROJECT["project"]["classifiers"]
    assert "Typing :: Typed" in classifiers
    assert any(c.startswith("Development Status ::") for c in classifiers)
    floor = PROJECT["project"]["requires-python"].removeprefix(">=")
    assert floor == "3.10"
    for minor in range(10, 14):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers


def test_the_tools_are_a_dependency_group_not_a_public_extra() -> None:
    extras = PROJECT["project"]["optional-dependencies"]
    assert "dev" not in extras
    assert {"emulator", "fast", "http2", "otel"} <= set(extras)
    assert any(r.startswith("pytest") for r in PROJECT["dependency-groups"]["dev"])


def test_the_cli_and_the_pytest_plugin_are_declared() -> None:
    assert PROJECT["project"]["scripts"]["target-async"] == "target_async._cli:main"
    assert PROJECT["project"]["entry-points"]["pytest11"]["target_async"] == "target_async.testing"


def test_the_changelog_has_release_sections() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    assert f"## [{_version.__version__}] - " in text
    assert text.index("## [Unreleased]") < text.index(f"## [{_version.__version__}]")
