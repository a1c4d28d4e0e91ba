"""Values, property paths and ``property=`` filters of the repository API (see :mod:`._query`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ._linear import Regex
from ._schemas import parse_datetime_ms
from ._wire import ApiError

# -- values, paths and filters -------------------------------------------------------------------------------

_NO_VALUE = "\x00"
_MISSING: Any = object()
Canon = tuple[Any, ...]


def canon(value: Any) -> Canon:
    """A totally ordered sort key: numbers < date-times < strings < other JSON < missing."""
    if value is _MISSING:
        return (9,)
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        ms = parse_datetime_ms(value)
        return (2, value) if ms is None else (1, ms)
    return (3, json.dumps(value, sort_keys=True))


def _date_or_ms(text: str) -> float | None:
    stripped = text.strip()
    if stripped.isascii() and stripped.lstrip("-").isdigit():
        return float(stripped)
    return parse_datetime_ms(stripped)


def _coerce(part: str, like: Canon) -> Canon:
    """A ``start`` component as a sort key comparable with an item key of the same kind."""
    if part == _NO_VALUE:
        return (9,)
    if like[0] == 0:
        try:
            return (0, float(part))
        except ValueError:
            return (2, part)
    if like[0] == 1:
        ms = _date_or_ms(part)
        return (2, part) if ms is None else (1, ms)
    if like[0] == 3:
        return (3, part)
    return (2, part)


def _token(key: Canon) -> str:
    """A sort key written into ``start`` (dates as epoch milliseconds)."""
    if key[0] == 9:
        return _NO_VALUE
    value = key[1]
    if key[0] == 1:
        return str(int(value)) if float(value).is_integer() else repr(value)
    if key[0] == 0:
        return str(value) if isinstance(value, int) else repr(value)
    return str(value)


def split_path(path: str, what: str) -> tuple[str, ...]:
    segments = tuple(path.split("."))
    if not path or any(not s for s in segments):
        raise ApiError(400, f"{what} {path!r} is not a property path (segments separated by '.')", prop=what)
    return segments


def resolve(node: Any, segments: Sequence[str]) -> tuple[bool, list[Any]]:
    """The values at a dotted path (arrays are traversed and a leaf array yields its elements)."""
    out: list[Any] = []
    found = _walk(node, segments, 0, out)
    return found, out


def _walk(node: Any, segs: Sequence[str], i: int, out: list[Any]) -> bool:
    if i == len(segs):
        if isinstance(node, list):
            out.extend(node)
        else:
            out.append(node)
        return True
    if isinstance(node, list):
        hits = [_walk(item, segs, i, out) for item in node]
        return any(hits)
    if not isinstance(node, dict):
        return False
    if segs[i] in node:
        return _walk(node[segs[i]], segs, i + 1, out)
    # keys that themselves contain dots: the one spanning the fewest segments (found from the document's keys,
    # so a path of thousands of segments costs no more than the keys it is compared with)
    best: tuple[int, str] | None = None
    for key in node:
        if "." in key:
            parts = key.split(".")
            n = len(parts)
            if (best is None or n < best[0]) and i + n <= len(segs) and list(segs[i : i + n]) == parts:
                best = (n, key)
    if best is not None:
        return _walk(node[best[1]], segs, i + best[0], out)
    return False


def _sort_value(doc: Any, segments: Sequence[str]) -> Any:
    found, values = resolve(doc, segments)
    return values[0] if found and values else _MISSING


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
}
_SQL_OPS = {"==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
#: filter/sort paths backed by an instance column: (column, kind)
_COLUMNS: dict[str, tuple[str, str]] = {
    "instanceId": ("instance_id", "text"),
    "repo:createdDate": ("created_ms", "date"),
    "repo:lastModifiedDate": ("modified_ms", "date"),
    "_instance.xdm:name": ("name", "key"),
    "_instance.xdm:status": ("status", "key"),
    "_instance.@id": ("at_id", "text"),
    "repo:etag": ("etag", "number"),
}


@dataclass(frozen=True)
class Filter:
    """One ``property=`` expression."""

    path: str
    segments: tuple[str, ...]
    op: str | None
    value: str
    regex: Regex | None = None

    def matches(self, doc: Any) -> bool:
        found, values = resolve(doc, self.segments)
        if self.op is None:
            return found
        return any(self._one(v) for v in values)

    def _one(self, stored: Any) -> bool:
        op, raw = self.op, self.value
        assert op is not None
        if op == "~":
            assert self.regex is not None
            return isinstance(stored, str) and self.regex.fullmatch(stored)
        a: Any
        b: Any
        if isinstance(stored, bool):
            parsed = {"true": True, "false": False}.get(raw.strip().lower())
            if parsed is None:
                return op == "!="
            a, b = int(stored), int(parsed)
        elif isinstance(stored, (int, float)):
            try:
                b = int(raw) if raw.isascii() and raw.strip().lstrip("-").isdigit() else float(raw)
            except ValueError:
                return op == "!="
            a = stored
        elif isinstance(stored, str):
            a, b = stored, raw
            ms = parse_datetime_ms(stored)
            if ms is not None:
                other = _date_or_ms(raw)
                if other is not None:
                    a, b = ms, other
        elif stored is None:
            a, b = "null", raw
            if op not in ("==", "!="):
                return False
        else:
            return op == "!="
        return _COMPARE[op](a, b)

    def sql(self) -> tuple[str, list[Any]] | None:
        """The same condition on an indexed column, or ``None`` when SQL cannot express it exactly."""
        column = _COLUMNS.get(self.path)
        if column is None or self.op == "~":
            return None
        name, kind = column
        # name/status hold x'' (a BLOB, after every TEXT) when missing: "< x''" keeps present values only
        present = f" AND {name} < x''" if kind == "key" else ""
        if self.op is None:
            return (present[5:], []) if present else ("1", [])
        sql_op = _SQL_OPS[self.op]
        if kind in ("text", "key"):
            guard = present if self.op in ("!=", ">", ">=") else ""
            return f"{name} {sql_op} ?{guard}", [self.value]
        if kind == "date":
            ms = _date_or_ms(self.value)
            return None if ms is None else (f"{name} {sql_op} ?", [ms])
        try:
            number = float(self.value)
        except ValueError:
            return None
        return f"{name} {sql_op} ?", [number]


def parse_filter(expr: str) -> Filter:
    """Split ``<path><op><value>`` at the first operator (two-character operators first)."""
    op = None
    at = len(expr)
    for i in range(len(expr)):
        if expr[i : i + 2] in ("<=", ">=", "==", "!="):
            op, at = expr[i : i + 2], i
            break
        if expr[i] in "<>~":
            op, at = expr[i], i
            break
    path = expr[:at].strip()
    value = expr[at + len(op) :] if op else ""
    if not path:
        raise ApiError(400, f"property filter {expr!r} has no property path before its operator", prop="property")
    if op is None and ("=" in path or path.startswith("!")):
        raise ApiError(
            400, f"property filter {expr!r} has no operator (use ==, !=, <, <=, >, >= or ~)", prop="property"
        )
    segments = split_path(path, "property")
    regex = None
    if op == "~":
        try:
            regex = Regex(value, ignore_case=True)
        except ValueError as exc:
            raise ApiError(
                400,
                f"property filter {expr!r} has an invalid or unsupported regular expression: {exc}",
                prop="property",
            ) from None
    return Filter(path, segments, op, value, regex)
