"""The cattrs converter every model goes through.

Rules (one place, no per-field decoration):

* keys follow :mod:`._naming` (camelCase for the Delivery API; ``xdm:``/``repo:``/``@id`` for the repository);
* ``None`` is omitted on output (optional fields default to ``None``);
* unknown keys of a payload land in the model's ``extras`` dict and are written back on output, so a
  read-modify-write never drops data the server sent; the *strict* converter rejects them instead
  (the contract tests use it);
* primitives are not coerced: ``"3"`` is not an ``int`` and ``None`` is not a ``str``;
* an enum value the SDK does not know yet stays a plain ``str`` (strict: rejected).

The JSON codec is orjson when installed (``target-async[fast]``), else the standard library. Encoding refuses
``NaN`` and ``±Infinity`` (JSON has no such numbers; orjson would write ``null``) with a ValidationError naming
the field, before anything is sent.
"""

from __future__ import annotations

import enum
import json
import math
import re
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .._exceptions import ValidationError
from .._types import WireEnum
from ._naming import wire_names

try:  # pragma: no cover - exercised by whichever codec is installed
    import orjson

    def _dumps(value: Any) -> bytes:
        out = orjson.dumps(value)
        if b"null" in out:  # orjson writes NaN and infinities as null: look for them only then
            _check_finite(value)
        return out

    _loads: Callable[[bytes | str], Any] = orjson.loads
    JSON_DECODE_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError,)
except ImportError:  # pragma: no cover

    def _dumps(value: Any) -> bytes:
        _check_finite(value)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

    _loads = json.loads
    JSON_DECODE_ERRORS = (json.JSONDecodeError, UnicodeDecodeError)

__all__ = [
    "JSON_DECODE_ERRORS",
    "build_converter",
    "converter",
    "dumps",
    "json_dumps",
    "json_loads",
    "loads",
    "strict_converter",
    "structure",
    "unstructure",
]

T = TypeVar("T")


