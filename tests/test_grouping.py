"""The grouping decision as a table: (group state, now) → reason."""

from __future__ import annotations

import pytest

from receiver.grouping import GroupState, decide, next_due
from receiver.model import Reason
from receiver.routing import Timing

T = Timing(
    group_wait=30, group_interval=300, repeat_interval=14400, resolve_after=1800, send_resolved=True
)


def state(**changes: object) -> GroupState:
    base: dict[str, object] = {
        "opened_at": 1000.0,
        "last_active": 1000.0,
        "flushes": 0,
        "pending": 1,
        "pending_since": 1000.0,
        "last_flush_at": None,
        "has_new_error": False,
    }
    base.update(changes)
    return GroupState(**base)  # type: ignore[arg-type]


CASES = [
    # A new group waits group_wait before its first message.
    ("new group inside group_wait", state(), 1029.0, None),
    # ... and speaks once group_wait has passed.
    ("new group at group_wait", state(), 1030.0, Reason.FIRST),
    # A group whose every failure was silenced has nothing pending and never spoke.
    ("only silenced failures", state(pending=0, pending_since=None), 1030.0, None),
    # After the first message, new failures wait for group_interval.
    (
        "new failures inside group_interval",
        state(flushes=1, last_flush_at=1030.0, pending=5, pending_since=1100.0, last_active=1100.0),
        1329.0,
        None,
    ),
    (
        "new failures at group_interval",
        state(flushes=1, last_flush_at=1030.0, pending=5, pending_since=1100.0, last_active=1100.0),
        1330.0,
        Reason.NEW_FAILURES,
    ),
    # A fingerprint no flush of the episode carried makes the reason new_error.
    (
        "new error at group_interval",
        state(
            flushes=1,
            last_flush_at=1030.0,
            pending=1,
            pending_since=1100.0,
            last_active=1100.0,
            has_new_error=True,
        ),
        1330.0,
        Reason.NEW_ERROR,
    ),
    # Failures after a long quiet spell go out at once (group_interval already passed).
    (
        "failure after quiet spell",
        state(flushes=1, last_flush_at=1030.0, pending=1, pending_since=1500.0, last_active=1500.0),
        1500.0,
        Reason.NEW_FAILURES,
    ),
    # Nothing new, not yet quiet long enough, no repeat due: silence.
    (
        "open and quiet",
        state(flushes=1, last_flush_at=1030.0, pending=0, pending_since=None),
        2000.0,
        None,
    ),
    # resolve_after of quiet since the last failure resolves the group.
    (
        "quiet for resolve_after",
        state(flushes=1, last_flush_at=1030.0, pending=0, pending_since=None),
        2800.0,
        Reason.RESOLVED,
    ),
    # A still-failing group (last_active recent) is re-sent every repeat_interval.
    (
        "repeat interval elapsed",
        state(
            flushes=3, last_flush_at=10_000.0, pending=0, pending_since=None, last_active=23_900.0
        ),
        24_400.0,
        Reason.REPEAT,
    ),
    # Pending failures win over a repeat: the update carries the news.
    (
        "pending beats repeat",
        state(
            flushes=3,
            last_flush_at=10_000.0,
            pending=2,
            pending_since=24_000.0,
            last_active=24_000.0,
        ),
        24_400.0,
        Reason.NEW_FAILURES,
    ),
    # A resolved group says nothing until a new episode opens it.
    ("resolved", state(resolved=True), 99_999.0, None),
]


@pytest.mark.parametrize(
    ("group", "now", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decide(group: GroupState, now: float, expected: Reason | None) -> None:
    assert decide(group, now, T) is expected


@pytest.mark.parametrize(
    ("group", "now", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_next_due_is_when_decide_first_speaks(
    group: GroupState, now: float, expected: Reason | None
) -> None:
    due = next_due(group, T)
    if group.resolved:
        assert due is None
        return
    assert due is not None
    # Just before the due time nothing happens; at it, decide has something to say
    # (unless it is a silenced-only group, which only resolves).
    assert decide(group, due - 0.001, T) is None
    assert decide(group, due, T) is not None
