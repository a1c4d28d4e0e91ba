"""The decision engine: a ``DeliveryRequest`` decided from a compiled artifact, for one "now" and one geo.

Pure: no I/O, no clock of its own (the caller passes ``now``; ``time.time()`` when it does not), no client
code. One :class:`DecisionEngine` per (artifact, client); it holds nothing per visitor, so it can be shared by
every thread and task of a process.

The path of a call (on-device.md §3-§8): prepare the request (ids, request id), build the rule context once,
then for each requested mbox evaluate its rules in order (first match wins), for a requested page load every
global-mbox rule, for requested views every view rule; build the response models straight from the
consequences shaped at load time; make the display notifications (execute only) and the telemetry entry.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import attrs

from ..models import (
    DecisioningMethod,
    DeliveryRequest,
    DeliveryResponse,
    ExecuteResponse,
    MboxRequest,
    MboxResponse,
    Metric,
    Option,
    PageLoadResponse,
    PrefetchMboxResponse,
    PrefetchResponse,
    RequestDetails,
    TelemetryEntry,
    TelemetryFeatures,
    View,
    ViewRequest,
    VisitorId,
)
from ._artifact import CONTEXT_KEYS, Artifact, Rule, RuleSet
from ._call import ON_DEVICE, Decision, _Call, _copy_ids, _detail_wire, _hints, _host, _identified
from ._context import (
    geo_context,
    geo_response_tokens,
    has_geo,
    new_id,
    new_tnt_id,
    timing,
    valid_ip,
    visitor_key,
)
from ._trace import Tracer, trace_common
from ._url import url_context
from ._useragent import user_context

__all__ = ["ON_DEVICE", "Decision", "DecisionEngine"]


_ALL = CONTEXT_KEYS | {"*"}
_REQUEST_FIELDS = tuple(a.name for a in attrs.fields(DeliveryRequest))


class DecisionEngine:
    """Decides Delivery API requests from one compiled :class:`Artifact` for one Target client.

    Args:
        artifact: the compiled artifact (:func:`load_artifact`).
        client: the Target client code (part of every allocation hash and of the response).
        organization_id: the IMS organization id (kept for the caller; the engine does not need it).
    """

    __slots__ = ("_artifact", "client", "organization_id")

    def __init__(self, artifact: Artifact, *, client: str, organization_id: str | None = None) -> None:
        if not isinstance(artifact, Artifact):
            raise TypeError(f"artifact must be an Artifact (see load_artifact), not {type(artifact).__name__}")
        self._artifact = artifact
        self.client = client
        self.organization_id = organization_id

    @property
    def artifact(self) -> Artifact:
        """The artifact this engine decides from."""
        return self._artifact

    def __repr__(self) -> str:
        return f"DecisionEngine(client={self.client!r}, artifact={self._artifact!r})"

    # --- routing ----------------------------------------------------------------------------------------

    def remote_dependencies(self, request: DeliveryRequest) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The (mboxes, views) of ``request`` this artifact cannot decide, each sorted (§1).

        The requested mbox names count, plus the global mbox when a page load is requested; an mbox is
        remote when the artifact lists it as remote or not as local. A request whose views have no name
        depends on every remote view; otherwise a named view is remote when listed as remote or not as local.
        """
        art = self._artifact
        remote: set[str] = set()
        views: set[str] = set()
        for section in (request.execute, request.prefetch):
            if section is None:
                continue
            if section.page_load is not None:
                glob = art.global_mbox
                if glob in art.remote_mboxes or glob not in art.local_mboxes:
                    remote.add(glob)
            for mbox in section.mboxes or ():
                name = mbox.name
                if name and (name in art.remote_mboxes or name not in art.local_mboxes):
                    remote.add(name)
        prefetch = request.prefetch
        if prefetch is not None and prefetch.views:
            named = [v.name for v in prefetch.views if v.name]
            if not named:
                views.update(art.remote_views)
            else:
                views.update(n for n in named if n in art.remote_views or n not in art.local_views)
        return tuple(sorted(remote)), tuple(sorted(views))

    def geo_lookup_ip(self, request: DeliveryRequest) -> str | None:
        """The IP address to locate before deciding, or ``None`` when no geo lookup is due (§9).

        A lookup is due when the artifact has geo targeting on, the request's geo has none of latitude,
        longitude, countryCode, stateCode, city, and it has a valid IPv4/IPv6 ``ipAddress``. With no (or an
        invalid) address there is no lookup: the CDN would locate the server, not the visitor.
        """
        if not self._artifact.geo_targeting_enabled:
            return None
        context = request.context
        geo = context.geo if context is not None else None
        if geo is None or has_geo(geo):
            return None
        ip = geo.ip_address
        return ip if valid_ip(ip) else None

    # --- deciding -----------------------------------------------------------------------------------------

    def decide(
        self,
        request: DeliveryRequest,
        *,
        now: float | None = None,
        geo: Mapping[str, Any] | None = None,
        session_id: str | None = None,
        location_hint: str | None = None,
        property_token: str | None = None,
        trace: Mapping[str, Any] | None = None,
        telemetry: bool = True,
    ) -> Decision:
        """Decide ``request`` on the device.

        Args:
            request: the Delivery API request (not changed).
            now: the time of the call in seconds since the epoch (``time.time()`` when ``None``); every
                timestamp of the call is this instant, in milliseconds.
            geo: a geo lookup's result (``latitude``, ``longitude``, ``countryCode``, ``stateCode``, ``city``)
                completing the request's own geo.
            session_id: the session of the call (shown in the trace).
            location_hint: the edge location hint, appended to a generated ``tntId``.
            property_token: the client's ``at_property`` token, used when the request names none.
            trace: the artifact retrieval facts for a traced request (``artifactLocation``, ``pollingInterval``,
                ``pollingHalted``, ``artifactRetrievalCount``, ``artifactLastRetrieved``).
            telemetry: whether to make a telemetry entry.
        """
        started = time.perf_counter()
        if now is None:
            now = time.time()
        now_ms = round(now * 1000)
        art = self._artifact
        prepared = self._prepare(request, location_hint)
        prop = prepared.property
        token = (prop.token if prop is not None and prop.token else None) or property_token
        remote_mboxes, remote_views = self.remote_dependencies(prepared)
        traced = prepared.trace is not None
        call = _Call(self.client, token, now_ms, traced)
        call.visitor = visitor_key(prepared.id)
        execute = prepared.execute
        prefetch = prepared.prefetch

        # what the rules of this request read, so that unread parts of the context are not built
        reads: set[str] = set()
        if traced:
            reads = set(_ALL)
        else:
            for section in (execute, prefetch):
                if section is None:
                    continue
                if section.page_load is not None:
                    found = art.mboxes.get(art.global_mbox)
                    if found is not None:
                        reads |= found.reads
                for mbox in section.mboxes or ():
                    found = art.mboxes.get(mbox.name) if mbox.name else None
                    if found is not None:
                        reads |= found.reads
            if prefetch is not None and prefetch.views:
                for found in art.views.values():
                    reads |= found.reads
            if not reads <= CONTEXT_KEYS:
                reads = set(_ALL)
        self._base_context(call, prepared, now, now_ms, geo, reads)
        if traced:
            try:
                call.common = trace_common(self.client, art, prepared, session_id, trace, _host)
            except Exception:
                call.common = None
        frozen_reads = frozenset(reads)

        execute_response = None
        if execute is not None:
            execute_response = ExecuteResponse()
            if execute.page_load is not None:
                execute_response.page_load = self._page_load(call, execute.page_load, "execute", frozen_reads)
            if execute.mboxes:
                execute_response.mboxes = [self._mbox(call, mbox, True, frozen_reads) for mbox in execute.mboxes]
        prefetch_response = None
        if prefetch is not None:
            prefetch_response = PrefetchResponse()
            if prefetch.views:
                prefetch_response.views = self._views(call, prefetch.views, frozen_reads)
            if prefetch.page_load is not None:
                prefetch_response.page_load = self._page_load(call, prefetch.page_load, "prefetch", frozen_reads)
            if prefetch.mboxes:
                prefetch_response.mboxes = [
                    self._mbox(call, mbox, False, frozen_reads)  # type: ignore[misc]
                    for mbox in prefetch.mboxes
                ]

        ids = prepared.id
        response = DeliveryResponse(
            status=206 if remote_mboxes or remote_views else 200,
            request_id=prepared.request_id,
            id=_copy_ids(ids) if ids is not None else None,
            client=self.client,
            execute=execute_response,
            prefetch=prefetch_response,
        )
        entry = None
        if telemetry:
            entry = TelemetryEntry(
                request_id=prepared.request_id,
                timestamp=now_ms,
                execution=round((time.perf_counter() - started) * 1000, 3),
                features=TelemetryFeatures(
                    decisioning_method=DecisioningMethod.ON_DEVICE,
                    execute_mbox_count=len(execute.mboxes or ()) if execute is not None else 0,
                    execute_page_load=execute is not None and execute.page_load is not None,
                    prefetch_mbox_count=len(prefetch.mboxes or ()) if prefetch is not None else 0,
                    prefetch_page_load=prefetch is not None and prefetch.page_load is not None,
                    prefetch_view_count=len(prefetch.views or ()) if prefetch is not None else 0,
                ),
            )
        return Decision(
            request=prepared,
            response=response,
            remote_mboxes=remote_mboxes,
            remote_views=remote_views,
            notifications=call.notifications,
            telemetry=entry,
        )

    # --- the parts ----------------------------------------------------------------------------------------

    @staticmethod
    def _prepare(request: DeliveryRequest, location_hint: str | None) -> DeliveryRequest:
        ids = request.id
        changes: dict[str, Any] = {}
        if not request.request_id:
            changes["request_id"] = new_id()
        if not _identified(ids):
            tnt_id = new_tnt_id(location_hint)
            changes["id"] = attrs.evolve(ids, tnt_id=tnt_id) if ids is not None else VisitorId(tnt_id=tnt_id)
        kw = {name: getattr(request, name) for name in _REQUEST_FIELDS}  # a shallow copy: 40% faster than evolve
        kw.update(changes)
        return DeliveryRequest(**kw)

    def _base_context(
        self,
        call: _Call,
        request: DeliveryRequest,
        now: float,
        now_ms: int,
        geo: Mapping[str, Any] | None,
        reads: set[str],
    ) -> None:
        current_time, current_day = timing(now)
        base: dict[str, Any] = {
            "current_timestamp": now_ms,
            "current_time": current_time,
            "current_day": current_day,
        }
        context = request.context
        if "user" in reads:
            ua = context.user_agent if context is not None else None
            hints = context.client_hints if context is not None else None
            base["user"] = user_context(ua or "", _hints(hints))
        address = context.address if context is not None else None
        if "page" in reads:
            url = address.url if address is not None else None
            base["page"] = url_context(url)
        if "referring" in reads:
            ref = address.referring_url if address is not None else None
            base["referring"] = url_context(ref)
        geo_ctx = geo_context(context.geo if context is not None else None, geo)
        base["geo"] = geo_ctx
        call.base = base
        call.geo = geo_ctx
        call.geo_tokens = geo_response_tokens(self._artifact.response_tokens, geo_ctx) if geo_ctx else None

    def _tracer(self, call: _Call, kind: str, detail: dict[str, Any]) -> Tracer | None:
        if call.common is None:
            return None
        return Tracer(kind, detail, self._artifact.meta.get("environment"))

    def _finish_trace(self, call: _Call, tracer: Tracer | None) -> dict[str, Any] | None:
        if tracer is None or call.common is None:
            return None
        try:
            return tracer.result(call.common)
        except Exception as exc:  # a traced request never fails because of its trace
            return {"clientCode": self.client, "error": f"the trace could not be built: {exc!r}"}

    def _mbox(self, call: _Call, mbox: MboxRequest, execute: bool, reads: frozenset[str]) -> MboxResponse:
        name = mbox.name
        cls = MboxResponse if execute else PrefetchMboxResponse
        tracer = None
        if call.common is not None:
            try:
                tracer = self._tracer(call, "mbox", _detail_wire(mbox, type="execute" if execute else "prefetch"))
            except Exception:
                tracer = None
        # a remote mbox's rules in the artifact are still decided here (the 206 lists it for the server)
        rules: RuleSet | None = self._artifact.mboxes.get(name) if name else None
        matched: list[Rule] = []
        if rules is not None:
            ctx = call.rule_context(mbox, reads)
            matched = call.evaluate(rules.visible(call.token), ctx, True, tracer, None)
        if not matched:
            out = cls(index=mbox.index, name=name)
        else:
            rule = matched[0]
            shaped = rule.execute if execute else rule.prefetch
            detail = {"name": name, "index": mbox.index} if any(o.macros for o in shaped.options) else None
            out = cls(
                index=mbox.index,
                name=name,
                options=shaped.build_options(call.geo_tokens, rule.meta, detail, mbox.parameters),
                metrics=shaped.build_metrics(),
            )
            if execute and name:
                call.notify(name, shaped, rule, tracer)
        if tracer is not None:
            out.trace = self._finish_trace(call, tracer)
        return out

    def _page_load(self, call: _Call, page_load: RequestDetails, mode: str, reads: frozenset[str]) -> PageLoadResponse:
        art = self._artifact
        name = art.global_mbox
        execute = mode == "execute"
        tracer = None
        if call.common is not None:
            try:
                tracer = self._tracer(call, "mbox", _detail_wire(page_load, name=name, type=mode))
            except Exception:
                tracer = None
        rules = art.mboxes.get(name)
        out = PageLoadResponse()
        if rules is not None:
            ctx = call.rule_context(page_load, reads)
            matched = call.evaluate(rules.visible(call.token), ctx, False, tracer, set())
            if matched:
                options: list[Option] = []
                metrics: list[Metric] = []
                metric_tokens: set[str | None] = set()
                detail = {"name": name}
                for rule in matched:
                    shaped = rule.execute if execute else rule.prefetch
                    options += shaped.build_options(call.geo_tokens, rule.meta, detail, page_load.parameters)
                    for metric in shaped.build_metrics() or ():
                        if metric.event_token not in metric_tokens:
                            metric_tokens.add(metric.event_token)
                            metrics.append(metric)
                    if execute:
                        call.notify(name, shaped, rule, tracer)
                out.options = options
                out.metrics = metrics or None
        if tracer is not None:
            out.trace = self._finish_trace(call, tracer)
        return out

    def _views(self, call: _Call, requested: list[ViewRequest], reads: frozenset[str]) -> list[View]:
        art = self._artifact
        seen: set[str] = set()
        results: dict[str, View] = {}
        for view in requested:
            if view.name:
                names = [view.name] if view.name in art.views else []
            else:
                names = list(art.views)
            ctx = call.rule_context(view, reads)
            for set_name in names:
                tracer = None
                if call.common is not None:
                    try:
                        tracer = self._tracer(call, "view", _detail_wire(view, name=set_name, type="prefetch"))
                    except Exception:
                        tracer = None
                matched = call.evaluate(art.views[set_name].visible(call.token), ctx, False, tracer, seen)
                for rule in matched:
                    view_name = rule.view_name or set_name
                    out = results.get(view_name)
                    if out is None:
                        out = results[view_name] = View(name=view_name, options=[], metrics=[])
                        if rule.view_key is not None:
                            out.key = rule.view_key
                    detail = {"name": view_name, "key": view.key}
                    out.options += rule.prefetch.build_options(call.geo_tokens, rule.meta, detail, view.parameters)  # type: ignore[operator]
                    out.metrics += rule.prefetch.build_metrics() or []  # type: ignore[operator]
                if tracer is not None and matched:
                    for rule in matched:
                        out = results[rule.view_name or set_name]
                        if out.trace is None:
                            out.trace = self._finish_trace(call, tracer)
        return [results[name] for name in sorted(results)]
