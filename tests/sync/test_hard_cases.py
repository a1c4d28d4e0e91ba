"""The cases that hang or leak in naive shims: foreign event loops, callbacks that wait, fork, exit, load."""

from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from target_async import WrongThreadError
from target_async.delivery import TargetDeliveryResponse
from target_async.sync import AsyncResult, TargetClient

from .conftest import Stub, mbox_names, request_for

MakeClient = Callable[..., TargetClient]


# -- a thread that runs its own event loop (FastAPI handler, Jupyter) -------------------------------------


async def test_blocking_call_inside_a_running_loop_works_and_warns(client: TargetClient) -> None:
    with pytest.warns(RuntimeWarning, match="blocks the asyncio event loop") as warned:
        response = client.get_offers({"request": request_for("hero")})
    assert isinstance(response, TargetDeliveryResponse)
    assert warned[0].filename == __file__  # points at the caller


async def test_callback_call_inside_a_running_loop_can_be_awaited(client: TargetClient) -> None:
    got: list[Any] = []
    result = client.get_offers({"request": request_for("slow-100"), "callback": got.append})
    assert isinstance(result, AsyncResult)
    response = await asyncio.wait_for(asyncio.wrap_future(result.future), 10)  # does not block the loop
    await asyncio.to_thread(result.wait, 10)  # the callback runs on its own thread, whatever this loop does
    assert result.get(timeout=0) is response
    assert got == [response]


