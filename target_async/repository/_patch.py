"""JSON Patch (RFC 6902) builders for the documented instance edits.

A builder starts from the *current* instance (a read :class:`Instance`, its ``_instance`` dict or an entity)
and keeps a private copy that it updates with every operation it emits. It therefore knows what exists:

* a missing parent object or array is created first (``add /_instance/xdm:tags []`` before
  ``add /_instance/xdm:tags/-``), because ``add …/-`` and ``replace`` fail on a missing target (spec §4
  items 15–16);
* an existing leaf is ``replace``d, a missing one ``add``ed;
* calendar dates are patched one by one, never by replacing the whole ``xdm:selectionConstraint`` (which
  would drop ``xdm:eligibilityRule``);
* removing something that is not there emits nothing.

Paths address the HAL document, so every path starts with ``/_instance``. Use ``patch.operations`` (or pass
the builder itself) to :meth:`AsyncRepositoryClient.patch_instance`, together with ``if_match`` set to the
etag of the instance the builder started from.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from .._exceptions import ValidationError
from ..models.repository import (
    ActivityStatus,
    Entity,
    FallbackOffer,
    Instance,
    OfferStatus,
    Representation,
    entity_class,
)
from ._params import format_datetime

__all__ = ["ActivityPatch", "InstancePatch", "OfferPatch", "patch_operations", "pointer"]

P = TypeVar("P", bound="InstancePatch")
_MISSING = object()


def pointer(*tokens: str | int) -> str:
    """A JSON Pointer from raw tokens, escaping ``~`` and ``/`` (``pointer("a/b")`` is ``/a~1b``)."""
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)


def _current(current: Any) -> tuple[dict[str, Any], list[str]]:
    if current is None:
        return {}, []
    if isinstance(current, Instance):
        return copy.deepcopy(current.instance), list(current.schemas or ())
    if isinstance(current, Entity):
        return current.to_dict(), [current.__schema__.value]
    if isinstance(current, Mapping):
        return copy.deepcopy(dict(current)), []
    raise ValidationError(f"current must be an Instance, an entity or a dict, not {type(current).__name__}")


class InstancePatch:
    """Generic builder: ``set``/``remove`` any property path of ``_instance``, creating parents as needed.

    Args:
        current: the instance as it is now (``None`` means empty: every parent is created).
    """

    def __init__(self, current: Instance | Entity | Mapping[str, Any] | None = None) -> None:
        self._doc, self._schemas = _current(current)
        self._ops: list[dict[str, Any]] = []

    @property
    def operations(self) -> list[dict[str, Any]]:
        """The RFC 6902 operations so far (a copy)."""
        return copy.deepcopy(self._ops)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.operations)

    def __len__(self) -> int:
        return len(self._ops)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._ops!r})"

    # --- the local document -------------------------------------------------------------------------

    def _get(self, tokens: Sequence[str | int]) -> Any:
        node: Any = self._doc
        for token in tokens:
            found = (isinstance(node, dict) and token in node) or (
                isinstance(node, list) and isinstance(token, int) and 0 <= token < len(node)
            )
            if not found:
                return _MISSING
            node = node[token]
        return node

    def _emit(self, op: str, tokens: Sequence[str | int], value: Any = _MISSING) -> None:
        parent = self._get(tokens[:-1])
        last = tokens[-1]
        if isinstance(parent, dict):
            if op == "remove":
                del parent[last]
            else:
                parent[last] = copy.deepcopy(value)
        elif isinstance(parent, list):
            if op == "remove":
                del parent[int(last)]
            elif op == "add":
                if last == "-":
                    parent.append(copy.deepcopy(value))
                else:
                    parent.insert(int(last), copy.deepcopy(value))
            else:
                parent[int(last)] = copy.deepcopy(value)
        else:  # pragma: no cover - the builder always creates parents first
            raise ValidationError(f"no parent for {pointer(*tokens)}")
        entry: dict[str, Any] = {"op": op, "path": "/_instance" + pointer(*tokens)}
        if value is not _MISSING:
            entry["value"] = copy.deepcopy(value)
        self._ops.append(entry)

    def _ensure(self, tokens: Sequence[str], kind: type[dict[str, Any]] | type[list[Any]]) -> Any:
        for depth in range(1, len(tokens) + 1):
            node = self._get(tokens[:depth])
            if node is _MISSING or node is None:
                self._emit("add", tokens[:depth], kind() if depth == len(tokens) else {})
            elif not isinstance(node, dict if depth < len(tokens) else kind):
                raise ValidationError(f"{pointer(*tokens[:depth])} has an unexpected type", field="current")
        return self._get(tokens)

    # --- generic edits ------------------------------------------------------------------------------

    def set(self: P, *tokens: str, value: Any) -> P:
        """Set ``_instance[tokens[0]][tokens[1]]…`` to ``value`` (``replace`` if present, else ``add``)."""
        if not tokens:
            raise ValidationError("set needs at least one property name")
        if tokens[:-1]:
            self._ensure(tokens[:-1], dict)
        exists = self._get(tokens) is not _MISSING
        self._emit("replace" if exists else "add", tokens, _plain(value))
        return self

    def remove(self: P, *tokens: str) -> P:
        """Remove a property path if it exists (nothing is emitted otherwise)."""
        if tokens and self._get(tokens) is not _MISSING:
            self._emit("remove", tokens)
        return self

    def set_name(self: P, name: str) -> P:
        """Set ``xdm:name``."""
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("name must be a non-empty string", field="name")
        return self.set("xdm:name", value=name)

    def _set_status(self: P, status: Any, allowed: type[OfferStatus] | type[ActivityStatus]) -> P:
        try:
            value = allowed(status).value
        except ValueError:
            choices = ", ".join(s.value for s in allowed)
            raise ValidationError(f"status must be one of {choices}, got {status!r}", field="status") from None
        return self.set("xdm:status", value=value)


def _plain(value: Any) -> Any:
    if attrs.has(type(value)):
        from .._serde import unstructure

        return unstructure(value)
    if isinstance(value, dt.datetime):
        return format_datetime(value, "value")
    if isinstance(value, OfferStatus | ActivityStatus):
        return value.value
    return value


def _date(value: Any, field: str) -> str:
    if isinstance(value, dt.datetime):
        return format_datetime(value, field)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} must be an RFC 3339 string or an aware datetime", field=field)
    return value


def _count(value: Any, field: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(f"{field} must be an integer >= {minimum}, got {value!r}", field=field)
    return value


def _ref(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} must be a non-empty @id, got {value!r}", field=field)
    return value


_SC, _CC, _RANK = "xdm:selectionConstraint", "xdm:cappingConstraint", "xdm:rank"
_REPS, _TAGS = "xdm:representations", "xdm:tags"


class OfferPatch(InstancePatch):
    """Builder for the documented personalized- and fallback-offer edits.

    Args:
        current: the offer as it is now.
        fallback: whether it is a fallback offer (constraints and rank are then refused); detected from the
            schemas of a read :class:`Instance` or from a :class:`FallbackOffer` when not given.

    Example::

        inst = await repo.get_instance(cid, iid, Schema.PERSONALIZED_OFFER)
        ops = OfferPatch(inst).set_status("approved").add_tag("xcore:tag:1").set_priority(3)
        await repo.patch_instance(cid, iid, Schema.PERSONALIZED_OFFER, ops, if_match=inst.etag)
    """

    def __init__(
        self,
        current: Instance | Entity | Mapping[str, Any] | None = None,
        *,
        fallback: bool | None = None,
    ) -> None:
        super().__init__(current)
        if fallback is None:
            fallback = isinstance(current, FallbackOffer) or any(
                entity_class(s) is FallbackOffer for s in self._schemas
            )
        self.fallback = fallback

    def _offer_only(self, what: str) -> None:
        if self.fallback:
            raise ValidationError(f"a fallback offer has no {what}", field=what)

    def set_status(self, status: OfferStatus | str) -> OfferPatch:
        """Set ``xdm:status`` (draft, approved, archived)."""
        return self._set_status(status, OfferStatus)

    def set_characteristic(self, key: str, value: str) -> OfferPatch:
        """Set one ``xdm:characteristics`` entry (values are strings)."""
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise ValidationError("characteristics map non-empty string keys to string values", field="key")
        return self.set("xdm:characteristics", key, value=value)

    def remove_characteristic(self, key: str) -> OfferPatch:
        """Remove one ``xdm:characteristics`` entry."""
        return self.remove("xdm:characteristics", key)

    # representations --------------------------------------------------------------------------------

    def _rep_index(self, placement: str) -> int | None:
        reps = self._get([_REPS])
        if isinstance(reps, list):
            for i, rep in enumerate(reps):
                if isinstance(rep, dict) and rep.get("xdm:placement") == placement:
                    return i
        return None

    @staticmethod
    def _rep(rep: Representation | Mapping[str, Any]) -> dict[str, Any]:
        value = _plain(rep) if isinstance(rep, Representation) else rep
        if not isinstance(value, Mapping):
            raise ValidationError("representation must be a Representation or a dict", field="representation")
        _ref(value.get("xdm:placement"), "representation.xdm:placement")
        return dict(value)

    def add_representation(self, representation: Representation | Mapping[str, Any]) -> OfferPatch:
        """Append a representation; its placement must not be used by another representation."""
        rep = self._rep(representation)
        if self._rep_index(rep["xdm:placement"]) is not None:
            raise ValidationError(
                f"the offer already has a representation for {rep['xdm:placement']}", field="representation"
            )
        self._ensure([_REPS], list)
        self._emit("add", [_REPS, "-"], rep)
        return self

    def replace_representation(self, representation: Representation | Mapping[str, Any]) -> OfferPatch:
        """Replace the representation with the same ``xdm:placement``."""
        rep = self._rep(representation)
        index = self._rep_index(rep["xdm:placement"])
        if index is None:
            raise ValidationError(f"no representation for {rep['xdm:placement']}", field="representation")
        self._emit("replace", [_REPS, index], rep)
        return self

    def remove_representation(self, placement: str) -> OfferPatch:
        """Remove the representation for ``placement`` if there is one."""
        index = self._rep_index(_ref(placement, "placement"))
        if index is not None:
            self._emit("remove", [_REPS, index])
        return self

    # constraints ------------------------------------------------------------------------------------

    def set_calendar(
        self, start_date: str | dt.datetime | None = None, end_date: str | dt.datetime | None = None
    ) -> OfferPatch:
        """Set the start and/or end date, each patched on its own (the eligibility rule stays)."""
        self._offer_only("selection constraint")
        if start_date is not None:
            self.set(_SC, "xdm:startDate", value=_date(start_date, "start_date"))
        if end_date is not None:
            self.set(_SC, "xdm:endDate", value=_date(end_date, "end_date"))
        return self

    def remove_calendar(self, *, start_date: bool = True, end_date: bool = True) -> OfferPatch:
        """Remove the start and/or end date (never the whole selection constraint)."""
        if start_date:
            self.remove(_SC, "xdm:startDate")
        if end_date:
            self.remove(_SC, "xdm:endDate")
        return self

    def set_eligibility_rule(self, rule_id: str) -> OfferPatch:
        """Reference an eligibility rule by its ``@id``."""
        self._offer_only("selection constraint")
        return self.set(_SC, "xdm:eligibilityRule", value=_ref(rule_id, "rule_id"))

    def remove_eligibility_rule(self) -> OfferPatch:
        """Drop the eligibility rule reference."""
        return self.remove(_SC, "xdm:eligibilityRule")

    def set_capping(self, *, global_cap: int | None = None, profile_cap: int | None = None) -> OfferPatch:
        """Set the global and/or profile cap (integers >= 1); a cap left as None is not touched."""
        self._offer_only("capping constraint")
        if global_cap is not None:
            self.set(_CC, "xdm:globalCap", value=_count(global_cap, "global_cap", 1))
        if profile_cap is not None:
            self.set(_CC, "xdm:profileCap", value=_count(profile_cap, "profile_cap", 1))
        return self

    def remove_capping(self, *, global_cap: bool = False, profile_cap: bool = False) -> OfferPatch:
        """Remove the named caps (each exists on its own)."""
        if global_cap:
            self.remove(_CC, "xdm:globalCap")
        if profile_cap:
            self.remove(_CC, "xdm:profileCap")
        return self

    def set_priority(self, priority: int) -> OfferPatch:
        """Set ``xdm:rank.xdm:priority`` (integer >= 0)."""
        self._offer_only("rank")
        return self.set(_RANK, "xdm:priority", value=_count(priority, "priority", 0))

    # tags -------------------------------------------------------------------------------------------

    def add_tag(self, tag_id: str) -> OfferPatch:
        """Append a tag reference (nothing is emitted when the offer already has it)."""
        tags = self._get([_TAGS])
        tag = _ref(tag_id, "tag_id")
        if isinstance(tags, list) and tag in tags:
            return self
        self._ensure([_TAGS], list)
        self._emit("add", [_TAGS, "-"], tag)
        return self

    def remove_tag(self, tag_id: str) -> OfferPatch:
        """Remove a tag reference if present."""
        tags = self._get([_TAGS])
        if isinstance(tags, list) and tag_id in tags:
            self._emit("remove", [_TAGS, tags.index(tag_id)])
        return self

    def set_tags(self, tag_ids: Sequence[str]) -> OfferPatch:
        """Replace the whole tag list."""
        if isinstance(tag_ids, str):
            raise ValidationError("tag_ids must be a list of @ids", field="tag_ids")
        return self.set(_TAGS, value=[_ref(t, "tag_ids") for t in tag_ids])


class ActivityPatch(InstancePatch):
    """Builder for activity edits (status uses ``live``, not ``approved``)."""

    def set_status(self, status: ActivityStatus | str) -> ActivityPatch:
        """Set ``xdm:status`` (draft, live, archived)."""
        return self._set_status(status, ActivityStatus)

    def set_calendar(
        self, start_date: str | dt.datetime | None = None, end_date: str | dt.datetime | None = None
    ) -> ActivityPatch:
        """Set the activity's top-level ``xdm:startDate`` / ``xdm:endDate``."""
        if start_date is not None:
            self.set("xdm:startDate", value=_date(start_date, "start_date"))
        if end_date is not None:
            self.set("xdm:endDate", value=_date(end_date, "end_date"))
        return self

    def set_reference(self, name: str, target_id: str) -> ActivityPatch:
        """Set ``xdm:placement``, ``xdm:filter`` or ``xdm:fallback`` (``name`` without the prefix)."""
        if name not in ("placement", "filter", "fallback"):
            raise ValidationError("name must be placement, filter or fallback", field="name")
        return self.set(f"xdm:{name}", value=_ref(target_id, name))


