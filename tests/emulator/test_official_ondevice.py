"""Adobe's own SDK agrees with the emulator (issue #13): target-python-sdk 1.1.0, deciding on-device from the
emulator's rules.json over loopback, gives each visitor the experience the emulator's Delivery endpoint gives.
An independent implementation of Target's allocation hash, so the compiled fixtures are a Target artifact."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from target_async.emulator import create_app
from target_async.testing import serve

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv-official" / "bin" / "python"
FIXTURES = {
    "mboxes": {
        "hero": {
            "experiences": [
                {"name": "A", "weight": 50, "options": [{"content": {"color": "red"}}]},
                {"name": "B", "weight": 30, "options": [{"content": "<b>blue</b>"}]},
                {"name": "C", "weight": 20, "options": [{"content": "green"}]},
            ]
        }
    }
}
VISITORS = [f"visitor-{n}" for n in range(30)] + ["338e3c1e51f7416a8e1ccba4f81acea0.28_0"]


@pytest.mark.skipif(
    not PYTHON.exists(), reason="the official SDK's virtualenv is missing: run sh scripts/official-venv"
)
def test_adobes_sdk_on_device_decides_as_the_emulator_server_side() -> None:
    with serve(create_app(fixtures=FIXTURES)) as url:
        run = subprocess.run(
            [str(PYTHON), str(Path(__file__).with_name("official_ondevice_client.py")), url.removeprefix("http://")]
            + VISITORS,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        official = json.loads(run.stdout.strip().splitlines()[-1])
        assert official["ready"] is True
        server = {}
        with httpx.Client(base_url=url) as http:
            for visitor in VISITORS:
                body = {"id": {"tntId": visitor}, "execute": {"mboxes": [{"index": 1, "name": "hero"}]}}
                answer = http.post("/rest/v1/delivery", params={"imsOrgId": "o", "sessionId": "s"}, json=body)
                option = answer.json()["execute"]["mboxes"][0]["options"][0]
                server[visitor] = {
                    "content": option["content"],
                    "experience": option["responseTokens"]["experience.name"],
                }
    decided = official["decisions"]
    assert {v: d["method"] for v, d in decided.items()} == dict.fromkeys(VISITORS, "on-device")
    assert {v: {"content": d["content"], "experience": d["experience"]} for v, d in decided.items()} == server
    assert {d["experience"] for d in server.values()} == {"A", "B", "C"}
