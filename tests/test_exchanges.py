"""The same client calls over both exchanges (issue #11 item 1): the default aiohttp exchange and the httpx one.

Each client call runs against the emulator (``target_async.emulator.create_app``) served on loopback by
``target_async.testing.serve``, once per way of carrying it: the asyncio default (aiohttp's pool, the path
production uses), httpx's own transport (``transport=``), a caller's ``httpx.AsyncClient`` (``http_client=``)
and HTTP/2 (``http2=True``; the loopback server speaks HTTP/1.1, so httpx falls back to it). A recording
middleware in front of the emulator keeps what reached the server: the delivery and repository calls put the
same requests on the wire over every exchange and read the same answers.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
import httpx
import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

from target_async import AsyncRepositoryClient, AsyncTargetClient, NotFoundError
from target_async.emulator import create_app
from target_async.repository import Schema, Tag
from target_async.testing import EMULATOR_CLIENT, EMULATOR_ORG_ID, serve

EXCHANGES = ["aiohttp", "httpx transport", "http_client", "http2"]
EXPECTED = {
    "aiohttp": "AiohttpExchange",
    "httpx transport": "HttpxExchange",
    "http_client": "HttpxExchange",
    "http2": "HttpxExchange",
}


@attrs.frozen
class Seen:
    """One request as the server received it, and the answer it gave."""

    method: str
    path: str
    query: bytes
    headers: tuple[tuple[str, str], ...]
    body: bytes
    status: int
    answer: bytes


class Recording:
    """ASGI middleware that keeps every HTTP request and answer passing through it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[Seen] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body: list[bytes] = []
        status: list[int] = []
        answer: list[bytes] = []

        async def recv() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                body.append(message.get("body", b""))
            return message

        async def snd(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body":
                answer.append(message.get("body", b""))
            await send(message)

        await self.app(scope, recv, snd)
        headers = tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"])
        self.seen.append(
            Seen(
                scope["method"],
                scope["path"],
                scope["query_string"],
                headers,
                b"".join(body),
                status[0],
                b"".join(answer),
            )
        )


@pytest.fixture
def emulator() -> Iterator[tuple[str, Recording]]:
    recording = Recording(create_app())
    with serve(recording) as url:
        yield url, recording


def _options(how: str, *, repository: bool = False) -> tuple[dict[str, Any], httpx.AsyncClient | None]:
    if how == "httpx transport":
        return {"transport": httpx.AsyncHTTPTransport()}, None
    if how == "http2":  # the repository client has no http2 option: an HTTP/2 transport of one's own
        return ({"transport": httpx.AsyncHTTPTransport(http2=True)} if repository else {"http2": True}), None
    if how == "http_client":
        shared = httpx.AsyncClient()
        return {"http_client": shared}, shared
    return {}, None


@contextlib.asynccontextmanager
async def _clients(url: str, how: str) -> AsyncIterator[tuple[AsyncTargetClient, AsyncRepositoryClient]]:
    """A delivery and a repository client on the emulator at ``url``, carried the ``how`` way."""
    options, shared = _options(how)
    repository_options, repository_shared = _options(how, repository=True)
    target = AsyncTargetClient(
        client=EMULATOR_CLIENT,
        organization_id=EMULATOR_ORG_ID,
        server_domain=url.removeprefix("http://"),
        secure=False,
        **options,
    )
    repository = AsyncRepositoryClient(
        access_token="emulator-token",
        api_key="emulator-api-key",
        org_id=EMULATOR_ORG_ID,
        sandbox_name="prod",
        base_url=f"{url}/data/core/xcore/",
        **repository_options,
    )
    try:
        async with target, repository:
            yield target, repository
    finally:
        for client in (shared, repository_shared):
            if client is not None:
                await client.aclose()


DELIVERY = {
    "requestId": "req-1",
    "id": {"tntId": "tnt-1.34_0"},
    "context": {"channel": "web", "address": {"url": "https://shop.example/p?q=a b"}},
    "execute": {"mboxes": [{"name": "hero", "index": 1, "parameters": {"a": "é"}}]},
    "prefetch": {"mboxes": [{"name": "side", "index": 2}]},
}


async def _scenario(target: AsyncTargetClient, repository: AsyncRepositoryClient) -> list[Any]:
    """Delivery and repository calls; returns what the client read (the answers, in the SDK's types)."""
    got: list[Any] = []
    result = await target.get_offers(request=DELIVERY, session_id="s-1")
    got.append(result.response.to_dict() if hasattr(result.response, "to_dict") else repr(result.response))
    [container] = await repository.list_containers(["dma_offers", "acp"])
    got.append(container.container_id)
    created = await repository.create_instance(container.container_id, Schema.TAG, Tag(xdm_name="cards é"))
    read = await repository.get_instance(container.container_id, created.instance_id, Schema.TAG)
    got.append(repr(read))
    with pytest.raises(NotFoundError) as missing:
        await repository.get_instance(container.container_id, "no-such-instance")
    got.append((missing.value.status, missing.value.body))
    outcome = await repository.delete_instance(container.container_id, created.instance_id)
    got.append(repr(outcome))
    return got


@pytest.mark.parametrize("how", EXCHANGES)
async def test_client_calls_over_each_exchange(emulator: tuple[str, Recording], how: str) -> None:
    url, recording = emulator
    async with _clients(url, how) as (target, repository):
        got = await _scenario(target, repository)
        assert type(target._http.exchange).__name__ == EXPECTED[how]
        assert type(repository._http.exchange).__name__ == EXPECTED[how]
    assert got[0].count("hero") == 1 and got[3][0] == 404
    assert "status='confirmed'" in got[4]


_VOLATILE = [
    (re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), b"<uuid>"),
    (re.compile(rb"xcore:tag:[0-9a-f]+"), b"<xcore-id>"),
    (re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), b"<date>"),
    (re.compile(rb"127\.0\.0\.1:\d+"), b"<host>"),
]


def _normal(data: bytes) -> bytes:
    for pattern, placeholder in _VOLATILE:
        data = pattern.sub(placeholder, data)
    return data


def _wire(seen: list[Seen]) -> list[Any]:
    return [
        (
            s.method,
            _normal(s.path.encode()),
            _normal(s.query),
            tuple((k, _normal(v.encode())) for k, v in s.headers),
            _normal(s.body),
            s.status,
            _normal(s.answer),
        )
        for s in seen
    ]


async def test_every_exchange_puts_the_same_requests_on_the_wire_and_reads_the_same_answers() -> None:
    wires: dict[str, list[Any]] = {}
    answers: dict[str, bytes] = {}
    for how in EXCHANGES:
        recording = Recording(create_app())
        with serve(recording) as url:
            async with _clients(url, how) as (target, repository):
                got = await _scenario(target, repository)
        answers[how] = _normal(json.dumps(got, default=repr).encode())
        wires[how] = _wire(recording.seen)
    reference = wires["aiohttp"]
    assert len(reference) == 8  # delivery, containers, create, read, 404, delete, two polls
    for how in EXCHANGES[1:]:
        assert answers[how] == answers["aiohttp"], how
        if how == "http_client":
            # a caller's client adds its own default headers (Connection) under the SDK's, first in order
            assert [_without(wire, "connection") for wire in wires[how]] == reference, how
        else:
            assert wires[how] == reference, how


def _without(wire: Any, name: str) -> Any:
    """A recorded exchange with header ``name`` removed and the others in the SDK's order."""
    method, path, query, headers, body, status, answer = wire
    return method, path, query, tuple(h for h in headers if h[0] != name), body, status, answer
