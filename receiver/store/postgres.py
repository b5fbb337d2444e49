"""The shared state store: PostgreSQL, for several replicas (possibly the Supabase
database itself), in a schema of its own.

Replicas agree through the database, never through memory: unique constraints make the
event insert idempotent, the dispatch cursor row lock serialises routing, `SKIP LOCKED`
lets workers claim different groups and outbox rows, and conditional updates make acks
safe. The engine's statements are the same as on SQLite (`*_sql` modules); they run here
in worker threads on a pool of synchronous connections.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from receiver.errors import ConfigError, StoreUnavailable
from receiver.model import Failure
from receiver.store.failures import INSERT_FAILURE, failure_row
from receiver.store.migrations import migrations
from receiver.store.pg_pool import ConnectionPool
from receiver.store.tx import Row

T = TypeVar("T")
log = logging.getLogger("failwatch.store")

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Deadlocks and serialization failures are worth a retry; the transaction did nothing.
_RETRIES = 3


class PgTx:
    dialect = "postgres"

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        return self._conn.execute(_pg(statement), params).rowcount

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._conn.cursor() as cursor:
            cursor.executemany(_pg(statement), list(rows))

    def fetchall(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._conn.execute(_pg(statement), params).fetchall()

    def fetchone(self, statement: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self._conn.execute(_pg(statement), params).fetchone()
        return row


_TRANSLATED: dict[str, Any] = {}


def _pg(statement: str) -> Any:
    """`?` placeholders → psycopg's `%s` (the engine's SQL has no other `%` or `?`)."""
    translated = _TRANSLATED.get(statement)
    if translated is None:
        translated = _TRANSLATED[statement] = statement.replace("%", "%%").replace("?", "%s")
    return translated


class PostgresStore:
    # Webhooks commit on connections of their own, beside the dispatcher's transaction, so
    # it can take more at once: 20,000 failures drain at 7.8k/s in batches of 500, 2.4k/s
    # in batches of 100 (measured, BENCHMARKS.md).
    background_batch = 500

    def __init__(self, url: str, *, schema: str = "failwatch", pool_size: int = 8) -> None:
        if not _SCHEMA_NAME.match(schema):
            raise ConfigError("state_schema: lower-case letters, digits and _ only")
        self.schema = schema
        self._pool = ConnectionPool(url, size=pool_size, options=f"-c search_path={schema}")
        self._threads = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="fw-pg")

    async def open(self) -> None:
        await self._run(self._open_and_migrate)

    def _open_and_migrate(self) -> None:
        with self._pool.connection() as conn:
            conn.autocommit = True
            # Several replicas may start at once: one migrates, the others wait for it.
            lock = f"failwatch:migrate:{self.schema}"
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (lock,))
            try:
                _migrate(conn, self.schema)
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (lock,))

    async def close(self) -> None:
        self._threads.shutdown(wait=True)
        self._pool.close()

    async def ping(self) -> None:
        await self.read(lambda tx: tx.fetchone("SELECT 1"))

    async def record_failure(self, failure: Failure, *, received_at: float) -> bool:
        row = failure_row(failure, received_at)
        return await self.write(lambda tx: tx.execute(INSERT_FAILURE, row) == 1)

    async def count_failures(self) -> int:
        found = await self.read(lambda tx: tx.fetchone("SELECT count(*) FROM failures"))
        return int(found[0]) if found else 0

    async def compact(self, *, pages: int) -> int:
        return 0  # autovacuum reclaims what the pruner's batched deletes leave

    async def write(self, work: Callable[[PgTx], T]) -> T:
        return await self._run(lambda: self._transaction(work, read_only=False))

    async def read(self, work: Callable[[PgTx], T]) -> T:
        return await self._run(lambda: self._transaction(work, read_only=True))

    def _transaction(self, work: Callable[[PgTx], T], *, read_only: bool) -> T:
        for attempt in range(1, _RETRIES + 1):
            try:
                with self._pool.connection() as conn, conn.transaction():
                    if read_only:
                        conn.execute("SET TRANSACTION READ ONLY")
                    return work(PgTx(conn))
            except psycopg.errors.TransactionRollback:
                # Deadlock or serialization failure: nothing was done; try again.
                if attempt == _RETRIES:
                    raise
                time.sleep(0.01 * attempt)
            except (psycopg.OperationalError, psycopg.InterfaceError):
                # The database restarted under us: idle connections are dead too. One
                # more try on a fresh connection tells an outage from a stale pool.
                # (Every engine transaction is safe to repeat: inserts are idempotent
                # and decisions are re-made from committed state.)
                self._pool.discard_idle()
                if attempt > 1:
                    raise
        raise AssertionError("unreachable")

    async def _run(self, call: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._threads, call)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise StoreUnavailable(f"postgresql: {type(exc).__name__}") from exc
        except RuntimeError as exc:  # executor shut down: the store is closed
            raise StoreUnavailable("the state store is closed") from exc


def _migrate(conn: psycopg.Connection[Any], schema: str) -> None:
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
        "name text NOT NULL, applied_at double precision NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    for migration in migrations("postgres"):
        if migration.version in done:
            continue
        with conn.transaction():
            conn.execute(migration.sql.encode())  # a script: several statements, no params
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
                (migration.version, migration.name, time.time()),
            )
        log.info(
            "state migrated", extra={"version": migration.version, "migration": migration.name}
        )
