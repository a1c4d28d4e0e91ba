"""The parts a compiled JSON Logic rule is made of: ``var`` paths and the operators' closures (under
:mod:`._jsonlogic`, which compiles a rule into them)."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from ._js import (
    _UNDEF,
    _js_div,
    _js_in,
    _js_minmax,
    _js_mod,
    _js_num,
    _js_sub,
    _js_substr,
    _le,
    _loose_eq,
    _lt,
    _parse_float,
    _strict_eq,
    _to_string,
    _truthy,
)

Fn = Callable[[Any], Any]
_NUMS = (int, float)


# --------------------------------------------------------------------------------------------------
# var
# --------------------------------------------------------------------------------------------------


def _index(seg: str) -> int | None:
    """The array index a property name denotes in JavaScript (canonical non-negative integer), else None."""
    if seg.isdigit() and seg.isascii() and (seg == "0" or seg[0] != "0"):
        return int(seg)
    return None


def _prop(data: Any, seg: str, idx: int | None) -> Any:
    """``data[seg]`` in JavaScript, with ``_UNDEF`` for a missing property."""
    if isinstance(data, Mapping):
        return data.get(seg, _UNDEF)
    if isinstance(data, (list, tuple, str)):
        if idx is not None:
            return data[idx] if idx < len(data) else _UNDEF
        if seg == "length":
            return len(data)
    return _UNDEF


def _split_path(path: Any) -> list[tuple[str, int | None]] | None:
    """The segments of a var path, or None for "the whole data" (``""`` or ``null``)."""
    if path is None or path is _UNDEF or path == "" and isinstance(path, str):
        return None
    return [(seg, _index(seg)) for seg in _to_string(path).split(".")]


def _walk(data: Any, segs: list[tuple[str, int | None]], default: Any) -> Any:
    for seg, idx in segs:
        if data is None or data is _UNDEF:
            return default
        data = _prop(data, seg, idx)
        if data is _UNDEF:
            return default
    return data


def _var_static(path: Any, default_fn: Fn | None) -> Fn:
    segs = _split_path(path)
    if segs is None:
        return lambda data: data
    if default_fn is None:
        if len(segs) == 1:
            key, idx = segs[0]

            def var1(data: Any) -> Any:
                if type(data) is dict:
                    return data.get(key)
                v = _prop(data, key, idx) if data is not None else _UNDEF
                return None if v is _UNDEF else v

            return var1
        if len(segs) == 2 and segs[0][1] is None and segs[1][1] is None:
            k1, k2 = segs[0][0], segs[1][0]

            def var2(data: Any) -> Any:
                if type(data) is dict:
                    inner = data.get(k1)
                    if type(inner) is dict:
                        return inner.get(k2)
                return _walk(data, segs, None)

            return var2
        return lambda data: _walk(data, segs, None)
    dfn = default_fn
    return lambda data: _walk_default(data, segs, dfn)


def _walk_default(data: Any, segs: list[tuple[str, int | None]], dfn: Fn) -> Any:
    v = _walk(data, segs, _UNDEF)
    return dfn(data) if v is _UNDEF else v


def _var_dynamic(path_fn: Fn, default_fn: Fn | None) -> Fn:
    def var(data: Any) -> Any:
        segs = _split_path(path_fn(data))
        if segs is None:
            return data
        v = _walk(data, segs, _UNDEF)
        if v is _UNDEF:
            return None if default_fn is None else default_fn(data)
        return v

    return var


def _missing_keys(data: Any, keys: Any) -> list[Any]:
    out = []
    for key in keys:
        segs = _split_path(key)
        v = data if segs is None else _walk(data, segs, None)
        if v is None or v == "" and isinstance(v, str):
            out.append(key)
    return out


# --------------------------------------------------------------------------------------------------
# Compiler
# --------------------------------------------------------------------------------------------------


class _Const:
    """Marks a compiled operand whose value is known at compile time."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _freeze(value: Any) -> Any:
    """A literal as the rule's result: arrays become tuples, objects read-only views (callers cannot poison)."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    return value


def _const_fn(value: Any) -> Fn:
    return lambda data: value


_CMP = {"<": _lt, "<=": _le}


def _compare(op: str, args: list[Fn | _Const]) -> Fn:
    """``<``/``<=`` (with the "between" form of three operands) and ``>``/``>=``."""
    if op in (">", ">="):
        base = _lt if op == ">" else _le
        a_, b_ = (args + [_Const(_UNDEF)] * 2)[:2]
        return _binary(lambda x, y: base(y, x), a_, b_, fast=op)
    fn = _CMP[op]
    if len(args) >= 3:
        fa, fb, fc = (_as_fn(a) for a in args[:3])

        def between(data: Any) -> bool:
            a, b, c = fa(data), fb(data), fc(data)
            if c is _UNDEF:  # json-logic-js: `c === undefined ? a < b : ...`
                return fn(a, b)
            return fn(a, b) and fn(b, c)

        return between
    a_, b_ = (args + [_Const(_UNDEF)] * 2)[:2]
    return _binary(fn, a_, b_, fast=op)


def _binary(fn: Callable[[Any, Any], bool], a: Fn | _Const, b: Fn | _Const, fast: str) -> Fn:
    """A comparison with a fast path for two numbers (the common ``allocation`` test)."""
    pyop: Callable[[Any, Any], bool] = {
        "<": operator.lt,
        "<=": operator.le,
        ">": operator.gt,
        ">=": operator.ge,
    }[fast]
    if isinstance(a, _Const) and isinstance(b, _Const):
        av, bv = a.value, b.value
        return lambda data: fn(av, bv)
    if isinstance(a, _Const):
        av = a.value
        fb = b
        if type(av) in (int, float):

            def cmp_cn(data: Any) -> bool:
                bv = fb(data)  # type: ignore[operator]
                tb = type(bv)
                if tb is int or tb is float:
                    return pyop(av, bv)
                return fn(av, bv)

            return cmp_cn
        return lambda data: fn(av, fb(data))  # type: ignore[operator]
    fa = a
    if isinstance(b, _Const):
        bv = b.value
        if type(bv) in (int, float):

            def cmp_nc(data: Any) -> bool:
                av = fa(data)
                ta = type(av)
                if ta is int or ta is float:
                    return pyop(av, bv)
                return fn(av, bv)

            return cmp_nc
        return lambda data: fn(fa(data), bv)
    fb2 = b

    def cmp_ff(data: Any) -> bool:
        av, bv = fa(data), fb2(data)
        ta, tb = type(av), type(bv)
        if (ta is int or ta is float) and (tb is int or tb is float):
            return pyop(av, bv)
        return fn(av, bv)

    return cmp_ff


def _as_fn(x: Fn | _Const) -> Fn:
    return _const_fn(x.value) if isinstance(x, _Const) else x


def _equality(op: str, args: list[Fn | _Const]) -> Fn:
    a, b = (args + [_Const(_UNDEF)] * 2)[:2]
    eq = _loose_eq if op in ("==", "!=") else _strict_eq
    negate = op in ("!=", "!==")
    if isinstance(a, _Const) and not isinstance(b, _Const):
        a, b = b, a  # equality is symmetric
    if isinstance(b, _Const):
        cv = b.value
        fa = _as_fn(a)
        if type(cv) is str:
            # Two strings compare as strings; anything else goes through the full rules.
            if negate:
                return lambda data: (v != cv) if type(v := fa(data)) is str else not eq(v, cv)
            return lambda data: (v == cv) if type(v := fa(data)) is str else eq(v, cv)
        if negate:
            return lambda data: not eq(fa(data), cv)
        return lambda data: eq(fa(data), cv)
    fa, fb = _as_fn(a), _as_fn(b)
    if negate:
        return lambda data: not eq(fa(data), fb(data))
    return lambda data: eq(fa(data), fb(data))


def _and(fns: list[Fn]) -> Fn:
    if not fns:
        return lambda data: _UNDEF  # JavaScript: the loop never ran, `current` is undefined
    if len(fns) == 2:
        f1, f2 = fns

        def and2(data: Any) -> Any:
            v = f1(data)
            if v is False or not _truthy(v):
                return v
            return f2(data)

        return and2
    tfns = tuple(fns)

    def and_(data: Any) -> Any:
        v = None
        for f in tfns:
            v = f(data)
            if v is False or not _truthy(v):
                return v
        return v

    return and_


def _or(fns: list[Fn]) -> Fn:
    if not fns:
        return lambda data: _UNDEF
    tfns = tuple(fns)

    def or_(data: Any) -> Any:
        v = None
        for f in tfns:
            v = f(data)
            if v is True or _truthy(v):
                return v
        return v

    return or_


def _if(fns: list[Fn]) -> Fn:
    pairs = [(fns[i], fns[i + 1]) for i in range(0, len(fns) - 1, 2)]
    last = fns[-1] if len(fns) % 2 == 1 else None

    def if_(data: Any) -> Any:
        for cond, then in pairs:
            if _truthy(cond(data)):
                return then(data)
        return last(data) if last is not None else None

    return if_


def _scoped(op: str, fns: list[Fn]) -> Fn:
    source = fns[0] if fns else _const_fn(None)
    logic = fns[1] if len(fns) > 1 else _const_fn(None)
    if op == "map":
        return lambda data: [logic(x) for x in s] if isinstance(s := source(data), (list, tuple)) else []
    if op == "filter":
        return lambda data: [x for x in s if _truthy(logic(x))] if isinstance(s := source(data), (list, tuple)) else []
    if op == "reduce":
        initial = fns[2] if len(fns) > 2 else _const_fn(None)

        def reduce_(data: Any) -> Any:
            acc = initial(data)
            s = source(data)
            if not isinstance(s, (list, tuple)):
                return acc
            for x in s:
                acc = logic({"current": x, "accumulator": acc})
            return acc

        return reduce_
    if op == "all":

        def all_(data: Any) -> bool:
            s = source(data)
            if not isinstance(s, (list, tuple)) or not s:
                return False
            return all(_truthy(logic(x)) for x in s)

        return all_

    def count(data: Any) -> int:
        s = source(data)
        if not isinstance(s, (list, tuple)):
            return 0
        return sum(1 for x in s if _truthy(logic(x)))

    if op == "none":
        return lambda data: count(data) == 0
    return lambda data: count(data) > 0  # some


def _cat(args: list[Any]) -> str:
    """``Array.prototype.join.call(arguments, "")`` (json-logic-js 2.x): null and undefined print as ""."""
    return "".join("" if a is None or a is _UNDEF else _to_string(a) for a in args)


def _merge(args: list[Any]) -> list[Any]:
    out: list[Any] = []
    for a in args:
        if isinstance(a, (list, tuple)):
            out.extend(a)
        else:
            out.append(a)
    return out


def _plus(args: list[Any]) -> float | int:
    total: float = 0.0
    for a in args:
        total += _parse_float(a)
    return _js_num(total) if total == total and total not in (math.inf, -math.inf) else total


def _times(args: list[Any]) -> Any:
    if len(args) == 1:
        return args[0]  # Array.prototype.reduce without an initial value returns the only item as is
    total = _parse_float(args[0])
    for a in args[1:]:
        total *= _parse_float(a)
    return _js_num(total) if total == total and total not in (math.inf, -math.inf) else total


def _missing_some(args: list[Any], data: Any) -> list[Any]:
    need, options = (args + [_UNDEF, _UNDEF])[:2]
    if not isinstance(options, (list, tuple)):
        options = []
    are_missing = _missing_keys(data, options)
    if _le(need, len(options) - len(are_missing)):
        return []
    return are_missing


# Operators that evaluate all their operands first, as ``fn(list_of_values)``.
_EAGER: dict[str, Callable[[list[Any]], Any]] = {
    "!": lambda a: not _truthy(a[0] if a else _UNDEF),
    "!!": lambda a: _truthy(a[0] if a else _UNDEF),
    "%": lambda a: _js_mod(*(a + [_UNDEF, _UNDEF])[:2]),
    "/": lambda a: _js_div(*(a + [_UNDEF, _UNDEF])[:2]),
    "-": lambda a: _js_sub(*(a + [_UNDEF, _UNDEF])[:2]),
    "+": _plus,
    "*": _times,
    "min": lambda a: _js_minmax(a, True),
    "max": lambda a: _js_minmax(a, False),
    "cat": _cat,
    "substr": lambda a: _js_substr(*(a + [_UNDEF, _UNDEF, _UNDEF])[:3]),
    "in": lambda a: _js_in(*(a + [_UNDEF, _UNDEF])[:2]),
    "merge": _merge,
    "log": lambda a: a[0] if a else _UNDEF,
}

_LAZY = {"and", "or", "if", "?:", "map", "filter", "reduce", "all", "none", "some"}
_SCOPED = {"map", "filter", "reduce", "all", "none", "some"}
_OPS = frozenset(_EAGER) | _LAZY | {"var", "missing", "missing_some", "==", "!=", "===", "!==", "<", "<=", ">", ">="}
