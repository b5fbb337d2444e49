"""The failures table: each failure stored once (its idempotency key is unique), in
the order of arrival (`seq`), which the dispatcher follows. Written once for both stores.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from receiver.model import Failure, FailureKind
from receiver.rows import StoredFailure
from receiver.store.tx import Row, Tx

INSERT_FAILURE = """
INSERT INTO failures (idempotency_key, generation_id, kind, source, category, fingerprint,
    message, error_type, model_id, user_id, session_id, occurred_at, labels, received_at,
    prompt)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (idempotency_key) DO NOTHING
"""


def failure_row(failure: Failure, received_at: float) -> tuple[object, ...]:
    return (
        failure.idempotency_key,
        failure.generation_id,
        failure.kind.value,
        failure.source.value,
        failure.category,
        failure.fingerprint,
        failure.message,
        failure.error_type,
        failure.model_id,
        failure.user_id,
        failure.session_id,
        failure.occurred_at,
        _encode_labels(dict(failure.labels)),
        received_at,
        failure.prompt,
    )


# Built once: `json.dumps` with options builds a new encoder at every call.
_encode_labels = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

_FAILURE_COLUMNS = (
    "seq, generation_id, fingerprint, message, error_type, model_id, user_id, labels, "
    "received_at, kind, prompt"
)


def _failure(r: Row) -> StoredFailure:
    return StoredFailure(
        seq=int(r[0]),
        generation_id=str(r[1]),
        fingerprint=str(r[2]),
        message=str(r[3]),
        error_type=r[4],
        model_id=r[5],
        user_id=r[6],
        labels=json.loads(r[7]),
        received_at=float(r[8]),
        kind=FailureKind(r[9]),
        prompt=r[10],
    )


def after(tx: Tx, seq: int, *, limit: int) -> list[StoredFailure]:
    rows = tx.fetchall(
        f"SELECT {_FAILURE_COLUMNS} FROM failures WHERE seq > ? ORDER BY seq LIMIT ?",
        (seq, limit),
    )
    return [_failure(r) for r in rows]


def by_seq(tx: Tx, seqs: Collection[int]) -> list[StoredFailure]:
    placeholders = ",".join("?" * len(seqs))
    rows = tx.fetchall(
        f"SELECT {_FAILURE_COLUMNS} FROM failures WHERE seq IN ({placeholders}) ORDER BY seq",
        list(seqs),
    )
    return [_failure(r) for r in rows]
