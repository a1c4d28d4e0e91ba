"""Fast random identifiers for request ids (not secrets)."""

from __future__ import annotations

import os
import random

__all__ = ["request_id"]

# Seeded from the OS, and again in every forked child (so that gunicorn workers never share a sequence);
# a Mersenne Twister makes an id in less than half the time of uuid4().
_rng = random.Random(random.SystemRandom().getrandbits(64))
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _rng.seed(random.SystemRandom().getrandbits(64)))


def request_id() -> str:
    """A random RFC 4122 version-4 UUID string, for ``requestId`` and ``X-Request-Id`` (not for secrets)."""
    n = _rng.getrandbits(128)
    n = (n & ~(0xC000 << 48)) | (0x8000 << 48)
    n = (n & ~(0xF000 << 64)) | (4 << 76)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
