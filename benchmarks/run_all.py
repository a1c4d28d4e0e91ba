"""The whole performance suite in one command: every delivery mode side by side, over HTTP and HTTPS.

    .venv/bin/python benchmarks/run_all.py [flags]

It prints one table (per mode: calls/s as the median of ``--repeats`` runs, p50/p99 latency, client CPU ms per
call, native threads and RSS at the end, the stub's CPU share, failed calls), then a "targets" table (ratios
within this run, each the median of the per-round ratios), and writes both as Markdown, with the machine, to
``benchmarks/results/latest.md`` (and the raw numbers to ``latest.json``). It fits in five minutes on a 2-core
machine.

How it runs:

- Two stub Delivery APIs (``_stub_server.py``, one plain HTTP, one HTTPS with a throwaway CA and server
  certificate made by ``_tls.py`` in a temporary directory) run in their own processes on 127.0.0.1. Every
  worker reads the stub's CPU time around its timed window: the "stub CPU" column is the stub's share of one
  core during that window, which shows it is not the bottleneck.
- Every (mode, protocol) cell runs in a fresh worker process, once per round; rounds are interleaved (round 1
  of every cell, then round 2, ...) so that load from other processes hits every mode alike.
- Adobe's ``target-python-sdk==1.1.0`` is installed into ``benchmarks/.official-venv`` (``python -m venv`` +
  pip; its wheel declares no dependencies, so the import is retried and missing modules are installed) and
  run by ``_official_worker.py`` with that venv's python. The venv is reused when it imports.
- The 10,000-call soak of the callback facade (threads and RSS after 2,000 and after 10,000 calls) runs once.
- Extras: ``bench_emulator_paging.py`` (paging throughput and the issue-5 index check, 1k vs 100k
  instances), the pytest-benchmark serialization microbenchmarks (``test_serialization.py``) and
  ``bench_ondevice.py`` (on-device decisioning against Adobe's engine in ``.venv-official``; its targets join the
  targets table, its own table goes to ``benchmarks/results/ondevice.md``).

Modes (see ``benchmarks/README.md``): ``get_offers_many`` at each ``--concurrency`` level on asyncio and
uvloop; the callback facade (``TargetClient`` with ``callback=``; at most ``--window`` calls in flight,
submitted from 1 thread and from 16 threads); the sync facade, sequential; raw httpx (``AsyncClient`` at 4 and
64 in flight, over ``httpx_aiohttp.AiohttpTransport`` and over target-async's own aiohttp transport at 64,
``httpx.Client`` sequential); raw
``aiohttp.ClientSession`` at 64 (not httpx-based: the floor of the stack); the official SDK, sequential and in
callback mode.

Flags:
    --calls N            calls per cell for the concurrent modes (default 2000)
    --seq-calls N        calls per cell for the sequential modes (default 1000)
    --official-calls N   calls per cell for the official SDK (default 400; at least 300 is advised)
    --soak-calls N       calls of the callback soak (default 10000; threads/RSS also read after 2000)
    --repeats N          rounds (default 3); the table shows medians
    --concurrency LIST   get_offers_many levels (default 1,4,16,64,256)
    --window N           callback modes: calls in flight (default 64)
    --tls-modes SET      which modes also run over HTTPS: "core" (default: all but get_offers_many at 4 and 16
                         in flight, the uvloop rows other than 64, httpx.AsyncClient at 64 and raw aiohttp) or
                         "all"
    --no-tls             plain HTTP only (the HTTPS targets are then not evaluated)
    --tls-key ec|rsa     the stub's key type: ECDSA P-256 (default) or RSA-2048
    --no-uvloop          skip the uvloop rows
    --no-official        skip the official SDK (its targets are then not evaluated)
    --reinstall-official rebuild benchmarks/.official-venv
    --no-extras          skip the paging benchmark, the serialization microbenchmarks and the on-device benchmark
    --pin                pin each stub to CPU 1 and each worker to CPU 0
    --quick              a smoke run: 1 round, a quarter of the calls
    --out PATH           Markdown output (default benchmarks/results/latest.md)
    --profile KIND[:N]   instead of the suite: run one cell of --profile-calls calls (default 20000) under
                         py-spy and print where the CPU goes, per function and per thread. KIND is one of
                         ta-many, ta-callback (N = submitting threads), ta-sync, httpx-aiohttp, httpx-ours, httpx-async,
                         aiohttp, httpx-sync; N is the concurrency (default 64). Plain HTTP unless
                         --profile-https is given
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import os_threads, percentile, print_table, proc_cpu_seconds, rss_mb, self_cpu_seconds, stub_server

HERE = Path(__file__).resolve().parent

OFFICIAL_VENV = HERE / ".official-venv"
OFFICIAL_PACKAGES = ["target-python-sdk==1.1.0", "urllib3", "python-dateutil", "six", "certifi", "setuptools"]
# import name -> PyPI name, for modules the official wheel imports without declaring them
MODULE_PACKAGES = {
    "dateutil": "python-dateutil",
    "json_logic": "json-logic-qubit",  # what its on-device engine uses ("json-logic" 0.6.3 fails on Python 3)
    "pkg_resources": "setuptools",
    "user_agents": "user-agents",
    "yaml": "PyYAML",
}
REQUEST = {
    "requestId": "r",
    "context": {"channel": "web", "timeOffsetInMinutes": 0, "beacon": False},
    "experienceCloud": {"analytics": {"logging": "server_side"}},
    "execute": {"mboxes": [{"index": 1, "name": "bench"}]},
}
PARAMS = {"imsOrgId": "o@AdobeOrg", "sessionId": "s"}
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


# ----------------------------------------------------------------------------------------------------------
# workers (one cell, in a fresh process)
# ----------------------------------------------------------------------------------------------------------


def _ta_request() -> Any:
    from target_async.models import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest

    return DeliveryRequest(
        context=Context(channel=ChannelType.WEB),
        execute=ExecuteRequest(mboxes=[MboxRequest(name="bench", index=1)]),
    )


def _ta_ok(result: Any) -> bool:
    return not isinstance(result, BaseException) and result.response.status == 200


def _ssl_context(ca: str | None) -> Any:
    import ssl

    return ssl.create_default_context(cafile=ca) if ca else True


class _Window:
    """Measure the timed part of a cell: wall, own CPU (all threads) and the stub's CPU."""

    def __init__(self, stub_pid: int) -> None:
        self.stub_pid = stub_pid

    def __enter__(self) -> _Window:
        self.stub0, self.cpu0, self.t0 = proc_cpu_seconds(self.stub_pid), self_cpu_seconds(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        self.cpu = self_cpu_seconds() - self.cpu0
        self.stub = proc_cpu_seconds(self.stub_pid) - self.stub0

    def result(self, calls: int, latencies: list[float], errors: int, **extra: Any) -> dict[str, Any]:
        return {
            "calls": calls,
            "calls_per_s": calls / self.wall,
            "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            "cpu_ms_per_call": self.cpu / calls * 1000,
            "threads": os_threads(),
            "rss_mb": rss_mb(),
            "stub_share": self.stub / self.wall,
            "stub_cpu_ms_per_call": self.stub / calls * 1000,
            "errors": errors,
            **extra,
        }


async def _pump(n: int, concurrency: int, call: Any) -> list[float]:
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for _ in counter:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))
    return latencies


