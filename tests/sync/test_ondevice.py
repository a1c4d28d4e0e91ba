"""On-device and hybrid decisioning through the sync facade (TargetClient): blocking and callback calls, events on
the callback thread, one artifact download per client whatever the number of calling threads (issue #12)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from target_async import TargetClient
from target_async.models import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest, VisitorId
from target_async.sync._callback_thread import CALLBACK_THREAD_NAME
from target_async.testing import serve

from ..delivery.ondevice_server import OnDeviceServer, fixture

CLIENT = "someClientId"


@pytest.fixture
def server() -> Iterator[tuple[OnDeviceServer, str]]:
    state = OnDeviceServer(fixture("TEST_ARTIFACT_AB_SIMPLE"))
    with serve(state.app) as url:
        yield state, url


def options(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "client": CLIENT,
        "organization_id": "someOrgId",
        "decisioning_method": "on-device",
        "artifact_location": f"{url}/{CLIENT}/production/v1/rules.json",
        "polling_interval": 0,
        "server_domain": url.removeprefix("http://"),
        "secure": False,
        **extra,
    }


def execute(tnt: str = "visitor-1.28_0") -> DeliveryRequest:
    return DeliveryRequest(
        id=VisitorId(tnt_id=tnt),
        context=Context(channel=ChannelType.WEB),
        execute=ExecuteRequest(mboxes=[MboxRequest(name="mbox-magician", index=1)]),
    )


def test_blocking_and_callback_calls_decide_locally(server) -> None:
    state, url = server
    ready = threading.Event()
    seen: list[tuple[str, str]] = []

    def on_event(event: dict[str, Any]) -> None:
        seen.append((event["type"], threading.current_thread().name))
        if event["type"] == "client_ready":
            ready.set()

    events = {"client_ready": on_event, "artifact_download_succeeded": on_event}
    with TargetClient.create(options(url, events=events)) as client:
        assert ready.wait(5)
        blocking = client.get_offers({"request": execute()})
        assert blocking.meta.decisioning_method == "on-device"
        got: list[Any] = []
        result = client.get_offers({"request": execute("visitor-2.28_0"), "callback": got.append})
        answer = result.get(timeout=5)
        assert answer.meta.decisioning_method == "on-device"
        assert got == [answer]
    assert state.decision_calls == []
    assert len(state.notifications) == 2  # close() flushed both display notifications
    assert sorted(seen) == [
        ("artifact_download_succeeded", CALLBACK_THREAD_NAME),
        ("client_ready", CALLBACK_THREAD_NAME),
    ]


def test_one_artifact_download_for_many_calling_threads(server) -> None:
    state, url = server
    with TargetClient.create(options(url, telemetry_enabled=False)) as client:
        client.wait_until_ready(timeout=5)
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: client.get_offers({"request": execute(f"v{i}.28_0")}), range(40)))
        assert client.artifact_status.retrieval_count == 1
    assert len(state.artifact_requests) == 1
    assert all(r.meta.decisioning_method == "on-device" for r in results)
    assert len(state.notifications) == 40


def test_blocking_call_waits_for_the_first_artifact(server) -> None:
    state, url = server
    with TargetClient.create(options(url, telemetry_enabled=False)) as client:
        result = client.get_offers({"request": execute()})  # no wait_until_ready: the call waits (its timeout)
    assert result.meta.decisioning_method == "on-device"


def test_hybrid_from_the_facade(server) -> None:
    state, url = server
    with TargetClient.create(options(url, decisioning_method="hybrid", telemetry_enabled=False)) as client:
        client.wait_until_ready(timeout=5)
        local = client.get_offers({"request": execute()})
        remote = client.get_offers(
            {
                "request": DeliveryRequest(
                    context=Context(channel=ChannelType.WEB),
                    execute=ExecuteRequest(mboxes=[MboxRequest(name="not-in-the-artifact", index=1)]),
                )
            }
        )
    assert local.meta.decisioning_method == "on-device"
    assert remote.meta.decisioning_method == "server-side"
    assert len(state.decision_calls) == 1


def test_refresh_from_the_facade(server) -> None:
    state, url = server
    with TargetClient.create(options(url, telemetry_enabled=False)) as client:
        client.wait_until_ready(timeout=5)
        assert client.refresh_artifact() is False  # 304
        assert state.artifact_requests[-1].get("if-none-match")


def test_a_create_whose_artifact_download_cannot_start_raises_and_leaves_nothing_running(
    server: tuple[OnDeviceServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from target_async.delivery._local import OnDevice

    from .conftest import shim_threads

    def refuse(self: OnDevice) -> None:
        raise RuntimeError("no download today")

    monkeypatch.setattr(OnDevice, "start", refuse)
    _, url = server
    with pytest.raises(RuntimeError, match="no download today"):
        TargetClient.create(options(url))
    assert shim_threads() == []  # the lease was given back: no client left open to warn when collected
