"""The embedded state store: one SQLite file in WAL mode, durable at every commit."""

from __future__ import annotations

import asyncio
import os
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
    # At ~16 µs a failure, 500 held the writer, and every webhook behind it, for 8-25 ms
    # (the open-loop p99 of BENCHMARKS.md); 100 keeps it to a few ms. A backlog pays: 20,000
    # failures in 20 groups drain at 27k/s instead of 50k/s, over five times what the
    # webhook takes in.
    background_batch = 100

    def __init__(self, path: str) -> None:
        self.path = path
        self._writer = Writer(path)
        self._readers = Readers(path)

    async def open(self) -> None:
        """Open the file and bring its schema up to date. A file that cannot be opened is
        a `StoreUnavailable` whose message is one line saying what to fix."""
        try:
            await asyncio.to_thread(_prepare, self.path)
            self._writer.start()
            await self._writer.submit(_migrate)
        except StoreUnavailable as exc:
            self._writer.stop()  # a store that failed to open leaves no thread behind
            if not isinstance(exc.__cause__, sqlite3.Error):
                raise
            raise StoreUnavailable(open_failure(self.path, exc.__cause__)) from exc.__cause__

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


def open_failure(path: str, error: sqlite3.Error) -> str:
    """What to say when the file at `path` cannot be opened, looking at its directory."""
    directory = os.path.dirname(os.path.abspath(path))
    return open_failure_message(
        path,
        directory,
        error=str(error),
        corrupt=getattr(error, "sqlite_errorname", "") in _CORRUPT,
        directory_exists=os.path.isdir(directory),
        directory_writable=os.access(directory, os.W_OK),
        uid=os.geteuid(),
    )


# SQLite's names for a file that is not a database, or one whose pages are damaged.
_CORRUPT = frozenset({"SQLITE_NOTADB", "SQLITE_CORRUPT"})


def open_failure_message(
    path: str,
    directory: str,
    *,
    error: str,
    corrupt: bool,
    directory_exists: bool,
    directory_writable: bool,
    uid: int,
) -> str:
    """One line naming the file or directory and what to do. The directory comes first:
    SQLite in WAL mode creates files next to the database, so even an intact, writable
    database cannot be opened in a directory that is not writable."""
    if not directory_exists:
        return (
            f"the state directory {directory} does not exist: create it, or point "
            "FAILWATCH_STATE_URL at another file"
        )
    if not directory_writable:
        return (
            f"the state directory {directory} is not writable (uid {uid}): mount a writable "
            "volume there, or point FAILWATCH_STATE_URL at a writable directory"
        )
    if corrupt:
        return (
            f"{path} is not a usable SQLite database ({error}): restore it from a backup, "
            "or move it and its -wal and -shm files aside to start with an empty state"
        )
    return f"cannot open the SQLite state {path}: {error}"


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
