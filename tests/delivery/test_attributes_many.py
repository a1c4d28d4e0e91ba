"""get_attributes and get_offers_many."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

from target_async._exceptions import AttributeNotFoundError, BadRequestError, TargetError
from target_async.models import (
    ChannelType,
    Context,
    DeliveryRequest,
    ExecuteRequest,
    MboxRequest,
    PrefetchRequest,
)

from .conftest import Recorder, ok_body


def answer_with_json_offers(request: httpx.Request) -> httpx.Response:
    sent = json.loads(request.content)
    mboxes = [
        {
            "index": m["index"],
            "name": m["name"],
            "options": [
                {"type": "json", "content": {"flag": m["name"], "shared": 1}},
                {"type": "json", "content": {"extra": True}},
                {"type": "html", "content": "<b>ignored</b>"},
            ],
        }
        for m in sent.get("execute", {}).get("mboxes", [])
    ]
    prefetch = [
        {
            "index": m["index"],
            "name": m["name"],
            "options": [{"type": "json", "content": {"pre": 1}, "eventToken": "t"}],
        }
        for m in sent.get("prefetch", {}).get("mboxes", [])
    ]
    return httpx.Response(200, json=ok_body(request, execute={"mboxes": mboxes}, prefetch={"mboxes": prefetch}))


async def test_get_attributes_adds_mboxes_without_mutating(make_client, recorder: Recorder):
    recorder.answer = answer_with_json_offers
    req = DeliveryRequest(
        context=Context(channel=ChannelType.WEB),
        execute=ExecuteRequest(mboxes=[MboxRequest(name="existing", index=4)]),
        prefetch=PrefetchRequest(mboxes=[MboxRequest(name="pre", index=0)]),
    )
    attrs_ = await make_client().get_attributes(["existing", "feature-a", "feature-b"], req)
    assert [(m["name"], m["index"]) for m in recorder.last_json()["execute"]["mboxes"]] == [
        ("existing", 4),
        ("feature-a", 5),
        ("feature-b", 6),
    ]
    assert req.execute is not None and len(req.execute.mboxes or []) == 1
    assert attrs_.get_value("feature-a", "flag") == "feature-a"
    assert attrs_.get_value("feature-a", "extra") is True
    assert attrs_.as_object("pre") == {"pre": 1}
    assert set(attrs_.as_object()) == {"existing", "feature-a", "feature-b", "pre"}
    assert attrs_.response.response.status == 200
    with pytest.raises(AttributeNotFoundError, match="Attribute 'nope' does not exist for mbox 'feature-a'"):
        attrs_.get_value("feature-a", "nope")
    with pytest.raises(KeyError):
        attrs_.get_value("unknown", "x")


async def test_get_attributes_without_request_does_not_accumulate(make_client, recorder: Recorder):
    recorder.answer = answer_with_json_offers
    client = make_client()
    await client.get_attributes(["a"])
    await client.get_attributes(["b"])
    names = [[m["name"] for m in json.loads(r.content)["execute"]["mboxes"]] for r in recorder.requests]
    assert names == [["a"], ["b"]]  # the official SDK sends ["a"] then ["a", "b"]


async def test_get_attributes_accepts_options_mapping(make_client, recorder: Recorder):
    recorder.answer = answer_with_json_offers
    attrs_ = await make_client().get_attributes(["a"], {"session_id": "s9"})
    assert recorder.last.url.params["sessionId"] == "s9"
    assert attrs_.get_value("a", "shared") == 1


async def test_get_offers_many_keeps_input_order_and_bounds_concurrency(make_client, recorder: Recorder):
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        sent = json.loads(request.content)
        name = sent["execute"]["mboxes"][0]["name"]
        await anyio.sleep(0.001 * (int(name) % 7))
        in_flight -= 1
        return httpx.Response(200, json=ok_body(request, execute={"mboxes": [{"index": 0, "name": name}]}))

    client = make_client(transport=httpx.MockTransport(handler))
    items = [
        DeliveryRequest(
            context=Context(channel=ChannelType.WEB),
            execute=ExecuteRequest(mboxes=[MboxRequest(name=str(i), index=0)]),
        )
        for i in range(200)
    ]
    seen: list[int] = []
    results = await client.get_offers_many(items, concurrency=8, progress=lambda done, total: seen.append(done))
    assert [r.response.execute.mboxes[0].name for r in results] == [str(i) for i in range(200)]
    assert peak <= 8
    assert seen == list(range(1, 201))


async def test_get_offers_many_options_mappings(make_client, recorder: Recorder):
    req = DeliveryRequest(
        context=Context(channel=ChannelType.WEB),
        execute=ExecuteRequest(mboxes=[MboxRequest(name="m", index=0)]),
    )
    results = await make_client().get_offers_many([{"request": req, "session_id": f"s{i}"} for i in range(3)])
    assert [r.request.request_id is not None for r in results] == [True] * 3
    assert sorted(r.url.params["sessionId"] for r in recorder.requests) == ["s0", "s1", "s2"]


async def test_get_offers_many_return_exceptions(make_client, recorder: Recorder):
    def answer(request: httpx.Request) -> httpx.Response:
        name = json.loads(request.content)["execute"]["mboxes"][0]["name"]
        if name == "bad":
            return httpx.Response(400, json={"status": 400, "message": "nope"})
        return httpx.Response(200, json=ok_body(request))

    recorder.answer = answer

    def mk(n: str) -> DeliveryRequest:
        return DeliveryRequest(
            context=Context(channel=ChannelType.WEB),
            execute=ExecuteRequest(mboxes=[MboxRequest(name=n, index=0)]),
        )

    results = await make_client().get_offers_many([mk("a"), mk("bad"), mk("c")], return_exceptions=True)
    assert isinstance(results[1], BadRequestError)
    assert not isinstance(results[0], BaseException) and not isinstance(results[2], BaseException)
    with pytest.raises(BadRequestError):
        await make_client().get_offers_many([mk("a"), mk("bad"), mk("c")])


async def test_get_offers_many_validates_each_item_before_sending(make_client, recorder: Recorder):
    with pytest.raises(TargetError):
        await make_client().get_offers_many([{"request": None}], concurrency=1)
    assert recorder.requests == []
