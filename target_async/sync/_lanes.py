"""Lanes: a calling thread's own event loop and async client, for blocking calls without a thread hop.

A blocking call sent through the loop thread pays two cross-thread wake-ups (caller to loop, loop to caller):
up to ~150 us per call on an idle 2-vCPU VM, a third of a whole delivery call (``benchmarks/README.md``). So a
thread that makes a blocking call runs it itself, on an event loop of its own that it keeps for its next calls,
with a lane client (an async client sharing the settings and edge routing of the sync client's, with a
connection pool of its own)::

    caller thread ── ExecutionStrategy.run(fn) ──▶ its Lane: loop.run_until_complete(fn(lane client))

Only :class:`~target_async.sync._strategy.ExecutionStrategy` uses this module; it decides when a call takes a
lane. No thread is started per caller (host-name lookups, rare with pooled connections, share at most four
threads, which stop when the last lane closes).

A lane's loop runs only while its thread is in a call. A call made after a pause first lets the loop read what
arrived meanwhile (a server closing an idle pooled connection), so that it never picks a dead connection.

A lane lives until its client closes; the lanes of threads that have ended are closed when the next lane
opens and at close.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .._exceptions import ClientClosedError
from ._guards import loop_running_here

__all__ = ["RESOLVER_THREAD_PREFIX", "Lane", "Lanes"]

T = TypeVar("T")

_log = logging.getLogger("target_async")
_UNWIND_GRACE = 1.0  # seconds a cancelled call gets to unwind before close() leaves the lane to its thread
# Seconds idle after which a call first lets the lane's loop read what arrived meanwhile (see Lane.run). Calls
# made back to back (the benchmarks' sequential loop) skip that pass; it costs about 7 us, well under 1% of the
# pause it follows.
_IDLE_CATCH_UP = 0.001
RESOLVER_THREAD_PREFIX = "target-async-resolver"


class _SharedExecutor(cf.ThreadPoolExecutor):
    """The default executor of every lane's loop (aiohttp resolves host names on it): a few threads for the
    whole process rather than one pool per calling thread. Closing a loop does not shut it down; it stops when
    the last lane of the process closes."""

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass  # loop.close() calls this: the executor outlives the loop

    def stop(self) -> None:
        super().shutdown(wait=False)


_executor_lock = threading.Lock()
_executor: _SharedExecutor | None = None
_open_lanes = 0


def _lease_executor() -> _SharedExecutor:
    global _executor, _open_lanes
    with _executor_lock:
        if _executor is None:
            _executor = _SharedExecutor(max_workers=4, thread_name_prefix=RESOLVER_THREAD_PREFIX)
        _open_lanes += 1
        return _executor


def _release_executor() -> None:
    global _executor, _open_lanes
    with _executor_lock:
        _open_lanes -= 1
        if _open_lanes or _executor is None:
            return
        executor, _executor = _executor, None
    executor.stop()  # its threads end once idle


async def _nothing() -> None:
    pass


class Lane:
    """One calling thread's event loop and lane client.

    Only its thread runs calls on it; another thread may close it when it is idle (its ``lock`` is free).
    """

    def __init__(self, thread: threading.Thread, client: Any) -> None:
        self.thread = thread
        self.client = client
        self.loop = asyncio.new_event_loop()
        self.loop.set_default_executor(_lease_executor())
        self.lock = threading.Lock()  # held while a call runs, or while the lane closes
        self.closed = False
        self.doomed = False  # close() could not wait: the lane's own thread closes it after its call
        self._task: asyncio.Task[Any] | None = None
        self._cancelling = False  # close() cancels the lane's call, even one whose task does not exist yet
        self._idle_since = time.monotonic()

    def run(self, fn: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
        """Run ``fn(client)`` to completion on this lane's loop (an interrupt cancels it, then propagates)."""
        with self.lock:
            if self.closed or self.doomed:
                raise ClientClosedError("this client is closed")
            if time.monotonic() - self._idle_since > _IDLE_CATCH_UP:
                # The loop has not run since the last call, so the pool has not seen a server close an idle
                # connection meanwhile (servers do after a few seconds idle): aiohttp would reuse it, and the
                # call fail on a dead socket without reaching the server. One pass of the loop reads those
                # EOFs (plain or TLS) and marks the connections closed, and runs due timers, so that the call
                # only picks live connections, as an async client's always-running loop does.
                self.loop.run_until_complete(_nothing())
            task = self.loop.create_task(fn(self.client))  # the task sees a copy of the caller's context variables
            self._task = task
            if self._cancelling:  # cancel() ran before the task existed (it sets the flag, then reads _task)
                task.cancel()
            try:
                return self.loop.run_until_complete(task)
            except asyncio.CancelledError:
                if task.cancelled():  # by close(cancel_pending=True) or close(timeout=...), reported as the loop does
                    raise cf.CancelledError() from None
                raise
            except BaseException:
                if not task.done():  # KeyboardInterrupt (or SystemExit) arrived while the loop ran
                    task.cancel()
                    try:
                        self.loop.run_until_complete(task)
                    except BaseException:  # the first exception is the one to report
                        pass
                raise
            finally:
                self._task = None
                self._idle_since = time.monotonic()
                if self.doomed:
                    self._shutdown()

    def cancel(self) -> None:
        """Cancel the call running on the lane, and any call it starts later (from any thread; the lane closes)."""
        self._cancelling = True
        task = self._task
        if task is not None:
            try:
                self.loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop closed meanwhile
                pass

    def close(self, *, cancel: bool, deadline: float | None) -> None:
        """Close the lane once its call (if any) has finished; ``cancel`` cancels that call first.

        A call still running at ``deadline`` is cancelled; one that does not unwind in time (or a close from
        inside the call itself) leaves the lane to its own thread, which closes it when the call returns.
        """
        if cancel:
            self.cancel()
        if self.thread is threading.current_thread():
            acquired = self.lock.acquire(blocking=False)  # held: close() was called from inside the call
        else:
            acquired = self.lock.acquire(timeout=-1 if deadline is None else max(0.0, deadline - time.monotonic()))
            if not acquired:
                self.cancel()
                acquired = self.lock.acquire(timeout=_UNWIND_GRACE)
        if not acquired:
            self.doomed = True
            return
        try:
            if loop_running_here():  # run_until_complete is impossible on a thread that runs a loop
                helper = threading.Thread(target=self._shutdown, name="target-async-lane-close", daemon=True)
                helper.start()
                helper.join(None if deadline is None else max(_UNWIND_GRACE, deadline - time.monotonic()))
            else:
                self._shutdown()
        finally:
            self.lock.release()

    def _shutdown(self) -> None:
        if self.closed:
            return
        self.closed = True
        loop = self.loop
        try:
            loop.run_until_complete(self.client.aclose())
            loop.run_until_complete(asyncio.sleep(0))  # let closing transports finish their callbacks
            loop.run_until_complete(loop.shutdown_asyncgens())
        except Exception:
            _log.exception("target_async: closing a caller thread's event loop failed")
        finally:
            loop.close()
            _release_executor()


