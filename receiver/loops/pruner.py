"""The pruner: deletes what retention lets go, in small batches, one replica at a time.

Every `retention.interval`, the holder of the `prune` lease walks the rules of
`store.retention` in order; each batch is one short write transaction of at most
`BATCH` rows, and the loop yields between batches, so webhooks keep committing while a
large backlog is pruned (on SQLite they share the one writer, batch by batch). On SQLite,
the freed pages are then handed back to the file system a few at a time (incremental
vacuum), so the file shrinks instead of only stopping to grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from receiver.engine.retention import RetentionPolicy, cutoffs, more_to_prune
from receiver.errors import StoreUnavailable
from receiver.loops.wakeup import nap
from receiver.metrics import Metrics
from receiver.store import Store
from receiver.store import retention as stored
from receiver.store import sweep as leases

log = logging.getLogger("failwatch.prune")

LEASE = "prune"
BATCH = 500
VACUUM_PAGES = 256  # 1 MiB of 4 KiB pages per transaction
MAX_BATCHES = 10_000  # a pass ends even if the table keeps filling


@dataclass(frozen=True, slots=True)
class PruneReport:
    deleted: dict[str, int]  # by table
    pages_freed: int

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


async def prune_once(
    store: Store,
    policy: RetentionPolicy,
    *,
    now: float,
    dry_run: bool = False,
    batch: int = BATCH,
) -> PruneReport:
    """One pass over every rule: delete (or, for a dry run, count) what may go."""
    limits = cutoffs(policy, now)
    deleted: dict[str, int] = {}
    for rule in stored.RULES:
        cutoff = getattr(limits, rule.cutoff)
        count = await _apply(store, rule, cutoff, batch=batch, dry_run=dry_run)
        deleted[rule.table] = deleted.get(rule.table, 0) + count
    pages = 0
    if not dry_run and any(deleted.values()):
        for _ in range(MAX_BATCHES):
            freed = await store.compact(pages=VACUUM_PAGES)
            pages += freed
            if not more_to_prune(freed, VACUUM_PAGES):
                break
            await asyncio.sleep(0)
    return PruneReport(deleted, pages)


async def _apply(
    store: Store, rule: stored.Rule, cutoff: float, *, batch: int, dry_run: bool
) -> int:
    """Delete what one rule picks, batch by batch (or count it, for a dry run)."""
    if dry_run:
        return await store.read(lambda tx: stored.count(tx, rule, cutoff))
    total = 0
    for _ in range(MAX_BATCHES):
        gone = await store.write(lambda tx: stored.prune(tx, rule, cutoff, limit=batch))
        total += gone
        if not more_to_prune(gone, batch):
            break
        await asyncio.sleep(0)  # let the webhooks' commits in between batches
    return total


class Pruner:
    def __init__(
        self,
        *,
        store: Store,
        policy: RetentionPolicy,
        interval: float,
        metrics: Metrics,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._policy = policy
        self._interval = interval
        self._metrics = metrics
        self._clock = clock
        self.holder = f"pruner-{secrets.token_hex(6)}"
        self.wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Prune every interval until `stop` is set; an outage skips a pass, no more."""
        while not stop.is_set():
            try:
                await self.pass_once()
            except StoreUnavailable as exc:
                log.warning("prune skipped: state store unavailable", extra={"error": str(exc)})
            await nap(self.wake, stop, seconds=self._interval)
        with contextlib.suppress(StoreUnavailable):
            await self._store.write(lambda tx: leases.release_lease(tx, LEASE, self.holder))

    async def pass_once(self) -> PruneReport | None:
        """Prune if this replica holds the lease; None if another one does."""
        now = self._clock()
        ttl = 2 * self._interval  # one slow pass does not hand the lease over
        held = await self._store.write(
            lambda tx: leases.acquire_lease(tx, LEASE, self.holder, ttl=ttl, now=now)
        )
        if not held:
            return None
        report = await prune_once(self._store, self._policy, now=now)
        for table, count in report.deleted.items():
            if count:
                self._metrics.pruned.labels(table).inc(count)
        for found in await self._store.read(stored.stats):
            self._metrics.store_rows.labels(found.table).set(found.rows)
        if report.total:
            log.info(
                "pruned",
                extra={"deleted": report.deleted, "pages_freed": report.pages_freed},
            )
        return report
