"""Grouping end to end on a real store: bursts become a handful of messages."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from receiver.loops.sweep_state import StoreSweepState
from receiver.model import Reason
from tests.loops.harness import engine

pytestmark = pytest.mark.anyio


async def test_a_burst_of_1000_over_4_groups_is_4_notifications(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url) as e:
        groups = [
            ("flux-pro", "Rate limit exceeded"),
            ("flux-pro", "Request timed out"),
            ("sdxl", "Rate limit exceeded"),
            ("sdxl", "Request timed out"),
        ]
        # Request numbers vary per failure; none contains "429", which the guide's rule
        # would (rightly) classify as a rate limit.
        numbers = [n for n in range(10_000, 12_000) if "429" not in str(n)][:1000]
        await asyncio.gather(
            *(
                e.fail(model=groups[i % 4][0], error=f"{groups[i % 4][1]} #{n}", user=f"u{i % 37}")
                for i, n in enumerate(numbers)
            )
        )
        e.clock.advance(29)
        await e.settle()
        assert e.recorder.sent == []  # still inside group_wait
        e.clock.advance(1)
        await e.settle()
        # One destination takes a burst of 3, then one message a second.
        assert len(e.recorder.sent) == 3
        e.clock.advance(1)
        await e.settle()
        sent = e.recorder.sent
        assert len(sent) == 4
        assert sum(n.window_failures for n in sent) == 1000
        assert {n.reason for n in sent} == {Reason.FIRST}
        assert {(n.labels["category"], n.labels["model_id"]) for n in sent} == {
            ("rate_limit", "flux-pro"),
            ("timeout", "flux-pro"),
            ("rate_limit", "sdxl"),
            ("timeout", "sdxl"),
        }
        # "#i" is a number, normalized away: one distinct error per group.
        assert [[(err.count, err.new) for err in n.top_errors] for n in sent] == [
            [(250, False)]
        ] * 4


async def test_growth_updates_then_repeat_then_resolves(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url) as e:
        await e.fail(error="Rate limit exceeded", user="a")
        e.clock.advance(30)
        await e.settle()
        assert [n.reason for n in e.recorder.sent] == [Reason.FIRST]

        # Same error again, before group_interval: held until the interval is up.
        e.clock.advance(60)
        await e.fail(error="Rate limit exceeded", user="b")
        await e.settle()
        assert len(e.recorder.sent) == 1
        e.clock.advance(240)
        await e.settle()
        update = e.recorder.sent[-1]
        assert (update.reason, update.window_failures, update.episode_failures) == (
            Reason.NEW_FAILURES,
            1,
            2,
        )
        assert update.users_affected == 2
        assert update.sequence == 2
        assert update.episode == 1

        # A different message in the same group is a new error, marked new.
        e.clock.advance(300)
        await e.fail(error="429 Too Many Requests from upstream", user="b")
        await e.settle()
        newest = e.recorder.sent[-1]
        assert newest.reason is Reason.NEW_ERROR
        assert [err.new for err in newest.top_errors] == [True, False]

        # 30 minutes of quiet resolves the group, once.
        e.clock.advance(1800)
        await e.settle()
        await e.settle()
        assert [n.reason for n in e.recorder.sent][-1] is Reason.RESOLVED
        count = len(e.recorder.sent)

        # The next failure opens a new episode with a new first message.
        e.clock.advance(100)
        await e.fail(error="Rate limit exceeded", user="c")
        e.clock.advance(30)
        await e.settle()
        assert len(e.recorder.sent) == count + 1
        reopened = e.recorder.sent[-1]
        assert (reopened.reason, reopened.episode, reopened.episode_failures) == (
            Reason.FIRST,
            2,
            1,
        )


async def test_a_failing_group_repeats_every_repeat_interval(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url, repeat_interval="1h", resolve_after="2h") as e:
        await e.fail()
        e.clock.advance(30)
        await e.settle()
        for _ in range(3):  # keeps failing at a trickle, already notified each time
            e.clock.advance(20 * 60)
            await e.fail()
            await e.settle()
        reasons = [n.reason for n in e.recorder.sent]
        assert reasons.count(Reason.REPEAT) == 0
        assert reasons.count(Reason.NEW_FAILURES) == 3
        e.clock.advance(3600)
        await e.settle()
        assert e.recorder.sent[-1].reason is Reason.REPEAT


async def test_duplicates_are_counted_once(tmp_path: Path, state_url: str | None) -> None:
    async with engine(tmp_path, state_url=state_url) as e:
        await e.fail()
        e.seq -= 1  # the same generation and error again, e.g. webhook and sweep
        assert await e.fail() is False
        e.clock.advance(30)
        await e.settle()
        assert [n.window_failures for n in e.recorder.sent] == [1]


async def test_send_resolved_false_closes_quietly(tmp_path: Path, state_url: str | None) -> None:
    yaml_route = {"receiver": "default", "send_resolved": False}
    async with engine(tmp_path, state_url=state_url, route=yaml_route) as e:
        await e.fail()
        e.clock.advance(30)
        await e.settle()
        e.clock.advance(1800)
        await e.settle()
        assert [n.reason for n in e.recorder.sent] == [Reason.FIRST]


async def test_a_stuck_group_resolves_when_its_generations_leave_processing(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url) as e:
        sweep = StoreSweepState(e.store)
        assert await e.stuck("g1") is True
        assert await e.stuck("g2") is True
        assert await e.stuck("g1") is False  # once per generation
        e.clock.advance(30)
        await e.settle()
        [first] = e.recorder.sent
        assert (first.labels["category"], first.window_failures) == ("stuck", 2)
        assert first.top_errors[0].message == "Generation stuck in processing"

        await sweep.clear_stuck(["g1"], now=e.clock())
        e.clock.advance(1)
        await e.settle()
        assert len(e.recorder.sent) == 1  # g2 is still stuck
        await sweep.clear_stuck(["g2"], now=e.clock())
        e.clock.advance(1)
        await e.settle()
        assert [n.reason for n in e.recorder.sent] == [Reason.FIRST, Reason.RESOLVED]


async def test_a_pass_absorbs_at_most_the_stores_background_batch(
    tmp_path: Path, state_url: str | None
) -> None:
    # SQLite's webhooks wait behind the dispatcher's transaction: it must stay small.
    async with engine(tmp_path, state_url=state_url) as e:
        batch = e.store.background_batch
        await asyncio.gather(*(e.fail(error=f"Rate limit exceeded #{n}") for n in range(batch + 1)))
        assert await e.dispatcher.pass_once() is True  # a full batch: go again at once
        assert await e.dispatcher.pass_once() is False  # the one left over
        e.clock.advance(30)
        await e.settle()
        assert [n.window_failures for n in e.recorder.sent] == [batch + 1]
