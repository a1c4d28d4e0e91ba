"""Fixtures for the sync facade: a Delivery API stub served by uvicorn in its own process, and clients."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from target_async.models import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest
from target_async.sync import TargetClient
from target_async.sync._callback_thread import CALLBACK_THREAD_NAME
from target_async.sync._lanes import RESOLVER_THREAD_PREFIX
from target_async.sync._loop_thread import LOOP_THREAD_NAME
from target_async.testing import free_port

HERE = Path(__file__).parent
SHIM_THREADS = (LOOP_THREAD_NAME, CALLBACK_THREAD_NAME)
WORKER_THREAD_NAME = "AnyIO worker thread"  # runs the sync callables given to RepositoryClient


class Stub:
    """The stub server process (see ``stub_server.py``)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.domain = f"127.0.0.1:{port}"
        self.url = f"http://{self.domain}"
        self._http = httpx.Client(base_url=self.url, timeout=10)

    def stats(self) -> dict[str, Any]:
        return self._http.get("/stats").json()  # type: ignore[no-any-return]

    def reset(self) -> None:
        self._http.post("/reset").raise_for_status()

    def close(self) -> None:
        self._http.close()


@pytest.fixture(scope="session")
def stub() -> Iterator[Stub]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "stub_server.py"), str(port)])
    server = Stub(port)
    deadline = time.monotonic() + 20
    try:
        while True:
            try:
                server.stats()
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the stub server did not start") from None
                time.sleep(0.05)
        yield server
    finally:
        server.close()
        proc.kill()  # a graceful stop would wait for the stub's deliberately slow answers
        proc.wait(10)


@pytest.fixture
def client_options(stub: Stub) -> dict[str, Any]:
    return {
        "client": "acmeclient",
        "organization_id": "1234567890@AdobeOrg",
        "server_domain": stub.domain,
        "secure": False,
    }


@pytest.fixture
def make_client(client_options: dict[str, Any]) -> Iterator[Callable[..., TargetClient]]:
    """``make_client(**extra_options)``: a TargetClient on the stub, closed after the test."""
    clients: list[TargetClient] = []

    def make(**extra: Any) -> TargetClient:
        client = TargetClient.create({**client_options, **extra})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., TargetClient]) -> TargetClient:
    return make_client()


def shim_threads(*, workers: bool = False) -> list[threading.Thread]:
    names = (*SHIM_THREADS, WORKER_THREAD_NAME) if workers else SHIM_THREADS
    return [
        t for t in threading.enumerate() if t.name in names or (workers and t.name.startswith(RESOLVER_THREAD_PREFIX))
    ]


def wait_for_no_shim_threads(timeout: float = 5.0) -> list[threading.Thread]:
    deadline = time.monotonic() + timeout
    while (left := shim_threads(workers=True)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return left


@pytest.fixture(autouse=True)
def _shim_threads_stop() -> Iterator[None]:
    """Every test closes what it opens: afterwards no shim thread is left (no backoff: tests/conftest.py)."""
    yield
    left = wait_for_no_shim_threads()
    assert not left, f"threads left running after the test: {left}"


def request_for(*names: str) -> DeliveryRequest:
    mboxes = [MboxRequest(name=name, index=i) for i, name in enumerate(names, 1)]
    return DeliveryRequest(context=Context(channel=ChannelType.WEB), execute=ExecuteRequest(mboxes=mboxes))


def mbox_names(response: Any) -> list[str]:
    return [m.name for m in response.response.execute.mboxes]