def _non_finite_path(value: Any, path: str) -> str | None:
    """The path of the first NaN or infinite float in ``value``, or None."""
    if value.__class__ is float or isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite_path(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _non_finite_path(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _check_finite(value: Any, what: str = "request") -> None:
    path = _non_finite_path(value, what)
    if path is not None:
        raise ValidationError(f"{path} is not a finite number (NaN and infinity cannot be sent in JSON)", field=path)


def _strict_str(value: Any, _: Any) -> str:
    if value.__class__ is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _strict_int(value: Any, _: Any) -> int:
    if value.__class__ is not int:
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _strict_float(value: Any, _: Any) -> float:
    if value.__class__ is float or value.__class__ is int:
        return value  # an int stays an int, so that 3 round-trips as 3, not 3.0
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _strict_bool(value: Any, _: Any) -> bool:
    if value.__class__ is not bool:
        raise TypeError(f"expected a boolean, got {type(value).__name__}")
    return value


def _is_list(t: Any) -> bool:
    return t is list or typing.get_origin(t) is list


def _is_enum(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, enum.Enum)


class _BadEnumValue(ValueError):
    """A value that is not one of an enum's: the message lists the allowed ones (not the enum's type path)."""

    def __init__(self, cl: type[enum.Enum], value: Any) -> None:
        allowed = ", ".join(repr(m.value) for m in cl)
        super().__init__(f"{value!r} is not one of {allowed}")


_PRIVATE_PATH = re.compile(r"\btarget_async(?:\.\w+)*?\._\w+\.")  # target_async.models._delivery_enums.


def _format_exception(exc: BaseException, type_: Any) -> str:
    """cattrs' message for one error, with the SDK's own wording for enums and no private module paths."""
    if isinstance(exc, _BadEnumValue):
        return str(exc)
    return _PRIVATE_PATH.sub("", cattrs.v.format_exception(exc, type_))


def build_converter(*, strict: bool = False) -> cattrs.Converter:
    """Build a converter with the project's wire rules.

    Args:
        strict: reject unknown keys and unknown enum values instead of keeping them.
    """
    conv = cattrs.Converter()
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(float, _strict_float)
    conv.register_structure_hook(bool, _strict_bool)

    def enum_hook(cl: type[enum.Enum]) -> Callable[[Any, Any], Any]:
        def structure_enum(value: Any, _: Any) -> Any:
            try:
                return cl(value)
            except ValueError:
                if strict or value.__class__ is not str:
                    raise _BadEnumValue(cl, value) from None
                return value  # a value this SDK version does not know: keep it as a plain str

        return structure_enum

    conv.register_structure_hook_factory(_is_enum, enum_hook)

    def list_hook(cl: Any) -> Callable[[Any, Any], Any]:
        base = list_structure_factory(cl, conv)

        def structure_list(value: Any, t: Any) -> Any:
            if value.__class__ is not list:  # a str or a dict is iterable, but is not a JSON array
                raise TypeError(f"expected an array, got {type(value).__name__}")
            return base(value, t)

        return structure_list

    conv.register_structure_hook_factory(_is_list, list_hook)
    # Class dispatch picks the most specific base in the MRO: WireEnum comes before str, so these hooks
    # (not the strict str hook) handle every wire enum.
    conv.register_structure_hook(WireEnum, lambda value, cl: enum_hook(cl)(value, cl))
    conv.register_unstructure_hook(WireEnum, lambda member: getattr(member, "value", member))

    def structure_factory(cl: type[Any]) -> Callable[[Any, Any], Any]:
        names = wire_names(cl)
        has_extras = "extras" in attrs.fields_dict(cl)
        overrides: dict[str, Any] = {n: override(rename=k) for n, k in names.items()}
        if has_extras:
            overrides["extras"] = override(omit=True)
        base = make_dict_structure_fn(cl, conv, _cattrs_forbid_extra_keys=strict, **overrides)
        if strict or not has_extras:
            return base
        known = frozenset(names.values())

        def structure_keeping_extras(data: Any, t: Any) -> Any:
            obj = base(data, t)
            if not known.issuperset(data):
                object.__setattr__(obj, "extras", {k: v for k, v in data.items() if k not in known})
            return obj

        return structure_keeping_extras

    def unstructure_factory(cl: type[Any]) -> Callable[[Any], Any]:
        names = wire_names(cl)
        fields = attrs.fields_dict(cl)
        overrides: dict[str, Any] = {
            n: override(rename=k, omit_if_default=fields[n].default is None) for n, k in names.items()
        }
        has_extras = "extras" in fields
        if has_extras:
            overrides["extras"] = override(omit=True)
        base = make_dict_unstructure_fn(cl, conv, **overrides)
        if not has_extras:
            return base

        def unstructure_with_extras(obj: Any) -> Any:
            out = base(obj)
            extras = obj.extras
            return {**extras, **out} if extras else out

        return unstructure_with_extras

    conv.register_structure_hook_factory(attrs.has, structure_factory)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return conv


converter = build_converter()
"""The converter the SDK uses: lenient on input (unknown keys kept in ``extras``)."""

strict_converter = build_converter(strict=True)
"""A converter that rejects unknown keys and enum values (for contract tests)."""


def _error_path(exc: BaseException) -> tuple[str, str | None]:
    lines = (
        cattrs.transform_error(exc, path="request", format_exception=_format_exception)
        if isinstance(exc, cattrs.BaseValidationError)
        else []
    )
    if not lines:
        return str(exc), None
    first = lines[0]
    _, _, path = first.rpartition(" @ ")
    return "; ".join(lines), (path or None)


def structure(data: Any, cls: type[T], *, conv: cattrs.Converter | None = None, what: str = "request") -> T:
    """Structure ``data`` into ``cls``; invalid data raises :class:`ValidationError` naming the field."""
    try:
        return (conv or converter).structure(data, cls)
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError, AttributeError) as exc:
        message, path = _error_path(exc)
        if path and what != "request":
            path = what + path[len("request") :]
            message = message.replace(" @ request", f" @ {what}")
        raise ValidationError(f"invalid {what}: {message}", field=path or what) from exc


def unstructure(obj: Any) -> Any:
    """The wire-format (JSON-ready) form of a model."""
    return converter.unstructure(obj)


def json_dumps(value: Any) -> bytes:
    """Encode plain JSON data."""
    return _dumps(value)


def json_loads(data: bytes | str) -> Any:
    """Decode JSON text."""
    return _loads(data)


def dumps(obj: Any) -> bytes:
    """Encode a model (or plain data) as JSON bytes in wire format."""
    return _dumps(converter.unstructure(obj))


def loads(data: bytes | str, cls: type[T], *, what: str = "response") -> T:
    """Decode JSON bytes into ``cls``."""
    return structure(_loads(data), cls, what=what)
