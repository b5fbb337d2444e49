-- State of the database sweeps (receiver/sweep.py).

-- Who runs the sweeps: one holder at a time, until expires_at (epoch seconds) unless renewed.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at REAL NOT NULL
);

-- Where a sweep stopped, e.g. the source database's clock at the last missed-failure sweep.
CREATE TABLE cursors (
    name  TEXT PRIMARY KEY,
    value REAL NOT NULL
);

-- Generations reported stuck and not yet seen leaving `processing`.
CREATE TABLE stuck_open (
    generation_id TEXT PRIMARY KEY,
    since         REAL NOT NULL
);
