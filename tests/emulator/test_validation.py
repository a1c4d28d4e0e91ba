"""Validation of the seven business objects and referential integrity (repository.md §2, N, K)."""

from __future__ import annotations

import pytest

DATE = "2019-06-13T11:21:23.356Z"
HTML = "https://ns.adobe.com/experience/offer-management/content-component-html"


@pytest.mark.parametrize(
    ("kind", "instance", "prop", "message"),
    [
        # personalized offer
        ("offer", {}, "_instance.xdm:name", "_instance.xdm:name is required"),
        ("offer", {"xdm:name": ""}, "_instance.xdm:name", "must be a non-empty string"),
        ("offer", {"xdm:name": 3}, "_instance.xdm:name", "must be a string, not a number"),
        ("offer", {"xdm:name": "o", "xdm:status": "live"}, "_instance.xdm:status", "draft, approved, archived"),
        ("offer", {"xdm:name": "o", "xdm:characteristics": {"k": 1}}, "_instance.xdm:characteristics.k", "string"),
        ("offer", {"xdm:name": "o", "xdm:characteristics": []}, "_instance.xdm:characteristics", "object"),
        ("offer", {"xdm:name": "o", "xdm:representations": {}}, "_instance.xdm:representations", "array"),
        (
            "offer",
            {"xdm:name": "o", "xdm:representations": [{}]},
            "_instance.xdm:representations[0].xdm:placement",
            "required",
        ),
        (
            "offer",
            {"xdm:name": "o", "xdm:representations": [{"xdm:placement": "p", "xdm:components": [{"dc:format": 1}]}]},
            "_instance.xdm:representations[0].xdm:components[0].dc:format",
            "string",
        ),
        (
            "offer",
            {
                "xdm:name": "o",
                "xdm:representations": [{"xdm:placement": "p", "xdm:components": [{"dc:language": [1]}]}],
            },
            "_instance.xdm:representations[0].xdm:components[0].dc:language[0]",
            "string",
        ),
        ("offer", {"xdm:name": "o", "xdm:tags": "t"}, "_instance.xdm:tags", "array of strings"),
        (
            "offer",
            {"xdm:name": "o", "xdm:selectionConstraint": {"xdm:startDate": "yesterday"}},
            "_instance.xdm:selectionConstraint.xdm:startDate",
            "RFC 3339",
        ),
        (
            "offer",
            {"xdm:name": "o", "xdm:selectionConstraint": {"xdm:endDate": "2019-06-13T11:21:23"}},
            "_instance.xdm:selectionConstraint.xdm:endDate",
            "RFC 3339",
        ),
        (
            "offer",
            {"xdm:name": "o", "xdm:cappingConstraint": {"xdm:globalCap": 0}},
            "_instance.xdm:cappingConstraint.xdm:globalCap",
            "_instance.xdm:cappingConstraint.xdm:globalCap must be an integer >= 1",
        ),
        (
            "offer",
            {"xdm:name": "o", "xdm:cappingConstraint": {"xdm:profileCap": 1.5}},
            "_instance.xdm:cappingConstraint.xdm:profileCap",
            "integer >= 1",
        ),
        (
            "offer",
            {"xdm:name": "o", "xdm:cappingConstraint": {"xdm:profileCap": True}},
            "_instance.xdm:cappingConstraint.xdm:profileCap",
            "integer >= 1",
        ),
        (
            "offer",
            {"xdm:name": "o", "xdm:rank": {"xdm:priority": -1}},
            "_instance.xdm:rank.xdm:priority",
            "integer >= 0",
        ),
        (
            "offer",
            {"xdm:name": "o", "xdm:rank": {"xdm:priority": "1"}},
            "_instance.xdm:rank.xdm:priority",
            "integer >= 0",
        ),
        # fallback offer
        ("fallback", {"xdm:name": "f", "xdm:rank": {"xdm:priority": 1}}, "_instance.xdm:rank", "fallback"),
        ("fallback", {"xdm:name": "f", "xdm:cappingConstraint": {}}, "_instance.xdm:cappingConstraint", "fallback"),
        ("fallback", {"xdm:name": "f", "xdm:selectionConstraint": {}}, "_instance.xdm:selectionConstraint", "fallback"),
        ("fallback", {"xdm:name": "f", "xdm:status": "live"}, "_instance.xdm:status", "approved"),
        # placement
        ("placement", {"xdm:name": "p", "xdm:contentTypes": "image/png"}, "_instance.xdm:contentTypes", "array"),
        ("placement", {"xdm:name": "p", "xdm:channel": 1}, "_instance.xdm:channel", "string"),
        ("placement", {}, "_instance.xdm:name", "required"),
        # eligibility rule
        ("rule", {"xdm:name": "r", "xdm:condition": "true"}, "_instance.xdm:condition", "object"),
        ("rule", {"xdm:name": "r", "xdm:condition": {"xdm:value": 1}}, "_instance.xdm:condition.xdm:value", "string"),
        # tag
        ("tag", {"xdm:name": None}, "_instance.xdm:name", "null"),
        # offer filter
        ("filter", {"xdm:name": "f"}, "_instance.xdm:filterType", "required"),
        (
            "filter",
            {"xdm:name": "f", "xdm:filterType": "someTags"},
            "_instance.xdm:filterType",
            "offers, anyTags, allTags",
        ),
        ("filter", {"xdm:name": "f", "xdm:filterType": "offers", "ids": [1]}, "_instance.ids[0]", "string"),
        # activity
        ("activity", {"xdm:name": "a"}, "_instance.xdm:placement", "required"),
        (
            "activity",
            {"xdm:name": "a", "xdm:placement": "p", "xdm:filter": "f", "xdm:fallback": "b", "xdm:status": "approved"},
            "_instance.xdm:status",
            "draft, live, archived",
        ),
        (
            "activity",
            {"xdm:name": "a", "xdm:placement": "p", "xdm:filter": "f", "xdm:fallback": "b", "xdm:startDate": "x"},
            "_instance.xdm:startDate",
            "RFC 3339",
        ),
        ("activity", {"xdm:placement": "p", "xdm:filter": "f", "xdm:fallback": "b"}, "_instance.xdm:name", "required"),
        ("activity", {"xdm:name": "a", "xdm:placement": "p", "xdm:filter": "f"}, "_instance.xdm:fallback", "required"),
    ],
)
async def test_schema_violations_are_422_naming_the_property(repo, kind, instance, prop, message):
    r = await repo.post(kind, instance)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["property"] == prop
    assert prop in body["message"] and message in body["message"], body["message"]
    assert body["detail"] == body["message"]
    assert (await repo.list(kind)).json()["_embedded"]["total"] == 0


