"""The trace of a traced request (§10): what was evaluated for each mbox, view and page load, and why.

Built only when ``request.trace`` is set. The engine calls :meth:`Tracer.evaluated` for every rule it
evaluates and :meth:`Tracer.notified` for every display notification it makes; :meth:`Tracer.result` gives the
``trace`` of one response. The engine guards every call: a trace can never fail a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._serde import unstructure
from ..models import DeliveryRequest, Notification
from ._artifact import Artifact, Rule

__all__ = ["TRACE_FACTS", "Tracer", "plain", "trace_common"]

TRACE_FACTS = (
    "artifactLocation",
    "pollingInterval",
    "pollingHalted",
    "artifactRetrievalCount",
    "artifactLastRetrieved",
)
"""The artifact retrieval facts a client passes to ``decide(trace=...)``."""


def plain(value: Any) -> Any:
    """JSON data with every mapping turned into a ``dict`` and every sequence into a ``list``."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        return [plain(v) for v in value]
    return value


def trace_common(
    client: str,
    artifact: Artifact,
    request: DeliveryRequest,
    session_id: str | None,
    facts: Mapping[str, Any] | None,
    host_of: Any,
) -> dict[str, Any]:
    """The parts of the trace every response of one call shares (copied per response by :class:`Tracer`)."""
    art: dict[str, Any] = {}
    facts = facts or {}
    for key in TRACE_FACTS[:3]:
        if key in facts:
            art[key] = facts[key]
    art["artifactVersion"] = artifact.version
    for key in TRACE_FACTS[3:]:
        if key in facts:
            art[key] = facts[key]
    art.update(plain(artifact.meta))
    context = request.context
    address = context.address if context is not None else None
    url = address.url if address is not None else None
    browser = context.browser if context is not None else None
    host = browser.host if browser is not None and browser.host else host_of(url)
    req: dict[str, Any] = {}
    if session_id:
        req["sessionId"] = session_id
    req["pageURL"] = url if url is not None else ""
    req["host"] = host or ""
    return {
        "clientCode": client,
        "artifact": art,
        "profile": {"visitorId": unstructure(request.id) if request.id is not None else {}},
        "request": req,
    }


class Tracer:
    """Collects the trace of one mbox, view or page-load response."""

    __slots__ = ("_campaigns", "_environment", "_targets", "detail", "kind")

    def __init__(self, kind: str, detail: dict[str, Any], environment: Any) -> None:
        self.kind = kind  # "mbox" or "view" (a page load is traced as the global mbox, as Target does)
        self.detail = detail
        self._environment = environment
        self._campaigns: dict[Any, dict[str, Any]] = {}
        self._targets: dict[Any, dict[str, Any]] = {}

    def evaluated(self, rule: Rule, context: Mapping[str, Any], matched: bool) -> None:
        meta = rule.meta
        activity = rule.activity_id
        target = self._targets.get(activity)
        if target is None:
            target = self._targets[activity] = {
                "context": plain(context),
                "campaignId": activity,
                "campaignType": meta.get("activity.type"),
                "matchedSegmentIds": [],
                "unmatchedSegmentIds": [],
                "matchedRuleConditions": [],
                "unmatchedRuleConditions": [],
            }
        segments = target["matchedSegmentIds" if matched else "unmatchedSegmentIds"]
        for audience in rule.audience_ids:
            if audience not in segments:
                segments.append(audience)
        conditions = target["matchedRuleConditions" if matched else "unmatchedRuleConditions"]
        condition = plain(rule.condition_json)
        if condition not in conditions:  # the same audience in two locations of an activity is listed once
            conditions.append(condition)
        if matched and activity not in self._campaigns:
            offer = meta.get("offer.id")
            self._campaigns[activity] = {
                "id": activity,
                "campaignType": meta.get("activity.type"),
                "branchId": meta.get("experience.id"),
                "offers": [offer] if offer is not None else [],
                "environment": self._environment,
            }

    def notified(self, rule: Rule, notification: Notification) -> None:
        campaign = self._campaigns.get(rule.activity_id)
        if campaign is not None:
            campaign.setdefault("notifications", []).append(unstructure(notification))

    def result(self, common: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "clientCode": common["clientCode"],
            "artifact": dict(common["artifact"]),
            "profile": plain(common["profile"]),
            "request": {**common["request"], self.kind: self.detail},
            "campaigns": list(self._campaigns.values()),
            "evaluatedCampaignTargets": list(self._targets.values()),
        }
        return out
