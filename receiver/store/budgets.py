"""Receivers' notification budgets, and the updates they held back for a digest.

Plain loads and saves: when to spend, hold or write the digest is `engine.storm`, run
by `loops.flush`. On PostgreSQL a receiver's budget row is locked until the transaction
ends, so replicas flushing at once count every notification.
"""

from __future__ import annotations

from receiver.rows import Budget, DigestItemRow
from receiver.store.tx import Tx, for_update


def load_budget(tx: Tx, receiver: str) -> Budget | None:
    row = tx.fetchone(
        f"SELECT window_start, used FROM receiver_budgets WHERE receiver = ?{for_update(tx)}",
        (receiver,),
    )
    return None if row is None else Budget(window_start=float(row[0]), used=int(row[1]))


def save_budget(tx: Tx, receiver: str, budget: Budget) -> None:
    tx.execute(
        "INSERT INTO receiver_budgets (receiver, window_start, used) VALUES (?, ?, ?) "
        "ON CONFLICT (receiver) DO UPDATE SET window_start = excluded.window_start, "
        "used = excluded.used",
        (receiver, budget.window_start, budget.used),
    )


def hold(tx: Tx, receiver: str, item: DigestItemRow) -> None:
    """Hold a group's update for the digest, merged with what it already holds: the
    failures add up, the latest reason and episode count win, the first hold's time
    stays."""
    tx.execute(
        "INSERT INTO digest_items (receiver, group_key, title, reason, window_failures, "
        "episode_failures, held_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (receiver, group_key) DO UPDATE SET title = excluded.title, "
        "reason = excluded.reason, "
        "window_failures = digest_items.window_failures + excluded.window_failures, "
        "episode_failures = excluded.episode_failures",
        (
            receiver,
            item.group_key,
            item.title,
            item.reason,
            item.window_failures,
            item.episode_failures,
            item.held_at,
        ),
    )


def receivers_holding(tx: Tx) -> list[str]:
    """Receivers with updates held back for a digest."""
    return [str(r[0]) for r in tx.fetchall("SELECT DISTINCT receiver FROM digest_items")]


def take_held(tx: Tx, receiver: str) -> list[DigestItemRow]:
    """The receiver's held-back updates, oldest first, removed (the digest has them)."""
    rows = tx.fetchall(
        "SELECT group_key, title, reason, window_failures, episode_failures, held_at "
        "FROM digest_items WHERE receiver = ? ORDER BY held_at, group_key",
        (receiver,),
    )
    tx.execute("DELETE FROM digest_items WHERE receiver = ?", (receiver,))
    return [
        DigestItemRow(
            group_key=str(r[0]),
            title=str(r[1]),
            reason=str(r[2]),
            window_failures=int(r[3]),
            episode_failures=int(r[4]),
            held_at=float(r[5]),
        )
        for r in rows
    ]