_abandoned: list[Lane] = []  # lanes of the parent process after os.fork(): never touched, never finalised
_registries: weakref.WeakSet[Lanes] = weakref.WeakSet()


class Lanes:
    """The lanes of one sync client, one per thread that made a blocking call.

    Args:
        make_client: builds the lane client of a new lane.
    """

    def __init__(self, make_client: Callable[[], Any]) -> None:
        self._make_client = make_client
        self._local = threading.local()
        self._lock = threading.Lock()
        self._lanes: list[Lane] = []
        self._closed = False
        _registries.add(self)

    def __len__(self) -> int:
        return len(self._lanes)

    def run(self, fn: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
        """Run ``fn(lane client)`` on the calling thread's lane (opened on its first call)."""
        lane: Lane | None = getattr(self._local, "lane", None)
        if lane is None:
            lane = self._open()
        return lane.run(fn)

    def _open(self) -> Lane:
        thread = threading.current_thread()
        with self._lock:
            if self._closed:
                raise ClientClosedError("this client is closed")
            lane = Lane(thread, self._make_client())
            ended = [other for other in self._lanes if not other.thread.is_alive()]
            self._lanes = [other for other in self._lanes if other.thread.is_alive()]
            self._lanes.append(lane)
        self._local.lane = lane
        for other in ended:  # idle for good: their thread has ended
            other.close(cancel=False, deadline=None)
        return lane

    def close(self, *, cancel: bool = False, deadline: float | None = None) -> None:
        """Refuse new lanes and close every lane (see :meth:`Lane.close`)."""
        with self._lock:
            self._closed = True
            lanes, self._lanes = self._lanes, []
        for lane in lanes:
            lane.close(cancel=cancel, deadline=deadline)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()  # the parent's may have been held by a thread that does not exist here
        _abandoned.extend(self._lanes)
        self._lanes = []
        self._closed = True
        self._local = threading.local()


def _after_fork_in_child() -> None:
    global _executor, _executor_lock, _open_lanes
    _executor_lock, _executor, _open_lanes = threading.Lock(), None, 0  # the parent's threads do not exist here
    for registry in list(_registries):
        registry._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
