"""Test helpers and a pytest plugin for code that uses target_async.

Installed as a pytest plugin (entry point ``target_async``), it offers these fixtures:

=================================  ===============================================================================
fixture                            what it gives
=================================  ===============================================================================
``target_emulator_app``            a fresh emulator ASGI app (in-memory SQLite), one per test
``target_emulator_transport``      an ``httpx.ASGITransport`` over that app (in-process, no sockets)
``target_emulator_url``            the base URL of an emulator served by uvicorn on a free loopback port
``target_client``                  an ``AsyncTargetClient`` wired to the in-process emulator
``target_loopback_client``         an ``AsyncTargetClient`` talking to the loopback emulator over real HTTP
``repository_client``              an ``AsyncRepositoryClient`` wired to the in-process emulator
``repository_loopback_client``     an ``AsyncRepositoryClient`` talking to the loopback emulator over real HTTP
=================================  ===============================================================================

Outside pytest, :func:`serve` runs any ASGI app on loopback in a background thread, and
:func:`disable_backoff` turns the retry and polling delays off (stamina's ``set_testing`` idea).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from ._retry import set_backoff_enabled

if TYPE_CHECKING:
    import httpx

    from .delivery import AsyncTargetClient
    from .repository import AsyncRepositoryClient

__all__ = [
    "EMULATOR_CLIENT",
    "EMULATOR_ORG_ID",
    "disable_backoff",
    "enable_backoff",
    "free_port",
    "serve",
]

EMULATOR_CLIENT = "emulator"
EMULATOR_ORG_ID = "EMULATOR0000000000000000@AdobeOrg"
_REPO_CREDENTIALS: dict[str, str] = {
    "access_token": "emulator-token",
    "api_key": "emulator-api-key",
    "org_id": EMULATOR_ORG_ID,
    "sandbox_name": "prod",
}


def disable_backoff() -> None:
    """Retry and poll without waiting (process-wide) — for tests."""
    set_backoff_enabled(False)


def enable_backoff() -> None:
    """Undo :func:`disable_backoff`."""
    set_backoff_enabled(True)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(
    app: Any, *, host: str = "127.0.0.1", port: int | None = None, timeout: float = 10.0, **uvicorn_options: Any
) -> Iterator[str]:
    """Serve the ASGI ``app`` with uvicorn in a background thread; yield its base URL (``http://host:port``).

    ``uvicorn_options`` go to ``uvicorn.Config`` (e.g. ``ssl_certfile``/``ssl_keyfile``: the URL then starts
    with ``https://``). Needs uvicorn (``target-async[emulator]``).
    """
    import uvicorn

    port = port or free_port(host)
    options: dict[str, Any] = {"log_level": "warning", "lifespan": "off", "access_log": False, **uvicorn_options}
    config = uvicorn.Config(app, host=host, port=port, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"target-async-serve-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server on {host}:{port} did not start")
        time.sleep(0.01)
    scheme = "https" if uvicorn_options.get("ssl_certfile") else "http"
    try:
        yield f"{scheme}://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


def _make_target_client(**kwargs: Any) -> AsyncTargetClient:
    from .delivery import AsyncTargetClient

    kwargs.setdefault("client", EMULATOR_CLIENT)
    kwargs.setdefault("organization_id", EMULATOR_ORG_ID)
    return AsyncTargetClient(**kwargs)


def _make_repository_client(**kwargs: Any) -> AsyncRepositoryClient:
    from .repository import AsyncRepositoryClient

    return AsyncRepositoryClient(**{**_REPO_CREDENTIALS, **kwargs})


try:
    import pytest
except ImportError:  # pragma: no cover - the plugin part needs pytest; the helpers above do not
    pass
else:

    @pytest.fixture
    def target_emulator_app() -> Any:
        """A fresh emulator app (in-memory SQLite)."""
        from .emulator import create_app

        return create_app()

    @pytest.fixture
    def target_emulator_transport(target_emulator_app: Any) -> httpx.ASGITransport:
        """An in-process transport to the emulator."""
        import httpx

        return httpx.ASGITransport(app=target_emulator_app)

    @pytest.fixture
    def target_emulator_url(target_emulator_app: Any) -> Iterator[str]:
        """The base URL of the emulator served on a free loopback port."""
        with serve(target_emulator_app) as url:
            yield url

    @pytest.fixture
    async def target_client(
        target_emulator_transport: httpx.ASGITransport,
    ) -> AsyncIterator[AsyncTargetClient]:
        """An AsyncTargetClient wired to the in-process emulator."""
        async with _make_target_client(
            server_domain="emulator.test", secure=False, transport=target_emulator_transport
        ) as client:
            yield client

    @pytest.fixture
    async def target_loopback_client(target_emulator_url: str) -> AsyncIterator[AsyncTargetClient]:
        """An AsyncTargetClient talking to the loopback emulator over real HTTP."""
        async with _make_target_client(
            server_domain=target_emulator_url.removeprefix("http://"), secure=False
        ) as client:
            yield client

    @pytest.fixture
    async def repository_client(
        target_emulator_transport: httpx.ASGITransport,
    ) -> AsyncIterator[AsyncRepositoryClient]:
        """An AsyncRepositoryClient wired to the in-process emulator."""
        async with _make_repository_client(
            base_url="http://emulator.test/data/core/xcore/", transport=target_emulator_transport
        ) as client:
            yield client

    @pytest.fixture
    async def repository_loopback_client(target_emulator_url: str) -> AsyncIterator[AsyncRepositoryClient]:
        """An AsyncRepositoryClient talking to the loopback emulator over real HTTP."""
        async with _make_repository_client(base_url=f"{target_emulator_url}/data/core/xcore/") as client:
            yield client

    @pytest.fixture
    def target_no_backoff() -> Iterator[Callable[[], None]]:
        """Disable retry/poll delays for one test."""
        disable_backoff()
        yield disable_backoff
        enable_backoff()
