"""The guide's questions, asked of the source database in SQL.

Every query here is the guide's own join (`generations` ⟕ `profiles` ⟕ `sessions` ⟕
`projects`, and `auth.users` for e-mails when readable), bounded by a time window and a
limit. What a caller passes only ever travels as a bound parameter; the only composed
parts are the configured schema and table names (as quoted identifiers) and fixed
fragments chosen from an enum. "Stuck" is the guide's third query: `processing` for
longer than `stuck_after`. Several statements that answer one request share one
read-only REPEATABLE READ transaction, so their counts agree with each other and with
one value of `now()`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.rows import DictRow

Row = Mapping[str, Any]
Conn = psycopg.AsyncConnection[DictRow]


class StatusFilter(StrEnum):
    ALL = "all"
    FAILED = "failed"
    STUCK = "stuck"


@dataclass(frozen=True, slots=True)
class SourceTables:
    """Where the guide's tables live (`profiles`, `sessions`, `projects` share the schema)."""

    schema: str = "public"
    generations: str = "generations"

    def identifiers(self) -> dict[str, sql.Composable]:
        return {
            "generations": sql.Identifier(self.schema, self.generations),
            "profiles": sql.Identifier(self.schema, "profiles"),
            "sessions": sql.Identifier(self.schema, "sessions"),
            "projects": sql.Identifier(self.schema, "projects"),
        }


@dataclass(frozen=True, slots=True)
class AdminQuery:
    status: StatusFilter
    hours_ago: int
    user_id: str | None
    limit: int
    stuck_after_seconds: float


@dataclass(frozen=True, slots=True)
class AdminAnswer:
    counts: Row
    by_user: Sequence[Row]
    generations: Sequence[Row]


@dataclass(frozen=True, slots=True)
class StatsAnswer:
    models: Sequence[Row]
    error_groups: Sequence[Row]


_WINDOW: LiteralString = "g.created_at >= now() - %(hours)s::int * interval '1 hour'"
_FAILED: LiteralString = "g.status = 'failed'"
_STUCK: LiteralString = (
    "g.status = 'processing'"
    " AND g.created_at < now() - %(stuck_after)s::float8 * interval '1 second'"
)
_STATUS_CONDITIONS: dict[StatusFilter, LiteralString] = {
    StatusFilter.FAILED: _FAILED,
    StatusFilter.STUCK: _STUCK,
    StatusFilter.ALL: f"({_FAILED}) OR ({_STUCK})",
}

# The rows the admin view is about, before any join; every statement of a request
# starts from it.
_MATCHED: LiteralString = """
matched AS (
    SELECT g.id::text AS id, g.user_id, g.model_id::text AS model_id, g.status,
           g.created_at, g.session_id,
           g.parameters->>'error' AS error_message,
           g.parameters->'errorContext'->>'type' AS error_type,
           CASE WHEN g.status = 'failed' THEN 'failed' ELSE 'stuck' END AS kind
    FROM {generations} g
    WHERE {window} AND ({status}) {user_filter}
)"""

_COUNTS: LiteralString = """
WITH {matched}
SELECT count(*) AS total,
       count(*) FILTER (WHERE kind = 'failed') AS failed,
       count(*) FILTER (WHERE kind = 'stuck') AS stuck,
       count(DISTINCT user_id) AS affected_users
FROM matched"""

_BY_USER: LiteralString = """
WITH {matched}
SELECT m.user_id AS id, p.display_name, p.username, {email} AS email,
       count(*) AS total,
       count(*) FILTER (WHERE m.kind = 'failed') AS failed,
       count(*) FILTER (WHERE m.kind = 'stuck') AS stuck
FROM matched m
LEFT JOIN {profiles} p ON m.user_id = p.id
{auth_join}
GROUP BY m.user_id, p.display_name, p.username, {email}
ORDER BY total DESC, m.user_id::text COLLATE "C" NULLS LAST
LIMIT %(limit)s"""

_LISTING: LiteralString = """
WITH {matched}
SELECT m.id, m.user_id, m.model_id, m.status, m.kind, m.created_at,
       CASE WHEN m.kind = 'stuck'
            THEN (extract(epoch FROM now() - m.created_at) / 60)::float8 END AS age_minutes,
       m.error_message, m.error_type, m.session_id::text AS session_id,
       s.name AS session_name, pr.name AS project_name,
       p.display_name, p.username, {email} AS email
FROM matched m
LEFT JOIN {profiles} p ON m.user_id = p.id
LEFT JOIN {sessions} s ON m.session_id = s.id
LEFT JOIN {projects} pr ON s.project_id = pr.id
{auth_join}
ORDER BY m.created_at {direction}, m.id COLLATE "C"
LIMIT %(limit)s"""

_AUTH_JOIN: LiteralString = "LEFT JOIN auth.users au ON m.user_id = au.id::text"

_OWN_FAILURES: LiteralString = """
SELECT g.id::text AS id, g.model_id::text AS model_id, g.status, g.created_at, g.prompt,
       g.parameters->>'error' AS error_message,
       g.parameters->'errorContext'->>'type' AS error_type,
       g.session_id::text AS session_id, s.name AS session_name, pr.name AS project_name,
       count(*) OVER () AS total
FROM {generations} g
LEFT JOIN {sessions} s ON g.session_id = s.id
LEFT JOIN {projects} pr ON s.project_id = pr.id
WHERE g.status = 'failed' AND g.user_id = %(user_id)s AND {window} {session_filter}
ORDER BY g.created_at DESC, g.id::text COLLATE "C"
LIMIT %(limit)s"""

