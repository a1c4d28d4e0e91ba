"""JSON Patch builders: parents created first, dates patched individually (spec §1 J, §4 items 15-16)."""

from __future__ import annotations

import datetime as dt

import pytest

from target_async import ValidationError
from target_async.repository import (
    ActivityPatch,
    FallbackOffer,
    Instance,
    InstancePatch,
    OfferPatch,
    PersonalizedOffer,
    Representation,
    Schema,
)
from target_async.repository._patch import patch_operations, pointer

P = "/_instance"
REP = {"xdm:placement": "xcore:offer-placement:1", "xdm:components": [{"dc:format": "text/plain"}]}


def test_status_replaces_existing_and_adds_missing() -> None:
    assert OfferPatch({"xdm:status": "draft"}).set_status("approved").operations == [
        {"op": "replace", "path": f"{P}/xdm:status", "value": "approved"}
    ]
    assert OfferPatch({}).set_status("archived").operations == [
        {"op": "add", "path": f"{P}/xdm:status", "value": "archived"}
    ]
    with pytest.raises(ValidationError):
        OfferPatch({}).set_status("live")
    assert ActivityPatch({}).set_status("live").operations[0]["value"] == "live"
    with pytest.raises(ValidationError):
        ActivityPatch({}).set_status("approved")


def test_add_representation_creates_the_array_first() -> None:
    patch = OfferPatch({"xdm:name": "n"}).add_representation(REP)
    assert patch.operations == [
        {"op": "add", "path": f"{P}/xdm:representations", "value": []},
        {"op": "add", "path": f"{P}/xdm:representations/-", "value": REP},
    ]
    # the builder knows the array exists now: a second append adds no parent
    patch.add_representation(Representation(xdm_placement="xcore:offer-placement:2"))
    assert patch.operations[-1] == {
        "op": "add",
        "path": f"{P}/xdm:representations/-",
        "value": {"xdm:placement": "xcore:offer-placement:2"},
    }
    assert len(patch) == 3


def test_representation_placement_must_be_unique_and_replace_finds_by_placement() -> None:
    current = {"xdm:representations": [{"xdm:placement": "p0"}, dict(REP)]}
    with pytest.raises(ValidationError):
        OfferPatch(current).add_representation({"xdm:placement": "p0"})
    new = {"xdm:placement": REP["xdm:placement"], "xdm:components": []}
    assert OfferPatch(current).replace_representation(new).operations == [
        {"op": "replace", "path": f"{P}/xdm:representations/1", "value": new}
    ]
    with pytest.raises(ValidationError):
        OfferPatch(current).replace_representation({"xdm:placement": "nope"})
    assert OfferPatch(current).remove_representation("p0").operations == [
        {"op": "remove", "path": f"{P}/xdm:representations/0"}
    ]
    assert OfferPatch(current).remove_representation("absent").operations == []


def test_calendar_patches_dates_individually_and_keeps_the_rule() -> None:
    current = {"xdm:selectionConstraint": {"xdm:eligibilityRule": "xcore:eligibility-rule:1", "xdm:endDate": "x"}}
    start = dt.datetime(2019, 6, 13, tzinfo=dt.timezone.utc)
    ops = OfferPatch(current).set_calendar(start, "2019-07-13T00:00:00.000Z").operations
    assert ops == [
        {"op": "add", "path": f"{P}/xdm:selectionConstraint/xdm:startDate", "value": "2019-06-13T00:00:00.000Z"},
        {"op": "replace", "path": f"{P}/xdm:selectionConstraint/xdm:endDate", "value": "2019-07-13T00:00:00.000Z"},
    ]
    assert not any(op["path"] == f"{P}/xdm:selectionConstraint" and op["op"] != "add" for op in ops)


def test_calendar_adds_the_selection_constraint_when_missing() -> None:
    ops = OfferPatch({}).set_calendar(end_date="2019-07-13T00:00:00.000Z").operations
    assert ops == [
        {"op": "add", "path": f"{P}/xdm:selectionConstraint", "value": {}},
        {"op": "add", "path": f"{P}/xdm:selectionConstraint/xdm:endDate", "value": "2019-07-13T00:00:00.000Z"},
    ]
    with pytest.raises(ValidationError):
        OfferPatch({}).set_calendar(dt.datetime(2019, 1, 1))  # naive datetime
    removal = OfferPatch({"xdm:selectionConstraint": {"xdm:startDate": "a", "xdm:eligibilityRule": "r"}})
    assert removal.remove_calendar().operations == [
        {"op": "remove", "path": f"{P}/xdm:selectionConstraint/xdm:startDate"}
    ]


