"""Group and dedup: given a group's state and the time, should it notify now, and why?

Alertmanager's semantics, as one pure function with the clock passed in:
- a new group waits `group_wait` before its first message (`first`), so a burst
  arrives as one message rather than a flood;
- after that, failures that arrive are sent at most every `group_interval`, as
  `new_error` when they include an error (fingerprint) the episode had not notified,
  else `new_failures`;
- an open group with nothing new is re-sent every `repeat_interval` (`repeat`), on a
  `group_interval` tick as in Alertmanager: a `repeat_interval` of 7m with ticks every 5m
  repeats every 10m, one shorter than `group_interval` every `group_interval` — unless
  someone acknowledged its incident;
- after `resolve_after` without failures it is `resolved` and its episode ends; the next
  failure opens a new episode (and a new first message). A group of stuck generations or
  rule alerts (members) resolves as soon as all of them have cleared, and never from quiet
  while one has not: a rule that keeps firing with an unchanged message records nothing
  new, and is no less an outage for it.
Failures held by a silence are not pending: they neither notify nor keep a group open.
While the group's route is muted by its time intervals (`muted_until`), nothing is sent:
failures are counted and wait, a `repeat` waits, and the first answer due once the mute
ends is given then; the episode still resolves on time, without a message (Alertmanager
drops a muted route's resolved notification the same way).

Before any of that, `batch_failures` decides which group each new failure joins (its
routes, its group labels, a silence that holds it) and sums what it adds to each group;
`episode_change` decides whether that opens a group, starts a new episode, or grows one.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from receiver.engine.routing import Route, Timing
from receiver.engine.silences import Silence, SilenceIndex
from receiver.model import FailureKind, Reason
from receiver.rows import GROUP_KEY_LENGTH, GroupRow, StoredFailure


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
    # A member (stuck generation, firing rule) is not cleared yet: quiet resolves nothing.
    members_open: bool = False
    # Someone took the incident: no `repeat` re-posts until the episode ends.
    acknowledged: bool = False


def state_of(group: GroupRow) -> GroupState:
    """The part of a stored group that the decision reads."""
    return GroupState(
        opened_at=group.opened_at,
        last_active=group.last_active,
        flushes=group.flushes,
        pending=group.pending,
        pending_since=group.pending_since,
        last_flush_at=group.last_flush_at,
        has_new_error=group.has_new_error,
        resolved=group.resolved,
        all_cleared=group.members > 0 and group.members_cleared == group.members,
        members_open=group.members_cleared < group.members,
        acknowledged=group.acknowledged,
    )


def after_flush(group: GroupState, now: float) -> GroupState:
    """A group's state once a notification of its pending failures is written. A flush
    changes no member: one that cleared while a failure was pending still resolves the
    group at the next pass, not after resolve_after of quiet."""
    return replace(
        group,
        flushes=group.flushes + 1,
        pending=0,
        pending_since=None,
        last_flush_at=now,
        has_new_error=False,
    )


def decide(
    group: GroupState, now: float, timing: Timing, *, muted_until: float | None = None
) -> Reason | None:
    """Why this group should notify at `now`, or None if it should not; while its route
    is muted, only `resolved`, and `sends_resolved` then says no."""
    if group.resolved:
        return None
    if muted_until is not None and now < muted_until:
        return Reason.RESOLVED if now >= _resolves_at(group, timing) else None
    if group.pending > 0:
        if now < flush_due(group, timing):
            return None
        if group.flushes == 0:
            return Reason.FIRST
        return Reason.NEW_ERROR if group.has_new_error else Reason.NEW_FAILURES
    if now >= _resolves_at(group, timing):
        return Reason.RESOLVED
    if _repeats(group) and now >= _repeat_due(group, timing):
        return Reason.REPEAT
    return None


def sends_resolved(group: GroupState, timing: Timing, *, muted: bool) -> bool:
    """Whether an episode that ends says so: only one that spoke, on a route that wants
    resolved messages and is not muted right now."""
    return timing.send_resolved and group.flushes > 0 and not muted


def flush_due(group: GroupState, timing: Timing) -> float:
    """When pending failures may be sent: `group_wait` after the episode opened for the
    first message, then no sooner than `group_interval` after the previous one."""
    if group.flushes == 0 or group.last_flush_at is None:
        return group.opened_at + timing.group_wait
    since = group.pending_since if group.pending_since is not None else group.last_flush_at
    return max(since, group.last_flush_at + timing.group_interval)


def next_due(
    group: GroupState, timing: Timing, *, muted_until: float | None = None
) -> float | None:
    """The earliest time at which `decide` may answer something; None if never. While
    muted: when the episode resolves, or when the mute ends, whichever comes first."""
    if group.resolved:
        return None
    if group.pending > 0:
        due = flush_due(group, timing)
    else:
        due = _resolves_at(group, timing)
        if _repeats(group):
            due = min(due, _repeat_due(group, timing))
    if muted_until is not None:
        due = min(max(due, muted_until), _resolves_at(group, timing))
    return None if math.isinf(due) else due


def _resolves_at(group: GroupState, timing: Timing) -> float:
    """When the episode ends, once nothing is pending: at once when its members (stuck
    generations, rule alerts) all cleared; never from quiet while one has not (infinity);
    else after `resolve_after` of quiet."""
    if group.all_cleared:
        return group.last_active
    if group.members_open:
        return math.inf
    return group.last_active + timing.resolve_after


def _repeats(group: GroupState) -> bool:
    """An unchanged open group is re-posted, unless someone acknowledged it."""
    return group.last_flush_at is not None and not group.acknowledged


def _repeat_due(group: GroupState, timing: Timing) -> float:
    assert group.last_flush_at is not None
    return group.last_flush_at + repeat_after(timing)


def repeat_after(timing: Timing) -> float:
    """How long after a message an unchanged group is sent again: the first
    `group_interval` tick at or after `repeat_interval`."""
    # The tolerance keeps an exact multiple (4h over 5m) from rounding up a tick.
    ticks = math.ceil(timing.repeat_interval / timing.group_interval - 1e-9)
    return max(ticks, 1) * timing.group_interval


# Built once (`json.dumps` with an option builds an encoder per call); the same text as
# `json.dumps(..., ensure_ascii=False)`, so keys stay what they were.
_encode_ident = json.JSONEncoder(ensure_ascii=False).encode


def group_key(route: Route, labels: Mapping[str, str]) -> str:
    """A group's identity: its route, its receiver and the values of its `group_by`
    labels. Stable across restarts and replicas (a digest, not a counter)."""
    ident = _encode_ident([route.id, route.receiver, sorted(labels.items())])
    return hashlib.sha256(ident.encode("utf-8")).hexdigest()[:GROUP_KEY_LENGTH]


@dataclass(slots=True)
class ErrorSample:
    """One distinct error (fingerprint) that a batch adds to a group."""

    message: str
    error_type: str | None
    model_id: str | None
    sample_generation_id: str
    count: int
    # The first prompt seen with this error, when prompts are kept at all.
    prompt: str | None
    # A rule's alert says what holds now: its latest message replaces the earlier ones.
    current: bool = False


@dataclass(slots=True)
class Held:
    """A failure a silence keeps from its group until `until`."""

    seq: int
    silence_id: str
    until: float


@dataclass(slots=True)
class GroupBatch:
    """What one dispatch pass adds to one group."""

    route: Route
    labels: dict[str, str]
    # The category of its first failure: the scope of the route's cap on open groups.
    category: str = ""
    count: int = 0
    first: float = float("inf")
    last: float = float("-inf")
    errors: dict[str, ErrorSample] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)
    held: list[Held] = field(default_factory=list)
    # Generations reported stuck and rule alerts: the group resolves once all are cleared.
    stuck: list[str] = field(default_factory=list)
    # Failures released from a silence count as activity when released, not when received.
    released_at: float | None = None

    def add(self, failure: StoredFailure) -> None:
        self.count += 1
        self.first = min(self.first, failure.received_at)
        self.last = max(self.last, failure.received_at)
        sample = self.errors.get(failure.fingerprint)
        if sample is None:
            self.errors[failure.fingerprint] = ErrorSample(
                message=failure.message,
                error_type=failure.error_type,
                model_id=failure.model_id,
                sample_generation_id=failure.generation_id,
                count=1,
                prompt=failure.prompt,
            )
        else:
            sample.count += 1
            if sample.prompt is None:
                sample.prompt = failure.prompt
            if failure.kind is FailureKind.CONDITION:
                sample.message = failure.message
        if failure.kind is FailureKind.CONDITION:
            self.errors[failure.fingerprint].current = True
        if failure.user_id:
            self.users.add(failure.user_id)
        if failure.kind in (FailureKind.STUCK, FailureKind.CONDITION):
            self.stuck.append(failure.generation_id)

    def opened_at(self, now: float) -> float:
        """When a group this batch creates counts as opened: `group_wait` runs from the
        first failure's arrival (or its release from a silence), not from when the
        dispatcher got to it — which matters after a restart with a backlog."""
        return self.released_at if self.released_at is not None else self._or(self.first, now)

    def first_seen(self, now: float) -> float:
        return self._or(self.first, now)

    def last_seen(self, now: float) -> float:
        return self._or(self.last, now)

    def last_active(self, now: float) -> float:
        return self.released_at if self.released_at is not None else self._or(self.last, now)

    @staticmethod
    def _or(value: float, now: float) -> float:
        # A batch of only held failures has no first or last; the group opens now.
        return value if value not in (float("inf"), float("-inf")) else now


def batch_failures(
    failures: Iterable[StoredFailure], *, root: Route, silences: Sequence[Silence], now: float
) -> dict[str, GroupBatch]:
    """Sort new failures into the groups of every route that takes them. A failure that
    an active silence matches is held for that group instead of counted."""
    batches: dict[str, GroupBatch] = {}
    index = SilenceIndex(silences, now)
    for failure in failures:
        silence = index.muting(failure.labels)
        for route in root.match(failure.labels):
            labels = route.group_labels(failure.labels)
            batch = batches.setdefault(
                group_key(route, labels),
                GroupBatch(route, labels, category=failure.labels.get("category", "")),
            )
            if silence is None:
                batch.add(failure)
            else:
                batch.held.append(Held(failure.seq, silence.id, silence.ends_at))
    return batches


def released_batch(
    route: Route,
    labels: dict[str, str],
    failures: Iterable[StoredFailure],
    *,
    now: float,
    category: str = "",
) -> GroupBatch:
    """Failures whose silence ended, handed back to their group as if they came now."""
    batch = GroupBatch(route, labels, category=category, released_at=now)
    for failure in failures:
        batch.add(failure)
    return batch


class EpisodeChange(StrEnum):
    OPEN = "open"  # no such group yet: create it, episode 1
    NEW_EPISODE = "new_episode"  # the group had resolved and failures came: start over
    GROW = "grow"  # an open group (or only held failures): add to it


def episode_change(group: GroupRow | None, batch: GroupBatch) -> EpisodeChange:
    """What a batch does to its group's episode."""
    if group is None:
        return EpisodeChange.OPEN
    if group.resolved and batch.count:
        return EpisodeChange.NEW_EPISODE
    return EpisodeChange.GROW
