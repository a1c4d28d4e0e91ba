"""Which libraries the on-device engine's context and rule evaluation should use, by measurement.

    .venv/bin/python benchmarks/bench_ondevice_libs.py [--quick] [--no-install]

Three contests, each candidate in its own worker process (two JSON Logic packages both install a module named
``json_logic``), on the real ``artifact.json`` of the conformance vectors:

1. JSON Logic: target-async's own compiler (``target_async/decisioning/_jsonlogic.py``, rules compiled once into
   closures) against ``datalogic-py`` (Rust, compile once; plain ``Rule.evaluate(dict)`` and the
   ``Session``+``DataHandle`` hot path), ``json-logic-qubit`` 0.9.1 (what Adobe's Python SDK uses; interprets the
   rule each call) and ``panzi-json-logic`` (interprets). Reported: agreement with json-logic-js on a table of
   its behaviours (on-device.md §5/§11), the cost of compiling all 152 conditions, of one typical condition (the
   allocation split, the artifact's most common) and the mean over every condition of the artifact.
2. User agents: ``ua-parser`` 1.x with its pure-Python resolver, with ``ua-parser-rs`` (native, the "regex"
   extra), with ``google-re2``, and ``user-agents`` 2.2 (Adobe's Python SDK). Cold = a user agent not seen
   before (no cache), warm = target-async's LRU hit; plus the one-off set-up cost.
3. Public Suffix List: ``publicsuffixlist`` against ``tldextract`` (offline: ``suffix_list_urls=()``, the
   bundled snapshot, private domains on); load cost, cost per host, and whether the vectors' hosts split right.

Candidates that are not dependencies of target-async are installed with pip into ``benchmarks/.libs/<name>``
(reused; ``--no-install`` skips them instead). Prints one table per contest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LIBS = HERE / ".libs"
ARTIFACT = ROOT / "tests" / "data" / "on-device" / "artifact.json"

EXTRA_PACKAGES = {
    "datalogic-py": ["datalogic-py"],
    "json-logic-qubit": ["json-logic-qubit==0.9.1"],
    "panzi-json-logic": ["panzi-json-logic"],
    "user-agents": ["user-agents"],
    "google-re2": ["google-re2"],
    "tldextract": ["tldextract"],
}

# (rule, data, what json-logic-js answers)
JS_SEMANTICS: list[tuple[Any, Any, Any]] = [
    ({"==": [37.8, "37.80"]}, {}, True),
    ({"<=": ["37.80", {"var": "lat"}]}, {"lat": 37.8}, True),
    ({">=": ["37.80", {"var": "lat"}]}, {"lat": 37.8}, True),
    ({"<": [None, 5]}, {}, True),
    ({"==": [1, "1"]}, {}, True),
    ({"==": [None, 0]}, {}, False),
    ({"==": [True, "1"]}, {}, True),
    ({"<": ["10", "9"]}, {}, True),
    ({"<": [1, 2, 3]}, {}, True),
    ({"in": ["bar", "foobar"]}, {}, True),
    ({"!!": [[]]}, {}, False),
    ({"and": [1, "a"]}, {}, "a"),
    ({"or": [0, "", "z"]}, {}, "z"),
    ({"cat": ["a", 1.0, None]}, {}, "a1"),
    ({"+": ["1", "2"]}, {}, 3),
    ({"max": [1, "3"]}, {}, 3),
    ({"var": ["a.b", "d"]}, {"a": {"b": None}}, None),
    ({"var": "a.1"}, {"a": [5, 6]}, 6),
    ({"missing": ["a", "b"]}, {"a": 1}, ["b"]),
    ({"substr": ["jsonlogic", 4, -2]}, {}, "log"),
]

UAS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_3) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.130 "
    "Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:73.0) Gecko/20100101 Firefox/73.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0.5 "
    "Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
    "Safari/537.36 Edg/120.0.0.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
    "Safari/537.36 OPR/106.0.0.0",
]
UA_EXPECT = ["chrome", "firefox", "safari", "ie", "edge", "mobile safari|safari", "chrome mobile|chrome", "opera"]

HOSTS = {
    "test.wayne-enterprises.us-east-1.elasticbeanstalk.com": (
        "wayne-enterprises.us-east-1.elasticbeanstalk.com",
        "us-east-1.elasticbeanstalk.com",
    ),
    "pied.piper.decentralized.test.hooli.com": ("hooli.com", "com"),
    "www.bbc.co.uk": ("bbc.co.uk", "co.uk"),
    "shop.example.com": ("example.com", "com"),
}


def per_call(fn: Any, n: int, repeats: int = 5) -> float:
    """Best-of-``repeats`` seconds per call of ``fn()`` over ``n`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best


# ------------------------------------------------------------------------------------------------------
# workers (run in a child process with the candidate on sys.path)
# ------------------------------------------------------------------------------------------------------


def _conditions() -> list[Any]:
    artifact = json.loads(ARTIFACT.read_text())
    return [r["condition"] for kind in ("mboxes", "views") for rules in artifact["rules"][kind].values() for r in rules]


CONTEXT = {
    "allocation": 42.17,
    "current_timestamp": 1_733_400_000_000,
    "current_time": "1230",
    "current_day": "5",
    "user": {"browserType": "chrome", "browserVersion": 80, "platform": "mac", "locale": "en"},
    "page": {
        "url": "http://local-target-test/",
        "path": "/",
        "domain": "local-target-test",
        "url_lc": "http://local-target-test/",
        "path_lc": "/",
        "domain_lc": "local-target-test",
        "query_lc": "",
        "subdomain_lc": "",
        "topLevelDomain_lc": "",
    },
    "geo": {"country": "US", "region": "CA", "city": "SAN FRANCISCO", "latitude": 37.75, "longitude": -122.4},
    "mbox": {"greg": "correct", "jason": "correct", "foo": "bar"},
}
TYPICAL = {"and": [{"<=": [0, {"var": "allocation"}]}, {">=": [50, {"var": "allocation"}]}]}


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, list):
        return isinstance(a, (list, tuple)) and list(a) == b
    if isinstance(b, bool) or b is None:
        return a is b
    return bool(type(a) is not bool and a == b)


def _raises(fn: Any) -> bool:
    try:
        fn(CONTEXT)
    except Exception:
        return True
    return False


def worker_jsonlogic(name: str, quick: bool) -> dict[str, Any]:
    compile_: Any
    if name == "target-async":
        from target_async.decisioning._jsonlogic import compile_logic

        def compile_(rule: Any) -> Any:
            return compile_logic(rule)

    elif name in ("datalogic-py", "datalogic-py (session+handle)"):
        import datalogic_py

        engine = datalogic_py.Engine()
        if name == "datalogic-py":

            def compile_(rule: Any) -> Any:
                return engine.compile(rule).evaluate

        else:
            session = engine.session()

            def compile_(rule: Any) -> Any:
                compiled = engine.compile(rule)
                # The context differs per rule (allocation) and per request: a handle is built per evaluation.
                return lambda data: session.evaluate_data(compiled, datalogic_py.DataHandle(data))

    elif name in ("json-logic-qubit", "panzi-json-logic"):
        from json_logic import jsonLogic

        def compile_(rule: Any) -> Any:
            return lambda data: jsonLogic(rule, data)

    else:
        raise SystemExit(f"unknown candidate {name}")

    agree, wrong = 0, []
    for rule, data, expected in JS_SEMANTICS:
        try:
            got = compile_(rule)(data)
        except Exception as exc:  # a failure is a disagreement
            got = f"raised {type(exc).__name__}"
        if _same(got, expected):
            agree += 1
        else:
            wrong.append(f"{json.dumps(rule)} -> {got!r}")
    conditions = _conditions()
    start = time.perf_counter()
    fns = [compile_(c) for c in conditions]
    compile_ms = (time.perf_counter() - start) * 1e3
    typical = compile_(TYPICAL)
    n = 2_000 if quick else 20_000
    typical_us = per_call(lambda: typical(CONTEXT), n) * 1e6

    def all_once() -> None:
        for f in fns:
            f(CONTEXT)

    all_us = per_call(all_once, max(10, n // 200)) / len(fns) * 1e6
    errors = sum(1 for f in fns if _raises(f))
    return {
        "agree": agree,
        "of": len(JS_SEMANTICS),
        "wrong": wrong[:4],
        "compile_ms": compile_ms,
        "typical_us": typical_us,
        "mean_us": all_us,
        "conditions": len(fns),
        "errors": errors,
    }


def worker_ua(name: str, quick: bool) -> dict[str, Any]:
    import itertools

    parse: Any
    start = time.perf_counter()
    if name.startswith("ua-parser"):
        import ua_parser

        resolver_cls = {
            "ua-parser (pure Python)": ua_parser.BasicResolver,
            "ua-parser + ua-parser-rs": ua_parser.RegexResolver,
            "ua-parser + google-re2": ua_parser.Re2Resolver,
        }[name]
        if resolver_cls is None:
            return {"missing": True}
        resolver = resolver_cls(ua_parser.load_builtins())
        domains = ua_parser.Domain.USER_AGENT | ua_parser.Domain.OS

        def parse(ua: str) -> Any:
            r = resolver(ua, domains)
            return r.user_agent.family if r.user_agent else "Other"

    elif name == "user-agents":
        import user_agents

        def parse(ua: str) -> Any:
            return user_agents.parse(ua).browser.family

    else:
        raise SystemExit(f"unknown candidate {name}")
    parse(UAS[0])
    setup_ms = (time.perf_counter() - start) * 1e3
    ok = sum(1 for ua, want in zip(UAS, UA_EXPECT, strict=True) if parse(ua).lower() in want.split("|"))
    # Cold: a user agent never seen (a distinct build number each call defeats any cache inside the library).
    counter = itertools.count()
    n = 100 if quick else 600

    def cold() -> None:
        i = next(counter)
        parse(UAS[i % len(UAS)].replace("Gecko)", f"Gecko {i})"))

    cold_us = per_call(cold, n, 3) * 1e6
    return {"setup_ms": setup_ms, "cold_us": cold_us, "families_ok": ok, "of": len(UAS)}


def worker_ua_ours(quick: bool) -> dict[str, Any]:
    from target_async.decisioning import _useragent

    n = 20_000 if not quick else 2_000
    _useragent.user_context(UAS[0])
    warm_us = per_call(lambda: _useragent.user_context(UAS[0]), n) * 1e6
    hints = {"browserUAWithMajorVersion": '" Not A;Brand";v="99", "Chromium";v="96", "Google Chrome";v="96"'}
    _useragent.user_context(UAS[0], hints)
    warm_hints_us = per_call(lambda: _useragent.user_context(UAS[0], hints), n) * 1e6
    return {"warm_us": warm_us, "warm_hints_us": warm_hints_us}


def worker_psl(name: str, quick: bool) -> dict[str, Any]:
    start = time.perf_counter()
    if name == "publicsuffixlist":
        from publicsuffixlist import PublicSuffixList

        psl = PublicSuffixList(accept_unknown=True)

        def split(host: str) -> tuple[str | None, str | None]:
            return psl.privatesuffix(host), psl.publicsuffix(host)

    elif name == "tldextract":
        import socket

        import tldextract

        def refuse(*_: Any) -> None:
            raise RuntimeError("tldextract tried the network")

        socket.socket.connect = refuse  # type: ignore[method-assign]
        extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)

        def split(host: str) -> tuple[str | None, str | None]:
            r = extract(host)
            return r.top_domain_under_public_suffix, r.suffix

    else:
        raise SystemExit(f"unknown candidate {name}")
    split("warm.example.com")
    load_ms = (time.perf_counter() - start) * 1e3
    ok = sum(1 for host, want in HOSTS.items() if split(host) == want)
    hosts = list(HOSTS)
    n = 5_000 if quick else 50_000
    i = iter(range(10**9))
    per_host_us = per_call(lambda: split(hosts[next(i) % len(hosts)]), n) * 1e6
    return {"load_ms": load_ms, "per_host_us": per_host_us, "hosts_ok": ok, "of": len(HOSTS)}


def worker_url_ours(quick: bool) -> dict[str, Any]:
    from target_async.decisioning import _url

    n = 20_000 if not quick else 2_000
    url = "https://pied.piper.decentralized.test.hooli.com/?implementation=psl"
    _url.url_context(url)
    warm_us = per_call(lambda: _url.url_context(url), n) * 1e6
    i = iter(range(10**9))
    cold_us = per_call(lambda: _url._parse(f"https://www.shop{next(i)}.example.co.uk/a/b?c=d#e"), n // 4) * 1e6
    return {"warm_us": warm_us, "cold_us": cold_us}


# ------------------------------------------------------------------------------------------------------
# driver
# ------------------------------------------------------------------------------------------------------


def lib_path(package: str, install: bool) -> Path | None:
    """The directory holding ``package`` (and its dependencies), installed there with pip if needed."""
    target = LIBS / package
    if (target / ".complete").exists():
        return target
    if not install:
        return None
    target.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(target)]
    proc = subprocess.run([*cmd, *EXTRA_PACKAGES[package]], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  (could not install {package}: {proc.stderr.strip().splitlines()[-1:]})")
        return None
    (target / ".complete").write_text("ok\n")
    return target


def run_worker(kind: str, name: str, quick: bool, extra: Path | None) -> dict[str, Any]:
    env = dict(os.environ)
    if extra is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra), str(ROOT)])
    else:
        env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, __file__, "--worker", kind, name] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"failed": proc.stderr.strip().splitlines()[-1:] or ["?"]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return "\n".join([line, sep, *body])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    ap.add_argument("--no-install", action="store_true", help="skip candidates that are not installed")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        kind, name = args.worker
        if kind == "jsonlogic":
            out = worker_jsonlogic(name, args.quick)
        elif kind == "ua":
            out = worker_ua_ours(args.quick) if name == "ours" else worker_ua(name, args.quick)
        elif kind == "psl":
            out = worker_url_ours(args.quick) if name == "ours" else worker_psl(name, args.quick)
        else:
            raise SystemExit(kind)
        print(json.dumps(out))
        return

    install = not args.no_install
    print(f"# On-device library choices  (python {sys.version.split()[0]}, {os.cpu_count()} CPUs)\n")

    print("## JSON Logic over the real artifact.json\n")
    rows = []
    for name, package in [
        ("target-async", None),
        ("datalogic-py", "datalogic-py"),
        ("datalogic-py (session+handle)", "datalogic-py"),
        ("json-logic-qubit", "json-logic-qubit"),
        ("panzi-json-logic", "panzi-json-logic"),
    ]:
        path = lib_path(package, install) if package else None
        if package and path is None:
            rows.append([name, "not installed", "", "", "", ""])
            continue
        r = run_worker("jsonlogic", name, args.quick, path)
        if "failed" in r:
            rows.append([name, f"failed: {r['failed']}", "", "", "", ""])
            continue
        rows.append(
            [
                name,
                f"{r['agree']}/{r['of']}",
                f"{r['compile_ms']:.2f}",
                f"{r['typical_us']:.2f}",
                f"{r['mean_us']:.2f}",
                "; ".join(r["wrong"]) if r["wrong"] else "",
            ]
        )
    print(
        table(
            ["candidate", "json-logic-js agreement", "compile 152 (ms)", "typical µs", "mean µs", "first mismatches"],
            rows,
        )
    )

    print("\n## User agents (browser family + major + OS)\n")
    rows = []
    for name, package in [
        ("ua-parser (pure Python)", None),
        ("ua-parser + ua-parser-rs", None),
        ("ua-parser + google-re2", "google-re2"),
        ("user-agents", "user-agents"),
    ]:
        path = lib_path(package, install) if package else None
        if package and path is None:
            rows.append([name, "not installed", "", ""])
            continue
        r = run_worker("ua", name, args.quick, path)
        if "failed" in r or r.get("missing"):
            rows.append([name, f"failed: {r.get('failed', 'resolver missing')}", "", ""])
            continue
        rows.append([name, f"{r['setup_ms']:.0f}", f"{r['cold_us']:.1f}", f"{r['families_ok']}/{r['of']}"])
    ours = run_worker("ua", "ours", args.quick, None)
    print(table(["candidate", "set-up ms", "cold µs/call", "families right"], rows))
    if "failed" not in ours:
        print(
            f"\ntarget-async user_context, warm (LRU hit): {ours['warm_us']:.2f} µs; "
            f"with client hints: {ours['warm_hints_us']:.2f} µs"
        )

    print("\n## Public Suffix List (offline)\n")
    rows = []
    for name, package in [("publicsuffixlist", None), ("tldextract", "tldextract")]:
        path = lib_path(package, install) if package else None
        if package and path is None:
            rows.append([name, "not installed", "", ""])
            continue
        r = run_worker("psl", name, args.quick, path)
        if "failed" in r:
            rows.append([name, f"failed: {r['failed']}", "", ""])
            continue
        rows.append([name, f"{r['load_ms']:.0f}", f"{r['per_host_us']:.2f}", f"{r['hosts_ok']}/{r['of']}"])
    print(table(["candidate", "load ms", "µs/host", "vector hosts right"], rows))
    ours = run_worker("psl", "ours", args.quick, None)
    if "failed" not in ours:
        print(
            f"\ntarget-async url_context: warm (LRU hit) {ours['warm_us']:.2f} µs; "
            f"cold (parse + PSL) {ours['cold_us']:.2f} µs"
        )


if __name__ == "__main__":
    main()
