"""The dispatcher: moves stored failures into their groups and flushes due groups into
the outbox, off the webhook's path.

Each pass is three short write transactions — absorb new failures (routing, silences,
grouping), release failures whose silence ended, and flush what `grouping.decide` says
is due — so a group change and the notifications it causes always commit together.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence

from receiver.config.integrations import IntegrationSpec
from receiver.engine.routing import Route
from receiver.engine.storm import BudgetLimit
from receiver.errors import StoreUnavailable
from receiver.loops import flush, groups
from receiver.loops.health import LoopHealth, report_failure
from receiver.loops.wakeup import nap
from receiver.metrics import Metrics
from receiver.model import Notification
from receiver.store import Store

log = logging.getLogger("failwatch.dispatch")

TICK = 0.5
# Without a completed pass for this long, the dispatcher counts as stalled (readiness).
STALL_AFTER = 60.0


class Dispatcher:
    def __init__(
        self,
        *,
        store: Store,
        root: Route,
        integrations: Mapping[str, Sequence[IntegrationSpec]],
        clock: Callable[[], float],
        budget: BudgetLimit,
        metrics: Metrics | None = None,
        on_notifications: Callable[[], None] = lambda: None,
        tick: float = TICK,
        wake: asyncio.Event | None = None,
        stall_after: float = STALL_AFTER,
        on_error: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._budget = budget
        self._metrics = metrics
        self._root = root
        self._integrations = integrations
        self._clock = clock
        self._on_notifications = on_notifications
        self._tick = tick
        self.wake = wake if wake is not None else asyncio.Event()
        self.health = LoopHealth("dispatcher", stall_after, started_at=time.monotonic())
        self._on_error = on_error

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                busy = await self.pass_once()
                self.health.succeeded(time.monotonic())
                if busy:
                    continue
            except StoreUnavailable as exc:
                log.warning("dispatch paused: state store unavailable", extra={"error": str(exc)})
                self.health.failed(exc)
                self._on_error()
            except Exception as exc:
                # A corrupt page or a bug: the loop keeps going, visibly, instead of the
                # task dying unseen while webhooks are still accepted.
                report_failure(self.health, exc, log=log, count=self._on_error)
            await nap(self.wake, stop, seconds=self._tick)

    async def pass_once(self) -> bool:
        """Absorb, release and flush once. True if there is more to absorb right away."""
        root, batch = self._root, self._store.background_batch
        absorbed = await self._store.write(
            lambda tx: groups.absorb_new_failures(tx, root=root, now=self._clock(), limit=batch)
        )
        self._report_folds(absorbed)
        await self._store.write(lambda tx: groups.release_held(tx, root=root, now=self._clock()))
        flushed = await self._store.write(
            lambda tx: flush.flush_due_groups(
                tx,
                root=root,
                integrations=self._integrations,
                now=self._clock(),
                budget=self._budget,
            )
        )
        self._report_held(flushed.held)
        written = flushed.notifications
        for notification in written:
            log.info(
                "group flushed",
                extra={
                    "group": notification.title,
                    "reason": notification.reason.value,
                    "receiver": notification.receiver,
                    "window_failures": notification.window_failures,
                },
            )
        if written:
            self._on_notifications()
        return absorbed.count == batch

    def _report_folds(self, absorbed: groups.Absorbed) -> None:
        for (route, category), count in absorbed.folded.items():
            if self._metrics is not None:
                self._metrics.folded.labels(route, category).inc(count)
            log.warning(
                "route over its group cap: failures folded into its overflow group",
                extra={"route": route, "category": category, "failures": count},
            )

    def _report_held(self, held: list[Notification]) -> None:
        for notification in held:
            if self._metrics is not None:
                self._metrics.held.labels(notification.receiver).inc()
            log.info(
                "update held back for the digest",
                extra={
                    "group": notification.title,
                    "reason": notification.reason.value,
                    "receiver": notification.receiver,
                },
            )
