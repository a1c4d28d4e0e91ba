"""A sync client garbage-collected without close(): it is closed all the same, and nothing else leaks.

With warnings turned into errors (``-W error``, pytest's ``filterwarnings = ["error"]``), the client's own
``ResourceWarning`` raises inside ``__del__``; before the fix that cut the clean-up short, so aiohttp's
session and connector, the caller-thread event loop and the shared threads were left behind ("Unclosed client
session", "Unclosed connector", "unclosed event loop" when collected).
"""

from __future__ import annotations

import gc
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from target_async.emulator import create_app
from target_async.sync import RepositoryClient, TargetClient
from target_async.testing import serve

from .conftest import request_for, wait_for_no_shim_threads


@pytest.fixture
def reported(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What reaches ``sys.unraisablehook`` (a warning raised as an error in ``__del__`` goes there), under
    ``warnings.simplefilter("error")``."""
    seen: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(f"{type(u.exc_value).__name__}: {u.exc_value}"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield seen
        gc.collect()  # anything left unclosed now warns (raises) here


def _own_warning(name: str) -> list[str]:
    return [f"ResourceWarning: {name} was garbage-collected without close(); closing it now"]


def test_a_collected_target_client_is_closed_under_warnings_as_errors(
    client_options: dict[str, Any], reported: list[str]
) -> None:
    client = TargetClient.create(client_options)
    client.get_offers({"request": request_for("a")})  # this thread's lane: an event loop and a pool of its own
    client.get_offers({"request": request_for("b"), "callback": lambda r: None}).get(10)  # the shared loop's pool
    lane_loop = client._strategy.lanes._local.lane.loop
    del client
    gc.collect()
    assert wait_for_no_shim_threads() == []  # closed: the lease was given back, the shared threads stopped
    assert lane_loop.is_closed()
    gc.collect()
    assert reported == _own_warning("TargetClient")  # and no aiohttp session, connector, loop or socket


def test_a_collected_repository_client_is_closed_under_warnings_as_errors(reported: list[str]) -> None:
    with serve(create_app()) as url:
        repo = RepositoryClient(
            access_token="t",
            api_key="k",
            org_id="SYNC0000@AdobeOrg",
            sandbox_name="prod",
            base_url=f"{url}/data/core/xcore/",
        )
        assert repo.list_containers(["dma_offers", "acp"])
        del repo
        gc.collect()
        assert wait_for_no_shim_threads() == []
    gc.collect()
    assert reported == _own_warning("RepositoryClient")
