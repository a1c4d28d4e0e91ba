"""End to end: the client against the emulator over real HTTP on loopback (uvicorn in a background thread)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

from target_async import ConflictError, DeleteRejectedError, PollingTimeoutError, ValidationError
from target_async._serde import strict_converter
from target_async.emulator import create_app
from target_async.repository import (
    AsyncRepositoryClient,
    Component,
    ComponentType,
    Instance,
    OfferPatch,
    OfferStatus,
    PersonalizedOffer,
    Placement,
    Representation,
    Schema,
    Tag,
)
from target_async.testing import EMULATOR_ORG_ID

pytestmark = [pytest.mark.emulator, pytest.mark.anyio]  # every test on asyncio and on trio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def target_emulator_app(request: pytest.FixtureRequest) -> Any:
    """The plugin's emulator, with the settings a test gives (``parametrize(..., indirect=True)``)."""
    return create_app(**getattr(request, "param", {}))


def _client(url: str) -> AsyncRepositoryClient:
    """Another client of the loopback emulator (the organization of the plugin's), with a token callable."""
    return AsyncRepositoryClient(
        access_token=lambda: "e2e-token",
        api_key="e2e-key",
        org_id=EMULATOR_ORG_ID,  # the plugin's clients' organization: the emulator keeps one state per org
        sandbox_name="prod",
        base_url=f"{url}/data/core/xcore/",
    )


async def _setup(repo: AsyncRepositoryClient) -> tuple[str, str, str]:
    [container] = await repo.list_containers(["dma_offers", "acp"])
    cid = container.container_id
    placement = Placement(
        xdm_name="Web text",
        xdm_channel="https://ns.adobe.com/xdm/channels/web",
        xdm_component_type=ComponentType.TEXT,
        xdm_content_types=["text/plain"],
    )
    placement_id = (await repo.create_instance(cid, Schema.PLACEMENT, placement)).id
    tag_id = (await repo.create_instance(cid, Schema.TAG, Tag(xdm_name="cards"))).id
    assert placement_id and tag_id
    return cid, placement_id, tag_id


def _offer(name: str, placement_id: str, status: str = "draft", tags: list[str] | None = None) -> PersonalizedOffer:
    component = Component(at_type=ComponentType.TEXT, dc_format="text/plain", xdm_copyline=f"{name} copy")
    return PersonalizedOffer(
        xdm_name=name,
        xdm_status=OfferStatus(status),
        xdm_representations=[Representation(xdm_placement=placement_id, xdm_components=[component])],
        xdm_tags=tags,
    )


