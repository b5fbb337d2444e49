"""The embedded state store: one SQLite file in WAL mode, durable at every commit."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence

from receiver.model import Failure
from receiver.store import sqlite_sweep
from receiver.store.migrations import migrations
from receiver.store.sqlite_conn import Readers, Writer


class SQLiteStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._writer = Writer(path)
        self._readers = Readers(path)

    async def open(self) -> None:
        self._writer.start()
        await self._writer.submit(_migrate)

    async def close(self) -> None:
        self._writer.stop()
        self._readers.close()

    async def ping(self) -> None:
        await self._readers.run(lambda conn: conn.execute("SELECT 1").fetchone())

    async def record_failure(self, failure: Failure, *, received_at: float) -> bool:
        row = _failure_row(failure, received_at)
        return await self._writer.submit(lambda conn: _insert_failure(conn, row))

    async def count_failures(self) -> int:
        return await self._readers.run(
            lambda conn: int(conn.execute("SELECT count(*) FROM failures").fetchone()[0])
        )

    # The sweep's state (receiver.sweep.SweepState); the SQL is in sqlite_sweep.py.

    async def acquire_lease(self, name: str, holder: str, *, ttl: float, now: float) -> bool:
        return await self._writer.submit(
            lambda conn: sqlite_sweep.acquire_lease(conn, name, holder, ttl=ttl, now=now)
        )

    async def get_cursor(self, name: str) -> float | None:
        return await self._readers.run(lambda conn: sqlite_sweep.get_cursor(conn, name))

    async def set_cursor(self, name: str, value: float) -> None:
        await self._writer.submit(lambda conn: sqlite_sweep.set_cursor(conn, name, value))

    async def mark_stuck(self, generation_ids: Sequence[str], *, now: float) -> None:
        ids = list(generation_ids)
        await self._writer.submit(lambda conn: sqlite_sweep.mark_stuck(conn, ids, now=now))

    async def open_stuck_generations(self) -> list[str]:
        return await self._readers.run(sqlite_sweep.open_stuck_generations)

    async def clear_stuck(self, generation_ids: Sequence[str], *, now: float) -> None:
        ids = list(generation_ids)
        await self._writer.submit(lambda conn: sqlite_sweep.clear_stuck(conn, ids))


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


_INSERT_FAILURE = """
INSERT INTO failures (idempotency_key, generation_id, kind, source, category, fingerprint,
    message, error_type, model_id, user_id, session_id, occurred_at, labels, received_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (idempotency_key) DO NOTHING
"""


def _failure_row(failure: Failure, received_at: float) -> tuple[object, ...]:
    return (
        failure.idempotency_key,
        failure.generation_id,
        failure.kind.value,
        failure.source.value,
        failure.category,
        failure.fingerprint,
        failure.message,
        failure.error_type,
        failure.model_id,
        failure.user_id,
        failure.session_id,
        failure.occurred_at,
        json.dumps(dict(failure.labels), ensure_ascii=False, separators=(",", ":")),
        received_at,
    )


def _insert_failure(conn: sqlite3.Connection, row: tuple[object, ...]) -> bool:
    return conn.execute(_INSERT_FAILURE, row).rowcount == 1
