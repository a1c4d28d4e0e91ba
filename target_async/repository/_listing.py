"""The list, search and paging calls of :class:`~target_async.AsyncRepositoryClient` (see :mod:`._client`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence

from .._exceptions import ValidationError
from .._ids import request_id as new_request_id
from ..models.repository import Page, Schema
from ._envelopes import parse_page
from ._instances import RepositoryInstances
from ._links import escape_reason, resolve_href
from ._pagination import AsyncPaginator
from ._params import FilterSpec, ListQuery, require_id


class RepositoryListing(RepositoryInstances):
    """Lists and search: paginators, pages, ``iter_pages``."""

    # --- lists and search ---------------------------------------------------------------------------

    async def _fetch_page(
        self, container_id: str, query: ListQuery, start: str | None, url: str | None, timeout: float | None = None
    ) -> Page:
        if url is None:
            path = ("queries", "core", "search") if query.is_search else ("instances",)
            url, params = self._container_url(container_id, *path), query.params(start)
        else:
            params = None
        rid = new_request_id()
        response = await self._send(
            "GET",
            url,
            idempotent=True,
            accept=self._media.results_accept,
            params=params,
            request_id=rid,
            request_timeout=timeout,
        )
        return parse_page(
            response, self.base_url, request_id=rid, what="search page" if query.is_search else "list page"
        )

    def _paginator(self, container_id: str, query: ListQuery, timeout: float | None = None) -> AsyncPaginator:
        seconds = None if timeout is None else self._call_timeout(timeout)  # checked now, not at the first page

        async def fetch(start: str | None, url: str | None) -> Page:
            return await self._fetch_page(container_id, query, start, url, seconds)

        return AsyncPaginator(fetch, query.order_by)

    def list_instances(
        self,
        container_id: str,
        schema: Schema | str,
        *,
        order_by: str | Sequence[str] | None = None,
        limit: int | None = None,
        filters: FilterSpec | Iterable[FilterSpec] = (),
        ids: str | Iterable[str] = (),
        timeout: float | None = None,
    ) -> AsyncPaginator:
        """Iterate over the instances of a schema (``async for``; ``.iter_pages()`` for pages).

        Args:
            order_by: ``"-repo:createdDate,instanceId"`` or a list of keys; ``+``/``-`` set the direction.
            limit: a page-size hint (the server may return more or fewer).
            filters: ``"path<op>value"`` strings (``==, !=, <, <=, >, >=, ~``), bare paths (the property
                exists) or ``(path, op, value)`` tuples; all must hold.
            ids: ``@id`` values; instances with any of them.
            timeout: the deadline of each page request in seconds (default: the client's).

        Raises:
            ValidationError: (at once) for a bad argument.
            PaginationError: (while iterating) when the server's paging does not progress.
        """
        cid = require_id(container_id, "container_id")
        query = ListQuery.build(schema, order_by=order_by, limit=limit, filters=filters, ids=ids)
        return self._paginator(cid, query, timeout)

    def search_instances(
        self,
        container_id: str,
        schema: Schema | str,
        q: str,
        *,
        fields: str | Iterable[str] = (),
        qop: str | None = "or",
        order_by: str | Sequence[str] | None = None,
        limit: int | None = None,
        filters: FilterSpec | Iterable[FilterSpec] = (),
        ids: str | Iterable[str] = (),
        timeout: float | None = None,
    ) -> AsyncPaginator:
        """Full-text search; like :meth:`list_instances` plus ``q`` (terms), ``fields`` and ``qop``.

        Args:
            q: space-separated terms (escape special characters with :func:`escape_search_term`).
            fields: property paths to search in (``_instance.xdm:name``); all string properties by default.
            qop: ``"or"`` (any term matches) or ``"and"`` (all must).
        """
        cid = require_id(container_id, "container_id")
        query = ListQuery.build(
            schema,
            order_by=order_by,
            limit=limit,
            filters=filters,
            ids=ids,
            search=True,
            q=q,
            fields=fields,
            qop=qop,
        )
        return self._paginator(cid, query, timeout)

    def iter_pages(
        self,
        container_id: str,
        schema: Schema | str,
        *,
        q: str | None = None,
        fields: str | Iterable[str] = (),
        qop: str | None = "or",
        order_by: str | Sequence[str] | None = None,
        limit: int | None = None,
        filters: FilterSpec | Iterable[FilterSpec] = (),
        ids: str | Iterable[str] = (),
        timeout: float | None = None,
    ) -> AsyncIterator[Page]:
        """Iterate over pages of a list (or of a search when ``q`` is given); ``timeout``: of each page request."""
        cid = require_id(container_id, "container_id")
        query = ListQuery.build(
            schema, order_by=order_by, limit=limit, filters=filters, ids=ids, q=q, fields=fields, qop=qop
        )
        return self._paginator(cid, query, timeout).iter_pages()

    async def list_page(
        self,
        container_id: str,
        schema: Schema | str,
        *,
        q: str | None = None,
        fields: str | Iterable[str] = (),
        qop: str | None = "or",
        order_by: str | Sequence[str] | None = None,
        limit: int | None = None,
        filters: FilterSpec | Iterable[FilterSpec] = (),
        ids: str | Iterable[str] = (),
        start: str | None = None,
        url: str | None = None,
        timeout: float | None = None,
    ) -> Page:
        """Fetch one page (of a search when ``q`` is given).

        Args:
            start: the exclusive start value(s) (the sort value of the previous page's last item).
            url: fetch this page URL instead (``page.next``); the other arguments are then ignored.
            timeout: this request's deadline in seconds (default: the client's).
        """
        cid = require_id(container_id, "container_id")
        query = ListQuery.build(
            schema, order_by=order_by, limit=limit, filters=filters, ids=ids, q=q, fields=fields, qop=qop
        )
        if start is not None and not isinstance(start, str):
            raise ValidationError("start must be a string", field="start")
        if url is not None:
            if not isinstance(url, str) or not url.strip():
                raise ValidationError("url must be a non-empty string", field="url")
            url = resolve_href(url, self.base_url)
            reason = escape_reason(url, self.base_url)
            if reason is not None:
                raise ValidationError(f"url {url} is not a page of this repository: {reason}", field="url")
        return await self._fetch_page(cid, query, start, url, self._call_timeout(timeout))
