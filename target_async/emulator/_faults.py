"""Fault injection: latency, status bursts, dropped connections and delete checks that never resolve.

Configure with ``create_app(faults=FaultConfig(...))`` or at run time through the admin endpoint
(``POST /_emulator/faults`` adds, ``DELETE`` resets, ``GET`` shows what is left). JSON form::

    {"latency": [{"route": "delivery", "seconds": 0.2, "count": null}],
     "bursts":  [{"route": "POST /rest/v1/delivery", "status": 503, "count": 2, "retryAfter": 1}],
     "drops":   [{"route": "GET operations", "count": 1}],
     "deleteNeverResolves": true,
     "replace": false}

``count`` is how many matching requests the rule affects (``null``: every one). Exhausted rules disappear.
``POST`` appends its rules to the current ones (``"replace": true`` replaces them); snake_case keys
(``retry_after``, ``delete_never_resolves``) are accepted too.

Route patterns: ``"[METHOD ]TARGET"``. ``METHOD`` is an HTTP method or ``*``; ``TARGET`` is ``*`` (every
route except ``/_emulator``), a path (``/rest/v1/delivery``; shell-style ``*`` globs allowed; a path also
matches everything below it), or a route name: ``delivery``, ``repository`` (all of ``/data/core/xcore``),
``root``, ``containers``, ``instances`` (collection and item), ``instance`` (item only), ``search``,
``operations`` (delete status polls), ``artifact`` (``rules.json``/``rules.bin``), ``geo`` (``/v1/geo``).
Examples: ``"repository"``, ``"POST /rest/v1/delivery"``, ``"GET operations"``, ``"DELETE instance"``,
``"artifact"``.

Per matching request, in order: every latency rule sleeps; then a drop rule closes the connection; then a burst
rule answers its status (``Retry-After`` when set) instead of the route.

Dropped connections: under uvicorn the socket is closed before any byte of a response is written, and the app
returns once uvicorn has seen the disconnect, so the client sees ``Server disconnected without sending a
response`` (httpx ``RemoteProtocolError``). Servers that do not expose the transport, and
``httpx.ASGITransport``, cannot drop a connection: there the app raises ``ConnectionDropped`` (a
``ConnectionResetError``), which ``ASGITransport`` re-raises from ``client.send()``.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import anyio

__all__ = [
    "ConnectionDropped",
    "DropConnection",
    "FaultConfig",
    "FaultPlan",
    "FaultState",
    "Latency",
    "StatusBurst",
    "drop_connection",
    "route_tags",
]

REPOSITORY_PREFIX = "/data/core/xcore"
DELIVERY_PATH = "/rest/v1/delivery"
ADMIN_PREFIX = "/_emulator"
_ROUTE_NAMES = frozenset(
    {"delivery", "repository", "root", "containers", "instances", "instance", "search", "operations", "artifact", "geo"}
)
GEO_PATH = "/v1/geo"


class ConnectionDropped(ConnectionResetError):
    """Raised by the app for an injected dropped connection when the server cannot really drop it."""


@dataclass
class Latency:
    """Delay matching requests by ``seconds`` (``count=None``: every matching request)."""

    route: str = "*"
    seconds: float = 0.0
    count: int | None = None


@dataclass
class StatusBurst:
    """Answer the next ``count`` matching requests with ``status`` (429 or 5xx) and ``Retry-After``."""

    route: str = "*"
    status: int = 503
    count: int | None = 1
    retry_after: int | str | None = 1
    message: str = "injected fault: service temporarily unavailable"


@dataclass
class DropConnection:
    """Close the connection of the next ``count`` matching requests without a response."""

    route: str = "*"
    count: int | None = 1


@dataclass
class FaultConfig:
    """All fault rules; see the module docstring for the pattern syntax and the JSON form."""

    latency: list[Latency] = field(default_factory=list)
    bursts: list[StatusBurst] = field(default_factory=list)
    drops: list[DropConnection] = field(default_factory=list)
    delete_never_resolves: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultConfig:
        """Parse the admin JSON form (raises ``ValueError`` naming the bad field)."""
        if not isinstance(data, Mapping):
            raise ValueError("the fault configuration must be a JSON object")
        known = {"latency", "bursts", "drops", "deleteNeverResolves", "delete_never_resolves", "replace"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        never = data.get("deleteNeverResolves", data.get("delete_never_resolves", False))
        if not isinstance(never, bool):
            raise ValueError("deleteNeverResolves must be a boolean")
        return cls(
            latency=[_latency(r, f"latency[{i}]") for i, r in enumerate(_rules(data, "latency"))],
            bursts=[_burst(r, f"bursts[{i}]") for i, r in enumerate(_rules(data, "bursts"))],
            drops=[_drop(r, f"drops[{i}]") for i, r in enumerate(_rules(data, "drops"))],
            delete_never_resolves=never,
        )

    def to_dict(self) -> dict[str, Any]:
        """The admin JSON form."""
        return {
            "latency": [{"route": r.route, "seconds": r.seconds, "count": r.count} for r in self.latency],
            "bursts": [
                {
                    "route": r.route,
                    "status": r.status,
                    "count": r.count,
                    "retryAfter": r.retry_after,
                    "message": r.message,
                }
                for r in self.bursts
            ],
            "drops": [{"route": r.route, "count": r.count} for r in self.drops],
            "deleteNeverResolves": self.delete_never_resolves,
        }

    def validate(self) -> None:
        """Check every rule (raises ``ValueError``)."""
        for i, lat in enumerate(self.latency):
            _check_route(lat.route, f"latency[{i}].route")
            _check_count(lat.count, f"latency[{i}].count")
            if (
                isinstance(lat.seconds, bool)
                or not isinstance(lat.seconds, (int, float))
                or not 0 <= lat.seconds <= 600
            ):
                raise ValueError(f"latency[{i}].seconds must be a number of seconds between 0 and 600")
        for i, burst in enumerate(self.bursts):
            _check_route(burst.route, f"bursts[{i}].route")
            _check_count(burst.count, f"bursts[{i}].count")
            if isinstance(burst.status, bool) or not isinstance(burst.status, int) or not 400 <= burst.status <= 599:
                raise ValueError(f"bursts[{i}].status must be an HTTP error status (400-599), e.g. 429 or 503")
            ra = burst.retry_after
            if ra is not None and (
                isinstance(ra, bool) or not isinstance(ra, (int, str)) or (isinstance(ra, int) and ra < 0)
            ):
                raise ValueError(f"bursts[{i}].retryAfter must be a non-negative integer, an HTTP-date or null")
        for i, drop in enumerate(self.drops):
            _check_route(drop.route, f"drops[{i}].route")
            _check_count(drop.count, f"drops[{i}].count")


def _rules(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    rules = data.get(key, [])
    if isinstance(rules, Mapping):
        rules = [rules]
    if not isinstance(rules, list) or not all(isinstance(r, Mapping) for r in rules):
        raise ValueError(f"{key} must be an array of objects")
    return rules


def _take(rule: Mapping[str, Any], where: str, allowed: set[str]) -> None:
    unknown = sorted(set(rule) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")


def _latency(rule: Mapping[str, Any], where: str) -> Latency:
    _take(rule, where, {"route", "seconds", "count"})
    return Latency(route=rule.get("route", "*"), seconds=rule.get("seconds", 0.0), count=rule.get("count"))


def _burst(rule: Mapping[str, Any], where: str) -> StatusBurst:
    _take(rule, where, {"route", "status", "count", "retryAfter", "retry_after", "message"})
    default = StatusBurst()
    return StatusBurst(
        route=rule.get("route", "*"),
        status=rule.get("status", default.status),
        count=rule.get("count", default.count),
        retry_after=rule.get("retryAfter", rule.get("retry_after", default.retry_after)),
        message=rule.get("message", default.message),
    )


def _drop(rule: Mapping[str, Any], where: str) -> DropConnection:
    _take(rule, where, {"route", "count"})
    return DropConnection(route=rule.get("route", "*"), count=rule.get("count", 1))


def _check_count(count: object, where: str) -> None:
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError(f"{where} must be a positive integer or null (every request)")


def _split_pattern(pattern: str) -> tuple[str, str]:
    parts = pattern.split()
    if len(parts) == 2:
        return parts[0].upper(), parts[1]
    if len(parts) == 1:
        return "*", parts[0]
    raise ValueError(f"route pattern {pattern!r} must be '[METHOD ]TARGET'")


def _check_route(pattern: object, where: str) -> None:
    if not isinstance(pattern, str) or not pattern.strip():
        raise ValueError(f"{where} must be a non-empty route pattern such as 'repository' or 'POST /rest/v1/delivery'")
    method, target = _split_pattern(pattern)
    if not (method == "*" or method.isalpha()):
        raise ValueError(f"{where}: {method!r} is not an HTTP method")
    if target not in ("*", "all") and not target.startswith("/") and target.lower() not in _ROUTE_NAMES:
        raise ValueError(f"{where}: unknown route {target!r} (use a path or one of {', '.join(sorted(_ROUTE_NAMES))})")


def route_tags(path: str) -> frozenset[str]:
    """The route names a request path belongs to (``admin`` for ``/_emulator``, empty when unknown)."""
    if path == DELIVERY_PATH or path.startswith(DELIVERY_PATH + "/"):
        return frozenset({"delivery"})
    if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
        return frozenset({"admin"})
    if path == GEO_PATH:
        return frozenset({"geo"})
    if path.endswith(("/rules.json", "/rules.bin")) and "/v1/" in path:
        return frozenset({"artifact"})
    if path != REPOSITORY_PREFIX and not path.startswith(REPOSITORY_PREFIX + "/"):
        return frozenset()
    parts = [p for p in path[len(REPOSITORY_PREFIX) :].split("/") if p]
    tags = {"repository"}
    if not parts:
        tags |= {"root", "containers"}
    elif parts[0] == "containers":
        tags.add("containers")
    elif len(parts) >= 2 and parts[1] == "instances":
        tags.add("instances")
        if len(parts) >= 3:
            tags.add("instance")
    elif len(parts) >= 2 and parts[1] == "queries":
        tags.add("search")
    elif len(parts) >= 2 and parts[1] == "operations":
        tags.add("operations")
    return frozenset(tags)


def _matches(pattern: str, method: str, path: str, tags: frozenset[str]) -> bool:
    if "admin" in tags:
        return False
    want_method, target = _split_pattern(pattern)
    if want_method != "*" and want_method != method.upper():
        return False
    if target in ("*", "all"):
        return True
    if target.startswith("/"):
        base = target.rstrip("/") or "/"
        return fnmatch.fnmatchcase(path, target) or path == base or path.startswith(base.rstrip("/") + "/")
    return target.lower() in tags


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one request."""

    latency: float = 0.0
    drop: bool = False
    burst: StatusBurst | None = None


