"""Geo lookups for on-device rules that target a location (on-device.md §9).

Only for a valid IPv4/IPv6 address (the engine says which); ``GET {cdn}/v1/geo`` with ``x-forwarded-for`` and the
``x-geo-*`` answer headers. A lookup is bounded by the call's remaining time and by :data:`GEO_TIMEOUT`; a failed or
slow one decides without geo (and is not cached, so the next call tries again). Answers are kept in a bounded LRU
map.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Mapping
from typing import Any

import anyio

from .._exceptions import TargetError
from .._http import HTTPCore

__all__ = ["GEO_CACHE_SIZE", "GEO_TIMEOUT", "GeoLookup"]

GEO_CACHE_SIZE = 10_000
GEO_TIMEOUT = 1.0
_HEADERS = {
    "x-geo-latitude": ("latitude", float),
    "x-geo-longitude": ("longitude", float),
    "x-geo-country-code": ("countryCode", str),
    "x-geo-region-code": ("stateCode", str),
    "x-geo-city": ("city", str),
}
_MAX_FIELD = 256


def geo_from_headers(headers: Mapping[str, str]) -> dict[str, Any]:
    """The geo fields of an answer's ``x-geo-*`` headers (bad numbers and oversized values are dropped)."""
    geo: dict[str, Any] = {}
    for name, (key, kind) in _HEADERS.items():
        raw = headers.get(name)
        if not raw or len(raw) > _MAX_FIELD:
            continue
        try:
            geo[key] = kind(raw)
        except ValueError:
            continue
    return geo


class GeoLookup:
    """Looks up and caches the geo of IP addresses through the client's HTTP stack."""

    def __init__(
        self,
        url: str,
        emit: Callable[[str, Mapping[str, Any]], None],
        logger: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self.url = url
        self._emit = emit
        self._log = logger
        self._cache: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()

    def cached(self, ip: str) -> dict[str, Any] | None:
        geo = self._cache.get(ip)
        if geo is not None:
            self._cache.move_to_end(ip)
        return geo

    async def lookup(self, http: HTTPCore, ip: str, budget: float) -> dict[str, Any] | None:
        """The geo of ``ip`` (asked through ``http``, the calling client's stack), or None when it cannot be known
        within ``budget`` seconds."""
        geo = self.cached(ip)
        if geo is not None:
            return geo
        timeout = min(budget, GEO_TIMEOUT)
        if timeout <= 0:
            return None
        with anyio.move_on_after(timeout):
            return await self._fetch(http, ip, timeout)
        self._log.info("target_async: the geo lookup of an address timed out; deciding without geo")
        return None

    async def _fetch(self, http: HTTPCore, ip: str, timeout: float) -> dict[str, Any] | None:
        try:
            answer = await http.send("GET", self.url, headers={"x-forwarded-for": ip}, idempotent=True, timeout=timeout)
        except TargetError as exc:
            self._log.info("target_async: the geo lookup failed (%s); deciding without geo", exc)
            return None
        geo = geo_from_headers(answer.headers)
        if not geo:
            return None
        self._cache[ip] = geo
        if len(self._cache) > GEO_CACHE_SIZE:
            self._cache.popitem(last=False)
        self._emit("geo_location_updated", {"geo_context": dict(geo)})
        return geo
