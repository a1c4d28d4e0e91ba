"""One test per row of on-device.md §11: the defects of Adobe's engine this one must not reproduce."""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest

from target_async._serde import unstructure
from target_async.decisioning import DecisionEngine, _call as call_module, _engine as engine_module, load_artifact
from target_async.decisioning._context import allocation
from target_async.decisioning._trace import Tracer
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
    RequestDetails,
    Trace,
    VisitorId,
)

from .builders import CHROME, engine, request, rule
from .vectors import artifact_text

NOW = 1585098300.123  # 2020-03-25T01:05:00.123Z


def _global_mbox_engine() -> DecisionEngine:
    return DecisionEngine(load_artifact(artifact_text("TEST_ARTIFACT_GLOBAL_MBOX")), client="someClientId")


def _ab_engine() -> DecisionEngine:
    return DecisionEngine(load_artifact(artifact_text("TEST_ARTIFACT_AB_MULTI_SIMPLE")), client="someClientId")


def test_page_load_only_when_requested() -> None:
    # official: every request evaluates the global mbox and sends its display notifications
    engine = _global_mbox_engine()
    decision = engine.decide(request("mbox-x", url="http://local-target-test/"), now=NOW)
    wire = unstructure(decision.response)
    assert "pageLoad" not in wire["execute"]
    assert "prefetch" not in wire
    assert decision.notifications == []
    # ... while a request for the page load gets it, with one notification per matched global-mbox rule
    page = DeliveryRequest(
        id=VisitorId(tnt_id="v"),
        context=Context(user_agent=CHROME, address=Address(url="http://local-target-test/")),
        execute=ExecuteRequest(page_load=RequestDetails()),
    )
    decision = engine.decide(page, now=NOW)
    assert decision.response.execute is not None and decision.response.execute.page_load is not None
    assert decision.response.execute.page_load.options
    assert decision.notifications
    assert {n.mbox.name for n in decision.notifications if n.mbox} == {"target-global-mbox"}


def test_the_decisioning_method_is_the_one_used() -> None:
    # official: meta.decisioning_method is the configured one ("hybrid") for a request served locally
    decision = _ab_engine().decide(request("mbox-magician"), now=NOW)
    assert decision.decisioning_method == "on-device"


def test_the_remote_check_counts_the_global_mbox_of_a_page_load() -> None:
    # official: a pageLoad request is "local" although the artifact lists the global mbox as remote
    engine = _global_mbox_engine()  # this fixture lists target-global-mbox in remoteMboxes
    page = DeliveryRequest(
        id=VisitorId(tnt_id="v"),
        context=Context(user_agent=CHROME),
        prefetch=PrefetchRequest(page_load=RequestDetails()),
    )
    assert engine.remote_dependencies(page) == (("target-global-mbox",), ())
    decision = engine.decide(page, now=NOW)
    assert decision.response.status == 206
    assert decision.remote_mboxes == ("target-global-mbox",)
    # an mbox request that does not touch the page load stays local
    assert engine.remote_dependencies(request("mbox-browsers")) == ((), ())


def test_a_customer_id_only_visitor_gets_one_allocation_per_activity(monkeypatch: pytest.MonkeyPatch) -> None:
    # official: a fresh random id per rule, so an A/B test split over two rules can match neither
    calls: list[tuple[Any, ...]] = []
    real = allocation

    def counting(*args: Any) -> float:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(call_module, "allocation", counting)
    ab = _ab_engine()  # mbox-magician: experience A for allocation 0-50, B for 50-100, same activity
    customer = VisitorId(
        customer_ids=[
            CustomerId(id="c-1", integration_code="crm", authenticated_state=AuthenticatedState.AUTHENTICATED)
        ]
    )
    for _ in range(200):
        calls.clear()
        req = DeliveryRequest(
            id=customer,
            context=Context(user_agent=CHROME),
            execute=ExecuteRequest(mboxes=[MboxRequest(name="mbox-magician", index=0)]),
        )
        decision = ab.decide(req, now=NOW)
        mbox = decision.response.execute.mboxes[0]  # type: ignore[union-attr,index]
        assert mbox.options and len(mbox.options) == 1  # always one of the two experiences
        assert len({c[2] for c in calls}) == 1  # one visitor id for the whole request
        assert len(calls) == 1  # hashed once for the activity, not once per rule
    # the customer id is authenticated: no tntId is made up for it
    assert decision.request.id is not None and decision.request.id.tnt_id is None


