"""The README's Python examples pass ``mypy --strict`` (issue #14 item 4): typed users can copy them as written.

Each block is checked inside an ``async def`` (the examples use ``await`` at top level, as in a notebook), after a
preamble that declares, with their types, the few names the examples take as given (``repo``, ``cid``,
``delivery_request``...). The migration block that imports Adobe's SDK is left out: that package is not typed.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api", reason="mypy is a development tool (dependency group dev)")

ROOT = Path(__file__).resolve().parent.parent
PREAMBLE = """\
from __future__ import annotations

import logging
from typing import Any

from target_async import AsyncRepositoryClient, AsyncTargetClient, DeliveryRequest, TargetDeliveryResponse

delivery_request: DeliveryRequest
request: DeliveryRequest
target: AsyncTargetClient
repo: AsyncRepositoryClient
cid: str
instance_id: str
tag_id: str
log: logging.Logger
FIXTURES: dict[str, Any]
visitors: list[str]


def get_token() -> str:
    return "token"


def request_for(visitor: str) -> DeliveryRequest:
    return DeliveryRequest()


def cookie_of(visitor: str) -> str | None:
    return None


def on_response(response: TargetDeliveryResponse) -> None: ...
def on_error(error: BaseException) -> None: ...
"""


def readme_blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    return [b for b in blocks if "target_python_sdk" not in b]


def test_the_quickstart_is_there() -> None:
    assert any("AsyncTargetClient(client=" in b and "get_offers" in b for b in readme_blocks())


def test_every_readme_example_passes_mypy_strict(tmp_path: Path) -> None:
    parts = [PREAMBLE]
    for i, block in enumerate(readme_blocks()):
        parts.append(f"\n\nasync def _readme_block_{i}() -> None:\n" + textwrap.indent(block.rstrip() + "\n", "    "))
    module = tmp_path / "readme_examples.py"
    module.write_text("".join(parts), encoding="utf-8")
    out, err, status = mypy_api.run(
        ["--strict", "--no-error-summary", "--cache-dir", str(ROOT / ".mypy_cache"), str(module)]
    )
    assert status == 0, out + err
