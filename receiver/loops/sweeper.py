"""Sweeps: stuck generations, and failures that no webhook announced.

pg_net sends each webhook once and never retries, so a receiver that was down or slow
loses failures for good — unless someone looks in the database. Every `SWEEP_INTERVAL`,
one replica (the holder of the `sweep` lease) does, in this order:

1. **resolve**: generations reported stuck that are no longer `processing` are cleared;
2. **stuck**: `processing` rows older than `STUCK_AFTER` become one `stuck` failure each;
3. **missed**: `failed` rows changed since the last sweep (less an overlap for late
   commits; 24 h on first start) are recorded through the webhook's own path, marked
   `source=sweep`. Same row, same idempotency key: one seen by both is stored once.
Around the missed pass, pg_net's record of deliveries to failwatch's hooks is read
before it and judged after it (the `webhook_path` rule), and last

4. **rates**: the failure-rate and flatline rules judge one aggregate of the source's
   counts (`loops/rates.py`).

A source database that is down or slow ends the sweep early: one log line, one count in
`failwatch_sweep_runs_total{result}`, and another try next interval. Nothing here raises
into its caller, and the webhook path never waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import psycopg

from receiver.config.settings import Settings
from receiver.errors import InvalidPayload, SourceTableError, SourceUnavailable, StoreUnavailable
from receiver.intake.classify import Classifier
from receiver.intake.classify_rules import DEFAULT_CLASSIFIER
from receiver.intake.pipeline import failure_from_row
from receiver.loops.rates import SourceRates, WebhookPath
from receiver.metrics import Metrics
from receiver.model import Failure, FailureKind, Source
from receiver.supabase import sweep_queries as queries
from receiver.supabase.pool import SourceDB
from receiver.supabase.sweep_queries import SourceReader, SourceTable

log = logging.getLogger("failwatch.sweep")

LEASE = "sweep"
MISSED_CURSOR = "sweep.missed.high_water"
_SAMPLE_IDS = 10


@runtime_checkable
class SweepState(Protocol):
    """What the sweeper needs from failwatch's state store."""

    async def record_failure(self, failure: Failure, *, received_at: float) -> bool:
        """Store a failure once; True if it is new (the store's own idempotent path)."""

    async def acquire_lease(self, name: str, holder: str, *, ttl: float, now: float) -> bool:
        """Take or renew `name` for `ttl` seconds if it is free, expired or ours."""

    async def get_cursor(self, name: str) -> float | None: ...

    async def set_cursor(self, name: str, value: float) -> None: ...

    async def mark_stuck(self, generation_ids: Sequence[str], *, now: float) -> None:
        """Remember generations reported stuck (idempotent)."""

    async def open_stuck_generations(self) -> list[str]:
        """Generations reported stuck and not yet cleared."""

    async def clear_stuck(self, generation_ids: Sequence[str], *, now: float) -> None:
        """These left `processing`: their stuck alerts resolve."""


