"""The ``POST /rest/v1/delivery`` route: parsing, errors, the RepositoryView handed to the engine, fixtures."""

from __future__ import annotations

import json
from typing import Any

import httpx

from target_async.emulator import create_app

ORG = "acme@AdobeOrg"
URL = f"/rest/v1/delivery?imsOrgId={ORG}&sessionId=s1"
FIXTURES = {
    "mboxes": {
        "hero": {
            "experiences": [{"name": "A", "weight": 100, "options": [{"type": "json", "content": {"color": "red"}}]}]
        }
    }
}


class RecordingEngine:
    """A DeliveryHandler double that reports what the route gave it."""

    def __init__(self, status: int = 200, fail: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self.status = status
        self.fail = fail

    def handle(self, body: Any, query: Any, repository: Any, *, host: str) -> tuple[int, dict[str, Any]]:
        if self.fail:
            raise RuntimeError("boom")
        seen = {
            key: repository.instances(schema)
            for key, schema in (
                ("offers", "https://ns.adobe.com/experience/offer-management/personalized-offer"),
                ("activities", "https://ns.adobe.com/experience/offer-management/offer-activity;version=0.5"),
            )
        }
        self.calls.append({"body": body, "query": dict(query), "host": host, "seen": seen})
        return self.status, {"status": self.status, "echo": body}


async def _client(engine: Any, **kw: Any) -> httpx.AsyncClient:
    app = create_app(delivery_engine=engine, **kw)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emu")


async def test_bad_json_is_a_delivery_style_400(client):
    for content in (b"{nope", b"", b"\xff", b"[" * 100000):
        r = await client.post(URL, content=content, headers={"x-request-id": "r1", "content-type": "application/json"})
        assert r.status_code == 400, content[:10]
        assert set(r.json()) == {"status", "message"} and r.json()["status"] == 400
        assert r.headers["x-request-id"] == "r1"


async def test_oversized_delivery_body_is_413():
    async with await _client(RecordingEngine(), max_body_bytes=50) as c:
        r = await c.post(URL, json={"x": "y" * 100})
        assert r.status_code == 413 and set(r.json()) == {"status", "message"}


async def test_the_engine_gets_body_query_host_and_the_prod_sandbox_view(make_client, repo_class):
    engine = RecordingEngine()
    async with make_client(delivery_engine=engine) as c:
        repo = await repo_class(c).init()  # acme / prod
        placement = await repo.placement()
        offer = await repo.offer("in prod", placement["@id"])
        gone = await repo.offer("deleted", placement["@id"])
        # a second container of the same sandbox counts too
        r = await c.post("/_emulator/containers", json={"org": ORG, "sandbox": "prod", "productContexts": ["acp"]})
        second = repo_class(c)
        second.cid = r.json()["instanceId"]
        other_container_offer = await second.offer("second container", placement["@id"])
        # other sandboxes and organizations do not
        dev = await repo_class(c, {**repo.headers, "x-sandbox-name": "dev"}).init()
        await dev.offer("in dev", (await dev.placement())["@id"])
        other = await repo_class(c, {**repo.headers, "x-gw-ims-org-id": "other@AdobeOrg"}).init()
        await other.offer("other org", (await other.placement())["@id"])
        # a confirmed delete removes the instance from the view
        loc = (await repo.delete(gone["instanceId"])).headers["location"]
        await repo.follow(loc)
        assert (await repo.follow(loc)).json()["outcome"] == "confirmed"

        r = await c.post(URL + "&version=2", json={"a": 1}, headers={"x-request-id": "rid-7"})
        assert r.status_code == 200 and r.json() == {"status": 200, "echo": {"a": 1}}
        assert r.headers["x-request-id"] == "rid-7"
        (call,) = engine.calls
        assert call["query"] == {"imsOrgId": ORG, "sessionId": "s1", "version": "2"}
        assert call["host"] == "emu"
        offers = call["seen"]["offers"]
        assert sorted(o["xdm:name"] for o in offers) == ["in prod", "second container"]
        assert {o["@id"] for o in offers} == {offer["@id"], other_container_offer["@id"]}
        assert all("_links" not in o and "repo:etag" not in o for o in offers)  # the bare _instance dicts
        assert call["seen"]["activities"] == []


async def test_unknown_org_sees_an_empty_repository_and_creates_no_tenant():
    engine = RecordingEngine()
    app = create_app(delivery_engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emu") as c:
        r = await c.post("/rest/v1/delivery?imsOrgId=nobody@AdobeOrg&sessionId=s", json={})
        assert r.status_code == 200
        assert engine.calls[0]["seen"] == {"offers": [], "activities": []}
        r = await c.post("/rest/v1/delivery?sessionId=s", json={})
        assert r.status_code == 200 and engine.calls[1]["seen"]["offers"] == []
        store = app.state.emulator.store
        assert store.tenant_id("nobody@AdobeOrg", "prod") is None


async def test_engine_status_204_and_failures():
    async with await _client(RecordingEngine(status=204)) as c:
        r = await c.post(URL, json={})
        assert r.status_code == 204 and r.content == b""
    async with await _client(RecordingEngine(fail=True)) as c:
        r = await c.post(URL, json={})
        assert r.status_code == 500 and set(r.json()) == {"status", "message"}


async def test_real_engine_with_fixtures_dict_and_file(tmp_path):
    path = tmp_path / "fixtures.json"
    path.write_text(json.dumps(FIXTURES), encoding="utf-8")
    for fixtures in (FIXTURES, str(path), path):
        app = create_app(fixtures=fixtures, seed=1)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emu") as c:
            r = await c.post(URL, json={"id": {"tntId": "v1"}, "execute": {"mboxes": [{"name": "hero", "index": 1}]}})
            assert r.status_code == 200, r.text
            (mbox,) = r.json()["execute"]["mboxes"]
            assert mbox["options"][0]["content"] == {"color": "red"}
            # the engine validates its own query parameters
            r = await c.post("/rest/v1/delivery?sessionId=s", json={})
            assert r.status_code == 400 and set(r.json()) == {"status", "message"}
