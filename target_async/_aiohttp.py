"""The aiohttp exchange: the SDK's default on asyncio, and an httpx transport over the same pool.

:class:`AiohttpExchange` is one of the two implementations of :class:`~target_async._exchange.Exchange` (the
other, over httpx, is in :mod:`._exchange`): method, URL text, header list and body in, an
:class:`~target_async._answer.Answer` out, with no httpx request or response object built on the way (they cost
a sixth of the CPU of a delivery call: ``benchmarks/README.md``, "Where the CPU goes"). aiohttp's pool keeps its
speed with hundreds of requests in flight, where httpcore's pool scan does not (raw ``httpx.AsyncClient`` at 64
in flight: 191 calls/s against 3,582 over this pool, same benchmark run).

:class:`AiohttpTransport` is the same pool behind httpx's transport API (``handle_async_request``), for callers who
want an ``httpx.AsyncClient`` over it (``transport=AiohttpTransport()``, which the core then drives through its
httpx exchange) and for the benchmark's "raw httpx on the same transport" reference.

Why not ``httpx-aiohttp``'s transport: it reports every aiohttp connection error (a refused connection, a TLS
failure, a server that hung up after the request was sent) as ``ConnectTimeout``, so a caller cannot tell "never
sent" (always safe to retry) from "maybe processed" (not safe for an impression). Here each failure maps to the
httpx error that says what happened (:func:`_httpx_error`): the exchange protocol's failure vocabulary.

Bodies are read whole (both APIs answer small JSON documents), chunk by chunk under a size cap.
``Accept-Encoding: gzip, deflate`` is sent unless the request names its own; :class:`AiohttpExchange` decodes
through :class:`~target_async._answer.BodyReader`, which stops inflating at the cap; through
``handle_async_request`` the raw bytes go to httpx (or the HTTP core), which decodes them.

aiohttp re-sends a GET, PUT or DELETE once by itself when the connection drops before the answer (RFC 9112
allows it for idempotent methods); that would double every attempt of the SDK's retry policy, so the session
here turns it off: the policy of :class:`~target_async._http.HTTPCore` is the only one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import yarl

from ._answer import DEFAULT_MAX_RESPONSE_SIZE, MAX_SIZE_EXTENSION, Answer, BodyError, BodyReader, lower_headers
from ._exceptions import EventLoopError

__all__ = ["AiohttpExchange", "AiohttpTransport"]

_ACCEPT_ENCODING = "gzip, deflate"


def _httpx_error(exc: Exception, request: httpx.Request | None) -> httpx.TransportError:
    """The httpx error for an aiohttp failure; the class says whether the request may have been sent."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # no connection (pool wait or connect): not sent
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError):  # sent, the answer did not come in time
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):  # refused, DNS, TLS, proxy unreachable: not sent
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return httpx.ProxyError(message, request=request)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(message, request=request)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.ReadError(message, request=request)
    # a connection lost or reset after sending, a malformed answer: the request may have been processed
    return httpx.RemoteProtocolError(message, request=request)


class _Pool:
    """One ``aiohttp.ClientSession`` (created on first use, in the running loop, which it is then bound to).

    Args:
        verify: ``True`` (httpx's default trust), ``False``, or an ``ssl.SSLContext``; built once.
        limits: ``max_connections`` and ``keepalive_expiry`` of the pool.
        proxy: an HTTP proxy for every request.
    """

    def __init__(
        self,
        *,
        verify: bool | ssl.SSLContext = True,
        limits: httpx.Limits | None = None,
        proxy: httpx.Proxy | None = None,
        env_proxies: Any = None,
    ) -> None:
        self._env_proxies = env_proxies  # a _env.EnvProxies (trust_env): the proxy chosen per request
        self._ssl: ssl.SSLContext | bool = (
            verify
            if isinstance(verify, ssl.SSLContext)
            else (httpx.create_ssl_context(verify=verify) if verify else False)
        )
        self._limits = limits or httpx.Limits(max_connections=256, max_keepalive_connections=256)
        self._proxy = str(proxy.url) if proxy is not None else None
        self._proxy_auth = aiohttp.BasicAuth(*proxy.auth) if proxy is not None and proxy.auth else None
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timeouts: dict[tuple[Any, ...], aiohttp.ClientTimeout] = {}

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._limits.max_connections or 0,
            keepalive_timeout=self._limits.keepalive_expiry,
            ssl=self._ssl,
        )
        session = aiohttp.ClientSession(connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar())
        # aiohttp's own re-send of idempotent requests on a dropped connection (client.py, "retrying requests"):
        # off, so that retries=N means N retries (aiohttp's test client turns it off the same way).
        session._retry_connection = False
        self._session = session
        self._loop = asyncio.get_running_loop()
        return session

    def client_timeout(self, connect: float | None, read: float | None, pool: float | None) -> aiohttp.ClientTimeout:
        """aiohttp's timeouts for httpx's: connect covers waiting for a pooled connection plus connecting."""
        key = (connect, read, pool)
        timeout = self._timeouts.get(key)
        if timeout is None:
            if len(self._timeouts) >= 64:
                self._timeouts.clear()
            total_connect = None if connect is None and pool is None else (connect or 0) + (pool or 0)
            timeout = self._timeouts[key] = aiohttp.ClientTimeout(
                connect=total_connect, sock_connect=connect, sock_read=read
            )
        return timeout

    def _request(
        self,
        method: str,
        url: yarl.URL,
        headers: list[tuple[str, str]],
        content: bytes | None,
        timeout: aiohttp.ClientTimeout,
        *,
        server_hostname: str | None = None,
    ) -> Any:
        session = self._session or self._open()
        if self._loop is not asyncio.get_running_loop():
            raise EventLoopError(
                "this client's connection pool belongs to another event loop (a client may not outlive the "
                "asyncio.run() that first used it); create the client inside the event loop that uses it"
            )
        if not any(key.lower() == "accept-encoding" for key, _ in headers):
            headers = [*headers, ("Accept-Encoding", _ACCEPT_ENCODING)]
        proxy, proxy_auth = self._proxy, self._proxy_auth
        if self._env_proxies is not None:
            chosen = self._env_proxies.proxy_for_host(url.scheme, url.host, url.port)
            proxy = str(chosen.url) if chosen is not None else None
            proxy_auth = aiohttp.BasicAuth(*chosen.auth) if chosen is not None and chosen.auth else None
        return session.request(
            method,
            url,
            headers=headers,
            data=content,
            allow_redirects=False,
            timeout=timeout,
            proxy=proxy,
            proxy_auth=proxy_auth,
            server_hostname=server_hostname,
            auto_decompress=False,
        )

    async def aclose(self) -> None:
        """Close the pool (idempotent); a pool of another, closed loop is dropped without awaiting it."""
        session, self._session = self._session, None
        if session is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - not in asyncio
            running = None
        if self._loop is running:
            await session.close()
        else:
            # The pool belongs to another (usually closed) loop, whose futures cannot be awaited here: close what
            # can be closed without waiting and drop the rest.
            connector = session.connector
            if connector is not None:
                with contextlib.suppress(RuntimeError):
                    connector._close()
            session._connector = None


