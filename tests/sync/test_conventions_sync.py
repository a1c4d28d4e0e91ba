"""The client conventions of the async clients on the sync facades (#14): a per-call ``timeout`` in the options
dict (milliseconds), ``with_options(...)`` copies sharing the original's threads and pools, ``with_raw_response``."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from target_async import (
    ClientClosedError,
    ConfigurationError,
    NotFoundError,
    RawResponse,
    RequestTimeoutError,
    ServerError,
    ValidationError,
)
from target_async.delivery import TargetDeliveryResponse
from target_async.models import DeliveryRequest, MetricType, Notification, NotificationMbox
from target_async.sync import AsyncResult, RepositoryClient, TargetClient
from target_async.testing import serve

from .conftest import Stub, mbox_names, request_for

MakeClient = Callable[..., TargetClient]


def slow_notifications(ms: int) -> DeliveryRequest:
    """A notifications request that the stub answers after ``ms`` (its first execute mbox steers it)."""
    request = request_for(f"slow-{ms}")
    mbox = NotificationMbox(name="hero")
    stamp = int(time.time() * 1000)
    request.notifications = [Notification(id="n1", type=MetricType.DISPLAY, timestamp=stamp, mbox=mbox)]
    return request


# -- the per-call timeout (milliseconds) ---------------------------------------------------------------------


def test_a_call_timeout_in_the_options_is_in_milliseconds(client: TargetClient) -> None:
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError):
        client.get_offers({"request": request_for("slow-1500"), "timeout": 100})
    assert time.monotonic() - started < 1.0  # 100 ms, not the client's 3000 ms (nor 100 seconds)
    response = client.get_offers({"request": request_for("slow-150"), "timeout": 2000})
    assert mbox_names(response) == ["slow-150"]


def test_a_call_timeout_reaches_the_callbacks_and_every_call(client: TargetClient) -> None:
    errors: list[BaseException] = []
    result = client.get_offers({"request": request_for("slow-1500"), "timeout": 100, "err_callback": errors.append})
    with pytest.raises(RequestTimeoutError):
        result.get(5)
    deadline = time.monotonic() + 5
    while not errors and time.monotonic() < deadline:
        time.sleep(0.01)
    assert isinstance(errors[0], RequestTimeoutError)
    with pytest.raises(RequestTimeoutError):
        client.get_attributes(["slow-1500"], {"timeout": 100})
    with pytest.raises(RequestTimeoutError):
        client.send_notifications({"request": slow_notifications(1500), "timeout": 100})


@pytest.mark.parametrize("bad", [0, -5, True, "100", float("inf")])
def test_a_bad_call_timeout_is_refused_before_sending(client: TargetClient, stub: Stub, bad: Any) -> None:
    before = stub.stats()["requests"]
    with pytest.raises(ValidationError, match="milliseconds") as caught:
        client.get_offers({"request": request_for("a"), "timeout": bad})
    assert caught.value.field == "timeout"
    assert stub.stats()["requests"] == before


def test_a_misspelled_call_option_gets_a_suggestion(client: TargetClient) -> None:
    with pytest.raises(ValidationError, match=r"timout \(did you mean timeout\?\)"):
        client.get_offers({"request": request_for("a"), "timout": 100})
    with pytest.raises(ValidationError, match=r"calback \(did you mean callback\?\)"):
        client.get_offers({"request": request_for("a"), "calback": print})


# -- with_options ----------------------------------------------------------------------------------------------


def test_with_options_timeout_applies_to_the_copy_only(client: TargetClient) -> None:
    quick = client.with_options(timeout=0.1)  # seconds, as every keyword argument
    with pytest.raises(RequestTimeoutError):
        quick.get_offers({"request": request_for("slow-1500")})
    assert mbox_names(client.get_offers({"request": request_for("slow-200")})) == ["slow-200"]
    # a per-call timeout still wins on the copy
    assert mbox_names(quick.get_offers({"request": request_for("slow-200"), "timeout": 2000})) == ["slow-200"]


def test_a_copy_shares_the_pool_and_lives_on_threads_of_callers(client: TargetClient, stub: Stub) -> None:
    copy = client.with_options(timeout=2)
    assert copy._strategy is client._strategy
    stub.reset()
    for _ in range(3):
        client.get_offers({"request": request_for("a")})
        copy.get_offers({"request": request_for("b")})
    assert stub.stats()["connections"] == 1  # one lane (this thread), one pooled connection for both
    seen: list[Any] = []
    worker = threading.Thread(target=lambda: seen.append(mbox_names(copy.get_offers({"request": request_for("w")}))))
    worker.start()
    worker.join(10)
    assert seen == [["w"]]
    assert copy.get_offers({"request": request_for("cb"), "callback": lambda r: None}).get(5) is not None


def test_closing_a_copy_leaves_the_original_open(client: TargetClient) -> None:
    copy = client.with_options(timeout=2)
    with copy:
        copy.get_offers({"request": request_for("a")})
    assert copy.closed and not client.closed
    with pytest.raises(ClientClosedError, match="with_options copy"):
        copy.get_offers({"request": request_for("a")})
    assert mbox_names(client.get_offers({"request": request_for("a")})) == ["a"]


def test_closing_the_original_closes_its_copies(make_client: MakeClient) -> None:
    client = make_client()
    copy = client.with_options(retries=1)
    client.close()
    assert copy.closed
    with pytest.raises(ClientClosedError):
        copy.get_offers({"request": request_for("a")})
    with pytest.raises(ClientClosedError):
        client.with_options(timeout=1)


def test_a_collected_copy_neither_warns_nor_closes_the_original(client: TargetClient) -> None:
    copy = client.with_options(timeout=2)
    copy.get_offers({"request": request_for("a")})
    del copy
    gc.collect()  # a ResourceWarning would be an error here (filterwarnings = error)
    assert not client.closed
    assert mbox_names(client.get_offers({"request": request_for("a")})) == ["a"]


def test_with_options_checks_its_arguments_at_once(client: TargetClient) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        client.with_options(timeout=-1)
    with pytest.raises(ConfigurationError, match="retries"):
        client.with_options(retries=-1)
    with pytest.raises(ConfigurationError):
        client.with_options(headers={"x-bad": "a\r\nb"})


@pytest.fixture
def echo_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A Delivery API answering every call (503 with ``Retry-After`` for the mbox "busy"), keeping the headers of
    each request."""
    seen: list[dict[str, str]] = []

    async def delivery(request: Request) -> JSONResponse:
        seen.append(dict(request.headers))
        body = await request.json()
        if body["execute"]["mboxes"][0]["name"] == "busy":  # refused: retried when retries allow
            return JSONResponse({"message": "busy"}, status_code=503, headers={"retry-after": "0"})
        return JSONResponse({"status": 200, "requestId": body.get("requestId"), "client": "acmeclient"})

    app = Starlette(routes=[Route("/rest/v1/delivery", delivery, methods=["POST"])])
    with serve(app) as url:
        yield url, seen