async def test_valid_tutorial_examples_are_accepted(repo):
    placement = await repo.create(
        "placement",
        {
            "xdm:name": "Kiosk Placement 1",
            "xdm:channel": "https://ns.adobe.com/xdm/channels/web",
            "xdm:componentType": "https://ns.adobe.com/experience/offer-management/content-component-imagelink",
            "xdm:contentTypes": ["image/png", "image/png"],
            "xdm:description": "Generic placeholder",
        },
    )
    rule = await repo.rule()
    tags = [await repo.tag("credit card"), await repo.tag("upgrade")]
    offer = await repo.create(
        "offer",
        {
            "xdm:name": "ABC Bank Credit Card",
            "xdm:status": "draft",
            "xdm:characteristics": {"color": "blue"},
            "xdm:representations": [
                {
                    "xdm:placement": placement["@id"],
                    "xdm:channel": "https://ns.adobe.com/xdm/channel-types/web",
                    "xdm:components": [
                        {
                            "@type": "https://ns.adobe.com/experience/offer-management/content-component-text",
                            "dc:format": "text/plain",
                            "dc:language": "en",
                            "xdm:copyline": "Get what you want!",
                            "offerui:previewThumbnail": {"anything": True},
                        }
                    ],
                }
            ],
            "xdm:selectionConstraint": {
                "xdm:startDate": DATE,
                "xdm:endDate": "2019-07-13T11:00:00+02:00",
                "xdm:eligibilityRule": rule["@id"],
            },
            "xdm:cappingConstraint": {"xdm:globalCap": 1000000, "xdm:profileCap": 5},
            "xdm:rank": {"xdm:priority": 0},
            "xdm:tags": [t["@id"] for t in tags],
            "xdm:somethingNew": {"kept": True},
        },
    )
    fallback = await repo.fallback("Default", placement["@id"])
    by_offers = await repo.offer_filter("All upgrade offers", [offer["@id"]])
    await repo.offer_filter("Tagged", [t["@id"] for t in tags], "allTags")
    activity = await repo.create(
        "activity",
        {
            "xdm:name": "Call center IVR Personalization",
            "xdm:startDate": "2019-03-01T05:59:59.999Z",
            "xdm:endDate": "2019-12-27T00:00:00.000Z",
            "xdm:status": "live",
            "xdm:placement": placement["@id"],
            "xdm:filter": by_offers["@id"],
            "xdm:fallback": fallback["@id"],
        },
    )
    assert activity["@id"].startswith("xcore:offer-activity:")
    env = (await repo.get(offer["instanceId"])).json()
    assert env["_instance"]["xdm:somethingNew"] == {"kept": True}


