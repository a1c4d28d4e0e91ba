"""Argument checks and query building for the repository client.

Everything here runs before a request is built, so bad input raises :class:`ValidationError` naming the
argument and nothing is sent.

Query values are given to httpx unencoded; httpx form-encodes them, so the filter
``_instance.xdm:status==approved`` goes out as ``property=_instance.xdm%3Astatus%3D%3Dapproved``, ``+name`` as
``orderby=%2Bname`` (a raw ``+`` would read as a space), and a versioned schema id's ``;`` as ``%3B``.

Ids in paths: a container or instance id becomes exactly one path segment. :func:`path_segment` refuses an
empty id, ``.`` and ``..`` (an HTTP library or server resolves those, so ``begin_delete("..", "..")`` would
delete ``/data/core``) and control characters, and percent-encodes everything else that is not unreserved
(``/``, ``?``, ``#``, ``%``, spaces, non-ASCII), so an id can never add a segment, a query or a fragment.

``ids`` (the ``@id`` filter) is sent as one repeated ``id`` parameter per value, in a single URL. At most
:data:`MAX_IDS` values (and :data:`MAX_IDS_CHARS` characters of them) are accepted per list, search or page:
more would make a URL that gateways refuse (5,000 ids are a 150 KB URL). The SDK does not split a longer list
into several requests, because the pages of several requests cannot be merged into one sorted list with one
``total`` and one ``start``; the caller splits (for example ``ids[i:i + MAX_IDS]``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import attrs

from .._exceptions import ValidationError
from ..models.repository import Entity, Instance, Schema, entity_class

__all__ = [
    "FILTER_OPERATORS",
    "MAX_IDS",
    "MAX_IDS_CHARS",
    "FilterSpec",
    "ListQuery",
    "escape_search_term",
    "format_datetime",
    "instance_body",
    "links_body",
    "order_keys",
    "path_segment",
    "quoted_etag",
    "require_id",
    "schema_id",
    "sort_paths",
    "strings",
]

FILTER_OPERATORS = ("<=", ">=", "==", "!=", "<", ">", "~")
"""Filter operators, longest first (so ``<=`` is not read as ``<``)."""

_OP_CHARS = frozenset("=!<>~")

MAX_IDS = 100
"""The most ``ids`` one list, search or page request accepts (each is one ``id`` query parameter)."""

MAX_IDS_CHARS = 6000
"""The most characters all ``ids`` of one request may have together (before percent-encoding)."""

FilterSpec = str | tuple[str, str, Any]
"""A filter: ``"path<op>value"``, a bare ``"path"`` (the property exists), or ``(path, op, value)``.

``filters`` is one string or an iterable of filters (so a single tuple filter goes in a list).
"""


def _bad(message: str, field: str) -> ValidationError:
    return ValidationError(message, field=field)


def require_id(value: Any, field: str) -> str:
    """A usable identifier (container or instance id): non-empty, not ``.``/``..``, no control characters."""
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{field} must be a non-empty string, got {value!r}", field)
    if value in (".", ".."):
        raise _bad(f"{field} must not be {value!r} (it would address another path)", field)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise _bad(f"{field} must not contain control characters", field)
    return value


def path_segment(value: Any, field: str) -> str:
    """``value`` checked by :func:`require_id` and percent-encoded as exactly one URL path segment."""
    return quote(require_id(value, field), safe="")


def schema_id(value: Any, field: str = "schema", *, required: bool = True) -> str | None:
    """The schema id as a string (a :class:`Schema` member or any schema URI)."""
    if value is None and not required:
        return None
    if isinstance(value, Schema):
        return value.value
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{field} must be a Schema or a non-empty schema id, got {value!r}", field)
    if '"' in value or any(ord(c) < 32 for c in value):
        raise _bad(f"{field} must not contain quotes or control characters", field)
    return value.strip()


def strings(value: Any, field: str) -> list[str]:
    """A list of non-empty strings from ``None``, one string, or an iterable of strings."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable) or isinstance(items, Mapping | bytes):
        raise _bad(f"{field} must be a string or an iterable of strings, got {value!r}", field)
    out = list(items)
    for item in out:
        if not isinstance(item, str) or not item.strip():
            raise _bad(f"{field} items must be non-empty strings, got {item!r}", field)
    return out


