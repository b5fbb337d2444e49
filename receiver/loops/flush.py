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
from receiver.engine.notification import (
    LISTED_VALUES,
    SAMPLE_USERS,
    TOP_ERRORS,
    build_notification,
    stream_of,
)
from receiver.engine.routing import Route
from receiver.model import Notification, Reason
from receiver.store import groups as stored
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
            stored.mark_resolved(tx, key)
            # A group whose every failure was silenced never spoke; it closes quietly.
            if not (route.timing.send_resolved and group.flushes > 0):
                continue
        details = stored.load_details(
            tx, group, top_errors=TOP_ERRORS, sample_users=SAMPLE_USERS, listed=LISTED_VALUES
        )
        notification = build_notification(group, details, reason, now=now)
        specs = integrations.get(group.receiver, ())
        outbox.enqueue(
            tx,
            notification,
            [(stream_of(notification, s.key), s.receiver, s.key, s.destination) for s in specs],
            now,
        )
        if reason is not Reason.RESOLVED:
            due = next_due(after_flush(state, now), route.timing)
            stored.mark_flushed(tx, group, now=now, due_at=due)
        written.append(notification)
    return written
