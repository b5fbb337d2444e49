"""The grouping decision as a table: (group state, now) → reason."""

from __future__ import annotations

import dataclasses

import pytest

from receiver.engine.grouping import (
    EpisodeChange,
    GroupBatch,
    GroupState,
    after_flush,
    batch_failures,
    decide,
    episode_change,
    group_key,
    next_due,
    released_batch,
    sends_resolved,
    state_of,
)
from receiver.engine.matchers import Matcher
from receiver.engine.routing import RouteConfig, Timing, build_routes
from receiver.engine.silences import Silence
from receiver.model import FailureKind, Reason
from receiver.rows import GroupRow, StoredFailure

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
    # Failures are never sent before they are pending, even long after group_interval
    # (a failure stamped by a clock ahead of the dispatcher's)...
    (
        "pending since later than group_interval",
        state(flushes=1, last_flush_at=1030.0, pending=1, pending_since=5000.0, last_active=5000.0),
        4999.0,
        None,
    ),
    # ...and go at once when they are.
    (
        "pending since, then at once",
        state(flushes=1, last_flush_at=1030.0, pending=1, pending_since=5000.0, last_active=5000.0),
        5000.0,
        Reason.NEW_FAILURES,
    ),
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
    # An acknowledged incident is not re-posted: someone is on it.
    (
        "acknowledged, repeat interval elapsed",
        state(
            flushes=3,
            last_flush_at=10_000.0,
            pending=0,
            pending_since=None,
            last_active=23_900.0,
            acknowledged=True,
        ),
        24_400.0,
        None,
    ),
    # ... but it still resolves after resolve_after of quiet.
    (
        "acknowledged and quiet for resolve_after",
        state(
            flushes=3,
            last_flush_at=10_000.0,
            pending=0,
            pending_since=None,
            last_active=23_900.0,
            acknowledged=True,
        ),
        25_700.0,
        Reason.RESOLVED,
    ),
    # ... and its new failures still go out (as thread replies).
    (
        "acknowledged with new failures",
        state(
            flushes=3,
            last_flush_at=10_000.0,
            pending=2,
            pending_since=24_000.0,
            last_active=24_000.0,
            acknowledged=True,
        ),
        24_400.0,
        Reason.NEW_FAILURES,
    ),
    # A firing rule (or a stuck generation) whose alert has not cleared: quiet resolves
    # nothing, however long — an unchanged message records nothing new.
    (
        "member not cleared, quiet for resolve_after",
        state(flushes=1, last_flush_at=1030.0, pending=0, pending_since=None, members_open=True),
        2800.0,
        None,
    ),
    # ... and is re-sent every repeat_interval like any open group (it resolves when its
    # last member clears: all_cleared).
    (
        "member not cleared, repeat interval elapsed",
        state(flushes=3, last_flush_at=10_000.0, pending=0, pending_since=None, members_open=True),
        24_400.0,
        Reason.REPEAT,
    ),
    # Acknowledged and not cleared: nothing to say until it clears.
    (
        "acknowledged, member not cleared",
        state(
            flushes=3,
            last_flush_at=10_000.0,
            pending=0,
            pending_since=None,
            members_open=True,
            acknowledged=True,
        ),
        99_999.0,
        None,
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
    if due is None:  # never: resolved, or waiting for a member to clear with no repeat
        assert group.resolved or (group.members_open and group.acknowledged)
        assert decide(group, 10**9, T) is None
        return
    # Just before the due time nothing happens; at it, decide has something to say
    # (unless it is a silenced-only group, which only resolves).
    assert decide(group, due - 0.001, T) is None
    assert decide(group, due, T) is not None


# -- while the route is muted by its time intervals (until 5000) ---------------------

MUTED_UNTIL = 5000.0
MUTED_CASES = [
    # A new group's first message waits for the mute's end ...
    ("first message, muted", state(), 1030.0, None),
    # ... and is sent then, still as the first (its failures were counted meanwhile).
    ("first message, mute over", state(last_active=4900.0), MUTED_UNTIL, Reason.FIRST),
    # New failures (and new errors) wait too.
    (
        "new error, muted",
        state(flushes=1, last_flush_at=1030.0, pending_since=1100.0, has_new_error=True),
        1330.0,
        None,
    ),
    # A repeat waits for the mute's end (when `next_due` wakes it, below).
    (
        "repeat due while muted",
        state(flushes=1, last_flush_at=-20_000.0, pending=0, pending_since=None),
        1030.0,
        None,
    ),
    # An episode quiet for resolve_after ends on time, even muted, even with failures
    # that were never sent (the loop says nothing of it while muted).
    (
        "quiet for resolve_after, muted",
        state(pending=3),
        2800.0,
        Reason.RESOLVED,
    ),
    # A stuck group whose generations all cleared ends at once, muted or not.
    (
        "stuck group cleared, muted",
        state(pending=0, pending_since=None, all_cleared=True, last_active=1200.0),
        1200.0,
        Reason.RESOLVED,
    ),
]


@pytest.mark.parametrize(
    ("group", "now", "expected"), [c[1:] for c in MUTED_CASES], ids=[c[0] for c in MUTED_CASES]
)
def test_decide_while_muted(group: GroupState, now: float, expected: Reason | None) -> None:
    assert decide(group, now, T, muted_until=MUTED_UNTIL) is expected


@pytest.mark.parametrize(
    ("group", "expected_due"),
    [
        # Pending failures: due when the mute ends (after group_wait, which passed).
        (state(last_active=4500.0), MUTED_UNTIL),
        # ... or when group_wait ends, if that is later.
        (state(opened_at=4990.0, last_active=4990.0, pending_since=4990.0), 5020.0),
        # ... or when the episode resolves, if that comes first.
        (state(), 1000.0 + T.resolve_after),
        # A due repeat: when the mute ends.
        (state(flushes=1, last_flush_at=-20_000.0, pending=0, last_active=4000.0), MUTED_UNTIL),
    ],
)
def test_next_due_while_muted(group: GroupState, expected_due: float) -> None:
    assert next_due(group, T, muted_until=MUTED_UNTIL) == expected_due


@pytest.mark.parametrize(
    ("group", "timing", "muted", "sends"),
    [
        # An episode that spoke says it resolved ...
        (state(flushes=1), T, False, True),
        # ... one that never spoke (all silenced, or resolved while muted) does not ...
        (state(flushes=0), T, False, False),
        # ... nor does one whose route does not want resolved messages ...
        (state(flushes=1), dataclasses.replace(T, send_resolved=False), False, False),
        # ... nor one whose route is muted right now (as Alertmanager drops it).
        (state(flushes=1), T, True, False),
    ],
)
def test_sends_resolved(group: GroupState, timing: Timing, muted: bool, sends: bool) -> None:
    assert sends_resolved(group, timing, muted=muted) is sends


# -- which group a failure joins, and what a batch does to its episode ---------------

ROOT, _problems = build_routes(
    RouteConfig.model_validate(
        {
            "receiver": "oncall",
            "routes": [
                {"matchers": ["model_id=~flux-.*"], "receiver": "ml", "continue": True},
                {"matchers": ["category=timeout"], "receiver": "infra"},
            ],
        }
    ),
    defaults=T,
    receivers=["oncall", "ml", "infra"],
)


def failure(seq: int, **changes: object) -> StoredFailure:
    base: dict[str, object] = {
        "seq": seq,
        "generation_id": f"g{seq}",
        "fingerprint": "fp-rate",
        "message": "Rate limit exceeded",
        "error_type": "RateLimitError",
        "model_id": "sdxl",
        "user_id": "u1",
        "labels": {"category": "rate_limit", "model_id": "sdxl"},
        "received_at": 1000.0 + seq,
        "kind": FailureKind.FAILED,
        "prompt": None,
    }
    base.update(changes)
    return StoredFailure(**base)  # type: ignore[arg-type]


def silence(matcher: str, *, starts_at: float = 0.0, ends_at: float = 5000.0) -> Silence:
    return Silence(
        id=f"s-{matcher}",
        matchers=(Matcher.parse(matcher),),
        starts_at=starts_at,
        ends_at=ends_at,
        comment="known",
        author="oncall",
        created_at=0.0,
        expired_at=None,
    )


def test_failures_of_one_group_are_summed_by_error_and_user() -> None:
    batches = batch_failures(
        [
            failure(1),
            failure(2, user_id="u2"),
            failure(3, fingerprint="fp-other", message="Quota", user_id="u1"),
        ],
        root=ROOT,
        silences=[],
        now=2000.0,
    )
    assert len(batches) == 1
    (batch,) = batches.values()
    assert batch.route.receiver == "oncall"
    assert batch.labels == {"category": "rate_limit", "model_id": "sdxl"}
    assert (batch.count, batch.first, batch.last) == (3, 1001.0, 1003.0)
    assert {fp: e.count for fp, e in batch.errors.items()} == {"fp-rate": 2, "fp-other": 1}
    # The first failure of an error is its sample.
    assert batch.errors["fp-rate"].sample_generation_id == "g1"
    assert batch.users == {"u1", "u2"}
    assert batch.held == []


def test_a_failure_joins_one_group_per_route_that_takes_it() -> None:
    labels = {"category": "timeout", "model_id": "flux-pro"}
    batches = batch_failures([failure(1, labels=labels)], root=ROOT, silences=[], now=2000.0)
    # flux-* goes to ml and continues; the timeout route takes it too.
    assert sorted(b.route.receiver for b in batches.values()) == ["infra", "ml"]
    assert all(b.count == 1 for b in batches.values())


def test_different_group_labels_make_different_groups_on_one_route() -> None:
    other = {"category": "rate_limit", "model_id": "sd3"}
    batches = batch_failures(
        [failure(1), failure(2, labels=other)], root=ROOT, silences=[], now=2000.0
    )
    assert len(batches) == 2
    assert len({group_key(b.route, b.labels) for b in batches.values()}) == 2


@pytest.mark.parametrize(
    ("silences", "held"),
    [
        # an active silence that matches holds the failure: counted nowhere, held
        ([silence("model_id=sdxl")], True),
        # a silence on another model does not
        ([silence("model_id=flux-pro")], False),
        # a silence that has not started yet does not
        ([silence("model_id=sdxl", starts_at=2500.0)], False),
        # nor one that has ended
        ([silence("model_id=sdxl", ends_at=1500.0)], False),
    ],
)
def test_a_matching_active_silence_holds_the_failure(silences: list[Silence], held: bool) -> None:
    (batch,) = batch_failures([failure(1)], root=ROOT, silences=silences, now=2000.0).values()
    assert (batch.count, len(batch.held)) == ((0, 1) if held else (1, 0))
    if held:
        assert batch.held[0].until == silences[0].ends_at


def test_a_group_key_is_stable_and_depends_on_route_receiver_and_labels() -> None:
    labels = {"category": "rate_limit", "model_id": "sdxl"}
    assert group_key(ROOT, labels) == group_key(ROOT, dict(reversed(labels.items())))
    assert group_key(ROOT, labels) != group_key(ROOT, {**labels, "model_id": "sd3"})
    assert group_key(ROOT, labels) != group_key(ROOT.children[0], labels)


def test_a_batch_of_only_held_failures_opens_its_group_now() -> None:
    (batch,) = batch_failures(
        [failure(1)], root=ROOT, silences=[silence("model_id=sdxl")], now=2000.0
    ).values()
    assert (batch.opened_at(2000.0), batch.first_seen(2000.0), batch.last_active(2000.0)) == (
        2000.0,
        2000.0,
        2000.0,
    )


def test_released_failures_count_from_their_release() -> None:
    batch = released_batch(ROOT, {"model_id": "sdxl"}, [failure(1), failure(2)], now=3000.0)
    # group_wait and resolve_after run from the release, the seen times stay the real ones.
    assert (batch.opened_at(3000.0), batch.last_active(3000.0)) == (3000.0, 3000.0)
    assert (batch.first_seen(3000.0), batch.last_seen(3000.0)) == (1001.0, 1002.0)


def group_row(**changes: object) -> GroupRow:
    base: dict[str, object] = {
        "key": "k",
        "route_id": ROOT.id,
        "receiver": "oncall",
        "labels": {"model_id": "sdxl"},
        "episode": 1,
        "resolved": False,
        "opened_at": 1000.0,
        "first_seen": 1000.0,
        "last_seen": 1000.0,
        "last_active": 1000.0,
        "episode_failures": 1,
        "pending": 1,
        "pending_since": 1000.0,
        "silenced": 0,
        "flushes": 0,
        "last_flush_at": None,
        "has_new_error": False,
        "members": 0,
        "members_cleared": 0,
    }
    base.update(changes)
    return GroupRow(**base)  # type: ignore[arg-type]


COUNTED = batch_failures([failure(1)], root=ROOT, silences=[], now=2000.0)
ONLY_HELD = batch_failures([failure(1)], root=ROOT, silences=[silence("model_id=sdxl")], now=2000)


@pytest.mark.parametrize(
    ("group", "batch", "change"),
    [
        # no such group: open it
        (None, COUNTED, EpisodeChange.OPEN),
        # no such group, only held failures: open it all the same (it counts them)
        (None, ONLY_HELD, EpisodeChange.OPEN),
        # an open group grows
        (group_row(), COUNTED, EpisodeChange.GROW),
        # a resolved group with new failures starts its next episode
        (group_row(resolved=True), COUNTED, EpisodeChange.NEW_EPISODE),
        # a resolved group with only held failures stays resolved
        (group_row(resolved=True), ONLY_HELD, EpisodeChange.GROW),
    ],
)
def test_episode_change(
    group: GroupRow | None, batch: dict[str, GroupBatch], change: EpisodeChange
) -> None:
    (only,) = batch.values()
    assert episode_change(group, only) is change


@pytest.mark.parametrize(
    ("members", "cleared", "all_cleared"),
    [
        (0, 0, False),  # not a stuck group
        (3, 2, False),  # one generation still processing
        (3, 3, True),  # every stuck generation has left processing
        (1, 1, True),  # the only stuck generation has left processing
    ],
)
def test_state_of_a_stored_group(members: int, cleared: int, all_cleared: bool) -> None:
    stored = group_row(members=members, members_cleared=cleared, flushes=2, resolved=True)
    got = state_of(stored)
    assert (got.all_cleared, got.flushes, got.resolved) == (all_cleared, 2, True)
    assert got.members_open is (cleared < members)


def test_a_group_whose_members_cleared_while_a_failure_was_pending_resolves_next() -> None:
    # The rule resolved in the same pass as its last update was recorded: the update goes
    # out first, and the resolution right after it, not resolve_after later.
    pending = state(flushes=2, last_flush_at=1000.0, pending=1, all_cleared=True)
    assert decide(pending, 1300.0, T) is Reason.NEW_FAILURES
    flushed = after_flush(pending, 1300.0)
    assert next_due(flushed, T) == flushed.last_active
    assert decide(flushed, 1300.0, T) is Reason.RESOLVED


def test_after_a_flush_nothing_is_pending_and_the_flush_is_counted() -> None:
    flushed = after_flush(state(flushes=1, pending=7, has_new_error=True), 2000.0)
    assert (flushed.flushes, flushed.pending, flushed.pending_since) == (2, 0, None)
    assert (flushed.last_flush_at, flushed.has_new_error) == (2000.0, False)
    assert flushed.opened_at == 1000.0


@pytest.mark.parametrize(
    ("group", "due"),
    [
        # Every stuck generation has left processing: resolved as of its last activity.
        (state(pending=0, pending_since=None, all_cleared=True, last_active=1200.0), 1200.0),
        # Quiet and never sent: resolve_after from the last failure.
        (state(pending=0, pending_since=None, last_active=1200.0), 3000.0),
        # Quiet after a message: the repeat (4h) comes after the resolve (30m).
        (state(pending=0, pending_since=None, flushes=1, last_flush_at=1100.0), 2800.0),
        # Resolved: nothing is ever due.
        (state(pending=0, pending_since=None, resolved=True), None),
    ],
)
def test_next_due(group: GroupState, due: float | None) -> None:
    assert next_due(group, T) == due


def test_a_group_state_is_a_value() -> None:
    with pytest.raises(AttributeError):
        state().pending = 0  # type: ignore[misc]


def test_group_keys_do_not_change_between_versions() -> None:
    # Stored groups are found by key: a new digest would open a second group for each
    # open one. Labels outside ASCII are hashed as written.
    assert (
        group_key(ROOT, {"category": "rate_limit", "model_id": "sdxl"})
        == "8c981132f370b00ad6c1eda2"
    )
    assert (
        group_key(ROOT, {"category": "rate_limit", "model_id": "flüx"})
        == "e06a95974ea25eee293d2334"
    )


@pytest.mark.parametrize(
    ("labels", "category"),
    [
        # A batch's category is its first failure's: its route caps open groups per category.
        ({"category": "rate_limit", "model_id": "sdxl"}, "rate_limit"),
        # A failure without one (a custom route label set): none.
        ({"model_id": "sdxl"}, ""),
    ],
)
def test_a_batch_takes_its_first_failures_category(labels: dict[str, str], category: str) -> None:
    (batch,) = batch_failures(
        [failure(1, labels=labels)], root=ROOT, silences=[], now=2000.0
    ).values()
    assert batch.category == category


def test_a_batch_without_a_category_has_none() -> None:
    assert GroupBatch(ROOT, {}).category == ""
    assert released_batch(ROOT, {}, [failure(1)], now=3000.0).category == ""
    assert released_batch(ROOT, {}, [failure(1)], now=3000.0, category="quota").category == "quota"


def test_a_sample_keeps_the_first_prompt_seen() -> None:
    (batch,) = batch_failures(
        [failure(1), failure(2, prompt="a red fox"), failure(3, prompt="a blue fox")],
        root=ROOT,
        silences=[],
        now=2000.0,
    ).values()
    # The first failure had none: the second's is the sample's, and the third's is not.
    assert batch.errors["fp-rate"].prompt == "a red fox"
    assert batch.errors["fp-rate"].message == "Rate limit exceeded"


@pytest.mark.parametrize(
    ("kind", "message", "current", "members"),
    [
        # A failed generation: the first message is the sample's; not a member to clear.
        (FailureKind.FAILED, "first", False, []),
        # A stuck generation: a member, cleared once it leaves processing.
        (FailureKind.STUCK, "first", False, ["g1", "g2"]),
        # A rule's alert: the latest message says what holds now, and it is a member.
        (FailureKind.CONDITION, "second", True, ["g1", "g2"]),
    ],
)
def test_what_each_kind_of_failure_adds(
    kind: FailureKind, message: str, current: bool, members: list[str]
) -> None:
    (batch,) = batch_failures(
        [failure(1, kind=kind, message="first"), failure(2, kind=kind, message="second")],
        root=ROOT,
        silences=[],
        now=2000.0,
    ).values()
    (sample,) = batch.errors.values()
    assert (sample.message, sample.current, sample.count) == (message, current, 2)
    assert batch.stuck == members
