"""Small shared types (no dependencies)."""

from __future__ import annotations

import enum

__all__ = ["WireEnum"]


class WireEnum(str, enum.Enum):
    """Base of every enum of the wire format: a ``str`` whose value is the wire value.

    ``ChannelType.WEB == "web"``; ``str(ChannelType.WEB) == "web"``.
    """

    def __str__(self) -> str:
        return str(self.value)