async def _worker_async(cfg: dict[str, Any]) -> dict[str, Any]:
    kind, addr, ca, n, conc = cfg["kind"], cfg["addr"], cfg.get("ca"), cfg["calls"], cfg["conc"]
    scheme = "https" if ca else "http"
    window = _Window(cfg["stub_pid"])
    if kind == "ta-many":
        from target_async import AsyncTargetClient

        client = AsyncTargetClient(
            client="bench",
            organization_id="o@AdobeOrg",
            server_domain=addr,
            secure=bool(ca),
            timeout=60,
            verify=ca or True,  # a CA path: the client builds its SSLContext once
        )
        request = _ta_request()
        await client.get_offers_many([request] * max(20, conc), concurrency=conc)  # warm-up: open the pool
        latencies: list[float] = []
        plain = client.get_offers

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await plain(*args, **kwargs)
            finally:
                latencies.append(time.perf_counter() - started)

        client.get_offers = timed  # type: ignore[method-assign]
        with window:
            results = await client.get_offers_many([request] * n, concurrency=conc, return_exceptions=True)
        errors = sum(not _ta_ok(r) for r in results)
        first = next((repr(r) for r in results if isinstance(r, BaseException)), None)
        out = window.result(n, latencies, errors, first_error=first)
        await client.aclose()
        return out
    url = f"{scheme}://{addr}/rest/v1/delivery"
    body = json.dumps(REQUEST).encode()
    verify = _ssl_context(ca)
    kept: list[Any] = []  # keep every parsed body, as get_offers_many keeps every result
    errors = 0
    if kind == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256, ssl=verify))

        async def call() -> None:
            nonlocal errors
            async with session.post(url, params=PARAMS, data=body, headers=HEADERS) as response:
                data = await response.json()
            kept.append(data)
            errors += response.status != 200 or data.get("status") != 200

        close = session.close
    else:
        import httpx

        limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
        if kind == "httpx-aiohttp":
            from httpx_aiohttp import AiohttpTransport

            aclient = httpx.AsyncClient(transport=AiohttpTransport(verify=verify, limits=limits), timeout=60)
        elif kind == "httpx-ours":  # the transport target-async uses, through httpx's own client API
            from target_async._aiohttp import AiohttpTransport as OurTransport

            transport = OurTransport(verify=verify, limits=limits)
            aclient = httpx.AsyncClient(transport=transport, timeout=60)
        elif kind == "httpx-async":
            aclient = httpx.AsyncClient(verify=verify, limits=limits, timeout=60)
        else:
            raise SystemExit(f"unknown async mode {kind}")

        async def call() -> None:
            nonlocal errors
            response = await aclient.post(url, params=PARAMS, content=body, headers=HEADERS)
            data = response.json()
            kept.append(data)
            errors += response.status_code != 200 or data.get("status") != 200

        close = aclient.aclose
    await _pump(max(20, conc), conc, call)
    errors = 0
    kept.clear()
    with window:
        latencies = await _pump(n, conc, call)
    out = window.result(n, latencies, errors)
    await close()
    return out


