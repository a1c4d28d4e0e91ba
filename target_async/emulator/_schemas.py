"""The repository's registered schemas and the validation of the seven business objects (``repository.md`` §2).

Decisions (the tutorial leaves them open):

- Every business object needs ``xdm:name`` as a non-empty string (the tutorial shows one on every entity and
  calls the activity's mandatory). Other properties are optional unless listed: the activity's ``xdm:placement``,
  ``xdm:filter`` and ``xdm:fallback``, the offer filter's ``xdm:filterType``, and a representation's
  ``xdm:placement``.
- Unknown properties are kept, not rejected: XDM schemas are extended by mixins, and a client that round-trips
  data it does not model must not be refused. The exceptions are the constraints a fallback offer must not have
  (``xdm:selectionConstraint``, ``xdm:cappingConstraint``, ``xdm:rank``), which give 422.
- Enums are per schema: offers ``draft|approved|archived``, activities ``draft|live|archived``, offer filters
  ``offers|anyTags|allTags``. Lifecycle transitions are not enforced.
- Dates must be RFC 3339 date-times with an offset (``2019-06-13T11:21:23.356Z``). ``dc:language`` may be a
  string or an array of strings. PQL in ``xdm:condition.xdm:value`` is stored opaquely.
- A schema id is matched without its ``;version=`` suffix and surrounding quotes, so any version is accepted.

``check_instance`` raises ``SchemaViolation`` (its message names the property, e.g.
``_instance.xdm:cappingConstraint.xdm:globalCap must be an integer >= 1``) and returns the references the
instance makes, which the repository then checks for existence (referential integrity, §N).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = [
    "ACTIVITY",
    "CONTAINER_SCHEMA",
    "ELIGIBILITY_RULE",
    "FALLBACK_OFFER",
    "OFFER_FILTER",
    "PERSONALIZED_OFFER",
    "PLACEMENT",
    "RESULTS_SCHEMA",
    "SCHEMAS",
    "TAG",
    "Reference",
    "SchemaInfo",
    "SchemaViolation",
    "check_instance",
    "parse_datetime_ms",
    "resolve_schema",
    "unversioned",
]

_OM = "https://ns.adobe.com/experience/offer-management/"
PERSONALIZED_OFFER = _OM + "personalized-offer"
FALLBACK_OFFER = _OM + "fallback-offer"
PLACEMENT = _OM + "offer-placement"
ELIGIBILITY_RULE = _OM + "eligibility-rule"
TAG = _OM + "tag"
OFFER_FILTER = _OM + "offer-filter"
ACTIVITY = _OM + "offer-activity"
CONTAINER_SCHEMA = "https://ns.adobe.com/experience/xcore/container"
RESULTS_SCHEMA = "https://ns.adobe.com/experience/xcore/hal/results"

OFFER_STATUSES = ("draft", "approved", "archived")
ACTIVITY_STATUSES = ("draft", "live", "archived")
FILTER_TYPES = ("offers", "anyTags", "allTags")


class SchemaViolation(ValueError):
    """An instance does not satisfy its schema or an entity rule (HTTP 422)."""

    def __init__(self, prop: str, message: str) -> None:
        super().__init__(f"{prop} {message}")
        self.property = prop


@dataclass(frozen=True)
class Reference:
    """A reference the instance makes: ``target`` must be the ``@id`` of an instance of one of ``schemas``."""

    property: str
    target: str
    schemas: tuple[str, ...]
    #: for an activity's fallback: the placement the referenced fallback offer must have a representation for.
    needs_placement: str | None = None


@dataclass(frozen=True)
class SchemaInfo:
    """A registered schema: unversioned id, the ``@id`` type segment and the version the emulator reports."""

    id: str
    short: str
    version: str
    check: Callable[[Mapping[str, Any]], list[Reference]]

    @property
    def versioned(self) -> str:
        return f"{self.id};version={self.version}"


# -- date-times ----------------------------------------------------------------------------------------------

_DT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})?",
    re.ASCII,
)


def parse_datetime_ms(value: str, *, require_offset: bool = False) -> float | None:
    """RFC 3339 date-time to epoch milliseconds (``None`` if it is not one). No offset means UTC unless required."""
    m = _DT.fullmatch(value)
    if m is None or (require_offset and m.group(8) is None):
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    tz = timezone.utc
    off = m.group(8)
    if off and off not in "Zz":
        sign = -1 if off[0] == "-" else 1
        hours, minutes = int(off[1:3]), int(off[4:6])
        if hours > 23 or minutes > 59:
            return None
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        dt = datetime(year, month, day, hour, minute, min(second, 59), micro, tzinfo=tz)
    except ValueError:
        return None
    return dt.timestamp() * 1000.0


# -- property checks -----------------------------------------------------------------------------------------


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _obj(parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
    if key not in parent:
        return None
    value = parent[key]
    if not isinstance(value, dict):
        raise SchemaViolation(f"{path}.{key}", f"must be an object, not {_type_name(value)}")
    return value


def _str(parent: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
    if key not in parent:
        if required:
            raise SchemaViolation(f"{path}.{key}", "is required")
        return None
    value = parent[key]
    if not isinstance(value, str):
        raise SchemaViolation(f"{path}.{key}", f"must be a string, not {_type_name(value)}")
    if required and not value.strip():
        raise SchemaViolation(f"{path}.{key}", "must be a non-empty string")
    return value


def _strings(parent: Mapping[str, Any], key: str, path: str) -> list[str]:
    if key not in parent:
        return []
    value = parent[key]
    if not isinstance(value, list):
        raise SchemaViolation(f"{path}.{key}", f"must be an array of strings, not {_type_name(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise SchemaViolation(f"{path}.{key}[{i}]", f"must be a string, not {_type_name(item)}")
    return value


def _enum(parent: Mapping[str, Any], key: str, path: str, allowed: tuple[str, ...], *, required: bool = False) -> None:
    value = _str(parent, key, path, required=required)
    if value is not None and value not in allowed:
        raise SchemaViolation(f"{path}.{key}", f"must be one of {', '.join(allowed)} (got {value!r})")


def _int_min(parent: Mapping[str, Any], key: str, path: str, minimum: int) -> None:
    if key not in parent:
        return
    value = parent[key]
    ok = isinstance(value, int) and not isinstance(value, bool)
    if isinstance(value, float) and value.is_integer():
        ok = True
    if not ok or value < minimum:
        raise SchemaViolation(f"{path}.{key}", f"must be an integer >= {minimum}")


def _datetime(parent: Mapping[str, Any], key: str, path: str) -> None:
    value = _str(parent, key, path)
    if value is not None and parse_datetime_ms(value, require_offset=True) is None:
        raise SchemaViolation(
            f"{path}.{key}", f"must be an RFC 3339 date-time such as 2019-06-13T11:21:23.356Z (got {value!r})"
        )


def _name(inst: Mapping[str, Any]) -> None:
    _str(inst, "xdm:name", "_instance", required=True)


_COMPONENT_STRINGS = (
    "@type",
    "repo:id",
    "repo:name",
    "repo:resolveURL",
    "dc:format",
    "xdm:linkURL",
    "xdm:copyline",
    "xdm:deliveryURL",
)


def _representations(inst: Mapping[str, Any]) -> list[Reference]:
    refs: list[Reference] = []
    if "xdm:representations" not in inst:
        return refs
    reps = inst["xdm:representations"]
    path = "_instance.xdm:representations"
    if not isinstance(reps, list):
        raise SchemaViolation(path, f"must be an array, not {_type_name(reps)}")
    seen: dict[str, int] = {}
    for i, rep in enumerate(reps):
        rpath = f"{path}[{i}]"
        if not isinstance(rep, dict):
            raise SchemaViolation(rpath, f"must be an object, not {_type_name(rep)}")
        placement = _str(rep, "xdm:placement", rpath, required=True)
        assert placement is not None
        if placement in seen:
            raise SchemaViolation(
                f"{rpath}.xdm:placement",
                f"repeats the placement of xdm:representations[{seen[placement]}] ({placement}); "
                "each representation needs a different placement",
            )
        seen[placement] = i
        refs.append(Reference(f"{rpath}.xdm:placement", placement, (PLACEMENT,)))
        _str(rep, "xdm:channel", rpath)
        if "xdm:components" in rep:
            comps = rep["xdm:components"]
            if not isinstance(comps, list):
                raise SchemaViolation(f"{rpath}.xdm:components", f"must be an array, not {_type_name(comps)}")
            for j, comp in enumerate(comps):
                cpath = f"{rpath}.xdm:components[{j}]"
                if not isinstance(comp, dict):
                    raise SchemaViolation(cpath, f"must be an object, not {_type_name(comp)}")
                for key in _COMPONENT_STRINGS:
                    _str(comp, key, cpath)
                if isinstance(comp.get("dc:language"), list):
                    _strings(comp, "dc:language", cpath)
                else:
                    _str(comp, "dc:language", cpath)
    return refs


def _offer_common(inst: Mapping[str, Any]) -> list[Reference]:
    _name(inst)
    _enum(inst, "xdm:status", "_instance", OFFER_STATUSES)
    chars = _obj(inst, "xdm:characteristics", "_instance")
    if chars is not None:
        for key, value in chars.items():
            if not isinstance(value, str):
                raise SchemaViolation(
                    f"_instance.xdm:characteristics.{key}", f"must be a string, not {_type_name(value)}"
                )
    refs = _representations(inst)
    for i, tag in enumerate(_strings(inst, "xdm:tags", "_instance")):
        refs.append(Reference(f"_instance.xdm:tags[{i}]", tag, (TAG,)))
    return refs


def _check_personalized_offer(inst: Mapping[str, Any]) -> list[Reference]:
    refs = _offer_common(inst)
    sel = _obj(inst, "xdm:selectionConstraint", "_instance")
    if sel is not None:
        spath = "_instance.xdm:selectionConstraint"
        _datetime(sel, "xdm:startDate", spath)
        _datetime(sel, "xdm:endDate", spath)
        rule = _str(sel, "xdm:eligibilityRule", spath)
        if rule is not None:
            refs.append(Reference(f"{spath}.xdm:eligibilityRule", rule, (ELIGIBILITY_RULE,)))
    cap = _obj(inst, "xdm:cappingConstraint", "_instance")
    if cap is not None:
        _int_min(cap, "xdm:globalCap", "_instance.xdm:cappingConstraint", 1)
        _int_min(cap, "xdm:profileCap", "_instance.xdm:cappingConstraint", 1)
    rank = _obj(inst, "xdm:rank", "_instance")
    if rank is not None:
        _int_min(rank, "xdm:priority", "_instance.xdm:rank", 0)
    return refs


def _check_fallback_offer(inst: Mapping[str, Any]) -> list[Reference]:
    for key in ("xdm:selectionConstraint", "xdm:cappingConstraint", "xdm:rank"):
        if key in inst:
            raise SchemaViolation(
                f"_instance.{key}", "must not be present on a fallback offer (fallbacks have no constraints or rank)"
            )
    return _offer_common(inst)


def _check_placement(inst: Mapping[str, Any]) -> list[Reference]:
    _name(inst)
    for key in ("xdm:description", "xdm:channel", "xdm:componentType"):
        _str(inst, key, "_instance")
    _strings(inst, "xdm:contentTypes", "_instance")
    return []


def _check_eligibility_rule(inst: Mapping[str, Any]) -> list[Reference]:
    _name(inst)
    cond = _obj(inst, "xdm:condition", "_instance")
    if cond is not None:
        for key in ("xdm:value", "xdm:format", "xdm:type"):
            _str(cond, key, "_instance.xdm:condition")
    return []


def _check_tag(inst: Mapping[str, Any]) -> list[Reference]:
    _name(inst)
    return []


def _check_offer_filter(inst: Mapping[str, Any]) -> list[Reference]:
    _name(inst)
    _enum(inst, "xdm:filterType", "_instance", FILTER_TYPES, required=True)
    target = (PERSONALIZED_OFFER,) if inst["xdm:filterType"] == "offers" else (TAG,)
    return [Reference(f"_instance.ids[{i}]", v, target) for i, v in enumerate(_strings(inst, "ids", "_instance"))]


def _check_activity(inst: Mapping[str, Any]) -> list[Reference]:
    _name(inst)
    _datetime(inst, "xdm:startDate", "_instance")
    _datetime(inst, "xdm:endDate", "_instance")
    _enum(inst, "xdm:status", "_instance", ACTIVITY_STATUSES)
    placement = _str(inst, "xdm:placement", "_instance", required=True)
    flt = _str(inst, "xdm:filter", "_instance", required=True)
    fallback = _str(inst, "xdm:fallback", "_instance", required=True)
    assert placement is not None and flt is not None and fallback is not None
    return [
        Reference("_instance.xdm:placement", placement, (PLACEMENT,)),
        Reference("_instance.xdm:filter", flt, (OFFER_FILTER,)),
        Reference("_instance.xdm:fallback", fallback, (FALLBACK_OFFER,), needs_placement=placement),
    ]


SCHEMAS: dict[str, SchemaInfo] = {
    s.id: s
    for s in (
        SchemaInfo(PERSONALIZED_OFFER, "personalized-offer", "0.5", _check_personalized_offer),
        SchemaInfo(FALLBACK_OFFER, "fallback-offer", "0.1", _check_fallback_offer),
        SchemaInfo(PLACEMENT, "offer-placement", "0.4", _check_placement),
        SchemaInfo(ELIGIBILITY_RULE, "eligibility-rule", "0.3", _check_eligibility_rule),
        SchemaInfo(TAG, "tag", "0.1", _check_tag),
        SchemaInfo(OFFER_FILTER, "offer-filter", "0.1", _check_offer_filter),
        SchemaInfo(ACTIVITY, "offer-activity", "0.5", _check_activity),
    )
}
SCHEMA_BY_SHORT = {s.short: s for s in SCHEMAS.values()}


def unversioned(schema: str) -> str:
    """Strip whitespace, surrounding quotes and any ``;version=...`` suffix from a schema id."""
    value = schema.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
    return value.split(";", 1)[0].strip().rstrip("/")


def resolve_schema(schema: str) -> SchemaInfo | None:
    """The registered business-object schema for a (possibly versioned or quoted) schema id."""
    return SCHEMAS.get(unversioned(schema))


def check_instance(schema: SchemaInfo, inst: Mapping[str, Any]) -> list[Reference]:
    """Validate ``_instance`` against ``schema``; return its references (raises ``SchemaViolation``)."""
    return schema.check(inst)
