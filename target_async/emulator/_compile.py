"""The simple fixtures format (``API.md`` §6) compiled into a Target rules artifact (stdlib only).

``compile_fixtures(fixtures, client=..., organization_id=...)`` returns the artifact as a dict, in the shape
Target's CDN serves (``on-device.md`` §2), so that the emulator decides fixtures exactly as it decides a real
artifact: through the project's decision engine, server-side and on-device alike.

Fixtures: ``{"mboxes": {name: {"experiences": [...]}}, "views": {name: {...}}, "pageLoad": {...}}``; unknown
top-level keys are ignored. An experience is ``{"name", "weight", "options": [{"type", "content"}]}``;
``weight`` defaults to 1 and 0 excludes the experience; ``type`` defaults to ``json`` for dict/list content,
else ``html``. Extensions: an option may carry ``responseTokens`` (added to its experience's rule ``meta`` and
to the artifact's ``responseTokens``, so the engine returns them), an experience ``metrics``
(``[{"type": "click", "selector": ...}]``, given event tokens), and a location ``"remote": true``: the
location is then left out of the artifact's rules and listed in ``remoteMboxes``/``remoteViews`` (an
on-device client must ask the server, which decides it from the fixtures).

How a location compiles (as Target builds an A/B activity): one activity per location (a stable 6-digit
``activityId``), one rule per experience of non-zero weight, in order, whose condition is the experience's
range of Target's allocation (``murmur3`` of ``"{client}.{activityId}.{visitorId}.0"``, a number in
``[0, 100)`` with two decimals): the cumulative weights scaled to 100 and rounded to two decimals, the first
range ``{"and": [{"<=": [0, alloc]}, {">=": [hi, alloc]}]}``, the next ones ``{"<": [lo, alloc]}`` and
``{">=": [hi, alloc]}``, the last ending at 100. The rule's ``meta`` carries the activity, experience, location,
offer and option ids and names; the consequence carries the options (each with an event token) and metrics.
Views and pageLoad compile the same way (pageLoad as the rules of the ``globalMbox``, ``target-global-mbox``),
which is always listed as local, so a page load is decided on the device even without fixtures.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ._tokens import METRIC_TYPES, OPTION_TYPES, clone_json, encode_token, stable_int

__all__ = ["ARTIFACT_VERSION", "GLOBAL_MBOX", "RESPONSE_TOKENS", "compile_fixtures", "empty_artifact"]

ARTIFACT_VERSION = "1.0.0"
GLOBAL_MBOX = "target-global-mbox"
RESPONSE_TOKENS = (
    "activity.id",
    "activity.name",
    "experience.id",
    "experience.name",
    "offer.id",
    "offer.name",
    "option.id",
    "option.name",
)
_KINDS = {"mboxes": "mbox", "views": "view"}


def _error(path: str, problem: str) -> ValueError:
    return ValueError(f"invalid Delivery fixtures: {path} {problem}")


def _allocation_condition(lo: float, hi: float) -> dict[str, Any]:
    alloc = {"var": "allocation"}
    low = {"<=": [0, alloc]} if lo <= 0 else {"<": [_number(lo), alloc]}
    return {"and": [low, {">=": [_number(hi), alloc]}]}


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


class _Compiler:
    def __init__(self) -> None:
        self.tokens: dict[str, None] = dict.fromkeys(RESPONSE_TOKENS)

    def location(self, spec: object, kind: str, name: str, path: str) -> tuple[list[dict[str, Any]], bool]:
        """The rules of one location, and whether it is remote."""
        if not isinstance(spec, Mapping):
            raise _error(path, "must be an object")
        remote = spec.get("remote", False)
        if not isinstance(remote, bool):
            raise _error(f"{path}.remote", "must be true or false")
        raw_experiences = spec.get("experiences")
        if not isinstance(raw_experiences, list):
            raise _error(f"{path}.experiences", "must be an array")
        activity_id = stable_int(f"{kind}\x1f{name}")
        compiled: list[tuple[float, dict[str, Any], dict[str, Any]]] = []
        for e_index, raw in enumerate(raw_experiences):
            e_path = f"{path}.experiences[{e_index}]"
            weight, meta, consequence = self.experience(raw, kind, name, activity_id, e_index, e_path)
            if weight > 0:
                compiled.append((weight, meta, consequence))
        total = sum(w for w, _, _ in compiled)
        rules: list[dict[str, Any]] = []
        cumulative = 0.0
        lo = 0.0
        for n, (weight, meta, consequence) in enumerate(compiled):
            cumulative += weight
            hi = 100.0 if n == len(compiled) - 1 else round(cumulative / total * 100, 2)
            rules.append(
                {
                    "ruleKey": f"{activity_id}-{meta['experience.id']}",
                    "activityId": activity_id,
                    "meta": meta,
                    "propertyTokens": [],
                    "condition": _allocation_condition(lo, hi),
                    "consequence": consequence,
                }
            )
            lo = hi
        return rules, remote

    def experience(
        self, raw: object, kind: str, name: str, activity_id: int, e_index: int, e_path: str
    ) -> tuple[float, dict[str, Any], dict[str, Any]]:
        if not isinstance(raw, Mapping):
            raise _error(e_path, "must be an object")
        e_name = raw.get("name", f"Experience {e_index + 1}")
        if not isinstance(e_name, str):
            raise _error(f"{e_path}.name", "must be a string")
        weight = raw.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight < float("inf"):
            raise _error(f"{e_path}.weight", "must be a number >= 0")
        raw_options = raw.get("options", [])
        if not isinstance(raw_options, list):
            raise _error(f"{e_path}.options", "must be an array")
        meta: dict[str, Any] = {
            "activity.id": activity_id,
            "activity.name": name,
            "activity.type": "ab",
            "experience.id": e_index,
            "experience.name": e_name,
            "location.name": GLOBAL_MBOX if kind == "pageLoad" else name,
            "location.type": "view" if kind == "view" else "mbox",
            "location.id": 0,
            "audience.ids": [],
        }
        options: list[dict[str, Any]] = []
        extra_tokens: dict[str, Any] = {}
        for o_index, option in enumerate(raw_options):
            o_path = f"{e_path}.options[{o_index}]"
            if not isinstance(option, Mapping) or "content" not in option:
                raise _error(o_path, "must be an object with a content")
            content = clone_json(option["content"])
            o_type = option.get("type", "json" if isinstance(content, (dict, list)) else "html")
            if o_type not in OPTION_TYPES:
                raise _error(f"{o_path}.type", f"must be one of {sorted(OPTION_TYPES)}")
            extra = option.get("responseTokens", {})
            if not isinstance(extra, Mapping) or not all(isinstance(k, str) and k for k in extra):
                raise _error(f"{o_path}.responseTokens", "must be an object with non-empty keys")
            if o_index == 0:
                meta["offer.id"] = stable_int(f"{kind}\x1f{name}\x1f{e_index}\x1f{o_index}")
                meta["offer.name"] = f"{name}/{e_name}/{o_index}"
                meta["option.id"] = o_index
                meta["option.name"] = f"Offer{o_index + 1}"
            extra_tokens.update(clone_json(dict(extra)))
            event = encode_token({"k": "f", "l": kind, "n": name, "e": e_index, "o": o_index})
            options.append({"type": str(o_type), "content": content, "eventToken": event})
        for key, value in extra_tokens.items():
            meta[key] = value
            self.tokens.setdefault(key)
        raw_metrics = raw.get("metrics", [])
        if not isinstance(raw_metrics, list):
            raise _error(f"{e_path}.metrics", "must be an array")
        metrics: list[dict[str, Any]] = []
        for m_index, metric in enumerate(raw_metrics):
            if not isinstance(metric, Mapping) or metric.get("type", "click") not in METRIC_TYPES:
                raise _error(f"{e_path}.metrics[{m_index}]", "must be an object of type click|display")
            out = {"type": "click", **clone_json(dict(metric))}
            out.setdefault("eventToken", encode_token({"k": "f", "l": kind, "n": name, "e": e_index, "m": m_index}))
            metrics.append(out)
        consequence = {"name": GLOBAL_MBOX if kind == "pageLoad" else name, "options": options, "metrics": metrics}
        return float(weight), meta, consequence


def empty_artifact(*, client: str, organization_id: str, environment: str = "production") -> dict[str, Any]:
    """An artifact with no rules (what the emulator serves when it has neither fixtures nor an artifact)."""
    return compile_fixtures(None, client=client, organization_id=organization_id, environment=environment)


def compile_fixtures(
    fixtures: Mapping[str, Any] | None,
    *,
    client: str,
    organization_id: str,
    environment: str = "production",
    generated_at: float | None = None,
    server: bool = False,
) -> dict[str, Any]:
    """Validate ``fixtures`` and compile them into a rules artifact (``ValueError`` naming the path).

    With ``server=True`` the ``remote`` locations are compiled too and listed as local: the rules the
    emulator's Delivery endpoint decides with, where the served artifact only says "ask the server".
    """
    if fixtures is not None and not isinstance(fixtures, Mapping):
        raise _error("fixtures", "must be an object")
    fixtures = fixtures or {}
    compiler = _Compiler()
    rules: dict[str, dict[str, list[dict[str, Any]]]] = {"mboxes": {}, "views": {}}
    local: dict[str, list[str]] = {"mboxes": [], "views": []}
    remote: dict[str, list[str]] = {"mboxes": [], "views": []}
    for group, kind in _KINDS.items():
        spec = fixtures.get(group)
        if spec is None:
            continue
        if not isinstance(spec, Mapping):
            raise _error(group, "must be an object of name -> {experiences}")
        for name in spec:
            if not isinstance(name, str) or not name:
                raise _error(group, "keys must be non-empty strings")
            if group == "mboxes" and name == GLOBAL_MBOX:
                raise _error(f"{group}.{name}", "is the global mbox: give its experiences as pageLoad")
        for name in sorted(spec):
            located, is_remote = compiler.location(spec[name], kind, name, f"{group}.{name}")
            if is_remote and not server:
                remote[group].append(name)
            else:
                local[group].append(name)
                if located:
                    rules[group][name] = located
    page = fixtures.get("pageLoad")
    if page is not None:
        located, is_remote = compiler.location(page, "pageLoad", GLOBAL_MBOX, "pageLoad")
        if is_remote:
            raise _error("pageLoad.remote", "is not supported: the page load is always decided from the artifact")
        if located:
            rules["mboxes"][GLOBAL_MBOX] = located
    local["mboxes"].append(GLOBAL_MBOX)
    stamp = time.time() if generated_at is None else generated_at
    return {
        "version": ARTIFACT_VERSION,
        "meta": {
            "generatedAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(stamp)),
            "organizationId": organization_id,
            "clientCode": client,
            "workspace": "emulator",
            "environment": environment,
        },
        "globalMbox": GLOBAL_MBOX,
        "geoTargetingEnabled": False,
        "responseTokens": list(compiler.tokens),
        "remoteMboxes": sorted(remote["mboxes"]),
        "remoteViews": sorted(remote["views"]),
        "localMboxes": sorted(local["mboxes"]),
        "localViews": sorted(local["views"]),
        "rules": rules,
    }
