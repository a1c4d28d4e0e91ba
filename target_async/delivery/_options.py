"""Option names and validation shared by the async client and the sync facade."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import attrs

from .._exceptions import ConfigurationError, ValidationError
from .._suggest import unknown_options
from ..models import DeliveryRequest
from ._request import copy_request, validate_request

__all__ = [
    "CALL_OPTION_KEYS",
    "Call",
    "parse_call",
    "DeliveryOptions",
    "CREATE_OPTION_KEYS",
    "DECISIONING_METHODS",
    "INERT_CREATE_OPTIONS",
    "ON_DEVICE_OPTIONS",
    "check_decisioning_method",
    "create_options_to_kwargs",
    "is_options_mapping",
]

DECISIONING_METHODS = ("hybrid", "on-device", "server-side")

# The on-device options (API.md §2b), keywords of AsyncTargetClient and keys of the create dict.
ON_DEVICE_OPTIONS = frozenset(
    {
        "polling_interval",
        "artifact_location",
        "artifact_payload",
        "artifact_format",
        "environment",
        "cdn_environment",
        "cdn_base_path",
        "telemetry_enabled",
    }
)
# Documented TargetClient.create options accepted with no effect: the facade never blocks create() waiting for
# the artifact (use wait_until_ready() or the client_ready event).
INERT_CREATE_OPTIONS = frozenset({"maximum_wait_ready"})

CREATE_OPTION_KEYS = frozenset(
    {
        "client",
        "organization_id",
        "timeout",
        "server_domain",
        "secure",
        "target_location_hint",
        "logger",
        "decisioning_method",
        "environment_id",
        "version",
        "property_token",
        "events",
        # network settings the official SDK lacks
        "verify",
        "proxy",
        "http2",
        "max_connections",
        "retries",
        "max_response_size",
        # conventions of openai-python/httpx (#14)
        "base_url",
        "default_headers",
        "trust_env",
    }
    | ON_DEVICE_OPTIONS
    | INERT_CREATE_OPTIONS
)


class DeliveryOptions(TypedDict, total=False):
    """The documented per-call options besides ``request`` (keyword arguments of the async calls).

    Attributes:
        target_cookie: the raw ``mbox`` cookie value from the browser.
        target_location_hint: the edge cluster for this call (overrides the client-wide hint).
        consumer_id: with a ``visitor``: the consumer whose supplemental data id is sent.
        customer_ids: customer ids (``CustomerId`` models, wire dicts, or ``{code: {"id", "authState"}}``),
            sent before the request's own ``id.customerIds``.
        session_id: the session id when the cookie carries none.
        decisioning_method: ``"server-side"``, ``"on-device"`` or ``"hybrid"`` for this call.
        visitor: a Visitor-like object (``get_visitor_values()``, ``get_state()``,
            ``get_supplemental_data_id(consumer_id)``).
    """

    target_cookie: str | None
    target_location_hint: str | None
    consumer_id: str | None
    customer_ids: Any
    session_id: str | None
    decisioning_method: str | None
    visitor: Any


CALL_OPTION_KEYS = frozenset(
    {
        "request",
        "target_cookie",
        "target_location_hint",
        "consumer_id",
        "customer_ids",
        "session_id",
        "decisioning_method",
        "visitor",
    }
)
_CALLBACK_KEYS = frozenset({"callback", "err_callback"})


def is_options_mapping(value: object) -> bool:
    """Whether ``value`` is a per-call options mapping (rather than a request in wire format).

    ``request`` is no key of a DeliveryRequest, so a mapping that has it is an options mapping even when other
    keys are unknown (they are then reported as unknown options).
    """
    return isinstance(value, Mapping) and (
        "request" in value or all(isinstance(k, str) and (k in CALL_OPTION_KEYS or k in _CALLBACK_KEYS) for k in value)
    )


def check_decisioning_method(value: object, field: str) -> str:
    """Validate a decisioning method (``"server-side"``, ``"on-device"`` or ``"hybrid"``)."""
    if value not in DECISIONING_METHODS:
        raise ConfigurationError(
            "Invalid Decisioning Method.  Must be set to one of: " + ",".join(DECISIONING_METHODS),
            field=field,
        )
    return str(value)


def create_options_to_kwargs(options: Any) -> dict[str, Any]:
    """Validate a documented ``TargetClient.create`` dict and turn it into constructor keywords.

    ``timeout`` is converted from milliseconds to seconds; on-device-only options are dropped.
    """
    if not options:
        raise ConfigurationError("Options are required", field="options")
    if not isinstance(options, Mapping):
        raise ConfigurationError("Options must be a dict", field="options")
    unknown = sorted(str(k) for k in options if k not in CREATE_OPTION_KEYS)
    if unknown:
        raise ConfigurationError(unknown_options(unknown, CREATE_OPTION_KEYS), field=unknown[0])
    if not options.get("client"):
        raise ConfigurationError("Client is required", field="client")
    if not options.get("organization_id"):
        raise ConfigurationError("Organization Id is required", field="organization_id")
    kwargs = {k: v for k, v in options.items() if k not in INERT_CREATE_OPTIONS}
    if "timeout" in kwargs and kwargs["timeout"] is not None:
        timeout = kwargs["timeout"]
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigurationError("timeout must be a positive number of milliseconds", field="timeout")
        kwargs["timeout"] = timeout / 1000.0
    elif "timeout" in kwargs:
        del kwargs["timeout"]
    return kwargs


def refuse_callbacks(options: Mapping[str, Any]) -> None:
    """The async client has no callbacks: point to the facade instead."""
    present = sorted(_CALLBACK_KEYS.intersection(options))
    if present:
        raise ValidationError(
            f"'{present[0]}' is not supported by AsyncTargetClient (await the call instead); "
            "use target_async.TargetClient for callback-style calls",
            field=present[0],
        )


@attrs.frozen(slots=True)
class Call:
    """One delivery call's options, parsed and checked once (the first step of every call).

    Attributes:
        request: a private, validated copy of the caller's request (the caller's object is never changed).
        notifications: whether this is ``send_notifications`` (always server-side).
        method: the decisioning method of this call (the call's option, else the client's).
        target_cookie, location_hint, session_id, consumer_id, customer_ids, visitor: the documented options.
        timeout: this call's deadline in seconds (``timeout=`` of the call), else None (the client's).
    """

    request: DeliveryRequest
    notifications: bool
    method: str
    target_cookie: str | None = None
    location_hint: str | None = None
    session_id: str | None = None
    consumer_id: str | None = None
    customer_ids: Any = None
    visitor: Any = None
    timeout: float | None = None


def merge_call_options(request: Any, keywords: Mapping[str, Any]) -> dict[str, Any]:
    """The options of a call given either as keywords or as the documented mapping (its only argument)."""
    if is_options_mapping(request):
        assert isinstance(request, Mapping)
        if any(v is not None for v in keywords.values()):
            raise ValidationError("pass either an options mapping or keyword options, not both", field="options")
        refuse_callbacks(request)
        return dict(request)
    options = {k: v for k, v in keywords.items() if v is not None}
    options["request"] = request
    return options


def _opt_str(value: Any, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValidationError(f"{field} must be a string", field=field)


def parse_call(
    options: Mapping[str, Any],
    *,
    notifications: bool,
    default_method: str,
    copied: bool = False,
    timeout: float | None = None,
) -> Call:
    """Check a call's options and request (nothing is sent on a ValidationError) and freeze them.

    ``copied``: the request in ``options`` is already the call's private copy (``get_attributes``).
    ``timeout``: the call's checked ``timeout=`` in seconds, or None.
    """
    unknown = sorted(set(options) - CALL_OPTION_KEYS, key=str)
    if unknown:
        raise ValidationError(unknown_options(unknown, CALL_OPTION_KEYS), field=str(unknown[0]))
    raw = options.get("request")
    if raw is None:
        raise ValidationError("Request object of type DeliveryRequest is required", field="request")
    request: DeliveryRequest = raw if copied else copy_request(raw)
    method = options.get("decisioning_method")
    if method is not None and not notifications:
        check_decisioning_method(method, "decisioning_method")
    validate_request(request, notifications_required=notifications)
    return Call(
        request=request,
        notifications=notifications,
        method="server-side" if notifications else (method or default_method),
        target_cookie=_opt_str(options.get("target_cookie"), "target_cookie"),
        location_hint=_opt_str(options.get("target_location_hint"), "target_location_hint"),
        session_id=_opt_str(options.get("session_id"), "session_id"),
        consumer_id=_opt_str(options.get("consumer_id"), "consumer_id"),
        customer_ids=options.get("customer_ids"),
        visitor=options.get("visitor"),
        timeout=timeout,
    )
