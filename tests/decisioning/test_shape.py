"""Campaign macros and the JavaScript-style printing of their values (on-device.md §6)."""

from __future__ import annotations

import pytest

from target_async.decisioning._shape import copy_json, js_string, render_macros

META = {"activity.id": 7, "activity.name": "Spring", "experience.id": 0, "offer.name": "/o/1", "option.id": 2}
DETAIL = {"name": "hero", "index": 3}
PARAMS = {"user": "Ann", "name": "from-params"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${campaign.name}", "Spring"),
        ("${campaign.id}/${recipe.id}", "7/0"),  # a 0 is a value, not a missing one
        ("${offer.name}", "/o/1"),
        ("${mbox.name}", "hero"),  # the detail's own field before its parameters
        ("${mbox.index}", "3"),
        ("${mbox.user}", "Ann"),
        ("${user}", "Ann"),
        ("${a.b.campaign.name}", "Spring"),  # the last two parts count
        ("${mbox.missing} ${}", "${mbox.missing} ${}"),  # unresolved macros stay as written
        ("no macro $ {x} ${x", "no macro $ {x} ${x"),
    ],
)
def test_macros(text: str, expected: str) -> None:
    assert render_macros(text, META, DETAIL, PARAMS) == expected


def test_macros_in_actions_leave_the_artifact_alone() -> None:
    actions = [{"type": "setHtml", "content": "Hi ${mbox.user}"}, {"type": "setStyle", "content": {"x": "${y}"}}]
    before = copy_json(actions)
    out = render_macros(actions, META, DETAIL, PARAMS)
    assert out == [{"type": "setHtml", "content": "Hi Ann"}, {"type": "setStyle", "content": {"x": "${y}"}}]
    assert actions == before and out[1] is not actions[1]


@pytest.mark.parametrize(
    ("value", "text"), [(True, "true"), (False, "false"), (None, "null"), (1024, "1024"), (2.0, "2"), (1.5, "1.5")]
)
def test_js_string(value: object, text: str) -> None:
    assert js_string(value) == text
