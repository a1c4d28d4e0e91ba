"""The errors target_async raises on purpose: the whole :class:`TargetError` tree, in one public module.

``from target_async.errors import NotFoundError`` and ``from target_async import NotFoundError`` name the same
class. The tree (see each class for details)::

    TargetError
    ├── ValidationError (also ValueError)        bad request or options; nothing was sent
    │   └── ConfigurationError                  bad client options (raised by the constructors)
    ├── UsageError (also RuntimeError)
    │   ├── WrongThreadError                    blocking call on the client's own loop or callback thread
    │   ├── ClientClosedError                   a closed client was used
    │   ├── ClientForkedError                   a client created before os.fork() was used in the child
    │   └── EventLoopError                      an async client was used in another event loop than its first
    ├── TransportError                          no HTTP answer (``request_sent`` is False when nothing was sent)
    │   ├── RequestTimeoutError (also TimeoutError)
    │   └── ConnectError
    ├── APIError                                an answer the SDK cannot use: error status, redirect, bad body
    │   ├── BadRequestError 400, AuthenticationError 401, PermissionDeniedError 403,
    │   │   NotFoundError 404 (OperationExpiredError), ConflictError 409, UnsupportedMediaTypeError 415,
    │   │   UnprocessableEntityError 422, RateLimitError 429, ServerError 5xx
    │   ├── RedirectError                       a 3xx (redirects are never followed)
    │   ├── ResponseDecodeError                 the request was sent, but the answer cannot be read
    │   └── ResponseTooLargeError               the decoded answer is larger than max_response_size
    ├── AttributeNotFoundError (also KeyError)
    ├── PaginationError
    ├── DeleteRejectedError
    ├── PollingTimeoutError (also TimeoutError)
    ├── OnDeviceError                           on-device decisioning could not decide a call
    │   ├── OnDeviceNotReadyError (also TimeoutError)
    │   └── OnDeviceDisabledError
    └── AsyncResultTimeout (also TimeoutError)  AsyncResult.get(timeout) of the blocking client ran out

``InsecureTLSWarning`` (a ``UserWarning``) is the warning a client created with ``verify=False`` emits;
``ConfigurationWarning`` (a ``UserWarning``) flags a valid option that is probably a mistake (``timeout=3000``
seconds on an async client, an ``organization_id`` without ``@AdobeOrg``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _exceptions
from ._exceptions import *  # noqa: F403 - the tree, as _exceptions.__all__ lists it

if TYPE_CHECKING:
    from .sync import AsyncResultTimeout

__all__ = ["AsyncResultTimeout"]
__all__ += _exceptions.__all__


def __getattr__(name: str) -> Any:
    # AsyncResultTimeout lives with the blocking client; loading it on first use keeps this module cheap to import
    if name == "AsyncResultTimeout":
        from .sync import AsyncResultTimeout

        return AsyncResultTimeout
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
