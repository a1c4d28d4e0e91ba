"""Full-text search of the repository API (``q``, ``qop``, ``field``): tokens, terms, phrases (see :mod:`._query`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ._filter import resolve
from ._linear import Wildcard

# -- full-text search ----------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W_]+")
_SPECIAL = set('+-=&|><!(){}[]^"~*?:/\\')


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _norm_ws(text: str) -> str:
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class Field:
    """One searched string, prepared once per document: normalised text, tokens, and tokens joined by spaces."""

    text: str
    tokens: list[str]
    joined: str  # " tok1 tok2 … " (tokens never contain spaces, so a token run is a substring of this)

    @classmethod
    def of(cls, value: str) -> Field:
        tokens = _tokens(value)
        return cls(_norm_ws(value), tokens, f" {' '.join(tokens)} ")


@dataclass(frozen=True)
class Term:
    """One search term. Every kind matches in time linear in the searched text (no backtracking regex):
    ``substring`` and ``tokens`` (a run of consecutive tokens, ``text`` is ``" tok1 tok2 "``) with ``in``, and
    ``wildcard`` with ``_linear.Wildcard`` on each token."""

    kind: Literal["tokens", "wildcard", "substring"]
    tokens: tuple[str, ...] = ()
    pattern: Wildcard | None = None
    text: str = ""

    def matches(self, fields: Sequence[Field]) -> bool:
        for field in fields:
            if self.kind == "wildcard":
                assert self.pattern is not None
                if any(self.pattern.fullmatch(t) for t in field.tokens):
                    return True
            elif self.text in (field.text if self.kind == "substring" else field.joined):
                return True
        return False


def _term(pieces: list[tuple[str, str]]) -> Term | None:
    kinds = {kind for kind, _ in pieces}
    if "escaped" in kinds:
        text = "".join(ch for _, ch in pieces).lower()
        return Term("substring", text=text)
    if "wild" in kinds:
        chars = [(c, kind == "wild") for kind, ch in pieces for c in (ch if kind == "wild" else ch.lower())]
        return Term("wildcard", pattern=Wildcard(chars))
    toks = _tokens("".join(ch for _, ch in pieces))
    return Term("tokens", tokens=tuple(toks), text=f" {' '.join(toks)} ") if toks else None


def parse_query(q: str) -> list[Term]:
    """``q`` as search terms (see the module docstring)."""
    q = q.strip()
    if len(q) >= 2 and q[0] == '"' and q.endswith('"') and not q.endswith('\\"'):
        inner = re.sub(r"\\(.)", r"\1", q[1:-1])
        phrase = _norm_ws(inner)
        return [Term("substring", text=phrase)] if phrase else []
    terms: list[Term] = []
    pieces: list[tuple[str, str]] = []

    def flush() -> None:
        if pieces:
            term = _term(pieces)
            if term is not None:
                terms.append(term)
            pieces.clear()

    i = 0
    while i < len(q):
        ch = q[i]
        if ch == "\\" and i + 1 < len(q):
            pieces.append(("escaped", q[i + 1]))
            i += 2
            continue
        if ch in "*?":
            pieces.append(("wild", ch))
        elif ch.isspace() or ch in _SPECIAL:
            flush()
        else:
            pieces.append(("plain", ch))
        i += 1
    flush()
    return terms


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)


@dataclass(frozen=True)
class Search:
    terms: list[Term]
    all_terms: bool
    fields: list[tuple[str, ...]]

    def matches(self, doc: Any) -> bool:
        texts: list[str] = []
        if self.fields:
            for segs in self.fields:
                found, values = resolve(doc, segs)
                if not found and segs[0] != "_instance":
                    found, values = resolve(doc.get("_instance"), segs)
                _strings(values, texts)
        else:
            _strings(doc.get("_instance"), texts)
        prepared = [Field.of(t) for t in texts]
        hits = (term.matches(prepared) for term in self.terms)
        return all(hits) if self.all_terms else any(hits)
