"""Test helpers and a pytest plugin for code that uses target_async.

Installed as a pytest plugin (entry point ``target_async``), it offers these fixtures:

=================================  ===============================================================================
fixture                            what it gives
=================================  ===============================================================================
``target_emulator_app``            a fresh emulator ASGI app (in-memory SQLite), one per test
``target_emulator_transport``      an ``httpx.ASGITransport`` over that app (in-process, no sockets)
``target_emulator_url``            the base URL of an emulator served by uvicorn on a free loopback port
``target_client``                  an ``AsyncTargetClient`` wired to the in-process emulator
``target_ondevice_client``         an ``AsyncTargetClient`` deciding on-device from that emulator's artifact
``target_loopback_client``         an ``AsyncTargetClient`` talking to the loopback emulator over real HTTP
``repository_client``              an ``AsyncRepositoryClient`` wired to the in-process emulator
``repository_loopback_client``     an ``AsyncRepositoryClient`` talking to the loopback emulator over real HTTP
``target_no_backoff``              retry and polling delays off for one test
=================================  ===============================================================================

For wire tests without a server, :class:`Recorder` is an ``httpx.MockTransport`` handler that records every
request and answers from a queue of responses, then with a function (``recorder.transport()`` wraps it).

The emulator decides from the fixtures of ``create_app(fixtures=...)`` (or an ``artifact=``): override
``target_emulator_app`` in a ``conftest.py`` (``return emulator_app(fixtures={...})``) to give every client
fixture your own.

Every fixture is synchronous, so it works with whatever runs the async tests: pytest-asyncio in strict mode (its
default: mark the tests ``@pytest.mark.asyncio``) or auto mode, and anyio's plugin (``@pytest.mark.anyio``, on
asyncio and trio). A client fixture gives an unopened client: it binds to the event loop of the test that first
uses it, and the fixture closes it in that loop after the test (under anyio, the fixture keeps anyio's test
runner open until then). A test that runs its own loop (``asyncio.run`` in a plain test) closes the client in it
(``async with client:``).

Loading the plugin costs nothing to a project that does not use it: this module imports no part of the SDK, no
HTTP library and no emulator until a fixture runs. The emulator fixtures need the ``emulator`` extra
(``pip install 'target-async[emulator]'``) and say so when it is missing.

Outside pytest, :func:`serve` runs any ASGI app on loopback in a background thread, and
:func:`disable_backoff` turns the retry and polling delays off (stamina's ``set_testing`` idea).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import asyncio

    import httpx

    from .delivery import AsyncTargetClient
    from .repository import AsyncRepositoryClient

__all__ = [
    "EMULATOR_CLIENT",
    "EMULATOR_EXTRA",
    "EMULATOR_ORG_ID",
    "Recorder",
    "disable_backoff",
    "emulator_app",
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


EMULATOR_EXTRA = "pip install 'target-async[emulator]'"


def disable_backoff() -> None:
    """Retry and poll without waiting (process-wide) — for tests."""
    from ._retry import set_backoff_enabled

    set_backoff_enabled(False)


def enable_backoff() -> None:
    """Undo :func:`disable_backoff`."""
    from ._retry import set_backoff_enabled

    set_backoff_enabled(True)


Answer = Callable[["httpx.Request"], "httpx.Response"]
"""How a :class:`Recorder` answers a request."""


class Recorder:
    """An ``httpx.MockTransport`` handler for wire tests: it records every request and answers it.

    The answer is the next one queued with :meth:`then` (a response, or a function of the request), else
    ``answer(request)`` (by default ``200`` with ``{}``; assign another function at any time)::

        recorder = Recorder().then(httpx.Response(503), httpx.Response(200, json={"ok": True}))
        client = AsyncTargetClient(client="acme", organization_id="...", transport=recorder.transport())
        ...
        assert len(recorder.requests) == 2 and recorder.json()["context"]["channel"] == "web"

    httpx is imported when a request is answered, not when this module loads.
    """

    def __init__(self, answer: Answer | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answer: Answer = answer or _empty_ok
        self.queue: list[httpx.Response | Answer] = []

    def then(self, *answers: httpx.Response | Answer) -> Recorder:
        """Queue answers for the next requests, in order (each used once); returns the recorder."""
        self.queue.extend(answers)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.queue:
            item = self.queue.pop(0)
            return item(request) if callable(item) else item
        return self.answer(request)

    def transport(self) -> httpx.MockTransport:
        """An ``httpx.MockTransport`` answering through this recorder (``transport=`` of either client)."""
        import httpx

        return httpx.MockTransport(self)

    @property
    def last(self) -> httpx.Request:
        """The last request recorded."""
        return self.requests[-1]

    def json(self, index: int = -1) -> Any:
        """The JSON body of a recorded request (the last by default)."""
        import json

        return json.loads(self.requests[index].content)

    def last_json(self) -> Any:
        """The JSON body of the last request."""
        return self.json()


def _empty_ok(request: httpx.Request) -> httpx.Response:
    import httpx

    return httpx.Response(200, json={})


def _missing_extra(exc: ImportError, what: str) -> ModuleNotFoundError:
    """The error for an emulator dependency that is not installed: it names the extra that brings it."""
    missing = exc.name or "a dependency"
    return ModuleNotFoundError(
        f"{what} needs the emulator extra, which is not installed (no module named {missing!r}): {EMULATOR_EXTRA}",
        name=exc.name,
    )


def _is_third_party(exc: ImportError) -> bool:
    return exc.name is not None and exc.name.split(".")[0] != "target_async"


def emulator_app(**options: Any) -> Any:
    """A fresh emulator app (``target_async.emulator.create_app(**options)``), or an error naming the extra."""
    try:
        from .emulator import create_app
    except ImportError as exc:
        if not _is_third_party(exc):
            raise
        raise _missing_extra(exc, "the target_async emulator") from exc
    return create_app(**options)


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
    try:
        import uvicorn
    except ImportError as exc:
        raise _missing_extra(exc, "target_async.testing.serve") from exc

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


class _Closable(Protocol):
    async def aclose(self) -> None: ...


def _loop_of(client: object) -> asyncio.AbstractEventLoop | None:
    """The asyncio loop the client's connection pool was built in (None: unused, or not on asyncio)."""
    import asyncio

    core = getattr(client, "_http", None) or getattr(client, "_core", None)
    loop = getattr(core, "_loop", None)
    return loop if isinstance(loop, asyncio.AbstractEventLoop) else None


