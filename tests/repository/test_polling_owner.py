"""Delete polling owns its retries (issue #11 item 3): a poll that fails is retried by the poll loop only, never
also inside the HTTP core, so a ``Retry-After`` is waited once and every poll carries its own request id."""

from __future__ import annotations

import httpx
import pytest

from target_async import RetryPolicy
from target_async.repository import _polling

from .helpers import BASE, CID, Recorder

STATUS_URL = f"{BASE}{CID}/operations/op1"


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    recorded: list[float] = []

    async def fake_sleep(delay: float) -> None:
        recorded.append(delay)

    monkeypatch.setattr(_polling, "_sleep", fake_sleep)
    return recorded


async def test_each_failed_poll_is_retried_once_by_the_loop(make_repo, recorder: Recorder, sleeps) -> None:
    repo = make_repo(retries=RetryPolicy(max_retries=3))
    recorder.then(httpx.Response(202, headers={"location": STATUS_URL}))
    for _ in range(3):
        recorder.then(httpx.Response(503, headers={"retry-after": "2"}))
    recorder.then(
        httpx.Response(200, json={"operation": "delete", "instanceId": "i1", "@id": "x:1", "outcome": "confirmed"})
    )
    op = await repo.begin_delete(CID, "i1")
    outcome = await op.result(timeout=30)
    assert outcome.status == "confirmed"
    polls = [r for r in recorder.requests if str(r.url) == STATUS_URL]
    assert len(polls) == 4
    ids = [r.headers["x-request-id"] for r in polls]
    assert len(set(ids)) == 4  # the core never re-sent a poll with the same id
    assert len(sleeps) == 3  # one wait per 503, by the loop (its length is 0 here: backoff is off in tests)
