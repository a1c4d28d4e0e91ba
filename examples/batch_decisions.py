"""A batch job: decide 10,000 visitors with ``get_offers_many`` and report throughput and A/B allocation.

Every visitor has its own tntId, so the emulator allocates each one to experience A or B of the fixture mbox
``hero`` (``fixtures.json``: 50/50, a stable hash of tntId and mbox). ``get_offers_many`` keeps 64 calls in
flight and, with ``return_exceptions=True``, puts a failed visitor's exception in its slot instead of
aborting the batch. Run it::

    python examples/batch_decisions.py [--visitors 10000] [--url URL]

Target is ``--url``, else ``$TARGET_EMULATOR_URL``, else an emulator embedded on loopback with
``fixtures.json`` (for an emulator of your own: ``target-async emulator --fixtures examples/fixtures.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import anyio

from target_async import AsyncTargetClient, TargetDeliveryResponse
from target_async.emulator import create_app
from target_async.models import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest, VisitorId
from target_async.testing import EMULATOR_CLIENT, EMULATOR_ORG_ID, serve

MBOX = "hero"


def experience(result: TargetDeliveryResponse | BaseException) -> str:
    """The experience a visitor got (the ``experience.name`` response token), or the error's type."""
    if isinstance(result, BaseException):
        return f"error {type(result).__name__}"
    for item in (result.response.execute.mboxes or []) if result.response.execute else []:
        for option in item.options or []:
            return str((option.response_tokens or {}).get("experience.name", "?"))
    return "(no offer)"


async def run(url: str, visitors: int) -> None:
    parts = urlsplit(url)
    async with AsyncTargetClient(
        client=EMULATOR_CLIENT,
        organization_id=EMULATOR_ORG_ID,
        server_domain=parts.netloc,
        secure=parts.scheme == "https",
    ) as target:
        requests = [
            DeliveryRequest(
                id=VisitorId(tnt_id=f"visitor-{n:06d}"),
                context=Context(channel=ChannelType.WEB),
                execute=ExecuteRequest(mboxes=[MboxRequest(name=MBOX, index=0)]),
            )
            for n in range(visitors)
        ]
        started = time.perf_counter()
        results = await target.get_offers_many(requests, concurrency=64, return_exceptions=True)
        elapsed = time.perf_counter() - started
    errors = sum(isinstance(r, BaseException) for r in results)
    print(f"decided {visitors} visitors in {elapsed:.2f} s: {visitors / elapsed:.0f} decisions/s, {errors} errors")
    allocation = Counter(experience(r) for r in results)
    print(f"allocation of {MBOX!r}:")
    for name, count in sorted(allocation.items()):
        print(f"  {name}: {count} ({count / visitors:.1%})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=10_000, help="how many visitors to decide")
    parser.add_argument("--url", default=os.environ.get("TARGET_EMULATOR_URL"), help="Target/emulator base URL")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(serve(create_app(fixtures=Path(__file__).with_name("fixtures.json"))))
        anyio.run(run, url, args.visitors)
