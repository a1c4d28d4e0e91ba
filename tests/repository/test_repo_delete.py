"""The long-running delete: every polling path, delays, timeouts, continuation tokens (spec §1 M, §3)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from target_async import (
    BadRequestError,
    ConflictError,
    DeleteRejectedError,
    OperationExpiredError,
    PollingTimeoutError,
    RetryPolicy,
    ServerError,
    UnprocessableEntityError,
    ValidationError,
)
from target_async._exceptions import ResponseDecodeError
from target_async.repository import DeleteOperation, _polling

from .helpers import BASE, CID, RECEIPT, Recorder, receipt_body

INSTANCE_URL = f"{BASE}{CID}/instances/i1"
STATUS_PATH = f"/{CID}/operations/op1"


def _outcome(outcome: str = "confirmed", refs: list | None = None) -> dict:
    body = {"operation": "delete", "instanceId": "i1", "@id": "xcore:tag:1", "outcome": outcome, "repo:etag": 2}
    if refs is not None:
        body["referencedBy"] = refs
    return body


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    recorded: list[float] = []

    async def fake_sleep(delay: float) -> None:
        recorded.append(delay)

    monkeypatch.setattr(_polling, "_sleep", fake_sleep)
    return recorded


@pytest.fixture
def no_retry_repo(make_repo):
    return make_repo(retries=RetryPolicy(max_retries=0))


async def test_immediate_200_receipt(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(200, json=receipt_body("i1", etag=3)))
    op = await repo.begin_delete(CID, "i1", if_match=2)
    assert op.done() and op.status == "confirmed"
    request = recorder.last
    assert (request.method, str(request.url), request.headers["accept"]) == ("DELETE", INSTANCE_URL, RECEIPT)
    assert request.headers["if-match"] == '"2"'
    outcome = await op
    assert outcome.confirmed and outcome.receipt is not None and outcome.receipt.etag == 3
    assert len(recorder.requests) == 1


async def test_immediate_204(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(204))
    outcome = await repo.delete_instance(CID, "i1")
    assert (outcome.status, outcome.instance_id, outcome.verified) == ("confirmed", "i1", True)


async def test_delete_conflict_raises(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(409, json={}))
    with pytest.raises(ConflictError):
        await repo.begin_delete(CID, "i1", if_match=1)


async def test_202_location_polled_until_200_and_new_location_replaces_old(repo, recorder: Recorder, sleeps) -> None:
    recorder.then(
        httpx.Response(202, headers={"Location": STATUS_PATH}),
        httpx.Response(202, headers={"Location": STATUS_PATH}),
        httpx.Response(202, headers={"Location": f"/{CID}/operations/op2"}),
        httpx.Response(200, json=_outcome()),
    )
    op = await repo.begin_delete(CID, "i1")
    assert (op.status, op.polling_url) == ("pending", f"{BASE}{CID}/operations/op1")
    outcome = await op.result()
    urls = [str(r.url) for r in recorder.requests[1:]]
    assert urls == [f"{BASE}{CID}/operations/op1", f"{BASE}{CID}/operations/op1", f"{BASE}{CID}/operations/op2"]
    assert all(
        r.headers["accept"] == RECEIPT and r.headers["authorization"] == "Bearer tok-123" for r in recorder.requests
    )
    assert (outcome.status, outcome.id, outcome.extras) == ("confirmed", "xcore:tag:1", {"operation": "delete"})
    assert op.done() and op.status == "confirmed"
    assert len(sleeps) == 2  # between the three polls


async def test_rejection_raises_with_referenced_by(repo, recorder: Recorder, sleeps) -> None:
    refs = [{"instanceId": "o1", "@id": "xcore:personalized-offer:1", "schema": "…/personalized-offer"}]
    recorder.then(
        httpx.Response(202, headers={"Location": STATUS_PATH}), httpx.Response(200, json=_outcome("rejected", refs))
    )
    with pytest.raises(DeleteRejectedError) as info:
        await repo.delete_instance(CID, "i1")
    assert info.value.referenced_by == refs
    assert "xcore:personalized-offer:1" in str(info.value)
    assert info.value.outcome.status == "rejected"


async def test_rejection_without_raising(repo, recorder: Recorder) -> None:
    refs = [{"instanceId": "o1", "@id": "x", "schema": "s"}]
    recorder.then(httpx.Response(200, json=_outcome("confirmed", refs)))  # references found: rejected regardless
    outcome = await repo.delete_instance(CID, "i1", raise_on_reject=False)
    assert (outcome.status, outcome.referenced_by) == ("rejected", refs)


async def test_202_without_location_reads_until_404(repo, recorder: Recorder, sleeps) -> None:
    recorder.then(
        httpx.Response(202),
        httpx.Response(200, json={"instanceId": "i1", "_instance": {}}),
        httpx.Response(200, json={"instanceId": "i1", "_instance": {}}),
        httpx.Response(404, json={}),
    )
    op = await repo.begin_delete(CID, "i1")
    assert op.status == "pending" and op.polling_url is None
    outcome = await op
    assert outcome.confirmed and outcome.verified
    assert [(r.method, str(r.url)) for r in recorder.requests] == [("DELETE", INSTANCE_URL)] + [
        ("GET", INSTANCE_URL)
    ] * 3


async def test_202_without_location_and_no_confirmation(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(202))
    outcome = await repo.delete_instance(CID, "i1", confirm_with_get=False)
    assert (outcome.status, outcome.verified) == ("confirmed", False)
    assert len(recorder.requests) == 1


async def test_poll_answering_503_then_200_is_retried_by_the_poller(no_retry_repo, recorder: Recorder, sleeps) -> None:
    recorder.then(
        httpx.Response(202, headers={"Location": STATUS_PATH}),
        httpx.Response(503, json={"message": "busy"}),
        httpx.Response(429, headers={"Retry-After": "0"}),
        httpx.Response(200, json=_outcome()),
    )
    outcome = await no_retry_repo.delete_instance(CID, "i1")
    assert outcome.confirmed
    assert len(recorder.requests) == 4


async def test_poll_500_is_not_retried(no_retry_repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(202, headers={"Location": STATUS_PATH}), httpx.Response(500, json={}))
    with pytest.raises(ServerError):
        await no_retry_repo.delete_instance(CID, "i1")


async def test_other_4xx_on_poll_raises_at_once(no_retry_repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(202, headers={"Location": STATUS_PATH}), httpx.Response(400, json={}))
    with pytest.raises(BadRequestError):
        await no_retry_repo.delete_instance(CID, "i1")
    assert len(recorder.requests) == 2


async def test_404_on_status_url_is_operation_expired(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(202, headers={"Location": STATUS_PATH}), httpx.Response(404, json={"m": 1}))
    with pytest.raises(OperationExpiredError) as info:
        await repo.delete_instance(CID, "i1")
    assert info.value.status == 404 and info.value.body == {"m": 1}


@pytest.mark.backoff
async def test_retry_after_is_honoured(repo, recorder: Recorder, sleeps) -> None:
    recorder.then(
        httpx.Response(202, headers={"Location": STATUS_PATH}),
        httpx.Response(202, headers={"Retry-After": "2"}),
        httpx.Response(202, headers={"Retry-After": "7"}),
        httpx.Response(200, json=_outcome()),
    )
    await repo.delete_instance(CID, "i1")
    assert sleeps == [2.0, 7.0]


@pytest.mark.backoff
async def test_capped_exponential_backoff_without_retry_after(repo, recorder: Recorder, sleeps) -> None:
    recorder.then(
        httpx.Response(202, headers={"Location": STATUS_PATH}),
        *[httpx.Response(202) for _ in range(7)],
        httpx.Response(200),
    )
    await repo.delete_instance(CID, "i1")
    nominal = [0.5, 1, 2, 4, 8, 10, 10]
    assert len(sleeps) == len(nominal)
    for got, cap in zip(sleeps, nominal, strict=True):
        assert 0.75 * cap <= got <= cap  # 25 % jitter below the nominal delay


async def test_timeout_raises_with_continuation_token(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(202, headers={"Location": STATUS_PATH}))
    recorder.answer = lambda r: httpx.Response(202)
    op = await repo.begin_delete(CID, "i1")
    with pytest.raises(PollingTimeoutError) as info:
        await op.result(timeout=0.05)
    assert op.status == "pending"
    token = info.value.continuation_token
    data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert data["polling_url"] == f"{BASE}{CID}/operations/op1"
    assert data["base"] == BASE
    assert (data["container_id"], data["instance_id"]) == (CID, "i1")
    assert data["request_id"] == recorder.requests[0].headers["x-request-id"]
    assert isinstance(data["started_at"], float)
    assert "tok-123" not in json.dumps(data) and "key-abc" not in json.dumps(data)
    assert "tok-123" not in repr(op) and "key-abc" not in repr(op)
    assert not any("tok-123" in repr(v) or "key-abc" in repr(v) for v in vars(op).values() if v is not op._client)


async def test_resume_from_continuation_token(make_repo, recorder: Recorder) -> None:
    first = make_repo()
    recorder.then(httpx.Response(202, headers={"Location": STATUS_PATH}))
    token = (await first.begin_delete(CID, "i1")).continuation_token()
    await first.aclose()
    recorder.then(httpx.Response(202), httpx.Response(200, json=_outcome()))
    second = make_repo(access_token=lambda: "fresh-token")
    op = DeleteOperation.from_continuation_token(second, token)
    assert (op.status, op.polling_url, op.instance_id) == ("pending", f"{BASE}{CID}/operations/op1", "i1")
    outcome = await op
    assert outcome.confirmed
    assert [r.headers["authorization"] for r in recorder.requests[1:]] == ["Bearer fresh-token"] * 2
    assert second.resume_delete(token).polling_url == op.polling_url


async def test_resume_confirm_mode_token(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(202))
    token = (await repo.begin_delete(CID, "i1")).continuation_token()
    recorder.then(httpx.Response(404))
    outcome = await repo.resume_delete(token).result()
    assert outcome.confirmed
    assert (recorder.last.method, str(recorder.last.url)) == ("GET", INSTANCE_URL)


async def test_token_for_another_repository_is_refused(make_repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(202, headers={"Location": STATUS_PATH}))
    token = (await make_repo().begin_delete(CID, "i1")).continuation_token()
    other = make_repo(base_url="https://elsewhere.example/data/core/xcore/")
    with pytest.raises(ValidationError) as info:
        DeleteOperation.from_continuation_token(other, token)
    assert info.value.field == "token"


@pytest.mark.parametrize("token", ["", "!!!", base64.urlsafe_b64encode(b'{"v": 1}').decode(), "eyJ2IjoyfQ"])
def test_garbage_tokens_are_refused(repo, token) -> None:
    with pytest.raises(ValidationError):
        DeleteOperation.from_continuation_token(repo, token)


async def test_poll_once_and_last_response(repo, recorder: Recorder) -> None:
    recorder.then(
        httpx.Response(202, headers={"Location": STATUS_PATH}),
        httpx.Response(202),
        httpx.Response(200, json=_outcome()),
    )
    op = await repo.begin_delete(CID, "i1")
    assert await op.poll_once() == "pending"
    assert op.last_response is not None and op.last_response.status_code == 202
    assert await op.poll_once() == "confirmed"
    assert op.last_response.body["outcome"] == "confirmed"
    assert await op.poll_once() == "confirmed"  # no request once decided
    assert len(recorder.requests) == 3


async def test_foreign_location_is_not_polled_with_credentials(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(202, headers={"Location": "https://evil.example/op"}))
    # the answer is unusable, and the error says the DELETE was sent and accepted (not "nothing was sent")
    with pytest.raises(ResponseDecodeError, match="the DELETE was accepted") as info:
        await repo.begin_delete(CID, "i1")
    assert info.value.status == 202
    assert len(recorder.requests) == 1


async def test_schema_is_not_needed_for_delete(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(200, json=receipt_body()))
    await repo.delete_instance(CID, "i1")
    assert "content-type" not in recorder.last.headers  # the table has no Content-Type for a delete
    assert "schema" not in str(recorder.last.url)


async def test_synchronous_422_rejection_is_a_rejected_outcome(repo, recorder: Recorder) -> None:
    refs = [{"instanceId": "o1", "@id": "xcore:personalized-offer:1", "schema": "s"}]
    body = {"status": 422, "message": "cannot be deleted", **_outcome("rejected", refs)}
    recorder.then(httpx.Response(422, json=body))
    op = await repo.begin_delete(CID, "i1")
    assert op.done() and op.status == "rejected"
    with pytest.raises(DeleteRejectedError) as info:
        await op
    assert info.value.referenced_by == refs


async def test_other_422_on_delete_is_raised(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(422, json={"message": "no"}))
    with pytest.raises(UnprocessableEntityError):
        await repo.begin_delete(CID, "i1")
