"""The decision engine beyond the vectors: routing, identity, property tokens, isolation, memory bounds."""

from __future__ import annotations

import gc
import sys
from typing import Any

import pytest

from target_async._serde import unstructure
from target_async.decisioning import Decision, DecisionEngine, _url, load_artifact
from target_async.decisioning._context import allocation
from target_async.models import (
    Address,
    AuthenticatedState,
    Context,
    CustomerId,
    DeliveryRequest,
    ExecuteRequest,
    Geo,
    MboxRequest,
    PrefetchRequest,
    Property,
    RequestDetails,
    ViewRequest,
    VisitorId,
)

from .builders import CHROME, engine, request, rule
from .vectors import REAL_ARTIFACT, artifact_text

NOW = 1_600_000_000.0


def _mbox(decision: Decision, index: int = 0, execute: bool = True) -> dict[str, Any]:
    wire = unstructure(decision.response)
    return wire["execute" if execute else "prefetch"]["mboxes"][index]  # type: ignore[no-any-return]


# --- routing (§1) -------------------------------------------------------------------------------------------


def test_remote_and_unknown_mboxes_make_a_206_with_sorted_remote_lists() -> None:
    e = engine({"m": [rule("r")], "server-only": [rule("s")]}, remoteMboxes=["server-only"])
    req = request("zeta-unknown", "m", "server-only", "alpha-unknown")
    assert e.remote_dependencies(req) == (("alpha-unknown", "server-only", "zeta-unknown"), ())
    decision = e.decide(req, now=NOW)
    assert decision.response.status == 206 and decision.status == 206
    assert decision.remote_mboxes == ("alpha-unknown", "server-only", "zeta-unknown")
    # what is local is decided, in request order, and an unknown mbox gets a blank response
    mboxes = unstructure(decision.response)["execute"]["mboxes"]
    assert [m["name"] for m in mboxes] == ["zeta-unknown", "m", "server-only", "alpha-unknown"]
    assert mboxes[0] == {"index": 0, "name": "zeta-unknown"}
    assert mboxes[1]["options"][0]["content"] == {"rule": "r"}


def test_a_local_request_is_a_200_with_empty_remote_lists() -> None:
    decision = engine({"m": [rule("r")]}).decide(request("m"), now=NOW)
    assert decision.response.status == 200
    assert decision.remote_mboxes == () and decision.remote_views == ()


def test_remote_views() -> None:
    e = engine(views={"home": [rule("h", mbox="home")]}, remoteViews=["cart", "account"], localViews=["home"])

    def views(*names: str | None) -> DeliveryRequest:
        return DeliveryRequest(prefetch=PrefetchRequest(views=[ViewRequest(name=n) for n in names]))

    assert e.remote_dependencies(views(None)) == ((), ("account", "cart"))  # no name: every remote view
    assert e.remote_dependencies(views("home")) == ((), ())
    assert e.remote_dependencies(views("home", "cart", "elsewhere")) == ((), ("cart", "elsewhere"))
    decision = e.decide(views("home", "cart"), now=NOW)
    assert decision.response.status == 206 and decision.remote_views == ("cart",)
    assert [v.name for v in decision.response.prefetch.views] == ["home"]  # type: ignore[union-attr]


# --- identity and request (§3) ------------------------------------------------------------------------------


def test_an_anonymous_request_gets_a_tnt_id_with_the_location_hint() -> None:
    e = engine({"m": [rule("r")]})
    decision = e.decide(request("m", tnt_id=None), now=NOW, location_hint="34")
    tnt = decision.request.id.tnt_id  # type: ignore[union-attr]
    assert tnt is not None and tnt.endswith(".34_0") and len(tnt.partition(".")[0]) == 32
    assert decision.response.id is not None and decision.response.id.tnt_id == tnt
    assert decision.request.request_id and decision.response.request_id == decision.request.request_id
    assert e.decide(request("m", tnt_id=None), now=NOW).request.id.tnt_id != tnt  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("ids", "made"),
    [
        (VisitorId(third_party_id="t"), False),
        (VisitorId(marketing_cloud_visitor_id="mc"), False),
        (VisitorId(customer_ids=[CustomerId(id="c", authenticated_state=AuthenticatedState.AUTHENTICATED)]), False),
        (VisitorId(customer_ids=[CustomerId(id="c", authenticated_state=AuthenticatedState.LOGGED_OUT)]), True),
        (VisitorId(), True),
    ],
)
def test_which_visitors_get_a_tnt_id(ids: VisitorId, made: bool) -> None:
    req = request("m", tnt_id=None)
    req.id = ids
    decision = engine({"m": [rule("r")]}).decide(req, now=NOW)
    assert (decision.request.id.tnt_id is not None) is made  # type: ignore[union-attr]
    assert req.id.tnt_id is None  # the caller's ids are not changed


