"""Storm control on a real store (SQLite and PostgreSQL): a flood of distinct failures
folds into an overflow group, updates beyond a receiver's budget become one digest, a
new incident's first message is delivered before a backlog of updates, the worker
claims only what its tokens allow, and a restart in the middle of a backlog loses
nothing and sends nothing twice (beyond the documented crash window)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pytest

from receiver.loops.delivery import DeliveryWorker
from receiver.model import Notification, Reason
from receiver.store import open_store, outbox
from tests.loops.harness import Engine, Recorder, engine

pytestmark = pytest.mark.anyio

FLOOD_ERROR = "No such LoRA"  # classified `unknown`, one group per model
FAST = {"rate_per_second": 1000.0, "burst": 1000}  # delivery out of the way


async def flood(e: Engine, models: int, *, prefix: str = "lora") -> None:
    for i in range(models):
        await e.fail(model=f"{prefix}-{i:04d}", error=FLOOD_ERROR, user=f"u{i}")


def by_reason(sent: list[Notification], reason: Reason) -> list[Notification]:
    return [n for n in sent if n.reason is reason]


async def test_a_flood_beyond_the_cap_folds_into_one_overflow_group(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url, max_groups=5, delivery=FAST) as e:
        await flood(e, 40)
        e.clock.advance(30)
        await e.settle()
        firsts = by_reason(e.recorder.sent, Reason.FIRST)
        # Five groups of their own, and one overflow group standing for the other 35.
        assert len(e.recorder.sent) == len(firsts) == 6
        [overflow] = [n for n in firsts if n.folded]
        assert overflow.folded == 35
        assert overflow.window_failures == 35
        assert overflow.labels == {"category": "unknown", "overflow": "model"}
        assert overflow.folded_names == tuple(f"lora-{i:04d}" for i in range(5, 10))
        assert overflow.title == "unknown on 35 more models"
        own = sorted(n.labels["model_id"] for n in firsts if not n.folded)
        assert own == [f"lora-{i:04d}" for i in range(5)]
        assert e.metrics.folded.labels("route", "unknown")._value.get() == 35


async def test_the_overflow_group_updates_in_place(tmp_path: Path, state_url: str | None) -> None:
    async with engine(tmp_path, state_url=state_url, max_groups=2, delivery=FAST) as e:
        await flood(e, 5)
        e.clock.advance(30)
        await e.settle()
        # More failures of folded models, and of models never seen: all to the overflow.
        await e.fail(model="lora-0003", error=FLOOD_ERROR)
        await flood(e, 4, prefix="late")
        e.clock.advance(300)
        await e.settle()
        [first, update] = [n for n in e.recorder.sent if n.folded]
        assert (first.reason, update.reason) == (Reason.FIRST, Reason.NEW_ERROR)
        assert first.group_key == update.group_key  # one incident, one message updated
        assert (first.folded, update.folded) == (3, 7)
        assert update.window_failures == 5
        assert update.episode_failures == 8


async def test_a_new_kind_of_failure_is_never_folded_into_a_flood(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url, max_groups=3, delivery=FAST) as e:
        await flood(e, 20)
        e.clock.advance(5)
        await e.fail(model="flux-pro", error="Request timed out")
        e.clock.advance(30)
        await e.settle()
        [incident] = [n for n in e.recorder.sent if n.labels.get("category") == "timeout"]
        assert (incident.reason, incident.folded) == (Reason.FIRST, 0)
        assert incident.labels == {"category": "timeout", "model_id": "flux-pro"}
        # An open group keeps growing even while its route is at the cap.
        await e.fail(model="lora-0000", error=FLOOD_ERROR)
        e.clock.advance(300)
        await e.settle()
        [grown] = by_reason(e.recorder.sent, Reason.NEW_FAILURES)
        assert grown.labels["model_id"] == "lora-0000"


async def test_updates_beyond_the_budget_become_one_digest(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(
        tmp_path,
        state_url=state_url,
        max_notifications=2,
        notification_period="10m",
        delivery=FAST,
    ) as e:
        models = ["m-a", "m-b", "m-c", "m-d"]
        for model in models:
            await e.fail(model=model, error=FLOOD_ERROR)
        e.clock.advance(30)
        await e.settle()
        # First messages are never held: four new incidents, four messages.
        assert len(by_reason(e.recorder.sent, Reason.FIRST)) == 4
        for _wave in range(2):
            for model in models:
                await e.fail(model=model, error=FLOOD_ERROR)
            e.clock.advance(300)
            await e.settle()
        updates = by_reason(e.recorder.sent, Reason.NEW_FAILURES)
        # The budget (2 per 10 min) lets two updates through; six were held back,
        # merged per group: two in the first wave, all four in the second.
        assert [n.labels["model_id"] for n in updates] == ["m-a", "m-b"]
        assert e.metrics.held.labels("default")._value.get() == 6
        assert by_reason(e.recorder.sent, Reason.DIGEST) == []
        e.clock.advance(299)  # the window opened with the first update, 600 s ago less 1 s
        await e.settle()
        assert by_reason(e.recorder.sent, Reason.DIGEST) == []
        e.clock.advance(1)
        await e.settle()
        [digest] = by_reason(e.recorder.sent, Reason.DIGEST)
        listed = {entry.title: entry for entry in digest.digest}
        assert sorted(listed) == [f"unknown on {m}" for m in models]
        # m-c and m-d were held in both waves: one line each, their failures summed.
        assert {t: e.window_failures for t, e in listed.items()} == {
            "unknown on m-a": 1,
            "unknown on m-b": 1,
            "unknown on m-c": 2,
            "unknown on m-d": 2,
        }
        assert all(entry.episode_failures == 3 for entry in digest.digest)
        # Nothing is held any more, and the next digest needs new held-back updates.
        e.clock.advance(1200)
        await e.settle()
        assert len(by_reason(e.recorder.sent, Reason.DIGEST)) == 1


async def test_a_new_incident_goes_before_a_backlog_of_updates(
    tmp_path: Path, state_url: str | None
) -> None:
    slow = {"rate_per_second": 0.1, "burst": 3}  # a token every 10 s
    async with engine(tmp_path, state_url=state_url, max_notifications=1000, delivery=slow) as e:
        models = [f"m-{i:02d}" for i in range(20)]
        for model in models:
            await e.fail(model=model, error=FLOOD_ERROR)
        e.clock.advance(30)
        for _ in range(20):  # deliver the 20 first messages, a token every 10 s
            await e.settle()
            e.clock.advance(10)
        assert len(e.recorder.sent) == 20
        for model in models:
            await e.fail(model=model, error=FLOOD_ERROR)
        e.clock.advance(300)
        await e.settle()  # 20 updates written; the bucket's tokens send 3 of them
        assert len(e.recorder.sent) == 23
        waiting = await e.store.read(lambda tx: outbox.list_rows(tx, status="pending", limit=50))
        oldest_first = [row.notification.id for row in sorted(waiting, key=lambda r: r.id)]
        # A new incident while 17 updates wait: its first message is next.
        await e.fail(model="flux-pro", error="Request timed out")
        e.clock.advance(30)  # group_wait; 3 tokens are back
        await e.settle()
        newest = e.recorder.sent[23]
        assert (newest.reason, newest.labels["category"]) == (Reason.FIRST, "timeout")
        # Then the updates, oldest first.
        assert [n.id for n in e.recorder.sent[24:26]] == oldest_first[:2]
        assert {n.reason for n in e.recorder.sent[24:26]} == {Reason.NEW_FAILURES}
        assert await e.store.read(outbox.pending_count) == 15


async def test_the_worker_claims_only_what_its_tokens_allow(
    tmp_path: Path, state_url: str | None
) -> None:
    slow = {"rate_per_second": 0.5, "burst": 2}
    async with engine(tmp_path, state_url=state_url, delivery=slow) as e:
        for i in range(10):
            await e.fail(model=f"m-{i}", error=FLOOD_ERROR)
        e.clock.advance(30)
        await e.dispatcher.pass_once()
        assert await e.worker.deliver_due() == 2  # the burst
        # No token: nothing claimed, nothing rescheduled (no write per waiting row) ...
        assert await e.worker.deliver_due() == 0
        pending = await e.store.read(lambda tx: outbox.list_rows(tx, status="pending", limit=50))
        assert len(pending) == 8
        assert all(row.last_error is None and row.due_at <= e.clock() for row in pending)
        # ... and the worker sleeps until the next token (2 s at 0.5/s), not a poll.
        assert await e.worker._until_next_due() == pytest.approx(1.0)  # capped at IDLE_POLL
        e.clock.advance(1.5)
        assert await e.worker._until_next_due() == pytest.approx(0.5)
        e.clock.advance(0.5)
        assert await e.worker.deliver_due() == 1


class Crashing(Recorder):
    """Sends, then dies before the worker can ack: the documented crash window."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    async def send(self, notification: Notification) -> Mapping[str, str] | None:
        refs = await super().send(notification)
        if len(self.sent) == self.after:
            raise asyncio.CancelledError  # the process is killed here
        return refs


