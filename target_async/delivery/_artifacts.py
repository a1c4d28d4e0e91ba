"""The rules artifact of on-device decisioning: where it lives, its first load, its polling, its health.

One :class:`ArtifactSource` per client (shared by the sync facade's per-thread twins). It loads the first artifact
(from ``artifact_payload`` or a download), then polls with ``If-None-Match`` every ``polling_interval`` seconds in
a task on the client's event loop (asyncio; under trio, :meth:`ArtifactSource.refresh` polls on demand). A 304
keeps the compiled engine as is; a failed download or a bad artifact keeps the last good one. Downloads go through
the client's own HTTP stack (retries, ``verify``, ``proxy``, ``transport=``). Nothing here decides anything: the
compiled :class:`~target_async.decisioning.DecisionEngine` does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import attrs

from .. import _otel
from .._exceptions import (
    ConfigurationError,
    OnDeviceDisabledError,
    OnDeviceNotReadyError,
    PermissionDeniedError,
    TargetError,
)
from .._http import HTTPCore
from ._geo import geo_from_headers

__all__ = [
    "DEFAULT_POLLING_INTERVAL",
    "MAX_ARTIFACT_SIZE",
    "MIN_POLLING_INTERVAL",
    "ArtifactSource",
    "ArtifactStatus",
    "artifact_url",
    "cdn_host",
]

DEFAULT_POLLING_INTERVAL = 300.0
MIN_POLLING_INTERVAL = 300.0
MAX_ARTIFACT_SIZE = 64 * 1024 * 1024
"""The largest artifact accepted (decoded bytes); Target's artifacts are well under 10 MB."""

_CDN = "assets.adobetarget.com"
_CDN_STAGING = "assets.staging.adobetarget.com"
_CDN_ENVIRONMENTS = ("production", "staging", "development")
_FORMATS = ("json", "bin")

Emit = Callable[[str, Mapping[str, Any]], None]


def cdn_host(cdn_environment: str | None, cdn_base_path: str | None) -> str:
    """The CDN host (``cdn_base_path`` wins; staging/development use Adobe's staging CDN)."""
    if cdn_base_path:
        return cdn_base_path
    return _CDN_STAGING if cdn_environment in ("staging", "development") else _CDN


def artifact_url(
    *,
    client: str,
    environment: str | None,
    property_token: str | None,
    cdn_environment: str | None,
    cdn_base_path: str | None,
    artifact_location: str | None,
    artifact_format: str | None,
) -> str:
    """``artifact_location``, else ``https://{cdn}/{client}/{environment}/v1/[{property_token}/]rules.{json|bin}``."""
    if artifact_location:
        return artifact_location
    name = "rules.bin" if artifact_format == "bin" else "rules.json"
    segments = [client, environment or "production", "v1"]
    if property_token:
        segments.append(property_token)
    path = "/".join(quote(s, safe="") for s in segments)
    return f"https://{cdn_host(cdn_environment, cdn_base_path)}/{path}/{name}"


def check_artifact_options(
    *,
    artifact_location: Any,
    artifact_format: Any,
    polling_interval: Any,
    environment: Any,
    cdn_environment: Any,
    cdn_base_path: Any,
) -> float:
    """Validate the on-device options; return the polling interval in seconds (0 = no polling)."""
    if artifact_location is not None:
        if not isinstance(artifact_location, str) or urlsplit(artifact_location).scheme not in ("http", "https"):
            raise ConfigurationError("artifact_location must be an http(s) URL", field="artifact_location")
        if not urlsplit(artifact_location).hostname:
            raise ConfigurationError("artifact_location must name a host", field="artifact_location")
    if artifact_format is not None and artifact_format not in _FORMATS:
        raise ConfigurationError("artifact_format must be 'json' or 'bin'", field="artifact_format")
    if environment is not None and (not isinstance(environment, str) or not environment.isascii()):
        raise ConfigurationError("environment must be a string such as 'production'", field="environment")
    if environment is not None and (not environment or any(c in environment for c in "/?#%\\ \r\n\t")):
        raise ConfigurationError("environment must be one path segment", field="environment")
    if cdn_environment is not None and cdn_environment not in _CDN_ENVIRONMENTS:
        raise ConfigurationError(
            "cdn_environment must be one of " + ", ".join(_CDN_ENVIRONMENTS), field="cdn_environment"
        )
    if cdn_base_path is not None:
        bad = not isinstance(cdn_base_path, str) or not cdn_base_path
        if not bad:
            parts = urlsplit(f"//{cdn_base_path}")
            bad = parts.hostname is None or parts.username is not None or parts.path not in ("",)
        if bad:
            raise ConfigurationError("cdn_base_path must be a host name (host[:port])", field="cdn_base_path")
    if polling_interval is None:
        return DEFAULT_POLLING_INTERVAL
    if isinstance(polling_interval, bool) or not isinstance(polling_interval, int | float):
        raise ConfigurationError("polling_interval must be a number of seconds", field="polling_interval")
    if polling_interval != polling_interval or polling_interval < 0 or polling_interval == float("inf"):
        raise ConfigurationError("polling_interval must be 0 (off) or a number of seconds", field="polling_interval")
    if 0 < polling_interval < MIN_POLLING_INTERVAL:
        warnings.warn(
            f"polling_interval={polling_interval:g} s is below the minimum of {MIN_POLLING_INTERVAL:g} s; "
            f"using {MIN_POLLING_INTERVAL:g} s",
            UserWarning,
            stacklevel=4,
        )
        return MIN_POLLING_INTERVAL
    return float(polling_interval)


