"""The ``user`` context of on-device rules: browser family, major version and platform (on-device.md §4).

Parsing goes through ``ua-parser`` (uap-core's regexes, kept current by the ``ua-parser-builtins`` releases)
with its native ``ua-parser-rs`` resolver when installed; User-Agent Client Hints (``context.clientHints``)
win over the user agent where they say something (Target's Node SDK reads them; Adobe's Python SDK does not).

Families are folded onto the names Target's audience rules use: ``chrome``, ``firefox``, ``safari``, ``ie``,
``edge``, ``opera`` (mobile and WebView variants included, so "Mobile Safari" is ``safari``); any other family
is its lower-cased name (``"samsung internet"``), and ``unknown`` when nothing is recognised. Platforms:
``mac``, ``windows``, ``linux`` (distributions included), ``android``, ``ios``, ``chrome os``, else the
lower-cased OS family, ``unknown`` when none.

Results are cached in a bounded LRU map keyed on the user agent and the hints that matter; each result is a
read-only mapping, so a caller cannot poison the cache.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import ua_parser

__all__ = ["CACHE_SIZE", "MAX_USER_AGENT", "user_context", "warm_up"]

#: Distinct (user agent, hints) pairs remembered; a service sees few distinct user agents.
CACHE_SIZE = 2048
#: Longer user agents are cut before parsing (real ones are under 500 characters; regexes cost per character).
MAX_USER_AGENT = 2048

_BROWSERS = {
    "chrome": "chrome",
    "chrome mobile": "chrome",
    "chrome mobile ios": "chrome",
    "chrome mobile webview": "chrome",
    "chromium": "chrome",
    "headlesschrome": "chrome",
    "firefox": "firefox",
    "firefox mobile": "firefox",
    "firefox ios": "firefox",
    "firefox beta": "firefox",
    "firefox alpha": "firefox",
    "safari": "safari",
    "mobile safari": "safari",
    "mobile safari ui/wkwebview": "safari",
    "ie": "ie",
    "ie mobile": "ie",
    "edge": "edge",
    "edge mobile": "edge",
    "opera": "opera",
    "opera mobile": "opera",
    "opera mini": "opera",
    "opera tablet": "opera",
    "other": "unknown",
}

_PLATFORMS = {
    "mac os x": "mac",
    "macos": "mac",
    "windows": "windows",
    "linux": "linux",
    "ubuntu": "linux",
    "debian": "linux",
    "fedora": "linux",
    "red hat": "linux",
    "suse": "linux",
    "opensuse": "linux",
    "linux mint": "linux",
    "mint": "linux",
    "gentoo": "linux",
    "arch linux": "linux",
    "centos": "linux",
    "slackware": "linux",
    "mandriva": "linux",
    "android": "android",
    "ios": "ios",
    "chrome os": "chrome os",
    "chromeos": "chrome os",
    "other": "unknown",
    "unknown": "unknown",
}

# Client-hint brands Target knows; "Chromium" alone only says "some Chromium browser".
_BRANDS = {"google chrome": "chrome", "microsoft edge": "edge", "opera": "opera", "opera gx": "opera"}
_BRAND_RE = re.compile(r'"([^"]*)"\s*;\s*v\s*=\s*"?([^",]*)"?')

_DOMAINS = ua_parser.Domain.USER_AGENT | ua_parser.Domain.OS
_resolver: ua_parser.Resolver | None = None
_resolver_lock = threading.Lock()


def _get_resolver() -> ua_parser.Resolver:
    """The fastest installed resolver over the bundled regexes, built on first use (our LRU is the cache).

    Device regexes are left out (the context has no device): that halves the native resolver's set-up.
    """
    global _resolver
    if _resolver is None:
        with _resolver_lock:
            if _resolver is None:
                ua, os_, _devices = ua_parser.load_builtins()
                _resolver = ua_parser.BestAvailableResolver((ua, os_, []))
    return _resolver


def warm_up() -> None:
    """Build the parser now (about 0.1–0.3 s, once per process) rather than on the first request."""
    _get_resolver()


def _browser_name(family: str | None) -> str:
    if not family:
        return "unknown"
    low = family.lower()
    return _BROWSERS.get(low, low)


def _platform_name(family: str | None) -> str:
    if not family:
        return "unknown"
    low = family.strip().strip('"').lower()
    if not low:
        return "unknown"
    if low.startswith("windows") and "phone" not in low:
        return "windows"
    return _PLATFORMS.get(low, low)


def _major(version: str | None) -> int:
    if not version:
        return -1
    head = version.strip().split(".", 1)[0]
    return int(head) if head.isdigit() and head.isascii() and len(head) < 10 else -1


def _from_brands(brands: str) -> tuple[str, int, bool] | None:
    """(browser, major, specific) from ``browserUAWithMajorVersion``; None when it names no browser Target knows.

    ``specific`` is False when only "Chromium" was named (GREASE brands such as "Not A;Brand" are ignored).
    """
    chromium: tuple[str, int, bool] | None = None
    for name, version in _BRAND_RE.findall(brands):
        low = name.strip().lower()
        if low in _BRANDS:
            return _BRANDS[low], _major(version), True
        if low == "chromium":
            chromium = ("chrome", _major(version), False)
    return chromium


@functools.lru_cache(maxsize=CACHE_SIZE)
def _context(user_agent: str, brands: str | None, platform: str | None) -> Mapping[str, Any]:
    browser, version, os_family = "unknown", -1, None
    if user_agent:
        result = _get_resolver()(user_agent, _DOMAINS)
        if result.user_agent is not None:
            browser, version = _browser_name(result.user_agent.family), _major(result.user_agent.major)
        if result.os is not None:
            os_family = result.os.family
    if brands:
        hinted = _from_brands(brands)
        # A specific brand wins; a bare "Chromium" only fills in when the user agent said nothing.
        if hinted is not None and (hinted[2] or browser == "unknown"):
            browser, version = hinted[0], hinted[1]
    plat = _platform_name(platform) if platform else "unknown"
    return MappingProxyType(
        {
            "browserType": browser,
            "browserVersion": version,
            "platform": plat if plat != "unknown" else _platform_name(os_family),
            "locale": "en",
        }
    )


def _hint(hints: Mapping[str, Any], wire: str, attr: str) -> str | None:
    value = hints.get(wire, hints.get(attr))
    return value if isinstance(value, str) and value else None


def user_context(user_agent: str | None, client_hints: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """``{"browserType", "browserVersion", "platform", "locale"}`` for a request (read-only, cached).

    ``client_hints`` takes the wire keys of ``context.clientHints`` (``browserUAWithMajorVersion``,
    ``platform`` …; the snake_case attribute names work too).
    """
    ua = user_agent[:MAX_USER_AGENT] if isinstance(user_agent, str) else ""  # the cache key stays small
    brands = platform = None
    if client_hints:
        brands = _hint(client_hints, "browserUAWithMajorVersion", "browser_ua_with_major_version")
        if brands is None:
            brands = _hint(client_hints, "browserUAWithFullVersion", "browser_ua_with_full_version")
        platform = _hint(client_hints, "platform", "platform")
        if brands is not None:
            brands = brands[:MAX_USER_AGENT]
        if platform is not None:
            platform = platform[:100]
    return _context(ua, brands, platform)
