"""HAL link and ``Location`` resolution against the repository base (spec section 1.O).

Repository hrefs start with ``/`` but are relative to the repository base, not to the host:
``/{containerId}/instances/{id}`` means ``https://platform.adobe.io/data/core/xcore/{containerId}/…``.
RFC 3986 resolution (``urljoin``) would drop ``/data/core/xcore``, so it is not used for those.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

__all__ = ["base_of_response", "link_href", "origin", "resolve_href"]


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


def base_of_response(headers: Mapping[str, str], request_url: str, default: str) -> str:
    """The base to resolve a response's links against: its ``Content-Base`` if present, else ``default``.

    A relative ``Content-Base`` is resolved against the request URL (standard rules).
    """
    content_base = headers.get("content-base")
    if not content_base or not content_base.strip():
        return default
    value = urljoin(request_url, content_base.strip())
    return value if value.endswith("/") else value + "/"


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
