"""AsyncResult against the contract of multiprocessing.pool.AsyncResult (same scenarios on both)."""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
import gc
import logging
import multiprocessing
import multiprocessing.pool
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from target_async import TargetError, WrongThreadError
from target_async.sync import AsyncResult, AsyncResultTimeout
from target_async.sync._callback_thread import CallbackThread

Complete = Callable[[Any], None]  # a value, or an exception to raise
Make = Callable[..., tuple[Any, Complete]]


@pytest.fixture
def dispatcher() -> Iterator[CallbackThread]:
    d = CallbackThread()
    yield d
    d.stop()


def _ours(dispatcher: CallbackThread) -> Make:
    def make(callback=None, err_callback=None):
        future: cf.Future[Any] = cf.Future()
        result = AsyncResult(future, dispatcher, callback=callback, err_callback=err_callback)

        def complete(outcome: Any) -> None:
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

        return result, complete

    return make


def _pool(pool: multiprocessing.pool.ThreadPool) -> Make:
    def make(callback=None, err_callback=None):
        gate = threading.Event()
        box: list[Any] = []

        def work() -> Any:
            gate.wait(10)
            if isinstance(box[0], BaseException):
                raise box[0]
            return box[0]

        result = pool.apply_async(work, callback=callback, error_callback=err_callback)

        def complete(outcome: Any) -> None:
            box.append(outcome)
            gate.set()

        return result, complete

    return make


@pytest.fixture(params=["multiprocessing", "target_async"])
def make(request: pytest.FixtureRequest, dispatcher: CallbackThread) -> Iterator[Make]:
    if request.param == "target_async":
        yield _ours(dispatcher)
        return
    pool = multiprocessing.pool.ThreadPool(2)
    try:
        yield _pool(pool)
    finally:
        pool.close()
        pool.join()


def test_pending_result(make: Make) -> None:
    result, complete = make()
    assert result.ready() is False
    with pytest.raises(ValueError, match="not ready"):
        result.successful()
    assert result.wait(0.05) is None
    with pytest.raises(multiprocessing.TimeoutError):
        result.get(timeout=0.05)
    complete(1)
    assert result.get(timeout=5) == 1


def test_success_runs_the_callback_before_ready(make: Make) -> None:
    seen: list[tuple[Any, bool, str]] = []
    holder: list[Any] = []

    def callback(value: Any) -> None:
        seen.append((value, holder[0].ready(), threading.current_thread().name))

    result, complete = make(callback=callback)
    holder.append(result)
    complete({"answer": 42})
    assert result.wait(5) is None
    assert result.ready() and result.successful()
    assert result.get() == {"answer": 42}
    assert len(seen) == 1
    value, ready_inside, thread = seen[0]
    assert value == {"answer": 42} and ready_inside is False
    assert thread != threading.current_thread().name


def test_failure_goes_to_err_callback_and_get_reraises(make: Make) -> None:
    errors: list[BaseException] = []
    called: list[Any] = []
    result, complete = make(callback=called.append, err_callback=errors.append)
    boom = RuntimeError("boom")
    complete(boom)
    result.wait(5)
    assert errors == [boom] and called == []
    assert result.successful() is False
    with pytest.raises(RuntimeError, match="boom") as info:
        result.get()
    assert info.value is boom


def test_failure_without_err_callback(make: Make) -> None:
    result, complete = make(callback=lambda v: None)
    complete(KeyError("k"))
    with pytest.raises(KeyError):
        result.get(timeout=5)


# -- target_async only -----------------------------------------------------------------------------------


def test_timeout_error_is_every_timeout_type(dispatcher: CallbackThread) -> None:
    result, _ = _ours(dispatcher)()
    with pytest.raises(AsyncResultTimeout) as info:
        result.get(timeout=0.01)
    for kind in (
        multiprocessing.TimeoutError,
        multiprocessing.context.TimeoutError,
        TimeoutError,
        cf.TimeoutError,
    ):
        assert isinstance(info.value, kind)
    assert isinstance(info.value, TargetError)
    result.cancel()


def test_raising_callback_is_logged_and_result_still_ready(
    dispatcher: CallbackThread, caplog: pytest.LogCaptureFixture
) -> None:
    def callback(value: Any) -> None:
        raise ValueError("user bug")

    result, complete = _ours(dispatcher)(callback=callback)
    with caplog.at_level(logging.ERROR, logger="target_async"):
        complete(7)
        assert result.get(timeout=5) == 7  # Adobe's SDK never becomes ready here
    assert result.successful()
    assert "target_async callback failed" in caplog.text and "user bug" in caplog.text
    # the callback thread survived: the next result is delivered too
    again, complete_again = _ours(dispatcher)(callback=callback)
    complete_again(8)
    assert again.get(timeout=5) == 8


