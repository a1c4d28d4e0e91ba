"""``TargetClient``: the synchronous, callback-compatible face of :class:`~target_async.AsyncTargetClient`."""

from __future__ import annotations

import contextvars
import inspect
import logging
import sys
import time
import types
import weakref
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TypedDict, TypeVar, overload

from .._exceptions import ConfigurationError, UsageError, ValidationError
from ..delivery import AsyncTargetClient, Attributes, TargetDeliveryResponse
from ..delivery._artifacts import ArtifactStatus
from ..delivery._options import DeliveryOptions
from ..models import DeliveryRequest
from ._async_result import AsyncResult
from ._lanes import Lanes, loop_running_here
from ._runner import Bridge, BridgedClient, Dispatcher

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


_CLIENT_READY = "client_ready"
# client_ready fires once create() has returned and its caller has moved on (normally a few ms later), and
# never later than _READY_MAX_WAIT after create() (Adobe's SDK waits a fixed 100 ms).
_READY_GRACE = 0.01
_READY_POLL = 0.005
_READY_MAX_WAIT = 0.1


class TargetClient(BridgedClient):
    """Adobe Target's documented ``TargetClient``: blocking calls, or callbacks with an ``AsyncResult``.

    Build it with :meth:`create`. Blocking calls run on the calling thread, on an event loop that thread keeps
    for its next calls (with a connection pool per calling thread). Callback calls share one event-loop thread
    and one callback thread with the other sync clients of the process. Every pool is reused across calls.
    Close the client with :meth:`close` or use it as a context manager.
    """

    _bridge: Bridge
    _aclient: AsyncTargetClient
    _lanes: Lanes

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
        bridge = Bridge("TargetClient", "AsyncTargetClient")
        events = _EventRelay(options, bridge.dispatcher)
        try:
            aclient = bridge.call_sync(lambda: AsyncTargetClient.from_options(events.options))
        except BaseException:
            bridge.close()
            raise
        bridge.aclose = aclient.aclose
        lanes = Lanes(aclient._twin)
        bridge.before_aclose = lambda cancel, deadline: lanes.close(cancel=cancel, deadline=deadline)
        self = cls.__new__(cls)
        self._bridge = bridge
        self._aclient = aclient
        self._lanes = lanes
        if events.ready_handler is not None:
            watch = _ReadyWatch(self, events.ready_handler, caller, bridge.dispatcher, aclient.logger)
            if aclient.decisioning_method == "server-side":
                watch.arm()
            else:
                events.ready_watch = watch  # armed when the first artifact is loaded
        if aclient.decisioning_method != "server-side":
            bridge.call_sync(aclient._local.start)  # one artifact download and polling, on the shared loop
        return self

    def wait_until_ready(self, timeout: float | None = None) -> None:
        """Block until the on-device rules artifact is loaded (see ``AsyncTargetClient.wait_until_ready``)."""
        self._bridge.run(lambda: self._aclient.wait_until_ready(timeout), what="TargetClient.wait_until_ready()")

    def refresh_artifact(self) -> bool:
        """Poll the on-device rules artifact now; True when a new one was loaded."""
        return self._bridge.run(self._aclient.refresh_artifact, what="TargetClient.refresh_artifact()")

    @property
    def artifact_status(self) -> ArtifactStatus:
        """What is loaded for on-device decisioning (see ``AsyncTargetClient.artifact_status``)."""
        return self._aclient.artifact_status

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
        bridge = self._bridge
        aclient = self._aclient
        if callback is None and err_callback is None:
            if loop_running_here():  # this thread cannot run a second loop: use the shared one (with a warning)
                return bridge.run(lambda: fn(aclient), what=f"TargetClient.{name}()", stacklevel=3)
            bridge.check()
            return self._lanes.run(fn)  # on this thread's own loop, with its twin of aclient
        future = bridge.submit(lambda: fn(aclient))
        return AsyncResult(
            future,
            bridge.dispatcher,
            callback=callback,
            err_callback=err_callback,
            logger=self._aclient.logger,
        )

    # -- lifecycle: close(), closed, context manager (BridgedClient) ------------------------------------------

    def __repr__(self) -> str:
        aclient = getattr(self, "_aclient", None)
        if aclient is None:
            return "<TargetClient (not created)>"
        state = " closed" if self.closed else ""
        return f"<TargetClient client={aclient.client!r} organization_id={aclient.organization_id!r}{state}>"


