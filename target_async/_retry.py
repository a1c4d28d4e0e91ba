"""Retry policy: which failures are retried, and how long to wait between attempts.

The policy never retries a request whose repetition could change what the server counts. Each request is
classified by its caller as *idempotent* (a read, a prefetch-only delivery call, a conditional write, a
delete) or not (a delivery call that executes mboxes or sends notifications, which records impressions;
a repository create):

=====================================================  ==============  ==================
failure                                                idempotent      not idempotent
=====================================================  ==============  ==================
connection refused / connect timeout / pool timeout    retried         retried (nothing was sent)
connection lost or read timeout after sending          retried         **not** retried
429 Too Many Requests                                  retried         retried (the server refused it)
503 Service Unavailable with ``Retry-After``           retried         retried (the server refused it)
500, 502, 503 (no ``Retry-After``), 504                retried         **not** retried
any other status                                       not retried     not retried
=====================================================  ==============  ==================

Delays: ``Retry-After`` (seconds or an HTTP date) when the server sends one and it is at most
``max_retry_after``; otherwise ``min(initial_delay * 2**n, max_delay)`` reduced by up to ``jitter`` (25 %)
at random, so that many clients do not retry in lock-step.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping

import attrs

__all__ = ["DEFAULT_RETRIES", "RetryPolicy", "parse_retry_after", "set_backoff_enabled"]

_backoff_enabled = True


def set_backoff_enabled(enabled: bool) -> None:
    """Turn the waiting between retries on or off process-wide (tests use ``testing.disable_backoff``)."""
    global _backoff_enabled
    _backoff_enabled = enabled


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Return the delay a ``Retry-After`` (or ``retry-after-ms``) header asks for, in seconds, or None."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            value = float(raw_ms) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0:
            return value
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
        return max(seconds, 0.0)
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return seconds


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how patiently a failed request is retried.

    Args:
        max_retries: retries after the first attempt (0 disables retrying).
        initial_delay: the first backoff delay in seconds.
        max_delay: the cap of the exponential backoff.
        jitter: the fraction (0..1) by which a delay is reduced at random.
        max_retry_after: a ``Retry-After`` above this many seconds is not honoured; the call fails instead.
    """

    max_retries: int = attrs.field(default=2, validator=attrs.validators.ge(0))
    initial_delay: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=8.0, validator=attrs.validators.ge(0))
    jitter: float = attrs.field(default=0.25, validator=[attrs.validators.ge(0), attrs.validators.le(1)])
    max_retry_after: float = attrs.field(default=60.0, validator=attrs.validators.ge(0))

    def retries_status(self, status: int, headers: Mapping[str, str], *, idempotent: bool) -> bool:
        """Whether an answer with ``status`` may be retried (see the module table)."""
        if status == 429:
            return True
        if status == 503 and parse_retry_after(headers) is not None:
            return True
        return idempotent and status in (500, 502, 503, 504)

    def delay(self, retry_number: int, headers: Mapping[str, str] | None = None) -> float | None:
        """Seconds to wait before retry number ``retry_number`` (0-based); None means: do not retry."""
        if headers is not None:
            asked = parse_retry_after(headers)
            if asked is not None:
                if asked > self.max_retry_after:
                    return None
                return asked if _backoff_enabled else 0.0
        if not _backoff_enabled:
            return 0.0
        base = min(self.initial_delay * (2.0**retry_number), self.max_delay)
        return base * (1.0 - self.jitter * random.random())


DEFAULT_RETRIES = RetryPolicy()
"""The default policy: two retries, 0.5 s initial backoff, 8 s cap, 25 % jitter."""
