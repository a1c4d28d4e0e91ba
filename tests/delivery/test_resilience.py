"""Errors, timeouts, retries, logging and input validation of AsyncTargetClient."""

from __future__ import annotations

import logging
import time

import anyio
import httpx
import pytest

from target_async._exceptions import (
    APIError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    ConnectError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    ValidationError,
)
from target_async._retry import RetryPolicy
from target_async.delivery import AsyncTargetClient
from target_async.models import (
    ChannelType,
    Context,
    DeliveryRequest,
    ExecuteRequest,
    MboxRequest,
    PrefetchRequest,
)

from .conftest import Recorder, ok_body


def execute_request() -> DeliveryRequest:
    return DeliveryRequest(
        context=Context(channel=ChannelType.WEB),
        execute=ExecuteRequest(mboxes=[MboxRequest(name="m", index=0)]),
    )


def prefetch_request() -> DeliveryRequest:
    return DeliveryRequest(
        context=Context(channel=ChannelType.WEB),
        prefetch=PrefetchRequest(mboxes=[MboxRequest(name="m", index=0)]),
    )


def sequence(*answers: httpx.Response | Exception):
    items = list(answers)

    def answer(request: httpx.Request) -> httpx.Response:
        item = items.pop(0) if len(items) > 1 else items[0]
        if isinstance(item, Exception):
            raise item
        if item.status_code == 200 and not item.content:
            return httpx.Response(200, json=ok_body(request))
        return item

    return answer


async def test_error_body_status_message_and_request_id(make_client, recorder: Recorder):
    recorder.answer = lambda r: httpx.Response(400, json={"status": 400, "message": "Invalid mbox name"})
    with pytest.raises(BadRequestError) as info:
        await make_client().get_offers(request=execute_request())
    err = info.value
    assert isinstance(err, APIError)
    assert err.status == 400 and err.message == "Invalid mbox name"
    assert err.body == {"status": 400, "message": "Invalid mbox name"}
    assert err.request_id == recorder.last.headers["x-request-id"]


async def test_status_classes(make_client, recorder: Recorder):
    recorder.answer = lambda r: httpx.Response(500, text="boom")
    with pytest.raises(ServerError) as info:
        await make_client(retries=0).get_offers(request=execute_request())
    assert info.value.body == "boom"


async def test_timeout_is_enforced(make_client, recorder: Recorder):
    async def slow(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(5)
        return httpx.Response(200, json=ok_body(request))

    client = AsyncTargetClient(client="c", organization_id="o", timeout=0.2, transport=httpx.MockTransport(slow))
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError) as info:
        await client.get_offers(request=execute_request())
    assert isinstance(info.value, TimeoutError)
    assert time.monotonic() - started < 1.5
    await client.aclose()


async def test_from_options_timeout_is_milliseconds():
    client = AsyncTargetClient.from_options({"client": "c", "organization_id": "o", "timeout": 250})
    assert client.timeout == 0.25
    await client.aclose()


async def test_execute_retried_on_503_with_retry_after(make_client, recorder: Recorder):
    recorder.answer = sequence(httpx.Response(503, headers={"Retry-After": "0"}), httpx.Response(200))
    result = await make_client().get_offers(request=execute_request())
    assert result.response.status == 200
    assert len(recorder.requests) == 2
    assert recorder.requests[0].headers["x-request-id"] == recorder.requests[1].headers["x-request-id"]


async def test_execute_retried_on_429(make_client, recorder: Recorder):
    recorder.answer = sequence(httpx.Response(429), httpx.Response(200))
    await make_client().get_offers(request=execute_request())
    assert len(recorder.requests) == 2


async def test_execute_not_retried_on_502_to_avoid_double_impressions(make_client, recorder: Recorder):
    recorder.answer = sequence(httpx.Response(502), httpx.Response(200))
    with pytest.raises(ServerError):
        await make_client().get_offers(request=execute_request())
    assert len(recorder.requests) == 1


async def test_prefetch_retried_on_502(make_client, recorder: Recorder):
    recorder.answer = sequence(httpx.Response(502), httpx.Response(200))
    await make_client().get_offers(request=prefetch_request())
    assert len(recorder.requests) == 2


