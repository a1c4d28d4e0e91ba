"""The aiohttp pool: failures map to the httpx error that says whether the request was sent.

Each behaviour is checked on both of its entry points: :class:`AiohttpExchange` (the HTTP core's default
exchange, without httpx's request and response objects) and :class:`AiohttpTransport` (the same pool behind
httpx's transport API).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import NamedTuple

import httpx
import pytest

from target_async._aiohttp import AiohttpExchange, AiohttpTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


@pytest.fixture
async def server() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    servers: list[asyncio.Server] = []
    writers: list[asyncio.StreamWriter] = []
    tasks: list[asyncio.Task[None]] = []

    async def start(handler: Handler) -> str:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            task = asyncio.current_task()
            assert task is not None
            tasks.append(task)
            await handler(reader, writer)

        srv = await asyncio.start_server(tracked, "127.0.0.1", 0)
        servers.append(srv)
        return f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for writer in writers:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass
    for srv in servers:
        srv.close()
        await srv.wait_closed()


class Reply(NamedTuple):
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


@pytest.fixture(params=["handle_async_request", "exchange"])
def send(request: pytest.FixtureRequest) -> Callable[..., Awaitable[Reply]]:
    async def send(url: str, *, timeout: float = 2.0, headers: dict[str, str] | None = None) -> Reply:
        transport = AiohttpExchange(timeout=timeout) if request.param == "exchange" else AiohttpTransport()
        try:
            if isinstance(transport, AiohttpExchange):
                answer = await transport.exchange("POST", url, list((headers or {}).items()), b'{"a": 1}')
                return Reply(answer.status_code, answer.headers, answer.content)
            response = await transport.handle_async_request(
                httpx.Request(
                    "POST",
                    url,
                    headers=headers,
                    content=b'{"a": 1}',
                    extensions={"timeout": httpx.Timeout(timeout).as_dict()},
                )
            )
            await response.aread()  # a streamed response, as httpx transports return
            return Reply(response.status_code, dict(response.headers), response.content)
        finally:
            await transport.aclose()

    return send


async def test_ok_response_headers_and_body(server, send) -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        body = json.dumps({"status": 200}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: r1\r\n")
        writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    response = await send(await server(handler), headers={"X-EXC-SDK": "TargetAsyncPython"})
    assert response.status == 200 and json.loads(response.body) == {"status": 200}
    assert response.headers["x-request-id"] == "r1"
    request = seen[0].decode().lower()
    assert "x-exc-sdk: targetasyncpython" in request and "accept-encoding: gzip, deflate" in request
    assert request.endswith('{"a": 1}')


async def test_gzip_answers_are_decoded_once(server, send) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        body = gzip.compress(b'{"ok": true}')
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    assert json.loads((await send(await server(handler))).body) == {"ok": True}


async def test_refused_connection_is_connect_error(send) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(httpx.ConnectError):  # nothing was sent: safe to retry
        await send(f"http://127.0.0.1:{port}/")


async def test_hang_up_after_the_request_is_remote_protocol_error(server, send) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.close()

    with pytest.raises(httpx.RemoteProtocolError):  # maybe processed: not a ConnectError
        await send(await server(handler))


async def test_slow_answer_is_read_timeout(server, send) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(10)  # cancelled by the fixture

    with pytest.raises(httpx.ReadTimeout):
        await send(await server(handler), timeout=0.2)