def _worker_sync(cfg: dict[str, Any]) -> dict[str, Any]:
    kind, addr, ca, n = cfg["kind"], cfg["addr"], cfg.get("ca"), cfg["calls"]
    window = _Window(cfg["stub_pid"])
    latencies: list[float] = []
    if kind == "httpx-sync":
        import httpx

        url = f"{'https' if ca else 'http'}://{addr}/rest/v1/delivery"
        body = json.dumps(REQUEST).encode()
        kept: list[Any] = []
        with httpx.Client(verify=_ssl_context(ca), timeout=60) as client:

            def call() -> bool:
                response = client.post(url, params=PARAMS, content=body, headers=HEADERS)
                data = response.json()
                kept.append(data)
                return response.status_code == 200 and data.get("status") == 200

            for _ in range(20):
                call()
            kept.clear()
            errors = 0
            with window:
                for _ in range(n):
                    started = time.perf_counter()
                    errors += not call()
                    latencies.append(time.perf_counter() - started)
            return window.result(n, latencies, errors)

    from target_async import TargetClient

    options = {
        "client": "bench",
        "organization_id": "o@AdobeOrg",
        "server_domain": addr,
        "secure": bool(ca),
        "timeout": 60_000,
        "verify": ca or True,
    }
    request = _ta_request()
    with TargetClient.create(options) as client:
        if kind == "ta-sync":
            for _ in range(20):
                client.get_offers({"request": request})
            errors = 0
            with window:
                for _ in range(n):
                    started = time.perf_counter()
                    try:
                        errors += not _ta_ok(client.get_offers({"request": request}))
                    except Exception:  # counted
                        errors += 1
                    latencies.append(time.perf_counter() - started)
            return window.result(n, latencies, errors)
        if kind in ("ta-callback", "ta-soak"):
            threads = cfg["conc"] if kind == "ta-callback" else 1
            _callbacks(client, request, cfg["window"], min(cfg["window"], n), 1, latencies)  # warm-up
            latencies.clear()
            if kind == "ta-callback":
                with window:
                    errors = _callbacks(client, request, cfg["window"], n, threads, latencies)
                return window.result(n, latencies, errors)
            checkpoint = min(2000, n)
            with window:
                errors = _callbacks(client, request, cfg["window"], checkpoint, 1, latencies)
                early = {"threads_2k": os_threads(), "rss_2k": rss_mb(), "calls_2k": checkpoint}
                errors += _callbacks(client, request, cfg["window"], n - checkpoint, 1, latencies)
            return window.result(n, latencies, errors, **early)
    raise SystemExit(f"unknown sync mode {kind}")


def _callbacks(client: Any, request: Any, window: int, calls: int, threads: int, latencies: list[float]) -> int:
    """``calls`` callback-mode calls with at most ``window`` in flight, submitted from ``threads`` threads."""
    if calls <= 0:
        return 0
    slots = threading.BoundedSemaphore(window)
    lock = threading.Lock()
    finished = threading.Event()
    state = {"done": 0, "errors": 0}

    def settle(started: float, ok: bool) -> None:
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            state["done"] += 1
            state["errors"] += not ok
            if state["done"] == calls:
                finished.set()
        slots.release()

    def submit(count: int) -> None:
        for _ in range(count):
            slots.acquire()
            started = time.perf_counter()
            client.get_offers(
                {
                    "request": request,
                    "callback": lambda response, s=started: settle(s, _ta_ok(response)),
                    "err_callback": lambda exc, s=started: settle(s, False),
                }
            )

    shares = [calls // threads + (i < calls % threads) for i in range(threads)]
    if threads == 1:
        submit(calls)
    else:
        workers = [threading.Thread(target=submit, args=(share,)) for share in shares]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    if not finished.wait(120):
        raise SystemExit(f"only {state['done']} of {calls} callbacks ran")
    return state["errors"]


def worker_main(cfg: dict[str, Any]) -> None:
    if cfg.get("pin") and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    kind = cfg["kind"]
    if kind in ("ta-many", "httpx-async", "httpx-aiohttp", "httpx-ours", "aiohttp"):
        if cfg.get("loop") == "uvloop":
            import uvloop

            result = uvloop.run(_worker_async(cfg))
        else:
            result = asyncio.run(_worker_async(cfg))
    else:
        result = _worker_sync(cfg)
    print(json.dumps(result), flush=True)


# ----------------------------------------------------------------------------------------------------------
# the official SDK's virtualenv
# ----------------------------------------------------------------------------------------------------------


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _import_problem(python: Path) -> tuple[str | None, str]:
    """``(None, "")`` when target_python_sdk imports; else the missing top-level module (if that is the
    problem) and the last line of the error."""
    probe = subprocess.run([str(python), "-c", "import target_python_sdk"], capture_output=True, text=True)
    if probe.returncode == 0:
        return None, ""
    found = re.search(r"No module named '([^'.]+)", probe.stderr)
    last = (probe.stderr.strip().splitlines() or ["(no output)"])[-1]
    return (found.group(1) if found else "?"), last


def ensure_official_venv(venv: Path, reinstall: bool, log: Any) -> tuple[Path, str]:
    """The official SDK's python, creating or repairing ``venv`` first; also returns how it was obtained."""
    python = _venv_python(venv)
    if not reinstall and python.exists() and _import_problem(python)[0] is None:
        return python, "cached"
    if reinstall or not python.exists():
        log(f"creating {venv} ...")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    log("installing " + " ".join(OFFICIAL_PACKAGES) + " ...")
    subprocess.run([*pip, *OFFICIAL_PACKAGES], check=True, capture_output=True)
    added: list[str] = []
    for _ in range(15):
        module, error = _import_problem(python)
        if module is None:
            break
        if module == "?":
            raise SystemExit(f"target_python_sdk does not import: {error}")
        package = MODULE_PACKAGES.get(module, module)
        log(f"target_python_sdk needs {module!r}: installing {package}")
        subprocess.run([*pip, package], check=True, capture_output=True)
        added.append(package)
    else:
        raise SystemExit("target_python_sdk still does not import after installing its missing modules")
    return python, "installed (+ " + ", ".join(added) + ")" if added else "installed"


# ----------------------------------------------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Cell:
    proto: str  # "http" or "https"
    kind: str
    label: str
    conc: int  # in flight (threads for ta-callback)
    calls: int
    loop: str = "asyncio"
    in_flight: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.proto}:{self.kind}:{self.loop}:{self.conc}"


