"""Adobe's on-device engine (target-python-sdk 1.1.0) answering the differential cases; run by its own python.

``<official python> official_worker.py <artifact.json> <cases.json>`` prints one JSON line per case:
``{"response": <wire dict>, "notifications": [[mbox name, tokens], ...]}``. Nothing leaves the machine: the
location-hint request and the notification sends are replaced by no-ops (the notifications are recorded
instead), the artifact is given with geo targeting off (no geo lookups), and the clock is the case's ``now``.
Needs ``json-logic-qubit`` (the JSON Logic that Adobe's engine imports as ``json_logic``).
"""

# mypy: ignore-errors
# (runs under the official SDK's virtualenv, whose untyped packages this one does not have)

from __future__ import annotations

import datetime
import json
import logging
import sys


def main() -> None:
    logging.disable(logging.CRITICAL)
    with open(sys.argv[1]) as f:
        artifact = json.load(f)
    artifact["geoTargetingEnabled"] = False
    with open(sys.argv[2]) as f:
        cases = json.load(f)

    import target_decisioning_engine.context_provider as context_provider
    import target_python_sdk
    from delivery_api_client import ApiClient
    from target_python_sdk import TargetClient

    clock = {"now": 0.0}

    class FrozenDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=clock["now"])

    context_provider.datetime = type("datetime_module", (), {"datetime": FrozenDatetime})
    target_python_sdk.request_location_hint_cookie = lambda *args, **kwargs: None
    sent: list[list[object]] = []

    def record(self, options):
        sent.extend(
            [n.mbox.name if n.mbox else None, list(n.tokens or [])] for n in options["request"].notifications or []
        )

    TargetClient.send_notifications = record
    client = TargetClient.create(
        {
            "client": "targettesting",
            "organization_id": "74F652E95F1B16FE0A495C92@AdobeOrg",
            "decisioning_method": "on-device",
            "artifact_payload": artifact,
            "polling_interval": 0,
            "telemetry_enabled": False,
            "server_domain": "127.0.0.1:9",
            "secure": False,
        }
    )
    api = ApiClient()
    for case in cases:
        clock["now"] = case["now"]
        sent.clear()
        request = api._ApiClient__deserialize(case["request"], "DeliveryRequest")
        answer = client.get_offers({"request": request})
        response = api.sanitize_for_serialization(answer["response"])
        sys.stdout.write(json.dumps({"response": response, "notifications": list(sent)}) + "\n")


if __name__ == "__main__":
    main()
