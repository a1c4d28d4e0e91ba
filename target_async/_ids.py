"""Fast random identifiers: request ids (not secrets) and session ids (from the OS's random source)."""

from __future__ import annotations

import os
import random
import threading

__all__ = ["request_id", "session_id"]

# Seeded from the OS, and again in every forked child (so that gunicorn workers never share a sequence);
# a Mersenne Twister makes an id in less than half the time of uuid4().
_rng = random.Random(random.SystemRandom().getrandbits(64))

# Session ids: OS randomness read 4 KiB at a time (one getrandom() call per 256 ids instead of one per id; the
# call releases the GIL, which costs a busy event-loop thread a wait for it every time). The buffer is dropped
# in a forked child, which must never hand out the ids its parent will.
_POOL_SIZE = 4096
_pool = b""
_pos = 0
_pool_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _pool, _pos, _pool_lock
    _rng.seed(random.SystemRandom().getrandbits(64))
    _pool, _pos = b"", 0
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _random_128() -> int:
    global _pool, _pos
    with _pool_lock:
        start = _pos
        if start >= len(_pool):
            _pool, start = os.urandom(_POOL_SIZE), 0
        _pos = start + 16
        chunk = _pool[start : start + 16]
    return int.from_bytes(chunk, "big")


def _uuid4_text(n: int) -> str:
    n = (n & ~(0xC000 << 48)) | (0x8000 << 48)
    n = (n & ~(0xF000 << 64)) | (4 << 76)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def request_id() -> str:
    """A random RFC 4122 version-4 UUID string, for ``requestId`` and ``X-Request-Id`` (not for secrets)."""
    return _uuid4_text(_rng.getrandbits(128))


def session_id() -> str:
    """A version-4 UUID string from the OS's random source, as ``uuid.uuid4()`` makes, in a fifth of its time.

    Session ids end up in visitors' cookies, so they come from ``os.urandom``, never from the request-id
    generator.
    """
    return _uuid4_text(_random_128())
