-- Every failure failwatch accepted, once: the unique idempotency key is the dedup.
CREATE TABLE failures (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    generation_id   TEXT NOT NULL,
    kind            TEXT NOT NULL,
    source          TEXT NOT NULL,
    category        TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    message         TEXT NOT NULL,
    error_type      TEXT,
    model_id        TEXT,
    user_id         TEXT,
    session_id      TEXT,
    occurred_at     TEXT,
    labels          TEXT NOT NULL,
    received_at     REAL NOT NULL
);
CREATE INDEX failures_generation ON failures (generation_id);
