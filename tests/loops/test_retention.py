"""Retention against a real store (SQLite and PostgreSQL): old rows go, in batches; what
is open or owed stays whatever its age; a dry run counts and deletes nothing."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from receiver.engine.matchers import Matcher
from receiver.engine.retention import DAY, RetentionPolicy
from receiver.engine.silences import SilenceRequest
from receiver.loops import silences
from receiver.loops.pruner import Pruner, prune_once
from receiver.store import outbox
from receiver.store import retention as stored
from receiver.store.sqlite_conn import incremental_vacuum_on
from tests.loops.harness import Engine, engine

pytestmark = pytest.mark.anyio

STEPS_A_DAY = 6  # the clock moves 4 h at a time: each step flushes every group
POLICY = RetentionPolicy(
    failures=30 * DAY,
    notifications=14 * DAY,
    dead_letters=30 * DAY,
    incidents=90 * DAY,
    silences=90 * DAY,
)
TIMINGS: dict[str, Any] = {"group_wait": "30s", "group_interval": "5m", "resolve_after": "30m"}


async def rows(e: Engine) -> dict[str, int]:
    return {t.table: t.rows for t in await e.store.read(stored.stats)}


async def resolved_incident(e: Engine, model: str) -> None:
    """A group that failed, was notified, went quiet and resolved."""
    await e.fail(model=model)
    e.clock.advance(30)
    await e.settle()
    e.clock.advance(1800)
    await e.settle()


async def test_old_rows_go_and_open_or_owed_ones_stay(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url, **TIMINGS) as e:
        await resolved_incident(e, "old-model")  # resolved, but not 90 days ago yet
        await silences.create(
            e.store,
            SilenceRequest(
                matchers=(Matcher.parse("model_id=held-model"),),
                ends_at=e.clock() + 89 * DAY,
                comment="long outage",
                author="oncall",
            ),
            now=e.clock(),
        )
        await e.fail(model="held-model")
        await e.settle()
        # An incident open for the whole time: failing every day, never quiet.
        for _ in range(60):
            await e.fail(model="open-model")
            e.clock.advance(DAY)
            await e.settle()
        before = await rows(e)
        report = await prune_once(e.store, POLICY, now=e.clock(), batch=7)
        after = await rows(e)

        # Failures older than 30 days went, except the one a silence still holds.
        assert report.deleted["failures"] == before["failures"] - after["failures"] == 31
        ids = await e.store.read(
            lambda tx: [r[0] for r in tx.fetchall("SELECT model_id FROM failures")]
        )
        assert ids.count("held-model") == 1  # held: owed to its group
        assert ids.count("open-model") == 30  # the last 30 days
        assert ids.count("old-model") == 0
        # Incidents stay: the open one, and the resolved one younger than 90 days.
        models = await e.store.read(
            lambda tx: sorted(
                json.loads(r[0])["model_id"] for r in tx.fetchall("SELECT labels FROM groups")
            )
        )
        assert models == ["held-model", "old-model", "open-model"]
        episode = await e.store.read(
            lambda tx: tx.fetchone(
                "SELECT episode_failures FROM groups WHERE labels LIKE '%open-model%'"
            )
        )
        assert episode is not None
        assert episode[0] == 60  # the incident's counts survive its failures
        # Sent notifications older than 14 days went; nothing pending was touched.
        sent = await e.store.read(lambda tx: outbox.list_rows(tx, status="sent", limit=1000))
        assert all(e.clock() - r.created_at < 15 * DAY for r in sent)
        assert await e.store.read(lambda tx: outbox.list_rows(tx, status="pending", limit=9)) == []


async def test_a_dry_run_counts_what_a_prune_deletes_and_deletes_nothing(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url, **TIMINGS) as e:
        for model in ("a", "b", "c"):
            await resolved_incident(e, model)
        e.clock.advance(91 * DAY)
        before = await rows(e)
        dry = await prune_once(e.store, POLICY, now=e.clock(), dry_run=True)
        assert await rows(e) == before
        real = await prune_once(e.store, POLICY, now=e.clock(), batch=2)
        assert real.deleted == dry.deleted
        assert real.deleted["groups"] == 3
        assert real.deleted["failures"] == 3
        assert (await rows(e))["groups"] == 0


async def test_unsent_and_undispatched_rows_stay_whatever_their_age(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url, **TIMINGS) as e:
        await e.fail(model="late")  # stored, never dispatched
        e.clock.advance(365 * DAY)
        report = await prune_once(e.store, POLICY, now=e.clock())
        assert report.total == 0
        await e.dispatcher.pass_once()
        e.clock.advance(3600)
        await e.dispatcher.pass_once()  # first and resolved, in the outbox, never delivered
        e.clock.advance(365 * DAY)
        await prune_once(e.store, POLICY, now=e.clock())
        pending = await e.store.read(lambda tx: outbox.list_rows(tx, status="pending", limit=9))
        assert [r.notification.reason.value for r in pending] == ["resolved", "first"]
        assert (await rows(e))["groups"] == 1  # what still owes a message is kept


async def test_one_pruner_at_a_time_and_metrics(tmp_path: Path, state_url: str | None) -> None:
    async with engine(tmp_path, state_url=state_url, **TIMINGS) as e:
        await resolved_incident(e, "x")
        e.clock.advance(91 * DAY)
        first, second = (
            Pruner(store=e.store, policy=POLICY, interval=600, metrics=e.metrics, clock=e.clock)
            for _ in range(2)
        )
        report = await first.pass_once()
        assert report is not None
        assert report.deleted["groups"] == 1
        assert await second.pass_once() is None  # the lease is the first one's
        stop = asyncio.Event()
        stop.set()
        await first.run(stop)  # stopping hands the lease back
        assert await second.pass_once() is not None
        text = e.metrics.registry.get_sample_value("failwatch_pruned_total", {"table": "groups"})
        assert text == 1.0
        assert (
            e.metrics.registry.get_sample_value("failwatch_store_rows", {"table": "groups"}) == 0.0
        )


async def test_the_sqlite_file_shrinks(tmp_path: Path) -> None:
    async with engine(tmp_path, **TIMINGS) as e:
        for i in range(3000):
            await e.fail(model=f"m{i % 3}", error="x" * 400 + str(i))
        await e.settle()
        path = tmp_path / "fw.db"
        e.clock.advance(120 * DAY)
        await e.settle()
        checkpoint(path)
        grown = path.stat().st_size
        report = await prune_once(e.store, POLICY, now=e.clock())
        checkpoint(path)
        assert report.deleted["failures"] == 3000
        assert report.pages_freed > 100
        assert path.stat().st_size < grown / 2


def checkpoint(path: Path) -> None:
    """Fold the WAL into the file, so its size says what the database holds."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_an_old_file_is_switched_to_incremental_vacuum(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert incremental_vacuum_on(str(path)) is True
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    assert incremental_vacuum_on(str(path)) is False  # once is enough


