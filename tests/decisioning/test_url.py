"""The ``page``/``referring`` context (Public Suffix List) and the ``mbox`` parameters context (§4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from target_async.decisioning import _url
from target_async.decisioning._jsonlogic import compile_logic
from target_async.decisioning._url import unflatten_parameters, url_context

VECTORS = Path(__file__).resolve().parents[1] / "data" / "on-device"


def parts(url: str | None) -> tuple[str, str, str, str, str, str]:
    c = url_context(url)
    return c["path"], c["query"], c["fragment"], c["subdomain"], c["domain"], c["topLevelDomain"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "http://local-target-test:8080/home?bar=true#hello",
            ("/home", "bar=true", "hello", "", "local-target-test", ""),
        ),
        (
            "https://pied.piper.decentralized.test.hooli.com/?implementation=psl",
            ("/", "implementation=psl", "", "pied.piper.decentralized.test", "hooli.com", "com"),
        ),
        (  # a private PSL suffix (TEST_SUITE_ADDRESS long_tld_request_context)
            "https://test.wayne-enterprises.us-east-1.elasticbeanstalk.com",
            ("/", "", "", "test", "wayne-enterprises.us-east-1.elasticbeanstalk.com", "us-east-1.elasticbeanstalk.com"),
        ),
        ("http://www.bbc.co.uk/news", ("/news", "", "", "", "bbc.co.uk", "co.uk")),
        ("http://www.shop.www.example.com/", ("/", "", "", "shop.www", "example.com", "com")),
        # §11: Adobe strips the characters "www" anywhere; only a leading www label goes
        ("http://wwwfoo.example.com/", ("/", "", "", "wwwfoo", "example.com", "com")),
        ("http://awww.example.com/", ("/", "", "", "awww", "example.com", "com")),
        # §11: host without port, user-info, case
        ("https://User:Pass@WWW.Example.COM:8443/A/B?Q=1#F", ("/A/B", "Q=1", "F", "", "example.com", "com")),
        ("http://adobe.com", ("/", "", "", "", "adobe.com", "com")),
        ("http://localhost:3000/x", ("/x", "", "", "", "localhost", "")),
        ("http://co.uk/", ("/", "", "", "", "co.uk", "")),
        ("http://192.168.0.1:8080/p", ("/p", "", "", "", "192.168.0.1", "")),
        ("http://[2001:db8::1]/p", ("/p", "", "", "", "2001:db8::1", "")),
        ("http://a.b.unknowntld/", ("/", "", "", "a", "b.unknowntld", "unknowntld")),
        ("http://example.com./", ("/", "", "", "", "example.com", "com")),
        ("example.com/path?q", ("/path", "q", "", "", "example.com", "com")),
        ("/relative/only?x=1", ("/relative/only", "x=1", "", "", "", "")),
        ("http://[broken/x", ("", "", "", "", "", "")),
        ("", ("", "", "", "", "", "")),
        (None, ("", "", "", "", "", "")),
    ],
)
def test_url_parts(url: str | None, expected: tuple[str, ...]) -> None:
    assert parts(url) == expected


def test_keys_order_and_lower_case_copies() -> None:
    c = url_context("https://Shop.Example.COM/Cart?ID=X#Top")
    assert list(c) == [
        "url", "path", "query", "fragment", "subdomain", "domain", "topLevelDomain",
        "url_lc", "path_lc", "query_lc", "fragment_lc", "subdomain_lc", "domain_lc", "topLevelDomain_lc",
    ]  # fmt: skip
    assert c["url"] == "https://Shop.Example.COM/Cart?ID=X#Top"
    assert c["url_lc"] == "https://shop.example.com/cart?id=x#top"
    assert (c["path"], c["path_lc"], c["query"], c["query_lc"]) == ("/Cart", "/cart", "ID=X", "id=x")
    assert (c["subdomain"], c["subdomain_lc"]) == ("shop", "shop")


def test_trace_vector_page_and_empty_referring() -> None:
    suite = json.loads((VECTORS / "models" / "TEST_SUITE_TRACE.json").read_text())
    found = 0
    for case in suite["test"].values():
        for section in ("execute", "prefetch"):
            for mbox in case["output"].get(section, {}).get("mboxes", []):
                for target in mbox.get("trace", {}).get("evaluatedCampaignTargets", []):
                    ctx = target["context"]
                    assert dict(url_context(ctx["page"]["url"])) == ctx["page"]
                    assert dict(url_context(None)) == ctx["referring"]
                    found += 1
    assert found


def test_address_vectors_conditions_match() -> None:
    fixture = json.loads((VECTORS / "artifacts" / "TEST_ARTIFACT_ADDRESS.json").read_text())
    rules = fixture["rules"]["mboxes"]["mbox-urlcontains"]
    by_url = {
        "https://pied.piper.decentralized.test.hooli.com/?implementation=psl": rules[4]["condition"],
        "https://test.wayne-enterprises.us-east-1.elasticbeanstalk.com": rules[0]["condition"],
        "http://local-target-test:8080/home?bar=true#hello": rules[2]["condition"],
    }
    for url, condition in by_url.items():
        assert compile_logic(condition)({"allocation": 10.0, "page": url_context(url)}) is True, url


def test_result_is_read_only_cached_and_bounded() -> None:
    first = url_context("http://cache.example.com/")
    with pytest.raises(TypeError):
        first["domain"] = "evil.com"  # type: ignore[index]
    assert url_context("http://cache.example.com/") is first
    _url._parse_cached.cache_clear()
    for i in range(_url.CACHE_SIZE + 20):
        url_context(f"http://example.com/{i}")
    assert _url._parse_cached.cache_info().currsize == _url.CACHE_SIZE
    long_url = "http://example.com/" + "a" * (_url.MAX_CACHED_URL + 1)
    before = _url._parse_cached.cache_info()
    assert url_context(long_url)["path"] == "/" + "a" * (_url.MAX_CACHED_URL + 1)
    after = _url._parse_cached.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)  # not cached


def test_no_network_and_bundled_list() -> None:
    """The Public Suffix List ships in the wheel: parsing a URL never opens a socket."""
    import socket

    original = socket.socket.connect

    def refuse(*_: Any) -> None:
        raise AssertionError("network access")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    try:
        assert url_context("http://offline.example.org/")["domain"] == "example.org"
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]


# -- unflatten_parameters ----------------------------------------------------------------------------------


def test_unflatten_on_dots_with_lower_case_copies_recursively() -> None:
    got = unflatten_parameters(
        {
            "first.programming.language": "Racket",
            "favorite.color": "RED",
            "favorite.movie": "The Big Lebowski",
            "foo": "Bar",
            "n": 5,
        }
    )
    assert got == {
        "first": {"programming": {"language": "Racket", "language_lc": "racket"}},
        "favorite": {"color": "RED", "color_lc": "red", "movie": "The Big Lebowski", "movie_lc": "the big lebowski"},
        "foo": "Bar",
        "foo_lc": "bar",
        "n": 5,
    }


def test_params_vector_condition_reads_unflattened_lower_case_keys() -> None:
    fixture = json.loads((VECTORS / "artifacts" / "TEST_ARTIFACT_PARAMS.json").read_text())
    conditions = [r["condition"] for rules in fixture["rules"]["mboxes"].values() for r in rules]
    condition = next(c for c in conditions if "mbox.favorite.color_lc" in json.dumps(c))
    mbox = unflatten_parameters(
        {"first.programming.language": "RACKET", "favorite.color": "Red", "favorite.movie": "The Big Lebowski"}
    )
    assert compile_logic(condition)({"allocation": 10.0, "mbox": mbox}) is True


@pytest.mark.parametrize("key", ["a..b", ".a", "a.", "..", "."])
def test_odd_dotted_keys_stay_flat(key: str) -> None:
    assert unflatten_parameters({key: "V"}) == {key: "V", f"{key}_lc": "v"}


@pytest.mark.parametrize(
    "params",
    [
        {"a": "1", "a.b": "2"},
        {"a.b": "2", "a": "1"},
    ],
)
def test_flat_key_clashing_with_dotted_prefix_keeps_both_whatever_the_order(params: dict[str, Any]) -> None:
    """The shorter path wins its place; the clashing dotted key stays flat under its full name."""
    assert unflatten_parameters(params) == {"a": "1", "a_lc": "1", "a.b": "2", "a.b_lc": "2"}


def test_dotted_keys_clashing_with_each_other() -> None:
    for params in ({"a.b": "x", "a.b.c": "y"}, {"a.b.c": "y", "a.b": "x"}):
        assert unflatten_parameters(params) == {"a": {"b": "x", "b_lc": "x"}, "a.b.c": "y", "a.b.c_lc": "y"}
    # a caller's object value is not written into
    caller = {"k": 1}
    got = unflatten_parameters({"a": caller, "a.b": "z"})
    assert caller == {"k": 1}
    assert got["a"] == {"k": 1} and got["a.b"] == "z"


def test_caller_lc_key_is_kept_and_input_not_changed() -> None:
    params = {"foo": "BAR", "foo_lc": "custom", "o": {"X": "Y"}}
    got = unflatten_parameters(params)
    assert got["foo_lc"] == "custom"
    assert got["o"] == {"X": "Y", "X_lc": "y"}
    assert params == {"foo": "BAR", "foo_lc": "custom", "o": {"X": "Y"}}


def test_empty_parameters() -> None:
    assert unflatten_parameters(None) == {}
    assert unflatten_parameters({}) == {}


def test_hostile_parameters_and_urls() -> None:
    deep_key = ".".join(["k"] * 20_000)
    got = unflatten_parameters({deep_key: "V", "a.b": "C"})
    assert got[deep_key] == "V"  # too many parts: stays flat, the context stays shallow
    assert got["a"] == {"b": "C", "b_lc": "c"}
    limit = ".".join(["k"] * _url.MAX_KEY_DEPTH)
    node = unflatten_parameters({limit: "v"})
    for _ in range(_url.MAX_KEY_DEPTH - 1):
        node = node["k"]
    assert node == {"k": "v", "k_lc": "v"}
    many = unflatten_parameters({f"p{i}.q": str(i) for i in range(20_000)})
    assert len(many) == 20_000 and many["p7"] == {"q": "7", "q_lc": "7"}
    huge = "http://" + ".".join(["a"] * 50_000) + ".example.com/" + "x" * 1_000_000
    assert url_context(huge)["domain"] == "example.com"
    assert url_context("http://exa mple.com:notaport/x")["path"] == "/x"
    assert url_context("\x00\ud800://")["domain"] == ""
    assert url_context("localhost:8080/x")["domain"] == ""  # no dot: not read as a host
    assert url_context("shop.example.com:8080/x")["domain"] == "example.com"
