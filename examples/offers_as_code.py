"""Offers as code: sync a placement and its offers from a JSON file into the repository, idempotently.

``offers.json`` holds the placement and the offers in wire form, keyed by ``xdm:name`` (a representation's
``xdm:placement`` names the placement; its ``@id`` is filled in). Each entry is looked up with
``list_instances(filters=["_instance.xdm:name==<name>"])``, created when missing, and replaced only when it
differs, with ``update_with_retry``: a fresh read, then a PUT with ``If-Match`` (retried on 409), so a
concurrent edit is never overwritten blindly. A second run changes nothing. Run it::

    python examples/offers_as_code.py [--file examples/offers.json] [--url URL]

Target is ``--url``, else ``$TARGET_EMULATOR_URL``, else an emulator embedded on loopback: that one starts
empty, so the script then syncs twice to show that the second pass is a no-op.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import anyio

from target_async import AsyncRepositoryClient, Instance, PersonalizedOffer, Placement, Schema
from target_async.emulator import create_app
from target_async.testing import EMULATOR_ORG_ID, serve


async def sync_one(repo: AsyncRepositoryClient, cid: str, schema: Schema, desired: dict[str, Any]) -> tuple[str, str]:
    """Create or update the instance named ``desired["xdm:name"]``; return (what happened, its ``@id``)."""
    filters = [f"_instance.xdm:name=={desired['xdm:name']}"]
    found = [instance async for instance in repo.list_instances(cid, schema, filters=filters)]
    if not found:
        return "created", (await repo.create_instance(cid, schema, desired)).id or ""
    at_id = found[0].instance.get("@id", "")
    if {key: value for key, value in found[0].instance.items() if key != "@id"} == desired:
        return "unchanged", at_id

    def new_payload(fresh: Instance) -> dict[str, Any]:  # runs after each (re-)read; its etag goes in If-Match
        return {**desired, "@id": fresh.instance.get("@id", at_id)}

    await repo.update_with_retry(cid, found[0].instance_id, schema, new_payload)
    return "updated", at_id


async def sync(url: str, spec: dict[str, Any]) -> Counter[str]:
    Placement.from_dict(spec["placement"])  # validate the whole file (errors name the field) before any write
    for offer in spec["offers"]:
        PersonalizedOffer.from_dict(offer)
    counts: Counter[str] = Counter()
    base_url = f"{url.rstrip('/')}/data/core/xcore/"
    async with AsyncRepositoryClient(
        access_token="token", api_key="key", org_id=EMULATOR_ORG_ID, sandbox_name="prod", base_url=base_url
    ) as repo:
        cid = (await repo.list_containers(["dma_offers"]))[0].instance_id
        what, placement_id = await sync_one(repo, cid, Schema.PLACEMENT, spec["placement"])
        counts[what] += 1
        print(f"  {what:9} placement {spec['placement']['xdm:name']!r}")
        for offer in spec["offers"]:
            reps = [{**rep, "xdm:placement": placement_id} for rep in offer.get("xdm:representations", [])]
            what, _ = await sync_one(repo, cid, Schema.PERSONALIZED_OFFER, {**offer, "xdm:representations": reps})
            counts[what] += 1
            print(f"  {what:9} offer {offer['xdm:name']!r}")
    print(f"created {counts['created']}, updated {counts['updated']}, unchanged {counts['unchanged']}")
    return counts


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=Path(__file__).with_name("offers.json"))
    parser.add_argument("--url", default=os.environ.get("TARGET_EMULATOR_URL"), help="repository/emulator base URL")
    args = parser.parse_args()
    spec = json.loads(args.file.read_text(encoding="utf-8"))
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(serve(create_app()))
        for _ in range(1 if args.url else 2):
            anyio.run(sync, url, spec)
