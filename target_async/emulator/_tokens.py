"""Wire helpers shared by the emulator's Delivery decisions (stdlib only): JSON copies, stable ids, event tokens,
response tokens."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "METRIC_TYPES",
    "OPTION_TYPES",
    "clone_json",
    "decode_token",
    "encode_token",
    "response_tokens",
    "stable_int",
]


def clone_json(value: Any) -> Any:
    """Copy a JSON-like value (dicts and lists recursively); faster than ``copy.deepcopy`` for wire data."""
    if isinstance(value, dict):
        return {k: clone_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone_json(v) for v in value]
    return value


OPTION_TYPES = frozenset({"html", "json", "redirect", "dynamic", "actions"})
METRIC_TYPES = frozenset({"click", "display"})


def stable_int(text: str) -> int:
    """A stable 6-digit id (for fixture activities/offers and A4T payloads), from sha256."""
    return 100_000 + int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % 900_000


def encode_token(payload: Mapping[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_token(token: str) -> dict[str, Any] | None:
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def response_tokens(
    activity_id: object,
    activity_name: object,
    experience_id: int,
    experience_name: str,
    offer_id: object,
    offer_name: object,
    option_id: int,
) -> dict[str, Any]:
    return {
        "activity.id": activity_id,
        "activity.name": activity_name,
        "experience.id": experience_id,
        "experience.name": experience_name,
        "offer.id": offer_id,
        "offer.name": offer_name,
        "option.id": option_id,
        "activity.decisioningMethod": "server-side",
    }
