"""The Delivery API response models (re-exported by :mod:`.delivery`)."""

from __future__ import annotations

from typing import Any

import attrs

from ._context import ResponseTokens, TraceResponse, VisitorId, _extras
from ._delivery_enums import MetricType, OptionType

# --- response -----------------------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class AnalyticsPayload:
    """The A4T payload to send to Analytics after the content was applied (client-side integration)."""

    pe: str | None = None
    tnta: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class AnalyticsResponse:
    """The Analytics payload of a response part."""

    payload: AnalyticsPayload | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Action:
    """One action of an ``actions`` option (from offers with templates and visual offers)."""

    type: str | None = None
    selector: str | None = None
    css_selector: str | None = None
    content: Any = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Option:
    """Content returned by an activity; the shape of ``content`` depends on ``type``."""

    type: OptionType | None = None
    content: Any = None
    event_token: str | None = None
    response_tokens: ResponseTokens | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Metric:
    """A click or display metric, with the event token to notify when it happens."""

    type: MetricType | None = None
    selector: str | None = None
    event_token: str | None = None
    analytics: AnalyticsResponse | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class MboxResponse:
    """The response for one requested mbox, correlated by ``index``."""

    index: int | None = None
    name: str | None = None
    options: list[Option] | None = None
    metrics: list[Metric] | None = None
    analytics: AnalyticsResponse | None = None
    trace: TraceResponse | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class PrefetchMboxResponse(MboxResponse):
    """A prefetched mbox: the mbox response plus the ``state`` token for its display notification."""

    state: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class PageLoadResponse:
    """The result of executing or prefetching the page load (selectors not tied to a view)."""

    options: list[Option] | None = None
    metrics: list[Metric] | None = None
    analytics: AnalyticsResponse | None = None
    state: str | None = None
    trace: TraceResponse | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class View:
    """The options and metrics of a prefetched view."""

    name: str | None = None
    key: str | None = None
    options: list[Option] | None = None
    metrics: list[Metric] | None = None
    analytics: AnalyticsResponse | None = None
    state: str | None = None
    trace: TraceResponse | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class ExecuteResponse:
    """The responses to the execute ``page_load`` and ``mboxes``."""

    page_load: PageLoadResponse | None = None
    mboxes: list[MboxResponse] | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class PrefetchResponse:
    """The prefetched content: views, page load, mboxes and view-less metrics."""

    views: list[View] | None = None
    page_load: PageLoadResponse | None = None
    mboxes: list[PrefetchMboxResponse] | None = None
    metrics: list[Metric] | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class NotificationResponse:
    """The result of a processed notification."""

    id: str | None = None
    trace: TraceResponse | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class DeliveryResponse:
    """The body of a Delivery API response."""

    status: int | None = None
    request_id: str | None = None
    id: VisitorId | None = None
    client: str | None = None
    edge_host: str | None = None
    execute: ExecuteResponse | None = None
    prefetch: PrefetchResponse | None = None
    notifications: list[NotificationResponse] | None = None
    telemetry_server_token: str | None = None
    extras: dict[str, Any] = _extras()
