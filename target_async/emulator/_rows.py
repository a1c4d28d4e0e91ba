"""The emulator store's rows, schema (DDL) and the sort keys of its in-memory rank lists (see :mod:`._store`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: stored in ``name``/``status`` when the instance has no string value there; sorts after every TEXT.
MISSING_KEY = b""

_DDL = """
CREATE TABLE IF NOT EXISTS tenants (
    tid INTEGER PRIMARY KEY, org TEXT NOT NULL, sandbox TEXT NOT NULL, UNIQUE (org, sandbox));
CREATE TABLE IF NOT EXISTS containers (
    tid INTEGER NOT NULL, container_id TEXT NOT NULL, created_ms INTEGER NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (tid, container_id));
CREATE TABLE IF NOT EXISTS partitions (
    pid INTEGER PRIMARY KEY, tid INTEGER NOT NULL, container_id TEXT NOT NULL, schema TEXT NOT NULL,
    n INTEGER NOT NULL DEFAULT 0, UNIQUE (tid, container_id, schema));
CREATE TABLE IF NOT EXISTS instances (
    rid INTEGER PRIMARY KEY, tid INTEGER NOT NULL, pid INTEGER NOT NULL, container_id TEXT NOT NULL,
    schema TEXT NOT NULL, instance_id TEXT NOT NULL UNIQUE, at_id TEXT NOT NULL, etag INTEGER NOT NULL,
    created_ms INTEGER NOT NULL, modified_ms INTEGER NOT NULL, name, status, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_instances_id ON instances (pid, instance_id);
CREATE INDEX IF NOT EXISTS ix_instances_created ON instances (pid, created_ms, instance_id);
CREATE INDEX IF NOT EXISTS ix_instances_modified ON instances (pid, modified_ms, instance_id);
CREATE INDEX IF NOT EXISTS ix_instances_name ON instances (pid, name, instance_id);
CREATE INDEX IF NOT EXISTS ix_instances_status ON instances (pid, status, instance_id);
CREATE UNIQUE INDEX IF NOT EXISTS ix_instances_at_id ON instances (tid, at_id);
CREATE INDEX IF NOT EXISTS ix_instances_schema_name ON instances (tid, schema, name);
CREATE TABLE IF NOT EXISTS refs (
    tid INTEGER NOT NULL, target TEXT NOT NULL, source_rid INTEGER NOT NULL,
    PRIMARY KEY (tid, target, source_rid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_refs_source ON refs (source_rid);
CREATE TABLE IF NOT EXISTS operations (
    op_id TEXT PRIMARY KEY, tid INTEGER NOT NULL, container_id TEXT NOT NULL, instance_id TEXT NOT NULL,
    kind TEXT NOT NULL, state TEXT NOT NULL, polls_left INTEGER NOT NULL, body TEXT NOT NULL,
    created_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ix_operations_instance ON operations (instance_id, state);
"""

_INSTANCE_COLUMNS = (
    "rid, tid, pid, container_id, schema, instance_id, at_id, etag, created_ms, modified_ms, name, status, doc"
)


@dataclass(frozen=True)
class InstanceRow:
    rid: int
    tid: int
    pid: int
    container_id: str
    schema: str
    instance_id: str
    at_id: str
    etag: int
    created_ms: int
    modified_ms: int
    name: str | bytes | None
    status: str | bytes | None
    doc: str


@dataclass(frozen=True)
class IndexedPage:
    """One list page computed from an index: ``rows`` (extended over ties), ``total`` remaining, ``more``."""

    rows: list[InstanceRow]
    total: int
    more: bool


#: instance columns with a ``(pid, column, instance_id)`` index, usable as list sort keys.
SORT_COLUMNS = frozenset({"instance_id", "created_ms", "modified_ms", "name", "status"})

Condition = tuple[str, Sequence[Any]]


def _after(order: Sequence[tuple[str, bool]], values: Sequence[Any]) -> Condition:
    """Rows whose key (a prefix of ``order``) comes strictly after ``values``, as an index-friendly clause."""
    used = order[: len(values)]
    if len({desc for _, desc in used}) == 1:  # one direction: a (row-value) range the index can seek to
        op = "<" if used[0][1] else ">"
        if len(used) == 1:
            return f"{used[0][0]} {op} ?", list(values)
        return f"({', '.join(c for c, _ in used)}) {op} ({', '.join('?' * len(used))})", list(values)
    first, first_desc = order[0]
    clauses = []
    params: list[Any] = [values[0]]
    for j in range(len(values)):
        terms = [f"{order[i][0]} = ?" for i in range(j)]
        terms.append(f"{order[j][0]} {'<' if order[j][1] else '>'} ?")
        clauses.append("(" + " AND ".join(terms) + ")")
        params.extend(values[: j + 1])
    lead = f"{first} {'<=' if first_desc else '>='} ?"
    return f"({lead} AND ({' OR '.join(clauses)}))", params


@dataclass(frozen=True)
class OperationRow:
    op_id: str
    tid: int
    container_id: str
    instance_id: str
    kind: str
    state: str
    polls_left: int
    body: str
    created_ms: int


def _key(value: object) -> str | bytes:
    return value if isinstance(value, str) else MISSING_KEY


class _Top:
    """Sorts after every other key value (the in-memory image of ``MISSING_KEY``)."""

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return other is not self

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return 0


_TOP = _Top()
_RANK_CACHES = 16


def _rank_value(value: Any) -> Any:
    return _TOP if isinstance(value, bytes) else value


def _rank_key(values: Sequence[Any]) -> Any:
    return _rank_value(values[0]) if len(values) == 1 else tuple(_rank_value(v) for v in values)


def _row_values(row: InstanceRow) -> dict[str, Any]:
    return {c: getattr(row, c) for c in SORT_COLUMNS}
