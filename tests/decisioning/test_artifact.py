"""Loading artifacts: rules.json and rules.bin, what a loaded artifact exposes, and every way one is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from target_async import TargetError
from target_async.decisioning import (
    ArtifactError,
    DecisionEngine,
    UnsupportedArtifactError,
    load_artifact,
    obfuscate_artifact,
)

from .builders import artifact_dict, request, rule
from .vectors import REAL_ARTIFACT, artifact_text

ORG = "74F652E95F1B16FE0A495C92@AdobeOrg"
KEY = "0123456789abcdef0123456789ABCDEF"


def test_the_real_artifact_loads_with_its_facts() -> None:
    artifact = load_artifact(REAL_ARTIFACT.read_bytes())
    assert artifact.version == "1.0.0"
    assert artifact.meta["clientCode"] == "targettesting"
    assert artifact.global_mbox == "target-global-mbox"
    assert artifact.geo_targeting_enabled is True
    assert len(artifact.local_mboxes) == 22 and not artifact.remote_mboxes
    assert artifact.local_views == {"contact", "home"}
    assert artifact.mbox_rule_count == 128 and artifact.view_rule_count == 24 and artifact.rule_count == 152
    assert "activity.id" in artifact.response_tokens
    assert "rules=152" in repr(artifact)


@pytest.mark.parametrize("kind", ["bytes", "str", "mapping", "bytearray"])
def test_every_payload_form_loads(kind: str) -> None:
    raw = artifact_text("TEST_ARTIFACT_AB_SIMPLE")
    payload: Any = {
        "bytes": raw,
        "str": raw.decode(),
        "mapping": json.loads(raw),
        "bytearray": bytearray(raw),
    }[kind]
    artifact = load_artifact(payload)
    assert artifact.mbox_rule_count == 2


def test_older_artifacts_say_has_geo_targeting() -> None:
    assert load_artifact(artifact_text("TEST_ARTIFACT_BLANK")).geo_targeting_enabled is False
    old = {k: v for k, v in artifact_dict().items() if k != "geoTargetingEnabled"}
    assert load_artifact({**old, "hasGeoTargeting": True}).geo_targeting_enabled is True


def test_unknown_keys_are_tolerated() -> None:
    payload = artifact_dict({"m": [{**rule("r"), "futureKey": {"x": 1}}]}, somethingNew=[1, 2])
    payload["rules"]["futureSection"] = {"x": []}
    assert load_artifact(payload).mbox_rule_count == 1


def test_rules_bin_round_trip() -> None:
    raw = REAL_ARTIFACT.read_bytes()
    obfuscated = obfuscate_artifact(raw, organization_id=ORG, key=KEY)
    assert obfuscated[:40] == f"TGT:0001{KEY}".encode()
    assert raw[:200] not in obfuscated
    sniffed = load_artifact(obfuscated, organization_id=ORG)
    forced = load_artifact(obfuscated, organization_id=ORG, format="bin")
    plain = load_artifact(raw, format="json")
    for artifact in (sniffed, forced):
        assert artifact.rule_count == plain.rule_count == 152
        assert artifact.payload == plain.payload
    # decisions from the bin artifact are the JSON artifact's
    a = DecisionEngine(sniffed, client="targettesting").decide(request("mbox-magician"), now=1.6e9)
    b = DecisionEngine(plain, client="targettesting").decide(request("mbox-magician"), now=1.6e9)
    assert a.response.execute == b.response.execute


def test_rules_bin_with_the_wrong_organization_is_refused() -> None:
    obfuscated = obfuscate_artifact(artifact_text("TEST_ARTIFACT_AB_SIMPLE"), organization_id=ORG, key=KEY)
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_artifact(obfuscated, organization_id="someone-else@AdobeOrg")
    with pytest.raises(ArtifactError, match="organization id"):
        load_artifact(obfuscated)


def test_rules_bin_obfuscation_version_2_is_unsupported() -> None:
    obfuscated = obfuscate_artifact(b"{}", organization_id=ORG, key=KEY, version=2)
    with pytest.raises(UnsupportedArtifactError, match="obfuscation version 2 is not supported"):
        load_artifact(obfuscated, organization_id=ORG)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"TGT", "too short"),
        (b"TGT-0001" + KEY.encode() + b"xx", "'<prefix>:<version>'"),
        (b"TGT:000x" + KEY.encode() + b"xx", "no numeric version"),
        (b"TGT:0001" + "é".encode() * 16 + b"xxxx", "not ASCII"),
    ],
)
def test_bad_rules_bin_headers(data: bytes, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        load_artifact(data, organization_id=ORG, format="bin")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object, not list"),
        (artifact_text("TEST_ARTIFACT_UNSUPPORTED"), "version 99.0.0 is not supported"),
        ({**artifact_dict(), "version": "2.0"}, "version 2.0 is not supported"),
        ({k: v for k, v in artifact_dict().items() if k != "version"}, "has no version"),
        ({k: v for k, v in artifact_dict().items() if k != "rules"}, "has no rules"),
        ({**artifact_dict(), "rules": []}, "rules are not an object"),
        ({**artifact_dict(), "rules": {"mboxes": []}}, "rules.mboxes is not an object"),
        ({**artifact_dict(), "rules": {"mboxes": {"m": {}}}}, "rules of mbox 'm' are not a list"),
        ({**artifact_dict(), "localMboxes": "m"}, "localMboxes is not a list"),
        (artifact_dict({"m": [{"ruleKey": "k1", "consequence": {}}]}), "rule 'k1' of mbox 'm' has no condition"),
        (artifact_dict({"m": [{**rule("k2"), "consequence": None}]}), "rule 'k2' of mbox 'm' has no consequence"),
        ({**artifact_dict(), "rules": {"mboxes": {"m": ["x"]}}}, "a rule of mbox 'm' is not an object"),
        (artifact_dict({"m": [{**rule("k4"), "propertyTokens": True}]}), "propertyTokens must be a list"),
        (
            artifact_dict(views={"home": [rule("k3", {"regex_match": [{"var": "page.url"}, "x"]})]}),
            "rule 'k3' of view 'home'.*regex_match",
        ),
    ],
)
def test_bad_artifacts_name_what_is_wrong(payload: Any, message: str) -> None:
    with pytest.raises(ArtifactError, match=message) as caught:
        load_artifact(payload)
    assert isinstance(caught.value, TargetError) and isinstance(caught.value, ValueError)


def test_unsupported_artifact_errors_are_artifact_errors() -> None:
    with pytest.raises(ArtifactError):
        load_artifact(artifact_text("TEST_ARTIFACT_UNSUPPORTED"))
    with pytest.raises(ArtifactError, match="unknown artifact format"):
        load_artifact(b"{}", format="yaml")
    with pytest.raises(ArtifactError, match="must be given as bytes"):
        load_artifact("{}", format="bin")


def test_the_engine_wants_a_loaded_artifact() -> None:
    with pytest.raises(TypeError, match="load_artifact"):
        DecisionEngine({"version": "1.0.0"}, client="acme")  # type: ignore[arg-type]
