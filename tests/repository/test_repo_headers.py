"""Identity headers, request ids, media types per call, token refresh, configuration (spec §1 A, B)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from target_async import ClientClosedError, ConfigurationError, ValidationError
from target_async.repository import AsyncRepositoryClient, OfferPatch, Schema

from .helpers import BASE, CID, OFFER, RECEIPT, RESULTS_ACCEPT, Recorder, envelope, receipt_body

HAL_OFFER = f'application/vnd.adobe.platform.xcore.hal+json; schema="{OFFER}"'


def _answer(request: httpx.Request) -> httpx.Response:
    path, method = request.url.path, request.method
    if method == "GET" and path.endswith("/instances/i1"):
        return httpx.Response(200, json=envelope("i1", {"xdm:name": "n"}))
    if method == "GET" and path.rstrip("/").endswith("xcore"):
        return httpx.Response(200, json={"_embedded": {}, "_links": {"self": {"href": "/"}}})
    if method == "GET":
        return httpx.Response(200, json={"_embedded": {"results": [], "count": 0, "total": 0}})
    if method == "POST":
        return httpx.Response(201, json=receipt_body("i1"), headers={"Location": f"/{CID}/instances/i1"})
    return httpx.Response(200, json=receipt_body("i1"))


async def _every_call(repo: AsyncRepositoryClient) -> None:
    await repo.list_containers()
    await repo.create_instance(CID, Schema.PERSONALIZED_OFFER, {"xdm:name": "n"})
    await repo.get_instance(CID, "i1", Schema.PERSONALIZED_OFFER)
    await repo.get_instance(CID, "i1")
    await repo.list_page(CID, Schema.PERSONALIZED_OFFER)
    await repo.list_page(CID, Schema.PERSONALIZED_OFFER, q="card")
    await repo.replace_instance(CID, "i1", Schema.PERSONALIZED_OFFER, {"xdm:name": "n"})
    await repo.patch_instance(CID, "i1", Schema.PERSONALIZED_OFFER, OfferPatch({}).set_name("m"))
    await repo.delete_instance(CID, "i1")


EXPECTED = [
    # (method, path suffix, Accept, Content-Type)
    ("GET", "", "application/vnd.adobe.platform.xcore.home.hal+json", None),
    ("POST", f"{CID}/instances", RECEIPT, HAL_OFFER),
    ("GET", f"{CID}/instances/i1", f"*, {HAL_OFFER}", None),
    ("GET", f"{CID}/instances/i1", "*, application/vnd.adobe.platform.xcore.hal+json", None),
    ("GET", f"{CID}/instances", RESULTS_ACCEPT, None),
    ("GET", f"{CID}/queries/core/search", RESULTS_ACCEPT, None),
    ("PUT", f"{CID}/instances/i1", RECEIPT, HAL_OFFER),
    (
        "PATCH",
        f"{CID}/instances/i1",
        RECEIPT,
        f'application/vnd.adobe.platform.xcore.patch.hal+json; schema="{OFFER}"',
    ),
    ("DELETE", f"{CID}/instances/i1", RECEIPT, None),
]


async def test_media_types_and_paths_per_call(repo, recorder: Recorder) -> None:
    recorder.answer = _answer
    await _every_call(repo)
    seen = [
        (r.method, str(r.url).split("?")[0], r.headers["accept"], r.headers.get("content-type"))
        for r in recorder.requests
    ]
    assert seen == [(m, BASE + p, a, c) for m, p, a, c in EXPECTED]


async def test_identity_headers_on_every_request_and_fresh_request_ids(repo, recorder: Recorder) -> None:
    recorder.answer = _answer
    await _every_call(repo)
    ids = []
    for request in recorder.requests:
        assert request.headers["authorization"] == "Bearer tok-123"
        assert request.headers["x-api-key"] == "key-abc"
        assert request.headers["x-gw-ims-org-id"] == "ORG@AdobeOrg"
        assert request.headers["x-sandbox-name"] == "prod"
        ids.append(request.headers["x-request-id"])
        assert uuid.UUID(ids[-1]).version == 4
    assert len(set(ids)) == len(ids) == len(EXPECTED)


async def test_media_type_version_opt_in(make_repo, recorder: Recorder) -> None:
    recorder.answer = _answer
    repo = make_repo(media_type_version="1")
    await repo.create_instance(CID, Schema.TAG, {"xdm:name": "t"})
    request = recorder.last
    assert request.headers["accept"] == RECEIPT + "; version=1"
    assert request.headers["content-type"] == (
        'application/vnd.adobe.platform.xcore.hal+json; version=1; schema="https://ns.adobe.com/experience/offer-management/tag"'
    )


async def test_sync_token_callable_is_called_before_every_request(make_repo, recorder: Recorder) -> None:
    recorder.answer = _answer
    tokens = iter(["t1", "t2", "Bearer t3"])
    repo = make_repo(access_token=lambda: next(tokens))
    for _ in range(3):
        await repo.get_instance(CID, "i1")
    assert [r.headers["authorization"] for r in recorder.requests] == ["Bearer t1", "Bearer t2", "Bearer t3"]


async def test_async_token_callable_is_awaited_before_every_request(make_repo, recorder: Recorder) -> None:
    recorder.answer = _answer
    calls = []

    async def provider() -> str:
        calls.append(1)
        return f"async-{len(calls)}"

    repo = make_repo(access_token=provider)
    await repo.get_instance(CID, "i1")
    await repo.list_page(CID, Schema.TAG)
    assert [r.headers["authorization"] for r in recorder.requests] == ["Bearer async-1", "Bearer async-2"]


async def test_bad_token_from_callable_is_refused_before_sending(make_repo, recorder: Recorder) -> None:
    repo = make_repo(access_token=lambda: "")
    with pytest.raises(ValidationError) as info:
        await repo.get_instance(CID, "i1")
    assert info.value.field == "access_token"
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"access_token": ""}, "access_token"),
        ({"api_key": " "}, "api_key"),
        ({"org_id": None}, "org_id"),
        ({"sandbox_name": ""}, "sandbox_name"),
        ({"base_url": "platform.adobe.io/x"}, "base_url"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_configuration_errors_name_the_option(kwargs, field) -> None:
    options = {"access_token": "t", "api_key": "k", "org_id": "o", "sandbox_name": "s"} | kwargs
    with pytest.raises(ConfigurationError) as info:
        AsyncRepositoryClient(**options)
    assert info.value.field == field


async def test_repr_hides_credentials(make_repo) -> None:
    repo = make_repo(access_token="secret-token", api_key="secret-key")
    assert "secret" not in repr(repo)
    assert "ORG@AdobeOrg" in repr(repo)


async def test_closed_client_refuses_requests(make_repo, recorder: Recorder) -> None:
    repo = make_repo()
    async with repo:
        pass
    with pytest.raises(ClientClosedError):
        await repo.get_instance(CID, "i1")
    with pytest.raises(ClientClosedError):
        async with repo:
            pass
    assert recorder.requests == []


async def test_callers_http_client_is_not_closed(make_repo, recorder: Recorder) -> None:
    recorder.answer = _answer
    http_client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    async with make_repo(http_client=http_client) as repo:
        await repo.get_instance(CID, "i1")
    assert not http_client.is_closed
    assert recorder.last.headers["x-api-key"] == "key-abc"  # per-request headers, not client defaults
    await http_client.aclose()


async def test_base_url_without_trailing_slash(make_repo, recorder: Recorder) -> None:
    recorder.answer = _answer
    repo = make_repo(base_url="https://platform.adobe.io/data/core/xcore")
    await repo.get_instance(CID, "i1")
    assert str(recorder.last.url) == f"{BASE}{CID}/instances/i1"
