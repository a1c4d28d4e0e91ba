"""``AsyncResult``: the ``multiprocessing.pool.AsyncResult`` contract over a ``concurrent.futures.Future``."""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
import logging
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .._exceptions import ClientForkedError, TargetError, WrongThreadError
from ._callback_thread import CallbackThread
from ._guards import warn_if_blocking_a_loop

__all__ = ["AsyncResult", "AsyncResultTimeout"]

T = TypeVar("T")

_log = logging.getLogger("target_async")


if sys.version_info >= (3, 11):
    _Timeout = TimeoutError  # concurrent.futures.TimeoutError is the builtin since 3.11
else:

    class _Timeout(TimeoutError, cf.TimeoutError):
        """The builtin ``TimeoutError`` and, on 3.10, the distinct ``concurrent.futures.TimeoutError``."""


class AsyncResultTimeout(TargetError, multiprocessing.TimeoutError, _Timeout):
    """``AsyncResult.get(timeout)`` ran out of time; the call itself goes on (``cancel()`` stops it).

    It is a ``multiprocessing.TimeoutError`` (what code written for Adobe's SDK catches), the builtin
    ``TimeoutError`` and so also ``concurrent.futures.TimeoutError``.
    """


class AsyncResult(Generic[T]):
    """The outcome of a call made with ``callback``/``err_callback``.

    It follows ``multiprocessing.pool.AsyncResult``: the callback (or the error callback) runs first, on the
    callback thread, and only then does the result become ready, so after ``wait()`` returns the callback has
    run. Unlike ``multiprocessing`` (and Adobe's SDK), a callback that raises is logged and the result still
    becomes ready with the call's own outcome.

    Instances are made by the sync clients, not by user code.
    """

    __slots__ = (
        "__weakref__",
        "_callback",
        "_context",
        "_callbacks",
        "_err_callback",
        "_event",
        "_future",
        "_logger",
        "_observed",
        "_pid",
    )

    def __init__(
        self,
        future: cf.Future[T],
        callbacks: CallbackThread,
        *,
        callback: Callable[[T], object] | None = None,
        err_callback: Callable[[BaseException], object] | None = None,
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
    ) -> None:
        self._future = future
        self._callbacks = callbacks
        self._callback = callback
        self._err_callback = err_callback
        self._logger = logger or _log
        self._context = contextvars.copy_context()  # callbacks see the caller's context variables
        self._event = threading.Event()
        self._pid = os.getpid()
        self._observed = err_callback is not None
        future.add_done_callback(self._on_done)  # runs on the loop thread (or a cancelling one): only enqueue

    def _on_done(self, _: cf.Future[T]) -> None:
        self._callbacks.submit(self._deliver)

    def _deliver(self) -> None:
        future = self._future
        try:
            if future.cancelled():
                if self._err_callback is not None:
                    self._context.run(self._err_callback, cf.CancelledError())
            else:
                exc = future.exception()
                if exc is not None:
                    if self._err_callback is not None:
                        self._context.run(self._err_callback, exc)
                    else:
                        self._logger.debug("target_async call failed: %r", exc)
                elif self._callback is not None:
                    self._context.run(self._callback, future.result())
        except BaseException:
            self._logger.exception("target_async callback failed")
        finally:
            self._callback = self._err_callback = None  # drop references the result no longer needs
            self._event.set()

    @property
    def future(self) -> cf.Future[T]:
        """The underlying ``concurrent.futures.Future`` (for ``asyncio.wrap_future`` or ``cf.wait``).

        It completes when the call does, *before* the callbacks have run.
        """
        return self._future

    def ready(self) -> bool:
        """Whether the call is complete and its callback has run."""
        return self._event.is_set()

    def successful(self) -> bool:
        """Whether the call completed without raising; ``ValueError`` if it is not ready yet."""
        if not self._event.is_set():
            raise ValueError(f"{self!r} not ready")
        self._observed = True
        return not self._future.cancelled() and self._future.exception() is None

    def wait(self, timeout: float | None = None) -> None:
        """Wait until the result is ready or ``timeout`` seconds have passed."""
        self._wait(timeout, "AsyncResult.wait()")

    def _wait(self, timeout: float | None, what: str) -> None:
        if self._event.is_set() or (timeout is not None and timeout <= 0):
            return
        if self._callbacks.is_current():
            raise WrongThreadError(
                f"{what} was called from a target_async callback or event handler for a "
                "result that is not ready yet: results become ready on this very thread, so it would wait "
                "forever. Do the follow-up work in the result's own callback instead."
            )
        if self._pid != os.getpid():
            raise ClientForkedError(
                "this AsyncResult belongs to the parent process (it was created before os.fork()); "
                "it can never become ready in the child"
            )
        warn_if_blocking_a_loop(what, stacklevel=3)
        self._event.wait(timeout)

    def get(self, timeout: float | None = None) -> T:
        """The call's result, the same object the callback received; or raise the call's exception.

        Raises:
            AsyncResultTimeout: not ready within ``timeout`` seconds (the call keeps running).
            concurrent.futures.CancelledError: the call was cancelled.
        """
        self._wait(timeout, "AsyncResult.get()")
        if not self._event.is_set():
            raise AsyncResultTimeout(f"the call did not complete within {timeout} s")
        self._observed = True
        return self._future.result(timeout=0)

    def cancel(self) -> bool:
        """Cancel the call if it is still running; ``err_callback`` then receives ``CancelledError``."""
        return self._future.cancel()

    def __repr__(self) -> str:
        if not self._event.is_set():
            state = "pending"
        elif self._future.cancelled():
            state = "cancelled"
        elif self._future.exception() is not None:
            state = "failed"
        else:
            state = "successful"
        return f"<AsyncResult {state}>"

    def __del__(self) -> None:
        try:
            if self._observed or not self._event.is_set() or self._future.cancelled():
                return
            exc = self._future.exception()
            if exc is not None:
                self._logger.warning(
                    "target_async call failed and the exception was never retrieved: %r", exc, exc_info=exc
                )
        except Exception:  # pragma: no cover - interpreter teardown
            pass
