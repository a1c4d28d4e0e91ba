"""The Target cookies, in the format Adobe's SDKs and at.js read and write.

The ``mbox`` cookie value is a ``|``-joined list of ``<name>#<value>#<expiresEpochSeconds>`` entries
(name and value percent-encoded). ``session`` holds the session id (30 minutes + 60 s), ``PC`` the visitor's
tntId (732 days). The ``mboxEdgeCluster`` cookie carries the edge cluster (location hint) for 31 minutes.
"""

from __future__ import annotations

import math
import re
import time
from urllib.parse import quote, unquote

import attrs

__all__ = [
    "DEVICE_ID_COOKIE",
    "DEVICE_ID_MAX_AGE",
    "LOCATION_HINT_COOKIE",
    "LOCATION_HINT_MAX_AGE",
    "SESSION_ID_COOKIE",
    "SESSION_ID_MAX_AGE",
    "TARGET_COOKIE",
    "TargetCookie",
    "build_target_cookie",
    "location_hint_cookie",
    "parse_target_cookie",
]

TARGET_COOKIE = "mbox"
LOCATION_HINT_COOKIE = "mboxEdgeCluster"
SESSION_ID_COOKIE = "session"
DEVICE_ID_COOKIE = "PC"
SESSION_ID_MAX_AGE = 1860
DEVICE_ID_MAX_AGE = 63244800
LOCATION_HINT_MAX_AGE = 1860


@attrs.frozen
class TargetCookie:
    """A cookie to send back to the browser.

    Attributes:
        name: the cookie name (``mbox`` or ``mboxEdgeCluster``).
        value: the cookie value, ready to be set as is.
        max_age: seconds from now until the cookie expires (the ``Max-Age`` attribute).
    """

    name: str
    value: str
    max_age: int

    def as_dict(self) -> dict[str, str | int]:
        """The official SDK's dict form: ``{"name", "value", "maxAge"}``."""
        return {"name": self.name, "value": self.value, "maxAge": self.max_age}


def parse_target_cookie(value: str | None, *, now: float | None = None) -> dict[str, str]:
    """Entry name -> value for every entry of an ``mbox`` cookie value that has not expired.

    Malformed entries (fewer than three ``#`` parts, a non-integer expiry) are skipped; when a name repeats,
    the last entry wins.
    """
    if not value:
        return {}
    now_s = math.ceil(time.time() if now is None else now)
    if "#" not in value and "%23" in value.upper():
        value = unquote(value)  # the whole value arrived percent-encoded (some frameworks encode cookies)
    entries: dict[str, str] = {}
    for raw in value.split("|"):
        parts = raw.split("#")
        if len(parts) < 3:
            continue
        try:
            expires = int(parts[2])
        except ValueError:
            continue
        if now_s <= expires:
            entries[unquote(parts[0])] = unquote(parts[1])
    return entries


_SAFE = re.compile(r"[A-Za-z0-9_.\-~]*")


def _encode(text: str) -> str:
    # quote() leaves these characters alone anyway; skipping it for ids made of them halves the cookie cost.
    return text if _SAFE.fullmatch(text) else quote(text)


def build_target_cookie(session_id: str, tnt_id: str | None, *, now: float | None = None) -> TargetCookie:
    """The ``mbox`` cookie that carries ``session_id`` and, when known, the visitor's ``tnt_id``."""
    now_s = time.time() if now is None else now
    session_expires = int(now_s + SESSION_ID_MAX_AGE)
    value = f"{SESSION_ID_COOKIE}#{_encode(session_id)}#{session_expires}"
    latest = session_expires
    if tnt_id:
        latest = int(now_s + DEVICE_ID_MAX_AGE)  # always later than the session's
        value = f"{value}|{DEVICE_ID_COOKIE}#{_encode(tnt_id)}#{latest}"
    max_age = math.ceil(abs(latest * 1000 - now_s * 1000) / 1000)
    return TargetCookie(TARGET_COOKIE, value, max_age)


def location_hint_cookie(cluster: str) -> TargetCookie:
    """The ``mboxEdgeCluster`` cookie for ``cluster``."""
    return TargetCookie(LOCATION_HINT_COOKIE, cluster, LOCATION_HINT_MAX_AGE)
