"""Silences as stored: rows in, rows out."""

from __future__ import annotations

import json

from receiver.rows import SilenceRow
from receiver.store.tx import Row, Tx

_COLUMNS = "id, matchers, starts_at, ends_at, comment, author, created_at, expired_at"


def _silence(r: Row) -> SilenceRow:
    return SilenceRow(
        id=str(r[0]),
        matchers=tuple(str(m) for m in json.loads(str(r[1]))),
        starts_at=float(r[2]),
        ends_at=float(r[3]),
        comment=str(r[4]),
        author=str(r[5]),
        created_at=float(r[6]),
        expired_at=None if r[7] is None else float(r[7]),
    )


def add(tx: Tx, silence: SilenceRow) -> None:
    tx.execute(
        f"INSERT INTO silences ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            silence.id,
            json.dumps(list(silence.matchers)),
            silence.starts_at,
            silence.ends_at,
            silence.comment,
            silence.author,
            silence.created_at,
            silence.expired_at,
        ),
    )


def active(tx: Tx, now: float) -> list[SilenceRow]:
    """The silences in force at `now`."""
    rows = tx.fetchall(
        f"SELECT {_COLUMNS} FROM silences "
        "WHERE starts_at <= ? AND ends_at > ? AND expired_at IS NULL ORDER BY id",
        (now, now),
    )
    return [_silence(r) for r in rows]


def list_all(
    tx: Tx,
    *,
    include_expired: bool,
    now: float,
    after: tuple[float, str] | None = None,
    limit: int | None = None,
) -> list[SilenceRow]:
    """Silences by (starts_at, id); a page starts after `after` and holds `limit` rows."""
    conditions: list[str] = []
    params: list[object] = []
    if not include_expired:
        conditions.append("expired_at IS NULL AND ends_at > ?")
        params.append(now)
    if after is not None:
        conditions.append("(starts_at > ? OR (starts_at = ? AND id > ?))")
        params += [after[0], after[0], after[1]]
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    page = "" if limit is None else f" LIMIT {int(limit)}"
    rows = tx.fetchall(
        f"SELECT {_COLUMNS} FROM silences {where} ORDER BY starts_at, id{page}", tuple(params)
    )
    return [_silence(r) for r in rows]


def count_running(tx: Tx, now: float) -> int:
    """Silences not yet ended or expired (active or pending)."""
    found = tx.fetchone(
        "SELECT count(*) FROM silences WHERE expired_at IS NULL AND ends_at > ?", (now,)
    )
    return int(found[0]) if found else 0


def expire(tx: Tx, silence_id: str, *, now: float) -> bool:
    """End a running silence now; the failures it held are due for release at once."""
    expired = tx.execute(
        "UPDATE silences SET expired_at = ? WHERE id = ? AND expired_at IS NULL AND ends_at > ?",
        (now, silence_id, now),
    )
    tx.execute("UPDATE held SET until = ? WHERE silence_id = ?", (now, silence_id))
    return expired == 1
