"""Retention: the instant before which each kind of row may go, and when a prune pass
has more to do."""

from __future__ import annotations

import pytest

from receiver.engine.retention import DAY, Cutoffs, RetentionPolicy, cutoffs, more_to_prune

NOW = 1_000 * DAY


def test_the_default_limits() -> None:
    # Failures and dead letters a month, sent notifications two weeks, resolved incidents
    # and ended silences a quarter.
    assert RetentionPolicy() == RetentionPolicy(
        failures=30 * DAY,
        notifications=14 * DAY,
        dead_letters=30 * DAY,
        incidents=90 * DAY,
        silences=90 * DAY,
    )
    assert DAY == 86400.0


def test_each_kind_of_row_has_its_own_cutoff() -> None:
    policy = RetentionPolicy(
        failures=1 * DAY, notifications=2 * DAY, dead_letters=3 * DAY, incidents=4 * DAY,
        silences=5 * DAY,
    )  # fmt: skip
    assert cutoffs(policy, NOW) == Cutoffs(
        failures=NOW - 1 * DAY,
        notifications=NOW - 2 * DAY,
        dead_letters=NOW - 3 * DAY,
        incidents=NOW - 4 * DAY,
        silences=NOW - 5 * DAY,
    )


@pytest.mark.parametrize(
    ("deleted", "batch", "more"),
    [
        # A full batch: there may be more rows.
        (500, 500, True),
        # More than a batch (a cascade counted in): still more.
        (501, 500, True),
        # One short: the table is done.
        (499, 500, False),
        # Nothing deleted: done.
        (0, 500, False),
    ],
)
def test_more_to_prune(deleted: int, batch: int, more: bool) -> None:
    assert more_to_prune(deleted, batch) is more


def test_a_policy_and_its_cutoffs_are_values() -> None:
    # One policy is shared by every pass of the pruner: none may change it in place.
    policy = RetentionPolicy()
    with pytest.raises(AttributeError):
        policy.failures = 0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        cutoffs(policy, NOW).failures = 0  # type: ignore[misc]
