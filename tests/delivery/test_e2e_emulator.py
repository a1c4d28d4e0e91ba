"""AsyncTargetClient end to end against the emulator, over real HTTP on loopback (uvicorn).

Each behaviour here also has a wire test with httpx.MockTransport (test_wire.py / test_resilience.py). Every
test runs on asyncio and on trio (anyio's pytest plugin).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import sniffio

from target_async import (
    ChannelType,
    ConnectError,
    Context,
    CustomerId,
    DeliveryRequest,
    ExecuteRequest,
    MboxRequest,
    PrefetchRequest,
    RequestTimeoutError,
    ServerError,
    VisitorId,
)
from target_async._exchange import HttpxExchange
from target_async.delivery import AsyncTargetClient
from target_async.emulator import create_app
from target_async.models import AnalyticsRequest, ExperienceCloud, LoggingType, Trace
from target_async.testing import EMULATOR_ORG_ID, serve

pytestmark = pytest.mark.anyio

FIXTURES = {
    "mboxes": {
        "hero": {
            "experiences": [
                {"name": "A", "weight": 50, "options": [{"type": "json", "content": {"color": "red"}}]},
                {"name": "B", "weight": 50, "options": [{"type": "html", "content": "<b>blue</b>"}]},
            ]
        },
        "flags": {
            "experiences": [{"name": "on", "weight": 1, "options": [{"type": "json", "content": {"beta": True}}]}]
        },
    }
}


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def target_emulator_url() -> Iterator[str]:
    """The plugin's loopback emulator, with this module's fixtures, served once for the module."""
    with serve(create_app(fixtures=FIXTURES, seed=3)) as url:
        yield url


@pytest.fixture
def target(target_loopback_client: AsyncTargetClient) -> AsyncTargetClient:
    """The plugin's client over real HTTP to that emulator (closed by the plugin in the test's event loop)."""
    return target_loopback_client


class Faults:
    """The emulator's fault admin, synchronous (the server runs in its own thread), so it works on any backend."""

    def __init__(self, admin: httpx.Client) -> None:
        self._admin = admin

    def add(self, **faults: object) -> None:
        self._admin.post("/_emulator/faults", json=faults).raise_for_status()

    def bursts(self) -> object:
        return self._admin.get("/_emulator/faults").json()["bursts"]


@pytest.fixture
def faults(target_emulator_url: str) -> Iterator[Faults]:
    with httpx.Client(base_url=target_emulator_url) as admin:
        admin.delete("/_emulator/faults")
        yield Faults(admin)
        admin.delete("/_emulator/faults")


def hero(*names: str, prefetch: bool = False) -> DeliveryRequest:
    mboxes = [MboxRequest(name=n, index=i) for i, n in enumerate(names or ("hero",))]
    if prefetch:
        return DeliveryRequest(context=Context(channel=ChannelType.WEB), prefetch=PrefetchRequest(mboxes=mboxes))
    return DeliveryRequest(context=Context(channel=ChannelType.WEB), execute=ExecuteRequest(mboxes=mboxes))


async def test_the_http_core_picks_the_exchange_of_the_running_library(target: AsyncTargetClient, anyio_backend):
    assert sniffio.current_async_library() == anyio_backend
    result = await target.get_offers(request=hero())
    assert result.response.status == 200
    exchange = target._http.exchange
    if anyio_backend == "trio":
        assert type(exchange) is HttpxExchange  # httpx (its anyio backend): aiohttp runs on asyncio only
    else:
        assert type(exchange).__name__ == "AiohttpExchange"  # the default pool on asyncio


async def test_decision_cookies_and_session(target: AsyncTargetClient):
    first = await target.get_offers(request=hero(), session_id="e2e-session")
    assert first.response.status == 200
    tnt = first.response.id.tnt_id
    assert tnt and "." not in tnt  # no edge-cluster suffix: the client stays on the emulator
    assert first.target_cookie is not None
    assert first.target_cookie.value.startswith("session#e2e-session#")
    assert f"|PC#{tnt}#" in first.target_cookie.value
    assert first.target_location_hint_cookie is None and target.target_location_hint is None

    again = await target.get_offers(request=hero(), target_cookie=first.target_cookie.value)
    assert again.request.id is not None and again.request.id.tnt_id == tnt  # tntId from the PC cookie
    assert again.response.execute.mboxes[0].options == first.response.execute.mboxes[0].options  # stable A/B
    assert again.target_cookie is not None and "session#e2e-session#" in again.target_cookie.value


