"""OpenTelemetry spans (issue #14.3, target_async/_otel.py), read back from the SDK's in-memory exporter.

The spans go to a TracerProvider of the test's own (put in ``_otel._tracer``), so that no test changes the
process-wide provider; one subprocess test goes through the global API instead, as an application would.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytest.importorskip("opentelemetry.sdk", reason="the OpenTelemetry SDK comes with the dev extra")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from target_async import AsyncTargetClient, RequestTimeoutError, TargetClient, _otel, _otel_attributes
from target_async.emulator import create_app
from target_async.models import (
    ChannelType,
    Context,
    DeliveryRequest,
    ExecuteRequest,
    MboxRequest,
    PrefetchRequest,
    VisitorId,
)
from target_async.repository import AsyncRepositoryClient, Schema, Tag
from target_async.testing import free_port, serve

from .delivery.ondevice_server import OnDeviceServer, fixture

CLIENT = "someClientId"
ORG = "someOrgId"
TNT = "338e3c1e51f7416a8e1ccba4f81acea0.28_0"


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, InMemorySpanExporter]]:
    """(a tracer of this test's provider, its exporter); the SDK's spans go to it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests")
    monkeypatch.setattr(_otel, "_tracer", provider.get_tracer("target_async"))
    yield tracer, exporter
    provider.shutdown()


@pytest.fixture
def ondevice() -> Iterator[tuple[OnDeviceServer, str]]:
    state = OnDeviceServer(fixture("TEST_ARTIFACT_AB_SIMPLE"))
    with serve(state.app) as url:
        yield state, url


def target(url: str, **kwargs: Any) -> AsyncTargetClient:
    kwargs.setdefault("polling_interval", 0)
    kwargs.setdefault("artifact_location", f"{url}/{CLIENT}/production/v1/rules.json")
    return AsyncTargetClient(
        client=CLIENT, organization_id=ORG, server_domain=url.removeprefix("http://"), secure=False, **kwargs
    )


def request(*names: str, prefetch: tuple[str, ...] = ()) -> DeliveryRequest:
    return DeliveryRequest(
        id=VisitorId(tnt_id=TNT),
        context=Context(channel=ChannelType.WEB),
        execute=ExecuteRequest(mboxes=[MboxRequest(name=n, index=i + 1) for i, n in enumerate(names)]),
        prefetch=PrefetchRequest(mboxes=[MboxRequest(name=n, index=i + 1) for i, n in enumerate(prefetch)])
        if prefetch
        else None,
    )


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def children(exporter: InMemorySpanExporter, parent: ReadableSpan) -> list[ReadableSpan]:
    pid = parent.context.span_id
    return [s for s in exporter.get_finished_spans() if s.parent is not None and s.parent.span_id == pid]


# -- delivery, server-side ------------------------------------------------------------------------------------------


async def test_server_side_get_offers_is_an_internal_span_over_a_client_span(spans, ondevice) -> None:
    tracer, exporter = spans
    _state, url = ondevice
    port = int(url.rsplit(":", 1)[1])
    async with target(url) as client:
        with tracer.start_as_current_span("caller") as caller:
            await client.get_offers(request=request("a", "b", prefetch=("c",)), session_id="secret-session")
    [call] = named(exporter, "target_async.get_offers")
    assert call.kind is SpanKind.INTERNAL
    assert call.parent is not None and call.parent.span_id == caller.get_span_context().span_id
    assert call.attributes is not None
    assert dict(call.attributes) == {
        "target_async.client_code": CLIENT,
        "target_async.delivery.method": "server-side",
        "target_async.delivery.execute.mboxes": 2,
        "target_async.delivery.execute.page_load": False,
        "target_async.delivery.prefetch.mboxes": 1,
        "target_async.delivery.prefetch.views": 0,
        "target_async.delivery.prefetch.page_load": False,
        "target_async.delivery.notifications": 0,
        "target_async.delivery.decided_by": "server-side",
        "target_async.delivery.status": 200,
    }
    assert call.status.status_code is StatusCode.UNSET
    [http] = children(exporter, call)
    assert http.name == "POST" and http.kind is SpanKind.CLIENT
    assert http.attributes is not None
    attributes = dict(http.attributes)
    request_id = attributes.pop("target_async.request_id")
    assert isinstance(request_id, str) and len(request_id) >= 32
    assert attributes == {
        "http.request.method": "POST",
        "server.address": "127.0.0.1",
        "server.port": port,
        # the visitor's session id is not recorded; the organization is
        "url.full": f"{url}/rest/v1/delivery?imsOrgId={ORG}&sessionId=REDACTED",
        "http.response.status_code": 200,
    }
    assert "http.request.resend_count" not in attributes
    assert http.status.status_code is StatusCode.UNSET


async def test_send_notifications_is_named_for_what_it_does(spans, ondevice) -> None:
    tracer, exporter = spans
    _state, url = ondevice
    notification = {"id": "n1", "type": "display", "timestamp": 1, "mbox": {"name": "a"}}
    async with target(url) as client:
        await client.send_notifications(request={"id": {"tntId": TNT}, "notifications": [notification]})
    [call] = named(exporter, "target_async.send_notifications")
    assert call.attributes is not None
    assert call.attributes["target_async.delivery.notifications"] == 1
    assert [s.name for s in children(exporter, call)] == ["POST"]


async def test_each_retry_is_a_client_span_with_its_resend_count(spans) -> None:
    _tracer, exporter = spans
    answers = iter([429, 503])  # a POST is retried after these (with a Retry-After for the 503)

    def handler(req: httpx.Request) -> httpx.Response:
        status = next(answers, 200)
        if status != 200:
            return httpx.Response(status, json={"message": "busy"}, headers={"Retry-After": "0"})
        return httpx.Response(200, json={"status": 200, "requestId": "r"})

    async with AsyncTargetClient(
        client=CLIENT, organization_id=ORG, transport=httpx.MockTransport(handler), retries=2
    ) as client:
        await client.get_offers(request=request("a"))
    [call] = named(exporter, "target_async.get_offers")
    attempts = sorted(children(exporter, call), key=lambda s: s.start_time or 0)
    assert [s.name for s in attempts] == ["POST", "POST", "POST"]
    assert [(s.attributes or {}).get("http.response.status_code") for s in attempts] == [429, 503, 200]
    assert [(s.attributes or {}).get("http.request.resend_count") for s in attempts] == [None, 1, 2]
    assert [(s.attributes or {}).get("error.type") for s in attempts] == ["429", "503", None]
    assert [s.status.status_code for s in attempts] == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.UNSET]
    assert call.status.status_code is StatusCode.UNSET  # the call succeeded in the end


