"""Entity and envelope models: wire names, extras, enums, typed access (spec §2)."""

from __future__ import annotations

import json

import attrs
import pytest
from hypothesis import given, strategies as st

from target_async import ValidationError
from target_async._serde import json_key, strict_converter, wire_names
from target_async._serde._naming import python_name
from target_async.models.repository import entity_class
from target_async.repository import (
    Activity,
    ActivityStatus,
    CappingConstraint,
    Component,
    ComponentType,
    Condition,
    Container,
    EligibilityRule,
    FallbackOffer,
    FilterType,
    Instance,
    OfferFilter,
    OfferStatus,
    Page,
    PersonalizedOffer,
    Placement,
    Rank,
    Receipt,
    Representation,
    Schema,
    SelectionConstraint,
    Tag,
)

# Payloads as in the tutorial (L576-L961), with its JSON errors repaired (spec §4 items 13, 17).
OFFER = {
    "@id": "xcore:personalized-offer:124e181c8b0d7878",
    "xdm:name": "ABC Bank Credit Card",
    "xdm:status": "approved",
    "xdm:characteristics": {"category": "cards"},
    "xdm:representations": [
        {
            "xdm:placement": "xcore:offer-placement:e51944a87919861",
            "xdm:components": [
                {
                    "@type": "https://ns.adobe.com/experience/offer-management/content-component-imagelink",
                    "repo:id": "urn:aaid:a",
                    "repo:name": "card.png",
                    "repo:resolveURL": "https://assets/card.png",
                    "dc:format": "image/png",
                    "dc:language": ["en"],
                    "xdm:linkURL": "https://bank/cards",
                    "offerui:previewThumbnail": "https://assets/thumb.png",
                },
                {
                    "@type": "https://ns.adobe.com/experience/offer-management/content-component-text",
                    "dc:format": "text/plain",
                    "xdm:copyline": "Get what you want!",
                },
            ],
        }
    ],
    "xdm:selectionConstraint": {
        "xdm:startDate": "2019-06-13T00:00:00.000Z",
        "xdm:endDate": "2019-07-13T00:00:00.000Z",
        "xdm:eligibilityRule": "xcore:eligibility-rule:f84c6b33cc63c65",
    },
    "xdm:cappingConstraint": {"xdm:globalCap": 1000000, "xdm:profileCap": 5},
    "xdm:rank": {"xdm:priority": 0},
    "xdm:tags": ["xcore:tag:f66f67dbe6d6ee1", "xcore:tag:f2df943c428b6f7"],
}
PLACEMENT = {
    "xdm:name": "Kiosk Placement 1",
    "xdm:channel": "https://ns.adobe.com/xdm/channels/web",
    "xdm:componentType": "https://ns.adobe.com/experience/offer-management/content-component-imagelink",
    "xdm:contentTypes": ["image/png", "image/png"],
    "xdm:description": "Generic placeholder",
}
RULE = {
    "xdm:name": "Eligible for a free flight upgrade",
    "xdm:condition": {"xdm:value": 'membership.status = "elite"', "xdm:format": "pql/text", "xdm:type": "PQL"},
}
FILTER = {"xdm:name": "All Upgrade offers", "xdm:filterType": "allTags", "ids": ["xcore:tag:1", "xcore:tag:2"]}
ACTIVITY = {
    "xdm:name": "Call center IVR Personalization",
    "xdm:startDate": "2019-03-01T05:59:59.999Z",
    "xdm:endDate": "2019-12-27T00:00:00.000Z",
    "xdm:status": "live",
    "xdm:placement": "xcore:offer-placement:f652486959731ff",
    "xdm:filter": "xcore:offer-filter:f6998eb62ed6f15",
    "xdm:fallback": "xcore:fallback-offer:f6529b31b3c0ba6",
}
FALLBACK = {
    "xdm:name": "Default for Kiosk Placements",
    "xdm:status": "approved",
    "xdm:representations": [
        {
            "xdm:placement": "xcore:offer-placement:e91afcf81bad130",
            "xdm:components": [
                {
                    "dc:language": ["en"],
                    "@type": "https://ns.adobe.com/experience/offer-management/content-component-html",
                    "dc:format": "text/html",
                }
            ],
        }
    ],
}
TAG = {"xdm:name": "credit card"}

CASES = [
    (PersonalizedOffer, OFFER),
    (Placement, PLACEMENT),
    (EligibilityRule, RULE),
    (OfferFilter, FILTER),
    (Activity, ACTIVITY),
    (FallbackOffer, FALLBACK),
    (Tag, TAG),
]


@pytest.mark.parametrize(("cls", "payload"), CASES)
def test_tutorial_payloads_round_trip_under_the_strict_converter(cls, payload) -> None:
    entity = strict_converter.structure(payload, cls)  # every key known, every enum value known
    assert entity.to_dict() == payload
    assert json.loads(json.dumps(entity.to_dict())) == payload


