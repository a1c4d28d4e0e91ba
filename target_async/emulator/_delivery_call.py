"""Per-request state and small helpers of the emulator's Delivery engine (see :mod:`._delivery`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._decide import RepositoryDecider
from ._parse import ParsedRequest


def _identified(ids: Mapping[str, Any]) -> bool:
    """Whether the engine has a visitor id to allocate with (else the emulator gives a tntId first)."""
    if any(isinstance(ids.get(k), str) and ids[k] for k in ("tntId", "marketingCloudVisitorId", "thirdPartyId")):
        return True
    for customer in ids.get("customerIds") or ():
        if isinstance(customer, dict) and customer.get("id") and customer.get("authenticatedState") == "authenticated":
            return True
    return False


def _options(located: Mapping[str, Any]) -> list[dict[str, Any]]:
    options = located.get("options")
    return [o for o in options if isinstance(o, dict)] if isinstance(options, list) else []


@dataclass
class _Call:
    """Per-request state while building a response."""

    request: ParsedRequest
    tnt_id: str  # the response's id.tntId
    visitor: str
    session_id: str
    client: str
    host: str
    decider: RepositoryDecider | None


def _with_indices(body: dict[str, Any], request: ParsedRequest) -> None:
    """Give every requested mbox its ``index`` (its position when it has none), in copies of the sections."""
    for mode, details in (("execute", request.execute_mboxes), ("prefetch", request.prefetch_mboxes)):
        if not details:
            continue
        section = dict(body[mode])
        section["mboxes"] = [{**raw, "index": d.index} for raw, d in zip(section["mboxes"], details, strict=True)]
        body[mode] = section
