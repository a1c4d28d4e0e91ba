"""What both API clients share: the network options (checked once, the same way) and the lifecycle.

:class:`AsyncTargetClient` and :class:`AsyncRepositoryClient` derive from :class:`ClientBase`. A client is built
unopened (nothing runs, nothing connects), opens on ``async with`` or its first call (the ``_opened`` hook: the
delivery client starts on-device work there), and ``aclose()`` runs the ``_closing`` hook (flushing
notifications), then releases the connection pool. A closed client refuses calls with ``ClientClosedError``.

Shared conventions (openai-python, anthropic-sdk-python, httpx): ``default_headers=`` sent with every request
after the SDK's own (names the SDK sets are refused), ``trust_env`` (:mod:`._env`), a ``TARGET_ASYNC_LOG``
environment switch, misspelled keywords answered with the close match, and :meth:`ClientBase.with_options`: a
copy with another timeout, retry policy or extra headers that shares the original's connection pool. The original
owns the pool: closing a copy only retires the copy; closing the original closes the pool, and its copies refuse
calls from then on.
"""

from __future__ import annotations

import copy
import enum
import inspect
import logging
import re
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar, cast

import httpx

from ._env import EnvProxies, configure_logging, env_verify
from ._exceptions import ClientClosedError, ConfigurationError
from ._http import HTTPCore, VerifyTypes
from ._retry import RetryPolicy
from ._settings import (
    check_max_response_size,
    check_proxy,
    check_retries,
    check_timeout,
    check_verify,
    has_control_character,
)
from ._suggest import UnknownOptionError, unknown_options, warn_long_timeout

__all__ = ["ClientBase", "ClientState", "check_headers"]

C = TypeVar("C", bound="ClientBase")

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # an HTTP field name (RFC 9110 token)
# names the transport or the SDK sets on every request, whatever the client
_ALWAYS_OWNED = frozenset(
    {
        "accept",
        "accept-encoding",
        "connection",
        "content-length",
        "content-type",
        "host",
        "keep-alive",
        "te",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-request-id",
    }
)
_init_keywords: dict[type, frozenset[str] | None] = {}


def check_headers(value: Any, field: str, owned: frozenset[str]) -> dict[str, str]:
    """Extra headers (``default_headers=``, ``with_options(headers=)``): a mapping of field names to strings,
    no control character (CR/LF) in either, and no name the SDK sets itself (``owned``, lower case)."""
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{field} must be a mapping of header names to strings", field=field)
    checked: dict[str, str] = {}
    for name, text in value.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise ConfigurationError(f"{field}: {name!r} is not a valid header name", field=field)
        where = f"{field}[{name!r}]"
        if name.lower() in owned or name.lower() in _ALWAYS_OWNED:
            raise ConfigurationError(
                f"{where}: the SDK sets {name} itself; it cannot be replaced or repeated", field=where
            )
        if not isinstance(text, str) or has_control_character(text):
            raise ConfigurationError(f"{where} must be a string without control characters (CR, LF, ...)", field=where)
        checked[name] = text
    return checked


def _known_keywords(cls: type) -> frozenset[str] | None:
    """The keywords of ``cls.__init__`` (None: it takes any)."""
    try:
        return _init_keywords[cls]
    except KeyError:
        pass
    params = inspect.signature(cls.__init__).parameters.values()  # type: ignore[misc]
    names = None if any(p.kind is p.VAR_KEYWORD for p in params) else frozenset(p.name for p in params)
    _init_keywords[cls] = names
    return names


class ClientState(enum.Enum):
    UNOPENED = 1  # built, nothing sent yet
    OPENED = 2  # entered or used: the connection pool may hold connections
    CLOSED = 3  # aclose() ran: unusable


