"""Flushing: decide every due group (`grouping.decide`) and write what it says into the
outbox, in the same transaction as the group's change.

On PostgreSQL, `SKIP LOCKED` lets replicas flush different groups at once; notification
ids are deterministic (group, episode, flush number), so a flush written twice is stored
once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from receiver.grouping import GroupState, decide, next_due
from receiver.model import ErrorCount, Notification, Reason
from receiver.notifiers.spec import IntegrationSpec
from receiver.routing import Route
from receiver.store.group_state_sql import GroupRow, load_group
from receiver.store.tx import Tx, skip_locked

TOP_ERRORS = 10
SAMPLE_IDS = 5
SAMPLE_USERS = 5


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
    keys = tx.fetchall(
        "SELECT group_key FROM groups WHERE status = 'open' AND due_at <= ? "
        f"ORDER BY due_at LIMIT ?{skip_locked(tx)}",
        (now, limit),
    )
    written = []
    for (key,) in keys:
        group = load_group(tx, key)
        route = routes.get(group.route_id, root)
        reason = decide(group.state, now, route.timing)
        if reason is None:
            tx.execute(
                "UPDATE groups SET due_at = ? WHERE group_key = ?",
                (next_due(group.state, route.timing), key),
            )
            continue
        if reason is Reason.RESOLVED:
            tx.execute(
                "UPDATE groups SET status = 'resolved', due_at = NULL WHERE group_key = ?", (key,)
            )
            # A group whose every failure was silenced never spoke; it closes quietly.
            if not (route.timing.send_resolved and group.state.flushes > 0):
                continue
        notification = _notification(tx, group, reason, now)
        _enqueue(tx, notification, integrations.get(group.receiver, ()), now)
        if reason is not Reason.RESOLVED:
            _mark_flushed(tx, group, route, now)
        written.append(notification)
    return written


def _notification(tx: Tx, group: GroupRow, reason: Reason, now: float) -> Notification:
    key, episode = group.key, group.episode
    errors = tx.fetchall(
        "SELECT fingerprint, message, error_type, count, pending, notified, model_id, "
        "sample_generation_id, sample_prompt FROM group_errors "
        "WHERE group_key = ? AND episode = ? "
        "ORDER BY CASE WHEN pending > 0 AND notified = 0 THEN 0 ELSE 1 END, count DESC, "
        "fingerprint LIMIT ?",
        (key, episode, TOP_ERRORS),
    )
    users = tx.fetchone(
        "SELECT count(*) FROM group_users WHERE group_key = ? AND episode = ?", (key, episode)
    )
    sample_users = tx.fetchall(
        "SELECT user_id FROM group_users WHERE group_key = ? AND episode = ? "
        "ORDER BY user_id LIMIT ?",
        (key, episode, SAMPLE_USERS),
    )
    models = tx.fetchall(
        "SELECT DISTINCT model_id FROM group_errors WHERE group_key = ? AND episode = ? "
        "AND model_id IS NOT NULL ORDER BY model_id LIMIT 20",
        (key, episode),
    )
    types = tx.fetchall(
        "SELECT DISTINCT error_type FROM group_errors WHERE group_key = ? AND episode = ? "
        "AND error_type IS NOT NULL ORDER BY error_type LIMIT 20",
        (key, episode),
    )
    later_flush = group.state.flushes > 0
    return Notification(
        id=f"{key}-{episode}-{group.state.flushes + 1}",
        receiver=group.receiver,
        group_key=key,
        episode=episode,
        sequence=group.state.flushes + 1,
        reason=reason,
        labels=group.labels,
        window_failures=group.state.pending,
        episode_failures=group.episode_failures,
        users_affected=int(users[0]) if users else 0,
        first_seen=group.first_seen,
        last_seen=group.last_seen,
        created_at=now,
        top_errors=tuple(
            ErrorCount(
                fingerprint=e[0],
                message=e[1],
                error_type=e[2],
                count=e[3],
                new=later_flush and e[4] > 0 and not e[5],
                sample_prompt=e[8],
            )
            for e in errors
        ),
        models=tuple(m[0] for m in models),
        error_types=tuple(t[0] for t in types),
        sample_generation_ids=tuple(e[7] for e in errors if e[7])[:SAMPLE_IDS],
        sample_user_ids=tuple(u[0] for u in sample_users),
        silenced=group.silenced,
    )


def stream_of(notification: Notification, spec: IntegrationSpec) -> str:
    return f"{notification.group_key}:{notification.episode}:{spec.key}"


def _enqueue(
    tx: Tx, notification: Notification, specs: Sequence[IntegrationSpec], now: float
) -> None:
    payload = notification.model_dump_json()
    tx.executemany(
        "INSERT INTO outbox (notification_id, stream, receiver, integration, destination, "
        "payload, status, created_at, due_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?) "
        "ON CONFLICT (notification_id, integration) DO NOTHING",
        [
            (
                notification.id,
                stream_of(notification, spec),
                spec.receiver,
                spec.key,
                spec.destination,
                payload,
                now,
                now,
            )
            for spec in specs
        ],
    )


def _mark_flushed(tx: Tx, group: GroupRow, route: Route, now: float) -> None:
    tx.execute(
        "UPDATE group_errors SET pending = 0, notified = 1 "
        "WHERE group_key = ? AND episode = ? AND (pending > 0 OR notified = 0)",
        (group.key, group.episode),
    )
    state = group.state
    flushed = GroupState(
        opened_at=state.opened_at,
        last_active=state.last_active,
        flushes=state.flushes + 1,
        pending=0,
        pending_since=None,
        last_flush_at=now,
        has_new_error=False,
    )
    tx.execute(
        "UPDATE groups SET flushes = flushes + 1, last_flush_at = ?, pending = 0, "
        "pending_since = NULL, due_at = ? WHERE group_key = ?",
        (now, next_due(flushed, route.timing), group.key),
    )
