"""The callback thread (``target-async-callbacks``): user callbacks and event handlers, one at a time, in order."""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable

__all__ = ["CALLBACK_THREAD_NAME", "CallbackThread", "run_logged"]

CALLBACK_THREAD_NAME = "target-async-callbacks"

_log = logging.getLogger("target_async")


class _Stop:
    """Queue marker: the thread finishes what was queued before it, then exits."""


_STOP = _Stop()


def run_logged(fn: Callable[[], object]) -> None:
    """Run ``fn()``; whatever it raises is logged, never propagated."""
    try:
        fn()
    except BaseException:  # a callback must never take a thread down, not even with SystemExit
        _log.exception("target_async callback failed")


class CallbackThread:
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
        """Whether the calling thread is this callback thread."""
        return threading.current_thread() is self.thread

    def submit(self, fn: Callable[[], object]) -> None:
        """Run ``fn()`` on the callback thread; never blocks.

        Once the thread has stopped, ``fn`` runs at once on the calling thread instead, so that nothing
        submitted late (a call cancelled while the loop shuts down) is ever lost.
        """
        with self._lock:
            if not self._stopped:
                self._queue.put(fn)
                return
        run_logged(fn)

    def call_later(self, delay: float, fn: Callable[[], object]) -> None:
        """Run ``fn()`` on the callback thread in ``delay`` seconds (dropped if it stops first)."""
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
                run_logged(fn)

        self.submit(run_timers)
        return self.flush(timeout)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far has run; False on timeout or on the callback thread."""
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
                run_logged(item)
                item = None  # do not keep the last item (and what it references) alive while idle
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                run_logged(heapq.heappop(self._timers)[2])
        with self._lock:
            self._stopped = True
        self._timers.clear()
        while True:  # what was queued before the flag flipped
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if not isinstance(item, _Stop):
                run_logged(item)
