"""What the replicas benchmark found, and its markdown block.

Each round measures the three configurations seconds apart, so they share the
background load of that moment; the summary takes the median of the rounds.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

SQLITE_ONE = "1 replica, SQLite"
POSTGRES_ONE = "1 replica, PostgreSQL"
POSTGRES_THREE = "3 replicas, PostgreSQL"
CONFIGURATIONS = (SQLITE_ONE, POSTGRES_ONE, POSTGRES_THREE)


@dataclass(frozen=True, slots=True)
class ReplicaRun:
    configuration: str
    round: int
    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    # Average cores busy during the run.
    replica_cores: list[float]
    pg_backend_cores: float  # the backends serving this configuration's database
    pg_background_cores: float  # walwriter, checkpointer, … (the whole server's)
    wrk_cores: float
    other_cores: float
    accepted_by_replica: list[int]
    commits: int  # in this configuration's database
    wal_syncs: int  # the whole server's
    wal_bytes: int
    backlog_seconds: float  # after the run, until every failure was in its group

    @property
    def per_request(self) -> float:
        return 1.0 / self.requests if self.requests else 0.0


@dataclass(frozen=True, slots=True)
class Consistency:
    configuration: str
    accepted: int
    duplicates: int
    rejected: int
    rows: int

    @property
    def ok(self) -> bool:
        return self.rows == self.accepted and self.duplicates == 0 and self.rejected == 0


def _median(values: Sequence[float], fmt: str) -> str:
    middle = statistics.median(values)
    if len(values) == 1:
        return format(middle, fmt)
    return f"{middle:{fmt}} ({min(values):{fmt}} to {max(values):{fmt}})"


def _of(runs: Sequence[ReplicaRun], configuration: str) -> list[ReplicaRun]:
    return [r for r in runs if r.configuration == configuration]


def markdown(
    *,
    started: dt.datetime,
    machine: dict[str, str],
    postgres: dict[str, str],
    wrk_command: str,
    pool_size: int,
    our_connections: int,
    runs: Sequence[ReplicaRun],
    consistency: Sequence[Consistency],
) -> str:
    lines = [
        f"### Replicas run of {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"- Machine: {machine['cores']} cores ({machine['cpu']}), Linux {machine['kernel']}, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}, wrk {machine['wrk']}; "
        f"uvicorn {machine['uvicorn']} ({machine['loop']}, {machine['http']}), one process "
        "per replica.",
        f"- PostgreSQL {postgres['server_version']} on the same machine and cores: "
        f"synchronous_commit={postgres['synchronous_commit']}, fsync={postgres['fsync']}, "
        f"wal_sync_method={postgres['wal_sync_method']}, "
        f"commit_delay={postgres['commit_delay']}, "
        f"shared_buffers={postgres['shared_buffers']}; "
        f"max_connections={postgres['max_connections']} "
        f"({postgres['superuser_reserved_connections']} reserved for superusers).",
        f"- Pool: FAILWATCH_STATE_POOL_SIZE={pool_size} per replica (one worker thread per "
        f"connection), so at most {pool_size} on one replica and {3 * pool_size} on three; "
        f"connections open to the two benchmark databases after the runs: {our_connections}; "
        f"client connections on the whole server then: {postgres['client_connections_now']}.",
        f"- Load: `{wrk_command}`: one wrk process whose three threads each keep 11 "
        "connections to one replica (thread k → replica k mod n), a new generation id per "
        "request (distinct failures, every one committed before its 202).",
        "",
        "| round | configuration | req/s | p50 ms | p99 ms | max ms | errors "
        "| cores: replicas / PG backends / PG background / wrk / other "
        "| commits/s | WAL flushes/s | accepted per replica | backlog absorbed after |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: |",
    ]
    for r in runs:
        replicas = " + ".join(f"{c:.2f}" for c in r.replica_cores)
        lines.append(
            f"| {r.round} | {r.configuration} | {r.requests_per_second:.0f} | {r.p50_ms:.2f} "
            f"| {r.p99_ms:.2f} | {r.max_ms:.1f} | {r.errors} "
            f"| {replicas} / {r.pg_backend_cores:.2f} / {r.pg_background_cores:.2f} "
            f"/ {r.wrk_cores:.2f} / {r.other_cores:.2f} "
            f"| {_rate(r.commits, r)} | {_rate(r.wal_syncs, r)} "
            f"| {' / '.join(str(a) for a in r.accepted_by_replica)} "
            f"| {r.backlog_seconds:.1f} s |"
        )
    lines += ["", *_summary(runs), "", *_consistency(consistency)]
    return "\n".join(lines) + "\n"


def _summary(runs: Sequence[ReplicaRun]) -> list[str]:
    base = {r.round: r.requests_per_second for r in _of(runs, SQLITE_ONE)}
    rows = [
        "Median of the rounds (lowest to highest round in brackets):",
        "",
        "| configuration | req/s | p99 ms | req/s vs SQLite | cores: failwatch / PG "
        "(backends + background) / wrk / other | PG commits per request "
        "| WAL flushes per request |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for name in CONFIGURATIONS:
        mine = _of(runs, name)
        if not mine:
            continue
        ratio = [r.requests_per_second / base[r.round] for r in mine if base.get(r.round)]
        failwatch = statistics.median(sum(r.replica_cores) for r in mine)
        postgres = statistics.median(r.pg_backend_cores + r.pg_background_cores for r in mine)
        wrk = statistics.median(r.wrk_cores for r in mine)
        other = statistics.median(r.other_cores for r in mine)
        commits = statistics.median(r.commits * r.per_request for r in mine)
        syncs = statistics.median(r.wal_syncs * r.per_request for r in mine)
        on_postgres = name != SQLITE_ONE
        rows.append(
            f"| {name} | {_median([r.requests_per_second for r in mine], '.0f')} "
            f"| {_median([r.p99_ms for r in mine], '.2f')} "
            f"| {_median(ratio, '.2f') if ratio else '—'} "
            f"| {failwatch:.2f} / {postgres:.2f} / {wrk:.2f} / {other:.2f} "
            f"| {f'{commits:.2f}' if on_postgres else '—'} "
            f"| {f'{syncs:.2f}' if on_postgres else '—'} |"
        )
    return rows


def _rate(count: int, run: ReplicaRun) -> str:
    """Per second, for the PostgreSQL configurations (on SQLite, PostgreSQL's counters
    only show what other databases did)."""
    return "—" if run.configuration == SQLITE_ONE else f"{count / run.seconds:.0f}"


def _consistency(checks: Sequence[Consistency]) -> list[str]:
    return [
        f"- {c.configuration}: rows stored {c.rows:,}; accepted {c.accepted:,}; duplicates "
        f"{c.duplicates}; rejected {c.rejected} → "
        f"{'consistent' if c.ok else '**INCONSISTENT**'}."
        for c in checks
    ]
