"""attrs models of the decisioning repository ("xcore") API.

Two families:

* **Entities** (the ``_instance`` payload of each business object): :class:`PersonalizedOffer`,
  :class:`FallbackOffer`, :class:`Placement`, :class:`EligibilityRule`, :class:`Tag`, :class:`OfferFilter`,
  :class:`Activity` and their nested parts. Attribute names carry the wire namespace
  (``xdm_start_date`` is ``xdm:startDate``, ``at_id`` is ``@id``) through the one naming rule of
  :mod:`target_async._serde`; irregular keys (``repo:resolveURL``, ``xdm:linkURL``, the filter's bare
  ``ids``) are listed in ``__wire_names__``. An entity can be passed wherever an instance dict is accepted.
* **Envelopes** (what the repository wraps around an instance): :class:`Receipt`, :class:`Instance`,
  :class:`Page`, :class:`Container`, :class:`DeleteOutcome`. Their attributes have plain names
  (``etag`` for ``repo:etag``, ``id`` for ``@id``, ``instance`` for ``_instance``, ``links`` for ``_links``).

Every field but a few envelope identifiers defaults to ``None``, and ``None`` is left out of the JSON. The
last field of every class, ``extras``, keeps the keys the model does not know, and the converter writes them
back, so a read-modify-PUT never drops data the server sent.

Typed access to a read instance: ``instance.as_(PersonalizedOffer)`` structures ``instance.instance`` into
the given class; ``instance.entity`` picks the class from ``instance.schemas`` (``None`` for a schema this
SDK has no class for). ``entity.to_dict()`` / ``Entity.from_dict(d)`` convert explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import attrs

from ._entities import (
    Activity,
    ActivityStatus,
    CappingConstraint,
    Component,
    ComponentType,
    Condition,
    E,
    EligibilityRule,
    Entity,
    FallbackOffer,
    FilterType,
    OfferFilter,
    OfferStatus,
    PersonalizedOffer,
    Placement,
    Rank,
    Representation,
    Schema,
    SelectionConstraint,
    Tag,
    _extras,
    entity_class,
)

__all__ = [
    "Activity",
    "ActivityStatus",
    "CappingConstraint",
    "Component",
    "ComponentType",
    "Condition",
    "Container",
    "DeleteOutcome",
    "EligibilityRule",
    "Entity",
    "FallbackOffer",
    "FilterType",
    "Instance",
    "OfferFilter",
    "OfferStatus",
    "Page",
    "PersonalizedOffer",
    "Placement",
    "Rank",
    "Receipt",
    "Representation",
    "Schema",
    "SelectionConstraint",
    "Tag",
    "entity_class",
]


# --- envelopes --------------------------------------------------------------------------------------

_ENVELOPE_NAMES = {
    "id": "@id",
    "etag": "repo:etag",
    "created_date": "repo:createdDate",
    "last_modified_date": "repo:lastModifiedDate",
    "created_by": "repo:createdBy",
    "last_modified_by": "repo:lastModifiedBy",
    "created_by_client_id": "repo:createdByClientId",
    "last_modified_by_client_id": "repo:lastModifiedByClientId",
    # not a wire field: the SDK fills it in from headers and links (kept off the usual keys on purpose)
    "location": "location",
}


@attrs.define(kw_only=True)
class Receipt:
    """The answer to a create, update, patch or delete: identifiers, revision and audit fields.

    ``location`` is the absolute URL of the instance (the ``Location`` header resolved against the
    repository base, see :func:`target_async.repository.resolve_href`).
    """

    __wire_names__: ClassVar[dict[str, str]] = _ENVELOPE_NAMES
    instance_id: str
    id: str | None = None
    etag: int | None = None
    created_date: str | None = None
    last_modified_date: str | None = None
    created_by: str | None = None
    last_modified_by: str | None = None
    created_by_client_id: str | None = None
    last_modified_by_client_id: str | None = None
    location: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Instance:
    """A stored instance: the envelope plus the instance payload (``instance``, a plain dict).

    ``id`` is the instance's ``@id`` (taken from ``_instance`` when the envelope has none), ``links`` the HAL
    links, ``location`` the absolute URL of its ``self`` link.
    """

    __wire_names__: ClassVar[dict[str, str]] = _ENVELOPE_NAMES
    instance_id: str
    instance: dict[str, Any]
    id: str | None = None
    schemas: list[str] | None = None
    etag: int | None = None
    created_date: str | None = None
    last_modified_date: str | None = None
    created_by: str | None = None
    last_modified_by: str | None = None
    created_by_client_id: str | None = None
    last_modified_by_client_id: str | None = None
    product_contexts: list[str] | None = None
    sandbox_name: str | None = None
    links: dict[str, Any] | None = None
    location: str | None = None
    extras: dict[str, Any] = _extras()

    def as_(self, cls: type[E]) -> E:
        """The payload as a typed entity of class ``cls`` (raises ``ValidationError`` if it does not fit)."""
        return cls.from_dict(self.instance)

    @property
    def entity(self) -> Entity | None:
        """The payload as the entity class of the first known schema in ``schemas``, or None."""
        for schema in self.schemas or ():
            cls = entity_class(schema)
            if cls is not None:
                return cls.from_dict(self.instance)
        return None


@attrs.define(kw_only=True)
class Container:
    """A container (the isolation unit all instances live in); ``instance_id`` is the container id."""

    __wire_names__: ClassVar[dict[str, str]] = _ENVELOPE_NAMES
    instance_id: str
    schemas: list[str] | None = None
    product_contexts: list[str] | None = None
    etag: int | None = None
    created_date: str | None = None
    last_modified_date: str | None = None
    created_by: str | None = None
    last_modified_by: str | None = None
    created_by_client_id: str | None = None
    last_modified_by_client_id: str | None = None
    instance: dict[str, Any] | None = None
    links: dict[str, Any] | None = None
    location: str | None = None
    extras: dict[str, Any] = _extras()

    @property
    def container_id(self) -> str:
        """The id to pass as ``container_id`` to the instance APIs."""
        return self.instance_id

    @property
    def name(self) -> str | None:
        """``_instance.repo:name``."""
        value = (self.instance or {}).get("repo:name")
        return value if isinstance(value, str) else None


@attrs.define(kw_only=True)
class Page:
    """One page of a list or search.

    Attributes:
        results: the instances of this page (``len(page)`` may differ from the requested ``limit``).
        count: the server's item count of this page.
        total: the number of matching items *from this page on* (the tutorial's definition).
        next: the absolute URL of the next page when the server sent ``_links.next``, else None.
    """

    results: list[Instance]
    count: int | None = None
    total: int | None = None
    next: str | None = None
    request_time: str | None = None
    container_id: str | None = None
    schema_ns: str | None = None
    links: dict[str, Any] | None = None
    extras: dict[str, Any] = _extras()

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[Instance]:
        return iter(self.results)


@attrs.define(kw_only=True)
class DeleteOutcome:
    """The known outcome of a delete.

    Attributes:
        status: ``"confirmed"`` or ``"rejected"``.
        instance_id: the deleted (or kept) instance.
        id: its ``@id`` when the server reported it.
        referenced_by: the instances that still reference it (rejections), as
            ``{"instanceId", "@id", "schema"}`` dicts.
        reason: the server's reason text, if any.
        receipt: the receipt fields of the outcome body (None when the server sent no body).
        verified: False only for a ``202`` without ``Location`` that was not confirmed by reading
            (``confirm_with_get=False``): accepted, outcome not observed.
        extras: the outcome body keys not represented above.
    """

    status: Literal["confirmed", "rejected"]
    instance_id: str | None = None
    id: str | None = None
    referenced_by: list[dict[str, Any]] = attrs.field(factory=list)
    reason: str | None = None
    receipt: Receipt | None = None
    verified: bool = True
    extras: dict[str, Any] = _extras()

    @property
    def confirmed(self) -> bool:
        """Whether the instance was deleted."""
        return self.status == "confirmed"
