"""Serialization microbenchmarks of one delivery call's CPU-bound steps (pytest-benchmark).

Run: ``.venv/bin/pytest benchmarks/test_serialization.py --benchmark-only`` (``benchmarks/`` is outside the
default ``testpaths``, so the normal test run never collects this file).

Each step is timed on a *small* payload (the one mbox the benchmark stub answers with) and on a *rich* one (10
mboxes with two options each, prefetched views and page load, analytics and response tokens):

- ``request build``: ``copy_request`` (validated private copy) + ``finish_request`` (ids, context, analytics
  defaults) + ``json_dumps(converter.unstructure(request))`` -- what ``get_offers`` does before sending;
- ``response parse``: ``loads(body, DeliveryResponse)``;
- ``cookie build``: ``build_target_cookie(session_id, tnt_id)``;
- ``envelope build``: ``TargetDeliveryResponse.build`` (flattening analytics, trace and tokens).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stub_server import BODY as SMALL_BODY

from target_async._serde import converter, json_dumps, loads
from target_async.delivery._cookies import build_target_cookie, location_hint_cookie
from target_async.delivery._request import copy_request, finish_request
from target_async.delivery._response import DecisioningMeta, TargetDeliveryResponse
from target_async.models import (
    ChannelType,
    Context,
    DeliveryRequest,
    DeliveryResponse,
    ExecuteRequest,
    MboxRequest,
    PrefetchRequest,
    RequestDetails,
    ViewRequest,
)


def _rich_body() -> bytes:
    def option(i: int, j: int) -> dict[str, object]:
        return {
            "type": "json",
            "content": {"headline": f"Offer {i}.{j}", "cta": "Buy", "weights": [1, 2, 3]},
            "responseTokens": {"activity.id": 1000 + i, "experience.id": j, "offer.name": f"o{i}{j}"},
        }

    def mbox(i: int) -> dict[str, object]:
        return {
            "index": i,
            "name": f"mbox-{i}",
            "options": [option(i, 0), option(i, 1)],
            "analytics": {"payload": {"pe": "tnt", "tnta": f"{i}:1:0|32767"}},
        }

    return json.dumps(
        {
            "status": 200,
            "requestId": "bench",
            "client": "bench",
            "id": {"tntId": "bench-visitor.35_0"},
            "edgeHost": "mboxedge35.tt.omtrdc.net",
            "execute": {"pageLoad": {"options": [option(99, 0)]}, "mboxes": [mbox(i) for i in range(10)]},
            "prefetch": {
                "views": [{"name": f"view-{v}", "options": [option(50 + v, 0)]} for v in range(3)],
                "mboxes": [mbox(20 + i) for i in range(3)],
            },
        }
    ).encode()


def _small_request() -> DeliveryRequest:
    return DeliveryRequest(
        context=Context(channel=ChannelType.WEB),
        execute=ExecuteRequest(mboxes=[MboxRequest(name="bench", index=1)]),
    )


def _rich_request() -> DeliveryRequest:
    return DeliveryRequest(
        context=Context(channel=ChannelType.WEB),
        execute=ExecuteRequest(
            page_load=RequestDetails(parameters={"page": "home"}),
            mboxes=[MboxRequest(name=f"mbox-{i}", index=i, parameters={"k": str(i)}) for i in range(10)],
        ),
        prefetch=PrefetchRequest(views=[ViewRequest(name=f"view-{v}") for v in range(3)]),
    )


PAYLOADS = {
    "small": (_small_request, SMALL_BODY),
    "rich": (_rich_request, _rich_body()),
}


@pytest.fixture(params=sorted(PAYLOADS))
def payload(request: pytest.FixtureRequest) -> tuple[str, DeliveryRequest, bytes]:
    make, body = PAYLOADS[request.param]
    return request.param, make(), body


def test_request_build(benchmark, payload) -> None:
    _, request, _ = payload

    def build() -> bytes:
        copy = copy_request(request)
        finish_request(copy, tnt_id=None, customer_ids=None, property_token=None, environment_id=None)
        return json_dumps(converter.unstructure(copy))

    body = benchmark(build)
    assert json.loads(body)["context"]["channel"] == "web"


def test_response_parse(benchmark, payload) -> None:
    _, _, body = payload
    parsed = benchmark(loads, body, DeliveryResponse)
    assert parsed.status == 200


def test_cookie_build(benchmark) -> None:
    cookie = benchmark(build_target_cookie, "3f2a9a4e-5c1d-4f7e-9a66-0c2b6f1d9e21", "bench-visitor.35_0")
    assert cookie.value.startswith("session#")


def test_envelope_build(benchmark, payload) -> None:
    _, request, body = payload
    response = loads(body, DeliveryResponse)
    cookie = build_target_cookie("s", "bench-visitor.35_0")
    hint = location_hint_cookie("35")
    meta = DecisioningMeta("server-side")

    def build() -> TargetDeliveryResponse:
        return TargetDeliveryResponse.build(
            response, request, target_cookie=cookie, location_hint_cookie=hint, meta=meta
        )

    result = benchmark(build)
    assert result.response is response
