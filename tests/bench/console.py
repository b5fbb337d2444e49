"""Issue 16's console benchmark: how long each page takes to render with 1,000,000
failures in the store.

The store is a real SQLite file brought up by failwatch's migrations, then filled in bulk
(one transaction, `executemany`) with failures spread over `days` days — 9 categories,
20 models, 5,000 users, 400 distinct errors — plus `incidents` incidents, a third of
them resolved, each with its group row. Every page is then asked for through the ASGI
app in-process (signed in, the way a browser asks), `--console-requests` times after
one warm-up request each; the time is from request to the last byte of the answer,
the server's share of a page view (no network, no browser).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import sqlite3
import statistics
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import httpx

from receiver.config.settings import load_settings
from receiver.store.sqlite import SQLiteStore
from receiver.web.app import create_app
from tests.bench.results import keep
from tests.web.console.harness import TOKEN, csrf_of

CATEGORIES = (
    "quota",
    "rate_limit",
    "timeout",
    "content_policy",
    "invalid_input",
    "auth",
    "provider_unavailable",
    "model_error",
    "unknown",
)
PAGES = (
    "/incidents",
    "/incidents?state=open&q=timed",
    "/incidents/{incident}",
    "/failures",
    "/failures?window=7d&step=1h&by=model_id",
    "/silences",
    "/delivery",
    "/status",
)
BUDGET_MS = 100.0


def fill(path: Path, *, failures: int, incidents: int, days: float, now: float) -> str:
    """A migrated SQLite store holding `failures` failures and `incidents` incidents;
    returns one incident's id."""
    asyncio.run(_migrate(path))
    rng = random.Random(16)
    models = [f"model-{i:02d}" for i in range(20)]
    conn = sqlite3.connect(path)
    batch: list[tuple[object, ...]] = []
    for n in range(failures):
        category = CATEGORIES[min(int(rng.expovariate(0.6)), len(CATEGORIES) - 1)]
        model = models[min(int(rng.expovariate(0.25)), len(models) - 1)]
        error = rng.randrange(400)
        labels = {"category": category, "model_id": model, "status": "failed"}
        batch.append(
            (
                f"bench-{n}",
                f"gen-{n}",
                "failed",
                "webhook",
                category,
                f"fp-{error:03d}",
                f"Request {error} failed: {category} on {model}",
                "BenchError",
                model,
                f"user-{rng.randrange(5000)}",
                None,
                None,
                json.dumps(labels),
                now - rng.random() * days * 86400,
            )
        )
        if len(batch) == 50_000:
            _insert_failures(conn, batch)
            batch = []
    _insert_failures(conn, batch)
    first = ""
    for n in range(incidents):
        key = uuid.uuid4().hex[:24]
        category, model = CATEGORIES[n % len(CATEGORIES)], models[n % len(models)]
        opened = now - (incidents - n) * 600.0
        resolved = opened + 300.0 if n % 3 == 0 else None
        group_labels = json.dumps({"category": category, "model_id": model})
        incident_id = f"{key}-1"
        first = first or incident_id
        conn.execute(
            "INSERT INTO groups (group_key, route_id, receiver, labels, episode, status, "
            "opened_at, first_seen, last_seen, last_active, episode_failures, flushes) "
            "VALUES (?, 'root', 'default', ?, 1, ?, ?, ?, ?, ?, 40, 2)",
            (key, group_labels, "resolved" if resolved else "open", opened, opened, opened, opened),
        )
        conn.execute(
            "INSERT INTO group_errors (group_key, episode, fingerprint, message, error_type, "
            "model_id, sample_generation_id, count, pending) VALUES (?, 1, 'fp', ?, 'E', ?, "
            "'gen-1', 40, 0)",
            (key, f"Request timed out on {model}", model),
        )
        conn.execute(
            "INSERT INTO incidents (id, group_key, episode, receiver, labels, category, "
            "model_id, opened_at, resolved_at) VALUES (?, ?, 1, 'default', ?, ?, ?, ?, ?)",
            (incident_id, key, group_labels, category, model, opened, resolved),
        )
    # The failures count as dispatched already: the dispatcher must not compete with the
    # pages for the CPU (what is measured is a page view, not a backlog).
    conn.execute("UPDATE dispatch_cursor SET last_seq = (SELECT max(seq) FROM failures)")
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    return first


def _insert_failures(conn: sqlite3.Connection, rows: Sequence[Sequence[object]]) -> None:
    conn.executemany(
        "INSERT INTO failures (idempotency_key, generation_id, kind, source, category, "
        "fingerprint, message, error_type, model_id, user_id, session_id, occurred_at, "
        "labels, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


async def _migrate(path: Path) -> None:
    store = SQLiteStore(str(path))
    await store.open()
    await store.close()


async def measure(
    path: Path, incident: str, *, requests: int
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Milliseconds of the first request of each page (the first one also folds every
    failure into the rollup), and of each later request."""
    settings = load_settings(state_url=f"sqlite:///{path}", admin_token=TOKEN)
    app = create_app(settings, notifiers={})
    first: dict[str, float] = {}
    timings: dict[str, list[float]] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://failwatch") as client:
            form = await client.get("/login")
            await client.post("/login", data={"csrf": csrf_of(form.text), "token": TOKEN})
            for template in PAGES:
                page = template.format(incident=incident)
                started = time.perf_counter()
                assert (await client.get(page)).status_code == 200, page
                first[template] = (time.perf_counter() - started) * 1000
                times = []
                for _ in range(requests):
                    started = time.perf_counter()
                    response = await client.get(page)
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200
                timings[template] = times
    return first, timings


def console_suite(
    folder: Path, *, failures: int, incidents: int, days: float, requests: int
) -> None:
    started = dt.datetime.now(dt.UTC)
    path = folder / "console.db"
    t0 = time.perf_counter()
    incident = fill(path, failures=failures, incidents=incidents, days=days, now=time.time())
    filled = time.perf_counter() - t0
    first, timings = asyncio.run(measure(path, incident, requests=requests))
    lines = [
        f"### Console pages, {failures:,} failures over {days:g} days, {incidents:,} incidents "
        f"(SQLite; {requests} requests per page; store filled in {filled:.0f} s)",
        "",
        "| page | first request ms | median ms | p95 ms | max ms | p95 under 100 ms |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for page, times in timings.items():
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        ok = "yes" if p95 < BUDGET_MS else "**no**"
        lines.append(
            f"| `{page}` | {first[page]:.0f} | {statistics.median(times):.1f} | {p95:.1f} "
            f"| {max(times):.1f} | {ok} |"
        )
    keep("console", started, "\n".join(lines) + "\n", {"first_ms": first, "timings_ms": timings})
