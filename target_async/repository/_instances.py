"""The container and single-instance calls of :class:`~target_async.AsyncRepositoryClient` (see :mod:`._client`)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, overload

import anyio

from .._exceptions import ConflictError, ValidationError
from .._ids import request_id as new_request_id
from ..models.repository import Container, Entity, Instance, Receipt, Schema
from ._base import RepositoryBase
from ._envelopes import parse_containers, parse_receipt, read_instance
from ._params import FilterSpec, ListQuery, quoted_etag, require_id, schema_id, strings
from ._patch import InstancePatch, patch_operations

InstanceLike = Mapping[str, Any] | Entity | Instance
UpdateFn = Callable[[Instance], Any]


class RepositoryInstances(RepositoryBase):
    """Containers and single instances: create, get, replace, patch, update with retry."""

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