def format_datetime(value: dt.datetime, field: str) -> str:
    """RFC 3339 in UTC with milliseconds (``2019-06-13T11:21:23.356Z``); naive datetimes are refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise _bad(f"{field} must be timezone-aware", field)
    return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _check_path(path: str, field: str) -> None:
    if not path or path != path.strip() or any(not seg for seg in path.split(".")):
        raise _bad(f"{field}: invalid property path {path!r}", field)


def _filter_value(value: Any, field: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, dt.datetime):
        return format_datetime(value, field)
    raise _bad(f"{field}: unsupported filter value {value!r}", field)


def _one_filter(spec: Any, field: str) -> str:
    if isinstance(spec, tuple):
        if len(spec) != 3 or not isinstance(spec[0], str) or not isinstance(spec[1], str):
            raise _bad(f"{field}: a tuple filter is (path, operator, value), got {spec!r}", field)
        path, op, value = spec
        _check_path(path, field)
        if op not in FILTER_OPERATORS:
            raise _bad(f"{field}: unknown operator {op!r} (use one of {', '.join(FILTER_OPERATORS)})", field)
        return f"{path}{op}{_filter_value(value, field)}"
    if not isinstance(spec, str):
        raise _bad(f"{field}: a filter is a string or a (path, operator, value) tuple, got {spec!r}", field)
    at = next((i for i, ch in enumerate(spec) if ch in _OP_CHARS), -1)
    if at < 0:  # a bare property: instances that have it
        _check_path(spec, field)
        return spec
    _check_path(spec[:at], field)
    if not any(spec.startswith(op, at) for op in FILTER_OPERATORS):
        raise _bad(f"{field}: no valid operator in {spec!r} (use one of {', '.join(FILTER_OPERATORS)})", field)
    return spec


def _filters(filters: Any) -> list[str]:
    if filters is None:
        return []
    if isinstance(filters, str):
        filters = [filters]
    if not isinstance(filters, Iterable) or isinstance(filters, Mapping):
        raise _bad(f"filters must be an iterable of filters, got {filters!r}", "filters")
    return [_one_filter(f, "filters") for f in filters]


def order_keys(order_by: Any) -> list[str]:
    """The validated ``order_by`` keys (``"-repo:createdDate,instanceId"`` or a sequence of keys)."""
    if order_by is None:
        return []
    raw = order_by.split(",") if isinstance(order_by, str) else order_by
    if not isinstance(raw, Iterable) or isinstance(raw, Mapping):
        raise _bad(f"order_by must be a string or a sequence of strings, got {order_by!r}", "order_by")
    keys = []
    for key in raw:
        if not isinstance(key, str):
            raise _bad(f"order_by keys must be strings, got {key!r}", "order_by")
        key = key.strip()
        path = key[1:] if key[:1] in "+-" else key
        if not path or path[:1] in "+-" or any(c.isspace() or c in _OP_CHARS for c in path):
            raise _bad(f"order_by: invalid key {key!r}", "order_by")
        _check_path(path, "order_by")
        keys.append(key)
    if not keys:
        raise _bad("order_by must name at least one property", "order_by")
    return keys


def _ids(ids: Any) -> tuple[str, ...]:
    values = strings(ids, "ids")
    if len(values) > MAX_IDS:
        raise _bad(
            f"ids: {len(values)} values, at most {MAX_IDS} per request are allowed "
            f"(split the list, e.g. ids[i:i + {MAX_IDS}], and make one call per part)",
            "ids",
        )
    size = sum(len(v) for v in values)
    if size > MAX_IDS_CHARS:
        raise _bad(f"ids: {size} characters, at most {MAX_IDS_CHARS} per request are allowed (split the list)", "ids")
    for value in values:
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise _bad("ids must not contain control characters", "ids")
    return tuple(values)


def _limit(limit: Any) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise _bad(f"limit must be a positive integer, got {limit!r}", "limit")
    return limit


def quoted_etag(value: Any, field: str) -> str | None:
    """An entity tag in the quoted header form: ``3`` and ``"3"`` give ``"3"``; ``W/"3"`` is kept."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _bad(f"{field} must be an etag (int or str), got {value!r}", field)
    if isinstance(value, int):
        return f'"{value}"'
    text = value.strip()
    if not text or any(ord(c) < 32 for c in text):
        raise _bad(f"{field} must be a non-empty etag, got {value!r}", field)
    if text.startswith(('"', "W/")):
        return text
    if '"' in text:
        raise _bad(f"{field}: malformed etag {value!r}", field)
    return f'"{text}"'


