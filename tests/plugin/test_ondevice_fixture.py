"""``target_ondevice_client``: decides on-device from the artifact the (overridden) emulator app compiles."""

from __future__ import annotations

from typing import Any

import pytest

from target_async import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest, VisitorId
from target_async.testing import emulator_app

FIXTURES = {"mboxes": {"hero": {"experiences": [{"name": "A", "options": [{"type": "json", "content": {"c": 1}}]}]}}}


@pytest.fixture
def target_emulator_app() -> Any:  # the documented override: every client fixture of this module sees FIXTURES
    return emulator_app(fixtures=FIXTURES)


def _hero() -> DeliveryRequest:
    return DeliveryRequest(
        id=VisitorId(tnt_id="visitor-1"),
        context=Context(channel=ChannelType.WEB),
        execute=ExecuteRequest(mboxes=[MboxRequest(name="hero", index=1)]),
    )


async def test_decides_on_device_what_the_server_decides(target_ondevice_client, target_client) -> None:
    local = await target_ondevice_client.get_offers(request=_hero(), session_id="s")
    remote = await target_client.get_offers(request=_hero(), session_id="s")
    assert local.meta.decisioning_method == "on-device"
    assert remote.meta.decisioning_method == "server-side"
    for result in (local, remote):
        assert result.response.execute is not None and result.response.execute.mboxes
        options = result.response.execute.mboxes[0].options
        assert options and options[0].content == {"c": 1}
