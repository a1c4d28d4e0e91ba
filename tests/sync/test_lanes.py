"""Blocking calls run on the calling thread, on an event loop that thread keeps (its lane)."""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
import gc
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from target_async import AsyncTargetClient, ClientClosedError, TargetDeliveryResponse
from target_async.sync import TargetClient
from target_async.sync._lanes import RESOLVER_THREAD_PREFIX
from target_async.sync._loop_thread import LOOP_THREAD_NAME

from .conftest import Stub, mbox_names, request_for, wait_for_no_shim_threads

MakeClient = Callable[..., TargetClient]
TRACE_ID: contextvars.ContextVar[str] = contextvars.ContextVar("TRACE_ID", default="none")


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
    assert len(client._strategy.lanes) == 2
    # the lanes of threads that have ended are closed (sockets too: filterwarnings=error catches a leak)
    thread, _ = call_in_thread(lambda: client.get_offers({"request": request_for("y")}))
    thread.join(10)
    gc.collect()
    assert len(client._strategy.lanes) == 1


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


def test_close_cancel_pending_cancels_a_blocking_call_whose_task_does_not_exist_yet(make_client: MakeClient) -> None:
    """close(cancel_pending=True) lands while the calling thread holds its lane but has not created the call's
    task yet (a loaded machine can pause a thread anywhere): the call is cancelled all the same."""
    client = make_client(timeout=20_000)
    closing = threading.Event()

    def slow_to_start(aclient: AsyncTargetClient) -> Any:
        closing.wait(5)
        time.sleep(0.2)  # close() has tried to cancel by now, and found no task
        return aclient.get_offers({"request": request_for("slow-5000")})

    def call() -> object:
        client.get_offers({"request": request_for("b")})  # this thread's lane, opened
        return client._strategy.run(slow_to_start, what="call")

    thread, outcome = call_in_thread(call)
    time.sleep(0.3)
    closing.set()
    started = time.monotonic()
    client.close(cancel_pending=True)
    thread.join(5)
    assert time.monotonic() - started < 3
    assert isinstance(outcome[0], cf.CancelledError)


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
    twin._router.hint = "28"  # what a response revealing an edge cluster does
    assert original.target_location_hint == "28"
    await twin.aclose()
    await original.aclose()


def test_host_name_lookups_share_a_few_threads(make_client: MakeClient, stub: Stub) -> None:
    """aiohttp resolves host names on the loop's executor: the lanes share one small pool, not one each, and it
    stops with the last lane."""
    client = make_client(server_domain=f"localhost:{stub.port}")
    callers = [call_in_thread(lambda: client.get_offers({"request": request_for("x")}), f"c{i}") for i in range(8)]
    for thread, outcome in callers:
        thread.join(20)
        assert isinstance(outcome[0], TargetDeliveryResponse)
    resolvers = [t for t in threading.enumerate() if t.name.startswith(RESOLVER_THREAD_PREFIX)]
    assert 1 <= len(resolvers) <= 4
    client.close()  # the last lane of the process: the lookup threads stop (checked by the autouse fixture)
    assert not wait_for_no_shim_threads()


class ClosesIdleConnections:
    """A Delivery API stand-in that closes a kept-alive connection after 0.2 s without a request (as servers
    and load balancers with a short keep-alive timeout do)."""

    def __init__(self) -> None:
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.domain = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        body = b'{"status": 200, "requestId": "r", "client": "acmeclient", "edgeHost": "localhost"}'
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        answer = head + body
        with conn:
            conn.settimeout(0.2)
            buffer = b""
            while True:
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    return  # idle: hang up
                if not chunk:
                    return
                buffer += chunk
                head, sep, rest = buffer.partition(b"\r\n\r\n")
                if not sep:
                    continue
                lines = head.split(b"\r\n")[1:]
                length = int(next(line.split(b":")[1] for line in lines if line.lower().startswith(b"content-length")))
                if len(rest) >= length:
                    buffer = rest[length:]
                    conn.sendall(answer)

    def close(self) -> None:
        self._sock.close()


def test_a_call_after_an_idle_pause_never_reuses_a_connection_the_server_closed(make_client: MakeClient) -> None:
    server = ClosesIdleConnections()
    try:
        client = make_client(server_domain=server.domain, retries=0)
        client.get_offers({"request": request_for("a")})
        time.sleep(0.3)  # the server hangs up after 0.2 s; nothing runs this thread's loop meanwhile
        assert client.get_offers({"request": request_for("a")}).response.status == 200  # not a ConnectError
        assert server.connections == 2
    finally:
        server.close()


def test_blocking_calls_see_the_callers_context_variables(client: TargetClient) -> None:
    seen: list[str] = []
    probe = ThreadProbe(action=lambda: seen.append(TRACE_ID.get()))
    token = TRACE_ID.set("trace-7")
    try:
        client.get_offers({"request": request_for("a"), "visitor": probe})
    finally:
        TRACE_ID.reset(token)
    assert seen == ["trace-7"]


def test_a_blocking_call_made_inside_a_blocking_call_does_not_deadlock(client: TargetClient) -> None:
    """User code the SDK calls (a visitor) may call the client again: the inner call cannot use the thread's
    loop, which is running the outer one, so it goes through the shared loop thread, with a warning."""
    inner: list[list[str]] = []
    probe = ThreadProbe(action=lambda: inner.append(mbox_names(client.get_offers({"request": request_for("in")}))))
    with pytest.warns(RuntimeWarning, match="blocks the asyncio event loop"):
        outer = client.get_offers({"request": request_for("out"), "visitor": probe})
    assert mbox_names(outer) == ["out"] and inner == [["in"]]


def test_1000_blocking_calls_from_50_threads(client: TargetClient, stub: Stub) -> None:
    """Every call gets its own answer; each thread reuses one connection; closing leaves no lane behind."""
    stub.reset()
    answers: dict[str, list[str]] = {}
    start = threading.Barrier(50)

    def worker(n: int) -> None:
        start.wait()
        for i in range(20):
            name = f"m-{n}-{i}"
            answers[name] = mbox_names(client.get_offers({"request": request_for(name)}))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == {f"m-{n}-{i}": [f"m-{n}-{i}"] for n in range(50) for i in range(20)}
    stats = stub.stats()
    assert stats["requests"] == 1000 and stats["connections"] == 50
    client.close()
    assert len(client._strategy.lanes) == 0
