"""Parsing and checking a Delivery API request body (raw JSON, stdlib only): 400s that name the field.

``parse(body)`` returns a :class:`ParsedRequest` or raises :class:`BadRequest` naming the offending parameter or
field. Mbox requests get their position as ``index`` when they carry none. ``client_from_host`` reads the
client code from a ``{client}.tt.omtrdc.net`` host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._tokens import METRIC_TYPES

__all__ = ["BadRequest", "Detail", "ParsedRequest", "client_from_host", "parse"]

_LOGGING_TYPES = frozenset({"server_side", "client_side"})
_TARGET_HOST_SUFFIX = ".tt.omtrdc.net"


class BadRequest(Exception):
    """A request the Delivery API answers with a 400 (``message`` names the field)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Detail:
    """An mbox, view or pageLoad request."""

    index: int | None
    name: str | None
    key: str | None
    parameters: Mapping[str, Any]
    profile: Mapping[str, Any]


@dataclass(frozen=True)
class ParsedRequest:
    request_id: str | None
    visitor_id: dict[str, Any]
    tnt_id: str | None
    alt_visitor: str | None  # marketingCloudVisitorId, else thirdPartyId
    execute_page_load: Detail | None
    execute_mboxes: list[Detail] | None
    prefetch_page_load: Detail | None
    prefetch_views: list[Detail] | None
    prefetch_mboxes: list[Detail] | None
    notifications: list[dict[str, Any]]
    client_side: bool
    trace: bool


def _obj(parent: Mapping[str, Any], key: str, path: str) -> dict[str, Any] | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest(f"'{path}' must be an object")
    return value


def _arr(parent: Mapping[str, Any], key: str, path: str) -> list[Any] | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise BadRequest(f"'{path}' must be an array")
    return value


def _str(parent: Mapping[str, Any], key: str, path: str) -> str | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{path}' must be a string")
    return value


_EMPTY: Mapping[str, Any] = {}


def _detail(raw: object, path: str, *, index: int | None, needs_name: bool) -> Detail:
    if not isinstance(raw, dict):
        raise BadRequest(f"'{path}' must be an object")
    name = _str(raw, "name", f"{path}.name")
    if needs_name and not name:
        raise BadRequest(f"'{path}.name' is required (a non-empty string)")
    if index is not None:
        raw_index = raw.get("index")
        if raw_index is not None:
            if isinstance(raw_index, bool) or not isinstance(raw_index, int):
                raise BadRequest(f"'{path}.index' must be an integer")
            index = raw_index
    return Detail(
        index=index,
        name=name,
        key=_str(raw, "key", f"{path}.key"),
        parameters=_obj(raw, "parameters", f"{path}.parameters") or _EMPTY,
        profile=_obj(raw, "profileParameters", f"{path}.profileParameters") or _EMPTY,
    )


def _mboxes(section: Mapping[str, Any], path: str) -> list[Detail] | None:
    raw = _arr(section, "mboxes", f"{path}.mboxes")
    if raw is None:
        return None
    return [_detail(m, f"{path}.mboxes[{i}]", index=i, needs_name=True) for i, m in enumerate(raw)]


def _page_load(section: Mapping[str, Any], path: str) -> Detail | None:
    if section.get("pageLoad") is None:
        return None
    return _detail(section["pageLoad"], f"{path}.pageLoad", index=None, needs_name=False)


def parse(body: dict[str, Any]) -> ParsedRequest:
    request_id = _str(body, "requestId", "requestId")
    visitor_id = _obj(body, "id", "id") or {}
    tnt_id = _str(visitor_id, "tntId", "id.tntId")
    mcid = _str(visitor_id, "marketingCloudVisitorId", "id.marketingCloudVisitorId")
    third = _str(visitor_id, "thirdPartyId", "id.thirdPartyId")
    _arr(visitor_id, "customerIds", "id.customerIds")
    _obj(body, "context", "context")

    execute = _obj(body, "execute", "execute")
    prefetch = _obj(body, "prefetch", "prefetch")
    views: list[Detail] | None = None
    if prefetch is not None:
        raw_views = _arr(prefetch, "views", "prefetch.views")
        if raw_views is not None:
            views = [_detail(v, f"prefetch.views[{i}]", index=None, needs_name=False) for i, v in enumerate(raw_views)]

    notifications: list[dict[str, Any]] = []
    for i, n in enumerate(_arr(body, "notifications", "notifications") or ()):
        path = f"notifications[{i}]"
        if not isinstance(n, dict):
            raise BadRequest(f"'{path}' must be an object")
        if not _str(n, "id", f"{path}.id"):
            raise BadRequest(f"'{path}.id' is required (a non-empty string)")
        n_type = _str(n, "type", f"{path}.type")
        if n_type is not None and n_type not in METRIC_TYPES:
            raise BadRequest(f"'{path}.type' must be 'click' or 'display'")
        timestamp = n.get("timestamp")
        if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, int)):
            raise BadRequest(f"'{path}.timestamp' must be an integer (ms since the epoch)")
        tokens = _arr(n, "tokens", f"{path}.tokens")
        if tokens is not None and not all(isinstance(t, str) for t in tokens):
            raise BadRequest(f"'{path}.tokens' must be an array of strings")
        mbox = _obj(n, "mbox", f"{path}.mbox")
        if mbox is not None:
            _str(mbox, "name", f"{path}.mbox.name")
        notifications.append(n)

    client_side = False
    experience_cloud = _obj(body, "experienceCloud", "experienceCloud")
    if experience_cloud is not None:
        analytics = _obj(experience_cloud, "analytics", "experienceCloud.analytics")
        if analytics is not None:
            logging_type = _str(analytics, "logging", "experienceCloud.analytics.logging")
            if logging_type is not None and logging_type not in _LOGGING_TYPES:
                raise BadRequest("'experienceCloud.analytics.logging' must be 'server_side' or 'client_side'")
            client_side = logging_type == "client_side"

    return ParsedRequest(
        request_id=request_id or None,
        visitor_id=visitor_id,
        tnt_id=tnt_id or None,
        alt_visitor=mcid or third or None,
        execute_page_load=_page_load(execute, "execute") if execute is not None else None,
        execute_mboxes=_mboxes(execute, "execute") if execute is not None else None,
        prefetch_page_load=_page_load(prefetch, "prefetch") if prefetch is not None else None,
        prefetch_views=views,
        prefetch_mboxes=_mboxes(prefetch, "prefetch") if prefetch is not None else None,
        notifications=notifications,
        client_side=client_side,
        trace=_obj(body, "trace", "trace") is not None,
    )


def client_from_host(host: object) -> str | None:
    if not isinstance(host, str):
        return None
    name = host.strip().lower()
    if name.startswith("["):  # IPv6 literal
        return None
    name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    if not name.endswith(_TARGET_HOST_SUFFIX):
        return None
    label = name[: -len(_TARGET_HOST_SUFFIX)]
    if not label or "." in label or label.startswith("mboxedge"):
        return None
    return label
