"""What one decision is made of: the :class:`Decision` it returns, and the per-call state (``_Call``: the visitor,
the clock, allocation, the rule context, evaluation, notifications) the engine threads through a request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from .._serde import unstructure
from ..models import (
    AuthenticatedState,
    DeliveryRequest,
    DeliveryResponse,
    MetricType,
    Notification,
    NotificationMbox,
    RequestDetails,
    Telemetry,
    TelemetryEntry,
    VisitorId,
)
from ._artifact import Rule
from ._context import (
    allocation,
    new_id,
)
from ._shape import Shaped
from ._trace import Tracer
from ._url import unflatten_parameters, url_context

__all__ = ["Decision"]

ON_DEVICE = "on-device"


@attrs.frozen(kw_only=True)
class Decision:
    """What :meth:`DecisionEngine.decide` decided.

    Attributes:
        request: the prepared request (ids and ``requestId`` filled in, §3); the caller's request is not changed.
        response: the Delivery API response body (status 200, or 206 when part of the request is remote).
        remote_mboxes, remote_views: what this artifact cannot decide (sorted); empty for a 200.
        notifications: the display notifications to send for the execute part (§8), in request order.
        telemetry: this call's telemetry entry, or ``None`` when telemetry is off.
        decisioning_method: ``"on-device"``.
    """

    request: DeliveryRequest
    response: DeliveryResponse
    remote_mboxes: tuple[str, ...] = ()
    remote_views: tuple[str, ...] = ()
    notifications: list[Notification] = attrs.field(factory=list)
    telemetry: TelemetryEntry | None = None
    decisioning_method: str = ON_DEVICE

    @property
    def status(self) -> int:
        """The response status: 200, or 206 when some mboxes or views must be decided by the Delivery API."""
        return self.response.status or 200

    def notification_request(self, *, request_id: str | None = None, telemetry: bool = True) -> DeliveryRequest | None:
        """The Delivery API request that reports this decision (§8), or ``None`` when there is nothing to send.

        It carries the prepared visitor ``id``, the request's ``context`` and ``experienceCloud``, the display
        ``notifications`` and the ``telemetry`` entry (sent even without a notification). ``telemetry=False``
        leaves the entry out of the body, for a sender that batches telemetry entries itself.
        """
        if not self.notifications and self.telemetry is None:
            return None
        req = self.request
        return DeliveryRequest(
            request_id=request_id,
            id=req.id,
            context=req.context,
            experience_cloud=req.experience_cloud,
            notifications=list(self.notifications) if self.notifications else None,
            telemetry=Telemetry(entries=[self.telemetry]) if telemetry and self.telemetry is not None else None,
        )


def _identified(ids: VisitorId | None) -> bool:
    if ids is None:
        return False
    if ids.tnt_id or ids.marketing_cloud_visitor_id or ids.third_party_id:
        return True
    for customer in ids.customer_ids or ():
        if customer.id and customer.authenticated_state == AuthenticatedState.AUTHENTICATED:
            return True
    return False


def _host(url: str | None) -> str:
    if not url:
        return ""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _detail_wire(detail: RequestDetails | None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = dict(unstructure(detail)) if detail is not None else {}
    out.update(extra)
    return out


class _Call:
    """The state of one ``decide`` call: the context, the allocation memo, the notifications."""

    __slots__ = (
        "alloc",
        "base",
        "client",
        "common",
        "geo",
        "geo_tokens",
        "notifications",
        "now_ms",
        "seen",
        "token",
        "traced",
        "visitor",
    )

    def __init__(self, client: str, token: str | None, now_ms: int, traced: bool) -> None:
        self.client = client
        self.token = token
        self.now_ms = now_ms
        self.traced = traced
        self.alloc: dict[Any, float] = {}
        self.visitor: str | None = None
        self.notifications: list[Notification] = []
        self.seen: set[tuple[str, tuple[str, ...]]] = set()
        self.base: dict[str, Any] = {}
        self.geo: dict[str, Any] = {}
        self.geo_tokens: dict[str, Any] | None = None
        self.common: dict[str, Any] | None = None

    def allocation(self, activity_id: Any) -> float:
        value = self.alloc.get(activity_id)
        if value is None:
            visitor = self.visitor
            if visitor is None:  # no usable id: one random id for the whole request, never one per rule
                visitor = self.visitor = new_id()
            value = self.alloc[activity_id] = allocation(self.client, activity_id, visitor)
        return value

    def rule_context(self, detail: RequestDetails | None, reads: frozenset[str]) -> dict[str, Any]:
        ctx = dict(self.base)
        params = detail.parameters if detail is not None else None
        ctx["mbox"] = unflatten_parameters(params) if params and "mbox" in reads else {}
        address = detail.address if detail is not None else None
        if address is not None:  # a detail with its own address has its own page (§4)
            if address.url and "page" in reads:
                ctx["page"] = url_context(address.url)
            if address.referring_url and "referring" in reads:
                ctx["referring"] = url_context(address.referring_url)
        return ctx

    def evaluate(
        self, rules: tuple[Rule, ...], ctx: dict[str, Any], first: bool, tracer: Tracer | None, seen: set[str] | None
    ) -> list[Rule]:
        """The satisfied rules: the first one only (an mbox), or all of them deduplicated by rule key."""
        matched: list[Rule] = []
        traced = self.traced
        for rule in rules:
            if seen is not None and rule.key in seen:
                continue
            if rule.reads_allocation or traced:
                ctx["allocation"] = self.allocation(rule.activity_id)
            try:
                ok = bool(rule.condition(ctx))
            except Exception:  # a condition that fails on this request's data is not satisfied
                ok = False
            if tracer is not None:
                try:
                    tracer.evaluated(rule, ctx, ok)
                except Exception:
                    pass
            if ok:
                matched.append(rule)
                if first:
                    break
                if seen is not None:
                    seen.add(rule.key)
        return matched

    def notify(self, name: str, shaped: Shaped, rule: Rule, tracer: Tracer | None) -> None:
        tokens = shaped.tokens
        if not tokens:
            return
        key = (name, tokens)
        if key in self.seen:
            return
        self.seen.add(key)
        notification = Notification(
            id=new_id(),
            impression_id=new_id(),
            timestamp=self.now_ms,
            type=MetricType.DISPLAY,
            mbox=NotificationMbox(name=name),
            tokens=list(tokens),
        )
        self.notifications.append(notification)
        if tracer is not None:
            try:
                tracer.notified(rule, notification)
            except Exception:
                pass


def _copy_ids(ids: VisitorId) -> VisitorId:
    customers = ids.customer_ids
    return VisitorId(
        tnt_id=ids.tnt_id,
        third_party_id=ids.third_party_id,
        marketing_cloud_visitor_id=ids.marketing_cloud_visitor_id,
        customer_ids=list(customers) if customers is not None else None,
        extras=ids.extras,
    )


def _hints(hints: Any) -> Mapping[str, Any] | None:
    if hints is None:
        return None
    value = unstructure(hints)
    return value if value else None
