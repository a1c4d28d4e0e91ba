"""Hostile input to the artifact routes (issue #13) never gets a 500: random artifacts and fixtures published
through the admin routes (refused with a 4xx, or published and then decided without failing), random geo tables,
and random conditional and forwarding headers on the CDN routes."""

from __future__ import annotations

import asyncio
import json as _json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from target_async.emulator import create_app

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
QUERY = {"imsOrgId": "o@AdobeOrg", "sessionId": "s"}
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
VAR = st.sampled_from(["allocation", "mbox.a", "page.url", "user.browserType", "geo.city", "current_day", "x.y"])
LOGIC = st.recursive(
    st.booleans() | st.integers(-5, 105) | st.text(max_size=4) | st.builds(lambda v: {"var": v}, VAR),
    lambda children: st.builds(
        lambda op, args: {op: args},
        st.sampled_from(["and", "or", "==", "<", "<=", ">", "in", "!", "var", "bogus", "substr", "+"]),
        st.lists(children, max_size=3),
    ),
    max_leaves=8,
)
OPTION = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["html", "json", "actions", "redirect", 3]),
        "content": JSONISH,
        "eventToken": st.one_of(st.text(max_size=6), st.integers()),
        "responseTokens": JSONISH,
    },
)
RULE = st.fixed_dictionaries(
    {"condition": LOGIC},
    optional={
        "ruleKey": st.one_of(st.text(max_size=4), st.integers()),
        "activityId": st.one_of(st.integers(), st.text(max_size=4), st.none()),
        "meta": st.one_of(JSONISH, st.dictionaries(st.sampled_from(["activity.id", "experience.id"]), JSONISH)),
        "propertyTokens": st.one_of(st.lists(st.text(max_size=3), max_size=2), JSONISH),
        "consequence": st.one_of(
            JSONISH,
            st.fixed_dictionaries(
                {}, optional={"name": JSONISH, "options": st.lists(OPTION, max_size=2), "metrics": JSONISH}
            ),
        ),
    },
)
NAMES = st.sampled_from(["m", "n", "target-global-mbox", "v"])
ARTIFACT = st.fixed_dictionaries(
    {},
    optional={
        "version": st.sampled_from(["1.0.0", "1", "2.0.0", 1, None, "x"]),
        "meta": st.one_of(JSONISH, st.fixed_dictionaries({}, optional={"clientCode": JSONISH})),
        "globalMbox": JSONISH,
        "geoTargetingEnabled": JSONISH,
        "responseTokens": JSONISH,
        "localMboxes": st.one_of(st.lists(NAMES, max_size=3), JSONISH),
        "remoteMboxes": st.one_of(st.lists(NAMES, max_size=3), JSONISH),
        "localViews": st.one_of(st.lists(NAMES, max_size=3), JSONISH),
        "rules": st.one_of(
            JSONISH,
            st.fixed_dictionaries(
                {},
                optional={
                    "mboxes": st.dictionaries(NAMES, st.lists(RULE, max_size=3), max_size=3),
                    "views": st.one_of(st.dictionaries(NAMES, st.lists(RULE, max_size=2), max_size=2), JSONISH),
                },
            ),
        ),
    },
)
PLAUSIBLE = st.fixed_dictionaries(
    {
        "version": st.just("1.0.0"),
        "rules": st.fixed_dictionaries(
            {"mboxes": st.dictionaries(NAMES, st.lists(RULE, max_size=3), max_size=3)},
            optional={"views": st.dictionaries(NAMES, st.lists(RULE, max_size=2), max_size=2)},
        ),
    },
    optional={"localMboxes": st.lists(NAMES, max_size=3), "geoTargetingEnabled": st.booleans()},
)
EXPERIENCE = st.fixed_dictionaries(
    {},
    optional={
        "name": JSONISH,
        "weight": st.one_of(st.integers(-1, 5), st.floats(allow_nan=False, allow_infinity=False), JSONISH),
        "options": st.one_of(st.lists(OPTION, max_size=2), JSONISH),
        "metrics": JSONISH,
    },
)
LOCATION = st.one_of(
    JSONISH, st.fixed_dictionaries({"experiences": st.lists(EXPERIENCE, max_size=3)}, optional={"remote": JSONISH})
)
FIXTURES = st.fixed_dictionaries(
    {},
    optional={
        "mboxes": st.one_of(JSONISH, st.dictionaries(NAMES, LOCATION, max_size=2)),
        "views": st.one_of(JSONISH, st.dictionaries(NAMES, LOCATION, max_size=2)),
        "pageLoad": LOCATION,
    },
)
REQUEST = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(JSONISH, st.fixed_dictionaries({"tntId": st.text(max_size=6)})),
        "context": st.one_of(
            JSONISH,
            st.fixed_dictionaries(
                {"channel": st.sampled_from(["web", "mobile", "x"])},
                optional={"geo": JSONISH, "address": JSONISH, "userAgent": JSONISH},
            ),
        ),
        "execute": st.fixed_dictionaries(
            {}, optional={"mboxes": st.lists(st.fixed_dictionaries({"name": NAMES}), max_size=2), "pageLoad": JSONISH}
        ),
        "prefetch": st.fixed_dictionaries(
            {}, optional={"views": st.lists(JSONISH, max_size=2), "mboxes": JSONISH, "pageLoad": JSONISH}
        ),
        "property": JSONISH,
        "trace": JSONISH,
    },
)


