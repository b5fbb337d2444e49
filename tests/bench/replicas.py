"""Issue 7's benchmark: webhook req/s and p99 for one replica on SQLite, one on
PostgreSQL and three on PostgreSQL, side by side in one run.

All five `failwatch serve` processes run for the whole suite (the PostgreSQL ones each on
a scratch database of their own, created and dropped here), and each round drives the
three configurations in turn with the same wrk command — only the addresses differ. wrk
targets one URL, so its Lua `setup()` points each of its three threads at one replica
(`payloads.wrk_script(ports=…)`): a connection-level round-robin with one latency
histogram for all of them, where three wrk processes would give three p99s that cannot be
merged. Between runs the suite waits until the dispatchers have put every stored failure
into its group, so no run pays for the previous one's backlog.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.bench.payloads import WEBHOOK_PATH, failure_body, wrk_script
from tests.bench.pgstats import (
    STATS_DELAY,
    client_connections,
    delta,
    server_facts,
    snapshot,
)
from tests.bench.replicas_report import (
    POSTGRES_ONE,
    POSTGRES_THREE,
    SQLITE_ONE,
    Consistency,
    ReplicaRun,
    markdown,
)
from tests.bench.report import Settings, machine
from tests.bench.results import keep
from tests.bench.servers import Server, busy_cpu_seconds, counter_values, free_ports
from tests.bench.wrk import WrkResult, run_wrk
from tests.postgres import ADMIN_DSN, scratch_database

THREADS = 3  # one per replica of the largest configuration
CONNECTIONS = 33  # 11 per thread: wrk gives each thread connections / threads
SETTLE_TIMEOUT = 120.0


@dataclass
class _Deployment:
    name: str
    servers: list[Server]
    backlog: Callable[[], int]  # stored failures not yet in a group
    rows: Callable[[], int]
    database: str | None  # the PostgreSQL database, if any


def replicas_suite(tmp: Path, *, settings: Settings, pool_size: int) -> None:
    _require_postgres()
    started = dt.datetime.now(dt.UTC)
    secret = secrets.token_hex(16)
    with ExitStack() as stack:
        one_dsn = stack.enter_context(scratch_database("fw_bench_one"))
        three_dsn = stack.enter_context(scratch_database("fw_bench_three"))
        ports = free_ports(5)
        env = {"FAILWATCH_WEBHOOK_SECRET": secret, "FAILWATCH_STATE_POOL_SIZE": str(pool_size)}
        sqlite_path = tmp / "state.db"
        deployments = [
            _Deployment(
                SQLITE_ONE,
                [_server(tmp, "sqlite", ports[0], env, f"sqlite:///{sqlite_path}")],
                backlog=lambda: _sqlite_backlog(sqlite_path),
                rows=lambda: _sqlite_rows(sqlite_path),
                database=None,
            ),
            _Deployment(
                POSTGRES_ONE,
                [_server(tmp, "pg-one", ports[1], env, one_dsn)],
                backlog=lambda: _pg_backlog(one_dsn),
                rows=lambda: _pg_rows(one_dsn),
                database=_database(one_dsn),
            ),
            _Deployment(
                POSTGRES_THREE,
                [_server(tmp, f"pg-three-{i}", ports[2 + i], env, three_dsn) for i in range(3)],
                backlog=lambda: _pg_backlog(three_dsn),
                rows=lambda: _pg_rows(three_dsn),
                database=_database(three_dsn),
            ),
        ]
        for deployment in deployments:
            for server in deployment.servers:
                stack.enter_context(server)
        bench = _Bench(tmp, settings, secret)
        runs = bench.rounds(deployments)
        consistency = [_consistency(d) for d in deployments]
        postgres = server_facts(ADMIN_DSN)
        ours = client_connections(ADMIN_DSN, [_database(one_dsn), _database(three_dsn)])
    text = markdown(
        started=started,
        machine=machine(state_dir=tmp),
        postgres=postgres,
        wrk_command=f"wrk -t{THREADS} -c{CONNECTIONS} -d{settings.duration:g}s --latency",
        pool_size=pool_size,
        our_connections=ours,
        runs=runs,
        consistency=consistency,
    )
    raw = {
        "started": started.isoformat(),
        "settings": dataclasses.asdict(settings),
        "pool_size": pool_size,
        "postgres": postgres,
        "runs": [dataclasses.asdict(r) for r in runs],
        "consistency": [dataclasses.asdict(c) for c in consistency],
    }
    keep("replicas", started, text, raw)


class _Bench:
    def __init__(self, tmp: Path, settings: Settings, secret: str) -> None:
        self.tmp = tmp
        self.settings = settings
        self.secret = secret
        self._scripts = 0

    def rounds(self, deployments: list[_Deployment]) -> list[ReplicaRun]:
        for deployment in deployments:
            print(f"replicas: warm-up {deployment.name}", flush=True)
            self._wrk(deployment, self.settings.warmup)
            _settle(deployment)
        runs = []
        for round_no in range(1, self.settings.rounds + 1):
            for deployment in deployments:
                run = self._measure(deployment, round_no)
                print(
                    f"replicas: round {round_no} {deployment.name:<22} "
                    f"{run.requests_per_second:7.0f} req/s  p99 {run.p99_ms:6.2f} ms  "
                    f"errors {run.errors}  other load {run.other_cores:.2f} cores",
                    flush=True,
                )
                runs.append(run)
        return runs

    def _wrk(self, deployment: _Deployment, seconds: float) -> WrkResult:
        # A new nonce per run keeps every generation id of the whole suite distinct.
        self._scripts += 1
        script = self.tmp / f"replicas-{self._scripts}.lua"
        ports = [server.port for server in deployment.servers]
        script.write_text(
            wrk_script(failure_body(), secret=self.secret, run_nonce=self._scripts, ports=ports)
        )
        return run_wrk(
            deployment.servers[0].url + WEBHOOK_PATH,
            script,
            connections=CONNECTIONS,
            threads=THREADS,
            seconds=seconds,
        )

    def _measure(self, deployment: _Deployment, round_no: int) -> ReplicaRun:
        databases = [deployment.database] if deployment.database else []
        servers = deployment.servers
        accepted_before = [_accepted(s) for s in servers]
        cpu_before = [s.cpu_seconds() for s in servers]
        pg_before = snapshot(ADMIN_DSN, databases)
        busy_before = busy_cpu_seconds()
        result = self._wrk(deployment, self.settings.duration)
        busy = busy_cpu_seconds() - busy_before
        ended = time.monotonic()
        pg_after = snapshot(ADMIN_DSN, databases)
        cpu = [s.cpu_seconds() - before for s, before in zip(servers, cpu_before, strict=True)]
        accepted = [_accepted(s) - a for s, a in zip(servers, accepted_before, strict=True)]
        backlog_seconds = _settle(deployment)
        if databases:
            time.sleep(max(0.0, ended + STATS_DELAY - time.monotonic()))
        pg = delta(pg_before, pg_after, counters=snapshot(ADMIN_DSN, databases))
        seconds = result.seconds
        other = busy - sum(cpu) - pg.backend_cpu - pg.background_cpu - result.wrk_cpu_seconds
        return ReplicaRun(
            configuration=deployment.name,
            round=round_no,
            requests=result.requests,
            seconds=seconds,
            requests_per_second=result.requests_per_second,
            p50_ms=result.p50_ms,
            p90_ms=result.p90_ms,
            p99_ms=result.p99_ms,
            max_ms=result.max_ms,
            errors=result.error_count,
            replica_cores=[c / seconds for c in cpu],
            pg_backend_cores=pg.backend_cpu / seconds,
            pg_background_cores=pg.background_cpu / seconds,
            wrk_cores=result.wrk_cpu_seconds / seconds,
            other_cores=other / seconds,
            accepted_by_replica=accepted,
            commits=pg.commits,
            wal_syncs=pg.wal_syncs,
            wal_bytes=pg.wal_bytes,
            backlog_seconds=backlog_seconds,
        )


def _server(tmp: Path, name: str, port: int, env: dict[str, str], state_url: str) -> Server:
    return Server(
        f"failwatch serve ({name})",
        ["-m", "receiver", "serve", "--host", "127.0.0.1", "--port", str(port)],
        port=port,
        log_path=tmp / f"{name}.log",
        env={**env, "FAILWATCH_STATE_URL": state_url},
    )


def _require_postgres() -> None:
    try:
        with psycopg.connect(ADMIN_DSN, connect_timeout=3):
            return
    except psycopg.Error as exc:
        raise SystemExit(
            f"the replicas suite needs PostgreSQL at {ADMIN_DSN} "
            f"(TEST_POSTGRES_DSN): {type(exc).__name__}"
        ) from None


def _database(dsn: str) -> str:
    return dsn.rpartition("/")[2]


def _accepted(server: Server) -> int:
    outcomes = counter_values(server.url + "/metrics", "failwatch_webhook_events", "outcome")
    return int(outcomes.get("accepted", 0))


def _settle(deployment: _Deployment) -> float:
    """Wait until the dispatchers have absorbed every stored failure; how long it took."""
    started = time.monotonic()
    while deployment.backlog() > 0:
        if time.monotonic() - started > SETTLE_TIMEOUT:
            raise RuntimeError(f"{deployment.name}: the dispatcher never caught up")
        time.sleep(0.1)
    return time.monotonic() - started


def _consistency(deployment: _Deployment) -> Consistency:
    totals: dict[str, float] = {}
    for server in deployment.servers:
        outcomes = counter_values(server.url + "/metrics", "failwatch_webhook_events", "outcome")
        for outcome, count in outcomes.items():
            totals[outcome] = totals.get(outcome, 0.0) + count
    return Consistency(
        configuration=deployment.name,
        accepted=int(totals.get("accepted", 0)),
        duplicates=int(totals.get("duplicate", 0)),
        rejected=int(sum(v for k, v in totals.items() if k not in ("accepted", "duplicate"))),
        rows=deployment.rows(),
    )


@contextlib.contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        yield conn


_BACKLOG = (
    "SELECT coalesce((SELECT max(seq) FROM {schema}failures), 0) - last_seq "
    "FROM {schema}dispatch_cursor"
)


def _sqlite_backlog(path: Path) -> int:
    with _sqlite(path) as conn:
        return int(conn.execute(_BACKLOG.format(schema="")).fetchone()[0])


def _sqlite_rows(path: Path) -> int:
    with _sqlite(path) as conn:
        return int(conn.execute("SELECT count(*) FROM failures").fetchone()[0])


def _pg_backlog(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(_BACKLOG.format(schema="failwatch.")).fetchone()
    return int(row[0]) if row else 0


def _pg_rows(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM failwatch.failures").fetchone()
    return int(row[0]) if row else 0
