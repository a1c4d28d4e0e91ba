"""The attributes of the SDK's spans: safe URLs, error types, request counts, the per-span before/after hooks.

They make no span and read no tracer; :mod:`._otel` makes the spans and re-exports what is public.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SAFE_QUERY = frozenset({"imsOrgId", "version", "client", "schema", "orderby", "limit", "start", "product"})
"""Query parameters whose values are recorded in ``url.full``; the others read ``REDACTED``."""
_DEFAULT_PORTS = {"http": 80, "https": 443}
_origins: dict[str, tuple[str, int, str]] = {}


class _Tally:
    """What the HTTP core did inside one INTERNAL span: the logical requests sent and the last status."""

    __slots__ = ("sends", "status")

    def __init__(self) -> None:
        self.sends = 0
        self.status: int | None = None


def _api() -> Any:
    return sys.modules["opentelemetry.trace"]


def error_type(exc: BaseException) -> str:
    """The low-cardinality ``error.type`` of an exception: ``timeout``, ``cancelled`` or its class name."""
    cls = type(exc)
    module = cls.__module__
    if module.startswith("httpx"):  # by name: only the exchanges and the core import httpx (test_layers)
        if any(c.__name__ == "TimeoutException" for c in cls.__mro__):
            return "timeout"
        return f"httpx.{cls.__qualname__}"
    if isinstance(exc, asyncio.CancelledError) or cls.__name__ == "Cancelled":  # asyncio, anyio, trio
        return "cancelled"
    if module.startswith("target_async"):
        return f"target_async.{cls.__qualname__}"
    return f"{module}.{cls.__qualname__}" if module != "builtins" else cls.__qualname__


def _origin(base: str) -> tuple[str, int, str]:
    """(host, port, the URL without user info) of a URL without its query; cached (a client has a few)."""
    facts = _origins.get(base)
    if facts is None:
        parts = urlsplit(base)
        try:
            port = parts.port
        except ValueError:
            port = None
        clean = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
        facts = (parts.hostname or "", port or _DEFAULT_PORTS.get(parts.scheme, 0), clean)
        if len(_origins) >= 256:
            _origins.clear()
        _origins[base] = facts
    return facts


def _redacted(query: str) -> str:
    kept = []
    for item in query.split("&"):
        name, eq, _ = item.partition("=")
        kept.append(item if name in SAFE_QUERY or not eq else f"{name}=REDACTED")
    return "&".join(kept)


def safe_url(url: str) -> str:
    """``url`` without user info or fragment, and with the values of the query parameters outside
    :data:`SAFE_QUERY` replaced by ``REDACTED``."""
    base, _, query = url.partition("#")[0].partition("?")
    clean = _origin(base)[2]
    return f"{clean}?{_redacted(query)}" if query else clean


def _request_attributes(method: str, url: str) -> dict[str, Any]:
    base, _, query = url.partition("#")[0].partition("?")
    host, port, clean = _origin(base)
    return {
        "http.request.method": method,
        "server.address": host,
        "server.port": port,
        "url.full": f"{clean}?{_redacted(query)}" if query else clean,
    }


def _request_counts(request: Any, prefix: str) -> dict[str, Any]:
    """Counts of what a Delivery request asks for."""
    execute = getattr(request, "execute", None)
    prefetch = getattr(request, "prefetch", None)
    return {
        f"{prefix}.execute.mboxes": len(getattr(execute, "mboxes", None) or ()),
        f"{prefix}.execute.page_load": getattr(execute, "page_load", None) is not None,
        f"{prefix}.prefetch.mboxes": len(getattr(prefetch, "mboxes", None) or ()),
        f"{prefix}.prefetch.views": len(getattr(prefetch, "views", None) or ()),
        f"{prefix}.prefetch.page_load": getattr(prefetch, "page_load", None) is not None,
        f"{prefix}.notifications": len(getattr(request, "notifications", None) or ()),
    }


def _delivery_name(client: Any, call: Any, *args: Any, **kwargs: Any) -> str:
    return "target_async.send_notifications" if call.notifications else "target_async.get_offers"


def _delivery_before(client: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    call = args[0] if args else kwargs["call"]
    attributes = _request_counts(call.request, "target_async.delivery")
    attributes["target_async.client_code"] = client.client
    attributes["target_async.delivery.method"] = call.method
    return attributes


def _delivery_after(span: Any, client: Any, result: Any, tally: _Tally) -> None:
    if result is None:
        return
    meta = result.meta
    span.set_attribute("target_async.delivery.decided_by", meta.decisioning_method)
    status = getattr(result.response, "status", None)
    if isinstance(status, int):
        span.set_attribute("target_async.delivery.status", status)
    if meta.remote_mboxes or meta.remote_views:
        span.set_attribute("target_async.delivery.remote_mboxes", len(meta.remote_mboxes))
        span.set_attribute("target_async.delivery.remote_views", len(meta.remote_views))


def _decision_before(local: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    engine = args[0] if args else kwargs.get("engine")
    request = args[1] if len(args) > 1 else kwargs.get("request")
    attributes = _request_counts(request, "target_async.on_device")
    version = getattr(getattr(engine, "artifact", None), "version", None)
    if isinstance(version, str):
        attributes["target_async.artifact.version"] = version
    return attributes


def _decision_after(span: Any, local: Any, decision: Any, tally: _Tally) -> None:
    span.set_attribute("target_async.on_device.geo_lookup", tally.sends > 0)
    if decision is None:
        return
    span.set_attribute("target_async.on_device.status", decision.status)
    span.set_attribute("target_async.on_device.remote_mboxes", len(decision.remote_mboxes))
    span.set_attribute("target_async.on_device.remote_views", len(decision.remote_views))
    span.set_attribute("target_async.on_device.notifications_queued", len(decision.notifications))


def _refresh_before(source: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    status = source.status
    attributes: dict[str, Any] = {"target_async.artifact.location": safe_url(source.location)}
    if status.ready and status.etag:
        attributes["target_async.artifact.if_none_match"] = status.etag
    return attributes


def _refresh_after(span: Any, source: Any, loaded: Any, tally: _Tally) -> None:
    status = source.status
    span.set_attribute("target_async.artifact.loaded", loaded is True)
    if tally.status is not None:
        span.set_attribute("target_async.artifact.status_code", tally.status)
    elif loaded is True:
        span.set_attribute("target_async.artifact.source", "payload")
    if status.etag:
        span.set_attribute("target_async.artifact.etag", status.etag)
    if status.version:
        span.set_attribute("target_async.artifact.version", status.version)
    error = status.last_error
    if loaded is False and error is not None:  # refresh reports failures in status, never raises them
        kind = error_type(error)
        span.set_attribute("error.type", kind)
        api = _api()
        span.set_status(api.Status(api.StatusCode.ERROR, kind))


def _delete_before(op: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    return {
        "target_async.repository.container_id": op.container_id,
        "target_async.repository.instance_id": op.instance_id,
        "target_async.repository.request_id": op.request_id,
    }


def _delete_after(span: Any, op: Any, outcome: Any, tally: _Tally) -> None:
    span.set_attribute("target_async.delete.polls", tally.sends)
    span.set_attribute("target_async.delete.outcome", op.status)
