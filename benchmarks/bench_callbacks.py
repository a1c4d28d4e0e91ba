"""Callback-mode throughput of the sync facade against the async core, on a loopback stub server.

    .venv/bin/python benchmarks/bench_callbacks.py [--calls 10000] [--concurrency 64] [--rounds 3]

A tiny Delivery API stand-in (Starlette + uvicorn) runs in its own process. The same run then measures, in
interleaved rounds, ``TargetClient.get_offers`` with ``callback`` (at most ``--concurrency`` calls in flight,
submitted from one thread) and ``AsyncTargetClient.get_offers_many(..., concurrency=...)`` awaited in this
thread's own event loop, and prints
a table with calls/s, the ratio to the async core, the thread count and the resident memory after the calls.
Numbers depend on the machine; compare ratios within one run, not across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

import httpx

from target_async.delivery import AsyncTargetClient
from target_async.models import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest
from target_async.sync import TargetClient

STUB_APP = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
BODY = {"status": 200, "requestId": "r", "client": "acmeclient", "id": {"tntId": "bench"}, "edgeHost": "localhost",
        "execute": {"mboxes": [{"index": 1, "name": "hero", "options": [{"type": "json", "content": {"x": 1}}]}]}}
async def delivery(request):
    await request.body()
    return JSONResponse(BODY)
app = Starlette(routes=[Route("/rest/v1/delivery", delivery, methods=["POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_stub() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", STUB_APP, str(port)])
    deadline = time.monotonic() + 20
    while not _answers(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the stub server did not start")
        time.sleep(0.05)
    return proc, f"127.0.0.1:{port}"


def _answers(port: int) -> bool:
    try:
        httpx.post(f"http://127.0.0.1:{port}/rest/v1/delivery", content=b"{}")
    except httpx.TransportError:
        return False
    return True


def rss_mib() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux
        return float("nan")


def request() -> DeliveryRequest:
    return DeliveryRequest(
        context=Context(channel=ChannelType.WEB), execute=ExecuteRequest(mboxes=[MboxRequest(name="hero", index=1)])
    )


def run_callbacks(client: TargetClient, calls: int, concurrency: int) -> float:
    """Seconds for ``calls`` callback-mode calls with at most ``concurrency`` in flight."""
    slots = threading.BoundedSemaphore(concurrency)
    finished = threading.Event()
    failures: list[BaseException] = []
    done = 0
    req = request()

    def on_response(response: Any) -> None:
        nonlocal done
        done += 1  # only the callback thread writes it
        slots.release()
        if done == calls:
            finished.set()

    def on_error(exc: BaseException) -> None:
        failures.append(exc)
        on_response(None)

    start = time.perf_counter()
    for _ in range(calls):
        slots.acquire()
        client.get_offers({"request": req, "callback": on_response, "err_callback": on_error})
    finished.wait()
    elapsed = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{len(failures)} calls failed, e.g. {failures[0]!r}")
    return elapsed


async def run_async_core(client: AsyncTargetClient, calls: int, concurrency: int) -> float:
    """Seconds for ``get_offers_many`` over ``calls`` requests with the same concurrency."""
    req = request()
    start = time.perf_counter()
    await client.get_offers_many([req] * calls, concurrency=concurrency)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    proc, domain = start_stub()
    options = {"client": "acmeclient", "organization_id": "o@AdobeOrg", "server_domain": domain, "secure": False}
    loop = asyncio.new_event_loop()  # the async core runs natively, in this thread's own event loop
    try:
        threads_at_start = threading.active_count()
        rss_at_start = rss_mib()
        aclient = AsyncTargetClient.from_options(options)
        callback_times: list[float] = []
        async_times: list[float] = []
        rss_rounds: list[float] = []
        with TargetClient.create(options) as client:
            warm = min(args.calls, 1000)
            run_callbacks(client, warm, args.concurrency)
            loop.run_until_complete(run_async_core(aclient, warm, args.concurrency))
            for _ in range(args.rounds):  # interleaved, so that drift on the machine hits both alike
                callback_times.append(run_callbacks(client, args.calls, args.concurrency))
                rss_rounds.append(rss_mib())
                async_times.append(loop.run_until_complete(run_async_core(aclient, args.calls, args.concurrency)))
            threads_open = threading.active_count()
        threads_closed = threading.active_count()
        loop.run_until_complete(aclient.aclose())
    finally:
        loop.close()
        proc.kill()
        proc.wait()

    callback_rate = args.calls / statistics.median(callback_times)
    async_rate = args.calls / statistics.median(async_times)
    print(f"{args.calls} calls per round, concurrency {args.concurrency}, median of {args.rounds} rounds")
    print(f"{'mode':<36}{'calls/s':>10}{'ratio':>8}")
    print(f"{'async core get_offers_many':<36}{async_rate:>10.0f}{1.0:>8.2f}")
    print(f"{'TargetClient callback mode':<36}{callback_rate:>10.0f}{callback_rate / async_rate:>8.2f}")
    print()
    print(f"threads: {threads_at_start} at start, {threads_open} with the client open, {threads_closed} after close()")
    after = ", ".join(f"{r:.1f}" for r in rss_rounds)
    print(f"resident memory: {rss_at_start:.1f} MiB at start; after each callback round: {after} MiB")


if __name__ == "__main__":
    main()
