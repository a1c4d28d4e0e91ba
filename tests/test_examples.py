"""Every example in ``examples/`` runs against an emulator: the web services through their factories over real
HTTP, the scripts as subprocesses."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest
from aiohttp.test_utils import TestServer

from target_async import _demo, _demo_ondevice
from target_async._cli import main
from target_async.delivery import _artifacts
from target_async.emulator import create_app
from target_async.testing import serve

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
FIXTURES = EXAMPLES / "fixtures.json"
TIMEOUT = 120

pytestmark = pytest.mark.emulator


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def emulator_url() -> Iterator[str]:
    with serve(create_app(fixtures=FIXTURES)) as url:
        yield url


def _mbox_cookie(response: httpx.Response) -> tuple[str, int]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    assert "mbox" in jar, response.headers
    assert "mboxEdgeCluster" not in jar  # the emulator names no edge cluster
    return jar["mbox"].value, int(jar["mbox"]["max-age"])


def _entries(cookie: str) -> dict[str, str]:
    return {part.split("#")[0]: part.split("#")[1] for part in cookie.split("|")}


async def _check_service(base_url: str) -> None:
    """A new visitor gets an ``mbox`` cookie; forwarding it keeps the session and the tntId."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        first = await http.get("/offers/hero")
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["mbox"] == "hero"
        assert body["content"] in ([{"color": "red"}], ["<b>blue</b>"])
        cookie, max_age = _mbox_cookie(first)
        assert max_age > 0
        entries = _entries(cookie)
        assert entries["PC"] == body["tntId"]
        assert entries["session"]

        http.cookies.clear()  # forward the cookie by hand, as a browser would send it
        again = await http.get("/offers/hero", headers={"Cookie": f"mbox={cookie}"})
        assert again.status_code == 200, again.text
        assert again.json()["tntId"] == body["tntId"]
        assert again.json()["content"] == body["content"]  # the same visitor keeps the same experience
        assert _entries(_mbox_cookie(again)[0]) == {"session": entries["session"], "PC": entries["PC"]}

        http.cookies.clear()
        stranger = await http.get("/offers/hero")
        assert stranger.json()["tntId"] != body["tntId"]
        assert _entries(_mbox_cookie(stranger)[0])["session"] != entries["session"]

        empty = await http.get("/offers/nothing-here")
        assert empty.status_code == 200 and empty.json()["content"] == []


async def test_fastapi_service(emulator_url: str) -> None:
    module = _load("fastapi_service")
    with serve(module.create_app(emulator_url), lifespan="on") as url:
        await _check_service(url)


async def test_fastapi_module_app_embeds_an_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TARGET_EMULATOR_URL", raising=False)
    module = _load("fastapi_service")
    with serve(module.app, lifespan="on") as url:
        await _check_service(url)


