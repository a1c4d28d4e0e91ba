"""The errors target_async raises on purpose.

Every one of them derives from :class:`TargetError`::

    TargetError
    ├── ValidationError (also ValueError)       bad request or options, raised before anything is sent
    │   └── ConfigurationError                 bad client options
    ├── UsageError (also RuntimeError)         the SDK was used in a way that cannot work
    │   ├── WrongThreadError                   sync facade called on its own event-loop or callback thread
    │   ├── ClientClosedError                  a closed client was used
    │   ├── ClientForkedError                  a client created before os.fork() was used in the child
    │   └── EventLoopError                     an async client was used in another event loop than its first
    ├── TransportError                         the request did not produce an HTTP response
    │   ├── RequestTimeoutError (also TimeoutError)
    │   └── ConnectError
    ├── APIError                               the server answered with an error status (or an unusable answer)
    │   ├── RedirectError                3xx   redirects are never followed
    │   ├── ResponseTooLargeError              the decoded answer exceeds ``max_response_size``
    │   ├── BadRequestError              400
    │   ├── AuthenticationError          401
    │   ├── PermissionDeniedError        403
    │   ├── NotFoundError                404
    │   │   └── OperationExpiredError        the status URL of a delete operation is gone
    │   ├── ConflictError                409
    │   ├── UnsupportedMediaTypeError    415
    │   ├── UnprocessableEntityError     422
    │   ├── RateLimitError               429
    │   ├── ServerError                  5xx
    │   └── ResponseDecodeError          any status: the request was sent, but the answer could not be read
    ├── AttributeNotFoundError (also KeyError) get_attributes: no such attribute for the mbox
    ├── PaginationError                        the server's paging did not progress (it would loop forever)
    ├── DeleteRejectedError                    a delete was refused because other instances reference it
    └── PollingTimeoutError (also TimeoutError) polling did not finish in time; carries a continuation token
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIError",
    "AttributeNotFoundError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ClientForkedError",
    "ConfigurationError",
    "ConfigurationWarning",
    "ConflictError",
    "ConnectError",
    "DeleteRejectedError",
    "EventLoopError",
    "InsecureTLSWarning",
    "NotFoundError",
    "OnDeviceDisabledError",
    "OnDeviceError",
    "OnDeviceNotReadyError",
    "OperationExpiredError",
    "PaginationError",
    "PermissionDeniedError",
    "PollingTimeoutError",
    "RateLimitError",
    "RedirectError",
    "RequestTimeoutError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "ServerError",
    "TargetError",
    "TransportError",
    "UnprocessableEntityError",
    "UnsupportedMediaTypeError",
    "UsageError",
    "ValidationError",
    "WrongThreadError",
]


class TargetError(Exception):
    """Base class of every error target_async raises on purpose."""


class ValidationError(TargetError, ValueError):
    """A request or an option is invalid; nothing was sent.

    ``field`` names the offending field (dotted path, e.g. ``"request.execute"``) when one is known.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ConfigurationError(ValidationError):
    """A client option is missing or invalid."""


class UsageError(TargetError, RuntimeError):
    """The SDK was used in a way that cannot work (wrong thread, closed client, after fork)."""


class WrongThreadError(UsageError):
    """A blocking call was made on a thread where it would deadlock."""


class ClientClosedError(UsageError):
    """The client was used after ``close()``/``aclose()``."""


class ClientForkedError(UsageError):
    """A client created before ``os.fork()`` was used in the child process."""


class EventLoopError(UsageError):
    """An async client was used in an event loop other than the one it first ran in.

    Its connection pool belongs to that first loop (for example the one of a previous ``asyncio.run()``);
    create the client inside the loop that uses it (one per ``asyncio.run()``), or use the blocking client.
    """


class InsecureTLSWarning(UserWarning):
    """A client was created with ``verify=False``: TLS certificates are not checked."""


class ConfigurationWarning(UserWarning):
    """An option is valid but probably not what was meant: ``timeout=3000`` on an async client (seconds, not
    milliseconds), an ``organization_id`` without ``@AdobeOrg``."""


class OnDeviceError(TargetError):
    """On-device decisioning could not decide a call (see the subclasses)."""


class OnDeviceNotReadyError(OnDeviceError, TimeoutError):
    """No rules artifact was loaded within the wait (``wait_until_ready`` or an on-device call's timeout)."""


class OnDeviceDisabledError(OnDeviceError):
    """The CDN refused the rules artifact (403): on-device decisioning is not enabled for the account."""


class TransportError(TargetError):
    """The request failed before an HTTP response arrived (connection failure or timeout).

    Attributes:
        request_sent: ``False`` when the request certainly never reached the server (no connection could be
            made, so repeating it is always safe), ``None`` when it may have been sent.
    """

    request_sent: bool | None = None

    def __init__(self, *args: object, request_sent: bool | None = None) -> None:
        super().__init__(*args)
        self.request_sent = request_sent


