"""The readiness probe's row: one committed write per `/readyz`, per replica."""

from __future__ import annotations

from receiver.store.tx import Tx

# Rows of replicas gone for this long are removed by the probes of the others.
_FORGET_AFTER = 86400.0


def touch(tx: Tx, replica: str, *, now: float) -> None:
    tx.execute(
        "INSERT INTO readiness (replica, checked_at) VALUES (?, ?) "
        "ON CONFLICT (replica) DO UPDATE SET checked_at = excluded.checked_at",
        (replica, now),
    )
    tx.execute("DELETE FROM readiness WHERE checked_at < ?", (now - _FORGET_AFTER,))
