"""What PostgreSQL did during a run: CPU of the backends serving failwatch's databases and
of the server's background processes, commits, and WAL flushes.

Backends are found through `pg_stat_activity` and timed through /proc (the server runs on
this machine). Counters are cumulative, so a run is the difference of snapshots; backends report
their commits and WAL statistics late (see `STATS_DELAY`), so the counters are read
again once that has passed. The WAL counters (`pg_stat_wal`) are the whole server's: other
databases on it count too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from tests.bench.servers import process_cpu_seconds

# A backend reports its statistics at most once a second; one that goes idle with some
# unreported waits for PGSTAT_IDLE_INTERVAL (10 s) before it does (1.5 s after a run,
# fewer commits than accepted failures had been counted).
STATS_DELAY = 11.0


@dataclass(frozen=True, slots=True)
class PgSnapshot:
    backend_cpu: dict[int, float]  # client backends connected to our databases
    background_cpu: dict[int, float]  # walwriter, checkpointer, autovacuum, …
    commits: int  # xact_commit of our databases
    wal_syncs: int
    wal_bytes: int


@dataclass(frozen=True, slots=True)
class PgDelta:
    backend_cpu: float
    background_cpu: float
    commits: int
    wal_syncs: int
    wal_bytes: int


def snapshot(admin_dsn: str, databases: Sequence[str]) -> PgSnapshot:
    names = list(databases)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        activity = conn.execute(
            "SELECT pid, backend_type, datname FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
        ).fetchall()
        commits = conn.execute(
            "SELECT coalesce(sum(xact_commit), 0) FROM pg_stat_database WHERE datname = ANY(%s)",
            (names,),
        ).fetchone()
        wal = conn.execute("SELECT wal_sync, wal_bytes FROM pg_stat_wal").fetchone()
    backends, background = {}, {}
    for pid, kind, database in activity:
        seconds = process_cpu_seconds(int(pid))
        if seconds is None:
            continue
        if kind == "client backend" and database in names:
            backends[int(pid)] = seconds
        elif kind != "client backend":
            background[int(pid)] = seconds
    return PgSnapshot(
        backend_cpu=backends,
        background_cpu=background,
        commits=int(commits[0]) if commits else 0,
        wal_syncs=int(wal[0]) if wal else 0,
        wal_bytes=int(wal[1]) if wal else 0,
    )


def delta(before: PgSnapshot, after: PgSnapshot, *, counters: PgSnapshot) -> PgDelta:
    """CPU from `before` to `after` (the run's end); commits and WAL to `counters`, a
    snapshot taken more than a second later, once every backend has reported them."""
    return PgDelta(
        backend_cpu=_cpu(before.backend_cpu, after.backend_cpu),
        background_cpu=_cpu(before.background_cpu, after.background_cpu),
        commits=counters.commits - before.commits,
        wal_syncs=counters.wal_syncs - before.wal_syncs,
        wal_bytes=counters.wal_bytes - before.wal_bytes,
    )


def _cpu(before: dict[int, float], after: dict[int, float]) -> float:
    # A process that appeared during the run counts from zero; one that ended is lost.
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def server_facts(admin_dsn: str) -> dict[str, str]:
    """The settings that decide what a commit costs and how many connections fit."""
    names = (
        "server_version",
        "max_connections",
        "superuser_reserved_connections",
        "synchronous_commit",
        "fsync",
        "wal_sync_method",
        "commit_delay",
        "shared_buffers",
    )
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        facts = {}
        for name in names:
            row = conn.execute(f"SHOW {name}").fetchone()
            facts[name] = str(row[0]) if row else "?"
        in_use = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        ).fetchone()
    facts["client_connections_now"] = str(in_use[0]) if in_use else "?"
    return facts


def client_connections(admin_dsn: str, databases: Sequence[str]) -> int:
    """Client connections open to `databases` right now."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND datname = ANY(%s)",
            (list(databases),),
        ).fetchone()
    return int(row[0]) if row else 0
