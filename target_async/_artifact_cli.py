"""``target-async artifact``: look inside an on-device rules artifact, or compare two.

``inspect`` summarises one artifact (activities, mboxes and their rules, audiences, what needs a server call,
geo targeting, property and response tokens); ``diff`` lists what changed between two. Both print aligned text,
or with ``--json`` a document with stable keys for scripts. Artifacts are read with the project's own engine
(:func:`target_async.decisioning.load_artifact`), so an artifact this command accepts is one the clients accept.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = ["add_artifact_parser", "run_artifact"]

INSPECT_FORMAT = "target-async/artifact-inspect/1"
DIFF_FORMAT = "target-async/artifact-diff/1"
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024
_PROG = "target-async artifact"


class ArtifactCliError(Exception):
    """A one-line, user-facing reason the command cannot go on (exit status 2)."""


# --------------------------------------------------------------------------------------------------------------
# command line


def add_artifact_parser(sub: Any) -> None:
    """Register ``artifact inspect`` and ``artifact diff`` on the top-level subparsers ``sub``."""
    art = sub.add_parser(
        "artifact",
        help="inspect an on-device rules artifact, or compare two",
        description="Inspect an on-device rules artifact (rules.json or rules.bin), or compare two.",
    )
    cmds = art.add_subparsers(dest="artifact_command", metavar="{inspect,diff}", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print JSON with stable keys (for scripts)")
        p.add_argument(
            "--organization-id",
            metavar="ORG",
            help="IMS organization id (...@AdobeOrg), needed to read an obfuscated rules.bin",
        )
        p.add_argument(
            "--format",
            choices=["json", "bin"],
            help="the artifact's format (default: from the file name, else from its first bytes)",
        )
        p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="for a URL: seconds (default 30)")

    ins = cmds.add_parser(
        "inspect",
        help="summarise one artifact",
        description=(
            "Summarise an artifact: activities, mboxes and views with their rules, audiences, what needs a "
            "server call (remote mboxes and views, geo lookups), property tokens and response tokens."
        ),
        epilog="SOURCE is a file path, an http(s) URL, or - for standard input. Exit status: 0, or 2 on bad input.",
    )
    ins.add_argument("source", metavar="SOURCE", help="rules.json or rules.bin: a path, a URL, or -")
    ins.add_argument("--rules", action="store_true", help="also list every rule of every mbox and view")
    common(ins)

    diff = cmds.add_parser(
        "diff",
        help="show what changed between two artifacts",
        description=(
            "Show what changed from artifact A to artifact B: activities, mboxes, views and rules added, removed "
            "or changed, offers whose content changed, and changed settings (remote mboxes, tokens, geo)."
        ),
        epilog=(
            "A and B are file paths, http(s) URLs, or - (standard input, once). Exit status: 0 (like git diff; "
            "with --exit-code: 0 when identical, 1 when they differ), 2 on bad input."
        ),
    )
    diff.add_argument("a", metavar="A", help="the old artifact")
    diff.add_argument("b", metavar="B", help="the new artifact")
    diff.add_argument("--exit-code", action="store_true", help="exit with 1 when the artifacts differ")
    common(diff)


def run_artifact(args: argparse.Namespace, *, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    """Run ``artifact inspect`` or ``artifact diff``; return the exit status."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    try:
        if args.artifact_command == "inspect":
            payload = _load(args.source, args)
            summary = inspect_artifact(payload, source=args.source)
            out.write(_dumps(summary) if args.json else format_inspect(summary, rules=args.rules))
            return 0
        if args.a == "-" and args.b == "-":
            raise ArtifactCliError("standard input (-) can be only one of A and B")
        old, new = _load(args.a, args), _load(args.b, args)
        result = diff_artifacts(old, new, a=args.a, b=args.b)
        out.write(_dumps(result) if args.json else format_diff(result))
        return 1 if args.exit_code and not result["identical"] else 0
    except ArtifactCliError as exc:
        err.write(f"{_PROG} {args.artifact_command}: {_one_line(str(exc))}\n")
        return 2


