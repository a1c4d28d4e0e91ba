"""The emulator's Delivery API decision engine, tested directly (no HTTP) with a fake repository view."""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import mmh3
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from target_async.emulator._decide import evaluate_pql, option_from_representation, parse_timestamp
from target_async.emulator._delivery import EDGE_HOST, DeliveryEngine, EmptyRepository

NS = "https://ns.adobe.com/experience/offer-management/"
ACTIVITY, PLACEMENT, OFFER = NS + "offer-activity", NS + "offer-placement", NS + "personalized-offer"
FALLBACK, FILTER, RULE, TAG = NS + "fallback-offer", NS + "offer-filter", NS + "eligibility-rule", NS + "tag"
HTML = "https://ns.adobe.com/experience/offer-management/content-component-html"
IMAGE = "https://ns.adobe.com/experience/offer-management/content-component-imagelink"
TEXT = "https://ns.adobe.com/experience/offer-management/content-component-text"

QUERY = {"imsOrgId": "org@AdobeOrg", "sessionId": "s1"}
HOST = "demo.tt.omtrdc.net"
NOW = 1_750_000_000.0  # 2025-06-15T15:06:40Z
PAST, FUTURE = "2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z"

PL = "xcore:offer-placement:1"
P2 = "xcore:offer-placement:2"
T_RED, T_BLUE, T_BIG = "xcore:tag:red", "xcore:tag:blue", "xcore:tag:big"
FB = "xcore:fallback-offer:1"
ACT = "xcore:offer-activity:1"
FLT = "xcore:offer-filter:1"
TOKEN_KEYS = {
    "activity.id",
    "activity.name",
    "experience.id",
    "experience.name",
    "offer.id",
    "offer.name",
    "option.id",
    "activity.decisioningMethod",
}
FIXTURE_TOKEN_KEYS = TOKEN_KEYS | {"option.name"}  # the response tokens of a compiled fixtures artifact


# ------------------------------------------------------------------------------------------------ helpers


class FakeRepository:
    """A RepositoryView over plain lists, recording every instances() call."""

    def __init__(self, data: dict[str, list[dict[str, Any]]]) -> None:
        self.data = data
        self.calls: list[str] = []

    def instances(self, schema_id: str) -> list[dict[str, Any]]:
        self.calls.append(schema_id)
        return self.data.get(schema_id, [])


def rep(placement: str = PL, **component: Any) -> dict[str, Any]:
    comp = {"@type": HTML, "dc:format": "text/html", **component}
    return {"xdm:placement": placement, "xdm:components": [comp]}


def offer(
    n: int,
    *,
    priority: int = 0,
    status: str = "approved",
    tags: list[str] | None = None,
    placement: str = PL,
    constraint: dict[str, Any] | None = None,
    caps: dict[str, int] | None = None,
    content: Any = None,
) -> dict[str, Any]:
    o: dict[str, Any] = {
        "@id": f"xcore:personalized-offer:{n}",
        "xdm:name": f"Offer {n}",
        "xdm:status": status,
        "xdm:representations": [rep(placement, **{"xdm:content": content or f"<p>offer {n}</p>"})],
        "xdm:rank": {"xdm:priority": priority},
        "xdm:tags": tags or [],
    }
    if constraint is not None:
        o["xdm:selectionConstraint"] = constraint
    if caps is not None:
        o["xdm:cappingConstraint"] = caps
    return o


def oid(n: int) -> str:
    return f"xcore:personalized-offer:{n}"


def build_repo(
    offers: list[dict[str, Any]],
    *,
    filter_type: str = "offers",
    ids: list[str] | None = None,
    activity: dict[str, Any] | None = None,
    rules: list[dict[str, Any]] | None = None,
    fallback: dict[str, Any] | None = None,
) -> FakeRepository:
    act = {
        "@id": ACT,
        "xdm:name": "Hero decision",
        "xdm:status": "live",
        "xdm:placement": PL,
        "xdm:filter": FLT,
        "xdm:fallback": FB,
        **(activity or {}),
    }
    return FakeRepository(
        {
            PLACEMENT: [
                {"@id": PL, "xdm:name": "hero-banner", "xdm:componentType": HTML},
                {"@id": P2, "xdm:name": "sidebar", "xdm:componentType": HTML},
            ],
            ACTIVITY: [act],
            FILTER: [
                {
                    "@id": FLT,
                    "xdm:name": "the filter",
                    "xdm:filterType": filter_type,
                    "ids": [o["@id"] for o in offers] if ids is None else ids,
                }
            ],
            OFFER: offers,
            FALLBACK: [
                fallback
                or {
                    "@id": FB,
                    "xdm:name": "Fallback",
                    "xdm:status": "approved",
                    "xdm:representations": [rep(PL, **{"xdm:content": "<p>fallback</p>"})],
                }
            ],
            RULE: rules or [],
            TAG: [{"@id": t, "xdm:name": t.rsplit(":", 1)[1]} for t in (T_RED, T_BLUE, T_BIG)],
        }
    )


def call(
    engine: DeliveryEngine,
    body: Any,
    repository: Any = None,
    *,
    query: dict[str, str] | None = None,
    host: str = HOST,
    client: str | None = None,
) -> tuple[int, dict[str, Any]]:
    return engine.handle(
        body, QUERY if query is None else query, repository or EmptyRepository(), host=host, client=client
    )


def ok(engine: DeliveryEngine, body: Any, repository: Any = None, **kw: Any) -> dict[str, Any]:
    status, response = call(engine, body, repository, **kw)
    assert status == 200, response
    json.dumps(response)  # always JSON-serializable
    return response


def execute(name: str = "hero-banner", tnt: str = "visitor-1", **mbox: Any) -> dict[str, Any]:
    return {"id": {"tntId": tnt}, "execute": {"mboxes": [{"index": 0, "name": name, **mbox}]}}


