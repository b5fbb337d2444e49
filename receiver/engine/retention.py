"""Retention: how old a row must be before the pruner may delete it.

Each kind of row has its own age limit; `cutoffs` turns them into the instants before
which rows may go. Age is never the only test: what is still open or still owed (a
failure not yet grouped or held by a silence, a notification not yet sent, an open
incident, a silence that still holds failures) is kept whatever its age — those rules
are in the prune queries of `store.retention`, next to the tables they protect.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    failures: float = 30 * DAY
    notifications: float = 14 * DAY  # sent outbox rows and what only they needed
    dead_letters: float = 30 * DAY
    incidents: float = 90 * DAY  # resolved episodes of a group, with their errors and users
    silences: float = 90 * DAY  # counted from when the silence ended


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Rows older than these instants may be pruned (epoch seconds)."""

    failures: float
    notifications: float
    dead_letters: float
    incidents: float
    silences: float


def cutoffs(policy: RetentionPolicy, now: float) -> Cutoffs:
    return Cutoffs(
        failures=now - policy.failures,
        notifications=now - policy.notifications,
        dead_letters=now - policy.dead_letters,
        incidents=now - policy.incidents,
        silences=now - policy.silences,
    )


def more_to_prune(deleted: int, batch: int) -> bool:
    """A full batch means there may be more; a short one means the table is done."""
    return deleted >= batch
