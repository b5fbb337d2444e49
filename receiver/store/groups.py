"""Groups as stored: the dispatch cursor over new failures, each group's current
episode, its distinct errors, users and stuck members, and failures held by a silence.

Plain loads and saves of named rows (`receiver.rows`); what they mean and when to
write them is decided by the engine and run by `loops.groups` and `loops.flush`. On
PostgreSQL the dispatch cursor's row lock serialises dispatchers across replicas, and
`SKIP LOCKED` lets them flush different groups at once.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence

from receiver.rows import GroupDetails, GroupErrorRow, GroupRow
from receiver.store.tx import Row, Tx, for_update, skip_locked

_GROUP_COLUMNS = (
    "group_key, route_id, receiver, labels, episode, status, opened_at, first_seen, "
    "last_seen, last_active, episode_failures, pending, pending_since, silenced_failures, "
    "flushes, last_flush_at, category, overflow, EXISTS (SELECT 1 FROM incidents i "
    "WHERE i.group_key = groups.group_key AND i.episode = groups.episode "
    "AND i.acked_at IS NOT NULL)"
)


# -- new failures -------------------------------------------------------------------


def dispatch_cursor(tx: Tx) -> int:
    """The last failure (`seq`) already sorted into groups; locked on PostgreSQL."""
    row = tx.fetchone(f"SELECT last_seq FROM dispatch_cursor WHERE id = 1{for_update(tx)}")
    return int(row[0]) if row else 0


def set_dispatch_cursor(tx: Tx, seq: int) -> None:
    tx.execute("UPDATE dispatch_cursor SET last_seq = ? WHERE id = 1", (seq,))


# -- a group's episode --------------------------------------------------------------


def find_group(tx: Tx, key: str) -> GroupRow | None:
    row = tx.fetchone(f"SELECT {_GROUP_COLUMNS} FROM groups WHERE group_key = ?", (key,))
    if row is None:
        return None
    episode = int(row[4])
    new_error = tx.fetchone(
        "SELECT 1 FROM group_errors WHERE group_key = ? AND episode = ? AND pending > 0 "
        "AND notified = 0 LIMIT 1",
        (key, episode),
    )
    members = tx.fetchone(
        "SELECT count(*), COALESCE(SUM(cleared), 0) FROM group_members "
        "WHERE group_key = ? AND episode = ?",
        (key, episode),
    )
    assert members is not None
    return GroupRow(
        key=str(row[0]),
        route_id=str(row[1]),
        receiver=str(row[2]),
        labels=json.loads(row[3]),
        episode=episode,
        resolved=row[5] == "resolved",
        opened_at=float(row[6]),
        first_seen=float(row[7]),
        last_seen=float(row[8]),
        last_active=float(row[9]),
        episode_failures=int(row[10]),
        pending=int(row[11]),
        pending_since=None if row[12] is None else float(row[12]),
        silenced=int(row[13]),
        flushes=int(row[14]),
        last_flush_at=None if row[15] is None else float(row[15]),
        has_new_error=new_error is not None,
        members=int(members[0]),
        members_cleared=int(members[1]),
        category=str(row[16]),
        overflow=bool(row[17]),
        acknowledged=bool(row[18]),
    )


def lock_group(tx: Tx, key: str) -> None:
    """Lock a group's row (PostgreSQL) to the end of the transaction, as a flush of it
    does: whoever changes a group and its incident takes the group first."""
    tx.fetchone(f"SELECT 1 FROM groups WHERE group_key = ?{for_update(tx)}", (key,))


def load_group(tx: Tx, key: str) -> GroupRow:
    group = find_group(tx, key)
    assert group is not None, f"group {key} vanished inside its transaction"
    return group


def insert_group(
    tx: Tx,
    key: str,
    *,
    route_id: str,
    receiver: str,
    labels: Mapping[str, str],
    opened_at: float,
    first_seen: float,
    last_seen: float,
    last_active: float,
    category: str = "",
    overflow: bool = False,
) -> None:
    tx.execute(
        "INSERT INTO groups (group_key, route_id, receiver, labels, episode, status, "
        "opened_at, first_seen, last_seen, last_active, category, overflow) "
        "VALUES (?, ?, ?, ?, 1, 'open', ?, ?, ?, ?, ?, ?)",
        (
            key,
            route_id,
            receiver,
            json.dumps(labels),
            opened_at,
            first_seen,
            last_seen,
            last_active,
            category,
            int(overflow),
        ),
    )


def count_open(tx: Tx, route_id: str, category: str) -> int:
    """Open groups of a route and category, overflow groups left out."""
    row = tx.fetchone(
        "SELECT count(*) FROM groups WHERE route_id = ? AND category = ? AND status = 'open' "
        "AND overflow = 0",
        (route_id, category),
    )
    return int(row[0]) if row else 0


def add_folded(tx: Tx, key: str, episode: int, members: Iterable[tuple[str, str, float]]) -> None:
    """Remember the groups (key, name, first failure) an overflow group's episode
    stands for."""
    tx.executemany(
        "INSERT INTO folded (group_key, episode, member_key, name, first_seen) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (group_key, episode, member_key) DO NOTHING",
        [(key, episode, member, name, first) for member, name, first in members],
    )


def start_episode(
    tx: Tx,
    key: str,
    *,
    opened_at: float,
    first_seen: float,
    last_seen: float,
    last_active: float,
) -> None:
    """Open the next episode of a resolved group, its counters back at zero."""
    tx.execute(
        "UPDATE groups SET episode = episode + 1, status = 'open', opened_at = ?, "
        "first_seen = ?, last_seen = ?, last_active = ?, episode_failures = 0, "
        "pending = 0, pending_since = NULL, silenced_failures = 0, flushes = 0, "
        "last_flush_at = NULL WHERE group_key = ?",
        (opened_at, first_seen, last_seen, last_active, key),
    )


def add_failures(
    tx: Tx,
    key: str,
    *,
    count: int,
    pending_since: float,
    first_seen: float,
    last_seen: float,
    last_active: float,
) -> None:
    """Count `count` more failures in the group's episode; the seen times only widen."""
    tx.execute(
        "UPDATE groups SET episode_failures = episode_failures + ?, pending = pending + ?, "
        "pending_since = COALESCE(pending_since, ?), "
        "first_seen = CASE WHEN first_seen < ? THEN first_seen ELSE ? END, "
        "last_seen = CASE WHEN last_seen > ? THEN last_seen ELSE ? END, "
        "last_active = CASE WHEN last_active > ? THEN last_active ELSE ? END "
        "WHERE group_key = ?",
        (
            count,
            count,
            pending_since,
            first_seen,
            first_seen,
            last_seen,
            last_seen,
            last_active,
            last_active,
            key,
        ),
    )


