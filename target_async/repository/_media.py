"""The vendor media types of the repository API (spec section 1.B), one builder per call kind."""

from __future__ import annotations

import attrs

from ..models.repository import Schema

__all__ = ["MediaTypes"]

_VND = "application/vnd.adobe.platform.xcore."


@attrs.frozen
class MediaTypes:
    """``Content-Type`` / ``Accept`` values, in the tutorial's exact form.

    Args:
        version: ``None`` (default) sends the tutorial forms; ``"1"`` adds ``; version=1`` after the base
            type, as Adobe's later documentation shows (``…xdm.receipt+json; version=1``).
    """

    version: str | None = None

    def _base(self, fmt: str) -> str:
        base = f"{_VND}{fmt}+json"
        return f"{base}; version={self.version}" if self.version else base

    def hal(self, schema: str) -> str:
        """``Content-Type`` of a create or PUT (and the body of a read): HAL with the instance's schema."""
        return f'{self._base("hal")}; schema="{schema}"'

    def patch(self, schema: str | None) -> str:
        """``Content-Type`` of a JSON Patch; the curl samples add the schema parameter."""
        base = self._base("patch.hal")
        return f'{base}; schema="{schema}"' if schema else base

    @property
    def receipt(self) -> str:
        """``Accept`` of create, PUT, PATCH and DELETE (and of a delete-status poll)."""
        return self._base("xdm.receipt")

    def read_accept(self, schema: str | None) -> str:
        """``Accept`` of a read; without a schema any HAL instance is accepted."""
        return f"*, {self.hal(schema)}" if schema else f"*, {self._base('hal')}"

    @property
    def results_accept(self) -> str:
        """``Accept`` of list and search."""
        return f"*, {self.hal(Schema.RESULTS.value)}"

    @property
    def home(self) -> str:
        """``Accept`` of the repository root (the container list)."""
        return self._base("home.hal")
