"""Repository paging throughput: ``AsyncRepositoryClient.list_instances`` against raw httpx + json.

Usage: ``python benchmarks/bench_repository_paging.py [--instances 10000] [--page-size 100] [--repeats 5]``

An ``httpx.MockTransport`` handler serves the pages of ``--instances`` personalized offers (pre-rendered, so
the handler costs the same for every mode). Modes:

- ``target-async``: ``async for instance in repo.list_instances(...)`` (envelopes structured into
  ``Instance``, links resolved, termination checks);
- ``target-async typed``: the same, plus ``instance.as_(PersonalizedOffer)`` for every item;
- ``target-async pages``: ``repo.iter_pages(...)`` without next links, so every ``start`` is derived from
  the last item's sort value;
- ``raw httpx + json``: a loop of ``client.get`` + ``json.loads`` following ``_links.next`` by hand.

The table shows the median instances/s over ``--repeats`` runs and the ratio to the raw baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qsl

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from _common import median, print_table

from target_async.repository import AsyncRepositoryClient, PersonalizedOffer, Schema

BASE = "https://platform.adobe.io/data/core/xcore/"
CID = "e0bd8463-0913-4ca1-bd84-6309134ca1f6"
OFFER = "https://ns.adobe.com/experience/offer-management/personalized-offer"


def _envelope(i: int) -> dict[str, object]:
    iid = f"{i:08d}-85b6-11e9-ac80-99ba4655b277"
    return {
        "instanceId": iid,
        "schemas": [OFFER + ";version=0.5"],
        "repo:etag": 1,
        "repo:createdDate": "2019-04-19T03:19:03.627Z",
        "repo:lastModifiedDate": "2019-04-19T03:19:03.627Z",
        "repo:createdBy": "CREATOR",
        "repo:lastModifiedBy": "UPDATER",
        "repo:createdByClientId": "key",
        "repo:lastModifiedByClientId": "key",
        "_instance": {
            "@id": f"xcore:personalized-offer:{i:015x}",
            "xdm:name": f"Offer {i}",
            "xdm:status": "approved",
            "xdm:representations": [
                {
                    "xdm:placement": "xcore:offer-placement:e51944a87919861",
                    "xdm:components": [
                        {
                            "@type": "https://ns.adobe.com/experience/offer-management/content-component-text",
                            "dc:format": "text/plain",
                            "xdm:copyline": "Get what you want!",
                        }
                    ],
                }
            ],
            "xdm:rank": {"xdm:priority": i % 10},
            "xdm:tags": ["xcore:tag:f66f67dbe6d6ee1"],
        },
        "_links": {"self": {"href": f"/{CID}/instances/{iid}"}},
    }


class PageServer:
    """Pre-rendered pages keyed by ``start`` (the previous page's last instanceId)."""

    def __init__(self, n: int, page_size: int, *, next_links: bool) -> None:
        items = [_envelope(i) for i in range(n)]
        self.pages: dict[str | None, bytes] = {}
        start: str | None = None
        for offset in range(0, n + 1, page_size):
            chunk = items[offset : offset + page_size]
            body: dict[str, object] = {
                "_embedded": {"results": chunk, "count": len(chunk), "total": n - offset},
                "_links": {"self": {"href": f"/{CID}/instances"}},
                "containerId": CID,
            }
            if next_links and offset + page_size < n:
                last = chunk[-1]["instanceId"]
                body["_links"] = {"next": {"href": f"/{CID}/instances?schema={OFFER}&limit={page_size}&start={last}"}}
            self.pages[start] = json.dumps(body).encode()
            if not chunk:
                break
            start = str(chunk[-1]["instanceId"])

    def __call__(self, request: httpx.Request) -> httpx.Response:
        start = dict(parse_qsl(request.url.query.decode())).get("start")
        return httpx.Response(200, content=self.pages[start], headers={"content-type": "application/json"})


def _repo(server: PageServer) -> AsyncRepositoryClient:
    return AsyncRepositoryClient(
        access_token="t",
        api_key="k",
        org_id="o@AdobeOrg",
        sandbox_name="prod",
        base_url=BASE,
        transport=httpx.MockTransport(server),
    )


async def run_client(server: PageServer, page_size: int, *, typed: bool = False) -> int:
    async with _repo(server) as repo:
        count = 0
        async for instance in repo.list_instances(CID, Schema.PERSONALIZED_OFFER, limit=page_size):
            if typed:
                instance.as_(PersonalizedOffer)
            count += 1
        return count


async def run_client_pages(server: PageServer, page_size: int) -> int:
    async with _repo(server) as repo:
        count = 0
        async for page in repo.iter_pages(CID, Schema.PERSONALIZED_OFFER, limit=page_size):
            count += len(page)
        return count


async def run_raw(server: PageServer, page_size: int) -> int:
    headers = {
        "Authorization": "Bearer t",
        "x-api-key": "k",
        "x-gw-ims-org-id": "o@AdobeOrg",
        "x-sandbox-name": "prod",
        "Accept": '*, application/vnd.adobe.platform.xcore.hal+json; schema="https://ns.adobe.com/experience/xcore/hal/results"',
    }
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
        url: str | None = f"{BASE}{CID}/instances?schema={OFFER}&limit={page_size}"
        count = 0
        while url is not None:
            body = json.loads((await client.get(url, headers=headers)).content)
            for _item in body["_embedded"]["results"]:
                count += 1
            nxt = body.get("_links", {}).get("next")
            url = BASE + nxt["href"][1:] if nxt else None
        return count


def _measure(fn: Callable[[], Awaitable[int]], repeats: int, expected: int) -> list[float]:
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        got = asyncio.run(fn())
        elapsed = time.perf_counter() - started
        if got != expected:
            raise SystemExit(f"paged {got} instances, expected {expected}")
        rates.append(got / elapsed)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n, size = args.instances, args.page_size
    linked = PageServer(n, size, next_links=True)
    unlinked = PageServer(n, size, next_links=False)
    modes: list[tuple[str, Callable[[], Awaitable[int]]]] = [
        ("raw httpx + json", lambda: run_raw(linked, size)),
        ("target-async", lambda: run_client(linked, size)),
        ("target-async typed", lambda: run_client(linked, size, typed=True)),
        ("target-async pages", lambda: run_client_pages(unlinked, size)),
    ]
    results = {name: median(_measure(fn, args.repeats, n)) for name, fn in modes}
    raw = results["raw httpx + json"]
    rows = [[name, f"{rate:,.0f}", f"{1e6 / rate:.1f}", f"{rate / raw:.2f}"] for name, rate in results.items()]
    print(f"{n} instances, pages of {size}, median of {args.repeats} runs")
    print_table(["mode", "instances/s", "us/instance", "ratio to raw"], rows)


if __name__ == "__main__":
    main()
