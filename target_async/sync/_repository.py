"""``RepositoryClient``: :class:`~target_async.AsyncRepositoryClient`, synchronous, on the loop thread."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, Literal

from .._exceptions import ClientClosedError
from .._retry import RetryPolicy
from .._suggest import closest
from ..models.repository import Instance
from ..repository import AsyncPaginator, AsyncRepositoryClient, DeleteOperation, ResponseSnapshot
from ._base import SyncClient
from ._proxy import SyncIterator, SyncProxy, _awaited, blocking, iterating, offload_sync_callable, plain, wrapping
from ._strategy import ExecutionStrategy

__all__ = ["RepositoryClient", "SyncDeleteOperation", "SyncPaginator", "SyncRawResponses"]


class SyncPaginator(SyncProxy[AsyncPaginator]):
    """The results of ``list_instances``/``search_instances``: iterate for instances, or use the methods.

    Nothing is sent until it is used. An iteration stopped early should be closed (``with`` on the iterator
    returned by ``iter(paginator)``), as with any generator.
    """

    first_page = blocking(AsyncPaginator.first_page)
    to_list = blocking(AsyncPaginator.to_list)
    iter_pages = iterating(AsyncPaginator.iter_pages)

    def __iter__(self) -> SyncIterator[Instance]:
        return SyncIterator(self._target, self._strategy, what="iterating a SyncPaginator")


class SyncDeleteOperation(SyncProxy[DeleteOperation]):
    """A delete in progress (``begin_delete``): ``result(timeout)`` polls until the outcome is known."""

    result = blocking(DeleteOperation.result)
    poll_once = blocking(DeleteOperation.poll_once)
    done = plain(DeleteOperation.done)
    continuation_token = plain(DeleteOperation.continuation_token)

    @property
    def status(self) -> Literal["pending", "confirmed", "rejected"]:
        """``"pending"``, ``"confirmed"`` or ``"rejected"``."""
        return self._target.status

    @property
    def container_id(self) -> str:
        """The container."""
        return self._target.container_id

    @property
    def instance_id(self) -> str:
        """The instance being deleted."""
        return self._target.instance_id

    @property
    def polling_url(self) -> str | None:
        """The status URL being polled, if any."""
        return self._target.polling_url

    @property
    def request_id(self) -> str:
        """The ``x-request-id`` of the ``DELETE``."""
        return self._target.request_id

    @property
    def last_response(self) -> ResponseSnapshot | None:
        """What was kept of the last answer."""
        return self._target.last_response

    def __repr__(self) -> str:
        return repr(self._target).replace("<DeleteOperation", "<SyncDeleteOperation", 1)


class RepositoryClient(SyncClient, SyncProxy[AsyncRepositoryClient]):
    """The decisioning repository API, synchronously: every method of :class:`AsyncRepositoryClient`.

    Coroutine methods block and return the same values; ``list_instances``/``search_instances`` return a
    :class:`SyncPaginator`, ``iter_pages`` a sync iterator, ``begin_delete``/``resume_delete`` a
    :class:`SyncDeleteOperation`. The async client runs on the event-loop thread shared with every other sync
    client of the process.

    Sync callables given to it (an ``access_token`` provider, the ``fn`` of :meth:`update_with_retry`) run on
    a worker thread, never on the event loop, so they may block (e.g. refresh a token over HTTP).

    Args:
        access_token: the bearer token, or a callable (sync or async) returning it before each request.
        **options: every other keyword argument of :class:`AsyncRepositoryClient` (``api_key``, ``org_id``,
            ``sandbox_name``, ``base_url``, ``timeout``, ``retries``, ``verify``, ``proxy``, ``logger``, ...).

    Close it with :meth:`close` or use it as a context manager.
    """

    _is_copy = False  # with_options copies own nothing

    def __init__(self, *, access_token: Any, **options: Any) -> None:
        token = offload_sync_callable(access_token)
        strategy = ExecutionStrategy(
            "RepositoryClient",
            "AsyncRepositoryClient",
            lambda callbacks: AsyncRepositoryClient(access_token=token, **options),
        )
        super().__init__(strategy.client, strategy)

    list_containers = blocking(AsyncRepositoryClient.list_containers)
    create_instance = blocking(AsyncRepositoryClient.create_instance)
    get_instance = blocking(AsyncRepositoryClient.get_instance)
    replace_instance = blocking(AsyncRepositoryClient.replace_instance)
    patch_instance = blocking(AsyncRepositoryClient.patch_instance)
    update_with_retry = blocking(AsyncRepositoryClient.update_with_retry, offload=("fn",))
    list_instances = wrapping(AsyncRepositoryClient.list_instances, SyncPaginator)
    search_instances = wrapping(AsyncRepositoryClient.search_instances, SyncPaginator)
    iter_pages = iterating(AsyncRepositoryClient.iter_pages)
    list_page = blocking(AsyncRepositoryClient.list_page)
    begin_delete = blocking(AsyncRepositoryClient.begin_delete, wrap=SyncDeleteOperation)
    resume_delete = wrapping(AsyncRepositoryClient.resume_delete, SyncDeleteOperation)
    delete_instance = blocking(AsyncRepositoryClient.delete_instance)

    def with_options(
        self,
        *,
        timeout: float | None = None,
        retries: RetryPolicy | int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> RepositoryClient:
        """A copy of this client with another ``timeout`` (seconds), ``retries`` or extra ``headers`` (added to
        ``default_headers``), as ``AsyncRepositoryClient.with_options``.

        The copy shares this client's event-loop thread and connection pool. The original owns them: closing
        the copy only retires the copy; closing the original closes them, and the copy refuses calls from then
        on. ``None`` keeps the current value.

        Raises:
            ConfigurationError: an invalid ``timeout``, ``retries`` or header.
            ClientClosedError: this client (or the one it was copied from) is closed.
        """
        if self.closed:
            raise ClientClosedError("this RepositoryClient is closed")
        target = self._target.with_options(timeout=timeout, retries=retries, headers=headers)
        copy = RepositoryClient.__new__(RepositoryClient)
        SyncProxy.__init__(copy, target, self._strategy)
        copy._is_copy = True
        return copy

    def close(self, *, cancel_pending: bool = False, timeout: float | None = None) -> None:
        """Close the client; idempotent (see :meth:`SyncClient.close`). On a :meth:`with_options` copy: retire the
        copy only (the original owns the thread and the pool)."""
        if not self._is_copy:
            super().close(cancel_pending=cancel_pending, timeout=timeout)
        elif not self._target.closed and not self._strategy.closed:
            self._strategy.run(lambda copy: self._target.aclose(), what="RepositoryClient.close()", on_loop_thread=True)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called (on a copy: on it or on the original)."""
        return self._strategy.closed or (self._is_copy and self._target.closed)

    def __del__(self) -> None:
        if not self._is_copy:  # a copy owns nothing: nothing to close, nothing to warn about
            super().__del__()

    @property
    def with_raw_response(self) -> SyncRawResponses:
        """The calls returning a :class:`~target_async.RawResponse` (status, headers, request id, ``parse()``),
        blocking: ``repo.with_raw_response.get_instance(...)``."""
        return SyncRawResponses(self)

    @property
    def base_url(self) -> str:
        """The repository base URL."""
        return self._target.base_url

    @property
    def org_id(self) -> str:
        """The IMS organization."""
        return self._target.org_id

    @property
    def sandbox_name(self) -> str:
        """The sandbox."""
        return self._target.sandbox_name

    def __repr__(self) -> str:
        return repr(self._target).replace("AsyncRepositoryClient(", "RepositoryClient(", 1)


