"""The seam under the HTTP core: one :class:`Exchange` protocol, two implementations, chosen once per core.

An exchange sends one request and reads its answer whole: method, fully encoded URL text, header list and body
in, an :class:`~target_async._answer.Answer` out (body decoded under the size cap). It knows nothing of
deadlines, retries or the SDK's errors; :class:`~target_async._http.HTTPCore` adds those around it. Its failure
vocabulary is httpx's transport errors, whose class says whether the request may have reached the server
(``httpx.ConnectError``/``ConnectTimeout``/``PoolTimeout``: certainly not; anything else: maybe), and
:class:`~target_async._answer.BodyError` for a body that cannot be read.

=====================================  =====================================================================
:class:`~._aiohttp.AiohttpExchange`    asyncio, the default: aiohttp's pool, no httpx object built per call
:class:`HttpxExchange`                 trio, ``http2=True``, a SOCKS proxy, a caller's ``transport=`` or
                                       ``http_client=``, or no importable aiohttp: httpx's public API
=====================================  =====================================================================

:func:`open_exchange` makes the choice, once, when a core first sends (it needs the running async library).
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx

from ._answer import (
    DEFAULT_MAX_RESPONSE_SIZE,
    MAX_SIZE_EXTENSION,
    Answer,
    BodyError,
    BodyReader,
    BodyTooLarge,
    lower_headers,
)

__all__ = ["Exchange", "HttpxExchange", "nothing_sent", "open_exchange"]

try:  # aiohttp is a core dependency, but keep the portable path if it is missing or broken
    from ._aiohttp import AiohttpExchange as _AiohttpExchange
except ImportError:  # pragma: no cover
    _AiohttpExchange = None  # type: ignore[assignment,misc]


_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})  # aiohttp's GET_METHODS


def nothing_sent(exc: httpx.TransportError) -> bool:
    """Whether the failed attempt certainly never reached the server (so repeating it is always safe).

    Exchanges report "no connection was made" as ``httpx.ConnectError``/``ConnectTimeout``/``PoolTimeout``
    (aiohttp's own re-send on a dropped connection is off: see :mod:`._aiohttp`); everything else may have
    reached the server. The SDK error carries the answer as ``TransportError.request_sent``.
    """
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


class Exchange(Protocol):
    """What the HTTP core needs from the library that carries its requests."""

    async def exchange(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        content: bytes | None,
        max_size: int,
        timeout: float | None = None,
    ) -> Answer:
        """Send one request; return its answer, body decoded (at most ``max_size`` bytes, else ``BodyTooLarge``).

        ``timeout``: this attempt's connect/read timeouts in seconds, when not the exchange's own.

        ``url`` is fully percent-encoded and sent as given; ``headers`` are sent in order (``Accept-Encoding:
        gzip, deflate`` is added when there is none). Redirects are never followed. Failures raise
        ``httpx.TransportError`` subclasses (see the module docstring) or :class:`~target_async._answer.BodyError`.
        """
        ...

    async def aclose(self) -> None:
        """Release what this exchange owns (idempotent); a borrowed ``http_client`` stays open."""
        ...


class HttpxExchange:
    """The exchange over httpx's public API: a transport's ``handle_async_request``, or a caller's client.

    Args:
        timeout: the connect/read/write/pool timeouts of one attempt, in seconds (a transport given here gets
            them as the request's ``timeout`` extension; a caller's client keeps its own).
        transport: an httpx transport this exchange owns (closed by :meth:`aclose`); requests go to it directly,
            without ``AsyncClient.send`` (its auth, redirect, cookie and hook handling, which none of these APIs
            use, cost a quarter of the CPU of a call, and a cookie jar shared by every visitor would be wrong).
        client: a caller's ``httpx.AsyncClient`` (never closed here); requests go through its
            ``build_request`` (its own headers come under the SDK's) and ``send``, streamed, never following a
            redirect (its ``follow_redirects`` would send credentials elsewhere).
    """

    def __init__(
        self,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if (transport is None) == (client is None):
            raise TypeError("HttpxExchange takes a transport or a client")
        self.transport = transport
        self.client = client
        self._extensions: dict[str, Any] = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._build: Callable[..., httpx.Request]
        self._send: Callable[[httpx.Request], Awaitable[httpx.Response]]
        if client is not None:
            self._extensions = {}
            self._build = client.build_request

            def send(request: httpx.Request) -> Awaitable[httpx.Response]:
                return client.send(request, stream=True, follow_redirects=False)

            self._send = send
        else:
            assert transport is not None
            self._build = httpx.Request
            self._send = transport.handle_async_request

    async def exchange(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        content: bytes | None,
        max_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        timeout: float | None = None,
    ) -> Answer:
        """See :meth:`Exchange.exchange`."""
        extensions = self._extensions
        if timeout is not None and self.client is None:  # this call's own attempt timeouts (a per-call timeout)
            extensions = {**extensions, "timeout": httpx.Timeout(timeout).as_dict()}
        if max_size != DEFAULT_MAX_RESPONSE_SIZE:  # tells an AiohttpTransport the cap of the raw body
            extensions = {**extensions, MAX_SIZE_EXTENSION: max_size}
        if content is None and method not in _NO_BODY:  # as aiohttp (and requests) frame a body-less write
            headers = [*headers, ("Content-Length", "0")]
        request = self._build(method, url, headers=headers, content=content, extensions=extensions)
        response = await self._send(request)
        response.request = request
        try:
            headers_in = lower_headers(response.headers.raw)
            try:
                if response.is_stream_consumed:  # built in memory (MockTransport): httpx has read and decoded it
                    body = response.content
                    if len(body) > max_size:
                        raise BodyTooLarge(max_size)
                else:
                    reader = BodyReader(headers_in.get("content-encoding"), max_size)
                    async for chunk in response.aiter_raw():
                        reader.feed(chunk)
                    body = reader.finish()
            except BodyError as exc:
                exc.status = response.status_code
                exc.headers = headers_in
                raise
        finally:
            await response.aclose()
        return Answer(response.status_code, headers_in, body, str(request.url), response.reason_phrase)

    async def aclose(self) -> None:
        """Close the owned transport (a caller's client stays open)."""
        transport, self.transport = self.transport, None
        if transport is not None and self.client is None:
            await transport.aclose()


def open_exchange(
    *,
    library: str,
    timeout: float,
    verify: bool | ssl.SSLContext,
    proxy: str | httpx.Proxy | None,
    http2: bool,
    limits: httpx.Limits,
    transport: httpx.AsyncBaseTransport | None,
    http_client: httpx.AsyncClient | None,
    env_proxies: Any = None,
) -> Exchange:
    """The exchange for a core with these settings, running under ``library`` (``"asyncio"``, ``"trio"``).

    ``env_proxies``: the environment's proxies (a :class:`~target_async._env.EnvProxies`, ``trust_env``), chosen
    per request, when no ``proxy`` is given.
    """
    if http_client is not None:
        return HttpxExchange(timeout=timeout, client=http_client)
    if transport is None:
        checked = httpx.Proxy(proxy) if isinstance(proxy, str) else proxy
        env = env_proxies if checked is None else None
        socks = checked is not None and checked.url.scheme.startswith("socks")  # aiohttp has no SOCKS support
        socks = socks or (env is not None and env.has_socks)
        if library == "asyncio" and not http2 and not socks and _AiohttpExchange is not None:
            return _AiohttpExchange(timeout=timeout, verify=verify, limits=limits, proxy=checked, env_proxies=env)
        if env is not None:
            from ._env import EnvProxyTransport

            transport = EnvProxyTransport(env, verify=verify, http2=http2, limits=limits)
        else:
            transport = httpx.AsyncHTTPTransport(verify=verify, http2=http2, limits=limits, proxy=checked)
    return HttpxExchange(timeout=timeout, transport=transport)