@dataclass(frozen=True, slots=True)
class SweepOptions:
    stuck_after: float = 600.0
    interval: float = 60.0
    schema: str = "public"
    table: str = "generations"
    classifier: Classifier = DEFAULT_CLASSIFIER
    first_lookback: float = 86400.0
    # Rows are stamped when their transaction starts but become visible when it commits;
    # looking back this much further than the last sweep catches the slow ones.
    overlap: float = 300.0
    # After a long outage, older failures are history rather than alerts.
    max_lookback: float = 7 * 86400.0
    page_size: int = 500
    query_timeout: float = 10.0
    include_prompts: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> SweepOptions:
        return cls(
            stuck_after=settings.stuck_after,
            interval=settings.sweep_interval,
            schema=settings.source_schema,
            table=settings.source_table,
            classifier=settings.classifier.classifier,
            include_prompts=settings.include_prompts,
        )

    @property
    def lease_ttl(self) -> float:
        # Two intervals: one missed renewal (a slow sweep) does not hand the lease over.
        return 2 * self.interval


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one sweep did. `result` is the label of `failwatch_sweep_runs_total`."""

    result: str
    stuck: tuple[str, ...] = ()
    missed: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()
    rows_seen: int = 0


@dataclass(slots=True)
class _Tally:
    stuck: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    rows_seen: int = 0

    def result(self, outcome: str) -> SweepResult:
        return SweepResult(
            outcome, tuple(self.stuck), tuple(self.missed), tuple(self.resolved), self.rows_seen
        )


def default_holder() -> str:
    """Who holds the lease: host and pid for people, a random part for uniqueness."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Sweeper:
    def __init__(
        self,
        *,
        source: SourceDB,
        state: SweepState,
        metrics: Metrics,
        options: SweepOptions,
        clock: Callable[[], float] = time.time,
        holder: str | None = None,
        on_new_failure: Callable[[], None] | None = None,
        rates: SourceRates | None = None,
        webhook_path: WebhookPath | None = None,
    ) -> None:
        self._source = source
        self._rates = rates
        self._webhook_path = webhook_path
        self._state = state
        self._metrics = metrics
        self._options = options
        self._clock = clock
        self.holder = holder or default_holder()
        self._on_new_failure = on_new_failure
        self._table: SourceTable | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # Running in the background.

    def start(self) -> None:
        self._task = asyncio.create_task(self.run_forever(self._stop), name="failwatch-sweeper")

    async def stop(self, *, grace: float = 10.0) -> None:
        """Let a running sweep finish (up to `grace` seconds)."""
        self._stop.set()
        task = self._task
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), grace)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Sweep now (to recover what was missed while failwatch was down), then every
        interval until `stop` is set."""
        while not stop.is_set():
            await self.sweep_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._options.interval)

    # One sweep.

    async def sweep_once(self) -> SweepResult:
        """Run one sweep if this replica holds the lease. Never raises (but on cancel)."""
        started = time.perf_counter()
        tally = _Tally()
        try:
            if not await self._state.acquire_lease(
                LEASE, self.holder, ttl=self._options.lease_ttl, now=self._clock()
            ):
                return self._finish(tally.result("skipped"), started)
            await self._sweep(tally)
        except SourceUnavailable as exc:
            return self._finish(tally.result("source_unavailable"), started, exc)
        except StoreUnavailable as exc:
            return self._finish(tally.result("store_unavailable"), started, exc)
        except (SourceTableError, psycopg.Error) as exc:
            return self._finish(tally.result("error"), started, exc)
        except Exception as exc:  # a background loop must outlive any one bad sweep
            return self._finish(tally.result("error"), started, exc)
        return self._finish(tally.result("ok"), started)

    async def _sweep(self, tally: _Tally) -> None:
        async with self._source.connection() as conn:
            reader = SourceReader(conn, timeout=self._options.query_timeout)
            # Timestamps in the records then read as the webhook's do (Supabase runs in UTC).
            await reader.bounded(conn.execute("SET TIME ZONE 'UTC'"))
            table = await self._describe(reader)
            still_stuck = await self._resolve(reader, table, tally)
            await self._stuck(reader, table, still_stuck, tally)
            # pg_net's failed deliveries first: the missed-failure pass below then picks
            # up, in this same sweep, the failures those deliveries carried.
            path = None if self._webhook_path is None else await self._webhook_path.read(reader)
            await self._missed(reader, table, tally)
            if path is not None and self._webhook_path is not None:
                await self._webhook_path.judge(path, missed=len(tally.missed), now=self._clock())
            if self._rates is not None and self._rates.enabled:
                await self._rates.evaluate(reader, table, now=self._clock())

    async def _describe(self, reader: SourceReader) -> SourceTable:
        if self._table is None:
            options = self._options
            self._table = await reader.bounded(
                queries.describe_table(reader.conn, schema=options.schema, table=options.table)
            )
        return self._table

    async def _resolve(self, reader: SourceReader, table: SourceTable, tally: _Tally) -> set[str]:
        """Clear stuck generations that left `processing`; return those still in it."""
        open_ids = await self._state.open_stuck_generations()
        still: set[str] = set()
        for chunk in _chunks(open_ids, 1000):
            rows = await reader.fetch(queries.still_processing(table), {"ids": chunk})
            still.update(str(row["id"]) for row in rows)
        left = [gid for gid in open_ids if gid not in still]
        if left:
            await self._state.clear_stuck(left, now=self._clock())
            tally.resolved.extend(left)
        return still

    async def _stuck(
        self, reader: SourceReader, table: SourceTable, already_open: set[str], tally: _Tally
    ) -> None:
        params = {"stuck_after": self._options.stuck_after, "dropped": self._dropped()}
        pages = reader.pages(
            lambda after: queries.stuck_page(table, after=after),
            params,
            limit=self._options.page_size,
        )
        async with contextlib.aclosing(pages):
            async for rows in pages:
                tally.rows_seen += len(rows)
                fresh = [row for row in rows if str(row["page_id"]) not in already_open]
                failures = self._failures(fresh, FailureKind.STUCK)
                new = await self._record(failures)
                await self._state.mark_stuck([f.generation_id for f in failures], now=self._clock())
                tally.stuck.extend(f.generation_id for f in new)

    async def _missed(self, reader: SourceReader, table: SourceTable, tally: _Tally) -> None:
        options = self._options
        db_now = (await reader.fetch(queries.DB_NOW, {}))[0]["now"].timestamp()
        cursor = await self._state.get_cursor(MISSED_CURSOR)
        if cursor is None:
            since = db_now - options.first_lookback
        else:
            since = max(cursor - options.overlap - options.interval, db_now - options.max_lookback)
        params = {"since": datetime.fromtimestamp(since, UTC), "dropped": self._dropped()}
        pages = reader.pages(
            lambda after: queries.failed_page(table, after=after),
            params,
            limit=options.page_size,
        )
        async with contextlib.aclosing(pages):
            async for rows in pages:
                tally.rows_seen += len(rows)
                new = await self._record(self._failures(rows, FailureKind.FAILED))
                tally.missed.extend(f.generation_id for f in new)
                # Progress survives a sweep cut short: everything before this page's last
                # row is recorded (the overlap covers rows that commit late).
                reached = min(rows[-1]["page_ts"].timestamp(), db_now)
                if cursor is None or reached > cursor:
                    await self._state.set_cursor(MISSED_CURSOR, reached)
        await self._state.set_cursor(MISSED_CURSOR, db_now)

    # Helpers.

    def _dropped(self) -> list[str]:
        """Columns left in the database: prompts are private and can be large."""
        return [] if self._options.include_prompts else ["prompt"]

    def _failures(self, rows: Sequence[Mapping[str, Any]], kind: FailureKind) -> list[Failure]:
        failures = []
        for row in rows:
            try:
                failures.append(
                    failure_from_row(
                        row["record"],
                        kind=kind,
                        source=Source.SWEEP,
                        classifier=self._options.classifier,
                        include_prompt=self._options.include_prompts,
                    )
                )
            except InvalidPayload:  # a row without an id cannot be tracked; not worth a stop
                log.warning("sweep skipped a row without an id", extra={"kind": kind.value})
        return failures

    async def _record(self, failures: Sequence[Failure]) -> list[Failure]:
        """Record through the store's idempotent path, concurrently so the store can commit
        them in groups; return the ones that were new."""
        received_at = self._clock()
        outcomes = await asyncio.gather(
            *(self._state.record_failure(f, received_at=received_at) for f in failures),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        new = [f for f, is_new in zip(failures, outcomes, strict=True) if is_new is True]
        for failure in new:
            self._metrics.failures.labels(failure.category).inc()
            self._metrics.sweep_found.labels(failure.kind.value).inc()
        if new and self._on_new_failure is not None:
            self._on_new_failure()
        return new

    def _finish(
        self, result: SweepResult, started: float, error: BaseException | None = None
    ) -> SweepResult:
        self._metrics.sweep_runs.labels(result.result).inc()
        fields: dict[str, object] = {
            "result": result.result,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "stuck": len(result.stuck),
            "missed": len(result.missed),
            "resolved": len(result.resolved),
            "rows_seen": result.rows_seen,
        }
        if result.missed:
            fields["missed_sample"] = list(result.missed[:_SAMPLE_IDS])
        if error is not None:
            fields["error"] = _describe_error(error)
            log.warning("sweep", extra=fields)
        elif result.stuck or result.missed or result.resolved:
            log.info("sweep", extra=fields)
        else:
            log.debug("sweep", extra=fields)
        return result


def start_sweeper(
    settings: Settings,
    source: SourceDB,
    state: SweepState,
    metrics: Metrics,
    *,
    on_new_failure: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.time,
    rates: SourceRates | None = None,
    webhook_path: WebhookPath | None = None,
) -> Sweeper:
    """Start sweeping the source database in the background; `await sweeper.stop()`.
    The pool is the process's one source pool; its owner closes it."""
    sweeper = Sweeper(
        source=source,
        state=state,
        metrics=metrics,
        options=SweepOptions.from_settings(settings),
        clock=clock,
        on_new_failure=on_new_failure,
        rates=rates,
        webhook_path=webhook_path,
    )
    sweeper.start()
    return sweeper


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _describe_error(error: BaseException) -> str:
    """The error and its first cause, one line each at most (libpq names host and port,
    never the password)."""
    text = f"{type(error).__name__}: {error}"
    cause = error.__cause__
    if cause is not None:
        first_line = (str(cause).strip().splitlines() or [""])[0]
        text += f" ({type(cause).__name__}: {first_line})"
    return text