async def test_a_failed_call_records_the_sdk_error_and_the_attempts_error(spans) -> None:
    _tracer, exporter = spans
    port = free_port()  # nothing listens there
    async with AsyncTargetClient(
        client=CLIENT, organization_id=ORG, server_domain=f"127.0.0.1:{port}", secure=False, retries=0
    ) as client:
        with pytest.raises(Exception, match="failed") as raised:
            await client.get_offers(request=request("a"))
    [call] = named(exporter, "target_async.get_offers")
    assert call.status.status_code is StatusCode.ERROR
    assert call.attributes is not None
    assert call.attributes["error.type"] == f"target_async.{type(raised.value).__name__}"
    assert [e.name for e in call.events] == ["exception"]
    [http] = children(exporter, call)
    assert http.attributes is not None
    assert http.attributes["error.type"] == "httpx.ConnectError"
    assert "http.response.status_code" not in http.attributes
    assert http.status.status_code is StatusCode.ERROR


def test_the_sync_client_calls_in_the_callers_trace(spans, ondevice) -> None:
    tracer, exporter = spans
    _state, url = ondevice
    options = {"client": CLIENT, "organization_id": ORG, "server_domain": url.removeprefix("http://"), "secure": False}
    with TargetClient.create(options) as client, tracer.start_as_current_span("caller") as caller:
        client.get_offers({"request": {"execute": {"mboxes": [{"name": "a", "index": 1}]}}})
    [call] = named(exporter, "target_async.get_offers")
    assert call.parent is not None and call.parent.span_id == caller.get_span_context().span_id
    assert [s.name for s in children(exporter, call)] == ["POST"]


