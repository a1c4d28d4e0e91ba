"""RFC 6902 JSON Patch and RFC 6901 pointers (examples from RFC 6902 appendix A and RFC 6901 §5)."""

from __future__ import annotations

import pytest

from target_async.emulator._jsonpatch import (
    PatchApplyError,
    PatchFormatError,
    apply_patch,
    json_equal,
    parse_pointer,
)


@pytest.mark.parametrize(
    ("doc", "patch", "expected"),
    [
        ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
        ({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"]}),
        ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
        ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
        (
            {"baz": "qux", "foo": "bar"},
            [{"op": "replace", "path": "/baz", "value": "boo"}],
            {"baz": "boo", "foo": "bar"},
        ),
        (
            {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
            [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
            {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
        ),
        (
            {"foo": ["all", "grass", "cows", "eat"]},
            [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
            {"foo": ["all", "cows", "eat", "grass"]},
        ),
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
            {"foo": "bar", "child": {"grandchild": {}}},
        ),
        (
            {"foo": ["bar"]},
            [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
            {"foo": ["bar", ["abc", "def"]]},
        ),
        ({"/": 1, "~": 2}, [{"op": "replace", "path": "/~1", "value": 3}, {"op": "remove", "path": "/~0"}], {"/": 3}),
        (
            {"a": {"b": 1}},
            [{"op": "copy", "from": "/a", "path": "/c"}, {"op": "add", "path": "/c/b", "value": 2}],
            {"a": {"b": 1}, "c": {"b": 2}},
        ),
        ({"a": 1}, [{"op": "replace", "path": "", "value": [1]}], [1]),
        ({"a": 1}, [{"op": "move", "from": "/a", "path": "/a"}], {"a": 1}),
        (
            {"baz": "qux", "foo": ["a", 2, "c"]},
            [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
            {"baz": "qux", "foo": ["a", 2, "c"]},
        ),
        (
            {"a": {"x": 1, "y": [1.0]}},
            [{"op": "test", "path": "/a", "value": {"y": [1], "x": 1}}],
            {"a": {"x": 1, "y": [1.0]}},
        ),
    ],
)
def test_rfc6902_examples(doc, patch, expected):
    before = repr(doc)
    assert apply_patch(doc, patch) == expected
    assert repr(doc) == before  # the input is never modified


@pytest.mark.parametrize(
    ("doc", "patch"),
    [
        ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}]),
        ({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}]),
        ({"foo": "bar"}, [{"op": "remove", "path": "/nope"}]),
        ({"foo": "bar"}, [{"op": "replace", "path": "/nope", "value": 1}]),
        ({"foo": [1]}, [{"op": "add", "path": "/foo/2", "value": 1}]),
        ({"foo": [1]}, [{"op": "add", "path": "/foo/01", "value": 1}]),
        ({"foo": [1]}, [{"op": "remove", "path": "/foo/-"}]),
        ({"foo": [1]}, [{"op": "remove", "path": "/foo/1"}]),
        ({"foo": 1}, [{"op": "add", "path": "/foo/x", "value": 1}]),
        ({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}]),
        ({"a": 1}, [{"op": "remove", "path": ""}]),
        ({"a": 1}, [{"op": "copy", "from": "/nope", "path": "/b"}]),
        ({"x": True}, [{"op": "test", "path": "/x", "value": 1}]),
        ({"a": 1}, [{"op": "add", "path": "/b", "value": 1}, {"op": "test", "path": "/a", "value": 2}]),
    ],
)
def test_inapplicable_operations(doc, patch):
    before = repr(doc)
    with pytest.raises(PatchApplyError):
        apply_patch(doc, patch)
    assert repr(doc) == before


@pytest.mark.parametrize(
    "patch",
    [
        {"op": "add", "path": "/a", "value": 1},
        [1],
        [{"path": "/a"}],
        [{"op": "ADD", "path": "/a", "value": 1}],
        [{"op": "add", "value": 1}],
        [{"op": "add", "path": 3, "value": 1}],
        [{"op": "add", "path": "a", "value": 1}],
        [{"op": "add", "path": "/a~2", "value": 1}],
        [{"op": "add", "path": "/a~", "value": 1}],
        [{"op": "replace", "path": "/a"}],
        [{"op": "test", "path": "/a"}],
        [{"op": "copy", "path": "/a"}],
        [{"op": "move", "path": "/a", "from": "b"}],
    ],
)
def test_malformed_patch_documents(patch):
    with pytest.raises(PatchFormatError):
        apply_patch({"a": 1}, patch)


def test_pointers():
    assert parse_pointer("") == []
    assert parse_pointer("/") == [""]
    assert parse_pointer("/a~1b/m~0n/~01") == ["a/b", "m~n", "~1"]
    assert parse_pointer("/_instance/xdm:tags/-") == ["_instance", "xdm:tags", "-"]


def test_json_equality():
    assert json_equal(1, 1.0) and not json_equal(True, 1) and not json_equal(0, False)
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not json_equal([1, 2], [2, 1]) and not json_equal({"a": 1}, {"a": 1, "b": 2}) and not json_equal("1", 1)
