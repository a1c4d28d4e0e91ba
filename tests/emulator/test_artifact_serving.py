"""The emulator as Target's CDN (issue #13): rules.json/rules.bin with ETag/304 and x-geo headers, /v1/geo, and
the admin routes that publish artifacts, set the geo table and read received notifications. Real loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from target_async.decisioning import load_artifact
from target_async.emulator import create_app
from target_async.testing import serve

ORG = "EMULATOR0000000000000000@AdobeOrg"
RULES = "/emulator/production/v1/rules.json"
QUERY = {"imsOrgId": ORG, "sessionId": "s-1"}
FIXTURES: dict[str, Any] = {
    "mboxes": {
        "hero": {
            "experiences": [
                {"name": "A", "weight": 50, "options": [{"content": {"color": "red"}}]},
                {"name": "B", "weight": 50, "options": [{"content": "<b>blue</b>"}]},
            ]
        },
        "checkout": {"remote": True, "experiences": [{"name": "S", "options": [{"content": "server only"}]}]},
    },
    "views": {"home": {"experiences": [{"name": "H", "options": [{"content": "<i>home</i>"}]}]}},
}
PARIS = {"latitude": 48.8566, "longitude": 2.3522, "countryCode": "FR", "stateCode": "IDF", "city": "PARIS"}
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    app = create_app(fixtures=FIXTURES, geo={"203.0.113.7": PARIS})
    with serve(app) as url:
        yield url


@pytest.fixture
def http(base: str) -> Iterator[httpx.Client]:
    """A client of the module's emulator, put back in its first state (through the admin routes)."""
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.delete("/_emulator/artifact").status_code == 200
        assert client.post("/_emulator/fixtures", json=FIXTURES).status_code == 200
        assert client.post("/_emulator/geo", json={"table": {"203.0.113.7": PARIS}, "replace": True}).is_success
        assert client.delete("/_emulator/notifications").is_success
        assert client.delete("/_emulator/faults").is_success
        yield client