class AiohttpExchange(_Pool):
    """The exchange over aiohttp's pool (see the module docstring).

    Args:
        timeout: the connect and read timeouts of one attempt, in seconds (the HTTP core enforces the overall
            deadline around it).
        verify, limits, proxy: as :class:`_Pool`.
    """

    def __init__(
        self,
        *,
        timeout: float,
        verify: bool | ssl.SSLContext = True,
        limits: httpx.Limits | None = None,
        proxy: httpx.Proxy | None = None,
        env_proxies: Any = None,
    ) -> None:
        super().__init__(verify=verify, limits=limits, proxy=proxy, env_proxies=env_proxies)
        self._timeout = self.client_timeout(timeout, timeout, timeout)

    async def exchange(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        content: bytes | None,
        max_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        timeout: float | None = None,
    ) -> Answer:
        """Send one request and read its answer whole (:meth:`target_async._exchange.Exchange.exchange`).

        ``url`` must be fully percent-encoded (it is sent as given); the body is decoded here, at most
        ``max_size`` bytes of it (else :class:`~target_async._answer.BodyTooLarge`).
        """
        try:
            spec = self._timeout if timeout is None else self.client_timeout(timeout, timeout, timeout)
            async with self._request(method, yarl.URL(url, encoded=True), headers, content, spec) as answer:
                headers_in = lower_headers(answer.raw_headers)
                body = await _read(answer, headers_in.get("content-encoding"), max_size, headers_in)
                return Answer(answer.status, headers_in, body, url, answer.reason or "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _httpx_error(exc, None) from exc


class AiohttpTransport(_Pool, httpx.AsyncBaseTransport):
    """An httpx transport over aiohttp's pool (see the module docstring); the HTTP core does not use it itself."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        spec = request.extensions.get("timeout") or {}
        limit = request.extensions.get(MAX_SIZE_EXTENSION) or DEFAULT_MAX_RESPONSE_SIZE
        try:
            # httpx decodes the body (auto_decompress=False): it sees the Content-Encoding header
            async with self._request(
                request.method,
                yarl.URL(str(request.url), encoded=True),
                request.headers.multi_items(),
                request.content or None,
                self.client_timeout(spec.get("connect"), spec.get("read"), spec.get("pool")),
                server_hostname=request.extensions.get("sni_hostname"),
            ) as answer:
                content = await _read(answer, None, limit)  # the raw bytes, capped
                return httpx.Response(
                    answer.status,
                    headers=answer.raw_headers,
                    stream=_Body(content),  # not content=: httpx would inflate it at once, without a cap
                    request=request,
                    extensions={"http_version": b"HTTP/1.1"},
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _httpx_error(exc, request) from exc


class _Body(httpx.AsyncByteStream):
    """A body read already, handed to httpx as a stream so that it is decoded only by whoever reads it."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._content


async def _read(
    answer: aiohttp.ClientResponse, encoding: str | None, limit: int, headers: dict[str, str] | None = None
) -> bytes:
    """The body of ``answer``, decoded from ``encoding`` (None: raw), read chunk by chunk up to ``limit`` bytes."""
    reader = BodyReader(encoding, limit)
    try:
        async for chunk in answer.content.iter_any():
            reader.feed(chunk)
        return reader.finish()
    except BodyError as exc:
        answer.close()  # the rest of the body stays unread: the connection cannot be reused
        exc.status = answer.status
        exc.headers = headers if headers is not None else lower_headers(answer.raw_headers)
        raise
