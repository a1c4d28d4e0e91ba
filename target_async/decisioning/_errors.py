"""The errors of the decision engine: a rules artifact that cannot be used."""

from __future__ import annotations

from .._exceptions import TargetError

__all__ = ["ArtifactError", "UnsupportedArtifactError"]


class ArtifactError(TargetError, ValueError):
    """The rules artifact cannot be used: bad JSON, no rules, a condition that does not compile.

    The message names what is wrong (and where: the rule key, the mbox or view). A client that already
    serves an artifact keeps serving it when a newer one raises this.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedArtifactError(ArtifactError):
    """The artifact is of a version (or a ``rules.bin`` obfuscation version) this engine does not read."""
