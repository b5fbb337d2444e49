"""Apply the setup SQL to a database: `failwatch db setup`.

The view, the stats function and the reader role go in one transaction, so a failure
leaves nothing half-made. The indexes cannot: `CREATE INDEX CONCURRENTLY` runs outside any
transaction, one statement at a time. An index left INVALID by an interrupted build would
survive `IF NOT EXISTS` forever, so it is dropped and rebuilt. Each step is reported as a
line of text; nothing here prints the webhook SQL, which holds the secret.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg import sql

from receiver.supabase.setup_sql import (
    DEFAULT_READER_ROLE,
    IndexStatement,
    index_statements,
    setup_body,
)

FAILURE_RATE_INDEXES = "failure_rate_indexes.sql"

Report = Callable[[str], None]


def apply_setup(
    conn: psycopg.Connection[tuple[object, ...]],
    *,
    reader_role: str = DEFAULT_READER_ROLE,
    report: Report,
    failure_rate: bool = False,
) -> None:
    """Install the view, the stats function, the reader role and the indexes (with
    `failure_rate`, also the finished-rows index of the rate rules)."""
    body = setup_body(reader_role=reader_role)
    with conn.transaction():
        conn.execute(body)
    report(f"ok   failed_generations_view, get_failure_stats(), role {reader_role}")
    _build(conn, index_statements(), report)
    if failure_rate:
        _build(conn, failure_rate_indexes(conn), report)


def failure_rate_indexes(conn: psycopg.Connection[tuple[object, ...]]) -> list[IndexStatement]:
    """The finished-rows index by the column the rules count by: `updated_at` if the
    table has it, else `created_at` (never both: each costs every write)."""
    row = conn.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name = 'generations' AND column_name = 'updated_at'"
    ).fetchone()
    column = "updated_at" if row is not None and row[0] else "created_at"
    return [i for i in index_statements(FAILURE_RATE_INDEXES) if i.name.endswith(column)]


def _build(
    conn: psycopg.Connection[tuple[object, ...]], indexes: list[IndexStatement], report: Report
) -> None:
    for index in indexes:
        if _drop_if_invalid(conn, index.name):
            report(f"note {index.name}: dropped an invalid (interrupted) build")
        try:
            conn.execute(index.sql)
        except psycopg.errors.UndefinedColumn as exc:
            report(f"skip {index.name}: {exc.diag.message_primary}")
            continue
        report(f"ok   index {index.name}")


def apply_webhook(conn: psycopg.Connection[tuple[object, ...]], webhook_sql: str) -> None:
    with conn.transaction():
        conn.execute(webhook_sql)


def _drop_if_invalid(conn: psycopg.Connection[tuple[object, ...]], name: str) -> bool:
    row = conn.execute(
        "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(%s)",
        (f"public.{name}",),
    ).fetchone()
    if row is None or row[0]:
        return False
    conn.execute(
        sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier("public", name))
    )
    return True
