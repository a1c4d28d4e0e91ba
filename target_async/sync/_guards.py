"""Where a blocking call is made from: the two checks every blocking entry point shares."""

from __future__ import annotations

import asyncio
import warnings

__all__ = ["loop_running_here", "warn_if_blocking_a_loop"]


def loop_running_here() -> bool:
    """Whether the calling thread runs an asyncio event loop."""
    return asyncio.events._get_running_loop() is not None


def warn_if_blocking_a_loop(what: str, *, stacklevel: int) -> None:
    """Warn when a blocking call is made from a thread that runs its own asyncio event loop."""
    if not loop_running_here():
        return
    warnings.warn(
        f"{what} blocks the asyncio event loop running in this thread until it completes; "
        "await the async client instead, or pass a callback",
        RuntimeWarning,
        stacklevel=stacklevel + 1,
    )
