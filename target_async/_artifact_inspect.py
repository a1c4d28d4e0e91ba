"""``target-async artifact inspect``: the summary of one artifact, as a document and as text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._artifact_text import _cell, _pairs, _table

INSPECT_FORMAT = "target-async/artifact-inspect/1"


# --------------------------------------------------------------------------------------------------------------
# reading an artifact (from its decoded payload; the engine has already validated it)

_KINDS = (("mbox", "mboxes"), ("view", "views"))


def _str_list(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _id_key(value: Any) -> tuple[int, float, str]:
    """Sort ids numerically when they are numbers, else as text."""
    text = str(value)
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def _sorted_ids(values: Iterable[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for v in values:
        seen.setdefault(str(v), v)
    return sorted(seen.values(), key=_id_key)


def _iter_rules(payload: Mapping[str, Any]) -> Iterable[tuple[str, str, int, Mapping[str, Any]]]:
    rules = payload.get("rules")
    if not isinstance(rules, Mapping):
        return
    for kind, section in _KINDS:
        by_name = rules.get(section)
        if not isinstance(by_name, Mapping):
            continue
        for name, raw_rules in by_name.items():
            if isinstance(raw_rules, list):
                for index, raw in enumerate(raw_rules):
                    if isinstance(raw, Mapping):
                        yield kind, str(name), index, raw


def _meta(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = raw.get("meta")
    return meta if isinstance(meta, Mapping) else {}


def _activity_id(raw: Mapping[str, Any]) -> Any:
    return raw.get("activityId", _meta(raw).get("activity.id"))


def _rule_info(kind: str, name: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    from .decisioning import condition_variables as variables

    meta = _meta(raw)
    audiences = meta.get("audience.ids")
    try:
        reads = sorted(variables(raw.get("condition")))
    except Exception:  # the engine compiled it; this is only a description
        reads = []
    consequence = raw.get("consequence")
    options = consequence.get("options") if isinstance(consequence, Mapping) else None
    activity_id = _activity_id(raw)
    return {
        "location_type": kind,
        "location": name,
        "rule_key": str(raw.get("ruleKey", activity_id)),
        "activity_id": activity_id,
        "activity_name": meta.get("activity.name"),
        "activity_type": meta.get("activity.type"),
        "experience_id": meta.get("experience.id"),
        "experience_name": meta.get("experience.name"),
        "offer_id": meta.get("offer.id"),
        "option_types": [o.get("type") for o in options if isinstance(o, Mapping)] if isinstance(options, list) else [],
        "audience_ids": _sorted_ids(audiences) if isinstance(audiences, list) else [],
        "property_tokens": sorted(_str_list(raw.get("propertyTokens"))),
        "reads": reads,
    }


def inspect_artifact(payload: Mapping[str, Any], *, source: str = "") -> dict[str, Any]:
    """The summary ``inspect --json`` prints (keys are stable; lists are sorted)."""
    raw_meta = payload.get("meta")
    meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
    rules = [_rule_info(kind, name, raw) for kind, name, _, raw in _iter_rules(payload)]
    remote = {"mbox": set(_str_list(payload.get("remoteMboxes"))), "view": set(_str_list(payload.get("remoteViews")))}
    local = {"mbox": set(_str_list(payload.get("localMboxes"))), "view": set(_str_list(payload.get("localViews")))}

    activities: dict[str, dict[str, Any]] = {}
    for r in rules:
        a = activities.setdefault(
            str(r["activity_id"]),
            {
                "id": r["activity_id"],
                "name": r["activity_name"],
                "type": r["activity_type"],
                "locations": [],
                "experiences": [],
                "rules": 0,
                "audience_ids": [],
                "property_tokens": [],
            },
        )
        a["rules"] += 1
        loc = {"type": r["location_type"], "name": r["location"]}
        if loc not in a["locations"]:
            a["locations"].append(loc)
        if r["experience_name"] is not None and r["experience_name"] not in a["experiences"]:
            a["experiences"].append(r["experience_name"])
        a["audience_ids"] = _sorted_ids([*a["audience_ids"], *r["audience_ids"]])
        a["property_tokens"] = sorted({*a["property_tokens"], *r["property_tokens"]})

    def locations(kind: str, section: str) -> list[dict[str, Any]]:
        raw_section = payload.get("rules", {}).get(section) if isinstance(payload.get("rules"), Mapping) else None
        names = set(raw_section or ()) | remote[kind] | local[kind]
        out = []
        for name in sorted(names):
            mine = [r for r in rules if r["location_type"] == kind and r["location"] == name]
            out.append(
                {
                    "name": name,
                    "rules": len(mine),
                    "activity_ids": _sorted_ids(r["activity_id"] for r in mine),
                    "audience_ids": _sorted_ids(a for r in mine for a in r["audience_ids"]),
                    "reads": sorted({v for r in mine for v in r["reads"]}),
                    "remote": name in remote[kind],
                    "decided": "server" if name in remote[kind] else "on-device",
                }
            )
        return out

    audiences: dict[str, dict[str, Any]] = {}
    for r in rules:
        for aud in r["audience_ids"]:
            aud_entry = audiences.setdefault(str(aud), {"id": aud, "rules": 0, "activity_ids": [], "locations": []})
            aud_entry["rules"] += 1
            aud_entry["activity_ids"] = _sorted_ids([*aud_entry["activity_ids"], r["activity_id"]])
            where = f"{r['location_type']} {r['location']}"
            if where not in aud_entry["locations"]:
                aud_entry["locations"].append(where)

    tokens: dict[str, dict[str, Any]] = {}
    for r in rules:
        for tok in r["property_tokens"]:
            entry = tokens.setdefault(tok, {"token": tok, "rules": 0, "activity_ids": []})
            entry["rules"] += 1
            entry["activity_ids"] = _sorted_ids([*entry["activity_ids"], r["activity_id"]])

    geo_rules = [r for r in rules if "geo" in r["reads"] or "*" in r["reads"]]
    geo_enabled = bool(payload.get("geoTargetingEnabled", payload.get("hasGeoTargeting", False)))
    mboxes = locations("mbox", "mboxes")
    views = locations("view", "views")
    return {
        "format": INSPECT_FORMAT,
        "source": source,
        "version": str(payload.get("version")),
        "meta": dict(meta),
        "global_mbox": payload.get("globalMbox") or "target-global-mbox",
        "counts": {
            "activities": len(activities),
            "mboxes": len(mboxes),
            "views": len(views),
            "rules": len(rules),
            "mbox_rules": sum(1 for r in rules if r["location_type"] == "mbox"),
            "view_rules": sum(1 for r in rules if r["location_type"] == "view"),
            "audiences": len(audiences),
            "property_tokens": len(tokens),
        },
        "server_calls": {
            "remote_mboxes": sorted(remote["mbox"]),
            "remote_views": sorted(remote["view"]),
            "geo_lookup": geo_enabled and bool(geo_rules),
        },
        "geo": {
            "enabled": geo_enabled,
            "rules": len(geo_rules),
            "locations": sorted({f"{r['location_type']} {r['location']}" for r in geo_rules}),
        },
        "response_tokens": _str_list(payload.get("responseTokens")),
        "property_tokens": [tokens[k] for k in sorted(tokens)],
        "rules_without_property_token": sum(1 for r in rules if not r["property_tokens"]),
        "activities": [activities[k] for k in sorted(activities, key=_id_key)],
        "mboxes": mboxes,
        "views": views,
        "audiences": [audiences[k] for k in sorted(audiences, key=_id_key)],
        "rules": rules,
    }


def format_inspect(s: Mapping[str, Any], *, rules: bool = False) -> str:
    """The text ``inspect`` prints."""
    meta = s["meta"]
    c = s["counts"]
    sc = s["server_calls"]
    lines = _pairs(
        [
            ("artifact", s["source"] or "-"),
            ("version", s["version"]),
            ("client", meta.get("clientCode")),
            ("organization", meta.get("organizationId")),
            ("environment", meta.get("environment")),
            ("workspace", meta.get("workspace")),
            ("generated", meta.get("generatedAt")),
            ("global mbox", s["global_mbox"]),
            (
                "counts",
                f"{c['activities']} activities, {c['mboxes']} mboxes, {c['views']} views, {c['rules']} rules "
                f"({c['mbox_rules']} mbox, {c['view_rules']} view), {c['audiences']} audiences",
            ),
        ]
    )
    lines += ["", "Needs a server call"]
    geo = s["geo"]
    if geo["enabled"]:
        geo_text = (
            f"yes: {geo['rules']} rules read geo; a request without geo data needs a geo lookup"
            if geo["rules"]
            else "geo targeting is on, but no rule reads geo"
        )
    else:
        geo_text = "no (geo targeting off)"
    lines += _pairs(
        [
            ("remote mboxes", sc["remote_mboxes"] or "none"),
            ("remote views", sc["remote_views"] or "none"),
            ("geo lookup", geo_text),
            *([("geo rules in", geo["locations"])] if geo["locations"] else []),
        ],
        indent="  ",
    )

    lines += ["", f"Activities ({c['activities']})"]
    lines += _table(
        ["ID", "TYPE", "NAME", "LOCATIONS", "EXPERIENCES", "RULES", "AUDIENCES"],
        (
            [
                a["id"],
                a["type"],
                a["name"],
                [f"{loc['type']} {loc['name']}" for loc in a["locations"]],
                len(a["experiences"]),
                a["rules"],
                a["audience_ids"],
            ]
            for a in s["activities"]
        ),
    )
    for section, title in (("mboxes", "Mboxes"), ("views", "Views")):
        lines += ["", f"{title} ({len(s[section])})"]
        lines += _table(
            ["NAME", "RULES", "DECIDED", "ACTIVITIES", "AUDIENCES", "READS"],
            (
                [x["name"], x["rules"], x["decided"], x["activity_ids"], x["audience_ids"], x["reads"]]
                for x in s[section]
            ),
        )
    if rules:
        for kind, title in (("mbox", "Rules of mbox"), ("view", "Rules of view")):
            by_loc: dict[str, list[Mapping[str, Any]]] = {}
            for r in s["rules"]:
                if r["location_type"] == kind:
                    by_loc.setdefault(r["location"], []).append(r)
            for loc, rs in sorted(by_loc.items()):
                lines += ["", f"{title} {loc} ({len(rs)})"]
                lines += _table(
                    ["RULE", "ACTIVITY", "EXPERIENCE", "OFFER", "AUDIENCES", "PROPERTY TOKENS", "READS"],
                    (
                        [
                            r["rule_key"],
                            r["activity_id"],
                            r["experience_name"],
                            r["offer_id"],
                            r["audience_ids"],
                            r["property_tokens"],
                            r["reads"],
                        ]
                        for r in rs
                    ),
                )
    lines += ["", f"Audiences ({c['audiences']})"]
    lines += _table(
        ["ID", "RULES", "ACTIVITIES", "LOCATIONS"],
        ([x["id"], x["rules"], x["activity_ids"], x["locations"]] for x in s["audiences"]),
    )
    lines += ["", f"Property tokens ({c['property_tokens']})"]
    lines += _table(
        ["TOKEN", "RULES", "ACTIVITIES"], ([x["token"], x["rules"], x["activity_ids"]] for x in s["property_tokens"])
    )
    if s["property_tokens"]:
        lines.append(f"  {s['rules_without_property_token']} rules have no property token (seen by every request)")
    lines += ["", f"Response tokens ({len(s['response_tokens'])})", f"  {_cell(s['response_tokens'], 1000)}"]
    return "\n".join(lines) + "\n"


def _rule_cells(r: Mapping[str, Any]) -> list[Any]:
    exp = r["experience_name"] if r["experience_name"] is not None else f"experience {r['experience_id']}"
    return [f"{r['location_type']} {r['location']}", f"rule {r['rule_key']}", f"activity {r['activity_id']}", exp]
