"""Helpers for the Supabase-side tests: the guide's schema, the pg_net stand-in, and
`failwatch serve` as a real process."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
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


def run_pg_net_worker(dsn: str) -> int:
    """What pg_net's background worker does after commits: send the queued requests."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT net._worker_run()").fetchone()
    assert row is not None
    return int(row[0])


def responses(dsn: str) -> list[tuple[int | None, str | None, str | None]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT status_code, content, error_msg FROM net._http_response ORDER BY id"
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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


@dataclass
class Served:
    base_url: str
    state_path: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metric(self, name: str, **labels: str) -> float:
        text = httpx.get(f"{self.base_url}/metrics", timeout=10).text
        wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
        prefix = f"{name}{{{wanted}}} " if labels else f"{name} "
        for line in text.splitlines():
            if line.startswith(prefix):
                return float(line.split()[-1])
        return 0.0


@contextmanager
def failwatch_serve(tmp_path: Path, env: dict[str, str]) -> Iterator[Served]:
    """`failwatch serve` in its own process, ready to answer."""
    port = free_port()
    state_path = tmp_path / "failwatch.db"
    log_path = tmp_path / "failwatch.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FAILWATCH_")}
    full_env.update({"FAILWATCH_STATE_URL": f"sqlite:///{state_path}", **env})
    command = Path(sys.executable).with_name("failwatch")
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [str(command), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=full_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    served = Served(f"http://127.0.0.1:{port}", state_path, log_path, process)
    try:
        _wait_ready(served)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(served: Served) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise AssertionError(f"failwatch serve exited early:\n{served.log_text()}")
        try:
            if httpx.get(f"{served.base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"failwatch serve not ready in 60 s:\n{served.log_text()}")