def test_with_options_headers_are_sent_by_the_copy_only(echo_server: tuple[str, list[dict[str, str]]]) -> None:
    url, seen = echo_server
    options = {"client": "acmeclient", "organization_id": "1@AdobeOrg", "secure": False}
    with TargetClient.create({**options, "server_domain": url.removeprefix("http://")}) as client:
        tagged = client.with_options(headers={"x-tenant": "blue"})
        twice = tagged.with_options(headers={"x-team": "red"})
        tagged.get_offers({"request": request_for("a")})
        client.get_offers({"request": request_for("a")})
        twice.get_offers({"request": request_for("a")})
    assert seen[0]["x-tenant"] == "blue"
    assert "x-tenant" not in seen[1]
    assert (seen[2]["x-tenant"], seen[2]["x-team"]) == ("blue", "red")


def test_with_options_retries(echo_server: tuple[str, list[dict[str, str]]]) -> None:
    url, seen = echo_server
    options = {"client": "acmeclient", "organization_id": "1@AdobeOrg", "secure": False, "retries": 0}
    with TargetClient.create({**options, "server_domain": url.removeprefix("http://")}) as client:
        with pytest.raises(ServerError):
            client.with_options(retries=2).get_offers({"request": request_for("busy")})
        assert len(seen) == 3
        with pytest.raises(ServerError):
            client.get_offers({"request": request_for("busy")})
        assert len(seen) == 4


