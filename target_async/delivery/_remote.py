"""Sending a prepared call to the Delivery API and reading its answer (the server-side step of a call)."""

from __future__ import annotations

from collections.abc import Mapping

from .._http import HTTPCore, decode_answer
from .._raw import record
from .._retry import RetryPolicy
from .._serde import converter, json_dumps
from ..models import DeliveryResponse, Telemetry
from ._request import Prepared

__all__ = ["send_to_server"]


async def send_to_server(
    http: HTTPCore,
    url: str,
    prepared: Prepared,
    *,
    base_query: Mapping[str, str],
    notifications: bool,
    telemetry: Telemetry | None = None,
    timeout: float | None = None,
    retries: RetryPolicy | None = None,
    headers: Mapping[str, str] | None = None,
) -> DeliveryResponse:
    """``POST {url}?imsOrgId…&sessionId…`` with the prepared request; the decoded answer.

    ``telemetry`` (on-device entries waiting for a ride) goes with the request unless it carries its own. Only a
    request that can count nothing twice (no execute, no notification) is retried on an ambiguous failure.
    ``timeout``, ``retries`` and ``headers`` are the call's (``with_options``, ``timeout=``), else the core's.

    Raises:
        ResponseDecodeError: the answer is not a readable delivery response (the request was sent).
        APIError: an error status; TransportError: the exchange failed.
    """
    request = prepared.request
    if telemetry is not None and request.telemetry is None:
        request.telemetry = telemetry
    query = {**base_query, "sessionId": prepared.session_id}
    body = json_dumps(converter.unstructure(request))
    idempotent = not notifications and request.execute is None and not request.notifications
    answer = await http.send(
        "POST",
        url,
        params=query,
        content=body,
        idempotent=idempotent,
        timeout=timeout,
        retries=retries,
        headers=headers or None,
    )
    record(answer)  # for with_raw_response
    if answer.status_code == 204:
        return DeliveryResponse(status=204)
    return decode_answer(answer, DeliveryResponse, what="delivery response")
