"""DELETE and the 202 protocol in its three modes (repository.md M, §3 "Emulator side")."""

from __future__ import annotations

from typing import Any

import pytest

RECEIPT_KEYS = {"repo:etag", "repo:createdDate", "repo:lastModifiedDate", "repo:createdBy", "repo:lastModifiedBy"}


async def _referenced_placement(repo: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    placement = await repo.placement()
    offer = await repo.offer("o", placement["@id"])
    return placement, offer


async def test_async_delete_confirmed_after_pending_polls(make_repo):
    async with make_repo(delete_pending_polls=2, delete_retry_after=1) as repo:
        tag = await repo.tag("t")
        r = await repo.delete(tag["instanceId"])
        assert r.status_code == 202
        location = r.headers["location"]
        assert location.startswith(f"/{repo.cid}/operations/")
        assert r.headers["retry-after"] == "1"
        assert r.headers["content-base"] == "http://emu/data/core/xcore/"
        assert r.json()["outcome"] == "pending"
        # still there while the check is pending
        assert (await repo.get(tag["instanceId"])).status_code == 200
        for _ in range(2):
            poll = await repo.follow(location)
            assert poll.status_code == 202 and poll.headers["location"] == location
        done = await repo.follow(location)
        assert done.status_code == 200
        body = done.json()
        assert body["operation"] == "delete" and body["outcome"] == "confirmed"
        assert body["instanceId"] == tag["instanceId"] and body["@id"] == tag["@id"]
        assert body["referencedBy"] == [] and body["reason"]
        assert set(body) >= RECEIPT_KEYS
        assert (await repo.get(tag["instanceId"])).status_code == 404
        assert (await repo.list("tag")).json()["_embedded"]["total"] == 0
        # the outcome stays readable
        again = await repo.follow(location)
        assert again.status_code == 200 and again.json() == body


async def test_async_delete_rejected_lists_the_referencing_instances(repo):
    placement, offer = await _referenced_placement(repo)
    fallback = await repo.fallback("fb", placement["@id"])
    r = await repo.delete(placement["instanceId"])
    assert r.status_code == 202
    location = r.headers["location"]
    assert r.headers["retry-after"] == "0"
    assert (await repo.follow(location)).status_code == 202  # default: one pending poll
    done = await repo.follow(location)
    assert done.status_code == 200
    body = done.json()
    assert body["outcome"] == "rejected" and "2" in body["reason"]
    refs = sorted(body["referencedBy"], key=lambda x: x["schema"])
    assert refs == [
        {"instanceId": fallback["instanceId"], "@id": fallback["@id"], "schema": repo.SCHEMAS["fallback"]},
        {"instanceId": offer["instanceId"], "@id": offer["@id"], "schema": repo.SCHEMAS["offer"]},
    ]
    assert (await repo.get(placement["instanceId"])).status_code == 200


async def test_the_check_runs_at_decision_time(repo):
    placement, offer = await _referenced_placement(repo)
    r = await repo.delete(placement["instanceId"])
    location = r.headers["location"]
    # remove the reference while the delete is pending: it is then confirmed
    assert (
        await repo.patch(offer["instanceId"], [{"op": "remove", "path": "/_instance/xdm:representations"}])
    ).status_code == 200
    await repo.follow(location)
    assert (await repo.follow(location)).json()["outcome"] == "confirmed"


async def test_any_schema_and_any_property_counts_as_a_reference(repo):
    tag = await repo.tag("t")
    await repo.create("placement", {"xdm:name": "p", "xdm:custom": {"nested": [tag["@id"]]}})
    r = await repo.delete(tag["instanceId"])
    await repo.follow(r.headers["location"])
    body = (await repo.follow(r.headers["location"])).json()
    assert body["outcome"] == "rejected" and body["referencedBy"][0]["schema"] == repo.SCHEMAS["placement"]


async def test_a_second_delete_while_pending_returns_the_same_operation(repo):
    tag = await repo.tag("t")
    first = await repo.delete(tag["instanceId"])
    second = await repo.delete(tag["instanceId"])
    assert second.status_code == 202 and second.headers["location"] == first.headers["location"]


async def test_zero_pending_polls_decides_on_the_first_poll(make_repo):
    async with make_repo(delete_pending_polls=0, delete_retry_after=None) as repo:
        tag = await repo.tag("t")
        r = await repo.delete(tag["instanceId"])
        assert r.status_code == 202 and "retry-after" not in r.headers
        assert (await repo.follow(r.headers["location"])).status_code == 200


async def test_immediate_mode(make_repo):
    async with make_repo(delete_mode="immediate") as repo:
        placement, offer = await _referenced_placement(repo)
        r = await repo.delete(offer["instanceId"])
        assert r.status_code == 200
        body = r.json()
        assert body["outcome"] == "confirmed" and body["instanceId"] == offer["instanceId"]
        assert body["@id"] == offer["@id"] and set(body) >= RECEIPT_KEYS
        assert (await repo.get(offer["instanceId"])).status_code == 404
        # a referenced instance is refused with 422 and the referencing instances
        other = await repo.offer("o2", placement["@id"])
        r = await repo.delete(placement["instanceId"])
        assert r.status_code == 422
        err = r.json()
        assert err["status"] == 422 and err["outcome"] == "rejected"
        assert err["referencedBy"] == [
            {"instanceId": other["instanceId"], "@id": other["@id"], "schema": repo.SCHEMAS["offer"]}
        ]
        assert (await repo.get(placement["instanceId"])).status_code == 200


async def test_no_location_mode(make_repo):
    async with make_repo(delete_mode="no-location", delete_pending_polls=1) as repo:
        tag = await repo.tag("t")
        r = await repo.delete(tag["instanceId"])
        assert r.status_code == 202 and "location" not in r.headers and r.content == b""
        assert (await repo.get(tag["instanceId"])).status_code == 200  # one read still sees it
        assert (await repo.get(tag["instanceId"])).status_code == 404
        assert (await repo.list("tag")).json()["_embedded"]["total"] == 0
        # a referenced instance stays
        placement, _ = await _referenced_placement(repo)
        assert (await repo.delete(placement["instanceId"])).status_code == 202
        for _ in range(3):
            assert (await repo.get(placement["instanceId"])).status_code == 200


async def test_no_location_with_zero_polls_deletes_at_once(make_repo):
    async with make_repo(delete_mode="no-location", delete_pending_polls=0) as repo:
        tag = await repo.tag("t")
        assert (await repo.delete(tag["instanceId"])).status_code == 202
        assert (await repo.list("tag")).json()["_embedded"]["total"] == 0
        assert (await repo.get(tag["instanceId"])).status_code == 404


@pytest.mark.parametrize("mode", ["async", "immediate", "no-location"])
async def test_if_match_on_delete(make_repo, mode):
    async with make_repo(delete_mode=mode) as repo:
        tag = await repo.tag("t")
        await repo.patch(tag["instanceId"], [{"op": "replace", "path": "/_instance/xdm:name", "value": "u"}])
        r = await repo.delete(tag["instanceId"], **{"If-Match": '"1"'})
        assert r.status_code == 409 and r.json()["status"] == 409
        r = await repo.delete(tag["instanceId"], **{"If-Match": '"2"'})
        assert r.status_code in (200, 202)


async def test_delete_of_a_missing_instance_is_404(repo):
    r = await repo.delete("00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404 and r.json()["status"] == 404
    r = await repo.follow(f"/{repo.cid}/operations/nope")
    assert r.status_code == 404


async def test_operations_are_private_to_their_tenant(client, repo):
    tag = await repo.tag("t")
    location = (await repo.delete(tag["instanceId"])).headers["location"]
    other = await repo.__class__(client, {**repo.HEADERS, "x-sandbox-name": "dev"}).init()
    r = await client.get(repo.BASE + location, headers=other.headers)
    assert r.status_code == 404


async def test_never_resolving_delete_check(client, repo):
    tag = await repo.tag("t")
    r = await client.post("/_emulator/faults", json={"deleteNeverResolves": True})
    assert r.status_code == 200 and r.json()["deleteNeverResolves"] is True
    location = (await repo.delete(tag["instanceId"])).headers["location"]
    for _ in range(10):
        poll = await repo.follow(location)
        assert poll.status_code == 202 and poll.headers["location"] == location
    # once the fault is cleared the operation proceeds
    await client.delete("/_emulator/faults")
    await repo.follow(location)
    assert (await repo.follow(location)).json()["outcome"] == "confirmed"


async def test_never_resolving_no_location_delete(make_repo):
    async with make_repo(
        delete_mode="no-location", delete_pending_polls=0, faults={"deleteNeverResolves": True}
    ) as repo:
        tag = await repo.tag("t")
        assert (await repo.delete(tag["instanceId"])).status_code == 202
        for _ in range(5):
            assert (await repo.get(tag["instanceId"])).status_code == 200
