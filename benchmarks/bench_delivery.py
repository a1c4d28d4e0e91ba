"""Delivery throughput: target-async ``get_offers_many`` against raw httpx configurations, in one run.

Usage: ``python benchmarks/bench_delivery.py [--calls 2000] [--repeats 3] [--concurrency 1,4,16,64,256]``

A stub Delivery API runs in its own process on loopback (``_stub_server.py``; its CPU use is reported to show
it is not the bottleneck). Every (mode, concurrency) cell runs in a fresh worker process, ``--repeats`` times;
the table shows the median calls/s, p50/p99 latency and client CPU per call, plus the ratio of target-async to
the best raw-httpx configuration at the same concurrency.

Modes:
- ``target-async``: ``AsyncTargetClient.get_offers_many`` (default transport: httpx over aiohttp on asyncio);
- ``httpx-default``: one default ``httpx.AsyncClient`` (httpcore pool);
- ``httpx-aiohttp``: ``httpx.AsyncClient(transport=httpx_aiohttp.AiohttpTransport())``;
- ``aiohttp``: raw ``aiohttp.ClientSession`` (not httpx-based; shown as the floor of the stack).

Every raw mode sends the same body, parses the JSON answer and keeps it, as ``get_offers_many`` keeps its
results; target-async additionally validates and copies the request, builds cookies and typed models.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import median, percentile, print_table, proc_cpu_seconds, self_cpu_seconds, stub_server

MODES = ["target-async", "httpx-default", "httpx-aiohttp", "aiohttp"]
REQUEST = {
    "requestId": "r",
    "context": {"channel": "web", "timeOffsetInMinutes": 0, "beacon": False},
    "experienceCloud": {"analytics": {"logging": "server_side"}},
    "execute": {"mboxes": [{"index": 1, "name": "bench"}]},
}
PARAMS = {"imsOrgId": "o@AdobeOrg", "sessionId": "s"}
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


async def _pump(n: int, concurrency: int, call) -> list[float]:
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for _ in counter:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))
    return latencies


async def run_mode(mode: str, addr: str, concurrency: int, n: int) -> dict[str, float]:
    url = f"http://{addr}/rest/v1/delivery"
    body = json.dumps(REQUEST).encode()
    latencies: list[float] = []
    kept: list[object] = []  # raw modes keep every parsed body, as get_offers_many keeps every result
    if mode == "target-async":
        from target_async import AsyncTargetClient
        from target_async.models import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest

        client = AsyncTargetClient(
            client="bench", organization_id="o@AdobeOrg", server_domain=addr, secure=False, timeout=60
        )
        plain = client.get_offers

        async def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return await plain(*args, **kwargs)
            finally:
                latencies.append(time.perf_counter() - started)

        request = DeliveryRequest(
            context=Context(channel=ChannelType.WEB),
            execute=ExecuteRequest(mboxes=[MboxRequest(name="bench", index=1)]),
        )
        await client.get_offers_many([request] * 20, concurrency=concurrency)  # warm-up
        client.get_offers = timed  # type: ignore[method-assign]
        cpu0, t0 = self_cpu_seconds(), time.perf_counter()
        await client.get_offers_many([request] * n, concurrency=concurrency)
        wall, cpu = time.perf_counter() - t0, self_cpu_seconds() - cpu0
        await client.aclose()
    elif mode.startswith("httpx"):
        import httpx

        limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
        if mode == "httpx-aiohttp":
            from httpx_aiohttp import AiohttpTransport

            client = httpx.AsyncClient(transport=AiohttpTransport(limits=limits), timeout=60)
        else:
            client = httpx.AsyncClient(limits=limits, timeout=60)

        async def call() -> None:
            response = await client.post(url, params=PARAMS, content=body, headers=HEADERS)
            kept.append(response.json())

        await _pump(20, concurrency, call)
        cpu0, t0 = self_cpu_seconds(), time.perf_counter()
        latencies = await _pump(n, concurrency, call)
        wall, cpu = time.perf_counter() - t0, self_cpu_seconds() - cpu0
        await client.aclose()
    elif mode == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))

        async def call() -> None:
            async with session.post(url, params=PARAMS, data=body, headers=HEADERS) as response:
                kept.append(await response.json())

        await _pump(20, concurrency, call)
        cpu0, t0 = self_cpu_seconds(), time.perf_counter()
        latencies = await _pump(n, concurrency, call)
        wall, cpu = time.perf_counter() - t0, self_cpu_seconds() - cpu0
        await session.close()
    else:
        raise SystemExit(f"unknown mode {mode}")
    return {
        "calls_per_s": n / wall,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "cpu_ms_per_call": cpu / n * 1000,
    }


def worker_main(mode: str, addr: str, concurrency: int, n: int, loop: str) -> None:
    if loop == "uvloop":
        import uvloop

        uvloop.install()
    print(json.dumps(asyncio.run(run_mode(mode, addr, concurrency, n))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", default="1,4,16,64,256")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"])
    parser.add_argument("--worker", nargs=4, metavar=("MODE", "ADDR", "CONC", "N"))
    args = parser.parse_args()
    if args.worker:
        mode, addr, conc, n = args.worker
        worker_main(mode, addr, int(conc), int(n), args.loop)
        return
    levels = [int(c) for c in args.concurrency.split(",")]
    modes = args.modes.split(",")
    results: dict[tuple[str, int], dict[str, float]] = {}
    with stub_server() as (addr, stub):
        stub_cpu0, wall0 = proc_cpu_seconds(stub.pid), time.perf_counter()
        for conc in levels:
            n = args.calls if conc >= 16 else max(200, args.calls // 4)
            for mode in modes:
                runs = []
                for _ in range(args.repeats):
                    out = subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--loop",
                            args.loop,
                            "--worker",
                            mode,
                            addr,
                            str(conc),
                            str(n),
                        ],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
                best = sorted(runs, key=lambda r: r["calls_per_s"])[len(runs) // 2]
                results[(mode, conc)] = {
                    "calls_per_s": median([r["calls_per_s"] for r in runs]),
                    "p50_ms": best["p50_ms"],
                    "p99_ms": best["p99_ms"],
                    "cpu_ms_per_call": median([r["cpu_ms_per_call"] for r in runs]),
                }
        stub_share = (proc_cpu_seconds(stub.pid) - stub_cpu0) / (time.perf_counter() - wall0)
    rows = []
    for conc in levels:
        httpx_modes = [m for m in modes if m.startswith("httpx")]
        best_httpx = max(httpx_modes, key=lambda m: results[(m, conc)]["calls_per_s"]) if httpx_modes else None
        for mode in modes:
            r = results[(mode, conc)]
            ratio = cpu_ratio = ""
            if mode == "target-async" and best_httpx:
                ratio = f"{r['calls_per_s'] / results[(best_httpx, conc)]['calls_per_s']:.2f}x {best_httpx}"
                cpu_ratio = f"{r['cpu_ms_per_call'] / results[(best_httpx, conc)]['cpu_ms_per_call']:.2f}x"
            rows.append(
                [
                    str(conc),
                    mode,
                    f"{r['calls_per_s']:.0f}",
                    f"{r['p50_ms']:.2f}",
                    f"{r['p99_ms']:.2f}",
                    f"{r['cpu_ms_per_call']:.3f}",
                    ratio,
                    cpu_ratio,
                ]
            )
    print(f"loop={args.loop} calls={args.calls} repeats={args.repeats} (median); stub CPU {stub_share:.0%} of one core")
    print_table(
        [
            "in flight",
            "mode",
            "calls/s",
            "p50 ms",
            "p99 ms",
            "CPU ms/call",
            "vs best httpx",
            "CPU vs best httpx",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
