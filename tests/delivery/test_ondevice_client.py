"""On-device and hybrid decisioning through AsyncTargetClient, over real HTTP on loopback (issue #12)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from typing import Any

import pytest

from target_async import AsyncTargetClient
from target_async._exceptions import ConfigurationError, OnDeviceDisabledError, OnDeviceNotReadyError
from target_async.models import (
    ChannelType,
    Context,
    DeliveryRequest,
    ExecuteRequest,
    Geo,
    MboxRequest,
    PrefetchRequest,
    VisitorId,
)
from target_async.testing import serve

from .ondevice_server import OnDeviceServer, fixture

CLIENT = "someClientId"
ORG = "someOrgId"
TNT = "338e3c1e51f7416a8e1ccba4f81acea0.28_0"


@pytest.fixture
def server() -> Iterator[tuple[OnDeviceServer, str]]:
    state = OnDeviceServer(fixture("TEST_ARTIFACT_AB_SIMPLE"))
    with serve(state.app) as url:
        yield state, url


def make(url: str, **kwargs: Any) -> AsyncTargetClient:
    kwargs.setdefault("decisioning_method", "on-device")
    kwargs.setdefault("polling_interval", 0)
    kwargs.setdefault("artifact_location", f"{url}/{CLIENT}/production/v1/rules.json")
    return AsyncTargetClient(
        client=CLIENT,
        organization_id=ORG,
        server_domain=url.removeprefix("http://"),
        secure=False,
        **kwargs,
    )


def execute(*names: str, tnt: str | None = TNT, **kwargs: Any) -> DeliveryRequest:
    return DeliveryRequest(
        id=VisitorId(tnt_id=tnt) if tnt else None,
        context=Context(channel=ChannelType.WEB, **kwargs),
        execute=ExecuteRequest(mboxes=[MboxRequest(name=n, index=i + 1) for i, n in enumerate(names)]),
    )


def prefetch(*names: str) -> DeliveryRequest:
    return DeliveryRequest(
        id=VisitorId(tnt_id=TNT),
        context=Context(channel=ChannelType.WEB),
        prefetch=PrefetchRequest(mboxes=[MboxRequest(name=n, index=i + 1) for i, n in enumerate(names)]),
    )


def content(result: Any) -> Any:
    mboxes = result.response.execute.mboxes
    return mboxes[0].options[0].content


async def test_execute_is_decided_locally_and_notified_in_the_background(server) -> None:
    state, url = server
    async with make(url) as client:
        result = await client.get_offers(request=execute("mbox-magician"), session_id="s-1")
        assert result.meta.decisioning_method == "on-device"
        assert result.response.status == 200
        assert content(result) in ({"doMagic": True, "importantValue": 150}, {"doMagic": False, "importantValue": 75})
        assert state.decision_calls == []
        assert result.target_cookie is not None and "session#s-1#" in result.target_cookie.value
    # aclose() flushed the display notification (and the call's telemetry) exactly once
    assert len(state.notifications) == 1
    note = state.notifications[0]
    assert note["type"] == "display"
    assert note["mbox"] == {"name": "mbox-magician"}
    assert note["tokens"]
    body = state.delivery_bodies[0]
    assert body["id"]["tntId"] == TNT
    entries = body["telemetry"]["entries"]
    assert len(entries) == 1 and entries[0]["features"]["decisioningMethod"] == "on-device"


async def test_same_visitor_same_experience(server) -> None:
    state, url = server
    async with make(url, telemetry_enabled=False) as client:
        first = [content(await client.get_offers(request=execute("mbox-magician"))) for _ in range(5)]
    assert all(c == first[0] for c in first)


async def test_prefetch_sends_no_notification_but_telemetry(server) -> None:
    state, url = server
    async with make(url) as client:
        result = await client.get_offers(request=prefetch("mbox-magician"))
        assert result.response.prefetch is not None
    assert state.notifications == []
    assert len(state.delivery_bodies) == 1
    assert state.delivery_bodies[0]["telemetry"]["entries"][0]["features"]["decisioningMethod"] == "on-device"


async def test_telemetry_disabled_sends_nothing_for_prefetch(server) -> None:
    state, url = server
    async with make(url, telemetry_enabled=False) as client:
        await client.get_offers(request=prefetch("mbox-magician"))
    assert state.delivery_bodies == []


def with_remote(artifact: dict[str, Any], name: str) -> dict[str, Any]:
    artifact = copy.deepcopy(artifact)
    artifact["remoteMboxes"] = [*artifact.get("remoteMboxes", []), name]
    return artifact


async def test_on_device_with_a_remote_mbox_answers_206(server) -> None:
    state, url = server
    state.publish(with_remote(fixture("TEST_ARTIFACT_AB_SIMPLE"), "remote-one"))
    async with make(url, telemetry_enabled=False) as client:
        result = await client.get_offers(request=execute("mbox-magician", "remote-one", "unknown-mbox"))
    assert result.response.status == 206
    assert result.meta.decisioning_method == "on-device"
    assert result.meta.remote_mboxes == ["remote-one", "unknown-mbox"]
    assert state.decision_calls == []


async def test_hybrid_routes_local_requests_locally_and_the_rest_whole_to_the_server(server) -> None:
    state, url = server
    state.publish(with_remote(fixture("TEST_ARTIFACT_AB_SIMPLE"), "remote-one"))
    async with make(url, decisioning_method="hybrid", telemetry_enabled=False) as client:
        await client.wait_until_ready(timeout=5)
        local = await client.get_offers(request=execute("mbox-magician"))
        remote = await client.get_offers(request=execute("mbox-magician", "remote-one"))
    assert local.meta.decisioning_method == "on-device"
    assert remote.meta.decisioning_method == "server-side"
    assert content(remote) == "server"
    assert len(state.decision_calls) == 1
    assert [m["name"] for m in state.decision_calls[0]["execute"]["mboxes"]] == ["mbox-magician", "remote-one"]


async def test_hybrid_before_the_artifact_goes_to_the_server(server) -> None:
    state, url = server
    state.artifact_status = 500
    async with make(url, decisioning_method="hybrid") as client:
        result = await client.get_offers(request=execute("mbox-magician"))
    assert result.meta.decisioning_method == "server-side"
    assert len(state.decision_calls) == 1


async def test_per_call_method_overrides_the_clients(server) -> None:
    state, url = server
    async with make(url, decisioning_method="server-side", telemetry_enabled=False) as client:
        remote = await client.get_offers(request=execute("mbox-magician"))
        local = await client.get_offers(request=execute("mbox-magician"), decisioning_method="on-device")
    assert remote.meta.decisioning_method == "server-side"
    assert local.meta.decisioning_method == "on-device"


async def test_etag_poll_keeps_the_compiled_engine_and_a_new_artifact_replaces_it(server) -> None:
    state, url = server
    events: list[dict[str, Any]] = []
    handlers = dict.fromkeys(("artifact_download_succeeded", "client_ready"), events.append)
    async with make(url, telemetry_enabled=False, events=handlers) as client:
        await client.wait_until_ready(timeout=5)
        engine = client._local.artifacts.engine
        assert await client.refresh_artifact() is False
        assert state.artifact_requests[-1]["if-none-match"]
        assert client._local.artifacts.engine is engine  # a 304 costs no recompilation
        changed = fixture("TEST_ARTIFACT_AB_SIMPLE")
        for rule in changed["rules"]["mboxes"]["mbox-magician"]:
            rule["consequence"]["options"][0]["content"] = {"published": 2}
        state.publish(changed)
        assert await client.refresh_artifact() is True
        result = await client.get_offers(request=execute("mbox-magician"))
        assert content(result) == {"published": 2}
        status = client.artifact_status
        assert status.ready and status.retrieval_count == 2 and status.etag
        assert status.mbox_rules >= 2
    assert [e["type"] for e in events] == ["artifact_download_succeeded", "client_ready", "artifact_download_succeeded"]


@pytest.mark.parametrize("failure", ["status", "json", "version"])
async def test_a_failed_poll_keeps_the_last_good_artifact(server, failure: str) -> None:
    state, url = server
    failed: list[dict[str, Any]] = []
    async with make(url, telemetry_enabled=False, events={"artifact_download_failed": failed.append}) as client:
        await client.wait_until_ready(timeout=5)
        before = content(await client.get_offers(request=execute("mbox-magician")))
        if failure == "status":
            state.artifact_status = 500
        elif failure == "json":
            state.publish(b"{not json")  # type: ignore[arg-type]
        else:
            state.publish({**fixture("TEST_ARTIFACT_AB_SIMPLE"), "version": "2.0.0"})
        assert await client.refresh_artifact() is False
        assert content(await client.get_offers(request=execute("mbox-magician"))) == before
        assert client.artifact_status.last_error is not None
    assert failed and failed[-1]["artifact_location"].endswith("rules.json")


async def test_not_ready_within_the_timeout_is_a_typed_error(server) -> None:
    state, url = server
    state.artifact_status = 500
    async with make(url, timeout=0.5) as client:
        with pytest.raises(OnDeviceNotReadyError):
            await client.get_offers(request=execute("mbox-magician"))
        with pytest.raises(OnDeviceNotReadyError):
            await client.wait_until_ready(timeout=0.2)


async def test_403_says_on_device_is_disabled(server) -> None:
    state, url = server
    state.artifact_status = 403
    async with make(url) as client:
        with pytest.raises(OnDeviceDisabledError, match="not enabled"):
            await client.wait_until_ready(timeout=5)


async def test_artifact_payload_needs_no_download_and_fires_client_ready(server) -> None:
    state, url = server
    ready: list[dict[str, Any]] = []
    async with make(
        url, artifact_payload=fixture("TEST_ARTIFACT_AB_SIMPLE"), events={"client_ready": ready.append}
    ) as client:
        await client.wait_until_ready(timeout=5)
        await client.get_offers(request=execute("mbox-magician"))
    assert state.artifact_requests == []
    assert ready == [{"type": "client_ready"}]


def test_constructing_starts_nothing(server) -> None:
    state, url = server
    make(url)
    assert state.artifact_requests == []


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("artifact_location", "ftp://x/rules.json"),
        ("artifact_format", "xml"),
        ("polling_interval", -1),
        ("polling_interval", float("nan")),
        ("cdn_environment", "moon"),
        ("cdn_base_path", "evil.com/path"),
        ("environment", "../x"),
        ("artifact_payload", 42),
        ("telemetry_enabled", "yes"),
    ],
)
def test_bad_on_device_options_are_refused(option: str, value: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        AsyncTargetClient(client=CLIENT, organization_id=ORG, **{option: value})
    assert info.value.field == option


def test_short_polling_interval_is_raised_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="below the minimum"):
        client = AsyncTargetClient(client=CLIENT, organization_id=ORG, polling_interval=10)
    assert client.artifact_status.polling_interval == 300


def test_default_artifact_url() -> None:
    client = AsyncTargetClient(client=CLIENT, organization_id=ORG, property_token="tok/en", cdn_environment="staging")
    assert client.artifact_status.location == (
        "https://assets.staging.adobetarget.com/someClientId/production/v1/tok%2Fen/rules.json"
    )


async def test_geo_lookup_only_for_a_valid_ip_and_cached(server) -> None:
    state, url = server
    state.publish(fixture("TEST_ARTIFACT_GEO"))
    state.geo_table["203.0.113.9"] = {"x-geo-city": "SAN FRANCISCO", "x-geo-country-code": "US"}
    geo_events: list[dict[str, Any]] = []
    async with make(url, telemetry_enabled=False, events={"geo_location_updated": geo_events.append}) as client:
        await client.wait_until_ready(timeout=5)
        for ip in ("203.0.113.9", "203.0.113.9", "not-an-ip", "999.1.1.1"):
            await client.get_offers(request=execute("mbox-geography", geo=Geo(ip_address=ip)))
        await client.get_offers(request=execute("mbox-geography"))
    assert state.geo_requests == ["203.0.113.9"]
    assert any(e["geo_context"].get("city") == "SAN FRANCISCO" for e in geo_events)


async def test_a_slow_geo_lookup_does_not_hang_the_call(server) -> None:
    state, url = server
    state.publish(fixture("TEST_ARTIFACT_GEO"))
    state.geo_delay = 1.0
    async with make(url, telemetry_enabled=False, timeout=0.3) as client:
        await client.wait_until_ready(timeout=5)
        result = await asyncio.wait_for(
            client.get_offers(request=execute("mbox-geography", geo=Geo(ip_address="198.51.100.7"))), 2
        )
    assert result.meta.decisioning_method == "on-device"


async def test_failed_notifications_are_events_not_exceptions(server) -> None:
    state, url = server
    state.delivery_status = 500
    errors: list[dict[str, Any]] = []
    async with make(url, retries=0, events={"send_notification_error": errors.append}) as client:
        result = await client.get_offers(request=execute("mbox-magician"))
        assert result.meta.decisioning_method == "on-device"
    assert len(errors) == 1
    assert errors[0]["notification"].notifications
    assert errors[0]["error"].status == 500


async def test_get_offers_many_on_device(server) -> None:
    state, url = server
    async with make(url, telemetry_enabled=False) as client:
        results = await client.get_offers_many([execute("mbox-magician", tnt=f"visitor-{i}") for i in range(50)])
    assert all(r.meta.decisioning_method == "on-device" for r in results)  # type: ignore[union-attr]
    assert len(state.notifications) == 50
    assert state.decision_calls == []


async def test_get_attributes_on_device(server) -> None:
    state, url = server
    state.publish(fixture("TEST_ARTIFACT_FEATURE_FLAG"))
    async with make(url, telemetry_enabled=False) as client:
        attributes = await client.get_attributes(["mbox-feature-flags"], request=execute(tnt=TNT))
    assert attributes.response.meta.decisioning_method == "on-device"
    assert attributes.as_object("mbox-feature-flags")


async def test_a_large_batch_waits_for_its_notifications_instead_of_dropping_them(server, monkeypatch) -> None:
    from target_async.delivery import _notifier

    monkeypatch.setattr(_notifier, "MAX_PENDING_NOTIFICATIONS", 40)
    monkeypatch.setattr(_notifier, "HIGH_WATER", 16)
    state, url = server
    errors: list[dict[str, Any]] = []
    async with make(url, telemetry_enabled=False, events={"send_notification_error": errors.append}) as client:
        await client.wait_until_ready(timeout=5)
        visitors = [execute("mbox-magician", tnt=f"visitor-{i}") for i in range(200)]
        await client.get_offers_many(visitors, concurrency=64)
        assert client._local.notifier.dropped == 0
    assert errors == []
    assert len(state.notifications) == 200
