"""One benchmark cell for Adobe's official ``target-python-sdk`` 1.1.0, run with the python of its own venv.

``benchmarks/.official-venv/bin/python benchmarks/_official_worker.py '<json config>'`` prints one JSON line.
``run_all.py`` builds that venv and calls this script; it imports nothing from target_async (only the
standard-library helpers in ``_common``), so the official SDK runs exactly as its users run it.

Config keys: ``mode`` (``"sync"``: blocking ``get_offers`` in a loop; ``"callback"``: ``callback=`` with at
most ``window`` calls in flight, each settled with ``AsyncResult.get()``), ``addr`` (``127.0.0.1:PORT``),
``ca`` (the CA file for HTTPS, or null for plain HTTP), ``calls``, ``warmup``, ``window``, ``stub_pid``.

HTTPS: ``TargetClient`` builds its configuration with ``create_configuration(host)``, i.e.
``delivery_api_client.Configuration(host=host)``, whose metaclass returns a copy of the class default. So a
default configuration set with ``Configuration.set_default`` before the first call (host and ``ssl_ca_cert``)
is what every call uses; the worker counts failed calls so a TLS failure cannot pass unnoticed.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import os_threads, percentile, proc_cpu_seconds, rss_mb, self_cpu_seconds


def main() -> None:
    config = json.loads(sys.argv[1])
    logging.getLogger("adobe.target").setLevel(logging.WARNING)
    from delivery_api_client import ChannelType, Configuration, Context, DeliveryRequest, ExecuteRequest, MboxRequest
    from target_python_sdk import TargetClient

    addr, ca = config["addr"], config.get("ca")
    if ca:
        default = Configuration(host=f"https://{addr}")
        default.ssl_ca_cert = ca
        default.verify_ssl = True
        Configuration.set_default(default)
    client = TargetClient.create(
        {
            "client": "bench",
            "organization_id": "o@AdobeOrg",
            "server_domain": addr,
            "secure": bool(ca),
            "timeout": 60_000,
        }
    )

    def request() -> DeliveryRequest:
        return DeliveryRequest(
            context=Context(channel=ChannelType.WEB),
            execute=ExecuteRequest(mboxes=[MboxRequest(name="bench", index=1)]),
        )

    def good(response: object) -> bool:
        status = response.get("response").status if isinstance(response, dict) else getattr(response, "status", None)
        return status == 200

    mode, calls, stub_pid = config["mode"], config["calls"], config["stub_pid"]
    errors = 0
    first_error = None
    for _ in range(config.get("warmup", 5)):
        client.get_offers({"request": request()})
    latencies: list[float] = []
    stub0, cpu0, t0 = proc_cpu_seconds(stub_pid), self_cpu_seconds(), time.perf_counter()
    if mode == "sync":
        for _ in range(calls):
            started = time.perf_counter()
            try:
                ok = good(client.get_offers({"request": request()}))
            except Exception as exc:  # counted and reported
                ok, first_error = False, first_error or repr(exc)
            latencies.append(time.perf_counter() - started)
            errors += not ok
    elif mode == "callback":
        lock = threading.Lock()
        succeeded = 0
        failures: list[str] = []

        def on_response(started: float, response: object) -> None:
            nonlocal succeeded
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if good(response):
                    succeeded += 1

        def on_error(exc: BaseException) -> None:
            with lock:
                failures.append(repr(exc))

        pending: collections.deque = collections.deque()

        def settle() -> None:
            try:
                pending.popleft().get(timeout=60)
            except Exception as exc:  # counted below (err_callback, or a hung AsyncResult)
                with lock:
                    failures.append(repr(exc))

        for _ in range(calls):
            if len(pending) >= config["window"]:
                settle()
            started = time.perf_counter()
            pending.append(
                client.get_offers(
                    {
                        "request": request(),
                        "callback": lambda response, s=started: on_response(s, response),
                        "err_callback": on_error,
                    }
                )
            )
        while pending:
            settle()
        errors = calls - succeeded
        first_error = failures[0] if failures else None
    else:
        raise SystemExit(f"unknown mode {mode}")
    wall, cpu = time.perf_counter() - t0, self_cpu_seconds() - cpu0
    stub_cpu = proc_cpu_seconds(stub_pid) - stub0
    result = {
        "calls": calls,
        "calls_per_s": calls / wall,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "cpu_ms_per_call": cpu / calls * 1000,
        "threads": os_threads(),
        "rss_mb": rss_mb(),
        "stub_share": stub_cpu / wall,
        "stub_cpu_ms_per_call": stub_cpu / calls * 1000,
        "errors": errors,
        "first_error": first_error,
    }
    print(json.dumps(result), flush=True)
    os._exit(0)  # the SDK leaves one ThreadPool per callback call (joined at exit): do not wait for them


if __name__ == "__main__":
    main()
