"""Friendlier mistakes: "did you mean" for misspelled options, and the ``timeout`` unit check."""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable

from ._exceptions import ConfigurationError, ConfigurationWarning

__all__ = ["TIMEOUT_WARNING_SECONDS", "UnknownOptionError", "closest", "unknown_options", "warn_long_timeout"]

TIMEOUT_WARNING_SECONDS = 1000.0
"""A timeout of this many seconds or more (16 minutes) on an async client warns :class:`ConfigurationWarning`:
no Delivery or repository call takes that long, and ``3000`` is the milliseconds habit of Adobe's SDKs (whose
``TargetClient.create`` takes milliseconds)."""


class UnknownOptionError(ConfigurationError, TypeError):
    """A keyword the constructor does not take (a :class:`ConfigurationError`, and a ``TypeError`` as Python's
    own "unexpected keyword argument" error is)."""


def _squash(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known option ``name`` most probably meant (``sesion_id`` → ``session_id``, ``sessionId`` →
    ``session_id``), or None."""
    choices = sorted(k for k in known if isinstance(k, str))
    squashed = _squash(name)
    for choice in choices:  # a camelCase or kebab-case spelling of a known option
        if _squash(choice) == squashed:
            return choice
    found = difflib.get_close_matches(name, choices, n=1, cutoff=0.75)
    return found[0] if found else None


def unknown_options(unknown: Iterable[object], known: Iterable[str]) -> str:
    """``"Unknown option(s): sesion_id (did you mean session_id?), foo"``."""
    known = list(known)
    parts = []
    for name in unknown:
        text = str(name)
        match = closest(text, known)
        parts.append(f"{text} (did you mean {match}?)" if match else text)
    return "Unknown option(s): " + ", ".join(parts)


def _human(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} hours"
    return f"{seconds / 60:.3g} minutes"


def warn_long_timeout(seconds: float, field: str = "timeout", *, stacklevel: int = 3) -> None:
    """Warn :class:`ConfigurationWarning` for ``seconds`` >= :data:`TIMEOUT_WARNING_SECONDS` (probably
    milliseconds)."""
    if seconds >= TIMEOUT_WARNING_SECONDS:
        warnings.warn(
            f"{field}={seconds:g} means {seconds:g} seconds ({_human(seconds)}): the async clients take seconds "
            f"(for {seconds:g} milliseconds pass {field}={seconds / 1000:g})",
            ConfigurationWarning,
            stacklevel=stacklevel + 1,
        )
