"""Shared pieces of the benchmark scripts: the stub server process, timing, and table printing.

Standard library only: ``_official_worker.py`` imports it from the official SDK's own virtualenv.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def stub_server(
    tls: tuple[str, str] | None = None, *, cpu: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start the stub in its own process; yield ``("127.0.0.1:PORT", process)``.

    ``tls=(cert, key)`` serves HTTPS; ``cpu`` pins the stub to that CPU (Linux).
    """
    port = free_port()
    cmd = [sys.executable, str(HERE / "_stub_server.py"), str(port)]
    if tls:
        cmd += ["--tls", *tls]
    env = None if cpu is None else {**os.environ, "STUB_CPU": str(cpu)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if b"ready" not in line:
        proc.kill()
        raise RuntimeError("stub server did not start")
    try:
        yield f"127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        proc.wait(5)


def proc_cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of another process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)


def thread_count() -> int:
    return threading.active_count()


def os_threads() -> int:
    """Native threads of this process (``Threads:`` in /proc/self/status), Python's and any others."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:  # not Linux
        pass
    return threading.active_count()


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def now() -> float:
    return time.perf_counter()
