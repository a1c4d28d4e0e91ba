"""The decisioning repository ("xcore") API of the emulator: the semantics of ``repository.md`` §1 A-P.

Decisions (``[decision]`` items of the spec and the gaps it leaves):

- Status codes: 201 create; 200 read/update/patch/list/search and a synchronous delete; 202 delete pending;
  304 ``If-None-Match``; 400 malformed input (bad JSON, malformed patch document, unparseable filter, unknown
  schema, a ``schema`` media-type parameter that does not match the instance, a missing ``_instance``/``_links``);
  404 unknown container, instance or operation; 409 **only** for a stale ``If-Match``; 413 body over the size
  limit; 415 unsupported ``Content-Type``; 422 everything an entity rule refuses (schema validation, referential
  integrity, tag-name uniqueness, inapplicable patch operations and failed ``test``, edits of ``@id`` or of the
  envelope, and a referenced instance in ``delete_mode="immediate"``). Error bodies name the property.
- Media types are parsed leniently: case-insensitive type, parameters in any order, quoted or unquoted,
  ``;version=`` anywhere (inside the schema value too). Create and PUT accept the ``hal`` type (``_instance`` +
  ``_links`` required), ``application/schema-instance+json`` (bare instance) and ``application/json`` (HAL
  shape when ``_instance`` is present, otherwise bare; ``schema`` may then come from the query string). PATCH
  accepts ``patch.hal`` and ``application/json-patch+json``; its ``schema`` parameter is optional but must match.
  ``Accept`` is not enforced.
- ``@id`` (``xcore:{type}:{16 hex}``) is assigned on create; sending one on create is 422 (``meta:usereditable``
  false). PUT without ``@id`` keeps it; PUT or PATCH changing or removing it is 422 (``meta:immutable``). PATCH
  applies to the whole HAL document, so ``test`` may read envelope fields, but changing any of them (or
  ``_links.self``) is 422. PUT ignores envelope fields in the body.
- Tag names are unique per (org, sandbox), case-sensitive: a duplicate is 422. Offer names are not checked.
- References (representation placements, tags, eligibility rule, filter ``ids``, the activity's placement,
  filter and fallback) must name live instances of the right schema in the same (org, sandbox), and an
  activity's fallback must have a representation for the activity's placement: 422 otherwise. The delete check
  counts every ``xcore:...`` string in any instance of any schema of the tenant.
- Lists, filters and search (``limit``, ``orderby``, ``start``, ``property``, ``id``, ``q``/``field``/``qop``)
  and which lists are served from the indexes: see ``_query``.
- Deletes (``delete_mode``): ``"async"`` answers 202 + ``Location: /{cid}/operations/{opId}`` (+
  ``Retry-After``, default ``0``) and a body ``{"operation": "delete", "instanceId", "@id", "outcome":
  "pending", ...receipt}``; the first ``delete_pending_polls`` polls answer 202 with the same
  ``Location``, the next one runs the reference check and answers 200 with the outcome, which stays readable
  until reset. A second DELETE while pending returns the same operation. ``"immediate"``: 200 + receipt and
  outcome, or 422 with ``referencedBy``. ``"no-location"``: 202 with no ``Location`` and an empty body; the
  first ``delete_pending_polls`` reads of the instance still return it, the next read runs the check and, if
  nothing references it, deletes it and answers 404 (with 0 polls the check runs at once). A rejected
  no-location delete leaves the instance in place. ``If-Match`` on DELETE is honoured (409).
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from ._faults import FaultState
from ._filter import _MISSING, parse_filter
from ._jsonpatch import PatchApplyError, PatchFormatError, apply_patch, json_equal, validate_patch
from ._query import PageOut, parse_list_query, serve_page
from ._schemas import (
    CONTAINER_SCHEMA,
    RESULTS_SCHEMA,
    TAG,
    SchemaInfo,
    SchemaViolation,
    check_instance,
    resolve_schema,
    unversioned,
)
from ._search import _strings
from ._store import InstanceRow, OperationRow, Store
from ._wire import ApiError, parse_json, parse_media_type, read_body

__all__ = ["ApiError", "Caller", "DeleteMode", "Repository", "RepositorySettings", "parse_json", "read_body"]

DeleteMode = Literal["async", "immediate", "no-location"]
DELETE_MODES: tuple[str, ...] = ("async", "immediate", "no-location")

HAL = "application/vnd.adobe.platform.xcore.hal+json"
PATCH_HAL = "application/vnd.adobe.platform.xcore.patch.hal+json"
RECEIPT = "application/vnd.adobe.platform.xcore.xdm.receipt+json; version=1"
HOME = "application/vnd.adobe.platform.xcore.home.hal+json"
RESULTS = f'{HAL}; schema="{RESULTS_SCHEMA}"'
HOME_TYPE = "https://ns.adobe.com/experience/xcore/hal/home"
DEFAULT_PRODUCTS = ("dma_offers", "acp")
_XCORE_ID = re.compile(r"xcore:[A-Za-z0-9._-]+:[A-Za-z0-9]+")


@dataclass(frozen=True)
class Caller:
    """The authenticated identity of one repository request."""

    org: str
    sandbox: str
    tid: int
    account: str
    client_id: str


@dataclass
class RepositorySettings:
    """Behaviour switches (changeable at run time through ``POST /_emulator/config``)."""

    delete_mode: DeleteMode = "async"
    delete_pending_polls: int = 1
    delete_retry_after: int | None = 0
    default_limit: int = 50
    max_limit: int = 1000
    account_id: str = "emulator-account@techacct.adobe.com"

    def validate(self) -> None:
        if self.delete_mode not in DELETE_MODES:
            raise ValueError(f"delete_mode must be one of {', '.join(DELETE_MODES)}")
        for name in ("delete_pending_polls", "default_limit", "max_limit"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < (0 if name == "delete_pending_polls" else 1)
            ):
                raise ValueError(
                    f"{name} must be a {'non-negative' if name == 'delete_pending_polls' else 'positive'} integer"
                )
        ra = self.delete_retry_after
        if ra is not None and (isinstance(ra, bool) or not isinstance(ra, int) or ra < 0):
            raise ValueError("delete_retry_after must be a non-negative integer or None")
        if self.default_limit > self.max_limit:
            raise ValueError("default_limit must not exceed max_limit")


# -- small helpers -------------------------------------------------------------------------------------------


def iso(ms: int) -> str:
    """Epoch milliseconds as the repository writes dates: ``2019-06-05T03:44:25.343Z``."""
    dt = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _etags(header: str) -> list[str] | None:
    """The entity tags of an ``If-Match``/``If-None-Match`` header (``None`` for ``*``)."""
    tags = []
    for part in header.split(","):
        tag = part.strip()
        if tag == "*":
            return None
        if tag[:2] in ("W/", "w/"):
            tag = tag[2:].strip()
        if len(tag) >= 2 and tag[0] == tag[-1] == '"':
            tag = tag[1:-1]
        if tag:
            tags.append(tag)
    return tags


def _etag_matches(header: str, etag: int) -> bool:
    tags = _etags(header)
    return tags is None or str(etag) in tags


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _etag_header(etag: int) -> str:
    return f'"{etag}"'


# -- the repository ------------------------------------------------------------------------------------------


class Repository:
    """Request handlers of the repository API (``/data/core/xcore/``) over a ``Store``."""

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

    async def create(self, request: Request, caller: Caller) -> Response:
        cid = request.path_params["containerId"]
        raw = await read_body(request, self.max_body)
        container = self._container(caller, cid)
        schema, inst, links = self._write_body(request, raw)
        if "@id" in inst:
            raise ApiError(
                422,
                "_instance.@id is assigned by the repository and must not be sent (meta:usereditable=false)",
                prop="_instance.@id",
            )
        with self.store.transaction():
            at_id = self._new_at_id(caller, schema)
            inst = {"@id": at_id, **inst}
            refs = self._validate(caller, schema, inst, rid=None)
            pid = self.store.partition(caller.tid, cid, schema.id, create=True)
            assert pid is not None
            now = self._now()
            iid = str(uuid.uuid4())
            env = {
                "instanceId": iid,
                "schemas": [schema.versioned],
                "productContexts": container.get("productContexts", []),
                "repo:etag": 1,
                "repo:createdDate": iso(now),
                "repo:lastModifiedDate": iso(now),
                "repo:createdBy": caller.account,
                "repo:lastModifiedBy": caller.account,
                "repo:createdByClientId": caller.client_id,
                "repo:lastModifiedByClientId": caller.client_id,
                "sandboxName": caller.sandbox,
                "_instance": inst,
                "_links": self._links(self._self_link(schema, cid, iid), links),
            }
            self.store.insert_instance(
                tid=caller.tid,
                pid=pid[0],
                container_id=cid,
                schema=schema.id,
                instance_id=iid,
                at_id=at_id,
                created_ms=now,
                name=inst.get("xdm:name"),
                status=inst.get("xdm:status"),
                doc=_dumps(env),
                refs=refs,
            )
        headers = {"Location": f"/{cid}/instances/{iid}", "Content-Base": self.content_base(request)}
        return self._receipt_response(env, 201, headers)

    def _no_location_check(self, row: InstanceRow) -> bool:
        """Count a read against a pending no-location delete; ``True`` once the instance is gone."""
        op = self.store.pending_operation(row.instance_id, "no-location")
        if op is None or self.faults.delete_never_resolves:
            return False
        if op.polls_left > 0:
            self.store.update_operation(op.op_id, state="pending", polls_left=op.polls_left - 1, body=op.body)
            return False
        return self._decide(op, row) == "confirmed"

    async def read(self, request: Request, caller: Caller) -> Response:
        cid, iid = request.path_params["containerId"], request.path_params["instanceId"]
        with self.store.transaction():
            self._container(caller, cid)
            row = self._row(caller, cid, iid)
            gone = self._no_location_check(row)
        if gone:
            raise ApiError(404, f"instance {iid} does not exist in container {cid}", prop="instanceId")
        headers = {"ETag": _etag_header(row.etag)}
        inm = request.headers.get("if-none-match")
        if inm is not None and _etag_matches(inm, row.etag):
            return Response(status_code=304, headers=headers)
        schema = resolve_schema(row.schema)
        assert schema is not None
        return Response(row.doc, media_type=f'{HAL}; schema="{schema.versioned}"', headers=headers)

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

    def _store_update(
        self, caller: Caller, row: InstanceRow, env: dict[str, Any], inst: dict[str, Any]
    ) -> dict[str, Any]:
        schema = resolve_schema(row.schema)
        assert schema is not None
        refs = self._validate(caller, schema, inst, rid=row.rid)
        now = max(self._now(), row.modified_ms)
        env = {
            **env,
            "repo:etag": row.etag + 1,
            "repo:lastModifiedDate": iso(now),
            "repo:lastModifiedBy": caller.account,
            "repo:lastModifiedByClientId": caller.client_id,
            "_instance": inst,
        }
        ok = self.store.update_instance(
            row, modified_ms=now, name=inst.get("xdm:name"), status=inst.get("xdm:status"), doc=_dumps(env), refs=refs
        )
        if not ok:
            raise ApiError(
                409, f"instance {row.instance_id} was modified concurrently; re-read it and retry", prop="If-Match"
            )
        return env

    async def replace(self, request: Request, caller: Caller) -> Response:
        cid, iid = request.path_params["containerId"], request.path_params["instanceId"]
        raw = await read_body(request, self.max_body)
        schema, inst, links = self._write_body(request, raw)
        with self.store.transaction():
            self._container(caller, cid)
            row = self._row(caller, cid, iid)
            self._check_if_match(request, row)
            if schema.id != row.schema:
                raise ApiError(400, f"instance {iid} is a {row.schema}, not a {schema.id}", prop="schema")
            if "@id" in inst and inst["@id"] != row.at_id:
                raise ApiError(
                    422, "_instance.@id is immutable (meta:immutable) and cannot change", prop="_instance.@id"
                )
            inst = {"@id": row.at_id, **{k: v for k, v in inst.items() if k != "@id"}}
            env = json.loads(row.doc)
            env["_links"] = self._links(env["_links"]["self"], links)
            env = self._store_update(caller, row, env, inst)
        return self._receipt_response(env)

    async def patch(self, request: Request, caller: Caller) -> Response:
        cid, iid = request.path_params["containerId"], request.path_params["instanceId"]
        raw = await read_body(request, self.max_body)
        header = request.headers.get("content-type")
        mtype, params = parse_media_type(header or "")
        if mtype not in (PATCH_HAL, "application/json-patch+json"):
            raise ApiError(
                415,
                f'unsupported media type {mtype or None!r} for PATCH; use {PATCH_HAL}; schema="<schema id>"',
                prop="Content-Type",
            )
        try:
            ops = validate_patch(parse_json(raw))
        except (ValueError, PatchFormatError) as exc:
            raise ApiError(400, f"malformed JSON Patch document: {exc}") from None
        with self.store.transaction():
            self._container(caller, cid)
            row = self._row(caller, cid, iid)
            if "schema" in params and unversioned(params["schema"]) != row.schema:
                raise ApiError(
                    400, f"instance {iid} is a {row.schema}, not a {unversioned(params['schema'])}", prop="schema"
                )
            self._check_if_match(request, row)
            env = json.loads(row.doc)
            try:
                new = apply_patch(env, ops)
            except PatchApplyError as exc:
                raise ApiError(422, f"the patch cannot be applied: {exc}") from None
            if not isinstance(new, dict):
                raise ApiError(422, "the patch must leave a JSON object")
            for key in sorted(set(env) | set(new)):
                if key not in ("_instance", "_links") and not json_equal(
                    env.get(key, _MISSING), new.get(key, _MISSING)
                ):
                    raise ApiError(422, f"{key} is maintained by the repository and cannot be patched", prop=key)
            inst, links = new.get("_instance"), new.get("_links")
            if not isinstance(inst, dict):
                raise ApiError(422, "_instance must remain a JSON object", prop="_instance")
            if not isinstance(links, dict):
                raise ApiError(422, "_links must remain a JSON object", prop="_links")
            if not json_equal(links.get("self"), env["_links"]["self"]):
                raise ApiError(
                    422, "_links.self is maintained by the repository and cannot be patched", prop="_links.self"
                )
            if not json_equal(inst.get("@id"), row.at_id):
                raise ApiError(
                    422, "_instance.@id is immutable (meta:immutable) and cannot change", prop="_instance.@id"
                )
            new = self._store_update(caller, row, {**env, "_links": links}, inst)
        return self._receipt_response(new)

    # -- deletes -------------------------------------------------------------------------------------------

    def _delete_body(self, row: InstanceRow, caller: Caller, outcome: str) -> dict[str, Any]:
        env = json.loads(row.doc)
        receipt = self._receipt(env)
        receipt["repo:lastModifiedBy"] = caller.account
        receipt["repo:lastModifiedByClientId"] = caller.client_id
        return {"operation": "delete", "instanceId": row.instance_id, "@id": row.at_id, "outcome": outcome, **receipt}

    def _decide(self, op: OperationRow, row: InstanceRow | None) -> str:
        """Run the reference check of a pending operation and store the outcome."""
        body = json.loads(op.body)
        if row is None:
            body.update(outcome="confirmed", reason="the instance no longer exists", referencedBy=[])
        else:
            refs = [r for r in self.store.referencing(row.tid, row.at_id) if r.rid != row.rid]
            if refs:
                body.update(
                    outcome="rejected",
                    reason=f"{row.at_id} is still referenced by {len(refs)} instance(s)",
                    referencedBy=[{"instanceId": r.instance_id, "@id": r.at_id, "schema": r.schema} for r in refs],
                )
            else:
                self.store.delete_instance(row)
                body.update(outcome="confirmed", reason="no instance references it", referencedBy=[])
        ordered = {k: body[k] for k in ("operation", "instanceId", "@id", "outcome", "reason", "referencedBy")}
        ordered.update((k, v) for k, v in body.items() if k not in ordered)
        self.store.update_operation(op.op_id, state=body["outcome"], polls_left=0, body=_dumps(ordered))
        return str(body["outcome"])

    def _operation_headers(self, request: Request, op: OperationRow) -> dict[str, str]:
        headers = {"Location": f"/{op.container_id}/operations/{op.op_id}", "Content-Base": self.content_base(request)}
        if self.settings.delete_retry_after is not None:
            headers["Retry-After"] = str(self.settings.delete_retry_after)
        return headers

    def _new_operation(self, caller: Caller, row: InstanceRow, kind: str) -> OperationRow:
        op = OperationRow(
            op_id=str(uuid.uuid4()),
            tid=caller.tid,
            container_id=row.container_id,
            instance_id=row.instance_id,
            kind=kind,
            state="pending",
            polls_left=self.settings.delete_pending_polls,
            body=_dumps(self._delete_body(row, caller, "pending")),
            created_ms=self._now(),
        )
        self.store.insert_operation(op)
        return op

    async def delete(self, request: Request, caller: Caller) -> Response:
        cid, iid = request.path_params["containerId"], request.path_params["instanceId"]
        mode = self.settings.delete_mode
        with self.store.transaction():
            self._container(caller, cid)
            row = self._row(caller, cid, iid)
            self._check_if_match(request, row)
            if mode == "async":
                op = self.store.pending_operation(iid, "async") or self._new_operation(caller, row, "async")
                return Response(
                    op.body, status_code=202, media_type=RECEIPT, headers=self._operation_headers(request, op)
                )
            op = self.store.pending_operation(iid, mode) or self._new_operation(caller, row, mode)
            if mode == "no-location":
                if op.polls_left == 0 and not self.faults.delete_never_resolves:
                    self._decide(op, row)
                return Response(status_code=202)
            outcome = self._decide(op, row)
            decided = self.store.operation(op.op_id)
            assert decided is not None
        if outcome == "rejected":
            body = json.loads(decided.body)
            raise ApiError(422, f"instance {iid} cannot be deleted: {body['reason']}", extra=body)
        return Response(decided.body, media_type=RECEIPT)

    async def poll(self, request: Request, caller: Caller) -> Response:
        cid, op_id = request.path_params["containerId"], request.path_params["operationId"]
        with self.store.transaction():
            op = self.store.operation(op_id)
            if op is None or op.tid != caller.tid or op.container_id != cid or op.kind != "async":
                raise ApiError(404, f"operation {op_id} does not exist in container {cid}", prop="operationId")
            if op.state == "pending":
                if self.faults.delete_never_resolves or op.polls_left > 0:
                    if not self.faults.delete_never_resolves:
                        self.store.update_operation(op_id, state="pending", polls_left=op.polls_left - 1, body=op.body)
                    return Response(
                        op.body, status_code=202, media_type=RECEIPT, headers=self._operation_headers(request, op)
                    )
                self._decide(op, self.store.instance(op.instance_id))
                op = self.store.operation(op_id)
                assert op is not None
        return Response(op.body, media_type=RECEIPT)

    # -- lists and search ----------------------------------------------------------------------------------

    async def list(self, request: Request, caller: Caller, *, search: bool = False) -> Response:
        cid = request.path_params["containerId"]
        self._container(caller, cid)
        query = parse_list_query(
            request.query_params.multi_items(),
            search=search,
            default_limit=self.settings.default_limit,
            max_limit=self.settings.max_limit,
        )
        partition = self.store.partition(caller.tid, cid, query.schema.id, create=False)
        page = PageOut([], 0, None) if partition is None else await serve_page(self.store, partition, query)
        route = f"/{cid}/queries/core/search" if search else f"/{cid}/instances"
        links: dict[str, Any] = {
            "self": {"href": route + (f"?{request.url.query}" if request.url.query else ""), "@type": RESULTS_SCHEMA}
        }
        if page.next_start is not None:
            pairs = [(k, v) for k, v in request.query_params.multi_items() if k.lower() != "start"]
            pairs.append(("start", page.next_start))
            links["next"] = {"href": f"{route}?{urlencode(pairs, quote_via=quote)}", "@type": RESULTS_SCHEMA}
        # the stored envelopes are spliced in as they are: no parse and re-serialise per item
        body = (
            f'{{"requestTime":{_dumps(iso(self._now()))},"_embedded":{{"results":[{",".join(page.docs)}],'
            f'"total":{page.total},"count":{len(page.docs)}}},"_links":{_dumps(links)},'
            f'"containerId":{_dumps(cid)},"schemaNs":{_dumps(query.schema.versioned)}}}'
        )
        return Response(body, media_type=RESULTS)
