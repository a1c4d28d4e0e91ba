"""AsyncTargetClient end to end against the emulator, over real HTTP on loopback (uvicorn).

Each behaviour here also has a wire test with httpx.MockTransport (test_wire.py / test_resilience.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

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
from target_async.delivery import AsyncTargetClient
from target_async.emulator import create_app
from target_async.models import AnalyticsRequest, ExperienceCloud, LoggingType, Trace
from target_async.testing import EMULATOR_ORG_ID, serve

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


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with serve(create_app(fixtures=FIXTURES, seed=3)) as url:
        yield url


@pytest.fixture
async def target(emulator: str):
    async with AsyncTargetClient(
        client="emulator", organization_id=EMULATOR_ORG_ID, server_domain=emulator.removeprefix("http://"), secure=False
    ) as client:
        yield client


@pytest.fixture
async def faults(emulator: str):
    async with httpx.AsyncClient(base_url=emulator) as admin:
        await admin.delete("/_emulator/faults")
        yield admin
        await admin.delete("/_emulator/faults")


def hero(*names: str, prefetch: bool = False) -> DeliveryRequest:
    mboxes = [MboxRequest(name=n, index=i) for i, n in enumerate(names or ("hero",))]
    if prefetch:
        return DeliveryRequest(context=Context(channel=ChannelType.WEB), prefetch=PrefetchRequest(mboxes=mboxes))
    return DeliveryRequest(context=Context(channel=ChannelType.WEB), execute=ExecuteRequest(mboxes=mboxes))


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


async def test_retry_after_503_burst_is_retried(
    target: AsyncTargetClient, faults: httpx.AsyncClient, target_no_backoff
):
    await faults.post(
        "/_emulator/faults", json={"bursts": [{"route": "delivery", "status": 503, "count": 1, "retryAfter": 0}]}
    )
    result = await target.get_offers(request=hero())
    assert result.response.status == 200
    assert (await faults.get("/_emulator/faults")).json()["bursts"] == []


async def test_502_for_execute_is_not_retried(target: AsyncTargetClient, faults: httpx.AsyncClient):
    await faults.post("/_emulator/faults", json={"bursts": [{"route": "delivery", "status": 502, "count": 1}]})
    with pytest.raises(ServerError) as info:
        await target.get_offers(request=hero())
    assert info.value.status == 502 and info.value.body["status"] == 502


async def test_dropped_connection_prefetch_retried_execute_not(
    target: AsyncTargetClient, faults: httpx.AsyncClient, target_no_backoff
):
    await faults.post("/_emulator/faults", json={"drops": [{"route": "delivery", "count": 1}]})
    result = await target.get_offers(request=hero(prefetch=True))
    assert result.response.status == 200
    await faults.post("/_emulator/faults", json={"drops": [{"route": "delivery", "count": 1}]})
    with pytest.raises(ConnectError):
        await target.get_offers(request=hero())


async def test_timeout_enforced_against_slow_server(emulator: str, faults: httpx.AsyncClient):
    await faults.post("/_emulator/faults", json={"latency": [{"route": "delivery", "seconds": 2, "count": 1}]})
    async with AsyncTargetClient(
        client="emulator",
        organization_id=EMULATOR_ORG_ID,
        server_domain=emulator.removeprefix("http://"),
        secure=False,
        timeout=0.3,
    ) as client:
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError):
            await client.get_offers(request=hero())
        assert time.monotonic() - started < 1.5
