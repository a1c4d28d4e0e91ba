"""HAL link and Location resolution against the repository base (spec §1 O, D5)."""

from __future__ import annotations

import httpx
import pytest

from target_async import ValidationError
from target_async.repository import Schema, resolve_href

from .helpers import BASE, CID, Recorder, envelope, receipt_body


@pytest.mark.parametrize(
    ("href", "base", "expected"),
    [
        (f"/{CID}/instances/i1", BASE, f"{BASE}{CID}/instances/i1"),
        ("/", BASE, BASE),
        ("/containers/c1", BASE, f"{BASE}containers/c1"),
        (f"{CID}/instances/i1", BASE, f"{BASE}{CID}/instances/i1"),
        ("https://other.example/x", BASE, "https://other.example/x"),
        ("//platform.adobe.io/y", BASE, "https://platform.adobe.io/y"),
        # already carries the base path: relative to the host, not doubled
        ("/data/core/xcore/c/instances/i", BASE, f"{BASE}c/instances/i"),
        ("/c/instances/i", "https://platform.adobe.io/data/core/xcore", f"{BASE}c/instances/i"),
        ("/c/q?start=1%2Cx&limit=2", BASE, f"{BASE}c/q?start=1%2Cx&limit=2"),
        ("/a", "http://127.0.0.1:8080/", "http://127.0.0.1:8080/a"),
    ],
)
def test_resolve_href(href: str, base: str, expected: str) -> None:
    assert resolve_href(href, base) == expected


async def test_create_location_is_relative_to_the_base_not_the_host(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(201, json=receipt_body("i9"), headers={"Location": f"/{CID}/instances/i9"}))
    receipt = await repo.create_instance(CID, Schema.TAG, {"xdm:name": "t"})
    assert receipt.location == f"{BASE}{CID}/instances/i9"


async def test_create_location_prefers_content_base(repo, recorder: Recorder) -> None:
    headers = {"Location": f"/{CID}/instances/i9", "Content-Base": "https://platform.adobe.io/data/core/xcore/v2/"}
    recorder.then(httpx.Response(201, json=receipt_body("i9"), headers=headers))
    receipt = await repo.create_instance(CID, Schema.TAG, {"xdm:name": "t"})
    assert receipt.location == f"https://platform.adobe.io/data/core/xcore/v2/{CID}/instances/i9"


async def test_relative_content_base_is_resolved_against_the_request(repo, recorder: Recorder) -> None:
    headers = {"Location": "i9", "Content-Base": "/data/core/xcore/c/instances"}
    recorder.then(httpx.Response(201, json=receipt_body("i9"), headers=headers))
    receipt = await repo.create_instance(CID, Schema.TAG, {"xdm:name": "t"})
    assert receipt.location == "https://platform.adobe.io/data/core/xcore/c/instances/i9"


async def test_create_without_location_builds_the_instance_url(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(201, json=receipt_body("i7")))
    receipt = await repo.create_instance(CID, Schema.TAG, {"xdm:name": "t"})
    assert receipt.location == f"{BASE}{CID}/instances/i7"


async def test_receipt_instance_id_falls_back_to_location(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(201, json={"repo:etag": 1}, headers={"Location": f"/{CID}/instances/i5"}))
    receipt = await repo.create_instance(CID, Schema.TAG, {"xdm:name": "t"})
    assert (receipt.instance_id, receipt.etag) == ("i5", 1)


async def test_instance_location_from_self_link(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(200, json=envelope("i1", {"xdm:name": "n"})))
    instance = await repo.get_instance(CID, "i1")
    assert instance is not None
    assert instance.location == f"{BASE}{CID}/instances/i1"


async def test_page_links_resolved_against_base(repo, recorder: Recorder) -> None:
    body = {
        "_embedded": {"results": [envelope("i1", {})], "count": 1, "total": 2},
        "_links": {"next": {"href": f"/{CID}/queries/core/search?start=i1&schema=s"}},
    }
    recorder.then(httpx.Response(200, json=body))
    page = await repo.list_page(CID, Schema.TAG)
    assert page.next == f"{BASE}{CID}/queries/core/search?start=i1&schema=s"
    assert page.results[0].location == f"{BASE}{CID}/instances/i1"


async def test_next_link_is_fetched_verbatim(repo, recorder: Recorder) -> None:
    recorder.answer = lambda r: httpx.Response(200, json={"_embedded": {"results": []}})
    await repo.list_page(CID, Schema.TAG, url=f"/{CID}/instances?start=1603395515489%2Cabc&orderby=-repo%3AcreatedDate")
    assert str(recorder.last.url) == f"{BASE}{CID}/instances?start=1603395515489%2Cabc&orderby=-repo%3AcreatedDate"


async def test_credentials_never_go_to_another_host(repo, recorder: Recorder) -> None:
    with pytest.raises(ValidationError) as info:
        await repo.list_page(CID, Schema.TAG, url="https://evil.example/steal")
    assert info.value.field == "url"
    assert recorder.requests == []