class ClientBase:
    """Options and lifecycle of an API client (see the module docstring)."""

    timeout: float
    logger: logging.Logger
    _http: HTTPCore
    _state: ClientState
    _owned_headers: ClassVar[frozenset[str]] = frozenset()  # lower-case names this client sets per request
    _parent: ClientBase | None = None  # with_options: the client that owns the pool
    _call_retries: RetryPolicy | None = None  # with_options(retries=)
    _call_headers: Mapping[str, str] = {}  # with_options(headers=); never mutated, replaced
    _default_names: Mapping[str, str] = {}  # default_headers: lower-case name -> the name as given

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # a misspelled keyword gets the close match, before __init__ (Python's own TypeError has none)
        known = _known_keywords(cls)
        if known is not None and kwargs:
            unknown = [k for k in kwargs if k not in known]
            if unknown:
                raise UnknownOptionError(
                    f"{cls.__name__}: {unknown_options(unknown, known - {'self'})}", field=unknown[0]
                )
        return super().__new__(cls)

    def _init_http(
        self,
        *,
        timeout: Any,
        retries: Any,
        verify: Any,
        proxy: Any,
        http_client: Any,
        transport: httpx.AsyncBaseTransport | None,
        logger: Any,
        max_response_size: Any,
        http2: bool = False,
        max_connections: Any = None,
        headers: Mapping[str, str] | None = None,
        default_headers: Any = None,
        trust_env: Any = True,
    ) -> None:
        """Check the shared options (``ConfigurationError`` naming the option) and build the HTTP core."""
        configure_logging()
        seconds = check_timeout(timeout)
        warn_long_timeout(seconds, stacklevel=4)
        if not isinstance(trust_env, bool):
            raise ConfigurationError("trust_env must be a bool", field="trust_env")
        extra = (
            {} if default_headers is None else check_headers(default_headers, "default_headers", self._owned_headers)
        )
        policy: RetryPolicy = check_retries(retries)
        proxy = check_proxy(proxy)
        cap = check_max_response_size(max_response_size)
        limits = None
        if max_connections is not None:
            if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
                raise ConfigurationError("max_connections must be a positive integer", field="max_connections")
            limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise ConfigurationError("http_client must be an httpx.AsyncClient", field="http_client")
        if logger is not None and not isinstance(logger, logging.Logger | logging.LoggerAdapter):
            raise ConfigurationError("logger must be a logging.Logger", field="logger")
        env_proxies = None
        if trust_env and proxy is None and http_client is None and transport is None:
            env_proxies = EnvProxies.from_environ()
        checked: VerifyTypes = check_verify(verify, stacklevel=4)  # last: warns for verify=False, at the caller
        checked = env_verify(checked, trust_env)
        self.trust_env = trust_env
        self._default_names = {name.lower(): name for name in extra}  # with_options(headers=) replaces these
        self.timeout = float(seconds)
        # a LoggerAdapter is used as a Logger (it has the same logging methods)
        self.logger = cast(logging.Logger, logger) if logger is not None else logging.getLogger("target_async")
        options: dict[str, Any] = {}
        if limits is not None:
            options["limits"] = limits
        if headers is not None or extra:
            options["headers"] = {**(headers or {}), **extra}  # the SDK's own first
        self._http = HTTPCore(
            timeout=self.timeout,
            retries=policy,
            verify=checked,
            proxy=proxy,
            http2=http2,
            http_client=http_client,
            transport=transport,
            logger=self.logger,
            max_response_size=cap,
            env_proxies=env_proxies,
            **options,
        )
        self._state = ClientState.UNOPENED

    # -- options -----------------------------------------------------------------------------------------------

    def with_options(
        self: C,
        *,
        timeout: float | None = None,
        retries: RetryPolicy | int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> C:
        """A copy of this client with another ``timeout`` (seconds), ``retries`` or extra ``headers`` (added to
        ``default_headers``), as openai's ``client.with_options(...)``.

        The copy shares this client's connection pool (and the delivery client's edge routing and on-device
        part). The original owns them: ``aclose()`` on a copy only retires the copy; closing the original
        closes the pool, and the copies refuse calls from then on. ``None`` keeps the current value.
        """
        if self.closed:
            raise ClientClosedError(f"this {type(self).__name__} is closed")
        twin = copy.copy(self)
        twin._parent = self._parent or self
        twin._state = ClientState.UNOPENED
        if timeout is not None:
            twin.timeout = check_timeout(timeout)
            warn_long_timeout(twin.timeout, stacklevel=3)
        if retries is not None:
            twin._call_retries = check_retries(retries)
        if headers is not None:
            added = check_headers(headers, "headers", self._owned_headers)
            # spelled as in default_headers, so that the call's value replaces the default rather than repeats it
            added = {self._default_names.get(k.lower(), k): v for k, v in added.items()}
            lowered = {n.lower() for n in added}
            merged = {k: v for k, v in self._call_headers.items() if k.lower() not in lowered}
            twin._call_headers = {**merged, **added}
        return twin

    def _call_timeout(self, timeout: Any) -> float:
        """A call's ``timeout=`` (seconds; None: the client's)."""
        if timeout is None:
            return self.timeout
        seconds = check_timeout(timeout)
        warn_long_timeout(seconds, stacklevel=4)
        return seconds

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def __aenter__(self: C) -> C:
        if self._state is ClientState.CLOSED:
            raise ClientClosedError(f"Cannot reopen a closed {type(self).__name__}")
        self._check_open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Finish what the client has pending, then release its connection pool (a caller's ``http_client``
        stays open). Idempotent. On a :meth:`with_options` copy: retire the copy only (the original owns the
        pool)."""
        if self._state is ClientState.CLOSED:
            return
        if self._parent is not None:
            self._state = ClientState.CLOSED
            return
        try:
            await self._closing()
        finally:
            self._state = ClientState.CLOSED
            await self._http.aclose()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` has run (on a :meth:`with_options` copy: on it or on the original)."""
        parent = self._parent
        return self._state is ClientState.CLOSED or (parent is not None and parent._state is ClientState.CLOSED)

    def _check_open(self) -> None:
        """Refuse calls on a closed client; the first use opens it (``_opened``)."""
        state = self._state
        parent = self._parent
        if state is ClientState.OPENED and parent is None:
            return
        if state is ClientState.CLOSED:
            raise ClientClosedError(f"this {type(self).__name__} is closed")
        if parent is not None:
            if parent._state is ClientState.CLOSED:
                raise ClientClosedError(
                    f"the {type(self).__name__} this copy was made from (with_options) is closed, with its pool"
                )
            parent._check_open()  # the original opens (and starts its on-device work) on a copy's first use
            self._state = ClientState.OPENED
            return
        self._state = ClientState.OPENED
        self._opened()

    def _opened(self) -> None:
        """Hook: the client's first use (``async with`` or a first call)."""

    async def _closing(self) -> None:
        """Hook: what ``aclose()`` finishes before the pool is released."""
