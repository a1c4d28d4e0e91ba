"""Step 7 of ``target-async demo``: on-device decisions against the emulator's artifact (see :mod:`._demo`)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from typing import Any

import anyio

from ._demo_common import AB_MBOX, _say, _step
from .delivery import AsyncTargetClient, TargetDeliveryResponse
from .models import ChannelType, Context, DeliveryRequest, MboxRequest, PrefetchRequest, VisitorId
from .testing import EMULATOR_CLIENT, EMULATOR_ORG_ID

ROLLOUT: dict[str, Any] = {  # the A/B test ends: B for everyone (what step 7 publishes)
    "mboxes": {
        AB_MBOX: {
            "experiences": [
                {"name": "B (orange)", "weight": 100, "options": [{"type": "json", "content": {"color": "orange"}}]}
            ]
        }
    }
}


def _experience(result: TargetDeliveryResponse | BaseException) -> tuple[str, str]:
    """(experience name, content) of the A/B mbox in a prefetch answer: what the visitor would see."""
    if isinstance(result, BaseException):
        return (f"error: {type(result).__name__}: {result}", "")
    prefetch = result.response.prefetch
    for item in (prefetch.mboxes or []) if prefetch is not None else []:
        if item.name == AB_MBOX and item.options:
            option = item.options[0]
            name = (option.response_tokens or {}).get("experience.name")
            return (str(name), str(option.content))
    return ("(nothing)", "")


def _rate(count: int, seconds: float) -> str:
    return f"{count:>6,} visitors in {seconds:5.2f} s  {count / max(seconds, 1e-9):>7,.0f} decisions/s"


def _etag(etag: str | None) -> str:
    return (etag or "-").strip('"')[:12]


def _publish(url: str, fixtures: dict[str, Any]) -> Any:
    """``POST /_emulator/fixtures``: the emulator compiles and publishes them as a new artifact (its summary)."""
    request = urllib.request.Request(
        f"{url}/_emulator/fixtures",
        data=json.dumps(fixtures).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
    with opener.open(request, timeout=10) as answer:
        return json.loads(answer.read())


async def _ondevice(url: str, visitors: int, sample: int) -> bool:
    """Steps 7 and 8; False when a visitor got a different experience on-device than server-side."""
    _step(7, "On-device decisioning (the emulator serves the rules artifact as Target's CDN does)")
    location = f"{url}/{EMULATOR_CLIENT}/production/v1/rules.json"
    async with AsyncTargetClient(
        client=EMULATOR_CLIENT,
        organization_id=EMULATOR_ORG_ID,
        server_domain=url.removeprefix("http://"),
        secure=False,
        decisioning_method="on-device",
        artifact_location=location,  # default: https://assets.adobetarget.com/{client}/production/v1/rules.json
        polling_interval=300,  # the default: a background poll every 5 minutes (If-None-Match: 304 when unchanged)
        telemetry_enabled=False,
    ) as target:
        started = time.monotonic()
        await target.wait_until_ready(timeout=10)
        loaded = time.monotonic() - started
        status = target.artifact_status
        _say(f"   {'artifact':<13} {location}")
        _say(
            f"   {'':<13} ETag {_etag(status.etag)}, {status.mbox_rules} mbox rules (step 5's A/B fixture compiled into"
            f" an artifact), loaded in {loaded * 1000:.0f} ms"
        )

        requests = [
            DeliveryRequest(
                context=Context(channel=ChannelType.WEB),
                id=VisitorId(tnt_id=f"device-{n:05d}"),
                prefetch=PrefetchRequest(mboxes=[MboxRequest(name=AB_MBOX, index=1)]),
            )
            for n in range(visitors)
        ]
        started = time.monotonic()
        local = await target.get_offers_many(requests, concurrency=64, return_exceptions=True)
        local_time = time.monotonic() - started
        sample = min(sample, visitors)
        started = time.monotonic()
        remote = await target.get_offers_many(
            [{"request": r, "decisioning_method": "server-side"} for r in requests[:sample]],
            concurrency=64,
            return_exceptions=True,
        )
        remote_time = time.monotonic() - started
        methods = Counter(
            type(r).__name__ if isinstance(r, BaseException) else r.meta.decisioning_method for r in local
        )
        where = (
            "in-process, no call to the Delivery API"
            if methods == Counter({"on-device": visitors})
            else ", ".join(f"{k} {v:,}" for k, v in methods.most_common())
        )
        _say(f"   {'on-device':<13} {_rate(visitors, local_time)}   ({where})")
        _say(
            f"   {'server-side':<13} {_rate(sample, remote_time)}   (the first {sample:,} of them, over loopback HTTP)"
        )
        if sample < visitors:
            _say(f"   {'':<13} the server-side figure is measured on a sample to keep the demo short")
            _say(
                f"   {'':<13} (--server-sample {visitors} decides them all); a real edge adds network latency per call"
            )

        local_experiences = [_experience(r) for r in local]
        differ = [
            (f"device-{i:05d}", local_experiences[i], _experience(r))
            for i, r in enumerate(remote)
            if _experience(r) != local_experiences[i]
        ]
        _say(
            f"   same experience both ways: {sample - len(differ):,}/{sample:,} visitors decided both ways"
            " (experience and content compared)"
        )
        for tnt, here, there in differ[:5]:
            _say(f"     {tnt}: on-device {here[0]} {here[1]}, server-side {there[0]} {there[1]}")
        if len(differ) > 5:
            _say(f"     ... and {len(differ) - 5:,} more")
        split = Counter(name for name, _ in local_experiences)
        _say(
            f"   on-device allocation of the {visitors:,}: "
            + ", ".join(f"{k} {v / visitors:.1%}" for k, v in sorted(split.items()))
        )

        _step(8, "A new artifact is published; the client's poll picks it up")
        first_a = next((i for i, e in enumerate(local_experiences) if e[0].startswith("A")), 0)
        visitor, tnt = requests[first_a], f"device-{first_a:05d}"
        published = await anyio.to_thread.run_sync(_publish, url, ROLLOUT)
        _say(f"   {'POST /_emulator/fixtures':<26} the A/B test ends, B (orange) for everyone:")
        _say(f"   {'':<26} a new artifact, ETag {_etag(published['etag'])}")
        server_now = _experience(await target.get_offers(request=visitor, decisioning_method="server-side"))
        device_now = _experience(await target.get_offers(request=visitor))
        _say(f"   {tnt:<26} server-side {server_now[0]}, on-device {device_now[0]}")
        _say(f"   {'':<26} (the server decides from the new artifact at once; the client has the old one)")
        started = time.monotonic()
        changed = await target.refresh_artifact()
        took = time.monotonic() - started
        status = target.artifact_status
        _say(
            f"   {'refresh_artifact()':<26} {changed} in {took * 1000:.0f} ms: ETag {_etag(status.etag)}, "
            f"{status.retrieval_count} artifacts loaded"
        )
        _say(f"   {'':<26} (what the background poll does every {status.polling_interval:.0f} s)")
        device_now = _experience(await target.get_offers(request=visitor))
        _say(f"   {tnt:<26} on-device {device_now[0]}")
        again = await target.get_offers_many(requests[:sample], concurrency=64, return_exceptions=True)
        now = Counter(_experience(r)[0] for r in again)
        _say(
            f"   {f'the first {sample:,} again':<26} on-device "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(now.items()))
        )
        unchanged = await target.refresh_artifact()
        _say(f"   {'refresh_artifact()':<26} {unchanged}: 304 Not Modified, nothing downloaded or recompiled")
    return not differ and methods == Counter({"on-device": visitors})
