"""JSON Logic compiled to closures, with json-logic-js semantics (on-device.md §5, §11)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from target_async.decisioning._jsonlogic import (
    MAX_DEPTH,
    JsonLogicError,
    compile_logic,
    compile_with_variables,
    variables,
)

VECTORS = Path(__file__).resolve().parents[1] / "data" / "on-device"  # the vendored conformance vectors


def run(rule: Any, data: Any = None) -> Any:
    return compile_logic(rule)({} if data is None else data)


def plain(value: Any) -> Any:
    """Arrays as lists, objects as dicts (literal arrays come back as read-only tuples)."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value


# (rule, data, expected) — each row is what json-logic-js 2.x answers.
JS_TABLE: list[tuple[Any, Any, Any]] = [
    # loose equality: numbers and numeric strings compare as numbers (§11: Adobe's Python SDK says False here)
    ({"==": [37.8, "37.80"]}, None, True),
    ({"==": ["37.80", {"var": "geo.latitude"}]}, {"geo": {"latitude": 37.8}}, True),
    ({"==": [1, "1"]}, None, True),
    ({"==": ["", 0]}, None, True),
    ({"==": [" 12 ", 12]}, None, True),
    ({"==": ["0x10", 16]}, None, True),
    ({"==": ["1_0", 10]}, None, False),  # Python's float() would accept this; JavaScript does not
    ({"==": ["inf", math.inf]}, None, False),
    ({"==": ["Infinity", math.inf]}, None, True),
    ({"==": [None, None]}, None, True),
    ({"==": [None, 0]}, None, False),
    ({"==": [None, ""]}, None, False),
    ({"==": [None, False]}, None, False),
    ({"==": [True, 1]}, None, True),
    ({"==": [True, "1"]}, None, True),
    ({"==": [False, "0"]}, None, True),
    ({"==": [[1], 1]}, None, True),  # [1] -> "1" -> 1
    ({"==": [[1, 2], "1,2"]}, None, True),
    ({"==": ["abc", "ABC"]}, None, False),
    ({"==": [{"var": "nan"}, {"var": "nan"}]}, {"nan": math.nan}, False),
    ({"!=": [1, "1"]}, None, False),
    ({"!=": ["a", "b"]}, None, True),
    ({"===": [1, "1"]}, None, False),
    ({"===": [1, 1.0]}, None, True),
    ({"===": [True, 1]}, None, False),
    ({"!==": [1, "1"]}, None, True),
    # relational: numeric strings compare as numbers; two strings compare as strings
    ({"<": ["37.70", 37.8]}, None, True),
    ({">=": ["37.80", 37.8]}, None, True),
    ({"<=": ["37.80", 37.8]}, None, True),
    ({"<": [None, 5]}, None, True),
    ({"<": ["10", "9"]}, None, True),  # both strings: "1" < "9"
    ({"<": [10, "9"]}, None, False),
    ({"<": ["abc", 5]}, None, False),  # NaN
    ({">=": ["abc", 5]}, None, False),
    ({"<=": ["abc", "abc"]}, None, True),
    ({">": [2, 1]}, None, True),
    ({">": ["-122.3", {"var": "lon"}]}, {"lon": -122.4}, True),
    ({"<": [1, 2, 3]}, None, True),
    ({"<": [1, 3, 3]}, None, False),
    ({"<=": [1, 3, 3]}, None, True),
    ({"<=": ["0000", {"var": "t"}, "2359"]}, {"t": "1230"}, True),
    ({"<": [[2], 3]}, None, True),
    ({"<=": [5, 1, {"or": []}]}, None, False),  # a third operand that is undefined: the two-operand form
    ({"<": [1, 2, {"and": []}]}, None, True),
    ({"<": [True, 2]}, None, True),
    ({"<": ["\ue000", "\U0001f600"]}, None, False),  # UTF-16 order: the surrogate pair sorts first
    # truthiness: json-logic-js's truthy treats [] as false
    ({"!": [[]]}, None, True),
    ({"!!": [[]]}, None, False),
    ({"!!": [[0]]}, None, True),
    ({"!!": ["0"]}, None, True),
    ({"!!": [{"var": "nan"}]}, {"nan": math.nan}, False),
    ({"!": [{"var": "missing"}]}, {}, True),
    ({"!": []}, None, True),
    ({"!!": {"var": "o"}}, {"o": {}}, True),
    # and / or return the deciding value
    ({"and": [1, "a", 0, "never"]}, None, 0),
    ({"and": [1, "a"]}, None, "a"),
    ({"or": [0, "", {"var": "x"}]}, {"x": "z"}, "z"),
    ({"or": [0, False]}, None, False),
    ({"and": []}, None, None),
    ({"-": [{"or": []}, 1]}, None, math.nan),  # undefined - 1
    # if / ?:
    ({"if": [True, "yes", "no"]}, None, "yes"),
    ({"if": [[], "yes", "no"]}, None, "no"),
    ({"if": [False, 1, False, 2, 3]}, None, 3),
    ({"if": [False, 1]}, None, None),
    ({"?:": [1, "a", "b"]}, None, "a"),
    ({"if": []}, None, None),
    # var
    ({"var": "a.b"}, {"a": {"b": 1}}, 1),
    ({"var": ["a.c", "dflt"]}, {"a": {"b": 1}}, "dflt"),
    ({"var": ["a.b", "dflt"]}, {"a": {"b": None}}, None),  # present null is not "missing"
    ({"var": ["a.b.c", "dflt"]}, {"a": {"b": None}}, "dflt"),
    ({"var": 1}, ["x", "y"], "y"),
    ({"var": "1.0"}, [["p", "q"], ["r"]], "r"),
    ({"var": "l.01"}, {"l": ["a", "b"]}, None),  # "01" is not an array index in JavaScript
    ({"var": "l.length"}, {"l": ["a", "b"]}, 2),
    ({"var": ""}, {"k": 1}, {"k": 1}),
    ({"var": None}, {"k": 1}, {"k": 1}),
    ({"var": "s.1"}, {"s": "abc"}, "b"),
    ({"var": "n.x"}, {"n": 5}, None),
    ({"var": {"cat": ["a", ".", "b"]}}, {"a": {"b": 7}}, 7),
    ({"var": [{"cat": ["z"]}, 9]}, {}, 9),
    # missing / missing_some
    ({"missing": ["a", "b.c", "d"]}, {"a": 1, "b": {"c": ""}, "d": 0}, ["b.c"]),
    ({"missing": [["a", "z"]]}, {"a": 1}, ["z"]),
    ({"missing_some": [1, ["a", "b"]]}, {"b": 2}, []),
    ({"missing_some": [2, ["a", "b", "c"]]}, {"b": 2}, ["a", "c"]),
    # in
    ({"in": ["target-perf-site", {"var": "u"}]}, {"u": "http://target-perf-site/x"}, True),
    ({"in": ["Spring", "Springfield"]}, None, True),
    ({"in": [1, "a1"]}, None, True),
    ({"in": [None, "nullable"]}, None, True),
    ({"in": ["", "abc"]}, None, True),
    ({"in": ["a", ""]}, None, False),
    ({"in": ["a", None]}, None, False),
    ({"in": ["a", 5]}, None, False),
    ({"in": ["b", ["a", "b"]]}, None, True),
    ({"in": ["1", [1, 2]]}, None, False),  # Array.prototype.indexOf is strict
    ({"in": ["a", {"var": "o"}]}, {"o": {"a": 1}}, False),
    # strings
    ({"cat": ["I love", " pie"]}, None, "I love pie"),
    # json-logic-js 2.x joins its arguments: null prints as "" at the top level, arrays with ","
    ({"cat": ["a", 1.5, None, [1, [2, 3]], True, 1.0]}, None, "a1.51,2,3true1"),
    ({"cat": [[1, None, 2]]}, None, "1,,2"),
    ({"cat": [1e21, 1e-7, 0.1, 1e16, 0.000001, -2.5e-8]}, None, "1e+211e-70.1100000000000000000.000001-2.5e-8"),
    ({"cat": [{"var": "o"}]}, {"o": {"k": 1}}, "[object Object]"),
    ({"cat": []}, None, ""),
    ({"substr": ["jsonlogic", 4]}, None, "logic"),
    ({"substr": ["jsonlogic", -5]}, None, "logic"),
    ({"substr": ["jsonlogic", 1, 3]}, None, "son"),
    ({"substr": ["jsonlogic", 4, -2]}, None, "log"),
    ({"substr": [12345, 1, 2]}, None, "23"),
    ({"substr": ["abc", 10]}, None, ""),
    ({"substr": ["abcdef", 1, -2.5]}, None, "bc"),  # `temp.length + end` = 2.5
    ({"substr": ["abcdef", 0, "-2"]}, None, ""),  # `6 + "-2"` is "6-2": NaN, so length 0
    # arithmetic
    ({"+": [4, 2]}, None, 6),
    ({"+": ["1", "2.5px"]}, None, 3.5),  # parseFloat
    ({"+": []}, None, 0),
    ({"+": "3.14"}, None, 3.14),
    ({"*": [2, "3"]}, None, 6),
    ({"*": ["3"]}, None, "3"),  # reduce without an initial value returns the only item as is
    ({"-": [4, 2]}, None, 2),
    ({"-": [2]}, None, -2),
    ({"-": ["5", "2"]}, None, 3),
    ({"/": [4, 2]}, None, 2),
    ({"/": [1, 0]}, None, math.inf),
    ({"/": [-1, 0]}, None, -math.inf),
    ({"%": [101, 2]}, None, 1),
    ({"%": [-7, 3]}, None, -1),
    ({"min": [1, "0", 3]}, None, 0),
    ({"max": [1, 2, 3]}, None, 3),
    ({"max": []}, None, -math.inf),
    ({"min": []}, None, math.inf),
    # arrays
    ({"map": [{"var": "l"}, {"*": [{"var": ""}, 2]}]}, {"l": [1, 2]}, [2, 4]),
    ({"map": [{"var": "x"}, {"var": ""}]}, {"x": 5}, []),
    ({"filter": [{"var": "l"}, {">": [{"var": ""}, 1]}]}, {"l": [1, 2, 3]}, [2, 3]),
    ({"reduce": [{"var": "l"}, {"+": [{"var": "current"}, {"var": "accumulator"}]}, 10]}, {"l": [1, 2]}, 13),
    ({"reduce": [{"var": "x"}, {"var": "current"}, 4]}, {}, 4),
    ({"all": [[1, 2], {">": [{"var": ""}, 0]}]}, None, True),
    ({"all": [[], {">": [{"var": ""}, 0]}]}, None, False),
    ({"none": [[1, 2], {">": [{"var": ""}, 5]}]}, None, True),
    ({"some": [[1, 2], {">": [{"var": ""}, 1]}]}, None, True),
    ({"some": [None, {">": [{"var": ""}, 1]}]}, None, False),
    ({"merge": [[1, 2], 3, [[4]]]}, None, [1, 2, 3, [4]]),
    ({"log": ["x"]}, None, "x"),
    # literals
    ({"a": 1, "b": 2}, None, {"a": 1, "b": 2}),
    ({}, None, {}),
    ("plain", None, "plain"),
    (True, None, True),
]


