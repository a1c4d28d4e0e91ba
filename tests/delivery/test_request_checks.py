"""Requests refused before anything is sent (issue #10)."""

from __future__ import annotations

import pytest

from target_async._exceptions import ValidationError
from target_async.models import (
    ChannelType,
    Context,
    CustomerId,
    DeliveryRequest,
    ExecuteRequest,
    MboxRequest,
    VisitorId,
)

from .conftest import Recorder


def execute_request(**kwargs) -> DeliveryRequest:
    return DeliveryRequest(
        context=Context(channel=ChannelType.WEB),
        execute=ExecuteRequest(mboxes=[MboxRequest(name="hero", index=1)]),
        **kwargs,
    )


@pytest.mark.parametrize(
    "option",
    [
        [{"id": "x", "integrationCode": "crm", "authenticatedState": "bogus"}],
        {"crm": {"id": "x", "authState": "bogus"}},
        [CustomerId(id="x", integration_code="crm", authenticated_state="bogus")],  # type: ignore[arg-type]
    ],
)
async def test_unknown_authenticated_state_in_option_is_refused(make_client, recorder: Recorder, option) -> None:
    with pytest.raises(ValidationError, match="authenticatedState must be one of authenticated, logged_out, unknown"):
        await make_client().get_offers(request=execute_request(), customer_ids=option)
    assert recorder.requests == []


async def test_unknown_authenticated_state_in_request_is_refused(make_client, recorder: Recorder) -> None:
    request = execute_request(
        id=VisitorId(customer_ids=[CustomerId(id="x", integration_code="crm", authenticated_state="nope")])  # type: ignore[arg-type]
    )
    with pytest.raises(ValidationError) as info:
        await make_client().get_offers(request=request)
    assert info.value.field == "customer_ids[0].authenticatedState"
    assert recorder.requests == []


async def test_known_authenticated_states_are_sent(make_client, recorder: Recorder) -> None:
    option = [{"id": "x", "integrationCode": "crm", "authenticatedState": "logged_out"}]
    await make_client().get_offers(request=execute_request(), customer_ids=option)
    assert recorder.last_json()["id"]["customerIds"][0]["authenticatedState"] == "logged_out"
