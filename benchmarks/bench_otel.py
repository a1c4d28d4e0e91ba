"""What the OpenTelemetry hooks (target_async/_otel.py) cost per call, in each state OpenTelemetry can be in.

    .venv/bin/python benchmarks/bench_otel.py [--calls N]

Each state runs in a process of its own:

* ``absent``: ``opentelemetry`` cannot be imported (blocked in ``sys.modules``, as if not installed);
* ``unused``: installed, never imported by the application;
* ``no-sdk``: ``opentelemetry.trace`` imported, no TracerProvider set (the API's no-op tracer);
* ``sdk``: an SDK TracerProvider whose processor drops every span (the cost of recording, no export).

Measured, against the bare function: one delivery call's hook (``@delivery_span`` around an ``async def`` that
returns at once) and one HTTP attempt's hook (``http_attempts`` + the wrapped ``exchange``, over an exchange that
answers at once). Prints the overhead per call in microseconds (best of 5 rounds), and, for scale, what the SDK
spends on one span of its own with no attribute.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_WORKER = r"""
import asyncio, json, sys, time
from types import SimpleNamespace
MODE, CALLS = sys.argv[1], int(sys.argv[2])
if MODE == "absent":
    sys.modules["opentelemetry"] = None
if MODE in ("no-sdk", "sdk"):
    from opentelemetry import trace
if MODE == "sdk":
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter, SimpleSpanProcessor, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Drop()))
    trace.set_tracer_provider(provider)

from target_async import _otel
from target_async._answer import Answer
from target_async.models import DeliveryRequest, ExecuteRequest, MboxRequest

request = DeliveryRequest(execute=ExecuteRequest(mboxes=[MboxRequest(name="a", index=1)]))
call = SimpleNamespace(request=request, method="server-side", notifications=False)
result = SimpleNamespace(meta=SimpleNamespace(decisioning_method="server-side", remote_mboxes=[], remote_views=[]),
                         response=SimpleNamespace(status=200))

class Client:
    client = "bench"

    async def bare(self, call):
        return result

    traced = _otel.delivery_span(bare)

answer = Answer(status_code=200, headers={}, content=b"{}", url="https://bench.tt.omtrdc.net/rest/v1/delivery")
URL = "https://bench.tt.omtrdc.net/rest/v1/delivery?imsOrgId=ORG%40AdobeOrg&sessionId=0123456789abcdef"
HEADERS = [("X-Request-Id", "0123456789abcdef0123456789abcdef"), ("Content-Type", "application/json")]

class Exchange:
    async def exchange(self, method, url, headers, content, max_size):
        return answer

    async def aclose(self):
        pass

def rounds(run):
    best = float("inf")
    for _ in range(5):
        best = min(best, asyncio.run(run()))
    return best * 1e6 / CALLS

client, exchange = Client(), Exchange()

async def bare_call():
    t = time.perf_counter()
    for _ in range(CALLS):
        await client.bare(call)
    return time.perf_counter() - t

async def traced_call():
    t = time.perf_counter()
    for _ in range(CALLS):
        await client.traced(call)
    return time.perf_counter() - t

async def bare_attempt():
    t = time.perf_counter()
    for _ in range(CALLS):
        await exchange.exchange("POST", URL, HEADERS, b"{}", 1 << 24)
    return time.perf_counter() - t

async def traced_attempt():
    t = time.perf_counter()
    for _ in range(CALLS):
        await _otel.http_attempts(exchange).exchange("POST", URL, HEADERS, b"{}", 1 << 24)
    return time.perf_counter() - t

async def plain_span():  # the reference: one SDK span, no attribute, made current
    tracer = trace.get_tracer("reference") if MODE == "sdk" else None
    t = time.perf_counter()
    for _ in range(CALLS if tracer else 0):
        with tracer.start_as_current_span("reference"):
            pass
    return time.perf_counter() - t

print(json.dumps({
    "plain": rounds(plain_span),
    "installed": _otel.INSTALLED,
    "wrapped": hasattr(Client.traced, "__wrapped__"),
    "call": rounds(traced_call) - rounds(bare_call),
    "attempt": rounds(traced_attempt) - rounds(bare_attempt),
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    print(f"{'state':<8} {'hooks':<10} {'delivery call':>15} {'HTTP attempt':>14}   (overhead per call, us)")
    reference = 0.0
    for mode in ("absent", "unused", "no-sdk", "sdk"):
        out = subprocess.run(
            [sys.executable, "-c", _WORKER, mode, str(args.calls)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
        r = json.loads(out)
        hooks = "wrapped" if r["wrapped"] else "none"
        print(f"{mode:<8} {hooks:<10} {r['call']:>15.2f} {r['attempt']:>14.2f}")
        reference = max(reference, r["plain"])
    print(f"reference: one SDK span without attributes (start_as_current_span) costs {reference:.2f} us here")


if __name__ == "__main__":
    main()
