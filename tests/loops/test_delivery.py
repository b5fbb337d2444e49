"""The outbox and its worker: retries, back-off, Retry-After, dead letter, leases."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.errors import DeliveryError
from receiver.model import Reason
from receiver.rows import OutboxRow
from receiver.store import outbox
from tests.loops.harness import Engine, engine

pytestmark = pytest.mark.anyio


async def first_flush(e: Engine) -> None:
    await e.fail()
    e.clock.advance(30)
    await e.dispatcher.pass_once()


async def rows(e: Engine, status: str | None = None) -> list[OutboxRow]:
    return await e.store.read(lambda tx: outbox.list_rows(tx, status=status, limit=100))


async def test_retryable_errors_back_off_then_succeed(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url) as e:
        await first_flush(e)
        e.recorder.failures = [
            DeliveryError("server error", retryable=True, reason="serverError"),
            DeliveryError("server error", retryable=True, reason="serverError"),
        ]
        await e.worker.deliver_due()
        [row] = await rows(e)
        assert (row.status, row.attempts) == ("pending", 1)
        first_delay = row.due_at - e.clock()
        # attempt 1: between half and all of backoff_initial (2 s)
        assert 1.0 <= first_delay <= 2.0
        assert await e.worker.deliver_due() == 0  # not due yet
        e.clock.advance(first_delay)
        await e.worker.deliver_due()
        [row] = await rows(e)
        second_delay = row.due_at - e.clock()
        assert (row.attempts, 2.0 <= second_delay <= 4.0) == (2, True)
        e.clock.advance(second_delay)
        await e.worker.deliver_due()
        [row] = await rows(e)
        assert row.status == "sent"
        assert [n.reason for n in e.recorder.sent] == [Reason.FIRST]


async def test_retry_after_is_honoured_and_pauses_the_destination(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url) as e:
        await first_flush(e)
        e.recorder.failures = [
            DeliveryError("rate limited", retryable=True, reason="rateLimited", retry_after=42)
        ]
        await e.worker.deliver_due()
        [row] = await rows(e)
        assert row.due_at - e.clock() >= 42
        # Another group's message to the same destination waits for the pause as well.
        await e.fail(model="sdxl")
        e.clock.advance(30)
        await e.dispatcher.pass_once()
        assert await e.worker.deliver_due() == 0
        e.clock.advance(12)
        await e.settle()
        assert len(e.recorder.sent) == 2


async def test_permanent_errors_go_to_the_dead_letter_and_can_be_retried(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url) as e:
        await first_flush(e)
        e.recorder.failures = [
            DeliveryError("channel_not_found", retryable=False, reason="clientError")
        ]
        await e.worker.deliver_due()
        [row] = await rows(e, "dead")
        assert row.last_error is not None
        assert "channel_not_found" in row.last_error
        assert e.metrics.notifications.labels("default", "console", "dead")._value.get() == 1
        assert await e.store.write(lambda tx: outbox.requeue_dead(tx, None, now=e.clock())) == 1
        await e.worker.deliver_due()
        assert [r.status for r in await rows(e)] == ["sent"]


async def test_too_many_attempts_go_to_the_dead_letter(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url, delivery={"max_attempts": 3}) as e:
        await first_flush(e)
        e.recorder.failures = [
            DeliveryError("down", retryable=True, reason="serverError") for _ in range(5)
        ]
        for _ in range(3):
            await e.worker.deliver_due()
            e.clock.advance(600)
        [row] = await rows(e)
        assert (row.status, row.attempts) == ("dead", 3)


async def test_a_dead_workers_claim_is_retaken_after_its_lease(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url) as e:
        await first_flush(e)
        # A worker claims the row and dies before sending (nothing acks it).
        claimed = await e.store.write(
            lambda tx: outbox.claim(
                tx,
                [i for i, _ in outbox.claimable(tx, now=e.clock(), limit=5)],
                holder="dead-worker",
                now=e.clock(),
                lease=60,
            )
        )
        assert len(claimed) == 1
        assert await e.worker.deliver_due() == 0  # still leased
        e.clock.advance(60)
        assert await e.worker.deliver_due() == 1
        assert len(e.recorder.sent) == 1
        # The dead worker's late ack changes nothing.
        late = await e.store.write(
            lambda tx: outbox.ack(tx, claimed[0].id, holder="dead-worker", now=e.clock(), refs=None)
        )
        assert late is False


async def test_flushes_of_one_stream_go_in_order_with_the_thread_refs(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url) as e:
        await first_flush(e)
        e.recorder.failures = [DeliveryError("down", retryable=True, reason="serverError")]
        await e.worker.deliver_due()  # the first message fails once
        e.clock.advance(300)
        await e.fail(error="Rate limit exceeded again")
        await e.dispatcher.pass_once()  # the update is written behind it
        await e.worker.deliver_due()
        await e.worker.deliver_due()
        assert [n.sequence for n in e.recorder.sent] == [1, 2]
        # The second flush carries what the first one's send returned.
        assert e.recorder.sent[0].thread is None
        assert e.recorder.sent[1].thread == {"seen": "1"}
