"""Pruning old rows in small batches, and what the store holds (rows, bytes, oldest).

Each rule is one query that picks the rows of one table that may go: older than their
cutoff and neither open nor owed. `prune` deletes up to `limit` of them in the caller's
(short) transaction; `count` says how many there are, for a dry run. Children go before
their parents (an incident's errors before the incident).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from receiver.rows import GROUP_KEY_LENGTH
from receiver.store.tx import Tx


@dataclass(frozen=True, slots=True)
class Rule:
    table: str  # the table rows are deleted from
    key: str  # the column (or row value) that identifies a row
    pick: str  # SELECT of the keys that may go; one `?` for the cutoff
    cutoff: str  # which cutoff of `engine.retention.Cutoffs` applies


# A resolved group may go when it has been quiet long enough and owes nothing: no
# failure held by a silence, no notification unsent.
_GONE_GROUP = (
    "g.status = 'resolved' AND g.last_active < ? "
    "AND NOT EXISTS (SELECT 1 FROM held h WHERE h.group_key = g.group_key) "
    "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.status = 'pending' "
    "AND o.stream LIKE g.group_key || ':%')"
)
# An incident's rows go with its group, and a past episode's rows once the group's
# current episode opened before the cutoff (so the past one ended before it too).
_OLD_EPISODE = (
    "SELECT {cols} FROM {t} c JOIN groups g ON g.group_key = c.group_key "
    f"WHERE ({_GONE_GROUP}) OR (c.episode < g.episode AND g.opened_at < ?)"
)

RULES: tuple[Rule, ...] = (
    # A failure goes once it is grouped (the dispatch cursor is past it) and no silence
    # still holds it; what its group learnt from it stays in the group's rows.
    Rule(
        "failures",
        "seq",
        "SELECT f.seq FROM failures f WHERE f.received_at < ? "
        "AND f.seq <= (SELECT last_seq FROM dispatch_cursor WHERE id = 1) "
        "AND NOT EXISTS (SELECT 1 FROM held h WHERE h.seq = f.seq) ORDER BY f.received_at",
        "failures",
    ),
    Rule(
        "outbox",
        "id",
        "SELECT id FROM outbox WHERE status = 'sent' AND sent_at < ?",
        "notifications",
    ),
    Rule(
        "outbox",
        "id",
        "SELECT id FROM outbox WHERE status = 'dead' AND created_at < ?",
        "dead_letters",
    ),
    # A thread (a Slack ts, an e-mail Message-ID) is what a later flush updates or
    # replies to: kept while its stream owes a notification, while its episode is open,
    # and while its group was active within the notifications' retention.
    Rule(
        "threads",
        "stream",
        "SELECT t.stream FROM threads t "
        "WHERE NOT EXISTS (SELECT 1 FROM outbox o "
        "WHERE o.stream = t.stream AND o.status = 'pending') "
        # A stream is "<group key>:<episode>:<integration>".
        "AND NOT EXISTS (SELECT 1 FROM groups g "
        f"WHERE g.group_key = substr(t.stream, 1, {GROUP_KEY_LENGTH}) "
        "AND (g.last_active >= ? OR (g.status = 'open' "
        "AND t.stream LIKE g.group_key || ':' || g.episode || ':%')))",
        "notifications",
    ),
    *(
        Rule(
            table,
            f"(group_key, episode, {col})",
            _OLD_EPISODE.format(cols=f"c.group_key, c.episode, c.{col}", t=table),
            "incidents",
        )
        for table, col in (
            ("group_errors", "fingerprint"),
            ("group_users", "user_id"),
            ("group_members", "generation_id"),
        )
    ),
    Rule(
        "groups",
        "group_key",
        f"SELECT g.group_key FROM groups g WHERE {_GONE_GROUP}",
        "incidents",
    ),
    Rule(
        "silences",
        "id",
        "SELECT id FROM silences s WHERE COALESCE(expired_at, ends_at) < ? "
        "AND NOT EXISTS (SELECT 1 FROM held h WHERE h.silence_id = s.id)",
        "silences",
    ),
)

# Tables whose rows `stats` reports (the rest are a handful of rows each).
TABLES = (
    "failures",
    "groups",
    "group_errors",
    "group_users",
    "group_members",
    "held",
    "outbox",
    "threads",
    "silences",
)
# The column whose smallest value is a table's oldest row, where there is one.
_AGE = {
    "failures": "received_at",
    "groups": "first_seen",
    "outbox": "created_at",
    "silences": "created_at",
}


def _params(rule: Rule, cutoff: float) -> list[float]:
    return [cutoff] * rule.pick.count("?")


def prune(tx: Tx, rule: Rule, cutoff: float, *, limit: int) -> int:
    """Delete up to `limit` rows that `rule` picks. Returns how many went."""
    return tx.execute(
        f"DELETE FROM {rule.table} WHERE {rule.key} IN ({rule.pick} LIMIT ?)",
        [*_params(rule, cutoff), limit],
    )


def count(tx: Tx, rule: Rule, cutoff: float) -> int:
    """How many rows `rule` would delete now (for a dry run)."""
    row = tx.fetchone(f"SELECT count(*) FROM ({rule.pick}) AS picked", _params(rule, cutoff))
    return int(row[0]) if row else 0


@dataclass(frozen=True, slots=True)
class TableStats:
    table: str
    rows: int
    bytes: int | None  # None where the database cannot say
    oldest: float | None


def stats(tx: Tx) -> list[TableStats]:
    sizes = _sizes(tx)
    found = []
    for table in TABLES:
        rows = tx.fetchone(f"SELECT count(*) FROM {table}")
        oldest = None
        if table in _AGE:
            first = tx.fetchone(f"SELECT min({_AGE[table]}) FROM {table}")
            oldest = None if first is None or first[0] is None else float(first[0])
        found.append(TableStats(table, int(rows[0]) if rows else 0, sizes.get(table), oldest))
    return found


def _sizes(tx: Tx) -> dict[str, int]:
    """Bytes per table, indexes included."""
    if tx.dialect == "postgres":
        rows = tx.fetchall(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        )
        return {str(name): int(size) for name, size in rows}
    try:
        rows = tx.fetchall(
            "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
            "LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1"
        )
    except sqlite3.OperationalError:  # a SQLite built without the dbstat table: rows only
        return {}
    return {str(name): int(size) for name, size in rows}
