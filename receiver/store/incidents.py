"""Incidents as stored: one row per episode of a group, the actions people took on it,
and the notifications written about it.

Plain loads and saves; what an action does to an incident is `engine.incidents`, run by
`loops.incidents`. While an episode is its group's current one, its counters are read
live from `groups`; once it ends they are copied onto the incident (`close`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from receiver.rows import ActionRow, IncidentRow
from receiver.store.tx import Row, Tx, for_update

STATES = ("open", "acknowledged", "muted", "resolved")

_SELECT = (
    "SELECT i.id, i.group_key, i.episode, i.receiver, i.labels, i.opened_at, "
    "COALESCE(i.first_seen, g.first_seen, i.opened_at), "
    "COALESCE(i.last_seen, g.last_seen, i.opened_at), "
    "COALESCE(i.failures, g.episode_failures, 0), "
    "(SELECT count(*) FROM group_users u WHERE u.group_key = i.group_key "
    "AND u.episode = i.episode), "
    "i.resolved_at, i.resolved_by, i.acked_at, i.acked_by, i.silence_id, i.muted_by, "
    "CASE WHEN s.expired_at IS NULL THEN s.ends_at END, COALESCE(g.flushes, 0) "
    "FROM incidents i "
    "LEFT JOIN groups g ON g.group_key = i.group_key AND g.episode = i.episode "
    "LEFT JOIN silences s ON s.id = i.silence_id "
)
_MUTED = "(s.id IS NOT NULL AND s.expired_at IS NULL AND s.ends_at > ?)"
# Each state as a predicate, in the precedence `engine.incidents.state_of` gives them:
# resolved, then muted, then acknowledged, else open. Each takes `now` once per `?`.
_STATE_WHERE = {
    "resolved": "i.resolved_at IS NOT NULL",
    "muted": f"i.resolved_at IS NULL AND {_MUTED}",
    "acknowledged": f"i.resolved_at IS NULL AND NOT {_MUTED} AND i.acked_at IS NOT NULL",
    "open": f"i.resolved_at IS NULL AND NOT {_MUTED} AND i.acked_at IS NULL",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentFilter:
    """Which incidents to list: all of them when every field is left as it is."""

    state: str | None = None  # one of STATES
    category: str | None = None
    model_id: str | None = None
    # Incidents that were open at some time in [since, until].
    since: float | None = None
    until: float | None = None
    # Found in a label or in one of the episode's error messages (case-insensitive).
    text: str | None = None
    limit: int = 50
    offset: int = 0


def _incident(r: Row) -> IncidentRow:
    return IncidentRow(
        id=str(r[0]),
        group_key=str(r[1]),
        episode=int(r[2]),
        receiver=str(r[3]),
        labels=json.loads(str(r[4])),
        opened_at=float(r[5]),
        first_seen=float(r[6]),
        last_seen=float(r[7]),
        failures=int(r[8]),
        users_affected=int(r[9]),
        resolved_at=None if r[10] is None else float(r[10]),
        resolved_by=r[11],
        acked_at=None if r[12] is None else float(r[12]),
        acked_by=r[13],
        silence_id=r[14],
        muted_by=r[15],
        muted_until=None if r[16] is None else float(r[16]),
        flushes=int(r[17]),
    )


def open_incident(
    tx: Tx,
    incident_id: str,
    *,
    group_key: str,
    episode: int,
    receiver: str,
    labels: Mapping[str, str],
    opened_at: float,
) -> None:
    """Record a new episode as an incident (once, however often it is called)."""
    tx.execute(
        "INSERT INTO incidents (id, group_key, episode, receiver, labels, category, model_id, "
        "opened_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        (
            incident_id,
            group_key,
            episode,
            receiver,
            json.dumps(labels),
            labels.get("category"),
            labels.get("model_id"),
            opened_at,
        ),
    )


def close(
    tx: Tx,
    incident_id: str,
    *,
    resolved_at: float,
    resolved_by: str | None,
    failures: int,
    first_seen: float,
    last_seen: float,
) -> bool:
    """The episode ended: keep its counters. False if it had already ended."""
    return (
        tx.execute(
            "UPDATE incidents SET resolved_at = ?, resolved_by = ?, failures = ?, "
            "first_seen = ?, last_seen = ? WHERE id = ? AND resolved_at IS NULL",
            (resolved_at, resolved_by, failures, first_seen, last_seen, incident_id),
        )
        == 1
    )


def find(tx: Tx, incident_id: str, *, lock: bool = False) -> IncidentRow | None:
    """One incident; with `lock`, its row stays locked (PostgreSQL) to the end of the
    transaction, so actions on one incident from several replicas take turns."""
    if lock:
        tx.fetchone(f"SELECT id FROM incidents WHERE id = ?{for_update(tx)}", (incident_id,))
    row = tx.fetchone(_SELECT + "WHERE i.id = ?", (incident_id,))
    return None if row is None else _incident(row)


def search(tx: Tx, query: IncidentFilter, *, now: float) -> list[IncidentRow]:
    """Incidents matching `query`, the most recently opened first."""
    where: list[str] = []
    params: list[object] = []
    if query.state is not None:
        predicate = _STATE_WHERE[query.state]
        where.append(predicate)
        params.extend([now] * predicate.count("?"))
    if query.category is not None:
        where.append("i.category = ?")
        params.append(query.category)
    if query.model_id is not None:
        where.append("i.model_id = ?")
        params.append(query.model_id)
    if query.until is not None:
        where.append("i.opened_at <= ?")
        params.append(query.until)
    if query.since is not None:
        where.append("(i.resolved_at IS NULL OR i.resolved_at >= ?)")
        params.append(query.since)
    if query.text:
        pattern = "%" + _like_escape(query.text.lower()) + "%"
        where.append(
            "(lower(i.labels) LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM group_errors e "
            "WHERE e.group_key = i.group_key AND e.episode = i.episode "
            "AND lower(e.message) LIKE ? ESCAPE '\\'))"
        )
        params.extend([pattern, pattern])
    sql = _SELECT + ("WHERE " + " AND ".join(where) + " " if where else "")
    sql += "ORDER BY i.opened_at DESC, i.id LIMIT ? OFFSET ?"
    rows = tx.fetchall(sql, [*params, query.limit, query.offset])
    return [_incident(r) for r in rows]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def acknowledge(tx: Tx, incident_id: str, *, at: float, by: str) -> None:
    tx.execute(
        "UPDATE incidents SET acked_at = ?, acked_by = ? WHERE id = ?", (at, by, incident_id)
    )


def set_mute(tx: Tx, incident_id: str, *, silence_id: str | None, by: str | None) -> None:
    """The silence that mutes the incident now (None: no longer muted)."""
    tx.execute(
        "UPDATE incidents SET silence_id = ?, muted_by = ? WHERE id = ?",
        (silence_id, by, incident_id),
    )


# -- actions ------------------------------------------------------------------------

_ACTION_COLUMNS = (
    "id, incident_id, action, argument, actor_id, actor_name, team, action_ts, source, created_at"
)


def action_seen(tx: Tx, *, source: str, actor_id: str, action_ts: str) -> bool:
    """Whether this very action (a Slack retry of one click) is recorded already."""
    row = tx.fetchone(
        "SELECT 1 FROM actions WHERE source = ? AND actor_id = ? AND action_ts = ?",
        (source, actor_id, action_ts),
    )
    return row is not None


def add_action(
    tx: Tx,
    incident_id: str,
    *,
    action: str,
    argument: str | None,
    actor_id: str,
    actor_name: str,
    team: str | None,
    action_ts: str,
    source: str,
    now: float,
) -> int | None:
    """Record an action; its id, or None if this very action was recorded before."""
    row = tx.fetchone(
        "INSERT INTO actions (incident_id, action, argument, actor_id, actor_name, team, "
        "action_ts, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (source, actor_id, action_ts) DO NOTHING RETURNING id",
        (incident_id, action, argument, actor_id, actor_name, team, action_ts, source, now),
    )
    return None if row is None else int(row[0])


def actions_of(tx: Tx, incident_id: str) -> list[ActionRow]:
    rows = tx.fetchall(
        f"SELECT {_ACTION_COLUMNS} FROM actions WHERE incident_id = ? ORDER BY id",
        (incident_id,),
    )
    return [
        ActionRow(
            id=int(r[0]),
            incident_id=str(r[1]),
            action=str(r[2]),
            argument=r[3],
            actor_id=str(r[4]),
            actor_name=str(r[5]),
            team=r[6],
            action_ts=str(r[7]),
            source=str(r[8]),
            created_at=float(r[9]),
        )
        for r in rows
    ]


def count_by_state(tx: Tx, *, now: float) -> dict[str, int]:
    """How many incidents are in each state at `now` (the same predicates as `search`)."""
    counts = {}
    for state, predicate in _STATE_WHERE.items():
        row = tx.fetchone(_SELECT_COUNT + "WHERE " + predicate, [now] * predicate.count("?"))
        counts[state] = int(row[0]) if row else 0
    return counts


_SELECT_COUNT = "SELECT count(*) FROM incidents i LEFT JOIN silences s ON s.id = i.silence_id "