async def test_a_call_past_its_deadline(spans) -> None:
    _tracer, exporter = spans

    async def slow(req: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={"status": 200})

    transport = httpx.MockTransport(slow)
    async with AsyncTargetClient(client=CLIENT, organization_id=ORG, transport=transport, timeout=0.1) as client:
        with pytest.raises(RequestTimeoutError):
            await client.get_offers(request=request("a"))
    [call] = named(exporter, "target_async.get_offers")
    assert (call.attributes or {})["error.type"] == "target_async.RequestTimeoutError"
    [http] = children(exporter, call)
    assert (http.attributes or {})["error.type"] == "cancelled"  # the deadline cancelled the attempt
    assert http.status.status_code is StatusCode.ERROR


async def test_a_failure_to_describe_a_call_never_fails_the_call(spans, monkeypatch) -> None:
    _tracer, exporter = spans

    def broken(*args: Any) -> Any:
        raise RuntimeError("broken")

    monkeypatch.setattr(_otel_attributes, "_request_counts", broken)
    monkeypatch.setattr(_otel, "_request_attributes", broken)
    transport = httpx.MockTransport(lambda req: httpx.Response(200, json={"status": 200}))
    async with AsyncTargetClient(client=CLIENT, organization_id=ORG, transport=transport) as client:
        result = await client.get_offers(request=request("a"))
    assert result.response.status == 200
    assert sorted(s.name for s in exporter.get_finished_spans()) == ["POST", "target_async.get_offers"]


# -- on-device ------------------------------------------------------------------------------------------------------


async def test_an_on_device_decision_and_its_artifact_refreshes(spans, ondevice) -> None:
    tracer, exporter = spans
    state, url = ondevice
    async with target(url, decisioning_method="on-device", telemetry_enabled=False) as client:
        await client.wait_until_ready(timeout=5)
        with tracer.start_as_current_span("caller") as caller:
            result = await client.get_offers(request=request("mbox-magician"), session_id="s-1")
            assert result.meta.decisioning_method == "on-device"
            assert await client.refresh_artifact() is False  # If-None-Match: 304
            state.publish(fixture("TEST_ARTIFACT_AB_MULTI_SIMPLE"))
            assert await client.refresh_artifact() is True
    trace_id = caller.get_span_context().trace_id

    [call] = named(exporter, "target_async.get_offers")
    assert call.context.trace_id == trace_id
    assert call.attributes is not None
    assert call.attributes["target_async.delivery.method"] == "on-device"
    assert call.attributes["target_async.delivery.decided_by"] == "on-device"
    [decide] = children(exporter, call)
    assert decide.name == "target_async.on_device.decide" and decide.kind is SpanKind.INTERNAL
    assert decide.attributes is not None
    assert dict(decide.attributes) == {
        "target_async.on_device.execute.mboxes": 1,
        "target_async.on_device.execute.page_load": False,
        "target_async.on_device.prefetch.mboxes": 0,
        "target_async.on_device.prefetch.views": 0,
        "target_async.on_device.prefetch.page_load": False,
        "target_async.on_device.notifications": 0,
        "target_async.artifact.version": "1.0.0",
        "target_async.on_device.geo_lookup": False,
        "target_async.on_device.status": 200,
        "target_async.on_device.remote_mboxes": 0,
        "target_async.on_device.remote_views": 0,
        "target_async.on_device.notifications_queued": 1,  # the display notification of the mbox
    }
    # decided locally (no HTTP); the queued notification went out later, from the sender this decision started
    [notify] = children(exporter, decide)
    assert notify.name == "target_async.send_notifications"
    assert [s.name for s in children(exporter, notify)] == ["POST"]

    first, not_modified, changed = named(exporter, "target_async.artifact.refresh")
    location = f"{url}/{CLIENT}/production/v1/rules.json"
    # the first load ran in the polling task: a trace of its own, not the caller's
    assert first.parent is None and first.context.trace_id != trace_id
    assert first.attributes is not None
    assert first.attributes["target_async.artifact.location"] == location
    assert first.attributes["target_async.artifact.status_code"] == 200
    assert first.attributes["target_async.artifact.loaded"] is True
    etag = first.attributes["target_async.artifact.etag"]
    assert isinstance(etag, str) and etag.startswith('"')
    assert "target_async.artifact.if_none_match" not in first.attributes
    [download] = children(exporter, first)
    assert download.name == "GET" and download.kind is SpanKind.CLIENT
    assert (download.attributes or {})["url.full"] == location

    for refresh in (not_modified, changed):  # refresh_artifact() from the caller: in its trace
        assert refresh.context.trace_id == trace_id
    assert not_modified.attributes is not None and changed.attributes is not None
    assert not_modified.attributes["target_async.artifact.if_none_match"] == etag
    assert not_modified.attributes["target_async.artifact.status_code"] == 304
    assert not_modified.attributes["target_async.artifact.loaded"] is False
    assert not_modified.status.status_code is StatusCode.UNSET
    assert changed.attributes["target_async.artifact.status_code"] == 200
    assert changed.attributes["target_async.artifact.loaded"] is True
    assert changed.attributes["target_async.artifact.etag"] != etag


