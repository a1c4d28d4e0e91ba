"""The decisioning repository ("xcore") API of the emulator: the semantics of ``repository.md`` §1 A-P.

Decisions (``[decision]`` items of the spec and the gaps it leaves):

- Status codes: 201 create; 200 read/update/patch/list/search and a synchronous delete; 202 delete pending;
  304 ``If-None-Match``; 400 malformed input (bad JSON, malformed patch document, unparseable filter, unknown
  schema, a ``schema`` media-type parameter that does not match the instance, a missing ``_instance``/``_links``);
  404 unknown container, instance or operation; 409 **only** for a stale ``If-Match``; 413 body over the size
  limit; 415 unsupported ``Content-Type``; 422 everything an entity rule refuses (schema validation, referential
  integrity, tag-name uniqueness, inapplicable patch operations and failed ``test``, edits of ``@id`` or of the
  envelope, and a referenced instance in ``delete_mode="immediate"``). Error bodies name the property.
- Media types are parsed leniently: case-insensitive type, parameters in any order, quoted or unquoted,
  ``;version=`` anywhere (inside the schema value too). Create and PUT accept the ``hal`` type (``_instance`` +
  ``_links`` required), ``application/schema-instance+json`` (bare instance) and ``application/json`` (HAL
  shape when ``_instance`` is present, otherwise bare; ``schema`` may then come from the query string). PATCH
  accepts ``patch.hal`` and ``application/json-patch+json``; its ``schema`` parameter is optional but must match.
  ``Accept`` is not enforced.
- ``@id`` (``xcore:{type}:{16 hex}``) is assigned on create; sending one on create is 422 (``meta:usereditable``
  false). PUT without ``@id`` keeps it; PUT or PATCH changing or removing it is 422 (``meta:immutable``). PATCH
  applies to the whole HAL document, so ``test`` may read envelope fields, but changing any of them (or
  ``_links.self``) is 422. PUT ignores envelope fields in the body.
- Tag names are unique per (org, sandbox), case-sensitive: a duplicate is 422. Offer names are not checked.
- References (representation placements, tags, eligibility rule, filter ``ids``, the activity's placement,
  filter and fallback) must name live instances of the right schema in the same (org, sandbox), and an
  activity's fallback must have a representation for the activity's placement: 422 otherwise. The delete check
  counts every ``xcore:...`` string in any instance of any schema of the tenant.
- Lists: default ``limit`` 50, maximum 1000 (larger values are clamped, it is a hint); ``limit`` < 1 or not an
  integer is 400. Sort (``orderby``/``orderBy``, any case; ``+``/``-``; several keys) compares typed values:
  numbers, then RFC 3339 date-times (by instant), then other strings, then objects; missing values sort after
  all of them (so first when descending). Ties on the sort key are ordered by ``instanceId`` and never split
  across pages (the page is extended). ``start`` is exclusive and holds one comma-separated value per sort key
  (a prefix is allowed; the last ``n-1`` commas split it, so only the first value may contain commas); dates
  are written and accepted as epoch milliseconds or RFC 3339; a ``%00`` component stands for "no value".
  ``total`` counts the remaining items including the page; ``_links.next`` appears only when items remain.
  A sort key whose value is an array sorts by its first element.
- Filters: ``property=`` with ``==, !=, <, <=, >, >=`` (typed, case-sensitive) and ``~`` (anchored,
  case-insensitive, strings only); bare path = the property exists; repeated = AND; arrays match when any
  element matches; a missing property fails every operator; a path may use envelope fields
  (``repo:lastModifiedDate``) or ``_instance.…``. ``id=`` is repeated and ORed (at most 1000).
- Search: ``q`` terms are lowercased alphanumeric tokens; ``\\`` escapes a special character, and a term with
  escaped characters matches as a lowercase substring; unescaped ``*``/``?`` are wildcards within a token;
  a fully quoted ``q`` is one phrase matched as a substring (whitespace-normalised, lowercase). ``qop`` is
  ``and``/``or`` in any case (default ``or``; anything else is 400); ``field`` (repeated) restricts the
  searched properties (default: every string in ``_instance``). An empty ``q`` filters nothing.
- Lists are served from indexes (``_store``) when every sort key is one of ``instanceId``,
  ``repo:createdDate``, ``repo:lastModifiedDate``, ``_instance.xdm:name``, ``_instance.xdm:status`` and every
  filter is a comparison on one of those (or ``_instance.@id``, ``repo:etag``) that SQL can express;
  anything else (regex, other paths, search) scans the partition in Python. On the indexed path
  ``xdm:name``/``xdm:status`` compare as plain strings (a name that looks like a date is not read as one).
- Deletes (``delete_mode``): ``"async"`` answers 202 + ``Location: /{cid}/operations/{opId}`` (+
  ``Retry-After``, default ``0``) and a body ``{"operation": "delete", "instanceId", "@id", "outcome":
  "pending", ...receipt}``; the first ``delete_pending_polls`` polls answer 202 with the same
  ``Location``, the next one runs the reference check and answers 200 with the outcome, which stays readable
  until reset. A second DELETE while pending returns the same operation. ``"immediate"``: 200 + receipt and
  outcome, or 422 with ``referencedBy``. ``"no-location"``: 202 with no ``Location`` and an empty body; the
  first ``delete_pending_polls`` reads of the instance still return it, the next read runs the check and, if
  nothing references it, deletes it and answers 404 (with 0 polls the check runs at once). A rejected
  no-location delete leaves the instance in place. ``If-Match`` on DELETE is honoured (409).
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from ._faults import FaultState
from ._jsonpatch import PatchApplyError, PatchFormatError, apply_patch, json_equal, validate_patch
from ._schemas import (
    CONTAINER_SCHEMA,
    RESULTS_SCHEMA,
    TAG,
    SchemaInfo,
    SchemaViolation,
    check_instance,
    parse_datetime_ms,
    resolve_schema,
    unversioned,
)
from ._store import SORT_COLUMNS, InstanceRow, OperationRow, Store

__all__ = ["ApiError", "Caller", "DeleteMode", "Repository", "RepositorySettings", "parse_json", "read_body"]

DeleteMode = Literal["async", "immediate", "no-location"]
DELETE_MODES: tuple[str, ...] = ("async", "immediate", "no-location")

HAL = "application/vnd.adobe.platform.xcore.hal+json"
PATCH_HAL = "application/vnd.adobe.platform.xcore.patch.hal+json"
RECEIPT = "application/vnd.adobe.platform.xcore.xdm.receipt+json; version=1"
HOME = "application/vnd.adobe.platform.xcore.home.hal+json"
RESULTS = f'{HAL}; schema="{RESULTS_SCHEMA}"'
HOME_TYPE = "https://ns.adobe.com/experience/xcore/hal/home"
DEFAULT_PRODUCTS = ("dma_offers", "acp")
MAX_IDS = 1000
_NO_VALUE = "\x00"
_XCORE_ID = re.compile(r"xcore:[A-Za-z0-9._-]+:[A-Za-z0-9]+")


class ApiError(Exception):
    """An error answer: rendered by the app as ``{type, title, status, detail, message, ...extra}``."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        prop: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.prop = prop
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


