"""The sweeps inside failwatch itself: started by the app when FAILWATCH_DATABASE_URL is set,
recovering what was missed while failwatch was stopped, never in the webhook's way."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from receiver.config.settings import load_settings
from receiver.supabase.setup_sql import webhook_sql
from receiver.web.app import create_app
from tests.asgi import serving
from tests.serving import Server, running_serve
from tests.supabase.conftest import SourceDatabase
from tests.supabase.support import (
    install_pg_net_standin,
    responses,
    run_pg_net_worker,
    stored_failures,
    wait_until,
)
from tests.supabase.sweep_support import fail_generation, insert_generation

pytestmark = pytest.mark.postgres

SECRET = "acceptance-secret"


def reader_url(db: SourceDatabase) -> str:
    with psycopg.connect(db.dsn, autocommit=True) as admin:
        admin.execute(f"ALTER ROLE {db.reader_role} LOGIN")
        admin.execute("ALTER TABLE generations ENABLE ROW LEVEL SECURITY")
    return make_conninfo(db.dsn, user=db.reader_role)


def wait_for_sweeps(served: Server, count: int) -> None:
    """Let `count` more sweeps complete."""
    done = served.metric("failwatch_sweep_runs_total", result="ok")
    wait_until(lambda: served.metric("failwatch_sweep_runs_total", result="ok") >= done + count)


def stuck_open(path: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT generation_id FROM stuck_open")]
    finally:
        conn.close()


@pytest.mark.acceptance
def test_failures_missed_while_stopped_are_reported_once_after_start(
    set_up_db: SourceDatabase, tmp_path: Path
) -> None:
    install_pg_net_standin(set_up_db.dsn)
    with psycopg.connect(set_up_db.dsn, autocommit=True) as conn:
        for i in range(50):  # failwatch is not running: these webhooks would be lost
            insert_generation(conn, f"acc-{i:02}", "processing", created_ago=120)
            fail_generation(conn, f"acc-{i:02}", f"Request {i} failed", timestamp=f"t{i}")
        insert_generation(conn, "acc-stuck", "processing", created_ago=20 * 60)
        insert_generation(conn, "acc-live", "processing")
    env = {
        "FAILWATCH_WEBHOOK_SECRET": SECRET,
        "FAILWATCH_DATABASE_URL": reader_url(set_up_db),
        "FAILWATCH_SWEEP_INTERVAL": "300ms",
        "FAILWATCH_STUCK_AFTER": "10m",
        # 50 of 50 failed would also be a failure-rate alert (tests/supabase/test_rates*.py);
        # here only the sweep's own failures are counted.
        "FAILWATCH_FAILURE_RATE__ENABLED": "false",
    }
    with running_serve(tmp_path, **env) as served:
        wait_until(lambda: len(stored_failures(served.db_path)) >= 51)
        wait_for_sweeps(served, 2)
        rows = stored_failures(served.db_path)
        assert sorted(r["generation_id"] for r in rows) == sorted(
            [f"acc-{i:02}" for i in range(50)] + ["acc-stuck"]
        )
        assert {(r["source"], r["kind"]) for r in rows if r["generation_id"] != "acc-stuck"} == {
            ("sweep", "failed")
        }
        assert served.metric("failwatch_sweep_failures_total", kind="failed") == 50
        assert served.metric("failwatch_sweep_failures_total", kind="stuck") == 1
        assert stuck_open(served.db_path) == ["acc-stuck"]

        # Running now: webhook and sweeps both see the next failure, in either order.
        with psycopg.connect(set_up_db.dsn, autocommit=True) as conn:
            conn.execute(webhook_sql(url=f"{served.url}/webhooks/supabase", secret=SECRET))
            fail_generation(conn, "acc-live", "boom", timestamp="t-live")
            conn.execute("UPDATE generations SET status = 'completed' WHERE id = 'acc-stuck'")
        assert run_pg_net_worker(set_up_db.dsn) == 1
        wait_for_sweeps(served, 2)
        rows = stored_failures(served.db_path)
        assert len(rows) == 52
        (live,) = [r for r in rows if r["generation_id"] == "acc-live"]
        assert live["idempotency_key"] == "acc-live:failed:t-live"
        answer = json.loads(responses(set_up_db.dsn)[0][1] or "{}")
        if live["source"] == "webhook":
            assert answer == {"status": "accepted"}
            assert served.metric("failwatch_sweep_failures_total", kind="failed") == 50
        else:  # a sweep ran between the commit and the pg_net worker
            assert answer == {"status": "duplicate"}
            assert served.metric("failwatch_sweep_failures_total", kind="failed") == 51
        assert stuck_open(served.db_path) == []
        assert served.metric("failwatch_sweep_runs_total", result="error") == 0
    assert "acceptance-secret" not in served.log()
    assert any(
        json.loads(line).get("msg") == "sweep" and json.loads(line).get("missed") == 50
        for line in served.log().splitlines()
        if line.startswith("{")
    )


@pytest.mark.anyio
async def test_a_sweep_stuck_on_a_locked_table_never_holds_up_a_webhook(
    set_up_db: SourceDatabase, tmp_path: Path
) -> None:
    settings = load_settings(
        state_url=f"sqlite:///{tmp_path}/fw.db",
        webhook_secret=SECRET,
        database_url=set_up_db.dsn,
        sweep_interval="1h",
    )
    body = json.dumps(
        {
            "type": "INSERT",
            "table": "generations",
            "schema": "public",
            "record": {"id": "w1", "status": "failed", "parameters": {"error": "boom"}},
            "old_record": None,
        }
    )
    async with await psycopg.AsyncConnection.connect(set_up_db.dsn) as locker:
        await locker.execute("LOCK TABLE generations IN ACCESS EXCLUSIVE MODE")
        async with serving(create_app(settings)) as client:
            await wait_for_blocked_query(set_up_db.dsn)
            response = await client.post(
                "/webhooks/supabase", content=body, headers={"x-webhook-secret": SECRET}
            )
            assert (response.status_code, response.json()) == (202, {"status": "accepted"})
            assert await blocked_queries(set_up_db.dsn) == 1  # the sweep is still waiting
            await locker.rollback()


async def blocked_queries(dsn: str) -> int:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND state = 'active'"
        )
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def wait_for_blocked_query(dsn: str) -> None:
    for _ in range(300):
        if await blocked_queries(dsn):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the sweep never reached the locked table")
