"""Migration 0007 turns each group's current episode into an incident (SQLite here; the
PostgreSQL script runs in every PostgreSQL test's fresh schema)."""

from __future__ import annotations

import sqlite3

from receiver.store.migrations import migrations
from receiver.store.sqlite import _statements

GROUP = (
    "INSERT INTO groups (group_key, route_id, receiver, labels, episode, status, opened_at, "
    "first_seen, last_seen, last_active, episode_failures) VALUES (?, 'r', 'default', ?, ?, ?, "
    "10, 20, 30, 40, 9)"
)


def test_existing_groups_become_incidents() -> None:
    conn = sqlite3.connect(":memory:")
    for migration in migrations("sqlite"):
        if migration.version == 7:
            labels = '{"category": "timeout", "model_id": "flux-pro"}'
            conn.execute(GROUP, ("ended", labels, 3, "resolved"))
            conn.execute(GROUP, ("ongoing", "{}", 1, "open"))
        for statement in _statements(migration.sql):
            conn.execute(statement)
    rows = conn.execute(
        "SELECT id, category, model_id, opened_at, failures, first_seen, last_seen, resolved_at "
        "FROM incidents ORDER BY id"
    ).fetchall()
    assert rows == [
        # A resolved episode keeps its counters, resolved when it went quiet.
        ("ended-3", "timeout", "flux-pro", 10.0, 9, 20.0, 30.0, 40.0),
        # An open one reads them live from its group.
        ("ongoing-1", None, None, 10.0, None, None, None, None),
    ]