async def test_a_restart_in_the_middle_of_a_backlog_loses_nothing(
    tmp_path: Path, state_url: str | None
) -> None:
    slow = {"rate_per_second": 1.0, "burst": 3}
    async with engine(tmp_path, state_url=state_url, max_groups=100, delivery=slow) as e:
        for i in range(30):
            await e.fail(model=f"m-{i:02d}", error=FLOOD_ERROR)
        e.clock.advance(30)
        await e.dispatcher.pass_once()
        crashing = Crashing(after=5)
        first = worker(e, crashing, holder="before")
        with pytest.raises(asyncio.CancelledError):  # noqa: PT012 (the crash comes mid-way)
            for _ in range(10):
                await first.deliver_due()
                e.clock.advance(1)
        await e.store.close()

        # A new process: a new store connection and a new worker.
        e.store = open_store(state_url or f"sqlite:///{tmp_path}/fw.db", pool_size=2)
        await e.store.open()
        try:
            recorder = Recorder()
            after = worker(e, recorder, holder="after")
            for _ in range(100):
                await after.deliver_due()
                e.clock.advance(1)
            sent = Counter(n.id for n in crashing.sent + recorder.sent)
            # Every notification arrived; only the one sent but never acked went twice.
            assert len(sent) == 30
            assert [n for n, times in sent.items() if times > 1] == [crashing.sent[-1].id]
            assert await e.store.read(outbox.pending_count) == 0
        finally:
            await e.store.close()


def worker(e: Engine, recorder: Recorder, *, holder: str) -> DeliveryWorker:
    return DeliveryWorker(
        store=e.store,
        notifiers={("default", "console"): recorder},
        settings=e.settings.delivery,
        metrics=e.metrics,
        clock=e.clock,
        holder=holder,
    )
