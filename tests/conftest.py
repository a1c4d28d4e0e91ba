"""The one test harness of the suite, through the public testing API (target_async.testing).

- Retry and polling delays are off for every test (``disable_backoff``); a test that checks real delays opts
  out with ``@pytest.mark.backoff``.
- ``recorder``: a ``target_async.testing.Recorder`` for wire tests (``recorder.transport()`` is its
  ``httpx.MockTransport``). Its default answer is the ``recorder_answer`` fixture (``None``: 200 with ``{}``),
  which a directory's conftest overrides (tests/delivery answers with a Delivery API body).
- The emulator fixtures of the plugin (``target_client``, ``target_emulator_url`` ...) come from its pytest11
  entry point.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from target_async.testing import Answer, Recorder, disable_backoff, enable_backoff


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backoff: keep the real retry and polling delays (the suite turns them off)")


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
