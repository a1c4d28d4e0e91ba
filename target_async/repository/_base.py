"""The plumbing under :class:`AsyncRepositoryClient`: options, lifecycle, identity headers and sending."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from .._client_base import ClientBase
from .._exceptions import ConfigurationError, ValidationError
from .._http import Answer, VerifyTypes
from .._ids import request_id as new_request_id
from .._raw import record
from .._retry import DEFAULT_RETRIES, RetryPolicy
from .._serde import json_dumps
from .._settings import (
    DEFAULT_MAX_RESPONSE_SIZE,
    check_header_value,
    check_token,
)
from ._links import escape_reason
from ._media import MediaTypes
from ._params import instance_body, links_body, path_segment

__all__ = ["DEFAULT_BASE_URL", "AccessToken", "RepositoryBase"]

DEFAULT_BASE_URL = "https://platform.adobe.io/data/core/xcore/"

AccessToken = str | Callable[[], str] | Callable[[], Awaitable[str]]
"""A bearer token, or a sync or async callable returning one (called before every request)."""

B = TypeVar("B", bound="RepositoryBase")


def _config_str(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{name} must be a non-empty string", field=name)
    return check_header_value(value.strip(), name)  # no CR/LF or other control character (header injection)


class RepositoryBase(ClientBase):
    """Options, lifecycle and request plumbing; the API is :class:`AsyncRepositoryClient`."""

    _owned_headers = frozenset(
        {
            "authorization",
            "x-api-key",
            "x-gw-ims-org-id",
            "x-sandbox-name",
            "if-match",
            "if-none-match",
        }
    )

    def __init__(
        self,
        *,
        access_token: AccessToken,
        api_key: str,
        org_id: str,
        sandbox_name: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        retries: RetryPolicy | int = DEFAULT_RETRIES,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: VerifyTypes = True,
        proxy: str | httpx.Proxy | None = None,
        logger: logging.Logger | None = None,
        media_type_version: str | None = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        default_headers: Mapping[str, str] | None = None,
        trust_env: bool = True,
    ) -> None:
        if not callable(access_token):
            _config_str(access_token, "access_token")
        self._access_token = access_token
        self._api_key = _config_str(api_key, "api_key")
        self.org_id = _config_str(org_id, "org_id")
        self.sandbox_name = _config_str(sandbox_name, "sandbox_name")
        base = _config_str(base_url, "base_url")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(f"base_url must be an absolute http(s) URL, got {base_url!r}", field="base_url")
        self.base_url = base if base.endswith("/") else base + "/"
        self._media = MediaTypes(media_type_version)
        self._init_http(
            timeout=timeout,
            retries=retries,
            verify=verify,
            proxy=proxy,
            http_client=http_client,
            transport=transport,
            logger=logger,
            max_response_size=max_response_size,
            default_headers=default_headers,
            trust_env=trust_env,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, org_id={self.org_id!r}, "
            f"sandbox_name={self.sandbox_name!r})"
        )

    # --- plumbing -----------------------------------------------------------------------------------

    async def _bearer(self) -> str:
        value: Any = self._access_token
        if callable(value):
            value = value()
            if inspect.isawaitable(value):
                value = await value
        token: str = check_token(value, "access_token").strip()
        return token[7:].strip() if token[:7].lower() == "bearer " else token

    async def _authorization(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self._bearer()}"}

    def _instance_url(self, container_id: str, instance_id: str) -> str:
        # each id is checked and encoded as one path segment (``..`` refused, ``/``, ``?``, ``#``, ``%`` encoded)
        cid, iid = path_segment(container_id, "container_id"), path_segment(instance_id, "instance_id")
        return f"{self.base_url}{cid}/instances/{iid}"

    def _container_url(self, container_id: str, *path: str) -> str:
        return self.base_url + path_segment(container_id, "container_id") + "".join("/" + p for p in path)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool,
        accept: str,
        content_type: str | None = None,
        content: bytes | None = None,
        params: list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        request_timeout: float | None = None,
        request_id: str | None = None,
        retry: bool = True,
    ) -> Answer:
        self._check_open()
        reason = escape_reason(url, self.base_url)
        if reason is not None:  # the last guard: links from answers were checked when they were read
            raise ValidationError(
                f"refusing to send credentials to {url}: {reason} (the repository is {self.base_url})", field="url"
            )
        hdrs = {
            "x-api-key": self._api_key,
            "x-gw-ims-org-id": self.org_id,
            "x-sandbox-name": self.sandbox_name,
            "x-request-id": request_id or new_request_id(),
            "Accept": accept,
        }
        if content_type is not None:
            hdrs["Content-Type"] = content_type
        if self._call_headers:  # with_options(headers=)
            hdrs.update(self._call_headers)
        if headers:
            hdrs.update(headers)
        answer = await self._http.send(
            method,
            url,
            idempotent=idempotent,
            params=params,
            headers=hdrs,
            content=content,
            timeout=self.timeout if request_timeout is None else request_timeout,
            credentials=self._authorization,  # the token callable runs inside the call's deadline
            retries=self._call_retries,
            retry=retry,
        )
        record(answer)  # for with_raw_response
        return answer

    # --- what delete polling needs (repository/_polling.py StatusSource) ----------------------------------

    async def _read_instance_state(self, container_id: str, instance_id: str, *, request_timeout: float) -> Answer:
        return await self._send(
            "GET",
            self._instance_url(container_id, instance_id),
            idempotent=True,
            accept=self._media.read_accept(None),
            request_timeout=request_timeout,
            retry=False,
        )

    async def _read_delete_status(self, url: str, *, request_timeout: float, request_id: str) -> Answer:
        return await self._send(
            "GET",
            url,
            idempotent=True,
            accept=self._media.receipt,
            request_timeout=request_timeout,
            request_id=request_id,
            retry=False,
        )

    @staticmethod
    def _encode(body: Any, field: str) -> bytes:
        try:
            return json_dumps(body)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"{field} is not JSON-serialisable: {exc}", field=field) from exc

    def _hal_body(self, instance: Any, schema: str, links: Any) -> bytes:
        return self._encode({"_instance": instance_body(instance, schema), "_links": links_body(links)}, "instance")