@pytest.mark.parametrize(("rule", "data", "expected"), JS_TABLE, ids=lambda v: json.dumps(v)[:60])
def test_json_logic_js_behaviour(rule: Any, data: Any, expected: Any) -> None:
    got = run(rule, data)
    if isinstance(expected, (list, dict)):
        assert plain(got) == expected
    elif isinstance(expected, float) and math.isnan(expected):
        assert isinstance(got, float) and math.isnan(got)
    else:
        assert got == expected
        assert type(got) is type(expected) or {type(got), type(expected)} <= {int, float}


def test_numeric_strings_compare_as_numbers_in_every_comparison() -> None:
    """§11: Adobe's Python engine compares 37.8 and "37.80" as strings; json-logic-js (and we) as numbers."""
    data = {"geo": {"latitude": 37.8}}
    for op in ("==", "<=", ">="):
        assert run({op: ["37.80", {"var": "geo.latitude"}]}, data) is True, op
    for op in ("<", ">", "!="):
        assert run({op: ["37.80", {"var": "geo.latitude"}]}, data) is False, op


def test_unknown_operator_is_refused_at_compile_time_naming_it() -> None:
    with pytest.raises(JsonLogicError, match="'parseTypo'"):
        compile_logic({"and": [{"==": [1, 1]}, {"parseTypo": [1]}]})
    with pytest.raises(JsonLogicError, match="'method'"):  # calls methods of the data in json-logic-js
        compile_logic({"method": ["abc", "toUpperCase"]})
    assert issubclass(JsonLogicError, ValueError)


