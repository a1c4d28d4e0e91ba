"""Random requests over the real artifact, and the normal form in which our answers and Adobe's are compared.

``make_cases()`` is deterministic (a seeded generator), so the test and the recorder
(``make_official_answers.py``) build the same requests. Only standard-library code here: the recorder's worker
runs under Adobe's SDK's own virtualenv.

What the normal form leaves out, and why (on-device.md §11):

* a ``pageLoad`` section the request did not ask for: Adobe's engine evaluates the page load on every request;
* empty ``metrics`` lists: Adobe's engine keeps ``metrics: []`` in execute;
* ``status``, ``requestId``, ``id``, ``client``: not decisions (every request carries a ``tntId``, so allocation
  hashes the same id on both sides);
* display notifications of the global mbox when no execute page load was requested (the same defect);
* Adobe's engine answers the global mbox requested as a plain mbox with one response per satisfied rule, all
  with the same index; on-device.md §5 makes it a normal mbox (first match): only the first response of an
  index is compared, and a case with the global mbox among its execute mboxes is not compared on notifications.

And what the requests avoid: numeric strings compared with numbers (Adobe's json-logic compares them as
strings; our JSON Logic tests cover that), geo latitude/longitude (the artifact compares them with strings),
``www`` inside a host label, fractional seconds (Adobe's clock has whole seconds), and geo lookups (the artifact
is given with geo targeting off on both sides, so neither engine asks the CDN).
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

SEED = 20_250_212
COUNT = 300
GLOBAL_MBOX = "target-global-mbox"

_MBOXES = [
    "browserTest",
    "mbox-browsers",
    "mbox-dateranges",
    "mbox-feature-flags",
    "mbox-geography",
    "mbox-macros",
    "mbox-magician",
    "mbox-params",
    "mbox-prioritized",
    "mbox-salutations",
    "mbox-urlcontains",
    "perf-mbox",
    "super-duper",
    GLOBAL_MBOX,
    "100k",
    "testoffer",
    "not-in-the-artifact",
]
_PARAMS = {
    "jason": ["correct", "wrong"],
    "greg": ["correct", "nope"],
    "foo": ["bar", "baz"],
    "favorite.color": ["Red", "blue"],
    "favorite.movie": ["The Big Lebowski", "Heat"],
    "first.programming.language": ["Racket", "Python"],
    "user": ["Mickey Mouse", "Donald"],
    "pgname": ["blippi"],
}
_URLS = [
    "http://local-target-test/",
    "http://local-target-test/?bar=1",
    "http://local-target-test:8080/home?fabulous=true#sosumi",
    "https://target-perf-site.netlify.app/",
    "https://target-perf-site.netlify.app/bar/",
    "https://test.hooli.com/?implementation=PSL",
    "https://pied.piper.decentralized.test.hooli.com/",
    "https://wayne-enterprises.us-east-1.elasticbeanstalk.com/",
    "https://www.example.com/bar",
]
_USER_AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_3) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/80.0.3987.163 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:73.0) Gecko/20100101 Firefox/73.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0.5 "
    "Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
]
_GEOS = [
    {"city": "SAN FRANCISCO", "countryCode": "US", "stateCode": "CA"},
    {"city": "VANCOUVER", "countryCode": "CA", "stateCode": "BC"},
    {"city": "SOUTH SAN FRANCISCO", "countryCode": "UNITED STATES", "stateCode": "CALIFORNIA"},
    {"countryCode": "JP"},
    {"countryCode": "ZA"},
]
_PROPERTY_TOKENS = [None, None, "8ce2d3e9-b299-c0ea-2e0c-2e21255db6bb", "f12c912a-792f-6c01-4977-65d39558c82e", "other"]
_START = 1612742400  # 2021-02-08T00:00:00Z: the artifact's date ranges fall in the next two weeks


def _params(rng: random.Random) -> dict[str, str] | None:
    if rng.random() < 0.4:
        return None
    keys = rng.sample(sorted(_PARAMS), rng.randint(1, 3))
    return {k: rng.choice(_PARAMS[k]) for k in keys}


def _mboxes(rng: random.Random, start: int) -> list[dict[str, Any]]:
    out = []
    for i, name in enumerate(rng.sample(_MBOXES, rng.randint(1, 3))):
        mbox: dict[str, Any] = {"name": name, "index": start + i}
        params = _params(rng)
        if params:
            mbox["parameters"] = params
        out.append(mbox)
    return out


def _page_load(rng: random.Random) -> dict[str, Any]:
    params = _params(rng)
    return {"parameters": params} if params else {}


def make_cases() -> list[dict[str, Any]]:
    """``COUNT`` cases: ``{"request": <wire dict>, "now": <whole seconds>}``."""
    rng = random.Random(SEED)
    cases = []
    for _ in range(COUNT):
        context: dict[str, Any] = {
            "channel": "web",
            "address": {"url": rng.choice(_URLS)},
            "userAgent": rng.choice(_USER_AGENTS),
        }
        if rng.random() < 0.4:
            context["geo"] = dict(rng.choice(_GEOS))
        request: dict[str, Any] = {"id": {"tntId": f"{rng.getrandbits(128):032x}.28_0"}, "context": context}
        token = rng.choice(_PROPERTY_TOKENS)
        if token:
            request["property"] = {"token": token}
        shape = rng.random()
        execute: dict[str, Any] = {}
        prefetch: dict[str, Any] = {}
        if shape < 0.45 or rng.random() < 0.2:
            execute["mboxes"] = _mboxes(rng, 1)
        if rng.random() < 0.3:
            execute["pageLoad"] = _page_load(rng)
        if shape >= 0.45 or rng.random() < 0.2:
            prefetch["mboxes"] = _mboxes(rng, 10)
        if rng.random() < 0.3:
            prefetch["pageLoad"] = _page_load(rng)
        if rng.random() < 0.3:
            view: dict[str, Any] = {}
            if rng.random() < 0.5:
                view["name"] = rng.choice(["home", "contact"])
            params = _params(rng)
            if params:
                view["parameters"] = params
            prefetch["views"] = [view]
        if execute:
            request["execute"] = execute
        if prefetch:
            request["prefetch"] = prefetch
        if not execute and not prefetch:
            request["execute"] = {"mboxes": _mboxes(rng, 1)}
        cases.append({"request": request, "now": _START + rng.randrange(14 * 86400)})
    return cases


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return "sha1:" + hashlib.sha1(text.encode()).hexdigest()[:16]


def _clean(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _clean(v, k) for k, v in value.items() if v is not None and not (k == "metrics" and v == [])}
    if isinstance(value, list):
        if key == "options":  # each option (content, tokens, event token) as a digest: keeps the recording small
            return [_digest(_clean(v)) for v in value]
        return [_clean(v) for v in value]
    return value


def _first_per_index(mboxes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[Any] = set()
    out = []
    for mbox in mboxes:
        if mbox.get("index") not in seen:
            seen.add(mbox.get("index"))
            out.append(mbox)
    return out


def normal_form(
    request: dict[str, Any], response: dict[str, Any], notifications: list[tuple[str, list[str]]]
) -> dict[str, Any]:
    """What is compared of one answer (see the module docstring)."""
    out: dict[str, Any] = {}
    for section in ("execute", "prefetch"):
        asked = request.get(section)
        got = response.get(section)
        if not asked or not got:
            continue
        got = {k: v for k, v in got.items() if k in asked}  # drops the page load nobody asked for
        if "mboxes" in got:
            got["mboxes"] = _first_per_index(got["mboxes"])
        out[section] = _clean(got)
    execute = request.get("execute") or {}
    if not any(m.get("name") == GLOBAL_MBOX for m in execute.get("mboxes", [])):
        page_load = "pageLoad" in execute
        kept = [[name, sorted(tokens)] for name, tokens in notifications if page_load or name != GLOBAL_MBOX]
        out["notifications"] = sorted(kept)
    return out
