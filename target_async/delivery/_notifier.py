"""Display notifications and telemetry of on-device decisions, sent in the background (on-device.md §8).

A decision never waits for its notifications: :meth:`Notifier.put` queues one notification request (a visitor's
ids, context and notifications, with the session of the call) and returns. A flush task on the client's event
loop sends what is queued with bounded concurrency; a failed send is logged and emitted as
``send_notification_error``, never raised into a caller. Telemetry entries wait (bounded) for the next
notification request or server-side call. ``aclose()`` of the client flushes what is pending. Calls from other
threads (the sync facade's per-thread twins) hand their items to the loop thread-safely.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

from ..models import DeliveryRequest, Telemetry, TelemetryEntry

__all__ = ["MAX_PENDING_NOTIFICATIONS", "MAX_PENDING_TELEMETRY", "Notifier", "PendingNotification"]

MAX_PENDING_NOTIFICATIONS = 10_000
"""Notification requests queued at most; beyond that the oldest is dropped (and reported). Decisions made on the
notifier's own loop never get there: they wait for the queue to drain below :data:`HIGH_WATER` first."""
HIGH_WATER = 512
"""Queued notification requests beyond which a decision on the notifier's loop waits for the senders
(backpressure: a batch of decisions cannot outrun its notifications and make the queue drop some)."""
MAX_PENDING_TELEMETRY = 100
"""Telemetry entries kept for the next request at most (the oldest are dropped)."""
_CONCURRENCY = 8


@attrs.frozen
class PendingNotification:
    """One notification request to send: the body and the call options it goes with."""

    request: DeliveryRequest
    session_id: str
    target_location_hint: str | None = None


Send = Callable[[PendingNotification], Awaitable[Any]]
Emit = Callable[[str, Mapping[str, Any]], None]


class Notifier:
    """Queues and sends notification requests on one event loop."""

    def __init__(
        self, send: Send, emit: Emit, logger: logging.Logger | logging.LoggerAdapter[Any], *, telemetry: bool
    ) -> None:
        self._send = send
        self._emit = emit
        self._log = logger
        self.telemetry_enabled = telemetry
        self._queue: collections.deque[PendingNotification] = collections.deque()
        self._telemetry: collections.deque[TelemetryEntry] = collections.deque(maxlen=MAX_PENDING_TELEMETRY)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._inflight = 0
        self._carrier: PendingNotification | None = None
        self.dropped = 0

    @property
    def pending(self) -> int:
        """Notification requests queued or being sent."""
        return len(self._queue) + self._inflight

    def take_telemetry(self) -> Telemetry | None:
        """The waiting telemetry entries (for the next outgoing request), or None."""
        if not self._telemetry:
            return None
        with self._lock:
            entries = list(self._telemetry)
            self._telemetry.clear()
        return Telemetry(entries=entries) if entries else None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Send from ``loop`` (the client's own loop; not the loop of a caller's thread that only runs during its
        calls), unless a live loop is already bound."""
        home = self._loop
        if home is None or home.is_closed() or not home.is_running():
            self._loop = loop

    def put(self, item: PendingNotification, telemetry: TelemetryEntry | None = None) -> bool:
        """Queue a call's notification request (when it has notifications) and its telemetry entry, and make
        sure a flush runs on the notifier's loop (thread-safe).

        Telemetry entries ride with the next notification request or server-side call; what is left after a
        flush goes out as one telemetry-only request carrying the ids of the call that left it. Returns False when
        no asyncio loop can send it in the background (another async library): the caller then awaits
        :meth:`flush`.
        """
        with self._lock:
            if telemetry is not None and self.telemetry_enabled:
                self._telemetry.append(telemetry)
                self._carrier = item
            elif not item.request.notifications:
                return True
            if item.request.notifications:
                if len(self._queue) >= MAX_PENDING_NOTIFICATIONS:
                    lost = self._queue.popleft()
                    self.dropped += 1
                    self._report(lost, OverflowError("too many notifications pending; the oldest was dropped"))
                self._queue.append(item)
        return self._wake()

    async def backpressure(self) -> None:
        """Wait while more than :data:`HIGH_WATER` requests are queued, when called on the notifier's own loop
        (a caller on another thread's loop cannot wait for this loop's tasks; the bound then protects memory)."""
        if len(self._queue) <= HIGH_WATER:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return
        if running is not self._loop:
            return
        while len(self._queue) > HIGH_WATER // 2:
            task = self._task
            if task is None or task.done():
                self._schedule()
                task = self._task
            assert task is not None
            await asyncio.wait({task}, timeout=0.05)  # the drain sends in waves: look again after each

    def _wake(self) -> bool:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        home = self._loop
        if home is None or home.is_closed() or (home is not running and not home.is_running()):
            home = self._loop = running  # first use, or the old loop is gone (a new asyncio.run)
        if home is None:
            return False  # no asyncio loop: the next flush() sends it
        if home is running:
            self._schedule()
        else:
            home.call_soon_threadsafe(self._schedule)
        return True

    def _schedule(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain(), name="target-async-notifications")

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let the decisions of this loop turn queue up first
        while True:
            with self._lock:
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), _CONCURRENCY))]
                carrier, self._carrier = (None, self._carrier) if batch else (self._carrier, None)
            if not batch:
                if carrier is None or not self._telemetry:
                    return
                batch = [carrier]  # telemetry nobody carried: one request for all of it
            self._inflight = len(batch)
            try:
                await asyncio.gather(*(self._send_one(item) for item in batch))
            finally:
                self._inflight = 0

    async def _send_one(self, item: PendingNotification) -> None:
        telemetry = self.take_telemetry()
        if telemetry is not None:
            item = attrs.evolve(item, request=attrs.evolve(item.request, telemetry=telemetry))
        try:
            await self._send(item)
        except Exception as exc:
            self._report(item, exc)

    def _report(self, item: PendingNotification, error: BaseException) -> None:
        self._log.warning("target_async: a notification could not be sent: %s", error)
        self._emit("send_notification_error", {"notification": item.request, "error": error})

    async def flush(self) -> None:
        """Send everything queued now and wait for it (used by the client's ``aclose()``)."""
        idle = self._task is None or self._task.done()
        if idle and not self._queue and not (self._carrier is not None and self._telemetry):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # another async library (trio): send here, one at a time
            await self._send_inline()
            return
        home = self._loop
        if home is not None and home is not loop and home.is_running():
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._flush_here(), home))
            return
        self._loop = loop
        await self._flush_here()

    async def _send_inline(self) -> None:
        while True:
            with self._lock:
                item = self._queue.popleft() if self._queue else None
                if item is None:
                    item, self._carrier = (self._carrier, None) if self._telemetry else (None, None)
            if item is None:
                return
            await self._send_one(item)

    async def _flush_here(self) -> None:
        while (
            self._queue
            or (self._carrier is not None and self._telemetry)
            or (self._task is not None and not self._task.done())
        ):
            if self._task is None or self._task.done():
                self._schedule()
            assert self._task is not None
            await asyncio.shield(self._task)
