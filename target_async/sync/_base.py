"""What every sync client shares: ``close()``, ``closed``, the context manager and the unclosed warning."""

from __future__ import annotations

import warnings
from typing import Any, TypeVar

from ._strategy import ExecutionStrategy

__all__ = ["SyncClient"]

_S = TypeVar("_S", bound="SyncClient")


class SyncClient:
    """Base of the sync clients: lifecycle over their :class:`ExecutionStrategy` (``_strategy``).

    A client garbage-collected without ``close()`` emits a ``ResourceWarning`` and is closed in the background.
    """

    _strategy: ExecutionStrategy[Any]

    def close(self, *, cancel_pending: bool = False, timeout: float | None = None) -> None:
        """Close the client; idempotent.

        Calls in flight are completed first (their callbacks run before ``close`` returns), unless
        ``cancel_pending`` is true: then they are cancelled, ``err_callback`` receives
        ``concurrent.futures.CancelledError`` and ``get()`` raises it. ``timeout`` bounds the wait in
        seconds; calls still running after it are cancelled. Closing the last open sync client stops the
        shared threads. Later calls raise ``ClientClosedError``.
        """
        self._strategy.close(cancel_pending=cancel_pending, timeout=timeout)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._strategy.closed

    def __enter__(self: _S) -> _S:
        self._strategy.check()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        strategy: ExecutionStrategy[Any] | None = getattr(self, "_strategy", None)
        if strategy is None or strategy.closed or strategy.forked:
            return
        # Close first: under ``-W error`` (pytest's filterwarnings=error) the warning raises, and a close
        # scheduled after it would never happen (aiohttp's pools, the lanes' loops and the shared threads
        # would then leak, and warn again when they are collected).
        strategy.close_soon()
        warnings.warn(
            f"{type(self).__name__} was garbage-collected without close(); closing it now",
            ResourceWarning,
            stacklevel=2,
        )
