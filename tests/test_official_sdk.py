"""Clients written to Adobe's documentation work against the emulator unchanged: Adobe's own SDK, here.

The official ``target-python-sdk==1.1.0`` lives in its own virtualenv, ``.venv-official`` (``./scripts/test``
creates it: ``sh scripts/official-venv``), because its wheel declares no dependencies and its packages are not
ours to mix in. The client script runs in a subprocess against the emulator served on loopback.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from target_async.emulator import create_app
from target_async.testing import serve

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv-official" / "bin" / "python"
FIXTURES = {
    "mboxes": {
        "hero": {
            "experiences": [{"name": "A", "weight": 1, "options": [{"type": "json", "content": {"color": "red"}}]}]
        },
        "flags": {
            "experiences": [{"name": "on", "weight": 1, "options": [{"type": "json", "content": {"beta": True}}]}]
        },
    }
}


@pytest.mark.skipif(
    not PYTHON.exists(), reason="the official SDK's virtualenv is missing: run sh scripts/official-venv"
)
def test_official_python_sdk_against_the_emulator() -> None:
    with serve(create_app(fixtures=FIXTURES)) as url:
        run = subprocess.run(
            [str(PYTHON), str(ROOT / "tests" / "official" / "official_client.py"), url.removeprefix("http://")],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["ready"] is True
    assert seen["content"] == {"color": "red"}
    assert seen["cookie_name"] == "mbox"
    assert seen["cookie_value"].startswith("session#official-session#")
    assert f"PC#{seen['tnt_id']}#" in seen["cookie_value"]
    assert seen["second_tnt_id"] == seen["tnt_id"]  # the PC cookie round-trips through Adobe's parser
    assert seen["second_content"] == {"color": "red"}
    assert seen["callback"] == {"color": "red"}
    assert seen["beta"] is True
    assert seen["location_hint_cookie"] is None  # edgeHost "localhost" names no edge cluster
