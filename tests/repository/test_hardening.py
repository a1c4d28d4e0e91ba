"""Issue #10, repository items: unreadable answers are errors, ids stay one path segment, links stay in the
repository, polling has a floor and a cap and honours the DELETE's Retry-After, and ``ids`` is bounded."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from target_async import APIError, PollingTimeoutError, TargetError, ValidationError
from target_async._exceptions import ResponseDecodeError
from target_async.repository import (
    MAX_IDS,
    POLL_MAX_RETRY_AFTER,
    POLL_MIN_INTERVAL,
    AsyncRepositoryClient,
    DeleteOperation,
    Schema,
    _polling,
)
from target_async.repository._links import escape_reason
from target_async.repository._params import MAX_IDS_CHARS

from .helpers import BASE, CID, FakeLister, Recorder, envelope, query_pairs, receipt_body

SIX = [envelope(f"id-{i}", {"xdm:name": f"n{i}"}) for i in range(6)]
STATUS_PATH = f"/{CID}/operations/op1"


def _page(items: list[dict[str, Any]], total: int) -> dict[str, Any]:
    return {"_embedded": {"results": items, "count": len(items), "total": total}, "_links": {"self": {"href": "/"}}}


# --- 1. a page that cannot be read is an error, never the end of the list -------------------------------

UNREADABLE_PAGES = {
    "truncated JSON": (b'{"_embedded": {"results": [{"instanceId": "id-3", "_inst', "application/json"),
    "HTML": (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    "no _embedded": (b'{"_links": {"self": {"href": "/x"}}, "requestTime": "2019-06-10T22:12:13.642Z"}', None),
    "empty object": (b"{}", None),
    "_embedded not an object": (b'{"_embedded": [1, 2]}', None),
    "results not an array": (b'{"_embedded": {"results": {"a": 1}, "count": 1}}', None),
    "_embedded without results, count 3": (b'{"_embedded": {"count": 3, "total": 3}}', None),
    "JSON array": (b"[]", None),
    "empty body": (b"", None),
}


@pytest.mark.parametrize("name", list(UNREADABLE_PAGES))
async def test_list_raises_on_an_unreadable_page_instead_of_ending(repo, recorder: Recorder, name: str) -> None:
    content, content_type = UNREADABLE_PAGES[name]
    recorder.then(
        httpx.Response(200, json=_page(SIX[:3], 6)),
        httpx.Response(200, content=content, headers={"Content-Type": content_type or "application/json"}),
    )
    seen: list[str] = []
    with pytest.raises(ResponseDecodeError) as info:
        async for instance in repo.list_instances(CID, Schema.PERSONALIZED_OFFER):
            seen.append(instance.instance_id)  # noqa: PERF401 - the items before the error are the point
    assert seen == ["id-0", "id-1", "id-2"]  # the first page, then an error (not a silent end at 3 of 6)
    error = info.value
    assert isinstance(error, APIError) and isinstance(error, TargetError)
    assert not isinstance(error, ValidationError)  # never "nothing was sent"
    assert error.status == 200
    assert error.request_id == recorder.requests[1].headers["x-request-id"]
    assert "was sent" in str(error)
    assert error.body == " ".join(content.decode().split())[:200]  # a short excerpt of what came back


async def test_list_page_of_html_is_an_error_not_zero_results(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(200, text="<!doctype html><title>Sign in</title>" + "x" * 5000))
    with pytest.raises(ResponseDecodeError, match="not JSON") as info:
        await repo.list_page(CID, Schema.TAG)
    assert len(info.value.body) <= 200  # bounded excerpt
    assert info.value.headers["content-type"].startswith("text/plain")


async def test_search_page_error_names_the_search(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(200, text="oops"))
    with pytest.raises(ResponseDecodeError, match="search page"):
        await repo.list_page(CID, Schema.TAG, q="x")


async def test_an_item_that_does_not_fit_is_a_decode_error(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(200, json=_page([{"instanceId": 7, "_instance": {}}], 1)))
    with pytest.raises(ResponseDecodeError, match="instance"):
        await repo.list_page(CID, Schema.TAG)


@pytest.mark.parametrize(
    "body",
    [
        {"_embedded": {"results": [], "count": 0, "total": 0}},  # what the spec (F2) and the emulator send
        {"_embedded": {"results": []}},
        {"_embedded": {"count": 0}},  # no results array, but the page says it is empty
        {"_embedded": {"total": 0}},
    ],
)
async def test_legitimate_empty_pages(repo, recorder: Recorder, body: dict[str, Any]) -> None:
    recorder.answer = lambda r: httpx.Response(200, json=body)
    page = await repo.list_page(CID, Schema.TAG)
    assert page.results == []
    assert await repo.list_instances(CID, Schema.TAG).to_list() == []


async def test_a_list_ending_on_an_empty_last_page_still_ends_quietly(repo, recorder: Recorder) -> None:
    lister = FakeLister(SIX, send_total=False)  # no total, no next link: the client pages on with start=
    recorder.answer = lister
    ids = [i.instance_id for i in await repo.list_instances(CID, Schema.TAG, limit=3).to_list()]
    assert ids == [f"id-{i}" for i in range(6)]
    assert len(lister.requests) == 3  # 3 + 3 + the empty last page


async def _serve(handler: Callable[[str], tuple[int, str, bytes]]) -> tuple[str, list[str], asyncio.Server]:
    """A loopback HTTP/1.1 server: ``handler(raw request target)`` gives (status, content type, body)."""
    targets: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                target = lines[0].split(" ")[1]
                targets.append(target)
                status, content_type, body = handler(target)
                head = f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
                writer.write(head.encode() + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/data/core/xcore/", targets, server


@pytest.fixture
async def loopback() -> AsyncIterator[Callable[..., Any]]:
    servers: list[asyncio.Server] = []
    clients: list[AsyncRepositoryClient] = []

    async def start(handler: Callable[[str], tuple[int, str, bytes]]) -> tuple[AsyncRepositoryClient, list[str]]:
        base, targets, server = await _serve(handler)
        servers.append(server)
        client = AsyncRepositoryClient(
            access_token="tok", api_key="key", org_id="ORG@AdobeOrg", sandbox_name="prod", base_url=base
        )
        clients.append(client)
        return client, targets

    yield start
    for client in clients:
        await client.aclose()
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_truncated_page_over_real_http_is_an_error(loopback) -> None:
    first = json.dumps(_page(SIX[:3], 6)).encode()
    second = json.dumps(_page(SIX[3:], 3)).encode()[:-40]  # cut off: the proxy's buffer ran out

    def handler(target: str) -> tuple[int, str, bytes]:
        return 200, "application/json", second if "start=" in target else first

    client, targets = await loopback(handler)
    seen: list[str] = []
    with pytest.raises(ResponseDecodeError) as info:
        async for instance in client.list_instances(CID, Schema.TAG):
            seen.append(instance.instance_id)  # noqa: PERF401 - the items before the error are the point
    assert seen == ["id-0", "id-1", "id-2"] and len(targets) == 2
    assert info.value.status == 200 and info.value.request_id


# --- 2. a successful answer that cannot be read says what happened -------------------------------------


async def test_201_with_html_says_the_instance_was_created(repo, recorder: Recorder) -> None:
    recorder.then(
        httpx.Response(
            201,
            text="<html>Created</html>",
            headers={"Content-Type": "text/html", "Location": f"/{CID}/instances/i9"},
        )
    )
    with pytest.raises(ResponseDecodeError) as info:
        await repo.create_instance(CID, Schema.TAG, {"xdm:name": "t"})
    error = info.value
    assert not isinstance(error, ValidationError)
    assert error.status == 201
    assert "WAS created" in str(error) and f"/{CID}/instances/i9" in str(error)
    assert "text/html" in str(error) and error.body == "<html>Created</html>"
    assert error.request_id == recorder.last.headers["x-request-id"]
    assert len(recorder.requests) == 1  # a create is not repeated because its receipt was unreadable


async def test_201_with_empty_body_and_no_location_is_a_decode_error(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(201))
    with pytest.raises(ResponseDecodeError, match="WAS created.*instance id"):
        await repo.create_instance(CID, Schema.TAG, {"xdm:name": "t"})


async def test_201_with_a_malformed_receipt_is_a_decode_error(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(201, json=receipt_body("i1", etag="not-a-number")))  # type: ignore[arg-type]
    with pytest.raises(ResponseDecodeError, match="WAS created"):
        await repo.create_instance(CID, Schema.TAG, {"xdm:name": "t"})


async def test_201_with_an_empty_body_and_a_location_still_works(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(201, headers={"Location": f"/{CID}/instances/i5", "ETag": '"1"'}))
    receipt = await repo.create_instance(CID, Schema.TAG, {"xdm:name": "t"})
    assert (receipt.instance_id, receipt.etag, receipt.location) == ("i5", 1, f"{BASE}{CID}/instances/i5")


@pytest.mark.parametrize("call", ["replace", "patch", "get"])
async def test_other_successful_answers_that_cannot_be_read(repo, recorder: Recorder, call: str) -> None:
    recorder.then(httpx.Response(200, text="<html>maintenance</html>", headers={"Content-Type": "text/html"}))
    with pytest.raises(ResponseDecodeError) as info:
        if call == "replace":
            await repo.replace_instance(CID, "i1", Schema.TAG, {"xdm:name": "t"})
        elif call == "patch":
            await repo.patch_instance(CID, "i1", None, [{"op": "remove", "path": "/_instance/x"}])
        else:
            await repo.get_instance(CID, "i1")
    assert info.value.status == 200 and "could not be read" in str(info.value)


async def test_list_containers_of_html_is_a_decode_error(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(200, text="<html></html>"))
    with pytest.raises(ResponseDecodeError):
        await repo.list_containers()


async def test_delete_outcome_that_cannot_be_read_is_not_taken_as_confirmed(repo, recorder: Recorder) -> None:
    recorder.then(
        httpx.Response(202, headers={"Location": STATUS_PATH}),
        httpx.Response(200, text="<html>rejected? confirmed?</html>"),
    )
    op = await repo.begin_delete(CID, "i1")
    with pytest.raises(ResponseDecodeError, match="delete status poll") as info:
        await op.result()
    assert not op.done()
    assert info.value.request_id == recorder.last.headers["x-request-id"] != op.request_id  # the poll's own id


async def test_immediate_delete_answer_that_cannot_be_read(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(200, text="<html>ok</html>"))
    with pytest.raises(ResponseDecodeError, match="begin_delete"):
        await repo.begin_delete(CID, "i1")


# --- 3. ids are exactly one path segment; links stay in the repository ---------------------------------

BAD_IDS = [".", "..", "", "  "]


def _calls(cid: str, iid: str) -> dict[str, Callable[[AsyncRepositoryClient], Any]]:
    return {
        "get_instance": lambda r: r.get_instance(cid, iid),
        "replace_instance": lambda r: r.replace_instance(cid, iid, Schema.TAG, {"xdm:name": "t"}),
        "patch_instance": lambda r: r.patch_instance(cid, iid, None, []),
        "update_with_retry": lambda r: r.update_with_retry(cid, iid, Schema.TAG, lambda i: None),
        "begin_delete": lambda r: r.begin_delete(cid, iid),
        "delete_instance": lambda r: r.delete_instance(cid, iid),
    }


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("call", list(_calls("c", "i")))
async def test_bad_instance_id_is_refused_before_sending(repo, recorder: Recorder, call: str, bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        await _calls("c", bad)[call](repo)
    assert info.value.field == "instance_id"
    assert recorder.requests == []


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("call", [*_calls("c", "i"), "create", "list", "search", "iter_pages", "list_page"])
async def test_bad_container_id_is_refused_before_sending(repo, recorder: Recorder, call: str, bad: str) -> None:
    others: dict[str, Callable[[AsyncRepositoryClient], Any]] = {
        "create": lambda r: r.create_instance(bad, Schema.TAG, {"xdm:name": "t"}),
        "list": lambda r: r.list_instances(bad, Schema.TAG),
        "search": lambda r: r.search_instances(bad, Schema.TAG, "x"),
        "iter_pages": lambda r: r.iter_pages(bad, Schema.TAG),
        "list_page": lambda r: r.list_page(bad, Schema.TAG),
    }
    make = others.get(call) or _calls(bad, "i")[call]
    with pytest.raises(ValidationError) as info:
        result = make(repo)
        if asyncio.iscoroutine(result):
            await result
    assert info.value.field == "container_id"
    assert recorder.requests == []


async def test_the_reported_escapes_send_nothing(repo, recorder: Recorder) -> None:
    with pytest.raises(ValidationError, match="container_id"):
        await repo.begin_delete("..", "..")  # was an authenticated DELETE /data/core
    with pytest.raises(ValidationError, match="instance_id"):
        await repo.get_instance("c", ".")  # was GET .../c/instances
    assert recorder.requests == []


ENCODED = [
    ("a/b", "a%2Fb"),
    ("a?b", "a%3Fb"),
    ("a#b", "a%23b"),
    ("a%2e%2e", "a%252e%252e"),
    ("%2e%2e", "%252e%252e"),
    ("../x", "..%2Fx"),
    ("a b", "a%20b"),
    ("é", "%C3%A9"),
    ("...", "..."),
]


@pytest.mark.parametrize(("raw", "encoded"), ENCODED)
async def test_every_id_is_one_encoded_segment(repo, recorder: Recorder, raw: str, encoded: str) -> None:
    recorder.answer = lambda r: httpx.Response(200, json=receipt_body("x"))
    await repo.begin_delete(raw, raw)
    assert recorder.last.url.raw_path.decode() == f"/data/core/xcore/{encoded}/instances/{encoded}"
    recorder.answer = lambda r: httpx.Response(200, json=envelope("x", {}))
    await repo.get_instance(raw, raw)
    assert recorder.last.url.raw_path.decode() == f"/data/core/xcore/{encoded}/instances/{encoded}"
    recorder.answer = lambda r: httpx.Response(200, json=_page([], 0))
    await repo.list_page(raw, Schema.TAG)
    assert recorder.last.url.raw_path.decode().startswith(f"/data/core/xcore/{encoded}/instances?")


async def test_ids_are_one_segment_on_the_real_wire(loopback) -> None:
    """The default transport (aiohttp) keeps the encoding too: the server sees one segment per id."""
    body = json.dumps(receipt_body("x")).encode()
    client, targets = await loopback(lambda target: (200, "application/json", body))
    await client.begin_delete("c/../..", "a?b#c%d")
    assert targets == ["/data/core/xcore/c%2F..%2F../instances/a%3Fb%23c%25d"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"{BASE}c/instances/i", None),
        (BASE, None),
        ("https://evil.example/data/core/xcore/c", "not on"),
        ("https://user@platform.adobe.io/data/core/xcore/c", "not on"),
        ("https://platform.adobe.io:8443/data/core/xcore/c", "not on"),
        ("http://platform.adobe.io/data/core/xcore/c", "not on"),
        ("https://platform.adobe.io/data/core/other", "not under"),
        ("https://platform.adobe.io/data/core/xcore/../../admin", "'..'"),
        ("https://platform.adobe.io/data/core/xcore/c/%2e%2e/%2E%2E/x", "'..'"),
        ("https://platform.adobe.io/data/core/xcore/c/./x", "'..'"),
    ],
)
def test_escape_reason(url: str, reason: str | None) -> None:
    got = escape_reason(url, BASE)
    assert got is None if reason is None else (got is not None and reason in got)


@pytest.mark.parametrize(
    "href",
    [
        "https://evil.example/steal",
        "//evil.example/steal",
        "/../../../admin/x",
        "/c/%2e%2e/%2e%2e/x",
        "https://platform.adobe.io/other/api",
    ],
)
async def test_a_next_link_that_leaves_the_repository_is_not_followed(repo, recorder: Recorder, href: str) -> None:
    body = _page(SIX[:3], 6)
    body["_links"]["next"] = {"href": href}
    recorder.then(httpx.Response(200, json=body))
    with pytest.raises(ResponseDecodeError, match="leaves the repository"):
        await repo.list_instances(CID, Schema.TAG).to_list()
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "content_base", ["https://evil.example/", "https://platform.adobe.io/", "/data/core/xcore/../../admin/"]
)
async def test_a_foreign_content_base_does_not_move_the_links(repo, recorder: Recorder, content_base: str) -> None:
    """Content-Base names the repository base; one outside the configured base is ignored (a gateway in front
    of the repository may pass the origin's own), so relative links stay in the repository."""
    body = _page(SIX[:3], 6)
    body["_links"]["next"] = {"href": f"/{CID}/instances?start=id-2"}
    recorder.then(
        httpx.Response(200, json=body, headers={"Content-Base": content_base}),
        httpx.Response(200, json=_page([], 0)),
    )
    page = await repo.list_page(CID, Schema.TAG)
    assert page.next == f"{BASE}{CID}/instances?start=id-2"
    assert [i.location for i in page.results] == [f"{BASE}{CID}/instances/id-{i}" for i in range(3)]
    await repo.list_instances(CID, Schema.TAG).to_list()
    assert all(str(r.url).startswith(BASE) for r in recorder.requests)


async def test_a_self_link_that_leaves_the_repository_is_refused(repo, recorder: Recorder) -> None:
    item = envelope("i1", {})
    item["_links"]["self"]["href"] = "https://evil.example/i1"
    recorder.then(httpx.Response(200, json=item))
    with pytest.raises(ResponseDecodeError, match="self link"):
        await repo.get_instance(CID, "i1")


async def test_a_create_location_that_leaves_the_repository(repo, recorder: Recorder) -> None:
    headers = {"Location": "https://evil.example/i9"}
    recorder.then(httpx.Response(201, json=receipt_body("i9"), headers=headers))
    with pytest.raises(ResponseDecodeError, match="WAS created.*evil.example"):
        await repo.create_instance(CID, Schema.TAG, {"xdm:name": "t"})


async def test_a_poll_location_that_leaves_the_repository(repo, recorder: Recorder) -> None:
    recorder.then(
        httpx.Response(202, headers={"Location": STATUS_PATH}),
        httpx.Response(202, headers={"Location": "/../../../admin/wipe"}),
    )
    op = await repo.begin_delete(CID, "i1")
    with pytest.raises(ResponseDecodeError, match="'..'"):
        await op.result()
    assert len(recorder.requests) == 2


@pytest.mark.parametrize("url", ["/../../admin", f"{BASE}c/%2e%2e/%2e%2e/x", "https://platform.adobe.io/other"])
async def test_list_page_url_must_stay_in_the_repository(repo, recorder: Recorder, url: str) -> None:
    with pytest.raises(ValidationError) as info:
        await repo.list_page(CID, Schema.TAG, url=url)
    assert info.value.field == "url" and recorder.requests == []


def _token(**changes: Any) -> str:
    data = {
        "v": 1,
        "op": "delete",
        "mode": "status",
        "polling_url": f"{BASE}{CID}/operations/op1",
        "base": BASE,
        "container_id": CID,
        "instance_id": "i1",
        "request_id": "r",
        "started_at": 1.0,
    }
    data.update(changes)
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


@pytest.mark.parametrize(
    "changes",
    [
        {"instance_id": ".."},
        {"container_id": "."},
        {"mode": "confirm", "polling_url": None, "instance_id": ".."},
        {"polling_url": f"{BASE}../../admin"},
        {"polling_url": "https://platform.adobe.io/elsewhere/op1"},
    ],
)
async def test_a_continuation_token_is_checked_like_arguments(repo, recorder: Recorder, changes: dict) -> None:
    with pytest.raises(ValidationError) as info:
        repo.resume_delete(_token(**changes))
    assert info.value.field == "token"
    assert recorder.requests == []


async def test_a_good_continuation_token_still_resumes(repo) -> None:
    op = repo.resume_delete(_token())
    assert isinstance(op, DeleteOperation) and op.polling_url == f"{BASE}{CID}/operations/op1"


# --- 4. polling: a floor, a cap, and the DELETE's own Retry-After ---------------------------------------


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Every pause of the poller, in seconds; the pause itself takes no time."""
    recorded: list[float] = []

    async def fake_sleep(delay: float) -> None:
        recorded.append(delay)

    monkeypatch.setattr(_polling, "_sleep", fake_sleep)
    return recorded


@pytest.mark.backoff  # real delays (tests/conftest.py turns them off)
async def test_retry_after_zero_is_raised_to_the_floor(repo, recorder: Recorder, sleeps) -> None:
    recorder.then(httpx.Response(202, headers={"Location": STATUS_PATH, "Retry-After": "0"}))
    recorder.then(*[httpx.Response(202, headers={"Retry-After": "0"}) for _ in range(5)])
    recorder.then(httpx.Response(200, json={"outcome": "confirmed"}))
    await repo.delete_instance(CID, "i1")
    assert sleeps == [POLL_MIN_INTERVAL] * 6  # before the first poll, and between polls


@pytest.mark.backoff  # real delays (tests/conftest.py turns them off)
async def test_retry_after_zero_cannot_flood_the_server(repo, recorder: Recorder) -> None:
    """Real time: with Retry-After: 0 on every answer, 0.5 s of polling sends a handful of polls, not thousands."""
    recorder.answer = lambda r: httpx.Response(202, headers={"Location": STATUS_PATH, "Retry-After": "0"})
    op = await repo.begin_delete(CID, "i1")
    started = time.monotonic()
    with pytest.raises(PollingTimeoutError):
        await op.result(timeout=0.5)
    assert time.monotonic() - started >= 0.45
    polls = len(recorder.requests) - 1
    assert 1 <= polls <= 0.5 / POLL_MIN_INTERVAL + 1


@pytest.mark.backoff  # real delays (tests/conftest.py turns them off)
async def test_the_deletes_own_retry_after_is_honoured_before_the_first_poll(
    repo, recorder: Recorder, monkeypatch
) -> None:
    events: list[tuple[str, Any]] = []

    async def fake_sleep(delay: float) -> None:
        events.append(("sleep", delay))

    monkeypatch.setattr(_polling, "_sleep", fake_sleep)

    def answer(request: httpx.Request) -> httpx.Response:
        events.append((request.method, request.url.path))
        if request.method == "DELETE":
            return httpx.Response(202, headers={"Location": STATUS_PATH, "Retry-After": "3"})
        return httpx.Response(200, json={"outcome": "confirmed"})

    recorder.answer = answer
    await repo.delete_instance(CID, "i1")
    assert events == [
        ("DELETE", f"/data/core/xcore/{CID}/instances/i1"),
        ("sleep", 3.0),
        ("GET", f"/data/core/xcore{STATUS_PATH}"),
    ]


@pytest.mark.backoff  # real delays (tests/conftest.py turns them off)
async def test_retry_after_on_a_202_without_location_is_honoured_before_confirming(
    repo, recorder: Recorder, sleeps
) -> None:
    recorder.then(httpx.Response(202, headers={"Retry-After": "2"}), httpx.Response(404, json={}))
    outcome = await repo.delete_instance(CID, "i1")
    assert outcome.confirmed and sleeps == [2.0]


@pytest.mark.backoff  # real delays (tests/conftest.py turns them off)
async def test_without_retry_after_the_first_poll_goes_out_at_once(repo, recorder: Recorder, sleeps) -> None:
    recorder.then(httpx.Response(202, headers={"Location": STATUS_PATH}), httpx.Response(200, json={}))
    await repo.delete_instance(CID, "i1")
    assert sleeps == []


@pytest.mark.backoff  # real delays (tests/conftest.py turns them off)
@pytest.mark.parametrize("value", ["86400", "1e12", "Fri, 31 Dec 2100 23:59:59 GMT"])
async def test_absurd_retry_after_is_capped(repo, recorder: Recorder, sleeps, value: str) -> None:
    recorder.then(
        httpx.Response(202, headers={"Location": STATUS_PATH}),
        httpx.Response(202, headers={"Retry-After": value}),
        httpx.Response(200, json={"outcome": "confirmed"}),
    )
    await repo.delete_instance(CID, "i1", timeout=3600)
    assert sleeps == [POLL_MAX_RETRY_AFTER]


# --- 5. ids= is bounded ---------------------------------------------------------------------------------


@pytest.mark.parametrize("call", ["list", "search", "iter_pages", "list_page"])
async def test_too_many_ids_are_refused_clearly(repo, recorder: Recorder, call: str) -> None:
    ids = [f"xcore:personalized-offer:{i:016x}" for i in range(5000)]
    with pytest.raises(ValidationError, match=f"at most {MAX_IDS}") as info:
        if call == "list":
            repo.list_instances(CID, Schema.TAG, ids=ids)
        elif call == "search":
            repo.search_instances(CID, Schema.TAG, "x", ids=ids)
        elif call == "iter_pages":
            repo.iter_pages(CID, Schema.TAG, ids=ids)
        else:
            await repo.list_page(CID, Schema.TAG, ids=ids)
    assert info.value.field == "ids" and recorder.requests == []


async def test_the_largest_allowed_ids_list_is_sent(repo, recorder: Recorder) -> None:
    recorder.answer = lambda r: httpx.Response(200, json=_page([], 0))
    ids = [f"xcore:personalized-offer:{i:016x}" for i in range(MAX_IDS)]
    await repo.list_page(CID, Schema.TAG, ids=ids)
    assert [v for k, v in query_pairs(recorder.last) if k == "id"] == ids
    assert len(str(recorder.last.url)) < 8000  # fits the usual request-line limits


async def test_ids_that_are_too_long_together_are_refused(repo, recorder: Recorder) -> None:
    ids = ["x" * (MAX_IDS_CHARS // 2 + 1)] * 2
    with pytest.raises(ValidationError, match="characters") as info:
        await repo.list_page(CID, Schema.TAG, ids=ids)
    assert info.value.field == "ids" and recorder.requests == []