def test_raising_err_callback_keeps_the_original_error(
    dispatcher: CallbackThread, caplog: pytest.LogCaptureFixture
) -> None:
    def err_callback(exc: BaseException) -> None:
        raise ValueError("handler bug")

    result, complete = _ours(dispatcher)(err_callback=err_callback)
    with caplog.at_level(logging.ERROR, logger="target_async"):
        complete(LookupError("call failed"))
        with pytest.raises(LookupError, match="call failed"):
            result.get(timeout=5)
    assert "handler bug" in caplog.text


def test_callbacks_run_exactly_once_in_completion_order(dispatcher: CallbackThread) -> None:
    calls: list[int] = []
    made = [_ours(dispatcher)(callback=calls.append) for _ in range(200)]
    for i, (_, complete) in enumerate(made):
        complete(i)
    for i, (result, _) in enumerate(made):
        assert result.get(timeout=5) == i
    assert calls == list(range(200))


def test_get_inside_a_callback_for_an_unfinished_result_fails_fast(dispatcher: CallbackThread) -> None:
    other, complete_other = _ours(dispatcher)()
    errors: list[BaseException] = []
    own: list[Any] = []

    def try_get(target: AsyncResult[Any]) -> None:
        with pytest.raises(AsyncResultTimeout):
            target.get(timeout=0)  # polling is fine
        try:
            target.get(timeout=5)  # waiting would be in vain: refused at once
        except WrongThreadError as exc:
            errors.append(exc)

    def callback(value: Any) -> None:
        try_get(other)
        try_get(own[0])

    result, complete = _ours(dispatcher)(callback=callback)
    own.append(result)
    started = time.monotonic()
    complete(1)
    assert result.get(timeout=30) == 1  # the callback returned instead of deadlocking
    assert time.monotonic() - started < 5
    assert len(errors) == 2
    assert "would wait forever" in str(errors[0]) and "AsyncResult.get()" in str(errors[0])
    complete_other(2)
    assert other.get(timeout=5) == 2


def test_get_inside_a_callback_for_a_ready_result_works(dispatcher: CallbackThread) -> None:
    ready, complete_ready = _ours(dispatcher)()
    complete_ready("done")
    ready.wait(5)
    got: list[Any] = []
    result, complete = _ours(dispatcher)(callback=lambda v: got.append(ready.get()))
    complete(None)
    result.get(timeout=5)
    assert got == ["done"]


def test_callbacks_see_the_callers_context(dispatcher: CallbackThread) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("caller")
    seen: list[str] = []
    result, complete = _ours(dispatcher)(callback=lambda v: seen.append(var.get()))
    threading.Thread(target=complete, args=(1,)).start()
    result.get(timeout=5)
    assert seen == ["caller"]


def test_cancel_reports_cancelled_error(dispatcher: CallbackThread) -> None:
    errors: list[BaseException] = []
    result, _ = _ours(dispatcher)(callback=lambda v: None, err_callback=errors.append)
    assert result.cancel() is True
    with pytest.raises(cf.CancelledError):
        result.get(timeout=5)
    assert result.successful() is False
    assert len(errors) == 1 and isinstance(errors[0], cf.CancelledError)
    assert repr(result) == "<AsyncResult cancelled>"


def test_unretrieved_failure_is_logged_when_collected(
    dispatcher: CallbackThread, caplog: pytest.LogCaptureFixture
) -> None:
    result, complete = _ours(dispatcher)(callback=lambda v: None)
    complete(RuntimeError("nobody looked"))
    result.wait(5)
    with caplog.at_level(logging.WARNING, logger="target_async"):
        del result, complete  # complete() holds the future, whose done-callback holds the result
        gc.collect()
    assert "exception was never retrieved" in caplog.text and "nobody looked" in caplog.text


def test_retrieved_failure_is_not_logged_when_collected(
    dispatcher: CallbackThread, caplog: pytest.LogCaptureFixture
) -> None:
    result, complete = _ours(dispatcher)()
    complete(RuntimeError("seen"))
    with pytest.raises(RuntimeError):
        result.get(timeout=5)
    with caplog.at_level(logging.WARNING, logger="target_async"):
        del result, complete  # complete() holds the future, whose done-callback holds the result
        gc.collect()
    assert "never retrieved" not in caplog.text