class Client:
    """A synchronous face of an in-process ``httpx.AsyncClient`` over one emulator app (one event loop)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app()), base_url="http://localhost")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, *, json: Any, **kwargs: Any) -> httpx.Response:
        body = _json.dumps(json).encode()  # also for None (httpx would send no body)
        return self.request("POST", url, content=body, headers={"content-type": "application/json"}, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    http = Client()
    yield http
    http.close()


@SETTINGS
@given(artifact=st.one_of(ARTIFACT, PLAUSIBLE), request=REQUEST)
def test_random_artifacts_are_refused_or_published_and_decided(client: Client, artifact: Any, request: Any) -> None:
    before = client.get("/_emulator/artifact").json()["etag"]
    answer = client.post("/_emulator/artifact", json=artifact)
    event(f"published: {answer.status_code}")
    assert answer.status_code in (200, 422), answer.text
    if answer.status_code == 422:
        assert client.get("/_emulator/artifact").json()["etag"] == before
        return
    served = client.get(answer.json()["location"])
    assert served.status_code == 200 and served.headers["etag"] == answer.json()["etag"]
    decided = client.post("/rest/v1/delivery", params=QUERY, json=request)
    assert decided.status_code in (200, 400), decided.text


@SETTINGS
@given(fixtures=FIXTURES, request=REQUEST)
def test_random_fixtures_are_refused_or_published_and_decided(client: Client, fixtures: Any, request: Any) -> None:
    client.delete("/_emulator/artifact")
    answer = client.post("/_emulator/fixtures", json=fixtures)
    event(f"published: {answer.status_code}")
    assert answer.status_code in (200, 422), answer.text
    decided = client.post("/rest/v1/delivery", params=QUERY, json=request)
    assert decided.status_code in (200, 400), decided.text


@SETTINGS
@given(table=st.one_of(JSONISH, st.dictionaries(st.sampled_from(["192.0.2.1", "::1", "x"]), JSONISH, max_size=2)))
def test_random_geo_tables_are_refused_or_set(client: Client, table: Any) -> None:
    answer = client.post("/_emulator/geo", json=table)
    assert answer.status_code in (200, 400), answer.text


_HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@SETTINGS
@given(
    path=st.sampled_from(["/emulator/production/v1/rules.json", "/emulator/x/v1/tok/rules.bin", "/v1/geo"]),
    if_none_match=_HEADER_TEXT,
    forwarded=_HEADER_TEXT,
)
def test_random_cdn_headers(client: Client, path: str, if_none_match: str, forwarded: str) -> None:
    answer = client.get(path, headers={"If-None-Match": if_none_match, "x-forwarded-for": forwarded})
    assert answer.status_code in (200, 304, 400), answer.text