def build_cells(args: argparse.Namespace) -> list[Cell]:
    levels = [int(c) for c in args.concurrency.split(",")]
    cells: list[Cell] = []
    protos = ["http"] if args.no_tls else ["http", "https"]
    for proto in protos:
        core = proto == "https" and args.tls_modes == "core"
        for loop in ("asyncio", "uvloop"):
            if loop == "uvloop" and args.no_uvloop:
                continue
            for c in levels:
                if core and (loop == "uvloop" and c != 64 or loop == "asyncio" and c in (4, 16)):
                    continue
                calls = args.seq_calls if c == 1 else args.calls
                cells.append(Cell(proto, "ta-many", f"target-async get_offers_many ({loop})", c, calls, loop))
        w = args.window
        cells.append(Cell(proto, "ta-callback", "target-async callback facade, 1 thread", 1, args.calls))
        cells[-1].in_flight = str(w)
        cells.append(Cell(proto, "ta-callback", "target-async callback facade, 16 threads", 16, args.calls))
        cells[-1].in_flight = str(w)
        cells.append(Cell(proto, "ta-sync", "target-async sync facade, sequential", 1, args.seq_calls))
        cells.append(Cell(proto, "httpx-async", "raw httpx.AsyncClient", 4, args.calls))
        if not core:  # httpcore's pool is slow at 64 in flight (quadratic assignment): fewer calls
            cells.append(Cell(proto, "httpx-async", "raw httpx.AsyncClient", 64, args.seq_calls))
        cells.append(Cell(proto, "httpx-aiohttp", "raw httpx + AiohttpTransport", 64, args.calls))
        label = "raw httpx + target-async's aiohttp transport"
        cells.append(Cell(proto, "httpx-ours", label, 64, args.calls))
        cells.append(Cell(proto, "httpx-sync", "raw httpx.Client, sequential", 1, args.seq_calls))
        if proto == "http" or not core:
            cells.append(Cell(proto, "aiohttp", "raw aiohttp.ClientSession (no httpx: the floor)", 64, args.calls))
        if not args.no_official:
            cells.append(Cell(proto, "official-sync", "official SDK 1.1.0, sequential sync", 1, args.official_calls))
            label = "official SDK 1.1.0, callback + AsyncResult.get()"
            cells.append(Cell(proto, "official-callback", label, 1, args.official_calls))
            cells[-1].in_flight = str(w)
    for cell in cells:
        cell.in_flight = cell.in_flight or str(cell.conc)
    return cells


def run_cell(cell: Cell, stubs: dict[str, tuple[str, int]], ca: str | None, args: argparse.Namespace, py: Any) -> None:
    addr, pid = stubs[cell.proto]
    cfg = {
        "kind": cell.kind,
        "addr": addr,
        "ca": ca if cell.proto == "https" else None,
        "calls": cell.calls,
        "conc": cell.conc,
        "loop": cell.loop,
        "window": args.window,
        "stub_pid": pid,
        "pin": args.pin,
    }
    if cell.kind.startswith("official"):
        cfg["mode"] = cell.kind.split("-")[1]
        cmd = [str(py), str(HERE / "_official_worker.py"), json.dumps(cfg)]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(cfg)]
    preexec = (lambda: os.sched_setaffinity(0, {0})) if args.pin and hasattr(os, "sched_setaffinity") else None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=180, preexec_fn=preexec)
    except subprocess.TimeoutExpired:
        cell.failures.append("timed out after 180 s")
        return
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        cell.failures.append(f"exit {out.returncode}: {out.stderr.strip()[-600:]}")
        return
    cell.runs.append(json.loads(lines[-1]))


