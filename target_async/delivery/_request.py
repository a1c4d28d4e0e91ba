"""Building the outgoing DeliveryRequest exactly as the official SDKs do, minus their defects.

Pure functions, no I/O. The caller's request object is never mutated: the request is first turned into a
private copy (which also validates every field's type), and only that copy is completed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from .._exceptions import ValidationError
from .._ids import request_id as new_request_id, session_id as new_session_id
from .._serde import CloneDoubt, clone, converter, strict_converter, structure
from ..models import (
    AnalyticsRequest,
    AudienceManager,
    AuthenticatedState,
    ChannelType,
    Context,
    CustomerId,
    DeliveryRequest,
    ExperienceCloud,
    LoggingType,
    Property,
    VisitorId,
)
from ._cookies import DEVICE_ID_COOKIE, SESSION_ID_COOKIE, parse_target_cookie

__all__ = ["Prepared", "copy_request", "finish_request", "merge_customer_ids", "prepare", "validate_request"]

if TYPE_CHECKING:
    from ._options import Call


@attrs.frozen(slots=True)
class Prepared:
    """A call's request completed for sending (the second step of every call).

    Attributes:
        request: the completed private request (ids, property, context, analytics logging, mbox indexes).
        session_id: the session: the ``mbox`` cookie's, else the ``session_id`` option, else a new one.
        device_id: the visitor's tntId from the ``PC`` cookie (it also names the visitor's edge cluster).
    """

    request: DeliveryRequest
    session_id: str
    device_id: str | None


def prepare(call: Call, *, property_token: str | None, environment_id: int | None) -> Prepared:
    """Read the call's cookies and complete its request (as the official SDKs' ``create_request``)."""
    cookies = parse_target_cookie(call.target_cookie)
    device_id = cookies.get(DEVICE_ID_COOKIE)
    finish_request(
        call.request,
        tnt_id=device_id,
        customer_ids=call.customer_ids,
        property_token=property_token,
        environment_id=environment_id,
        visitor=call.visitor,
        consumer_id=call.consumer_id,
    )
    session_id = cookies.get(SESSION_ID_COOKIE) or call.session_id or new_session_id()
    return Prepared(call.request, session_id, device_id)


_AUTH_STATES = {
    0: AuthenticatedState.UNKNOWN,
    1: AuthenticatedState.AUTHENTICATED,
    2: AuthenticatedState.LOGGED_OUT,
}
_NOTIFICATION_TYPES = ("click", "display")


def copy_request(request: Any, *, field: str = "request") -> DeliveryRequest:
    """A validated private copy of ``request`` (a DeliveryRequest or a dict in wire format).

    A wire dict is read strictly (an unknown key is most likely a typo and is refused); a model keeps whatever
    its ``extras`` hold, since the caller put them there on purpose.
    """
    if isinstance(request, DeliveryRequest):
        try:
            copied: DeliveryRequest = clone(request)  # the round trip, several times faster; a doubt takes it
            return copied
        except CloneDoubt:
            pass
        try:
            data = converter.unstructure(request)
        except (AttributeError, TypeError, ValueError) as exc:
            raise ValidationError(
                f"{field} holds a value of the wrong type (a dict where a model is expected?): {exc}",
                field=field,
            ) from exc
        return structure(data, DeliveryRequest, what=field)
    if isinstance(request, Mapping):
        return structure(request, DeliveryRequest, what=field, conv=strict_converter)
    raise ValidationError("Request object of type DeliveryRequest is required", field=field)


def validate_request(request: DeliveryRequest, *, notifications_required: bool = False) -> None:
    """The documented per-call checks (same messages as the official SDKs), plus field checks they skip."""
    execute = request.execute
    if execute is not None:
        if execute.page_load is None and not execute.mboxes:
            raise ValidationError("Either pageLoad or mboxes is required in execute", field="request.execute")
        _check_mboxes(execute.mboxes, "request.execute.mboxes")
    prefetch = request.prefetch
    if prefetch is not None:
        if prefetch.page_load is None and not prefetch.mboxes and not prefetch.views:
            raise ValidationError("Either views, pageLoad or mboxes is required in prefetch", field="request.prefetch")
        _check_mboxes(prefetch.mboxes, "request.prefetch.mboxes")
    if notifications_required and not request.notifications and request.telemetry is None:
        raise ValidationError("Notifications list is required in request", field="request.notifications")
    for i, note in enumerate(request.notifications or ()):
        where = f"request.notifications[{i}]"
        if not isinstance(note.id, str) or not note.id:
            raise ValidationError(f"Notification validation failed for: {where}.id must be a string", field=where)
        if isinstance(note.timestamp, bool) or not isinstance(note.timestamp, int):
            raise ValidationError(
                f"Notification validation failed for: {where}.timestamp must be an integer (ms)",
                field=f"{where}.timestamp",
            )
        if note.type not in _NOTIFICATION_TYPES:
            raise ValidationError(
                f"Notification validation failed for: {where}.type must be 'click' or 'display'",
                field=f"{where}.type",
            )


def _check_mboxes(mboxes: Sequence[Any] | None, where: str) -> None:
    for i, mbox in enumerate(mboxes or ()):
        if not mbox.name:
            raise ValidationError(f"Mbox validation failed for: {where}[{i}] has no name", field=f"{where}[{i}].name")


def merge_customer_ids(option: Any, own: list[CustomerId] | None) -> list[CustomerId] | None:
    """The ``customer_ids`` option (models, wire dicts, or the Visitor-style mapping
    ``{integrationCode: {"id", "authState"}}``) followed by the request's own ids."""
    if option is None:
        return own
    extra: list[CustomerId] = []
    if isinstance(option, Mapping):
        for code, value in option.items():
            if isinstance(value, Mapping):
                state = value.get("authState", value.get("authenticatedState", 0))
                auth = _AUTH_STATES.get(state, state) if isinstance(state, int) else state
                item = {"id": value.get("id"), "integrationCode": code, "authenticatedState": auth}
            else:
                item = {"id": value, "integrationCode": code, "authenticatedState": "unknown"}
            extra.append(structure(_wire(item), CustomerId, what=f"customer_ids.{code}"))
    elif isinstance(option, Sequence) and not isinstance(option, str):
        for i, value in enumerate(option):
            where = f"customer_ids[{i}]"
            if isinstance(value, CustomerId):
                extra.append(structure(converter.unstructure(value), CustomerId, what=where))
            elif isinstance(value, Mapping):
                extra.append(structure(_wire(value), CustomerId, what=where))
            else:
                raise ValidationError(f"{where} must be a CustomerId or a dict", field=where)
    else:
        raise ValidationError("customer_ids must be a list of CustomerId", field="customer_ids")
    return extra + list(own or ())