_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})


def patch_operations(operations: Any) -> list[dict[str, Any]]:
    """Validate an RFC 6902 document (a list of operations, or a builder) and return it as plain dicts."""
    if isinstance(operations, InstancePatch):
        ops: Any = operations.operations
    elif isinstance(operations, Mapping | str | bytes) or not isinstance(operations, Sequence):
        raise ValidationError("operations must be a list of JSON Patch operations", field="operations")
    else:
        ops = operations
    out: list[dict[str, Any]] = []
    for i, op in enumerate(ops):
        where = f"operations[{i}]"
        if not isinstance(op, Mapping):
            raise ValidationError(f"{where} must be a dict", field=where)
        name, path = op.get("op"), op.get("path")
        if name not in _OPS:
            raise ValidationError(f"{where}.op must be one of {', '.join(sorted(_OPS))}, got {name!r}", field=where)
        if not isinstance(path, str) or (path and not path.startswith("/")):
            raise ValidationError(f"{where}.path must be a JSON Pointer, got {path!r}", field=where)
        if name in ("add", "replace", "test") and "value" not in op:
            raise ValidationError(f"{where} ({name}) needs a value", field=where)
        if name in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str) or (source and not source.startswith("/")):
                raise ValidationError(f"{where} ({name}) needs a 'from' JSON Pointer", field=where)
        out.append({k: _plain(v) for k, v in op.items()})
    if not out:
        raise ValidationError("operations is empty: nothing to patch", field="operations")
    return out
