"""Typed shortcuts to a response's decisions (issue #14 item 4): no Optional-chasing for the common reads."""

from __future__ import annotations

from target_async.delivery import TargetDeliveryResponse
from target_async.delivery._response import DecisioningMeta
from target_async.models import (
    DeliveryRequest,
    DeliveryResponse,
    ExecuteResponse,
    MboxResponse,
    Option,
    PrefetchMboxResponse,
    PrefetchResponse,
)


def build(response: DeliveryResponse) -> TargetDeliveryResponse:
    return TargetDeliveryResponse.build(
        response, DeliveryRequest(), target_cookie=None, location_hint_cookie=None, meta=DecisioningMeta()
    )


def test_mboxes_options_and_content() -> None:
    result = build(
        DeliveryResponse(
            execute=ExecuteResponse(
                mboxes=[
                    MboxResponse(name="hero", options=[Option(content=None), Option(content={"color": "red"})]),
                    MboxResponse(name="empty"),
                ]
            ),
            prefetch=PrefetchResponse(mboxes=[PrefetchMboxResponse(name="later", options=[Option(content="<b>")])]),
        )
    )
    assert [m.name for m in result.mboxes] == ["hero", "empty", "later"]
    assert result.content("hero") == {"color": "red"}
    assert result.content("later") == "<b>"
    assert result.content("empty", "fallback") == "fallback"
    assert result.content("missing") is None
    assert result.options("missing") == []
    assert result.mbox("hero") is result.response.execute.mboxes[0]  # type: ignore[union-attr,index]


def test_nothing_decided() -> None:
    result = build(DeliveryResponse(status=200))
    assert result.mboxes == []
    assert result.mbox("x") is None
    assert dict(result)["meta"] == {"decisioning_method": "server-side", "remote_mboxes": [], "remote_views": []}
