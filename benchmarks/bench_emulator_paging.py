"""Repository paging on the emulator: ``AsyncRepositoryClient.list_instances`` through the real ASGI app.

Usage: ``python benchmarks/bench_emulator_paging.py [--instances 10000] [--page-size 100] [--repeats 3]
[--small 1000] [--large 100000] [--samples 41] [--json]``

Everything runs in one process: ``target_async.emulator.create_app()`` (in-memory SQLite) served to the client
through ``httpx.ASGITransport``, so each timed call goes through the client, httpx, Starlette, the emulator's
repository handlers and its store. Two measurements:

1. **Paging throughput**: iterate ``async for instance in repo.list_instances(cid, PERSONALIZED_OFFER,
   limit=--page-size)`` over ``--instances`` personalized offers; the median instances/s of ``--repeats``
   passes.
2. **The issue-5 index check**: p50 of ``--samples`` first-page lists (``limit=50``) with the default order and
   with ``order_by="-repo:createdDate"``, on a container holding ``--large`` instances and on one holding
   ``--small``; the ratio large/small should stay at or under 2x (a list served from an index does not slow
   down with the container's size; a scan or a sort of the whole partition does).

Seeding: one placement and one offer are created through the client (so the stored envelope is the app's
own), then the remaining offers are inserted through the emulator store's ``insert_instance`` inside one
store transaction, each a copy of that envelope with its own ``instanceId``, ``@id``, name and creation date
(1 ms apart). HTTP creates would take minutes for 100,000 instances; the timed list calls do not care how
the rows were written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from _common import percentile, print_table

from target_async.emulator import create_app
from target_async.repository import AsyncRepositoryClient, Schema

ORG = "bench@AdobeOrg"
BASE_URL = "http://emulator/data/core/xcore/"
PLACEMENT = {
    "xdm:name": "Web banner",
    "xdm:channel": "https://ns.adobe.com/xdm/channel-types/web",
    "xdm:componentType": "https://ns.adobe.com/experience/offer-management/content-component-html",
}


def _offer(placement_id: str, n: int) -> dict[str, Any]:
    return {
        "xdm:name": f"Offer {n:07d}",
        "xdm:status": "approved",
        "xdm:representations": [
            {
                "xdm:placement": placement_id,
                "xdm:components": [
                    {
                        "@type": "https://ns.adobe.com/experience/offer-management/content-component-html",
                        "dc:format": "text/html",
                        "dc:language": ["en"],
                        "xdm:content": f"<p>Offer {n}</p>",
                    }
                ],
            }
        ],
        "xdm:rank": {"xdm:priority": n % 100},
    }


def client_for(app: Any, sandbox: str) -> AsyncRepositoryClient:
    return AsyncRepositoryClient(
        access_token="bench-token",
        api_key="bench-key",
        org_id=ORG,
        sandbox_name=sandbox,
        base_url=BASE_URL,
        transport=httpx.ASGITransport(app=app),
    )


async def seed(app: Any, repo: AsyncRepositoryClient, count: int) -> str:
    """Fill the sandbox's default container with ``count`` personalized offers; return the container id."""
    containers = await repo.list_containers()
    cid = containers[0].instance_id
    placement = await repo.create_instance(cid, Schema.PLACEMENT, PLACEMENT)
    placement_id = str(placement.id)
    first = await repo.create_instance(cid, Schema.PERSONALIZED_OFFER, _offer(placement_id, 0))
    store = app.state.emulator.store
    row = store.instance(first.instance_id)
    template = json.loads(row.doc)
    links = template["_links"]
    link_name = links["self"]["name"].split("#")[0]
    with store.transaction():
        for n in range(1, count):
            iid = str(uuid.uuid4())
            at_id = f"xcore:personalized-offer:{n:016x}"
            created = row.created_ms + n  # 1 ms apart, after the offer created through the client
            stamp = _iso(created)
            self_link = {**links["self"], "href": f"/{cid}/instances/{iid}", "name": f"{link_name}#{iid}"}
            doc = {
                **template,
                "instanceId": iid,
                "repo:createdDate": stamp,
                "repo:lastModifiedDate": stamp,
                "_instance": {"@id": at_id, **_offer(placement_id, n)},
                "_links": {**links, "self": self_link},
            }
            store.insert_instance(
                tid=row.tid,
                pid=row.pid,
                container_id=cid,
                schema=row.schema,
                instance_id=iid,
                at_id=at_id,
                created_ms=created,
                name=doc["_instance"]["xdm:name"],
                status="approved",
                doc=json.dumps(doc, separators=(",", ":")),
                refs=[placement_id],
            )
    return cid


def _iso(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


async def page_through(repo: AsyncRepositoryClient, cid: str, page_size: int) -> tuple[int, float]:
    started = time.perf_counter()
    seen = 0
    async for _ in repo.list_instances(cid, Schema.PERSONALIZED_OFFER, limit=page_size):
        seen += 1
    return seen, time.perf_counter() - started


async def first_page_p50(repo: AsyncRepositoryClient, cid: str, order_by: str | None, samples: int) -> float:
    times = []
    for i in range(samples + 3):
        started = time.perf_counter()
        page = await repo.list_instances(cid, Schema.PERSONALIZED_OFFER, order_by=order_by, limit=50).first_page()
        elapsed = time.perf_counter() - started
        if len(page.results) != 50:
            raise SystemExit(f"expected a full first page, got {len(page.results)} items")
        if i >= 3:  # the first calls warm caches
            times.append(elapsed)
    return percentile(times, 50)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    app = create_app()
    out: dict[str, Any] = {"instances": args.instances, "page_size": args.page_size}
    seed_started = time.perf_counter()
    repos = {name: client_for(app, name) for name in ("paging", "small", "large")}
    try:
        cids = {
            "paging": await seed(app, repos["paging"], args.instances),
            "small": await seed(app, repos["small"], args.small),
            "large": await seed(app, repos["large"], args.large),
        }
        out["seed_s"] = time.perf_counter() - seed_started
        rates = []
        for _ in range(args.repeats):
            seen, elapsed = await page_through(repos["paging"], cids["paging"], args.page_size)
            if seen != args.instances:
                raise SystemExit(f"paged {seen} instances, expected {args.instances}")
            rates.append(seen / elapsed)
        out["instances_per_s"] = statistics.median(rates)
        out["index"] = {}
        for label, order in (("default order", None), ("-repo:createdDate", "-repo:createdDate")):
            small = await first_page_p50(repos["small"], cids["small"], order, args.samples)
            large = await first_page_p50(repos["large"], cids["large"], order, args.samples)
            out["index"][label] = {"small_ms": small * 1000, "large_ms": large * 1000, "ratio": large / small}
    finally:
        for repo in repos.values():
            await repo.aclose()
    out["small"], out["large"] = args.small, args.large
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=41, help="first-page lists timed per container and order")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"paging {args.instances} instances, page size {args.page_size}: "
        f"{result['instances_per_s']:.0f} instances/s (median of {args.repeats}); seeding took {result['seed_s']:.1f} s"
    )
    rows = []
    for label, r in result["index"].items():
        verdict = "PASS" if r["ratio"] <= 2 else "MISS"
        rows.append([label, f"{r['small_ms']:.2f}", f"{r['large_ms']:.2f}", f"{r['ratio']:.2f}x", verdict])
    print_table(
        ["first page (limit=50)", f"p50 ms @ {args.small}", f"p50 ms @ {args.large}", "ratio", "target <= 2x"], rows
    )


if __name__ == "__main__":
    main()