# The body of the guide's `get_failure_stats(hours_back)`, with a tie-breaker for a
# stable order.
_MODEL_STATS: LiteralString = """
SELECT g.model_id::text AS model_id,
       count(*) AS failure_count,
       count(DISTINCT g.user_id) AS affected_users,
       max(g.created_at) AS latest_failure
FROM {generations} g
WHERE g.status = 'failed' AND {window}
GROUP BY g.model_id
ORDER BY failure_count DESC, g.model_id::text COLLATE "C" NULLS LAST"""

# The same rows, grouped finely enough to classify in Python: distinct error fields
# per model and user (classifying happens once per group, not once per row).
_ERROR_GROUPS: LiteralString = """
SELECT g.model_id::text AS model_id, g.user_id::text AS user_id,
       g.parameters->'error' AS error,
       g.parameters->'errorContext'->'type' AS error_type,
       g.parameters->'errorContext'->'message' AS context_message,
       count(*) AS failures,
       max(g.created_at) AS latest_failure
FROM {generations} g
WHERE g.status = 'failed' AND {window}
GROUP BY 1, 2, 3, 4, 5"""

# Every step guarded by the one before, because SQL does not promise the order in which
# `AND` evaluates its operands and the later checks raise on a missing schema or table.
_AUTH_USERS_READABLE: LiteralString = """
SELECT CASE
    WHEN to_regnamespace('auth') IS NULL THEN false
    WHEN NOT has_schema_privilege('auth', 'USAGE') THEN false
    WHEN to_regclass('auth.users') IS NULL THEN false
    ELSE has_column_privilege('auth.users', 'id', 'SELECT')
         AND has_column_privilege('auth.users', 'email', 'SELECT')
END AS readable"""


async def auth_users_readable(conn: Conn) -> bool:
    """Whether this connection may read e-mails from `auth.users` itself."""
    try:
        row = await (await conn.execute(_AUTH_USERS_READABLE)).fetchone()
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedObject):
        return False
    return bool(row and row["readable"])


async def failed_and_stuck(
    conn: Conn, query: AdminQuery, *, tables: SourceTables, with_emails: bool
) -> AdminAnswer:
    """Counts, the most affected users and the newest rows of the admin view."""
    names = tables.identifiers()
    user_filter = sql.SQL("AND g.user_id = %(user_id)s" if query.user_id is not None else "")
    matched = sql.SQL(_MATCHED).format(
        generations=names["generations"],
        window=sql.SQL(_WINDOW),
        status=sql.SQL(_STATUS_CONDITIONS[query.status]),
        user_filter=user_filter,
    )
    email = sql.SQL("au.email" if with_emails else "NULL::text")
    auth_join = sql.SQL(_AUTH_JOIN if with_emails else "")
    # Stuck rows read oldest first (the guide's third query); failures newest first.
    direction = sql.SQL("ASC" if query.status is StatusFilter.STUCK else "DESC")
    params = {
        "hours": query.hours_ago,
        "stuck_after": query.stuck_after_seconds,
        "user_id": query.user_id,
        "limit": query.limit,
    }
    joins = {"matched": matched, "email": email, "auth_join": auth_join, **names}
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        counts = await _one(conn, sql.SQL(_COUNTS).format(matched=matched), params)
        by_user = await _all(conn, sql.SQL(_BY_USER).format(**joins), params)
        listing = sql.SQL(_LISTING).format(direction=direction, **joins)
        generations = await _all(conn, listing, params)
    return AdminAnswer(counts=counts, by_user=by_user, generations=generations)


async def own_failures(
    conn: Conn,
    *,
    user_id: str,
    hours_ago: int,
    session_id: str | None,
    limit: int,
    tables: SourceTables,
) -> Sequence[Row]:
    """One user's failed generations, newest first; each row carries the full `total`."""
    names = tables.identifiers()
    session_filter = sql.SQL("AND g.session_id = %(session_id)s" if session_id is not None else "")
    statement = sql.SQL(_OWN_FAILURES).format(
        window=sql.SQL(_WINDOW), session_filter=session_filter, **names
    )
    params = {"user_id": user_id, "hours": hours_ago, "session_id": session_id, "limit": limit}
    return await _all(conn, statement, params)


async def failure_stats(conn: Conn, *, hours_back: int, tables: SourceTables) -> StatsAnswer:
    """`get_failure_stats(hours_back)` and the error groups behind it, from one snapshot."""
    names = tables.identifiers()
    window = sql.SQL(_WINDOW)
    params = {"hours": hours_back}
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        models = await _all(conn, sql.SQL(_MODEL_STATS).format(window=window, **names), params)
        groups = await _all(conn, sql.SQL(_ERROR_GROUPS).format(window=window, **names), params)
    return StatsAnswer(models=models, error_groups=groups)


async def _one(conn: Conn, statement: sql.Composed, params: Mapping[str, object]) -> Row:
    row = await (await conn.execute(statement, params)).fetchone()
    if row is None:  # an aggregate without GROUP BY always answers one row
        raise RuntimeError("aggregate query returned no row")
    return row


async def _all(conn: Conn, statement: sql.Composed, params: Mapping[str, object]) -> list[Row]:
    return list(await (await conn.execute(statement, params)).fetchall())
