"""Create, read, PUT, PATCH, media types and optimistic concurrency (repository.md B, D, E, I, J, K, L)."""

from __future__ import annotations

import asyncio
import re

import pytest

TAG_SCHEMA = "https://ns.adobe.com/experience/offer-management/tag"
RECEIPT_KEYS = {
    "instanceId",
    "@id",
    "repo:etag",
    "repo:createdDate",
    "repo:lastModifiedDate",
    "repo:createdBy",
    "repo:lastModifiedBy",
    "repo:createdByClientId",
    "repo:lastModifiedByClientId",
}


async def test_create_returns_a_receipt_location_content_base_and_etag(client, repo):
    r = await repo.post("tag", {"xdm:name": "credit card"})
    assert r.status_code == 201
    receipt = r.json()
    assert set(receipt) == RECEIPT_KEYS
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", receipt["instanceId"])
    assert re.fullmatch(r"xcore:tag:[0-9a-f]{16}", receipt["@id"])
    assert receipt["repo:etag"] == 1
    assert receipt["repo:createdDate"] == receipt["repo:lastModifiedDate"] == "2023-11-14T22:13:20.000Z"
    assert receipt["repo:createdByClientId"] == "test-key"
    assert r.headers["location"] == f"/{repo.cid}/instances/{receipt['instanceId']}"
    assert r.headers["content-base"] == "http://emu/data/core/xcore/"
    assert r.headers["etag"] == '"1"'
    # resolving Location against Content-Base (repository.md O1) reaches the instance
    url = r.headers["content-base"] + r.headers["location"].lstrip("/")
    got = await client.get(url, headers=repo.headers)
    assert got.status_code == 200 and got.json()["_instance"]["@id"] == receipt["@id"]


async def test_read_returns_the_full_envelope(repo):
    receipt = await repo.tag("t")
    r = await repo.get(receipt["instanceId"])
    assert r.status_code == 200
    assert r.headers["etag"] == '"1"'
    assert r.headers["content-type"] == f'{repo.HAL}; schema="{TAG_SCHEMA};version=0.1"'
    env = r.json()
    for key in RECEIPT_KEYS - {"@id"}:
        assert env[key] == receipt[key]
    assert env["schemas"] == [f"{TAG_SCHEMA};version=0.1"]
    assert env["sandboxName"] == "prod" and env["productContexts"] == ["dma_offers", "acp"]
    assert env["_instance"] == {"@id": receipt["@id"], "xdm:name": "t"}
    assert env["_links"]["self"] == {
        "name": f"{TAG_SCHEMA};version=0.1#{receipt['instanceId']}",
        "href": f"/{repo.cid}/instances/{receipt['instanceId']}",
        "@type": f"{TAG_SCHEMA};version=0.1",
    }


@pytest.mark.parametrize(
    "content_type",
    [
        f'application/vnd.adobe.platform.xcore.hal+json; schema="{TAG_SCHEMA}"',
        f"application/vnd.adobe.platform.xcore.hal+json;schema={TAG_SCHEMA}",
        f'APPLICATION/VND.ADOBE.PLATFORM.XCORE.HAL+JSON; Schema="{TAG_SCHEMA};version=0.1"',
        f"application/vnd.adobe.platform.xcore.hal+json; version=1; schema={TAG_SCHEMA};version=0.1",
        f'application/vnd.adobe.platform.xcore.hal+json; charset=utf-8; schema="{TAG_SCHEMA}"',
    ],
)
async def test_hal_media_type_parameters_are_parsed_leniently(client, repo, content_type):
    r = await client.post(
        repo.url("/instances"),
        content=b'{"_instance": {"xdm:name": "x"}, "_links": {}}',
        headers={**repo.headers, "Content-Type": content_type},
    )
    assert r.status_code == 201, r.text
    assert r.json()["@id"].startswith("xcore:tag:")


