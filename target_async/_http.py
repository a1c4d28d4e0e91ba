"""The HTTP layer shared by every client: the only module that sends requests.

One :class:`HTTPCore` owns (or borrows) one ``httpx.AsyncClient`` and adds what both APIs need: a fresh
``X-Request-Id`` per request, an overall deadline that is always enforced, retries under a
:class:`~target_async._retry.RetryPolicy`, typed errors, and logging through the ``target_async`` logger. It
hands the clients an :class:`~target_async._answer.Answer`, whatever carried the request.

Transport choice (measured in ``benchmarks/``): on asyncio the default is aiohttp's connection pool
(:mod:`._aiohttp`), which keeps its speed with hundreds of requests in flight where httpcore's pool scan does
not. The core drives it directly (:meth:`~target_async._aiohttp.AiohttpTransport.exchange`), without building
httpx's request and response objects, which cost more CPU than aiohttp's own work; the same transport also
serves as an httpx transport for the ``httpx.AsyncClient`` the core keeps. Under trio, with ``http2=True``, or
when aiohttp is not importable, requests go through httpx's own transport, and so do a caller's
``http_client=`` or ``transport=``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import anyio
import httpx
import sniffio

from ._answer import Answer
from ._exceptions import ConnectError, RequestTimeoutError, TransportError, make_status_error
from ._ids import request_id as new_request_id
from ._retry import RetryPolicy
from ._serde._converter import JSON_DECODE_ERRORS, json_loads

__all__ = ["Answer", "HTTPCore", "VerifyTypes", "decode_body"]

VerifyTypes = bool | str | ssl.SSLContext

_log = logging.getLogger("target_async")

try:  # aiohttp is a core dependency, but keep the portable path if it is missing or broken
    from ._aiohttp import AiohttpTransport as _AiohttpTransport
except ImportError:  # pragma: no cover
    _AiohttpTransport = None  # type: ignore[assignment,misc]


def decode_body(response: Answer) -> Any:
    """The JSON body of ``response``, its text when it is not JSON, or None when it is empty."""
    content = response.content
    if not content:
        return None
    try:
        return json_loads(content)
    except JSON_DECODE_ERRORS:
        return response.text


def _ssl_context(path: str) -> ssl.SSLContext:
    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    return ssl.create_default_context(cafile=path)


def _nothing_sent(exc: httpx.TransportError) -> bool:
    """Whether the failed attempt certainly never reached the server (so repeating it is always safe)."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _path(url: str) -> str:
    return urlsplit(url).path


def _transport_error(exc: httpx.TransportError, what: str, request_id: str) -> TransportError:
    """The SDK error for an httpx transport failure."""
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeoutError(f"{what} timed out: {exc} (request id {request_id})")
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError):
        return ConnectError(f"{what} failed: {exc!r} (request id {request_id})")
    return TransportError(f"{what} failed: {exc!r} (request id {request_id})")


def _check_fast_query() -> bool:
    """Whether swapping the query of a parsed httpx.URL gives what parsing the whole string gives."""
    try:
        base = httpx.URL("http://h.example:8080/rest/v1/delivery")
        query = urlencode({"imsOrgId": "o@AdobeOrg", "sessionId": "a b/c~d", "x": ["1", "2"]}, doseq=True)
        url = httpx.URL.__new__(httpx.URL)
        url._uri_reference = base._uri_reference._replace(query=query)
        expected = httpx.URL(f"{base}?{query}")
        return str(url) == str(expected) and url == expected and url.params == expected.params
    except Exception:  # pragma: no cover - httpx internals changed
        return False


_FAST_QUERY = _check_fast_query()


@contextlib.asynccontextmanager
async def _anyio_deadline(seconds: float) -> Any:
    with anyio.fail_after(seconds):
        yield


def _asyncio_deadline(seconds: float) -> Any:
    return asyncio.timeout(seconds)  # type: ignore[attr-defined,unused-ignore]


