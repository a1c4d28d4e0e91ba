"""create_app(artifact=...) (issue #13): a real Target artifact in every accepted form, refused at start when it
cannot be used (a typed error naming what is wrong); and the fixtures compiled into an artifact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from target_async.decisioning import ArtifactError, UnsupportedArtifactError, load_artifact, obfuscate_artifact
from target_async.emulator import ArtifactError as ExportedArtifactError, compile_fixtures, create_app

VECTORS = Path(__file__).resolve().parents[1] / "data" / "on-device"
REAL = VECTORS / "artifact.json"
ORG = "65453EA95A70434F0A495D34@AdobeOrg"


def published(app: Any) -> Any:
    return app.state.emulator.rules.current


@pytest.mark.parametrize("form", ["path", "str-path", "dict", "text", "bytes"])
def test_a_real_artifact_is_loaded_from_every_form(form: str) -> None:
    raw = REAL.read_bytes()
    source: Any = {
        "path": REAL,
        "str-path": str(REAL),
        "dict": json.loads(raw),
        "text": raw.decode(),
        "bytes": raw,
    }[form]
    current = published(create_app(artifact=source))
    assert current.client == "targettesting"  # from meta.clientCode
    assert current.source == "artifact"
    assert current.artifact.payload == json.loads(raw)
    if form != "dict":
        assert current.body == raw  # served byte for byte as given


def test_a_rules_bin_artifact_needs_and_uses_the_organization_id(tmp_path: Path) -> None:
    data = obfuscate_artifact(REAL.read_bytes(), organization_id=ORG, key="k" * 32)
    path = tmp_path / "rules.bin"
    path.write_bytes(data)
    current = published(create_app(artifact=path, organization_id=ORG))
    assert current.artifact.payload == json.loads(REAL.read_bytes())
    assert load_artifact(current.bin_body, organization_id=ORG).payload == current.artifact.payload
    with pytest.raises(ArtifactError, match="organization id|not valid JSON"):
        create_app(artifact=data, organization_id="someone-else@AdobeOrg")


def test_client_and_organization_id_options_win_over_the_artifact_meta() -> None:
    current = published(create_app(artifact=REAL, client="acme", organization_id="ACME@AdobeOrg"))
    assert (current.client, current.organization_id) == ("acme", "ACME@AdobeOrg")


@pytest.mark.parametrize(
    ("source", "error", "needle"),
    [
        ("/no/such/rules.json", ArtifactError, "'/no/such/rules.json' cannot be read"),
        ("{not json", ArtifactError, "not valid JSON"),
        (b"[1, 2]", ArtifactError, "JSON object"),
        ({"version": "2.0.0", "rules": {}}, UnsupportedArtifactError, "version 2.0.0"),
        ({"version": "1.0.0"}, ArtifactError, "no rules"),
        (
            {"version": "1.0.0", "rules": {"mboxes": {"m": [{"ruleKey": "k9", "condition": {"bogus": []}}]}}},
            ArtifactError,
            "'k9'",
        ),
        ({"version": "1.0.0", "rules": {}, "meta": {"organizationId": ""}}, ArtifactError, "organizationId"),
        (42, ArtifactError, "not int"),
    ],
)
def test_an_unusable_artifact_is_refused_at_start(source: Any, error: type[Exception], needle: str) -> None:
    with pytest.raises(error) as caught:
        create_app(artifact=source)
    assert needle in str(caught.value)
    assert "cannot be used" in str(caught.value) or "cannot be read" in str(caught.value) or needle == "not int"
    assert ExportedArtifactError is ArtifactError


def test_an_artifact_file_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="cannot be read"):
        create_app(artifact=tmp_path)


@pytest.mark.parametrize(
    ("options", "needle"),
    [({"client": "a/b"}, "client"), ({"organization_id": ""}, "organization_id"), ({"geo": {"x": {}}}, "'x'")],
)
def test_bad_options_are_refused_at_start(options: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        create_app(**options)


# ------------------------------------------------------------------------------------------------ compiling


def test_weights_compile_into_allocation_ranges_in_order() -> None:
    fixtures = {
        "mboxes": {
            "m": {
                "experiences": [
                    {"name": "A", "weight": 1, "options": [{"content": "a"}]},
                    {"name": "Never", "weight": 0, "options": [{"content": "never"}]},
                    {"name": "B", "weight": 2, "options": [{"content": "b"}]},
                ]
            }
        }
    }
    artifact = compile_fixtures(fixtures, client="c", organization_id="o")
    rules = artifact["rules"]["mboxes"]["m"]
    alloc = {"var": "allocation"}
    assert [r["condition"] for r in rules] == [
        {"and": [{"<=": [0, alloc]}, {">=": [33.33, alloc]}]},
        {"and": [{"<": [33.33, alloc]}, {">=": [100, alloc]}]},
    ]
    assert [r["meta"]["experience.name"] for r in rules] == ["A", "B"]
    assert [r["meta"]["experience.id"] for r in rules] == [0, 2]
    assert len({r["ruleKey"] for r in rules}) == 2
    load_artifact(artifact)  # the engine reads it


def test_option_response_tokens_become_meta_and_artifact_tokens() -> None:
    fixtures = {"views": {"v": {"experiences": [{"options": [{"content": "x", "responseTokens": {"team": "a"}}]}]}}}
    artifact = compile_fixtures(fixtures, client="c", organization_id="o")
    assert "team" in artifact["responseTokens"]
    (rule,) = artifact["rules"]["views"]["v"]
    assert rule["meta"]["team"] == "a" and rule["meta"]["location.type"] == "view"


@pytest.mark.parametrize(
    ("fixtures", "needle"),
    [
        ({"mboxes": []}, "mboxes must be an object"),
        ({"mboxes": {"m": {"experiences": {}}}}, "mboxes.m.experiences must be an array"),
        ({"mboxes": {"m": {"remote": "yes", "experiences": []}}}, "mboxes.m.remote"),
        ({"mboxes": {"target-global-mbox": {"experiences": []}}}, "pageLoad"),
        ({"pageLoad": {"remote": True, "experiences": []}}, "pageLoad.remote"),
        ({"views": {"v": {"experiences": [{"options": [{"content": 1, "type": "bogus"}]}]}}}, "options[0].type"),
        ({"views": {"v": {"experiences": [{"weight": float("inf")}]}}}, "weight"),
    ],
)
def test_invalid_fixtures_are_refused_naming_the_path(fixtures: Any, needle: str) -> None:
    with pytest.raises(ValueError, match="invalid Delivery fixtures") as caught:
        create_app(fixtures=fixtures)
    assert needle in str(caught.value)


def test_the_notification_log_is_bounded_by_count_and_size() -> None:
    from target_async.emulator._delivery import NotificationLog

    log = NotificationLog(limit=3, max_bytes=10_000)
    log.record([{"n": i} for i in range(5)])
    snap = log.snapshot()
    assert [e["n"] for e in snap["notifications"]] == [2, 3, 4]
    assert (snap["total"], snap["dropped"]) == (5, 2)
    log.record([{"big": "x" * 6_000}, {"big": "y" * 6_000}])
    snap = log.snapshot()
    assert [e.get("big", "")[:1] for e in snap["notifications"]] == ["y"]  # the first big one no longer fits
    log.clear()
    assert log.snapshot() == {"notifications": [], "total": 0, "dropped": 0}
