"""A Delivery answer that cannot be read is a typed error that says the request was sent (issue #10)."""

from __future__ import annotations

import httpx
import pytest

from target_async._exceptions import RedirectError, ResponseDecodeError
from target_async.models import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest

from .conftest import Recorder


def execute_request() -> DeliveryRequest:
    return DeliveryRequest(
        context=Context(channel=ChannelType.WEB), execute=ExecuteRequest(mboxes=[MboxRequest(name="a", index=1)])
    )


@pytest.mark.parametrize(
    "body", [b"<html>proxy error</html>", b'{"status": 200, "execute": ', b"[1, 2]", b"", b'"text"']
)
async def test_unreadable_200_is_a_response_decode_error(make_client, recorder: Recorder, body: bytes) -> None:
    recorder.answer = lambda r: httpx.Response(200, content=body, headers={"x-request-id": "rid-1"})
    with pytest.raises(ResponseDecodeError, match="the request was sent") as info:
        await make_client().get_offers(request=execute_request())
    assert info.value.status == 200
    assert info.value.request_id == "rid-1"
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("status", [301, 302, 304, 307])
async def test_3xx_is_an_api_error_and_not_followed(make_client, recorder: Recorder, status: int) -> None:
    recorder.answer = lambda r: httpx.Response(status, headers={"location": "https://evil.example/steal"})
    with pytest.raises(RedirectError):
        await make_client().get_offers(request=execute_request())
    assert [str(r.url.host) for r in recorder.requests] == ["acmeclient.tt.omtrdc.net"]
