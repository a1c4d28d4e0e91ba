"""Server-side and on-device agree (issue #13): an AsyncTargetClient asking the emulator (server-side) and the same
client deciding on the device from the emulator's artifact give every visitor the same decisions. Real loopback
HTTP: the client downloads rules.json (or rules.bin), looks geo up at /v1/geo and sends its notifications to the
emulator; a published artifact reaches it through its poll."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from target_async import AsyncTargetClient
from target_async._serde import unstructure
from target_async.emulator import create_app
from target_async.errors import OnDeviceDisabledError
from target_async.testing import serve

ORG = "EMULATOR0000000000000000@AdobeOrg"
REAL = json.loads((Path(__file__).resolve().parents[1] / "data" / "on-device" / "artifact.json").read_text())
FIXTURES: dict[str, Any] = {
    "mboxes": {
        "hero": {
            "experiences": [
                {"name": "A", "weight": 50, "options": [{"content": {"color": "red"}}]},
                {"name": "B", "weight": 30, "options": [{"content": "<b>blue</b>"}]},
                {"name": "C", "weight": 20, "options": [{"content": "<i>green</i>"}], "metrics": [{"selector": "#c"}]},
            ]
        },
        "banner": {"experiences": [{"name": "Only", "options": [{"type": "json", "content": [1, 2]}]}]},
    },
    "views": {
        "home": {"experiences": [{"name": "H1", "options": [{"content": "h1"}]}, {"name": "H2", "options": []}]},
        "cart": {"experiences": [{"name": "C", "options": [{"content": {"cart": True}}]}]},
    },
    "pageLoad": {"experiences": [{"name": "P", "weight": 1, "options": [{"content": "p"}]}, {"name": "Q"}]},
}
GEO = {
    "203.0.113.7": {
        "latitude": 37.75,
        "longitude": -122.4,
        "countryCode": "US",
        "stateCode": "CA",
        "city": "SAN FRANCISCO",
    },
    "198.51.100.9": {"latitude": 43.65, "longitude": -79.38, "countryCode": "CA", "stateCode": "ON", "city": "TORONTO"},
}
HEAVY = {"100k", "250k", "500k", "1MB", "1MB2", "1MB3"}  # big offers: they would only slow the test down
REAL_MBOXES = sorted(set(REAL["localMboxes"]) - HEAVY - {REAL["globalMbox"]})
TOKENS = sorted({t for rules in REAL["rules"]["mboxes"].values() for r in rules for t in r.get("propertyTokens", [])})
URLS = [
    "http://local-target-test/",
    "https://www.example.com/products?cat=shoes#top",
    "http://local-target-test/?foo=bar",
    "https://shop.example.co.uk/a/b",
]
AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "curl/8.0",
]


class Setup:
    """One emulator on loopback, an event loop, and one on-device client of it."""

    def __init__(self, url: str, client: str, loop: asyncio.AbstractEventLoop, fmt: str = "json") -> None:
        self.url, self.loop = url, loop
        self.client = AsyncTargetClient(
            client=client,
            organization_id=ORG,
            server_domain=url.removeprefix("http://"),
            secure=False,
            decisioning_method="on-device",
            artifact_location=f"{url}/{client}/production/v1/rules.{fmt}",
            polling_interval=0,
            telemetry_enabled=False,
        )
        try:
            self.run(self.client.wait_until_ready(timeout=10))
        except BaseException:
            self.run(self.client.aclose())
            raise

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def both(self, request: dict[str, Any]) -> tuple[Any, Any]:
        server = await self.client.get_offers(request=request, session_id="s-1", decisioning_method="server-side")
        local = await self.client.get_offers(request=request, session_id="s-1")
        assert server.meta.decisioning_method == "server-side"
        assert local.meta.decisioning_method == "on-device"
        return server, local


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _setup(app: Any, client: str, loop: asyncio.AbstractEventLoop, fmt: str = "json") -> Iterator[Setup]:
    with serve(app) as url:
        setup = Setup(url, client, loop, fmt)
        try:
            yield setup
        finally:
            setup.run(setup.client.aclose())


@pytest.fixture(scope="module")
def real(loop: asyncio.AbstractEventLoop) -> Iterator[Setup]:
    yield from _setup(create_app(artifact=REAL, organization_id=ORG, geo=GEO), "targettesting", loop)


@pytest.fixture(scope="module")
def fixtures(loop: asyncio.AbstractEventLoop) -> Iterator[Setup]:
    yield from _setup(create_app(fixtures=FIXTURES), "emulator", loop, "bin")


def decisions(result: Any) -> dict[str, Any]:
    """What was decided: the execute and prefetch sections, without what says how (tokens, traces) and without
    empty lists (the engine answers ``views: []`` when no view matches; the emulator omits empty lists)."""
    response = unstructure(result.response)

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: (
                    {t: v for t, v in clean(x).items() if t != "activity.decisioningMethod"}
                    if k == "responseTokens"
                    else clean(x)
                )
                for k, x in value.items()
                if k not in ("trace", "analytics") and x != []
            }
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return {k: clean(response.get(k)) for k in ("execute", "prefetch")}


# ------------------------------------------------------------------------------------------------ strategies

names = st.text("abcdef0123456789", min_size=1, max_size=12)
visitors = st.one_of(
    st.builds(lambda t, s: {"tntId": t + s}, names, st.sampled_from(["", ".28_0", ".35_1"])),
    st.builds(lambda m: {"marketingCloudVisitorId": m}, names),
    st.builds(lambda p: {"thirdPartyId": p}, names),
    st.builds(lambda t, m: {"tntId": t, "marketingCloudVisitorId": m}, names, names),
)
parameters = st.dictionaries(
    st.sampled_from(["foo", "greg", "jason", "favorite.color", "favorite.movie", "first.programming.language"]),
    st.sampled_from(["bar", "correct", "Red", "The Big Lebowski", "Racket", "nope"]),
    max_size=3,
)
geos = st.one_of(
    st.none(),
    st.builds(lambda ip: {"ipAddress": ip}, st.sampled_from([*GEO, "192.0.2.200"])),
    st.builds(
        lambda c, city: {"countryCode": c, "city": city},
        st.sampled_from(["US", "CA", "FR"]),
        st.sampled_from(["TORONTO", "PARIS"]),
    ),
)


def requests(mbox_names: list[str], view_names: list[str], tokens: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    mboxes = st.lists(
        st.builds(
            lambda n, p: {"name": n, "parameters": p}, st.sampled_from([*mbox_names, "no-such-mbox"]), parameters
        ),
        min_size=1,
        max_size=3,
    )
    page_load = st.builds(lambda p: {"parameters": p}, parameters)
    views = st.sampled_from([[{}], *[[{"name": v}] for v in view_names]])

    @st.composite
    def build(draw: Any) -> dict[str, Any]:
        context: dict[str, Any] = {
            "channel": "web",
            "address": {"url": draw(st.sampled_from(URLS))},
            "userAgent": draw(st.sampled_from(AGENTS)),
        }
        geo = draw(geos)
        if geo is not None:
            context["geo"] = geo
        request: dict[str, Any] = {"id": draw(visitors), "context": context}
        section = draw(st.sampled_from(["execute", "prefetch", "both"]))
        if section in ("execute", "both"):
            request["execute"] = {"mboxes": draw(mboxes)}
            if draw(st.booleans()):
                request["execute"]["pageLoad"] = draw(page_load)
        if section in ("prefetch", "both"):
            request["prefetch"] = {"mboxes": draw(mboxes)}
            if draw(st.booleans()):
                request["prefetch"]["views"] = draw(views)
            if draw(st.booleans()):
                request["prefetch"]["pageLoad"] = draw(page_load)
        if tokens and draw(st.booleans()):
            request["property"] = {"token": draw(st.sampled_from(tokens))}
        return request

    return build()


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(request=requests(REAL_MBOXES, sorted(REAL["localViews"]), TOKENS))
def test_a_real_artifact_decides_the_same_server_side_and_on_device(real: Setup, request: dict[str, Any]) -> None:
    server, local = real.run(real.both(request))
    assert decisions(server) == decisions(local)


@SETTINGS
@given(request=requests(["hero", "banner"], ["home", "cart"], []))
def test_compiled_fixtures_decide_the_same_server_side_and_on_device(fixtures: Setup, request: dict[str, Any]) -> None:
    server, local = fixtures.run(fixtures.both(request))
    assert decisions(server) == decisions(local)


def test_the_agreement_check_can_fail(fixtures: Setup) -> None:
    # two visitors that the allocation splits: the comparison tells them apart
    def hero(tnt: str) -> Any:
        request = {"id": {"tntId": tnt}, "execute": {"mboxes": [{"name": "hero"}]}}
        return decisions(fixtures.run(fixtures.client.get_offers(request=request)))

    seen = {json.dumps(hero(f"v{n}"), sort_keys=True) for n in range(20)}
    assert len(seen) == 3  # A, B and C all served


# --------------------------------------------------------------------------------------- the client's view


def test_a_published_artifact_reaches_the_client_through_its_poll(fixtures: Setup) -> None:
    client = fixtures.client
    request = {"id": {"tntId": "poll-visitor"}, "execute": {"mboxes": [{"name": "banner"}]}}

    def banner() -> Any:
        return fixtures.run(client.get_offers(request=request)).response.execute.mboxes[0].options[0].content

    assert banner() == [1, 2]
    assert fixtures.run(client.refresh_artifact()) is False  # 304: nothing new
    with httpx.Client(base_url=fixtures.url) as admin:
        changed = json.loads(json.dumps(FIXTURES))
        changed["mboxes"]["banner"]["experiences"][0]["options"][0]["content"] = {"new": True}
        etag = admin.post("/_emulator/fixtures", json=changed).json()["binEtag"]
        try:
            assert fixtures.run(client.refresh_artifact()) is True
            assert client.artifact_status.etag == etag
            assert banner() == {"new": True}
            server = fixtures.run(client.get_offers(request=request, decisioning_method="server-side"))
            assert server.response.execute.mboxes[0].options[0].content == {"new": True}
        finally:
            admin.post("/_emulator/fixtures", json=FIXTURES)
            fixtures.run(client.refresh_artifact())


def test_an_on_device_impression_is_counted_exactly_once(loop: asyncio.AbstractEventLoop) -> None:
    with serve(create_app(fixtures=FIXTURES)) as url, httpx.Client(base_url=url) as admin:
        setup = Setup(url, "emulator", loop)
        request = {"id": {"tntId": "visitor-7"}, "execute": {"mboxes": [{"name": "banner"}]}}
        result = setup.run(setup.client.get_offers(request=request, session_id="s-7"))
        assert result.response.execute.mboxes[0].options[0].content == [1, 2]
        prefetched = setup.run(
            setup.client.get_offers(
                request={"id": {"tntId": "visitor-7"}, "prefetch": {"mboxes": [{"name": "banner"}]}}
            )
        )
        setup.run(setup.client.aclose())  # flushes what is pending
        token = prefetched.response.prefetch.mboxes[0].options[0].event_token
        log = admin.get("/_emulator/notifications").json()
        displays = [e for e in log["notifications"] if e["notification"].get("type") == "display"]
        assert len(displays) == 1, log  # the execute; the prefetch sends nothing
        entry = displays[0]
        assert entry["notification"]["mbox"] == {"name": "banner"}
        assert entry["notification"]["tokens"] == [token]
        assert entry["sessionId"] == "s-7" and entry["id"]["tntId"] == "visitor-7"


def test_hybrid_asks_the_emulator_for_what_the_artifact_marks_remote(loop: asyncio.AbstractEventLoop) -> None:
    fixtures = {
        **FIXTURES,
        "mboxes": {
            **FIXTURES["mboxes"],
            "checkout": {"remote": True, "experiences": [{"options": [{"content": "decided by the server"}]}]},
        },
    }
    with serve(create_app(fixtures=fixtures)) as url:
        setup = Setup(url, "emulator", loop)
        try:
            request = {"id": {"tntId": "v-1"}, "execute": {"mboxes": [{"name": "banner"}, {"name": "checkout"}]}}
            local = setup.run(setup.client.get_offers(request=request))
            assert local.response.status == 206 and local.meta.remote_mboxes == ["checkout"]
            assert local.response.execute.mboxes[1].options is None  # not in the served artifact
            hybrid = setup.run(setup.client.get_offers(request=request, decisioning_method="hybrid"))
            assert hybrid.meta.decisioning_method == "server-side"
            assert [m.options[0].content for m in hybrid.response.execute.mboxes] == [[1, 2], "decided by the server"]
            only_local = {"id": {"tntId": "v-1"}, "execute": {"mboxes": [{"name": "banner"}]}}
            assert (
                setup.run(
                    setup.client.get_offers(request=only_local, decisioning_method="hybrid")
                ).meta.decisioning_method
                == "on-device"
            )
        finally:
            setup.run(setup.client.aclose())


@pytest.mark.parametrize(("status", "ready"), [(503, True), (403, False)])
def test_artifact_faults_reach_the_client(loop: asyncio.AbstractEventLoop, status: int, ready: bool) -> None:
    faults = {"bursts": [{"route": "GET artifact", "status": status, "count": 2}]}  # no backoff: tests/conftest.py
    with serve(create_app(fixtures=FIXTURES, faults=faults)) as url, httpx.Client(base_url=url) as admin:
        if ready:  # 503s are retried by the client's HTTP core
            setup = Setup(url, "emulator", loop)
            setup.run(setup.client.aclose())
            assert admin.get("/_emulator/faults").json()["bursts"] == []
        else:  # 403: on-device decisioning is off for the account
            with pytest.raises(OnDeviceDisabledError):
                Setup(url, "emulator", loop)