async def test_connect_error_retried_even_for_execute(make_client, recorder: Recorder):
    recorder.answer = sequence(httpx.ConnectError("refused"), httpx.Response(200))
    await make_client().get_offers(request=execute_request())
    assert len(recorder.requests) == 2


async def test_read_error_not_retried_for_execute(make_client, recorder: Recorder):
    recorder.answer = sequence(httpx.ReadError("reset"), httpx.Response(200))
    with pytest.raises(ConnectError):
        await make_client().get_offers(request=execute_request())
    assert len(recorder.requests) == 1


async def test_retries_give_up_after_policy(make_client, recorder: Recorder):
    recorder.answer = lambda r: httpx.Response(429, json={"status": 429, "message": "slow down"})
    with pytest.raises(RateLimitError):
        await make_client(retries=RetryPolicy(max_retries=3)).get_offers(request=execute_request())
    assert len(recorder.requests) == 4


@pytest.mark.backoff
async def test_retry_after_longer_than_deadline_fails_fast(make_client, recorder: Recorder):
    recorder.answer = lambda r: httpx.Response(503, headers={"Retry-After": "30"})
    started = time.monotonic()
    with pytest.raises(ServerError):
        await make_client(timeout=1.0).get_offers(request=execute_request())
    assert time.monotonic() - started < 1.0
    assert len(recorder.requests) == 1


async def test_custom_logger_is_used(make_client, recorder: Recorder, caplog: pytest.LogCaptureFixture):
    logger = logging.getLogger("my.app.target")
    caplog.set_level(logging.DEBUG, logger="my.app.target")
    await make_client(logger=logger).get_offers(request=execute_request())
    assert any(rec.name == "my.app.target" and "/rest/v1/delivery" in rec.getMessage() for rec in caplog.records)


async def test_default_logger_name(make_client, recorder: Recorder, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG, logger="target_async")
    await make_client().get_offers(request=execute_request())
    assert any(rec.name == "target_async" for rec in caplog.records)


class TestValidation:
    """Bad input raises ValidationError naming the field, and nothing is sent."""

    async def check(self, recorder: Recorder, coro, field: str, message: str | None = None) -> None:
        with pytest.raises(ValidationError) as info:
            await coro
        assert info.value.field is not None and info.value.field.startswith(field), info.value.field
        if message is not None:
            assert message in str(info.value)
        assert recorder.requests == []

    async def test_missing_request(self, make_client, recorder):
        await self.check(
            recorder,
            make_client().get_offers(),
            "request",
            "Request object of type DeliveryRequest is required",
        )

    async def test_execute_without_mboxes_or_page_load(self, make_client, recorder):
        req = DeliveryRequest(context=Context(channel=ChannelType.WEB), execute=ExecuteRequest())
        await self.check(
            recorder,
            make_client().get_offers(request=req),
            "request.execute",
            "Either pageLoad or mboxes is required in execute",
        )

    async def test_prefetch_without_anything(self, make_client, recorder):
        req = DeliveryRequest(context=Context(channel=ChannelType.WEB), prefetch=PrefetchRequest())
        await self.check(
            recorder,
            make_client().get_offers(request=req),
            "request.prefetch",
            "Either views, pageLoad or mboxes is required in prefetch",
        )

    async def test_wrong_type_in_wire_dict(self, make_client, recorder):
        wire = {"context": {"channel": "web"}, "execute": {"mboxes": [{"name": "m", "index": "1"}]}}
        await self.check(recorder, make_client().get_offers(request=wire), "request.execute.mboxes[0].index")

    async def test_wrong_type_in_model(self, make_client, recorder):
        req = DeliveryRequest(
            context=Context(channel=ChannelType.WEB),
            execute=ExecuteRequest(mboxes=[MboxRequest(name="m", index="1")]),
        )  # type: ignore[arg-type]
        await self.check(recorder, make_client().get_offers(request=req), "request.execute.mboxes[0].index")

    async def test_mbox_without_name(self, make_client, recorder):
        req = DeliveryRequest(
            context=Context(channel=ChannelType.WEB), execute=ExecuteRequest(mboxes=[MboxRequest(index=0)])
        )
        await self.check(recorder, make_client().get_offers(request=req), "request.execute.mboxes[0].name")

    async def test_not_a_request(self, make_client, recorder):
        await self.check(recorder, make_client().get_offers(request=42), "request")  # type: ignore[arg-type]

    async def test_unknown_option_key(self, make_client, recorder):
        await self.check(
            recorder,
            make_client().get_offers({"request": execute_request(), "sesion_id": "typo"}),
            "sesion_id",
            "Unknown option(s): sesion_id",
        )

    async def test_unknown_key_in_wire_request(self, make_client, recorder):
        wire = {
            "context": {"channel": "web"},
            "execute": {"mboxes": [{"name": "m", "index": 0, "paramters": {}}]},
        }
        await self.check(recorder, make_client().get_offers(request=wire), "request", "paramters")

    async def test_callback_refused_with_pointer_to_facade(self, make_client, recorder):
        await self.check(
            recorder,
            make_client().get_offers({"request": execute_request(), "callback": print}),
            "callback",
            "TargetClient",
        )

    async def test_bad_session_id_type(self, make_client, recorder):
        await self.check(recorder, make_client().get_offers(request=execute_request(), session_id=5), "session_id")  # type: ignore[arg-type]

    async def test_notifications_required(self, make_client, recorder):
        await self.check(
            recorder,
            make_client().send_notifications(request=execute_request()),
            "request.notifications",
            "Notifications list is required in request",
        )

    async def test_bad_notification(self, make_client, recorder):
        wire = {
            "context": {"channel": "web"},
            "notifications": [{"id": "n", "timestamp": 1, "type": "hover"}],
        }
        await self.check(recorder, make_client().send_notifications(request=wire), "request.notifications")

    async def test_unknown_per_call_method_refused(self, make_client, recorder):
        await self.check(
            recorder,
            make_client().get_offers(request=execute_request(), decisioning_method="in-the-cloud"),
            "decisioning_method",
        )


