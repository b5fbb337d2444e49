"""Read-only counts over the failures table for the console and the admin API: how many
failures arrived per time bucket and key, and the most frequent models, errors and users
of a window. Each is one range scan of the `failures_received` index (migration 0011).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from receiver.store.tx import Tx

# The columns a count may be keyed by, and the SQL that names each; nothing else
# reaches the SQL text.
Column = Literal["category", "model_id", "user_id", "fingerprint"]
_COLUMNS: dict[Column, str] = {
    "category": "category",
    "model_id": "model_id",
    "user_id": "user_id",
    "fingerprint": "fingerprint",
}


@dataclass(frozen=True, slots=True)
class BucketCount:
    """Failures whose arrival falls in bucket `index` (of `step` seconds from `since`)."""

    index: int
    key: str | None
    count: int


@dataclass(frozen=True, slots=True)
class KeyCount:
    key: str | None
    count: int


@dataclass(frozen=True, slots=True)
class ErrorCount:
    """One distinct error (fingerprint) of a window with a sample of its text."""

    fingerprint: str
    count: int
    category: str
    model_id: str | None
    message: str


def _bucket(tx: Tx) -> str:
    # PostgreSQL's CAST rounds to nearest; SQLite's truncates (and its floor() is optional).
    return (
        "floor((received_at - ?) / ?)"
        if tx.dialect == "postgres"
        else ("CAST((received_at - ?) / ? AS INTEGER)")
    )


def per_bucket(tx: Tx, *, by: Column, since: float, until: float, step: float) -> list[BucketCount]:
    """Failures with `since <= received_at < until`, counted per bucket and `by` value."""
    column = _COLUMNS[by]
    rows = tx.fetchall(
        f"SELECT {_bucket(tx)} AS b, {column}, count(*) FROM failures "
        f"WHERE received_at >= ? AND received_at < ? GROUP BY b, {column}",
        (since, step, since, until),
    )
    return [BucketCount(int(r[0]), r[1], int(r[2])) for r in rows]


def top(tx: Tx, *, by: Column, since: float, limit: int) -> list[KeyCount]:
    """The `by` values with the most failures since `since`, most first."""
    column = _COLUMNS[by]
    rows = tx.fetchall(
        f"SELECT {column}, count(*) AS n FROM failures WHERE received_at >= ? "
        f"GROUP BY {column} ORDER BY n DESC, {column} LIMIT ?",
        (since, limit),
    )
    return [KeyCount(r[0], int(r[1])) for r in rows]


def top_errors(tx: Tx, *, since: float, limit: int) -> list[ErrorCount]:
    """The distinct errors with the most failures since `since`, with the text of the
    latest one of each (looked up only for the few that are shown)."""
    found = []
    for fingerprint, count in tx.fetchall(
        "SELECT fingerprint, count(*) AS n FROM failures WHERE received_at >= ? "
        "GROUP BY fingerprint ORDER BY n DESC, fingerprint LIMIT ?",
        (since, limit),
    ):
        sample = tx.fetchone(
            "SELECT category, model_id, message FROM failures "
            "WHERE received_at >= ? AND fingerprint = ? ORDER BY received_at DESC LIMIT 1",
            (since, fingerprint),
        )
        assert sample is not None
        found.append(
            ErrorCount(str(fingerprint), int(count), str(sample[0]), sample[1], str(sample[2]))
        )
    return found


def labels_since(tx: Tx, *, since: float, limit: int) -> list[dict[str, str]]:
    """The labels of the newest failures since `since`, at most `limit` of them."""
    rows = tx.fetchall(
        "SELECT labels FROM failures WHERE received_at >= ? ORDER BY received_at DESC LIMIT ?",
        (since, limit),
    )
    return [json.loads(labels) for (labels,) in rows]


def open_group_labels(tx: Tx) -> list[dict[str, str]]:
    """The labels of every open group."""
    rows = tx.fetchall("SELECT labels FROM groups WHERE status = 'open'")
    return [json.loads(labels) for (labels,) in rows]


@dataclass(frozen=True, slots=True)
class SweepState:
    """Who holds the sweep lease until when, and where each sweep stopped."""

    leases: tuple[tuple[str, str, float], ...]
    cursors: tuple[tuple[str, float], ...]
    stuck_open: int


def sweep_state(tx: Tx) -> SweepState:
    leases = tx.fetchall("SELECT name, holder, expires_at FROM leases ORDER BY name")
    cursors = tx.fetchall("SELECT name, value FROM cursors ORDER BY name")
    stuck = tx.fetchone("SELECT count(*) FROM stuck_open")
    return SweepState(
        leases=tuple((str(n), str(h), float(e)) for n, h, e in leases),
        cursors=tuple((str(n), float(v)) for n, v in cursors),
        stuck_open=int(stuck[0]) if stuck else 0,
    )


def per_bucket_by_group(
    tx: Tx, *, since: float, until: float, step: float
) -> dict[tuple[str, str | None], dict[int, int]]:
    """Failures per bucket for each (category, model_id) pair: the incidents' sparklines,
    all in one scan of the window."""
    rows = tx.fetchall(
        f"SELECT {_bucket(tx)} AS b, category, model_id, count(*) FROM failures "
        "WHERE received_at >= ? AND received_at < ? GROUP BY b, category, model_id",
        (since, step, since, until),
    )
    found: dict[tuple[str, str | None], dict[int, int]] = {}
    for bucket, category, model_id, count in rows:
        found.setdefault((str(category), model_id), {})[int(bucket)] = int(count)
    return found