async def test_create_read_304_put_409_patch(repository_loopback_client: AsyncRepositoryClient) -> None:
    repo = repository_loopback_client
    cid, placement_id, tag_id = await _setup(repo)
    receipt = await repo.create_instance(cid, Schema.PERSONALIZED_OFFER, _offer("Gold card", placement_id))
    assert receipt.id is not None and receipt.id.startswith("xcore:personalized-offer:")
    assert receipt.location is not None and receipt.location.endswith(
        f"/data/core/xcore/{cid}/instances/{receipt.instance_id}"
    )

    instance = await repo.get_instance(cid, receipt.instance_id, Schema.PERSONALIZED_OFFER)
    assert isinstance(instance, Instance) and instance.etag == 1
    assert strict_converter.structure(instance.instance, PersonalizedOffer).xdm_name == "Gold card"
    assert (
        await repo.get_instance(cid, receipt.instance_id, Schema.PERSONALIZED_OFFER, if_none_match=instance.etag)
        is None
    )

    offer = instance.as_(PersonalizedOffer)
    offer.xdm_name = "Platinum card"
    put = await repo.replace_instance(
        cid, receipt.instance_id, Schema.PERSONALIZED_OFFER, offer, if_match=instance.etag
    )
    assert put.etag == 2
    with pytest.raises(ConflictError):
        await repo.replace_instance(cid, receipt.instance_id, Schema.PERSONALIZED_OFFER, offer, if_match=instance.etag)

    current = await repo.get_instance(cid, receipt.instance_id, Schema.PERSONALIZED_OFFER)
    assert current is not None
    patch = (
        OfferPatch(current)
        .set_status("approved")
        .set_priority(3)
        .add_tag(tag_id)
        .set_capping(profile_cap=5)
        .set_calendar("2019-06-13T00:00:00.000Z", "2039-07-13T00:00:00.000Z")
    )
    patched = await repo.patch_instance(
        cid, receipt.instance_id, Schema.PERSONALIZED_OFFER, patch, if_match=current.etag
    )
    assert patched.etag == 3
    after = await repo.get_instance(cid, receipt.instance_id, Schema.PERSONALIZED_OFFER)
    assert after is not None
    typed = after.as_(PersonalizedOffer)
    assert typed.xdm_status is OfferStatus.APPROVED and typed.xdm_tags == [tag_id]
    assert typed.xdm_rank is not None and typed.xdm_rank.xdm_priority == 3
    assert typed.xdm_capping_constraint is not None and typed.xdm_capping_constraint.xdm_profile_cap == 5
    assert typed.xdm_selection_constraint is not None
    assert typed.xdm_selection_constraint.xdm_end_date == "2039-07-13T00:00:00.000Z"

    async def rename(inst: Instance) -> None:
        inst.instance["xdm:name"] = "Renamed"

    final = await repo.update_with_retry(cid, receipt.instance_id, Schema.PERSONALIZED_OFFER, rename)
    assert final.etag == 4


async def test_list_with_ties_filters_ids_and_search(repository_loopback_client: AsyncRepositoryClient) -> None:
    repo = repository_loopback_client
    cid, placement_id, tag_id = await _setup(repo)
    statuses = ["draft", "approved", "archived", "approved", "draft", "approved", "approved"]
    receipts = []
    for i, status in enumerate(statuses):
        tags = [tag_id] if i % 2 else None
        offer = _offer(f"Offer {i} {'cars' if i < 3 else 'boats'}", placement_id, status, tags)
        receipts.append(await repo.create_instance(cid, Schema.PERSONALIZED_OFFER, offer))
    every = {r.instance_id for r in receipts}

    pages = [p async for p in repo.iter_pages(cid, Schema.PERSONALIZED_OFFER, order_by="_instance.xdm:status", limit=2)]
    got = [i.instance_id for p in pages for i in p.results]
    assert sorted(got) == sorted(every)  # each exactly once although limit=2 splits tie groups
    status_pages = [[i.instance["xdm:status"] for i in p.results] for p in pages]
    assert status_pages[0] == ["approved"] * 4  # the first page grew past limit=2 to the whole tie group
    for before, after in zip(status_pages, status_pages[1:], strict=False):
        assert before[-1] != after[0]  # a tie group is never split across a page boundary

    descending = await repo.list_instances(
        cid, Schema.PERSONALIZED_OFFER, order_by="-repo:createdDate,-instanceId", limit=3
    ).to_list()
    # several creates can share a millisecond; the instanceId tie-breaker then orders them, so compare keys
    keys = [(i.created_date, i.instance_id) for i in descending]
    assert keys == sorted(keys, reverse=True)
    assert {i.instance_id for i in descending} == every

    approved = await repo.list_instances(
        cid, Schema.PERSONALIZED_OFFER, filters=["_instance.xdm:status==approved"]
    ).to_list()
    assert {i.instance_id for i in approved} == {receipts[i].instance_id for i in (1, 3, 5, 6)}
    cars = repo.list_instances(
        cid, Schema.PERSONALIZED_OFFER, filters=["_instance.xdm:name~.*CARS.*", "_instance.xdm:status!=archived"]
    )
    assert {i.instance_id async for i in cars} == {receipts[0].instance_id, receipts[1].instance_id}
    tagged = await repo.list_instances(cid, Schema.PERSONALIZED_OFFER, filters="_instance.xdm:tags").to_list()
    assert {i.instance_id for i in tagged} == {receipts[i].instance_id for i in (1, 3, 5)}
    by_id = await repo.list_instances(cid, Schema.PERSONALIZED_OFFER, ids=[receipts[2].id, receipts[4].id]).to_list()
    assert {i.instance_id for i in by_id} == {receipts[2].instance_id, receipts[4].instance_id}

    found = await repo.search_instances(
        cid, Schema.PERSONALIZED_OFFER, "boats", fields=["_instance.xdm:name"]
    ).to_list()
    assert {i.instance_id for i in found} == {r.instance_id for r in receipts[3:]}
    both = await repo.search_instances(cid, Schema.PERSONALIZED_OFFER, "offer cars", qop="and", limit=1).to_list()
    assert {i.instance_id for i in both} == {r.instance_id for r in receipts[:3]}


