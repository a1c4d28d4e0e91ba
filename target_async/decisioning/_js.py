"""JavaScript's coercions and comparisons, as json-logic-js relies on them (``==``, ``<``, truthiness, numbers,
strings, ``substr``, ``in``): the value semantics under :mod:`._jsonlogic`."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

_NUMS = (int, float)

#: Deepest nesting of operations a rule may have (Target's conditions nest about six deep); also how deep a value
#: is printed (JavaScript prints a cycle as "").
MAX_DEPTH = 100


class _Undefined:
    """JavaScript's ``undefined`` for missing operands (``{"-": [5]}``, ``{"<": [1, 2]}``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"


_UNDEF: Any = _Undefined()

# --------------------------------------------------------------------------------------------------
# JavaScript coercions
# --------------------------------------------------------------------------------------------------

_JS_WS = (
    " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_DEC_RE = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)\Z")
_RADIX_RE = re.compile(r"0(?:([xX])[0-9a-fA-F]+|([oO])[0-7]+|([bB])[01]+)\Z")
_PARSEFLOAT_RE = re.compile(r"[+-]?(?:Infinity|\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)")
_NAN = math.nan


def _is_num(v: Any) -> bool:
    return isinstance(v, _NUMS) and not isinstance(v, bool)


def _str_to_number(s: str) -> float:
    s = s.strip(_JS_WS)
    if not s:
        return 0.0
    if _DEC_RE.match(s):
        return float(s)
    m = _RADIX_RE.match(s)
    if m:
        base = 16 if m.group(1) else 8 if m.group(2) else 2
        try:
            return float(int(s[2:], base))
        except OverflowError:
            return math.inf
    if s in ("Infinity", "+Infinity"):
        return math.inf
    if s == "-Infinity":
        return -math.inf
    return _NAN


def _int_to_float(v: int) -> float:
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def _to_number(v: Any) -> float | int:
    """ECMAScript ToNumber."""
    t = type(v)
    if t is int:
        return v if -(2**53) <= v <= 2**53 else _int_to_float(v)
    if t is float:
        return v  # type: ignore[no-any-return]
    if v is None:
        return 0
    if t is bool:
        return 1 if v else 0
    if t is str:
        return _str_to_number(v)
    if isinstance(v, bool):
        return 1 if v else 0
    if isinstance(v, int):
        return _int_to_float(v)
    if isinstance(v, float):
        return v
    if isinstance(v, str):
        return _str_to_number(v)
    if v is _UNDEF:
        return _NAN
    return _str_to_number(_to_primitive(v))


def _num_to_string(v: float | int) -> str:
    """ECMAScript Number::toString (radix 10)."""
    if isinstance(v, int):
        if -(10**21) < v < 10**21:
            return str(v)
        v = _int_to_float(v)
    if v != v:
        return "NaN"
    if v in (math.inf, -math.inf):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return "0"
    if v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    sign = "-" if v < 0 else ""
    tup = Decimal(repr(abs(v))).normalize().as_tuple()
    digits = "".join(map(str, tup.digits))
    k = len(digits)
    n = int(tup.exponent) + k
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mant = digits if k == 1 else digits[0] + "." + digits[1:]
        out = f"{mant}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + out


def _join(v: list[Any] | tuple[Any, ...], depth: int) -> str:
    if depth > MAX_DEPTH:  # JavaScript would print a cycle as ""; deep nesting is cut the same way
        return ""
    return ",".join("" if x is None or x is _UNDEF else _to_string(x, depth + 1) for x in v)


def _to_primitive(v: Any, depth: int = 0) -> str:
    """ToPrimitive for objects: arrays join with ``,``, other objects print as ``[object Object]``."""
    if isinstance(v, (list, tuple)):
        return _join(v, depth)
    return "[object Object]"


def _to_string(v: Any, depth: int = 0) -> str:
    """ECMAScript ToString."""
    if isinstance(v, str):
        return v
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, _NUMS):
        return _num_to_string(v)
    if v is _UNDEF:
        return "undefined"
    return _to_primitive(v, depth)


def _truthy(v: Any) -> bool:
    """json-logic-js ``truthy``: JavaScript truthiness, except that an empty array is falsy."""
    t = type(v)
    if t is bool:
        return v  # type: ignore[no-any-return]
    if t is str or t is list or t is tuple:
        return len(v) > 0
    if t is int:
        return bool(v != 0)
    if t is float:
        return bool(v != 0 and v == v)
    if v is None or v is _UNDEF:
        return False
    if isinstance(v, (str, list, tuple)):
        return len(v) > 0
    if isinstance(v, _NUMS):
        return v != 0 and v == v
    return True  # objects


def _kind(v: Any) -> int:
    """0 null/undefined, 1 boolean, 2 number, 3 string, 4 object (arrays included)."""
    if v is None or v is _UNDEF:
        return 0
    if isinstance(v, bool):
        return 1
    if isinstance(v, _NUMS):
        return 2
    if isinstance(v, str):
        return 3
    return 4


def _loose_eq(a: Any, b: Any) -> bool:
    """ECMAScript ``a == b`` (IsLooselyEqual)."""
    ka, kb = _kind(a), _kind(b)
    if ka == kb:
        if ka == 4:
            return a is b
        if ka == 0:
            return True
        return bool(a == b)  # numbers: NaN != NaN as in JavaScript
    if ka == 0 or kb == 0:
        return False
    if ka == 1:
        return _loose_eq(1 if a else 0, b)
    if kb == 1:
        return _loose_eq(a, 1 if b else 0)
    if ka == 2 and kb == 3:
        return bool(a == _str_to_number(b))
    if ka == 3 and kb == 2:
        return bool(_str_to_number(a) == b)
    if ka == 4:
        return _loose_eq(_to_primitive(a), b)
    return _loose_eq(a, _to_primitive(b))