class TestCreateValidation:
    @pytest.mark.parametrize(
        ("options", "message", "field"),
        [
            ({}, "Options are required", "options"),
            ({"organization_id": "o"}, "Client is required", "client"),
            ({"client": "c"}, "Organization Id is required", "organization_id"),
            (
                {"client": "c", "organization_id": "o", "decisioning_method": "x"},
                "Invalid Decisioning Method.  Must be set to one of: hybrid,on-device,server-side",
                "decisioning_method",
            ),
            ({"client": "c", "organization_id": "o", "colour": 1}, "Unknown option(s): colour", "colour"),
            ({"client": "c", "organization_id": "o", "timeout": "3"}, "timeout", "timeout"),
            ({"client": "c", "organization_id": "o", "verify": 3}, "verify", "verify"),
        ],
    )
    def test_messages(self, options, message, field):
        with pytest.raises(ConfigurationError) as info:
            AsyncTargetClient.from_options(options)
        assert message in str(info.value)
        assert info.value.field == field
        assert isinstance(info.value, ValueError)

    async def test_documented_and_network_options_accepted(self):
        import ssl

        ctx = ssl.create_default_context()
        client = AsyncTargetClient.from_options(
            {
                "client": "c",
                "organization_id": "o",
                "timeout": 1000,
                "server_domain": "x.example",
                "secure": False,
                "target_location_hint": "28",
                "logger": logging.getLogger("x"),
                "decisioning_method": "hybrid",
                "polling_interval": 300,
                "maximum_wait_ready": -1,
                "artifact_location": "https://x",
                "artifact_payload": None,
                "environment_id": 1,
                "environment": "production",
                "cdn_environment": "production",
                "cdn_base_path": None,
                "telemetry_enabled": True,
                "version": "1.0",
                "property_token": "t",
                "events": {"client_ready": lambda: None},
                "verify": ctx,
                "proxy": "http://proxy.example:3128",
                "http2": False,
                "max_connections": 10,
                "retries": 1,
            }
        )
        assert client.target_location_hint == "28"
        assert "client_ready" in client.events
        await client.aclose()


async def test_closed_client_refuses_calls(make_client, recorder: Recorder):
    client = make_client()
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await client.get_offers(request=execute_request())
    with pytest.raises(ClientClosedError):
        async with client:
            pass


async def test_shared_http_client_is_not_closed(recorder: Recorder):
    shared = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    async with AsyncTargetClient(client="c", organization_id="o", http_client=shared) as client:
        await client.get_offers(request=execute_request())
    assert not shared.is_closed
    await shared.aclose()
