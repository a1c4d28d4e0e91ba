"""Reading repository responses into the envelope models (receipts, instances, pages, containers).

A successful answer that cannot be read is never taken as an empty one: a body that is not JSON (an HTML
page from a proxy, a truncated document), a JSON value of the wrong shape, a list page without its results,
or a link that leaves the repository raises :class:`ResponseDecodeError`. That error is an
:class:`APIError`: it carries the status, the request id, the headers and a short excerpt of the body, and
its message says that the request **was** sent (for a create: that the instance was created).

A list or search page is readable when its body is a JSON object with ``_embedded.results`` an array
(spec F2). The one other form of an empty page is an ``_embedded`` object without ``results`` whose
``count`` or ``total`` is ``0``. A page without ``_embedded`` is unreadable: the results document always
carries it, and reading it as "no more results" would end a list early without a word.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._exceptions import ResponseDecodeError, ValidationError
from .._http import Answer
from .._serde import JSON_DECODE_ERRORS, json_loads, structure
from ..models.repository import Container, Instance, Page, Receipt, Schema
from ._links import base_of_response, escape_reason, link_href, resolve_href

__all__ = [
    "BODY_EXCERPT_CHARS",
    "etag_from_header",
    "json_body",
    "link_inside",
    "parse_containers",
    "parse_instance",
    "parse_page",
    "parse_receipt",
    "read_instance",
    "read_json_object",
    "response_base",
    "unreadable",
]

BODY_EXCERPT_CHARS = 200
"""How much of an unreadable body a :class:`ResponseDecodeError` keeps (its ``body`` and message)."""

_PAGE_KEYS = frozenset({"_embedded", "_links", "requestTime", "containerId", "schemaNs"})


class _Unreadable(Exception):
    """Internal: why a decoded document cannot be used (turned into :class:`ResponseDecodeError`)."""


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


def _excerpt(response: Answer) -> str:
    # decode only the head: the body may be large, and a multi-byte character may be cut (replaced)
    head = response.content[: BODY_EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    text = " ".join(head.split())
    return text if len(text) <= BODY_EXCERPT_CHARS else text[: BODY_EXCERPT_CHARS - 1] + "…"


def unreadable(
    response: Answer,
    problem: str,
    *,
    what: str,
    request_id: str | None = None,
    done: str | None = None,
) -> ResponseDecodeError:
    """The :class:`ResponseDecodeError` of an answer to ``what`` that could not be used.

    Args:
        problem: what is wrong with the body (``"the body is not JSON"``).
        what: the call (``"create_instance"``).
        request_id: the ``x-request-id`` that was sent (the answer's own, when it echoes one, wins).
        done: what the status says happened anyway (``"the instance WAS created"``).
    """
    status = response.status_code
    content_type = response.headers.get("content-type") or "none"
    head = f"{done} (HTTP {status}), but its answer" if done else f"the request was sent and answered {status}, but it"
    excerpt = _excerpt(response)
    message = f"{what}: {head} could not be read: {problem} (Content-Type {content_type}; " + (
        f"body starts {excerpt!r})" if excerpt else "empty body)"
    )
    return ResponseDecodeError(
        status,
        message,
        body=excerpt,
        request_id=response.headers.get("x-request-id") or request_id,
        headers=response.headers,
    )


def json_body(response: Answer) -> Any:
    """The decoded JSON body, ``None`` for an empty one; raises :class:`_Unreadable` for anything else."""
    content = response.content
    if not content or not content.strip():
        return None
    try:
        return json_loads(content)
    except JSON_DECODE_ERRORS as exc:
        raise _Unreadable(f"the body is not JSON ({exc})") from exc


def _json_object(response: Answer, *, allow_empty: bool = False) -> dict[str, Any]:
    body = json_body(response)
    if body is None and allow_empty:
        return {}
    if not isinstance(body, Mapping):
        kind = "empty" if body is None else f"a JSON {type(body).__name__}, not an object"
        raise _Unreadable(f"the body is {kind}")
    return dict(body)


def read_json_object(
    response: Answer, *, what: str, request_id: str | None = None, done: str | None = None
) -> dict[str, Any] | None:
    """The body as a JSON object, ``None`` when it is empty; :class:`ResponseDecodeError` for anything else."""
    try:
        body = json_body(response)
        if body is not None and not isinstance(body, Mapping):
            raise _Unreadable(f"the body is a JSON {type(body).__name__}, not an object")
    except _Unreadable as exc:
        raise unreadable(response, str(exc), what=what, request_id=request_id, done=done) from exc
    return None if body is None else dict(body)


def link_inside(
    href: str, response: Answer, base: str, *, what: str, request_id: str | None = None, done: str | None = None
) -> str:
    """``href`` from ``response`` resolved (O1); :class:`ResponseDecodeError` when it leaves the repository."""
    try:
        return _inside(href, response_base(response, base), base, "link")
    except _Unreadable as exc:
        raise unreadable(response, str(exc), what=what, request_id=request_id, done=done) from exc


def _inside(href: str, base: str, repo_base: str, what: str) -> str:
    url = resolve_href(href, base)
    reason = escape_reason(url, repo_base)
    if reason is not None:
        shown = repr(href) if url == href else f"{href!r} (resolved: {url})"
        raise _Unreadable(f"the {what} {shown} leaves the repository: {reason}")
    return url


def _structure(data: Any, cls: type[Any], what: str) -> Any:
    try:
        return structure(data, cls, what=what)
    except ValidationError as exc:
        raise _Unreadable(exc.message) from exc


def parse_receipt(
    response: Answer,
    base: str,
    *,
    instance_id: str | None = None,
    location: str | None = None,
    request_id: str | None = None,
    what: str = "receipt",
    done: str | None = None,
) -> Receipt:
    """The :class:`Receipt` of a create/update/patch/delete response.

    Args:
        response: the response (its ``Location`` and ``Content-Base`` headers are used).
        base: the repository base URL.
        instance_id: used when the body has no ``instanceId`` (known for updates).
        location: the instance URL to report when the response has no ``Location``.
        request_id: the request id that was sent (for the error).
        what: the call, for the error.
        done: what the success status means happened, for the error (``"the instance WAS created"``).

    Raises:
        ResponseDecodeError: the body is not a JSON receipt (or empty), or ``Location`` leaves the repository.
    """
    header = response.headers.get("location")
    try:
        if header and header.strip():
            location = _inside(header, response_base(response, base), base, "Location")
        data = _json_object(response, allow_empty=True)
        if "instanceId" not in data:
            guess = instance_id
            if guess is None and location:
                guess = location.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or None
            if guess is not None:
                data["instanceId"] = guess
            else:
                raise _Unreadable("neither the body nor a Location header gives the instance id")
        receipt: Receipt = _structure(data, Receipt, "receipt")
    except _Unreadable as exc:
        if header and header.strip() and done:
            done = f"{done} (Location: {header.strip()})"
        raise unreadable(response, str(exc), what=what, request_id=request_id, done=done) from exc
    receipt.location = location
    if receipt.etag is None:
        receipt.etag = etag_from_header(response.headers.get("etag"))
    return receipt


def parse_instance(data: Any, base: str, *, etag_header: str | None = None, repo_base: str | None = None) -> Instance:
    """An :class:`Instance` from one HAL envelope (``_instance`` plus repository fields).

    With ``repo_base``, a ``self`` link that leaves the repository raises :class:`_Unreadable`; so does an
    envelope that does not fit (callers turn it into :class:`ResponseDecodeError`).
    """
    payload = data.get("_instance") if isinstance(data, Mapping) else None
    if isinstance(payload, dict):
        # JSON objects need no conversion: keep the decoded dict instead of copying it key by key
        instance: Instance = _structure({**data, "_instance": {}}, Instance, "instance")
        instance.instance = payload
    else:
        instance = _structure(data, Instance, "instance")
    if instance.id is None:
        at_id = instance.instance.get("@id")
        instance.id = at_id if isinstance(at_id, str) else None
    href = link_href(instance.links, "self")
    if href is not None:
        instance.location = _inside(href, base, repo_base, "self link") if repo_base else resolve_href(href, base)
    if instance.etag is None:
        instance.etag = etag_from_header(etag_header)
    return instance


def read_instance(response: Answer, base: str, *, request_id: str | None = None) -> Instance:
    """The :class:`Instance` of a read; raises :class:`ResponseDecodeError` when the answer is unusable."""
    try:
        return parse_instance(
            _json_object(response),
            response_base(response, base),
            etag_header=response.headers.get("etag"),
            repo_base=base,
        )
    except _Unreadable as exc:
        raise unreadable(response, str(exc), what="get_instance", request_id=request_id) from exc


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _page(response: Answer, base: str) -> Page:
    body = _json_object(response)
    page_base = response_base(response, base)
    embedded = body.get("_embedded")
    if embedded is None:
        raise _Unreadable("it has no '_embedded' (a results page always has one, even when empty)")
    if not isinstance(embedded, Mapping):
        raise _Unreadable(f"'_embedded' is a {type(embedded).__name__}, not an object")
    count, total = _int_or_none(embedded.get("count")), _int_or_none(embedded.get("total"))
    raw_results = embedded.get("results")
    if raw_results is None:
        if count != 0 and total != 0:
            raise _Unreadable("'_embedded' has no 'results' and does not say the page is empty (count 0)")
        raw_results = []
    if not isinstance(raw_results, list):
        raise _Unreadable(f"'_embedded.results' is a {type(raw_results).__name__}, not an array")
    links = body.get("_links")
    links = dict(links) if isinstance(links, Mapping) else None
    next_href = link_href(links, "next")
    request_time, container_id, schema_ns = (body.get(k) for k in ("requestTime", "containerId", "schemaNs"))
    page = Page(
        results=[parse_instance(item, page_base, repo_base=base) for item in raw_results],
        count=count,
        total=total,
        next=_inside(next_href, page_base, base, "next link") if next_href else None,
        request_time=request_time if isinstance(request_time, str) else None,
        container_id=container_id if isinstance(container_id, str) else None,
        schema_ns=schema_ns if isinstance(schema_ns, str) else None,
        links=links,
    )
    page.extras = {k: v for k, v in body.items() if k not in _PAGE_KEYS}
    return page


def parse_page(response: Answer, base: str, *, request_id: str | None = None, what: str = "list page") -> Page:
    """A :class:`Page` from a list or search response (``_embedded.results``, ``count``, ``total``).

    Raises:
        ResponseDecodeError: the answer is not a readable results page (see the module docstring).
    """
    try:
        return _page(response, base)
    except _Unreadable as exc:
        raise unreadable(response, str(exc), what=what, request_id=request_id) from exc


def _containers(response: Answer, base: str) -> list[Container]:
    body = _json_object(response)
    page_base = response_base(response, base)
    embedded = body.get("_embedded")
    items: list[Any] = []
    if isinstance(embedded, Mapping):
        for key, value in embedded.items():
            if str(key).split(";", 1)[0] == Schema.CONTAINER.value and isinstance(value, list):
                items.extend(value)
    elif embedded is not None:
        raise _Unreadable(f"'_embedded' is a {type(embedded).__name__}, not an object")
    out = []
    for item in items:
        container: Container = _structure(item, Container, "container")
        href = link_href(container.links, "self")
        if href is not None:
            container.location = _inside(href, page_base, base, "self link")
        out.append(container)
    return out


def parse_containers(response: Answer, base: str, *, request_id: str | None = None) -> list[Container]:
    """The containers of a repository-root (``home.hal``) response (none when it embeds none).

    Raises:
        ResponseDecodeError: the body is not a JSON object, or a container does not fit.
    """
    try:
        return _containers(response, base)
    except _Unreadable as exc:
        raise unreadable(response, str(exc), what="list_containers", request_id=request_id) from exc
