"""Malformed input never gets a 500: random query strings, headers and bodies against every route."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings, strategies as st

from target_async.emulator import create_app

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NAMES = st.sampled_from(
    ["schema", "orderby", "orderBy", "start", "limit", "property", "id", "q", "field", "qop", "product"]
)
SCHEMA = st.sampled_from(
    [
        "https://ns.adobe.com/experience/offer-management/personalized-offer",
        "https://ns.adobe.com/experience/offer-management/tag",
        "",
    ]
)
VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["_instance.xdm:name", "-repo:createdDate,instanceId", "\x00", "a,b,c", "_instance.xdm:name~(", "1e999", "0"]
    ),
)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
KEYS = st.sampled_from(
    ["xdm:name", "xdm:status", "xdm:representations", "xdm:tags", "ids", "xdm:filterType", "@id", "x"]
)
INSTANCE = st.dictionaries(KEYS, JSONISH, max_size=5)


def run(scenario: Any) -> None:
    asyncio.run(scenario())


async def _setup(repo_class: Any) -> tuple[httpx.AsyncClient, Any, str]:
    app = create_app()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emu")
    repo = await repo_class(client).init()
    tag = await repo.tag("t")
    await repo.tag("u")
    return client, repo, tag["instanceId"]


@SETTINGS
@given(
    params=st.lists(st.tuples(NAMES, VALUES), max_size=6),
    schema=SCHEMA,
    path=st.sampled_from(["/instances", "/queries/core/search"]),
)
def test_list_and_search_parameters(repo_class, params, schema, path):
    async def scenario() -> None:
        client, repo, _ = await _setup(repo_class)
        async with contextlib.aclosing(client):
            r = await client.get(repo.url(path), params=[("schema", schema), *params], headers=repo.headers)
            assert r.status_code in (200, 400), r.text
            assert r.json()
            r = await client.get(repo.BASE + "/", params=params, headers=repo.headers)
            assert r.status_code in (200, 400), r.text

    run(scenario)


@SETTINGS
@given(
    kind=st.sampled_from(["offer", "fallback", "placement", "rule", "tag", "filter", "activity"]),
    instance=INSTANCE,
    links=st.one_of(st.just({}), JSONISH),
)
def test_create_bodies(repo_class, kind, instance, links):
    async def scenario() -> None:
        client, repo, _ = await _setup(repo_class)
        async with contextlib.aclosing(client):
            body = json.dumps({"_instance": instance, "_links": links})
            r = await client.post(
                repo.url("/instances"), content=body, headers={**repo.headers, "Content-Type": repo.hal(kind)}
            )
            assert r.status_code in (201, 400, 422), r.text
            assert r.json()["repo:etag" if r.status_code == 201 else "status"]

    run(scenario)


@SETTINGS
@given(
    ops=st.one_of(
        JSONISH,
        st.lists(
            st.fixed_dictionaries(
                {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "x"])},
                optional={
                    "path": st.sampled_from(
                        [
                            "",
                            "/",
                            "/_instance",
                            "/_instance/xdm:name",
                            "/_links/a",
                            "/repo:etag",
                            "/x/0",
                            "/_instance/-",
                        ]
                    ),
                    "from": st.sampled_from(["/_instance/xdm:name", "/_links", "/nope", "bad"]),
                    "value": JSONISH,
                },
            ),
            max_size=4,
        ),
    ),
    content_type=st.sampled_from(
        ["application/vnd.adobe.platform.xcore.patch.hal+json", "application/json-patch+json", "text/plain"]
    ),
    if_match=st.one_of(st.none(), st.text(max_size=8)),
)
def test_patch_bodies(repo_class, ops, content_type, if_match):
    async def scenario() -> None:
        client, repo, iid = await _setup(repo_class)
        async with contextlib.aclosing(client):
            headers = {**repo.headers, "Content-Type": content_type}
            if if_match is not None:
                headers["If-Match"] = if_match.encode("ascii", "ignore").decode() or "x"
            r = await client.patch(repo.url(f"/instances/{iid}"), content=json.dumps(ops), headers=headers)
            assert r.status_code in (200, 400, 409, 415, 422), r.text
            env = (await repo.get(iid)).json()
            assert env["_instance"]["@id"].startswith("xcore:tag:")

    run(scenario)


@SETTINGS
@given(
    content_type=st.text(max_size=60),
    body=st.binary(max_size=60),
    method=st.sampled_from(["POST", "PUT"]),
)
def test_raw_bytes_and_media_types(repo_class, content_type, body, method):
    async def scenario() -> None:
        client, repo, iid = await _setup(repo_class)
        async with contextlib.aclosing(client):
            path = repo.url("/instances") if method == "POST" else repo.url(f"/instances/{iid}")
            ctype = content_type.encode("latin-1", "ignore").replace(b"\n", b" ").replace(b"\r", b" ")
            r = await client.request(method, path, content=body, headers={**repo.headers, "Content-Type": ctype})
            assert r.status_code in (400, 415), r.text
            r = await client.post("/rest/v1/delivery?imsOrgId=o&sessionId=s", content=body)
            assert r.status_code < 500, r.text

    run(scenario)
