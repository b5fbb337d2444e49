"""The named rows that the store loads and saves, and that the engine and the loops read.

The store knows these shapes and nothing of what they mean; the engine decides on
them and never sees SQL. They live on the ground floor so that both can import them.
"""

from __future__ import annotations

from dataclasses import dataclass

from receiver.model import FailureKind, Notification
from receiver.timefmt import iso

# A group key is this many hex digits; the store finds a stream's group by its prefix.
GROUP_KEY_LENGTH = 24


@dataclass(frozen=True, slots=True)
class StoredFailure:
    """A failure as stored, with its place in the order of arrival (`seq`)."""

    seq: int
    generation_id: str
    fingerprint: str
    message: str
    error_type: str | None
    model_id: str | None
    user_id: str | None
    labels: dict[str, str]
    received_at: float
    kind: FailureKind
    prompt: str | None


@dataclass(frozen=True, slots=True)
class StoredReport:
    """The latest failure stored for one generation and kind: what a later report of
    the same failure is compared with (`engine/occurrence.py`)."""

    seq: int
    idempotency_key: str
    message: str
    error_type: str | None
    occurred_at: str | None


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One group's current episode, as stored."""

    key: str
    route_id: str
    receiver: str
    labels: dict[str, str]
    episode: int
    resolved: bool
    opened_at: float
    first_seen: float
    last_seen: float
    last_active: float
    episode_failures: int
    pending: int
    pending_since: float | None
    silenced: int
    flushes: int
    last_flush_at: float | None
    # A pending fingerprint that no flush of this episode carried yet.
    has_new_error: bool
    # Stuck generations held by this episode, and how many of them left `processing`.
    members: int
    members_cleared: int
    # Someone acknowledged this episode's incident (no `repeat` re-posts while so).
    acknowledged: bool = False
    # The category its cap on open groups counts in, and whether it is the overflow
    # group of its route and category.
    category: str = ""
    overflow: bool = False


@dataclass(frozen=True, slots=True)
class GroupErrorRow:
    """One distinct error (fingerprint) of a group's episode."""

    fingerprint: str
    message: str
    error_type: str | None
    model_id: str | None
    sample_generation_id: str | None
    count: int
    pending: int
    notified: bool
    sample_prompt: str | None
    # The message replaces the stored one (a rule's alert shows its latest counts).
    current: bool = False


@dataclass(frozen=True, slots=True)
class GroupDetails:
    """What a notification shows of an episode besides its counters."""

    errors: tuple[GroupErrorRow, ...]
    users_affected: int
    sample_user_ids: tuple[str, ...]
    models: tuple[str, ...]
    error_types: tuple[str, ...]
    # An overflow group's: how many groups it stands for, and the first few names.
    folded: int = 0
    folded_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Budget:
    """A receiver's notifications counted since `window_start`."""

    window_start: float
    used: int


@dataclass(frozen=True, slots=True)
class DigestItemRow:
    """One group's updates held back by its receiver's budget, merged so far."""

    group_key: str
    title: str
    reason: str
    window_failures: int
    episode_failures: int
    held_at: float


@dataclass(frozen=True, slots=True)
class SilenceRow:
    """A silence as stored: its matchers as the text `str(matcher)` gives."""

    id: str
    matchers: tuple[str, ...]
    starts_at: float
    ends_at: float
    comment: str
    author: str
    created_at: float
    expired_at: float | None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One notification owed to one integration of a receiver."""

    id: int
    notification: Notification
    stream: str
    receiver: str
    integration: str
    destination: str
    status: str
    attempts: int
    created_at: float
    due_at: float
    last_error: str | None
    sent_at: float | None = None

    def describe(self) -> dict[str, object]:
        """The row as the CLI and the admin API show it (no secrets are ever in a row)."""
        return {
            "id": self.id,
            "status": self.status,
            "receiver": self.receiver,
            "integration": self.integration,
            "destination": self.destination,
            "attempts": self.attempts,
            "createdAt": iso(self.created_at),
            "dueAt": iso(self.due_at),
            "lastError": self.last_error,
            "notification": {
                "id": self.notification.id,
                "title": self.notification.title,
                "reason": self.notification.reason.value,
                "windowFailures": self.notification.window_failures,
            },
        }


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """One episode of one group as an incident: its counters (live while it is the
    group's current episode) and what people did about it."""

    id: str
    group_key: str
    episode: int
    receiver: str
    labels: dict[str, str]
    opened_at: float
    first_seen: float
    last_seen: float
    failures: int
    users_affected: int
    resolved_at: float | None
    resolved_by: str | None
    acked_at: float | None
    acked_by: str | None
    silence_id: str | None
    muted_by: str | None
    # The mute's silence: when it ends (None once expired early, or if never muted).
    muted_until: float | None
    # Messages of this episode written so far (0: nothing was ever sent about it).
    flushes: int


@dataclass(frozen=True, slots=True)
class ActionRow:
    """Something a person did to an incident, from Slack, the API or the CLI."""

    id: int
    incident_id: str
    action: str
    argument: str | None
    actor_id: str
    actor_name: str
    team: str | None
    action_ts: str
    source: str
    created_at: float


@dataclass(frozen=True, slots=True)
class FailureCountRow:
    """Failures of one category and model recorded in each of the spike rule's windows."""

    category: str
    model_id: str | None
    current: int
    day_before: int
    trailing_day: int


@dataclass(frozen=True, slots=True)
class RuleStateRow:
    """A rate rule's run of evaluations for one scope (a model id, or `*`), as stored."""

    rule: str
    scope: str
    pending: int = 0
    calm: int = 0
    firing_since: float | None = None
    message: str | None = None
    evaluated_at: float = 0.0