class FaultState:
    """The live, thread-safe fault rules of one app (counts go down as rules fire)."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._config = FaultConfig()
        if config is not None:
            self.configure(config, replace=True)

    def configure(self, config: FaultConfig, *, replace: bool = False) -> None:
        config.validate()
        fresh = _copy(config)
        with self._lock:
            if replace:
                self._config = fresh
            else:
                self._config.latency += fresh.latency
                self._config.bursts += fresh.bursts
                self._config.drops += fresh.drops
                self._config.delete_never_resolves = self._config.delete_never_resolves or fresh.delete_never_resolves

    def reset(self) -> None:
        with self._lock:
            self._config = FaultConfig()

    def snapshot(self) -> FaultConfig:
        with self._lock:
            return _copy(self._config)

    @property
    def delete_never_resolves(self) -> bool:
        with self._lock:
            return self._config.delete_never_resolves

    def plan(self, method: str, path: str) -> FaultPlan:
        """Decide (and count) the faults for one request."""
        tags = route_tags(path)
        if not tags or "admin" in tags:
            return FaultPlan()
        with self._lock:
            cfg = self._config
            if not (cfg.latency or cfg.bursts or cfg.drops):
                return FaultPlan()
            delay = 0.0
            for lat in _fire_all(cfg.latency, method, path, tags):
                delay += float(lat.seconds)
            drop = _fire_first(cfg.drops, method, path, tags) is not None
            burst = None if drop else _fire_first(cfg.bursts, method, path, tags)
            cfg.latency = [r for r in cfg.latency if r.count != 0]
            cfg.drops = [r for r in cfg.drops if r.count != 0]
            cfg.bursts = [r for r in cfg.bursts if r.count != 0]
            return FaultPlan(latency=delay, drop=drop, burst=None if burst is None else replace(burst))


def _copy(config: FaultConfig) -> FaultConfig:
    return FaultConfig(
        latency=[replace(r) for r in config.latency],
        bursts=[replace(r) for r in config.bursts],
        drops=[replace(r) for r in config.drops],
        delete_never_resolves=config.delete_never_resolves,
    )


def _fire_all(rules: list[Latency], method: str, path: str, tags: frozenset[str]) -> list[Latency]:
    fired = []
    for rule in rules:
        if (rule.count is None or rule.count > 0) and _matches(rule.route, method, path, tags):
            if rule.count is not None:
                rule.count -= 1
            fired.append(rule)
    return fired


def _fire_first(rules: list[StatusBurst] | list[DropConnection], method: str, path: str, tags: frozenset[str]) -> Any:
    for rule in rules:
        if (rule.count is None or rule.count > 0) and _matches(rule.route, method, path, tags):
            if rule.count is not None:
                rule.count -= 1
            return rule
    return None


async def drop_connection(send: Callable[[Any], Awaitable[None]]) -> None:
    """Close the client connection without a response (uvicorn), else raise ``ConnectionDropped``."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not hasattr(cycle, "disconnected") or not hasattr(transport, "close"):
        raise ConnectionDropped("injected fault: connection dropped without a response")
    transport.close()
    # uvicorn marks the cycle disconnected from connection_lost (scheduled by close); returning after that
    # keeps it from writing its own 500 or logging an error.
    with anyio.move_on_after(1.0):
        while not getattr(cycle, "disconnected", True):  # noqa: ASYNC110 (a flag uvicorn sets, no event to wait on)
            await anyio.sleep(0.001)
