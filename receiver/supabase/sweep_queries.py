"""The SQL the sweeps run on the source database, the one look at its columns, and a
reader that runs each query bounded in time.

Rows are read as `to_jsonb(g)`, which is how Supabase's webhook serialises a row: a record
from the sweep and one from the webhook make the same `Failure` (same labels, same
idempotency key), whatever the column types. The prompt, the largest column, is left out
unless alerts may show it (`include_prompts`).

Pages are walked by keyset — (timestamp, id as text) after the last row of the previous
page — so a page boundary can neither skip nor repeat a row, and each page is one short
query on a partial index (`deploy/sql/indexes.sql`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import DictRow

from receiver.errors import SourceTableError, SourceUnavailable

T = TypeVar("T")

_REQUIRED = ("id", "status", "created_at")


@dataclass(frozen=True, slots=True)
class SourceTable:
    schema: str
    table: str
    id_type: str
    """The id column's type name, so id lists are sent as a typed array (index-friendly)."""
    change_column: str
    """`updated_at` when the table has it (a row created long ago may fail now), else
    `created_at`."""

    @property
    def name(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.table)


async def describe_table(
    conn: psycopg.AsyncConnection[DictRow], *, schema: str, table: str
) -> SourceTable:
    cursor = await conn.execute(
        "SELECT column_name, udt_name FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s",
        (schema, table),
    )
    columns = {str(row["column_name"]): str(row["udt_name"]) for row in await cursor.fetchall()}
    if not columns:
        raise SourceTableError(f"{schema}.{table}: no such table, or not readable by this role")
    missing = [name for name in _REQUIRED if name not in columns]
    if missing:
        raise SourceTableError(f"{schema}.{table}: missing column(s) {', '.join(missing)}")
    change = "updated_at" if "updated_at" in columns else "created_at"
    return SourceTable(schema, table, columns["id"], change)


DB_NOW = sql.SQL("SELECT now() AS now")


def _page(table: SourceTable, *, status: str, ts: str, bound: sql.SQL, after: bool) -> sql.Composed:
    """One page of rows with `status` within `bound`, in (ts, id) order."""
    column = sql.Identifier(ts)
    keyset: sql.Composable = sql.SQL("")
    if after:
        keyset = sql.SQL(
            " AND g.{ts} >= %(after_ts)s AND (g.{ts}, g.id::text) > (%(after_ts)s, %(after_id)s)"
        ).format(ts=column)
    return sql.SQL(
        # %(dropped)s: the columns not to fetch (the prompt, unless alerts may show it).
        "SELECT to_jsonb(g) - %(dropped)s::text[] AS record, g.{ts} AS page_ts, "
        "g.id::text AS page_id "
        "FROM {table} AS g WHERE g.status = {status} AND {bound}{keyset} "
        "ORDER BY g.{ts}, g.id::text LIMIT %(limit)s"
    ).format(
        ts=column,
        table=table.name,
        status=sql.Literal(status),
        bound=bound.format(ts=column),
        keyset=keyset,
    )


def stuck_page(table: SourceTable, *, after: bool) -> sql.Composed:
    """Generations `processing` since before now - %(stuck_after)s seconds (the guide's
    query 3, which measures from `created_at`)."""
    bound = sql.SQL("g.{ts} < now() - make_interval(secs => %(stuck_after)s)")
    return _page(table, status="processing", ts="created_at", bound=bound, after=after)


def failed_page(table: SourceTable, *, after: bool) -> sql.Composed:
    """Generations `failed` whose last change is at or after %(since)s."""
    bound = sql.SQL("g.{ts} >= %(since)s")
    return _page(table, status="failed", ts=table.change_column, bound=bound, after=after)


def still_processing(table: SourceTable) -> sql.Composed:
    """Which of %(ids)s are still `processing` (absent ones were deleted)."""
    return sql.SQL(
        "SELECT g.id::text AS id FROM {table} AS g "
        "WHERE g.id = ANY(%(ids)s::{id_type}[]) AND g.status = 'processing'"
    ).format(table=table.name, id_type=sql.Identifier(table.id_type))


class SourceReader:
    """Runs the sweeps' queries on one connection, each bounded in time: the server's
    statement_timeout covers a slow query, this covers a network that stopped answering."""

    def __init__(self, conn: psycopg.AsyncConnection[DictRow], *, timeout: float) -> None:
        self.conn = conn
        self._timeout = timeout

    async def bounded(self, work: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                return await work
        except TimeoutError as exc:
            raise SourceUnavailable("source database did not answer in time") from exc

    async def fetch(
        self, query: sql.SQL | sql.Composed, params: Mapping[str, Any]
    ) -> list[DictRow]:
        async def run() -> list[DictRow]:
            cursor = await self.conn.execute(query, params)
            return await cursor.fetchall()

        return await self.bounded(run())

    async def pages(
        self,
        query_for: Callable[[bool], sql.Composed],
        params: Mapping[str, Any],
        *,
        limit: int,
    ) -> AsyncGenerator[list[DictRow]]:
        """Every row, `limit` at a time; `query_for(after)` builds the first (False) or a
        following (True) page's query."""
        after: tuple[Any, str] | None = None
        while True:
            page_params = {**params, "limit": limit}
            if after is not None:
                page_params.update(after_ts=after[0], after_id=after[1])
            rows = await self.fetch(query_for(after is not None), page_params)
            if rows:
                yield rows
            if len(rows) < limit:
                return
            after = (rows[-1]["page_ts"], str(rows[-1]["page_id"]))
