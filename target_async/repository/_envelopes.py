"""Reading repository responses into the envelope models (receipts, instances, pages, containers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._http import Answer, decode_body
from .._serde import structure
from ..models.repository import Container, Instance, Page, Receipt, Schema
from ._links import base_of_response, link_href, resolve_href

__all__ = [
    "etag_from_header",
    "parse_containers",
    "parse_instance",
    "parse_page",
    "parse_receipt",
    "response_base",
]

_PAGE_KEYS = frozenset({"_embedded", "_links", "requestTime", "containerId", "schemaNs"})


def response_base(response: Answer, default: str) -> str:
    """The base for the links of ``response``: its ``Content-Base``, else the repository base."""
    return base_of_response(response.headers, response.url, default)


def etag_from_header(value: str | None) -> int | None:
    """The revision number of an ``ETag`` header (``"3"``, ``W/"3"``), or None when it is not a number."""
    if not value:
        return None
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    return int(text) if text.isdigit() else None


def _body_dict(response: Answer) -> dict[str, Any]:
    body = decode_body(response)
    return dict(body) if isinstance(body, Mapping) else {}


def parse_receipt(
    response: Answer,
    base: str,
    *,
    instance_id: str | None = None,
    location: str | None = None,
) -> Receipt:
    """The :class:`Receipt` of a create/update/patch/delete response.

    Args:
        response: the response (its ``Location`` and ``Content-Base`` headers are used).
        base: the repository base URL.
        instance_id: used when the body has no ``instanceId`` (known for updates).
        location: the instance URL to report when the response has no ``Location``.
    """
    data = _body_dict(response)
    header = response.headers.get("location")
    if header and header.strip():
        location = resolve_href(header, response_base(response, base))
    if "instanceId" not in data:
        guess = instance_id
        if guess is None and location:
            guess = location.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or None
        if guess is not None:
            data["instanceId"] = guess
    receipt = structure(data, Receipt, what="receipt")
    receipt.location = location
    if receipt.etag is None:
        receipt.etag = etag_from_header(response.headers.get("etag"))
    return receipt


def parse_instance(data: Any, base: str, *, etag_header: str | None = None) -> Instance:
    """An :class:`Instance` from one HAL envelope (``_instance`` plus repository fields)."""
    payload = data.get("_instance") if isinstance(data, Mapping) else None
    if isinstance(payload, dict):
        # JSON objects need no conversion: keep the decoded dict instead of copying it key by key
        instance = structure({**data, "_instance": {}}, Instance, what="instance")
        instance.instance = payload
    else:
        instance = structure(data, Instance, what="instance")
    if instance.id is None:
        at_id = instance.instance.get("@id")
        instance.id = at_id if isinstance(at_id, str) else None
    href = link_href(instance.links, "self")
    if href is not None:
        instance.location = resolve_href(href, base)
    if instance.etag is None:
        instance.etag = etag_from_header(etag_header)
    return instance


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_page(response: Answer, base: str) -> Page:
    """A :class:`Page` from a list or search response (``_embedded.results``, ``count``, ``total``)."""
    body = _body_dict(response)
    page_base = response_base(response, base)
    embedded = body.get("_embedded")
    embedded = embedded if isinstance(embedded, Mapping) else {}
    raw_results = embedded.get("results")
    if raw_results is None:
        raw_results = []
    if not isinstance(raw_results, list):
        raw_results = structure(raw_results, list[dict[str, Any]], what="page._embedded.results")
    links = body.get("_links")
    links = dict(links) if isinstance(links, Mapping) else None
    next_href = link_href(links, "next")
    page = Page(
        results=[parse_instance(item, page_base) for item in raw_results],
        count=_int_or_none(embedded.get("count")),
        total=_int_or_none(embedded.get("total")),
        next=resolve_href(next_href, page_base) if next_href else None,
        request_time=body.get("requestTime") if isinstance(body.get("requestTime"), str) else None,
        container_id=body.get("containerId") if isinstance(body.get("containerId"), str) else None,
        schema_ns=body.get("schemaNs") if isinstance(body.get("schemaNs"), str) else None,
        links=links,
    )
    page.extras = {k: v for k, v in body.items() if k not in _PAGE_KEYS}
    return page


def parse_containers(response: Answer, base: str) -> list[Container]:
    """The containers of a repository-root (``home.hal``) response."""
    body = _body_dict(response)
    page_base = response_base(response, base)
    embedded = body.get("_embedded")
    items: list[Any] = []
    if isinstance(embedded, Mapping):
        for key, value in embedded.items():
            if str(key).split(";", 1)[0] == Schema.CONTAINER.value and isinstance(value, list):
                items.extend(value)
    out = []
    for item in items:
        container = structure(item, Container, what="container")
        href = link_href(container.links, "self")
        if href is not None:
            container.location = resolve_href(href, page_base)
        out.append(container)
    return out
