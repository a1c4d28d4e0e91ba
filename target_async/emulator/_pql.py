"""Dates and the PQL subset of eligibility rules, for the emulator's repository decisions (stdlib only)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["evaluate_pql", "parse_pql", "parse_timestamp", "within"]


# --------------------------------------------------------------------------------------------------- dates

_DT_RE = re.compile(
    r"\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))?\s*\Z"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_date_cache: dict[str, float | None] = {}


def parse_timestamp(value: object) -> float | None:
    """Parse an RFC 3339 / ISO 8601 date(-time) string to epoch seconds; ``None`` if it is not one.

    A missing offset means UTC; a date alone means midnight UTC. Python 3.10's ``fromisoformat`` rejects ``Z``
    and most fraction lengths, hence the small regex.
    """
    if not isinstance(value, str):
        return None
    try:
        return _date_cache[value]
    except KeyError:
        pass
    result: float | None = None
    m = _DT_RE.match(value)
    if m is not None:
        year, month, day, hh, mi, ss, frac, _z, sign, oh, om = m.groups()
        try:
            dt = datetime(
                int(year),
                int(month),
                int(day),
                int(hh or 0),
                int(mi or 0),
                int(ss or 0),
                int((frac or "0")[:6].ljust(6, "0")),
                tzinfo=timezone.utc,
            )
        except ValueError:
            dt = None
        if dt is not None:
            if sign is not None:
                offset = timedelta(hours=int(oh), minutes=int(om))
                dt = dt - offset if sign == "+" else dt + offset
            result = (dt - _EPOCH).total_seconds()
    if len(_date_cache) > 4096:
        _date_cache.clear()
    _date_cache[value] = result
    return result


def within(obj: Mapping[str, Any], now: float) -> bool:
    """``xdm:startDate <= now <= xdm:endDate`` for the dates that are set (unparseable dates are ignored)."""
    start = parse_timestamp(obj.get("xdm:startDate"))
    if start is not None and now < start:
        return False
    end = parse_timestamp(obj.get("xdm:endDate"))
    return not (end is not None and now > end)


# ----------------------------------------------------------------------------------------------------- PQL
#
# Supported subset; anything else is "unparseable" and the offer QUALIFIES (real PQL needs a profile store):
#   expr    := conj ("or" conj)*          ("and" binds tighter than "or"; keywords are case-insensitive)
#   conj    := atom ("and" atom)*
#   atom    := "true" | "false" | path op literal
#   op      := "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
#   literal := "double" or 'single' quoted string | number | true | false
# An empty condition qualifies. Paths: ``profile.<attr>`` reads the mbox's ``profileParameters[<attr>]``;
# ``@{<schema>}.<attr>``, ``parameters.<attr>``, ``mbox.<attr>`` and a bare ``<attr>`` read
# ``parameters[<attr>]`` (flat keys, as on the wire). A missing attribute makes the comparison false.
# ``=``/``!=`` compare numerically against a number, as booleans against true/false, and as strings
# otherwise; the ordering operators need two numbers.

_PQL_TOKEN = re.compile(
    r"""(?:
        (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<num>-?\d+(?:\.\d+)?(?![\w.]))
      | (?P<op>==|!=|<=|>=|=|<|>)
      | (?P<path>@\{[^{}]*\}(?:\.[\w\-]+)+|[A-Za-z_][\w\-]*(?:\.[\w\-]+)*)
    )""",
    re.VERBOSE,
)
_UNESCAPE = re.compile(r"\\(.)")

_Clause = tuple[str, str, object] | bool  # (path, op, literal), or a constant
_Pql = list[list[_Clause]]  # disjunction of conjunctions
_pql_cache: dict[str, _Pql | None] = {}


def _tokenize(text: str) -> list[tuple[str, str]] | None:
    tokens: list[tuple[str, str]] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos == end:
            return tokens
        m = _PQL_TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            return None
        kind = m.lastgroup
        assert kind is not None
        tokens.append((kind, m.group(kind)))
        pos = m.end()


def _literal(kind: str, raw: str) -> tuple[bool, object]:
    if kind == "str":
        return True, _UNESCAPE.sub(r"\1", raw[1:-1])
    if kind == "num":
        return True, float(raw)
    if kind == "path" and raw.lower() in ("true", "false"):
        return True, raw.lower() == "true"
    return False, None


def parse_pql(text: str) -> _Pql | None:
    """Parse the supported PQL subset into disjunctive normal form; ``None`` when outside the subset."""
    cached = _pql_cache.get(text)
    if cached is not None or text in _pql_cache:
        return cached
    result = _parse_pql(text)
    if len(_pql_cache) > 4096:
        _pql_cache.clear()
    _pql_cache[text] = result
    return result


def _parse_pql(text: str) -> _Pql | None:
    tokens = _tokenize(text)
    if tokens is None:
        return None
    if not tokens:
        return [[True]]
    disjunction: _Pql = [[]]
    i, n = 0, len(tokens)
    while True:
        kind, raw = tokens[i]
        low = raw.lower() if kind == "path" else ""
        if low in ("true", "false"):
            disjunction[-1].append(low == "true")
            i += 1
        elif kind == "path" and low not in ("and", "or") and i + 2 < n and tokens[i + 1][0] == "op":
            ok, value = _literal(*tokens[i + 2])
            if not ok:
                return None
            disjunction[-1].append((raw, tokens[i + 1][1], value))
            i += 3
        else:
            return None
        if i == n:
            return disjunction
        kind, raw = tokens[i]
        if kind != "path" or raw.lower() not in ("and", "or") or i + 1 == n:
            return None
        if raw.lower() == "or":
            disjunction.append([])
        i += 1


def _lookup(path: str, parameters: Mapping[str, Any], profile: Mapping[str, Any]) -> object:
    if path.startswith("@{"):
        return parameters.get(path[path.index("}") + 2 :])
    head, _, rest = path.partition(".")
    if rest:
        if head == "profile":
            return profile.get(rest)
        if head in ("parameters", "mbox"):
            return parameters.get(rest)
    return parameters.get(path)


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _compare(actual: object, op: str, literal: object) -> bool:
    if actual is None:
        return False
    if op in ("=", "==", "!="):
        if isinstance(literal, bool):
            if isinstance(actual, bool):
                equal = actual is literal
            else:
                equal = str(actual).lower() == ("true" if literal else "false")
        elif isinstance(literal, float):
            number = _as_number(actual)
            equal = number is not None and number == literal
        else:
            equal = (actual if isinstance(actual, str) else json.dumps(actual)) == literal
        return equal if op != "!=" else not equal
    left, right = _as_number(actual), _as_number(literal)
    if left is None or right is None or isinstance(literal, bool):
        return False
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def evaluate_pql(text: object, parameters: Mapping[str, Any], profile: Mapping[str, Any]) -> bool:
    """Whether an eligibility rule's PQL qualifies for an mbox (subset above; unparseable qualifies)."""
    if not isinstance(text, str):
        return True
    parsed = parse_pql(text)
    if parsed is None:
        return True
    for conjunction in parsed:
        for clause in conjunction:
            if isinstance(clause, bool):
                if not clause:
                    break
            elif not _compare(_lookup(clause[0], parameters, profile), clause[1], clause[2]):
                break
        else:
            return True
    return False
