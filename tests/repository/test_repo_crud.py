"""Containers, create/read/304/PUT/409/patch, update_with_retry, retries and typed errors (spec §1 C-E, I-L, P)."""

from __future__ import annotations

import json

import httpx
import pytest

from target_async import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    UnprocessableEntityError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from target_async.repository import (
    FallbackOffer,
    Instance,
    OfferPatch,
    OfferStatus,
    PersonalizedOffer,
    Representation,
    Schema,
)

from .helpers import BASE, CID, Recorder, envelope, query_pairs, receipt_body


def _container(cid: str, contexts: list[str]) -> dict:
    return {
        "instanceId": cid,
        "schemas": ["https://ns.adobe.com/experience/xcore/container;version=0.1"],
        "productContexts": contexts,
        "repo:etag": 1,
        "_instance": {"repo:name": f"container {cid}", "dataCenter": "VA7"},
        "_links": {"self": {"href": f"/containers/{cid}"}},
    }


async def test_list_containers_sends_repeated_product_and_parses(repo, recorder: Recorder) -> None:
    body = {
        "_embedded": {"https://ns.adobe.com/experience/xcore/container": [_container("c1", ["dma_offers"])]},
        "_links": {"self": {"href": "/"}},
    }
    recorder.then(httpx.Response(200, json=body))
    containers = await repo.list_containers(["dma_offers", "acp"])
    assert query_pairs(recorder.last) == [("product", "dma_offers"), ("product", "acp")]
    assert str(recorder.last.url).startswith(BASE + "?")
    [c] = containers
    assert (c.container_id, c.name, c.product_contexts, c.etag) == ("c1", "container c1", ["dma_offers"], 1)
    assert c.location == BASE + "containers/c1"


async def test_list_containers_without_filter_sends_no_product(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(200, json={"_embedded": {}}))
    assert await repo.list_containers() == []
    assert recorder.last.url.query == b""


async def test_create_sends_hal_body_with_empty_links_and_parses_receipt(repo, recorder: Recorder) -> None:
    recorder.then(
        httpx.Response(201, json=receipt_body("3684ceb0"), headers={"Location": f"/{CID}/instances/3684ceb0"})
    )
    receipt = await repo.create_instance(CID, Schema.PERSONALIZED_OFFER, {"xdm:name": "Card"})
    assert recorder.json() == {"_instance": {"xdm:name": "Card"}, "_links": {}}
    assert receipt.instance_id == "3684ceb0"
    assert receipt.id == "xcore:personalized-offer:3684ceb0"
    assert receipt.etag == 1
    assert receipt.created_date == receipt.last_modified_date == "2019-06-05T03:44:25.343Z"
    assert (receipt.created_by, receipt.last_modified_by_client_id) == ("ACCOUNT", "key-abc")