# --------------------------------------------------------------------------------------------------------------
# loading


def _load(source: str, args: argparse.Namespace) -> Mapping[str, Any]:
    """Read ``source`` (path, URL or ``-``) and load it with the engine; return the decoded artifact."""
    from .decisioning import ArtifactError, load_artifact

    fmt = args.format
    if source.startswith(("http://", "https://")):
        data = _fetch(source, timeout=args.timeout)
        name = source.split("?", 1)[0]
    elif source == "-":
        data = sys.stdin.buffer.read()
        name = ""
    else:
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise ArtifactCliError(f"{source}: no such file") from None
        except IsADirectoryError:
            raise ArtifactCliError(f"{source}: is a directory, not an artifact file") from None
        except OSError as exc:
            raise ArtifactCliError(f"{source}: cannot read it ({exc.strerror or exc})") from None
        name = source
    if fmt is None:  # by name first: a broken rules.json must say "not valid JSON", not "bad rules.bin header"
        if name.endswith(".json"):
            fmt = "json"
        elif name.endswith(".bin"):
            fmt = "bin"
    label = source if source != "-" else "standard input"
    if not data.strip():
        raise ArtifactCliError(f"{label}: the artifact is empty")
    try:
        artifact = load_artifact(data, organization_id=args.organization_id, format=fmt)
    except ArtifactError as exc:
        message = exc.message
        if "needs the organization id" in message:
            message += " (pass --organization-id ...@AdobeOrg)"
        elif "not valid JSON" in message and (fmt == "bin" or (fmt is None and data.lstrip()[:1] not in (b"{", b"["))):
            message += " after reading it as rules.bin (is --organization-id the artifact's organization?)"
        raise ArtifactCliError(f"{label}: {message}") from None
    except RecursionError:
        raise ArtifactCliError(f"{label}: the artifact is nested too deeply") from None
    except Exception as exc:  # anything the engine did not foresee is still bad input, not a traceback
        raise ArtifactCliError(f"{label}: the artifact cannot be loaded ({type(exc).__name__}: {exc})") from None
    return artifact.payload


def _fetch(url: str, *, timeout: float) -> bytes:
    import httpx

    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True) as client,
            client.stream("GET", url, headers={"Accept": "application/json, application/octet-stream"}) as resp,
        ):
            if resp.status_code != 200:
                raise ArtifactCliError(f"{url}: HTTP {resp.status_code} {resp.reason_phrase}".rstrip())
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > MAX_DOWNLOAD_BYTES:
                    raise ArtifactCliError(f"{url}: the artifact is larger than {MAX_DOWNLOAD_BYTES} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.InvalidURL as exc:
        raise ArtifactCliError(f"{url}: not a valid URL ({exc})") from None
    except httpx.TimeoutException:
        raise ArtifactCliError(f"{url}: no answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise ArtifactCliError(f"{url}: cannot fetch it ({type(exc).__name__}: {exc})") from None


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


# --------------------------------------------------------------------------------------------------------------
# text output


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def _one_line(text: str) -> str:
    """One line of printable text: whitespace runs become one space, control characters are escaped (an
    artifact's names must not move the cursor or recolour the terminal)."""
    text = " ".join(text.split())
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}" for ch in text
    )


def _cell(value: Any, width: int = 60) -> str:
    if value is None or value == "" or value == []:
        text = "-"
    elif isinstance(value, (list, tuple)):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    else:
        text = str(value)
    text = _one_line(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], indent: str = "  ") -> list[str]:
    cells = [[_cell(c) for c in row] for row in rows]
    if not cells:
        return [f"{indent}(none)"]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(row: Sequence[str]) -> str:
        return (indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))).rstrip()

    return [line(list(headers)), *(line(r) for r in cells)]


def _pairs(rows: Iterable[tuple[str, Any]], indent: str = "") -> list[str]:
    rows = list(rows)
    width = max(len(k) for k, _ in rows)
    return [f"{indent}{k.ljust(width)}  {_cell(v, 100)}".rstrip() for k, v in rows]


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