class SyncRawResponses:
    """``RepositoryClient.with_raw_response``: the methods of ``AsyncRepositoryClient.with_raw_response``,
    blocking (``update_with_retry``'s ``fn`` runs on the event-loop thread here: keep it quick)."""

    def __init__(self, client: RepositoryClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        client = self._client
        method = getattr(client._target.with_raw_response, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return client._strategy.run(
                lambda _: _awaited(method(*args, **kwargs)),
                what=f"RepositoryClient.with_raw_response.{name}",
                stacklevel=2,
                on_loop_thread=True,
            )

        return call


def _checking_keywords(call: Callable[..., Any], names: list[str], what: str) -> Callable[..., Any]:
    def checked(proxy: Any, /, *args: Any, **kwargs: Any) -> Any:
        for name in kwargs:
            if name not in names:
                match = closest(name, names)
                hint = f" (did you mean {match}?)" if match else ""
                raise TypeError(f"{what} got an unexpected keyword argument {name!r}{hint}")
        return call(proxy, *args, **kwargs)

    return checked


def _suggest_keywords(*classes: type) -> None:
    """A misspelled keyword of a proxy method raises the ``TypeError`` Python would, with a did-you-mean
    (``get_instance(..., timout=5)``: ``did you mean timeout?``), before anything runs on the loop."""
    for cls in classes:
        for member in vars(cls).values():
            method, call = getattr(member, "_method", None), getattr(member, "_call", None)
            if method is None or call is None:
                continue
            params = list(inspect.signature(method).parameters.values())[1:]  # without self
            if any(p.kind is p.VAR_KEYWORD for p in params):
                continue
            names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
            member._call = _checking_keywords(call, names, member._what)


_suggest_keywords(RepositoryClient, SyncPaginator, SyncDeleteOperation)
