"""The process-wide machinery behind the synchronous facades.

One **event-loop thread** (``target-async-loop``) runs every sync client's async twin and its connection pool,
and one **callback thread** (``target-async-callbacks``) runs user callbacks and event handlers, whatever the
number of clients and calls (``TargetClient``'s blocking calls run on their caller's thread instead: see
:mod:`._lanes`)::

    caller threads ── Bridge.submit(coroutine function) ──▶ target-async-loop (asyncio, under anyio.run)
    concurrent.futures.Future done-callback (only enqueues) ──▶ target-async-callbacks (callbacks, then ready)

Both threads belong to a :class:`_Generation`, started by the first lease (one per open sync client) and
stopped, with its threads joined, when the last lease is released. A new lease then starts a new generation.

Work is handed to the loop with ``loop.call_soon_threadsafe`` and comes back through a
``concurrent.futures.Future``. anyio's ``BlockingPortal`` was measured and set aside: ``start_task_soon``
waits for the loop thread to acknowledge each spawn (6,200 submissions/s against 29,000/s for the
non-blocking hand-off on the 2-core machine: the "fire-and-forget that blocks" pitfall), and ``call`` awaits
whatever awaitable a plain callable returns, so it cannot hand back an awaitable object such as a paginator.

After ``os.fork()`` the child cannot use the parent's threads (they do not exist there): the parent's
generation is abandoned (kept referenced, never finalised, since finalising it would talk to a loop that does
not run), and the next lease in the child starts a fresh one. Clients created before the fork refuse to work
(:class:`~target_async.ClientForkedError`).
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures as cf
import contextvars
import heapq
import itertools
import logging
import os
import queue
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import anyio

from .._exceptions import ClientClosedError, ClientForkedError, WrongThreadError

__all__ = [
    "BridgedClient",
    "CALLBACK_THREAD_NAME",
    "LOOP_THREAD_NAME",
    "SHUTDOWN_TIMEOUT",
    "Bridge",
    "Dispatcher",
    "runner",
]

T = TypeVar("T")

LOOP_THREAD_NAME = "target-async-loop"
CALLBACK_THREAD_NAME = "target-async-callbacks"
SHUTDOWN_TIMEOUT = 5.0
"""Seconds interpreter exit spends finishing calls still in flight before it cancels them."""
_UNWIND_GRACE = 1.0  # seconds a cancelled call gets to unwind before close() goes on without it

_log = logging.getLogger("target_async")


class _Stop:
    """Queue marker: the dispatcher finishes what was queued before it, then exits."""


_STOP = _Stop()


class Dispatcher:
    """A daemon thread that runs submitted callables one at a time, in submission order.

    It is a plain thread reading a ``queue.SimpleQueue``, not a ``ThreadPoolExecutor``: an executor refuses
    work once interpreter shutdown has begun (its exit hook runs before ``atexit``), and the final drain at
    exit needs this thread. An exception raised by an item is logged and never ends the thread.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Callable[[], object] | _Stop] = queue.SimpleQueue()
        self._timers: list[tuple[float, int, Callable[[], object]]] = []  # a heap, touched by this thread only
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._stopped = False
        self.expediting = False  # interpreter exit: timers are due now
        self.thread = threading.Thread(target=self._run, name=CALLBACK_THREAD_NAME, daemon=True)
        self.thread.start()

    def is_current(self) -> bool:
        """Whether the calling thread is this dispatcher's thread."""
        return threading.current_thread() is self.thread

    def submit(self, fn: Callable[[], object]) -> None:
        """Run ``fn()`` on the dispatcher thread; never blocks.

        Once the dispatcher has stopped, ``fn`` runs at once on the calling thread instead, so that nothing
        submitted late (a call cancelled while the loop shuts down) is ever lost.
        """
        with self._lock:
            if not self._stopped:
                self._queue.put(fn)
                return
        _run_logged(fn)

    def call_later(self, delay: float, fn: Callable[[], object]) -> None:
        """Run ``fn()`` on the dispatcher thread in ``delay`` seconds (dropped if it stops first)."""
        if self.expediting:
            self.submit(fn)
            return
        due = time.monotonic() + delay
        self.submit(lambda: heapq.heappush(self._timers, (due, next(self._seq), fn)))

    def expedite(self, timeout: float | None = None) -> bool:
        """Run every pending timer now and wait for them (interpreter exit: they would be lost otherwise)."""
        self.expediting = True

        def run_timers() -> None:
            timers, self._timers = self._timers, []
            for _, _, fn in sorted(timers):
                _run_logged(fn)

        self.submit(run_timers)
        return self.flush(timeout)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far has run; False on timeout or on the dispatcher thread."""
        if self.is_current():
            return False
        done = threading.Event()
        self.submit(done.set)
        return done.wait(timeout)

    def stop(self, timeout: float | None = None) -> None:
        """Run what is queued, then end the thread and join it (not when called from the thread itself)."""
        self._queue.put(_STOP)
        if not self.is_current():
            self.thread.join(timeout)

    def _run(self) -> None:
        while True:
            timeout = None
            if self._timers:
                timeout = max(0.0, self._timers[0][0] - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if isinstance(item, _Stop):
                break
            if item is not None:
                _run_logged(item)
                item = None  # do not keep the last item (and what it references) alive while idle
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                _run_logged(heapq.heappop(self._timers)[2])
        with self._lock:
            self._stopped = True
        self._timers.clear()
        while True:  # what was queued before the flag flipped
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if not isinstance(item, _Stop):
                _run_logged(item)


def _run_logged(fn: Callable[[], object]) -> None:
    try:
        fn()
    except BaseException:  # a callback must never take a thread down, not even with SystemExit
        _log.exception("target_async callback failed")


_Submission = tuple[contextvars.Context, Callable[[], Awaitable[Any]], "cf.Future[Any]"]


def _uvloop_available() -> bool:
    """Whether the private loop can run on uvloop (``target-async[fast]``): faster cross-thread wake-ups."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