def test_capping_set_and_remove_each_cap() -> None:
    assert OfferPatch({}).set_capping(global_cap=1000000, profile_cap=5).operations == [
        {"op": "add", "path": f"{P}/xdm:cappingConstraint", "value": {}},
        {"op": "add", "path": f"{P}/xdm:cappingConstraint/xdm:globalCap", "value": 1000000},
        {"op": "add", "path": f"{P}/xdm:cappingConstraint/xdm:profileCap", "value": 5},
    ]
    current = {"xdm:cappingConstraint": {"xdm:globalCap": 10, "xdm:profileCap": 2}}
    assert OfferPatch(current).remove_capping(profile_cap=True).operations == [
        {"op": "remove", "path": f"{P}/xdm:cappingConstraint/xdm:profileCap"}
    ]
    assert OfferPatch(current).set_capping(global_cap=11).operations == [
        {"op": "replace", "path": f"{P}/xdm:cappingConstraint/xdm:globalCap", "value": 11}
    ]
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValidationError):
            OfferPatch({}).set_capping(global_cap=bad)


def test_priority_adds_rank_first_and_eligibility_rule() -> None:
    assert OfferPatch({}).set_priority(0).operations == [
        {"op": "add", "path": f"{P}/xdm:rank", "value": {}},
        {"op": "add", "path": f"{P}/xdm:rank/xdm:priority", "value": 0},
    ]
    assert OfferPatch({"xdm:rank": {"xdm:priority": 3}}).set_priority(4).operations == [
        {"op": "replace", "path": f"{P}/xdm:rank/xdm:priority", "value": 4}
    ]
    with pytest.raises(ValidationError):
        OfferPatch({}).set_priority(-1)
    ops = OfferPatch({"xdm:selectionConstraint": {}}).set_eligibility_rule("xcore:eligibility-rule:f8").operations
    assert ops == [
        {"op": "add", "path": f"{P}/xdm:selectionConstraint/xdm:eligibilityRule", "value": "xcore:eligibility-rule:f8"}
    ]


def test_tags_array_created_first_and_no_duplicates() -> None:
    patch = OfferPatch({}).add_tag("xcore:tag:1").add_tag("xcore:tag:1").add_tag("xcore:tag:2")
    assert patch.operations == [
        {"op": "add", "path": f"{P}/xdm:tags", "value": []},
        {"op": "add", "path": f"{P}/xdm:tags/-", "value": "xcore:tag:1"},
        {"op": "add", "path": f"{P}/xdm:tags/-", "value": "xcore:tag:2"},
    ]
    assert OfferPatch({"xdm:tags": ["a", "b"]}).remove_tag("b").remove_tag("zz").operations == [
        {"op": "remove", "path": f"{P}/xdm:tags/1"}
    ]
    assert OfferPatch({"xdm:tags": ["a"]}).set_tags(["c"]).operations == [
        {"op": "replace", "path": f"{P}/xdm:tags", "value": ["c"]}
    ]


def test_fallback_offers_refuse_constraints_and_rank() -> None:
    instance = Instance(instance_id="f", instance={}, schemas=[Schema.FALLBACK_OFFER + ";version=0.1"])
    for patch in (OfferPatch(instance), OfferPatch(FallbackOffer()), OfferPatch({}, fallback=True)):
        with pytest.raises(ValidationError):
            patch.set_priority(1)
        with pytest.raises(ValidationError):
            patch.set_capping(global_cap=1)
        with pytest.raises(ValidationError):
            patch.set_calendar("2019-01-01T00:00:00Z")
        patch.set_status("approved")  # the general properties are fine


def test_builder_starts_from_instance_or_entity_and_does_not_mutate_it() -> None:
    offer = PersonalizedOffer(xdm_tags=["t"])
    OfferPatch(offer).add_tag("u")
    assert offer.xdm_tags == ["t"]
    instance = Instance(instance_id="i", instance={"xdm:tags": ["t"]})
    assert OfferPatch(instance).add_tag("t").operations == []
    assert instance.instance == {"xdm:tags": ["t"]}


def test_characteristics_keys_are_pointer_escaped() -> None:
    ops = OfferPatch({}).set_characteristic("a/b~c", "v").operations
    assert ops[-1] == {"op": "add", "path": f"{P}/xdm:characteristics/a~1b~0c", "value": "v"}
    assert pointer("x", 0, "-") == "/x/0/-"


def test_generic_set_and_operations_validation() -> None:
    patch = InstancePatch({"xdm:a": {"b": 1}}).set("xdm:a", "b", value=2).remove("xdm:zz")
    assert patch.operations == [{"op": "replace", "path": f"{P}/xdm:a/b", "value": 2}]
    assert patch_operations(patch) == patch.operations
    with pytest.raises(ValidationError):
        InstancePatch({"xdm:a": 3}).set("xdm:a", "b", value=1)  # a scalar cannot become a parent
    links = [{"op": "add", "path": "/_links/foo", "value": {"href": "/x"}}]
    assert patch_operations(links) == links
