"""Adobe's on-device decisioning (``target-python-sdk`` 1.1.0), measured for ``bench_ondevice.py``.

Run with the python of the official SDK's own virtualenv (``.venv-official`` from ``sh scripts/official-venv``,
or ``benchmarks/.official-venv`` from ``run_all.py``); it imports nothing from target_async, only the
standard-library helpers of ``_common``:

    .venv-official/bin/python benchmarks/official_ondevice.py CONFIG.json

CONFIG.json: ``artifact`` (the path of ``artifact.json``), ``client``, ``organization_id``, ``stub``
(``127.0.0.1:PORT`` of ``_stub_server.py``: where the official client sends its notifications, and its
location-hint request at start-up), ``scenarios`` (``[{"name", "requests": [wire DeliveryRequest dicts],
"warmup": N}]``, one request per timed call), ``load_repeats`` and ``memory`` (``{"requests": [...]}``).
Prints one JSON line: per scenario and per mode, the per-call latencies' p50/p99/mean in ms; the artifact load;
the RSS growth over the memory requests.

Two modes per scenario, both as Adobe's users get them:

- ``client``: ``TargetClient.create({..., "decisioning_method": "on-device", "artifact_payload": <dict>,
  "polling_interval": 0})`` and ``client.get_offers({"request": ...})``. Every call deep-copies the client's
  config (the artifact included) and starts a thread that posts the notifications (and telemetry) to the stub
  on loopback, as the SDK does.
- ``engine``: ``TargetDecisioningEngine(DecisioningConfig(..., artifact_payload=<dict>, polling_interval=0,
  send_notification_func=<no-op>))`` and ``engine.get_offers(TargetDeliveryRequest(request=...))``: the
  decision alone (the SDK still starts its notification thread per call; the function it runs does nothing).

Every request carries a geo with a country and city, so neither mode does a geo lookup over the network
(the artifact has geo targeting on, and the official engine looks up geo whenever those fields are missing,
even without an IP address). Requests are turned into ``delivery_api_client`` models before the timed calls.
"""

from __future__ import annotations

import gc
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import percentile, rss_mb


def _stats(latencies: list[float]) -> dict[str, Any]:
    return {
        "calls": len(latencies),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
    }


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    logging.disable(logging.CRITICAL)  # the SDK logs every call at debug level and errors for geo misses
    # Adobe's SDK: importable only in its own venv
    from delivery_api_client import ApiClient  # type: ignore[import-not-found]
    from target_decisioning_engine import TargetDecisioningEngine  # type: ignore[import-not-found]
    from target_decisioning_engine.types.decisioning_config import (  # type: ignore[import-not-found]
        DecisioningConfig,
    )
    from target_decisioning_engine.types.target_delivery_request import (  # type: ignore[import-not-found]
        TargetDeliveryRequest,
    )
    from target_python_sdk import TargetClient  # type: ignore[import-not-found]

    api = ApiClient()
    to_model = api._ApiClient__deserialize  # the generated client's own JSON -> model conversion

    def models(wire: list[dict[str, Any]]) -> list[Any]:
        return [to_model(body, "DeliveryRequest") for body in wire]

    text = Path(config["artifact"]).read_text()
    out: dict[str, Any] = {}

    # --- loading: JSON parse + the engine's initialize (it has no compile step) ---------------------------
    loads: list[float] = []
    for _ in range(config.get("load_repeats", 5)):
        gc.collect()
        started = time.perf_counter()
        payload = json.loads(text)
        probe = TargetDecisioningEngine(
            DecisioningConfig(
                config["client"],
                config["organization_id"],
                polling_interval=0,
                artifact_payload=payload,
                send_notification_func=lambda _options: None,
            )
        )
        probe.initialize()
        loads.append(time.perf_counter() - started)
    out["load"] = _stats(loads)

    artifact = json.loads(text)
    started = time.perf_counter()
    client = TargetClient.create(
        {
            "client": config["client"],
            "organization_id": config["organization_id"],
            "server_domain": config["stub"],
            "secure": False,
            "timeout": 60_000,
            "decisioning_method": "on-device",
            "artifact_payload": artifact,
            "polling_interval": 0,
        }
    )
    out["client_create_ms"] = (time.perf_counter() - started) * 1000
    engine = TargetDecisioningEngine(
        DecisioningConfig(
            config["client"],
            config["organization_id"],
            polling_interval=0,
            artifact_payload=artifact,
            send_notification_func=lambda _options: None,
        )
    )
    engine.initialize()

    def via_client(request: Any) -> Any:
        return client.get_offers({"request": request, "session_id": "bench-session"})

    def via_engine(request: Any) -> Any:
        return engine.get_offers(TargetDeliveryRequest(request=request, session_id="bench-session"))

    calls = {"client": via_client, "engine": via_engine}
    scenarios: dict[str, Any] = {}
    for scenario in config["scenarios"]:
        results: dict[str, Any] = {}
        for mode, call in calls.items():
            warm = models(scenario["requests"][: scenario.get("warmup", 3)])
            for request in warm:
                call(request)
            timed = models(scenario["requests"])
            latencies: list[float] = []
            matched = 0
            for request in timed:
                started = time.perf_counter()
                answer = call(request)
                latencies.append(time.perf_counter() - started)
                matched += _has_content(answer)
            results[mode] = {**_stats(latencies), "with_content": matched}
        scenarios[scenario["name"]] = results
    out["scenarios"] = scenarios

    memory = config.get("memory")
    if memory:
        timed = models(memory["requests"])
        gc.collect()
        before = rss_mb()
        started = time.perf_counter()
        for request in timed:
            via_engine(request)
        elapsed = time.perf_counter() - started
        gc.collect()
        out["memory"] = {
            "visitors": len(timed),
            "rss_before_mb": before,
            "rss_after_mb": rss_mb(),
            "decisions_per_s": len(timed) / elapsed,
        }
    print(json.dumps(out), flush=True)


def _has_content(answer: Any) -> bool:
    response = answer.get("response") if isinstance(answer, dict) else answer
    for section in (getattr(response, "execute", None), getattr(response, "prefetch", None)):
        if section is None:
            continue
        page_load = getattr(section, "page_load", None)
        if page_load is not None and page_load.options:
            return True
        for mbox in getattr(section, "mboxes", None) or ():
            if mbox.options:
                return True
        for view in getattr(section, "views", None) or ():
            if view.options:
                return True
    return False


if __name__ == "__main__":
    main()
