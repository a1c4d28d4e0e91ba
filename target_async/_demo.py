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

import datetime as dt
import json
import sys
import threading
import time
import urllib.request
from collections import Counter
from typing import Any

import anyio

from ._exceptions import ConflictError, DeleteRejectedError
from .delivery import AsyncTargetClient, TargetDeliveryResponse
from .emulator import create_app
from .models import (
    ChannelType,
    Context,
    DeliveryRequest,
    ExecuteRequest,
    MboxRequest,
    PrefetchRequest,
    VisitorId,
)
from .repository import (
    Activity,
    ActivityStatus,
    AsyncRepositoryClient,
    CappingConstraint,
    Component,
    ComponentType,
    Condition,
    EligibilityRule,
    FallbackOffer,
    FilterType,
    OfferFilter,
    OfferPatch,
    OfferStatus,
    PersonalizedOffer,
    Placement,
    Rank,
    Representation,
    Schema,
    SelectionConstraint,
    Tag,
)
from .sync import TargetClient
from .testing import EMULATOR_CLIENT, EMULATOR_ORG_ID, serve

__all__ = ["run_demo"]

PLACEMENT = "home-hero"
AB_MBOX = "checkout-button"
FIXTURES: dict[str, Any] = {
    "mboxes": {
        AB_MBOX: {
            "experiences": [
                {"name": "A (green)", "weight": 50, "options": [{"type": "json", "content": {"color": "green"}}]},
                {"name": "B (orange)", "weight": 50, "options": [{"type": "json", "content": {"color": "orange"}}]},
            ]
        }
    }
}


def _say(text: str = "") -> None:
    print(text, flush=True)


def _step(number: int, title: str) -> None:
    _say(f"\n{number}. {title}")


def _iso(delta_days: float) -> str:
    moment = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=delta_days)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _html(placement_id: str, text: str) -> list[Representation]:
    component = Component(at_type=ComponentType.HTML, dc_format="text/html", xdm_content=f"<h1>{text}</h1>")
    return [Representation(xdm_placement=placement_id, xdm_components=[component])]


