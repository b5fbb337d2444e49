"""Failure-rate and flatline rules against a real PostgreSQL source (the guide's schema),
with generated traffic, through the sweeper, the store, the dispatcher and a notifier."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from receiver.loops.rates import RateOptions, RuleRunner, SourceRates, WebhookPath
from receiver.loops.sweep_state import StoreSweepState
from receiver.loops.sweeper import Sweeper, SweepOptions
from receiver.model import Reason
from receiver.supabase.apply import apply_setup
from receiver.supabase.pool import SourceDB
from receiver.supabase.setup_sql import webhook_sql
from tests.loops.harness import Engine, engine
from tests.store.conftest import state_url
from tests.supabase.conftest import SourceDatabase
from tests.supabase.support import (
    install_pg_net_standin,
    pg_net_worker_running,
    run_pg_net_worker,
)
from tests.supabase.sweep_support import fail_generation, insert_generation

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]
__all__ = ["state_url"]

DAY = 86400.0


def traffic(
    conn: psycopg.Connection[Any],
    model: str,
    *,
    finished: int,
    failed: int,
    ago: float,
    tag: str,
) -> None:
    """`finished` generations of `model` that ended `ago` seconds ago, `failed` of them
    failed. `tag` keeps the ids of one batch apart from the others."""
    conn.execute(
        "INSERT INTO generations (id, status, model_id, user_id, prompt, parameters, "
        "created_at, updated_at) "
        "SELECT %(tag)s || '.' || i, CASE WHEN i <= %(failed)s THEN 'failed' "
        "ELSE 'completed' END, %(model)s, 'u1', 'p', "
        "CASE WHEN i <= %(failed)s THEN '{\"error\": \"boom\"}'::jsonb ELSE '{}'::jsonb END, "
        "now() - make_interval(secs => %(ago)s + 1), now() - make_interval(secs => %(ago)s) "
        "FROM generate_series(1, %(finished)s) AS i",
        {"tag": tag, "failed": failed, "model": model, "finished": finished, "ago": ago},
    )


def set_failed(conn: psycopg.Connection[Any], tag: str, failed: int) -> None:
    """Within batch `tag`, make exactly the first `failed` rows failed (rows keep their
    time): the same window, a different failure rate."""
    conn.execute(
        "UPDATE generations SET status = CASE WHEN split_part(id, '.', 2)::int <= %s "
        "THEN 'failed' ELSE 'completed' END WHERE id LIKE %s",
        (failed, tag + ".%"),
    )


@dataclass
class RateRig:
    e: Engine
    sweeper: Sweeper

    async def sweep(self) -> None:
        self.e.clock.advance(60)
        result = await self.sweeper.sweep_once()
        assert result.result == "ok"
        await self.e.settle()

    def sent(self, category: str) -> list[Any]:
        return [n for n in self.e.recorder.sent if n.labels.get("category") == category]


@asynccontextmanager
async def rate_rig(
    db: SourceDatabase,
    tmp_path: Path,
    state_url: str | None = None,
    *,
    first_lookback: float = 0.0,
    **settings: Any,
) -> AsyncIterator[RateRig]:
    async with engine(tmp_path, state_url=state_url, group_wait=0, **settings) as e:
        source = SourceDB(db.dsn)
        runner = RuleRunner(e.store, e.metrics)
        rates = SourceRates(runner, RateOptions.from_settings(e.settings), stuck_after=600.0)
        sweeper = Sweeper(
            source=source,
            state=StoreSweepState(e.store),
            metrics=e.metrics,
            options=dataclasses.replace(SweepOptions(), first_lookback=first_lookback),
            clock=e.clock,
            holder="test",
            rates=rates,
            webhook_path=WebhookPath(runner, e.store, e.metrics),
        )
        try:
            yield RateRig(e, sweeper)
        finally:
            await source.close()


async def test_one_model_at_40_percent_fires_once_updates_and_resolves(
    source_db: SourceDatabase, tmp_path: Path, state_url: str | None
) -> None:
    with psycopg.connect(source_db.dsn, autocommit=True) as conn:
        for model in ("flux-pro", "sdxl"):
            traffic(conn, model, finished=190, failed=4, ago=DAY + 120, tag=f"y{model}")
            traffic(conn, model, finished=220, failed=4, ago=120, tag=f"n{model}")
        # A model with little traffic failing half the time: no decision either way.
        traffic(conn, "tiny", finished=6, failed=3, ago=120, tag="ntiny")
    async with rate_rig(source_db, tmp_path, state_url) as rig:
        await rig.sweep()
        assert rig.sent("failure_rate") == []

        with psycopg.connect(source_db.dsn, autocommit=True) as conn:
            set_failed(conn, "nflux-pro", 90)  # 41% of 220
        await rig.sweep()  # pending 1 of 2
        assert rig.sent("failure_rate") == []
        await rig.sweep()  # fires: within pending + 1 sweeps of the change
        [first] = rig.sent("failure_rate")
        assert first.reason is Reason.FIRST
        assert first.labels["model_id"] == "flux-pro"
        assert first.top_errors[0].message == (
            "flux-pro: 41% of 220 finished generations failed in the last 10 min "
            "(same window yesterday: 2% of 190)"
        )

        # It gets worse: the same alert is updated (new counts), not a second alert.
        with psycopg.connect(source_db.dsn, autocommit=True) as conn:
            set_failed(conn, "nflux-pro", 132)  # 60%
        rig.e.clock.advance(300)  # a group_interval, so the update may go out
        await rig.sweep()
        sent = rig.sent("failure_rate")
        assert [n.reason for n in sent] == [Reason.FIRST, Reason.NEW_FAILURES]
        assert sent[1].episode == first.episode
        assert "60% of 220" in sent[1].top_errors[0].message

        # Recovery: five calm sweeps (below half the threshold), then resolved.
        with psycopg.connect(source_db.dsn, autocommit=True) as conn:
            set_failed(conn, "nflux-pro", 4)
        for _ in range(4):
            await rig.sweep()
        assert Reason.RESOLVED not in [n.reason for n in rig.sent("failure_rate")]
        await rig.sweep()
        assert [n.reason for n in rig.sent("failure_rate")][-1] is Reason.RESOLVED
        # sdxl at 2% and tiny at 50% of 6 never alerted.
        assert {n.labels["model_id"] for n in rig.sent("failure_rate")} == {"flux-pro"}


async def test_hovering_around_the_threshold_does_not_flap(
    source_db: SourceDatabase, tmp_path: Path
) -> None:
    with psycopg.connect(source_db.dsn, autocommit=True) as conn:
        traffic(conn, "flux-pro", finished=100, failed=26, ago=120, tag="n")
    async with rate_rig(source_db, tmp_path) as rig:
        for step in range(10):
            with psycopg.connect(source_db.dsn, autocommit=True) as conn:
                set_failed(conn, "n", 26 if step % 2 == 0 else 24)
            await rig.sweep()
        reasons = [n.reason for n in rig.sent("failure_rate")]
        # 26% twice in a row never happens: 24% (elevated) breaks each pending run.
        assert reasons == []
        with psycopg.connect(source_db.dsn, autocommit=True) as conn:
            set_failed(conn, "n", 26)
        await rig.sweep()
        await rig.sweep()
        for step in range(10):
            with psycopg.connect(source_db.dsn, autocommit=True) as conn:
                set_failed(conn, "n", 26 if step % 2 == 0 else 20)
            await rig.sweep()
        # Fired once, then only updates of the one alert; 20% is above half the threshold,
        # so it never resolves meanwhile.
        sent = rig.sent("failure_rate")
        assert sent[0].reason is Reason.FIRST
        assert {n.reason for n in sent[1:]} <= {Reason.NEW_FAILURES}
        assert {n.episode for n in sent} == {sent[0].episode}


async def test_flatline_when_generations_stop_finishing(
    source_db: SourceDatabase, tmp_path: Path
) -> None:
    with psycopg.connect(source_db.dsn, autocommit=True) as conn:
        traffic(conn, "flux-pro", finished=80, failed=1, ago=DAY + 300, tag="y")
        traffic(conn, "flux-pro", finished=80, failed=1, ago=300, tag="n")
    async with rate_rig(source_db, tmp_path) as rig:
        await rig.sweep()
        assert rig.sent("flatline") == []
        with psycopg.connect(source_db.dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM generations WHERE id LIKE 'n.%'")  # nothing finishes
        await rig.sweep()
        await rig.sweep()
        flat = rig.sent("flatline")
        assert sorted(n.labels.get("model_id") or "*" for n in flat) == ["*", "flux-pro"]
        assert all(n.reason is Reason.FIRST for n in flat)
        assert any("generations stopped finishing" in n.top_errors[0].message for n in flat)
        with psycopg.connect(source_db.dsn, autocommit=True) as conn:
            traffic(conn, "flux-pro", finished=10, failed=0, ago=60, tag="back")
        await rig.sweep()
        await rig.sweep()
        assert sorted(n.reason for n in rig.sent("flatline")).count(Reason.RESOLVED) == 2


async def test_without_updated_at_the_windows_end_stuck_after_ago(
    source_db: SourceDatabase, tmp_path: Path
) -> None:
    with psycopg.connect(source_db.dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE generations DROP COLUMN updated_at CASCADE")
        conn.execute(
            "INSERT INTO generations (id, status, model_id, user_id, prompt, parameters, "
            "created_at) SELECT 'g-' || i, CASE WHEN i <= 50 THEN 'failed' ELSE 'completed' "
            "END, 'flux-pro', 'u1', 'p', '{}'::jsonb, now() - interval '12 minutes' "
            "FROM generate_series(1, 100) AS i"
        )
        # Created in the last 10 minutes: maybe not finished yet, so not counted.
        conn.execute(
            "INSERT INTO generations (id, status, model_id, user_id, prompt, parameters, "
            "created_at) SELECT 'h-' || i, 'completed', 'flux-pro', 'u1', 'p', '{}'::jsonb, "
            "now() - interval '1 minute' FROM generate_series(1, 1000) AS i"
        )
    async with rate_rig(source_db, tmp_path) as rig:
        await rig.sweep()
        await rig.sweep()
        [alert] = rig.sent("failure_rate")
        assert alert.top_errors[0].message.startswith("flux-pro: 50% of 100 finished")


def finished_indexes(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'failwatch_%finished%'"
    ).fetchall()
    return [str(row[0]) for row in rows]


def test_db_setup_failure_rate_builds_the_one_index_that_fits(source_db: SourceDatabase) -> None:
    lines: list[str] = []
    with psycopg.connect(source_db.dsn, autocommit=True) as conn:
        apply_setup(conn, reader_role=source_db.reader_role, report=lines.append)
        apply_setup(conn, reader_role=source_db.reader_role, report=lines.append, failure_rate=True)
        names = finished_indexes(conn)
        assert names == ["failwatch_generations_finished_updated_at"]
        conn.execute("DROP INDEX failwatch_generations_finished_updated_at")
        conn.execute("ALTER TABLE generations DROP COLUMN updated_at CASCADE")
        apply_setup(conn, reader_role=source_db.reader_role, report=lines.append, failure_rate=True)
        names = finished_indexes(conn)
    assert names == ["failwatch_generations_finished_created_at"]
    assert lines[-1] == "ok   index failwatch_generations_finished_created_at"


async def test_failed_pg_net_deliveries_are_swept_and_alert_once(
    set_up_db: SourceDatabase, tmp_path: Path, free_tcp_port: int
) -> None:
    install_pg_net_standin(set_up_db.dsn)
    with psycopg.connect(set_up_db.dsn, autocommit=True) as conn:
        # Nothing listens there: every delivery fails to connect.
        conn.execute(webhook_sql(url=f"http://127.0.0.1:{free_tcp_port}/hook", secret="s" * 32))
    batch = 0

    def failures_nobody_hears(count: int) -> None:
        nonlocal batch
        with psycopg.connect(set_up_db.dsn, autocommit=True) as conn:
            for _ in range(count):
                batch += 1
                insert_generation(conn, f"g{batch}", "processing", created_ago=30)
                fail_generation(conn, f"g{batch}", "CUDA out of memory")
        assert run_pg_net_worker(set_up_db.dsn) == count

    async with rate_rig(set_up_db, tmp_path, first_lookback=3600.0) as rig:
        with pg_net_worker_running(set_up_db.dsn):  # the worker runs; its sends fail
            await rig.sweep()  # nothing yet
            failures_nobody_hears(3)
            await rig.sweep()
            # The sweep found the three failures the webhook never delivered, at once.
            assert await rig.e.store.count_failures() == 3
            assert rig.sent("webhook_path") == []  # once is not yet "persist"
            assert (
                rig.e.metrics.registry.get_sample_value(
                    "failwatch_pgnet_deliveries_total", {"result": "error"}
                )
                == 3
            )
            failures_nobody_hears(2)
            await rig.sweep()
            failures_nobody_hears(2)
            await rig.sweep()
            path = rig.sent("webhook_path")
            assert [n.reason for n in path] == [Reason.FIRST]
            assert "pg_net deliveries to failwatch failed" in path[0].top_errors[0].message
            # Still failing: the one alert is updated at most, never a second one.
            for _ in range(3):
                failures_nobody_hears(1)
                rig.e.clock.advance(300)
                await rig.sweep()
            assert [n.reason for n in rig.sent("webhook_path")].count(Reason.FIRST) == 1
            assert {n.episode for n in rig.sent("webhook_path")} == {path[0].episode}


async def test_a_stopped_pg_net_worker_alerts_once_and_resolves_when_it_runs_again(
    set_up_db: SourceDatabase, tmp_path: Path
) -> None:
    install_pg_net_standin(set_up_db.dsn)
    # failwatch reads as a superuser here, who sees every process: no worker is news.
    async with rate_rig(set_up_db, tmp_path) as rig:
        await rig.sweep()
        assert rig.sent("webhook_path") == []  # pending: one sweep is not yet "persist"
        await rig.sweep()
        [alert] = rig.sent("webhook_path")
        assert alert.reason is Reason.FIRST
        assert alert.top_errors[0].message == (
            "webhook path: pg_net's worker is not running: nothing queued is sent "
            "(0 requests waiting)"
        )
        with pg_net_worker_running(set_up_db.dsn):
            for _ in range(2):
                await rig.sweep()
            assert [n.reason for n in rig.sent("webhook_path")] == [Reason.FIRST]
            await rig.sweep()  # the third calm sweep in a row: resolved
        assert [n.reason for n in rig.sent("webhook_path")] == [Reason.FIRST, Reason.RESOLVED]


async def test_who_cannot_see_other_roles_processes_reads_no_worker_as_unknown(
    set_up_db: SourceDatabase, tmp_path: Path
) -> None:
    install_pg_net_standin(set_up_db.dsn)
    role = set_up_db.reader_role
    with psycopg.connect(set_up_db.dsn, autocommit=True) as conn:
        conn.execute(f"ALTER ROLE {role} LOGIN")
        conn.execute(f"GRANT USAGE ON SCHEMA net, supabase_functions TO {role}")
        conn.execute(
            "GRANT SELECT ON net._http_response, net.http_request_queue, "
            f"supabase_functions.hooks TO {role}"
        )
    reader = dataclasses.replace(set_up_db, dsn=make_conninfo(set_up_db.dsn, user=role))
    async with rate_rig(reader, tmp_path) as rig:
        for _ in range(3):  # an old pg_net's worker would look exactly like this
            await rig.sweep()
        assert rig.sent("webhook_path") == []
        with psycopg.connect(set_up_db.dsn, autocommit=True) as conn:
            conn.execute(f"GRANT pg_read_all_stats TO {role}")
        for _ in range(2):
            await rig.sweep()
        [alert] = rig.sent("webhook_path")
        assert "pg_net's worker is not running" in alert.top_errors[0].message


async def test_without_grants_on_pg_net_the_check_is_skipped_not_the_sweep(
    set_up_db: SourceDatabase, tmp_path: Path
) -> None:
    install_pg_net_standin(set_up_db.dsn)
    with psycopg.connect(set_up_db.dsn, autocommit=True) as conn:
        conn.execute(f"ALTER ROLE {set_up_db.reader_role} LOGIN")
        insert_generation(conn, "g1", "failed", created_ago=60)
    reader = dataclasses.replace(
        set_up_db, dsn=make_conninfo(set_up_db.dsn, user=set_up_db.reader_role)
    )
    async with rate_rig(reader, tmp_path, first_lookback=3600.0) as rig:
        await rig.sweep()  # asserts the sweep's result is ok
        assert await rig.e.store.count_failures() == 1
        assert (
            rig.e.metrics.registry.get_sample_value(
                "failwatch_pgnet_deliveries_total", {"result": "ok"}
            )
            == 0
        )