def add_errors(tx: Tx, key: str, episode: int, errors: Iterable[GroupErrorRow]) -> None:
    """Add to each error's counts; the first sample (and prompt) seen stays the sample,
    but for a `current` error the latest message replaces the stored one."""
    tx.executemany(
        "INSERT INTO group_errors (group_key, episode, fingerprint, message, error_type, "
        "model_id, sample_generation_id, count, pending, sample_prompt) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (group_key, episode, fingerprint) DO UPDATE SET "
        "count = group_errors.count + excluded.count, "
        "pending = group_errors.pending + excluded.pending, "
        "message = CASE WHEN ? = 1 THEN excluded.message ELSE group_errors.message END, "
        "sample_prompt = COALESCE(group_errors.sample_prompt, excluded.sample_prompt)",
        [
            (
                key,
                episode,
                e.fingerprint,
                e.message,
                e.error_type,
                e.model_id,
                e.sample_generation_id,
                e.count,
                e.pending,
                e.sample_prompt,
                int(e.current),
            )
            for e in errors
        ],
    )


def add_users(tx: Tx, key: str, episode: int, users: Iterable[str]) -> None:
    tx.executemany(
        "INSERT INTO group_users (group_key, episode, user_id) VALUES (?, ?, ?) "
        "ON CONFLICT (group_key, episode, user_id) DO NOTHING",
        [(key, episode, user) for user in users],
    )


def add_members(tx: Tx, key: str, episode: int, generation_ids: Iterable[str]) -> None:
    """Remember the stuck generations of an episode (to resolve when all have left)."""
    tx.executemany(
        "INSERT INTO group_members (group_key, episode, generation_id) VALUES (?, ?, ?) "
        "ON CONFLICT (group_key, episode, generation_id) DO NOTHING",
        [(key, episode, generation) for generation in generation_ids],
    )


def set_due(tx: Tx, key: str, due_at: float | None) -> None:
    tx.execute("UPDATE groups SET due_at = ? WHERE group_key = ?", (due_at, key))


def due_groups(tx: Tx, *, now: float, limit: int) -> list[str]:
    """Keys of open groups due at `now`, earliest first (claimed on PostgreSQL)."""
    rows = tx.fetchall(
        "SELECT group_key FROM groups WHERE status = 'open' AND due_at <= ? "
        f"ORDER BY due_at LIMIT ?{skip_locked(tx)}",
        (now, limit),
    )
    return [str(r[0]) for r in rows]


def mark_resolved(tx: Tx, key: str) -> None:
    tx.execute("UPDATE groups SET status = 'resolved', due_at = NULL WHERE group_key = ?", (key,))


