-- Readiness probes (`web/ops.py` `readyz`): each replica commits its row here, so that
-- /readyz fails when the store can answer reads but cannot commit.
CREATE TABLE IF NOT EXISTS readiness (
    replica    TEXT PRIMARY KEY,
    checked_at DOUBLE PRECISION NOT NULL
);