def prefetch(name: str = "hero-banner", tnt: str = "visitor-1", **mbox: Any) -> dict[str, Any]:
    return {"id": {"tntId": tnt}, "prefetch": {"mboxes": [{"index": 0, "name": name, **mbox}]}}


def first_option(response: dict[str, Any], section: str = "execute") -> dict[str, Any]:
    mbox = response[section]["mboxes"][0]
    assert "options" in mbox, mbox
    option: dict[str, Any] = mbox["options"][0]
    return option


def offer_of(response: dict[str, Any], section: str = "execute") -> str:
    return str(first_option(response, section)["responseTokens"]["offer.id"])


def repo_engine(**kw: Any) -> DeliveryEngine:
    return DeliveryEngine(clock=lambda: NOW, **kw)


# The official SDKs' cluster rules (target-sdk-behaviour.md §2.7), to prove the emulator yields no cluster.
def sdk_cluster_from_tnt_id(tnt_id: str) -> str | None:
    parts = tnt_id.split(".")
    if len(parts) != 2:
        return None
    sub = parts[1].split("_")
    return sub[0] if len(sub) == 2 and sub[0] else None


def sdk_cluster_from_edge_host(edge_host: str) -> str | None:
    parts = edge_host.split(".")
    return parts[0].replace("mboxedge", "", 1) if len(parts) == 4 else None


FIXTURES: dict[str, Any] = {
    "mboxes": {
        "hero": {
            "experiences": [
                {"name": "A", "weight": 50, "options": [{"type": "json", "content": {"color": "red"}}]},
                {
                    "name": "B",
                    "weight": 50,
                    "options": [{"type": "html", "content": "<b>blue</b>"}],
                    "metrics": [{"type": "click", "selector": "#buy"}, {"type": "display"}],
                },
            ]
        },
        "hero-banner": {"experiences": [{"name": "F", "options": [{"content": "<p>from fixtures</p>"}]}]},
    },
    "views": {
        "home": {"experiences": [{"name": "H", "options": [{"content": "<i>home</i>"}]}]},
        "cart": {"experiences": [{"name": "C", "options": [{"content": {"cart": True}}]}]},
        "empty": {"experiences": [{"name": "Z", "weight": 0, "options": [{"content": "never"}]}]},
    },
    "pageLoad": {"experiences": [{"name": "P", "options": [{"content": "<p>page</p>"}]}]},
}


@pytest.fixture
def engine() -> DeliveryEngine:
    return DeliveryEngine(FIXTURES, seed=7)


# --------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ({"sessionId": "s1"}, "imsOrgId"),
        ({"imsOrgId": "", "sessionId": "s1"}, "imsOrgId"),
        ({"imsOrgId": "o"}, "sessionId"),
        ({"imsOrgId": "o", "sessionId": ""}, "sessionId"),
        ({}, "imsOrgId"),
    ],
)
def test_missing_query_parameter_is_a_400_naming_it(engine: DeliveryEngine, query: dict[str, str], needle: str) -> None:
    status, body = call(engine, {}, query=query)
    assert status == 400
    assert body["status"] == 400
    assert needle in body["message"]


@pytest.mark.parametrize("body", [[], "x", 3, None, True, b"[1]"])
def test_body_must_be_a_json_object(engine: DeliveryEngine, body: Any) -> None:
    status, response = call(engine, body)
    assert (status, response["status"]) == (400, 400)
    assert "body" in response["message"]


def test_raw_bytes_are_parsed(engine: DeliveryEngine) -> None:
    assert call(engine, b"{not json")[0] == 400
    status, response = call(engine, json.dumps({"requestId": "r-1"}).encode())
    assert (status, response["requestId"]) == (200, "r-1")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"requestId": 1}, "'requestId'"),
        ({"id": "abc"}, "'id'"),
        ({"id": {"tntId": 5}}, "'id.tntId'"),
        ({"id": {"marketingCloudVisitorId": []}}, "'id.marketingCloudVisitorId'"),
        ({"context": []}, "'context'"),
        ({"execute": []}, "'execute'"),
        ({"execute": {"mboxes": {}}}, "'execute.mboxes'"),
        ({"execute": {"mboxes": ["hero"]}}, "'execute.mboxes[0]'"),
        ({"execute": {"mboxes": [{"index": 0}]}}, "'execute.mboxes[0].name'"),
        ({"execute": {"mboxes": [{"name": "a"}, {"name": ""}]}}, "'execute.mboxes[1].name'"),
        ({"execute": {"mboxes": [{"name": 3}]}}, "'execute.mboxes[0].name'"),
        ({"execute": {"mboxes": [{"name": "a", "index": "0"}]}}, "'execute.mboxes[0].index'"),
        ({"execute": {"mboxes": [{"name": "a", "index": True}]}}, "'execute.mboxes[0].index'"),
        ({"execute": {"mboxes": [{"name": "a", "parameters": []}]}}, "'execute.mboxes[0].parameters'"),
        (
            {"execute": {"mboxes": [{"name": "a", "profileParameters": 1}]}},
            "'execute.mboxes[0].profileParameters'",
        ),
        ({"execute": {"pageLoad": "yes"}}, "'execute.pageLoad'"),
        ({"prefetch": {"views": {}}}, "'prefetch.views'"),
        ({"prefetch": {"views": [{"name": 1}]}}, "'prefetch.views[0].name'"),
        ({"prefetch": {"mboxes": [1]}}, "'prefetch.mboxes[0]'"),
        ({"prefetch": {"pageLoad": {"parameters": "a=b"}}}, "'prefetch.pageLoad.parameters'"),
        ({"notifications": {}}, "'notifications'"),
        ({"notifications": [{"type": "display"}]}, "'notifications[0].id'"),
        ({"notifications": [{"id": "n", "type": "view"}]}, "'notifications[0].type'"),
        ({"notifications": [{"id": "n", "timestamp": "now"}]}, "'notifications[0].timestamp'"),
        ({"notifications": [{"id": "n", "tokens": [1]}]}, "'notifications[0].tokens'"),
        ({"experienceCloud": {"analytics": {"logging": 1}}}, "'experienceCloud.analytics.logging'"),
        ({"experienceCloud": {"analytics": {"logging": "both"}}}, "'experienceCloud.analytics.logging'"),
        ({"experienceCloud": {"analytics": []}}, "'experienceCloud.analytics'"),
        ({"trace": "yes"}, "'trace'"),
    ],
)
def test_wrong_field_types_are_a_400_naming_the_field(engine: DeliveryEngine, body: dict[str, Any], field: str) -> None:
    status, response = call(engine, body)
    assert status == 400, response
    assert response["status"] == 400
    assert field in response["message"]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)