@pytest.mark.parametrize("rule", [{"*": []}, {"==": [object(), 1]}, {1: [1]}, {"and": [{1, 2}]}])
def test_malformed_rules_are_refused(rule: Any) -> None:
    with pytest.raises(JsonLogicError):
        compile_logic(rule)


def test_deeply_nested_rule_is_a_jsonlogic_error_not_a_recursion_crash() -> None:
    rule: Any = True
    for _ in range(50_000):
        rule = {"!": [rule]}
    with pytest.raises(JsonLogicError, match="nested deeper"):
        compile_logic(rule)
    with pytest.raises(JsonLogicError):
        variables(rule)
    nested_list: Any = 1
    for _ in range(50_000):
        nested_list = [nested_list]
    with pytest.raises(JsonLogicError):
        compile_logic({"==": [nested_list, 1]})
    ok: Any = True
    for _ in range(MAX_DEPTH // 2 - 1):
        ok = {"!": [{"!": [ok]}]}
    assert compile_logic(ok)({}) is True


def test_hostile_data_never_raises() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    deep: Any = "x"
    for _ in range(100_000):
        deep = [deep]
    huge = "a" * 5_000_000 + "needle"
    big_int = 10**5000
    rules = [
        ({"==": [{"var": "c"}, "x"]}, {"c": cyclic}),
        ({"cat": [{"var": "c"}]}, {"c": cyclic}),
        ({"<": [{"var": "d"}, "y"]}, {"d": deep}),
        ({"in": ["needle", {"var": "h"}]}, {"h": huge}),
        ({"==": [{"var": "b"}, "1"]}, {"b": big_int}),
        ({"cat": [{"var": "b"}]}, {"b": big_int}),
        ({"+": [{"var": "b"}, 1]}, {"b": big_int}),
        ({"<": [{"var": "b"}, "1e400"]}, {"b": big_int}),
        ({"var": "a.b.c"}, {"a": object()}),
        ({"==": [{"var": "a"}, 1]}, {"a": object()}),
        ({"var": "a"}, None),
        ({"var": "a"}, 5),
        ({"var": "a.b"}, ["list"]),
    ]
    for rule, data in rules:
        compile_logic(rule)(data)  # no exception
    assert compile_logic({"in": ["needle", {"var": "h"}]})({"h": huge}) is True
    assert compile_logic({"==": [{"var": "b"}, "1"]})({"b": big_int}) is False


def test_compiled_rule_is_reusable_and_literal_results_cannot_be_poisoned() -> None:
    fn = compile_logic({"if": [{"var": "x"}, [1, 2], {"a": 1, "b": 2}]})
    first = fn({"x": True})
    with pytest.raises((TypeError, AttributeError)):
        first.append(3)  # type: ignore[union-attr]
    assert list(fn({"x": True})) == [1, 2]
    obj = fn({"x": False})
    with pytest.raises(TypeError):
        obj["a"] = 9  # type: ignore[index]
    assert fn({"x": False})["a"] == 1


def test_variables_lists_first_path_segments_read_from_the_data() -> None:
    rule = {
        "and": [
            {"<=": [0, {"var": "allocation"}]},
            {"==": ["x", {"var": ["page.domain_lc", ""]}]},
            {"some": [{"var": "mbox.list"}, {"==": [{"var": "item.k"}, 1]}]},
            {"missing": ["geo.city"]},
            {"missing_some": [1, ["user.browserType"]]},
        ]
    }
    assert variables(rule) == {"allocation", "page", "mbox", "geo", "user"}
    assert variables(True) == frozenset()
    assert variables({"var": ""}) == {"*"}
    assert variables({"var": {"cat": ["pa", "ge"]}}) == {"*"}
    assert variables({"var": 1}) == {"1"}


def _conditions() -> list[tuple[str, Any]]:
    out = []
    files = [VECTORS / "artifact.json", *sorted((VECTORS / "artifacts").glob("*.json"))]
    for path in files:
        artifact = json.loads(path.read_text())
        for kind in ("mboxes", "views"):
            for name, rules in artifact.get("rules", {}).get(kind, {}).items():
                for i, rule in enumerate(rules):
                    out.append((f"{path.stem}:{name}:{i}", rule["condition"]))
    return out


def test_every_condition_of_the_vectors_compiles_and_evaluates() -> None:
    conditions = _conditions()
    assert len(conditions) > 150
    ops: set[str] = set()

    def collect(x: Any) -> None:
        if isinstance(x, dict):
            if len(x) == 1:
                ops.add(next(iter(x)))
            for v in x.values():
                collect(v)
        elif isinstance(x, list):
            for v in x:
                collect(v)

    context = {
        "allocation": 42.5,
        "current_timestamp": 1_700_000_000_000,
        "current_time": "1230",
        "current_day": "5",
        "user": {"browserType": "chrome", "browserVersion": 80, "platform": "mac", "locale": "en"},
        "page": {"domain": "local-target-test", "path": "/", "url_lc": "http://local-target-test/"},
        "geo": {"country": "US", "region": "CA", "city": "SAN FRANCISCO", "latitude": 37.75, "longitude": -122.4},
        "mbox": {"foo": "bar"},
    }
    for where, condition in conditions:
        collect(condition)
        result = compile_logic(condition)(context)
        assert isinstance(result, (bool, type(None), int, float, str, tuple, list)), where
        assert variables(condition) <= {
            "allocation",
            "current_timestamp",
            "current_time",
            "current_day",
            "user",
            "page",
            "geo",
            "mbox",
        }, where
    # Target's artifacts use only standard json-logic-js operators (no custom ones) — all supported above.
    assert ops <= {"var", "and", "or", "==", "<", "<=", ">", ">=", "in", "!"}


def test_typical_artifact_condition_costs_a_few_microseconds() -> None:
    condition = {
        "and": [
            {"and": [{"<=": [0, {"var": "allocation"}]}, {">=": [50, {"var": "allocation"}]}]},
            {"==": ["bar", {"var": "mbox.foo"}]},
        ]
    }
    fn = compile_logic(condition)
    data = {"allocation": 42.5, "mbox": {"foo": "bar"}}
    assert fn(data) is True
    n = 20_000
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            fn(data)
        best = min(best, (time.perf_counter() - start) / n)
    assert best < 20e-6, f"{best * 1e6:.2f} µs per evaluation"  # measured ~1 µs; generous for slow CI


def test_compile_with_variables_is_both_in_one_pass() -> None:
    rule = {"and": [{"<=": [0, {"var": "allocation"}]}, {"==": ["chrome", {"var": "user.browserType"}]}]}
    fn, names = compile_with_variables(rule)
    assert names == variables(rule) == {"allocation", "user"}
    assert fn({"allocation": 1, "user": {"browserType": "chrome"}}) is True
    assert fn({"allocation": 1, "user": {"browserType": "safari"}}) is False
    with pytest.raises(JsonLogicError):
        compile_with_variables({"nope": []})


def _as_js(value: Any) -> Any:
    """Our result in the encoding of jsonlogic_js_cases.json (numbers as float, see make_jsonlogic_js_cases.py)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        if math.isnan(value):
            return {"$nan": 1}
        if math.isinf(value):
            return {"$inf": 1 if value > 0 else -1}
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_as_js(v) for v in value]
    if isinstance(value, Mapping):
        return {"$obj": {k: _as_js(v) for k, v in value.items()}}
    return repr(value)


def _js_answer(answer: Any) -> Any:
    if isinstance(answer, dict):
        if "$obj" in answer:
            return {"$obj": {k: _js_answer(v) for k, v in answer["$obj"].items()}}
        return answer
    if isinstance(answer, list):
        return [_js_answer(v) for v in answer]
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        return float(answer)
    return answer


def test_differential_against_recorded_json_logic_js_answers() -> None:
    """1,500 random rules over random data, answered by json-logic-js 2.0.5 (make_jsonlogic_js_cases.py)."""
    recorded = json.loads((Path(__file__).with_name("jsonlogic_js_cases.json")).read_text())
    assert "json-logic-js 2." in recorded["generator"]
    cases = recorded["cases"]
    assert len(cases) > 1000
    mismatches = []
    for rule, data, answer in cases:
        ours = _as_js(compile_logic(rule)(data))
        if ours != _js_answer(answer):
            mismatches.append((json.dumps(rule), ours, answer))
    assert mismatches == [], mismatches[:5]
