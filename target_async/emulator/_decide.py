"""Repository offer decisions for the emulator's Delivery API (stdlib only).

Everything here works on raw dicts in the wire formats (Delivery camelCase; repository ``xdm:`` keys and
``@id`` references); nothing is imported from the client side of ``target_async``.

Dates and the PQL subset live in ``_pql``; ids and event tokens in ``_tokens`` (shared with ``_compile``, which
turns the fixtures into a rules artifact that the decision engine decides). Both are re-exported here.

**Repository** (``RepositoryDecider``): an mbox whose name equals the ``xdm:name`` of an ``offer-placement``
used by a **live** ``offer-activity`` is decided by that activity:

- *Live*: ``xdm:status == "live"`` and, when set, ``xdm:startDate <= now <= xdm:endDate``. When several live
  activities use placements of that name, the first one in the repository view's order that yields an offer
  (or a usable fallback) decides.
- *Candidates*: the personalized offers the activity's ``xdm:filter`` selects (``xdm:filterType`` ``offers``:
  ``ids`` are offer ``@id``s; ``anyTags``: the offer's ``xdm:tags`` hold at least one of the ``ids``;
  ``allTags``: all of them, so an empty ``ids`` selects every offer; another type selects none) that are
  ``approved``, have a representation for the activity's placement, and whose ``xdm:selectionConstraint``
  start/end dates (inclusive, when set; unparseable dates are ignored) contain now.
- *Eligibility rules*: PQL stays opaque except for a tiny subset, see ``evaluate_pql``.
- *Caps*: ``xdm:cappingConstraint.xdm:globalCap`` counts the offer's impressions across all visitors of the
  organization, ``xdm:profileCap`` per visitor; an offer whose count has reached a cap is skipped. An
  impression is counted **once**: when an ``execute`` decision returns the offer, or when a ``display``
  notification carries the event token of a *prefetched* option (prefetch itself never counts). Fallback
  offers are never capped.
- *Ranking*: the highest ``xdm:rank.xdm:priority`` (default 0) wins; ties are broken by the engine's
  (optionally seeded) ``random.Random``.
- *Nothing qualifies*: the activity's ``xdm:fallback`` offer, when it has a representation for the placement
  (its status is not checked).
- *Option content* (``option_from_representation``): the first component of the placement's representation
  gives, in this order, ``xdm:content``, ``xdm:deliveryURL``, ``xdm:linkURL``, ``xdm:copyline``,
  ``repo:resolveURL``. Dict/list content, a string that parses as a JSON object, or any JSON string when
  ``dc:format`` is ``application/json``, makes a ``json`` option; anything else is an ``html`` option whose
  content is the string (the URL itself for an image link). No usable component gives ``html`` ``""``.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._pql import evaluate_pql, parse_pql, parse_timestamp, within
from ._tokens import (
    METRIC_TYPES,
    OPTION_TYPES,
    clone_json,
    decode_token,
    encode_token,
    response_tokens,
    stable_int,
)

__all__ = [
    "ACTIVITY_SCHEMA",
    "FALLBACK_SCHEMA",
    "FILTER_SCHEMA",
    "METRIC_TYPES",
    "OFFER_SCHEMA",
    "OPTION_TYPES",
    "PLACEMENT_SCHEMA",
    "RULE_SCHEMA",
    "CapCounters",
    "Decision",
    "EmptyRepository",
    "RepositoryDecider",
    "RepositoryView",
    "clone_json",
    "decode_token",
    "encode_token",
    "evaluate_pql",
    "option_from_representation",
    "parse_pql",
    "parse_timestamp",
    "response_tokens",
    "stable_int",
]

_NS = "https://ns.adobe.com/experience/offer-management/"
ACTIVITY_SCHEMA = _NS + "offer-activity"
PLACEMENT_SCHEMA = _NS + "offer-placement"
OFFER_SCHEMA = _NS + "personalized-offer"
FALLBACK_SCHEMA = _NS + "fallback-offer"
FILTER_SCHEMA = _NS + "offer-filter"
RULE_SCHEMA = _NS + "eligibility-rule"


class RepositoryView(Protocol):
    """What the Delivery engine reads: the live instances of one schema in the org's ``prod`` sandbox."""

    def instances(self, schema_id: str) -> list[dict[str, Any]]:
        """Return the ``_instance`` dicts (each with ``"@id"``) of every live instance of ``schema_id``.

        ``schema_id`` is unversioned, e.g. ``"https://ns.adobe.com/experience/offer-management/offer-activity"``.
        """
        ...


