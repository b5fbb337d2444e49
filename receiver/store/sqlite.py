"""The embedded state store: one SQLite file in WAL mode, durable at every commit."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from receiver.errors import StoreUnavailable
from receiver.model import Failure
from receiver.store.failures import INSERT_FAILURE, failure_row
from receiver.store.migrations import migrations
from receiver.store.sqlite_conn import (
    Readers,
    Writer,
    incremental_vacuum,
    incremental_vacuum_on,
)
from receiver.store.tx import SQLiteTx, Tx

T = TypeVar("T")


class SQLiteStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._writer = Writer(path)
        self._readers = Readers(path)

    async def open(self) -> None:
        await asyncio.to_thread(_prepare, self.path)
        self._writer.start()
        await self._writer.submit(_migrate)

    async def close(self) -> None:
        self._writer.stop()
        self._readers.close()

    async def ping(self) -> None:
        await self._readers.run(lambda conn: conn.execute("SELECT 1").fetchone())

    async def record_failure(self, failure: Failure, *, received_at: float) -> bool:
        row = failure_row(failure, received_at)
        return await self._writer.submit(lambda conn: _insert_failure(conn, row))

    async def count_failures(self) -> int:
        return await self._readers.run(
            lambda conn: int(conn.execute("SELECT count(*) FROM failures").fetchone()[0])
        )

    async def compact(self, *, pages: int) -> int:
        try:
            return await asyncio.to_thread(incremental_vacuum, self.path, pages)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite: {exc}") from exc

    async def write(self, work: Callable[[Tx], T]) -> T:
        return await self._writer.submit(lambda conn: work(SQLiteTx(conn)))

    async def read(self, work: Callable[[Tx], T]) -> T:
        return await self._readers.run(lambda conn: _snapshot(conn, work))


def _prepare(path: str) -> None:
    try:
        incremental_vacuum_on(path)
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"sqlite: {exc}") from exc


def _snapshot(conn: sqlite3.Connection, work: Callable[[Tx], T]) -> T:
    conn.execute("BEGIN")
    try:
        return work(SQLiteTx(conn))
    finally:
        conn.execute("COMMIT")


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    for migration in migrations("sqlite"):
        if migration.version in done:
            continue
        for statement in _statements(migration.sql):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.name, time.time()),
        )


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT behind our back; split so the migration stays atomic.
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s.strip(" \n;")]


def _insert_failure(conn: sqlite3.Connection, row: tuple[object, ...]) -> bool:
    return conn.execute(INSERT_FAILURE, row).rowcount == 1
