"""Identity headers, tenancy, the repository root and containers (repository.md A, C)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("drop", "replace", "status", "prop"),
    [
        ("Authorization", None, 401, "Authorization"),
        (None, ("Authorization", "Bearer "), 401, "Authorization"),
        (None, ("Authorization", "Basic abc"), 401, "Authorization"),
        ("x-api-key", None, 403, "x-api-key"),
        ("x-gw-ims-org-id", None, 403, "x-gw-ims-org-id"),
        ("x-sandbox-name", None, 400, "x-sandbox-name"),
    ],
)
async def test_identity_headers_are_required(client, repo, drop, replace, status, prop):
    headers = dict(repo.HEADERS)
    if drop:
        del headers[drop]
    if replace:
        headers[replace[0]] = replace[1]
    for method, path in [
        ("GET", repo.BASE + "/"),
        ("GET", repo.url("/instances?schema=" + repo.SCHEMAS["tag"])),
        ("POST", repo.url("/instances")),
        ("DELETE", repo.url("/instances/x")),
    ]:
        r = await client.request(method, path, headers=headers)
        assert r.status_code == status, (method, path, r.text)
        body = r.json()
        assert body["status"] == status
        assert body["property"] == prop
        assert prop in body["message"] and body["detail"] == body["message"]
        assert body["type"] and body["title"]
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")


async def test_request_id_is_echoed_or_generated(client, repo):
    r = await client.get(repo.BASE + "/", headers={**repo.HEADERS, "x-request-id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await client.get(repo.BASE + "/", headers=repo.HEADERS)
    assert len(r.headers["x-request-id"]) == 36
    r = await client.get(repo.BASE + "/", headers={"x-request-id": "err-1"})
    assert r.status_code == 401 and r.headers["x-request-id"] == "err-1" and r.json()["requestId"] == "err-1"


async def test_first_request_of_a_tenant_finds_the_default_container(client, repo):
    r = await client.get(repo.BASE + "/", headers=repo.HEADERS)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.adobe.platform.xcore.home.hal+json")
    body = r.json()
    assert body["_links"]["self"]["href"] == "/"
    (container,) = body["_embedded"][repo.CONTAINER]
    assert container["productContexts"] == ["dma_offers", "acp"]
    assert container["schemas"][0].startswith(repo.CONTAINER + ";version=")
    assert container["_links"]["self"]["href"] == f"/containers/{container['instanceId']}"
    for key in ("repo:etag", "repo:createdDate", "repo:lastModifiedDate", "repo:createdBy", "repo:createdByClientId"):
        assert key in container
    assert container["_instance"]["containerType"] == "decisioning"
    # no trailing slash works too, and the container is stable
    r2 = await client.get(repo.BASE, headers=repo.HEADERS)
    assert r2.json()["_embedded"][repo.CONTAINER][0]["instanceId"] == container["instanceId"]
    r3 = await client.get(f"{repo.BASE}/containers/{container['instanceId']}", headers=repo.HEADERS)
    assert r3.status_code == 200 and r3.json()["instanceId"] == container["instanceId"]


async def test_data_is_partitioned_by_org_and_sandbox(client, repo):
    tag = await repo.tag("shared-name")
    other_sandbox = await repo.__class__(client, {**repo.HEADERS, "x-sandbox-name": "dev"}).init()
    other_org = await repo.__class__(client, {**repo.HEADERS, "x-gw-ims-org-id": "other@AdobeOrg"}).init()
    assert len({repo.cid, other_sandbox.cid, other_org.cid}) == 3
    for other in (other_sandbox, other_org):
        # the same tag name is free elsewhere, and nothing leaks
        assert (await other.list("tag")).json()["_embedded"]["total"] == 0
        await other.tag("shared-name")
        r = await client.get(f"{repo.BASE}/{other.cid}/instances/{tag['instanceId']}", headers=other.headers)
        assert r.status_code == 404
        # another tenant's container is invisible
        r = await client.get(f"{repo.BASE}/{repo.cid}/instances/{tag['instanceId']}", headers=other.headers)
        assert r.status_code == 404 and "container" in r.json()["message"]
        # references cannot cross tenants
        r = await other.post("filter", {"xdm:name": "f", "xdm:filterType": "anyTags", "ids": [tag["@id"]]})
        assert r.status_code == 422 and "_instance.ids[0]" in r.json()["message"]
    assert (await repo.list("tag")).json()["_embedded"]["total"] == 1


async def test_product_filter_is_a_union_and_property_filters_containers(client, repo):
    for products, ctype in ((["acp"], "decisioning"), (["other"], "other-type")):
        r = await client.post(
            "/_emulator/containers",
            json={"org": repo.ORG, "sandbox": "prod", "productContexts": products, "containerType": ctype},
        )
        assert r.status_code == 201, r.text

    async def ids(*params: tuple[str, str]) -> int:
        r = await client.get(repo.BASE + "/", params=list(params), headers=repo.HEADERS)
        assert r.status_code == 200, r.text
        return len(r.json()["_embedded"][repo.CONTAINER])

    assert await ids() == 3
    assert await ids(("product", "dma_offers")) == 1
    assert await ids(("product", "acp")) == 2
    assert await ids(("product", "dma_offers"), ("product", "acp")) == 2
    assert await ids(("product", "acp"), ("product", "other")) == 3
    assert await ids(("product", "nope")) == 0
    assert await ids(("property", "_instance.containerType==decisioning")) == 2
    assert await ids(("product", "acp"), ("property", "_instance.containerType!=decisioning")) == 0
    r = await client.get(repo.BASE + "/", params={"property": "==x"}, headers=repo.HEADERS)
    assert r.status_code == 400


async def test_unknown_routes_and_methods_answer_json(client, repo):
    r = await client.get(repo.BASE + "/a/b/c/d", headers=repo.HEADERS)
    assert r.status_code == 404 and r.json()["status"] == 404
    r = await client.post(repo.BASE + "/", headers=repo.HEADERS)
    assert r.status_code == 405 and r.json()["status"] == 405
    r = await client.get("/rest/v1/delivery")
    assert r.status_code == 405 and r.json() == {"status": 405, "message": r.json()["message"]}


async def test_admin_health_and_reset(client, repo):
    r = await client.get("/_emulator/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    tag = await repo.tag("t")
    r = await client.post("/_emulator/reset", json={})
    assert r.status_code == 200
    fresh = await repo.__class__(client).init()
    assert fresh.cid == repo.cid  # the default container id is deterministic
    assert (await fresh.get(tag["instanceId"])).status_code == 404
    assert (await fresh.list("tag")).json()["_embedded"]["total"] == 0


async def test_admin_config(client, repo):
    r = await client.post("/_emulator/config", json={"deleteMode": "immediate", "defaultLimit": 2})
    assert r.status_code == 200 and r.json()["deleteMode"] == "immediate"
    t = await repo.tag("t")
    assert (await repo.delete(t["instanceId"])).status_code == 200
    for bad in ({"deleteMode": "later"}, {"defaultLimit": 0}, {"nope": 1}, [1]):
        r = await client.post("/_emulator/config", json=bad)
        assert r.status_code == 400, bad
    assert (await client.get("/_emulator/config")).json()["defaultLimit"] == 2