class _EventRelay:
    """The facade's events: handlers run on the callback thread, never on the event loop.

    ``client_ready`` is the facade's own: server-side it fires once ``create()`` has returned; on-device and
    hybrid, once the first artifact is loaded as well (``ready_watch`` is armed by the async client's event).
    """

    def __init__(self, options: Mapping[str, Any], dispatcher: Dispatcher) -> None:
        self.ready_handler: Callable[..., Any] | None = None
        self.ready_watch: _ReadyWatch | None = None
        self.options: Mapping[str, Any] = options
        events = options.get("events")
        if not isinstance(events, Mapping) or not all(callable(h) for h in events.values()):
            return  # absent, or invalid: from_options reports it
        relayed: dict[str, Callable[..., Any]] = {}
        for name, handler in events.items():
            if name == _CLIENT_READY:
                self.ready_handler = handler
                relayed[name] = self._ready
            else:
                relayed[name] = _on_thread(handler, dispatcher)
        self.options = {**options, "events": relayed}

    def _ready(self, event: object) -> None:
        if self.ready_watch is not None:
            self.ready_watch.arm()


def _on_thread(handler: Callable[..., Any], dispatcher: Dispatcher) -> Callable[[Any], None]:
    context = contextvars.copy_context()
    return lambda event: dispatcher.submit(lambda: context.run(handler, event))


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


class _ReadyWatch:
    """Fires ``client_ready`` on the callback thread once ``create()`` has returned to its caller.

    The caller's frame is watched: its last instruction moves on from the call only after ``create()``
    returned, i.e. when the result is being stored (``target_client = TargetClient.create(...)``), which
    the documented example relies on. A ceiling keeps the event from ever waiting longer than Adobe's 100 ms.
    """

    def __init__(
        self,
        client: TargetClient,
        handler: Callable[..., Any],
        caller: types.FrameType | None,
        dispatcher: Dispatcher,
        logger: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self._client = weakref.ref(client)
        self._handler = handler
        self._caller = caller
        self._lasti = caller.f_lasti if caller is not None else -1
        self._dispatcher = dispatcher
        self._logger = logger
        self._context = contextvars.copy_context()
        self._deadline = time.monotonic() + _READY_MAX_WAIT

    def arm(self) -> None:
        self._dispatcher.call_later(_READY_GRACE, self._check)

    def _returned(self) -> bool:
        if self._dispatcher.expediting:  # interpreter exit: create() returned long ago
            return True
        return self._caller is None or self._caller.f_lasti != self._lasti

    def _check(self) -> None:
        if not self._returned() and time.monotonic() < self._deadline:
            self._dispatcher.call_later(_READY_POLL, self._check)
            return
        self._caller = None  # do not keep the caller's frame (and its locals) alive
        client = self._client()
        if client is None or client.closed:
            return
        del client
        try:
            if _takes_event(self._handler):
                self._context.run(self._handler, {"type": _CLIENT_READY})
            else:
                self._context.run(self._handler)
        except Exception:
            self._logger.exception("target_async: the client_ready handler failed")


def _takes_event(handler: Callable[..., Any]) -> bool:
    """Whether ``handler`` accepts the event dict (otherwise it is called with no argument)."""
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):  # some builtins: pass the event, as documented
        return True
    try:
        signature.bind({})
    except TypeError:
        try:
            signature.bind()
        except TypeError:
            return True  # neither fits: let the call with the event report the error
        return False
    return True
