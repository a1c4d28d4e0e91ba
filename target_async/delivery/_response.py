"""What a delivery call returns: :class:`TargetDeliveryResponse`, and :class:`Attributes` for get_attributes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .._exceptions import AttributeNotFoundError
from .._raw import raw
from ..models import DeliveryRequest, DeliveryResponse, MboxResponse, Option, OptionType
from ._cookies import TargetCookie, build_target_cookie, location_hint_cookie

if TYPE_CHECKING:
    from ._client import AsyncTargetClient

__all__ = [
    "Attributes",
    "DecisioningMeta",
    "DeliveryRawResponses",
    "TargetDeliveryResponse",
    "local_response",
    "server_response",
]


@attrs.frozen
class DecisioningMeta:
    """How the call was decided.

    Attributes:
        decisioning_method: the method actually used (``"server-side"``).
        remote_mboxes: mboxes that could not be decided on the device (always empty server-side).
        remote_views: views that could not be decided on the device (always empty server-side).
    """

    decisioning_method: str = "server-side"
    remote_mboxes: list[str] = attrs.field(factory=list)
    remote_views: list[str] = attrs.field(factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The official SDK's dict form."""
        return {
            "decisioning_method": self.decisioning_method,
            "remote_mboxes": list(self.remote_mboxes),
            "remote_views": list(self.remote_views),
        }


def _detail_groups(response: DeliveryResponse) -> Iterator[Any]:
    """Every decided page load, view and mbox of a response, in the documented order."""
    execute = response.execute
    if execute is not None:
        if execute.page_load is not None:
            yield execute.page_load
        yield from execute.mboxes or ()
    prefetch = response.prefetch
    if prefetch is not None:
        if prefetch.page_load is not None:
            yield prefetch.page_load
        yield from prefetch.views or ()
        yield from prefetch.mboxes or ()


