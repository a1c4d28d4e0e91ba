"""The repository's entities (the ``_instance`` payload of each business object) and their nested parts.

Re-exported by :mod:`.repository`.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import attrs

from .._types import WireEnum

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
