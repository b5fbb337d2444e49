"""engine.notification: what one flush of a group's episode carries."""

from __future__ import annotations

import pytest

from receiver.engine.notification import SAMPLE_IDS, build_notification, mentions_for, stream_of
from receiver.engine.routing import RouteConfig, Timing, build_routes
from receiver.model import Reason
from receiver.rows import GroupDetails, GroupErrorRow, GroupRow
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
