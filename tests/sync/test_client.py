"""TargetClient: create, blocking calls, callback calls, close, over real HTTP to the stub server."""

from __future__ import annotations

import concurrent.futures as cf
import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from target_async import (
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    RequestTimeoutError,
    ServerError,
    UsageError,
    ValidationError,
)
from target_async.delivery import Attributes, TargetDeliveryResponse
from target_async.sync import AsyncResult, TargetClient
from target_async.sync._callback_thread import CALLBACK_THREAD_NAME

from .conftest import Stub, mbox_names, request_for

MakeClient = Callable[..., TargetClient]


# -- create -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (None, "Options are required"),
        ({}, "Options are required"),
        ({"organization_id": "o@AdobeOrg"}, "Client is required"),
        ({"client": "acmeclient"}, "Organization Id is required"),
        (
            {"client": "c", "organization_id": "o@AdobeOrg", "decisioning_method": "remote"},
            "Invalid Decisioning Method.  Must be set to one of: hybrid,on-device,server-side",
        ),
        ({"client": "c", "organization_id": "o@AdobeOrg", "colour": "red"}, "Unknown option"),
    ],
)
def test_create_validates_with_the_documented_messages(options: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        TargetClient.create(options)
    assert str(info.value).startswith(message)


def test_constructor_points_to_create() -> None:
    with pytest.raises(UsageError, match="Please use TargetClient.create static method instead"):
        TargetClient()


def test_every_documented_create_option_is_accepted(make_client: MakeClient) -> None:
    client = make_client(
        timeout=2000,
        target_location_hint=None,
        logger=logging.getLogger("acme"),
        decisioning_method="server-side",
        polling_interval=300000,
        maximum_wait_ready=-1,
        artifact_location="https://assets.adobetarget.com/x/rules.json",
        artifact_payload=None,
        environment_id=1,
        environment="production",
        cdn_environment="production",
        cdn_base_path=None,
        telemetry_enabled=True,
        version="1.0.0",
        property_token="token",
        events={},
    )
    assert isinstance(client.get_offers({"request": request_for("hero")}), TargetDeliveryResponse)


# -- blocking calls ---------------------------------------------------------------------------------------


def test_get_offers_blocks_and_returns_the_response(client: TargetClient) -> None:
    response = client.get_offers({"request": request_for("hero"), "session_id": "s-1"})
    assert isinstance(response, TargetDeliveryResponse)
    assert mbox_names(response) == ["hero"]
    assert response["target_cookie"]["name"] == "mbox"  # mapping access, as in Adobe's SDK
    assert response.target_cookie is not None and "session#s-1#" in response.target_cookie.value


def test_blocking_errors_are_typed(client: TargetClient) -> None:
    with pytest.raises(BadRequestError) as info:
        client.get_offers({"request": request_for("status-400")})
    assert info.value.status == 400
    with pytest.raises(ServerError):
        client.get_offers({"request": request_for("status-503")})
    with pytest.raises(ValidationError, match="Request object of type DeliveryRequest is required"):
        client.get_offers({})


def test_send_notifications_and_get_attributes(client: TargetClient) -> None:
    from target_async.models import DeliveryRequest, MetricType, Notification, NotificationMbox

    notification = Notification(
        id="n1", type=MetricType.DISPLAY, timestamp=int(time.time() * 1000), mbox=NotificationMbox(name="hero")
    )
    response = client.send_notifications({"request": DeliveryRequest(notifications=[notification])})
    assert isinstance(response, TargetDeliveryResponse)
    attributes = client.get_attributes(["hero", "promo"])
    assert isinstance(attributes, Attributes)
    assert attributes.get_value("promo", "mbox") == "promo"


def test_timeout_is_in_milliseconds_and_enforced(make_client: MakeClient) -> None:
    client = make_client(timeout=300)
    start = time.monotonic()
    with pytest.raises(RequestTimeoutError):
        client.get_offers({"request": request_for("slow-3000")})
    assert time.monotonic() - start < 2.0  # Adobe's SDK ignores the timeout and waits the 3 s


def test_connections_are_reused_across_calls(client: TargetClient, stub: Stub) -> None:
    stub.reset()
    for _ in range(20):
        client.get_offers({"request": request_for("hero")})
    ars = [client.get_offers({"request": request_for("hero"), "callback": lambda r: None}) for _ in range(20)]
    for ar in ars:
        ar.get(timeout=10)
    stats = stub.stats()
    assert stats["requests"] == 40
    assert stats["connections"] <= 21  # Adobe's SDK opens one connection per call


# -- callback calls ---------------------------------------------------------------------------------------


def test_callback_call_returns_at_once_and_get_returns_what_the_callback_got(client: TargetClient) -> None:
    received: list[tuple[Any, str]] = []
    start = time.monotonic()
    result = client.get_offers(
        {
            "request": request_for("slow-300"),
            "callback": lambda r: received.append((r, threading.current_thread().name)),
        }
    )
    assert time.monotonic() - start < 0.2
    assert isinstance(result, AsyncResult) and not result.ready()
    response = result.get(timeout=10)
    assert isinstance(response, TargetDeliveryResponse)
    assert received == [(response, CALLBACK_THREAD_NAME)]  # the same object, on the callback thread
    assert result.successful()


def test_err_callback_gets_the_typed_error_and_get_reraises_it(client: TargetClient) -> None:
    errors: list[BaseException] = []
    result = client.get_offers(
        {"request": request_for("status-400"), "callback": lambda r: None, "err_callback": errors.append}
    )
    with pytest.raises(BadRequestError) as info:
        result.get(timeout=10)
    assert errors == [info.value]
    assert result.successful() is False


def test_err_callback_alone_selects_callback_mode(client: TargetClient) -> None:
    errors: list[BaseException] = []
    result = client.get_offers({"request": request_for("status-404"), "err_callback": errors.append})
    assert isinstance(result, AsyncResult)
    result.wait(10)
    assert len(errors) == 1 and errors[0].status == 404  # type: ignore[attr-defined]


def test_callback_must_be_callable(client: TargetClient) -> None:
    with pytest.raises(ValidationError, match="^Callback must be a callable function$"):
        client.get_offers({"request": request_for("hero"), "callback": "not a function"})
    with pytest.raises(ValidationError, match="Error callback must be a callable function"):
        client.get_offers({"request": request_for("hero"), "callback": _ignore, "err_callback": 3})


def test_callbacks_with_send_notifications_and_get_attributes(client: TargetClient) -> None:
    got: list[Any] = []
    a = client.get_attributes(["hero"], {"callback": got.append})
    assert isinstance(a, AsyncResult)
    attributes = a.get(timeout=10)
    assert isinstance(attributes, Attributes) and got == [attributes]
    assert attributes.as_object("hero") == {"mbox": "hero"}


def test_callback_failures_go_to_the_clients_logger(make_client: MakeClient, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("acme.target")
    client = make_client(logger=logger)

    def callback(response: Any) -> None:
        raise RuntimeError("bug in user code")

    with caplog.at_level(logging.ERROR, logger="acme.target"):
        result = client.get_offers({"request": request_for("hero"), "callback": callback})
        assert isinstance(result.get(timeout=10), TargetDeliveryResponse)
    assert [r.name for r in caplog.records if "bug in user code" in r.getMessage() or r.exc_info] == ["acme.target"]


def test_options_are_not_mutated(client: TargetClient) -> None:
    options: dict[str, Any] = {"request": request_for("hero"), "callback": _ignore}
    before = dict(options)
    result = client.get_offers(options)
    assert isinstance(result, AsyncResult)
    result.get(timeout=10)
    assert options == before


# -- close ------------------------------------------------------------------------------------------------


def test_close_and_context_manager(client_options: dict[str, Any]) -> None:
    with TargetClient.create(client_options) as client:
        assert isinstance(client.get_offers({"request": request_for("hero")}), TargetDeliveryResponse)
    assert client.closed
    with pytest.raises(ClientClosedError):
        client.get_offers({"request": request_for("hero")})
    with pytest.raises(ClientClosedError):
        client.get_offers({"request": request_for("hero"), "callback": _ignore})
    client.close()  # idempotent


def test_close_completes_calls_in_flight(client_options: dict[str, Any]) -> None:
    client = TargetClient.create(client_options)
    got: list[Any] = []
    results = [client.get_offers({"request": request_for("slow-200"), "callback": got.append}) for _ in range(20)]
    client.close()
    assert len(got) == 20  # every callback ran before close() returned
    assert all(r.ready() and r.successful() for r in results)


def test_close_with_cancel_pending_cancels_calls_in_flight(client_options: dict[str, Any]) -> None:
    client = TargetClient.create(client_options)
    errors: list[BaseException] = []
    results = [
        client.get_offers({"request": request_for("slow-5000"), "callback": _ignore, "err_callback": errors.append})
        for _ in range(10)
    ]
    start = time.monotonic()
    client.close(cancel_pending=True)
    assert time.monotonic() - start < 3
    assert len(errors) == 10 and all(isinstance(e, cf.CancelledError) for e in errors)
    for result in results:
        with pytest.raises(cf.CancelledError):
            result.get(timeout=0)


def test_close_timeout_bounds_the_wait(client_options: dict[str, Any]) -> None:
    client = TargetClient.create({**client_options, "timeout": 10000})
    fast = client.get_offers({"request": request_for("slow-50"), "callback": _ignore})
    slow = client.get_offers({"request": request_for("slow-5000"), "callback": _ignore})
    start = time.monotonic()
    client.close(timeout=1.0)
    assert time.monotonic() - start < 3
    assert fast.successful()
    with pytest.raises(cf.CancelledError):
        slow.get(timeout=0)


def test_unclosed_client_warns_and_is_closed_when_collected(client_options: dict[str, Any]) -> None:
    client = TargetClient.create(client_options)
    client.get_offers({"request": request_for("hero")})
    with pytest.warns(ResourceWarning, match="garbage-collected without close"):
        del client
        gc.collect()
    # the lease is given back on the callback thread; the shared threads then stop (checked by the fixture)


def _ignore(response: Any) -> None:
    pass
