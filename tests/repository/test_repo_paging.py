"""Listing, filtering, search and paging termination (spec §1 F, G, H)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from target_async import ValidationError
from target_async.repository import PaginationError, Schema

from .helpers import BASE, CID, OFFER, FakeLister, Recorder, envelope, query_pairs

EMPTY = {"_embedded": {"results": [], "count": 0, "total": 0}}


def _items(n: int, status_of=lambda i: "approved") -> list[dict]:
    return [envelope(f"id-{i:04d}", {"xdm:name": f"n{i}", "xdm:status": status_of(i)}) for i in range(n)]


def _ids(instances) -> list[str]:
    return [i.instance_id for i in instances]


# --- query encoding -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "encoded"),
    [
        ("_instance.xdm:status==approved", "property=_instance.xdm%3Astatus%3D%3Dapproved"),
        ("_instance.xdm:status!=draft", "property=_instance.xdm%3Astatus%21%3Ddraft"),
        ("_instance.xdm:rank.xdm:priority<5", "property=_instance.xdm%3Arank.xdm%3Apriority%3C5"),
        ("_instance.xdm:rank.xdm:priority<=5", "property=_instance.xdm%3Arank.xdm%3Apriority%3C%3D5"),
        ("repo:etag>2", "property=repo%3Aetag%3E2"),
        (
            "repo:lastModifiedDate>=2019-02-23T16:30:00.000Z",
            "property=repo%3AlastModifiedDate%3E%3D2019-02-23T16%3A30%3A00.000Z",
        ),
        ("_instance.xdm:name~.*cars.*", "property=_instance.xdm%3Aname~.%2Acars.%2A"),
        ("_instance.xdm:tags", "property=_instance.xdm%3Atags"),  # bare: the property exists
        ("_instance.xdm:name==A&B C+D,E", "property=_instance.xdm%3Aname%3D%3DA%26B+C%2BD%2CE"),
        (
            ("repo:createdDate", "<", dt.datetime(2019, 6, 19, 3, 19, 3, 627000, tzinfo=dt.timezone.utc)),
            "property=repo%3AcreatedDate%3C2019-06-19T03%3A19%3A03.627Z",
        ),
        (("_instance.xdm:rank.xdm:priority", ">=", 3), "property=_instance.xdm%3Arank.xdm%3Apriority%3E%3D3"),
        (("_instance.xdm:flag", "==", True), "property=_instance.xdm%3Aflag%3D%3Dtrue"),
    ],
)
async def test_each_filter_operator_is_url_encoded(repo, recorder: Recorder, spec, encoded) -> None:
    recorder.answer = lambda r: httpx.Response(200, json=EMPTY)
    await repo.list_page(CID, Schema.PERSONALIZED_OFFER, filters=[spec])
    query = recorder.last.url.query.decode()
    assert query == f"schema={_enc(OFFER)}&{encoded}"
    # and the server decodes it back to the expression
    expression = spec if isinstance(spec, str) else None
    if expression is not None:
        assert ("property", expression) in query_pairs(recorder.last)


def _enc(value: str) -> str:
    return str(httpx.QueryParams({"v": value}))[2:]


async def test_repeated_filters_ids_orderby_limit(repo, recorder: Recorder) -> None:
    recorder.answer = lambda r: httpx.Response(200, json=EMPTY)
    await repo.list_page(
        CID,
        OFFER + ";version=0.5",
        order_by=["+xdm:name", "-repo:createdDate"],
        limit=20,
        filters=["repo:lastModifiedDate>=2019-02-19T03:19:03.627Z", "repo:lastModifiedDate<=2019-06-19T03:19:03.627Z"],
        ids=["xcore:personalized-offer:1", "xcore:personalized-offer:2"],
    )
    assert query_pairs(recorder.last) == [
        ("schema", OFFER + ";version=0.5"),
        ("orderby", "+xdm:name,-repo:createdDate"),
        ("limit", "20"),
        ("property", "repo:lastModifiedDate>=2019-02-19T03:19:03.627Z"),
        ("property", "repo:lastModifiedDate<=2019-06-19T03:19:03.627Z"),
        ("id", "xcore:personalized-offer:1"),
        ("id", "xcore:personalized-offer:2"),
    ]
    raw = recorder.last.url.query.decode()
    assert (
        "schema=https%3A%2F%2Fns.adobe.com%2Fexperience%2Foffer-management%2Fpersonalized-offer%3Bversion%3D0.5" in raw
    )
    assert "orderby=%2Bxdm%3Aname%2C-repo%3AcreatedDate" in raw  # '+' must not become a space


async def test_search_sends_q_fields_qop(repo, recorder: Recorder) -> None:
    recorder.answer = lambda r: httpx.Response(200, json=EMPTY)
    items = await repo.search_instances(
        CID, Schema.PERSONALIZED_OFFER, "gold card", fields=["_instance.xdm:name", "_instance.xdm:tags"], qop="AND"
    ).to_list()
    assert items == []
    assert recorder.last.url.path == f"/data/core/xcore/{CID}/queries/core/search"
    assert query_pairs(recorder.last) == [
        ("schema", OFFER),
        ("q", "gold card"),
        ("field", "_instance.xdm:name"),
        ("field", "_instance.xdm:tags"),
        ("qop", "and"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"order_by": "+"}, "order_by"),
        ({"order_by": "a,,b"}, "order_by"),
        ({"order_by": "--a"}, "order_by"),
        ({"order_by": "a b"}, "order_by"),
        ({"order_by": []}, "order_by"),
        ({"limit": 0}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": "10"}, "limit"),
        ({"filters": ["==approved"]}, "filters"),
        ({"filters": ["_instance.xdm:status=approved"]}, "filters"),
        ({"filters": ["_instance..x==1"]}, "filters"),
        ({"filters": [("a", "=~", "x")]}, "filters"),
        ({"filters": [("a", "==", [1])]}, "filters"),
        ({"filters": [("a", "<", dt.datetime(2020, 1, 1))]}, "filters"),
        ({"filters": [42]}, "filters"),
        ({"ids": [""]}, "ids"),
    ],
)
async def test_bad_list_arguments_fail_at_call_time(repo, recorder: Recorder, kwargs, field) -> None:
    with pytest.raises(ValidationError) as info:
        repo.list_instances(CID, Schema.PERSONALIZED_OFFER, **kwargs)
    assert info.value.field == field
    assert recorder.requests == []


@pytest.mark.parametrize(("kwargs", "field"), [({"q": ""}, "q"), ({"q": "x", "qop": "xor"}, "qop")])
async def test_bad_search_arguments(repo, recorder: Recorder, kwargs, field) -> None:
    with pytest.raises(ValidationError) as info:
        repo.search_instances(CID, Schema.TAG, **kwargs)
    assert info.value.field == field


# --- paging ---------------------------------------------------------------------------------------------


async def test_follows_next_links_until_absent(make_repo) -> None:
    lister = FakeLister(_items(10), next_links=True)
    repo = make_repo(transport=httpx.MockTransport(lister))
    got = await repo.list_instances(CID, Schema.PERSONALIZED_OFFER, limit=3).to_list()
    assert _ids(got) == [f"id-{i:04d}" for i in range(10)]
    assert len(lister.requests) == 4
    # the next link was used verbatim: start came from the server, limit kept
    assert dict(query_pairs(lister.requests[1]))["start"] == "id-0002"
    assert str(lister.requests[1].url).startswith(f"{BASE}{CID}/instances?")


async def test_derives_start_from_last_item_without_next_links(make_repo) -> None:
    lister = FakeLister(_items(7), send_total=False)
    repo = make_repo(transport=httpx.MockTransport(lister))
    got = await repo.list_instances(CID, Schema.PERSONALIZED_OFFER, limit=3).to_list()
    assert _ids(got) == [f"id-{i:04d}" for i in range(7)]
    starts = [dict(query_pairs(r)).get("start") for r in lister.requests]
    assert starts == [None, "id-0002", "id-0005", "id-0006"]  # the last request finds an empty page


async def test_total_ends_paging_without_an_extra_request(make_repo) -> None:
    lister = FakeLister(_items(6))
    repo = make_repo(transport=httpx.MockTransport(lister))
    got = await repo.list_instances(CID, Schema.PERSONALIZED_OFFER, limit=3).to_list()
    assert len(got) == 6
    assert len(lister.requests) == 2


@pytest.mark.parametrize("sizes", [[1, 1, 2, 1, 5, 1], [5, 4, 5], [2, 7, 1, 1]])
async def test_server_returning_more_or_fewer_than_limit(make_repo, sizes) -> None:
    lister = FakeLister(_items(12), sizes=sizes, send_total=False)
    repo = make_repo(transport=httpx.MockTransport(lister))
    got = await repo.list_instances(CID, Schema.PERSONALIZED_OFFER, limit=3).to_list()
    assert _ids(got) == [f"id-{i:04d}" for i in range(12)]


async def test_ties_on_a_non_unique_sort_key(make_repo) -> None:
    # five statuses, many items each; the server extends pages so sort values differ across boundaries
    items = _items(23, status_of=lambda i: ["a", "b", "c", "d", "e"][i % 5])
    lister = FakeLister(items, key=lambda e: (e["_instance"]["xdm:status"],), send_total=False)
    repo = make_repo(transport=httpx.MockTransport(lister))
    pages = [p async for p in repo.iter_pages(CID, Schema.PERSONALIZED_OFFER, order_by="_instance.xdm:status", limit=2)]
    got = [i for p in pages for i in p.results]
    assert sorted(_ids(got)) == sorted(e["instanceId"] for e in items)  # every item exactly once
    assert [len(p) for p in pages] == [5, 5, 5, 4, 4]  # pages grew past limit=2 to whole tie groups
    starts = [dict(query_pairs(r)).get("start") for r in lister.requests]
    assert starts == [None, "a", "b", "c", "d", "e"]


async def test_descending_composite_sort_sends_composite_start(make_repo) -> None:
    items = _items(9, status_of=lambda i: "x" if i < 5 else "y")
    lister = FakeLister(
        items,
        key=lambda e: (e["_instance"]["xdm:status"], e["instanceId"]),
        parse_start=lambda s: tuple(s.split(",")),
        descending=True,
        send_total=False,
    )
    repo = make_repo(transport=httpx.MockTransport(lister))
    got = await repo.list_instances(
        CID, Schema.PERSONALIZED_OFFER, order_by="-_instance.xdm:status,-instanceId", limit=4
    ).to_list()
    assert _ids(got) == [f"id-{i:04d}" for i in reversed(range(9))]
    assert dict(query_pairs(lister.requests[1]))["start"] == "y,id-0005"
    assert dict(query_pairs(lister.requests[0]))["orderby"] == "-_instance.xdm:status,-instanceId"


async def test_repeated_next_link_stops_with_pagination_error(repo, recorder: Recorder) -> None:
    page = {"_embedded": {"results": [envelope("a", {})]}, "_links": {"next": {"href": f"/{CID}/instances?start=a"}}}
    other = {"_embedded": {"results": [envelope("b", {})]}, "_links": {"next": {"href": f"/{CID}/instances?start=a"}}}
    recorder.then(httpx.Response(200, json=page), httpx.Response(200, json=other))
    seen = []
    with pytest.raises(PaginationError, match="repeated the next link"):
        async for instance in repo.list_instances(CID, Schema.TAG):
            seen.append(instance.instance_id)  # noqa: PERF401 - keep what came before the error
    assert seen == ["a", "b"]
    assert len(recorder.requests) == 2


async def test_server_ignoring_start_raises_instead_of_looping(repo, recorder: Recorder) -> None:
    same = {"_embedded": {"results": [envelope("a", {}), envelope("b", {})]}}
    recorder.answer = lambda r: httpx.Response(200, json=same)
    seen = []
    with pytest.raises(PaginationError):
        async for instance in repo.list_instances(CID, Schema.TAG, limit=2):
            seen.append(instance.instance_id)  # noqa: PERF401 - keep what came before the error
    assert seen == ["a", "b"]  # the repeated page was not yielded again
    assert len(recorder.requests) == 2


async def test_missing_sort_value_cannot_be_paged(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(200, json={"_embedded": {"results": [envelope("a", {})]}}))
    with pytest.raises(PaginationError, match="has no value"):
        await repo.list_instances(CID, Schema.TAG, order_by="_instance.xdm:name").to_list()


async def test_empty_list(repo, recorder: Recorder) -> None:
    recorder.answer = lambda r: httpx.Response(200, json=EMPTY)
    pages = [p async for p in repo.list_instances(CID, Schema.TAG).iter_pages()]
    assert [(len(p), p.total, p.count) for p in pages] == [(0, 0, 0)]
    assert len(recorder.requests) == 1


async def test_await_gives_first_page_and_to_list_limits(make_repo) -> None:
    lister = FakeLister(_items(10), next_links=True)
    repo = make_repo(transport=httpx.MockTransport(lister))
    page = await repo.list_instances(CID, Schema.PERSONALIZED_OFFER, limit=4)
    assert (len(page), page.count, page.total, page.container_id) == (4, 4, 10, CID)
    assert page.next is not None and "start=id-0003" in page.next
    second = await repo.list_page(CID, Schema.PERSONALIZED_OFFER, url=page.next)
    assert _ids(second) == ["id-0004", "id-0005", "id-0006", "id-0007"]
    assert len(await repo.list_instances(CID, Schema.PERSONALIZED_OFFER, limit=4).to_list(max_items=5)) == 5


async def test_list_page_with_start(repo, recorder: Recorder) -> None:
    recorder.answer = lambda r: httpx.Response(200, json=EMPTY)
    await repo.list_page(CID, Schema.TAG, order_by="-repo:createdDate,instanceId", start="1603395515489,2cdb4d10")
    assert dict(query_pairs(recorder.last))["start"] == "1603395515489,2cdb4d10"
    assert "start=1603395515489%2C2cdb4d10" in recorder.last.url.query.decode()


async def test_query_encoding_is_the_same_with_a_callers_http_client(make_repo, recorder: Recorder) -> None:
    recorder.answer = lambda r: httpx.Response(200, json=EMPTY)
    kwargs = {
        "order_by": "+xdm:name",
        "filters": ["_instance.xdm:name~.*a b&c.*", "repo:etag>=2"],
        "ids": ["xcore:tag:1"],
        "q": 'say "hi"',
        "fields": ["_instance.xdm:name"],
    }
    await make_repo().list_page(CID, Schema.TAG, **kwargs)
    own = recorder.last.url.query
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http_client:
        await make_repo(http_client=http_client).list_page(CID, Schema.TAG, **kwargs)
    assert recorder.last.url.query == own


def test_escape_search_term() -> None:
    from target_async.repository import escape_search_term

    assert escape_search_term("a:b/c (d)") == "a\\:b\\/c \\(d\\)"
    assert escape_search_term('x+y-"z"~*?\\') == 'x\\+y\\-\\"z\\"\\~\\*\\?\\\\'
    assert escape_search_term("plain words") == "plain words"
