"""Differential test: our engine against Adobe's (``target-python-sdk`` 1.1.0) on random requests, real artifact.

A seeded generator makes a few hundred requests over the real ``artifact.json`` (random visitor ids, mboxes,
views, page loads, user agents, URLs, mbox parameters, geo, property tokens and times). Adobe's engine decides the
whole batch in ONE subprocess of ``.venv-official`` (``official_engine.py``, JSON in and out); ours decides
the same requests in-process with :class:`DecisionEngine`. The decisions are compared: status, which mboxes /
views / page loads have which options (type, content, eventToken, response tokens) and click metrics, and the
display notifications' (mbox, token) pairs. Incidental fields are not compared: request/notification ids,
timestamps, the prepared visitor id, telemetry, trace.

Where on-device.md §11 says the official engine is wrong, the generator or the comparison steps around it,
each place saying which row and why.
"""

from __future__ import annotations

import json
import random
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from target_async._serde import structure, unstructure
from target_async.decisioning import DecisionEngine, load_artifact
from target_async.models import DeliveryRequest

from .vectors import REAL_ARTIFACT

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL_PYTHON = ROOT / ".venv-official" / "bin" / "python"
SCRIPT = Path(__file__).with_name("official_engine.py")
CLIENT = "targettesting"
ORG = "differential@AdobeOrg"
CASES = 250
SEED = 20261205

ARTIFACT: dict[str, Any] = json.loads(REAL_ARTIFACT.read_text())
GLOBAL_MBOX: str = ARTIFACT["globalMbox"]
LOCAL_MBOXES: list[str] = ARTIFACT["localMboxes"]
PROPERTY_TOKENS = sorted(
    {
        t
        for kind in ("mboxes", "views")
        for rules in ARTIFACT["rules"][kind].values()
        for r in rules
        for t in r.get("propertyTokens") or ()
    }
)

# Mobile browsers are left out: Adobe's Python engine names them as ua-parser does ("mobile safari", "chrome
# mobile"), which no audience rule of Target names, and our engine folds them onto "safari"/"chrome" (as
# Target's Node SDK does; target_async/decisioning/_useragent.py). Not a §11 row: a documented design difference.
USER_AGENTS: list[str | None] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.61",
    "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.4.0",
    "",
    None,
]
# §11 "subdomain strips the characters www anywhere; non-PSL hosts keep port/user-info/case": the hosts below
# have no "www" inside a label, and the non-PSL host (local-target-test) has no port, user-info or capitals, so
# page.domain/subdomain are the same for both engines. The rest exercises the artifact's URL rules (PSL
# domains, public-suffix private section, query, url contains "bar").
URLS: list[str | None] = [
    "https://www.example.com/products?foo=bar",
    "https://shop.example.co.uk/cart#top",
    "https://test.wayne-enterprises.us-east-1.elasticbeanstalk.com/",
    "https://pied.piper.decentralized.test.hooli.com/?implementation=PSL",
    "https://hooli.com/?implementation=psl",
    "http://local-target-test/",
    "http://local-target-test/other/page",
    "https://target-perf-site.netlify.app/",
    "https://www.target-perf-site.netlify.app/?q=1",
    "https://barista.example.org/menu",
    None,
]
GEOS: list[dict[str, Any] | None] = [
    None,
    {"ipAddress": "203.0.113.7"},  # the official engine's lookup fails offline (see official_engine.py); ours
    # does not look up in the pure engine: both decide without geo
    {"countryCode": "US", "stateCode": "CA", "city": "SAN FRANCISCO", "latitude": 37.75, "longitude": -122.4},
    {"countryCode": "US", "stateCode": "CA", "city": "SOUTH SAN FRANCISCO", "latitude": 37.65, "longitude": -122.41},
    {"countryCode": "US", "stateCode": "NY", "city": "NEW YORK", "latitude": 40.71, "longitude": -74.0},
    {"countryCode": "CA", "stateCode": "BC", "city": "VANCOUVER", "latitude": 49.28, "longitude": -123.12},
    {"countryCode": "JP", "city": "TOKYO"},
    {"countryCode": "ZA", "city": "CAPE TOWN", "latitude": -33.92, "longitude": 18.42},
    {"latitude": 37.85, "longitude": -122.6},
]
PARAMETERS = {
    "foo": ["bar", "baz"],
    "jason": ["correct", "wrong"],
    "greg": ["correct", "nope"],
    "first.programming.language": ["Racket", "python"],
    "favorite.color": ["RED", "blue"],
    "favorite.movie": ["The Big Lebowski", "Heat"],
    "user": ["Mickey Mouse", "Donald"],  # read by mbox-macros' ${mbox.user}
    "pgname": ["blippi"],
    "browserWidth": ["1024"],
}


