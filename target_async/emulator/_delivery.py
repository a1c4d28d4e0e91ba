"""The emulator's Delivery API engine: ``POST /rest/v1/delivery`` as a function of dicts (stdlib only).

``DeliveryEngine.handle(body, query, repository, host=...)`` returns ``(status, json_body)``. It never raises
for bad input: a 400 ``{"status", "message"}`` names the offending parameter or field, and an unexpected
failure is logged and answered as a 500 of the same shape.

Each requested mbox is decided, in this order of precedence (rules in ``_decide``):

1. by the repository: a live activity whose placement is named like the mbox (when it yields an offer or
   a usable fallback);
2. by the fixtures (``API.md`` §6), with stable per-visitor allocation;
3. otherwise ``{"index", "name"}`` with no options, as Target answers an mbox that nothing matches.

Views come from fixture ``views`` only (a view request without a name returns every fixture view, sorted by
name); pageLoad from fixture ``pageLoad``. The visitor used for allocation and profile caps is ``id.tntId``
without any ``.<cluster>_<n>`` suffix, else ``marketingCloudVisitorId``, else ``thirdPartyId``, else the
generated tntId. Prefetched options and metrics carry an ``eventToken``: url-safe base64 of a small JSON
document naming the decision. Notifications are acknowledged as ``{"id"}`` and are counted (for caps, see
``_decide``) before the request's own decisions.

Wire choices that keep real clients on the emulator (``API.md`` §6): ``edgeHost`` is ``"localhost"`` (not
four dot-separated labels, so no edge cluster) and generated ``tntId``s are bare UUIDs without a
``.<cluster>_<n>`` suffix. ``client`` is the first label of a ``{client}.tt.omtrdc.net`` host, else the
caller's hint, else ``"emulator"``. Requested sections are mirrored (every mbox gets a response; a requested
``pageLoad`` is always an object); empty lists and empty ``execute``/``prefetch`` objects are omitted. With
``experienceCloud.analytics.logging == "client_side"`` each decided location carries
``analytics.payload = {"pe": "tnt", "tnta": "<activity>:<experience>:0|2"}``; with ``trace`` in the request,
each location carries a ``trace`` (client, visitor, request details, the deciding campaign).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ._decide import (
    METRIC_TYPES,
    CapCounters,
    Decision,
    EmptyRepository,
    FixtureLocation,
    RepositoryDecider,
    RepositoryView,
    clone_json,
    compile_fixtures,
    decode_token,
    encode_token,
    response_tokens,
    stable_int,
)

__all__ = ["EDGE_HOST", "DeliveryEngine", "EmptyRepository", "RepositoryView"]

EDGE_HOST = "localhost"
"""The ``edgeHost`` the emulator answers: no four dot-separated labels, so clients derive no edge cluster."""

_LOGGING_TYPES = frozenset({"server_side", "client_side"})
_TARGET_HOST_SUFFIX = ".tt.omtrdc.net"
_log = logging.getLogger(__name__)


class _BadRequest(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ------------------------------------------------------------------------------------------ request parsing


@dataclass(frozen=True)
class _Detail:
    """An mbox, view or pageLoad request."""

    index: int | None
    name: str | None
    key: str | None
    parameters: Mapping[str, Any]
    profile: Mapping[str, Any]


@dataclass(frozen=True)
class _Request:
    request_id: str | None
    visitor_id: dict[str, Any]
    tnt_id: str | None
    alt_visitor: str | None  # marketingCloudVisitorId, else thirdPartyId
    execute_page_load: _Detail | None
    execute_mboxes: list[_Detail] | None
    prefetch_page_load: _Detail | None
    prefetch_views: list[_Detail] | None
    prefetch_mboxes: list[_Detail] | None
    notifications: list[dict[str, Any]]
    client_side: bool
    trace: bool


def _obj(parent: Mapping[str, Any], key: str, path: str) -> dict[str, Any] | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _BadRequest(f"'{path}' must be an object")
    return value


def _arr(parent: Mapping[str, Any], key: str, path: str) -> list[Any] | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise _BadRequest(f"'{path}' must be an array")
    return value


def _str(parent: Mapping[str, Any], key: str, path: str) -> str | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _BadRequest(f"'{path}' must be a string")
    return value


_EMPTY: Mapping[str, Any] = {}


def _detail(raw: object, path: str, *, index: int | None, needs_name: bool) -> _Detail:
    if not isinstance(raw, dict):
        raise _BadRequest(f"'{path}' must be an object")
    name = _str(raw, "name", f"{path}.name")
    if needs_name and not name:
        raise _BadRequest(f"'{path}.name' is required (a non-empty string)")
    if index is not None:
        raw_index = raw.get("index")
        if raw_index is not None:
            if isinstance(raw_index, bool) or not isinstance(raw_index, int):
                raise _BadRequest(f"'{path}.index' must be an integer")
            index = raw_index
    return _Detail(
        index=index,
        name=name,
        key=_str(raw, "key", f"{path}.key"),
        parameters=_obj(raw, "parameters", f"{path}.parameters") or _EMPTY,
        profile=_obj(raw, "profileParameters", f"{path}.profileParameters") or _EMPTY,
    )


def _mboxes(section: Mapping[str, Any], path: str) -> list[_Detail] | None:
    raw = _arr(section, "mboxes", f"{path}.mboxes")
    if raw is None:
        return None
    return [_detail(m, f"{path}.mboxes[{i}]", index=i, needs_name=True) for i, m in enumerate(raw)]


def _page_load(section: Mapping[str, Any], path: str) -> _Detail | None:
    if section.get("pageLoad") is None:
        return None
    return _detail(section["pageLoad"], f"{path}.pageLoad", index=None, needs_name=False)


def _parse(body: dict[str, Any]) -> _Request:
    request_id = _str(body, "requestId", "requestId")
    visitor_id = _obj(body, "id", "id") or {}
    tnt_id = _str(visitor_id, "tntId", "id.tntId")
    mcid = _str(visitor_id, "marketingCloudVisitorId", "id.marketingCloudVisitorId")
    third = _str(visitor_id, "thirdPartyId", "id.thirdPartyId")
    _arr(visitor_id, "customerIds", "id.customerIds")
    _obj(body, "context", "context")

    execute = _obj(body, "execute", "execute")
    prefetch = _obj(body, "prefetch", "prefetch")
    views: list[_Detail] | None = None
    if prefetch is not None:
        raw_views = _arr(prefetch, "views", "prefetch.views")
        if raw_views is not None:
            views = [_detail(v, f"prefetch.views[{i}]", index=None, needs_name=False) for i, v in enumerate(raw_views)]

    notifications: list[dict[str, Any]] = []
    for i, n in enumerate(_arr(body, "notifications", "notifications") or ()):
        path = f"notifications[{i}]"
        if not isinstance(n, dict):
            raise _BadRequest(f"'{path}' must be an object")
        if not _str(n, "id", f"{path}.id"):
            raise _BadRequest(f"'{path}.id' is required (a non-empty string)")
        n_type = _str(n, "type", f"{path}.type")
        if n_type is not None and n_type not in METRIC_TYPES:
            raise _BadRequest(f"'{path}.type' must be 'click' or 'display'")
        timestamp = n.get("timestamp")
        if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, int)):
            raise _BadRequest(f"'{path}.timestamp' must be an integer (ms since the epoch)")
        tokens = _arr(n, "tokens", f"{path}.tokens")
        if tokens is not None and not all(isinstance(t, str) for t in tokens):
            raise _BadRequest(f"'{path}.tokens' must be an array of strings")
        mbox = _obj(n, "mbox", f"{path}.mbox")
        if mbox is not None:
            _str(mbox, "name", f"{path}.mbox.name")
        notifications.append(n)

    client_side = False
    experience_cloud = _obj(body, "experienceCloud", "experienceCloud")
    if experience_cloud is not None:
        analytics = _obj(experience_cloud, "analytics", "experienceCloud.analytics")
        if analytics is not None:
            logging_type = _str(analytics, "logging", "experienceCloud.analytics.logging")
            if logging_type is not None and logging_type not in _LOGGING_TYPES:
                raise _BadRequest("'experienceCloud.analytics.logging' must be 'server_side' or 'client_side'")
            client_side = logging_type == "client_side"

    return _Request(
        request_id=request_id or None,
        visitor_id=visitor_id,
        tnt_id=tnt_id or None,
        alt_visitor=mcid or third or None,
        execute_page_load=_page_load(execute, "execute") if execute is not None else None,
        execute_mboxes=_mboxes(execute, "execute") if execute is not None else None,
        prefetch_page_load=_page_load(prefetch, "prefetch") if prefetch is not None else None,
        prefetch_views=views,
        prefetch_mboxes=_mboxes(prefetch, "prefetch") if prefetch is not None else None,
        notifications=notifications,
        client_side=client_side,
        trace=_obj(body, "trace", "trace") is not None,
    )


def _client_from_host(host: object) -> str | None:
    if not isinstance(host, str):
        return None
    name = host.strip().lower()
    if name.startswith("["):  # IPv6 literal
        return None
    name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    if not name.endswith(_TARGET_HOST_SUFFIX):
        return None
    label = name[: -len(_TARGET_HOST_SUFFIX)]
    if not label or "." in label or label.startswith("mboxedge"):
        return None
    return label


# -------------------------------------------------------------------------------------------------- engine


@dataclass(frozen=True)
class _Parts:
    """What decided a location: its options and metrics, the trace campaign and the A4T ``tnta`` value."""

    options: list[dict[str, Any]]
    metrics: list[dict[str, Any]]
    campaign: dict[str, Any] | None = None
    tnta: str | None = None


_NOTHING = _Parts([], [])


@dataclass
class _Call:
    """Per-request state while building a response."""

    request: _Request
    tnt_id: str  # the response's id.tntId
    visitor: str
    session_id: str
    client: str
    host: str
    decider: RepositoryDecider | None


class DeliveryEngine:
    """Decides Delivery API requests from fixtures and a repository view; keeps per-org cap counters.

    Args:
        fixtures: the fixture decisions (``API.md`` §6); validated here (``ValueError`` naming the path).
        seed: makes the priority tie-break and the generated ``requestId``/``tntId`` values deterministic.
        clock: epoch seconds, for activity and offer date constraints.

    Thread-safe: cap counters and the random generators are guarded by one lock.
    """

    def __init__(
        self,
        fixtures: Mapping[str, Any] | None = None,
        *,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fixtures = compile_fixtures(fixtures)
        self._clock = clock
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._id_rng = None if seed is None else random.Random(f"ids:{seed}")
        self._counters: dict[str, CapCounters] = {}

    def reset_counters(self) -> None:
        """Forget every counted impression (all organizations)."""
        with self._lock:
            self._counters.clear()

    def impressions(self, ims_org_id: str, offer_id: str, visitor: str | None = None) -> int:
        """Impressions counted toward caps for an offer (across visitors, or for one visitor's tntId)."""
        with self._lock:
            counters = self._counters.get(ims_org_id)
            if counters is None:
                return 0
            if visitor is None:
                return counters.per_offer.get(offer_id, 0)
            return counters.per_profile.get((offer_id, visitor.split(".", 1)[0]), 0)

    def handle(
        self,
        body: Any,
        query: Mapping[str, str],
        repository: RepositoryView,
        *,
        host: str,
        client: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Answer one ``POST /rest/v1/delivery``: ``(status, JSON body)``.

        Args:
            body: the parsed JSON body (raw ``bytes`` are parsed too).
            query: the query parameters (``imsOrgId`` and ``sessionId`` are required).
            repository: the org's ``prod`` sandbox instances.
            host: the request's ``Host``, used to derive ``client``.
            client: a client-code hint used when the host names none.
        """
        try:
            return 200, self._handle(body, query, repository, host, client)
        except _BadRequest as exc:
            return 400, {"status": 400, "message": exc.message}
        except Exception:
            _log.exception("the emulator's Delivery engine failed")
            return 500, {"status": 500, "message": "Internal error in the emulator's Delivery engine"}

    # -- internals ----------------------------------------------------------------------------------------

    def _new_uuid(self) -> str:
        if self._id_rng is None:
            return str(uuid.uuid4())
        with self._lock:
            bits = self._id_rng.getrandbits(128)
        return str(uuid.UUID(int=bits, version=4))

    def _org_counters(self, org: str) -> CapCounters:
        with self._lock:
            counters = self._counters.get(org)
            if counters is None:
                counters = self._counters[org] = CapCounters()
            return counters

    def _handle(
        self, body: Any, query: Mapping[str, str], repository: RepositoryView, host: str, client: str | None
    ) -> dict[str, Any]:
        org = query.get("imsOrgId")
        if not isinstance(org, str) or not org:
            raise _BadRequest("The 'imsOrgId' query parameter is required")
        session_id = query.get("sessionId")
        if not isinstance(session_id, str) or not session_id:
            raise _BadRequest("The 'sessionId' query parameter is required")
        if isinstance(body, (bytes, bytearray)):
            try:
                body = json.loads(body)
            except ValueError:
                raise _BadRequest("The request body must be valid JSON") from None
        if not isinstance(body, dict):
            raise _BadRequest("The request body must be a JSON object (a DeliveryRequest)")
        request = _parse(body)

        visitor_id = dict(request.visitor_id)
        if request.tnt_id is None:
            visitor_id["tntId"] = self._new_uuid()  # no ".<cluster>_<n>" suffix: see API.md §6
        visitor = request.tnt_id.split(".", 1)[0] if request.tnt_id else request.alt_visitor or visitor_id["tntId"]
        counters = self._org_counters(org)
        needs_repository = bool(request.execute_mboxes or request.prefetch_mboxes) and not isinstance(
            repository, EmptyRepository
        )
        call = _Call(
            request=request,
            tnt_id=visitor_id["tntId"],
            visitor=visitor,
            session_id=session_id,
            client=_client_from_host(host) or (client if isinstance(client, str) and client else "emulator"),
            host=host,
            decider=RepositoryDecider(repository, self._clock(), counters, self._lock, self._rng)
            if needs_repository
            else None,
        )
        self._count_notifications(request, visitor, counters)

        response: dict[str, Any] = {
            "status": 200,
            "requestId": request.request_id or self._new_uuid(),
            "client": call.client,
            "id": visitor_id,
            "edgeHost": EDGE_HOST,
        }
        execute: dict[str, Any] = {}
        if request.execute_page_load is not None:
            execute["pageLoad"] = self._page_load(call, request.execute_page_load, prefetch=False)
        if request.execute_mboxes:
            execute["mboxes"] = [self._mbox(call, m, prefetch=False) for m in request.execute_mboxes]
        if execute:
            response["execute"] = execute
        prefetch: dict[str, Any] = {}
        if request.prefetch_views is not None:
            views = self._views(call, request.prefetch_views)
            if views:
                prefetch["views"] = views
        if request.prefetch_page_load is not None:
            prefetch["pageLoad"] = self._page_load(call, request.prefetch_page_load, prefetch=True)
        if request.prefetch_mboxes:
            prefetch["mboxes"] = [self._mbox(call, m, prefetch=True) for m in request.prefetch_mboxes]
        if prefetch:
            response["prefetch"] = prefetch
        if request.notifications:
            response["notifications"] = [{"id": n["id"]} for n in request.notifications]
        return response

    def _count_notifications(self, request: _Request, visitor: str, counters: CapCounters) -> None:
        """A display notification counts one impression per distinct prefetched repository-offer token."""
        for notification in request.notifications:
            if notification.get("type") != "display":
                continue
            for token in dict.fromkeys(notification.get("tokens") or ()):
                payload = decode_token(token)
                if payload is None or payload.get("k") != "r" or payload.get("f"):
                    continue
                offer_id = payload.get("o")
                if isinstance(offer_id, str):
                    with self._lock:
                        counters.count(offer_id, visitor)

    # -- response parts -----------------------------------------------------------------------------------

    def _trace(self, call: _Call, kind: str, detail: _Detail, mode: str, campaign: dict[str, Any] | None) -> Any:
        details: dict[str, Any] = {"type": mode}
        if detail.name is not None:
            details["name"] = detail.name
        if detail.index is not None:
            details["index"] = detail.index
        if detail.key is not None:
            details["key"] = detail.key
        if detail.parameters:
            details["parameters"] = dict(detail.parameters)
        if detail.profile:
            details["profileParameters"] = dict(detail.profile)
        visitor_id = dict(call.request.visitor_id)
        tnt_id, _, location = call.tnt_id.partition(".")
        visitor_id["tntId"] = tnt_id
        visitor_id["profileLocation"] = location or None
        return {
            "clientCode": call.client,
            "profile": {"visitorId": visitor_id},
            "request": {"sessionId": call.session_id, "host": call.host, kind: details},
            "campaigns": [campaign] if campaign is not None else [],
        }

    def _fixture_parts(self, call: _Call, location: FixtureLocation | None, *, prefetch: bool) -> _Parts:
        experience = location.allocate(call.visitor) if location is not None else None
        if location is None or experience is None:
            return _NOTHING
        options: list[dict[str, Any]] = []
        for fixture_option in experience.options:
            option: dict[str, Any] = {
                "type": fixture_option.type,
                "content": clone_json(fixture_option.content),
                "responseTokens": dict(fixture_option.response_tokens),
            }
            if prefetch:
                option["eventToken"] = fixture_option.event_token
            options.append(option)
        metrics = [dict(m) for m in experience.metrics if prefetch or m.get("type") == "click"]
        campaign = {
            "id": location.activity_id,
            "name": location.name,
            "experienceId": experience.index,
            "experienceName": experience.name,
            "offers": [o["responseTokens"]["offer.id"] for o in options],
            "source": "fixtures",
            "decisioningMethod": "server-side",
        }
        return _Parts(options, metrics, campaign, f"{location.activity_id}:{experience.index}:0|2")

    def _repository_parts(self, decision: Decision, *, prefetch: bool) -> _Parts:
        activity_id = decision.activity.get("@id")
        offer_id = decision.offer.get("@id")
        experience_id = 1 if decision.fallback else 0
        experience_name = "Fallback offer" if decision.fallback else "Personalized offer"
        option: dict[str, Any] = {
            "type": decision.option_type,
            "content": decision.content,
            "responseTokens": response_tokens(
                activity_id,
                decision.activity.get("xdm:name"),
                experience_id,
                experience_name,
                offer_id,
                decision.offer.get("xdm:name"),
                0,
            ),
        }
        if prefetch:
            payload = {"k": "r", "a": activity_id, "o": offer_id, "p": decision.placement_id}
            if decision.fallback:
                payload["f"] = True
            option["eventToken"] = encode_token(payload)
        campaign = {
            "id": activity_id,
            "name": decision.activity.get("xdm:name"),
            "experienceId": experience_id,
            "experienceName": experience_name,
            "offers": [offer_id],
            "source": "repository",
            "decisioningMethod": "server-side",
            "placementId": decision.placement_id,
            "fallback": decision.fallback,
            "candidates": list(decision.candidates),
            "qualified": list(decision.qualified),
        }
        return _Parts([option], [], campaign, f"{stable_int(str(activity_id))}:{experience_id}:0|2")

    def _finish(
        self,
        call: _Call,
        out: dict[str, Any],
        parts: _Parts,
        kind: str,
        detail: _Detail,
        mode: str,
    ) -> dict[str, Any]:
        if parts.options:
            out["options"] = parts.options
        if parts.metrics:
            out["metrics"] = parts.metrics
        if parts.tnta is not None and call.request.client_side:
            out["analytics"] = {"payload": {"pe": "tnt", "tnta": parts.tnta}}
        if call.request.trace:
            out["trace"] = self._trace(call, kind, detail, mode, parts.campaign)
        return out

    def _mbox(self, call: _Call, detail: _Detail, *, prefetch: bool) -> dict[str, Any]:
        name = detail.name or ""
        decision = None
        if call.decider is not None and call.decider.has_activity(name):
            decision = call.decider.decide(name, detail.parameters, detail.profile, call.visitor, count=not prefetch)
        if decision is not None:
            parts = self._repository_parts(decision, prefetch=prefetch)
        else:
            parts = self._fixture_parts(call, self._fixtures.mboxes.get(name), prefetch=prefetch)
        out: dict[str, Any] = {"index": detail.index, "name": name}
        return self._finish(call, out, parts, "mbox", detail, "prefetch" if prefetch else "execute")

    def _page_load(self, call: _Call, detail: _Detail, *, prefetch: bool) -> dict[str, Any]:
        parts = self._fixture_parts(call, self._fixtures.page_load, prefetch=prefetch)
        return self._finish(call, {}, parts, "pageLoad", detail, "prefetch" if prefetch else "execute")

    def _views(self, call: _Call, requested: list[_Detail]) -> list[dict[str, Any]]:
        fixture_views = self._fixtures.views
        chosen: dict[str, _Detail] = {}
        for detail in requested:
            if detail.name is None:
                for name in fixture_views:
                    chosen.setdefault(name, detail)
            elif detail.name in fixture_views:
                chosen.setdefault(detail.name, detail)
        views: list[dict[str, Any]] = []
        for name in sorted(chosen):
            detail = chosen[name]
            parts = self._fixture_parts(call, fixture_views[name], prefetch=True)
            if not parts.options and not parts.metrics:
                continue
            out: dict[str, Any] = {"name": name}
            if detail.key is not None:
                out["key"] = detail.key
            traced = detail if detail.name is not None else replace(detail, name=name)
            views.append(self._finish(call, out, parts, "view", traced, "prefetch"))
        return views
