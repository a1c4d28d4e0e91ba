"""The long-running delete (spec section 3): :class:`DeleteOperation`.

Paths after the ``DELETE``:

* ``200``/``204``: already decided (a receipt, or an outcome body).
* ``202`` + ``Location``: poll that URL (resolved against the repository base). ``202`` again means pending,
  and a new ``Location`` replaces the old one; ``200`` carries the outcome (confirmation or rejection).
* ``202`` without ``Location``: accepted; with ``confirm_with_get=True`` (default) the instance is read
  until it answers ``404``.

Delays: ``Retry-After`` when the server sends it, otherwise 0.5 s doubling up to 10 s with 25 % jitter. A
``Retry-After`` on the ``202`` that answered the ``DELETE`` itself is honoured before the first poll (without one,
the first poll goes out at once). Two bounds protect both sides from a misbehaving server: no two polls are
closer than :data:`POLL_MIN_INTERVAL` (0.2 s, so ``Retry-After: 0`` cannot turn polling into a busy loop), and
a ``Retry-After`` above :data:`POLL_MAX_RETRY_AFTER` (60 s) is waited as 60 s (the overall timeout still
applies). The waiting is switched off with :func:`target_async._retry.set_backoff_enabled` (tests).

429, 502, 503, 504 and transport failures during polling are retried until the overall timeout (60 s by
default); a ``404`` on the status URL raises :class:`OperationExpiredError`; other errors are raised at once.
On timeout, :class:`PollingTimeoutError` carries a continuation token; the server-side operation goes on.
Cancelling the awaiting task only stops the polling.

Links: a status ``Location`` that leaves the repository (another host, a path outside the base, a ``..``
segment) raises :class:`ResponseDecodeError`; so does a decided answer (``200``) whose body is not empty and not
a JSON object, since its outcome (confirmation or rejection) cannot be known. A continuation token's ids and
polling URL are checked like the client's own arguments.

The operation holds a reference to its client to send requests, never a copy of the token or API key, and
neither its ``repr`` nor its continuation token contains credentials.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

import anyio

from .. import _otel, _retry
from .._exceptions import (
    DeleteRejectedError,
    NotFoundError,
    OperationExpiredError,
    PollingTimeoutError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from .._http import Answer
from .._ids import request_id as new_request_id
from .._retry import RetryPolicy, parse_retry_after
from ..models.repository import DeleteOutcome
from ._links import escape_reason
from ._outcomes import ResponseSnapshot, decided_outcome, outcome_of, status_location
from ._params import require_id

if TYPE_CHECKING:
    import logging

__all__ = [
    "DEFAULT_POLLING_TIMEOUT",
    "StatusSource",
    "POLL_DELAYS",
    "POLL_MAX_RETRY_AFTER",
    "POLL_MIN_INTERVAL",
    "DeleteOperation",
    "ResponseSnapshot",
    "decided_outcome",
    "outcome_of",
    "poll_delay",
    "status_location",
]

DEFAULT_POLLING_TIMEOUT = 60.0
"""Seconds :meth:`DeleteOperation.result` waits by default."""

POLL_DELAYS = RetryPolicy(initial_delay=0.5, max_delay=10.0, jitter=0.25)
"""Backoff between polls when the server sends no ``Retry-After`` (``max_retries`` is not used: the overall
timeout bounds polling)."""

POLL_MIN_INTERVAL = 0.2
"""The floor of the pause between two polls, in seconds, whatever ``Retry-After`` says (``0`` included)."""

POLL_MAX_RETRY_AFTER = 60.0
"""The cap of an honoured ``Retry-After``, in seconds: a larger value (or a far HTTP date) waits this long."""

Status = Literal["pending", "confirmed", "rejected"]
_Mode = Literal["status", "confirm", "done"]
_TRANSIENT_5XX = (502, 503, 504)
_TOKEN_VERSION = 1

_sleep = anyio.sleep  # tests replace this to observe the delays


def poll_delay(attempt: int, headers: Mapping[str, str] | None) -> float:
    """Seconds to wait before the next poll: ``Retry-After`` (capped) or the backoff, never under the floor.

    Args:
        attempt: how many pauses came before this one (the backoff doubles with it).
        headers: the last answer's headers (``Retry-After``, ``retry-after-ms``), if any.
    """
    if not _retry._backoff_enabled:
        return 0.0
    asked = parse_retry_after(headers) if headers else None
    delay = (POLL_DELAYS.delay(attempt) or 0.0) if asked is None else min(asked, POLL_MAX_RETRY_AFTER)
    return max(delay, POLL_MIN_INTERVAL)


class StatusSource(Protocol):
    """What a :class:`DeleteOperation` needs from its client, and nothing more: two reads, the repository base
    (to check links and tokens), the per-request timeout and the logger. The client sends each read once (its
    own retry policy is off for them): the operation's poll loop is the one owner of waiting and retrying."""

    base_url: str
    timeout: float
    logger: logging.Logger

    async def _read_instance_state(self, container_id: str, instance_id: str, *, request_timeout: float) -> Answer:
        """``GET`` the instance (``NotFoundError`` once it is gone)."""

    async def _read_delete_status(self, url: str, *, request_timeout: float, request_id: str) -> Answer:
        """``GET`` the delete status resource."""