def _visitor(rng: random.Random) -> dict[str, Any]:
    """A visitor with an id the allocation can use. §11 "customer-id-only visitor: a fresh allocation UUID per
    rule": a visitor with only customer ids is allocated at random by both engines (one id per request here, one
    per rule there), so it cannot be compared; customer ids come only next to a tntId."""
    tnt = uuid.UUID(int=rng.getrandbits(128)).hex
    pick = rng.random()
    if pick < 0.55:
        return {"tntId": tnt}
    if pick < 0.7:
        return {"tntId": f"{tnt}.{rng.choice(['28', '35', '34'])}_0"}  # a location hint suffix
    if pick < 0.82:
        return {"marketingCloudVisitorId": str(rng.getrandbits(64))}
    if pick < 0.92:
        return {"thirdPartyId": f"3p-{rng.getrandbits(32)}"}
    return {
        "tntId": tnt,
        "customerIds": [
            {"id": f"c{rng.getrandbits(20)}", "integrationCode": "crm", "authenticatedState": "authenticated"}
        ],
    }


def _parameters(rng: random.Random) -> dict[str, str] | None:
    if rng.random() < 0.35:
        return None
    keys = rng.sample(sorted(PARAMETERS), rng.randint(1, 4))
    return {k: rng.choice(PARAMETERS[k]) for k in keys}


def _mboxes(rng: random.Random, execute: bool) -> list[dict[str, Any]]:
    names = [*LOCAL_MBOXES, "not-in-the-artifact"]
    if execute:
        # the global mbox requested as a plain execute mbox is decided as a plain mbox by us but also as an
        # unrequested pageLoad by the official engine (§11 row 1), whose notifications would then mix: it is
        # compared in prefetch only (no notifications there)
        names.remove(GLOBAL_MBOX)
    chosen = rng.sample(names, rng.randint(1, 3))
    out = []
    for index, name in enumerate(chosen, start=1):
        mbox: dict[str, Any] = {"index": index, "name": name}
        params = _parameters(rng)
        if params:
            mbox["parameters"] = params
        if rng.random() < 0.15:  # an mbox with its own page (§4: its rules see page.* of this URL)
            mbox["address"] = {"url": rng.choice([u for u in URLS if u])}
        out.append(mbox)
    return out


def _time(rng: random.Random) -> int:
    """Whole seconds (§11 "clock rounded up to whole seconds": the official clock rounds up to a second, so a
    time with no milliseconds is the same instant for both). Half the times fall in the artifact's date ranges
    (February 2021); every weekday and hour occurs."""
    if rng.random() < 0.5:
        seconds = rng.randint(1_612_742_400, 1_613_952_000)
    else:
        seconds = rng.randint(1_577_836_800, 1_798_761_600)
    return seconds * 1000


