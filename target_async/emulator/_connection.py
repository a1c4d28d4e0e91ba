"""The connection under the emulator's store: lazy opening, pragmas, transactions, reset (see :mod:`._store`)."""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ._rows import _DDL


class StoreConnection:
    """One lazily opened SQLite connection behind a re-entrant lock; :class:`~._store.Store` builds on it."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else os.fspath(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._depth = 0
        #: (pid, columns) -> sorted keys of the partition's instances (see the module docstring)
        self._ranks: OrderedDict[tuple[int, tuple[str, ...]], list[Any]] = OrderedDict()

    # -- connection and transactions ------------------------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None:
            with self._lock:
                if self._conn is None:
                    self._conn = self._open()
                conn = self._conn
        return conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            ":memory:" if self.path is None else self.path, isolation_level=None, check_same_thread=False
        )
        weakref.finalize(self, conn.close)
        if self.path is not None:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(_DDL)
        return conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write (nested calls join the outer transaction)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._ranks.clear()
                db.execute("ROLLBACK")
                raise
            self._depth = 0
            db.execute("COMMIT")

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self.db.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._lock:
            return self.db.execute(sql, params).fetchone()

    def _run(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self.db.execute(sql, params)

    def reset(self) -> None:
        """Delete every tenant, container, instance and operation."""
        with self.transaction():
            for table in ("refs", "operations", "instances", "partitions", "containers", "tenants"):
                self._run(f"DELETE FROM {table}")
            self._ranks.clear()
