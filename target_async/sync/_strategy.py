"""How one sync client runs its async client: :class:`ExecutionStrategy` (``run``, ``submit``, ``close``).

A blocking call (``run``) takes one of two routes, decided here and nowhere else::

    caller thread ── run(fn) ──▶ its lane (Lanes: a loop and an async client of this thread's own)   [default]
                            └──▶ LoopThread.submit, then wait on the future   [no lanes, on_loop_thread=True,
                                                                               or a thread running a loop]

A callback call (``submit``) always goes to the loop thread and hands back a ``concurrent.futures.Future``
(:class:`~target_async.sync._async_result.AsyncResult` turns it into callbacks on the callback thread).

Why lanes: a blocking call through the loop thread pays two cross-thread wake-ups (caller to loop, loop to
caller), measured at up to ~150 us per call on an idle 2-vCPU VM against ~20 us for running the call on the
caller's own loop (``benchmarks/README.md``, "Targets that were missed", item 3).

Every part is given to the constructor: the async client is built by ``make_client`` on the loop thread, and a
lane's async client by ``lane_client`` (given the async client). The async client is closed with its own
``aclose()``, after the calls still running on the loop and on lanes have finished (or been cancelled).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, Protocol, TypeVar

import anyio

from .._exceptions import ClientClosedError, ClientForkedError, WrongThreadError
from ._callback_thread import CallbackThread
from ._guards import loop_running_here, warn_if_blocking_a_loop
from ._lanes import Lanes
from ._shared_threads import Threads, shared_threads

__all__ = ["AsyncClient", "ExecutionStrategy"]

T = TypeVar("T")


class AsyncClient(Protocol):
    """What the strategy needs of an async client: a way to close it."""

    def aclose(self) -> Awaitable[object]: ...


C = TypeVar("C", bound=AsyncClient)

_log = logging.getLogger("target_async")
_UNWIND_GRACE = 1.0  # seconds a cancelled call gets to unwind before close() goes on without it


class ExecutionStrategy(Generic[C]):
    """One sync client's way of running its async client: blocking, with a future, and closing.

    Args:
        what: the sync client's name for error messages (``"TargetClient"``).
        async_name: the name of its async client's class, for the wrong-thread error.
        make_client: builds the async client, on the loop thread, given the callback thread (where its event
            handlers should run).
        lane_client: builds the async client of a new lane from the async client; ``None``: no lanes, every
            blocking call goes through the loop thread.

    Raises:
        WrongThreadError: made on the loop thread itself.
    """

    def __init__(
        self,
        what: str,
        async_name: str,
        make_client: Callable[[CallbackThread], C],
        *,
        lane_client: Callable[[C], Any] | None = None,
    ) -> None:
        self.what = what
        self.async_name = async_name
        self.pid = os.getpid()
        self.lanes: Lanes | None = None
        self._client: C | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._released = False
        self._pending: set[cf.Future[Any]] = set()
        self._active = 0  # coroutines still running on the loop (touched on the loop thread only)
        self._idle: anyio.Event | None = None
        current = shared_threads.current
        if current is not None and current.loop_thread.is_current():
            raise WrongThreadError(f"a {what} cannot be created on its own event-loop thread; use {async_name}")
        self.threads: Threads = shared_threads.acquire(self)
        try:
            client = self.call_on_loop(lambda: make_client(self.threads.callbacks))
        except BaseException:
            self.close()
            raise
        self._client = client
        if lane_client is not None:
            self.lanes = Lanes(lambda: lane_client(client))

    @property
    def client(self) -> C:
        """The async client (it lives on the loop thread)."""
        assert self._client is not None  # set by the constructor, which raises otherwise
        return self._client

    @property
    def callbacks(self) -> CallbackThread:
        """The callback thread."""
        return self.threads.callbacks

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has begun."""
        return self._closed

    @property
    def forked(self) -> bool:
        """Whether this strategy was made in another process (before an ``os.fork()``)."""
        return self.pid != os.getpid()

    def check(self) -> None:
        """Raise the matching ``UsageError`` if the client cannot be used from here."""
        if self.forked:
            raise ClientForkedError(
                f"this {self.what} was created before os.fork() and cannot be used in the child process; "
                "create the client after the fork (e.g. in gunicorn's post_fork hook)"
            )
        if self._closed:
            raise ClientClosedError(f"this {self.what} is closed")
        if self.threads.loop_thread.is_current():
            raise WrongThreadError(
                f"{self.what} cannot be called from its own event-loop thread (from async code running "
                f"on it); use {self.async_name} there"
            )

    # -- the three ways in -----------------------------------------------------------------------------------

    def run(
        self,
        fn: Callable[[C], Coroutine[Any, Any, T]],
        *,
        what: str,
        stacklevel: int = 1,
        on_loop_thread: bool = False,
    ) -> T:
        """Run ``fn(async client)`` and block until it is done (an interrupt cancels it, then propagates).

        On the calling thread's lane, with the lane's async client; on the loop thread, with the async client,
        when there are no lanes, when ``on_loop_thread`` (``fn`` uses objects living there) or when this
        thread runs an event loop of its own (it cannot run a second one: a ``RuntimeWarning`` says it blocks).
        """
        if self.lanes is not None and not on_loop_thread and not loop_running_here():
            self.check()
            return self.lanes.run(fn)
        future = self.submit(fn)
        warn_if_blocking_a_loop(what, stacklevel=stacklevel + 1)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def submit(self, fn: Callable[[C], Coroutine[Any, Any, T]]) -> cf.Future[T]:
        """Start ``fn(async client)`` on the loop thread; the call is tracked so that :meth:`close` can finish or
        cancel it. Cancelling the future cancels the call."""
        self.check()
        client = self.client
        with self._lock:
            if self._closed:
                raise ClientClosedError(f"this {self.what} is closed")
            future = self.threads.loop_thread.submit(lambda: self._tracked(fn, client))
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def call_on_loop(self, fn: Callable[[], T]) -> T:
        """Run the plain callable ``fn`` on the loop thread and return its result (to build objects that live
        there: the async client, a paginator, an iterator)."""
        self.check()
        return self.threads.loop_thread.call(fn)

    def _forget(self, future: cf.Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    async def _tracked(self, fn: Callable[[C], Coroutine[Any, Any, T]], client: C) -> T:
        self._active += 1
        try:
            return await fn(client)
        finally:
            self._active -= 1
            if not self._active and self._idle is not None:
                self._idle.set()

    # -- close -----------------------------------------------------------------------------------------------

    async def _drain_then_aclose(self) -> None:
        while self._active:
            self._idle = anyio.Event()
            await self._idle.wait()
        self._idle = None
        if self._client is not None:
            await self._client.aclose()

    def close(self, *, cancel_pending: bool = False, timeout: float | None = None) -> None:
        """Refuse new calls, finish (or cancel) those in flight, close the async client, release the lease.

        Idempotent. Returns once every callback of this client's calls has run (except when called from a
        callback, which cannot wait for the callbacks queued behind it).

        Args:
            cancel_pending: cancel the calls in flight instead of letting them finish.
            timeout: bound on the whole close in seconds: calls still running after it are cancelled.
        """
        if self.forked:  # the parent's threads do not exist here: nothing to close, nothing to wait for
            self._closed = True
            return
        with self._lock:
            if self._released:
                return
            if self.threads.loop_thread.is_current():
                raise WrongThreadError(
                    f"{self.what}.close() cannot be called from its own event-loop thread; use {self.async_name}"
                )
            self._closed = True
            pending = list(self._pending)
        deadline = None if timeout is None else time.monotonic() + timeout
        if pending and not cancel_pending:
            cf.wait(pending, timeout=timeout)
        for future in pending:
            future.cancel()  # a no-op for those that finished
        if self.lanes is not None:
            try:
                self.lanes.close(cancel=cancel_pending, deadline=deadline)
            except Exception:
                _log.exception("target_async: closing %s's lanes failed", self.what)
        threads = self.threads
        try:
            closing = threads.loop_thread.submit(self._drain_then_aclose)
            closing.result(None if deadline is None else max(_UNWIND_GRACE, deadline - time.monotonic()))
        except Exception as exc:  # the loop is gone, or closing the async client failed: release anyway
            _log.warning("target_async: %s did not close cleanly: %r", self.what, exc)
        threads.callbacks.flush(None if deadline is None else max(0.0, deadline - time.monotonic()))
        with self._lock:
            if self._released:
                return
            self._released = True
        shared_threads.release(threads, self)

    def close_soon(self) -> None:
        """Close on the callback thread without waiting (for ``__del__``, which may run on any thread)."""
        if self.forked or self._released:
            return
        self.threads.callbacks.submit(lambda: self.close(cancel_pending=True))
