"""target_async: an asyncio-native SDK for Adobe Target's Delivery API and the Decisioning repository API.

The package is private behind this front door: import public names from ``target_async`` (or from
``target_async.models`` for the full set of Delivery API models).

The public names are loaded on first use (module ``__getattr__``): ``import target_async.testing`` (the pytest
plugin) and ``import target_async.errors`` stay cheap, and the first access to any public name loads them all,
exactly as an eager import did.
"""

import typing as _typing

from ._version import __version__

if _typing.TYPE_CHECKING:
    from . import errors as errors
    from ._exceptions import (
        APIError,
        AttributeNotFoundError,
        AuthenticationError,
        BadRequestError,
        ClientClosedError,
        ClientForkedError,
        ConfigurationError,
        ConfigurationWarning,
        ConflictError,
        ConnectError,
        DeleteRejectedError,
        EventLoopError,
        InsecureTLSWarning,
        NotFoundError,
        OnDeviceDisabledError,
        OnDeviceError,
        OnDeviceNotReadyError,
        OperationExpiredError,
        PermissionDeniedError,
        PollingTimeoutError,
        RateLimitError,
        RedirectError,
        RequestTimeoutError,
        ResponseDecodeError,
        ResponseTooLargeError,
        ServerError,
        TargetError,
        TransportError,
        UnprocessableEntityError,
        UnsupportedMediaTypeError,
        UsageError,
        ValidationError,
        WrongThreadError,
    )
    from ._raw import RawResponse
    from ._retry import RetryPolicy
    from .delivery import AsyncTargetClient, Attributes, DecisioningMeta, TargetCookie, TargetDeliveryResponse
    from .models import (
        ChannelType,
        Context,
        CustomerId,
        DeliveryRequest,
        DeliveryResponse,
        ExecuteRequest,
        MboxRequest,
        Notification,
        PrefetchRequest,
        ViewRequest,
        VisitorId,
    )
    from .repository import (
        Activity,
        ActivityPatch,
        ActivityStatus,
        AsyncRepositoryClient,
        Container,
        DeleteOperation,
        DeleteOutcome,
        EligibilityRule,
        FallbackOffer,
        FilterType,
        Instance,
        OfferFilter,
        OfferPatch,
        OfferStatus,
        Page,
        PaginationError,
        PersonalizedOffer,
        Placement,
        Receipt,
        Schema,
        Tag,
    )
    from .sync import AsyncResult, AsyncResultTimeout, RepositoryClient, TargetClient

__all__ = [
    "Activity",
    "ActivityPatch",
    "ActivityStatus",
    "APIError",
    "AsyncRepositoryClient",
    "AsyncResult",
    "AsyncResultTimeout",
    "AsyncTargetClient",
    "AttributeNotFoundError",
    "Attributes",
    "AuthenticationError",
    "BadRequestError",
    "ChannelType",
    "ClientClosedError",
    "ClientForkedError",
    "ConfigurationError",
    "ConfigurationWarning",
    "ConflictError",
    "ConnectError",
    "Container",
    "Context",
    "CustomerId",
    "DecisioningMeta",
    "DeleteOperation",
    "DeleteOutcome",
    "DeleteRejectedError",
    "DeliveryRequest",
    "DeliveryResponse",
    "EligibilityRule",
    "EventLoopError",
    "ExecuteRequest",
    "FallbackOffer",
    "FilterType",
    "InsecureTLSWarning",
    "Instance",
    "MboxRequest",
    "NotFoundError",
    "Notification",
    "OfferFilter",
    "OfferPatch",
    "OfferStatus",
    "OnDeviceDisabledError",
    "OnDeviceError",
    "OnDeviceNotReadyError",
    "OperationExpiredError",
    "Page",
    "PaginationError",
    "PermissionDeniedError",
    "PersonalizedOffer",
    "Placement",
    "PollingTimeoutError",
    "PrefetchRequest",
    "RateLimitError",
    "RawResponse",
    "Receipt",
    "RedirectError",
    "RepositoryClient",
    "RequestTimeoutError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "Schema",
    "ServerError",
    "Tag",
    "TargetClient",
    "TargetCookie",
    "TargetDeliveryResponse",
    "TargetError",
    "TransportError",
    "UnprocessableEntityError",
    "UnsupportedMediaTypeError",
    "UsageError",
    "ValidationError",
    "ViewRequest",
    "VisitorId",
    "WrongThreadError",
    "__version__",
]

# Where each public name lives; kept equal to the imports above and to __all__ (tests/test_exported_members.py).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "._exceptions": (
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
    ),
    "._raw": ("RawResponse",),
    "._retry": ("RetryPolicy",),
    ".delivery": (
        "AsyncTargetClient",
        "Attributes",
        "DecisioningMeta",
        "TargetCookie",
        "TargetDeliveryResponse",
    ),
    ".models": (
        "ChannelType",
        "Context",
        "CustomerId",
        "DeliveryRequest",
        "DeliveryResponse",
        "ExecuteRequest",
        "MboxRequest",
        "Notification",
        "PrefetchRequest",
        "ViewRequest",
        "VisitorId",
    ),
    ".repository": (
        "Activity",
        "ActivityPatch",
        "ActivityStatus",
        "AsyncRepositoryClient",
        "Container",
        "DeleteOperation",
        "DeleteOutcome",
        "EligibilityRule",
        "FallbackOffer",
        "FilterType",
        "Instance",
        "OfferFilter",
        "OfferPatch",
        "OfferStatus",
        "Page",
        "PaginationError",
        "PersonalizedOffer",
        "Placement",
        "Receipt",
        "Schema",
        "Tag",
    ),
    ".sync": (
        "AsyncResult",
        "AsyncResultTimeout",
        "RepositoryClient",
        "TargetClient",
    ),
}
_SUBMODULES = frozenset({"errors", "delivery", "models", "repository", "sync"})
_LAZY = frozenset({name for names in _EXPORTS.values() for name in names} | _SUBMODULES)
_loaded = False


def _load() -> None:
    """Import every public name into this module's namespace (what ``from . import ...`` did eagerly)."""
    global _loaded
    from importlib import import_module

    namespace = globals()
    namespace["errors"] = import_module(".errors", __name__)
    for module, names in _EXPORTS.items():
        source = import_module(module, __name__)
        for name in names:
            namespace[name] = getattr(source, name)
    _loaded = True


if not _typing.TYPE_CHECKING:  # mypy sees the imports above; at run time the names come from here

    def __getattr__(name: str) -> object:
        if name in _SUBMODULES:  # ``from target_async import errors`` loads that module only
            from importlib import import_module

            return import_module(f".{name}", __name__)
        if name in _LAZY and not _loaded:
            _load()
            if name in globals():
                return globals()[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*globals(), *_LAZY})
