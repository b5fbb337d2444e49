"""Time intervals and mentions on a real store (SQLite and PostgreSQL), with a clock the
test moves: a muted route stores and counts its failures, sends nothing, and notifies
an incident still open when the mute ends, then; an incident that ends while muted ends
quietly; another route of the same failures is not muted; the first message and a new
error carry the route's mention, updates do not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from receiver.model import Reason
from receiver.store import incidents
from tests.loops.harness import Engine, engine

pytestmark = pytest.mark.anyio

# The harness's clock starts on Friday 2027-01-15 at 08:00 UTC; this mutes 08:00-09:00.
START = 1_800_000_000.0
MUTE_LEFT = 3600.0
RESOLVE_AFTER = 600.0
SETTINGS: dict[str, Any] = {
    "receivers": [
        {"name": "email", "console": True},
        {"name": "slack", "console": True, "mention": ["here"]},
    ],
    "time_intervals": [
        {
            "name": "morning",
            "time_intervals": [{"times": [{"start_time": "08:00", "end_time": "09:00"}]}],
        }
    ],
    "route": {
        "receiver": "slack",
        "group_wait": "30s",
        "group_interval": "5m",
        "resolve_after": "10m",
        "routes": [
            {"receiver": "email", "mute_time_intervals": ["morning"], "continue": True},
            {"receiver": "slack"},
        ],
    },
    "delivery": {"rate_per_second": 1000.0, "burst": 1000},
}


def sent_to(e: Engine, receiver: str) -> list[tuple[Reason, int]]:
    return [(n.reason, n.episode_failures) for n in e.recorder.sent if n.receiver == receiver]


async def test_a_muted_route_counts_and_notifies_when_the_mute_ends(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url, **SETTINGS) as e:
        assert e.clock() == START
        for _ in range(3):
            await e.fail()
        e.clock.advance(30)
        await e.settle()
        # The unmuted route speaks at group_wait; the muted one says nothing.
        assert sent_to(e, "slack") == [(Reason.FIRST, 3)]
        assert sent_to(e, "email") == []
        # Failures keep coming during the mute (often enough to keep the incident open),
        # and are counted.
        for _ in range(11):
            e.clock.advance(300)
            await e.fail()
            await e.settle()
        assert e.clock() == START + 3330
        e.clock.advance(MUTE_LEFT - 3330 - 1)
        await e.settle()
        assert sent_to(e, "email") == []
        # The loop wakes at the mute's end and sends the first message, with every count.
        e.clock.advance(1)
        await e.settle()
        assert sent_to(e, "email") == [(Reason.FIRST, 14)]


async def test_an_incident_that_ends_while_muted_ends_quietly(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url, **SETTINGS) as e:
        await e.fail()
        e.clock.advance(30)
        await e.settle()
        e.clock.advance(RESOLVE_AFTER)
        await e.settle()
        # The unmuted route resolves and says so; the muted one resolved without a word.
        assert sent_to(e, "slack") == [(Reason.FIRST, 1), (Reason.RESOLVED, 1)]
        assert sent_to(e, "email") == []
        now = e.clock()
        counts = await e.store.read(lambda tx: incidents.count_by_state(tx, now=now))
        assert counts["resolved"] == 2
        assert counts["open"] == 0
        # The mute ends: nothing is owed.
        e.clock.advance(MUTE_LEFT)
        await e.settle()
        assert sent_to(e, "email") == []


async def test_mentions_go_on_the_first_message_and_new_errors_only(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url, **SETTINGS) as e:
        await e.fail(error="Rate limit exceeded")
        e.clock.advance(30)
        await e.settle()
        await e.fail(error="Rate limit exceeded")
        e.clock.advance(300)
        await e.settle()
        await e.fail(error="Too many requests for this key")
        e.clock.advance(300)
        await e.settle()
        slack = [(n.reason, n.mentions) for n in e.recorder.sent if n.receiver == "slack"]
        assert slack == [
            (Reason.FIRST, ("here",)),
            (Reason.NEW_FAILURES, ()),
            (Reason.NEW_ERROR, ("here",)),
        ]
        # The e-mail receiver's route sets no mention, and its receiver has none.
        assert all(n.mentions == () for n in e.recorder.sent if n.receiver == "email")
