"""The core of the emulator's repository API: state, tenancy, containers, bodies, validation, envelopes.

See :mod:`._repository` for the decisions; the handlers build on :class:`RepositoryCore`.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ._faults import FaultState
from ._filter import parse_filter
from ._repo_common import (
    _XCORE_ID,
    DEFAULT_PRODUCTS,
    HAL,
    HOME,
    HOME_TYPE,
    RECEIPT,
    Caller,
    RepositorySettings,
    _a,
    _dumps,
    _etag_header,
    _etag_matches,
    iso,
)
from ._schemas import CONTAINER_SCHEMA, TAG, SchemaInfo, SchemaViolation, check_instance, resolve_schema, unversioned
from ._search import _strings
from ._store import InstanceRow, Store
from ._wire import ApiError, parse_json, parse_media_type


class RepositoryCore:
    """The state and shared steps of the repository handlers: tenants, containers, bodies, validation, envelopes."""

    def __init__(
        self,
        store: Store,
        settings: RepositorySettings,
        faults: FaultState,
        *,
        clock: Callable[[], float] = time.time,
        max_body: int = 10 * 1024 * 1024,
    ) -> None:
        self.store = store
        self.settings = settings
        self.faults = faults
        self.clock = clock
        self.max_body = max_body
        self._tenants: dict[tuple[str, str], int] = {}

    def _now(self) -> int:
        return int(self.clock() * 1000)

    # -- tenancy and containers -------------------------------------------------------------------------

    def tenant(self, org: str, sandbox: str, *, create: bool = True) -> int | None:
        """The tenant id; a new (org, sandbox) gets its default container."""
        key = (org, sandbox)
        tid = self._tenants.get(key)
        if tid is not None:
            return tid
        tid = self.store.tenant_id(org, sandbox)
        if tid is None:
            if not create:
                return None
            with self.store.transaction():
                tid = self.store.tenant_id(org, sandbox)  # again, under the write lock
                if tid is None:
                    tid = self.store.create_tenant(org, sandbox)
                    cid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"target-async-emulator:{org}:{sandbox}"))
                    name = f"Decisioning container ({sandbox})"
                    self._insert_container(tid, cid, sandbox, name, DEFAULT_PRODUCTS)
        self._tenants[key] = tid
        return tid

    def forget_tenants(self) -> None:
        self._tenants.clear()

    def _insert_container(
        self, tid: int, cid: str, sandbox: str, name: str, products: Sequence[str], container_type: str = "decisioning"
    ) -> dict[str, Any]:
        now = self._now()
        doc = {
            "instanceId": cid,
            "schemas": [f"{CONTAINER_SCHEMA};version=0.5"],
            "productContexts": list(products),
            "repo:etag": 1,
            "repo:createdDate": iso(now),
            "repo:lastModifiedDate": iso(now),
            "repo:createdBy": self.settings.account_id,
            "repo:lastModifiedBy": self.settings.account_id,
            "repo:createdByClientId": "target-async-emulator",
            "repo:lastModifiedByClientId": "target-async-emulator",
            "sandboxName": sandbox,
            "_instance": {
                "repo:name": name,
                "dataCenter": "VA7",
                "containerType": container_type,
                "parentName": sandbox,
            },
            "_links": {"self": {"href": f"/containers/{cid}"}},
        }
        self.store.insert_container(tid, cid, now, _dumps(doc))
        return doc

    def add_container(
        self, org: str, sandbox: str, *, name: str | None, products: Sequence[str], container_type: str
    ) -> dict[str, Any]:
        """Create an extra container (admin endpoint)."""
        tid = self.tenant(org, sandbox)
        assert tid is not None
        with self.store.transaction():
            return self._insert_container(
                tid, str(uuid.uuid4()), sandbox, name or f"Container ({sandbox})", products, container_type
            )

    def _container(self, caller: Caller, cid: str) -> dict[str, Any]:
        doc = self.store.container(caller.tid, cid)
        if doc is None:
            raise ApiError(404, f"container {cid} does not exist in sandbox {caller.sandbox}", prop="containerId")
        loaded: dict[str, Any] = json.loads(doc)
        return loaded

    async def home(self, request: Request, caller: Caller) -> Response:
        params = [(k.lower(), v) for k, v in request.query_params.multi_items()]
        products = {v for k, v in params if k == "product" and v}
        filters = [parse_filter(v) for k, v in params if k == "property"]
        docs = [json.loads(d) for d in self.store.containers(caller.tid)]
        selected = [
            d
            for d in docs
            if (not products or products & set(d.get("productContexts", []))) and all(f.matches(d) for f in filters)
        ]
        href = "/" + (f"?{request.url.query}" if request.url.query else "")
        body = {"_embedded": {CONTAINER_SCHEMA: selected}, "_links": {"self": {"href": href, "@type": HOME_TYPE}}}
        return Response(_dumps(body), media_type=HOME)

    async def read_container(self, request: Request, caller: Caller) -> Response:
        doc = self._container(caller, request.path_params["containerId"])
        return Response(
            _dumps(doc), media_type=f'{HAL}; schema="{CONTAINER_SCHEMA}"', headers={"ETag": _etag_header(1)}
        )

    # -- bodies -------------------------------------------------------------------------------------------

    def _write_body(self, request: Request, raw: bytes) -> tuple[SchemaInfo, dict[str, Any], dict[str, Any]]:
        header = request.headers.get("content-type")
        if not header:
            raise ApiError(415, f'Content-Type is required: {HAL}; schema="<schema id>"', prop="Content-Type")
        mtype, params = parse_media_type(header)
        schema_param = params.get("schema")
        if mtype == HAL:
            shape = "hal"
        elif mtype == "application/schema-instance+json":
            shape = "bare"
        elif mtype == "application/json":
            shape = "auto"
            schema_param = schema_param or request.query_params.get("schema")
        else:
            raise ApiError(
                415, f'unsupported media type {mtype!r}; use {HAL}; schema="<schema id>"', prop="Content-Type"
            )
        if not schema_param:
            raise ApiError(
                400,
                f"the Content-Type {mtype} needs a schema parameter naming the instance's schema",
                prop="Content-Type",
            )
        schema = resolve_schema(schema_param)
        if schema is None:
            raise ApiError(
                400, f"schema {unversioned(schema_param)!r} is not registered with the repository", prop="schema"
            )
        try:
            body = parse_json(raw)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        if shape == "hal" or (shape == "auto" and "_instance" in body):
            inst = body.get("_instance")
            if not isinstance(inst, dict):
                raise ApiError(400, "_instance is required and must be a JSON object", prop="_instance")
            links = body.get("_links", {} if shape == "auto" else None)
            if not isinstance(links, dict):
                raise ApiError(400, "_links is required and must be a JSON object (it may be empty: {})", prop="_links")
            return schema, inst, links
        return schema, body, {}

    # -- validation and references -------------------------------------------------------------------------

    def _validate(self, caller: Caller, schema: SchemaInfo, inst: dict[str, Any], *, rid: int | None) -> list[str]:
        """Schema, entity and referential checks; returns the ``@id``s the instance references."""
        try:
            refs = check_instance(schema, inst)
        except SchemaViolation as exc:
            raise ApiError(422, str(exc), prop=exc.property) from None
        found = self.store.by_at_ids(caller.tid, [r.target for r in refs])
        for ref in refs:
            target = found.get(ref.target)
            if target is None:
                raise ApiError(
                    422,
                    f"{ref.property} references {ref.target}, which does not exist in sandbox {caller.sandbox}",
                    prop=ref.property,
                )
            if target.schema not in ref.schemas:
                actual = target.schema.rsplit("/", 1)[-1]
                want = " or ".join(_a(s.rsplit("/", 1)[-1]) for s in ref.schemas)
                raise ApiError(
                    422, f"{ref.property} references {ref.target}, which is {_a(actual)}, not {want}", prop=ref.property
                )
            if ref.needs_placement is not None:
                reps = json.loads(target.doc).get("_instance", {}).get("xdm:representations", [])
                placements = (
                    {r.get("xdm:placement") for r in reps if isinstance(r, dict)} if isinstance(reps, list) else set()
                )
                if ref.needs_placement not in placements:
                    raise ApiError(
                        422,
                        f"{ref.property} references fallback offer {ref.target}, which has no representation for "
                        f"the activity's placement {ref.needs_placement}",
                        prop=ref.property,
                    )
        if schema.id == TAG and self.store.name_taken(caller.tid, TAG, inst["xdm:name"], exclude_rid=rid):
            raise ApiError(
                422,
                f"_instance.xdm:name must be unique across tags: {inst['xdm:name']!r} is already used",
                prop="_instance.xdm:name",
            )
        own = inst.get("@id")
        leaves: list[str] = []
        _strings(inst, leaves)
        return sorted({s for s in leaves if s != own and _XCORE_ID.fullmatch(s)} | {r.target for r in refs})

    # -- envelopes -----------------------------------------------------------------------------------------

    @staticmethod
    def _self_link(schema: SchemaInfo, cid: str, iid: str) -> dict[str, str]:
        return {"name": f"{schema.versioned}#{iid}", "href": f"/{cid}/instances/{iid}", "@type": schema.versioned}

    @staticmethod
    def _links(self_link: dict[str, str], links: Mapping[str, Any]) -> dict[str, Any]:
        return {"self": self_link, **{k: v for k, v in links.items() if k != "self"}}

    @staticmethod
    def _receipt(env: Mapping[str, Any]) -> dict[str, Any]:
        keys = (
            "repo:etag",
            "repo:createdDate",
            "repo:lastModifiedDate",
            "repo:createdBy",
            "repo:lastModifiedBy",
            "repo:createdByClientId",
            "repo:lastModifiedByClientId",
        )
        inst = env.get("_instance", {})
        return {"instanceId": env["instanceId"], "@id": inst.get("@id"), **{k: env[k] for k in keys}}

    def _receipt_response(
        self, env: Mapping[str, Any], status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        all_headers = {"ETag": _etag_header(int(env["repo:etag"])), **(headers or {})}
        return Response(_dumps(self._receipt(env)), status_code=status, media_type=RECEIPT, headers=all_headers)

    @staticmethod
    def content_base(request: Request) -> str:
        return str(request.base_url) + "data/core/xcore/"

    # -- instances -----------------------------------------------------------------------------------------

    def _row(self, caller: Caller, cid: str, iid: str) -> InstanceRow:
        row = self.store.instance(iid)
        if row is None or row.tid != caller.tid or row.container_id != cid:
            raise ApiError(404, f"instance {iid} does not exist in container {cid}", prop="instanceId")
        return row

    def _new_at_id(self, caller: Caller, schema: SchemaInfo) -> str:
        while True:
            at_id = f"xcore:{schema.short}:{secrets.token_hex(8)}"
            if not self.store.at_id_taken(caller.tid, at_id):
                return at_id

    def _check_if_match(self, request: Request, row: InstanceRow) -> None:
        header = request.headers.get("if-match")
        if header is not None and not _etag_matches(header, row.etag):
            raise ApiError(
                409,
                f"instance {row.instance_id} is at revision {row.etag}; If-Match {header} is stale "
                "(re-read it and retry)",
                prop="If-Match",
                extra={"repo:etag": row.etag},
            )
