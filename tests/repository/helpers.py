"""Test doubles for the repository client: a fake paging server and wire bodies (the recorder is the public
``target_async.testing.Recorder``, re-exported here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from target_async.testing import Recorder as Recorder  # re-exported for the test modules

BASE = "https://platform.adobe.io/data/core/xcore/"
CID = "e0bd8463-0913-4ca1-bd84-6309134ca1f6"
OFFER = "https://ns.adobe.com/experience/offer-management/personalized-offer"
RESULTS_ACCEPT = (
    '*, application/vnd.adobe.platform.xcore.hal+json; schema="https://ns.adobe.com/experience/xcore/hal/results"'
)
RECEIPT = "application/vnd.adobe.platform.xcore.xdm.receipt+json"

Answer = Callable[[httpx.Request], httpx.Response]


def receipt_body(instance_id: str = "i1", etag: int = 1, **extra: Any) -> dict[str, Any]:
    body = {
        "instanceId": instance_id,
        "@id": f"xcore:personalized-offer:{instance_id}",
        "repo:etag": etag,
        "repo:createdDate": "2019-06-05T03:44:25.343Z",
        "repo:lastModifiedDate": "2019-06-05T03:44:25.343Z",
        "repo:createdBy": "ACCOUNT",
        "repo:lastModifiedBy": "ACCOUNT",
        "repo:createdByClientId": "key-abc",
        "repo:lastModifiedByClientId": "key-abc",
    }
    body.update(extra)
    return body


def envelope(instance_id: str, payload: dict[str, Any], etag: int = 1, **extra: Any) -> dict[str, Any]:
    body = {
        "instanceId": instance_id,
        "schemas": [OFFER + ";version=0.5"],
        "repo:etag": etag,
        "repo:createdDate": "2019-03-24T15:52:12.725Z",
        "repo:lastModifiedDate": "2019-03-24T15:52:12.725Z",
        "repo:createdBy": "CREATOR",
        "repo:lastModifiedBy": "UPDATER",
        "_instance": payload,
        "_links": {"self": {"name": f"{OFFER};version=0.5#{instance_id}", "href": f"/{CID}/instances/{instance_id}"}},
    }
    body.update(extra)
    return body


def query_pairs(request: httpx.Request) -> list[tuple[str, str]]:
    return parse_qsl(request.url.query.decode(), keep_blank_values=True)


class FakeLister:
    """A list endpoint with the tutorial's paging semantics, configurable to misbehave.

    ``items`` are envelopes; the sort is on ``key(item)`` (a tuple), ``start`` is compared with
    ``parse_start``. ``extend_ties`` extends a page while the next item has the same key; ``next_links``
    emits ``_links.next``; ``sizes`` overrides the page size per page (ignoring ``limit``).
    """

    def __init__(
        self,
        items: list[dict[str, Any]],
        *,
        key: Callable[[dict[str, Any]], tuple[Any, ...]] = lambda e: (e["instanceId"],),
        parse_start: Callable[[str], tuple[Any, ...]] = lambda s: (s,),
        descending: bool = False,
        extend_ties: bool = True,
        next_links: bool = False,
        sizes: list[int] | None = None,
        send_total: bool = True,
        default_limit: int = 3,
    ) -> None:
        self.items = sorted(items, key=key, reverse=descending)
        self.key = key
        self.parse_start = parse_start
        self.descending = descending
        self.extend_ties = extend_ties
        self.next_links = next_links
        self.sizes = list(sizes or [])
        self.send_total = send_total
        self.default_limit = default_limit
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        params = dict(query_pairs(request))
        limit = int(params.get("limit", self.default_limit))
        remaining = self.items
        if "start" in params:
            start = self.parse_start(params["start"])
            if self.descending:
                remaining = [e for e in remaining if self.key(e) < start]
            else:
                remaining = [e for e in remaining if self.key(e) > start]
        size = self.sizes.pop(0) if self.sizes else limit
        page = remaining[:size]
        if self.extend_ties and page:
            i = len(page)
            while i < len(remaining) and self.key(remaining[i]) == self.key(page[-1]):
                page.append(remaining[i])
                i += 1
        embedded: dict[str, Any] = {"results": page, "count": len(page)}
        if self.send_total:
            embedded["total"] = len(remaining)
        body: dict[str, Any] = {
            "requestTime": "2019-06-10T22:12:13.642Z",
            "_embedded": embedded,
            "_links": {"self": {"href": request.url.raw_path.decode()}},
            "containerId": CID,
        }
        if self.next_links and len(page) < len(remaining):
            last = ",".join(str(v) for v in self.key(page[-1]))
            url = httpx.URL(str(request.url)).copy_set_param("start", last)
            path = urlsplit(str(url)).path.removeprefix("/data/core/xcore")
            body["_links"]["next"] = {"href": f"{path}?{url.query.decode()}"}
        return httpx.Response(200, json=body)