async def test_fastapi_service_reads_the_environment(emulator_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TARGET_EMULATOR_URL", emulator_url)
    module = _load("fastapi_service")
    with serve(module.create_app(), lifespan="on") as url:
        await _check_service(url)


async def _health(http: httpx.AsyncClient) -> dict[str, Any]:
    answer = await http.get("/health")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    artifact: dict[str, Any] = body["artifact"]
    assert body["ready"] is True and artifact["lastError"] is None, body
    return artifact


async def test_ondevice_fastapi_decides_locally_and_picks_up_a_new_artifact_in_the_background(
    emulator_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_artifacts, "MIN_POLLING_INTERVAL", 0.05)  # poll every 0.2 s instead of 5 minutes
    module = _load("ondevice_fastapi")
    with serve(module.create_app(emulator_url, polling_interval=0.2), lifespan="on") as url:
        await _check_service(url)
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            artifact = await _health(http)
            assert artifact["location"] == f"{emulator_url}/emulator/production/v1/rules.json"
            assert (artifact["mboxRules"], artifact["pollingInterval"]) == (2, 0.2)
            first = await http.get("/offers/hero")
            assert first.json()["decisioningMethod"] == "on-device"
            assert first.json()["content"] in ([{"color": "red"}], ["<b>blue</b>"])
            cookie = first.cookies["mbox"]

            winner = {"experiences": [{"name": "C", "options": [{"type": "json", "content": {"color": "purple"}}]}]}
            published = await http.post(f"{emulator_url}/_emulator/fixtures", json={"mboxes": {"hero": winner}})
            assert published.status_code == 200, published.text
            for _ in range(100):  # the service's background poll finds the new ETag
                now = await _health(http)
                if now["etag"] != artifact["etag"]:
                    break
                await asyncio.sleep(0.05)
            assert now["etag"] == published.json()["etag"] and now["retrievalCount"] == 2, now
            http.cookies.clear()
            again = await http.get("/offers/hero", headers={"Cookie": f"mbox={cookie}"})
            assert again.json()["content"] == [{"color": "purple"}]
            assert again.json()["tntId"] == first.json()["tntId"]
    # the display notifications of the on-device decisions reached Target (sent in the background)
    async with httpx.AsyncClient(timeout=10) as http:
        log = (await http.get(f"{emulator_url}/_emulator/notifications")).json()["notifications"]
    assert any(n["notification"].get("mbox", {}).get("name") == "hero" for n in log), log


async def test_ondevice_fastapi_module_app_embeds_an_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TARGET_EMULATOR_URL", raising=False)
    module = _load("ondevice_fastapi")
    with serve(module.app, lifespan="on") as url:
        await _check_service(url)
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            artifact = await _health(http)
            assert artifact["pollingInterval"] == 300 and artifact["retrievalCount"] == 1
            assert (await http.get("/offers/hero")).json()["decisioningMethod"] == "on-device"


async def test_aiohttp_service(emulator_url: str) -> None:
    module = _load("aiohttp_service")
    async with TestServer(module.create_app(emulator_url), host="127.0.0.1") as server:
        await _check_service(str(server.make_url("")))


async def test_aiohttp_service_embeds_an_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TARGET_EMULATOR_URL", raising=False)
    module = _load("aiohttp_service")
    async with TestServer(module.create_app(), host="127.0.0.1") as server:
        await _check_service(str(server.make_url("")))


def _run(script: str, *args: str, env_url: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TARGET_EMULATOR_URL"}
    if env_url is not None:
        env["TARGET_EMULATOR_URL"] = env_url
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"{script} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.parametrize("where", ["embedded", "env", "url"])
def test_legacy_callbacks(where: str) -> None:
    with serve(create_app()) as url:
        if where == "embedded":
            out = _run("legacy_callbacks.py")
        elif where == "env":
            out = _run("legacy_callbacks.py", env_url=url)
        else:
            out = _run("legacy_callbacks.py", "--url", url)
    lines = out.splitlines()
    assert "event client_ready on thread 'target-async-callbacks'" in lines
    assert "callback: status 200, cookie mbox" in lines
    assert any(re.fullmatch(r"get\(\) -> tntId \S+, successful\(\) = True", line) for line in lines), out
    assert "err_callback: ServerError (status 500)" in lines
    assert "get() raised ServerError, successful() = False" in lines
    assert lines[-1] == "closed"


def test_batch_decisions() -> None:
    out = _run("batch_decisions.py", "--visitors", "400")
    assert re.search(r"^decided 400 visitors in [\d.]+ s: \d+ decisions/s, 0 errors$", out, re.M), out
    allocation = {m[1]: int(m[2]) for m in re.finditer(r"^  (\w+): (\d+) \([\d.]+%\)$", out, re.M)}
    assert set(allocation) == {"A", "B"}, out
    assert sum(allocation.values()) == 400
    assert 140 <= allocation["A"] <= 260, allocation  # 50/50 by a stable hash of the tntId


def test_batch_decisions_against_a_given_emulator(emulator_url: str) -> None:
    out = _run("batch_decisions.py", "--visitors", "50", "--url", emulator_url)
    assert "decided 50 visitors" in out and ", 0 errors" in out
    assert "(no offer)" not in out and "error" not in out.replace("0 errors", "")


def _summary(out: str) -> tuple[int, int, int]:
    match = re.search(r"^created (\d+), updated (\d+), unchanged (\d+)$", out, re.M)
    assert match, out
    return int(match[1]), int(match[2]), int(match[3])


def test_offers_as_code_is_idempotent(tmp_path: Path) -> None:
    spec = json.loads((EXAMPLES / "offers.json").read_text(encoding="utf-8"))
    total = 1 + len(spec["offers"])
    with serve(create_app()) as url:
        assert _summary(_run("offers_as_code.py", "--url", url)) == (total, 0, 0)
        assert _summary(_run("offers_as_code.py", "--url", url)) == (0, 0, total)

        spec["offers"][0]["xdm:rank"]["xdm:priority"] += 10  # one offer changes in the file
        spec["offers"].append({"xdm:name": "Brand new", "xdm:status": "draft"})
        changed = tmp_path / "offers.json"
        changed.write_text(json.dumps(spec), encoding="utf-8")
        out = _run("offers_as_code.py", "--url", url, "--file", str(changed))
        assert _summary(out) == (1, 1, total - 1)
        assert f"  updated   offer {spec['offers'][0]['xdm:name']!r}" in out.splitlines()
        assert _summary(_run("offers_as_code.py", "--file", str(changed), env_url=url)) == (0, 0, total + 1)


def test_offers_as_code_embedded_runs_twice() -> None:
    out = _run("offers_as_code.py")
    summaries = re.findall(r"^created \d+, updated \d+, unchanged \d+$", out, re.M)
    assert summaries == ["created 4, updated 0, unchanged 0", "created 0, updated 0, unchanged 4"], out


def test_demo_decides_on_device_and_picks_up_a_new_artifact(capsys: pytest.CaptureFixture[str]) -> None:
    """``target-async demo`` (smaller numbers): every step runs, the on-device part agrees with the server."""
    code = main(["demo", "--visitors", "100", "--on-device-visitors", "1000", "--server-sample", "100"])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = [line.strip() for line in out.splitlines()]
    text = "\n".join(lines)
    assert re.search(r"^on-device +1,000 visitors in +[\d.]+ s +[\d,]+ decisions/s +\(in-process", text, re.M), out
    assert re.search(r"^server-side +100 visitors in +[\d.]+ s +[\d,]+ decisions/s", text, re.M), out
    assert "same experience both ways: 100/100 visitors decided both ways (experience and content compared)" in lines
    assert re.search(r"server-side B \(orange\), on-device A \(green\)$", text, re.M), out  # before the poll
    assert re.search(r"^refresh_artifact\(\) +True in \d+ ms: ETag \w+, 2 artifacts loaded$", text, re.M), out
    assert re.search(r"^device-\d{5} +on-device B \(orange\)$", text, re.M), out  # after it
    assert re.search(r"^the first 100 again +on-device B \(orange\) 100$", text, re.M), out
    assert re.search(r"^refresh_artifact\(\) +False: 304 Not Modified", text, re.M), out


@pytest.mark.parametrize("flag", ["--visitors", "--on-device-visitors", "--server-sample"])
def test_demo_refuses_a_count_below_one(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", flag, "0"]) == 2
    assert capsys.readouterr().err == f"target-async demo: {flag} must be a positive integer, not 0\n"


def test_demo_reports_visitors_whose_experiences_differ(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = _demo_ondevice._experience

    def server_says_c(result: Any) -> tuple[str, str]:  # as if the server had decided otherwise
        if not isinstance(result, BaseException) and result.meta.decisioning_method == "server-side":
            return ("C (red)", "{'color': 'red'}")
        return real(result)

    monkeypatch.setattr(_demo_ondevice, "_experience", server_says_c)
    with serve(create_app(fixtures=_demo.FIXTURES)) as url:
        agree = anyio.run(_demo_ondevice._ondevice, url, 50, 7)
    out = capsys.readouterr().out
    assert agree is False
    assert "same experience both ways: 0/7 visitors decided both ways (experience and content compared)" in out
    line = r"^ +device-00000: on-device [AB] \(\w+\) \{.*\}, server-side C \(red\) \{'color': 'red'\}$"
    assert re.search(line, out, re.M), out
    assert "     ... and 2 more" in out.splitlines()
