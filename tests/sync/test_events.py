"""The client_ready event, and the documented example run as written."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import pytest

from target_async.sync import TargetClient, _events as events_module
from target_async.sync._callback_thread import CALLBACK_THREAD_NAME, CallbackThread

from .conftest import Stub, request_for

# The example of the documentation (seeds/000), verbatim; only the imports and the stub's server_domain and
# secure are added.
DOCUMENTED_EXAMPLE = """
from target_async.models import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest
from target_async.sync import TargetClient

def client_ready_callback():
    context = Context(channel=ChannelType.WEB)
    mboxes = [MboxRequest(name="a1-serverside-ab", index=1)]
    execute = ExecuteRequest(mboxes=mboxes)
    delivery_request = DeliveryRequest(context=context, execute=execute)

    get_offers_options = {
      "request": delivery_request
    }

    target_delivery_response = target_client.get_offers(get_offers_options)


client_options = {
    "client": "acmeclient",
    "organization_id": "1234567890@AdobeOrg",
    "server_domain": SERVER_DOMAIN,
    "secure": False,
    "events": {
        "client_ready": client_ready_callback
    }
}
target_client = TargetClient.create(client_options)
"""


def test_the_documented_example_runs_as_written(stub: Stub) -> None:
    """As a script: the handler runs (even though the script ends at once) and its get_offers is answered."""
    stub.reset()
    script = DOCUMENTED_EXAMPLE.replace("SERVER_DOMAIN", repr(stub.domain))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr
    assert stub.stats()["mboxes"] == {"a1-serverside-ab": 1}


def test_the_documented_example_in_process(stub: Stub) -> None:
    """In a running program: the handler sees the module global that create() was assigned to."""
    stub.reset()
    namespace: dict[str, Any] = {}
    script = DOCUMENTED_EXAMPLE.replace("SERVER_DOMAIN", repr(stub.domain))
    script += textwrap.dedent(
        """
        import threading
        seen = []
        handled = threading.Event()
        _original = client_ready_callback
        def client_ready_callback():
            seen.append(threading.current_thread().name)
            _original()
            handled.set()
        """
    )
    # re-create with the instrumented handler, exactly as the example does
    script += 'client_options["events"]["client_ready"] = client_ready_callback\n'
    script += "target_client.close()\ntarget_client = TargetClient.create(client_options)\n"
    exec(compile(script, "<documented example>", "exec"), namespace)
    try:
        assert namespace["handled"].wait(10)
        assert namespace["seen"] == [CALLBACK_THREAD_NAME]
    finally:
        namespace["target_client"].close()
    assert stub.stats()["mboxes"] == {"a1-serverside-ab": 1}


def test_handler_gets_the_event_dict_on_the_callback_thread(client_options: dict[str, Any]) -> None:
    events: list[tuple[Any, ...]] = []
    got = threading.Event()
    holder: dict[str, TargetClient] = {}

    def on_ready(event: dict[str, Any]) -> None:
        events.append((event, threading.current_thread().name))
        events.append(("client stored", "client" in holder))
        got.set()

    holder["client"] = TargetClient.create({**client_options, "events": {"client_ready": on_ready}})
    try:
        assert got.wait(5)
        assert events == [({"type": "client_ready"}, CALLBACK_THREAD_NAME), ("client stored", True)]
    finally:
        holder["client"].close()


def test_handlers_taking_varargs_get_the_event(client_options: dict[str, Any]) -> None:
    got: list[tuple[Any, ...]] = []
    fired = threading.Event()

    def on_ready(*args: Any) -> None:
        got.append(args)
        fired.set()

    with TargetClient.create({**client_options, "events": {"client_ready": on_ready}}):
        assert fired.wait(5)
    assert got == [({"type": "client_ready"},)]


def test_a_failing_handler_is_logged(client_options: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    fired = threading.Event()

    def on_ready() -> None:
        fired.set()
        raise RuntimeError("handler bug")

    with caplog.at_level(logging.ERROR, logger="target_async"):
        client = TargetClient.create({**client_options, "events": {"client_ready": on_ready}})
        assert fired.wait(5)
        time.sleep(0.05)
        # the callback thread lives on
        result = client.get_offers({"request": request_for("hero"), "callback": lambda r: None})
        result.get(timeout=10)
        client.close()
    assert "client_ready handler failed" in caplog.text and "handler bug" in caplog.text


def test_other_events_are_accepted_and_not_fired(client_options: dict[str, Any]) -> None:
    calls: list[str] = []
    events = {
        "client_ready": lambda: calls.append("ready"),
        "artifact_download_succeeded": lambda e: calls.append("artifact"),
    }
    client = TargetClient.create({**client_options, "events": events})
    time.sleep(0.3)
    client.close()
    assert calls == ["ready"]


def test_no_event_for_a_client_closed_before_it_fired(client_options: dict[str, Any]) -> None:
    calls: list[str] = []
    TargetClient.create({**client_options, "events": {"client_ready": lambda: calls.append("ready")}}).close()
    time.sleep(0.2)
    assert calls == []


# -- the ready watch itself -----------------------------------------------------------------------------


class _FakeFrame:
    def __init__(self) -> None:
        self.f_lasti = 10


@pytest.fixture
def callbacks() -> Iterator[CallbackThread]:
    d = CallbackThread()
    yield d
    d.stop()


def _watch(client: TargetClient, frame: Any, callbacks: CallbackThread, fired: threading.Event) -> None:
    watch = events_module.ReadyWatch(client, fired.set, frame, logging.getLogger("target_async"))
    watch.arm(callbacks)


def test_ready_waits_until_the_caller_moved_past_the_call(
    client: TargetClient, callbacks: CallbackThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_module, "_READY_MAX_WAIT", 30.0)
    frame = _FakeFrame()
    fired = threading.Event()
    _watch(client, frame, callbacks, fired)
    assert not fired.wait(0.3)  # the caller is still "inside" create()
    frame.f_lasti = 12  # it stored the result
    assert fired.wait(5)


def test_ready_is_never_later_than_the_ceiling(client: TargetClient, callbacks: CallbackThread) -> None:
    fired = threading.Event()
    start = time.monotonic()
    _watch(client, _FakeFrame(), callbacks, fired)  # a caller that never moves on
    assert fired.wait(5)
    assert time.monotonic() - start >= events_module._READY_MAX_WAIT


def test_ready_fires_at_exit_if_still_pending(
    client: TargetClient, callbacks: CallbackThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_module, "_READY_MAX_WAIT", 30.0)
    fired = threading.Event()
    _watch(client, _FakeFrame(), callbacks, fired)
    assert callbacks.expedite(5)
    assert fired.is_set()


def test_ready_watch_does_not_keep_the_callers_frame(client: TargetClient, callbacks: CallbackThread) -> None:
    fired = threading.Event()
    frame = types.SimpleNamespace(f_lasti=1)
    watch = events_module.ReadyWatch(client, fired.set, frame, logging.getLogger("x"))  # type: ignore[arg-type]
    watch.arm(callbacks)
    frame.f_lasti = 2
    assert fired.wait(5)
    callbacks.flush(5)
    assert watch._caller is None


def test_ready_watch_armed_twice_fires_once(client: TargetClient, callbacks: CallbackThread) -> None:
    """Server-side ``create()`` arms it, and so may the async client's own ``client_ready``: one event."""
    fired: list[int] = []
    frame = types.SimpleNamespace(f_lasti=1)
    watch = events_module.ReadyWatch(client, lambda: fired.append(1), frame)  # type: ignore[arg-type]
    watch.arm(callbacks)
    watch.arm(callbacks)
    frame.f_lasti = 2
    deadline = time.monotonic() + 5
    while not fired and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    callbacks.flush(5)
    assert fired == [1]
