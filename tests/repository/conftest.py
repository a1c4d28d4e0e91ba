from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from target_async.repository import AsyncRepositoryClient
from target_async.testing import Recorder

from .helpers import BASE


@pytest.fixture
async def make_repo(recorder: Recorder) -> AsyncIterator[Callable[..., AsyncRepositoryClient]]:
    clients: list[AsyncRepositoryClient] = []

    def make(**kwargs: Any) -> AsyncRepositoryClient:
        kwargs.setdefault("access_token", "tok-123")
        kwargs.setdefault("api_key", "key-abc")
        kwargs.setdefault("org_id", "ORG@AdobeOrg")
        kwargs.setdefault("sandbox_name", "prod")
        kwargs.setdefault("base_url", BASE)
        if "http_client" not in kwargs:
            kwargs.setdefault("transport", recorder.transport())
        client = AsyncRepositoryClient(**kwargs)
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.aclose()


@pytest.fixture
def repo(make_repo: Callable[..., AsyncRepositoryClient]) -> AsyncRepositoryClient:
    return make_repo()
