"""AsyncTargetClient over real HTTP on loopback (uvicorn + a small Starlette stub of the Delivery API), on asyncio and
on trio (anyio's pytest plugin)."""

from __future__ import annotations

import anyio
import pytest
import sniffio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from target_async._exceptions import RequestTimeoutError
from target_async.delivery import AsyncTargetClient
from target_async.models import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest
from target_async.testing import serve

pytestmark = pytest.mark.anyio

seen: list[dict] = []


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def delivery(request: Request) -> JSONResponse:
    body = await request.json()
    seen.append({"query": dict(request.query_params), "headers": dict(request.headers), "body": body})
    if body["execute"]["mboxes"][0]["name"] == "slow":
        await anyio.sleep(1)
    return JSONResponse(
        {
            "status": 200,
            "requestId": body["requestId"],
            "id": {"tntId": "visitor-1"},
            "client": "acmeclient",
            "edgeHost": "localhost",
            "execute": {
                "mboxes": [
                    {
                        "index": 1,
                        "name": body["execute"]["mboxes"][0]["name"],
                        "options": [{"type": "json", "content": {"x": 1}}],
                    }
                ]
            },
        }
    )


app = Starlette(routes=[Route("/rest/v1/delivery", delivery, methods=["POST"])])


@pytest.fixture(scope="module")
def base_url():
    with serve(app) as url:
        yield url


def request_for(name: str) -> DeliveryRequest:
    return DeliveryRequest(
        context=Context(channel=ChannelType.WEB),
        execute=ExecuteRequest(mboxes=[MboxRequest(name=name, index=1)]),
    )


async def test_get_offers_over_loopback(base_url: str):
    seen.clear()
    async with AsyncTargetClient(
        client="acmeclient",
        organization_id="o@AdobeOrg",
        server_domain=base_url.removeprefix("http://"),
        secure=False,
    ) as client:
        result = await client.get_offers(request=request_for("hero"), session_id="s-1")
        many = await client.get_offers_many([request_for(f"m{i}") for i in range(50)], concurrency=16)
    assert result.response.execute.mboxes[0].options[0].content == {"x": 1}
    assert result.target_cookie is not None and "PC#visitor-1#" in result.target_cookie.value
    assert seen[0]["query"] == {"imsOrgId": "o@AdobeOrg", "sessionId": "s-1"}
    assert seen[0]["headers"]["x-exc-sdk"] == "TargetAsyncPython"
    assert [r.response.execute.mboxes[0].name for r in many] == [f"m{i}" for i in range(50)]


async def test_timeout_over_loopback(base_url: str):
    async with AsyncTargetClient(
        client="c",
        organization_id="o",
        server_domain=base_url.removeprefix("http://"),
        secure=False,
        timeout=0.3,
    ) as client:
        with pytest.raises(RequestTimeoutError):
            await client.get_offers(request=request_for("slow"))


async def test_the_exchange_is_aiohttp_on_asyncio_and_httpx_on_trio(base_url: str, anyio_backend: str):
    assert sniffio.current_async_library() == anyio_backend
    async with AsyncTargetClient(
        client="c", organization_id="o", server_domain=base_url.removeprefix("http://"), secure=False
    ) as client:
        result = await client.get_offers(request=request_for(anyio_backend))
        exchange = client._http.exchange
        transport = getattr(exchange, "transport", None)  # while open (closing lets go of it)
    assert result.response.status == 200
    if anyio_backend == "trio":  # aiohttp runs on asyncio only: httpx's portable transport
        assert type(exchange).__name__ == "HttpxExchange" and type(transport).__name__ == "AsyncHTTPTransport"
    else:
        assert type(exchange).__name__ == "AiohttpExchange"
