"""The sweeps against a real PostgreSQL (the guide's schema) and a real SQLite store."""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path
from typing import Any, cast

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from receiver.errors import SourceTableError, StoreUnavailable
from receiver.intake.pipeline import process_webhook
from receiver.loops.sweep_state import StoreSweepState
from receiver.loops.sweeper import SweepState
from receiver.model import Failure, FailureKind, Source
from receiver.supabase import sweep_queries as queries
from receiver.supabase.pool import SourceDB
from receiver.supabase.setup_sql import webhook_sql
from tests.supabase.conftest import SourceDatabase
from tests.supabase.support import install_pg_net_standin, stored_failures
from tests.supabase.sweep_support import (
    error_parameters,
    fail_generation,
    insert_generation,
    sweep_rig,
)

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]

MIN = 60.0


def reader_dsn(db: SourceDatabase) -> str:
    """Connect as the read-only role, with RLS on as in Supabase: what failwatch really has."""
    with psycopg.connect(db.dsn, autocommit=True) as admin:
        admin.execute(f"ALTER ROLE {db.reader_role} LOGIN")
        admin.execute("ALTER TABLE generations ENABLE ROW LEVEL SECURITY")
    return make_conninfo(db.dsn, user=db.reader_role)


async def test_the_table_is_described_once_with_updated_at_when_it_has_one(
    source_db: SourceDatabase,
) -> None:
    async with SourceDB(source_db.dsn).connection() as conn:
        described = await queries.describe_table(conn, schema="public", table="generations")
    assert described == queries.SourceTable("public", "generations", "text", "updated_at")
    with psycopg.connect(source_db.dsn, autocommit=True) as admin:
        admin.execute("ALTER TABLE generations DROP COLUMN updated_at")
    source = SourceDB(source_db.dsn)
    try:
        async with source.connection() as conn:
            described = await queries.describe_table(conn, schema="public", table="generations")
            with pytest.raises(SourceTableError, match="no such table"):
                await queries.describe_table(conn, schema="public", table="nope")
    finally:
        await source.close()
    assert described.change_column == "created_at"


async def test_a_stuck_generation_is_recorded_once_and_cleared_when_it_moves_on(
    set_up_db: SourceDatabase, tmp_path: Path
) -> None:
    with psycopg.connect(set_up_db.dsn, autocommit=True) as conn:
        insert_generation(conn, "old", "processing", created_ago=20 * MIN)
        insert_generation(conn, "gone", "processing", created_ago=30 * MIN)
        insert_generation(conn, "young", "processing", created_ago=2 * MIN)
        insert_generation(conn, "done", "completed", created_ago=40 * MIN)
    async with sweep_rig(reader_dsn(set_up_db), tmp_path / "fw.db") as rig:
        first = await rig.sweeper.sweep_once()
        assert (first.result, sorted(first.stuck), first.resolved) == ("ok", ["gone", "old"], ())
        assert sorted(await rig.state.open_stuck_generations()) == ["gone", "old"]
        assert await rig.store.count_failures() == 2
        assert rig.counter("failwatch_sweep_failures_total", kind="stuck") == 2
        assert rig.counter("failwatch_failures_total", category="stuck") == 2

        again = await rig.sweeper.sweep_once()
        assert (again.result, again.stuck, again.resolved) == ("ok", (), ())
        assert await rig.store.count_failures() == 2

        with psycopg.connect(set_up_db.dsn, autocommit=True) as conn:
            conn.execute("UPDATE generations SET status = 'completed' WHERE id = 'old'")
            conn.execute("DELETE FROM generations WHERE id = 'gone'")
        cleared = await rig.sweeper.sweep_once()
        assert (cleared.stuck, sorted(cleared.resolved)) == ((), ["gone", "old"])
        assert await rig.state.open_stuck_generations() == []
        assert (await rig.sweeper.sweep_once()).resolved == ()
        assert await rig.store.count_failures() == 2
    rows = stored_failures(tmp_path / "fw.db")
    assert {(r["generation_id"], r["idempotency_key"], r["kind"], r["source"]) for r in rows} == {
        ("old", "old:stuck:stuck", "stuck", "sweep"),
        ("gone", "gone:stuck:stuck", "stuck", "sweep"),
    }


