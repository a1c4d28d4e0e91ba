"""The HTTP layer shared by every client: the only module that sends requests.

One :class:`HTTPCore` is a deadline, a retry policy and error mapping over one exchange
(:class:`~target_async._exchange.Exchange`), chosen once, when the core first sends
(:func:`~target_async._exchange.open_exchange`): aiohttp's pool on asyncio (the default), httpx under trio, with
``http2=True``, a SOCKS proxy, a caller's ``transport=`` or ``http_client=``. Per call it adds a fresh
``X-Request-Id``, the overall deadline (always enforced, retries and backoff included), retries under a
:class:`~target_async._retry.RetryPolicy`, typed errors, and logging through the ``target_async`` logger; it
hands the clients an :class:`~target_async._answer.Answer`, whatever carried the request.

Every exchange sends the same request (the URL text built here, the client's headers then the call's,
``User-Agent: target-async/<version>`` unless the client names one, ``Accept-Encoding: gzip, deflate``), never
follows a redirect (a 3xx is a :class:`~target_async.RedirectError`, except a 304 to a conditional request), and
reads the body chunk by chunk under ``max_response_size`` (decoded bytes; :class:`~target_async._answer.BodyReader`).
A received answer whose body is not the JSON expected is a
:class:`~target_async.ResponseDecodeError` (:func:`decode_answer`). A core is bound to the event loop it first
ran in (:class:`~target_async.EventLoopError`).
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

from . import _otel
from ._answer import (
    DEFAULT_MAX_RESPONSE_SIZE,
    Answer,
    BodyError,
    BodyTooLarge,
    decode_answer,
    decode_body,
    response_decode_error,
)
from ._exceptions import (
    ConnectError,
    EventLoopError,
    RequestTimeoutError,
    ResponseDecodeError,
    ResponseTooLargeError,
    TransportError,
    make_status_error,
)
from ._exchange import Exchange, nothing_sent, open_exchange
from ._ids import request_id as new_request_id
from ._retry import RetryPolicy
from ._version import __version__

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "NO_RETRIES",
    "Answer",
    "HTTPCore",
    "VerifyTypes",
    "decode_answer",
    "decode_body",
    "nothing_sent",
    "response_decode_error",
]

VerifyTypes = bool | str | ssl.SSLContext

NO_RETRIES = RetryPolicy(max_retries=0)
"""A per-call policy for :meth:`HTTPCore.send` whose caller retries by itself (the delete poll loop): one attempt,
every error answer raised at once, with its headers (``Retry-After`` included)."""

_log = logging.getLogger("target_async")
_CONDITIONAL = ("if-none-match", "if-modified-since")
_ACCEPT_ENCODING = "gzip, deflate"  # the encodings BodyReader decodes under the size cap


def _ssl_context(path: str) -> ssl.SSLContext:
    is_dir = os.path.isdir(path)
    return ssl.create_default_context(capath=path if is_dir else None, cafile=None if is_dir else path)


def _what(method: str, url: str) -> str:
    """``METHOD /path`` for error messages (built only when one is raised)."""
    return f"{method} {urlsplit(url).path}"


def _transport_error(exc: httpx.TransportError, what: str, request_id: str) -> TransportError:
    """The SDK error for an exchange's transport failure."""
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


@contextlib.asynccontextmanager
async def _anyio_deadline(seconds: float) -> Any:
    with anyio.fail_after(seconds):
        yield


def _asyncio_deadline(seconds: float) -> Any:
    return asyncio.timeout(seconds)  # type: ignore[attr-defined,unused-ignore]


