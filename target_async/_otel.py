"""OpenTelemetry spans for the SDK's work (the ``otel`` extra): free when OpenTelemetry is absent or unused.

==========================================  ==========  ==========================================================
span                                        kind        made by
==========================================  ==========  ==========================================================
``target_async.get_offers``                 INTERNAL    every delivery call (``get_offers``, ``get_attributes``,
``target_async.send_notifications``                     ``get_offers_many``'s items; queued on-device notifications)
``target_async.on_device.decide``           INTERNAL    a decision made from the rules artifact
``target_async.artifact.refresh``           INTERNAL    an artifact download or poll (``If-None-Match``)
``target_async.delete_operation.result``    INTERNAL    waiting for a repository delete (``await op``/``result()``)
``GET``, ``POST``, ... (the method)         CLIENT      each HTTP attempt of the HTTP core (retries included), as the
                                                        HTTP client semantic conventions say
==========================================  ==========  ==========================================================

Every span is a child of the span current when the call starts (the caller's), and the CLIENT spans are children
of the INTERNAL span whose work sent them. Artifact polling, which outlives the call that started it, makes a
trace per refresh; queued on-device notifications are sent in the trace of the call whose decision started
the sender (``target_async.send_notifications``, possibly after that call's span ended).

No ``traceparent`` is sent: Adobe's Delivery API, repository API and CDN do not join a caller's trace, and the
header would hand a third party the caller's trace ids (and change every request for nothing).

What it costs, and how each case is decided (``benchmarks/bench_otel.py``):

* ``opentelemetry-api`` not installed (looked up once, at import, without importing it): every decorator here
  returns the function itself, and :func:`http_attempts` returns its argument; nothing else runs.
* installed, but the application never imported ``opentelemetry.trace`` (whatever configures OpenTelemetry does):
  one dictionary lookup per call. target_async itself never imports OpenTelemetry (about 30 ms).
* imported, but no tracer provider set: one more attribute read per hook (the API's global provider). A provider
  set later (before or after the clients are made) is used from then on.
* a provider that makes no span (the API's ``NoOpTracerProvider``): one non-recording span per hook, no
  attribute computed, no context attached.
* a span that the SDK's sampler drops: its context is still made current, so that its children are dropped too.

URLs are recorded without user info, and with the values of query parameters other than those of
:data:`SAFE_QUERY` replaced by ``REDACTED`` (the Delivery API's ``sessionId`` identifies a visitor; the
repository's ``property``/``q`` filters are the caller's data). No header, body or credential is recorded.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ._otel_attributes import (
    SAFE_QUERY,
    _api,
    _decision_after,
    _decision_before,
    _delete_after,
    _delete_before,
    _delivery_after,
    _delivery_before,
    _delivery_name,
    _refresh_after,
    _refresh_before,
    _request_attributes,
    _Tally,
    error_type,
    safe_url,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._answer import Answer
    from ._exchange import Exchange

__all__ = [
    "INSTALLED",
    "SAFE_QUERY",
    "decision_span",
    "delete_span",
    "delivery_span",
    "error_type",
    "http_attempts",
    "refresh_span",
    "safe_url",
]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def _installed() -> bool:
    """Whether ``opentelemetry.trace`` can be imported (found, not imported: only its namespace package is)."""
    try:
        return importlib.util.find_spec("opentelemetry.trace") is not None
    except (ImportError, ValueError):  # a parent that is not a package, or an import blocked in sys.modules
        return False


INSTALLED = _installed()
"""Whether the OpenTelemetry API is installed (decided once, at import)."""

_TRACER_NAME = "target_async"
_BACKGROUND_TASKS = frozenset({"target-async-artifact"})  # named by delivery/_artifacts.py
_UNKNOWN = object()
_PROVIDER_FROM_ENV = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ  # the API then makes one on first use
_tracer: Any = None  # a tracer given in code (tests put their own provider's here); else the global one
_global_tracer: Any = None  # the global provider's, made on first use once a provider is set


_tally: ContextVar[_Tally | None] = ContextVar("target_async_otel_tally", default=None)


def _active_tracer() -> Any:
    """The tracer, or None while the application has not configured a tracer provider (nothing would record)."""
    global _global_tracer
    tracer = _tracer
    if tracer is not None:
        return tracer
    api = sys.modules.get("opentelemetry.trace")
    if api is None:  # never imported by the application: OpenTelemetry is not in use
        return None
    # imported, no provider set yet? The API's global, when it has one (get_tracer_provider() reads the
    # environment on every call while none is set: microseconds per hook); else the public call.
    provider = getattr(api, "_TRACER_PROVIDER", _UNKNOWN)
    if provider is None and not _PROVIDER_FROM_ENV:
        return None
    if (provider is None or provider is _UNKNOWN) and isinstance(api.get_tracer_provider(), api.ProxyTracerProvider):
        return None
    tracer = _global_tracer
    if tracer is None:
        tracer = _global_tracer = api.get_tracer(_TRACER_NAME, __version__)
    return tracer


def _context() -> Any:
    return sys.modules["opentelemetry.context"]  # imported by opentelemetry.trace


def _in_background() -> bool:
    """Whether this runs in the SDK's artifact polling task: it outlives the call that started it, and must not
    hang every later poll in that call's trace."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # not asyncio
        return False
    return task is not None and task.get_name() in _BACKGROUND_TASKS


