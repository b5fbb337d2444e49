"""The sweep's state in SQLite: the sweeper lease, cursors and the open stuck generations.

Plain functions on a connection, so `SQLiteStore` runs writes on its writer thread (inside
its transaction) and reads on its reader pool. The lease is taken by one conditional
upsert — free, expired or already ours — so two processes sharing the file can never both
hold it; the database decides, not a lock in memory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

_ACQUIRE = """
INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE leases.holder = excluded.holder OR leases.expires_at <= ?
"""


def acquire_lease(
    conn: sqlite3.Connection, name: str, holder: str, *, ttl: float, now: float
) -> bool:
    """Take or renew the lease `name` for `ttl` seconds. False if another holder has it."""
    return conn.execute(_ACQUIRE, (name, holder, now + ttl, now)).rowcount == 1


def get_cursor(conn: sqlite3.Connection, name: str) -> float | None:
    row = conn.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
    return None if row is None else float(row[0])


def set_cursor(conn: sqlite3.Connection, name: str, value: float) -> None:
    conn.execute(
        "INSERT INTO cursors (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


def mark_stuck(conn: sqlite3.Connection, generation_ids: Sequence[str], *, now: float) -> None:
    """Remember generations reported stuck; one already open keeps its first `since`."""
    conn.executemany(
        "INSERT INTO stuck_open (generation_id, since) VALUES (?, ?) "
        "ON CONFLICT (generation_id) DO NOTHING",
        [(generation_id, now) for generation_id in generation_ids],
    )


def open_stuck_generations(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT generation_id FROM stuck_open ORDER BY since, generation_id")
    return [str(row[0]) for row in rows]


def clear_stuck(conn: sqlite3.Connection, generation_ids: Sequence[str]) -> None:
    conn.executemany(
        "DELETE FROM stuck_open WHERE generation_id = ?", [(gid,) for gid in generation_ids]
    )
