"""Adobe's on-device engine (``target-python-sdk`` 1.1.0) over a batch of requests, for test_differential.py.

Run with the python of ``.venv-official`` (not collected by pytest; it imports nothing of target_async):

    .venv-official/bin/python tests/decisioning/official_engine.py < batch.json > answers.json

Input: ``{"artifact": PATH, "client": ..., "organization_id": ..., "cases": [{"request": <wire
DeliveryRequest>, "now_ms": <int, whole seconds>}]}``. Output: ``[{"response": <wire DeliveryResponse>,
"notifications": [<wire Notification>]} | {"error": "..."}]`` in input order.

Only the harness around the engine is patched, never its decisions:

- the clock: ``datetime.datetime.utcnow()`` in the engine's context and time helpers answers the case's
  ``now_ms`` (whole seconds, so the official clock's rounding up to a second changes nothing);
- the notification thread: ``TargetDecisioningEngine`` sends each call's notifications from a new thread; here
  that "thread" runs at once, so the notifications of a call are captured with its answer;
- the geo lookup: the artifact has geo targeting on, and the official engine looks up geo over the network for
  every request without latitude/longitude/country/state/city, even without an IP address (on-device.md §11);
  here that lookup fails at once (as it does offline), so such a request is decided without geo.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
import types
from typing import Any


class _Now:
    ms = 0


class _PinnedDateTime(datetime.datetime):
    @classmethod
    def utcnow(cls) -> datetime.datetime:  # type: ignore[override]
        return datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=_Now.ms)


class _InlineThread:
    """Runs its target on ``start()``, in the calling thread."""

    def __init__(self, target: Any = None, args: Any = (), kwargs: Any = None, **_: Any) -> None:
        self._call = (target, tuple(args), dict(kwargs or {}))

    def start(self) -> None:
        target, args, kwargs = self._call
        target(*args, **kwargs)

    def join(self, timeout: float | None = None) -> None:
        return None


def main() -> None:
    logging.disable(logging.CRITICAL)
    batch = json.load(sys.stdin)
    # Adobe's SDK, importable only in .venv-official
    import target_tools.utils as tools_utils  # type: ignore[import-not-found]
    from delivery_api_client import ApiClient  # type: ignore[import-not-found]
    from target_decisioning_engine import (  # type: ignore[import-not-found]
        TargetDecisioningEngine,
        context_provider,
        geo_provider,
        notification_provider,
    )
    from target_decisioning_engine.types.decisioning_config import (  # type: ignore[import-not-found]
        DecisioningConfig,
    )
    from target_decisioning_engine.types.target_delivery_request import (  # type: ignore[import-not-found]
        TargetDeliveryRequest,
    )

    pinned = types.SimpleNamespace(datetime=_PinnedDateTime, timedelta=datetime.timedelta)
    context_provider.datetime = pinned
    tools_utils.datetime = pinned
    notification_provider.threading = types.SimpleNamespace(Thread=_InlineThread)

    def no_lookup(self: Any, path: str, headers: Any) -> Any:
        raise ConnectionError("no network in this test")

    geo_provider.GeoProvider._request_geo = no_lookup

    sent: list[Any] = []
    with open(batch["artifact"]) as fh:
        artifact = json.load(fh)
    engine = TargetDecisioningEngine(
        DecisioningConfig(
            batch["client"],
            batch["organization_id"],
            polling_interval=0,
            artifact_payload=artifact,
            send_notification_func=lambda options: sent.append(options["request"]),
            telemetry_enabled=False,
        )
    )
    engine.initialize()
    api = ApiClient()
    to_model = api._ApiClient__deserialize  # the generated client's own JSON -> model conversion
    answers: list[dict[str, Any]] = []
    for case in batch["cases"]:
        _Now.ms = case["now_ms"]
        sent.clear()
        try:
            request = to_model(case["request"], "DeliveryRequest")
            response = engine.get_offers(TargetDeliveryRequest(request=request, session_id="differential"))
        except Exception as exc:  # reported by the test as a disagreement
            answers.append({"error": f"{type(exc).__name__}: {exc}"})
            continue
        notifications = [n for req in sent for n in (req.notifications or ())]
        answers.append(
            {
                "response": api.sanitize_for_serialization(response),
                "notifications": api.sanitize_for_serialization(notifications),
            }
        )
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
