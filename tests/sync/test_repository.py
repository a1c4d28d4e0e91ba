"""RepositoryClient: the repository API synchronously, against the emulator over loopback HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from target_async import ClientClosedError, ConflictError, NotFoundError, ValidationError, WrongThreadError
from target_async.emulator import create_app
from target_async.models.repository import DeleteOutcome, Instance, Page, Receipt, Schema, Tag
from target_async.repository import AsyncPaginator, AsyncRepositoryClient, DeleteOperation
from target_async.sync import (
    RepositoryClient,
    SyncDeleteOperation,
    SyncIterator,
    SyncPaginator,
    TargetClient,
)
from target_async.sync._loop_thread import LOOP_THREAD_NAME
from target_async.testing import serve

Connect = Callable[..., RepositoryClient]


@pytest.fixture
def serve_emulator() -> Iterator[Callable[..., str]]:
    with ExitStack() as stack:
        yield lambda **settings: stack.enter_context(serve(create_app(**settings)))


@pytest.fixture
def connect(serve_emulator: Callable[..., str]) -> Iterator[Connect]:
    clients: list[RepositoryClient] = []

    def make(url: str | None = None, **options: Any) -> RepositoryClient:
        options.setdefault("access_token", "sync-token")
        client = RepositoryClient(
            api_key="sync-key",
            org_id="SYNC0000@AdobeOrg",
            sandbox_name="prod",
            base_url=f"{url or serve_emulator()}/data/core/xcore/",
            **options,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _container(repo: RepositoryClient) -> str:
    [container] = repo.list_containers(["dma_offers", "acp"])
    return container.container_id


def _public(cls: type) -> dict[str, Any]:
    return {n: v for n, v in vars(cls).items() if not n.startswith("_")}


@pytest.mark.parametrize(
    ("async_cls", "sync_cls", "not_twinned"),
    [
        (AsyncRepositoryClient, RepositoryClient, {"aclose"}),
        (AsyncPaginator, SyncPaginator, set()),
        (DeleteOperation, SyncDeleteOperation, {"from_continuation_token"}),
    ],
)
def test_the_sync_twins_have_the_whole_async_api(async_cls: type, sync_cls: type, not_twinned: set[str]) -> None:
    for name, member in _public(async_cls).items():
        if name in not_twinned:
            continue
        assert hasattr(sync_cls, name), f"{sync_cls.__name__} lacks {name}"
        twin = getattr(sync_cls, name)
        if hasattr(twin, "_method"):  # generated from the async method itself: same signature, same docs
            assert twin._method is member
            assert twin.__doc__ == member.__doc__
    assert hasattr(RepositoryClient, "close") and hasattr(RepositoryClient, "__enter__")


def test_crud_round_trip(connect: Connect) -> None:
    repo = connect()
    cid = _container(repo)
    receipt = repo.create_instance(cid, Schema.TAG, Tag(xdm_name="cards"))
    assert isinstance(receipt, Receipt) and receipt.location is not None
    instance = repo.get_instance(cid, receipt.instance_id, Schema.TAG)
    assert isinstance(instance, Instance) and instance.instance["xdm:name"] == "cards"
    assert repo.get_instance(cid, receipt.instance_id, Schema.TAG, if_none_match=instance.etag) is None
    put = repo.replace_instance(cid, receipt.instance_id, Schema.TAG, {"xdm:name": "cars"}, if_match=instance.etag)
    assert put.etag == (instance.etag or 0) + 1
    with pytest.raises(ConflictError):
        repo.replace_instance(cid, receipt.instance_id, Schema.TAG, {"xdm:name": "x"}, if_match=instance.etag)
    patched = repo.patch_instance(
        cid, receipt.instance_id, Schema.TAG, [{"op": "replace", "path": "/_instance/xdm:name", "value": "boats"}]
    )
    assert patched.etag == (put.etag or 0) + 1
    with pytest.raises(NotFoundError):
        repo.get_instance(cid, "no-such-instance")
    with pytest.raises(ValidationError):
        repo.get_instance(cid, "")


def test_update_with_retry_runs_a_sync_fn_off_the_loop(connect: Connect) -> None:
    repo = connect()
    cid = _container(repo)
    receipt = repo.create_instance(cid, Schema.TAG, Tag(xdm_name="cards"))
    threads: list[str] = []

    def rename(instance: Instance) -> None:
        threads.append(threading.current_thread().name)
        # blocking calls on the client work from here: this is not the event-loop thread
        assert repo.get_instance(cid, receipt.instance_id, Schema.TAG) is not None
        instance.instance["xdm:name"] = "renamed"

    final = repo.update_with_retry(cid, receipt.instance_id, Schema.TAG, rename)
    assert threads and LOOP_THREAD_NAME not in threads
    after = repo.get_instance(cid, receipt.instance_id, Schema.TAG)
    assert after is not None and after.instance["xdm:name"] == "renamed" and after.etag == final.etag


def test_a_sync_token_provider_runs_off_the_loop_before_each_request(connect: Connect) -> None:
    calls: list[str] = []

    def token() -> str:
        calls.append(threading.current_thread().name)
        return "fresh-token"

    repo = connect(access_token=token)
    _container(repo)
    repo.list_containers()
    assert len(calls) == 2 and LOOP_THREAD_NAME not in calls


def test_lists_searches_and_pages(connect: Connect) -> None:
    repo = connect()
    cid = _container(repo)
    made = {repo.create_instance(cid, Schema.TAG, Tag(xdm_name=f"tag {i}")).instance_id for i in range(5)}

    paginator = repo.list_instances(cid, Schema.TAG, limit=2)
    assert isinstance(paginator, SyncPaginator)
    assert {i.instance_id for i in paginator} == made  # iterates across pages
    assert {i.instance_id for i in paginator.to_list()} == made
    first = paginator.first_page()
    assert isinstance(first, Page) and len(first.results) == 2

    pages = repo.iter_pages(cid, Schema.TAG, limit=2)
    assert isinstance(pages, SyncIterator)
    assert sum(len(p.results) for p in pages) == 5

    page_iterator = paginator.iter_pages()
    assert len(next(page_iterator).results) == 2

    found = repo.search_instances(cid, Schema.TAG, "tag", fields=["_instance.xdm:name"]).to_list()
    assert {i.instance_id for i in found} == made

    with iter(repo.list_instances(cid, Schema.TAG, limit=2)) as items:  # stopping early, then closing
        assert next(items).instance_id in made
    with pytest.raises(StopIteration):
        next(items)
    page_iterator.close()


def test_delete_operation_polls_and_resumes(connect: Connect, serve_emulator: Callable[..., str]) -> None:
    url = serve_emulator(delete_mode="async", delete_pending_polls=3)
    repo = connect(url)
    cid = _container(repo)
    receipt = repo.create_instance(cid, Schema.TAG, Tag(xdm_name="doomed"))
    op = repo.begin_delete(cid, receipt.instance_id)
    assert isinstance(op, SyncDeleteOperation)
    assert op.status == "pending" and not op.done() and op.instance_id == receipt.instance_id
    assert op.poll_once() == "pending"
    token = op.continuation_token()
    assert "sync-token" not in token and "SyncDeleteOperation" in repr(op)

    resumed = connect(url).resume_delete(token)
    assert isinstance(resumed, SyncDeleteOperation)
    outcome = resumed.result(timeout=10)
    assert isinstance(outcome, DeleteOutcome) and outcome.confirmed
    assert resumed.done() and resumed.status == "confirmed"

    other = repo.create_instance(cid, Schema.TAG, Tag(xdm_name="also doomed"))
    assert repo.delete_instance(cid, other.instance_id, timeout=10).confirmed


def test_close_context_manager_and_shared_loop(connect: Connect, client_options: dict[str, Any]) -> None:
    with connect() as repo, TargetClient.create(client_options) as target:
        assert repo._strategy.threads is target._strategy.threads  # one loop thread for every sync client
        _container(repo)
    assert repo.closed
    with pytest.raises(ClientClosedError):
        repo.list_containers()
    repo.close()


def test_the_loop_thread_is_refused(connect: Connect) -> None:
    repo = connect()
    with pytest.raises(WrongThreadError, match="use AsyncRepositoryClient"):
        repo._strategy.threads.loop_thread.call(repo.list_containers)


def test_bad_options_are_raised_and_release_the_threads() -> None:
    from .conftest import shim_threads

    with pytest.raises(Exception, match="api_key"):
        RepositoryClient(access_token="t", api_key="", org_id="o", sandbox_name="prod")
    assert shim_threads() == []