# -- with_raw_response -----------------------------------------------------------------------------------------


def test_with_raw_response_blocking_and_with_callbacks(client: TargetClient) -> None:
    raw = client.with_raw_response.get_offers({"request": request_for("a")})
    assert isinstance(raw, RawResponse)
    assert raw.status_code == 200
    assert raw.request_id
    parsed = raw.parse()
    assert isinstance(parsed, TargetDeliveryResponse)
    assert mbox_names(parsed) == ["a"]
    got: list[Any] = []
    result = client.with_raw_response.get_attributes(["b"], {"callback": got.append})
    assert isinstance(result, AsyncResult)
    raw_attributes = result.get(5)
    assert got == [raw_attributes]
    assert isinstance(raw_attributes, RawResponse)
    assert raw_attributes.parse().get_value("b", "mbox") == "b"
    with pytest.raises(RequestTimeoutError):
        client.with_options(timeout=0.1).with_raw_response.send_notifications({"request": slow_notifications(1500)})


# -- RepositoryClient.with_options -------------------------------------------------------------------------------


def test_repository_with_options_copy_sends_headers_and_is_owned_by_the_original() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"title": "not found"})

    repo = RepositoryClient(
        access_token="t",
        api_key="k",
        org_id="O@AdobeOrg",
        sandbox_name="prod",
        transport=httpx.MockTransport(handler),
        retries=0,
    )
    try:
        copy = repo.with_options(headers={"x-tenant": "blue"}, timeout=5)
        assert copy._strategy is repo._strategy
        with pytest.raises(NotFoundError):
            copy.get_instance("c", "i")
        with pytest.raises(NotFoundError):
            repo.get_instance("c", "i")
        assert seen[0].headers["x-tenant"] == "blue"
        assert "x-tenant" not in seen[1].headers
        copy.close()
        assert copy.closed and not repo.closed
        with pytest.raises(ClientClosedError):
            copy.get_instance("c", "i")
        with pytest.raises(NotFoundError):
            repo.get_instance("c", "i")
        other = repo.with_options(retries=0)
        del other
        gc.collect()  # a copy collected unclosed neither warns nor closes the original
        assert not repo.closed
        last = repo.with_options(timeout=5)
    finally:
        repo.close()
    assert last.closed
    with pytest.raises(ClientClosedError):
        last.get_instance("c", "i")
    with pytest.raises(ClientClosedError):
        repo.with_options(timeout=1)


def test_a_misspelled_repository_keyword_gets_a_suggestion_before_sending() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"title": "not found"})

    with RepositoryClient(
        access_token="t", api_key="k", org_id="O@AdobeOrg", sandbox_name="prod", transport=httpx.MockTransport(handler)
    ) as repo:
        with pytest.raises(TypeError, match=r"get_instance\(\) got an unexpected keyword argument 'timout' "):
            repo.get_instance("c", "i", timout=5)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match=r"did you mean timeout\?"):
            repo.with_options(retries=0).get_instance("c", "i", timout=5)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match=r"did you mean if_match\?"):
            repo.replace_instance("c", "i", "offer", {}, if_mach="x")  # type: ignore[call-arg]
    assert seen == []
