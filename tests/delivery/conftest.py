from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from target_async.delivery import AsyncTargetClient
from target_async.testing import Answer, Recorder

__all__ = ["Recorder", "ok_body"]  # Recorder: the public one, re-exported for the test modules


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


@pytest.fixture
def recorder_answer() -> Answer:
    """Delivery wire tests: ``recorder`` answers with a 200 Delivery API body echoing the request."""
    return lambda request: httpx.Response(200, json=ok_body(request))


@pytest.fixture
async def make_client(recorder: Recorder):
    clients: list[AsyncTargetClient] = []

    def make(**kwargs: Any) -> AsyncTargetClient:
        kwargs.setdefault("client", "acmeclient")
        kwargs.setdefault("organization_id", "1234567890@AdobeOrg")
        kwargs.setdefault("transport", recorder.transport())
        client = AsyncTargetClient(**kwargs)
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.aclose()