class EmptyRepository:
    """A ``RepositoryView`` with no instances (fixture-only engines and tests)."""

    def instances(self, schema_id: str) -> list[dict[str, Any]]:
        return []


# ------------------------------------------------------------------------------------------------ content


def option_from_representation(representation: Mapping[str, Any]) -> tuple[str, Any]:
    """The ``(type, content)`` of the Delivery option for a representation (rules in the module docstring)."""
    components = representation.get("xdm:components")
    component = next((c for c in components if isinstance(c, dict)), None) if isinstance(components, list) else None
    if component is None:
        return "html", ""
    fmt = component.get("dc:format")
    content = component.get("xdm:content")
    if isinstance(content, (dict, list)):
        return "json", clone_json(content)
    if content is not None and not isinstance(content, str):
        return "json", content
    if isinstance(content, str):
        is_json_format = isinstance(fmt, str) and fmt.split(";", 1)[0].strip().lower() == "application/json"
        if is_json_format or content.lstrip().startswith("{"):
            try:
                parsed = json.loads(content)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict) or (is_json_format and parsed is not None):
                return "json", parsed
        return "html", content
    for key in ("xdm:deliveryURL", "xdm:linkURL", "xdm:copyline", "repo:resolveURL"):
        value = component.get(key)
        if isinstance(value, str):
            return "html", value
    return "html", ""


# --------------------------------------------------------------------------------------------------- caps


@dataclass
class CapCounters:
    """One organization's impressions: per offer (global cap) and per (offer, visitor) (profile cap)."""

    per_offer: dict[str, int] = field(default_factory=dict)
    per_profile: dict[tuple[str, str], int] = field(default_factory=dict)

    def count(self, offer_id: str, visitor: str) -> None:
        self.per_offer[offer_id] = self.per_offer.get(offer_id, 0) + 1
        key = (offer_id, visitor)
        self.per_profile[key] = self.per_profile.get(key, 0) + 1


def _cap(constraint: object, key: str) -> int | None:
    if not isinstance(constraint, dict):
        return None
    value = constraint.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value


# ------------------------------------------------------------------------------------------------ deciding


@dataclass(frozen=True)
class Decision:
    """The outcome of deciding one mbox with a repository activity."""

    activity: Mapping[str, Any]
    offer: Mapping[str, Any]  # the personalized offer, or the fallback offer
    placement_id: str
    fallback: bool
    option_type: str
    content: Any
    candidates: tuple[str, ...]  # @ids that passed the static checks (filter, status, placement, dates)
    qualified: tuple[str, ...]  # @ids that also passed eligibility and caps


@dataclass(slots=True)
class _Candidate:
    offer: Mapping[str, Any]
    offer_id: str
    representation: Mapping[str, Any]
    priority: int
    rule_id: str | None
    global_cap: int | None
    profile_cap: int | None