async def test_create_accepts_typed_entities_and_links(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(201, json=receipt_body()))
    offer = PersonalizedOffer(
        xdm_name="Card",
        xdm_status=OfferStatus.DRAFT,
        xdm_representations=[Representation(xdm_placement="xcore:offer-placement:1")],
    )
    await repo.create_instance(CID, Schema.PERSONALIZED_OFFER, offer, links={"x": {"href": "/y"}})
    assert recorder.json() == {
        "_instance": {
            "xdm:name": "Card",
            "xdm:status": "draft",
            "xdm:representations": [{"xdm:placement": "xcore:offer-placement:1"}],
        },
        "_links": {"x": {"href": "/y"}},
    }


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda r: r.create_instance("", Schema.TAG, {}), "container_id"),
        (lambda r: r.create_instance(CID, "", {}), "schema"),
        (lambda r: r.create_instance(CID, Schema.TAG, ["not", "a", "dict"]), "instance"),
        (lambda r: r.create_instance(CID, Schema.TAG, {"_instance": {}, "_links": {}}), "instance"),
        (lambda r: r.create_instance(CID, Schema.TAG, {"x": object()}), "instance"),
        (lambda r: r.create_instance(CID, Schema.FALLBACK_OFFER, PersonalizedOffer()), "schema"),
        (lambda r: r.create_instance(CID, Schema.TAG, {}, links=[1]), "links"),
        (lambda r: r.get_instance(CID, ""), "instance_id"),
        (lambda r: r.get_instance(CID, "i1", if_none_match=True), "if_none_match"),
        (lambda r: r.replace_instance(CID, "i1", Schema.TAG, 3), "instance"),
        (lambda r: r.replace_instance(CID, "i1", Schema.TAG, {}, if_match='a"b'), "if_match"),
        (lambda r: r.patch_instance(CID, "i1", Schema.TAG, []), "operations"),
        (lambda r: r.patch_instance(CID, "i1", Schema.TAG, {"op": "add"}), "operations"),
        (lambda r: r.patch_instance(CID, "i1", Schema.TAG, [{"op": "frob", "path": "/a"}]), "operations[0]"),
        (lambda r: r.patch_instance(CID, "i1", Schema.TAG, [{"op": "add", "path": "a", "value": 1}]), "operations[0]"),
        (lambda r: r.patch_instance(CID, "i1", Schema.TAG, [{"op": "replace", "path": "/a"}]), "operations[0]"),
        (lambda r: r.patch_instance(CID, "i1", Schema.TAG, [{"op": "move", "path": "/a"}]), "operations[0]"),
        (lambda r: r.update_with_retry(CID, "i1", Schema.TAG, "nope"), "fn"),
        (lambda r: r.update_with_retry(CID, "i1", Schema.TAG, lambda i: None, max_attempts=0), "max_attempts"),
        (lambda r: r.begin_delete(CID, " "), "instance_id"),
    ],
)
async def test_bad_input_is_refused_before_sending(repo, recorder: Recorder, call, field) -> None:
    with pytest.raises(ValidationError) as info:
        await call(repo)
    assert info.value.field == field
    assert recorder.requests == []


async def test_read_parses_envelope_and_typed_access(repo, recorder: Recorder) -> None:
    payload = {"@id": "xcore:personalized-offer:1", "xdm:name": "Card", "xdm:status": "approved", "xdm:x": 1}
    recorder.then(httpx.Response(200, json=envelope("i1", payload, etag=4, sandboxName="prod")))
    instance = await repo.get_instance(CID, "i1", Schema.PERSONALIZED_OFFER)
    assert isinstance(instance, Instance)
    assert (instance.instance_id, instance.id, instance.etag) == ("i1", "xcore:personalized-offer:1", 4)
    assert instance.instance == payload
    assert instance.sandbox_name == "prod"
    offer = instance.as_(PersonalizedOffer)
    assert (offer.xdm_name, offer.xdm_status, offer.extras) == ("Card", OfferStatus.APPROVED, {"xdm:x": 1})
    assert isinstance(instance.entity, PersonalizedOffer)


async def test_if_none_match_304_returns_none(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(304))
    assert await repo.get_instance(CID, "i1", Schema.PERSONALIZED_OFFER, if_none_match=3) is None
    assert recorder.last.headers["if-none-match"] == '"3"'


async def test_if_none_match_mismatch_returns_instance_and_etag_header_fallback(repo, recorder: Recorder) -> None:
    body = envelope("i1", {})
    del body["repo:etag"]
    recorder.then(httpx.Response(200, json=body, headers={"ETag": '"7"'}))
    instance = await repo.get_instance(CID, "i1", if_none_match='"6"')
    assert instance is not None and instance.etag == 7
    assert recorder.last.headers["if-none-match"] == '"6"'


async def test_missing_instance_raises_not_found_with_request_id(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(404, json={"title": "not found"}))
    with pytest.raises(NotFoundError) as info:
        await repo.get_instance(CID, "gone")
    assert info.value.request_id == recorder.last.headers["x-request-id"]
    assert info.value.body == {"title": "not found"}