@pytest.mark.parametrize(
    "target_emulator_app",
    [
        {"delete_mode": "async", "delete_pending_polls": 2},
        {"delete_mode": "no-location", "delete_pending_polls": 2},
        {"delete_mode": "immediate"},
    ],
    ids=["async-202-location", "202-no-location", "immediate"],
    indirect=True,
)
async def test_delete_confirmed_and_rejected(
    repository_loopback_client: AsyncRepositoryClient, request: pytest.FixtureRequest
) -> None:
    settings = request.node.callspec.params["target_emulator_app"]
    repo = repository_loopback_client
    cid, placement_id, tag_id = await _setup(repo)
    offer = await repo.create_instance(cid, Schema.PERSONALIZED_OFFER, _offer("Tagged", placement_id, tags=[tag_id]))

    tag_id_instance = await _instance_id_of(repo, cid, Schema.TAG, tag_id)
    if settings["delete_mode"] == "no-location":
        # without a status URL a rejection is invisible: the instance just stays, so polling times out
        with pytest.raises(PollingTimeoutError) as timed_out:
            await repo.delete_instance(cid, tag_id_instance, timeout=0.3)
        assert timed_out.value.continuation_token
    else:
        with pytest.raises(DeleteRejectedError) as info:
            await repo.delete_instance(cid, tag_id_instance)
        assert [r["@id"] for r in info.value.referenced_by] == [offer.id]
    assert await repo.get_instance(cid, tag_id_instance) is not None  # still there

    outcome = await repo.delete_instance(cid, offer.instance_id)
    assert outcome.confirmed
    assert await repo.list_instances(cid, Schema.PERSONALIZED_OFFER).to_list() == []
    assert (await repo.delete_instance(cid, tag_id_instance)).confirmed


@pytest.mark.parametrize(
    "target_emulator_app", [{"delete_mode": "async", "delete_pending_polls": 3}], ids=["async-3-polls"], indirect=True
)
async def test_polling_timeout_and_resume_against_the_emulator(
    repository_loopback_client: AsyncRepositoryClient, target_emulator_url: str
) -> None:
    repo = repository_loopback_client
    cid, _, tag_id = await _setup(repo)
    iid = await _instance_id_of(repo, cid, Schema.TAG, tag_id)
    op = await repo.begin_delete(cid, iid)
    assert await op.poll_once() == "pending"
    token = op.continuation_token()
    assert "emulator-token" not in token
    async with _client(target_emulator_url) as other:  # another client (a token callable) resumes it
        resumed = other.resume_delete(token)
        assert (await resumed.result(timeout=10)).confirmed
    with pytest.raises(ValidationError):
        await repo.get_instance(cid, "")


async def _instance_id_of(repo: AsyncRepositoryClient, cid: str, schema: Schema, at_id: str) -> str:
    [instance] = await repo.list_instances(cid, schema, ids=[at_id]).to_list()
    return instance.instance_id
