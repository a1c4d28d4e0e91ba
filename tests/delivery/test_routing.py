"""Edge routing from untrusted input (issue #10): a visitor's cookie never chooses where the SDK sends data."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from target_async import AsyncTargetClient, TargetClient
from target_async._exceptions import ConfigurationError
from target_async.delivery._routing import cluster_from_edge_host, cluster_from_tnt_id, edge_host, valid_cluster
from target_async.models import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest
from target_async.testing import serve

from .conftest import Recorder, ok_body

FAR = 9_999_999_999


def execute_request() -> DeliveryRequest:
    return DeliveryRequest(
        context=Context(channel=ChannelType.WEB),
        execute=ExecuteRequest(mboxes=[MboxRequest(name="hero", index=1)]),
    )


def pc_cookie(tnt_id: str) -> str:
    return f"session#s1#{FAR}|PC#{tnt_id}#{FAR}"


HOSTILE_CLUSTERS = [
    "x.@localhost:8080/",
    "@localhost:8080/",
    "evil%E3%80%82com/",
    "evil\u3002com",
    "28.evil.com",
    "28:443",
    "28/x",
    "28#x",
    "28?x",
    "28\r\nHost: evil",
    "28 ",
    "IRL1",
    "٢٨",  # Arabic-Indic digits: str.isdigit() says yes, a host name says no
    "a" * 17,
    "",
]


@pytest.mark.parametrize("value", HOSTILE_CLUSTERS)
def test_only_short_lowercase_ascii_tokens_are_clusters(value: str) -> None:
    assert valid_cluster(value) is None
    assert cluster_from_tnt_id(f"abc.{value}_1") is None


@pytest.mark.parametrize("value", ["28", "35", "irl1", "sgp3", "a" * 16])
def test_real_clusters_are_accepted(value: str) -> None:
    assert valid_cluster(value) == value
    assert cluster_from_tnt_id(f"abc.{value}_0") == value
    assert cluster_from_edge_host(edge_host(value)) == value


def test_tnt_id_and_edge_host_shapes() -> None:
    assert cluster_from_tnt_id("abc") is None
    assert cluster_from_tnt_id("abc.28") is None
    assert cluster_from_tnt_id("a.b.28_0") is None
    assert cluster_from_tnt_id("abc._0") is None
    assert cluster_from_edge_host("mboxedge35.tt.omtrdc.net") == "35"
    assert cluster_from_edge_host("localhost") is None
    assert cluster_from_edge_host("127.0.0.1:8080") is None
    assert cluster_from_edge_host("mboxedge35.evil.com") is None
    assert cluster_from_edge_host("mboxedge@evil.com:1/.tt.omtrdc.net") is None
    assert cluster_from_edge_host("mboxedge.tt.omtrdc.net") is None


@pytest.mark.parametrize("value", HOSTILE_CLUSTERS)
async def test_hostile_tnt_id_cluster_is_ignored(make_client, recorder: Recorder, value: str) -> None:
    client = make_client()
    await client.get_offers(request=execute_request(), target_cookie=pc_cookie(f"x.{value}_1"))
    assert recorder.last.url.host == "acmeclient.tt.omtrdc.net"
    assert recorder.last.url.port is None
    assert recorder.last.url.path == "/rest/v1/delivery"


@pytest.mark.parametrize("value", HOSTILE_CLUSTERS)
async def test_hostile_call_hint_is_ignored_with_a_debug_log(
    make_client, recorder: Recorder, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(server_domain="edge.example.com")
    with caplog.at_level(logging.DEBUG, logger="target_async"):
        await client.get_offers(request=execute_request(), target_location_hint=value)
    assert recorder.last.url.host == "edge.example.com"
    if value:
        assert any("not an edge cluster" in r.getMessage() for r in caplog.records)


async def test_hostile_edge_host_in_an_answer_is_not_learned(make_client, recorder: Recorder) -> None:
    recorder.answer = lambda r: httpx.Response(200, json=ok_body(r, edgeHost="mboxedge@evil.com:1/x.tt.omtrdc.net"))
    client = make_client()
    result = await client.get_offers(request=execute_request())
    assert client.target_location_hint is None
    assert result.target_location_hint_cookie is None
    await client.get_offers(request=execute_request())
    assert recorder.last.url.host == "acmeclient.tt.omtrdc.net"


async def test_a_visitor_cookie_does_not_move_other_visitors(make_client, recorder: Recorder) -> None:
    client = make_client()
    first = await client.get_offers(request=execute_request(), target_cookie=pc_cookie("abc.34_0"))
    assert recorder.last.url.host == "mboxedge34.tt.omtrdc.net"
    assert first.target_location_hint_cookie is not None
    assert first.target_location_hint_cookie.value == "34"  # that visitor's own cookie keeps its cluster
    await client.get_offers(request=execute_request(), target_location_hint="12")
    assert client.target_location_hint is None
    await client.get_offers(request=execute_request())  # another visitor, no cookie
    assert recorder.last.url.host == "acmeclient.tt.omtrdc.net"
    # The server's own answer (edgeHost mboxedge35 on a call the visitor did not route) is learned.
    assert client.target_location_hint == "35"
    await client.get_offers(request=execute_request())
    assert recorder.last.url.host == "mboxedge35.tt.omtrdc.net"


@pytest.mark.parametrize("value", ["x.@localhost:8080/", "evil.com", "28 ", "IRL1", 28])
def test_bad_target_location_hint_option_is_refused(value: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        AsyncTargetClient(client="acmeclient", organization_id="o@AdobeOrg", target_location_hint=value)  # type: ignore[arg-type]
    assert info.value.field == "target_location_hint"


def test_bad_target_location_hint_refused_by_create() -> None:
    with pytest.raises(ConfigurationError):
        TargetClient.create(
            {"client": "acmeclient", "organization_id": "o@AdobeOrg", "target_location_hint": "evil.com:1/"}
        )


# -- the attack of issue #10, over real HTTP on loopback -------------------------------------------------------


class _Server:
    def __init__(self, name: str) -> None:
        self.name = name
        self.bodies: list[dict] = []

        async def delivery(request: Request) -> JSONResponse:
            body = await request.json()
            self.bodies.append(body)
            return JSONResponse(
                {
                    "status": 200,
                    "requestId": body["requestId"],
                    "id": body.get("id") or {"tntId": "t"},
                    "edgeHost": "localhost",
                    "execute": {"mboxes": [{"index": 1, "name": "hero", "options": [{"content": self.name}]}]},
                }
            )

        self.app = Starlette(routes=[Route("/{path:path}", delivery, methods=["POST"])])


async def test_cookie_cannot_send_any_visitor_to_an_attacker_host() -> None:
    legit, evil = _Server("legit"), _Server("evil")
    with serve(legit.app) as legit_url, serve(evil.app) as evil_url:
        evil_hostport = evil_url.removeprefix("http://").replace("127.0.0.1", "localhost")
        async with AsyncTargetClient(
            client="acmeclient",
            organization_id="o@AdobeOrg",
            server_domain=legit_url.removeprefix("http://"),
            secure=False,
        ) as client:
            attack = f"PC#x.@{evil_hostport}/_1#{int(time.time()) + 1000}"
            hit = await client.get_offers(request=execute_request(), target_cookie=attack)
            assert hit.response.execute is not None
            victim = DeliveryRequest(
                context=Context(channel=ChannelType.WEB),
                execute=ExecuteRequest(mboxes=[MboxRequest(name="hero", index=1)]),
            )
            answer = await client.get_offers(request=victim, customer_ids=[{"id": "victim-42", "integrationCode": "c"}])
    assert evil.bodies == []
    assert len(legit.bodies) == 2
    assert answer.response.execute is not None
    assert answer.response.execute.mboxes is not None
    option = answer.response.execute.mboxes[0].options
    assert option is not None
    assert option[0].content == "legit"


@pytest.mark.parametrize(
    "value",
    ["evil.com/x", "a@evil.com", "x.y:1/p", "x?y", "x#y", "x:port", "x:99999", "http://x", "ex ample.com", "é.com", ""],
)
def test_bad_server_domain_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        AsyncTargetClient(client="acmeclient", organization_id="o@AdobeOrg", server_domain=value)
    assert info.value.field == "server_domain"


@pytest.mark.parametrize("value", ["acme.tt.omtrdc.net", "127.0.0.1:8080", "localhost", "[::1]:9000"])
def test_good_server_domain_is_accepted(value: str) -> None:
    assert (
        AsyncTargetClient(client="acmeclient", organization_id="o@AdobeOrg", server_domain=value).server_domain == value
    )


@pytest.mark.parametrize("value", ["evil.com/x", "a.b", "a:1", "a/b", "-x", "a" * 64])
def test_bad_client_code_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        AsyncTargetClient(client=value, organization_id="o@AdobeOrg")
    assert info.value.field == "client"
