"""Silences: stored matchers with a time window, an author and a comment."""

from __future__ import annotations

import json
from dataclasses import dataclass

from receiver.matchers import Matcher
from receiver.store.tx import Tx


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    comment: str
    author: str
    created_at: float
    expired_at: float | None

    def state(self, now: float) -> str:
        if self.expired_at is not None or self.ends_at <= now:
            return "expired"
        return "active" if self.starts_at <= now else "pending"


_COLUMNS = "id, matchers, starts_at, ends_at, comment, author, created_at, expired_at"


def _silence(r: tuple[object, ...]) -> Silence:
    return Silence(
        id=str(r[0]),
        matchers=tuple(Matcher.parse(m) for m in json.loads(str(r[1]))),
        starts_at=float(str(r[2])),
        ends_at=float(str(r[3])),
        comment=str(r[4]),
        author=str(r[5]),
        created_at=float(str(r[6])),
        expired_at=None if r[7] is None else float(str(r[7])),
    )


def add(tx: Tx, silence: Silence) -> None:
    tx.execute(
        f"INSERT INTO silences ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            silence.id,
            json.dumps([str(m) for m in silence.matchers]),
            silence.starts_at,
            silence.ends_at,
            silence.comment,
            silence.author,
            silence.created_at,
            silence.expired_at,
        ),
    )


def list_all(tx: Tx, *, include_expired: bool, now: float) -> list[Silence]:
    where = "" if include_expired else "WHERE expired_at IS NULL AND ends_at > ?"
    params = () if include_expired else (now,)
    rows = tx.fetchall(f"SELECT {_COLUMNS} FROM silences {where} ORDER BY starts_at, id", params)
    return [_silence(r) for r in rows]


def expire(tx: Tx, silence_id: str, *, now: float) -> bool:
    expired = tx.execute(
        "UPDATE silences SET expired_at = ? WHERE id = ? AND expired_at IS NULL AND ends_at > ?",
        (now, silence_id, now),
    )
    # What it held is released at the dispatcher's next pass.
    tx.execute("UPDATE held SET until = ? WHERE silence_id = ?", (now, silence_id))
    return expired == 1
