"""JSON Logic compiled once into Python closures, with json-logic-js semantics.

Target's edge and its Node SDK evaluate rule conditions with ``json-logic-js``; the Python SDK's
``json_logic_qubit`` compares ``37.8`` and ``"37.80"`` as strings (on-device.md §11). This module follows
json-logic-js 2.x: JavaScript's loose equality (``==``) and relational comparison (numbers and numeric strings
compare as numbers, ``null < 5``), json-logic-js's ``truthy`` (an empty array is falsy), ``and``/``or`` that
return the deciding value, ``var`` with dot paths and defaults, ``parseFloat`` in ``+``/``*``.

A rule is compiled once by :func:`compile_logic`; the result is a plain callable of the data. Compiling rejects
an unknown operator or a malformed rule with :class:`JsonLogicError`; calling never raises: where
JavaScript would throw at run time (say, a cyclic structure) the call answers ``None``.

Deliberate limits: the ``method`` operator (it calls methods of the data) is not offered; rules nested deeper
than :data:`MAX_DEPTH` are refused; string positions in ``substr`` and string order in ``<`` count code points
for ``substr`` (JavaScript counts UTF-16 units; only astral characters differ), while ``<`` orders by UTF-16
units as JavaScript does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._js import (
    _UNDEF,
    MAX_DEPTH,
)
from ._jsonlogic_ops import (
    _EAGER,
    _OPS,
    _SCOPED,
    _and,
    _as_fn,
    _compare,
    _Const,
    _const_fn,
    _equality,
    _freeze,
    _if,
    _missing_keys,
    _missing_some,
    _or,
    _scoped,
    _split_path,
    _var_dynamic,
    _var_static,
)

__all__ = ["MAX_DEPTH", "JsonLogicError", "compile_logic", "compile_with_variables", "variables"]


Fn = Callable[[Any], Any]
_NUMS = (int, float)


class JsonLogicError(ValueError):
    """A rule that cannot be compiled: an unknown operator or a malformed rule."""


def _is_json(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


class _Compiler:
    def __init__(self) -> None:
        self.vars: set[str] = set()
        self.dynamic = False

    def compile(self, rule: Any, depth: int, scoped: bool) -> Fn | _Const:
        if depth > MAX_DEPTH:
            raise JsonLogicError(f"rule nested deeper than {MAX_DEPTH} levels")
        if isinstance(rule, list):
            items = [self.compile(r, depth + 1, scoped) for r in rule]
            if all(isinstance(i, _Const) for i in items):
                return _Const(tuple(i.value for i in items))  # type: ignore[union-attr]
            fns = [_as_fn(i) for i in items]
            return lambda data: [f(data) for f in fns]
        if isinstance(rule, Mapping):
            if len(rule) != 1:
                try:
                    return _Const(_freeze(dict(rule)))
                except RecursionError:
                    raise JsonLogicError(f"rule nested deeper than {MAX_DEPTH} levels") from None
            ((op, values),) = rule.items()
            if not isinstance(op, str):
                raise JsonLogicError(f"operator must be a string, got {op!r}")
            return self.operation(op, values, depth, scoped)
        if _is_json(rule):
            return _Const(rule)
        if isinstance(rule, tuple):
            return self.compile(list(rule), depth, scoped)
        raise JsonLogicError(f"not a JSON value in the rule: {type(rule).__name__}")

    def operation(self, op: str, values: Any, depth: int, scoped: bool) -> Fn | _Const:
        if op not in _OPS:
            raise JsonLogicError(f"unknown JSON Logic operator {op!r}")
        raw = list(values) if isinstance(values, (list, tuple)) else [values]
        if op in _SCOPED:
            first = [self.compile(raw[0], depth + 1, scoped)] if raw else []
            rest_logic = [self.compile(r, depth + 1, True) for r in raw[1:2]]
            rest_init = [self.compile(r, depth + 1, scoped) for r in raw[2:3]] if op == "reduce" else []
            return _scoped(op, [_as_fn(x) for x in first + rest_logic + rest_init])
        args = [self.compile(r, depth + 1, scoped) for r in raw]
        if op == "var":
            return self.var(args, scoped)
        if op in ("missing", "missing_some"):
            return self.missing(op, args, scoped)
        if op in ("==", "!=", "===", "!=="):
            return _equality(op, args)
        if op in ("<", "<=", ">", ">="):
            return _compare(op, args)
        fns = [_as_fn(a) for a in args]
        if op in ("and", "or"):
            return _and(fns) if op == "and" else _or(fns)
        if op in ("if", "?:"):
            return _if(fns) if fns else _const_fn(None)
        if op == "*" and not args:
            raise JsonLogicError("operator '*' needs at least one operand")
        impl = _EAGER[op]
        if all(isinstance(a, _Const) for a in args) and op != "log":
            consts = [a.value for a in args]  # type: ignore[union-attr]
            return lambda data: impl(list(consts))
        if len(fns) == 1:
            f0 = fns[0]
            return lambda data: impl([f0(data)])
        return lambda data: impl([f(data) for f in fns])

    def note_path(self, path: Any, scoped: bool) -> None:
        if scoped:
            return
        segs = _split_path(path)
        if segs is None:
            self.dynamic = True
        else:
            self.vars.add(segs[0][0])

    def var(self, args: list[Fn | _Const], scoped: bool) -> Fn:
        path = args[0] if args else _Const(None)
        default = _as_fn(args[1]) if len(args) > 1 else None
        if isinstance(path, _Const):
            self.note_path(path.value, scoped)
            return _var_static(path.value, default)
        if not scoped:
            self.dynamic = True
        return _var_dynamic(path, default)

    def missing(self, op: str, args: list[Fn | _Const], scoped: bool) -> Fn:
        if all(isinstance(a, _Const) for a in args):
            consts = [a.value for a in args]  # type: ignore[union-attr]
            keys = consts[1] if op == "missing_some" and len(consts) > 1 else consts
            if op == "missing" and consts and isinstance(consts[0], (list, tuple)):
                keys = consts[0]
            for key in keys if isinstance(keys, (list, tuple)) else []:
                self.note_path(key, scoped)
        elif not scoped:
            self.dynamic = True
        fns = [_as_fn(a) for a in args]
        if op == "missing_some":
            return lambda data: _missing_some([f(data) for f in fns], data)

        def missing(data: Any) -> list[Any]:
            vals = [f(data) for f in fns]
            keys = vals[0] if vals and isinstance(vals[0], (list, tuple)) else vals
            return _missing_keys(data, keys)

        return missing


def compile_logic(rule: Any) -> Callable[[Mapping[str, Any]], Any]:
    """Compile a JSON Logic rule once; the callable evaluates it against one data mapping.

    Raises :class:`JsonLogicError` for an unknown operator, a non-JSON value or a rule nested deeper than
    :data:`MAX_DEPTH`. The callable itself never raises.
    """
    return _finish(_Compiler().compile(rule, 0, False))


def _finish(compiled: Fn | _Const) -> Callable[[Mapping[str, Any]], Any]:
    if isinstance(compiled, _Const):
        value = compiled.value
        return lambda data: value
    fn = compiled

    def evaluate(data: Mapping[str, Any]) -> Any:
        try:
            result = fn(data)
        except Exception:  # JavaScript would throw (a cycle, a pathological value): no decision
            return None
        if result is _UNDEF:
            return None
        if type(result) is list:
            return _defined(result)
        return result

    return evaluate


def _defined(value: list[Any]) -> list[Any]:
    """``undefined`` items of a result array as ``None`` (``JSON.stringify`` prints them as ``null``)."""
    return [None if v is _UNDEF else _defined(v) if type(v) is list else v for v in value]


def compile_with_variables(rule: Any) -> tuple[Callable[[Mapping[str, Any]], Any], frozenset[str]]:
    """:func:`compile_logic` and :func:`variables` in one pass over the rule."""
    c = _Compiler()
    compiled = c.compile(rule, 0, False)
    names = frozenset(c.vars | ({"*"} if c.dynamic else set()))
    return _finish(compiled), names


def variables(rule: Any) -> frozenset[str]:
    """The first segments of the ``var`` paths (and ``missing`` keys) a rule reads from its data.

    ``"*"`` in the result means the rule may read anything (a computed path, or ``var ""``: the whole data).
    Paths read inside ``map``/``filter``/``reduce``/``all``/``none``/``some`` logic address the items, not the
    data, and are not listed. Raises :class:`JsonLogicError` as :func:`compile_logic` does.
    """
    c = _Compiler()
    c.compile(rule, 0, False)
    return frozenset(c.vars | ({"*"} if c.dynamic else set()))
