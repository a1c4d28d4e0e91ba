"""Matchers whose running time cannot explode on hostile input: ``~`` filters and ``q`` wildcards.

Python's ``re`` backtracks: ``(a+)+b`` against 25 ``a`` characters takes seconds, and the ``.*`` translation of
a ``*b*b*b*b*c`` wildcard is polynomial of a high degree in the text length. The emulator matches user-supplied
patterns with these instead:

- ``Regex``: RE2 (the ``google-re2`` bindings, part of the ``emulator`` extra), whose automata run in time
  linear in the text for a given pattern and whose memory is capped (``_RE2_MAX_MEM`` per pattern; a pattern
  that needs more is refused). RE2 has no backreferences, lookaround, atomic groups, possessive quantifiers or
  ``\\Z`` (it spells that ``\\z``): such a pattern is refused with a ``ValueError`` naming the problem.
- ``Wildcard``: ``*`` (any run) and ``?`` (one character) over a whole string, by splitting the pattern at its
  stars: the first piece must match at the start, the last at the end, and every piece between is placed at
  its leftmost match after the previous one (greedy leftmost placement is optimal when the gaps are ``*``).
  A piece is found with ``str.find`` (or, when it holds ``?``, a fixed-length ``re`` search that needs at most
  ``len(piece)`` steps per position), so the work is at most O(len(text) * len(pattern)) in C and usually
  O(len(text)); there is no backtracking across stars.
"""

from __future__ import annotations

import re

import re2  # type: ignore[import-untyped]  # google-re2 ships no type information

__all__ = ["Regex", "Wildcard"]

#: RE2's memory budget per compiled pattern (program + DFA cache); RE2 falls back to its NFA, still linear in
#: the text, when the DFA cache is full. The default is 8 MiB; the bindings cache 128 patterns.
_RE2_MAX_MEM = 2 << 20

_UNSUPPORTED_HINT = (
    "the emulator matches '~' with RE2 syntax (https://github.com/google/re2/wiki/Syntax): "
    "no backreferences, lookaround, atomic groups or possessive quantifiers"
)


def _options(*, ignore_case: bool) -> re2.Options:
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False  # a refused pattern is the caller's 400, not a line on the server's stderr
    options.never_capture = True
    options.max_mem = _RE2_MAX_MEM
    return options


def _utf8(text: str) -> bytes:
    # a JSON document may hold a lone surrogate ("\ud800"): matched as its bytes rather than failing
    return text.encode("utf-8", "surrogatepass")


class Regex:
    """A regular expression matched by RE2 (linear time in the text; see the module docstring)."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str, *, ignore_case: bool = False) -> None:
        self.pattern = pattern
        try:
            self._compiled = re2.compile(_utf8(pattern), _options(ignore_case=ignore_case))
        except re2.error as exc:
            raw = exc.args[0] if exc.args else ""
            reason = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            raise ValueError(f"{reason or 'not a regular expression'} ({_UNSUPPORTED_HINT})") from None

    def fullmatch(self, text: str) -> bool:
        """Whether the pattern matches the whole of ``text``."""
        return self._compiled.fullmatch(_utf8(text)) is not None

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Regex) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)


class _Piece:
    """A star-free part of a wildcard: literal characters and ``?`` at fixed offsets.

    A literal piece is found with ``str.find``; a piece with ``?`` with a fixed-length ``re`` pattern (escaped
    literals and ``.``, no quantifier or alternation: at most ``len(piece)`` steps per start position).
    """

    __slots__ = ("_fixed", "literal", "size")

    def __init__(self, chars: list[str | None]) -> None:
        self.size = len(chars)
        self.literal: str | None = None
        self._fixed: re.Pattern[str] | None = None
        if all(c is not None for c in chars):
            self.literal = "".join(c for c in chars if c is not None)
        else:
            self._fixed = re.compile("".join("." if c is None else re.escape(c) for c in chars), re.DOTALL)

    def at(self, text: str, start: int) -> bool:
        """Whether the piece matches ``text`` at ``start``."""
        if start < 0 or start + self.size > len(text):
            return False
        if self.literal is not None:
            return text.startswith(self.literal, start)
        assert self._fixed is not None
        return self._fixed.match(text, start) is not None

    def find(self, text: str, start: int) -> int:
        """The leftmost position >= ``start`` where the piece matches, or -1."""
        if self.literal is not None:
            return text.find(self.literal, start)
        assert self._fixed is not None
        hit = self._fixed.search(text, start)
        return -1 if hit is None else hit.start()


class Wildcard:
    """A ``*``/``?`` pattern matched against a whole string without backtracking (see the module docstring)."""

    __slots__ = ("_pieces", "_starred", "pattern")

    def __init__(self, pieces: list[tuple[str, bool]]) -> None:
        """``pieces``: ``(character, is_wildcard)`` pairs; a wildcard character is ``*`` or ``?``."""
        self.pattern = "".join(ch for ch, _ in pieces)
        parts: list[list[str | None]] = [[]]
        for ch, wild in pieces:
            if wild and ch == "*":
                parts.append([])
            else:
                parts[-1].append(None if wild else ch)
        self._pieces = tuple(_Piece(p) for p in parts)
        self._starred = len(parts) > 1

    def fullmatch(self, text: str) -> bool:
        """Whether the pattern matches the whole of ``text``."""
        first, last = self._pieces[0], self._pieces[-1]
        if not self._starred:
            return first.size == len(text) and first.at(text, 0)
        if first.size + last.size > len(text) or not first.at(text, 0):
            return False
        end = len(text) - last.size  # the last piece is pinned to the end; the middle must fit before it
        if not last.at(text, end):
            return False
        pos = first.size
        for piece in self._pieces[1:-1]:
            hit = piece.find(text, pos)
            if hit < 0 or hit + piece.size > end:
                return False
            pos = hit + piece.size
        return True

    def __repr__(self) -> str:
        return f"Wildcard({self.pattern!r})"
