"""The Delivery API models shared by requests and responses: ids, orders, products, the request context.

Re-exported by :mod:`.delivery`.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeAlias

import attrs

from ._delivery_enums import (
    AuthenticatedState,
    ChannelType,
    DeviceType,
    LoggingType,
    MobilePlatformType,
    ScreenOrientationType,
)

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
