"""What both API clients share: the network options (checked once, the same way) and the lifecycle.

:class:`AsyncTargetClient` and :class:`AsyncRepositoryClient` derive from :class:`ClientBase`. A client is built
unopened (nothing runs, nothing connects), opens on ``async with`` or its first call (the ``_opened`` hook: the
delivery client starts on-device work there), and ``aclose()`` runs the ``_closing`` hook (flushing
notifications), then releases the connection pool. A closed client refuses calls with ``ClientClosedError``.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from typing import Any, TypeVar, cast

import httpx

from ._exceptions import ClientClosedError, ConfigurationError
from ._http import HTTPCore, VerifyTypes
from ._retry import RetryPolicy
from ._settings import check_max_response_size, check_proxy, check_retries, check_timeout, check_verify

__all__ = ["ClientBase", "ClientState"]

C = TypeVar("C", bound="ClientBase")


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
    ) -> None:
        """Check the shared options (``ConfigurationError`` naming the option) and build the HTTP core."""
        seconds = check_timeout(timeout)
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
        checked: VerifyTypes = check_verify(verify, stacklevel=4)  # last: warns for verify=False, at the caller
        self.timeout = float(seconds)
        # a LoggerAdapter is used as a Logger (it has the same logging methods)
        self.logger = cast(logging.Logger, logger) if logger is not None else logging.getLogger("target_async")
        options: dict[str, Any] = {}
        if limits is not None:
            options["limits"] = limits
        if headers is not None:
            options["headers"] = headers
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
            **options,
        )
        self._state = ClientState.UNOPENED

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
        stays open). Idempotent."""
        if self._state is ClientState.CLOSED:
            return
        try:
            await self._closing()
        finally:
            self._state = ClientState.CLOSED
            await self._http.aclose()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` has run."""
        return self._state is ClientState.CLOSED

    def _check_open(self) -> None:
        """Refuse calls on a closed client; the first use opens it (``_opened``)."""
        state = self._state
        if state is ClientState.OPENED:
            return
        if state is ClientState.CLOSED:
            raise ClientClosedError(f"this {type(self).__name__} is closed")
        self._state = ClientState.OPENED
        self._opened()

    def _opened(self) -> None:
        """Hook: the client's first use (``async with`` or a first call)."""

    async def _closing(self) -> None:
        """Hook: what ``aclose()`` finishes before the pool is released."""