async def test_request_id_and_ids_round_trip(target: AsyncTargetClient):
    request = hero()
    request.request_id = "caller-request-id"
    request.id = VisitorId(tnt_id="visitor-42")
    result = await target.get_offers(
        request=request, customer_ids=[{"id": "c1", "integrationCode": "crm", "authenticatedState": "authenticated"}]
    )
    assert result.response.request_id == "caller-request-id"
    assert result.response.id.tnt_id == "visitor-42"
    assert result.response.id.customer_ids == [
        CustomerId(id="c1", integration_code="crm", authenticated_state="authenticated")  # type: ignore[arg-type]
    ]


async def test_allocation_follows_weights_across_visitors(target: AsyncTargetClient):
    requests = []
    for n in range(200):
        r = hero()
        r.id = VisitorId(tnt_id=f"v{n}")
        requests.append(r)
    results = await target.get_offers_many(requests, concurrency=32)
    kinds = [r.response.execute.mboxes[0].options[0].type for r in results]
    assert 60 < kinds.count("json") < 140  # 50/50 split, stable hash per visitor


async def test_get_attributes(target: AsyncTargetClient):
    attributes = await target.get_attributes(["flags"])
    assert attributes.get_value("flags", "beta") is True


async def test_prefetch_and_notifications(target: AsyncTargetClient):
    result = await target.get_offers(request=hero(prefetch=True))
    option = result.response.prefetch.mboxes[0].options[0]
    assert option.event_token
    wire = {
        "context": {"channel": "web"},
        "notifications": [
            {
                "id": "n-1",
                "timestamp": int(time.time() * 1000),
                "type": "display",
                "mbox": {"name": "hero"},
                "tokens": [option.event_token],
            }
        ],
    }
    ack = await target.send_notifications(request=wire)
    assert [n.id for n in ack.response.notifications or []] == ["n-1"]


async def test_analytics_and_trace_flattened(target: AsyncTargetClient):
    request = hero("hero", "flags")
    request.experience_cloud = ExperienceCloud(analytics=AnalyticsRequest(logging=LoggingType.CLIENT_SIDE))
    request.trace = Trace(authorization_token="token")
    result = await target.get_offers(request=request)
    assert result.analytics_details is not None and len(result.analytics_details) == 2
    assert all(a.payload.pe == "tnt" for a in result.analytics_details)
    assert result.trace is not None and len(result.trace) == 2


async def test_retry_after_503_burst_is_retried(target: AsyncTargetClient, faults: Faults, target_no_backoff):
    faults.add(bursts=[{"route": "delivery", "status": 503, "count": 1, "retryAfter": 0}])
    result = await target.get_offers(request=hero())
    assert result.response.status == 200
    assert faults.bursts() == []


async def test_502_for_execute_is_not_retried(target: AsyncTargetClient, faults: Faults):
    faults.add(bursts=[{"route": "delivery", "status": 502, "count": 1}])
    with pytest.raises(ServerError) as info:
        await target.get_offers(request=hero())
    assert info.value.status == 502 and info.value.body["status"] == 502


async def test_dropped_connection_prefetch_retried_execute_not(
    target: AsyncTargetClient, faults: Faults, target_no_backoff
):
    faults.add(drops=[{"route": "delivery", "count": 1}])
    result = await target.get_offers(request=hero(prefetch=True))
    assert result.response.status == 200
    faults.add(drops=[{"route": "delivery", "count": 1}])
    with pytest.raises(ConnectError):
        await target.get_offers(request=hero())


async def test_timeout_enforced_against_slow_server(target_emulator_url: str, faults: Faults):
    faults.add(latency=[{"route": "delivery", "seconds": 2, "count": 1}])
    async with AsyncTargetClient(
        client="emulator",
        organization_id=EMULATOR_ORG_ID,
        server_domain=target_emulator_url.removeprefix("http://"),
        secure=False,
        timeout=0.3,
    ) as client:
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError):
            await client.get_offers(request=hero())
        assert time.monotonic() - started < 1.5
