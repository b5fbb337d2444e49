"""Acting on incidents against a real store: each action changes the incident, its
message and its thread once, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from receiver.config.integrations import IntegrationSpec
from receiver.engine.incidents import Action, ActionSource, Actor, Outcome
from receiver.loops import silences
from receiver.loops.incidents import IncidentFilter, act, list_incidents, show_incident
from receiver.model import Reason
from tests.loops.harness import Engine, engine

pytestmark = pytest.mark.anyio

ALICE = Actor("U0ALICE", "Alice", ActionSource.SLACK, team="T0TEAM")
BOB = Actor("U0BOB", "Bob", ActionSource.SLACK, team="T0TEAM")
# The harness's one destination, as a bot-mode Slack would be: it gets action updates.
UPDATES = {"default": [IntegrationSpec("default", "console", "console", "recorder", True)]}
# Far from resolving by quiet time, so that only actions end an episode here.
TIMINGS: dict[str, Any] = {"resolve_after": "10h", "repeat_interval": "1h"}


async def opened(e: Engine, model: str = "flux-pro") -> str:
    """One incident whose first message went out; its id."""
    for _ in range(3):
        await e.fail(model=model)
    e.clock.advance(31)
    await e.settle()
    found = await list_incidents(
        e.store, IncidentFilter(model_id=model, state="open"), now=e.clock()
    )
    assert len(found) == 1
    return found[0].id


async def do(e: Engine, incident: str, action: Action, actor: Actor = ALICE, **kw: str) -> Outcome:
    result = await act(e.store, incident, action, actor, integrations=UPDATES, now=e.clock(), **kw)
    await e.settle()
    return result.outcome


async def states(e: Engine) -> dict[str, list[str]]:
    found = {}
    for state in ("open", "acknowledged", "muted", "resolved"):
        rows = await list_incidents(e.store, IncidentFilter(state=state), now=e.clock())
        found[state] = [r.id for r in rows]
    return found


async def test_acknowledge_updates_the_message_once_and_stops_repeats(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url, **TIMINGS) as e:
        acked = await opened(e, "flux-pro")
        other = await opened(e, "sdxl")
        sent = len(e.recorder.sent)
        assert await do(e, acked, Action.ACK, action_ts="1.000001") is Outcome.DONE
        update = e.recorder.sent[sent]
        assert update.reason is Reason.ACTION
        assert update.action is not None
        assert update.action.startswith("Acknowledged by Alice")
        assert update.incident is not None
        assert update.incident.state == "acknowledged"
        # Slack retries the same click: nothing more; a second click: nothing more.
        assert await do(e, acked, Action.ACK, action_ts="1.000001") is Outcome.DUPLICATE
        assert await do(e, acked, Action.ACK, BOB, action_ts="1.000002") is Outcome.UNCHANGED
        assert len(e.recorder.sent) == sent + 1
        assert (await states(e))["acknowledged"] == [acked]
        # An hour on, the unacknowledged incident is re-posted, the acknowledged is not.
        e.clock.advance(3601)
        await e.settle()
        repeats = [n for n in e.recorder.sent[sent + 1 :] if n.reason is Reason.REPEAT]
        assert [n.labels["model_id"] for n in repeats] == ["sdxl"]
        assert other != acked
        # New failures still reach the acknowledged incident's thread.
        await e.fail(model="flux-pro", error="Rate limit exceeded: too many concurrent requests")
        e.clock.advance(301)
        await e.settle()
        assert e.recorder.sent[-1].labels["model_id"] == "flux-pro"
        assert e.recorder.sent[-1].reason is Reason.NEW_ERROR
        assert e.recorder.sent[-1].incident is not None
        assert e.recorder.sent[-1].incident.acked_by == "Alice"


async def test_mute_is_a_real_silence_and_unmute_ends_it(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url, **TIMINGS) as e:
        incident = await opened(e)
        assert await do(e, incident, Action.MUTE, BOB, argument="2h") is Outcome.REFUSED
        assert await do(e, incident, Action.MUTE, BOB, argument="1h") is Outcome.DONE
        assert await do(e, incident, Action.MUTE, ALICE, argument="4h") is Outcome.UNCHANGED
        running = await silences.listing(e.store, include_expired=False, now=e.clock())
        assert len(running) == 1
        silence = running[0]
        assert silence.author == "slack:U0BOB"
        assert silence.comment == "muted from Slack"
        assert sorted(str(m) for m in silence.matchers) == [
            'category="rate_limit"',
            'model_id="flux-pro"',
        ]
        assert silence.ends_at == e.clock() + 3600
        assert (await states(e))["muted"] == [incident]
        assert e.recorder.sent[-1].action == "Muted until 09:00 UTC by Bob"  # 08:00:31 + 1 h
        # Failures of the muted incident are held, not notified.
        sent = len(e.recorder.sent)
        await e.fail()
        e.clock.advance(301)
        await e.settle()
        assert len(e.recorder.sent) == sent
        assert await do(e, incident, Action.UNMUTE, ALICE) is Outcome.DONE
        assert await do(e, incident, Action.UNMUTE, ALICE) is Outcome.UNCHANGED
        assert await silences.listing(e.store, include_expired=False, now=e.clock()) == []
        assert (await states(e))["open"] == [incident]
        assert any(n.action and n.action.startswith("Unmuted by Alice") for n in e.recorder.sent)


async def test_resolve_ends_the_episode_and_the_next_failure_opens_a_new_incident(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url, **TIMINGS) as e:
        first = await opened(e)
        await do(e, first, Action.ACK)
        assert await do(e, first, Action.RESOLVE, BOB) is Outcome.DONE
        resolved = e.recorder.sent[-1]
        assert resolved.reason is Reason.RESOLVED
        assert resolved.incident is not None
        assert resolved.incident.resolved_by == "Bob"
        assert await do(e, first, Action.RESOLVE, ALICE) is Outcome.UNCHANGED
        assert await do(e, first, Action.ACK, ALICE) is Outcome.REFUSED
        assert await do(e, first, Action.MUTE, ALICE, argument="1h") is Outcome.REFUSED
        second = await opened(e)
        assert second != first
        assert await states(e) == {
            "open": [second],
            "acknowledged": [],
            "muted": [],
            "resolved": [first],
        }
        timeline = await show_incident(e.store, first)
        assert timeline is not None
        assert [(a.action, a.actor_name, a.source) for a in timeline.actions] == [
            ("ack", "Alice", "slack"),
            ("resolve", "Bob", "slack"),
        ]
        assert [n.notification.reason for n in timeline.notifications] == [
            Reason.FIRST,
            Reason.ACTION,
            Reason.RESOLVED,
        ]
        assert timeline.incident.failures == 3
        assert timeline.incident.resolved_by == "Bob"


async def test_unknown_and_malformed_incidents_change_nothing(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url) as e:
        for incident in ("0" * 24 + "-1", "../etc", "", "x" * 10_000):
            assert await do(e, incident, Action.ACK) is Outcome.UNKNOWN
            assert await show_incident(e.store, incident) is None


async def test_filters_find_by_category_model_time_and_text(
    tmp_path: Path, state_url: str | None
) -> None:
    async with engine(tmp_path, state_url=state_url, **TIMINGS) as e:
        start = e.clock()
        flux = await opened(e, "flux-pro")
        e.clock.advance(3600)
        sdxl = await opened(e, "sdxl_1%")

        async def ids(**query: Any) -> list[str]:
            found = await list_incidents(e.store, IncidentFilter(**query), now=e.clock())
            return [r.id for r in found]

        assert await ids() == [sdxl, flux]
        assert await ids(model_id="flux-pro") == [flux]
        assert await ids(category="rate_limit") == [sdxl, flux]
        assert await ids(category="timeout") == []
        assert await ids(until=start + 60) == [flux]
        assert await ids(text="SDXL_1%") == [sdxl]
        assert await ids(text="_1") == [sdxl]
        assert await ids(text="rate limit EXCEEDED") == [sdxl, flux]
        assert await ids(limit=1, offset=1) == [flux]
