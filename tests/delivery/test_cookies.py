"""The mbox cookie format (property tests) and cluster parsing."""

from __future__ import annotations

import time

from hypothesis import given, strategies as st

from target_async.delivery._cookies import (
    build_target_cookie,
    parse_target_cookie,
)

ids = st.text(min_size=1, max_size=40)


@given(session=ids, tnt=st.one_of(st.none(), ids))
def test_build_then_parse_round_trips(session: str, tnt: str | None) -> None:
    now = 1_700_000_000.0
    cookie = build_target_cookie(session, tnt, now=now)
    parsed = parse_target_cookie(cookie.value, now=now)
    expected = {"session": session}
    if tnt:
        expected["PC"] = tnt
    assert parsed == expected
    assert cookie.max_age == (63244800 if tnt else 1860)
    # every entry is name#value#expiry with '|' and '#' only as separators
    assert cookie.value.count("|") == len(expected) - 1
    assert all(part.count("#") == 2 for part in cookie.value.split("|"))


@given(st.text(max_size=200))
def test_parse_never_raises(value: str) -> None:
    assert isinstance(parse_target_cookie(value), dict)


def test_observed_official_example() -> None:
    now = 1795336320 - 1860
    cookie = build_target_cookie("s1", "123", now=now)
    assert cookie.value == "session#s1#1795336320|PC#123#1858579260"
    assert cookie.max_age == 63244800
    assert cookie.as_dict() == {"name": "mbox", "value": cookie.value, "maxAge": 63244800}


def test_expired_and_malformed_entries_are_skipped() -> None:
    now = int(time.time())
    value = f"session#old#{now - 10}|PC#abc#{now + 100}|junk|x#y#notanint|session#new#{now + 100}"
    assert parse_target_cookie(value) == {"PC": "abc", "session": "new"}


def test_whole_value_percent_encoded() -> None:
    now = int(time.time())
    assert parse_target_cookie(f"session%23s1%23{now + 100}%7CPC%23t%23{now + 100}") == {
        "session": "s1",
        "PC": "t",
    }