def generate(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    cases: list[dict[str, Any]] = []
    while len(cases) < count:
        request: dict[str, Any] = {"id": _visitor(rng), "context": {"channel": "web"}}
        context = request["context"]
        ua = rng.choice(USER_AGENTS)
        if ua is not None:
            context["userAgent"] = ua
        url = rng.choice(URLS)
        if url is not None:
            context["address"] = {"url": url}
            if rng.random() < 0.3:
                context["address"]["referringUrl"] = rng.choice([u for u in URLS if u])
        geo = rng.choice(GEOS)
        if geo is not None:
            context["geo"] = dict(geo)
        execute: dict[str, Any] = {}
        prefetch: dict[str, Any] = {}
        if rng.random() < 0.55:
            execute["mboxes"] = _mboxes(rng, True)
        if rng.random() < 0.35:
            execute["pageLoad"] = {"parameters": _parameters(rng)} if rng.random() < 0.5 else {}
        if rng.random() < 0.4:
            prefetch["mboxes"] = _mboxes(rng, False)
        if rng.random() < 0.2:
            prefetch["pageLoad"] = {}
        if rng.random() < 0.35:
            # Each view is asked for once: a request naming a view and also asking for every view (a view
            # without a name) is answered differently. Adobe's engine decides each requested view on its own
            # (ruleKey dedup per requested view) and lists the view twice; ours dedups rules by ruleKey across
            # the request and merges by view name, so an experience-targeting rule key matched for the first
            # request is not matched again with the second one's parameters (reported to the engine's owner).
            names = [None] if rng.random() < 0.4 else rng.sample(["home", "contact", "not-a-view"], rng.randint(1, 2))
            views = []
            for name in names:
                view: dict[str, Any] = {} if name is None else {"name": name}
                params = _parameters(rng)
                if params:
                    view["parameters"] = params
                views.append(view)
            prefetch["views"] = views
        if not execute and not prefetch:
            continue
        if execute:
            request["execute"] = execute
        if prefetch:
            request["prefetch"] = prefetch
        if rng.random() < 0.25:
            request["property"] = {"token": rng.choice(PROPERTY_TOKENS)}
        cases.append({"request": request, "now_ms": _time(rng)})
    return cases


# --- the comparison ---------------------------------------------------------------------------------------------


def _options(options: list[dict[str, Any]] | None, execute: bool) -> list[Any]:
    out = []
    for option in options or ():
        shaped = {"type": option.get("type"), "content": option.get("content")}
        if not execute:
            shaped["eventToken"] = option.get("eventToken")
        shaped["responseTokens"] = option.get("responseTokens") or {}
        out.append(shaped)
    return out


def _metrics(metrics: list[dict[str, Any]] | None) -> list[Any]:
    # §11 "execute keeps metrics: []": an empty list and no list are the same here; the official engine sorts
    # pageLoad metrics by eventToken and we keep rule order: metrics are compared as a sorted list
    shaped = [{k: v for k, v in m.items() if v is not None} for m in metrics or ()]
    return sorted(shaped, key=lambda m: json.dumps(m, sort_keys=True))


def _section(section: dict[str, Any] | None, mode: str, requested: dict[str, Any]) -> dict[str, Any]:
    execute = mode == "execute"
    out: dict[str, Any] = {}
    if section is None:
        return out
    for mbox in section.get("mboxes") or ():
        key = f"mbox {mbox.get('index')} {mbox.get('name')}"
        if key in out:
            # the official engine answers the global mbox requested as a plain mbox with one response per
            # satisfied rule, all with the same index; §5 makes it a normal mbox (first match): the first counts
            continue
        out[key] = {"options": _options(mbox.get("options"), execute), "metrics": _metrics(mbox.get("metrics"))}
    # §11 row 1 "pageLoad evaluated on every request": the official engine answers a pageLoad in every mode of
    # the request, asked for or not; only a requested one is compared
    if "pageLoad" in requested and section.get("pageLoad") is not None:
        page = section["pageLoad"]
        out["pageLoad"] = {"options": _options(page.get("options"), execute), "metrics": _metrics(page.get("metrics"))}
    elif "pageLoad" in requested:
        out["pageLoad"] = {"options": [], "metrics": []}
    for view in section.get("views") or ():
        out[f"view {view.get('name')}"] = {
            "options": _options(view.get("options"), execute),
            "metrics": _metrics(view.get("metrics")),
        }
    return out


def decisions(response: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"status": response.get("status")}
    for mode in ("execute", "prefetch"):
        if mode in request:
            out[mode] = _section(response.get(mode), mode, request[mode])
    return out


def notified(notifications: list[dict[str, Any]], request: dict[str, Any], official: bool) -> list[tuple[str, str]]:
    pairs = {(n["mbox"]["name"], token) for n in notifications for token in n.get("tokens") or ()}
    if official and "pageLoad" not in request.get("execute", {}):
        # §11 row 1: the official engine notifies the global mbox for a pageLoad nobody asked for (and the global
        # mbox is never requested as a plain execute mbox here, see _mboxes)
        pairs = {p for p in pairs if p[0] != GLOBAL_MBOX}
    return sorted(pairs)


def ours(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    engine = DecisionEngine(load_artifact(REAL_ARTIFACT.read_bytes()), client=CLIENT, organization_id=ORG)
    out = []
    for case in cases:
        decision = engine.decide(
            structure(case["request"], DeliveryRequest), now=case["now_ms"] / 1000, telemetry=False
        )
        out.append(
            {
                "response": unstructure(decision.response),
                "notifications": [unstructure(n) for n in decision.notifications],
            }
        )
    return out


def theirs(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    batch = {"artifact": str(REAL_ARTIFACT), "client": CLIENT, "organization_id": ORG, "cases": cases}
    run = subprocess.run(
        [str(OFFICIAL_PYTHON), str(SCRIPT)],
        input=json.dumps(batch),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    answers: list[dict[str, Any]] = json.loads(run.stdout)
    return answers


def disagreements(
    cases: list[dict[str, Any]], answers: list[dict[str, Any]], official_answers: list[dict[str, Any]]
) -> list[str]:
    found = []
    for number, (case, mine, official) in enumerate(zip(cases, answers, official_answers, strict=True)):
        request = case["request"]
        if "error" in official:
            found.append(f"case {number}: the official engine failed: {official['error']}\n  {json.dumps(case)}")
            continue
        a, b = decisions(mine["response"], request), decisions(official["response"], request)
        if a != b:
            found.append(
                f"case {number}: decisions differ\n  ours:     {json.dumps(a)}\n"
                f"  official: {json.dumps(b)}\n  {json.dumps(case)}"
            )
        na, nb = notified(mine["notifications"], request, False), notified(official["notifications"], request, True)
        if na != nb:
            found.append(
                f"case {number}: notifications differ\n  ours:     {na}\n  official: {nb}\n  {json.dumps(case)}"
            )
    return found


@pytest.mark.skipif(
    not OFFICIAL_PYTHON.exists(), reason="Adobe's SDK venv .venv-official is missing: run sh scripts/official-venv"
)
def test_our_engine_decides_as_adobes_on_random_requests_over_the_real_artifact() -> None:
    cases = generate(CASES, SEED)
    answers = ours(cases)
    found = disagreements(cases, answers, theirs(cases))
    assert not found, f"{len(found)} of {len(cases)} cases disagree:\n" + "\n".join(found[:10])
    # not vacuous: most answers carry offers, many notify, and views, page loads, geo tokens and 206s occur
    text = [json.dumps(a) for a in answers]
    assert sum('"options"' in t for t in text) > CASES * 0.6
    assert sum(bool(a["notifications"]) for a in answers) > CASES * 0.4
    assert sum('"views"' in t for t in text) > 50 and sum('"pageLoad"' in t for t in text) > 80
    assert sum('"geo.city"' in t for t in text) > 50
    assert sum(a["response"]["status"] == 206 for a in answers) > 20


def test_the_generator_covers_the_artifact() -> None:
    """The random requests reach every local mbox, both views, page loads, every user agent and URL."""
    cases = generate(CASES, SEED)
    requested = {
        m["name"]
        for c in cases
        for mode in ("execute", "prefetch")
        for m in c["request"].get(mode, {}).get("mboxes", ())
    }
    assert set(LOCAL_MBOXES) <= requested
    assert any("pageLoad" in c["request"].get("execute", {}) for c in cases)
    assert any("views" in c["request"].get("prefetch", {}) for c in cases)
    assert {c["request"]["context"].get("userAgent") for c in cases} == set(USER_AGENTS)
