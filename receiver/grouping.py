"""Group and dedup: given a group's state and the time, should it notify now, and why?

Alertmanager's semantics, as one pure function with the clock passed in:
- a new group waits `group_wait` before its first message (`first`), so a burst
  arrives as one message rather than a flood;
- after that, failures that arrive are sent at most every `group_interval`, as
  `new_error` when they include an error (fingerprint) the episode had not notified,
  else `new_failures`;
- an open group with nothing new is re-sent every `repeat_interval` (`repeat`);
- after `resolve_after` without failures it is `resolved` and its episode ends; the next
  failure opens a new episode (and a new first message). A group of stuck generations
  resolves as soon as all of them have left `processing`.
Failures held by a silence are not pending: they neither notify nor keep a group open.
"""

from __future__ import annotations

from dataclasses import dataclass

from receiver.model import Reason
from receiver.routing import Timing


@dataclass(frozen=True, slots=True)
class GroupState:
    opened_at: float  # when this episode's group was created
    last_active: float  # latest failure counted (or released from a silence)
    flushes: int  # notifications sent in this episode
    pending: int  # failures not yet notified
    pending_since: float | None  # when `pending` last went from 0 to more
    last_flush_at: float | None
    has_new_error: bool  # a pending fingerprint that no flush of the episode carried
    resolved: bool = False
    # Stuck groups: every generation it holds has left `processing` (resolve at once).
    all_cleared: bool = False


def decide(group: GroupState, now: float, timing: Timing) -> Reason | None:
    """Why this group should notify at `now`, or None if it should not."""
    if group.resolved:
        return None
    if group.pending > 0:
        if now < flush_due(group, timing):
            return None
        if group.flushes == 0:
            return Reason.FIRST
        return Reason.NEW_ERROR if group.has_new_error else Reason.NEW_FAILURES
    if group.all_cleared or now >= group.last_active + timing.resolve_after:
        return Reason.RESOLVED
    if group.last_flush_at is not None and now >= group.last_flush_at + timing.repeat_interval:
        return Reason.REPEAT
    return None


def flush_due(group: GroupState, timing: Timing) -> float:
    """When pending failures may be sent: `group_wait` after the episode opened for the
    first message, then no sooner than `group_interval` after the previous one."""
    if group.flushes == 0 or group.last_flush_at is None:
        return group.opened_at + timing.group_wait
    since = group.pending_since if group.pending_since is not None else group.last_flush_at
    return max(since, group.last_flush_at + timing.group_interval)


def next_due(group: GroupState, timing: Timing) -> float | None:
    """The earliest time at which `decide` may answer something; None if never."""
    if group.resolved:
        return None
    if group.pending > 0:
        return flush_due(group, timing)
    if group.all_cleared:
        return group.last_active
    due = group.last_active + timing.resolve_after
    if group.last_flush_at is not None:
        due = min(due, group.last_flush_at + timing.repeat_interval)
    return due
