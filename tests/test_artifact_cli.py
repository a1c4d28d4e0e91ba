"""``target-async artifact inspect|diff``: run in-process through ``main(argv)``; URLs over real loopback HTTP."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from target_async._cli import main
from target_async.decisioning import obfuscate_artifact
from target_async.testing import serve

DATA = Path(__file__).parent / "data" / "on-device"
ARTIFACT = DATA / "artifact.json"
FIXTURES = DATA / "artifacts"
ORG = "0123456789ABCDEF@AdobeOrg"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(capsys, *argv, "--json")
    assert (code, err) == (0, "")
    return json.loads(out)


def write(tmp_path: Path, name: str, payload: Any) -> str:
    path = tmp_path / name
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def real() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ARTIFACT.read_text(encoding="utf-8"))
    return data


# --- inspect ---------------------------------------------------------------------------------------------------


def test_inspect_json_summarises_the_real_artifact(capsys: pytest.CaptureFixture[str]) -> None:
    s = run_json(capsys, "artifact", "inspect", str(ARTIFACT))
    assert list(s) == [
        "format",
        "source",
        "version",
        "meta",
        "global_mbox",
        "counts",
        "server_calls",
        "geo",
        "response_tokens",
        "property_tokens",
        "rules_without_property_token",
        "activities",
        "mboxes",
        "views",
        "audiences",
        "rules",
    ]
    assert s["format"] == "target-async/artifact-inspect/1"
    assert s["counts"] == {
        "activities": 40,
        "mboxes": 22,
        "views": 2,
        "rules": 152,
        "mbox_rules": 128,
        "view_rules": 24,
        "audiences": 33,
        "property_tokens": 7,
    }
    assert s["server_calls"] == {"remote_mboxes": [], "remote_views": [], "geo_lookup": True}
    assert s["geo"] == {"enabled": True, "rules": 5, "locations": ["mbox mbox-geography", "mbox target-global-mbox"]}
    assert "geo.city" in s["response_tokens"]
    params = next(m for m in s["mboxes"] if m["name"] == "mbox-params")
    assert params == {
        "name": "mbox-params",
        "rules": 3,
        "activity_ids": [125874, 147386],
        "audience_ids": [1821805, 2059251],
        "reads": ["allocation", "mbox"],
        "remote": False,
        "decided": "on-device",
    }
    macros = next(a for a in s["activities"] if a["id"] == 125891)
    assert macros["name"] == "[unit-test] mbox-macros"
    assert macros["experiences"] == ["Experience A", "Experience B"]
    assert macros["locations"] == [{"type": "mbox", "name": "mbox-macros"}]
    assert [a["id"] for a in s["activities"]] == sorted(a["id"] for a in s["activities"])
    home_audience = next(a for a in s["audiences"] if a["id"] == 1821921)
    assert home_audience["activity_ids"] == [125900] and home_audience["locations"] == ["view home"]


def test_inspect_shows_what_needs_a_server_call_and_property_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    s = run_json(capsys, "artifact", "inspect", str(FIXTURES / "TEST_ARTIFACT_FEATURE_FLAG.json"))
    assert s["server_calls"]["remote_mboxes"] == ["remote-only-mbox-a", "remote-only-mbox-b"]
    assert s["server_calls"]["geo_lookup"] is False  # geo targeting on, but no rule reads geo
    remote = next(m for m in s["mboxes"] if m["name"] == "remote-only-mbox-a")
    assert (remote["remote"], remote["decided"], remote["rules"]) == (True, "server", 0)

    p = run_json(capsys, "artifact", "inspect", str(FIXTURES / "TEST_ARTIFACT_PROPERTIES.json"))
    assert sorted(t["token"] for t in p["property_tokens"]) == [
        "8ce2d3e9-b299-c0ea-2e0c-2e21255db6bb",
        "f12c912a-792f-6c01-4977-65d39558c82e",
    ]
    assert p["rules_without_property_token"] == p["counts"]["rules"] - sum(t["rules"] for t in p["property_tokens"])


def test_inspect_text_is_aligned_and_readable(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "artifact", "inspect", str(FIXTURES / "TEST_ARTIFACT_FEATURE_FLAG.json"), "--rules")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert "remote mboxes  remote-only-mbox-a, remote-only-mbox-b" in out
    header = next(i for i, line in enumerate(lines) if line.startswith("Mboxes ("))
    table = lines[header + 1 : lines.index("", header)]
    # every row's DECIDED column starts where the header's does
    col = table[0].index("DECIDED")
    assert all(row[col:].split()[0] in {"DECIDED", "on-device", "server"} for row in table)
    assert any(row.split()[0] == "remote-only-mbox-a" and row[col:].startswith("server") for row in table)
    assert "Rules of mbox mbox-feature-flags (2)" in out  # --rules lists each rule
    assert "Response tokens (11)" in out


def test_inspect_reads_rules_bin_with_the_organization_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules_bin = tmp_path / "rules.bin"
    rules_bin.write_bytes(obfuscate_artifact(ARTIFACT.read_bytes(), organization_id=ORG))
    s = run_json(capsys, "artifact", "inspect", str(rules_bin), "--organization-id", ORG)
    assert s["counts"]["rules"] == 152

    code, out, err = run(capsys, "artifact", "inspect", str(rules_bin))
    assert (code, out) == (2, "")
    assert "--organization-id" in err and err.count("\n") == 1

    code, _, err = run(capsys, "artifact", "inspect", str(rules_bin), "--organization-id", "WRONG@AdobeOrg")
    assert code == 2 and "organization" in err and err.count("\n") == 1


@pytest.fixture(scope="module")
def artifact_server() -> Iterator[str]:
    body = ARTIFACT.read_bytes()

    async def rules(request: Request) -> Response:
        return Response(body, media_type="application/json")

    async def missing(request: Request) -> Response:
        return Response("nope", status_code=404)

    app = Starlette(routes=[Route("/acme/production/v1/rules.json", rules), Route("/gone/rules.json", missing)])
    with serve(app) as url:
        yield url


def test_inspect_and_diff_fetch_a_url(artifact_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"{artifact_server}/acme/production/v1/rules.json"
    s = run_json(capsys, "artifact", "inspect", url)
    assert (s["source"], s["counts"]["rules"]) == (url, 152)
    d = run_json(capsys, "artifact", "diff", str(ARTIFACT), url)
    assert d["identical"] is True

    code, out, err = run(capsys, "artifact", "inspect", f"{artifact_server}/gone/rules.json")
    assert (code, out) == (2, "")
    assert "HTTP 404" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.json", None, "no such file"),
        ("broken.json", '{"version": "1.0.0", "rules": ', "not valid JSON"),
        ("empty.json", "", "empty"),
        ("list.json", "[1, 2]", "must be a JSON object"),
        ("unsupported.json", (FIXTURES / "TEST_ARTIFACT_UNSUPPORTED.json").read_text(), "version 99.0.0"),
        ("operator.json", "OPERATOR", "unknown JSON Logic operator 'frobnicate'"),
        ("norules.json", '{"version": "1.0.0"}', "no rules"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], real: dict[str, Any], name: str, content: Any, expected: str
) -> None:
    if content == "OPERATOR":
        bad = copy.deepcopy(real)
        bad["rules"]["mboxes"]["mbox-macros"][0]["condition"] = {"frobnicate": [1]}
        content = json.dumps(bad)
    path = str(tmp_path / name) if content is None else write(tmp_path, name, content)
    for argv in (["inspect", path], ["inspect", path, "--json"], ["diff", str(ARTIFACT), path]):
        code, out, err = run(capsys, "artifact", *argv)
        assert (code, out) == (2, ""), argv
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith(f"target-async artifact {argv[0]}: {path}: ")
        assert expected in err
    if content == "OPERATOR":
        assert "mbox-macros" in err  # names where the bad rule is


# --- diff ------------------------------------------------------------------------------------------------------


def test_diff_of_an_artifact_with_itself_is_empty(capsys: pytest.CaptureFixture[str]) -> None:
    d = run_json(capsys, "artifact", "diff", str(ARTIFACT), str(ARTIFACT))
    assert list(d) == [
        "format",
        "a",
        "b",
        "identical",
        "activities",
        "mboxes",
        "views",
        "rules",
        "offers",
        "settings",
        "meta",
    ]
    assert d["identical"] is True
    assert d["rules"] == {"added": [], "removed": [], "changed": []}
    code, out, _ = run(capsys, "artifact", "diff", "--exit-code", str(ARTIFACT), str(ARTIFACT))
    assert code == 0 and out.rstrip().endswith("No differences.")


@pytest.fixture
def changed(tmp_path: Path, real: dict[str, Any]) -> str:
    new = copy.deepcopy(real)
    del new["rules"]["mboxes"]["mbox-macros"]  # activity 125891 removed (its mbox stays listed as local)
    new["rules"]["mboxes"]["mbox-magician"][0]["consequence"]["options"][0]["content"] = "new content"
    new["rules"]["mboxes"]["mbox-params"][2]["condition"] = {"==": [1, 1]}
    new["rules"]["views"]["home"][0]["consequence"]["options"][0]["eventToken"] = "another-token"
    added = copy.deepcopy(real["rules"]["mboxes"]["super-duper"][0])
    added.update(activityId=999, ruleKey="999")
    added["meta"].update({"activity.id": 999, "activity.name": "Brand new"})
    new["rules"]["mboxes"]["brand-new"] = [added]
    new["remoteMboxes"] = ["brand-new"]
    new["geoTargetingEnabled"] = False
    return write(tmp_path, "new.json", new)


def test_diff_json_lists_what_changed(changed: str, capsys: pytest.CaptureFixture[str]) -> None:
    d = run_json(capsys, "artifact", "diff", str(ARTIFACT), changed)
    assert d["identical"] is False
    acts = d["activities"]
    assert acts["added"] == [{"id": 999, "name": "Brand new", "type": "ab"}]
    assert acts["removed"] == [{"id": 125891, "name": "[unit-test] mbox-macros", "type": "ab"}]
    assert {a["id"]: a["changes"] for a in acts["changed"]} == {
        125873: ["rule content"],
        125900: ["rule event_tokens"],
        147386: ["rule condition"],
    }
    assert d["mboxes"]["added"] == ["brand-new"] and d["mboxes"]["removed"] == []
    assert {m["name"]: (m["rules_a"], m["rules_b"]) for m in d["mboxes"]["changed"]} == {
        "mbox-macros": (2, 0),
        "mbox-magician": (2, 2),
        "mbox-params": (3, 3),
    }
    rules = d["rules"]
    assert [(r["location"], r["rule_key"]) for r in rules["added"]] == [("brand-new", "999")]
    assert [(r["location"], r["experience_name"]) for r in rules["removed"]] == [
        ("mbox-macros", "Experience A"),
        ("mbox-macros", "Experience B"),
    ]
    assert {(r["location"], tuple(r["fields"])) for r in rules["changed"]} == {
        ("mbox-magician", ("content",)),
        ("mbox-params", ("condition",)),
        ("home", ("event_tokens",)),
    }
    [offer] = d["offers"]["content_changed"]
    assert (offer["location"], offer["offer_id_a"], offer["offer_id_b"]) == ("mbox-magician", 246850, 246850)
    settings = {s["name"]: s for s in d["settings"]}
    assert settings["remote_mboxes"]["added"] == ["brand-new"]
    assert (settings["geo_targeting_enabled"]["a"], settings["geo_targeting_enabled"]["b"]) == (True, False)


def test_diff_text_and_exit_code(changed: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "artifact", "diff", str(ARTIFACT), changed)
    assert (code, err) == (0, "")
    assert "Activities: 1 added, 1 removed, 3 changed" in out
    assert "  + 999     ab  Brand new" in out
    assert "  - 125891  ab  [unit-test] mbox-macros" in out
    assert "Offers/content: 1 changed" in out
    assert "remote_mboxes          +brand-new" in out
    code, _, _ = run(capsys, "artifact", "diff", "--exit-code", str(ARTIFACT), changed)
    assert code == 1


def test_diff_refuses_standard_input_twice(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "artifact", "diff", "-", "-")
    assert (code, out) == (2, "") and "only one" in err


def test_text_output_escapes_control_characters_from_the_artifact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], real: dict[str, Any]
) -> None:
    hostile = copy.deepcopy(real)
    hostile["rules"]["mboxes"]["mbox-macros"][0]["meta"]["activity.name"] = "evil\x1b[2J\x07name"
    code, out, _ = run(capsys, "artifact", "inspect", write(tmp_path, "hostile.json", hostile))
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out
    assert "evil\\x1b[2J\\x07name" in out


def test_inspect_reads_standard_input(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(ARTIFACT.read_bytes())))
    s = run_json(capsys, "artifact", "inspect", "-")
    assert (s["source"], s["counts"]["rules"]) == ("-", 152)


def test_diff_sees_a_change_of_rule_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], real: dict[str, Any]
) -> None:
    reordered = copy.deepcopy(real)
    reordered["rules"]["mboxes"]["mbox-prioritized"].reverse()  # same rules, other priorities
    d = run_json(capsys, "artifact", "diff", str(ARTIFACT), write(tmp_path, "reordered.json", reordered))
    assert d["identical"] is False
    assert d["rules"] == {"added": [], "removed": [], "changed": []}
    assert d["mboxes"]["changed"] == [
        {"name": "mbox-prioritized", "changes": ["rule order"], "rules_a": 6, "rules_b": 6}
    ]
