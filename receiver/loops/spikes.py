"""The failure-spike rule, on failwatch's own store: a loop of its own, so a deployment
with only the webhook (no source database, no sweeps) has it too.

Every `failure_spike.interval`, the holder of the `failure_spike` lease reads one
aggregate of the failures it recorded (`store/rules.py` `failure_counts`: per category and
model, the current window, the same window a day earlier, the 24 h before), judges each
with the engine (`engine/rates.py` `spike_signal`) and hands the evaluations to the rule
runner, which records, updates and resolves the `failure_spike` alerts like every rate
rule's. The usual is only known once failwatch has been watching for a day and a window:
since the oldest failure it still holds, or since this loop first ran, whichever is older.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable

from receiver.engine.rates import (
    DAY,
    FailureCounts,
    Signal,
    SpikeRule,
    spike_message,
    spike_signal,
)
from receiver.errors import StoreUnavailable
from receiver.loops.rates import Evaluation, Outcome, RuleRunner
from receiver.metrics import Metrics
from receiver.rows import FailureCountRow
from receiver.store import Store
from receiver.store import rules as stored
from receiver.store import sweep as leases
from receiver.store.tx import Tx

log = logging.getLogger("failwatch.rates")

FAILURE_SPIKE = "failure_spike"
LEASE = "failure_spike"
WATCHING_CURSOR = "failure_spike.watching_since"


def spike_evaluations(
    rows: list[FailureCountRow], rule: SpikeRule, *, history: bool
) -> list[Evaluation]:
    """One evaluation per category and model; the alert names the category that spiked
    (label `error_category`) and the model."""
    found = []
    for row in rows:
        counts = FailureCounts(row.current, row.day_before, row.trailing_day)
        found.append(
            Evaluation(
                scope=f"{row.category}/{row.model_id or ''}",
                signal=spike_signal(rule, counts, history=history),
                message=spike_message(row.category, row.model_id, rule, counts),
                pending=rule.pending,
                recover_after=rule.recover_after,
                model_id=row.model_id,
                labels={"error_category": row.category},
            )
        )
    return found


class SpikeWatch:
    def __init__(
        self,
        *,
        runner: RuleRunner,
        store: Store,
        rule: SpikeRule,
        interval: float,
        metrics: Metrics,
        clock: Callable[[], float],
    ) -> None:
        self._runner = runner
        self._store = store
        self._rule = rule
        self._interval = interval
        self._metrics = metrics
        self._clock = clock
        self.holder = f"failure-spike-{secrets.token_hex(6)}"

    async def run(self, stop: asyncio.Event) -> None:
        """Evaluate every interval until `stop` is set; a failed pass is logged, counted
        (`failwatch_loop_errors_total{loop="failure_spike"}`) and tried again next time."""
        while not stop.is_set():
            try:
                await self.pass_once()
            except StoreUnavailable as exc:
                log.warning(
                    "failure_spike skipped: state store unavailable", extra={"error": str(exc)}
                )
            except Exception:  # a background loop must outlive any one bad pass
                self._metrics.loop_errors.labels(FAILURE_SPIKE).inc()
                log.exception("failure_spike pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
        with contextlib.suppress(StoreUnavailable):
            await self._store.write(lambda tx: leases.release_lease(tx, LEASE, self.holder))

    async def pass_once(self) -> list[Outcome] | None:
        """Judge this window if this replica holds the lease; None if another one does."""
        now = self._clock()
        rule = self._rule
        ttl = 2 * self._interval  # one slow pass does not hand the lease over

        def claim(tx: Tx) -> tuple[bool, float | None]:
            if not leases.acquire_lease(tx, LEASE, self.holder, ttl=ttl, now=now):
                return False, None
            watching = leases.get_cursor(tx, WATCHING_CURSOR)
            if watching is None:
                leases.set_cursor(tx, WATCHING_CURSOR, now)
            return True, watching

        def count(tx: Tx) -> tuple[list[FailureCountRow], float | None]:
            rows = stored.failure_counts(tx, now=now, window=rule.window, day=DAY)
            return rows, stored.oldest_failure(tx)

        # Only the lease and the cursor are writes: the aggregate over a day of failures
        # is read beside the writer, not on it (SQLite's webhooks wait behind its writes).
        held, watching = await self._store.write(claim)
        if not held:
            return None
        rows, oldest = await self._store.read(count)
        since = min(t for t in (watching, oldest, now) if t is not None)
        history = now - since >= DAY + rule.window
        evaluations = spike_evaluations(rows, rule, history=history)
        # A category and model with no failure in a day and a window has none now: calm.
        return await self._runner.run(FAILURE_SPIKE, evaluations, now=now, unseen=Signal.CALM)
