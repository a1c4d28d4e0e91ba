"""The list and search machinery of the repository API: filters, full-text search, sort keys, ``start``, paging.

``_repository`` parses a list or search request with ``parse_list_query`` and answers with the page that
``list_page`` computes (``repository.md`` F).

Decisions (``[decision]`` items of the spec and the gaps it leaves):

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
  case-insensitive, strings only; RE2 syntax and linear-time matching, ``_linear.Regex``: a pattern RE2 cannot
  run is 400); bare path = the property exists; repeated = AND; arrays match when any
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
  anything else (regex, other paths, search) scans the partition in Python, in a worker thread when a request
  handler asks (``serve_page``), so that a long scan never holds up the event loop. On the indexed path
  ``xdm:name``/``xdm:status`` compare as plain strings (a name that looks like a date is not read as one).
- Hostile input costs linear time: regexes run on RE2, wildcards on ``_linear.Wildcard`` (no backtracking), a
  run of tokens is a substring search in the space-joined tokens, and a dotted path is resolved against the
  document's own keys (never by joining the path's segments pairwise).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import anyio.to_thread

from ._linear import Regex, Wildcard
from ._schemas import SchemaInfo, parse_datetime_ms, resolve_schema, unversioned
from ._store import SORT_COLUMNS, InstanceRow, Store
from ._wire import ApiError

__all__ = [
    "MAX_IDS",
    "Canon",
    "Filter",
    "ListQuery",
    "PageOut",
    "Search",
    "SortKey",
    "Term",
    "canon",
    "list_page",
    "parse_filter",
    "parse_list_query",
    "parse_order",
    "parse_query",
    "resolve",
    "scans",
    "serve_page",
    "split_path",
]

MAX_IDS = 1000
_NO_VALUE = "\x00"


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


# -- full-text search ----------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W_]+")
_SPECIAL = set('+-=&|><!(){}[]^"~*?:/\\')


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _norm_ws(text: str) -> str:
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class Field:
    """One searched string, prepared once per document: normalised text, tokens, and tokens joined by spaces."""

    text: str
    tokens: list[str]
    joined: str  # " tok1 tok2 … " (tokens never contain spaces, so a token run is a substring of this)

    @classmethod
    def of(cls, value: str) -> Field:
        tokens = _tokens(value)
        return cls(_norm_ws(value), tokens, f" {' '.join(tokens)} ")


@dataclass(frozen=True)
class Term:
    """One search term. Every kind matches in time linear in the searched text (no backtracking regex):
    ``substring`` and ``tokens`` (a run of consecutive tokens, ``text`` is ``" tok1 tok2 "``) with ``in``, and
    ``wildcard`` with ``_linear.Wildcard`` on each token."""

    kind: Literal["tokens", "wildcard", "substring"]
    tokens: tuple[str, ...] = ()
    pattern: Wildcard | None = None
    text: str = ""

    def matches(self, fields: Sequence[Field]) -> bool:
        for field in fields:
            if self.kind == "wildcard":
                assert self.pattern is not None
                if any(self.pattern.fullmatch(t) for t in field.tokens):
                    return True
            elif self.text in (field.text if self.kind == "substring" else field.joined):
                return True
        return False


def _term(pieces: list[tuple[str, str]]) -> Term | None:
    kinds = {kind for kind, _ in pieces}
    if "escaped" in kinds:
        text = "".join(ch for _, ch in pieces).lower()
        return Term("substring", text=text)
    if "wild" in kinds:
        chars = [(c, kind == "wild") for kind, ch in pieces for c in (ch if kind == "wild" else ch.lower())]
        return Term("wildcard", pattern=Wildcard(chars))
    toks = _tokens("".join(ch for _, ch in pieces))
    return Term("tokens", tokens=tuple(toks), text=f" {' '.join(toks)} ") if toks else None


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
        prepared = [Field.of(t) for t in texts]
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


# -- list requests -------------------------------------------------------------------------------------------


def parse_list_query(
    items: Iterable[tuple[str, str]], *, search: bool, default_limit: int, max_limit: int
) -> ListQuery:
    """The parameters of a list (``search=False``) or search request, from its query string items."""
    params = [(k.lower(), v) for k, v in items]

    def last(name: str) -> str | None:
        values = [v for k, v in params if k == name]
        return values[-1] if values else None

    raw_schema = last("schema")
    if not raw_schema:
        raise ApiError(400, "the schema query parameter is required", prop="schema")
    schema = resolve_schema(raw_schema)
    if schema is None:
        raise ApiError(400, f"schema {unversioned(raw_schema)!r} is not registered with the repository", prop="schema")
    orders = [v for k, v in params if k == "orderby"]
    keys = parse_order(",".join(orders) if orders else None)
    raw_limit = last("limit")
    limit = default_limit
    if raw_limit is not None:
        text = raw_limit.strip()
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            raise ApiError(400, f"limit must be a positive integer (got {raw_limit!r})", prop="limit")
        limit = min(int(text), max_limit)
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


def scans(query: ListQuery) -> bool:
    """Whether ``list_page`` answers ``query`` by a scan in Python rather than from the indexes."""
    return (
        query.search is not None
        or any(f.sql() is None for f in query.filters)
        or any(k.column is None for k in query.keys)
    )


async def serve_page(store: Store, partition: tuple[int, int], query: ListQuery) -> PageOut:
    """``list_page`` for a request handler: a scan (regex filters, search, unindexed paths) runs in a worker
    thread, so that a slow one never holds up the event loop and the other requests; an index lookup runs
    inline (it is a few SQL statements)."""
    if scans(query):
        return await anyio.to_thread.run_sync(list_page, store, partition, query)
    return list_page(store, partition, query)


def list_page(store: Store, partition: tuple[int, int], query: ListQuery) -> PageOut:
    """One page of a partition: from the indexes when the query allows it, else by a scan in Python."""
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
    if rest or query.search is not None or None in columns:  # kept in step with ``scans``
        rows = store.scan(pid, conds)
        return _python_page(rows, ListQuery(query.schema, query.keys, query.limit, query.start, rest, [], query.search))
    order = [(c, k.descending) for c, k in zip(columns, query.keys, strict=True) if c is not None]
    start = None
    if query.start is not None:
        start = [_sql_start(k, part) for k, part in zip(query.keys, query.start, strict=False)]
    result = store.page_indexed(pid, count, order, conds, start, query.limit)
    token = None
    if result.more:
        last = result.rows[-1]
        token = ",".join(_sql_token(getattr(last, c)) for c, _ in order)
    return PageOut([r.doc for r in result.rows], result.total, token)


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