@attrs.frozen
class ArtifactStatus:
    """What a health check can read about the loaded artifact.

    Attributes:
        ready: whether an artifact is loaded and decisions can be made locally.
        location: where the artifact is downloaded from (``None`` for an ``artifact_payload`` only).
        version: the artifact's ``version``.
        etag: the ETag of the last 200.
        generated_at: the artifact's ``meta.generatedAt``.
        fetched_at: when the loaded artifact was received (epoch seconds).
        checked_at: when the last poll answered (200 or 304).
        retrieval_count: how many artifacts were loaded (each 200 and the payload).
        mbox_rules / view_rules: rule counts of the loaded artifact.
        polling_interval: seconds between polls (0 = off).
        last_error: the last download or load failure, if the latest attempt failed.
    """

    ready: bool
    location: str | None
    version: str | None = None
    etag: str | None = None
    generated_at: str | None = None
    fetched_at: float | None = None
    checked_at: float | None = None
    retrieval_count: int = 0
    mbox_rules: int = 0
    view_rules: int = 0
    polling_interval: float = DEFAULT_POLLING_INTERVAL
    last_error: BaseException | None = None


class ArtifactSource:
    """Loads, polls and keeps the artifact and its compiled engine for one client."""

    def __init__(
        self,
        *,
        http: HTTPCore,
        location: str,
        payload: Any,
        artifact_format: str | None,
        polling_interval: float,
        client: str,
        organization_id: str,
        emit: Emit,
        logger: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self._http = http
        self.location = location
        self._payload = payload
        self._format = artifact_format or ("bin" if urlsplit(location).path.endswith(".bin") else None)
        self.polling_interval = polling_interval
        self._client = client
        self._organization_id = organization_id
        self._emit = emit
        self._log = logger
        self.engine: Any = None  # DecisionEngine once loaded
        self._etag: str | None = None
        self._fetched_at: float | None = None
        self._checked_at: float | None = None
        self._count = 0
        self._error: BaseException | None = None
        self._pid = os.getpid()
        self._task: asyncio.Task[None] | None = None
        self._home: asyncio.AbstractEventLoop | None = None
        self._first: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._ready_fired = False
        self.server_geo: dict[str, Any] | None = None

    # -- health ----------------------------------------------------------------------------------------------

    @property
    def status(self) -> ArtifactStatus:
        engine = self.engine
        facts: dict[str, Any] = {}
        if engine is not None:
            artifact = engine.artifact
            facts = {
                "version": artifact.version,
                "generated_at": artifact.meta.get("generatedAt"),
                "mbox_rules": artifact.mbox_rule_count,
                "view_rules": artifact.view_rule_count,
            }
        return ArtifactStatus(
            ready=engine is not None,
            location=self.location,
            etag=self._etag,
            fetched_at=self._fetched_at,
            checked_at=self._checked_at,
            retrieval_count=self._count,
            polling_interval=self.polling_interval,
            last_error=self._error,
            **facts,
        )

    def trace_facts(self) -> dict[str, Any]:
        """The artifact facts a traced request reports (on-device.md §10)."""
        return {
            "artifactLocation": self.location,
            "pollingInterval": int(self.polling_interval * 1000),
            "pollingHalted": self.polling_interval == 0,
            "artifactRetrievalCount": self._count,
            "artifactLastRetrieved": None if self._fetched_at is None else int(self._fetched_at * 1000),
        }

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the first load and the polling on the running asyncio loop (idempotent; under another async
        library nothing starts and :meth:`wait_ready` loads inline)."""
        if self._pid != os.getpid():  # a forked child: the parent's task belongs to a loop this process lacks
            self._pid, self._task = os.getpid(), None
            self._first = concurrent.futures.Future()
            if self.engine is not None:
                self._first.set_result(None)
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        home = self._home
        if home is not None and home is not loop and home.is_running():
            home.call_soon_threadsafe(self.start)  # polling lives on the client's own loop, not a caller's
            return
        self._home = loop
        self._task = loop.create_task(self._run(), name="target-async-artifact")

    async def wait_ready(self, timeout: float | None) -> Any:
        """The engine, waiting up to ``timeout`` seconds (None = no limit) for the first artifact.

        Works from any thread's event loop (the sync facade's twins wait for the one download of their client).
        """
        if self.engine is not None:
            return self.engine
        self.start()
        try:
            with anyio.fail_after(timeout):
                if self._home is None:  # not asyncio: load inline
                    await self.refresh()
                else:
                    await asyncio.shield(asyncio.wrap_future(self._first))
        except TimeoutError as exc:
            raise OnDeviceNotReadyError(
                f"no rules artifact loaded within {timeout:g} s from {self.location}"
                + (f" (last error: {self._error})" if self._error else "")
            ) from exc
        if self.engine is None:
            if isinstance(self._error, OnDeviceDisabledError):
                raise self._error
            raise OnDeviceNotReadyError(f"no rules artifact could be loaded from {self.location}: {self._error}")
        return self.engine

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    # -- loading ---------------------------------------------------------------------------------------------

    async def _run(self) -> None:
        if self.engine is None:
            await self._first_load()
        while self.polling_interval > 0:
            await asyncio.sleep(self.polling_interval)
            await self.refresh()

    async def _first_load(self) -> None:
        delay = 1.0
        while self.engine is None:
            if self._payload is not None:
                payload, self._payload = self._payload, None
                self._load(payload, etag=None, announce=False)
            else:
                await self.refresh()
            if self.engine is not None or isinstance(self._error, OnDeviceDisabledError | ConfigurationError):
                break
            await asyncio.sleep(delay)  # keep trying until an artifact arrives; the HTTP core retried already
            delay = min(delay * 2, 30.0)
        if not self._first.done():
            self._first.set_result(None)

    @_otel.refresh_span
    async def refresh(self) -> bool:
        """Poll once now (``If-None-Match`` after a 200 with an ETag); True when a new artifact was loaded.

        Failures are recorded in :attr:`status` and emitted as ``artifact_download_failed``; the last good
        artifact keeps serving.
        """
        if self.engine is None and self._payload is not None:
            payload, self._payload = self._payload, None
            return self._load(payload, etag=None, announce=False)
        headers = {"Accept": "application/json, application/octet-stream"}
        if self._etag and self.engine is not None:
            headers["If-None-Match"] = self._etag
        try:
            answer = await self._http.send(
                "GET", self.location, headers=headers, idempotent=True, max_response_size=MAX_ARTIFACT_SIZE
            )
        except PermissionDeniedError as exc:
            return self._failed(
                OnDeviceDisabledError(
                    f"on-device decisioning is not enabled for this account (403 from {self.location})"
                ),
                cause=exc,
            )
        except TargetError as exc:
            return self._failed(exc)
        self._checked_at = time.time()
        self._server_geo(answer.headers)
        if answer.status_code == 304:
            self._error = None
            return False
        if answer.status_code != 200:
            return self._failed(TargetError(f"unexpected HTTP {answer.status_code} for the artifact {self.location}"))
        return self._load(answer.content, etag=answer.headers.get("etag"), announce=True)

    def _load(self, payload: Any, *, etag: str | None, announce: bool) -> bool:
        from ..decisioning import DecisionEngine, load_artifact

        try:
            artifact = load_artifact(payload, organization_id=self._organization_id, format=self._format)
            engine = DecisionEngine(artifact, client=self._client, organization_id=self._organization_id)
        except TargetError as exc:
            return self._failed(exc)
        self.engine = engine
        self._etag = etag
        self._fetched_at = self._checked_at = time.time()
        self._count += 1
        self._error = None
        if announce:
            self._emit(
                "artifact_download_succeeded",
                {"artifact_location": self.location, "artifact_payload": artifact.payload},
            )
        if not self._ready_fired:
            self._ready_fired = True
            self._emit("client_ready", {})
        return True

    def _failed(self, error: BaseException, cause: BaseException | None = None) -> bool:
        if cause is not None:
            error.__cause__ = cause
        self._error = error
        self._log.warning("target_async: the rules artifact could not be loaded from %s: %s", self.location, error)
        self._emit("artifact_download_failed", {"artifact_location": self.location, "error": error})
        return False

    def _server_geo(self, headers: Mapping[str, str]) -> None:
        geo = geo_from_headers(headers)
        if geo and geo != self.server_geo:
            self.server_geo = geo
            self._emit("geo_location_updated", {"geo_context": dict(geo)})
