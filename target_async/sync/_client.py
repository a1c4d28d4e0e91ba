"""``TargetClient``: the synchronous, callback-compatible face of :class:`~target_async.AsyncTargetClient`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TypedDict, TypeVar, overload

from .._exceptions import ConfigurationError, UsageError, ValidationError
from ..delivery import ArtifactStatus, AsyncTargetClient, Attributes, DeliveryOptions, TargetDeliveryResponse
from ..models import DeliveryRequest
from ._async_result import AsyncResult
from ._base import SyncClient
from ._callback_thread import CallbackThread
from ._events import ReadyWatch, ready_handler, relay_events
from ._strategy import ExecutionStrategy

__all__ = ["CallOptions", "TargetClient"]

T = TypeVar("T")


class CallOptions(DeliveryOptions, total=False):
    """The documented per-call options of ``get_offers``, ``send_notifications`` and ``get_attributes``.

    Only for type checkers: any mapping with these keys is accepted. A dict literal with ``callback`` (or
    ``err_callback``) types the call as returning an :class:`AsyncResult`, one without as blocking.
    """

    request: DeliveryRequest | Mapping[str, Any]


# (required keys through a second base: typing.Required needs Python 3.11)
class _HasResponseCallback(TypedDict):
    callback: Callable[[TargetDeliveryResponse], object]


class _HasAttributesCallback(TypedDict):
    callback: Callable[[Attributes], object]


class _HasErrCallback(TypedDict):
    err_callback: Callable[[BaseException], object]


class _ResponseCallback(CallOptions, _HasResponseCallback, total=False):
    err_callback: Callable[[BaseException], object] | None


class _AttributesCallback(CallOptions, _HasAttributesCallback, total=False):
    err_callback: Callable[[BaseException], object] | None


class _ErrCallbackOnly(CallOptions, _HasErrCallback, total=False):
    pass


def _lane_client(aclient: AsyncTargetClient) -> AsyncTargetClient:
    """A lane's async client: the same settings and edge routing, a connection pool for the lane's loop."""
    return aclient._twin()


class TargetClient(SyncClient):
    """Adobe Target's documented ``TargetClient``: blocking calls, or callbacks with an ``AsyncResult``.

    Build it with :meth:`create`. Blocking calls run on the calling thread, on an event loop that thread keeps
    for its next calls (with a connection pool per calling thread). Callback calls share one event-loop thread
    and one callback thread with the other sync clients of the process. Every pool is reused across calls.
    Close the client with :meth:`close` or use it as a context manager.
    """

    _strategy: ExecutionStrategy[AsyncTargetClient]

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise UsageError("Please use TargetClient.create static method instead")

    @classmethod
    def create(cls, options: Mapping[str, Any] | None) -> TargetClient:
        """Create a client from the documented options dict.

        Args:
            options: ``client`` and ``organization_id`` (required), ``timeout`` (milliseconds, default 3000),
                ``server_domain``, ``secure``, ``target_location_hint``, ``property_token``,
                ``environment_id``, ``version``, ``decisioning_method``, ``logger``, ``events``, the
                on-device options (``artifact_location``, ``artifact_payload``, ``artifact_format``,
                ``polling_interval`` in seconds, ``environment``, ``cdn_environment``, ``cdn_base_path``,
                ``telemetry_enabled``), and the network options ``verify``, ``proxy``, ``http2``,
                ``max_connections``, ``retries``.

        ``events={"client_ready": handler}``: the handler runs on the callback thread shortly after
        ``create`` has returned (and the caller has stored the client), with ``{"type": "client_ready"}``,
        or with no argument when it takes none; on-device and hybrid, once the first rules artifact is loaded.
        Every other event handler (``artifact_download_succeeded``, ``artifact_download_failed``,
        ``geo_location_updated``, ``send_notification_error``) also runs on the callback thread with the event
        dict. On-device and hybrid, ``create`` starts the artifact download in the background.

        Raises:
            ConfigurationError: an option is missing or invalid ("Options are required", "Client is
                required", "Organization Id is required", "Invalid Decisioning Method...").
        """
        if not options:
            raise ConfigurationError("Options are required", field="options")
        caller = sys._getframe(1) if hasattr(sys, "_getframe") else None
        self = cls.__new__(cls)
        handler = ready_handler(options)
        ready = None if handler is None else ReadyWatch(self, handler, caller)

        def make_client(callbacks: CallbackThread) -> AsyncTargetClient:
            return AsyncTargetClient.from_options(relay_events(options, callbacks, ready))

        strategy = ExecutionStrategy("TargetClient", "AsyncTargetClient", make_client, lane_client=_lane_client)
        self._strategy = strategy
        if strategy.client.decisioning_method == "server-side":
            if ready is not None:
                ready.arm(strategy.callbacks)
        else:  # one artifact download and polling, on the loop thread; ready is armed by the first artifact
            try:
                strategy.call_on_loop(strategy.client._local.start)
            except BaseException:
                strategy.close()
                raise
        return self

    def wait_until_ready(self, timeout: float | None = None) -> None:
        """Block until the on-device rules artifact is loaded (see ``AsyncTargetClient.wait_until_ready``)."""
        what = "TargetClient.wait_until_ready()"
        self._strategy.run(lambda aclient: aclient.wait_until_ready(timeout), what=what, on_loop_thread=True)

    def refresh_artifact(self) -> bool:
        """Poll the on-device rules artifact now; True when a new one was loaded."""
        return self._strategy.run(
            lambda aclient: aclient.refresh_artifact(), what="TargetClient.refresh_artifact()", on_loop_thread=True
        )

    @property
    def artifact_status(self) -> ArtifactStatus:
        """What is loaded for on-device decisioning (see ``AsyncTargetClient.artifact_status``)."""
        return self._strategy.client.artifact_status

    # -- calls -----------------------------------------------------------------------------------------------

    @overload
    def get_offers(  # type: ignore[overload-overlap]  # the narrower signature comes first, on purpose
        self, options: _ResponseCallback | _ErrCallbackOnly
    ) -> AsyncResult[TargetDeliveryResponse]: ...
    @overload
    def get_offers(self, options: CallOptions | None = None) -> TargetDeliveryResponse: ...
    @overload
    def get_offers(
        self, options: Mapping[str, Any] | None = None
    ) -> TargetDeliveryResponse | AsyncResult[TargetDeliveryResponse]: ...
    def get_offers(
        self, options: Mapping[str, Any] | None = None
    ) -> TargetDeliveryResponse | AsyncResult[TargetDeliveryResponse]:
        """Decide offers (``options`` as documented: ``request``, ``target_cookie``, ``session_id``, ...).

        Without ``callback`` it blocks (running the call on this thread) and returns the
        :class:`TargetDeliveryResponse`, or raises the typed error; Ctrl-C cancels the call. With ``callback``
        (and/or ``err_callback``) it returns an :class:`AsyncResult` at once; the callback receives the same
        response that ``AsyncResult.get()`` returns.

        Raises:
            ValidationError: "Callback must be a callable function", or an invalid request.
            TargetError: the call failed (blocking mode).
        """
        opts, callback, err_callback = _split(options)
        return self._call("get_offers", lambda client: client.get_offers(opts), callback, err_callback)

    @overload
    def send_notifications(  # type: ignore[overload-overlap]
        self, options: _ResponseCallback | _ErrCallbackOnly
    ) -> AsyncResult[TargetDeliveryResponse]: ...
    @overload
    def send_notifications(self, options: CallOptions | None = None) -> TargetDeliveryResponse: ...
    @overload
    def send_notifications(
        self, options: Mapping[str, Any] | None = None
    ) -> TargetDeliveryResponse | AsyncResult[TargetDeliveryResponse]: ...
    def send_notifications(
        self, options: Mapping[str, Any] | None = None
    ) -> TargetDeliveryResponse | AsyncResult[TargetDeliveryResponse]:
        """Send display/click notifications (``request.notifications``); blocking or with callbacks."""
        opts, callback, err_callback = _split(options)
        return self._call("send_notifications", lambda client: client.send_notifications(opts), callback, err_callback)

    @overload
    def get_attributes(  # type: ignore[overload-overlap]
        self, mbox_names: Sequence[str], options: _AttributesCallback | _ErrCallbackOnly
    ) -> AsyncResult[Attributes]: ...
    @overload
    def get_attributes(self, mbox_names: Sequence[str], options: CallOptions | None = None) -> Attributes: ...
    @overload
    def get_attributes(
        self, mbox_names: Sequence[str], options: Mapping[str, Any] | None = None
    ) -> Attributes | AsyncResult[Attributes]: ...
    def get_attributes(
        self, mbox_names: Sequence[str], options: Mapping[str, Any] | None = None
    ) -> Attributes | AsyncResult[Attributes]:
        """Execute ``mbox_names`` and return their JSON offer attributes (:class:`Attributes`)."""
        opts, callback, err_callback = _split(options)
        return self._call(
            "get_attributes", lambda client: client.get_attributes(mbox_names, opts), callback, err_callback
        )

    def _call(
        self,
        name: str,
        fn: Callable[[AsyncTargetClient], Coroutine[Any, Any, T]],
        callback: Callable[[T], object] | None,
        err_callback: Callable[[BaseException], object] | None,
    ) -> T | AsyncResult[T]:
        strategy = self._strategy
        if callback is None and err_callback is None:
            return strategy.run(fn, what=f"TargetClient.{name}()", stacklevel=3)
        return AsyncResult(
            strategy.submit(fn),
            strategy.callbacks,
            callback=callback,
            err_callback=err_callback,
            logger=strategy.client.logger,
        )

    # -- lifecycle: close(), closed, context manager (SyncClient) --------------------------------------------

    def __repr__(self) -> str:
        strategy = getattr(self, "_strategy", None)
        if strategy is None:
            return "<TargetClient (not created)>"
        aclient = strategy.client
        state = " closed" if self.closed else ""
        return f"<TargetClient client={aclient.client!r} organization_id={aclient.organization_id!r}{state}>"


def _split(
    options: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], Callable[[Any], object] | None, Callable[[BaseException], object] | None]:
    """Copy the per-call options and take ``callback``/``err_callback`` out of them (validated)."""
    if options is None:
        options = {}
    elif not isinstance(options, Mapping):
        raise ValidationError("options must be a dict (the documented per-call options)", field="options")
    opts = dict(options)
    callback = opts.pop("callback", None)
    err_callback = opts.pop("err_callback", None)
    if callback is not None and not callable(callback):
        raise ValidationError("Callback must be a callable function", field="callback")
    if err_callback is not None and not callable(err_callback):
        raise ValidationError("Error callback must be a callable function", field="err_callback")
    return opts, callback, err_callback