async def test_bare_instance_media_types(client, repo):
    r = await client.post(
        repo.url("/instances"),
        json={"xdm:name": "bare"},
        headers={**repo.headers, "Content-Type": f'application/schema-instance+json; version=1; schema="{TAG_SCHEMA}"'},
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        repo.url("/instances"),
        params={"schema": TAG_SCHEMA},
        json={"xdm:name": "plain json"},
        headers={**repo.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    names = sorted(i["_instance"]["xdm:name"] for i in (await repo.list("tag")).json()["_embedded"]["results"])
    assert names == ["bare", "plain json"]


@pytest.mark.parametrize(
    ("content_type", "body", "status", "needle"),
    [
        (None, b'{"_instance": {}, "_links": {}}', 415, "Content-Type"),
        ("text/plain", b'{"_instance": {}, "_links": {}}', 415, "text/plain"),
        ("application/vnd.adobe.platform.xcore.patch.hal+json", b"[]", 415, "patch.hal"),
        ("application/vnd.adobe.platform.xcore.hal+json", b'{"_instance": {}, "_links": {}}', 400, "schema"),
        (
            'application/vnd.adobe.platform.xcore.hal+json; schema="https://ns.adobe.com/experience/nope"',
            b'{"_instance": {}, "_links": {}}',
            400,
            "not registered",
        ),
        (f'{"application/vnd.adobe.platform.xcore.hal+json"}; schema="{TAG_SCHEMA}"', b"{nope", 400, "not valid JSON"),
        (f'application/vnd.adobe.platform.xcore.hal+json; schema="{TAG_SCHEMA}"', b"", 400, "empty"),
        (f'application/vnd.adobe.platform.xcore.hal+json; schema="{TAG_SCHEMA}"', b"\xff\xfe\x00", 400, "JSON"),
        (f'application/vnd.adobe.platform.xcore.hal+json; schema="{TAG_SCHEMA}"', b"[1]", 400, "object"),
        (f'application/vnd.adobe.platform.xcore.hal+json; schema="{TAG_SCHEMA}"', b'{"_links": {}}', 400, "_instance"),
        (
            f'application/vnd.adobe.platform.xcore.hal+json; schema="{TAG_SCHEMA}"',
            b'{"_instance": {"xdm:name": "a"}}',
            400,
            "_links",
        ),
        (
            f'application/vnd.adobe.platform.xcore.hal+json; schema="{TAG_SCHEMA}"',
            b'{"_instance": {"xdm:name": NaN}, "_links": {}}',
            400,
            "NaN",
        ),
        (
            f'application/vnd.adobe.platform.xcore.hal+json; schema="{TAG_SCHEMA}"',
            b'{"_instance": {"xdm:name": "t", "n": 1e999}, "_links": {}}',
            400,
            "out of range",
        ),
        (
            f'application/vnd.adobe.platform.xcore.hal+json; schema="{TAG_SCHEMA}"',
            b'{"_instance": {"xdm:name": "t", "n": ' + b"9" * 5000 + b'}, "_links": {}}',
            400,
            "JSON",
        ),
        (
            f'application/vnd.adobe.platform.xcore.hal+json; schema="{TAG_SCHEMA}"',
            b'{"_instance": ' * 5000 + b"1" + b"}" * 5000,
            400,
            "nested too deeply",
        ),
    ],
)
async def test_bad_create_requests(client, repo, content_type, body, status, needle):
    headers = dict(repo.headers)
    if content_type:
        headers["Content-Type"] = content_type
    r = await client.post(repo.url("/instances"), content=body, headers=headers)
    assert r.status_code == status, r.text
    err = r.json()
    assert err["status"] == status and needle in err["message"], err
    assert (await repo.list("tag")).json()["_embedded"]["total"] == 0


async def test_oversized_body_is_413(make_repo):
    async with make_repo(max_body_bytes=100) as repo:
        r = await repo.post("tag", {"xdm:name": "x" * 200})
        assert r.status_code == 413 and r.json()["status"] == 413


async def test_create_in_unknown_container_is_404(client, repo):
    r = await client.post(
        f"{repo.BASE}/nope/instances",
        json={"_instance": {"xdm:name": "t"}, "_links": {}},
        headers={**repo.headers, "Content-Type": repo.hal("tag")},
    )
    assert r.status_code == 404 and "nope" in r.json()["message"]


async def test_at_id_cannot_be_sent_on_create(repo):
    r = await repo.post("tag", {"@id": "xcore:tag:0123456789abcdef", "xdm:name": "t"})
    assert r.status_code == 422 and r.json()["property"] == "_instance.@id"


async def test_missing_instance_is_404_with_a_body(repo):
    r = await repo.get("00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404
    assert r.json()["status"] == 404 and "00000000" in r.json()["message"]


@pytest.mark.parametrize(
    ("header", "not_modified"),
    [('"1"', True), ("1", True), ('W/"1"', True), ('"0", "1"', True), ("*", True), ('"2"', False), ("W/2", False)],
)
async def test_if_none_match(repo, header, not_modified):
    receipt = await repo.tag("t")
    r = await repo.get(receipt["instanceId"], **{"If-None-Match": header})
    if not_modified:
        assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == '"1"'
    else:
        assert r.status_code == 200 and r.json()["repo:etag"] == 1


async def test_put_replaces_the_instance_and_bumps_the_etag(clock, repo):
    receipt = await repo.tag("old")
    iid = receipt["instanceId"]
    clock.advance(5)
    r = await repo.put("tag", iid, {"xdm:name": "new", "xdm:extra": "kept"}, **{"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["repo:etag"] == 2 and r.headers["etag"] == '"2"'
    assert r.json()["repo:lastModifiedDate"] == "2023-11-14T22:13:25.000Z"
    assert r.json()["repo:createdDate"] == receipt["repo:createdDate"]
    env = (await repo.get(iid)).json()
    assert env["_instance"] == {"@id": receipt["@id"], "xdm:name": "new", "xdm:extra": "kept"}
    # PUT that repeats the same @id is fine; a different one is 422; a stale If-Match is 409
    r = await repo.put("tag", iid, {"@id": receipt["@id"], "xdm:name": "again"})
    assert r.status_code == 200 and r.json()["repo:etag"] == 3
    r = await repo.put("tag", iid, {"@id": "xcore:tag:0000000000000000", "xdm:name": "again"})
    assert r.status_code == 422 and r.json()["property"] == "_instance.@id"
    r = await repo.put("tag", iid, {"xdm:name": "stale"}, **{"If-Match": '"1"'})
    assert r.status_code == 409 and r.json()["status"] == 409
    # a PUT under another schema is refused
    r = await repo.put("placement", iid, {"xdm:name": "p"})
    assert r.status_code == 400 and r.json()["property"] == "schema"
    r = await repo.put("tag", "00000000-0000-0000-0000-000000000000", {"xdm:name": "x"})
    assert r.status_code == 404
    assert (await repo.get(iid)).json()["repo:etag"] == 3


async def test_put_keeps_custom_links_and_the_self_link(client, repo):
    receipt = await repo.create("tag", {"xdm:name": "t"}, links={"related": {"href": "/x"}})
    env = (await repo.get(receipt["instanceId"])).json()
    assert env["_links"]["related"] == {"href": "/x"} and "self" in env["_links"]
    r = await client.put(
        repo.url(f"/instances/{receipt['instanceId']}"),
        json={"_instance": {"xdm:name": "t2"}, "_links": {"self": {"href": "/evil"}, "other": {"href": "/y"}}},
        headers={**repo.headers, "Content-Type": repo.hal("tag")},
    )
    assert r.status_code == 200
    links = (await repo.get(receipt["instanceId"])).json()["_links"]
    assert links["self"]["href"] == env["_links"]["self"]["href"] and links["other"] == {"href": "/y"}
    assert "related" not in links


async def test_patch_applies_rfc6902_over_the_hal_document(repo):
    placement = await repo.placement()
    offer = await repo.offer("Card", placement["@id"])
    iid = offer["instanceId"]
    tag = await repo.tag("credit card")
    ops = [
        {"op": "test", "path": "/repo:etag", "value": 1},
        {"op": "replace", "path": "/_instance/xdm:status", "value": "draft"},
        {"op": "add", "path": "/_instance/xdm:tags", "value": []},
        {"op": "add", "path": "/_instance/xdm:tags/-", "value": tag["@id"]},
        {"op": "add", "path": "/_instance/xdm:cappingConstraint", "value": {"xdm:globalCap": 10, "xdm:profileCap": 2}},
        {"op": "remove", "path": "/_instance/xdm:cappingConstraint/xdm:profileCap"},
        {"op": "add", "path": "/_links/about", "value": {"href": "/about"}},
    ]
    r = await repo.patch(iid, ops, **{"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["repo:etag"] == 2
    env = (await repo.get(iid)).json()
    inst = env["_instance"]
    assert inst["xdm:status"] == "draft" and inst["xdm:tags"] == [tag["@id"]]
    assert inst["xdm:cappingConstraint"] == {"xdm:globalCap": 10}
    assert env["_links"]["about"] == {"href": "/about"}
    # the schema parameter is optional but must match when given
    r = await repo.patch(iid, [], **{"Content-Type": f'{repo.PATCH}; schema="{repo.SCHEMAS["offer"]};version=0.5"'})
    assert r.status_code == 200 and r.json()["repo:etag"] == 3
    r = await repo.patch(iid, [], **{"Content-Type": f'{repo.PATCH}; schema="{repo.SCHEMAS["tag"]}"'})
    assert r.status_code == 400 and r.json()["property"] == "schema"
    r = await repo.patch(iid, [], **{"Content-Type": "application/json-patch+json"})
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("ops", "status", "needle"),
    [
        ({"op": "add"}, 400, "array"),
        ([{"op": "frobnicate", "path": "/x"}], 400, "op"),
        ([{"op": "add", "path": "/_instance/xdm:name"}], 400, "value"),
        ([{"op": "add", "path": "_instance", "value": 1}], 400, "Pointer"),
        ([{"op": "move", "path": "/_instance/a"}], 400, "from"),
        ([{"op": "replace", "path": "/_instance/xdm:rank/xdm:priority", "value": 1}], 422, "does not exist"),
        ([{"op": "add", "path": "/_instance/xdm:tags/-", "value": "xcore:tag:1"}], 422, "does not exist"),
        ([{"op": "test", "path": "/_instance/xdm:name", "value": "other"}], 422, "test failed"),
        ([{"op": "remove", "path": "/_instance/@id"}], 422, "_instance.@id"),
        ([{"op": "replace", "path": "/_instance/@id", "value": "xcore:tag:0"}], 422, "_instance.@id"),
        ([{"op": "replace", "path": "/repo:etag", "value": 7}], 422, "repo:etag"),
        ([{"op": "remove", "path": "/instanceId"}], 422, "instanceId"),
        ([{"op": "add", "path": "/extra", "value": 1}], 422, "extra"),
        ([{"op": "replace", "path": "/_links/self/href", "value": "/x"}], 422, "_links.self"),
        ([{"op": "replace", "path": "/_instance", "value": []}], 422, "_instance"),
        ([{"op": "replace", "path": "", "value": 1}], 422, "object"),
        ([{"op": "replace", "path": "/_instance/xdm:name", "value": 5}], 422, "_instance.xdm:name"),
    ],
)
async def test_bad_patches(repo, ops, status, needle):
    receipt = await repo.tag("t")
    r = await repo.patch(receipt["instanceId"], ops)
    assert r.status_code == status, r.text
    assert needle in r.json()["message"]
    env = (await repo.get(receipt["instanceId"])).json()
    assert env["repo:etag"] == 1 and env["_instance"]["xdm:name"] == "t"


async def test_patch_content_type_and_body_errors(client, repo):
    receipt = await repo.tag("t")
    url = repo.url(f"/instances/{receipt['instanceId']}")
    r = await client.patch(url, content=b"[]", headers={**repo.headers, "Content-Type": repo.hal("tag")})
    assert r.status_code == 415
    r = await client.patch(url, content=b"[]", headers=repo.headers)
    assert r.status_code == 415
    r = await client.patch(url, content=b"[{", headers={**repo.headers, "Content-Type": repo.PATCH})
    assert r.status_code == 400
    r = await repo.patch("00000000-0000-0000-0000-000000000000", [])
    assert r.status_code == 404


async def test_patch_result_is_validated_like_put(repo):
    placement = await repo.placement()
    offer = await repo.offer("Card", placement["@id"])
    r = await repo.patch(
        offer["instanceId"], [{"op": "add", "path": "/_instance/xdm:cappingConstraint", "value": {"xdm:globalCap": 0}}]
    )
    assert r.status_code == 422
    assert r.json()["message"] == "_instance.xdm:cappingConstraint.xdm:globalCap must be an integer >= 1"
    r = await repo.patch(offer["instanceId"], [{"op": "add", "path": "/_instance/xdm:tags", "value": ["xcore:tag:00"]}])
    assert r.status_code == 422 and r.json()["property"] == "_instance.xdm:tags[0]"


@pytest.mark.parametrize("header", ['"1"', "1", 'W/"1"', '"7", "1"', "*"])
async def test_if_match_forms_are_accepted(repo, header):
    receipt = await repo.tag("t")
    r = await repo.patch(
        receipt["instanceId"], [{"op": "replace", "path": "/_instance/xdm:name", "value": "u"}], **{"If-Match": header}
    )
    assert r.status_code == 200, r.text


async def test_stale_if_match_is_409_and_writes_nothing(repo):
    receipt = await repo.tag("t")
    ok = await repo.patch(receipt["instanceId"], [{"op": "replace", "path": "/_instance/xdm:name", "value": "u"}])
    assert ok.json()["repo:etag"] == 2
    r = await repo.patch(
        receipt["instanceId"], [{"op": "replace", "path": "/_instance/xdm:name", "value": "v"}], **{"If-Match": '"1"'}
    )
    assert r.status_code == 409 and r.json()["repo:etag"] == 2
    assert (await repo.get(receipt["instanceId"])).json()["_instance"]["xdm:name"] == "u"


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_fifty_concurrent_conditional_writers_exactly_one_wins(repo, method):
    receipt = await repo.tag("t")
    iid = receipt["instanceId"]

    async def writer(n: int) -> int:
        if method == "PATCH":
            r = await repo.patch(
                iid, [{"op": "replace", "path": "/_instance/xdm:name", "value": f"w{n}"}], **{"If-Match": '"1"'}
            )
        else:
            r = await repo.put("tag", iid, {"xdm:name": f"w{n}"}, **{"If-Match": '"1"'})
        return int(r.status_code)

    statuses = await asyncio.gather(*(writer(n) for n in range(50)))
    assert sorted(statuses) == [200] + [409] * 49
    env = (await repo.get(iid)).json()
    assert env["repo:etag"] == 2 and env["_instance"]["xdm:name"].startswith("w")


async def test_each_write_increments_the_etag(repo):
    receipt = await repo.tag("t")
    for n in range(2, 6):
        r = await repo.patch(
            receipt["instanceId"], [{"op": "replace", "path": "/_instance/xdm:name", "value": f"n{n}"}]
        )
        assert r.json()["repo:etag"] == n and r.headers["etag"] == f'"{n}"'
    assert (await repo.get(receipt["instanceId"], **{"If-None-Match": '"5"'})).status_code == 304


async def test_a_file_database_persists_across_apps_and_lifespans(tmp_path, repo_class):
    import httpx

    from target_async.emulator import create_app

    db = tmp_path / "emu.db"
    app = create_app(db_path=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emu") as c:
        repo = await repo_class(c).init()
        receipt = await repo.tag("persisted")
        # a lifespan shutdown closes the file; the next request reopens it
        async with app.router.lifespan_context(app):
            pass
        assert (await repo.get(receipt["instanceId"])).status_code == 200
    app.state.emulator.close()
    again = create_app(db_path=str(db))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=again), base_url="http://emu") as c:
        repo2 = await repo_class(c).init()
        assert repo2.cid == repo.cid
        env = (await repo2.get(receipt["instanceId"])).json()
        assert env["_instance"]["xdm:name"] == "persisted"
        assert (await repo2.post("tag", {"xdm:name": "persisted"})).status_code == 422  # still unique
    again.state.emulator.close()
