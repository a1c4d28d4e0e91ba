"""The emulator's SQLite store: tenants, containers, instances, references and delete operations.

Layout (designed for index-driven lists, ``repository.md`` F):

- ``tenants(tid, org, sandbox)`` and ``containers(tid, container_id, doc)``.
- ``partitions(pid, tid, container_id, schema, n)``: one row per (tenant, container, schema) holding the live
  instance count ``n``, so the ``total`` of an unfiltered first page costs nothing.
- ``instances``: one row per instance with the list keys as columns (``instance_id``, ``created_ms``,
  ``modified_ms``, ``name`` = ``_instance.xdm:name``, ``status`` = ``_instance.xdm:status``, ``at_id``) and the
  complete envelope JSON in ``doc`` (served as is). Composite indexes ``(pid, key, instance_id)`` for each key
  let ``start`` + ``limit`` become ``WHERE key > ? ORDER BY key LIMIT ?``. A missing ``name``/``status`` is
  stored as the empty BLOB ``x''``, which SQLite orders after every TEXT value: that is exactly "missing values
  sort last in ascending order" while the index stays usable.
- ``refs(tid, target, source_rid)``: every ``@id`` an instance references, so the delete check is an index
  lookup.
- ``operations``: delete operations and their outcome (kept until reset).

``total`` of a later page is "items after ``start``": a B-tree can only count those one by one, so for
unfiltered single-direction orders the store keeps, per (partition, sort columns) in use, a sorted in-memory
list of the keys (built on first use, updated on every write, dropped on rollback and reset; at most
``_RANK_CACHES`` lists) and answers with a bisection. Filtered lists count with SQL.

``db_path=None`` is an in-memory database. A file uses ``journal_mode=WAL`` and ``synchronous=FULL``: every
write commits (and fsyncs the WAL) before the response is sent, so an acknowledged write survives ``kill -9``.
The connection opens lazily on first use (``httpx.ASGITransport`` runs no lifespan events). All access goes
through one re-entrant lock, so a handler's read-check-write section is atomic.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from typing import Any

from ._connection import StoreConnection
from ._rows import (
    _INSTANCE_COLUMNS,
    _RANK_CACHES,
    MISSING_KEY,
    SORT_COLUMNS,
    Condition,
    IndexedPage,
    InstanceRow,
    OperationRow,
    _after,
    _key,
    _rank_key,
    _row_values,
)

__all__ = ["MISSING_KEY", "SORT_COLUMNS", "IndexedPage", "InstanceRow", "OperationRow", "Store"]


class Store(StoreConnection):
    """Thread-safe access to the emulator database (see the module docstring)."""

    # -- tenants and containers -----------------------------------------------------------------------------

    def tenant_id(self, org: str, sandbox: str) -> int | None:
        row = self._one("SELECT tid FROM tenants WHERE org = ? AND sandbox = ?", (org, sandbox))
        return None if row is None else int(row[0])

    def create_tenant(self, org: str, sandbox: str) -> int:
        cur = self._run("INSERT INTO tenants (org, sandbox) VALUES (?, ?)", (org, sandbox))
        assert cur.lastrowid is not None
        return cur.lastrowid

    def containers(self, tid: int) -> list[str]:
        return [
            r[0]
            for r in self._all("SELECT doc FROM containers WHERE tid = ? ORDER BY created_ms, container_id", (tid,))
        ]

    def container(self, tid: int, container_id: str) -> str | None:
        row = self._one("SELECT doc FROM containers WHERE tid = ? AND container_id = ?", (tid, container_id))
        return None if row is None else str(row[0])

    def insert_container(self, tid: int, container_id: str, created_ms: int, doc: str) -> None:
        self._run(
            "INSERT INTO containers (tid, container_id, created_ms, doc) VALUES (?, ?, ?, ?)",
            (tid, container_id, created_ms, doc),
        )

    def partition(self, tid: int, container_id: str, schema: str, *, create: bool) -> tuple[int, int] | None:
        """``(pid, live instance count)`` of a (tenant, container, schema) partition."""
        sql = "SELECT pid, n FROM partitions WHERE tid = ? AND container_id = ? AND schema = ?"
        row = self._one(sql, (tid, container_id, schema))
        if row is None and create:
            self._run(
                "INSERT INTO partitions (tid, container_id, schema) VALUES (?, ?, ?)", (tid, container_id, schema)
            )
            row = self._one(sql, (tid, container_id, schema))
        return None if row is None else (int(row[0]), int(row[1]))

    # -- instances ------------------------------------------------------------------------------------------

    def instance(self, instance_id: str) -> InstanceRow | None:
        row = self._one(f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE instance_id = ?", (instance_id,))
        return None if row is None else InstanceRow(*row)

    def at_id_taken(self, tid: int, at_id: str) -> bool:
        return self._one("SELECT 1 FROM instances WHERE tid = ? AND at_id = ?", (tid, at_id)) is not None

    def by_at_ids(self, tid: int, at_ids: Iterable[str]) -> dict[str, InstanceRow]:
        wanted = sorted(set(at_ids))
        found: dict[str, InstanceRow] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE tid = ? AND at_id IN ({marks})"
            for row in self._all(sql, (tid, *chunk)):
                found[row[6]] = InstanceRow(*row)
        return found

    def name_taken(self, tid: int, schema: str, name: str, *, exclude_rid: int | None) -> bool:
        row = self._one(
            "SELECT 1 FROM instances WHERE tid = ? AND schema = ? AND name = ? AND rid IS NOT ?",
            (tid, schema, name, exclude_rid),
        )
        return row is not None

    def schema_docs(self, tid: int, schema: str) -> list[str]:
        """Every live instance document of one schema across the tenant's containers."""
        return [
            r[0]
            for r in self._all("SELECT doc FROM instances WHERE tid = ? AND schema = ? ORDER BY rid", (tid, schema))
        ]

    def insert_instance(
        self,
        *,
        tid: int,
        pid: int,
        container_id: str,
        schema: str,
        instance_id: str,
        at_id: str,
        created_ms: int,
        name: object,
        status: object,
        doc: str,
        refs: Iterable[str],
    ) -> None:
        with self.transaction():
            cur = self._run(
                "INSERT INTO instances (tid, pid, container_id, schema, instance_id, at_id, etag, created_ms,"
                " modified_ms, name, status, doc) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
                (
                    tid,
                    pid,
                    container_id,
                    schema,
                    instance_id,
                    at_id,
                    created_ms,
                    created_ms,
                    _key(name),
                    _key(status),
                    doc,
                ),
            )
            assert cur.lastrowid is not None
            self._set_refs(tid, cur.lastrowid, refs)
            self._run("UPDATE partitions SET n = n + 1 WHERE pid = ?", (pid,))
            values = {"instance_id": instance_id, "created_ms": created_ms, "modified_ms": created_ms}
            self._rank_update(pid, None, {**values, "name": _key(name), "status": _key(status)})

    def update_instance(
        self,
        row: InstanceRow,
        *,
        modified_ms: int,
        name: object,
        status: object,
        doc: str,
        refs: Iterable[str],
    ) -> bool:
        """Write revision ``row.etag + 1``; ``False`` if the stored etag is no longer ``row.etag``."""
        with self.transaction():
            cur = self._run(
                "UPDATE instances SET etag = etag + 1, modified_ms = ?, name = ?, status = ?, doc = ?"
                " WHERE rid = ? AND etag = ?",
                (modified_ms, _key(name), _key(status), doc, row.rid, row.etag),
            )
            if cur.rowcount != 1:
                return False
            self._set_refs(row.tid, row.rid, refs)
            new = {"instance_id": row.instance_id, "created_ms": row.created_ms, "modified_ms": modified_ms}
            self._rank_update(row.pid, _row_values(row), {**new, "name": _key(name), "status": _key(status)})
            return True

    def delete_instance(self, row: InstanceRow) -> None:
        with self.transaction():
            cur = self._run("DELETE FROM instances WHERE rid = ?", (row.rid,))
            if cur.rowcount:
                self._run("DELETE FROM refs WHERE source_rid = ?", (row.rid,))
                self._run("UPDATE partitions SET n = n - 1 WHERE pid = ?", (row.pid,))
                self._rank_update(row.pid, _row_values(row), None)

    def _rank_update(self, pid: int, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        for (cache_pid, cols), keys in self._ranks.items():
            if cache_pid != pid:
                continue
            if old is not None:
                gone = _rank_key([old[c] for c in cols])
                i = bisect.bisect_left(keys, gone)
                if i < len(keys) and keys[i] == gone:
                    del keys[i]
            if new is not None:
                bisect.insort(keys, _rank_key([new[c] for c in cols]))

    def _count_after(self, pid: int, order: Sequence[tuple[str, bool]], start: Sequence[Any]) -> int:
        """How many instances of the partition have a key after ``start`` (single-direction ``order``)."""
        cols = tuple(c for c, _ in order)
        ident = (pid, cols)
        keys = self._ranks.get(ident)
        if keys is None:
            rows = self._all(f"SELECT {', '.join(cols)} FROM instances WHERE pid = ?", (pid,))
            keys = sorted(_rank_key(r) for r in rows)
            self._ranks[ident] = keys
            while len(self._ranks) > _RANK_CACHES:
                self._ranks.popitem(last=False)
        else:
            self._ranks.move_to_end(ident)
        m = len(start)
        probe = _rank_key(start)
        prefix: Any = (lambda k: k) if m == len(cols) else (lambda k: _rank_key(k[:m]) if m > 1 else k[0])
        if order[0][1]:
            return bisect.bisect_left(keys, probe, key=prefix)
        return len(keys) - bisect.bisect_right(keys, probe, key=prefix)

    def _set_refs(self, tid: int, rid: int, refs: Iterable[str]) -> None:
        self._run("DELETE FROM refs WHERE source_rid = ?", (rid,))
        self.db.executemany(
            "INSERT OR IGNORE INTO refs (tid, target, source_rid) VALUES (?, ?, ?)",
            [(tid, target, rid) for target in set(refs)],
        )

    def referencing(self, tid: int, at_id: str) -> list[InstanceRow]:
        """Live instances that reference ``at_id`` (the delete check)."""
        sql = (
            f"SELECT {', '.join('i.' + c.strip() for c in _INSTANCE_COLUMNS.split(','))} FROM refs r"
            " JOIN instances i ON i.rid = r.source_rid WHERE r.tid = ? AND r.target = ? ORDER BY i.instance_id"
        )
        return [InstanceRow(*row) for row in self._all(sql, (tid, at_id))]

    def select(self, where: str, params: Sequence[Any], order: str, limit: int | None) -> list[InstanceRow]:
        """Instances matching a WHERE clause built by the repository from whitelisted columns."""
        sql = f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE {where} ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [InstanceRow(*row) for row in self._all(sql, params)]

    def scan(self, pid: int, conds: Sequence[Condition]) -> list[InstanceRow]:
        """Every instance of a partition matching ``conds`` (the unindexed list path filters the rest)."""
        where = " AND ".join(["pid = ?", *(c for c, _ in conds)])
        return self.select(where, [pid, *(p for _, ps in conds for p in ps)], "instance_id", None)

    def page_indexed(
        self,
        pid: int,
        count: int,
        order: Sequence[tuple[str, bool]],
        conds: Sequence[Condition],
        start: Sequence[Any] | None,
        limit: int,
    ) -> IndexedPage:
        """``repository.md`` F11 on the indexes: ``order`` is ``[(column, descending)]`` from ``SORT_COLUMNS``.

        Ties on the order key are broken by ``instance_id`` (in the direction of the last key) and are never
        split: a page whose next row has the same key as its last row is extended to the end of that group.
        ``start`` values are compared with the first ``len(start)`` keys. ``count`` is the partition size,
        used as ``total`` when nothing narrows the list.
        """
        cols = [c for c, _ in order]
        assert set(cols) <= SORT_COLUMNS
        implicit = None if "instance_id" in cols else ("instance_id", order[-1][1])
        terms = [*order, implicit] if implicit else list(order)
        order_sql = ", ".join(f"{c} {'DESC' if d else 'ASC'}" for c, d in terms)
        base = ["pid = ?", *(c for c, _ in conds)]
        base_params: list[Any] = [pid, *(p for _, ps in conds for p in ps)]
        where, params = list(base), list(base_params)
        if start is not None:
            clause, extra = _after(order, start)
            where.append(clause)
            params += extra

        def key(row: InstanceRow) -> tuple[Any, ...]:
            return tuple(getattr(row, c) for c in cols)

        with self._lock:
            rows = self.select(" AND ".join(where), params, order_sql, limit + 1)
            more = len(rows) > limit
            page = rows[:limit]
            if more and implicit is not None and key(rows[limit]) == key(page[-1]):
                last = page[-1]
                same = [f"{c} = ?" for c in cols]
                op, direction = ("<", "DESC") if implicit[1] else (">", "ASC")
                page += self.select(
                    " AND ".join([*base, *same, f"instance_id {op} ?"]),
                    [*base_params, *key(last), last.instance_id],
                    f"instance_id {direction}",
                    None,
                )
                clause, extra = _after(order, key(last))
                more = self.exists(" AND ".join([*base, clause]), [*base_params, *extra])
            if not more:
                total = len(page)
            elif not conds and start is None:
                total = count
            elif not conds and start is not None and len({d for _, d in order[: len(start)]}) == 1:
                total = self._count_after(pid, order, start)
            else:
                total = self.count(" AND ".join(where), params)
        return IndexedPage(page, total, more)

    def count(self, where: str, params: Sequence[Any]) -> int:
        return int(self._one(f"SELECT COUNT(*) FROM instances WHERE {where}", params)[0])

    def exists(self, where: str, params: Sequence[Any]) -> bool:
        return self._one(f"SELECT 1 FROM instances WHERE {where} LIMIT 1", params) is not None

    # -- operations -----------------------------------------------------------------------------------------

    def insert_operation(self, op: OperationRow) -> None:
        self._run(
            "INSERT INTO operations (op_id, tid, container_id, instance_id, kind, state, polls_left, body,"
            " created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                op.op_id,
                op.tid,
                op.container_id,
                op.instance_id,
                op.kind,
                op.state,
                op.polls_left,
                op.body,
                op.created_ms,
            ),
        )

    def operation(self, op_id: str) -> OperationRow | None:
        row = self._one(
            "SELECT op_id, tid, container_id, instance_id, kind, state, polls_left, body, created_ms"
            " FROM operations WHERE op_id = ?",
            (op_id,),
        )
        return None if row is None else OperationRow(*row)

    def pending_operation(self, instance_id: str, kind: str) -> OperationRow | None:
        row = self._one(
            "SELECT op_id FROM operations WHERE instance_id = ? AND state = 'pending' AND kind = ?",
            (instance_id, kind),
        )
        return None if row is None else self.operation(row[0])

    def update_operation(self, op_id: str, *, state: str, polls_left: int, body: str) -> None:
        self._run(
            "UPDATE operations SET state = ?, polls_left = ?, body = ? WHERE op_id = ?",
            (state, polls_left, body, op_id),
        )
