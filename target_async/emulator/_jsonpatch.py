"""RFC 6902 JSON Patch (and the RFC 6901 JSON Pointers it uses), applied to plain JSON values.

Two error classes, because the repository answers them differently (``repository.md`` J4):

- ``PatchFormatError``: the patch *document* is malformed (not an array of operation objects, an unknown
  ``op``, a missing ``path``/``value``/``from``, a pointer that is not ``""`` or ``/...``, a bad ``~`` escape).
  The emulator answers 400.
- ``PatchApplyError``: a well-formed operation cannot be applied to this document (a missing target or parent,
  an array index out of range, a failed ``test``, moving a value into itself). The emulator answers 422.

``apply_patch`` works on a deep copy and returns it, so a failing patch never leaves a half-applied document.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["PatchApplyError", "PatchFormatError", "apply_patch", "json_equal", "parse_pointer", "validate_patch"]

_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})


class PatchFormatError(ValueError):
    """The patch document itself is malformed (HTTP 400)."""


class PatchApplyError(ValueError):
    """A well-formed operation cannot be applied to the target document (HTTP 422)."""


def parse_pointer(pointer: object, *, where: str = "path") -> list[str]:
    """Split an RFC 6901 pointer into unescaped reference tokens (``""`` is the whole document)."""
    if not isinstance(pointer, str):
        raise PatchFormatError(f"{where} must be a string JSON Pointer")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchFormatError(f"{where} {pointer!r} is not a JSON Pointer (it must be empty or start with '/')")
    tokens = []
    for raw in pointer[1:].split("/"):
        i = raw.find("~")
        while i != -1:
            if i + 1 >= len(raw) or raw[i + 1] not in "01":
                raise PatchFormatError(f"{where} {pointer!r} has an invalid '~' escape (only ~0 and ~1 exist)")
            i = raw.find("~", i + 2)
        tokens.append(raw.replace("~1", "/").replace("~0", "~"))
    return tokens


def json_equal(a: Any, b: Any) -> bool:
    """JSON value equality: numbers by value, but ``true`` is not ``1`` and objects ignore key order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def validate_patch(patch: object) -> list[dict[str, Any]]:
    """Check the shape of a patch document; return its operations (raises ``PatchFormatError``)."""
    if not isinstance(patch, list):
        raise PatchFormatError("a JSON Patch document must be a JSON array of operations")
    for n, op in enumerate(patch):
        if not isinstance(op, dict):
            raise PatchFormatError(f"operation {n} must be a JSON object")
        name = op.get("op")
        if name not in _OPS:
            raise PatchFormatError(f"operation {n} has an unknown or missing 'op' ({name!r})")
        if "path" not in op:
            raise PatchFormatError(f"operation {n} ({name}) has no 'path'")
        parse_pointer(op["path"], where=f"operation {n} path")
        if name in ("add", "replace", "test") and "value" not in op:
            raise PatchFormatError(f"operation {n} ({name}) has no 'value'")
        if name in ("move", "copy"):
            if "from" not in op:
                raise PatchFormatError(f"operation {n} ({name}) has no 'from'")
            parse_pointer(op["from"], where=f"operation {n} from")
    return patch


def _index(token: str, length: int, *, allow_end: bool, where: str) -> int:
    if allow_end and token == "-":
        return length
    if not (token.isascii() and token.isdigit()) or (len(token) > 1 and token[0] == "0"):
        raise PatchApplyError(f"{where}: {token!r} is not an array index")
    i = int(token)
    if i > length or (i == length and not allow_end):
        raise PatchApplyError(f"{where}: array index {i} is out of range")
    return i


def _get(doc: Any, tokens: list[str], where: str) -> Any:
    cur = doc
    for depth, token in enumerate(tokens):
        here = "/" + "/".join(tokens[: depth + 1])
        if isinstance(cur, dict):
            if token not in cur:
                raise PatchApplyError(f"{where}: {here} does not exist")
            cur = cur[token]
        elif isinstance(cur, list):
            cur = cur[_index(token, len(cur), allow_end=False, where=f"{where}: {here}")]
        else:
            raise PatchApplyError(f"{where}: {here} does not exist (its parent is not an object or array)")
    return cur


def _parent(doc: Any, tokens: list[str], where: str) -> Any:
    parent = _get(doc, tokens[:-1], where)
    if not isinstance(parent, (dict, list)):
        raise PatchApplyError(f"{where}: the parent of /{'/'.join(tokens)} is not an object or array")
    return parent


def _add(doc: Any, tokens: list[str], value: Any, where: str) -> Any:
    if not tokens:
        return value
    parent = _parent(doc, tokens, where)
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    else:
        parent.insert(_index(tokens[-1], len(parent), allow_end=True, where=where), value)
    return doc


def _remove(doc: Any, tokens: list[str], where: str) -> tuple[Any, Any]:
    if not tokens:
        raise PatchApplyError(f"{where}: the whole document cannot be removed")
    parent = _parent(doc, tokens, where)
    if isinstance(parent, dict):
        if tokens[-1] not in parent:
            raise PatchApplyError(f"{where}: /{'/'.join(tokens)} does not exist")
        return doc, parent.pop(tokens[-1])
    return doc, parent.pop(_index(tokens[-1], len(parent), allow_end=False, where=where))


def apply_patch(doc: Any, patch: object) -> Any:
    """Apply ``patch`` to a deep copy of ``doc`` and return the result (the input is never modified)."""
    ops = validate_patch(patch)
    result = copy.deepcopy(doc)
    for n, op in enumerate(ops):
        name = op["op"]
        path = parse_pointer(op["path"])
        where = f"operation {n} ({name} {op['path']})"
        if name == "add":
            result = _add(result, path, copy.deepcopy(op["value"]), where)
        elif name == "remove":
            result, _ = _remove(result, path, where)
        elif name == "replace":
            _get(result, path, where)
            if path:
                result, _ = _remove(result, path, where)
            result = _add(result, path, copy.deepcopy(op["value"]), where)
        elif name == "test":
            if not json_equal(_get(result, path, where), op["value"]):
                raise PatchApplyError(f"{where}: test failed, the value differs")
        else:
            source = parse_pointer(op["from"])
            if name == "move":
                if path[: len(source)] == source and len(path) > len(source):
                    raise PatchApplyError(f"{where}: a value cannot be moved into one of its own children")
                if path == source:
                    _get(result, source, where)
                    continue
                result, value = _remove(result, source, where)
            else:
                value = copy.deepcopy(_get(result, source, where))
            result = _add(result, path, value, where)
    return result
