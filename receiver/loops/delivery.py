"""Delivery: claim due outbox rows, send each through its notifier, then ack, retry
later or move to the dead letter.

The worker is the only owner of retries; when to retry and when to give up is
`engine.retry`, the per-destination rate limit `engine.ratelimit`. Dead rows are where
`failwatch outbox list|retry` and the admin API find them.

User e-mails (when configured) are looked up just before each send and never stored;
a lookup that fails or is slow only leaves them out — it never holds a notification back.

Crash window: a row is acked after the provider's 2xx. A crash between the two leaves the
row claimed; when the lease runs out it is sent again. That one duplicate is the price of
never losing a notification.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence

from receiver.config.settings import DeliverySettings
from receiver.engine import ratelimit, storm
from receiver.engine.retry import GiveUp, RetryPolicy, after_failure
from receiver.errors import DeliveryError, StoreUnavailable
from receiver.loops.health import LoopHealth, report_failure
from receiver.loops.wakeup import nap
from receiver.metrics import Metrics
from receiver.model import Notification
from receiver.notifiers.base import Notifier
from receiver.rows import OutboxRow
from receiver.store import Store, outbox
from receiver.store.tx import Tx

log = logging.getLogger("failwatch.delivery")

CLAIM_BATCH = 32
SEND_TIMEOUT = 30.0
IDLE_POLL = 1.0
MIN_POLL = 0.05
EMAIL_LOOKUP_TIMEOUT = 10.0
# Without a completed pass or a handled row for this long, the worker counts as stalled.
STALL_AFTER = 60.0

# User ids → their e-mail addresses (None where unknown).
EmailLookup = Callable[[Sequence[str]], Awaitable[dict[str, str | None]]]


class DeliveryWorker:
    def __init__(
        self,
        *,
        store: Store,
        notifiers: Mapping[tuple[str, str], Notifier],
        settings: DeliverySettings,
        metrics: Metrics,
        clock: Callable[[], float],
        holder: str | None = None,
        rng: random.Random | None = None,
        emails: EmailLookup | None = None,
        stall_after: float = STALL_AFTER,
    ) -> None:
        self._store = store
        self._emails = emails
        self._notifiers = notifiers
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self.holder = holder or f"worker-{uuid.uuid4().hex[:12]}"
        self._rng = rng or random.Random()
        self._policy = RetryPolicy(
            max_attempts=settings.max_attempts,
            max_age=settings.max_age,
            backoff_initial=settings.backoff_initial,
            backoff_max=settings.backoff_max,
        )
        self.wake = asyncio.Event()
        self.health = LoopHealth("delivery", stall_after, started_at=time.monotonic())

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; a store outage pauses the worker, never kills it."""
        while not stop.is_set():
            pause = IDLE_POLL
            try:
                if await self.deliver_due():
                    self.health.succeeded(time.monotonic())
                    continue
                pause = await self._until_next_due()
                self.health.succeeded(time.monotonic())
            except StoreUnavailable as exc:
                log.warning("delivery paused: state store unavailable", extra={"error": str(exc)})
                self.health.failed(exc)
                self._count_error()
            except Exception as exc:
                # A corrupt page or a bug: the worker keeps going, visibly, instead of the
                # task dying unseen while notifications pile up.
                report_failure(self.health, exc, log=log, count=self._count_error)
            await nap(self.wake, stop, seconds=pause)

    async def _until_next_due(self) -> float:
        """How long to sleep (`storm.sleep_for`): until a row falls due or a token comes
        back for a destination with rows waiting, polling at least every IDLE_POLL since
        other replicas add rows too."""
        now = self._clock()

        def next_times(tx: Tx) -> tuple[float | None, float | None]:
            blocked = self._out_of_tokens(outbox.buckets(tx), now)
            waiting = set(outbox.waiting_destinations(tx, now=now))
            tokens = [at for destination, at in blocked.items() if destination in waiting]
            return outbox.next_due_at(tx, now=now, skip=blocked), min(tokens, default=None)

        due, token = await self._store.read(next_times)
        return storm.sleep_for(now, next_due=due, next_token=token, idle=IDLE_POLL, floor=MIN_POLL)

    def _out_of_tokens(
        self, buckets: Mapping[str, tuple[float, float]], now: float
    ) -> dict[str, float]:
        """Destinations without a whole token at `now`, and when they next have one."""
        rate, burst = self._settings.rate_per_second, self._settings.burst
        blocked = {}
        for destination, (tokens, updated_at) in buckets.items():
            at = ratelimit.next_token_at(tokens, updated_at, now=now, rate=rate, burst=burst)
            if at > now:
                blocked[destination] = at
        return blocked

    def _claim(self, tx: Tx, now: float) -> list[OutboxRow]:
        """Claim the due rows that the destinations' tokens allow, in claim order."""
        rate, burst = self._settings.rate_per_second, self._settings.burst
        buckets = outbox.buckets(tx)
        allowance = {
            destination: int(ratelimit.tokens_at(tokens, at, now=now, rate=rate, burst=burst))
            for destination, (tokens, at) in buckets.items()
        }
        blocked = [destination for destination, n in allowance.items() if n < 1]
        candidates = outbox.claimable(tx, now=now, limit=CLAIM_BATCH, skip=blocked)
        ids = ratelimit.pick_claims(candidates, allowance, default=burst, limit=CLAIM_BATCH)
        return outbox.claim(tx, ids, holder=self.holder, now=now, lease=self._settings.lease)

    async def deliver_due(self) -> int:
        """One pass: claim what is due and what the rate limits allow, and deliver it.
        Returns how many rows it handled."""
        now = self._clock()
        rows = await self._store.write(lambda tx: self._claim(tx, now))
        if rows:
            # One destination's rows go in claim order (a new incident's first message
            # first), one at a time; destinations in parallel.
            by_destination: dict[str, list[OutboxRow]] = {}
            for row in rows:
                by_destination.setdefault(row.destination, []).append(row)
            await asyncio.gather(
                *(self._deliver_in_order(group) for group in by_destination.values())
            )
        pending = await self._store.read(outbox.pending_count)
        self._metrics.outbox_pending.set(pending)
        return len(rows)

    async def _deliver_in_order(self, rows: list[OutboxRow]) -> None:
        for row in rows:
            await self._deliver(row)
            # Each row handled is progress, however long a slow destination makes the pass.
            self.health.succeeded(time.monotonic())

    def _count_error(self) -> None:
        self._metrics.loop_errors.labels("delivery").inc()

    async def _deliver(self, row: OutboxRow) -> None:
        notifier = self._notifiers.get((row.receiver, row.integration))
        if notifier is None:
            await self._bury(row, f"no integration {row.integration} in receiver {row.receiver}")
            return
        now = self._clock()
        calls = ratelimit.api_calls(
            row.notification.reason,
            updates_in_place=notifier.updates_in_place,
            threaded=bool(row.notification.thread),
        )
        # An action on an incident never posted makes no call: no bucket to load and save.
        wait = (
            0.0
            if calls == 0
            else await self._store.write(
                lambda tx: self._take_tokens(tx, row.destination, calls, now)
            )
        )
        if wait > 0:  # rate limited: try again when a token is back, without an attempt
            due = self._clock() + wait
            await self._store.write(
                lambda tx: outbox.retry_later(
                    tx,
                    row.id,
                    holder=self.holder,
                    due_at=due,
                    error="rate limited locally",
                    count_attempt=False,
                )
            )
            return
        notification = await self._with_emails(row.notification)
        try:
            refs = await asyncio.wait_for(notifier.send(notification), SEND_TIMEOUT)
        except DeliveryError as exc:
            await self._failed(row, exc)
            return
        except TimeoutError:
            await self._failed(row, DeliveryError("timed out", retryable=True, reason="timeout"))
            return
        except Exception as exc:  # a bug in a notifier must not lose the notification
            # Only the type: a third-party message could quote a webhook URL (a secret).
            log.error(
                "notifier crashed",
                extra={"integration": row.integration, "error_type": type(exc).__name__},
            )
            error = DeliveryError(type(exc).__name__, retryable=True, reason="internal")
            await self._failed(row, error)
            return
        await self._sent(row, dict(refs) if refs else None)

    async def _with_emails(self, notification: Notification) -> Notification:
        """The notification with its sample users' e-mails, or as it is if they cannot
        be had now."""
        ids = notification.sample_user_ids
        if self._emails is None or not ids:
            return notification
        try:
            found = await asyncio.wait_for(self._emails(ids), EMAIL_LOOKUP_TIMEOUT)
        except Exception as exc:  # e-mails are a nicety; the alert goes out regardless
            log.warning(
                "user e-mail lookup failed; sending without e-mails",
                extra={"notification": notification.id, "error_type": type(exc).__name__},
            )
            return notification
        addresses = tuple(dict.fromkeys(e for e in (found.get(i) for i in ids) if e))
        return notification.model_copy(update={"sample_user_emails": addresses})

    async def _sent(self, row: OutboxRow, refs: dict[str, str] | None) -> None:
        now = self._clock()
        acked = await self._store.write(
            lambda tx: outbox.ack(tx, row.id, holder=self.holder, now=now, refs=refs)
        )
        self._count(row, "sent")
        self._metrics.notification_latency.observe(max(0.0, now - row.created_at))
        log.info(
            "notification sent",
            extra={**_describe(row), "acked": acked},
        )

    async def _failed(self, row: OutboxRow, error: DeliveryError) -> None:
        now = self._clock()
        attempts = row.attempts + 1
        decision = after_failure(
            self._policy,
            attempts=attempts,
            created_at=row.created_at,
            now=now,
            retryable=error.retryable,
            retry_after=error.retry_after,
            rng=self._rng,
        )
        if isinstance(decision, GiveUp):
            await self._bury(row, f"{error.reason}: {error} ({decision.why})")
            return
        if (until := decision.pause_destination_until) is not None:
            await self._store.write(
                lambda tx: outbox.pause_destination(tx, row.destination, until=until)
            )
        await self._store.write(
            lambda tx: outbox.retry_later(
                tx,
                row.id,
                holder=self.holder,
                due_at=now + decision.delay,
                error=f"{error.reason}: {error}",
            )
        )
        self._count(row, "retry")
        log.warning(
            "notification will be retried",
            extra={
                **_describe(row),
                "reason": error.reason,
                "attempt": attempts,
                "retry_in_s": round(decision.delay, 2),
            },
        )

    async def _bury(self, row: OutboxRow, why: str) -> None:
        await self._store.write(lambda tx: outbox.bury(tx, row.id, holder=self.holder, error=why))
        self._count(row, "dead")
        log.error("notification moved to the dead letter", extra={**_describe(row), "error": why})

    def _take_tokens(self, tx: Tx, destination: str, calls: int, now: float) -> float:
        """Take a token per call of the destination's shared bucket: 0, or seconds to
        wait (then nothing is taken)."""
        tokens, updated_at = outbox.load_bucket(
            tx, destination, full=float(self._settings.burst), now=now
        )
        take = ratelimit.take_tokens(
            tokens,
            updated_at,
            now=now,
            rate=self._settings.rate_per_second,
            burst=self._settings.burst,
            calls=calls,
        )
        if take.wait == 0:
            outbox.save_bucket(tx, destination, tokens=take.tokens, now=now)
        return take.wait

    def _count(self, row: OutboxRow, result: str) -> None:
        kind = row.integration.partition("/")[0]
        self._metrics.notifications.labels(row.receiver, kind, result).inc()


def _describe(row: OutboxRow) -> dict[str, object]:
    return {
        "outbox_id": row.id,
        "receiver": row.receiver,
        "integration": row.integration,
        "destination": row.destination,
        "notification": row.notification.id,
        "reason_sent": row.notification.reason.value,
    }
