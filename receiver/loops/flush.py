"""Flushing: decide every due group (`engine.grouping.decide`) and write what it says
into the outbox, in the same transaction as the group's change.

Storm control (`engine.storm`): an update beyond its receiver's budget is held back
(merged per group) instead of written, and listed in one digest when the budget's
period ends; a new incident's first message is never held, and is written with the
priority that makes the delivery worker send it before every update.

On PostgreSQL, `SKIP LOCKED` lets replicas flush different groups at once; notification
ids are deterministic (group, episode, flush number), so a flush written twice is stored
once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from receiver.config.integrations import IntegrationSpec
from receiver.engine import storm
from receiver.engine.grouping import after_flush, decide, next_due, sends_resolved, state_of
from receiver.engine.incidents import incident_id, mark_of
from receiver.engine.notification import (
    FOLDED_NAMES,
    LISTED_VALUES,
    SAMPLE_USERS,
    TOP_ERRORS,
    build_digest,
    build_notification,
    held_item,
    mentions_for,
    stream_of,
)
from receiver.engine.routing import Route
from receiver.model import Notification, Reason
from receiver.rows import GroupDetails, GroupRow
from receiver.store import budgets as stored_budgets
from receiver.store import groups as stored
from receiver.store import incidents as stored_incidents
from receiver.store import outbox
from receiver.store.tx import Tx


@dataclass(slots=True)
class Flushed:
    """What one flush pass wrote: notifications to deliver, updates held for a digest."""

    notifications: list[Notification] = field(default_factory=list)
    held: list[Notification] = field(default_factory=list)


def flush_due_groups(
    tx: Tx,
    *,
    root: Route,
    integrations: Mapping[str, Sequence[IntegrationSpec]],
    now: float,
    budget: storm.BudgetLimit,
    limit: int = 100,
) -> Flushed:
    """Write the digests that are due; then decide every group that is due and write
    its notification into the outbox, or hold it for the receiver's digest when the
    receiver's budget is spent. A group whose route is muted waits for the mute's end."""
    routes = {route.id: route for route in root.walk()}
    muted_until: dict[str, float | None] = {}
    # Digests first: a receiver's update spent below would start its next period and
    # push the digest of the period that just ended a whole period later.
    flushed = Flushed(notifications=_write_digests(tx, integrations, now, budget))
    for key in stored.due_groups(tx, now=now, limit=limit):
        group = stored.load_group(tx, key)
        route = routes.get(group.route_id, root)
        if route.id not in muted_until:
            muted_until[route.id] = route.muted_until(now)
        mute = muted_until[route.id]
        state = state_of(group)
        reason = decide(state, now, route.timing, muted_until=mute)
        if reason is None:
            stored.set_due(tx, key, next_due(state, route.timing, muted_until=mute))
            continue
        if reason is Reason.RESOLVED:
            resolve_episode(tx, group, by=None, now=now)
            if not sends_resolved(state, route.timing, muted=mute is not None):
                continue
        notification = _build(tx, group, reason, now=now, mentions=mentions_for(reason, route))
        if _within_budget(tx, group.receiver, reason, now, budget):
            enqueue(tx, notification, integrations.get(group.receiver, ()), now=now)
            flushed.notifications.append(notification)
        else:
            stored_budgets.hold(tx, group.receiver, held_item(notification, now))
            flushed.held.append(notification)
        if reason is not Reason.RESOLVED:
            due = next_due(after_flush(state, now), route.timing)
            stored.mark_flushed(tx, group, now=now, due_at=due)
    return flushed


def _within_budget(
    tx: Tx, receiver: str, reason: Reason, now: float, limit: storm.BudgetLimit
) -> bool:
    """Spend one of the receiver's notifications, if this one counts; False: hold it."""
    if not storm.counts_against_budget(reason):
        return True
    spent = storm.spend(
        stored_budgets.load_budget(tx, receiver), now=now, cap=limit.cap, period=limit.period
    )
    stored_budgets.save_budget(tx, receiver, spent.budget)
    return spent.allowed


def _write_digests(
    tx: Tx,
    integrations: Mapping[str, Sequence[IntegrationSpec]],
    now: float,
    limit: storm.BudgetLimit,
) -> list[Notification]:
    """One digest per receiver whose budget period with held-back updates has ended."""
    written = []
    for receiver in stored_budgets.receivers_holding(tx):
        budget = stored_budgets.load_budget(tx, receiver)
        due = storm.digest_due(budget, period=limit.period)
        if due is not None and now < due:
            continue
        items = stored_budgets.take_held(tx, receiver)
        if not items:
            continue
        digest = build_digest(receiver, items, now=now)
        specs = integrations.get(receiver, ())
        enqueue(tx, digest, specs, now=now)
        written.append(digest)
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
    notification = _build(tx, group, reason, now=now)
    enqueue(tx, notification, specs, now=now)
    return notification


def _build(
    tx: Tx, group: GroupRow, reason: Reason, *, now: float, mentions: tuple[str, ...] = ()
) -> Notification:
    details = load_details(tx, group)
    incident = stored_incidents.find(tx, incident_id(group.key, group.episode))
    mark = None if incident is None else mark_of(incident, now)
    return build_notification(group, details, reason, now=now, incident=mark, mentions=mentions)


def load_details(tx: Tx, group: GroupRow) -> GroupDetails:
    return stored.load_details(
        tx,
        group,
        top_errors=TOP_ERRORS,
        sample_users=SAMPLE_USERS,
        listed=LISTED_VALUES,
        named=FOLDED_NAMES,
    )


def enqueue(
    tx: Tx, notification: Notification, specs: Sequence[IntegrationSpec], *, now: float
) -> None:
    outbox.enqueue(
        tx,
        notification,
        [(stream_of(notification, s.key), s.receiver, s.key, s.destination) for s in specs],
        now,
        # A new incident's first message goes before every update (storm control).
        priority=storm.priority(notification.reason),
    )
