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

import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ._delivery import DeliveryEngine, NotificationLog
from ._emulator import REPOSITORY_BASE, DeliveryHandler, Emulator, _json, _request_id, problem
from ._faults import DELIVERY_PATH, FaultConfig, FaultState, StatusBurst, drop_connection
from ._repository import Caller, DeleteMode, Repository, RepositorySettings
from ._rules import ArtifactSource, GeoTable, Rules
from ._store import Store

__all__ = ["DeliveryHandler", "Emulator", "EmulatorApp", "create_app"]


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
