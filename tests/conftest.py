"""The one test harness of the suite, through the public testing API (target_async.testing).

- Retry and polling delays are off for every test (``disable_backoff``); a test that checks real delays opts
  out with ``@pytest.mark.backoff``.
- ``recorder``: a ``target_async.testing.Recorder`` for wire tests (``recorder.transport()`` is its
  ``httpx.MockTransport``). Its default answer is the ``recorder_answer`` fixture (``None``: 200 with ``{}``),
  which a directory's conftest overrides (tests/delivery answers with a Delivery API body).
- ``@pytest.mark.anyio`` tests (with an ``anyio_backend`` fixture, e.g. parametrised ["asyncio", "trio"]) run
  under anyio's plugin: ``asyncio_mode = "auto"`` would otherwise run every ``async def`` test on pytest-asyncio's
  loop, trio included. Such modules use synchronous fixtures (the plugin's are).
- The emulator fixtures of the plugin (``target_client``, ``target_emulator_url`` ...) come from its pytest11
  entry point.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import pytest

from target_async.testing import Answer, Recorder, disable_backoff, enable_backoff


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backoff: keep the real retry and polling delays (the suite turns them off)")


@pytest.hookimpl(hookwrapper=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> Generator[None, Any, None]:
    """Give ``@pytest.mark.anyio`` tests back to anyio's plugin (pytest-asyncio's auto mode claims every async test).

    This wrapper is outside pytest-asyncio's (a conftest registers after it): it turns the items pytest-asyncio made
    for anyio-marked tests back into plain ``pytest.Function`` items, which anyio's ``pytest_pyfunc_call`` runs.
    """
    outcome = yield
    result = outcome.get_result()
    if not result:
        return
    items = result if isinstance(result, list) else [result]
    if not any(isinstance(item, pytest.Function) and item.get_closest_marker("anyio") for item in items):
        return
    plain: list[Any] = []
    for item in items:
        if isinstance(item, pytest.Function) and type(item) is not pytest.Function and item.get_closest_marker("anyio"):
            markers = [mark for mark in item.own_markers if mark.name != "asyncio"]
            keywords = {key: value for key, value in item.keywords.items() if key != "asyncio"}
            item = pytest.Function.from_parent(
                item.parent,
                name=item.name,
                callspec=getattr(item, "callspec", None),
                callobj=item.obj,
                fixtureinfo=item._fixtureinfo,
                keywords=keywords,
                originalname=item.originalname,
            )
            item.own_markers = markers
        plain.append(item)
    outcome.force_result(plain if isinstance(result, list) else plain[0])


@pytest.fixture(autouse=True)
def _no_backoff(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("backoff") is not None:
        enable_backoff()
        yield
        return
    disable_backoff()
    yield
    enable_backoff()


@pytest.fixture
def recorder_answer() -> Answer | None:
    """How ``recorder`` answers when nothing is queued (None: 200 with ``{}``)."""
    return None


@pytest.fixture
def recorder(recorder_answer: Answer | None) -> Recorder:
    """Records the requests of a wire test and answers them (``then(...)`` queues answers)."""
    return Recorder(recorder_answer)
