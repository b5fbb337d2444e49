"""A group's stored state, as the grouping decision reads it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from receiver.grouping import GroupState, next_due
from receiver.routing import Route
from receiver.store.tx import Tx

_STATE_COLUMNS = (
    "episode, status, opened_at, first_seen, last_seen, episode_failures, pending, "
    "pending_since, silenced_failures, flushes, last_flush_at, route_id, receiver, labels, "
    "last_active"
)


@dataclass(frozen=True, slots=True)
class GroupRow:
    key: str
    episode: int
    first_seen: float
    last_seen: float
    episode_failures: int
    silenced: int
    route_id: str
    receiver: str
    labels: dict[str, str]
    state: GroupState


def load_group(tx: Tx, key: str) -> GroupRow:
    row = tx.fetchone(f"SELECT {_STATE_COLUMNS} FROM groups WHERE group_key = ?", (key,))
    assert row is not None
    episode = int(row[0])
    new_error = tx.fetchone(
        "SELECT 1 FROM group_errors WHERE group_key = ? AND episode = ? AND pending > 0 "
        "AND notified = 0 LIMIT 1",
        (key, episode),
    )
    members = tx.fetchone(
        "SELECT count(*), COALESCE(SUM(CASE WHEN cleared = 0 THEN 1 ELSE 0 END), 0) "
        "FROM group_members WHERE group_key = ? AND episode = ?",
        (key, episode),
    )
    assert members is not None
    state = GroupState(
        opened_at=row[2],
        last_active=row[14],
        flushes=row[9],
        pending=row[6],
        pending_since=row[7],
        last_flush_at=row[10],
        has_new_error=new_error is not None,
        resolved=row[1] == "resolved",
        all_cleared=int(members[0]) > 0 and int(members[1]) == 0,
    )
    return GroupRow(
        key=key,
        episode=episode,
        first_seen=row[3],
        last_seen=row[4],
        episode_failures=row[5],
        silenced=row[8],
        route_id=row[11],
        receiver=row[12],
        labels=json.loads(row[13]),
        state=state,
    )


def reschedule(tx: Tx, key: str, route: Route) -> None:
    group = load_group(tx, key)
    tx.execute(
        "UPDATE groups SET due_at = ? WHERE group_key = ?",
        (next_due(group.state, route.timing), key),
    )
