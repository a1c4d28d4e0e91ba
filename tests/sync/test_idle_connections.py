"""Pooled connections that a server closes while they sit idle: no sync call ever picks a dead one.

A server closes keep-alive connections that stay idle for a while (a few seconds in production; 30 ms here).
A blocking call runs on its thread's own event loop (a lane), which does not run between calls: before the
fix, the pool only learnt of the close when it reused the connection, and every other call failed with
``ConnectError`` without reaching the server (7 of 15). The servers are uvicorn on loopback with a short
``timeout_keep_alive``.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from target_async.emulator import create_app
from target_async.sync import RepositoryClient, TargetClient
from target_async.testing import serve

from .conftest import mbox_names, request_for
from .stub_server import app as stub_app

IDLE = 0.03  # seconds the servers keep an idle connection open
PAUSE = 0.08  # seconds between calls: every call comes after the server has closed the previous connection


class IdleClosingServer:
    """The Delivery stub of ``stub_server.py``, served in this process, closing idle connections after IDLE."""

    def __init__(self, url: str, verify: ssl.SSLContext | bool = False) -> None:
        self.url = url
        self.domain = url.split("://", 1)[1]
        self._http = httpx.Client(base_url=url, verify=verify, timeout=10)

    def received(self) -> int:
        return int(self._http.get("/stats").json()["requests"])

    def reset(self) -> None:
        self._http.post("/reset").raise_for_status()


@pytest.fixture
def http_server() -> Iterator[IdleClosingServer]:
    with serve(stub_app, timeout_keep_alive=IDLE) as url:
        server = IdleClosingServer(url)
        server.reset()
        yield server
        server._http.close()


@pytest.fixture
def ca_file(tmp_path: Path) -> Iterator[tuple[trustme.CA, str]]:
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    yield ca, str(path)


@pytest.fixture
def https_server(ca_file: tuple[trustme.CA, str], tmp_path: Path) -> Iterator[IdleClosingServer]:
    ca, ca_path = ca_file
    cert = ca.issue_cert("127.0.0.1")
    cert_path, key_path = tmp_path / "server.pem", tmp_path / "server.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    with serve(stub_app, timeout_keep_alive=IDLE, ssl_certfile=str(cert_path), ssl_keyfile=str(key_path)) as url:
        server = IdleClosingServer(url, verify=ssl.create_default_context(cafile=ca_path))
        server.reset()
        yield server
        server._http.close()


def _create(server: IdleClosingServer, **extra: Any) -> TargetClient:
    return TargetClient.create(
        {
            "client": "acmeclient",
            "organization_id": "1234567890@AdobeOrg",
            "server_domain": server.domain,
            "secure": server.url.startswith("https"),
            **extra,
        }
    )


def _paced(call: Callable[[int], object], times: int) -> list[str]:
    """Make ``times`` calls, PAUSE apart; the failures, as text."""
    failures: list[str] = []
    for i in range(times):
        if i:
            time.sleep(PAUSE)
        try:
            call(i)
        except Exception as exc:
            failures.append(f"call {i}: {exc!r}")
    return failures


def test_blocking_calls_after_the_server_closed_the_idle_connection_all_succeed(
    http_server: IdleClosingServer,
) -> None:
    def call(i: int) -> None:
        assert mbox_names(client.get_offers({"request": request_for(f"m{i}")})) == [f"m{i}"]

    with _create(http_server) as client:
        failures = _paced(call, 15)
    assert failures == []
    assert http_server.received() == 15  # each call reached the server once


def test_blocking_calls_over_tls_after_the_server_closed_the_idle_connection_all_succeed(
    https_server: IdleClosingServer, ca_file: tuple[trustme.CA, str]
) -> None:
    with _create(https_server, verify=ca_file[1]) as client:
        failures = _paced(lambda i: client.get_offers({"request": request_for(f"m{i}")}), 8)
    assert failures == []
    assert https_server.received() == 8


def test_callback_calls_after_the_server_closed_the_idle_connection_all_succeed(
    http_server: IdleClosingServer,
) -> None:
    # callback calls run on the shared loop thread, whose loop always runs: it sees each close as it happens
    with _create(http_server) as client:
        failures = _paced(
            lambda i: client.get_offers({"request": request_for(f"m{i}"), "callback": lambda r: None}).get(10), 4
        )
    assert failures == []
    assert http_server.received() == 4


def test_repository_calls_after_the_server_closed_the_idle_connection_all_succeed() -> None:
    # RepositoryClient runs on the shared loop thread too
    with (
        serve(create_app(), timeout_keep_alive=IDLE) as url,
        RepositoryClient(
            access_token="t",
            api_key="k",
            org_id="SYNC0000@AdobeOrg",
            sandbox_name="prod",
            base_url=f"{url}/data/core/xcore/",
        ) as repo,
    ):
        failures = _paced(lambda i: repo.list_containers(["dma_offers", "acp"]), 4)
    assert failures == []
