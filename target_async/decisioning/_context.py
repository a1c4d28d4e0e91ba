"""The parts of the rule context that do not come from a leaf parser: time, geo, the visitor, allocation (§4).

Also the identifiers the engine makes (request ids, tnt ids, notification ids): version-4 UUID text from a
Mersenne Twister seeded from the OS (and reseeded in a forked child), several times faster than ``uuid4()``.
None of them is a secret.
"""

from __future__ import annotations

import ipaddress
import os
import random
import time
from collections.abc import Mapping
from typing import Any

import mmh3

from ..models import Geo, VisitorId
from ._shape import js_string

__all__ = [
    "allocation",
    "geo_context",
    "geo_response_tokens",
    "has_geo",
    "new_id",
    "new_tnt_id",
    "timing",
    "valid_ip",
    "visitor_key",
]

_rng = random.Random(random.SystemRandom().getrandbits(64))

if hasattr(os, "register_at_fork"):  # a forked child must not hand out its parent's ids
    os.register_at_fork(after_in_child=lambda: _rng.seed(random.SystemRandom().getrandbits(64)))


def _uuid4_hex() -> str:
    n = _rng.getrandbits(128)
    n = (n & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    n = (n & ~(0xF000 << 64)) | (4 << 76)  # version 4
    return f"{n:032x}"


def new_id() -> str:
    """A random version-4 UUID string (request, notification and impression ids)."""
    h = _uuid4_hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_tnt_id(location_hint: str | None) -> str:
    """A new visitor id: a version-4 UUID in 32 hex digits (as Target writes tntIds), plus ``.<hint>_0``."""
    value = _uuid4_hex()
    return f"{value}.{location_hint}_0" if location_hint else value


def timing(now_seconds: float) -> tuple[str, int]:
    """(``current_time`` "HHmm", ``current_day`` 1-7 with Monday = 1), both UTC."""
    t = time.gmtime(now_seconds)
    return f"{t.tm_hour:02d}{t.tm_min:02d}", t.tm_wday + 1


_GEO_FIELDS = (
    # context key, request Geo attribute, x-geo mapping key
    ("country", "country_code", "countryCode"),
    ("region", "state_code", "stateCode"),
    ("city", "city", "city"),
    ("latitude", "latitude", "latitude"),
    ("longitude", "longitude", "longitude"),
)


def has_geo(geo: Geo | None) -> bool:
    """Whether the request's geo has any of latitude, longitude, countryCode, stateCode, city (§9)."""
    return geo is not None and any(getattr(geo, attr) is not None for _, attr, _ in _GEO_FIELDS)


def geo_context(request_geo: Geo | None, looked_up: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``geo`` of the rule context: the request's own values, completed by a geo lookup's."""
    out: dict[str, Any] = {}
    for key, attr, wire in _GEO_FIELDS:
        value = getattr(request_geo, attr) if request_geo is not None else None
        if value is None and looked_up:
            value = looked_up.get(wire)
        if value is not None:
            out[key] = value
    return out


_GEO_TOKENS = (
    ("geo.city", "city"),
    ("geo.country", "country"),
    ("geo.state", "region"),
    ("geo.latitude", "latitude"),
    ("geo.longitude", "longitude"),
)


def geo_response_tokens(wanted: tuple[str, ...], geo: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``geo.*`` response tokens the artifact asks for that the geo context has (§6)."""
    if not geo:
        return None
    out = {token: geo[key] for token, key in _GEO_TOKENS if token in wanted and key in geo}
    return out or None


def valid_ip(value: Any) -> bool:
    """Whether ``value`` is an IPv4 or IPv6 address."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def visitor_key(ids: VisitorId | None) -> str | None:
    """The id allocation hashes (§4): marketingCloudVisitorId, tntId without its location, thirdPartyId."""
    if ids is None:
        return None
    if ids.marketing_cloud_visitor_id:
        return ids.marketing_cloud_visitor_id
    if ids.tnt_id:
        return ids.tnt_id.partition(".")[0]
    if ids.third_party_id:
        return ids.third_party_id
    return None


def allocation(client: str, activity_id: Any, visitor: str) -> float:
    """The visitor's allocation (0-100, two decimals) in an activity: MurmurHash3 over UTF-16 code units."""
    h = mmh3.hash(f"{client}.{js_string(activity_id)}.{visitor}.0".encode("utf-16-le"), 0)
    return round((abs(h) % 10000) / 10000 * 100, 2)