_keys = st.sampled_from(
    ["id", "execute", "prefetch", "notifications", "trace", "experienceCloud", "requestId", "context"]
)
_section = st.fixed_dictionaries(
    {},
    optional={
        "mboxes": st.lists(
            st.fixed_dictionaries(
                {}, optional={"name": st.sampled_from(["hero", "hero-banner", "x"]) | _json, "index": _json}
            )
            | _json,
            max_size=3,
        ),
        "pageLoad": _json,
        "views": st.lists(st.fixed_dictionaries({}, optional={"name": _json}) | _json, max_size=2),
    },
)
_bodies = st.dictionaries(_keys, _section | _json, max_size=5) | _json


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_bodies)
def test_handle_never_raises_on_arbitrary_input(engine: DeliveryEngine, body: Any) -> None:
    repository = build_repo([offer(1), offer(2, priority=3)])
    status, response = call(engine, body, repository)
    assert status in (200, 400), response
    assert response["status"] == status
    json.dumps(response)


def test_an_internal_failure_is_a_logged_500_not_an_exception(
    engine: DeliveryEngine, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def instances(self, schema_id: str) -> list[dict[str, Any]]:
            raise RuntimeError("store is down")

    with caplog.at_level(logging.ERROR, logger="target_async.emulator._delivery"):
        status, response = call(engine, execute(), Broken())
    assert (status, response["status"]) == (500, 500)
    assert "store is down" in caplog.text


def test_invalid_fixtures_raise_value_error_naming_the_path() -> None:
    with pytest.raises(ValueError, match=r"mboxes\.hero\.experiences\[0\]\.weight"):
        DeliveryEngine({"mboxes": {"hero": {"experiences": [{"weight": -1, "options": []}]}}})
    with pytest.raises(ValueError, match=r"views\.home\.experiences"):
        DeliveryEngine({"views": {"home": {}}})
    with pytest.raises(ValueError, match=r"pageLoad\.experiences\[0\]\.options\[0\]\.type"):
        DeliveryEngine({"pageLoad": {"experiences": [{"options": [{"type": "video", "content": "x"}]}]}})
    DeliveryEngine({"repository": {"anything": 1}})  # unknown top-level keys are the app's business


# ------------------------------------------------------------------------------------------------ envelope


def test_envelope_echoes_request_id_and_visitor(engine: DeliveryEngine) -> None:
    visitor = {
        "tntId": "abc.28_0",
        "marketingCloudVisitorId": "mc-1",
        "customerIds": [{"id": "c", "integrationCode": "i"}],
    }
    response = ok(engine, {"requestId": "req-42", "id": visitor})
    assert response["status"] == 200
    assert response["requestId"] == "req-42"
    assert response["id"] == visitor
    assert response["client"] == "demo"
    assert response["edgeHost"] == EDGE_HOST
    for absent in ("execute", "prefetch", "notifications"):
        assert absent not in response


def test_request_id_and_tnt_id_are_generated_when_absent(engine: DeliveryEngine) -> None:
    first, second = ok(engine, {}), ok(engine, {"id": {"marketingCloudVisitorId": "mc-1"}})
    assert str(uuid.UUID(first["requestId"])) == first["requestId"]
    assert first["requestId"] != second["requestId"]
    assert first["id"]["tntId"] != second["id"]["tntId"]
    assert second["id"]["marketingCloudVisitorId"] == "mc-1"


@pytest.mark.parametrize("body", [{}, {"id": {}}, {"id": {"tntId": ""}}, {"id": {"thirdPartyId": "t"}}])
def test_generated_tnt_id_has_no_cluster_suffix(engine: DeliveryEngine, body: dict[str, Any]) -> None:
    tnt_id = ok(engine, body)["id"]["tntId"]
    assert tnt_id
    assert "." not in tnt_id
    assert sdk_cluster_from_tnt_id(tnt_id) is None
    assert sdk_cluster_from_tnt_id("abc.28_0") == "28"  # the check itself can fail


def test_edge_host_yields_no_cluster(engine: DeliveryEngine) -> None:
    edge_host = ok(engine, {})["edgeHost"]
    assert edge_host == "localhost"
    assert sdk_cluster_from_edge_host(edge_host) is None
    assert sdk_cluster_from_edge_host("mboxedge28.tt.omtrdc.net") == "28"


@pytest.mark.parametrize(
    ("host", "hint", "expected"),
    [
        ("demo.tt.omtrdc.net", None, "demo"),
        ("Demo.TT.omtrdc.net:443", None, "demo"),
        ("mboxedge28.tt.omtrdc.net", None, "emulator"),
        ("127.0.0.1:8080", None, "emulator"),
        ("[::1]:8080", None, "emulator"),
        ("localhost", "acme", "acme"),
        ("demo.tt.omtrdc.net", "acme", "demo"),
    ],
)
def test_client_comes_from_the_host_then_the_hint(host: str, hint: str | None, expected: str) -> None:
    assert ok(DeliveryEngine(), {}, host=host, client=hint)["client"] == expected


def test_seed_makes_generated_ids_deterministic() -> None:
    a, b = DeliveryEngine(seed=3), DeliveryEngine(seed=3)
    ra, rb = ok(a, {}), ok(b, {})
    assert (ra["requestId"], ra["id"]["tntId"]) == (rb["requestId"], rb["id"]["tntId"])
    assert ok(DeliveryEngine(seed=4), {})["requestId"] != ra["requestId"]


def test_notifications_are_acknowledged_by_id(engine: DeliveryEngine) -> None:
    notes = [
        {"id": "n1", "type": "display", "timestamp": 1, "mbox": {"name": "hero"}, "tokens": ["t"]},
        {"id": "n2", "type": "click", "timestamp": 2},
        {"id": "n3"},
    ]
    response = ok(engine, {"id": {"tntId": "v"}, "notifications": notes})
    assert response["notifications"] == [{"id": "n1"}, {"id": "n2"}, {"id": "n3"}]
    assert "execute" not in response and "prefetch" not in response


# ------------------------------------------------------------------------------------------------ fixtures


def test_fixture_allocation_is_stable_per_visitor_and_ignores_the_cluster_suffix(
    engine: DeliveryEngine,
) -> None:
    def experience(tnt: str) -> str:
        return str(first_option(ok(engine, execute("hero", tnt)))["responseTokens"]["experience.name"])

    for n in range(40):
        base = f"visitor-{n}"
        got = {experience(base), experience(base), experience(f"{base}.28_0"), experience(f"{base}.35_1")}
        assert len(got) == 1, (base, got)
    # a fresh engine (no state) allocates the same way
    other = DeliveryEngine(FIXTURES)
    assert all(
        experience(f"visitor-{n}")
        == first_option(ok(other, execute("hero", f"visitor-{n}")))["responseTokens"]["experience.name"]
        for n in range(40)
    )


def test_fixture_allocation_is_targets_murmur3_allocation(engine: DeliveryEngine) -> None:
    # fixtures compile into allocation ranges (A: [0, 50], B: (50, 100]) over Target's hash:
    # murmur3_x86_32("{client}.{activityId}.{visitorId}.0" as UTF-16 code units), |h| % 10000 / 100
    # (this replaced the emulator's own sha256 bucket of earlier versions)
    seen = set()
    for n in range(60):
        visitor = f"v{n}"
        tokens = first_option(ok(engine, execute("hero", visitor + ".9_9")))["responseTokens"]
        h = mmh3.hash(f"demo.{tokens['activity.id']}.{visitor}.0".encode("utf-16-le"), 0)
        allocation = round((abs(h) % 10000) / 10000 * 100, 2)
        assert tokens["experience.name"] == ("A" if allocation <= 50 else "B"), (visitor, allocation)
        seen.add(tokens["experience.name"])
    assert seen == {"A", "B"}


def test_fixture_allocation_follows_the_weights() -> None:
    fixtures = {
        "mboxes": {
            "m": {
                "experiences": [
                    {"name": "A", "weight": 80, "options": [{"content": "a"}]},
                    {"name": "B", "weight": 20, "options": [{"content": "b"}]},
                    {"name": "Never", "weight": 0, "options": [{"content": "never"}]},
                ]
            }
        }
    }
    engine = DeliveryEngine(fixtures)
    counts = Counter(
        first_option(ok(engine, execute("m", f"t-{n}")))["responseTokens"]["experience.name"] for n in range(3000)
    )
    assert counts["Never"] == 0
    assert 0.76 < counts["A"] / 3000 < 0.84, counts


def test_visitor_falls_back_to_marketing_cloud_id_for_allocation(engine: DeliveryEngine) -> None:
    body = {"id": {"marketingCloudVisitorId": "mcid-7"}, "execute": {"mboxes": [{"name": "hero"}]}}
    names = {first_option(ok(engine, body))["responseTokens"]["experience.name"] for _ in range(10)}
    assert len(names) == 1


def test_execute_and_prefetch_mbox_shapes(engine: DeliveryEngine) -> None:
    tnt = next(f"t{n}" for n in range(100) if offer_name_for(engine, f"t{n}") == "B")
    body = {
        "id": {"tntId": tnt},
        "execute": {"mboxes": [{"index": 4, "name": "hero"}]},
        "prefetch": {"mboxes": [{"index": 2, "name": "hero"}, {"name": "unknown"}]},
    }
    response = ok(engine, body)
    executed = response["execute"]["mboxes"][0]
    assert (executed["index"], executed["name"]) == (4, "hero")
    assert set(executed) == {"index", "name", "options", "metrics"}
    assert executed["options"][0]["type"] == "html" and executed["options"][0]["content"] == "<b>blue</b>"
    assert "eventToken" not in executed["options"][0]
    assert set(executed["options"][0]["responseTokens"]) == FIXTURE_TOKEN_KEYS
    assert executed["options"][0]["responseTokens"]["activity.decisioningMethod"] == "server-side"
    assert [m["type"] for m in executed["metrics"]] == ["click"]  # execute keeps click metrics only
    assert executed["metrics"][0]["eventToken"]

    prefetched, unknown = response["prefetch"]["mboxes"]
    assert (prefetched["index"], prefetched["name"]) == (2, "hero")
    assert isinstance(prefetched["options"][0]["eventToken"], str) and prefetched["options"][0]["eventToken"]
    assert "metrics" not in prefetched  # prefetched mboxes carry no metrics (on-device.md §6), views do
    assert unknown == {"index": 1, "name": "unknown"}  # no options when nothing matches
    assert "pageLoad" not in response["execute"] and "views" not in response["prefetch"]


def offer_name_for(engine: DeliveryEngine, tnt: str) -> str:
    return str(first_option(ok(engine, execute("hero", tnt)))["responseTokens"]["experience.name"])


def test_json_fixture_content_is_returned_as_a_copy(engine: DeliveryEngine) -> None:
    tnt = next(f"t{n}" for n in range(100) if offer_name_for(engine, f"t{n}") == "A")
    option = first_option(ok(engine, execute("hero", tnt)))
    assert option["type"] == "json" and option["content"] == {"color": "red"}
    option["content"]["color"] = "mutated"
    assert first_option(ok(engine, execute("hero", tnt)))["content"] == {"color": "red"}


def test_views_without_a_name_return_every_fixture_view(engine: DeliveryEngine) -> None:
    response = ok(engine, {"id": {"tntId": "v"}, "prefetch": {"views": [{}]}})
    views = response["prefetch"]["views"]
    assert [v["name"] for v in views] == ["cart", "home"]  # sorted; the zero-weight view has no content
    assert views[0]["options"][0]["type"] == "json" and views[0]["options"][0]["content"] == {"cart": True}
    assert all(v["options"][0]["eventToken"] for v in views)


def test_named_views_return_only_those(engine: DeliveryEngine) -> None:
    body = {"id": {"tntId": "v"}, "prefetch": {"views": [{"name": "home", "key": "k1"}, {"name": "home"}]}}
    views = ok(engine, body)["prefetch"]["views"]
    assert len(views) == 1
    # a view's key comes from the artifact's rule (on-device.md §5), not from the request
    assert views[0]["name"] == "home" and "key" not in views[0]
    assert views[0]["options"][0]["content"] == "<i>home</i>"
    nothing = ok(engine, {"id": {"tntId": "v"}, "prefetch": {"views": [{"name": "nope"}]}})
    assert "prefetch" not in nothing


def test_page_load_execute_and_prefetch(engine: DeliveryEngine) -> None:
    body = {
        "id": {"tntId": "v"},
        "execute": {"pageLoad": {}},
        "prefetch": {"pageLoad": {"parameters": {"a": "1"}}},
    }
    response = ok(engine, body)
    executed, prefetched = response["execute"]["pageLoad"], response["prefetch"]["pageLoad"]
    assert executed["options"][0]["content"] == "<p>page</p>"
    assert "eventToken" not in executed["options"][0]
    assert prefetched["options"][0]["eventToken"]
    assert set(prefetched["options"][0]["responseTokens"]) == FIXTURE_TOKEN_KEYS
    # a requested pageLoad without fixture content is still an (empty) object
    assert ok(DeliveryEngine(), {"execute": {"pageLoad": {}}})["execute"] == {"pageLoad": {}}


def test_analytics_client_side_adds_a_payload_per_decided_location(engine: DeliveryEngine) -> None:
    body = {
        "id": {"tntId": "v"},
        "experienceCloud": {"analytics": {"logging": "client_side"}},
        "execute": {
            "pageLoad": {},
            "mboxes": [{"index": 0, "name": "hero"}, {"index": 1, "name": "unknown"}],
        },
        "prefetch": {"views": [{"name": "home"}]},
    }
    response = ok(engine, body)
    hero, unknown = response["execute"]["mboxes"]
    for located in (hero, response["execute"]["pageLoad"], response["prefetch"]["views"][0]):
        payload = located["analytics"]["payload"]
        assert payload["pe"] == "tnt"
        assert re.fullmatch(r"\d+:\d+:0\|2", payload["tnta"])
    assert "analytics" not in unknown
    body["experienceCloud"] = {"analytics": {"logging": "server_side"}}
    assert "analytics" not in ok(engine, body)["execute"]["mboxes"][0]


def test_trace_is_added_per_location_when_requested(engine: DeliveryEngine) -> None:
    # the engine's trace (on-device.md §10), as an on-device client gives it
    body = {
        "id": {"tntId": "v.12_0"},
        "trace": {"authorizationToken": "tok"},
        "execute": {"mboxes": [{"index": 0, "name": "hero", "parameters": {"p": "1"}}, {"index": 1, "name": "x"}]},
        "prefetch": {"views": [{}]},
    }
    response = ok(engine, body)
    hero, unknown = response["execute"]["mboxes"]
    trace = hero["trace"]
    assert trace["clientCode"] == "demo"
    assert trace["profile"]["visitorId"]["tntId"] == "v.12_0"
    assert trace["request"]["sessionId"] == "s1"
    assert trace["request"]["mbox"] == {"type": "execute", "name": "hero", "index": 0, "parameters": {"p": "1"}}
    assert trace["artifact"]["artifactLocation"] == "/emulator/production/v1/rules.json"
    assert trace["campaigns"][0]["id"] == hero["options"][0]["responseTokens"]["activity.id"]
    assert trace["evaluatedCampaignTargets"][0]["context"]["mbox"]["p"] == "1"
    assert unknown["trace"]["campaigns"] == []
    assert response["prefetch"]["views"][0]["trace"]["request"]["view"]["type"] == "prefetch"
    del body["trace"]
    assert "trace" not in ok(engine, body)["execute"]["mboxes"][0]


# ---------------------------------------------------------------------------------------------- repository


def test_live_activity_decides_the_mbox_named_like_its_placement() -> None:
    repository = build_repo([offer(1, priority=1), offer(2, priority=5)])
    response = ok(repo_engine(), execute(), repository)
    option = first_option(response)
    assert option == {
        "type": "html",
        "content": "<p>offer 2</p>",
        "responseTokens": {
            "activity.id": ACT,
            "activity.name": "Hero decision",
            "experience.id": 0,
            "experience.name": "Personalized offer",
            "offer.id": oid(2),
            "offer.name": "Offer 2",
            "option.id": 0,
            "activity.decisioningMethod": "server-side",
        },
    }
    # another placement's name is not decided by this activity
    assert ok(repo_engine(), execute("sidebar"), repository)["execute"]["mboxes"][0] == {
        "index": 0,
        "name": "sidebar",
    }


def test_repository_takes_precedence_over_fixtures() -> None:
    engine = DeliveryEngine(FIXTURES, clock=lambda: NOW)
    live = build_repo([offer(1)])
    assert offer_of(ok(engine, execute(), live)) == oid(1)
    draft = build_repo([offer(1)], activity={"xdm:status": "draft"})
    assert first_option(ok(engine, execute(), draft))["content"] == "<p>from fixtures</p>"


@pytest.mark.parametrize(
    "activity",
    [
        {"xdm:status": "draft"},
        {"xdm:status": "archived"},
        {"xdm:status": "approved"},
        {"xdm:startDate": FUTURE},
        {"xdm:endDate": PAST},
    ],
)
def test_non_live_activities_are_ignored(activity: dict[str, Any]) -> None:
    repository = build_repo([offer(1)], activity=activity)
    assert ok(repo_engine(), execute(), repository)["execute"]["mboxes"][0] == {
        "index": 0,
        "name": "hero-banner",
    }


def test_live_activity_within_its_dates_decides() -> None:
    repository = build_repo([offer(1)], activity={"xdm:startDate": PAST, "xdm:endDate": FUTURE})
    assert offer_of(ok(repo_engine(), execute(), repository)) == oid(1)


def test_filter_type_offers_selects_listed_ids_only() -> None:
    offers = [offer(1, priority=1), offer(2, priority=9), offer(3, priority=5)]
    repository = build_repo(offers, ids=[oid(1), oid(3), "xcore:personalized-offer:missing"])
    assert offer_of(ok(repo_engine(), execute(), repository)) == oid(3)


def test_filter_type_any_tags() -> None:
    offers = [
        offer(1, priority=9, tags=[T_BIG]),
        offer(2, priority=5, tags=[T_BLUE, T_BIG]),
        offer(3, priority=1, tags=[T_RED]),
    ]
    repository = build_repo(offers, filter_type="anyTags", ids=[T_RED, T_BLUE])
    assert offer_of(ok(repo_engine(), execute(), repository)) == oid(2)
    trace_body = {**execute(), "trace": {"authorizationToken": "t"}}
    campaign = ok(repo_engine(), trace_body, repository)["execute"]["mboxes"][0]["trace"]["campaigns"][0]
    assert campaign["candidates"] == [oid(2), oid(3)]


def test_filter_type_all_tags() -> None:
    offers = [
        offer(1, priority=9, tags=[T_RED]),
        offer(2, priority=1, tags=[T_RED, T_BLUE]),
        offer(3, priority=5, tags=[T_BLUE]),
    ]
    repository = build_repo(offers, filter_type="allTags", ids=[T_RED, T_BLUE])
    assert offer_of(ok(repo_engine(), execute(), repository)) == oid(2)


def test_unknown_filter_type_or_missing_filter_gives_the_fallback() -> None:
    repository = build_repo([offer(1)], filter_type="someday")
    assert offer_of(ok(repo_engine(), execute(), repository)) == FB
    missing = build_repo([offer(1)], activity={"xdm:filter": "xcore:offer-filter:gone"})
    assert offer_of(ok(repo_engine(), execute(), missing)) == FB


def test_only_approved_offers_with_a_representation_for_the_placement_qualify() -> None:
    offers = [offer(1, priority=9, status="draft"), offer(2, priority=8, placement=P2), offer(3, priority=1)]
    assert offer_of(ok(repo_engine(), execute(), build_repo(offers))) == oid(3)


def test_highest_priority_wins_and_ties_are_broken_at_random_with_a_seed() -> None:
    offers = [offer(1, priority=3), offer(2, priority=7), offer(3, priority=7), offer(4, priority=7)]
    repository = build_repo(offers)

    def picks(seed: int) -> list[str]:
        engine = repo_engine(seed=seed)
        return [offer_of(ok(engine, execute(tnt=f"v{n}"), repository)) for n in range(30)]

    first = picks(11)
    assert set(first) == {oid(2), oid(3), oid(4)}  # random among the tied top priority, never the lower one
    assert picks(11) == first  # deterministic with the same seed
    assert picks(12) != first


def test_offer_selection_dates_are_inclusive_and_respected() -> None:
    offers = [
        offer(1, priority=9, constraint={"xdm:startDate": FUTURE}),
        offer(2, priority=8, constraint={"xdm:endDate": PAST}),
        offer(3, priority=7, constraint={"xdm:startDate": "2025-06-15T15:06:40Z", "xdm:endDate": FUTURE}),
        offer(4, priority=1),
    ]
    repository = build_repo(offers)
    assert offer_of(ok(repo_engine(), execute(), repository)) == oid(3)
    later = DeliveryEngine(clock=lambda: parse_timestamp("2031-01-01T00:00:00Z") or 0.0)
    assert offer_of(ok(later, execute(), repository)) in {oid(1), oid(4)}
    assert offer_of(ok(later, execute(), build_repo(offers[:3]))) == oid(1)


def test_global_cap_exhaustion_moves_to_the_next_offer_then_the_fallback() -> None:
    offers = [
        offer(1, priority=9, caps={"xdm:globalCap": 2}),
        offer(2, priority=5, caps={"xdm:globalCap": 1}),
    ]
    repository = build_repo(offers)
    engine = repo_engine()
    got = [offer_of(ok(engine, execute(tnt=f"visitor-{n}"), repository)) for n in range(5)]
    assert got == [oid(1), oid(1), oid(2), FB, FB]
    assert engine.impressions(QUERY["imsOrgId"], oid(1)) == 2
    # counters are per organization
    other_org = {"imsOrgId": "other@AdobeOrg", "sessionId": "s"}
    assert offer_of(ok(engine, execute(), repository, query=other_org)) == oid(1)
    engine.reset_counters()
    assert offer_of(ok(engine, execute(), repository)) == oid(1)


def test_profile_cap_is_per_visitor() -> None:
    offers = [
        offer(1, priority=9, caps={"xdm:profileCap": 1}),
        offer(2, priority=5, caps={"xdm:profileCap": 1}),
    ]
    repository = build_repo(offers)
    engine = repo_engine()
    alice = [offer_of(ok(engine, execute(tnt="alice.28_0"), repository)) for _ in range(3)]
    assert alice == [oid(1), oid(2), FB]
    assert offer_of(ok(engine, execute(tnt="bob"), repository)) == oid(1)
    assert offer_of(ok(engine, execute(tnt="alice"), repository)) == FB  # the suffix does not make a new visitor


def test_prefetch_does_not_count_but_its_display_notification_does() -> None:
    repository = build_repo([offer(1, priority=9, caps={"xdm:globalCap": 2}), offer(2)])
    engine = repo_engine()
    for _ in range(4):
        response = ok(engine, prefetch(), repository)
        assert offer_of(response, "prefetch") == oid(1)
    token = first_option(response, "prefetch")["eventToken"]

    def notify(n: int, kind: str = "display", tokens: list[str] | None = None) -> None:
        note = {
            "id": f"n{n}",
            "type": kind,
            "timestamp": n,
            "mbox": {"name": "hero-banner"},
            "tokens": tokens,
        }
        assert ok(engine, {"id": {"tntId": "visitor-1"}, "notifications": [note]})["notifications"] == [{"id": f"n{n}"}]

    notify(1, "click", [token])  # clicks are not impressions
    notify(2, "display", ["not-a-token", "%%%"])
    assert engine.impressions(QUERY["imsOrgId"], oid(1)) == 0
    notify(3, "display", [token, token])  # one impression per distinct token
    assert engine.impressions(QUERY["imsOrgId"], oid(1)) == 1
    assert engine.impressions(QUERY["imsOrgId"], oid(1), "visitor-1") == 1
    notify(4, "display", [token])
    assert offer_of(ok(engine, prefetch(), repository), "prefetch") == oid(2)


def test_notifications_count_before_the_same_requests_decisions() -> None:
    repository = build_repo([offer(1, priority=9, caps={"xdm:profileCap": 1}), offer(2)])
    engine = repo_engine()
    token = first_option(ok(engine, prefetch(), repository), "prefetch")["eventToken"]
    body = {**execute(), "notifications": [{"id": "n", "type": "display", "timestamp": 1, "tokens": [token]}]}
    assert offer_of(ok(engine, body, repository)) == oid(2)


def test_fallback_display_notifications_do_not_count() -> None:
    repository = build_repo([offer(1, status="draft")])
    engine = repo_engine()
    option = first_option(ok(engine, prefetch(), repository), "prefetch")
    assert option["responseTokens"]["offer.id"] == FB
    note = {"id": "n", "type": "display", "timestamp": 1, "tokens": [option["eventToken"]]}
    ok(engine, {"id": {"tntId": "visitor-1"}, "notifications": [note]})
    assert engine.impressions(QUERY["imsOrgId"], FB) == 0


def test_fallback_when_nothing_qualifies() -> None:
    repository = build_repo([offer(1, status="archived"), offer(2, constraint={"xdm:endDate": PAST})])
    option = first_option(ok(repo_engine(), execute(), repository))
    assert option["content"] == "<p>fallback</p>"
    assert option["responseTokens"]["offer.id"] == FB
    assert option["responseTokens"]["offer.name"] == "Fallback"
    assert option["responseTokens"]["activity.id"] == ACT
    assert option["responseTokens"]["experience.name"] == "Fallback offer"


def test_a_fallback_without_a_representation_for_the_placement_gives_an_empty_mbox() -> None:
    fallback = {"@id": FB, "xdm:name": "Fallback", "xdm:status": "approved", "xdm:representations": [rep(P2)]}
    repository = build_repo([], fallback=fallback)
    assert ok(repo_engine(), execute(), repository)["execute"]["mboxes"][0] == {
        "index": 0,
        "name": "hero-banner",
    }


def test_eligibility_rules_against_profile_and_mbox_parameters() -> None:
    def rule(n: int, pql: str) -> dict[str, Any]:
        condition = {"xdm:value": pql, "xdm:format": "pql/text", "xdm:type": "PQL"}
        return {"@id": f"xcore:eligibility-rule:{n}", "xdm:name": f"r{n}", "xdm:condition": condition}

    rules = [rule(1, 'profile.tier = "gold"'), rule(2, "@{https://ns.adobe.com/x}.page == 'home'")]
    offers = [
        offer(1, priority=9, constraint={"xdm:eligibilityRule": "xcore:eligibility-rule:1"}),
        offer(2, priority=5, constraint={"xdm:eligibilityRule": "xcore:eligibility-rule:2"}),
        offer(3, priority=1),
    ]
    repository = build_repo(offers, rules=rules)
    engine = repo_engine()
    assert offer_of(ok(engine, execute(profileParameters={"tier": "gold"}), repository)) == oid(1)
    assert offer_of(ok(engine, execute(profileParameters={"tier": "silver"}), repository)) == oid(3)
    assert offer_of(ok(engine, execute(parameters={"page": "home"}), repository)) == oid(2)
    assert offer_of(ok(engine, execute(parameters={"tier": "gold"}), repository)) == oid(3)  # not a profile attr


@pytest.mark.parametrize(
    ("pql", "parameters", "profile", "expected"),
    [
        ("", {}, {}, True),
        ("true", {}, {}, True),
        ("  TRUE ", {}, {}, True),
        ("false", {}, {}, False),
        ('profile.tier = "gold"', {}, {"tier": "gold"}, True),
        ('profile.tier = "gold"', {}, {"tier": "Gold"}, False),
        ('profile.tier = "gold"', {}, {}, False),
        ('profile.tier != "gold"', {}, {"tier": "bronze"}, True),
        ("profile.age >= 18", {}, {"age": "21"}, True),
        ("profile.age > 18", {}, {"age": "12"}, False),
        ("profile.age < 18", {}, {"age": "old"}, False),
        ("visits = 3", {"visits": "3"}, {}, True),
        ("profile.vip = true", {}, {"vip": "TRUE"}, True),
        ('profile.a = "1" and profile.b = "2"', {}, {"a": "1", "b": "2"}, True),
        ('profile.a = "1" and profile.b = "2"', {}, {"a": "1", "b": "3"}, False),
        ('profile.a = "9" or profile.b = "2"', {}, {"a": "1", "b": "2"}, True),
        ('profile.a = "9" or profile.b = "2" and profile.c = "3"', {}, {"b": "2"}, False),
        ('mbox.page = "a\\"b"', {"page": 'a"b'}, {}, True),
        ("person.name.startsWith('J')", {}, {}, True),  # unparseable: qualifies
        ('(profile.tier = "gold")', {}, {}, True),
        ('profile.tier = "gold" and', {}, {}, True),
        ('profile.tier in ["a"]', {}, {}, True),
    ],
)
def test_pql_subset(pql: str, parameters: dict[str, Any], profile: dict[str, Any], expected: bool) -> None:
    assert evaluate_pql(pql, parameters, profile) is expected


def test_unparseable_or_missing_rules_qualify() -> None:
    rules = [{"@id": "xcore:eligibility-rule:1", "xdm:condition": {"xdm:value": "inSegment('abc')"}}]
    offers = [
        offer(1, priority=9, constraint={"xdm:eligibilityRule": "xcore:eligibility-rule:1"}),
        offer(2, priority=5),
    ]
    assert offer_of(ok(repo_engine(), execute(), build_repo(offers, rules=rules))) == oid(1)


@pytest.mark.parametrize(
    ("component", "expected"),
    [
        ({"xdm:content": "<p>hi</p>"}, ("html", "<p>hi</p>")),
        ({"xdm:content": '{"color": "red"}', "dc:format": "text/html"}, ("json", {"color": "red"})),
        ({"xdm:content": "[1, 2]", "dc:format": "application/json"}, ("json", [1, 2])),
        ({"xdm:content": "[1, 2]"}, ("html", "[1, 2]")),
        ({"xdm:content": "{not json"}, ("html", "{not json")),
        ({"xdm:content": {"a": 1}}, ("json", {"a": 1})),
        (
            {"@type": IMAGE, "xdm:deliveryURL": "https://cdn/x.png", "xdm:linkURL": "https://l"},
            ("html", "https://cdn/x.png"),
        ),
        ({"@type": IMAGE, "xdm:linkURL": "https://l/x.png"}, ("html", "https://l/x.png")),
        ({"@type": TEXT, "xdm:copyline": "Buy now"}, ("html", "Buy now")),
        ({}, ("html", "")),
    ],
)
def test_option_content_from_the_representation(component: dict[str, Any], expected: tuple[str, Any]) -> None:
    assert option_from_representation(rep(PL, **component)) == expected
    assert option_from_representation({"xdm:placement": PL}) == ("html", "")


def test_repository_json_content_reaches_the_option() -> None:
    repository = build_repo([offer(1, content='{"hero": "sale"}')])
    option = first_option(ok(repo_engine(), prefetch(), repository), "prefetch")
    assert (option["type"], option["content"]) == ("json", {"hero": "sale"})
    assert option["eventToken"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-15T15:06:40Z", NOW),
        ("2025-06-15T17:06:40+02:00", NOW),
        ("2025-06-15T15:06:40.5Z", NOW + 0.5),
        ("2025-06-15T15:06:40", NOW),
        ("2025-06-15", NOW - (15 * 3600 + 6 * 60 + 40)),
        ("2025-13-01T00:00:00Z", None),
        ("yesterday", None),
        (12, None),
    ],
)
def test_parse_timestamp(text: Any, expected: float | None) -> None:
    assert parse_timestamp(text) == expected


