"""Emulator of the Target Delivery API and the Decisioning repository ("xcore") API, as one ASGI app.

``create_app(...)`` returns a Starlette app serving ``POST /rest/v1/delivery``, the repository under
``/data/core/xcore/`` and admin endpoints under ``/_emulator/``. The emulator works from raw JSON only and
imports nothing from the rest of ``target_async``, so a naming mistake on the client side cannot hide.
Decisions and limits are documented in the docstrings of ``_app``, ``_repository``, ``_query``, ``_schemas``,
``_store`` and ``_faults``.
"""

from ._app import DeliveryHandler, Emulator, EmulatorApp, create_app
from ._faults import ConnectionDropped, DropConnection, FaultConfig, Latency, StatusBurst
from ._repository import DeleteMode, RepositorySettings

__all__ = [
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
    "create_app",
]
