"""Text output of ``target-async artifact``: JSON dumps, one-line cells, aligned tables."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

# --------------------------------------------------------------------------------------------------------------
# text output


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def _one_line(text: str) -> str:
    """One line of printable text: whitespace runs become one space, control characters are escaped (an
    artifact's names must not move the cursor or recolour the terminal)."""
    text = " ".join(text.split())
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}" for ch in text
    )


def _cell(value: Any, width: int = 60) -> str:
    if value is None or value == "" or value == []:
        text = "-"
    elif isinstance(value, (list, tuple)):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    else:
        text = str(value)
    text = _one_line(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], indent: str = "  ") -> list[str]:
    cells = [[_cell(c) for c in row] for row in rows]
    if not cells:
        return [f"{indent}(none)"]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(row: Sequence[str]) -> str:
        return (indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))).rstrip()

    return [line(list(headers)), *(line(r) for r in cells)]


def _pairs(rows: Iterable[tuple[str, Any]], indent: str = "") -> list[str]:
    rows = list(rows)
    width = max(len(k) for k, _ in rows)
    return [f"{indent}{k.ljust(width)}  {_cell(v, 100)}".rstrip() for k, v in rows]
