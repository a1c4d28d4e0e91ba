"""The suite's one harness (tests/conftest.py) and the public Recorder it gives (target_async.testing)."""

from __future__ import annotations

import httpx
import pytest
import sniffio

from target_async import AsyncTargetClient, ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest
from target_async._retry import RetryPolicy
from target_async.testing import Recorder


def _request() -> DeliveryRequest:
    return DeliveryRequest(
        context=Context(channel=ChannelType.WEB), execute=ExecuteRequest(mboxes=[MboxRequest(name="m", index=0)])
    )


async def test_recorder_answers_from_its_queue_then_with_its_function() -> None:
    recorder = Recorder().then(httpx.Response(503), lambda request: httpx.Response(201, json={"to": request.url.path}))
    async with httpx.AsyncClient(transport=recorder.transport(), base_url="http://wire.test") as client:
        first = await client.post("/a", json={"n": 1})
        second = await client.post("/b", json={"n": 2})
        third = await client.get("/c")
        recorder.answer = lambda request: httpx.Response(418)
        fourth = await client.get("/d")
    assert [first.status_code, second.status_code, third.status_code, fourth.status_code] == [503, 201, 200, 418]
    assert second.json() == {"to": "/b"} and third.json() == {}
    assert [r.url.path for r in recorder.requests] == ["/a", "/b", "/c", "/d"]
    assert recorder.json(0) == {"n": 1} and recorder.json(1) == {"n": 2}
    assert recorder.last.url.path == "/d"


async def test_the_recorder_fixture_is_the_public_recorder_as_a_clients_transport(recorder: Recorder) -> None:
    assert type(recorder) is Recorder
    recorder.answer = lambda request: httpx.Response(
        200, json={"status": 200, "requestId": recorder.last_json()["requestId"], "client": "acme", "id": {}}
    )
    async with AsyncTargetClient(client="acme", organization_id="o@AdobeOrg", transport=recorder.transport()) as target:
        result = await target.get_offers(request=_request())
    assert result.response.status == 200
    assert recorder.last.url.path == "/rest/v1/delivery" and recorder.last_json()["execute"]["mboxes"][0]["name"] == "m"


def test_the_suite_runs_without_backoff() -> None:
    assert RetryPolicy().delay(5) == 0.0


@pytest.mark.backoff
def test_the_backoff_marker_keeps_the_real_delays() -> None:
    assert RetryPolicy().delay(5) > 0.0


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.anyio
async def test_an_anyio_test_runs_on_its_backend_not_on_pytest_asyncio(anyio_backend: str) -> None:
    assert sniffio.current_async_library() == anyio_backend


@pytest.mark.anyio
async def test_the_plugins_client_on_both_backends(target_client: AsyncTargetClient, anyio_backend: str) -> None:
    result = await target_client.get_offers(request=_request())
    assert result.response.status == 200