def _strict_eq(a: Any, b: Any) -> bool:
    """ECMAScript ``a === b``."""
    ka = _kind(a)
    if ka != _kind(b):
        return False
    if ka == 4:
        return a is b
    if ka == 0:
        return (a is None) == (b is None)
    return bool(a == b)


def _lt(a: Any, b: Any) -> bool:
    """ECMAScript ``a < b`` (IsLessThan; NaN and undefined compare false)."""
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return bool(a < b)
    if not isinstance(a, (str, bool, int, float)) and a is not None:
        a = _NAN if a is _UNDEF else _to_primitive(a)
    if not isinstance(b, (str, bool, int, float)) and b is not None:
        b = _NAN if b is _UNDEF else _to_primitive(b)
    if isinstance(a, str) and isinstance(b, str):
        if a.isascii() and b.isascii():
            return a < b
        return a.encode("utf-16-be", "surrogatepass") < b.encode("utf-16-be", "surrogatepass")
    return bool(_to_number(a) < _to_number(b))


def _le(a: Any, b: Any) -> bool:
    """ECMAScript ``a <= b``: false when either side is NaN."""
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return bool(a <= b)
    if not isinstance(a, (str, bool, int, float)) and a is not None:
        a = _NAN if a is _UNDEF else _to_primitive(a)
    if not isinstance(b, (str, bool, int, float)) and b is not None:
        b = _NAN if b is _UNDEF else _to_primitive(b)
    if isinstance(a, str) and isinstance(b, str):
        return not _lt(b, a)
    return bool(_to_number(a) <= _to_number(b))


def _parse_float(v: Any) -> float:
    """ECMAScript ``parseFloat(v)``: the longest numeric prefix of ToString(v), else NaN."""
    if isinstance(v, _NUMS) and not isinstance(v, bool):
        return _int_to_float(v) if isinstance(v, int) else v
    s = _to_string(v).lstrip(_JS_WS)
    m = _PARSEFLOAT_RE.match(s)
    if not m:
        return _NAN
    text = m.group(0)
    if text.endswith("Infinity"):
        return -math.inf if text[0] == "-" else math.inf
    return float(text)


def _js_num(v: float) -> float | int:
    """Arithmetic results: whole numbers as int (prints as JavaScript would), others as float."""
    if v.is_integer() and -(2**53) <= v <= 2**53:
        return int(v)
    return v


def _js_mod(a: Any, b: Any) -> float | int:
    x, y = _to_number(a), _to_number(b)
    if y == 0 or x != x or y != y or x in (math.inf, -math.inf):
        return _NAN
    if y in (math.inf, -math.inf):
        return x
    if isinstance(x, int) and isinstance(y, int):
        r = abs(x) % abs(y)
        return -r if x < 0 else r
    return _js_num(math.fmod(x, y))


def _js_div(a: Any, b: Any) -> float | int:
    x, y = _to_number(a), _to_number(b)
    if y == 0:
        if x == 0 or x != x:
            return _NAN
        neg = (x < 0) != (math.copysign(1.0, y) < 0)
        return -math.inf if neg else math.inf
    try:
        return _js_num(x / y)
    except OverflowError:
        return math.inf if (x < 0) == (y < 0) else -math.inf


def _js_sub(a: Any, b: Any) -> float | int:
    x = _to_number(a)
    if b is _UNDEF:
        return -x
    y = _to_number(b)
    try:
        return _js_num(float(x - y))
    except OverflowError:
        return math.inf if x > y else -math.inf


def _js_minmax(args: list[Any], is_min: bool) -> float | int:
    if not args:
        return math.inf if is_min else -math.inf
    nums = [_to_number(v) for v in args]
    for n in nums:
        if n != n:
            return _NAN
    return min(nums) if is_min else max(nums)


def _js_substr(source: Any, start: Any = _UNDEF, end: Any = _UNDEF) -> str:
    s = _to_string(source)
    if end is not _UNDEF and _lt(end, 0):
        temp = _substr(s, start, _UNDEF)
        # `temp.length + end`: a number adds; a string (or an array, via its string form) concatenates.
        if isinstance(end, (int, float)) and not isinstance(end, bool):
            length: Any = len(temp) + end
        elif isinstance(end, (str, list, tuple)):
            length = str(len(temp)) + _to_string(end)
        else:
            length = len(temp) + _to_number(end)
        return _substr(temp, 0, length)
    return _substr(s, start, end)


def _to_integer(v: Any) -> int:
    n = _to_number(v)
    if n != n:
        return 0
    if n in (math.inf, -math.inf):
        return 2**62 if n > 0 else -(2**62)
    return int(n)


def _substr(s: str, start: Any, length: Any) -> str:
    size = len(s)
    i = _to_integer(start)
    if i < 0:
        i = max(size + i, 0)
    i = min(i, size)
    n = size - i if length is _UNDEF else min(max(_to_integer(length), 0), size - i)
    return s[i : i + n] if n > 0 else ""


def _js_in(a: Any, b: Any) -> bool:
    if not _truthy_js(b):
        return False
    if isinstance(b, str):
        return _to_string(a) in b
    if isinstance(b, (list, tuple)):
        return any(_strict_eq(a, x) for x in b)
    return False


def _truthy_js(v: Any) -> bool:
    """Plain JavaScript truthiness (``!b``), where ``[]`` is truthy."""
    if isinstance(v, (list, tuple)):
        return True
    return _truthy(v)
