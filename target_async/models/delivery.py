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

from ._context import (
    ABTOrder,
    Address,
    AnalyticsRequest,
    Application,
    AudienceManager,
    Browser,
    ClientHints,
    Context,
    CustomerId,
    ExperienceCloud,
    Geo,
    MobilePlatform,
    Order,
    Parameters,
    Preview,
    Product,
    Property,
    QAMode,
    QAModePreviewIndex,
    ResponseTokens,
    Screen,
    Trace,
    TraceResponse,
    UnexpectedError,
    VisitorId,
    Window,
)
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
from ._requests import (
    DeliveryRequest,
    ExecuteRequest,
    MboxRequest,
    Notification,
    NotificationMbox,
    NotificationPageLoad,
    NotificationView,
    PrefetchRequest,
    RequestDetails,
    Telemetry,
    TelemetryEntry,
    TelemetryFeatures,
    TelemetryRequest,
    ViewRequest,
)
from ._responses import (
    Action,
    AnalyticsPayload,
    AnalyticsResponse,
    DeliveryResponse,
    ExecuteResponse,
    MboxResponse,
    Metric,
    NotificationResponse,
    Option,
    PageLoadResponse,
    PrefetchMboxResponse,
    PrefetchResponse,
    View,
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
