"""The ``page``/``referring`` and ``mbox`` contexts of on-device rules (on-device.md §4).

:func:`url_context` splits a URL into ``url, path, query, fragment, subdomain, domain, topLevelDomain`` plus a
lower-case ``*_lc`` copy of each. The host is the URL's hostname (lower case, without port or user-info);
``domain`` (the registrable domain) and ``topLevelDomain`` (the public suffix) come from the Public Suffix List,
private section included (``us-east-1.elasticbeanstalk.com`` is a suffix), through ``publicsuffixlist``, whose
wheel ships the list: nothing is fetched at run time. A host that is itself a public suffix, a single label
(``localhost``) or an IP address is its own ``domain`` with an empty ``topLevelDomain``; an unknown top-level
label counts as a suffix (the PSL's ``*`` rule). ``subdomain`` is what precedes the domain, less one leading
``www`` label. A URL with a host and no path has the path ``/`` (as browsers report it); a URL written without
a scheme (``example.com/x``) is read as ``http://example.com/x``.

:func:`unflatten_parameters` turns mbox parameters into the ``mbox`` context.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

__all__ = ["CACHE_SIZE", "MAX_CACHED_URL", "MAX_KEY_DEPTH", "unflatten_parameters", "url_context"]

#: A parameter name with more dot-separated parts than this stays flat (keeps the ``mbox`` context shallow
#: enough for anything that walks it recursively: traces, JSON encoding).
MAX_KEY_DEPTH = 32
#: Distinct URLs remembered.
CACHE_SIZE = 1024
#: Longer URLs are parsed on every call rather than cached (bounds the cache's memory to ~CACHE_SIZE × 4 × this).
MAX_CACHED_URL = 2048

_SCHEMELESS = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::\d*)?(?:[/?#]|\Z)")
_KEYS = ("url", "path", "query", "fragment", "subdomain", "domain", "topLevelDomain")
_PSL = PublicSuffixList(accept_unknown=True)  # the bundled list; only_icann=False keeps private suffixes
_EMPTY: Mapping[str, Any] = MappingProxyType(dict.fromkeys(_KEYS, "") | {f"{k}_lc": "" for k in _KEYS})


def _is_ip(host: str) -> bool:
    if ":" not in host and not host.replace(".", "").isdigit():
        return False  # the common case, without the cost of ipaddress's exception
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _split_host(host: str) -> tuple[str, str, str]:
    """(subdomain, domain, topLevelDomain) of a lower-case hostname."""
    if not host or _is_ip(host):
        return "", host, ""
    tld = _PSL.publicsuffix(host)
    if not tld or len(tld) >= len(host):  # a public suffix itself, or a single label
        return "", host, ""
    head = host[: -len(tld) - 1]
    dot = head.rfind(".")
    domain = f"{head[dot + 1 :]}.{tld}"
    sub = head[:dot] if dot >= 0 else ""
    if sub == "www":
        sub = ""
    elif sub.startswith("www."):
        sub = sub[4:]
    return sub, domain, tld


def _parse(url: str) -> Mapping[str, Any]:
    text = url.strip()
    try:
        parts = urlsplit(text)
        if not parts.netloc and _SCHEMELESS.match(text):
            parts = urlsplit("http://" + text)  # "example.com/x": a host without a scheme
        host = (parts.hostname or "").rstrip(".")
        path = parts.path
        if not path and parts.netloc:
            path = "/"
        query, fragment = parts.query, parts.fragment
    except ValueError:  # e.g. an unbalanced "[" in the host: no host, the rest as written
        host, path, query, fragment = "", "", "", ""
    sub, domain, tld = _split_host(host)
    values = (url, path, query, fragment, sub, domain, tld)
    out: dict[str, Any] = dict(zip(_KEYS, values, strict=True))
    for key, value in zip(_KEYS, values, strict=True):
        out[f"{key}_lc"] = value.lower()
    return MappingProxyType(out)


_parse_cached = functools.lru_cache(maxsize=CACHE_SIZE)(_parse)


def url_context(url: str | None) -> Mapping[str, Any]:
    """The ``page``/``referring`` context of a URL (read-only; all values ``""`` for no URL)."""
    if not url or not isinstance(url, str):
        return _EMPTY
    if len(url) > MAX_CACHED_URL:
        return _parse(url)
    return _parse_cached(url)


def _flat_key(key: str) -> bool:
    """Keys that stay as they are: no dot, ``..``, a leading/trailing dot, or more than MAX_KEY_DEPTH parts."""
    return "." not in key or ".." in key or key.startswith(".") or key.endswith(".") or key.count(".") >= MAX_KEY_DEPTH


def _with_lc(value: Any, depth: int = 0) -> Any:
    if isinstance(value, Mapping) and depth < 32:
        return _add_lc({k: _with_lc(v, depth + 1) for k, v in value.items()})
    return value


def _add_lc(obj: dict[Any, Any]) -> dict[Any, Any]:
    for key, value in list(obj.items()):
        if isinstance(key, str) and isinstance(value, str):
            obj.setdefault(f"{key}_lc", value.lower())  # a key the caller sent is never replaced
    return obj


def unflatten_parameters(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``mbox`` context of mbox/view/pageLoad ``parameters``: unflattened on dots, with ``*_lc`` copies.

    ``{"a.b": "X"}`` gives ``{"a": {"b": "X", "b_lc": "x"}}``. Keys with ``..`` or a leading/trailing dot stay
    flat, and so does a key of more than :data:`MAX_KEY_DEPTH` parts. Clashes are settled the same way whatever
    the order of the keys: shorter paths are placed first and a key whose path runs into a value that is not an
    object made here stays flat under its full name (``{"a": 1, "a.b": 2}`` keeps both, as
    ``{"a": 1, "a.b": 2}``). A string value gets ``<key>_lc``, its lower
    case, at its level (nested mappings too), unless the caller sent that key. The caller's mapping is not
    changed.
    """
    if not params:
        return {}
    out: dict[str, Any] = {}
    made: set[int] = set()  # ids of the dicts built here, the only ones paths may go into
    dotted: list[tuple[int, str, list[str], Any]] = []
    for key, value in params.items():
        if not isinstance(key, str) or _flat_key(key):
            out[key] = _with_lc(value)
        else:
            parts = key.split(".")
            dotted.append((len(parts), key, parts, value))
    dotted.sort(key=lambda item: item[0])
    for _, key, parts, value in dotted:
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if child is None and part not in node:
                child = {}
                made.add(id(child))
                node[part] = child
            if not isinstance(child, dict) or id(child) not in made:
                node = None  # type: ignore[assignment]
                break
            node = child
        if node is None or parts[-1] in node:
            out.setdefault(key, _with_lc(value))  # clash: stays flat
        else:
            node[parts[-1]] = _with_lc(value)

    stack = [out]  # add the *_lc copies level by level (iteratively: a key may have thousands of dots)
    while stack:
        obj = stack.pop()
        stack.extend(v for v in obj.values() if isinstance(v, dict) and id(v) in made)
        _add_lc(obj)
    return out
