"""The dispatcher's intake: sort new failures into their groups, and give back those a
silence held once it ends.

Each function runs inside one transaction: it loads rows (`store.groups`), lets the
engine decide (`engine.grouping.batch_failures`, `episode_change`, `next_due`) and saves
what changed. Flushing due groups into the outbox is `loops.flush`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from receiver.engine import storm
from receiver.engine.grouping import (
    EpisodeChange,
    GroupBatch,
    batch_failures,
    episode_change,
    next_due,
    released_batch,
    state_of,
)
from receiver.engine.incidents import incident_id
from receiver.engine.routing import Route
from receiver.loops.silences import usable
from receiver.rows import GroupErrorRow
from receiver.store import failures as stored_failures
from receiver.store import groups as stored
from receiver.store import incidents as stored_incidents
from receiver.store import silences as stored_silences
from receiver.store.tx import Tx

RELEASE_BATCH = 1000


@dataclass(slots=True)
class Absorbed:
    """What one pass sorted into groups: how many failures, and how many of them went
    to an overflow group, by (route id, category)."""

    count: int = 0
    folded: dict[tuple[str, str], int] = field(default_factory=dict)


def absorb_new_failures(tx: Tx, *, root: Route, now: float, limit: int = 1000) -> Absorbed:
    """Route the failures stored since the last call into their groups, or into their
    route's overflow group beyond its cap (`engine.storm.folds`)."""
    new = stored_failures.after(tx, stored.dispatch_cursor(tx), limit=limit)
    absorbed = Absorbed(count=len(new))
    if not new:
        return absorbed
    silences = usable(stored_silences.active(tx, now))
    for key, batch in batch_failures(new, root=root, silences=silences, now=now).items():
        if _over_cap(tx, key, batch):
            scope = (batch.route.id, batch.category)
            absorbed.folded[scope] = absorbed.folded.get(scope, 0) + batch.count
            _fold(tx, key, batch, now)
        else:
            _apply(tx, key, batch, now)
    stored.set_dispatch_cursor(tx, new[-1].seq)
    return absorbed


def _over_cap(tx: Tx, key: str, batch: GroupBatch) -> bool:
    group = stored.find_group(tx, key)
    group_open = group is not None and not group.resolved
    route = batch.route
    # Counting is only needed for a group that would open (an open one keeps growing).
    in_scope = 0 if group_open else stored.count_open(tx, route.id, batch.category)
    return storm.folds(group_open=group_open, open_in_scope=in_scope, max_groups=route.max_groups)


def _fold(tx: Tx, key: str, batch: GroupBatch, now: float) -> None:
    """Add a batch to its route's overflow group for its category, and name its group
    there."""
    route, name = batch.route, storm.member_name(batch.labels)
    into = storm.overflow_key(route.id, route.receiver, batch.category)
    batch.labels = storm.overflow_labels(route, batch.category)
    _apply(tx, into, batch, now, overflow=True)
    episode = stored.load_group(tx, into).episode
    stored.add_folded(tx, into, episode, [(key, name, batch.first_seen(now))])


def release_held(tx: Tx, *, root: Route, now: float) -> int:
    """Give back to their groups the failures whose silence has ended. Returns how many."""
    due = stored.held_until(tx, now, limit=RELEASE_BATCH)
    routes = {route.id: route for route in root.walk()}
    for key, seqs in due.items():
        group = stored.find_group(tx, key)
        if group is None:
            stored.unhold(tx, key, seqs, released=0)
            continue
        released = stored_failures.by_seq(tx, seqs)
        stored.unhold(tx, key, seqs, released=len(released))
        route = routes.get(group.route_id, root)
        batch = released_batch(route, group.labels, released, now=now, category=group.category)
        _apply(tx, key, batch, now, overflow=group.overflow)
    return sum(len(seqs) for seqs in due.values())


def _apply(tx: Tx, key: str, batch: GroupBatch, now: float, *, overflow: bool = False) -> None:
    """Save what a batch adds to its group, then reschedule the group's next decision."""
    change = episode_change(stored.find_group(tx, key), batch)
    times = {
        "opened_at": batch.opened_at(now),
        "first_seen": batch.first_seen(now),
        "last_seen": batch.last_seen(now),
        "last_active": batch.last_active(now),
    }
    if change is EpisodeChange.OPEN:
        route = batch.route
        stored.insert_group(
            tx,
            key,
            route_id=route.id,
            receiver=route.receiver,
            labels=batch.labels,
            category=batch.category,
            overflow=overflow,
            **times,
        )
    elif change is EpisodeChange.NEW_EPISODE:
        stored.start_episode(tx, key, **times)
    if change is not EpisodeChange.GROW:
        _open_incident(tx, key)
    if batch.held:
        stored.hold(tx, key, [(h.seq, h.silence_id, h.until) for h in batch.held])
    if batch.count:
        _count(tx, key, batch, times)
    reschedule(tx, key, batch.route)


def _open_incident(tx: Tx, key: str) -> None:
    """A new episode is a new incident."""
    group = stored.load_group(tx, key)
    stored_incidents.open_incident(
        tx,
        incident_id(key, group.episode),
        group_key=key,
        episode=group.episode,
        receiver=group.receiver,
        labels=group.labels,
        opened_at=group.opened_at,
    )


def _count(tx: Tx, key: str, batch: GroupBatch, times: dict[str, float]) -> None:
    episode = stored.load_group(tx, key).episode
    stored.add_failures(
        tx,
        key,
        count=batch.count,
        # Pending since the failures arrived (or were released), like `opened_at`.
        pending_since=times["opened_at"],
        first_seen=times["first_seen"],
        last_seen=times["last_seen"],
        last_active=times["last_active"],
    )
    stored.add_errors(
        tx,
        key,
        episode,
        [
            GroupErrorRow(
                fingerprint=fingerprint,
                message=e.message,
                error_type=e.error_type,
                model_id=e.model_id,
                sample_generation_id=e.sample_generation_id,
                count=e.count,
                pending=e.count,
                notified=False,
                sample_prompt=e.prompt,
                current=e.current,
            )
            for fingerprint, e in batch.errors.items()
        ],
    )
    if batch.users:
        stored.add_users(tx, key, episode, sorted(batch.users))
    if batch.stuck:
        stored.add_members(tx, key, episode, batch.stuck)


def reschedule(tx: Tx, key: str, route: Route) -> None:
    """Store when the group's next decision is due, from its state as it is now."""
    stored.set_due(tx, key, next_due(state_of(stored.load_group(tx, key)), route.timing))
