"""engine.notification: what one flush of a group's episode carries."""

from __future__ import annotations

import pytest

from receiver.engine import notification as shown
from receiver.engine.notification import (
    SAMPLE_IDS,
    action_notification,
    build_digest,
    build_notification,
    held_item,
    mentions_for,
    stream_of,
)
from receiver.engine.routing import RouteConfig, Timing, build_routes
from receiver.model import DigestEntry, IncidentMark, Reason
from receiver.rows import DigestItemRow, GroupDetails, GroupErrorRow, GroupRow
from tests.engine.test_grouping import group_row


def error(
    fp: str, *, count: int, pending: int, notified: bool, sample: str | None
) -> GroupErrorRow:
    return GroupErrorRow(
        fingerprint=fp,
        message=f"message {fp}",
        error_type=None,
        model_id="sdxl",
        sample_generation_id=sample,
        count=count,
        pending=pending,
        notified=notified,
        sample_prompt=None,
    )


DETAILS = GroupDetails(
    errors=(
        error("new", count=2, pending=2, notified=False, sample="g-new"),
        error("old", count=9, pending=3, notified=True, sample="g-old"),
        error("quiet", count=4, pending=0, notified=True, sample=None),
    ),
    users_affected=3,
    sample_user_ids=("u1", "u2"),
    models=("sdxl",),
    error_types=(),
)


def build(group: GroupRow, reason: Reason = Reason.NEW_ERROR) -> list[tuple[str, bool]]:
    notification = build_notification(group, DETAILS, reason, now=5000.0)
    return [(e.fingerprint, e.new) for e in notification.top_errors]


@pytest.mark.parametrize(
    ("pending", "notified", "new"),
    [
        # One failure pending, never notified: new.
        (1, False, True),
        # Nothing pending: not new, even if never notified (it came and went before).
        (0, False, False),
        # Pending but already notified in this episode: not new.
        (1, True, False),
    ],
)
def test_when_an_error_is_new_in_a_later_flush(pending: int, notified: bool, new: bool) -> None:
    details = GroupDetails(
        errors=(error("e", count=1, pending=pending, notified=notified, sample=None),),
        users_affected=0,
        sample_user_ids=(),
        models=(),
        error_types=(),
    )
    n = build_notification(group_row(flushes=1), details, Reason.NEW_ERROR, now=0.0)
    assert [e.new for e in n.top_errors] == [new]


@pytest.mark.parametrize(
    ("limit", "value"),
    [
        # The errors a notification lists.
        ("TOP_ERRORS", 10),
        # Sample generations and users it names.
        ("SAMPLE_IDS", 5),
        ("SAMPLE_USERS", 5),
        # Distinct models and error types it names.
        ("LISTED_VALUES", 20),
        # Groups an overflow group's notification names.
        ("FOLDED_NAMES", 5),
    ],
)
def test_how_much_a_notification_shows(limit: str, value: int) -> None:
    assert getattr(shown, limit) == value


def test_an_action_rebuilds_the_message_with_nothing_new() -> None:
    incident = IncidentMark(id="inc-7", state="acknowledged", acked_by="ana", acked_at=4000.0)
    group = group_row(key="abc", episode=3, flushes=4, pending=5, episode_failures=40)
    n = action_notification(
        group, DETAILS, incident=incident, action_id=12, sentence="ana acknowledged", now=5000.0
    )
    # Its id comes from the action, not the flush count; it reports no failures of its own.
    assert (n.id, n.reason, n.action, n.incident) == (
        "inc-7-action-12",
        Reason.ACTION,
        "ana acknowledged",
        incident,
    )
    assert (n.window_failures, n.episode_failures, n.sequence) == (0, 40, 5)
    # The errors as they read, none marked new (a later flush would have marked "new").
    assert [(e.fingerprint, e.count, e.new) for e in n.top_errors] == [
        ("new", 2, False),
        ("old", 9, False),
        ("quiet", 4, False),
    ]
    assert (n.group_key, n.episode, n.created_at) == ("abc", 3, 5000.0)


def test_a_held_notification_becomes_a_digest_line() -> None:
    n = build_notification(
        group_row(key="abc", pending=5, episode_failures=40, labels={"category": "quota"}),
        DETAILS,
        Reason.NEW_FAILURES,
        now=0.0,
    )
    assert held_item(n, 700.0) == DigestItemRow(
        group_key="abc",
        title="quota",
        reason="new_failures",
        window_failures=5,
        episode_failures=40,
        held_at=700.0,
    )