def _aclose_outside_its_loop(client: _Closable) -> None:
    """Close a client whose loop is gone (or that never ran): on a private loop, which is enough when it holds
    no connection of that loop (unused, or on the in-process transport)."""
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(client.aclose())
    finally:
        loop.close()


@contextlib.contextmanager
def _closed_after_the_test(request: Any, client: _Closable) -> Iterator[None]:
    """Yield while the test runs, then close ``client`` in the event loop the test used it in.

    Under pytest-asyncio, its loop fixture is set up first (so it is torn down last) and the client is closed in
    that loop, open but not running. anyio's plugin closes its runner as soon as the last user lets go, so under
    anyio this holds a lease on the runner (the test then runs in it) and closes the client through it.
    """
    with contextlib.ExitStack() as stack:
        test_loop: Any = None
        for name in request.fixturenames:
            # pytest-asyncio's loop (a Runner in 1.x, event_loop before): set up before this fixture, so that it
            # is torn down after it, still open when the client is closed
            if name == "event_loop" or (name.startswith("_") and name.endswith(("_scoped_runner", "_event_loop"))):
                value = request.getfixturevalue(name)
                test_loop = value.get_loop() if hasattr(value, "get_loop") else value
        runner: Any = None
        if "anyio_backend" in request.fixturenames:
            from anyio.pytest_plugin import extract_backend_and_options, get_runner

            backend = extract_backend_and_options(request.getfixturevalue("anyio_backend"))
            runner = stack.enter_context(get_runner(*backend))
        yield
        loop = _loop_of(client) or (test_loop if hasattr(test_loop, "run_until_complete") else None)
        if loop is not None and not loop.is_closed() and not loop.is_running():
            loop.run_until_complete(client.aclose())
        elif runner is not None:
            runner.run_fixture(client.aclose, {})
        else:
            try:
                _aclose_outside_its_loop(client)
            except RuntimeError as exc:  # its connections belong to a loop that is closed
                raise RuntimeError(
                    "target_async.testing: the client was used in an event loop that was closed before the "
                    "fixture could close the client in it (a test running its own asyncio.run?); close it in "
                    "that loop: `async with client: ...`"
                ) from exc


try:
    import pytest
except ImportError:  # pragma: no cover - the plugin part needs pytest; the helpers above do not
    pass
else:

    @pytest.fixture
    def target_emulator_app() -> Any:
        """A fresh emulator app (in-memory SQLite)."""
        return emulator_app()

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
    def target_client(
        request: pytest.FixtureRequest, target_emulator_transport: httpx.ASGITransport
    ) -> Iterator[AsyncTargetClient]:
        """An AsyncTargetClient wired to the in-process emulator (opened by the test, closed after it)."""
        client = _make_target_client(server_domain="emulator.test", secure=False, transport=target_emulator_transport)
        with _closed_after_the_test(request, client):
            yield client

    @pytest.fixture
    def target_ondevice_client(
        request: pytest.FixtureRequest, target_emulator_transport: httpx.ASGITransport
    ) -> Iterator[AsyncTargetClient]:
        """An AsyncTargetClient deciding on-device from the in-process emulator's rules artifact (its first call
        waits for the artifact; what the artifact marks remote goes to the emulator). No polling."""
        client = _make_target_client(
            server_domain="emulator.test",
            secure=False,
            transport=target_emulator_transport,
            decisioning_method="on-device",
            artifact_location=f"http://emulator.test/{EMULATOR_CLIENT}/production/v1/rules.json",
            polling_interval=0,
        )
        with _closed_after_the_test(request, client):
            yield client

    @pytest.fixture
    def target_loopback_client(request: pytest.FixtureRequest, target_emulator_url: str) -> Iterator[AsyncTargetClient]:
        """An AsyncTargetClient talking to the loopback emulator over real HTTP (closed after the test)."""
        client = _make_target_client(server_domain=target_emulator_url.removeprefix("http://"), secure=False)
        with _closed_after_the_test(request, client):
            yield client

    @pytest.fixture
    def repository_client(
        request: pytest.FixtureRequest, target_emulator_transport: httpx.ASGITransport
    ) -> Iterator[AsyncRepositoryClient]:
        """An AsyncRepositoryClient wired to the in-process emulator (closed after the test)."""
        client = _make_repository_client(
            base_url="http://emulator.test/data/core/xcore/", transport=target_emulator_transport
        )
        with _closed_after_the_test(request, client):
            yield client

    @pytest.fixture
    def repository_loopback_client(
        request: pytest.FixtureRequest, target_emulator_url: str
    ) -> Iterator[AsyncRepositoryClient]:
        """An AsyncRepositoryClient talking to the loopback emulator over real HTTP (closed after the test)."""
        client = _make_repository_client(base_url=f"{target_emulator_url}/data/core/xcore/")
        with _closed_after_the_test(request, client):
            yield client

    @pytest.fixture
    def target_no_backoff() -> Iterator[Callable[[], None]]:
        """Disable retry/poll delays for one test."""
        disable_backoff()
        yield disable_backoff
        enable_backoff()