_AUTH_STATE_VALUES = frozenset(state.value for state in AuthenticatedState)


def _check_auth_states(ids: Sequence[CustomerId] | None) -> None:
    for i, customer in enumerate(ids or ()):
        state = customer.authenticated_state
        if state is not None and state not in _AUTH_STATE_VALUES:
            allowed = ", ".join(sorted(_AUTH_STATE_VALUES))
            raise ValidationError(
                f"customer_ids[{i}].authenticatedState must be one of {allowed}, got {state!r}",
                field=f"customer_ids[{i}].authenticatedState",
            )


def _wire(value: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(value)
    state = out.get("authenticatedState")
    if isinstance(state, AuthenticatedState):
        out["authenticatedState"] = state.value
    return out


_offset_cache: tuple[int, int] = (-1, 0)  # (minute since the epoch, offset): offsets change on a minute


def _local_offset_minutes() -> int:
    global _offset_cache
    minute = int(time.time()) // 60
    cached_minute, offset = _offset_cache
    if minute != cached_minute:
        offset = time.localtime(minute * 60).tm_gmtoff // 60
        _offset_cache = (minute, offset)
    return offset


def finish_request(
    request: DeliveryRequest,
    *,
    tnt_id: str | None,
    customer_ids: Any,
    property_token: str | None,
    environment_id: int | None,
    visitor: Any = None,
    consumer_id: str | None = None,
) -> DeliveryRequest:
    """Complete a private request copy in place (see the official SDKs' ``create_request``)."""
    if request.request_id is None:
        request.request_id = new_request_id()
    if request.environment_id is None and environment_id is not None:
        request.environment_id = environment_id

    visitor_values: Mapping[str, Any] = {}
    if visitor is not None and hasattr(visitor, "get_visitor_values"):
        visitor_values = visitor.get_visitor_values() or {}

    ident = request.id or VisitorId()
    if ident.tnt_id is None and tnt_id:
        ident.tnt_id = tnt_id
    if ident.marketing_cloud_visitor_id is None and visitor_values.get("MCMID"):
        ident.marketing_cloud_visitor_id = visitor_values["MCMID"]
    ident.customer_ids = merge_customer_ids(customer_ids, ident.customer_ids)
    _check_auth_states(ident.customer_ids)
    if any(v is not None for v in (ident.tnt_id, ident.marketing_cloud_visitor_id, ident.third_party_id)) or (
        ident.customer_ids
    ):
        request.id = ident

    token = request.property.token if request.property is not None else None
    if token is None and property_token is not None:
        request.property = Property(token=property_token)

    context = request.context or Context(channel=ChannelType.WEB)
    if context.channel not in (ChannelType.WEB, ChannelType.MOBILE):
        context.channel = ChannelType.WEB
    if context.time_offset_in_minutes is None:
        context.time_offset_in_minutes = _local_offset_minutes()
    if context.beacon is None:
        context.beacon = False
    request.context = context

    cloud = request.experience_cloud or ExperienceCloud()
    analytics = cloud.analytics or AnalyticsRequest()
    if analytics.logging is None:
        analytics.logging = LoggingType.SERVER_SIDE
    if analytics.supplemental_data_id is None and visitor is not None and consumer_id is not None:
        get_sdid = getattr(visitor, "get_supplemental_data_id", None)
        if callable(get_sdid):
            analytics.supplemental_data_id = get_sdid(consumer_id)
    cloud.analytics = analytics
    hint, blob = visitor_values.get("MCAAMLH"), visitor_values.get("MCAAMB")
    if cloud.audience_manager is None and (hint or blob):
        cloud.audience_manager = AudienceManager(
            location_hint=int(hint) if isinstance(hint, str) and hint.isascii() and hint.isdigit() else hint, blob=blob
        )
    request.experience_cloud = cloud

    for part in (request.execute, request.prefetch):
        if part is None:
            continue
        for position, mbox in enumerate(part.mboxes or ()):
            if mbox.index is None:
                mbox.index = position
    return request
