"""``target-async artifact diff``: what changed between two artifacts, as a document and as text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._artifact_inspect import _activity_id, _id_key, _iter_rules, _meta, _rule_cells, _str_list, inspect_artifact
from ._artifact_text import _cell

DIFF_FORMAT = "target-async/artifact-diff/1"


# --------------------------------------------------------------------------------------------------------------
# comparing two artifacts

_SETTINGS = (
    ("version", "version"),
    ("global_mbox", "globalMbox"),
    ("geo_targeting_enabled", "geoTargetingEnabled"),
    ("response_tokens", "responseTokens"),
    ("remote_mboxes", "remoteMboxes"),
    ("remote_views", "remoteViews"),
    ("local_mboxes", "localMboxes"),
    ("local_views", "localViews"),
)
_LIST_SETTINGS = frozenset({"response_tokens", "remote_mboxes", "remote_views", "local_mboxes", "local_views"})


def _content(raw: Mapping[str, Any]) -> Any:
    """What a visitor gets from a rule: its options without event tokens (those are tracking, not content)."""
    consequence = raw.get("consequence")
    if not isinstance(consequence, Mapping):
        return None
    options = consequence.get("options")
    if not isinstance(options, list):
        return options
    return [{k: v for k, v in o.items() if k != "eventToken"} if isinstance(o, Mapping) else o for o in options]


def _rule_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    consequence = raw.get("consequence")
    consequence = consequence if isinstance(consequence, Mapping) else {}
    options = consequence.get("options")
    return {
        "condition": raw.get("condition"),
        "content": _content(raw),
        "event_tokens": [o.get("eventToken") for o in options if isinstance(o, Mapping)]
        if isinstance(options, list)
        else [],
        "metrics": consequence.get("metrics"),
        "meta": dict(_meta(raw)),
        "property_tokens": sorted(_str_list(raw.get("propertyTokens"))),
    }


def _rule_index(payload: Mapping[str, Any]) -> dict[tuple[str, str, str, str, int], Mapping[str, Any]]:
    """Rules by identity: location, rule key, experience, and the n-th such rule (rule keys repeat per experience)."""
    out: dict[tuple[str, str, str, str, int], Mapping[str, Any]] = {}
    for kind, name, _, raw in _iter_rules(payload):
        meta = _meta(raw)
        base = (kind, name, str(raw.get("ruleKey", _activity_id(raw))), str(meta.get("experience.id")))
        n = 0
        while (base[0], base[1], base[2], base[3], n) in out:
            n += 1
        out[(base[0], base[1], base[2], base[3], n)] = raw
    return out


def _rule_label(key: tuple[str, str, str, str, int], raw: Mapping[str, Any]) -> dict[str, Any]:
    meta = _meta(raw)
    return {
        "location_type": key[0],
        "location": key[1],
        "rule_key": key[2],
        "activity_id": _activity_id(raw),
        "experience_id": meta.get("experience.id"),
        "experience_name": meta.get("experience.name"),
    }


def diff_artifacts(old: Mapping[str, Any], new: Mapping[str, Any], *, a: str = "", b: str = "") -> dict[str, Any]:
    """The comparison ``diff --json`` prints (keys are stable; lists are sorted)."""
    ra, rb = _rule_index(old), _rule_index(new)
    rules_added = [_rule_label(k, rb[k]) for k in sorted(rb.keys() - ra.keys())]
    rules_removed = [_rule_label(k, ra[k]) for k in sorted(ra.keys() - rb.keys())]
    rules_changed: list[dict[str, Any]] = []
    offers: list[dict[str, Any]] = []
    changed_activity_rules: dict[str, set[str]] = {}
    for k in sorted(ra.keys() & rb.keys()):
        fa, fb = _rule_fields(ra[k]), _rule_fields(rb[k])
        fields = [f for f in fa if fa[f] != fb[f]]
        if not fields:
            continue
        entry = _rule_label(k, rb[k])
        entry["fields"] = fields
        if "meta" in fields:
            ma, mb = fa["meta"], fb["meta"]
            entry["meta_keys"] = sorted(key for key in ma.keys() | mb.keys() if ma.get(key) != mb.get(key))
        rules_changed.append(entry)
        changed_activity_rules.setdefault(str(entry["activity_id"]), set()).update(fields)
        if "content" in fields:
            offers.append(
                {
                    **_rule_label(k, rb[k]),
                    "offer_id_a": _meta(ra[k]).get("offer.id"),
                    "offer_id_b": _meta(rb[k]).get("offer.id"),
                    "offer_name_b": _meta(rb[k]).get("offer.name"),
                }
            )

    ia, ib = inspect_artifact(old), inspect_artifact(new)
    acts_a = {str(x["id"]): x for x in ia["activities"]}
    acts_b = {str(x["id"]): x for x in ib["activities"]}

    def brief(x: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": x["id"], "name": x["name"], "type": x["type"]}

    acts_changed = []
    fields_of_activity = ("name", "type", "locations", "experiences", "audience_ids", "property_tokens")
    for act in sorted(acts_a.keys() & acts_b.keys(), key=_id_key):
        x, y = acts_a[act], acts_b[act]
        what = [f for f in fields_of_activity if x[f] != y[f]]
        if any(str(r["activity_id"]) == act for r in rules_added + rules_removed):
            what.append("rules")
        what += sorted(f"rule {f}" for f in changed_activity_rules.get(act, ()))
        if what:
            acts_changed.append({**brief(y), "name_a": x["name"], "changes": what})

    def location_diff(section: str) -> dict[str, Any]:
        la = {x["name"]: x for x in ia[section]}
        lb = {x["name"]: x for x in ib[section]}
        kind = "mbox" if section == "mboxes" else "view"
        touched = {r["location"] for r in rules_added + rules_removed + rules_changed if r["location_type"] == kind}
        changed = []
        for name in sorted(la.keys() & lb.keys()):
            x, y = la[name], lb[name]
            what = [f for f in ("rules", "activity_ids", "audience_ids", "decided") if x[f] != y[f]]
            if name in touched and "rules" not in what:
                what.insert(0, "rules")
            # the order of rules is their priority: the same rules in another order decide differently
            common = ra.keys() & rb.keys()
            order_a = [k for k in ra if k[:2] == (kind, name) and k in common]
            order_b = [k for k in rb if k[:2] == (kind, name) and k in common]
            if order_a != order_b:
                what.append("rule order")
            if what:
                changed.append({"name": name, "changes": what, "rules_a": x["rules"], "rules_b": y["rules"]})
        return {"added": sorted(lb.keys() - la.keys()), "removed": sorted(la.keys() - lb.keys()), "changed": changed}

    settings = []
    for key, field in _SETTINGS:
        va, vb = old.get(field), new.get(field)
        if key == "geo_targeting_enabled":
            va, vb = ia["geo"]["enabled"], ib["geo"]["enabled"]
        if va == vb:
            continue
        setting: dict[str, Any] = {"name": key, "a": va, "b": vb}
        if key in _LIST_SETTINGS:
            sa, sb = set(_str_list(va)), set(_str_list(vb))
            setting["added"], setting["removed"] = sorted(sb - sa), sorted(sa - sb)
        settings.append(setting)
    meta_a, meta_b = ia["meta"], ib["meta"]
    meta_changed = sorted(k for k in meta_a.keys() | meta_b.keys() if meta_a.get(k) != meta_b.get(k))

    result: dict[str, Any] = {
        "format": DIFF_FORMAT,
        "a": a,
        "b": b,
        "identical": False,
        "activities": {
            "added": [brief(acts_b[k]) for k in sorted(acts_b.keys() - acts_a.keys(), key=_id_key)],
            "removed": [brief(acts_a[k]) for k in sorted(acts_a.keys() - acts_b.keys(), key=_id_key)],
            "changed": acts_changed,
        },
        "mboxes": location_diff("mboxes"),
        "views": location_diff("views"),
        "rules": {"added": rules_added, "removed": rules_removed, "changed": rules_changed},
        "offers": {"content_changed": offers},
        "settings": settings,
        "meta": {
            "changed": meta_changed,
            "a": {k: meta_a.get(k) for k in meta_changed},
            "b": {k: meta_b.get(k) for k in meta_changed},
        },
    }
    result["identical"] = not (
        any(result[s][k] for s in ("activities", "mboxes", "views", "rules") for k in ("added", "removed", "changed"))
        or offers
        or settings
        or meta_changed
    )
    return result


def format_diff(d: Mapping[str, Any]) -> str:
    """The text ``diff`` prints."""
    lines = [f"--- {d['a']}", f"+++ {d['b']}"]
    if d["identical"]:
        return "\n".join([*lines, "No differences."]) + "\n"

    pending: list[tuple[str, list[str]]] = []  # rows of one section, aligned together when it ends

    def flush() -> None:
        widths: list[int] = []
        for _, cells in pending:
            for i, c in enumerate(cells):
                if i == len(widths):
                    widths.append(0)
                widths[i] = max(widths[i], len(c))
        lines.extend(
            f"  {m} " + "  ".join(c.ljust(w) for c, w in zip(cells, widths[: len(cells)], strict=True)).rstrip()
            for m, cells in pending
        )
        pending.clear()

    def head(title: str, part: Mapping[str, Sequence[Any]]) -> None:
        flush()
        counts = ", ".join(f"{len(part[k])} {k}" for k in ("added", "removed", "changed") if part.get(k))
        lines.extend(["", f"{title}: {counts or 'no change'}"])

    def block(marker: str, rows: Iterable[Sequence[Any]]) -> None:
        pending.extend((marker, [_cell(c, 70) for c in row]) for row in rows)

    acts = d["activities"]
    head("Activities", acts)
    block("+", ([a["id"], a["type"], a["name"]] for a in acts["added"]))
    block("-", ([a["id"], a["type"], a["name"]] for a in acts["removed"]))
    block("~", ([a["id"], a["type"], a["name"], a["changes"]] for a in acts["changed"]))
    for section, title in (("mboxes", "Mboxes"), ("views", "Views")):
        part = d[section]
        head(title, part)
        block("+", ([n] for n in part["added"]))
        block("-", ([n] for n in part["removed"]))
        block(
            "~",
            ([x["name"], f"rules {x['rules_a']} -> {x['rules_b']}", x["changes"]] for x in part["changed"]),
        )
    rules = d["rules"]
    head("Rules", rules)
    block("+", (_rule_cells(r) for r in rules["added"]))
    block("-", (_rule_cells(r) for r in rules["removed"]))
    block("~", ([*_rule_cells(r), r["fields"]] for r in rules["changed"]))
    offers = d["offers"]["content_changed"]
    flush()
    lines.extend(["", f"Offers/content: {len(offers)} changed" if offers else "Offers/content: no change"])
    block(
        "~",
        (
            [
                f"offer {o['offer_id_b']}"
                if o["offer_id_a"] == o["offer_id_b"]
                else f"offer {o['offer_id_a']} -> {o['offer_id_b']}",
                *_rule_cells(o),
                o["offer_name_b"],
            ]
            for o in offers
        ),
    )
    settings: list[Mapping[str, Any]] = d["settings"]
    meta = d["meta"]
    flush()
    lines.extend(
        [
            "",
            f"Settings: {len(settings) + len(meta['changed'])} changed"
            if settings or meta["changed"]
            else "Settings: no change",
        ]
    )

    def setting_text(x: Mapping[str, Any]) -> str:
        if "added" in x:
            parts = [f"+{v}" for v in x["added"]] + [f"-{v}" for v in x["removed"]]
            return ", ".join(parts) if parts else "order changed"
        return f"{_cell(x['a'])} -> {_cell(x['b'])}"

    block(
        "~",
        [
            *([x["name"], setting_text(x)] for x in settings),
            *([f"meta.{k}", f"{_cell(meta['a'].get(k))} -> {_cell(meta['b'].get(k))}"] for k in meta["changed"]),
        ],
    )
    flush()
    return "\n".join(lines) + "\n"
