"""A transaction as the engine's SQL sees it, whatever database runs it.

The engine's statements are written once, with `?` placeholders, in the SQL that
SQLite (≥ 3.35) and PostgreSQL share (ON CONFLICT, RETURNING); each adapter runs them
through this small interface.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

Row = tuple[Any, ...]


class Tx(Protocol):
    # "sqlite" or "postgres": for the few clauses only one of them has (SKIP LOCKED).
    dialect: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...


class SQLiteTx:
    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._conn.execute(sql, params).fetchall()

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self._conn.execute(sql, params).fetchone()
        return row


def skip_locked(tx: Tx) -> str:
    """Row locks for claims on PostgreSQL; SQLite has one writer and needs none."""
    return " FOR UPDATE SKIP LOCKED" if tx.dialect == "postgres" else ""


def for_update(tx: Tx) -> str:
    """A row lock on PostgreSQL (held to the end of the transaction); SQLite has one
    writer and needs none."""
    return " FOR UPDATE" if tx.dialect == "postgres" else ""
