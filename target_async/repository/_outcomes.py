"""Reading a delete's answer: the response snapshot, the decided outcome, the status ``Location``.

Re-exported by :mod:`._polling`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .._exceptions import ValidationError
from .._http import Answer, decode_body
from .._serde import structure, wire_names
from ..models.repository import DeleteOutcome, Receipt
from ._envelopes import link_inside, read_json_object, unreadable

_RECEIPT_KEYS = frozenset(wire_names(Receipt).values())
_OUTCOME_KEYS = frozenset({"outcome", "referencedBy", "reason"})


@attrs.frozen
class ResponseSnapshot:
    """What the operation keeps of the last response: status, response headers and decoded body."""

    status_code: int
    headers: dict[str, str]
    body: Any

    @classmethod
    def of(cls, response: Answer) -> ResponseSnapshot:
        """The snapshot of ``response`` (its body decoded as JSON, else kept as text)."""
        return cls(response.status_code, dict(response.headers), decode_body(response))


def decided_outcome(
    response: Answer, instance_id: str, *, request_id: str | None, what: str
) -> tuple[DeleteOutcome, ResponseSnapshot]:
    """The outcome of a decided answer (``200``/``204``): an empty body or a JSON object, else an error.

    Raises:
        ResponseDecodeError: the body is not empty and not a readable outcome or receipt.
    """
    body = read_json_object(response, what=what, request_id=request_id)
    try:
        outcome = outcome_of(body, instance_id)
    except ValidationError as exc:
        raise unreadable(response, exc.message, what=what, request_id=request_id) from exc
    return outcome, ResponseSnapshot(response.status_code, dict(response.headers), body)


def status_location(
    response: Answer, base: str, *, request_id: str | None, what: str, done: str | None = None
) -> str | None:
    """The absolute status URL of a ``202``'s ``Location`` (None without one), checked to stay in the repository."""
    location = response.headers.get("location")
    if not location or not location.strip():
        return None
    return link_inside(location, response, base, what=what, request_id=request_id, done=done)


def outcome_of(body: Any, instance_id: str) -> DeleteOutcome:
    """The :class:`DeleteOutcome` of a decided delete's body (a receipt or an outcome document).

    Rejected when ``outcome`` is ``"rejected"`` or ``referencedBy`` is non-empty; confirmed otherwise
    (a bare receipt, an empty body, ``"confirmed"``).
    """
    if not isinstance(body, Mapping):
        return DeleteOutcome(status="confirmed", instance_id=instance_id)
    refs = body.get("referencedBy")
    referenced = [dict(r) for r in refs if isinstance(r, Mapping)] if isinstance(refs, list) else []
    rejected = str(body.get("outcome", "")).lower() == "rejected" or bool(referenced)
    receipt_data = {k: v for k, v in body.items() if k in _RECEIPT_KEYS}
    receipt_data.setdefault("instanceId", instance_id)
    receipt = structure(receipt_data, Receipt, what="delete outcome")
    reason = body.get("reason")
    return DeleteOutcome(
        status="rejected" if rejected else "confirmed",
        instance_id=receipt.instance_id,
        id=receipt.id,
        referenced_by=referenced,
        reason=reason if isinstance(reason, str) else None,
        receipt=receipt,
        extras={k: v for k, v in body.items() if k not in _RECEIPT_KEYS and k not in _OUTCOME_KEYS},
    )