async def test_a_failed_refresh_is_an_error_span(spans, ondevice) -> None:
    _tracer, exporter = spans
    state, url = ondevice
    async with target(url, decisioning_method="on-device", retries=0) as client:
        await client.wait_until_ready(timeout=5)
        state.artifact_status = 500
        assert await client.refresh_artifact() is False
    refresh = named(exporter, "target_async.artifact.refresh")[-1]
    assert refresh.attributes is not None
    assert refresh.attributes["target_async.artifact.status_code"] == 500
    assert refresh.attributes["target_async.artifact.loaded"] is False
    assert refresh.attributes["error.type"] == "target_async.ServerError"
    assert refresh.status.status_code is StatusCode.ERROR


# -- repository -----------------------------------------------------------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[str]:
    with serve(create_app(delete_mode="async", delete_pending_polls=2)) as url:
        yield url


def repository(url: str) -> AsyncRepositoryClient:
    return AsyncRepositoryClient(
        access_token="secret-token",
        api_key="secret-key",
        org_id="E2E0000@AdobeOrg",
        sandbox_name="prod",
        base_url=f"{url}/data/core/xcore/",
    )


def all_values(exporter: InMemorySpanExporter) -> str:
    return json.dumps([dict(s.attributes or {}) for s in exporter.get_finished_spans()])


async def test_a_repository_call_is_a_client_span_without_credentials(spans, emulator) -> None:
    _tracer, exporter = spans
    async with repository(emulator) as repo:
        await repo.list_containers(["dma_offers"])
    [http] = exporter.get_finished_spans()
    assert http.name == "GET" and http.kind is SpanKind.CLIENT and http.parent is None
    assert http.attributes is not None
    assert http.attributes["url.full"] == f"{emulator}/data/core/xcore/?product=dma_offers"
    assert http.attributes["http.response.status_code"] == 200
    assert "secret" not in all_values(exporter)


async def test_a_delete_with_polling_counts_its_polls(spans, emulator) -> None:
    tracer, exporter = spans
    async with repository(emulator) as repo:
        [container] = await repo.list_containers(["dma_offers"])
        cid = container.container_id
        tag = await repo.create_instance(cid, Schema.TAG, Tag(xdm_name="t"))
        exporter.clear()
        with tracer.start_as_current_span("caller"):
            outcome = await repo.delete_instance(cid, tag.instance_id)
    assert outcome.confirmed
    [delete_call] = [s for s in exporter.get_finished_spans() if s.name == "DELETE"]
    [wait] = named(exporter, "target_async.delete_operation.result")
    assert wait.kind is SpanKind.INTERNAL
    assert wait.attributes is not None
    assert wait.attributes["target_async.delete.polls"] == 3  # two pending answers, then the outcome
    assert wait.attributes["target_async.delete.outcome"] == "confirmed"
    assert wait.attributes["target_async.repository.instance_id"] == tag.instance_id
    assert wait.attributes["target_async.repository.container_id"] == cid
    polls = children(exporter, wait)
    assert [s.name for s in polls] == ["GET", "GET", "GET"]
    assert [(s.attributes or {}).get("http.response.status_code") for s in polls] == [202, 202, 200]
    assert delete_call.parent == wait.parent  # the DELETE itself is not a poll
    assert "secret" not in all_values(exporter)


