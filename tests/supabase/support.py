"""Helpers for the Supabase-side tests: the guide's schema, the pg_net stand-in, and
`failwatch serve` as a real process."""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.postgres import ADMIN_DSN

HERE = Path(__file__).resolve().parent
GUIDE_SCHEMA = HERE.parent / "sql" / "guide_schema.sql"
STANDIN = HERE / "pg_net_standin.sql"

# Just enough of Supabase for the webhook SQL to install (it checks these exist).
WEBHOOK_PREREQUISITE_STUBS = """
CREATE SCHEMA supabase_functions;
CREATE FUNCTION supabase_functions.http_request() RETURNS trigger
  LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE SCHEMA net;
CREATE FUNCTION net.http_post(url text, body jsonb, params jsonb, headers jsonb,
  timeout_milliseconds integer) RETURNS bigint LANGUAGE sql AS 'SELECT 1::bigint';
"""


def load_guide_schema(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(GUIDE_SCHEMA.read_text())


def unique_role() -> str:
    return f"fw_reader_{uuid.uuid4().hex[:10]}"


def drop_role(name: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP ROLE IF EXISTS "{name}"')


def require_plpython(dsn: str) -> None:
    """PL/Python runs the pg_net stand-in. Missing: a loud skip, or a failure under CI."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'plpython3u'"
        ).fetchone()
    if row is not None:
        return
    message = (
        "plpython3u is not installed in this PostgreSQL (Debian: postgresql-plpython3-<version>)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; required under CI=true")
    pytest.skip(f"SKIPPING pg_net STAND-IN TESTS — {message}")


def install_pg_net_standin(dsn: str) -> None:
    require_plpython(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(STANDIN.read_text())


# How pg_net's worker shows in pg_stat_activity: its bgworker type as `backend_type` and,
# in newer releases, as `application_name`. A client session can only set the latter
# (its backend_type stays "client backend"), so the stand-in's worker is a session of
# this name in the source database — present while it runs, absent otherwise.
PG_NET_WORKER_NAME = "pg_net 0.12.0 worker"


def run_pg_net_worker(dsn: str) -> int:
    """What pg_net's background worker does after commits: send the queued requests."""
    with psycopg.connect(dsn, autocommit=True, application_name=PG_NET_WORKER_NAME) as conn:
        row = conn.execute("SELECT net._worker_run()").fetchone()
    assert row is not None
    return int(row[0])


@contextmanager
def pg_net_worker_running(dsn: str) -> Iterator[None]:
    """pg_net's worker between two sends: a session of the worker's name that waits."""
    with psycopg.connect(dsn, autocommit=True, application_name=PG_NET_WORKER_NAME):
        yield


def responses(dsn: str) -> list[tuple[int | None, str | None, str | None]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT status_code, content, error_msg FROM net._http_response ORDER BY id"
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def stored_failures(db_path: Path) -> list[dict[str, Any]]:
    """Every failure in a failwatch SQLite state file (read while the server runs)."""
    if not db_path.exists():
        return []
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        conn.row_factory = sqlite3.Row
        try:
            rows = conn.execute("SELECT * FROM failures ORDER BY seq").fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # not migrated yet
                return []
            raise
        return [dict(row) for row in rows]
    finally:
        conn.close()


def wait_until(predicate: Any, *, timeout: float = 30.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