class HTTPCore:
    """Send requests with deadline, retries and error mapping.

    Args:
        timeout: the overall deadline of one call in seconds, retries and backoff included.
        retries: the retry policy.
        verify: ``True`` (the system trust store, as httpx), ``False``, a CA bundle path or an ``ssl.SSLContext``.
        proxy: a proxy URL (or ``httpx.Proxy``).
        http2: use HTTP/2 (httpx transport; needs ``target-async[http2]``).
        limits: connection-pool limits.
        http_client: a caller-owned ``httpx.AsyncClient``; it is used as is and never closed here.
        transport: an ``httpx.AsyncBaseTransport`` for the client this core builds (tests, custom stacks).
        headers: headers sent with every request.
        logger: the logger (default ``logging.getLogger("target_async")``).
    """

    def __init__(
        self,
        *,
        timeout: float,
        retries: RetryPolicy,
        verify: VerifyTypes = True,
        proxy: str | httpx.Proxy | None = None,
        http2: bool = False,
        limits: httpx.Limits | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.timeout = timeout
        self.retries = retries
        # A CA bundle path becomes an SSLContext here, once per client (httpx deprecates str paths, and the
        # official SDK re-reads certifi's bundle on every call).
        self._verify = _ssl_context(verify) if isinstance(verify, str) else verify
        self._proxy = proxy
        self._http2 = http2
        self._limits = limits or httpx.Limits(max_connections=256, max_keepalive_connections=256)
        self._transport = transport
        self._headers = dict(headers or {})
        self.logger = logger or _log
        self._client = http_client
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._direct: httpx.AsyncBaseTransport | None = None  # set when this core builds (and owns) the client
        self._exchange: _AiohttpTransport | None = None  # the direct transport, when it can skip httpx's models
        self._aio_timeout: Any = None
        self._urls: dict[str, httpx.URL] = {}
        self._url_texts: dict[str, str] = {}
        self._deadline: Any = _anyio_deadline  # asyncio.timeout on asyncio >= 3.11 (3x cheaper)

    @property
    def client(self) -> httpx.AsyncClient:
        """The ``httpx.AsyncClient`` in use (built on first use, inside the running event loop)."""
        if self._client is None:
            self._client = self._build_client()
        return self._client

    def twin(self) -> HTTPCore:
        """A core with this one's settings and a connection pool of its own, for another event loop.

        Only for a core that builds its own client (no ``http_client``/``transport`` given: those are bound to
        the loop that uses them). A system trust store is loaded once and shared by the twins.
        """
        if self._transport is not None or (self._client is not None and self._direct is None):
            raise RuntimeError("only a core that builds its own client can have twins")
        if self._verify is True:
            self._verify = httpx.create_ssl_context()
        return HTTPCore(
            timeout=self.timeout,
            retries=self.retries,
            verify=self._verify,
            proxy=self._proxy,
            http2=self._http2,
            limits=self._limits,
            headers=self._headers,
            logger=self.logger,
        )

    def _build_client(self) -> httpx.AsyncClient:
        try:
            library = sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            library = "asyncio"
        if library == "asyncio" and hasattr(asyncio, "timeout"):
            self._deadline = _asyncio_deadline
        transport = self._transport
        if transport is None:
            proxy = httpx.Proxy(self._proxy) if isinstance(self._proxy, str) else self._proxy
            if not self._http2 and _AiohttpTransport is not None and library == "asyncio":
                transport = _AiohttpTransport(verify=self._verify, limits=self._limits, proxy=proxy)
            else:
                transport = httpx.AsyncHTTPTransport(
                    verify=self._verify, http2=self._http2, limits=self._limits, proxy=proxy
                )
        # The client keeps the transport's lifecycle (aclose) and serves callers who want httpx.AsyncClient;
        # requests go to the transport directly (see _send_once).
        self._direct = transport
        if _AiohttpTransport is not None and isinstance(transport, _AiohttpTransport):
            self._exchange = transport
            spec = self._extensions["timeout"]
            self._aio_timeout = transport.client_timeout(spec["connect"], spec["read"], spec["pool"])
        return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(self.timeout), headers=self._headers)

    async def _send_once(self, client: httpx.AsyncClient, request: httpx.Request) -> Answer:
        # On a client this core built, skip httpx.AsyncClient.send: it adds auth, redirect, cookie-jar and
        # event-hook handling none of these APIs use (and a cookie jar shared by every visitor would be wrong),
        # at a quarter of the CPU of a call (benchmarks/). A caller's http_client goes through send() as is.
        transport = self._direct
        if transport is None:
            return Answer.from_httpx(await client.send(request))
        response = await transport.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            await response.aclose()
        return Answer.from_httpx(response)

    def _build_request(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str | httpx.URL,
        params: Any,
        headers: dict[str, str],
        content: bytes | None,
    ) -> httpx.Request:
        # On a client this core built, make the Request directly: httpx's build_request parses and merges the
        # URL, query and headers again on every call, which is a fifth of the CPU of a delivery call. The
        # result is the same request (same URL encoding: httpx also uses urlencode; same default headers).
        if self._direct is None or not isinstance(url, str) or (params and "?" in url):
            return client.build_request(method, url, params=params, headers=headers, content=content)
        return httpx.Request(
            method,
            self._url(url, urlencode(params, doseq=True) if params else ""),
            headers={**self._headers, **headers},
            content=content,
            extensions=self._extensions,
        )

    def _url(self, base: str, query: str) -> httpx.URL:
        # httpx parses a URL string in pure Python (13 us, a twentieth of a delivery call's CPU); the few base
        # URLs a client uses (one per edge host) are parsed once, and only the query changes per request.
        parsed = self._urls.get(base)
        if parsed is None:
            if len(self._urls) >= 256:
                self._urls.clear()
            parsed = self._urls[base] = httpx.URL(base)
        if not query:
            return parsed
        if _FAST_QUERY:
            url = httpx.URL.__new__(httpx.URL)
            url._uri_reference = parsed._uri_reference._replace(query=query)
            return url
        return httpx.URL(f"{base}?{query}")  # pragma: no cover - an httpx whose URL internals changed

    def _text_url(self, base: str, query: str) -> str:
        # The same URL as _url() gives, as text: httpx normalises each base URL once (percent-encoding,
        # punycode), and urlencode's query is fully percent-encoded already.
        text = self._url_texts.get(base)
        if text is None:
            if len(self._url_texts) >= 256:
                self._url_texts.clear()
            text = self._url_texts[base] = str(httpx.URL(base))
        return f"{text}?{query}" if query else text

    async def aclose(self) -> None:
        """Close the connection pool if this core owns it (idempotent)."""
        client, self._client = self._client, None
        owned, self._direct, self._exchange = self._direct is not None, None, None
        if client is not None and owned:
            await client.aclose()

    async def send(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        idempotent: bool,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        timeout: float | None = None,
    ) -> Answer:
        """Send one logical request and return its response (status < 400, 304 included).

        Raises:
            APIError: (a subclass by status) for an error answer, after the allowed retries.
            RequestTimeoutError: when the deadline passes.
            ConnectError: when the connection fails and may not be retried.
        """
        budget = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        client = self.client
        hdrs = dict(headers) if headers else {}
        request_id = hdrs.get("X-Request-Id") or hdrs.get("x-request-id")
        if request_id is None:
            request_id = new_request_id()
            hdrs["X-Request-Id"] = request_id
        exchange = self._exchange
        attempt: Callable[[], Awaitable[Answer]]
        if exchange is not None and isinstance(url, str) and not (params and "?" in url):
            target = self._text_url(url, urlencode(params, doseq=True) if params else "")
            items = list({**self._headers, **hdrs}.items())
            aio_timeout = self._aio_timeout

            def attempt() -> Awaitable[Answer]:
                return exchange.exchange(method, target, items, content, aio_timeout)

        else:
            request = self._build_request(client, method, url, params, hdrs, content)
            target = str(request.url)

            def attempt() -> Awaitable[Answer]:
                return self._send_once(client, request)

        log = self.logger
        attempt_number = 0
        while True:
            remaining = deadline - time.monotonic()
            started = time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                async with self._deadline(remaining):
                    response = await attempt()
            except TimeoutError as exc:
                raise RequestTimeoutError(
                    f"{method} {_path(target)} timed out after {budget:g} s (request id {request_id})"
                ) from exc
            except httpx.TransportError as exc:
                if attempt_number < self.retries.max_retries and (idempotent or _nothing_sent(exc)):
                    delay = self.retries.delay(attempt_number)
                    if delay is not None and time.monotonic() + delay < deadline:
                        log.info("retrying %s %s after %r (request id %s)", method, target, exc, request_id)
                        attempt_number += 1
                        await anyio.sleep(delay)
                        continue
                raise _transport_error(exc, f"{method} {_path(target)}", request_id) from exc
            status = response.status_code
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "%s %s -> %d in %.1f ms (request id %s)",
                    method,
                    target,
                    status,
                    (time.monotonic() - started) * 1000.0,
                    request_id,
                )
            if status < 400:
                return response
            rheaders = response.headers
            if attempt_number < self.retries.max_retries and self.retries.retries_status(
                status, rheaders, idempotent=idempotent
            ):
                delay = self.retries.delay(attempt_number, rheaders)
                if delay is not None and time.monotonic() + delay < deadline:
                    log.info(
                        "retrying %s %s after HTTP %d in %.2f s (request id %s)",
                        method,
                        target,
                        status,
                        delay,
                        request_id,
                    )
                    attempt_number += 1
                    await anyio.sleep(delay)
                    continue
            raise make_status_error(
                status,
                decode_body(response),
                reason=response.reason_phrase,
                request_id=rheaders.get("x-request-id") or request_id,
                headers=rheaders,
            )
