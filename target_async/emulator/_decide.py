"""Repository offer decisions for the emulator's Delivery API, and shared wire helpers (stdlib only).

Everything here works on raw dicts in the wire formats (Delivery camelCase; repository ``xdm:`` keys and
``@id`` references); nothing is imported from the client side of ``target_async``.

Fixture ids (``stable_int``) and event tokens (``encode_token``) are used by ``_compile``, which turns the
fixtures into a rules artifact that the decision engine decides.

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

import base64
import hashlib
import json
import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

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


def clone_json(value: Any) -> Any:
    """Copy a JSON-like value (dicts and lists recursively); faster than ``copy.deepcopy`` for wire data."""
    if isinstance(value, dict):
        return {k: clone_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone_json(v) for v in value]
    return value


OPTION_TYPES = frozenset({"html", "json", "redirect", "dynamic", "actions"})
METRIC_TYPES = frozenset({"click", "display"})


def stable_int(text: str) -> int:
    """A stable 6-digit id (for fixture activities/offers and A4T payloads), from sha256."""
    return 100_000 + int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % 900_000


def encode_token(payload: Mapping[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_token(token: str) -> dict[str, Any] | None:
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def response_tokens(
    activity_id: object,
    activity_name: object,
    experience_id: int,
    experience_name: str,
    offer_id: object,
    offer_name: object,
    option_id: int,
) -> dict[str, Any]:
    return {
        "activity.id": activity_id,
        "activity.name": activity_name,
        "experience.id": experience_id,
        "experience.name": experience_name,
        "offer.id": offer_id,
        "offer.name": offer_name,
        "option.id": option_id,
        "activity.decisioningMethod": "server-side",
    }


# --------------------------------------------------------------------------------------------------- dates

_DT_RE = re.compile(
    r"\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))?\s*\Z"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_date_cache: dict[str, float | None] = {}


def parse_timestamp(value: object) -> float | None:
    """Parse an RFC 3339 / ISO 8601 date(-time) string to epoch seconds; ``None`` if it is not one.

    A missing offset means UTC; a date alone means midnight UTC. Python 3.10's ``fromisoformat`` rejects ``Z``
    and most fraction lengths, hence the small regex.
    """
    if not isinstance(value, str):
        return None
    try:
        return _date_cache[value]
    except KeyError:
        pass
    result: float | None = None
    m = _DT_RE.match(value)
    if m is not None:
        year, month, day, hh, mi, ss, frac, _z, sign, oh, om = m.groups()
        try:
            dt = datetime(
                int(year),
                int(month),
                int(day),
                int(hh or 0),
                int(mi or 0),
                int(ss or 0),
                int((frac or "0")[:6].ljust(6, "0")),
                tzinfo=timezone.utc,
            )
        except ValueError:
            dt = None
        if dt is not None:
            if sign is not None:
                offset = timedelta(hours=int(oh), minutes=int(om))
                dt = dt - offset if sign == "+" else dt + offset
            result = (dt - _EPOCH).total_seconds()
    if len(_date_cache) > 4096:
        _date_cache.clear()
    _date_cache[value] = result
    return result


def _within(obj: Mapping[str, Any], now: float) -> bool:
    """``xdm:startDate <= now <= xdm:endDate`` for the dates that are set (unparseable dates are ignored)."""
    start = parse_timestamp(obj.get("xdm:startDate"))
    if start is not None and now < start:
        return False
    end = parse_timestamp(obj.get("xdm:endDate"))
    return not (end is not None and now > end)


# ----------------------------------------------------------------------------------------------------- PQL
#
# Supported subset; anything else is "unparseable" and the offer QUALIFIES (real PQL needs a profile store):
#   expr    := conj ("or" conj)*          ("and" binds tighter than "or"; keywords are case-insensitive)
#   conj    := atom ("and" atom)*
#   atom    := "true" | "false" | path op literal
#   op      := "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
#   literal := "double" or 'single' quoted string | number | true | false
# An empty condition qualifies. Paths: ``profile.<attr>`` reads the mbox's ``profileParameters[<attr>]``;
# ``@{<schema>}.<attr>``, ``parameters.<attr>``, ``mbox.<attr>`` and a bare ``<attr>`` read
# ``parameters[<attr>]`` (flat keys, as on the wire). A missing attribute makes the comparison false.
# ``=``/``!=`` compare numerically against a number, as booleans against true/false, and as strings
# otherwise; the ordering operators need two numbers.

_PQL_TOKEN = re.compile(
    r"""(?:
        (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<num>-?\d+(?:\.\d+)?(?![\w.]))
      | (?P<op>==|!=|<=|>=|=|<|>)
      | (?P<path>@\{[^{}]*\}(?:\.[\w\-]+)+|[A-Za-z_][\w\-]*(?:\.[\w\-]+)*)
    )""",
    re.VERBOSE,
)
_UNESCAPE = re.compile(r"\\(.)")

_Clause = tuple[str, str, object] | bool  # (path, op, literal), or a constant
_Pql = list[list[_Clause]]  # disjunction of conjunctions
_pql_cache: dict[str, _Pql | None] = {}


def _tokenize(text: str) -> list[tuple[str, str]] | None:
    tokens: list[tuple[str, str]] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos == end:
            return tokens
        m = _PQL_TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            return None
        kind = m.lastgroup
        assert kind is not None
        tokens.append((kind, m.group(kind)))
        pos = m.end()


def _literal(kind: str, raw: str) -> tuple[bool, object]:
    if kind == "str":
        return True, _UNESCAPE.sub(r"\1", raw[1:-1])
    if kind == "num":
        return True, float(raw)
    if kind == "path" and raw.lower() in ("true", "false"):
        return True, raw.lower() == "true"
    return False, None


def parse_pql(text: str) -> _Pql | None:
    """Parse the supported PQL subset into disjunctive normal form; ``None`` when outside the subset."""
    cached = _pql_cache.get(text)
    if cached is not None or text in _pql_cache:
        return cached
    result = _parse_pql(text)
    if len(_pql_cache) > 4096:
        _pql_cache.clear()
    _pql_cache[text] = result
    return result


def _parse_pql(text: str) -> _Pql | None:
    tokens = _tokenize(text)
    if tokens is None:
        return None
    if not tokens:
        return [[True]]
    disjunction: _Pql = [[]]
    i, n = 0, len(tokens)
    while True:
        kind, raw = tokens[i]
        low = raw.lower() if kind == "path" else ""
        if low in ("true", "false"):
            disjunction[-1].append(low == "true")
            i += 1
        elif kind == "path" and low not in ("and", "or") and i + 2 < n and tokens[i + 1][0] == "op":
            ok, value = _literal(*tokens[i + 2])
            if not ok:
                return None
            disjunction[-1].append((raw, tokens[i + 1][1], value))
            i += 3
        else:
            return None
        if i == n:
            return disjunction
        kind, raw = tokens[i]
        if kind != "path" or raw.lower() not in ("and", "or") or i + 1 == n:
            return None
        if raw.lower() == "or":
            disjunction.append([])
        i += 1


def _lookup(path: str, parameters: Mapping[str, Any], profile: Mapping[str, Any]) -> object:
    if path.startswith("@{"):
        return parameters.get(path[path.index("}") + 2 :])
    head, _, rest = path.partition(".")
    if rest:
        if head == "profile":
            return profile.get(rest)
        if head in ("parameters", "mbox"):
            return parameters.get(rest)
    return parameters.get(path)


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _compare(actual: object, op: str, literal: object) -> bool:
    if actual is None:
        return False
    if op in ("=", "==", "!="):
        if isinstance(literal, bool):
            if isinstance(actual, bool):
                equal = actual is literal
            else:
                equal = str(actual).lower() == ("true" if literal else "false")
        elif isinstance(literal, float):
            number = _as_number(actual)
            equal = number is not None and number == literal
        else:
            equal = (actual if isinstance(actual, str) else json.dumps(actual)) == literal
        return equal if op != "!=" else not equal
    left, right = _as_number(actual), _as_number(literal)
    if left is None or right is None or isinstance(literal, bool):
        return False
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def evaluate_pql(text: object, parameters: Mapping[str, Any], profile: Mapping[str, Any]) -> bool:
    """Whether an eligibility rule's PQL qualifies for an mbox (subset above; unparseable qualifies)."""
    if not isinstance(text, str):
        return True
    parsed = parse_pql(text)
    if parsed is None:
        return True
    for conjunction in parsed:
        for clause in conjunction:
            if isinstance(clause, bool):
                if not clause:
                    break
            elif not _compare(_lookup(clause[0], parameters, profile), clause[1], clause[2]):
                break
        else:
            return True
    return False


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
                if placement_id is not None and _within(activity, self._now):
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
                if not _within(constraint, now):
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