def _ref(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


def _representation_for(offer: Mapping[str, Any], placement_id: str) -> Mapping[str, Any] | None:
    representations = offer.get("xdm:representations")
    if not isinstance(representations, list):
        return None
    for rep in representations:
        if isinstance(rep, dict) and rep.get("xdm:placement") == placement_id:
            return rep
    return None


def _by_id(instances: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for inst in instances:
        if isinstance(inst, dict):
            ident = inst.get("@id")
            if isinstance(ident, str):
                out.setdefault(ident, inst)
    return out


class RepositoryDecider:
    """Decides mboxes from one ``RepositoryView`` for the duration of ONE Delivery request.

    Each schema's instance list is fetched at most once, lazily, and indexed; per-activity candidate lists are
    cached, so a request costs O(request size + instances of the schemas it actually needs).
    """

    def __init__(
        self,
        repository: RepositoryView,
        now: float,
        counters: CapCounters,
        lock: threading.Lock,
        rng: random.Random,
    ) -> None:
        self._repo = repository
        self._now = now
        self._counters = counters
        self._lock = lock
        self._rng = rng
        self._mbox_index: dict[str, list[tuple[Mapping[str, Any], str]]] | None = None
        self._tables: dict[str, dict[str, dict[str, Any]]] = {}
        self._offer_list: list[dict[str, Any]] | None = None
        self._static: dict[str, tuple[_Candidate, ...]] = {}

    # -- indexes ------------------------------------------------------------------------------------------

    def _table(self, schema: str) -> dict[str, dict[str, Any]]:
        table = self._tables.get(schema)
        if table is None:
            if schema == OFFER_SCHEMA:
                table = _by_id(self._offers())
            else:
                table = _by_id(self._repo.instances(schema))
            self._tables[schema] = table
        return table

    def _offers(self) -> list[dict[str, Any]]:
        if self._offer_list is None:
            self._offer_list = [o for o in self._repo.instances(OFFER_SCHEMA) if isinstance(o, dict)]
        return self._offer_list

    def _activities_by_mbox(self) -> dict[str, list[tuple[Mapping[str, Any], str]]]:
        if self._mbox_index is None:
            live: list[tuple[Mapping[str, Any], str]] = []
            for activity in self._repo.instances(ACTIVITY_SCHEMA):
                if not isinstance(activity, dict) or activity.get("xdm:status") != "live":
                    continue
                placement_id = _ref(activity, "xdm:placement")
                if placement_id is not None and within(activity, self._now):
                    live.append((activity, placement_id))
            index: dict[str, list[tuple[Mapping[str, Any], str]]] = {}
            if live:
                placements = self._table(PLACEMENT_SCHEMA)
                for live_activity, placement_id in live:
                    placement = placements.get(placement_id)
                    name = placement.get("xdm:name") if placement is not None else None
                    if isinstance(name, str):
                        index.setdefault(name, []).append((live_activity, placement_id))
            self._mbox_index = index
        return self._mbox_index

    def has_activity(self, mbox_name: str) -> bool:
        return mbox_name in self._activities_by_mbox()

    def _candidates(self, activity: Mapping[str, Any], placement_id: str) -> tuple[_Candidate, ...]:
        key = f"{activity.get('@id')}\x1f{placement_id}"
        cached = self._static.get(key)
        if cached is not None:
            return cached
        filter_id = _ref(activity, "xdm:filter")
        offer_filter = self._table(FILTER_SCHEMA).get(filter_id) if filter_id else None
        filter_type = offer_filter.get("xdm:filterType") if offer_filter is not None else None
        raw_ids = offer_filter.get("ids") if offer_filter is not None else None
        ids = [i for i in raw_ids if isinstance(i, str)] if isinstance(raw_ids, list) else []
        pool: list[dict[str, Any]]
        if filter_type == "offers":
            offers = self._table(OFFER_SCHEMA)
            pool = [offers[i] for i in dict.fromkeys(ids) if i in offers]
        elif filter_type in ("anyTags", "allTags"):
            wanted = frozenset(ids)
            any_tag = filter_type == "anyTags"
            pool = []
            for offer in self._offers():
                if offer.get("xdm:status") != "approved":  # cheap test first: skip most drafts early
                    continue
                tags = offer.get("xdm:tags")
                if not isinstance(tags, list):
                    tags = []
                if any_tag:
                    if any(t in wanted for t in tags if isinstance(t, str)):
                        pool.append(offer)
                elif wanted.issubset(t for t in tags if isinstance(t, str)):
                    pool.append(offer)
        else:
            pool = []
        now = self._now
        candidates: list[_Candidate] = []
        for offer in pool:
            offer_id = offer.get("@id")
            if offer.get("xdm:status") != "approved" or not isinstance(offer_id, str):
                continue
            rep = _representation_for(offer, placement_id)
            if rep is None:
                continue
            constraint = offer.get("xdm:selectionConstraint")
            rule_id: str | None = None
            if isinstance(constraint, dict) and constraint:
                if not within(constraint, now):
                    continue
                rule_id = _ref(constraint, "xdm:eligibilityRule")
            rank = offer.get("xdm:rank")
            priority = rank.get("xdm:priority") if isinstance(rank, dict) else 0
            if isinstance(priority, bool) or not isinstance(priority, int):
                priority = 0
            capping = offer.get("xdm:cappingConstraint")
            global_cap = profile_cap = None
            if isinstance(capping, dict) and capping:
                global_cap, profile_cap = _cap(capping, "xdm:globalCap"), _cap(capping, "xdm:profileCap")
            candidates.append(_Candidate(offer, offer_id, rep, priority, rule_id, global_cap, profile_cap))
        result = tuple(candidates)
        self._static[key] = result
        return result

    def _eligible(self, candidate: _Candidate, parameters: Mapping[str, Any], profile: Mapping[str, Any]) -> bool:
        if candidate.rule_id is None:
            return True
        rule = self._table(RULE_SCHEMA).get(candidate.rule_id)
        if rule is None:  # a dangling reference: the repository should have refused it; stay lenient
            return True
        condition = rule.get("xdm:condition")
        return evaluate_pql(condition.get("xdm:value") if isinstance(condition, dict) else None, parameters, profile)

    # -- deciding -----------------------------------------------------------------------------------------

    def decide(
        self,
        mbox_name: str,
        parameters: Mapping[str, Any],
        profile: Mapping[str, Any],
        visitor: str,
        *,
        count: bool,
    ) -> Decision | None:
        """Decide ``mbox_name`` for ``visitor``; ``count=True`` (execute) counts the impression for caps."""
        for activity, placement_id in self._activities_by_mbox().get(mbox_name, ()):
            candidates = self._candidates(activity, placement_id)
            eligible = [c for c in candidates if self._eligible(c, parameters, profile)]
            chosen: _Candidate | None = None
            with self._lock:
                per_offer, per_profile = self._counters.per_offer, self._counters.per_profile
                qualified = [
                    c
                    for c in eligible
                    if (c.global_cap is None or per_offer.get(c.offer_id, 0) < c.global_cap)
                    and (c.profile_cap is None or per_profile.get((c.offer_id, visitor), 0) < c.profile_cap)
                ]
                if qualified:
                    best = max(c.priority for c in qualified)
                    top = [c for c in qualified if c.priority == best]
                    chosen = top[0] if len(top) == 1 else self._rng.choice(top)
                    if count:
                        self._counters.count(chosen.offer_id, visitor)
            ids = tuple(c.offer_id for c in candidates)
            if chosen is not None:
                option_type, content = option_from_representation(chosen.representation)
                return Decision(
                    activity=activity,
                    offer=chosen.offer,
                    placement_id=placement_id,
                    fallback=False,
                    option_type=option_type,
                    content=content,
                    candidates=ids,
                    qualified=tuple(c.offer_id for c in qualified),
                )
            fallback_id = _ref(activity, "xdm:fallback")
            fallback = self._table(FALLBACK_SCHEMA).get(fallback_id) if fallback_id else None
            rep = _representation_for(fallback, placement_id) if fallback is not None else None
            if fallback is not None and rep is not None:
                option_type, content = option_from_representation(rep)
                return Decision(
                    activity=activity,
                    offer=fallback,
                    placement_id=placement_id,
                    fallback=True,
                    option_type=option_type,
                    content=content,
                    candidates=ids,
                    qualified=(),
                )
        return None
