"""The shared machinery with plain coroutines: callback thread, loop thread, leases, the strategy's guards."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextvars
import functools
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

from target_async import ClientClosedError, WrongThreadError
from target_async.sync._callback_thread import CALLBACK_THREAD_NAME, CallbackThread
from target_async.sync._loop_thread import LOOP_THREAD_NAME
from target_async.sync._shared_threads import shared_threads
from target_async.sync._strategy import ExecutionStrategy

from .conftest import shim_threads


class Thing:
    """An async client stand-in: it records when it is closed."""

    def __init__(self, order: list[str] | None = None) -> None:
        self.order = order if order is not None else []

    async def aclose(self) -> None:
        self.order.append("aclose")


Strategy = ExecutionStrategy[Thing]


def make_strategy(order: list[str] | None = None) -> Strategy:
    return ExecutionStrategy("Thing", "AsyncThing", lambda callbacks: Thing(order))


@pytest.fixture
def dispatcher() -> Iterator[CallbackThread]:
    d = CallbackThread()
    yield d
    d.stop()


@pytest.fixture
def bridge() -> Iterator[Strategy]:
    b = make_strategy()
    yield b
    b.close()


# -- the callback thread -------------------------------------------------------------------------------------------


def test_dispatcher_runs_items_in_order_on_its_thread(dispatcher: CallbackThread) -> None:
    seen: list[tuple[int, str]] = []

    def record(i: int) -> None:
        seen.append((i, threading.current_thread().name))

    for i in range(100):
        dispatcher.submit(functools.partial(record, i))
    assert dispatcher.flush(5)
    assert [i for i, _ in seen] == list(range(100))
    assert {name for _, name in seen} == {CALLBACK_THREAD_NAME}


def test_dispatcher_survives_failing_items(dispatcher: CallbackThread, caplog: pytest.LogCaptureFixture) -> None:
    def fail() -> None:
        raise SystemExit("would end a plain thread")

    with caplog.at_level(logging.ERROR, logger="target_async"):
        dispatcher.submit(fail)
        done = threading.Event()
        dispatcher.submit(done.set)
        assert done.wait(5)
    assert dispatcher.thread.is_alive()
    assert "would end a plain thread" in caplog.text


def test_call_later_runs_in_due_order(dispatcher: CallbackThread) -> None:
    seen: list[str] = []
    start = time.monotonic()
    dispatcher.call_later(0.06, lambda: seen.append("late"))
    dispatcher.call_later(0.02, lambda: seen.append("early"))
    dispatcher.submit(lambda: seen.append("now"))
    deadline = time.monotonic() + 5
    while len(seen) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert seen == ["now", "early", "late"]
    assert time.monotonic() - start >= 0.06


def test_flush_from_the_dispatcher_thread_does_not_wait(dispatcher: CallbackThread) -> None:
    answers: list[bool] = []
    dispatcher.submit(lambda: answers.append(dispatcher.flush(5)))
    assert dispatcher.flush(5)
    assert answers == [False]


def test_stop_runs_what_was_queued_and_later_items_run_inline() -> None:
    d = CallbackThread()
    seen: list[str] = []

    def slow() -> None:
        time.sleep(0.05)
        seen.append("queued")

    d.submit(slow)
    d.stop(5)
    assert seen == ["queued"] and not d.thread.is_alive()
    d.submit(lambda: seen.append(threading.current_thread().name))  # nothing is ever lost
    assert seen[-1] == threading.current_thread().name


# -- the loop thread and leases ---------------------------------------------------------------------------


def test_threads_start_with_the_first_lease_and_stop_with_the_last() -> None:
    assert shim_threads() == []
    first = make_strategy()
    second = make_strategy()
    assert first.threads is second.threads  # one loop for every client
    assert sorted(t.name for t in shim_threads()) == sorted([CALLBACK_THREAD_NAME, LOOP_THREAD_NAME])
    first.close()
    assert len(shim_threads()) == 2
    second.close()
    assert shim_threads() == []  # joined before close() returned
    third = make_strategy()  # a new lease starts new threads
    assert third.threads is not first.threads
    assert third.run(_answer, what="x") == 42
    third.close()


async def _answer(_: object = None) -> int:
    await asyncio.sleep(0)
    return 42


def test_run_returns_and_raises(bridge: Strategy) -> None:
    assert bridge.run(_answer, what="x") == 42

    async def fail(_: Thing) -> None:
        raise LookupError("nope")

    with pytest.raises(LookupError, match="nope"):
        bridge.run(fail, what="x")


def test_coroutines_run_on_the_loop_thread_with_the_callers_context(bridge: Strategy) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("caller")

    async def probe(_: Thing) -> tuple[str, str]:
        return threading.current_thread().name, var.get()

    assert bridge.run(probe, what="x") == (LOOP_THREAD_NAME, "caller")


def test_base_exceptions_reach_the_caller_and_the_loop_survives(bridge: Strategy) -> None:
    async def interrupt(_: Thing) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bridge.run(interrupt, what="x")
    assert bridge.threads.loop_thread.thread.is_alive()
    assert bridge.run(_answer, what="x") == 42


def test_cancelling_the_future_cancels_the_task(bridge: Strategy) -> None:
    started = threading.Event()
    cancelled = threading.Event()

    async def forever(_: Thing) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    future = bridge.submit(forever)
    assert started.wait(5)
    assert future.cancel()
    assert cancelled.wait(5)


def test_submissions_do_not_wait_for_the_loop(bridge: Strategy) -> None:
    gate = threading.Event()
    bridge.threads.loop_thread.loop.call_soon_threadsafe(lambda: gate.wait(5))  # the loop thread is now stuck
    start = time.monotonic()
    futures = [bridge.submit(_answer) for _ in range(50)]
    elapsed = time.monotonic() - start
    gate.set()
    assert [f.result(5) for f in futures] == [42] * 50
    assert elapsed < 1.0


def test_calls_from_the_loop_thread_are_refused(bridge: Strategy) -> None:
    def nested() -> None:
        bridge.run(_answer, what="x")

    with pytest.raises(WrongThreadError, match="cannot be called from its own event-loop thread.*AsyncThing"):
        bridge.threads.loop_thread.call(nested)
    with pytest.raises(WrongThreadError, match="cannot be created on its own event-loop thread"):
        bridge.threads.loop_thread.call(make_strategy)


# -- close ------------------------------------------------------------------------------------------------


def _sleeper(seconds: float, done: list[float]) -> Callable[[Thing], Coroutine[Any, Any, float]]:
    async def sleep(_: Thing) -> float:
        await asyncio.sleep(seconds)
        done.append(seconds)
        return seconds

    return sleep


def test_close_finishes_calls_in_flight() -> None:
    b = make_strategy()
    done: list[float] = []
    futures = [b.submit(_sleeper(0.1, done)) for _ in range(10)]
    b.close()
    assert [f.result(0) for f in futures] == [0.1] * 10 and len(done) == 10
    with pytest.raises(ClientClosedError, match="this Thing is closed"):
        b.submit(_answer)
    b.close()  # idempotent


def test_close_can_cancel_calls_in_flight() -> None:
    b = make_strategy()
    done: list[float] = []
    futures = [b.submit(_sleeper(30, done)) for _ in range(10)]
    start = time.monotonic()
    b.close(cancel_pending=True)
    assert time.monotonic() - start < 5
    assert all(f.cancelled() for f in futures) and done == []


def test_close_timeout_cancels_what_is_left() -> None:
    b = make_strategy()
    done: list[float] = []
    quick = b.submit(_sleeper(0.05, done))
    slow = b.submit(_sleeper(30, done))
    start = time.monotonic()
    b.close(timeout=0.5)
    assert time.monotonic() - start < 5
    assert quick.result(0) == 0.05
    assert slow.cancelled()


def test_close_waits_for_cancelled_coroutines_before_closing_the_async_client() -> None:
    order: list[str] = []
    b = make_strategy(order)

    async def slow_unwind(_: Thing) -> None:
        try:
            await asyncio.sleep(30)
        finally:
            await asyncio.sleep(0.1)  # cleanup that needs the loop
            order.append("unwound")

    started = b.submit(slow_unwind)
    time.sleep(0.05)
    b.close(cancel_pending=True)
    assert started.cancelled()
    assert order == ["unwound", "aclose"]


def test_unclosed_strategies_are_closed_by_shutdown() -> None:
    b = make_strategy()
    done: list[float] = []
    future = b.submit(_sleeper(0.05, done))
    shared_threads.shutdown(timeout=5)
    assert future.result(0) == 0.05 and b.closed
    assert shim_threads() == []


def test_cancelled_before_start_never_runs(bridge: Strategy) -> None:
    gate = threading.Event()
    bridge.threads.loop_thread.loop.call_soon_threadsafe(lambda: gate.wait(5))
    ran: list[int] = []

    async def work(_: Thing) -> None:
        ran.append(1)

    future = bridge.submit(work)
    assert future.cancel()
    gate.set()
    with pytest.raises(cf.CancelledError):
        future.result(5)
    assert bridge.run(_answer, what="x") == 42
    assert ran == []