def test_allocation_uses_the_tnt_id_without_its_location() -> None:
    e = engine({"m": [rule("low", {"<=": [{"var": "allocation"}, 50]}), rule("high", True)]})
    for tnt in ("abc", "abc.28_0", "abc.35_0"):
        expected = "low" if allocation("acme", 1, "abc") <= 50 else "high"
        assert _mbox(e.decide(request("m", tnt_id=tnt), now=NOW))["options"][0]["content"] == {"rule": expected}


def test_the_caller_cannot_change_the_engine_through_a_response() -> None:
    e = engine({"m": [rule("r", content={"list": [1, {"deep": True}]})]})
    first = e.decide(request("m"), now=NOW)
    option = first.response.execute.mboxes[0].options[0]  # type: ignore[union-attr,index]
    option.content["list"][1]["deep"] = "changed"
    option.content["new"] = 1
    option.response_tokens["activity.id"] = "changed"  # type: ignore[index]
    again = _mbox(e.decide(request("m"), now=NOW))["options"][0]
    assert again["content"] == {"list": [1, {"deep": True}]}
    assert again["responseTokens"]["activity.id"] == 1


def test_only_the_requested_sections_are_answered() -> None:
    e = engine({"m": [rule("r")], "target-global-mbox": [rule("g")]})
    assert set(unstructure(e.decide(request("m", prefetch=True), now=NOW).response)) == {
        "status",
        "requestId",
        "id",
        "client",
        "prefetch",
    }
    assert unstructure(e.decide(request("m"), now=NOW).response)["execute"].keys() == {"mboxes"}
    page = DeliveryRequest(execute=ExecuteRequest(page_load=RequestDetails()))
    assert unstructure(e.decide(page, now=NOW).response)["execute"].keys() == {"pageLoad"}


# --- property tokens (§3) -------------------------------------------------------------------------------------


def _property_engine() -> DecisionEngine:
    return engine(
        {
            "m": [
                rule("x", property_tokens=["token-x"]),
                rule("xy", property_tokens=["token-x", "token-y"]),
                rule("any", property_tokens=[]),
            ]
        }
    )


@pytest.mark.parametrize(
    ("request_token", "client_token", "expected"),
    [
        ("token-x", None, "x"),
        ("token-y", None, "xy"),
        (None, "token-y", "xy"),  # the client's token when the request names none
        ("token-y", "token-x", "xy"),  # the request's token wins
        ("token-z", None, "any"),  # a token no rule names sees only the rules without tokens
        (None, None, "any"),
    ],
)
def test_property_tokens_filter_rules(request_token: str | None, client_token: str | None, expected: str) -> None:
    req = request("m")
    if request_token:
        req.property = Property(token=request_token)
    decision = _property_engine().decide(req, now=NOW, property_token=client_token)
    assert _mbox(decision)["options"][0]["content"] == {"rule": expected}


def test_property_tokens_of_the_properties_fixture() -> None:
    e = DecisionEngine(load_artifact(artifact_text("TEST_ARTIFACT_PROPERTIES")), client="targettesting")
    page = DeliveryRequest(
        id=VisitorId(tnt_id="v"),
        context=Context(user_agent=CHROME),
        prefetch=PrefetchRequest(page_load=RequestDetails()),
    )
    without = e.decide(page, now=NOW).response.prefetch.page_load.options  # type: ignore[union-attr]
    page.property = Property(token="f12c912a-792f-6c01-4977-65d39558c82e")
    with_token = e.decide(page, now=NOW).response.prefetch.page_load.options  # type: ignore[union-attr]
    assert without is not None and with_token is not None and len(with_token) > len(without)