class DeleteOperation:
    """A delete in progress; ``await op`` is ``await op.result()``.

    Attributes:
        container_id: the container.
        instance_id: the instance being deleted.
        polling_url: the absolute status URL being polled (None when there is none).
        request_id: the ``x-request-id`` of the original ``DELETE``.
        started_at: when the delete was sent (seconds since the epoch).
        last_response: a :class:`ResponseSnapshot` of the last answer.
    """

    def __init__(
        self,
        client: StatusSource,
        *,
        container_id: str,
        instance_id: str,
        request_id: str,
        started_at: float,
        polling_url: str | None = None,
        confirm: bool = False,
        outcome: DeleteOutcome | None = None,
        last_response: ResponseSnapshot | None = None,
    ) -> None:
        self._client = client
        self.container_id = container_id
        self.instance_id = instance_id
        self.request_id = request_id
        self.started_at = started_at
        self.polling_url = polling_url
        self.last_response = last_response
        self._outcome = outcome
        self._mode: _Mode = "done" if outcome is not None else ("confirm" if confirm else "status")
        # the DELETE's own 202 may carry a Retry-After: it is honoured before the first poll
        self._delay_headers: Mapping[str, str] | None = last_response.headers if last_response else None
        self._lock: anyio.Lock | None = None

    def __repr__(self) -> str:
        return (
            f"<DeleteOperation status={self.status!r} container_id={self.container_id!r} "
            f"instance_id={self.instance_id!r} polling_url={self.polling_url!r} "
            f"request_id={self.request_id!r}>"
        )

    @property
    def status(self) -> Status:
        """``"pending"``, ``"confirmed"`` or ``"rejected"``."""
        return "pending" if self._outcome is None else self._outcome.status

    def done(self) -> bool:
        """Whether the outcome is known."""
        return self._outcome is not None

    def __await__(self) -> Generator[Any, None, DeleteOutcome]:
        return self.result().__await__()

    # --- continuation tokens ------------------------------------------------------------------------

    def continuation_token(self) -> str:
        """An opaque token (base64url JSON, no credentials) to resume polling in another process."""
        data = {
            "v": _TOKEN_VERSION,
            "op": "delete",
            "mode": "confirm" if self._mode == "confirm" else "status",
            "polling_url": self.polling_url,
            "base": self._client.base_url,
            "container_id": self.container_id,
            "instance_id": self.instance_id,
            "request_id": self.request_id,
            "started_at": self.started_at,
        }
        raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    @classmethod
    def from_continuation_token(cls, client: StatusSource, token: str) -> DeleteOperation:
        """Resume a pending delete; the token must come from a client with the same base URL."""
        try:
            padded = token + "=" * (-len(token) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        except (binascii.Error, ValueError, UnicodeError, AttributeError, TypeError) as exc:
            raise ValidationError("not a delete continuation token", field="token") from exc
        if not isinstance(data, dict) or data.get("v") != _TOKEN_VERSION or data.get("op") != "delete":
            raise ValidationError("not a delete continuation token", field="token")
        strings = ("base", "container_id", "instance_id", "request_id")
        url = data.get("polling_url")
        if (
            any(not isinstance(data.get(k), str) for k in strings)
            or not isinstance(data.get("started_at"), int | float)
            or data.get("mode") not in ("status", "confirm")
            or not (url is None or isinstance(url, str))
            or (data["mode"] == "status" and url is None)
        ):
            raise ValidationError("malformed delete continuation token", field="token")
        if data["base"].rstrip("/") != client.base_url.rstrip("/"):
            raise ValidationError(
                f"the token belongs to the repository at {data['base']}, not {client.base_url}", field="token"
            )
        try:
            require_id(data["container_id"], "container_id")
            require_id(data["instance_id"], "instance_id")
        except ValidationError as exc:
            raise ValidationError(f"malformed delete continuation token: {exc.message}", field="token") from exc
        reason = None if url is None else escape_reason(url, client.base_url)
        if reason is not None:
            raise ValidationError(f"the token's polling URL is not in the repository: {reason}", field="token")
        return cls(
            client,
            container_id=data["container_id"],
            instance_id=data["instance_id"],
            request_id=data["request_id"],
            started_at=float(data["started_at"]),
            polling_url=url,
            confirm=data["mode"] == "confirm",
        )

    # --- polling ------------------------------------------------------------------------------------

    def _record(self, response: Answer) -> None:
        self.last_response = ResponseSnapshot.of(response)

    def _decide(self, outcome: DeleteOutcome) -> None:
        self._outcome = outcome
        self._mode = "done"

    async def poll_once(self, *, request_timeout: float | None = None) -> Status:
        """Send one status request (no waiting) and return the status.

        Raises:
            OperationExpiredError: the status URL answered 404.
            APIError: any other error answer (429/5xx included: :meth:`result` retries those).
        """
        if self._mode == "done":
            return self.status
        client = self._client
        if self._mode == "confirm":
            try:
                response = await client._read_instance_state(
                    self.container_id, self.instance_id, request_timeout=request_timeout or client.timeout
                )
            except NotFoundError:
                self._decide(DeleteOutcome(status="confirmed", instance_id=self.instance_id))
                return self.status
            self._record(response)
            self._delay_headers = response.headers
            return self.status
        assert self.polling_url is not None
        rid = new_request_id()  # this poll's own id (``self.request_id`` is the DELETE's)
        try:
            response = await client._read_delete_status(
                self.polling_url, request_timeout=request_timeout or client.timeout, request_id=rid
            )
        except NotFoundError as exc:
            raise OperationExpiredError(
                404,
                f"the delete status resource {self.polling_url} is gone",
                body=exc.body,
                request_id=exc.request_id,
                headers=exc.headers,
            ) from exc
        self._delay_headers = response.headers
        what = "delete status poll"
        if response.status_code in (200, 204):
            outcome, self.last_response = decided_outcome(response, self.instance_id, request_id=rid, what=what)
            self._decide(outcome)
        else:
            self._record(response)
            location = status_location(response, client.base_url, request_id=rid, what=what)
            if location is not None:
                self.polling_url = location
        return self.status

    @_otel.delete_span
    async def result(
        self,
        timeout: float | None = None,
        *,
        raise_on_reject: bool = True,
    ) -> DeleteOutcome:
        """Poll until the outcome is known and return it.

        Args:
            timeout: overall seconds for this call (default :data:`DEFAULT_POLLING_TIMEOUT`).
            raise_on_reject: raise :class:`DeleteRejectedError` for a rejection (else return the outcome).

        Raises:
            PollingTimeoutError: the timeout passed; ``.continuation_token`` resumes later.
            DeleteRejectedError: the delete was rejected (``.referenced_by`` lists the references).
            OperationExpiredError: the status URL is gone.
        """
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if self._outcome is None:
                await self._wait(DEFAULT_POLLING_TIMEOUT if timeout is None else timeout)
        outcome = self._outcome
        assert outcome is not None
        if outcome.status == "rejected" and raise_on_reject:
            refs = ", ".join(str(r.get("@id") or r.get("instanceId")) for r in outcome.referenced_by)
            raise DeleteRejectedError(
                f"delete of {self.instance_id} rejected" + (f": referenced by {refs}" if refs else ""),
                referenced_by=outcome.referenced_by,
                outcome=outcome,
            )
        return outcome

    async def _wait(self, budget: float) -> None:
        deadline = time.monotonic() + budget
        attempt = 0
        log = self._client.logger
        if self._delay_headers is not None and parse_retry_after(self._delay_headers) is not None:
            # the last answer (the DELETE's 202, or a poll before this call) asked for a pause: honour it first
            await _sleep(max(0.0, min(deadline - time.monotonic(), poll_delay(0, self._delay_headers))))
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PollingTimeoutError(
                    f"delete of {self.instance_id} still pending after {budget:g} s (request id {self.request_id})",
                    continuation_token=self.continuation_token(),
                )
            try:
                status = await self.poll_once(request_timeout=min(self._client.timeout, remaining))
            except (RateLimitError, ServerError, TransportError) as exc:
                if isinstance(exc, ServerError) and exc.status not in _TRANSIENT_5XX:
                    raise
                log.info("delete status poll failed (%s), retrying (request id %s)", exc, self.request_id)
                self._delay_headers = getattr(exc, "headers", None)
                status = "pending"
            if status != "pending":
                return
            delay = poll_delay(attempt, self._delay_headers)
            attempt += 1
            await _sleep(max(0.0, min(deadline - time.monotonic(), delay)))
