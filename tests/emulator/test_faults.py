"""Fault injection: latency, status bursts, dropped connections, the admin endpoint and route patterns."""

from __future__ import annotations

import time

import pytest

from target_async.emulator import ConnectionDropped, DropConnection, FaultConfig, Latency, StatusBurst
from target_async.emulator._faults import FaultState, route_tags

DELIVERY = "/rest/v1/delivery?imsOrgId=acme@AdobeOrg&sessionId=s1"
BODY = {"execute": {"mboxes": [{"name": "hero", "index": 1}]}}


async def test_status_burst_with_retry_after_then_recovery(client, repo):
    r = await client.post(
        "/_emulator/faults", json={"bursts": [{"route": "GET instances", "status": 429, "count": 2, "retryAfter": 3}]}
    )
    assert r.status_code == 200
    assert r.json()["bursts"][0]["count"] == 2
    for _ in range(2):
        r = await repo.list("tag")
        assert r.status_code == 429
        assert r.headers["retry-after"] == "3"
        body = r.json()
        assert body["status"] == 429 and body["message"] and body["title"] == "Too Many Requests"
    # the POST was not matched and the burst is over
    assert (await repo.post("tag", {"xdm:name": "t"})).status_code == 201
    assert (await repo.list("tag")).status_code == 200
    assert (await client.get("/_emulator/faults")).json()["bursts"] == []


async def test_burst_on_the_delivery_route_uses_the_delivery_error_shape(client):
    await client.post("/_emulator/faults", json={"bursts": [{"route": "POST /rest/v1/delivery", "status": 503}]})
    r = await client.post(DELIVERY, json=BODY, headers={"x-request-id": "rq"})
    assert r.status_code == 503 and r.headers["retry-after"] == "1" and r.headers["x-request-id"] == "rq"
    assert set(r.json()) == {"status", "message"} and r.json()["status"] == 503
    assert (await client.post(DELIVERY, json=BODY)).status_code == 200


async def test_unlimited_burst_without_retry_after_and_reset(client, repo):
    await client.post(
        "/_emulator/faults",
        json={"bursts": [{"route": "repository", "status": 502, "count": None, "retryAfter": None}]},
    )
    for _ in range(3):
        r = await repo.list("tag")
        assert r.status_code == 502 and "retry-after" not in r.headers
    assert (await client.post(DELIVERY, json=BODY)).status_code == 200  # delivery is not "repository"
    assert (await client.get("/_emulator/health")).status_code == 200  # admin is never faulted
    r = await client.delete("/_emulator/faults")
    assert r.json() == FaultConfig().to_dict()
    assert (await repo.list("tag")).status_code == 200


async def test_latency_is_per_route(client, repo):
    await client.post("/_emulator/faults", json={"latency": [{"route": "delivery", "seconds": 0.25}]})
    t0 = time.monotonic()
    assert (await client.post(DELIVERY, json=BODY)).status_code == 200
    slow = time.monotonic() - t0
    t0 = time.monotonic()
    assert (await repo.list("tag")).status_code == 200
    fast = time.monotonic() - t0
    assert slow >= 0.25 and fast < 0.2
    # a counted latency rule expires
    await client.post(
        "/_emulator/faults", json={"latency": [{"route": "GET instances", "seconds": 0.2, "count": 1}], "replace": True}
    )
    t0 = time.monotonic()
    await repo.list("tag")
    await repo.list("tag")
    assert 0.2 <= time.monotonic() - t0 < 0.39


async def test_dropped_connection_through_asgi_transport_raises(client, repo):
    await client.post("/_emulator/faults", json={"drops": [{"route": "GET operations", "count": 1}]})
    tag = await repo.tag("t")
    location = (await repo.delete(tag["instanceId"])).headers["location"]
    with pytest.raises(ConnectionDropped):
        await repo.follow(location)
    assert isinstance(ConnectionDropped(), ConnectionResetError)
    assert (await repo.follow(location)).status_code == 202  # the drop did not count as a poll


