"""Constants, caller, settings and small helpers shared by the emulator's repository API modules."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from ._schemas import RESULTS_SCHEMA

DeleteMode = Literal["async", "immediate", "no-location"]
DELETE_MODES: tuple[str, ...] = ("async", "immediate", "no-location")

HAL = "application/vnd.adobe.platform.xcore.hal+json"
PATCH_HAL = "application/vnd.adobe.platform.xcore.patch.hal+json"
RECEIPT = "application/vnd.adobe.platform.xcore.xdm.receipt+json; version=1"
HOME = "application/vnd.adobe.platform.xcore.home.hal+json"
RESULTS = f'{HAL}; schema="{RESULTS_SCHEMA}"'
HOME_TYPE = "https://ns.adobe.com/experience/xcore/hal/home"
DEFAULT_PRODUCTS = ("dma_offers", "acp")
_XCORE_ID = re.compile(r"xcore:[A-Za-z0-9._-]+:[A-Za-z0-9]+")


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
