"""Wire parity with the official SDK (target-sdk-behaviour.md §2.2–2.9), through httpx.MockTransport."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from target_async._exceptions import ValidationError
from target_async.delivery import TargetDeliveryResponse, _request
from target_async.models import (
    ChannelType,
    Context,
    CustomerId,
    DeliveryRequest,
    ExecuteRequest,
    MboxRequest,
    PrefetchRequest,
    VisitorId,
)

from .conftest import Recorder, ok_body


def execute_request(name: str = "a1-serverside-ab") -> DeliveryRequest:
    return DeliveryRequest(
        context=Context(channel=ChannelType.WEB),
        execute=ExecuteRequest(mboxes=[MboxRequest(name=name, index=1)]),
    )


def cookie(session: str | None = None, pc: str | None = None, *, ttl: int = 1000) -> str:
    exp = int(time.time()) + ttl
    parts = []
    if session is not None:
        parts.append(f"session#{session}#{exp}")
    if pc is not None:
        parts.append(f"PC#{pc}#{exp}")
    return "|".join(parts)


async def test_post_delivery_with_query_parameters(make_client, recorder: Recorder):
    client = make_client(version="2.3.1")
    await client.get_offers(request=execute_request(), session_id="s1")
    req = recorder.last
    assert req.method == "POST"
    assert req.url.path == "/rest/v1/delivery"
    assert dict(req.url.params) == {"imsOrgId": "1234567890@AdobeOrg", "sessionId": "s1", "version": "2.3.1"}
    assert b"imsOrgId=1234567890%40AdobeOrg" in req.url.query


async def test_version_omitted_when_unset(make_client, recorder: Recorder):
    await make_client().get_offers(request=execute_request(), session_id="s1")
    assert "version" not in recorder.last.url.params


async def test_default_host_is_client_code(make_client, recorder: Recorder):
    await make_client().get_offers(request=execute_request())
    assert str(recorder.last.url).startswith("https://acmeclient.tt.omtrdc.net/rest/v1/delivery?")


async def test_server_domain_and_insecure(make_client, recorder: Recorder):
    recorder.answer = lambda r: httpx.Response(200, json=ok_body(r, edgeHost="localhost"))
    await make_client(server_domain="127.0.0.1:9999", secure=False).get_offers(request=execute_request())
    assert str(recorder.last.url).startswith("http://127.0.0.1:9999/rest/v1/delivery?")


async def test_location_hint_option_routes_to_edge(make_client, recorder: Recorder):
    client = make_client(server_domain="custom.example.com")
    await client.get_offers(request=execute_request(), target_location_hint="28")
    assert recorder.last.url.host == "mboxedge28.tt.omtrdc.net"


async def test_pc_cookie_cluster_beats_location_hint(make_client, recorder: Recorder):
    client = make_client(target_location_hint="28")
    await client.get_offers(request=execute_request(), target_cookie=cookie("s1", "abc.34_0"))
    assert recorder.last.url.host == "mboxedge34.tt.omtrdc.net"
    assert recorder.last_json()["id"]["tntId"] == "abc.34_0"


async def test_client_wide_location_hint_learned_from_edge_host(make_client, recorder: Recorder):
    client = make_client()
    first = await client.get_offers(request=execute_request())
    assert first.target_location_hint_cookie is not None
    assert first.target_location_hint_cookie.value == "35"
    assert first.target_location_hint_cookie.max_age == 1860
    assert client.target_location_hint == "35"
    await client.get_offers(request=execute_request())
    assert recorder.last.url.host == "mboxedge35.tt.omtrdc.net"


async def test_request_cluster_wins_over_edge_host(make_client, recorder: Recorder):
    client = make_client()
    result = await client.get_offers(request=execute_request(), target_location_hint="12")
    assert result.target_location_hint_cookie is not None
    assert result.target_location_hint_cookie.value == "12"


async def test_no_cluster_no_hint_cookie(make_client, recorder: Recorder):
    recorder.answer = lambda r: httpx.Response(200, json=ok_body(r, edgeHost="localhost"))
    client = make_client(server_domain="127.0.0.1:1")
    result = await client.get_offers(request=execute_request())
    assert result.target_location_hint_cookie is None
    assert client.target_location_hint is None


async def test_identification_headers_and_fresh_request_id(make_client, recorder: Recorder):
    client = make_client()
    await client.get_offers(request=execute_request())
    await client.get_offers(request=execute_request())
    first, second = recorder.requests
    for req in (first, second):
        assert req.headers["content-type"] == "application/json"
        assert req.headers["x-exc-sdk"] == "TargetAsyncPython"
        assert req.headers["x-exc-sdk-version"]
        uuid.UUID(req.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_minimal_body_matches_official_shape(make_client, recorder: Recorder):
    await make_client().get_offers(request=execute_request())
    body = recorder.last_json()
    uuid.UUID(body["requestId"])
    assert body["context"]["channel"] == "web"
    assert isinstance(body["context"]["timeOffsetInMinutes"], int | float)
    assert body["context"]["beacon"] is False
    assert body["experienceCloud"] == {"analytics": {"logging": "server_side"}}
    assert body["execute"] == {"mboxes": [{"index": 1, "name": "a1-serverside-ab"}]}
    assert "id" not in body  # no tntId known yet


async def test_caller_request_id_and_time_offset_preserved(make_client, recorder: Recorder):
    req = execute_request()
    req.request_id = "my-request"
    req.context.time_offset_in_minutes = -180
    await make_client().get_offers(request=req)
    body = recorder.last_json()
    assert body["requestId"] == "my-request"
    assert body["context"]["timeOffsetInMinutes"] == -180


async def test_caller_request_is_not_mutated(make_client, recorder: Recorder):
    req = execute_request()
    before = repr(req)
    result = await make_client(property_token="tok").get_offers(request=req, target_cookie=cookie("s", "t1"))
    assert repr(req) == before
    assert req.request_id is None and req.id is None and req.property is None
    assert result.request is not req
    assert result.request.id is not None and result.request.id.tnt_id == "t1"


async def test_tnt_id_from_pc_cookie_but_request_value_wins(make_client, recorder: Recorder):
    client = make_client()
    await client.get_offers(request=execute_request(), target_cookie=cookie("s", "from-cookie"))
    assert recorder.last_json()["id"]["tntId"] == "from-cookie"
    req = execute_request()
    req.id = VisitorId(tnt_id="from-request")
    await client.get_offers(request=req, target_cookie=cookie("s", "from-cookie"))
    assert recorder.last_json()["id"]["tntId"] == "from-request"


async def test_property_token_and_environment_id(make_client, recorder: Recorder):
    client = make_client(property_token="config-token", environment_id=42)
    await client.get_offers(request=execute_request())
    body = recorder.last_json()
    assert body["property"] == {"token": "config-token"}
    assert body["environmentId"] == 42
    req = execute_request()
    req.property = {"token": "request-token"}  # type: ignore[assignment]
    with pytest.raises(ValidationError):  # a dict is not a Property
        await client.get_offers(request=req)
    wire = {
        "context": {"channel": "web"},
        "property": {"token": "request-token"},
        "execute": {"pageLoad": {}},
    }
    await client.get_offers(request=wire)
    assert recorder.last_json()["property"] == {"token": "request-token"}


async def test_customer_ids_option_is_honoured(make_client, recorder: Recorder):
    client = make_client()
    req = execute_request()
    req.id = VisitorId(customer_ids=[CustomerId(id="own", integration_code="crm", authenticated_state="authenticated")])  # type: ignore[arg-type]
    await client.get_offers(
        request=req,
        customer_ids=[{"id": "opt", "integrationCode": "loyalty", "authenticatedState": "logged_out"}],
    )
    assert recorder.last_json()["id"]["customerIds"] == [
        {"id": "opt", "integrationCode": "loyalty", "authenticatedState": "logged_out"},
        {"id": "own", "integrationCode": "crm", "authenticatedState": "authenticated"},
    ]
    await client.get_offers(
        request=execute_request(), customer_ids={"userid": {"id": "67312378756723456", "authState": 1}}
    )
    assert recorder.last_json()["id"]["customerIds"] == [
        {"id": "67312378756723456", "integrationCode": "userid", "authenticatedState": "authenticated"}
    ]


async def test_missing_mbox_index_is_filled_with_position(make_client, recorder: Recorder):
    wire = {"context": {"channel": "web"}, "prefetch": {"mboxes": [{"name": "a"}, {"name": "b"}]}}
    await make_client().get_offers(request=wire)
    assert recorder.last_json()["prefetch"]["mboxes"] == [
        {"name": "a", "index": 0},
        {"name": "b", "index": 1},
    ]


class TestSessionId:
    async def test_from_cookie_first(self, make_client, recorder: Recorder):
        result = await make_client().get_offers(
            request=execute_request(), target_cookie=cookie("cookie-session"), session_id="option-session"
        )
        assert recorder.last.url.params["sessionId"] == "cookie-session"
        assert result.target_cookie is not None and "session#cookie-session#" in result.target_cookie.value

    async def test_expired_cookie_entry_falls_back_to_option(self, make_client, recorder: Recorder):
        await make_client().get_offers(
            request=execute_request(), target_cookie=cookie("old", ttl=-5), session_id="option-session"
        )
        assert recorder.last.url.params["sessionId"] == "option-session"

    async def test_new_uuid_otherwise(self, make_client, recorder: Recorder):
        client = make_client()
        await client.get_offers(request=execute_request())
        await client.get_offers(request=execute_request())
        a, b = (r.url.params["sessionId"] for r in recorder.requests)
        uuid.UUID(a)
        assert a != b


async def test_target_cookie_entries_and_max_age(make_client, recorder: Recorder):
    before = int(time.time())
    result = await make_client().get_offers(request=execute_request(), session_id="s1")
    tc = result.target_cookie
    assert tc is not None and tc.name == "mbox"
    session, pc = tc.value.split("|")
    name, value, expires = session.split("#")
    assert (name, value) == ("session", "s1")
    assert before + 1860 <= int(expires) <= int(time.time()) + 1860
    name, value, expires = pc.split("#")
    assert (name, value) == ("PC", "generated-tnt")
    assert before + 63244800 <= int(expires) <= int(time.time()) + 63244800
    assert abs(tc.max_age - 63244800) <= 1


async def test_target_cookie_without_tnt_id_lasts_the_session(make_client, recorder: Recorder):
    recorder.answer = lambda r: httpx.Response(200, json={"status": 200, "requestId": "x"})
    result = await make_client().get_offers(request=execute_request(), session_id="s1")
    assert result.target_cookie is not None
    assert result.target_cookie.value.count("#") == 2
    assert abs(result.target_cookie.max_age - 1860) <= 1


async def test_meta_and_flattened_details(make_client, recorder: Recorder):
    def answer(r: httpx.Request) -> httpx.Response:
        opt = lambda n: {"type": "json", "content": {"n": n}, "responseTokens": {"activity.id": n}}  # noqa: E731
        return httpx.Response(
            200,
            json=ok_body(
                r,
                execute={
                    "pageLoad": {"options": [opt(1)], "analytics": {"payload": {"pe": "tnt", "tnta": "p"}}},
                    "mboxes": [{"index": 1, "name": "m", "options": [opt(2)], "trace": {"t": 1}}],
                },
                prefetch={
                    "views": [{"name": "v", "options": [opt(3)], "trace": {"t": 2}}],
                    "mboxes": [{"index": 2, "name": "p", "options": [opt(4)], "analytics": {"payload": {"pe": "x"}}}],
                },
            ),
        )

    recorder.answer = answer
    result = await make_client().get_offers(request=execute_request())
    assert result.meta.decisioning_method == "server-side"
    assert result.meta.remote_mboxes == [] and result.meta.remote_views == []
    assert result.response_tokens == [{"activity.id": n} for n in (1, 2, 3, 4)]
    assert result.trace == [{"t": 1}, {"t": 2}]
    assert result.analytics_details is not None
    assert [a.payload.pe for a in result.analytics_details] == ["tnt", "x"]


async def test_no_details_means_none(make_client, recorder: Recorder):
    result = await make_client().get_offers(request=execute_request())
    assert result.analytics_details is None and result.trace is None and result.response_tokens is None


async def test_mapping_access_for_old_code(make_client, recorder: Recorder):
    result = await make_client().get_offers(request=execute_request(), session_id="s1")
    assert isinstance(result, TargetDeliveryResponse)
    assert result["target_cookie"]["name"] == "mbox"
    assert set(result["target_cookie"]) == {"name", "value", "maxAge"}
    assert result.get("meta") == {
        "decisioning_method": "server-side",
        "remote_mboxes": [],
        "remote_views": [],
    }
    assert result["response"].status == 200
    assert "trace" not in result and result.get("trace") is None
    with pytest.raises(KeyError):
        result["trace"]
    with pytest.raises(TypeError):
        result["meta"] = {}  # type: ignore[index]


async def test_unknown_response_keys_kept(make_client, recorder: Recorder):
    recorder.answer = lambda r: httpx.Response(200, json=ok_body(r, brandNewField={"a": 1}))
    result = await make_client().get_offers(request=execute_request())
    assert result.response.extras == {"brandNewField": {"a": 1}}


async def test_204_gives_empty_response(make_client, recorder: Recorder):
    recorder.answer = lambda r: httpx.Response(204)
    result = await make_client().get_offers(request=execute_request(), session_id="s")
    assert result.response.status == 204


async def test_send_notifications(make_client, recorder: Recorder):
    req = DeliveryRequest(
        context=Context(channel=ChannelType.WEB),
        notifications=[{"id": "n1", "timestamp": 1700000000000, "type": "display", "mbox": {"name": "m"}}],  # type: ignore[list-item]
    )
    with pytest.raises(ValidationError):
        await make_client().send_notifications(request=req)
    wire = {
        "context": {"channel": "web"},
        "notifications": [{"id": "n1", "timestamp": 1700000000000, "type": "display", "mbox": {"name": "m"}}],
    }
    await make_client().send_notifications(request=wire)
    assert recorder.last_json()["notifications"][0]["id"] == "n1"


async def test_prefetch_only_request(make_client, recorder: Recorder):
    req = DeliveryRequest(
        context=Context(channel=ChannelType.WEB),
        prefetch=PrefetchRequest(mboxes=[MboxRequest(name="x", index=0)]),
    )
    await make_client().get_offers(request=req)
    assert json.loads(recorder.last.content)["prefetch"]["mboxes"][0]["name"] == "x"


def test_the_local_time_offset_is_read_again_every_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """The offset is cached per minute (it is read on every call), so a DST change shows within a minute."""
    offsets = {0: 60, 1: 120}  # minute since the epoch -> offset the "OS" reports, in minutes

    def fake_localtime(seconds: float) -> time.struct_time:
        return time.struct_time((1970, 1, 1, 0, 0, 0, 3, 1, 0, "X", offsets[int(seconds) // 60] * 60))

    monkeypatch.setattr(_request, "_offset_cache", (-1, 0))
    monkeypatch.setattr(_request.time, "localtime", fake_localtime)
    now = [10.0]
    monkeypatch.setattr(_request.time, "time", lambda: now[0])
    assert _request._local_offset_minutes() == 60
    offsets[0] = 999  # cached within the same minute
    assert _request._local_offset_minutes() == 60
    now[0] = 61.0
    assert _request._local_offset_minutes() == 120