def mark_flushed(tx: Tx, group: GroupRow, *, now: float, due_at: float | None) -> None:
    """The episode's pending failures and errors are in a notification now."""
    tx.execute(
        "UPDATE group_errors SET pending = 0, notified = 1 "
        "WHERE group_key = ? AND episode = ? AND (pending > 0 OR notified = 0)",
        (group.key, group.episode),
    )
    tx.execute(
        "UPDATE groups SET flushes = flushes + 1, last_flush_at = ?, pending = 0, "
        "pending_since = NULL, due_at = ? WHERE group_key = ?",
        (now, due_at, group.key),
    )


def _distinct(tx: Tx, column: str, key: str, episode: int, limit: int) -> list[Row]:
    """The episode's distinct values of one column of its errors (`column` is ours)."""
    return tx.fetchall(
        f"SELECT DISTINCT {column} FROM group_errors WHERE group_key = ? AND episode = ? "
        f"AND {column} IS NOT NULL ORDER BY {column} LIMIT ?",
        (key, episode, limit),
    )


def load_details(
    tx: Tx, group: GroupRow, *, top_errors: int, sample_users: int, listed: int, named: int = 5
) -> GroupDetails:
    """The episode's errors (new ones first, then by count), users and distinct values."""
    key, episode = group.key, group.episode
    errors = tx.fetchall(
        "SELECT fingerprint, message, error_type, model_id, sample_generation_id, count, "
        "pending, notified, sample_prompt FROM group_errors "
        "WHERE group_key = ? AND episode = ? "
        "ORDER BY CASE WHEN pending > 0 AND notified = 0 THEN 0 ELSE 1 END, count DESC, "
        "fingerprint LIMIT ?",
        (key, episode, top_errors),
    )
    users = tx.fetchone(
        "SELECT count(*) FROM group_users WHERE group_key = ? AND episode = ?", (key, episode)
    )
    some_users = tx.fetchall(
        "SELECT user_id FROM group_users WHERE group_key = ? AND episode = ? "
        "ORDER BY user_id LIMIT ?",
        (key, episode, sample_users),
    )
    models = _distinct(tx, "model_id", key, episode, listed)
    types = _distinct(tx, "error_type", key, episode, listed)
    folded = tx.fetchone(
        "SELECT count(*) FROM folded WHERE group_key = ? AND episode = ?", (key, episode)
    )
    names = tx.fetchall(
        "SELECT name FROM folded WHERE group_key = ? AND episode = ? "
        "ORDER BY first_seen, name LIMIT ?",
        (key, episode, named),
    )
    return GroupDetails(
        errors=tuple(
            GroupErrorRow(
                fingerprint=str(e[0]),
                message=str(e[1]),
                error_type=e[2],
                model_id=e[3],
                sample_generation_id=e[4],
                count=int(e[5]),
                pending=int(e[6]),
                notified=bool(e[7]),
                sample_prompt=e[8],
            )
            for e in errors
        ),
        users_affected=int(users[0]) if users else 0,
        sample_user_ids=tuple(str(u[0]) for u in some_users),
        models=tuple(str(m[0]) for m in models),
        error_types=tuple(str(t[0]) for t in types),
        folded=int(folded[0]) if folded else 0,
        folded_names=tuple(str(n[0]) for n in names),
    )


# -- failures held by a silence -----------------------------------------------------


def hold(tx: Tx, key: str, held: Sequence[tuple[int, str, float]]) -> None:
    """Keep failures (seq, silence id, until) out of the group until their silence ends."""
    tx.executemany(
        "INSERT INTO held (group_key, seq, silence_id, until) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (group_key, seq) DO NOTHING",
        [(key, seq, silence, until) for seq, silence, until in held],
    )
    tx.execute(
        "UPDATE groups SET silenced_failures = silenced_failures + ? WHERE group_key = ?",
        (len(held), key),
    )


def held_until(tx: Tx, now: float, *, limit: int) -> dict[str, list[int]]:
    """Failures whose silence has ended by `now`, by group."""
    rows = tx.fetchall(
        "SELECT group_key, seq FROM held WHERE until <= ? ORDER BY until, seq LIMIT ?",
        (now, limit),
    )
    by_group: dict[str, list[int]] = {}
    for key, seq in rows:
        by_group.setdefault(str(key), []).append(int(seq))
    return by_group


def unhold(tx: Tx, key: str, seqs: Collection[int], *, released: int) -> None:
    """Forget these held failures; `released` of them go back into the group's counts."""
    placeholders = ",".join("?" * len(seqs))
    tx.execute(f"DELETE FROM held WHERE group_key = ? AND seq IN ({placeholders})", [key, *seqs])
    tx.execute(
        "UPDATE groups SET silenced_failures = CASE WHEN silenced_failures > ? "
        "THEN silenced_failures - ? ELSE 0 END WHERE group_key = ?",
        (released, released, key),
    )