async def test_faults_from_create_app(make_repo):
    faults = FaultConfig(
        bursts=[StatusBurst(route="POST instances", status=500, count=1, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")]
    )
    async with make_repo(faults=faults) as repo:
        r = await repo.post("tag", {"xdm:name": "t"})
        assert r.status_code == 500 and r.headers["retry-after"] == "Wed, 21 Oct 2015 07:28:00 GMT"
        assert (await repo.post("tag", {"xdm:name": "t"})).status_code == 201
    # the caller's config object is not consumed
    assert faults.bursts[0].count == 1


async def test_admin_post_appends_and_replace_replaces(client):
    await client.post("/_emulator/faults", json={"drops": [{"route": "search"}]})
    r = await client.post("/_emulator/faults", json={"latency": [{"route": "*", "seconds": 0}]})
    assert len(r.json()["drops"]) == 1 and len(r.json()["latency"]) == 1
    r = await client.post(
        "/_emulator/faults", json={"replace": True, "bursts": [{"route": "delivery", "retry_after": 2}]}
    )
    assert r.json()["drops"] == [] and r.json()["latency"] == [] and r.json()["bursts"][0]["retryAfter"] == 2


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"bursts": [{"route": "nowhere"}]},
        {"bursts": [{"status": 200}]},
        {"bursts": [{"count": 0}]},
        {"bursts": [{"retryAfter": -1}]},
        {"latency": [{"seconds": -1}]},
        {"latency": [{"seconds": "1"}]},
        {"drops": [{"route": "GET too many words"}]},
        {"drops": "x"},
        {"deleteNeverResolves": "yes"},
        {"unknown": 1},
        {"bursts": [{"route": "*", "colour": "red"}]},
    ],
)
async def test_admin_rejects_bad_fault_configs(client, bad):
    r = await client.post("/_emulator/faults", json=bad)
    assert r.status_code == 400, r.text
    assert r.json()["status"] == 400 and r.json()["message"]
    r = await client.post("/_emulator/faults", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert (await client.get("/_emulator/faults")).json() == FaultConfig().to_dict()


def test_route_tags():
    assert route_tags("/rest/v1/delivery") == {"delivery"}
    assert route_tags("/data/core/xcore/") == {"repository", "root", "containers"}
    assert route_tags("/data/core/xcore/containers/c") == {"repository", "containers"}
    assert route_tags("/data/core/xcore/c/instances") == {"repository", "instances"}
    assert route_tags("/data/core/xcore/c/instances/i") == {"repository", "instances", "instance"}
    assert route_tags("/data/core/xcore/c/queries/core/search") == {"repository", "search"}
    assert route_tags("/data/core/xcore/c/operations/o") == {"repository", "operations"}
    assert route_tags("/_emulator/faults") == {"admin"}
    assert route_tags("/elsewhere") == frozenset()


@pytest.mark.parametrize(
    ("pattern", "method", "path", "hit"),
    [
        ("*", "GET", "/data/core/xcore/c/instances", True),
        ("*", "GET", "/_emulator/health", False),
        ("delivery", "POST", "/rest/v1/delivery", True),
        ("POST /rest/v1/delivery", "POST", "/rest/v1/delivery", True),
        ("POST /rest/v1/delivery", "GET", "/rest/v1/delivery", False),
        ("post delivery", "POST", "/rest/v1/delivery", True),
        ("repository", "DELETE", "/data/core/xcore/c/instances/i", True),
        ("repository", "POST", "/rest/v1/delivery", False),
        ("GET operations", "GET", "/data/core/xcore/c/operations/o", True),
        ("GET operations", "GET", "/data/core/xcore/c/instances/i", False),
        ("DELETE instance", "DELETE", "/data/core/xcore/c/instances/i", True),
        ("DELETE instance", "DELETE", "/data/core/xcore/c/instances", False),
        ("/data/core/xcore", "GET", "/data/core/xcore/c/instances", True),
        ("/data/core/xcore/*/queries/*", "GET", "/data/core/xcore/c/queries/core/search", True),
        ("* /data/core/xcore/*/instances", "POST", "/data/core/xcore/c/instances", True),
        ("/rest", "POST", "/rest/v1/delivery", True),
        ("/res", "POST", "/rest/v1/delivery", False),
    ],
)
def test_route_patterns(pattern, method, path, hit):
    state = FaultState(FaultConfig(drops=[DropConnection(route=pattern, count=None)]))
    assert state.plan(method, path).drop is hit


def test_plan_order_and_counts():
    state = FaultState(
        FaultConfig(
            latency=[Latency("repository", 0.1), Latency("instances", 0.2, count=1)],
            drops=[DropConnection("search", count=1)],
            bursts=[StatusBurst("repository", 503, count=2)],
        )
    )
    first = state.plan("GET", "/data/core/xcore/c/instances")
    assert first.latency == pytest.approx(0.3) and first.burst is not None and not first.drop
    second = state.plan("GET", "/data/core/xcore/c/queries/core/search")
    assert second.drop and second.burst is None and second.latency == pytest.approx(0.1)
    third = state.plan("GET", "/data/core/xcore/c/queries/core/search")
    assert not third.drop and third.burst is not None
    assert state.plan("GET", "/data/core/xcore/").burst is None
    snap = state.snapshot()
    assert [r.route for r in snap.latency] == ["repository"] and snap.drops == [] and snap.bursts == []
    with pytest.raises(ValueError, match="route"):
        FaultState(FaultConfig(bursts=[StatusBurst("bogus")]))