async def test_references_must_exist_and_have_the_right_schema(repo):
    placement = await repo.placement()
    tag = await repo.tag("t")
    rule = await repo.rule()
    missing_placement = "xcore:offer-placement:0000000000000000"
    cases = [
        (
            "offer",
            {"xdm:name": "o", "xdm:representations": [repo.representation(missing_placement)]},
            "_instance.xdm:representations[0].xdm:placement",
            "does not exist",
        ),
        (
            "offer",
            {"xdm:name": "o", "xdm:representations": [repo.representation(tag["@id"])]},
            "_instance.xdm:representations[0].xdm:placement",
            "is a tag, not an offer-placement",
        ),
        ("offer", {"xdm:name": "o", "xdm:tags": [tag["@id"], placement["@id"]]}, "_instance.xdm:tags[1]", "not a tag"),
        (
            "offer",
            {"xdm:name": "o", "xdm:selectionConstraint": {"xdm:eligibilityRule": tag["@id"]}},
            "_instance.xdm:selectionConstraint.xdm:eligibilityRule",
            "not an eligibility-rule",
        ),
        ("fallback", {"xdm:name": "f", "xdm:tags": ["xcore:tag:1"]}, "_instance.xdm:tags[0]", "does not exist"),
        (
            "filter",
            {"xdm:name": "f", "xdm:filterType": "offers", "ids": [tag["@id"]]},
            "_instance.ids[0]",
            "not a personalized-offer",
        ),
        (
            "filter",
            {"xdm:name": "f", "xdm:filterType": "anyTags", "ids": [tag["@id"], rule["@id"]]},
            "_instance.ids[1]",
            "not a tag",
        ),
    ]
    for kind, inst, prop, needle in cases:
        r = await repo.post(kind, inst)
        assert r.status_code == 422, (kind, r.text)
        assert r.json()["property"] == prop and needle in r.json()["message"], r.json()["message"]


async def test_representations_need_distinct_placements(repo):
    placement = await repo.placement()
    r = await repo.post(
        "offer",
        {
            "xdm:name": "o",
            "xdm:representations": [repo.representation(placement["@id"]), repo.representation(placement["@id"])],
        },
    )
    assert r.status_code == 422 and r.json()["property"] == "_instance.xdm:representations[1].xdm:placement"


async def test_activity_references_and_fallback_placement_rule(repo):
    web = await repo.placement("web")
    email = await repo.placement("email")
    offer = await repo.offer("o", web["@id"])
    flt = await repo.offer_filter("f", [offer["@id"]])
    fb_web = await repo.fallback("fb web", web["@id"])
    fb_email = await repo.fallback("fb email", email["@id"])
    base = {"xdm:name": "a", "xdm:placement": web["@id"], "xdm:filter": flt["@id"], "xdm:fallback": fb_web["@id"]}
    assert (await repo.post("activity", base)).status_code == 201
    cases = [
        ({"xdm:placement": offer["@id"]}, "_instance.xdm:placement", "not an offer-placement"),
        ({"xdm:filter": web["@id"]}, "_instance.xdm:filter", "not an offer-filter"),
        ({"xdm:fallback": offer["@id"]}, "_instance.xdm:fallback", "not a fallback-offer"),
        ({"xdm:fallback": "xcore:fallback-offer:00"}, "_instance.xdm:fallback", "does not exist"),
        ({"xdm:fallback": fb_email["@id"]}, "_instance.xdm:fallback", "no representation for the activity's placement"),
    ]
    for change, prop, needle in cases:
        r = await repo.post("activity", {**base, **change})
        assert r.status_code == 422, r.text
        assert r.json()["property"] == prop and needle in r.json()["message"]


async def test_deleted_references_are_refused(make_repo):
    async with make_repo(delete_mode="immediate") as repo:
        placement = await repo.placement()
        assert (await repo.delete(placement["instanceId"])).status_code == 200
        r = await repo.post("offer", {"xdm:name": "o", "xdm:representations": [repo.representation(placement["@id"])]})
        assert r.status_code == 422 and "does not exist" in r.json()["message"]


async def test_tag_names_are_unique(repo):
    first = await repo.tag("credit card")
    r = await repo.post("tag", {"xdm:name": "credit card"})
    assert r.status_code == 422 and r.json()["property"] == "_instance.xdm:name" and "unique" in r.json()["message"]
    assert (await repo.post("tag", {"xdm:name": "Credit Card"})).status_code == 201  # case-sensitive
    second = await repo.tag("debit card")
    r = await repo.patch(
        second["instanceId"], [{"op": "replace", "path": "/_instance/xdm:name", "value": "credit card"}]
    )
    assert r.status_code == 422
    # re-saving a tag under its own name is fine
    r = await repo.put("tag", first["instanceId"], {"xdm:name": "credit card"})
    assert r.status_code == 200
    # offers may share names
    placement = await repo.placement()
    await repo.offer("same", placement["@id"])
    await repo.offer("same", placement["@id"])
