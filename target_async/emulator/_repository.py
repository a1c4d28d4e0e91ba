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
import uuid
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from ._filter import _MISSING
from ._jsonpatch import PatchApplyError, PatchFormatError, apply_patch, json_equal, validate_patch
from ._query import PageOut, parse_list_query, serve_page
from ._repo_common import (
    HAL,
    PATCH_HAL,
    RESULTS,
    Caller,
    DeleteMode,
    RepositorySettings,
    _dumps,
    _etag_header,
    _etag_matches,
    iso,
)
from ._repo_deletes import RepositoryDeletes
from ._schemas import RESULTS_SCHEMA, resolve_schema, unversioned
from ._store import InstanceRow
from ._wire import ApiError, parse_json, parse_media_type, read_body

__all__ = ["ApiError", "Caller", "DeleteMode", "Repository", "RepositorySettings", "parse_json", "read_body"]


# -- the repository ------------------------------------------------------------------------------------------


class Repository(RepositoryDeletes):
    """Request handlers of the repository API (``/data/core/xcore/``) over a ``Store``."""

    # -- instances -----------------------------------------------------------------------------------------

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
