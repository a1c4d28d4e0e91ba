"""The HTTP layer shared by every client: the only module that sends requests.

One :class:`HTTPCore` owns (or borrows) one ``httpx.AsyncClient`` and adds what both APIs need: a fresh
``X-Request-Id`` per request, an overall deadline that is always enforced, retries under a
:class:`~target_async._retry.RetryPolicy`, typed errors, and logging through the ``target_async`` logger. It
hands the clients an :class:`~target_async._answer.Answer`, whatever carried the request.

Transport choice (measured in ``benchmarks/``): on asyncio the default is aiohttp's connection pool
(:mod:`._aiohttp`), which keeps its speed with hundreds of requests in flight where httpcore's pool scan does
not. The core drives it directly (:meth:`~target_async._aiohttp.AiohttpTransport.exchange`), without building
httpx's request and response objects, which cost more CPU than aiohttp's own work; the same transport also
serves as an httpx transport for the ``httpx.AsyncClient`` the core keeps. Under trio, with ``http2=True``, a
SOCKS proxy, or when aiohttp is not importable, requests go through httpx's own transport, and so do a caller's
``http_client=`` or ``transport=``.

Every path sends the same headers (the client's, then the call's; ``Accept-Encoding: gzip, deflate``), never
follows a redirect (a 3xx is a :class:`~target_async.RedirectError`, except a 304 to a conditional request), and
reads the body chunk by chunk under ``max_response_size`` (decoded bytes; :class:`~target_async._answer.BodyReader`).
A received answer whose body is not the JSON expected is a :class:`~target_async.ResponseDecodeError`
(:func:`decode_answer`). A core is bound to the event loop it first ran in (:class:`~target_async.EventLoopError`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, overload
from urllib.parse import urlencode, urlsplit

import anyio
import httpx
import sniffio

from ._answer import (
    DEFAULT_MAX_RESPONSE_SIZE,
    MAX_SIZE_EXTENSION,
    Answer,
    BodyError,
    BodyTooLarge,
    lower_headers,
    read_capped,
)
from ._exceptions import (
    ConnectError,
    EventLoopError,
    RequestTimeoutError,
    ResponseDecodeError,
    ResponseTooLargeError,
    TransportError,
    ValidationError,
    make_status_error,
)
from ._ids import request_id as new_request_id
from ._retry import RetryPolicy
from ._serde._converter import JSON_DECODE_ERRORS, json_loads, structure

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "Answer",
    "HTTPCore",
    "VerifyTypes",
    "decode_answer",
    "decode_body",
    "nothing_sent",
    "response_decode_error",
]

T = TypeVar("T")

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


_EXCERPT = 200  # as the repository's envelopes: the first 200 characters of the body
_CONDITIONAL = ("if-none-match", "if-modified-since")
_ACCEPT_ENCODING = "gzip, deflate"  # the encodings BodyReader decodes under the size cap


def response_decode_error(response: Answer, problem: str, *, what: str = "answer") -> ResponseDecodeError:
    """The error for a received ``response`` whose body cannot be used: says that the request WAS sent.

    ``problem`` says what is wrong (``"not JSON"``, ``"no _embedded"``); the error carries the status, the
    request id and an excerpt of the body.
    """
    excerpt = response.text[:_EXCERPT]
    request_id = response.headers.get("x-request-id") or response.request_id
    return ResponseDecodeError(
        response.status_code,
        f"the request was sent and answered with HTTP {response.status_code}, but the {what} cannot be read: "
        f"{problem}; body starts {excerpt[:120]!r}",
        body=excerpt,
        request_id=request_id,
        headers=response.headers,
    )


@overload
def decode_answer(response: Answer, cls: None = None, *, what: str = ..., allow_empty: bool = ...) -> Any: ...
@overload
def decode_answer(response: Answer, cls: type[T], *, what: str = ..., allow_empty: bool = ...) -> T: ...
def decode_answer(
    response: Answer, cls: type[T] | None = None, *, what: str = "answer", allow_empty: bool = False
) -> Any:
    """The JSON body of a received answer (structured into ``cls`` when given).

    The one way to read an answer's body: a body that is not JSON (HTML, truncated), an empty body (unless
    ``allow_empty``: then None), or JSON of the wrong shape for ``cls`` raises
    :class:`~target_async.ResponseDecodeError`, which says the request was sent, with its status, request id
    and a body excerpt; never a bare decoder error, nor a ValidationError ("nothing was sent").
    """
    content = response.content
    if not content.strip():
        if allow_empty:
            return None
        raise response_decode_error(response, "the body is empty", what=what)
    try:
        data = json_loads(content)
    except JSON_DECODE_ERRORS as exc:
        raise response_decode_error(response, f"not JSON ({exc})", what=what) from exc
    if cls is None:
        return data
    try:
        return structure(data, cls, what=what)
    except ValidationError as exc:
        raise response_decode_error(response, exc.message, what=what) from exc


def _ssl_context(path: str) -> ssl.SSLContext:
    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    return ssl.create_default_context(cafile=path)


def nothing_sent(exc: httpx.TransportError) -> bool:
    """Whether the failed attempt certainly never reached the server (so repeating it is always safe).

    The transports report "no connection was made" as ``httpx.ConnectError``/``ConnectTimeout``/``PoolTimeout``
    (aiohttp's own re-send on a dropped connection is off: see :mod:`._aiohttp`); everything else may have
    reached the server. The SDK error carries the answer as ``TransportError.request_sent``.
    """
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


_nothing_sent = nothing_sent


def _path(url: str) -> str:
    return urlsplit(url).path


def _transport_error(exc: httpx.TransportError, what: str, request_id: str) -> TransportError:
    """The SDK error for an httpx transport failure."""
    sent = False if nothing_sent(exc) else None
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeoutError(f"{what} timed out: {exc} (request id {request_id})", request_sent=sent)
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError):
        return ConnectError(f"{what} failed: {exc!r} (request id {request_id})", request_sent=sent)
    return TransportError(f"{what} failed: {exc!r} (request id {request_id})", request_sent=sent)


def _body_error(exc: BodyError, what: str, request_id: str) -> ResponseDecodeError | ResponseTooLargeError:
    """The SDK error for an answer whose body could not be read (too large, or broken compression)."""
    rid = exc.headers.get("x-request-id") or request_id
    if isinstance(exc, BodyTooLarge):
        return ResponseTooLargeError(
            exc.status,
            f"{what}: the request was sent, but the answer (HTTP {exc.status}) is larger than "
            f"max_response_size={exc.limit} bytes once decoded; reading stopped there",
            limit=exc.limit,
            request_id=rid,
            headers=exc.headers,
        )
    return ResponseDecodeError(
        exc.status,
        f"{what}: the request was sent, but the answer (HTTP {exc.status}) cannot be read: {exc}",
        request_id=rid,
        headers=exc.headers,
    )


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
        headers: headers sent with every request, on every path (a caller's ``http_client`` included).
        logger: the logger (default ``logging.getLogger("target_async")``).
        max_response_size: the cap of a decoded answer body in bytes (:meth:`send` can raise it per call).
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
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        self.timeout = timeout
        self.max_response_size = max_response_size
        self.retries = retries
        # A CA bundle path becomes an SSLContext here, once per client (httpx deprecates str paths, and the
        # official SDK re-reads certifi's bundle on every call).
        self._verify = _ssl_context(verify) if isinstance(verify, str) else verify
        self._proxy = proxy
        self._http2 = http2
        self._limits = limits or httpx.Limits(max_connections=256, max_keepalive_connections=256)
        self._transport = transport
        self._headers = dict(headers or {})
        if not any(key.lower() == "accept-encoding" for key in self._headers):
            self._headers["Accept-Encoding"] = _ACCEPT_ENCODING
        self.logger = logger or _log
        self._client = http_client
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._direct: httpx.AsyncBaseTransport | None = None  # set when this core builds (and owns) the client
        self._exchange: _AiohttpTransport | None = None  # the direct transport, when it can skip httpx's models
        self._aio_timeout: Any = None
        self._urls: dict[str, httpx.URL] = {}
        self._url_texts: dict[str, str] = {}
        self._deadline: Any = _anyio_deadline  # asyncio.timeout on asyncio >= 3.11 (3x cheaper)
        self._loop: asyncio.AbstractEventLoop | None = None  # the asyncio loop this core's pool belongs to

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
            max_response_size=self.max_response_size,
        )

    def _build_client(self) -> httpx.AsyncClient:
        try:
            library = sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            library = "asyncio"
        if library == "asyncio":
            with contextlib.suppress(RuntimeError):  # built outside a loop: bound to the first one that sends
                self._loop = asyncio.get_running_loop()
            if hasattr(asyncio, "timeout"):
                self._deadline = _asyncio_deadline
        transport = self._transport
        if transport is None:
            proxy = httpx.Proxy(self._proxy) if isinstance(self._proxy, str) else self._proxy
            socks = proxy is not None and proxy.url.scheme.startswith("socks")  # aiohttp has no SOCKS support
            if not self._http2 and not socks and _AiohttpTransport is not None and library == "asyncio":
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

    async def _send_once(self, client: httpx.AsyncClient, request: httpx.Request, limit: int) -> Answer:
        # On a client this core built, skip httpx.AsyncClient.send: it adds auth, redirect, cookie-jar and
        # event-hook handling none of these APIs use (and a cookie jar shared by every visitor would be wrong),
        # at a quarter of the CPU of a call (benchmarks/). A caller's http_client goes through send(), streamed
        # and never following redirects (its follow_redirects setting would send credentials elsewhere).
        # Either way the raw body is decoded here, under the size cap, chunk by chunk.
        transport = self._direct
        if transport is None:
            response = await client.send(request, stream=True, follow_redirects=False)
        else:
            response = await transport.handle_async_request(request)
            response.request = request
        try:
            headers = lower_headers(response.headers.raw)
            try:
                if response.is_stream_consumed:  # built in memory (MockTransport): httpx has read and decoded it
                    content = response.content
                    if len(content) > limit:
                        raise BodyTooLarge(limit)
                else:
                    content = await read_capped(response.aiter_raw(), headers.get("content-encoding"), limit)
            except BodyError as exc:
                exc.status = response.status_code
                exc.headers = headers
                raise
        finally:
            await response.aclose()
        return Answer(response.status_code, headers, content, str(request.url), response.reason_phrase)

    def _build_request(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str | httpx.URL,
        params: Any,
        headers: dict[str, str],
        content: bytes | None,
        limit: int | None = None,
    ) -> httpx.Request:
        # On a client this core built, make the Request directly: httpx's build_request parses and merges the
        # URL, query and headers again on every call, which is a fifth of the CPU of a delivery call. The
        # result is the same request (same URL encoding: httpx also uses urlencode; same default headers).
        # A caller's client gets this core's headers too (its own defaults, such as accept: */*, come second).
        merged = {**self._headers, **headers}
        extensions = self._extensions if limit is None else {**self._extensions, MAX_SIZE_EXTENSION: limit}
        if self._direct is None or not isinstance(url, str) or (params and "?" in url):
            request = client.build_request(method, url, params=params, headers=merged, content=content)
            if self._direct is not None:
                request.extensions = {**request.extensions, **extensions}
            return request
        return httpx.Request(
            method,
            self._url(url, urlencode(params, doseq=True) if params else ""),
            headers=merged,
            content=content,
            extensions=extensions,
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
        max_response_size: int | None = None,
        credentials: Callable[[], Awaitable[Mapping[str, str]]] | None = None,
    ) -> Answer:
        """Send one logical request and return its response (status < 300, or 304 to a conditional request).

        Args:
            max_response_size: the cap of this answer's decoded body in bytes (default: the core's).
            credentials: gives headers to add (an ``Authorization`` from a token callable); awaited once, inside
                the call's deadline.

        Raises:
            APIError: (a subclass by status) for an error answer, after the allowed retries;
                :class:`RedirectError` for a 3xx (never followed); :class:`ResponseTooLargeError` for a body
                over the cap; :class:`ResponseDecodeError` for a body that cannot be decompressed.
            RequestTimeoutError: when the deadline passes.
            ConnectError: when the connection fails and may not be retried.
            EventLoopError: this core's pool belongs to another event loop.
        """
        budget = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        loop = self._loop
        if loop is not None:
            try:
                running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:
                raise EventLoopError(
                    "this client was first used in another event loop (for example a previous asyncio.run()), "
                    "and its connection pool belongs to that loop; create the client inside the event loop that "
                    "uses it (one per asyncio.run()), or use the blocking TargetClient/RepositoryClient"
                )
        client = self.client
        limit = self.max_response_size if max_response_size is None else max_response_size
        hdrs = dict(headers) if headers else {}
        request_id = hdrs.get("X-Request-Id") or hdrs.get("x-request-id")
        if request_id is None:
            request_id = new_request_id()
            hdrs["X-Request-Id"] = request_id
        if credentials is not None:
            try:
                async with self._deadline(budget):
                    hdrs.update(await credentials())
            except TimeoutError as exc:
                raise RequestTimeoutError(
                    f"{method} {_path(str(url))}: the credentials were not ready within the {budget:g} s deadline; "
                    f"nothing was sent (request id {request_id})",
                    request_sent=False,
                ) from exc
        exchange = self._exchange
        attempt: Callable[[], Awaitable[Answer]]
        if exchange is not None and isinstance(url, str) and not (params and "?" in url):
            target = self._text_url(url, urlencode(params, doseq=True) if params else "")
            items = list({**self._headers, **hdrs}.items())
            aio_timeout = self._aio_timeout

            def attempt() -> Awaitable[Answer]:
                return exchange.exchange(method, target, items, content, aio_timeout, limit)

        else:
            request = self._build_request(
                client, method, url, params, hdrs, content, None if limit == DEFAULT_MAX_RESPONSE_SIZE else limit
            )
            target = str(request.url)

            def attempt() -> Awaitable[Answer]:
                return self._send_once(client, request, limit)

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
            except BodyError as exc:
                raise _body_error(exc, f"{method} {_path(target)}", request_id) from exc
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
            if status < 300 or (status == 304 and any(h.lower() in _CONDITIONAL for h in hdrs)):
                object.__setattr__(response, "request_id", request_id)  # for decode_answer's errors
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