class _Generation:
    """One event-loop thread and one callback thread, shared by every sync client of the process."""

    def __init__(self) -> None:
        started: cf.Future[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = cf.Future()
        kwargs: dict[str, Any] = {}
        if sys.version_info >= (3, 14):  # pragma: no cover - threads would inherit the caller's context
            kwargs["context"] = contextvars.Context()
        self.thread = threading.Thread(
            target=self._run_loop, args=(started,), name=LOOP_THREAD_NAME, daemon=True, **kwargs
        )
        self.thread.start()
        self.loop, self._stopping = started.result()
        self.dispatcher = Dispatcher()
        self._tasks: set[asyncio.Task[None]] = set()  # strong references: asyncio keeps only weak ones
        self._inbox: collections.deque[_Submission] = collections.deque()
        self._inbox_lock = threading.Lock()
        self._drain_scheduled = False

    @staticmethod
    def _run_loop(started: cf.Future[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
        async def main() -> None:
            stopping = asyncio.Event()
            started.set_result((asyncio.get_running_loop(), stopping))
            await stopping.wait()

        try:
            # anyio.run: the root task that anyio's helpers (to_thread, ...) attach to. When it returns, the
            # runner cancels the tasks still running, finalises async generators and stops worker threads.
            anyio.run(main, backend="asyncio", backend_options={"use_uvloop": _uvloop_available()})
        except BaseException as exc:  # pragma: no cover - only if the loop itself breaks
            if not started.done():
                started.set_exception(exc)
            else:
                _log.exception("the target_async event-loop thread failed")

    def in_loop_thread(self) -> bool:
        """Whether the caller runs on this generation's event-loop thread."""
        return threading.current_thread() is self.thread

    def submit(self, fn: Callable[[], Awaitable[T]]) -> cf.Future[T]:
        """Start ``fn()`` as a task on the loop without waiting for the loop; return its future.

        Cancelling the future cancels the task. The caller's context variables are visible in the task.
        Every outcome, ``BaseException`` included, goes to the future and never reaches the loop.

        Submissions wait in an inbox that the loop drains in one go: a burst of calls from any number of
        threads wakes the loop once, not once per call (``call_soon_threadsafe`` writes to a pipe each time).
        """
        future: cf.Future[T] = cf.Future()
        item: _Submission = (contextvars.copy_context(), fn, future)
        with self._inbox_lock:
            self._inbox.append(item)
            if self._drain_scheduled:
                return future
            self._drain_scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed: nothing in the inbox will ever run
            with self._inbox_lock:
                stranded, self._inbox = self._inbox, collections.deque()
                self._drain_scheduled = False
            for _, _, other in stranded:
                if other is not future and other.set_running_or_notify_cancel():
                    other.set_exception(ClientClosedError("the target_async event loop has stopped"))
            raise ClientClosedError("the target_async event loop has stopped") from None
        return future

    def _drain(self) -> None:
        with self._inbox_lock:
            items, self._inbox = self._inbox, collections.deque()
            self._drain_scheduled = False
        for context, fn, future in items:
            context.run(self._spawn, fn, future)  # create_task copies the submitter's context

    def _spawn(self, fn: Callable[[], Awaitable[T]], future: cf.Future[T]) -> None:
        if future.cancelled():
            future.set_running_or_notify_cancel()
            return
        task = self.loop.create_task(_settle(fn, future))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

        def cancel_task(f: cf.Future[T]) -> None:
            if f.cancelled():
                try:
                    self.loop.call_soon_threadsafe(task.cancel)
                except RuntimeError:  # loop closed: the task is gone already
                    pass

        future.add_done_callback(cancel_task)

    def call_sync(self, fn: Callable[[], T]) -> T:
        """Run the plain callable ``fn`` on the loop thread and return what it returns (never awaited)."""
        future: cf.Future[T] = cf.Future()

        def run() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:
                    future.set_exception(exc)

        try:
            self.loop.call_soon_threadsafe(run)
        except RuntimeError:  # the loop is closed
            raise ClientClosedError("the target_async event loop has stopped") from None
        return future.result()

    def stop(self) -> None:
        """Stop the loop (tasks still running are cancelled), then the callback thread, joining both.

        The callback thread stops last, so that the callbacks of cancelled calls still run.
        """
        try:
            self.loop.call_soon_threadsafe(self._stopping.set)
        except RuntimeError:  # already stopped
            pass
        self.thread.join()
        self.dispatcher.stop()


async def _settle(fn: Callable[[], Awaitable[T]], future: cf.Future[T]) -> None:
    """Run ``fn()`` and move its outcome to ``future`` (the future stays cancellable while it runs)."""
    try:
        value = await fn()
    except asyncio.CancelledError:
        future.cancel()
        raise
    except BaseException as exc:
        if future.set_running_or_notify_cancel():
            future.set_exception(exc)
    else:
        if future.set_running_or_notify_cancel():
            future.set_result(value)


class _Runner:
    """Lease-counted owner of the current :class:`_Generation` (one per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation: _Generation | None = None
        self._leases = 0
        self._open: weakref.WeakSet[Bridge] = weakref.WeakSet()
        self._abandoned: list[_Generation] = []

    @property
    def generation(self) -> _Generation | None:
        """The running generation, if any."""
        return self._generation

    def acquire(self, owner: Bridge) -> _Generation:
        """Take a lease (start the threads if none run) and register ``owner`` for the exit drain."""
        with self._lock:
            if self._generation is None:
                self._generation = _Generation()
            self._leases += 1
            self._open.add(owner)
            return self._generation

    def release(self, generation: _Generation, owner: Bridge) -> None:
        """Give a lease back; the last one stops and joins the threads."""
        with self._lock:
            self._open.discard(owner)
            if generation is not self._generation:
                return  # an abandoned (pre-fork) or already shut-down generation
            self._leases -= 1
            if self._leases:
                return
            self._generation = None
        generation.stop()

    def shutdown(self, timeout: float | None = None) -> None:
        """Close every open client (finishing calls for up to ``timeout`` s), then stop the threads.

        Registered with :mod:`atexit`; every wait is bounded (default :data:`SHUTDOWN_TIMEOUT`), so
        interpreter exit never hangs here.
        """
        if timeout is None:
            timeout = SHUTDOWN_TIMEOUT
        deadline = time.monotonic() + timeout
        generation = self._generation
        if generation is not None and not generation.dispatcher.is_current():
            generation.dispatcher.expedite(timeout)  # e.g. a client_ready not yet fired: it is owed
        for bridge in list(self._open):
            _close_logged(bridge, max(0.0, deadline - time.monotonic()))
        with self._lock:
            generation, self._generation, self._leases = self._generation, None, 0
        if generation is not None and not generation.in_loop_thread() and not generation.dispatcher.is_current():
            generation.stop()

    def after_fork_in_child(self) -> None:
        """Forget the parent's threads, which do not exist in this process."""
        if self._generation is not None:
            self._abandoned.append(self._generation)  # never finalised: see the module docstring
        self._lock = threading.Lock()
        self._generation = None
        self._leases = 0
        self._open = weakref.WeakSet()


def _close_logged(bridge: Bridge, timeout: float) -> None:
    try:
        bridge.close(timeout=timeout)
    except Exception:
        _log.exception("target_async: closing %s at exit failed", bridge.what)


def warn_if_blocking_a_loop(what: str, *, stacklevel: int) -> None:
    """Warn when a blocking call is made from a thread that runs its own asyncio event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    warnings.warn(
        f"{what} blocks the asyncio event loop running in this thread until it completes; "
        "await the async client instead, or pass a callback",
        RuntimeWarning,
        stacklevel=stacklevel + 1,
    )


class Bridge:
    """One sync client's link to the shared loop: a lease, the usage guards and its in-flight calls.

    Args:
        what: the client's name for error messages (``"TargetClient"``).
        async_name: the name of its async twin, for the wrong-thread error.
    """

    def __init__(self, what: str, async_name: str) -> None:
        self.what = what
        self.async_name = async_name
        self.pid = os.getpid()
        self.aclose: Callable[[], Awaitable[object]] | None = None  # closes the async twin; set by the owner
        # closes what the owner runs off the loop (blocking calls on callers' threads): (cancel, deadline)
        self.before_aclose: Callable[[bool, float | None], None] | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._released = False
        self._pending: set[cf.Future[Any]] = set()
        self._active = 0  # coroutines still running on the loop (touched on the loop thread only)
        self._idle: anyio.Event | None = None
        current = runner.generation
        if current is not None and current.in_loop_thread():
            raise WrongThreadError(f"a {what} cannot be created on its own event-loop thread; use {async_name}")
        self.generation = runner.acquire(self)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has begun."""
        return self._closed

    @property
    def forked(self) -> bool:
        """Whether this bridge was made in another process (before an ``os.fork()``)."""
        return self.pid != os.getpid()

    @property
    def dispatcher(self) -> Dispatcher:
        """The callback thread of this bridge's generation."""
        return self.generation.dispatcher

    def check(self) -> _Generation:
        """Raise the matching ``UsageError`` if the client cannot be used from here."""
        if self.forked:
            raise ClientForkedError(
                f"this {self.what} was created before os.fork() and cannot be used in the child process; "
                "create the client after the fork (e.g. in gunicorn's post_fork hook)"
            )
        if self._closed:
            raise ClientClosedError(f"this {self.what} is closed")
        if self.generation.in_loop_thread():
            raise WrongThreadError(
                f"{self.what} cannot be called from its own event-loop thread (from async code running "
                f"on it); use {self.async_name} there"
            )
        return self.generation

    def call_sync(self, fn: Callable[[], T]) -> T:
        """Run a plain callable on the loop thread (used to build the async twin there)."""
        return self.check().call_sync(fn)

    def submit(self, fn: Callable[[], Coroutine[Any, Any, T]]) -> cf.Future[T]:
        """Start ``fn()`` on the loop; the call is tracked so that :meth:`close` can finish or cancel it."""
        generation = self.check()
        with self._lock:
            if self._closed:
                raise ClientClosedError(f"this {self.what} is closed")
            future = generation.submit(lambda: self._tracked(fn))
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def run(self, fn: Callable[[], Coroutine[Any, Any, T]], *, what: str, stacklevel: int = 1) -> T:
        """Run ``fn()`` on the loop and block until it is done (an interrupt cancels it)."""
        future = self.submit(fn)
        warn_if_blocking_a_loop(what, stacklevel=stacklevel + 1)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def _forget(self, future: cf.Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    async def _tracked(self, fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        self._active += 1
        try:
            return await fn()
        finally:
            self._active -= 1
            if not self._active and self._idle is not None:
                self._idle.set()

    async def _drain_then_aclose(self) -> None:
        while self._active:
            self._idle = anyio.Event()
            await self._idle.wait()
        self._idle = None
        if self.aclose is not None:
            await self.aclose()

    def close(self, *, cancel_pending: bool = False, timeout: float | None = None) -> None:
        """Refuse new calls, finish (or cancel) those in flight, close the async twin, release the lease.

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
            if self.generation.in_loop_thread():
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
        if self.before_aclose is not None:
            try:
                self.before_aclose(cancel_pending, deadline)
            except Exception:
                _log.exception("target_async: closing %s's caller-thread loops failed", self.what)
        generation = self.generation
        try:
            closing = generation.submit(self._drain_then_aclose)
            closing.result(None if deadline is None else max(_UNWIND_GRACE, deadline - time.monotonic()))
        except Exception as exc:  # the loop is gone, or closing the async twin failed: release anyway
            _log.warning("target_async: %s did not close cleanly: %r", self.what, exc)
        generation.dispatcher.flush(None if deadline is None else max(0.0, deadline - time.monotonic()))
        with self._lock:
            if self._released:
                return
            self._released = True
        runner.release(generation, self)

    def close_soon(self) -> None:
        """Close on the callback thread without waiting (for ``__del__``, which may run on any thread)."""
        if self.forked or self._released:
            return
        self.generation.dispatcher.submit(lambda: self.close(cancel_pending=True))


runner = _Runner()
"""The process-wide runner."""

atexit.register(runner.shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=runner.after_fork_in_child)


_C = TypeVar("_C", bound="BridgedClient")


class BridgedClient:
    """What every sync client shares: ``close()``, ``closed``, use as a context manager, and a
    ``ResourceWarning`` (then a background close) when one is garbage-collected without ``close()``."""

    _bridge: Bridge

    def close(self, *, cancel_pending: bool = False, timeout: float | None = None) -> None:
        """Close the client; idempotent.

        Calls in flight are completed first (their callbacks run before ``close`` returns), unless
        ``cancel_pending`` is true: then they are cancelled, ``err_callback`` receives
        ``concurrent.futures.CancelledError`` and ``get()`` raises it. ``timeout`` bounds the wait in
        seconds; calls still running after it are cancelled. Closing the last open sync client stops the
        shared threads. Later calls raise ``ClientClosedError``.
        """
        self._bridge.close(cancel_pending=cancel_pending, timeout=timeout)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._bridge.closed

    def __enter__(self: _C) -> _C:
        self._bridge.check()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        bridge: Bridge | None = getattr(self, "_bridge", None)
        if bridge is None or bridge.closed or bridge.forked:
            return
        # Close first: under ``-W error`` (pytest's filterwarnings=error) the warning raises, and a close
        # scheduled after it would never happen (aiohttp's pools, the caller-thread loops and the shared threads
        # would then leak, and warn again when they are collected).
        bridge.close_soon()
        warnings.warn(
            f"{type(self).__name__} was garbage-collected without close(); closing it now",
            ResourceWarning,
            stacklevel=2,
        )