def test_a_digest_lists_the_held_lines() -> None:
    items = [
        DigestItemRow("a", "quota on sdxl", "new_failures", 5, 40, held_at=700.0),
        DigestItemRow("b", "timeout on flux", "first", 2, 2, held_at=600.0),
        DigestItemRow("c", "auth", "resolved", 0, 9, held_at=800.0),
    ]
    n = build_digest("oncall", items, now=900.0)
    # Named by the receiver and the first hold: written twice, stored once.
    assert (n.id, n.group_key) == ("digest-oncall-600.000", "digest:oncall:600.000")
    assert (n.receiver, n.reason, n.episode, n.sequence, n.labels) == (
        "oncall",
        Reason.DIGEST,
        1,
        1,
        {},
    )
    # The new failures of every line; no episode or users of its own.
    assert (n.window_failures, n.episode_failures, n.users_affected) == (7, 0, 0)
    assert (n.first_seen, n.last_seen, n.created_at) == (600.0, 800.0, 900.0)
    assert n.digest == (
        DigestEntry(
            title="quota on sdxl",
            reason=Reason.NEW_FAILURES,
            window_failures=5,
            episode_failures=40,
        ),
        DigestEntry(
            title="timeout on flux", reason=Reason.FIRST, window_failures=2, episode_failures=2
        ),
        DigestEntry(title="auth", reason=Reason.RESOLVED, window_failures=0, episode_failures=9),
    )


def test_an_error_is_new_only_after_the_first_flush() -> None:
    # First message: nothing is "new", everything is.
    assert build(group_row(flushes=0), Reason.FIRST) == [
        ("new", False),
        ("old", False),
        ("quiet", False),
    ]
    # Later: pending and never notified in this episode.
    assert build(group_row(flushes=1)) == [("new", True), ("old", False), ("quiet", False)]


def test_identity_and_counts_come_from_the_group() -> None:
    group = group_row(key="abc", episode=3, flushes=4, pending=5, episode_failures=40, silenced=2)
    n = build_notification(group, DETAILS, Reason.NEW_FAILURES, now=5000.0)
    # Deterministic: the same flush written twice has the same id.
    assert (n.id, n.sequence, n.episode) == ("abc-3-5", 5, 3)
    assert (n.window_failures, n.episode_failures, n.silenced) == (5, 40, 2)
    assert (n.users_affected, n.sample_user_ids, n.models) == (3, ("u1", "u2"), ("sdxl",))
    assert n.sample_generation_ids == ("g-new", "g-old")  # errors without a sample skipped
    assert (n.created_at, n.reason) == (5000.0, Reason.NEW_FAILURES)


def test_sample_generations_are_capped() -> None:
    many = GroupDetails(
        errors=tuple(
            error(str(i), count=1, pending=1, notified=False, sample=f"g{i}") for i in range(9)
        ),
        users_affected=0,
        sample_user_ids=(),
        models=(),
        error_types=(),
    )
    n = build_notification(group_row(), many, Reason.FIRST, now=0.0)
    assert len(n.sample_generation_ids) == SAMPLE_IDS


def test_a_stream_is_one_integration_of_one_episode() -> None:
    n = build_notification(group_row(key="k", episode=2), DETAILS, Reason.FIRST, now=0.0)
    assert stream_of(n, "slack/0") == "k:2:slack/0"
    assert stream_of(n, "slack/0") != stream_of(n, "email/0")


PAGING_ROUTE, _ = build_routes(
    RouteConfig.model_validate({"receiver": "oncall", "mention": ["here", "S0ONCALL"]}),
    defaults=Timing(
        group_wait=30,
        group_interval=300,
        repeat_interval=3600,
        resolve_after=600,
        send_resolved=True,
    ),
    receivers=["oncall"],
)


@pytest.mark.parametrize(
    ("reason", "pings"),
    [
        # An incident's first message pings: someone should look.
        (Reason.FIRST, True),
        # So does an error the incident had not shown: it may need another look.
        (Reason.NEW_ERROR, True),
        # More of the same does not ...
        (Reason.NEW_FAILURES, False),
        # ... nor does the same incident posted again ...
        (Reason.REPEAT, False),
        # ... nor its end ...
        (Reason.RESOLVED, False),
        # ... nor someone acting on it ...
        (Reason.ACTION, False),
        # ... nor a digest of held-back updates.
        (Reason.DIGEST, False),
    ],
)
def test_mentions_for(reason: Reason, pings: bool) -> None:
    expected = ("here", "S0ONCALL") if pings else ()
    assert mentions_for(reason, PAGING_ROUTE) == expected


def test_the_mentions_are_carried_on_the_notification() -> None:
    group = group_row(flushes=0)
    first = build_notification(
        group, DETAILS, Reason.FIRST, now=2000.0, mentions=mentions_for(Reason.FIRST, PAGING_ROUTE)
    )
    assert first.mentions == ("here", "S0ONCALL")
    assert build_notification(group, DETAILS, Reason.FIRST, now=2000.0).mentions == ()