def test_typed_fields_and_irregular_names() -> None:
    offer = PersonalizedOffer.from_dict(OFFER)
    assert offer.xdm_status is OfferStatus.APPROVED
    image = offer.xdm_representations[0].xdm_components[0]  # type: ignore[index]
    assert image.at_type is ComponentType.IMAGELINK
    assert (image.repo_resolve_url, image.xdm_link_url) == ("https://assets/card.png", "https://bank/cards")
    assert image.offerui_preview_thumbnail == "https://assets/thumb.png"
    assert offer.xdm_selection_constraint == SelectionConstraint(
        xdm_start_date="2019-06-13T00:00:00.000Z",
        xdm_end_date="2019-07-13T00:00:00.000Z",
        xdm_eligibility_rule="xcore:eligibility-rule:f84c6b33cc63c65",
    )
    assert offer.xdm_capping_constraint == CappingConstraint(xdm_global_cap=1000000, xdm_profile_cap=5)
    assert offer.xdm_rank == Rank(xdm_priority=0)
    assert OfferFilter.from_dict(FILTER).xdm_filter_type is FilterType.ALL_TAGS
    assert Activity.from_dict(ACTIVITY).xdm_status is ActivityStatus.LIVE
    assert EligibilityRule.from_dict(RULE).xdm_condition == Condition(
        xdm_value='membership.status = "elite"', xdm_format="pql/text", xdm_type="PQL"
    )
    assert wire_names(OfferFilter)["ids"] == "ids"
    assert wire_names(Component)["repo_resolve_url"] == "repo:resolveURL"


def test_unknown_fields_survive_read_modify_write() -> None:
    payload = {**OFFER, "xdm:newThing": {"a": 1}}
    payload["xdm:representations"] = [{**OFFER["xdm:representations"][0], "xdm:channel": "web", "x:y": 2}]
    offer = PersonalizedOffer.from_dict(payload)
    offer.xdm_name = "renamed"
    out = offer.to_dict()
    assert out["xdm:newThing"] == {"a": 1}
    assert out["xdm:representations"][0]["x:y"] == 2
    assert out == {**payload, "xdm:name": "renamed"}


def test_none_fields_are_left_out_and_unknown_enum_values_kept() -> None:
    assert Tag(xdm_name="t").to_dict() == {"xdm:name": "t"}
    assert strict_converter.unstructure(Representation(xdm_placement="p")) == {"xdm:placement": "p"}
    assert PersonalizedOffer.from_dict({"xdm:status": "deleted"}).xdm_status == "deleted"
    with pytest.raises(ValidationError) as info:
        PersonalizedOffer.from_dict({"xdm:rank": {"xdm:priority": "high"}})
    assert info.value.field == "instance.xdm_rank.xdm_priority"


def test_mutable_defaults_are_not_shared() -> None:
    a, b = Tag(), Tag()
    a.extras["k"] = 1
    assert b.extras == {}
    assert PersonalizedOffer().xdm_tags is None


def test_schema_ids_and_entity_lookup() -> None:
    assert Schema.PERSONALIZED_OFFER == "https://ns.adobe.com/experience/offer-management/personalized-offer"
    assert Schema.PLACEMENT == "https://ns.adobe.com/experience/offer-management/offer-placement"
    assert Schema.ACTIVITY == "https://ns.adobe.com/experience/offer-management/offer-activity"
    assert Schema.OFFER_FILTER == "https://ns.adobe.com/experience/offer-management/offer-filter"
    assert Schema.CONTAINER == "https://ns.adobe.com/experience/xcore/container"
    assert str(Schema.TAG) == "https://ns.adobe.com/experience/offer-management/tag"
    assert entity_class(Schema.FALLBACK_OFFER + ";version=0.1") is FallbackOffer
    assert entity_class('"https://ns.adobe.com/experience/offer-management/eligibility-rule"') is EligibilityRule
    assert entity_class(Schema.CONTAINER) is None
    assert {s.value for s in OfferStatus} == {"draft", "approved", "archived"}
    assert {s.value for s in ActivityStatus} == {"draft", "live", "archived"}
    assert {s.value for s in FilterType} == {"offers", "anyTags", "allTags"}


def test_instance_typed_access() -> None:
    instance = Instance(instance_id="i", instance=dict(PLACEMENT), schemas=[Schema.PLACEMENT + ";version=0.4"])
    assert isinstance(instance.entity, Placement)
    assert instance.as_(Placement).xdm_content_types == ["image/png", "image/png"]
    assert Instance(instance_id="i", instance={}, schemas=["urn:other"]).entity is None
    with pytest.raises(ValidationError):
        Instance(instance_id="i", instance={"xdm:name": 3}).as_(Tag)


def test_envelope_wire_names() -> None:
    names = wire_names(Receipt)
    assert names["id"] == "@id" and names["etag"] == "repo:etag" and names["created_date"] == "repo:createdDate"
    assert wire_names(Instance)["instance"] == "_instance" and wire_names(Instance)["links"] == "_links"
    assert wire_names(Container)["product_contexts"] == "productContexts"
    page = Page(results=[Instance(instance_id="a", instance={})])
    assert len(page) == 1 and [i.instance_id for i in page] == ["a"]


_segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)


@given(ns=st.sampled_from(["xdm", "repo", "dc", "offerui"]), words=st.lists(_segment, min_size=1, max_size=4))
def test_naming_rule_round_trips(ns: str, words: list[str]) -> None:
    name = "_".join([ns, *words])
    assert python_name(json_key(name)) == name


ALL_MODELS = [
    Component,
    Representation,
    SelectionConstraint,
    CappingConstraint,
    Rank,
    Condition,
    *(cls for cls, _ in CASES),
]


@pytest.mark.parametrize("cls", ALL_MODELS)
def test_every_regular_field_name_round_trips(cls) -> None:
    overrides = getattr(cls, "__wire_names__", {})
    for field in attrs.fields(cls):
        if field.name == "extras" or field.name in overrides:
            continue
        key = json_key(field.name)
        assert ":" in key or key.startswith("@"), (cls, field.name, key)  # every entity key is namespaced
        assert python_name(key) == field.name
    assert attrs.fields(cls)[-1].name == "extras"
