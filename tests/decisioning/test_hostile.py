"""Any request is decided or answered 206, never an exception (issue #12 item 4), on the real artifact."""

from __future__ import annotations

import json
from functools import cache

from hypothesis import HealthCheck, given, settings, strategies as st

from target_async._serde import unstructure
from target_async.decisioning import DecisionEngine, load_artifact
from target_async.models import (
    Address,
    AuthenticatedState,
    ClientHints,
    Context,
    CustomerId,
    DeliveryRequest,
    ExecuteRequest,
    Geo,
    MboxRequest,
    PrefetchRequest,
    Property,
    RequestDetails,
    Trace,
    ViewRequest,
    VisitorId,
)

from .vectors import REAL_ARTIFACT


@cache
def _engine() -> DecisionEngine:
    return DecisionEngine(load_artifact(REAL_ARTIFACT.read_bytes()), client="targettesting")


_names = sorted(json.loads(REAL_ARTIFACT.read_bytes())["localMboxes"]) + ["", "unknown", "target-global-mbox"]
text = st.text(max_size=40)
maybe = st.none() | text
params = st.none() | st.dictionaries(
    st.sampled_from(["a", "a.b", "a..b", ".x", "x.", "jason", "greg", "foo"]) | text, text, max_size=5
)
address = st.none() | st.builds(
    Address,
    url=st.none()
    | st.sampled_from(["https://www.a.co.uk:8080/p?q#f", "http://u:p@HOST/", "not a url", "//x", "http://[::1]/"])
    | text,
    referring_url=maybe,
)
details = st.builds(RequestDetails, parameters=params, address=address)
mboxes = st.none() | st.lists(
    st.builds(
        MboxRequest,
        name=st.none() | st.sampled_from(_names) | text,
        index=st.none() | st.integers(-5, 50),
        parameters=params,
        address=address,
    ),
    max_size=4,
)
views = st.none() | st.lists(
    st.builds(ViewRequest, name=st.none() | st.sampled_from(["home", "contact", "nope"]), parameters=params), max_size=3
)
ids = st.none() | st.builds(
    VisitorId,
    tnt_id=maybe,
    third_party_id=maybe,
    marketing_cloud_visitor_id=maybe,
    customer_ids=st.none()
    | st.lists(
        st.builds(CustomerId, id=maybe, authenticated_state=st.none() | st.sampled_from(list(AuthenticatedState))),
        max_size=2,
    ),
)
geo = st.none() | st.builds(
    Geo, ip_address=maybe, city=maybe, country_code=maybe, latitude=st.none() | st.floats(allow_nan=True)
)
context = st.none() | st.builds(
    Context,
    user_agent=maybe,
    address=address,
    geo=geo,
    client_hints=st.none() | st.builds(ClientHints, browser_ua_with_major_version=maybe, platform=maybe),
)
requests = st.builds(
    DeliveryRequest,
    request_id=maybe,
    id=ids,
    context=context,
    property=st.none() | st.builds(Property, token=maybe),
    trace=st.none() | st.just(Trace()),
    execute=st.none() | st.builds(ExecuteRequest, mboxes=mboxes, page_load=st.none() | details),
    prefetch=st.none() | st.builds(PrefetchRequest, mboxes=mboxes, views=views, page_load=st.none() | details),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests, now=st.floats(0, 4e9), hint=maybe)
def test_any_request_is_decided(request: DeliveryRequest, now: float, hint: str | None) -> None:
    engine = _engine()
    before = unstructure(request)
    decision = engine.decide(request, now=now, location_hint=hint, session_id="s", trace={"artifactLocation": "x"})
    assert decision.response.status in (200, 206)
    assert (decision.response.status == 206) == bool(decision.remote_mboxes or decision.remote_views)
    json.dumps(unstructure(decision.response))  # the response is JSON
    sent = decision.notification_request()
    assert sent is not None  # telemetry is on
    json.dumps(unstructure(sent))
    assert unstructure(request) == before
    engine.geo_lookup_ip(request)