def _guarded(record: Callable[[], object]) -> None:
    """Record attributes; a failure to describe a call is logged, never raised into it."""
    try:
        record()
    except Exception:
        logging.getLogger("target_async").debug("target_async: span attributes failed", exc_info=True)


def _fail(span: Any, exc: BaseException) -> None:
    api = _api()
    kind = error_type(exc)
    span.set_attribute("error.type", kind)
    if kind != "cancelled":
        span.record_exception(exc)
    span.set_status(api.Status(api.StatusCode.ERROR, kind))


# -- the HTTP core's attempts (CLIENT spans) ------------------------------------------------------------------------


class _TracedExchange:
    """An exchange whose every attempt is a CLIENT span (one per :meth:`HTTPCore.send`, so resends are counted)."""

    __slots__ = ("_attempts", "_inner", "_tally", "_tracer")

    def __init__(self, inner: Exchange, tracer: Any, tally: _Tally | None) -> None:
        self._inner = inner
        self._tracer = tracer
        self._tally = tally
        self._attempts = 0

    async def exchange(self, method: str, url: str, *args: Any, **kwargs: Any) -> Answer:
        """:meth:`Exchange.exchange` in a CLIENT span (the arguments after the URL passed on as they are)."""
        resends = self._attempts
        self._attempts += 1
        api = _api()
        span = self._tracer.start_span(method, kind=api.SpanKind.CLIENT)
        if not span.get_span_context().is_valid:  # the no-op tracer
            return await self._inner.exchange(method, url, *args, **kwargs)
        recording = span.is_recording()
        if recording:
            _guarded(lambda: span.set_attributes(_request_attributes(method, url)))
            if resends:
                span.set_attribute("http.request.resend_count", resends)
            for name, value in args[0] if args else kwargs.get("headers", ()):
                if name.lower() == "x-request-id":
                    span.set_attribute("target_async.request_id", value)
                    break
        token = _context().attach(api.set_span_in_context(span))
        try:
            answer = await self._inner.exchange(method, url, *args, **kwargs)
        except BaseException as exc:
            status = getattr(exc, "status", None)
            if not isinstance(status, int) or isinstance(status, bool) or not status:
                status = None  # else a BodyError: the answer came, its body could not be read
            if self._tally is not None and status is not None:
                self._tally.status = status
            if recording:
                if status is not None:
                    span.set_attribute("http.response.status_code", status)
                kind = error_type(exc)
                span.set_attribute("error.type", kind)
                span.set_status(api.Status(api.StatusCode.ERROR, kind))
            raise
        else:
            status = answer.status_code
            if self._tally is not None:
                self._tally.status = status
            if recording:
                span.set_attribute("http.response.status_code", status)
                if status >= 400:
                    span.set_attribute("error.type", str(status))
                    span.set_status(api.Status(api.StatusCode.ERROR))
            return answer
        finally:
            _context().detach(token)
            span.end()

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def http_attempts(exchange: Exchange) -> Exchange:
    """The exchange one :meth:`~target_async._http.HTTPCore.send` should use: ``exchange`` itself unless spans
    are being made, else a wrapper that makes a CLIENT span per attempt (the HTTP core's one hook)."""
    if not INSTALLED:
        return exchange
    tracer = _active_tracer()
    if tracer is None:
        return exchange
    tally = _tally.get()
    if tally is not None:
        tally.sends += 1
    return _TracedExchange(exchange, tracer, tally)