class RequestTimeoutError(TransportError, TimeoutError):
    """The call did not complete within its timeout."""


class ConnectError(TransportError):
    """The connection could not be established or was lost."""


class APIError(TargetError):
    """The server answered with an error status.

    Attributes:
        status: the HTTP status code.
        message: the server's message (``message``, ``detail`` or ``title`` of the body), or the reason phrase.
        body: the decoded JSON body, or the raw text when it is not JSON, or ``None``.
        request_id: the ``x-request-id`` of the request, for support tickets and log correlation.
        headers: the response headers (lower-case keys).
    """

    status: int

    def __init__(
        self,
        status: int,
        message: str,
        *,
        body: Any = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status}: {message}" + (f" (request id {request_id})" if request_id else ""))
        self.status = status
        self.message = message
        self.body = body
        self.request_id = request_id
        self.headers: dict[str, str] = dict(headers or {})


class BadRequestError(APIError):
    """400 Bad Request."""


class AuthenticationError(APIError):
    """401 Unauthorized: the access token is missing, invalid or expired."""


class PermissionDeniedError(APIError):
    """403 Forbidden."""


class NotFoundError(APIError):
    """404 Not Found."""


class OperationExpiredError(NotFoundError):
    """The status resource of a long-running delete no longer exists."""


class ConflictError(APIError):
    """409 Conflict: an ``If-Match`` precondition failed (the instance changed since it was read)."""


class UnsupportedMediaTypeError(APIError):
    """415 Unsupported Media Type."""


class UnprocessableEntityError(APIError):
    """422 Unprocessable Entity: the instance is invalid (schema, references or edit rules)."""


class RateLimitError(APIError):
    """429 Too Many Requests."""


class ServerError(APIError):
    """A 5xx answer."""


class ResponseDecodeError(APIError):
    """The request WAS sent and the server answered, but the answer could not be read.

    Raised for a body that is not the expected JSON (HTML from a proxy, a truncated document, a page without
    its results). The status may be a success: for a ``201`` the resource exists although its receipt was
    unreadable. ``body`` holds a short excerpt of the raw answer; ``status``, ``request_id`` and ``headers``
    are those of the answer.
    """


class RedirectError(APIError):
    """A 3xx answer: the SDK never follows redirects (credentials and visitor data stay on the configured host).

    ``location`` is the ``Location`` header, if any. A ``304`` to a conditional read is not an error.
    """

    @property
    def location(self) -> str | None:
        """The ``Location`` the server pointed to (not followed)."""
        return self.headers.get("location")


class ResponseTooLargeError(APIError):
    """The answer's body, decoded, is larger than the cap (``max_response_size``); reading stopped there.

    The request **was** sent. ``limit`` is the cap in bytes.
    """

    limit: int

    def __init__(self, status: int, message: str, *, limit: int = 0, **kwargs: Any) -> None:
        super().__init__(status, message, **kwargs)
        self.limit = limit


class AttributeNotFoundError(TargetError, KeyError):
    """``Attributes.get_value``: the mbox has no attribute of that name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class PaginationError(TargetError):
    """The server's paging did not progress (a repeated page or next link); iterating would loop forever."""


class DeleteRejectedError(TargetError):
    """A delete was refused because other instances still reference the target.

    Attributes:
        referenced_by: the referencing instances, as ``{"instanceId", "@id", "schema"}`` dicts.
        outcome: the full outcome body returned by the repository.
    """

    def __init__(self, message: str, *, referenced_by: list[dict[str, Any]], outcome: Any = None) -> None:
        super().__init__(message)
        self.referenced_by = referenced_by
        self.outcome = outcome


class PollingTimeoutError(TargetError, TimeoutError):
    """Polling a long-running operation did not reach an outcome in time.

    The operation goes on on the server; ``continuation_token`` resumes polling later
    (``DeleteOperation.from_continuation_token``).
    """

    def __init__(self, message: str, *, continuation_token: str) -> None:
        super().__init__(message)
        self.continuation_token = continuation_token


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    415: UnsupportedMediaTypeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _message_of(body: Any, default: str) -> str:
    if isinstance(body, Mapping):
        for key in ("message", "detail", "title", "error_description", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return default


def make_status_error(
    status: int,
    body: Any,
    *,
    reason: str = "",
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> APIError:
    """Build the :class:`APIError` subclass that matches ``status``."""
    cls = _BY_STATUS.get(status) or (
        ServerError if status >= 500 else RedirectError if 300 <= status < 400 else APIError
    )
    return cls(
        status,
        _message_of(body, reason or f"HTTP {status}"),
        body=body,
        request_id=request_id,
        headers=headers,
    )