class HTTPCore:
    """Send requests with deadline, retries and error mapping over one exchange.

    Args:
        timeout: the overall deadline of one call in seconds, retries and backoff included.
        retries: the retry policy (:meth:`send` can replace it per call).
        verify: ``True`` (the system trust store, as httpx), ``False``, a CA bundle path or an ``ssl.SSLContext``.
        proxy: a proxy URL (or ``httpx.Proxy``).
        http2: use HTTP/2 (the httpx exchange; needs ``target-async[http2]``).
        limits: connection-pool limits.
        http_client: a caller-owned ``httpx.AsyncClient``; it is used as is and never closed here.
        transport: an ``httpx.AsyncBaseTransport`` for the httpx exchange (tests, custom stacks); closed here.
        headers: headers sent with every request, on every exchange (a caller's ``http_client`` included).
        env_proxies: the environment's proxies (``trust_env``; :class:`~target_async._env.EnvProxies`), used when
            no ``proxy`` is given.
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
        env_proxies: Any = None,
    ) -> None:
        self.timeout = timeout
        self._env_proxies = env_proxies  # trust_env: the environment's proxies (_env.EnvProxies), or None
        self.max_response_size = max_response_size
        self.retries = retries
        # A CA bundle path becomes an SSLContext here, once per client (httpx deprecates str paths, and the
        # official SDK re-reads certifi's bundle on every call).
        self._verify = _ssl_context(verify) if isinstance(verify, str) else verify
        self._proxy = proxy
        self._http2 = http2
        self._limits = limits or httpx.Limits(max_connections=256, max_keepalive_connections=256)
        self._transport = transport
        self._http_client = http_client
        self._headers = dict(headers or {})
        names = {key.lower() for key in self._headers}
        if "user-agent" not in names:  # else each exchange would name its library (aiohttp's, httpx's, none)
            self._headers["User-Agent"] = f"target-async/{__version__}"
        if "accept-encoding" not in names:
            self._headers["Accept-Encoding"] = _ACCEPT_ENCODING
        self.logger = logger or _log
        self._exchange: Exchange | None = None
        self._url_texts: dict[str, str] = {}
        self._deadline: Any = _anyio_deadline  # asyncio.timeout on asyncio >= 3.11 (3x cheaper)
        self._loop: asyncio.AbstractEventLoop | None = None  # the asyncio loop this core's pool belongs to

    @property
    def exchange(self) -> Exchange:
        """The exchange in use (chosen on first use, inside the running event loop)."""
        return self._exchange or self._open()

    def _open(self) -> Exchange:
        try:
            library = sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            library = "asyncio"
        if library == "asyncio":
            with contextlib.suppress(RuntimeError):  # opened outside a loop: bound to the first one that sends
                self._loop = asyncio.get_running_loop()
            if hasattr(asyncio, "timeout"):
                self._deadline = _asyncio_deadline
        self._exchange = open_exchange(
            library=library,
            timeout=self.timeout,
            verify=self._verify,
            proxy=self._proxy,
            http2=self._http2,
            limits=self._limits,
            transport=self._transport,
            http_client=self._http_client,
            env_proxies=self._env_proxies,
        )
        return self._exchange

    def twin(self) -> HTTPCore:
        """A core with this one's settings and a connection pool of its own, for another event loop.

        Only for a core that builds its own exchange (no ``http_client``/``transport`` given: those are bound to
        the loop that uses them). A system trust store is loaded once and shared by the twins.
        """
        if self._transport is not None or self._http_client is not None:
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
            env_proxies=self._env_proxies,
        )

    def _url(self, url: str | httpx.URL, params: Any) -> str:
        """The URL text every exchange sends: what httpx's ``build_request(url, params=params)`` gives.

        httpx normalises each base URL once (percent-encoding, punycode; cached, 13 us a parse, a twentieth of a
        delivery call's CPU), and ``urlencode``'s query is fully percent-encoded already. For a URL that has a
        query of its own, ``params`` replace it, as in httpx's ``Request(url, params=...)``.
        """
        base = str(url)
        if params and "?" in base:
            return str(httpx.URL(base, params=params))
        text = self._url_texts.get(base)
        if text is None:
            if len(self._url_texts) >= 256:
                self._url_texts.clear()
            text = self._url_texts[base] = str(httpx.URL(base))
        return f"{text}?{urlencode(params, doseq=True)}" if params else text

    async def aclose(self) -> None:
        """Close the exchange (its pool, unless it is a caller's ``http_client``); idempotent."""
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            await exchange.aclose()

    def _check_loop(self) -> None:
        loop = self._loop
        if loop is None:
            return
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
        retries: RetryPolicy | None = None,
        retry: bool = True,
    ) -> Answer:
        """Send one logical request and return its response (status < 300, or 304 to a conditional request).

        Args:
            timeout: this call's deadline in seconds (default: the core's), retries and backoff included.
            max_response_size: the cap of this answer's decoded body in bytes (default: the core's).
            credentials: gives headers to add (an ``Authorization`` from a token callable); awaited once, inside
                the call's deadline.
            retries: this call's retry policy (default: the core's).
            retry: False for a caller that retries by itself (the delete poll loop): one attempt, as
                ``retries=NO_RETRIES``, so that one ``Retry-After`` is never waited out twice.

        Raises:
            APIError: (a subclass by status) for an error answer, after the allowed retries;
                :class:`RedirectError` for a 3xx (never followed); :class:`ResponseTooLargeError` for a body
                over the cap; :class:`ResponseDecodeError` for a body that cannot be decompressed.
            RequestTimeoutError: when the deadline passes.
            ConnectError: when the connection fails and may not be retried.
            EventLoopError: this core's pool belongs to another event loop.
        """
        budget = self.timeout if timeout is None else timeout
        attempt_timeout = None if budget == self.timeout else budget  # a per-call timeout bounds each attempt too
        deadline = time.monotonic() + budget
        self._check_loop()
        exchange = _otel.http_attempts(self._exchange or self._open())  # CLIENT spans (when enabled)
        policy = NO_RETRIES if not retry else self.retries if retries is None else retries
        limit = self.max_response_size if max_response_size is None else max_response_size
        hdrs = dict(headers) if headers else {}
        request_id = hdrs.get("X-Request-Id") or hdrs.get("x-request-id")
        if request_id is None:
            request_id = new_request_id()
            hdrs["X-Request-Id"] = request_id
        target = self._url(url, params)
        if credentials is not None:
            try:
                async with self._deadline(budget):
                    hdrs.update(await credentials())
            except TimeoutError as exc:
                raise RequestTimeoutError(
                    f"{_what(method, target)}: the credentials were not ready within the {budget:g} s deadline; "
                    f"nothing was sent (request id {request_id})",
                    request_sent=False,
                ) from exc
        items = list({**self._headers, **hdrs}.items())
        log = self.logger
        attempt_number = 0
        while True:
            remaining = deadline - time.monotonic()
            started = time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                async with self._deadline(remaining):
                    if attempt_timeout is None:
                        response = await exchange.exchange(method, target, items, content, limit)
                    else:
                        response = await exchange.exchange(method, target, items, content, limit, attempt_timeout)
            except TimeoutError as exc:
                raise RequestTimeoutError(
                    f"{_what(method, target)} timed out after {budget:g} s (request id {request_id})"
                ) from exc
            except BodyError as exc:
                raise _body_error(exc, _what(method, target), request_id) from exc
            except httpx.TransportError as exc:
                if attempt_number < policy.max_retries and (idempotent or nothing_sent(exc)):
                    delay = policy.delay(attempt_number)
                    if delay is not None and time.monotonic() + delay < deadline:
                        log.info("retrying %s %s after %r (request id %s)", method, target, exc, request_id)
                        attempt_number += 1
                        await anyio.sleep(delay)
                        continue
                raise _transport_error(exc, _what(method, target), request_id) from exc
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
            if attempt_number < policy.max_retries and policy.retries_status(status, rheaders, idempotent=idempotent):
                delay = policy.delay(attempt_number, rheaders)
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
