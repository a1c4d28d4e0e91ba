"""On-device and hybrid decisioning for one client: the routing seam between the Delivery API and the engine.

:class:`OnDevice` owns the client's :class:`~._artifacts.ArtifactSource`, :class:`~._geo.GeoLookup` and
:class:`~._notifier.Notifier`. For each call the client asks :meth:`OnDevice.engine_for` whether it can be decided
locally (on-device: always, once an artifact is loaded; hybrid: when nothing it asks for is remote), then
:meth:`OnDevice.decide` runs the pure engine with the call's "now", geo and session, and queues the display
notifications and telemetry to be sent in the background.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from .. import _otel
from .._http import HTTPCore
from .._ids import request_id as new_request_id
from ..models import DeliveryRequest
from ._artifacts import ArtifactSource, artifact_url, cdn_host, check_artifact_options
from ._geo import GeoLookup
from ._notifier import Notifier, PendingNotification

__all__ = ["OnDevice", "OnDeviceSettings"]

Emit = Callable[[str, Mapping[str, Any]], None]


@attrs.frozen
class OnDeviceSettings:
    """The on-device options of a client, checked once at construction."""

    artifact_location: str
    artifact_payload: Any
    artifact_format: str | None
    polling_interval: float
    telemetry_enabled: bool
    geo_url: str

    @classmethod
    def build(
        cls,
        *,
        client: str,
        property_token: str | None,
        artifact_location: Any = None,
        artifact_payload: Any = None,
        artifact_format: Any = None,
        polling_interval: Any = None,
        environment: Any = None,
        cdn_environment: Any = None,
        cdn_base_path: Any = None,
        telemetry_enabled: Any = True,
    ) -> OnDeviceSettings:
        from .._exceptions import ConfigurationError

        interval = check_artifact_options(
            artifact_location=artifact_location,
            artifact_format=artifact_format,
            polling_interval=polling_interval,
            environment=environment,
            cdn_environment=cdn_environment,
            cdn_base_path=cdn_base_path,
        )
        if artifact_payload is not None and not isinstance(artifact_payload, Mapping | str | bytes | bytearray):
            raise ConfigurationError("artifact_payload must be a dict, a str or bytes", field="artifact_payload")
        if not isinstance(telemetry_enabled, bool):
            raise ConfigurationError("telemetry_enabled must be a bool", field="telemetry_enabled")
        location = artifact_url(
            client=client,
            environment=environment,
            property_token=property_token,
            cdn_environment=cdn_environment,
            cdn_base_path=cdn_base_path,
            artifact_location=artifact_location,
            artifact_format=artifact_format,
        )
        if cdn_base_path or not artifact_location:
            geo_url = f"https://{cdn_host(cdn_environment, cdn_base_path)}/v1/geo"
        else:
            parts = urlsplit(artifact_location)
            geo_url = f"{parts.scheme}://{parts.netloc}/v1/geo"  # the host that serves the artifact
        return cls(
            artifact_location=location,
            artifact_payload=artifact_payload,
            artifact_format=artifact_format,
            polling_interval=interval,
            telemetry_enabled=telemetry_enabled,
            geo_url=geo_url,
        )


class OnDevice:
    """The artifact, geo lookups and background notifications of one client (shared by its twins)."""

    def __init__(
        self,
        settings: OnDeviceSettings,
        *,
        http: HTTPCore,
        client: str,
        organization_id: str,
        property_token: str | None,
        emit: Emit,
        send: Callable[[PendingNotification], Any],
        logger: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self.settings = settings
        self.property_token = property_token
        self.artifacts = ArtifactSource(
            http=http,
            location=settings.artifact_location,
            payload=settings.artifact_payload,
            artifact_format=settings.artifact_format,
            polling_interval=settings.polling_interval,
            client=client,
            organization_id=organization_id,
            emit=emit,
            logger=logger,
        )
        self.geo = GeoLookup(settings.geo_url, emit, logger)
        self.notifier = Notifier(send, emit, logger, telemetry=settings.telemetry_enabled)

    def start(self) -> None:
        """Start the artifact download and polling, and bind the notifications to this loop (asyncio)."""
        self.artifacts.start()
        try:
            self.notifier.bind(asyncio.get_running_loop())
        except RuntimeError:
            pass

    async def engine_for(self, request: DeliveryRequest, method: str, timeout: float) -> Any:
        """The engine to decide ``request`` with, or None when it goes to the Delivery API (hybrid only)."""
        engine = self.artifacts.engine
        if engine is None:
            self.artifacts.start()
        if method == "hybrid":
            if engine is None:
                return None  # no artifact yet: the server decides
            mboxes, views = engine.remote_dependencies(request)
            return None if mboxes or views else engine
        if engine is None:
            engine = await self.artifacts.wait_ready(timeout)
        return engine

    @_otel.decision_span
    async def decide(
        self,
        engine: Any,
        request: DeliveryRequest,
        *,
        http: HTTPCore,
        session_id: str,
        cluster: str | None,
        deadline: float,
    ) -> Any:
        """Decide ``request`` locally and queue its notifications and telemetry."""
        now = time.time()  # read first: the call's one "now" (on-device.md §3)
        geo = None
        ip = engine.geo_lookup_ip(request)
        if ip is not None:
            geo = await self.geo.lookup(http, ip, deadline - time.monotonic())
        decision = engine.decide(
            request,
            now=now,
            geo=geo,
            session_id=session_id,
            location_hint=cluster,
            property_token=self.property_token,
            trace=self.artifacts.trace_facts() if request.trace is not None else None,
            telemetry=self.notifier.telemetry_enabled,
        )
        # the visitor's notification request; telemetry entries are batched by the notifier (one ride for many)
        body = decision.notification_request(request_id=new_request_id(), telemetry=False)
        if body is not None:
            await self.notifier.backpressure()  # before queuing, with no await in between: the bound holds
            if not self.notifier.put(PendingNotification(body, session_id, cluster), decision.telemetry):
                await self.notifier.flush()  # no asyncio loop to send it in the background (trio)
        return decision

    async def aclose(self) -> None:
        """Flush pending notifications, then stop polling."""
        try:
            await self.notifier.flush()
        finally:
            await self.artifacts.aclose()
