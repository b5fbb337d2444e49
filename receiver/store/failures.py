"""The failures table: each failure stored once (its idempotency key is unique), in
the order of arrival (`seq`), which the dispatcher follows. Written once for both stores.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from receiver.model import Failure, FailureKind
from receiver.rows import StoredFailure, StoredReport
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


# The same insert, unless a failure of the same generation and kind is stored already.
INSERT_FIRST_REPORT = """
INSERT INTO failures (idempotency_key, generation_id, kind, source, category, fingerprint,
    message, error_type, model_id, user_id, session_id, occurred_at, labels, received_at,
    prompt)
SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
WHERE NOT EXISTS (SELECT 1 FROM failures WHERE generation_id = ? AND kind = ?)
ON CONFLICT (idempotency_key) DO NOTHING
"""


def insert(tx: Tx, failure: Failure, received_at: float) -> bool:
    """Store `failure` unless its idempotency key is stored already. True if inserted."""
    return tx.execute(INSERT_FAILURE, failure_row(failure, received_at)) == 1


def insert_first_report(tx: Tx, failure: Failure, received_at: float) -> bool:
    """Store `failure` if nothing is stored for its generation and kind (one statement:
    the common case of a webhook). True if inserted."""
    row = (*failure_row(failure, received_at), failure.generation_id, failure.kind.value)
    return tx.execute(INSERT_FIRST_REPORT, row) == 1


def latest_report(tx: Tx, generation_id: str, kind: FailureKind) -> StoredReport | None:
    found = tx.fetchone(
        "SELECT seq, idempotency_key, message, error_type, occurred_at FROM failures"
        " WHERE generation_id = ? AND kind = ? ORDER BY seq DESC LIMIT 1",
        (generation_id, kind.value),
    )
    if found is None:
        return None
    return StoredReport(
        seq=int(found[0]),
        idempotency_key=str(found[1]),
        message=str(found[2]),
        error_type=found[3],
        occurred_at=found[4],
    )


# What a later report brings: the message (with the category, fingerprint and labels
# made from it) when the stored one had none; the type and the time when missing.
_FILL = """
UPDATE failures SET
    category = CASE WHEN message = '' THEN ? ELSE category END,
    fingerprint = CASE WHEN message = '' THEN ? ELSE fingerprint END,
    labels = CASE WHEN message = '' THEN ? ELSE labels END,
    error_type = COALESCE(error_type, ?),
    occurred_at = COALESCE(occurred_at, ?),
    message = CASE WHEN message = '' THEN ? ELSE message END
WHERE seq = ?
"""


def fill(tx: Tx, seq: int, failure: Failure) -> None:
    """Fill in the failure stored as `seq` with what `failure` adds (see `_FILL`)."""
    labels = json.dumps(dict(failure.labels), ensure_ascii=False, separators=(",", ":"))
    tx.execute(
        _FILL,
        (
            failure.category,
            failure.fingerprint,
            labels,
            failure.error_type,
            failure.occurred_at,
            failure.message,
            seq,
        ),
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