async def test_sync_facade_inside_an_asgi_handler(client: TargetClient) -> None:
    async def handler(request: Request) -> JSONResponse:
        with pytest.warns(RuntimeWarning):
            response = client.get_offers({"request": request_for("hero")})
        assert isinstance(response, TargetDeliveryResponse)
        return JSONResponse({"mboxes": mbox_names(response)})

    app = Starlette(routes=[Route("/", handler)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http:
        answer = await asyncio.wait_for(http.get("/"), 10)
    assert answer.json() == {"mboxes": ["hero"]}


def test_a_thread_with_its_own_loop(client: TargetClient) -> None:
    answers: list[Any] = []

    async def main() -> None:
        with pytest.warns(RuntimeWarning):
            answers.append(mbox_names(client.get_offers({"request": request_for("a")})))
        result = client.get_offers({"request": request_for("b"), "callback": lambda r: None})
        answers.append(mbox_names(await asyncio.wrap_future(result.future)))

    worker = threading.Thread(target=asyncio.run, args=(main(),))
    worker.start()
    worker.join(30)
    assert not worker.is_alive()
    assert answers == [["a"], ["b"]]


def test_the_facade_refuses_its_own_loop_thread(client: TargetClient) -> None:
    def on_loop() -> object:
        return client.get_offers({"request": request_for("hero")})

    with pytest.raises(WrongThreadError, match="use AsyncTargetClient"):
        client._strategy.threads.loop_thread.call(on_loop)


# -- get() from a callback -------------------------------------------------------------------------------


def test_get_inside_a_callback_for_an_unfinished_call_fails_clearly(client: TargetClient) -> None:
    slow = client.get_offers({"request": request_for("slow-300"), "callback": lambda r: None})
    errors: list[BaseException] = []

    def callback(response: Any) -> None:
        try:
            slow.get(timeout=10)  # would time out (or, without a timeout, hang) if it were not refused
        except WrongThreadError as exc:
            errors.append(exc)

    quick = client.get_offers({"request": request_for("hero"), "callback": callback})
    quick.get(timeout=10)
    assert len(errors) == 1 and "would wait forever" in str(errors[0])
    slow.get(timeout=10)


def test_blocking_calls_inside_a_callback_work(client: TargetClient) -> None:
    inner: list[Any] = []

    def callback(response: Any) -> None:
        inner.append(mbox_names(client.get_offers({"request": request_for("inner")})))

    client.get_offers({"request": request_for("outer"), "callback": callback}).get(timeout=10)
    assert inner == [["inner"]]


def test_close_inside_a_callback(client_options: dict[str, Any]) -> None:
    client = TargetClient.create(client_options)
    closed: list[bool] = []

    def callback(response: Any) -> None:
        client.close()
        closed.append(client.closed)

    client.get_offers({"request": request_for("hero"), "callback": callback}).get(timeout=10)
    assert closed == [True]


# -- load -----------------------------------------------------------------------------------------------


def test_1000_concurrent_callback_calls_from_50_threads(client: TargetClient) -> None:
    calls: collections.Counter[str] = collections.Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()
    results: list[AsyncResult[Any]] = []
    start = threading.Barrier(50)

    def on_response(response: Any) -> None:
        with lock:
            calls[mbox_names(response)[0]] += 1

    def worker(n: int) -> None:
        start.wait()
        mine = [
            client.get_offers(
                {"request": request_for(f"m-{n}-{i}"), "callback": on_response, "err_callback": errors.append}
            )
            for i in range(20)
        ]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for result in results:
        result.get(timeout=60)
    assert errors == []
    assert len(results) == 1000
    assert calls == {f"m-{n}-{i}": 1 for n in range(50) for i in range(20)}


# -- subprocesses: fork, interpreter exit --------------------------------------------------------------


def _run(body: str, stub: Stub, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``_PRELUDE`` plus ``body`` in a fresh interpreter, with a hard timeout."""
    code = (_PRELUDE + textwrap.dedent(body)).replace("SERVER_DOMAIN", repr(stub.domain))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)


_PRELUDE = """
import os, sys, threading
from target_async.models import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest
from target_async.sync import TargetClient
OPTIONS = {"client": "acmeclient", "organization_id": "o@AdobeOrg", "server_domain": SERVER_DOMAIN, "secure": False}
def request(name):
    return DeliveryRequest(context=Context(channel=ChannelType.WEB),
                           execute=ExecuteRequest(mboxes=[MboxRequest(name=name, index=1)]))
def names(r):
    return [m.name for m in r.response.execute.mboxes]
"""


@pytest.mark.fork
@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_fork_child_gets_a_clear_error_or_a_working_client(stub: Stub) -> None:
    done = _run(
        """
        import signal
        from target_async import ClientForkedError
        parent = TargetClient.create(OPTIONS)
        print("parent", names(parent.get_offers({"request": request("before")})), flush=True)
        pending = parent.get_offers({"request": request("slow-2000"), "callback": lambda r: None})
        pid = os.fork()
        if pid == 0:
            signal.alarm(20)  # a hang kills the child instead of the test
            try:
                parent.get_offers({"request": request("child-old")})
            except ClientForkedError as exc:
                print("child old client:", exc, flush=True)
            try:
                pending.get(timeout=None)
            except ClientForkedError as exc:
                print("child old result:", exc, flush=True)
            parent.close()  # must not hang either
            child = TargetClient.create(OPTIONS)
            print("child new client", names(child.get_offers({"request": request("child-new")})), flush=True)
            got = []
            child.get_offers({"request": request("child-cb"), "callback": got.append}).get(timeout=10)
            print("child callback", len(got), flush=True)
            unclosed = TargetClient.create(OPTIONS)  # left for interpreter exit
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        print("child status", status, flush=True)
        print("parent after", names(parent.get_offers({"request": request("after")})), flush=True)
        pending.get(timeout=10)
        parent.close()
        """,
        stub,
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr
    assert "parent ['before']" in out
    assert "child old client: this TargetClient was created before os.fork()" in out
    assert "child old result: this AsyncResult belongs to the parent process" in out
    assert "child new client ['child-new']" in out
    assert "child callback 1" in out
    assert "child status 0" in out
    assert "parent after ['after']" in out


def test_interpreter_exit_finishes_callbacks_and_never_hangs(stub: Stub) -> None:
    done = _run(
        """
        client = TargetClient.create(OPTIONS)
        for i in range(20):
            client.get_offers({"request": request("slow-200"), "callback": lambda r: print("callback", flush=True)})
        # no close(): interpreter exit drains the calls and stops the threads
        """,
        stub,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("callback") == 20


def test_threads_never_keep_the_process_alive(stub: Stub) -> None:
    done = _run(
        """
        import target_async.sync._shared_threads
        target_async.sync._shared_threads.SHUTDOWN_TIMEOUT = 1.0  # the exit drain's bound (default 5 s)
        client = TargetClient.create({**OPTIONS, "timeout": 60000})
        client.get_offers({"request": request("slow-30000"), "callback": lambda r: print("late", flush=True),
                           "err_callback": lambda e: print("cancelled:", type(e).__name__, flush=True)})
        print(sorted(t.name for t in threading.enumerate()), flush=True)
        """,
        stub,
        timeout=20,  # the call would take 30 s
    )
    assert done.returncode == 0, done.stderr
    assert "'target-async-callbacks', 'target-async-loop'" in done.stdout
    assert "late" not in done.stdout
    assert "cancelled: CancelledError" in done.stdout  # cancelled after the bounded drain, callback run
