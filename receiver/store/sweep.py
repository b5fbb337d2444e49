"""The sweep's state: the sweeper lease, cursors and the open stuck generations.

The lease is taken by one conditional upsert — free, expired or already ours — so two
replicas can never both hold it: the database decides, not a lock in memory.
Clearing a stuck generation also marks it in the groups it belongs to, so a stuck
group resolves as soon as all of its generations have left `processing`.
"""

from __future__ import annotations

from collections.abc import Sequence

from receiver.store.tx import Tx

_ACQUIRE = """
INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE leases.holder = excluded.holder OR leases.expires_at <= ?
"""


def acquire_lease(tx: Tx, name: str, holder: str, *, ttl: float, now: float) -> bool:
    """Take or renew the lease `name` for `ttl` seconds. False if another holder has it."""
    return tx.execute(_ACQUIRE, (name, holder, now + ttl, now)) == 1


def release_lease(tx: Tx, name: str, holder: str) -> None:
    """Give the lease up (on a graceful stop), so another replica need not wait it out."""
    tx.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))


def get_cursor(tx: Tx, name: str) -> float | None:
    row = tx.fetchone("SELECT value FROM cursors WHERE name = ?", (name,))
    return None if row is None else float(row[0])


def set_cursor(tx: Tx, name: str, value: float) -> None:
    tx.execute(
        "INSERT INTO cursors (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


def mark_stuck(tx: Tx, generation_ids: Sequence[str], *, now: float) -> None:
    """Remember generations reported stuck; one already open keeps its first `since`."""
    tx.executemany(
        "INSERT INTO stuck_open (generation_id, since) VALUES (?, ?) "
        "ON CONFLICT (generation_id) DO NOTHING",
        [(generation_id, now) for generation_id in generation_ids],
    )


def open_stuck_generations(tx: Tx) -> list[str]:
    rows = tx.fetchall("SELECT generation_id FROM stuck_open ORDER BY since, generation_id")
    return [str(row[0]) for row in rows]


def clear_stuck(tx: Tx, generation_ids: Sequence[str], *, now: float) -> None:
    """These generations left `processing`: forget them, and make their groups due now
    so the dispatcher resolves those whose every generation is clear."""
    for generation_id in generation_ids:
        tx.execute("DELETE FROM stuck_open WHERE generation_id = ?", (generation_id,))
        clear_member(tx, generation_id, now=now)


def clear_member(tx: Tx, member: str, *, now: float) -> None:
    """A member of groups (a stuck generation, a rule's alert) is over: mark it, and make
    its open groups due now so the dispatcher resolves those whose every member is clear."""
    cleared = tx.execute(
        "UPDATE group_members SET cleared = 1 WHERE generation_id = ? AND cleared = 0",
        (member,),
    )
    if cleared:
        tx.execute(
            "UPDATE groups SET due_at = ? WHERE status = 'open' AND group_key IN "
            "(SELECT group_key FROM group_members WHERE generation_id = ?)",
            (now, member),
        )
