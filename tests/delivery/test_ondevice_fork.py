"""A forked child (gunicorn's preload) restarts on-device polling cleanly (issue #12)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from target_async.testing import serve

from .ondevice_server import OnDeviceServer, fixture

pytestmark = [pytest.mark.fork, pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")]

SCRIPT = textwrap.dedent(
    """
    import asyncio, os, sys
    from target_async import AsyncTargetClient
    from target_async.models import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest, VisitorId

    url = sys.argv[1]
    request = DeliveryRequest(
        id=VisitorId(tnt_id="v.28_0"),
        context=Context(channel=ChannelType.WEB),
        execute=ExecuteRequest(mboxes=[MboxRequest(name="mbox-magician", index=1)]),
    )

    def make():
        return AsyncTargetClient(
            client="someClientId", organization_id="someOrgId@AdobeOrg", decisioning_method="on-device",
            artifact_location=url + "/someClientId/production/v1/rules.json", polling_interval=0,
            server_domain=url.removeprefix("http://"), secure=False, telemetry_enabled=False,
        )

    async def use(client, who):
        async with client:
            result = await client.get_offers(request=request)
            print(who, result.meta.decisioning_method, client.artifact_status.retrieval_count, flush=True)

    preloaded = make()  # built before the fork, used only in the child (gunicorn --preload)
    parent_client = make()
    asyncio.run(use(parent_client, "parent"))  # the parent's own polling ran on the parent's loop
    pid = os.fork()
    if pid == 0:
        try:
            asyncio.run(use(preloaded, "child-preloaded"))
            asyncio.run(use(make(), "child-new"))
        except BaseException as exc:
            print("child failed", repr(exc), flush=True)
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    print("child status", status, flush=True)
    """
)


@pytest.fixture
def server() -> Iterator[tuple[OnDeviceServer, str]]:
    state = OnDeviceServer(fixture("TEST_ARTIFACT_AB_SIMPLE"))
    with serve(state.app) as url:
        yield state, url


def test_forked_child_downloads_and_decides(server) -> None:
    state, url = server
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", SCRIPT, url], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "parent on-device 1" in lines
    assert "child-preloaded on-device 1" in lines
    assert "child-new on-device 1" in lines
    assert "child status 0" in lines, done.stdout + done.stderr
    assert len(state.artifact_requests) == 3
