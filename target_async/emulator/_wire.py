"""HTTP primitives shared by the app, the repository handlers and the list machinery (``_query``).

- ``ApiError``: an error answer; the app renders it as a problem document (see ``_app``).
- ``parse_json``: strict JSON (no ``NaN``/``Infinity``, no out-of-range numbers) with a readable reason.
- ``read_body``: the request body, refused with 413 above a size limit.
- ``parse_media_type``: lenient ``Content-Type`` parsing: case-insensitive type, parameters in any order,
  quoted or unquoted values (``_repository`` decides which types each route accepts).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

__all__ = ["ApiError", "parse_json", "parse_media_type", "read_body"]


class ApiError(Exception):
    """An error answer: rendered by the app as ``{type, title, status, detail, message, ...extra}``."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        prop: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.prop = prop
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def parse_json(raw: bytes, what: str = "request body") -> Any:
    """Parse JSON strictly (no NaN/Infinity); ``ValueError`` with a readable reason otherwise."""
    if not raw.strip():
        raise ValueError(f"the {what} is empty")
    try:
        value = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:  # Python < 3.13 stops here; 3.13's parser goes deeper, hence the check below
        raise ValueError(f"the {what} is nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError(f"the {what} is not UTF-8 JSON") from None
    except ValueError as exc:
        raise ValueError(f"the {what} is not valid JSON: {exc}") from None
    if _deeper_than(value, MAX_JSON_DEPTH):
        raise ValueError(f"the {what} is nested too deeply (more than {MAX_JSON_DEPTH} levels)")
    return value


MAX_JSON_DEPTH = 256
"""The deepest nesting of arrays and objects a body may have (on every Python, whatever its parser allows)."""


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests arrays/objects more than ``limit`` deep (iterative: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes with 413."""
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the request body exceeds the emulator's limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _split_params(value: str) -> list[str]:
    parts, cur, quoted, i = [], [], False, 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and quoted and i + 1 < len(value):
            cur.append(value[i + 1])
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            parts.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def parse_media_type(header: str) -> tuple[str, dict[str, str]]:
    """``type/subtype`` (lowercase) and its parameters (names lowercase, values unquoted)."""
    first, *rest = _split_params(header)
    params: dict[str, str] = {}
    for item in rest:
        name, sep, value = item.partition("=")
        if not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        params.setdefault(name.strip().lower(), value)
    return first.strip().lower(), params