def test_numbers_and_numeric_strings_compare_as_numbers() -> None:
    # official (Python json-logic): 37.8 == "37.80" is false (string comparison)
    e = engine({"m": [rule("r", {"==": [{"var": "mbox.price"}, 37.8]})]})
    req = DeliveryRequest(
        id=VisitorId(tnt_id="v"),
        execute=ExecuteRequest(mboxes=[MboxRequest(name="m", index=0, parameters={"price": "37.80"})]),
    )
    assert e.decide(req, now=NOW).response.execute.mboxes[0].options  # type: ignore[union-attr,index]
    e = engine({"m": [rule("r", {"<": [{"var": "mbox.price"}, 100]})]})
    req.execute.mboxes[0].parameters = {"price": "99.5"}  # type: ignore[union-attr,index]
    assert e.decide(req, now=NOW).response.execute.mboxes[0].options  # type: ignore[union-attr,index]


def test_the_clock_keeps_its_milliseconds() -> None:
    # official: "now" rounded up to whole seconds
    at = 1585098300123
    e = engine({"m": [rule("r", {"<=": [at, {"var": "current_timestamp"}]})]})
    before = e.decide(request("m"), now=(at - 1) / 1000)
    after = e.decide(request("m"), now=at / 1000)
    assert not before.response.execute.mboxes[0].options  # type: ignore[union-attr,index]
    assert after.response.execute.mboxes[0].options  # type: ignore[union-attr,index]
    assert after.notifications[0].timestamp == at
    assert after.telemetry is not None and after.telemetry.timestamp == at


@pytest.mark.parametrize(
    ("url", "key", "value"),
    [
        ("https://awwwesome.example.com/", "subdomain", "awwwesome"),  # official: "www" removed anywhere
        ("https://www.shop.example.co.uk/", "subdomain", "shop"),
        ("http://User:pw@Local-Target-Test:8080/x", "domain", "local-target-test"),  # port, user-info, case
    ],
)
def test_page_hosts_are_read_as_hostnames(url: str, key: str, value: str) -> None:
    e = engine({"m": [rule("r", {"==": [{"var": f"page.{key}"}, value]})]})
    decision = e.decide(request("m", url=url), now=NOW)
    assert decision.response.execute.mboxes[0].options, unstructure(decision.response)  # type: ignore[union-attr,index]


def test_the_callers_request_id_and_time_offset_are_kept() -> None:
    # official: both overwritten
    req = request("mbox-magician", request_id="caller-request-1")
    req.context.time_offset_in_minutes = -300  # type: ignore[union-attr]
    before = unstructure(req)
    decision = _ab_engine().decide(req, now=NOW)
    assert decision.request.request_id == "caller-request-1"
    assert decision.response.request_id == "caller-request-1"
    assert decision.telemetry is not None and decision.telemetry.request_id == "caller-request-1"
    sent = decision.notification_request()
    assert sent is not None and sent.context is not None and sent.context.time_offset_in_minutes == -300
    assert unstructure(req) == before  # the caller's request is not changed


