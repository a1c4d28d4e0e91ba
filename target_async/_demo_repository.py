"""Steps 1-4 of ``target-async demo``: offers as code, lists, conflicts and deletes (see :mod:`._demo`)."""

from __future__ import annotations

from typing import Any

from ._demo_common import PLACEMENT, _html, _iso, _say, _step
from ._exceptions import ConflictError, DeleteRejectedError
from .repository import (
    Activity,
    ActivityStatus,
    AsyncRepositoryClient,
    CappingConstraint,
    ComponentType,
    Condition,
    EligibilityRule,
    FallbackOffer,
    FilterType,
    OfferFilter,
    OfferPatch,
    OfferStatus,
    PersonalizedOffer,
    Placement,
    Rank,
    Schema,
    SelectionConstraint,
    Tag,
)


async def _repository(repo: AsyncRepositoryClient) -> dict[str, Any]:
    _step(1, "Offers as code (repository API)")
    containers = await repo.list_containers(["dma_offers", "acp"])
    cid = containers[0].instance_id
    _say(f"   container {cid} ({', '.join(containers[0].product_contexts or [])})")

    placement = await repo.create_instance(
        cid,
        Schema.PLACEMENT,
        Placement(
            xdm_name=PLACEMENT,
            xdm_channel="https://ns.adobe.com/xdm/channels/web",
            xdm_component_type=ComponentType.HTML,
            xdm_content_types=["text/html"],
        ),
    )
    pid = placement.id or ""
    summer = await repo.create_instance(cid, Schema.TAG, Tag(xdm_name="summer"))
    loyalty = await repo.create_instance(cid, Schema.TAG, Tag(xdm_name="loyalty"))
    rule = await repo.create_instance(
        cid,
        Schema.ELIGIBILITY_RULE,
        EligibilityRule(
            xdm_name="Gold members",
            xdm_condition=Condition(xdm_value='profile.tier = "gold"', xdm_format="pql/text", xdm_type="PQL"),
        ),
    )
    _say(f"   placement {PLACEMENT!r} {pid}, tags summer/loyalty, rule 'Gold members'")

    specs: list[tuple[str, PersonalizedOffer]] = [
        (
            "Gold members",
            PersonalizedOffer(
                xdm_rank=Rank(xdm_priority=20),
                xdm_selection_constraint=SelectionConstraint(xdm_eligibility_rule=rule.id),
                xdm_tags=[loyalty.id or ""],
            ),
        ),
        (
            "Flash deal",
            PersonalizedOffer(
                xdm_rank=Rank(xdm_priority=10),
                xdm_capping_constraint=CappingConstraint(xdm_global_cap=100),
                xdm_tags=[summer.id or ""],
            ),
        ),
        (
            "Summer sale",
            PersonalizedOffer(
                xdm_rank=Rank(xdm_priority=5),
                xdm_selection_constraint=SelectionConstraint(xdm_start_date=_iso(-1), xdm_end_date=_iso(30)),
                xdm_tags=[summer.id or ""],
            ),
        ),
        (
            "Last year's sale",
            PersonalizedOffer(
                xdm_rank=Rank(xdm_priority=50),
                xdm_selection_constraint=SelectionConstraint(xdm_start_date=_iso(-400), xdm_end_date=_iso(-300)),
            ),
        ),
        ("Unused draft", PersonalizedOffer(xdm_status=OfferStatus.DRAFT)),
    ]
    offers: dict[str, Any] = {}
    for name, offer in specs:
        offer.xdm_name = name
        offer.xdm_status = offer.xdm_status or OfferStatus.APPROVED
        offer.xdm_representations = _html(pid, name)
        offers[name] = await repo.create_instance(cid, Schema.PERSONALIZED_OFFER, offer)
    _say(f"   {len(offers)} offers: " + ", ".join(offers))

    selected = [offers[n].id or "" for n in ("Gold members", "Flash deal", "Summer sale", "Last year's sale")]
    collection = await repo.create_instance(
        cid, Schema.OFFER_FILTER, OfferFilter(xdm_name="Home offers", xdm_filter_type=FilterType.OFFERS, ids=selected)
    )
    fallback = await repo.create_instance(
        cid,
        Schema.FALLBACK_OFFER,
        FallbackOffer(xdm_name="Default banner", xdm_status=OfferStatus.APPROVED, xdm_representations=_html(pid, "Hi")),
    )
    activity = await repo.create_instance(
        cid,
        Schema.ACTIVITY,
        Activity(
            xdm_name="Home page",
            xdm_status=ActivityStatus.LIVE,
            xdm_placement=pid,
            xdm_filter=collection.id,
            xdm_fallback=fallback.id,
            xdm_start_date=_iso(-1),
            xdm_end_date=_iso(60),
        ),
    )
    _say(f"   filter 'Home offers' (4 offers), fallback 'Default banner', live activity {activity.id}")

    _step(2, "Paging, filtering, search")
    pages = 0
    names: list[str] = []
    async for page in repo.iter_pages(cid, Schema.PERSONALIZED_OFFER, order_by="+_instance.xdm:name", limit=2):
        pages += 1
        names += [str(item.instance.get("xdm:name")) for item in page.results]
    _say(f"   {len(names)} offers in {pages} pages of 2, by name: {', '.join(names)}")
    approved = [
        i.instance["xdm:name"]
        async for i in repo.list_instances(cid, Schema.PERSONALIZED_OFFER, filters=["_instance.xdm:status==approved"])
    ]
    _say(f"   filter _instance.xdm:status==approved -> {len(approved)} offers")
    found = [
        i.instance["xdm:name"]
        async for i in repo.search_instances(cid, Schema.PERSONALIZED_OFFER, "sale", fields=["_instance.xdm:name"])
    ]
    _say(f"   search q='sale' in xdm:name -> {', '.join(found)}")

    _step(3, "Optimistic concurrency (If-Match)")
    target = offers["Summer sale"]
    current = await repo.get_instance(cid, target.instance_id, Schema.PERSONALIZED_OFFER)
    assert current is not None
    patch = OfferPatch(current).set_priority(6).add_tag(loyalty.id or "")
    receipt = await repo.patch_instance(
        cid, target.instance_id, Schema.PERSONALIZED_OFFER, patch, if_match=current.etag
    )
    _say(f'   patch priority 5 -> 6 with If-Match "{current.etag}" -> etag {receipt.etag}')
    try:
        await repo.patch_instance(cid, target.instance_id, Schema.PERSONALIZED_OFFER, patch, if_match=current.etag)
    except ConflictError as exc:
        _say(f'   the same patch again with the stale If-Match "{current.etag}" -> {exc.status} {type(exc).__name__}')

    def bump(instance: Any) -> None:
        instance.instance["xdm:rank"]["xdm:priority"] = 7

    receipt = await repo.update_with_retry(cid, target.instance_id, Schema.PERSONALIZED_OFFER, bump)
    _say(f"   recovered with update_with_retry (re-read, modify, conditional PUT) -> priority 7, etag {receipt.etag}")

    _step(4, "Deleting with polling (202 Accepted)")
    operation = await repo.begin_delete(cid, target.instance_id)
    polls = 0
    while not operation.done():
        polls += 1
        await operation.poll_once()
    try:
        await operation.result()
    except DeleteRejectedError as exc:
        refs = ", ".join(f"{r.get('@id')}" for r in exc.referenced_by)
        _say(f"   delete 'Summer sale' -> rejected after {polls} polls: referenced by {refs}")
    outcome = await repo.delete_instance(cid, offers["Unused draft"].instance_id)
    _say(f"   delete 'Unused draft' -> {outcome.status}")
    return {"container": cid, "fallback": "Default banner"}