async def test_a_delete_that_times_out_says_so(spans) -> None:
    _tracer, exporter = spans
    with serve(create_app(delete_mode="async", delete_pending_polls=10**6)) as url:
        async with repository(url) as repo:
            [container] = await repo.list_containers(["dma_offers"])
            cid = container.container_id
            tag = await repo.create_instance(cid, Schema.TAG, Tag(xdm_name="t"))
            op = await repo.begin_delete(cid, tag.instance_id)
            with pytest.raises(Exception, match="still pending"):
                await op.result(timeout=0.3)
    [wait] = named(exporter, "target_async.delete_operation.result")
    assert wait.attributes is not None
    assert wait.attributes["target_async.delete.outcome"] == "pending"
    polls = wait.attributes["target_async.delete.polls"]
    assert isinstance(polls, int) and polls >= 1
    assert wait.attributes["error.type"] == "target_async.PollingTimeoutError"
    assert wait.status.status_code is StatusCode.ERROR


def test_the_public_hooked_method_is_still_a_coroutine_function() -> None:
    from target_async.repository import DeleteOperation

    assert _otel.INSTALLED
    assert hasattr(DeleteOperation.result, "__wrapped__")
    assert inspect.iscoroutinefunction(DeleteOperation.result)


# -- redaction ------------------------------------------------------------------------------------------------------


def test_urls_lose_user_info_and_unsafe_query_values() -> None:
    assert _otel.safe_url("https://u:p@h.example:8443/p/x?imsOrgId=O&sessionId=s&property=name%3D%3Dx&flag") == (
        "https://h.example:8443/p/x?imsOrgId=O&sessionId=REDACTED&property=REDACTED&flag"
    )


# -- without OpenTelemetry, and through the global API --------------------------------------------------------------

_CALL = """
import asyncio, sys
import httpx
{prelude}
from target_async import AsyncTargetClient, _otel
from target_async.delivery._client import AsyncTargetClient as Impl

def handler(request):
    return httpx.Response(200, json={{"status": 200, "requestId": "r"}})

async def main():
    transport = httpx.MockTransport(handler)
    async with AsyncTargetClient(client="c", organization_id="o@AdobeOrg", transport=transport) as client:
        result = await client.get_offers(request={{"execute": {{"mboxes": [{{"name": "a", "index": 1}}]}}}})
    assert result.response.status == 200

asyncio.run(main())
{check}
"""


_ABSENT = (
    "sys.modules['opentelemetry'] = None  # as if it were not installed",
    "assert _otel.INSTALLED is False\n"
    "assert not hasattr(Impl._deliver, '__wrapped__')  # the hooks are the functions themselves\n"
    "assert [m for m in sys.modules if m.startswith('opentelemetry')] == ['opentelemetry']",
)
_PRESENT = (
    "",
    textwrap.dedent(
        """
        assert _otel.INSTALLED is True and _otel._tracer is None
        assert "opentelemetry.trace" not in sys.modules, sorted(m for m in sys.modules if "opentelemetry" in m)
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        asyncio.run(main())  # imported, no provider yet: the API's no-op tracer, nothing recorded
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        asyncio.run(main())
        print([(s.name, s.instrumentation_scope.name) for s in exporter.get_finished_spans()])
        """
    ),
)


@pytest.fixture(scope="module")
def processes() -> Iterator[dict[str, subprocess.Popen[str]]]:
    """Both interpreters, started together (they are the slow part of this file)."""
    started = {
        name: subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(_CALL).format(prelude=prelude, check=check)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (prelude, check) in {"absent": _ABSENT, "present": _PRESENT}.items()
    }
    yield started
    for process in started.values():
        if process.poll() is None:
            process.kill()
        process.communicate()


def output(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out


def test_without_opentelemetry_nothing_is_wrapped_or_imported(processes) -> None:
    output(processes["absent"])


def test_installed_opentelemetry_is_imported_by_the_application_only_and_a_later_provider_gets_spans(
    processes,
) -> None:
    out = output(processes["present"])
    assert out.strip() == "[('POST', 'target_async'), ('target_async.get_offers', 'target_async')]"
