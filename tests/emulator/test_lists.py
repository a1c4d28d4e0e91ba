"""Lists, paging, filters, id filters and full-text search (repository.md F, G, H)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from target_async.emulator import create_app
from target_async.emulator._store import Store

RESULTS = "https://ns.adobe.com/experience/xcore/hal/results"


def flat(pages: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [item for page in pages for item in page]


def names(items: list[dict[str, Any]]) -> list[str]:
    return [i["_instance"]["xdm:name"] for i in items]


async def tags(repo: Any, n: int, prefix: str = "t") -> list[dict[str, Any]]:
    return [await repo.tag(f"{prefix}{i:03d}") for i in range(n)]


async def test_list_envelope_and_default_order(repo):
    created = await tags(repo, 5)
    r = await repo.list("tag")
    assert r.status_code == 200
    assert r.headers["content-type"] == f'{repo.HAL}; schema="{RESULTS}"'
    body = r.json()
    assert set(body) == {"requestTime", "_embedded", "_links", "containerId", "schemaNs"}
    assert body["containerId"] == repo.cid
    assert body["schemaNs"] == repo.SCHEMAS["tag"] + ";version=0.1"
    assert body["_embedded"]["total"] == body["_embedded"]["count"] == 5
    assert body["_links"]["self"]["@type"] == RESULTS
    assert body["_links"]["self"]["href"].startswith(f"/{repo.cid}/instances?schema=")
    assert "next" not in body["_links"]
    results = body["_embedded"]["results"]
    assert [i["instanceId"] for i in results] == sorted(c["instanceId"] for c in created)
    assert all("_links" in i and "repo:etag" in i and "_instance" in i for i in results)


async def test_schema_parameter_forms(repo):
    await tags(repo, 2)
    for value in (repo.SCHEMAS["tag"], f'"{repo.SCHEMAS["tag"]}"', repo.SCHEMAS["tag"] + ";version=0.1"):
        r = await repo.client.get(repo.url("/instances"), params={"schema": value}, headers=repo.headers)
        assert r.status_code == 200 and r.json()["_embedded"]["total"] == 2, value
    r = await repo.client.get(repo.url("/instances"), headers=repo.headers)
    assert r.status_code == 400 and r.json()["property"] == "schema"
    r = await repo.client.get(repo.url("/instances"), params={"schema": "https://x/y"}, headers=repo.headers)
    assert r.status_code == 400
    # other schemas are other lists
    assert (await repo.list("placement")).json()["_embedded"]["total"] == 0


async def test_paging_follows_next_links_with_total_and_count(repo):
    created = await tags(repo, 7)
    r = await repo.list("tag", limit="3")
    seen, totals, counts = [], [], []
    while True:
        body = r.json()
        totals.append(body["_embedded"]["total"])
        counts.append(body["_embedded"]["count"])
        seen += body["_embedded"]["results"]
        nxt = body["_links"].get("next")
        if nxt is None:
            break
        assert nxt["@type"] == RESULTS and nxt["href"].startswith(f"/{repo.cid}/instances?")
        assert parse_qs(urlsplit(nxt["href"]).query)["limit"] == ["3"]
        r = await repo.follow(nxt["href"])
    assert totals == [7, 4, 1] and counts == [3, 3, 1]
    assert [i["instanceId"] for i in seen] == sorted(c["instanceId"] for c in created)


async def test_start_is_exclusive(repo):
    created = sorted(c["instanceId"] for c in await tags(repo, 5))
    r = await repo.list("tag", start=created[1])
    assert [i["instanceId"] for i in r.json()["_embedded"]["results"]] == created[2:]
    assert r.json()["_embedded"]["total"] == 3
    r = await repo.list("tag", start=created[-1])
    assert r.json()["_embedded"] == {"results": [], "total": 0, "count": 0}


@pytest.mark.parametrize("via", ["sql", "python"])
async def test_ties_are_never_split_across_pages(repo, clock, via):
    # three creation instants: 3 + 3 + 1 instances
    for group, size in enumerate((3, 3, 1)):
        for i in range(size):
            await repo.create("tag", {"xdm:name": f"g{group}-{i}", "xdm:characteristics": {"group": f"{group}"}})
        clock.advance(1)
    extra = [("property", "_instance.xdm:name~.*")] if via == "python" else []
    pages, totals = [], []
    r = await repo.list("tag", *extra, orderby="repo:createdDate", limit="2")
    while True:
        body = r.json()
        pages.append(body["_embedded"]["results"])
        totals.append(body["_embedded"]["total"])
        assert body["_embedded"]["count"] == len(pages[-1])
        if "next" not in body["_links"]:
            break
        r = await repo.follow(body["_links"]["next"]["href"])
    assert [len(p) for p in pages] == [3, 3, 1]
    assert totals == [7, 4, 1]
    for n, page in enumerate(pages):
        assert {i["_instance"]["xdm:name"][:2] for i in page} == {f"g{n}"}
        ids = [i["instanceId"] for i in page]
        assert ids == sorted(ids)  # ties ordered by instanceId


async def test_ties_on_an_unindexed_key_and_on_name(repo):
    for i in range(5):
        await repo.create("tag", {"xdm:name": f"n{i}", "xdm:characteristics": {"k": "a" if i < 3 else "b"}})
    pages = await repo.all_pages("tag", orderby="_instance.xdm:characteristics.k", limit="1")
    assert [len(p) for p in pages] == [3, 2]
    pages = await repo.all_pages("tag", orderby="-_instance.xdm:name", limit="2")
    assert names(flat(pages)) == ["n4", "n3", "n2", "n1", "n0"] and [len(p) for p in pages] == [2, 2, 1]


async def test_composite_start_with_explicit_instance_id_tiebreaker(repo, clock):
    for i in range(4):
        await repo.tag(f"a{i}")
        if i % 2:
            clock.advance(1)
    r = await repo.list("tag", orderby="-repo:createdDate,instanceId", limit="1")
    body = r.json()
    assert body["_embedded"]["count"] == 1  # the key is unique: no extension
    start = parse_qs(urlsplit(body["_links"]["next"]["href"]).query)["start"][0]
    first = body["_embedded"]["results"][0]
    ms, iid = start.split(",")
    assert iid == first["instanceId"] and ms == "1700000001000"
    assert parse_qs(urlsplit(body["_links"]["next"]["href"]).query)["orderby"] == ["-repo:createdDate,instanceId"]
    items = flat(await repo.all_pages("tag", orderby="-repo:createdDate,instanceId", limit="1"))
    assert len(items) == 4 and len({i["instanceId"] for i in items}) == 4
    keys = [(-int(i["repo:createdDate"][17:19]), i["instanceId"]) for i in items]
    assert keys == sorted(keys)
    # a hand-made composite start with an RFC 3339 date works the same as epoch milliseconds
    r1 = await repo.list("tag", orderby="-repo:createdDate,instanceId", start=f"1700000001000,{iid}")
    r2 = await repo.list("tag", orderby="-repo:createdDate,instanceId", start=f"2023-11-14T22:13:21.000Z,{iid}")
    assert r1.json()["_embedded"]["results"] == r2.json()["_embedded"]["results"]
    assert r1.json()["_embedded"]["total"] == 3
    # a prefix start compares the first key only
    r3 = await repo.list("tag", orderby="-repo:createdDate,instanceId", start="1700000001000")
    assert r3.json()["_embedded"]["total"] == 2
    r4 = await repo.list("tag", orderby="repo:createdDate", start="not-a-date")
    assert r4.status_code == 400 and r4.json()["property"] == "start"


@pytest.mark.parametrize("name", ["orderby", "orderBy", "ORDERBY"])
async def test_orderby_name_and_direction_prefixes(repo, name):
    await tags(repo, 3)
    for value, expected in (
        ("_instance.xdm:name", ["t000", "t001", "t002"]),
        ("+_instance.xdm:name", ["t000", "t001", "t002"]),
        (" _instance.xdm:name", ["t000", "t001", "t002"]),
        ("-_instance.xdm:name", ["t002", "t001", "t000"]),
    ):
        r = await repo.client.get(
            repo.url("/instances"), params={"schema": repo.SCHEMAS["tag"], name: value}, headers=repo.headers
        )
        assert names(r.json()["_embedded"]["results"]) == expected, value
    # an unencoded '+' arrives as a space and still means ascending
    r = await repo.client.get(
        repo.url(f"/instances?schema={repo.SCHEMAS['tag']}&{name}=+_instance.xdm:name"), headers=repo.headers
    )
    assert names(r.json()["_embedded"]["results"]) == ["t000", "t001", "t002"]
    r = await repo.list("tag", orderby="_instance..x")
    assert r.status_code == 400


async def test_several_sort_keys_and_missing_values(repo):
    placement = await repo.placement()
    specs = [("a", "draft", 2), ("b", "approved", 1), ("c", None, 5), ("d", "approved", 3), ("e", None, None)]
    for name, status, prio in specs:
        inst: dict[str, Any] = {"xdm:name": name, "xdm:representations": [repo.representation(placement["@id"])]}
        if status:
            inst["xdm:status"] = status
        if prio is not None:
            inst["xdm:rank"] = {"xdm:priority": prio}
        await repo.create("offer", inst)
    items = flat(await repo.all_pages("offer", orderby="_instance.xdm:status,-_instance.xdm:name", limit="1"))
    assert names(items) == ["d", "b", "a", "e", "c"]  # missing status sorts last
    items = flat(await repo.all_pages("offer", orderby="-_instance.xdm:status,_instance.xdm:name", limit="2"))
    assert names(items) == ["c", "e", "a", "b", "d"]  # ... and first when descending
    items = flat(await repo.all_pages("offer", orderby="_instance.xdm:rank.xdm:priority", limit="2"))
    assert names(items) == ["b", "a", "d", "c", "e"]  # typed numbers, missing last
    items = flat(await repo.all_pages("offer", orderby="-_instance.xdm:rank.xdm:priority", limit="1"))
    assert names(items) == ["e", "c", "d", "a", "b"]


async def test_limit_default_max_and_errors(make_repo):
    async with make_repo(default_limit=4, max_limit=6) as repo:
        await tags(repo, 8)
        assert (await repo.list("tag")).json()["_embedded"]["count"] == 4
        assert (await repo.list("tag", limit="100")).json()["_embedded"]["count"] == 6
        for bad in ("0", "-1", "x", "1.5", ""):
            r = await repo.list("tag", limit=bad)
            assert r.status_code == 400 and r.json()["property"] == "limit", bad


async def test_default_limit_is_50(repo):
    await tags(repo, 55)
    body = (await repo.list("tag")).json()
    assert body["_embedded"]["count"] == 50 and body["_embedded"]["total"] == 55 and "next" in body["_links"]


async def _offer_set(repo: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    placement = await repo.placement()
    t1, t2 = await repo.tag("red"), await repo.tag("blue")
    specs = [
        ("Alpha Card", "approved", 0, "2019-06-01T00:00:00.000Z", [t1["@id"]]),
        ("beta card", "draft", 5, "2019-07-01T00:00:00Z", [t1["@id"], t2["@id"]]),
        ("Gamma", "archived", 10, "2019-06-15T12:00:00+02:00", []),
        ("Delta", "approved", None, None, None),
    ]
    out = {}
    for name, status, prio, start, tag_ids in specs:
        inst: dict[str, Any] = {
            "xdm:name": name,
            "xdm:status": status,
            "xdm:representations": [repo.representation(placement["@id"])],
        }
        if prio is not None:
            inst["xdm:rank"] = {"xdm:priority": prio}
        if start:
            inst["xdm:selectionConstraint"] = {"xdm:startDate": start}
        if tag_ids is not None:
            inst["xdm:tags"] = tag_ids
        out[name] = await repo.create("offer", inst)
    return out, t1, t2


async def test_filter_operators(repo):
    offers, t1, t2 = await _offer_set(repo)

    async def match(*exprs: str) -> list[str]:
        # each filter runs on both list paths (SQL, and Python forced by an always-true regex) with one answer
        found = []
        for extra in ([], ["_instance.xdm:name~.*"]):
            r = await repo.list("offer", *[("property", e) for e in (*exprs, *extra)], orderby="_instance.xdm:name")
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["_embedded"]["total"] == body["_embedded"]["count"]
            found.append(names(body["_embedded"]["results"]))
        assert found[0] == found[1], exprs
        return found[0]

    assert await match("_instance.xdm:status==approved") == ["Alpha Card", "Delta"]
    assert await match("_instance.xdm:status!=approved") == ["Gamma", "beta card"]
    assert await match("_instance.xdm:name<Delta") == ["Alpha Card"]
    assert await match("_instance.xdm:name<=Delta") == ["Alpha Card", "Delta"]
    assert await match("_instance.xdm:name>Gamma") == ["beta card"]  # case-sensitive: 'b' > 'G'
    assert await match("_instance.xdm:name>=Gamma") == ["Gamma", "beta card"]
    assert await match("_instance.xdm:name==alpha card") == []
    # ~ is anchored and case-insensitive
    assert await match("_instance.xdm:name~.*card") == ["Alpha Card", "beta card"]
    assert await match("_instance.xdm:name~card") == []
    assert await match("_instance.xdm:name~ALPHA.*") == ["Alpha Card"]
    # numbers compare numerically (10 > 5 although '10' < '5')
    assert await match("_instance.xdm:rank.xdm:priority>5") == ["Gamma"]
    assert await match("_instance.xdm:rank.xdm:priority>=5.0") == ["Gamma", "beta card"]
    assert await match("_instance.xdm:rank.xdm:priority==0") == ["Alpha Card"]
    # date-times compare as instants (the +02:00 one is 10:00Z)
    assert await match("_instance.xdm:selectionConstraint.xdm:startDate>2019-06-15T11:00:00Z") == ["beta card"]
    assert await match("_instance.xdm:selectionConstraint.xdm:startDate<=2019-06-15T10:00:00.000Z") == [
        "Alpha Card",
        "Gamma",
    ]
    # bare property = exists; missing fails every operator, != included
    assert await match("_instance.xdm:rank") == ["Alpha Card", "Gamma", "beta card"]
    assert await match("_instance.xdm:tags") == ["Alpha Card", "Gamma", "beta card"]
    assert await match("_instance.xdm:rank.xdm:priority!=0") == ["Gamma", "beta card"]
    # arrays: any element
    assert await match(f"_instance.xdm:tags=={t2['@id']}") == ["beta card"]
    assert await match(f"_instance.xdm:tags=={t1['@id']}") == ["Alpha Card", "beta card"]
    assert await match("_instance.xdm:representations.xdm:components.dc:format==text/html") == [
        "Alpha Card",
        "Delta",
        "Gamma",
        "beta card",
    ]
    # repeated = AND
    assert await match("_instance.xdm:status!=draft", "_instance.xdm:rank.xdm:priority>=0") == ["Alpha Card", "Gamma"]
    # envelope properties
    assert await match("repo:etag==1", "instanceId>0") == ["Alpha Card", "Delta", "Gamma", "beta card"]
    assert await match("repo:createdDate>=2023-11-14T22:13:20Z") == ["Alpha Card", "Delta", "Gamma", "beta card"]
    assert await match("repo:createdDate<2023-11-14T22:13:20Z") == []
    assert await match(f"_instance.@id=={offers['Gamma']['@id']}") == ["Gamma"]
    # values may contain commas and operators after the first one
    assert await match("_instance.xdm:name==a,b") == []
    assert await match("_instance.xdm:name==x==y") == []


@pytest.mark.parametrize(
    "expr", ["", "==x", "~a", "_instance.xdm:name~(", "_instance..x==1", "_instance.xdm:name=x", "!x"]
)
async def test_unparseable_filters_are_400(repo, expr):
    r = await repo.list("tag", property=expr)
    assert r.status_code == 400, r.text
    assert r.json()["property"] == "property"


async def test_id_filters_are_ored(repo):
    created = await tags(repo, 4)
    r = await repo.list("tag", ("id", created[0]["@id"]), ("id", created[2]["@id"]), ("id", "xcore:tag:nope"))
    got = {i["_instance"]["@id"] for i in r.json()["_embedded"]["results"]}
    assert got == {created[0]["@id"], created[2]["@id"]} and r.json()["_embedded"]["total"] == 2
    # combined with a property filter (AND)
    r = await repo.list(
        "tag", ("id", created[0]["@id"]), ("id", created[2]["@id"]), property="_instance.xdm:name==t002"
    )
    assert [i["_instance"]["@id"] for i in r.json()["_embedded"]["results"]] == [created[2]["@id"]]
    r = await repo.list("tag", *[("id", f"xcore:tag:{n}") for n in range(1001)])
    assert r.status_code == 400


async def test_search(repo):
    offers, t1, _ = await _offer_set(repo)
    for name, text in (("Gamma", "C++ (and more) tips"), ("Delta", "plan c")):
        ops = [{"op": "add", "path": "/_instance/xdm:description", "value": text}]
        assert (await repo.patch(offers[name]["instanceId"], ops)).status_code == 200

    async def search(q: str | None = None, *extra: tuple[str, str], **params: str) -> list[str]:
        if q is not None:
            params["q"] = q
        r = await repo.list("offer", *extra, path="/queries/core/search", orderby="_instance.xdm:name", **params)
        assert r.status_code == 200, r.text
        return names(r.json()["_embedded"]["results"])

    assert await search("card") == ["Alpha Card", "beta card"]
    assert await search("CARD gamma") == ["Alpha Card", "Gamma", "beta card"]  # any term (default or)
    assert await search("card alpha", qop="AND") == ["Alpha Card"]
    assert await search("card alpha", qop="and") == ["Alpha Card"]
    assert await search("card alpha", qop="Or") == ["Alpha Card", "beta card"]
    assert await search("alpha", ("field", "_instance.xdm:name")) == ["Alpha Card"]
    assert await search("approved", ("field", "_instance.xdm:name")) == []
    assert await search("approved", ("field", "xdm:status")) == ["Alpha Card", "Delta"]
    assert await search("approved") == ["Alpha Card", "Delta"]
    # special characters: unescaped they separate terms, escaped they are literal
    assert await search("c++") == ["Delta", "Gamma"]  # unescaped: the term is the token 'c'
    assert await search(r"c\+\+") == ["Gamma"]
    assert await search(t1["@id"].replace(":", r"\:")) == ["Alpha Card", "beta card"]
    assert await search('"(and more)"') == ["Gamma"]
    assert await search('"more) tips"') == ["Gamma"]
    assert await search('"more tips"') == []
    assert await search("gam*") == ["Gamma"]
    assert await search("b?ta") == ["beta card"]
    # search also filters and pages like a list
    assert await search("card", property="_instance.xdm:status==draft") == ["beta card"]
    assert await search(
        "",
    ) == ["Alpha Card", "Delta", "Gamma", "beta card"]
    r = await repo.list("offer", path="/queries/core/search", q="card", qop="xor")
    assert r.status_code == 400 and r.json()["property"] == "qop"
    r = await repo.list("offer", path="/queries/core/search", q="card", limit="1")
    body = r.json()
    assert body["_embedded"]["total"] == 2 and body["_embedded"]["count"] == 1
    assert body["_links"]["next"]["href"].startswith(f"/{repo.cid}/queries/core/search?")
    assert body["_links"]["self"]["href"].startswith(f"/{repo.cid}/queries/core/search?")
    nxt = (await repo.follow(body["_links"]["next"]["href"])).json()
    assert nxt["_embedded"]["count"] == 1 and nxt["_embedded"]["total"] == 1 and "next" not in nxt["_links"]


async def test_common_lists_use_the_indexes(repo, monkeypatch):
    await tags(repo, 5)
    scans = []
    original = Store.scan

    def spy(self: Store, *args: Any, **kwargs: Any) -> Any:
        scans.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Store, "scan", spy)
    for params in (
        {},
        {"orderby": "-repo:createdDate"},
        {"orderby": "repo:lastModifiedDate,instanceId"},
        {"orderby": "_instance.xdm:name", "property": "_instance.xdm:name>=t001"},
        {"orderby": "-_instance.xdm:status", "start": "x"},
        {"property": "repo:createdDate>=2019-01-01T00:00:00Z"},
    ):
        r = await repo.list("tag", limit="2", **params)
        assert r.status_code == 200, (params, r.text)
    assert scans == []
    r = await repo.list("tag", property="_instance.xdm:name~t.*")
    assert r.status_code == 200 and len(scans) == 1  # a regex needs the Python path
    # the query plan of the default order is an index search
    store = next(iter(_stores(repo)))
    plan = store.db.execute(
        "EXPLAIN QUERY PLAN SELECT doc FROM instances WHERE pid = 1 AND instance_id > 'a' ORDER BY instance_id LIMIT 51"
    ).fetchall()
    assert "USING INDEX ix_instances_id" in str(plan) and "TEMP B-TREE" not in str(plan)


def _stores(repo: Any) -> Any:
    yield repo.client._transport.app.state.emulator.store  # the ASGITransport's app


def _sorted_names(values: list[tuple[str, str]], desc: bool) -> list[tuple[str, str]]:
    # the emulator's order: names ascending (code point), ties by instanceId in the direction of the key
    return sorted(values, key=lambda v: (v[0], v[1]), reverse=desc)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name_pool=st.lists(st.sampled_from(["a", "b", "B", "c", "é", "a b"]), min_size=0, max_size=14),
    limit=st.integers(min_value=1, max_value=5),
    desc=st.booleans(),
)
def test_paging_visits_every_item_once_in_order_on_both_paths(repo_class, name_pool, limit, desc):
    async def scenario() -> None:
        app = create_app()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emu") as c:
            repo = await repo_class(c).init()
            created = []
            for n, name in enumerate(name_pool):
                receipt = await repo.create("offer", {"xdm:name": f"{name}", "xdm:characteristics": {"n": str(n)}})
                created.append((name, receipt["instanceId"]))
            order = ("-" if desc else "") + "_instance.xdm:name"
            expected = [iid for _, iid in _sorted_names(created, desc)]
            results = {}
            for via, extra in (("sql", []), ("python", [("property", "_instance.xdm:characteristics.n~.*")])):
                bodies = await repo.all_bodies("offer", *extra, orderby=order, limit=str(limit))
                pages = [b["_embedded"]["results"] for b in bodies]
                assert [b["_embedded"]["total"] for b in bodies] == [
                    sum(map(len, pages[i:])) for i in range(len(pages))
                ]
                assert [b["_embedded"]["count"] for b in bodies] == [len(p) for p in pages]
                got = [i["instanceId"] for i in flat(pages)]
                assert got == expected, via
                for page, nxt in zip(pages, pages[1:], strict=False):
                    assert page[-1]["_instance"]["xdm:name"] != nxt[0]["_instance"]["xdm:name"]
                    assert len(page) >= limit
                results[via] = [[i["instanceId"] for i in p] for p in pages]
            assert results["sql"] == results["python"]

    asyncio.run(scenario())


async def test_totals_stay_exact_while_writing(make_repo, clock):
    """Deep-page totals come from an in-memory rank cache: it must follow every create, update and delete."""
    import random
    from datetime import datetime

    rng = random.Random(7)
    async with make_repo(delete_mode="immediate") as repo:
        live: list[str] = []

        def token(item: dict[str, Any], order: str) -> str:
            if order.endswith("xdm:name"):
                return str(item["_instance"]["xdm:name"])
            stamp = item["repo:lastModifiedDate"]
            return str(int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000))

        for step in range(80):
            clock.advance(rng.choice([0, 0, 1]))
            action = rng.random()
            if action < 0.5 or len(live) < 3:
                live.append((await repo.tag(f"n{rng.randrange(6)}-{step}"))["instanceId"])
            elif action < 0.8:
                iid = rng.choice(live)
                ops = [{"op": "replace", "path": "/_instance/xdm:name", "value": f"n{rng.randrange(6)}-{step}"}]
                assert (await repo.patch(iid, ops)).status_code == 200
            else:
                iid = live.pop(rng.randrange(len(live)))
                assert (await repo.delete(iid)).status_code == 200
            if step % 4:
                continue
            for order in (
                "_instance.xdm:name",
                "-_instance.xdm:name",
                "repo:lastModifiedDate",
                "-repo:lastModifiedDate",
            ):
                full = (await repo.list("tag", orderby=order, limit="1000")).json()["_embedded"]["results"]
                assert len(full) == len(live)
                keys = [token(i, order) for i in full]
                for p in {0, len(full) // 2, len(full) - 1}:
                    expected = sum(1 for k in keys[p + 1 :] if k != keys[p])
                    r = await repo.list("tag", orderby=order, start=keys[p], limit="1")
                    assert r.json()["_embedded"]["total"] == expected, (step, order, p)
