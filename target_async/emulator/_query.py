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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from ._filter import (
    _COLUMNS,
    _NO_VALUE,
    Canon,
    Filter,
    _coerce,
    _date_or_ms,
    _sort_value,
    _token,
    canon,
    parse_filter,
    resolve,
    split_path,
)
from ._schemas import SchemaInfo, resolve_schema, unversioned
from ._search import Search, Term, parse_query
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
