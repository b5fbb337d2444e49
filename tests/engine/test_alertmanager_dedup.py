"""Alertmanager's notify/notify_test.go, TestDedupStageNeedsUpdate, against `decide`.

Alertmanager compares the alerts of a group with its notification log entry; failwatch
keeps a group state instead (what is pending, when it last spoke). Each case below states
Alertmanager's situation and answer (facts from that table, written anew), the failwatch
state that is the same situation, and failwatch's answer. A failure is an event rather
than an alert that stays firing, so "firing alerts" are failures that keep coming and
"all resolved" is `resolve_after` without any.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from receiver.engine.grouping import GroupState, decide, next_due
from receiver.engine.routing import Timing
from receiver.model import Reason
from tests.engine import alertmanager_cases as am

NOW = 100_000.0
MINUTE = 60.0


def timing(
    *, send_resolved: bool = True, repeat_interval: float = 600, resolve_after: float = 1800
) -> Timing:
    # repeat_interval 10m as in the table; group_interval 5m, resolve_after 30m.
    return Timing(
        group_wait=30,
        group_interval=300,
        repeat_interval=repeat_interval,
        resolve_after=resolve_after,
        send_resolved=send_resolved,
    )


def state(**changes: object) -> GroupState:
    base: dict[str, object] = {
        "opened_at": NOW - 3600,
        "last_active": NOW - 9 * MINUTE,
        "flushes": 1,
        "pending": 0,
        "pending_since": None,
        "last_flush_at": NOW - 9 * MINUTE,
        "has_new_error": False,
    }
    base.update(changes)
    return GroupState(**base)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class DedupCase:
    situation: str  # Alertmanager's case, in words
    alertmanager_updates: bool
    group: GroupState
    send_resolved: bool
    failwatch: Reason | None
    verdict: str | None = None


CASES = [
    DedupCase(
        "no log entry, alerts firing: update",
        True,
        state(flushes=0, last_flush_at=None, pending=3, pending_since=NOW - MINUTE),
        True,
        Reason.FIRST,
    ),
    # A group whose failures were all silenced never spoke and has nothing to say.
    DedupCase(
        "no log entry, only resolved alerts: no update",
        False,
        state(flushes=0, last_flush_at=None, pending=0, last_active=NOW - MINUTE),
        True,
        None,
    ),
    DedupCase(
        "a different set of firing alerts: update",
        True,
        state(pending=1, pending_since=NOW - MINUTE, last_flush_at=NOW - 6 * MINUTE),
        True,
        Reason.NEW_FAILURES,
    ),
    DedupCase(
        "the same firing alerts before repeat_interval: no update",
        False,
        state(),
        True,
        None,
    ),
    DedupCase(
        "the same firing alerts after repeat_interval: update",
        True,
        state(last_flush_at=NOW - 11 * MINUTE, last_active=NOW - MINUTE),
        True,
        Reason.REPEAT,
    ),
    # The last notification said "resolved": the episode is over.
    DedupCase(
        "only resolved alerts, logged as resolved, after repeat_interval: no update",
        False,
        state(resolved=True, last_flush_at=NOW - 11 * MINUTE),
        True,
        None,
    ),
    DedupCase(
        "some alerts newly resolved, send_resolved off: no update",
        False,
        state(),
        False,
        None,
    ),
    # Alertmanager tells that some alerts of the group resolved; failwatch's group has no
    # partly resolved state and waits for resolve_after.
    DedupCase(
        "some alerts newly resolved, send_resolved on: update",
        True,
        state(),
        True,
        None,
        "A group resolves as a whole",
    ),
    # With send_resolved off, the group closes without a message (`flush`); Alertmanager
    # too sends nothing, as its integration drops resolved alerts.
    DedupCase(
        "all alerts resolved, send_resolved off: update",
        True,
        state(last_active=NOW - 31 * MINUTE),
        False,
        Reason.RESOLVED,
    ),
    DedupCase(
        "all alerts resolved, send_resolved on: update",
        True,
        state(last_active=NOW - 31 * MINUTE),
        True,
        Reason.RESOLVED,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.situation)
def test_dedup_table(case: DedupCase) -> None:
    reason = decide(case.group, NOW, timing(send_resolved=case.send_resolved))
    assert reason is case.failwatch
    if case.verdict is None:
        assert (reason is not None) is case.alertmanager_updates
    else:
        assert case.verdict in am.DIFFERENCES


# Not applicable: "a zero timestamp in the log entry always updates" is about
# Alertmanager's notification log records, which failwatch does not have.


def test_a_repeat_interval_shorter_than_group_interval_waits_for_it() -> None:
    # dispatch.go warns: "repeat_interval is less than group_interval. Notifications will
    # not repeat until the next group_interval." A repeat goes out on a group_interval
    # tick, the first one at or after repeat_interval.
    t = timing(repeat_interval=60, resolve_after=7200)
    group = state(last_flush_at=NOW, last_active=NOW)
    assert decide(group, NOW + 60, t) is None
    assert decide(group, NOW + 299, t) is None
    assert decide(group, NOW + 300, t) is Reason.REPEAT
    assert next_due(group, t) == NOW + 300
    # 7 minutes with ticks every 5: the second tick, at 10 minutes.
    t7 = timing(repeat_interval=420, resolve_after=7200)
    assert decide(group, NOW + 599, t7) is None
    assert decide(group, NOW + 600, t7) is Reason.REPEAT


def test_new_failures_after_a_quiet_spell_go_out_at_once() -> None:
    # Listed difference: Alertmanager would hold them for its next group_interval tick
    # (at NOW + 200 here, ticks being every 300 s from the last message).
    group = state(last_flush_at=NOW - 1000, last_active=NOW, pending=1, pending_since=NOW)
    assert decide(group, NOW, timing()) is Reason.NEW_FAILURES
    assert "New failures after a quiet spell go out at once" in am.DIFFERENCES
