-- Every failure failwatch accepted, once: the unique idempotency key is the dedup.
CREATE TABLE IF NOT EXISTS failures (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    received_at     DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS failures_generation ON failures (generation_id);
