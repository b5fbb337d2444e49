"""Counts over the failures table for the console: how many failures arrived per time
bucket and key, and the most frequent models, users and errors of a window.

They are read from `failure_rollup` (migration 0011), which `fold` brings up to date
from the failures after its cursor: a window of 24 h or 7 d is then a few thousand rows
whatever the size of the failures table. The bucket sizes are fixed here; which window
and step to show is the caller's choice (`loops.failure_patterns`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from receiver.store.tx import Tx, for_update

Dimension = Literal["category", "model_id", "user_id", "fingerprint", "category_model"]
# The SQL that gives each dimension's key from a failures row (NULL becomes '').
_KEYS: dict[Dimension, str] = {
    "category": "category",
    "model_id": "COALESCE(model_id, '')",
    "user_id": "COALESCE(user_id, '')",
    "fingerprint": "fingerprint",
    "category_model": "category || ':' || COALESCE(model_id, '')",
}
# The bucket sizes kept for each dimension, in seconds: fine where there are few keys
# (the charts), a day where there are many (users, errors), so that a window of 7 days
# is a few thousand rows either way.
RESOLUTIONS: dict[Dimension, tuple[float, ...]] = {
    "category": (300.0, 3600.0),
    "model_id": (300.0, 3600.0),
    "category_model": (3600.0,),
    "user_id": (86400.0,),
    "fingerprint": (86400.0,),
}
# Failures folded per transaction: a large backlog is taken in several steps.
FOLD_BATCH = 100_000


@dataclass(frozen=True, slots=True)
class BucketCount:
    """Failures of `key` in the bucket that starts at `bucket` (epoch seconds)."""

    bucket: float
    key: str
    count: int


@dataclass(frozen=True, slots=True)
class KeyCount:
    key: str
    count: int


@dataclass(frozen=True, slots=True)
class ErrorCount:
    """One distinct error (fingerprint) of a window with the text of its newest failure."""

    fingerprint: str
    count: int
    category: str
    model_id: str | None
    message: str


def _floor(tx: Tx) -> str:
    # PostgreSQL's CAST rounds to nearest; SQLite's truncates (and its floor() is optional).
    if tx.dialect == "postgres":
        return "floor(received_at / ?) * ?"
    return "CAST(received_at / ? AS INTEGER) * ?"


def fold(tx: Tx) -> int:
    """Count the failures stored since the last fold into the rollup (at most
    `FOLD_BATCH` of them); how many were folded. The cursor's row lock makes replicas
    take turns."""
    row = tx.fetchone(f"SELECT last_seq FROM rollup_cursor WHERE id = 1{for_update(tx)}")
    last = int(row[0]) if row else 0
    top = tx.fetchone(
        "SELECT max(seq), count(*) FROM (SELECT seq FROM failures WHERE seq > ? ORDER BY seq "
        "LIMIT ?) AS batch",
        (last, FOLD_BATCH),
    )
    if top is None or top[0] is None:
        return 0
    upto, folded = int(top[0]), int(top[1])
    for dimension, key in _KEYS.items():
        for size in RESOLUTIONS[dimension]:
            tx.execute(
                "INSERT INTO failure_rollup (dimension, bucket, key, count) "
                f"SELECT ?, {_floor(tx)} AS b, {key} AS k, count(*) FROM failures "
                "WHERE seq > ? AND seq <= ? GROUP BY b, k "
                "ON CONFLICT (dimension, bucket, key) "
                "DO UPDATE SET count = failure_rollup.count + excluded.count",
                (_name(dimension, size), size, size, last, upto),
            )
    for (seq,) in tx.fetchall(
        "SELECT max(seq) FROM failures WHERE seq > ? AND seq <= ? GROUP BY fingerprint",
        (last, upto),
    ):
        tx.execute(
            "INSERT INTO error_samples (fingerprint, seq, category, model_id, message) "
            "SELECT fingerprint, seq, category, model_id, message FROM failures WHERE seq = ? "
            "ON CONFLICT (fingerprint) DO UPDATE SET seq = excluded.seq, "
            "category = excluded.category, model_id = excluded.model_id, "
            "message = excluded.message",
            (seq,),
        )
    tx.execute("UPDATE rollup_cursor SET last_seq = ? WHERE id = 1", (upto,))
    return folded


def _name(dimension: Dimension, size: float) -> str:
    """How a dimension at one resolution is named in the rollup: `model_id/300`."""
    return f"{dimension}/{int(size)}"


def resolution(dimension: Dimension, step: float) -> float:
    """The coarsest bucket of `dimension` that still fits `step` (or its finest)."""
    fitting = [size for size in RESOLUTIONS[dimension] if size <= step]
    return max(fitting) if fitting else min(RESOLUTIONS[dimension])


def per_bucket(
    tx: Tx, dimension: Dimension, *, since: float, until: float, step: float
) -> list[BucketCount]:
    """Counts of the buckets that start in [since, until), at the resolution that fits
    `step`."""
    rows = tx.fetchall(
        "SELECT bucket, key, count FROM failure_rollup "
        "WHERE dimension = ? AND bucket >= ? AND bucket < ?",
        (_name(dimension, resolution(dimension, step)), since, until),
    )
    return [BucketCount(float(r[0]), str(r[1]), int(r[2])) for r in rows]


def top(tx: Tx, dimension: Dimension, *, since: float, limit: int) -> list[KeyCount]:
    """The keys with the most failures in the buckets that hold `since` or start after it
    (at the dimension's coarsest resolution: for users and errors, since the start of
    the UTC day that holds `since`), most first; ties by key, so every store answers
    alike."""
    size = max(RESOLUTIONS[dimension])
    rows = tx.fetchall(
        "SELECT key, sum(count) AS n FROM failure_rollup WHERE dimension = ? AND bucket >= ? "
        "GROUP BY key ORDER BY n DESC, key LIMIT ?",
        (_name(dimension, size), (since // size) * size, limit),
    )
    return [KeyCount(str(r[0]), int(r[1])) for r in rows]


def top_errors(tx: Tx, *, since: float, limit: int) -> list[ErrorCount]:
    """The distinct errors with the most failures from `since` on, with their newest text."""
    found = []
    for count in top(tx, "fingerprint", since=since, limit=limit):
        sample = tx.fetchone(
            "SELECT category, model_id, message FROM error_samples WHERE fingerprint = ?",
            (count.key,),
        )
        if sample is not None:
            found.append(
                ErrorCount(count.key, count.count, str(sample[0]), sample[1], str(sample[2]))
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
    """The labels of every open group (the current episodes of unresolved incidents)."""
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
