"""``TargetClient``: the synchronous, callback-compatible face of :class:`~target_async.AsyncTargetClient`."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from math import inf
from typing import Any, TypedDict, TypeVar, overload

from .._exceptions import ClientClosedError, ConfigurationError, UsageError, ValidationError
from .._raw import RawResponse
from .._retry import RetryPolicy
from .._suggest import unknown_options
from ..delivery import ArtifactStatus, AsyncTargetClient, Attributes, DeliveryOptions, TargetDeliveryResponse
from ..models import DeliveryRequest
from ._async_result import AsyncResult
from ._base import SyncClient
from ._callback_thread import CallbackThread
from ._events import ReadyWatch, ready_handler, relay_events
from ._proxy import _awaited
from ._strategy import ExecutionStrategy

__all__ = ["CallOptions", "SyncDeliveryRawResponses", "TargetClient"]

T = TypeVar("T")

_SYNC_CALL_KEYS = DeliveryOptions.__optional_keys__ | {"request", "timeout", "callback", "err_callback"}
_MAX_VIEWS = 64  # with_options copies of lane clients kept before the closed ones (ended threads) are dropped


class CallOptions(DeliveryOptions, total=False):
    """The documented per-call options of ``get_offers``, ``send_notifications`` and ``get_attributes``.

    Only for type checkers: any mapping with these keys is accepted. A dict literal with ``callback`` (or
    ``err_callback``) types the call as returning an :class:`AsyncResult`, one without as blocking.
    ``timeout``: this call's deadline in **milliseconds** (as the ``timeout`` of ``TargetClient.create``).
    """

    request: DeliveryRequest | Mapping[str, Any]
    timeout: float


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
    _settings: dict[str, Any] | None = None  # with_options copies: the async with_options keywords
    _views: dict[int, AsyncTargetClient]  # copies: id(async client) -> its with_options copy
    _views_lock: threading.Lock
    _copy_closed = False

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
        self._check_copy()
        self._strategy.run(lambda aclient: aclient.wait_until_ready(timeout), what=what, on_loop_thread=True)

    def refresh_artifact(self) -> bool:
        """Poll the on-device rules artifact now; True when a new one was loaded."""
        self._check_copy()
        return self._strategy.run(
            lambda aclient: aclient.refresh_artifact(), what="TargetClient.refresh_artifact()", on_loop_thread=True
        )

    @property
    def artifact_status(self) -> ArtifactStatus:
        """What is loaded for on-device decisioning (see ``AsyncTargetClient.artifact_status``)."""
        return self._strategy.client.artifact_status

    # -- copies and raw responses ----------------------------------------------------------------------------

    def with_options(
        self,
        *,
        timeout: float | None = None,
        retries: RetryPolicy | int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> TargetClient:
        """A copy of this client with another ``timeout`` (**seconds**, as every keyword argument of the sync
        clients; the options dicts take milliseconds), ``retries`` or extra ``headers`` (added to
        ``default_headers``), as ``AsyncTargetClient.with_options``.

        The copy shares this client's threads, connection pools, edge routing and on-device part. The original
        owns them: closing the copy only retires the copy; closing the original closes them, and the copy
        refuses calls from then on. ``None`` keeps the current value. Raises ``ConfigurationError`` for an
        invalid value, ``ClientClosedError`` when this client is closed.
        """
        self._check_copy()
        self._strategy.check()
        settings: dict[str, Any] = dict(self._settings or {})
        if timeout is not None:
            settings["timeout"] = timeout
        if retries is not None:
            settings["retries"] = retries
        if headers is not None:  # a copy of a copy adds to the first one's headers
            settings["headers"] = {**settings.get("headers", {}), **headers}
        self._strategy.client.with_options(**settings)  # checks them (and warns) here, at the caller
        copy = TargetClient.__new__(TargetClient)
        copy._strategy = self._strategy
        copy._settings = settings
        copy._views = {}
        copy._views_lock = threading.Lock()
        return copy

    @property
    def with_raw_response(self) -> SyncDeliveryRawResponses:
        """The calls returning a :class:`~target_async.RawResponse`: ``client.with_raw_response.get_offers({...})``."""
        return SyncDeliveryRawResponses(self)

    def _check_copy(self) -> None:
        if self._copy_closed:
            raise ClientClosedError("this TargetClient (a with_options copy) is closed")

    def _view(self, aclient: AsyncTargetClient) -> AsyncTargetClient:
        """The async client (the loop thread's, or a lane's) with this copy's settings (on the original: it)."""
        settings = self._settings
        if settings is None:
            return aclient
        with self._views_lock:
            view = self._views.get(id(aclient))
            if view is None:
                if len(self._views) >= _MAX_VIEWS:  # the lanes of ended threads are closed: drop their copies
                    self._views = {k: v for k, v in self._views.items() if not v.closed}
                view = aclient.with_options(**settings)  # checked in with_options (a warning was given there)
                self._views[id(aclient)] = view  # the copy holds aclient: its id is not reused while it is kept
        return view

    def close(self, *, cancel_pending: bool = False, timeout: float | None = None) -> None:
        """Close the client (see :meth:`SyncClient.close`); a :meth:`with_options` copy retires only itself."""
        if self._settings is not None:
            self._copy_closed = True
            return
        super().close(cancel_pending=cancel_pending, timeout=timeout)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called (on a copy: on it or on the original)."""
        return self._copy_closed or self._strategy.closed

    def __del__(self) -> None:
        if self._settings is None:  # a copy owns nothing: nothing to close, nothing to warn about
            super().__del__()

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
        opts, seconds, callback, err_callback = _split(options)
        return self._call("get_offers", lambda client: client.get_offers(opts, timeout=seconds), callback, err_callback)

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
        opts, seconds, callback, err_callback = _split(options)
        return self._call(
            "send_notifications",
            lambda client: client.send_notifications(opts, timeout=seconds),
            callback,
            err_callback,
        )

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
        opts, seconds, callback, err_callback = _split(options)
        return self._call(
            "get_attributes",
            lambda client: client.get_attributes(mbox_names, opts, timeout=seconds),
            callback,
            err_callback,
        )

    def _call(
        self,
        name: str,
        fn: Callable[[AsyncTargetClient], Coroutine[Any, Any, T]],
        callback: Callable[[T], object] | None,
        err_callback: Callable[[BaseException], object] | None,
    ) -> T | AsyncResult[T]:
        self._check_copy()
        strategy = self._strategy
        if self._settings is not None:
            call = fn
            fn = lambda client: call(self._view(client))  # noqa: E731
        if callback is None and err_callback is None:
            return strategy.run(fn, what=f"TargetClient.{name}()", stacklevel=3)
        return AsyncResult(
            strategy.submit(fn),
            strategy.callbacks,
            callback=callback,
            err_callback=err_callback,
            logger=strategy.client.logger,
        )

    def __repr__(self) -> str:
        strategy = getattr(self, "_strategy", None)
        if strategy is None:
            return "<TargetClient (not created)>"
        aclient = strategy.client
        state = " closed" if self.closed else ""
        copy = " (with_options copy)" if self._settings is not None else ""
        return f"<TargetClient{copy} client={aclient.client!r} organization_id={aclient.organization_id!r}{state}>"


class SyncDeliveryRawResponses:
    """``TargetClient.with_raw_response``: ``get_offers``, ``send_notifications`` and ``get_attributes`` returning a
    :class:`~target_async.RawResponse` (blocking; with ``callback``/``err_callback``, an :class:`AsyncResult` of
    it). The options are those of the ``TargetClient`` calls."""

    def __init__(self, client: TargetClient) -> None:
        self._client = client

    def get_offers(
        self, options: Mapping[str, Any] | None = None
    ) -> RawResponse[TargetDeliveryResponse] | AsyncResult[RawResponse[TargetDeliveryResponse]]:
        """``TargetClient.get_offers``, returning the :class:`~target_async.RawResponse`."""
        return self._raw("get_offers", (), options)

    def send_notifications(
        self, options: Mapping[str, Any] | None = None
    ) -> RawResponse[TargetDeliveryResponse] | AsyncResult[RawResponse[TargetDeliveryResponse]]:
        """``TargetClient.send_notifications``, returning the :class:`~target_async.RawResponse`."""
        return self._raw("send_notifications", (), options)

    def get_attributes(
        self, mbox_names: Sequence[str], options: Mapping[str, Any] | None = None
    ) -> RawResponse[Attributes] | AsyncResult[RawResponse[Attributes]]:
        """``TargetClient.get_attributes``, returning the :class:`~target_async.RawResponse`."""
        return self._raw("get_attributes", (mbox_names,), options)

    def _raw(
        self, name: str, args: tuple[Any, ...], options: Mapping[str, Any] | None
    ) -> RawResponse[Any] | AsyncResult[RawResponse[Any]]:
        opts, seconds, callback, err_callback = _split(options)
        return self._client._call(
            f"with_raw_response.{name}",
            lambda client: _awaited(getattr(client.with_raw_response, name)(*args, opts, timeout=seconds)),
            callback,
            err_callback,
        )


def _split(
    options: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], float | None, Callable[[Any], object] | None, Callable[[BaseException], object] | None]:
    """Copy the per-call options and take ``timeout`` (milliseconds, returned in seconds) and
    ``callback``/``err_callback`` out of them (validated)."""
    if options is None:
        options = {}
    elif not isinstance(options, Mapping):
        raise ValidationError("options must be a dict (the documented per-call options)", field="options")
    opts = dict(options)
    if "request" in opts:  # an options mapping (as the async calls decide): every key must be known
        unknown = sorted((k for k in opts if k not in _SYNC_CALL_KEYS), key=str)
        if unknown:
            raise ValidationError(unknown_options(unknown, _SYNC_CALL_KEYS), field=str(unknown[0]))
    millis = opts.pop("timeout", None)
    if millis is not None and (isinstance(millis, bool) or not isinstance(millis, int | float) or not 0 < millis < inf):
        raise ValidationError(f"timeout must be a number of milliseconds above 0, got {millis!r}", field="timeout")
    seconds = None if millis is None else millis / 1000
    callback = opts.pop("callback", None)
    err_callback = opts.pop("err_callback", None)
    if callback is not None and not callable(callback):
        raise ValidationError("Callback must be a callable function", field="callback")
    if err_callback is not None and not callable(err_callback):
        raise ValidationError("Error callback must be a callable function", field="err_callback")
    return opts, seconds, callback, err_callback
