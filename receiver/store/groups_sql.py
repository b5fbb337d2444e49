"""The engine's intake: route new failures into their groups, and give back those a
silence held once it ends.

Each function runs inside one transaction (`Tx`). Written once for SQLite and
PostgreSQL; on PostgreSQL the dispatch cursor's row lock serialises dispatchers across
replicas. Flushing groups into the outbox is `flush_sql`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from receiver.matchers import Matcher, all_match
from receiver.model import FailureKind
from receiver.routing import Route
from receiver.store.group_state_sql import reschedule
from receiver.store.tx import Tx


def group_key(route: Route, labels: Mapping[str, str]) -> str:
    ident = json.dumps([route.id, route.receiver, sorted(labels.items())], ensure_ascii=False)
    return hashlib.sha256(ident.encode("utf-8")).hexdigest()[:24]


@dataclass(slots=True)
class _Batch:
    """What one dispatch batch adds to one group."""

    route: Route
    labels: dict[str, str]
    count: int = 0
    first: float = float("inf")
    last: float = float("-inf")
    errors: dict[str, list[Any]] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)
    held: list[tuple[int, str, float]] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)  # generations reported stuck
    # Failures released from a silence count as activity when released, not when received.
    released_at: float | None = None

    @property
    def active(self) -> float:
        return self.released_at if self.released_at is not None else self.last

    def add(self, row: _FailureRow) -> None:
        self.count += 1
        self.first = min(self.first, row.received_at)
        self.last = max(self.last, row.received_at)
        entry = self.errors.get(row.fingerprint)
        if entry is None:
            self.errors[row.fingerprint] = [
                row.message,
                row.error_type,
                row.model_id,
                row.generation_id,
                1,
                row.prompt,
            ]
        else:
            entry[4] += 1
            if entry[5] is None:
                entry[5] = row.prompt
        if row.user_id:
            self.users.add(row.user_id)
        if row.kind == FailureKind.STUCK:
            self.stuck.append(row.generation_id)


@dataclass(frozen=True, slots=True)
class _FailureRow:
    seq: int
    generation_id: str
    fingerprint: str
    message: str
    error_type: str | None
    model_id: str | None
    user_id: str | None
    labels: dict[str, str]
    received_at: float
    kind: str
    prompt: str | None


_FAILURE_COLUMNS = (
    "seq, generation_id, fingerprint, message, error_type, model_id, user_id, labels, "
    "received_at, kind, prompt"
)


def _failure_rows(rows: Iterable[Sequence[Any]]) -> list[_FailureRow]:
    return [
        _FailureRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7]), r[8], r[9], r[10])
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class ActiveSilence:
    id: str
    matchers: tuple[Matcher, ...]
    ends_at: float


def active_silences(tx: Tx, now: float) -> list[ActiveSilence]:
    rows = tx.fetchall(
        "SELECT id, matchers, ends_at FROM silences "
        "WHERE starts_at <= ? AND ends_at > ? AND expired_at IS NULL ORDER BY id",
        (now, now),
    )
    return [
        ActiveSilence(r[0], tuple(Matcher.parse(m) for m in json.loads(r[1])), r[2]) for r in rows
    ]


def absorb_new_failures(tx: Tx, *, root: Route, now: float, limit: int = 1000) -> int:
    """Route the failures stored since the last call into their groups. Returns how many."""
    cursor = tx.fetchone(f"SELECT last_seq FROM dispatch_cursor WHERE id = 1{_for_update(tx)}")
    last_seq = int(cursor[0]) if cursor else 0
    rows = _failure_rows(
        tx.fetchall(
            f"SELECT {_FAILURE_COLUMNS} FROM failures WHERE seq > ? ORDER BY seq LIMIT ?",
            (last_seq, limit),
        )
    )
    if not rows:
        return 0
    silences = active_silences(tx, now)
    batches: dict[str, _Batch] = {}
    for row in rows:
        silence = next((s for s in silences if all_match(s.matchers, row.labels)), None)
        for route in root.match(row.labels):
            labels = route.group_labels(row.labels)
            batch = batches.setdefault(group_key(route, labels), _Batch(route, labels))
            if silence is None:
                batch.add(row)
            else:
                batch.held.append((row.seq, silence.id, silence.ends_at))
    for key, batch in batches.items():
        _apply(tx, key, batch, now)
    tx.execute("UPDATE dispatch_cursor SET last_seq = ? WHERE id = 1", (rows[-1].seq,))
    return len(rows)


def _for_update(tx: Tx) -> str:
    return " FOR UPDATE" if tx.dialect == "postgres" else ""


def _apply(tx: Tx, key: str, batch: _Batch, now: float) -> None:
    current = tx.fetchone("SELECT status FROM groups WHERE group_key = ?", (key,))
    if current is None:
        tx.execute(
            "INSERT INTO groups (group_key, route_id, receiver, labels, episode, status, "
            "opened_at, first_seen, last_seen, last_active) "
            "VALUES (?, ?, ?, ?, 1, 'open', ?, ?, ?, ?)",
            (
                key,
                batch.route.id,
                batch.route.receiver,
                json.dumps(batch.labels),
                # group_wait counts from the first failure's arrival, not from when the
                # dispatcher got to it (which matters after a restart with a backlog).
                _or_now(batch.released_at or batch.first, now),
                _or_now(batch.first, now),
                _or_now(batch.last, now),
                _or_now(batch.active, now),
            ),
        )
    elif current[0] == "resolved" and batch.count:
        # The first failure after a resolution opens a new episode of the group.
        tx.execute(
            "UPDATE groups SET episode = episode + 1, status = 'open', opened_at = ?, "
            "first_seen = ?, last_seen = ?, last_active = ?, episode_failures = 0, "
            "pending = 0, pending_since = NULL, silenced_failures = 0, flushes = 0, "
            "last_flush_at = NULL WHERE group_key = ?",
            (batch.released_at or batch.first, batch.first, batch.last, batch.active, key),
        )
    if batch.held:
        tx.executemany(
            "INSERT INTO held (group_key, seq, silence_id, until) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (group_key, seq) DO NOTHING",
            [(key, seq, silence, until) for seq, silence, until in batch.held],
        )
        tx.execute(
            "UPDATE groups SET silenced_failures = silenced_failures + ? WHERE group_key = ?",
            (len(batch.held), key),
        )
    if batch.count:
        _count(tx, key, batch)
    reschedule(tx, key, batch.route)


def _or_now(value: float, now: float) -> float:
    return value if value not in (float("inf"), float("-inf")) else now


def _count(tx: Tx, key: str, batch: _Batch) -> None:
    row = tx.fetchone("SELECT episode FROM groups WHERE group_key = ?", (key,))
    assert row is not None
    episode = int(row[0])
    tx.execute(
        "UPDATE groups SET episode_failures = episode_failures + ?, pending = pending + ?, "
        "pending_since = COALESCE(pending_since, ?), "
        "first_seen = CASE WHEN first_seen < ? THEN first_seen ELSE ? END, "
        "last_seen = CASE WHEN last_seen > ? THEN last_seen ELSE ? END, "
        "last_active = CASE WHEN last_active > ? THEN last_active ELSE ? END "
        "WHERE group_key = ?",
        (
            batch.count,
            batch.count,
            batch.released_at or batch.first,
            batch.first,
            batch.first,
            batch.last,
            batch.last,
            batch.active,
            batch.active,
            key,
        ),
    )
    tx.executemany(
        "INSERT INTO group_errors (group_key, episode, fingerprint, message, error_type, "
        "model_id, sample_generation_id, count, pending, sample_prompt) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (group_key, episode, fingerprint) DO UPDATE SET "
        "count = group_errors.count + excluded.count, "
        "pending = group_errors.pending + excluded.pending, "
        # The first prompt seen stays the sample.
        "sample_prompt = COALESCE(group_errors.sample_prompt, excluded.sample_prompt)",
        [
            (key, episode, fp, msg, etype, model, sample, n, n, prompt)
            for fp, (msg, etype, model, sample, n, prompt) in batch.errors.items()
        ],
    )
    if batch.users:
        tx.executemany(
            "INSERT INTO group_users (group_key, episode, user_id) VALUES (?, ?, ?) "
            "ON CONFLICT (group_key, episode, user_id) DO NOTHING",
            [(key, episode, user) for user in sorted(batch.users)],
        )
    if batch.stuck:
        tx.executemany(
            "INSERT INTO group_members (group_key, episode, generation_id) VALUES (?, ?, ?) "
            "ON CONFLICT (group_key, episode, generation_id) DO NOTHING",
            [(key, episode, generation) for generation in batch.stuck],
        )


def release_held(tx: Tx, *, root: Route, now: float) -> int:
    """Give back to their groups the failures whose silence has ended. Returns how many."""
    rows = tx.fetchall(
        "SELECT group_key, seq FROM held WHERE until <= ? ORDER BY group_key, seq LIMIT 1000",
        (now,),
    )
    if not rows:
        return 0
    routes = {route.id: route for route in root.walk()}
    by_group: dict[str, list[int]] = {}
    for key, seq in rows:
        by_group.setdefault(key, []).append(int(seq))
    for key, seqs in by_group.items():
        found = tx.fetchone("SELECT route_id, labels FROM groups WHERE group_key = ?", (key,))
        placeholders = ",".join("?" * len(seqs))
        failures = _failure_rows(
            tx.fetchall(
                f"SELECT {_FAILURE_COLUMNS} FROM failures WHERE seq IN ({placeholders})", seqs
            )
        )
        tx.execute(
            f"DELETE FROM held WHERE group_key = ? AND seq IN ({placeholders})", [key, *seqs]
        )
        if found is None:
            continue
        route = routes.get(found[0], root)
        batch = _Batch(route, json.loads(found[1]), released_at=now)
        for failure in failures:
            batch.add(failure)
        released = len(failures)
        tx.execute(
            "UPDATE groups SET silenced_failures = CASE WHEN silenced_failures > ? "
            "THEN silenced_failures - ? ELSE 0 END WHERE group_key = ?",
            (released, released, key),
        )
        _apply(tx, key, batch, now)
    return len(rows)
