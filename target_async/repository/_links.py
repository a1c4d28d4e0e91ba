"""HAL link and ``Location`` resolution against the repository base (spec section 1.O).

Repository hrefs start with ``/`` but are relative to the repository base, not to the host:
``/{containerId}/instances/{id}`` means ``https://platform.adobe.io/data/core/xcore/{containerId}/…``.
RFC 3986 resolution (``urljoin``) would drop ``/data/core/xcore``, so it is not used for those.

:func:`resolve_href` only resolves. A URL the client is about to *use* (a ``_links.next`` page, a delete's
status ``Location``, an instance's ``Location`` or ``self`` link, a caller's ``url=``) must also pass
:func:`escape_reason`: it must stay on the repository base's scheme and host (no other host, port or
user-info) and under the base's path, with no ``.``/``..`` segment (plain or percent-encoded), so that a
response cannot send the client's credentials anywhere but the repository.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

__all__ = ["base_of_response", "escape_reason", "link_href", "origin", "resolve_href"]

_log = logging.getLogger("target_async")


def origin(url: str) -> tuple[str, str]:
    """``(scheme, netloc)`` of an absolute URL, lower-cased."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def resolve_href(href: str, base: str) -> str:
    """The absolute URL of a repository href.

    Rules, in order:

    * an absolute URL (``https://…``) is returned unchanged; ``//host/…`` takes the base's scheme;
    * ``/x`` is relative to the base: ``base + "x"`` (``base`` ends with ``/``), unless it already starts
      with the base's path (``/data/core/xcore/x``), which is then taken relative to the host;
    * anything else (``x/y``, ``?start=…``) is resolved with RFC 3986 rules against the base.

    Args:
        href: the ``Location`` value or ``_links.*.href``.
        base: the repository base URL, or the response's ``Content-Base`` when it sent one.
    """
    href = href.strip()
    if not base.endswith("/"):
        base += "/"
    if href.startswith("/") and not href.startswith("//"):  # the common case: no URL parsing per item
        root, path = _split_base(base)
        if path != "/" and href.startswith(path):
            return root + href
        return base + href[1:]
    if urlsplit(href).scheme:
        return href
    if href.startswith("//"):
        return f"{urlsplit(base).scheme}:{href}"
    return urljoin(base, href)


@functools.lru_cache(maxsize=64)
def _split_base(base: str) -> tuple[str, str]:
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}", parts.path or "/"


def escape_reason(url: str, base: str) -> str | None:
    """Why the absolute ``url`` is not inside the repository ``base``, or None when it is.

    Inside means: the same scheme and host (port and user-info included) as ``base``, a path under the
    base's path, and no ``.`` or ``..`` path segment, plain or percent-encoded (``%2e%2e``), which a server or
    an HTTP library could resolve to somewhere else.
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"it is not a valid URL ({exc})"
    if (parts.scheme.lower(), parts.netloc.lower()) != origin(base):
        return f"it is not on {origin(base)[0]}://{origin(base)[1]}"
    if any(unquote(segment) in (".", "..") for segment in parts.path.split("/")):
        return "its path has a '.' or '..' segment"
    root = _split_base(base if base.endswith("/") else base + "/")[1]
    if not (parts.path or "/").startswith(root):
        return f"its path is not under {root}"
    return None


def base_of_response(headers: Mapping[str, str], request_url: str, default: str) -> str:
    """The base to resolve a response's links against: its ``Content-Base`` if present, else ``default``.

    A relative ``Content-Base`` is resolved against the request URL (standard rules). A ``Content-Base`` outside
    ``default`` (the repository base; see :func:`escape_reason`) is ignored: it names the repository's base,
    which the client already knows, and a gateway in front of the repository may not rewrite it.
    """
    content_base = headers.get("content-base")
    if not content_base or not content_base.strip():
        return default
    value = urljoin(request_url, content_base.strip())
    value = value if value.endswith("/") else value + "/"
    if escape_reason(value, default) is not None:
        _log.debug("ignoring Content-Base %s: it is not inside the repository base %s", value, default)
        return default
    return value


def link_href(links: Any, rel: str) -> str | None:
    """``links[rel].href`` of a HAL ``_links`` object (the first one when the relation is a list)."""
    if not isinstance(links, Mapping):
        return None
    link = links.get(rel)
    if isinstance(link, list):
        link = link[0] if link else None
    if isinstance(link, Mapping):
        href = link.get("href")
        if isinstance(href, str) and href.strip():
            return href
    return None