class _Progress:
    """A one-line progress bar, redrawn at most 20 times."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.shown = -1
        self.live = sys.stdout.isatty()

    def __call__(self, done: int, total: int) -> None:
        step = done * 20 // total
        if step != self.shown and (self.live or done == total):
            self.shown = step
            bar = "#" * step + "." * (20 - step)
            end = "\n" if done == total else ""
            sys.stdout.write(f"\r   [{bar}] {done:>5}/{total}{end}")
            sys.stdout.flush()


async def _repository(repo: AsyncRepositoryClient) -> dict[str, Any]:
    _step(1, "Offers as code (repository API)")
    containers = await repo.list_containers(["dma_offers", "acp"])
    cid = containers[0].instance_id
    _say(f"   container {cid} ({', '.join(containers[0].product_contexts or [])})")

    placement = await repo.create_instance(
        cid,
        Schema.PLACEMENT,
        Placement(
            xdm_name=PLACEMENT,
            xdm_channel="https://ns.adobe.com/xdm/channels/web",
            xdm_component_type=ComponentType.HTML,
            xdm_content_types=["text/html"],
        ),
    )
    pid = placement.id or ""
    summer = await repo.create_instance(cid, Schema.TAG, Tag(xdm_name="summer"))
    loyalty = await repo.create_instance(cid, Schema.TAG, Tag(xdm_name="loyalty"))
    rule = await repo.create_instance(
        cid,
        Schema.ELIGIBILITY_RULE,
        EligibilityRule(
            xdm_name="Gold members",
            xdm_condition=Condition(xdm_value='profile.tier = "gold"', xdm_format="pql/text", xdm_type="PQL"),
        ),
    )
    _say(f"   placement {PLACEMENT!r} {pid}, tags summer/loyalty, rule 'Gold members'")

    specs: list[tuple[str, PersonalizedOffer]] = [
        (
            "Gold members",
            PersonalizedOffer(
                xdm_rank=Rank(xdm_priority=20),
                xdm_selection_constraint=SelectionConstraint(xdm_eligibility_rule=rule.id),
                xdm_tags=[loyalty.id or ""],
            ),
        ),
        (
            "Flash deal",
            PersonalizedOffer(
                xdm_rank=Rank(xdm_priority=10),
                xdm_capping_constraint=CappingConstraint(xdm_global_cap=100),
                xdm_tags=[summer.id or ""],
            ),
        ),
        (
            "Summer sale",
            PersonalizedOffer(
                xdm_rank=Rank(xdm_priority=5),
                xdm_selection_constraint=SelectionConstraint(xdm_start_date=_iso(-1), xdm_end_date=_iso(30)),
                xdm_tags=[summer.id or ""],
            ),
        ),
        (
            "Last year's sale",
            PersonalizedOffer(
                xdm_rank=Rank(xdm_priority=50),
                xdm_selection_constraint=SelectionConstraint(xdm_start_date=_iso(-400), xdm_end_date=_iso(-300)),
            ),
        ),
        ("Unused draft", PersonalizedOffer(xdm_status=OfferStatus.DRAFT)),
    ]
    offers: dict[str, Any] = {}
    for name, offer in specs:
        offer.xdm_name = name
        offer.xdm_status = offer.xdm_status or OfferStatus.APPROVED
        offer.xdm_representations = _html(pid, name)
        offers[name] = await repo.create_instance(cid, Schema.PERSONALIZED_OFFER, offer)
    _say(f"   {len(offers)} offers: " + ", ".join(offers))

    selected = [offers[n].id or "" for n in ("Gold members", "Flash deal", "Summer sale", "Last year's sale")]
    collection = await repo.create_instance(
        cid, Schema.OFFER_FILTER, OfferFilter(xdm_name="Home offers", xdm_filter_type=FilterType.OFFERS, ids=selected)
    )
    fallback = await repo.create_instance(
        cid,
        Schema.FALLBACK_OFFER,
        FallbackOffer(xdm_name="Default banner", xdm_status=OfferStatus.APPROVED, xdm_representations=_html(pid, "Hi")),
    )
    activity = await repo.create_instance(
        cid,
        Schema.ACTIVITY,
        Activity(
            xdm_name="Home page",
            xdm_status=ActivityStatus.LIVE,
            xdm_placement=pid,
            xdm_filter=collection.id,
            xdm_fallback=fallback.id,
            xdm_start_date=_iso(-1),
            xdm_end_date=_iso(60),
        ),
    )
    _say(f"   filter 'Home offers' (4 offers), fallback 'Default banner', live activity {activity.id}")

    _step(2, "Paging, filtering, search")
    pages = 0
    names: list[str] = []
    async for page in repo.iter_pages(cid, Schema.PERSONALIZED_OFFER, order_by="+_instance.xdm:name", limit=2):
        pages += 1
        names += [str(item.instance.get("xdm:name")) for item in page.results]
    _say(f"   {len(names)} offers in {pages} pages of 2, by name: {', '.join(names)}")
    approved = [
        i.instance["xdm:name"]
        async for i in repo.list_instances(cid, Schema.PERSONALIZED_OFFER, filters=["_instance.xdm:status==approved"])
    ]
    _say(f"   filter _instance.xdm:status==approved -> {len(approved)} offers")
    found = [
        i.instance["xdm:name"]
        async for i in repo.search_instances(cid, Schema.PERSONALIZED_OFFER, "sale", fields=["_instance.xdm:name"])
    ]
    _say(f"   search q='sale' in xdm:name -> {', '.join(found)}")

    _step(3, "Optimistic concurrency (If-Match)")
    target = offers["Summer sale"]
    current = await repo.get_instance(cid, target.instance_id, Schema.PERSONALIZED_OFFER)
    assert current is not None
    patch = OfferPatch(current).set_priority(6).add_tag(loyalty.id or "")
    receipt = await repo.patch_instance(
        cid, target.instance_id, Schema.PERSONALIZED_OFFER, patch, if_match=current.etag
    )
    _say(f'   patch priority 5 -> 6 with If-Match "{current.etag}" -> etag {receipt.etag}')
    try:
        await repo.patch_instance(cid, target.instance_id, Schema.PERSONALIZED_OFFER, patch, if_match=current.etag)
    except ConflictError as exc:
        _say(f'   the same patch again with the stale If-Match "{current.etag}" -> {exc.status} {type(exc).__name__}')

    def bump(instance: Any) -> None:
        instance.instance["xdm:rank"]["xdm:priority"] = 7

    receipt = await repo.update_with_retry(cid, target.instance_id, Schema.PERSONALIZED_OFFER, bump)
    _say(f"   recovered with update_with_retry (re-read, modify, conditional PUT) -> priority 7, etag {receipt.etag}")

    _step(4, "Deleting with polling (202 Accepted)")
    operation = await repo.begin_delete(cid, target.instance_id)
    polls = 0
    while not operation.done():
        polls += 1
        await operation.poll_once()
    try:
        await operation.result()
    except DeleteRejectedError as exc:
        refs = ", ".join(f"{r.get('@id')}" for r in exc.referenced_by)
        _say(f"   delete 'Summer sale' -> rejected after {polls} polls: referenced by {refs}")
    outcome = await repo.delete_instance(cid, offers["Unused draft"].instance_id)
    _say(f"   delete 'Unused draft' -> {outcome.status}")
    return {"container": cid, "fallback": "Default banner"}


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
