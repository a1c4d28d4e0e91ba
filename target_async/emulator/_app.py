"""The emulator's ASGI app: routing, identity headers and tenancy, error bodies, the Delivery route, admin.

Routes:

- ``POST /rest/v1/delivery``: the Delivery API (``_delivery.DeliveryEngine``), reading the ``prod`` sandbox of
  the ``imsOrgId`` organization. Errors are the Delivery API's ``{"status", "message"}``.
- ``/data/core/xcore/...``: the repository API (``_repository``). Errors are problem documents that clients
  can read either way: ``{"type", "title", "status", "detail", "message", "property"?, "requestId"?}``.
- ``GET /{client}/{environment}/v1/[{property_token}/]rules.json`` (and ``rules.bin``), ``GET /v1/geo``: what
  Target's CDN serves an on-device client (``_cdn``): the published artifact (``_rules``) with ETag/304 and
  ``x-geo-*`` headers, and geo lookups from the IP -> geo table.
- ``/_emulator/...``: admin, no identity headers: ``GET health``, ``POST reset`` (wipes all data and delete
  operations, keeps faults and settings), ``GET|POST|DELETE faults`` (see ``_faults``), ``GET|POST config``
  (``{"deleteMode", "deletePendingPolls", "deleteRetryAfter", "defaultLimit", "maxLimit"}``) and
  ``POST containers`` (``{"org", "sandbox", "name"?, "productContexts"?, "containerType"?}`` → 201 container),
  ``GET|POST|DELETE artifact``, ``POST fixtures``, ``GET|POST|DELETE geo``, ``GET|DELETE notifications`` (``_cdn``).
  Admin routes refuse what a web page could send from another site (cross-site request forgery), before
  anything is read or changed: a request with an ``Origin`` header that is neither the emulator's own origin
  (scheme and ``Host`` of the request) nor a loopback one (``localhost``, ``*.localhost``, ``127.0.0.0/8``,
  ``[::1]``; ``Origin: null`` is refused too) gets **403**; a ``POST`` whose ``Content-Type`` is not
  ``application/json`` (parameters such as ``charset`` allowed; an empty body needs it too) gets **415**. A
  browser cannot send ``application/json`` to another origin without a CORS preflight, which the emulator
  never grants.

Identity (``repository.md`` A2/A5) on every repository call, checked in this order: ``Authorization: Bearer
<non-empty>`` else **401** (with ``WWW-Authenticate``); ``x-api-key`` else **403**; ``x-gw-ims-org-id`` else
**403**; ``x-sandbox-name`` else **400** (a missing required header rather than a permission problem). Data is
partitioned by (org, sandbox); the first request of a new pair creates its default container (a deterministic
uuid5 of org and sandbox, product contexts ``dma_offers`` and ``acp``). ``x-request-id`` is echoed on every
response (a fresh one is generated when absent). The token itself is never stored or checked further.

Malformed input never gets a 500: every handler maps bad input to a 4xx with a JSON body, and an unexpected
exception still answers a JSON 500 (and is logged) rather than a plain-text page.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ._cdn import Cdn
from ._delivery import DeliveryEngine, NotificationLog
from ._faults import DELIVERY_PATH, FaultConfig, FaultState, StatusBurst, drop_connection
from ._repository import Caller, DeleteMode, Repository, RepositorySettings
from ._rules import ArtifactSource, GeoTable, Rules
from ._schemas import unversioned
from ._store import Store
from ._wire import ApiError, parse_json, read_body

__all__ = ["DeliveryHandler", "Emulator", "EmulatorApp", "create_app"]

_log = logging.getLogger("target_async.emulator")

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_SLUGS = {
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation",
}
REPOSITORY_BASE = "/data/core/xcore"


class RepositoryReader(Protocol):
    def instances(self, schema_id: str) -> list[dict[str, Any]]: ...


class DeliveryHandler(Protocol):
    """What the Delivery route calls (``_delivery.DeliveryEngine`` or a test double)."""

    def handle(
        self, body: Any, query: Mapping[str, str], repository: RepositoryReader, *, host: str
    ) -> tuple[int, dict[str, Any]]: ...


def problem(
    status: int,
    detail: str,
    *,
    prop: str | None = None,
    extra: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """A repository error body (RFC 7807 fields plus ``message``, which clients read)."""
    slug = _SLUGS.get(status, "injected-fault" if status in (429, 502, 503, 504) else f"http-{status}")
    body: dict[str, Any] = {
        "type": f"urn:target-async:emulator:{slug}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "message": detail,
    }
    if prop is not None:
        body["property"] = prop
    if request_id is not None:
        body["requestId"] = request_id
    for key, value in (extra or {}).items():
        body.setdefault(key, value)
    return body


def _json(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None, media_type: str = "application/json"
) -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text, status_code=status, headers=dict(headers or {}), media_type=media_type)


def _request_id(headers: Mapping[str, str]) -> str:
    return headers.get("x-request-id") or str(uuid.uuid4())


class _DeliveryView:
    """``RepositoryView`` of one organization's ``prod`` sandbox for a single Delivery call (cached per schema)."""

    def __init__(self, repository: Repository, org: str) -> None:
        self._repository = repository
        self._tid = repository.tenant(org, "prod", create=False) if org else None
        self._cache: dict[str, list[dict[str, Any]]] = {}

    def instances(self, schema_id: str) -> list[dict[str, Any]]:
        if self._tid is None:
            return []
        sid = unversioned(schema_id)
        if sid not in self._cache:
            docs = self._repository.store.schema_docs(self._tid, sid)
            self._cache[sid] = [json.loads(d)["_instance"] for d in docs]
        return list(self._cache[sid])


