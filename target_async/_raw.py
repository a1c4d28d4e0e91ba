"""The raw HTTP answer of a successful call: ``client.with_raw_response.<method>(...)`` (openai/anthropic's name).

Why a ``with_raw_response`` view rather than a ``.http`` attribute on results: most results are the API's own
models (``Instance``, ``Receipt``, ``Page``, ``list[Container]``), which should stay the documents they model;
the view gives one convention for both clients, and costs nothing to calls that do not use it.

While a call made through the view runs, the clients record each HTTP answer they receive
(:func:`record`, in a context variable, so concurrent calls never mix); the view returns a
:class:`RawResponse` over the last one, with the parsed result. A call answered without HTTP (an on-device
decision) gives a :class:`RawResponse` whose ``status_code`` is None.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, ParamSpec, TypeVar

import anyio

from ._answer import Answer

__all__ = ["RawResponse", "raw", "record"]

T = TypeVar("T")
P = ParamSpec("P")

# (the task that made the call, its answers): a task started during the call (artifact polling, queued
# notifications) inherits the context, and its answers are not the call's
_ANSWERS: contextvars.ContextVar[tuple[int, list[Answer]] | None] = contextvars.ContextVar(
    "target_async_answers", default=None
)


def record(answer: Answer) -> None:
    """Keep ``answer`` for the ``with_raw_response`` call running in this context, if any (cheap otherwise)."""
    capture = _ANSWERS.get()
    if capture is not None and capture[0] == anyio.get_current_task().id:
        capture[1].append(answer)


class RawResponse(Generic[T]):
    """The HTTP answer of a successful call, and its result.

    Attributes:
        status_code: the HTTP status (None: no HTTP answer, e.g. a call decided on the device).
        headers: the response headers, names in lower case (empty without an HTTP answer).
        request_id: the server's ``x-request-id``, else the one the SDK sent (None without an HTTP answer).
        url: the URL the request went to (None without an HTTP answer).
        http_requests: how many HTTP answers the call received (retries not counted; several for
            ``update_with_retry`` or ``delete_instance``; this view describes the last).
    """

    __slots__ = ("_parsed", "headers", "http_requests", "request_id", "status_code", "url")

    def __init__(self, parsed: T, answers: list[Answer]) -> None:
        self._parsed = parsed
        last = answers[-1] if answers else None
        self.http_requests = len(answers)
        self.status_code: int | None = last.status_code if last is not None else None
        self.headers: Mapping[str, str] = dict(last.headers) if last is not None else {}
        self.url: str | None = last.url if last is not None else None
        self.request_id: str | None = (
            (last.headers.get("x-request-id") or last.request_id) if last is not None else None
        )

    def parse(self) -> T:
        """The call's result, as the method returns it (already parsed: the call has completed)."""
        return self._parsed

    def __repr__(self) -> str:
        return f"<RawResponse status_code={self.status_code} request_id={self.request_id!r}>"


def raw(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[RawResponse[T]]]:
    """``method`` (a bound coroutine method of a client), returning a :class:`RawResponse` of its result."""

    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> RawResponse[T]:
        answers: list[Answer] = []
        token = _ANSWERS.set((anyio.get_current_task().id, answers))
        try:
            result = await method(*args, **kwargs)
        finally:
            _ANSWERS.reset(token)
        return RawResponse(result, answers)

    return call
