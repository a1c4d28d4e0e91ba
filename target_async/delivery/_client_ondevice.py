"""The on-device part of :class:`~target_async.AsyncTargetClient`'s surface: readiness, polling on demand, the
health check, and the two callbacks the on-device part calls back (sending a queued notification, firing an
event)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._artifacts import ArtifactStatus
from ._notifier import PendingNotification
from ._options import Call

if TYPE_CHECKING:
    from ._local import OnDevice
    from ._response import TargetDeliveryResponse

__all__ = ["OnDeviceMethods"]


class OnDeviceMethods:
    """Mixed into :class:`~target_async.AsyncTargetClient` (which provides the attributes declared here)."""

    _local: OnDevice
    _ready_sent: bool
    events: dict[str, Callable[..., Any]]
    logger: logging.Logger

    if TYPE_CHECKING:  # provided by the client (ClientBase, AsyncTargetClient): declared for the type checker only

        def _check_open(self) -> None: ...

        async def _deliver(self, call: Call) -> TargetDeliveryResponse: ...

    @property
    def artifact_status(self) -> ArtifactStatus:
        """What is loaded for on-device decisioning (for a health check): ready, version, ETag, rule counts,
        when it was fetched, the last error."""
        return self._local.artifacts.status

    async def wait_until_ready(self, timeout: float | None = None) -> None:
        """Start the artifact download (if not started) and wait until an artifact is loaded.

        Raises:
            OnDeviceNotReadyError: no artifact within ``timeout`` seconds (``None``: wait as long as it takes).
            OnDeviceDisabledError: the CDN answered 403 (on-device decisioning is off for the account).
        """
        self._check_open()
        await self._local.artifacts.wait_ready(timeout)

    async def refresh_artifact(self) -> bool:
        """Poll the artifact now (``If-None-Match``); True when a new one was loaded (it is then in use).

        Polling runs on its own every ``polling_interval`` seconds; this is for tests, demos and admin hooks.
        A failure keeps the current artifact (see :attr:`artifact_status`).
        """
        self._check_open()
        return await self._local.artifacts.refresh()

    async def _send_pending(self, item: PendingNotification) -> None:
        """Send one queued on-device notification request (the notifier's sender)."""
        call = Call(
            request=item.request,
            notifications=True,
            method="server-side",
            session_id=item.session_id,
            location_hint=item.target_location_hint,
        )
        await self._deliver(call)

    def _emit(self, name: str, payload: Mapping[str, Any]) -> None:
        """Fire the ``name`` event's handler (never raises into the SDK)."""
        if name == "client_ready":
            if self._ready_sent:
                return  # once per client
            self._ready_sent = True
        handler = self.events.get(name)
        if handler is None:
            return
        try:
            handler({"type": name, **payload})
        except Exception:
            self.logger.exception("target_async: the %s handler failed", name)