async def test_failures_missed_while_failwatch_was_down_are_recorded_once(
    set_up_db: SourceDatabase, tmp_path: Path
) -> None:
    with psycopg.connect(set_up_db.dsn, autocommit=True) as conn:
        for i in range(50):
            insert_generation(conn, f"m{i:02}", "processing", created_ago=3 * MIN)
            fail_generation(conn, f"m{i:02}", f"Request {i} failed", timestamp=f"2030-01-01T{i}")
        # Created three days ago, failed just now: only updated_at shows it.
        insert_generation(conn, "late", "processing", created_ago=3 * 86400)
        fail_generation(conn, "late", "Rate limit exceeded")
        # Failed two days ago: before the first look-back of 24 hours.
        insert_generation(
            conn, "ancient", "failed", created_ago=2 * 86400, parameters=error_parameters("x")
        )
        insert_generation(conn, "fine", "completed")
    async with sweep_rig(reader_dsn(set_up_db), tmp_path / "fw.db", page_size=16) as rig:
        first = await rig.sweeper.sweep_once()
        assert first.result == "ok"
        assert sorted(first.missed) == sorted([f"m{i:02}" for i in range(50)] + ["late"])
        assert await rig.store.count_failures() == 51
        assert rig.counter("failwatch_sweep_failures_total", kind="failed") == 51
        assert rig.counter("failwatch_failures_total", category="model_error") == 50
        assert rig.counter("failwatch_failures_total", category="rate_limit") == 1

        second = await rig.sweeper.sweep_once()
        assert (second.result, second.missed) == ("ok", ())
        assert await rig.store.count_failures() == 51
        assert rig.counter("failwatch_sweep_runs_total", result="ok") == 2
    rows = {r["generation_id"]: r for r in stored_failures(tmp_path / "fw.db")}
    assert {r["source"] for r in rows.values()} == {"sweep"}
    assert rows["m07"]["idempotency_key"] == "m07:failed:2030-01-01T7"
    assert rows["m07"]["message"] == "Request 7 failed"
    assert json.loads(rows["m07"]["labels"])["status"] == "failed"


async def test_after_the_first_sweep_the_window_starts_at_the_last_one_less_the_overlap(
    set_up_db: SourceDatabase, tmp_path: Path
) -> None:
    async with sweep_rig(set_up_db.dsn, tmp_path / "fw.db", overlap=5 * MIN) as rig:
        assert (await rig.sweeper.sweep_once()).missed == ()
        with psycopg.connect(set_up_db.dsn, autocommit=True) as conn:
            # Committed only now, but stamped in the past (a slow transaction):
            # 3 minutes is inside overlap + interval (6 min), 30 minutes is not.
            params = error_parameters("late commit")
            insert_generation(conn, "slow", "failed", created_ago=3 * MIN, parameters=params)
            insert_generation(conn, "stale", "failed", created_ago=30 * MIN, parameters=params)
        assert (await rig.sweeper.sweep_once()).missed == ("slow",)


async def test_a_failure_seen_by_webhook_and_sweep_is_stored_once(
    set_up_db: SourceDatabase, tmp_path: Path
) -> None:
    """The webhook bodies come from the real triggers (full and slim), queued by the
    pg_net stand-in; the sweep reads the same rows."""
    install_pg_net_standin(set_up_db.dsn)
    url = "http://127.0.0.1:9/webhooks/supabase"
    with psycopg.connect(set_up_db.dsn, autocommit=True) as conn:
        for gid in ("webhook-first", "sweep-first", "slim-first", "no-timestamp"):
            insert_generation(conn, gid, "processing")
        conn.execute(webhook_sql(url=url, secret="s"))
        fail_generation(conn, "webhook-first", "boom", timestamp="2030-01-01T00:00:00Z")
        fail_generation(conn, "sweep-first", "boom", timestamp="2030-01-01T00:00:01Z")
        fail_generation(conn, "no-timestamp", "Request 123 timed out")
        conn.execute(webhook_sql(url=url, secret="s", slim=True))
        fail_generation(conn, "slim-first", "boom", timestamp="2030-01-01T00:00:02Z")
        queued = conn.execute("SELECT body FROM net.http_request_queue ORDER BY id").fetchall()
    bodies = {json.loads(body)["record"]["id"]: bytes(body) for (body,) in queued}
    assert sorted(bodies) == ["no-timestamp", "slim-first", "sweep-first", "webhook-first"]
    assert "prompt" not in json.loads(bodies["slim-first"])["record"]

    async with sweep_rig(set_up_db.dsn, tmp_path / "fw.db") as rig:

        async def deliver(gid: str) -> bool:
            failure = process_webhook(bodies[gid])
            assert isinstance(failure, Failure)
            assert (failure.kind, failure.source) == (FailureKind.FAILED, Source.WEBHOOK)
            return await rig.store.record_failure(failure, received_at=1.0)

        assert await deliver("webhook-first") is True
        assert await deliver("slim-first") is True
        assert await deliver("no-timestamp") is True
        swept = await rig.sweeper.sweep_once()
        assert swept.missed == ("sweep-first",)
        assert await deliver("sweep-first") is False
        assert await rig.store.count_failures() == 4


class FailingAfter:
    """The real store, until `limit` failures were recorded: then the disk is 'full'."""

    def __init__(self, store: StoreSweepState, limit: int) -> None:
        self.store = store
        self.limit = limit
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def record_failure(self, failure: Failure, *, received_at: float) -> bool:
        self.calls += 1
        if self.calls > self.limit:
            raise StoreUnavailable("sqlite: database or disk is full")
        return await self.store.record_failure(failure, received_at=received_at)


