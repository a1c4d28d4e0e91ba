"""The enums of the Delivery API spec: ``str`` enums whose values are the exact wire strings.

``ChannelType.WEB == "web"``, so a member can be used wherever the API takes a string. A value the server
sends that this SDK does not know yet is kept as a plain ``str`` by the lenient converter (the strict one
rejects it).
"""

from __future__ import annotations

from .._types import WireEnum

__all__ = [
    "AuthenticatedState",
    "ChannelType",
    "DecisioningMethod",
    "DeviceType",
    "ExecutionMode",
    "LoggingType",
    "MetricType",
    "MobilePlatformType",
    "OptionType",
    "ScreenOrientationType",
]


class ChannelType(WireEnum):
    """The channel of the request; only activities of the matching channel are evaluated."""

    MOBILE = "mobile"
    WEB = "web"


class DeviceType(WireEnum):
    """The device type; mandatory when a mobile platform is given."""

    PHONE = "phone"
    TABLET = "tablet"


class MobilePlatformType(WireEnum):
    """The mobile platform; only activities of that platform are evaluated."""

    ANDROID = "android"
    IOS = "ios"


class ScreenOrientationType(WireEnum):
    """The screen orientation; when given, only activities with that orientation are evaluated."""

    PORTRAIT = "portrait"
    LANDSCAPE = "landscape"


class LoggingType(WireEnum):
    """Whether the Analytics (A4T) integration is done client side or server side."""

    SERVER_SIDE = "server_side"
    CLIENT_SIDE = "client_side"


class OptionType(WireEnum):
    """The kind of content an option carries."""

    HTML = "html"
    JSON = "json"
    REDIRECT = "redirect"
    DYNAMIC = "dynamic"
    ACTIONS = "actions"


class MetricType(WireEnum):
    """The type of a metric or of a notification: a click or a display."""

    CLICK = "click"
    DISPLAY = "display"


class AuthenticatedState(WireEnum):
    """The authentication state of a customer id."""

    UNKNOWN = "unknown"
    AUTHENTICATED = "authenticated"
    LOGGED_OUT = "logged_out"


class DecisioningMethod(WireEnum):
    """Where decisions are made: on Target's edge, on the device, or both."""

    SERVER_SIDE = "server-side"
    ON_DEVICE = "on-device"
    HYBRID = "hybrid"


class ExecutionMode(WireEnum):
    """Where a request was executed (telemetry): on the edge or locally."""

    EDGE = "edge"
    LOCAL = "local"