# -- INTERNAL spans ---------------------------------------------------------------------------------------------------

Before = Callable[[Any, tuple[Any, ...], Mapping[str, Any]], Mapping[str, Any]]
After = Callable[[Any, Any, Any, _Tally], None]  # (span, self, result or None on failure, tally)


def _internal(
    name: str | Callable[..., str], before: Before, after: After | None = None, *, public: bool = False
) -> Callable[[F], F]:
    """A decorator making an INTERNAL span around an async method (the function itself without OpenTelemetry).

    While no tracer is active, the wrapper of a private method returns the method's own coroutine (no extra
    frame); a ``public`` method keeps an ``async def`` wrapper, so that it still reads as a coroutine function.
    """

    def decorate(func: F) -> F:
        if not INSTALLED:
            return func

        async def in_span(tracer: Any, self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            api = _api()
            span_name = name if isinstance(name, str) else name(self, *args, **kwargs)
            root = _context().Context() if _in_background() else None  # the SDK's own tasks: a trace each
            span = tracer.start_span(span_name, context=root, kind=api.SpanKind.INTERNAL)
            if not span.get_span_context().is_valid:  # the no-op tracer
                return await func(self, *args, **kwargs)
            recording = span.is_recording()
            if recording:
                _guarded(lambda: span.set_attributes(before(self, args, kwargs)))
            token = _context().attach(api.set_span_in_context(span))
            tally = _Tally()
            tally_token = _tally.set(tally)
            result = None
            try:
                result = await func(self, *args, **kwargs)
                return result
            except BaseException as exc:
                if recording:
                    _fail(span, exc)
                raise
            finally:
                _tally.reset(tally_token)
                _context().detach(token)
                if recording and after is not None:
                    _guarded(lambda: after(span, self, result, tally))
                span.end()

        if public:

            @functools.wraps(func)
            async def traced_public(self: Any, *args: Any, **kwargs: Any) -> Any:
                tracer = _active_tracer()
                if tracer is None:
                    return await func(self, *args, **kwargs)
                return await in_span(tracer, self, args, kwargs)

            return cast(F, traced_public)

        @functools.wraps(func)
        def traced(self: Any, *args: Any, **kwargs: Any) -> Awaitable[Any]:
            tracer = _active_tracer()
            if tracer is None:
                return func(self, *args, **kwargs)
            return in_span(tracer, self, args, kwargs)

        return cast(F, traced)

    return decorate


delivery_span = _internal(_delivery_name, _delivery_before, _delivery_after)
"""``AsyncTargetClient._deliver``: ``target_async.get_offers`` / ``target_async.send_notifications``."""


decision_span = _internal("target_async.on_device.decide", _decision_before, _decision_after)
"""``OnDevice.decide``: ``target_async.on_device.decide``."""


refresh_span = _internal("target_async.artifact.refresh", _refresh_before, _refresh_after)
"""``ArtifactSource.refresh``: ``target_async.artifact.refresh``."""


delete_span = _internal("target_async.delete_operation.result", _delete_before, _delete_after, public=True)
"""``DeleteOperation.result``: ``target_async.delete_operation.result``."""