# --- evaluation and shaping (§5, §6, §8) -----------------------------------------------------------------------


def test_the_first_satisfied_rule_wins_for_an_mbox() -> None:
    e = engine({"m": [rule("no", False), rule("first", True), rule("second", True)]})
    assert _mbox(e.decide(request("m"), now=NOW))["options"][0]["content"] == {"rule": "first"}


def test_page_load_merges_every_satisfied_rule_once_per_rule_key() -> None:
    e = engine(
        {
            "target-global-mbox": [
                rule("a", True, metrics=[{"type": "click", "eventToken": "c1"}]),
                rule("a", True),  # same key: already satisfied
                rule("b", False),
                rule("c", True, activity=2, metrics=[{"type": "click", "eventToken": "c1"}]),
            ]
        }
    )
    page = DeliveryRequest(execute=ExecuteRequest(page_load=RequestDetails()))
    decision = e.decide(page, now=NOW)
    wire = unstructure(decision.response)["execute"]["pageLoad"]
    assert [o["content"] for o in wire["options"]] == [{"rule": "a"}, {"rule": "c"}]
    assert wire["metrics"] == [{"type": "click", "eventToken": "c1"}]  # deduplicated by event token
    assert [n.tokens for n in decision.notifications] == [["token-a"], ["token-c"]]
    assert {n.mbox.name for n in decision.notifications} == {"target-global-mbox"}  # type: ignore[union-attr]


def test_notifications_are_deduplicated_and_prefetch_makes_none() -> None:
    e = engine({"m": [rule("r")]})
    decision = e.decide(request("m", "m"), now=NOW)
    assert len(decision.notifications) == 1
    n = decision.notifications[0]
    assert n.type == "display" and n.timestamp == int(NOW * 1000) and n.id and n.impression_id
    assert n.id != n.impression_id
    assert e.decide(request("m", prefetch=True), now=NOW).notifications == []


def test_notification_request_carries_ids_context_and_telemetry() -> None:
    e = engine({"m": [rule("r")]})
    decision = e.decide(request("m"), now=NOW)
    sent = unstructure(decision.notification_request(request_id="n-1"))
    assert sent["requestId"] == "n-1"
    assert sent["id"] == {"tntId": "visitor-1"}
    assert sent["context"]["userAgent"] == CHROME
    assert len(sent["notifications"]) == 1 and len(sent["telemetry"]["entries"]) == 1
    features = sent["telemetry"]["entries"][0]["features"]
    assert features == {
        "decisioningMethod": "on-device",
        "executeMboxCount": 1,
        "executePageLoad": False,
        "prefetchMboxCount": 0,
        "prefetchPageLoad": False,
        "prefetchViewCount": 0,
    }
    quiet = e.decide(request("m", prefetch=True), now=NOW, telemetry=False)
    assert quiet.telemetry is None and quiet.notification_request() is None
    telemetry_only = e.decide(request("m", prefetch=True), now=NOW)
    sent_telemetry = unstructure(telemetry_only.notification_request())
    assert "notifications" not in sent_telemetry and sent_telemetry["telemetry"]["entries"]


def test_geo_response_tokens_and_the_geo_context() -> None:
    e = engine({"m": [rule("r", {"==": [{"var": "geo.city"}, "PARIS"]})]})
    req = request("m")
    req.context.geo = Geo(ip_address="203.0.113.9")  # type: ignore[union-attr]
    assert "options" not in _mbox(e.decide(req, now=NOW))
    decision = e.decide(req, now=NOW, geo={"city": "PARIS", "countryCode": "FR"})
    tokens = _mbox(decision)["options"][0]["responseTokens"]
    assert tokens == {"activity.id": 1, "activity.decisioningMethod": "on-device", "geo.city": "PARIS"}
    req.context.geo = Geo(city="PARIS")  # type: ignore[union-attr]
    assert _mbox(e.decide(req, now=NOW))["options"]


