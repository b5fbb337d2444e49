"""The outbox's transactions: claim due rows under a lease, then ack, retry or bury.

Rows are claimed a new incident's first message first, then oldest first. A claim
takes a row only when no earlier flush of the same stream is still pending (so a
Slack update never overtakes the post it updates) and its destination is not paused by a
429. The lease lets another worker retake the rows of a worker that died; acks are
conditional on still holding the claim.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable

from receiver.model import Notification
from receiver.rows import OutboxRow
from receiver.store.tx import Tx, skip_locked

_COLUMNS = (
    "id, payload, stream, receiver, integration, destination, status, attempts, created_at, "
    "due_at, last_error, sent_at"
)


def _row(r: tuple[object, ...], refs: str | None = None) -> OutboxRow:
    notification = Notification.model_validate_json(str(r[1]))
    if refs is not None:
        notification = notification.model_copy(update={"thread": json.loads(refs)})
    return OutboxRow(
        id=int(str(r[0])),
        notification=notification,
        stream=str(r[2]),
        receiver=str(r[3]),
        integration=str(r[4]),
        destination=str(r[5]),
        status=str(r[6]),
        attempts=int(str(r[7])),
        created_at=float(str(r[8])),
        due_at=float(str(r[9])),
        last_error=None if r[10] is None else str(r[10]),
        sent_at=None if r[11] is None else float(str(r[11])),
    )


def claimable(
    tx: Tx, *, now: float, limit: int, skip: Collection[str] = ()
) -> list[tuple[int, str]]:
    """Due rows that may be claimed (id, destination), in claim order: a new incident's
    first message before everything else, then oldest first. Rows of the destinations
    in `skip` (no rate-limit token left) are left out."""
    skipped = ""
    if skip:
        skipped = f"AND o.destination NOT IN ({','.join('?' * len(skip))}) "
    rows = tx.fetchall(
        "SELECT o.id, o.destination FROM outbox o WHERE o.status = 'pending' AND o.due_at <= ? "
        "AND (o.claimed_until IS NULL OR o.claimed_until <= ?) "
        f"{skipped}"
        "AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.stream = o.stream "
        "AND e.status = 'pending' AND e.id < o.id) "
        "AND NOT EXISTS (SELECT 1 FROM destination_pauses p "
        "WHERE p.destination = o.destination AND p.until > ?) "
        f"ORDER BY o.priority, o.due_at, o.id LIMIT ?{skip_locked(tx)}",
        (now, now, *skip, now, limit),
    )
    return [(int(r[0]), str(r[1])) for r in rows]


def claim(tx: Tx, ids: Iterable[int], *, holder: str, now: float, lease: float) -> list[OutboxRow]:
    """Take these rows for `holder` until `now + lease` (those still unclaimed)."""
    claimed = []
    for row_id in ids:
        found = tx.fetchone(
            "UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id = ? "
            "AND status = 'pending' AND (claimed_until IS NULL OR claimed_until <= ?) "
            f"RETURNING {_COLUMNS}",
            (holder, now + lease, row_id, now),
        )
        if found is None:
            continue
        refs = tx.fetchone("SELECT refs FROM threads WHERE stream = ?", (found[2],))
        claimed.append(_row(found, None if refs is None else str(refs[0])))
    return claimed


def ack(tx: Tx, row_id: int, *, holder: str, now: float, refs: dict[str, str] | None) -> bool:
    """Mark a row sent and keep what the notifier asked to remember. False if the claim
    was lost (another worker took the row over after our lease ran out)."""
    stream = tx.fetchone(
        "UPDATE outbox SET status = 'sent', sent_at = ?, claimed_until = NULL, last_error = NULL "
        "WHERE id = ? AND claimed_by = ? AND status = 'pending' RETURNING stream",
        (now, row_id, holder),
    )
    if stream is None:
        return False
    if refs:
        tx.execute(
            "INSERT INTO threads (stream, refs) VALUES (?, ?) "
            "ON CONFLICT (stream) DO UPDATE SET refs = excluded.refs",
            (stream[0], json.dumps(refs, sort_keys=True)),
        )
    return True


def retry_later(
    tx: Tx, row_id: int, *, holder: str, due_at: float, error: str, count_attempt: bool = True
) -> bool:
    return (
        tx.execute(
            "UPDATE outbox SET due_at = ?, attempts = attempts + ?, last_error = ?, "
            "claimed_until = NULL WHERE id = ? AND claimed_by = ? AND status = 'pending'",
            (due_at, 1 if count_attempt else 0, error[:1000], row_id, holder),
        )
        == 1
    )


def bury(tx: Tx, row_id: int, *, holder: str, error: str) -> bool:
    """Move a row to the dead letter."""
    return (
        tx.execute(
            "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ?, "
            "claimed_until = NULL WHERE id = ? AND claimed_by = ? AND status = 'pending'",
            (error[:1000], row_id, holder),
        )
        == 1
    )


def pause_destination(tx: Tx, destination: str, *, until: float) -> None:
    tx.execute(
        "INSERT INTO destination_pauses (destination, until) VALUES (?, ?) "
        "ON CONFLICT (destination) DO UPDATE SET until = CASE "
        "WHEN destination_pauses.until > excluded.until THEN destination_pauses.until "
        "ELSE excluded.until END",
        (destination, until),
    )


def list_rows(tx: Tx, *, status: str | None, limit: int) -> list[OutboxRow]:
    where = "WHERE status = ?" if status else ""
    params: tuple[object, ...] = (status, limit) if status else (limit,)
    rows = tx.fetchall(f"SELECT {_COLUMNS} FROM outbox {where} ORDER BY id DESC LIMIT ?", params)
    return [_row(r) for r in rows]


def in_streams(tx: Tx, prefix: str) -> list[OutboxRow]:
    """Every notification of the streams whose name starts with `prefix`, oldest first."""
    rows = tx.fetchall(
        f"SELECT {_COLUMNS} FROM outbox WHERE substr(stream, 1, ?) = ? ORDER BY id",
        (len(prefix), prefix),
    )
    return [_row(r) for r in rows]


def requeue_dead(tx: Tx, ids: list[int] | None, *, now: float) -> int:
    """Give dead rows (all, or those listed) a fresh set of attempts."""
    if ids is None:
        return tx.execute(
            "UPDATE outbox SET status = 'pending', attempts = 0, due_at = ?, created_at = ?, "
            "claimed_until = NULL WHERE status = 'dead'",
            (now, now),
        )
    changed = 0
    for row_id in ids:
        changed += tx.execute(
            "UPDATE outbox SET status = 'pending', attempts = 0, due_at = ?, created_at = ?, "
            "claimed_until = NULL WHERE status = 'dead' AND id = ?",
            (now, now, row_id),
        )
    return changed


def pending_count(tx: Tx) -> int:
    row = tx.fetchone("SELECT count(*) FROM outbox WHERE status = 'pending'")
    return int(row[0]) if row else 0


def next_due_at(tx: Tx, *, now: float, skip: Collection[str] = ()) -> float | None:
    """When the earliest unclaimed row may be claimed: its due time, or its destination's
    pause if that ends later; rows of the destinations in `skip` left out. None if
    nothing is waiting."""
    skipped = f"AND o.destination NOT IN ({','.join('?' * len(skip))}) " if skip else ""
    row = tx.fetchone(
        "SELECT min(CASE WHEN p.until > o.due_at THEN p.until ELSE o.due_at END) "
        "FROM outbox o LEFT JOIN destination_pauses p ON p.destination = o.destination "
        "WHERE o.status = 'pending' AND (o.claimed_until IS NULL OR o.claimed_until <= ?) "
        f"{skipped}",
        (now, *skip),
    )
    return None if row is None or row[0] is None else float(row[0])


def waiting_destinations(tx: Tx, *, now: float) -> list[str]:
    """Destinations with a row due now, claimed or not."""
    rows = tx.fetchall(
        "SELECT DISTINCT destination FROM outbox WHERE status = 'pending' AND due_at <= ?",
        (now,),
    )
    return [str(r[0]) for r in rows]


def buckets(tx: Tx) -> dict[str, tuple[float, float]]:
    """Every destination's token bucket (tokens, last update), unlocked: for planning a
    claim; the token itself is taken under the lock of `load_bucket`."""
    rows = tx.fetchall("SELECT destination, tokens, updated_at FROM destination_buckets")
    return {str(r[0]): (float(r[1]), float(r[2])) for r in rows}


def load_bucket(tx: Tx, destination: str, *, full: float, now: float) -> tuple[float, float]:
    """A destination's token bucket (tokens, last update), locked until the transaction
    ends so that replicas take turns; a new bucket starts `full`."""
    tx.execute(
        "INSERT INTO destination_buckets (destination, tokens, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (destination) DO NOTHING",
        (destination, full, now),
    )
    row = tx.fetchone(
        "SELECT tokens, updated_at FROM destination_buckets WHERE destination = ?"
        + (" FOR UPDATE" if tx.dialect == "postgres" else ""),
        (destination,),
    )
    assert row is not None
    return float(row[0]), float(row[1])


def save_bucket(tx: Tx, destination: str, *, tokens: float, now: float) -> None:
    tx.execute(
        "UPDATE destination_buckets SET tokens = ?, updated_at = ? WHERE destination = ?",
        (tokens, now, destination),
    )


def enqueue(
    tx: Tx,
    notification: Notification,
    targets: Iterable[tuple[str, str, str, str]],
    now: float,
    *,
    priority: int = 1,
) -> None:
    """Owe `notification` to each target (stream, receiver, integration, destination),
    claimed in `priority` order (lower first). Writing the same notification twice
    stores it once."""
    payload = notification.model_dump_json()
    tx.executemany(
        "INSERT INTO outbox (notification_id, stream, receiver, integration, destination, "
        "payload, status, created_at, due_at, priority) "
        "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?) "
        "ON CONFLICT (notification_id, integration) DO NOTHING",
        [
            (
                notification.id,
                stream,
                receiver,
                integration,
                destination,
                payload,
                now,
                now,
                priority,
            )
            for stream, receiver, integration, destination in targets
        ],
    )