async def test_a_sweep_cut_short_by_the_store_resumes_where_it_stopped(
    set_up_db: SourceDatabase, tmp_path: Path
) -> None:
    with psycopg.connect(set_up_db.dsn, autocommit=True) as conn:
        for i in range(30):
            insert_generation(
                conn, f"c{i:02}", "failed", created_ago=3600 - i, parameters=error_parameters("x")
            )
    failing: list[FailingAfter] = []

    def wrap(store: StoreSweepState) -> SweepState:
        failing.append(FailingAfter(store, limit=15))
        return cast(SweepState, failing[0])

    async with sweep_rig(set_up_db.dsn, tmp_path / "fw.db", page_size=10, wrap=wrap) as rig:
        cut = await rig.sweeper.sweep_once()
        assert (cut.result, cut.missed) == (
            "store_unavailable",
            tuple(f"c{i:02}" for i in range(10)),
        )
        assert rig.counter("failwatch_sweep_runs_total", result="store_unavailable") == 1
        reached = await rig.state.get_cursor("sweep.missed.high_water")
        assert reached is not None  # the first page's progress was kept: up to c09
        assert abs(reached - (time.time() - (3600 - 9))) < 60
        failing[0].limit = 1000
        resumed = await rig.sweeper.sweep_once()
        assert resumed.result == "ok"
        assert resumed.missed[-1] == "c29"
        assert await rig.store.count_failures() == 30
    stored = sorted(r["generation_id"] for r in stored_failures(tmp_path / "fw.db"))
    assert stored == [f"c{i:02}" for i in range(30)]


async def test_a_source_database_that_is_down_is_logged_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    caplog.set_level(logging.WARNING, logger="failwatch.sweep")
    async with sweep_rig(dsn, tmp_path / "fw.db", source_timeout=0.5) as rig:
        result = await rig.sweeper.sweep_once()
        again = await rig.sweeper.sweep_once()
    assert (result.result, again.result) == ("source_unavailable", "source_unavailable")
    assert rig.counter("failwatch_sweep_runs_total", result="source_unavailable") == 2
    records = [r for r in caplog.records if r.name == "failwatch.sweep"]
    assert len(records) == 2
    assert records[0].levelname == "WARNING"
    assert records[0].__dict__["result"] == "source_unavailable"
    assert "SourceUnavailable" in records[0].__dict__["error"]


async def test_a_slow_source_database_ends_the_sweep_at_the_statement_timeout(
    set_up_db: SourceDatabase, tmp_path: Path
) -> None:
    with psycopg.connect(set_up_db.dsn) as locker:
        locker.execute("LOCK TABLE generations IN ACCESS EXCLUSIVE MODE")
        async with sweep_rig(set_up_db.dsn, tmp_path / "fw.db", source_timeout=1.0) as rig:
            result = await rig.sweeper.sweep_once()
        locker.rollback()
    assert result.result == "source_unavailable"
    assert rig.counter("failwatch_sweep_runs_total", result="source_unavailable") == 1


async def test_a_missing_table_is_an_error_result_not_an_exception(
    source_db: SourceDatabase, tmp_path: Path
) -> None:
    async with sweep_rig(source_db.dsn, tmp_path / "fw.db", table="not_there") as rig:
        result = await rig.sweeper.sweep_once()
    assert result.result == "error"
    assert rig.counter("failwatch_sweep_runs_total", result="error") == 1


async def test_only_the_lease_holder_sweeps_until_its_lease_expires(
    set_up_db: SourceDatabase, tmp_path: Path
) -> None:
    now = [1000.0]
    state = tmp_path / "shared.db"
    async with (
        sweep_rig(set_up_db.dsn, state, clock=lambda: now[0], holder="a", interval=60) as a,
        sweep_rig(set_up_db.dsn, state, clock=lambda: now[0], holder="b", interval=60) as b,
    ):
        assert (await a.sweeper.sweep_once()).result == "ok"
        assert (await b.sweeper.sweep_once()).result == "skipped"
        now[0] += 119  # a's lease (2 intervals) still runs
        assert (await b.sweeper.sweep_once()).result == "skipped"
        assert (await a.sweeper.sweep_once()).result == "ok"  # renewed until 1119 + 120
        now[0] += 121
        assert (await b.sweeper.sweep_once()).result == "ok"
        assert (await a.sweeper.sweep_once()).result == "skipped"
    assert b.counter("failwatch_sweep_runs_total", result="skipped") == 2


@pytest.mark.parametrize(("include_prompts", "expected"), [(False, None), (True, "a long prompt")])
async def test_the_sweep_reads_prompts_only_when_alerts_may_show_them(
    set_up_db: SourceDatabase, tmp_path: Path, include_prompts: bool, expected: str | None
) -> None:
    with psycopg.connect(set_up_db.dsn, autocommit=True) as conn:
        insert_generation(conn, "p1", "processing", created_ago=3 * MIN)
        fail_generation(conn, "p1", "Rate limit exceeded")
    state = tmp_path / "fw.db"
    async with sweep_rig(reader_dsn(set_up_db), state, include_prompts=include_prompts) as rig:
        assert (await rig.sweeper.sweep_once()).missed == ("p1",)
    [row] = stored_failures(state)
    assert row["prompt"] == expected