def test_an_mbox_with_its_own_address_has_its_own_page() -> None:
    e = engine({"m": [rule("r", {"==": [{"var": "page.path"}, "/own"]})]})
    req = request("m", url="https://example.com/request")
    assert "options" not in _mbox(e.decide(req, now=NOW))
    req.execute.mboxes[0].address = Address(url="https://example.com/own")  # type: ignore[union-attr,index]
    assert _mbox(e.decide(req, now=NOW))["options"]


def test_views_unnamed_means_every_view_sorted_by_name() -> None:
    e = engine(
        views={
            "zeta": [rule("z", mbox="zeta")],
            "alpha": [rule("a", {"==": [{"var": "mbox.p"}, "1"]}, mbox="alpha")],
        }
    )
    req = DeliveryRequest(prefetch=PrefetchRequest(views=[ViewRequest(parameters={"p": "1"})]))
    views = unstructure(e.decide(req, now=NOW).response)["prefetch"]["views"]
    assert [v["name"] for v in views] == ["alpha", "zeta"]
    assert views[0]["options"][0]["eventToken"] == "token-a"  # prefetch keeps event tokens
    named = DeliveryRequest(prefetch=PrefetchRequest(views=[ViewRequest(name="zeta")]))
    assert [v["name"] for v in unstructure(e.decide(named, now=NOW).response)["prefetch"]["views"]] == ["zeta"]


def test_a_condition_that_fails_is_not_satisfied() -> None:
    e = engine({"m": [rule("r", {"in": ["x", {"var": "mbox.missing"}]}), rule("fallback")]})
    assert _mbox(e.decide(request("m"), now=NOW))["options"][0]["content"] == {"rule": "fallback"}


def test_prefetch_option_takes_the_display_metric_token() -> None:
    raw = rule("r", metrics=[{"type": "display", "eventToken": "display-token"}])
    del raw["consequence"]["options"][0]["eventToken"]
    e = engine({"m": [raw]})
    assert _mbox(e.decide(request("m", prefetch=True), now=NOW), execute=False)["options"][0]["eventToken"] == (
        "display-token"
    )
    assert e.decide(request("m"), now=NOW).notifications[0].tokens == ["display-token"]


def test_the_clock_defaults_to_time_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setattr(time, "time", lambda: 1234.5678)
    decision = engine({"m": [rule("r")]}).decide(request("m"))
    assert decision.notifications[0].timestamp == 1234568


# --- memory (§4, §11: every memo bounded) ----------------------------------------------------------------------


def _real_engine() -> DecisionEngine:
    return DecisionEngine(load_artifact(REAL_ARTIFACT.read_bytes()), client="targettesting")


def _visitor(i: int, url: str = "https://example.com/") -> DeliveryRequest:
    return DeliveryRequest(
        id=VisitorId(tnt_id=f"visitor-{i}"),
        context=Context(user_agent=CHROME, address=Address(url=url)),
        execute=ExecuteRequest(mboxes=[MboxRequest(name="mbox-magician", index=0)]),
        prefetch=PrefetchRequest(mboxes=[MboxRequest(name="mbox-urlcontains", index=0)]),
    )


def test_the_engine_keeps_nothing_per_visitor() -> None:
    e = _real_engine()
    for i in range(200):  # warm up every lazy structure
        e.decide(_visitor(i), now=NOW)
    gc.collect()
    base = sys.getallocatedblocks()
    for i in range(200, 3200):
        e.decide(_visitor(i), now=NOW)
    gc.collect()
    grown = sys.getallocatedblocks() - base
    assert grown < 1000, grown  # 3,000 visitors: no memo grows with them (one block per visitor would be 3,000)


def test_page_memos_stay_bounded() -> None:
    e = _real_engine()
    for i in range(_url.CACHE_SIZE + 500):
        e.decide(_visitor(i, url=f"https://shop.example.com/p/{i}"), now=NOW)
    assert _url._parse_cached.cache_info().currsize == _url.CACHE_SIZE
