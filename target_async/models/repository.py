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
from typing import Any, ClassVar, Literal, TypeVar

import attrs

from .._types import WireEnum

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

_NS = "https://ns.adobe.com/experience/"
E = TypeVar("E", bound="Entity")


class Schema(WireEnum):
    """The schema ids of the repository (unversioned; the server may report them with ``;version=x.y``)."""

    CONTAINER = _NS + "xcore/container"
    RESULTS = _NS + "xcore/hal/results"  # only used as a media-type parameter and ``@type`` of list results
    PERSONALIZED_OFFER = _NS + "offer-management/personalized-offer"
    FALLBACK_OFFER = _NS + "offer-management/fallback-offer"
    PLACEMENT = _NS + "offer-management/offer-placement"
    ELIGIBILITY_RULE = _NS + "offer-management/eligibility-rule"
    TAG = _NS + "offer-management/tag"
    OFFER_FILTER = _NS + "offer-management/offer-filter"
    ACTIVITY = _NS + "offer-management/offer-activity"


class OfferStatus(WireEnum):
    """``xdm:status`` of personalized and fallback offers."""

    DRAFT = "draft"
    APPROVED = "approved"
    ARCHIVED = "archived"


class ActivityStatus(WireEnum):
    """``xdm:status`` of activities (``live``, not ``approved``)."""

    DRAFT = "draft"
    LIVE = "live"
    ARCHIVED = "archived"


class FilterType(WireEnum):
    """``xdm:filterType`` of an offer filter: what its ``ids`` list holds and how tags combine."""

    OFFERS = "offers"
    ANY_TAGS = "anyTags"
    ALL_TAGS = "allTags"


class ComponentType(WireEnum):
    """The predefined content component types (the list is extensible: other URIs are kept as strings)."""

    IMAGELINK = _NS + "offer-management/content-component-imagelink"
    TEXT = _NS + "offer-management/content-component-text"
    HTML = _NS + "offer-management/content-component-html"


def _extras() -> Any:
    return attrs.field(factory=dict, eq=False, repr=False)


class Entity:
    """Base of the typed business objects; ``__schema__`` names the schema an instance is created with."""

    __slots__ = ()
    __schema__: ClassVar[Schema]

    def to_dict(self) -> dict[str, Any]:
        """The wire form (the ``_instance`` dict), ``None`` fields left out, extras written back."""
        from .._serde import unstructure

        out: dict[str, Any] = unstructure(self)
        return out

    @classmethod
    def from_dict(cls: type[E], data: Any) -> E:
        """Build the entity from its wire form; invalid data raises ``ValidationError`` naming the field."""
        from .._serde import structure

        return structure(data, cls, what="instance")


# --- nested parts -----------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class Component:
    """A content fragment of a representation (``xdm:components[]``)."""

    __wire_names__: ClassVar[dict[str, str]] = {
        "repo_resolve_url": "repo:resolveURL",
        "xdm_link_url": "xdm:linkURL",
        "xdm_delivery_url": "xdm:deliveryURL",
        "offerui_preview_thumbnail": "offerui:previewThumbnail",
    }
    at_type: ComponentType | None = None
    repo_id: str | None = None
    repo_name: str | None = None
    repo_resolve_url: str | None = None
    dc_format: str | None = None
    dc_language: list[str] | None = None
    xdm_link_url: str | None = None
    xdm_copyline: str | None = None
    xdm_delivery_url: str | None = None
    xdm_content: str | None = None
    offerui_preview_thumbnail: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Representation:
    """One placement-specific rendering of an offer (``xdm:representations[]``)."""

    xdm_placement: str | None = None
    xdm_channel: str | None = None
    xdm_components: list[Component] | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class SelectionConstraint:
    """Calendar and eligibility constraint of a personalized offer."""

    xdm_start_date: str | None = None
    xdm_end_date: str | None = None
    xdm_eligibility_rule: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class CappingConstraint:
    """Caps on how often an offer is proposed (each an integer >= 1, each optional)."""

    xdm_global_cap: int | None = None
    xdm_profile_cap: int | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Rank:
    """Base priority of a personalized offer (integer >= 0)."""

    xdm_priority: int | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Condition:
    """The condition of an eligibility rule: a PQL expression, stored opaquely."""

    xdm_value: str | None = None
    xdm_format: str | None = None
    xdm_type: str | None = None
    extras: dict[str, Any] = _extras()


