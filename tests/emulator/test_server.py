"""The emulator behind a real uvicorn server: durability across ``kill -9`` and truly dropped connections."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVE = """
import sys, uvicorn
from target_async.emulator import create_app
uvicorn.run(create_app(db_path=sys.argv[1] or None), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""
HEADERS = {"Authorization": "Bearer t", "x-api-key": "k", "x-gw-ims-org-id": "dur@AdobeOrg", "x-sandbox-name": "prod"}
TAG = "https://ns.adobe.com/experience/offer-management/tag"
HAL = f'application/vnd.adobe.platform.xcore.hal+json; schema="{TAG}"'

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(db: Path | None, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(db or ""), str(port)], cwd=ROOT, env=env, stdout=err, stderr=err
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(base + "/_emulator/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_acknowledged_writes_survive_kill_9(tmp_path):
    db = tmp_path / "emulator.db"
    log = tmp_path / "server.log"
    acked: dict[str, str] = {}
    with serve(db, log) as (base, proc):
        with httpx.Client(base_url=base, headers=HEADERS, timeout=10) as http:
            cid = http.get("/data/core/xcore/").json()["_embedded"]["https://ns.adobe.com/experience/xcore/container"][
                0
            ]["instanceId"]
            half = threading.Event()

            def killer() -> None:
                half.wait(60)
                time.sleep(0.003)  # land inside a later write
                os.kill(proc.pid, signal.SIGKILL)

            thread = threading.Thread(target=killer, daemon=True)
            thread.start()
            failures = 0
            for i in range(1000):
                try:
                    r = http.post(
                        f"/data/core/xcore/{cid}/instances",
                        json={"_instance": {"xdm:name": f"t{i}"}, "_links": {}},
                        headers={"Content-Type": HAL},
                    )
                except httpx.TransportError:
                    failures += 1
                    if failures > 3:
                        break
                    continue
                assert r.status_code == 201, r.text
                acked[r.json()["instanceId"]] = f"t{i}"
                if len(acked) == 500:
                    half.set()
            thread.join(10)
        assert proc.wait(10) == -signal.SIGKILL
    assert 500 <= len(acked) < 1000, len(acked)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with serve(db, log) as (base, _), httpx.Client(base_url=base, headers=HEADERS, timeout=10) as http:
        total = http.get(f"/data/core/xcore/{cid}/instances", params={"schema": TAG, "limit": "1"}).json()["_embedded"][
            "total"
        ]
        assert len(acked) <= total <= len(acked) + 1  # at most the one in flight at the kill
        for iid, name in acked.items():
            r = http.get(f"/data/core/xcore/{cid}/instances/{iid}")
            assert r.status_code == 200 and r.json()["_instance"]["xdm:name"] == name


def test_dropped_connection_on_a_real_server(tmp_path):
    log = tmp_path / "server.log"
    with serve(None, log) as (base, _), httpx.Client(base_url=base, headers=HEADERS, timeout=10) as http:
        r = http.post("/_emulator/faults", json={"drops": [{"route": "GET root", "count": 1}]})
        assert r.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError, match="without sending"):
            http.get("/data/core/xcore/")
        assert http.get("/data/core/xcore/").status_code == 200
        # a burst on a POST with a body leaves the keep-alive connection usable
        http.post("/_emulator/faults", json={"bursts": [{"route": "delivery", "status": 503}]})
        r = http.post("/rest/v1/delivery?imsOrgId=o&sessionId=s", json={"big": "x" * 200_000})
        assert r.status_code == 503
        assert http.get("/data/core/xcore/").status_code == 200
    text = log.read_text()
    assert "Traceback" not in text and "ASGI callable" not in text, text
