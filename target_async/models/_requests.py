"""The Delivery API request models: execute, prefetch, notifications, telemetry (re-exported by :mod:`.delivery`)."""

from __future__ import annotations

from typing import Any

import attrs

from ._context import (
    Address,
    Context,
    ExperienceCloud,
    Order,
    Parameters,
    Preview,
    Product,
    Property,
    QAMode,
    Trace,
    VisitorId,
    _extras,
)
from ._delivery_enums import DecisioningMethod, ExecutionMode, MetricType

# --- execute, prefetch and notifications --------------------------------------------------------------------


@attrs.define(kw_only=True)
class RequestDetails:
    """The details common to prefetch, execute and notifications: address, parameters, order, product."""

    address: Address | None = None
    parameters: Parameters | None = None
    profile_parameters: Parameters | None = None
    order: Order | None = None
    product: Product | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class MboxRequest(RequestDetails):
    """A regional mbox request: the request details plus the mbox ``name`` and its ``index`` in the list."""

    index: int | None = None
    name: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class ViewRequest(RequestDetails):
    """A view request: the request details plus the view ``name`` and ``key``."""

    name: str | None = None
    key: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class ExecuteRequest:
    """The part of the request evaluated immediately; impressions are counted."""

    page_load: RequestDetails | None = None
    mboxes: list[MboxRequest] | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class PrefetchRequest:
    """The content to prefetch: ``views``, ``page_load`` and/or ``mboxes``."""

    views: list[ViewRequest] | None = None
    page_load: RequestDetails | None = None
    mboxes: list[MboxRequest] | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class NotificationMbox:
    """The regional mbox a notification is for."""

    name: str | None = None
    state: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class NotificationView:
    """The view a notification is for."""

    name: str | None = None
    key: str | None = None
    state: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class NotificationPageLoad:
    """Marks a display notification for prefetched page-load content."""

    state: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Notification(RequestDetails):
    """A display or click notification for prefetched content (mbox, view or page load)."""

    id: str | None = None
    impression_id: str | None = None
    type: MetricType | None = None
    timestamp: int | None = None
    tokens: list[str] | None = None
    mbox: NotificationMbox | None = None
    view: NotificationView | None = None
    page_load: NotificationPageLoad | None = None
    extras: dict[str, Any] = _extras()


# --- telemetry ----------------------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class TelemetryFeatures:
    """The SDK features a request used."""

    decisioning_method: DecisioningMethod | None = None
    execute_mbox_count: int | None = None
    execute_page_load: bool | None = None
    prefetch_mbox_count: int | None = None
    prefetch_page_load: bool | None = None
    prefetch_view_count: int | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class TelemetryRequest:
    """The network timings and size of a request to Target or the CDN."""

    dns: float | None = None
    tls: float | None = None
    time_to_first_byte: float | None = None
    download: float | None = None
    response_size: int | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class TelemetryEntry:
    """The telemetry of one earlier request."""

    request_id: str | None = None
    timestamp: int | None = None
    mode: ExecutionMode | None = None
    execution: float | None = None
    parsing: float | None = None
    features: TelemetryFeatures | None = None
    request: TelemetryRequest | None = None
    telemetry_server_token: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Telemetry:
    """The telemetry entries sent with a request."""

    entries: list[TelemetryEntry] | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class DeliveryRequest:
    """The body of a Delivery API request."""

    request_id: str | None = None
    impression_id: str | None = None
    id: VisitorId | None = None
    environment_id: int | None = None
    property: Property | None = None
    trace: Trace | None = None
    context: Context | None = None
    experience_cloud: ExperienceCloud | None = None
    execute: ExecuteRequest | None = None
    prefetch: PrefetchRequest | None = None
    telemetry: Telemetry | None = None
    notifications: list[Notification] | None = None
    qa_mode: QAMode | None = None
    preview: Preview | None = None
    extras: dict[str, Any] = _extras()