# --- entities ---------------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class PersonalizedOffer(Entity):
    """A personalized offer (schema ``offer-management/personalized-offer``)."""

    __schema__: ClassVar[Schema] = Schema.PERSONALIZED_OFFER
    at_id: str | None = None
    xdm_name: str | None = None
    xdm_status: OfferStatus | None = None
    xdm_characteristics: dict[str, str] | None = None
    xdm_representations: list[Representation] | None = None
    xdm_selection_constraint: SelectionConstraint | None = None
    xdm_capping_constraint: CappingConstraint | None = None
    xdm_rank: Rank | None = None
    xdm_tags: list[str] | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class FallbackOffer(Entity):
    """A fallback offer: the general offer properties, but no constraints and no rank."""

    __schema__: ClassVar[Schema] = Schema.FALLBACK_OFFER
    at_id: str | None = None
    xdm_name: str | None = None
    xdm_status: OfferStatus | None = None
    xdm_characteristics: dict[str, str] | None = None
    xdm_representations: list[Representation] | None = None
    xdm_tags: list[str] | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Placement(Entity):
    """An offer placement: where (channel) and what kind of content (component type) an offer shows."""

    __schema__: ClassVar[Schema] = Schema.PLACEMENT
    at_id: str | None = None
    xdm_name: str | None = None
    xdm_description: str | None = None
    xdm_channel: str | None = None
    xdm_component_type: ComponentType | None = None
    xdm_content_types: list[str] | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class EligibilityRule(Entity):
    """An eligibility rule (a PQL condition an offer's profile must satisfy)."""

    __schema__: ClassVar[Schema] = Schema.ELIGIBILITY_RULE
    at_id: str | None = None
    xdm_name: str | None = None
    xdm_description: str | None = None
    xdm_condition: Condition | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Tag(Entity):
    """A tag (its ``xdm:name`` must be unique among tags)."""

    __schema__: ClassVar[Schema] = Schema.TAG
    at_id: str | None = None
    xdm_name: str | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class OfferFilter(Entity):
    """An offer filter (collection): offers by id, or by any/all of a list of tags."""

    __schema__: ClassVar[Schema] = Schema.OFFER_FILTER
    __wire_names__: ClassVar[dict[str, str]] = {"ids": "ids"}  # no xdm: prefix on the wire
    at_id: str | None = None
    xdm_name: str | None = None
    xdm_filter_type: FilterType | None = None
    ids: list[str] | None = None
    extras: dict[str, Any] = _extras()


@attrs.define(kw_only=True)
class Activity(Entity):
    """An offer activity (decision): placement, filter and fallback references plus a calendar."""

    __schema__: ClassVar[Schema] = Schema.ACTIVITY
    at_id: str | None = None
    xdm_name: str | None = None
    xdm_start_date: str | None = None
    xdm_end_date: str | None = None
    xdm_status: ActivityStatus | None = None
    xdm_placement: str | None = None
    xdm_filter: str | None = None
    xdm_fallback: str | None = None
    extras: dict[str, Any] = _extras()


_ENTITIES: dict[str, type[Entity]] = {
    cls.__schema__.value: cls
    for cls in (PersonalizedOffer, FallbackOffer, Placement, EligibilityRule, Tag, OfferFilter, Activity)
}


def entity_class(schema: str) -> type[Entity] | None:
    """The entity class of ``schema`` (``;version=`` and surrounding quotes ignored), or None."""
    return _ENTITIES.get(str(schema).strip().strip('"').split(";", 1)[0].strip())


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
