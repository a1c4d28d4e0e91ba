"""Security issue #10, HTTP core and configuration: every item here failed before its fix.

Wire behaviour is checked on loopback servers (raw asyncio streams, so the test sees exactly what was sent and
how often); ``httpx.MockTransport`` only where nothing should reach a server at all.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import tracemalloc
import warnings
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

import target_async
from target_async import (
    APIError,
    AsyncRepositoryClient,
    AsyncTargetClient,
    ConfigurationError,
    ConnectError,
    EventLoopError,
    InsecureTLSWarning,
    RedirectError,
    RepositoryClient,
    RequestTimeoutError,
    ResponseDecodeError,
    ResponseTooLargeError,
    RetryPolicy,
    TargetClient,
    TargetError,
    UsageError,
    ValidationError,
    _exceptions,
)
from target_async._aiohttp import AiohttpTransport
from target_async._answer import Answer, BodyReader, BodyTooLarge
from target_async._http import HTTPCore, decode_answer

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

DELIVERY_OK = {"status": 200, "requestId": "r", "client": "c", "id": {"tntId": "t1"}}


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, dict[str, str], bytes]:
    """One request: its request line, headers (lower-case names) and body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if b":" in line:
            key, _, value = line.partition(b":")
            headers[key.decode().strip().lower()] = value.decode().strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return lines[0], headers, body


