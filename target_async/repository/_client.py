"""``AsyncRepositoryClient``: the decisioning repository ("xcore") API over asyncio."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, overload

import anyio

from .._exceptions import ConflictError, UnprocessableEntityError, ValidationError
from .._ids import request_id as new_request_id
from .._raw import raw
from ..models.repository import Container, DeleteOutcome, Entity, Instance, Page, Receipt, Schema
from ._base import DEFAULT_BASE_URL, AccessToken, RepositoryBase
from ._envelopes import parse_containers, parse_page, parse_receipt, read_instance
from ._links import escape_reason, resolve_href
from ._pagination import AsyncPaginator
from ._params import FilterSpec, ListQuery, quoted_etag, require_id, schema_id, strings
from ._patch import InstancePatch, patch_operations
from ._polling import DeleteOperation, ResponseSnapshot, decided_outcome, outcome_of, status_location

__all__ = ["DEFAULT_BASE_URL", "AccessToken", "AsyncRepositoryClient", "RepositoryRawResponses"]

InstanceLike = Mapping[str, Any] | Entity | Instance
UpdateFn = Callable[[Instance], Any]


class AsyncRepositoryClient(RepositoryBase):
    """Client of the decisioning repository API.

    Every request carries ``Authorization: Bearer``, ``x-api-key``, ``x-gw-ims-org-id``, ``x-sandbox-name``
    and a fresh ``x-request-id``, plus the vendor media types of each call. Reads, PUTs, conditional PATCHes,
    deletes and polls are retried under ``retries``; creates only with ``retry=True``.

    Args:
        access_token: the bearer token, or a sync/async callable returning it (called before each request,
            so a refreshed token is used at once; the callable does its own caching).
        api_key: the ``x-api-key`` (client id).
        org_id: the IMS organization (``x-gw-ims-org-id``).
        sandbox_name: the sandbox (``x-sandbox-name``).
        base_url: the repository base; links starting with ``/`` are resolved against it.
        timeout: the overall deadline of one request in seconds, retries included.
        retries: the retry policy, or a number of retries (an int >= 0).
        http_client: a caller-owned ``httpx.AsyncClient`` (never closed by this client).
        transport: an httpx transport for the client built here (``httpx.MockTransport`` in tests).
        verify: TLS verification (as httpx); ``False`` warns :class:`~target_async.InsecureTLSWarning`, a CA path
            must exist.
        proxy: an ``http://`` or ``https://`` proxy URL (``socks5://`` with ``httpx[socks]``).
        logger: the logger (default ``target_async``).
        media_type_version: ``"1"`` adds ``; version=1`` to the media types (later Adobe docs); default off.
        max_response_size: the cap of a decoded answer body in bytes (default 16 MiB).
        default_headers: headers sent with every request, after the SDK's own (a name the SDK sets is refused).
        trust_env: read ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``, ``NO_PROXY``, ``SSL_CERT_FILE`` and
            ``SSL_CERT_DIR`` as httpx does (default True; an explicit ``proxy``/``verify`` wins).

    Each call takes ``timeout=`` (seconds, default the client's; on ``delete_instance`` it is the wait for the
    outcome, as before); :meth:`with_options` gives a copy with other defaults over the same connection pool.

    Options are checked at construction (:class:`~target_async.ConfigurationError` naming the option): see
    :class:`~target_async.AsyncTargetClient` for the shared rules.

    Use ``async with`` or call :meth:`aclose`.
    """

    @property
    def with_raw_response(self) -> RepositoryRawResponses:
        """The calls returning a :class:`~target_async.RawResponse` (status, headers, request id, ``parse()``),
        as openai's ``client.with_raw_response``: ``raw = await client.with_raw_response.get_instance(...)``."""
        return RepositoryRawResponses(self)

    # --- containers ---------------------------------------------------------------------------------

    async def list_containers(
        self,
        products: str | Iterable[str] | None = None,
        *,
        filters: FilterSpec | Iterable[FilterSpec] = (),
        timeout: float | None = None,
    ) -> list[Container]:
        """The containers the caller can access (the repository root).

        Args:
            products: product contexts (``"dma_offers"``, ``"acp"``); several give the union. The tutorial
                advises no filter or both values.
            filters: property filters on the containers (``"_instance.containerType==decisioning"``).
        """
        params = [("product", p) for p in strings(products, "products")]
        params += [("property", f) for f in ListQuery.build(Schema.CONTAINER, filters=filters).filters]
        rid = new_request_id()
        response = await self._send(
            "GET",
            self.base_url,
            idempotent=True,
            accept=self._media.home,
            params=params,
            request_id=rid,
            request_timeout=self._call_timeout(timeout),
        )
        return parse_containers(response, self.base_url, request_id=rid)

    # --- single instances ---------------------------------------------------------------------------

    async def create_instance(
        self,
        container_id: str,
        schema: Schema | str,
        instance: InstanceLike,
        links: Mapping[str, Any] | None = None,
        *,
        retry: bool = False,
        timeout: float | None = None,
    ) -> Receipt:
        """Create an instance; returns its :class:`Receipt` (``location`` is its absolute URL).

        Args:
            container_id: the container.
            schema: the instance's schema.
            instance: the ``_instance`` payload (a dict or a typed entity).
            links: custom HAL links (``_links`` is always sent, empty by default).
            retry: allow retrying after failures where the create may have reached the server
                (a duplicate may result). Refusals (429, connection refused) are always retried.
        """
        cid = require_id(container_id, "container_id")
        sid = schema_id(schema) or ""
        content = self._hal_body(instance, sid, links)
        rid = new_request_id()
        response = await self._send(
            "POST",
            self._container_url(cid, "instances"),
            idempotent=retry,
            accept=self._media.receipt,
            content_type=self._media.hal(sid),
            content=content,
            request_id=rid,
            request_timeout=self._call_timeout(timeout),
        )
        receipt = parse_receipt(
            response,
            self.base_url,
            request_id=rid,
            what="create_instance",
            done="the instance WAS created" if response.status_code == 201 else "the create was accepted",
        )
        if receipt.location is None:
            receipt.location = self._instance_url(cid, receipt.instance_id)
        return receipt

    @overload
    async def get_instance(
        self,
        container_id: str,
        instance_id: str,
        schema: Schema | str | None = None,
        *,
        if_none_match: None = None,
        timeout: float | None = None,
    ) -> Instance: ...
    @overload
    async def get_instance(
        self,
        container_id: str,
        instance_id: str,
        schema: Schema | str | None = None,
        *,
        if_none_match: int | str,
        timeout: float | None = None,
    ) -> Instance | None: ...
    async def get_instance(
        self,
        container_id: str,
        instance_id: str,
        schema: Schema | str | None = None,
        *,
        if_none_match: int | str | None = None,
        timeout: float | None = None,
    ) -> Instance | None:
        """Read an instance; ``None`` means ``304 Not Modified`` for ``if_none_match``.

        Raises:
            NotFoundError: the instance does not exist.
        """
        url = self._instance_url(require_id(container_id, "container_id"), require_id(instance_id, "instance_id"))
        sid = schema_id(schema, required=False)
        etag = quoted_etag(if_none_match, "if_none_match")
        rid = new_request_id()
        response = await self._send(
            "GET",
            url,
            idempotent=True,
            accept=self._media.read_accept(sid),
            headers={"If-None-Match": etag} if etag else None,
            request_id=rid,
            request_timeout=self._call_timeout(timeout),
        )
        if response.status_code == 304:
            return None
        instance = read_instance(response, self.base_url, request_id=rid)
        if instance.location is None:
            instance.location = url
        return instance

    async def replace_instance(
        self,
        container_id: str,
        instance_id: str,
        schema: Schema | str,
        instance: InstanceLike,
        links: Mapping[str, Any] | None = None,
        *,
        if_match: int | str | None = None,
        timeout: float | None = None,
    ) -> Receipt:
        """Replace the whole instance (PUT); with ``if_match``, a concurrent change raises ``ConflictError``.

        ``links`` are the instance's custom HAL links (``_links``, empty by default).
        """
        url = self._instance_url(require_id(container_id, "container_id"), require_id(instance_id, "instance_id"))
        sid = schema_id(schema) or ""
        etag = quoted_etag(if_match, "if_match")
        rid = new_request_id()
        response = await self._send(
            "PUT",
            url,
            idempotent=True,
            accept=self._media.receipt,
            content_type=self._media.hal(sid),
            content=self._hal_body(instance, sid, links),
            headers={"If-Match": etag} if etag else None,
            request_id=rid,
            request_timeout=self._call_timeout(timeout),
        )
        return parse_receipt(
            response,
            self.base_url,
            instance_id=instance_id,
            location=url,
            request_id=rid,
            what="replace_instance",
            done="the replacement was accepted",
        )

    async def patch_instance(
        self,
        container_id: str,
        instance_id: str,
        schema: Schema | str | None,
        operations: InstancePatch | Sequence[Mapping[str, Any]],
        *,
        if_match: int | str | None = None,
        timeout: float | None = None,
    ) -> Receipt:
        """Apply an RFC 6902 patch (paths under ``/_instance`` or ``/_links``); see :class:`OfferPatch`.

        Retried on failure only with ``if_match`` (an unconditional ``add …/-`` is not idempotent).
        """
        url = self._instance_url(require_id(container_id, "container_id"), require_id(instance_id, "instance_id"))
        sid = schema_id(schema, required=False)
        content = self._encode(patch_operations(operations), "operations")
        etag = quoted_etag(if_match, "if_match")
        rid = new_request_id()
        response = await self._send(
            "PATCH",
            url,
            idempotent=etag is not None,
            accept=self._media.receipt,
            content_type=self._media.patch(sid),
            content=content,
            headers={"If-Match": etag} if etag else None,
            request_id=rid,
            request_timeout=self._call_timeout(timeout),
        )
        return parse_receipt(
            response,
            self.base_url,
            instance_id=instance_id,
            location=url,
            request_id=rid,
            what="patch_instance",
            done="the patch was accepted",
        )

    async def update_with_retry(
        self,
        container_id: str,
        instance_id: str,
        schema: Schema | str,
        fn: UpdateFn,
        *,
        max_attempts: int = 5,
        timeout: float | None = None,
    ) -> Receipt:
        """Read, modify and conditionally replace an instance, retrying when another writer got there first.

        Args:
            fn: called with the freshly read :class:`Instance` (sync or async). It returns the new payload
                (dict, entity or the instance) or ``None`` after changing ``instance.instance`` in place.
                It may run several times.
            max_attempts: reads-and-writes before the last ``ConflictError`` is raised.
            timeout: the deadline of each request in seconds (default: the client's).
        """
        cid, iid = require_id(container_id, "container_id"), require_id(instance_id, "instance_id")
        sid = schema_id(schema) or ""
        if not callable(fn):
            raise ValidationError("fn must be callable", field="fn")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValidationError("max_attempts must be a positive integer", field="max_attempts")
        attempt = 0
        while True:
            current = await self.get_instance(cid, iid, sid, timeout=timeout)
            assert current is not None  # no If-None-Match was sent
            if current.etag is None:
                raise ValidationError("the instance has no etag: a conditional update is impossible", field="etag")
            new = fn(current)
            if inspect.isawaitable(new):
                new = await new
            links = {k: v for k, v in (current.links or {}).items() if k != "self"}
            try:
                return await self.replace_instance(
                    cid, iid, sid, current if new is None else new, links, if_match=current.etag, timeout=timeout
                )
            except ConflictError:
                attempt += 1
                if attempt >= max_attempts:
                    raise
                self._http.logger.info("update of %s conflicted (attempt %d), retrying", iid, attempt)
                await anyio.sleep(self._http.retries.delay(attempt - 1) or 0.0)

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

    # --- delete -------------------------------------------------------------------------------------

    async def begin_delete(
        self,
        container_id: str,
        instance_id: str,
        *,
        if_match: int | str | None = None,
        confirm_with_get: bool = True,
        timeout: float | None = None,
    ) -> DeleteOperation:
        """Send the ``DELETE`` and return the :class:`DeleteOperation` that tracks it.

        A ``422`` whose body is a delete outcome (``referencedBy``) is a synchronous rejection: the operation
        is then already done with status ``"rejected"``.

        Args:
            if_match: delete only this revision (``ConflictError`` otherwise).
            confirm_with_get: for a ``202`` without ``Location``, read the instance until ``404``.
                With False the outcome is ``confirmed`` at once with ``verified=False``.
            timeout: the deadline of the ``DELETE`` request in seconds (default: the client's; the wait for the
                outcome is ``result(timeout)``'s).
        """
        cid, iid = require_id(container_id, "container_id"), require_id(instance_id, "instance_id")
        etag = quoted_etag(if_match, "if_match")
        request_id = new_request_id()
        started = time.time()
        make = functools.partial(
            DeleteOperation, self, container_id=cid, instance_id=iid, request_id=request_id, started_at=started
        )
        try:
            response = await self._send(
                "DELETE",
                self._instance_url(cid, iid),
                idempotent=True,
                accept=self._media.receipt,
                headers={"If-Match": etag} if etag else None,
                request_id=request_id,
                request_timeout=self._call_timeout(timeout),
            )
        except UnprocessableEntityError as exc:
            # a synchronous rejection: 422 whose body is the outcome (``referencedBy``)
            if not (isinstance(exc.body, Mapping) and (exc.body.get("referencedBy") or exc.body.get("outcome"))):
                raise
            snapshot = ResponseSnapshot(exc.status, exc.headers, exc.body)
            return make(outcome=outcome_of(exc.body, iid), last_response=snapshot)
        if response.status_code != 202:
            outcome, snapshot = decided_outcome(response, iid, request_id=request_id, what="begin_delete")
            return make(outcome=outcome, last_response=snapshot)
        make = functools.partial(make, last_response=ResponseSnapshot.of(response))
        location = status_location(
            response, self.base_url, request_id=request_id, what="begin_delete", done="the DELETE was accepted"
        )
        if location is not None:
            return make(polling_url=location)
        if confirm_with_get:
            return make(confirm=True)
        return make(outcome=DeleteOutcome(status="confirmed", instance_id=iid, verified=False))

    def resume_delete(self, token: str) -> DeleteOperation:
        """The :class:`DeleteOperation` of a continuation token (``DeleteOperation.continuation_token()``)."""
        return DeleteOperation.from_continuation_token(self, token)

    async def delete_instance(
        self,
        container_id: str,
        instance_id: str,
        *,
        if_match: int | str | None = None,
        timeout: float | None = None,
        confirm_with_get: bool = True,
        raise_on_reject: bool = True,
    ) -> DeleteOutcome:
        """Delete and wait for the outcome (``begin_delete`` + ``result``).

        Raises:
            DeleteRejectedError: other instances still reference it (unless ``raise_on_reject=False``).
            PollingTimeoutError: no outcome within ``timeout`` (default 60 s); carries a continuation token.
        """
        op = await self.begin_delete(container_id, instance_id, if_match=if_match, confirm_with_get=confirm_with_get)
        return await op.result(timeout, raise_on_reject=raise_on_reject)


class RepositoryRawResponses:
    """``client.with_raw_response``: the calls of :class:`AsyncRepositoryClient` that send requests, returning a
    :class:`~target_async.RawResponse` of the last HTTP answer (``update_with_retry`` and ``delete_instance``
    send several: ``http_requests`` counts them) and ``parse()`` for the usual result."""

    def __init__(self, client: AsyncRepositoryClient) -> None:
        self.list_containers = raw(client.list_containers)
        self.create_instance = raw(client.create_instance)
        self.get_instance = raw(client.get_instance)
        self.replace_instance = raw(client.replace_instance)
        self.patch_instance = raw(client.patch_instance)
        self.update_with_retry = raw(client.update_with_retry)
        self.list_page = raw(client.list_page)
        self.begin_delete = raw(client.begin_delete)
        self.delete_instance = raw(client.delete_instance)
