"""The synchronous facades over the async clients, sharing one event-loop thread and one callback thread.

* :class:`TargetClient`: Adobe Target's documented client (``create``, ``get_offers``, ``send_notifications``,
  ``get_attributes``): blocking calls, or ``callback``/``err_callback`` with an :class:`AsyncResult`.
* :class:`RepositoryClient`: :class:`~target_async.AsyncRepositoryClient`, synchronously.
"""

from ._async_result import AsyncResult, AsyncResultTimeout
from ._client import TargetClient
from ._proxy import SyncIterator
from ._repository import RepositoryClient, SyncDeleteOperation, SyncPaginator

__all__ = [
    "AsyncResult",
    "AsyncResultTimeout",
    "RepositoryClient",
    "SyncDeleteOperation",
    "SyncIterator",
    "SyncPaginator",
    "TargetClient",
]