def reply(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    hdrs = {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}
    head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
    return head.encode() + b"\r\n" + body


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Start a loopback server running ``handler`` per connection; returns ``127.0.0.1:port``."""
    servers: list[asyncio.Server] = []
    tasks: list[asyncio.Task[Any]] = []

    async def start(handler: Handler) -> str:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            tasks.append(task)
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        srv = await asyncio.start_server(tracked, "127.0.0.1", 0)
        servers.append(srv)
        return f"127.0.0.1:{srv.sockets[0].getsockname()[1]}"

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for srv in servers:
        srv.close()
        await srv.wait_closed()


def answering(status: int, body: bytes, headers: dict[str, str] | None = None, log: list[Any] | None = None) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            request = await read_request(reader)
            if log is not None:
                log.append(request)
            writer.write(reply(status, body, headers))
            await writer.drain()

    return handler


def delivery_client(host: str, **kwargs: Any) -> AsyncTargetClient:
    return AsyncTargetClient(client="acme", organization_id="o@AdobeOrg", server_domain=host, secure=False, **kwargs)


def repo_client(**kwargs: Any) -> AsyncRepositoryClient:
    kwargs.setdefault("access_token", "tok")
    kwargs.setdefault("api_key", "key")
    kwargs.setdefault("org_id", "ORG@AdobeOrg")
    kwargs.setdefault("sandbox_name", "prod")
    return AsyncRepositoryClient(**kwargs)


def offers_request() -> dict[str, Any]:
    return {"context": {"channel": "web"}, "prefetch": {"mboxes": [{"name": "m", "index": 0}]}}


# -- 1. target_async.errors ---------------------------------------------------------------------------------


def test_errors_module_exports_the_whole_tree_and_the_same_classes() -> None:
    from target_async import errors

    tree = {
        name
        for name, value in vars(_exceptions).items()
        if isinstance(value, type) and issubclass(value, TargetError | Warning)
    }
    assert tree <= set(errors.__all__)
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert getattr(target_async, name) is cls
        assert issubclass(cls, TargetError) or issubclass(cls, Warning)
    assert errors.AsyncResultTimeout is target_async.AsyncResultTimeout


# -- 2. validation at construction --------------------------------------------------------------------------


BAD_NETWORK_OPTIONS = [
    ("proxy", "not a url"),
    ("proxy", "ftp://proxy.example:21"),
    ("proxy", "http://"),
    ("proxy", "http://proxy.example\r\nX-Evil: 1"),
    ("timeout", float("inf")),
    ("timeout", float("nan")),
    ("timeout", -1),
    ("timeout", 0),
    ("verify", "/no/such/ca-bundle.pem"),
    ("retries", -1),
    ("retries", 1.5),
    ("max_response_size", 0),
]


@pytest.mark.parametrize(("field", "value"), BAD_NETWORK_OPTIONS)
def test_bad_network_options_are_configuration_errors_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ConfigurationError) as delivery:
        delivery_client("h.example", **{field: value})
    assert delivery.value.field == field
    with pytest.raises(ConfigurationError) as repository:
        repo_client(**{field: value})
    assert repository.value.field == field


@pytest.mark.parametrize("proxy", ["http://proxy.example:3128", "https://u:p@proxy.example", "HTTP://proxy.example"])
def test_http_and_https_proxies_are_accepted(proxy: str) -> None:
    delivery_client("h.example", proxy=proxy)
    repo_client(proxy=httpx.Proxy(proxy))


def test_a_socks_proxy_needs_httpx_socks() -> None:
    import importlib.util

    if importlib.util.find_spec("socksio") is None:
        with pytest.raises(ConfigurationError, match=r"httpx\[socks\]") as exc:
            delivery_client("h.example", proxy="socks5://127.0.0.1:1080")
        assert exc.value.field == "proxy"
    else:  # pragma: no cover - socksio is not a test dependency
        delivery_client("h.example", proxy="socks5://127.0.0.1:1080")


def test_the_sync_facades_validate_the_same_way() -> None:
    with pytest.raises(ConfigurationError) as exc:
        TargetClient.create({"client": "acme", "organization_id": "o@AdobeOrg", "proxy": "not a url"})
    assert exc.value.field == "proxy"
    with pytest.raises(ConfigurationError) as exc:
        TargetClient.create({"client": "acme", "organization_id": "o@AdobeOrg", "max_response_size": 0})
    assert exc.value.field == "max_response_size"
    with pytest.raises(ConfigurationError) as exc:
        RepositoryClient(access_token="t", api_key="k", org_id="o", sandbox_name="prod", timeout=float("inf"))
    assert exc.value.field == "timeout"


@pytest.mark.parametrize("field", ["client", "organization_id"])
def test_control_characters_in_delivery_identity_are_refused(field: str) -> None:
    kwargs = {"client": "acme", "organization_id": "o@AdobeOrg", field: "x\r\nX-Evil: 1"}
    with pytest.raises(ConfigurationError) as exc:
        AsyncTargetClient(**kwargs)
    assert exc.value.field == field


@pytest.mark.parametrize("field", ["api_key", "org_id", "sandbox_name", "access_token"])
def test_control_characters_in_repository_identity_are_refused(field: str) -> None:
    with pytest.raises(ConfigurationError) as exc:
        repo_client(**{field: "x\r\nX-Evil: 1"})
    assert exc.value.field == field


async def test_a_token_callable_giving_control_characters_fails_before_sending() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    async with repo_client(access_token=lambda: "tok\r\nX-Evil: 1", transport=httpx.MockTransport(handler)) as repo:
        with pytest.raises(ValidationError) as exc:
            await repo.list_containers()
    assert exc.value.field == "access_token"
    assert sent == []


@pytest.mark.parametrize("retries", [0, 3, RetryPolicy(max_retries=1)])
def test_both_clients_accept_the_same_retries_forms(retries: Any) -> None:
    delivery_client("h.example", retries=retries)
    repo_client(retries=retries)


# -- 3. a client used in a second asyncio.run() --------------------------------------------------------------


def test_a_client_reused_in_another_event_loop_raises_a_typed_error() -> None:
    async def scenario() -> tuple[str, list[Any]]:
        log: list[Any] = []
        handler = answering(200, json.dumps(DELIVERY_OK).encode(), log=log)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        return f"127.0.0.1:{server.sockets[0].getsockname()[1]}", [server, log]

    async def first(client: AsyncTargetClient) -> None:
        await client.get_offers(request=offers_request())

    async def second(client: AsyncTargetClient) -> None:
        try:
            await client.get_offers(request=offers_request())
        finally:
            await client.aclose()

    loop = asyncio.new_event_loop()
    try:
        host, (server, log) = loop.run_until_complete(scenario())
        client = delivery_client(host)
        loop.run_until_complete(first(client))
        assert len(log) == 1
        with pytest.raises(EventLoopError, match="create the client inside the event loop") as exc:
            asyncio.run(second(client))
        assert isinstance(exc.value, UsageError) and isinstance(exc.value, RuntimeError)
        assert len(log) == 1
    finally:
        loop.run_until_complete(client.aclose())
        server.close()
        loop.run_until_complete(server.wait_closed())
        for _ in range(3):
            loop.run_until_complete(asyncio.sleep(0.01))  # the dropped connections' close callbacks
        loop.close()


# -- 4. redirects ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 304, 307])
async def test_a_3xx_delivery_answer_is_an_api_error_and_is_never_followed(serve: Any, status: int) -> None:
    elsewhere: list[Any] = []
    other = await serve(answering(200, json.dumps(DELIVERY_OK).encode(), log=elsewhere))
    host = await serve(answering(status, b"", {"Location": f"http://{other}/rest/v1/delivery"}))
    for kwargs in ({}, {"transport": httpx.AsyncHTTPTransport()}):
        async with delivery_client(host, **kwargs) as client:
            with pytest.raises(RedirectError) as exc:
                await client.get_offers(request=offers_request())
        assert exc.value.status == status
        assert isinstance(exc.value, APIError)
    shared = httpx.AsyncClient(follow_redirects=True)
    async with shared, delivery_client(host, http_client=shared) as client:
        with pytest.raises(RedirectError):
            await client.get_offers(request=offers_request())
    assert elsewhere == []


async def test_a_304_to_a_conditional_read_is_still_an_answer(serve: Any) -> None:
    host = await serve(answering(304, b"", {"ETag": '"3"'}))
    async with repo_client(base_url=f"http://{host}/data/core/xcore/") as repo:
        assert await repo.get_instance("c1", "i1", if_none_match=3) is None
        with pytest.raises(RedirectError):
            await repo.list_containers()  # no condition was sent: a 304 is not an answer to it


# -- 5. undecodable answers --------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"<html>proxy error</html>", b'{"status": 200, "id": {"tn', b""])
def test_decode_answer_maps_an_unreadable_body_to_response_decode_error(body: bytes) -> None:
    answer = Answer(200, {"content-type": "text/html"}, body, "http://h/x", "OK", request_id="rid-1")
    with pytest.raises(ResponseDecodeError) as exc:
        decode_answer(answer)
    error = exc.value
    assert error.status == 200 and error.request_id == "rid-1"
    assert "was sent" in str(error)
    assert error.body == body.decode()[:200]


def test_decode_answer_structures_and_reports_a_wrong_shape_as_decode_error() -> None:
    from target_async.models import DeliveryResponse

    good = Answer(200, {}, json.dumps(DELIVERY_OK).encode(), "http://h/x")
    assert decode_answer(good, DeliveryResponse).status == 200
    bad = Answer(201, {"x-request-id": "server-rid"}, b'{"status": "two hundred"}', "http://h/x")
    with pytest.raises(ResponseDecodeError) as exc:
        decode_answer(bad, DeliveryResponse, what="delivery response")
    assert exc.value.status == 201 and exc.value.request_id == "server-rid"
    assert not isinstance(exc.value, ValidationError)  # "nothing was sent" would be a lie


async def test_the_core_gives_every_answer_its_request_id(serve: Any) -> None:
    host = await serve(answering(200, b"<html>", {"Content-Type": "text/html"}))
    core = HTTPCore(timeout=2.0, retries=RetryPolicy(max_retries=0))
    try:
        answer = await core.send("GET", f"http://{host}/x", idempotent=True, headers={"X-Request-Id": "mine"})
    finally:
        await core.aclose()
    with pytest.raises(ResponseDecodeError) as exc:
        decode_answer(answer)
    assert exc.value.request_id == "mine"


# -- 6. NaN and infinities -----------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
async def test_non_finite_numbers_are_refused_before_sending(number: float) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=DELIVERY_OK)

    request = offers_request()
    request["context"]["geo"] = {"latitude": number}
    async with delivery_client("h.example", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ValidationError) as exc:
            await client.get_offers(request=request)
    assert exc.value.field is not None and "latitude" in exc.value.field
    async with repo_client(transport=httpx.MockTransport(handler)) as repo:
        with pytest.raises(ValidationError):
            await repo.create_instance("c1", "https://ns.adobe.com/experience/offer-management/tag", {"x": number})
    assert sent == []


# -- 7. aiohttp's own re-send -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("retries", "attempts"), [(0, 1), (2, 3)])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_the_sdk_retry_policy_is_the_only_one(serve: Any, retries: int, attempts: int, method: str) -> None:
    seen: list[Any] = []

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))  # the request arrived; the connection drops before an answer

    host = await serve(hang_up)
    core = HTTPCore(timeout=5.0, retries=RetryPolicy(max_retries=retries))
    try:
        with pytest.raises(ConnectError) as exc:
            await core.send(method, f"http://{host}/x", idempotent=True, content=b"{}" if method == "PUT" else None)
    finally:
        await core.aclose()
    assert len(seen) == attempts
    assert exc.value.request_sent is None  # it may have been processed


async def test_a_refused_connection_says_nothing_was_sent() -> None:
    core = HTTPCore(timeout=2.0, retries=RetryPolicy(max_retries=0))
    try:
        with pytest.raises(ConnectError) as exc:
            await core.send("POST", "http://127.0.0.1:1/x", idempotent=False)
    finally:
        await core.aclose()
    assert exc.value.request_sent is False


# -- 8. size cap -------------------------------------------------------------------------------------------------


def test_the_body_reader_never_inflates_past_its_cap() -> None:
    bomb = zlib.compress(b"\0" * (48 * 1024 * 1024), 9)  # ~48 KiB that inflate to 48 MiB
    gz = gzip.compress(b"\0" * (48 * 1024 * 1024), 9)
    for encoding, raw in (("deflate", bomb), ("gzip", gz)):
        tracemalloc.start()
        try:
            reader = BodyReader(encoding, 1024 * 1024)
            with pytest.raises(BodyTooLarge):
                reader.feed(raw)  # one chunk: decompressing it whole would allocate 48 MiB
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 4 * 1024 * 1024


@pytest.mark.parametrize(
    "path", ["aiohttp", "aiohttp, query", "AiohttpTransport as transport=", "httpx transport", "http_client"]
)
async def test_a_gzip_bomb_is_a_typed_error_and_the_cap_can_be_raised_per_call(serve: Any, path: str) -> None:
    plain = b'{"a":"' + b"x" * (3 * 1024 * 1024) + b'"}'
    body = gzip.compress(plain, 9)
    host = await serve(answering(200, body, {"Content-Encoding": "gzip"}))
    shared = httpx.AsyncClient() if path == "http_client" else None
    kwargs: dict[str, Any] = {"http_client": shared} if shared else {}
    if path == "httpx transport":
        kwargs["transport"] = httpx.AsyncHTTPTransport()
    if path == "AiohttpTransport as transport=":  # the httpx exchange tells it the cap (MAX_SIZE_EXTENSION)
        kwargs["transport"] = AiohttpTransport()
    # a URL with a query plus params: the core merges them as httpx would, then sends over the aiohttp exchange
    url, params = (
        (f"http://{host}/x?a=1", {"b": "2"}) if path == "aiohttp, query merged" else (f"http://{host}/x", None)
    )
    core = HTTPCore(timeout=5.0, retries=RetryPolicy(max_retries=0), max_response_size=1024 * 1024, **kwargs)
    try:
        with pytest.raises(ResponseTooLargeError) as exc:
            await core.send("GET", url, params=params, idempotent=True)
        assert exc.value.limit == 1024 * 1024 and exc.value.status == 200
        answer = await core.send("GET", url, params=params, idempotent=True, max_response_size=4 * 1024 * 1024)
        assert answer.content == plain
    finally:
        await core.aclose()
        if shared is not None:
            await shared.aclose()


async def test_the_clients_take_a_max_response_size(serve: Any) -> None:
    host = await serve(answering(200, json.dumps({**DELIVERY_OK, "pad": "x" * 5000}).encode()))
    async with delivery_client(host, max_response_size=4096) as client:
        with pytest.raises(ResponseTooLargeError):
            await client.get_offers(request=offers_request())


# -- 9. verify=False ---------------------------------------------------------------------------------------------


def test_verify_false_warns_at_the_callers_line() -> None:
    with pytest.warns(InsecureTLSWarning, match="verify=False") as delivery:
        AsyncTargetClient(client="acme", organization_id="o@AdobeOrg", verify=False)
    with pytest.warns(InsecureTLSWarning) as repository:
        AsyncRepositoryClient(access_token="t", api_key="k", org_id="o", sandbox_name="prod", verify=False)
    assert {w.filename for w in [*delivery, *repository]} == {__file__}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        delivery_client("h.example", verify=True)


# -- 10. the SDK's headers on every path --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["aiohttp", "httpx transport", "http_client"])
async def test_delivery_headers_are_the_same_on_every_path(serve: Any, path: str) -> None:
    log: list[Any] = []
    host = await serve(answering(200, json.dumps(DELIVERY_OK).encode(), log=log))
    shared = httpx.AsyncClient() if path == "http_client" else None
    kwargs: dict[str, Any] = {"http_client": shared} if shared else {}
    if path == "httpx transport":
        kwargs["transport"] = httpx.AsyncHTTPTransport()
    try:
        async with delivery_client(host, **kwargs) as client:
            await client.get_offers(request=offers_request())
    finally:
        if shared is not None:
            await shared.aclose()
    ((_, headers, _),) = log
    assert headers["accept"] == "application/json"
    assert headers["content-type"] == "application/json"
    assert headers["x-exc-sdk"] == "TargetAsyncPython"
    assert headers["x-exc-sdk-version"] == target_async.__version__
    assert headers["user-agent"].startswith("target-async/")
    assert headers["accept-encoding"] == "gzip, deflate"


# -- 11. the token callable runs inside the deadline -----------------------------------------------------------


async def test_a_slow_token_callable_is_bounded_by_the_call_deadline() -> None:
    sent: list[httpx.Request] = []

    async def slow_token() -> str:
        await asyncio.sleep(10)
        return "tok"

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    async with repo_client(access_token=slow_token, timeout=0.2, transport=httpx.MockTransport(handler)) as repo:
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError) as exc:
            await repo.list_containers()
    assert time.monotonic() - started < 2.0
    assert exc.value.request_sent is False
    assert sent == []


# -- 12. one owner for retries (issue #11 item 3): a caller that retries by itself asks for one attempt ----------


@pytest.mark.parametrize(
    ("options", "attempts"), [({}, 3), ({"retry": False}, 1), ({"retries": RetryPolicy(max_retries=1)}, 2)]
)
async def test_a_503_with_retry_after_is_waited_out_once_by_whoever_owns_the_retries(
    serve: Any, options: dict[str, Any], attempts: int
) -> None:
    log: list[Any] = []
    host = await serve(answering(503, b'{"message": "busy"}', {"Retry-After": "1"}, log=log))
    core = HTTPCore(timeout=5.0, retries=RetryPolicy(max_retries=2))
    try:
        with pytest.raises(APIError) as exc:
            await core.send("GET", f"http://{host}/status", idempotent=True, **options)
    finally:
        await core.aclose()
    assert len(log) == attempts
    assert exc.value.status == 503 and exc.value.headers["retry-after"] == "1"  # the caller can wait it out