def test_execute_omits_metrics_without_a_click_metric() -> None:
    # official: execute keeps "metrics": []
    decision = _ab_engine().decide(request("mbox-magician"), now=NOW)
    mbox = unstructure(decision.response)["execute"]["mboxes"][0]
    assert "metrics" not in mbox
    e = engine(
        {
            "m": [
                rule(
                    "r",
                    metrics=[
                        {"type": "click", "selector": "#b", "eventToken": "c1"},
                        {"type": "display", "eventToken": "d1"},
                    ],
                )
            ]
        }
    )
    mbox = unstructure(e.decide(request("m"), now=NOW).response)["execute"]["mboxes"][0]
    assert mbox["metrics"] == [{"type": "click", "selector": "#b", "eventToken": "c1"}]


def test_no_geo_lookup_without_a_valid_ip() -> None:
    # official: a lookup with no IP locates the server
    e = engine({"m": [rule("r")]}, geoTargetingEnabled=True)

    def with_geo(geo: Geo | None) -> DeliveryRequest:
        return DeliveryRequest(context=Context(geo=geo), execute=ExecuteRequest(mboxes=[MboxRequest(name="m")]))

    assert e.geo_lookup_ip(with_geo(None)) is None
    assert e.geo_lookup_ip(with_geo(Geo())) is None
    assert e.geo_lookup_ip(with_geo(Geo(ip_address="not-an-ip"))) is None
    assert e.geo_lookup_ip(with_geo(Geo(ip_address="999.1.1.1"))) is None
    assert e.geo_lookup_ip(with_geo(Geo(ip_address="203.0.113.9"))) == "203.0.113.9"
    assert e.geo_lookup_ip(with_geo(Geo(ip_address="2001:db8::1"))) == "2001:db8::1"
    assert e.geo_lookup_ip(with_geo(Geo(ip_address="203.0.113.9", city="Paris"))) is None  # geo already known
    off = engine({"m": [rule("r")]}, geoTargetingEnabled=False)
    assert off.geo_lookup_ip(with_geo(Geo(ip_address="203.0.113.9"))) is None


def test_telemetry_execution_is_this_calls_milliseconds() -> None:
    # official: whole seconds since the process's first call
    e = _ab_engine()
    first = e.decide(request("mbox-magician"), now=NOW)
    second = e.decide(request("mbox-magician"), now=NOW + 3600)
    for decision in (first, second):
        assert decision.telemetry is not None
        execution = decision.telemetry.execution
        assert isinstance(execution, float) and 0 < execution < 1000
    assert second.telemetry.features.decisioning_method == "on-device"  # type: ignore[union-attr]


def test_a_traced_request_never_fails_because_of_its_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    # official: raises after the notification was sent
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("trace exploded")

    monkeypatch.setattr(Tracer, "result", broken)
    monkeypatch.setattr(Tracer, "evaluated", broken)
    req = request("mbox-magician", trace=Trace())
    decision = _ab_engine().decide(req, now=NOW, trace={"artifactLocation": object()})
    mbox = decision.response.execute.mboxes[0]  # type: ignore[union-attr,index]
    assert mbox.options
    assert mbox.trace is not None and "trace exploded" in mbox.trace["error"]
    assert len(decision.notifications) == 1


def test_a_broken_trace_setup_is_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no trace today")

    monkeypatch.setattr(engine_module, "trace_common", broken)
    decision = _ab_engine().decide(request("mbox-magician", trace=Trace()), now=NOW)
    assert decision.response.execute.mboxes[0].options  # type: ignore[union-attr,index]


def test_no_deep_copies_no_threads_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # official: deep copy of the whole config per call, a thread per notification
    def no_deepcopy(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("deepcopy on the decision path")

    monkeypatch.setattr(copy, "deepcopy", no_deepcopy)
    e = _global_mbox_engine()
    threads = threading.active_count()
    page = DeliveryRequest(
        id=VisitorId(tnt_id="v"),
        context=Context(user_agent=CHROME, address=Address(url="http://local-target-test/")),
        execute=ExecuteRequest(page_load=RequestDetails(), mboxes=[MboxRequest(name="target-global-mbox", index=1)]),
    )
    for _ in range(20):
        assert e.decide(page, now=NOW).notifications
    assert threading.active_count() == threads