def test_repository_is_indexed_once_per_request() -> None:
    repository = build_repo(
        [offer(n, priority=n % 3, tags=[T_RED]) for n in range(50)], filter_type="anyTags", ids=[T_RED]
    )
    mboxes = [{"index": i, "name": "hero-banner" if i % 2 else "other"} for i in range(40)]
    body = {"id": {"tntId": "v"}, "execute": {"mboxes": mboxes}, "prefetch": {"mboxes": mboxes}}
    response = ok(repo_engine(), body, repository)
    assert len(response["execute"]["mboxes"]) == 40
    assert all(Counter(repository.calls)[s] == 1 for s in set(repository.calls)), Counter(repository.calls)
    assert RULE not in repository.calls  # only what the decisions needed
    repository.calls.clear()
    ok(repo_engine(), {"id": {"tntId": "v"}, "execute": {"pageLoad": {}}}, repository)
    assert repository.calls == []  # no mbox: no repository reads
    ok(repo_engine(), execute("unrelated"), repository)
    assert set(repository.calls) <= {ACTIVITY, PLACEMENT}


def test_global_cap_holds_under_concurrent_execute_calls() -> None:
    repository = build_repo([offer(1, priority=9, caps={"xdm:globalCap": 37}), offer(2)])
    engine = repo_engine()
    barrier = threading.Barrier(8)

    def worker(w: int) -> list[str]:
        barrier.wait()
        return [offer_of(ok(engine, execute(tnt=f"w{w}-{n}"), repository)) for n in range(25)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [o for chunk in pool.map(worker, range(8)) for o in chunk]
    assert Counter(results) == {oid(1): 37, oid(2): 8 * 25 - 37}
