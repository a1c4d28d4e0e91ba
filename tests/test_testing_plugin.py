"""The pytest plugin of target_async.testing: its fixtures give ready clients wired to an emulator."""

from __future__ import annotations

import pytest

from target_async import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest, Schema, Tag

pytest_plugins: list[str] = []  # the plugin is loaded through its pytest11 entry point


def _request() -> DeliveryRequest:
    return DeliveryRequest(
        context=Context(channel=ChannelType.WEB), execute=ExecuteRequest(mboxes=[MboxRequest(name="m", index=0)])
    )


async def test_in_process_target_client(target_client):
    result = await target_client.get_offers(request=_request(), session_id="s")
    assert result.response.status == 200
    assert result.response.execute.mboxes[0].name == "m"


async def test_loopback_target_client(target_loopback_client, target_emulator_url):
    assert target_emulator_url.startswith("http://127.0.0.1:")
    result = await target_loopback_client.get_offers(request=_request())
    assert result.target_cookie is not None


async def test_in_process_repository_client(repository_client):
    containers = await repository_client.list_containers()
    receipt = await repository_client.create_instance(containers[0].instance_id, Schema.TAG, Tag(xdm_name="t"))
    assert receipt.etag == 1


async def test_loopback_repository_client(repository_loopback_client):
    containers = await repository_loopback_client.list_containers()
    assert containers and set(containers[0].product_contexts or []) == {"dma_offers", "acp"}


@pytest.mark.backoff  # the suite turns delays off for every test (tests/conftest.py): here the fixture does
def test_no_backoff_fixture(target_no_backoff):
    from target_async import _retry

    assert _retry.RetryPolicy().delay(5) == 0.0


def test_the_lazy_package_names_match_its_type_checking_imports():
    # target_async/__init__.py lists each public name twice: imports for type checkers, a table for run time
    import ast
    from pathlib import Path

    import target_async

    tree = ast.parse(Path(target_async.__file__).read_text())
    typed = {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "_typing.TYPE_CHECKING"
        for statement in node.body
        if isinstance(statement, ast.ImportFrom)
        for alias in statement.names
    }
    table = {name for names in target_async._EXPORTS.values() for name in names}
    assert typed == table | {"errors"}
    assert set(target_async.__all__) == table | {"__version__"}
