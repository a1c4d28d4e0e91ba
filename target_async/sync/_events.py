"""The facade's events: every handler runs on the callback thread, never on the event loop.

``client_ready`` is the facade's own (:class:`ReadyWatch`): server-side it fires once ``create()`` has returned
to its caller; on-device and hybrid, once the first artifact is loaded as well (the async client's own
``client_ready`` event arms it). Every other event is relayed as is.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import threading
import time
import types
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._callback_thread import CallbackThread

if TYPE_CHECKING:
    from ._base import SyncClient

__all__ = ["CLIENT_READY", "ReadyWatch", "relay_events"]

CLIENT_READY = "client_ready"
# client_ready fires once create() has returned and its caller has moved on (normally a few ms later), and
# never later than _READY_MAX_WAIT after create() (Adobe's SDK waits a fixed 100 ms).
_READY_GRACE = 0.01
_READY_POLL = 0.005
_READY_MAX_WAIT = 0.1

_log = logging.getLogger("target_async")


def ready_handler(options: Mapping[str, Any]) -> Callable[..., Any] | None:
    """The ``client_ready`` handler of the documented options, if any (invalid ``events``: ``None``)."""
    events = options.get("events")
    if not isinstance(events, Mapping) or not all(callable(h) for h in events.values()):
        return None  # absent, or invalid: the async client reports it
    return events.get(CLIENT_READY)


def relay_events(options: Mapping[str, Any], callbacks: CallbackThread, ready: ReadyWatch | None) -> Mapping[str, Any]:
    """``options`` with every event handler moved to the callback thread, and ``client_ready`` arming ``ready``."""
    events = options.get("events")
    if not isinstance(events, Mapping) or not all(callable(h) for h in events.values()):
        return options  # absent, or invalid: the async client reports it
    relayed: dict[str, Callable[..., Any]] = {}
    for name, handler in events.items():
        if name == CLIENT_READY:
            relayed[name] = (lambda event: ready.arm(callbacks)) if ready is not None else (lambda event: None)
        else:
            relayed[name] = _on_thread(handler, callbacks)
    return {**options, "events": relayed}


def _on_thread(handler: Callable[..., Any], callbacks: CallbackThread) -> Callable[[Any], None]:
    context = contextvars.copy_context()
    return lambda event: callbacks.submit(lambda: context.run(handler, event))


class ReadyWatch:
    """Fires ``client_ready`` on the callback thread once armed and once ``create()`` has returned to its caller.

    The caller's frame is watched: its last instruction moves on from the call only after ``create()``
    returned, i.e. when the result is being stored (``target_client = TargetClient.create(...)``), which
    the documented example relies on. A ceiling keeps the event from ever waiting longer than Adobe's 100 ms.
    Arming twice fires once.

    Args:
        client: the sync client (weakly held): nothing fires once it is closed or collected.
        handler: the user's handler.
        caller: the frame that called ``create()``.
        logger: where a failing handler is logged (default: the async client's logger).
    """

    def __init__(
        self,
        client: SyncClient,
        handler: Callable[..., Any],
        caller: types.FrameType | None,
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
    ) -> None:
        self._client = weakref.ref(client)
        self._handler = handler
        self._caller = caller
        self._lasti = caller.f_lasti if caller is not None else -1
        self._callbacks: CallbackThread | None = None
        self._logger = logger
        self._context = contextvars.copy_context()
        self._deadline = time.monotonic() + _READY_MAX_WAIT
        self._lock = threading.Lock()

    def arm(self, callbacks: CallbackThread) -> None:
        """Start watching, on ``callbacks`` (from any thread); later calls do nothing."""
        with self._lock:
            if self._callbacks is not None:
                return
            self._callbacks = callbacks
        callbacks.call_later(_READY_GRACE, self._check)

    def _returned(self) -> bool:
        if self._callbacks is not None and self._callbacks.expediting:  # interpreter exit: create() returned long ago
            return True
        return self._caller is None or self._caller.f_lasti != self._lasti

    def _check(self) -> None:
        if not self._returned() and time.monotonic() < self._deadline and self._callbacks is not None:
            self._callbacks.call_later(_READY_POLL, self._check)
            return
        self._caller = None  # do not keep the caller's frame (and its locals) alive
        client = self._client()
        strategy = getattr(client, "_strategy", None)
        if client is None or strategy is None or client.closed:
            return
        logger: logging.Logger | logging.LoggerAdapter[Any] = self._logger or strategy.client.logger
        del client, strategy
        try:
            if _takes_event(self._handler):
                self._context.run(self._handler, {"type": CLIENT_READY})
            else:
                self._context.run(self._handler)
        except Exception:
            logger.exception("target_async: the client_ready handler failed")


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
