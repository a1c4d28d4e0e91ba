from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from target_async import _retry
from target_async.delivery import AsyncTargetClient


@pytest.fixture(autouse=True)
def _no_backoff():
    _retry.set_backoff_enabled(False)
    yield
    _retry.set_backoff_enabled(True)


def ok_body(request: httpx.Request, **extra: Any) -> dict[str, Any]:
    sent = json.loads(request.content)
    body: dict[str, Any] = {
        "status": 200,
        "requestId": sent.get("requestId"),
        "client": "acmeclient",
        "id": {"tntId": (sent.get("id") or {}).get("tntId") or "generated-tnt"},
        "edgeHost": "mboxedge35.tt.omtrdc.net",
    }
    body.update(extra)
    return body


class Recorder:
    """A MockTransport handler that records requests and answers with a programmable function."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer or (lambda r: httpx.Response(200, json=ok_body(r)))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def last_json(self) -> dict[str, Any]:
        return json.loads(self.last.content)  # type: ignore[no-any-return]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def make_client(recorder: Recorder):
    clients: list[AsyncTargetClient] = []

    def make(**kwargs: Any) -> AsyncTargetClient:
        kwargs.setdefault("client", "acmeclient")
        kwargs.setdefault("organization_id", "1234567890@AdobeOrg")
        kwargs.setdefault("transport", httpx.MockTransport(recorder))
        client = AsyncTargetClient(**kwargs)
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.aclose()