def _noisy(cells: list[Cell]) -> list[str]:
    """Cells whose rounds spread by more than 20% of their median: say so rather than hide it in the median."""
    out = []
    for cell in cells:
        rates = [r["calls_per_s"] for r in cell.runs]
        if len(rates) > 1 and (max(rates) - min(rates)) > 0.2 * statistics.median(rates):
            out.append(f"{cell.proto.upper()} {cell.label} x{cell.in_flight}: " + ", ".join(f"{x:.0f}" for x in rates))
    return out


def summarize(cell: Cell) -> dict[str, Any] | None:
    if not cell.runs:
        return None
    mid = sorted(cell.runs, key=lambda r: r["calls_per_s"])[len(cell.runs) // 2]
    return {
        **mid,
        "calls_per_s": statistics.median(r["calls_per_s"] for r in cell.runs),
        "cpu_ms_per_call": statistics.median(r["cpu_ms_per_call"] for r in cell.runs),
        "stub_share": statistics.median(r["stub_share"] for r in cell.runs),
        "errors": sum(r["errors"] for r in cell.runs),
        "rounds": len(cell.runs),
    }


def _ratio(a: Cell | None, b: Cell | None, metric: str = "calls_per_s") -> float | None:
    """Median over rounds of a[round]/b[round] (the cells of one round ran next to each other)."""
    if a is None or b is None or not a.runs or not b.runs:
        return None
    pairs = [x[metric] / y[metric] for x, y in zip(a.runs, b.runs, strict=False) if y[metric]]
    return statistics.median(pairs) if pairs else None


def _cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def machine_info() -> dict[str, str]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version() + f" ({platform.python_implementation()})",
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _fmt_row(cell: Cell, s: dict[str, Any] | None) -> list[str]:
    head = [cell.proto.upper(), cell.label, cell.in_flight]
    if s is None:
        return [*head, "-", "failed", "-", "-", "-", "-", "-", "-", "-"]
    return [
        *head,
        str(s["calls"]),
        f"{s['calls_per_s']:.0f}",
        f"{s['p50_ms']:.2f}",
        f"{s['p99_ms']:.2f}",
        f"{s['cpu_ms_per_call']:.3f}",
        str(s["threads"]),
        f"{s['rss_mb']:.0f}",
        f"{s['stub_share']:.0%}",
        str(s["errors"]),
    ]


HEADERS_MAIN = [
    "proto",
    "mode",
    "in flight",
    "calls",
    "calls/s",
    "p50 ms",
    "p99 ms",
    "CPU ms/call",
    "threads",
    "RSS MiB",
    "stub CPU",
    "errors",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--seq-calls", type=int, default=1000)
    parser.add_argument("--official-calls", type=int, default=400)
    parser.add_argument("--soak-calls", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", default="1,4,16,64,256")
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--tls-modes", choices=["core", "all"], default="core")
    parser.add_argument("--no-tls", action="store_true")
    parser.add_argument("--tls-key", choices=["ec", "rsa"], default="ec")
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--no-official", action="store_true")
    parser.add_argument("--reinstall-official", action="store_true")
    parser.add_argument("--no-extras", action="store_true")
    parser.add_argument("--pin", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results" / "latest.md"))
    parser.add_argument("--profile", metavar="KIND[:N]")
    parser.add_argument("--profile-calls", type=int, default=20_000)
    parser.add_argument("--profile-https", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(json.loads(args.worker))
        return
    if args.profile:
        profile_cell(args)
        return
    if args.quick:
        args.repeats = 1
        args.calls, args.seq_calls = args.calls // 4, args.seq_calls // 4
        args.official_calls, args.soak_calls = max(100, args.official_calls // 4), args.soak_calls // 4
    if not args.no_uvloop:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            print("uvloop is not installed: skipping the uvloop rows", file=sys.stderr)
            args.no_uvloop = True

    started = time.perf_counter()
    busy0 = _cpu_busy()
    own0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    official_py, official_how = None, "skipped"
    if not args.no_official:
        official_py, official_how = ensure_official_venv(OFFICIAL_VENV, args.reinstall_official, log)
        log(f"official SDK venv: {official_how}")
    cells = build_cells(args)
    soak = Cell("http", "ta-soak", "target-async callback facade soak, 1 thread", 1, args.soak_calls)
    soak.in_flight = str(args.window)
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="target-async-bench-"))
        stubs: dict[str, tuple[str, int]] = {}
        addr, proc = stack.enter_context(stub_server(cpu=1 if args.pin else None))
        stubs["http"] = (addr, proc.pid)
        ca = None
        cert_how = "-"
        if not args.no_tls:
            from _tls import make_certs

            certs = make_certs(tmp, args.tls_key)
            ca, cert_how = certs.ca, certs.how
            saddr, sproc = stack.enter_context(stub_server((certs.cert, certs.key), cpu=1 if args.pin else None))
            stubs["https"] = (saddr, sproc.pid)
        log(f"{len(cells)} cells x {args.repeats} rounds; stubs at {', '.join(a for a, _ in stubs.values())}")
        for round_no in range(args.repeats):
            for cell in cells:
                run_cell(cell, stubs, ca, args, official_py)
            log(f"round {round_no + 1}/{args.repeats} done")
        run_cell(soak, stubs, ca, args, official_py)
        log("soak done")
    extras: dict[str, Any] = {}
    if not args.no_extras:
        extras["paging"] = _run_paging(args, log)
        extras["serialization"] = _run_serialization(log)
        extras["ondevice"] = _run_ondevice(args, log)
    elapsed = time.perf_counter() - started
    busy1 = _cpu_busy()
    own1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    ticks = os.sysconf("SC_CLK_TCK")
    own_cpu = sum((b.ru_utime + b.ru_stime) - (a.ru_utime + a.ru_stime) for a, b in zip(own0, own1, strict=True))
    other_cores = max(0.0, ((busy1[0] - busy0[0]) / ticks - own_cpu) / elapsed)

    summaries = {cell.key: summarize(cell) for cell in cells}
    soak_summary = summarize(soak)
    rows = [_fmt_row(cell, summaries[cell.key]) for cell in cells]
    rows.append(_fmt_row(soak, soak_summary))
    targets = evaluate_targets(cells, soak, extras, args)
    info = machine_info()
    stub_max = max((r["stub_share"] for c in [*cells, soak] for r in c.runs), default=0.0)
    title = (
        f"target-async performance suite: {info['date']}, {info['nproc']} cores ({info['cpu']}), "
        f"Python {info['python']}; {args.repeats} rounds (median); took {elapsed:.0f} s; "
        f"other processes used {other_cores:.2f} cores on average; the stub used at most {stub_max:.0%} of a core"
    )
    print()
    print(title)
    print_table(HEADERS_MAIN, rows)
    print()
    print("targets (ratios within this run, median of the per-round ratios)")
    print_table(["target", "measured", "target", "result"], targets)
    for cell in [*cells, soak]:
        for failure in cell.failures:
            print(f"FAILED {cell.proto} {cell.label} x{cell.in_flight}: {failure}")
        for run in cell.runs:
            if run["errors"]:
                print(f"ERRORS {cell.proto} {cell.label}: {run['errors']} failed calls, e.g. {run.get('first_error')}")
    noisy = _noisy(cells)
    if noisy:
        print("\nrounds that differ by more than 20% (calls/s per round):")
        for line in noisy:
            print(f"  {line}")
    if extras.get("paging"):
        p = extras["paging"]
        print(
            f"\npaging: {p['instances_per_s']:.0f} instances/s over {p['instances']} instances "
            f"(page size {p['page_size']}, emulator via ASGITransport)"
        )
    write_markdown(
        Path(args.out),
        info=info,
        title=title,
        rows=rows,
        targets=targets,
        extras=extras,
        args=args,
        elapsed=elapsed,
        other_cores=other_cores,
        stub_max=stub_max,
        noisy=noisy,
        official_how=official_how,
        cert_how=cert_how,
        soak=soak_summary,
        official_py=official_py,
    )
    raw = {
        "machine": info,
        "elapsed_s": elapsed,
        "other_cores": other_cores,
        "cells": [{"key": c.key, "label": c.label, "runs": c.runs, "failures": c.failures} for c in [*cells, soak]],
        "extras": extras,
    }
    Path(args.out).with_suffix(".json").write_text(json.dumps(raw, indent=1))
    print(f"\nwrote {args.out} ({elapsed:.0f} s)")


def profile_cell(args: argparse.Namespace) -> None:
    """Run one worker under ``py-spy record`` and print the hottest functions (inclusive and self)."""
    import collections
    import shutil

    kind, _, level = args.profile.partition(":")
    conc = int(level) if level else (1 if kind in ("ta-sync", "httpx-sync", "ta-callback") else 64)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with contextlib.ExitStack() as stack:
        ca, tls = None, None
        if args.profile_https:
            from _tls import make_certs

            certs = make_certs(stack.enter_context(tempfile.TemporaryDirectory()), args.tls_key)
            ca, tls = certs.ca, (certs.cert, certs.key)
        addr, proc = stack.enter_context(stub_server(tls))
        cfg = {"kind": kind, "addr": addr, "ca": ca, "calls": args.profile_calls, "conc": conc, "loop": "asyncio"}
        cfg.update(window=args.window, stub_pid=proc.pid)
        raw = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "profile.txt"
        worker = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(cfg)]
        cmd = [spy, "record", "-r", "500", "-t", "-f", "raw", "-o", str(raw), "--", *worker]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if not raw.exists():
            raise SystemExit(f"py-spy failed: {out.stderr.strip()[-400:]}")
        result = next((line for line in out.stdout.splitlines() if line.startswith("{")), "")
        print(f"{args.profile} over {'HTTPS' if ca else 'HTTP'}: {result}")
        inclusive: collections.Counter[str] = collections.Counter()
        own: collections.Counter[str] = collections.Counter()
        threads: collections.Counter[str] = collections.Counter()
        names: dict[str, str] = {}
        total = 0
        for line in raw.read_text().splitlines():
            stack_text, _, count = line.rpartition(" ")
            frames = [re.sub(r":\d+\)$", ")", f) for f in stack_text.split(";")]
            n = int(count)
            total += n
            tid, _, name = frames[0].partition(": ")
            names[tid] = name or names.get(tid, "")
            threads[tid] += n
            for name in set(frames[1:]):
                inclusive[name] += n
            own[frames[-1]] += n
    short = re.compile(r"/\S*?(site-packages|python3\.\d+)/")
    threads = collections.Counter({f"{tid}: {names.get(tid) or '?'}": n for tid, n in threads.items()})
    for title, counter, top in (("threads", threads, 10), ("inclusive", inclusive, 45), ("self", own, 25)):
        print(f"--- {title} (% of {total} samples)")
        for name, n in counter.most_common(top):
            print(f"{100 * n / total:5.1f}%  {short.sub('', name)}")


def evaluate_targets(
    cells: list[Cell], soak: Cell, extras: dict[str, Any], args: argparse.Namespace
) -> list[list[str]]:
    by_key = {c.key: c for c in cells}

    def get(proto: str, kind: str, conc: int = 1, loop: str = "asyncio") -> Cell | None:
        return by_key.get(f"{proto}:{kind}:{loop}:{conc}")

    rows: list[list[str]] = []

    def add(name: str, value: float | None, goal: float | None, *, higher: bool = True, unit: str = "x") -> None:
        if value is None:
            rows.append([name, "n/a", _goal(goal, higher, unit), "not run"])
            return
        shown = f"{value:.2f}{unit}" if unit == "x" else f"{value:g}{unit}"
        if goal is None:
            rows.append([name, shown, "(info)", ""])
            return
        ok = value >= goal if higher else value <= goal
        rows.append([name, shown, _goal(goal, higher, unit), "PASS" if ok else "MISS"])

    for proto in ("http", "https"):
        if proto == "https" and args.no_tls:
            continue
        official = get(proto, "official-sync")
        p = proto.upper()
        many = _ratio(get(proto, "ta-many", 64), official)
        add(f"{p}: get_offers_many x64 / official sequential", many, 2.3 if proto == "http" else 6.5)
        if proto == "http":
            for threads in (1, 16):
                ratio = _ratio(get(proto, "ta-callback", threads), official)
                add(f"{p}: callback facade ({threads} thread{'s' * (threads > 1)}) / official sequential", ratio, 2.0)
            ratio = _ratio(get(proto, "official-callback"), official)
            add(f"{p}: official callback mode / official sequential", ratio, None)
        sync = _ratio(get(proto, "ta-sync"), official)
        add(f"{p}: sync facade sequential / official sequential", sync, 1.0 if proto == "http" else 5.0)
    s = summarize(soak)
    if s is not None:
        add(f"threads after {s['calls']} callback calls", s["threads"], 8, higher=False, unit="")
        growth = s["rss_mb"] - s["rss_2k"]
        rows.append(
            [
                f"RSS after {s['calls_2k']} -> {s['calls']} callback calls",
                f"{s['rss_2k']:.1f} -> {s['rss_mb']:.1f} MiB ({growth:+.1f})",
                "flat (growth <= 5% and <= 4 MiB)",
                "PASS" if growth <= min(4.0, 0.05 * s["rss_2k"]) else "MISS",
            ]
        )
    for proto in ("http",) if args.no_tls else ("http", "https"):
        many = get(proto, "ta-many", 64)
        cpu = _ratio(many, get(proto, "httpx-ours", 64), "cpu_ms_per_call")
        goal = 1.2 if proto == "http" else None
        name = f"{proto.upper()}: CPU/call get_offers_many x64 / raw httpx on the same transport x64"
        add(name, cpu, goal, higher=False)
        cpu = _ratio(many, get(proto, "httpx-aiohttp", 64), "cpu_ms_per_call")
        add(f"{proto.upper()}: CPU/call get_offers_many x64 / raw httpx + httpx-aiohttp x64", cpu, None, higher=False)
    paging = extras.get("paging")
    if paging:
        for label, r in paging["index"].items():
            name = f"list p50, {paging['large']:,} vs {paging['small']:,} instances ({label})"
            add(name, r["ratio"], 2.0, higher=False)
    ondevice = extras.get("ondevice")
    if ondevice:
        rows += [[f"on-device: {r[0]}", *r[1:]] for r in ondevice["targets"]]
    return rows


def _goal(goal: float | None, higher: bool, unit: str) -> str:
    if goal is None:
        return "(info)"
    return f"{'>=' if higher else '<='} {goal:g}{unit}"


def _run_paging(args: argparse.Namespace, log: Any) -> dict[str, Any] | None:
    cmd = [sys.executable, str(HERE / "bench_emulator_paging.py"), "--json"]
    if args.quick:
        cmd += ["--instances", "2000", "--large", "20000", "--repeats", "1", "--samples", "15"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    if out.returncode != 0:
        log(f"paging benchmark failed: {out.stderr.strip()[-400:]}")
        return None
    log("paging benchmark done")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _run_ondevice(args: argparse.Namespace, log: Any) -> dict[str, Any] | None:
    cmd = [sys.executable, str(HERE / "bench_ondevice.py"), "--json-line"]
    cmd += ["--quick"] if args.quick else []
    cmd += ["--no-official"] if args.no_official else []
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        log(f"on-device benchmark failed: {out.stderr.strip()[-400:]}")
        return None
    log("on-device benchmark done (benchmarks/results/ondevice.md)")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _run_serialization(log: Any) -> list[dict[str, Any]] | None:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "bench.json"
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                str(HERE / "test_serialization.py"),
                "--benchmark-only",
                f"--benchmark-json={report}",
                "-q",
                "-p",
                "no:cacheprovider",
                "--benchmark-max-time=0.3",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=HERE.parent,
        )
        if out.returncode != 0 or not report.exists():
            log(f"serialization microbenchmarks failed: {out.stdout.strip()[-400:]}")
            return None
        data = json.loads(report.read_text())
    log("serialization microbenchmarks done")
    return [
        {"name": b["name"], "median_us": b["stats"]["median"] * 1e6, "rounds": b["stats"]["rounds"]}
        for b in data["benchmarks"]
    ]


def write_markdown(path: Path, **kw: Any) -> None:
    info, args = kw["info"], kw["args"]

    def table(headers: list[str], rows: list[list[str]]) -> list[str]:
        out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
        return out

    lines = [
        "# target-async performance suite: latest run",
        "",
        f"- date: {info['date']}",
        f"- machine: `nproc` = {info['nproc']}, CPU: {info['cpu']}, {info['platform']}",
        f"- Python {info['python']}",
        f"- took {kw['elapsed']:.0f} s; other processes on the machine used {kw['other_cores']:.2f} cores on average",
        f"- the stub used at most {kw['stub_max']:.0%} of one core in any cell: it is not the bottleneck",
        f"- command: `{' '.join(['python benchmarks/run_all.py', *sys.argv[1:]])}`",
        f"- {args.repeats} rounds; calls per cell: {args.calls} (concurrent modes), {args.seq_calls} (sequential),"
        f" {args.official_calls} (official SDK); callback modes keep at most {args.window} calls in flight",
        f"- official SDK venv: {kw['official_how']}; TLS certificates made with {kw['cert_how']}",
        "",
        "calls/s, CPU ms/call and stub CPU are medians over the rounds; p50/p99, threads and RSS come from the"
        " median round. CPU is the client process's (all threads); threads are native threads"
        " (`/proc/self/status`) at the end of the cell; stub CPU is the stub process's share of one core"
        " during the timed window.",
        "",
        *table(HEADERS_MAIN, kw["rows"]),
        "",
        *(
            ["Rounds that differ by more than 20% (calls/s per round):", "", *(f"- {n}" for n in kw["noisy"]), ""]
            if kw["noisy"]
            else []
        ),
        "## Targets",
        "",
        "Ratios within this run; each is the median of the per-round ratios.",
        "",
        *table(["target", "measured", "target", "result"], kw["targets"]),
        "",
    ]
    paging = kw["extras"].get("paging")
    if paging:
        lines += [
            "## Repository paging on the emulator",
            "",
            f"- paging {paging['instances']:,} personalized offers, page size {paging['page_size']}:"
            f" **{paging['instances_per_s']:.0f} instances/s** (median; emulator app via `httpx.ASGITransport`)",
            "",
            *table(
                ["first page, limit=50", f"p50 ms @ {paging['small']:,}", f"p50 ms @ {paging['large']:,}", "ratio"],
                [
                    [k, f"{v['small_ms']:.2f}", f"{v['large_ms']:.2f}", f"{v['ratio']:.2f}x"]
                    for k, v in paging["index"].items()
                ],
            ),
            "",
        ]
    ondevice = kw["extras"].get("ondevice")
    if ondevice:
        from bench_ondevice import HEADERS as ONDEVICE_HEADERS

        lines += [
            "## On-device decisioning against Adobe's engine (`bench_ondevice.py`, per call)",
            "",
            *table(ONDEVICE_HEADERS, ondevice["rows"]),
            "",
            "Its targets are in the targets table above; method and notes: `benchmarks/results/ondevice.md`.",
            "",
        ]
    serial = kw["extras"].get("serialization")
    if serial:
        lines += [
            "## Serialization microbenchmarks (pytest-benchmark, median)",
            "",
            *table(
                ["benchmark", "median us", "rounds"],
                [[s["name"], f"{s['median_us']:.1f}", str(s["rounds"])] for s in serial],
            ),
            "",
        ]
    if kw["official_py"] is not None:
        freeze = subprocess.run(
            [str(kw["official_py"]), "-m", "pip", "freeze", "--disable-pip-version-check"],
            capture_output=True,
            text=True,
        ).stdout.split()
        lines += ["Official SDK venv: " + ", ".join(f"`{p}`" for p in freeze), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
