"""The one naming rule between Python attribute names and JSON keys.

* ``xdm_start_date`` -> ``xdm:startDate`` (namespaces ``xdm``, ``repo``, ``dc``, ``ode``, ``offerui``, ``meta``)
* ``at_id`` -> ``@id``, ``at_type`` -> ``@type``; ``links`` -> ``_links``, ``embedded`` -> ``_embedded``,
  ``instance`` -> ``_instance``, ``page`` -> ``_page``
* everything else: snake_case -> camelCase (``time_offset_in_minutes`` -> ``timeOffsetInMinutes``)

A class may list irregular keys in ``__wire_names__`` (``{"browser_ua_with_major_version":
"browserUAWithMajorVersion"}``); those win over the rule.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs

__all__ = ["NAMESPACES", "json_key", "python_name", "wire_names"]

NAMESPACES = frozenset({"xdm", "repo", "dc", "ode", "offerui", "meta"})

_SPECIAL = {
    "at_id": "@id",
    "at_type": "@type",
    "links": "_links",
    "embedded": "_embedded",
    "instance": "_instance",
    "page": "_page",
}
_SPECIAL_BACK = {v: k for k, v in _SPECIAL.items()}


def _camel(words: list[str]) -> str:
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


@functools.lru_cache(maxsize=4096)
def json_key(name: str) -> str:
    """The JSON key of the attribute ``name`` under the default rule."""
    special = _SPECIAL.get(name)
    if special is not None:
        return special
    words = name.rstrip("_").split("_")
    if len(words) > 1 and words[0] in NAMESPACES:
        return f"{words[0]}:{_camel(words[1:])}"
    return _camel(words)


def _snake(camel: str) -> str:
    out: list[str] = []
    for ch in camel:
        if ch.isupper():
            out.append("_")
            out.append(ch.lower())
        else:
            out.append(ch)
    return "".join(out)


def python_name(key: str) -> str:
    """The attribute name the default rule maps to ``key`` (inverse of :func:`json_key`)."""
    special = _SPECIAL_BACK.get(key)
    if special is not None:
        return special
    ns, sep, rest = key.partition(":")
    if sep:
        return f"{ns}_{_snake(rest)}"
    return _snake(key)


def wire_names(cls: type[Any]) -> dict[str, str]:
    """Attribute name -> JSON key for every field of the attrs class ``cls`` except ``extras``."""
    overrides: dict[str, str] = getattr(cls, "__wire_names__", {})
    return {a.name: overrides.get(a.name) or json_key(a.name) for a in attrs.fields(cls) if a.name != "extras"}