@dataclass(frozen=True)
class Caller:
    """The authenticated identity of one repository request."""

    org: str
    sandbox: str
    tid: int
    account: str
    client_id: str


@dataclass
class RepositorySettings:
    """Behaviour switches (changeable at run time through ``POST /_emulator/config``)."""

    delete_mode: DeleteMode = "async"
    delete_pending_polls: int = 1
    delete_retry_after: int | None = 0
    default_limit: int = 50
    max_limit: int = 1000
    account_id: str = "emulator-account@techacct.adobe.com"

    def validate(self) -> None:
        if self.delete_mode not in DELETE_MODES:
            raise ValueError(f"delete_mode must be one of {', '.join(DELETE_MODES)}")
        for name in ("delete_pending_polls", "default_limit", "max_limit"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < (0 if name == "delete_pending_polls" else 1)
            ):
                raise ValueError(
                    f"{name} must be a {'non-negative' if name == 'delete_pending_polls' else 'positive'} integer"
                )
        ra = self.delete_retry_after
        if ra is not None and (isinstance(ra, bool) or not isinstance(ra, int) or ra < 0):
            raise ValueError("delete_retry_after must be a non-negative integer or None")
        if self.default_limit > self.max_limit:
            raise ValueError("default_limit must not exceed max_limit")


# -- small helpers -------------------------------------------------------------------------------------------


