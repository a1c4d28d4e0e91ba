"""The emulator's state and handlers behind the routes of ``_app``: tenancy and identity, the Delivery route,
the admin endpoints and their cross-site guard, and the error bodies (see ``_app`` for the rules)."""

from __future__ import annotations

import ipaddress
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from ._cdn import Cdn
from ._delivery import NotificationLog
from ._faults import FaultConfig, FaultState
from ._repository import Caller, Repository, RepositorySettings
from ._rules import GeoTable, Rules
from ._schemas import unversioned
from ._store import Store
from ._wire import ApiError, parse_json, read_body

__all__ = ["REPOSITORY_BASE", "DeliveryHandler", "Emulator", "problem"]

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