async def test_replace_sends_if_match_and_parses_receipt(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(200, json=receipt_body("i1", etag=2)))
    receipt = await repo.replace_instance(CID, "i1", Schema.PERSONALIZED_OFFER, {"xdm:name": "B"}, if_match=1)
    assert recorder.last.method == "PUT"
    assert recorder.last.headers["if-match"] == '"1"'
    assert recorder.json() == {"_instance": {"xdm:name": "B"}, "_links": {}}
    assert (receipt.etag, receipt.location) == (2, f"{BASE}{CID}/instances/i1")


async def test_replace_conflict_raises_conflict_error(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(409, json={"message": "etag mismatch"}, headers={"x-request-id": "srv-1"}))
    with pytest.raises(ConflictError) as info:
        await repo.replace_instance(CID, "i1", Schema.PERSONALIZED_OFFER, {}, if_match='W/"1"')
    assert recorder.last.headers["if-match"] == 'W/"1"'
    assert (info.value.status, info.value.message, info.value.request_id) == (409, "etag mismatch", "srv-1")
    assert len(recorder.requests) == 1  # a conflict is never retried


async def test_patch_sends_operations_with_if_match(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(200, json=receipt_body("i1", etag=5)))
    ops = [{"op": "replace", "path": "/_instance/xdm:status", "value": "approved"}]
    receipt = await repo.patch_instance(CID, "i1", Schema.PERSONALIZED_OFFER, ops, if_match=4)
    assert recorder.last.method == "PATCH"
    assert recorder.json() == ops
    assert recorder.last.headers["if-match"] == '"4"'
    assert receipt.etag == 5


async def test_patch_conflict(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(409, json={}))
    with pytest.raises(ConflictError):
        await repo.patch_instance(CID, "i1", None, OfferPatch({}).set_name("x"), if_match=1)
    assert recorder.last.headers["content-type"] == "application/vnd.adobe.platform.xcore.patch.hal+json"


async def test_replace_with_read_instance_keeps_unknown_fields(repo, recorder: Recorder) -> None:
    payload = {"xdm:name": "A", "xdm:futureThing": {"keep": True}}
    recorder.then(httpx.Response(200, json=envelope("i1", payload)), httpx.Response(200, json=receipt_body()))
    instance = await repo.get_instance(CID, "i1", Schema.PERSONALIZED_OFFER)
    assert instance is not None
    offer = instance.as_(PersonalizedOffer)
    offer.xdm_name = "B"
    await repo.replace_instance(CID, "i1", Schema.PERSONALIZED_OFFER, offer, if_match=instance.etag)
    assert recorder.json()["_instance"] == {"xdm:name": "B", "xdm:futureThing": {"keep": True}}


async def test_update_with_retry_rereads_after_conflict(repo, recorder: Recorder) -> None:
    recorder.then(
        httpx.Response(200, json=envelope("i1", {"xdm:name": "v1"}, etag=1)),
        httpx.Response(409, json={}),
        httpx.Response(200, json=envelope("i1", {"xdm:name": "v2"}, etag=2)),
        httpx.Response(200, json=receipt_body("i1", etag=3)),
    )
    seen = []

    async def rename(current: Instance) -> dict:
        seen.append(current.instance["xdm:name"])
        return {**current.instance, "xdm:name": current.instance["xdm:name"] + "!"}

    receipt = await repo.update_with_retry(CID, "i1", Schema.PERSONALIZED_OFFER, rename)
    assert receipt.etag == 3
    assert seen == ["v1", "v2"]
    puts = [r for r in recorder.requests if r.method == "PUT"]
    assert [p.headers["if-match"] for p in puts] == ['"1"', '"2"']
    assert json.loads(puts[-1].content)["_instance"] == {"xdm:name": "v2!"}
    assert "self" not in json.loads(puts[-1].content)["_links"]


