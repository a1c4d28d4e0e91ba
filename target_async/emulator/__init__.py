"""Emulator of the Target Delivery API and the Decisioning repository ("xcore") API, as one ASGI app.

``create_app(...)`` returns a Starlette app serving ``POST /rest/v1/delivery``, the repository under
``/data/core/xcore/``, the on-device artifact and geo routes of Target's CDN, and admin endpoints under
``/_emulator/``. The emulator works from raw JSON and imports nothing from the client side of ``target_async``
(so a naming mistake on the client side cannot hide), with one exception: it decides Delivery requests with the
project's decision engine (``target_async.decisioning``, in ``_rules``), the one on-device clients run, so that
a visitor gets the same experience server-side and on-device by construction.
Decisions and limits are documented in the docstrings of ``_app``, ``_repository``, ``_query``, ``_schemas``,
``_store`` and ``_faults``.
"""

from ._app import DeliveryHandler, Emulator, EmulatorApp, create_app
from ._compile import compile_fixtures
from ._faults import ConnectionDropped, DropConnection, FaultConfig, Latency, StatusBurst
from ._repository import DeleteMode, RepositorySettings
from ._rules import ArtifactError

__all__ = [
    "ArtifactError",
    "ConnectionDropped",
    "DeleteMode",
    "DeliveryHandler",
    "DropConnection",
    "Emulator",
    "EmulatorApp",
    "FaultConfig",
    "Latency",
    "RepositorySettings",
    "StatusBurst",
    "compile_fixtures",
    "create_app",
]
