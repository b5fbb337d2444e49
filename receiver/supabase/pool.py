"""The source database: the Supabase Postgres that holds `generations` (read-only).

One small async connection pool, opened lazily; the process makes one
(`supabase.clients.SupabaseClients`) and the sweeps and the guide's API share it.
A source that is down or slow must never block the webhook path, so every use has a
short timeout and failures surface as `SourceUnavailable`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from receiver.errors import SourceUnavailable


class SourceDB:
    def __init__(self, dsn: str, *, max_size: int = 4, timeout: float = 5.0) -> None:
        self._dsn = dsn
        self._max_size = max_size
        self._timeout = timeout
        self._pool = self._new_pool()
        self._opened = False

    def _new_pool(self) -> AsyncConnectionPool[psycopg.AsyncConnection[DictRow]]:
        return AsyncConnectionPool(
            self._dsn,
            connection_class=psycopg.AsyncConnection[DictRow],
            min_size=0,
            max_size=self._max_size,
            open=False,
            timeout=self._timeout,
            kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": 5},
            # A pooled connection may have died with a database restart; check before use.
            check=AsyncConnectionPool.check_connection,
            name="failwatch-source",
        )

    async def close(self) -> None:
        if self._opened:
            await self._pool.close()
            # A closed pool cannot reopen; the next use (a new lifespan) gets a fresh one.
            self._pool = self._new_pool()
            self._opened = False

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[DictRow]]:
        """A pooled connection, read-only, with a statement timeout."""
        if not self._opened:
            await self._pool.open(wait=False)
            self._opened = True
        try:
            async with self._pool.connection() as conn:
                await conn.execute(
                    "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY; "
                    f"SET statement_timeout = {int(self._timeout * 1000)}"
                )
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise SourceUnavailable("source database unavailable") from exc