def instance_body(instance: Any, schema: str) -> dict[str, Any]:
    """The ``_instance`` payload from a dict, a typed entity or a read :class:`Instance`."""
    if isinstance(instance, Instance):
        return instance.instance
    if isinstance(instance, Entity):
        expected = instance.__schema__
        given = entity_class(schema)
        if given is not None and given is not type(instance):
            raise _bad(f"schema {schema!r} does not match a {type(instance).__name__} ({expected.value})", "schema")
        return instance.to_dict()
    if not isinstance(instance, Mapping):
        raise _bad(f"instance must be a dict or an entity, got {type(instance).__name__}", "instance")
    if "_instance" in instance and set(instance) <= {"_instance", "_links"}:
        raise _bad("instance is the payload itself, not the {'_instance', '_links'} envelope", "instance")
    return dict(instance)


def links_body(links: Any) -> dict[str, Any]:
    """The ``_links`` object of a create or PUT body (it must be present, possibly empty)."""
    if links is None:
        return {}
    if not isinstance(links, Mapping):
        raise _bad(f"links must be a dict of HAL links, got {type(links).__name__}", "links")
    return dict(links)


@attrs.frozen(kw_only=True)
class ListQuery:
    """The validated parameters of a list or search (``q`` set means search)."""

    schema: str
    order_by: tuple[str, ...] = ()
    limit: int | None = None
    filters: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    q: str | None = None
    fields: tuple[str, ...] = ()
    qop: str | None = None

    @classmethod
    def build(
        cls,
        schema: Any,
        *,
        order_by: Any = None,
        limit: Any = None,
        filters: Any = (),
        ids: Any = (),
        search: bool | None = None,
        q: Any = None,
        fields: Any = (),
        qop: Any = None,
    ) -> ListQuery:
        """Validate every argument; raises :class:`ValidationError` naming the first bad one.

        ``search`` defaults to whether ``q`` is given.
        """
        if search is None:
            search = q is not None
        if search:
            if not isinstance(q, str) or not q.strip():
                raise _bad(f"q must be a non-empty string, got {q!r}", "q")
            if qop is not None and (not isinstance(qop, str) or qop.lower() not in ("and", "or")):
                raise _bad(f"qop must be 'and' or 'or', got {qop!r}", "qop")
        return cls(
            schema=schema_id(schema) or "",
            order_by=tuple(order_keys(order_by)),
            limit=_limit(limit),
            filters=tuple(_filters(filters)),
            ids=_ids(ids),
            q=q if search else None,
            fields=tuple(strings(fields, "fields")) if search else (),
            qop=qop.lower() if search and isinstance(qop, str) else None,
        )

    @property
    def is_search(self) -> bool:
        """Whether this is a full-text search (``/queries/core/search``)."""
        return self.q is not None

    def params(self, start: str | None = None) -> list[tuple[str, str]]:
        """The query parameters, repeated keys kept in order."""
        out: list[tuple[str, str]] = [("schema", self.schema)]
        if self.order_by:
            out.append(("orderby", ",".join(self.order_by)))
        if self.limit is not None:
            out.append(("limit", str(self.limit)))
        if start is not None:
            out.append(("start", start))
        out.extend(("property", f) for f in self.filters)
        out.extend(("id", i) for i in self.ids)
        if self.q is not None:
            out.append(("q", self.q))
            out.extend(("field", f) for f in self.fields)
            if self.qop is not None:
                out.append(("qop", self.qop))
        return out


def sort_paths(keys: Sequence[str]) -> list[str]:
    """The property paths of ``order_by`` keys without their ``+``/``-`` prefix (default ``instanceId``)."""
    return [k[1:] if k[:1] in "+-" else k for k in keys] or ["instanceId"]


_SEARCH_SPECIALS = frozenset('+-=&|><!(){}[]^"~*?:/\\')


def escape_search_term(term: str) -> str:
    """Backslash-escape the characters that have a meaning in a search ``q`` (``a:b`` -> ``a\\:b``)."""
    return "".join("\\" + ch if ch in _SEARCH_SPECIALS else ch for ch in term)
