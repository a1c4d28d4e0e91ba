"""Blocking calls run on the calling thread, on an event loop that thread keeps (its lane)."""

from __future__ import annotations

import concurrent.futures as cf
import gc
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from target_async import AsyncTargetClient, ClientClosedError, TargetDeliveryResponse
from target_async.sync import TargetClient
from target_async.sync._runner import LOOP_THREAD_NAME

from .conftest import Stub, mbox_names, request_for

MakeClient = Callable[..., TargetClient]


class ThreadProbe:
    """A Visitor-like object: the SDK calls ``get_state()`` once the answer is in, on the thread of the call."""

    def __init__(self, action: Callable[[], object] | None = None) -> None:
        self.threads: list[str] = []
        self.action = action

    def get_state(self) -> dict[str, Any]:
        self.threads.append(threading.current_thread().name)
        if self.action is not None:
            self.action()
        return {}


def call_in_thread(fn: Callable[[], object], name: str = "caller") -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(fn())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread, outcome


def test_blocking_calls_run_on_the_calling_thread_and_callbacks_on_the_loop(client: TargetClient) -> None:
    probe = ThreadProbe()
    client.get_offers({"request": request_for("a"), "visitor": probe})
    thread, outcome = call_in_thread(lambda: client.get_offers({"request": request_for("b"), "visitor": probe}))
    thread.join(10)
    assert isinstance(outcome[0], TargetDeliveryResponse) and mbox_names(outcome[0]) == ["b"]
    client.get_offers({"request": request_for("c"), "visitor": probe, "callback": lambda r: None}).get(10)
    assert probe.threads == [threading.current_thread().name, "caller", LOOP_THREAD_NAME]


def test_each_thread_keeps_one_loop_and_one_connection(client: TargetClient, stub: Stub) -> None:
    stub.reset()

    def ten_calls() -> list[TargetDeliveryResponse]:
        return [client.get_offers({"request": request_for("x")}) for _ in range(10)]

    threads = [call_in_thread(ten_calls, name) for name in ("t1", "t2")]
    for thread, outcome in threads:
        thread.join(20)
        assert len(outcome[0]) == 10  # type: ignore[arg-type]
    stats = stub.stats()
    assert stats["requests"] == 20 and stats["connections"] == 2
    assert len(client._lanes) == 2
    # the lanes of threads that have ended are closed (sockets too: filterwarnings=error catches a leak)
    thread, _ = call_in_thread(lambda: client.get_offers({"request": request_for("y")}))
    thread.join(10)
    gc.collect()
    assert len(client._lanes) == 1


def test_close_waits_for_a_blocking_call_on_another_thread(client: TargetClient) -> None:
    thread, outcome = call_in_thread(lambda: client.get_offers({"request": request_for("slow-400")}))
    time.sleep(0.15)
    started = time.monotonic()
    client.close()
    assert 0.1 < time.monotonic() - started < 5
    thread.join(5)
    assert isinstance(outcome[0], TargetDeliveryResponse)
    with pytest.raises(ClientClosedError):
        client.get_offers({"request": request_for("a")})


def test_close_cancel_pending_cancels_blocking_calls_on_other_threads(make_client: MakeClient) -> None:
    client = make_client(timeout=20_000)
    thread, outcome = call_in_thread(lambda: client.get_offers({"request": request_for("slow-5000")}))
    time.sleep(0.15)
    started = time.monotonic()
    client.close(cancel_pending=True)
    thread.join(5)
    assert time.monotonic() - started < 3
    assert isinstance(outcome[0], cf.CancelledError)  # as the callback mode reports a cancelled call


def test_close_timeout_cancels_a_blocking_call_still_running(make_client: MakeClient) -> None:
    client = make_client(timeout=20_000)
    thread, outcome = call_in_thread(lambda: client.get_offers({"request": request_for("slow-5000")}))
    time.sleep(0.15)
    started = time.monotonic()
    client.close(timeout=0.5)
    thread.join(5)
    assert 0.4 < time.monotonic() - started < 3
    assert isinstance(outcome[0], cf.CancelledError)


def test_close_from_inside_a_blocking_call(client: TargetClient) -> None:
    probe = ThreadProbe(action=client.close)
    response = client.get_offers({"request": request_for("a"), "visitor": probe})
    assert mbox_names(response) == ["a"]  # the call that closed the client still completes
    assert client.closed and probe.threads == [threading.current_thread().name]
    with pytest.raises(ClientClosedError):
        client.get_offers({"request": request_for("a")})


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
def test_ctrl_c_interrupts_a_blocking_call_and_the_client_stays_usable(make_client: MakeClient) -> None:
    client = make_client(timeout=20_000)
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        client.get_offers({"request": request_for("slow-3000")})
    timer.join()
    assert time.monotonic() - started < 2
    assert mbox_names(client.get_offers({"request": request_for("after")})) == ["after"]


async def test_a_twin_shares_settings_and_routing_but_not_the_pool() -> None:
    original = AsyncTargetClient(
        client="acme", organization_id="o@AdobeOrg", timeout=2.5, events={"client_ready": lambda: None}
    )
    twin = original._twin()
    assert twin._http is not original._http and twin._http.timeout == 2.5
    assert twin._http._verify is original._http._verify  # the trust store is loaded once for all twins
    assert twin.events == {} and original.events
    twin._routing.hint = "28"  # what a response revealing an edge cluster does
    assert original.target_location_hint == "28"
    await twin.aclose()
    await original.aclose()
