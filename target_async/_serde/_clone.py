"""A fast copy of an attrs model that equals ``structure(unstructure(obj))``, or gives up.

Every call copies the caller's request (so the SDK never mutates it) and checks its field types. The converter's
round trip does both but costs ~30 µs for a small request, a third of an on-device decision. :func:`clone` walks
the model with per-class copiers built once from the type hints, and raises :class:`CloneDoubt` for anything
whose round trip it does not reproduce exactly (a wrong type, a tuple, an ``extras`` key that shadows a field,
an unknown hint): the caller then takes the converter's path, which produces the error naming the field. A
property test checks that both paths give equal objects.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable
from typing import Any

import attrs

from .._types import WireEnum
from ._naming import wire_names

__all__ = ["CloneDoubt", "clone"]

Copier = Callable[[Any], Any]


class CloneDoubt(Exception):
    """The fast copy cannot promise the converter's result: use the converter."""


_DOUBT = CloneDoubt()


def _json_copy(value: Any) -> Any:
    cls = value.__class__
    if cls is str or cls is int or cls is float or cls is bool or value is None:
        return value
    if cls is dict:
        return {k: _json_copy(v) for k, v in value.items() if k.__class__ is str or _doubt()}
    if cls is list:
        return [_json_copy(v) for v in value]
    raise _DOUBT


def _doubt() -> bool:
    raise _DOUBT


def _same(expected: type) -> Copier:
    def copy(value: Any) -> Any:
        if value.__class__ is not expected:
            raise _DOUBT
        return value

    return copy


def _number(value: Any) -> Any:
    if value.__class__ is float or value.__class__ is int:
        return value
    raise _DOUBT


def _enum(cls: type[enum.Enum]) -> Copier:
    def copy(value: Any) -> Any:
        if value.__class__ is cls:
            return value
        if value.__class__ is str:
            try:
                return cls(value)
            except ValueError:
                return value  # the converter keeps an unknown value as a plain str
        raise _DOUBT

    return copy


def _optional(inner: Copier) -> Copier:
    def copy(value: Any) -> Any:
        return None if value is None else inner(value)

    return copy


def _list(item: Copier) -> Copier:
    def copy(value: Any) -> Any:
        if value.__class__ is not list:
            raise _DOUBT
        return [item(v) for v in value]

    return copy


def _dict(key: Copier, item: Copier) -> Copier:
    def copy(value: Any) -> Any:
        if value.__class__ is not dict:
            raise _DOUBT
        return {key(k): item(v) for k, v in value.items()}

    return copy


def _copier(hint: Any) -> Copier:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported union {hint!r}")
        return _optional(_copier(args[0]))
    if hint is Any:
        return _json_copy
    if origin is list:
        (arg,) = typing.get_args(hint)
        return _list(_copier(arg))
    if origin is dict:
        key, value = typing.get_args(hint)
        return _dict(_copier(key), _copier(value))
    if isinstance(hint, type):
        if attrs.has(hint):
            return _class_copier(hint)
        if issubclass(hint, WireEnum) or issubclass(hint, enum.Enum):
            return _enum(hint)
        if hint is bool or hint is str or hint is int:
            return _same(hint)
        if hint is float:
            return _number
    raise TypeError(f"unsupported hint {hint!r}")


_COPIERS: dict[type, Copier] = {}


def _class_copier(cls: type) -> Copier:
    """A copier generated for ``cls`` (like cattrs' generated functions: one line per field, ``None`` inline)."""
    found = _COPIERS.get(cls)
    if found is not None:
        return found
    holder: list[Copier] = []

    def late(value: Any) -> Any:  # recursive models: resolve on first use
        return holder[0](value)

    _COPIERS[cls] = late
    hints = typing.get_type_hints(cls)
    names = [f.name for f in attrs.fields(cls) if f.name != "extras"]
    namespace: dict[str, Any] = {
        "cls": cls,
        "D": _DOUBT,
        "jc": _json_copy,
        "known": frozenset(wire_names(cls).values()),
    }
    lines = ["def copy(v):", "    if v.__class__ is not cls:", "        raise D"]
    args = []
    for i, name in enumerate(names):
        hint = hints[name]
        origin = typing.get_origin(hint)
        optional = False
        if origin is typing.Union or origin is types.UnionType:
            inner = [a for a in typing.get_args(hint) if a is not type(None)]
            if len(inner) != 1:
                raise TypeError(f"unsupported union {hint!r}")
            hint, optional = inner[0], True
        lines.append(f"    a{i} = v.{name}")
        if hint in (str, bool, int):  # the common case, inline: no call
            namespace[f"t{i}"] = hint
            guard = f"a{i} is not None and " if optional else ""
            lines.append(f"    if {guard}a{i}.__class__ is not t{i}:")
            lines.append("        raise D")
        else:
            namespace[f"c{i}"] = _copier(hint)
            if optional:
                lines.append(f"    if a{i} is not None:")
                lines.append(f"        a{i} = c{i}(a{i})")
            else:
                lines.append(f"    a{i} = c{i}(a{i})")
        args.append(f"{name}=a{i}")
    if "extras" in attrs.fields_dict(cls):
        lines += [
            "    x = v.extras",
            "    if x:",
            "        if x.__class__ is not dict or not known.isdisjoint(x):",
            "            raise D",
            "        x = {k: jc(w) for k, w in x.items()}",
            "    else:",
            "        x = {}",
        ]
        args.append("extras=x")
    lines.append(f"    return cls({', '.join(args)})")
    exec("\n".join(lines), namespace)  # generated from the model's own field names, nothing from input
    copy: Copier = namespace["copy"]
    holder.append(copy)
    _COPIERS[cls] = copy
    return copy


def clone(obj: Any) -> Any:
    """A copy of the attrs model ``obj`` equal to the converter's round trip.

    Raises:
        CloneDoubt: the fast copy cannot promise that (the caller uses the converter).
    """
    try:
        copier = _class_copier(obj.__class__)
    except TypeError as exc:  # a hint this copier does not handle
        raise CloneDoubt(str(exc)) from exc
    return copier(obj)
