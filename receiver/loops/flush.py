"""Flushing: decide every due group (`engine.grouping.decide`) and write what it says
into the outbox, in the same transaction as the group's change.

On PostgreSQL, `SKIP LOCKED` lets replicas flush different groups at once; notification
ids are deterministic (group, episode, flush number), so a flush written twice is stored
once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from receiver.config.integrations import IntegrationSpec
from receiver.engine.grouping import after_flush, decide, next_due, state_of
from receiver.engine.incidents import incident_id, mark_of
from receiver.engine.notification import (
    LISTED_VALUES,
    SAMPLE_USERS,
    TOP_ERRORS,
    build_notification,
    stream_of,
)
from receiver.engine.routing import Route
from receiver.model import Notification, Reason
from receiver.rows import GroupDetails, GroupRow
from receiver.store import groups as stored
from receiver.store import incidents as stored_incidents
from receiver.store import outbox
from receiver.store.tx import Tx


def flush_due_groups(
    tx: Tx,
    *,
    root: Route,
    integrations: Mapping[str, Sequence[IntegrationSpec]],
    now: float,
    limit: int = 100,
) -> list[Notification]:
    """Decide every group that is due; write the notifications into the outbox."""
    routes = {route.id: route for route in root.walk()}
    written = []
    for key in stored.due_groups(tx, now=now, limit=limit):
        group = stored.load_group(tx, key)
        route = routes.get(group.route_id, root)
        state = state_of(group)
        reason = decide(state, now, route.timing)
        if reason is None:
            stored.set_due(tx, key, next_due(state, route.timing))
            continue
        if reason is Reason.RESOLVED:
            resolve_episode(tx, group, by=None, now=now)
            # A group whose every failure was silenced never spoke; it closes quietly.
            if not (route.timing.send_resolved and group.flushes > 0):
                continue
        notification = write_notification(
            tx, group, reason, integrations.get(group.receiver, ()), now=now
        )
        if reason is not Reason.RESOLVED:
            due = next_due(after_flush(state, now), route.timing)
            stored.mark_flushed(tx, group, now=now, due_at=due)
        written.append(notification)
    return written


def resolve_episode(tx: Tx, group: GroupRow, *, by: str | None, now: float) -> None:
    """End the group's current episode and its incident (`by` whom, if someone did)."""
    stored.mark_resolved(tx, group.key)
    stored_incidents.close(
        tx,
        incident_id(group.key, group.episode),
        resolved_at=now,
        resolved_by=by,
        failures=group.episode_failures,
        first_seen=group.first_seen,
        last_seen=group.last_seen,
    )


def write_notification(
    tx: Tx, group: GroupRow, reason: Reason, specs: Sequence[IntegrationSpec], *, now: float
) -> Notification:
    """Build the group's notification for `reason`, with its incident as it stands, and
    owe it to each of `specs`."""
    details = load_details(tx, group)
    incident = stored_incidents.find(tx, incident_id(group.key, group.episode))
    mark = None if incident is None else mark_of(incident, now)
    notification = build_notification(group, details, reason, now=now, incident=mark)
    enqueue(tx, notification, specs, now=now)
    return notification


def load_details(tx: Tx, group: GroupRow) -> GroupDetails:
    return stored.load_details(
        tx, group, top_errors=TOP_ERRORS, sample_users=SAMPLE_USERS, listed=LISTED_VALUES
    )


def enqueue(
    tx: Tx, notification: Notification, specs: Sequence[IntegrationSpec], *, now: float
) -> None:
    outbox.enqueue(
        tx,
        notification,
        [(stream_of(notification, s.key), s.receiver, s.key, s.destination) for s in specs],
        now,
    )
