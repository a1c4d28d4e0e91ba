"""The ``user`` context: browser family, major version, platform, from the user agent and client hints (§4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from target_async.decisioning import _useragent
from target_async.decisioning._useragent import user_context

VECTORS = Path(__file__).resolve().parents[1] / "data" / "on-device"

CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_3) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/80.0.3987.163 Safari/537.36"
)
EDGE_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"
)
CHROMIUM_HINTS = '" Not A;Brand";v="99", "Chromium";v="96", "Google Chrome";v="96"'

CASES: list[tuple[str | None, dict[str, Any] | None, tuple[str, int, str]]] = [
    (CHROME_MAC, None, ("chrome", 80, "mac")),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:73.0) Gecko/20100101 Firefox/73.0",
        None,
        ("firefox", 73, "mac"),
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_3) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/13.0.5 Safari/605.1.15",
        None,
        ("safari", 13, "mac"),
    ),
    ("Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko", None, ("ie", 11, "windows")),
    ("Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)", None, ("ie", 8, "windows")),
    (EDGE_WIN, None, ("edge", 120, "windows")),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
        "Safari/537.36 OPR/106.0.0.0",
        None,
        ("opera", 106, "windows"),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.0 Mobile/15E148 Safari/604.1",
        None,
        ("safari", 17, "ios"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 "
        "Mobile Safari/537.36",
        None,
        ("chrome", 116, "android"),
    ),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", None, ("firefox", 120, "linux")),
    ("", None, ("unknown", -1, "unknown")),
    (None, None, ("unknown", -1, "unknown")),
    ("definitely not a browser", None, ("unknown", -1, "unknown")),
    # client hints win over the user agent where they name something
    (CHROME_MAC, {"browserUAWithMajorVersion": CHROMIUM_HINTS, "platform": "Windows"}, ("chrome", 96, "windows")),
    (
        CHROME_MAC,
        {"browserUAWithMajorVersion": '"Not_A Brand";v="8", "Chromium";v="120", "Microsoft Edge";v="120"'},
        ("edge", 120, "mac"),
    ),
    (
        None,
        {"browserUAWithMajorVersion": '"Not)A;Brand";v="24", "Chromium";v="116"', "platform": "Android"},
        ("chrome", 116, "android"),
    ),
    (
        None,
        {"browser_ua_with_major_version": '"Opera";v="105", "Chromium";v="119"', "platform": '"macOS"'},
        ("opera", 105, "mac"),
    ),
    # a bare "Chromium" brand does not override a more specific user agent (Edge here)
    (EDGE_WIN, {"browserUAWithMajorVersion": '"Chromium";v="120"'}, ("edge", 120, "windows")),
    (CHROME_MAC, {"platform": ""}, ("chrome", 80, "mac")),
    (CHROME_MAC, {"platform": "Unknown"}, ("chrome", 80, "mac")),
]


@pytest.mark.parametrize(("ua", "hints", "expected"), CASES)
def test_user_context(ua: str | None, hints: dict[str, Any] | None, expected: tuple[str, int, str]) -> None:
    ctx = user_context(ua, hints)
    assert (ctx["browserType"], ctx["browserVersion"], ctx["platform"]) == expected
    assert ctx["locale"] == "en"
    assert set(ctx) == {"browserType", "browserVersion", "platform", "locale"}


def test_browser_vectors_user_agents_give_the_browser_types_their_rules_expect() -> None:
    suite = json.loads((VECTORS / "models" / "TEST_SUITE_BROWSER.json").read_text())
    fixture = json.loads((VECTORS / "artifacts" / "TEST_ARTIFACT_BROWSER.json").read_text())
    wanted = {
        rule["consequence"]["options"][0]["content"]: rule["condition"]
        for rule in fixture["rules"]["mboxes"]["mbox-browsers"]
    }
    for case in suite["test"].values():
        ctx = user_context(case["input"]["request"]["context"]["userAgent"])
        content = case["output"]["prefetch"]["mboxes"][0]["options"][0]["content"]
        condition = wanted[content]
        assert condition["=="][1] == ctx["browserType"], case["description"]


def test_trace_vector_user_context() -> None:
    """TEST_SUITE_TRACE shows Chrome 80 on a Mac as {chrome, mac, en, 80}."""
    assert dict(user_context(CHROME_MAC)) == {
        "browserType": "chrome",
        "platform": "mac",
        "locale": "en",
        "browserVersion": 80,
    }


def test_result_is_read_only_and_cached_results_cannot_be_poisoned() -> None:
    first = user_context(CHROME_MAC)
    with pytest.raises(TypeError):
        first["browserType"] = "firefox"  # type: ignore[index]
    assert user_context(CHROME_MAC)["browserType"] == "chrome"
    assert user_context(CHROME_MAC) is first  # served from the cache


def test_cache_is_bounded() -> None:
    _useragent._context.cache_clear()
    for i in range(_useragent.CACHE_SIZE + 50):
        user_context(f"Mozilla/5.0 (Windows NT 10.0) Firefox/{i}.0")
    info = _useragent._context.cache_info()
    assert info.currsize == _useragent.CACHE_SIZE == info.maxsize


def test_hostile_user_agents_and_hints() -> None:
    huge = "Mozilla/5.0 " + "(" * 200_000 + "Firefox/99.0"
    ctx = user_context(huge)
    assert ctx["browserType"] in {"unknown", "firefox"}


def test_cache_keys_are_cut_to_a_bounded_length(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str | None, str | None]] = []
    real = _useragent._context

    def spy(user_agent: str, brands: str | None, platform: str | None) -> Any:
        seen.append((user_agent, brands, platform))
        return real(user_agent, brands, platform)

    monkeypatch.setattr(_useragent, "_context", spy)
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    ctx = user_context(
        firefox + " " * 1_000_000, {"browserUAWithMajorVersion": "x" * 1_000_000, "platform": "p" * 10**6}
    )
    assert ctx["browserType"] == "firefox"
    ((ua, brands, platform),) = seen
    assert len(ua) == len(brands or "") == _useragent.MAX_USER_AGENT  # what the LRU keeps as its key
    assert platform is not None and len(platform) <= 100
    assert user_context(CHROME_MAC, {"browserUAWithMajorVersion": 5, "platform": None})["platform"] == "mac"
    assert user_context(CHROME_MAC, {"browserUAWithMajorVersion": '"Google Chrome";v="x"'})["browserVersion"] == -1
    assert user_context(123)["browserType"] == "unknown"  # type: ignore[arg-type]