class Emulator:
    """Everything one app instance owns: store, settings, faults, repository handlers and delivery engine."""

    def __init__(
        self,
        *,
        store: Store,
        settings: RepositorySettings,
        faults: FaultState,
        engine: DeliveryHandler,
        clock: Callable[[], float],
        max_body: int,
        rules: Rules | None = None,
        geo: GeoTable | None = None,
        notifications: NotificationLog | None = None,
    ) -> None:
        self.rules = rules if rules is not None else Rules(clock=clock)
        self.geo = geo if geo is not None else GeoTable()
        self.notifications = notifications if notifications is not None else NotificationLog()
        self.cdn = Cdn(self.rules, self.geo, self.notifications, max_body)
        self.store = store
        self.settings = settings
        self.faults = faults
        self.engine = engine
        self.max_body = max_body
        self.repository = Repository(store, settings, faults, clock=clock, max_body=max_body)

    def reset(self) -> None:
        """Delete every tenant, instance and operation, the delivery engine's cap counters and the recorded
        notifications (the published artifact and the geo table stay)."""
        self.notifications.clear()
        self.store.reset()
        self.repository.forget_tenants()
        reset_counters = getattr(self.engine, "reset_counters", None)
        if callable(reset_counters):
            reset_counters()

    def close(self) -> None:
        self.store.close()

    # -- repository -------------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> Caller:
        scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401,
                "an Authorization: Bearer <access token> header is required",
                prop="Authorization",
                headers={"WWW-Authenticate": 'Bearer realm="xcore"'},
            )
        api_key = request.headers.get("x-api-key", "").strip()
        if not api_key:
            raise ApiError(403, "the x-api-key header is required", prop="x-api-key")
        org = request.headers.get("x-gw-ims-org-id", "").strip()
        if not org:
            raise ApiError(403, "the x-gw-ims-org-id header is required", prop="x-gw-ims-org-id")
        sandbox = request.headers.get("x-sandbox-name", "").strip()
        if not sandbox:
            raise ApiError(400, "the x-sandbox-name header is required", prop="x-sandbox-name")
        tid = self.repository.tenant(org, sandbox)
        assert tid is not None
        return Caller(org=org, sandbox=sandbox, tid=tid, account=self.settings.account_id, client_id=api_key)

    def repository_route(
        self, handler: Callable[[Request, Caller], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            rid = _request_id(request.headers)
            try:
                response = await handler(request, self.authenticate(request))
            except ApiError as exc:
                response = _json(
                    problem(exc.status, exc.detail, prop=exc.prop, extra=exc.extra, request_id=rid),
                    exc.status,
                    exc.headers,
                )
            except Exception:
                _log.exception("the emulator's repository handler failed")
                response = _json(problem(500, "internal error in the emulator", request_id=rid), 500)
            response.headers["x-request-id"] = rid
            return response

        return endpoint

    # -- delivery ---------------------------------------------------------------------------------------

    async def delivery(self, request: Request) -> Response:
        rid = _request_id(request.headers)
        try:
            body = parse_json(await read_body(request, self.max_body))
            query = dict(request.query_params.items())
            view = _DeliveryView(self.repository, query.get("imsOrgId", ""))
            status, out = self.engine.handle(body, query, view, host=request.headers.get("host", ""))
        except ApiError as exc:
            status, out = exc.status, {"status": exc.status, "message": exc.detail}
        except ValueError as exc:
            status, out = 400, {"status": 400, "message": str(exc)}
        except Exception:
            _log.exception("the emulator's delivery route failed")
            status, out = 500, {"status": 500, "message": "internal error in the emulator"}
        response = Response(status_code=204) if status == 204 else _json(out, status)
        response.headers["x-request-id"] = rid
        return response

    # -- admin ------------------------------------------------------------------------------------------

    async def _admin_json(self, request: Request) -> Any:
        raw = await read_body(request, self.max_body)
        if not raw.strip():
            return {}
        try:
            return parse_json(raw)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None

    def admin_route(
        self, handler: Callable[[Request], Awaitable[Any]], status: int = 200
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            rid = _request_id(request.headers)
            try:
                _guard_admin(request)
                response = _json(await handler(request), status)
            except ApiError as exc:
                response = _json(problem(exc.status, exc.detail, prop=exc.prop, request_id=rid), exc.status)
            except ValueError as exc:
                response = _json(problem(400, str(exc), request_id=rid), 400)
            except Exception:
                _log.exception("the emulator's admin handler failed")
                response = _json(problem(500, "internal error in the emulator", request_id=rid), 500)
            response.headers["x-request-id"] = rid
            return response

        return endpoint

    async def health(self, request: Request) -> Any:
        return {
            "status": "ok",
            "database": self.store.path or ":memory:",
            "deleteMode": self.settings.delete_mode,
            "artifact": self.rules.current.etag,
        }

    async def reset_endpoint(self, request: Request) -> Any:
        self.reset()
        return {"status": "reset"}

    async def faults_endpoint(self, request: Request) -> Any:
        if request.method == "POST":
            data = await self._admin_json(request)
            config = FaultConfig.from_dict(data)
            self.faults.configure(config, replace=bool(data.get("replace", False)))
        elif request.method == "DELETE":
            self.faults.reset()
        return self.faults.snapshot().to_dict()

    def settings_dict(self) -> dict[str, Any]:
        s = self.settings
        return {
            "deleteMode": s.delete_mode,
            "deletePendingPolls": s.delete_pending_polls,
            "deleteRetryAfter": s.delete_retry_after,
            "defaultLimit": s.default_limit,
            "maxLimit": s.max_limit,
        }

    async def config_endpoint(self, request: Request) -> Any:
        if request.method == "POST":
            data = await self._admin_json(request)
            if not isinstance(data, dict):
                raise ValueError("the configuration must be a JSON object")
            names = {
                "deleteMode": "delete_mode",
                "deletePendingPolls": "delete_pending_polls",
                "deleteRetryAfter": "delete_retry_after",
                "defaultLimit": "default_limit",
                "maxLimit": "max_limit",
            }
            unknown = sorted(set(data) - set(names))
            if unknown:
                raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
            candidate = RepositorySettings(**{**vars(self.settings), **{names[k]: v for k, v in data.items()}})
            candidate.validate()
            for key, value in vars(candidate).items():
                setattr(self.settings, key, value)
        return self.settings_dict()

    async def containers_endpoint(self, request: Request) -> Any:
        data = await self._admin_json(request)
        if not isinstance(data, dict):
            raise ValueError("the container must be a JSON object")
        org, sandbox = data.get("org"), data.get("sandbox", "prod")
        if not isinstance(org, str) or not org or not isinstance(sandbox, str) or not sandbox:
            raise ValueError("org and sandbox must be non-empty strings")
        products = data.get("productContexts", ["dma_offers", "acp"])
        if not isinstance(products, list) or not all(isinstance(p, str) for p in products):
            raise ValueError("productContexts must be an array of strings")
        name, ctype = data.get("name"), data.get("containerType", "decisioning")
        if (name is not None and not isinstance(name, str)) or not isinstance(ctype, str):
            raise ValueError("name and containerType must be strings")
        return self.repository.add_container(org, sandbox, name=name, products=products, container_type=ctype)


def _is_loopback(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin_key(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an origin, default ports filled in; ``None`` when it is not one."""
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host or parts.username is not None or parts.password is not None:
        return None
    default = {"http": 80, "https": 443}.get(scheme)
    if default is None:
        return None
    return scheme, host, default if port is None else port


def _trusted_origin(origin: str, request: Request) -> bool:
    scheme, sep, rest = origin.strip().partition("://")
    if not sep or "/" in rest.rstrip("/") or "?" in rest or "#" in rest:
        return False  # "null", or not a bare scheme://host[:port]
    key = _origin_key(scheme.lower(), rest.rstrip("/"))
    if key is None:
        return False
    if _is_loopback(key[1]):
        return True
    own = _origin_key(request.url.scheme, request.headers.get("host", ""))
    return own is not None and own == key


def _guard_admin(request: Request) -> None:
    """Refuse a cross-site request to an admin route (see the module docstring): 403, then 415."""
    for origin in request.headers.getlist("origin"):
        if not _trusted_origin(origin, request):
            raise ApiError(
                403,
                f"admin routes refuse requests from origin {origin!r}: only the emulator's own origin or a "
                "loopback one (localhost, 127.0.0.1, [::1]) may call them from a browser",
                prop="Origin",
            )
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        media_type = content_type.partition(";")[0].strip().lower()
        if media_type != "application/json":
            raise ApiError(
                415,
                f"admin POST requests need Content-Type: application/json (got {content_type or 'none'!r}); "
                "send a JSON body, {} when there is nothing to say",
                prop="Content-Type",
            )


class EmulatorApp(Starlette):
    """A Starlette app whose faults run outermost, with the server's own ``send`` (to drop connections)."""

    emulator: Emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :] or "/"
            plan = self.emulator.faults.plan(scope["method"], path)
            if plan.latency > 0:
                await anyio.sleep(plan.latency)
            if plan.drop:
                await drop_connection(send)
                return
            if plan.burst is not None:
                await self._burst(scope, receive, send, path, plan.burst)
                return
        await super().__call__(scope, receive, send)

    @staticmethod
    async def _burst(scope: Scope, receive: Receive, send: Send, path: str, burst: StatusBurst) -> None:
        while True:  # drain the request body so a keep-alive connection stays usable
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = _request_id(headers)
        out_headers = {"x-request-id": rid}
        if burst.retry_after is not None:
            out_headers["Retry-After"] = str(burst.retry_after)
        if path == DELIVERY_PATH:
            body: dict[str, Any] = {"status": burst.status, "message": burst.message}
        else:
            body = problem(burst.status, burst.message, request_id=rid)
        await _json(body, burst.status, out_headers)(scope, receive, send)


def _load_fixtures(fixtures: Mapping[str, Any] | str | os.PathLike[str] | None) -> Mapping[str, Any] | None:
    if fixtures is None or isinstance(fixtures, Mapping):
        return fixtures
    data = json.loads(Path(fixtures).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"the fixtures file {os.fspath(fixtures)!r} must hold a JSON object")
    return data


def create_app(
    *,
    db_path: str | os.PathLike[str] | None = None,
    fixtures: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    faults: FaultConfig | Mapping[str, Any] | None = None,
    delete_mode: DeleteMode = "async",
    delete_pending_polls: int = 1,
    delete_retry_after: int | None = 0,
    default_limit: int = 50,
    max_limit: int = 1000,
    seed: int | None = None,
    clock: Callable[[], float] = time.time,
    account_id: str = "emulator-account@techacct.adobe.com",
    max_body_bytes: int = 10 * 1024 * 1024,
    delivery_engine: DeliveryHandler | None = None,
    artifact: ArtifactSource | None = None,
    client: str | None = None,
    organization_id: str | None = None,
    environment: str = "production",
    geo: Mapping[str, Mapping[str, Any]] | None = None,
) -> EmulatorApp:
    """Build the emulator's ASGI app (a ``Starlette``; ``app.state.emulator`` is its ``Emulator``).

    Args:
        db_path: SQLite file (WAL, ``synchronous=FULL``); ``None`` keeps the data in memory.
        fixtures: Delivery fixtures (``API.md`` §6) as a dict or the path of a JSON file.
        faults: initial fault rules (``FaultConfig`` or its JSON form).
        delete_mode: ``"async"`` (202 + Location, then polls), ``"immediate"`` (200) or ``"no-location"``
            (202, no Location; the instance disappears after reads).
        delete_pending_polls: polls (or, for ``"no-location"``, reads) answered as pending before the delete
            check runs.
        delete_retry_after: ``Retry-After`` seconds on pending delete answers (``None``: no header).
        default_limit: list page size when ``limit`` is absent; ``max_limit`` caps ``limit``.
        seed: makes the Delivery engine deterministic.
        clock: epoch seconds, for repository dates and the Delivery engine's date constraints.
        account_id: what ``repo:createdBy``/``repo:lastModifiedBy`` record for every caller.
        max_body_bytes: larger request bodies are refused with 413.
        delivery_engine: replaces the ``DeliveryEngine`` (tests).
        artifact: a Target rules artifact to serve and decide with: a dict, JSON text, ``rules.json``/``rules.bin``
            bytes, or the path of a file. Without one the fixtures are compiled into the artifact; with one,
            the fixtures decide only what it marks remote. An artifact that cannot be used raises
            ``target_async.decisioning.ArtifactError`` (re-exported here) naming the problem.
        client: the client code served and hashed (default: the artifact's ``meta.clientCode``, else
            ``"emulator"``); ``rules.json`` is served at ``/{client}/{environment}/v1/rules.json``.
        organization_id: the IMS organization id that obfuscates ``rules.bin`` (default: the artifact's
            ``meta.organizationId``, else ``EMULATOR0000000000000000@AdobeOrg``).
        environment: the ``meta.environment`` of compiled fixtures (every environment path serves the artifact).
        geo: the IP -> geo table (``{"<ip>": {"latitude", "longitude", "countryCode", "stateCode", "city"}}``)
            that ``GET /v1/geo``, the artifact's ``x-geo-*`` headers and server-side geo targeting read.
    """
    settings = RepositorySettings(
        delete_mode=delete_mode,
        delete_pending_polls=delete_pending_polls,
        delete_retry_after=delete_retry_after,
        default_limit=default_limit,
        max_limit=max_limit,
        account_id=account_id,
    )
    settings.validate()
    if isinstance(faults, Mapping):
        faults = FaultConfig.from_dict(faults)
    fixture_data = _load_fixtures(fixtures)
    rules = Rules(
        artifact=artifact,
        fixtures=fixture_data,
        client=client,
        organization_id=organization_id,
        environment=environment,
        clock=clock,
    )
    geo_table = GeoTable(geo)
    notifications = NotificationLog()
    if delivery_engine is None:
        delivery_engine = DeliveryEngine(
            seed=seed, clock=clock, rules=rules, geo=geo_table, notifications=notifications
        )
    emulator = Emulator(
        rules=rules,
        geo=geo_table,
        notifications=notifications,
        store=Store(db_path),
        settings=settings,
        faults=FaultState(faults),
        engine=delivery_engine,
        clock=clock,
        max_body=max_body_bytes,
    )
    repo = emulator.repository
    cdn = emulator.cdn
    base = REPOSITORY_BASE
    admin = emulator.admin_route
    routes = [
        Route(DELIVERY_PATH, emulator.delivery, methods=["POST"]),
        Route(base, emulator.repository_route(repo.home), methods=["GET"]),
        Route(base + "/", emulator.repository_route(repo.home), methods=["GET"]),
        Route(base + "/containers/{containerId}", emulator.repository_route(repo.read_container), methods=["GET"]),
        Route(base + "/{containerId}/instances", emulator.repository_route(repo.list), methods=["GET"]),
        Route(base + "/{containerId}/instances", emulator.repository_route(repo.create), methods=["POST"]),
        Route(base + "/{containerId}/instances/{instanceId}", emulator.repository_route(repo.read), methods=["GET"]),
        Route(base + "/{containerId}/instances/{instanceId}", emulator.repository_route(repo.replace), methods=["PUT"]),
        Route(base + "/{containerId}/instances/{instanceId}", emulator.repository_route(repo.patch), methods=["PATCH"]),
        Route(
            base + "/{containerId}/instances/{instanceId}", emulator.repository_route(repo.delete), methods=["DELETE"]
        ),
        Route(base + "/{containerId}/queries/core/search", emulator.repository_route(_search(repo)), methods=["GET"]),
        Route(base + "/{containerId}/operations/{operationId}", emulator.repository_route(repo.poll), methods=["GET"]),
        Route("/_emulator/health", admin(emulator.health), methods=["GET"]),
        Route("/_emulator/reset", admin(emulator.reset_endpoint), methods=["POST"]),
        Route("/_emulator/faults", admin(emulator.faults_endpoint), methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/config", admin(emulator.config_endpoint), methods=["GET", "POST"]),
        Route("/_emulator/containers", admin(emulator.containers_endpoint, 201), methods=["POST"]),
        Route("/_emulator/artifact", admin(cdn.artifact_admin), methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/fixtures", admin(cdn.fixtures_admin), methods=["POST"]),
        Route("/_emulator/geo", admin(cdn.geo_admin), methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/notifications", admin(cdn.notifications_admin), methods=["GET", "DELETE"]),
        Route("/v1/geo", cdn.geo_lookup, methods=["GET"]),
        Route("/{client}/{environment}/v1/rules.json", cdn.artifact, methods=["GET"]),
        Route("/{client}/{environment}/v1/rules.bin", cdn.artifact, methods=["GET"]),
        Route("/{client}/{environment}/v1/{property_token}/rules.json", cdn.artifact, methods=["GET"]),
        Route("/{client}/{environment}/v1/{property_token}/rules.bin", cdn.artifact, methods=["GET"]),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if emulator.store.path is not None:  # an in-memory database would lose its data; files reopen lazily
            emulator.store.close()

    app = EmulatorApp(routes=routes, exception_handlers={HTTPException: _http_error}, lifespan=lifespan)
    app.emulator = emulator
    app.state.emulator = emulator
    return app


def _search(repo: Repository) -> Callable[[Request, Caller], Awaitable[Response]]:
    async def search(request: Request, caller: Caller) -> Response:
        return await repo.list(request, caller, search=True)

    return search


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    rid = _request_id(request.headers)
    headers = {**(exc.headers or {}), "x-request-id": rid}
    detail = f"{request.method} {request.url.path}: {exc.detail}"
    if request.url.path == DELIVERY_PATH:
        return _json({"status": exc.status_code, "message": detail}, exc.status_code, headers)
    return _json(problem(exc.status_code, detail, request_id=rid), exc.status_code, headers)
