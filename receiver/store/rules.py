"""The rate rules' state between sweeps: one `RuleStateRow` per rule and scope."""

from __future__ import annotations

from collections.abc import Iterable

from receiver.rows import RuleStateRow
from receiver.store.tx import Tx


def load_rule_states(tx: Tx, rule: str) -> dict[str, RuleStateRow]:
    """Every stored scope of `rule`, by scope."""
    rows = tx.fetchall(
        "SELECT scope, pending, calm, firing_since, message, evaluated_at FROM rule_state "
        "WHERE rule = ?",
        (rule,),
    )
    return {
        str(row[0]): RuleStateRow(
            rule=rule,
            scope=str(row[0]),
            pending=int(row[1]),
            calm=int(row[2]),
            firing_since=None if row[3] is None else float(row[3]),
            message=None if row[4] is None else str(row[4]),
            evaluated_at=float(row[5]),
        )
        for row in rows
    }


def save_rule_states(tx: Tx, rows: Iterable[RuleStateRow]) -> None:
    """Upsert; a row back at rest (not pending, not firing) is deleted to keep the table to
    the scopes that matter."""
    for row in rows:
        if row.pending == 0 and row.firing_since is None:
            tx.execute("DELETE FROM rule_state WHERE rule = ? AND scope = ?", (row.rule, row.scope))
            continue
        tx.execute(
            "INSERT INTO rule_state (rule, scope, pending, calm, firing_since, message, "
            "evaluated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (rule, scope) DO UPDATE SET "
            "pending = excluded.pending, calm = excluded.calm, "
            "firing_since = excluded.firing_since, message = excluded.message, "
            "evaluated_at = excluded.evaluated_at",
            (
                row.rule,
                row.scope,
                row.pending,
                row.calm,
                row.firing_since,
                row.message,
                row.evaluated_at,
            ),
        )