def deliver(http: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    answer = http.post("/rest/v1/delivery", params=QUERY, json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def hero_content(http: httpx.Client, tnt: str) -> Any:
    body = {"id": {"tntId": tnt}, "execute": {"mboxes": [{"index": 0, "name": "hero"}]}}
    mbox = deliver(http, body)["execute"]["mboxes"][0]
    return mbox["options"][0]["content"] if mbox.get("options") else None


# ------------------------------------------------------------------------------------------------ rules.json


def test_rules_json_is_the_compiled_fixtures_with_an_etag(http: httpx.Client) -> None:
    answer = http.get(RULES)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    etag = answer.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 10
    artifact = answer.json()
    assert artifact["version"] == "1.0.0"
    assert artifact["meta"]["clientCode"] == "emulator" and artifact["meta"]["organizationId"] == ORG
    assert artifact["localMboxes"] == ["hero", "target-global-mbox"]
    assert artifact["remoteMboxes"] == ["checkout"] and "checkout" not in artifact["rules"]["mboxes"]
    assert artifact["localViews"] == ["home"]
    first, second = artifact["rules"]["mboxes"]["hero"]
    alloc = {"var": "allocation"}
    assert first["condition"] == {"and": [{"<=": [0, alloc]}, {">=": [50, alloc]}]}
    assert second["condition"] == {"and": [{"<": [50, alloc]}, {">=": [100, alloc]}]}
    assert first["activityId"] == second["activityId"] == first["meta"]["activity.id"]
    assert [first["meta"]["experience.name"], second["meta"]["experience.name"]] == ["A", "B"]
    assert first["consequence"]["options"][0]["content"] == {"color": "red"}
    assert first["consequence"]["options"][0]["eventToken"]
    # the engine reads it
    assert load_artifact(answer.content).rule_count == 3


def test_if_none_match_gets_a_304_and_other_tags_get_the_artifact(http: httpx.Client) -> None:
    etag = http.get(RULES).headers["etag"]
    for tag in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        answer = http.get(RULES, headers={"If-None-Match": tag})
        assert answer.status_code == 304, tag
        assert answer.headers["etag"] == etag and answer.content == b""
    assert http.get(RULES, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_property_token_and_environment_paths_serve_the_artifact(http: httpx.Client) -> None:
    body = http.get(RULES).content
    assert http.get("/emulator/staging/v1/rules.json").content == body
    assert http.get("/emulator/production/v1/some-property-token/rules.json").content == body


def test_another_client_gets_a_404_naming_the_client_served(http: httpx.Client) -> None:
    answer = http.get("/acme/production/v1/rules.json")
    assert answer.status_code == 404
    assert "'emulator'" in answer.json()["message"] and "'acme'" in answer.json()["message"]


def test_rules_bin_is_the_artifact_obfuscated_with_the_organization_id(http: httpx.Client) -> None:
    text = http.get(RULES)
    answer = http.get("/emulator/production/v1/rules.bin")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.content[:4] == b"TGT:" and answer.content[40:] != text.content
    assert load_artifact(answer.content, organization_id=ORG).payload == text.json()
    assert answer.headers["etag"] != text.headers["etag"]
    again = http.get("/emulator/production/v1/rules.bin", headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304


def test_rules_carry_the_x_geo_headers_of_the_caller(http: httpx.Client) -> None:
    located = http.get(RULES, headers={"x-forwarded-for": "203.0.113.7, 10.0.0.1"})
    assert located.headers["x-geo-country-code"] == "FR"
    assert located.headers["x-geo-region-code"] == "IDF"
    assert located.headers["x-geo-city"] == "PARIS"
    assert float(located.headers["x-geo-latitude"]) == 48.8566
    assert float(located.headers["x-geo-longitude"]) == 2.3522
    unknown = http.get(RULES, headers={"x-forwarded-for": "198.51.100.1"})
    assert not [h for h in unknown.headers if h.startswith("x-geo-")]


# ---------------------------------------------------------------------------------------------------- geo


def test_geo_answers_from_the_table(http: httpx.Client) -> None:
    answer = http.get("/v1/geo", headers={"x-forwarded-for": "203.0.113.7"})
    assert answer.status_code == 200
    assert answer.headers["x-geo-city"] == "PARIS"
    assert answer.json() == {"ip": "203.0.113.7", **PARIS}
    unknown = http.get("/v1/geo", headers={"x-forwarded-for": "198.51.100.1"})
    assert unknown.status_code == 200 and unknown.json() == {"ip": "198.51.100.1"}
    assert not [h for h in unknown.headers if h.startswith("x-geo-")]
    bad = http.get("/v1/geo", headers={"x-forwarded-for": "not-an-ip"})
    assert bad.status_code == 400 and "not-an-ip" in bad.json()["message"]


def test_geo_admin_sets_replaces_and_clears_the_table(http: httpx.Client) -> None:
    assert http.get("/_emulator/geo").json() == {"table": {"203.0.113.7": PARIS}}
    added = http.post("/_emulator/geo", json={"2001:DB8::1": {"countryCode": "DE", "city": "BERLIN"}})
    assert added.status_code == 200
    assert added.json()["table"]["2001:db8::1"] == {"countryCode": "DE", "city": "BERLIN"}  # normalized
    assert http.get("/v1/geo", headers={"x-forwarded-for": "2001:db8:0::1"}).headers["x-geo-city"] == "BERLIN"
    replaced = http.post("/_emulator/geo", json={"table": {"192.0.2.1": {"city": "ROME"}}, "replace": True})
    assert replaced.json() == {"table": {"192.0.2.1": {"city": "ROME"}}}
    assert http.delete("/_emulator/geo").json() == {"table": {}}
    assert not [h for h in http.get("/v1/geo", headers={"x-forwarded-for": "192.0.2.1"}).headers if "geo" in h]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"nope": {"city": "X"}}, "'nope'"),
        ({"192.0.2.1": {"town": "X"}}, "town"),
        ({"192.0.2.1": {"latitude": "north"}}, "latitude"),
        ({"192.0.2.1": {"city": ""}}, "city"),
        ({"192.0.2.1": "X"}, "must be an object"),
        ([1], "IP address -> geo"),
    ],
)
def test_geo_admin_refuses_bad_entries_and_keeps_the_table(http: httpx.Client, body: Any, needle: str) -> None:
    answer = http.post("/_emulator/geo", json=body)
    assert answer.status_code == 400
    assert needle in answer.json()["detail"]
    assert http.get("/_emulator/geo").json() == {"table": {"203.0.113.7": PARIS}}


