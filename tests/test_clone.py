"""The fast request copy equals the converter's round trip, or gives way to it (so errors stay the same)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from target_async._exceptions import ValidationError
from target_async._serde import CloneDoubt, clone, converter
from target_async.delivery._request import copy_request
from target_async.models import (
    ChannelType,
    Context,
    DeliveryRequest,
    DeliveryResponse,
    ExecuteRequest,
    MboxRequest,
    VisitorId,
)

from .test_models_delivery import strategy_for


def round_trip(obj: Any) -> Any:
    return converter.structure(converter.unstructure(obj), type(obj))


@settings(max_examples=150, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=strategy_for(DeliveryRequest), response=strategy_for(DeliveryResponse))
def test_clone_equals_the_round_trip(request: DeliveryRequest, response: DeliveryResponse) -> None:
    for obj in (request, response):
        try:
            copied = clone(obj)
        except CloneDoubt:
            continue
        assert copied == round_trip(obj)
        assert copied is not obj


@settings(max_examples=50, database=None, deadline=None)
@given(extras=st.dictionaries(st.text(max_size=6), st.integers() | st.text(max_size=4), max_size=3))
def test_extras_are_copied_or_the_round_trip_decides(extras: dict[str, Any]) -> None:
    request = DeliveryRequest(request_id="r", extras=extras)
    try:
        copied = clone(request)
    except CloneDoubt:  # an extras key that shadows a field: the converter decides what it means
        assert set(extras) & {"requestId", "id", "context", "execute", "prefetch"}
        return
    assert copied == round_trip(request)
    assert copied.extras is not request.extras


def test_the_copy_is_deep() -> None:
    request = DeliveryRequest(
        id=VisitorId(tnt_id="t"),
        context=Context(channel=ChannelType.WEB),
        execute=ExecuteRequest(mboxes=[MboxRequest(name="a", index=1, parameters={"k": "v"})]),
    )
    copied = copy_request(request)
    assert copied == request
    copied.execute.mboxes[0].parameters["k"] = "changed"  # type: ignore[union-attr,index]
    copied.id.tnt_id = "other"  # type: ignore[union-attr]
    assert request.execute.mboxes[0].parameters == {"k": "v"}  # type: ignore[union-attr,index]
    assert request.id.tnt_id == "t"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (MboxRequest(name="a", index="1"), "request.execute.mboxes[0].index"),  # type: ignore[arg-type]
        (MboxRequest(name=3, index=1), "request.execute.mboxes[0].name"),  # type: ignore[arg-type]
    ],
)
def test_a_wrong_type_still_names_the_field(bad: MboxRequest, field: str) -> None:
    request = DeliveryRequest(execute=ExecuteRequest(mboxes=[bad]))
    with pytest.raises(CloneDoubt):
        clone(request)
    with pytest.raises(ValidationError) as info:
        copy_request(request)
    assert info.value.field == field
