"""Docstrings and comments cite what is in the repository (issue #11): every ``*.md`` they name exists here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CITED = re.compile(r"[A-Za-z0-9_./-]+\.md\b")
SEARCHED = [
    ROOT,
    ROOT / "docs",
    ROOT / "docs" / "spec",
    ROOT / "tests" / "data" / "delivery-api",
    ROOT / "benchmarks" / "results",
]


def sources() -> list[Path]:
    return sorted(
        [*(ROOT / "target_async").rglob("*.py"), *(ROOT / "tests").rglob("*.py"), *ROOT.glob("benchmarks/*.py")]
    )


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cited_document_exists(path: Path) -> None:
    for name in set(CITED.findall(path.read_text(encoding="utf-8"))):
        assert any((base / name).is_file() for base in SEARCHED), f"{path.name} cites {name}, not in the repository"
