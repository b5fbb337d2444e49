"""What the rate rules keep and read in the store: their state between evaluations (one
`RuleStateRow` per rule and scope), and the failure counts the spike rule judges."""

from __future__ import annotations

from collections.abc import Iterable

from receiver.rows import FailureCountRow, RuleStateRow
from receiver.store.tx import Tx

# One pass over the last day and a window of failures (the received_at range of the
# `failures_recent` index, which holds every column read: no table lookups). A rule's own
# alerts (kind `condition`) are not failures of a model.
FAILURE_COUNTS = """
SELECT category, model_id,
    SUM(CASE WHEN received_at >= ? THEN 1 ELSE 0 END),
    SUM(CASE WHEN received_at >= ? AND received_at < ? THEN 1 ELSE 0 END),
    SUM(CASE WHEN received_at < ? THEN 1 ELSE 0 END)
FROM failures
WHERE received_at >= ? AND kind <> 'condition'
GROUP BY category, model_id
"""


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


def failure_counts(tx: Tx, *, now: float, window: float, day: float) -> list[FailureCountRow]:
    """Failures per category and model: in `[now - window, …)`, in the same window `day`
    earlier, and in the `day` before the current window."""
    start = now - window
    rows = tx.fetchall(FAILURE_COUNTS, (start, start - day, now - day, start, start - day))
    return [
        FailureCountRow(
            category=str(row[0]),
            model_id=None if row[1] is None else str(row[1]),
            current=int(row[2]),
            day_before=int(row[3]),
            trailing_day=int(row[4]),
        )
        for row in rows
    ]


def oldest_failure(tx: Tx) -> float | None:
    """When the oldest failure still stored arrived."""
    row = tx.fetchone("SELECT min(received_at) FROM failures")
    return None if row is None or row[0] is None else float(row[0])
