"""Issue 18's benchmark: does a webhook, a dispatcher tick, a query or a prune pass cost
more as the store grows?

For each store kind and size, the store is preloaded with that many failures spread over
90 days (200 models by 5 categories, 1,000 groups of which 50 open, a notification per 100
failures), then:
- webhook: wrk with distinct failures against `failwatch serve` with retention off —
  req/s, p50, p99 and the server's CPU per request;
- dispatcher: in-process, the time of an idle pass and of a pass absorbing 200 failures;
- queries: the admin API's outbox listing and silences listing, `store stats`;
- prune: `failwatch serve` with the default retention prunes the two thirds older than
  30 days at start; wrk runs meanwhile (p99 during the prune), and again after it;
- bytes per failure (file or table size over rows).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import secrets
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from receiver.config.settings import load_settings
from receiver.loops.dispatcher import Dispatcher
from receiver.loops.silences import listing
from receiver.model import ErrorCount, Notification, Reason
from receiver.notifiers.registry import specs_by_receiver
from receiver.store import open_store, outbox
from receiver.store import retention as stored
from tests.bench.payloads import WEBHOOK_PATH, failure_body, wrk_script
from tests.bench.report import machine
from tests.bench.results import keep
from tests.bench.servers import Server, counter_values, free_ports
from tests.bench.wrk import WrkResult, run_wrk
from tests.postgres import scratch_database

DAY = 86400.0
MODELS = [f"model-{i:03d}" for i in range(200)]
CATEGORIES = ["rate_limit", "timeout", "model_error", "provider_unavailable", "quota"]
WRK_SECONDS = 10.0
CONNECTIONS = 16


@dataclass
class Row:
    kind: str
    size: int
    preload_s: float = 0.0
    bytes_per_failure: float = 0.0
    webhook: dict[str, float] = field(default_factory=dict)
    dispatcher_ms: dict[str, float] = field(default_factory=dict)
    queries_ms: dict[str, float] = field(default_factory=dict)
    prune: dict[str, float] = field(default_factory=dict)
    plans: dict[str, str] = field(default_factory=dict)


def growth_suite(tmp: Path, *, sizes: Sequence[int], kinds: Sequence[str]) -> None:
    started = dt.datetime.now(dt.UTC)
    rows = []
    for kind in kinds:
        for size in sizes:
            with _state(tmp, kind, size) as url:
                row = Row(kind, size)
                began = time.perf_counter()
                _preload(url, size)
                row.preload_s = time.perf_counter() - began
                row.bytes_per_failure = _bytes(url) / size
                row.webhook = _webhooks(tmp, url, retention="3650d")
                row.dispatcher_ms, row.queries_ms = asyncio.run(_in_process(url))
                row.plans = _plans(url)
                row.prune = _prune_under_load(tmp, url)
                rows.append(row)
                print(json.dumps(asdict(row)), flush=True)
    text = _markdown(rows, machine(state_dir=tmp))
    print(text)
    keep("growth", started, text, [asdict(r) for r in rows])


@contextmanager
def _state(tmp: Path, kind: str, size: int) -> Iterator[str]:
    if kind == "sqlite":
        path = tmp / f"growth-{size}.db"
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    with scratch_database("fw_growth") as dsn:
        yield dsn


def _preload(url: str, size: int) -> None:
    """Migrate through failwatch itself, then bulk-load rows shaped like a real store."""

    async def migrate() -> None:
        store = open_store(url)
        await store.open()
        await store.close()

    asyncio.run(migrate())
    now = time.time()
    rng = random.Random(18)
    start = now - 90 * DAY
    step = 90 * DAY / size

    def failures() -> Iterator[tuple[Any, ...]]:
        for i in range(size):
            model, category = MODELS[i % 200], CATEGORIES[i % 5]
            labels = json.dumps({"category": category, "model_id": model, "status": "failed"})
            yield (
                f"key-{i}",
                f"gen-{i}",
                "failed",
                "webhook",
                category,
                f"fp-{category}-{i % 7}",
                f"Request {rng.getrandbits(40):x} failed: {category} after {i % 997} ms",
                "ProviderError",
                model,
                f"user-{i % 10_000}",
                labels,
                start + i * step,
            )

    groups, errors, users, sent = _engine_rows(now, size)
    if url.startswith("sqlite:///"):
        _sqlite_load(url.removeprefix("sqlite:///"), failures(), groups, errors, users, sent)
    else:
        _pg_load(url, failures(), groups, errors, users, sent)


_FAILURE_COLUMNS = (
    "idempotency_key, generation_id, kind, source, category, fingerprint, message, "
    "error_type, model_id, user_id, labels, received_at"
)


def _engine_rows(now: float, size: int) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    groups: list[Any] = []
    errors: list[Any] = []
    users: list[Any] = []
    sent: list[Any] = []
    for g in range(1000):
        key = f"{g:024x}"
        resolved = g >= 50
        last = now - (g / 1000) * 90 * DAY
        labels = json.dumps({"category": CATEGORIES[g % 5], "model_id": MODELS[g % 200]})
        groups.append(
            (
                key,
                "root",
                "default",
                labels,
                1,
                "resolved" if resolved else "open",
                last - 3600,
                last - 3600,
                last,
                last,
                50,
                0,
                2,
                None if resolved else last + 300,
            )
        )
        errors.extend((key, 1, f"fp{e}", f"error {e}", 10, 0, 1) for e in range(3))
        users.extend((key, 1, f"user-{u}") for u in range(20))
    payload = Notification(
        id="n",
        receiver="default",
        group_key="0" * 24,
        episode=1,
        sequence=1,
        reason=Reason.FIRST,
        labels={"category": "timeout", "model_id": "model-000"},
        window_failures=50,
        episode_failures=50,
        users_affected=20,
        first_seen=now,
        last_seen=now,
        created_at=now,
        top_errors=tuple(
            ErrorCount(fingerprint=f"fp{e}", message=f"Request failed: error {e} " * 4, count=10)
            for e in range(3)
        ),
    ).model_dump_json()
    for n in range(max(1, size // 100)):
        at = now - 90 * DAY * n / max(1, size // 100)
        sent.append(
            (
                f"n{n}",
                f"{n % 1000:024x}:1:console",
                "default",
                "console",
                "console",
                payload,
                "sent",
                1,
                at,
                at,
                at,
            )
        )
    return groups, errors, users, sent


_GROUPS = (
    "INSERT INTO groups (group_key, route_id, receiver, labels, episode, status, opened_at, "
    "first_seen, last_seen, last_active, episode_failures, pending, flushes, due_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ERRORS = (
    "INSERT INTO group_errors (group_key, episode, fingerprint, message, count, pending, "
    "notified) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_USERS = "INSERT INTO group_users (group_key, episode, user_id) VALUES (?, ?, ?)"
_OUTBOX = (
    "INSERT INTO outbox (notification_id, stream, receiver, integration, destination, "
    "payload, status, attempts, created_at, due_at, sent_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _sqlite_load(path: str, failures: Iterator[Any], *engine: list[Any]) -> None:
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA synchronous=OFF")  # a preload, not a durability test
        conn.execute("BEGIN")
        conn.executemany(
            f"INSERT INTO failures ({_FAILURE_COLUMNS}) VALUES ({', '.join('?' * 12)})",  # noqa: S608
            failures,
        )
        for sql, values in zip((_GROUPS, _ERRORS, _USERS, _OUTBOX), engine, strict=True):
            conn.executemany(sql, values)
        conn.execute("UPDATE dispatch_cursor SET last_seq = (SELECT max(seq) FROM failures)")
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _pg_load(dsn: str, failures: Iterator[Any], *engine: list[Any]) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET search_path TO failwatch")
        with conn.cursor().copy(f"COPY failures ({_FAILURE_COLUMNS}) FROM STDIN") as copy:
            for row in failures:
                copy.write_row(row)
        with conn.cursor() as cur:
            for sql, values in zip((_GROUPS, _ERRORS, _USERS, _OUTBOX), engine, strict=True):
                cur.executemany(sql.replace("?", "%s"), values)
        conn.execute("UPDATE dispatch_cursor SET last_seq = (SELECT max(seq) FROM failures)")
        conn.execute("ANALYZE")


def _bytes(url: str) -> int:
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).stat().st_size
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_total_relation_size('failwatch.failures')").fetchone()
        assert row is not None
        return int(row[0])


def _serve(tmp: Path, url: str, port: int, secret: str, **env: str) -> Server:
    return Server(
        "failwatch",
        ["-m", "receiver", "serve", "--port", str(port)],
        port=port,
        log_path=tmp / f"serve-{port}.log",
        env={"FAILWATCH_STATE_URL": url, "FAILWATCH_WEBHOOK_SECRET": secret, **env},
    )


def _wrk(tmp: Path, server: Server, secret: str) -> WrkResult:
    script = tmp / "growth.lua"
    body = failure_body()
    script.write_text(wrk_script(body, secret=secret, run_nonce=secrets.randbelow(10**9)))
    return run_wrk(
        server.url + WEBHOOK_PATH, script, connections=CONNECTIONS, threads=2, seconds=WRK_SECONDS
    )


def _figures(result: WrkResult, cpu: float) -> dict[str, float]:
    return {
        "req_s": round(result.requests_per_second, 1),
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "cpu_us_per_request": round(cpu / max(1, result.requests) * 1e6, 1),
        "errors": float(result.error_count),
    }


def _webhooks(tmp: Path, url: str, *, retention: str) -> dict[str, float]:
    secret = secrets.token_hex(8)
    (port,) = free_ports(1)
    with _serve(tmp, url, port, secret, FAILWATCH_RETENTION__FAILURES=retention) as server:
        _wrk(tmp, server, secret)  # warm-up
        before = server.cpu_seconds()
        result = _wrk(tmp, server, secret)
        return _figures(result, server.cpu_seconds() - before)


def _prune_under_load(tmp: Path, url: str) -> dict[str, float]:
    secret = secrets.token_hex(8)
    (port,) = free_ports(1)
    with _serve(tmp, url, port, secret) as server:
        began = time.perf_counter()
        before = server.cpu_seconds()
        during = _wrk(tmp, server, secret)
        figures = {
            f"during_{k}": v for k, v in _figures(during, server.cpu_seconds() - before).items()
        }
        metrics = server.url + "/metrics"
        total = _pruned(metrics)
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:  # done when two readings a second apart agree
            time.sleep(1.0)
            again = _pruned(metrics)
            if again == total and again > 0 and "pruned" in server.log_path.read_text():
                break
            total = again
        else:
            raise RuntimeError(f"the prune pass did not end within an hour; see {server.log_path}")
        figures["prune_s"] = round(time.perf_counter() - began, 1)
        figures["pruned_rows"] = total
        before = server.cpu_seconds()
        after = _wrk(tmp, server, secret)
        figures |= {
            f"after_{k}": v for k, v in _figures(after, server.cpu_seconds() - before).items()
        }
        return figures


def _pruned(metrics_url: str) -> float:
    return sum(counter_values(metrics_url, "failwatch_pruned", "table").values())


# The statements on the webhook's and the loops' paths, with typical parameters.
HOT_PATH = {
    "insert failure (conflict on the key)": (
        "SELECT 1 FROM failures WHERE idempotency_key = ?",
        ("key-5",),
    ),
    "dispatcher: new failures": (
        "SELECT seq FROM failures WHERE seq > ? ORDER BY seq LIMIT ?",
        (10, 500),
    ),
    "dispatcher: due groups": (
        "SELECT group_key FROM groups WHERE status = 'open' AND due_at <= ? "
        "ORDER BY due_at LIMIT ?",
        (0.0, 100),
    ),
    "dispatcher: silenced failures due": (
        "SELECT group_key, seq FROM held WHERE until <= ? ORDER BY until, seq LIMIT ?",
        (0.0, 1000),
    ),
    "delivery: claim": (
        "SELECT o.id FROM outbox o WHERE o.status = 'pending' AND o.due_at <= ? "
        "ORDER BY o.due_at, o.id LIMIT ?",
        (0.0, 32),
    ),
    "pruner: oldest failures": (
        "SELECT f.seq FROM failures f WHERE f.received_at < ? ORDER BY f.received_at LIMIT ?",
        (0.0, 500),
    ),
}


def _plans(url: str) -> dict[str, str]:
    """EXPLAIN of each hot-path statement on the loaded store (one line each)."""
    found = {}
    if url.startswith("sqlite:///"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            for name, (sql, params) in HOT_PATH.items():
                rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
                found[name] = "; ".join(str(r[-1]) for r in rows)
        return found
    with psycopg.connect(url) as conn:
        conn.execute("SET search_path TO failwatch")
        for name, (sql, params) in HOT_PATH.items():
            rows = conn.execute(f"EXPLAIN {sql.replace('?', '%s')}", params).fetchall()
            found[name] = "; ".join(str(r[0]).strip() for r in rows if "->" in r[0] or rows[0] == r)
    return found


async def _in_process(url: str) -> tuple[dict[str, float], dict[str, float]]:
    settings = load_settings(state_url=url)
    store = open_store(url)
    await store.open()
    try:
        dispatcher = Dispatcher(
            store=store,
            root=settings.routes(),
            integrations=specs_by_receiver(settings),
            clock=time.time,
            budget=settings.budget_limit(),
        )
        idle = [await _timed(dispatcher.pass_once) for _ in range(20)]
        queries = {
            "outbox_list": await _timed_many(
                lambda: store.read(lambda tx: outbox.list_rows(tx, status=None, limit=200))
            ),
            "silences_list": await _timed_many(
                lambda: listing(store, include_expired=True, now=time.time())
            ),
            "store_stats": await _timed_many(lambda: store.read(stored.stats), times=3),
        }
        return {"idle_pass": round(statistics.median(idle), 2)}, queries
    finally:
        await store.close()


async def _timed(work: Callable[[], Any]) -> float:
    began = time.perf_counter()
    await work()
    return (time.perf_counter() - began) * 1000


async def _timed_many(work: Callable[[], Any], *, times: int = 10) -> float:
    return round(statistics.median([await _timed(work) for _ in range(times)]), 2)


def _markdown(rows: list[Row], facts: dict[str, str]) -> str:
    lines = [
        "### Growth (issue 18)",
        "",
        "| store | failures | bytes/failure | webhook req/s | p50 / p99 ms | CPU µs/req | "
        "dispatcher idle pass ms | outbox list ms | stats ms | prune s (rows) | "
        "p99 ms during / after prune |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        w, p = r.webhook, r.prune
        lines.append(
            f"| {r.kind} | {r.size:,} | {r.bytes_per_failure:.0f} | {w['req_s']:,.0f} | "
            f"{w['p50_ms']:.1f} / {w['p99_ms']:.1f} | {w['cpu_us_per_request']:.0f} | "
            f"{r.dispatcher_ms['idle_pass']:.2f} | {r.queries_ms['outbox_list']:.1f} | "
            f"{r.queries_ms['store_stats']:.0f} | {p['prune_s']:.0f} ({p['pruned_rows']:,.0f}) | "
            f"{p['during_p99_ms']:.1f} / {p['after_p99_ms']:.1f} |"
        )
    lines += ["", "Query plans of the hot path (EXPLAIN, at the largest size):", ""]
    for kind in dict.fromkeys(r.kind for r in rows):
        largest = max((r for r in rows if r.kind == kind), key=lambda r: r.size)
        lines += [f"- {kind}, {largest.size:,} failures:"]
        lines += [f"  - {name}: `{plan}`" for name, plan in largest.plans.items()]
    lines += ["", "Machine: " + ", ".join(f"{k}: {v}" for k, v in facts.items())]
    return "\n".join(lines)