def test_admin_routes_keep_the_cross_site_rules(http: httpx.Client) -> None:
    for method, path in (
        ("POST", "/_emulator/geo"),
        ("POST", "/_emulator/artifact"),
        ("GET", "/_emulator/notifications"),
    ):
        answer = http.request(method, path, json={}, headers={"Origin": "https://evil.example"})
        assert answer.status_code == 403, path
    plain = http.post("/_emulator/artifact", content=b"{}", headers={"content-type": "text/plain"})
    assert plain.status_code == 415


# ----------------------------------------------------------------------------------------------- publishing


def test_publishing_an_artifact_changes_the_etag_and_the_decisions(http: httpx.Client) -> None:
    before = http.get(RULES).headers["etag"]
    artifact = http.get("/_emulator/artifact").json()["artifact"]
    for rule in artifact["rules"]["mboxes"]["hero"]:
        rule["consequence"]["options"][0]["content"] = "<p>new</p>"
    published = http.post("/_emulator/artifact", json=artifact)
    assert published.status_code == 200
    summary = published.json()
    assert summary["etag"] != before and summary["source"] == "artifact"
    assert summary["location"] == RULES
    answer = http.get(RULES, headers={"If-None-Match": before})
    assert answer.status_code == 200 and answer.headers["etag"] == summary["etag"]
    assert hero_content(http, "visitor-1") == "<p>new</p>"
    # the fixtures still decide what the artifact marks remote
    assert (
        deliver(http, {"execute": {"mboxes": [{"name": "checkout"}]}})["execute"]["mboxes"][0]["options"][0]["content"]
        == "server only"
    )


@pytest.mark.parametrize(
    ("artifact", "needle"),
    [
        ({"rules": {}}, "no version"),
        ({"version": "2.0.0", "rules": {}}, "version 2.0.0"),
        ({"version": "1.0.0"}, "no rules"),
        ({"version": "1.0.0", "rules": {"mboxes": {"m": [{"ruleKey": "r1", "consequence": {}}]}}}, "'r1'"),
        ({"version": "1.0.0", "rules": {"mboxes": {"m": [{"condition": {"nope": [1]}, "consequence": {}}]}}}, "nope"),
        ({"version": "1.0.0", "rules": {}, "localMboxes": "m"}, "localMboxes"),
        ({"version": "1.0.0", "rules": {}, "meta": {"clientCode": 7}}, "clientCode"),
        ([1, 2], "JSON object"),
    ],
)
def test_an_invalid_artifact_is_refused_and_the_old_one_keeps_serving(
    http: httpx.Client, artifact: Any, needle: str
) -> None:
    before = http.get(RULES)
    decided = hero_content(http, "visitor-1")
    answer = http.post("/_emulator/artifact", json=artifact)
    assert answer.status_code == 422, answer.text
    assert needle in answer.json()["detail"] and "previous one still serves" in answer.json()["detail"]
    after = http.get(RULES)
    assert after.headers["etag"] == before.headers["etag"] and after.content == before.content
    assert hero_content(http, "visitor-1") == decided


@pytest.mark.parametrize("raw", [b"", b"{", b"nul", b'{"version": NaN}', b"\xff\xfe"])
def test_unreadable_admin_bodies_are_a_400(http: httpx.Client, raw: bytes) -> None:
    for path in ("/_emulator/artifact", "/_emulator/fixtures", "/_emulator/geo"):
        assert http.post(path, content=raw, headers=JSON).status_code == 400, (path, raw)


def test_publishing_fixtures_compiles_them(http: httpx.Client) -> None:
    fixtures = {"mboxes": {"hero": {"experiences": [{"name": "Only", "options": [{"content": "one"}]}]}}}
    answer = http.post("/_emulator/fixtures", json=fixtures)
    assert answer.status_code == 200 and answer.json()["source"] == "fixtures"
    assert answer.json()["localMboxes"] == ["hero", "target-global-mbox"]
    assert hero_content(http, "anyone") == "one"
    bad = http.post("/_emulator/fixtures", json={"mboxes": {"hero": {"experiences": [{"weight": -1}]}}})
    assert bad.status_code == 422 and "mboxes.hero.experiences[0].weight" in bad.json()["detail"]
    assert hero_content(http, "anyone") == "one"