async def test_update_with_retry_in_place_and_gives_up(repo, recorder: Recorder) -> None:
    def touch(current: Instance) -> None:
        current.instance["xdm:status"] = "archived"

    recorder.answer = lambda r: (
        httpx.Response(200, json=envelope("i1", {"xdm:name": "n"}))
        if r.method == "GET"
        else httpx.Response(409, json={})
    )
    with pytest.raises(ConflictError):
        await repo.update_with_retry(CID, "i1", Schema.PERSONALIZED_OFFER, touch, max_attempts=3)
    assert [r.method for r in recorder.requests] == ["GET", "PUT"] * 3
    assert json.loads(recorder.last.content)["_instance"] == {"xdm:name": "n", "xdm:status": "archived"}


async def test_create_is_not_retried_unless_asked(make_repo, recorder: Recorder) -> None:
    repo = make_repo(retries=RetryPolicy(max_retries=2))
    recorder.answer = lambda r: httpx.Response(500, json={"message": "boom"})
    with pytest.raises(ServerError):
        await repo.create_instance(CID, Schema.TAG, {"xdm:name": "t"})
    assert len(recorder.requests) == 1
    recorder.requests.clear()
    recorder.then(httpx.Response(500, json={}), httpx.Response(201, json=receipt_body("i2")))
    receipt = await repo.create_instance(CID, Schema.TAG, {"xdm:name": "t"}, retry=True)
    assert (receipt.instance_id, len(recorder.requests)) == ("i2", 2)


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.get_instance(CID, "i1"),
        lambda r: r.replace_instance(CID, "i1", Schema.TAG, {}),
        lambda r: r.patch_instance(CID, "i1", Schema.TAG, OfferPatch({}).set_name("n"), if_match=1),
        lambda r: r.list_page(CID, Schema.TAG),
    ],
)
async def test_safe_requests_are_retried_on_503(make_repo, recorder: Recorder, call) -> None:
    repo = make_repo(retries=RetryPolicy(max_retries=2))
    ok = envelope("i1", {}) | {"_embedded": {"results": []}}
    recorder.then(httpx.Response(503), httpx.Response(502), httpx.Response(200, json=ok))
    await call(repo)
    assert len(recorder.requests) == 3
    assert len({r.headers["x-request-id"] for r in recorder.requests}) == 1  # the same logical request


async def test_unconditional_patch_is_not_retried(make_repo, recorder: Recorder) -> None:
    repo = make_repo(retries=RetryPolicy(max_retries=2))
    recorder.answer = lambda r: httpx.Response(502)
    with pytest.raises(ServerError):
        await repo.patch_instance(CID, "i1", Schema.TAG, [{"op": "add", "path": "/_instance/xdm:tags/-", "value": "t"}])
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (415, UnsupportedMediaTypeError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, ServerError),
        (503, ServerError),
    ],
)
async def test_typed_errors_carry_body_and_request_id(make_repo, recorder: Recorder, status, cls) -> None:
    repo = make_repo(retries=RetryPolicy(max_retries=0))
    recorder.answer = lambda r: httpx.Response(status, json={"detail": f"status {status}"})
    with pytest.raises(cls) as info:
        await repo.replace_instance(CID, "i1", Schema.TAG, {})
    assert isinstance(info.value, APIError)
    assert info.value.status == status
    assert info.value.body == {"detail": f"status {status}"}
    assert info.value.request_id == recorder.last.headers["x-request-id"]


async def test_fallback_offer_entity_with_fallback_schema(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(201, json=receipt_body()))
    await repo.create_instance(CID, Schema.FALLBACK_OFFER + ";version=0.1", FallbackOffer(xdm_name="F"))
    assert recorder.json()["_instance"] == {"xdm:name": "F"}
    assert (
        'schema="https://ns.adobe.com/experience/offer-management/fallback-offer;version=0.1"'
        in (recorder.last.headers["content-type"])
    )


async def test_list_containers_property_filter(repo, recorder: Recorder) -> None:
    recorder.then(httpx.Response(200, json={"_embedded": {}}))
    await repo.list_containers("acp", filters="_instance.containerType==decisioning")
    assert query_pairs(recorder.last) == [("product", "acp"), ("property", "_instance.containerType==decisioning")]
