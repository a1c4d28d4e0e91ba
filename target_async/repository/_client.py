"""``AsyncRepositoryClient``: the decisioning repository ("xcore") API over asyncio."""

from __future__ import annotations

from .._raw import raw
from ._base import DEFAULT_BASE_URL, AccessToken
from ._deletes import RepositoryDeletes

__all__ = ["DEFAULT_BASE_URL", "AccessToken", "AsyncRepositoryClient", "RepositoryRawResponses"]


class AsyncRepositoryClient(RepositoryDeletes):
    """Client of the decisioning repository API.

    Every request carries ``Authorization: Bearer``, ``x-api-key``, ``x-gw-ims-org-id``, ``x-sandbox-name``
    and a fresh ``x-request-id``, plus the vendor media types of each call. Reads, PUTs, conditional PATCHes,
    deletes and polls are retried under ``retries``; creates only with ``retry=True``.

    Args:
        access_token: the bearer token, or a sync/async callable returning it (called before each request,
            so a refreshed token is used at once; the callable does its own caching).
        api_key: the ``x-api-key`` (client id).
        org_id: the IMS organization (``x-gw-ims-org-id``).
        sandbox_name: the sandbox (``x-sandbox-name``).
        base_url: the repository base; links starting with ``/`` are resolved against it.
        timeout: the overall deadline of one request in seconds, retries included.
        retries: the retry policy, or a number of retries (an int >= 0).
        http_client: a caller-owned ``httpx.AsyncClient`` (never closed by this client).
        transport: an httpx transport for the client built here (``httpx.MockTransport`` in tests).
        verify: TLS verification (as httpx); ``False`` warns :class:`~target_async.InsecureTLSWarning`, a CA path
            must exist.
        proxy: an ``http://`` or ``https://`` proxy URL (``socks5://`` with ``httpx[socks]``).
        logger: the logger (default ``target_async``).
        media_type_version: ``"1"`` adds ``; version=1`` to the media types (later Adobe docs); default off.
        max_response_size: the cap of a decoded answer body in bytes (default 16 MiB).
        default_headers: headers sent with every request, after the SDK's own (a name the SDK sets is refused).
        trust_env: read ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``, ``NO_PROXY``, ``SSL_CERT_FILE`` and
            ``SSL_CERT_DIR`` as httpx does (default True; an explicit ``proxy``/``verify`` wins).

    Each call takes ``timeout=`` (seconds, default the client's; on ``delete_instance`` it is the wait for the
    outcome, as before); :meth:`with_options` gives a copy with other defaults over the same connection pool.

    Options are checked at construction (:class:`~target_async.ConfigurationError` naming the option): see
    :class:`~target_async.AsyncTargetClient` for the shared rules.

    Use ``async with`` or call :meth:`aclose`.
    """

    @property
    def with_raw_response(self) -> RepositoryRawResponses:
        """The calls returning a :class:`~target_async.RawResponse` (status, headers, request id, ``parse()``),
        as openai's ``client.with_raw_response``: ``raw = await client.with_raw_response.get_instance(...)``."""
        return RepositoryRawResponses(self)


class RepositoryRawResponses:
    """``client.with_raw_response``: the calls of :class:`AsyncRepositoryClient` that send requests, returning a
    :class:`~target_async.RawResponse` of the last HTTP answer (``update_with_retry`` and ``delete_instance``
    send several: ``http_requests`` counts them) and ``parse()`` for the usual result."""

    def __init__(self, client: AsyncRepositoryClient) -> None:
        self.list_containers = raw(client.list_containers)
        self.create_instance = raw(client.create_instance)
        self.get_instance = raw(client.get_instance)
        self.replace_instance = raw(client.replace_instance)
        self.patch_instance = raw(client.patch_instance)
        self.update_with_retry = raw(client.update_with_retry)
        self.list_page = raw(client.list_page)
        self.begin_delete = raw(client.begin_delete)
        self.delete_instance = raw(client.delete_instance)
