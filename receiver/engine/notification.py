"""What a notification carries: one flush of one group's episode, built from its rows.

The errors are listed new ones first (a fingerprint pending that no earlier flush of the
episode carried), then by count; an error is marked new only after the first flush, so a
first message has nothing "new" to point at. The id is deterministic (group, episode,
flush number), so a flush written twice is stored once.
"""

from __future__ import annotations

from collections.abc import Sequence

from receiver.engine.routing import Route
from receiver.model import DigestEntry, ErrorCount, IncidentMark, Mention, Notification, Reason
from receiver.rows import DigestItemRow, GroupDetails, GroupRow

TOP_ERRORS = 10
SAMPLE_IDS = 5
SAMPLE_USERS = 5
LISTED_VALUES = 20  # distinct models and error types named in a notification
FOLDED_NAMES = 5  # groups named by an overflow group's notification
# A ping for every update teaches people to ignore pings: only what needs a look does.
MENTIONED = frozenset({Reason.FIRST, Reason.NEW_ERROR})


def mentions_for(reason: Reason, route: Route) -> tuple[Mention, ...]:
    """Whom a notification pings: its route's `mention` on an incident's first message
    and on a new error; nobody on updates, repeats, resolves, actions or digests."""
    return route.mention if reason in MENTIONED else ()


def build_notification(
    group: GroupRow,
    details: GroupDetails,
    reason: Reason,
    *,
    now: float,
    incident: IncidentMark | None = None,
    mentions: tuple[Mention, ...] = (),
) -> Notification:
    later_flush = group.flushes > 0
    sequence = group.flushes + 1
    return Notification(
        id=f"{group.key}-{group.episode}-{sequence}",
        receiver=group.receiver,
        group_key=group.key,
        episode=group.episode,
        sequence=sequence,
        reason=reason,
        labels=group.labels,
        window_failures=group.pending,
        episode_failures=group.episode_failures,
        users_affected=details.users_affected,
        first_seen=group.first_seen,
        last_seen=group.last_seen,
        created_at=now,
        top_errors=tuple(
            ErrorCount(
                fingerprint=e.fingerprint,
                message=e.message,
                error_type=e.error_type,
                count=e.count,
                new=later_flush and e.pending > 0 and not e.notified,
                sample_prompt=e.sample_prompt,
            )
            for e in details.errors
        ),
        models=details.models,
        error_types=details.error_types,
        sample_generation_ids=tuple(
            e.sample_generation_id for e in details.errors if e.sample_generation_id
        )[:SAMPLE_IDS],
        sample_user_ids=details.sample_user_ids,
        silenced=group.silenced,
        incident=incident,
        folded=details.folded,
        folded_names=details.folded_names,
        mentions=mentions,
    )


def action_notification(
    group: GroupRow,
    details: GroupDetails,
    *,
    incident: IncidentMark,
    action_id: int,
    sentence: str,
    now: float,
) -> Notification:
    """The message of an incident someone just acted on, as it now reads, and the
    sentence its thread gets. Nothing in it is new: it reports no failures of its own,
    and it is not a flush (its id comes from the action, not the flush count)."""
    notification = build_notification(group, details, Reason.ACTION, now=now, incident=incident)
    return notification.model_copy(
        update={
            "id": f"{incident.id}-action-{action_id}",
            "window_failures": 0,
            "top_errors": tuple(
                e.model_copy(update={"new": False}) for e in notification.top_errors
            ),
            "action": sentence,
        }
    )


def held_item(notification: Notification, now: float) -> DigestItemRow:
    """A group's notification, held back by its receiver's budget, as a digest line."""
    return DigestItemRow(
        group_key=notification.group_key,
        title=notification.title,
        reason=notification.reason.value,
        window_failures=notification.window_failures,
        episode_failures=notification.episode_failures,
        held_at=now,
    )


def build_digest(receiver: str, items: Sequence[DigestItemRow], *, now: float) -> Notification:
    """One notification listing a receiver's held-back updates. Its id names the
    receiver and the first hold, so a digest written twice is stored once."""
    since = min(item.held_at for item in items)
    return Notification(
        id=f"digest-{receiver}-{since:.3f}",
        receiver=receiver,
        group_key=f"digest:{receiver}:{since:.3f}",
        episode=1,
        sequence=1,
        reason=Reason.DIGEST,
        labels={},
        window_failures=sum(item.window_failures for item in items),
        episode_failures=0,
        users_affected=0,
        first_seen=since,
        last_seen=max(item.held_at for item in items),
        created_at=now,
        digest=tuple(
            DigestEntry(
                title=item.title,
                reason=Reason(item.reason),
                window_failures=item.window_failures,
                episode_failures=item.episode_failures,
            )
            for item in items
        ),
    )


def stream_of(notification: Notification, integration_key: str) -> str:
    """The order in which an integration's notifications of one episode must be sent
    (a Slack update must never overtake the post it updates)."""
    return episode_streams(notification.group_key, notification.episode) + integration_key


def episode_streams(group_key: str, episode: int) -> str:
    """What the streams of every integration of one episode begin with."""
    return f"{group_key}:{episode}:"
