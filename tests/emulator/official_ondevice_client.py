"""Adobe's own target-python-sdk 1.1.0 deciding on-device from the emulator's rules.json (issue #13).

Run by tests/emulator/test_official_ondevice.py with the interpreter of ``.venv-official`` (never imports
target_async). Usage: ``python official_ondevice_client.py HOST:PORT VISITOR...``; prints one JSON line:
``{"ready": bool, "decisions": {visitor: {"method", "content", "experience"}}}``.
"""

import json
import os
import sys
import threading

from delivery_api_client import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest, VisitorId
from target_python_sdk import TargetClient

server, visitors = sys.argv[1], sys.argv[2:]
ready = threading.Event()


def client_ready_callback(*_):
    ready.set()


target_client = TargetClient.create(
    {
        "client": "emulator",
        "organization_id": "EMULATOR0000000000000000@AdobeOrg",
        "server_domain": server,
        "secure": False,
        "decisioning_method": "on-device",
        "artifact_location": "http://" + server + "/emulator/production/v1/rules.json",
        "events": {"client_ready": client_ready_callback},
    }
)
ready.wait(10)

decisions = {}
for visitor in visitors:
    request = DeliveryRequest(
        id=VisitorId(tnt_id=visitor),
        context=Context(channel=ChannelType.WEB),
        execute=ExecuteRequest(mboxes=[MboxRequest(name="hero", index=1)]),
    )
    result = target_client.get_offers({"request": request, "session_id": "official-session"})
    option = result["response"].execute.mboxes[0].options[0]
    decisions[visitor] = {
        "method": result["meta"]["decisioning_method"],
        "content": option.content,
        "experience": option.response_tokens.get("experience.name"),
    }

sys.stdout.write(json.dumps({"ready": ready.is_set(), "decisions": decisions}) + "\n")
sys.stdout.flush()
os._exit(0)  # the SDK's polling timer and notification threads would keep the process alive
