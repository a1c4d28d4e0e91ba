"""Hostile input against the emulator: catastrophic patterns (ReDoS) and cross-site requests to admin routes.

Issue #10: a ``~(a+)+b`` filter over a 25-character name took 2 s and stalled every other request; a
``*b*b*b*b*c`` search over a 300-character name took 24 s; ``/_emulator/reset`` accepted a cross-origin
``text/plain`` POST from any web page.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings, strategies as st

from target_async.emulator import create_app
from target_async.emulator._linear import Regex, Wildcard
from target_async.emulator._query import Search, parse_query, resolve
from target_async.testing import serve

SEARCH = "/queries/core/search"


def names(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return sorted(item["_instance"]["xdm:name"] for item in r.json()["_embedded"]["results"])


def wildcard(pattern: str) -> Wildcard:
    return Wildcard([(ch, ch in "*?") for ch in pattern])


# -- ReDoS: the matchers -----------------------------------------------------------------------------------


def test_the_matchers_are_linear_on_the_patterns_of_the_issue() -> None:
    # Python's re needs seconds for 25 characters and (for the wildcard) never finishes on 3,000
    started = time.perf_counter()
    assert not Regex("(a+)+b", ignore_case=True).fullmatch("a" * 100_000)
    assert Regex("(a+)+b", ignore_case=True).fullmatch("A" * 100_000 + "B")
    assert not wildcard("*b*b*b*b*c").fullmatch("b" * 100_000)
    assert wildcard("*b*b*b*b*c").fullmatch("b" * 100_000 + "c")
    assert not wildcard("*" + "a?" * 50 + "b*").fullmatch("a" * 100_000)
    assert time.perf_counter() - started < 2  # sanity guard only: each call takes milliseconds


@settings(max_examples=300, deadline=None)
@given(pattern=st.text(alphabet="ab*?", max_size=8), text=st.text(alphabet="abc", max_size=12))
def test_the_wildcard_matcher_agrees_with_a_regex_translation(pattern: str, text: str) -> None:
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    assert wildcard(pattern).fullmatch(text) == (re.fullmatch(regex, text, re.DOTALL) is not None)


@pytest.mark.parametrize(
    "pattern",
    [r"(a)\1", "(?=a)a", "(?<=a)b", "(?!a)b", "(?>a)", "a++", r"a\Z", "(?P<n>a)(?P=n)", "[", "x{1001}"],
)
def test_patterns_re2_cannot_run_are_refused_with_a_reason(pattern: str) -> None:
    with pytest.raises(ValueError, match="RE2 syntax"):
        Regex(pattern)


def test_regex_matches_text_with_a_lone_surrogate() -> None:
    assert Regex(".*x", ignore_case=True).fullmatch("\ud800X")


# -- ReDoS: through the routes ------------------------------------------------------------------------------


async def test_a_catastrophic_regex_filter_answers_at_once_and_correctly(repo: Any) -> None:
    for name in ("a" * 26, "a" * 25 + "b", "aB", "b"):
        await repo.tag(name)
    started = time.perf_counter()
    r = await repo.list("tag", ("property", "_instance.xdm:name~(a+)+b"))
    assert names(r) == ["aB", "a" * 25 + "b"]  # anchored and case-insensitive, as before
    assert time.perf_counter() - started < 2  # Python's re: ~2 s for the 26-a name alone


async def test_a_catastrophic_wildcard_search_answers_at_once_and_correctly(repo: Any) -> None:
    await repo.tag("b" * 300)  # Python's re took 24 s on this one; on 3,000 it did not finish in 10 minutes
    await repo.tag("b" * 3000 + "c")
    await repo.tag("bbbbc other")
    started = time.perf_counter()
    r = await repo.list("tag", path=SEARCH, q="*b*b*b*b*c")
    assert names(r) == ["b" * 3000 + "c", "bbbbc other"]
    r = await repo.list("tag", path=SEARCH, q="b?b*c", field="_instance.xdm:name")
    assert names(r) == ["b" * 3000 + "c", "bbbbc other"]
    assert time.perf_counter() - started < 2


def test_a_long_token_phrase_and_a_long_filter_path_cost_linear_time() -> None:
    # a run of tokens used to be compared slice by slice (tokens x phrase length: ~2 s here), and a path that
    # is not in the document was joined segment by segment (path length squared: ~3 s here)
    doc = {"_instance": {"xdm:name": " ".join(["x"] * 60_000) + " y", "a.b": {"c": 1}}}
    started = time.perf_counter()
    assert Search(parse_query(".".join(["x"] * 8_000) + ".y"), False, []).matches(doc)
    assert not Search(parse_query(".".join(["x"] * 8_000) + ".z"), False, []).matches(doc)
    assert time.perf_counter() - started < 1
    started = time.perf_counter()
    assert resolve(doc, ("_instance", *["k"] * 30_000)) == (False, [])
    assert time.perf_counter() - started < 1
    assert resolve(doc, ("_instance", "a", "b", "c")) == (True, [1])  # keys with dots still resolve


async def test_a_slow_search_does_not_hold_up_other_requests(repo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan runs in a worker thread: while a search is busy matching, the emulator answers others."""
    await repo.tag("bbbbc")
    inside, release, finished = threading.Event(), threading.Event(), threading.Event()
    real = Wildcard.fullmatch

    def busy(self: Wildcard, text: str) -> bool:
        inside.set()
        release.wait(3)  # without the worker thread this blocks the event loop for 3 s
        finished.set()
        return real(self, text)

    monkeypatch.setattr(Wildcard, "fullmatch", busy)
    search = asyncio.create_task(repo.list("tag", path=SEARCH, q="*b*c"))
    for _ in range(300):
        if inside.is_set():
            break
        await asyncio.sleep(0.01)
    assert inside.is_set()
    health = await repo.client.get("/_emulator/health")
    other = await repo.list("tag")  # an indexed list of the same partition
    answered_while_busy = not finished.is_set()
    release.set()
    assert health.status_code == 200 and names(other) == ["bbbbc"]
    assert answered_while_busy
    assert names(await search) == ["bbbbc"]


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)a", "(?<!a)b", r"\Z", "(", "a{2,1}"])
async def test_an_unsupported_or_invalid_regex_filter_is_a_400_naming_the_property(repo: Any, pattern: str) -> None:
    await repo.tag("aa")
    r = await repo.list("tag", ("property", f"_instance.xdm:name~{pattern}"))
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["property"] == "property" and "regular expression" in body["detail"]
    if pattern not in ("(", "a{2,1}"):
        assert "RE2 syntax" in body["detail"]


async def test_regex_filters_keep_their_meaning(repo: Any) -> None:
    for name in ("Summer Sale", "summer", "winter sale", "Ünïcode"):
        await repo.tag(name)

    async def match(pattern: str) -> list[str]:
        return names(await repo.list("tag", ("property", f"_instance.xdm:name~{pattern}")))

    assert await match("summer") == ["summer"]  # anchored
    assert await match(".*SALE") == ["Summer Sale", "winter sale"]  # case-insensitive
    assert await match(r"\w+ \w+") == ["Summer Sale", "winter sale"]
    assert await match("ünïcode") == ["Ünïcode"]  # Unicode case folding
    assert await match("(?:summer|winter).*") == ["Summer Sale", "summer", "winter sale"]


# -- admin routes and cross-site requests --------------------------------------------------------------------


@pytest.fixture
def emulator_url() -> Iterator[str]:
    with serve(create_app()) as url:
        yield url


IDENTITY = {"Authorization": "Bearer t", "x-api-key": "k", "x-gw-ims-org-id": "csrf@AdobeOrg", "x-sandbox-name": "p"}
TAG = "https://ns.adobe.com/experience/offer-management/tag"


def _instances(http: httpx.Client, *, add: bool = False) -> int:
    """How many tags the tenant has (after adding one when ``add``)."""
    home = http.get("/data/core/xcore/", headers=IDENTITY).json()
    cid = home["_embedded"]["https://ns.adobe.com/experience/xcore/container"][0]["instanceId"]
    if add:
        r = http.post(
            f"/data/core/xcore/{cid}/instances",
            json={"_instance": {"xdm:name": "keep"}, "_links": {}},
            headers={**IDENTITY, "Content-Type": f'application/vnd.adobe.platform.xcore.hal+json; schema="{TAG}"'},
        )
        assert r.status_code == 201, r.text
    r = http.get(f"/data/core/xcore/{cid}/instances", params={"schema": TAG}, headers=IDENTITY)
    return int(r.json()["_embedded"]["total"])


def test_a_cross_site_text_plain_post_cannot_reset_the_emulator(emulator_url: str) -> None:
    """What a web page's <form> or fetch(..., {mode: "no-cors"}) sends: text/plain, with its own Origin."""
    with httpx.Client(base_url=emulator_url) as http:
        assert _instances(http, add=True) == 1
        attacks = [
            ({"Origin": "https://evil.example", "Content-Type": "text/plain"}, 403),
            ({"Origin": "null", "Content-Type": "text/plain"}, 403),  # sandboxed iframe, file:// page
            ({"Origin": "https://evil.example", "Content-Type": "application/json"}, 403),
            ({"Content-Type": "text/plain"}, 415),  # no Origin (an old browser, a redirect): still not JSON
            ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
            ({"Content-Type": "multipart/form-data; boundary=x"}, 415),
            ({}, 415),  # an empty POST without a Content-Type
        ]
        for headers, status in attacks:
            r = http.post("/_emulator/reset", content=b"{}" if headers else b"", headers=headers)
            assert r.status_code == status, (headers, r.text)
            body = r.json()
            assert body["status"] == status and body["property"] == ("Origin" if status == 403 else "Content-Type")
            assert r.headers["x-request-id"]
        assert _instances(http) == 1  # nothing was wiped
        r = http.post(
            "/_emulator/faults", content=b'{"drops": [{"route": "*"}]}', headers={"Content-Type": "text/plain"}
        )
        assert r.status_code == 415
        r = http.post("/_emulator/config", json={"defaultLimit": 1}, headers={"Origin": "http://attacker.test"})
        assert r.status_code == 403
        r = http.delete("/_emulator/faults", headers={"Origin": "https://evil.example"})
        assert r.status_code == 403
        r = http.get("/_emulator/config", headers={"Origin": "https://evil.example"})
        assert r.status_code == 403
        assert http.get("/_emulator/config").json()["defaultLimit"] == 50
        assert http.get("/_emulator/faults").json()["drops"] == []


def test_same_origin_and_loopback_callers_keep_working(emulator_url: str) -> None:
    port = emulator_url.rsplit(":", 1)[1]
    with httpx.Client(base_url=emulator_url) as http:
        assert _instances(http, add=True) == 1
        for origin in (
            emulator_url,  # the emulator's own origin (scheme://Host)
            f"http://localhost:{port}",
            "http://localhost:3000",  # a dev server on this machine
            "https://app.localhost",
            "http://127.0.0.2:8000",
            "http://[::1]:5173",
        ):
            r = http.post("/_emulator/config", json={}, headers={"Origin": origin})
            assert r.status_code == 200, (origin, r.text)
        r = http.post("/_emulator/containers", json={"org": "o@AdobeOrg"}, headers={"Origin": emulator_url})
        assert r.status_code == 201, r.text
        for content_type in ("application/json", "application/json; charset=utf-8", "Application/JSON"):
            r = http.post("/_emulator/faults", content=b"{}", headers={"Content-Type": content_type})
            assert r.status_code == 200, (content_type, r.text)
        assert http.post("/_emulator/reset", json={}).status_code == 200  # what the SDK's helpers send
        assert _instances(http) == 0


def test_origins_that_only_look_like_loopback_are_refused(emulator_url: str) -> None:
    origins = [
        "http://localhost@evil.example",
        "http://127.0.0.1.evil.example",
        "http://evil.example/http://localhost",
        "ftp://localhost",
        "localhost",
        "http://",
        "http://localhost:99999",
        "",
    ]
    with httpx.Client(base_url=emulator_url) as http:
        for origin in origins:
            r = http.post("/_emulator/reset", json={}, headers={"Origin": origin})
            assert r.status_code == 403, (origin, r.text)