def test_withdrawing_the_artifact_serves_the_fixtures_again(http: httpx.Client) -> None:
    compiled = http.get(RULES).content
    artifact = json.loads(compiled)
    artifact["rules"]["mboxes"]["hero"] = artifact["rules"]["mboxes"]["hero"][:1]
    assert http.post("/_emulator/artifact", json=artifact).json()["source"] == "artifact"
    assert http.get(RULES).content != compiled
    assert http.delete("/_emulator/artifact").json()["source"] == "fixtures"
    assert json.loads(http.get(RULES).content)["rules"] == json.loads(compiled)["rules"]


def test_artifact_admin_shows_what_is_served(http: httpx.Client) -> None:
    shown = http.get("/_emulator/artifact").json()
    served = http.get(RULES)
    assert shown["etag"] == served.headers["etag"] and shown["artifact"] == served.json()
    assert shown["client"] == "emulator" and shown["organizationId"] == ORG
    assert shown["remoteMboxes"] == ["checkout"] and shown["rules"] == {"mboxes": 2, "views": 1}
    assert http.get("/_emulator/health").json()["artifact"] == shown["etag"]


# ----------------------------------------------------------------------------------------------- delivery


def test_remote_mboxes_are_decided_from_fixtures_or_answered_blank() -> None:
    artifact = json.loads((Path(__file__).parents[1] / "data/on-device/artifact.json").read_text())
    artifact["remoteMboxes"] = ["only-on-the-server", "from-fixtures"]
    fixtures = {"mboxes": {"from-fixtures": {"experiences": [{"options": [{"content": "fixture"}]}]}}}
    with serve(create_app(artifact=artifact, fixtures=fixtures)) as url, httpx.Client(base_url=url) as http:
        body = {"execute": {"mboxes": [{"name": "only-on-the-server"}, {"name": "from-fixtures"}]}}
        answer = http.post("/rest/v1/delivery", params=QUERY, json=body).json()
        assert answer["status"] == 200 and answer["client"] == "targettesting"
        blank, fixture = answer["execute"]["mboxes"]
        assert blank == {"index": 0, "name": "only-on-the-server"}
        assert fixture["options"][0]["content"] == "fixture"
        assert fixture["options"][0]["responseTokens"]["activity.decisioningMethod"] == "server-side"
        served = http.get("/targettesting/production/v1/rules.json").json()
        assert "from-fixtures" not in served["rules"]["mboxes"]  # the served artifact is the one given


def test_notifications_are_recorded_for_the_admin_route(http: httpx.Client) -> None:
    note = {"id": "n-1", "type": "display", "timestamp": 1, "mbox": {"name": "hero"}, "tokens": ["tok-1"]}
    answer = deliver(http, {"id": {"tntId": "v-1"}, "notifications": [note, {"id": "n-2", "type": "click"}]})
    assert answer["notifications"] == [{"id": "n-1"}, {"id": "n-2"}]
    log = http.get("/_emulator/notifications").json()
    assert log["total"] == 2 and log["dropped"] == 0
    first = log["notifications"][0]
    assert first["notification"] == note
    assert first["sessionId"] == "s-1" and first["imsOrgId"] == ORG and first["id"] == {"tntId": "v-1"}
    assert isinstance(first["receivedAt"], int)
    assert http.delete("/_emulator/notifications").json() == {"notifications": [], "total": 0, "dropped": 0}
    deliver(http, {"notifications": [note]})
    http.post("/_emulator/reset", json={})
    assert http.get("/_emulator/notifications").json()["total"] == 0


def test_faults_target_the_artifact_and_geo_routes_by_name(http: httpx.Client) -> None:
    faults = {"bursts": [{"route": "artifact", "status": 503, "count": 2}, {"route": "GET geo", "status": 502}]}
    assert http.post("/_emulator/faults", json=faults).status_code == 200
    assert http.get(RULES).status_code == 503
    assert http.get("/emulator/production/v1/tok/rules.bin").status_code == 503
    assert http.get(RULES).status_code == 200
    assert http.get("/v1/geo", headers={"x-forwarded-for": "203.0.113.7"}).status_code == 502
    assert hero_content(http, "v") is not None  # other routes are not affected
