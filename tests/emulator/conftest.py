"""Shared helpers for the emulator tests: raw httpx over ASGITransport, no SDK code involved."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from target_async.emulator import create_app

OM = "https://ns.adobe.com/experience/offer-management/"
SCHEMAS = {
    "offer": OM + "personalized-offer",
    "fallback": OM + "fallback-offer",
    "placement": OM + "offer-placement",
    "rule": OM + "eligibility-rule",
    "tag": OM + "tag",
    "filter": OM + "offer-filter",
    "activity": OM + "offer-activity",
}
CONTAINER = "https://ns.adobe.com/experience/xcore/container"
BASE = "/data/core/xcore"
ORG = "acme@AdobeOrg"
HEADERS = {
    "Authorization": "Bearer test-token",
    "x-api-key": "test-key",
    "x-gw-ims-org-id": ORG,
    "x-sandbox-name": "prod",
}
HAL = "application/vnd.adobe.platform.xcore.hal+json"
PATCH = "application/vnd.adobe.platform.xcore.patch.hal+json"


def hal(kind: str) -> str:
    return f'{HAL}; schema="{SCHEMAS[kind]}"'


class Clock:
    """A controllable epoch-seconds clock (dates of created instances)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Repo:
    """Thin helpers over a raw client for one (org, sandbox); the constants are reachable from tests too."""

    OM = OM
    SCHEMAS = SCHEMAS
    CONTAINER = CONTAINER
    BASE = BASE
    ORG = ORG
    HEADERS = HEADERS
    HAL = HAL
    PATCH = PATCH
    hal = staticmethod(hal)

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> None:
        self.client = client
        self.headers = dict(headers or HEADERS)
        self.cid = ""

    async def init(self) -> Repo:
        r = await self.client.get(BASE + "/", headers=self.headers)
        assert r.status_code == 200, r.text
        self.cid = r.json()["_embedded"][CONTAINER][0]["instanceId"]
        return self

    def url(self, path: str) -> str:
        return f"{BASE}/{self.cid}{path}"

    async def post(self, kind: str, instance: dict[str, Any], *, links: dict[str, Any] | None = None) -> httpx.Response:
        body = {"_instance": instance, "_links": links or {}}
        return await self.client.post(
            self.url("/instances"), json=body, headers={**self.headers, "Content-Type": hal(kind)}
        )

    async def create(self, kind: str, instance: dict[str, Any], **kw: Any) -> dict[str, Any]:
        r = await self.post(kind, instance, **kw)
        assert r.status_code == 201, r.text
        receipt: dict[str, Any] = r.json()
        return receipt

    async def get(self, iid: str, **headers: str) -> httpx.Response:
        return await self.client.get(self.url(f"/instances/{iid}"), headers={**self.headers, **headers})

    async def patch(self, iid: str, ops: list[dict[str, Any]], **headers: str) -> httpx.Response:
        return await self.client.patch(
            self.url(f"/instances/{iid}"),
            json=ops,
            headers={**self.headers, "Content-Type": PATCH, **headers},
        )

    async def put(self, kind: str, iid: str, instance: dict[str, Any], **headers: str) -> httpx.Response:
        return await self.client.put(
            self.url(f"/instances/{iid}"),
            json={"_instance": instance, "_links": {}},
            headers={**self.headers, "Content-Type": hal(kind), **headers},
        )

    async def delete(self, iid: str, **headers: str) -> httpx.Response:
        return await self.client.delete(self.url(f"/instances/{iid}"), headers={**self.headers, **headers})

    async def list(self, kind: str, *extra: tuple[str, str], path: str = "/instances", **params: str) -> httpx.Response:
        query: builtins.list[tuple[str, str | int | float | bool | None]] = [
            ("schema", SCHEMAS[kind]),
            *params.items(),
            *extra,
        ]
        return await self.client.get(self.url(path), params=query, headers=self.headers)

    async def follow(self, href: str) -> httpx.Response:
        return await self.client.get(f"{BASE}/{href.lstrip('/')}", headers=self.headers)

    async def all_bodies(
        self, kind: str, *extra: tuple[str, str], path: str = "/instances", **params: str
    ) -> builtins.list[dict[str, Any]]:
        """Every page body, following ``_links.next``."""
        r = await self.list(kind, *extra, path=path, **params)
        bodies: builtins.list[dict[str, Any]] = []
        while True:
            assert r.status_code == 200, r.text
            bodies.append(r.json())
            nxt = bodies[-1]["_links"].get("next")
            if nxt is None:
                return bodies
            assert len(bodies) < 10_000, "paging does not terminate"
            r = await self.follow(nxt["href"])

    async def all_pages(
        self, kind: str, *extra: tuple[str, str], path: str = "/instances", **params: str
    ) -> builtins.list[builtins.list[dict[str, Any]]]:
        """Every page's results, following ``_links.next``."""
        return [b["_embedded"]["results"] for b in await self.all_bodies(kind, *extra, path=path, **params)]

    # -- a small graph of business objects ---------------------------------------------------------------

    async def placement(self, name: str = "Web banner") -> dict[str, Any]:
        return await self.create(
            "placement",
            {
                "xdm:name": name,
                "xdm:channel": "https://ns.adobe.com/xdm/channels/web",
                "xdm:componentType": OM + "content-component-html",
                "xdm:contentTypes": ["text/html"],
            },
        )

    async def tag(self, name: str) -> dict[str, Any]:
        return await self.create("tag", {"xdm:name": name})

    async def rule(self, name: str = "Everyone") -> dict[str, Any]:
        return await self.create(
            "rule",
            {"xdm:name": name, "xdm:condition": {"xdm:value": "true", "xdm:format": "pql/text", "xdm:type": "PQL"}},
        )

    @staticmethod
    def representation(placement_id: str) -> dict[str, Any]:
        return {
            "xdm:placement": placement_id,
            "xdm:components": [
                {"@type": OM + "content-component-html", "dc:format": "text/html", "dc:language": ["en"]}
            ],
        }

    async def offer(self, name: str, placement_id: str, **extra: Any) -> dict[str, Any]:
        inst = {"xdm:name": name, "xdm:status": "approved", "xdm:representations": [self.representation(placement_id)]}
        return await self.create("offer", {**inst, **extra})

    async def fallback(self, name: str, placement_id: str) -> dict[str, Any]:
        inst = {"xdm:name": name, "xdm:status": "approved", "xdm:representations": [self.representation(placement_id)]}
        return await self.create("fallback", inst)

    async def offer_filter(self, name: str, ids: builtins.list[str], filter_type: str = "offers") -> dict[str, Any]:
        return await self.create("filter", {"xdm:name": name, "xdm:filterType": filter_type, "ids": ids})


@pytest.fixture
def repo_class() -> type[Repo]:
    """The helper class itself (for tests that build their own apps, e.g. under hypothesis)."""
    return Repo


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_client(clock: Clock) -> Callable[..., Any]:
    """``async with make_client(**create_app_kwargs) as client``."""

    @asynccontextmanager
    async def factory(**kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
        kwargs.setdefault("clock", clock)
        app = create_app(**kwargs)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emu") as client:
            yield client

    return factory


@pytest.fixture
async def client(make_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c


@pytest.fixture
async def repo(client: httpx.AsyncClient) -> Repo:
    return await Repo(client).init()


@pytest.fixture
def make_repo(make_client: Callable[..., Any]) -> Callable[..., Any]:
    """``async with make_repo(**create_app_kwargs) as repo``."""

    @asynccontextmanager
    async def factory(**kwargs: Any) -> AsyncIterator[Repo]:
        async with make_client(**kwargs) as c:
            yield await Repo(c).init()

    return factory
