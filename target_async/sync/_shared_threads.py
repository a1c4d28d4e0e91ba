"""The process's shared threads: one loop thread and one callback thread for every sync client, leased.

    caller threads ── ExecutionStrategy.submit ──▶ target-async-loop (LoopThread: asyncio, under anyio.run)
    concurrent.futures.Future done-callback (only enqueues) ──▶ target-async-callbacks (CallbackThread)

The pair (:class:`Threads`) is started by the first lease (one per open sync client) and stopped, with both
threads joined, when the last lease is released; a new lease then starts a new pair. An ``atexit`` hook closes
the clients still open (finishing their calls for up to :data:`SHUTDOWN_TIMEOUT` seconds) and stops the threads.

After ``os.fork()`` the child cannot use the parent's threads (they do not exist there): the parent's pair is
abandoned (kept referenced, never finalised, since finalising it would talk to a loop that does not run), and
the next lease in the child starts a fresh one. Clients created before the fork refuse to work
(:class:`~target_async.ClientForkedError`).

Nothing here knows what a client is: a lease holder is anything with ``what`` and ``close(timeout=...)``.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from typing import Protocol

from ._callback_thread import CallbackThread
from ._loop_thread import LoopThread

__all__ = ["SHUTDOWN_TIMEOUT", "Closable", "SharedThreads", "Threads", "shared_threads"]

SHUTDOWN_TIMEOUT = 5.0
"""Seconds interpreter exit spends finishing calls still in flight before it cancels them."""

_log = logging.getLogger("target_async")


class Closable(Protocol):
    """What holds a lease: something the exit hook can close."""

    what: str

    def close(self, *, cancel_pending: bool = False, timeout: float | None = None) -> None: ...


class Threads:
    """One loop thread and one callback thread, started together and stopped together."""

    def __init__(self) -> None:
        self.loop_thread = LoopThread()
        self.callbacks = CallbackThread()

    def stop(self) -> None:
        """Stop the loop (tasks still running are cancelled), then the callback thread, joining both.

        The callback thread stops last, so that the callbacks of cancelled calls still run.
        """
        self.loop_thread.stop()
        self.callbacks.stop()


class SharedThreads:
    """Lease-counted owner of the current :class:`Threads` (one per process: :data:`shared_threads`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: Threads | None = None
        self._leases = 0
        self._holders: weakref.WeakSet[Closable] = weakref.WeakSet()
        self._abandoned: list[Threads] = []

    @property
    def current(self) -> Threads | None:
        """The running pair, if any."""
        return self._threads

    def acquire(self, holder: Closable) -> Threads:
        """Take a lease (start the threads if none run) and register ``holder`` for the exit hook."""
        with self._lock:
            if self._threads is None:
                self._threads = Threads()
            self._leases += 1
            self._holders.add(holder)
            return self._threads

    def release(self, threads: Threads, holder: Closable) -> None:
        """Give a lease back; the last one stops and joins the threads."""
        with self._lock:
            self._holders.discard(holder)
            if threads is not self._threads:
                return  # an abandoned (pre-fork) or already shut-down pair
            self._leases -= 1
            if self._leases:
                return
            self._threads = None
        threads.stop()

    def shutdown(self, timeout: float | None = None) -> None:
        """Close every lease holder (finishing calls for up to ``timeout`` s), then stop the threads.

        Registered with :mod:`atexit`; every wait is bounded (default :data:`SHUTDOWN_TIMEOUT`), so
        interpreter exit never hangs here.
        """
        if timeout is None:
            timeout = SHUTDOWN_TIMEOUT
        deadline = time.monotonic() + timeout
        threads = self._threads
        if threads is not None and not threads.callbacks.is_current():
            threads.callbacks.expedite(timeout)  # e.g. a client_ready not yet fired: it is owed
        for holder in list(self._holders):
            _close_logged(holder, max(0.0, deadline - time.monotonic()))
        with self._lock:
            threads, self._threads, self._leases = self._threads, None, 0
        if threads is not None and not threads.loop_thread.is_current() and not threads.callbacks.is_current():
            threads.stop()

    def after_fork_in_child(self) -> None:
        """Forget the parent's threads, which do not exist in this process."""
        if self._threads is not None:
            self._abandoned.append(self._threads)  # never finalised: see the module docstring
        self._lock = threading.Lock()
        self._threads = None
        self._leases = 0
        self._holders = weakref.WeakSet()


def _close_logged(holder: Closable, timeout: float) -> None:
    try:
        holder.close(timeout=timeout)
    except Exception:
        _log.exception("target_async: closing %s at exit failed", holder.what)


shared_threads = SharedThreads()
"""The process-wide owner of the shared threads."""

atexit.register(shared_threads.shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=shared_threads.after_fork_in_child)
