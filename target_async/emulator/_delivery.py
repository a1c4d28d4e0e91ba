"""The emulator's Delivery API: ``POST /rest/v1/delivery`` as a function of dicts.

``DeliveryEngine.handle(body, query, repository, host=...)`` returns ``(status, json_body)``. It never raises
for bad input: a 400 ``{"status", "message"}`` names the offending parameter or field (``_parse``), and an
unexpected failure is logged and answered as a 500 of the same shape.

Decisions (one path, Target's): every mbox, view and pageLoad is decided by the project's decision engine from
the published rules (``_rules``): a real artifact, or the fixtures (``API.md`` §6) compiled into one
(``_compile``), with Target's allocation (MurmurHash3 of client, activity and visitor). What the served artifact
marks remote is decided from the fixtures' rules when there are some, else answered like an mbox with no
content. The one exception: an mbox whose name is the placement of a **live** repository activity is decided
by that activity (``_decide``; offer decisioning is server-only and not in the artifact), when it yields an
offer or a usable fallback. The same visitor therefore gets the same experience from this endpoint and from an
on-device client fed the published artifact: the visitor used for allocation is the engine's
(``marketingCloudVisitorId``, else ``tntId`` without its ``.<location>`` suffix, else ``thirdPartyId``); a
request with none of them (and no authenticated customer id) is given a generated ``tntId`` first, which then
allocates. Options carry the response tokens the artifact asks for, with ``activity.decisioningMethod``
``"server-side"``.

Notifications are acknowledged as ``{"id"}``, recorded (``NotificationLog``, read through
``GET /_emulator/notifications``) and counted for repository caps (``_decide``) before the request's own
decisions.

Wire choices that keep real clients on the emulator (``API.md`` §6): ``edgeHost`` is ``"localhost"`` (not
four dot-separated labels, so no edge cluster) and generated ``tntId``s are bare UUIDs without a
``.<cluster>_<n>`` suffix. ``client`` is the first label of a ``{client}.tt.omtrdc.net`` host, else the
caller's hint, else the published artifact's client; allocation uses that client. Requested sections are
mirrored (every mbox gets a response; a requested ``pageLoad`` is always an object); empty lists and empty
``execute``/``prefetch`` objects are omitted. With ``experienceCloud.analytics.logging == "client_side"`` each
decided location carries ``analytics.payload = {"pe": "tnt", "tnta": "<activity>:<experience>:0|2"}``; with
``trace`` in the request each location carries the engine's trace (a repository decision: the emulator's).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from ._decide import (
    CapCounters,
    Decision,
    EmptyRepository,
    RepositoryDecider,
    RepositoryView,
    decode_token,
    encode_token,
    response_tokens,
    stable_int,
)
from ._delivery_call import _Call, _identified, _options, _with_indices
from ._notification_log import NotificationLog
from ._parse import BadRequest, Detail, ParsedRequest, client_from_host, parse
from ._rules import GeoTable, Rules, decide

__all__ = ["EDGE_HOST", "DeliveryEngine", "EmptyRepository", "NotificationLog", "RepositoryView"]

EDGE_HOST = "localhost"
"""The ``edgeHost`` the emulator answers: no four dot-separated labels, so clients derive no edge cluster."""

_log = logging.getLogger(__name__)


class DeliveryEngine:
    """Decides Delivery API requests from the published rules and a repository view; keeps per-org cap counters.

    Args:
        fixtures: the fixture decisions (``API.md`` §6), compiled into an artifact (``ValueError`` naming the
            path when invalid). Ignored when ``rules`` is given.
        seed: makes the priority tie-break and the generated ``requestId``/``tntId`` values deterministic.
        clock: epoch seconds: the decisions' "now" and the activities' and offers' date constraints.
        rules: the published rules (shared with the artifact routes); by default built from ``fixtures``.
        geo: the IP -> geo table (shared with ``GET /v1/geo``).
        notifications: where received notifications are recorded.

    Thread-safe: cap counters and the random generators are guarded by one lock.
    """

    def __init__(
        self,
        fixtures: Mapping[str, Any] | None = None,
        *,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
        rules: Rules | None = None,
        geo: GeoTable | None = None,
        notifications: NotificationLog | None = None,
    ) -> None:
        self.rules = rules if rules is not None else Rules(fixtures=fixtures, clock=clock)
        self.geo = geo if geo is not None else GeoTable()
        self.notifications = notifications if notifications is not None else NotificationLog()
        self._clock = clock
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._id_rng = None if seed is None else random.Random(f"ids:{seed}")
        self._counters: dict[str, CapCounters] = {}

    def reset_counters(self) -> None:
        """Forget every counted impression (all organizations) and every recorded notification."""
        with self._lock:
            self._counters.clear()
        self.notifications.clear()

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
        except BadRequest as exc:
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
            raise BadRequest("The 'imsOrgId' query parameter is required")
        session_id = query.get("sessionId")
        if not isinstance(session_id, str) or not session_id:
            raise BadRequest("The 'sessionId' query parameter is required")
        if isinstance(body, (bytes, bytearray)):
            try:
                body = json.loads(body)
            except ValueError:
                raise BadRequest("The request body must be valid JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object (a DeliveryRequest)")
        request = parse(body)
        published = self.rules.current

        visitor_id = dict(request.visitor_id)
        engine_body = dict(body)
        engine_body["requestId"] = request.request_id or self._new_uuid()
        if request.tnt_id is None:
            visitor_id["tntId"] = self._new_uuid()  # no ".<cluster>_<n>" suffix: see API.md §6
            if not _identified(request.visitor_id):
                engine_body["id"] = visitor_id  # the engine allocates with the generated tntId
        _with_indices(engine_body, request)
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
            client=client_from_host(host) or (client if isinstance(client, str) and client else published.client),
            host=host,
            decider=RepositoryDecider(repository, self._clock(), counters, self._lock, self._rng)
            if needs_repository
            else None,
        )
        self._record_notifications(request, org, session_id, counters, visitor)
        try:
            decided = decide(
                published, engine_body, now=self._clock(), session_id=session_id, geo=self.geo, client=call.client
            )
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

        response: dict[str, Any] = {
            "status": 200,
            "requestId": engine_body["requestId"],
            "client": call.client,
            "id": visitor_id,
            "edgeHost": EDGE_HOST,
        }
        for mode in ("execute", "prefetch"):
            section = decided.get(mode)
            if not isinstance(section, dict):
                continue
            details = request.execute_mboxes if mode == "execute" else request.prefetch_mboxes
            mboxes = section.get("mboxes")
            if details and isinstance(mboxes, list):
                section["mboxes"] = [
                    self._mbox(call, detail, located, prefetch=mode == "prefetch")
                    for detail, located in zip(details, mboxes, strict=False)
                ]
            for key in ("pageLoad", "views"):
                located_list = section.get(key)
                for located in located_list if isinstance(located_list, list) else [located_list]:
                    if isinstance(located, dict):
                        self._engine_location(call, located)
            out = {k: v for k, v in section.items() if v not in (None, [])}
            if out:
                response[mode] = out
        if request.notifications:
            response["notifications"] = [{"id": n["id"]} for n in request.notifications]
        return response

    def _record_notifications(
        self, request: ParsedRequest, org: str, session_id: str, counters: CapCounters, visitor: str
    ) -> None:
        """Record what was received; a display notification counts one impression per distinct prefetched
        repository-offer token (caps)."""
        if not request.notifications:
            return
        received = round(self._clock() * 1000)
        self.notifications.record(
            [
                {
                    "receivedAt": received,
                    "imsOrgId": org,
                    "sessionId": session_id,
                    "requestId": request.request_id,
                    "id": dict(request.visitor_id),
                    "notification": notification,
                }
                for notification in request.notifications
            ]
        )
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

    def _engine_location(self, call: _Call, located: dict[str, Any]) -> dict[str, Any]:
        """An engine-decided location as a server answers it: server-side tokens, the A4T payload."""
        options = _options(located)
        for option in options:
            tokens = option.get("responseTokens")
            if isinstance(tokens, dict) and "activity.decisioningMethod" in tokens:
                tokens["activity.decisioningMethod"] = "server-side"
        if options and call.request.client_side:
            tokens = options[0].get("responseTokens") or {}
            activity, experience = tokens.get("activity.id"), tokens.get("experience.id")
            if activity is not None and experience is not None:
                located["analytics"] = {"payload": {"pe": "tnt", "tnta": f"{activity}:{experience}:0|2"}}
        return located

    def _mbox(self, call: _Call, detail: Detail, located: Any, *, prefetch: bool) -> dict[str, Any]:
        name = detail.name or ""
        decision = None
        if call.decider is not None and call.decider.has_activity(name):
            decision = call.decider.decide(name, detail.parameters, detail.profile, call.visitor, count=not prefetch)
        if decision is None:
            out = located if isinstance(located, dict) else {"index": detail.index, "name": name}
            return self._engine_location(call, out)
        return self._repository_mbox(call, detail, decision, prefetch=prefetch)

    def _repository_mbox(self, call: _Call, detail: Detail, decision: Decision, *, prefetch: bool) -> dict[str, Any]:
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
        out: dict[str, Any] = {"index": detail.index, "name": detail.name or "", "options": [option]}
        if call.request.client_side:
            tnta = f"{stable_int(str(activity_id))}:{experience_id}:0|2"
            out["analytics"] = {"payload": {"pe": "tnt", "tnta": tnta}}
        if call.request.trace:
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
            out["trace"] = self._trace(call, detail, "prefetch" if prefetch else "execute", campaign)
        return out

    @staticmethod
    def _trace(call: _Call, detail: Detail, mode: str, campaign: dict[str, Any]) -> Any:
        details: dict[str, Any] = {"type": mode, "name": detail.name, "index": detail.index}
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
            "request": {"sessionId": call.session_id, "host": call.host, "mbox": details},
            "campaigns": [campaign],
        }