async def test_thirty_days_with_retention_level_off_and_keep_the_open_incident(
    tmp_path: Path, state_url: str | None
) -> None:
    """A clock-driven month: steady failures on rotating models, a burst every day, one
    model failing all month long. With a week's retention the tables stop growing after
    the first week, and the incident open all month keeps every row it has."""
    policy = RetentionPolicy(
        failures=7 * DAY,
        notifications=3 * DAY,
        dead_letters=7 * DAY,
        incidents=10 * DAY,
        silences=10 * DAY,
    )
    sizes: list[dict[str, int]] = []
    # Quiet for 6 h resolves: the model failing every 4 h stays one open incident.
    timings = {**TIMINGS, "resolve_after": "6h"}
    async with engine(tmp_path, state_url=state_url, **timings) as e:
        for day in range(30):
            for step in range(STEPS_A_DAY):
                await e.fail(model="always-failing", user=f"u{step}")
                await e.fail(model=f"model-{day}-{step % 3}")
                if step == STEPS_A_DAY // 2:  # the daily burst
                    for i in range(20):
                        await e.fail(model=f"burst-{day}", error=f"Out of memory #{i}")
                e.clock.advance(DAY / STEPS_A_DAY - 60)
                await e.settle()
                e.clock.advance(60)  # a minute for the rate limit to let the rest through
                await e.settle()
            await prune_once(e.store, policy, now=e.clock(), batch=50)
            sizes.append(await rows(e))
        pending = await e.store.read(lambda tx: outbox.list_rows(tx, status="pending", limit=9))
        assert pending == []  # everything owed was sent: what is left is retention's
        open_incident = await e.store.read(
            lambda tx: tx.fetchone(
                "SELECT episode, episode_failures, status FROM groups "
                "WHERE labels LIKE '%always-failing%'"
            )
        )
        users = await e.store.read(
            lambda tx: tx.fetchone(
                "SELECT count(*) FROM group_users u JOIN groups g ON g.group_key = u.group_key "
                "WHERE g.labels LIKE '%always-failing%'"
            )
        )
    # The open incident: one episode, every failure counted, every user remembered.
    assert open_incident is not None
    assert tuple(open_incident) == (1, 30 * STEPS_A_DAY, "open")
    assert users is not None
    assert users[0] == STEPS_A_DAY
    # Every table levels off: the last week is no bigger than the second.
    for table in ("failures", "groups", "group_errors", "outbox", "threads"):
        week_two = max(s[table] for s in sizes[7:14])
        last_week = max(s[table] for s in sizes[23:30])
        assert last_week <= week_two * 1.1 + 5, (table, week_two, last_week)
    # ...and is bounded by what retention keeps: a week of failures, give or take a day.
    assert sizes[-1]["failures"] <= 8 * (STEPS_A_DAY * 2 + 20)