def iso(ms: int) -> str:
    """Epoch milliseconds as the repository writes dates: ``2019-06-05T03:44:25.343Z``."""
    dt = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def parse_json(raw: bytes, what: str = "request body") -> Any:
    """Parse JSON strictly (no NaN/Infinity); ``ValueError`` with a readable reason otherwise."""
    if not raw.strip():
        raise ValueError(f"the {what} is empty")
    try:
        return json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError(f"the {what} is nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError(f"the {what} is not UTF-8 JSON") from None
    except ValueError as exc:
        raise ValueError(f"the {what} is not valid JSON: {exc}") from None


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes with 413."""
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the request body exceeds the emulator's limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _split_params(value: str) -> list[str]:
    parts, cur, quoted, i = [], [], False, 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and quoted and i + 1 < len(value):
            cur.append(value[i + 1])
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            parts.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def parse_media_type(header: str) -> tuple[str, dict[str, str]]:
    """``type/subtype`` (lowercase) and its parameters (names lowercase, values unquoted)."""
    first, *rest = _split_params(header)
    params: dict[str, str] = {}
    for item in rest:
        name, sep, value = item.partition("=")
        if not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        params.setdefault(name.strip().lower(), value)
    return first.strip().lower(), params


def _etags(header: str) -> list[str] | None:
    """The entity tags of an ``If-Match``/``If-None-Match`` header (``None`` for ``*``)."""
    tags = []
    for part in header.split(","):
        tag = part.strip()
        if tag == "*":
            return None
        if tag[:2] in ("W/", "w/"):
            tag = tag[2:].strip()
        if len(tag) >= 2 and tag[0] == tag[-1] == '"':
            tag = tag[1:-1]
        if tag:
            tags.append(tag)
    return tags


def _etag_matches(header: str, etag: int) -> bool:
    tags = _etags(header)
    return tags is None or str(etag) in tags


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _etag_header(etag: int) -> str:
    return f'"{etag}"'


# -- values, paths and filters -------------------------------------------------------------------------------

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
    if stripped.lstrip("-").isdigit():
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
    for j in range(i + 2, len(segs) + 1):  # keys that themselves contain dots
        key = ".".join(segs[i:j])
        if key in node:
            return _walk(node[key], segs, j, out)
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
    regex: re.Pattern[str] | None = None

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
            return isinstance(stored, str) and self.regex.fullmatch(stored) is not None
        a: Any
        b: Any
        if isinstance(stored, bool):
            parsed = {"true": True, "false": False}.get(raw.strip().lower())
            if parsed is None:
                return op == "!="
            a, b = int(stored), int(parsed)
        elif isinstance(stored, (int, float)):
            try:
                b = int(raw) if raw.strip().lstrip("-").isdigit() else float(raw)
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
            regex = re.compile(value, re.IGNORECASE)
        except re.error as exc:
            raise ApiError(
                400, f"property filter {expr!r} has an invalid regular expression: {exc}", prop="property"
            ) from None
    return Filter(path, segments, op, value, regex)


# -- full-text search ----------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W_]+")
_SPECIAL = set('+-=&|><!(){}[]^"~*?:/\\')


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _norm_ws(text: str) -> str:
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class Term:
    kind: Literal["tokens", "wildcard", "substring"]
    tokens: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    text: str = ""

    def matches(self, fields: Sequence[tuple[str, list[str]]]) -> bool:
        for text, toks in fields:
            if self.kind == "substring":
                if self.text in text:
                    return True
            elif self.kind == "wildcard":
                assert self.pattern is not None
                if any(self.pattern.fullmatch(t) for t in toks):
                    return True
            else:
                n = len(self.tokens)
                if any(tuple(toks[i : i + n]) == self.tokens for i in range(len(toks) - n + 1)):
                    return True
        return False


def _term(pieces: list[tuple[str, str]]) -> Term | None:
    kinds = {kind for kind, _ in pieces}
    if "escaped" in kinds:
        text = "".join(ch for _, ch in pieces).lower()
        return Term("substring", text=text)
    if "wild" in kinds:
        regex = "".join(
            (".*" if ch == "*" else ".") if kind == "wild" else re.escape(ch.lower()) for kind, ch in pieces
        )
        return Term("wildcard", pattern=re.compile(regex))
    toks = _tokens("".join(ch for _, ch in pieces))
    return Term("tokens", tokens=tuple(toks)) if toks else None


def parse_query(q: str) -> list[Term]:
    """``q`` as search terms (see the module docstring)."""
    q = q.strip()
    if len(q) >= 2 and q[0] == '"' and q.endswith('"') and not q.endswith('\\"'):
        inner = re.sub(r"\\(.)", r"\1", q[1:-1])
        phrase = _norm_ws(inner)
        return [Term("substring", text=phrase)] if phrase else []
    terms: list[Term] = []
    pieces: list[tuple[str, str]] = []

    def flush() -> None:
        if pieces:
            term = _term(pieces)
            if term is not None:
                terms.append(term)
            pieces.clear()

    i = 0
    while i < len(q):
        ch = q[i]
        if ch == "\\" and i + 1 < len(q):
            pieces.append(("escaped", q[i + 1]))
            i += 2
            continue
        if ch in "*?":
            pieces.append(("wild", ch))
        elif ch.isspace() or ch in _SPECIAL:
            flush()
        else:
            pieces.append(("plain", ch))
        i += 1
    flush()
    return terms


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)


@dataclass(frozen=True)
class Search:
    terms: list[Term]
    all_terms: bool
    fields: list[tuple[str, ...]]

    def matches(self, doc: Any) -> bool:
        texts: list[str] = []
        if self.fields:
            for segs in self.fields:
                found, values = resolve(doc, segs)
                if not found and segs[0] != "_instance":
                    found, values = resolve(doc.get("_instance"), segs)
                _strings(values, texts)
        else:
            _strings(doc.get("_instance"), texts)
        prepared = [(_norm_ws(t), _tokens(t)) for t in texts]
        hits = (term.matches(prepared) for term in self.terms)
        return all(hits) if self.all_terms else any(hits)


# -- list parameters -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    path: str
    segments: tuple[str, ...]
    descending: bool

    @property
    def column(self) -> str | None:
        col = _COLUMNS.get(self.path)
        return col[0] if col is not None and col[0] in SORT_COLUMNS else None


def parse_order(raw: str | None) -> list[SortKey]:
    if raw is None or not raw.strip():
        return [SortKey("instanceId", ("instanceId",), False)]
    keys = []
    for item in raw.split(","):
        item = item.strip()
        desc = item.startswith("-")
        if item[:1] in "+-":
            item = item[1:].strip()
        keys.append(SortKey(item, split_path(item, "orderby"), desc))
    return keys


def _split_start(raw: str, n: int) -> list[str]:
    return [raw] if n == 1 else raw.rsplit(",", n - 1)


@dataclass
class ListQuery:
    schema: SchemaInfo
    keys: list[SortKey]
    limit: int
    start: list[str] | None
    filters: list[Filter]
    ids: list[str]
    search: Search | None


@dataclass(frozen=True)
class PageOut:
    docs: list[str]
    total: int
    next_start: str | None


def _python_page(rows: Iterable[InstanceRow], query: ListQuery) -> PageOut:
    keys = query.keys
    items: list[tuple[InstanceRow, list[Canon]]] = []
    for row in rows:
        doc = json.loads(row.doc)
        if not all(f.matches(doc) for f in query.filters):
            continue
        if query.search is not None and not query.search.matches(doc):
            continue
        items.append((row, [canon(_sort_value(doc, k.segments)) for k in keys]))
    items.sort(key=lambda item: item[0].instance_id, reverse=keys[-1].descending)
    for idx in reversed(range(len(keys))):
        items.sort(key=lambda item: item[1][idx], reverse=keys[idx].descending)
    first = 0
    if query.start is not None:
        parts = query.start[: len(keys)]
        while first < len(items) and not _after(items[first][1], parts, keys):
            first += 1
    remaining = items[first:]
    page = remaining[: query.limit]
    end = len(page)
    while page and end < len(remaining) and remaining[end][1] == page[-1][1]:
        page.append(remaining[end])
        end += 1
    more = end < len(remaining)
    token = ",".join(_token(k) for k in page[-1][1]) if more else None
    return PageOut([row.doc for row, _ in page], len(remaining), token)


def _after(key: list[Canon], parts: list[str], keys: list[SortKey]) -> bool:
    for value, part, sort_key in zip(key, parts, keys, strict=False):
        other = _coerce(part, value)
        if value != other:
            return (value > other) != sort_key.descending
    return False


def _sql_token(value: Any) -> str:
    if isinstance(value, bytes):
        return _NO_VALUE
    return str(value)


# -- the repository ------------------------------------------------------------------------------------------


class Repository:
    """Request handlers of the repository API (``/data/core/xcore/``) over a ``Store``."""

    def __init__(
        self,
        store: Store,
        settings: RepositorySettings,
        faults: FaultState,
        *,
        clock: Callable[[], float] = time.time,
        max_body: int = 10 * 1024 * 1024,
    ) -> None:
        self.store = store
        self.settings = settings
        self.faults = faults
        self.clock = clock
        self.max_body = max_body
        self._tenants: dict[tuple[str, str], int] = {}

    def _now(self) -> int:
        return int(self.clock() * 1000)

    # -- tenancy and containers -------------------------------------------------------------------------

    def tenant(self, org: str, sandbox: str, *, create: bool = True) -> int | None:
        """The tenant id; a new (org, sandbox) gets its default container."""
        key = (org, sandbox)
        tid = self._tenants.get(key)
        if tid is not None:
            return tid
        tid = self.store.tenant_id(org, sandbox)
        if tid is None:
            if not create:
                return None
            with self.store.transaction():
                tid = self.store.tenant_id(org, sandbox)  # again, under the write lock
                if tid is None:
                    tid = self.store.create_tenant(org, sandbox)
                    cid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"target-async-emulator:{org}:{sandbox}"))
                    name = f"Decisioning container ({sandbox})"
                    self._insert_container(tid, cid, sandbox, name, DEFAULT_PRODUCTS)
        self._tenants[key] = tid
        return tid

    def forget_tenants(self) -> None:
        self._tenants.clear()

    def _insert_container(
        self, tid: int, cid: str, sandbox: str, name: str, products: Sequence[str], container_type: str = "decisioning"
    ) -> dict[str, Any]:
        now = self._now()
        doc = {
            "instanceId": cid,
            "schemas": [f"{CONTAINER_SCHEMA};version=0.5"],
            "productContexts": list(products),
            "repo:etag": 1,
            "repo:createdDate": iso(now),
            "repo:lastModifiedDate": iso(now),
            "repo:createdBy": self.settings.account_id,
            "repo:lastModifiedBy": self.settings.account_id,
            "repo:createdByClientId": "target-async-emulator",
            "repo:lastModifiedByClientId": "target-async-emulator",
            "sandboxName": sandbox,
            "_instance": {
                "repo:name": name,
                "dataCenter": "VA7",
                "containerType": container_type,
                "parentName": sandbox,
            },
            "_links": {"self": {"href": f"/containers/{cid}"}},
        }
        self.store.insert_container(tid, cid, now, _dumps(doc))
        return doc

    def add_container(
        self, org: str, sandbox: str, *, name: str | None, products: Sequence[str], container_type: str
    ) -> dict[str, Any]:
        """Create an extra container (admin endpoint)."""
        tid = self.tenant(org, sandbox)
        assert tid is not None
        with self.store.transaction():
            return self._insert_container(
                tid, str(uuid.uuid4()), sandbox, name or f"Container ({sandbox})", products, container_type
            )

    def _container(self, caller: Caller, cid: str) -> dict[str, Any]:
        doc = self.store.container(caller.tid, cid)
        if doc is None:
            raise ApiError(404, f"container {cid} does not exist in sandbox {caller.sandbox}", prop="containerId")
        loaded: dict[str, Any] = json.loads(doc)
        return loaded

    async def home(self, request: Request, caller: Caller) -> Response:
        params = [(k.lower(), v) for k, v in request.query_params.multi_items()]
        products = {v for k, v in params if k == "product" and v}
        filters = [parse_filter(v) for k, v in params if k == "property"]
        docs = [json.loads(d) for d in self.store.containers(caller.tid)]
        selected = [
            d
            for d in docs
            if (not products or products & set(d.get("productContexts", []))) and all(f.matches(d) for f in filters)
        ]
        href = "/" + (f"?{request.url.query}" if request.url.query else "")
        body = {"_embedded": {CONTAINER_SCHEMA: selected}, "_links": {"self": {"href": href, "@type": HOME_TYPE}}}
        return Response(_dumps(body), media_type=HOME)

    async def read_container(self, request: Request, caller: Caller) -> Response:
        doc = self._container(caller, request.path_params["containerId"])
        return Response(
            _dumps(doc), media_type=f'{HAL}; schema="{CONTAINER_SCHEMA}"', headers={"ETag": _etag_header(1)}
        )

    # -- bodies -------------------------------------------------------------------------------------------

    def _write_body(self, request: Request, raw: bytes) -> tuple[SchemaInfo, dict[str, Any], dict[str, Any]]:
        header = request.headers.get("content-type")
        if not header:
            raise ApiError(415, f'Content-Type is required: {HAL}; schema="<schema id>"', prop="Content-Type")
        mtype, params = parse_media_type(header)
        schema_param = params.get("schema")
        if mtype == HAL:
            shape = "hal"
        elif mtype == "application/schema-instance+json":
            shape = "bare"
        elif mtype == "application/json":
            shape = "auto"
            schema_param = schema_param or request.query_params.get("schema")
        else:
            raise ApiError(
                415, f'unsupported media type {mtype!r}; use {HAL}; schema="<schema id>"', prop="Content-Type"
            )
        if not schema_param:
            raise ApiError(
                400,
                f"the Content-Type {mtype} needs a schema parameter naming the instance's schema",
                prop="Content-Type",
            )
        schema = resolve_schema(schema_param)
        if schema is None:
            raise ApiError(
                400, f"schema {unversioned(schema_param)!r} is not registered with the repository", prop="schema"
            )
        try:
            body = parse_json(raw)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        if shape == "hal" or (shape == "auto" and "_instance" in body):
            inst = body.get("_instance")
            if not isinstance(inst, dict):
                raise ApiError(400, "_instance is required and must be a JSON object", prop="_instance")
            links = body.get("_links", {} if shape == "auto" else None)
            if not isinstance(links, dict):
                raise ApiError(400, "_links is required and must be a JSON object (it may be empty: {})", prop="_links")
            return schema, inst, links
        return schema, body, {}

    # -- validation and references -------------------------------------------------------------------------

    def _validate(self, caller: Caller, schema: SchemaInfo, inst: dict[str, Any], *, rid: int | None) -> list[str]:
        """Schema, entity and referential checks; returns the ``@id``s the instance references."""
        try:
            refs = check_instance(schema, inst)
        except SchemaViolation as exc:
            raise ApiError(422, str(exc), prop=exc.property) from None
        found = self.store.by_at_ids(caller.tid, [r.target for r in refs])
        for ref in refs:
            target = found.get(ref.target)
            if target is None:
                raise ApiError(
                    422,
                    f"{ref.property} references {ref.target}, which does not exist in sandbox {caller.sandbox}",
                    prop=ref.property,
                )
            if target.schema not in ref.schemas:
                actual = target.schema.rsplit("/", 1)[-1]
                want = " or ".join(_a(s.rsplit("/", 1)[-1]) for s in ref.schemas)
                raise ApiError(
                    422, f"{ref.property} references {ref.target}, which is {_a(actual)}, not {want}", prop=ref.property
                )
            if ref.needs_placement is not None:
                reps = json.loads(target.doc).get("_instance", {}).get("xdm:representations", [])
                placements = (
                    {r.get("xdm:placement") for r in reps if isinstance(r, dict)} if isinstance(reps, list) else set()
                )
                if ref.needs_placement not in placements:
                    raise ApiError(
                        422,
                        f"{ref.property} references fallback offer {ref.target}, which has no representation for "
                        f"the activity's placement {ref.needs_placement}",
                        prop=ref.property,
                    )
        if schema.id == TAG and self.store.name_taken(caller.tid, TAG, inst["xdm:name"], exclude_rid=rid):
            raise ApiError(
                422,
                f"_instance.xdm:name must be unique across tags: {inst['xdm:name']!r} is already used",
                prop="_instance.xdm:name",
            )
        own = inst.get("@id")
        leaves: list[str] = []
        _strings(inst, leaves)
        return sorted({s for s in leaves if s != own and _XCORE_ID.fullmatch(s)} | {r.target for r in refs})

    # -- envelopes -----------------------------------------------------------------------------------------

    @staticmethod
    def _self_link(schema: SchemaInfo, cid: str, iid: str) -> dict[str, str]:
        return {"name": f"{schema.versioned}#{iid}", "href": f"/{cid}/instances/{iid}", "@type": schema.versioned}

    @staticmethod
    def _links(self_link: dict[str, str], links: Mapping[str, Any]) -> dict[str, Any]:
        return {"self": self_link, **{k: v for k, v in links.items() if k != "self"}}

    @staticmethod
    def _receipt(env: Mapping[str, Any]) -> dict[str, Any]:
        keys = (
            "repo:etag",
            "repo:createdDate",
            "repo:lastModifiedDate",
            "repo:createdBy",
            "repo:lastModifiedBy",
            "repo:createdByClientId",
            "repo:lastModifiedByClientId",
        )
        inst = env.get("_instance", {})
        return {"instanceId": env["instanceId"], "@id": inst.get("@id"), **{k: env[k] for k in keys}}

    def _receipt_response(
        self, env: Mapping[str, Any], status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        all_headers = {"ETag": _etag_header(int(env["repo:etag"])), **(headers or {})}
        return Response(_dumps(self._receipt(env)), status_code=status, media_type=RECEIPT, headers=all_headers)

    @staticmethod
    def content_base(request: Request) -> str:
        return str(request.base_url) + "data/core/xcore/"

    # -- instances -----------------------------------------------------------------------------------------

    def _row(self, caller: Caller, cid: str, iid: str) -> InstanceRow:
        row = self.store.instance(iid)
        if row is None or row.tid != caller.tid or row.container_id != cid:
            raise ApiError(404, f"instance {iid} does not exist in container {cid}", prop="instanceId")
        return row

    def _new_at_id(self, caller: Caller, schema: SchemaInfo) -> str:
        while True:
            at_id = f"xcore:{schema.short}:{secrets.token_hex(8)}"
            if not self.store.at_id_taken(caller.tid, at_id):
                return at_id

    async def create(self, request: Request, caller: Caller) -> Response:
        cid = request.path_params["containerId"]
        raw = await read_body(request, self.max_body)
        container = self._container(caller, cid)
        schema, inst, links = self._write_body(request, raw)
        if "@id" in inst:
            raise ApiError(
                422,
                "_instance.@id is assigned by the repository and must not be sent (meta:usereditable=false)",
                prop="_instance.@id",
            )
        with self.store.transaction():
            at_id = self._new_at_id(caller, schema)
            inst = {"@id": at_id, **inst}
            refs = self._validate(caller, schema, inst, rid=None)
            pid = self.store.partition(caller.tid, cid, schema.id, create=True)
            assert pid is not None
            now = self._now()
            iid = str(uuid.uuid4())
            env = {
                "instanceId": iid,
                "schemas": [schema.versioned],
                "productContexts": container.get("productContexts", []),
                "repo:etag": 1,
                "repo:createdDate": iso(now),
                "repo:lastModifiedDate": iso(now),
                "repo:createdBy": caller.account,
                "repo:lastModifiedBy": caller.account,
                "repo:createdByClientId": caller.client_id,
                "repo:lastModifiedByClientId": caller.client_id,
                "sandboxName": caller.sandbox,
                "_instance": inst,
                "_links": self._links(self._self_link(schema, cid, iid), links),
            }
            self.store.insert_instance(
                tid=caller.tid,
                pid=pid[0],
                container_id=cid,
                schema=schema.id,
                instance_id=iid,
                at_id=at_id,
                created_ms=now,
                name=inst.get("xdm:name"),
                status=inst.get("xdm:status"),
                doc=_dumps(env),
                refs=refs,
            )
        headers = {"Location": f"/{cid}/instances/{iid}", "Content-Base": self.content_base(request)}
        return self._receipt_response(env, 201, headers)

    def _no_location_check(self, row: InstanceRow) -> bool:
        """Count a read against a pending no-location delete; ``True`` once the instance is gone."""
        op = self.store.pending_operation(row.instance_id, "no-location")
        if op is None or self.faults.delete_never_resolves:
            return False
        if op.polls_left > 0:
            self.store.update_operation(op.op_id, state="pending", polls_left=op.polls_left - 1, body=op.body)
            return False
        return self._decide(op, row) == "confirmed"

    async def read(self, request: Request, caller: Caller) -> Response:
        cid, iid = request.path_params["containerId"], request.path_params["instanceId"]
        with self.store.transaction():
            self._container(caller, cid)
            row = self._row(caller, cid, iid)
            gone = self._no_location_check(row)
        if gone:
            raise ApiError(404, f"instance {iid} does not exist in container {cid}", prop="instanceId")
        headers = {"ETag": _etag_header(row.etag)}
        inm = request.headers.get("if-none-match")
        if inm is not None and _etag_matches(inm, row.etag):
            return Response(status_code=304, headers=headers)
        schema = resolve_schema(row.schema)
        assert schema is not None
        return Response(row.doc, media_type=f'{HAL}; schema="{schema.versioned}"', headers=headers)

    def _check_if_match(self, request: Request, row: InstanceRow) -> None:
        header = request.headers.get("if-match")
        if header is not None and not _etag_matches(header, row.etag):
            raise ApiError(
                409,
                f"instance {row.instance_id} is at revision {row.etag}; If-Match {header} is stale "
                "(re-read it and retry)",
                prop="If-Match",
                extra={"repo:etag": row.etag},
            )

    def _store_update(
        self, caller: Caller, row: InstanceRow, env: dict[str, Any], inst: dict[str, Any]
    ) -> dict[str, Any]:
        schema = resolve_schema(row.schema)
        assert schema is not None
        refs = self._validate(caller, schema, inst, rid=row.rid)
        now = max(self._now(), row.modified_ms)
        env = {
            **env,
            "repo:etag": row.etag + 1,
            "repo:lastModifiedDate": iso(now),
            "repo:lastModifiedBy": caller.account,
            "repo:lastModifiedByClientId": caller.client_id,
            "_instance": inst,
        }
        ok = self.store.update_instance(
            row, modified_ms=now, name=inst.get("xdm:name"), status=inst.get("xdm:status"), doc=_dumps(env), refs=refs
        )
        if not ok:
            raise ApiError(
                409, f"instance {row.instance_id} was modified concurrently; re-read it and retry", prop="If-Match"
            )
        return env

    async def replace(self, request: Request, caller: Caller) -> Response:
        cid, iid = request.path_params["containerId"], request.path_params["instanceId"]
        raw = await read_body(request, self.max_body)
        schema, inst, links = self._write_body(request, raw)
        with self.store.transaction():
            self._container(caller, cid)
            row = self._row(caller, cid, iid)
            self._check_if_match(request, row)
            if schema.id != row.schema:
                raise ApiError(400, f"instance {iid} is a {row.schema}, not a {schema.id}", prop="schema")
            if "@id" in inst and inst["@id"] != row.at_id:
                raise ApiError(
                    422, "_instance.@id is immutable (meta:immutable) and cannot change", prop="_instance.@id"
                )
            inst = {"@id": row.at_id, **{k: v for k, v in inst.items() if k != "@id"}}
            env = json.loads(row.doc)
            env["_links"] = self._links(env["_links"]["self"], links)
            env = self._store_update(caller, row, env, inst)
        return self._receipt_response(env)

    async def patch(self, request: Request, caller: Caller) -> Response:
        cid, iid = request.path_params["containerId"], request.path_params["instanceId"]
        raw = await read_body(request, self.max_body)
        header = request.headers.get("content-type")
        mtype, params = parse_media_type(header or "")
        if mtype not in (PATCH_HAL, "application/json-patch+json"):
            raise ApiError(
                415,
                f'unsupported media type {mtype or None!r} for PATCH; use {PATCH_HAL}; schema="<schema id>"',
                prop="Content-Type",
            )
        try:
            ops = validate_patch(parse_json(raw))
        except (ValueError, PatchFormatError) as exc:
            raise ApiError(400, f"malformed JSON Patch document: {exc}") from None
        with self.store.transaction():
            self._container(caller, cid)
            row = self._row(caller, cid, iid)
            if "schema" in params and unversioned(params["schema"]) != row.schema:
                raise ApiError(
                    400, f"instance {iid} is a {row.schema}, not a {unversioned(params['schema'])}", prop="schema"
                )
            self._check_if_match(request, row)
            env = json.loads(row.doc)
            try:
                new = apply_patch(env, ops)
            except PatchApplyError as exc:
                raise ApiError(422, f"the patch cannot be applied: {exc}") from None
            if not isinstance(new, dict):
                raise ApiError(422, "the patch must leave a JSON object")
            for key in sorted(set(env) | set(new)):
                if key not in ("_instance", "_links") and not json_equal(
                    env.get(key, _MISSING), new.get(key, _MISSING)
                ):
                    raise ApiError(422, f"{key} is maintained by the repository and cannot be patched", prop=key)
            inst, links = new.get("_instance"), new.get("_links")
            if not isinstance(inst, dict):
                raise ApiError(422, "_instance must remain a JSON object", prop="_instance")
            if not isinstance(links, dict):
                raise ApiError(422, "_links must remain a JSON object", prop="_links")
            if not json_equal(links.get("self"), env["_links"]["self"]):
                raise ApiError(
                    422, "_links.self is maintained by the repository and cannot be patched", prop="_links.self"
                )
            if not json_equal(inst.get("@id"), row.at_id):
                raise ApiError(
                    422, "_instance.@id is immutable (meta:immutable) and cannot change", prop="_instance.@id"
                )
            new = self._store_update(caller, row, {**env, "_links": links}, inst)
        return self._receipt_response(new)

    # -- deletes -------------------------------------------------------------------------------------------

    def _delete_body(self, row: InstanceRow, caller: Caller, outcome: str) -> dict[str, Any]:
        env = json.loads(row.doc)
        receipt = self._receipt(env)
        receipt["repo:lastModifiedBy"] = caller.account
        receipt["repo:lastModifiedByClientId"] = caller.client_id
        return {"operation": "delete", "instanceId": row.instance_id, "@id": row.at_id, "outcome": outcome, **receipt}

    def _decide(self, op: OperationRow, row: InstanceRow | None) -> str:
        """Run the reference check of a pending operation and store the outcome."""
        body = json.loads(op.body)
        if row is None:
            body.update(outcome="confirmed", reason="the instance no longer exists", referencedBy=[])
        else:
            refs = [r for r in self.store.referencing(row.tid, row.at_id) if r.rid != row.rid]
            if refs:
                body.update(
                    outcome="rejected",
                    reason=f"{row.at_id} is still referenced by {len(refs)} instance(s)",
                    referencedBy=[{"instanceId": r.instance_id, "@id": r.at_id, "schema": r.schema} for r in refs],
                )
            else:
                self.store.delete_instance(row)
                body.update(outcome="confirmed", reason="no instance references it", referencedBy=[])
        ordered = {k: body[k] for k in ("operation", "instanceId", "@id", "outcome", "reason", "referencedBy")}
        ordered.update((k, v) for k, v in body.items() if k not in ordered)
        self.store.update_operation(op.op_id, state=body["outcome"], polls_left=0, body=_dumps(ordered))
        return str(body["outcome"])

    def _operation_headers(self, request: Request, op: OperationRow) -> dict[str, str]:
        headers = {"Location": f"/{op.container_id}/operations/{op.op_id}", "Content-Base": self.content_base(request)}
        if self.settings.delete_retry_after is not None:
            headers["Retry-After"] = str(self.settings.delete_retry_after)
        return headers

    def _new_operation(self, caller: Caller, row: InstanceRow, kind: str) -> OperationRow:
        op = OperationRow(
            op_id=str(uuid.uuid4()),
            tid=caller.tid,
            container_id=row.container_id,
            instance_id=row.instance_id,
            kind=kind,
            state="pending",
            polls_left=self.settings.delete_pending_polls,
            body=_dumps(self._delete_body(row, caller, "pending")),
            created_ms=self._now(),
        )
        self.store.insert_operation(op)
        return op

    async def delete(self, request: Request, caller: Caller) -> Response:
        cid, iid = request.path_params["containerId"], request.path_params["instanceId"]
        mode = self.settings.delete_mode
        with self.store.transaction():
            self._container(caller, cid)
            row = self._row(caller, cid, iid)
            self._check_if_match(request, row)
            if mode == "async":
                op = self.store.pending_operation(iid, "async") or self._new_operation(caller, row, "async")
                return Response(
                    op.body, status_code=202, media_type=RECEIPT, headers=self._operation_headers(request, op)
                )
            op = self.store.pending_operation(iid, mode) or self._new_operation(caller, row, mode)
            if mode == "no-location":
                if op.polls_left == 0 and not self.faults.delete_never_resolves:
                    self._decide(op, row)
                return Response(status_code=202)
            outcome = self._decide(op, row)
            decided = self.store.operation(op.op_id)
            assert decided is not None
        if outcome == "rejected":
            body = json.loads(decided.body)
            raise ApiError(422, f"instance {iid} cannot be deleted: {body['reason']}", extra=body)
        return Response(decided.body, media_type=RECEIPT)

    async def poll(self, request: Request, caller: Caller) -> Response:
        cid, op_id = request.path_params["containerId"], request.path_params["operationId"]
        with self.store.transaction():
            op = self.store.operation(op_id)
            if op is None or op.tid != caller.tid or op.container_id != cid or op.kind != "async":
                raise ApiError(404, f"operation {op_id} does not exist in container {cid}", prop="operationId")
            if op.state == "pending":
                if self.faults.delete_never_resolves or op.polls_left > 0:
                    if not self.faults.delete_never_resolves:
                        self.store.update_operation(op_id, state="pending", polls_left=op.polls_left - 1, body=op.body)
                    return Response(
                        op.body, status_code=202, media_type=RECEIPT, headers=self._operation_headers(request, op)
                    )
                self._decide(op, self.store.instance(op.instance_id))
                op = self.store.operation(op_id)
                assert op is not None
        return Response(op.body, media_type=RECEIPT)

    # -- lists and search ----------------------------------------------------------------------------------

    def _list_query(self, request: Request, *, search: bool) -> ListQuery:
        params = [(k.lower(), v) for k, v in request.query_params.multi_items()]

        def last(name: str) -> str | None:
            values = [v for k, v in params if k == name]
            return values[-1] if values else None

        raw_schema = last("schema")
        if not raw_schema:
            raise ApiError(400, "the schema query parameter is required", prop="schema")
        schema = resolve_schema(raw_schema)
        if schema is None:
            raise ApiError(
                400, f"schema {unversioned(raw_schema)!r} is not registered with the repository", prop="schema"
            )
        orders = [v for k, v in params if k == "orderby"]
        keys = parse_order(",".join(orders) if orders else None)
        raw_limit = last("limit")
        limit = self.settings.default_limit
        if raw_limit is not None:
            text = raw_limit.strip()
            if not text.isdigit() or int(text) < 1:
                raise ApiError(400, f"limit must be a positive integer (got {raw_limit!r})", prop="limit")
            limit = min(int(text), self.settings.max_limit)
        raw_start = last("start")
        start = None if raw_start is None else _split_start(raw_start, len(keys))
        filters = [parse_filter(v) for k, v in params if k == "property"]
        ids = [v for k, v in params if k == "id"]
        if len(ids) > MAX_IDS:
            raise ApiError(400, f"at most {MAX_IDS} id parameters are allowed", prop="id")
        query = None
        if search:
            qop = (last("qop") or "or").strip().lower()
            if qop not in ("and", "or"):
                raise ApiError(400, f"qop must be 'and' or 'or' (got {last('qop')!r})", prop="qop")
            fields = [split_path(v, "field") for k, v in params if k == "field"]
            terms = parse_query(last("q") or "")
            if terms:
                query = Search(terms, qop == "and", fields)
        return ListQuery(schema, keys, limit, start, filters, ids, query)

    async def list(self, request: Request, caller: Caller, *, search: bool = False) -> Response:
        cid = request.path_params["containerId"]
        self._container(caller, cid)
        query = self._list_query(request, search=search)
        partition = self.store.partition(caller.tid, cid, query.schema.id, create=False)
        page = PageOut([], 0, None) if partition is None else self._page(partition, query)
        route = f"/{cid}/queries/core/search" if search else f"/{cid}/instances"
        links: dict[str, Any] = {
            "self": {"href": route + (f"?{request.url.query}" if request.url.query else ""), "@type": RESULTS_SCHEMA}
        }
        if page.next_start is not None:
            pairs = [(k, v) for k, v in request.query_params.multi_items() if k.lower() != "start"]
            pairs.append(("start", page.next_start))
            links["next"] = {"href": f"{route}?{urlencode(pairs, quote_via=quote)}", "@type": RESULTS_SCHEMA}
        # the stored envelopes are spliced in as they are: no parse and re-serialise per item
        body = (
            f'{{"requestTime":{_dumps(iso(self._now()))},"_embedded":{{"results":[{",".join(page.docs)}],'
            f'"total":{page.total},"count":{len(page.docs)}}},"_links":{_dumps(links)},'
            f'"containerId":{_dumps(cid)},"schemaNs":{_dumps(query.schema.versioned)}}}'
        )
        return Response(body, media_type=RESULTS)

    def _page(self, partition: tuple[int, int], query: ListQuery) -> PageOut:
        pid, count = partition
        conds: list[tuple[str, Sequence[Any]]] = []
        rest: list[Filter] = []
        for f in query.filters:
            sql = f.sql()
            if sql is None:
                rest.append(f)
            else:
                conds.append(sql)
        if query.ids:
            conds.append((f"at_id IN ({', '.join('?' * len(set(query.ids)))})", sorted(set(query.ids))))
        columns = [k.column for k in query.keys]
        if rest or query.search is not None or None in columns:
            rows = self.store.scan(pid, conds)
            return _python_page(
                rows, ListQuery(query.schema, query.keys, query.limit, query.start, rest, [], query.search)
            )
        order = [(c, k.descending) for c, k in zip(columns, query.keys, strict=True) if c is not None]
        start = None
        if query.start is not None:
            start = [self._sql_start(k, part) for k, part in zip(query.keys, query.start, strict=False)]
        result = self.store.page_indexed(pid, count, order, conds, start, query.limit)
        token = None
        if result.more:
            last = result.rows[-1]
            token = ",".join(_sql_token(getattr(last, c)) for c, _ in order)
        return PageOut([r.doc for r in result.rows], result.total, token)

    @staticmethod
    def _sql_start(key: SortKey, part: str) -> Any:
        if part == _NO_VALUE:
            return b""
        if key.column in ("created_ms", "modified_ms"):
            ms = _date_or_ms(part)
            if ms is None:
                raise ApiError(
                    400, f"start value {part!r} for {key.path} is not a date-time or epoch milliseconds", prop="start"
                )
            return ms
        return part
