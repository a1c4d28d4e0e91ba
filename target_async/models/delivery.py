"""attrs models for every schema of the Adobe Target Delivery API spec (``POST /rest/v1/delivery``).

Conventions:

* one mutable, slotted, keyword-only attrs class per object schema, named as in the spec; attribute
  names are snake_case and map to the camelCase wire keys by the rule of :mod:`target_async._serde`
  (irregular keys such as ``browserUAWithMajorVersion`` are listed in the class's ``__wire_names__``);
* every field defaults to ``None`` and ``None`` is left out of the JSON, so
  ``MboxRequest(name="m", index=1)`` sends exactly ``{"name": "m", "index": 1}``. Fields the spec marks
  required are not enforced here: requests are checked when they are sent, and responses are taken as
  the server wrote them;
* an ``allOf`` composition is a subclass: ``MboxRequest``, ``ViewRequest`` and ``Notification`` extend
  ``RequestDetails``, ``PrefetchMboxResponse`` extends ``MboxResponse``;
* the last field of every class, ``extras``, holds the keys of a payload that the model does not know;
  the converter writes them back, so data the server sent is never lost (the strict converter rejects
  them);
* schemas that are free-form maps (``Parameters``, ``ResponseTokens``, ``TraceResponse``) are ``dict``
  aliases; ``Option.content`` is ``Any`` because its shape (HTML string, JSON object, list of ``Action``
  objects) depends on ``Option.type``: ``converter.structure(option.content, list[Action])`` gives
  typed actions;
* enums are ``str`` enums (:mod:`._delivery_enums`); a value this SDK does not know stays a plain ``str``;
* the ``$_type`` discriminator property of ``RequestDetails`` and ``MboxResponse`` is an artifact of the
  spec's code generator, not a wire field, and has no attribute.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeAlias

import attrs

from ._delivery_enums import (
    AuthenticatedState,
    ChannelType,
    DecisioningMethod,
    DeviceType,
    ExecutionMode,
    LoggingType,
    MetricType,
    MobilePlatformType,
    OptionType,
    ScreenOrientationType,
)

__all__ = [
    "ABTOrder",
    "Action",
    "Address",
    "AnalyticsPayload",
    "AnalyticsRequest",
    "AnalyticsResponse",
    "Application",
    "AudienceManager",
    "AuthenticatedState",
    "Browser",
    "ChannelType",
    "ClientHints",
    "Context",
    "CustomerId",
    "DecisioningMethod",
    "DeliveryRequest",
    "DeliveryResponse",
    "DeviceType",
    "ExecuteRequest",
    "ExecuteResponse",
    "ExecutionMode",
    "ExperienceCloud",
    "Geo",
    "LoggingType",
    "MboxRequest",
    "MboxResponse",
    "Metric",
    "MetricType",
    "MobilePlatform",
    "MobilePlatformType",
    "Notification",
    "NotificationMbox",
    "NotificationPageLoad",
    "NotificationResponse",
    "NotificationView",
    "Option",
    "OptionType",
    "Order",
    "PageLoadResponse",
    "Parameters",
    "PrefetchMboxResponse",
    "PrefetchRequest",
    "PrefetchResponse",
    "Preview",
    "Product",
    "Property",
    "QAMode",
    "QAModePreviewIndex",
    "RequestDetails",
    "ResponseTokens",
    "Screen",
    "ScreenOrientationType",
    "Telemetry",
    "TelemetryEntry",
    "TelemetryFeatures",
    "TelemetryRequest",
    "Trace",
    "TraceResponse",
    "UnexpectedError",
    "View",
    "ViewRequest",
    "VisitorId",
    "Window",
]

Parameters: TypeAlias = dict[str, str]
"""Mbox or profile parameters: name -> value (at most 50; names not blank, values up to 5000 characters)."""

ResponseTokens: TypeAlias = dict[str, Any]
"""Response token name -> value (usually a string, a list of strings for category affinity)."""

TraceResponse: TypeAlias = dict[str, Any]
"""The trace data of a request, present only when a trace token was sent."""


def _extras() -> Any:
    # The last field of every model: the payload keys the model does not know (see the module docstring).
    return attrs.field(factory=dict, eq=False, repr=False)


# --- common components --------------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class CustomerId:
    """A customer id (with its CRS integration code and authentication state) linked to the visitor."""

    id: str | None = None
    integration_code: str | None = None
    authenticated_state: AuthenticatedState | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class VisitorId:
    """The identifiers of the visitor; Target generates a ``tnt_id`` when none is given."""

    tnt_id: str | None = None
    third_party_id: str | None = None
    marketing_cloud_visitor_id: str | None = None
    customer_ids: list[CustomerId] | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Order:
    """The details of an order."""

    id: str | None = None
    total: float | None = None
    purchased_product_ids: list[str] | None = None
    time: str | None = None
    experience_local_id: int | None = None
    duplicate: bool | None = None
    outlier: bool | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class ABTOrder:
    """The details of an order for ABT activities."""

    id: str | None = None
    decision_stack_id: int | None = None
    total: float | None = None
    time: str | None = None
    product_ids: list[int] | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Product:
    """A product and its category."""

    id: str | None = None
    category_id: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Preview:
    """Enables the Preview mode of the request."""

    token: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class QAModePreviewIndex:
    """Selects an activity of the QA-mode token (1-based) and optionally one of its experiences."""

    activity_index: int | None = None
    experience_index: int | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class QAMode:
    """Enables the QA mode of the request: activities of the token, forced audiences, selected experiences."""

    token: str | None = None
    listed_activities_only: bool | None = None
    evaluate_as_true_audience_ids: list[int] | None = None
    evaluate_as_false_audience_ids: list[int] | None = None
    preview_indexes: list[QAModePreviewIndex] | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class UnexpectedError:
    """The body of an error answer: the HTTP status and a message."""

    status: int | None = None
    message: str | None = None
    extras: dict[str, Any] = _extras()


# --- request context ----------------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class MobilePlatform:
    """The mobile platform; should be given when the channel is mobile."""

    device_name: str | None = None
    device_type: DeviceType | None = None
    platform_type: MobilePlatformType | None = None
    version: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Application:
    """The application identifiers; when given, they must match the activity's."""

    id: str | None = None
    name: str | None = None
    version: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Screen:
    """The properties of the screen."""

    width: float | None = None
    height: float | None = None
    color_depth: float | None = None
    pixel_ratio: float | None = None
    orientation: ScreenOrientationType | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Window:
    """The dimensions of the window."""

    width: float | None = None
    height: float | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Browser:
    """The browser; may be given only when the channel is web."""

    __wire_names__: ClassVar[dict[str, str]] = {"web_gl_renderer": "webGLRenderer"}

    host: str | None = None
    language: str | None = None
    web_gl_renderer: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Address:
    """The current URL and the referring URL."""

    url: str | None = None
    referring_url: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Geo:
    """Geo data; when absent and Geo is enabled for the client, it is resolved from the user's IP."""

    ip_address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    country_code: str | None = None
    state_code: str | None = None
    city: str | None = None
    zip: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class ClientHints:
    """User-agent client hints (``Sec-CH-UA-*``); used in place of the user agent when given."""

    __wire_names__: ClassVar[dict[str, str]] = {
        "browser_ua_with_major_version": "browserUAWithMajorVersion",
        "browser_ua_with_full_version": "browserUAWithFullVersion",
    }

    mobile: bool | None = None
    model: str | None = None
    platform: str | None = None
    platform_version: str | None = None
    browser_ua_with_major_version: str | None = None
    browser_ua_with_full_version: str | None = None
    architecture: str | None = None
    bitness: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Context:
    """The context of the request: channel, device, browser, address, geo, user agent."""

    channel: ChannelType | None = None
    mobile_platform: MobilePlatform | None = None
    application: Application | None = None
    screen: Screen | None = None
    window: Window | None = None
    browser: Browser | None = None
    address: Address | None = None
    geo: Geo | None = None
    time_offset_in_minutes: float | None = None
    user_agent: str | None = None
    client_hints: ClientHints | None = None
    beacon: bool | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Property:
    """The at_property token that scopes the delivery."""

    token: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Trace:
    """Enables the trace of the request."""

    authorization_token: str | None = None
    usage: dict[str, str] | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class AudienceManager:
    """The Audience Manager (AAM) integration: DCS location hint and blob."""

    location_hint: int | None = None
    blob: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class AnalyticsRequest:
    """The Adobe Analytics (A4T) integration."""

    supplemental_data_id: str | None = None
    logging: LoggingType | None = None
    tracking_server: str | None = None
    tracking_server_secure: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class ExperienceCloud:
    """The integrations with Audience Manager and Analytics."""

    audience_manager: AudienceManager | None = None
    analytics: AnalyticsRequest | None = None
    extras: dict[str, Any] = _extras()


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
