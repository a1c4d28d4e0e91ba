"""``target-async demo``: the whole mission against an embedded emulator, with no network and no setup.

It starts the emulator on a free loopback port and then, over real HTTP:

1. manages offers as code: a placement, tags, an eligibility rule, offers with representations, calendar,
   caps and priorities, an offer filter, a fallback and a live activity;
2. pages, filters and searches them;
3. patches with ``If-Match``, provokes a 409 and recovers from it;
4. deletes a referenced offer (rejected after polling) and a free one (confirmed);
5. decides 1,000 visitors concurrently with ``get_offers_many`` and shows allocation, caps and cookies;
6. makes a few legacy callback calls through ``TargetClient``;
7. decides on-device: downloads the emulator's rules artifact (its fixtures compiled into one), decides 10,000
   visitors locally and a sample of them server-side (decisions/s of each), and checks that each visitor of the
   sample got the same experience both ways;
8. publishes a changed artifact through the emulator's admin route and shows the client's poll
   (``refresh_artifact()``) picking it up: the server decides with it at once, the client after its poll.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from typing import Any

import anyio

from ._demo_common import AB_MBOX, FIXTURES, PLACEMENT, _Progress, _say, _step
from ._demo_ondevice import _ondevice
from ._demo_repository import _repository
from .delivery import AsyncTargetClient, TargetDeliveryResponse
from .emulator import create_app
from .models import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest, VisitorId
from .repository import AsyncRepositoryClient
from .sync import TargetClient
from .testing import EMULATOR_CLIENT, EMULATOR_ORG_ID, serve

__all__ = ["run_demo"]


def _offer_name(result: TargetDeliveryResponse | BaseException, mbox: str) -> str:
    if isinstance(result, BaseException):
        return f"error: {type(result).__name__}"
    execute = result.response.execute
    for item in (execute.mboxes or []) if execute is not None else []:
        if item.name == mbox:
            for option in item.options or []:
                tokens = option.response_tokens or {}
                return str(tokens.get("offer.name") or tokens.get("experience.name") or option.content)
    return "(nothing)"


def _content(result: TargetDeliveryResponse | BaseException, mbox: str) -> str:
    if isinstance(result, BaseException):
        return f"error: {type(result).__name__}"
    execute = result.response.execute
    for item in (execute.mboxes or []) if execute is not None else []:
        if item.name == mbox and item.options:
            return str(item.options[0].content)
    return "(nothing)"


async def _decide(base: str, visitors: int) -> None:
    _step(5, f"Deciding {visitors:,} visitors concurrently (get_offers_many)")
    async with AsyncTargetClient(
        client=EMULATOR_CLIENT, organization_id=EMULATOR_ORG_ID, server_domain=base, secure=False
    ) as target:
        items: list[dict[str, Any]] = []
        for n in range(visitors):
            profile = {"tier": "gold"} if n % 10 == 0 else {"tier": "silver"}
            request = DeliveryRequest(
                context=Context(channel=ChannelType.WEB),
                id=VisitorId(tnt_id=f"visitor-{n:05d}"),
                execute=ExecuteRequest(
                    mboxes=[
                        MboxRequest(name=PLACEMENT, index=0, profile_parameters=profile),
                        MboxRequest(name=AB_MBOX, index=1),
                    ]
                ),
            )
            items.append({"request": request, "session_id": f"session-{n:05d}"})
        progress = _Progress(visitors)
        started = time.monotonic()
        results = await target.get_offers_many(items, concurrency=64, return_exceptions=True, progress=progress)
        elapsed = time.monotonic() - started
        _say(f"   {visitors:,} decisions in {elapsed:.2f} s ({visitors / elapsed:,.0f} calls/s, 64 in flight)")
        offers = Counter(_offer_name(r, PLACEMENT) for r in results)
        _say(f"   {PLACEMENT}: " + ", ".join(f"{name} {count}" for name, count in offers.most_common()))
        _say("     gold tier (10 %) -> 'Gold members' (rule); 'Flash deal' stops at its global cap of 100;")
        _say("     'Last year's sale' never shows (its calendar has ended)")
        ab = Counter(_content(r, AB_MBOX) for r in results)
        _say(f"   {AB_MBOX} A/B fixture: " + ", ".join(f"{k} {v / visitors:.1%}" for k, v in sorted(ab.items())))
        again = await target.get_offers(request=items[7]["request"])
        same = _content(again, AB_MBOX) == _content(results[7], AB_MBOX)
        _say(f"   visitor-00007 again -> same experience: {same}")
        first = results[0]
        if not isinstance(first, BaseException) and first.target_cookie is not None:
            cookie = first.target_cookie
            _say(f"   cookie {cookie.name}={cookie.value} (Max-Age {cookie.max_age})")
        _say(f"   edge routing: location hint {target.target_location_hint!r} (the emulator names no edge cluster)")


def _legacy(base: str) -> None:
    _step(6, "Legacy callback calls (TargetClient, as the official SDK documents it)")
    ready = threading.Event()
    seen: dict[str, str] = {}

    def client_ready_callback() -> None:
        seen["ready"] = threading.current_thread().name
        ready.set()

    client = TargetClient.create(
        {
            "client": EMULATOR_CLIENT,
            "organization_id": EMULATOR_ORG_ID,
            "server_domain": base,
            "secure": False,
            "events": {"client_ready": client_ready_callback},
        }
    )
    try:
        ready.wait(5)
        _say(f"   client_ready fired on thread {seen.get('ready')!r}")
        request = DeliveryRequest(
            context=Context(channel=ChannelType.WEB),
            execute=ExecuteRequest(mboxes=[MboxRequest(name=AB_MBOX, index=1)]),
        )
        got: list[Any] = []

        def on_response(response: Any) -> None:
            got.append((threading.current_thread().name, response))

        def on_error(error: BaseException) -> None:
            got.append((threading.current_thread().name, error))

        results = [
            client.get_offers({"request": request, "callback": on_response, "err_callback": on_error}) for _ in range(5)
        ]
        values = [r.get(timeout=10) for r in results]
        threads = sorted({name for name, _ in got})
        same = all(any(v is resp for _, resp in got) for v in values)
        _say(f"   5 calls with callback: {len(got)} callbacks on {threads}; get() returned the same responses: {same}")
        blocking = client.get_offers({"request": request, "session_id": "legacy-1"})
        _say(f"   blocking call -> {_content(blocking, AB_MBOX)}; result['target_cookie']['name'] = 'mbox'")
    finally:
        client.close()


def run_demo(*, visitors: int = 1000, ondevice_visitors: int = 10_000, server_sample: int = 1000) -> int:
    """Run the demonstration; return the exit status.

    ``visitors``: decided server-side in step 5; ``ondevice_visitors``: decided on-device in step 7, of which the
    first ``server_sample`` are decided server-side too (the decisions/s figure and the agreement check). The
    status is 1 when a visitor got a different experience on-device than server-side, 2 for a bad argument.
    """
    for name, value in (
        ("--visitors", visitors),
        ("--on-device-visitors", ondevice_visitors),
        ("--server-sample", server_sample),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            sys.stderr.write(f"target-async demo: {name} must be a positive integer, not {value!r}\n")
            return 2
    started = time.monotonic()
    app = create_app(fixtures=FIXTURES, delete_pending_polls=2, delete_retry_after=0, seed=7)
    with serve(app) as url:
        base = url.removeprefix("http://")
        _say(f"target-async demo: embedded emulator at {url} (in-memory SQLite, no network)")

        async def main() -> None:
            async with AsyncRepositoryClient(
                access_token="demo-token",
                api_key="demo-key",
                org_id=EMULATOR_ORG_ID,
                sandbox_name="prod",
                base_url=f"{url}/data/core/xcore/",
            ) as repo:
                await _repository(repo)
            await _decide(base, visitors)

        anyio.run(main)
        _legacy(base)
        agree = anyio.run(_ondevice, url, ondevice_visitors, server_sample)
    _say(f"\ndone in {time.monotonic() - started:.1f} s")
    if not agree:
        _say("on-device and server-side decisions differ (see step 7): exit status 1")
        return 1
    return 0
