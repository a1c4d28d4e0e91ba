"""The bounded log of the notifications the emulator's Delivery endpoint received (re-exported by :mod:`._delivery`)."""

from __future__ import annotations

import json
import threading
from collections import deque
from typing import Any


class NotificationLog:
    """The notifications the Delivery endpoint received, oldest first; bounded by count (``limit``) and by size
    (``max_bytes`` of JSON): the oldest are dropped first."""

    def __init__(self, limit: int = 10_000, max_bytes: int = 16 * 1024 * 1024) -> None:
        self._lock = threading.Lock()
        self._entries: deque[tuple[int, dict[str, Any]]] = deque()
        self._limit = limit
        self._max_bytes = max_bytes
        self._bytes = 0
        self._total = 0

    def record(self, entries: list[dict[str, Any]]) -> None:
        sized = [(len(json.dumps(e, separators=(",", ":"), default=str)), e) for e in entries]
        with self._lock:
            for size, entry in sized:
                self._entries.append((size, entry))
                self._bytes += size
                self._total += 1
            while self._entries and (len(self._entries) > self._limit or self._bytes > self._max_bytes):
                self._bytes -= self._entries.popleft()[0]

    def snapshot(self) -> dict[str, Any]:
        """``{"notifications": [...], "total": <received since the last clear>, "dropped": <no longer kept>}``."""
        with self._lock:
            entries = [e for _, e in self._entries]
            total = self._total
        return {"notifications": entries, "total": total, "dropped": total - len(entries)}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self._total = 0