@attrs.frozen
class TargetDeliveryResponse(Mapping[str, Any]):
    """The result of ``get_offers``/``send_notifications``.

    Besides attribute access it offers read-only mapping access for code written against Adobe's SDK:
    ``result["target_cookie"]`` (a cookie reads as ``{"name", "value", "maxAge"}``), ``result.get("meta")``.
    As there, keys whose value is None are absent.

    Attributes:
        response: the Delivery API response.
        request: the request actually sent.
        target_cookie: the ``mbox`` cookie to set in the browser.
        target_location_hint_cookie: the ``mboxEdgeCluster`` cookie, when an edge cluster is known.
        analytics_details: every ``analytics`` payload of the response (for client-side A4T), or None.
        trace: every ``trace`` object of the response, or None.
        response_tokens: every option's ``responseTokens``, or None.
        meta: how the call was decided.
        visitor_state: the visitor's state, when a ``visitor`` was passed.
    """

    response: DeliveryResponse
    request: DeliveryRequest
    target_cookie: TargetCookie | None
    target_location_hint_cookie: TargetCookie | None
    analytics_details: list[Any] | None
    trace: list[dict[str, Any]] | None
    response_tokens: list[dict[str, Any]] | None
    meta: DecisioningMeta
    visitor_state: Any = None

    @classmethod
    def build(
        cls,
        response: DeliveryResponse,
        request: DeliveryRequest,
        *,
        target_cookie: TargetCookie | None,
        location_hint_cookie: TargetCookie | None,
        meta: DecisioningMeta,
        visitor_state: Any = None,
    ) -> TargetDeliveryResponse:
        """Assemble the envelope, flattening analytics, trace and response tokens."""
        analytics: list[Any] = []
        traces: list[dict[str, Any]] = []
        tokens: list[dict[str, Any]] = []
        for group in _detail_groups(response):
            if group.analytics is not None:
                analytics.append(group.analytics)
            if group.trace is not None:
                traces.append(group.trace)
            tokens.extend(o.response_tokens for o in group.options or () if o.response_tokens is not None)
        return cls(
            response=response,
            request=request,
            target_cookie=target_cookie,
            target_location_hint_cookie=location_hint_cookie,
            analytics_details=analytics or None,
            trace=traces or None,
            response_tokens=tokens or None,
            meta=meta,
            visitor_state=visitor_state,
        )

    # -- typed shortcuts to the decisions ---------------------------------------------------------------------

    @property
    def mboxes(self) -> list[MboxResponse]:
        """Every decided mbox: the executed ones, then the prefetched ones (an empty list when there is none)."""
        execute, prefetch = self.response.execute, self.response.prefetch
        found: list[MboxResponse] = list(execute.mboxes or ()) if execute is not None else []
        if prefetch is not None:
            found.extend(prefetch.mboxes or ())
        return found

    def mbox(self, name: str) -> MboxResponse | None:
        """The decision for the mbox ``name`` (executed first, then prefetched), or None."""
        return next((m for m in self.mboxes if m.name == name), None)

    def options(self, name: str) -> list[Option]:
        """The options decided for the mbox ``name`` (an empty list when it got none)."""
        mbox = self.mbox(name)
        return list(mbox.options or ()) if mbox is not None else []

    def content(self, name: str, default: Any = None) -> Any:
        """The content of the first option decided for the mbox ``name``, else ``default``."""
        return next((o.content for o in self.options(name) if o.content is not None), default)

    # -- read-only mapping access (official SDK compatibility) --------------------------------------------

    _KEYS = (
        "response",
        "request",
        "visitor_state",
        "target_cookie",
        "target_location_hint_cookie",
        "analytics_details",
        "trace",
        "response_tokens",
        "meta",
    )

    def __getitem__(self, key: str) -> Any:
        if key not in self._KEYS:
            raise KeyError(key)
        value = getattr(self, key)
        if value is None:
            raise KeyError(key)
        if isinstance(value, TargetCookie | DecisioningMeta):
            return value.as_dict()
        return value

    def __iter__(self) -> Iterator[str]:
        return (key for key in self._KEYS if getattr(self, key) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _json_options(group: Any) -> Iterator[dict[str, Any]]:
    for option in group.options or ():
        if option.type == OptionType.JSON and isinstance(option.content, dict):
            yield option.content


@attrs.frozen
class Attributes:
    """The JSON offers of a ``get_attributes`` call, indexed by mbox name.

    Attributes:
        response: the full :class:`TargetDeliveryResponse`.
    """

    response: TargetDeliveryResponse
    _by_mbox: dict[str, dict[str, Any]] = attrs.field(alias="by_mbox")

    @classmethod
    def from_response(cls, response: TargetDeliveryResponse) -> Attributes:
        """Index every JSON option of the execute and prefetch mboxes, merging dicts per mbox name."""
        by_mbox: dict[str, dict[str, Any]] = {}
        delivery = response.response
        for part in (delivery.execute, delivery.prefetch):
            if part is None:
                continue
            for mbox in part.mboxes or ():
                if mbox.name is None:
                    continue
                for content in _json_options(mbox):
                    by_mbox.setdefault(mbox.name, {}).update(content)
        return cls(response=response, by_mbox=by_mbox)

    def get_value(self, mbox: str, key: str) -> Any:
        """The value of attribute ``key`` in ``mbox``.

        Raises:
            AttributeNotFoundError: (a ``KeyError``) when the mbox has no such attribute.
        """
        values = self._by_mbox.get(mbox)
        if values is None or key not in values:
            raise AttributeNotFoundError(f"Attribute '{key}' does not exist for mbox '{mbox}'")
        return values[key]

    def as_object(self, mbox: str | None = None) -> dict[str, Any]:
        """All attributes of ``mbox`` (a copy), or of every mbox keyed by name when ``mbox`` is None."""
        if mbox is None:
            return {name: dict(values) for name, values in self._by_mbox.items()}
        return dict(self._by_mbox.get(mbox, {}))

    def get_response(self) -> TargetDeliveryResponse:
        """The full response (official SDK name)."""
        return self.response


def _visitor_state(visitor: Any) -> Any:
    if visitor is not None and callable(getattr(visitor, "get_state", None)):
        return visitor.get_state()
    return None


def _tnt_id(response: DeliveryResponse, request: DeliveryRequest) -> str | None:
    return (response.id.tnt_id if response.id is not None else None) or (
        request.id.tnt_id if request.id is not None else None
    )


def server_response(
    delivery: DeliveryResponse, request: DeliveryRequest, session_id: str, cluster: str | None, visitor: Any
) -> TargetDeliveryResponse:
    """The result of a call the Delivery API decided (the last step of a server-side call)."""
    return TargetDeliveryResponse.build(
        delivery,
        request,
        target_cookie=build_target_cookie(session_id, _tnt_id(delivery, request)),
        location_hint_cookie=location_hint_cookie(cluster) if cluster else None,
        meta=DecisioningMeta("server-side"),
        visitor_state=_visitor_state(visitor),
    )


def local_response(decision: Any, session_id: str, cluster: str | None, visitor: Any) -> TargetDeliveryResponse:
    """The result of a call decided on the device (a :class:`~target_async.decisioning.Decision`)."""
    request: DeliveryRequest = decision.request
    answered: DeliveryResponse = decision.response
    return TargetDeliveryResponse.build(
        answered,
        request,
        target_cookie=build_target_cookie(session_id, _tnt_id(answered, request)),
        location_hint_cookie=location_hint_cookie(cluster) if cluster else None,
        meta=DecisioningMeta("on-device", list(decision.remote_mboxes), list(decision.remote_views)),
        visitor_state=_visitor_state(visitor),
    )


class DeliveryRawResponses:
    """``client.with_raw_response``: the calls of :class:`AsyncTargetClient` returning a
    :class:`~target_async.RawResponse` (status, headers, request id, ``parse()`` for the usual result).

    A call decided on the device has no HTTP answer: its ``status_code`` is None and ``headers`` empty.
    """

    def __init__(self, client: AsyncTargetClient) -> None:
        self.get_offers = raw(client.get_offers)
        self.send_notifications = raw(client.send_notifications)
        self.get_attributes = raw(client.get_attributes)
