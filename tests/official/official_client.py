"""Adobe's own target-python-sdk 1.1.0, written as its documentation says, against our emulator.

Run by tests/test_official_sdk.py with the interpreter of ``.venv-official`` (never imports target_async).
Usage: ``python official_client.py HOST:PORT``; prints one JSON line with what it observed.
"""

import json
import sys
import threading

from delivery_api_client import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest
from target_python_sdk import TargetClient

server = sys.argv[1]
ready = threading.Event()


def client_ready_callback(*_):
    ready.set()


target_client = TargetClient.create(
    {
        "client": "emulator",
        "organization_id": "EMULATOR0000000000000000@AdobeOrg",
        "server_domain": server,
        "secure": False,
        "events": {"client_ready": client_ready_callback},
    }
)
ready.wait(5)

context = Context(channel=ChannelType.WEB)
mboxes = [MboxRequest(name="hero", index=1)]
delivery_request = DeliveryRequest(context=context, execute=ExecuteRequest(mboxes=mboxes))
first = target_client.get_offers({"request": delivery_request, "session_id": "official-session"})
cookie = first["target_cookie"]
second = target_client.get_offers({"request": delivery_request, "target_cookie": cookie["value"]})

seen = {}
done = threading.Event()


def on_response(response):
    seen["callback"] = response["response"].execute.mboxes[0].options[0].content
    done.set()


async_result = target_client.get_offers({"request": delivery_request, "callback": on_response})
async_result.get(timeout=5)
done.wait(5)
attributes = target_client.get_attributes(["flags"])

print(
    json.dumps(
        {
            "ready": ready.is_set(),
            "content": first["response"].execute.mboxes[0].options[0].content,
            "tnt_id": first["response"].id.tnt_id,
            "cookie_name": cookie["name"],
            "cookie_value": cookie["value"],
            "second_tnt_id": second["response"].id.tnt_id,
            "second_content": second["response"].execute.mboxes[0].options[0].content,
            "callback": seen.get("callback"),
            "beta": attributes.get_value("flags", "beta"),
            "location_hint_cookie": first.get("target_location_hint_cookie"),
        }
    ),
    flush=True,
)
