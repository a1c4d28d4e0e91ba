"""Legacy synchronous code: ``TargetClient`` with ``client_ready``, ``callback``/``err_callback`` and ``AsyncResult``.

The code reads as with Adobe's official Python SDK: ``TargetClient.create({...})``, an ``events`` handler,
``get_offers({"request": ..., "callback": ..., "err_callback": ...})`` returning an ``AsyncResult``, then
``close()``. The error path injects a fault into the emulator (``POST /_emulator/faults``) so that the next
call fails with a 500 (not retried: it executes an mbox) and ``err_callback`` gets the ``ServerError``. Run it::

    python examples/legacy_callbacks.py [--url URL]

Target is ``--url``, else ``$TARGET_EMULATOR_URL``, else an emulator embedded on loopback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
from urllib.parse import urlsplit

import httpx

from target_async import TargetClient, TargetDeliveryResponse
from target_async.emulator import create_app
from target_async.models import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest
from target_async.testing import EMULATOR_CLIENT, EMULATOR_ORG_ID, serve


def run(url: str) -> None:
    ready = threading.Event()

    def client_ready_callback(event: dict[str, str]) -> None:
        print(f"event {event['type']} on thread {threading.current_thread().name!r}")
        ready.set()

    def on_response(response: TargetDeliveryResponse) -> None:  # dict-style access, as with the official SDK
        print(f"callback: status {response['response'].status}, cookie {response['target_cookie']['name']}")

    def on_error(error: BaseException) -> None:
        print(f"err_callback: {type(error).__name__} (status {getattr(error, 'status', None)})")

    parts = urlsplit(url)
    target_client = TargetClient.create(
        {
            "client": EMULATOR_CLIENT,
            "organization_id": EMULATOR_ORG_ID,
            "server_domain": parts.netloc,
            "secure": parts.scheme == "https",
            "timeout": 5000,  # milliseconds, as documented for TargetClient.create
            "events": {"client_ready": client_ready_callback},
        }
    )
    try:
        ready.wait(5)
        request = DeliveryRequest(
            context=Context(channel=ChannelType.WEB), execute=ExecuteRequest(mboxes=[MboxRequest(name="hero", index=0)])
        )
        async_result = target_client.get_offers({"request": request, "callback": on_response, "err_callback": on_error})
        response = async_result.get(timeout=5)  # the same response the callback received
        visitor = response.response.id
        print(f"get() -> tntId {visitor and visitor.tnt_id}, successful() = {async_result.successful()}")

        fault = {"route": "POST /rest/v1/delivery", "status": 500, "count": 1, "retryAfter": None}
        httpx.post(f"{url}/_emulator/faults", json={"bursts": [fault]}).raise_for_status()
        async_result = target_client.get_offers({"request": request, "callback": on_response, "err_callback": on_error})
        try:
            async_result.get(timeout=5)
        except Exception as exc:  # get() re-raises what err_callback received
            print(f"get() raised {type(exc).__name__}, successful() = {async_result.successful()}")
    finally:
        target_client.close()
    print("closed")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("TARGET_EMULATOR_URL"), help="Target/emulator base URL")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        run(args.url or stack.enter_context(serve(create_app())))
