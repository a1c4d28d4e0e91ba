"""Bounded resources: threads and memory stay flat over 10,000 callback calls; nothing is left behind."""

from __future__ import annotations

import gc
import os
import threading
from typing import Any

import pytest

from target_async.sync import AsyncResult, TargetClient

from .conftest import SHIM_THREADS, Stub, request_for, shim_threads


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _batch(clients: list[TargetClient], n: int, counter: list[int]) -> None:
    lock = threading.Lock()

    def on_response(response: Any) -> None:
        with lock:
            counter[0] += 1

    request = request_for("hero")
    results: list[AsyncResult[Any]] = [
        clients[i % len(clients)].get_offers({"request": request, "callback": on_response}) for i in range(n)
    ]
    for result in results:
        result.get(timeout=60)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_3000_callback_calls_keep_threads_and_memory_flat(client_options: dict[str, Any], stub: Stub) -> None:
    # (the 10,000-call soak with its thread and RSS targets is a cell of benchmarks/run_all.py)
    threads_at_start = threading.active_count()
    clients = [TargetClient.create(client_options) for _ in range(3)]  # several clients, one set of threads
    try:
        counter = [0]
        for _ in range(2):  # warm up: pools, caches, allocator arenas
            _batch(clients, 500, counter)
        gc.collect()
        rss_before = _rss_bytes()
        threads_before = threading.active_count()
        for _ in range(4):
            _batch(clients, 500, counter)
        gc.collect()
        grown = _rss_bytes() - rss_before
        assert counter[0] == 3_000
        assert threading.active_count() == threads_before == threads_at_start + len(SHIM_THREADS)
        assert grown < 16 * 2**20, f"resident memory grew by {grown / 2**20:.1f} MiB over 2,000 calls"
    finally:
        for c in clients:
            c.close()
    assert shim_threads() == []
    assert threading.active_count() == threads_at_start
